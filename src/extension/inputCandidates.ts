/**
 * Which .npy beside a model could be the values of one of its inputs (no VS Code API here, so
 * the rules are unit-tested): files named after the input, and — for a one-input model — after
 * the model, whose shape fits the input's declared shape (a leading calls axis allowed for a
 * streaming model).
 */
import * as path from 'path';
import type { ValueInfoSummary } from '../report/types';

/** File names that name `input` of `modelPath`, most specific first. */
export function candidateNames(modelPath: string, input: string, inputCount: number): string[] {
  const stem = path.basename(modelPath).replace(/\.onnx$/i, '');
  const safe = input.replace(/[^\w.-]+/g, '_');
  const names = [`${stem}_${safe}.npy`, `${stem}.${safe}.npy`, `input_${safe}.npy`, `${safe}.npy`];
  if (inputCount === 1) names.push(`${stem}.npy`, 'input.npy');
  return names;
}

/** Whether an array of `shape` fits the input's declared shape (symbolic sizes fit anything; one extra leading axis when `calls`). */
export function shapeFits(shape: number[], declared: ValueInfoSummary['shape'], calls?: number): boolean {
  if (!declared) return true;
  const fits = (s: number[]) => s.length === declared.length && s.every((d, i) => typeof declared[i] !== 'number' || declared[i] === d);
  if (fits(shape)) return true;
  return calls !== undefined && shape.length === declared.length + 1 && shape[0] === calls && fits(shape.slice(1));
}

/** The first existing, fitting candidate for `input`, given the folder's file names and a shape reader. */
export function findCandidate(modelPath: string, input: ValueInfoSummary, inputCount: number, existing: Set<string>,
  shapeOf: (file: string) => number[] | undefined, calls?: number): string | undefined {
  const dir = path.dirname(modelPath);
  for (const name of candidateNames(modelPath, input.name, inputCount)) {
    if (!existing.has(name)) continue;
    const file = path.join(dir, name);
    const shape = shapeOf(file);
    if (shape && shapeFits(shape, input.shape, calls)) return file;
  }
  return undefined;
}
