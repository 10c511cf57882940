/**
 * Big weights are not re-encoded: above a size limit the runtime model references the
 * original file's bytes in place (runtimeFile.ts). The numbers must not change, and a model of
 * over a hundred megabytes is handed to onnxruntime as a small model plus views of the file's
 * bytes, not as a re-encoded copy of its weights.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { analyze, fixture } from './helpers';
import { syntheticRecurrentModelBytes } from './synthetic';
import { loadModel } from '../../src/onnx/model';
import { materializeForRuntime } from '../../src/analysis/runtimeFile';

describe('large models', function () {
  this.timeout(120000);

  for (const name of ['lstm_seq_lens_bidir', 'gru_embedding', 'lstm_layout1_seq']) {
    it(`${name}: weights read in place from the .onnx give the same report as weights re-encoded`, async () => {
      const dir = fixture('forward', name);
      const spec = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
      const files = Object.fromEntries(Object.entries(spec.inputs as Record<string, string>).map(([k, v]) => [k, path.join(dir, v)]));
      const inline = await analyze(path.join(dir, 'model.onnx'), { files });
      const inPlace = await analyze(path.join(dir, 'model.onnx'), { files, inlineWeightLimitBytes: 0 });
      for (const [i, layer] of inline.layers.entries()) {
        for (const [j, d] of layer.directions.entries()) {
          const other = inPlace.layers[i].directions[j];
          assert.deepStrictEqual(Array.from(other.hidden.data), Array.from(d.hidden.data));
          for (const g of Object.keys(d.gates)) assert.deepStrictEqual(Array.from(other.gates[g].data), Array.from(d.gates[g].data));
        }
      }
      for (const k of Object.keys(inline.outputs)) assert.deepStrictEqual(Array.from(inPlace.outputs[k].data), Array.from(inline.outputs[k].data));
    });
  }

  it('a 134 MB LSTM (H = 2048): its weights reach onnxruntime as views of the file, not copies, and it analyses', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-large-'));
    try {
      const file = path.join(dir, 'big.onnx');
      fs.writeFileSync(file, syntheticRecurrentModelBytes({ op: 'LSTM', hidden: 2048, input: 2048 }));
      const size = fs.statSync(file).size;
      assert.ok(size > 128 * 1024 * 1024, `model is ${size} bytes`);
      const loaded = loadModel(file);
      const ref = materializeForRuntime(loaded, loaded.proto);
      assert.ok(ref.bytes.byteLength < 64 * 1024, `the runtime model is ${ref.bytes.byteLength} bytes, its weights left out`);
      assert.ok(ref.externalData?.some((e) => e.data.buffer === loaded.bytes.buffer), 'the weights are the file buffer itself');
      const report = await analyze(file, { seqLen: 4 });
      assert.strictEqual(report.layers[0].hiddenSize, 2048);
      assert.deepStrictEqual(report.layers[0].directions[0].hidden.dims, [4, 1, 2048]);
      assert.ok(report.layers[0].directions[0].hidden.data.some((v) => v !== 0));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
