/**
 * `gradient-lens compare A.json B.json …`: several reports side by side, one line per layer
 * direction — verdict, how much of the state survives to the first step, reach, ρ — then the
 * story of each in a line. The end of the README's demo: the same input through an RNN, a GRU and
 * an LSTM.
 */
import * as path from 'path';
import { AnalysisError, UsageError } from '../onnx/errors';
import { FileMessages, printable, readRegularFile, readRegularRange, regularFileSize } from '../onnx/files';
import { reportFromJson } from '../protocol/standalone';
import { flowLine, num, percent, stepUnit } from '../report/story';
import type { Report, TensorFileInfo, TensorFileRef } from '../report/types';

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

export const COMPARE_USAGE = `usage: gradient-lens compare REPORT.json [REPORT.json …]

Puts reports written by 'gradient-lens analyze --json' side by side: one line per layer direction
(verdict, how much of the state survives to the first step, reach, ρ), then each one's story.
Rows are named by the model's file, and by the report's file where two reports share a model.
One report gives its own summary table. Exit codes: 0 printed; 2 a report that cannot be read
(missing, not a report, its tensor file missing or short) or a bad argument.`;

/** Messages for a file compare reads (`what` names it), as usage errors go: one line each. */
function messages(what: string, advice: string): FileMessages {
  return {
    missing: () => `${what}: no such file.`,
    notRegular: (kind) => `${what} is ${kind}; ${advice}`,
    unreadable: (reason) => `${what} could not be read (${reason}).`,
  };
}

/**
 * Reads the tensors a report keeps in its tensor file (analyze --tensors), named relative to the
 * report's folder: checked now (a regular file of the size the report gives it: a file of another
 * run would not be), each tensor read only if something uses its data (compare does not).
 */
function tensorFileReader(reportFile: string): (file: TensorFileInfo) => (ref: TensorFileRef) => Float32Array {
  return (info) => {
    const where = path.resolve(path.dirname(reportFile), info.path);
    const what = `its tensor file '${printable(info.path)}'`;
    const m = messages(what, 'keep the tensor file analyze --tensors wrote beside the report.');
    const size = regularFileSize(where, m);
    if (size !== info.bytes) throw new UsageError(`${what} holds ${size} bytes, not the ${info.bytes} the report says (is it the file written with this report?).`);
    return (ref) => {
      const bytes = readRegularRange(where, ref.byteOffset, 4 * ref.length, m);
      const out = new Float32Array(ref.length);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    };
  };
}

export function runCompare(files: string[], write: (text: string) => void): void {
  if (files.length === 0) throw new UsageError('compare needs reports: gradient-lens compare A.json B.json … (written by analyze --json)');
  // Options are analyze's, not compare's: say so rather than look for a file named '--json'.
  const option = files.find((f) => f.startsWith('-'));
  if (option === '-') throw new UsageError("compare reads report files, not standard input ('-'); write the report with --json FILE first.");
  if (option) throw new UsageError(`compare takes report files only; '${printable(option)}' is not one of its options (see gradient-lens compare --help). To name a file starting with '-', write it as ./${printable(option)}.`);
  const items = files.map((file) => {
    let text: string;
    try {
      text = readRegularFile(file, messages(printable(file), 'compare reads the JSON files written by analyze --json.')).toString('utf8');
    } catch (e) {
      throw new UsageError(e instanceof AnalysisError ? e.message : `${printable(file)} could not be read (${(e as Error).message}).`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UsageError(`${printable(file)} is not a JSON report (compare reads the files written by analyze --json${/\.html?$/i.test(file) ? ', not the HTML page' : ''}).`);
    }
    let report: Report;
    try {
      report = reportFromJson(json, tensorFileReader(file));
    } catch (e) {
      throw new UsageError(`${printable(file)}: ${(e as Error).message}`);
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
