/**
 * Loop and Scan nodes as Gradient Lens analyses them: one step function (the body) applied N
 * times, with carried state, per-iteration inputs and per-iteration outputs (SPEC v2 §9.1).
 * A streaming model run for N calls is wrapped into the same shape (streaming.ts), so one
 * mechanism covers recurrent nodes inside bodies, Loop/Scan carried state and state carried
 * across calls.
 *
 * The forward pass runs the node as exported, with extra per-iteration outputs (taps) that stack
 * the body values the backward pass reads; the backward pass is a reverse Scan over the
 * iterations whose body is the backward of the step (backward.ts).
 */
import { attrInt, attrInts } from '../../onnx/attributes';
import { AnalysisError } from '../../onnx/errors';
import { printable } from '../../onnx/files';
import { nodeLabel } from '../../onnx/graphs';
import { AttributeProto, GraphProto, NodeProto } from '../../onnx/proto';

/** A carried value: body input → body output, initial value from outside, final value to outside. */
export interface Carried {
  bodyIn: string;
  bodyOut: string;
  /** The node input with the initial value ('' when a Loop leaves it unset). */
  outerIn: string;
  /** The node output with the final value ('' when unused). */
  outerOut: string;
}

/** A per-iteration input (Scan): slice `i` (or N−1−i when reversed) of `outerIn` along `axis`. */
export interface ScanIn {
  bodyIn: string;
  outerIn: string;
  axis: number;
  reverse: boolean;
}

/** A per-iteration output: the body output of every iteration, stacked along `axis` (reversed when `reverse`). */
export interface ScanOut {
  bodyOut: string;
  outerOut: string;
  axis: number;
  reverse: boolean;
}

export interface IteratedSpec {
  /** Index of the node in the (lowered) main graph. */
  nodeIndex: number;
  node: NodeProto;
  label: string;
  kind: 'Loop' | 'Scan';
  body: GraphProto;
  carried: Carried[];
  scanIns: ScanIn[];
  scanOuts: ScanOut[];
  /** Loop only: the body's iteration-number and condition inputs, and its condition output. */
  loop?: { iter: string; cond: string; condOut: string };
}

export function isIterated(n: NodeProto): boolean {
  return (n.op_type === 'Loop' || n.op_type === 'Scan') && (!n.domain || n.domain === 'ai.onnx');
}

/** The node's body graph (Loop/Scan keep it in the `body` attribute). */
export function bodyOf(n: NodeProto): GraphProto {
  const g = n.attribute.find((a) => a.name === 'body')?.g;
  if (!g) throw new AnalysisError(`${n.op_type} node '${printable(n.name ?? '')}' has no body; the model is corrupt.`);
  return g;
}

/** Describe a Loop (opset ≥ 1) or Scan (opset ≥ 9) node at `nodeIndex` of the main graph. */
export function describeIterated(node: NodeProto, nodeIndex: number, opset: number): IteratedSpec {
  const label = nodeLabel(node, nodeIndex);
  const body = bodyOf(node);
  const bIn = body.input.map((v) => v.name);
  const bOut = body.output.map((v) => v.name);
  if (node.op_type === 'Loop') {
    // Inputs (M, cond, v_initial…); body (iter, cond, v…) → (cond, v…, scan…); outputs (v_final…, scan…).
    const nCarried = Math.max(0, node.input.length - 2);
    if (bIn.length !== nCarried + 2 || bOut.length < nCarried + 1) {
      throw new AnalysisError(`Loop node '${printable(label)}': its body has ${bIn.length} inputs and ${bOut.length} outputs for ${nCarried} carried values; the model is corrupt.`);
    }
    const carried = Array.from({ length: nCarried }, (_, i) => ({
      bodyIn: bIn[2 + i], bodyOut: bOut[1 + i], outerIn: node.input[2 + i] ?? '', outerOut: node.output[i] ?? '',
    }));
    const scanOuts = bOut.slice(1 + nCarried).map((o, j) => ({ bodyOut: o, outerOut: node.output[nCarried + j] ?? '', axis: 0, reverse: false }));
    return { nodeIndex, node, label, kind: 'Loop', body, carried, scanIns: [], scanOuts, loop: { iter: bIn[0], cond: bIn[1], condOut: bOut[0] } };
  }
  if (opset < 9) throw new AnalysisError(`Scan node '${printable(label)}' uses the opset-8 form (with a batch axis); re-export the model with opset 9 or later.`);
  const nScanIn = attrInt(node, 'num_scan_inputs', 0);
  const nCarried = node.input.length - nScanIn;
  const inDirs = attrInts(node, 'scan_input_directions') ?? [];
  const inAxes = attrInts(node, 'scan_input_axes') ?? [];
  const outDirs = attrInts(node, 'scan_output_directions') ?? [];
  const outAxes = attrInts(node, 'scan_output_axes') ?? [];
  if (nCarried < 0 || bIn.length !== node.input.length || bOut.length < nCarried) {
    throw new AnalysisError(`Scan node '${printable(label)}': its body's inputs and outputs do not match the node's ${nCarried} states and ${nScanIn} scan inputs; the model is corrupt.`);
  }
  const carried = Array.from({ length: nCarried }, (_, i) => ({ bodyIn: bIn[i], bodyOut: bOut[i], outerIn: node.input[i], outerOut: node.output[i] ?? '' }));
  const scanIns = Array.from({ length: nScanIn }, (_, j) => ({
    bodyIn: bIn[nCarried + j], outerIn: node.input[nCarried + j], axis: inAxes[j] ?? 0, reverse: (inDirs[j] ?? 0) === 1,
  }));
  const scanOuts = bOut.slice(nCarried).map((o, j) => ({
    bodyOut: o, outerOut: node.output[nCarried + j] ?? '', axis: outAxes[j] ?? 0, reverse: (outDirs[j] ?? 0) === 1,
  }));
  return { nodeIndex, node, label, kind: 'Scan', body, carried, scanIns, scanOuts };
}

/**
 * A copy of the node whose body also outputs `taps` (body tensors, or outer-scope values the
 * body reads) every iteration, stacked on axis 0 in iteration order as new node outputs named
 * `outputs`. The body gets `extraNodes` first (e.g. layout-0 lowering of its recurrent nodes).
 */
export function withTaps(spec: IteratedSpec, body: GraphProto, taps: string[], outputs: string[], fresh: (hint: string) => string): NodeProto {
  const idNodes: NodeProto[] = taps.map((t, i) => ({
    op_type: 'Identity', input: [t], output: [fresh(`tapbody_${i}`)], name: fresh('n_tapbody'), attribute: [], domain: '',
  }));
  const newBody: GraphProto = {
    ...body,
    node: [...body.node, ...idNodes],
    output: [...body.output, ...idNodes.map((n) => ({ name: n.output[0] }))],
  };
  const node = spec.node;
  const attribute: AttributeProto[] = node.attribute.map((a) => (a.name === 'body' ? { ...a, g: newBody } : a));
  if (spec.kind === 'Scan') {
    // Stacked forward along axis 0, whatever the model's own outputs do.
    const extend = (name: string, fill: number) => {
      const a = attribute.find((x) => x.name === name);
      if (!a) return;
      const ints = [...(a.ints ?? [])];
      while (ints.length < spec.scanOuts.length) ints.push(0);
      a.ints = [...ints, ...taps.map(() => fill)];
    };
    for (let i = 0; i < attribute.length; i++) attribute[i] = { ...attribute[i] };
    extend('scan_output_directions', 0);
    extend('scan_output_axes', 0);
  }
  // Every output named (an unused one gets a fresh name): the taps follow them by position.
  const before = spec.carried.length + spec.scanOuts.length;
  const nodeOutputs = Array.from({ length: before }, (_, i) => node.output[i] || fresh('unused'));
  return { ...node, attribute, output: [...nodeOutputs, ...outputs] };
}
