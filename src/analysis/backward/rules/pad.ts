/**
 * VJP rule of Pad (modes constant, reflect, edge, and wrap from opset 19).
 *
 * onnxruntime applies negative pads first (cropping the input) and then pads the cropped tensor,
 * so on each axis, with crop0 = max(0, −pb), crop1 = max(0, −pe), m = in − crop0 − crop1 kept
 * rows and pb⁺ = max(0, pb), pe⁺ = max(0, pe) added rows, output row j reads input row
 * crop0 + f(j − pb⁺), f the mode's map of r ∈ [−pb⁺, m + pe⁺) into [0, m):
 *   reflect: r < 0 → −r, r ≥ m → 2(m − 1) − r;   edge: clamp to [0, m − 1];
 *   wrap: r < 0 → r + m, r ≥ m → r − m;          constant: rows outside [0, m) read the value.
 * The map is separable over axes, so the backward pass handles one axis at a time.
 */
import { attrInts, attrString } from '../../../onnx/attributes';
import { AnalysisError } from '../../../onnx/errors';
import { DataType } from '../../../onnx/proto';
import { VjpRule } from '../vjp';
import { floatOutType, nodeLabel, none, normAxis, optionalInput, range, reshape } from './common';

/** Source row (into the uncropped axis) of each padded output row that is not a copy of its own kept row. */
function padRows(mode: string, inSize: number, pb: number, pe: number): { rows: number[]; sources: number[] } {
  const crop0 = Math.max(0, -pb);
  const m = inSize - crop0 - Math.max(0, -pe);
  const before = Math.max(0, pb);
  const after = Math.max(0, pe);
  const rows: number[] = [];
  const sources: number[] = [];
  const add = (j: number, r: number): void => {
    let f: number;
    if (mode === 'reflect') f = r < 0 ? -r : 2 * (m - 1) - r;
    else if (mode === 'edge') f = r < 0 ? 0 : m - 1;
    else f = r < 0 ? r + m : r - m; // wrap
    rows.push(j);
    sources.push(crop0 + f);
  };
  for (let j = 0; j < before; j++) add(j, j - before);
  for (let j = before + m; j < before + m + after; j++) add(j, j - before);
  return { rows, sources };
}

/**
 * Pad: pads from the `pads` attribute (opset < 11) or input (≥ 11), over all axes or, from
 * opset 18, the axes of the `axes` input.
 *   constant: dX = Pad(dY, −pads) (crop what was added, zero-fill what was cropped);
 *             dL/d(constant_value) = Σ dY − Σ dX, the gradient that landed on padding.
 *   reflect / edge / wrap, per padded axis: dX = Pad(dY, −pads) on that axis (the kept rows)
 *             + the padded rows of dY added into their source rows (ScatterElements, add) —
 *             edge rows all land on the first/last kept row, reflect rows on their mirror images.
 * The pads and axes inputs get no gradient, nor does Pad-2…10's `value` attribute. Runtime (non-constant) pads are supported in
 * constant mode over all axes; the other modes need constant pads and axes.
 */
const pad: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || t === undefined || !(wanted[0] || wanted[2])) return grads;
  const b = ctx.b;
  const xShape = ctx.shape(node.input[0]);
  const yShape = ctx.shape(node.output[0]);
  const rank = xShape.length;
  const mode = attrString(node, 'mode', 'constant');
  let pads: number[] | undefined;
  let runtimePads: string | undefined;
  if (ctx.opset < 11) {
    pads = attrInts(node, 'pads') ?? attrInts(node, 'paddings') ?? [];
  } else {
    pads = ctx.constantInts(node.input[1]);
    const axesIn = ctx.opset >= 18 ? optionalInput(node, 3) : undefined;
    const axes = axesIn ? ctx.constantInts(axesIn) : undefined;
    if (axesIn && !axes) {
      throw new AnalysisError(`${nodeLabel(node)} pads axes computed at run time ('${axesIn}'); Gradient Lens differentiates Pad only with constant axes, so make the axes an initializer or Constant.`);
    }
    if (!pads) {
      if (mode !== 'constant' || axesIn) {
        throw new AnalysisError(`${nodeLabel(node)} (mode '${mode}') has pads computed at run time ('${node.input[1]}'); Gradient Lens differentiates such a Pad only in constant mode over all axes, so make the pads an initializer or Constant.`);
      }
      let p = ctx.value(node.input[1]);
      if (ctx.elemType(node.input[1]) !== DataType.INT64) p = b.op('Cast', [p], { to: DataType.INT64 });
      runtimePads = b.op('Neg', [p]);
    } else if (axes) {
      // pads per listed axis → pads over every axis (0 on the others).
      const full = new Array<number>(2 * rank).fill(0);
      axes.forEach((a, i) => {
        const ax = normAxis(a, rank);
        full[ax] = pads![i];
        full[ax + rank] = pads![i + axes.length];
      });
      pads = full;
    }
  }
  const negated = pads?.map((p) => -p);
  if (mode === 'constant') {
    const dX = runtimePads ? b.op('Pad', [dY, runtimePads]) : negated!.every((p) => p === 0) ? dY : b.op('Pad', [dY, b.constI64(negated!)]);
    if (wanted[0]) grads[0] = dX;
    const value = ctx.opset >= 11 ? optionalInput(node, 2) : undefined;
    if (value && wanted[2]) {
      const total = (v: string): string => b.op('ReduceSum', [v], { keepdims: 0 });
      grads[2] = reshape(ctx, b.sub(total(dY), total(dX)), ctx.shape(value));
    }
    return grads;
  }
  if (!wanted[0]) return grads;
  if (mode !== 'reflect' && mode !== 'edge' && mode !== 'wrap') {
    throw new AnalysisError(`${nodeLabel(node)} uses Pad mode '${mode}', which Gradient Lens cannot differentiate; it handles constant, reflect, edge and wrap.`);
  }
  let g = dY;
  const shape = [...yShape];
  for (const a of range(0, rank)) {
    const pb = pads![a];
    const pe = pads![a + rank];
    if (pb === 0 && pe === 0) continue;
    const kept = Math.max(0, xShape[a] - Math.max(0, -pb) - Math.max(0, -pe));
    if (mode === 'wrap' && (pb > kept || pe > kept)) {
      // onnxruntime's wrap repeats the input at most once per side: wider pads are not a plain wrap-around.
      throw new AnalysisError(`${nodeLabel(node)} wrap-pads axis ${a} by more than its ${kept} kept rows; Gradient Lens differentiates wrap padding only up to one period per side, so pad in steps.`);
    }
    const axisPads = new Array<number>(2 * rank).fill(0);
    axisPads[a] = -pb;
    axisPads[a + rank] = -pe;
    const { rows, sources } = padRows(mode, xShape[a], pb, pe);
    const interior = b.op('Pad', [g, b.constI64(axisPads)]);
    shape[a] = xShape[a];
    if (rows.length > 0) {
      const picked = b.op('Gather', [g, b.constI64(rows)], { axis: a });
      const pickedShape = shape.map((d, i) => (i === a ? rows.length : d));
      const idx = b.op('Expand', [reshape(ctx, b.constI64(sources), shape.map((_, i) => (i === a ? rows.length : 1))), b.constI64(pickedShape)]);
      g = b.op('ScatterElements', [interior, idx, picked], { axis: a, reduction: 'add' });
    } else {
      g = interior;
    }
  }
  grads[0] = g;
  return grads;
};

export const PAD_RULES: Record<string, VjpRule> = { Pad: pad };
