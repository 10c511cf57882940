/**
 * Real exports (SPEC v2 §9.1), beyond the numbers the oracle checks (backwardOracle.test.ts):
 * which If branch runs and how the report says so, batch/sequence axes traced through a conv
 * front-end without --dim, layers inside Loop/Scan bodies reported over their iterations, the
 * same recurrence written as a Loop and as a Scan giving the same numbers, and clear refusals.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { analyze, fixture, loadArray } from './helpers';
import { tempDir, removeTempDirs, cli } from './cliHelpers';
import { decodeModel, encodeModel, makeTensor } from '../../src/onnx/model';
import { GraphProto, ModelProto, NodeProto } from '../../src/onnx/proto';
import { makeAttribute } from '../../src/onnx/attributes';
import { Report } from '../../src/report/types';
import { syntheticRecurrentModel } from './synthetic';

const VAD = fixture('backward', 'vad_if_conv');
const files = (dir: string, names: string[]) => Object.fromEntries(names.map((n) => [n, path.join(dir, `input_${n}.npy`)]));

function load(file: string): ModelProto {
  return decodeModel(fs.readFileSync(file), file).proto;
}

function save(proto: ModelProto, name: string): string {
  const file = path.join(tempDir('gl-real-'), name);
  fs.writeFileSync(file, encodeModel(proto));
  return file;
}

const node = (op: string, input: string[], output: string[], attrs: Record<string, Parameters<typeof makeAttribute>[1]> = {}, name = ''): NodeProto => ({
  op_type: op, input, output, name: name || `${op}_${output[0]}`, domain: '', attribute: Object.entries(attrs).map(([k, v]) => makeAttribute(k, v)),
});

after(removeTempDirs);

describe('real exports: If branches', () => {
  it('the sample rate picks the branch: path, notes and numbers follow it', async () => {
    const inputs = files(VAD, ['x', 'state']);
    // One call (the model streams its state: state → stateN).
    const r16 = await analyze(path.join(VAD, 'model.onnx'), { files: { ...inputs, sr: '16000' }, objective: { kind: 'sum', output: 'prob' }, calls: 1 });
    const r8 = await analyze(path.join(VAD, 'model.onnx'), { files: { ...inputs, sr: '8000' }, objective: { kind: 'sum', output: 'prob' }, calls: 1 });
    assert.deepStrictEqual(r16.layers.map((l) => l.path), [['/If_2', 'then_branch', '/If', 'else_branch', '/LSTM_1']]);
    assert.deepStrictEqual(r8.layers.map((l) => l.path), [['/If_2', 'else_branch', '/If_1', 'else_branch', '/LSTM_3']]);
    assert.ok(r16.notes!.some((n) => /If '\/If_2' takes its then branch/.test(n)), r16.notes!.join('\n'));
    assert.ok(r8.notes!.some((n) => /If '\/If_2' takes its else branch/.test(n)), r8.notes!.join('\n'));
    // Weights computed from constants were folded (else the layer would be skipped with a warning).
    assert.ok(r16.notes!.some((n) => /folded into constants/.test(n)));
    assert.notStrictEqual(r16.objective!.value!, r8.objective!.value!);
    // The oracle's numbers for the 16 kHz branch (sum of prob).
    const expected = JSON.parse(fs.readFileSync(path.join(VAD, 'case.json'), 'utf8')).runs[0].value;
    assert.ok(Math.abs(r16.objective!.value! - expected) < 1e-5 * Math.abs(expected), `${r16.objective!.value!} vs ${expected}`);
  });

  it('a scalar input can be given as a number; a one-element .npy is the same scalar', async () => {
    const inputs = files(VAD, ['x', 'state']);
    const fromNumber = await analyze(path.join(VAD, 'model.onnx'), { files: { ...inputs, sr: '16000' }, calls: 2 });
    const fromFile = await analyze(path.join(VAD, 'model.onnx'), { files: { ...inputs, sr: path.join(VAD, 'input_sr.npy') }, calls: 2 });
    assert.strictEqual(fromNumber.objective!.value, fromFile.objective!.value);
    assert.strictEqual(fromNumber.input.sources.sr, 'value:16000');
  });

  it('without the integer sample rate the error asks for it by name', async () => {
    const r = await cli('analyze', path.join(VAD, 'model.onnx'));
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /input 'sr' is an integer tensor.*--input sr=/);
  });
});

describe('real exports: axes through a conv front-end', () => {
  it('random inputs need no --dim, and --batch reaches the LSTM through Conv/Pad/Slice/Transpose', async () => {
    const report = await analyze(fixture('backward', 'lstm_conv_batch', 'model.onnx'), { batch: 3, seqLen: 40 });
    const layer = report.layers[0];
    assert.strictEqual(layer.batch, 3);
    // length 40 → Conv(k 3, stride 2) 19 frames → pad +3 → slice from 1: 21 steps.
    assert.strictEqual(layer.seqLen, 21);
    assert.deepStrictEqual(report.inputValues!.audio.dims, [3, 2, 40]);
  });
});

describe('real exports: recurrent layers inside Loop and Scan bodies', () => {
  it('an LSTM in a Loop body is one layer over iterations × steps, and the trip count follows the input', async () => {
    const dir = fixture('backward', 'lstm_in_loop');
    const report = await analyze(path.join(dir, 'model.onnx'), { files: files(dir, ['x', 'h0', 'c0']) });
    assert.strictEqual(report.layers.length, 1);
    const layer = report.layers[0];
    assert.deepStrictEqual(layer.path, ['/Loop', 'body', '/LSTM']);
    assert.strictEqual(layer.seqLen, 12);
    assert.deepStrictEqual(layer.directions[0].hidden.dims, [12, 2, 6]);
    // Six chunks instead of four: 18 steps.
    const x = loadArray(path.join(dir, 'input_x.npy'));
    const tmp = tempDir('gl-real-');
    const six = new Float32Array(6 * 3 * 2 * 3);
    for (let i = 0; i < six.length; i++) six[i] = x.data[i % x.data.length];
    const xFile = path.join(tmp, 'x6.npy');
    writeNpyF32(xFile, [6, 3, 2, 3], six);
    const longer = await analyze(path.join(dir, 'model.onnx'), { files: { ...files(dir, ['h0', 'c0']), x: xFile } });
    assert.strictEqual(longer.layers[0].seqLen, 18);
    const j = longer.layers[0].directions[0].jacobianNorm!.state.data;
    assert.strictEqual(j.length, 18);
    assert.ok(j[0] > 0 && j[0] < j[17], 'the state Jacobian reaches the first chunk and grows toward the last step');
  });

  it('the same GRU recurrence written as a Loop (Gather per iteration, scan outputs) gives the Scan\'s numbers', async () => {
    const dir = fixture('backward', 'gru_in_scan');
    const scanModel = load(path.join(dir, 'model.onnx'));
    const loopFile = save(gruScanAsLoop(scanModel), 'gru_loop.onnx');
    const opts = { files: files(dir, ['x', 'h0']) };
    const fromScan = await analyze(path.join(dir, 'model.onnx'), opts);
    const fromLoop = await analyze(loopFile, opts);
    assert.strictEqual(fromLoop.layers[0].seqLen, 8);
    assert.deepStrictEqual(fromLoop.layers[0].path, ['steps_loop', 'body', 'gru_step']);
    const same = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
      assert.strictEqual(a.length, b.length, what);
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-6 * (Math.abs(b[i]) + 1e-3), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
    };
    const [dl, ds] = [fromLoop.layers[0].directions[0], fromScan.layers[0].directions[0]];
    same(dl.gradHidden!.data, ds.gradHidden!.data, 'gradHidden');
    same(dl.jacobianNorm!.state.data, ds.jacobianNorm!.state.data, 'jacobianNorm.state');
    same(dl.weightGrads!.R.data, ds.weightGrads!.R.data, 'dR');
    same(fromLoop.inputGrads!.x.data, fromScan.inputGrads!.x.data, 'dL/dx');
    same(fromLoop.inputGrads!.h0.data, fromScan.inputGrads!.h0.data, 'dL/dh0');
  });

  it('a layer in a body that runs in reverse is refused, naming the node and its Scan', async () => {
    const proto = load(fixture('backward', 'gru_in_scan', 'model.onnx'));
    const scan = proto.graph.node.find((n) => n.op_type === 'Scan')!;
    const gru = scan.attribute.find((a) => a.name === 'body')!.g!.node.find((n) => n.op_type === 'GRU')!;
    gru.attribute.push(makeAttribute('direction', 'reverse'));
    const file = save(proto, 'reverse_in_scan.onnx');
    await assert.rejects(analyze(file, { files: files(fixture('backward', 'gru_in_scan'), ['x', 'h0']) }),
      /GRU node 'gru_step' \(in the body of 'scan_steps'\) runs reverse; inside a Loop\/Scan body Gradient Lens analyses forward layers only/);
  });
});

/** gru_in_scan's model with its Scan rewritten as a Loop over T = x.shape[1]: Gather(x, i, axis 1) in the body, outputs stacked then transposed back. */
function gruScanAsLoop(scanModel: ModelProto): ModelProto {
  const g = scanModel.graph;
  const scan = g.node.find((n) => n.op_type === 'Scan')!;
  const scanBody = scan.attribute.find((a) => a.name === 'body')!.g!;
  const gru = scanBody.node.find((n) => n.op_type === 'GRU')!;
  const T = 8;
  const body: GraphProto = {
    name: 'loop_body',
    node: [
      node('Gather', ['x', 'iter'], ['x_t'], { axis: 1 }),
      node('Unsqueeze', ['x_t', 'axes0'], ['x_step']),
      { ...gru, input: ['x_step', gru.input[1], gru.input[2], gru.input[3], '', 'h_prev'], output: ['Y_step', 'h_next'] },
      node('Squeeze', ['Y_step', 'axes01'], ['y_t']),
      node('Identity', ['cond_in'], ['cond_out']),
    ],
    initializer: [makeTensor('axes0', [1], BigInt64Array.of(0n)), makeTensor('axes01', [2], BigInt64Array.of(0n, 1n))],
    input: [{ name: 'iter', type: { tensor_type: { elem_type: 7, shape: { dim: [] } } } }, { name: 'cond_in', type: { tensor_type: { elem_type: 9, shape: { dim: [] } } } },
      { name: 'h_prev', type: { tensor_type: { elem_type: 1 } } }],
    output: [{ name: 'cond_out', type: { tensor_type: { elem_type: 9 } } }, { name: 'h_next', type: { tensor_type: { elem_type: 1 } } },
      { name: 'y_t', type: { tensor_type: { elem_type: 1 } } }],
    value_info: [],
  };
  const rest = g.node.filter((n) => n !== scan);
  const loopNodes: NodeProto[] = [
    { op_type: 'Loop', input: ['trip', 'keep_going', 'h0'], output: ['h_last', 'ys_tb'], name: 'steps_loop', domain: '', attribute: [makeAttribute('body', body)] },
    node('Transpose', ['ys_tb'], ['ys'], { perm: [1, 0, 2] }),
  ];
  return {
    ...scanModel,
    graph: {
      ...g,
      node: [...loopNodes, ...rest],
      initializer: [...g.initializer, makeTensor('trip', [], BigInt64Array.of(BigInt(T))), makeTensor('keep_going', [], Uint8Array.of(1), 9)],
    },
  };
}

function writeNpyF32(file: string, shape: number[], data: Float32Array): void {
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  const pad = (64 - (total % 64)) % 64;
  const h = header + ' '.repeat(pad) + '\n';
  const buf = Buffer.alloc(10 + h.length + data.byteLength);
  buf.write('\x93NUMPY', 0, 'latin1');
  buf[6] = 1; buf[7] = 0;
  buf.writeUInt16LE(h.length, 8);
  buf.write(h, 10, 'latin1');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(buf, 10 + h.length);
  fs.writeFileSync(file, buf);
}

export type { Report };

describe('real exports: sibling subgraphs are separate scopes', function () {
  this.timeout(60000);
  after(removeTempDirs);
  it('If branches whose LSTMs both call their weights W and R (H = 4 and H = 8) are checked each against its own', async () => {
    const branch = (nm: string, H: number): GraphProto => {
      const syn = syntheticRecurrentModel({ op: 'LSTM', hidden: H, input: 3, seed: H });
      const lstm = { ...syn.graph.node[0], input: ['x', 'W', 'R', 'B'], output: [`Y_${nm}`, `Yh_${nm}`], name: `lstm_${nm}` };
      const sum: NodeProto = { op_type: 'ReduceSum', input: [`Yh_${nm}`], output: [`o_${nm}`], name: `sum_${nm}`, attribute: [makeAttribute('keepdims', 0)] };
      return { name: nm, node: [lstm, sum], input: [], output: [{ name: `o_${nm}`, type: { tensor_type: { elem_type: 1, shape: { dim: [] } } } }], initializer: syn.graph.initializer, value_info: [] };
    };
    const syn = syntheticRecurrentModel({ op: 'LSTM', hidden: 4, input: 3 });
    const graph: GraphProto = {
      name: 'if_siblings', value_info: [],
      input: [syn.graph.input[0]],
      output: [{ name: 'out', type: { tensor_type: { elem_type: 1, shape: { dim: [] } } } }],
      initializer: [{ name: 'c', dims: [], data_type: 9, raw_data: new Uint8Array([1]) }],
      node: [{ op_type: 'If', input: ['c'], output: ['out'], name: 'choose', attribute: [makeAttribute('then_branch', branch('t', 4)), makeAttribute('else_branch', branch('e', 8))] }],
    };
    const file = save({ ...syn, graph }, 'if_siblings.onnx');
    const report = await analyze(file, { seqLen: 6 });
    assert.strictEqual(report.layers.length, 1);
    assert.strictEqual(report.layers[0].hiddenSize, 4, 'the branch taken');
  });
});
