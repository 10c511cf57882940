/**
 * σ_max of a layer's R blocks with onnxruntime doing the Gram products in lockstep (used from
 * H = 1024 up; forced here on smaller layers) equals the JavaScript Lanczos per matrix and closed forms.
 */
import * as assert from 'assert';
import { OrtRuntime } from '../../src/runtime/ortRuntime';
import { layerSigmas } from '../../src/runtime/gramSession';
import { sigmaMax } from '../../src/metrics/spectrum';
import { SeededRandom } from '../../src/inputs/random';

describe('σ_max through onnxruntime, a layer at a time', function () {
  this.timeout(60000);
  const runtime = new OrtRuntime({ enter: () => undefined, exit: () => undefined });
  after(() => runtime.releaseAll());
  const none = () => undefined;

  for (const [D, g, H] of [[1, 4, 96], [2, 3, 80], [1, 1, 150]]) {
    it(`D = ${D}, g = ${g}, H = ${H}: every block and whole slice as the JavaScript multiply gives`, async () => {
      const R = Float64Array.from(SeededRandom.forInput(H, `gram${D}${g}`).normal(D * g * H * H));
      const got = await layerSigmas(runtime, 'cpu', R, D, g, H, none, 1); // force the onnxruntime path
      for (let d = 0; d < D; d++) {
        for (let k = 0; k < g; k++) {
          const want = sigmaMax(R.subarray((d * g + k) * H * H, (d * g + k + 1) * H * H), H, H);
          assert.ok(Math.abs(got[d][k] - want) <= 1e-8 * want, `block ${d}/${k}: ${got[d][k]} vs ${want}`);
        }
        const whole = sigmaMax(R.subarray(d * g * H * H, (d + 1) * g * H * H), g * H, H);
        assert.ok(Math.abs(got[d][g] - whole) <= 1e-8 * whole, `whole ${d}: ${got[d][g]} vs ${whole}`);
      }
    });
  }

  it('diagonal blocks: σ_max is the largest scale, and the whole slice √(Σ s²) of the stacked diagonals', async () => {
    // Block k = diag(s_k) with s_k,j = (k + 1)(1 + j/H): σ_max = (k + 1)(2 − 1/H); the stacked slice's
    // Gram matrix is diag(Σ_k s_k,j²), so σ_max(whole) = (2 − 1/H)·√(Σ_k (k + 1)²).
    const H = 100;
    const g = 3;
    const R = new Float64Array(g * H * H);
    for (let k = 0; k < g; k++) for (let j = 0; j < H; j++) R[k * H * H + j * H + j] = (k + 1) * (1 + j / H);
    const [[s0, s1, s2, whole]] = await layerSigmas(runtime, 'cpu', R, 1, g, H, none, 1);
    const top = 2 - 1 / H;
    for (const [got, want] of [[s0, top], [s1, 2 * top], [s2, 3 * top], [whole, top * Math.sqrt(14)]]) {
      assert.ok(Math.abs(got - want) <= 1e-8 * want, `${got} vs ${want}`);
    }
  });
});
