/**
 * A model's overview without running it (the custom editor's content): inputs and outputs,
 * every recurrent layer with its sizes and attributes, and the static recurrent spectrum.
 */
import * as path from 'path';
import { loadModel } from '../onnx/model';
import { OrtRuntime } from '../runtime/ortRuntime';
import { ModelOverview } from '../report/types';
import { discoverRecurrentLayers } from './recurrent';
import { modelInfo } from './pipeline';
import { layerSpectra } from './spectra';

export async function inspectModel(modelPath: string, runtime: OrtRuntime, checkCancelled: () => void): Promise<ModelOverview> {
  const model = loadModel(modelPath);
  const discovery = discoverRecurrentLayers(model);
  const spectra = await layerSpectra(discovery.layers, runtime, 'cpu', checkCancelled);
  const warnings = [...discovery.warnings];
  if (discovery.layers.length === 0 && !warnings.length) {
    warnings.push(`${path.basename(model.path)} has no LSTM, GRU or RNN node; Gradient Lens analyses models with recurrent layers.`);
  }
  return {
    model: modelInfo(model),
    opCounts: Object.fromEntries(discovery.opCounts),
    layers: discovery.layers.map((l, k) => ({
      node: l.name, nodeIndex: l.nodeIndex, op: l.op, direction: l.direction, layout: l.layout, hiddenSize: l.hiddenSize,
      inputSize: l.inputSize, attributes: l.attributes, spectrum: spectra[k],
    })),
    warnings,
  };
}
