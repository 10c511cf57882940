import * as assert from 'assert';
import { SeededRandom, seedState, State128, Xoshiro128StarStar } from '../../src/inputs/random';

/** xoshiro128** written independently with BigInt and explicit masking, straight from the reference C. */
function* referenceXoshiro(state: State128): Generator<number> {
  const M = 0xffffffffn;
  const s = state.map((v) => BigInt(v >>> 0));
  const rotl = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (32n - k))) & M;
  for (;;) {
    const result = (rotl((s[1] * 5n) & M, 7n) * 9n) & M;
    const t = (s[1] << 9n) & M;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
    yield Number(result);
  }
}

/** Φ(x) via erf from Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, far below the KS bound used). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

function moments(x: ArrayLike<number>): { mean: number; variance: number; skew: number; exKurt: number } {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let m2 = 0, m3 = 0, m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= n; m3 /= n; m4 /= n;
  return { mean, variance: m2, skew: m3 / m2 ** 1.5, exKurt: m4 / (m2 * m2) - 3 };
}

describe('random: xoshiro128**', () => {
  it('matches the reference sequence from state (1, 2, 3, 4)', () => {
    // Output of the reference C implementation (Blackman & Vigna) seeded with s = {1, 2, 3, 4}.
    const expected = [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804];
    const g = new Xoshiro128StarStar([1, 2, 3, 4]);
    assert.deepStrictEqual(expected.map(() => g.nextUint32()), expected);
  });

  it('matches an independent BigInt implementation for 10 000 draws from hashed states', () => {
    for (const [seed, name] of [[0, 'x'], [12345, 'tokens'], [-7, '']] as const) {
      const state = seedState(seed, name);
      const g = new Xoshiro128StarStar(state);
      const ref = referenceXoshiro(state);
      for (let i = 0; i < 10000; i++) assert.strictEqual(g.nextUint32(), ref.next().value, `draw ${i} for (${seed}, '${name}')`);
    }
  });

  it('refuses the all-zero state', () => {
    assert.throws(() => new Xoshiro128StarStar([0, 0, 0, 0]), RangeError);
  });
});

describe('random: streams per (seed, input name)', () => {
  it('is deterministic and independent of the order inputs are drawn in', () => {
    const a1 = SeededRandom.forInput(3, 'x').normal(100);
    const other = SeededRandom.forInput(3, 'h0');
    other.normal(1000);
    const a2 = SeededRandom.forInput(3, 'x').normal(100);
    assert.deepStrictEqual(a1, a2);
  });

  it('differs between names and between seeds (including large and negative seeds)', () => {
    const keys: [number, string][] = [[0, 'x'], [0, 'y'], [1, 'x'], [-1, 'x'], [2 ** 40, 'x'], [2 ** 40 + 1, 'x'], [0, 'x\u0000'], [0, 'ẋ']];
    const firsts = keys.map(([s, n]) => SeededRandom.forInput(s, n).normal(4).join(','));
    assert.strictEqual(new Set(firsts).size, keys.length);
  });

  it('seedState is a pure function of (seed, name) and rejects non-integer seeds', () => {
    assert.deepStrictEqual(seedState(5, 'ids'), seedState(5, 'ids'));
    assert.notDeepStrictEqual(seedState(5, 'ids'), seedState(5, 'id'));
    assert.throws(() => seedState(0.5, 'x'), RangeError);
    assert.throws(() => seedState(2 ** 60, 'x'), RangeError);
  });
});

describe('random: distributions', () => {
  const n = 100000;

  it('nextDouble is in [0, 1) with mean ½ and variance 1/12', () => {
    const r = SeededRandom.forInput(0, 'u');
    const x = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = r.nextDouble();
      assert.ok(x[i] >= 0 && x[i] < 1);
    }
    const m = moments(x);
    // Standard errors: mean √(1/12n); variance √((1/80 − 1/144)/n).
    assert.ok(Math.abs(m.mean - 0.5) < 5 * Math.sqrt(1 / 12 / n), `mean ${m.mean}`);
    assert.ok(Math.abs(m.variance - 1 / 12) < 5 * Math.sqrt((1 / 80 - 1 / 144) / n), `variance ${m.variance}`);
  });

  it('normal(n) has the moments of N(0, 1) within 5 standard errors', () => {
    const x = SeededRandom.forInput(42, 'x').normal(n);
    const m = moments(x);
    // Standard errors of the sample mean, variance, skewness and excess kurtosis of N(0, 1).
    assert.ok(Math.abs(m.mean) < 5 / Math.sqrt(n), `mean ${m.mean}`);
    assert.ok(Math.abs(m.variance - 1) < 5 * Math.sqrt(2 / n), `variance ${m.variance}`);
    assert.ok(Math.abs(m.skew) < 5 * Math.sqrt(6 / n), `skewness ${m.skew}`);
    assert.ok(Math.abs(m.exKurt) < 5 * Math.sqrt(24 / n), `excess kurtosis ${m.exKurt}`);
  });

  it('normal(n) passes a Kolmogorov–Smirnov test against Φ, and z₀, z₁ of a pair are uncorrelated', () => {
    const x = SeededRandom.forInput(7, 'emb').normal(n);
    const sorted = Float64Array.from(x).sort();
    let d = 0;
    for (let i = 0; i < n; i++) {
      const f = normalCdf(sorted[i]);
      d = Math.max(d, Math.abs(f - i / n), Math.abs(f - (i + 1) / n));
    }
    // 1.95/√n is the KS critical value at the 0.1 % level.
    assert.ok(d < 1.95 / Math.sqrt(n), `KS statistic ${d}`);
    let sxy = 0;
    for (let i = 0; i < n; i += 2) sxy += x[i] * x[i + 1];
    assert.ok(Math.abs(sxy / (n / 2)) < 5 / Math.sqrt(n / 2), `pair correlation ${sxy / (n / 2)}`);
  });

  it('normal(n) is Box–Muller on consecutive uniforms', () => {
    const a = SeededRandom.forInput(1, 'bm');
    const b = SeededRandom.forInput(1, 'bm');
    const z = a.normal(5);
    for (let i = 0; i < 6; i += 2) {
      const u1 = 1 - b.nextDouble();
      const u2 = b.nextDouble();
      const r = Math.sqrt(-2 * Math.log(u1));
      assert.strictEqual(z[i], Math.fround(r * Math.cos(2 * Math.PI * u2)));
      if (i + 1 < 5) assert.strictEqual(z[i + 1], Math.fround(r * Math.sin(2 * Math.PI * u2)));
    }
    assert.strictEqual(a.normal(0).length, 0);
  });

  it('uniformInt(n, high) covers [0, high) evenly (χ² test) and stays in range', () => {
    const high = 10;
    const x = SeededRandom.forInput(9, 'ids').uniformInt(n, high);
    const counts = new Array<number>(high).fill(0);
    for (const v of x) {
      assert.ok(Number.isInteger(v) && v >= 0 && v < high);
      counts[v]++;
    }
    const e = n / high;
    const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
    // 9 degrees of freedom: P(χ² > 27.88) = 0.001.
    assert.ok(chi2 < 27.88, `χ² ${chi2} for counts ${counts}`);
  });

  it('uniformInt edge bounds: 1 gives zeros, 2^31 stays in int32 range, bad bounds throw', () => {
    assert.ok(SeededRandom.forInput(0, 'a').uniformInt(100, 1).every((v) => v === 0));
    const big = SeededRandom.forInput(0, 'b').uniformInt(10000, 2 ** 31);
    assert.ok(big.every((v) => v >= 0));
    // Half the draws should be ≥ 2^30 when the top bit is used.
    const upper = big.filter((v) => v >= 2 ** 30).length;
    assert.ok(Math.abs(upper - 5000) < 5 * 50, `upper half ${upper}`);
    const r = SeededRandom.forInput(0, 'c');
    assert.throws(() => r.uniformInt(1, 0), RangeError);
    assert.throws(() => r.uniformInt(1, 2.5), RangeError);
    assert.throws(() => r.uniformInt(1, 2 ** 31 + 1), RangeError);
    assert.throws(() => r.normal(-1), RangeError);
  });

  it('normal() is Box–Muller on nextDouble(), pair by pair, and leaves the stream where it would', () => {
    const oneByOne = (r: SeededRandom, n: number) => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i += 2) {
        const u1 = 1 - r.nextDouble();
        const u2 = r.nextDouble();
        const rho = Math.sqrt(-2 * Math.log(u1));
        out[i] = rho * Math.cos(2 * Math.PI * u2);
        if (i + 1 < n) out[i + 1] = rho * Math.sin(2 * Math.PI * u2);
      }
      return out;
    };
    // Even and odd counts (an odd one drops the last pair's second value).
    for (const n of [0, 1, 2, 7, 8191, 8192, 8193, 20001]) {
      const fast = SeededRandom.forInput(7, 'x');
      const slow = SeededRandom.forInput(7, 'x');
      assert.deepStrictEqual(Array.from(fast.normal(n)), Array.from(oneByOne(slow, n)), `n = ${n}`);
      assert.strictEqual(fast.nextUint32(), slow.nextUint32(), `the stream after n = ${n}`);
    }
  });
});
