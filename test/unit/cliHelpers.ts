/**
 * Helpers for the command-line tests: running `runCli` in-process with captured streams, running
 * the bundled CLI (`bin/gradient-lens.js`) as a child process, temporary folders, hand-made
 * `.npy` files and small recurrent models built with our own protobuf writer.
 */
import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import { runCli } from '../../src/cli/main';
import { GraphBuilder, makeModel, valueInfo } from '../../src/onnx/builder';
import { encodeModel } from '../../src/onnx/model';
import { DataType } from '../../src/onnx/proto';
import { REPO } from './helpers';

/** A writable stream that keeps everything written to it as text. */
export class Capture extends Writable {
  private readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    done();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `runCli(argv)` in this process, stdout and stderr captured. */
export async function cli(...argv: string[]): Promise<CliResult> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runCli(argv, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

export const BIN = path.join(REPO, 'bin', 'gradient-lens.js');

let bundle: Promise<void> | undefined;
/** Builds dist/ with esbuild.js once per test run (the bin script loads dist/cli.js). */
export function ensureBundle(): Promise<void> {
  bundle = bundle ?? new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [path.join(REPO, 'esbuild.js')], { cwd: REPO }, (err, _out, errText) => {
      if (err) reject(new Error(`node esbuild.js failed: ${errText || err.message}`));
      else resolve();
    });
  });
  return bundle;
}

/** Runs `node bin/gradient-lens.js ARGS` as a child process. `signal` is set when it was killed by one. */
export function runBin(args: string[], cwd = REPO): Promise<CliResult & { signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, maxBuffer: 256 * 1024 * 1024, timeout: 60000 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals | null }) | null;
      const code = e ? (typeof e.code === 'number' ? e.code : -1) : 0;
      resolve({ code, stdout, stderr, signal: e?.signal ?? null });
    });
  });
}

/**
 * Asserts the SPEC §6 failure shape: exactly one non-empty line on stderr, starting `error:`, with
 * no stack trace, containing every key word (case-insensitive strings, or regexps).
 */
export function assertOneErrorLine(stderr: string, ...keys: (string | RegExp)[]): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  assert.strictEqual(lines.length, 1, `expected exactly one stderr line, got ${lines.length}:\n${stderr}`);
  const line = lines[0];
  assert.match(line, /^error: \S/, `stderr line does not start with 'error:': ${line}`);
  assert.doesNotMatch(line, /\n\s+at |\bat .*\(.*:\d+:\d+\)/, `stack trace on stderr: ${line}`);
  for (const k of keys) {
    if (typeof k === 'string') assert.ok(line.toLowerCase().includes(k.toLowerCase()), `error line lacks '${k}': ${line}`);
    else assert.match(line, k, `error line does not match ${k}: ${line}`);
  }
  return line;
}

/** A fresh temporary folder, removed by `removeTempDirs()`. */
const made: string[] = [];
export function tempDir(prefix = 'gl-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  while (made.length) fs.rmSync(made.pop()!, { recursive: true, force: true });
}

/**
 * A `.npy` file written by hand (format 1.0) so tests can make files numpy would write but
 * Gradient Lens must refuse: other dtypes, Fortran order.
 */
export function writeRawNpy(file: string, descr: string, shape: number[], data: Uint8Array, fortranOrder = false): void {
  const shapeRepr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${shapeRepr}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  out.set(data, 10 + header.length);
  fs.writeFileSync(file, out);
}

/** Deterministic small weights in [-0.5, 0.5) (a linear congruential sequence; values only need to be fixed). */
function weights(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

export interface LstmModelOptions {
  /** The graph input X's dims: a number is static, a string a symbolic dim_param. */
  xShape: (number | string)[];
  inputSize: number;
  hiddenSize: number;
  nodeName?: string;
}

/** A one-node LSTM model (W, R, B initializers; outputs Y and Y_h), encoded with our own writer. */
export function lstmModelBytes(o: LstmModelOptions): Uint8Array {
  const H = o.hiddenSize;
  const I = o.inputSize;
  const g = new GraphBuilder('t_');
  g.input('X', DataType.FLOAT, o.xShape);
  g.initializers.push(
    { name: 'W', dims: [1, 4 * H, I], data_type: DataType.FLOAT, float_data: Array.from(weights(4 * H * I, 1)) },
    { name: 'R', dims: [1, 4 * H, H], data_type: DataType.FLOAT, float_data: Array.from(weights(4 * H * H, 2)) },
    { name: 'B', dims: [1, 8 * H], data_type: DataType.FLOAT, float_data: Array.from(weights(8 * H, 3)) },
  );
  g.nodes.push({
    op_type: 'LSTM', name: o.nodeName ?? 'lstm', domain: '', input: ['X', 'W', 'R', 'B'], output: ['Y', 'Y_h'],
    attribute: [{ name: 'hidden_size', type: 2, i: H }],
  });
  const [seq, batch] = o.xShape;
  g.outputs.push(valueInfo('Y', DataType.FLOAT, [seq, 1, batch, H]), valueInfo('Y_h', DataType.FLOAT, [1, batch, H]));
  return encodeModel(makeModel(g.graph('test_lstm'), 14));
}
