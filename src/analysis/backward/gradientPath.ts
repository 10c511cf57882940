/**
 * The gradient path: the nodes of the runtime graph through which dL/d(output) reaches the
 * recurrent layers and the model's inputs.
 *
 * - The core: ancestors of the objective's output that descend from a recurrent node through
 *   differentiable values. Every op here needs a backward rule, or the analysis cannot run.
 * - The input side: the same for values that descend from a float graph input (or from an
 *   embedding lookup's rows), so that dL/dx reaches the inputs (inputGrads, SPEC v2 §9.2). An
 *   op without a rule here only costs the inputGrads that must pass through it (a warning says
 *   which); it is cut out of the path.
 *
 * Shape computations (Shape → Gather → Concat → Reshape's shape input) descend from these values
 * too but carry no gradient; they stay constants.
 */
import { AnalysisError } from '../../onnx/errors';
import { printable } from '../../onnx/files';
import { DataType, GraphProto, NodeProto } from '../../onnx/proto';
import { layerDisplayName, RECURRENT_OPS } from '../recurrent';
import { nodeReads } from '../../onnx/graphs';

/** Ops whose outputs carry no gradient (integer, boolean or piecewise-constant results). */
export const NON_DIFFERENTIABLE = new Set(['Shape', 'Size', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'Not',
  'And', 'Or', 'Xor', 'ArgMax', 'ArgMin', 'NonZero', 'ConstantOfShape', 'Range', 'EyeLike', 'IsNaN', 'IsInf', 'Sign',
  'Floor', 'Ceil', 'Round', 'Constant', 'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial']);

export const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

/** A model input the gradient reaches: a float graph input, or the looked-up rows of an embedding. */
export interface InputGradient {
  /** The graph input's name. */
  input: string;
  /** The tensor whose gradient is reported: the input itself, or the Gather output of its embedding. */
  tensor: string;
  kind: 'float' | 'embedding';
}

export interface GradientPath {
  /** Indices (into graph.node) of the nodes on the path, in graph (topological) order. */
  nodes: number[];
  /** Tensors on the path: outputs of path nodes (and graph inputs) that lead to the objective's output. */
  tensors: Set<string>;
  /** Forward values the backward graph may read: non-initializer inputs and outputs of non-recurrent path nodes. */
  needed: string[];
  /** The model inputs whose gradient the backward graph will have. */
  inputs: InputGradient[];
  /** Why some float inputs get no gradient (an op on their way without a backward rule). */
  warnings: string[];
}

export function isRecurrent(n: NodeProto): boolean {
  return (!n.domain || n.domain === 'ai.onnx') && (RECURRENT_OPS as readonly string[]).includes(n.op_type);
}

/**
 * Tensors that depend differentiably on `sources` (and nodes producing them), going forward.
 * `stop(node)` excludes a node (its outputs stay dead).
 */
export function liveFrom(graph: GraphProto, sources: Set<string>, isSource: (i: number) => boolean, stop: (i: number) => boolean):
  { live: Set<string>; liveNodes: Set<number> } {
  const live = new Set(sources);
  const liveNodes = new Set<number>();
  graph.node.forEach((n, i) => {
    if (stop(i)) return;
    if (isSource(i) || (!NON_DIFFERENTIABLE.has(n.op_type) && reads(n).some((t) => live.has(t)))) {
      liveNodes.add(i);
      n.output.forEach((o) => o && live.add(o));
    }
  });
  return { live, liveNodes };
}

/** Walk back from `output` through live tensors: the nodes and tensors that lead to it. */
export function backFrom(graph: GraphProto, output: string, live: Set<string>, liveNodes: Set<number>, producer: Map<string, number>):
  { onPath: Set<number>; tensors: Set<string> } {
  const onPath = new Set<number>();
  const tensors = new Set<string>();
  const stack = [output];
  while (stack.length) {
    const t = stack.pop()!;
    if (tensors.has(t) || !live.has(t)) continue;
    tensors.add(t);
    const p = producer.get(t);
    if (p === undefined || !liveNodes.has(p)) continue;
    onPath.add(p);
    for (const input of reads(graph.node[p])) if (input && live.has(input)) stack.push(input);
  }
  return { onPath, tensors };
}

/** What a node reads: its inputs, and for Loop/Scan also the outer-scope values its body uses. */
export function reads(n: NodeProto): string[] {
  return n.op_type === 'Loop' || n.op_type === 'Scan' ? nodeReads(n) : n.input;
}

/**
 * `holdsLayers(i)`: node i is a Loop/Scan whose body holds analysed layers (a source, like a
 * recurrent node); such a node is differentiated by iterated/backward.ts.
 */
export function gradientPath(graph: GraphProto, output: string, supported: (op: string) => boolean, modelName: string,
  holdsLayers: (i: number) => boolean = () => false): GradientPath {
  const isSource = (i: number) => isRecurrent(graph.node[i]) || holdsLayers(i);
  const producer = new Map<string, number>();
  graph.node.forEach((n, i) => n.output.forEach((o) => { if (o) producer.set(o, i); }));
  const inits = new Set(graph.initializer.map((t) => t.name));

  // 1. The core: from the recurrent layers to the objective.
  const core = liveFrom(graph, new Set(), isSource, () => false);
  const corePath = backFrom(graph, output, core.live, core.liveNodes, producer);
  const coreNodes = [...corePath.onPath].sort((a, b) => a - b);
  const unsupported = coreNodes.filter((i) => !isSource(i) && !supported(graph.node[i].op_type));
  if (unsupported.length > 0) {
    const list = unsupported.map((i) => `'${printable(layerDisplayName(graph.node[i], i))}' (${graph.node[i].op_type})`);
    throw new AnalysisError(`${modelName}: the gradient from output '${printable(output)}' to the recurrent layers passes through ${unsupported.length === 1 ? 'a node' : `${unsupported.length} nodes`} Gradient Lens cannot differentiate: ${list.join(', ')}; choose another output with --output, or re-export the model without ${[...new Set(unsupported.map((i) => graph.node[i].op_type))].join('/')} on that path.`);
  }

  // 2. The input side: float graph inputs and embedding rows as sources as well.
  const inputs: InputGradient[] = [];
  for (const v of graph.input) {
    if (inits.has(v.name)) continue;
    const elem = v.type?.tensor_type?.elem_type ?? 0;
    if (FLOAT_TYPES.has(elem)) inputs.push({ input: v.name, tensor: v.name, kind: 'float' });
  }
  const graphInputs = new Set(graph.input.map((v) => v.name));
  graph.node.forEach((n) => {
    // Gather(E, ids) with a constant table E and ids a graph input (maybe through a Cast): the looked-up rows.
    if (n.op_type !== 'Gather' || !inits.has(n.input[0])) return;
    let ids = n.input[1];
    for (let hops = 0; hops < 4 && !graphInputs.has(ids); hops++) {
      const p = producer.get(ids);
      if (p === undefined || !['Cast', 'Identity'].includes(graph.node[p].op_type)) break;
      ids = graph.node[p].input[0];
    }
    if (graphInputs.has(ids) && !inits.has(ids) && n.output[0]) inputs.push({ input: ids, tensor: n.output[0], kind: 'embedding' });
  });
  const sources = new Set(inputs.map((x) => x.tensor));
  const warnings: string[] = [];
  // Nodes without a rule that only the input side needs are cut out (their outputs are dead from the inputs).
  const unsupportedNode = (i: number) => !isSource(i) && !supported(graph.node[i].op_type) && !corePath.onPath.has(i);
  const all = liveFrom(graph, sources, isSource, unsupportedNode);
  const path = backFrom(graph, output, all.live, all.liveNodes, producer);
  const blocked = new Set<string>();
  const ancestors = ancestorsOf(graph, output, producer);
  graph.node.forEach((n, i) => {
    if (!unsupportedNode(i) || NON_DIFFERENTIABLE.has(n.op_type)) return;
    // Would this node have been on the input side's way to the objective? Then say which op stops it.
    if (reads(n).some((t) => all.live.has(t)) && n.output.some((o) => o && ancestors.has(o))) {
      blocked.add(`'${printable(layerDisplayName(n, i))}' (${n.op_type})`);
    }
  });
  const reached = inputs.filter((x) => path.tensors.has(x.tensor));
  if (blocked.size > 0) {
    const missing = inputs.filter((x) => !path.tensors.has(x.tensor)).map((x) => `'${printable(x.input)}'`);
    if (missing.length > 0) {
      warnings.push(`inputGrads for ${missing.join(', ')} are not computed: the way from ${missing.length === 1 ? 'that input' : 'those inputs'} to output '${printable(output)}' passes through ${[...blocked].join(', ')}, which Gradient Lens has no backward rule for; every other number is unaffected.`);
    }
  }

  const nodes = [...path.onPath].sort((a, b) => a - b);
  const needed = new Set<string>();
  for (const i of nodes) {
    const n = graph.node[i];
    if (isRecurrent(n)) continue;
    for (const t of [...reads(n), ...n.output]) if (t && !inits.has(t)) needed.add(t);
  }
  needed.add(output);
  return { nodes, tensors: path.tensors, needed: [...needed], inputs: reached, warnings };
}

/** Every tensor `to` is computed from (through any nodes, differentiable or not), `to` included. */
function ancestorsOf(graph: GraphProto, to: string, producer: Map<string, number>): Set<string> {
  const seen = new Set<string>();
  const stack = [to];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const p = producer.get(t);
    if (p !== undefined) for (const i of reads(graph.node[p])) if (i) stack.push(i);
  }
  return seen;
}
