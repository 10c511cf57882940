/**
 * Recognising an LSTM or GRU cell written with plain ops in a step function (SPEC v2 §9.1), so a
 * state recurrence can report its gates under the usual names:
 *
 *   LSTM: c′ = f ⊙ c + i ⊙ g and h′ = o ⊙ tanh(c′), with f, i, o Sigmoid outputs, g a Tanh output
 *         and c a value of the carried state;
 *   GRU:  h′ = (1 − z) ⊙ n + z ⊙ h (either order, or z ⊙ h + (1 − z) ⊙ n), with z a Sigmoid
 *         output, n a Tanh output computed from another Sigmoid r (the reset gate) and h a value
 *         of the carried state.
 *
 * Identity and Cast between ops are looked through. Anything else is not a recognised cell, and
 * the state layer simply has no gates.
 */
import { GraphProto, NodeProto } from '../../onnx/proto';
import { Carried } from './spec';

export interface RecognisedCell {
  op: 'LSTM' | 'GRU';
  /** Gate name → the body tensor holding it (post-activation), in GATE_NAMES order. */
  gates: Record<string, string>;
}

export function recogniseCell(body: GraphProto, vars: Carried[]): RecognisedCell | undefined {
  const producer = new Map<string, NodeProto>();
  for (const n of body.node) for (const o of n.output) if (o) producer.set(o, n);
  const through = (t: string): string => {
    for (let hops = 0; hops < 8; hops++) {
      const p = producer.get(t);
      if (!p || !['Identity', 'Cast'].includes(p.op_type)) return t;
      t = p.input[0];
    }
    return t;
  };
  const opOf = (t: string) => producer.get(through(t))?.op_type;
  // Tensors computed from the carried state (its own inputs, through slicing and reshaping only).
  const fromState = new Set(vars.map((v) => v.bodyIn));
  for (const n of body.node) {
    if (['Identity', 'Cast', 'Slice', 'Gather', 'Squeeze', 'Unsqueeze', 'Split', 'Reshape', 'Transpose'].includes(n.op_type) && fromState.has(n.input[0])) {
      for (const o of n.output) if (o) fromState.add(o);
    }
  }
  const isState = (t: string) => fromState.has(through(t)) || fromState.has(t);
  const mulParts = (t: string): [string, string] | undefined => {
    const p = producer.get(through(t));
    return p && p.op_type === 'Mul' ? [p.input[0], p.input[1]] : undefined;
  };

  // LSTM: an Add of two Muls: (f, c) and (i, g).
  for (const add of body.node) {
    if (add.op_type !== 'Add') continue;
    const m1 = mulParts(add.input[0]);
    const m2 = mulParts(add.input[1]);
    if (!m1 || !m2) continue;
    for (const [fc, ig] of [[m1, m2], [m2, m1]] as const) {
      const cIdx = fc.findIndex((t) => isState(t));
      if (cIdx < 0 || opOf(fc[1 - cIdx]) !== 'Sigmoid') continue;
      const f = through(fc[1 - cIdx]);
      const iIdx = ig.findIndex((t) => opOf(t) === 'Sigmoid');
      if (iIdx < 0 || opOf(ig[1 - iIdx]) !== 'Tanh') continue;
      const i = through(ig[iIdx]);
      const g = through(ig[1 - iIdx]);
      // o ⊙ tanh(c′)
      const cNew = add.output[0];
      const tanhC = body.node.find((n) => n.op_type === 'Tanh' && through(n.input[0]) === cNew);
      if (!tanhC) continue;
      const hMul = body.node.find((n) => n.op_type === 'Mul' && n.input.some((x) => through(x) === tanhC.output[0]));
      if (!hMul) continue;
      const oIn = hMul.input.find((x) => through(x) !== tanhC.output[0]);
      if (!oIn || opOf(oIn) !== 'Sigmoid') continue;
      return { op: 'LSTM', gates: { input: i, forget: f, output: through(oIn), cell: g } };
    }
  }

  // GRU: (1 − z) ⊙ n + z ⊙ h.
  for (const add of body.node) {
    if (add.op_type !== 'Add') continue;
    const m1 = mulParts(add.input[0]);
    const m2 = mulParts(add.input[1]);
    if (!m1 || !m2) continue;
    for (const [zn, zh] of [[m1, m2], [m2, m1]] as const) {
      const hIdx = zh.findIndex((t) => isState(t));
      if (hIdx < 0 || opOf(zh[1 - hIdx]) !== 'Sigmoid') continue;
      const z = through(zh[1 - hIdx]);
      // (1 − z) and n
      const subIdx = zn.findIndex((t) => { const p = producer.get(through(t)); return !!p && p.op_type === 'Sub' && through(p.input[1]) === z; });
      if (subIdx < 0 || opOf(zn[1 - subIdx]) !== 'Tanh') continue;
      const n = through(zn[1 - subIdx]);
      // r: a Sigmoid (other than z) among n's ancestors within the body.
      const r = sigmoidAncestor(n, z, producer, through);
      if (!r) continue;
      return { op: 'GRU', gates: { update: z, reset: r, hidden: n } };
    }
  }
  return undefined;
}

function sigmoidAncestor(t: string, not: string, producer: Map<string, NodeProto>, through: (t: string) => string): string | undefined {
  const seen = new Set<string>();
  const stack = [t];
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x)) continue;
    seen.add(x);
    const p = producer.get(x);
    if (!p) continue;
    if (p.op_type === 'Sigmoid' && x !== through(not)) return x;
    for (const i of p.input) if (i) stack.push(i);
  }
  return undefined;
}
