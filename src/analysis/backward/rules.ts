/**
 * VJP rules of the non-recurrent ops, keyed by ONNX op_type (default domain).
 *
 * Notation: Y = the node's output, dY = dL/dY (the upstream gradient, Y's shape), dX = dL/dX.
 * Every rule reads forward information only through the context (values, runtime shapes,
 * constants) and emits opset-17 nodes (GENERATED_OPSET): axes of Squeeze/Unsqueeze/ReduceSum
 * as inputs, ReduceMean's as an attribute, Pad's pads as an input. The analysed model's own
 * opset (7–22) decides how the forward node is read (attribute or input forms).
 *
 * This file holds the shape, arithmetic, activation and normalisation rules and the table; the
 * families with more machinery live beside it in rules/: reductions (reduce.ts), elementwise
 * activations and Min/Max (elementwise.ts), Einsum and CumSum (linear.ts), Conv and
 * ConvTranspose (conv.ts, window.ts), pooling (pool.ts) and Pad (pad.ts), with the shared
 * helpers in common.ts. Every emitted op also runs in float64 in onnxruntime, so the rules hold
 * for float64 models and are checked in float64 (test/unit/vjpRules.test.ts).
 */
import { attrFloat, attrInt, attrInts } from '../../onnx/attributes';
import { AnalysisError } from '../../onnx/errors';
import { DataType, NodeProto } from '../../onnx/proto';
import {
  broadcastShapes, floatOutType, isFloatType, nodeLabel, none, normAxis, numel, optionalInput, range, reduceSum, reshape,
  sameShape, scalar, transpose, transposeLast2, unary, unbroadcast, zeros,
} from './rules/common';
import { CONV_RULES } from './rules/conv';
import { ELEMENTWISE_RULES } from './rules/elementwise';
import { LINEAR_RULES } from './rules/linear';
import { PAD_RULES } from './rules/pad';
import { POOL_RULES } from './rules/pool';
import { REDUCE_RULES } from './rules/reduce';
import { VjpContext, VjpRule } from './vjp';

// Shape-only ops --------------------------------------------------------------------------------

const identity: VjpRule = (node, dOutputs, _ctx, wanted) => {
  const grads = none(node);
  if (wanted[0]) grads[0] = dOutputs[0];
  return grads;
};

/** Reshape, Flatten, Squeeze, Unsqueeze: dX = reshape(dY, shape(X)); axes/shape inputs get none. */
const reshapeBack: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  if (dY && wanted[0]) grads[0] = reshape(ctx, dY, ctx.shape(node.input[0]));
  return grads;
};

/** Cast: dX = cast(dY, type(X)) for a floating-point X; an integer or bool X gets no gradient. */
const cast: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const tx = ctx.elemType(node.input[0]);
  if (!dY || !wanted[0] || !isFloatType(tx) || !isFloatType(ctx.elemType(node.output[0]))) return grads;
  grads[0] = tx === ctx.elemType(node.output[0]) ? dY : ctx.b.op('Cast', [dY], { to: tx });
  return grads;
};

/** Transpose: Y = transpose(X, p) ⇒ dX = transpose(dY, p⁻¹), p⁻¹[p[i]] = i; default p reverses the axes. */
const transposeRule: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  if (!dY || !wanted[0]) return grads;
  const rank = ctx.shape(node.input[0]).length;
  const perm = attrInts(node, 'perm') ?? range(0, rank).reverse();
  const inv = new Array<number>(rank);
  perm.forEach((p, i) => { inv[p] = i; });
  grads[0] = transpose(ctx, dY, inv);
  return grads;
};

/** Concat along `axis`: dX_i = dY[…, o_i : o_i + n_i, …] with o_i the running offset. */
const concat: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  if (!dY) return grads;
  const rank = ctx.shape(node.output[0]).length;
  const axis = normAxis(attrInt(node, 'axis', 0), rank);
  let offset = 0;
  node.input.forEach((x, i) => {
    const n = ctx.shape(x)[axis];
    if (wanted[i]) grads[i] = node.input.length === 1 ? dY : ctx.b.slice(dY, [offset], [offset + n], [axis]);
    offset += n;
  });
  return grads;
};

/** Split along `axis`: dX = concat(dY_0, …, dY_k) with zeros for outputs no gradient reaches. */
const split: VjpRule = (node, dOutputs, ctx, wanted) => {
  const grads = none(node);
  const t = ctx.elemType(node.input[0]);
  if (!wanted[0] || !isFloatType(t) || node.output.every((_, i) => !dOutputs[i])) return grads;
  const rank = ctx.shape(node.input[0]).length;
  const axis = normAxis(attrInt(node, 'axis', 0), rank);
  const parts = node.output.map((o, i) => dOutputs[i] ?? zeros(ctx, ctx.shape(o), t));
  grads[0] = parts.length === 1 ? parts[0] : ctx.b.concat(parts, axis);
  return grads;
};

/**
 * Slice: dX = zeros(shape(X)) with the sliced positions set to dY.
 *
 * With constant starts/ends/axes and unit steps, the selected block is [s_a, e_a) along each
 * sliced axis a (s, e normalised: negative + dim, clamped to [0, dim]), so dX = Pad(dY) with
 * s_a zeros before and dim_a − e_a after. Otherwise (other steps, or runtime starts/ends), the
 * same Slice is applied to the flat index tensor iota = 0 … N−1 of X's shape, which yields the
 * flat positions dY came from, and dY is scattered there (positions are distinct, so no
 * accumulation) — onnxruntime's own Slice handles negative and clamped bounds and negative steps.
 */
const slice: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  if (!dY || !wanted[0]) return grads;
  const b = ctx.b;
  const xShape = ctx.shape(node.input[0]);
  const rank = xShape.length;
  let starts: number[] | undefined;
  let ends: number[] | undefined;
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  let dynamic = false;
  if (ctx.opset < 10) {
    starts = attrInts(node, 'starts') ?? [];
    ends = attrInts(node, 'ends') ?? [];
    axes = attrInts(node, 'axes');
  } else {
    starts = ctx.constantInts(node.input[1]);
    ends = ctx.constantInts(node.input[2]);
    const axesIn = optionalInput(node, 3);
    const stepsIn = optionalInput(node, 4);
    axes = axesIn ? ctx.constantInts(axesIn) : undefined;
    steps = stepsIn ? ctx.constantInts(stepsIn) : undefined;
    dynamic = !starts || !ends || (!!axesIn && !axes) || (!!stepsIn && !steps);
  }
  if (!dynamic && starts && ends) {
    const ax = (axes ?? range(0, starts.length)).map((a) => normAxis(a, rank));
    const st = steps ?? starts.map(() => 1);
    if (st.every((s) => s === 1)) {
      // Y = X[s:e] along each sliced axis ⇒ dX = pad(dY, s before, dim − e after).
      const pads = new Array<number>(2 * rank).fill(0);
      ax.forEach((a, i) => {
        const dim = xShape[a];
        const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
        const s = clamp(starts![i]);
        const e = Math.max(clamp(ends![i]), s);
        pads[a] = s;
        pads[a + rank] = dim - e;
      });
      grads[0] = pads.every((p) => p === 0) ? dY : b.op('Pad', [dY, b.constI64(pads)]);
      return grads;
    }
  }
  const n = numel(xShape);
  const iota = reshape(ctx, b.op('Range', [b.constI64(0), b.constI64(n), b.constI64(1)]), xShape);
  let sliceInputs: string[];
  if (dynamic) {
    sliceInputs = [iota, ...node.input.slice(1).map((t) => (t ? ctx.value(t) : ''))];
  } else {
    sliceInputs = [iota, b.constI64(starts!), b.constI64(ends!)];
    if (axes || steps) sliceInputs.push(b.constI64(axes ?? range(0, starts!.length)));
    if (steps) sliceInputs.push(b.constI64(steps));
  }
  const positions = reshape(ctx, b.op('Slice', sliceInputs), [-1]);
  const flat = b.op('ScatterElements', [zeros(ctx, [n], ctx.elemType(node.output[0])), positions, reshape(ctx, dY, [-1])], { axis: 0 });
  grads[0] = reshape(ctx, flat, xShape);
  return grads;
};

/**
 * Gather along `axis`: Y[pre, j…, post] = X[pre, idx[j…], post] ⇒ dX[pre, i, post] =
 * Σ_{j: idx[j] = i} dY[pre, j…, post] — repeated indices accumulate (ScatterND, reduction add).
 * The gathered axis is moved to the front so one ScatterND serves every axis and index rank;
 * negative indices count from the end (i + dim).
 */
const gather: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || !wanted[0] || t === undefined) return grads;
  const b = ctx.b;
  const xShape = ctx.shape(node.input[0]);
  const rank = xShape.length;
  const axis = normAxis(attrInt(node, 'axis', 0), rank);
  const q = ctx.shape(node.input[1]).length;
  let idx = ctx.value(node.input[1]);
  if (ctx.elemType(node.input[1]) !== DataType.INT64) idx = b.op('Cast', [idx], { to: DataType.INT64 });
  const dim = xShape[axis];
  idx = b.op('Where', [b.op('Less', [idx, b.constI64(0)]), b.add(idx, b.constI64(dim)), idx]);
  const pre = xShape.slice(0, axis);
  const post = xShape.slice(axis + 1);
  // dY's axes are [pre | idx (q) | post]; ScatterND wants [idx | pre | post].
  const updates = transpose(ctx, dY, [...range(axis, axis + q), ...range(0, axis), ...range(axis + q, axis + q + post.length)]);
  const scattered = b.op('ScatterND', [zeros(ctx, [dim, ...pre, ...post], t), b.unsqueeze(idx, [-1]), updates], { reduction: 'add' });
  // [dim | pre | post] back to [pre | dim | post].
  grads[0] = transpose(ctx, scattered, [...range(1, axis + 1), 0, ...range(axis + 1, rank)]);
  return grads;
};

/** Expand: Y = broadcast(X) ⇒ dX = unbroadcast(dY). */
const expand: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  if (!dY || !wanted[0] || floatOutType(node, ctx) === undefined) return grads;
  grads[0] = unbroadcast(ctx, dY, ctx.shape(node.output[0]), ctx.shape(node.input[0]));
  return grads;
};

/**
 * Tile: Y[k·d + i] = X[i] along each axis (k < r repeats of a dim-d axis) ⇒ view dY as
 * [r_0, d_0, r_1, d_1, …] and sum over the r axes.
 */
const tile: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || !wanted[0] || t === undefined) return grads;
  const xShape = ctx.shape(node.input[0]);
  const yShape = ctx.shape(node.output[0]);
  if (numel(xShape) === 0 || numel(yShape) === 0) {
    grads[0] = zeros(ctx, xShape, t);
    return grads;
  }
  const reps = xShape.map((d, i) => yShape[i] / d);
  if (reps.every((r) => r === 1)) {
    grads[0] = dY;
    return grads;
  }
  const split2 = xShape.flatMap((d, i) => [reps[i], d]);
  grads[0] = reduceSum(ctx, reshape(ctx, dY, split2), range(0, xShape.length).map((i) => 2 * i), 0);
  return grads;
};

// Arithmetic ------------------------------------------------------------------------------------

/**
 * Binary elementwise ops with numpy broadcasting. `local` gives the gradient of each operand at
 * Y's shape; it is then unbroadcast to the operand's shape.
 */
function binary(local: (ctx: VjpContext, dY: string, a: string, b: string, which: 0 | 1, t: number) => string): VjpRule {
  return (node, dOutputs, ctx, wanted) => {
    const dY = dOutputs[0];
    const grads = none(node);
    const t = floatOutType(node, ctx);
    if (!dY || t === undefined) return grads;
    const yShape = ctx.shape(node.output[0]);
    for (const which of [0, 1] as const) {
      if (!wanted[which]) continue;
      const g = local(ctx, dY, node.input[0], node.input[1], which, t);
      grads[which] = unbroadcast(ctx, g, yShape, ctx.shape(node.input[which]));
    }
    return grads;
  };
}

/** Add: dA = dB = dY. */
const add = binary((_ctx, dY) => dY);
/** Sub: dA = dY, dB = −dY. */
const sub = binary((ctx, dY, _a, _b, which) => (which === 0 ? dY : ctx.b.op('Neg', [dY])));
/** Mul: dA = dY·B, dB = dY·A. */
const mul = binary((ctx, dY, a, b, which) => ctx.b.mul(dY, ctx.value(which === 0 ? b : a)));
/** Div: dA = dY/B, dB = −dY·A/B². */
const div = binary((ctx, dY, a, b, which) => {
  const B = ctx.value(b);
  if (which === 0) return ctx.b.op('Div', [dY, B]);
  return ctx.b.op('Neg', [ctx.b.op('Div', [ctx.b.mul(dY, ctx.value(a)), ctx.b.mul(B, B)])]);
});

/** Neg: dX = −dY. */
const neg = unary((ctx, dY) => ctx.b.op('Neg', [dY]));

/**
 * Pow (Y = X^p): dX = p·X^(p−1)·dY, unbroadcast. The exponent must be a constant when it is on
 * the gradient path (dL/dp = dY·Y·ln X is not implemented).
 */
const pow: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (wanted[1] && !ctx.constant(node.input[1])) {
    throw new AnalysisError(`${nodeLabel(node)}: Pow with a non-constant exponent ('${node.input[1]}') on the gradient path is unsupported; Gradient Lens differentiates Pow only with respect to its base, so make the exponent a constant (an initializer or Constant).`);
  }
  if (!dY || !wanted[0] || t === undefined) return grads;
  const b = ctx.b;
  let p = ctx.value(node.input[1]);
  if (ctx.elemType(node.input[1]) !== t) p = b.op('Cast', [p], { to: t });
  const local = b.mul(b.mul(dY, p), b.op('Pow', [ctx.value(node.input[0]), b.sub(p, scalar(ctx, 1, t))]));
  grads[0] = unbroadcast(ctx, local, ctx.shape(node.output[0]), ctx.shape(node.input[0]));
  return grads;
};

/**
 * MatMul with numpy semantics: a 1-D A is [1, k] (the row axis then dropped), a 1-D B is [k, 1]
 * (the column axis dropped); batch axes broadcast. With A₂, B₂ the promoted operands and dY₂ dY
 * with the dropped axes restored: dA₂ = dY₂·B₂ᵀ, dB₂ = A₂ᵀ·dY₂, each unbroadcast over the batch
 * axes and reshaped to the operand's shape.
 */
const matmul: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  if (!dY || floatOutType(node, ctx) === undefined) return grads;
  const aShape = ctx.shape(node.input[0]);
  const bShape = ctx.shape(node.input[1]);
  const a2Shape = aShape.length === 1 ? [1, aShape[0]] : aShape;
  const b2Shape = bShape.length === 1 ? [bShape[0], 1] : bShape;
  const batch = broadcastShapes(a2Shape.slice(0, -2), b2Shape.slice(0, -2));
  const n = a2Shape[a2Shape.length - 2];
  const k = a2Shape[a2Shape.length - 1];
  const m = b2Shape[b2Shape.length - 1];
  const promoted = aShape.length === 1 || bShape.length === 1;
  const dY2 = promoted ? reshape(ctx, dY, [...batch, n, m]) : dY;
  const A2 = aShape.length === 1 ? reshape(ctx, ctx.value(node.input[0]), a2Shape) : ctx.value(node.input[0]);
  const B2 = bShape.length === 1 ? reshape(ctx, ctx.value(node.input[1]), b2Shape) : ctx.value(node.input[1]);
  if (wanted[0]) {
    const g = ctx.b.matmul(dY2, transposeLast2(ctx, B2, b2Shape.length));
    const u = unbroadcast(ctx, g, [...batch, n, k], a2Shape);
    grads[0] = aShape.length === 1 ? reshape(ctx, u, aShape) : u;
  }
  if (wanted[1]) {
    const g = ctx.b.matmul(transposeLast2(ctx, A2, a2Shape.length), dY2);
    const u = unbroadcast(ctx, g, [...batch, k, m], b2Shape);
    grads[1] = bShape.length === 1 ? reshape(ctx, u, bShape) : u;
  }
  return grads;
};

/**
 * Gemm: Y = α·A′·B′ + β·C with A′ = transA ? Aᵀ : A, B′ = transB ? Bᵀ : B.
 * dA′ = α·dY·B′ᵀ, dB′ = α·A′ᵀ·dY (transposed back when the operand was), dC = unbroadcast(β·dY).
 */
const gemm: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || t === undefined) return grads;
  const b = ctx.b;
  const alpha = attrFloat(node, 'alpha') ?? 1;
  const beta = attrFloat(node, 'beta') ?? 1;
  const transA = attrInt(node, 'transA', 0);
  const transB = attrInt(node, 'transB', 0);
  const A = ctx.value(node.input[0]);
  const B = ctx.value(node.input[1]);
  const g = (x: string, y: string, tA: number, tB: number): string => b.op('Gemm', [x, y], { alpha: { float: alpha }, transA: tA, transB: tB });
  if (wanted[0]) {
    // transA = 0: dA = α·dY·B′ᵀ;  transA = 1: dA = (dA′)ᵀ = α·B′·dYᵀ.
    grads[0] = transA === 0 ? g(dY, B, 0, transB ? 0 : 1) : g(B, dY, transB, 1);
  }
  if (wanted[1]) {
    // transB = 0: dB = α·A′ᵀ·dY;  transB = 1: dB = (dB′)ᵀ = α·dYᵀ·A′.
    grads[1] = transB === 0 ? g(A, dY, transA ? 0 : 1, 0) : g(dY, A, 1, transA);
  }
  const c = optionalInput(node, 2);
  if (c && wanted[2]) {
    const scaled = beta === 1 ? dY : b.mul(dY, scalar(ctx, beta, t));
    grads[2] = unbroadcast(ctx, scaled, ctx.shape(node.output[0]), ctx.shape(c));
  }
  return grads;
};

// Activations -----------------------------------------------------------------------------------

/** Relu: dX = dY where X > 0, else 0 (0 at X = 0, as PyTorch). */
const relu = unary((ctx, dY, x, _y, _n, t) => ctx.b.op('Where', [ctx.b.op('Greater', [x, scalar(ctx, 0, t)]), dY, scalar(ctx, 0, t)]));

/** LeakyRelu: dX = dY where X > 0, else α·dY (α default 0.01). */
const leakyRelu = unary((ctx, dY, x, _y, node, t) => {
  const alpha = attrFloat(node, 'alpha') ?? 0.01;
  return ctx.b.op('Where', [ctx.b.op('Greater', [x, scalar(ctx, 0, t)]), dY, ctx.b.mul(dY, scalar(ctx, alpha, t))]);
});

/** Elu: Y = X (X > 0), α(eˣ − 1) otherwise ⇒ dX = dY (X > 0), dY·(Y + α) otherwise. */
const elu = unary((ctx, dY, x, y, node, t) => {
  const alpha = attrFloat(node, 'alpha') ?? 1;
  const neg = ctx.b.mul(dY, ctx.b.add(y, scalar(ctx, alpha, t)));
  return ctx.b.op('Where', [ctx.b.op('Greater', [x, scalar(ctx, 0, t)]), dY, neg]);
});

/** Tanh: dX = dY·(1 − Y²). */
const tanh = unary((ctx, dY, _x, y, _n, t) => ctx.b.mul(dY, ctx.b.sub(scalar(ctx, 1, t), ctx.b.mul(y, y))));
/** Sigmoid: dX = dY·Y·(1 − Y). */
const sigmoid = unary((ctx, dY, _x, y, _n, t) => ctx.b.mul(ctx.b.mul(dY, y), ctx.b.sub(scalar(ctx, 1, t), y)));
/** Exp: dX = dY·Y. */
const exp = unary((ctx, dY, _x, y) => ctx.b.mul(dY, y));
/** Log: dX = dY / X. */
const log = unary((ctx, dY, x) => ctx.b.op('Div', [dY, x]));
/** Sqrt: dX = dY / (2Y). */
const sqrt = unary((ctx, dY, _x, y, _n, t) => ctx.b.op('Div', [dY, ctx.b.mul(y, scalar(ctx, 2, t))]));

/**
 * The axes a Softmax/LogSoftmax normalises over. Opset ≥ 13: the single `axis` (default −1).
 * Opset < 13: X is coerced to 2-D [∏ dims[:axis], ∏ dims[axis:]] (default axis 1) and
 * normalised along the second, i.e. jointly over the axes axis … rank−1.
 */
function softmaxAxes(node: NodeProto, ctx: VjpContext): number[] {
  const rank = ctx.shape(node.input[0]).length;
  if (ctx.opset >= 13) return [normAxis(attrInt(node, 'axis', -1), rank)];
  return range(normAxis(attrInt(node, 'axis', 1), rank), rank);
}

/** Softmax: dX = Y ⊙ (dY − Σ_axes dY ⊙ Y). */
const softmax = unary((ctx, dY, _x, y, node) => {
  const s = reduceSum(ctx, ctx.b.mul(dY, y), softmaxAxes(node, ctx), 1);
  return ctx.b.mul(y, ctx.b.sub(dY, s));
});

/** LogSoftmax: dX = dY − exp(Y) ⊙ Σ_axes dY. */
const logSoftmax = unary((ctx, dY, _x, y, node) => {
  const s = reduceSum(ctx, dY, softmaxAxes(node, ctx), 1);
  return ctx.b.sub(dY, ctx.b.mul(ctx.b.op('Exp', [y]), s));
});

// Reductions, clipping, selection ---------------------------------------------------------------

/**
 * Clip: dX = dY where min ≤ X ≤ max, else 0. At the boundaries (X = min or X = max) the
 * gradient passes, as PyTorch's clamp backward does. min/max: attributes before opset 11,
 * optional inputs from 11; they get no gradient.
 */
const clip: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || !wanted[0] || t === undefined) return grads;
  const b = ctx.b;
  const x = ctx.value(node.input[0]);
  let lo: string | undefined;
  let hi: string | undefined;
  if (ctx.opset < 11) {
    const min = attrFloat(node, 'min');
    const max = attrFloat(node, 'max');
    if (min !== undefined && min > -Infinity) lo = scalar(ctx, min, t);
    if (max !== undefined && max < Infinity) hi = scalar(ctx, max, t);
  } else {
    const minIn = optionalInput(node, 1);
    const maxIn = optionalInput(node, 2);
    if (minIn) lo = ctx.value(minIn);
    if (maxIn) hi = ctx.value(maxIn);
  }
  const conds: string[] = [];
  if (lo) conds.push(b.op('GreaterOrEqual', [x, lo]));
  if (hi) conds.push(b.op('LessOrEqual', [x, hi]));
  if (conds.length === 0) {
    grads[0] = dY;
    return grads;
  }
  const mask = conds.length === 2 ? b.op('And', conds) : conds[0];
  grads[0] = b.op('Where', [mask, dY, scalar(ctx, 0, t)]);
  return grads;
};

/** Where: dX = unbroadcast(cond ? dY : 0), dY_else = unbroadcast(cond ? 0 : dY); cond gets none. */
const where: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || t === undefined) return grads;
  const cond = ctx.value(node.input[0]);
  const yShape = ctx.shape(node.output[0]);
  const zero = scalar(ctx, 0, t);
  if (wanted[1]) grads[1] = unbroadcast(ctx, ctx.b.op('Where', [cond, dY, zero]), yShape, ctx.shape(node.input[1]));
  if (wanted[2]) grads[2] = unbroadcast(ctx, ctx.b.op('Where', [cond, zero, dY]), yShape, ctx.shape(node.input[2]));
  return grads;
};

// Normalisation ---------------------------------------------------------------------------------

/**
 * LayerNormalization over the axes axis … rank−1 (n elements each), μ and σ² = mean (x − μ)²
 * recomputed, r = 1/√(σ² + ε), x̂ = (x − μ)·r:
 *   dB = Σ dY, dScale = Σ dY ⊙ x̂ (over the leading axes and broadcast axes),
 *   g = dY ⊙ Scale, dX = r·(g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)).
 * The optional Mean / InvStdDev outputs carry no gradient.
 */
const layerNorm: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || t === undefined) return grads;
  const b = ctx.b;
  const xShape = ctx.shape(node.input[0]);
  const rank = xShape.length;
  const axes = range(normAxis(attrInt(node, 'axis', -1), rank), rank);
  const eps = attrFloat(node, 'epsilon') ?? 1e-5;
  const x = ctx.value(node.input[0]);
  const mean = (v: string): string => b.op('ReduceMean', [v], { axes, keepdims: 1 });
  const xc = b.sub(x, mean(x));
  const r = b.op('Reciprocal', [b.op('Sqrt', [b.add(mean(b.mul(xc, xc)), scalar(ctx, eps, t))])]);
  const xhat = b.mul(xc, r);
  if (wanted[0]) {
    const g = b.mul(dY, ctx.value(node.input[1]));
    grads[0] = b.mul(r, b.sub(b.sub(g, mean(g)), b.mul(xhat, mean(b.mul(g, xhat)))));
  }
  if (wanted[1]) grads[1] = unbroadcast(ctx, b.mul(dY, xhat), xShape, ctx.shape(node.input[1]));
  const bias = optionalInput(node, 2);
  if (bias && wanted[2]) grads[2] = unbroadcast(ctx, dY, xShape, ctx.shape(bias));
  return grads;
};

/**
 * BatchNormalization in inference mode (running mean m and variance v, channel axis 1):
 * Y = (X − m)·r·scale + B with r = 1/√(v + ε), so
 *   dX = dY·scale·r, dScale = Σ dY ⊙ x̂ (x̂ = (X − m)·r), dB = Σ dY,
 *   dm = −Σ dY·scale·r, dv = Σ dY·scale·(X − m)·(−½)·r³
 * (sums over every axis but the channel axis; parameters of shape [C] broadcast as [C, 1, …]).
 */
const batchNorm: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || t === undefined) return grads;
  if (attrInt(node, 'training_mode', 0) === 1) {
    throw new AnalysisError(`${nodeLabel(node)} has training_mode = 1; Gradient Lens differentiates BatchNormalization only in inference mode (running statistics), so export the model in eval mode.`);
  }
  const b = ctx.b;
  const xShape = ctx.shape(node.input[0]);
  const rank = xShape.length;
  const eps = attrFloat(node, 'epsilon') ?? 1e-5;
  // A parameter's shape padded with trailing 1s to rank − 1, so it broadcasts from axis 1 on.
  const bshape = (p: string): number[] => {
    const s = ctx.shape(p);
    return [...s, ...new Array<number>(Math.max(0, rank - 1 - s.length)).fill(1)];
  };
  const param = (i: number): string => {
    const p = node.input[i];
    return sameShape(bshape(p), ctx.shape(p)) ? ctx.value(p) : reshape(ctx, ctx.value(p), bshape(p));
  };
  const back = (g: string, i: number): string => {
    const p = node.input[i];
    const u = unbroadcast(ctx, g, xShape, bshape(p));
    return sameShape(bshape(p), ctx.shape(p)) ? u : reshape(ctx, u, ctx.shape(p));
  };
  const scale = param(1);
  const r = b.op('Reciprocal', [b.op('Sqrt', [b.add(param(4), scalar(ctx, eps, t))])]);
  const xc = b.sub(ctx.value(node.input[0]), param(3));
  const dX = b.mul(dY, b.mul(scale, r));
  if (wanted[0]) grads[0] = dX;
  if (wanted[1]) grads[1] = back(b.mul(dY, b.mul(xc, r)), 1);
  if (wanted[2]) grads[2] = back(dY, 2);
  if (wanted[3]) grads[3] = back(b.op('Neg', [dX]), 3);
  // dY·scale·(X − m)·(−½)·r³ = dX·(X − m)·(−½)·r².
  if (wanted[4]) grads[4] = back(b.mul(b.mul(dX, xc), b.mul(b.mul(r, r), scalar(ctx, -0.5, t))), 4);
  return grads;
};

export const VJP_RULES: Record<string, VjpRule> = {
  Identity: identity,
  Dropout: identity,
  Cast: cast,
  Transpose: transposeRule,
  Reshape: reshapeBack,
  Flatten: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Concat: concat,
  Split: split,
  Slice: slice,
  Gather: gather,
  Expand: expand,
  Tile: tile,
  Add: add,
  Sub: sub,
  Mul: mul,
  Div: div,
  Neg: neg,
  Pow: pow,
  MatMul: matmul,
  Gemm: gemm,
  Relu: relu,
  LeakyRelu: leakyRelu,
  Elu: elu,
  Tanh: tanh,
  Sigmoid: sigmoid,
  Exp: exp,
  Log: log,
  Sqrt: sqrt,
  Softmax: softmax,
  LogSoftmax: logSoftmax,
  ...REDUCE_RULES,
  Clip: clip,
  Where: where,
  LayerNormalization: layerNorm,
  BatchNormalization: batchNorm,
  ...ELEMENTWISE_RULES,
  ...LINEAR_RULES,
  ...CONV_RULES,
  ...POOL_RULES,
  ...PAD_RULES,
};
