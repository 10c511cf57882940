/**
 * The editor's warm engine: a warm analysis leaves its worker thread, decoded model and sessions
 * for the next one, so a re-run with another seed (or other inputs of the same shapes) creates no
 * session — counted, not timed — and gives exactly the numbers a cold run gives. Cancelling a
 * warm analysis still ends its thread.
 */
import * as assert from 'assert';
import * as path from 'path';
import { analyzeModel, endWarmWorker, liveWorkers, WorkerState } from '../../src/analysis/analyze';
import type { AnalyzeOptions } from '../../src/analysis/analyze';
import { CancelledError } from '../../src/onnx/errors';
import { REPO } from './helpers';

const base = (extra: Partial<AnalyzeOptions> = {}): AnalyzeOptions => ({
  modelPath: path.join(REPO, 'examples', 'adding-lstm.onnx'), files: {}, seed: 0, dims: {}, ep: 'cpu', saturation: { low: 0.1, high: 0.9 }, ...extra,
});

describe('the warm engine', function () {
  this.timeout(120000);
  afterEach(() => endWarmWorker());

  it('a re-run with another seed reuses the thread and every session, and matches a cold run', async () => {
    const sessions: number[] = [];
    const threads: WorkerState[] = [];
    const first = await analyzeModel(base({ warm: true, seed: 1, onCounts: (c) => sessions.push(c.sessionsCreated), onStart: (w) => threads.push(w) }));
    const second = await analyzeModel(base({ warm: true, seed: 2, onCounts: (c) => sessions.push(c.sessionsCreated), onStart: (w) => threads.push(w) }));
    assert.ok(sessions[0] >= 2, `the first run created ${sessions[0]} sessions`);
    assert.strictEqual(sessions[1], sessions[0], 'the re-run created no session');
    assert.strictEqual(threads[1].exited, threads[0].exited, 'the same thread');
    assert.notDeepStrictEqual(Array.from(first.inputValues!.x.data), Array.from(second.inputValues!.x.data), 'another seed, other inputs');
    const cold = await analyzeModel(base({ seed: 2 }));
    assert.deepStrictEqual(Array.from(second.layers[0].directions[0].gradHidden!.data), Array.from(cold.layers[0].directions[0].gradHidden!.data));
    assert.deepStrictEqual(Array.from(second.layers[0].directions[0].jacobianNorm!.state.data), Array.from(cold.layers[0].directions[0].jacobianNorm!.state.data));
  });

  it("another model or other settings build their own sessions; the first model's stay for later", async () => {
    const counts: number[] = [];
    await analyzeModel(base({ warm: true, onCounts: (c) => counts.push(c.sessionsCreated) }));
    await analyzeModel(base({ warm: true, modelPath: path.join(REPO, 'examples', 'adding-gru.onnx'), onCounts: (c) => counts.push(c.sessionsCreated) }));
    await analyzeModel(base({ warm: true, onCounts: (c) => counts.push(c.sessionsCreated) }));
    assert.ok(counts[1] > counts[0], 'the GRU model needs sessions of its own');
    assert.strictEqual(counts[2], counts[1], 'back to the LSTM: its sessions are still there');
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
