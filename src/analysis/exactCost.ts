/**
 * What switching a probes analysis to the exact Jacobian would cost, said before it starts (the
 * panel's "Compute exactly (≈ 2.3 s)"). The backward recurrence carries one adjoint row for the
 * objective plus one per seed (an LSTM seeds h and c: two per probe or unit); exact has one
 * seed per hidden unit (each spanning the whole batch), probes one per probe. The per-step product with R grows from a matrix–vector to a matrix–matrix product, so
 * its cost grows less than linearly in the rows. Measured from probes:8 to exact on 2 cores
 * (LSTM H = 128, 256; GRU H = 64, 256; RNN H = 256; T = 500…1000), scaling this run's native time
 * by (rows_exact / rows_now)^0.65 gave 0.83–1.13× the actual time for LSTM and GRU and 1.66× for
 * the RNN (whose fixed per-step costs weigh more): "about", within a factor of two.
 * Pure arithmetic on the report: usable in the panel, the CLI and tests.
 */
import type { Report } from '../report/types';

export const ROW_COST_EXPONENT = 0.65;

export interface ExactEstimate {
  /** Estimated whole analysis with the exact Jacobian, in ms. */
  ms: number;
  /** Adjoint rows per step now and with exact (the layer-direction where the ratio is largest). */
  rowsNow: number;
  rowsExact: number;
}

/** The estimate for a report whose Jacobian was estimated with probes; undefined otherwise. */
export function exactEstimate(report: Report): ExactEstimate | undefined {
  let best: { factor: number; rowsNow: number; rowsExact: number } | undefined;
  for (const layer of report.layers) {
    for (const d of layer.directions) {
      const j = d.jacobianNorm;
      if (!j || j.method !== 'probes' || !j.probes) continue;
      const perSeed = j.cell ? 2 : 1;
      const rowsNow = 1 + perSeed * j.probes;
      // Exact seeds one row per hidden unit (each spans the whole batch), as probes do per probe.
      const rowsExact = 1 + perSeed * layer.hiddenSize;
      const factor = (rowsExact / rowsNow) ** ROW_COST_EXPONENT;
      if (!best || factor > best.factor) best = { factor, rowsNow, rowsExact };
    }
  }
  if (!best) return undefined;
  const t = report.runtime.timingsMs;
  return { ms: t.total + t.run * Math.max(0, best.factor - 1), rowsNow: best.rowsNow, rowsExact: best.rowsExact };
}

/**
 * The estimate for re-running several reports (a comparison panel re-runs all its models) with the
 * exact Jacobian: their estimates added, a report without probes counted at its own time; rows
 * from the largest ratio. Undefined when none used probes.
 */
export function exactEstimateAll(reports: Report[]): ExactEstimate | undefined {
  const each = reports.map(exactEstimate);
  const worst = each.reduce<ExactEstimate | undefined>((a, e) => (e && (!a || e.rowsExact / e.rowsNow > a.rowsExact / a.rowsNow) ? e : a), undefined);
  if (!worst) return undefined;
  const ms = each.reduce((n, e, i) => n + (e ? e.ms : reports[i].runtime.timingsMs.total), 0);
  return { ms, rowsNow: worst.rowsNow, rowsExact: worst.rowsExact };
}

/** "2.3 s", "40 s", "3 min" — how long, roughly. */
export function roughDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0.1, Math.round(ms / 100) / 10)} s`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}
