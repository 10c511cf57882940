/**
 * `gradient-lens compare A.json B.json …`: several reports side by side, one line per layer
 * direction — verdict, how much of the state survives to the first step, reach, ρ — then the
 * story of each in a line. The end of the README's demo: the same input through an RNN, a GRU and
 * an LSTM.
 */
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from '../onnx/errors';
import { printable } from '../onnx/files';
import { reportFromJson, TensorRef } from '../protocol/standalone';
import { flowLine, num, percent, stepUnit } from '../report/story';
import type { Report } from '../report/types';

export interface Compared { label: string; report: Report }

/** The comparison as text lines (pure: tested against the reports' numbers). */
export function formatComparison(items: Compared[]): string {
  const rows: string[][] = [];
  const stories: string[] = [];
  for (const { label, report } of items) {
    for (const layer of report.layers) {
      for (const d of layer.directions) {
        const decay = d.metrics.decay;
        const name = `${label}${report.layers.length > 1 || layer.directions.length > 1 ? ` ${layer.node}${layer.directions.length > 1 ? ` ${d.direction}` : ''}` : ''}`;
        const unit = stepUnit(layer);
        const survival = decay?.survival ?? null;
        rows.push([
          name, layer.op, decay ? decay.verdict : 'not measured',
          survival === null ? '—' : `state ${percent(survival)} to the first ${unit}`,
          decay ? (decay.reach === null ? `beyond T = ${layer.seqLen}` : `reach ${decay.reach} ${unit}s`) : '—',
          decay?.rho !== null && decay?.rho !== undefined ? `ρ ${num(decay.rho, 4)}` : '—',
        ]);
        stories.push(`${name}: ${flowLine(layer, d)}`);
      }
    }
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => [...r[i]].length))) ?? [];
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  return [`Comparison (${items.length} report${items.length === 1 ? '' : 's'}):`, ...lines.map((l) => `  ${l}`), '', ...stories].join('\n');
}

export const COMPARE_USAGE = `usage: gradient-lens compare REPORT.json REPORT.json …

Puts reports written by 'gradient-lens analyze --json' side by side: one line per layer direction
(verdict, how much of the state survives to the first step, reach, ρ), then each one's story.
Rows are named by the model's file, and by the report's file where two reports share a model.`;

/**
 * Reads the tensors a report keeps in its tensor file (analyze --tensors), named relative to the
 * report's folder: a regular file holding every value the report says it has (never a FIFO or a
 * device, whose reads could block); each tensor read in one call.
 */
function tensorFileReader(reportFile: string): { read: (ref: TensorRef) => Float32Array; close: () => void } {
  const opened = new Map<string, { fd: number; size: number }>();
  const close = () => { for (const f of opened.values()) fs.closeSync(f.fd); opened.clear(); };
  const read = (ref: TensorRef): Float32Array => {
    const file = path.resolve(path.dirname(reportFile), ref.file);
    let f = opened.get(file);
    if (!f) {
      let fd: number;
      try {
        fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
      } catch (e) {
        throw new Error(`its tensors are in '${ref.file}' (${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}); keep the tensor file beside the report as analyze wrote it.`);
      }
      const st = fs.fstatSync(fd);
      if (!st.isFile()) { fs.closeSync(fd); throw new Error(`its tensor file '${ref.file}' is not a regular file.`); }
      opened.set(file, f = { fd, size: st.size });
    }
    const bytes = 4 * ref.length;
    if (ref.byteOffset + bytes > f.size) throw new Error(`its tensor file '${ref.file}' holds ${f.size} bytes, too few for a tensor at byte ${ref.byteOffset} of ${ref.length} values (is it the file written with this report?).`);
    const out = new Float32Array(ref.length);
    const view = new Uint8Array(out.buffer);
    for (let done = 0; done < bytes;) {
      const n = fs.readSync(f.fd, view, done, bytes - done, ref.byteOffset + done);
      if (n <= 0) throw new Error(`its tensor file '${ref.file}' ended early.`);
      done += n;
    }
    return out;
  };
  return { read, close };
}

export function runCompare(files: string[], write: (text: string) => void): void {
  if (files.length === 0) throw new UsageError('compare needs reports: gradient-lens compare A.json B.json … (written by analyze --json)');
  const items = files.map((file) => {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`${printable(file)}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}.`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UsageError(`${printable(file)} is not a JSON report (compare reads the files written by analyze --json${/\.html?$/i.test(file) ? ', not the HTML page' : ''}).`);
    }
    let report: Report;
    const tensors = tensorFileReader(file);
    try {
      report = reportFromJson(json, tensors.read);
    } catch (e) {
      throw new UsageError(`${printable(file)}: ${(e as Error).message}`);
    } finally {
      tensors.close();
    }
    return { file, model: path.basename(report.model.path), report };
  });
  // Rows are named by the model; two reports of one model by their own files too (and their place when even those agree).
  const labels = items.map(({ file, model }, i) => {
    const same = items.filter((o) => o.model === model);
    if (same.length === 1) return printable(model);
    const sameFile = same.filter((o) => path.basename(o.file) === path.basename(file));
    return printable(`${model} (${path.basename(file)}${sameFile.length > 1 ? ` #${i + 1}` : ''})`);
  });
  write(`${formatComparison(items.map(({ report }, i) => ({ label: labels[i], report })))}\n`);
}
