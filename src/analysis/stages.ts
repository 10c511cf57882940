/**
 * Cutting a generated graph into stages so that no single onnxruntime call runs long.
 *
 * onnxruntime's run() is one synchronous native call, and a worker thread cannot be ended
 * inside one, so a long backward recurrence would make cancelling wait for it. The analysis
 * graph is therefore executed as: level-0 nodes (one graph), then every long Scan that depends
 * only on level ≤ 0, run in chunks of steps (state carried between chunks), then level-1 nodes,
 * and so on. A node's level is the number of long Scans on its longest path from the inputs.
 * The arithmetic is unchanged; only where calls begin and end moves.
 *
 * Big graphs (many stacked layers) are also cut into stages of at most `maxStageNodes` nodes:
 * onnxruntime's session creation grows faster than linearly with a graph's size (measured: 50,
 * 100 and 300 stacked LSTM layers took 1.4, 5.9 and 75 s), so pieces of bounded size keep the
 * build linear in the layer count.
 *
 * Long sequences: the time-local regions of the graph (GraphBuilder.timeLocal: gate
 * recomputation, the backward recurrence's factors, the weight gradients) become stages of their
 * own, run a range of steps at a time, so their intermediates (several [T, B, 4H] tensors: 164 MB
 * each at T = 10 000, H = 1024) never exist whole. The region whose outputs only a backward Scan
 * reads (its factors) and the region that reads the Scan's per-step outputs (its weight gradients,
 * sums over the steps) run with each of the Scan's chunks, in one model with it: the factors and
 * the per-step adjoint of the gates never exist whole either.
 */
import { makeModel, TimeLocalRegion } from '../onnx/builder';
import { GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/proto';
import { freeNames, nodeReads } from '../onnx/graphs';

export interface GraphStage {
  kind: 'graph';
  proto: ModelProto;
  inputs: string[];
  outputs: string[];
  /** A time-local region: every input has the region's T steps on axis 0, and so has every output but the `summed` ones. */
  local?: TimeLocalRegion;
  /** Outputs that are sums over the steps (GraphBuilder.timeSummed): a run in chunks adds them up. */
  summed?: string[];
}

/** Time-local stages run with each chunk of a Scan's steps, in one model with it (see above). */
export interface ScanChunkModel {
  /** The region the Scan reads, and the region that reads the Scan, each alone (run before and after a Scan that is not run in chunks). */
  pre?: GraphStage;
  post?: GraphStage;
  /** The regions' nodes and the Scan: inputs = states, `sliced`, the Scan's outer inputs. */
  proto: ModelProto;
  /** Inputs fed a chunk of steps at a time: the regions' inputs and the Scan's other scan inputs. */
  sliced: string[];
  /** Per-step outputs later stages read (written into arrays of all T steps). */
  stitched: string[];
  /** Outputs that are sums over the steps (added up over the chunks). */
  summed: string[];
}

export interface ScanStage {
  kind: 'scan';
  /** A model with the Scan alone: inputs = its states then its scan inputs (chunks), outputs = its outputs. */
  proto: ModelProto;
  stateInputs: string[];
  scanInputs: string[];
  stateOutputs: string[];
  scanOutputs: string[];
  /** True when the Scan runs from the last step to the first. */
  reverse: boolean;
  /** Scan inputs (states or sequences) that are initializers: their values must be fed. */
  constants: TensorProto[];
  /** Values of the enclosing graph the body reads (fed whole to every chunk). */
  outerInputs: string[];
  merged?: ScanChunkModel;
}

export type Stage = GraphStage | ScanStage;

/** The values a stage reads (what must exist before it runs). */
export function stageReads(s: Stage): string[] {
  return s.kind === 'graph' ? s.inputs : [...s.stateInputs, ...s.scanInputs, ...s.outerInputs, ...(s.merged?.sliced ?? [])];
}

/** The values a stage makes (what exists after it ran). */
export function stageMade(s: Stage): string[] {
  return s.kind === 'graph' ? s.outputs : [...s.stateOutputs, ...s.scanOutputs, ...(s.merged ? [...s.merged.stitched, ...s.merged.summed] : [])];
}

/**
 * Plan the stages of `graph` (topologically ordered) whose `longScans` (node indices) must run
 * in chunks. `finalOutputs` are the tensors the caller wants at the end. Stage inputs carry
 * names only: the executor gives them types from the values it feeds.
 */
export function planStages(graph: GraphProto, longScans: Set<number>, finalOutputs: string[], maxStageNodes = Infinity,
  timeLocal: ReadonlyMap<string, TimeLocalRegion> = new Map()): Stage[] {
  const graphInputs = new Set(graph.input.map((v) => v.name));
  const inits = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const levelOf = new Map<string, number>();
  const nodeLevel: number[] = [];
  graph.node.forEach((n, i) => {
    let level = 0;
    for (const r of nodeReads(n)) level = Math.max(level, levelOf.get(r) ?? 0);
    nodeLevel[i] = level;
    for (const o of n.output) if (o) levelOf.set(o, longScans.has(i) ? level + 1 : level);
  });
  const maxLevel = Math.max(0, ...nodeLevel);
  // Which tensors each node reads, to know what a stage must hand on.
  const readers = new Map<string, number[]>();
  graph.node.forEach((n, i) => { for (const r of nodeReads(n)) if (r) readers.set(r, [...(readers.get(r) ?? []), i]); });
  const wanted = new Set(finalOutputs);
  // A time-local node read only by later nodes of its own region, or by a long Scan, runs with them
  // (with the Scan's chunks, say, rather than as a whole [T, …] tensor kept from before the Scan:
  // a lower layer of a stack computes its backward factors at level 0 but runs its Scan later).
  const regionOf = (i: number) => timeLocal.get(graph.node[i].name ?? '');
  for (let i = graph.node.length - 1; i >= 0; i--) {
    const region = regionOf(i);
    const outs = graph.node[i].output.filter(Boolean);
    const by = outs.flatMap((o) => readers.get(o) ?? []);
    if (!region || by.length === 0 || outs.some((o) => wanted.has(o)) || by.some((j) => regionOf(j)?.id !== region.id && !longScans.has(j))) continue;
    nodeLevel[i] = Math.max(nodeLevel[i], Math.min(...by.map((j) => nodeLevel[j])));
  }

  const stages: Stage[] = [];
  for (let level = 0; level <= maxLevel; level++) {
    const members = graph.node.map((_, i) => i).filter((i) => nodeLevel[i] === level && !longScans.has(i));
    for (const group of regionGroups(graph, members, timeLocal)) {
      if (group.region) {
        // A time-local group (tens of nodes per layer-direction) stays whole: cut, its pieces would
        // hand on intermediates that are not per-step (a [T·B, gH] reshape, a transposed operand).
        const stage = graphStage(graph, group.nodes, level, readers, wanted, graphInputs, inits);
        const summedBy = new Set(group.nodes.filter((i) => regionOf(i)?.summed).flatMap((i) => graph.node[i].output));
        stages.push({ ...stage, local: { id: group.region.id, T: group.region.T }, summed: stage.outputs.filter((o) => summedBy.has(o)) });
        continue;
      }
      // Nodes are in topological order, so consecutive pieces only read from earlier ones.
      for (let from = 0; from < group.nodes.length; from += maxStageNodes) {
        stages.push(graphStage(graph, group.nodes.slice(from, from + maxStageNodes), level, readers, wanted, graphInputs, inits));
      }
    }
    for (const i of graph.node.map((_, j) => j).filter((j) => nodeLevel[j] === level && longScans.has(j))) {
      stages.push(scanStage(graph.node[i], inits));
    }
  }
  return attachToScans(stages, wanted);
}

/**
 * A level's nodes in groups run one after another: the nodes of one time-local region together,
 * the others (not time-local) together, each group after every group it reads from. A node joins
 * the first group of its kind at or after the last group holding one of its producers.
 */
function regionGroups(graph: GraphProto, members: number[], timeLocal: ReadonlyMap<string, TimeLocalRegion>): { region?: TimeLocalRegion; nodes: number[] }[] {
  if (timeLocal.size === 0) return [{ nodes: members }];
  const groups: { region?: TimeLocalRegion; nodes: number[] }[] = [];
  const groupOf = new Map<string, number>();
  for (const i of members) {
    const node = graph.node[i];
    const region = timeLocal.get(node.name ?? '');
    let at = 0;
    for (const r of nodeReads(node)) at = Math.max(at, groupOf.get(r) ?? 0);
    while (at < groups.length && groups[at].region?.id !== region?.id) at++;
    if (at === groups.length) groups.push({ region, nodes: [] });
    groups[at].nodes.push(i);
    for (const o of node.output) if (o) groupOf.set(o, at);
  }
  return groups;
}

/**
 * Join time-local stages to each long Scan (ScanChunkModel): the last one before it that feeds it
 * scan inputs and that no stage in between reads (its factors), and the first one after it that
 * reads its per-step outputs and nothing made in between (its weight gradients).
 */
function attachToScans(stages: Stage[], wanted: Set<string>): Stage[] {
  const isLocal = (s: Stage): s is GraphStage => s.kind === 'graph' && !!s.local;
  for (let si = 0; si < stages.length; si++) {
    const scan = stages[si];
    if (scan.kind !== 'scan' || scan.merged) continue;
    const fedWhole = [...scan.stateInputs, ...scan.outerInputs];
    let pi = -1;
    for (let j = si - 1; j >= 0 && pi < 0; j--) {
      const p = stages[j];
      if (!isLocal(p) || !p.outputs.some((o) => scan.scanInputs.includes(o))) continue;
      const between = new Set(stages.slice(j + 1, si).flatMap(stageReads));
      if (p.outputs.some((o) => between.has(o) || fedWhole.includes(o)) || p.inputs.some((x) => scan.outerInputs.includes(x))) continue;
      pi = j;
    }
    let qi = -1;
    for (let j = si + 1; j < stages.length && qi < 0; j++) {
      const q = stages[j];
      if (!isLocal(q) || !q.inputs.some((x) => scan.scanOutputs.includes(x))) continue;
      const between = new Set(stages.slice(si + 1, j).flatMap(stageMade));
      if (q.inputs.some((x) => between.has(x) || scan.stateOutputs.includes(x) || scan.outerInputs.includes(x))) continue;
      qi = j;
    }
    if (pi < 0 && qi < 0) continue;
    const pre = pi >= 0 ? stages[pi] as GraphStage : undefined;
    const post = qi >= 0 ? stages[qi] as GraphStage : undefined;
    const later = new Set([...stages.slice(si + 1).filter((_, j) => j + si + 1 !== qi).flatMap(stageReads), ...wanted]);
    const inside = new Set([...(pre?.outputs ?? []), ...scan.scanOutputs]);
    const sliced = [...new Set([...scan.scanInputs.filter((x) => !pre?.outputs.includes(x)), ...(pre?.inputs ?? []),
      ...(post?.inputs ?? []).filter((x) => !inside.has(x))])];
    const summed = post?.summed ?? [];
    const stitched = [...(pre?.outputs ?? []), ...scan.scanOutputs].filter((o) => later.has(o))
      .concat((post?.outputs ?? []).filter((o) => !summed.includes(o)));
    const inputs = [...scan.stateInputs, ...sliced, ...scan.outerInputs];
    const parts = [pre, scan, post].filter((x): x is Stage => !!x);
    const initializers = new Map(parts.flatMap((x) => x.proto.graph.initializer).map((t) => [t.name ?? '', t]));
    for (const x of inputs) initializers.delete(x);
    const g: GraphProto = {
      name: 'scan_chunk',
      node: parts.flatMap((x) => x.proto.graph.node),
      initializer: [...initializers.values()],
      input: inputs.map((name) => ({ name })),
      output: [...scan.stateOutputs, ...stitched, ...summed].map((name) => ({ name })),
      value_info: [],
    };
    stages[si] = { ...scan, merged: { pre, post, proto: makeModel(g), sliced, stitched, summed } };
    if (qi >= 0) stages.splice(qi, 1);
    if (pi >= 0) { stages.splice(pi, 1); si--; }
  }
  return stages;
}

function graphStage(graph: GraphProto, members: number[], level: number, readers: Map<string, number[]>,
  wanted: Set<string>, graphInputs: Set<string>, inits: Map<string, TensorProto>): GraphStage {
  const memberSet = new Set(members);
  const produced = new Set(members.flatMap((i) => graph.node[i].output.filter(Boolean)));
  const inputs = new Set<string>();
  const initializers = new Map<string, TensorProto>();
  for (const i of members) {
    for (const r of nodeReads(graph.node[i])) {
      if (!r || produced.has(r)) continue;
      if (inits.has(r)) initializers.set(r, inits.get(r)!);
      else inputs.add(r);
    }
  }
  const outputs = [...produced].filter((t) => wanted.has(t) || (readers.get(t) ?? []).some((j) => !memberSet.has(j)));
  const inputInfo = (name: string): ValueInfoProto => (graphInputs.has(name) ? graph.input.find((v) => v.name === name)! : { name });
  const g: GraphProto = {
    name: `stage_${level}`,
    node: members.map((i) => graph.node[i]),
    initializer: [...initializers.values()],
    input: [...inputs].map(inputInfo),
    output: outputs.map((name) => ({ name })),
    value_info: [],
  };
  return { kind: 'graph', proto: makeModel(g), inputs: [...inputs], outputs };
}

function scanStage(node: NodeProto, inits: Map<string, TensorProto>): ScanStage {
  const numScan = Number(node.attribute.find((a) => a.name === 'num_scan_inputs')?.i ?? 0);
  const nStates = node.input.length - numScan;
  const dirs = node.attribute.find((a) => a.name === 'scan_input_directions')?.ints?.map(Number) ?? [];
  const body = node.attribute.find((a) => a.name === 'body')!.g!;
  const free = [...freeNames(body)];
  const initializers = free.filter((n) => inits.has(n)).map((n) => inits.get(n)!);
  const outerInputs = free.filter((n) => !inits.has(n) && !node.input.includes(n));
  const g: GraphProto = {
    name: 'scan_chunk',
    node: [node],
    initializer: initializers,
    input: [...node.input, ...outerInputs].map((name) => ({ name })),
    output: node.output.map((name) => ({ name })),
    value_info: [],
  };
  return {
    kind: 'scan', proto: makeModel(g),
    stateInputs: node.input.slice(0, nStates), scanInputs: node.input.slice(nStates),
    stateOutputs: node.output.slice(0, nStates), scanOutputs: node.output.slice(nStates),
    reverse: dirs.length > 0 && dirs[0] === 1,
    constants: node.input.filter((n) => inits.has(n)).map((n) => inits.get(n)!),
    outerInputs,
  };
}
