/**
 * The gradient path: the nodes of the runtime graph through which dL/d(output) reaches a
 * recurrent layer — ancestors of the objective's output that descend from a recurrent node
 * through differentiable values. Shape computations (Shape → Gather → Concat → Reshape's shape
 * input) descend from recurrent outputs too but carry no gradient; they stay constants.
 */
import { AnalysisError } from '../../onnx/errors';
import { GraphProto, NodeProto } from '../../onnx/proto';
import { layerDisplayName, RECURRENT_OPS } from '../recurrent';

/** Ops whose outputs carry no gradient (integer, boolean or piecewise-constant results). */
const NON_DIFFERENTIABLE = new Set(['Shape', 'Size', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'Not',
  'And', 'Or', 'Xor', 'ArgMax', 'ArgMin', 'NonZero', 'ConstantOfShape', 'Range', 'EyeLike', 'IsNaN', 'IsInf', 'Sign',
  'Floor', 'Ceil', 'Round', 'Constant', 'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial']);

export interface GradientPath {
  /** Indices (into graph.node) of the nodes on the path, in graph (topological) order. */
  nodes: number[];
  /** Tensors on the path: outputs of path nodes that lead to the objective's output. */
  tensors: Set<string>;
  /** Forward values the backward graph may read: non-initializer inputs and outputs of non-recurrent path nodes. */
  needed: string[];
}

export function isRecurrent(n: NodeProto): boolean {
  return (!n.domain || n.domain === 'ai.onnx') && (RECURRENT_OPS as readonly string[]).includes(n.op_type);
}

export function gradientPath(graph: GraphProto, output: string, supported: (op: string) => boolean, modelName: string): GradientPath {
  const producer = new Map<string, number>();
  graph.node.forEach((n, i) => n.output.forEach((o) => { if (o) producer.set(o, i); }));

  // Forward: tensors that depend differentiably on a recurrent node's outputs.
  const live = new Set<string>();
  const liveNodes = new Set<number>();
  graph.node.forEach((n, i) => {
    if (isRecurrent(n)) {
      liveNodes.add(i);
      n.output.forEach((o) => o && live.add(o));
    } else if (!NON_DIFFERENTIABLE.has(n.op_type) && n.input.some((t) => live.has(t))) {
      liveNodes.add(i);
      n.output.forEach((o) => o && live.add(o));
    }
  });
  // Backward: nodes whose outputs reach the objective's output through live tensors.
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
    for (const input of graph.node[p].input) if (input && live.has(input)) stack.push(input);
  }
  const nodes = [...onPath].sort((a, b) => a - b);

  const unsupported = nodes.filter((i) => !isRecurrent(graph.node[i]) && !supported(graph.node[i].op_type));
  if (unsupported.length > 0) {
    const list = unsupported.map((i) => `'${layerDisplayName(graph.node[i], i)}' (${graph.node[i].op_type})`);
    throw new AnalysisError(`${modelName}: the gradient from output '${output}' to the recurrent layers passes through ${unsupported.length === 1 ? 'a node' : `${unsupported.length} nodes`} Gradient Lens cannot differentiate: ${list.join(', ')}; choose another output with --output, or re-export the model without ${[...new Set(unsupported.map((i) => graph.node[i].op_type))].join('/')} on that path.`);
  }

  const inits = new Set(graph.initializer.map((t) => t.name));
  const needed = new Set<string>();
  for (const i of nodes) {
    const n = graph.node[i];
    if (isRecurrent(n)) continue;
    for (const t of [...n.input, ...n.output]) if (t && !inits.has(t)) needed.add(t);
  }
  needed.add(output);
  return { nodes, tensors, needed: [...needed] };
}
