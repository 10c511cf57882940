/**
 * Vector-Jacobian products of many rows at once, for the ops a recurrence's state passes through
 * (the state path of a loop body or a streaming call: Slice/Concat of a stacked [2, B, H] state,
 * the gates of a hand-written LSTM cell, a Keras loop's MatMul/Add/Tanh).
 *
 * The Jacobian of a recurrence is measured by carrying S seed rows back through it (bptt.ts); on
 * the state path between steps those rows travel as one tensor with a leading rows axis,
 * [R, ...shape]. The forward values the rules read have no rows axis: elementwise products
 * broadcast over it, and the shape rules below act one axis further in. An op without a rows rule
 * here is applied to each row separately (Gather row r, the ordinary rule, then stack) — correct
 * for every op with a rule, R times the nodes.
 */
import { attrFloat, attrInt, attrInts } from '../../onnx/attributes';
import { NodeProto } from '../../onnx/proto';
import { floatOutType, isFloatType, none, normAxis, optionalInput, range, reshape, scalar, transpose, zeros } from './rules/common';
import { VJP_RULES } from './rules';
import { VjpContext } from './vjp';

type Grads = (string | undefined)[];

/** dOut rows [R, ...yShape] → dIn rows [R, ...xShape] for the inputs marked wanted. */
export type RowsRule = (node: NodeProto, dOutRows: Grads, ctx: VjpContext, wanted: boolean[], R: number) => Grads;

/** Sum g [R, ...gShape] down to [R, ...target] over the axes numpy broadcasting stretched (the rows axis kept). */
function unbroadcastRows(ctx: VjpContext, g: string, gShape: number[], target: number[], R: number): string {
  const lead = gShape.length - target.length;
  const axes = range(1, 1 + lead);
  target.forEach((d, i) => { if (d === 1 && gShape[i + lead] !== 1) axes.push(1 + i + lead); });
  if (axes.length === 0) return g;
  const summed = ctx.b.op('ReduceSum', [g, ctx.b.constI64(axes)], { keepdims: 1 });
  return lead === 0 ? summed : reshape(ctx, summed, [R, ...target]);
}

const pass: RowsRule = (node, d, _ctx, wanted) => {
  const out = none(node);
  if (wanted[0]) out[0] = d[0];
  return out;
};

const reshapeRows: RowsRule = (node, d, ctx, wanted, R) => {
  const out = none(node);
  if (d[0] && wanted[0]) out[0] = reshape(ctx, d[0], [R, ...ctx.shape(node.input[0])]);
  return out;
};

const transposeRows: RowsRule = (node, d, ctx, wanted) => {
  const out = none(node);
  if (!d[0] || !wanted[0]) return out;
  const rank = ctx.shape(node.input[0]).length;
  const perm = attrInts(node, 'perm') ?? range(0, rank).reverse();
  const inv = new Array<number>(rank);
  perm.forEach((p, i) => { inv[p] = i; });
  out[0] = transpose(ctx, d[0], [0, ...inv.map((p) => p + 1)]);
  return out;
};

const concatRows: RowsRule = (node, d, ctx, wanted) => {
  const out = none(node);
  if (!d[0]) return out;
  const axis = normAxis(attrInt(node, 'axis', 0), ctx.shape(node.output[0]).length) + 1;
  let offset = 0;
  node.input.forEach((x, i) => {
    const n = ctx.shape(x)[axis - 1];
    if (wanted[i]) out[i] = ctx.b.slice(d[0]!, [offset], [offset + n], [axis]);
    offset += n;
  });
  return out;
};

const splitRows: RowsRule = (node, d, ctx, wanted, R) => {
  const out = none(node);
  const t = ctx.elemType(node.input[0]);
  if (!wanted[0] || !isFloatType(t) || d.every((x) => !x)) return out;
  const axis = normAxis(attrInt(node, 'axis', 0), ctx.shape(node.input[0]).length) + 1;
  const parts = node.output.map((o, i) => d[i] ?? zeros(ctx, [R, ...ctx.shape(o)], t));
  out[0] = parts.length === 1 ? parts[0] : ctx.b.concat(parts, axis);
  return out;
};

/** Slice with constant starts/ends/axes and unit steps: pad the rows back, one axis further in. */
const sliceRows: RowsRule = (node, d, ctx, wanted, R) => {
  const xShape = ctx.shape(node.input[0]);
  const rank = xShape.length;
  const starts = ctx.opset < 10 ? attrInts(node, 'starts') : ctx.constantInts(node.input[1]);
  const ends = ctx.opset < 10 ? attrInts(node, 'ends') : ctx.constantInts(node.input[2]);
  const axesIn = ctx.opset < 10 ? attrInts(node, 'axes') : optionalInput(node, 3) ? ctx.constantInts(node.input[3]) : undefined;
  const steps = ctx.opset < 10 ? undefined : optionalInput(node, 4) ? ctx.constantInts(node.input[4]) : undefined;
  if (!starts || !ends || (optionalInput(node, 3) && !axesIn) || (steps && steps.some((s) => s !== 1))) return perRow(node, d, ctx, wanted, R);
  const out = none(node);
  if (!d[0] || !wanted[0]) return out;
  const ax = (axesIn ?? range(0, starts.length)).map((a) => normAxis(a, rank));
  const pads = new Array<number>(2 * (rank + 1)).fill(0);
  ax.forEach((a, i) => {
    const dim = xShape[a];
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    const s = clamp(starts[i]);
    const e = Math.max(clamp(ends[i]), s);
    pads[a + 1] = s;
    pads[a + 1 + rank + 1] = dim - e;
  });
  out[0] = pads.every((p) => p === 0) ? d[0] : ctx.b.op('Pad', [d[0], ctx.b.constI64(pads)]);
  return out;
};

/** Gather with constant indices along axis a: scatter the rows back along a + 1. */
const gatherRows: RowsRule = (node, d, ctx, wanted, R) => {
  const idx = ctx.constantInts(node.input[1]);
  const out = none(node);
  if (!d[0] || !wanted[0]) return out;
  const t = floatOutType(node, ctx);
  if (t === undefined) return out;
  const xShape = ctx.shape(node.input[0]);
  const axis = normAxis(attrInt(node, 'axis', 0), xShape.length);
  const idxShape = ctx.shape(node.input[1]);
  if (!idx || idxShape.length > 1) return perRow(node, d, ctx, wanted, R);
  // One index, or a list: each position i of the gathered axis receives the rows that picked it.
  const b = ctx.b;
  const dim = xShape[axis];
  const picked = idxShape.length === 0 ? b.unsqueeze(d[0], [axis + 1]) : d[0];
  const pieces: string[] = [];
  for (let i = 0; i < dim; i++) {
    const hits = idx.map((v, k) => ((v < 0 ? v + dim : v) === i ? k : -1)).filter((k) => k >= 0);
    const shape = [R, ...xShape.slice(0, axis), 1, ...xShape.slice(axis + 1)];
    if (hits.length === 0) pieces.push(zeros(ctx, shape, t));
    else {
      const parts = hits.map((k) => b.slice(picked, [k], [k + 1], [axis + 1]));
      pieces.push(parts.length === 1 ? parts[0] : b.op('Sum', parts));
    }
  }
  out[0] = pieces.length === 1 ? pieces[0] : b.concat(pieces, axis + 1);
  return out;
};

/** Add, Sub, Mul, Div, Sum: the local gradient at Y's shape (forward values broadcast over the rows), then unbroadcast per operand. */
function binaryRows(local: (ctx: VjpContext, dY: string, node: NodeProto, which: number, t: number) => string): RowsRule {
  return (node, d, ctx, wanted, R) => {
    const out = none(node);
    const t = floatOutType(node, ctx);
    if (!d[0] || t === undefined) return out;
    const yShape = ctx.shape(node.output[0]);
    node.input.forEach((x, which) => {
      if (!wanted[which] || !x) return;
      const xShape = ctx.shape(x);
      const padded = [...new Array<number>(yShape.length - xShape.length).fill(1), ...xShape];
      const g = unbroadcastRows(ctx, local(ctx, d[0]!, node, which, t), [R, ...yShape].slice(1), padded, R);
      out[which] = padded.length === xShape.length ? g : reshape(ctx, g, [R, ...xShape]);
    });
    return out;
  };
}

const addRows = binaryRows((_ctx, dY) => dY);
const subRows = binaryRows((ctx, dY, _n, which) => (which === 0 ? dY : ctx.b.op('Neg', [dY])));
const mulRows = binaryRows((ctx, dY, node, which) => ctx.b.mul(dY, ctx.value(node.input[1 - which])));
const divRows = binaryRows((ctx, dY, node, which) => {
  const B = ctx.value(node.input[1]);
  if (which === 0) return ctx.b.op('Div', [dY, B]);
  return ctx.b.op('Neg', [ctx.b.op('Div', [ctx.b.mul(dY, ctx.value(node.input[0])), ctx.b.mul(B, B)])]);
});

/** MatMul (2-D or batched, no 1-D operands): dA = dY·Bᵀ and dB = Aᵀ·dY broadcast over the rows axis. */
const matmulRows: RowsRule = (node, d, ctx, wanted, R) => {
  const aShape = ctx.shape(node.input[0]);
  const bShape = ctx.shape(node.input[1]);
  if (aShape.length < 2 || bShape.length < 2) return perRow(node, d, ctx, wanted, R);
  const out = none(node);
  if (!d[0]) return out;
  const yShape = ctx.shape(node.output[0]);
  const T = (x: string, rank: number) => transpose(ctx, x, [...range(0, rank - 2), rank - 1, rank - 2]);
  if (wanted[0]) {
    const g = ctx.b.matmul(d[0], T(ctx.value(node.input[1]), bShape.length));
    out[0] = unbroadcastRows(ctx, g, [...yShape.slice(0, -1), aShape[aShape.length - 1]], [...new Array<number>(yShape.length - aShape.length).fill(1), ...aShape], R);
    if (yShape.length !== aShape.length) out[0] = reshape(ctx, out[0], [R, ...aShape]);
  }
  if (wanted[1]) {
    const g = ctx.b.matmul(T(ctx.value(node.input[0]), aShape.length), d[0]);
    out[1] = unbroadcastRows(ctx, g, [...yShape.slice(0, -2), bShape[bShape.length - 2], yShape[yShape.length - 1]], [...new Array<number>(yShape.length - bShape.length).fill(1), ...bShape], R);
    if (yShape.length !== bShape.length) out[1] = reshape(ctx, out[1], [R, ...bShape]);
  }
  return out;
};

/** Gemm: Y = α·A′·B′ + β·C, 2-D; with rows, MatMuls that broadcast over the rows axis. */
const gemmRows: RowsRule = (node, d, ctx, wanted, R) => {
  const out = none(node);
  const t = floatOutType(node, ctx);
  if (!d[0] || t === undefined) return out;
  const b = ctx.b;
  const alpha = attrFloat(node, 'alpha') ?? 1;
  const beta = attrFloat(node, 'beta') ?? 1;
  const transA = attrInt(node, 'transA', 0);
  const transB = attrInt(node, 'transB', 0);
  const T2 = (x: string) => b.op('Transpose', [x], { perm: [1, 0] });
  const Tr = (x: string) => b.op('Transpose', [x], { perm: [0, 2, 1] });
  const scaled = (x: string) => (alpha === 1 ? x : b.mul(x, scalar(ctx, alpha, t)));
  if (wanted[0]) {
    // dA′ = α·dY·B′ᵀ; dA = dA′ or its transpose.
    const Bp = transB ? ctx.value(node.input[1]) : T2(ctx.value(node.input[1]));
    const dAp = scaled(b.matmul(d[0], Bp));
    out[0] = transA ? Tr(dAp) : dAp;
  }
  if (wanted[1]) {
    // dB′ = α·A′ᵀ·dY.
    const Ap = transA ? ctx.value(node.input[0]) : T2(ctx.value(node.input[0]));
    const dBp = scaled(b.matmul(Ap, d[0]));
    out[1] = transB ? Tr(dBp) : dBp;
  }
  const c = optionalInput(node, 2);
  if (c && wanted[2]) {
    const g = beta === 1 ? d[0] : b.mul(d[0], scalar(ctx, beta, t));
    const yShape = ctx.shape(node.output[0]);
    const cShape = ctx.shape(c);
    const padded = [...new Array<number>(yShape.length - cShape.length).fill(1), ...cShape];
    out[2] = unbroadcastRows(ctx, g, yShape, padded, R);
    if (padded.length !== cShape.length) out[2] = reshape(ctx, out[2]!, [R, ...cShape]);
  }
  return out;
};

/** The ordinary rule for each row: Gather row r of every output gradient, apply, stack the rows back. */
function perRow(node: NodeProto, d: Grads, ctx: VjpContext, wanted: boolean[], R: number): Grads {
  const rule = VJP_RULES[node.op_type];
  const b = ctx.b;
  const perInput: (string | undefined)[][] = node.input.map(() => []);
  for (let r = 0; r < R; r++) {
    const row = d.map((x) => (x ? b.pick(x, r, 0) : undefined));
    const got = rule(node, row, ctx, wanted);
    got.forEach((g, i) => perInput[i].push(g));
  }
  return perInput.map((rows, i) => {
    if (!wanted[i] || rows.some((g) => !g)) return undefined;
    return rows.length === 1 ? b.unsqueeze(rows[0]!, [0]) : b.concat(rows.map((g) => b.unsqueeze(g!, [0])), 0);
  });
}

/** Unary activations compute dY ⊙ f(x, y): the forward values broadcast over the rows as they are. */
const UNARY = ['Relu', 'LeakyRelu', 'Elu', 'Tanh', 'Sigmoid', 'Exp', 'Log', 'Sqrt', 'Neg', 'Softplus', 'Softsign',
  'HardSigmoid', 'HardSwish', 'Erf', 'Gelu', 'Selu', 'Abs', 'Reciprocal', 'Clip'];

export const ROWS_RULES: Record<string, RowsRule> = {
  Identity: pass, Dropout: pass,
  Cast: (node, d, ctx, wanted) => {
    const out = none(node);
    const tx = ctx.elemType(node.input[0]);
    if (d[0] && wanted[0] && isFloatType(tx)) out[0] = tx === ctx.elemType(node.output[0]) ? d[0] : ctx.b.op('Cast', [d[0]], { to: tx });
    return out;
  },
  Reshape: reshapeRows, Flatten: reshapeRows, Squeeze: reshapeRows, Unsqueeze: reshapeRows,
  Transpose: transposeRows, Concat: concatRows, Split: splitRows, Slice: sliceRows, Gather: gatherRows,
  Add: addRows, Sum: addRows, Sub: subRows, Mul: mulRows, Div: divRows,
  MatMul: matmulRows, Gemm: gemmRows,
  ...Object.fromEntries(UNARY.map((op) => [op, ((node, d, ctx, wanted) => VJP_RULES[op](node, d, ctx, wanted)) as RowsRule])),
};

/** Rows-mode VJP of any op with a rule: its rows rule, or the ordinary rule per row. */
export function rowsVjp(node: NodeProto, dOutRows: Grads, ctx: VjpContext, wanted: boolean[], R: number): Grads {
  const rule = ROWS_RULES[node.op_type];
  return rule ? rule(node, dOutRows, ctx, wanted, R) : perRow(node, dOutRows, ctx, wanted, R);
}
