/**
 * VJP rules of the pooling ops: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
 */
import { AttrValue, attrInt, attrInts, attrString } from '../../../onnx/attributes';
import { DataType } from '../../../onnx/proto';
import { VjpContext, VjpRule } from '../vjp';
import { floatOutType, none, numel, range, reduceSum, reshape, scalar, zeros } from './common';
import { appendZero, forwardPads, gatherConst, nonEmpty, stridesDilations, tapInverse, Window } from './window';

/**
 * Route dY to the positions the max came from: `argmax` is MaxPool's Indices output (flat
 * positions in X, storage_order 0), dX = Σ of dY over the windows whose argmax is each position.
 */
function scatterToArgmax(ctx: VjpContext, dY: string, argmax: string, xShape: number[], t: number): string {
  const b = ctx.b;
  const flat = b.op('ScatterElements', [zeros(ctx, [numel(xShape)], t), reshape(ctx, argmax, [-1]), reshape(ctx, dY, [-1])],
    { axis: 0, reduction: 'add' });
  return reshape(ctx, flat, xShape);
}

/**
 * MaxPool: dX[p] = Σ dY[o] over the windows o whose maximum is X[p]. Where a window holds its
 * maximum more than once, the whole gradient goes to the first of them in row-major window
 * order, as PyTorch's max_pool backward does (it routes through the argmax index) — unlike
 * ReduceMax, which splits ties. The argmax comes from a MaxPool with the node's own attributes
 * and an Indices output (storage_order 0) in the backward graph, so onnxruntime's own window
 * arithmetic (pads, auto_pad, dilations, ceil_mode) picks it; the forward node's storage_order
 * and whether it has an Indices output do not matter. The Indices output gets no gradient.
 */
const maxPool: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || !wanted[0] || t === undefined) return grads;
  const attrs: Record<string, AttrValue> = { storage_order: 0 };
  for (const name of ['kernel_shape', 'strides', 'pads', 'dilations']) {
    const v = nonEmpty(attrInts(node, name));
    if (v) attrs[name] = v;
  }
  attrs.auto_pad = attrString(node, 'auto_pad', 'NOTSET');
  attrs.ceil_mode = attrInt(node, 'ceil_mode', 0);
  const [, argmax] = ctx.b.node('MaxPool', [ctx.value(node.input[0])], attrs, 2, 'argmax');
  grads[0] = scatterToArgmax(ctx, dY, argmax, ctx.shape(node.input[0]), t);
  return grads;
};

/**
 * GlobalMaxPool: MaxPool with one window over all spatial axes — dX = dY at the window's first
 * maximum (row-major), 0 elsewhere, the MaxPool convention above.
 */
const globalMaxPool: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || !wanted[0] || t === undefined) return grads;
  const xShape = ctx.shape(node.input[0]);
  const [, argmax] = ctx.b.node('MaxPool', [ctx.value(node.input[0])], { kernel_shape: xShape.slice(2), storage_order: 0 }, 2, 'argmax');
  grads[0] = scatterToArgmax(ctx, dY, argmax, xShape, t);
  return grads;
};

/**
 * AveragePool: Y[o] = (1/n_o)·Σ_k X[o·s + k·dil − pb] over the taps inside X, so
 * dX[p] = Σ_{(o, k) reading p} dY[o]/n_o: dY/n is gathered per (input position, tap) through
 * tapInverse (window.ts) and summed over the taps. The divisor n_o is onnxruntime's:
 * count_include_pad = 0 counts the taps inside X; count_include_pad = 1 counts the taps before
 * the end of the padded input (position < in + pad_end on every axis) — with ceil_mode a last
 * window reaching past the end pads is not charged for that part. Pads come from `pads` or
 * `auto_pad` (window.ts); dilations (opset 19) default to 1.
 */
const averagePool: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || !wanted[0] || t === undefined) return grads;
  const b = ctx.b;
  const xShape = ctx.shape(node.input[0]);
  const yShape = ctx.shape(node.output[0]);
  const [N, C] = xShape;
  const inDims = xShape.slice(2);
  const outDims = yShape.slice(2);
  const r = inDims.length;
  const kernel = attrInts(node, 'kernel_shape') ?? [];
  const { strides, dilations } = stridesDilations(node, r);
  const pads = forwardPads(node, inDims, kernel, strides);
  const includePad = attrInt(node, 'count_include_pad', 0) === 1;
  const w: Window = { inDims, outDims, kernel, strides, dilations, padsBegin: pads.slice(0, r) };
  // Per axis and window index: the number of taps counted; the divisor is their product.
  const counts = inDims.map((inSize, d) => range(0, outDims[d]).map((o) => {
    const start = o * strides[d] - pads[d];
    const limit = includePad ? inSize + pads[d + r] : inSize;
    return range(0, kernel[d]).filter((k) => {
      const p = start + k * dilations[d];
      return p < limit && (includePad || p >= 0);
    }).length;
  }));
  const O = numel(outDims);
  const inverse = new Float64Array(O);
  for (let o = 0; o < O; o++) {
    let rest = o;
    let n = 1;
    for (let d = r - 1; d >= 0; d--) {
      n *= counts[d][rest % outDims[d]];
      rest = Math.floor(rest / outDims[d]);
    }
    inverse[o] = n > 0 ? 1 / n : 0; // onnxruntime writes 0 for a window with nothing to average
  }
  const inv = t === DataType.DOUBLE ? b.initializer('inv_count', [O], inverse)
    : t === DataType.FLOAT ? b.initializer('inv_count', [O], Float32Array.from(inverse))
      : b.op('Cast', [b.initializer('inv_count', [O], Float32Array.from(inverse))], { to: t });
  const scaled = b.mul(reshape(ctx, dY, [N, C, O]), inv);
  const perTap = gatherConst(ctx, appendZero(ctx, scaled), tapInverse(w, false), [numel(inDims), numel(kernel)]); // [N, C, S, K]
  grads[0] = reshape(ctx, reduceSum(ctx, perTap, [3], 0), xShape);
  return grads;
};

/** GlobalAveragePool: Y = mean over the spatial axes ⇒ dX = dY broadcast over them / their size. */
const globalAveragePool: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || !wanted[0] || t === undefined) return grads;
  const xShape = ctx.shape(node.input[0]);
  const S = numel(xShape.slice(2));
  const g = ctx.b.op('Expand', [dY, ctx.b.constI64(xShape)]);
  grads[0] = S === 1 ? g : ctx.b.mul(g, scalar(ctx, 1 / S, t));
  return grads;
};

export const POOL_RULES: Record<string, VjpRule> = {
  MaxPool: maxPool,
  GlobalMaxPool: globalMaxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
};
