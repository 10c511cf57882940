/**
 * Discovery of recurrent layers (SPEC §1): every LSTM / GRU / RNN node of the default domain with
 * its attributes, optional inputs, sizes and the static weights W, R, B, P.
 */
import { attrFloat, attrFloats, attrInt, attrString, attrStrings, attrTensor, findAttribute } from '../onnx/attributes';
import { AnalysisError } from '../onnx/errors';
import { LoadedModel, tensorAsFloat64, tensorDims } from '../onnx/model';
import { AttributeType, GraphProto, NodeProto, TensorProto, toNumber } from '../onnx/proto';
import { printable } from '../onnx/files';
import { CALLS_NODE } from './iterated/streaming';
import { opKey, walkNodes } from '../onnx/graphs';
import { LayerAttributes, NodeDirection, RecurrentOp } from '../report/types';

export const RECURRENT_OPS: readonly RecurrentOp[] = ['LSTM', 'GRU', 'RNN'];

/** Number of gates g: W is [D, g·H, I]. */
export const GATE_COUNT: Record<RecurrentOp, number> = { LSTM: 4, GRU: 3, RNN: 1 };

const DEFAULT_ACTIVATIONS: Record<RecurrentOp, string[]> = {
  LSTM: ['Sigmoid', 'Tanh', 'Tanh'],
  GRU: ['Sigmoid', 'Tanh'],
  RNN: ['Tanh'],
};

/** Canonical spelling of every activation the ONNX recurrent ops allow. */
const ACTIVATION_NAMES = ['Relu', 'Tanh', 'Sigmoid', 'Affine', 'LeakyRelu', 'ThresholdedRelu', 'ScaledTanh',
  'HardSigmoid', 'Elu', 'Softsign', 'Softplus'];

/** Default (alpha, beta) of the parameterised activations; the ones listed consume attribute values. */
const ACTIVATION_PARAMS: Record<string, { alpha?: number; beta?: number }> = {
  Affine: { alpha: 1, beta: 0 },
  LeakyRelu: { alpha: 0.01 },
  ThresholdedRelu: { alpha: 1 },
  ScaledTanh: { alpha: 1, beta: 1 },
  HardSigmoid: { alpha: 0.2, beta: 0.5 },
  Elu: { alpha: 1 },
};

export interface Activation {
  name: string;
  alpha: number;
  beta: number;
}

export interface StaticTensor {
  name: string;
  dims: number[];
  values: Float64Array;
}

export interface RecurrentLayer {
  /** Node name, or `<op>_<index>` when the node is unnamed. */
  name: string;
  /** Where the node sits in the exported model: enclosing [node, graph attribute, …], then its name (SPEC v2 §9.1). */
  path: string[];
  /** Index of the node in its graph: the main graph, or the body of `container`. */
  nodeIndex: number;
  /** Set when the node sits in the body of a main-graph Loop/Scan node: that node's index and label, and the node's index in the body. */
  container?: LayerContainer;
  node: NodeProto;
  op: RecurrentOp;
  direction: NodeDirection;
  numDirections: 1 | 2;
  layout: 0 | 1;
  hiddenSize: number;
  inputSize: number;
  /** Input tensor names ('' when absent). */
  inputs: { X: string; W: string; R: string; B: string; sequenceLens: string; initialH: string; initialC: string; P: string };
  /** Per direction (index 0 .. D-1): its activations with resolved alpha/beta. */
  activations: Activation[][];
  clip: number | null;
  inputForget: boolean;
  linearBeforeReset: boolean;
  W: StaticTensor;
  R: StaticTensor;
  B: StaticTensor | null;
  P: StaticTensor | null;
  attributes: LayerAttributes;
}

export interface LayerContainer {
  nodeIndex: number;
  label: string;
  bodyIndex: number;
}

function isLoopOrScan(n: NodeProto): boolean {
  return (n.op_type === 'Loop' || n.op_type === 'Scan') && (!n.domain || n.domain === 'ai.onnx');
}

export interface DiscoveryResult {
  layers: RecurrentLayer[];
  warnings: string[];
  /** op_type histogram of the graph, to tell the user what a model without recurrent nodes holds. */
  opCounts: Map<string, number>;
}

export function layerDisplayName(node: NodeProto, index: number): string {
  return node.name && node.name.length > 0 ? node.name : `${node.op_type}_${index}`;
}

/** What input resolution and the memory estimate need to know of a recurrent node before its weights are read. */
export interface RecurrentNodeRef {
  op: RecurrentOp;
  layout: 0 | 1;
  inputs: RecurrentLayer['inputs'];
  numDirections: 1 | 2;
  /** hidden_size (checkRecurrentNode: a positive INT, R's last dim when R is an initializer). */
  hiddenSize: number;
  /** W's last dim when W is an initializer, else 0. */
  inputSize: number;
}

const ATTRIBUTE_KINDS: Record<number, string> = { 1: 'a FLOAT', 3: 'a STRING', 4: 'a TENSOR', 6: 'FLOATS', 7: 'INTS', 8: 'STRINGS' };

/**
 * What onnxruntime would refuse in a recurrent node's attributes and inputs, said in our words
 * first (its own messages are C++ checks such as "clip_ > 0.f was false"): hidden_size a positive
 * INT, clip a positive number, W and R given, and hidden_size matching a static R.
 */
export function checkRecurrentNode(node: NodeProto, name: string, Rdims?: number[]): number {
  const op = node.op_type;
  const hs = findAttribute(node, 'hidden_size');
  const R = Rdims && Rdims.length === 3 ? Rdims[2] : undefined;
  const hint = R !== undefined ? ` (R's last dimension here: ${R})` : '';
  if (!hs) throw new AnalysisError(`${op} node '${printable(name)}' has no hidden_size attribute, which onnxruntime requires; add hidden_size=H${hint}.`);
  const hidden = hs.i !== undefined && hs.i !== null ? toNumber(hs.i) : NaN;
  // (IR version 1 attributes carry no type: an integer value is an INT.)
  const isInt = hs.type === AttributeType.INT || (!hs.type && hs.i !== undefined && hs.i !== null);
  if (!isInt || !(Number.isSafeInteger(hidden) && hidden > 0)) {
    const shown = isInt ? String(hidden) : `given as ${ATTRIBUTE_KINDS[hs.type ?? 0] ?? `attribute type ${hs.type}`}`;
    throw new AnalysisError(`${op} node '${printable(name)}' has hidden_size ${shown}; it must be a positive INT attribute${hint}.`);
  }
  if (R !== undefined && R !== hidden) {
    throw new AnalysisError(`${op} node '${printable(name)}' has hidden_size=${hidden} but its R is [${Rdims!.join(', ')}] (hidden size ${R}); fix the attribute or the weights.`);
  }
  const clip = findAttribute(node, 'clip');
  const clipFloat = clip && (clip.type === AttributeType.FLOAT || (!clip.type && clip.f !== undefined));
  if (clip && !(clipFloat && clip.f! > 0)) {
    throw new AnalysisError(`${op} node '${printable(name)}' has clip=${clipFloat ? String(clip.f) : '(not a FLOAT)'}; clip is the bound gate pre-activations are clipped to, a positive number — remove it or give one.`);
  }
  for (const [i, w] of [[1, 'W'], [2, 'R']] as const) {
    if (!node.input[i]) throw new AnalysisError(`${op} node '${printable(name)}' has no ${w} input; ${op} needs its ${w} weights (ONNX inputs 1 and 2: W, R).`);
  }
  return hidden;
}

/** Every recurrent node's inputs and layout (no weights read; for tracing the sequence/batch axes). */
export function listRecurrentNodes(model: LoadedModel): RecurrentNodeRef[] {
  // Anywhere: If branches and Loop/Scan bodies hold the layers of many real exports.
  const placed = walkNodes(model.proto.graph);
  // A weight's dims from the node's own graph, else the main graph's (sibling branches and bodies
  // are separate scopes: each may have its own 'R'); a weight found in neither is not checked here.
  const main = model.proto.graph;
  const dimsIn = (g: GraphProto, name: string) => { const t = (g.initializer ?? []).find((x) => x.name === name); return t && tensorDims(t); };
  const dimsOf = (g: GraphProto, name: string) => (name ? dimsIn(g, name) ?? (g === main ? undefined : dimsIn(main, name)) : undefined);
  return placed
    .filter(({ node: n }) => (!n.domain || n.domain === 'ai.onnx') && (RECURRENT_OPS as readonly string[]).includes(n.op_type))
    .map(({ node: n, graph }) => {
      const input = (i: number) => n.input[i] ?? '';
      const isLstm = n.op_type === 'LSTM';
      const w = dimsOf(graph, input(1));
      const r = dimsOf(graph, input(2));
      // Before any size is estimated from it: a bad hidden_size must not read as a memory problem.
      const hiddenSize = checkRecurrentNode(n, n.name || n.op_type, r);
      return {
        op: n.op_type as RecurrentOp,
        layout: attrInt(n, 'layout', 0) === 1 ? 1 : 0,
        inputs: { X: input(0), W: input(1), R: input(2), B: input(3), sequenceLens: input(4), initialH: input(5),
          initialC: isLstm ? input(6) : '', P: isLstm ? input(7) : '' },
        numDirections: attrString(n, 'direction', 'forward') === 'bidirectional' ? 2 : 1,
        hiddenSize,
        inputSize: Math.max(0, w?.[2] ?? 0),
      };
    });
}

/** A graph input's fed values (weights given as graph inputs, as ONNX's backend tests do). */
export interface FedTensor {
  dims: number[];
  data: ArrayLike<number>;
}

/**
 * Find and describe every recurrent layer. W/R/B/P are read from initializers, Constant nodes
 * (through Identity), or, when they are graph inputs, from the values fed to them.
 */
export function discoverRecurrentLayers(model: LoadedModel, fed: Record<string, FedTensor> = {}, paths: Map<NodeProto, string[]> = new Map()): DiscoveryResult {
  const graph = model.proto.graph;
  const initializers = new Map<string, TensorProto>();
  const constants = new Map<string, TensorProto>();
  const identities = new Map<string, string>();
  // The main graph and the bodies of its Loop/Scan nodes (one scope: names are unique across them).
  const scopes = [graph, ...graph.node.filter(isLoopOrScan).map((n) => n.attribute.find((a) => a.name === 'body')?.g).filter((g): g is GraphProto => !!g)];
  for (const g of scopes) {
    for (const t of g.initializer ?? []) initializers.set(t.name ?? '', t);
    for (const n of g.node ?? []) {
      if (n.op_type === 'Constant' && (!n.domain || n.domain === 'ai.onnx')) {
        const t = constantNodeTensor(n);
        if (t) constants.set(n.output[0], t);
      }
      if (n.op_type === 'Identity') identities.set(n.output[0], n.input[0]);
    }
  }

  const resolveStatic = (name: string): TensorProto | undefined => {
    let cur = name;
    for (let hops = 0; hops < 8; hops++) {
      const t = initializers.get(cur) ?? constants.get(cur);
      if (t) return t;
      const next = identities.get(cur);
      if (next === undefined) return undefined;
      cur = next;
    }
    return undefined;
  };

  const layers: RecurrentLayer[] = [];
  const warnings: string[] = [];
  const opCounts = new Map<string, number>();
  // Main-graph nodes, then the nodes of each Loop/Scan body (container: where the node sits).
  const placed: { node: NodeProto; nodeIndex: number; container?: LayerContainer; outer: string[] }[] = [];
  graph.node.forEach((node, nodeIndex) => {
    placed.push({ node, nodeIndex, outer: paths.get(node) ?? [] });
    if (!isLoopOrScan(node)) return;
    const body = node.attribute.find((a) => a.name === 'body')?.g;
    const label = layerDisplayName(node, nodeIndex);
    // The Scan that runs a streaming model's calls is Gradient Lens's own: a layer's path is where it sits in the model.
    const own = node.name === CALLS_NODE;
    (body?.node ?? []).forEach((inner, bodyIndex) => placed.push({
      node: inner, nodeIndex: bodyIndex, container: { nodeIndex, label, bodyIndex },
      outer: own ? paths.get(inner) ?? [] : [...(paths.get(node) ?? []), label, 'body'],
    }));
  });
  placed.forEach(({ node, nodeIndex, container, outer }) => {
    opCounts.set(opKey(node), (opCounts.get(opKey(node)) ?? 0) + 1);
    if (node.domain && node.domain !== 'ai.onnx') return;
    if (!(RECURRENT_OPS as readonly string[]).includes(node.op_type)) return;
    const op = node.op_type as RecurrentOp;
    const name = layerDisplayName(node, nodeIndex);
    const input = (i: number) => node.input[i] ?? '';
    const staticR = resolveStatic(input(2));
    const hiddenSize = checkRecurrentNode(node, name, staticR ? tensorDims(staticR) : undefined);
    const inputs = {
      X: input(0), W: input(1), R: input(2), B: input(3), sequenceLens: input(4), initialH: input(5),
      initialC: op === 'LSTM' ? input(6) : '', P: op === 'LSTM' ? input(7) : '',
    };
    const staticOf = (role: string, tname: string): StaticTensor | null | 'dynamic' => {
      if (!tname) return null;
      const t = resolveStatic(tname);
      if (!t) {
        const f = fed[tname];
        return f ? { name: tname, dims: f.dims, values: Float64Array.from(f.data) } : 'dynamic';
      }
      return { name: tname, dims: tensorDims(t), values: tensorAsFloat64(t, model.baseDir) };
    };
    const W = staticOf('W', inputs.W);
    const R = staticOf('R', inputs.R);
    const B = staticOf('B', inputs.B);
    const P = staticOf('P', inputs.P);
    const dynamic = ([['W', W], ['R', R], ['B', B], ['P', P]] as const).filter(([, v]) => v === 'dynamic').map(([k]) => k);
    if (dynamic.length > 0 || !W || !R) {
      warnings.push(`${op} node '${name}' is skipped: its ${dynamic.length ? dynamic.join(', ') : 'W/R'} weight${dynamic.length > 1 ? 's are' : ' is'} computed at run time rather than stored as an initializer or Constant, so its recurrent weights cannot be read; fold the weights into constants (e.g. onnxsim or torch.onnx.export(..., do_constant_folding=True)) to analyse it.`);
      return;
    }
    const Wt = W as StaticTensor;
    const Rt = R as StaticTensor;
    const directionAttr = attrString(node, 'direction', 'forward');
    if (!['forward', 'reverse', 'bidirectional'].includes(directionAttr)) {
      throw new AnalysisError(`${op} node '${name}' has direction='${directionAttr}'; ONNX allows forward, reverse or bidirectional.`);
    }
    const direction = directionAttr as NodeDirection;
    const numDirections = direction === 'bidirectional' ? 2 : 1;
    const g = GATE_COUNT[op];
    if (Wt.dims.length !== 3 || Rt.dims.length !== 3) {
      throw new AnalysisError(`${op} node '${name}': W must be 3-D [num_directions, ${g}*hidden_size, input_size] and R 3-D; got W [${Wt.dims}] and R [${Rt.dims}].`);
    }
    const inputSize = Wt.dims[2];
    if (Wt.dims[0] !== numDirections || Wt.dims[1] !== g * hiddenSize || Rt.dims[0] !== numDirections
        || Rt.dims[1] !== g * hiddenSize || Rt.dims[2] !== hiddenSize) {
      throw new AnalysisError(`${op} node '${name}' (direction=${direction}, hidden_size=${hiddenSize}) has inconsistent weights: W [${Wt.dims}], R [${Rt.dims}]; expected W [${numDirections}, ${g * hiddenSize}, I] and R [${numDirections}, ${g * hiddenSize}, ${hiddenSize}].`);
    }
    const Bt = B as StaticTensor | null;
    if (Bt && (Bt.dims.length !== 2 || Bt.dims[0] !== numDirections || Bt.dims[1] !== 2 * g * hiddenSize)) {
      throw new AnalysisError(`${op} node '${name}' has bias B of shape [${Bt.dims}]; expected [${numDirections}, ${2 * g * hiddenSize}].`);
    }
    const Pt = P as StaticTensor | null;
    if (Pt && (Pt.dims.length !== 2 || Pt.dims[0] !== numDirections || Pt.dims[1] !== 3 * hiddenSize)) {
      throw new AnalysisError(`LSTM node '${name}' has peepholes P of shape [${Pt.dims}]; expected [${numDirections}, ${3 * hiddenSize}].`);
    }
    const layout = attrInt(node, 'layout', 0);
    if (layout !== 0 && layout !== 1) throw new AnalysisError(`${op} node '${name}' has layout=${layout}; ONNX allows 0 or 1.`);
    const activations = resolveActivations(node, op, name, numDirections);
    const clipValue = attrFloat(node, 'clip');
    const clip = clipValue === undefined ? null : clipValue;
    const inputForget = op === 'LSTM' && attrInt(node, 'input_forget', 0) !== 0;
    const linearBeforeReset = op === 'GRU' && attrInt(node, 'linear_before_reset', 0) !== 0;
    layers.push({
      name, path: [...outer, name], nodeIndex, container, node, op, direction, numDirections, layout: layout as 0 | 1, hiddenSize, inputSize, inputs,
      activations, clip, inputForget, linearBeforeReset, W: Wt, R: Rt, B: Bt, P: Pt,
      attributes: {
        activations: activations.flat().map((a) => a.name),
        activationAlpha: attrFloats(node, 'activation_alpha') ?? [],
        activationBeta: attrFloats(node, 'activation_beta') ?? [],
        clip,
        inputForget,
        linearBeforeReset,
        hasBias: !!inputs.B,
        hasPeepholes: !!inputs.P,
        hasSequenceLens: !!inputs.sequenceLens,
        hasInitialH: !!inputs.initialH,
        hasInitialC: !!inputs.initialC,
      },
    });
  });
  return { layers, warnings, opCounts };
}

/**
 * The activation list per direction. activation_alpha / activation_beta are consumed in order
 * by the activations that take parameters (as onnxruntime does); the others use their defaults.
 */
function resolveActivations(node: NodeProto, op: RecurrentOp, name: string, numDirections: number): Activation[][] {
  const per = DEFAULT_ACTIVATIONS[op].length;
  const given = attrStrings(node, 'activations');
  const names = given ?? Array.from({ length: numDirections }, () => DEFAULT_ACTIVATIONS[op]).flat();
  if (names.length !== per * numDirections) {
    throw new AnalysisError(`${op} node '${name}' lists ${names.length} activations; ${op} with ${numDirections} direction(s) needs ${per * numDirections} (${DEFAULT_ACTIVATIONS[op].join(', ')} per direction).`);
  }
  const alphas = attrFloats(node, 'activation_alpha') ?? [];
  const betas = attrFloats(node, 'activation_beta') ?? [];
  let ai = 0;
  let bi = 0;
  const resolved = names.map((raw) => {
    const canonical = ACTIVATION_NAMES.find((a) => a.toLowerCase() === raw.toLowerCase());
    if (!canonical) {
      throw new AnalysisError(`${op} node '${name}' uses activation '${raw}', which ONNX does not define for recurrent ops (allowed: ${ACTIVATION_NAMES.join(', ')}).`);
    }
    const params = ACTIVATION_PARAMS[canonical] ?? {};
    const alpha = params.alpha !== undefined ? (ai < alphas.length ? alphas[ai++] : params.alpha) : 0;
    const beta = params.beta !== undefined ? (bi < betas.length ? betas[bi++] : params.beta) : 0;
    return { name: canonical, alpha, beta };
  });
  return Array.from({ length: numDirections }, (_, d) => resolved.slice(d * per, (d + 1) * per));
}

function constantNodeTensor(n: NodeProto): TensorProto | undefined {
  const t = attrTensor(n, 'value');
  if (t) return t;
  const vf = attrFloat(n, 'value_float');
  if (vf !== undefined) return { dims: [], data_type: 1, float_data: [vf] };
  const vfs = attrFloats(n, 'value_floats');
  if (vfs) return { dims: [vfs.length], data_type: 1, float_data: vfs };
  return undefined;
}

/** A user-facing description of what a model holds, for "no recurrent node" errors. */
export function describeOps(opCounts: Map<string, number>): string {
  const entries = [...opCounts.entries()].sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return 'no nodes at all';
  const shown = entries.slice(0, 8).map(([op, n]) => `${n} ${op}`);
  return shown.join(', ') + (entries.length > 8 ? `, and ${entries.length - 8} other op types` : '');
}
