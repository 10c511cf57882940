/**
 * Helpers shared by the VJP rule families (rules.ts and the files beside this one): shapes and
 * axes, typed scalar and zero constants, reshape/transpose/reduce emitters, and numpy
 * unbroadcasting.
 */
import { GraphBuilder } from '../../../onnx/builder';
import { makeTensor } from '../../../onnx/model';
import { DataType, NodeProto } from '../../../onnx/proto';
import { VjpContext, VjpRule } from '../vjp';

export type Grads = (string | undefined)[];

export function isFloatType(t: number): boolean {
  return t === DataType.FLOAT || t === DataType.DOUBLE || t === DataType.FLOAT16 || t === DataType.BFLOAT16;
}

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

export function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A possibly negative axis of a rank-`rank` tensor, as 0 … rank−1. */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** An optional input: its name when the node has it (not absent, not the empty name). */
export function optionalInput(node: NodeProto, i: number): string | undefined {
  const name = node.input[i];
  return name ? name : undefined;
}

export function nodeLabel(node: NodeProto): string {
  return node.name ? `${node.op_type} node '${node.name}'` : `${node.op_type} node (output '${node.output[0]}')`;
}

/** No gradient for any input (used when no gradient reaches the node's outputs). */
export function none(node: NodeProto): Grads {
  return node.input.map(() => undefined);
}

const scalarCache = new WeakMap<GraphBuilder, Map<string, string>>();

/** A scalar constant of a float element type (cached per builder). */
export function scalar(ctx: VjpContext, value: number, elemType: number): string {
  const b = ctx.b;
  if (elemType === DataType.FLOAT) return b.constF(value);
  let cache = scalarCache.get(b);
  if (!cache) { cache = new Map(); scalarCache.set(b, cache); }
  const key = `${elemType}:${value}`;
  let name = cache.get(key);
  if (!name) {
    name = elemType === DataType.DOUBLE
      ? b.initializer('c', [], Float64Array.of(value))
      : b.op('Cast', [b.constF(value)], { to: elemType });
    cache.set(key, name);
  }
  return name;
}

/** Zeros of a static shape and float element type. */
export function zeros(ctx: VjpContext, shape: number[], elemType: number): string {
  const b = ctx.b;
  const dbl = elemType === DataType.DOUBLE;
  const value = makeTensor('value', [1], dbl ? Float64Array.of(0) : Float32Array.of(0));
  const z = b.op('ConstantOfShape', [b.constI64(shape)], { value }, 'zeros');
  return dbl || elemType === DataType.FLOAT ? z : b.op('Cast', [z], { to: elemType });
}

export function reshape(ctx: VjpContext, x: string, shape: number[]): string {
  // allowzero: a 0 in the target shape is a real empty dimension, not "copy the input's dim".
  return ctx.b.op('Reshape', [x, ctx.b.constI64(shape)], shape.includes(0) ? { allowzero: 1 } : {});
}

export function reduceSum(ctx: VjpContext, x: string, axes: number[], keepdims: number): string {
  return ctx.b.op('ReduceSum', [x, ctx.b.constI64(axes)], { keepdims });
}

export function transpose(ctx: VjpContext, x: string, perm: number[]): string {
  return perm.every((p, i) => p === i) ? x : ctx.b.op('Transpose', [x], { perm });
}

/** Swap the last two axes of a rank-`rank` tensor (rank ≥ 2). */
export function transposeLast2(ctx: VjpContext, x: string, rank: number): string {
  return transpose(ctx, x, [...range(0, rank - 2), rank - 1, rank - 2]);
}

/** numpy broadcast of two shapes. */
export function broadcastShapes(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/**
 * Undo numpy broadcasting: dX = Σ of g over the axes along which X (shape `target`) was
 * broadcast to g's shape `gShape` (the leading axes X lacks, and X's size-1 axes that g
 * stretched), reshaped to X's shape.
 */
export function unbroadcast(ctx: VjpContext, g: string, gShape: number[], target: number[]): string {
  const lead = gShape.length - target.length;
  if (lead < 0) throw new Error(`internal: cannot unbroadcast a gradient of shape [${gShape}] to [${target}]`);
  const axes = range(0, lead);
  target.forEach((d, i) => { if (d === 1 && gShape[i + lead] !== 1) axes.push(i + lead); });
  if (axes.length === 0) return g;
  const summed = reduceSum(ctx, g, axes, 1);
  return lead === 0 ? summed : reshape(ctx, summed, target);
}

/** The gradient type of a node: its first output's element type when that is floating point. */
export function floatOutType(node: NodeProto, ctx: VjpContext): number | undefined {
  const t = ctx.elemType(node.output[0]);
  return isFloatType(t) ? t : undefined;
}

/**
 * Wrap an elementwise unary rule dX = f(dY, X, Y): no gradient unless one reaches Y and the
 * input is floating point.
 */
export function unary(f: (ctx: VjpContext, dY: string, x: string, y: string, node: NodeProto, t: number) => string): VjpRule {
  return (node, dOutputs, ctx, wanted) => {
    const dY = dOutputs[0];
    const t = floatOutType(node, ctx);
    if (!dY || !wanted[0] || t === undefined) return none(node);
    const grads = none(node);
    grads[0] = f(ctx, dY, ctx.value(node.input[0]), ctx.value(node.output[0]), node, t);
    return grads;
  };
}
