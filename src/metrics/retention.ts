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

/**
 * T Euclidean norms accumulated vector by vector as (scale, ssq) with norm = scale·√ssq, as
 * LAPACK's dnrm2 does: products of hundreds of forget values reach 1e-200, whose squares would
 * underflow to 0 in a plain sum of squares.
 */
class ScaledNorms {
  private readonly scale: Float64Array;
  private readonly ssq: Float64Array;

  constructor(n: number) {
    this.scale = new Float64Array(n);
    this.ssq = new Float64Array(n);
  }

  /**
   * v ← v ⊙ f[base …] and add v: one pass that also takes the max and the plain sum of squares,
   * which is exact enough while 1e-150 ≤ max ≤ 1e150 (no square overflows, and squares that
   * underflow are below 1e-300 of the largest); outside that range, or for NaN or ∞, `add` rescales.
   */
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
    if (m >= 1e-150 && m <= 1e150 && ss === ss) this.combine(i, m, ss / (m * m));
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
      this.scale[i] = m;
      this.ssq[i] = 1;
      return;
    }
    let s = 0;
    for (let j = 0; j < v.length; j++) {
      const r = v[j] / m;
      s += r * r;
    }
    this.combine(i, m, s);
  }

  /** Add a vector of norm m·√s (m its largest magnitude, finite and > 0). */
  private combine(i: number, m: number, s: number): void {
    if (m > this.scale[i]) {
      const r = this.scale[i] / m;
      this.ssq[i] = this.ssq[i] * r * r + s;
      this.scale[i] = m;
    } else {
      const r = m / this.scale[i];
      this.ssq[i] += s * r * r;
    }
  }

  values(): number[] {
    return Array.from(this.scale, (sc, i) => sc * Math.sqrt(this.ssq[i]));
  }
}
