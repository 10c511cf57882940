/**
 * Which copy of the extension these tests drive: the VSIX that runTest.js installed into the
 * extensions folder it names in GRADIENT_LENS_TEST_EXTENSIONS_DIR, not the repository. Prints the
 * extension's path into the test output.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { extension } from './helpers';

describe('the installed extension', () => {
  it('is the copy installed from the VSIX into the extensions folder, not the repository', function () {
    const ext = extension();
    const extensionsDir = process.env.GRADIENT_LENS_TEST_EXTENSIONS_DIR;
    console.log(`      extension ${ext.id} ${ext.packageJSON.version} loaded from ${ext.extensionPath}`);
    if (!extensionsDir) this.skip();
    const relative = path.relative(fs.realpathSync(extensionsDir), fs.realpathSync(ext.extensionPath));
    assert.ok(relative && !relative.startsWith('..') && !path.isAbsolute(relative),
      `the extension was loaded from ${ext.extensionPath}, outside the extensions folder ${extensionsDir}`);
    // Installed from a VSIX: recorded so in extensions.json, and carrying what a VSIX carries.
    const record = JSON.parse(fs.readFileSync(path.join(extensionsDir, 'extensions.json'), 'utf8')) as
      { identifier: { id: string }; metadata?: { source?: string } }[];
    const entry = record.find((e) => e.identifier.id.toLowerCase() === ext.id.toLowerCase());
    assert.strictEqual(entry?.metadata?.source, 'vsix', `extensions.json: ${JSON.stringify(entry)}`);
    for (const dev of ['src', 'test', 'out', 'esbuild.js', 'tsconfig.json']) {
      assert.ok(!fs.existsSync(path.join(ext.extensionPath, dev)), `the installed extension has ${dev}, which a VSIX leaves out`);
    }
    const bin = path.join(ext.extensionPath, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
    assert.deepStrictEqual(fs.readdirSync(bin).flatMap((p) => fs.readdirSync(path.join(bin, p)).map((a) => `${p}-${a}`)),
      [`${process.platform}-${process.arch}`], 'onnxruntime binaries of this platform only');
  });
});
