/**
 * The conv/pool/pad rules inside the whole pipeline: an LSTM followed by a head of the kinds
 * audio models put after (or between) recurrent layers — Pad (reflect), a strided Conv with
 * bias, MaxPool with its Indices output, Softplus, AveragePool, Einsum and CumSum — analysed
 * end to end, and the LSTM's weight gradients compared with central finite differences of the
 * whole model's L = Σ y run by onnxruntime.
 *
 * Tolerance: the model is float32 (onnxruntime has no float64 Conv), so the differences use
 * h = 1e-2: rounding ε₃₂·Σ|y|/h ≈ 6e-8·10/1e-2 = 6e-5 and truncation h²/6·|L'''| ≈ 2e-5 for
 * these O(1) functions. |rule − fd| ≤ 2e-3·(|fd| + max|fd|) has an order of margin over both and
 * catches any wrong head term, which would be O(0.1) of the family's scale. The inputs keep the
 * MaxPool windows free of near-ties, so the steps do not move an argmax.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { analyze } from './helpers';
import { AttrValue, makeAttribute } from '../../src/onnx/attributes';
import { makeModel, valueInfo } from '../../src/onnx/builder';
import { encodeModel, makeTensor } from '../../src/onnx/model';
import { DataType, NodeProto, TensorProto } from '../../src/onnx/proto';
import { SeededRandom } from '../../src/inputs/random';
import { writeNpy } from '../../src/inputs/npy';

const T = 7;
const B = 2;
const I = 3;
const H = 4;

function node(op: string, input: string[], output: string[], attrs: Record<string, AttrValue> = {}): NodeProto {
  return { op_type: op, name: output[0], input, output, domain: '', attribute: Object.entries(attrs).map(([k, v]) => makeAttribute(k, v)) };
}

function headModel(W: Float32Array): Uint8Array {
  const rng = SeededRandom.forInput(3, 'head weights');
  const rand = (n: number, scale: number): Float32Array => Float32Array.from(rng.normal(n), (v) => v * scale);
  const init: TensorProto[] = [
    makeTensor('W', [1, 4 * H, I], W),
    makeTensor('R', [1, 4 * H, H], rand(4 * H * H, 0.5)),
    makeTensor('Bias', [1, 8 * H], rand(8 * H, 0.3)),
    makeTensor('sq_axes', [1], BigInt64Array.of(1n)),
    makeTensor('pads', [6], BigInt64Array.of(0n, 0n, 2n, 0n, 0n, 1n)),
    makeTensor('Wc', [5, H, 3], rand(5 * H * 3, 0.6)),
    makeTensor('Bc', [5], rand(5, 0.2)),
    makeTensor('v', [5], rand(5, 1)),
    makeTensor('axis', [], BigInt64Array.of(1n)),
  ];
  const nodes = [
    node('LSTM', ['x', 'W', 'R', 'Bias'], ['Y'], { hidden_size: H }),
    node('Squeeze', ['Y', 'sq_axes'], ['Ys']), // [T, B, H]
    node('Transpose', ['Ys'], ['Yt'], { perm: [1, 2, 0] }), // [B, H, T]
    node('Pad', ['Yt', 'pads'], ['Yp'], { mode: 'reflect' }), // [B, H, T + 3]
    node('Conv', ['Yp', 'Wc', 'Bc'], ['c'], { strides: [2], pads: [1, 0] }), // [B, 5, 4]
    node('MaxPool', ['c'], ['m', 'm_idx'], { kernel_shape: [2], strides: [1] }), // [B, 5, 3]
    node('Softplus', ['m'], ['s']),
    node('AveragePool', ['s'], ['a'], { kernel_shape: [2], pads: [1, 0], count_include_pad: 1 }), // [B, 5, 3]
    node('Einsum', ['a', 'v'], ['e'], { equation: 'bct,c->bt' }), // [B, 3]
    node('CumSum', ['e', 'axis'], ['y']),
  ];
  const model = makeModel({
    name: 'lstm_conv_head', node: nodes, initializer: init, input: [valueInfo('x', DataType.FLOAT, [T, B, I])],
    output: [valueInfo('y', DataType.FLOAT, [B, 3])], value_info: [],
  }, 14);
  return encodeModel(model);
}

describe('backward pass through a conv/pool/pad head after an LSTM', function () {
  this.timeout(60000);

  it('the LSTM weight gradient matches finite differences of the whole model', async () => {
    const rng = SeededRandom.forInput(5, 'head inputs');
    const W = Float32Array.from(rng.normal(4 * H * I), (v) => v * 0.7);
    const x = Float32Array.from(rng.normal(T * B * I));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-head-'));
    try {
      const modelPath = path.join(dir, 'head.onnx');
      fs.writeFileSync(modelPath, headModel(W));
      const xPath = path.join(dir, 'x.npy');
      writeNpy(xPath, { dtype: 'float32', shape: [T, B, I], data: x });
      const report = await analyze(modelPath, { files: { x: xPath }, objective: { kind: 'sum' } });
      const dW = report.layers[0].directions[0].weightGrads!.W;
      assert.deepStrictEqual(dW.dims, [4 * H, I]);

      const L = async (w: Float32Array): Promise<number> => {
        const session = await ort.InferenceSession.create(headModel(w));
        const out = await session.run({ x: new ort.Tensor('float32', x, [T, B, I]) });
        await session.release();
        return Array.from(out.y.data as Float32Array).reduce((a, b) => a + b, 0);
      };
      const h = 1e-2;
      const fd = new Float64Array(W.length);
      for (let e = 0; e < W.length; e++) {
        const plus = W.slice();
        const minus = W.slice();
        plus[e] += h;
        minus[e] -= h;
        fd[e] = ((await L(plus)) - (await L(minus))) / (plus[e] - minus[e]);
      }
      const scale = Math.max(...fd.map(Math.abs));
      assert.ok(scale > 1e-2, 'the head passes a gradient back to the LSTM');
      for (let e = 0; e < W.length; e++) {
        const err = Math.abs(dW.data[e] - fd[e]);
        assert.ok(err <= 2e-3 * (Math.abs(fd[e]) + scale), `dL/dW[${e}]: pipeline ${dW.data[e]}, finite differences ${fd[e]} (|err| ${err.toExponential(2)})`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
