/**
 * Forward references in float64 JavaScript for the ops onnxruntime has no float64 kernel for
 * (vjpRules.test.ts checks each against onnxruntime's float32 kernel before using it for finite
 * differences). Written as plain loops straight from the op definitions, independent of the
 * rules' index machinery.
 */
import { AttrValue } from '../../src/onnx/attributes';

export interface RefTensor { dims: number[]; data: ArrayLike<number | bigint> }
export interface RefOut { dims: number[]; data: Float64Array }
export type Reference = (inputs: (RefTensor | undefined)[], attrs: Record<string, AttrValue>, opset: number) => RefOut[];

const numel = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);
const f64 = (t: RefTensor): Float64Array => Float64Array.from(t.data as ArrayLike<number>);

function ints(attrs: Record<string, AttrValue>, name: string): number[] | undefined {
  const v = attrs[name];
  return Array.isArray(v) && v.length > 0 ? (v as number[]) : undefined;
}
function int(attrs: Record<string, AttrValue>, name: string, fallback: number): number {
  const v = attrs[name];
  return typeof v === 'number' ? v : fallback;
}
function float(attrs: Record<string, AttrValue>, name: string, fallback: number): number {
  const v = attrs[name];
  return v && typeof v === 'object' && 'float' in v ? v.float : fallback;
}
function str(attrs: Record<string, AttrValue>, name: string, fallback: string): string {
  const v = attrs[name];
  return typeof v === 'string' ? v : fallback;
}

/** Calls fn(multiIndex, flat) for every multi-index of dims, row-major. */
function each(dims: number[], fn: (idx: number[], flat: number) => void): void {
  const n = numel(dims);
  const idx = dims.map(() => 0);
  for (let f = 0; f < n; f++) {
    fn(idx, f);
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
}

/** Row-major flat offset of idx in dims, or −1 when outside. */
function offset(idx: number[], dims: number[]): number {
  let f = 0;
  for (let d = 0; d < dims.length; d++) {
    if (idx[d] < 0 || idx[d] >= dims[d]) return -1;
    f = f * dims[d] + idx[d];
  }
  return f;
}

/** Pads [begin…, end…] of a Conv/pool node as onnxruntime derives them (auto_pad or explicit). */
function convPads(attrs: Record<string, AttrValue>, inDims: number[], kernel: number[], strides: number[]): number[] {
  const r = inDims.length;
  const autoPad = str(attrs, 'auto_pad', 'NOTSET');
  if (autoPad === 'VALID') return new Array<number>(2 * r).fill(0);
  if (autoPad.startsWith('SAME')) {
    const begin = inDims.map((n, d) => {
      const need = Math.max(0, (Math.ceil(n / strides[d]) - 1) * strides[d] + kernel[d] - n);
      return autoPad === 'SAME_LOWER' ? Math.ceil(need / 2) : Math.floor(need / 2);
    });
    const end = inDims.map((n, d) => Math.max(0, (Math.ceil(n / strides[d]) - 1) * strides[d] + kernel[d] - n) - begin[d]);
    return [...begin, ...end];
  }
  return ints(attrs, 'pads') ?? new Array<number>(2 * r).fill(0);
}

/** Output size of a window op: ⌊(in + pads − dil·(k − 1) − 1)/s⌋ + 1, or with ceil_mode ⌈…⌉ + 1 unless that window would start past the input. */
function windowOut(inSize: number, k: number, s: number, dil: number, pb: number, pe: number, ceil: boolean): number {
  const num = inSize + pb + pe - dil * (k - 1) - 1;
  if (!ceil) return Math.floor(num / s) + 1;
  let out = Math.ceil(num / s) + 1;
  if ((out - 1) * s >= inSize + pb) out--;
  return out;
}

export const conv: Reference = ([x, w, bias], attrs) => {
  const X = f64(x!);
  const W = f64(w!);
  const [N, C, ...inDims] = x!.dims;
  const [M, Cg, ...kernel] = w!.dims;
  const r = inDims.length;
  const G = int(attrs, 'group', 1);
  const strides = ints(attrs, 'strides') ?? new Array<number>(r).fill(1);
  const dil = ints(attrs, 'dilations') ?? new Array<number>(r).fill(1);
  const pads = convPads(attrs, inDims, kernel, strides);
  const outDims = inDims.map((n, d) => windowOut(n, kernel[d], strides[d], dil[d], pads[d], pads[d + r], false));
  const Y = new Float64Array(N * M * numel(outDims));
  const Mg = M / G;
  const B = bias ? f64(bias) : undefined;
  let yi = 0;
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      const g = Math.floor(m / Mg);
      each(outDims, (o) => {
        let acc = B ? B[m] : 0;
        for (let c = 0; c < Cg; c++) {
          each(kernel, (k, kf) => {
            const p = offset(o.map((od, d) => od * strides[d] + k[d] * dil[d] - pads[d]), inDims);
            if (p >= 0) acc += W[(m * Cg + c) * numel(kernel) + kf] * X[(n * C + g * Cg + c) * numel(inDims) + p];
          });
        }
        Y[yi++] = acc;
      });
    }
  }
  return [{ dims: [N, M, ...outDims], data: Y }];
};

export const convTranspose: Reference = ([x, w, bias], attrs) => {
  const X = f64(x!);
  const W = f64(w!);
  const [N, C, ...inDims] = x!.dims;
  const [, Mg, ...kernel] = w!.dims;
  const r = inDims.length;
  const G = int(attrs, 'group', 1);
  const M = Mg * G;
  const Cg = C / G;
  const strides = ints(attrs, 'strides') ?? new Array<number>(r).fill(1);
  const dil = ints(attrs, 'dilations') ?? new Array<number>(r).fill(1);
  const adj = ints(attrs, 'output_padding') ?? new Array<number>(r).fill(0);
  const autoPad = str(attrs, 'auto_pad', 'NOTSET');
  const outputShape = ints(attrs, 'output_shape');
  const full = inDims.map((n, d) => (n - 1) * strides[d] + adj[d] + (kernel[d] - 1) * dil[d] + 1);
  let begin: number[];
  let outDims: number[];
  if (outputShape || autoPad.startsWith('SAME')) {
    outDims = outputShape ? outputShape.slice(-r) : inDims.map((n, d) => n * strides[d]);
    begin = full.map((f, d) => {
      const total = Math.max(0, f - outDims[d]);
      return autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
    });
  } else {
    const pads = autoPad === 'VALID' ? new Array<number>(2 * r).fill(0) : ints(attrs, 'pads') ?? new Array<number>(2 * r).fill(0);
    begin = pads.slice(0, r);
    outDims = full.map((f, d) => f - pads[d] - pads[d + r]);
  }
  const So = numel(outDims);
  const Y = new Float64Array(N * M * So);
  if (bias) {
    const B = f64(bias);
    for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) Y.fill(B[m], (n * M + m) * So, (n * M + m + 1) * So);
  }
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg);
      each(inDims, (i, iF) => {
        const xv = X[(n * C + c) * numel(inDims) + iF];
        for (let m = 0; m < Mg; m++) {
          each(kernel, (k, kf) => {
            const o = offset(i.map((id, d) => id * strides[d] + k[d] * dil[d] - begin[d]), outDims);
            if (o >= 0) Y[(n * M + g * Mg + m) * So + o] += xv * W[(c * Mg + m) * numel(kernel) + kf];
          });
        }
      });
    }
  }
  return [{ dims: [N, M, ...outDims], data: Y }];
};

export const averagePool: Reference = ([x], attrs) => {
  const X = f64(x!);
  const [N, C, ...inDims] = x!.dims;
  const r = inDims.length;
  const kernel = ints(attrs, 'kernel_shape')!;
  const strides = ints(attrs, 'strides') ?? new Array<number>(r).fill(1);
  const dil = ints(attrs, 'dilations') ?? new Array<number>(r).fill(1);
  const pads = convPads(attrs, inDims, kernel, strides);
  const ceil = int(attrs, 'ceil_mode', 0) === 1;
  const includePad = int(attrs, 'count_include_pad', 0) === 1;
  const outDims = inDims.map((n, d) => windowOut(n, kernel[d], strides[d], dil[d], pads[d], pads[d + r], ceil));
  const Y = new Float64Array(N * C * numel(outDims));
  let yi = 0;
  for (let nc = 0; nc < N * C; nc++) {
    each(outDims, (o) => {
      let sum = 0;
      let inside = 0;
      let counted = 0;
      each(kernel, (k) => {
        const pos = o.map((od, d) => od * strides[d] + k[d] * dil[d] - pads[d]);
        const p = offset(pos, inDims);
        if (p >= 0) { sum += X[nc * numel(inDims) + p]; inside++; }
        // count_include_pad: taps before the end of the padded input count.
        if (pos.every((pd, d) => pd < inDims[d] + pads[d + r])) counted++;
      });
      const n = includePad ? counted : inside;
      Y[yi++] = inside > 0 ? sum / n : 0;
    });
  }
  return [{ dims: [N, C, ...outDims], data: Y }];
};

export const globalAveragePool: Reference = ([x]) => {
  const X = f64(x!);
  const [N, C, ...sp] = x!.dims;
  const S = numel(sp);
  const Y = new Float64Array(N * C);
  for (let i = 0; i < N * C; i++) { let s = 0; for (let j = 0; j < S; j++) s += X[i * S + j]; Y[i] = s / S; }
  return [{ dims: [N, C, ...sp.map(() => 1)], data: Y }];
};

export const globalMaxPool: Reference = ([x]) => {
  const X = f64(x!);
  const [N, C, ...sp] = x!.dims;
  const S = numel(sp);
  const Y = new Float64Array(N * C);
  for (let i = 0; i < N * C; i++) { let m = -Infinity; for (let j = 0; j < S; j++) m = Math.max(m, X[i * S + j]); Y[i] = m; }
  return [{ dims: [N, C, ...sp.map(() => 1)], data: Y }];
};

/**
 * erf by its Maclaurin series 2/√π·Σ (−1)ⁿ x^(2n+1) / (n!(2n+1)), summed until the terms stop
 * mattering; for |x| ≤ 3 the largest term is < 3·10³, so the result keeps ≈ 1e-13 absolute
 * accuracy, and its error is smooth (no branch), so it does not disturb finite differences.
 */
export function erf(x: number): number {
  if (Math.abs(x) > 3) throw new Error(`erf reference used outside |x| ≤ 3 (x = ${x})`);
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= -x * x / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return sum * 2 / Math.sqrt(Math.PI);
}

function elementwise(f: (x: number, attrs: Record<string, AttrValue>) => number): Reference {
  return ([x], attrs) => [{ dims: x!.dims, data: f64(x!).map((v) => f(v, attrs)) }];
}

export const erfRef = elementwise((x) => erf(x));
export const geluNone = elementwise((x) => 0.5 * x * (1 + erf(x / Math.SQRT2)));
export const softplus = elementwise((x) => Math.log1p(Math.exp(x)));
export const softsign = elementwise((x) => x / (1 + Math.abs(x)));
export const hardSigmoid = elementwise((x, a) => Math.max(0, Math.min(1, float(a, 'alpha', 0.2) * x + float(a, 'beta', 0.5))));
export const hardSwish = elementwise((x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)));
export const selu = elementwise((x, a) => {
  const alpha = float(a, 'alpha', 1.67326319217681884765625);
  const gamma = float(a, 'gamma', 1.05070102214813232421875);
  return x > 0 ? gamma * x : gamma * alpha * (Math.exp(x) - 1);
});

/** PRelu with the slope broadcast to X (numpy, unidirectional). */
export const prelu: Reference = ([x, slope]) => {
  const X = f64(x!);
  const S = f64(slope!);
  const lead = x!.dims.length - slope!.dims.length;
  const Y = new Float64Array(X.length);
  each(x!.dims, (idx, f) => {
    let sf = 0;
    slope!.dims.forEach((d, i) => { sf = sf * d + (d === 1 ? 0 : idx[i + lead]); });
    Y[f] = X[f] > 0 ? X[f] : S[sf] * X[f];
  });
  return [{ dims: x!.dims, data: Y }];
};
