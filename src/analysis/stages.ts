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
 */
import { makeModel } from '../onnx/builder';
import { GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/proto';
import { freeNames, nodeReads } from '../onnx/graphs';

export interface GraphStage {
  kind: 'graph';
  proto: ModelProto;
  inputs: string[];
  outputs: string[];
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
}

export type Stage = GraphStage | ScanStage;

/**
 * Plan the stages of `graph` (topologically ordered) whose `longScans` (node indices) must run
 * in chunks. `finalOutputs` are the tensors the caller wants at the end. Stage inputs carry
 * names only: the executor gives them types from the values it feeds.
 */
export function planStages(graph: GraphProto, longScans: Set<number>, finalOutputs: string[], maxStageNodes = Infinity): Stage[] {
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

  const stages: Stage[] = [];
  for (let level = 0; level <= maxLevel; level++) {
    const members = graph.node.map((_, i) => i).filter((i) => nodeLevel[i] === level && !longScans.has(i));
    // Nodes are in topological order, so consecutive pieces only read from earlier ones.
    for (let from = 0; from < members.length; from += maxStageNodes) {
      stages.push(graphStage(graph, members.slice(from, from + maxStageNodes), level, readers, wanted, graphInputs, inits));
    }
    for (const i of graph.node.map((_, j) => j).filter((j) => nodeLevel[j] === level && longScans.has(j))) {
      stages.push(scanStage(graph.node[i], inits));
    }
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
