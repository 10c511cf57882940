/**
 * The cost said before switching a probes analysis to the exact Jacobian (src/analysis/exactCost.ts):
 * the adjoint rows it counts and how it scales this run's time.
 */
import * as assert from 'assert';
import { exactEstimate, exactEstimateAll, ROW_COST_EXPONENT, roughDuration } from '../../src/analysis/exactCost';
import type { DirectionReport, LayerReport, Report } from '../../src/report/types';

function report(layers: { op: LayerReport['op']; H: number; B: number; jacobian?: DirectionReport['jacobianNorm'] }[]): Report {
  return {
    runtime: { executionProvider: 'cpu', onnxruntime: 'x', timingsMs: { load: 10, build: 20, run: 200, metrics: 30, total: 300 } },
    layers: layers.map((l) => ({
      op: l.op, hiddenSize: l.H, batch: l.B,
      directions: [{ direction: 'forward', jacobianNorm: l.jacobian ?? undefined } as DirectionReport],
    })),
  } as unknown as Report;
}

const probes = (K: number, cell: boolean): DirectionReport['jacobianNorm'] => {
  const t = { dims: [3], data: new Float64Array(3) };
  return { hidden: t, state: t, ...(cell ? { cell: t } : {}), method: 'probes', probes: K, relError: 1 / Math.sqrt(2 * K) };
};

describe('the exact Jacobian cost estimate', () => {
  it('counts an LSTM\'s rows at h and c, a GRU\'s at h, and scales the native run time by the rows ratio^0.65', () => {
    const lstm = exactEstimate(report([{ op: 'LSTM', H: 256, B: 1, jacobian: probes(8, true) }]))!;
    assert.deepStrictEqual([lstm.rowsNow, lstm.rowsExact], [17, 513]);
    assert.ok(Math.abs(lstm.ms - (300 + 200 * ((513 / 17) ** ROW_COST_EXPONENT - 1))) < 1e-9);
    const gru = exactEstimate(report([{ op: 'GRU', H: 64, B: 4, jacobian: probes(8, false) }]))!;
    // One seed per hidden unit whatever the batch (each spans it), as a probe does.
    assert.deepStrictEqual([gru.rowsNow, gru.rowsExact], [9, 65]);
    // More rows, more time; more probes now, less extra.
    assert.ok(exactEstimate(report([{ op: 'LSTM', H: 512, B: 1, jacobian: probes(8, true) }]))!.ms > lstm.ms);
    assert.ok(exactEstimate(report([{ op: 'LSTM', H: 256, B: 1, jacobian: probes(32, true) }]))!.ms < lstm.ms);
  });

  it('takes the layer with the largest ratio, and says nothing when nothing was estimated with probes', () => {
    const two = exactEstimate(report([{ op: 'GRU', H: 32, B: 1, jacobian: probes(8, false) }, { op: 'LSTM', H: 128, B: 1, jacobian: probes(8, true) }]))!;
    assert.strictEqual(two.rowsExact, 257);
    const exact = { ...probes(8, true)!, method: 'exact' as const, probes: undefined };
    assert.strictEqual(exactEstimate(report([{ op: 'LSTM', H: 256, B: 1, jacobian: exact }])), undefined);
    assert.strictEqual(exactEstimate(report([{ op: 'LSTM', H: 256, B: 1 }])), undefined);
  });

  it('for a comparison, adds the models\' estimates (a model without probes at its own time)', () => {
    const a = report([{ op: 'LSTM', H: 256, B: 1, jacobian: probes(8, true) }]);
    const b = report([{ op: 'GRU', H: 32, B: 1 }]);
    const all = exactEstimateAll([a, b])!;
    assert.ok(Math.abs(all.ms - (exactEstimate(a)!.ms + 300)) < 1e-9);
    assert.deepStrictEqual([all.rowsNow, all.rowsExact], [17, 513]);
    assert.strictEqual(exactEstimateAll([b]), undefined);
  });

  it('says durations roughly', () => {
    assert.deepStrictEqual([40, 640, 2345, 41_000, 600_000].map(roughDuration), ['0.1 s', '0.6 s', '2.3 s', '41 s', '10 min']);
  });
});
