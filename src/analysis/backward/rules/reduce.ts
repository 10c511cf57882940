/**
 * VJP rules of the Reduce* family. The reduced axes come from the `axes` attribute, or from the
 * optional `axes` input from opset 13 (ReduceSum) / 18 (the others); empty or absent axes mean
 * every axis, or no reduction at all with noop_with_empty_axes = 1.
 *
 * Notation: Ŷ and dŶ are Y and dY with the reduced axes restored as size 1 (a reshape when
 * keepdims = 0), so they broadcast against X; Σ is a sum over the reduced axes (keepdims = 1).
 */
import { attrInt, attrInts } from '../../../onnx/attributes';
import { DataType, NodeProto } from '../../../onnx/proto';
import { VjpContext, VjpRule } from '../vjp';
import { floatOutType, none, normAxis, numel, optionalInput, range, reshape, sameShape, scalar } from './common';

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

export const REDUCE_RULES: Record<string, VjpRule> = {
  ReduceSum: sumOrMean(false),
  ReduceMean: sumOrMean(true),
};
