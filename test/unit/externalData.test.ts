/**
 * Tensor encodings a model may use for its weights: external-data sidecar files
 * (data_location = 1 with location/offset/length, as onnx.save(..., save_as_external_data=True)
 * writes them) and the typed *_data fields instead of raw_data. Either way the analysis must give
 * the numbers of the same model with raw_data weights; a missing or truncated sidecar is one clean
 * error naming the file and the tensor.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { decodeModel, encodeModel, loadModel, tensorValues } from '../../src/onnx/model';
import { ModelProto, TensorProto } from '../../src/onnx/proto';
import { valueInfo } from '../../src/onnx/builder';
import { Report, Tensor } from '../../src/report/types';
import { analyze, assertClose, externalize, fixture } from './helpers';
import { assertOneErrorLine, cli, ensureBundle, removeTempDirs, runBin, tempDir } from './cliHelpers';

const BIDIR = fixture('forward', 'lstm_seq_lens_bidir');
const BIDIR_FILES = { X: path.join(BIDIR, 'input_X.npy'), seq_lens: path.join(BIDIR, 'input_seq_lens.npy') };
const BASIC = fixture('forward', 'lstm_basic');
const BASIC_FILES = { x: path.join(BASIC, 'input_x.npy') };

/** A copy of `src`'s model with every float initializer's raw_data rewritten as float_data. */
function toFloatData(src: string, file: string): string[] {
  const loaded = loadModel(src);
  const moved: string[] = [];
  for (const t of loaded.proto.graph.initializer) {
    if (t.data_type !== 1 || !t.raw_data) continue;
    t.float_data = Array.from(tensorValues(t, loaded.baseDir) as Float32Array);
    delete t.raw_data;
    moved.push(t.name ?? '');
  }
  fs.writeFileSync(file, encodeModel(loaded.proto));
  return moved;
}

/** Every per-step tensor and graph output of two reports agree within `tol` (dims exactly). */
function assertSameNumbers(a: Report, b: Report, tol: number): void {
  const pairs: [string, Tensor, Tensor | undefined][] = [];
  for (const [name, t] of Object.entries(a.outputs)) pairs.push([`outputs.${name}`, t, b.outputs[name]]);
  assert.strictEqual(a.layers.length, b.layers.length);
  a.layers.forEach((la, i) => {
    const lb = b.layers[i];
    assert.deepStrictEqual([lb.node, lb.op, lb.seqLen, lb.batch, lb.hiddenSize], [la.node, la.op, la.seqLen, la.batch, la.hiddenSize]);
    la.directions.forEach((da, k) => {
      const db = lb.directions[k];
      const at = `${la.node} ${da.direction}`;
      for (const [g, t] of Object.entries(da.gates)) pairs.push([`${at} gate ${g}`, t, db.gates[g]]);
      pairs.push([`${at} hidden`, da.hidden, db.hidden]);
      if (da.cell) pairs.push([`${at} cell`, da.cell, db.cell]);
      assertClose([db.metrics.spectrum!.sigmaMaxAll], [da.metrics.spectrum!.sigmaMaxAll], tol, tol, `${at} σ_max(R)`);
      assert.deepStrictEqual(db.metrics.saturation, da.metrics.saturation, `${at} saturation`);
    });
  });
  assert.ok(pairs.length > 5);
  for (const [what, x, y] of pairs) {
    assert.ok(y, `${what} missing`);
    assert.deepStrictEqual(y.dims, x.dims, `${what} dims`);
    assertClose(y.data, x.data, tol, 0, what);
  }
}

describe('external data: weights in a sidecar file', function () {
  this.timeout(120000);
  let reference: Report;
  before(async () => {
    await ensureBundle();
    reference = await analyze(path.join(BIDIR, 'model.onnx'), { files: BIDIR_FILES });
  });
  after(removeTempDirs);

  it('the model written with W/R/B in weights.bin really keeps them outside', () => {
    const dir = tempDir();
    const { model, sidecar } = externalize(path.join(BIDIR, 'model.onnx'), dir, ['W', 'R', 'B']);
    const m = decodeModel(fs.readFileSync(model), model);
    assert.ok(m.hasExternalData);
    for (const t of m.proto.graph.initializer) {
      assert.strictEqual(t.data_location, 1, t.name);
      assert.ok(!t.raw_data || t.raw_data.length === 0, `${t.name} has no inline bytes`);
      const offset = Number(t.external_data!.find((e) => e.key === 'offset')!.value);
      assert.strictEqual(offset % 16, 0, `${t.name} offset ${offset} is 16-byte aligned`);
    }
    assert.ok(fs.statSync(model).size < fs.statSync(sidecar).size, 'the weights are in the sidecar');
    const orig = loadModel(path.join(BIDIR, 'model.onnx'));
    for (const name of ['W', 'R', 'B']) {
      const a = orig.proto.graph.initializer.find((t) => t.name === name)!;
      const b = m.proto.graph.initializer.find((t) => t.name === name)!;
      assert.deepStrictEqual(tensorValues(b, m.baseDir), tensorValues(a, orig.baseDir), `${name} reads back`);
    }
  });

  it('gives the numbers of the original model (every per-step tensor)', async () => {
    const dir = tempDir();
    const { model } = externalize(path.join(BIDIR, 'model.onnx'), dir, ['W', 'R', 'B']);
    const report = await analyze(model, { files: BIDIR_FILES });
    assert.strictEqual(report.model.path, model);
    assertSameNumbers(reference, report, 1e-7);
    assert.deepStrictEqual(report.warnings, reference.warnings);
  });

  it('works with a sidecar in a subfolder and only some tensors external', async () => {
    const dir = tempDir();
    const { model } = externalize(path.join(BIDIR, 'model.onnx'), dir, ['R', 'B'], path.join('data', 'lstm.weights'));
    const report = await analyze(model, { files: BIDIR_FILES });
    assertSameNumbers(reference, report, 1e-7);
  });

  it('inline weights handed to onnxruntime by reference into the original file give the same numbers', async () => {
    // inlineWeightLimitBytes: 1 makes the runtime model point at the weights' byte ranges in model.onnx.
    const inPlace = await analyze(path.join(BIDIR, 'model.onnx'), { files: BIDIR_FILES, inlineWeightLimitBytes: 1 });
    assertSameNumbers(reference, inPlace, 1e-7);
    const dir = tempDir();
    const { model } = externalize(path.join(BIDIR, 'model.onnx'), dir, ['W'], 'w.bin');
    const mixed = await analyze(model, { files: BIDIR_FILES, inlineWeightLimitBytes: 1 });
    assertSameNumbers(reference, mixed, 1e-7);
  });

  it('works when run from another working directory with a relative model path (bundled CLI)', async () => {
    const dir = tempDir();
    externalize(path.join(BIDIR, 'model.onnx'), dir, ['W', 'R', 'B']);
    const cwd = path.dirname(dir);
    const rel = path.join(path.basename(dir), 'model.onnx');
    const r = await runBin(['analyze', rel, '--input', `X=${BIDIR_FILES.X}`, '--input', `seq_lens=${BIDIR_FILES.seq_lens}`,
      '--ep', 'cpu', '--json', '-'], cwd);
    assert.strictEqual(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { model: { path: string }; outputs: Record<string, { dims: number[]; data: number[] }>; layers: { directions: { gates: Record<string, { data: number[] }>; hidden: { data: number[] } }[] }[] };
    assert.strictEqual(j.model.path, path.join(dir, 'model.onnx'));
    for (const [name, t] of Object.entries(reference.outputs)) {
      assert.deepStrictEqual(j.outputs[name].dims, t.dims);
      assertClose(j.outputs[name].data, t.data, 1e-7, 0, `outputs.${name}`);
    }
    reference.layers[0].directions.forEach((d, k) => {
      assertClose(j.layers[0].directions[k].hidden.data, d.hidden.data, 1e-7, 0, `${d.direction} hidden`);
      assertClose(j.layers[0].directions[k].gates.forget.data, d.gates.forget.data, 1e-7, 0, `${d.direction} forget`);
    });
  });

  it('a missing sidecar file is one error naming the file, the tensor and what to do', async () => {
    const dir = tempDir();
    const { model, sidecar } = externalize(path.join(BIDIR, 'model.onnx'), dir, ['W', 'R', 'B']);
    fs.rmSync(sidecar);
    const r = await cli('analyze', model, '--input', `X=${BIDIR_FILES.X}`, '--input', `seq_lens=${BIDIR_FILES.seq_lens}`, '--ep', 'cpu');
    assert.strictEqual(r.code, 1);
    assert.strictEqual(r.stdout, '');
    assertOneErrorLine(r.stderr, "external-data file 'weights.bin'", /tensor '[WRB]'/, 'missing', sidecar, 'next to the .onnx model');
  });

  it('a truncated sidecar file is one clean error naming the file and the tensor', async () => {
    const dir = tempDir();
    const { model, sidecar } = externalize(path.join(BIDIR, 'model.onnx'), dir, ['W', 'R', 'B']);
    const bytes = fs.readFileSync(sidecar);
    fs.writeFileSync(sidecar, bytes.subarray(0, bytes.length - 100)); // B (the last tensor) is cut
    const r = await cli('analyze', model, '--input', `X=${BIDIR_FILES.X}`, '--input', `seq_lens=${BIDIR_FILES.seq_lens}`, '--ep', 'cpu');
    assert.strictEqual(r.code, 1);
    assertOneErrorLine(r.stderr, "'weights.bin'", "tensor 'B'", 'too short', 'truncated');
    fs.writeFileSync(sidecar, '');
    const e = await cli('analyze', model, '--input', `X=${BIDIR_FILES.X}`, '--input', `seq_lens=${BIDIR_FILES.seq_lens}`, '--ep', 'cpu');
    assert.strictEqual(e.code, 1);
    assertOneErrorLine(e.stderr, "'weights.bin'", /tensor '[WRB]'/, 'too short');
  });

  it('a sidecar entry without a location is one clean error naming the tensor', async () => {
    const dir = tempDir();
    const { model } = externalize(path.join(BIDIR, 'model.onnx'), dir, ['W', 'R', 'B']);
    const proto: ModelProto = decodeModel(fs.readFileSync(model), model).proto;
    const r0 = proto.graph.initializer.find((t) => t.name === 'R') as TensorProto;
    r0.external_data = r0.external_data!.filter((e) => e.key !== 'location');
    fs.writeFileSync(model, encodeModel(proto));
    const r = await cli('analyze', model, '--input', `X=${BIDIR_FILES.X}`, '--input', `seq_lens=${BIDIR_FILES.seq_lens}`, '--ep', 'cpu');
    assert.strictEqual(r.code, 1);
    assertOneErrorLine(r.stderr, "tensor 'R'", 'no location', 'save_as_external_data');
  });
});

describe('external data: a head the gradient runs through keeps its weights in a sidecar', function () {
  this.timeout(120000);
  before(async () => { await ensureBundle(); });
  after(removeTempDirs);

  // The analysis graph copies the head's weights for their backward rule; onnxruntime would resolve
  // a copied external reference against the working directory (the bug: an error there, or a file
  // of that name read instead, with every gradient wrong).
  it('gives the inline model\'s numbers from another working directory, where a decoy sidecar is not read', async () => {
    const example = path.resolve(__dirname, '../../../examples/adding-lstm.onnx');
    const dir = tempDir();
    const { model } = externalize(example, dir, ['head.weight', 'head.bias', 'onnx::LSTM_116']);
    const outside = path.join(dir, 'elsewhere');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'weights.bin'), Buffer.alloc(fs.statSync(path.join(dir, 'weights.bin')).size));
    const args = ['--ep', 'cpu', '--json', '-'];
    const [inline, external] = await Promise.all([runBin(['analyze', example, ...args], outside), runBin(['analyze', model, ...args], outside)]);
    assert.strictEqual(inline.code, 0, inline.stderr);
    assert.strictEqual(external.code, 0, external.stderr);
    type J = { layers: { directions: { gradHidden: { data: number[] }; gradCell: { data: number[] }; weightGrads: Record<string, { data: number[] }> }[] }[]; inputGrads: Record<string, { data: number[] }> };
    const a = JSON.parse(inline.stdout) as J;
    const b = JSON.parse(external.stdout) as J;
    const da = a.layers[0].directions[0];
    const db = b.layers[0].directions[0];
    assert.ok(da.gradHidden.data.some((v) => v !== 0), 'the inline model has gradients to compare');
    assert.deepStrictEqual(db.gradHidden.data, da.gradHidden.data, 'gradHidden');
    assert.deepStrictEqual(db.gradCell.data, da.gradCell.data, 'gradCell');
    assert.deepStrictEqual(db.weightGrads.R.data, da.weightGrads.R.data, 'weightGrads.R');
    assert.deepStrictEqual(b.inputGrads.x.data, a.inputGrads.x.data, 'inputGrads.x');
  });
});

describe('external data outside the main initializers: a Constant node\'s value, a sparse initializer, a model-local function', function () {
  this.timeout(120000);
  before(async () => { await ensureBundle(); });

  /** BASIC's model with a tensor C = [0 … 5] in the sidecar side.bin: as a Constant node's value, or as a sparse initializer. */
  function withSideTensor(dir: string, as: 'constant' | 'sparse' | 'function'): string {
    const proto = loadModel(path.join(BASIC, 'model.onnx')).proto;
    const ext = (name: string): TensorProto => ({
      name, dims: [6], data_type: 1, data_location: 1,
      external_data: [{ key: 'location', value: 'side.bin' }, { key: 'offset', value: '0' }, { key: 'length', value: '24' }],
    });
    if (as === 'constant') {
      proto.graph.node.push({ op_type: 'Constant', input: [], output: ['C'], name: 'side_constant', attribute: [{ name: 'value', type: 4, t: ext('c') }] });
    } else if (as === 'function') {
      // A model-local function whose body's Constant holds C, called from the main graph.
      proto.functions = [{
        name: 'MakeC', domain: 'local.fn', input: [], output: ['out'], attribute: [],
        node: [{ op_type: 'Constant', input: [], output: ['out'], name: 'fc', attribute: [{ name: 'value', type: 4, t: ext('c') }] }],
        opset_import: [{ domain: '', version: proto.opset_import[0].version }],
      }];
      proto.opset_import.push({ domain: 'local.fn', version: 1 });
      proto.graph.node.push({ op_type: 'MakeC', domain: 'local.fn', input: [], output: ['C'], name: 'call_fn', attribute: [] });
    } else {
      const indices: TensorProto = { name: 'idx', dims: [6], data_type: 7, raw_data: new Uint8Array(BigInt64Array.from([0n, 1n, 2n, 3n, 4n, 5n]).buffer) };
      proto.graph.sparse_initializer = [{ values: ext('S'), indices, dims: [6] }];
      proto.graph.node.push({ op_type: 'Identity', input: ['S'], output: ['C'], name: 'side_identity', attribute: [] });
    }
    proto.graph.output.push(valueInfo('C', 1, [6]));
    fs.mkdirSync(path.join(dir, 'm'));
    const model = path.join(dir, 'm', 'model.onnx');
    fs.writeFileSync(model, encodeModel(proto));
    fs.writeFileSync(path.join(dir, 'm', 'side.bin'), Buffer.from(Float32Array.from([0, 1, 2, 3, 4, 5]).buffer));
    return model;
  }

  for (const as of ['constant', 'sparse', 'function'] as const) {
    it(`${as}: read from the model's folder, never from the working directory (a decoy there is not read)`, async () => {
      const dir = tempDir();
      const model = withSideTensor(dir, as);
      const outside = path.join(dir, 'elsewhere');
      fs.mkdirSync(outside);
      fs.writeFileSync(path.join(outside, 'side.bin'), Buffer.from(Float32Array.from([100, 101, 102, 103, 104, 105]).buffer));
      const r = await runBin(['analyze', model, '--input', `x=${BASIC_FILES.x}`, '--ep', 'cpu', '--json', '-', '--detail', 'metrics'], outside);
      assert.strictEqual(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as { outputs: Record<string, { data: number[] }> };
      assert.deepStrictEqual(j.outputs.C.data, [0, 1, 2, 3, 4, 5]);
    });

    it(`${as}: its sidecar is protected from --json / --html like any weights file`, async () => {
      const dir = tempDir();
      const model = withSideTensor(dir, as);
      const sidecar = path.join(dir, 'm', 'side.bin');
      const before = fs.readFileSync(sidecar);
      for (const flag of ['--json', '--html']) {
        const r = await cli('analyze', model, '--input', `x=${BASIC_FILES.x}`, '--ep', 'cpu', flag, sidecar);
        assert.strictEqual(r.code, 2, `${flag}: ${r.stderr}`);
        assertOneErrorLine(r.stderr, "external-data file 'side.bin'");
      }
      assert.deepStrictEqual(fs.readFileSync(sidecar), before);
    });
  }
});

describe('typed data fields: float_data instead of raw_data', function () {
  this.timeout(60000);
  after(removeTempDirs);

  for (const [name, dirOf, files] of [['lstm_seq_lens_bidir', BIDIR, BIDIR_FILES], ['lstm_basic', BASIC, BASIC_FILES]] as const) {
    it(`${name}: the same numbers as with raw_data`, async () => {
      const file = path.join(tempDir(), 'float_data.onnx');
      const moved = toFloatData(path.join(dirOf, 'model.onnx'), file);
      assert.ok(moved.length >= 3, `moved ${moved.join(', ')}`);
      const reread = decodeModel(fs.readFileSync(file), file);
      for (const t of reread.proto.graph.initializer.filter((x) => moved.includes(x.name ?? ''))) {
        assert.ok(!t.raw_data || t.raw_data.length === 0, `${t.name} has no raw_data`);
        assert.ok(t.float_data && t.float_data.length > 0, `${t.name} has float_data`);
      }
      const [a, b] = await Promise.all([analyze(path.join(dirOf, 'model.onnx'), { files }), analyze(file, { files })]);
      assertSameNumbers(a, b, 0);
    });
  }
});
