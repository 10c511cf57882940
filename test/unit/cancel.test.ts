/**
 * Cancelling: the analysis promise rejects at once with CancelledError, the worker thread ends,
 * and a cancelled CLI run leaves no output file (complete or partial) behind.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import { analyzeModel, AnalyzeOptions, liveWorkers, WorkerState } from '../../src/analysis/analyze';
import { CancelledError } from '../../src/onnx/errors';
import { runCli } from '../../src/cli/main';
import { syntheticRecurrentModelBytes } from './synthetic';

describe('cancelling an analysis', function () {
  this.timeout(60000);
  let dir: string;
  let model: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-cancel-'));
    model = path.join(dir, 'long.onnx');
    fs.writeFileSync(model, syntheticRecurrentModelBytes({ op: 'LSTM', hidden: 128, input: 128 }));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Starts an analysis of `seqLen` steps and gives its promise, controller and worker view. */
  const start = (seqLen: number, extra: Partial<AnalyzeOptions> = {}) => {
    const controller = new AbortController();
    let worker: WorkerState | undefined;
    const run = analyzeModel({
      modelPath: model, files: {}, seed: 0, dims: {}, seqLen, ep: 'cpu', saturation: { low: 0.1, high: 0.9 },
      signal: controller.signal, onStart: (w) => { worker = w; }, ...extra,
    });
    let settled = false;
    run.then(() => { settled = true; }, () => { settled = true; });
    return { run, controller, worker: () => worker!, settled: () => settled };
  };

  it('the promise is rejected with CancelledError as soon as abort() returns, whatever the worker is doing', async () => {
    const a = start(20000);
    await until(() => a.worker().nativeCalls() > 0); // inside the analysis, not before it
    a.controller.abort();
    await new Promise((r) => setImmediate(r)); // one turn of the event loop: no waiting on the worker
    assert.ok(a.settled(), 'rejected before the worker finished its native call');
    await assert.rejects(a.run, (e: Error) => e instanceof CancelledError);
    await a.worker().exited;
  });

  it('no native call starts after the cancel, and the thread then ends by itself', async () => {
    const a = start(2000);
    await until(() => a.worker().nativeCalls() >= 2);
    a.controller.abort();
    const callsAtAbort = a.worker().nativeCalls();
    await assert.rejects(a.run, CancelledError);
    await a.worker().exited;
    // The call in progress at the abort may finish; none starts after it (the flag is read before every call).
    assert.ok(a.worker().nativeCalls() <= callsAtAbort, `${a.worker().nativeCalls() - callsAtAbort} native calls started after the cancel`);
    assert.strictEqual(liveWorkers(), 0);
  });

  it('T = 20 000 with the exact Jacobian: cancelling during backpropagation stops between chunked native calls', async () => {
    let inBackprop = false;
    const a = start(20000, { jacobian: 'exact', onProgress: (m) => { if (/^Backpropagating \(/.test(m)) inBackprop = true; } });
    await until(() => inBackprop);
    const callsBefore = a.worker().nativeCalls();
    a.controller.abort();
    const callsAtAbort = a.worker().nativeCalls();
    await assert.rejects(a.run, CancelledError);
    await a.worker().exited;
    assert.ok(callsBefore > 3, 'the backward recurrence runs as several bounded calls, so a cancel has somewhere to land');
    assert.ok(a.worker().nativeCalls() <= callsAtAbort);
  });

  it('a finished analysis leaves no worker behind', async () => {
    await until(() => liveWorkers() === 0);
    let exited: Promise<void> | undefined;
    await analyzeModel({ modelPath: model, files: {}, seed: 0, dims: {}, seqLen: 10, ep: 'cpu', saturation: { low: 0.1, high: 0.9 }, onStart: (w) => { exited = w.exited; } });
    await exited;
    assert.strictEqual(liveWorkers(), 0);
  });

  it('a cancelled CLI run writes no JSON file, partial or complete', async () => {
    const controller = new AbortController();
    const out = path.join(dir, 'report.json');
    const stderr = new PassThrough();
    let errText = '';
    stderr.on('data', (c) => { errText += c; });
    const run = runCli(['analyze', model, '--seq-len', '20000', '--ep', 'cpu', '--json', out], { stdout: new PassThrough(), stderr }, controller.signal);
    // Abort once the analysis is under way (it reports progress), not at a guessed time.
    await new Promise<void>((resolve) => { const t = setInterval(() => { if (liveWorkers() > 0) { clearInterval(t); resolve(); } }, 5); });
    controller.abort();
    const code = await run;
    assert.strictEqual(code, 1);
    assert.match(errText, /^error: the analysis was cancelled/);
    assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.startsWith('report')), []);
  });
});

/** Resolves once `cond` holds (checked every 10 ms); mocha's timeout bounds the wait. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}
