/**
 * The objective L (SPEC §3) on a chosen graph output y, emitted as ONNX nodes: its value and its
 * gradient dL/dy, the seed of the backward pass.
 *   sum: L = Σy, dL/dy = 1        mean: L = Σy / N, dL/dy = 1/N      l2: L = ½‖y‖², dL/dy = y
 *   last: L = Σ of y at the last index of its time axis, dL/dy = 1 there, 0 elsewhere
 *   target: L = Σ(y − y*)² / N, dL/dy = 2(y − y*) / N
 */
import { attrInt, attrInts } from '../../onnx/attributes';
import { GraphBuilder } from '../../onnx/builder';
import { AnalysisError } from '../../onnx/errors';
import { GraphProto, NodeProto } from '../../onnx/proto';
import { layerDisplayName } from '../recurrent';
import { isRecurrent } from './gradientPath';
import { describeIterated, isIterated } from '../iterated/spec';

import type { ObjectiveKind } from '../../report/types';

export { OBJECTIVE_KINDS, type ObjectiveKind } from '../../report/types';

export interface ObjectiveSpec {
  kind: ObjectiveKind;
  /** Graph output name; default the first. */
  output?: string;
  /** Overrides the traced time axis for 'last'. */
  timeAxis?: number;
  /** For 'target': the target values, shaped like the output. */
  target?: { dims: number[]; data: Float32Array };
}

export interface EmittedObjective {
  /** Scalar L. */
  value: string;
  /** dL/dy, shaped like y. */
  seed: string;
}

/**
 * `calls`: y stacks N streaming calls on axis 0, and L sums the objective over the calls (SPEC v2
 * §9.1): mean and target average within a call; `last` takes the last call (at the last step of
 * its own time axis `innerAxis` of the stacked y, when it has one).
 */
export function emitObjective(b: GraphBuilder, spec: ObjectiveSpec, y: string, shape: number[], timeAxis: number | undefined,
  calls?: { N: number; innerAxis?: number }): EmittedObjective {
  // Elements one mean averages over: all of y, or one call's.
  const n = shape.reduce((a, c) => a * c, 1) / (calls?.N ?? 1);
  const ones = () => b.op('ConstantOfShape', [b.constI64(shape)], { value: { name: '', dims: [1], data_type: 1, raw_data: new Uint8Array(Float32Array.of(1).buffer) } });
  switch (spec.kind) {
    case 'sum': return { value: b.op('ReduceSum', [y], { keepdims: 0 }), seed: ones() };
    case 'mean': return { value: b.mul(b.op('ReduceSum', [y], { keepdims: 0 }), b.constF(1 / n)), seed: b.mul(ones(), b.constF(1 / n)) };
    case 'l2': return { value: b.mul(b.op('ReduceSumSquare', [y], { keepdims: 0 }), b.constF(0.5)), seed: b.op('Identity', [y]) };
    case 'last': {
      // One-hot at the last index of every time axis (the calls' and, within a call, its own).
      const axes = calls ? [0, ...(calls.innerAxis !== undefined ? [calls.innerAxis] : [])] : [timeAxis!];
      let seed = ones();
      for (const axis of axes) {
        const steps = shape[axis];
        const oneHot = new Float32Array(steps);
        oneHot[steps - 1] = 1;
        const bshape = shape.map((d, i) => (i === axis ? steps : 1));
        seed = b.mul(seed, b.initializer('last_step_mask', bshape, oneHot));
      }
      return { value: b.op('ReduceSum', [b.mul(y, seed)], { keepdims: 0 }), seed };
    }
    case 'target': {
      const t = spec.target!;
      // With calls: one target per call [N, ...], or one for every call (the call's shape, broadcast).
      const fits = (dims: number[]) => t.dims.length === dims.length && t.dims.every((d, i) => d === dims[i]);
      if (!fits(shape) && !(calls && fits(shape.slice(1)))) {
        throw new AnalysisError(`--target: the target has shape (${t.dims.join(', ')}) but output '${spec.output}' has shape (${shape.join(', ')})${calls ? ` over ${calls.N} calls (one call: (${shape.slice(1).join(', ')}))` : ''}; give a target of the output's shape.`);
      }
      const diff = b.sub(y, b.initializer('target', t.dims, t.data));
      return { value: b.mul(b.op('ReduceSum', [b.mul(diff, diff)], { keepdims: 0 }), b.constF(1 / n)), seed: b.mul(diff, b.constF(2 / n)) };
    }
  }
}

const SAME_AXES = new Set(['Identity', 'Cast', 'Dropout', 'Relu', 'Tanh', 'Sigmoid', 'LeakyRelu', 'Elu', 'Selu', 'Abs', 'Neg',
  'Exp', 'Log', 'Sqrt', 'Clip', 'Softmax', 'LogSoftmax', 'LayerNormalization', 'BatchNormalization', 'Add', 'Sub', 'Mul',
  'Div', 'Pow', 'Where', 'Expand', 'Tile', 'Concat', 'Slice', 'Softplus', 'Softsign', 'HardSigmoid', 'Erf', 'Gelu',
  'HardSwish', 'Reciprocal', 'PRelu', 'Max', 'Min']);

/**
 * The time axis of `output`: a recurrent node's sequence axis (axis 0 of Y in the runtime graph)
 * followed through the graph. Returns the axis and a description of where it came from.
 */
export function traceTimeAxis(graph: GraphProto, shapes: (t: string) => number[] | undefined, output: string,
  constInts: (t: string) => number[] | undefined): { axis: number; from: string } | { lost: string } {
  const axisOf = new Map<string, { axis: number; from: string }>();
  let lostAt = 'no recurrent layer precedes it';
  graph.node.forEach((n, i) => {
    if (isRecurrent(n)) {
      if (n.output[0]) axisOf.set(n.output[0], { axis: 0, from: layerDisplayName(n, i) });
      return;
    }
    if (isIterated(n)) {
      // A Loop/Scan (a recurrent node inside, or state carried from iteration to iteration): its per-iteration outputs are stacked along the iterations.
      const spec = describeIterated(n, i, 17);
      spec.scanOuts.forEach((so) => { if (so.outerOut) axisOf.set(so.outerOut, { axis: so.axis, from: layerDisplayName(n, i) }); });
      return;
    }
    const k = n.input.findIndex((t) => axisOf.has(t));
    if (k < 0) return;
    const src = axisOf.get(n.input[k])!;
    const a = src.axis;
    const inShape = shapes(n.input[k]);
    const outShape = shapes(n.output[0]);
    const mapped = mapAxis(n, k, a, inShape, outShape, constInts);
    if (mapped === undefined) {
      lostAt = `the time axis of '${src.from}' ends at node '${layerDisplayName(n, i)}' (${n.op_type})`;
      return;
    }
    for (const o of n.output) if (o) axisOf.set(o, { axis: mapped, from: src.from });
  });
  const found = axisOf.get(output);
  return found ?? { lost: lostAt };
}

function mapAxis(n: NodeProto, inputIndex: number, a: number, inShape: number[] | undefined, outShape: number[] | undefined,
  constInts: (t: string) => number[] | undefined): number | undefined {
  const rin = inShape?.length;
  const rout = outShape?.length;
  const norm = (x: number, r: number) => (x < 0 ? x + r : x);
  if (SAME_AXES.has(n.op_type)) {
    if (n.op_type === 'Slice' && outShape && inShape && outShape[a] !== inShape[a]) return a; // a cut time axis is still the time axis
    return rin !== undefined && rout !== undefined ? a + (rout - rin) : a;
  }
  switch (n.op_type) {
    case 'Transpose': {
      const perm = attrInts(n, 'perm') ?? (rin ? Array.from({ length: rin }, (_, i) => rin - 1 - i) : undefined);
      const k = perm?.indexOf(a);
      return k !== undefined && k >= 0 ? k : undefined;
    }
    case 'Squeeze': {
      if (rin === undefined) return undefined;
      const axes = (attrInts(n, 'axes') ?? (n.input[1] ? constInts(n.input[1]) : undefined))?.map((x) => norm(x, rin))
        ?? inShape!.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
      return axes.includes(a) ? undefined : a - axes.filter((x) => x < a).length;
    }
    case 'Unsqueeze': {
      if (rout === undefined) return undefined;
      const axes = (attrInts(n, 'axes') ?? (n.input[1] ? constInts(n.input[1]) : undefined))?.map((x) => norm(x, rout));
      if (!axes) return undefined;
      let pos = a;
      for (const x of [...axes].sort((p, q) => p - q)) if (x <= pos) pos++;
      return pos;
    }
    case 'Reshape':
    case 'Flatten': {
      if (!inShape || !outShape) return undefined;
      const before = inShape.slice(0, a).reduce((p, q) => p * q, 1);
      let acc = 1;
      for (let k = 0; k < outShape.length; k++) {
        if (acc === before) {
          // The axis itself, or merged with the axes after it (iterations × steps of a loop → one time axis).
          let merged = 1;
          for (let j = a; j < inShape.length && merged < outShape[k]; j++) merged *= inShape[j];
          if (outShape[k] === inShape[a] || (merged === outShape[k] && inShape[a] > 1)) return k;
        }
        acc *= outShape[k];
      }
      return undefined;
    }
    case 'Gather': {
      if (inputIndex !== 0 || rin === undefined) return undefined;
      const g = norm(attrInt(n, 'axis', 0), rin);
      const idxRank = rout !== undefined ? rout - rin + 1 : undefined;
      if (g === a || idxRank === undefined) return undefined;
      return a < g ? a : a - 1 + idxRank;
    }
    case 'MatMul': {
      if (inputIndex !== 0 || rin === undefined || rout === undefined || a >= rin - 1) return undefined;
      return a + (rout - rin);
    }
    case 'Gemm':
      return inputIndex === 0 && a === (attrInt(n, 'transA', 0) ? 1 : 0) ? 0 : undefined;
    case 'ReduceSum':
    case 'ReduceMean': {
      if (rin === undefined) return undefined;
      const axes = (attrInts(n, 'axes') ?? (n.input[1] ? constInts(n.input[1]) : undefined))?.map((x) => norm(x, rin));
      if (!axes || axes.length === 0 || axes.includes(a)) return undefined;
      return attrInt(n, 'keepdims', 1) ? a : a - axes.filter((x) => x < a).length;
    }
    case 'Split':
      return a;
    default:
      return undefined;
  }
}
