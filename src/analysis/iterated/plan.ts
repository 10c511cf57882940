/**
 * The pipeline's side of Loop/Scan nodes: which ones the analysis goes through, what their
 * bodies must tap, and each inner recurrent layer's forward values over all iterations.
 */
import { AnalysisError } from '../../onnx/errors';
import { printable } from '../../onnx/files';
import { GraphProto } from '../../onnx/proto';
import { ONNX_ELEM_TYPE, WireTensor } from '../../runtime/protocol';
import { GradientPath } from '../backward/gradientPath';
import { VJP_RULES } from '../backward/rules';
import { LayerTaps } from '../modelGraph';
import { RecurrentLayer } from '../recurrent';
import { bodyPaths, BodyPaths } from './bodyPath';
import { describeIterated, isIterated, IteratedSpec } from './spec';
import { exactStateSeeds, StateLayer, stateBatchAxis } from './stateLayers';
import type { StatePlan } from './backward';
import { SeededRandom } from '../../inputs/random';

export interface IteratedPlan {
  /** Index of the node in the lowered main graph. */
  index: number;
  spec: IteratedSpec;
  paths: BodyPaths;
  /** Body tensors to tap every iteration. */
  taps: string[];
  /** Indices of the analysed layers inside its body. */
  layers: number[];
  /** The state recurrence of its carried values, if any, and (after the run) how it is seeded. */
  stateLayer?: StateLayer;
  state?: StatePlan & StateShape;
  /** After the model's run (bind): iterations, the tap outputs, per-iteration shapes and element types. */
  N: number;
  tapNames: Map<string, string>;
  shapes: Map<string, number[]>;
  elemTypes: Map<string, number>;
  bind(tapNames: Map<string, string>, outputs: Record<string, WireTensor>): void;
}

/** What a Loop/Scan node's body holds: analysed recurrent layers (their indices) and a state recurrence. */
export interface Holding {
  layers: number[];
  state?: StateLayer;
}

/** The Loop/Scan nodes (by index in the lowered graph) whose bodies hold analysed layers or a state recurrence. */
export function iteratedHolding(lowered: GraphProto, layers: RecurrentLayer[], original: GraphProto, stateLayers: StateLayer[] = []): Map<number, Holding> {
  const out = new Map<number, Holding>();
  lowered.node.forEach((n, i) => {
    if (!isIterated(n)) return;
    const same = (index: number) => original.node[index].output[0] === n.output[0];
    const ks = layers.map((l, k) => (l.container && same(l.container.nodeIndex) ? k : -1)).filter((k) => k >= 0);
    const state = stateLayers.find((s) => same(s.container.nodeIndex));
    if (ks.length || state) out.set(i, { layers: ks, state });
  });
  return out;
}

/** Every Loop/Scan node the backward pass goes through or that holds layers, with its body's paths and taps. */
export function planIterated(lowered: GraphProto, path: GradientPath, holds: Map<number, Holding>, opset: number, modelName: string): Map<number, IteratedPlan> {
  const plans = new Map<number, IteratedPlan>();
  const onPath = new Set(path.nodes);
  lowered.node.forEach((node, index) => {
    if (!isIterated(node) || !(onPath.has(index) || holds.has(index))) return;
    const spec = describeIterated(node, index, opset);
    const paths = bodyPaths(spec, path.tensors, (op) => op in VJP_RULES, modelName);
    // Besides what the rules read: carried values and per-iteration inputs (their shapes, and the iteration count).
    const taps = new Set(paths.needed);
    for (const i of paths.floatCarried) { taps.add(spec.carried[i].bodyIn); taps.add(spec.carried[i].bodyOut); }
    for (const s of spec.scanIns) taps.add(s.bodyIn);
    for (const s of spec.scanOuts) taps.add(s.bodyOut);
    const stateLayer = holds.get(index)?.state;
    for (const g of Object.values(stateLayer?.cell?.gates ?? {})) taps.add(g);
    const plan: IteratedPlan = {
      index, spec, paths, taps: [...taps], layers: holds.get(index)?.layers ?? [], stateLayer, N: 0, tapNames: new Map(), shapes: new Map(), elemTypes: new Map(),
      bind(tapNames, outputs) {
        plan.tapNames = tapNames;
        let N = -1;
        for (const [tensor, name] of tapNames) {
          const v = outputs[name];
          plan.shapes.set(tensor, v.dims.slice(1));
          plan.elemTypes.set(tensor, ONNX_ELEM_TYPE[v.type]);
          N = v.dims[0];
        }
        if (N === 0) throw new AnalysisError(`${modelName}: ${spec.kind} '${printable(spec.label)}' ran no iterations for these inputs, so there is nothing to analyse across them; give it inputs that make it iterate.`);
        plan.N = Math.max(0, N);
      },
    };
    plans.set(index, plan);
  });
  return plans;
}

/** A recurrent layer inside a body must be unidirectional forward without sequence_lens: say so before anything runs. */
export function checkInnerLayers(layers: RecurrentLayer[]): void {
  for (const l of layers) {
    if (!l.container) continue;
    const where = `${l.op} node '${printable(l.name)}' (in the body of '${printable(l.container.label)}')`;
    if (l.direction !== 'forward') throw new AnalysisError(`${where} runs ${l.direction}; inside a Loop/Scan body Gradient Lens analyses forward layers only, whose steps continue across iterations.`);
    if (l.inputs.sequenceLens) throw new AnalysisError(`${where} has sequence_lens; inside a Loop/Scan body Gradient Lens analyses layers without it.`);
  }
}

/** A layer's forward values as the tap graph reads them. */
export interface LayerRun {
  /** [T, B, I], T = all steps (iterations × steps per iteration for a layer in a body). */
  X: WireTensor;
  /** [T, D, B, H] */
  Y: WireTensor;
  /** [D, B, H]; per step [T, D, B, H] for a layer in a body (each iteration's initial state at its first step). */
  initialH?: WireTensor;
  initialC?: WireTensor;
  sequenceLens?: WireTensor;
  /** For a layer in a body: the first step of every iteration. */
  starts?: number[];
  /** For a layer in a body: iterations and steps per iteration. */
  iterations?: { N: number; T: number };
}

export function layerRuns(layers: RecurrentLayer[], taps: LayerTaps[], outputs: Record<string, WireTensor>, modelName: string): LayerRun[] {
  return layers.map((layer, k) => {
    const t = taps[k];
    const get = (name: string | undefined) => (name ? outputs[name] : undefined);
    if (!layer.container) {
      return { X: outputs[t.X], Y: outputs[t.Y], initialH: get(t.initialH), initialC: get(t.initialC), sequenceLens: get(t.sequenceLens) };
    }
    // Stacked per iteration: X [N, T, B, I], Y [N, T, D, B, H], initial states [N, D, B, H].
    const X = outputs[t.X];
    const [N, T, B, I] = X.dims;
    if (T === 0) throw new AnalysisError(`${modelName}: ${layer.op} node '${printable(layer.name)}' runs 0 steps per iteration.`);
    const Y = outputs[t.Y];
    const perStep = (v: WireTensor | undefined): WireTensor | undefined => {
      if (!v) return undefined;
      const block = v.dims.slice(1).reduce((a, x) => a * x, 1);
      const data = new Float32Array(N * T * block);
      const src = v.data as Float32Array;
      for (let n = 0; n < N; n++) data.set(src.subarray(n * block, (n + 1) * block), n * T * block);
      return { type: 'float32', dims: [N * T, ...v.dims.slice(1)], data };
    };
    return {
      X: { ...X, dims: [N * T, B, I] },
      Y: { ...Y, dims: [N * T, ...Y.dims.slice(2)] },
      initialH: perStep(get(t.initialH)), initialC: perStep(get(t.initialC)),
      starts: Array.from({ length: N }, (_, n) => n * T),
      iterations: { N, T },
    };
  });
}

/** How a state recurrence's values are laid out: per var its shape and batch axis; B and the flattened H. */
export interface StateShape {
  shapes: number[][];
  batchAxes: (number | undefined)[];
  B: number;
  H: number;
  /** Probes used for its Jacobian (undefined: exact). */
  probes?: number;
}

/**
 * After the run: the state recurrence's layout and Jacobian seeds — exact one-hot rows while
 * B·H ≤ exactMax, else `probes` Gaussian rows (or as `mode` says).
 */
export function planState(plan: IteratedPlan, B: number, mode: 'auto' | 'exact' | 'off' | { probes: number }, exactMax: number, autoProbes: number, seed: number): void {
  const layer = plan.stateLayer;
  if (!layer) return;
  const shapes = layer.vars.map((ci) => plan.shapes.get(plan.spec.carried[ci].bodyOut)!);
  // Known from the model's symbolic dims (streaming: the state input shares its batch dim with the data), else by shape.
  const batchAxes = shapes.map((sh, vi) => {
    const known = layer.batchAxes?.[vi];
    return known !== undefined ? known : stateBatchAxis(sh, B);
  });
  const knownB = layer.batchAxes?.map((a, vi) => (a === undefined ? undefined : shapes[vi][a])).find((x) => x !== undefined);
  if (knownB !== undefined) B = knownB;
  else {
    // A loop's per-iteration data ([B, I] slices of the input) shares its batch size with the state ([B, H]).
    const data = dataBatchSizes(plan);
    const axes = shapes.map((sh) => stateAxisOf(sh, data));
    const b = axes.map((a, vi) => (a === undefined ? undefined : shapes[vi][a])).find((x) => x !== undefined);
    if (b !== undefined && b > 1) {
      B = b;
      axes.forEach((a, vi) => { batchAxes[vi] = a; });
    }
  }
  const hasBatch = batchAxes.some((a) => a !== undefined);
  const Bs = hasBatch ? B : 1;
  const H = shapes.reduce((a, sh, vi) => a + sh.reduce((p, x) => p * x, 1) / (batchAxes[vi] === undefined ? 1 : Bs), 0);
  const shape: StateShape = { shapes, batchAxes: hasBatch ? batchAxes : shapes.map(() => undefined), B: Bs, H };
  let seeds: StatePlan['seeds'];
  const probes = mode === 'off' || mode === 'exact' ? undefined : mode === 'auto' ? (Bs * H > exactMax ? autoProbes : undefined) : mode.probes;
  if (mode !== 'off') {
    if (probes) {
      const perVar = shapes.map((sh, vi) => SeededRandom.forInput(seed, `jacobian/${layer.name}/${vi}`).normal(probes * sh.reduce((p, x) => p * x, 1)));
      seeds = { count: probes, probes: true, perVar };
    } else {
      const exact = exactStateSeeds(shapes, shape.batchAxes, Bs);
      seeds = { count: exact.count, probes: false, perVar: exact.perVar };
    }
  }
  plan.state = { vars: layer.vars, seeds, ...shape, probes };
}

/** Leading sizes of a loop's per-iteration data: its Scan inputs, and what its body Gathers from the enclosing graph (x[:, t]). */
function dataBatchSizes(plan: IteratedPlan): Set<number> {
  const out = new Set<number>();
  const add = (shape: number[] | undefined) => { if (shape && shape.length >= 2) out.add(shape[0]); };
  for (const si of plan.spec.scanIns) add(plan.shapes.get(si.bodyIn));
  const defined = new Set([...plan.spec.body.input.map((v) => v.name), ...plan.spec.body.node.flatMap((n) => n.output)]);
  for (const n of plan.spec.body.node) if (n.op_type === 'Gather' && !defined.has(n.input[0])) add(plan.shapes.get(n.output[0]));
  return out;
}

/** The axis of a state of `shape` whose size is one of the data's batch sizes (the conventional place first). */
function stateAxisOf(shape: number[], sizes: Set<number>): number | undefined {
  const hits = shape.map((d, a) => (sizes.has(d) ? a : -1)).filter((a) => a >= 0);
  if (hits.length === 0) return undefined;
  const preferred = shape.length === 3 ? 1 : 0;
  return hits.includes(preferred) ? preferred : hits[0];
}
