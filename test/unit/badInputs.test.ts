/**
 * Models and inputs Gradient Lens cannot analyse (SPEC §5, §6): every case must end with exit
 * code 1 (2 for bad usage) and exactly one stderr line starting `error:` that names the file /
 * input / node at fault and says what to do — never a stack trace, never a crash.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { encodeNpy, readNpy, writeNpy } from '../../src/inputs/npy';
import { encodeModel, loadModel } from '../../src/onnx/model';
import { fixture } from './helpers';
import {
  assertOneErrorLine, cli, ensureBundle, lstmModelBytes, removeTempDirs, runBin, tempDir, writeRawNpy,
} from './cliHelpers';

const FORGET = fixture('forward', 'lstm_forget_bias');
const FORGET_MODEL = path.join(FORGET, 'model.onnx');
const FORGET_XNPY = path.join(FORGET, 'input_x.npy');
const BASIC_MODEL = fixture('forward', 'lstm_basic', 'model.onnx');
const BAD = fixture('forward', '_bad');

/** Runs the CLI and asserts exit 1, nothing on stdout and one error line with the key words. */
async function expectError(argv: string[], ...keys: (string | RegExp)[]): Promise<string> {
  const r = await cli('analyze', ...argv, '--ep', 'cpu');
  assert.strictEqual(r.code, 1, `exit code: stdout ${r.stdout.slice(0, 300)} stderr ${r.stderr}`);
  assert.strictEqual(r.stdout, '');
  const line = assertOneErrorLine(r.stderr, ...keys);
  assert.doesNotMatch(line, /Gradient Lens bug/, 'a bad input is not reported as an internal bug');
  return line;
}

describe('bad inputs: files that are not (whole) ONNX models', function () {
  this.timeout(60000);
  let dir: string;
  before(() => { dir = tempDir(); });
  after(removeTempDirs);

  it('a text file', async () => {
    const f = path.join(dir, 'notes.onnx');
    fs.writeFileSync(f, 'This is a README, not a model.\nSecond line.\n');
    await expectError([f], 'notes.onnx', 'not an ONNX model', 'text file', '.onnx');
  });

  it('a .npy array passed as the model', async () => {
    await expectError([FORGET_XNPY], 'input_x.npy', 'not an ONNX model', 'NumPy', '.onnx');
  });

  it('an empty file', async () => {
    const f = path.join(dir, 'empty.onnx');
    fs.writeFileSync(f, '');
    await expectError([f], 'empty.onnx', 'empty', '0 bytes', 're-export');
  });

  it('a missing file and a folder', async () => {
    await expectError([path.join(dir, 'nope.onnx')], 'nope.onnx', 'no such file', 'check the path');
    await expectError([dir], path.basename(dir), 'directory', 'ONNX model file');
  });

  it('JSON and zip (PyTorch checkpoint) files are recognised for what they are', async () => {
    const j = path.join(dir, 'config.json');
    fs.writeFileSync(j, '{"hidden_size": 4}');
    await expectError([j], 'config.json', 'JSON');
    const z = path.join(dir, 'weights.pt');
    fs.writeFileSync(z, Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(60, 7)]));
    await expectError([z], 'weights.pt', 'zip', 'PyTorch');
  });

  it('a truncated .onnx (the first half of a fixture)', async () => {
    for (const [name, src] of [['half_basic.onnx', BASIC_MODEL], ['half_forget.onnx', FORGET_MODEL]]) {
      const bytes = fs.readFileSync(src);
      const f = path.join(dir, name);
      fs.writeFileSync(f, bytes.subarray(0, bytes.length >> 1));
      await expectError([f], name, 'truncated', 're-');
    }
  });

  it('a weight whose inline bytes do not fit its shape names the file and the weight', async () => {
    const proto = loadModel(BASIC_MODEL).proto;
    const w = proto.graph.initializer.find((t) => t.raw_data && t.raw_data.length > 8)!;
    w.raw_data = w.raw_data!.subarray(0, w.raw_data!.length - 8);
    const f = path.join(dir, 'short_weight.onnx');
    fs.writeFileSync(f, encodeModel(proto));
    await expectError([f], 'short_weight.onnx', `weight '${w.name}'`, `holds ${w.raw_data.length} bytes`, 'corrupt', 're-export');
  });

  it('a model with no recurrent node lists what it contains', async () => {
    await expectError([path.join(BAD, 'norecurrent.onnx')], 'norecurrent.onnx', 'no LSTM, GRU or RNN node', 'MatMul', 'Relu', 'Add');
  });

  it('an RNN whose W is computed at run time: every layer skipped, the node and the reason named', async () => {
    await expectError([path.join(BAD, 'rnn_runtime_weights.onnx')], 'rnn_runtime_weights.onnx', "RNN node 'rnn_runtime_w'",
      'W weight', 'computed at run time', /fold the weights into constants|initializer/);
  });
});

describe('bad inputs: corrupt models (bytes flipped in the middle) end cleanly', function () {
  this.timeout(120000);
  let dir: string;
  before(async () => {
    dir = tempDir();
    await ensureBundle();
  });
  after(removeTempDirs);

  /** xorshift-free LCG: a reproducible byte position and mask per (seed, k). */
  const corrupt = (src: Buffer, seed: number, flips: number): Buffer => {
    const b = Buffer.from(src);
    let s = (seed * 2654435761) >>> 0;
    const next = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
    const lo = Math.floor(b.length * 0.3);
    const hi = Math.floor(b.length * 0.7);
    for (let k = 0; k < flips; k++) b[lo + Math.floor(next() * (hi - lo))] ^= 1 + Math.floor(next() * 255);
    return b;
  };

  // Child processes: a native crash must show up as a failed test, not end the test run.
  const src = fs.readFileSync(BASIC_MODEL);
  const cases: [number, number][] = [[1, 8], [3, 8], [5, 8], [9, 8], [2, 1], [4, 1], [8, 1], [17, 1], [19, 1], [25, 1]];
  for (const [seed, flips] of cases) {
    it(`lstm_basic with ${flips} byte(s) flipped, seed ${seed}: a clean error or a clean run`, async () => {
      const f = path.join(dir, `corrupt_${seed}_${flips}.onnx`);
      const bytes = corrupt(src, seed, flips);
      assert.ok(!bytes.equals(src));
      fs.writeFileSync(f, bytes);
      const r = await runBin(['analyze', f, '--ep', 'cpu']);
      assert.strictEqual(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
      assert.ok(r.code === 0 || r.code === 1, `exit code ${r.code}: ${r.stderr}`);
      if (r.code === 1) {
        const line = assertOneErrorLine(r.stderr, path.basename(f));
        assert.doesNotMatch(line, /Gradient Lens bug|internal error/, line);
      } else {
        assert.strictEqual(r.stderr, '');
        assert.match(r.stdout, /LSTM '.*' forward/);
      }
    });
  }
});

describe('bad inputs: .npy files for a model input', function () {
  this.timeout(60000);
  let dir: string;
  before(() => { dir = tempDir(); });
  after(removeTempDirs);

  const x = readNpy(FORGET_XNPY);
  const raw = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

  it('a float64 or int64 file of the right shape is accepted (converted to the input type)', async () => {
    const f64 = path.join(dir, 'x64.npy');
    writeNpy(f64, { dtype: 'float64', shape: x.shape, data: Float64Array.from(x.data as Float32Array) });
    const a = await cli('analyze', FORGET_MODEL, '--input', `x=${FORGET_XNPY}`, '--ep', 'cpu', '--json', '-');
    const b = await cli('analyze', FORGET_MODEL, '--input', `x=${f64}`, '--ep', 'cpu', '--json', '-');
    assert.strictEqual(b.code, 0, b.stderr);
    assert.deepStrictEqual(JSON.parse(b.stdout).outputs, JSON.parse(a.stdout).outputs, 'float64 → float32 loses nothing here');
    const i64 = path.join(dir, 'xi64.npy');
    writeNpy(i64, { dtype: 'int64', shape: x.shape, data: BigInt64Array.from(x.data as Float32Array, (v) => BigInt(Math.round(v))) });
    const c = await cli('analyze', FORGET_MODEL, '--input', `x=${i64}`, '--ep', 'cpu', '--quiet');
    assert.strictEqual(c.code, 0, c.stderr);
  });

  const dtypes: [string, string, number][] = [
    ['uint8', '|u1', 1], ['complex64', '<c8', 8], ['float16', '<f2', 2], ['big-endian float32', '>f4', 4], ['bool', '|b1', 1],
  ];
  for (const [what, descr, size] of dtypes) {
    it(`a ${what} file (${descr}) names the input and asks for float32/float64/int32/int64`, async () => {
      const f = path.join(dir, `x_${what.replace(/\W/g, '_')}.npy`);
      writeRawNpy(f, descr, x.shape, raw(x.data.length * size, 0));
      await expectError([FORGET_MODEL, '--input', `x=${f}`], path.basename(f), "input 'x'", descr === '>f4' ? 'little-endian' : 'float32');
    });
  }

  it('a file of the wrong rank names the input, the file\'s shape and the model\'s', async () => {
    const f = path.join(dir, 'x_rank2.npy');
    writeNpy(f, { dtype: 'float32', shape: [12, 6], data: new Float32Array(72) });
    await expectError([FORGET_MODEL, '--input', `x=${f}`], "input 'x'", 'x_rank2.npy', '(12, 6)', 'rank 3', '[12, 2, 3]');
  });

  it('a file of the wrong size on a static axis names the input and the axis', async () => {
    const f = path.join(dir, 'x_wide.npy');
    writeNpy(f, { dtype: 'float32', shape: [12, 2, 4], data: new Float32Array(96) });
    await expectError([FORGET_MODEL, '--input', `x=${f}`], "input 'x'", 'x_wide.npy', '(12, 2, 4)', 'axis 2 must be 3');
    const g = path.join(dir, 'x_long.npy');
    writeNpy(g, { dtype: 'float32', shape: [13, 2, 3], data: new Float32Array(78) });
    await expectError([FORGET_MODEL, '--input', `x=${g}`], "input 'x'", 'axis 0 must be 12');
  });

  it('a Fortran-order file names the input and says how to re-save it', async () => {
    const f = path.join(dir, 'x_fortran.npy');
    writeRawNpy(f, '<f4', x.shape, raw(x.data.length * 4, 0), true);
    await expectError([FORGET_MODEL, '--input', `x=${f}`], "input 'x'", 'Fortran', 'ascontiguousarray');
  });

  it('a truncated .npy and a missing .npy name the input', async () => {
    const f = path.join(dir, 'x_cut.npy');
    const bytes = encodeNpy(x);
    fs.writeFileSync(f, bytes.subarray(0, bytes.length - 10));
    await expectError([FORGET_MODEL, '--input', `x=${f}`], "input 'x'", 'truncated', 'numpy.save');
    await expectError([FORGET_MODEL, '--input', `x=${path.join(dir, 'none.npy')}`], "input 'x'", 'none.npy', 'does not exist');
  });

  it('--input for a name the model does not have is a usage error listing its inputs', async () => {
    const r = await cli('analyze', FORGET_MODEL, '--input', `X=${FORGET_XNPY}`, '--ep', 'cpu');
    assert.strictEqual(r.code, 2);
    assertOneErrorLine(r.stderr, "no input named 'X'", 'its inputs: x');
  });

  it('an integer input that does not index an embedding must be given with --input', async () => {
    const bidir = fixture('forward', 'lstm_seq_lens_bidir');
    await expectError([path.join(bidir, 'model.onnx'), '--input', `X=${path.join(bidir, 'input_X.npy')}`],
      "input 'seq_lens'", 'integer', '--input seq_lens=');
  });
});

describe('bad inputs: symbolic dims that are neither sequence nor batch', function () {
  this.timeout(60000);
  let model: string;
  let dir: string;
  before(() => {
    dir = tempDir();
    model = path.join(dir, 'feat.onnx');
    fs.writeFileSync(model, lstmModelBytes({ xShape: ['seq', 'batch', 'feat'], inputSize: 3, hiddenSize: 4 }));
  });
  after(removeTempDirs);

  it('an unresolvable dim asks for --dim feat=VALUE', async () => {
    await expectError([model], "input 'X'", "'feat'", '--dim feat=VALUE');
  });

  it('--dim feat=3 resolves it', async () => {
    const r = await cli('analyze', model, '--dim', 'feat=3', '--seq-len', '4', '--ep', 'cpu', '--json', '-');
    assert.strictEqual(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepStrictEqual([j.layers[0].seqLen, j.layers[0].batch, j.layers[0].inputSize], [4, 1, 3]);
  });

  it('a --dim that contradicts the weights is a clean error', async () => {
    await expectError([model, '--dim', 'feat=5'], "input 'X'", '5 features', "LSTM node 'lstm' expects 3", '--dim');
  });

  it('a file whose feature size contradicts the weights names the input', async () => {
    const f = path.join(dir, 'x5.npy');
    writeNpy(f, { dtype: 'float32', shape: [4, 1, 5], data: new Float32Array(20) });
    await expectError([model, '--input', `X=${f}`], "input 'X'", '5 features', "LSTM node 'lstm' expects 3", 'pass a file');
  });
});

describe('bad inputs: values the model cannot take', function () {
  this.timeout(60000);
  let dir: string;
  before(() => { dir = tempDir(); });
  after(removeTempDirs);

  it('token ids beyond the embedding name the input, the id and the vocabulary size (not a raw onnxruntime message)', async () => {
    const EMB = fixture('backward', 'embedding_gru');
    const ids = readNpy(path.join(EMB, 'input_ids.npy'));
    const bad = BigInt64Array.from(ids.data as BigInt64Array);
    bad[3] = 1000n;
    const f = path.join(dir, 'ids_bad.npy');
    writeNpy(f, { dtype: 'int64', shape: ids.shape, data: bad });
    const line = await expectError([path.join(EMB, 'model.onnx'), '--input', `ids=${f}`], "input 'ids'", 'token id 1000', 'flat index 3', 'rows');
    assert.doesNotMatch(line, /Gather node|out of data bounds/);
  });

  it('a sequence_lens value beyond T names the input, the node and T', async () => {
    const SEQ = fixture('backward', 'lstm_bidir_seqlens');
    const f = path.join(dir, 'lens_bad.npy');
    writeNpy(f, { dtype: 'int32', shape: [3], data: Int32Array.from([9, 2, 3]) });
    const line = await expectError([path.join(SEQ, 'model.onnx'), '--input', `X=${path.join(SEQ, 'input_X.npy')}`, '--input', `seq_lens=${f}`],
      "input 'seq_lens'", 'lens_bad.npy', "LSTM node 'lstm_seq_bidir'", 'T = 7');
    assert.doesNotMatch(line, /Status Message|Invalid value\/s/);
  });
});
