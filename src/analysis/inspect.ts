/**
 * A model's overview without running it (the custom editor's content): inputs and outputs,
 * every recurrent layer with its sizes, attributes and where it sits (If branches, Loop and Scan
 * bodies included), and the static recurrent spectrum.
 */
import * as path from 'path';
import { printable } from '../onnx/files';
import { loadModel } from '../onnx/model';
import { NodeProto } from '../onnx/proto';
import { OrtRuntime } from '../runtime/ortRuntime';
import { ModelOverview } from '../report/types';
import { discoverRecurrentLayers } from './recurrent';
import { modelInfo } from './pipeline';
import { layerSpectra } from './spectra';
import { evaluateTensors } from './evaluate';
import { flattenSubgraphs } from './prepare/flattenSubgraphs';
import { foldConstants } from './prepare/foldConstants';
import { walkNodes } from '../onnx/graphs';
import { statePairs } from './iterated/streaming';
import { discoverStateLayers } from './iterated/stateLayers';

export async function inspectModel(modelPath: string, runtime: OrtRuntime, checkCancelled: () => void): Promise<ModelOverview> {
  const model = loadModel(modelPath);
  const name = printable(path.basename(model.path));
  const info = modelInfo(model);
  // Streaming state pairs and Loop/Scan carried state, read before the bodies are lifted out.
  const pairs = statePairs(model.proto.graph, undefined);
  const states = discoverStateLayers(model.proto.graph, new Map(), model.opset, name).map((s) => ({ name: s.name, path: s.path, cell: s.cell?.op }));
  const opCounts = new Map<string, number>();
  for (const { node } of walkNodes(model.proto.graph)) opCounts.set(node.op_type, (opCounts.get(node.op_type) ?? 0) + 1);
  // Every branch and body lifted into view, weights computed from constants folded, so each layer can be read.
  const paths = new Map<NodeProto, string[]>();
  flattenSubgraphs(model, paths);
  await foldConstants(model, { feeds: {}, paths, modelName: name, evaluate: (m, names) => evaluateTensors(m, names, {}, runtime, 'cpu', name) });
  checkCancelled();
  const discovery = discoverRecurrentLayers(model, {}, paths);
  const spectra = await layerSpectra(discovery.layers, runtime, 'cpu', checkCancelled);
  const warnings = [...discovery.warnings];
  if (discovery.layers.length === 0 && !warnings.length && !pairs.length && !states.length) {
    warnings.push(`${name} has no LSTM, GRU or RNN node and no recurrent state; Gradient Lens analyses models with recurrent layers or recurrent state.`);
  }
  if (discovery.layers.some((l) => l.path.length > 1)) {
    warnings.push('Some layers sit in If branches or Loop/Scan bodies: an analysis takes the branches its inputs select and reports the layers that run.');
  }
  return {
    model: info,
    opCounts: Object.fromEntries(opCounts),
    layers: discovery.layers.map((l, k) => ({
      node: l.name, path: l.path, nodeIndex: l.nodeIndex, op: l.op, direction: l.direction, layout: l.layout, hiddenSize: l.hiddenSize,
      inputSize: l.inputSize, attributes: l.attributes, spectrum: spectra[k],
    })),
    statePairs: pairs,
    stateRecurrences: states,
    warnings,
  };
}
