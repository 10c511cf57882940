/**
 * Big reports reach the panel in two phases (no Node or VS Code imports: the host and the panel
 * share this). First a lean copy of the report — everything the verdicts, the flow chart, the
 * saturation and weight charts draw — in which each bulk tensor (per-step [T, B, H] tensors,
 * weight-gradient matrices, big outputs and inputs) keeps its dims but holds no data and a
 * `pending` id. Then the bulk data in pieces of at most PIECE_BYTES each, so no single message is
 * huge and the panel paints its answer while the rest is still on its way. In between, one message
 * of previews: the per-step tensors the heatmaps draw, decimated here at about display resolution
 * (HeatPreview), so the heatmaps paint right after the verdicts and sharpen when the data are in.
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
/**
 * How a heatmap shows the tensor at `path`, when one does: gradients by the max of |x| per bin,
 * gates and states by the mean (webview/src/view.ts heatSources).
 */
function heatKind(path: readonly string[]): HeatPreview['kind'] | undefined {
  if (!(path[0] === 'layers' && path[2] === 'directions')) return undefined;
  const key = path.slice(4).join('.');
  if (key === 'gradHidden' || key === 'gradCell') return 'max';
  if (key === 'hidden' || key === 'cell' || (path.length === 6 && path[4] === 'gates')) return 'mean';
  return undefined;
}

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
  /** For a [T, B, H] tensor the panel draws as a heatmap: its picture at display resolution (a `previews` message), drawn until the data are in. */
  preview?: HeatPreview;
  /** The panel stopped loading the data (they will not come). */
  stopped?: boolean;
}

/**
 * A [T, B, H] tensor decimated on the host for its heatmap (what the panel draws of it zoomed out,
 * before its data arrive). The value of (t, u) is the heatmap's default: the mean over the batch
 * of |x| (`max`: gradients) or of x (`mean`: gates and states). Bin (c, r) covers the steps
 * [⌊c·T/cols⌋, ⌊(c+1)·T/cols⌋) and the units [⌊r·H/rows⌋, ⌊(r+1)·H/rows⌋); `values[r·cols + c]` is the
 * max (NaN ignored; −Infinity when every value is NaN) or the mean (of the non-NaN values; NaN when
 * none) over it. `lo`, `hi`, `minPositive` are over every (t, u) (NaN ignored), so the colour scale
 * is the one the full data will give.
 */
export interface HeatPreview {
  kind: 'max' | 'mean';
  cols: number;
  rows: number;
  values: Float32Array;
  lo: number;
  hi: number;
  minPositive: number;
}

/** Bins of a tensor's preview, at most this many steps × units (the panel draws ≤ 1000 × 256 bins, zoomed out). */
export const PREVIEW_COLS = 512;
export const PREVIEW_ROWS = 128;
/** All previews of one delivery together stay under this many bytes (their grids shrink to fit). */
export const PREVIEW_BUDGET_BYTES = 4 * 1024 * 1024;

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
  /** The bulk tensors a heatmap draws (by pending id), and how: what previewsOf() decimates. */
  heatmaps: { id: number; kind: HeatPreview['kind'] }[];
}

/** A preview for the pending tensor `id`. */
export interface TensorPreview {
  id: number;
  preview: HeatPreview;
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
  const heatmaps: SplitModels['heatmaps'] = [];
  const copy = (v: unknown, path: string[]): unknown => {
    if (v === null || typeof v !== 'object' || kept(path) || ArrayBuffer.isView(v)) return v;
    if (isTensor(v)) {
      if (v.data.byteLength < BULK_MIN_BYTES) return v;
      const p: PendingTensor = { dims: v.dims.slice(), data: new (v.data.constructor as Float32ArrayConstructor)(0), pending: bulk.length, dtype: v.data instanceof Float64Array ? 'float64' : 'float32' };
      const kind = heatKind(path);
      // (A bulk tensor has data, so none of its dims is 0.)
      if (kind && v.dims.length === 3) heatmaps.push({ id: p.pending, kind });
      bulk.push(v);
      return p;
    }
    if (Array.isArray(v)) return v.map((x, i) => copy(x, [...path, String(i)]));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = copy(x, [...path, k]);
    return out;
  };
  const lean = models.map((m) => ({ ...m, report: copy(m.report, []) as PanelModel['report'] }));
  return { lean, bulk, bytes: total, heatmaps };
}

/**
 * The previews of a split's heatmap tensors, one at a time (the host can yield between them), their
 * grids shrunk alike so that all of them fit PREVIEW_BUDGET_BYTES: the `previews` message.
 */
export function* previewsOf(split: Pick<SplitModels, 'bulk' | 'heatmaps'>): Generator<TensorPreview> {
  const grid = (t: Tensor) => [Math.min(PREVIEW_COLS, t.dims[0]), Math.min(PREVIEW_ROWS, t.dims[2])];
  const full = split.heatmaps.reduce((n, w) => n + 4 * grid(split.bulk[w.id]).reduce((a, b) => a * b), 0);
  const shrink = full > PREVIEW_BUDGET_BYTES ? Math.sqrt(PREVIEW_BUDGET_BYTES / full) : 1;
  for (const w of split.heatmaps) {
    const t = split.bulk[w.id];
    const [cols, rows] = grid(t).map((n) => Math.max(1, Math.floor(n * shrink)));
    yield { id: w.id, preview: heatPreview(t, w.kind, cols, rows) };
  }
}

/** The bin of binStarts(length, n) holding item i: the last k with ⌊k·length/n⌋ ≤ i. */
export function binOf(i: number, length: number, n: number): number {
  return Math.ceil(((i + 1) * n) / length) - 1;
}

/** First index of each of `n` equal bins over `length` items, and `length` at the end: bin k is [at[k], at[k + 1]). */
export function binStarts(length: number, n: number): Int32Array {
  const at = new Int32Array(n + 1);
  for (let k = 0; k <= n; k++) at[k] = Math.floor((k * length) / n);
  return at;
}

/** The preview of a [T, B, H] tensor (see HeatPreview) on a cols × rows grid (cols ≤ T, rows ≤ H). */
export function heatPreview(t: Tensor, kind: HeatPreview['kind'], cols: number, rows: number): HeatPreview {
  const [T, B, H] = t.dims;
  if (t.dims.length !== 3 || cols < 1 || rows < 1 || cols > T || rows > H) throw new RangeError(`no ${cols} × ${rows} preview of a [${t.dims.join(', ')}] tensor`);
  const x = t.data;
  const abs = kind === 'max';
  const acc = new PreviewAccumulator(abs, cols, rows, binStarts(H, rows));
  const colAt = binStarts(T, cols);
  // The batch mean of |x| or x, summed in the heatmap's own order (B = 1: x itself, read in place).
  const line = B > 1 ? new Float64Array(H) : undefined;
  for (let c = 0; c < cols; c++) {
    for (let s = colAt[c]; s < colAt[c + 1]; s++) {
      const base = s * B * H;
      if (!line) {
        acc.add(x, base, c);
        continue;
      }
      line.fill(0);
      for (let b = 0; b < B; b++) {
        const o = base + b * H;
        for (let u = 0; u < H; u++) line[u] += abs ? Math.abs(x[o + u]) : x[o + u];
      }
      for (let u = 0; u < H; u++) line[u] /= B;
      acc.add(line, 0, c);
    }
  }
  return acc.preview(kind);
}

/** One pass over a preview's values, a step's H values at a time (written for speed: 10⁷ values in tens of ms). */
class PreviewAccumulator {
  private readonly best: Float64Array;
  private readonly sums: Float64Array;
  private readonly counts: Float64Array;
  private lo = Infinity;
  private hi = -Infinity;
  private minPositive = Infinity;

  constructor(private readonly abs: boolean, private readonly cols: number, private readonly rows: number, private readonly rowAt: Int32Array) {
    this.best = new Float64Array(abs ? cols * rows : 0).fill(-Infinity);
    this.sums = new Float64Array(abs ? 0 : cols * rows);
    this.counts = new Float64Array(abs ? 0 : cols * rows);
  }

  /** Step values v[o + u], u < H (|·| taken here when `abs` and v is the tensor itself), into column c. */
  add(v: Float32Array | Float64Array, o: number, c: number): void {
    let { lo, hi, minPositive } = this;
    const { rowAt, cols, abs } = this;
    for (let r = 0; r < this.rows; r++) {
      const i = r * cols + c;
      const end = o + rowAt[r + 1];
      if (abs) {
        let m = this.best[i];
        for (let u = o + rowAt[r]; u < end; u++) {
          const a = Math.abs(v[u]);
          if (a > m) m = a;
          if (a < lo) lo = a;
          if (a > 0 && a < minPositive) minPositive = a;
        }
        this.best[i] = m;
        if (m > hi) hi = m;
      } else {
        let sum = 0;
        let n = 0;
        for (let u = o + rowAt[r]; u < end; u++) {
          const a = v[u];
          if (a < lo) lo = a;
          if (a > hi) hi = a;
          if (a > 0 && a < minPositive) minPositive = a;
          if (a === a) {
            sum += a;
            n++;
          }
        }
        this.sums[i] += sum;
        this.counts[i] += n;
      }
    }
    this.lo = lo;
    this.hi = hi;
    this.minPositive = minPositive;
  }

  preview(kind: HeatPreview['kind']): HeatPreview {
    const { cols, rows, lo, hi, minPositive } = this;
    const values = new Float32Array(cols * rows);
    for (let i = 0; i < values.length; i++) values[i] = this.abs ? this.best[i] : this.counts[i] ? this.sums[i] / this.counts[i] : NaN;
    return { kind, cols, rows, values, lo, hi, minPositive };
  }
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

  /** Marks the tensors still pending as never to come (the panel's Stop). */
  stop(): void {
    for (const t of this.targets.values()) t.tensor.stopped = true;
  }

  /** Puts previews on their pending tensors (those still pending); returns how many it placed. */
  addPreviews(previews: TensorPreview[]): number {
    let n = 0;
    for (const p of previews) {
      const t = this.targets.get(p.id);
      if (!t) continue;
      t.tensor.preview = p.preview;
      n++;
    }
    return n;
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
        delete tensor.preview;
        this.targets.delete(p.id);
        this.bulk[p.id] = tensor;
        completed.push(tensor);
      }
    }
    return completed;
  }
}
