/**
 * The standalone HTML report's data: how PanelModels travel inside one offline HTML file, and how
 * a JSON report (SPEC.md §7) becomes an in-memory Report again. Shared by the host / CLI (which
 * encode) and the webview (which decodes): no Node or VS Code imports here, no Buffer, no DOM.
 *
 * Container (little-endian), carried as base64 in `<script id="gradient-lens-data">`:
 *
 *   "GLD1" | u32 byte length of the JSON | JSON (UTF-8) | zero padding to a multiple of 8 | blob
 *
 * The JSON is the PanelModel[] with every typed array replaced by {"$ta": "f32", "o": byte offset
 * into the blob, "n": element count} (offsets 8-aligned, so the decoder views the blob without
 * copying) and every non-finite number by {"$num": "NaN" | "Infinity" | "-Infinity"}; so typed
 * arrays (their bits, NaN payloads aside) and plain numbers round-trip exactly.
 */
import type { PanelModel } from './panel';
import { REPORT_SCHEMA, type Report, type Tensor, type TensorFileInfo, type TensorFileRef } from '../report/types';

const MAGIC = 'GLD1';

type TypedArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array;

interface TypedArrayKind {
  tag: string;
  ctor: { new (buffer: ArrayBuffer, byteOffset: number, length: number): TypedArray; BYTES_PER_ELEMENT: number };
  is: (v: unknown) => boolean;
}

const KINDS: TypedArrayKind[] = [
  { tag: 'f32', ctor: Float32Array, is: (v) => v instanceof Float32Array },
  { tag: 'f64', ctor: Float64Array, is: (v) => v instanceof Float64Array },
  { tag: 'i8', ctor: Int8Array, is: (v) => v instanceof Int8Array },
  { tag: 'u8', ctor: Uint8Array, is: (v) => v instanceof Uint8Array },
  { tag: 'i16', ctor: Int16Array, is: (v) => v instanceof Int16Array },
  { tag: 'u16', ctor: Uint16Array, is: (v) => v instanceof Uint16Array },
  { tag: 'i32', ctor: Int32Array, is: (v) => v instanceof Int32Array },
  { tag: 'u32', ctor: Uint32Array, is: (v) => v instanceof Uint32Array },
  { tag: 'i64', ctor: BigInt64Array, is: (v) => v instanceof BigInt64Array },
  { tag: 'u64', ctor: BigUint64Array, is: (v) => v instanceof BigUint64Array },
];

interface TypedArrayRef { $ta: string; o: number; n: number }
interface NumberRef { $num: 'NaN' | 'Infinity' | '-Infinity' }

/** Encodes panel models as the base64 text of the standalone report's data script. */
export function encodeStandaloneData(models: PanelModel[]): string {
  const arrays: TypedArray[] = [];
  const refs: TypedArrayRef[] = [];
  let blobLength = 0;
  const json = JSON.stringify(models, function (this: unknown, _key: string, value: unknown) {
    if (typeof value === 'number') return Number.isFinite(value) ? value : ({ $num: String(value) } as NumberRef);
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
      const kind = KINDS.find((k) => k.is(value));
      if (!kind) throw new Error(`the standalone report cannot hold a ${value.constructor.name}; convert it to a Float32Array first.`);
      const array = value as TypedArray;
      const ref: TypedArrayRef = { $ta: kind.tag, o: blobLength, n: array.length };
      arrays.push(array);
      refs.push(ref);
      blobLength = align8(blobLength + array.byteLength);
      return ref;
    }
    return value;
  });
  const jsonBytes = new TextEncoder().encode(json);
  const blobStart = align8(8 + jsonBytes.length);
  const bytes = new Uint8Array(blobStart + blobLength);
  for (let i = 0; i < 4; i++) bytes[i] = MAGIC.charCodeAt(i);
  new DataView(bytes.buffer).setUint32(4, jsonBytes.length, true);
  bytes.set(jsonBytes, 8);
  arrays.forEach((a, i) => bytes.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), blobStart + refs[i].o));
  return base64FromBytes(bytes);
}

/** Decodes what encodeStandaloneData wrote. Typed arrays are views on one decoded buffer. */
export function decodeStandaloneData(base64: string): PanelModel[] {
  const bytes = bytesFromBase64(base64);
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (bytes.length < 8 || magic !== MAGIC) throw new Error('the embedded report data is not Gradient Lens data (bad header); re-export the HTML report.');
  const jsonLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
  const json = new TextDecoder().decode(bytes.subarray(8, 8 + jsonLength));
  const blobStart = bytes.byteOffset + align8(8 + jsonLength);
  return JSON.parse(json, (_key, value: unknown) => {
    if (value && typeof value === 'object') {
      const v = value as Partial<TypedArrayRef & NumberRef>;
      if (typeof v.$ta === 'string' && typeof v.o === 'number' && typeof v.n === 'number') {
        const kind = KINDS.find((k) => k.tag === v.$ta);
        if (!kind) throw new Error(`the embedded report data holds an unknown array type '${v.$ta}'; re-export it with this version.`);
        return new kind.ctor(bytes.buffer as ArrayBuffer, blobStart + v.o, v.n);
      }
      if (typeof v.$num === 'string') return Number(v.$num);
    }
    return value;
  }) as PanelModel[];
}

/**
 * One self-contained HTML file that renders the analysis panel offline: the panel's CSS and JS
 * inline, the data in a base64 script block, and a CSP that allows nothing from outside.
 */
export function renderStandaloneHtml(models: PanelModel[], assets: { js: string; css: string }, title: string): string {
  const csp = "default-src 'none'; img-src data: blob:; style-src 'unsafe-inline'; script-src 'unsafe-inline'";
  // An inline script or style ends at the first "</script" / "</style" whatever the JS or CSS means.
  const js = assets.js.replace(/<\/script/gi, '<\\/script').replace(/<!--/g, '<\\!--');
  const css = assets.css.replace(/<\/style/gi, '<\\/style');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="Gradient Lens">
<title>${escapeHtml(title)}</title>
<style>
${css}
</style>
</head>
<body class="gl-standalone">
<div id="app" role="main"></div>
<script id="gradient-lens-data" type="application/octet-stream">${encodeStandaloneData(models)}</script>
<script>
${js}
</script>
</body>
</html>
`;
}

/**
 * A Report from its JSON form (SPEC.md §7): every {dims, data} tensor gets a typed array again.
 * The JSON writer prints float32 data with the fewest digits in 7…9 that read back to the same
 * float32, so a tensor whose values all look like that (checked on up to 1024 evenly spread
 * values) becomes a Float32Array holding exactly the original floats; any other becomes a
 * Float64Array. null (a NaN or ±Infinity the writer could not print) becomes NaN. Plain number
 * lists (metrics) stay as they are.
 *
 * Tensors kept in a tensor file (`analyze --tensors`, the report's `tensorFile`) are read by the
 * reader `readerFor(tensorFile)` gives (the caller knows where the report is and can check the
 * file first), each when its `data` is first used, after checking it lies within the file's
 * declared size; with no `readerFor`, such a report is refused.
 */
export function reportFromJson(json: unknown, readerFor?: (file: TensorFileInfo) => (ref: TensorFileRef) => Float32Array): Report {
  if (!json || typeof json !== 'object') throw new Error('the report is not a JSON object; pass the output of `gradient-lens analyze --json`.');
  const schema = (json as { schema?: unknown }).schema;
  if (schema !== REPORT_SCHEMA) throw new Error(`the report's schema is ${JSON.stringify(schema)}, not "${REPORT_SCHEMA}"; re-run the analysis with this version of Gradient Lens.`);
  const { tensorFile, ...rest } = json as Record<string, unknown>;
  const file = tensorFileOf(tensorFile);
  if (file && !readerFor) throw new Error(`its tensors are in the tensor file ${JSON.stringify(file.path)}, which this reader cannot open.`);
  const read = file ? readerFor!(file) : undefined;
  return reviveTensors(rest, read, file) as Report;
}

/** A report's `tensorFile`, checked; undefined when it has none. */
function tensorFileOf(value: unknown): TensorFileInfo | undefined {
  if (value === undefined) return undefined;
  const v = value as Partial<TensorFileInfo>;
  if (!v || typeof v !== 'object' || typeof v.path !== 'string' || v.path === '' || !Number.isSafeInteger(v.bytes) || v.bytes! < 0 || v.dtype !== 'float32') {
    throw new Error('its tensorFile is not { path, dtype: "float32", bytes, … } as analyze --tensors writes it.');
  }
  return { path: v.path, dtype: 'float32', byteOrder: 'little-endian', bytes: v.bytes!, tensors: Number(v.tensors) || 0 };
}

/** Whether `v` is how the JSON writer prints some float32 (its shortest 7…9-digit form). */
function printedFloat32(v: number): boolean {
  const f = Math.fround(v);
  if (f === v) return true;
  for (let p = 7; p <= 9; p++) if (Number(f.toPrecision(p)) === v) return true;
  return false;
}

function reviveTensors(value: unknown, read: ((ref: TensorFileRef) => Float32Array) | undefined, file: TensorFileInfo | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => reviveTensors(v, read, file));
  if (!value || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  if (isTensorJson(obj)) return tensorFromJson(obj.dims, obj.data);
  if (isTensorRefJson(obj)) {
    const ref = { ...obj.data };
    const dims = [...obj.dims];
    if (!file || !read || ref.file !== file.path) throw new Error(`a tensor refers to a file other than the report's tensorFile (${JSON.stringify(ref.file)}).`);
    if (ref.length !== dims.reduce((a, d) => a * d, 1)) throw new Error(`a tensor of shape [${dims.join(', ')}] is given ${ref.length} values in its tensor file.`);
    if (ref.byteOffset + 4 * ref.length > file.bytes) throw new Error(`a tensor at byte ${ref.byteOffset} of ${ref.length} values lies beyond the ${file.bytes} bytes of its tensor file.`);
    // Read when first used (compare, which prints metrics, reads none).
    let data: Float32Array | undefined;
    return { dims, get data(): Float32Array { return (data ??= read(ref)); } };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = reviveTensors(v, read, file);
  return out;
}

function isTensorRefJson(obj: Record<string, unknown>): obj is { dims: number[]; data: TensorFileRef } {
  const keys = Object.keys(obj);
  const d = obj.data as Partial<TensorFileRef> | undefined;
  return keys.length === 2 && Array.isArray(obj.dims) && obj.dims.every((x) => Number.isInteger(x) && x >= 0) && !!d && typeof d === 'object'
    && typeof d.file === 'string' && d.dtype === 'float32' && Number.isInteger(d.byteOffset) && d.byteOffset! >= 0 && Number.isInteger(d.length) && d.length! >= 0;
}

function isTensorJson(obj: Record<string, unknown>): obj is { dims: number[]; data: (number | null)[] } {
  const keys = Object.keys(obj);
  return keys.length === 2 && Array.isArray(obj.dims) && Array.isArray(obj.data) && obj.dims.every((d) => typeof d === 'number');
}

function tensorFromJson(dims: number[], data: (number | null)[]): Tensor {
  let float32 = true;
  const step = Math.max(1, Math.floor(data.length / 1024));
  for (let i = 0; i < data.length; i += step) {
    const v = data[i];
    if (v !== null && !printedFloat32(v)) {
      float32 = false;
      break;
    }
  }
  const out = float32 ? new Float32Array(data.length) : new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ?? NaN;
  return { dims: [...dims], data: out };
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Text safe inside HTML element content and quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_CODES = Uint8Array.from(B64, (c) => c.charCodeAt(0));
const B64_VALUES = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64.charCodeAt(i)] = i;
  return t;
})();

/** Standard base64 (with padding) of bytes, without btoa or Buffer (it must run in Node and in the webview). */
export function base64FromBytes(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(Math.ceil(n / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const x = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[o++] = B64_CODES[x >> 18];
    out[o++] = B64_CODES[(x >> 12) & 63];
    out[o++] = B64_CODES[(x >> 6) & 63];
    out[o++] = B64_CODES[x & 63];
  }
  if (i < n) {
    const x = (bytes[i] << 16) | (i + 1 < n ? bytes[i + 1] << 8 : 0);
    out[o++] = B64_CODES[x >> 18];
    out[o++] = B64_CODES[(x >> 12) & 63];
    out[o++] = i + 1 < n ? B64_CODES[(x >> 6) & 63] : 61;
    out[o++] = 61;
  }
  // ASCII is valid UTF-8, so this is the fastest way from char codes to a string in both worlds.
  return new TextDecoder().decode(out);
}

/** Decodes standard base64; whitespace (line breaks in the HTML) is skipped. */
export function bytesFromBase64(text: string): Uint8Array {
  const values = new Uint8Array(text.length);
  let m = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 61) break; // '=' padding
    const v = c < 128 ? B64_VALUES[c] : -1;
    if (v >= 0) values[m++] = v;
    else if (c !== 32 && c !== 9 && c !== 10 && c !== 13) throw new Error(`the embedded report data is not valid base64 (character ${i}); re-export the HTML report.`);
  }
  const out = new Uint8Array(Math.floor((m * 3) / 4));
  let o = 0;
  let i = 0;
  for (; i + 3 < m; i += 4) {
    const x = (values[i] << 18) | (values[i + 1] << 12) | (values[i + 2] << 6) | values[i + 3];
    out[o++] = x >> 16;
    out[o++] = (x >> 8) & 255;
    out[o++] = x & 255;
  }
  if (m - i === 2) out[o++] = ((values[i] << 18) | (values[i + 1] << 12)) >> 16;
  else if (m - i === 3) {
    const x = (values[i] << 18) | (values[i + 1] << 12) | (values[i + 2] << 6);
    out[o++] = x >> 16;
    out[o++] = (x >> 8) & 255;
  }
  return out;
}
