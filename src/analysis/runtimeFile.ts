/**
 * Handing the runtime model to onnxruntime without copying big weights.
 *
 * Small models go as plain bytes. When the model keeps weights in external-data sidecar files,
 * or holds many megabytes of inline weights, the runtime model is encoded small: its big
 * initializers become external-data references, served from memory through onnxruntime's
 * `externalData` session option — the inline ones as byte ranges of the original file's buffer
 * (already in memory, not copied), the sidecar ones from the sidecar files. (Files linked into a
 * temporary folder do not work: onnxruntime resolves links and refuses paths outside the
 * model's folder.)
 */
import { allGraphs } from '../onnx/graphs';
import { AnalysisError } from '../onnx/errors';
import { printable, readRegularFile } from '../onnx/files';
import { encodeModel, externalDataRef, functionGraphs, graphTensors, LoadedModel, LocalFunction, mapGraphTensors, sidecarMessages, tensorRawBytes } from '../onnx/model';
import { GraphProto, ModelProto, TensorProto } from '../onnx/proto';

/** Inline weights above this many bytes in all are referenced in place rather than re-encoded. */
export const INLINE_WEIGHT_LIMIT = 32 * 1024 * 1024;
/** Inline tensors smaller than this are re-encoded even when the model is referenced in place. */
const MIN_REFERENCED_BYTES = 4096;
/** The name under which the original file's buffer is offered to onnxruntime. */
const ORIGINAL = 'gradient-lens-original-model.bin';

export interface RuntimeModelRef {
  bytes: Uint8Array;
  externalData?: { path: string; data: Uint8Array }[];
}

export function materializeForRuntime(model: LoadedModel, runtimeIn: ModelProto, limit = INLINE_WEIGHT_LIMIT): RuntimeModelRef {
  let runtime = runtimeIn;
  const file = model.bytes;
  // Small tensors stay inline: onnxruntime reads shapes and axes at graph-resolution time from the
  // file path, not from the in-memory external data (a scalar Reshape shape referenced in place fails).
  const inFile = (t: TensorProto) => !!t.raw_data && t.raw_data.buffer === file.buffer && t.raw_data.byteLength >= MIN_REFERENCED_BYTES;
  const inlineBytes = runtime.graph.initializer.reduce((n, t) => n + (inFile(t) ? t.raw_data!.byteLength : 0), 0);
  const referenceInline = inlineBytes >= limit;
  // External data anywhere but the main graph's initializers (a Loop/Scan body's weights, a
  // Constant node's value, sparse initializers): onnxruntime resolves their locations against
  // the working directory, not the model's folder, and unchecked — so they travel inline, read
  // through the same checks as any sidecar.
  runtime = inlineNestedExternal(model, runtime);
  // (The preparation passes may have made a Constant node with external data an initializer: look at the graph as it is now.)
  const external = runtime.graph.initializer.some((t) => t.data_location === 1);
  if (!external && !referenceInline) return { bytes: encodeModel(runtime) };

  // Every external tensor's entries are checked (inside the model's folder, sane offsets) before
  // a sidecar is read; onnxruntime's own check does not apply to data handed over from memory.
  const externalData: { path: string; data: Uint8Array }[] = [];
  const sidecars = new Map<string, Uint8Array>();
  for (const t of runtime.graph.initializer) {
    if (t.data_location !== 1) continue;
    const ref = externalDataRef(t, model.baseDir);
    let data = sidecars.get(ref.location);
    if (!data) {
      data = readRegularFile(ref.file, sidecarMessages(ref.location, ref.file, t.name));
      sidecars.set(ref.location, data);
      externalData.push({ path: ref.location, data });
    }
    const size = data.byteLength;
    const end = ref.offset + (ref.length ?? 0);
    if (ref.offset > size || end > size) {
      throw new AnalysisError(`external-data file '${printable(ref.location)}' is too short for tensor '${printable(t.name ?? '(unnamed)')}' (needs bytes ${ref.offset}..${end}, file has ${size}); the sidecar file is truncated or belongs to another model.`);
    }
  }
  let initializer = runtime.graph.initializer;
  if (referenceInline) {
    externalData.push({ path: ORIGINAL, data: file });
    initializer = initializer.map((t) => (inFile(t) ? {
      ...t,
      raw_data: undefined,
      data_location: 1,
      external_data: [
        { key: 'location', value: ORIGINAL },
        { key: 'offset', value: String(t.raw_data!.byteOffset - file.byteOffset) },
        { key: 'length', value: String(t.raw_data!.byteLength) },
      ],
    } : t));
  }
  return { bytes: encodeModel({ ...runtime, graph: { ...runtime.graph, initializer } }), externalData };
}

/**
 * A graph Gradient Lens built (the analysis graph) with every tensor it copied from the model
 * holding its bytes inline: its session gets no external data from memory, and onnxruntime would
 * resolve a location against the working directory, unchecked — reading another file of that
 * name, or failing. The bytes are read through the same checks as any sidecar.
 */
export function inlineExternalTensors(model: LoadedModel, built: ModelProto): ModelProto {
  return inlineNestedExternal(model, built, true);
}

/**
 * A copy of `runtime` in which every external-data tensor but the main graph's initializers holds
 * its bytes inline (subgraph initializers, attribute tensors, sparse tensors' values and indices,
 * model-local functions' nodes); with `topInitializers`, the main graph's initializers too.
 */
function inlineNestedExternal(model: LoadedModel, runtime: ModelProto, topInitializers = false): ModelProto {
  const functions = functionGraphs(runtime);
  const external = (t: TensorProto) => t.data_location === 1;
  const nested = graphTensors(runtime.graph, { initializers: topInitializers }).some(external)
    || [...allGraphs(runtime.graph).slice(1), ...functions.flatMap(allGraphs)].some((g) => graphTensors(g).some(external));
  if (!nested) return runtime;
  const inline = (t: TensorProto): TensorProto => {
    if (!external(t)) return t;
    const raw = tensorRawBytes(t, model.baseDir);
    if (!raw) throw new AnalysisError(`tensor '${printable(t.name ?? '(unnamed)')}' names external data that cannot be read.`);
    return { ...t, data_location: 0, external_data: [], raw_data: raw };
  };
  const inlineGraph = (g: GraphProto, top: boolean): GraphProto => mapGraphTensors(g, inline, { initializers: !top || topInitializers, subgraph: (sg) => inlineGraph(sg, false) });
  return {
    ...runtime,
    graph: inlineGraph(runtime.graph, true),
    ...(runtime.functions ? { functions: (runtime.functions as LocalFunction[]).map((f, i) => ({ ...f, node: inlineGraph(functions[i], false).node })) } : {}),
  };
}
