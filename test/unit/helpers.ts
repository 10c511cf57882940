/** Shared test helpers: fixture paths, running the engine, float32-justified comparisons. */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { analyzeModel, AnalyzeOptions } from '../../src/analysis/analyze';
import { encodeModel, loadModel } from '../../src/onnx/model';
import { readNpy } from '../../src/inputs/npy';
import { Report } from '../../src/report/types';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const FIXTURES = path.join(REPO, 'test', 'fixtures');

export function fixture(...parts: string[]): string {
  return path.join(FIXTURES, ...parts);
}

export function analyze(modelPath: string, extra: Partial<AnalyzeOptions> = {}): Promise<Report> {
  return analyzeModel({
    modelPath, files: {}, seed: 0, dims: {}, ep: 'cpu', saturation: { low: 0.1, high: 0.9 }, ...extra,
  });
}

export function loadArray(file: string): { shape: number[]; data: Float64Array } {
  const a = readNpy(file);
  const data = a.data instanceof BigInt64Array ? Float64Array.from(a.data, Number) : Float64Array.from(a.data as ArrayLike<number>);
  return { shape: a.shape, data };
}

/** float32 unit roundoff. */
export const EPS32 = 2 ** -24;

/**
 * Assert |actual − expected| ≤ atol + rtol·|expected| elementwise, reporting the worst index.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what: string): number {
  assert.strictEqual(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  let maxErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    maxErr = Math.max(maxErr, err);
    const excess = err - (atol + rtol * Math.abs(expected[i]));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess)) { worst = i; worstExcess = excess; }
  }
  if (worst >= 0) {
    assert.fail(`${what}: index ${worst} is ${actual[worst]}, expected ${expected[worst]} (|err| ${Math.abs(actual[worst] - expected[worst]).toExponential(3)} > ${atol.toExponential(2)} + ${rtol.toExponential(2)}·|x|)`);
  }
  return maxErr;
}

export function listCases(dir: string): string[] {
  return fs.readdirSync(dir).filter((d) => !d.startsWith('_') && fs.existsSync(path.join(dir, d, 'case.json'))).sort();
}

/**
 * A copy of `src`'s model whose initializers named in `names` live in the sidecar `location`
 * (relative to `dir`), each at a 16-byte aligned offset, written with our own encoder.
 */
export function externalize(src: string, dir: string, names: string[], location = 'weights.bin'): { model: string; sidecar: string } {
  const proto = loadModel(src).proto;
  const chunks: Buffer[] = [];
  let size = 0;
  for (const t of proto.graph.initializer) {
    if (!names.includes(t.name ?? '')) continue;
    assert.ok(t.raw_data && t.raw_data.length > 0, `${t.name} has raw_data to move`);
    const pad = (16 - (size % 16)) % 16;
    chunks.push(Buffer.alloc(pad));
    size += pad;
    const bytes = Buffer.from(t.raw_data);
    t.external_data = [
      { key: 'location', value: location },
      { key: 'offset', value: String(size) },
      { key: 'length', value: String(bytes.length) },
    ];
    t.data_location = 1;
    delete t.raw_data;
    chunks.push(bytes);
    size += bytes.length;
  }
  const sidecar = path.join(dir, location);
  fs.mkdirSync(path.dirname(sidecar), { recursive: true });
  fs.writeFileSync(sidecar, Buffer.concat(chunks));
  const model = path.join(dir, 'model.onnx');
  fs.writeFileSync(model, encodeModel(proto));
  return { model, sidecar };
}
