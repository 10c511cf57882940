/**
 * The settings' words and the model's constraints on them, for the toolbar and the drawer (pure:
 * no DOM, unit-tested).
 */
import type { PanelSettings } from '../../src/protocol/panel';
import type { Report } from '../../src/report/types';
import { baseName } from './format';

/**
 * Sizes the model fixes: the sequence length and batch of the recurrent inputs when their
 * declared shape holds a number on the traced time/batch axis (the Sequence length and Batch
 * fields are then disabled, saying so).
 */
export function fixedSizes(report: Report): { seqLen?: { size: number; input: string }; batch?: { size: number; input: string } } {
  const out: ReturnType<typeof fixedSizes> = {};
  for (const gi of report.model.graphInputs) {
    const ax = report.input.axes?.[gi.name];
    if (!ax || !gi.shape) continue;
    const at = (axis: number | undefined) => (axis === undefined ? undefined : gi.shape![axis]);
    const t = at(ax.time);
    const b = at(ax.batch);
    if (typeof t === 'number' && !out.seqLen) out.seqLen = { size: t, input: gi.name };
    if (typeof b === 'number' && !out.batch) out.batch = { size: b, input: gi.name };
  }
  return out;
}

/** A one-line account of settings, for the toolbar ("T 32 · seed 0 · sum of y · Jacobian auto · CPU"). */
export function settingsSummary(s: PanelSettings): string {
  const parts = [
    s.calls !== undefined ? `${s.calls} calls` : '',
    s.seqLen !== undefined ? `T ${s.seqLen}` : '',
    s.batch !== undefined ? `B ${s.batch}` : '',
    `seed ${s.seed}`,
    `${s.objective}${s.output ? ` of ${s.output}` : ''}${s.objective === 'last' && s.timeAxis !== undefined ? ` (axis ${s.timeAxis})` : ''}`,
    `Jacobian ${s.jacobian}`,
    s.ep === 'auto' ? '' : s.ep.toUpperCase(),
    Object.keys(s.inputs).length ? `inputs: ${Object.entries(s.inputs).map(([k, v]) => `${k}=${baseName(v)}`).join(', ')}` : 'random inputs',
  ];
  return parts.filter(Boolean).join(' · ');
}

