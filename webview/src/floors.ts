/**
 * The flow chart's floors. On a log axis a curve that underflows (∏f over thousands of steps, a
 * vanished gradient) would drag the axis down to 1e-300 and squash every other curve against the
 * top; instead each axis shows FLOOR_RATIO of its largest value and no less, and a curve that
 * falls below its axis's floor ends there with a marker that says where ("∏f < 1e-30 at t ≤ 412").
 */

/** How far below an axis's largest value its curves are drawn. */
export const FLOOR_RATIO = 1e-30;
/** The smallest normal double: no floor is a subnormal. */
const MIN_NORMAL = 2.2250738585072014e-308;

/** The floor of an axis holding these curves: FLOOR_RATIO × their largest finite value; null when none is positive. */
export function axisFloor(arrays: ArrayLike<number>[]): number | null {
  let hi = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (v > hi && v < Infinity) hi = v;
    }
  }
  return hi > 0 ? Math.max(hi * FLOOR_RATIO, MIN_NORMAL) : null;
}

/** Drawn on the chart: at or above the floor, and finite. */
export function aboveFloor(v: number, floor: number): boolean {
  return v >= floor && v < Infinity;
}

export interface FloorCut {
  /** The step where the curve first falls below the floor, walking from the last step the way the gradient flows. */
  t: number;
  /** Whether it stays below (or at 0) for every step after that on the walk. */
  throughout: boolean;
}

/**
 * Where a curve drops below `floor`, walking from the direction's last step towards its first
 * (forward: t = T−1 … 0; reverse: t = 0 … T−1). NaN is not "below" (the chart shows it as a gap
 * and the tooltip names it). Null when the curve never falls below.
 */
export function floorCut(values: ArrayLike<number>, floor: number, direction: 'forward' | 'reverse'): FloorCut | null {
  const n = values.length;
  const at = (k: number) => values[direction === 'forward' ? n - 1 - k : k];
  for (let k = 0; k < n; k++) {
    const v = at(k);
    if (!(v < floor)) continue;
    let throughout = true;
    for (let r = k + 1; r < n; r++) {
      if (!(at(r) < floor)) { throughout = false; break; }
    }
    return { t: direction === 'forward' ? n - 1 - k : k, throughout };
  }
  return null;
}

/** The marker's words: "∏f < 1e-30 at t ≤ 412", or "… first at t = 412" when it comes back above. */
export function floorLabel(short: string, floorText: string, cut: FloorCut, direction: 'forward' | 'reverse'): string {
  if (!cut.throughout) return `${short} < ${floorText} first at t = ${cut.t}`;
  return `${short} < ${floorText} at t ${direction === 'forward' ? '≤' : '≥'} ${cut.t}`;
}

/**
 * Whole decades around the drawable (positive, finite) values, so the log axis wastes no space,
 * with a tick every `interval` decades (ECharts takes a log axis's interval in exponent units).
 */
export function decadeRange(arrays: ArrayLike<number>[], floor = 0): { min?: number; max?: number; interval?: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (v > 0 && v >= floor && v < Infinity) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
  }
  if (!(hi >= lo)) return {};
  let e0 = Math.floor(Math.log10(lo) + 1e-9);
  let e1 = Math.ceil(Math.log10(hi) - 1e-9);
  if (e1 - e0 < 2) e0 = e1 - 2;
  const span = e1 - e0;
  const interval = span <= 8 ? 1 : span <= 16 ? 2 : span <= 40 ? 5 : 10;
  e0 = Math.floor(e0 / interval) * interval;
  e1 = Math.ceil(e1 / interval) * interval;
  return { min: 10 ** e0, max: 10 ** e1, interval };
}
