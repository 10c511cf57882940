/**
 * Which axes of the graph inputs are the sequence and batch axes of the recurrent path
 * (SPEC §5): traced backwards from every recurrent node's X (and initial states /
 * sequence_lens) through the ops exporters put in front of recurrent layers.
 */
import { attrInt, attrInts } from '../onnx/attributes';
import { GraphProto, NodeProto, TensorProto } from '../onnx/proto';
import { subgraphsOf, walkNodes } from '../onnx/graphs';
import { RecurrentNodeRef } from '../analysis/recurrent';

export type AxisRole = 'seq' | 'batch';

/** An axis's role and the (first) recurrent layer, by index, whose path it is on. */
export interface AxisUse {
  role: AxisRole;
  layer: number;
}

/** input name → axis → use */
export type AxisRoles = Map<string, Map<number, AxisUse>>;

/** Elementwise ops (numpy broadcasting): an output axis is the same axis of each non-constant input. */
const ELEMENTWISE = new Set(['Identity', 'Cast', 'Dropout', 'Relu', 'Tanh', 'Sigmoid', 'LeakyRelu', 'Elu', 'Selu',
  'Abs', 'Neg', 'Exp', 'Log', 'Sqrt', 'Clip', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Erf', 'Gelu', 'HardSigmoid',
  'HardSwish', 'Softplus', 'Softsign', 'Where', 'Floor', 'Ceil', 'Round', 'PRelu', 'Reciprocal', 'Min', 'Max', 'Sum', 'Mean',
  'Sin', 'Cos', 'Not', 'Equal', 'Greater', 'Less']);
/** Ops whose output axes are their first input's, lengths possibly changed (a cut, padded or repeated time axis is still the time axis). */
const SAME_AXES = new Set(['Softmax', 'LogSoftmax', 'LayerNormalization', 'BatchNormalization', 'InstanceNormalization',
  'Pad', 'Slice', 'Expand', 'Tile', 'CumSum', 'Split', 'LpNormalization', 'GroupNormalization']);
/** Convolutions and pools: [N, C, spatial…] — batch axis 0 and every spatial axis carry through, channels do not. */
const CONV_LIKE = new Set(['Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'LpPool', 'ConvInteger']);

/** A shape tensor's entries, symbolically: copied from an axis of some tensor, a constant, or unknown. */
type ShapeEntry = { axisOf: string; axis: number } | { value: number } | { unknown: true };

export function traceAxisRoles(graph: GraphProto, layers: RecurrentNodeRef[]): AxisRoles {
  // Producers across If branches and bodies too: exports put the recurrent layers there.
  const producer = new Map<string, NodeProto>();
  const branchOutputs = new Map<NodeProto, string[][]>();
  for (const { node } of walkNodes(graph)) {
    for (const o of node.output) if (o) producer.set(o, node);
    if (node.op_type === 'If') branchOutputs.set(node, subgraphsOf(node).map((g) => (g.graph.output ?? []).map((v) => v.name)));
  }
  const constants = new Map<string, number[]>();
  for (const { graph: g } of [{ graph }, ...walkNodes(graph).flatMap((p) => subgraphsOf(p.node))]) {
    for (const t of g.initializer ?? []) if ((t.dims ?? []).length <= 1 && t.data_type === 7) constants.set(t.name ?? '', intValues(t));
  }
  for (const { node } of walkNodes(graph)) {
    if (node.op_type !== 'Constant') continue;
    const t = node.attribute.find((x) => x.name === 'value')?.t;
    if (t && t.data_type === 7 && (t.dims ?? []).length <= 1) constants.set(node.output[0], intValues(t));
  }
  const graphInputs = new Set(graph.input.map((v) => v.name));
  const initializers = new Set(graph.initializer.map((t) => t.name ?? ''));
  // Declared ranks (graph inputs, value_info), for ops whose axis mapping depends on an operand's rank.
  const declaredRank = new Map<string, number>();
  for (const v of [...graph.input, ...(graph.value_info ?? [])]) {
    const dims = v.type?.tensor_type?.shape?.dim;
    if (dims) declaredRank.set(v.name, dims.length);
  }
  /** A tensor's rank when it is declared or follows through rank-preserving ops; undefined otherwise. */
  const rankOf = (tensor: string, depth = 0): number | undefined => {
    const known = declaredRank.get(tensor);
    if (known !== undefined || depth > 16) return known;
    const p = producer.get(tensor);
    if (!p) return undefined;
    // One-input elementwise ops, TopK (values and indices) and Softmax keep their input's rank.
    const keepsRank = (ELEMENTWISE.has(p.op_type) && p.input.length === 1) || p.op_type === 'TopK' || p.op_type === 'Softmax';
    return keepsRank ? rankOf(p.input[0], depth + 1) : undefined;
  };
  const roles: AxisRoles = new Map();

  const record = (tensor: string, axis: number, use: AxisUse) => {
    if (!roles.has(tensor)) roles.set(tensor, new Map());
    const m = roles.get(tensor)!;
    if (!m.has(axis)) m.set(axis, use);
  };
  const axesOf = (n: NodeProto, inputIndex: number): number[] | undefined =>
    attrInts(n, 'axes') ?? (n.input[inputIndex] ? constants.get(n.input[inputIndex]) : undefined);

  /** The entries of a shape tensor built the way exporters build them: Concat(Unsqueeze(Gather(Shape(x), k)), constants). */
  const shapeEntries = (tensor: string, depth: number): ShapeEntry[] | undefined => {
    const c = constants.get(tensor);
    if (c) return c.map((value) => ({ value }));
    const p = producer.get(tensor);
    if (!p || depth > 16) return undefined;
    switch (p.op_type) {
      case 'Shape': return undefined; // a whole Shape is handled through Gather/Slice of it
      case 'Concat': {
        const parts = p.input.map((x) => shapeEntries(x, depth + 1));
        return parts.every((x): x is ShapeEntry[] => !!x) ? parts.flat() : undefined;
      }
      case 'Unsqueeze': case 'Cast': case 'Identity': case 'Squeeze': return shapeEntries(p.input[0], depth + 1);
      case 'Gather': {
        const src = producer.get(p.input[0]);
        const idx = constants.get(p.input[1]);
        if (src?.op_type === 'Shape' && idx) return idx.map((k) => ({ axisOf: src.input[0], axis: k }));
        return undefined;
      }
      case 'Slice': {
        const src = producer.get(p.input[0]);
        const st = constants.get(p.input[1]);
        const en = constants.get(p.input[2]);
        if (src?.op_type === 'Shape' && st && en && st.length === 1) {
          const out: ShapeEntry[] = [];
          for (let k = st[0]; k < Math.min(en[0], 64); k++) out.push({ axisOf: src.input[0], axis: k });
          return out;
        }
        return undefined;
      }
      default: return undefined;
    }
  };

  const walk = (tensor: string, axes: Map<number, AxisUse>, depth: number) => {
    if (!tensor || depth > 96 || axes.size === 0 || initializers.has(tensor)) return;
    if (graphInputs.has(tensor)) {
      for (const [axis, use] of axes) record(tensor, axis, use);
    }
    const p = producer.get(tensor);
    if (!p) return;
    const shift = (map: (a: number) => number | undefined) => {
      const out = new Map<number, AxisUse>();
      for (const [a, r] of axes) { const b = map(a); if (b !== undefined && b >= 0) out.set(b, r); }
      return out;
    };
    if (ELEMENTWISE.has(p.op_type)) {
      for (const x of p.input) if (x && !constants.has(x)) walk(x, axes, depth + 1);
      return;
    }
    if (SAME_AXES.has(p.op_type)) { walk(p.input[0], axes, depth + 1); return; }
    if (CONV_LIKE.has(p.op_type)) { walk(p.input[0], shift((a) => (a === 1 ? undefined : a)), depth + 1); return; }
    switch (p.op_type) {
      case 'MatMul': walk(p.input[0], axes, depth + 1); return; // leading and row axes are the first operand's
      case 'Gemm': if (!attrInt(p, 'transA', 0)) walk(p.input[0], shift((a) => (a === 0 ? 0 : undefined)), depth + 1); return;
      case 'Concat': {
        const axis = attrInt(p, 'axis', 0);
        const kept = shift((a) => (a === axis ? undefined : a));
        for (const x of p.input) if (x && !constants.has(x)) walk(x, kept, depth + 1);
        return;
      }
      case 'Transpose': {
        const perm = attrInts(p, 'perm');
        if (!perm) return;
        walk(p.input[0], shift((a) => perm[a]), depth + 1);
        return;
      }
      case 'Unsqueeze': {
        const added = axesOf(p, 1);
        if (!added) return;
        const sorted = [...added].sort((x, y) => x - y);
        walk(p.input[0], shift((a) => (sorted.includes(a) ? undefined : a - sorted.filter((x) => x < a).length)), depth + 1);
        return;
      }
      case 'Squeeze': {
        const removed = axesOf(p, 1);
        if (!removed) return;
        const sorted = [...removed].sort((x, y) => x - y);
        walk(p.input[0], shift((a) => { let b = a; for (const r of sorted) if (r <= b) b++; return b; }), depth + 1);
        return;
      }
      case 'Reshape': {
        // Output axis k is input axis j when the target shape copies it: a 0 entry (same position), or Shape(x)[j].
        const entries = shapeEntries(p.input[1], 0);
        if (!entries) return;
        walk(p.input[0], shift((a) => {
          const e = entries[a];
          if (!e) return undefined;
          if ('value' in e) return e.value === 0 ? a : undefined;
          if ('axisOf' in e) return sameTensorShape(e.axisOf, p.input[0], producer) ? e.axis : undefined;
          return undefined;
        }), depth + 1);
        return;
      }
      case 'ReduceMean': case 'ReduceSum': case 'ReduceMax': case 'ReduceMin': case 'ReduceL2': case 'ReduceLogSumExp': case 'ReduceSumSquare': {
        const reduced = axesOf(p, 1);
        if (!reduced) return;
        if (attrInt(p, 'keepdims', 1)) { walk(p.input[0], shift((a) => (reduced.includes(a) ? undefined : a)), depth + 1); return; }
        const sorted = [...reduced].sort((x, y) => x - y);
        walk(p.input[0], shift((a) => { let b = a; for (const r of sorted) if (r <= b) b++; return b; }), depth + 1);
        return;
      }
      case 'Gather': {
        const axis = attrInt(p, 'axis', 0);
        // Embedding lookup: out = indices axes ++ data[1:] axes when gathering rows (axis 0).
        if (axis === 0) { walk(p.input[1], axes, depth + 1); return; }
        // Along another axis k (a batch reordered by sorted lengths, as PyTorch exports
        // pack_padded_sequence(enforce_sorted=False)): out = data[:k] ++ indices axes ++ data[k+1:].
        const r = rankOf(p.input[1]);
        if (axis < 0 || r === undefined) return;
        walk(p.input[0], shift((a) => (a < axis ? a : a >= axis + r ? a - r + 1 : undefined)), depth + 1);
        walk(p.input[1], shift((a) => (a >= axis && a < axis + r ? a - axis : undefined)), depth + 1);
        return;
      }
      case 'TopK': {
        // Values and indices have X's axes; along the sorted one only when K is X's whole length there (a sort).
        const rank = rankOf(p.input[0]);
        const raw = attrInt(p, 'axis', -1);
        if (raw < 0 && rank === undefined) return; // which axis was cut to K is not known
        const axis = raw < 0 ? raw + rank! : raw;
        const k = shapeEntries(p.input[1], 0);
        const kAxis = k?.length === 1 && 'axisOf' in k[0] && sameTensorShape(k[0].axisOf, p.input[0], producer) ? k[0].axis : undefined;
        const wholeAxis = axis >= 0 && kAxis !== undefined && (kAxis < 0 && rank !== undefined ? kAxis + rank : kAxis) === axis;
        walk(p.input[0], shift((a) => (a !== axis || wholeAxis ? a : undefined)), depth + 1);
        return;
      }
      case 'If': {
        // Either branch may be taken: follow both to the outer tensors they read.
        const i = p.output.indexOf(tensor);
        for (const outs of branchOutputs.get(p) ?? []) if (outs[i]) walk(outs[i], axes, depth + 1);
        return;
      }
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

/** Whether two tensors have the same shape by construction (one is the other through shape-preserving elementwise ops). */
function sameTensorShape(a: string, b: string, producer: Map<string, NodeProto>): boolean {
  const base = (t: string) => {
    let cur = t;
    for (let hops = 0; hops < 16; hops++) {
      const p = producer.get(cur);
      if (!p || !['Identity', 'Cast', 'Relu', 'Tanh', 'Sigmoid', 'Dropout', 'Neg', 'Abs'].includes(p.op_type)) return cur;
      cur = p.input[0];
    }
    return cur;
  };
  return base(a) === base(b);
}

function intValues(t: TensorProto): number[] {
  if (t.raw_data && t.raw_data.length) return Array.from(new BigInt64Array(new Uint8Array(t.raw_data).buffer), Number);
  return (t.int64_data ?? []).map((v) => Number(typeof v === 'number' ? v : v.toString()));
}

/** Graph inputs that feed an embedding lookup (Gather's indices, maybe through a Cast): input → rows. */
export function embeddingIndexInputs(graph: GraphProto, staticRows: (tensor: string) => number | undefined): Map<string, number> {
  const producer = new Map<string, NodeProto>();
  const all = walkNodes(graph).map((p) => p.node);
  for (const n of all) for (const o of n.output) producer.set(o, n);
  const graphInputs = new Set(graph.input.map((v) => v.name));
  const out = new Map<string, number>();
  for (const n of all) {
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
