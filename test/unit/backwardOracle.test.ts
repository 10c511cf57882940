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
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { analyze, EPS32, fixture, listCases, loadArray } from './helpers';
import { ObjectiveKind } from '../../src/analysis/backward/objective';
import { Report } from '../../src/report/types';

interface RefDirection {
  direction: 'forward' | 'reverse';
  gradHidden: string;
  gradCell?: string;
  jacobianNorm: { hidden: string; cell?: string };
  weightGrads: Record<string, string>;
  gradNorm: number[];
  gradCellNorm?: number[];
  decay: {
    rho: number; rhoTail: number | null; survival: number | null; halfLife: number | null; reach: number | null;
    verdict: string; points: number; window: number;
  };
}
interface RefRun {
  objective: { kind: ObjectiveKind; output: string; timeAxis: number | null; target: string | null };
  value: number;
  layers: { node: string; op: string; directions: RefDirection[] }[];
  clipping: { globalNorm: number; factors: Record<string, number> };
}
interface RefCase { name: string; description: string; inputs: Record<string, string>; runs: RefRun[] }

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

type TensorLike = { dims: number[]; data: ArrayLike<number> };

/** A reported tensor against the reference array `file` of a fixture: same dims, scaled-close values. */
function checkTensor(dir: string, t: TensorLike | undefined, file: string, tol: number, what: string): void {
  assert.ok(t, `${what} missing`);
  const e = loadArray(path.join(dir, file));
  assert.deepStrictEqual(t.dims, e.shape, `${what} dims`);
  assertScaledClose(t.data, e.data, tol, what);
}

describe('backward pass vs PyTorch autograd (float64, unrolled)', function () {
  this.timeout(120000);
  for (const name of listCases(ROOT)) {
    const dir = path.join(ROOT, name);
    const spec: RefCase = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
    const files = Object.fromEntries(Object.entries(spec.inputs).map(([k, v]) => [k, path.join(dir, v)]));
    spec.runs.forEach((run, r) => {
      const o = run.objective;
      describe(`${name} [${o.kind} of ${o.output}${o.timeAxis !== null ? `, time axis ${o.timeAxis}` : ''}]`, () => {
        let report: Report;
        let tol: number;
        before(async () => {
          report = await analyze(path.join(dir, 'model.onnx'), {
            files, jacobian: 'exact',
            objective: { kind: o.kind, output: o.output, targetFile: o.target ? path.join(dir, o.target) : undefined },
          });
          let worst = 0;
          for (const l of report.layers) {
            const g = l.op === 'LSTM' ? 4 : l.op === 'GRU' ? 3 : 1;
            worst = Math.max(worst, l.seqLen * (l.inputSize + (g + 1) * l.hiddenSize));
          }
          tol = 8 * worst * EPS32 * report.layers.length;
        });

        it('objective value, traced time axis and clipping what-if', () => {
          assert.ok(report.objective);
          assert.strictEqual(report.objective.kind, o.kind);
          assert.strictEqual(report.objective.output, o.output);
          if (o.kind === 'last') assert.strictEqual(report.objective.timeAxis, o.timeAxis, 'time axis traced through the graph');
          assertScaledClose([report.objective.value!], [run.value], tol, 'L');
          assert.ok(report.clipping);
          assertScaledClose([report.clipping.globalNorm], [run.clipping.globalNorm], tol, 'global norm');
          for (const [th, f] of Object.entries(run.clipping.factors)) assertScaledClose([report.clipping.factors[th]!], [f], tol, `factor ${th}`);
        });

        for (const refLayer of run.layers) {
          for (const ref of refLayer.directions) {
            it(`${refLayer.node} ${ref.direction}: gradHidden, gradCell, jacobianNorm, weightGrads`, () => {
              const layer = report.layers.find((l) => l.node === refLayer.node);
              assert.ok(layer, `layer ${refLayer.node}`);
              const d = layer.directions.find((x) => x.direction === ref.direction)!;
              const check = (t: TensorLike | undefined, file: string, what: string) => checkTensor(dir, t, file, tol, what);
              check(d.gradHidden, ref.gradHidden, 'gradHidden');
              if (ref.gradCell) check(d.gradCell, ref.gradCell, 'gradCell');
              check(d.jacobianNorm?.hidden, ref.jacobianNorm.hidden, 'jacobianNorm.hidden');
              if (ref.jacobianNorm.cell) check(d.jacobianNorm?.cell, ref.jacobianNorm.cell, 'jacobianNorm.cell');
              for (const [k, file] of Object.entries(ref.weightGrads)) check(d.weightGrads?.[k as 'W'], file, `weightGrads.${k}`);
              assertScaledClose(d.metrics.gradNorm!, ref.gradNorm, tol, 'gradNorm');
              if (ref.gradCellNorm) assertScaledClose(d.metrics.gradCellNorm!, ref.gradCellNorm, tol, 'gradCellNorm');
            });

            if (r === 0) {
              // Without seed rows the recurrence carries the objective's row alone, in a body of its own (bptt.ts).
              it(`${refLayer.node} ${ref.direction}: the same gradients with --jacobian off`, async () => {
                const off = await analyze(path.join(dir, 'model.onnx'), {
                  files, jacobian: 'off',
                  objective: { kind: o.kind, output: o.output, targetFile: o.target ? path.join(dir, o.target) : undefined },
                });
                const d = off.layers.find((l) => l.node === refLayer.node)!.directions.find((x) => x.direction === ref.direction)!;
                assert.strictEqual(d.jacobianNorm, undefined);
                const check = (t: TensorLike | undefined, file: string, what: string) => checkTensor(dir, t, file, tol, what);
                check(d.gradHidden, ref.gradHidden, 'gradHidden');
                if (ref.gradCell) check(d.gradCell, ref.gradCell, 'gradCell');
                for (const [k, file] of Object.entries(ref.weightGrads)) check(d.weightGrads?.[k as 'W'], file, `weightGrads.${k}`);
              });
            }

            it(`${refLayer.node} ${ref.direction}: decay`, () => {
              const d = report.layers.find((l) => l.node === refLayer.node)!.directions.find((x) => x.direction === ref.direction)!;
              const decay = d.metrics.decay!;
              assert.strictEqual(decay.verdict, ref.decay.verdict);
              assert.strictEqual(decay.points, ref.decay.points);
              assert.strictEqual(decay.window, ref.decay.window);
              // ρ from a log-linear fit of values accurate to tol relative: |Δ log ρ| ≲ 2·tol.
              assertScaledClose([Math.log(decay.rho!)], [Math.log(ref.decay.rho)], 4 * tol, 'log ρ');
              if (ref.decay.rhoTail === null) assert.strictEqual(decay.rhoTail, null);
              else assertScaledClose([Math.log(decay.rhoTail!)], [Math.log(ref.decay.rhoTail)], 4 * tol, 'log ρ_tail');
              if (ref.decay.survival === null) assert.strictEqual(decay.survival, null);
              else assertScaledClose([Math.log(decay.survival!)], [Math.log(ref.decay.survival)], 4 * tol, 'log survival');
              assert.strictEqual(decay.reach, ref.decay.reach);
              if (ref.decay.halfLife === null) assert.strictEqual(decay.halfLife, null);
              else assertScaledClose([decay.halfLife!], [ref.decay.halfLife], 1e-3, 'half-life');
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
