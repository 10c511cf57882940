/**
 * Writes a Report as JSON (SPEC.md §7), streaming: a full report of T = 4000, H = 256 is tens of
 * MB, so the text is produced piece by piece and handed to the stream in chunks of about 64 KiB,
 * waiting for 'drain' whenever the stream asks to (SPEC.md §6). No whole-report string is built.
 *
 * Layout: objects and arrays of non-numbers one entry per line (2-space indent); number lists,
 * typed arrays included, on one line.
 *
 * Numbers: float32 data (Float32Array) is printed with the fewest significant digits in 7 … 9 that
 * read back to the same float32 (trailing zeros dropped), so Math.fround(JSON value) === original;
 * float64 data and plain numbers use JavaScript's shortest round-trip form (String(v)); integers
 * print plainly. NaN and ±Infinity are not JSON: they are written as null, and the report's
 * `warnings` in the file gain a line saying how many there were and where.
 */
import * as fs from 'fs';
import * as os from 'os';
import { AnalysisError, CancelledError } from '../onnx/errors';
import type { Report, TensorFileInfo, TensorFileRef } from './types';
import { metricsOnly } from './detail';
import { temporaryName } from './outputPaths';
import { FormatPool, PARALLEL_MIN_NUMBERS, startFormatPool } from './formatPool';

export type ReportDetail = 'full' | 'metrics';

export interface WriteReportOptions {
  /** 'metrics' leaves out the bulk tensors and says so in `omitted` (detail.ts). */
  detail?: ReportDetail;
  /** Aborting stops the writing, removes a temporary file and rejects with CancelledError. */
  signal?: AbortSignal;
  /** Helper threads for formatting big float32 arrays (formatPool.ts); default one fewer than the CPUs, at most 3; 0 for none. */
  helperThreads?: number;
  /** The file to name in an error when `out` is a stand-in for it (a name the caller renames later). */
  shownAs?: string;
  /**
   * Write every float32 tensor's values to this binary file instead of into the JSON (`--tensors`):
   * raw little-endian float32, one tensor after another; the JSON's `data` then says where each one
   * is (TensorFileRef) and a top-level `tensorFile` describes the file. Only with a file `out`;
   * both are written under temporary names and put in place together (renameTogether).
   */
  tensorFile?: TensorFileOptions;
}

export interface TensorFileOptions {
  /** Where to write it (a stand-in the caller renames later is fine: see `reference`). */
  path: string;
  /** The file as the JSON names it: relative to the JSON's folder. */
  reference: string;
  /** The file to name in an error when `path` is a stand-in for it. */
  shownAs?: string;
}

export { PER_STEP_KEYS } from './detail';

/** Top-level keys in the order of SPEC.md §7 (v2 adds inputGrads); other keys follow them and `warnings` always comes last. */
const TOP_LEVEL_ORDER = ['schema', 'model', 'runtime', 'input', 'objective', 'omitted', 'outputs', 'inputGrads', 'layers', 'clipping'];

const FLUSH_CHARS = 64 * 1024;
/** The largest single write of formatted numbers (a stream still gets them in pieces it can push back on). */
const BYTES_PER_WRITE = FLUSH_CHARS;
/** How much formatted text may wait in the stream before the writer waits for 'drain'. */
const MAX_QUEUED_BYTES = 1024 * 1024;
const NUMBERS_PER_PIECE = 4096;

/**
 * Writes `report` to a stream, to standard output ('-') or to a file. A file is written as
 * `<path>.tmp-<pid>-<random>` and renamed into place only when complete; on any failure or abort the
 * temporary file is removed, so no half-written report is ever left under `path`. A stream passed
 * in (and standard output) is written to but not ended.
 */
export async function writeReportJson(
  report: Report,
  out: NodeJS.WritableStream | string,
  opts: WriteReportOptions = {},
): Promise<void> {
  const detail = opts.detail ?? 'full';
  // 'metrics': the report without its bulk tensors, with `omitted` saying what was left out (detail.ts).
  if (detail === 'metrics') report = metricsOnly(report);
  const signal = opts.signal;
  if (signal?.aborted) throw new CancelledError();
  if (opts.tensorFile && (typeof out !== 'string' || out === '-')) throw new Error('internal error: a tensor file goes with a JSON file, not a stream');
  if (typeof out !== 'string') {
    await writeToStream(report, out, signal, opts.helperThreads);
    return;
  }
  if (out === '-') {
    await writeToStream(report, process.stdout, signal, opts.helperThreads);
    return;
  }
  const path = out;
  // Fresh names, created exclusively (O_EXCL): never follow a link or reuse a file placed there.
  const tf = opts.tensorFile;
  const jsonTarget: Target = { tmp: temporaryName(path), final: path, what: 'the JSON report', shown: opts.shownAs ?? path };
  const tensorTarget: Target | undefined = tf ? { tmp: temporaryName(tf.path), final: tf.path, what: 'the tensor file', shown: tf.shownAs ?? tf.path } : undefined;
  const targets = [jsonTarget, ...(tensorTarget ? [tensorTarget] : [])];
  // Each stream keeps an error listener until it is closed: a write failing late (ENOSPC after the
  // last write call) is an error to report, never an unhandled 'error' event.
  const streams: { target: Target; stream: fs.WriteStream; error?: Error }[] = [];
  const open = (target: Target): fs.WriteStream => {
    const entry: (typeof streams)[number] = { target, stream: fs.createWriteStream(target.tmp, { flags: 'wx' }) };
    entry.stream.on('error', (e: Error) => { entry.error ??= e; });
    streams.push(entry);
    return entry.stream;
  };
  let stage = jsonTarget;
  try {
    const file = open(jsonTarget);
    const tensors = tensorTarget ? new TensorSink(open(tensorTarget), tf!.reference, signal) : undefined;
    try {
      await writeToStream(report, file, signal, opts.helperThreads, tensors);
    } catch (e) {
      if (tensors?.failed) stage = tensorTarget!;
      throw e;
    }
    for (const s of streams) {
      stage = s.target;
      await closeFile(s.stream, true);
      if (s.error) throw s.error;
    }
    // Both complete: into place together (an earlier pair is restored if the second rename fails).
    await renameTogether([...targets].reverse().map((t) => [t.tmp, t.final]));
  } catch (e) {
    for (const s of streams) await closeFile(s.stream, false).catch(() => undefined);
    // (A temporary name someone else had taken, EEXIST, is theirs: left alone; ours go.)
    const taken = (e as NodeJS.ErrnoException).code === 'EEXIST' ? (e as NodeJS.ErrnoException).path : undefined;
    for (const t of targets) if (t.tmp !== taken) await fs.promises.rm(t.tmp, { force: true }).catch(() => undefined);
    if (e instanceof CancelledError) throw e;
    // File-system failures (ENOENT, EACCES, ENOSPC, …) are the user's to fix; anything else is a bug to surface as is.
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') throw e;
    if (e instanceof RenameError) stage = targets.find((t) => t.final === e.final) ?? stage;
    throw new AnalysisError(`${stage.what} could not be written to ${stage.shown} (${(e as Error).message}); ${fsAdvice(code)}`);
  }
}

interface Target { tmp: string; final: string; what: string; shown: string }

/** What to do about a file-system error, by its code. */
export function fsAdvice(code: string): string {
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'the disk (or your quota) is full: free some space or choose another folder.';
  return 'check that its folder exists and is writable.';
}

/** A rename of `renameTogether` that failed: which file it was to make. */
export class RenameError extends Error {
  constructor(readonly final: string, cause: NodeJS.ErrnoException) {
    super(cause.message);
    (this as NodeJS.ErrnoException).code = cause.code;
  }
}

/**
 * Renames each [from, to] in order, as one step. One file: a plain rename, which replaces `to`
 * at once (it never goes missing). Several: the file already at each `to` is kept under a link
 * (or a copy where links are not possible) while the rename replaces it, and is put back if a
 * later rename fails (the new files then go), so a failure never leaves the new half of a set
 * beside the old half of another; the kept files go once all are in place.
 */
export async function renameTogether(moves: [string, string][]): Promise<void> {
  const rename = async (from: string, to: string) => {
    try {
      await fs.promises.rename(from, to);
    } catch (e) {
      throw new RenameError(to, e as NodeJS.ErrnoException);
    }
  };
  if (moves.length === 1) return rename(...moves[0]);
  const done: { to: string; kept?: string; moved: boolean }[] = [];
  try {
    for (const [from, to] of moves) {
      let kept: string | undefined = temporaryName(to);
      try {
        await fs.promises.link(to, kept);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') kept = undefined; // nothing there yet
        else {
          try {
            await fs.promises.copyFile(to, kept, fs.constants.COPYFILE_EXCL);
          } catch {
            throw new RenameError(to, e as NodeJS.ErrnoException);
          }
        }
      }
      const d = { to, kept, moved: false };
      done.push(d);
      await rename(from, to);
      d.moved = true;
    }
  } catch (e) {
    for (const d of done.reverse()) {
      // (Not moved: `to` is still the kept file — a rename between two links of one file does nothing.)
      if (!d.moved) { if (d.kept) await fs.promises.rm(d.kept, { force: true }).catch(() => undefined); }
      else if (d.kept) await fs.promises.rename(d.kept, d.to).catch(() => undefined);
      else await fs.promises.rm(d.to, { force: true }).catch(() => undefined);
    }
    throw e;
  }
  for (const d of done) if (d.kept) await fs.promises.rm(d.kept, { force: true }).catch(() => undefined);
}

/**
 * The tensor file being written: each float32 array's bytes as they are in memory (little-endian
 * on every platform Node runs Gradient Lens on; checked), handed to the stream without copies,
 * waiting for 'drain' like the JSON's sink.
 */
class TensorSink {
  bytes = 0;
  tensors = 0;
  /** Set when the tensor file's stream failed (the error is then its, not the JSON's). */
  failed = false;
  private error: Error | null = null;

  constructor(readonly stream: NodeJS.WritableStream, readonly reference: string, private readonly signal: AbortSignal | undefined) {
    if (os.endianness() !== 'LE') throw new Error('internal error: tensor files are little-endian float32; this machine is big-endian');
    stream.on('error', (e: Error) => { this.error ??= e; });
  }

  /** Appends the array's values; returns where they are. */
  async add(arr: Float32Array): Promise<TensorFileRef> {
    const ref: TensorFileRef = { file: this.reference, dtype: 'float32', byteOffset: this.bytes, length: arr.length };
    const all = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
    for (let a = 0; a < all.length; a += TENSOR_WRITE_BYTES) {
      try {
        const more = this.stream.write(all.subarray(a, a + TENSOR_WRITE_BYTES));
        if (!more) await drained(this.stream, this.signal, () => this.error);
      } catch (e) {
        if (!(e instanceof CancelledError)) this.failed = true;
        throw e;
      }
      if (this.signal?.aborted) throw new CancelledError();
      if (this.error) { this.failed = true; throw this.error; }
    }
    this.bytes += all.length;
    this.tensors++;
    return ref;
  }

  info(): TensorFileInfo {
    return { path: this.reference, dtype: 'float32', byteOrder: 'little-endian', bytes: this.bytes, tensors: this.tensors };
  }
}

/** Slices of a tensor handed to the tensor file's stream at a time. */
const TENSOR_WRITE_BYTES = 4 * 2 ** 20;

function closeFile(file: fs.WriteStream, flush: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    if (file.closed) {
      resolve();
      return;
    }
    file.once('close', () => resolve());
    file.once('error', reject);
    if (flush) file.end();
    else file.destroy();
  });
}

async function writeToStream(
  report: Report,
  stream: NodeJS.WritableStream,
  signal: AbortSignal | undefined,
  helperThreads: number | undefined,
  tensors?: TensorSink,
): Promise<void> {
  const sink = new ChunkedSink(stream, signal);
  const writer = new ReportWalker(sink, helperThreads, tensors);
  try {
    await writer.writeReport(report);
    await sink.flush();
  } finally {
    writer.dispose();
    sink.dispose();
  }
}

/** Buffers small strings and writes them as ~64 KiB chunks, honouring backpressure, errors and abort. */
class ChunkedSink {
  private parts: string[] = [];
  private length = 0;
  private error: Error | null = null;
  private readonly onError = (e: Error): void => {
    this.error ??= e;
  };

  constructor(private readonly stream: NodeJS.WritableStream, private readonly signal: AbortSignal | undefined) {
    stream.on('error', this.onError);
  }

  dispose(): void {
    this.stream.removeListener('error', this.onError);
  }

  push(s: string): void {
    this.parts.push(s);
    this.length += s.length;
  }

  async maybeFlush(): Promise<void> {
    if (this.length >= FLUSH_CHARS) await this.flush();
  }

  /**
   * ASCII `bytes` after the text pushed before them: a short run joins the text; a long one goes
   * to the stream as it is, in slices of at most BYTES_PER_WRITE (no string made of it). The
   * stream keeps the array until it is written.
   */
  async pushBytes(bytes: Uint8Array): Promise<void> {
    if (bytes.length < FLUSH_CHARS) {
      this.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1'));
      await this.maybeFlush();
      return;
    }
    await this.flush();
    for (let a = 0; a < bytes.length; a += BYTES_PER_WRITE) {
      // Waiting for 'drain' after every 64 KiB costs a third of the write rate; up to MAX_QUEUED_BYTES may wait in the stream.
      const more = this.stream.write(bytes.subarray(a, a + BYTES_PER_WRITE));
      const queued = (this.stream as { writableLength?: number }).writableLength;
      if (!more && (queued === undefined || queued >= MAX_QUEUED_BYTES)) await this.drain();
      this.check();
    }
  }

  async flush(): Promise<void> {
    this.check();
    if (this.length === 0) return;
    const chunk = this.parts.join('');
    this.parts = [];
    this.length = 0;
    if (!this.stream.write(chunk)) await this.drain();
    this.check();
  }

  private check(): void {
    if (this.signal?.aborted) throw new CancelledError();
    if (this.error) throw this.error;
  }

  private drain(): Promise<void> {
    return drained(this.stream, this.signal, () => this.error);
  }
}

/** Resolves when `stream` emits 'drain'; rejects on its error, its closing first, or an abort. */
function drained(stream: NodeJS.WritableStream, signal: AbortSignal | undefined, error: () => Error | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (e?: Error): void => {
      stream.removeListener('drain', onDrain);
      stream.removeListener('error', onErr);
      stream.removeListener('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (e) reject(e);
      else resolve();
    };
    const onDrain = (): void => done();
    const onErr = (e: Error): void => done(e);
    const onClose = (): void => done(error() ?? new Error('the output stream closed before the report was written'));
    const onAbort = (): void => done(new CancelledError());
    stream.once('drain', onDrain);
    stream.once('error', onErr);
    stream.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    const e = error();
    if (e) done(e);
    else if (signal?.aborted) done(new CancelledError());
    // Destroyed before the listeners were attached: no 'close' will come.
    else if ((stream as { destroyed?: boolean }).destroyed) done(new Error('the output stream closed before the report was written'));
  });
}

type NumericArray =
  | Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint8ClampedArray
  | Uint16Array | Uint32Array | BigInt64Array | BigUint64Array;

function isNumericArray(v: unknown): v is NumericArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

/** Where non-finite numbers sit, keyed by JSON path (e.g. `layers[0].directions[0].gradHidden.data`). */
export interface NonFiniteCount {
  total: number;
  places: { path: string; count: number }[];
}

class NonFiniteTally {
  readonly counts = new Map<string, number>();
  total = 0;

  add(path: string, n: number): void {
    if (n === 0) return;
    this.total += n;
    this.counts.set(path, (this.counts.get(path) ?? 0) + n);
  }

  result(): NonFiniteCount {
    return { total: this.total, places: [...this.counts].map(([path, count]) => ({ path, count })) };
  }
}

/**
 * Counts NaN and ±Infinity in any value (plain objects, arrays, typed arrays), as the JSON writer
 * would meet them with detail 'full'; for the report's `warnings` before it is shown or written.
 */
export function countNonFinite(value: unknown): NonFiniteCount {
  const tally = new NonFiniteTally();
  const visit = (v: unknown, path: string, seen: Set<object>): void => {
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) tally.add(path, 1);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    if (isNumericArray(v)) {
      if (v instanceof Float32Array || v instanceof Float64Array) {
        let n = 0;
        for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) n++;
        tally.add(path, n);
      }
      return;
    }
    if (seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      // Number lists are counted as one place, as the writer reports them.
      if (v.every((x) => typeof x === 'number')) tally.add(path, v.filter((x) => !Number.isFinite(x)).length);
      else v.forEach((x, i) => visit(x, `${path}[${i}]`, seen));
    } else {
      for (const [k, x] of Object.entries(v)) visit(x, path === '' ? k : `${path}.${k}`, seen);
    }
    seen.delete(v);
  };
  visit(value, '', new Set());
  return tally.result();
}

/** The `warnings` line for non-finite values, or null when there are none. */
export function nonFiniteWarning(count: NonFiniteCount): string | null {
  if (count.total === 0) return null;
  const shown = count.places.slice(0, 5).map((p) => `${p.count} in ${p.path || '(top level)'}`);
  const more = count.places.length > 5 ? ` and ${count.places.length - 5} more places` : '';
  return `${count.total} non-finite value${count.total === 1 ? '' : 's'} (NaN or ±Infinity) written as null: ${shown.join(', ')}${more}.`;
}

/**
 * The shortest decimal with 7, 8 or 9 significant digits that reads back as the same float32 (9
 * always does: FLT_DECIMAL_DIG = ⌈1 + 24·log₁₀2⌉ = 9), trailing zeros dropped, so values that are
 * short decimals print short (float32 0.1 → "0.1"). Integers print exactly. `v` must be a finite
 * float32 value.
 */
export function formatFloat32(v: number): string {
  const n = writeFloat32(v, formatScratch, 0);
  return formatScratch.toString('latin1', 0, n);
}

const formatScratch = Buffer.alloc(40);

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** Set by shortestDecimal: the decimal exponent k of its result. */
let decimalK = 0;

/** TEN[e + 15] = 10^e for e = −15 … 9, exact decimal parses (10 ** −7 is not). */
const TEN = Array.from({ length: 25 }, (_, i) => Number(`1e${i - 15}`));
const f32Bits = new Float32Array(1);
const i32Bits = new Int32Array(f32Bits.buffer);

/**
 * The common case of writeFloat32, in integer arithmetic (3–4× faster than toPrecision): for
 * 1e-14 ≤ |v| < 1e9, v = ±m·10⁻ᵏ with m the shortest p ∈ 6…9 significant digits whose decimal
 * reads back (decimal → nearest double → nearest float32, as a JSON reader does) as v, without
 * trailing zeros. m / 10ᵏ with k ≤ 22 is the correctly rounded double of that decimal, exactly
 * what Number(string) gives. Returns m and leaves k in decimalK, or −1 outside that range.
 *
 * The decimal exponent e = ⌊log₁₀|v|⌋ comes from the float's binary exponent (⌊e₂·log₁₀2⌋, then
 * one comparison with a power of ten). Digits are tried from 8 down, not from 6 up: a decimal
 * with p digits that reads back as v is also on the (p+1)-digit grid, and the nearest (p+1)-digit
 * decimal is no farther from v, so it reads back too — if 8 digits fail, so do 7 and 6, and 9
 * always work. Random float32 values need 9 digits about 65% of the time and 8 about 30%: two
 * trials instead of four.
 */
function shortestDecimal(v: number): number {
  const a = v < 0 ? -v : v;
  if (!(a >= 1e-14 && a < 1e9)) return -1;
  f32Bits[0] = a;
  let e = Math.floor((((i32Bits[0] >>> 23) & 0xff) - 127) * 0.3010299956639812);
  if (a >= TEN[e + 16]) e++;
  else if (a < TEN[e + 15]) e--;
  let m = roundTrip(a, e, 8);
  let k = decimalK;
  if (m < 0) {
    m = roundTrip(a, e, 9);
    if (m < 0) return -1;
    k = decimalK;
  } else {
    const m7 = roundTrip(a, e, 7);
    if (m7 >= 0) {
      m = m7;
      k = decimalK;
      const m6 = roundTrip(a, e, 6);
      if (m6 >= 0) { m = m6; k = decimalK; }
    }
  }
  // m < 10⁹ < 2³¹: integer arithmetic from here.
  let mi = m | 0;
  while (k > 0) {
    const q = (mi / 10) | 0;
    if (mi - 10 * q !== 0) break;
    mi = q;
    k--;
  }
  decimalK = k;
  return mi;
}

/** m = round(|v|·10ᵏ) for p significant digits (k = p − 1 − e) if m·10⁻ᵏ reads back as v, k in decimalK; else −1. */
function roundTrip(a: number, e: number, p: number): number {
  const k = p - 1 - e;
  if (k < 0 || k > 22) return -1;
  const scale = POW10[k];
  const m = Math.round(a * scale);
  if (Math.fround(m / scale) !== a) return -1;
  decimalK = k;
  return m;
}

/**
 * arr[start … end) as JSON list items written as ASCII bytes into `out` at `pos` — a comma before
 * every item but arr[0], `null` for NaN and ±∞ (counted in `count`) — returning the new position.
 * `out` needs room for 33 bytes per item. Shared by the writer and its helper threads.
 */
export function writeFloat32Run(arr: Float32Array, start: number, end: number, out: Uint8Array, pos: number, count: { nonFinite: number }): number {
  for (let i = start; i < end; i++) {
    if (i > 0) out[pos++] = 44; // ','
    const x = arr[i];
    if (Number.isFinite(x)) pos = writeFloat32(x, out, pos);
    else { count.nonFinite++; out[pos++] = 110; out[pos++] = 117; out[pos++] = 108; out[pos++] = 108; } // null
  }
  return pos;
}

/**
 * formatFloat32(v) written as ASCII bytes into `out` at `pos` (no string made on the common
 * path); returns the new position. `out` needs room for 32 bytes. Plain decimals, or, below
 * 1e-6 (a leading digit at 10⁻⁷ or less), d.ddd…e-x, as Number.prototype.toPrecision writes.
 */
export function writeFloat32(v: number, out: Uint8Array, pos: number): number {
  if (v === 0) { out[pos] = 48; return pos + 1; }
  const m = shortestDecimal(v);
  if (m < 0) {
    const s = formatFloat32Slow(v);
    for (let i = 0; i < s.length; i++) out[pos++] = s.charCodeAt(i);
    return pos;
  }
  const k = decimalK;
  if (v < 0) out[pos++] = 45; // '-'
  let L = 10; // digits of m (m < 10¹⁰)
  while (L > 1 && m < POW10[L - 1]) L--;
  const lead = L - 1 - k; // the decimal exponent of the first digit
  if (lead < -6) {
    // d.ddd e−x: the digits with the point after the first, then the exponent.
    pos = writeDigits(m, L, L > 1 ? 1 : -1, out, pos);
    out[pos++] = 101; out[pos++] = 45; // 'e-'
    const x = -lead;
    if (x >= 10) out[pos++] = 48 + ((x / 10) | 0);
    out[pos++] = 48 + (x % 10);
    return pos;
  }
  if (k >= L) {
    out[pos++] = 48; out[pos++] = 46; // '0.'
    for (let z = k - L; z > 0; z--) out[pos++] = 48;
  }
  return writeDigits(m, L, k > 0 && k < L ? L - k : -1, out, pos);
}

/**
 * The L digits of m at `pos`, two at a time from the last, with a point after the first
 * `point` of them when point ≥ 0 (the digits after it are moved one place on); the new position.
 */
function writeDigits(m: number, L: number, point: number, out: Uint8Array, pos: number): number {
  let at = pos + L;
  while (m >= 100) {
    const q = (m / 100) | 0;
    const r = (m - 100 * q) << 1;
    out[--at] = DIGIT_PAIRS[r + 1];
    out[--at] = DIGIT_PAIRS[r];
    m = q;
  }
  if (m >= 10) {
    out[--at] = DIGIT_PAIRS[(m << 1) + 1];
    out[--at] = DIGIT_PAIRS[m << 1];
  } else {
    out[--at] = 48 + m;
  }
  if (point < 0) return pos + L;
  for (let i = pos + L; i > pos + point; i--) out[i] = out[i - 1];
  out[pos + point] = 46; // '.'
  return pos + L + 1;
}

/** "00" "01" … "99" as ASCII byte pairs. */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 48 + (i % 2 === 0 ? Math.floor(i / 20) : (i >> 1) % 10));

function formatFloat32Slow(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return String(v);
  for (let p = 7; p < 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return stripZeros(s);
  }
  return stripZeros(v.toPrecision(9));
}

/** `1.2300000` → `1.23`, `4.500e-7` → `4.5e-7`, `2.000` → `2`. */
function stripZeros(s: string): string {
  const e = s.indexOf('e');
  const mantissa = e < 0 ? s : s.slice(0, e);
  const exponent = e < 0 ? '' : s.slice(e);
  if (mantissa.indexOf('.') < 0) return s;
  let end = mantissa.length;
  while (mantissa.charCodeAt(end - 1) === 48 /* 0 */) end--;
  if (mantissa.charCodeAt(end - 1) === 46 /* . */) end--;
  return mantissa.slice(0, end) + exponent;
}

class ReportWalker {
  private readonly tally = new NonFiniteTally();
  private readonly ancestors = new Set<object>();
  /** Helper threads for big float32 arrays: started at the first one, undefined before, null if none. */
  private pool: FormatPool | null | undefined;

  constructor(private readonly sink: ChunkedSink, private readonly helperThreads?: number, private readonly tensors?: TensorSink) {}

  dispose(): void {
    this.pool?.close();
  }

  async writeReport(report: Report): Promise<void> {
    const record = report as unknown as Record<string, unknown>;
    const keys = [
      ...TOP_LEVEL_ORDER.filter((k) => k in record),
      ...Object.keys(record).filter((k) => !TOP_LEVEL_ORDER.includes(k) && k !== 'warnings'),
    ];
    this.sink.push('{');
    let first = true;
    for (const key of keys) {
      const value = record[key];
      if (!isWritable(value)) continue;
      this.sink.push(`${first ? '' : ','}\n  ${JSON.stringify(key)}: `);
      first = false;
      await this.value(value, key, 1);
    }
    // The tensor file, once every tensor is in it.
    if (this.tensors) {
      this.sink.push(`${first ? '' : ','}\n  "tensorFile": `);
      first = false;
      await this.value(this.tensors.info(), 'tensorFile', 1);
    }
    // Written last, so it can report every non-finite number met above.
    const warnings = Array.isArray(report.warnings) ? report.warnings.slice() : [];
    const extra = nonFiniteWarning(this.tally.result());
    if (extra !== null && !warnings.includes(extra)) warnings.push(extra);
    this.sink.push(`${first ? '' : ','}\n  "warnings": `);
    await this.value(warnings, 'warnings', 1);
    this.sink.push('\n}\n');
  }

  private async value(v: unknown, path: string, depth: number): Promise<void> {
    switch (typeof v) {
      case 'number':
        this.sink.push(this.number(v, path));
        return;
      case 'string':
        this.sink.push(JSON.stringify(v));
        return;
      case 'boolean':
        this.sink.push(v ? 'true' : 'false');
        return;
      case 'bigint':
        this.sink.push(v.toString());
        return;
      case 'object':
        break;
      default:
        // undefined, functions, symbols: null, as JSON.stringify writes them inside arrays.
        this.sink.push('null');
        return;
    }
    if (v === null) {
      this.sink.push('null');
      return;
    }
    if (this.tensors && v instanceof Float32Array) {
      // Its values in the tensor file (NaN and ±∞ as they are), where they are in the JSON.
      await this.value(await this.tensors.add(v), path, depth);
      return;
    }
    if (isNumericArray(v)) {
      await this.numbers(v, path);
      return;
    }
    const withJson = v as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === 'function') {
      await this.value(withJson.toJSON(), path, depth);
      return;
    }
    if (this.ancestors.has(v)) throw new TypeError(`the report refers to itself at ${path}`);
    this.ancestors.add(v);
    if (Array.isArray(v)) {
      if (v.every((x) => typeof x === 'number')) await this.numbers(v as number[], path);
      else await this.array(v, path, depth);
    } else {
      await this.object(v as Record<string, unknown>, path, depth);
    }
    this.ancestors.delete(v);
    await this.sink.maybeFlush();
  }

  private number(v: number, path: string): string {
    if (Number.isFinite(v)) return String(v);
    this.tally.add(path, 1);
    return 'null';
  }

  private async array(items: unknown[], path: string, depth: number): Promise<void> {
    if (items.length === 0) {
      this.sink.push('[]');
      return;
    }
    const pad = '\n' + '  '.repeat(depth + 1);
    this.sink.push('[');
    for (let i = 0; i < items.length; i++) {
      this.sink.push(i === 0 ? pad : ',' + pad);
      await this.value(items[i], `${path}[${i}]`, depth + 1);
    }
    this.sink.push('\n' + '  '.repeat(depth) + ']');
  }

  private async object(obj: Record<string, unknown>, path: string, depth: number): Promise<void> {
    const pad = '\n' + '  '.repeat(depth + 1);
    let first = true;
    this.sink.push('{');
    for (const key of Object.keys(obj)) {
      const value = obj[key];
      if (!isWritable(value)) continue;
      this.sink.push(`${first ? '' : ','}${pad}${JSON.stringify(key)}: `);
      first = false;
      await this.value(value, path === '' ? key : `${path}.${key}`, depth + 1);
    }
    this.sink.push(first ? '}' : '\n' + '  '.repeat(depth) + '}');
  }

  /** A number list on one line, in pieces of NUMBERS_PER_PIECE, flushing as the buffer fills. */
  private async numbers(arr: NumericArray | number[], path: string): Promise<void> {
    if (arr instanceof Float32Array) return this.float32Numbers(arr, path);
    const n = arr.length;
    const format = numberFormatter(arr);
    let nonFinite = 0;
    this.sink.push('[');
    const piece: string[] = [];
    for (let start = 0; start < n; start += NUMBERS_PER_PIECE) {
      const end = Math.min(n, start + NUMBERS_PER_PIECE);
      piece.length = 0;
      for (let i = start; i < end; i++) {
        const x = arr[i];
        if (typeof x === 'bigint') {
          piece.push(x.toString());
        } else if (Number.isFinite(x)) {
          piece.push(format(x));
        } else {
          nonFinite++;
          piece.push('null');
        }
      }
      this.sink.push(start === 0 ? piece.join(',') : ',' + piece.join(','));
      await this.sink.maybeFlush();
    }
    this.sink.push(']');
    this.tally.add(path, nonFinite);
  }

  /**
   * The same for float32 data, digits written as bytes (the bulk of every report). A big array
   * is cut into one part per thread: helpers format the later parts (formatPool.ts) while this
   * thread formats the first; the parts are written in order.
   */
  private async float32Numbers(arr: Float32Array, path: string): Promise<void> {
    const n = arr.length;
    if (n >= PARALLEL_MIN_NUMBERS && this.pool === undefined) this.pool = startFormatPool(this.helperThreads);
    const pool = n >= PARALLEL_MIN_NUMBERS ? this.pool : null;
    const helpers = pool ? pool.helpers : 0;
    // Equal parts: with two CPUs the write is CPU-bound on both (a smaller share here only moved
    // the wait to the helper's part; measured).
    const size = Math.ceil(n / (helpers + 1));
    const first = Math.min(n, size);
    const bounds = Array.from({ length: helpers }, (_, i) => [Math.min(n, (i + 1) * size), Math.min(n, (i + 2) * size)]);
    // slice() copies: the part is handed over to the helper, the report keeps its array.
    // A helper that fails (it should not) gives null: its part is then formatted here.
    const later = bounds.map(([a, b]) => pool!.format(arr.slice(a, b)).catch(() => null));
    this.sink.push('[');
    let nonFinite = await this.formatRange(arr, 0, first);
    for (let p = 0; p < later.length; p++) {
      const done = await later[p];
      if (!done) {
        nonFinite += await this.formatRange(arr, bounds[p][0], bounds[p][1]);
        continue;
      }
      this.sink.push(',');
      await this.sink.pushBytes(done.bytes);
      nonFinite += done.nonFinite;
    }
    this.sink.push(']');
    this.tally.add(path, nonFinite);
  }

  /** arr[start … end) formatted into the sink piece by piece, flushing as it fills; returns the count of non-finite values. */
  private async formatRange(arr: Float32Array, start: number, end: number): Promise<number> {
    const count = { nonFinite: 0 };
    for (let a = start; a < end; a += FLOAT32_PIECE) {
      // A fresh buffer per piece: the stream holds it until it is written (bytes straight to the file, no strings).
      const buf = Buffer.allocUnsafe(Math.min(FLOAT32_PIECE, end - a) * 33);
      const pos = writeFloat32Run(arr, a, Math.min(end, a + FLOAT32_PIECE), buf, 0, count);
      await this.sink.pushBytes(buf.subarray(0, pos));
    }
    return count.nonFinite;
  }
}

/** Float32 numbers formatted per piece on the writer's thread (≤ 2 MiB of text). */
const FLOAT32_PIECE = 65536;

function numberFormatter(arr: NumericArray | number[]): (x: number) => string {
  return arr instanceof Float32Array ? formatFloat32 : String;
}

/** Values JSON.stringify leaves out of objects. */
function isWritable(v: unknown): boolean {
  return v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';
}
