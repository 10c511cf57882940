/**
 * A big report's per-step tensors live in its panel, not twice: once the panel holds every piece
 * the extension host keeps only the lean report, and an export gets the tensors back from the
 * panel, so the file still has all of them.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { ANALYZE_MS, api, closeAllEditors, waitFor, within, workspaceFile } from './helpers';
import { syntheticRecurrentModelBytes } from '../../unit/synthetic';
import { isPending } from '../../../src/protocol/pieces';

describe('per-step tensors held by the panel', () => {
  const config = () => vscode.workspace.getConfiguration('gradientLens');
  before(async () => {
    await closeAllEditors();
    // 5000 steps, H = 64: about 12 MB of per-step tensors, sent in pieces (protocol/pieces.ts).
    await config().update('sequenceLength', 5000, vscode.ConfigurationTarget.Global);
    await config().update('jacobian', 'off', vscode.ConfigurationTarget.Global);
  });
  after(async () => {
    await config().update('sequenceLength', undefined, vscode.ConfigurationTarget.Global);
    await config().update('jacobian', undefined, vscode.ConfigurationTarget.Global);
    await closeAllEditors();
    fs.rmSync(workspaceFile('held-lstm.onnx'), { force: true });
  });

  it('the host lets its copy go once the panel holds it; Export writes every tensor all the same', async () => {
    const gl = await api();
    const model = workspaceFile('held-lstm.onnx');
    fs.writeFileSync(model, syntheticRecurrentModelBytes({ op: 'LSTM', hidden: 64, input: 8, seed: 5 }));
    const report = await within(gl.analyze(model), ANALYZE_MS, 'api.analyze(held-lstm.onnx) did not settle');
    const full = report.layers[0].directions[0].gradHidden!;
    assert.deepStrictEqual(full.dims, [5000, 1, 64]);

    // The store's report turns lean (its bulk tensors pending) once the panel said it holds them.
    const lean = await waitFor(() => {
      const r = gl.reports().get(model);
      return r && isPending(r.layers[0].directions[0].gradHidden) ? r : undefined;
    }, 60_000);
    assert.ok(lean, 'the extension host still holds the per-step tensors a minute after the analysis');
    assert.ok(lean.layers[0].directions[0].metrics, 'the lean report lost its metrics');

    const target = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gl-export-')), 'held.json');
    await within(Promise.resolve(vscode.commands.executeCommand('gradientLens.exportReport', { format: 'json', target: vscode.Uri.file(target) })),
      60_000, 'the export did not finish');
    const written = JSON.parse(fs.readFileSync(target, 'utf8'));
    const grad = written.layers[0].directions[0].gradHidden;
    assert.deepStrictEqual(grad.dims, full.dims);
    assert.strictEqual(grad.data.length, full.data.length);
    for (let i = 0; i < full.data.length; i += 997) assert.strictEqual(Math.fround(grad.data[i]), full.data[i], `gradHidden[${i}]`);

    // JSON + tensor file: the float32 tensors as raw bytes in <name>.tensors.bin, named by the JSON.
    const withBin = path.join(path.dirname(target), 'held-bin.json');
    const files = await within(Promise.resolve(vscode.commands.executeCommand<string[] | undefined>('gradientLens.exportReport', { format: 'json+tensors', target: vscode.Uri.file(withBin) })),
      60_000, 'the export with a tensor file did not finish');
    const bin = path.join(path.dirname(target), 'held-bin.tensors.bin');
    assert.deepStrictEqual(files, [withBin, bin], 'the command does not give the files it wrote');
    const json = JSON.parse(fs.readFileSync(withBin, 'utf8'));
    assert.strictEqual(json.tensorFile.path, 'held-bin.tensors.bin');
    assert.strictEqual(json.tensorFile.bytes, fs.statSync(bin).size);
    const ref = json.layers[0].directions[0].gradHidden.data;
    assert.strictEqual(ref.file, 'held-bin.tensors.bin');
    assert.strictEqual(ref.length, full.data.length);
    const bytes = fs.readFileSync(bin);
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + ref.byteOffset, bytes.byteOffset + ref.byteOffset + 4 * ref.length));
    assert.deepStrictEqual(values, full.data, 'gradHidden in the tensor file differs from the analysis');

    // A tensor file name that is a symbolic link is refused like the JSON's: nothing is written.
    const refused = path.join(path.dirname(target), 'linked.json');
    fs.symlinkSync(target, path.join(path.dirname(target), 'linked.tensors.bin'));
    const none = await within(Promise.resolve(vscode.commands.executeCommand('gradientLens.exportReport', { format: 'json+tensors', target: vscode.Uri.file(refused) })),
      60_000, 'the refused export did not return');
    assert.strictEqual(none, undefined, 'a refused export says it wrote files');
    assert.ok(!fs.existsSync(refused), 'a JSON was written although its tensor file is a symbolic link');
    assert.strictEqual(JSON.parse(fs.readFileSync(target, 'utf8')).layers[0].directions[0].gradHidden.dims.length, 3, 'the link\'s target was changed');
    fs.rmSync(path.dirname(target), { recursive: true, force: true });
  });
});
