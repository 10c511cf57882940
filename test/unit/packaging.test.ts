/**
 * What each per-platform VSIX carries (scripts/package.js, .vscodeignore): vsce's own file list for
 * every target onnxruntime-node ships binaries for (no build, no zip; about a second a target). The
 * VSIX of this machine's platform is built, checked, installed and driven by `npm run test:vscode`.
 */
import * as assert from 'assert';
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
