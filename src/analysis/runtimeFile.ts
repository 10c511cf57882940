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
import * as fs from 'fs';
import * as path from 'path';
import { AnalysisError } from '../onnx/errors';
import { encodeModel, LoadedModel } from '../onnx/model';
import { ModelProto, TensorProto } from '../onnx/proto';

/** Inline weights above this many bytes in all are referenced in place rather than re-encoded. */
export const INLINE_WEIGHT_LIMIT = 32 * 1024 * 1024;
/** The name under which the original file's buffer is offered to onnxruntime. */
const ORIGINAL = 'gradient-lens-original-model.bin';

export interface RuntimeModelRef {
  bytes: Uint8Array;
  externalData?: { path: string; data: Uint8Array }[];
}

export function materializeForRuntime(model: LoadedModel, runtime: ModelProto, limit = INLINE_WEIGHT_LIMIT): RuntimeModelRef {
  const file = model.bytes;
  const inFile = (t: TensorProto) => !!t.raw_data && t.raw_data.buffer === file.buffer && t.raw_data.byteLength > 0;
  const inlineBytes = runtime.graph.initializer.reduce((n, t) => n + (inFile(t) ? t.raw_data!.byteLength : 0), 0);
  const referenceInline = inlineBytes >= limit;
  if (!model.hasExternalData && !referenceInline) return { bytes: encodeModel(runtime) };

  const externalData: { path: string; data: Uint8Array }[] = [];
  const locations = new Set<string>();
  for (const t of runtime.graph.initializer) {
    const loc = t.external_data?.find((e) => e.key === 'location')?.value;
    if (t.data_location === 1 && loc) locations.add(loc);
  }
  for (const loc of locations) {
    const target = path.resolve(model.baseDir, loc);
    let data: Uint8Array;
    try {
      data = fs.readFileSync(target);
    } catch {
      throw new AnalysisError(`external-data file '${loc}' of ${path.basename(model.path)} is missing (looked for ${target}); keep the sidecar files next to the .onnx model.`);
    }
    externalData.push({ path: loc, data });
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
