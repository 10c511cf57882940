/**
 * Loop-invariant nodes leave Loop/Scan bodies. A scripted export computes a recurrent layer's
 * weights inside the loop body, every iteration — W = Unsqueeze(Concat(Slice(Constant))) — so
 * the layer's weights are not constants of the body. Every body node whose inputs are all
 * constant (initializers, Constant nodes, outer constants, nodes hoisted before it) moves to the
 * main graph just before its Loop/Scan node, with the body initializers it reads; the body then
 * reads its value from the enclosing scope, and foldConstants (the next pass) folds it.
 * Names are unique across a model's scopes, so nothing is renamed.
 */
import { attrTensor, findAttribute } from '../../onnx/attributes';
import { subgraphsOf } from '../../onnx/graphs';
import { GraphProto, NodeProto, TensorProto } from '../../onnx/proto';
import type { Pass } from './pass';

const NEVER_HOIST = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

function isDefaultDomain(n: NodeProto): boolean {
  return !n.domain || n.domain === 'ai.onnx';
}

function isConstantNode(n: NodeProto): boolean {
  return n.op_type === 'Constant' && isDefaultDomain(n) && (!!attrTensor(n, 'value') || n.attribute.some((a) => a.name.startsWith('value_')));
}

export const hoistInvariants: Pass = async (model) => {
  const graph = model.proto.graph;
  // Constants of the main graph: initializers that are not inputs, Constant outputs, and what is computed from them alone.
  const inputs = new Set(graph.input.map((v) => v.name));
  const constant = new Set<string>(graph.initializer.map((t) => t.name ?? '').filter((n) => !inputs.has(n)));
  for (const n of graph.node) {
    if (isConstantNode(n)) { constant.add(n.output[0]); continue; }
    if (!isDefaultDomain(n) || NEVER_HOIST.has(n.op_type) || subgraphsOf(n).length > 0 || n.input.length === 0) continue;
    if (n.input.every((x) => !x || constant.has(x))) for (const o of n.output) if (o) constant.add(o);
  }
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [...graph.initializer];
  let hoisted = 0;
  for (const node of graph.node) {
    const bodyAttr = (node.op_type === 'Loop' || node.op_type === 'Scan') && isDefaultDomain(node) ? findAttribute(node, 'body') : undefined;
    const body = bodyAttr?.g;
    if (!body) { nodes.push(node); continue; }
    const bodyInits = new Map((body.initializer ?? []).map((t) => [t.name ?? '', t]));
    const local = new Set<string>(constant);
    for (const name of bodyInits.keys()) local.add(name);
    const moved: NodeProto[] = [];
    const movedInits = new Set<string>();
    const kept: NodeProto[] = [];
    const constantNodes = new Map<string, NodeProto>();
    // A body output must be computed in the body (onnxruntime rejects one read from outside).
    const bodyOutputs = new Set((body.output ?? []).map((o) => o.name));
    for (const n of body.node ?? []) {
      if (isConstantNode(n)) { constantNodes.set(n.output[0], n); local.add(n.output[0]); kept.push(n); continue; }
      const invariant = isDefaultDomain(n) && !NEVER_HOIST.has(n.op_type) && subgraphsOf(n).length === 0 && n.input.length > 0
        && n.input.every((x) => !x || local.has(x)) && !n.output.some((o) => bodyOutputs.has(o));
      if (!invariant) { kept.push(n); continue; }
      // Constant nodes and initializers of the body it reads come along (they stay visible to the body from outside).
      for (const x of n.input) {
        const c = constantNodes.get(x);
        if (c && !moved.includes(c)) moved.push(c);
        if (bodyInits.has(x)) movedInits.add(x);
      }
      moved.push(n);
      for (const o of n.output) if (o) { local.add(o); constant.add(o); }
    }
    const hoistedHere = moved.filter((n) => !isConstantNode(n)).length;
    if (hoistedHere === 0) { nodes.push(node); continue; }
    hoisted += hoistedHere;
    nodes.push(...moved);
    for (const name of movedInits) initializers.push(bodyInits.get(name)!);
    const newBody: GraphProto = {
      ...body,
      node: kept.filter((n) => !moved.includes(n)),
      initializer: (body.initializer ?? []).filter((t) => !movedInits.has(t.name ?? '')),
    };
    nodes.push({ ...node, attribute: node.attribute.map((a) => (a === bodyAttr ? { ...a, g: newBody } : a)) });
  }
  if (hoisted === 0) return { notes: [] };
  model.proto.graph = { ...graph, node: nodes, initializer: initializers };
  return { notes: [] };
};
