/**
 * Where NaN and ±∞ come from. A non-finite weight or input poisons every value downstream of it,
 * and a verdict drawn from such values means nothing; the report says which tensor is the first
 * culprit (an input, a weight, or — when every input and weight is finite — the first per-step
 * value that overflowed) so the user can fix the model or its inputs.
 */
import { printable } from '../onnx/files';
import { LoadedModel, tensorValues } from '../onnx/model';
import { DataType } from '../onnx/proto';
import type { DirectionReport, LayerReport, Tensor } from '../report/types';
import type { WireTensor } from '../runtime/protocol';
import type { RecurrentLayer } from './recurrent';

/** The index of the first NaN/±∞ in `data`, or −1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) return i; // NaN or ±∞
  }
  return -1;
}

/** firstNonFinite of weights, remembered: an analysis asks about each weight twice (the model's, then each layer's). */
const weightChecks = new WeakMap<Float64Array, number>();
function firstNonFiniteWeight(values: Float64Array): number {
  let i = weightChecks.get(values);
  if (i === undefined) weightChecks.set(values, (i = firstNonFinite(values)));
  return i;
}

function describeValue(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v > 0 ? '+∞' : '−∞';
}

/** Row-major index → "[i, j, k]" for a tensor of `dims`. */
function position(index: number, dims: number[]): string {
  if (dims.length === 0) return '';
  const out: number[] = [];
  let rest = index;
  for (let k = dims.length - 1; k >= 0; k--) {
    out.unshift(dims[k] > 0 ? rest % dims[k] : 0);
    rest = dims[k] > 0 ? Math.floor(rest / dims[k]) : 0;
  }
  return ` at [${out.join(', ')}]`;
}

/**
 * The first non-finite value among the model's float inputs (as fed) and weights (the
 * recurrent layers' W, R, B, P first, then every float initializer), as a phrase
 * ("weight 'R' holds NaN at [0, 3, 1]"), or undefined when all are finite.
 */
export function nonFiniteSource(model: LoadedModel, feeds: Record<string, WireTensor>, layers: RecurrentLayer[]): string | undefined {
  for (const [name, t] of Object.entries(feeds)) {
    if (t.type !== 'float32' && t.type !== 'float64') continue;
    const i = firstNonFinite(t.data as Float32Array);
    if (i >= 0) return `input '${printable(name)}' holds ${describeValue((t.data as Float32Array)[i])}${position(i, t.dims)}`;
  }
  const seen = new Set<string>();
  for (const layer of layers) {
    for (const w of [layer.W, layer.R, layer.B, layer.P]) {
      if (!w || seen.has(w.name)) continue;
      seen.add(w.name);
      const i = firstNonFiniteWeight(w.values);
      if (i >= 0) return `weight '${printable(w.name)}' of ${layer.op} '${printable(layer.name)}' holds ${describeValue(w.values[i])}${position(i, w.dims)}`;
    }
  }
  for (const t of model.proto.graph.initializer) {
    const name = t.name ?? '';
    if (seen.has(name) || (t.data_type !== DataType.FLOAT && t.data_type !== DataType.DOUBLE && t.data_type !== DataType.FLOAT16)) continue;
    const values = tensorValues(t, model.baseDir) as Float32Array;
    const i = firstNonFinite(values);
    if (i >= 0) return `weight '${printable(name)}' holds ${describeValue(values[i])}${position(i, (t.dims ?? []).map(Number))}`;
  }
  return undefined;
}

/**
 * The first non-finite value a layer's own computation starts from — its weights, its input
 * sequence X or its initial states — as a phrase, or undefined. A Jacobian computed from such
 * values means nothing, even where it came out finite (an infinite weight saturates a sigmoid).
 */
export function layerNonFiniteSource(layer: RecurrentLayer, tapped: { X?: WireTensor; initialH?: WireTensor; initialC?: WireTensor }): string | undefined {
  for (const w of [layer.W, layer.R, layer.B, layer.P]) {
    if (!w) continue;
    const i = firstNonFiniteWeight(w.values);
    if (i >= 0) return `weight '${printable(w.name)}' holds ${describeValue(w.values[i])}${position(i, w.dims)}`;
  }
  for (const [what, t] of [['input sequence X', tapped.X], ['initial_h', tapped.initialH], ['initial_c', tapped.initialC]] as const) {
    if (!t || (t.type !== 'float32' && t.type !== 'float64')) continue;
    const data = t.data as Float32Array;
    const i = firstNonFinite(data);
    if (i >= 0) return `its ${what} holds ${describeValue(data[i])}${position(i, t.dims)}`;
  }
  return undefined;
}

/** The largest |value| among the recurrent layers' weights, as a phrase (for overflow without a non-finite weight). */
export function largestWeight(layers: RecurrentLayer[]): string | undefined {
  let best: { name: string; value: number } | undefined;
  for (const layer of layers) {
    for (const w of [layer.W, layer.R, layer.B, layer.P]) {
      if (!w) continue;
      let m = 0;
      for (let i = 0; i < w.values.length; i++) m = Math.max(m, Math.abs(w.values[i]));
      if (!best || m > best.value) best = { name: w.name, value: m };
    }
  }
  return best ? `the largest |weight| is ${best.value.toExponential(2)} in '${printable(best.name)}'` : undefined;
}

/** Per-step tensors of a direction, by the name the report uses for them. */
function stepTensors(d: DirectionReport): [string, Tensor | undefined][] {
  return [
    ...Object.entries(d.gates).map(([g, t]): [string, Tensor] => [`gates.${g}`, t]),
    ['hidden', d.hidden], ['cell', d.cell], ['gradHidden', d.gradHidden], ['gradCell', d.gradCell],
    ['jacobianNorm.hidden', d.jacobianNorm?.hidden], ['jacobianNorm.cell', d.jacobianNorm?.cell],
  ];
}

export interface NonFiniteSummary {
  /** How many per-step values are NaN or ±∞. */
  count: number;
  /** The first one, as a phrase ("LSTM 'lstm' forward gates.forget at step 3"), if any. */
  first?: string;
  /** Per direction, the first of its forward values (gates, hidden, cell) holding NaN or ±∞, by name ("gates.forget"). */
  forward: Map<DirectionReport, string>;
}

/** Counts the non-finite per-step values of every layer-direction and graph output (one pass over each tensor). */
export function countNonFinite(layers: LayerReport[], outputs: Record<string, Tensor>): NonFiniteSummary {
  let count = 0;
  let first: string | undefined;
  const forward = new Map<DirectionReport, string>();
  const visit = (t: Tensor | undefined, where: () => string): boolean => {
    if (!t) return false;
    const data = t.data;
    let i0 = -1;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v - v !== 0) { count++; if (i0 < 0) i0 = i; }
    }
    if (i0 >= 0 && first === undefined) first = `${where()}${t.dims.length > 1 && t.dims[0] > 0 ? ` at step ${Math.floor(i0 / (data.length / t.dims[0]))}` : ''}`;
    return i0 >= 0;
  };
  for (const l of layers) {
    for (const d of l.directions) {
      const forwardCount = Object.keys(d.gates).length + 2; // the gates, hidden and cell come first
      stepTensors(d).forEach(([name, t], i) => {
        if (visit(t, () => `${l.op} '${printable(l.node)}' ${d.direction} ${name}`) && i < forwardCount && !forward.has(d)) forward.set(d, name);
      });
    }
  }
  for (const [name, t] of Object.entries(outputs)) visit(t, () => `output '${printable(name)}'`);
  return { count, first, forward };
}
