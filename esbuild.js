// Bundles the extension host code, the CLI, the onnxruntime worker and the analysis panel's webview
// (one context per target).
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

// The panel runs in a browser (VS Code webview, standalone HTML report): no Node, one IIFE; the CSS
// it imports comes out beside it as dist/webview/panel.css. Minified except under --watch: every
// standalone HTML report embeds it (≈ 0.8 MB instead of 2.1 MB); the source map stays beside it.
const webview = {
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2020',
  sourcemap: !production,
  minify: production || !watch,
  logLevel: 'warning',
};

const targets = [
  { ...node, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' },
  { ...node, entryPoints: ['src/cli/index.ts'], outfile: 'dist/cli.js' },
  { ...node, entryPoints: ['src/runtime/worker.ts'], outfile: 'dist/worker.js' },
  { ...node, entryPoints: ['src/runtime/spectrumThread.ts'], outfile: 'dist/spectrumThread.js' },
  { ...node, entryPoints: ['src/report/formatThread.ts'], outfile: 'dist/formatThread.js' },
  { ...webview, entryPoints: ['webview/src/main.ts'], outfile: 'dist/webview/panel.js' },
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
