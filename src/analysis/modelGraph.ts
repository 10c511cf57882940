/**
 * The analysed model as onnxruntime runs it: recurrent nodes with layout=1 lowered to layout=0
 * (onnxruntime refuses layout=1), every recurrent node's Y materialised, and the tensors the
 * instrumented pass needs (the layer's X, Y, initial states and sequence_lens) exposed as extra
 * graph outputs through Identity taps. Everything else stays exactly as exported, in the
 * model's own opset.
 */
import { GraphBuilder, valueInfo } from '../onnx/builder';
import { LoadedModel } from '../onnx/model';
import { DataType, GraphProto, ModelProto, NodeProto } from '../onnx/proto';
import { RecurrentLayer } from './recurrent';
import { walkNodes } from '../onnx/graphs';
import { describeIterated, withTaps } from './iterated/spec';

/** Names, in the runtime graph's outputs, of one layer's tapped tensors (layout 0). */
export interface LayerTaps {
  /** [T, B, I] */
  X: string;
  /** [T, D, B, H] */
  Y: string;
  /** [D, B, H], when the node has initial_h */
  initialH?: string;
  /** [D, B, H], when the node has initial_c */
  initialC?: string;
  /** [B] int32, when the node has sequence_lens */
  sequenceLens?: string;
}

export interface RuntimeModel {
  proto: ModelProto;
  /** Per analysed layer (same order as the `layers` argument). */
  taps: LayerTaps[];
  /** The original graph outputs, in order. */
  graphOutputs: string[];
  /** Per analysed layer, the index of its (layout-0) node in proto.graph.node. */
  layerNodes: number[];
  /** Extra tensors tapped for the backward pass: tensor name → output name. */
  valueTaps: Map<string, string>;
  /**
   * Per Loop/Scan node of the runtime graph whose body values are tapped (by its index in
   * proto.graph.node): body tensor → graph output holding its value in every iteration, stacked on axis 0.
   */
  bodyTaps: Map<number, Map<string, string>>;
}

/** What the backward pass will read: main-graph tensors, and per Loop/Scan node (by its index in the lowered graph) body tensors. */
export interface TapRequest {
  values: string[];
  bodies: Map<number, string[]>;
}

export function allTensorNames(graph: GraphProto): Set<string> {
  const names = new Set<string>();
  for (const v of graph.input) names.add(v.name);
  for (const t of graph.initializer) if (t.name) names.add(t.name);
  for (const n of graph.node) for (const o of n.output) names.add(o);
  return names;
}

/**
 * `valuesToTap(lowered)` names further tensors of the lowered graph to expose (the forward
 * values the backward pass reads).
 */
export function buildRuntimeModel(model: LoadedModel, layers: RecurrentLayer[],
  toTap: (lowered: GraphProto) => TapRequest = () => ({ values: [], bodies: new Map() })): RuntimeModel {
  const src = model.proto.graph;
  const b = new GraphBuilder('gl_', allTensorNamesDeep(src));
  const byIndex = new Map(layers.map((l, k) => [l.container ? -1 : l.nodeIndex, k]));
  const taps: LayerTaps[] = new Array(layers.length);
  const layerNodes: number[] = new Array(layers.length);
  const nodes: NodeProto[] = [];
  /** Inner layers' layout-0 tensors, per container (index in `nodes`). */
  const innerTaps = new Map<number, { k: number; t: LayerTaps }[]>();

  src.node.forEach((node, index) => {
    const inner = layers.map((l, k) => ({ l, k })).filter(({ l }) => l.container?.nodeIndex === index);
    if (inner.length > 0) {
      // Lower the recurrent nodes inside the body; the body indices are those of the lowered body.
      const body = node.attribute.find((a) => a.name === 'body')!.g!;
      const bodyNodes: NodeProto[] = [];
      const lowered: { k: number; t: LayerTaps }[] = [];
      body.node.forEach((bn, bi) => {
        const hit = inner.find(({ l }) => l.container!.bodyIndex === bi);
        if (!hit) { bodyNodes.push(bn); return; }
        const t = lowerRecurrentNode(b, hit.l, bodyNodes);
        layerNodes[hit.k] = bodyNodes.findIndex((n) => n.op_type === hit.l.op && n.output[0] === t.Y);
        lowered.push({ k: hit.k, t });
      });
      innerTaps.set(nodes.length, lowered);
      nodes.push({ ...node, attribute: node.attribute.map((a) => (a.name === 'body' ? { ...a, g: { ...body, node: bodyNodes } } : a)) });
      return;
    }
    const k = byIndex.get(index);
    if (k === undefined) { nodes.push(node); return; }
    const layer = layers[k];
    const lowered = lowerRecurrentNode(b, layer, nodes);
    layerNodes[k] = nodes.findIndex((n) => n.op_type === layer.op && n.output[0] === lowered.Y);
    taps[k] = lowered;
  });
  const loweredGraph: GraphProto = { ...src, node: nodes };
  const request = toTap(loweredGraph);

  // A node's output is fetched as itself (once, however many taps want it); an initializer or graph
  // input through an Identity under a fresh name. (An Identity copy of every tap doubled the forward
  // pass's outputs: at T = 10 000, H = 1024 the layer's Y alone is 41 MB.)
  const tapOutputs: { name: string; elemType: number }[] = [];
  const tapNodes: NodeProto[] = [];
  const computed = new Set(nodes.flatMap((n) => n.output).filter(Boolean));
  const fetched = new Set(src.output.map((o) => o.name));
  const tapOf = (tensor: string, hint: string, elemType: number): string => {
    if (computed.has(tensor)) {
      if (!fetched.has(tensor)) { fetched.add(tensor); tapOutputs.push({ name: tensor, elemType }); }
      return tensor;
    }
    const out = b.fresh(hint);
    tapNodes.push({ op_type: 'Identity', input: [tensor], output: [out], name: b.fresh('n_tap'), attribute: [], domain: '' });
    tapOutputs.push({ name: out, elemType });
    return out;
  };
  taps.forEach((t, k) => {
    if (layers[k].container) return;
    const tap = (role: string, tensor: string | undefined, elemType: number): string | undefined => (tensor ? tapOf(tensor, `tap_L${k}_${role}`, elemType) : undefined);
    taps[k] = {
      X: tap('X', t.X, DataType.FLOAT)!,
      Y: tap('Y', t.Y, DataType.FLOAT)!,
      initialH: tap('h0', t.initialH, DataType.FLOAT),
      initialC: tap('c0', t.initialC, DataType.FLOAT),
      sequenceLens: tap('len', t.sequenceLens, DataType.INT32),
    };
  });

  // Loop/Scan bodies: their values every iteration, as extra per-iteration outputs of the node.
  const bodyTaps = new Map<number, Map<string, string>>();
  const bodyIndices = new Set([...request.bodies.keys(), ...innerTaps.keys()]);
  for (const index of bodyIndices) {
    const node = nodes[index];
    const spec = describeIterated(node, index, model.opset);
    const wanted = new Set(request.bodies.get(index) ?? []);
    for (const { t } of innerTaps.get(index) ?? []) for (const x of [t.X, t.Y, t.initialH, t.initialC, t.sequenceLens]) if (x) wanted.add(x);
    const list = [...wanted];
    const outputs = list.map((x) => b.fresh('tap_iter'));
    const map = new Map(list.map((x, i) => [x, outputs[i]]));
    nodes[index] = withTaps(spec, spec.body, list, outputs, (hint) => b.fresh(hint));
    for (const o of outputs) tapOutputs.push({ name: o, elemType: 0 });
    bodyTaps.set(index, map);
    for (const { k, t } of innerTaps.get(index) ?? []) {
      taps[k] = { X: map.get(t.X)!, Y: map.get(t.Y)!, initialH: t.initialH && map.get(t.initialH), initialC: t.initialC && map.get(t.initialC),
        sequenceLens: t.sequenceLens && map.get(t.sequenceLens) };
    }
  }

  const valueTaps = new Map<string, string>();
  // (Element type left open: onnxruntime infers it; these may be integer indices as well as floats.)
  for (const tensor of request.values) valueTaps.set(tensor, tapOf(tensor, 'tap_value', 0));

  const graph: GraphProto = {
    ...src,
    node: [...nodes, ...tapNodes],
    output: [...src.output, ...tapOutputs.map((o) => (o.elemType ? valueInfo(o.name, o.elemType, null) : { name: o.name }))],
  };
  return {
    proto: { ...model.proto, graph },
    taps,
    graphOutputs: src.output.map((o) => o.name),
    layerNodes,
    valueTaps,
    bodyTaps,
  };
}

/** Every name defined anywhere in the graph, subgraphs included (fresh names must not shadow any). */
function allTensorNamesDeep(graph: GraphProto): Set<string> {
  const names = allTensorNames(graph);
  for (const { node, graph: g } of walkNodes(graph)) {
    for (const o of node.output) names.add(o);
    for (const v of g.input ?? []) names.add(v.name);
    for (const t of g.initializer ?? []) if (t.name) names.add(t.name);
  }
  return names;
}

/**
 * Append the node (lowered to layout 0 if needed) to `out` and return the layout-0 tensors that
 * describe it. Y is always produced, under a fresh name when the model did not use it.
 */
function lowerRecurrentNode(b: GraphBuilder, layer: RecurrentLayer, out: NodeProto[]): LayerTaps {
  const node = layer.node;
  const outputs = [...node.output];
  while (outputs.length < 1) outputs.push('');
  const { X, sequenceLens, initialH, initialC } = layer.inputs;
  if (layer.layout === 0) {
    if (!outputs[0]) outputs[0] = b.fresh('Y');
    out.push({ ...node, output: outputs });
    return { X, Y: outputs[0], initialH: initialH || undefined, initialC: initialC || undefined, sequenceLens: sequenceLens || undefined };
  }
  // layout=1: X [B, T, I] → [T, B, I]; initial states [B, D, H] → [D, B, H]; Y [T, D, B, H] → [B, T, D, H].
  const transposeInto = (input: string, perm: number[], output: string) => {
    out.push({ op_type: 'Transpose', input: [input], output: [output], name: b.fresh('n_lower'), domain: '',
      attribute: [{ name: 'perm', type: 7, ints: perm }] });
  };
  const transposed = (input: string, perm: number[]): string => {
    if (!input) return '';
    const o = b.fresh('lowered');
    transposeInto(input, perm, o);
    return o;
  };
  const X0 = transposed(X, [1, 0, 2]);
  const h0 = transposed(initialH, [1, 0, 2]);
  const c0 = transposed(initialC, [1, 0, 2]);
  const inputs = [...node.input];
  inputs[0] = X0;
  if (initialH) inputs[5] = h0;
  if (initialC) inputs[6] = c0;
  const Y0 = b.fresh('Y0');
  const Yh0 = outputs[1] ? b.fresh('Yh0') : '';
  const Yc0 = outputs[2] ? b.fresh('Yc0') : '';
  const loweredOutputs = [Y0, Yh0, Yc0].slice(0, Math.max(1, outputs.length));
  out.push({
    ...node,
    input: inputs,
    output: loweredOutputs,
    attribute: node.attribute.filter((a) => a.name !== 'layout'),
  });
  if (outputs[0]) transposeInto(Y0, [2, 0, 1, 3], outputs[0]);
  if (outputs[1]) transposeInto(Yh0, [1, 0, 2], outputs[1]);
  if (outputs[2]) transposeInto(Yc0, [1, 0, 2], outputs[2]);
  return { X: X0, Y: Y0, initialH: h0 || undefined, initialC: c0 || undefined, sequenceLens: sequenceLens || undefined };
}
