/**
 * Cancelling: the analysis promise rejects at once with CancelledError, the worker thread ends,
 * and a cancelled CLI run leaves no output file (complete or partial) behind.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import { analyzeModel, liveWorkers } from '../../src/analysis/analyze';
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

  it('rejects with CancelledError soon after abort, whatever the worker is doing', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const run = analyzeModel({
      modelPath: model, files: {}, seed: 0, dims: {}, seqLen: 20000, ep: 'cpu', saturation: { low: 0.1, high: 0.9 },
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(run, (e: Error) => e instanceof CancelledError);
    assert.ok(Date.now() - started < 300 + 1000, `cancellation took ${Date.now() - started - 300} ms`);
  });

  it('ends the worker thread within a second of the current native call', async () => {
    await waitFor(() => liveWorkers() === 0, 5000);
    const controller = new AbortController();
    const run = analyzeModel({
      modelPath: model, files: {}, seed: 0, dims: {}, seqLen: 2000, ep: 'cpu', saturation: { low: 0.1, high: 0.9 },
      signal: controller.signal,
    });
    assert.strictEqual(liveWorkers(), 1);
    setTimeout(() => controller.abort(), 200);
    await assert.rejects(run, CancelledError);
    const t0 = Date.now();
    await waitFor(() => liveWorkers() === 0, 2000);
    assert.ok(Date.now() - t0 < 1500, `the worker outlived the cancel by ${Date.now() - t0} ms`);
  });

  it('T = 20 000: cancelling during backpropagation ends the worker within a second', async () => {
    await waitFor(() => liveWorkers() === 0, 5000);
    const controller = new AbortController();
    let abortedAt = 0;
    const run = analyzeModel({
      modelPath: model, files: {}, seed: 0, dims: {}, seqLen: 20000, ep: 'cpu', saturation: { low: 0.1, high: 0.9 },
      jacobian: 'exact', signal: controller.signal,
      onProgress: (m) => {
        if (!abortedAt && /^Backpropagating \(/.test(m)) setTimeout(() => { abortedAt = Date.now(); controller.abort(); }, 500);
      },
    });
    await assert.rejects(run, CancelledError);
    assert.ok(abortedAt > 0, 'the analysis reached backpropagation');
    assert.ok(Date.now() - abortedAt < 100, 'the promise rejects at once');
    await waitFor(() => liveWorkers() === 0, 1000);
  });

  it('a finished analysis leaves no worker behind', async () => {
    await waitFor(() => liveWorkers() === 0, 5000);
    await analyzeModel({ modelPath: model, files: {}, seed: 0, dims: {}, seqLen: 10, ep: 'cpu', saturation: { low: 0.1, high: 0.9 } });
    await waitFor(() => liveWorkers() === 0, 1000);
  });

  it('a cancelled CLI run writes no JSON file, partial or complete', async () => {
    const controller = new AbortController();
    const out = path.join(dir, 'report.json');
    const stderr = new PassThrough();
    let errText = '';
    stderr.on('data', (c) => { errText += c; });
    const run = runCli(['analyze', model, '--seq-len', '20000', '--ep', 'cpu', '--json', out], { stdout: new PassThrough(), stderr }, controller.signal);
    setTimeout(() => controller.abort(), 300);
    const code = await run;
    assert.strictEqual(code, 1);
    assert.match(errText, /^error: the analysis was cancelled/);
    assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.startsWith('report')), []);
  });
});

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
