/**
 * State recurrences (`op: "state"`, SPEC v2 §9.1): state carried from one iteration of a
 * Loop/Scan — or one streaming call — to the next by ops that are not an LSTM/GRU/RNN node: a
 * Keras loop's hand-written cell, a streaming model's cell written with Gemm/Sigmoid/Tanh, any
 * carried buffer. Every float carried value that no recurrent node takes as its initial state,
 * and that depends on the carried values, is part of the node's one state recurrence.
 *
 * Its "hidden state" per step is the carried value after each iteration, flattened to [T, B, H]:
 * the batch axis first, the rest in C order, several carried values side by side.
 */
import { nodeLabel } from '../../onnx/graphs';
import { GraphProto, NodeProto } from '../../onnx/proto';
import { bodyPaths } from './bodyPath';
import { recogniseCell, RecognisedCell } from './cells';
import { describeIterated, isIterated } from './spec';
import { CALLS_NODE } from './streaming';

export interface StateLayer {
  /** The carried values' names joined by '+' (streaming: the state inputs). */
  name: string;
  path: string[];
  /** The Loop/Scan node (index and label in the main graph) and its carried values (indices into its spec's `carried`). */
  container: { nodeIndex: number; label: string };
  vars: number[];
  varNames: string[];
  /** Streaming calls rather than a Loop/Scan of the model. */
  streaming: boolean;
  /** A recognised LSTM/GRU cell written with plain ops: its gates by name (body tensors). */
  cell?: RecognisedCell;
  /** Per var, its batch axis when the model's symbolic dims say it (see stateBatchAxes). */
  batchAxes?: (number | undefined)[];
}

/**
 * A streaming state's batch axis from the model's declared shapes: the axis whose symbolic name
 * (e.g. 'batch') another, non-state input also uses.
 */
export function declaredBatchAxis(graph: GraphProto, stateInput: string, stateInputs: Set<string>): number | undefined {
  const dimsOf = (name: string) => graph.input.find((v) => v.name === name)?.type?.tensor_type?.shape?.dim ?? [];
  const others = new Set<string>();
  for (const v of graph.input) if (!stateInputs.has(v.name)) for (const d of v.type?.tensor_type?.shape?.dim ?? []) if (d.dim_param) others.add(d.dim_param);
  const axis = dimsOf(stateInput).findIndex((d) => !!d.dim_param && others.has(d.dim_param));
  return axis >= 0 ? axis : undefined;
}

export function discoverStateLayers(graph: GraphProto, paths: Map<NodeProto, string[]>, opset: number, modelName: string): StateLayer[] {
  const out: StateLayer[] = [];
  graph.node.forEach((node, nodeIndex) => {
    if (!isIterated(node)) return;
    const spec = describeIterated(node, nodeIndex, opset);
    // Which carried values recur (no gradient-rule check here: the analysis itself checks).
    const bp = bodyPaths(spec, new Set(), () => true, modelName);
    if (bp.stateVars.length === 0) return;
    const streaming = node.name === CALLS_NODE;
    const varNames = bp.stateVars.map((i) => (streaming ? spec.carried[i].outerIn : spec.carried[i].bodyIn));
    const name = varNames.join('+');
    const label = nodeLabel(node, nodeIndex);
    out.push({
      name, path: streaming ? [name] : [...(paths.get(node) ?? []), label, 'body', name],
      container: { nodeIndex, label }, vars: bp.stateVars, varNames, streaming,
      cell: recogniseCell(spec.body, bp.stateVars.map((i) => spec.carried[i])),
    });
  });
  return out;
}

/**
 * The batch axis of a state value of `shape` when the analysis runs batch B: the one axis of size
 * B (B > 1), else the usual place ([layers, B, H] → 1, [B, H] → 0); undefined: no batch axis.
 * (It only shapes how the state is shown: the Jacobian norm over the whole state is the same.)
 */
export function stateBatchAxis(shape: number[], B: number): number | undefined {
  if (B > 1) {
    const hits = shape.map((d, a) => (d === B ? a : -1)).filter((a) => a >= 0);
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) return hits.includes(shape.length - 2) ? shape.length - 2 : hits[0];
    return undefined;
  }
  if (shape.length === 3 && shape[1] === 1) return 1;
  if (shape.length === 2 && shape[0] === 1) return 0;
  return undefined;
}

/** Per step [N, ...shape_v] values of every var → [N, B, H] (batch first, the rest flattened, vars side by side). */
export function flattenState(perVar: { data: ArrayLike<number>; shape: number[]; batchAxis?: number }[], N: number, B: number): { data: Float32Array; H: number } {
  const hs = perVar.map((v) => v.shape.reduce((a, x) => a * x, 1) / (v.batchAxis === undefined ? 1 : B));
  const H = hs.reduce((a, x) => a + x, 0);
  const out = new Float32Array(N * B * H);
  let offset = 0;
  perVar.forEach((v, vi) => {
    const size = v.shape.reduce((a, x) => a * x, 1);
    const a = v.batchAxis;
    // Strides of the var's C-order layout; the element (b, rest) → flat index.
    const inner = a === undefined ? size : v.shape.slice(a + 1).reduce((p, x) => p * x, 1);
    const outerCount = a === undefined ? 1 : v.shape.slice(0, a).reduce((p, x) => p * x, 1);
    for (let t = 0; t < N; t++) {
      for (let b = 0; b < (a === undefined ? 1 : B); b++) {
        let h = 0;
        for (let o = 0; o < outerCount; o++) {
          const base = t * size + (a === undefined ? 0 : (o * B + b) * inner);
          for (let i = 0; i < inner; i++) out[(t * B + b) * H + offset + h++] = Number(v.data[base + i]);
        }
      }
      if (a === undefined && B > 1) {
        // No batch axis: the same state for every batch element.
        for (let b = 1; b < B; b++) out.copyWithin((t * B + b) * H + offset, (t * B) * H + offset, (t * B) * H + offset + hs[vi]);
      }
    }
    offset += hs[vi];
  });
  return { data: out, H };
}

/**
 * One-hot seed rows for the exact Jacobian: row j is 1 at state unit j of every batch element,
 * laid out per var as [S, ...shape_v] (S = H, the flattened units).
 */
export function exactStateSeeds(shapes: number[][], batchAxes: (number | undefined)[], B: number): { count: number; perVar: Float32Array[] } {
  const hs = shapes.map((s, vi) => s.reduce((a, x) => a * x, 1) / (batchAxes[vi] === undefined ? 1 : B));
  const S = hs.reduce((a, x) => a + x, 0);
  let offset = 0;
  const perVar = shapes.map((shape, vi) => {
    const size = shape.reduce((a, x) => a * x, 1);
    const a = batchAxes[vi];
    const data = new Float32Array(S * size);
    const inner = a === undefined ? size : shape.slice(a + 1).reduce((p, x) => p * x, 1);
    const outerCount = a === undefined ? 1 : shape.slice(0, a).reduce((p, x) => p * x, 1);
    for (let b = 0; b < (a === undefined ? 1 : B); b++) {
      let h = 0;
      for (let o = 0; o < outerCount; o++) {
        for (let i = 0; i < inner; i++) {
          const flat = a === undefined ? i : (o * B + b) * inner + i;
          data[(offset + h) * size + flat] = 1;
          h++;
        }
      }
    }
    offset += hs[vi];
    return data;
  });
  return { count: S, perVar };
}
