/**
 * Reading the files a user points Gradient Lens at — the model, its external-data sidecars,
 * `.npy` inputs and targets — without ever blocking, reading a device or leaving the model's
 * folder.
 *
 * - Only regular files are read. A file is opened non-blocking (so opening a FIFO with no
 *   writer returns at once) and checked with fstat on the open descriptor before any byte is
 *   read: a FIFO, a socket, a character or block device (`/dev/zero`, `/dev/urandom`) or a
 *   directory is refused with an error that says what the path is.
 * - External data (ONNX's `location` / `offset` / `length` entries) is read only from files
 *   inside the model's folder: an absolute location, one that climbs out with `..`, or one that
 *   is or passes through a symbolic link whose target lies outside the folder is refused before
 *   the file is opened. Offsets and lengths must be non-negative integers within the file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AnalysisError } from './errors';

/** What a non-regular file is, for messages ("a named pipe (FIFO)"). */
export function describeKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Messages of the errors opening or reading a file can raise, supplied by the caller (they name the role of the file). */
export interface FileMessages {
  /** The path does not exist. */
  missing: () => string;
  /** The path is a directory, FIFO, device or socket (`kind` says which). */
  notRegular: (kind: string) => string;
  /** Any other failure (permissions, I/O), with the system's reason. */
  unreadable: (reason: string) => string;
}

/** The file's bytes, when it is a regular file; otherwise an AnalysisError with the caller's words. */
export function readRegularFile(file: string, messages: FileMessages): Buffer {
  const fd = openRegular(file, messages);
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(size);
    readFully(fd, buf, 0, size, 0, messages);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

/** Bytes [offset, offset + length) of a regular file (the caller has checked the range against its size). */
export function readRegularRange(file: string, offset: number, length: number, messages: FileMessages): Buffer {
  const fd = openRegular(file, messages);
  try {
    const buf = Buffer.allocUnsafe(length);
    readFully(fd, buf, 0, length, offset, messages);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

/** The size of a regular file (same checks as reading it, no bytes read). */
export function regularFileSize(file: string, messages: FileMessages): number {
  const fd = openRegular(file, messages);
  try {
    return fs.fstatSync(fd).size;
  } finally {
    fs.closeSync(fd);
  }
}

function openRegular(file: string, messages: FileMessages): number {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new AnalysisError(messages.missing());
    if (code === 'EISDIR') throw new AnalysisError(messages.notRegular('a directory'));
    throw new AnalysisError(messages.unreadable(systemReason(e)));
  }
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    throw new AnalysisError(messages.unreadable(systemReason(e)));
  }
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new AnalysisError(messages.notRegular(describeKind(st)));
  }
  return fd;
}

function readFully(fd: number, buf: Buffer, at: number, length: number, position: number, messages: FileMessages): void {
  let read = 0;
  try {
    while (read < length) {
      const n = fs.readSync(fd, buf, at + read, length - read, position + read);
      if (n <= 0) break;
      read += n;
    }
  } catch (e) {
    throw new AnalysisError(messages.unreadable(systemReason(e)));
  }
  if (read < length) throw new AnalysisError(messages.unreadable(`it ended after ${read} of ${length} bytes`));
}

function systemReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}: ${err.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')}` : String(err.message ?? e);
}

/**
 * A file's identity for caches (path, size, mtime, inode: a rewritten file is another one);
 * throws what fs.statSync throws.
 */
export function fileIdentity(file: string): string {
  const st = fs.statSync(file);
  return `${path.resolve(file)}\n${st.size}\n${st.mtimeMs}\n${st.ino}`;
}

/** Control characters shown as escapes, so a hostile name cannot split or colour a one-line message. */
export function printable(s: string): string {
  // C0 controls, DEL, C1 controls, the Unicode bidi/format controls that reorder terminal text, the
  // zero-width and invisible ones (U+200B–U+200D, U+2060–U+2064, BOM) and the line/paragraph separators.
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * The file an external-data `location` names, when it lies inside the model's folder `baseDir`
 * (symbolic links resolved); otherwise an AnalysisError naming the tensor and the location.
 * Nothing is opened or read.
 */
export function externalDataFile(baseDir: string, location: string, tensor: string): string {
  const where = `tensor '${printable(tensor)}' keeps its data in '${printable(location)}'`;
  const refuse = (why: string) => new AnalysisError(`${where}, ${why}; Gradient Lens reads external data only from files inside the model's folder — keep the sidecar files next to the .onnx model and re-save it with relative locations (onnx.save(..., save_as_external_data=True)).`);
  if (location.includes('\0')) throw refuse('a path with a NUL character');
  if (path.isAbsolute(location) || path.win32.isAbsolute(location) || /^[A-Za-z]:/.test(location)) {
    throw refuse('an absolute path outside the model\'s folder');
  }
  const root = path.resolve(baseDir);
  const full = path.resolve(root, location);
  if (full !== root && !isInside(root, full)) throw refuse('a path outside the model\'s folder (it climbs out with \'..\')');
  let realRoot: string;
  try {
    realRoot = fs.realpathSync(root);
  } catch {
    realRoot = root;
  }
  let real: string;
  try {
    real = fs.realpathSync(full);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      // A dangling link still must not point outside; a plain missing file is reported by the reader.
      const link = danglingLinkTarget(root, location);
      if (link !== undefined && !isInside(realRoot, link)) throw refuse(`a symbolic link to '${printable(link)}', outside the model's folder`);
      return full;
    }
    return full;
  }
  if (real !== realRoot && !isInside(realRoot, real)) throw refuse(`a symbolic link to '${printable(real)}', outside the model's folder`);
  return real;
}

function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** The target of the first symbolic link along `location` under `root` whose target does not exist, if any. */
function danglingLinkTarget(root: string, location: string): string | undefined {
  let cur = root;
  for (const part of location.split(/[\\/]+/).filter((p) => p && p !== '.')) {
    cur = path.join(cur, part);
    try {
      if (fs.lstatSync(cur).isSymbolicLink()) return path.resolve(path.dirname(cur), fs.readlinkSync(cur));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** A non-negative integer from an external-data entry (`offset`, `length`), else an AnalysisError. */
export function externalDataInteger(value: string, key: 'offset' | 'length', tensor: string, location: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) {
    throw new AnalysisError(`tensor '${printable(tensor)}' gives its external data (in '${printable(location)}') the ${key} '${printable(value)}', which is not a non-negative integer; the model is corrupt — re-save it with onnx.save(..., save_as_external_data=True).`);
  }
  return n;
}
