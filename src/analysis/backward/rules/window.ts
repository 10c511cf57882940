/**
 * Sliding-window geometry shared by the Conv, ConvTranspose and pooling rules, as index
 * constants for Gather: the backward graphs of these ops are Gathers, MatMuls and ReduceSums,
 * which onnxruntime runs in every float type (it has no float64 Conv, ConvTranspose or
 * AveragePool kernel, so emitting those would leave float64 models without a backward pass).
 *
 * A window geometry over the spatial axes (all static: the backward graph is built after the
 * forward run): window o (multi-index over `outDims`) reads through tap k (multi-index over
 * `kernel`) the input position p_d = o_d·s_d + k_d·dil_d − padsBegin_d on every spatial axis d;
 * taps outside 0 ≤ p_d < inDims_d read padding. Flat indices are row-major: S = Π inDims input
 * positions, K = Π kernel taps, O = Π outDims windows.
 */
import { attrInts, attrString } from '../../../onnx/attributes';
import { NodeProto } from '../../../onnx/proto';
import type { VjpContext } from '../vjp';
import { numel } from './common';

export interface Window {
  inDims: number[];
  outDims: number[];
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
}

/** Every multi-index of `dims` in row-major order. */
function multiIndices(dims: number[]): number[][] {
  const out: number[][] = [];
  const idx = dims.map(() => 0);
  const n = numel(dims);
  for (let f = 0; f < n; f++) {
    out.push([...idx]);
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** The flat input position that window o reads through tap k, or −1 where it reads padding. */
function tapPositions(w: Window): Int32Array {
  const taps = multiIndices(w.kernel);
  const windows = multiIndices(w.outDims);
  const O = windows.length;
  const pos = new Int32Array(taps.length * O);
  taps.forEach((k, ki) => {
    windows.forEach((o, oi) => {
      let flat = 0;
      for (let d = 0; d < w.inDims.length; d++) {
        const p = o[d] * w.strides[d] + k[d] * w.dilations[d] - w.padsBegin[d];
        if (p < 0 || p >= w.inDims[d]) { flat = -1; break; }
        flat = flat * w.inDims[d] + p;
      }
      pos[ki * O + oi] = flat;
    });
  });
  return pos;
}

/** x [A, B, L] → [A, B, L + 1] with a zero appended on the last axis (the "padding" slot the index tensors point at). */
export function appendZero(ctx: VjpContext, x: string): string {
  return ctx.b.op('Pad', [x, ctx.b.constI64([0, 0, 0, 0, 0, 1])]);
}

/** Gather along axis 2 with a constant int64 index tensor (tapIndex, tapInverse). */
export function gatherConst(ctx: VjpContext, x: string, indices: BigInt64Array, dims: number[]): string {
  return ctx.b.op('Gather', [x, ctx.b.initializer('taps', dims, indices)], { axis: 2 });
}

/**
 * [K, O]: for tap k of window o, the flat input position it reads, or S (one past the last
 * position: a zero appended to the input) where it reads padding. Gather of the input, flattened
 * over its spatial axes and extended by that zero, with these indices is im2col.
 */
export function tapIndex(w: Window): BigInt64Array {
  const S = numel(w.inDims);
  return BigInt64Array.from(tapPositions(w), (p) => BigInt(p < 0 ? S : p));
}

/**
 * [S, K]: for input position i and tap k, the flat index k·O + o of the one window o that reads i
 * through tap k (o_d = (i_d + padsBegin_d − k_d·dil_d) / s_d when that is a whole number in
 * range), or K·O (a zero appended after the K·O entries) where no window does. Gathering a
 * per-(tap, window) gradient [.., K·O + 1] with these indices and summing over k is col2im, the
 * adjoint of im2col, without a scatter. `perTap` = false indexes a per-window gradient [.., O + 1]
 * instead (o, or O for none), for pooling where every tap carries the window's gradient.
 */
export function tapInverse(w: Window, perTap = true): BigInt64Array {
  const S = numel(w.inDims);
  const K = numel(w.kernel);
  const O = numel(w.outDims);
  const none = perTap ? K * O : O;
  const inv = new Array<number>(S * K).fill(none);
  const pos = tapPositions(w);
  for (let k = 0; k < K; k++) {
    for (let o = 0; o < O; o++) {
      const p = pos[k * O + o];
      if (p >= 0) inv[p * K + k] = perTap ? k * O + o : o;
    }
  }
  return BigInt64Array.from(inv, BigInt);
}

/**
 * The leading pads of a Conv or pooling node on spatial axes with sizes `inDims`, as
 * onnxruntime computes them: explicit `pads` (NOTSET), none (VALID), or for SAME_UPPER /
 * SAME_LOWER pad_needed = max(0, (⌈in/s⌉ − 1)·s + k − in) split with the odd one at the end
 * (UPPER) or at the beginning (LOWER). onnxruntime uses the undilated kernel size k here (it
 * rejects dilated Conv with SAME padding; pools accept it). Returns [begin…, end…].
 */
export function forwardPads(node: NodeProto, inDims: number[], kernel: number[], strides: number[]): number[] {
  const r = inDims.length;
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (autoPad === 'VALID') return new Array<number>(2 * r).fill(0);
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const begin: number[] = [];
    const end: number[] = [];
    inDims.forEach((inSize, d) => {
      const s = strides[d];
      const need = Math.max(0, (Math.ceil(inSize / s) - 1) * s + kernel[d] - inSize);
      const head = autoPad === 'SAME_LOWER' ? Math.ceil(need / 2) : Math.floor(need / 2);
      begin.push(head);
      end.push(need - head);
    });
    return [...begin, ...end];
  }
  return nonEmpty(attrInts(node, 'pads')) ?? new Array<number>(2 * r).fill(0);
}

/** An ints attribute, or undefined when absent or empty (empty means the default). */
export function nonEmpty(v: number[] | undefined): number[] | undefined {
  return v && v.length > 0 ? v : undefined;
}

/** Strides and dilations of a windowed node (default 1 on every spatial axis). */
export function stridesDilations(node: NodeProto, r: number): { strides: number[]; dilations: number[] } {
  const ones = new Array<number>(r).fill(1);
  return { strides: nonEmpty(attrInts(node, 'strides')) ?? ones, dilations: nonEmpty(attrInts(node, 'dilations')) ?? ones };
}
