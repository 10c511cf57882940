/**
 * The static recurrent spectrum (SPEC.md §4): σ_max of each gate's block of R and Pascanu,
 * Mikolov & Bengio's (2013) conditions σ_max < 1/γ (sufficient for vanishing) and σ_max > 1/γ
 * (necessary for exploding), γ = sup |activation'|.
 */
import type { GateSpectrum, RecurrentOp, SpectrumMetrics } from '../report/types';

/**
 * Relative accuracy asked of λ_max(AᵀA) = σ_max²: the Lanczos loop stops when the Ritz residual
 * ‖M y − θ y‖ = β_k |s_k| ≤ tol · θ, which bounds |λ − θ| ≤ tol · θ for an eigenvalue λ of M;
 * σ_max is then accurate to about tol / 2 (5e-11 relative).
 */
const LANCZOS_TOL = 1e-10;

/**
 * The largest singular value of a row-major rows × cols matrix.
 *
 * Lanczos with full reorthogonalisation on the Gram matrix of the shorter side (AᵀA, or AAᵀ when
 * rows < cols), started from a fixed pseudo-random vector, so the result is deterministic. Unlike
 * power iteration, its convergence does not stall when the top singular values are close: a
 * Krylov space of dimension k separates λ₁ from λ₂ once the polynomial that vanishes at λ₂ grows
 * fast enough on the rest of the spectrum. When all singular values are equal (orthogonal
 * matrices) the first step spans an invariant subspace and the loop ends at once. At the latest
 * it ends with the Krylov space the whole space, where the Ritz values are the eigenvalues.
 * Returns NaN when the matrix holds a non-finite value, 0 for an empty or zero matrix.
 */
export function sigmaMax(matrix: Float64Array | Float32Array, rows: number, cols: number): number {
  if (matrix.length !== rows * cols) throw new RangeError(`sigmaMax: ${matrix.length} values for a ${rows}×${cols} matrix`);
  if (rows === 0 || cols === 0) return 0;
  for (let i = 0; i < matrix.length; i++) if (!Number.isFinite(matrix[i])) return NaN;

  // One monomorphic float64 copy keeps the inner loops fast whatever array type came in.
  const a = matrix instanceof Float64Array ? matrix : Float64Array.from(matrix);
  const n = Math.min(rows, cols);
  // M v for M = AᵀA (n = cols) or AAᵀ (n = rows), never formed.
  const applyGram = n === cols
    ? (v: Float64Array, out: Float64Array): void => gramOfColumns(a, rows, cols, v, out)
    : (v: Float64Array, out: Float64Array): void => gramOfRows(a, rows, cols, v, out, new Float64Array(cols));

  const basis: Float64Array[] = [];
  const alpha: number[] = [];
  const beta: number[] = [];
  let v = startVector(n);
  const w = new Float64Array(n);
  let normEstimate = 0;
  for (let k = 0; k < n; k++) {
    basis.push(v);
    applyGram(v, w);
    const ak = dot(v, w);
    alpha.push(ak);
    // w ⊥ every basis vector: this includes the three-term step w −= α_k v_k + β_{k−1} v_{k−1}, and
    // is done twice ("twice is enough", Parlett) so the Ritz values stay free of the spurious
    // copies plain Lanczos produces in floating point.
    for (let pass = 0; pass < 2; pass++) {
      for (const q of basis) {
        const c = dot(q, w);
        for (let j = 0; j < n; j++) w[j] -= c * q[j];
      }
    }
    const b = Math.sqrt(dot(w, w));
    // ‖T_k‖ ≤ ‖M‖ bounds the scale for the breakdown test.
    normEstimate = Math.max(normEstimate, Math.abs(ak) + b + (k > 0 ? beta[k - 1] : 0));
    // β ≈ 0: the Krylov space is invariant under M and its Ritz values are exact eigenvalues.
    const breakdown = b <= 1e-14 * normEstimate;
    // The O(k²) Ritz check runs every step at first, then every 4th, so a long run stays O(k·n) per step.
    if (breakdown || k === n - 1 || k < 64 || k % 4 === 3) {
      const { theta, lastComponent } = largestRitz(alpha, beta);
      if (breakdown || k === n - 1 || b * Math.abs(lastComponent) <= LANCZOS_TOL * theta) return Math.sqrt(Math.max(theta, 0));
    }
    beta.push(b);
    const next = new Float64Array(n);
    for (let j = 0; j < n; j++) next[j] = w[j] / b;
    v = next;
  }
  return NaN; // unreachable: the loop returns at k = n − 1
}

/**
 * out = AᵀA v = Σ_i a_i (a_i · v) over the rows a_i of A: one pass over A, four rows at a time
 * (each row is used twice while in cache, and out is loaded and stored once per four rows).
 */
function gramOfColumns(a: Float64Array, rows: number, cols: number, v: Float64Array, out: Float64Array): void {
  out.fill(0);
  let i = 0;
  for (; i + 4 <= rows; i += 4) {
    const b0 = i * cols, b1 = b0 + cols, b2 = b1 + cols, b3 = b2 + cols;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let j = 0; j < cols; j++) {
      const x = v[j];
      s0 += a[b0 + j] * x;
      s1 += a[b1 + j] * x;
      s2 += a[b2 + j] * x;
      s3 += a[b3 + j] * x;
    }
    for (let j = 0; j < cols; j++) out[j] += a[b0 + j] * s0 + a[b1 + j] * s1 + a[b2 + j] * s2 + a[b3 + j] * s3;
  }
  for (; i < rows; i++) {
    const b0 = i * cols;
    let s0 = 0;
    for (let j = 0; j < cols; j++) s0 += a[b0 + j] * v[j];
    for (let j = 0; j < cols; j++) out[j] += a[b0 + j] * s0;
  }
}

/** out = AAᵀ v: u = Aᵀ v = Σ_i v_i a_i, then out_i = a_i · u; four rows at a time as above. */
function gramOfRows(a: Float64Array, rows: number, cols: number, v: Float64Array, out: Float64Array, u: Float64Array): void {
  let i = 0;
  for (; i + 4 <= rows; i += 4) {
    const b0 = i * cols, b1 = b0 + cols, b2 = b1 + cols, b3 = b2 + cols;
    const w0 = v[i], w1 = v[i + 1], w2 = v[i + 2], w3 = v[i + 3];
    for (let j = 0; j < cols; j++) u[j] += a[b0 + j] * w0 + a[b1 + j] * w1 + a[b2 + j] * w2 + a[b3 + j] * w3;
  }
  for (; i < rows; i++) {
    const b0 = i * cols;
    const w0 = v[i];
    for (let j = 0; j < cols; j++) u[j] += a[b0 + j] * w0;
  }
  i = 0;
  for (; i + 4 <= rows; i += 4) {
    const b0 = i * cols, b1 = b0 + cols, b2 = b1 + cols, b3 = b2 + cols;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let j = 0; j < cols; j++) {
      const x = u[j];
      s0 += a[b0 + j] * x;
      s1 += a[b1 + j] * x;
      s2 += a[b2 + j] * x;
      s3 += a[b3 + j] * x;
    }
    out[i] = s0;
    out[i + 1] = s1;
    out[i + 2] = s2;
    out[i + 3] = s3;
  }
  for (; i < rows; i++) {
    const b0 = i * cols;
    let s0 = 0;
    for (let j = 0; j < cols; j++) s0 += a[b0 + j] * u[j];
    out[i] = s0;
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** A fixed unit vector with pseudo-random entries (xorshift32), so no matrix is orthogonal to it by design. */
function startVector(n: number): Float64Array {
  const v = new Float64Array(n);
  let x = 0x2545f491;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v[i] = (x >>> 0) / 4294967296 - 0.5;
    norm += v[i] * v[i];
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < n; i++) v[i] /= norm;
  return v;
}

/**
 * The largest eigenvalue θ of the symmetric tridiagonal matrix with diagonal `diag` and
 * off-diagonal `off`, and the last component s_k of its unit eigenvector (the Ritz residual is
 * β_k · |s_k|). Implicit QL with Wilkinson shifts (the tql2 / tqli algorithm), accumulating only
 * the last row of the eigenvector matrix, which the rotations update independently of the others.
 */
function largestRitz(diag: readonly number[], off: readonly number[]): { theta: number; lastComponent: number } {
  const n = diag.length;
  const d = Float64Array.from(diag);
  const e = new Float64Array(n);
  for (let i = 0; i < n - 1; i++) e[i] = off[i];
  const z = new Float64Array(n);
  z[n - 1] = 1;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    for (;;) {
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= Number.EPSILON * dd) break;
      }
      if (m === l) break;
      if (++iter > 100) break; // never seen for symmetric tridiagonals; keep the current estimate
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] -= p;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        const zf = z[i + 1];
        z[i + 1] = s * z[i] + c * zf;
        z[i] = c * z[i] - s * zf;
      }
      if (underflow) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
  let best = 0;
  for (let i = 1; i < n; i++) if (d[i] > d[best]) best = i;
  return { theta: d[best], lastComponent: z[best] };
}

export interface ActivationParams {
  alpha?: number;
  beta?: number;
}

/**
 * γ = sup_x |φ'(x)| of an ONNX recurrent activation φ (names as in the op's `activations`
 * attribute, case-insensitive), null when unknown. Missing alpha/beta take onnxruntime's defaults
 * (LeakyRelu 0.01, HardSigmoid 0.2, Elu 1, Affine 1, ScaledTanh 1 and 1):
 *   Sigmoid ¼ · Tanh, Relu, Softsign (1/(1+|x|)²), Softplus (its derivative is the sigmoid),
 *   ThresholdedRelu 1 · LeakyRelu max(1, |α|) · HardSigmoid |α| · Affine |α| · ScaledTanh |α·β| ·
 *   Elu max(1, |α|) (α·eˣ → α as x → 0⁻).
 */
export function activationDerivativeBound(name: string, params: ActivationParams = {}): number | null {
  const { alpha, beta } = params;
  switch (name.toLowerCase()) {
    case 'sigmoid': return 0.25;
    case 'tanh':
    case 'relu':
    case 'softsign':
    case 'softplus':
    case 'thresholdedrelu':
      return 1;
    case 'leakyrelu': return Math.max(1, Math.abs(alpha ?? 0.01));
    case 'hardsigmoid': return Math.abs(alpha ?? 0.2);
    case 'elu': return Math.max(1, Math.abs(alpha ?? 1));
    case 'affine': return Math.abs(alpha ?? 1);
    case 'scaledtanh': return Math.abs((alpha ?? 1) * (beta ?? 1));
    default: return null;
  }
}

/** Gate blocks of R in ONNX order, with the index of the activation (f = 0, g = 1) each uses. */
const GATE_BLOCKS: Record<RecurrentOp, readonly { gate: string; activation: number }[]> = {
  LSTM: [
    { gate: 'input', activation: 0 },
    { gate: 'output', activation: 0 },
    { gate: 'forget', activation: 0 },
    { gate: 'cell', activation: 1 },
  ],
  GRU: [
    { gate: 'update', activation: 0 },
    { gate: 'reset', activation: 0 },
    { gate: 'hidden', activation: 1 },
  ],
  RNN: [{ gate: 'hidden', activation: 0 }],
};

/** The ONNX defaults of `activations`: LSTM (Sigmoid, Tanh, Tanh), GRU (Sigmoid, Tanh), RNN (Tanh). */
const DEFAULT_ACTIVATIONS: Record<RecurrentOp, readonly string[]> = {
  LSTM: ['Sigmoid', 'Tanh', 'Tanh'],
  GRU: ['Sigmoid', 'Tanh'],
  RNN: ['Tanh'],
};

/**
 * The spectrum of one direction's R slice, [g·H, H] row-major in ONNX gate order (LSTM i,o,f,c;
 * GRU z,r,h; RNN one block). `activations` are this direction's names (LSTM [f, g, h], GRU [f, g],
 * RNN [f]; empty = the ONNX defaults), `activationParams` their alpha/beta, index for index.
 * LSTM i, o, f and GRU z, r use f; LSTM c and GRU h use g; the RNN block uses f.
 */
export function recurrentSpectrum(
  R: Float64Array | Float32Array,
  op: RecurrentOp,
  hiddenSize: number,
  activations: readonly string[],
  activationParams: readonly ActivationParams[] = [],
): SpectrumMetrics {
  const blocks = GATE_BLOCKS[op];
  const H = hiddenSize;
  const g = blocks.length;
  if (R.length !== g * H * H) throw new RangeError(`${op} R slice holds ${R.length} values, [${g}·${H}, ${H}] = ${g * H * H} expected`);
  const names = activations.length > 0 ? activations : DEFAULT_ACTIVATIONS[op];
  const gates: GateSpectrum[] = blocks.map(({ gate, activation: index }, k) => {
    const sigma = sigmaMax(R.subarray(k * H * H, (k + 1) * H * H), H, H);
    const activation = names[index] ?? DEFAULT_ACTIVATIONS[op][index];
    const gamma = activationDerivativeBound(activation, activationParams[index]);
    const known = gamma !== null && Number.isFinite(sigma);
    return {
      gate,
      sigmaMax: sigma,
      activation,
      gamma,
      sufficientForVanishing: known ? sigma < 1 / gamma : null,
      necessaryForExplodingMet: known ? sigma > 1 / gamma : null,
    };
  });
  return { sigmaMaxAll: sigmaMax(R, g * H, H), gates };
}
