/**
 * ONNX's own backend test cases for LSTM / GRU / RNN (Debian's libonnx-testdata): the hidden
 * states Gradient Lens reports, and the graph outputs it runs, equal the expected outputs that
 * ship with ONNX. test_*_batchwise use layout=1, which onnxruntime refuses — the engine lowers it.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { decodeTensor, tensorDims, tensorValues } from '../../src/onnx/model';
import { loadModel } from '../../src/onnx/model';
import { writeNpy } from '../../src/inputs/npy';
import { analyze, assertClose, EPS32 } from './helpers';

const DATA = process.env.ONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data/node';
const CASES = fs.existsSync(DATA)
  ? fs.readdirSync(DATA).filter((d) => /^test_(lstm|gru|rnn|simple_rnn)_/.test(d)).sort()
  : [];

function readPb(file: string) {
  const t = decodeTensor(fs.readFileSync(file));
  const values = tensorValues(t, path.dirname(file));
  return { name: t.name ?? '', dims: tensorDims(t), values };
}

describe('ONNX backend test data (libonnx-testdata)', function () {
  this.timeout(60000);
  it('is installed (apt-get install libonnx-testdata)', () => {
    assert.ok(CASES.length >= 10, `expected the LSTM/GRU/RNN cases under ${DATA}; install them with 'apt-get install libonnx-testdata'`);
  });

  for (const name of CASES) {
    it(`${name}: hidden states and outputs equal ONNX's expected values`, async () => {
      const dir = path.join(DATA, name);
      const model = loadModel(path.join(dir, 'model.onnx'));
      const inits = new Set(model.proto.graph.initializer.map((t) => t.name));
      const inputNames = model.proto.graph.input.filter((v) => !inits.has(v.name)).map((v) => v.name);
      const setDir = path.join(dir, 'test_data_set_0');
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-onnxdata-'));
      try {
        const files: Record<string, string> = {};
        const pbs = fs.readdirSync(setDir).filter((f) => f.startsWith('input_')).sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0]));
        pbs.forEach((f, i) => {
          const t = readPb(path.join(setDir, f));
          const inputName = t.name || inputNames[i];
          const file = path.join(tmp, `${i}.npy`);
          const v = t.values;
          if (v instanceof Float32Array) writeNpy(file, { dtype: 'float32', shape: t.dims, data: v });
          else if (v instanceof Int32Array) writeNpy(file, { dtype: 'int32', shape: t.dims, data: v });
          else if (v instanceof BigInt64Array) writeNpy(file, { dtype: 'int64', shape: t.dims, data: v });
          else throw new Error(`unexpected input type in ${f}`);
          files[inputName] = file;
        });
        const report = await analyze(path.join(dir, 'model.onnx'), { files });
        assert.strictEqual(report.layers.length, 1);
        const layer = report.layers[0];
        // Errors: T steps of a float32 recurrence with dot products of length I + H.
        const tol = 4 * layer.seqLen * (layer.inputSize + layer.hiddenSize + 2) * EPS32;
        const outputs = model.proto.graph.output.map((o) => o.name);
        const expected = fs.readdirSync(setDir).filter((f) => f.startsWith('output_')).sort();
        assert.ok(expected.length > 0);
        for (const f of expected) {
          const ref = readPb(path.join(setDir, f));
          const outName = ref.name || outputs[Number(f.match(/\d+/)![0])];
          const got = report.outputs[outName];
          assert.ok(got, `output ${outName}`);
          assert.deepStrictEqual(got.dims, ref.dims, `${outName} dims`);
          assertClose(got.data, ref.values as Float32Array, tol, tol, `output ${outName}`);
        }
        // Y (output 0, when present) against the per-direction hidden states, [T, D, B, H] or [B, T, D, H] for layout 1.
        const yName = layer.layout === 0 ? outputs[0] : outputs[0];
        const yRef = expected.length && readPb(path.join(setDir, expected[0]));
        if (yRef && yRef.dims.length === 4 && (yRef.name || outputs[0]) === yName) {
          const D = layer.directions.length;
          const [T, B, H] = [layer.seqLen, layer.batch, layer.hiddenSize];
          layer.directions.forEach((d, di) => {
            const want = new Float64Array(T * B * H);
            for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
              const idx = layer.layout === 0 ? ((t * D + di) * B + b) * H + h : ((b * T + t) * D + di) * H + h;
              want[(t * B + b) * H + h] = (yRef.values as Float32Array)[idx];
            }
            assert.deepStrictEqual(d.hidden.dims, [T, B, H]);
            assertClose(d.hidden.data, want, tol, tol, `${d.direction} hidden`);
          });
        }
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    });
  }
});
