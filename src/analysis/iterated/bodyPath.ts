/**
 * Which parts of a Loop/Scan body the backward pass goes through (the body's analogue of
 * backward/gradientPath.ts):
 *
 * - the gradient path: body nodes through which the objective's adjoint flows from the carried
 *   outputs and per-iteration outputs back to the carried inputs, the per-iteration inputs, the
 *   outer values the body reads, and the recurrent nodes inside;
 * - the state path: body nodes between carried inputs and carried outputs, which the Jacobian's
 *   seed rows travel through from one iteration to the one before;
 * - which carried values belong to a recurrent node inside (they reach its initial_h/initial_c:
 *   the node's layer covers them) and which form a state recurrence of their own (op "state").
 */
import { AnalysisError } from '../../onnx/errors';
import { printable } from '../../onnx/files';
import { nodeLabel } from '../../onnx/graphs';
import { GraphProto } from '../../onnx/proto';
import { backFrom, FLOAT_TYPES, isRecurrent, liveFrom, reads } from '../backward/gradientPath';
import { IteratedSpec } from './spec';

export interface BodyPaths {
  /** Body node indices on the gradient path, in graph order. */
  nodes: number[];
  /** Tensors on the gradient path. */
  tensors: Set<string>;
  /** Body node indices on the state path, and its tensors. */
  stateNodes: Set<number>;
  stateTensors: Set<string>;
  /** Body indices of the recurrent nodes on the gradient path or the state path. */
  recurrent: number[];
  /** Indices into spec.carried of float carried values (the ones with an adjoint). */
  floatCarried: number[];
  /** Indices into spec.carried of the values that form a state recurrence (no recurrent node carries them). */
  stateVars: number[];
  /** Body tensors the backward reads (inputs and outputs of path nodes), to be tapped every iteration. */
  needed: string[];
  /** Outer-scope names the body reads on the gradient path (their gradients are summed over iterations). */
  outerReads: string[];
}

function isFloatValue(graph: GraphProto, name: string): boolean {
  const v = [...graph.input, ...graph.output].find((x) => x.name === name);
  const t = v?.type?.tensor_type?.elem_type;
  return t === undefined || FLOAT_TYPES.has(t);
}

/**
 * `outerLive`: outer-scope names that carry a gradient at the top level (float values on the
 * main graph's path); `supported(op)`: whether a backward rule exists.
 */
export function bodyPaths(spec: IteratedSpec, outerLive: Set<string>, supported: (op: string) => boolean, modelName: string): BodyPaths {
  const body = spec.body;
  const producer = new Map<string, number>();
  body.node.forEach((n, i) => n.output.forEach((o) => { if (o) producer.set(o, i); }));
  const inits = new Set(body.initializer.map((t) => t.name ?? ''));
  const defined = new Set<string>([...body.input.map((v) => v.name), ...inits, ...producer.keys()]);

  const floatCarried = spec.carried.map((c, i) => (isFloatValue(body, c.bodyIn) ? i : -1)).filter((i) => i >= 0);
  const carriedIns = new Set(floatCarried.map((i) => spec.carried[i].bodyIn));
  const sources = new Set<string>([
    ...carriedIns,
    ...spec.scanIns.filter((s) => isFloatValue(body, s.bodyIn)).map((s) => s.bodyIn),
    ...[...outerLive].filter((n) => !defined.has(n)),
  ]);
  const targets = [
    ...floatCarried.map((i) => spec.carried[i].bodyOut),
    ...spec.scanOuts.filter((s) => isFloatValue(body, s.bodyOut)).map((s) => s.bodyOut),
  ];
  const all = liveFrom(body, sources, (i) => isRecurrent(body.node[i]), () => false);
  const onPath = new Set<number>();
  const tensors = new Set<string>();
  for (const t of targets) {
    const p = backFrom(body, t, all.live, all.liveNodes, producer);
    p.onPath.forEach((i) => onPath.add(i));
    p.tensors.forEach((x) => tensors.add(x));
  }
  const nodes = [...onPath].sort((a, b) => a - b);
  const unsupported = nodes.filter((i) => !isRecurrent(body.node[i]) && !supported(body.node[i].op_type));
  if (unsupported.length > 0) {
    const list = unsupported.map((i) => `'${printable(nodeLabel(body.node[i], i))}' (${body.node[i].op_type})`);
    throw new AnalysisError(`${modelName}: the gradient through the body of ${spec.kind} '${printable(spec.label)}' passes through ${list.length === 1 ? 'a node' : `${list.length} nodes`} Gradient Lens cannot differentiate: ${list.join(', ')}.`);
  }

  // The state path: from the carried inputs to the carried outputs (recurrent nodes pass it on through their initial states).
  const fromState = liveFrom(body, carriedIns, () => false, () => false);
  const stateNodes = new Set<number>();
  const stateTensors = new Set<string>();
  for (const i of floatCarried) {
    const p = backFrom(body, spec.carried[i].bodyOut, fromState.live, fromState.liveNodes, producer);
    p.onPath.forEach((n) => stateNodes.add(n));
    p.tensors.forEach((x) => stateTensors.add(x));
  }
  const recurrent = [...new Set([...nodes, ...stateNodes])].filter((i) => isRecurrent(body.node[i])).sort((a, b) => a - b);

  // A carried value is a recurrent node's when it reaches the node's initial states.
  const covered = floatCarried.filter((i) => {
    const live = liveFrom(body, new Set([spec.carried[i].bodyIn]), () => false, () => false).live;
    return recurrent.some((r) => [body.node[r].input[5], body.node[r].input[6]].some((x) => x && live.has(x)));
  });
  const uncovered = floatCarried.filter((i) => !covered.includes(i));
  const fromUncovered = liveFrom(body, new Set(uncovered.map((i) => spec.carried[i].bodyIn)), () => false, () => false);
  const stateVars = uncovered.filter((i) => fromUncovered.live.has(spec.carried[i].bodyOut) && spec.carried[i].bodyOut !== spec.carried[i].bodyIn);

  const needed = new Set<string>();
  for (const i of nodes) {
    const n = body.node[i];
    if (isRecurrent(n)) continue;
    for (const t of [...reads(n), ...n.output]) if (t && defined.has(t) && !inits.has(t)) needed.add(t);
  }
  for (const i of stateVars) needed.add(spec.carried[i].bodyOut);
  const outerReads = new Set<string>();
  for (const i of nodes) for (const t of reads(body.node[i])) if (t && !defined.has(t) && outerLive.has(t)) outerReads.add(t);
  return { nodes, tensors, stateNodes, stateTensors, recurrent, floatCarried, stateVars, needed: [...needed], outerReads: [...outerReads] };
}
