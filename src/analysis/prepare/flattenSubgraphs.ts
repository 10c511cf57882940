/**
 * For the model overview, which does not run the model: every If branch and Loop/Scan body is
 * lifted into the main graph (its own names prefixed, its initializers moved), recursively, with
 * each lifted node's path recorded, so every recurrent layer of the model can be listed with
 * where it sits — whichever branch a run would take. The result is for reading, not for running.
 */
import { nodeLabel, renameGraph, subgraphsOf } from '../../onnx/graphs';
import type { LoadedModel } from '../../onnx/model';
import type { GraphProto, NodeProto, TensorProto } from '../../onnx/proto';

export function flattenSubgraphs(model: LoadedModel, paths: Map<NodeProto, string[]>): void {
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [...model.proto.graph.initializer];
  const lift = (graph: GraphProto, outer: string[]) => {
    (graph.node ?? []).forEach((node, index) => {
      nodes.push(node);
      if (outer.length) paths.set(node, outer);
      for (const sub of subgraphsOf(node)) {
        const step = [...outer, nodeLabel(node, index), sub.attribute];
        const prefix = `${step.join('/')}/`;
        const defined = new Set<string>([...(sub.graph.initializer ?? []).map((t) => t.name ?? ''), ...(sub.graph.node ?? []).flatMap((n) => n.output)]);
        const renamed = renameGraph(sub.graph, (name) => (defined.has(name) ? `${prefix}${name}` : name));
        initializers.push(...renamed.initializer);
        lift({ ...renamed, node: renamed.node.map((n) => ({ ...n, attribute: n.attribute })) }, step);
      }
    });
  };
  lift(model.proto.graph, []);
  model.proto.graph = { ...model.proto.graph, node: nodes, initializer: initializers };
}
