/**
 * The static recurrent spectrum (SPEC.md §4): σ_max of each gate's block of R and Pascanu,
 * Mikolov & Bengio's (2013) conditions σ_max < 1/γ (sufficient for vanishing) and σ_max > 1/γ
 * (necessary for exploding), γ = sup |activation'|.
 */
import type { GateSpectrum, RecurrentOp, SpectrumMetrics } from '../report/types';
import { gemvArena, paddedStride } from './gemv';

/**
 * Relative accuracy asked of λ_max(AᵀA) = σ_max²: the Lanczos loop stops when the Ritz residual
 * ‖M y − θ y‖ = β_k |s_k| ≤ tol · θ, which bounds |λ − θ| ≤ tol · θ for an eigenvalue λ of M;
 * σ_max is then accurate to about tol / 2 (5e-9 relative).
 */
const LANCZOS_TOL = 1e-8;

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
  const apply = gramOperator(matrix, rows, cols);
  return apply ? sigmaMaxOf(Math.min(rows, cols), apply) : NaN;
}

/** σ_max of A by Lanczos, given v ↦ M v for its n × n Gram matrix M; `pause` is called before each step. */
function sigmaMaxOf(n: number, applyGram: (v: Float64Array) => Float64Array, pause?: () => void): number {
  const steps = lanczosSigmaMax(n);
  let next = steps.next();
  while (!next.done) {
    pause?.();
    next = steps.next(applyGram(next.value));
  }
  return next.value;
}

/**
 * The same σ_max with M v supplied by the caller (for instance computed by onnxruntime's
 * MatMul for big matrices): `applyGram(v)` returns M v for M = AᵀA (n = cols ≤ rows) or AAᵀ.
 */
export async function sigmaMaxWith(n: number, applyGram: (v: Float64Array) => Promise<Float64Array>): Promise<number> {
  if (n === 0) return 0;
  const steps = lanczosSigmaMax(n);
  let next = steps.next();
  while (!next.done) next = steps.next(await applyGram(next.value));
  return next.value;
}

/**
 * v ↦ M v for M = AᵀA (n = cols) or AAᵀ (n = rows), never formed: two matrix–vector products,
 * one with A and one with a transposed copy made once, so both are row dot products. They run in
 * WebAssembly SIMD (gemv.ts) where it is available, else in JavaScript. The result may be a view
 * that the next call overwrites (the Lanczos step copies what it keeps); null if A is not finite.
 */
function gramOperator(matrix: Float64Array | Float32Array, rows: number, cols: number): ((v: Float64Array) => Float64Array) | null {
  const n = Math.min(rows, cols);
  const cs = paddedStride(cols);
  const rs = paddedStride(rows);
  const width = Math.max(cs, rs);
  const arena = gemvArena(rows * cs + cols * rs + 3 * width);
  if (arena) {
    const A = arena.alloc(rows * cs);
    const At = arena.alloc(cols * rs);
    if (!copyPadded(matrix, rows, cols, A.view, cs, At.view, rs)) return null;
    // Padding entries of x and tmp are never written, so they stay zero.
    const [x, tmp, out] = [arena.alloc(width), arena.alloc(width), arena.alloc(width)];
    const [first, firstRows, firstStride, second, secondStride] = n === cols ? [A, rows, cs, At, rs] : [At, cols, rs, A, cs];
    return (v) => {
      x.view.set(v);
      arena.gemv(first.offset, firstRows, firstStride, x.offset, tmp.offset);
      arena.gemv(second.offset, n, secondStride, tmp.offset, out.offset);
      return out.view.subarray(0, n);
    };
  }
  const A = new Float64Array(rows * cols);
  const At = new Float64Array(rows * cols);
  if (!copyPadded(matrix, rows, cols, A, cols, At, rows)) return null;
  const tmpJs = new Float64Array(Math.max(rows, cols));
  const [first, firstLen, firstCount, second, secondLen] = n === cols ? [A, cols, rows, At, rows] : [At, rows, cols, A, cols];
  return (v) => {
    const out = new Float64Array(n);
    for (let i = 0; i < firstCount; i++) tmpJs[i] = rowDot(first, i * firstLen, v, firstLen);
    for (let j = 0; j < n; j++) out[j] = rowDot(second, j * secondLen, tmpJs, secondLen);
    return out;
  };
}

/**
 * A row-major rows × cols matrix into A (row stride cs) and its transpose into At (row stride rs),
 * 32 × 32 tiles at a time so the transposed writes stay in cache; false if a value is not finite.
 */
function copyPadded(matrix: Float64Array | Float32Array, rows: number, cols: number, A: Float64Array, cs: number, At: Float64Array, rs: number): boolean {
  let finite = true;
  const TILE = 32;
  for (let i0 = 0; i0 < rows; i0 += TILE) {
    const i1 = Math.min(rows, i0 + TILE);
    for (let j0 = 0; j0 < cols; j0 += TILE) {
      const j1 = Math.min(cols, j0 + TILE);
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) {
          const a = matrix[i * cols + j];
          if (a - a !== 0) finite = false; // NaN or ±∞
          A[i * cs + j] = a;
          At[j * rs + i] = a;
        }
      }
    }
  }
  return finite;
}

/**
 * Lanczos on the n×n Gram matrix M: yields each vector v to multiply, receives M v, returns
 * √λ_max(M) = σ_max. Written as a generator so one algorithm serves a synchronous and an
 * asynchronous multiply.
 */
export function* lanczosSigmaMax(n: number): Generator<Float64Array, number, Float64Array> {
  const state: LanczosState = { n, basis: [], alpha: [], beta: [], v: startVector(n) };
  for (;;) {
    const w = new Float64Array(yield state.v);
    const done = lanczosStep(state, w);
    if (done !== undefined) return done;
  }
}

interface LanczosState {
  n: number;
  basis: Float64Array[];
  alpha: number[];
  beta: number[];
  /** The vector whose product M v is asked for next. */
  v: Float64Array;
}

/**
 * One Lanczos step given w = M v (overwritten): σ_max once converged, else undefined with the
 * next vector in state.v. Kept out of the generator, whose body V8 optimises less well.
 */
function lanczosStep(state: LanczosState, w: Float64Array): number | undefined {
  const { n, basis, alpha, beta } = state;
  const k = basis.length;
  basis.push(state.v);
  alpha.push(dot(state.v, w));
  // Full reorthogonalisation against every earlier basis vector, twice ("twice is enough",
  // Parlett): keeps the Ritz values free of the spurious copies plain Lanczos produces.
  reorthogonalize(basis, w);
  reorthogonalize(basis, w);
  const b = Math.sqrt(dot(w, w));
  const { theta, lastComponent } = largestRitz(alpha, beta);
  if (!(theta > 0)) return Number.isNaN(theta) ? NaN : 0;
  // β ≈ 0: the Krylov space is invariant under M and its Ritz values are exact eigenvalues.
  if (b <= 1e-14 * theta || b * Math.abs(lastComponent) <= LANCZOS_TOL * theta || k === n - 1) {
    return Math.sqrt(theta);
  }
  beta.push(b);
  const next = new Float64Array(n);
  for (let j = 0; j < n; j++) next[j] = w[j] / b;
  state.v = next;
  return undefined;
}

/**
 * Σ_j m[base + j]·x[j] with four partial sums: independent accumulators let the CPU overlap the
 * multiply-adds (about 1.5× faster in V8 than one running sum; the rounding differs by ~1e-16).
 */
function rowDot(m: Float64Array, base: number, x: Float64Array, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    s0 += m[base + j] * x[j];
    s1 += m[base + j + 1] * x[j + 1];
    s2 += m[base + j + 2] * x[j + 2];
    s3 += m[base + j + 3] * x[j + 3];
  }
  for (; j < n; j++) s0 += m[base + j] * x[j];
  return (s0 + s1) + (s2 + s3);
}

/** w ← w − Σ_q (q·w) q over the basis vectors q, one after another (modified Gram–Schmidt). */
function reorthogonalize(basis: readonly Float64Array[], w: Float64Array): void {
  const n = w.length;
  for (let k = 0; k < basis.length; k++) {
    const q = basis[k];
    const c = dot(q, w);
    for (let j = 0; j < n; j++) w[j] -= c * q[j];
  }
}

/** √(a² + b²) without Math.hypot's cost; Math.hypot where squaring could overflow or underflow. */
function hypot(a: number, b: number): number {
  const m = Math.max(Math.abs(a), Math.abs(b));
  if (m > 1e150 || (m < 1e-150 && m > 0)) return Math.hypot(a, b);
  return Math.sqrt(a * a + b * b);
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
      let r = hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = hypot(f, g);
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

/** One matrix whose σ_max the spectrum needs: a gate's H×H block of R, or the whole slice. */
export interface SpectrumBlock {
  /** Gate name, or null for the whole [g·H, H] slice. */
  gate: string | null;
  matrix: Float64Array | Float32Array;
  rows: number;
  cols: number;
}

/** The matrices of one direction's R slice ([g·H, H] row-major, ONNX gate order) whose σ_max are needed. */
export function spectrumBlocks(R: Float64Array | Float32Array, op: RecurrentOp, hiddenSize: number): SpectrumBlock[] {
  const blocks = GATE_BLOCKS[op];
  const H = hiddenSize;
  const g = blocks.length;
  if (R.length !== g * H * H) throw new RangeError(`${op} R slice holds ${R.length} values, [${g}·${H}, ${H}] = ${g * H * H} expected`);
  return [
    ...blocks.map(({ gate }, k) => ({ gate, matrix: R.subarray(k * H * H, (k + 1) * H * H), rows: H, cols: H })),
    { gate: null, matrix: R, rows: g * H, cols: H },
  ];
}

/**
 * The spectrum from the σ_max of spectrumBlocks(…), in that order. `activations` are this
 * direction's names (LSTM [f, g, h], GRU [f, g], RNN [f]; empty = the ONNX defaults),
 * `activationParams` their alpha/beta, index for index. LSTM i, o, f and GRU z, r use f; LSTM c
 * and GRU h use g; the RNN block uses f.
 */
export function assembleSpectrum(
  op: RecurrentOp,
  sigmas: readonly number[],
  activations: readonly string[],
  activationParams: readonly ActivationParams[] = [],
): SpectrumMetrics {
  const blocks = GATE_BLOCKS[op];
  const names = activations.length > 0 ? activations : DEFAULT_ACTIVATIONS[op];
  const gates: GateSpectrum[] = blocks.map(({ gate, activation: index }, k) => {
    const sigma = sigmas[k];
    const activation = names[index] ?? DEFAULT_ACTIVATIONS[op][index];
    const gamma = activationDerivativeBound(activation, activationParams[index]);
    const known = gamma !== null && Number.isFinite(sigma);
    // σ_max is exact only to the solver's tolerance: within it of 1/γ, neither condition is claimed.
    const bound = known ? 1 / gamma : NaN;
    const slack = LANCZOS_TOL * bound;
    return {
      gate,
      sigmaMax: sigma,
      activation,
      gamma,
      sufficientForVanishing: known ? sigma < bound - slack : null,
      necessaryForExplodingMet: known ? sigma > bound + slack : null,
    };
  });
  return { sigmaMaxAll: sigmas[blocks.length], gates };
}

/**
 * The whole spectrum of one direction's R slice, σ_max computed here (see assembleSpectrum).
 * `pause`, called before every Lanczos step, may block (the helper thread waits there while
 * onnxruntime runs).
 */
export function recurrentSpectrum(
  R: Float64Array | Float32Array,
  op: RecurrentOp,
  hiddenSize: number,
  activations: readonly string[],
  activationParams: readonly ActivationParams[] = [],
  pause?: () => void,
): SpectrumMetrics {
  const blocks = spectrumBlocks(R, op, hiddenSize);
  const H = hiddenSize;
  if (H === 0) return assembleSpectrum(op, blocks.map(() => 0), activations, activationParams);
  // The gate blocks' Gram operators also give the whole slice's: RᵀR v = Σ_g R_gᵀ(R_g v).
  const gates = blocks.filter((b) => b.gate !== null).map((b) => gramOperator(b.matrix, H, H));
  const sigmas = gates.map((apply) => (apply ? sigmaMaxOf(H, apply, pause) : NaN));
  const whole = gates.every((apply) => apply !== null)
    ? sigmaMaxOf(H, (v) => {
      const sum = new Float64Array(H);
      for (const apply of gates) {
        const part = apply!(v);
        for (let j = 0; j < H; j++) sum[j] += part[j];
      }
      return sum;
    }, pause)
    : NaN;
  return assembleSpectrum(op, [...sigmas, whole], activations, activationParams);
}
