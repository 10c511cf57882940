/**
 * Retention of an LSTM direction (SPEC.md §4): how long its cells keep what they store.
 */
import type { Direction, RetentionMetrics } from '../report/types';
import { checkLengths, type StepDims } from './saturation';

/**
 * - meanForget[j] = f̄_j, the mean of f[t, b, j] over valid (t, b) (t < len[b]); 0 when there is none.
 * - horizon[j] = τ_j = 1 / (1 − f̄_j) steps, null when f̄_j ≥ 1 (no finite horizon).
 * - cellHighway[t] = √(Σ_b Σ_j P_t[b, j]²) with P_t = ∏ f_k over the steps k processed strictly
 *   after t up to the direction's last step: k = t+1 … len[b]−1 forward, k = t−1 … 0 reverse.
 *   P_last = 1 (empty product); P_t = 0 at padded positions t ≥ len[b]. This is ∂C_last/∂C_t along
 *   the additive path C_t → C_last alone.
 *
 * The products are built backwards from the last step (P_t = P_{t+1} · f_{t+1} forward,
 * P_t = P_{t−1} · f_{t−1} reverse) in float64: O(T·B·H).
 */
export function retention(
  forget: Float32Array | Float64Array,
  dims: StepDims,
  lengths: readonly number[],
  direction: Direction,
): RetentionMetrics {
  const [T, B, H] = dims;
  if (forget.length !== T * B * H) throw new RangeError(`forget values hold ${forget.length} numbers, dims [${T}, ${B}, ${H}] need ${T * B * H}`);
  checkLengths(lengths, T, B);

  const sum = new Float64Array(H);
  let valid = 0;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      if (t >= lengths[b]) continue;
      valid++;
      const base = (t * B + b) * H;
      for (let j = 0; j < H; j++) sum[j] += forget[base + j];
    }
  }
  const meanForget = new Array<number>(H);
  const horizon = new Array<number | null>(H);
  for (let j = 0; j < H; j++) {
    const f = valid === 0 ? 0 : sum[j] / valid;
    meanForget[j] = f;
    horizon[j] = f >= 1 || Number.isNaN(f) ? null : 1 / (1 - f);
  }

  const norm = new ScaledNorms(T);
  const product = new Float64Array(H);
  for (let b = 0; b < B; b++) {
    const len = lengths[b];
    if (len === 0) continue;
    product.fill(1);
    norm.startVector();
    if (direction === 'forward') {
      for (let t = len - 1; t >= 0; t--) {
        if (t < len - 1) norm.addProduct(t, product, forget, ((t + 1) * B + b) * H);
        else norm.add(t, product);
      }
    } else {
      for (let t = 0; t < len; t++) {
        if (t > 0) norm.addProduct(t, product, forget, ((t - 1) * B + b) * H);
        else norm.add(t, product);
      }
    }
  }
  return { meanForget, horizon, cellHighway: norm.values() };
}

/** 2^RESCALE_BITS: the running product is rescaled by this exact power of two when it drifts far from 1. */
const RESCALE_BITS = 512;
const RESCALE = 2 ** RESCALE_BITS;

/**
 * T Euclidean norms of running products, kept in the log domain: norm_i = 2^log2Scale[i] · √ssq[i].
 * The running product v = ∏ f is held as 2^exponent · v with v rescaled by exact powers of two,
 * so ∏f over thousands of steps (1e-2000 and beyond) never underflows: a norm is lost only when
 * the final float64 value itself is below the smallest double, and is then reported as that
 * float64 value (a subnormal, or 0 below 5e-324) rather than 0 from an intermediate underflow.
 */
class ScaledNorms {
  private readonly log2Scale: Float64Array;
  private readonly ssq: Float64Array;
  /** The current product vector's exponent: its true values are v · 2^exponent. */
  private exponent = 0;

  constructor(n: number) {
    this.log2Scale = new Float64Array(n).fill(-Infinity);
    this.ssq = new Float64Array(n);
  }

  startVector(): void {
    this.exponent = 0;
  }

  /** v ← v ⊙ f[base …] and add v (one pass that also takes the max and the sum of squares). */
  addProduct(i: number, v: Float64Array, f: Float32Array | Float64Array, base: number): void {
    let m = 0;
    let ss = 0;
    for (let j = 0; j < v.length; j++) {
      const p = v[j] * f[base + j];
      v[j] = p;
      const a = Math.abs(p);
      m = a > m ? a : m;
      ss += p * p;
    }
    if (m === 0 && ss === 0) return;
    // Keep v's largest value within 2^±512 of 1 (exact rescaling), so its square stays in range.
    if (m < 1 / RESCALE || (m > RESCALE && m < Infinity)) {
      this.add(i, v);
      return;
    }
    if (ss === ss && ss < Infinity) this.combine(i, this.exponent + Math.log2(m), ss / (m * m));
    else this.add(i, v);
  }

  add(i: number, v: Float64Array): void {
    let m = 0;
    for (let j = 0; j < v.length; j++) {
      const a = Math.abs(v[j]);
      if (a > m || Number.isNaN(a)) m = a;
    }
    if (m === 0) return;
    if (!Number.isFinite(m)) {
      this.log2Scale[i] = m;
      this.ssq[i] = 1;
      return;
    }
    while (m < 1 / RESCALE) {
      for (let j = 0; j < v.length; j++) v[j] *= RESCALE;
      m *= RESCALE;
      this.exponent -= RESCALE_BITS;
    }
    while (m > RESCALE) {
      for (let j = 0; j < v.length; j++) v[j] /= RESCALE;
      m /= RESCALE;
      this.exponent += RESCALE_BITS;
    }
    let s = 0;
    for (let j = 0; j < v.length; j++) {
      const r = v[j] / m;
      s += r * r;
    }
    this.combine(i, this.exponent + Math.log2(m), s);
  }

  /** Add a vector of norm 2^e·√s (2^e its largest magnitude, s ≥ 1). */
  private combine(i: number, e: number, s: number): void {
    const cur = this.log2Scale[i];
    if (Number.isNaN(cur) || cur === Infinity) return;
    if (e > cur) {
      this.ssq[i] = this.ssq[i] * 2 ** (2 * (cur - e)) + s;
      this.log2Scale[i] = e;
    } else {
      this.ssq[i] += s * 2 ** (2 * (e - cur));
    }
  }

  values(): number[] {
    return Array.from(this.log2Scale, (e, i) => {
      if (e === -Infinity) return 0;
      if (!Number.isFinite(e)) return e;
      return 2 ** (e + 0.5 * Math.log2(this.ssq[i]));
    });
  }
}
