/**
 * The backward pass against PyTorch autograd (scripts/make_backward_fixtures.py): a float64
 * torch evaluation of an unrolled reimplementation of each ONNX graph, with retain_grad on every
 * step's h_t and c_t, itself checked by central finite differences and against torch's modules.
 * Every gradient quantity of every layer-direction, for every objective kind, is compared.
 *
 * Tolerance: the engine works in float32 (ε = 2⁻²⁴). A backward step applies the transposed
 * step Jacobian, a sum over g·H + H terms, to the adjoint, and T steps accumulate relative
 * rounding of about T·(I + (g+1)·H)·ε; forward values the backward reads carry the forward's
 * own T·(I + H)·ε. Gradients near zero have absolute errors set by the scale of their family,
 * so the bound is tol·(|x| + max|family|) with tol = 8·T·(I + (g+1)·H)·ε, at most about 1e-4
 * for these fixtures (8 covers the forward's and the head's share).
 *
 * Per-step norms (jacobianNorm, gradNorm, inputGradNorm) are held to a relative bound per
 * element, not one scaled by the family's largest value — a vanishing tail at 1e-40 must be right
 * to its own few digits, not pass as 0. At distance d from the direction's last step the value
 * went through d + 1 transposed step Jacobians, each adding relative rounding of about
 * (I + (g+1)·H)·ε, so rtol(d) = 8·(d + 1)·(I + (g+1)·H)·ε per layer (≤ 1e-3 for every fixture, the
 * T = 400 ones included). The Jacobian norms are float64 sums of the renormalised float32 rows
 * (metrics/jacobian.ts), so no underflow or overflow enters them: 1e-39 and 1e+41 are checked so.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { analyze, EPS32, fixture, listCases, loadArray } from './helpers';
import { ObjectiveKind } from '../../src/analysis/backward/objective';
import { DecayMetrics, Report } from '../../src/report/types';
import { statePairs } from '../../src/analysis/iterated/streaming';
import { decodeModel } from '../../src/onnx/model';

const load = (file: string) => decodeModel(fs.readFileSync(file), file).proto;

interface RefDecay {
  basis: string; rho: number | null; rhoTail: number | null; survival: number | null; halfLife: number | null; reach: number | null;
  verdict: string; points: number; window: number;
}
interface RefDirection {
  direction: 'forward' | 'reverse';
  gradHidden: string;
  gradCell?: string;
  jacobianNorm: { hidden: string; cell?: string; state: string };
  /** Absent for a state recurrence (no weights of its own, no input sequence). */
  weightGrads?: Record<string, string>;
  gradNorm: number[];
  gradCellNorm?: number[];
  inputGradNorm?: number[];
  /** A state recurrence: its state per step and its recognised gates, [T, B, ·]. */
  hidden?: string;
  gates?: Record<string, string>;
  decay: RefDecay;
  decayPaths?: { hidden: RefDecay; cell: RefDecay };
}
interface RefRun {
  objective: { kind: ObjectiveKind; output: string; timeAxis: number | null; target: string | null };
  value: number;
  inputGrads: Record<string, string>;
  layers: { node: string; op: string; path?: string[]; iterations?: number; stepsPerIteration?: number; directions: RefDirection[] }[];
  clipping: { globalNorm: number; factors: Record<string, number> };
}
interface RefCase {
  name: string; description: string; inputs: Record<string, string>; outputs: Record<string, string>; runs: RefRun[];
  /** Streaming: the calls analysed and the state pairs [input, output]. */
  calls?: number; state?: [string, string][];
  /** The float64 reference overflows float32's range at this step: behaviour is checked, not values. */
  float32Overflow?: boolean; float32OverflowStep?: number;
}

const ROOT = fixture('backward');

/** |a − e| ≤ tol·(|e| + scale) elementwise, scale = max |e| of the family. */
export function assertScaledClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.strictEqual(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol * (Math.abs(expected[i]) + scale))) {
      assert.fail(`${what}: index ${i} is ${actual[i]}, expected ${expected[i]} (|err| ${err.toExponential(2)} > ${tol.toExponential(2)}·(|x| + ${scale.toExponential(2)}))`);
    }
  }
}

/**
 * |a − e| ≤ rtol(d)·|e| elementwise, d = the step's distance from the direction's last step: the
 * per-step norms' bound (see the header). Exact zeros (padded steps, dead units) must be exact.
 */
function assertStepwiseClose(actual: ArrayLike<number>, expected: ArrayLike<number>, perStep: number, lastT: number, what: string,
  termScale?: ArrayLike<number>): void {
  assert.strictEqual(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  for (let t = 0; t < expected.length; t++) {
    const rtol = perStep * (Math.abs(lastT - t) + 1);
    const err = Math.abs(actual[t] - expected[t]);
    if (!(err <= rtol * (Math.abs(expected[t]) + (termScale ? termScale[t] : 0)))) {
      assert.fail(`${what}: step ${t} is ${actual[t]}, expected ${expected[t]} (relative error ${(err / Math.abs(expected[t])).toExponential(2)} > ${rtol.toExponential(2)})`);
    }
  }
}

type TensorLike = { dims: number[]; data: ArrayLike<number> };

/** A reported tensor against the reference array `file` of a fixture: same dims, scaled-close values. */
function checkTensor(dir: string, t: TensorLike | undefined, file: string, tol: number, what: string): void {
  assert.ok(t, `${what} missing`);
  const e = loadArray(path.join(dir, file));
  assert.deepStrictEqual(t.dims, e.shape, `${what} dims`);
  assertScaledClose(t.data, e.data, tol, what);
}

/** The fitted decay against the reference (see the header for why the log of each rate is compared). */
function checkDecay(got: DecayMetrics | undefined, ref: RefDecay, logTol: number, what: string): void {
  assert.ok(got, `${what}: no decay`);
  assert.deepStrictEqual([got.basis, got.verdict, got.points, got.window, got.reach], [ref.basis, ref.verdict, ref.points, ref.window, ref.reach], what);
  for (const key of ['rho', 'rhoTail', 'survival'] as const) {
    const e = ref[key];
    const value: number | null = got[key];
    if (e === null || e === 0) assert.strictEqual(value, e, `${what}.${key}`);
    else assertScaledClose([Math.log(value!)], [Math.log(e)], logTol, `${what}: log ${key}`);
  }
  if (ref.halfLife === null) assert.strictEqual(got.halfLife, null, `${what}.halfLife`);
  else assert.ok(Math.abs(got.halfLife! - ref.halfLife) <= 1e-3 * ref.halfLife, `${what}.halfLife ${got.halfLife} vs ${ref.halfLife}`);
}

describe('backward pass vs PyTorch autograd (float64, unrolled)', function () {
  this.timeout(120000);
  for (const name of listCases(ROOT)) {
    const dir = path.join(ROOT, name);
    const spec: RefCase = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
    const files = Object.fromEntries(Object.entries(spec.inputs).map(([k, v]) => [k, path.join(dir, v)]));
    spec.runs.forEach((run, r) => {
      const o = run.objective;
      // A streaming case gives its calls and state pairs; a model with state pairs analysed as one call says calls: 1.
      const streaming = spec.calls !== undefined
        ? { calls: spec.calls, state: spec.state?.map(([input, output]) => ({ input, output })) }
        : statePairs(load(path.join(dir, 'model.onnx')).graph, undefined).length ? { calls: 1 } : {};
      const options = { files, objective: { kind: o.kind, output: o.output, targetFile: o.target ? path.join(dir, o.target) : undefined }, ...streaming };
      describe(`${name} [${o.kind} of ${o.output}${o.timeAxis !== null ? `, time axis ${o.timeAxis}` : ''}]`, () => {
        let report: Report;
        let tol: number;
        let perStep: number;
        before(async () => {
          report = await analyze(path.join(dir, 'model.onnx'), { ...options, jacobian: 'exact' });
          let worst = 0;
          let widest = 0;
          for (const l of report.layers) {
            const op = l.op === 'state' ? l.cell : l.op;
            const g = op === 'LSTM' ? 4 : op === 'GRU' ? 3 : 1;
            worst = Math.max(worst, l.seqLen * (l.inputSize + (g + 1) * l.hiddenSize));
            widest = Math.max(widest, l.inputSize + (g + 1) * l.hiddenSize);
          }
          tol = 8 * worst * EPS32 * report.layers.length;
          perStep = 8 * widest * EPS32 * report.layers.length;
        });

        if (spec.float32Overflow) {
          // The float32 forward overflows at float32OverflowStep: what the user must see is that, not numbers.
          it(`float32 overflows at step ${spec.float32OverflowStep}: verdict invalid, a warning naming it, no clipping factor`, () => {
            for (const l of report.layers) for (const d of l.directions) {
              assert.strictEqual(d.metrics.decay!.verdict, 'invalid', `${l.node} ${d.direction}`);
              assert.ok(d.metrics.nonFinite, 'the direction says why');
            }
            const w = report.warnings.find((x) => /NaN or infinite/.test(x));
            assert.ok(w, report.warnings.join(' | '));
            assert.match(w, /overflows|NaN or infinite/);
            assert.ok(!Number.isFinite(report.clipping!.globalNorm));
            assert.ok(Object.values(report.clipping!.factors).every((f) => f === null));
            // Before the overflow the hidden state is the float64 one.
            const ref = loadArray(path.join(dir, spec.outputs.Y)).data;
            const Y = report.outputs.Y.data;
            const H = report.layers[0].hiddenSize * report.layers[0].batch;
            for (let i = 0; i < (spec.float32OverflowStep! - 1) * H; i++) {
              assert.ok(Math.abs(Y[i] - ref[i]) <= 1e-5 * Math.abs(ref[i]), `Y[${i}] ${Y[i]} vs ${ref[i]}`);
            }
          });
          return;
        }

        it('objective value, traced time axis, clipping what-if and inputGrads', () => {
          assert.ok(report.objective);
          assert.strictEqual(report.objective.kind, o.kind);
          assert.strictEqual(report.objective.output, o.output);
          if (o.kind === 'last') assert.strictEqual(report.objective.timeAxis ?? null, o.timeAxis, 'time axis traced through the graph');
          assertScaledClose([report.objective.value!], [run.value], tol, 'L');
          assert.ok(report.clipping);
          assertScaledClose([report.clipping.globalNorm], [run.clipping.globalNorm], tol, 'global norm');
          for (const [th, f] of Object.entries(run.clipping.factors)) assertScaledClose([report.clipping.factors[th]!], [f], tol, `factor ${th}`);
          assert.deepStrictEqual(Object.keys(report.inputGrads ?? {}).sort(), Object.keys(run.inputGrads).sort(), 'the inputs the gradient reaches');
          for (const [input, file] of Object.entries(run.inputGrads)) checkTensor(dir, report.inputGrads![input], file, tol, `inputGrads.${input}`);
        });

        for (const refLayer of run.layers) {
          for (const ref of refLayer.directions) {
            const direction = () => {
              const layer = report.layers.find((l) => l.node === refLayer.node);
              assert.ok(layer, `layer ${refLayer.node}`);
              const d = layer.directions.find((x) => x.direction === ref.direction)!;
              return { layer, d, lastT: d.direction === 'forward' ? ref.decay.window - 1 : 0 };
            };

            it(`${refLayer.node} ${ref.direction}: gradHidden, gradCell, weightGrads`, () => {
              const { d } = direction();
              const check = (t: TensorLike | undefined, file: string, what: string) => checkTensor(dir, t, file, tol, what);
              check(d.gradHidden, ref.gradHidden, 'gradHidden');
              if (ref.gradCell) check(d.gradCell, ref.gradCell, 'gradCell');
              if (ref.weightGrads) for (const [k, file] of Object.entries(ref.weightGrads)) check(d.weightGrads?.[k as 'W'], file, `weightGrads.${k}`);
              else assert.strictEqual(d.weightGrads, undefined, 'a state recurrence has no weight gradients');
              // A state recurrence's own forward: its state per step and the gates of its recognised cell.
              if (ref.hidden) check(d.hidden, ref.hidden, 'hidden');
              for (const [gate, file] of Object.entries(ref.gates ?? {})) check(d.gates[gate], file, `gates.${gate}`);
              const { layer } = direction();
              if (refLayer.iterations !== undefined) {
                assert.deepStrictEqual([layer.iterations?.count, layer.iterations?.steps], [refLayer.iterations, refLayer.stepsPerIteration], 'iterations × steps');
              }
              if (refLayer.path) assert.deepStrictEqual(layer.path, refLayer.path, 'path');
              assert.strictEqual(layer.op, refLayer.op);
            });

            it(`${refLayer.node} ${ref.direction}: jacobianNorm (state, hidden, cell) and the per-step norms, each to its own digits`, () => {
              const { d, lastT } = direction();
              const j = d.jacobianNorm;
              assert.ok(j, 'jacobianNorm');
              const steps = (got: ArrayLike<number> | undefined, expected: ArrayLike<number>, what: string) => {
                assert.ok(got, what);
                assertStepwiseClose(got, expected, perStep, lastT, what);
              };
              steps(j.state?.data, loadArray(path.join(dir, ref.jacobianNorm.state)).data, 'jacobianNorm.state');
              steps(j.hidden.data, loadArray(path.join(dir, ref.jacobianNorm.hidden)).data, 'jacobianNorm.hidden');
              if (ref.jacobianNorm.cell) steps(j.cell?.data, loadArray(path.join(dir, ref.jacobianNorm.cell)).data, 'jacobianNorm.cell');
              else assert.strictEqual(j.cell, undefined);
              steps(d.metrics.gradNorm, ref.gradNorm, 'gradNorm');
              if (ref.gradCellNorm) steps(d.metrics.gradCellNorm, ref.gradCellNorm, 'gradCellNorm');
              // dL/dX_t = Σ over gates of W-weighted da_t: its terms are about κ·‖dL/dh_t‖ (κ the largest ratio of the
              // two norms), and they may cancel to a much smaller sum — the bound is relative to the terms.
              const got = d.metrics.inputGradNorm;
              if (!ref.inputGradNorm) { assert.strictEqual(got, undefined, 'a state recurrence has no input sequence of its own'); return; }
              const refX = ref.inputGradNorm;
              const kappa = Math.max(0, ...refX.map((x, t) => (ref.gradNorm[t] > 0 ? x / ref.gradNorm[t] : 0)));
              assert.ok(got, 'inputGradNorm');
              assertStepwiseClose(got, refX, perStep, lastT, 'inputGradNorm', ref.gradNorm.map((g) => kappa * g));
            });

            if (r === 0) {
              // Without seed rows the recurrence carries the objective's row alone, in a body of its own (bptt.ts).
              it(`${refLayer.node} ${ref.direction}: the same gradients with --jacobian off`, async () => {
                const off = await analyze(path.join(dir, 'model.onnx'), { ...options, jacobian: 'off' });
                const d = off.layers.find((l) => l.node === refLayer.node)!.directions.find((x) => x.direction === ref.direction)!;
                assert.strictEqual(d.jacobianNorm, undefined);
                const check = (t: TensorLike | undefined, file: string, what: string) => checkTensor(dir, t, file, tol, what);
                check(d.gradHidden, ref.gradHidden, 'gradHidden');
                if (ref.gradCell) check(d.gradCell, ref.gradCell, 'gradCell');
                for (const [k, file] of Object.entries(ref.weightGrads ?? {})) check(d.weightGrads?.[k as 'W'], file, `weightGrads.${k}`);
              });
            }

            it(`${refLayer.node} ${ref.direction}: decay (state basis) and, for an LSTM, its hidden and cell paths`, () => {
              const { d } = direction();
              // log J is accurate to rtol(W) at worst; a least-squares slope over W points keeps that order.
              const logTol = 4 * perStep * (ref.decay.window + 1);
              checkDecay(d.metrics.decay, ref.decay, logTol, 'decay');
              if (ref.decayPaths) {
                checkDecay(d.metrics.decayPaths?.hidden, ref.decayPaths.hidden, logTol, 'decayPaths.hidden');
                checkDecay(d.metrics.decayPaths?.cell, ref.decayPaths.cell, logTol, 'decayPaths.cell');
              } else {
                assert.strictEqual(d.metrics.decayPaths, undefined);
              }
            });
          }
        }
      });
    });
  }
});

describe('backward pass: a gradient path through unsupported ops', () => {
  it('names every unsupported node and op on the path at once', async () => {
    const dir = fixture('backward', '_unsupported');
    await assert.rejects(
      analyze(path.join(dir, 'lstm_cos_sin.onnx'), { files: { X: path.join(dir, 'input_X.npy') } }),
      (e: Error) => /'cos' \(Cos\)/.test(e.message) && /'sin' \(Sin\)/.test(e.message) && /--output/.test(e.message),
    );
  });
});
