/** Long curves drawn with fewer points than steps, keeping what the eye must see (the flow chart). */

/**
 * The steps to draw of a long curve (of its steps [from, to)): in each of `bins` runs of steps, the one with the smallest
 * and the one with the largest value (spikes stay visible) and the first one the log axis cannot
 * show (the gap stays), in step order. ECharts then lays out a few thousand points instead of
 * every step (at T = 10 000 its own sampling still processed them all: the flow chart took 250 ms).
 */
export function minMaxSteps(values: ArrayLike<number>, bins: number, shown: (v: number) => boolean, from = 0, to = values.length): Int32Array {
  const T = Math.max(0, Math.min(to, values.length) - from);
  const per = Math.max(1, Math.ceil(T / Math.max(1, bins)));
  const out = new Int32Array(3 * Math.ceil(T / per));
  let n = 0;
  for (let a = from; a < from + T; a += per) {
    const b = Math.min(from + T, a + per);
    let lo = -1;
    let hi = -1;
    let gap = -1;
    for (let i = a; i < b; i++) {
      const v = values[i];
      if (!shown(v)) { if (gap < 0) gap = i; continue; }
      if (lo < 0 || v < values[lo]) lo = i;
      if (hi < 0 || v > values[hi]) hi = i;
    }
    const picked = [lo, hi, gap].filter((i) => i >= 0).sort((x, y) => x - y);
    for (let j = 0; j < picked.length; j++) if (j === 0 || picked[j] !== picked[j - 1]) out[n++] = picked[j];
  }
  return out.subarray(0, n);
}
