/**
 * What each per-platform VSIX carries (scripts/package.js, .vscodeignore): vsce's own file list for
 * every target onnxruntime-node ships binaries for (no build, no zip; about a second a target). The
 * VSIX of this machine's platform is built, checked, installed and driven by `npm run test:vscode`.
 * And what `npm pack` puts in the CLI's tarball (.npmignore).
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO } from './helpers';

interface Packaging {
  DEFAULT_TARGET: string;
  targets(): string[];
  ignoreFileText(target: string): string;
  checkFiles(target: string, files: string[]): string[];
  listFiles(target: string): Promise<string[]>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require(path.join(REPO, 'scripts', 'package.js')) as Packaging;
const BIN = 'node_modules/onnxruntime-node/bin/';

describe('packaging: the VSIX of each platform', function () {
  this.timeout(120_000);
  const targets = pkg.targets();

  it("has a target for each platform onnxruntime-node ships binaries for, linux-x64 the default", () => {
    for (const t of ['linux-x64', 'linux-arm64', 'darwin-arm64', 'win32-x64']) assert.ok(targets.includes(t), `${t} in ${targets.join(', ')}`);
    assert.strictEqual(pkg.DEFAULT_TARGET, 'linux-x64');
  });

  it('narrows only the binaries line of .vscodeignore to the target', () => {
    const original = fs.readFileSync(path.join(REPO, '.vscodeignore'), 'utf8').split('\n');
    const narrowed = pkg.ignoreFileText('darwin-arm64').split('\n');
    assert.deepStrictEqual(original.filter((l) => !narrowed.includes(l)), [`!${BIN}**`]);
    assert.deepStrictEqual(narrowed.filter((l) => !original.includes(l)), [`!${BIN}napi-v6/darwin/arm64/**`]);
    assert.throws(() => pkg.ignoreFileText('alpine-x64'), /ships binaries for/);
  });

  it('flags a file list that carries another platform\'s binaries or the sources', () => {
    const ok = ['package.json', 'readme.md', 'changelog.md', 'media/gradient-lens.svg', 'dist/extension.js', 'dist/cli.js', 'dist/worker.js',
      'dist/spectrumThread.js', 'dist/formatThread.js', 'dist/webview/panel.js', 'dist/webview/panel.css',
      'node_modules/onnxruntime-node/package.json', 'node_modules/onnxruntime-node/dist/index.js',
      'node_modules/onnxruntime-common/package.json', 'node_modules/onnxruntime-common/dist/cjs/index.js',
      `${BIN}napi-v6/linux/x64/onnxruntime_binding.node`];
    assert.deepStrictEqual(pkg.checkFiles('linux-x64', ok), []);
    const bad = pkg.checkFiles('linux-x64', [...ok, `${BIN}napi-v6/win32/x64/onnxruntime.dll`, 'src/extension/extension.ts',
      'dist/extension.js.map', 'node_modules/echarts/index.js', 'examples/adding-lstm.onnx']);
    assert.strictEqual(bad.length, 5, bad.join('\n'));
    assert.deepStrictEqual(pkg.checkFiles('darwin-arm64', ok), [`missing ${BIN}napi-v6/darwin/arm64/onnxruntime_binding.node`,
      `another platform's binary: ${BIN}napi-v6/linux/x64/onnxruntime_binding.node`]);
  });

  it('the bundles require nothing at run time but Node, vscode and onnxruntime-node (the one dependency packed)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { builtinModules } = require('module') as { builtinModules: string[] };
    const dist = path.join(REPO, 'dist');
    const bundles = ['extension.js', 'cli.js', 'worker.js', 'spectrumThread.js', 'formatThread.js'];
    const required = new Set(bundles.flatMap((b) => [...fs.readFileSync(path.join(dist, b), 'utf8').matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1])));
    const external = [...required].filter((m) => !builtinModules.includes(m.replace(/^node:/, ''))).sort();
    assert.deepStrictEqual(external, ['onnxruntime-node', 'vscode']);
  });

  for (const target of ['linux-x64', 'linux-arm64', 'darwin-arm64', 'win32-x64', 'win32-arm64']) {
    it(`${target}: vsce packs the bundle, media/ and that platform's onnxruntime binaries only`, async function () {
      if (!targets.includes(target)) this.skip();
      const files = await pkg.listFiles(target);
      assert.deepStrictEqual(pkg.checkFiles(target, files), []);
      const platforms = new Set(files.filter((f) => f.startsWith(BIN)).map((f) => f.split('/').slice(4, 6).join('-')));
      assert.deepStrictEqual([...platforms], [target]);
    });
  }
});

describe("packaging: the CLI's npm tarball", function () {
  this.timeout(60_000);
  it('carries bin/ and the bundles in dist/ (the CLI, its threads, the panel), no sources or source maps', () => {
    // --ignore-scripts: list the dist/ already built rather than run `prepare` again.
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const [packed] = JSON.parse(out) as { files: { path: string }[] }[];
    const files = packed.files.map((f) => f.path).sort();
    for (const f of ['bin/gradient-lens.js', 'dist/cli.js', 'dist/worker.js', 'dist/spectrumThread.js', 'dist/formatThread.js',
      'dist/webview/panel.js', 'dist/webview/panel.css', 'package.json', 'README.md']) {
      assert.ok(files.includes(f), `${f} missing from the tarball: ${files.join(', ')}`);
    }
    const stray = files.filter((f) => !/^(bin|dist)\//.test(f) && !['package.json', 'README.md', 'CHANGELOG.md'].includes(f));
    assert.deepStrictEqual(stray, []);
    assert.deepStrictEqual(files.filter((f) => f.endsWith('.map')), []);
    // bin/gradient-lens.js requires dist/cli.js, which requires onnxruntime-node: the one dependency.
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string>; dependencies: Record<string, string> };
    assert.strictEqual(manifest.bin['gradient-lens'], 'bin/gradient-lens.js');
    assert.deepStrictEqual(Object.keys(manifest.dependencies), ['onnxruntime-node']);
  });
});
