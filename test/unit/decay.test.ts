/**
 * The decay rule (SPEC v2 §9.2, metrics/gradients.ts), the clipping what-if, and the float64
 * reconstruction of jacobianNorm from renormalised seed rows (metrics/jacobian.ts) — each branch on
 * curves whose answer is known in closed form.
 */
import * as assert from 'assert';
import { clippingWhatIf, jacobianDecay } from '../../src/metrics/gradients';
import { jacobianNormsFromRows } from '../../src/metrics/jacobian';
import { assertClose, fixture, analyze } from './helpers';
import * as path from 'path';

/** J(d) = f(d) laid out over t for a forward direction (d = T − 1 − t). */
function forwardCurve(T: number, f: (d: number) => number): Float64Array {
  const out = new Float64Array(T);
  for (let t = 0; t < T; t++) out[t] = f(T - 1 - t);
  return out;
}

describe('decay: the v2 verdict rule, branch by branch', () => {
  it('a pure geometric decay: ρ and ρ_tail are the factor, survival its power, half-life ln ½ / ln ρ', () => {
    const T = 40;
    const d = jacobianDecay(forwardCurve(T, (k) => 0.8 ** k), T - 1, 0);
    assert.strictEqual(d.verdict, 'vanishing');
    assertClose([d.rho!, d.rhoTail!, d.survival!], [0.8, 0.8, 0.8 ** (T - 1)], 0, 1e-12, 'rho, rhoTail, survival');
    assertClose([d.halfLife!], [Math.log(0.5) / Math.log(0.8)], 0, 1e-12, 'half-life');
    // 0.8^d ≥ 1e-3 while d ≤ 30.96: reach 30.
    assert.strictEqual(d.reach, 30);
    assert.strictEqual(d.points, T);
    assert.strictEqual(d.window, T);
    assert.strictEqual(d.basis, 'state');
  });

  it('fewer than 4 steps: n/a with the reason, never a verdict from one or three points', () => {
    for (const T of [1, 2, 3]) {
      const d = jacobianDecay(forwardCurve(T, () => 1), T - 1, 0);
      assert.strictEqual(d.verdict, 'n/a');
      assert.match(d.reason!, new RegExp(`only ${T} step`));
    }
    assert.notStrictEqual(jacobianDecay(forwardCurve(4, () => 1), 3, 0).verdict, 'n/a');
  });

  it('a NaN or infinity anywhere in the window: invalid, saying where', () => {
    const c = forwardCurve(20, (k) => 0.9 ** k);
    c[5] = NaN;
    const d = jacobianDecay(c, 19, 0);
    assert.strictEqual(d.verdict, 'invalid');
    assert.match(d.reason!, /NaN at distance 14/);
    c[5] = Infinity;
    assert.match(jacobianDecay(c, 19, 0).reason!, /infinite/);
  });

  it('0 at the last step: n/a (nothing to compare with)', () => {
    const d = jacobianDecay(new Float64Array(10), 9, 0);
    assert.strictEqual(d.verdict, 'n/a');
    assert.match(d.reason!, /0 at the last step/);
  });

  it('a drop then a plateau: stable, though the one fitted ρ of v1 is < 0.95', () => {
    // Falls 300× within 6 steps, then holds: v1's rule (one fit's ρ < 0.95) called this vanishing.
    const T = 30;
    const d = jacobianDecay(forwardCurve(T, (k) => (k < 6 ? (1 / 300) ** (k / 6) : (1 / 300) * 0.999 ** (k - 6))), T - 1, 0);
    assert.ok(d.rho! < 0.95, `whole-window ρ ${d.rho}`);
    assert.ok(d.rhoTail! > 0.99);
    assert.ok(d.survival! > 1e-3);
    assert.strictEqual(d.verdict, 'stable');
  });

  it('survival decides when the tail holds: a collapse below 1e-3 early is vanishing', () => {
    const d = jacobianDecay(forwardCurve(30, (k) => (k < 5 ? 10 ** (-k) : 1e-5)), 29, 0);
    assert.ok(d.rhoTail! > 0.95 && d.rhoTail! < 1.05);
    assert.strictEqual(d.verdict, 'vanishing');
  });

  it('growth: exploding by ρ_tail > 1.05 or by survival > 1e3', () => {
    assert.strictEqual(jacobianDecay(forwardCurve(30, (k) => 1.1 ** k), 29, 0).verdict, 'exploding');
    // 1.03 per step fails the ρ rule but grows 5e3× over 300 steps.
    const slow = jacobianDecay(forwardCurve(300, (k) => 1.03 ** k), 299, 0);
    assert.ok(slow.rhoTail! < 1.05 && slow.survival! > 1e3);
    assert.strictEqual(slow.verdict, 'exploding');
  });

  it('exact zeros leave the fit (points < window) and the reverse direction counts from t = 0', () => {
    const c = new Float64Array([1, 0.5, 0.25, 0, 0.0625, 0.03125]); // reverse: d = t
    const d = jacobianDecay(c, 0, 5);
    assert.strictEqual(d.points, 5);
    assert.strictEqual(d.window, 6);
    assertClose([d.rho!], [0.5], 0, 1e-12, 'rho');
    assert.strictEqual(d.verdict, 'vanishing');
  });

  it('values far beyond float32 (1e-120, 1e+90) are fitted like any others', () => {
    assertClose([jacobianDecay(forwardCurve(60, (k) => 1e-2 ** k), 59, 0).rho!], [1e-2], 0, 1e-12, 'tiny');
    assert.strictEqual(jacobianDecay(forwardCurve(60, (k) => 1e3 ** (k / 2)), 59, 0).verdict, 'exploding');
  });

  it('the bundled adding-problem examples: RNN vanishing; GRU and LSTM not (the LSTM was called vanishing by v1)', async () => {
    const ex = (m: string) => path.join(fixture('..', '..', 'examples'), `adding-${m}.onnx`);
    const verdict = async (m: string) => (await analyze(ex(m), { seqLen: 50 })).layers[0].directions[0].metrics.decay!;
    assert.strictEqual((await verdict('rnn')).verdict, 'vanishing');
    assert.notStrictEqual((await verdict('gru')).verdict, 'vanishing');
    const lstm = await verdict('lstm');
    assert.notStrictEqual(lstm.verdict, 'vanishing', `random input, seed 0: ${JSON.stringify(lstm)}`);
  });
});

describe('clipping what-if', () => {
  it('min(1, θ/G) per threshold; factors of 1 below the threshold', () => {
    const c = clippingWhatIf([[3, 4], [0, 12]]); // G = 13
    assert.strictEqual(c.globalNorm, 13);
    assertClose([c.factors['1']!, c.factors['5']!], [1 / 13, 5 / 13], 0, 1e-15, 'factors');
    assert.deepStrictEqual(clippingWhatIf([[0.1, 0.2]]).factors, { 1: 1, 5: 1 });
  });

  it('a NaN or infinite norm has no factor (null), never "scales by 1"', () => {
    assert.deepStrictEqual(clippingWhatIf([[1, NaN]]).factors, { 1: null, 5: null });
    assert.deepStrictEqual(clippingWhatIf([[Infinity]]).factors, { 1: null, 5: null });
    assert.strictEqual(clippingWhatIf([[0, 0]]).factors['1'], 1);
  });
});

describe('jacobianNorm from renormalised rows (float64 beyond float32\'s range)', () => {
  /**
   * Simulates the scan for scalar rows: row r (r = 1 … seeds) is multiplied by g_r each step, then
   * divided by its norm, as bptt.ts does. The true norm at distance d is |seed_r|·g_r^d.
   */
  function simulate(T: number, gains: number[], hiddenSeeds: number, cellSeeds: number, direction: 'forward' | 'reverse') {
    const N = 1 + gains.length;
    const hiddenRows = new Float32Array(T * N);
    const stateRows = new Float32Array(T * N);
    const divisors = new Float32Array(T * N);
    const cellRows = new Float32Array(T * cellSeeds);
    const raw = new Float64Array(N).fill(1);
    for (let k = 0; k < T; k++) {
      const t = direction === 'forward' ? T - 1 - k : k;
      for (let r = 1; r < N; r++) {
        const sq = Math.fround(raw[r] * raw[r]);
        hiddenRows[t * N + r] = r <= hiddenSeeds ? sq : 0; // h-seeds' hidden part; c-seeds have none here
        stateRows[t * N + r] = sq;
        const den = Math.fround(Math.sqrt(Math.fround(sq + 1e-30)));
        divisors[t * N + r] = den;
        if (r > hiddenSeeds) cellRows[t * cellSeeds + (r - 1 - hiddenSeeds)] = Math.fround(1); // ‖dc‖ of a unit row
        raw[r] = Math.fround(Math.fround(raw[r] / den) * gains[r - 1]);
      }
      divisors[t * N] = 1;
    }
    return { T, rows: N, hiddenSeeds, cellSeeds, direction, hiddenRows, stateRows, divisors, cellRows };
  }

  it('norms down to 1e-200 and up to 1e+150 to float32 accuracy, never 0 or ∞', () => {
    const T = 300;
    const out = simulate(T, [0.21, 3.2], 1, 1, 'forward');
    const norms = jacobianNormsFromRows(out);
    for (let t = 0; t < T; t++) {
      const d = T - 1 - t;
      const h = 0.21 ** d;
      const c = 3.2 ** d;
      assertClose([norms.hidden[t]], [h], 0, 1e-4, `hidden at d = ${d}`);
      assertClose([norms.cell![t]], [c * (d === 0 ? 1 : 1)], 0, 1e-4, `cell at d = ${d}`);
      assertClose([norms.state[t]], [Math.hypot(h, c)], 0, 1e-4, `state at d = ${d}`);
    }
    assert.ok(norms.hidden[0] > 0 && norms.hidden[0] < 1e-200);
    assert.ok(Number.isFinite(norms.cell![0]) && norms.cell![0] > 1e150);
  });

  it('probes average (÷K); a dead row stays 0; a NaN row makes the step NaN', () => {
    const base = simulate(10, [0.5, 0.5], 2, 0, 'reverse');
    const probes = jacobianNormsFromRows({ ...base, probes: 2 });
    const exact = jacobianNormsFromRows(base);
    for (let t = 0; t < 10; t++) assertClose([probes.hidden[t]], [exact.hidden[t] / Math.SQRT2], 0, 1e-12, 'probes');
    const dead = simulate(6, [0], 1, 0, 'forward');
    const dn = jacobianNormsFromRows(dead);
    assert.strictEqual(dn.hidden[5], 1);
    for (let t = 0; t < 5; t++) assert.strictEqual(dn.hidden[t], 0);
    const bad = simulate(6, [0.5], 1, 0, 'forward');
    bad.hiddenRows[2 * 2 + 1] = NaN;
    assert.ok(Number.isNaN(jacobianNormsFromRows(bad).hidden[2]));
  });
});
