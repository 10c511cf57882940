/**
 * Weights computed from constants become constants (SPEC v2 §9.1). Exporters often write a
 * recurrent layer's W, R and B as Unsqueeze(Concat(Slice×k(Constant))) — reordering PyTorch's gate
 * blocks into ONNX's — and the layer's weights can only be read once that subgraph is evaluated.
 *
 * Every node whose inputs are all constants (initializers, Constant nodes, earlier folded values)
 * is evaluated once in onnxruntime and replaced by an initializer holding its value. Left alone:
 * random ops, nodes with subgraphs, and values above MAX_FOLDED_BYTES (a ConstantOfShape that
 * makes a large tensor is cheaper to leave to the runtime).
 */
import { GraphProto, NodeProto, TensorProto } from '../../onnx/proto';
import { makeTensor } from '../../onnx/model';
import { attrTensor, findAttribute } from '../../onnx/attributes';
import { subgraphsOf } from '../../onnx/graphs';
import { ONNX_ELEM_TYPE, type WireTensor } from '../../runtime/protocol';
import type { Pass } from './pass';

const NEVER_FOLD = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);
/** Larger computed constants stay computed at run time. */
export const MAX_FOLDED_BYTES = 64 * 2 ** 20;

/** A Constant node's value as a tensor, whatever attribute holds it. */
function constantValue(n: NodeProto): TensorProto | undefined {
  const t = attrTensor(n, 'value');
  if (t) return t;
  const a = (name: string) => findAttribute(n, name);
  if (a('value_float')?.f !== undefined) return makeTensor('', [], Float32Array.of(a('value_float')!.f!));
  if (a('value_floats')?.floats) return makeTensor('', [a('value_floats')!.floats!.length], Float32Array.from(a('value_floats')!.floats!));
  if (a('value_int')?.i !== undefined) return makeTensor('', [], BigInt64Array.of(BigInt(String(a('value_int')!.i))));
  if (a('value_ints')?.ints) return makeTensor('', [a('value_ints')!.ints!.length], BigInt64Array.from(a('value_ints')!.ints!.map((v) => BigInt(String(v)))));
  return undefined;
}

function isDefaultDomain(n: NodeProto): boolean {
  return !n.domain || n.domain === 'ai.onnx';
}

export const foldConstants: Pass = async (model, ctx) => {
  const graph = model.proto.graph;
  const constant = new Set<string>(graph.initializer.map((t) => t.name ?? ''));
  const inputs = new Set(graph.input.map((v) => v.name));
  for (const name of inputs) constant.delete(name); // an initializer that is also an input can be overridden: not constant
  const constNodes = new Map<NodeProto, TensorProto>();
  const foldable: NodeProto[] = [];
  for (const n of graph.node) {
    if (!isDefaultDomain(n)) continue;
    if (n.op_type === 'Constant') {
      const t = constantValue(n);
      if (t && n.output[0]) { constNodes.set(n, t); constant.add(n.output[0]); }
      continue;
    }
    if (NEVER_FOLD.has(n.op_type) || subgraphsOf(n).length > 0 || n.input.length === 0) continue;
    if (n.input.every((x) => !x || constant.has(x))) {
      foldable.push(n);
      for (const o of n.output) if (o) constant.add(o);
    }
  }
  if (constNodes.size === 0 && foldable.length === 0) return { notes: [] };

  // Values of folded nodes that something else still reads (or that are graph outputs).
  const folded = new Set(foldable);
  const readers = new Set<string>();
  for (const n of graph.node) {
    if (folded.has(n) || constNodes.has(n)) continue;
    for (const x of n.input) readers.add(x);
    for (const sub of subgraphsOf(n)) for (const x of subgraphReads(sub.graph)) readers.add(x);
  }
  for (const o of graph.output) readers.add(o.name);
  const wanted = [...new Set(foldable.flatMap((n) => n.output).filter((o) => o && readers.has(o)))];
  let values: Record<string, WireTensor> = {};
  if (wanted.length) {
    // A model of the foldable nodes alone: no inputs to feed, nothing else to run.
    const reads = new Set(foldable.flatMap((n) => n.input));
    const minimal: GraphProto = {
      name: 'gradient_lens_fold', node: [...constNodes.keys(), ...foldable],
      initializer: graph.initializer.filter((t) => reads.has(t.name ?? '')), input: [], output: wanted.map((name) => ({ name })), value_info: [],
    };
    try {
      values = await ctx.evaluate({ ...model, proto: { ...model.proto, graph: minimal } }, wanted);
    } catch {
      // Folding is an optimisation for discovery; a subgraph onnxruntime cannot evaluate alone stays as it is.
      values = {};
    }
  }
  const initializers: TensorProto[] = [...graph.initializer];
  for (const [n, t] of constNodes) initializers.push({ ...t, name: n.output[0] });
  const kept = new Set<string>();
  for (const name of wanted) {
    const v = values[name];
    if (!v || v.data.byteLength > MAX_FOLDED_BYTES) continue;
    initializers.push(makeTensor(name, v.dims, v.data as Float32Array, ONNX_ELEM_TYPE[v.type]));
    kept.add(name);
  }
  // A folded node goes when every output a reader needs became an initializer.
  const nodes = graph.node.filter((n) => {
    if (constNodes.has(n)) return false;
    if (!folded.has(n)) return true;
    return n.output.some((o) => o && readers.has(o) && !kept.has(o));
  });
  const dropped = foldable.filter((n) => !nodes.includes(n)).length;
  // Initializers only the folded nodes read go too (onnxruntime would load them for nothing).
  const used = new Set<string>(graph.output.map((o) => o.name));
  for (const n of nodes) {
    for (const x of n.input) used.add(x);
    for (const sub of subgraphsOf(n)) for (const x of subgraphReads(sub.graph)) used.add(x);
  }
  model.proto.graph = { ...graph, node: nodes, initializer: initializers.filter((t) => used.has(t.name ?? '') || inputs.has(t.name ?? '')) };
  return { notes: dropped > 0 ? [`${dropped} node${dropped === 1 ? '' : 's'} computing weights from constants folded into constants.`] : [] };
};

/** Names a subgraph reads from outside (its free names). */
function subgraphReads(g: GraphProto): string[] {
  const defined = new Set<string>([...(g.input ?? []).map((v) => v.name), ...(g.initializer ?? []).map((t) => t.name ?? '')]);
  const out: string[] = [];
  for (const n of g.node ?? []) {
    for (const x of n.input) if (x && !defined.has(x)) out.push(x);
    for (const sub of subgraphsOf(n)) out.push(...subgraphReads(sub.graph).filter((x) => !defined.has(x)));
    for (const o of n.output) defined.add(o);
  }
  return out;
}
