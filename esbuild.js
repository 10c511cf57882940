// Bundles the extension host code, the CLI and the onnxruntime worker (one context per target).
// `--production` minifies; `--watch` rebuilds on change. onnxruntime-node stays external: it is a
// native addon whose bin/ must ship as is.
const esbuild = require('esbuild');

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const node = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: !production,
  minify: production,
  external: ['vscode', 'onnxruntime-node'],
  logLevel: 'warning',
};

const targets = [
  { ...node, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' },
  { ...node, entryPoints: ['src/cli/index.ts'], outfile: 'dist/cli.js' },
  { ...node, entryPoints: ['src/runtime/worker.ts'], outfile: 'dist/worker.js' },
  { ...node, entryPoints: ['src/runtime/spectrumThread.ts'], outfile: 'dist/spectrumThread.js' },
];

(async () => {
  const contexts = await Promise.all(targets.map((t) => esbuild.context(t)));
  if (watch) {
    await Promise.all(contexts.map((c) => c.watch()));
    return;
  }
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
