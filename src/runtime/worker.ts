/**
 * The onnxruntime worker thread. onnxruntime-node's run() does its native work synchronously, so
 * sessions live here, off the extension host's (or CLI's) main thread; ending this thread is how
 * an analysis is cancelled.
 */
import { parentPort } from 'worker_threads';
import type * as ortTypes from 'onnxruntime-node';
import { ExecutionProviderChoice, HostToWorker, WireTensor, WorkerToHost, transferList } from './protocol';
import { cudaUnavailableMessage } from './executionProvider';

// Loaded lazily so a broken native install becomes an error message, not a crashed thread.
let ort: typeof ortTypes | undefined;
function loadOrt(): typeof ortTypes {
  if (!ort) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      ort = require('onnxruntime-node') as typeof ortTypes;
      ort.env.logLevel = 'fatal';
    } catch (e) {
      throw new Error(`onnxruntime-node could not be loaded (${(e as Error).message}); reinstall the dependencies with 'npm ci'.`);
    }
  }
  return ort;
}

const sessions = new Map<string, ortTypes.InferenceSession>();

function post(msg: WorkerToHost, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(msg, transfer);
}

async function createSession(model: { bytes: Uint8Array } | { path: string }, ep: ExecutionProviderChoice):
  Promise<{ session: ortTypes.InferenceSession; executionProvider: 'cpu' | 'cuda'; notice?: string }> {
  const o = loadOrt();
  const base: ortTypes.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    // Errors reach the user through our own messages; onnxruntime's log would repeat them raw.
    logSeverityLevel: 4,
  };
  const open = (providers: string[]) => ('bytes' in model
    ? o.InferenceSession.create(model.bytes, { ...base, executionProviders: providers })
    : o.InferenceSession.create(model.path, { ...base, executionProviders: providers }));
  if (ep === 'cpu') return { session: await open(['cpu']), executionProvider: 'cpu' };
  try {
    // Requesting a missing CUDA provider makes create() reject even with a CPU fallback listed.
    return { session: await open(['cuda', 'cpu']), executionProvider: 'cuda' };
  } catch (e) {
    const reason = (e as Error).message.split('\n')[0];
    if (ep === 'cuda') throw new Error(cudaUnavailableMessage(reason));
    return {
      session: await open(['cpu']),
      executionProvider: 'cpu',
      notice: `the CUDA execution provider could not be loaded (${reason.slice(0, 200)}); running on CPU instead.`,
    };
  }
}

function toWire(t: ortTypes.Tensor): WireTensor {
  const type = t.type as WireTensor['type'];
  return { type, dims: [...t.dims], data: t.data as WireTensor['data'] };
}

async function handle(msg: HostToWorker): Promise<void> {
  const o = loadOrt();
  switch (msg.kind) {
    case 'createSession': {
      const t0 = performance.now();
      const { session, executionProvider, notice } = await createSession(msg.model, msg.ep);
      sessions.set(msg.sessionId, session);
      post({
        kind: 'sessionCreated', inReplyTo: msg.messageId, executionProvider, notice,
        onnxruntimeVersion: o.env.versions.node ?? o.env.versions.common ?? 'unknown',
        inputNames: [...session.inputNames], outputNames: [...session.outputNames], ms: performance.now() - t0,
      });
      return;
    }
    case 'run': {
      const session = sessions.get(msg.sessionId);
      if (!session) throw new Error(`internal error: no session '${msg.sessionId}' in the worker`);
      const feeds: Record<string, ortTypes.Tensor> = {};
      for (const [name, w] of Object.entries(msg.feeds)) feeds[name] = new o.Tensor(w.type, w.data as never, w.dims);
      const t0 = performance.now();
      const result = await session.run(feeds, msg.fetches);
      const ms = performance.now() - t0;
      const outputs: Record<string, WireTensor> = {};
      for (const name of msg.fetches) outputs[name] = toWire(result[name]);
      post({ kind: 'ran', inReplyTo: msg.messageId, outputs, ms }, transferList(outputs));
      return;
    }
    case 'release': {
      const s = sessions.get(msg.sessionId);
      sessions.delete(msg.sessionId);
      if (s) await s.release();
      post({ kind: 'released', inReplyTo: msg.messageId });
      return;
    }
  }
}

if (parentPort) {
  parentPort.on('message', (msg: HostToWorker) => {
    handle(msg).catch((e: unknown) => {
      post({ kind: 'error', inReplyTo: msg.messageId, message: e instanceof Error ? e.message : String(e) });
    });
  });
  post({ kind: 'ready' });
}
