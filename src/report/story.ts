/**
 * The words every view shows for a layer-direction: the CLI summary, the panel's verdict card,
 * the standalone HTML page and the CodeLens all take their sentences from here, so they can
 * never disagree with each other or with the numbers beside them. Pure (no Node, no DOM).
 *
 * The headline names the verdict (SPEC v2 §9.2) and the path that carries the signal: for an
 * LSTM the cell path (the additive c_t → c_last route) and the hidden path (h_t → h_last with
 * c_t held) are told apart, because an LSTM whose cell path keeps 20% across 50 steps while its
 * hidden path falls 1000× within 9 is stable, and saying "vanishing" would contradict its chart.
 * A second sentence says how the curve is shaped when one rate does not describe it ("falls 300×
 * in the last 6 steps, then holds").
 */
import type { DecayMetrics, DecayVerdict, DirectionReport, LayerReport, Report } from './types';

export type StoryVerdict = DecayVerdict | 'unmeasured';

export interface FlowStory {
  verdict: StoryVerdict;
  /** "Stable gradient flow", "No verdict", … */
  title: string;
  /** The sentence after the verdict word: "the cell path keeps 22% across 50 steps; …". */
  sentence: string;
  /** How the curve is shaped, when the whole-window rate does not describe it. */
  shape?: string;
  /** A short form for one-line places (CodeLens): "cell path keeps 22% over 50 steps". */
  short: string;
}

export const VERDICT_TITLES: Record<StoryVerdict, string> = {
  vanishing: 'Vanishing gradients',
  stable: 'Stable gradient flow',
  exploding: 'Exploding gradients',
  'n/a': 'No verdict',
  invalid: 'No verdict: non-finite values',
  unmeasured: 'Gradient flow not measured',
};

/** A short human number: 3 significant digits, exponent form when tiny or huge. */
export function num(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || Number.isNaN(x)) return 'n/a';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  if (x === 0) return '0';
  const a = Math.abs(x);
  const s = a >= 1e4 || a < 1e-3 ? x.toExponential(Math.max(0, digits - 1)) : x.toPrecision(digits);
  // Below 10⁴ a whole number reads better than toPrecision's exponent form (192, not 1.9e2).
  if (a >= 1 && a < 1e4 && s.includes('e')) return String(Math.round(x));
  const [mantissa, exponent] = s.split('e');
  let m = mantissa;
  if (m.includes('.')) m = m.replace(/0+$/, '').replace(/\.$/, '');
  return exponent === undefined ? m : `${m}e${exponent.replace('+', '')}`;
}

/** A per-step factor: 4 significant digits near 1 (0.9996 is not 1), else 3. */
export function rate(x: number | null | undefined): string {
  return x !== null && x !== undefined && Math.abs(x - 1) < 0.01 ? num(x, 4) : num(x);
}

/** A fraction as a percentage with two significant digits: "22%", "3.1%", "0.052%". */
export function percent(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  if (x === 0) return '0%';
  const p = 100 * x;
  return `${p >= 10 ? Math.round(p) : Number(p.toPrecision(2))}%`;
}

/** A factor: "1000×", "2.3×", "1.2e40×". */
export function times(x: number): string {
  return `${x >= 100 && x < 1e6 ? Math.round(x).toString() : num(x, 2)}×`;
}

/** What one time step of a layer is: a step, or — for a state carried across streaming calls — a call. */
export type StepUnit = 'step' | 'call';

export function stepUnit(layer: Pick<LayerReport, 'iterations'>): StepUnit {
  return layer.iterations?.calls && layer.iterations.steps === 1 ? 'call' : 'step';
}

function stepsText(n: number, unit: StepUnit = 'step'): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** "keeps 22% across 50 steps", "falls 1000× across 50 steps", "grows 5.2× across 50 steps". */
function survivalPhrase(d: DecayMetrics, unit: StepUnit): string {
  const s = d.survival!;
  const across = `across ${stepsText(d.window, unit)}`;
  if (s > 1.05) return `grows ${times(s)} ${across}`;
  if (s >= 1e-3) return `keeps ${percent(s)} ${across}`;
  // Below 0.1%: where it crossed that line says more than the final ratio.
  if (d.reach !== null) return `falls 1000× within ${stepsText(d.reach + 1, unit)}`;
  return s > 0 ? `falls ${times(1 / s)} ${across}` : `falls below 1e-307 ${across}`;
}

/**
 * What the cell highway ∏f keeps from the last step back to the first: "keeps 22% across all 50
 * steps", or where it fell 1000× and what is left ("falls 1000× within 230 steps; 3.1e-45 of it
 * is left across all 5000 steps"), or that it left the double range (its float64 value is 0).
 */
export function highwayPhrase(highway: ArrayLike<number>, direction: 'forward' | 'reverse', unit: StepUnit = 'step'): string {
  const n = highway.length;
  const at = (dist: number) => highway[direction === 'forward' ? n - 1 - dist : dist];
  const atLast = at(0);
  const all = `across all ${stepsText(n, unit)}`;
  if (!(atLast > 0)) return `keeps nothing ${all} (it is 0 at the last step)`;
  const r = at(n - 1) / atLast;
  if (!Number.isFinite(r)) return `is not finite ${all}`;
  if (r >= 1e-3) return `keeps ${percent(r)} ${all}`;
  let fell = n - 1;
  for (let dist = 1; dist < n; dist++) if (at(dist) < 1e-3 * atLast) { fell = dist; break; }
  const left = r > 0 ? `${num(r, 2)} of it is left ${all}` : `less than 1e-307 of it is left ${all} (below the smallest double)`;
  return `falls 1000× within ${stepsText(fell, unit)}; ${left}`;
}

/** The shape of a decay when the near and far halves differ: a drop then a plateau, or a late collapse. */
function shapePhrase(d: DecayMetrics, curve: ArrayLike<number>, last: number, step: 1 | -1, unit: StepUnit): string | undefined {
  if (d.rho === null || d.rhoTail === null || d.window < 8) return undefined;
  const W = d.window;
  const at = (dist: number) => curve[last - step * dist];
  const half = Math.ceil(W / 2);
  const j0 = at(0);
  const jh = at(half);
  if (!(j0 > 0 && jh > 0)) return undefined;
  const nearDrop = j0 / jh;
  const holds = d.rhoTail >= 0.95 && d.rhoTail <= 1.05;
  if (holds && nearDrop > 2) {
    // The knee: the first distance from which the rest of the near half's fall is under 10% (in log).
    const total = Math.log(nearDrop);
    let knee = half;
    for (let dist = 1; dist <= half; dist++) {
      if (Math.log(at(dist) / jh) <= 0.1 * total) { knee = dist; break; }
    }
    // A drop, then a plateau, only when the drop is clearly steeper than the plateau (≥ 10% per step):
    // a steady decay at 0.99 per step also falls more than 2× over a long near half.
    const kneeRate = Math.exp(Math.log(at(knee) / j0) / knee);
    if (kneeRate < d.rhoTail / 1.1) return `falls ${times(j0 / at(knee))} in the last ${stepsText(knee, unit)}, then holds (ρ = ${rate(d.rhoTail)} per ${unit} beyond)`;
  }
  const nearRho = Math.exp(Math.log(jh / j0) / half);
  if (Math.abs(Math.log(nearRho) - Math.log(d.rhoTail)) > Math.log(1.1)) {
    return `ρ = ${rate(nearRho)} per ${unit} over the last ${stepsText(half, unit)}, ${rate(d.rhoTail)} beyond`;
  }
  return undefined;
}

/** The direction's valid window, processing order: the last step and the step direction towards the first. */
export function decayWindow(layer: LayerReport, d: DirectionReport): { last: number; step: 1 | -1 } {
  const W = d.metrics.decay?.window ?? layer.seqLen;
  return d.direction === 'forward' ? { last: W - 1, step: 1 } : { last: 0, step: -1 };
}

export function flowStory(layer: LayerReport, d: DirectionReport): FlowStory {
  const decay = d.metrics.decay;
  if (!decay && d.jacobianNorm) {
    // Measured, but over no step: every sequence length is 0.
    return { verdict: 'n/a', title: VERDICT_TITLES['n/a'], sentence: 'no verdict — no step ran (every sequence length is 0)', short: 'no verdict (no step ran)' };
  }
  if (!decay) {
    const g = d.metrics.gradNorm;
    let sentence = 'the Jacobian was not measured (Jacobian mode off), so there is no decay rate';
    if (g && g.length > 1) {
      const [early, late] = d.direction === 'forward' ? [g[0], g[g.length - 1]] : [g[g.length - 1], g[0]];
      sentence += `; ‖dL/dh_t‖ goes from ${num(late)} at the last step to ${num(early)} at the first`;
    }
    return { verdict: 'unmeasured', title: VERDICT_TITLES.unmeasured, sentence, short: 'Jacobian not measured' };
  }
  if (decay.verdict === 'n/a' || decay.verdict === 'invalid') {
    const reason = decay.reason ?? 'too little data';
    return { verdict: decay.verdict, title: VERDICT_TITLES[decay.verdict], sentence: `no verdict — ${reason}`, short: `no verdict (${reason})` };
  }
  const estimated = d.jacobianNorm?.method === 'probes'
    ? ` (estimated from ${d.jacobianNorm.probes} probes${d.jacobianNorm.relError ? `, ±${percent(d.jacobianNorm.relError)}` : ''})` : '';
  const paths = d.metrics.decayPaths;
  const unit = stepUnit(layer);
  let sentence: string;
  let short: string;
  if (paths && paths.cell.survival !== null && paths.hidden.survival !== null) {
    // The path with the larger survival carries the signal; the other is said for contrast.
    const cellCarries = paths.cell.survival >= paths.hidden.survival;
    const [carrier, other] = cellCarries ? ['cell', 'hidden'] as const : ['hidden', 'cell'] as const;
    const c = paths[carrier];
    const o = paths[other];
    sentence = `the ${carrier} path ${survivalPhrase(c, unit)}; the ${other} path alone ${survivalPhrase(o, unit)}`;
    short = `${carrier} path ${survivalPhrase(c, unit)}`;
  } else {
    sentence = `the state ${survivalPhrase(decay, unit)}`;
    short = sentence;
  }
  if (decay.rho !== null) {
    const speed = decay.halfLife !== null ? `half-life ${num(decay.halfLife, 2)} ${unit}s` : decay.rho > 1 ? `doubling every ${num(Math.log(2) / Math.log(decay.rho), 2)} ${unit}s` : 'no decay';
    sentence += `; ρ = ${rate(decay.rho)} per ${unit} (${speed})`;
  }
  sentence += estimated;
  const { last, step } = decayWindow(layer, d);
  const shape = d.jacobianNorm ? shapePhrase(decay, d.jacobianNorm.state.data, last, step, unit) : undefined;
  return { verdict: decay.verdict, title: VERDICT_TITLES[decay.verdict], sentence, shape, short };
}

/** The whole flow story as one line: "stable: the cell path keeps 22% …; falls 300× in the last 6 steps, then holds …". */
export function flowLine(layer: LayerReport, d: DirectionReport): string {
  const s = flowStory(layer, d);
  const word = s.verdict === 'unmeasured' ? 'not measured' : s.verdict;
  return `${word}: ${s.sentence}${s.shape ? `; ${s.shape}` : ''}`;
}

/** What the gates say about memory, in sentences (the same for the CLI and the panel). */
export function memoryStory(layer: LayerReport, d: DirectionReport): string[] {
  const out: string[] = [];
  if (d.metrics.nonFinite) return [`Gates, retention and gradients: n/a — ${d.metrics.nonFinite}.`];
  const sat = d.metrics.saturation;
  const T = layer.seqLen;
  // A state recurrence whose step is a recognised LSTM/GRU cell tells the same gate story.
  const cellOp = layer.op === 'state' ? layer.cell : layer.op;
  if (cellOp === 'LSTM' && sat.gates.forget) {
    const f = sat.gates.forget;
    out.push(`Forget gates: ${percent(f.right)} right-saturated (> ${num(f.high ?? sat.high)}: long-memory cells), ${percent(f.left)} left-saturated (< ${num(f.low ?? sat.low)}: reset every step).`);
    const ret = d.metrics.retention;
    if (ret && ret.horizon.length) {
      const finite = ret.meanForget.filter(Number.isFinite).length;
      if (finite === 0) {
        out.push('Retention: n/a — the forget gates are NaN or infinite.');
      } else if (T < 2) {
        // τ ≥ 1 for every unit and ∏f over no step is 1: nothing to tell.
        out.push(`Retention: n/a — a single ${stepUnit(layer)} has nothing to remember across.`);
      } else {
        const long = ret.horizon.filter((h, j) => Number.isFinite(ret.meanForget[j]) && (h === null || h >= T)).length;
        const unit = stepUnit(layer);
        out.push(`${long} of ${ret.horizon.length} units remember at least T = ${stepsText(T, unit)} (τ = 1/(1 − f̄)); the additive cell path ∏f alone ${highwayPhrase(ret.cellHighway, d.direction, unit)}.`);
      }
    }
    const c = sat.gates.cell;
    if (c) out.push(`Cell candidate c̃ (${c.activation ?? 'tanh'}): ${percent(c.right)} above ${num(c.high ?? 0.8)}, ${percent(c.left)} below ${num(c.low ?? -0.8)}.`);
  } else if (cellOp === 'GRU' && sat.gates.update) {
    const z = sat.gates.update;
    out.push(`Update gates: ${percent(z.right)} right-saturated (> ${num(z.high ?? sat.high)}: state copied through, long memory), ${percent(z.left)} left-saturated (< ${num(z.low ?? sat.low)}: state overwritten).`);
    const hh = sat.gates.hidden;
    if (hh) out.push(`Hidden candidate h̃ (${hh.activation ?? 'tanh'}): ${percent(hh.right)} above ${num(hh.high ?? 0.8)}, ${percent(hh.left)} below ${num(hh.low ?? -0.8)}.`);
  }
  if (layer.op !== 'LSTM') {
    const s = d.metrics.spectrum;
    const key = s?.gates.find((x) => x.gate === 'hidden') ?? s?.gates[0];
    if (key && key.gamma !== null && key.gamma > 0) {
      const bound = 1 / key.gamma;
      // A GRU's condition is on its candidate's block of R (the path through its activation).
      const [on, R] = layer.op === 'GRU' && key.gate === 'hidden' ? [' on the candidate\'s block', 'σ_max(R_h)'] : ['', 'σ_max(R)'];
      out.push(key.sufficientForVanishing
        ? `Pascanu's condition${on}: ${R} = ${num(key.sigmaMax)} < 1/γ = ${num(bound)} (${key.activation}), so the recurrent weights alone force the gradients to vanish.`
        : `Pascanu's condition${on}: ${R} = ${num(key.sigmaMax)} > 1/γ = ${num(bound)} (${key.activation}): explosion is possible, and vanishing is not forced by the weights alone.`);
    }
  }
  return out;
}

/** The clipping what-if in words, for exploding layers and the summary. */
export function clippingStory(report: Report): string | undefined {
  const c = report.clipping;
  if (!c) return undefined;
  if (!Number.isFinite(c.globalNorm)) return `Clipping what-if: n/a — the global weight-gradient norm is ${Number.isNaN(c.globalNorm) ? 'NaN' : 'infinite'}, so no clipping factor is meaningful.`;
  const parts = Object.entries(c.factors).map(([th, f]) => `at ${th} by ${f === null ? 'n/a' : num(f, 2)}`);
  return `Gradient-norm clipping would scale the model's weight gradients (global norm ${num(c.globalNorm)}) ${parts.join(', ')}.`;
}
