/**
 * Host side of the analysis worker: `analyzeModel` runs one analysis in a fresh worker thread
 * and resolves with its Report. The calling thread (the extension host, the CLI) only posts
 * the settings and receives the report's buffers; it never blocks.
 *
 * Cancelling rejects at once. The thread is ended as soon as it is outside native code:
 * terminating a thread inside onnxruntime's native run() aborts the whole process (the addon's
 * N-API calls fail and throw past C++), so a worker busy in native code stops by itself when
 * that call returns (it checks the shared cancel flag before every native call).
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { AnalysisSettings } from '../analysis/pipeline';
import { AnalysisError, CancelledError, UsageError } from '../onnx/errors';
import type { ModelOverview, Report } from '../report/types';
import { Control, EngineCounts, HostToWorker, WorkerToHost } from './protocol';

// onnxruntime-node's telemetry writes a log file into the temporary folder on every run (and a
// device id under ~/.cache) unless this is set before the library loads. Gradient Lens writes
// only the files a user asks for: off, process-wide, before any worker or session starts.
if (process.env.ORT_DISABLE_TELEMETRY === undefined) process.env.ORT_DISABLE_TELEMETRY = '1';

export interface AnalyzeOptions extends AnalysisSettings {
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
  /** Called once the worker starts, with a view of its native-call state (diagnostics and tests). */
  onStart?: (worker: WorkerState) => void;
  /**
   * Keep the worker thread — its onnxruntime environment, decoded models and sessions — for the
   * next analysis, ending it after WARM_IDLE_MS without one (the editor's re-runs: another seed
   * or other inputs cost no thread start, model decode or session creation).
   */
  warm?: boolean;
  /** Called with the report and what the thread has done so far (tests, the bench). */
  onCounts?: (counts: EngineCounts) => void;
}

/** A warm worker with nothing to do ends after this long. */
export const WARM_IDLE_MS = 5 * 60 * 1000;

/** The idle warm worker, if any: at most one, reused by the next warm analysis. */
let idleWorker: { worker: Worker; exited: Promise<void>; timer: NodeJS.Timeout; markEnded: () => void } | undefined;

/** End the idle warm worker now (extension deactivation, tests). */
export async function endWarmWorker(): Promise<void> {
  const w = idleWorker;
  idleWorker = undefined;
  if (!w) return;
  clearTimeout(w.timer);
  await w.worker.terminate();
  await w.exited;
}

/** A live view of one analysis worker's native calls. */
export interface WorkerState {
  /** Native onnxruntime calls the worker has started so far. */
  nativeCalls(): number;
  inNative(): boolean;
  /** Resolves when the thread has ended. */
  exited: Promise<void>;
}

/** Where the worker script sits: next to this module, both in the tsc output and the esbuild bundle. */
export function workerScriptPath(): string {
  return path.join(__dirname, 'worker.js');
}

let live = 0;
/** Analysis worker threads currently alive (for tests and diagnostics). */
export function liveWorkers(): number {
  return live;
}

/** The control blocks of live workers, to tell whether any is inside onnxruntime. */
const controls = new Set<Int32Array>();

/**
 * How many live analysis threads are inside a native onnxruntime call right now. A process must
 * not exit while this is non-zero: ending a thread inside onnxruntime aborts the process.
 */
export function workersInNative(): number {
  let n = 0;
  for (const c of controls) if (Atomics.load(c, Control.InNative) !== 0) n++;
  return n;
}

export function analyzeModel(opts: AnalyzeOptions): Promise<Report> {
  const { signal, onProgress, onStart, warm, onCounts, ...settings } = opts;
  return inWorker((control) => ({ kind: 'analyze', messageId: 1, settings: { ...settings, keepModel: warm }, control, warm }), 'report', signal, onProgress, onStart, warm)
    .then((m) => {
      const reply = m as Extract<WorkerToHost, { kind: 'report' }>;
      if (reply.counts) onCounts?.(reply.counts);
      return reply.report;
    });
}

/** A model's static overview (the custom editor's content), read in a worker thread. */
export function inspectModel(modelPath: string, signal?: AbortSignal): Promise<ModelOverview> {
  return inWorker((control) => ({ kind: 'inspect', messageId: 1, modelPath, control }), 'overview', signal)
    .then((m) => (m as Extract<WorkerToHost, { kind: 'overview' }>).overview);
}

/**
 * One request in a worker thread — a fresh one, or (warm) the idle warm worker; resolves with the
 * reply of kind `resultKind`. A warm worker that finished goes back to idle; any cancel or error
 * ends the thread (as soon as it is outside native code).
 */
function inWorker(request: (control: SharedArrayBuffer) => HostToWorker, resultKind: 'report' | 'overview',
  signal?: AbortSignal, onProgress?: (message: string) => void, onStart?: (worker: WorkerState) => void, warm = false): Promise<WorkerToHost> {
  if (signal?.aborted) return Promise.reject(new CancelledError());
  const control = new Int32Array(new SharedArrayBuffer(Control.Length * 4));
  let worker: Worker;
  let exited: Promise<void>;
  let ended = false;
  const reused = warm ? idleWorker : undefined;
  if (reused) {
    idleWorker = undefined;
    clearTimeout(reused.timer);
    worker = reused.worker;
    worker.ref();
    exited = reused.exited;
    worker.removeAllListeners('message');
    worker.removeAllListeners('error');
  } else {
    worker = new Worker(workerScriptPath());
    live++;
    exited = new Promise<void>((resolve) => worker.once('exit', () => { live--; ended = true; resolve(); }));
  }
  controls.add(control);
  void exited.then(() => { ended = true; controls.delete(control); });
  onStart?.({
    nativeCalls: () => Atomics.load(control, Control.Calls),
    inNative: () => Atomics.load(control, Control.InNative) !== 0,
    exited,
  });

  /** End the thread now if it is outside native code; otherwise it ends itself (see above). */
  const endWhenSafe = () => {
    Atomics.store(control, Control.Cancel, 1);
    if (!ended && Atomics.load(control, Control.InNative) === 0) void worker.terminate();
  };

  return new Promise<WorkerToHost>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => settle(() => { endWhenSafe(); reject(new CancelledError()); });
    signal?.addEventListener('abort', onAbort, { once: true });

    worker.on('message', (msg: WorkerToHost) => {
      if (msg.kind === 'progress') {
        if (!settled) onProgress?.(msg.message);
      } else if (msg.kind === 'error') {
        settle(() => reject(rebuildError(msg.errorKind, msg.message, msg.detail, msg.stack)));
        endWhenSafe();
      } else if (msg.kind === resultKind) {
        settle(() => resolve(msg));
        if (warm && !ended) {
          // Back to idle, ready for the next analysis; ended after a while without one.
          controls.delete(control);
          worker.removeAllListeners('message');
          worker.removeAllListeners('error');
          const timer = setTimeout(() => { if (idleWorker?.worker === worker) void endWarmWorker(); }, WARM_IDLE_MS);
          timer.unref();
          worker.unref(); // an idle worker does not keep the process alive
          idleWorker = { worker, exited, timer, markEnded: () => { ended = true; } };
        } else {
          endWhenSafe();
        }
      }
    });
    worker.on('error', (e) => settle(() => reject(new Error(`the analysis worker failed: ${e.message}`))));
    void exited.then(() => settle(() => reject(new Error('the analysis worker stopped before it finished'))));
    worker.postMessage(request(control.buffer as SharedArrayBuffer));
  });
}

function rebuildError(kind: string, message: string, detail?: string, stack?: string): Error {
  const e = kind === 'cancelled' ? new CancelledError()
    : kind === 'usage' ? new UsageError(message)
      : kind === 'analysis' ? new AnalysisError(message, detail)
        : new Error(message);
  if (kind === 'internal') {
    if (stack) e.stack = stack;
    if (detail) (e as Error & { detail?: string }).detail = detail;
  }
  return e;
}
