/**
 * Entry of the spectrum helper thread (see spectrumHost.ts): computes the recurrent spectrum of
 * the jobs it is sent, in plain JavaScript, and posts the result.
 */
import { parentPort } from 'worker_threads';
import { recurrentSpectrum } from '../metrics/spectrum';
import type { SpectrumJob } from './spectrumHost';

parentPort?.once('message', (jobs: SpectrumJob[]) => {
  try {
    const spectra = jobs.map((job) => job.directions.map((d) => recurrentSpectrum(d.R, job.op, job.hiddenSize, d.activations, d.params)));
    parentPort!.postMessage({ spectra });
  } catch (e) {
    parentPort!.postMessage({ error: (e as Error).message });
  }
});
