/**
 * σ_max of every block of a layer's R with onnxruntime doing the multiplications. The Lanczos
 * iteration (metrics/spectrum.ts) needs M v = Aᵀ(A v) once per step for each matrix: all of a
 * layer's blocks (D directions × g gates) and each direction's whole slice run in lockstep, their
 * products in one float64 batched MatMul per step, so one session serves the whole layer.
 * The whole slice's Gram product is the sum of its blocks': Σ_g R_gᵀ(R_g v).
 */
import { GraphBuilder, makeModel } from '../onnx/builder';
import { encodeModel } from '../onnx/model';
import { DataType } from '../onnx/proto';
import { lanczosSigmaMax, sigmaMax } from '../metrics/spectrum';
import { OrtRuntime } from './ortRuntime';
import { ExecutionProviderChoice } from './protocol';

/**
 * Layers with a smaller hidden size use the JavaScript multiply: measured on 2 cores, creating
 * the session (a float64 copy of R, graph optimisation) costs more than it saves below H ≈ 1024,
 * where the memory-bound Gram products start to dominate (H = 2048: 13 s in JavaScript, 5 s here).
 */
export const GRAM_SESSION_MIN_HIDDEN = 1024;

/**
 * For R = [D, g·H, H] (row-major): per direction, σ_max of each gate block then of the whole slice.
 */
export async function layerSigmas(runtime: OrtRuntime, ep: ExecutionProviderChoice, R: Float64Array, D: number, g: number, H: number,
  checkCancelled: () => void, minHidden = GRAM_SESSION_MIN_HIDDEN): Promise<number[][]> {
  const blockOf = (d: number, k: number) => R.subarray((d * g + k) * H * H, (d * g + k + 1) * H * H);
  const sliceOf = (d: number) => R.subarray(d * g * H * H, (d + 1) * g * H * H);
  if (H < minHidden) {
    return Array.from({ length: D }, (_, d) => [...Array.from({ length: g }, (_, k) => sigmaMax(blockOf(d, k), H, H)), sigmaMax(sliceOf(d), g * H, H)]);
  }
  for (let i = 0; i < R.length; i++) if (!Number.isFinite(R[i])) return Array.from({ length: D }, () => new Array(g + 1).fill(NaN));

  // Matrices 0 … D·g−1 are the blocks; D·g + d is direction d's whole slice.
  const nBlocks = D * g;
  const count = nBlocks + D;
  const b = new GraphBuilder('gram_');
  const Rb = b.initializer('R', [D, g, H, H], R);
  const RbT = b.op('Transpose', [Rb], { perm: [0, 1, 3, 2] });
  const V = b.input('V', DataType.DOUBLE, [count, H, 1]);
  const Vb = b.op('Reshape', [b.slice(V, [0], [nBlocks], [0]), b.constI64([D, g, H, 1])]);
  const blocks = b.op('Reshape', [b.matmul(RbT, b.matmul(Rb, Vb)), b.constI64([nBlocks, H, 1])]);
  const Vw = b.unsqueeze(b.slice(V, [nBlocks], [count], [0]), [1]); // [D, 1, H, 1], broadcast over gates
  const whole = b.op('ReduceSum', [b.matmul(RbT, b.matmul(Rb, Vw)), b.constI64([1])], { keepdims: 0 });
  b.opInto('Concat', [blocks, whole], ['MV'], { axis: 0 });
  b.output('MV', DataType.DOUBLE, [count, H, 1]);
  const session = await runtime.createSession({ bytes: encodeModel(makeModel(b.graph('gram'))) }, ep);
  try {
    const runs = Array.from({ length: count }, () => lanczosSigmaMax(H));
    const results: (number | undefined)[] = new Array(count).fill(undefined);
    let current = runs.map((r) => r.next());
    const V0 = new Float64Array(count * H);
    for (;;) {
      current.forEach((c, i) => { if (c.done) results[i] ??= c.value; });
      if (current.every((c) => c.done)) break;
      checkCancelled();
      V0.fill(0);
      current.forEach((c, i) => { if (!c.done) V0.set(c.value, i * H); });
      const { outputs } = await runtime.run(session.sessionId, { V: { type: 'float64', dims: [count, H, 1], data: V0.slice() } }, ['MV']);
      const MV = outputs.MV.data as Float64Array;
      current = current.map((c, i) => (c.done ? c : runs[i].next(MV.slice(i * H, (i + 1) * H))));
    }
    return Array.from({ length: D }, (_, d) => [...results.slice(d * g, (d + 1) * g), results[nBlocks + d]] as number[]);
  } finally {
    await runtime.release(session.sessionId);
  }
}
