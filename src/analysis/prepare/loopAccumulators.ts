/**
 * Loop outputs collected by concatenation become scan outputs. A scripted export of
 * `ys = torch.cat([ys, y])` inside a loop carries `ys` as a Loop value that grows every
 * iteration (Concat(ys_in, y) in the body, an empty initial value) — a carried value whose shape
 * changes from one iteration to the next, which cannot be stacked per iteration. It is the same
 * computation as a scan output of `y` concatenated after the loop, which is what this pass
 * writes: the carried value leaves the Loop, `y` becomes a per-iteration output, and after the
 * Loop `ys_final = Concat(ys_initial, Reshape(stacked y))` under the original output's name.
 */
import { attrInt } from '../../onnx/attributes';
import { walkNodes } from '../../onnx/graphs';
import { makeTensor } from '../../onnx/model';
import { GraphProto, NodeProto, TensorProto } from '../../onnx/proto';
import type { Pass } from './pass';

function isLoop(n: NodeProto): boolean {
  return n.op_type === 'Loop' && (!n.domain || n.domain === 'ai.onnx');
}

export const loopAccumulators: Pass = async (model) => {
  const graph = model.proto.graph;
  const taken = new Set<string>([...graph.input.map((v) => v.name), ...graph.initializer.map((t) => t.name ?? '')]);
  for (const { node: n } of walkNodes(graph)) for (const o of n.output) taken.add(o);
  const fresh = (hint: string) => {
    let name = hint;
    for (let k = 1; taken.has(name); k++) name = `${hint}_${k}`;
    taken.add(name);
    return name;
  };
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [...graph.initializer];
  let rewritten = 0;
  for (const node of graph.node) {
    const body = isLoop(node) ? node.attribute.find((a) => a.name === 'body')?.g : undefined;
    if (!body) { nodes.push(node); continue; }
    const nCarried = node.input.length - 2;
    const producer = new Map<string, NodeProto>();
    for (const n of body.node) for (const o of n.output) producer.set(o, n);
    const readers = (name: string) => body.node.filter((n) => n.input.includes(name)).length + body.output.filter((o) => o.name === name).length;
    // Carried values j with body output Concat(body input j, y) along axis 0, read nowhere else.
    const accumulators: { j: number; y: string; concat: NodeProto }[] = [];
    for (let j = 0; j < nCarried; j++) {
      const bodyIn = body.input[2 + j].name;
      const bodyOut = body.output[1 + j].name;
      const c = producer.get(bodyOut);
      if (!c || c.op_type !== 'Concat' || c.input.length !== 2 || c.input[0] !== bodyIn || attrInt(c, 'axis', 0) !== 0) continue;
      if (readers(bodyIn) !== 1 || readers(bodyOut) !== 1) continue;
      accumulators.push({ j, y: c.input[1], concat: c });
    }
    if (accumulators.length === 0) { nodes.push(node); continue; }
    rewritten += accumulators.length;
    const drop = new Set(accumulators.map((a) => a.j));
    const keep = Array.from({ length: nCarried }, (_, j) => j).filter((j) => !drop.has(j));
    const oldScanOuts = body.output.slice(1 + nCarried);
    // The body: without the accumulators' inputs, outputs and Concats; their pieces as new scan outputs (fresh names: a scan output must be produced in the body).
    const pieces = accumulators.map((a) => fresh(`${a.y}_piece`));
    const newBody: GraphProto = {
      ...body,
      node: [...body.node.filter((n) => !accumulators.some((a) => a.concat === n)),
        ...accumulators.map((a, i) => ({ op_type: 'Identity', input: [a.y], output: [pieces[i]], name: fresh(`${a.y}_piece_id`), attribute: [], domain: '' }))],
      input: [body.input[0], body.input[1], ...keep.map((j) => body.input[2 + j])],
      output: [body.output[0], ...keep.map((j) => body.output[1 + j]), ...oldScanOuts, ...pieces.map((name) => ({ name }))],
    };
    const stacked = accumulators.map((a) => fresh(`${node.output[a.j] || 'acc'}_stacked`));
    const outputs = [...keep.map((j) => node.output[j] ?? ''), ...node.output.slice(nCarried), ...stacked];
    nodes.push({
      ...node,
      input: [node.input[0], node.input[1], ...keep.map((j) => node.input[2 + j])],
      output: outputs,
      attribute: node.attribute.map((a) => (a.name === 'body' ? { ...a, g: newBody } : a)),
    });
    // After the Loop: [N, k, ...] → [N·k, ...], after the initial value.
    accumulators.forEach((a, i) => {
      const target = node.output[a.j];
      if (!target) return;
      const shapeName = fresh(`${target}_merge_shape`);
      initializers.push(makeTensor(shapeName, [1], BigInt64Array.of(-1n)));
      const tail = fresh(`${target}_tail_shape`);
      const shapeOf = fresh(`${target}_stacked_shape`);
      nodes.push({ op_type: 'Shape', input: [stacked[i]], output: [shapeOf], name: fresh('shape'), attribute: [], domain: '' });
      nodes.push({ op_type: 'Slice', input: [shapeOf, sliceConst(initializers, fresh, 2), sliceConst(initializers, fresh, 1 << 30)], output: [tail], name: fresh('slice'), attribute: [], domain: '' });
      const newShape = fresh(`${target}_shape`);
      nodes.push({ op_type: 'Concat', input: [shapeName, tail], output: [newShape], name: fresh('concat'), attribute: [{ name: 'axis', type: 2, i: 0 }], domain: '' });
      const merged = fresh(`${target}_merged`);
      nodes.push({ op_type: 'Reshape', input: [stacked[i], newShape], output: [merged], name: fresh('reshape'), attribute: [], domain: '' });
      nodes.push({ op_type: 'Concat', input: [node.input[2 + a.j], merged], output: [target], name: fresh('concat'), attribute: [{ name: 'axis', type: 2, i: 0 }], domain: '' });
    });
  }
  if (rewritten === 0) return { notes: [] };
  model.proto.graph = { ...graph, node: nodes, initializer: initializers };
  return { notes: [] };
};

function sliceConst(inits: TensorProto[], fresh: (h: string) => string, v: number): string {
  const name = fresh('slice_bound');
  inits.push(makeTensor(name, [1], BigInt64Array.of(BigInt(v))));
  return name;
}
