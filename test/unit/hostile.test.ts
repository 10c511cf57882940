/**
 * Hostile and broken inputs, each built on the fly: Gradient Lens must never read a file outside
 * the model's folder, never read a FIFO or a device, never replace the model, an input, a device
 * or a link's target with a report, never allocate its way into swap, never abort on a signal,
 * never leave a partial file, never draw a verdict from NaN, and never let a model's names
 * write escape sequences to the terminal. Every case asserts the exit code and the one error
 * line, and the file-system side effects (or their absence).
 */
import * as assert from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { inspectModel } from '../../src/analysis/analyze';
import { estimateAnalysisMemory, parseSize } from '../../src/analysis/memory';
import { loadModel, encodeModel } from '../../src/onnx/model';
import { GraphProto, ModelProto, TensorProto } from '../../src/onnx/proto';
import { writeNpy } from '../../src/inputs/npy';
import { Report } from '../../src/report/types';
import { userOrtMessage } from '../../src/runtime/executionProvider';
import { fixture } from './helpers';
import { assertOneErrorLine, BIN, Capture, cli, CliResult, ensureBundle, removeTempDirs, runBin, tempDir } from './cliHelpers';
import { runCli } from '../../src/cli/main';
import { syntheticRecurrentModel } from './synthetic';

const BASIC = fixture('forward', 'lstm_basic');
const BASIC_MODEL = path.join(BASIC, 'model.onnx');
const BASIC_X = path.join(BASIC, 'input_x.npy');
const SECRET = 'GRADIENT-LENS-SECRET-0123456789';

function expectExit(r: CliResult, code: number, ...keys: (string | RegExp)[]): string {
  assert.strictEqual(r.code, code, `exit code ${r.code}, stderr: ${r.stderr} stdout: ${r.stdout.slice(0, 200)}`);
  const line = assertOneErrorLine(r.stderr, ...keys);
  assert.doesNotMatch(line, /Gradient Lens bug|internal error/, line);
  return line;
}

/** The lstm_basic model with its W and R moved to external data at `location` (written by the caller). */
/** gru_in_scan with R moved into the Scan body, its bytes in `r.bin` beside the model (written in `dir`). */
function modelWithBodySidecar(dir: string): { model: string; sidecar: string; bytes: Buffer } {
  const proto = loadModel(path.join(fixture('backward', 'gru_in_scan'), 'model.onnx')).proto;
  const body = proto.graph.node.find((n) => n.op_type === 'Scan')!.attribute.find((a) => a.name === 'body')!.g!;
  const R = proto.graph.initializer.find((t) => t.name === 'gru_R')!;
  proto.graph.initializer = proto.graph.initializer.filter((t) => t !== R);
  const bytes = Buffer.from(R.raw_data ?? new Uint8Array(new Float32Array(R.float_data!).buffer));
  const sidecar = path.join(dir, 'r.bin');
  fs.writeFileSync(sidecar, bytes);
  body.initializer = [...(body.initializer ?? []), { ...R, raw_data: undefined, float_data: undefined, data_location: 1, external_data: [{ key: 'location', value: 'r.bin' }] }];
  const model = path.join(dir, 'model.onnx');
  fs.writeFileSync(model, encodeModel(proto));
  return { model, sidecar, bytes };
}

function modelWithExternal(dir: string, location: string, entries: Record<string, string> = {}): string {
  const proto = loadModel(BASIC_MODEL).proto;
  const w = proto.graph.initializer.find((t) => t.name === proto.graph.node.find((n) => n.op_type === 'LSTM')!.input[1])!;
  w.data_location = 1;
  w.external_data = [{ key: 'location', value: location }, { key: 'offset', value: entries.offset ?? '0' },
    ...(entries.length !== undefined ? [{ key: 'length', value: entries.length }] : [])];
  delete w.raw_data;
  delete w.float_data;
  const file = path.join(dir, 'model.onnx');
  fs.writeFileSync(file, encodeModel(proto));
  return file;
}

describe('hostile: external data outside the model\'s folder is never read', function () {
  this.timeout(60000);
  let root: string;
  let dir: string;
  let secret: string;
  before(() => {
    root = tempDir('gl-hostile-');
    dir = path.join(root, 'models');
    fs.mkdirSync(dir);
    secret = path.join(root, 'secret.bin');
    // Enough bytes for any tensor of the model, so a read would succeed (and leak) if attempted.
    fs.writeFileSync(secret, Buffer.from(SECRET.repeat(4096)));
  });
  after(removeTempDirs);

  const cases: [string, () => string, RegExp][] = [
    ['an absolute location', () => secret, /absolute path/],
    ['a location that climbs out with ..', () => '../secret.bin', /climbs out/],
    ['a symbolic link to a file outside', () => { fs.symlinkSync(secret, path.join(dir, 'link.bin')); return 'link.bin'; }, /symbolic link/],
    ['a location through a linked folder', () => { fs.symlinkSync(root, path.join(dir, 'up')); return 'up/secret.bin'; }, /symbolic link/],
    ['/proc/self/environ', () => '/proc/self/environ', /absolute path/],
  ];
  for (const [what, location, why] of cases) {
    it(`${what}: one error naming the tensor and the location, no report written, the secret never copied`, async () => {
      for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { force: true });
      const loc = location();
      const model = modelWithExternal(dir, loc);
      const out = path.join(root, 'report.json');
      const r = await cli('analyze', model, '--ep', 'cpu', '--json', out);
      const line = expectExit(r, 1, "tensor '", loc, 'outside', why);
      assert.ok(!line.includes(SECRET) && !r.stdout.includes(SECRET));
      assert.ok(!fs.existsSync(out), 'no report');
      // The model-overview editor reads the same weights through the same reader.
      await assert.rejects(inspectModel(model), (e: Error) => why.test(e.message) && e.message.includes(loc));
    });
  }

  it('a link inside the folder to a file inside the folder is followed (a normal layout)', async () => {
    for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
    const proto = loadModel(BASIC_MODEL).proto;
    const w = proto.graph.initializer.find((t) => t.name === proto.graph.node.find((n) => n.op_type === 'LSTM')!.input[1])!;
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'data', 'w.bin'), Buffer.from(w.raw_data!));
    fs.symlinkSync('data/w.bin', path.join(dir, 'w.bin'));
    const model = modelWithExternal(dir, 'w.bin');
    const a = await cli('analyze', model, '--ep', 'cpu', '--input', `x=${BASIC_X}`, '--json', '-');
    const b = await cli('analyze', BASIC_MODEL, '--ep', 'cpu', '--input', `x=${BASIC_X}`, '--json', '-');
    assert.strictEqual(a.code, 0, a.stderr);
    assert.deepStrictEqual(JSON.parse(a.stdout).outputs, JSON.parse(b.stdout).outputs);
  });

  it('a Loop/Scan body\'s sidecar weights are read from the model\'s folder, not the working directory', async () => {
    for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
    const src = fixture('backward', 'gru_in_scan');
    const { model, bytes } = modelWithBodySidecar(dir);
    // A decoy r.bin of other weights in the working directory.
    const cwd = tempDir('gl-hostile-cwd-');
    fs.writeFileSync(path.join(cwd, 'r.bin'), Buffer.alloc(bytes.length, 0x3f));
    const args = ['analyze', '--ep', 'cpu', '--input', `x=${path.join(src, 'input_x.npy')}`, '--input', `h0=${path.join(src, 'input_h0.npy')}`, '--json', '-'];
    const a = await runBin([args[0], model, ...args.slice(1)], cwd);
    const b = await runBin([args[0], path.join(src, 'model.onnx'), ...args.slice(1)], cwd);
    assert.strictEqual(a.code, 0, a.stderr);
    assert.deepStrictEqual(JSON.parse(a.stdout).outputs, JSON.parse(b.stdout).outputs, 'the weights in the model\'s folder, not the decoy');
  });

  const badEntries: [string, Record<string, string>, RegExp][] = [
    ['a negative offset', { offset: '-16' }, /offset '-16'.*not a non-negative integer/],
    ['a non-numeric offset', { offset: 'abc' }, /offset 'abc'.*not a non-negative integer/],
    ['a non-numeric length', { length: '12x' }, /length '12x'.*not a non-negative integer/],
    ['a length past the end of the file', { length: '100000000' }, /too short/],
    ['an offset past the end of the file', { offset: '100000000' }, /too short/],
  ];
  for (const [what, entries, why] of badEntries) {
    it(`${what} is a clear error, not an internal one`, async () => {
      for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
      fs.writeFileSync(path.join(dir, 'w.bin'), Buffer.alloc(4096));
      const model = modelWithExternal(dir, 'w.bin', entries);
      expectExit(await cli('analyze', model, '--ep', 'cpu'), 1, 'w.bin', why);
    });
  }
});

describe('hostile: only regular files are read (no FIFO, device or folder)', function () {
  this.timeout(60000);
  let dir: string;
  let fifo: string;
  before(function () {
    dir = tempDir('gl-hostile-');
    fifo = path.join(dir, 'pipe.onnx');
    const made = spawnSync('mkfifo', [fifo]);
    assert.strictEqual(made.status, 0, `mkfifo: ${made.stderr}`);
  });
  after(removeTempDirs);

  // Child processes with a timeout: a read that blocks shows up as a killed child, not a hung suite.
  it('a FIFO, /dev/zero, /dev/urandom or a folder as the model', async () => {
    await ensureBundle();
    for (const [model, kind] of [[fifo, 'named pipe'], ['/dev/zero', 'character device'], ['/dev/urandom', 'character device'], [dir, 'directory']]) {
      const r = await runBin(['analyze', model, '--ep', 'cpu']);
      assert.strictEqual(r.signal, null, `${model}: killed by ${r.signal}`);
      expectExit(r, 1, kind, 'not an ONNX model file');
    }
  });

  it('a FIFO or a device as an input .npy or a --target file', async () => {
    await ensureBundle();
    const npyFifo = path.join(dir, 'x.npy');
    spawnSync('mkfifo', [npyFifo]);
    for (const file of [npyFifo, '/dev/zero']) {
      const r = await runBin(['analyze', BASIC_MODEL, '--ep', 'cpu', '--input', `x=${file}`]);
      assert.strictEqual(r.signal, null);
      expectExit(r, 1, "input 'x'", 'not a regular file');
      const t = await runBin(['analyze', BASIC_MODEL, '--ep', 'cpu', '--objective', 'target', '--target', file]);
      assert.strictEqual(t.signal, null);
      expectExit(t, 1, path.basename(file), 'not a regular file');
    }
  });

  it('a FIFO or a device as an external-data sidecar inside the folder', async () => {
    await ensureBundle();
    const sub = path.join(dir, 'sidecar');
    fs.mkdirSync(sub);
    spawnSync('mkfifo', [path.join(sub, 'w.bin')]);
    const model = modelWithExternal(sub, 'w.bin');
    const r = await runBin(['analyze', model, '--ep', 'cpu']);
    assert.strictEqual(r.signal, null);
    expectExit(r, 1, "'w.bin'", 'named pipe', 'not a regular file');
    fs.rmSync(path.join(sub, 'w.bin'));
    fs.symlinkSync('/dev/zero', path.join(sub, 'w.bin'));
    expectExit(await runBin(['analyze', model, '--ep', 'cpu']), 1, "'w.bin'", 'outside');
  });
});

describe('hostile: report paths never destroy anything', function () {
  this.timeout(60000);
  let dir: string;
  let model: string;
  let x: string;
  let target: string;
  let modelBytes: Buffer;
  before(() => {
    dir = tempDir('gl-hostile-');
    model = path.join(dir, 'model.onnx');
    fs.copyFileSync(BASIC_MODEL, model);
    modelBytes = fs.readFileSync(model);
    x = path.join(dir, 'x.npy');
    fs.copyFileSync(BASIC_X, x);
    target = path.join(dir, 'target.npy');
    writeNpy(target, { dtype: 'float32', shape: [1], data: new Float32Array(1) });
  });
  after(removeTempDirs);

  const unchanged = () => {
    assert.ok(fs.readFileSync(model).equals(modelBytes), 'the model is unchanged');
    assert.ok(fs.readFileSync(x).equals(fs.readFileSync(BASIC_X)), 'the input is unchanged');
    assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temporary file');
  };

  it('onto the model, an input, the target or each other: usage errors before any analysis', async () => {
    expectExit(await cli('analyze', model, '--json', model), 2, '--json', 'the model being analysed', 'destroy');
    expectExit(await cli('analyze', model, '--html', model), 2, '--html', 'the model');
    expectExit(await cli('analyze', model, '--input', `x=${x}`, '--json', x), 2, "input 'x'");
    expectExit(await cli('analyze', model, '--objective', 'target', '--target', target, '--html', target), 2, '--target file');
    expectExit(await cli('analyze', model, '--json', path.join(dir, 'r.out'), '--html', path.join(dir, 'r.out')), 2, 'same file');
    // One new file reached through a symbolic link to its folder is still one file.
    fs.mkdirSync(path.join(dir, 'real'));
    fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'linked'));
    expectExit(await cli('analyze', model, '--json', path.join(dir, 'linked', 'r.out'), '--html', path.join(dir, 'real', 'r.out')), 2, 'same file');
    // A folder or no name at all is said so before the analysis, not after it.
    expectExit(await cli('analyze', model, '--json', `${path.join(dir, 'nodir')}/`), 2, 'names a folder', 'report.json');
    expectExit(await cli('analyze', model, '--json', ''), 2, '--json needs a file name');
    assert.deepStrictEqual(fs.readdirSync(path.join(dir, 'real')), [], 'nothing written');
    // The same model through another spelling of its path (and a hard link) is still the model.
    expectExit(await cli('analyze', model, '--json', path.join(dir, '.', 'model.onnx')), 2, 'the model');
    fs.linkSync(model, path.join(dir, 'hard.onnx'));
    expectExit(await cli('analyze', model, '--json', path.join(dir, 'hard.onnx')), 2, 'the model');
    unchanged();
  });

  it("onto the model's external-data file, also one a Loop/Scan body's weights use: refused, the weights unchanged", async () => {
    const top = tempDir('gl-hostile-sidecar-');
    const withTop = modelWithExternal(top, 'w.bin');
    fs.writeFileSync(path.join(top, 'w.bin'), Buffer.from(new Float32Array(4 * 16 * 8).fill(0.01).buffer));
    const topBytes = fs.readFileSync(path.join(top, 'w.bin'));
    expectExit(await cli('analyze', withTop, '--json', path.join(top, 'w.bin')), 2, "external-data file 'w.bin'", 'destroy');
    assert.ok(fs.readFileSync(path.join(top, 'w.bin')).equals(topBytes), 'w.bin is unchanged');
    const inBody = modelWithBodySidecar(tempDir('gl-hostile-sidecar-'));
    expectExit(await cli('analyze', inBody.model, '--json', inBody.sidecar), 2, "external-data file 'r.bin'", 'destroy');
    assert.ok(fs.readFileSync(inBody.sidecar).equals(inBody.bytes), 'r.bin is unchanged');
  });

  it('onto a device or through a symbolic link', async () => {
    expectExit(await cli('analyze', model, '--json', '/dev/null'), 2, '/dev/null', 'device', "'-'");
    expectExit(await cli('analyze', model, '--html', '/dev/stdout'), 2, '/dev/stdout', 'symbolic link');
    const link = path.join(dir, 'report-link.json');
    const elsewhere = path.join(dir, 'precious.txt');
    fs.writeFileSync(elsewhere, 'keep me');
    fs.symlinkSync(elsewhere, link);
    expectExit(await cli('analyze', model, '--json', link), 2, 'symbolic link');
    assert.strictEqual(fs.readFileSync(elsewhere, 'utf8'), 'keep me');
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    expectExit(await cli('analyze', model, '--json', dir), 2, 'a directory');
    unchanged();
  });

  it('into a folder that does not exist or is not a folder: found before the analysis', async () => {
    expectExit(await cli('analyze', model, '--json', path.join(dir, 'no', 'such', 'r.json')), 2, 'does not exist');
    expectExit(await cli('analyze', model, '--html', path.join(model, 'r.html')), 2, 'not a folder');
    if (process.getuid?.() !== 0) {
      // (root may write anywhere, so this check needs an ordinary user)
      const ro = path.join(dir, 'readonly');
      fs.mkdirSync(ro, 0o555);
      expectExit(await cli('analyze', model, '--json', path.join(ro, 'r.json')), 2, 'not writable');
    }
    unchanged();
  });

  it("'--json -' and '--html -' write to standard output; both at once is a usage error", async () => {
    const j = await cli('analyze', model, '--ep', 'cpu', '--json', '-');
    assert.strictEqual(j.code, 0, j.stderr);
    assert.strictEqual(JSON.parse(j.stdout).schema.startsWith('gradient-lens/report@'), true);
    const h = await cli('analyze', model, '--ep', 'cpu', '--html', '-');
    assert.strictEqual(h.code, 0, h.stderr);
    assert.match(h.stdout, /^<!DOCTYPE html>/);
    assert.doesNotMatch(h.stdout, /^timings:/m, 'the page alone, no summary');
    expectExit(await cli('analyze', model, '--json', '-', '--html', '-'), 2, 'standard output');
    unchanged();
  });
});

describe('hostile: an analysis writes only the files asked for', function () {
  this.timeout(60000);
  it('no onnxruntime telemetry log in the temporary folder (ORT_DISABLE_TELEMETRY is set before it loads)', async () => {
    await ensureBundle();
    const env = { ...process.env };
    delete env.ORT_DISABLE_TELEMETRY;
    // (Whole seconds: a file system may keep coarse times. A log of an earlier process that had the same pid is older.)
    const started = Math.floor(Date.now() / 1000) * 1000;
    const child = spawn(process.execPath, [BIN, 'analyze', BASIC_MODEL, '--ep', 'cpu', '--input', `x=${BASIC_X}`, '--quiet'], { env, stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.strictEqual(code, 0);
    // onnxruntime-node 1.30 names its log after the process: /tmp/mat-debug-<pid>.log.
    const log = path.join(os.tmpdir(), `mat-debug-${child.pid}.log`);
    assert.ok(!fs.existsSync(log) || fs.statSync(log).mtimeMs < started, `a telemetry log was written: ${log}`);
  });
});

describe('hostile: size bombs are refused before allocating', function () {
  this.timeout(60000);
  let dir: string;
  let symbolic: string;
  before(() => {
    dir = tempDir('gl-hostile-');
    symbolic = path.join(dir, 'symbolic.onnx');
    fs.writeFileSync(symbolic, encodeModel(syntheticRecurrentModel({ op: 'LSTM', hidden: 32, input: 16 })));
  });
  after(removeTempDirs);

  /** A synthetic LSTM whose input x has the static shape `dims` (seq, batch, 16). */
  const staticModel = (name: string, dims: number[]): string => {
    const proto = syntheticRecurrentModel({ op: 'LSTM', hidden: 32, input: 16 });
    proto.graph.input[0].type!.tensor_type!.shape!.dim = dims.map((d) => ({ dim_value: d }));
    const f = path.join(dir, name);
    fs.writeFileSync(f, encodeModel(proto));
    return f;
  };

  const refused = async (argv: string[], ...keys: (string | RegExp)[]) => {
    const before = process.memoryUsage().rss;
    const r = await cli('analyze', ...argv, '--ep', 'cpu');
    expectExit(r, 1, /would need about .* of memory/, ...keys);
    assert.ok(process.memoryUsage().rss - before < 512 * 2 ** 20, 'nothing big was allocated');
  };

  it('--seq-len 100000000, --batch 1000000, --dim seq=1e15 on a symbolic model', async () => {
    await refused([symbolic, '--seq-len', '100000000'], '--seq-len, now 100000000', '--max-memory');
    await refused([symbolic, '--batch', '1000000'], '--batch, now 1000000');
    await refused([symbolic, '--dim', 'seq=1000000000000000'], '--seq-len, now 1000000000000000');
  });

  it('a static T of 1e7 and of 1e12', async () => {
    await refused([staticModel('t1e7.onnx', [10_000_000, 1, 16])]);
    await refused([staticModel('t1e12.onnx', [1_000_000_000_000, 1, 16])]);
  });

  it('--jacobian probes:99999999999 and a --max-memory below the need', async () => {
    await refused([symbolic, '--jacobian', 'probes:99999999999'], /Jacobian probes/);
    await refused([symbolic, '--max-memory', '1M'], 'the limit of 1.0 MiB (--max-memory)');
    const ok = await cli('analyze', symbolic, '--ep', 'cpu', '--max-memory', '4G', '--quiet');
    assert.strictEqual(ok.code, 0, ok.stderr);
  });

  it('a negative static dimension, and --dim with a name the model does not have', async () => {
    expectExit(await cli('analyze', staticModel('neg.onnx', [-5, 1, 16]), '--ep', 'cpu'), 1, "input 'x'", 'axis 0', '-5');
    expectExit(await cli('analyze', symbolic, '--dim', 'tokens=4'), 2, "'tokens'".replace(/'/g, ''), 'seq', 'batch');
  });

  it('the estimate grows with T·B and the seeds, and sizes parse as people write them', () => {
    const layer = { op: 'LSTM' as const, hiddenSize: 256, inputSize: 256, numDirections: 1, seqLen: 1000, batch: 1, seeds: 0 };
    const a = estimateAnalysisMemory([layer], 0, 0);
    const b = estimateAnalysisMemory([{ ...layer, seqLen: 2000 }], 0, 0);
    assert.ok(Math.abs(b.perStepBytes - 2 * a.perStepBytes) < 1);
    // Measured: I = 256, H = 1024, T = 10 000 peaked at 0.9 GB (its time-local work in chunks); the
    // estimate must not be below it, nor far above.
    const big = estimateAnalysisMemory([{ ...layer, hiddenSize: 1024, seqLen: 10000 }], 0, 0);
    assert.ok(big.bytes > 0.95 * 2 ** 30 && big.bytes < 1.6 * 2 ** 30, `estimate ${big.bytes}`);
    assert.ok(estimateAnalysisMemory([{ ...layer, seeds: 64 }], 0, 0).jacobianBytes > 0);
    assert.strictEqual(parseSize('8G'), 8 * 2 ** 30);
    assert.strictEqual(parseSize('512M'), 512 * 2 ** 20);
    assert.strictEqual(parseSize('1.5GB'), 1.5 * 2 ** 30);
    assert.strictEqual(parseSize('1000'), 1000);
    assert.throws(() => parseSize('lots'), /--max-memory expects a size/);
  });
});

describe('hostile: NaN and ±∞ say where they come from, and no verdict is drawn from them', function () {
  this.timeout(60000);
  let dir: string;
  before(() => { dir = tempDir('gl-hostile-'); });
  after(removeTempDirs);

  const poisoned = (name: string, edit: (w: Record<string, TensorProto>, proto: ModelProto) => void): string => {
    const proto = syntheticRecurrentModel({ op: 'LSTM', hidden: 8, input: 4 });
    const byName = Object.fromEntries(proto.graph.initializer.map((t) => [t.name!, t]));
    edit(byName, proto);
    const f = path.join(dir, name);
    fs.writeFileSync(f, encodeModel(proto));
    return f;
  };
  const setValues = (t: TensorProto, f: (v: Float32Array) => void) => {
    const v = new Float32Array(new Uint8Array(t.raw_data!).buffer.slice(0));
    f(v);
    t.raw_data = new Uint8Array(v.buffer);
  };

  const run = async (model: string): Promise<{ report: Report; summary: string }> => {
    const j = await cli('analyze', model, '--ep', 'cpu', '--seq-len', '12', '--jacobian', 'exact', '--json', '-');
    assert.strictEqual(j.code, 0, j.stderr);
    const s = await cli('analyze', model, '--ep', 'cpu', '--seq-len', '12', '--jacobian', 'exact');
    assert.strictEqual(s.code, 0, s.stderr);
    return { report: JSON.parse(j.stdout) as Report, summary: s.stdout };
  };

  // (An infinite W saturates sigmoids and tanh: the values it produces can all be finite, the
  // weight gradients included, yet no verdict may be drawn from them.)
  const cases: [string, (w: Record<string, TensorProto>) => void, RegExp, boolean][] = [
    ['R with one NaN', (w) => setValues(w.R, (v) => { v[5] = NaN; }), /weight 'R'.*NaN/, true],
    ['B all NaN', (w) => setValues(w.B, (v) => v.fill(NaN)), /weight 'B'.*NaN/, true],
    ['W with one +∞', (w) => setValues(w.W, (v) => { v[0] = Infinity; }), /weight 'W'.*\+∞/, false],
  ];
  for (const [what, edit, source, nanNorm] of cases) {
    it(`${what}: a warning names the tensor; verdict invalid; no clipping factor from a NaN norm`, async () => {
      const { report, summary } = await run(poisoned(`${what.replace(/\W+/g, '_')}.onnx`, edit));
      assert.ok(report.warnings.some((w) => source.test(w)), `warnings: ${report.warnings.join(' | ')}`);
      const decay = report.layers[0].directions[0].metrics.decay!;
      assert.strictEqual(decay.verdict, 'invalid');
      assert.match(decay.reason!, source);
      assert.match(summary, /^ {2}invalid: no verdict/m);
      assert.match(summary, /^ {2}Gates, retention and gradients: n\/a/m);
      assert.doesNotMatch(summary, /stable|vanishing:|exploding:|units remember|right-saturated/);
      if (nanNorm) {
        assert.strictEqual(report.clipping!.globalNorm, null, 'NaN is written as null');
        assert.strictEqual(report.clipping!.factors['1'], null, 'no factor from a NaN norm');
        assert.match(summary, /clipping what-if: n\/a/);
        assert.doesNotMatch(summary, /scales by/);
      }
    });
  }

  it('R = 3e38 (finite weights that overflow): the first non-finite value and the largest weight are named', async () => {
    const { report, summary } = await run(poisoned('huge.onnx', (w) => setValues(w.R, (v) => v.fill(3e38))));
    const warning = report.warnings.find((w) => /NaN or infinite/.test(w));
    assert.ok(warning, report.warnings.join(' | '));
    assert.match(warning, /no input or weight is/);
    assert.match(warning, /3\.00e\+38 in 'R'/);
    assert.notStrictEqual(report.layers[0].directions[0].metrics.decay!.verdict, 'stable');
    assert.doesNotMatch(summary, /^ {2}stable/m);
  });

  it('an input with NaN is named as the input', async () => {
    const x = path.join(dir, 'x_nan.npy');
    const data = new Float32Array(12 * 4).fill(0.5);
    data[7] = NaN;
    writeNpy(x, { dtype: 'float32', shape: [12, 1, 4], data });
    const model = poisoned('clean.onnx', () => undefined);
    const j = await cli('analyze', model, '--ep', 'cpu', '--input', `x=${x}`, '--json', '-');
    assert.strictEqual(j.code, 0, j.stderr);
    const report = JSON.parse(j.stdout) as Report;
    assert.ok(report.warnings.some((w) => /input 'x' holds NaN at \[1, 0, 3\]/.test(w)), report.warnings.join(' | '));
  });

  it('a one-step run has no verdict (n/a), never "stable" from a single point', async () => {
    const model = poisoned('one.onnx', () => undefined);
    const s = await cli('analyze', model, '--ep', 'cpu', '--seq-len', '1');
    assert.strictEqual(s.code, 0, s.stderr);
    assert.match(s.stdout, /^ {2}n\/a: no verdict — only 1 step/m);
  });
});

describe('hostile: terminal output cannot be hijacked by names in the model', function () {
  this.timeout(60000);
  let dir: string;
  before(() => { dir = tempDir('gl-hostile-'); });
  after(removeTempDirs);

  it('escape sequences and newlines in node and input names are shown escaped', async () => {
    const proto = syntheticRecurrentModel({ op: 'LSTM', hidden: 4, input: 3 });
    const evil = 'lstm\u001b[31mRED\u001b]0;title\u0007\nwarning: fake line\u202e\u2028also a line\u200b\u2060\ufeff';
    proto.graph.node[0].name = evil;
    proto.producer_name = 'pro\u001b[2Jducer';
    const f = path.join(dir, 'evil.onnx');
    fs.writeFileSync(f, encodeModel(proto));
    const r = await cli('analyze', f, '--ep', 'cpu', '--seq-len', '5');
    assert.strictEqual(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /[\u0000-\u0008\u000b-\u001f\u007f\u202e\u2028\u200b\u2060\ufeff]/, 'no control or invisible character reaches the terminal');
    assert.match(r.stdout, /\\u2028also a line\\u200b\\u2060\\ufeff/);
    assert.match(r.stdout, /lstm\\x1b\[31mRED/);
    assert.doesNotMatch(r.stdout, /^warning: fake line/m);
    // An error line stays one line whatever the input name holds.
    const bad = path.join(dir, 'bad\u001b[31m\nname.onnx');
    fs.writeFileSync(bad, 'not a model');
    const e = await cli('analyze', bad);
    expectExit(e, 1, 'bad\\x1b[31m\\x0aname.onnx');
  });

  it("onnxruntime's C++ locations and signatures are left out of messages (kept for --verbose)", () => {
    const raw = "Non-zero status code returned while running Reshape node. Name:'' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/tensor/reshape_helper.h:91 onnxruntime::ReshapeHelper::ReshapeHelper(const onnxruntime::TensorShape&, onnxruntime::TensorShapeVector&, bool) input_shape_size == requested_shape_size was false. The input tensor cannot be reshaped to the requested shape. Input shape:{6}, requested shape:{4}\n";
    const shown = userOrtMessage(raw);
    assert.strictEqual(shown, "Non-zero status code returned while running Reshape node. Name:'' Status Message: The input tensor cannot be reshaped to the requested shape. Input shape:{6}, requested shape:{4}");
    assert.strictEqual(userOrtMessage('[ONNXRuntimeError] : 1 : FAIL : Load model from m.onnx failed:/onnxruntime_src/onnxruntime/core/graph/model.cc:180 onnxruntime::Model::Model(onnx::ModelProto&&, const PathString&, const IOnnxRuntimeOpSchemaRegistryList*, const onnxruntime::logging::Logger&, const onnxruntime::ModelOptions&) Unsupported model IR version: 12, max supported IR version: 10'),
      'Load model from m.onnx failed:Unsupported model IR version: 12, max supported IR version: 10');
  });
});

describe('hostile: signals end the CLI promptly, never abort it, and leave no partial file', function () {
  this.timeout(120000);
  let dir: string;
  let model: string;
  before(async () => {
    dir = tempDir('gl-hostile-');
    model = path.join(dir, 'long.onnx');
    fs.writeFileSync(model, encodeModel(syntheticRecurrentModel({ op: 'LSTM', hidden: 128, input: 64 })));
    await ensureBundle();
  });
  after(removeTempDirs);

  interface Child { code: number | null; signal: NodeJS.Signals | null; stderr: string }
  /** Runs the CLI; `act(child, events)` sends signals when the CLI reaches a state. */
  const spawnCli = (args: string[], act: (pid: number, stderrSoFar: () => string) => void): Promise<Child> => new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('exit', (code, signal) => { clearTimeout(killer); resolve({ code, signal, stderr }); });
    act(child.pid!, () => stderr);
  });
  /** Polls `cond` every 10 ms. */
  const when = (cond: () => boolean, then: () => void) => {
    const t = setInterval(() => { if (cond()) { clearInterval(t); then(); } }, 10);
  };

  for (let attempt = 0; attempt < 3; attempt++) {
    it(`a second Ctrl-C during the analysis ends it with 130, never SIGABRT (try ${attempt + 1})`, async () => {
      const r = await spawnCli(['analyze', model, '--ep', 'cpu', '--seq-len', '20000', '--jacobian', 'probes:4'], (pid) => {
        setTimeout(() => {
          process.kill(pid, 'SIGINT');
          setTimeout(() => { try { process.kill(pid, 'SIGINT'); } catch { /* already gone */ } }, 5 + 40 * attempt);
        }, 700 + 300 * attempt);
      });
      assert.strictEqual(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
      assert.strictEqual(r.code, 130, r.stderr);
      assert.doesNotMatch(r.stderr, /terminate called|Napi::Error|Aborted/);
    });
  }

  for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
    it(`${sig} while the JSON report is being written leaves no temporary file and no report`, async () => {
      const out = path.join(dir, `report-${sig}.json`);
      const r = await spawnCli(['analyze', model, '--ep', 'cpu', '--seq-len', '6000', '--jacobian', 'off', '--json', out], (pid) => {
        when(() => fs.readdirSync(dir).some((f) => f.startsWith(`report-${sig}.json.tmp-`)), () => process.kill(pid, sig));
      });
      assert.strictEqual(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
      assert.strictEqual(r.code, sig === 'SIGTERM' ? 143 : 129, r.stderr);
      assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.startsWith(`report-${sig}`)), []);
    });
  }
});

describe('hostile: subgraphs nested deep (If inside If inside If …)', function () {
  this.timeout(120000);
  after(removeTempDirs);

  /** BASIC's model wrapped in `depth` Ifs whose condition is true (else: zeros of the same shapes). */
  function nestedIf(depth: number): string {
    const proto = loadModel(BASIC_MODEL).proto;
    const outputs = proto.graph.output;
    const zeros = (name: string): TensorProto => {
      const dims = (outputs.find((o) => o.name === name)!.type!.tensor_type!.shape!.dim).map((d) => Number(d.dim_value));
      return { name: `${name}_zero`, dims, data_type: 1, raw_data: new Uint8Array(4 * dims.reduce((a, b) => a * b, 1)) };
    };
    let inner: GraphProto = { ...proto.graph, input: [], name: 'level0' };
    for (let d = 0; d < depth; d++) {
      const elseBranch: GraphProto = { name: `else${d}`, node: outputs.map((o) => ({ op_type: 'Constant', input: [], output: [o.name], name: `z${d}_${o.name}`, attribute: [{ name: 'value', type: 4, t: zeros(o.name) }] })), input: [], output: outputs, initializer: [], value_info: [] };
      inner = {
        name: `level${d + 1}`, input: [], output: outputs, initializer: [], value_info: [],
        node: [
          { op_type: 'Constant', input: [], output: [`cond${d}`], name: `cond${d}`, attribute: [{ name: 'value', type: 4, t: { name: 'c', dims: [], data_type: 9, raw_data: new Uint8Array([1]) } }] },
          { op_type: 'If', input: [`cond${d}`], output: outputs.map((o) => o.name), name: `if${d}`, attribute: [{ name: 'then_branch', type: 5, g: inner }, { name: 'else_branch', type: 5, g: elseBranch }] },
        ],
      };
    }
    const file = path.join(tempDir('gl-hostile-nest-'), `nest${depth}.onnx`);
    fs.writeFileSync(file, encodeModel({ ...proto, graph: { ...inner, input: proto.graph.input, name: 'nested' } }));
    return file;
  }

  it('31 levels analyse (every walk over the nested graphs is linear: one that doubled per level would never end); 32 and 1000 are one clear error at once', async () => {
    const ok = await cli('analyze', nestedIf(31), '--input', `x=${BASIC_X}`, '--ep', 'cpu', '--json', '-', '--detail', 'metrics');
    assert.strictEqual(ok.code, 0, ok.stderr);
    assert.strictEqual((JSON.parse(ok.stdout) as Report).layers.length, 1);
    for (const depth of [32, 1000]) {
      const r = await cli('analyze', nestedIf(depth), '--input', `x=${BASIC_X}`, '--ep', 'cpu');
      assert.strictEqual(r.code, 1);
      assertOneErrorLine(r.stderr, `nests subgraphs ${depth} levels deep`, 'at most 31 levels', 're-export');
    }
  });
});

/** BASIC's model after `edit`, written to a fresh folder as `name`. */
function variant(name: string, edit: (p: ModelProto) => void): string {
  const proto = loadModel(BASIC_MODEL).proto;
  edit(proto);
  const file = path.join(tempDir('gl-hostile-variant-'), name);
  fs.writeFileSync(file, encodeModel(proto));
  return file;
}

/** BASIC's LSTM node and its R initializer. */
const lstmNode = (p: ModelProto) => p.graph.node.find((n) => n.op_type === 'LSTM')!;
const lstmR = (p: ModelProto) => p.graph.initializer.find((t) => t.name === lstmNode(p).input[2])!;

describe('hostile: one name, two values', function () {
  this.timeout(60000);
  after(removeTempDirs);
  it('two initializers of one name are refused (onnxruntime would run the first, a reader of the last would analyse another tensor)', async () => {
    let name = '';
    const file = variant('dup.onnx', (p) => { const R = lstmR(p); name = R.name!; p.graph.initializer.push({ ...R, raw_data: new Uint8Array(R.raw_data!.length) }); });
    const r = await cli('analyze', file, '--input', `x=${BASIC_X}`, '--ep', 'cpu');
    assert.strictEqual(r.code, 1);
    assertOneErrorLine(r.stderr, `defines the weight '${name}' twice`, 'remove the duplicate');
  });

  it('a byte-identical copy under the same name (as older converters wrote them) is one value: analysed', async () => {
    const file = variant('same.onnx', (p) => { const R = lstmR(p); p.graph.initializer.push({ ...R, raw_data: Uint8Array.from(R.raw_data!) }); });
    const r = await cli('analyze', file, '--input', `x=${BASIC_X}`, '--ep', 'cpu');
    assert.strictEqual(r.code, 0, r.stderr);
  });
});

describe('hostile: --json and --html together, the page cannot be written', function () {
  this.timeout(60000);
  after(removeTempDirs);
  it('leaves neither report (the JSON waited for the page), keeps an earlier JSON, and no temporary file', async () => {
    const dir = tempDir('gl-hostile-both-');
    const json = path.join(dir, 'r.json');
    fs.writeFileSync(json, 'an earlier report');
    const sub = path.join(dir, 'pages');
    fs.mkdirSync(sub);
    const stdout = new Capture();
    const stderr = new Capture();
    // The paths pass the checks at the start; the page's folder is gone by the time it is written.
    const run = runCli(['analyze', BASIC_MODEL, '--input', `x=${BASIC_X}`, '--ep', 'cpu', '--json', json, '--html', path.join(sub, 'r.html')], { stdout, stderr });
    fs.rmSync(sub, { recursive: true });
    assert.strictEqual(await run, 1, stderr.text);
    assert.match(stderr.text, /could not write .*r\.html/);
    assert.strictEqual(fs.readFileSync(json, 'utf8'), 'an earlier report');
    assert.deepStrictEqual(fs.readdirSync(dir), ['r.json']);
  });
});

describe('hostile: odd structure and names get messages that say what is wrong', function () {
  this.timeout(60000);
  after(removeTempDirs);

  it('a model without graph outputs: exit 1 saying so (not "--output undefined", exit 2)', async () => {
    const r = await cli('analyze', variant('noout.onnx', (p) => { p.graph.output = []; }), '--input', `x=${BASIC_X}`, '--ep', 'cpu');
    assert.strictEqual(r.code, 1);
    assertOneErrorLine(r.stderr, 'declares no graph outputs');
    assert.doesNotMatch(r.stderr, /undefined/);
  });

  it('an LSTM in another domain is counted with its domain (not "no LSTM … it contains 1 LSTM")', async () => {
    const r = await cli('analyze', variant('domain.onnx', (p) => { p.graph.node.find((n) => n.op_type === 'LSTM')!.domain = 'com.acme'; }), '--input', `x=${BASIC_X}`, '--ep', 'cpu');
    assert.strictEqual(r.code, 1);
    assertOneErrorLine(r.stderr, 'has no LSTM, GRU or RNN node', '1 com.acme:LSTM');
  });

  for (const [what, edit, words] of [
    ['clip = -1', (p: ModelProto) => { lstmNode(p).attribute.push({ name: 'clip', type: 1, f: -1 }); }, ['clip=-1', 'a positive number']],
    ['no hidden_size', (p: ModelProto) => { const n = lstmNode(p); n.attribute = n.attribute.filter((a) => a.name !== 'hidden_size'); }, ['no hidden_size attribute', "R's last dimension here: 6"]],
    ['hidden_size as a FLOAT', (p: ModelProto) => { const a = lstmNode(p).attribute.find((x) => x.name === 'hidden_size')!; a.type = 1; a.f = 6; delete a.i; }, ['hidden_size given as a FLOAT', 'positive INT']],
    ['hidden_size = -6', (p: ModelProto) => { lstmNode(p).attribute.find((x) => x.name === 'hidden_size')!.i = -6; }, ['hidden_size -6', 'positive INT']],
    ['hidden_size = 2^40 (no memory refusal first)', (p: ModelProto) => { lstmNode(p).attribute.find((x) => x.name === 'hidden_size')!.i = 2 ** 40; }, ['hidden_size=1099511627776 but its R is [1, 24, 6]']],
    ['no W', (p: ModelProto) => { lstmNode(p).input[1] = ''; }, ['has no W input']],
  ] as const) {
    it(`an LSTM with ${what}: one error naming the node and the attribute or input, before onnxruntime sees it`, async () => {
      const r = await cli('analyze', variant('odd.onnx', edit), '--input', `x=${BASIC_X}`, '--ep', 'cpu');
      assert.strictEqual(r.code, 1);
      assertOneErrorLine(r.stderr, "LSTM node '", ...words);
      assert.doesNotMatch(r.stderr, /was false|GetAttr|memory/);
    });
  }

  it('an initial state of the wrong shape names the graph input it came from and the shape it must have', async () => {
    const file = variant('h0.onnx', (p) => {
      lstmNode(p).input[5] = 'h0';
      p.graph.input.push({ name: 'h0', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 1 }, { dim_value: 2 }, { dim_value: 5 }] } } } });
    });
    const r = await cli('analyze', file, '--input', `x=${BASIC_X}`, '--ep', 'cpu');
    assert.strictEqual(r.code, 1);
    assertOneErrorLine(r.stderr, "its initial_h, from input 'h0',", 'has shape [1, 2, 5] but must be [1, 2, 6]');
  });

  it('every sequence length 0: "no step ran", not "Jacobian mode off"', async () => {
    const file = variant('zero.onnx', (p) => {
      lstmNode(p).input[4] = 'lens0';
      p.graph.initializer.push({ name: 'lens0', dims: [2], data_type: 6, raw_data: new Uint8Array(8) });
    });
    const r = await cli('analyze', file, '--input', `x=${BASIC_X}`, '--ep', 'cpu');
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stdout, /n\/a: no verdict — no step ran \(every sequence length is 0\)/);
    assert.doesNotMatch(r.stdout, /Jacobian mode off/);
  });

  it('--input and --dim named __proto__ are names like any other (usage errors here), not silently ignored', async () => {
    const a = await cli('analyze', BASIC_MODEL, '--input', '__proto__=x.npy');
    assert.strictEqual(a.code, 2);
    assertOneErrorLine(a.stderr, "no input named '__proto__'");
    const b = await cli('analyze', BASIC_MODEL, '--dim', '__proto__=5');
    assert.strictEqual(b.code, 2);
    assertOneErrorLine(b.stderr, '--dim __proto__');
  });
});
