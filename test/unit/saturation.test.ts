import * as assert from 'assert';
import { gateSaturation, maskFromLengths, saturationMetrics } from '../../src/metrics/saturation';

/** A small deterministic PRNG for test data (LCG; quality is irrelevant here). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Brute force straight from SPEC.md §4, indexing x[t][b][j] through nested arrays. */
function bruteForce(x: number[][][], valid: boolean[][], low: number, high: number) {
  const T = x.length, B = x[0].length, H = x[0][0].length;
  const left: number[] = [], right: number[] = [];
  let allLeft = 0, allRight = 0, positions = 0;
  for (let j = 0; j < H; j++) {
    let l = 0, r = 0, v = 0;
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        if (!valid[t][b]) continue;
        v++;
        if (x[t][b][j] < low) l++;
        if (x[t][b][j] > high) r++;
      }
    }
    left.push(v ? l / v : 0);
    right.push(v ? r / v : 0);
    allLeft += l;
    allRight += r;
    positions += v;
  }
  return { left: positions ? allLeft / positions : 0, right: positions ? allRight / positions : 0, leftPerUnit: left, rightPerUnit: right };
}

function close(a: number, b: number, tol = 1e-12): void {
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
}

describe('metrics: gate saturation', () => {
  it('a hand-computed 2×2×3 case with one padded position', () => {
    // [t][b][j]; position (t=1, b=1) is padding and holds values that must not count.
    const values = Float32Array.from([
      0.05, 0.5, 0.95, /* t0 b0 */ 0.1, 0.9, 0.2, /* t0 b1 */
      0.0, 0.99, 0.5, /* t1 b0 */ 0.0, 0.0, 0.0, /* t1 b1 (padded) */
    ]);
    const mask = Uint8Array.from([1, 1, 1, 0]);
    const s = gateSaturation(values, [2, 2, 3], mask, 0.1, 0.9);
    // Valid (t,b): 3. Unit 0: 0.05, 0.1, 0.0 → left {0.05, 0.0} = 2/3 (0.1 is not < 0.1). Unit 1: 0.5, 0.9, 0.99 →
    // right {0.99} = 1/3 (0.9 is not > 0.9). Unit 2: 0.95, 0.2, 0.5 → right 1/3. Overall left 2/9, right 2/9.
    close(s.left, 2 / 9);
    close(s.right, 2 / 9);
    s.leftPerUnit.forEach((v, j) => close(v, [2 / 3, 0, 0][j]));
    s.rightPerUnit.forEach((v, j) => close(v, [0, 1 / 3, 1 / 3][j]));
  });

  it('thresholds are strict and NaN is neither left nor right', () => {
    const s = gateSaturation(Float32Array.from([0.25, 0.75, NaN, 0.2499, 0.7501]), [5, 1, 1], null, 0.25, 0.75);
    close(s.left, 1 / 5);
    close(s.right, 1 / 5);
  });

  it('matches a brute force on random data with random masks and lengths', () => {
    const rnd = lcg(1);
    for (let trial = 0; trial < 20; trial++) {
      const T = 1 + Math.floor(rnd() * 9), B = 1 + Math.floor(rnd() * 4), H = 1 + Math.floor(rnd() * 6);
      const x: number[][][] = [];
      const valid: boolean[][] = [];
      const flat = new Float32Array(T * B * H);
      const mask = new Uint8Array(T * B);
      for (let t = 0; t < T; t++) {
        x.push([]);
        valid.push([]);
        for (let b = 0; b < B; b++) {
          x[t].push([]);
          const ok = rnd() < 0.7;
          valid[t].push(ok);
          mask[t * B + b] = ok ? 1 : 0;
          for (let j = 0; j < H; j++) {
            const v = Math.fround(rnd());
            x[t][b].push(v);
            flat[(t * B + b) * H + j] = v;
          }
        }
      }
      const got = gateSaturation(flat, [T, B, H], mask, 0.2, 0.8);
      const want = bruteForce(x, valid, 0.2, 0.8);
      close(got.left, want.left);
      close(got.right, want.right);
      want.leftPerUnit.forEach((v, j) => close(got.leftPerUnit[j], v));
      want.rightPerUnit.forEach((v, j) => close(got.rightPerUnit[j], v));
    }
  });

  it('no valid position gives zeros of the right length', () => {
    const s = gateSaturation(new Float32Array(2 * 3 * 4), [2, 3, 4], new Uint8Array(6), 0.1, 0.9);
    assert.deepStrictEqual(s, { left: 0, right: 0, leftPerUnit: [0, 0, 0, 0], rightPerUnit: [0, 0, 0, 0] });
  });

  it('maskFromLengths marks t < len[b], and a null mask means all valid', () => {
    assert.deepStrictEqual(Array.from(maskFromLengths([2, 0, 3], 3, 3)), [1, 0, 1, 1, 0, 1, 0, 0, 1]);
    assert.deepStrictEqual(Array.from(maskFromLengths(null, 2, 2)), [1, 1, 1, 1]);
    assert.throws(() => maskFromLengths([4], 3, 1), RangeError);
    assert.throws(() => maskFromLengths([1, 1], 3, 1), RangeError);
    const values = Float32Array.from([0, 1, 0, 1]);
    assert.deepStrictEqual(gateSaturation(values, [2, 2, 1], null, 0.1, 0.9), gateSaturation(values, [2, 2, 1], maskFromLengths([2, 2], 2, 2), 0.1, 0.9));
  });

  it('saturationMetrics covers every gate and checks dims', () => {
    const m = saturationMetrics(
      { forget: { dims: [1, 1, 2], data: Float32Array.from([0.95, 0.05]) }, input: { dims: [1, 1, 2], data: Float32Array.from([0.5, 0.5]) } },
      null, 0.1, 0.9,
    );
    assert.deepStrictEqual(Object.keys(m.gates), ['forget', 'input']);
    assert.strictEqual(m.low, 0.1);
    assert.deepStrictEqual(m.gates.forget, { left: 0.5, right: 0.5, leftPerUnit: [0, 1], rightPerUnit: [1, 0] });
    assert.throws(() => gateSaturation(new Float32Array(3), [1, 1, 2], null, 0.1, 0.9), RangeError);
  });
});
