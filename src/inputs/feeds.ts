import * as fs from 'fs';
/**
 * The model's inputs (SPEC §5): `.npy` files the user names, else seeded random values — N(0, 1)
 * for float inputs, uniform rows for embedding indices. Symbolic dims resolve from the file,
 * `--dim`, or the recurrent path's sequence and batch axes (`--seq-len`, `--batch`).
 */
import { AnalysisError, UsageError } from '../onnx/errors';
import { printable } from '../onnx/files';
import { LoadedModel, tensorDims } from '../onnx/model';
import { DATA_TYPE_NAMES, DataType, ValueInfoProto, toNumber } from '../onnx/proto';
import { RecurrentNodeRef } from '../analysis/recurrent';
import { WIRE_ELEM_TYPE, WireTensor } from '../runtime/protocol';
import { AxisRole, AxisUse, embeddingIndexInputs, traceAxisRoles } from './axes';
import { convertForOnnx, npyLabel, readNpy } from './npy';
import { SeededRandom } from './random';

export interface InputOptions {
  /** input name → .npy path */
  files: Record<string, string>;
  seqLen?: number;
  batch?: number;
  seed: number;
  /** symbolic dim name (or `input:axis` for unnamed dims) → value */
  dims: Record<string, number>;
}

/** Streaming (SPEC v2 §9.1): N calls, and the inputs that carry the state between them. */
export interface CallsInputs {
  calls: number;
  /** State inputs: their file is the initial state; not given, zeros. */
  stateInputs: string[];
}

export interface ResolvedInputs {
  feeds: Record<string, WireTensor>;
  sources: Record<string, string>;
  seqLen: number;
  batch: number;
  /** Per input, its time (sequence) and batch axes where the recurrent path defines them (of one call's value). */
  axes: Record<string, { time?: number; batch?: number }>;
  /** With calls: the inputs fed per call, [N, ...] (files with a leading N axis, random inputs). */
  perCall: string[];
  /** Whether the model's declared shapes fix the sequence length. */
  seqFixed: boolean;
}

export const DEFAULT_SEQ_LEN = 32;
export const DEFAULT_BATCH = 1;

/** The inputs the caller must feed: graph inputs that are not initializers (IR < 4 lists both). */
export function feedableInputs(model: LoadedModel): ValueInfoProto[] {
  const inits = new Set(model.proto.graph.initializer.map((t) => t.name));
  return model.proto.graph.input.filter((v) => !inits.has(v.name));
}

type DimSpec = { value: number } | { param: string } | { unknown: true };

function dimSpecs(v: ValueInfoProto): DimSpec[] | null {
  const shape = v.type?.tensor_type?.shape;
  if (!shape) return null;
  return shape.dim.map((d, axis) => {
    const value = d.dim_value !== undefined && d.dim_value !== null ? toNumber(d.dim_value) : 0;
    if (value < 0) {
      throw new AnalysisError(`input '${printable(v.name)}' declares axis ${axis} with size ${value}; a dimension is a size ≥ 0 or a symbolic name — the model is corrupt, re-export it.`);
    }
    if (value > 0) return { value };
    if (d.dim_param) return { param: d.dim_param };
    return { unknown: true };
  });
}

/** Called once every input's shape is known, before random inputs are generated (the memory check). */
export type InputBudget = (plan: { bytes: number; seqLen: number; batch: number; seqFixed: boolean }) => void;

export function resolveInputs(model: LoadedModel, layers: RecurrentNodeRef[], opts: InputOptions, budget?: InputBudget,
  streaming?: CallsInputs): ResolvedInputs {
  const N = streaming?.calls ?? 1;
  const stateInputs = new Set(streaming?.stateInputs ?? []);
  const perCall = new Set<string>();
  const graph = model.proto.graph;
  const inputs = feedableInputs(model);
  const names = new Set(inputs.map((v) => v.name));
  for (const name of Object.keys(opts.files)) {
    if (!names.has(name)) {
      throw new UsageError(`--input ${name}=…: the model has no input named '${name}' (its inputs: ${[...names].join(', ') || 'none'}).`);
    }
  }
  const symbolic = new Set<string>();
  for (const v of inputs) {
    (dimSpecs(v) ?? []).forEach((s, axis) => {
      if ('param' in s) symbolic.add(s.param);
      else if ('unknown' in s) symbolic.add(`${v.name}:${axis}`);
    });
  }
  for (const key of Object.keys(opts.dims)) {
    if (!(Number.isInteger(opts.dims[key]) && opts.dims[key] > 0)) throw new UsageError(`--dim ${printable(key)}: the value must be a positive integer.`);
    if (!symbolic.has(key)) {
      const known = [...symbolic].map(printable);
      throw new UsageError(`--dim ${printable(key)}=…: the model's inputs have no symbolic dimension of that name (${known.length ? `they have: ${known.join(', ')}` : 'all their dimensions are static'}).`);
    }
  }
  const roles = traceAxisRoles(graph, layers);
  const initByName = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const constRows = (tensor: string): number | undefined => {
    const t = initByName.get(tensor);
    if (t) return tensorDims(t)[0];
    const c = graph.node.find((n) => n.op_type === 'Constant' && n.output[0] === tensor);
    const ct = c?.attribute.find((a) => a.name === 'value')?.t;
    return ct ? tensorDims(ct)[0] : undefined;
  };
  const embeddings = embeddingIndexInputs(graph, constRows);

  // Symbolic dims resolved so far (a name shared by several inputs takes one value).
  const bound = new Map<string, number>(Object.entries(opts.dims));
  const sources: Record<string, string> = {};
  const loaded = new Map<string, ReturnType<typeof readNpy>>();

  // 1. Files first: their shapes bind symbolic dims and the sequence/batch sizes.
  // Sequence lengths may differ between layers (an encoder and a decoder); within a layer they must agree.
  const seqFromData = new Map<number, number>();
  let batchFromData: number | undefined;
  const noteRole = (input: string, use: AxisUse | undefined, size: number, axis: number) => {
    const role = use?.role;
    if (use && role === 'seq') {
      const prev = seqFromData.get(use.layer);
      if (prev !== undefined && prev !== size) throw new AnalysisError(`input '${input}' has sequence length ${size} on axis ${axis}, but another input of the same recurrent layer has ${prev}; give inputs of one sequence length.`);
      seqFromData.set(use.layer, size);
    } else if (role === 'batch') {
      if (batchFromData !== undefined && batchFromData !== size) throw new AnalysisError(`input '${input}' has batch size ${size} on axis ${axis}, but another input has ${batchFromData}; give inputs of one batch size.`);
      batchFromData = size;
    }
  };
  for (const v of inputs) {
    const file = opts.files[v.name];
    if (!file) continue;
    const literal = literalScalar(file);
    let arr = literal ?? readNpy(file, v.name);
    const specs = dimSpecs(v);
    // A scalar input given as a one-element array (np.array([16000])) is that scalar.
    if (specs && specs.length === 0 && arr.shape.length === 1 && arr.shape[0] === 1) arr = { ...arr, shape: [] };
    loaded.set(v.name, arr);
    // Streaming: one more axis than the model's input, of length N, gives one value per call.
    if (streaming && specs && arr.shape.length === specs.length + 1) {
      if (stateInputs.has(v.name)) {
        throw new AnalysisError(`input '${printable(v.name)}': ${file} has shape (${arr.shape.join(', ')}), one axis more than the model's state input ${describeShape(specs)}; a state input takes the initial state only (the calls feed it back), so give one value of shape ${describeShape(specs)}.`);
      }
      if (arr.shape[0] !== N) {
        throw new AnalysisError(`input '${printable(v.name)}': ${file} has ${arr.shape[0]} values on its leading axis (shape (${arr.shape.join(', ')})) but the analysis runs ${N} calls; give one value per call (leading axis ${N}), pass --calls ${arr.shape[0]}, or give one value of shape ${describeShape(specs)} for every call.`);
      }
      perCall.add(v.name);
    }
    const callShape = perCall.has(v.name) ? arr.shape.slice(1) : arr.shape;
    if (specs) {
      if (specs.length !== callShape.length) {
        throw new AnalysisError(`input '${v.name}': ${file} has shape (${arr.shape.join(', ')}) but the model expects rank ${specs.length} (${describeShape(specs)}).`);
      }
      specs.forEach((s, axis) => {
        const size = callShape[axis];
        if ('value' in s && s.value !== size) {
          throw new AnalysisError(`input '${v.name}': ${file} has shape (${arr.shape.join(', ')}) but axis ${axis}${perCall.has(v.name) ? ' of each call\'s value' : ''} must be ${s.value} (model shape ${describeShape(specs)}).`);
        }
        if ('param' in s) {
          const prev = bound.get(s.param);
          if (prev !== undefined && prev !== size) throw new AnalysisError(`input '${v.name}': ${file} gives dim '${s.param}' = ${size}, but it is already ${prev} (from --dim or another input).`);
          bound.set(s.param, size);
        }
        noteRole(v.name, roles.get(v.name)?.get(axis), size, axis);
      });
    }
    sources[v.name] = literal ? `value:${file}` : `file:${file}`;
  }

  // 2. Sequence length and batch: data, flags, static dims of the recurrent path, defaults.
  const staticRole = (role: AxisRole): number | undefined => {
    for (const v of inputs) {
      const specs = dimSpecs(v);
      const r = roles.get(v.name);
      if (!specs || !r) continue;
      for (const [axis, rr] of r) if (rr.role === role && specs[axis] && 'value' in specs[axis]) return (specs[axis] as { value: number }).value;
    }
    return undefined;
  };
  const pick = (role: AxisRole, flag: number | undefined, fromData: number | undefined, fallback: number, flagName: string): number => {
    const fixed = staticRole(role);
    if (flag !== undefined && !(Number.isInteger(flag) && flag > 0)) throw new UsageError(`${flagName} must be a positive integer.`);
    if (fromData !== undefined) {
      if (flag !== undefined && flag !== fromData) throw new UsageError(`${flagName} ${flag} contradicts the input files, whose ${role === 'seq' ? 'sequence length' : 'batch size'} is ${fromData}.`);
      return fromData;
    }
    if (fixed !== undefined) {
      if (flag !== undefined && flag !== fixed) throw new AnalysisError(`${flagName} ${flag}: the model's ${role === 'seq' ? 'sequence length' : 'batch size'} is fixed at ${fixed} by its input shapes; re-export it with a dynamic axis to use another.`);
      return fixed;
    }
    return flag ?? fallback;
  };
  const firstSeq = seqFromData.size ? seqFromData.get(Math.min(...seqFromData.keys())) : undefined;
  let seqLen = pick('seq', opts.seqLen, firstSeq, DEFAULT_SEQ_LEN, '--seq-len');
  let batch = pick('batch', opts.batch, batchFromData, DEFAULT_BATCH, '--batch');

  // 3. Shapes of what was not given; then (after the caller's memory check) generate it.
  const feeds: Record<string, WireTensor> = {};
  const toGenerate: { v: ValueInfoProto; elemType: number; wire: WireTensor['type']; shape: number[]; n: number }[] = [];
  let bytes = 0;
  // A named symbolic dim is one size wherever it appears (ONNX): an input axis that shares its name
  // with a sequence or batch axis of another input takes that size (x [T, B, 8] beside lens [B]).
  for (const v of inputs) {
    if (loaded.has(v.name)) continue;
    const r = roles.get(v.name);
    (dimSpecs(v) ?? []).forEach((s, axis) => {
      const role = r?.get(axis)?.role;
      if ('param' in s && !bound.has(s.param) && (role === 'seq' || role === 'batch')) bound.set(s.param, role === 'seq' ? seqLen : batch);
    });
  }
  for (const v of inputs) {
    const elemType = v.type?.tensor_type?.elem_type ?? 0;
    const wire = WIRE_ELEM_TYPE[elemType];
    const arr = loaded.get(v.name);
    const name = printable(v.name);
    if (arr) {
      if (!wire || !['float32', 'float64', 'int32', 'int64'].includes(wire)) {
        throw new AnalysisError(`input '${name}' has element type ${DATA_TYPE_NAMES[elemType] ?? elemType}, which Gradient Lens cannot feed.`);
      }
      feeds[v.name] = { type: wire, dims: arr.shape, data: convertForOnnx(arr, elemType, npyLabel(opts.files[v.name], v.name)).data };
      bytes += feeds[v.name].data.byteLength;
      const rows = embeddings.get(v.name);
      if (rows !== undefined) checkTokenIds(feeds[v.name], rows, name, opts.files[v.name]);
      continue;
    }
    if (!v.type?.tensor_type) throw new AnalysisError(`input '${name}' is not a tensor (sequence, map or optional inputs are not supported); Gradient Lens analyses models with tensor inputs.`);
    const specs = dimSpecs(v);
    if (!specs) throw new AnalysisError(`input '${name}' declares no shape; pass it with --input ${name}=FILE.npy.`);
    const r = roles.get(v.name);
    const shape = specs.map((s, axis) => {
      if ('value' in s) return s.value;
      const role = r?.get(axis)?.role;
      const key = 'param' in s ? s.param : `${v.name}:${axis}`;
      const given = bound.get(key);
      if (given !== undefined) return given;
      const size = role === 'seq' ? seqLen : role === 'batch' ? batch : undefined;
      if (size === undefined) {
        throw new AnalysisError(`input '${name}' has ${'param' in s ? `a symbolic dimension '${printable(s.param)}'` : 'an unnamed dimension'} (axis ${axis}) that is neither the sequence nor the batch axis of a recurrent layer; pass --dim ${printable(key)}=VALUE or --input ${name}=FILE.npy.`);
      }
      if ('param' in s) bound.set(s.param, size);
      return size;
    });
    // Streaming: a state input not given starts from zeros; other inputs are drawn per call.
    if (stateInputs.has(v.name)) {
      if (elemType !== DataType.FLOAT && elemType !== DataType.DOUBLE) throw new AnalysisError(`state input '${name}' is ${DATA_TYPE_NAMES[elemType] ?? elemType}; give its initial value with --input ${name}=FILE.npy.`);
      const count = shape.reduce((p, q) => p * q, 1);
      feeds[v.name] = { type: wire, dims: shape, data: elemType === DataType.FLOAT ? new Float32Array(count) : new Float64Array(count) };
      sources[v.name] = 'zeros';
      continue;
    }
    if (streaming) { perCall.add(v.name); shape.unshift(N); }
    const n = shape.reduce((p, q) => p * q, 1);
    if (elemType === DataType.FLOAT || elemType === DataType.DOUBLE) {
      bytes += n * (elemType === DataType.FLOAT ? 4 : 8 + 4);
    } else if ((elemType === DataType.INT64 || elemType === DataType.INT32) && embeddings.has(v.name)) {
      bytes += n * (elemType === DataType.INT64 ? 8 : 4);
    } else if (elemType === DataType.INT64 || elemType === DataType.INT32) {
      const scalar = specs.length === 0;
      throw new AnalysisError(`input '${name}' is an integer tensor that does not index an embedding, so random values would be meaningless; pass it with --input ${name}=FILE.npy${scalar ? ` (or its value, e.g. --input ${name}=16000)` : ''}.`);
    } else {
      throw new AnalysisError(`input '${name}' has element type ${DATA_TYPE_NAMES[elemType] ?? elemType}; Gradient Lens generates float32/float64 and embedding-index inputs only — pass it with --input ${name}=FILE.npy.`);
    }
    toGenerate.push({ v, elemType, wire, shape, n });
  }
  // The sizes actually used on the recurrent path (a --dim on the sequence axis overrides --seq-len).
  let usedSeq: number | undefined;
  let usedBatch: number | undefined;
  for (const { v, shape } of toGenerate) {
    const lead = perCall.has(v.name) ? 1 : 0;
    for (const [axis, use] of roles.get(v.name) ?? []) {
      if (use.role === 'seq') usedSeq = Math.max(usedSeq ?? 0, shape[axis + lead]);
      else usedBatch = Math.max(usedBatch ?? 0, shape[axis + lead]);
    }
  }
  seqLen = usedSeq ?? seqLen;
  batch = usedBatch ?? batch;
  budget?.({ bytes, seqLen, batch, seqFixed: staticRole('seq') !== undefined });
  for (const { v, elemType, wire, shape, n } of toGenerate) {
    if (elemType === DataType.FLOAT || elemType === DataType.DOUBLE) {
      const samples = SeededRandom.forInput(opts.seed, v.name).normal(n);
      feeds[v.name] = { type: wire, dims: shape, data: elemType === DataType.FLOAT ? samples : Float64Array.from(samples) };
    } else {
      const ids = SeededRandom.forInput(opts.seed, v.name).uniformInt(n, embeddings.get(v.name)!);
      feeds[v.name] = { type: wire, dims: shape, data: elemType === DataType.INT64 ? BigInt64Array.from(ids, (x) => BigInt(x)) : Int32Array.from(ids) };
    }
    sources[v.name] = 'random';
  }
  const ordered: Record<string, string> = {};
  for (const v of inputs) if (sources[v.name]) ordered[v.name] = sources[v.name];
  const axes: ResolvedInputs['axes'] = {};
  for (const [name, r] of roles) {
    if (!names.has(name)) continue;
    const entry: { time?: number; batch?: number } = {};
    for (const [axis, use] of r) {
      if (use.role === 'seq' && entry.time === undefined) entry.time = axis;
      if (use.role === 'batch' && entry.batch === undefined) entry.batch = axis;
    }
    axes[name] = entry;
  }
  return { feeds, sources: ordered, seqLen, batch, axes, perCall: [...perCall], seqFixed: staticRole('seq') !== undefined };
}

/** Token ids must index the embedding's rows: −rows ≤ id < rows (Gather's rule), else one clear error. */
function checkTokenIds(t: WireTensor, rows: number, input: string, file: string): void {
  const data = t.data;
  for (let i = 0; i < data.length; i++) {
    const id = Number(data[i]);
    if (id < -rows || id >= rows) {
      throw new AnalysisError(`input '${input}' (${printable(file)}) holds the token id ${id} at flat index ${i}, but the embedding it indexes has ${rows} rows (ids 0 … ${rows - 1}); pass ids from the model's vocabulary.`);
    }
  }
}

function describeShape(specs: DimSpec[]): string {
  return `[${specs.map((s) => ('value' in s ? s.value : 'param' in s ? s.param : '?')).join(', ')}]`;
}

/**
 * `--input sr=16000`: a number where a file would be, when no file of that name exists, is a
 * scalar (integers as int64, others as float64; converted to the input's type like a file).
 */
export function literalScalar(text: string): ReturnType<typeof readNpy> | undefined {
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) || fs.existsSync(text)) return undefined;
  const v = Number(text);
  if (/^[-+]?\d+$/.test(text) && Number.isSafeInteger(v)) return { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(v)) };
  return { dtype: 'float64', shape: [], data: Float64Array.of(v) };
}
