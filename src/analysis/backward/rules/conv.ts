/**
 * VJP rules of Conv and ConvTranspose, through im2col / col2im as Gathers with constant index
 * tensors (window.ts) and batched MatMuls per group — ops onnxruntime runs in float64 too. The
 * column tensors take N·C·K·O elements (K kernel taps, O output positions), the memory of one
 * im2col of the input.
 */
import { attrInt, attrInts, attrString } from '../../../onnx/attributes';
import { NodeProto } from '../../../onnx/proto';
import { VjpContext, VjpRule } from '../vjp';
import { floatOutType, none, numel, optionalInput, range, reduceSum, reshape, transpose } from './common';
import { appendZero, forwardPads, gatherConst, nonEmpty, stridesDilations, tapIndex, tapInverse, Window } from './window';

/**
 * What Conv and ConvTranspose read alike: X [N, C, in…], W, Y [N, M, out…] (shapes from the run),
 * G groups of C/G input and M/G output channels, the kernel (its attribute, else W's spatial
 * dims), strides and dilations.
 */
function geometry(node: NodeProto, ctx: VjpContext) {
  const xShape = ctx.shape(node.input[0]);
  const wShape = ctx.shape(node.input[1]);
  const yShape = ctx.shape(node.output[0]);
  const [N, C] = xShape;
  const M = yShape[1];
  const G = attrInt(node, 'group', 1);
  const inDims = xShape.slice(2);
  const kernel = nonEmpty(attrInts(node, 'kernel_shape')) ?? wShape.slice(2);
  return { xShape, wShape, yShape, N, C, M, G, Cg: C / G, Mg: M / G, inDims, outDims: yShape.slice(2), kernel, ...stridesDilations(node, inDims.length) };
}

/** dB = Σ dY over every axis but the channel axis 1. */
function biasGrad(ctx: VjpContext, dY: string, rank: number): string {
  return reduceSum(ctx, dY, [0, ...range(2, rank)], 0);
}

/**
 * Conv: X [N, C, in…], W [M, C/G, k…], optional B [M], G = group,
 *   Y[n, m, o] = B[m] + Σ_{c ∈ group(m), k} W[m, c, k]·X[n, c, o·s + k·dil − pb]
 * (positions outside X read 0). With cols = im2col(X) viewed as [N, G, (C/G)·K, O] and W as
 * [G, M/G, (C/G)·K], Y = W·cols per group, so
 *   dW = Σ_n dY·colsᵀ,   dcols = Wᵀ·dY,   dX = col2im(dcols),   dB = Σ dY over all axes but 1,
 * where col2im sums, for each input position, the dcols entries of the (tap, window) pairs that
 * read it. pb comes from `pads` or `auto_pad` as onnxruntime computes it; the output size is the
 * runtime one (so explicit, SAME_* and VALID padding all reduce to pb and the runtime shape).
 */
const conv: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  if (!dY || floatOutType(node, ctx) === undefined) return grads;
  const b = ctx.b;
  const { xShape, wShape, yShape, N, C, G, Cg, Mg, inDims, outDims, kernel, strides, dilations } = geometry(node, ctx);
  const pads = forwardPads(node, inDims, kernel, strides);
  const w: Window = { inDims, outDims, kernel, strides, dilations, padsBegin: pads.slice(0, inDims.length) };
  const S = numel(inDims);
  const K = numel(kernel);
  const O = numel(w.outDims);
  const dY4 = reshape(ctx, dY, [N, G, Mg, O]);
  if (wanted[0]) {
    const Wg = reshape(ctx, ctx.value(node.input[1]), [G, Mg, Cg * K]);
    const dcols = b.matmul(transpose(ctx, Wg, [0, 2, 1]), dY4); // [N, G, Cg·K, O]
    const flat = appendZero(ctx, reshape(ctx, dcols, [N, C, K * O]));
    const perTap = gatherConst(ctx, flat, tapInverse(w), [S, K]); // [N, C, S, K]
    grads[0] = reshape(ctx, reduceSum(ctx, perTap, [3], 0), xShape);
  }
  if (wanted[1]) {
    const xz = appendZero(ctx, reshape(ctx, ctx.value(node.input[0]), [N, C, S]));
    const cols = reshape(ctx, gatherConst(ctx, xz, tapIndex(w), [K, O]), [N, G, Cg * K, O]);
    const dWn = b.matmul(dY4, transpose(ctx, cols, [0, 1, 3, 2])); // [N, G, Mg, Cg·K]
    grads[1] = reshape(ctx, reduceSum(ctx, dWn, [0], 0), wShape);
  }
  const bias = optionalInput(node, 2);
  if (bias && wanted[2]) grads[2] = biasGrad(ctx, dY, yShape.length);
  return grads;
};

/**
 * The leading pads of a ConvTranspose, as onnxruntime (and the ONNX spec) compute them: with
 * `output_shape` or SAME_* padding, total = (in − 1)·s + output_padding + (k − 1)·dil + 1 − out
 * (out = the runtime size, or in·s for SAME_* without output_shape), clamped at 0, split
 * ⌊total/2⌋ at the beginning for SAME_UPPER and total − ⌊total/2⌋ otherwise; VALID: 0;
 * else the explicit `pads`.
 */
function transposePadsBegin(node: NodeProto, inDims: number[], outDims: number[], kernel: number[], strides: number[], dilations: number[]): number[] {
  const r = inDims.length;
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const outputShape = nonEmpty(attrInts(node, 'output_shape'));
  const adj = nonEmpty(attrInts(node, 'output_padding')) ?? new Array<number>(r).fill(0);
  const same = autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER';
  if (outputShape || same) {
    return inDims.map((inSize, d) => {
      const target = outputShape ? outDims[d] : inSize * strides[d];
      const total = Math.max(0, (inSize - 1) * strides[d] + adj[d] + (kernel[d] - 1) * dilations[d] + 1 - target);
      return autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
    });
  }
  if (autoPad === 'VALID') return new Array<number>(r).fill(0);
  return (nonEmpty(attrInts(node, 'pads')) ?? new Array<number>(2 * r).fill(0)).slice(0, r);
}

/**
 * ConvTranspose: X [N, C, in…], W [C, M/G, k…], optional B [M], G = group,
 *   Y[n, m, i·s + k·dil − pb] += X[n, c, i]·W[c, m, k]   (c ∈ group(m); positions outside Y dropped),
 * the adjoint of a Conv whose input is Y-shaped. With colsY = im2col of dY over that Conv's
 * windows (window i, tap k reads Y position i·s + k·dil − pb), viewed as [N, G, (M/G)·K, I], and
 * W as [G, C/G, (M/G)·K]:
 *   dX = W·colsY,   dW = Σ_n X·colsYᵀ,   dB = Σ dY over all axes but 1.
 * output_padding and output_shape only move pb and the runtime output size.
 */
const convTranspose: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  if (!dY || floatOutType(node, ctx) === undefined) return grads;
  const b = ctx.b;
  const { xShape, wShape, yShape, N, M, G, Cg, Mg, inDims, outDims, kernel, strides, dilations } = geometry(node, ctx);
  const padsBegin = transposePadsBegin(node, inDims, outDims, kernel, strides, dilations);
  // The adjoint Conv: its input is Y-shaped, its windows are X's positions.
  const w: Window = { inDims: outDims, outDims: inDims, kernel, strides, dilations, padsBegin };
  const I = numel(inDims);
  const K = numel(kernel);
  const dYz = appendZero(ctx, reshape(ctx, dY, [N, M, numel(outDims)]));
  const colsY = reshape(ctx, gatherConst(ctx, dYz, tapIndex(w), [K, I]), [N, G, Mg * K, I]);
  if (wanted[0]) {
    const Wg = reshape(ctx, ctx.value(node.input[1]), [G, Cg, Mg * K]);
    grads[0] = reshape(ctx, b.matmul(Wg, colsY), xShape); // [N, G, Cg, I]
  }
  if (wanted[1]) {
    const Xg = reshape(ctx, ctx.value(node.input[0]), [N, G, Cg, I]);
    const dWn = b.matmul(Xg, transpose(ctx, colsY, [0, 1, 3, 2])); // [N, G, Cg, Mg·K]
    grads[1] = reshape(ctx, reduceSum(ctx, dWn, [0], 0), wShape);
  }
  const bias = optionalInput(node, 2);
  if (bias && wanted[2]) grads[2] = biasGrad(ctx, dY, yShape.length);
  return grads;
};

export const CONV_RULES: Record<string, VjpRule> = {
  Conv: conv,
  ConvTranspose: convTranspose,
};
