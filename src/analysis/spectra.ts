/** The recurrent spectrum of every layer-direction (SPEC §4), σ_max by onnxruntime for big blocks. */
import { assembleSpectrum, spectrumBlocks } from '../metrics/spectrum';
import { sigmaMaxOf } from '../runtime/gramSession';
import { OrtRuntime } from '../runtime/ortRuntime';
import { ExecutionProviderChoice } from '../runtime/protocol';
import { SpectrumMetrics } from '../report/types';
import { GATE_COUNT, RecurrentLayer } from './recurrent';

/** spectra[layer][direction] */
export async function layerSpectra(layers: RecurrentLayer[], runtime: OrtRuntime, ep: ExecutionProviderChoice,
  checkCancelled: () => void): Promise<SpectrumMetrics[][]> {
  const spectra: SpectrumMetrics[][] = [];
  for (const layer of layers) {
    const g = GATE_COUNT[layer.op];
    const H = layer.hiddenSize;
    const perDirection: SpectrumMetrics[] = [];
    for (let d = 0; d < layer.numDirections; d++) {
      const Rslice = layer.R.values.subarray(d * g * H * H, (d + 1) * g * H * H);
      const sigmas: number[] = [];
      for (const blk of spectrumBlocks(Rslice, layer.op, H)) {
        checkCancelled();
        sigmas.push(await sigmaMaxOf(runtime, ep, blk.matrix, blk.rows, blk.cols));
      }
      const acts = layer.activations[d];
      perDirection.push(assembleSpectrum(layer.op, sigmas, acts.map((a) => a.name), acts.map((a) => ({ alpha: a.alpha, beta: a.beta }))));
    }
    spectra.push(perDirection);
  }
  return spectra;
}
