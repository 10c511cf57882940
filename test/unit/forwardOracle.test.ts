/**
 * The instrumented forward pass against the independent PyTorch/float64 oracle
 * (scripts/make_fixtures.py: an unrolled reimplementation of the ONNX equations, itself checked
 * against torch's modules and ONNX's backend test data). Every per-step quantity and every
 * forward metric of every layer-direction is compared.
 *
 * Tolerance: the engine works in float32. One step's pre-activation is a dot product of
 * length I + H (+ bias), with rounding error ≤ (I + H + 2)·ε·Σ|terms| (ε = 2⁻²⁴); the error of
 * h_{t−1} carried into step t is damped or amplified by the step Jacobian, which for these
 * small random models stays near or below 1, so after T steps the error is bounded by about
 * T·(I + H + 2)·ε times the size of the values. We allow 4× that (terms can exceed the result
 * in size) both absolute and relative: tol = 4·T·(I + H + 2)·ε ≈ 1e-4 for the largest fixture.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { analyze, assertClose, EPS32, fixture, listCases, loadArray } from './helpers';
import { LayerReport, Report } from '../../src/report/types';

interface CaseDirection {
  direction: 'forward' | 'reverse';
  gates: Record<string, string>;
  hidden: string;
  cell?: string;
  metrics: {
    saturation: Record<string, { left: number; right: number; leftPerUnit: number[]; rightPerUnit: number[]; low: number; high: number }>;
    retention?: { meanForget: number[]; horizon: number[]; cellHighway: number[] };
    spectrum: Record<string, number>;
  };
}
interface CaseLayer {
  node: string; op: string; direction: string; layout: number; hiddenSize: number; inputSize: number;
  seqLen: number; batch: number; directions: CaseDirection[];
}
interface Case {
  name: string; description: string; inputs: Record<string, string>; outputs: Record<string, string>; layers: CaseLayer[];
}

const ROOT = fixture('forward');

describe('instrumented forward pass vs the PyTorch float64 oracle', function () {
  this.timeout(120000);
  for (const name of listCases(ROOT)) {
    const dir = path.join(ROOT, name);
    const spec: Case = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
    describe(`${name}: ${spec.description}`, () => {
      let report: Report;
      before(async () => {
        const files: Record<string, string> = {};
        for (const [input, file] of Object.entries(spec.inputs)) files[input] = path.join(dir, file);
        report = await analyze(path.join(dir, 'model.onnx'), { files });
      });

      it('finds every recurrent layer with its sizes and attributes', () => {
        assert.deepStrictEqual(report.layers.map((l) => l.node), spec.layers.map((l) => l.node));
        for (const ref of spec.layers) {
          const l = report.layers.find((x) => x.node === ref.node)!;
          assert.deepStrictEqual(
            [l.op, l.direction, l.layout, l.hiddenSize, l.inputSize, l.seqLen, l.batch],
            [ref.op, ref.direction, ref.layout, ref.hiddenSize, ref.inputSize, ref.seqLen, ref.batch],
          );
        }
      });

      it('reproduces the graph outputs', () => {
        for (const [out, file] of Object.entries(spec.outputs)) {
          const ref = loadArray(path.join(dir, file));
          const got = report.outputs[out];
          assert.ok(got, `output ${out} missing from the report`);
          assert.deepStrictEqual(got.dims, ref.shape, `output ${out} dims`);
          const tol = tolerance(report.layers, spec.layers);
          assertClose(got.data, ref.data, tol, tol, `output ${out}`);
        }
      });

      for (const refLayer of spec.layers) {
        for (const refDir of refLayer.directions) {
          it(`${refLayer.node} ${refDir.direction}: gates, hidden and cell states per step`, () => {
            const { layer, d } = find(report, refLayer.node, refDir.direction);
            const tol = tolerance([layer], [refLayer]);
            const check = (actual: { dims: number[]; data: ArrayLike<number> } | undefined, file: string, what: string) => {
              assert.ok(actual, `${what} missing`);
              const ref = loadArray(path.join(dir, file));
              assert.deepStrictEqual(actual.dims, ref.shape, `${what} dims`);
              assertClose(actual.data, ref.data, tol, tol, what);
            };
            assert.deepStrictEqual(Object.keys(d.gates).sort(), Object.keys(refDir.gates).sort(), 'gate names');
            for (const [gate, file] of Object.entries(refDir.gates)) check(d.gates[gate], file, `gate ${gate}`);
            check(d.hidden, refDir.hidden, 'hidden');
            if (refDir.cell) check(d.cell, refDir.cell, 'cell');
            else assert.strictEqual(d.cell, undefined, 'only LSTMs report a cell state');
          });

          it(`${refLayer.node} ${refDir.direction}: saturation, retention and spectrum`, () => {
            const { layer, d } = find(report, refLayer.node, refDir.direction);
            const tol = tolerance([layer], [refLayer]);
            const T = layer.seqLen;
            const B = layer.batch;
            for (const [gate, refSat] of Object.entries(refDir.metrics.saturation)) {
              const got = d.metrics.saturation.gates[gate];
              // Tanh-valued gates are judged at 2·low − 1 and 2·high − 1 (SPEC v2 §9.2).
              assert.deepStrictEqual([got.low, got.high].map((x) => Math.round(x! * 1e12) / 1e12),
                [refSat.low, refSat.high].map((x) => Math.round(x * 1e12) / 1e12), `${gate} thresholds`);
              // A value within tol of a threshold may fall on either side in float32: allow those.
              const values = loadArray(path.join(dir, refDir.gates[gate])).data;
              const borderline = Array.from(values).filter((v) => Math.abs(v - refSat.low) <= tol || Math.abs(v - refSat.high) <= tol).length;
              const slackAll = borderline / Math.max(1, values.length) + 1e-12;
              const slackUnit = borderline / Math.max(1, T * B / layer.hiddenSize) + 1e-12;
              assertClose([got.left, got.right], [refSat.left, refSat.right], slackAll, 0, `${gate} saturation`);
              assertClose(got.leftPerUnit, refSat.leftPerUnit, slackUnit, 0, `${gate} leftPerUnit`);
              assertClose(got.rightPerUnit, refSat.rightPerUnit, slackUnit, 0, `${gate} rightPerUnit`);
            }
            if (refDir.metrics.retention) {
              const got = d.metrics.retention!;
              const ref = refDir.metrics.retention;
              assertClose(got.meanForget, ref.meanForget, tol, tol, 'meanForget');
              // τ = 1/(1 − f̄): an error δ in f̄ becomes δ·τ² in τ.
              got.horizon.forEach((h, j) => {
                const tau = ref.horizon[j];
                assert.ok(h !== null && Math.abs(h - tau) <= tol * tau * tau * 2 + 1e-12, `horizon[${j}] ${h} vs ${tau}`);
              });
              // A product of T forget values: relative error up to T·tol.
              assertClose(got.cellHighway, ref.cellHighway, tol, T * tol, 'cellHighway');
            } else {
              assert.strictEqual(d.metrics.retention, undefined);
            }
            // σ_max from float64 weights read from the file: exact up to the solver's tolerance.
            for (const g of d.metrics.spectrum!.gates) {
              const ref = layer.op === 'RNN' ? refDir.metrics.spectrum.all : refDir.metrics.spectrum[g.gate];
              assertClose([g.sigmaMax], [ref], 1e-9, 1e-7, `σ_max ${g.gate}`);
            }
            assertClose([d.metrics.spectrum!.sigmaMaxAll], [refDir.metrics.spectrum.all], 1e-9, 1e-7, 'σ_max whole R');
          });
        }
      }
    });
  }
});

function find(report: Report, node: string, direction: string) {
  const layer = report.layers.find((l) => l.node === node);
  assert.ok(layer, `layer ${node} not in the report (found ${report.layers.map((l) => l.node).join(', ')})`);
  const d = layer.directions.find((x) => x.direction === direction);
  assert.ok(d, `${node} has no ${direction} direction`);
  return { layer, d };
}

/** 4·T·(I + H + 2)·ε over the given layers (the largest applies to outputs downstream of all of them). */
function tolerance(layers: LayerReport[], ref: CaseLayer[]): number {
  let worst = 0;
  for (const l of ref) worst = Math.max(worst, l.seqLen * (l.inputSize + l.hiddenSize + 2));
  for (const l of layers) worst = Math.max(worst, l.seqLen * (l.inputSize + l.hiddenSize + 2));
  return 4 * worst * EPS32 * Math.max(1, layers.length);
}
