/**
 * The WebAssembly matrix–vector kernel of the spectrum (metrics/gemv.ts) against a plain float64
 * loop, and σ_max with the kernel against σ_max with the JavaScript fallback.
 */
import * as assert from 'assert';
import { gemvArena, gemvSettings, paddedStride } from '../../src/metrics/gemv';
import { recurrentSpectrum, sigmaMax } from '../../src/metrics/spectrum';
import { SeededRandom } from '../../src/inputs/random';

describe('metrics: WebAssembly gemv', () => {
  it('is available in this Node', () => {
    assert.ok(gemvArena(16), 'WebAssembly SIMD did not load; the spectrum would fall back to JavaScript');
  });

  for (const [rows, cols] of [[1, 1], [7, 13], [64, 64], [33, 4], [5, 130]]) {
    it(`y = A x for a ${rows} × ${cols} matrix (rows padded to stride ${paddedStride(cols)})`, () => {
      const stride = paddedStride(cols);
      const rnd = SeededRandom.forInput(rows * 1000 + cols, 'gemv');
      const a = Float64Array.from(rnd.normal(rows * cols));
      const x = Float64Array.from(rnd.normal(cols));
      const arena = gemvArena(rows * stride + stride + rows)!;
      const A = arena.alloc(rows * stride);
      const X = arena.alloc(stride);
      const Y = arena.alloc(rows);
      for (let i = 0; i < rows; i++) A.view.set(a.subarray(i * cols, (i + 1) * cols), i * stride);
      X.view.set(x);
      arena.gemv(A.offset, rows, stride, X.offset, Y.offset);
      for (let i = 0; i < rows; i++) {
        let s = 0;
        let scale = 0;
        for (let j = 0; j < cols; j++) { s += a[i * cols + j] * x[j]; scale += Math.abs(a[i * cols + j] * x[j]); }
        // Different summation orders: |Δ| ≤ n·ε·Σ|aᵢⱼxⱼ|.
        assert.ok(Math.abs(Y.view[i] - s) <= cols * 2.3e-16 * scale, `row ${i}: ${Y.view[i]} vs ${s}`);
      }
    });
  }

  it('an arena refuses to hand out more than it holds', () => {
    const arena = gemvArena(10)!;
    arena.alloc(8);
    assert.throws(() => arena.alloc(3), RangeError);
  });

  it('σ_max and the recurrent spectrum agree with the JavaScript fallback', () => {
    const H = 24;
    const R = Float64Array.from(SeededRandom.forInput(5, 'spectrum').normal(4 * H * H));
    const withKernel = { one: sigmaMax(R, 4 * H, H), all: recurrentSpectrum(R, 'LSTM', H, []) };
    gemvSettings.enabled = false;
    try {
      const fallback = { one: sigmaMax(R, 4 * H, H), all: recurrentSpectrum(R, 'LSTM', H, []) };
      // Both stop at the Lanczos tolerance (1e-8 on σ², 5e-9 on σ) on identical Krylov spaces up to rounding.
      assert.ok(Math.abs(withKernel.one / fallback.one - 1) < 1e-10, `${withKernel.one} vs ${fallback.one}`);
      assert.ok(Math.abs(withKernel.all.sigmaMaxAll / fallback.all.sigmaMaxAll - 1) < 1e-10);
      withKernel.all.gates.forEach((g, k) => assert.ok(Math.abs(g.sigmaMax / fallback.all.gates[k].sigmaMax - 1) < 1e-10, g.gate));
      assert.ok(Math.abs(withKernel.all.sigmaMaxAll / withKernel.one - 1) < 1e-8, 'the whole slice from the gate blocks = σ_max of R');
    } finally {
      gemvSettings.enabled = true;
    }
  });
});
