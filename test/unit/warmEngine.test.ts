/**
 * The editor's warm engine: a warm analysis leaves its worker thread, decoded model and sessions
 * for the next one, so a re-run with another seed (or other inputs of the same shapes) creates no
 * session — counted, not timed — and gives exactly the numbers a cold run gives. Cancelling a
 * warm analysis still ends its thread.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { analyzeModel, endWarmWorker, liveWorkers, WorkerState } from '../../src/analysis/analyze';
import type { AnalyzeOptions } from '../../src/analysis/analyze';
import type { EngineCounts } from '../../src/runtime/protocol';
import { CancelledError } from '../../src/onnx/errors';
import { externalize, REPO } from './helpers';
import { syntheticRecurrentModel, syntheticRecurrentModelBytes } from './synthetic';
import { encodeModel, makeTensor } from '../../src/onnx/model';
import { makeAttribute } from '../../src/onnx/attributes';
import type { GraphProto, NodeProto } from '../../src/onnx/proto';

const base = (extra: Partial<AnalyzeOptions> = {}): AnalyzeOptions => ({
  modelPath: path.join(REPO, 'examples', 'adding-lstm.onnx'), files: {}, seed: 0, dims: {}, ep: 'cpu', saturation: { low: 0.1, high: 0.9 }, ...extra,
});

describe('the warm engine', function () {
  this.timeout(120000);
  afterEach(() => endWarmWorker());

  it('a re-run with another seed reuses the thread, every graph and every session, and matches a cold run', async () => {
    const sessions: number[] = [];
    const spectra: number[] = [];
    const threads: WorkerState[] = [];
    const built: EngineCounts[] = [];
    const count = (c: EngineCounts) => { sessions.push(c.sessionsCreated); spectra.push(c.spectraComputed); built.push(c); };
    const first = await analyzeModel(base({ warm: true, seed: 1, onCounts: count, onStart: (w) => threads.push(w) }));
    const second = await analyzeModel(base({ warm: true, seed: 2, onCounts: count, onStart: (w) => threads.push(w) }));
    assert.ok(sessions[0] >= 2, `the first run created ${sessions[0]} sessions`);
    assert.strictEqual(sessions[1], sessions[0], 'the re-run created no session');
    assert.ok(built[0].graphsBuilt >= 2 && built[0].modelsEncoded >= 1, `the first run built ${built[0].graphsBuilt} graphs, encoded ${built[0].modelsEncoded}`);
    assert.strictEqual(built[1].graphsBuilt, built[0].graphsBuilt, 'the re-run built no graph');
    assert.strictEqual(built[1].modelsEncoded, built[0].modelsEncoded, 'the re-run encoded no graph');
    assert.strictEqual(built[1].stagePlans, built[0].stagePlans, 'the re-run planned no stages');
    assert.strictEqual(spectra[0], 1, 'the first run computed its layer\'s spectrum');
    assert.strictEqual(spectra[1], spectra[0], 'the re-run found it (the weights are the same)');
    assert.strictEqual(threads[1].exited, threads[0].exited, 'the same thread');
    assert.notDeepStrictEqual(Array.from(first.inputValues!.x.data), Array.from(second.inputValues!.x.data), 'another seed, other inputs');
    const cold = await analyzeModel(base({ seed: 2 }));
    assert.deepStrictEqual(Array.from(second.layers[0].directions[0].gradHidden!.data), Array.from(cold.layers[0].directions[0].gradHidden!.data));
    assert.deepStrictEqual(Array.from(second.layers[0].directions[0].jacobianNorm!.state.data), Array.from(cold.layers[0].directions[0].jacobianNorm!.state.data));
    assert.deepStrictEqual(second.layers[0].directions[0].metrics.spectrum, cold.layers[0].directions[0].metrics.spectrum);
  });

  it('a re-run with another seed feeds its own probes into the kept graph: the numbers of a cold run with that seed', async () => {
    const counts: EngineCounts[] = [];
    const opts = { warm: true, jacobian: { probes: 3 }, onCounts: (c: EngineCounts) => counts.push(c) } as const;
    const first = await analyzeModel(base({ ...opts, seed: 1 }));
    const second = await analyzeModel(base({ ...opts, seed: 2 }));
    assert.strictEqual(counts[1].graphsBuilt, counts[0].graphsBuilt, 'the graph was reused');
    const cold = await analyzeModel(base({ jacobian: { probes: 3 }, seed: 2 }));
    const jn = (r: typeof first) => r.layers[0].directions[0].jacobianNorm!;
    assert.strictEqual(jn(second).method, 'probes');
    for (const part of ['hidden', 'cell', 'state'] as const) {
      assert.deepStrictEqual(Array.from(jn(second)[part]!.data), Array.from(jn(cold)[part]!.data), `jacobianNorm.${part} as a cold run with seed 2`);
    }
    // (Were the first seed's probes still in the graph, the estimate would be the first run's.)
    assert.notDeepStrictEqual(Array.from(jn(second).state.data), Array.from(jn(first).state.data));
    assert.deepStrictEqual(Array.from(second.layers[0].directions[0].weightGrads!.R.data), Array.from(cold.layers[0].directions[0].weightGrads!.R.data));
  });

  it('a rewritten model file or external-data file, or a model whose branch follows its inputs, has its graphs built again', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-warm-'));
    try {
      const file = path.join(dir, 'lstm.onnx');
      const counts: EngineCounts[] = [];
      const opts = { warm: true, modelPath: file, seqLen: 12, onCounts: (c: EngineCounts) => counts.push(c) } as const;
      fs.writeFileSync(file, syntheticRecurrentModelBytes({ op: 'LSTM', hidden: 8, input: 3, seed: 1 }));
      await analyzeModel(base(opts));
      // Same path and size, other weights: another file.
      fs.writeFileSync(file, syntheticRecurrentModelBytes({ op: 'LSTM', hidden: 8, input: 3, seed: 2 }));
      fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
      const rewritten = await analyzeModel(base(opts));
      assert.ok(counts[1].graphsBuilt > counts[0].graphsBuilt, 'the rewritten model\'s graphs were built');
      const cold = await analyzeModel(base({ modelPath: file, seqLen: 12 }));
      assert.deepStrictEqual(Array.from(rewritten.layers[0].directions[0].gradHidden!.data), Array.from(cold.layers[0].directions[0].gradHidden!.data));
      // Weights in an external-data file: a new checkpoint rewrites only it (same size), the .onnx stays as it was.
      const withSidecar = (seed: number) => {
        const src = path.join(dir, `src-${seed}.onnx`);
        fs.writeFileSync(src, syntheticRecurrentModelBytes({ op: 'LSTM', hidden: 8, input: 3, seed }));
        return externalize(src, path.join(dir, `ext-${seed}`), ['W', 'R', 'B']);
      };
      const [one, two] = [withSidecar(1), withSidecar(2)];
      assert.ok(fs.readFileSync(one.model).equals(fs.readFileSync(two.model)), 'the two checkpoints differ only in their sidecars');
      const sidecarOpts = { ...opts, modelPath: one.model };
      await analyzeModel(base(sidecarOpts));
      fs.copyFileSync(two.sidecar, one.sidecar);
      fs.utimesSync(one.sidecar, new Date(), new Date(Date.now() + 5000));
      const newWeights = await analyzeModel(base({ ...sidecarOpts, seed: 4 }));
      assert.ok(counts[3].graphsBuilt > counts[2].graphsBuilt, 'the new weights\' graphs were built');
      const coldNew = await analyzeModel(base({ modelPath: one.model, seqLen: 12, seed: 4 }));
      assert.strictEqual(newWeights.objective!.value, coldNew.objective!.value);
      assert.deepStrictEqual(Array.from(newWeights.layers[0].directions[0].weightGrads!.R.data), Array.from(coldNew.layers[0].directions[0].weightGrads!.R.data));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // The VAD export's If takes a branch by the sample rate: its graphs follow the inputs, so they are not kept.
    const vad = path.join(REPO, 'test', 'fixtures', 'backward', 'vad_if_conv');
    const counts: EngineCounts[] = [];
    const vadOpts = {
      warm: true, modelPath: path.join(vad, 'model.onnx'), calls: 1, objective: { kind: 'sum', output: 'prob' },
      files: { x: path.join(vad, 'input_x.npy'), state: path.join(vad, 'input_state.npy'), sr: '16000' }, onCounts: (c: EngineCounts) => counts.push(c),
    } as const;
    await analyzeModel(base(vadOpts));
    const again = await analyzeModel(base({ ...vadOpts, seed: 3 }));
    assert.ok(counts[1].graphsBuilt > counts[0].graphsBuilt, 'built again');
    assert.strictEqual(again.objective!.value, (await analyzeModel(base({ ...vadOpts, warm: false, onCounts: undefined, seed: 3 }))).objective!.value);
  });

  it('a model whose If follows its input values is built again on each run: each seed takes its own branch', async () => {
    // cond = sum(x) > 0 chooses between an LSTM of H = 4 and one of H = 8 (both naming their weights W, R, B).
    const branch = (nm: string, H: number): GraphProto => {
      const syn = syntheticRecurrentModel({ op: 'LSTM', hidden: H, input: 3, seed: H });
      const lstm = { ...syn.graph.node[0], input: ['x', 'W', 'R', 'B'], output: [`Y_${nm}`, `Yh_${nm}`], name: `lstm_${nm}` };
      const sum: NodeProto = { op_type: 'ReduceSum', input: [`Yh_${nm}`], output: [`o_${nm}`], name: `sum_${nm}`, domain: '', attribute: [makeAttribute('keepdims', 0)] };
      return { name: nm, node: [lstm, sum], input: [], output: [{ name: `o_${nm}`, type: { tensor_type: { elem_type: 1, shape: { dim: [] } } } }], initializer: syn.graph.initializer, value_info: [] };
    };
    const syn = syntheticRecurrentModel({ op: 'LSTM', hidden: 4, input: 3 });
    const node = (op: string, input: string[], output: string, attribute = [makeAttribute('keepdims', 0)]): NodeProto => ({ op_type: op, input, output: [output], name: output, domain: '', attribute });
    const graph: GraphProto = {
      name: 'if_by_input', value_info: [], input: [syn.graph.input[0]],
      output: [{ name: 'out', type: { tensor_type: { elem_type: 1, shape: { dim: [] } } } }],
      initializer: [makeTensor('zero', [], new Float32Array([0]))],
      node: [
        node('ReduceSum', ['x'], 'sx'), node('Greater', ['sx', 'zero'], 'c', []),
        { op_type: 'If', input: ['c'], output: ['out'], name: 'choose', domain: '', attribute: [makeAttribute('then_branch', branch('t', 4)), makeAttribute('else_branch', branch('e', 8))] },
      ],
    };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-warm-'));
    try {
      const file = path.join(dir, 'if_by_input.onnx');
      fs.writeFileSync(file, encodeModel({ ...syn, graph }));
      const cold = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => analyzeModel(base({ modelPath: file, seqLen: 6, seed }))));
      const seeds = [1, 2, 3, 4, 5, 6];
      const a = seeds[0];
      const b = seeds.find((sd, i) => cold[i].layers[0].hiddenSize !== cold[0].layers[0].hiddenSize);
      assert.ok(b !== undefined, 'some seed takes the other branch');
      const counts: EngineCounts[] = [];
      const opts = { warm: true, modelPath: file, seqLen: 6, onCounts: (c: EngineCounts) => counts.push(c) } as const;
      await analyzeModel(base({ ...opts, seed: a }));
      const other = await analyzeModel(base({ ...opts, seed: b }));
      assert.ok(counts[1].graphsBuilt > counts[0].graphsBuilt, 'built again');
      assert.strictEqual(other.layers[0].hiddenSize, cold[seeds.indexOf(b!)].layers[0].hiddenSize, 'the branch its inputs take');
      assert.strictEqual(other.objective!.value, cold[seeds.indexOf(b!)].objective!.value);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a staged analysis (a graph run in pieces) keeps its stage plan: the re-run plans and encodes nothing', async () => {
    const counts: EngineCounts[] = [];
    const opts = { warm: true, maxStageNodes: 25, chunkedScanMinSteps: 8, jacobian: { probes: 2 }, onCounts: (c: EngineCounts) => counts.push(c) } as const;
    await analyzeModel(base({ ...opts, seed: 1 }));
    const second = await analyzeModel(base({ ...opts, seed: 2 }));
    assert.ok(counts[0].stagePlans >= 1, `the first run planned ${counts[0].stagePlans} stages`);
    assert.strictEqual(counts[1].stagePlans, counts[0].stagePlans, 'no stage planned again');
    assert.strictEqual(counts[1].modelsEncoded, counts[0].modelsEncoded, 'no stage encoded again');
    assert.strictEqual(counts[1].sessionsCreated, counts[0].sessionsCreated, 'no session created');
    const cold = await analyzeModel(base({ maxStageNodes: 25, chunkedScanMinSteps: 8, jacobian: { probes: 2 }, seed: 2 }));
    assert.deepStrictEqual(Array.from(second.layers[0].directions[0].jacobianNorm!.state.data), Array.from(cold.layers[0].directions[0].jacobianNorm!.state.data));
    assert.deepStrictEqual(Array.from(second.layers[0].directions[0].gradHidden!.data), Array.from(cold.layers[0].directions[0].gradHidden!.data));
  });

  it("another model or other settings build their own sessions; the first model's stay for later", async () => {
    const counts: number[] = [];
    const spectra: number[] = [];
    const count = (c: EngineCounts) => { counts.push(c.sessionsCreated); spectra.push(c.spectraComputed); };
    await analyzeModel(base({ warm: true, onCounts: count }));
    await analyzeModel(base({ warm: true, modelPath: path.join(REPO, 'examples', 'adding-gru.onnx'), onCounts: count }));
    await analyzeModel(base({ warm: true, onCounts: count }));
    assert.ok(counts[1] > counts[0], 'the GRU model needs sessions of its own');
    assert.strictEqual(counts[2], counts[1], 'back to the LSTM: its sessions are still there');
    assert.strictEqual(spectra[1], spectra[0] + 1, 'the GRU\'s spectrum is its own');
    assert.strictEqual(spectra[2], spectra[1], 'the LSTM\'s spectrum is still known');
  });

  it('a model whose recurrent weights differ (same shapes) gets its own spectrum', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-warm-'));
    try {
      const files = [1, 2].map((seed) => {
        const file = path.join(dir, `lstm-${seed}.onnx`);
        fs.writeFileSync(file, syntheticRecurrentModelBytes({ op: 'LSTM', hidden: 8, input: 3, seed }));
        return file;
      });
      const spectra: number[] = [];
      const count = (c: EngineCounts) => spectra.push(c.spectraComputed);
      const a = await analyzeModel(base({ warm: true, modelPath: files[0], seqLen: 12, onCounts: count }));
      const b = await analyzeModel(base({ warm: true, modelPath: files[1], seqLen: 12, onCounts: count }));
      assert.strictEqual(spectra[1], spectra[0] + 1, 'the second model\'s spectrum was computed');
      const sigma = (r: typeof a) => r.layers[0].directions[0].metrics.spectrum;
      assert.notDeepStrictEqual(sigma(b), sigma(a));
      assert.deepStrictEqual(sigma(b), sigma(await analyzeModel(base({ modelPath: files[1], seqLen: 12 }))), 'as a cold run computes it');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cancelling a warm analysis ends its thread; the next warm analysis starts a fresh one', async () => {
    await analyzeModel(base({ warm: true }));
    const controller = new AbortController();
    let w: WorkerState | undefined;
    const run = analyzeModel(base({ warm: true, seed: 5, signal: controller.signal, onStart: (x) => { w = x; } }));
    controller.abort();
    await assert.rejects(run, CancelledError);
    await w!.exited;
    const after = await analyzeModel(base({ warm: true }));
    assert.ok(after.layers.length > 0);
    await endWarmWorker();
    assert.strictEqual(liveWorkers(), 0);
  });
});
