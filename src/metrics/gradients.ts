/**
 * Metrics of the backward pass (SPEC §4): per-step gradient norms, the decay of the Jacobian
 * norm with distance from the last step, and the clipping what-if. Pure functions.
 */
import type { DecayMetrics } from '../report/types';

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
/** Entries at or below this are dropped from the log fit (log of ~0). */
const FIT_FLOOR = 1e-30;
/** reach: the Jacobian norm still at least this fraction of its value at distance 0. */
const REACH_FRACTION = 1e-3;

/**
 * Fit log J[t] = c + d·log ρ by least squares against the distance d = |last − t| over the valid
 * window [first, last] (processing order: the direction's last step is d = 0).
 *   ρ = e^slope; halfLife = ln ½ / ln ρ steps when ρ < 1; reach = the largest d with
 *   J ≥ 1e-3·J(d = 0), null when that holds up to the window's end ("beyond T").
 */
export function jacobianDecay(jacobian: ArrayLike<number>, last: number, first: number): DecayMetrics {
  const step = first <= last ? 1 : -1;
  let n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let t = first; ; t += step) {
    const v = jacobian[t];
    if (v > FIT_FLOOR && Number.isFinite(v)) {
      const d = Math.abs(last - t);
      const y = Math.log(v);
      n++; sx += d; sy += y; sxx += d * d; sxy += d * y;
    }
    if (t === last) break;
  }
  const denom = n * sxx - sx * sx;
  const slope = n >= 2 && denom > 0 ? (n * sxy - sx * sy) / denom : 0;
  const rho = Math.exp(slope);
  const atLast = jacobian[last];
  const span = Math.abs(last - first);
  let reach: number | null = null;
  let holdsToEnd = true;
  for (let d = 0; d <= span; d++) {
    const v = jacobian[last - step * d];
    if (v >= REACH_FRACTION * atLast) reach = d;
    else holdsToEnd = false;
  }
  return {
    rho,
    slope,
    points: n,
    halfLife: rho < 1 ? Math.log(0.5) / Math.log(rho) : null,
    reach: holdsToEnd ? null : reach,
    verdict: rho < VANISHING_BELOW ? 'vanishing' : rho > EXPLODING_ABOVE ? 'exploding' : 'stable',
  };
}

/** The global norm G of all weight gradients and min(1, θ/G) for each threshold θ. */
export function clippingWhatIf(weightGrads: Iterable<ArrayLike<number>>, thresholds: readonly number[] = [1, 5]):
  { globalNorm: number; factors: Record<string, number> } {
  let s = 0;
  for (const g of weightGrads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  const G = Math.sqrt(s);
  const factors: Record<string, number> = {};
  for (const th of thresholds) factors[String(th)] = G > 0 ? Math.min(1, th / G) : 1;
  return { globalNorm: G, factors };
}
