/**
 * Weight-gradient norms per gate block (SPEC.md §3 weightGrads: ONNX layout and gate order), kept
 * in the report's metrics so that a report without the full matrices (`--detail metrics`) still
 * draws the per-gate bars and the direction's share of the clipping what-if.
 */
import type { DirectionReport, RecurrentOp, WeightGradNorms } from '../report/types';

/** Gate blocks of W, R and B in ONNX order: LSTM i, o, f, c; GRU z, r, h; RNN one. */
export const ONNX_GATE_ORDER: Record<RecurrentOp, readonly string[]> = {
  LSTM: ['input', 'output', 'forget', 'cell'],
  GRU: ['update', 'reset', 'hidden'],
  RNN: ['hidden'],
};

/** Peephole P [3H] is in order i, o, f. */
const PEEPHOLE_ORDER = ['input', 'output', 'forget'];

function sumSquares(data: ArrayLike<number>, start: number, length: number): number {
  let s = 0;
  for (let i = start; i < start + length; i++) s += data[i] * data[i];
  return s;
}

/** ‖dW_g‖, ‖dR_g‖, ‖dB_g‖ (both bias halves), ‖dP_g‖ per gate g, and the direction's whole ‖dθ‖. */
export function weightGradNorms(op: RecurrentOp, H: number, wg: NonNullable<DirectionReport['weightGrads']>): WeightGradNorms {
  const gates = ONNX_GATE_ORDER[op];
  const g = gates.length;
  const I = wg.W.dims[1] ?? (g * H > 0 ? wg.W.data.length / (g * H) : 0);
  const W = gates.map((_, k) => Math.sqrt(sumSquares(wg.W.data, k * H * I, H * I)));
  const R = gates.map((_, k) => Math.sqrt(sumSquares(wg.R.data, k * H * H, H * H)));
  // B = [Wb, Rb], each [g·H]: the gate's bias gradient is both halves' block together.
  const B = gates.map((_, k) => Math.sqrt(sumSquares(wg.B.data, k * H, H) + sumSquares(wg.B.data, g * H + k * H, H)));
  let total = sumSquares(wg.W.data, 0, wg.W.data.length) + sumSquares(wg.R.data, 0, wg.R.data.length) + sumSquares(wg.B.data, 0, wg.B.data.length);
  const out: WeightGradNorms = { gates: [...gates], W, R, B, total: 0 };
  if (wg.P) {
    const P = wg.P.data;
    out.P = gates.map((gate) => {
      const k = PEEPHOLE_ORDER.indexOf(gate);
      return k < 0 ? null : Math.sqrt(sumSquares(P, k * H, H));
    });
    total += sumSquares(P, 0, P.length);
  }
  out.total = Math.sqrt(total);
  return out;
}
