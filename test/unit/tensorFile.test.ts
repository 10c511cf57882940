/**
 * `--json R --tensors F`: the report's float32 tensors as raw little-endian float32 in F, each one
 * referenced from the JSON by byte offset and length. The same report as plain JSON, value for
 * value; the tensor file is an output like the others (never the model, an input or another
 * output); it is written with the JSON or not at all; `compare` reads such reports.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { cli, removeTempDirs, tempDir } from './cliHelpers';
import { REPO } from './helpers';
import { reportFromJson, TensorRef } from '../../src/protocol/standalone';
import { Report, Tensor } from '../../src/report/types';

const MODEL = path.join(REPO, 'examples', 'adding-lstm.onnx');

/** Every tensor of a report by its place, in a fixed order. */
function tensors(value: unknown, at = '', out = new Map<string, Tensor>()): Map<string, Tensor> {
  if (!value || typeof value !== 'object') return out;
  const obj = value as Record<string, unknown>;
  if (Array.isArray(obj.dims) && ArrayBuffer.isView(obj.data)) { out.set(at, obj as unknown as Tensor); return out; }
  for (const [k, v] of Object.entries(obj)) tensors(v, `${at}.${k}`, out);
  return out;
}

function readReport(file: string, bin?: string): Report {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  return reportFromJson(json, bin ? (ref: TensorRef) => {
    assert.strictEqual(ref.file, path.basename(bin));
    const bytes = fs.readFileSync(bin).subarray(ref.byteOffset, ref.byteOffset + 4 * ref.length);
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  } : undefined);
}

after(removeTempDirs);

describe('--tensors: the tensors in a binary file beside the JSON', function () {
  this.timeout(120000);

  it('holds every float32 tensor of the plain JSON report, bit for bit; the rest of the report is the same', async () => {
    const dir = tempDir('gl-tensors-');
    const plain = path.join(dir, 'plain.json');
    const json = path.join(dir, 'r.json');
    const bin = path.join(dir, 'r.bin');
    assert.strictEqual((await cli('analyze', MODEL, '--json', plain, '--quiet')).code, 0);
    const r = await cli('analyze', MODEL, '--json', json, '--tensors', bin, '--quiet');
    assert.strictEqual(r.code, 0, r.stderr);
    const raw = JSON.parse(fs.readFileSync(json, 'utf8'));
    assert.deepStrictEqual(raw.tensorFile, { path: 'r.bin', dtype: 'float32', byteOrder: 'little-endian', bytes: fs.statSync(bin).size, tensors: raw.tensorFile.tensors });
    // The per-step tensors are references, not numbers.
    const gh = raw.layers[0].directions[0].gradHidden;
    assert.strictEqual(gh.data.file, 'r.bin');
    assert.strictEqual(gh.data.length, gh.dims.reduce((a: number, d: number) => a * d, 1));
    const a = readReport(plain);
    const b = readReport(json, bin);
    const ta = tensors(a);
    const tb = tensors(b);
    assert.deepStrictEqual([...tb.keys()], [...ta.keys()]);
    let float32 = 0;
    for (const [k, t] of ta) {
      const u = tb.get(k)!;
      assert.deepStrictEqual(u.dims, t.dims, k);
      if (t.data instanceof Float32Array) {
        float32++;
        assert.ok(u.data instanceof Float32Array, k);
        assert.deepStrictEqual(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength), k);
      } else {
        assert.deepStrictEqual(Array.from(u.data), Array.from(t.data), k);
      }
    }
    assert.strictEqual(float32, raw.tensorFile.tensors, 'each float32 tensor once in the file');
    assert.strictEqual(raw.tensorFile.bytes, [...ta.values()].filter((t) => t.data instanceof Float32Array).reduce((n, t) => n + 4 * t.data.length, 0));
    const strip = (x: Report) => ({ ...x, runtime: { ...x.runtime, timingsMs: {} } });
    assert.deepStrictEqual(JSON.stringify(strip(b), (_k, v) => (ArrayBuffer.isView(v) ? [] : v)), JSON.stringify(strip(a), (_k, v) => (ArrayBuffer.isView(v) ? [] : v)));
  });

  it('compare reads such a report; a missing or short tensor file is one clear error', async () => {
    const dir = tempDir('gl-tensors-');
    const json = path.join(dir, 'r.json');
    const bin = path.join(dir, 'data', 'r.bin');
    fs.mkdirSync(path.dirname(bin));
    assert.strictEqual((await cli('analyze', MODEL, '--json', json, '--tensors', bin, '--quiet')).code, 0);
    assert.strictEqual(JSON.parse(fs.readFileSync(json, 'utf8')).tensorFile.path, 'data/r.bin', 'named relative to the report');
    const ok = await cli('compare', json);
    assert.strictEqual(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /adding-lstm\.onnx\s+LSTM/);
    fs.truncateSync(bin, 64);
    const short = await cli('compare', json);
    assert.strictEqual(short.code, 2);
    assert.match(short.stderr, /tensor file 'data\/r\.bin' holds 64 bytes, too few/);
    fs.rmSync(bin);
    const missing = await cli('compare', json);
    assert.strictEqual(missing.code, 2);
    assert.match(missing.stderr, /its tensors are in 'data\/r\.bin' \(no such file\)/);
  });

  it('with --html too: all three files, nothing pending left', async () => {
    const dir = tempDir('gl-tensors-');
    const r = await cli('analyze', MODEL, '--json', path.join(dir, 'r.json'), '--tensors', path.join(dir, 'r.bin'), '--html', path.join(dir, 'r.html'), '--quiet');
    assert.strictEqual(r.code, 0, r.stderr);
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['r.bin', 'r.html', 'r.json']);
  });

  it('is refused before any work without --json FILE, with --detail metrics, or onto the model, an input or another output', async () => {
    const dir = tempDir('gl-tensors-');
    const input = path.join(REPO, 'examples', 'adding-sample.npy');
    const json = path.join(dir, 'r.json');
    const cases: [string[], RegExp][] = [
      [['--tensors', path.join(dir, 'r.bin')], /--tensors .* goes with --json FILE/],
      [['--json', '-', '--tensors', path.join(dir, 'r.bin')], /goes with --json FILE/],
      [['--json', json, '--detail', 'metrics', '--tensors', path.join(dir, 'r.bin')], /--detail metrics leaves out/],
      [['--json', json, '--tensors', MODEL], /--tensors .* is the model being analysed/],
      [['--json', json, '--input', `x=${input}`, '--tensors', input], /--tensors .* is the file given for input 'x'/],
      [['--json', json, '--tensors', json], /--json and --tensors name the same file/],
      [['--json', json, '--tensors', `${dir}/`], /names a folder; .*report\.bin/],
    ];
    for (const [extra, message] of cases) {
      const r = await cli('analyze', MODEL, ...extra, '--quiet');
      assert.strictEqual(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    assert.deepStrictEqual(fs.readdirSync(dir), [], 'nothing written');
  });
});
