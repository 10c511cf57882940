/**
 * `If` nodes become the branch they take for the given inputs (SPEC v2 §9.1). Real exports put
 * their recurrent layers in branches — one If on the sample rate, one on whether the state input
 * is empty — so the analysis must see the branch that actually runs.
 *
 * Each round evaluates the conditions of the main graph's Ifs in onnxruntime (they are ordinary
 * tensors of the model), then splices each taken branch into the main graph in the If's place:
 * the branch's own tensors are renamed under a prefix (nested subgraphs that read them follow),
 * its initializers move to the main graph, its outputs feed the If's outputs through Identity
 * nodes, and outer-scope values it reads stay as they are. Ifs nested in a branch are main-graph
 * Ifs after the splice; the next round resolves them.
 */
import { AnalysisError } from '../../onnx/errors';
import { printable } from '../../onnx/files';
import { nodeLabel, renameGraph } from '../../onnx/graphs';
import { GraphProto, NodeProto, TensorProto } from '../../onnx/proto';
import { tensorValues } from '../../onnx/model';
import type { Pass } from './pass';

/** Nested Ifs deeper than this are refused (a real export nests two). */
const MAX_DEPTH = 32;

function isIf(n: NodeProto): boolean {
  return n.op_type === 'If' && (!n.domain || n.domain === 'ai.onnx');
}

export const resolveIf: Pass = async (model, ctx) => {
  const notes: string[] = [];
  /** Spliced tensors' names as the model spells them, for messages. */
  const original = new Map<string, string>();
  for (let round = 0; ; round++) {
    const graph = model.proto.graph;
    const ifs = graph.node.map((n, i) => ({ n, i })).filter(({ n }) => isIf(n));
    if (ifs.length === 0) return { notes };
    if (round >= MAX_DEPTH) throw new AnalysisError(`${ctx.modelName}: If nodes are nested more than ${MAX_DEPTH} deep; Gradient Lens cannot follow them.`);
    const values = await conditions(model.proto.graph, ifs.map(({ n }) => n.input[0]), ctx, (names) => ctx.evaluate(model, names));
    const nodes: NodeProto[] = [];
    const initializers: TensorProto[] = [...graph.initializer];
    const taken = new Set<string>();
    graph.node.forEach((node, index) => {
      if (!isIf(node)) { nodes.push(node); return; }
      const label = nodeLabel(node, index);
      const cond = values.get(node.input[0]);
      if (cond === undefined) throw new Error(`internal error: no value for the condition of If '${label}'`);
      const attribute = cond ? 'then_branch' : 'else_branch';
      const branch = node.attribute.find((a) => a.name === attribute)?.g;
      if (!branch) throw new AnalysisError(`If node '${printable(label)}' of ${ctx.modelName} has no ${attribute}; the model is corrupt.`);
      const prefix = uniquePrefix(`${label}/${attribute}/`, graph, taken);
      const spliced = splice(branch, node, prefix, ctx.paths.get(node) ?? [], [label, attribute], ctx.paths, original);
      nodes.push(...spliced.nodes);
      initializers.push(...spliced.initializers);
      notes.push(`If '${printable(label)}' takes its ${attribute.replace('_', ' ')} (its condition '${printable(original.get(node.input[0]) ?? node.input[0])}' is ${cond}).`);
    });
    model.proto.graph = { ...graph, node: nodes, initializer: initializers };
  }
};

/** Each If's condition as a boolean: from an initializer, a fed input, or a run of the model. */
async function conditions(graph: GraphProto, names: string[], ctx: { feeds: Record<string, { data: ArrayLike<unknown> }> },
  run: (names: string[]) => Promise<Record<string, { data: ArrayLike<unknown> }>>): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  const inits = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const toRun: string[] = [];
  for (const name of new Set(names)) {
    const t = inits.get(name);
    if (t) out.set(name, truthy(tensorValues(t, '') as ArrayLike<unknown>));
    else if (ctx.feeds[name]) out.set(name, truthy(ctx.feeds[name].data));
    else toRun.push(name);
  }
  if (toRun.length) {
    const values = await run(toRun);
    for (const name of toRun) out.set(name, truthy(values[name].data));
  }
  return out;
}

function truthy(data: ArrayLike<unknown>): boolean {
  if (data.length !== 1) throw new AnalysisError(`an If condition holds ${data.length} values; ONNX requires a single boolean.`);
  const v = data[0];
  return typeof v === 'bigint' ? v !== 0n : Boolean(v);
}

/** A prefix no tensor of the graph starts with yet. */
function uniquePrefix(base: string, graph: GraphProto, taken: Set<string>): string {
  const names = new Set<string>();
  for (const n of graph.node) for (const o of n.output) names.add(o);
  for (const t of graph.initializer) names.add(t.name ?? '');
  let prefix = base;
  for (let k = 2; taken.has(prefix) || [...names].some((x) => x.startsWith(prefix)); k++) prefix = `${base.slice(0, -1)}~${k}/`;
  taken.add(prefix);
  return prefix;
}

/**
 * The nodes and initializers that replace `ifNode`: the branch with its own names prefixed, then
 * Identity nodes from the branch's outputs to the If's. Moved nodes get the path
 * outer + [If label, branch attribute] + their own recorded path.
 */
function splice(branch: GraphProto, ifNode: NodeProto, prefix: string, outer: string[], step: string[], paths: Map<NodeProto, string[]>,
  original: Map<string, string>): { nodes: NodeProto[]; initializers: TensorProto[] } {
  const defined = new Set<string>();
  for (const t of branch.initializer ?? []) if (t.name) defined.add(t.name);
  for (const n of branch.node ?? []) for (const o of n.output) if (o) defined.add(o);
  const renamed = renameGraph(branch, (name) => {
    if (!defined.has(name)) return name;
    original.set(`${prefix}${name}`, original.get(name) ?? name);
    return `${prefix}${name}`;
  });
  const nodes = renamed.node.map((n, i) => {
    paths.set(n, [...outer, ...step, ...(paths.get(branch.node[i]) ?? [])]);
    return n;
  });
  (branch.output ?? []).forEach((o, i) => {
    const target = ifNode.output[i];
    if (!target) return;
    const source = renamed.output[i].name;
    nodes.push({ op_type: 'Identity', input: [source], output: [target], name: `${prefix}output_${i}`, attribute: [], domain: '' });
  });
  return { nodes, initializers: renamed.initializer };
}
