/**
 * How a layer's time axis is labelled. Most layers count steps t; a layer inside a Loop/Scan
 * body or a streaming model runs `steps` steps per iteration (call), concatenated — its charts
 * say which call (and which step within it) a point is.
 */
import type { LayerReport } from '../../src/report/types';

export interface TimeAxis {
  /** What one iteration is called, when the steps come from iterations. */
  per?: 'call' | 'iteration';
  /** Steps per iteration (1: one step per call). */
  steps: number;
}

export function timeAxisOf(layer: Pick<LayerReport, 'iterations'>): TimeAxis {
  const it = layer.iterations;
  return it ? { per: it.calls ? 'call' : 'iteration', steps: it.steps } : { steps: 1 };
}

/** The axis name: "time step t", "call", "call · step within it", "iteration · step within it". */
export function timeAxisName(a: TimeAxis): string {
  if (!a.per) return 'time step t';
  return a.steps === 1 ? a.per : `${a.per} (${a.steps} steps each)`;
}

/** Tick labels at whole steps: t, the call number, or the call number at each call's first step. */
export function timeTick(a: TimeAxis): (v: number) => string {
  return (v: number) => {
    const whole = Math.abs(v - Math.round(v)) < 1e-6;
    if (!a.per || a.steps === 1) return whole ? String(Math.round(v)) : '';
    // Grouped steps: ticks sit on the boundaries between calls (t − ½, the axis starts at −½), labelled with the call that begins there.
    const boundary = Math.abs(v + 0.5 - Math.round(v + 0.5)) < 1e-6;
    const t = whole ? Math.round(v) : boundary ? Math.round(v + 0.5) : NaN;
    return Number.isFinite(t) && t % a.steps === 0 ? String(t / a.steps) : '';
  };
}

/** A point's place in words: "t = 40", "call 12", "call 3, step 5 (t = 53)". */
export function timeTitle(a: TimeAxis, t: number): string {
  if (!a.per) return `t = ${t}`;
  if (a.steps === 1) return `${a.per} ${t}`;
  return `${a.per} ${Math.floor(t / a.steps)}, step ${t % a.steps} (t = ${t})`;
}

/**
 * Tick spacing for a time axis of T steps: for steps grouped in calls/iterations, ticks at the
 * first step of every k-th call (k chosen for about 8 ticks); otherwise ECharts' own (undefined).
 */
export function timeInterval(a: TimeAxis, T: number): number | undefined {
  if (!a.per || a.steps === 1) return undefined;
  const groups = Math.max(1, Math.round(T / a.steps));
  const raw = groups / 8;
  const pow = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  const k = [1, 2, 5, 10].map((m) => m * pow).find((m) => m >= raw) ?? 10 * pow;
  return a.steps * Math.max(1, k);
}
