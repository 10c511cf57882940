/** The CLI's human summary: a few lines per layer-direction, the story first, numbers after. */
import * as path from 'path';
import { DirectionReport, LayerReport, Report, SaturationStats } from '../report/types';
import { printable as safe } from '../onnx/files';

const pct = (x: number) => `${(100 * x).toFixed(x < 0.001 && x > 0 ? 2 : 1)}%`;
const num = (x: number, digits = 3) => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toPrecision(digits));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function saturationPhrase(name: string, s: SaturationStats, low: number, high: number): string {
  return `${name} ${pct(s.right)} right-saturated (>${high}), ${pct(s.left)} left (<${low})`;
}

function forgetStory(d: DirectionReport, seqLen: number): string[] {
  const sat = d.metrics.saturation;
  const f = sat.gates.forget;
  const ret = d.metrics.retention;
  const lines = [`forget gates: ${pct(f.right)} right-saturated (>${sat.high}: long-memory cells), ${pct(f.left)} left-saturated (<${sat.low}: reset every step)`];
  if (ret && !ret.meanForget.some(Number.isFinite)) {
    lines.push('retention: n/a — the forget gates are NaN or infinite');
  } else if (ret) {
    const finite = ret.horizon.filter((h): h is number => h !== null);
    const long = ret.horizon.filter((h, j) => Number.isFinite(ret.meanForget[j]) && (h === null || h >= seqLen)).length;
    const H = ret.horizon.length;
    lines.push(`retention: mean forget ${num(ret.meanForget.reduce((a, b) => a + b, 0) / H)}, horizon τ = 1/(1−f̄) median ${finite.length ? num(median(finite)) : '∞'} steps; ${long}/${H} units remember ≥ T = ${seqLen} steps`);
    // At the direction's last step (T−1 forward, 0 reverse) cellHighway = √(B·H) (empty products);
    // the ratio says how much of the additive path survives all T steps.
    const n = ret.cellHighway.length;
    const [atFirst, atLast] = d.direction === 'forward' ? [ret.cellHighway[0], ret.cellHighway[n - 1]] : [ret.cellHighway[n - 1], ret.cellHighway[0]];
    lines.push(`cell highway ‖∏f‖ across all ${seqLen} steps: ${num(atFirst)}, ${pct(atLast > 0 ? atFirst / atLast : 0)} of its value at the last step`);
  }
  return lines;
}

/** "vanishing, ρ = 0.81 per step, half-life 3.3 steps, reach 31 steps" and the gradient's own decay. */
function gradientStory(d: DirectionReport, seqLen: number): string[] {
  const out: string[] = [];
  const decay = d.metrics.decay;
  if (decay) {
    const method = d.jacobianNorm?.method === 'probes' ? ` (estimated, ${d.jacobianNorm.probes} probes)` : '';
    if (decay.verdict === 'n/a' || decay.verdict === 'invalid') {
      out.push(`${decay.verdict}: no verdict — ${decay.reason ?? 'too little data'}`);
    } else {
      const rho = decay.rho === null ? 'ρ n/a' : `ρ = ${num(decay.rho)} per step`;
      out.push(`${decay.verdict}: ${rho}, ${decay.halfLife !== null ? `half-life ${num(decay.halfLife, 2)} steps, ` : ''}reach ${decay.reach === null ? `beyond T = ${seqLen}` : `${decay.reach} steps`}${method}`);
    }
  }
  const g = d.metrics.gradNorm;
  if (g && g.length > 1) {
    const [early, late] = d.direction === 'forward' ? [g[0], g[g.length - 1]] : [g[g.length - 1], g[0]];
    out.push(`‖dL/dh_t‖: ${num(late)} at the last step, ${num(early)} at the first${late > 0 ? ` (×${num(early / late, 2)})` : ''}`);
  }
  return out;
}

function spectrumLine(d: DirectionReport, op: LayerReport['op']): string {
  const s = d.metrics.spectrum;
  const blocks = s.gates.map((g) => `${g.gate} ${num(g.sigmaMax)}`).join(', ');
  let line = `recurrent spectrum σ_max(R): ${blocks}${s.gates.length > 1 ? ` (whole R ${num(s.sigmaMaxAll)})` : ''}`;
  if (op !== 'LSTM') {
    const key = s.gates.find((g) => g.gate === 'hidden') ?? s.gates[0];
    if (key && key.gamma !== null) {
      const bound = 1 / key.gamma;
      line += key.sufficientForVanishing
        ? `; σ_max < 1/γ = ${num(bound)} (${key.activation}): gradients must vanish (Pascanu et al. 2013)`
        : `; σ_max > 1/γ = ${num(bound)} (${key.activation}): explosion is possible, vanishing not guaranteed`;
    }
  }
  return line;
}

export function formatSummary(report: Report): string {
  const out: string[] = [];
  const m = report.model;
  const sources = Object.entries(report.input.sources).map(([k, v]) => `${safe(k)} ${v === 'random' ? `random (seed ${report.input.seed})` : safe(v.replace(/^file:/, 'from '))}`).join(', ');
  out.push(`${safe(path.basename(m.path))} — ${safe(m.producer || 'unknown producer')}, opset ${m.opset} · onnxruntime ${report.runtime.onnxruntime} on ${report.runtime.executionProvider.toUpperCase()}`);
  out.push(`inputs: ${sources || 'none'} · T = ${report.input.seqLen}, B = ${report.input.batch}`);
  for (const layer of report.layers) {
    for (const d of layer.directions) {
      out.push('');
      out.push(`${layer.op} '${safe(layer.node)}' ${d.direction} · H = ${layer.hiddenSize}, I = ${layer.inputSize}, T = ${layer.seqLen}, B = ${layer.batch}${layer.layout ? ', layout 1' : ''}`);
      const sat = d.metrics.saturation;
      if (d.metrics.nonFinite) {
        // Statistics of NaN/∞ values are no findings: say so once instead of printing them.
        if (d.metrics.decay) out.push(`  ${d.metrics.decay.verdict}: no verdict — ${safe(d.metrics.decay.reason ?? '')}`);
        out.push(`  gradients, gates and retention: n/a — ${safe(d.metrics.nonFinite)}`);
        out.push(`  ${spectrumLine(d, layer.op)}`);
        continue;
      }
      for (const line of gradientStory(d, layer.seqLen)) out.push(`  ${safe(line)}`);
      if (layer.op === 'LSTM') {
        for (const line of forgetStory(d, layer.seqLen)) out.push(`  ${line}`);
        out.push(`  other gates: ${['input', 'output'].map((g) => saturationPhrase(g, sat.gates[g], sat.low, sat.high)).join('; ')}`);
      } else if (layer.op === 'GRU') {
        const z = sat.gates.update;
        out.push(`  update gates: ${pct(z.right)} right-saturated (>${sat.high}: state copied through, long memory), ${pct(z.left)} left-saturated (<${sat.low}: state overwritten)`);
        out.push(`  reset gates: ${saturationPhrase('', sat.gates.reset, sat.low, sat.high).trim()}`);
      }
      out.push(`  ${spectrumLine(d, layer.op)}`);
    }
  }
  out.push('');
  if (report.objective) {
    const o = report.objective;
    out.push(`objective: ${o.kind} of '${safe(o.output)}'${o.timeAxis !== undefined ? ` (time axis ${o.timeAxis})` : ''} = ${o.value === null ? 'n/a' : num(o.value, 4)}`);
  }
  if (report.clipping) {
    const c = report.clipping;
    out.push(Number.isFinite(c.globalNorm)
      ? `clipping what-if: global weight-gradient norm ${num(c.globalNorm)}; ${Object.entries(c.factors).map(([th, f]) => `clip at ${th} scales by ${f === null ? 'n/a' : num(f, 2)}`).join(', ')}`
      : `clipping what-if: n/a — the global weight-gradient norm is ${Number.isNaN(c.globalNorm) ? 'NaN' : 'infinite'}, so no clipping factor is meaningful`);
  }
  for (const w of report.warnings) out.push(`warning: ${safe(w)}`);
  const t = report.runtime.timingsMs;
  out.push(`timings: load ${t.load.toFixed(0)} ms, build ${t.build.toFixed(0)} ms, run ${t.run.toFixed(0)} ms, metrics ${t.metrics.toFixed(0)} ms, total ${t.total.toFixed(0)} ms`);
  return out.join('\n');
}
