/**
 * jacobianNorm (SPEC §3, v2 §9.2) in float64 from the backward recurrence's renormalised seed
 * rows (analysis/backward/bptt.ts).
 *
 * Row r (a seed at h_last or c_last) enters step t as raw_r(t); its true value is
 * S_r(t)·raw_r(t), where S_r = 1 at the direction's first processed step (the seed itself) and
 * S_r(next) = S_r(t)·den_r(t) after the step divided the row by den_r(t). So, per step, with the
 * scan's outputs hiddenRows = ‖raw_r(t) hidden part‖², stateRows = ‖raw_r(t)‖² (hidden and cell
 * parts), cellRows = ‖dc_r(t)‖² computed from the divided row:
 *   hidden² = Σ_{r ∈ h-seeds} S_r² · hiddenRows_r
 *   state²  = Σ_{r ∈ all seeds} S_r² · stateRows_r          (LSTM; GRU/RNN: state = hidden)
 *   cell²   = Σ_{r ∈ c-seeds} S_r² · den_r² · cellRows_r
 * divided by K for K Gaussian probes. Sums are taken in the log domain, so values from 1e-300 to
 * 1e+300 come out to float32's relative accuracy of the rows, never 0 or ∞.
 */

export interface JacobianRowOutputs {
  T: number;
  /** Rows of the scan's carry, the objective's row 0 included. */
  rows: number;
  hiddenSeeds: number;
  cellSeeds: number;
  /** Average over this many probes (undefined: exact one-hot seeds, summed). */
  probes?: number;
  /** The direction's processing order: forward runs t = T−1 … 0 backwards. */
  direction: 'forward' | 'reverse';
  /** [T, rows] each. */
  hiddenRows: ArrayLike<number>;
  stateRows?: ArrayLike<number>;
  divisors: ArrayLike<number>;
  /** [T, cellSeeds]. */
  cellRows?: ArrayLike<number>;
}

export interface JacobianNorms {
  hidden: Float64Array;
  cell?: Float64Array;
  state: Float64Array;
}

/** log(Σ exp(x_i)) of the finite-or-−∞ terms pushed so far. */
class LogSum {
  private max = -Infinity;
  private terms: number[] = [];
  private nan = false;

  push(logValue: number): void {
    if (Number.isNaN(logValue)) { this.nan = true; return; }
    this.terms.push(logValue);
    if (logValue > this.max) this.max = logValue;
  }

  /** exp(½·log Σ) = √Σ for sums of squares; NaN when a term was NaN. */
  sqrtTotal(scaleLog: number): number {
    if (this.nan) return NaN;
    if (this.max === -Infinity) return 0;
    if (this.max === Infinity) return Infinity;
    let s = 0;
    for (const x of this.terms) s += Math.exp(x - this.max);
    return Math.exp(0.5 * (this.max + Math.log(s) + scaleLog));
  }
}

export function jacobianNormsFromRows(o: JacobianRowOutputs): JacobianNorms {
  const { T, rows: N, hiddenSeeds: Sh, cellSeeds: Sc } = o;
  const seeds = Sh + Sc;
  const logS = new Float64Array(N); // log S_r of the row entering the current step
  const hidden = new Float64Array(T);
  const state = new Float64Array(T);
  const cell = o.cellRows && Sc ? new Float64Array(T) : undefined;
  const probeLog = o.probes ? -Math.log(o.probes) : 0;
  // log of a row's squared norm times S_r²: −∞ for an exact 0 (a dead row stays at 0).
  const term = (r: number, sq: number) => (sq === 0 ? -Infinity : 2 * logS[r] + Math.log(sq));
  for (let k = 0; k < T; k++) {
    const t = o.direction === 'forward' ? T - 1 - k : k;
    const base = t * N;
    const h = new LogSum();
    const st = new LogSum();
    const c = new LogSum();
    for (let r = 1; r <= seeds; r++) {
      const hr = o.hiddenRows[base + r];
      if (r <= Sh) h.push(term(r, hr));
      st.push(term(r, o.stateRows ? o.stateRows[base + r] : hr));
      if (cell && r > Sh) {
        const cr = o.cellRows![t * Sc + (r - 1 - Sh)];
        const den = o.divisors[base + r];
        c.push(cr === 0 ? -Infinity : 2 * (logS[r] + Math.log(den)) + Math.log(cr));
      }
    }
    hidden[t] = h.sqrtTotal(probeLog);
    state[t] = o.stateRows ? st.sqrtTotal(probeLog) : hidden[t];
    if (cell) cell[t] = c.sqrtTotal(probeLog);
    for (let r = 1; r <= seeds; r++) logS[r] += Math.log(o.divisors[base + r]);
  }
  return { hidden, state, ...(cell ? { cell } : {}) };
}
