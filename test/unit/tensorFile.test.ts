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
import { reportFromJson } from '../../src/protocol/standalone';
import { Report, Tensor, TensorFileInfo, TensorFileRef } from '../../src/report/types';
import { RenameError, renameTogether } from '../../src/report/jsonWriter';
import { spawnSync } from 'child_process';

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
  return reportFromJson(json, bin ? (info: TensorFileInfo) => {
    assert.strictEqual(info.path, path.basename(bin));
    return (ref: TensorFileRef) => {
      const bytes = fs.readFileSync(bin).subarray(ref.byteOffset, ref.byteOffset + 4 * ref.length);
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    };
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
    // A reference outside the file, to another file, or a tensor file that is a FIFO: one clear line each, no hang.
    const raw = JSON.parse(fs.readFileSync(json, 'utf8'));
    const variants: [(r: typeof raw) => void, RegExp][] = [
      [(r) => { r.layers[0].directions[0].gradHidden.data.byteOffset = r.tensorFile.bytes; }, /lies beyond the \d+ bytes of its tensor file/],
      [(r) => { r.layers[0].directions[0].gradHidden.data.file = '/etc/passwd'; }, /refers to a file other than the report's tensorFile \("\/etc\/passwd"\)/],
      [(r) => { r.layers[0].directions[0].gradHidden.data.file = '\u001b[31m\nerror: fake'; }, /tensorFile \("\\u001b\[31m\\nerror: fake"\)/],
      [(r) => { r.tensorFile.path = 'fifo'; }, /its tensor file 'fifo' is a named pipe \(FIFO\); keep the tensor file/],
      [(r) => { r.tensorFile = null; }, /its tensorFile is not \{ path/],
    ];
    spawnSync('mkfifo', [path.join(dir, 'fifo')]);
    for (const [change, message] of variants) {
      const r = JSON.parse(JSON.stringify(raw));
      change(r);
      const bad = path.join(dir, 'bad.json');
      fs.writeFileSync(bad, JSON.stringify(r));
      const out = await cli('compare', bad);
      assert.strictEqual(out.code, 2, out.stderr);
      assert.match(out.stderr, message);
    }
    fs.truncateSync(bin, 64);
    const short = await cli('compare', json);
    assert.strictEqual(short.code, 2);
    assert.match(short.stderr, /tensor file 'data\/r\.bin' holds 64 bytes, not the \d+ the report says/);
    fs.rmSync(bin);
    const missing = await cli('compare', json);
    assert.strictEqual(missing.code, 2);
    assert.match(missing.stderr, /its tensor file 'data\/r\.bin': no such file/);
    // Not a report at all: said so, not a TypeError.
    fs.writeFileSync(path.join(dir, 'null.json'), 'null');
    const notObject = await cli('compare', path.join(dir, 'null.json'));
    assert.strictEqual(notObject.code, 2);
    assert.match(notObject.stderr, /the report is not a JSON object/);
  });

  it('compare refuses a report that is a FIFO or a folder at once (no hang)', async () => {
    const dir = tempDir('gl-tensors-');
    spawnSync('mkfifo', [path.join(dir, 'r.json')]);
    const fifo = await cli('compare', path.join(dir, 'r.json'));
    assert.strictEqual(fifo.code, 2);
    assert.match(fifo.stderr, /r\.json is a named pipe \(FIFO\); compare reads the JSON files written by analyze --json/);
    const folder = await cli('compare', dir);
    assert.strictEqual(folder.code, 2);
    assert.match(folder.stderr, /is a directory; compare reads the JSON files written by analyze --json/);
  });

  it('names the tensor file from the JSON\'s real folder (a JSON written through a symlinked folder)', async () => {
    const dir = tempDir('gl-tensors-');
    fs.mkdirSync(path.join(dir, 'deep', 'a', 'b'), { recursive: true });
    fs.symlinkSync(path.join(dir, 'deep', 'a', 'b'), path.join(dir, 'lb'));
    const r = await cli('analyze', MODEL, '--json', path.join(dir, 'lb', 'r.json'), '--tensors', path.join(dir, 't.bin'), '--quiet');
    assert.strictEqual(r.code, 0, r.stderr);
    const real = path.join(dir, 'deep', 'a', 'b', 'r.json');
    assert.strictEqual(JSON.parse(fs.readFileSync(real, 'utf8')).tensorFile.path, '../../../t.bin');
    assert.strictEqual((await cli('compare', real)).code, 0);
  });

  it('puts the new pair in place together: a failed rename restores the earlier files', async () => {
    const dir = tempDir('gl-tensors-');
    const [a, b, newA] = ['a.bin', 'b.json', 'new-a'].map((f) => path.join(dir, f));
    fs.writeFileSync(a, 'old a');
    fs.writeFileSync(b, 'old b');
    fs.writeFileSync(newA, 'new a');
    // The second move's source is missing: its rename fails after the first one succeeded.
    await assert.rejects(renameTogether([[newA, a], [path.join(dir, 'missing'), b]]), (e: Error) => e instanceof RenameError && e.final === b);
    assert.strictEqual(fs.readFileSync(a, 'utf8'), 'old a');
    assert.strictEqual(fs.readFileSync(b, 'utf8'), 'old b');
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['a.bin', 'b.json'], 'no backup or new file left');
    // Nothing there before: the new file goes again.
    fs.rmSync(a);
    fs.writeFileSync(newA, 'new a');
    await assert.rejects(renameTogether([[newA, a], [path.join(dir, 'missing'), b]]));
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['b.json']);
    // Success: the new files in place, the old ones gone.
    fs.writeFileSync(newA, 'new a');
    const newB = path.join(dir, 'new-b');
    fs.writeFileSync(newB, 'new b');
    await renameTogether([[newA, a], [newB, b]]);
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['a.bin', 'b.json']);
    assert.strictEqual(fs.readFileSync(b, 'utf8'), 'new b');
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
      [['--json', json, '--tensors', '-'], /--tensors needs a file name \(the tensors are binary/],
      [['--json', json, '--tensors', ''], /--tensors needs a file name/],
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

describe('--tensors: a write failing late', function () {
  this.timeout(120000);
  const fsMod = require('fs') as typeof fs & { createWriteStream: typeof fs.createWriteStream };
  const original = fsMod.createWriteStream;
  afterEach(() => { fsMod.createWriteStream = original; });

  for (const which of ['r.json', 'r.bin'] as const) {
    it(`ENOSPC while closing ${which}: one clean error naming that file, nothing left behind, an earlier pair kept`, async () => {
      const dir = tempDir('gl-tensors-');
      const json = path.join(dir, 'r.json');
      const bin = path.join(dir, 'r.bin');
      assert.strictEqual((await cli('analyze', MODEL, '--json', json, '--tensors', bin, '--quiet')).code, 0);
      const before = [fs.readFileSync(json), fs.readFileSync(bin)];
      // The stream accepts every write and fails at the end, as a full disk does after the last write call.
      fsMod.createWriteStream = ((p: fs.PathLike, o?: object) => {
        const s = original(p, o as Parameters<typeof fs.createWriteStream>[1]);
        if (path.basename(String(p)).startsWith(`${which}.tmp-`)) {
          (s as unknown as { _final: (cb: (e?: Error) => void) => void })._final = (cb) => cb(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
        }
        return s;
      }) as typeof fs.createWriteStream;
      const r = await cli('analyze', MODEL, '--seed', '3', '--json', json, '--tensors', bin, '--quiet');
      assert.strictEqual(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^error: the ${which === 'r.json' ? 'JSON report' : 'tensor file'} could not be written to .*${which.replace('.', '\\.')} \\(ENOSPC.*\\); the disk \\(or your quota\\) is full`));
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['r.bin', 'r.json'], 'no temporary file left');
      assert.deepStrictEqual([fs.readFileSync(json), fs.readFileSync(bin)], before, 'the earlier pair kept');
    });
  }
});
