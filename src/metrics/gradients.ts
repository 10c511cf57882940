/**
 * Metrics of the backward pass (SPEC §4): per-step gradient norms, the decay of the Jacobian
 * norm with distance from the last step, and the clipping what-if. Pure functions.
 */
import type { ClippingMetrics, DecayMetrics } from '../report/types';

/** gradNorm[t] = ‖x[t]‖₂ over (B, H) of a [T, B, H] tensor. */
export function stepNorms(x: Float32Array | Float64Array, T: number): number[] {
  const per = T > 0 ? x.length / T : 0;
  const out = new Array<number>(T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let i = t * per; i < (t + 1) * per; i++) s += x[i] * x[i];
    out[t] = Math.sqrt(s);
  }
  return out;
}

export const VANISHING_BELOW = 0.95;
export const EXPLODING_ABOVE = 1.05;
/** survival below this is vanishing, above its inverse exploding (SPEC v2 §9.2). */
export const SURVIVAL_BOUND = 1e-3;
/** reach: the Jacobian norm still at least this fraction of its value at distance 0. */
const REACH_FRACTION = 1e-3;
/** Fewer steps than this in the window: no verdict. */
export const MIN_WINDOW = 4;

/** Least-squares slope of log v against d over the entries with v > 0 (exact zeros dropped). */
function logFit(ds: number[], vs: number[]): { slope: number | null; points: number } {
  let n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let i = 0; i < ds.length; i++) {
    const v = vs[i];
    if (!(v > 0)) continue;
    const d = ds[i];
    const y = Math.log(v);
    n++; sx += d; sy += y; sxx += d * d; sxy += d * y;
  }
  const denom = n * sxx - sx * sx;
  return { slope: n >= 2 && denom > 0 ? (n * sxy - sx * sy) / denom : null, points: n };
}

/**
 * The decay of a Jacobian norm J over the valid window [first, last] of a direction (processing
 * order: `last` is the direction's last step, distance d = |last − t| = 0 there), SPEC v2 §9.2:
 *   rho      = e^slope of the least-squares fit of log J against d over the whole window,
 *   rhoTail  = the same fit over the far half of the window, d ≥ ⌈W/2⌉ (W = window length),
 *   survival = J(d = W−1) / J(d = 0),
 *   halfLife = ln ½ / ln ρ steps when ρ < 1; reach = the largest d with J ≥ 1e-3·J(d = 0), null
 *   when that holds up to the window's end ("beyond T").
 * Fits drop exact zeros only. Verdict: n/a when W < 4 or J(d = 0) is 0; invalid when any value
 * in the window is NaN or ±∞; else exploding when survival > 1e3 or rhoTail > 1.05, vanishing when
 * survival < 1e-3 or rhoTail < 0.95, else stable. `reason` says why when there is no verdict.
 */
export function jacobianDecay(jacobian: ArrayLike<number>, last: number, first: number, basis: DecayMetrics['basis'] = 'state'): DecayMetrics {
  const step = first <= last ? 1 : -1;
  const W = Math.abs(last - first) + 1;
  const ds: number[] = [];
  const vs: number[] = [];
  let nonFinite = -1;
  for (let d = 0; d < W; d++) {
    const v = jacobian[last - step * d];
    if (!Number.isFinite(v) && nonFinite < 0) nonFinite = d;
    ds.push(d);
    vs.push(v);
  }
  const atLast = vs[0];
  const whole = logFit(ds, vs);
  const tailFrom = Math.ceil(W / 2);
  const tail = logFit(ds.slice(tailFrom), vs.slice(tailFrom));
  const rho = whole.slope === null ? null : Math.exp(whole.slope);
  const rhoTail = tail.slope === null ? null : Math.exp(tail.slope);
  const survival = atLast > 0 && Number.isFinite(atLast) ? vs[W - 1] / atLast : null;
  let reach: number | null = null;
  let holdsToEnd = true;
  for (let d = 0; d < W; d++) {
    if (vs[d] >= REACH_FRACTION * atLast) reach = d;
    else holdsToEnd = false;
  }
  const base = {
    basis, rho, slope: whole.slope, rhoTail, survival, points: whole.points, window: W,
    halfLife: rho !== null && rho < 1 && rho > 0 ? Math.log(0.5) / Math.log(rho) : null,
    reach: holdsToEnd ? null : reach,
  };
  if (nonFinite >= 0) {
    return { ...base, verdict: 'invalid', reason: `the Jacobian norm is ${Number.isNaN(vs[nonFinite]) ? 'NaN' : 'infinite'} at distance ${nonFinite} from the last step` };
  }
  if (W < MIN_WINDOW) return { ...base, verdict: 'n/a', reason: `only ${W} step${W === 1 ? '' : 's'} to judge from (at least ${MIN_WINDOW} are needed)` };
  if (!(atLast > 0)) return { ...base, verdict: 'n/a', reason: 'the Jacobian norm is 0 at the last step' };
  const s = survival!;
  let verdict: DecayMetrics['verdict'];
  if (s > 1 / SURVIVAL_BOUND || (rhoTail !== null && rhoTail > EXPLODING_ABOVE)) verdict = 'exploding';
  else if (s < SURVIVAL_BOUND || (rhoTail !== null && rhoTail < VANISHING_BELOW)) verdict = 'vanishing';
  else verdict = 'stable';
  return { ...base, verdict };
}

/** The global norm G of all weight gradients and min(1, θ/G) for each threshold θ. */
export function clippingWhatIf(weightGrads: Iterable<ArrayLike<number>>, thresholds: readonly number[] = [1, 5]): ClippingMetrics {
  let s = 0;
  for (const g of weightGrads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  const G = Math.sqrt(s);
  const factors: Record<string, number | null> = {};
  // A NaN or infinite norm has no meaningful factor: null, never "scales by 1".
  for (const th of thresholds) factors[String(th)] = !Number.isFinite(G) ? null : G > 0 ? Math.min(1, th / G) : 1;
  return { globalNorm: G, factors };
}
