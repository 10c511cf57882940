/**
 * Walking and rewriting graphs with subgraphs (If branches, Loop and Scan bodies): every node at
 * any depth with the path that leads to it, the names a subgraph reads from its enclosing scope,
 * and renaming a subgraph's own tensors so that it can be spliced into another graph.
 */
import { GraphProto, NodeProto } from './proto';

/** A node and where it sits: [enclosing node, its graph attribute, …] from the main graph down. */
export interface PlacedNode {
  node: NodeProto;
  graph: GraphProto;
  /** e.g. ["If_0", "then_branch"] for a node in an If's then-branch; [] in the main graph. */
  path: string[];
  /** Index of the node in its graph. */
  index: number;
}

/** The label a node goes by in paths and messages: its name, or `<op>_<index>` when unnamed. */
/** An op as counted in messages: its type, after its domain when that is not ONNX's own ("com.acme:LSTM"). */
export function opKey(node: NodeProto): string {
  return node.domain && node.domain !== 'ai.onnx' ? `${node.domain}:${node.op_type}` : node.op_type;
}

export function nodeLabel(node: NodeProto, index: number): string {
  return node.name && node.name.length > 0 ? node.name : `${node.op_type}_${index}`;
}

/** The graph attributes of a node (If: then/else branches; Loop/Scan: body), by attribute name. */
export function subgraphsOf(node: NodeProto): { attribute: string; graph: GraphProto }[] {
  const out: { attribute: string; graph: GraphProto }[] = [];
  for (const a of node.attribute) {
    if (a.g) out.push({ attribute: a.name, graph: a.g });
    (a.graphs ?? []).forEach((g, i) => out.push({ attribute: `${a.name}[${i}]`, graph: g }));
  }
  return out;
}

/** Every node of `graph` and its subgraphs, depth first, in graph order. */
/** The graph and every subgraph in it, at any depth. */
export function allGraphs(graph: GraphProto): GraphProto[] {
  return [graph, ...walkNodes(graph).flatMap((p) => subgraphsOf(p.node).map((sg) => sg.graph))];
}

export function walkNodes(graph: GraphProto, path: string[] = []): PlacedNode[] {
  const out: PlacedNode[] = [];
  (graph.node ?? []).forEach((node, index) => {
    out.push({ node, graph, path, index });
    for (const sub of subgraphsOf(node)) out.push(...walkNodes(sub.graph, [...path, nodeLabel(node, index), sub.attribute]));
  });
  return out;
}

/** Names a graph reads from its enclosing scope (used in nodes or subgraphs, defined nowhere inside). */
export function freeNames(g: GraphProto): Set<string> {
  const defined = new Set<string>([...(g.input ?? []).map((v) => v.name), ...(g.initializer ?? []).map((t) => t.name ?? '')]);
  const free = new Set<string>();
  for (const n of g.node ?? []) {
    for (const i of nodeReads(n)) if (i && !defined.has(i)) free.add(i);
    for (const o of n.output) defined.add(o);
  }
  // A graph output may be an outer-scope name passed straight through.
  for (const o of g.output ?? []) if (o.name && !defined.has(o.name)) free.add(o.name);
  return free;
}

/** Every name a node reads: its inputs and its subgraphs' free names. */
export function nodeReads(n: NodeProto): string[] {
  const reads = [...n.input];
  for (const sub of subgraphsOf(n)) reads.push(...freeNames(sub.graph));
  return reads;
}

/** A deep copy of a graph with `rename` applied to every tensor name it defines or reads (subgraphs included). */
export function renameGraph(g: GraphProto, rename: (name: string) => string): GraphProto {
  const r = (name: string) => (name ? rename(name) : name);
  return {
    ...g,
    node: (g.node ?? []).map((n) => renameNode(n, rename)),
    initializer: (g.initializer ?? []).map((t) => ({ ...t, name: r(t.name ?? '') })),
    input: (g.input ?? []).map((v) => ({ ...v, name: r(v.name) })),
    output: (g.output ?? []).map((v) => ({ ...v, name: r(v.name) })),
    value_info: (g.value_info ?? []).map((v) => ({ ...v, name: r(v.name) })),
  };
}

/** A copy of a node with its inputs, outputs and subgraphs' names renamed. */
export function renameNode(n: NodeProto, rename: (name: string) => string): NodeProto {
  const r = (name: string) => (name ? rename(name) : name);
  return {
    ...n,
    input: n.input.map(r),
    output: n.output.map(r),
    attribute: n.attribute.map((a) => ({
      ...a,
      ...(a.g ? { g: renameGraph(a.g, rename) } : {}),
      ...(a.graphs ? { graphs: a.graphs.map((g) => renameGraph(g, rename)) } : {}),
    })),
  };
}
