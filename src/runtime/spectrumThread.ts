/**
 * Entry of the spectrum helper thread (see spectrumHost.ts): computes the recurrent spectrum of
 * the jobs it is sent, in JavaScript and WebAssembly, and posts the result. With a busy flag it
 * waits before each Lanczos step while the flag is set (onnxruntime running on the analysis
 * thread), so it only takes CPU time onnxruntime's threads are not using.
 */
import { parentPort } from 'worker_threads';
import { recurrentSpectrum } from '../metrics/spectrum';
import type { SpectrumRequest } from './spectrumHost';

/** How long one wait lasts before the flag is read again (the analysis thread also notifies). */
const WAIT_MS = 20;

parentPort?.once('message', ({ jobs, busy }: SpectrumRequest) => {
  try {
    const pause = busy ? () => {
      const flags = new Int32Array(busy.buffer);
      while (Atomics.load(flags, busy.index) !== 0) Atomics.wait(flags, busy.index, Atomics.load(flags, busy.index), WAIT_MS);
    } : undefined;
    const spectra = jobs.map((job) => job.directions.map((d) => recurrentSpectrum(d.R, job.op, job.hiddenSize, d.activations, d.params, pause)));
    parentPort!.postMessage({ spectra });
  } catch (e) {
    parentPort!.postMessage({ error: (e as Error).message });
  }
});
