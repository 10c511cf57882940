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
import { AnalysisError } from '../onnx/errors';
import { printable, readRegularFile } from '../onnx/files';
import { encodeModel, externalDataRef, LoadedModel, sidecarMessages } from '../onnx/model';
import { ModelProto, TensorProto } from '../onnx/proto';

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

export function materializeForRuntime(model: LoadedModel, runtime: ModelProto, limit = INLINE_WEIGHT_LIMIT): RuntimeModelRef {
  const file = model.bytes;
  // Small tensors stay inline: onnxruntime reads shapes and axes at graph-resolution time from the
  // file path, not from the in-memory external data (a scalar Reshape shape referenced in place fails).
  const inFile = (t: TensorProto) => !!t.raw_data && t.raw_data.buffer === file.buffer && t.raw_data.byteLength >= MIN_REFERENCED_BYTES;
  const inlineBytes = runtime.graph.initializer.reduce((n, t) => n + (inFile(t) ? t.raw_data!.byteLength : 0), 0);
  const referenceInline = inlineBytes >= limit;
  if (!model.hasExternalData && !referenceInline) return { bytes: encodeModel(runtime) };

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
