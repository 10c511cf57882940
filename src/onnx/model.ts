/**
 * Reading ONNX models: protobuf decoding, every tensor encoding (raw_data, typed fields,
 * external-data sidecar files) and writing generated models back.
 *
 * Large weights are never copied on reading: protobufjs returns `bytes` fields as views of the
 * file buffer, and external data is read only for the tensors that are asked for.
 */
import * as path from 'path';
import { ModelProtoType, TensorProtoType } from './schema';
import { allGraphs } from './graphs';
import { AnalysisError } from './errors';
import { AttributeProto, DataType, DATA_TYPE_NAMES, GraphProto, ModelProto, NodeProto, TensorProto, toNumber } from './proto';
import {
  externalDataFile, externalDataInteger, FileMessages, printable, readRegularFile, readRegularRange, regularFileSize,
} from './files';

export interface LoadedModel {
  /** Absolute path of the .onnx file. */
  path: string;
  /** Directory external-data locations are relative to. */
  baseDir: string;
  proto: ModelProto;
  /** Default-domain opset version the graph binds to. */
  opset: number;
  /** True when at least one initializer keeps its bytes in a sidecar file. */
  hasExternalData: boolean;
  /** The file's bytes; raw_data fields are views into them. */
  bytes: Uint8Array;
}

export type NumericArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array
  | Uint16Array | Int16Array | Uint32Array | BigUint64Array;

export function loadModel(file: string): LoadedModel {
  const abs = path.resolve(file);
  const name = printable(file);
  const bytes = readRegularFile(abs, {
    missing: () => `${name}: no such file; check the path of the model.`,
    notRegular: (kind) => `${name} is ${kind}, not an ONNX model file; pass the path of a .onnx file.`,
    unreadable: (reason) => `${name} could not be read (${reason}).`,
  });
  return decodeModel(bytes, abs);
}

export function decodeModel(bytes: Uint8Array, abs: string): LoadedModel {
  const name = path.basename(abs);
  if (bytes.length === 0) throw new AnalysisError(`${name} is empty (0 bytes): it is not an ONNX model; re-export it.`);
  const sniff = sniffNonOnnx(bytes);
  if (sniff) throw new AnalysisError(`${name} is not an ONNX model (it looks like ${sniff}); pass a .onnx file exported by torch.onnx.export, tf2onnx or similar.`);
  let proto: ModelProto;
  try {
    proto = ModelProtoType.decode(bytes) as unknown as ModelProto;
  } catch (e) {
    const msg = (e as Error).message;
    if (/index out of range/.test(msg)) {
      throw new AnalysisError(`${name} is truncated or corrupt: the protobuf data ends early (${bytes.length} bytes read); re-export or re-download the model.`);
    }
    throw new AnalysisError(`${name} is not a valid ONNX model: its protobuf data cannot be decoded (${msg}); re-export the model.`);
  }
  if (!proto.graph || toNumber(proto.ir_version) <= 0 || !proto.opset_import || proto.opset_import.length === 0) {
    throw new AnalysisError(`${name} is not an ONNX model: it decodes as protobuf but has no ${!proto.graph ? 'graph' : toNumber(proto.ir_version) <= 0 ? 'ir_version' : 'opset_import'}; pass a .onnx model file.`);
  }
  normalizeGraph(proto);
  // Two values under one name: onnxruntime takes the first, a reader of the last would analyse
  // another tensor than the one that ran. ONNX forbids it (a graph is in SSA form).
  for (const g of allGraphs(proto.graph)) {
    const seen = new Map<string, TensorProto>();
    for (const t of g.initializer ?? []) {
      const tname = t.name ?? '';
      const first = seen.get(tname);
      // (Byte-identical copies, as some older converters wrote them, mean one value.)
      if (first && !sameTensorContent(first, t)) throw new AnalysisError(`${name} defines the weight '${printable(tname)}' twice (two initializers of that name${g === proto.graph ? '' : ` in subgraph '${printable(g.name ?? '')}'`}); ONNX gives every tensor one value — remove the duplicate or re-export the model.`);
      seen.set(tname, t);
      // Inline bytes that do not fit the shape: said here, where the file's name is known.
      const bytesPer = BYTES_PER[t.data_type];
      if (!isExternal(t) && t.raw_data && t.raw_data.length > 0 && bytesPer) {
        const dims = tensorDims(t);
        const needed = elementCount(dims) * bytesPer;
        if (t.raw_data.length !== needed) throw new AnalysisError(`${name}: weight '${printable(tname)}' holds ${t.raw_data.length} bytes but its shape [${dims.join(', ')}] of ${DATA_TYPE_NAMES[t.data_type]} needs ${needed}; the model is corrupt — re-export it.`);
      }
    }
  }
  const opsetEntry = proto.opset_import.find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = opsetEntry ? toNumber(opsetEntry.version) : 0;
  const hasExternalData = proto.graph.initializer.some(isExternal);
  return { path: abs, baseDir: path.dirname(abs), proto, opset, hasExternalData, bytes };
}

/** protobufjs leaves absent repeated fields as shared empty arrays; give every graph its own. */
function normalizeGraph(model: ModelProto): void {
  const g = model.graph;
  g.node = g.node ?? [];
  g.initializer = g.initializer ?? [];
  g.input = g.input ?? [];
  g.output = g.output ?? [];
  g.value_info = g.value_info ?? [];
}

/** Recognise common files people pass by mistake, so the error can say what the file is. */
function sniffNonOnnx(b: Uint8Array): string | undefined {
  const head = Buffer.from(b.subarray(0, 16)).toString('latin1');
  if (head.startsWith('\x93NUMPY')) return 'a NumPy .npy array';
  if (head.startsWith('PK\x03\x04')) return 'a zip archive (a PyTorch .pt/.pth checkpoint or a Keras file?)';
  if (head.startsWith('\x89HDF')) return 'an HDF5 file (a Keras .h5 model? convert it with tf2onnx)';
  if (head.startsWith('\x80\x02') || head.startsWith('\x80\x04')) return 'a Python pickle';
  if (head.startsWith('\x89PNG')) return 'a PNG image';
  if (head.startsWith('pytorch') ) return 'a TorchScript file';
  if (/^\s*[{[]/.test(head)) return 'JSON text';
  if (/^(<\?xml|<html|<!DOCTYPE)/i.test(head)) return 'an XML/HTML document';
  // ONNX files start with field 1 (ir_version, varint: 0x08) or another known field tag.
  const first = b[0];
  const validFirstTags = new Set([0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72, 0xa2, 0xca]);
  if (!validFirstTags.has(first)) {
    const printable = Array.from(b.subarray(0, Math.min(64, b.length))).every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127));
    return printable ? 'a text file' : 'binary data that is not protobuf';
  }
  return undefined;
}

export function isExternal(t: TensorProto): boolean {
  return t.data_location === 1;
}

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map(toNumber);
}

function elementCount(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

const BYTES_PER: Record<number, number> = {
  [DataType.FLOAT]: 4, [DataType.DOUBLE]: 8, [DataType.INT32]: 4, [DataType.INT64]: 8, [DataType.UINT8]: 1,
  [DataType.INT8]: 1, [DataType.UINT16]: 2, [DataType.INT16]: 2, [DataType.BOOL]: 1, [DataType.FLOAT16]: 2,
  [DataType.BFLOAT16]: 2, [DataType.UINT32]: 4, [DataType.UINT64]: 8,
};

/** The raw little-endian bytes of a tensor stored as raw_data or in an external file, else undefined. */
export function tensorRawBytes(t: TensorProto, baseDir: string): Uint8Array | undefined {
  if (isExternal(t)) return readExternal(t, baseDir);
  if (t.raw_data && t.raw_data.length > 0) return t.raw_data;
  return undefined;
}

/** Where a tensor's external data lies: the checked file inside the model's folder, and the byte range. */
export interface ExternalDataRef {
  location: string;
  file: string;
  offset: number;
  /** Bytes to read; undefined = to the end of the file (ONNX allows leaving `length` out). */
  length: number | undefined;
}

/**
 * A tensor's external-data entries, checked before any byte is read: the location must name a
 * file inside the model's folder (files.ts), offset and length must be non-negative integers.
 */
export function externalDataRef(t: TensorProto, baseDir: string): ExternalDataRef {
  const entries = new Map((t.external_data ?? []).map((e) => [e.key, e.value]));
  const location = entries.get('location');
  const tname = t.name ?? '(unnamed)';
  if (!location) throw new AnalysisError(`tensor '${printable(tname)}' is marked as external data but names no location; re-save the model with onnx.save(..., save_as_external_data=True).`);
  const file = externalDataFile(baseDir, location, tname);
  const offset = entries.has('offset') ? externalDataInteger(entries.get('offset')!, 'offset', tname, location) : 0;
  const length = entries.has('length') ? externalDataInteger(entries.get('length')!, 'length', tname, location) : undefined;
  return { location, file, offset, length };
}

/** The external-data reference of every initializer stored outside the model, Loop/Scan/If bodies included. */
export function externalDataRefs(model: LoadedModel): (ExternalDataRef & { tensor: string })[] {
  return [model.proto.graph, ...functionGraphs(model.proto)].flatMap(allGraphs).flatMap((g) => graphTensors(g).filter(isExternal)
    .map((t) => ({ ...externalDataRef(t, model.baseDir), tensor: t.name ?? '(unnamed)' })));
}

/** Whether two initializers hold the same type, shape and stored bytes (external references included). */
function sameTensorContent(a: TensorProto, b: TensorProto): boolean {
  const key = (t: TensorProto) => JSON.stringify([t.data_type, (t.dims ?? []).map(String), t.data_location ?? 0, t.external_data ?? [],
    ...(['float_data', 'int32_data', 'int64_data', 'double_data', 'uint64_data', 'string_data'] as const).map((f) => {
      const v = (t as unknown as Record<string, ArrayLike<unknown> | undefined>)[f];
      return v ? Array.from(v, String) : [];
    })]);
  const bytesEqual = (x?: Uint8Array, y?: Uint8Array) => (x?.length ?? 0) === (y?.length ?? 0) && (!x || !y || Buffer.from(x.buffer, x.byteOffset, x.length).equals(Buffer.from(y.buffer, y.byteOffset, y.length)));
  return key(a) === key(b) && bytesEqual(a.raw_data, b.raw_data);
}

/** A model-local function (FunctionProto, typed loosely in proto.ts): its nodes may hold tensors too. */
export interface LocalFunction { name?: string; node?: NodeProto[] }

/** Each model-local function's nodes as a graph (no inputs, outputs or initializers of its own). */
export function functionGraphs(proto: ModelProto): GraphProto[] {
  return ((proto.functions ?? []) as LocalFunction[]).map((f) => ({ name: f.name ?? '', node: f.node ?? [], input: [], output: [], initializer: [], value_info: [] }));
}

/** A SparseTensorProto's parts (decoded, typed loosely in proto.ts). */
interface SparseTensor { values?: TensorProto; indices?: TensorProto; dims?: unknown[] }
/** An attribute with the sparse fields proto.ts leaves untyped. */
type SparseAttribute = AttributeProto & { sparse_tensor?: unknown; sparse_tensors?: unknown[] };

/**
 * A copy of `g` with `f` applied to every tensor the graph itself holds — its initializers (unless
 * `initializers` is false), sparse initializers' values and indices, and its nodes' attribute
 * tensors (Constant's value, sparse_value …), any of which may name external data — and
 * `subgraph` to the graphs its nodes' attributes hold (If branches, Loop/Scan bodies).
 * The one list of where tensors live: graphTensors reads it, the runtime file's inlining maps it.
 */
export function mapGraphTensors(g: GraphProto, f: (t: TensorProto) => TensorProto,
  { initializers = true, subgraph = (x: GraphProto) => x }: { initializers?: boolean; subgraph?: (x: GraphProto) => GraphProto } = {}): GraphProto {
  const sparse = (s: unknown): unknown => {
    const sp = s as SparseTensor;
    return { ...sp, ...(sp.values ? { values: f(sp.values) } : {}), ...(sp.indices ? { indices: f(sp.indices) } : {}) };
  };
  return {
    ...g,
    initializer: initializers ? (g.initializer ?? []).map(f) : g.initializer,
    ...(g.sparse_initializer ? { sparse_initializer: g.sparse_initializer.map(sparse) } : {}),
    node: (g.node ?? []).map((n) => ({
      ...n,
      attribute: n.attribute.map((a: SparseAttribute) => ({
        ...a,
        ...(a.t ? { t: f(a.t) } : {}),
        ...(a.tensors ? { tensors: a.tensors.map(f) } : {}),
        ...(a.sparse_tensor ? { sparse_tensor: sparse(a.sparse_tensor) } : {}),
        ...(a.sparse_tensors ? { sparse_tensors: a.sparse_tensors.map(sparse) } : {}),
        ...(a.g ? { g: subgraph(a.g) } : {}),
        ...(a.graphs ? { graphs: a.graphs.map(subgraph) } : {}),
      })),
    })),
  };
}

/** Every tensor a graph itself holds (not its subgraphs'), as mapGraphTensors lists them. */
export function graphTensors(g: GraphProto, opts: { initializers?: boolean } = {}): TensorProto[] {
  const out: TensorProto[] = [];
  mapGraphTensors(g, (t) => { out.push(t); return t; }, opts);
  return out;
}

/** File messages for an external-data sidecar of tensor `tname`. */
export function sidecarMessages(location: string, file: string, tname?: string): FileMessages {
  const of = tname ? ` of tensor '${printable(tname)}'` : '';
  return {
    missing: () => `external-data file '${printable(location)}'${of} is missing (looked for ${printable(file)}); keep the sidecar files next to the .onnx model.`,
    notRegular: (kind) => `external-data file '${printable(location)}'${of} is ${kind}, not a regular file; Gradient Lens reads external data only from regular files next to the model.`,
    unreadable: (reason) => `external-data file '${printable(location)}'${of} could not be read (${reason}).`,
  };
}

function readExternal(t: TensorProto, baseDir: string): Uint8Array {
  const ref = externalDataRef(t, baseDir);
  const tname = t.name ?? '(unnamed)';
  const dims = tensorDims(t);
  const bytesPer = BYTES_PER[t.data_type];
  const expected = bytesPer ? elementCount(dims) * bytesPer : undefined;
  const messages = sidecarMessages(ref.location, ref.file, tname);
  const size = regularFileSize(ref.file, messages);
  const len = ref.length ?? expected ?? size - ref.offset;
  if (ref.offset + len > size || len < 0) {
    throw new AnalysisError(`external-data file '${printable(ref.location)}' is too short for tensor '${printable(tname)}' (needs bytes ${ref.offset}..${ref.offset + len}, file has ${size}); the sidecar file is truncated or belongs to another model.`);
  }
  return readRegularRange(ref.file, ref.offset, len, messages);
}

/**
 * The values of a numeric tensor as a typed array of its own type (float16/bfloat16 widen to
 * Float32Array). Works for raw_data, the typed *_data fields and external data.
 */
export function tensorValues(t: TensorProto, baseDir: string): NumericArray {
  const dims = tensorDims(t);
  const n = elementCount(dims);
  const tname = t.name ?? '(unnamed)';
  const raw = tensorRawBytes(t, baseDir);
  const dt = t.data_type;
  if (raw) {
    const bytesPer = BYTES_PER[dt];
    if (!bytesPer) throw new AnalysisError(`tensor '${tname}' has data type ${DATA_TYPE_NAMES[dt] ?? dt}, which Gradient Lens cannot read.`);
    if (raw.length !== n * bytesPer) {
      throw new AnalysisError(`tensor '${tname}' holds ${raw.length} bytes but its shape [${dims.join(', ')}] of ${DATA_TYPE_NAMES[dt]} needs ${n * bytesPer}; the model is corrupt.`);
    }
    return fromRaw(dt, raw, n);
  }
  let out: NumericArray;
  switch (dt) {
    case DataType.FLOAT: out = Float32Array.from(t.float_data ?? []); break;
    case DataType.DOUBLE: out = Float64Array.from(t.double_data ?? []); break;
    case DataType.INT32: out = Int32Array.from(t.int32_data ?? []); break;
    case DataType.INT64: out = BigInt64Array.from((t.int64_data ?? []).map((v) => BigInt(typeof v === 'number' ? v : v.toString()))); break;
    case DataType.UINT64: out = BigUint64Array.from((t.uint64_data ?? []).map((v) => BigInt(typeof v === 'number' ? v : v.toUnsigned().toString()))); break;
    case DataType.UINT8: case DataType.BOOL: out = Uint8Array.from(t.int32_data ?? []); break;
    case DataType.INT8: out = Int8Array.from(t.int32_data ?? []); break;
    case DataType.UINT16: out = Uint16Array.from(t.int32_data ?? []); break;
    case DataType.INT16: out = Int16Array.from(t.int32_data ?? []); break;
    case DataType.UINT32: out = Uint32Array.from((t.uint64_data ?? []).map(toNumber)); break;
    case DataType.FLOAT16: out = Float32Array.from((t.int32_data ?? []).map(halfToFloat)); break;
    case DataType.BFLOAT16: out = Float32Array.from((t.int32_data ?? []).map((b) => bfloatToFloat(b))); break;
    default:
      throw new AnalysisError(`tensor '${tname}' has data type ${DATA_TYPE_NAMES[dt] ?? dt}, which Gradient Lens cannot read.`);
  }
  if (out.length !== n) {
    throw new AnalysisError(`tensor '${tname}' holds ${out.length} values but its shape [${dims.join(', ')}] needs ${n}; the model is corrupt.`);
  }
  return out;
}

function fromRaw(dt: number, raw: Uint8Array, n: number): NumericArray {
  // Typed-array views need aligned offsets; copy only when the view would be misaligned.
  const view = <T>(Ctor: { new (b: ArrayBufferLike, o: number, l: number): T; BYTES_PER_ELEMENT: number }): T => {
    const aligned = raw.byteOffset % Ctor.BYTES_PER_ELEMENT === 0 ? raw : new Uint8Array(raw);
    return new Ctor(aligned.buffer, aligned.byteOffset, n);
  };
  switch (dt) {
    case DataType.FLOAT: return view(Float32Array);
    case DataType.DOUBLE: return view(Float64Array);
    case DataType.INT32: return view(Int32Array);
    case DataType.INT64: return view(BigInt64Array);
    case DataType.UINT64: return view(BigUint64Array);
    case DataType.UINT32: return view(Uint32Array);
    case DataType.UINT8: case DataType.BOOL: return view(Uint8Array);
    case DataType.INT8: return view(Int8Array);
    case DataType.UINT16: return view(Uint16Array);
    case DataType.INT16: return view(Int16Array);
    case DataType.FLOAT16: { const h = view(Uint16Array); return Float32Array.from(h, halfToFloat); }
    case DataType.BFLOAT16: { const h = view(Uint16Array); return Float32Array.from(h, bfloatToFloat); }
    default: throw new AnalysisError(`data type ${DATA_TYPE_NAMES[dt] ?? dt} cannot be read.`);
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const bfScratch = new DataView(new ArrayBuffer(4));
function bfloatToFloat(b: number): number {
  bfScratch.setUint32(0, (b & 0xffff) << 16);
  return bfScratch.getFloat32(0);
}

/** A float tensor's values widened to Float64Array (for metrics on weights). */
export function tensorAsFloat64(t: TensorProto, baseDir: string): Float64Array {
  const v = tensorValues(t, baseDir);
  if (v instanceof BigInt64Array || v instanceof BigUint64Array) return Float64Array.from(v, Number);
  return new Float64Array(v as ArrayLike<number>); // a native conversion; Float64Array.from iterates
}

export function encodeModel(model: ModelProto): Uint8Array {
  return ModelProtoType.encode(model as unknown as Record<string, unknown>).finish();
}

export function decodeTensor(bytes: Uint8Array): TensorProto {
  return TensorProtoType.decode(bytes) as unknown as TensorProto;
}

/** Build a float32/int64/int32 initializer from values (used by generated graphs). */
export function makeTensor(name: string, dims: number[], data: Float32Array | Int32Array | BigInt64Array | Float64Array | Uint8Array, dataType?: number): TensorProto {
  const dt = dataType ?? (data instanceof Float32Array ? DataType.FLOAT : data instanceof Float64Array ? DataType.DOUBLE
    : data instanceof Int32Array ? DataType.INT32 : data instanceof BigInt64Array ? DataType.INT64 : DataType.BOOL);
  return {
    name,
    dims,
    data_type: dt,
    raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}
