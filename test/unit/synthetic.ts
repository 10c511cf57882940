/**
 * Synthetic single-layer recurrent models with symbolic sequence and batch axes, built with the
 * project's own protobuf writer: for tests that need sizes the fixtures do not have (long
 * sequences, wide layers) and for the benchmark.
 */
import { GraphBuilder, makeModel, valueInfo } from '../../src/onnx/builder';
import { encodeModel, makeTensor } from '../../src/onnx/model';
import { AttributeType, DataType, ModelProto } from '../../src/onnx/proto';
import { SeededRandom } from '../../src/inputs/random';

export interface SyntheticOptions {
  op: 'LSTM' | 'GRU' | 'RNN';
  hidden: number;
  input: number;
  direction?: 'forward' | 'reverse' | 'bidirectional';
  /** Weights ~ N(0, scale²/H) so the recurrence neither explodes nor dies at once. */
  scale?: number;
  seed?: number;
  opset?: number;
  /** A streaming model: `steps` per call, the state in (h, c) and out (hn, cn) as graph inputs and outputs. */
  streaming?: { steps: number };
}

export function syntheticRecurrentModel(o: SyntheticOptions): ModelProto {
  const g = o.op === 'LSTM' ? 4 : o.op === 'GRU' ? 3 : 1;
  const D = o.direction === 'bidirectional' ? 2 : 1;
  const H = o.hidden;
  const I = o.input;
  const rng = SeededRandom.forInput(o.seed ?? 1, 'weights');
  const scaled = (n: number, fanIn: number) => {
    const v = rng.normal(n);
    const s = (o.scale ?? 1) / Math.sqrt(fanIn);
    for (let i = 0; i < n; i++) v[i] *= s;
    return v;
  };
  const b = new GraphBuilder('syn_');
  const seq = o.streaming ? o.streaming.steps : 'seq';
  const graphInputs = [valueInfo('x', DataType.FLOAT, [seq, 'batch', I])];
  const W = makeTensor('W', [D, g * H, I], scaled(D * g * H * I, I));
  const R = makeTensor('R', [D, g * H, H], scaled(D * g * H * H, H));
  const B = makeTensor('B', [D, 2 * g * H], scaled(D * 2 * g * H, H));
  const attrs = [
    { name: 'hidden_size', type: AttributeType.INT, i: H },
    { name: 'direction', type: AttributeType.STRING, s: new TextEncoder().encode(o.direction ?? 'forward') },
  ];
  if (o.op === 'GRU') attrs.push({ name: 'linear_before_reset', type: AttributeType.INT, i: 1 });
  const lstm = o.op === 'LSTM';
  const stream = o.streaming;
  b.nodes.push({
    op_type: o.op, name: `${o.op.toLowerCase()}0`, domain: '', attribute: attrs,
    input: stream ? ['x', 'W', 'R', 'B', '', 'h', ...(lstm ? ['c'] : [])] : ['x', 'W', 'R', 'B'],
    output: stream ? ['Y', 'hn', ...(lstm ? ['cn'] : [])] : ['Y', 'Y_h'],
  });
  const graph = b.graph('synthetic');
  const state = (name: string) => valueInfo(name, DataType.FLOAT, [D, 'batch', H]);
  graph.input = stream ? [...graphInputs, state('h'), ...(lstm ? [state('c')] : [])] : graphInputs;
  graph.initializer = [W, R, B];
  graph.output = stream
    ? [valueInfo('Y', DataType.FLOAT, [seq, D, 'batch', H]), state('hn'), ...(lstm ? [state('cn')] : [])]
    : [valueInfo('Y', DataType.FLOAT, ['seq', D, 'batch', H]), valueInfo('Y_h', DataType.FLOAT, [D, 'batch', H])];
  return makeModel(graph, o.opset ?? 14);
}

export function syntheticRecurrentModelBytes(o: SyntheticOptions): Uint8Array {
  return encodeModel(syntheticRecurrentModel(o));
}
