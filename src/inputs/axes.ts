/**
 * Which axes of the graph inputs are the sequence and batch axes of the recurrent path
 * (SPEC §5): traced backwards from every recurrent node's X (and initial states /
 * sequence_lens) through the ops exporters put in front of recurrent layers.
 */
import { attrInt, attrInts } from '../onnx/attributes';
import { GraphProto, NodeProto } from '../onnx/proto';
import { RecurrentNodeRef } from '../analysis/recurrent';

export type AxisRole = 'seq' | 'batch';

/** An axis's role and the (first) recurrent layer, by index, whose path it is on. */
export interface AxisUse {
  role: AxisRole;
  layer: number;
}

/** input name → axis → use */
export type AxisRoles = Map<string, Map<number, AxisUse>>;

/** Ops whose output axes are their first input's axes (elementwise, casts, row-wise projections). */
const AXIS_PRESERVING = new Set(['Identity', 'Cast', 'Dropout', 'Relu', 'Tanh', 'Sigmoid', 'LeakyRelu', 'Elu', 'Selu',
  'Abs', 'Neg', 'Exp', 'Log', 'Sqrt', 'Clip', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'MatMul', 'Softmax', 'LogSoftmax',
  'LayerNormalization', 'BatchNormalization', 'Erf', 'Gelu', 'HardSigmoid', 'Softplus', 'Softsign', 'Where', 'Floor', 'Ceil', 'Round']);

export function traceAxisRoles(graph: GraphProto, layers: RecurrentNodeRef[]): AxisRoles {
  const producer = new Map<string, NodeProto>();
  for (const n of graph.node) for (const o of n.output) producer.set(o, n);
  const graphInputs = new Set(graph.input.map((v) => v.name));
  const roles: AxisRoles = new Map();

  const record = (tensor: string, axis: number, use: AxisUse) => {
    if (!roles.has(tensor)) roles.set(tensor, new Map());
    const m = roles.get(tensor)!;
    if (!m.has(axis)) m.set(axis, use);
  };

  const walk = (tensor: string, axes: Map<number, AxisUse>, depth: number) => {
    if (!tensor || depth > 64 || axes.size === 0) return;
    if (graphInputs.has(tensor)) {
      for (const [axis, use] of axes) record(tensor, axis, use);
    }
    const p = producer.get(tensor);
    if (!p) return;
    if (AXIS_PRESERVING.has(p.op_type)) {
      walk(p.input[0], axes, depth + 1);
      return;
    }
    switch (p.op_type) {
      case 'Transpose': {
        const perm = attrInts(p, 'perm');
        if (!perm) return;
        walk(p.input[0], new Map([...axes].map(([a, r]) => [perm[a], r])), depth + 1);
        return;
      }
      case 'Gather': {
        // Embedding lookup: out = indices axes ++ data[1:] axes when gathering rows (axis 0).
        if (attrInt(p, 'axis', 0) === 0) walk(p.input[1], axes, depth + 1);
        return;
      }
      case 'Gemm':
      case 'Unsqueeze':
      case 'Squeeze':
      case 'Reshape':
      default:
        return;
    }
  };

  layers.forEach((layer, k) => {
    const [seqAxis, batchAxis] = layer.layout === 0 ? [0, 1] : [1, 0];
    const seq: AxisUse = { role: 'seq', layer: k };
    const batch: AxisUse = { role: 'batch', layer: k };
    walk(layer.inputs.X, new Map([[seqAxis, seq], [batchAxis, batch]]), 0);
    const stateBatchAxis = layer.layout === 0 ? 1 : 0;
    walk(layer.inputs.initialH, new Map([[stateBatchAxis, batch]]), 0);
    walk(layer.inputs.initialC, new Map([[stateBatchAxis, batch]]), 0);
    walk(layer.inputs.sequenceLens, new Map([[0, batch]]), 0);
  });
  return roles;
}

/** Graph inputs that feed an embedding lookup (Gather's indices, maybe through a Cast): input → rows. */
export function embeddingIndexInputs(graph: GraphProto, staticRows: (tensor: string) => number | undefined): Map<string, number> {
  const producer = new Map<string, NodeProto>();
  for (const n of graph.node) for (const o of n.output) producer.set(o, n);
  const graphInputs = new Set(graph.input.map((v) => v.name));
  const out = new Map<string, number>();
  for (const n of graph.node) {
    if (n.op_type !== 'Gather' || attrInt(n, 'axis', 0) !== 0) continue;
    const rows = staticRows(n.input[0]);
    if (rows === undefined) continue;
    let idx = n.input[1];
    for (let hops = 0; hops < 4 && !graphInputs.has(idx); hops++) {
      const p = producer.get(idx);
      if (!p || (p.op_type !== 'Cast' && p.op_type !== 'Identity')) break;
      idx = p.input[0];
    }
    if (graphInputs.has(idx)) out.set(idx, Math.min(rows, out.get(idx) ?? Infinity));
  }
  return out;
}
