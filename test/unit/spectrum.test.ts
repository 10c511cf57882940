import * as assert from 'assert';
import { activationDerivativeBound, recurrentSpectrum, sigmaMax } from '../../src/metrics/spectrum';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function gaussian(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

/**
 * One-sided Jacobi SVD (Hestenes): rotate column pairs of a copy of A until all are mutually
 * orthogonal; the singular values are then the column norms. Slow and simple: the oracle for small sizes.
 */
function jacobiSingularValues(a: Float64Array, rows: number, cols: number): number[] {
  // Work on the orientation with fewer columns.
  let m = rows, n = cols;
  let u: number[][];
  if (cols <= rows) {
    u = Array.from({ length: n }, (_, j) => Array.from({ length: m }, (_, i) => a[i * cols + j]));
  } else {
    m = cols;
    n = rows;
    u = Array.from({ length: n }, (_, i) => Array.from({ length: m }, (_, j) => a[i * cols + j]));
  }
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < m; i++) {
          alpha += u[p][i] * u[p][i];
          beta += u[q][i] * u[q][i];
          gamma += u[p][i] * u[q][i];
        }
        if (gamma === 0) continue;
        off = Math.max(off, Math.abs(gamma) / Math.sqrt(alpha * beta));
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < m; i++) {
          const x = u[p][i], y = u[q][i];
          u[p][i] = c * x - s * y;
          u[q][i] = s * x + c * y;
        }
      }
    }
    if (off < 1e-15) break;
  }
  return u.map((col) => Math.sqrt(col.reduce((s, x) => s + x * x, 0))).sort((x, y) => y - x);
}

/** A random unit vector (the direction of a Householder reflection I − 2vvᵀ). */
function unitVector(n: number, rnd: () => number): Float64Array {
  const v = new Float64Array(n);
  let norm = 0;
  for (let i = 0; i < n; i++) {
    v[i] = gaussian(rnd);
    norm += v[i] * v[i];
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < n; i++) v[i] /= norm;
  return v;
}

/**
 * A = Q_L · diag(s) · Q_R (n×n, row-major) with Q_L, Q_R products of k Householder reflections:
 * exactly orthogonal factors, so the singular values of A are |s| up to rounding.
 */
function withSingularValues(s: number[], rnd: () => number, k = 3, right?: Float64Array[]): { a: Float64Array; right: Float64Array[] } {
  const n = s.length;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) a[i * n + i] = s[i];
  const left = Array.from({ length: k }, () => unitVector(n, rnd));
  const rightVs = right ?? Array.from({ length: k }, () => unitVector(n, rnd));
  // A ← (I − 2vvᵀ) A for each left reflection: column by column.
  for (const v of left) {
    for (let j = 0; j < n; j++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += v[i] * a[i * n + j];
      for (let i = 0; i < n; i++) a[i * n + j] -= 2 * v[i] * d;
    }
  }
  // A ← A (I − 2vvᵀ) for each right reflection: row by row.
  for (const v of rightVs) {
    for (let i = 0; i < n; i++) {
      let d = 0;
      for (let j = 0; j < n; j++) d += a[i * n + j] * v[j];
      for (let j = 0; j < n; j++) a[i * n + j] -= 2 * d * v[j];
    }
  }
  return { a, right: rightVs };
}

function assertRel(got: number, want: number, rel: number, what = ''): void {
  assert.ok(Math.abs(got - want) <= rel * Math.abs(want), `${what} ${got} vs ${want} (rel ${Math.abs(got - want) / Math.abs(want)})`);
}

describe('metrics: sigmaMax', () => {
  it('diagonal matrices: the largest |d_i|', () => {
    assertRel(sigmaMax(Float64Array.from([2, 0, 0, 0, -5, 0, 0, 0, 3]), 3, 3), 5, 1e-14);
    assertRel(sigmaMax(Float64Array.from([7]), 1, 1), 7, 1e-15);
    const d = Array.from({ length: 50 }, (_, i) => (i === 17 ? -4 : Math.sin(i)));
    const big = new Float64Array(50 * 50);
    d.forEach((x, i) => (big[i * 50 + i] = x));
    assertRel(sigmaMax(big, 50, 50), 4, 1e-13);
    assertRel(sigmaMax(Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), 3, 3), 1, 1e-15);
  });

  it('rotation × scale: every singular value equals the scale', () => {
    for (const angle of [0, 0.3, Math.PI / 2, 2.5]) {
      const c = Math.cos(angle), s = Math.sin(angle);
      assertRel(sigmaMax(Float64Array.from([3 * c, -3 * s, 3 * s, 3 * c]), 2, 2), 3, 1e-14, `angle ${angle}`);
    }
    // A 100×100 orthogonal matrix times 0.7: all 100 singular values equal.
    const rnd = lcg(3);
    const { a } = withSingularValues(new Array<number>(100).fill(0.7), rnd);
    assertRel(sigmaMax(a, 100, 100), 0.7, 1e-13);
  });

  it('vectors: a row or a column gives the Euclidean norm', () => {
    const v = Float64Array.from([3, 4, 12]);
    assertRel(sigmaMax(v, 1, 3), 13, 1e-15);
    assertRel(sigmaMax(v, 3, 1), 13, 1e-15);
  });

  it('random matrices of many shapes agree with a one-sided Jacobi SVD', () => {
    const rnd = lcg(11);
    const shapes: [number, number][] = [[2, 2], [3, 5], [5, 3], [8, 8], [12, 4], [4, 12], [10, 10], [16, 16], [20, 7]];
    for (const [rows, cols] of shapes) {
      for (let trial = 0; trial < 3; trial++) {
        const a = Float64Array.from({ length: rows * cols }, () => gaussian(rnd));
        assertRel(sigmaMax(a, rows, cols), jacobiSingularValues(a, rows, cols)[0], 1e-10, `${rows}×${cols}`);
      }
    }
  });

  it('float32 input and rank-deficient matrices', () => {
    const rnd = lcg(5);
    const f = Float32Array.from({ length: 6 * 4 }, () => gaussian(rnd));
    assertRel(sigmaMax(f, 6, 4), jacobiSingularValues(Float64Array.from(f), 6, 4)[0], 1e-10);
    // Rank 1: u vᵀ has σ_max = ‖u‖‖v‖.
    const u = [1, 2, 2], w = [3, 4];
    const r1 = Float64Array.from(u.flatMap((x) => w.map((y) => x * y)));
    assertRel(sigmaMax(r1, 3, 2), 15, 1e-14);
  });

  it('near-degenerate top singular values (σ₂ = σ₁(1 − 1e-8), 1 − 1e-6, a cluster) stay accurate to 1e-9', () => {
    const rnd = lcg(17);
    const n = 120;
    for (const gap of [1e-8, 1e-6, 1e-4]) {
      const s = Array.from({ length: n }, (_, i) => (i === 0 ? 1 : i === 1 ? 1 - gap : 0.99 * rnd()));
      const { a } = withSingularValues(s, rnd);
      assertRel(sigmaMax(a, n, n), 1, 1e-9, `gap ${gap}`);
    }
    const cluster = Array.from({ length: n }, (_, i) => (i < 10 ? 2 - i * 1e-7 : 2 * rnd()));
    const { a } = withSingularValues(cluster, rnd);
    assertRel(sigmaMax(a, n, n), 2, 1e-9, 'cluster');
  });

  it('H = 1024 with a known spectrum (top two 1e-7 apart)', () => {
    const rnd = lcg(23);
    const n = 1024;
    const s = Array.from({ length: n }, (_, i) => (i === 0 ? 10 : i === 1 ? 10 * (1 - 1e-7) : 9 * rnd()));
    const { a } = withSingularValues(s, rnd, 2);
    assertRel(sigmaMax(a, n, n), 10, 1e-9);
  });

  it('zero, empty and non-finite matrices', () => {
    assert.strictEqual(sigmaMax(new Float64Array(12), 3, 4), 0);
    assert.strictEqual(sigmaMax(new Float64Array(0), 0, 5), 0);
    assert.ok(Number.isNaN(sigmaMax(Float64Array.from([1, NaN, 0, 1]), 2, 2)));
    assert.ok(Number.isNaN(sigmaMax(Float64Array.from([1, Infinity, 0, 1]), 2, 2)));
    assert.throws(() => sigmaMax(new Float64Array(5), 2, 3), RangeError);
  });
});

/** Reference implementations of the ONNX recurrent activations (ONNX LSTM/GRU/RNN operator text). */
const ACTIVATIONS: Record<string, (x: number, alpha: number, beta: number) => number> = {
  Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  Tanh: (x) => Math.tanh(x),
  Relu: (x) => Math.max(0, x),
  Affine: (x, a, b) => a * x + b,
  LeakyRelu: (x, a) => (x >= 0 ? x : a * x),
  ThresholdedRelu: (x, a) => (x >= a ? x : 0),
  ScaledTanh: (x, a, b) => a * Math.tanh(b * x),
  HardSigmoid: (x, a, b) => Math.min(Math.max(a * x + b, 0), 1),
  Elu: (x, a) => (x >= 0 ? x : a * (Math.exp(x) - 1)),
  Softsign: (x) => x / (1 + Math.abs(x)),
  Softplus: (x) => Math.log(1 + Math.exp(x)),
};

describe('metrics: activation derivative bound γ', () => {
  it('equals sup |φ′| measured by central differences on a fine grid', () => {
    const params: [string, number, number][] = [
      ['Sigmoid', 0, 0], ['Tanh', 0, 0], ['Relu', 0, 0], ['Affine', -2.5, 1], ['LeakyRelu', 0.01, 0], ['LeakyRelu', -3, 0],
      ['ThresholdedRelu', 1, 0], ['ScaledTanh', 1.5, -0.5], ['HardSigmoid', 0.2, 0.5], ['HardSigmoid', 3, 0.5],
      ['Elu', 1, 0], ['Elu', 2.5, 0], ['Elu', 0.5, 0], ['Softsign', 0, 0], ['Softplus', 0, 0],
    ];
    for (const [name, alpha, beta] of params) {
      const phi = ACTIVATIONS[name];
      const h = 1e-6;
      let sup = 0;
      // Grid points avoid the kinks (0, and the ThresholdedRelu jump at α), where φ′ has no value.
      for (let x = -30.000123; x < 30; x += 0.001) {
        if (Math.abs(x) < 2 * h || Math.abs(x - alpha) < 2 * h) continue;
        if (name === 'HardSigmoid' && (Math.abs(alpha * x + beta) < 2 * h * Math.abs(alpha) || Math.abs(alpha * x + beta - 1) < 2 * h * Math.abs(alpha))) continue;
        sup = Math.max(sup, Math.abs(phi(x + h, alpha, beta) - phi(x - h, alpha, beta)) / (2 * h));
      }
      const gamma = activationDerivativeBound(name, { alpha, beta });
      assert.ok(gamma !== null);
      // Elu's α·eˣ only approaches α as x → 0⁻ and Softplus' sigmoid approaches 1: the grid gets within 1e-3.
      assert.ok(Math.abs(gamma - sup) < 2e-3 * Math.max(1, gamma), `${name}(${alpha}, ${beta}): γ ${gamma}, measured ${sup}`);
    }
  });

  it('defaults, case-insensitive names and unknown activations', () => {
    assert.strictEqual(activationDerivativeBound('sigmoid'), 0.25);
    assert.strictEqual(activationDerivativeBound('TANH'), 1);
    assert.strictEqual(activationDerivativeBound('HardSigmoid'), 0.2);
    assert.strictEqual(activationDerivativeBound('LeakyRelu'), 1);
    assert.strictEqual(activationDerivativeBound('Elu'), 1);
    assert.strictEqual(activationDerivativeBound('Affine'), 1);
    assert.strictEqual(activationDerivativeBound('ScaledTanh', { alpha: 2 }), 2);
    assert.strictEqual(activationDerivativeBound('Gelu'), null);
  });
});

describe('metrics: recurrentSpectrum', () => {
  it('calls pause before every Lanczos step and gives the same spectrum', () => {
    const rnd = lcg(7);
    const H = 16;
    const R = Float64Array.from({ length: 3 * H * H }, () => rnd() - 0.5);
    const plain = recurrentSpectrum(R, 'GRU', H, []);
    let pauses = 0;
    const paused = recurrentSpectrum(R, 'GRU', H, [], [], () => { pauses++; });
    assert.deepStrictEqual(paused, plain);
    // Three gate blocks and the whole slice, each at least one step.
    assert.ok(pauses >= 4, `${pauses} pauses`);
  });

  it('LSTM: gate blocks in ONNX order i, o, f, c, and σ_max of the stacked slice in closed form', () => {
    // Blocks A_k = Q_k diag(s_k) V share the right factor V, so AᵀA = Vᵀ diag(Σ_k s_k²) V and
    // σ_max(whole) = max_i √(Σ_k s_k[i]²).
    const rnd = lcg(29);
    const H = 24;
    const spectra = [0, 1, 2, 3].map((k) => Array.from({ length: H }, (_, i) => (i === k ? 5 - k : rnd())));
    let right: Float64Array[] | undefined;
    const R = new Float64Array(4 * H * H);
    spectra.forEach((s, k) => {
      const block = withSingularValues(s, rnd, 3, right);
      right = block.right;
      R.set(block.a, k * H * H);
    });
    const spec = recurrentSpectrum(R, 'LSTM', H, []);
    assert.deepStrictEqual(spec.gates.map((g) => g.gate), ['input', 'output', 'forget', 'cell']);
    spec.gates.forEach((g, k) => assertRel(g.sigmaMax, 5 - k, 1e-10, g.gate));
    const all = Math.max(...Array.from({ length: H }, (_, i) => Math.sqrt(spectra.reduce((acc, s) => acc + s[i] * s[i], 0))));
    assertRel(spec.sigmaMaxAll, all, 1e-10, 'all');
    // Defaults (Sigmoid, Tanh, Tanh): i, o, f use γ = ¼ (threshold 4), c uses γ = 1.
    assert.deepStrictEqual(spec.gates.map((g) => [g.activation, g.gamma]), [['Sigmoid', 0.25], ['Sigmoid', 0.25], ['Sigmoid', 0.25], ['Tanh', 1]]);
    // σ = 5, 4, 3, 2 against 1/γ = 4, 4, 4, 1.
    assert.deepStrictEqual(spec.gates.map((g) => g.sufficientForVanishing), [false, false, true, false]);
    assert.deepStrictEqual(spec.gates.map((g) => g.necessaryForExplodingMet), [true, false, false, true]);
  });

  it('GRU: update, reset use f; hidden uses g, with activation parameters', () => {
    const H = 3;
    const R = new Float64Array(3 * H * H);
    [0.5, 1.5, 0.2].forEach((d, k) => {
      for (let i = 0; i < H; i++) R[k * H * H + i * H + i] = i === 0 ? d : d / 2;
    });
    const spec = recurrentSpectrum(R, 'GRU', H, ['HardSigmoid', 'LeakyRelu'], [{ alpha: 0.5, beta: 0.1 }, { alpha: 3 }]);
    assert.deepStrictEqual(spec.gates.map((g) => g.gate), ['update', 'reset', 'hidden']);
    spec.gates.forEach((g, k) => assertRel(g.sigmaMax, [0.5, 1.5, 0.2][k], 1e-14, g.gate));
    assert.deepStrictEqual(spec.gates.map((g) => g.gamma), [0.5, 0.5, 3]);
    // 1/γ = 2, 2, 1/3.
    assert.deepStrictEqual(spec.gates.map((g) => g.sufficientForVanishing), [true, true, true]);
    assert.deepStrictEqual(spec.gates.map((g) => g.necessaryForExplodingMet), [false, false, false]);
    // Diagonal blocks stack to AᵀA = diag(Σ_k d_k²): σ_all = √(0.5² + 1.5² + 0.2²).
    assertRel(spec.sigmaMaxAll, Math.sqrt(0.25 + 2.25 + 0.04), 1e-14);
  });

  it('RNN: one block named hidden; an unknown activation leaves the conditions null', () => {
    const R = Float64Array.from([0, 2, -2, 0]);
    const relu = recurrentSpectrum(R, 'RNN', 2, ['Relu']);
    assert.strictEqual(relu.gates.length, 1);
    assert.strictEqual(relu.gates[0].gate, 'hidden');
    assertRel(relu.gates[0].sigmaMax, 2, 1e-15);
    assertRel(relu.sigmaMaxAll, 2, 1e-15);
    assert.strictEqual(relu.gates[0].necessaryForExplodingMet, true);
    const unknown = recurrentSpectrum(R, 'RNN', 2, ['Swish']);
    assert.strictEqual(unknown.gates[0].gamma, null);
    assert.strictEqual(unknown.gates[0].sufficientForVanishing, null);
    assert.strictEqual(unknown.gates[0].necessaryForExplodingMet, null);
    assert.throws(() => recurrentSpectrum(new Float64Array(5), 'RNN', 2, []), RangeError);
  });
});
