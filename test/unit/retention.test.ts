import * as assert from 'assert';
import { retention } from '../../src/metrics/retention';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/**
 * O(T²) brute force of SPEC.md §4: for every t, b, j multiply f_k over the steps the direction
 * processes strictly after t, up to its last valid step.
 */
function highwayBruteForce(f: Float32Array, T: number, B: number, H: number, lengths: number[], reverse: boolean): number[] {
  const out: number[] = [];
  for (let t = 0; t < T; t++) {
    let sum = 0;
    for (let b = 0; b < B; b++) {
      if (t >= lengths[b]) continue;
      for (let j = 0; j < H; j++) {
        let p = 1;
        const ks = reverse ? range(0, t) : range(t + 1, lengths[b]);
        for (const k of ks) p *= f[(k * B + b) * H + j];
        sum += p * p;
      }
    }
    out.push(Math.sqrt(sum));
  }
  return out;
}

function range(from: number, to: number): number[] {
  const r: number[] = [];
  for (let i = from; i < to; i++) r.push(i);
  return r;
}

function closeRel(a: number, b: number, rel = 1e-12): void {
  assert.ok(a === b || Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)), `${a} vs ${b}`);
}

describe('metrics: retention', () => {
  it('meanForget over valid (t, b) only, and the horizon 1/(1 − f̄)', () => {
    // T=2, B=2, H=3; b=1 has length 1, so (t=1, b=1) is padding filled with values that must not count.
    const f = Float32Array.from([
      0.5, 1.0, 0.9, /* t0 b0 */ 0.5, 1.0, 0.7, /* t0 b1 */
      0.5, 1.0, 0.8, /* t1 b0 */ 0.0, 0.0, 0.0, /* t1 b1 (padded) */
    ]);
    const r = retention(f, [2, 2, 3], [2, 1], 'forward');
    closeRel(r.meanForget[0], 0.5);
    assert.strictEqual(r.meanForget[1], 1);
    closeRel(r.meanForget[2], (Math.fround(0.9) + Math.fround(0.7) + Math.fround(0.8)) / 3);
    closeRel(r.horizon[0] as number, 2);
    assert.strictEqual(r.horizon[1], null);
    closeRel(r.horizon[2] as number, 1 / (1 - r.meanForget[2]));
  });

  it('constant forget f: cellHighway[t] = √(B·H)·f^(steps after t), both directions', () => {
    const T = 7, B = 2, H = 3, f = 0.8;
    const data = new Float32Array(T * B * H).fill(f);
    const ff = Math.fround(f);
    const fw = retention(data, [T, B, H], [T, T], 'forward');
    const rv = retention(data, [T, B, H], [T, T], 'reverse');
    for (let t = 0; t < T; t++) {
      closeRel(fw.cellHighway[t], Math.sqrt(B * H) * ff ** (T - 1 - t));
      closeRel(rv.cellHighway[t], Math.sqrt(B * H) * ff ** t);
    }
    assert.strictEqual(fw.cellHighway[T - 1], Math.sqrt(B * H));
    assert.strictEqual(rv.cellHighway[0], Math.sqrt(B * H));
  });

  it('matches an O(T²) brute force with sequence lengths (0, partial and full), both directions', () => {
    const rnd = lcg(7);
    for (let trial = 0; trial < 20; trial++) {
      const T = 1 + Math.floor(rnd() * 10), B = 1 + Math.floor(rnd() * 4), H = 1 + Math.floor(rnd() * 5);
      const f = new Float32Array(T * B * H);
      for (let i = 0; i < f.length; i++) f[i] = rnd();
      const lengths = Array.from({ length: B }, (_, b) => (b === 0 ? T : b === 1 ? 0 : Math.floor(rnd() * (T + 1))));
      for (const direction of ['forward', 'reverse'] as const) {
        const got = retention(f, [T, B, H], lengths, direction).cellHighway;
        const want = highwayBruteForce(f, T, B, H, lengths, direction === 'reverse');
        assert.strictEqual(got.length, T);
        want.forEach((w, t) => closeRel(got[t], w, 1e-12));
      }
    }
  });

  it('padded positions contribute 0; a batch of only empty sequences gives zeros', () => {
    const f = new Float32Array(3 * 1 * 2).fill(0.5);
    const r = retention(f, [3, 1, 2], [2], 'forward');
    assert.strictEqual(r.cellHighway[2], 0);
    closeRel(r.cellHighway[1], Math.SQRT2);
    closeRel(r.cellHighway[0], Math.SQRT2 * 0.5);
    const empty = retention(f, [3, 1, 2], [0], 'reverse');
    assert.deepStrictEqual(empty.cellHighway, [0, 0, 0]);
    assert.deepStrictEqual(empty.meanForget, [0, 0]);
  });

  it('keeps tiny products whose squares would underflow (f = 1e-3 over 60 steps)', () => {
    const T = 60, H = 4, f = 1e-3;
    const data = new Float64Array(T * H).fill(f);
    const r = retention(data, [T, 1, H], [T], 'forward');
    // P_0 = f^59 ≈ 1e-177; its square 1e-354 is below the smallest double.
    closeRel(r.cellHighway[0], 2 * f ** 59, 1e-13);
    assert.ok(r.cellHighway[0] > 0);
  });

  it('a NaN or an infinity in a forget gate reaches the steps whose products include it, and only those', () => {
    const T = 6, H = 3;
    const f = new Float32Array(T * H).fill(0.5);
    f[3 * H + 1] = NaN; // step 3, unit 1
    const r = retention(f, [T, 1, H], [T], 'forward');
    // Forward: P_t multiplies f over steps t+1 … T−1, so t = 0, 1, 2 include step 3.
    for (let t = 0; t < T; t++) assert.strictEqual(Number.isNaN(r.cellHighway[t]), t < 3, `t = ${t}: ${r.cellHighway[t]}`);
    closeRel(r.cellHighway[3], Math.sqrt(3) * 0.5 ** 2);
    f[3 * H + 1] = Infinity;
    const inf = retention(f, [T, 1, H], [T], 'forward');
    for (let t = 0; t < 3; t++) assert.strictEqual(inf.cellHighway[t], Infinity, `t = ${t}`);
    closeRel(inf.cellHighway[3], Math.sqrt(3) * 0.5 ** 2);
  });

  it('large products (f = 1e3 over 60 steps) keep their norm without overflow', () => {
    const T = 60, H = 4, f = 1e3;
    const data = new Float64Array(T * H).fill(f);
    const r = retention(data, [T, 1, H], [T], 'forward');
    // P_0 = f^59 = 1e177; its square overflows a double.
    closeRel(r.cellHighway[0], 2 * f ** 59, 1e-13);
  });

  it('∏f past the double range is kept in the log domain: exact down to the smallest double, never an intermediate 0', () => {
    // f = 0.5 over 3000 steps: P_t = 2^−(T−1−t), far below 1e-308 for most t, with B = 2 sequences.
    const T = 3000, B = 2, H = 3;
    const data = new Float32Array(T * B * H).fill(0.5);
    const r = retention(data, [T, B, H], [T, T], 'forward');
    const norm = Math.sqrt(B * H);
    for (const d of [0, 1, 100, 1000, 1020]) closeRel(r.cellHighway[T - 1 - d], norm * 2 ** -d, 1e-12);
    // 2^-1070 · √6 is a subnormal double: reported as the nearest one, not 0.
    const sub = r.cellHighway[T - 1 - 1070];
    assert.ok(sub > 0 && sub < 2.3e-308, `${sub}`);
    assert.ok(Math.abs(sub - norm * 2 ** -1070) <= 2 ** -1074, `${sub}`);
    // Below 5e-324 the float64 value is 0.
    assert.strictEqual(r.cellHighway[0], 0);
    // Reverse direction, mixed lengths: the same values counted from each sequence's first step.
    const rev = retention(data, [T, B, H], [T, 1500], 'reverse');
    closeRel(rev.cellHighway[1000], Math.sqrt(B * H) * 2 ** -1000, 1e-12);
    assert.ok(Math.abs(rev.cellHighway[1060] - Math.sqrt(B * H) * 2 ** -1060) <= 2 ** -1074, `${rev.cellHighway[1060]}`);
  });

  it('rejects lengths that do not fit', () => {
    assert.throws(() => retention(new Float32Array(4), [2, 2, 1], [3, 1], 'forward'), RangeError);
    assert.throws(() => retention(new Float32Array(4), [2, 2, 1], [1], 'forward'), RangeError);
  });
});
