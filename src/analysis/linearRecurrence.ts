/**
 * The elementwise linear recurrence c_t = F_t ⊙ c_{t−1} + U_t over T steps as ONNX ops, in
 * O(√T) sequential iterations instead of T (used for the LSTM cell state given its gates).
 *
 * The steps are cut into C chunks of K ≈ √T. Pass 1 scans the K positions of all chunks at once
 * (each chunk starting from 0): the local state ℓ_k and the running product P_k = ∏_{j≤k} F_j.
 * Pass 2 scans the C chunk ends to get the true state entering each chunk, s_c. Then
 * c = ℓ + P ⊙ s_c elementwise. Each pass is a Scan whose body is two or three elementwise ops
 * over tensors C (or K) times larger than one step's, so the per-iteration overhead of Scan is
 * paid 2√T times rather than T times. The arithmetic is the sequential recurrence's, regrouped.
 */
import { GraphBuilder } from '../onnx/builder';
import { DataType } from '../onnx/proto';

/**
 * Emit c = recurrence(F, U) with F, U: [T, B, H] (T known), c0: [B, H]; `reverse` runs from
 * t = T−1 down to 0. Returns c: [T, B, H], the state after each step, in input order.
 */
export function emitLinearRecurrence(b: GraphBuilder, F: string, U: string, c0: string, T: number, H: number, reverse: boolean, tag: string,
  sequential = false): string {
  if (sequential) return emitSequentialRecurrence(b, F, U, c0, reverse, tag);
  const flip = (x: string) => b.op('Slice', [x, b.constI64([T - 1]), b.constI64([-T - 1]), b.constI64([0]), b.constI64([-1])]);
  const Fin = reverse ? flip(F) : F;
  const Uin = reverse ? flip(U) : U;
  const K = Math.max(1, Math.ceil(Math.sqrt(T)));
  const C = Math.ceil(T / K);
  const padded = C * K;
  // Steps past T are identities: F = 1, U = 0.
  const pad = (x: string, value: number) => (padded === T ? x
    : b.op('Pad', [x, b.constI64([0, 0, 0, padded - T, 0, 0]), b.constF(value)]));
  // [C·K, B, H] → [C, K, B, H] → [K, C, B, H]: scan over the position within the chunk.
  const chunked = (x: string) => b.op('Transpose', [b.op('Reshape', [x, b.constI64([C, K, -1, H])])], { perm: [1, 0, 2, 3] });
  const Fk = chunked(pad(Fin, 1));
  const Uk = chunked(pad(Uin, 0));

  const oneStep = b.pick(Fk, 0, 0); // [C, B, H], for the initial states' shape
  const ones = b.op('ConstantOfShape', [b.op('Shape', [oneStep])], { value: oneFloat(1) });
  const zeros = b.op('ConstantOfShape', [b.op('Shape', [oneStep])], { value: oneFloat(0) });

  // Pass 1: ℓ_k = F_k ⊙ ℓ_{k−1} + U_k, P_k = P_{k−1} ⊙ F_k within every chunk at once.
  const body1 = new GraphBuilder(`gl_${tag}_lr1_`);
  const P = body1.input(body1.fresh('P'), DataType.FLOAT, null);
  const l = body1.input(body1.fresh('l'), DataType.FLOAT, null);
  const f = body1.input(body1.fresh('f'), DataType.FLOAT, null);
  const u = body1.input(body1.fresh('u'), DataType.FLOAT, null);
  const P2 = body1.mul(P, f);
  const l2 = body1.add(body1.mul(f, l), u);
  for (const v of [P2, l2, body1.op('Identity', [P2]), body1.op('Identity', [l2])]) body1.output(v);
  const [Pend, lend, Pall, lall] = b.node('Scan', [ones, zeros, Fk, Uk], { body: body1.graph(`${tag}_chunk_scan`), num_scan_inputs: 2 }, 4, 'lr1');

  // Pass 2: the state entering chunk c, s_c; s_{c+1} = P_end[c] ⊙ s_c + ℓ_end[c].
  const body2 = new GraphBuilder(`gl_${tag}_lr2_`);
  const s = body2.input(body2.fresh('s'), DataType.FLOAT, null);
  const pe = body2.input(body2.fresh('pe'), DataType.FLOAT, null);
  const le = body2.input(body2.fresh('le'), DataType.FLOAT, null);
  body2.output(body2.add(body2.mul(pe, s), le));
  body2.output(body2.op('Identity', [s]));
  const [, entering] = b.node('Scan', [c0, Pend, lend], { body: body2.graph(`${tag}_carry_scan`), num_scan_inputs: 2 }, 2, 'lr2');
  // entering: [C, B, H] → broadcast over K: c[k, c] = ℓ[k, c] + P[k, c] ⊙ s_c.
  const cK = b.add(lall, b.mul(Pall, b.unsqueeze(entering, [0])));
  const cFlat = b.op('Reshape', [b.op('Transpose', [cK], { perm: [1, 0, 2, 3] }), b.constI64([padded, -1, H])]);
  const c = padded === T ? cFlat : b.slice(cFlat, [0], [T], [0]);
  return reverse ? flip(c) : c;
}

/**
 * The same recurrence as one Scan of T steps (two elementwise ops each): slower per step than the
 * chunked form for short sequences, but it holds nothing beyond its inputs and output, where the
 * chunked form's reshaped and transposed copies are several [T, B, H] tensors (41 MB each at
 * T = 10 000, H = 1024).
 */
function emitSequentialRecurrence(b: GraphBuilder, F: string, U: string, c0: string, reverse: boolean, tag: string): string {
  const body = new GraphBuilder(`gl_${tag}_lrs_`);
  const c = body.input(body.fresh('c'), DataType.FLOAT, null);
  const f = body.input(body.fresh('f'), DataType.FLOAT, null);
  const u = body.input(body.fresh('u'), DataType.FLOAT, null);
  const next = body.add(body.mul(f, c), u);
  body.output(next);
  body.output(body.op('Identity', [next]));
  const dir = reverse ? 1 : 0;
  const [, all] = b.node('Scan', [c0, F, U], {
    body: body.graph(`${tag}_cell_scan`), num_scan_inputs: 2, scan_input_directions: [dir, dir], scan_output_directions: [dir],
  }, 2, 'lrs');
  return all;
}

export function oneFloat(v: number) {
  return { name: '', dims: [1], data_type: DataType.FLOAT, raw_data: new Uint8Array(Float32Array.of(v).buffer) };
}
