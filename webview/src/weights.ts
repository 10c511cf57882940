/** Weight-gradient norms per gate block, for the bar chart (src/metrics/weightNorms.ts computes them). */
import type { DirectionReport, RecurrentOp, WeightGradNorms } from '../../src/report/types';
import { weightGradNorms } from '../../src/metrics/weightNorms';
import type { WeightBars } from './charts';

/** The report's per-gate norms; computed from the matrices for a report written before they were kept. */
function normsOf(op: RecurrentOp, H: number, d: DirectionReport): WeightGradNorms | undefined {
  return d.metrics.weightGradNorms ?? (d.weightGrads?.W.data.length ? weightGradNorms(op, H, d.weightGrads) : undefined);
}

export function weightGradBars(op: RecurrentOp, H: number, d: DirectionReport): WeightBars | undefined {
  const n = normsOf(op, H, d);
  if (!n) return undefined;
  const norms: WeightBars['norms'] = [
    { param: 'W', label: '‖dW‖ input', values: n.W },
    { param: 'R', label: '‖dR‖ recurrent', values: n.R },
    { param: 'B', label: '‖dB‖ bias', values: n.B },
  ];
  if (n.P) norms.push({ param: 'P', label: '‖dP‖ peephole', values: n.P.map((v) => v ?? NaN) });
  return { gates: [...n.gates], norms };
}

/** ‖all weight gradients‖ of this direction (its share of the clipping what-if's global norm). */
export function directionWeightNorm(op: RecurrentOp, H: number, d: DirectionReport): number | undefined {
  return normsOf(op, H, d)?.total;
}
