/**
 * The verdict card's words: what a layer-direction's numbers mean, in sentences a user
 * understands (SPEC.md §4 — decay, saturation, retention, spectrum, clipping). Pure: no DOM.
 */
import type { DirectionReport, LayerReport, Report } from '../../src/report/types';
import { num, pct, plural, steps } from './format';

export type VerdictKind = 'vanishing' | 'stable' | 'exploding' | 'n/a' | 'invalid' | 'unknown';

export interface Verdict {
  /** decay.verdict, or 'unknown' when no Jacobian was measured. */
  kind: VerdictKind;
  /** "Vanishing gradients", "Stable gradient flow", … */
  title: string;
  /** The gradient story: ρ, half-life, reach. */
  flow: string;
  /** The gates / weights story: forget or update saturation, retention, Pascanu's condition. */
  memory: string[];
  /** Exploding layers: what norm clipping would do. */
  clipping?: string;
  /** Short labelled figures for the card's chips. */
  figures: { label: string; value: string; title: string }[];
}

const TITLES: Record<VerdictKind, string> = {
  vanishing: 'Vanishing gradients',
  stable: 'Stable gradient flow',
  exploding: 'Exploding gradients',
  'n/a': 'No verdict',
  invalid: 'No verdict: non-finite values',
  unknown: 'Gradient flow not measured',
};

export function directionVerdict(report: Report, layer: LayerReport, d: DirectionReport): Verdict {
  const decay = d.metrics.decay;
  const kind: VerdictKind = decay?.verdict ?? 'unknown';
  const T = layer.seqLen;
  const figures: Verdict['figures'] = [];
  let flow: string;
  if (decay && (decay.verdict === 'n/a' || decay.verdict === 'invalid')) {
    flow = `no verdict — ${decay.reason ?? 'too little data'}.`;
  } else if (decay && decay.rho !== null) {
    const estimate = d.jacobianNorm?.method === 'probes' ? ` (estimated from ${d.jacobianNorm.probes ?? 'random'} probes)` : '';
    const rho = `ρ = ${num(decay.rho)} per step`;
    const survive = decay.reach === null
      ? `more than 0.1% still survives across all ${T} steps`
      : `beyond ${plural(decay.reach, 'step')} less than 0.1% survives`;
    if (kind === 'vanishing') {
      flow = `the Jacobian shrinks by ${rho}${decay.halfLife !== null ? ` (half-life ${steps(decay.halfLife)})` : ''}${estimate}; ${survive}.`;
    } else if (kind === 'exploding') {
      const doubling = decay.rho > 1 ? Math.log(2) / Math.log(decay.rho) : null;
      flow = `the Jacobian grows by ${rho}${doubling !== null ? ` (doubling every ${steps(doubling)})` : ''}${estimate}; ${survive}.`;
    } else {
      flow = `the Jacobian changes by ${rho}${decay.halfLife !== null ? ` (half-life ${steps(decay.halfLife)})` : ''}${estimate}; ${survive}.`;
    }
    figures.push({ label: 'ρ', value: num(decay.rho), title: 'per-step factor of the Jacobian norm (least-squares fit of log ‖∂h_last/∂h_t‖ against distance)' });
    figures.push({ label: 'half-life', value: decay.halfLife === null ? '—' : steps(decay.halfLife), title: 'ln ½ / ln ρ steps' });
    figures.push({ label: 'reach', value: decay.reach === null ? `> T = ${T}` : steps(decay.reach, 3), title: 'largest distance at which the Jacobian norm is still ≥ 0.1% of its value at the last step' });
  } else {
    flow = 'no Jacobian was measured (Jacobian mode off), so there is no decay rate.';
  }
  const g = d.metrics.gradNorm;
  if (g && g.length > 1) {
    // "Last" is the step the gradient enters from: T−1 forward, 0 reverse.
    const [early, late] = d.direction === 'forward' ? [g[0], g[g.length - 1]] : [g[g.length - 1], g[0]];
    if (late > 0) figures.push({ label: '‖dL/dh‖ first/last', value: `×${num(early / late, 2)}`, title: `‖dL/dh_t‖ at the first step (${num(early)}) over the last (${num(late)})` });
    if (!decay) flow += ` ‖dL/dh_t‖ goes from ${num(late)} at the last step to ${num(early)} at the first.`;
  }
  const memory: string[] = [];
  const sat = d.metrics.saturation;
  if (layer.op === 'LSTM' && sat.gates.forget) {
    const f = sat.gates.forget;
    memory.push(`Forget gates: ${pct(f.right)} right-saturated (long memory), ${pct(f.left)} left-saturated (reset every step).`);
    figures.push({ label: 'forget > ' + sat.high, value: pct(f.right), title: 'fraction of forget-gate values above the high threshold: long-memory cells' });
    const ret = d.metrics.retention;
    if (ret && ret.horizon.length) {
      const long = ret.horizon.filter((h) => h === null || h >= T).length;
      const first = ret.cellHighway[0];
      const last = ret.cellHighway[ret.cellHighway.length - 1];
      const kept = d.direction === 'forward' ? (last > 0 ? first / last : 0) : (first > 0 ? last / first : 0);
      memory.push(`${long} of ${ret.horizon.length} units remember at least T = ${T} steps (τ = 1/(1 − f̄)); the additive cell path ∏f keeps ${pct(kept)} across all ${T} steps.`);
    }
  } else if (layer.op === 'GRU' && sat.gates.update) {
    const z = sat.gates.update;
    memory.push(`Update gates: ${pct(z.right)} right-saturated (state copied through, long memory), ${pct(z.left)} left-saturated (state overwritten).`);
    figures.push({ label: 'update > ' + sat.high, value: pct(z.right), title: 'fraction of update-gate values above the high threshold: state copied through' });
  }
  if (layer.op !== 'LSTM') {
    const s = d.metrics.spectrum;
    const key = s.gates.find((x) => x.gate === 'hidden') ?? s.gates[0];
    if (key && key.gamma !== null && key.gamma > 0) {
      const bound = 1 / key.gamma;
      memory.push(key.sufficientForVanishing
        ? `Pascanu's condition: σ_max(R) = ${num(key.sigmaMax)} < 1/γ = ${num(bound)} (${key.activation}), so the recurrent weights alone force the gradients to vanish.`
        : `Pascanu's condition: σ_max(R) = ${num(key.sigmaMax)} > 1/γ = ${num(bound)} (${key.activation}): explosion is possible, and vanishing is not forced by the weights alone.`);
    }
    if (key) figures.push({ label: 'σ_max(R)', value: num(key.sigmaMax), title: `largest singular value of the ${key.gate} block of R` });
  } else {
    figures.push({ label: 'σ_max(R)', value: num(d.metrics.spectrum.sigmaMaxAll), title: "largest singular value of this direction's whole R" });
  }
  let clipping: string | undefined;
  if (kind === 'exploding' && report.clipping) {
    const c = report.clipping;
    const parts = Object.entries(c.factors).map(([th, f]) => `at ${th} by ${num(f, 2)}`);
    clipping = `Gradient-norm clipping would scale the model's weight gradients (global norm ${num(c.globalNorm)}) ${parts.join(', ')}.`;
  }
  return { kind, title: TITLES[kind], flow, memory, clipping, figures };
}

/** The whole card as one plain sentence (aria-label, comparison tooltips). */
export function verdictSentence(v: Verdict): string {
  return [`${v.title}: ${v.flow}`, ...v.memory, ...(v.clipping ? [v.clipping] : [])].join(' ');
}
