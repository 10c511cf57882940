/**
 * σ_max with onnxruntime doing the Gram multiplications (used for blocks of R from H = 256 up)
 * equals the JavaScript Lanczos and closed forms.
 */
import * as assert from 'assert';
import { OrtRuntime } from '../../src/runtime/ortRuntime';
import { GRAM_SESSION_MIN_ENTRIES, sigmaMaxOf } from '../../src/runtime/gramSession';
import { sigmaMax } from '../../src/metrics/spectrum';
import { SeededRandom } from '../../src/inputs/random';

describe('σ_max through onnxruntime', function () {
  this.timeout(60000);
  const runtime = new OrtRuntime({ enter: () => undefined, exit: () => undefined });
  after(() => runtime.releaseAll());

  for (const [rows, cols] of [[300, 300], [1200, 300], [300, 1200]]) {
    it(`a random ${rows}×${cols} matrix: same σ_max as the JavaScript multiply`, async () => {
      assert.ok(rows * cols >= GRAM_SESSION_MIN_ENTRIES, 'the test must exercise the onnxruntime path');
      const A = Float64Array.from(SeededRandom.forInput(rows, `gram${cols}`).normal(rows * cols));
      const viaOrt = await sigmaMaxOf(runtime, 'cpu', A, rows, cols);
      const viaJs = sigmaMax(A, rows, cols);
      assert.ok(Math.abs(viaOrt - viaJs) <= 1e-8 * viaJs, `${viaOrt} vs ${viaJs}`);
    });
  }

  it('a scaled orthogonal-by-blocks matrix: σ_max is the largest scale', async () => {
    // A = diag(s) with s_j = 1 + j/n: σ_max = max s = 2 − 1/n exactly.
    const n = 400;
    const A = new Float64Array(n * n);
    for (let j = 0; j < n; j++) A[j * n + j] = 1 + j / n;
    const viaOrt = await sigmaMaxOf(runtime, 'cpu', A, n, n);
    assert.ok(Math.abs(viaOrt - (2 - 1 / n)) <= 1e-8, String(viaOrt));
  });
});
