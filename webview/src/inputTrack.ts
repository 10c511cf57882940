/**
 * The input track under the gradient-flow chart (SPEC v2 §9.2 inputGrads): the model's input
 * sequence itself and |dL/dx_t| per step and feature, so the user sees which input events the
 * gradient reaches (in the adding problem: the two marked steps). Each graph input is brought to
 * [T, B, F] — its time axis first, its batch axis second, every other axis flattened into
 * features — from the axes the analysis traced (report.input.axes). Pure: no DOM.
 */
import { isPending } from '../../src/protocol/pieces';
import type { Report, Tensor } from '../../src/report/types';

export interface InputTrack {
  name: string;
  /** Float inputs: the values, [T, B, F]. */
  values?: Tensor;
  /** |dL/dx| (float inputs) or |dL/d embedding row| (token ids), [T, B, F]. */
  grad?: Tensor;
  /** Token ids per (t, b) for an embedding input, [T·B]. */
  ids?: ArrayLike<number>;
  /** True when the gradient is of the looked-up embedding rows (F = the embedding size). */
  embedding: boolean;
}

/**
 * `t` with axes permuted so that `time` comes first and `batch` second (absent: size 1), the
 * remaining axes flattened into the last: [T, B, F].
 */
export function timeMajor(t: Tensor, time: number, batch: number | undefined): Tensor {
  const dims = t.dims;
  const rank = dims.length;
  const rest = dims.map((_, i) => i).filter((i) => i !== time && i !== batch);
  const T = dims[time];
  const B = batch === undefined ? 1 : dims[batch];
  const F = rest.reduce((p, i) => p * dims[i], 1);
  const strides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) { strides[i] = s; s *= dims[i]; }
  const out = new Float64Array(T * B * F);
  const restDims = rest.map((i) => dims[i]);
  const restStrides = rest.map((i) => strides[i]);
  const idx = new Array<number>(rest.length).fill(0);
  for (let f = 0; f < F; f++) {
    let off = 0;
    for (let k = 0; k < rest.length; k++) off += idx[k] * restStrides[k];
    for (let tt = 0; tt < T; tt++) {
      for (let b = 0; b < B; b++) {
        out[(tt * B + b) * F + f] = Number(t.data[off + tt * strides[time] + (batch === undefined ? 0 : b * strides[batch])]);
      }
    }
    for (let k = rest.length - 1; k >= 0; k--) {
      if (++idx[k] < restDims[k]) break;
      idx[k] = 0;
    }
  }
  return { dims: [T, B, F], data: out };
}

/** One track per graph input with a traced time axis and a gradient or values to show. */
export function inputTracks(report: Report): InputTrack[] {
  const axes = report.input.axes ?? {};
  const perCall = new Set(report.input.perCall ?? []);
  const out: InputTrack[] = [];
  const names = new Set([...Object.keys(axes), ...perCall]);
  for (const name of names) {
    const ax = axes[name] ?? {};
    // A streaming input fed per call runs along the calls (and its own time axis within each call).
    const calls = perCall.has(name);
    if (ax.time === undefined && !calls) continue;
    const values = report.inputValues?.[name];
    const grad = report.inputGrads?.[name];
    if (!values && !grad) continue;
    // (A big result's second phase brings them: the track is drawn then.)
    if (isPending(values) || isPending(grad)) continue;
    // An embedding's gradient has one more axis (the rows' size) than its ids.
    const embedding = !!(values && grad && grad.dims.length === values.dims.length + 1);
    const major = (t: Tensor) => (calls ? callsMajor(t, ax.time, ax.batch) : timeMajor(t, ax.time!, ax.batch));
    const track: InputTrack = { name, embedding };
    if (values && !embedding) track.values = major(values);
    if (values && embedding) track.ids = major(values).data;
    if (grad) track.grad = major(grad);
    out.push(track);
  }
  return out;
}

/**
 * A per-call input [N, ...one call] as [N·T, B, F]: each call brought to [T, B, F] (`time`,
 * `batch`: axes of one call; without a time axis a call is one step), the calls one after another.
 */
export function callsMajor(t: Tensor, time: number | undefined, batch: number | undefined): Tensor {
  if (time === undefined) return timeMajor(t, 0, batch === undefined ? undefined : batch + 1);
  const N = t.dims[0];
  const callDims = t.dims.slice(1);
  const size = callDims.reduce((a, x) => a * x, 1);
  const parts = Array.from({ length: N }, (_, n) => timeMajor({ dims: callDims, data: t.data.subarray(n * size, (n + 1) * size) }, time, batch));
  const [T, B, F] = parts[0]?.dims ?? [0, 1, 1];
  const data = new Float64Array(N * T * B * F);
  parts.forEach((p, n) => data.set(p.data, n * T * B * F));
  return { dims: [N * T, B, F], data };
}
