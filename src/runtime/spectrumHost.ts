/**
 * The recurrent spectrum on a helper thread: the analysis worker starts it as soon as the
 * weights are known, and it runs while onnxruntime runs the model on the analysis worker's own
 * thread, so its cost is mostly hidden. Pure JavaScript: safe to end at any time.
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

/**
 * A helper thread started ahead of its work (its start-up, about 30 ms, then overlaps with
 * reading the model): `run(jobs)` sends the jobs and gives spectra[job][direction]; `cancel()`
 * ends it, whether or not it was given work.
 */
export interface SpectrumThread {
  run(jobs: SpectrumJob[]): Promise<SpectrumMetrics[][]>;
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
    run: (jobs) => { worker.postMessage(jobs); return result; },
    cancel: () => { void worker.terminate(); },
  };
}
