/**
 * VJP rules of the Reduce* family. The reduced axes come from the `axes` attribute, or from the
 * optional `axes` input from opset 13 (ReduceSum) / 18 (the others); empty or absent axes mean
 * every axis, or no reduction at all with noop_with_empty_axes = 1. onnxruntime then reduces
 * each element on its own (ReduceL2 gives |x|, ReduceSumSquare x², ReduceMax x, …), and every
 * formula below holds with "the reduced group" = the single element.
 *
 * Notation: Ŷ and dŶ are Y and dY with the reduced axes restored as size 1 (a reshape when
 * keepdims = 0), so they broadcast against X; Σ is a sum over the reduced axes (keepdims = 1).
 */
import { attrInt, attrInts } from '../../../onnx/attributes';
import { AnalysisError } from '../../../onnx/errors';
import { DataType, NodeProto } from '../../../onnx/proto';
import { VjpContext, VjpRule } from '../vjp';
import { floatOutType, nodeLabel, none, normAxis, numel, optionalInput, range, reshape, sameShape, scalar } from './common';

/** How a Reduce* node reduces: nothing (noop), static axes (normalised) or axes known only at run time. */
interface Reduction {
  noop: boolean;
  axes: number[];
  /** The runtime axes as an int64 tensor of the backward graph, when they are not a constant. */
  axesTensor?: string;
  keepdims: number;
}

function readReduction(node: NodeProto, ctx: VjpContext, axesInputFrom: number): Reduction {
  const rank = ctx.shape(node.input[0]).length;
  const keepdims = attrInt(node, 'keepdims', 1);
  let axes: number[] | undefined;
  if (ctx.opset >= axesInputFrom) {
    const axesIn = optionalInput(node, 1);
    if (axesIn) {
      axes = ctx.constantInts(axesIn);
      if (!axes) {
        if (numel(ctx.shape(axesIn)) === 0) {
          axes = [];
        } else {
          const v = ctx.value(axesIn);
          const axesTensor = ctx.elemType(axesIn) === DataType.INT64 ? v : ctx.b.op('Cast', [v], { to: DataType.INT64 });
          return { noop: false, axes: [], axesTensor, keepdims };
        }
      }
    }
  } else {
    axes = attrInts(node, 'axes');
  }
  if (!axes || axes.length === 0) {
    if (attrInt(node, 'noop_with_empty_axes', 0) === 1) return { noop: true, axes: [], keepdims };
    return { noop: false, axes: range(0, rank), keepdims };
  }
  return { noop: false, axes: [...new Set(axes.map((a) => normAxis(a, rank)))].sort((a, b) => a - b), keepdims };
}

/** A tensor of Y's shape with the reduced axes restored as size 1 (broadcastable against X). */
function kept(ctx: VjpContext, node: NodeProto, r: Reduction, g: string): string {
  if (r.noop || r.keepdims === 1) return g;
  if (r.axesTensor) return ctx.b.op('Unsqueeze', [g, r.axesTensor]);
  const xShape = ctx.shape(node.input[0]);
  const reduced = new Set(r.axes);
  const shape = xShape.map((d, i) => (reduced.has(i) ? 1 : d));
  return sameShape(shape, ctx.shape(node.output[0])) ? g : reshape(ctx, g, shape);
}

/** Σ over the reduced axes, keepdims = 1 (the identity for a no-op reduction). */
function sumKept(ctx: VjpContext, r: Reduction, x: string): string {
  if (r.noop) return x;
  return ctx.b.op('ReduceSum', [x, r.axesTensor ?? ctx.b.constI64(r.axes)], { keepdims: 1 });
}

/**
 * ReduceSum / ReduceMean: dX = dŶ broadcast to X's shape; ReduceMean divides by the number of
 * elements reduced, numel(X) / numel(Y).
 */
function sumOrMean(mean: boolean): VjpRule {
  return (node, dOutputs, ctx, wanted) => {
    const dY = dOutputs[0];
    const grads = none(node);
    const t = floatOutType(node, ctx);
    if (!dY || !wanted[0] || t === undefined) return grads;
    const r = readReduction(node, ctx, mean ? 18 : 13);
    const xShape = ctx.shape(node.input[0]);
    const yShape = ctx.shape(node.output[0]);
    let g = kept(ctx, node, r, dY);
    if (!sameShape(yShape, xShape)) g = ctx.b.op('Expand', [g, ctx.b.constI64(xShape)]);
    if (mean) {
      const count = numel(yShape) > 0 ? numel(xShape) / numel(yShape) : 1;
      if (count !== 1) g = ctx.b.mul(g, scalar(ctx, 1 / count, t));
    }
    grads[0] = g;
    return grads;
  };
}

/**
 * A Reduce* rule from its local derivative: dX = local(dŶ, X, Ŷ), whose formula always
 * multiplies by a tensor of X's shape. The integer `axes` input gets no gradient.
 */
function reduction(local: (ctx: VjpContext, dYk: string, x: string, yk: () => string, r: Reduction, t: number, node: NodeProto) => string): VjpRule {
  return (node, dOutputs, ctx, wanted) => {
    const dY = dOutputs[0];
    const grads = none(node);
    const t = floatOutType(node, ctx);
    if (!dY || !wanted[0] || t === undefined) return grads;
    const r = readReduction(node, ctx, 18);
    const yk = (): string => kept(ctx, node, r, ctx.value(node.output[0]));
    grads[0] = local(ctx, kept(ctx, node, r, dY), ctx.value(node.input[0]), yk, r, t, node);
    return grads;
  };
}

/**
 * ReduceMax / ReduceMin: dX = dŶ·[X = Ŷ] / Σ[X = Ŷ]. Tied extrema share the gradient evenly, as
 * PyTorch's amax/amin backward does (the subgradient that is the mean of the tied ones); a
 * unique extremum gets all of it.
 */
const extremum = reduction((ctx, dYk, x, yk, r, t) => {
  const b = ctx.b;
  const mask = b.op('Cast', [b.op('Equal', [x, yk()])], { to: t });
  return b.op('Div', [b.mul(dYk, mask), sumKept(ctx, r, mask)]);
});

/** ReduceL1 (Y = Σ|X|): dX = dŶ·sign(X), 0 at X = 0 (as PyTorch's abs). */
const l1 = reduction((ctx, dYk, x) => ctx.b.mul(dYk, ctx.b.op('Sign', [x])));

/**
 * ReduceL2 (Y = √ΣX²): dX = dŶ·X/Ŷ, and 0 where Ŷ = 0 (PyTorch's norm backward masks the
 * all-zero group to 0).
 */
const l2 = reduction((ctx, dYk, x, yk, _r, t) => {
  const b = ctx.b;
  const y = yk();
  const zero = scalar(ctx, 0, t);
  const isZero = b.op('Equal', [y, zero]);
  const safe = b.op('Where', [isZero, scalar(ctx, 1, t), y]);
  return b.op('Where', [isZero, zero, b.op('Div', [b.mul(dYk, x), safe])]);
});

/** ReduceSumSquare (Y = ΣX²): dX = 2·dŶ·X. */
const sumSquare = reduction((ctx, dYk, x, _yk, _r, t) => ctx.b.mul(ctx.b.mul(dYk, x), scalar(ctx, 2, t)));

/** ReduceLogSumExp (Y = log Σ exp X): dX = dŶ·exp(X − Ŷ) (the softmax of the group). */
const logSumExp = reduction((ctx, dYk, x, yk) => ctx.b.mul(dYk, ctx.b.op('Exp', [ctx.b.sub(x, yk())])));

/**
 * ReduceProd (Y = ΠX): dX_i = dŶ·Π_{j≠i} X_j. Without zeros in the group that is dŶ·Ŷ/X_i;
 * with exactly one zero, the zero gets dŶ·(product of the others) and the others 0; with two or
 * more, every product of the others is 0 (PyTorch's prod backward).
 */
const prod = reduction((ctx, dYk, x, yk, r, t, node) => {
  const b = ctx.b;
  if (r.axesTensor) {
    throw new AnalysisError(`${nodeLabel(node)} reduces over axes computed at run time ('${node.input[1]}'); Gradient Lens differentiates ReduceProd only over constant axes, so make the axes an initializer or Constant.`);
  }
  const zero = scalar(ctx, 0, t);
  const one = scalar(ctx, 1, t);
  const isZero = b.op('Equal', [x, zero]);
  const zerosInGroup = sumKept(ctx, r, b.op('Cast', [isZero], { to: t }));
  const nonZero = b.op('Where', [isZero, one, x]);
  // ReduceProd-13 (the generated opset) takes its axes as an attribute.
  const prodNonZero = r.noop ? nonZero : b.op('ReduceProd', [nonZero], { axes: r.axes, keepdims: 1 });
  const noZero = b.op('Div', [yk(), nonZero]);
  const oneZero = b.op('Where', [isZero, prodNonZero, zero]);
  const others = b.op('Where', [b.op('Equal', [zerosInGroup, zero]), noZero, b.op('Where', [b.op('Equal', [zerosInGroup, one]), oneZero, zero])]);
  return b.mul(dYk, others);
});

export const REDUCE_RULES: Record<string, VjpRule> = {
  ReduceSum: sumOrMean(false),
  ReduceMean: sumOrMean(true),
  ReduceMax: extremum,
  ReduceMin: extremum,
  ReduceL1: l1,
  ReduceL2: l2,
  ReduceSumSquare: sumSquare,
  ReduceLogSumExp: logSumExp,
  ReduceProd: prod,
};
