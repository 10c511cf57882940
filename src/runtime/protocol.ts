/**
 * The typed message protocol between a host (CLI, extension, tests) and the analysis worker
 * thread. Bulk numbers travel as transferred ArrayBuffers, never as JSON lists.
 */
import type { AnalysisSettings } from '../analysis/pipeline';
import type { ModelOverview, Report } from '../report/types';

export type WireElemType = 'float32' | 'float64' | 'int32' | 'int64' | 'bool' | 'uint8' | 'int8';
export type WireData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

export interface WireTensor {
  type: WireElemType;
  dims: number[];
  data: WireData;
}

/** Elements per index of the leading axis (steps, calls). */
export function leadingStride(t: WireTensor): number {
  return t.dims.slice(1).reduce((p, q) => p * q, 1);
}

/** Entries [from, from + len) of the leading axis, as a copy (a view would carry its whole buffer along when posted). */
export function sliceLeading(t: WireTensor, from: number, len: number): WireTensor {
  const s = leadingStride(t);
  return { type: t.type, dims: [len, ...t.dims.slice(1)], data: t.data.slice(from * s, (from + len) * s) as WireData };
}

export type ExecutionProviderChoice = 'auto' | 'cpu' | 'cuda';

/** ONNX TensorProto data type of each wire element type. */
export const ONNX_ELEM_TYPE: Record<WireElemType, number> = { float32: 1, float64: 11, int32: 6, int64: 7, bool: 9, uint8: 2, int8: 3 };

/** The wire element type of an ONNX data type, where one exists. */
export const WIRE_ELEM_TYPE: Record<number, WireElemType> = Object.fromEntries(
  Object.entries(ONNX_ELEM_TYPE).map(([wire, onnx]) => [onnx, wire as WireElemType]));

/** Int32 slots of the shared control block. */
export const enum Control {
  /** 1 while the worker is inside a native onnxruntime call. */
  InNative = 0,
  /** Set to 1 by the host to cancel. */
  Cancel = 1,
  /** Native calls started so far (diagnostics and tests: none may start after a cancel). */
  Calls = 2,
  Length = 3,
}

export type HostToWorker =
  | {
      kind: 'analyze';
      messageId: number;
      settings: AnalysisSettings;
      /** SharedArrayBuffer of Control.Length Int32 slots. */
      control: SharedArrayBuffer;
      /** A warm worker (the editor's): keep models and sessions for the next analysis. */
      warm?: boolean;
    }
  | { kind: 'inspect'; messageId: number; modelPath: string; control: SharedArrayBuffer };

export type ErrorKind = 'analysis' | 'usage' | 'cancelled' | 'internal';

/**
 * What a worker thread has done so far, counted (tests and the bench see the warm engine at work):
 * sessions created, time-local stages run in chunks (alone / with their Scan), spectra computed,
 * graphs built (instrumented models, analysis graphs), generated graphs encoded, stage plans made.
 */
export interface EngineCounts {
  sessionsCreated: number; timeLocalChunked: number; timeLocalWithScan: number; spectraComputed: number;
  graphsBuilt: number; modelsEncoded: number; stagePlans: number;
}

export type WorkerToHost =
  | { kind: 'progress'; inReplyTo: number; message: string }
  | { kind: 'report'; inReplyTo: number; report: Report; counts?: EngineCounts }
  | { kind: 'overview'; inReplyTo: number; overview: ModelOverview }
  | { kind: 'error'; inReplyTo: number; errorKind: ErrorKind; message: string; detail?: string; stack?: string };

/** The ArrayBuffers under a value (tensors of a report), for postMessage's transfer list. */
export function transferList(value: unknown): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  const walk = (v: unknown) => {
    if (v === null || typeof v !== 'object') return;
    if (ArrayBuffer.isView(v)) {
      const b = v.buffer;
      // Only buffers a view owns whole: a view into a shared buffer (a Node Buffer pool, a
      // model file) would be detached for everyone else, so those are copied instead.
      if (b instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === b.byteLength) seen.add(b);
      return;
    }
    for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x);
  };
  walk(value);
  return [...seen];
}
