/**
 * The typed message protocol between the analysis host (CLI or extension) and the onnxruntime
 * worker thread. Every request carries a `messageId`; every reply names it in `inReplyTo`.
 * Bulk numbers travel as transferred ArrayBuffers, never as JSON lists.
 */

export type WireElemType = 'float32' | 'float64' | 'int32' | 'int64' | 'bool' | 'uint8' | 'int8';
export type WireData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

export interface WireTensor {
  type: WireElemType;
  dims: number[];
  data: WireData;
}

export type ExecutionProviderChoice = 'auto' | 'cpu' | 'cuda';

export type HostToWorker =
  | {
      kind: 'createSession';
      messageId: number;
      sessionId: string;
      /** The model as bytes, or a path (used when the model keeps weights in external-data files). */
      model: { bytes: Uint8Array } | { path: string };
      ep: ExecutionProviderChoice;
    }
  | { kind: 'run'; messageId: number; sessionId: string; feeds: Record<string, WireTensor>; fetches: string[] }
  | { kind: 'release'; messageId: number; sessionId: string };

export type WorkerToHost =
  | { kind: 'ready' }
  | {
      kind: 'sessionCreated';
      inReplyTo: number;
      executionProvider: 'cpu' | 'cuda';
      /** Set when CUDA was asked for (ep 'auto') but could not be used. */
      notice?: string;
      onnxruntimeVersion: string;
      inputNames: string[];
      outputNames: string[];
      ms: number;
    }
  | { kind: 'ran'; inReplyTo: number; outputs: Record<string, WireTensor>; ms: number }
  | { kind: 'released'; inReplyTo: number }
  | { kind: 'error'; inReplyTo: number; message: string };

/** The ArrayBuffers of a set of tensors, for postMessage's transfer list. */
export function transferList(tensors: Record<string, WireTensor>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of Object.values(tensors)) {
    const b = t.data.buffer;
    // Only buffers the tensor owns whole: a view into a shared buffer (a Node Buffer pool, a
    // model file) would be detached for everyone else, so those are copied instead.
    if (b instanceof ArrayBuffer && t.data.byteOffset === 0 && t.data.byteLength === b.byteLength) seen.add(b);
  }
  return [...seen];
}
