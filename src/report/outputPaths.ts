/**
 * Where a report may be written. Decided before the analysis starts, so that a bad path costs
 * nothing: a report never replaces the model, an input, another output, a device (`/dev/null`
 * would become a regular file when a root user's rename lands on it) or a symbolic link's
 * target, and the folder it goes into must exist and be writable.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from '../onnx/errors';
import { describeKind, printable } from '../onnx/files';

/** A file that must never be overwritten, and what it is ("the model", "input 'x'"). */
export interface ProtectedFile {
  role: string;
  path: string;
}

/** A fresh name beside `file` for writing it before renaming it into place (created exclusively by the writer). */
export function temporaryName(file: string): string {
  return `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** A requested output: its flag or label ("--json") and path ('-' = standard output). */
export interface OutputRequest {
  flag: string;
  path: string;
}


/** `file` with its folder's symbolic links resolved (as it is when the folder does not exist). */
function realFolderPath(file: string): string {
  try {
    return path.join(fs.realpathSync(path.dirname(file)), path.basename(file));
  } catch {
    return file;
  }
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

/** Throws UsageError (exit 2) for the first output that must not be written; see the module comment. */
export function checkOutputPaths(outputs: OutputRequest[], protectedFiles: ProtectedFile[]): void {
  const toStdout = outputs.filter((o) => o.path === '-');
  if (toStdout.length > 1) {
    throw new UsageError(`${toStdout.map((o) => o.flag).join(' and ')} cannot both write to standard output ('-'); send one of them to a file.`);
  }
  const protectedStats = protectedFiles.map((p) => ({ ...p, st: statOrUndefined(p.path), abs: path.resolve(p.path) }));
  const seen: { flag: string; real: string; st?: fs.Stats }[] = [];
  for (const o of outputs) {
    if (o.path === '-') continue;
    const shown = printable(o.path);
    if (o.path === '') throw new UsageError(`${o.flag} needs a file name (or '-' for standard output).`);
    if (/[\\/]$/.test(o.path)) throw new UsageError(`${o.flag} ${shown} names a folder; give the path of a report file in it (e.g. ${shown}report.${o.flag === '--html' ? 'html' : o.flag === '--tensors' ? 'bin' : 'json'}).`);
    const abs = path.resolve(o.path);
    let lst: fs.Stats | undefined;
    try {
      lst = fs.lstatSync(abs);
    } catch {
      lst = undefined;
    }
    if (lst?.isSymbolicLink()) {
      throw new UsageError(`${o.flag} ${shown} is a symbolic link; Gradient Lens writes reports only to regular files it can replace safely — give the path of the file itself or a new file.`);
    }
    if (lst && !lst.isFile()) {
      throw new UsageError(`${o.flag} ${shown} is ${describeKind(lst)}, not a file a report can be written to; give the path of a new or regular file${o.path.startsWith('/dev/') ? " (use '-' for standard output)" : ''}.`);
    }
    for (const p of protectedStats) {
      const same = lst && p.st ? lst.dev === p.st.dev && lst.ino === p.st.ino : abs === p.abs;
      if (same) throw new UsageError(`${o.flag} ${shown} is ${p.role}; writing the report there would destroy it — choose another file name.`);
    }
    // A file not there yet is compared by its folder's real path (linkdir/r.json and real/r.json are one file).
    const real = realFolderPath(abs);
    for (const other of seen) {
      const same = lst && other.st ? lst.dev === other.st.dev && lst.ino === other.st.ino : real === other.real;
      if (same) throw new UsageError(`${other.flag} and ${o.flag} name the same file (${shown}); give each report its own file.`);
    }
    seen.push({ flag: o.flag, real, st: lst });
    const dir = path.dirname(abs);
    const dst = statOrUndefined(dir);
    if (!dst) throw new UsageError(`${o.flag} ${shown}: the folder ${printable(dir)} does not exist; create it first or choose another path.`);
    if (!dst.isDirectory()) throw new UsageError(`${o.flag} ${shown}: ${printable(dir)} is not a folder; choose another path.`);
    try {
      fs.accessSync(dir, fs.constants.W_OK);
    } catch {
      throw new UsageError(`${o.flag} ${shown}: the folder ${printable(dir)} is not writable; choose a folder you can write to.`);
    }
  }
}
