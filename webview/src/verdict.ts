/**
 * The verdict card's words: what a layer-direction's numbers mean, in sentences a user
 * understands (SPEC §4 and v2 §9.2). The sentences come from src/report/story.ts, which the CLI
 * summary and the CodeLens use too, so every view says the same thing. Pure: no DOM.
 */
import type { DirectionReport, LayerReport, Report } from '../../src/report/types';
import { clippingStory, flowStory, memoryStory, rate, type StoryVerdict } from '../../src/report/story';
import { num, pct, steps } from './format';

export type VerdictKind = StoryVerdict;

export interface Verdict {
  kind: VerdictKind;
  /** "Vanishing gradients", "Stable gradient flow", … */
  title: string;
  /** The gradient story: which path carries the signal, how much of it survives, the curve's shape. */
  flow: string;
  /** The gates / weights story: forget or update saturation, retention, Pascanu's condition. */
  memory: string[];
  /** Exploding layers: what norm clipping would do. */
  clipping?: string;
  /** Short labelled figures for the card's chips. */
  figures: { label: string; value: string; title: string }[];
}

export function directionVerdict(report: Report, layer: LayerReport, d: DirectionReport): Verdict {
  const story = flowStory(layer, d);
  const decay = d.metrics.decay;
  const T = layer.seqLen;
  const figures: Verdict['figures'] = [];
  const flow = `${story.sentence}${story.shape ? `; ${story.shape}` : ''}.`;
  if (decay && decay.verdict !== 'n/a' && decay.verdict !== 'invalid') {
    if (decay.survival !== null) figures.push({ label: 'state keeps', value: decay.survival >= 1e-3 && decay.survival < 10 ? pct(decay.survival) : decay.survival === 0 ? '< 1e-307' : `×${num(decay.survival, 2)}`, title: `share of the state Jacobian left after ${decay.window} steps: ‖∂s_last/∂s_first‖ / ‖∂s_last/∂s_last‖` });
    figures.push({ label: 'ρ', value: rate(decay.rho), title: 'per-step factor of the state Jacobian norm (least-squares fit of its log against the distance from the last step)' });
    if (decay.rhoTail !== null) figures.push({ label: 'ρ far half', value: rate(decay.rhoTail), title: 'the same fit over the far half of the sequence (the verdict uses it)' });
    figures.push({ label: 'half-life', value: decay.halfLife === null ? '—' : steps(decay.halfLife), title: 'ln ½ / ln ρ steps' });
    figures.push({ label: 'reach', value: decay.reach === null ? `> T = ${T}` : steps(decay.reach, 3), title: 'largest distance at which the state Jacobian norm is still ≥ 0.1% of its value at the last step' });
  }
  const g = d.metrics.gradNorm;
  if (g && g.length > 1 && !d.metrics.nonFinite) {
    // "Last" is the step the gradient enters from: T−1 forward, 0 reverse.
    const [early, late] = d.direction === 'forward' ? [g[0], g[g.length - 1]] : [g[g.length - 1], g[0]];
    if (late > 0) figures.push({ label: '‖dL/dh‖ first/last', value: `×${num(early / late, 2)}`, title: `‖dL/dh_t‖ at the first step (${num(early)}) over the last (${num(late)})` });
  }
  const sat = d.metrics.saturation;
  if (!d.metrics.nonFinite) {
    if (layer.op === 'LSTM' && sat.gates.forget) {
      const f = sat.gates.forget;
      figures.push({ label: `forget > ${num(f.high ?? sat.high)}`, value: pct(f.right), title: 'fraction of forget-gate values above the high threshold: long-memory cells' });
    } else if (layer.op === 'GRU' && sat.gates.update) {
      const z = sat.gates.update;
      figures.push({ label: `update > ${num(z.high ?? sat.high)}`, value: pct(z.right), title: 'fraction of update-gate values above the high threshold: state copied through' });
    }
  }
  const s = d.metrics.spectrum;
  if (s) {
    if (layer.op !== 'LSTM') {
      const key = s.gates.find((x) => x.gate === 'hidden') ?? s.gates[0];
      if (key) figures.push({ label: 'σ_max(R)', value: num(key.sigmaMax), title: `largest singular value of the ${key.gate} block of R` });
    } else {
      figures.push({ label: 'σ_max(R)', value: num(s.sigmaMaxAll), title: "largest singular value of this direction's whole R" });
    }
  }
  const clipping = story.verdict === 'exploding' ? clippingStory(report) : undefined;
  return { kind: story.verdict, title: story.title, flow, memory: memoryStory(layer, d), clipping, figures };
}

/** The whole card as one plain sentence (aria-label, comparison tooltips). */
export function verdictSentence(v: Verdict): string {
  return [`${v.title}: ${v.flow}`, ...v.memory, ...(v.clipping ? [v.clipping] : [])].join(' ');
}
