/**
 * Gate saturation (SPEC.md §4; Karpathy, Johnson & Fei-Fei 2015): a gate value is left-saturated
 * when < low and right-saturated when > high (both strict). Fractions are over valid positions
 * only; padded positions (t ≥ len[b]) are ignored.
 */
import type { SaturationMetrics, SaturationStats, Tensor } from '../report/types';

/** Dims of a per-step tensor: [T, B, H]. */
export type StepDims = readonly [number, number, number];

/**
 * The valid-position mask [T·B] (index t·B + b, 1 = valid) for sequence lengths len[b]: a
 * position is valid when t < len[b], whichever the direction (SPEC.md §2). `null` lengths mean
 * every position is valid.
 */
export function maskFromLengths(lengths: readonly number[] | null, T: number, B: number): Uint8Array {
  const mask = new Uint8Array(T * B);
  if (lengths === null) return mask.fill(1);
  checkLengths(lengths, T, B);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) mask[t * B + b] = t < lengths[b] ? 1 : 0;
  return mask;
}

export function checkLengths(lengths: readonly number[], T: number, B: number): void {
  if (lengths.length !== B) throw new RangeError(`expected ${B} sequence lengths (one per batch element), got ${lengths.length}`);
  for (const len of lengths) {
    if (!Number.isInteger(len) || len < 0 || len > T) throw new RangeError(`sequence length ${len} is outside [0, ${T}]`);
  }
}

/**
 * left = #{valid (t,b,j): x < low} / #{valid (t,b,j)}, right likewise with x > high;
 * leftPerUnit[j] = #{valid (t,b): x[t,b,j] < low} / #{valid (t,b)}. With no valid position every
 * fraction is 0. NaN is neither left- nor right-saturated.
 */
export function gateSaturation(
  values: Float32Array | Float64Array,
  dims: StepDims,
  mask: Uint8Array | null,
  low: number,
  high: number,
): SaturationStats {
  const [T, B, H] = dims;
  if (values.length !== T * B * H) throw new RangeError(`gate values hold ${values.length} numbers, dims [${T}, ${B}, ${H}] need ${T * B * H}`);
  if (mask !== null && mask.length !== T * B) throw new RangeError(`the mask holds ${mask.length} entries, [T·B] = ${T * B} expected`);
  // Branch-free counts (a comparison as 0/1): gate values sit on both sides of the thresholds
  // unpredictably, and a branch per value costs about 2.5× as much. Int32 counts are exact up to
  // 2³¹ − 1 steps·batch, far beyond any sequence an analysis can hold.
  const leftCount = new Int32Array(H);
  const rightCount = new Int32Array(H);
  let valid = 0;
  for (let tb = 0; tb < T * B; tb++) {
    if (mask !== null && mask[tb] === 0) continue;
    valid++;
    const base = tb * H;
    for (let j = 0; j < H; j++) {
      const x = values[base + j];
      leftCount[j] += ((x < low) as unknown as number) | 0;
      rightCount[j] += ((x > high) as unknown as number) | 0;
    }
  }
  if (valid === 0) {
    return { left: 0, right: 0, leftPerUnit: new Array<number>(H).fill(0), rightPerUnit: new Array<number>(H).fill(0) };
  }
  let leftTotal = 0;
  let rightTotal = 0;
  const leftPerUnit = new Array<number>(H);
  const rightPerUnit = new Array<number>(H);
  for (let j = 0; j < H; j++) {
    leftTotal += leftCount[j];
    rightTotal += rightCount[j];
    leftPerUnit[j] = leftCount[j] / valid;
    rightPerUnit[j] = rightCount[j] / valid;
  }
  const all = valid * H;
  return { left: H === 0 ? 0 : leftTotal / all, right: H === 0 ? 0 : rightTotal / all, leftPerUnit, rightPerUnit };
}

/**
 * The thresholds of a gate with activation `name` (SPEC v2 §9.2): sigmoid-valued gates (values in
 * (0, 1)) use LOW and HIGH; tanh-valued ones (−1, 1) map them through tanh(x) = 2σ(2x) − 1, i.e.
 * 2·LOW − 1 and 2·HIGH − 1 (−0.8 and 0.8 by default), scaled by α for ScaledTanh. Unbounded
 * activations (Relu, Affine, …) have no saturation in this sense: LOW/HIGH are applied as they
 * are and `bounded` says so.
 */
export function gateThresholds(name: string, alpha: number, low: number, high: number): { low: number; high: number; range: 'sigmoid' | 'tanh' | 'unbounded' } {
  switch (name) {
    case 'Sigmoid': case 'HardSigmoid': return { low, high, range: 'sigmoid' };
    case 'Tanh': case 'Softsign': return { low: 2 * low - 1, high: 2 * high - 1, range: 'tanh' };
    case 'ScaledTanh': return { low: alpha * (2 * low - 1), high: alpha * (2 * high - 1), range: 'tanh' };
    default: return { low, high, range: 'unbounded' };
  }
}

/** gateSaturation for every gate of a layer-direction (the `gates` map of the report). */
export function saturationMetrics(
  gates: Record<string, Tensor>,
  mask: Uint8Array | null,
  low: number,
  high: number,
): SaturationMetrics {
  const out: SaturationMetrics = { low, high, gates: {} };
  for (const [name, tensor] of Object.entries(gates)) {
    if (tensor.dims.length !== 3) throw new RangeError(`gate '${name}' has dims [${tensor.dims.join(', ')}], [T, B, H] expected`);
    out.gates[name] = gateSaturation(tensor.data, tensor.dims as unknown as StepDims, mask, low, high);
  }
  return out;
}
