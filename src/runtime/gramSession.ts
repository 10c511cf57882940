/**
 * σ_max of big recurrent matrices with onnxruntime doing the multiplications: the Lanczos
 * iteration (metrics/spectrum.ts) needs M v = Aᵀ(A v) once per step, two passes over A that
 * are memory-bound; onnxruntime's float64 MatMul streams A several times faster than a
 * JavaScript loop. Small matrices stay in JavaScript, where a session would cost more than it saves.
 */
import { GraphBuilder, makeModel } from '../onnx/builder';
import { encodeModel } from '../onnx/model';
import { DataType } from '../onnx/proto';
import { sigmaMax, sigmaMaxWith } from '../metrics/spectrum';
import { OrtRuntime } from './ortRuntime';
import { ExecutionProviderChoice } from './protocol';

/** Matrices with fewer entries than this use the JavaScript multiply. */
export const GRAM_SESSION_MIN_ENTRIES = 256 * 256;

export async function sigmaMaxOf(runtime: OrtRuntime, ep: ExecutionProviderChoice, matrix: Float64Array | Float32Array,
  rows: number, cols: number): Promise<number> {
  if (rows * cols < GRAM_SESSION_MIN_ENTRIES) return sigmaMax(matrix, rows, cols);
  for (let i = 0; i < matrix.length; i++) if (!Number.isFinite(matrix[i])) return NaN;
  const n = Math.min(rows, cols);
  const b = new GraphBuilder('gram_');
  const A = b.initializer('A', [rows, cols], matrix instanceof Float64Array ? matrix : Float64Array.from(matrix));
  const At = b.op('Transpose', [A], { perm: [1, 0] });
  const v = b.input('v', DataType.DOUBLE, [n, 1]);
  // M v with M = AᵀA when A is tall (n = cols), AAᵀ when wide (n = rows).
  const Mv = n === cols ? b.matmul(At, b.matmul(A, v)) : b.matmul(A, b.matmul(At, v));
  b.opInto('Identity', [Mv], ['Mv']);
  b.output('Mv', DataType.DOUBLE, [n, 1]);
  const session = await runtime.createSession({ bytes: encodeModel(makeModel(b.graph('gram'))) }, ep);
  try {
    return await sigmaMaxWith(n, async (x) => {
      const { outputs } = await runtime.run(session.sessionId, { v: { type: 'float64', dims: [n, 1], data: x } }, ['Mv']);
      return outputs.Mv.data as Float64Array;
    });
  } finally {
    await runtime.release(session.sessionId);
  }
}
