/**
 * The recurrent spectrum on a helper thread: the analysis worker starts it as soon as the
 * weights are known, and it runs while the analysis thread reads, builds and measures. Given
 * the analysis thread's busy flag it stands aside while onnxruntime runs: on 2 cores a third
 * busy thread slowed onnxruntime's runs by more than the spectrum's own time (its two threads
 * meet at every step and wait for the one that lost its core). JavaScript and WebAssembly
 * only: safe to end at any time.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { RecurrentOp, SpectrumMetrics } from '../report/types';

export interface SpectrumJob {
  op: RecurrentOp;
  hiddenSize: number;
  /** Per direction: the [g·H, H] slice of R, its activation names and alpha/beta. */
  directions: { R: Float64Array; activations: string[]; params: { alpha?: number; beta?: number }[] }[];
}

/** An Int32 slot that is non-zero while the thread should wait (Atomics.notify when it clears). */
export interface BusyFlag {
  buffer: SharedArrayBuffer;
  index: number;
}

export interface SpectrumRequest {
  jobs: SpectrumJob[];
  busy?: BusyFlag;
}

/**
 * A helper thread started ahead of its work (its start-up, about 30 ms, then overlaps with
 * reading the model): `run(jobs, busy)` sends the jobs and gives spectra[job][direction];
 * `cancel()` ends it, whether or not it was given work.
 */
export interface SpectrumThread {
  run(jobs: SpectrumJob[], busy?: BusyFlag): Promise<SpectrumMetrics[][]>;
  cancel(): void;
}

export function startSpectrumThread(): SpectrumThread {
  const worker = new Worker(path.join(__dirname, 'spectrumThread.js'));
  const result = new Promise<SpectrumMetrics[][]>((resolve, reject) => {
    worker.once('message', (m: { spectra?: SpectrumMetrics[][]; error?: string }) => {
      if (m.spectra) resolve(m.spectra);
      else reject(new Error(m.error ?? 'the spectrum thread failed'));
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', () => reject(new Error('the spectrum thread stopped')));
  });
  result.catch(() => undefined);
  return {
    run: (jobs, busy) => { worker.postMessage({ jobs, busy } satisfies SpectrumRequest); return result; },
    cancel: () => { void worker.terminate(); },
  };
}
