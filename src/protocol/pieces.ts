/**
 * Big reports reach the panel in two phases (no Node or VS Code imports: the host and the panel
 * share this). First a lean copy of the report — everything the verdicts, the flow chart, the
 * saturation and weight charts draw — in which each bulk tensor (per-step [T, B, H] tensors,
 * weight-gradient matrices, big outputs and inputs) keeps its dims but holds no data and a
 * `pending` id. Then the bulk data in pieces of at most PIECE_BYTES each, so no single message is
 * huge and the panel paints its answer while the rest is still on its way.
 */
import type { PanelModel } from './panel';
import type { Tensor } from '../report/types';

/** Reports whose bulk tensors hold fewer bytes travel whole, in one message. */
export const SPLIT_ABOVE_BYTES = 8 * 1024 * 1024;
/** The most bulk bytes one message carries. */
export const PIECE_BYTES = 8 * 1024 * 1024;
/** Tensors at least this big count as bulk (a T-long float64 curve at T = 10 000 is 80 KB: it stays). */
const BULK_MIN_BYTES = 256 * 1024;
/**
 * Subtrees that are never bulk — what the first paint draws — by their key at the report's top level
 * and inside a layer-direction. (By key anywhere, the LSTM's `input` gate was kept as if it were the
 * report's `input` settings: 41 MB in the first message at T = 10 000, H = 1024.)
 */
const KEEP_TOP = new Set(['model', 'runtime', 'input', 'objective', 'clipping']);
const KEEP_IN_DIRECTION = new Set(['jacobianNorm', 'metrics']);
/** Whether the value at `path` (keys from the report down) is never bulk. */
function kept(path: readonly string[]): boolean {
  if (path.length === 1) return KEEP_TOP.has(path[0]);
  // layers.<k>.directions.<d>.<key>
  return path.length === 5 && path[0] === 'layers' && path[2] === 'directions' && KEEP_IN_DIRECTION.has(path[4]);
}

/** A bulk tensor in a lean report: its data arrive later (`pending` is its id). */
export interface PendingTensor extends Tensor {
  pending: number;
  /** The element type of the data to come. */
  dtype: 'float32' | 'float64';
}

/** One message's worth of bulk data: values [offset, offset + data.length) of tensor `id`. */
export interface TensorPiece {
  id: number;
  offset: number;
  data: Float32Array | Float64Array;
}

export interface SplitModels {
  /** The models with every bulk tensor's data replaced by a PendingTensor. */
  lean: PanelModel[];
  /** The bulk tensors, by pending id. */
  bulk: Tensor[];
  bytes: number;
}

function isTensor(v: unknown): v is Tensor {
  return typeof v === 'object' && v !== null && Array.isArray((v as Tensor).dims) && (
    (v as Tensor).data instanceof Float32Array || (v as Tensor).data instanceof Float64Array);
}

export function isPending(t: Tensor | undefined): t is PendingTensor {
  return !!t && typeof (t as PendingTensor).pending === 'number';
}

/** Bytes of bulk tensors in the models (what splitting would defer). */
export function bulkBytes(models: PanelModel[]): number {
  let n = 0;
  const walk = (v: unknown, path: string[]): void => {
    if (v === null || typeof v !== 'object' || kept(path)) return;
    if (isTensor(v)) { if (v.data.byteLength >= BULK_MIN_BYTES) n += v.data.byteLength; return; }
    if (ArrayBuffer.isView(v)) return;
    for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  for (const m of models) walk(m.report, []);
  return n;
}

/**
 * The lean models and their bulk tensors, or null when the bulk is small enough to send whole.
 * Objects on the way to a bulk tensor are copied; everything else (and the bulk arrays) is shared.
 */
export function splitModels(models: PanelModel[], threshold = SPLIT_ABOVE_BYTES): SplitModels | null {
  const total = bulkBytes(models);
  if (total <= threshold) return null;
  const bulk: Tensor[] = [];
  const copy = (v: unknown, path: string[]): unknown => {
    if (v === null || typeof v !== 'object' || kept(path) || ArrayBuffer.isView(v)) return v;
    if (isTensor(v)) {
      if (v.data.byteLength < BULK_MIN_BYTES) return v;
      const p: PendingTensor = { dims: v.dims.slice(), data: new (v.data.constructor as Float32ArrayConstructor)(0), pending: bulk.length, dtype: v.data instanceof Float64Array ? 'float64' : 'float32' };
      bulk.push(v);
      return p;
    }
    if (Array.isArray(v)) return v.map((x, i) => copy(x, [...path, String(i)]));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = copy(x, [...path, k]);
    return out;
  };
  const lean = models.map((m) => ({ ...m, report: copy(m.report, []) as PanelModel['report'] }));
  return { lean, bulk, bytes: total };
}

/** The bulk data cut into messages of at most `maxBytes` each (each piece its own copy: a view would carry its whole buffer along). */
export function* pieceMessages(bulk: Tensor[], maxBytes = PIECE_BYTES): Generator<TensorPiece[]> {
  let batch: TensorPiece[] = [];
  let bytes = 0;
  for (const [id, t] of bulk.entries()) {
    const per = t.data.BYTES_PER_ELEMENT;
    for (let offset = 0; offset < t.data.length;) {
      const room = Math.max(1, Math.floor((maxBytes - bytes) / per));
      const n = Math.min(room, t.data.length - offset);
      batch.push({ id, offset, data: t.data.slice(offset, offset + n) });
      bytes += n * per;
      offset += n;
      if (bytes >= maxBytes) { yield batch; batch = []; bytes = 0; }
    }
  }
  if (batch.length) yield batch;
}

/**
 * The panel's side: collects pieces into full arrays and, once a tensor is complete, puts its data
 * into the lean report's PendingTensor (which then is a plain Tensor again).
 */
export class PieceCollector {
  private readonly targets = new Map<number, { tensor: PendingTensor; data: Float32Array | Float64Array; filled: number }>();
  /** The completed tensors by pending id: what pieceMessages() takes to send them on again. */
  readonly bulk: Tensor[] = [];
  private received = 0;
  readonly totalBytes: number;

  constructor(models: PanelModel[]) {
    let total = 0;
    const walk = (v: unknown): void => {
      if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return;
      if (isPending(v as Tensor)) {
        const t = v as PendingTensor;
        const n = t.dims.reduce((a, b) => a * b, 1);
        const data = t.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
        this.targets.set(t.pending, { tensor: t, data, filled: 0 });
        total += data.byteLength;
        return;
      }
      for (const x of Object.values(v)) walk(x);
    };
    for (const m of models) walk(m.report);
    this.totalBytes = total;
  }

  get receivedBytes(): number {
    return this.received;
  }

  get done(): boolean {
    return this.targets.size === 0;
  }

  /** Takes one message's pieces; returns the tensors it completed. */
  add(pieces: TensorPiece[]): Tensor[] {
    const completed: Tensor[] = [];
    for (const p of pieces) {
      const t = this.targets.get(p.id);
      if (!t) continue;
      if (!(p.data instanceof Float32Array || p.data instanceof Float64Array)) throw new TypeError(`a piece of tensor ${p.id} holds no float array`);
      if (p.offset < 0 || p.offset + p.data.length > t.data.length) throw new RangeError(`a piece of tensor ${p.id} does not fit (${p.offset} + ${p.data.length} > ${t.data.length})`);
      t.data.set(p.data, p.offset);
      t.filled += p.data.length;
      this.received += p.data.byteLength;
      if (t.filled >= t.data.length) {
        const tensor = t.tensor as Partial<PendingTensor> & Tensor;
        tensor.data = t.data;
        delete tensor.pending;
        delete tensor.dtype;
        this.targets.delete(p.id);
        this.bulk[p.id] = tensor;
        completed.push(tensor);
      }
    }
    return completed;
  }
}
