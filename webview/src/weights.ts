/** Weight-gradient norms per gate block (SPEC.md §3 weightGrads: ONNX layout and gate order). */
import type { DirectionReport, RecurrentOp } from '../../src/report/types';
import type { WeightBars } from './charts';

/** Gate blocks of W, R and B in ONNX order: LSTM i, o, f, c; GRU z, r, h; RNN one. */
export const ONNX_GATE_ORDER: Record<RecurrentOp, readonly string[]> = {
  LSTM: ['input', 'output', 'forget', 'cell'],
  GRU: ['update', 'reset', 'hidden'],
  RNN: ['hidden'],
};

/** Peephole P [3H] is in order i, o, f. */
const PEEPHOLE_ORDER = ['input', 'output', 'forget'];

function blockNorm(data: ArrayLike<number>, start: number, length: number): number {
  let s = 0;
  for (let i = start; i < start + length; i++) s += data[i] * data[i];
  return s;
}

export function weightGradBars(op: RecurrentOp, H: number, d: DirectionReport): WeightBars | undefined {
  const wg = d.weightGrads;
  if (!wg) return undefined;
  const gates = ONNX_GATE_ORDER[op];
  const g = gates.length;
  const I = wg.W.dims[1] ?? (g * H > 0 ? wg.W.data.length / (g * H) : 0);
  const W = gates.map((_, k) => Math.sqrt(blockNorm(wg.W.data, k * H * I, H * I)));
  const R = gates.map((_, k) => Math.sqrt(blockNorm(wg.R.data, k * H * H, H * H)));
  // B = [Wb, Rb], each [g·H]: the gate's bias gradient is both halves' block together.
  const B = gates.map((_, k) => Math.sqrt(blockNorm(wg.B.data, k * H, H) + blockNorm(wg.B.data, g * H + k * H, H)));
  const norms: WeightBars['norms'] = [
    { param: 'W', label: '‖dW‖ input', values: W },
    { param: 'R', label: '‖dR‖ recurrent', values: R },
    { param: 'B', label: '‖dB‖ bias', values: B },
  ];
  if (wg.P) {
    const P = wg.P.data;
    norms.push({ param: 'P', label: '‖dP‖ peephole', values: gates.map((gate) => {
      const k = PEEPHOLE_ORDER.indexOf(gate);
      return k < 0 ? NaN : Math.sqrt(blockNorm(P, k * H, H));
    }) });
  }
  return { gates: [...gates], norms };
}

/** ‖all weight gradients‖ of this direction (its share of the clipping what-if's global norm). */
export function directionWeightNorm(d: DirectionReport): number | undefined {
  const wg = d.weightGrads;
  if (!wg) return undefined;
  let s = blockNorm(wg.W.data, 0, wg.W.data.length) + blockNorm(wg.R.data, 0, wg.R.data.length) + blockNorm(wg.B.data, 0, wg.B.data.length);
  if (wg.P) s += blockNorm(wg.P.data, 0, wg.P.data.length);
  return Math.sqrt(s);
}
