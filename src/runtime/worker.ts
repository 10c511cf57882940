/**
 * The analysis worker thread. onnxruntime-node's run() does its native work synchronously, so
 * the whole pipeline — model decoding, sessions, runs, metrics — lives here, off the extension
 * host's (or CLI's) thread.
 */
import { parentPort } from 'worker_threads';
import { runAnalysis } from '../analysis/pipeline';
import { inspectModel } from '../analysis/inspect';
import { AnalysisError, CancelledError, UsageError } from '../onnx/errors';
import { encodeCount, OrtRuntime, sessionCount } from './ortRuntime';
import { spectrumCount } from '../analysis/spectra';
import { stagePlanCount, timeLocalRuns } from './stagedRun';
import { graphBuildCount } from '../analysis/warmPlan';
import { Control, ErrorKind, HostToWorker, WorkerToHost, transferList } from './protocol';

function post(msg: WorkerToHost, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(msg, transfer);
}

async function handle(msg: HostToWorker): Promise<void> {
  const control = new Int32Array(msg.control);
  const cancelled = () => Atomics.load(control, Control.Cancel) === 1;
  const checkCancelled = () => { if (cancelled()) throw new CancelledError(); };
  const warm = msg.kind === 'analyze' && !!msg.warm;
  const runtime = new OrtRuntime({
    // Publish "in native" before reading the cancel flag (the host writes them the other way
    // round), so host and worker can never both think the other will act: no native call starts
    // after a cancel, and the host never ends the thread during one.
    enter: () => {
      Atomics.store(control, Control.InNative, 1);
      if (cancelled()) {
        Atomics.store(control, Control.InNative, 0);
        throw new CancelledError();
      }
      Atomics.add(control, Control.Calls, 1);
    },
    exit: () => {
      Atomics.store(control, Control.InNative, 0);
      Atomics.notify(control, Control.InNative); // the spectrum thread may be waiting for it
    },
  }, warm);
  try {
    if (msg.kind === 'inspect') {
      const overview = await inspectModel(msg.modelPath, runtime, checkCancelled);
      post({ kind: 'overview', inReplyTo: msg.messageId, overview });
      return;
    }
    const report = await runAnalysis(msg.settings, runtime, {
      progress: (message) => post({ kind: 'progress', inReplyTo: msg.messageId, message }),
      checkCancelled,
      busy: { buffer: msg.control, index: Control.InNative },
    });
    checkCancelled();
    const counts = {
      sessionsCreated: sessionCount(), timeLocalChunked: timeLocalRuns.chunked, timeLocalWithScan: timeLocalRuns.withScan, spectraComputed: spectrumCount(),
      graphsBuilt: graphBuildCount(), modelsEncoded: encodeCount(), stagePlans: stagePlanCount(),
    };
    post({ kind: 'report', inReplyTo: msg.messageId, report, counts }, transferList(report));
  } catch (e) {
    const err = e as Error;
    const errorKind: ErrorKind = cancelled() || err instanceof CancelledError ? 'cancelled'
      : err instanceof UsageError ? 'usage' : err instanceof AnalysisError ? 'analysis' : 'internal';
    const detail = (err as Error & { detail?: string }).detail;
    post({ kind: 'error', inReplyTo: msg.messageId, errorKind, message: err.message ?? String(e), detail, stack: err.stack });
  }
}

if (parentPort) {
  parentPort.on('message', (msg: HostToWorker) => {
    void handle(msg);
  });
}
