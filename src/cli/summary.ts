/** The CLI's human summary: a few lines per layer-direction, the story first, numbers after. */
import * as path from 'path';
import { DirectionReport, LayerReport, Report, SaturationStats } from '../report/types';
import { flowLine, memoryStory, num, percent, stepUnit } from '../report/story';
import { printable as safe } from '../onnx/files';

function saturationPhrase(name: string, s: SaturationStats, low: number, high: number): string {
  return `${name} ${percent(s.right)} right-saturated (>${num(s.high ?? high)}), ${percent(s.left)} left (<${num(s.low ?? low)})`;
}

/** Retention in figures (the story's sentence says what they mean). */
function retentionFigures(d: DirectionReport): string | undefined {
  const ret = d.metrics.retention;
  if (!ret || !ret.meanForget.some(Number.isFinite)) return undefined;
  const finite = ret.horizon.filter((h, j): h is number => h !== null && Number.isFinite(ret.meanForget[j]));
  const sorted = [...finite].sort((x, y) => x - y);
  const median = sorted.length ? (sorted.length % 2 ? sorted[sorted.length >> 1] : (sorted[(sorted.length >> 1) - 1] + sorted[sorted.length >> 1]) / 2) : Infinity;
  const mean = ret.meanForget.reduce((x, y) => x + y, 0) / ret.meanForget.length;
  return `retention: mean forget ${num(mean)}, horizon τ = 1/(1−f̄) median ${Number.isFinite(median) ? num(median) : '∞'} steps`;
}

/** ‖dL/dh_t‖ (a state recurrence: ‖dL/ds_t‖) and ‖dL/dx_t‖ at the last and first steps. */
function gradientFigures(d: DirectionReport, layer: LayerReport): string[] {
  const unit = stepUnit(layer);
  const h = layer.op === 'state' ? 's' : 'h';
  const out: string[] = [];
  const ends = (g: number[]) => (d.direction === 'forward' ? [g[0], g[g.length - 1]] : [g[g.length - 1], g[0]]);
  const g = d.metrics.gradNorm;
  if (g && g.length > 1) {
    const [early, late] = ends(g);
    out.push(`‖dL/d${h}_t‖: ${num(late)} at the last ${unit}, ${num(early)} at the first${late > 0 ? ` (×${num(early / late, 2)})` : ''}`);
  }
  const x = d.metrics.inputGradNorm;
  if (x && x.length > 1) {
    let peak = 0;
    x.forEach((v, t) => { if (v > x[peak]) peak = t; });
    const [early, late] = ends(x);
    out.push(`‖dL/dX_t‖ into the layer's input: ${num(late)} at the last step, ${num(early)} at the first; largest at step ${peak} (${num(x[peak])})`);
  }
  return out;
}

/** The blocks' σ_max (Pascanu's condition on them is one of the memory story's sentences). */
function spectrumLine(d: DirectionReport): string {
  const s = d.metrics.spectrum;
  if (!s) return '';
  const blocks = s.gates.map((g) => `${g.gate} ${num(g.sigmaMax)}`).join(', ');
  return `recurrent spectrum σ_max(R): ${blocks}${s.gates.length > 1 ? ` (whole R ${num(s.sigmaMaxAll)})` : ''}`;
}

/** "LSTM '/lstm'", "state 'state' (an LSTM cell written with plain ops)". */
function layerTitle(layer: LayerReport): string {
  if (layer.op !== 'state') return `${layer.op} '${safe(layer.node)}'`;
  return `state '${safe(layer.node)}'${layer.cell ? ` (an ${layer.cell} cell written with plain ops)` : ' (carried state)'}`;
}

/** "80 (5 calls × 16 steps)", "12 (4 iterations × 3 steps)", "32 calls". */
function timeText(layer: LayerReport): string {
  const it = layer.iterations;
  if (!it) return String(layer.seqLen);
  const what = it.calls ? 'call' : 'iteration';
  if (it.steps === 1) return `${layer.seqLen} ${what}s`;
  return `${layer.seqLen} (${it.count} ${what}${it.count === 1 ? '' : 's'} × ${it.steps} steps)`;
}

export function formatSummary(report: Report): string {
  const out: string[] = [];
  const m = report.model;
  const sources = Object.entries(report.input.sources).map(([k, v]) => `${safe(k)} ${v === 'random' ? `random (seed ${report.input.seed})` : safe(v.replace(/^file:/, 'from ').replace(/^value:/, '= '))}`).join(', ');
  out.push(`${safe(path.basename(m.path))} — ${safe(m.producer || 'unknown producer')}, opset ${m.opset} · onnxruntime ${report.runtime.onnxruntime} on ${report.runtime.executionProvider.toUpperCase()}`);
  const calls = report.input.calls;
  out.push(`inputs: ${sources || 'none'}${report.input.perCall?.length ? ` (per call: ${report.input.perCall.map(safe).join(', ')})` : ''} · ${calls !== undefined
    ? `${calls} call${calls === 1 ? '' : 's'}, state ${(report.input.state ?? []).map((p) => `${safe(p.input)} → ${safe(p.output)}`).join(', ')}`
    : `T = ${report.input.seqLen}`}, B = ${report.input.batch}`);
  for (const layer of report.layers) {
    for (const d of layer.directions) {
      out.push('');
      const where = layer.path && layer.path.length > 1 ? ` (in ${layer.path.slice(0, -1).map(safe).join(' → ')})` : '';
      out.push(`${layerTitle(layer)}${where} ${d.direction} · H = ${layer.hiddenSize}${layer.op === 'state' ? '' : `, I = ${layer.inputSize}`}, T = ${timeText(layer)}, B = ${layer.batch}${layer.layout ? ', layout 1' : ''}`);
      const sat = d.metrics.saturation;
      if (d.metrics.nonFinite) {
        // Statistics of NaN/∞ values are no findings: say so once instead of printing them.
        if (d.metrics.decay) out.push(`  ${safe(flowLine(layer, d))}`);
        for (const sentence of memoryStory(layer, d)) out.push(`  ${safe(sentence)}`);
        if (d.metrics.spectrum) out.push(`  ${spectrumLine(d)}`);
        continue;
      }
      out.push(`  ${safe(flowLine(layer, d))}`);
      for (const line of gradientFigures(d, layer)) out.push(`  ${line}`);
      for (const sentence of memoryStory(layer, d)) out.push(`  ${safe(sentence)}`);
      const figures = retentionFigures(d);
      if (figures) out.push(`  ${figures}`);
      if (layer.op === 'LSTM') {
        out.push(`  other gates: ${['input', 'output'].filter((g) => sat.gates[g]).map((g) => saturationPhrase(g, sat.gates[g], sat.low, sat.high)).join('; ')}`);
      } else if (layer.op === 'GRU' && sat.gates.reset) {
        out.push(`  reset gates: ${saturationPhrase('', sat.gates.reset, sat.low, sat.high).trim()}`);
      }
      if (d.metrics.spectrum) out.push(`  ${spectrumLine(d)}`);
    }
  }
  out.push('');
  if (report.objective) {
    const o = report.objective;
    out.push(`objective: ${o.kind} of '${safe(o.output)}'${o.timeAxis !== undefined ? ` (time axis ${o.timeAxis})` : ''} = ${o.value === null ? 'n/a' : num(o.value, 4)}`);
  }
  // (State recurrences have no weight gradients: without op layers there is nothing to clip.)
  if (report.clipping && report.layers.some((l) => l.directions.some((d) => d.weightGrads || d.metrics.weightGradNorms))) {
    const c = report.clipping;
    out.push(Number.isFinite(c.globalNorm)
      ? `clipping what-if: global weight-gradient norm ${num(c.globalNorm)}; ${Object.entries(c.factors).map(([th, f]) => `clip at ${th} scales by ${f === null ? 'n/a' : num(f, 2)}`).join(', ')}`
      : `clipping what-if: n/a — the global weight-gradient norm is ${Number.isNaN(c.globalNorm) ? 'NaN' : 'infinite'}, so no clipping factor is meaningful`);
  }
  const inputs = Object.entries(report.inputGrads ?? {});
  const l2 = (x: ArrayLike<number>) => { let q = 0; for (let i = 0; i < x.length; i++) q += x[i] * x[i]; return Math.sqrt(q); };
  if (inputs.length) out.push(`input gradients: ${inputs.map(([name, t]) => `‖dL/d${safe(name)}‖ = ${num(l2(t.data))}`).join(', ')}`);
  for (const n of report.notes ?? []) out.push(`note: ${safe(n)}`);
  for (const w of report.warnings) out.push(`warning: ${safe(w)}`);
  const t = report.runtime.timingsMs;
  out.push(`timings: load ${t.load.toFixed(0)} ms, build ${t.build.toFixed(0)} ms, run ${t.run.toFixed(0)} ms, metrics ${t.metrics.toFixed(0)} ms, total ${t.total.toFixed(0)} ms`);
  return out.join('\n');
}
