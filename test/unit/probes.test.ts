/**
 * The default Jacobian mode (SPEC v2 §9.3): exact while B·H ≤ 64, else 8 Gaussian probes whose
 * relative error jacobianNorm.relError = 1/√(2K) is reported and drawn. The bound is a standard
 * deviation (a Hutchinson estimate of ‖J‖²_F has relative variance ≤ 2/K; the norm, half the
 * relative spread): checked against the exact norms of every backward fixture, every step — at
 * least 68% of steps within one relError, every step within two.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { analyze, fixture, listCases } from './helpers';
import { AUTO_PROBES, EXACT_JACOBIAN_MAX, probesRelError } from '../../src/analysis/pipeline';
import { syntheticRecurrentModelBytes } from './synthetic';
import { removeTempDirs, tempDir } from './cliHelpers';

after(removeTempDirs);

describe('Jacobian probes: the default mode and its error band', function () {
  this.timeout(600000);

  it('auto is exact while B·H ≤ 64 and 8 probes above, with relError reported and a warning that says so', async () => {
    assert.strictEqual(EXACT_JACOBIAN_MAX, 64);
    assert.strictEqual(AUTO_PROBES, 8);
    const dir = tempDir('gl-probes-');
    const small = path.join(dir, 'h64.onnx');
    const big = path.join(dir, 'h65.onnx');
    fs.writeFileSync(small, syntheticRecurrentModelBytes({ op: 'GRU', hidden: 64, input: 4 }));
    fs.writeFileSync(big, syntheticRecurrentModelBytes({ op: 'GRU', hidden: 65, input: 4 }));
    const a = await analyze(small, { seqLen: 6 });
    const b = await analyze(big, { seqLen: 6 });
    assert.strictEqual(a.layers[0].directions[0].jacobianNorm!.method, 'exact');
    assert.strictEqual(a.layers[0].directions[0].jacobianNorm!.relError, undefined);
    const j = b.layers[0].directions[0].jacobianNorm!;
    assert.deepStrictEqual([j.method, j.probes, j.relError], ['probes', 8, 0.25]);
    assert.ok(b.warnings.some((w) => /8 random probes because B·H = 65 > 64 \(each step within about ±25%, drawn as a band\); pass --jacobian exact/.test(w)), b.warnings.join('\n'));
    // B·H counts the batch: 2 × 33 = 66 > 64.
    const b33 = path.join(dir, 'h33.onnx');
    fs.writeFileSync(b33, syntheticRecurrentModelBytes({ op: 'GRU', hidden: 33, input: 4 }));
    assert.strictEqual((await analyze(b33, { seqLen: 6, batch: 1 })).layers[0].directions[0].jacobianNorm!.method, 'exact');
    assert.strictEqual((await analyze(b33, { seqLen: 6, batch: 2 })).layers[0].directions[0].jacobianNorm!.method, 'probes');
  });

  it('every fixture: the 8-probe estimate is within relError of the exact norm at ≥ 68% of steps, within 2·relError at all', async () => {
    const root = fixture('backward');
    let steps = 0;
    let within1 = 0;
    const outside2: string[] = [];
    for (const name of listCases(root)) {
      const spec = JSON.parse(fs.readFileSync(path.join(root, name, 'case.json'), 'utf8'));
      if (spec.float32Overflow) continue;
      const files = Object.fromEntries(Object.entries(spec.inputs as Record<string, string>).map(([k, v]) => [k, path.join(root, name, v)]));
      const extra = spec.calls !== undefined ? { calls: spec.calls } : {};
      const model = path.join(root, name, 'model.onnx');
      let exact;
      let probes;
      try {
        exact = await analyze(model, { files, jacobian: 'exact', ...extra });
        probes = await analyze(model, { files, jacobian: { probes: 8 }, ...extra });
      } catch (e) {
        if (/state pairs|calls/.test((e as Error).message)) continue; // (a streaming model without its calls)
        throw e;
      }
      exact.layers.forEach((l, li) => l.directions.forEach((d, di) => {
        const e = d.jacobianNorm!.state.data;
        const p = probes.layers[li].directions[di].jacobianNorm!;
        assert.strictEqual(p.relError, probesRelError(8));
        for (let t = 0; t < e.length; t++) {
          if (!(e[t] > 0)) continue;
          const rel = Math.abs(p.state.data[t] / e[t] - 1);
          steps++;
          if (rel <= p.relError!) within1++;
          if (rel > 2 * p.relError!) outside2.push(`${name} ${l.node} ${d.direction} t=${t}: ${rel.toFixed(3)}`);
        }
      }));
    }
    assert.ok(steps > 500, `${steps} steps compared`);
    assert.ok(within1 / steps >= 0.68, `${within1} of ${steps} steps within one relError`);
    assert.deepStrictEqual(outside2, []);
  });
});
