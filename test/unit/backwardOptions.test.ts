/**
 * Options of the backward pass: Jacobian modes (exact, probes:K with its documented error, off,
 * auto), the time axis of --objective last, and objective errors.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { analyze, REPO } from './helpers';
import { writeNpy } from '../../src/inputs/npy';
import { syntheticRecurrentModelBytes } from './synthetic';

const LSTM = path.join(REPO, 'examples', 'adding-lstm.onnx');
const SAMPLE = { x: path.join(REPO, 'examples', 'adding-sample.npy') };

describe('backward options', function () {
  this.timeout(120000);

  it('probes:K estimates jacobianNorm within its statistical error', async () => {
    // With K Gaussian probes z, Σ_k ‖Jᵀz_k‖²/K is unbiased for ‖J‖²_F with relative standard
    // deviation √(2·Σσ⁴)/Σσ² / √K ≤ √(2/K); the norm's is about half: 0.088 at K = 64.
    // We allow 4 standard deviations at every step and 1.5 on average over the steps.
    const K = 64;
    const exact = await analyze(LSTM, { files: SAMPLE, jacobian: 'exact' });
    const est = await analyze(LSTM, { files: SAMPLE, jacobian: { probes: K } });
    const sd = Math.sqrt(2 / K) / 2;
    for (const which of ['hidden', 'cell'] as const) {
      const a = exact.layers[0].directions[0].jacobianNorm![which]!.data;
      const b = est.layers[0].directions[0].jacobianNorm![which]!.data;
      let sum = 0;
      for (let t = 0; t < a.length; t++) {
        const rel = Math.abs(b[t] / a[t] - 1);
        assert.ok(rel <= 4 * sd, `${which}[${t}]: estimate ${b[t]} vs exact ${a[t]} (relative error ${rel.toFixed(3)})`);
        sum += rel;
      }
      assert.ok(sum / a.length <= 1.5 * sd, `${which}: mean relative error ${(sum / a.length).toFixed(3)}`);
    }
    assert.strictEqual(est.layers[0].directions[0].jacobianNorm!.method, 'probes');
    assert.strictEqual(est.layers[0].directions[0].jacobianNorm!.probes, K);
    // The estimate does not touch the gradients.
    assert.deepStrictEqual(Array.from(est.layers[0].directions[0].gradHidden!.data), Array.from(exact.layers[0].directions[0].gradHidden!.data));
  });

  it('off leaves jacobianNorm and decay out but keeps every gradient', async () => {
    const r = await analyze(LSTM, { files: SAMPLE, jacobian: 'off' });
    const d = r.layers[0].directions[0];
    assert.strictEqual(d.jacobianNorm, undefined);
    assert.strictEqual(d.metrics.decay, undefined);
    assert.ok(d.gradHidden && d.gradCell && d.weightGrads);
  });

  it('auto switches to 8 probes above B·H = 64 and says so', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-auto-'));
    try {
      const file = path.join(dir, 'm.onnx');
      fs.writeFileSync(file, syntheticRecurrentModelBytes({ op: 'GRU', hidden: 16, input: 4 }));
      const small = await analyze(file, { seqLen: 6, batch: 4 }); // B·H = 64
      assert.strictEqual(small.layers[0].directions[0].jacobianNorm!.method, 'exact');
      const big = await analyze(file, { seqLen: 6, batch: 5 });   // B·H = 80
      assert.strictEqual(big.layers[0].directions[0].jacobianNorm!.method, 'probes');
      assert.ok(big.warnings.some((w) => /8 random probes/.test(w) && /--jacobian exact/.test(w)), big.warnings.join('\n'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('last: an output without a time axis is a clear error; --time-axis overrides', async () => {
    // adding-lstm takes the last step with Gather before its Gemm head: y is [1, 1].
    await assert.rejects(analyze(LSTM, { files: SAMPLE, objective: { kind: 'last' } }),
      (e: Error) => /no time axis/.test(e.message) && /Gather/.test(e.message) && /--time-axis/.test(e.message));
    const r = await analyze(LSTM, { files: SAMPLE, objective: { kind: 'last', timeAxis: 0 } });
    assert.strictEqual(r.objective!.timeAxis, 0);
    assert.strictEqual(r.objective!.value, r.outputs.y.data[0]);
  });

  it('last: the time axis is traced through a batch-first head', async () => {
    // lstm_batch_first: Transpose to time-major, LSTM, Squeeze + Transpose back: y is [B, T, 2].
    const dir = path.join(REPO, 'test', 'fixtures', 'forward', 'lstm_batch_first');
    const r = await analyze(path.join(dir, 'model.onnx'), { files: { x: path.join(dir, 'input_x.npy') }, objective: { kind: 'last' } });
    assert.strictEqual(r.objective!.timeAxis, 1);
    const y = r.outputs.y;
    const [B, T, C] = y.dims;
    let expected = 0;
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) expected += y.data[(b * T + T - 1) * C + c];
    assert.ok(Math.abs(r.objective!.value! - expected) < 1e-5);
  });

  it('target: a target of the wrong shape and an unknown --output are clear errors', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-target-'));
    try {
      const t = path.join(dir, 't.npy');
      writeNpy(t, { dtype: 'float32', shape: [2, 2], data: new Float32Array(4) });
      await assert.rejects(analyze(LSTM, { files: SAMPLE, objective: { kind: 'target', targetFile: t } }),
        (e: Error) => /target has shape \(2, 2\)/.test(e.message) && /\(1, 1\)/.test(e.message));
      await assert.rejects(analyze(LSTM, { files: SAMPLE, objective: { kind: 'sum', output: 'nope' } }),
        (e: Error) => e.name === 'UsageError' && /outputs: y/.test(e.message));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
