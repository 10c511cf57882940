/**
 * NumPy `.npy` files (format versions 1.0, 2.0 and 3.0): reading user inputs (SPEC.md §5) and
 * writing arrays back (fixtures, exported tensors).
 *
 * Layout: the magic `\x93NUMPY`, a major and a minor version byte, the header length (uint16 LE in
 * 1.0, uint32 LE in 2.0 and 3.0), a Python dict literal (latin-1 in 1.0/2.0, UTF-8 in 3.0) with the
 * keys `descr`, `fortran_order` and `shape`, padded with spaces and a newline, then the raw data.
 */
import * as fs from 'fs';
import * as os from 'os';
import { AnalysisError } from '../onnx/errors';
import { printable, readRegularFile } from '../onnx/files';
import { DATA_TYPE_NAMES } from '../onnx/proto';

export type NpyArray =
  | { dtype: 'float32'; shape: number[]; data: Float32Array }
  | { dtype: 'float64'; shape: number[]; data: Float64Array }
  | { dtype: 'int32'; shape: number[]; data: Int32Array }
  | { dtype: 'int64'; shape: number[]; data: BigInt64Array }
  | { dtype: 'int8'; shape: number[]; data: Int8Array }
  | { dtype: 'int16'; shape: number[]; data: Int16Array }
  | { dtype: 'uint8'; shape: number[]; data: Uint8Array }
  | { dtype: 'uint16'; shape: number[]; data: Uint16Array }
  | { dtype: 'uint32'; shape: number[]; data: Uint32Array }
  | { dtype: 'uint64'; shape: number[]; data: BigUint64Array }
  | { dtype: 'bool'; shape: number[]; data: Uint8Array };

export type NpyDtype = NpyArray['dtype'];

/** The dtypes a model input can be fed from (SPEC.md §5). */
export type OnnxInputArray = Extract<NpyArray, { dtype: 'float32' | 'float64' | 'int32' | 'int64' }>;

export const ACCEPTED_DTYPES_TEXT = 'float32, float64, int32 or int64';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

interface DtypeInfo {
  dtype: NpyDtype;
  itemSize: number;
  make: (n: number) => NpyArray['data'];
}

/** Keyed by the descr's kind+size (`f4`, `i8`, `b1`, …); the byte-order character is checked apart. */
const DTYPES: Record<string, DtypeInfo> = {
  f4: { dtype: 'float32', itemSize: 4, make: (n) => new Float32Array(n) },
  f8: { dtype: 'float64', itemSize: 8, make: (n) => new Float64Array(n) },
  i1: { dtype: 'int8', itemSize: 1, make: (n) => new Int8Array(n) },
  i2: { dtype: 'int16', itemSize: 2, make: (n) => new Int16Array(n) },
  i4: { dtype: 'int32', itemSize: 4, make: (n) => new Int32Array(n) },
  i8: { dtype: 'int64', itemSize: 8, make: (n) => new BigInt64Array(n) },
  u1: { dtype: 'uint8', itemSize: 1, make: (n) => new Uint8Array(n) },
  u2: { dtype: 'uint16', itemSize: 2, make: (n) => new Uint16Array(n) },
  u4: { dtype: 'uint32', itemSize: 4, make: (n) => new Uint32Array(n) },
  u8: { dtype: 'uint64', itemSize: 8, make: (n) => new BigUint64Array(n) },
  b1: { dtype: 'bool', itemSize: 1, make: (n) => new Uint8Array(n) },
};

const DESCR_OF: Record<NpyDtype, string> = {
  float32: '<f4', float64: '<f8', int8: '|i1', int16: '<i2', int32: '<i4', int64: '<i8',
  uint8: '|u1', uint16: '<u2', uint32: '<u4', uint64: '<u8', bool: '|b1',
};

const HOST_LITTLE_ENDIAN = os.endianness() === 'LE';

/** The noun phrase errors use for a file, e.g. `the file x.npy given for input 'ids'`. */
export function npyLabel(file: string, inputName?: string): string {
  return inputName === undefined ? `the file ${printable(file)}` : `the file ${printable(file)} given for input '${printable(inputName)}'`;
}

/** Reads a `.npy` file; errors are AnalysisErrors naming the file (and the input, when given). */
export function readNpy(file: string, inputName?: string): NpyArray {
  const label = npyLabel(file, inputName);
  const bytes = readRegularFile(file, {
    missing: () => `${label} does not exist; check the path after --input.`,
    notRegular: (kind) => kind === 'a directory'
      ? `${label} is a folder, not a .npy file; give the path of the file saved with numpy.save.`
      : `${label} is ${kind}, not a regular file; save the array with numpy.save and give that file's path.`,
    unreadable: (reason) => `${label} could not be read (${reason}); check that it exists and is readable.`,
  });
  return parseNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), label);
}

/**
 * Decodes the bytes of a `.npy` file. `label` is the noun phrase errors start with (see
 * {@link npyLabel}). The data is copied out, so the result never aliases `bytes`.
 */
export function parseNpy(bytes: Uint8Array, label: string): NpyArray {
  const notNpy = (): AnalysisError =>
    new AnalysisError(`${label} is not a NumPy .npy file (it does not start with "\\x93NUMPY"); save the array with numpy.save.`);
  if (bytes.length < 10) throw notNpy();
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) throw notNpy();
  const major = bytes[6];
  const minor = bytes[7];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLength: number;
  if (major === 1) {
    headerStart = 10;
    headerLength = view.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw truncatedHeader(label);
    headerStart = 12;
    headerLength = view.getUint32(8, true);
  } else {
    throw new AnalysisError(`${label} uses .npy format version ${major}.${minor}, which Gradient Lens cannot read; re-save it with numpy.save (versions 1.0 to 3.0 are supported).`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw truncatedHeader(label);
  const headerBytes = bytes.subarray(headerStart, dataStart);
  const headerText = major === 3 ? new TextDecoder('utf-8').decode(headerBytes) : latin1(headerBytes);
  const header = parseHeader(headerText, label);

  const info = dtypeOf(header.descr, label);
  const shape = header.shape;
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count) || count * info.itemSize > 2 ** 53) {
    throw new AnalysisError(`${label} declares the shape (${shape.join(', ')}), which is too large to load; check the file.`);
  }
  if (header.fortranOrder && shape.filter((d) => d > 1).length > 1) {
    // With at most one axis longer than 1, Fortran and C order lay the data out identically.
    throw new AnalysisError(`${label} is stored in Fortran (column-major) order; save it with np.save(path, np.ascontiguousarray(a)).`);
  }
  const byteLength = count * info.itemSize;
  const available = bytes.length - dataStart;
  if (available < byteLength) {
    throw new AnalysisError(`${label} is truncated: its header declares ${shapeText(shape)} ${info.dtype} (${byteLength} bytes of data) but only ${available} bytes follow; re-save it with numpy.save.`);
  }
  const data = info.make(count);
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  raw.set(bytes.subarray(dataStart, dataStart + byteLength));
  if (!HOST_LITTLE_ENDIAN && info.itemSize > 1) swapBytes(raw, info.itemSize);
  if (info.dtype === 'bool') {
    // NumPy writes booleans as 0/1 bytes; normalise anything else the way NumPy reads it (non-zero is True).
    for (let i = 0; i < raw.length; i++) raw[i] = raw[i] !== 0 ? 1 : 0;
  }
  return { dtype: info.dtype, shape, data } as NpyArray;
}

function truncatedHeader(label: string): AnalysisError {
  return new AnalysisError(`${label} ends inside its .npy header; the file is truncated or damaged, re-save it with numpy.save.`);
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function shapeText(shape: number[]): string {
  return shape.length === 1 ? `shape (${shape[0]},)` : `shape (${shape.join(', ')})`;
}

function dtypeOf(descr: string, label: string): DtypeInfo {
  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  const key = m ? `${m[2]}${m[3]}` : '';
  const info = DTYPES[key];
  if (!m || !info) {
    throw new AnalysisError(`${label} has dtype '${descr}', which Gradient Lens does not read; convert it to ${ACCEPTED_DTYPES_TEXT} (e.g. a.astype(np.float32)) before saving.`);
  }
  // '=' is native order; NumPy only writes it for single bytes, and every platform it writes on here is little-endian.
  if (m[1] === '>' && info.itemSize > 1) {
    throw new AnalysisError(`${label} holds big-endian data ('${descr}'); save it little-endian with np.save(path, a.astype('<${key}')).`);
  }
  return info;
}

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

function parseHeader(text: string, label: string): NpyHeader {
  const damaged = (why: string): AnalysisError =>
    new AnalysisError(`${label} has a damaged .npy header (${why}); re-save it with numpy.save.`);
  let value: PyValue;
  try {
    value = new PyLiteralParser(text).parseTop();
  } catch (e) {
    throw damaged((e as Error).message);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw damaged('it is not a dict');
  const { descr, fortran_order: fortranOrder, shape } = value;
  if (Array.isArray(descr)) {
    throw new AnalysisError(`${label} holds a structured (record) array; save a plain ${ACCEPTED_DTYPES_TEXT} array instead.`);
  }
  if (typeof descr !== 'string') throw damaged("no string 'descr'");
  if (typeof fortranOrder !== 'boolean') throw damaged("no boolean 'fortran_order'");
  if (!Array.isArray(shape)) throw damaged("no tuple 'shape'");
  const dims: number[] = [];
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw damaged(`shape entry ${String(d)} is not a size`);
    dims.push(d);
  }
  return { descr, fortranOrder, shape: dims };
}

/** Just enough of Python's literal syntax for `.npy` headers (what `repr` of the header dict prints). */
class PyLiteralParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parseTop(): PyValue {
    const v = this.value();
    this.skipSpace();
    if (this.pos !== this.text.length) throw new Error(`unexpected '${this.text[this.pos]}' after the dict`);
    return v;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private value(): PyValue {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === undefined) throw new Error('it ends early');
    if (c === '{') return this.dict();
    if (c === '(') return this.sequence(')');
    if (c === '[') return this.sequence(']');
    if (c === "'" || c === '"') return this.string();
    const word = /^(True|False|None)\b/.exec(this.text.slice(this.pos));
    if (word) {
      this.pos += word[1].length;
      return word[1] === 'None' ? null : word[1] === 'True';
    }
    // Python 2 era writers printed longs with an `L` suffix.
    const num = /^[-+]?\d+[lL]?/.exec(this.text.slice(this.pos));
    if (num) {
      this.pos += num[0].length;
      return Number(num[0].replace(/[lL]$/, ''));
    }
    throw new Error(`unexpected '${c}'`);
  }

  private expect(ch: string): void {
    this.skipSpace();
    if (this.text[this.pos] !== ch) throw new Error(`expected '${ch}'`);
    this.pos++;
  }

  private peekIs(ch: string): boolean {
    this.skipSpace();
    return this.text[this.pos] === ch;
  }

  private dict(): { [key: string]: PyValue } {
    this.expect('{');
    const out: { [key: string]: PyValue } = {};
    while (!this.peekIs('}')) {
      const key = this.value();
      if (typeof key !== 'string') throw new Error('a dict key is not a string');
      this.expect(':');
      out[key] = this.value();
      if (!this.peekIs('}')) this.expect(',');
    }
    this.pos++;
    return out;
  }

  private sequence(close: string): PyValue[] {
    this.pos++;
    const out: PyValue[] = [];
    while (!this.peekIs(close)) {
      out.push(this.value());
      if (!this.peekIs(close)) this.expect(',');
    }
    this.pos++;
    return out;
  }

  private string(): string {
    const quote = this.text[this.pos++];
    let s = '';
    while (this.pos < this.text.length && this.text[this.pos] !== quote) {
      if (this.text[this.pos] === '\\') this.pos++;
      s += this.text[this.pos++];
    }
    if (this.pos >= this.text.length) throw new Error('a string is not closed');
    this.pos++;
    return s;
  }
}

function swapBytes(raw: Uint8Array, size: number): void {
  for (let i = 0; i < raw.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = raw[a];
      raw[a] = raw[b];
      raw[b] = t;
    }
  }
}

/**
 * Encodes an array as a `.npy` file byte for byte as `numpy.save` (NumPy 1.17+) does: version 1.0
 * unless the header needs more than 65535 bytes (then 2.0), C order, little-endian, 21 − (digits
 * of shape[0]) spare spaces after the dict (NumPy's room for growing the first axis in place), then
 * spaces and a newline up to the next multiple of 64 bytes (a full 64 when already aligned).
 */
export function encodeNpy(array: NpyArray): Uint8Array {
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) {
    throw new RangeError(`encodeNpy: shape (${array.shape.join(', ')}) holds ${count} elements but the data has ${array.data.length}`);
  }
  const shapeRepr = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let dict = `{'descr': '${DESCR_OF[array.dtype]}', 'fortran_order': False, 'shape': ${shapeRepr}, }`;
  if (array.shape.length > 0) dict += ' '.repeat(Math.max(0, 21 - String(array.shape[0]).length));
  const wrap = (prefix: number): { total: number; header: string } => {
    const hlen = dict.length + 1;
    const padlen = 64 - ((prefix + hlen) % 64);
    return { total: prefix + hlen + padlen, header: dict + ' '.repeat(padlen) + '\n' };
  };
  let version = 1;
  let prefix = 10;
  let { total, header } = wrap(prefix);
  if (header.length > 0xffff) {
    version = 2;
    prefix = 12;
    ({ total, header } = wrap(prefix));
  }
  const dataBytes = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const out = new Uint8Array(total + dataBytes.length);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  out.set(dataBytes, total);
  const itemSize = array.data.BYTES_PER_ELEMENT;
  if (!HOST_LITTLE_ENDIAN && itemSize > 1) swapBytes(out.subarray(total), itemSize);
  return out;
}

export function writeNpy(file: string, array: NpyArray): void {
  fs.writeFileSync(file, encodeNpy(array));
}

/** ONNX TensorProto element types a `.npy` input can be converted to. */
const ONNX_TARGET: Record<number, OnnxInputArray['dtype']> = { 1: 'float32', 11: 'float64', 6: 'int32', 7: 'int64' };

function isOnnxInputArray(arr: NpyArray): arr is OnnxInputArray {
  return arr.dtype === 'float32' || arr.dtype === 'float64' || arr.dtype === 'int32' || arr.dtype === 'int64';
}

/**
 * Converts an array read from `.npy` to a model input's ONNX element type (1 float, 11 double,
 * 6 int32, 7 int64), like NumPy's `astype` but refusing every lossy step that would silently change
 * the numbers' meaning: non-integer floats into integer inputs, integers out of int32 range, and
 * finite float64 values that overflow float32. (Rounding float64 to float32 and large int64 to
 * float is accepted, as it is the precision the model computes in.)
 */
export function convertForOnnx(arr: NpyArray, onnxElemType: number, label: string): OnnxInputArray {
  const target = ONNX_TARGET[onnxElemType];
  if (target === undefined) {
    const name = DATA_TYPE_NAMES[onnxElemType] ?? `type ${onnxElemType}`;
    throw new AnalysisError(`${label} cannot feed a model input of ONNX element type ${name}; only float32, float64, int32 and int64 inputs can be read from .npy files.`);
  }
  if (!isOnnxInputArray(arr)) {
    throw new AnalysisError(`${label} has dtype ${arr.dtype}, which Gradient Lens does not accept; convert it to ${ACCEPTED_DTYPES_TEXT} (e.g. a.astype(np.${target})) before saving.`);
  }
  if (arr.dtype === target) return arr;
  const shape = arr.shape.slice();
  const n = arr.data.length;
  const where = (i: number): string => `at index ${multiIndex(i, shape)}`;
  switch (target) {
    case 'float32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const v = elementAsNumber(arr, i);
        const f = Math.fround(v);
        if (Number.isFinite(v) && !Number.isFinite(f)) {
          throw new AnalysisError(`${label} holds ${v} ${where(i)}, which overflows the model's float32 input; rescale the data or save it as float32.`);
        }
        out[i] = f;
      }
      return { dtype: 'float32', shape, data: out };
    }
    case 'float64': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = elementAsNumber(arr, i);
      return { dtype: 'float64', shape, data: out };
    }
    case 'int32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = elementAsNumber(arr, i);
        if (!Number.isInteger(v)) {
          throw new AnalysisError(`${label} holds the non-integer value ${v} ${where(i)} but the model's input is int32; save integer values (e.g. a.astype(np.int32)).`);
        }
        if (v < -2147483648 || v > 2147483647) {
          throw new AnalysisError(`${label} holds ${arr.dtype === 'int64' ? arr.data[i].toString() : v} ${where(i)}, which does not fit the model's int32 input; check the values.`);
        }
        out[i] = v;
      }
      return { dtype: 'int32', shape, data: out };
    }
    case 'int64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = elementAsNumber(arr, i);
        if (!Number.isInteger(v)) {
          throw new AnalysisError(`${label} holds the non-integer value ${v} ${where(i)} but the model's input is int64; save integer values (e.g. a.astype(np.int64)).`);
        }
        // Every integral double in [-2^63, 2^63) is exactly representable in int64.
        if (v < -(2 ** 63) || v >= 2 ** 63) {
          throw new AnalysisError(`${label} holds ${v} ${where(i)}, which does not fit the model's int64 input; check the values.`);
        }
        out[i] = BigInt(v);
      }
      return { dtype: 'int64', shape, data: out };
    }
  }
}

function elementAsNumber(arr: OnnxInputArray, i: number): number {
  return arr.dtype === 'int64' ? Number(arr.data[i]) : arr.data[i];
}

/** `[i, j, k]` of a flat row-major index, as NumPy users index the array. */
export function multiIndex(flat: number, shape: number[]): string {
  const idx: number[] = new Array(shape.length).fill(0);
  let rest = flat;
  for (let a = shape.length - 1; a >= 0; a--) {
    const d = shape[a];
    idx[a] = d > 0 ? rest % d : 0;
    rest = d > 0 ? Math.floor(rest / d) : 0;
  }
  return `[${idx.join(', ')}]`;
}

/**
 * A .npy file's dtype and shape from its header alone (the first few hundred bytes), or
 * undefined when the file is not a readable .npy: for offering files without loading them.
 */
export function readNpyShape(file: string): { dtype: string; shape: number[] } | undefined {
  let fd: number | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require('fs') as typeof import('fs');
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
    if (!fs.fstatSync(fd).isFile()) return undefined;
    const head = Buffer.alloc(4096);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    const bytes = new Uint8Array(head.buffer, head.byteOffset, n);
    for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return undefined;
    const major = bytes[6];
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const [start, length] = major === 1 ? [10, view.getUint16(8, true)] : [12, view.getUint32(8, true)];
    if (start + length > n) return undefined;
    const header = parseHeader(latin1(bytes.subarray(start, start + length)), file);
    return { dtype: header.descr, shape: header.shape };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      (require('fs') as typeof import('fs')).closeSync(fd);
    }
  }
}
