/** The recurrent spectrum of every layer-direction (SPEC §4), σ_max computed with onnxruntime's help. */
import { assembleSpectrum } from '../metrics/spectrum';
import { layerSigmas } from '../runtime/gramSession';
import { OrtRuntime } from '../runtime/ortRuntime';
import { ExecutionProviderChoice } from '../runtime/protocol';
import { SpectrumMetrics } from '../report/types';
import { GATE_COUNT, RecurrentLayer } from './recurrent';

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
