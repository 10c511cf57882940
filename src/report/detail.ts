/**
 * `--detail metrics` (SPEC.md §6, extended by the long-sequence work): the report without its bulk
 * tensors, which grow with T·H and which neither the verdicts nor the flow chart read. Kept: every
 * metric, the Jacobian norms, per-step gradient norms, the weight gradients' norms per gate
 * (metrics.weightGradNorms); left out, and listed in `omitted`: the per-step tensors of every
 * layer-direction, the full weight-gradient matrices, model outputs of more than SMALL_OUTPUT_VALUES values (a
 * per-step Y; a prediction stays), the inputs fed and their gradients.
 */
import type { Report } from './types';

/** The per-step [T, B, H] tensors of a layer-direction. */
export const PER_STEP_KEYS: readonly string[] = ['gates', 'hidden', 'cell', 'gradHidden', 'gradCell'];
/** Per-direction keys `metrics` leaves out: the per-step tensors and the full weight-gradient matrices. */
export const DIRECTION_BULK_KEYS: readonly string[] = [...PER_STEP_KEYS, 'weightGrads'];
/** Model outputs up to this many values (a prediction, a final state) stay in a metrics report; bigger ones (a per-step Y) are left out. */
export const SMALL_OUTPUT_VALUES = 4096;

/** Where the left-out data is when a page could not hold it at all (htmlReport.ts). */
export const OMITTED_TOO_BIG_HOW = 'the per-step data is more than one HTML page can hold; the JSON report has all of it (--json, or in the editor Export → JSON)';
export const OMITTED_HOW = 'run the analysis again with --detail full (the default), or in the editor export the full report';

/** The report without its bulk tensors, saying what was left out and how to get it. Shares the kept arrays (no copies). */
export function metricsOnly(report: Report, how: string = OMITTED_HOW): Report {
  if (report.omitted) return report;
  const { inputValues: _values, inputGrads: _grads, ...rest } = report;
  const outputs = Object.fromEntries(Object.entries(report.outputs).filter(([, t]) => t.data.length <= SMALL_OUTPUT_VALUES));
  const bigOutputs = Object.keys(report.outputs).filter((k) => !(k in outputs));
  const fields = [
    ...(bigOutputs.length ? [`outputs ${bigOutputs.map((k) => `'${k}'`).join(', ')} (model outputs of more than ${SMALL_OUTPUT_VALUES} values)`] : []),
    ...(report.inputValues ? ['inputValues (the inputs fed)'] : []),
    ...(report.inputGrads ? ['inputGrads (dL/dx of every input)'] : []),
    'layers[].directions[].gates, hidden, cell, gradHidden, gradCell (the per-step tensors: no heatmaps)',
    ...(report.layers.some((l) => l.directions.some((d) => d.weightGrads))
      ? ['layers[].directions[].weightGrads (the full matrices; their norms per gate are kept in metrics.weightGradNorms)'] : []),
  ];
  return {
    ...rest,
    outputs,
    layers: report.layers.map((l) => ({
      ...l,
      directions: l.directions.map((d) => {
        const kept = { ...d } as Record<string, unknown>;
        for (const k of DIRECTION_BULK_KEYS) delete kept[k];
        return kept as unknown as typeof d;
      }),
    })),
    omitted: { detail: 'metrics', fields, how },
  };
}
