/**
 * Formatting float32 numbers as JSON text on helper threads: the bulk of a full report is its
 * per-step tensors, and formatting them (shortest round-trip decimals, jsonWriter.ts) is
 * CPU-bound at about 45 MB/s per core. Big arrays are cut into one part per thread; the writer
 * formats the first part itself while the helpers format the others, and writes them in order.
 */
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';

/** Arrays shorter than this (about 25 ms of formatting) are formatted on the writer's thread alone: a helper's start-up costs ~30 ms, once per report. */
export const PARALLEL_MIN_NUMBERS = 131072;

export interface FormattedPart {
  /** ASCII bytes of the numbers, comma-separated, `null` for non-finite values. */
  bytes: Uint8Array;
  nonFinite: number;
}

export interface FormatPool {
  /** Number of helper threads. */
  readonly helpers: number;
  format(data: Float32Array): Promise<FormattedPart>;
  close(): void;
}

/** A pool of up to `max` helpers (one fewer than the CPUs by default), or null on a single CPU. */
export function startFormatPool(max = Math.min(3, os.cpus().length - 1)): FormatPool | null {
  max = Math.floor(max);
  if (max < 1) return null;
  const workers: Worker[] = [];
  const pending = new Map<number, { resolve: (p: FormattedPart) => void; reject: (e: Error) => void }>();
  let next = 0;
  let failed: Error | null = null;
  const fail = (e: Error) => {
    failed ??= e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  for (let i = 0; i < max; i++) {
    const w = new Worker(path.join(__dirname, 'formatThread.js'));
    w.on('message', (m: { id: number; bytes: Uint8Array; length: number; nonFinite: number }) => {
      const p = pending.get(m.id);
      pending.delete(m.id);
      p?.resolve({ bytes: m.bytes.subarray(0, m.length), nonFinite: m.nonFinite });
    });
    w.on('error', (e) => fail(e));
    w.on('exit', (code) => { if (code !== 0) fail(new Error(`a JSON formatting thread stopped (exit code ${code})`)); });
    workers.push(w);
  }
  return {
    helpers: max,
    format(data) {
      if (failed) return Promise.reject(failed);
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        workers[id % workers.length].postMessage({ id, data }, [data.buffer as ArrayBuffer]);
      });
    },
    close() {
      for (const w of workers) { w.removeAllListeners('exit'); void w.terminate(); }
    },
  };
}
