/**
 * The analysis's memory, estimated before anything big is allocated, so that a sequence length
 * of 10⁸, a batch of 10⁶ or a Jacobian with 10¹¹ probes is refused with one line instead of
 * growing until the machine swaps or the process dies.
 *
 * Per layer-direction with T steps, batch B, hidden size H, input size I and g gates (LSTM 4,
 * GRU 3, RNN 1), onnxruntime holds about (8g + 12)·H + 3·I float32 values per (t, b) while the
 * analysis graph runs (gate pre-activations, activations and their derivatives, the factors of
 * the backward recurrence, h_{t−1}, c_{t−1}, c_t, the gradients and dL/dX), and the report keeps
 * (g + 2)·H of them (+2·H for an LSTM's cell state and its gradient). From TIME_LOCAL_MIN_BYTES
 * of gate tensor the time-local work runs a range of steps at a time (runtime/stagedRun.ts) and
 * onnxruntime holds about (g + 8)·H + 3·I values per (t, b) instead: the gates, states and
 * gradients the backward Scan reads and writes. Measured: an LSTM with I = 256, H = 1024,
 * T = 10 000 peaked at 0.9 GB (1.5 GB before that design); this formula gives 1.1 GB. The backward
 * recurrence carries 1 + S adjoint rows (S Jacobian seeds, twice for an LSTM's h and c) through
 * one step at a time: about 6·rows·B·g·H values of working memory, and the seeds themselves.
 */
import * as os from 'os';
import { UsageError } from '../onnx/errors';
import type { RecurrentOp } from '../report/types';

export interface MemoryLayer {
  op: RecurrentOp;
  hiddenSize: number;
  inputSize: number;
  numDirections: number;
  /** Steps and batch of this layer (the inputs' when not known yet). */
  seqLen: number;
  batch: number;
  /** Jacobian seed rows per direction (H exact, K probes, 0 off), before the LSTM's doubling. */
  seeds: number;
}

export interface MemoryEstimate {
  bytes: number;
  /** The part that grows with T·B (per-step tensors), and the part from the Jacobian seeds. */
  perStepBytes: number;
  jacobianBytes: number;
}

const GATES: Record<RecurrentOp, number> = { LSTM: 4, GRU: 3, RNN: 1 };
/**
 * From gate tensors ([T, B, g·H] float32, per layer-direction) of this size the time-local parts of
 * the analysis graph run a range of steps at a time (runtime/stagedRun.ts): their several such
 * intermediates made the peak memory. Below it one whole run is faster (fewer sessions).
 */
export const TIME_LOCAL_MIN_BYTES = 64 * 2 ** 20;

/** Bytes of one layer-direction's gate tensor [T, B, g·H] float32 (what TIME_LOCAL_MIN_BYTES is compared with). */
export function gateTensorBytes(op: RecurrentOp, hiddenSize: number, seqLen: number, batch: number): number {
  return 4 * seqLen * batch * GATES[op] * hiddenSize;
}
/** Node, onnxruntime and the model's own weights' working set, beyond what is counted. */
const BASE_BYTES = 200 * 2 ** 20;

export function estimateAnalysisMemory(layers: MemoryLayer[], inputBytes: number, modelBytes: number): MemoryEstimate {
  let perStep = 0;
  let jacobian = 0;
  for (const l of layers) {
    const g = GATES[l.op];
    const H = l.hiddenSize;
    const steps = l.seqLen * l.batch * l.numDirections;
    const held = gateTensorBytes(l.op, H, l.seqLen, l.batch) >= TIME_LOCAL_MIN_BYTES ? g + 8 : 8 * g + 12;
    perStep += 4 * steps * (held * H + 3 * l.inputSize + (g + 2 + (l.op === 'LSTM' ? 2 : 0)) * H);
    const rows = 1 + l.seeds * (l.op === 'LSTM' ? 2 : 1);
    jacobian += 4 * l.numDirections * (6 * rows * l.batch * g * H + 2 * l.seeds * l.batch * H);
  }
  return { bytes: BASE_BYTES + 2 * modelBytes + inputBytes + perStep + jacobian, perStepBytes: perStep, jacobianBytes: jacobian };
}

/** Half of the memory the system has available now: the default limit. */
export function defaultMemoryLimit(): number {
  return Math.floor(os.freemem() / 2);
}

/** "8G", "512M", "1.5GB", "1000000" (bytes) → bytes; UsageError otherwise. */
export function parseSize(text: string, flag = '--max-memory'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?[bB])?\s*$/.exec(text);
  if (!m) throw new UsageError(`${flag} expects a size such as 8G, 512M or 2000000000 (bytes), got '${text}'.`);
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!(bytes > 0)) throw new UsageError(`${flag} must be more than 0, got '${text}'.`);
  return bytes;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'more than can be counted';
  // Powers of 1024, named so (parseSize reads 8G as 8 GiB too).
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  if (v >= 1024) return `${bytes.toExponential(1)} bytes`;
  return i === 0 ? `${Math.round(v)} bytes` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/**
 * Refuse (AnalysisError-style message, thrown by the caller's constructor) an analysis whose
 * estimate exceeds `limit`: one sentence with the estimate, the limit and what to lower.
 */
export function memoryRefusal(estimate: MemoryEstimate, limit: number,
  context: { seqLen: number; batch: number; jacobian: boolean; explicitLimit: boolean; seqFixed?: boolean; calls?: number }): string | undefined {
  if (estimate.bytes <= limit) return undefined;
  // The levers that move the estimate: T·B for the per-step part, B and the seeds for the Jacobian's.
  // (Streaming: T is the calls' steps, so fewer calls; a length the model fixes is no lever.)
  const levers: string[] = [];
  const big = (part: number) => part > 0.1 * estimate.bytes;
  if (big(estimate.perStepBytes) || !big(estimate.jacobianBytes)) {
    if (context.calls !== undefined) levers.push(`fewer calls (--calls, now ${context.calls})`);
    else if (!context.seqFixed) levers.push(`a shorter sequence (--seq-len, now ${context.seqLen})`);
  }
  if (context.batch > 1) levers.push(`a smaller batch (--batch, now ${context.batch})`);
  if (context.jacobian && big(estimate.jacobianBytes)) levers.push('fewer Jacobian probes (--jacobian probes:8, or off)');
  const limitText = context.explicitLimit ? `the limit of ${formatBytes(limit)} (--max-memory)` : `half of this machine's available memory (${formatBytes(limit)})`;
  const lower = levers.length ? `analyse ${levers.join(' or ')}, or ` : '';
  return `this analysis would need about ${formatBytes(estimate.bytes)} of memory, more than ${limitText}; ${lower}raise the limit with --max-memory SIZE if the machine has the memory.`;
}
