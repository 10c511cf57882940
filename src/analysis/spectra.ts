/** The recurrent spectrum of every layer-direction (SPEC §4), σ_max computed with onnxruntime's help. */
import { createHash } from 'crypto';
import { LruMap } from './lru';
import { assembleSpectrum } from '../metrics/spectrum';
import { GRAM_SESSION_MIN_HIDDEN, layerSigmas } from '../runtime/gramSession';
import { BusyFlag, SpectrumJob, SpectrumThread } from '../runtime/spectrumHost';
import { OrtRuntime } from '../runtime/ortRuntime';
import { ExecutionProviderChoice } from '../runtime/protocol';
import { SpectrumMetrics } from '../report/types';
import { GATE_COUNT, RecurrentLayer } from './recurrent';

export interface SpectraJob {
  /** spectra[layer][direction]. */
  wait(runtime: OrtRuntime, ep: ExecutionProviderChoice, checkCancelled: () => void): Promise<SpectrumMetrics[][]>;
}

/**
 * Start the spectrum of layers below GRAM_SESSION_MIN_HIDDEN on the helper thread (ended at once
 * if it has nothing to do); bigger layers are left to layerSpectra on the analysis thread.
 *
 * `busy` is the analysis thread's in-native flag: the helper waits while onnxruntime runs (see
 * spectrumHost.ts) and works in the analysis thread's JavaScript stretches in between.
 */
export function startSpectra(layers: RecurrentLayer[], thread: SpectrumThread, busy?: BusyFlag, cache = false): SpectraJob {
  // A warm worker's re-run (another seed, other inputs) has the same weights: their spectra are known.
  const keys = cache ? layers.map(spectrumKey) : [];
  // (A copy: a report's metrics are its own.)
  const known = layers.map((_, k) => { const s = cache ? spectrumCache.get(keys[k]) : undefined; return s && structuredClone(s); });
  const small = layers.map((l, k) => !known[k] && l.hiddenSize < GRAM_SESSION_MIN_HIDDEN);
  const jobs: SpectrumJob[] = layers.filter((_, k) => small[k]).map((layer) => {
    const g = GATE_COUNT[layer.op];
    const H = layer.hiddenSize;
    return {
      op: layer.op, hiddenSize: H,
      directions: layer.activations.map((acts, d) => ({
        R: layer.R.values.slice(d * g * H * H, (d + 1) * g * H * H),
        activations: acts.map((a) => a.name), params: acts.map((a) => ({ alpha: a.alpha, beta: a.beta })),
      })),
    };
  });
  const helper = jobs.length ? thread.run(jobs, busy) : undefined;
  if (!helper) thread.cancel();
  return {
    wait: async (runtime, ep, checkCancelled) => {
      const fromHelper = helper ? await helper : [];
      const big = await layerSpectra(layers.filter((_, k) => !small[k] && !known[k]), runtime, ep, checkCancelled);
      let i = 0;
      let j = 0;
      const spectra = layers.map((_, k) => known[k] ?? (small[k] ? fromHelper[i++] : big[j++]));
      spectraComputed += known.filter((s) => !s).length;
      if (cache) spectra.forEach((s, k) => spectrumCache.set(keys[k], structuredClone(s)));
      return spectra;
    },
  };
}

let spectraComputed = 0;

/** Layers whose spectrum this thread computed so far (not found in the cache). */
export function spectrumCount(): number {
  return spectraComputed;
}

/** Spectra a warm worker computed, by spectrumKey. */
const spectrumCache = new LruMap<string, SpectrumMetrics[]>(32);

/** R's hash, once per weights array (a kept plan's layers hand over the same array again: 32 MB at H = 1024). */
const rHashes = new WeakMap<Float64Array, string>();

/** What a layer's spectra depend on: its op, sizes, activations and R's values. */
function spectrumKey(layer: RecurrentLayer): string {
  const R = layer.R.values;
  let r = rHashes.get(R);
  if (r === undefined) rHashes.set(R, r = createHash('sha1').update(Buffer.from(R.buffer, R.byteOffset, R.byteLength)).digest('hex'));
  return JSON.stringify([r, layer.op, layer.hiddenSize, layer.numDirections, layer.activations]);
}

/** spectra[layer][direction] */
export async function layerSpectra(layers: RecurrentLayer[], runtime: OrtRuntime, ep: ExecutionProviderChoice,
  checkCancelled: () => void): Promise<SpectrumMetrics[][]> {
  const spectra: SpectrumMetrics[][] = [];
  for (const layer of layers) {
    const sigmas = await layerSigmas(runtime, ep, layer.R.values, layer.numDirections, GATE_COUNT[layer.op], layer.hiddenSize, checkCancelled);
    spectra.push(sigmas.map((s, d) => {
      const acts = layer.activations[d];
      return assembleSpectrum(layer.op, s, acts.map((a) => a.name), acts.map((a) => ({ alpha: a.alpha, beta: a.beta })));
    }));
  }
  return spectra;
}
