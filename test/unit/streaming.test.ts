/**
 * Streaming models (SPEC v2 §9.1), beyond the oracle's numbers (backwardOracle.test.ts): which
 * input/output pairs are state, how calls are fed and counted, that running the calls in chunks
 * changes nothing, the objective summed over calls, clear refusals, and cancelling a long run.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { analyze, fixture } from './helpers';
import { cli, removeTempDirs, tempDir } from './cliHelpers';
import { syntheticRecurrentModelBytes } from './synthetic';
import { statePairs, stateOutputNames } from '../../src/analysis/iterated/streaming';
import { valueInfo } from '../../src/onnx/builder';
import { DataType, GraphProto } from '../../src/onnx/proto';
import { analyzeModel, WorkerState } from '../../src/analysis/analyze';
import { CancelledError } from '../../src/onnx/errors';
import { Report } from '../../src/report/types';

const VAD = fixture('backward', 'vad_if_conv');
const vadFiles = { x: path.join(VAD, 'input_x.npy'), state: path.join(VAD, 'input_state.npy'), sr: '16000' };

function graphWith(inputs: [string, (number | string)[]][], outputs: [string, (number | string)[]][]): GraphProto {
  return {
    name: 'g', node: [], initializer: [], value_info: [],
    input: inputs.map(([n, s]) => valueInfo(n, DataType.FLOAT, s)), output: outputs.map(([n, s]) => valueInfo(n, DataType.FLOAT, s)),
  };
}

after(removeTempDirs);

describe('streaming: state pairs', () => {
  it('are found by the exporters\' naming conventions, with matching types', () => {
    const g = graphWith(
      [['x', ['batch', 48]], ['state', [2, 'batch', 8]], ['h0', [1, 'batch', 4]], ['c_in', [1, 'batch', 4]], ['aux', ['batch', 48]], ['mem', [3]]],
      [['prob', ['batch', 1]], ['stateN', ['s0', 'batch', 's2']], ['hn', [1, 'batch', 4]], ['c_out', [1, 'batch', 4]], ['aux_out', ['batch', 48]], ['memn', [4]]]);
    assert.deepStrictEqual(statePairs(g, undefined), [
      { input: 'state', output: 'stateN' }, { input: 'h0', output: 'hn' }, { input: 'c_in', output: 'c_out' },
    ]);
    // aux/aux_out is not a convention; mem/memn differ in their static size.
    assert.deepStrictEqual(stateOutputNames('h'), ['hn', 'hn', 'h_n', 'h_n']);
  });

  it('--state names them instead, and a wrong pair is a usage error naming what is wrong', () => {
    const g = graphWith([['x', [2, 3]], ['mem', [2, 3]]], [['y', [2, 3]], ['mem2', [2, 3]], ['small', [3]]]);
    assert.deepStrictEqual(statePairs(g, undefined), []);
    assert.deepStrictEqual(statePairs(g, [{ input: 'mem', output: 'mem2' }]), [{ input: 'mem', output: 'mem2' }]);
    assert.throws(() => statePairs(g, [{ input: 'nope', output: 'mem2' }]), /--state nope=mem2: the model has no input 'nope' \(its inputs: x, mem\)/);
    assert.throws(() => statePairs(g, [{ input: 'mem', output: 'small' }]), /differ in type or shape \(float32 \[2, 3\] vs float32 \[3\]\)/);
    assert.throws(() => statePairs(g, [{ input: 'mem', output: 'mem2' }, { input: 'x', output: 'mem2' }]), /'mem2' is in two pairs/);
  });
});

describe('streaming: calls', function () {
  this.timeout(120000);
  let ten: Report;
  before(async () => { ten = await analyze(path.join(VAD, 'model.onnx'), { files: vadFiles, calls: 10, chunkedCallsMin: 1e9 }); });

  it('the time axis is the calls\' steps concatenated, and the report says how it was built', () => {
    const layer = ten.layers[0];
    assert.strictEqual(layer.seqLen, 160);
    assert.deepStrictEqual(layer.iterations, { count: 10, steps: 16, calls: true });
    assert.deepStrictEqual(layer.path, ['/If_2', 'then_branch', '/If', 'else_branch', '/LSTM_1']);
    assert.strictEqual(ten.input.calls, 10);
    assert.deepStrictEqual(ten.input.state, [{ input: 'state', output: 'stateN' }]);
    // x was given once (no leading calls axis): fed the same to every call; its gradient sums over the calls.
    assert.deepStrictEqual(ten.input.perCall, []);
    assert.deepStrictEqual(ten.inputGrads!.x.dims, ten.inputValues!.x.dims);
    // Outputs stack the calls; the state output holds the state after the last call.
    assert.deepStrictEqual(ten.outputs!.prob.dims[0], 10);
    assert.deepStrictEqual(ten.outputs!.stateN.dims, ten.inputValues!.state.dims);
  });

  it('the gradient crosses call boundaries: the first call\'s state still reaches the last step', () => {
    const j = ten.layers[0].directions[0].jacobianNorm!.state.data;
    assert.strictEqual(j.length, 160);
    assert.ok(j[0] > 0 && Number.isFinite(j[0]), `J at t = 0: ${j[0]}`);
    const g = ten.layers[0].directions[0].gradHidden!.data;
    assert.ok(g.slice(0, 16).some((v) => v !== 0), 'the first call gets gradient');
  });

  it('running the calls in chunks (state carried between them) gives the same report', async () => {
    const chunked = await analyze(path.join(VAD, 'model.onnx'), { files: vadFiles, calls: 10, chunkedCallsMin: 2 });
    assert.strictEqual(chunked.objective!.value, ten.objective!.value);
    assert.deepStrictEqual(Array.from(chunked.layers[0].directions[0].gradHidden!.data), Array.from(ten.layers[0].directions[0].gradHidden!.data));
    assert.deepStrictEqual(Array.from(chunked.outputs!.stateN.data), Array.from(ten.outputs!.stateN.data));
  });

  it('the objective sums over calls: mean is the sum of the per-call means', async () => {
    const sum = ten.objective!.value!;
    const mean = await analyze(path.join(VAD, 'model.onnx'), { files: vadFiles, calls: 10, objective: { kind: 'mean' } });
    const perCall = ten.outputs!.prob.data.length / 10;
    assert.ok(Math.abs(mean.objective!.value! - sum / perCall) <= 1e-6 * Math.abs(sum), `${mean.objective!.value} vs ${sum / perCall}`);
    // last: the last call's output only.
    const last = await analyze(path.join(VAD, 'model.onnx'), { files: vadFiles, calls: 10, objective: { kind: 'last' } });
    const p = ten.outputs!.prob.data;
    const tail = Array.from(p.slice(p.length - perCall)).reduce((a, x) => a + x, 0);
    assert.ok(Math.abs(last.objective!.value! - tail) <= 1e-6, `${last.objective!.value} vs ${tail}`);
  });

  it('a per-call input file has a leading calls axis; random inputs are drawn per call; the state starts from zeros', async () => {
    const dir = tempDir('gl-stream-');
    const model = path.join(dir, 'stream.onnx');
    fs.writeFileSync(model, syntheticRecurrentModelBytes({ op: 'LSTM', hidden: 6, input: 3, streaming: { steps: 2 } }));
    const r = await analyze(model, { calls: 4 });
    assert.deepStrictEqual(r.input.perCall, ['x']);
    assert.deepStrictEqual(r.inputValues!.x.dims, [4, 2, 1, 3]);
    assert.strictEqual(r.input.sources.h, 'zeros');
    assert.ok(r.inputValues!.h.data.every((v) => v === 0));
    const xs = r.inputValues!.x.data;
    assert.notDeepStrictEqual(Array.from(xs.slice(0, 6)), Array.from(xs.slice(6, 12)), 'each call draws its own input');
    assert.strictEqual(r.layers[0].seqLen, 8);
    assert.deepStrictEqual(r.inputGrads!.x.dims, [4, 2, 1, 3]);
  });

  it('a model with state pairs defaults to 32 calls and says so; --calls without state pairs is a usage error', async () => {
    const r = await cli('analyze', path.join(VAD, 'model.onnx'), '--input', `x=${vadFiles.x}`, '--input', 'sr=16000', '--json', '-', '--quiet');
    assert.strictEqual(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.strictEqual(report.input.calls, 32);
    assert.ok(report.warnings.some((w: string) => /streaming model .*'state' → 'stateN'.* 32 calls .*--calls N/.test(w)), report.warnings.join('\n'));
    const plain = await cli('analyze', fixture('backward', 'lstm_gemm_head', 'model.onnx'), '--calls', '4');
    assert.strictEqual(plain.code, 2);
    assert.match(plain.stderr, /--calls 4: model.onnx has no state pairs .*--state IN=OUT/);
  });

  it('a per-call file of the wrong length, or a state file with a calls axis, is refused naming the input', async () => {
    const dir = tempDir('gl-stream-');
    const model = path.join(dir, 'stream.onnx');
    fs.writeFileSync(model, syntheticRecurrentModelBytes({ op: 'GRU', hidden: 4, input: 3, streaming: { steps: 1 } }));
    const npy = (name: string, shape: number[]) => {
      const file = path.join(dir, name);
      const n = shape.reduce((a, x) => a * x, 1);
      const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')},), }`.padEnd(118) + '\n';
      fs.writeFileSync(file, Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), Buffer.from([header.length & 255, header.length >> 8]), Buffer.from(header, 'latin1'), Buffer.alloc(4 * n)]));
      return file;
    };
    await assert.rejects(analyze(model, { calls: 5, files: { x: npy('x.npy', [3, 1, 1, 3]) } }), /input 'x': .* has 3 values on its leading axis .* runs 5 calls/);
    await assert.rejects(analyze(model, { calls: 5, files: { h: npy('h.npy', [5, 1, 1, 4]) } }), /a state input takes the initial state only/);
  });
});

describe('streaming: cancelling a long run', function () {
  this.timeout(120000);
  // (How long the worker takes to end after the cancel is measured by `npm run bench`, not asserted here.)
  it('a 20 000-call analysis runs as many bounded native calls, and after a cancel no further call starts', async () => {
    const dir = tempDir('gl-stream-');
    const model = path.join(dir, 'long_stream.onnx');
    fs.writeFileSync(model, syntheticRecurrentModelBytes({ op: 'LSTM', hidden: 16, input: 8, streaming: { steps: 1 } }));
    const controller = new AbortController();
    let worker: WorkerState | undefined;
    let phase = '';
    const run = analyzeModel({
      modelPath: model, files: {}, seed: 0, dims: {}, ep: 'cpu', saturation: { low: 0.1, high: 0.9 }, calls: 20000,
      signal: controller.signal, onStart: (w) => { worker = w; }, onProgress: (m) => { phase = m; },
    });
    run.catch(() => undefined);
    await until(() => /^(Running the model \(|Backpropagating \()/.test(phase));
    const callsBefore = worker!.nativeCalls();
    controller.abort();
    const callsAtAbort = worker!.nativeCalls();
    await assert.rejects(run, CancelledError);
    await worker!.exited;
    assert.ok(callsBefore >= 2, `the calls run as several native calls (${callsBefore} before the cancel)`);
    // The call in progress may finish; none starts after the cancel: the worker ends within one chunk of calls.
    assert.ok(worker!.nativeCalls() <= callsAtAbort, `${worker!.nativeCalls() - callsAtAbort} native calls started after the cancel`);
  });
});

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}
