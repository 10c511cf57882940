/**
 * The analysis graph: the instrumented forward pass (forwardTaps.ts) extended with the
 * objective and the backward pass — one reverse sweep over the gradient path, vector-Jacobian
 * rules for ordinary ops (rules.ts) and BPTT for recurrent nodes (bptt.ts), contributions to a
 * tensor summed. Recurrent layers off the path still get their Jacobian norms (they do not
 * depend on the objective) and zero gradients.
 */
import { FedValue, GraphBuilder, makeModel } from '../../onnx/builder';
import { tensorDims, tensorValues } from '../../onnx/model';
import { GraphProto, ModelProto, TensorProto } from '../../onnx/proto';
import { attrTensor } from '../../onnx/attributes';
import { ForwardTapGraph, directionNames } from '../forwardTaps';
import { RecurrentLayer } from '../recurrent';
import { BackwardResults, BpttResult, emitBptt, JacobianRows, JacobianSeeds, scaledStepNorm } from './bptt';
import { GradientPath, isRecurrent } from './gradientPath';
import { emitObjective, ObjectiveSpec } from './objective';
import { VjpContext } from './vjp';
import { VJP_RULES } from './rules';
import { emitIteratedBackward, InnerLayerResult, StateResult } from '../iterated/backward';
import type { IteratedPlan } from '../iterated/plan';

export interface BackwardInputs {
  /** The lowered runtime graph (without taps). */
  graph: GraphProto;
  opset: number;
  layers: RecurrentLayer[];
  /** Per layer, its node's index in `graph`. */
  layerNodes: number[];
  path: GradientPath;
  /** The tap graph, to extend. */
  taps: ForwardTapGraph;
  /** Runtime dims and element types of the forward values tapped from the model's run. */
  shapes: Map<string, number[]>;
  elemTypes: Map<string, number>;
  seqLens: number[];
  batches: number[];
  /** Per layer, whether some batch element has fewer than seqLens[k] steps (sequence_lens). */
  padded: boolean[];
  objective: ObjectiveSpec & { output: string };
  timeAxis?: number;
  /** Jacobian seeds per layer and direction (undefined: --jacobian off). */
  seeds: (JacobianSeeds | undefined)[][];
  /** Loop/Scan nodes the backward goes through or that hold layers, by index in `graph`. */
  iterated?: Map<number, IteratedPlan>;
  /** Streaming: the objective's output stacks N calls (see emitObjective). */
  calls?: { N: number; innerAxis?: number };
}

/** Output names for a state recurrence: dL/d(each carried value after each iteration) [N, ...shape], Jacobian rows [N, 1 + S, 1, 1]. */
export interface StateOutputs {
  grads: string[];
  jacobian?: { rows: string; divisors: string; seeds: number };
}

/** Output names of the analysis graph for one layer-direction's backward results. */
export interface BackwardOutputs {
  gradHidden: string;
  gradCell?: string;
  /** The Jacobian seed rows' per-step norms and divisors (bptt.ts), when there are seeds. */
  jacobian?: JacobianRows;
  W: string;
  R: string;
  B: string;
  P?: string;
  /**
   * ‖dL/dX_t‖ over (B, I) of the gradient this direction sends into the layer's input X, as two [T]
   * factors, max_t and ‖dX_t / max_t‖ (their product in float64: the squares of values below 1e-19
   * would underflow float32).
   */
  inputGradNorm: { max: string; scaled: string };
}

export interface AnalysisGraph {
  proto: ModelProto;
  /** Forward values the graph reads, by their model names (feed them from the model's run). */
  feeds: string[];
  /** Values the graph takes as inputs rather than initializers (Jacobian seeds): feed them as they are. */
  fed: Map<string, FedValue>;
  objectiveValue: string;
  backward: BackwardOutputs[][];
  /** Indices in proto.graph.node of the BPTT Scans (the recurrences stagedRun may chunk). */
  recurrenceNodes: number[];
  /** Indices of the reverse Scans over Loop/Scan iterations (chunked when they have many iterations). */
  iterationNodes: number[];
  /** Per Loop/Scan node (index in the model's graph) with a state recurrence: its outputs. */
  states: Map<number, StateOutputs>;
  /** Output names of dL/d(input) per graph input the gradient reaches (embeddings: of the looked-up rows). */
  inputGrads: { input: string; output: string; kind: 'float' | 'embedding' }[];
}

export function buildAnalysisGraph(inp: BackwardInputs): AnalysisGraph {
  const b = inp.taps.builder;
  const g = inp.graph;
  const initializers = new Map(g.initializer.map((t) => [t.name ?? '', t]));
  const constantNodes = new Map<string, TensorProto>();
  for (const n of g.node) if (n.op_type === 'Constant') { const t = attrTensor(n, 'value'); if (t) constantNodes.set(n.output[0], t); }
  const feeds = new Set<string>();
  const copied = new Map<string, string>();

  const ctx: VjpContext = {
    b,
    opset: inp.opset,
    value(tensor) {
      const init = initializers.get(tensor) ?? constantNodes.get(tensor);
      if (init) {
        let name = copied.get(tensor);
        if (!name) {
          name = b.fresh('fwd_const');
          b.initializers.push({ ...init, name });
          copied.set(tensor, name);
        }
        return name;
      }
      if (!inp.shapes.has(tensor)) throw new Error(`internal error: forward value '${tensor}' was not tapped`);
      if (!feeds.has(tensor)) {
        feeds.add(tensor);
        b.input(tensor, inp.elemTypes.get(tensor) ?? 1, inp.shapes.get(tensor)!);
      }
      return tensor;
    },
    shape(tensor) {
      const init = initializers.get(tensor) ?? constantNodes.get(tensor);
      if (init) return tensorDims(init);
      const s = inp.shapes.get(tensor);
      if (!s) throw new Error(`internal error: no runtime shape for '${tensor}'`);
      return s;
    },
    elemType(tensor) {
      const init = initializers.get(tensor) ?? constantNodes.get(tensor);
      return init ? init.data_type : inp.elemTypes.get(tensor) ?? 1;
    },
    constant(tensor) {
      return initializers.get(tensor) ?? constantNodes.get(tensor);
    },
    constantInts(tensor) {
      const t = initializers.get(tensor) ?? constantNodes.get(tensor);
      if (!t) return undefined;
      return Array.from(tensorValues(t, '') as ArrayLike<number | bigint>, Number);
    },
  };

  // Objective and seed.
  const y = ctx.value(inp.objective.output);
  const objective = emitObjective(b, inp.objective, y, ctx.shape(inp.objective.output), inp.timeAxis, inp.calls);
  b.opInto('Identity', [objective.value], ['objective_value']);
  b.output('objective_value');

  const grads = new Map<string, string[]>();
  const addGrad = (tensor: string, value: string | undefined) => {
    if (!tensor || !value) return;
    grads.set(tensor, [...(grads.get(tensor) ?? []), value]);
  };
  const gradOf = (tensor: string): string | undefined => {
    const list = grads.get(tensor);
    if (!list || list.length === 0) return undefined;
    if (list.length === 1) return list[0];
    const sum = b.op('Sum', list);
    grads.set(tensor, [sum]);
    return sum;
  };
  addGrad(inp.objective.output, objective.seed);

  const layerOfNode = new Map(inp.layerNodes.map((nodeIndex, k) => [inp.layers[k].container ? -1 - k : nodeIndex, k]));
  const results: (BpttResult[] | undefined)[] = inp.layers.map(() => undefined);
  const runBptt = (k: number, dY?: string, dYh?: string, dYc?: string): BpttResult[] => {
    const layer = inp.layers[k];
    const tapIn = inp.taps.inputs[k];
    return directionNames(layer).map((dir, d) => emitBptt(b, {
      layer, k, d, T: inp.seqLens[k], B: inp.batches[k], internals: inp.taps.internals[k][d], X: tapIn.X,
      gradY: dY ? b.pick(dY, d, 1) : undefined,
      gradFinalH: dYh ? b.pick(dYh, d, 0) : undefined,
      gradFinalC: dYc ? b.pick(dYc, d, 0) : undefined,
      seeds: inp.seeds[k][d], padded: inp.padded[k],
    }));
  };

  // Loop/Scan nodes: a reverse Scan over their iterations (iterated/backward.ts).
  const innerResults = new Map<number, InnerLayerResult>();
  const stateResults = new Map<number, StateResult>();
  const iteratedScans: string[] = [];
  const runIterated = (plan: IteratedPlan, dOuts: (string | undefined)[]) => {
    const N = plan.N;
    const res = emitIteratedBackward({
      b, outer: ctx, spec: plan.spec, paths: plan.paths, N, shapes: plan.shapes, elemTypes: plan.elemTypes, dOuts,
      tap: (t) => { const name = plan.tapNames.get(t); return name ? ctx.value(name) : undefined; },
      wanted: (name) => inp.path.tensors.has(name),
      inner: plan.layers.map((k) => ({
        k, layer: inp.layers[k], bodyIndex: inp.layerNodes[k], T: inp.seqLens[k] / N, B: inp.batches[k],
        internals: inp.taps.internals[k][0], X: inp.taps.inputs[k].X, seeds: inp.seeds[k][0],
      })),
      state: plan.state,
      tag: `it${plan.index}`,
    });
    for (const [name, grad] of res.grads) addGrad(name, grad);
    if (res.state) stateResults.set(plan.index, res.state);
    plan.layers.forEach((k, j) => innerResults.set(k, res.inner[j]));
    iteratedScans.push(res.scanOutput);
  };
  const iteratedDone = new Set<number>();

  for (const i of [...inp.path.nodes].reverse()) {
    const node = g.node[i];
    const dOuts = node.output.map((o) => (o ? gradOf(o) : undefined));
    const plan = inp.iterated?.get(i);
    if (plan) {
      runIterated(plan, dOuts);
      iteratedDone.add(i);
      continue;
    }
    if (dOuts.every((x) => x === undefined)) continue;
    if (isRecurrent(node)) {
      const k = layerOfNode.get(i);
      if (k === undefined) continue; // a skipped layer (weights computed at run time)
      const res = runBptt(k, dOuts[0], dOuts[1], dOuts[2]);
      results[k] = res;
      const wanted = (t: string | undefined) => !!t && inp.path.tensors.has(t);
      if (wanted(node.input[0])) addGrad(node.input[0], res.length === 1 ? res[0].dX() : b.add(res[0].dX(), res[1].dX()));
      const stack = (xs: (string | undefined)[]) => b.concat(xs.map((x) => b.unsqueeze(x!, [0])), 0);
      if (wanted(node.input[5])) addGrad(node.input[5], stack(res.map((r) => r.dInitialH)));
      if (node.op_type === 'LSTM' && wanted(node.input[6])) addGrad(node.input[6], stack(res.map((r) => r.dInitialC)));
      continue;
    }
    const rule = VJP_RULES[node.op_type];
    const wanted = node.input.map((t) => !!t && inp.path.tensors.has(t));
    const dIns = rule(node, dOuts, ctx, wanted);
    node.input.forEach((t, j) => { if (wanted[j]) addGrad(t, dIns[j]); });
  }

  // Loop/Scan nodes off the path still measure their layers' Jacobians.
  for (const [i, plan] of inp.iterated ?? []) if (!iteratedDone.has(i) && (plan.layers.length || plan.state)) runIterated(plan, []);
  // State recurrences' per-iteration adjoints and Jacobian rows, as graph outputs.
  const states = new Map<number, StateOutputs>();
  for (const [i, res] of stateResults) {
    const named = (value: string, what: string) => b.expose(value, `S${i}_bw_${what}`);
    states.set(i, {
      grads: res.grads.map((g, v) => named(g, `grad${v}`)),
      jacobian: res.jacobian && { rows: named(res.jacobian.rows, 'jacRows'), divisors: named(res.jacobian.divisors, 'jacDivisors'), seeds: res.jacobian.seeds },
    });
  }

  // One layer-direction's backward results as graph outputs named L<k>_d<d>_bw_<what>.
  const exposed = (k: number, d: number, r: BackwardResults, inputGradNorm: (out: (v: string, what: string) => string) => BackwardOutputs['inputGradNorm']): BackwardOutputs => {
    const out = (value: string | undefined, what: string) => (value ? b.expose(value, `L${k}_d${d}_bw_${what}`) : undefined);
    return {
      gradHidden: out(r.gradHidden, 'gradHidden')!, gradCell: out(r.gradCell, 'gradCell'),
      jacobian: r.jacobian && {
        hiddenRows: out(r.jacobian.hiddenRows, 'jacHiddenRows')!, stateRows: out(r.jacobian.stateRows, 'jacStateRows'),
        divisors: out(r.jacobian.divisors, 'jacDivisors')!, cellRows: out(r.jacobian.cellRows, 'jacCellRows'),
        hiddenSeeds: r.jacobian.hiddenSeeds, cellSeeds: r.jacobian.cellSeeds,
      },
      W: out(r.dW, 'dW')!, R: out(r.dR, 'dR')!, B: out(r.dB, 'dB')!, P: out(r.dP, 'dP'),
      inputGradNorm: inputGradNorm((v, what) => out(v, what)!),
    };
  };
  const backward: BackwardOutputs[][] = inp.layers.map((layer, k) => {
    const inner = innerResults.get(k);
    if (layer.container) {
      if (!inner) throw new Error(`internal error: no backward for layer ${k} in a loop body`);
      return [exposed(k, 0, inner, (out) => ({ max: out(inner.inputGradNorm.max, 'dXmax'), scaled: out(inner.inputGradNorm.scaled, 'dXscaled') }))];
    }
    const res = (results[k] ??= runBptt(k));
    return res.map((r, d) => exposed(k, d, r, (out) => scaledStepNorm(b, r.dX(), out)));
  });
  const inputGrads: AnalysisGraph['inputGrads'] = [];
  inp.path.inputs.forEach((x, i) => {
    const g = gradOf(x.tensor);
    if (!g) return;
    inputGrads.push({ input: x.input, output: b.expose(g, `input_grad_${i}`), kind: x.kind });
  });
  const scanOutputs = new Set(results.flatMap((r) => (r ?? []).map((x) => x.scanOutput)));
  const recurrenceNodes = b.nodes.map((n, i) => (scanOutputs.has(n.output[0]) ? i : -1)).filter((i) => i >= 0);
  const iterationScans = new Set(iteratedScans);
  const iterationNodes = b.nodes.map((n, i) => (iterationScans.has(n.output[0]) ? i : -1)).filter((i) => i >= 0);
  return { proto: makeModel(b.graph('gradient_lens_analysis')), feeds: [...feeds], fed: b.fed, objectiveValue: 'objective_value', backward, recurrenceNodes, iterationNodes, inputGrads, states };
}
