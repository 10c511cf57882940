// The first step of `npm run test:vscode`: builds the VSIX for this machine's platform with
// scripts/package.js (vsce, the production bundle) into out/vsix/, where runTest.js and
// browser.test.mjs install it from, and checks it before they do: its file list (this platform's
// onnxruntime binaries only, the bundle, media/, no sources or tests), and that the packaged code
// runs from an unpacked copy with nothing else around it: its CLI analyses an example model with the
// onnxruntime-node it carries. Prints "N passed, M failed" and exits non-zero on a failure.
// GRADIENT_LENS_VSIX=FILE checks that VSIX instead of building one.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const pkg = require('../../scripts/package.js');
const { VSIX_DIR, testVsixPath } = require('./vsix.js');

const t0 = Date.now();
const elapsed = (t) => `${((Date.now() - t) / 1000).toFixed(1)} s`;
const results = [];
async function check(name, fn) {
  const start = Date.now();
  try {
    await fn();
    results.push(true);
    console.log(`  ✓ ${name} (${elapsed(start)})`);
  } catch (e) {
    results.push(false);
    console.log(`  ✗ ${name} (${elapsed(start)})\n      ${String(e?.message ?? e).split('\n').join('\n      ')}`);
  }
}

const target = pkg.hostTarget();
const vsix = testVsixPath();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gradient-lens-vsix-'));
try {
  await check(`builds ${path.basename(vsix)}`, async () => {
    if (process.env.GRADIENT_LENS_VSIX) {
      if (!fs.existsSync(vsix)) throw new Error(`GRADIENT_LENS_VSIX=${vsix} does not exist`);
      return;
    }
    if (!target) throw new Error(`no VSIX target for ${process.platform}-${process.arch}`);
    pkg.packageTarget(target, VSIX_DIR, { quiet: true });
  });

  await check(`carries the production bundle, media/ and onnxruntime binaries for ${target} only`, async () => {
    const files = pkg.vsixExtensionFiles(vsix);
    const problems = pkg.checkFiles(target, files);
    if (problems.length) throw new Error(problems.join('\n'));
    // The production bundle: minified, no source maps.
    const extensionJs = pkg.zipEntries(vsix).find((e) => e.name === 'extension/dist/extension.js').read().toString('utf8');
    if (/sourceMappingURL/.test(extensionJs)) throw new Error('dist/extension.js refers to a source map: not the production build');
    console.log(`      ${files.length} files, ${(fs.statSync(vsix).size / 2 ** 20).toFixed(1)} MiB`);
  });

  await check("the unpacked extension's own CLI and onnxruntime-node analyse a model", async () => {
    const dir = pkg.extractVsix(vsix, path.join(scratch, 'extension'));
    // Resolved from the unpacked dist/, onnxruntime-node is the VSIX's copy: the temporary folder
    // has no node_modules above it.
    const ort = createRequire(path.join(dir, 'dist', 'cli.js')).resolve('onnxruntime-node');
    if (!ort.startsWith(dir + path.sep)) throw new Error(`onnxruntime-node resolves to ${ort}, outside the unpacked VSIX`);
    const model = path.join(pkg.REPO, 'examples', 'adding-lstm.onnx');
    const json = path.join(scratch, 'report.json');
    execFileSync(process.execPath, [path.join(dir, 'dist', 'cli.js'), 'analyze', model, '--ep', 'cpu', '--detail', 'metrics', '--json', json, '--quiet'],
      { cwd: scratch, stdio: ['ignore', 'inherit', 'inherit'] });
    const report = JSON.parse(fs.readFileSync(json, 'utf8'));
    const decay = report.layers?.[0]?.directions?.[0]?.metrics?.decay;
    if (report.schema !== 'gradient-lens/report@2' || !decay) throw new Error(`unexpected report: ${JSON.stringify(report).slice(0, 300)}`);
    console.log(`      onnxruntime-node from ${path.relative(scratch, ort)}: ${decay.verdict}, ρ = ${decay.rho}`);
  });
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
const failed = results.filter((ok) => !ok).length;
console.log(`VSIX check: ${elapsed(t0)}, ${path.relative(process.cwd(), vsix)}`);
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
