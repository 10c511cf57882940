/**
 * onnxruntime sessions inside the worker thread: creation with the execution-provider choice
 * (CUDA → CPU with a notice), runs with wire tensors, and the native-call guard that makes
 * cancelling safe.
 */
import type * as ortTypes from 'onnxruntime-node';
import { ExecutionProviderChoice, WireTensor } from './protocol';
import { encodeModel } from '../onnx/model';
import { ModelProto } from '../onnx/proto';
import { cudaUnavailableMessage } from './executionProvider';
import { cudaProviderInstalled, loadOrt } from './ortModule';

/**
 * Brackets every native onnxruntime call. `enter` throws CancelledError once the analysis is
 * cancelled, so no native call starts after a cancel; the host never ends the thread while
 * one is in progress (see analysisWorker.ts).
 */
export interface NativeGuard {
  enter(): void;
  exit(): void;
}

export interface SessionInfo {
  sessionId: string;
  executionProvider: 'cpu' | 'cuda';
  /** Set when CUDA was asked for (ep 'auto') but could not be used. */
  notice?: string;
  onnxruntimeVersion: string;
  inputNames: string[];
  outputNames: string[];
  ms: number;
}

export class OrtRuntime {
  private readonly sessions = new Map<string, ortTypes.InferenceSession>();
  private next = 1;

  constructor(private readonly guard: NativeGuard) {}

  private async native<T>(call: () => Promise<T>): Promise<T> {
    this.guard.enter();
    try {
      return await call();
    } finally {
      this.guard.exit();
    }
  }

  /** `model.externalData`: in-memory contents of the external-data locations the model names. */
  async createSession(model: { bytes: Uint8Array; externalData?: { path: string; data: Uint8Array }[] }, ep: ExecutionProviderChoice): Promise<SessionInfo> {
    const o = loadOrt();
    const t0 = performance.now();
    const options: ortTypes.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      // Errors reach the user through our own messages; onnxruntime's log would repeat them raw.
      logSeverityLevel: 4,
    };
    if (model.externalData) options.externalData = model.externalData;
    const open = (providers: string[]) => this.native(() => o.InferenceSession.create(model.bytes, { ...options, executionProviders: providers }));
    let session: ortTypes.InferenceSession;
    let executionProvider: 'cpu' | 'cuda' = 'cpu';
    let notice: string | undefined;
    // auto without the CUDA provider installed: CPU, no attempt and no notice (the machine never had a GPU setup).
    if (ep === 'cpu' || (ep === 'auto' && !cudaProviderInstalled())) {
      session = await open(['cpu']);
    } else {
      try {
        // Requesting a missing CUDA provider makes create() reject even with a CPU fallback listed.
        session = await open(['cuda', 'cpu']);
        executionProvider = 'cuda';
      } catch (e) {
        if ((e as Error).name === 'CancelledError') throw e;
        const reason = (e as Error).message.split('\n')[0];
        if (ep === 'cuda') throw new Error(cudaUnavailableMessage(reason));
        session = await open(['cpu']);
        // Installed but failing (a CUDA or cuDNN library missing, no GPU): worth saying.
        notice = `the CUDA execution provider is installed but could not be used (${reason.replace(/^.*?: /, '').slice(0, 160)}); ran on CPU. See the README's "GPU" section, or choose the CPU execution provider to skip the attempt.`;
      }
    }
    const sessionId = `s${this.next++}`;
    this.sessions.set(sessionId, session);
    return {
      sessionId, executionProvider, notice,
      onnxruntimeVersion: o.env.versions.node ?? o.env.versions.common ?? 'unknown',
      inputNames: [...session.inputNames], outputNames: [...session.outputNames], ms: performance.now() - t0,
    };
  }

  async run(sessionId: string, feeds: Record<string, WireTensor>, fetches: string[]): Promise<{ outputs: Record<string, WireTensor>; ms: number }> {
    const o = loadOrt();
    const session = this.sessions.get(sessionId);
    if (!session) throw new Error(`internal error: no session '${sessionId}'`);
    const tensors: Record<string, ortTypes.Tensor> = {};
    for (const [name, w] of Object.entries(feeds)) tensors[name] = new o.Tensor(w.type, w.data as never, w.dims);
    const t0 = performance.now();
    const result = await this.native(() => session.run(tensors, fetches));
    const ms = performance.now() - t0;
    const outputs: Record<string, WireTensor> = {};
    for (const name of fetches) {
      const t = result[name];
      outputs[name] = { type: t.type as WireTensor['type'], dims: [...t.dims], data: t.data as WireTensor['data'] };
    }
    return { outputs, ms };
  }

  /**
   * Create a session, run it once, release it. `ms` is the run; `setupMs` the rest (encoding the
   * model, creating and releasing the session).
   */
  async runOnce(proto: ModelProto, ep: ExecutionProviderChoice, feeds: Record<string, WireTensor>, fetches: string[]):
    Promise<{ outputs: Record<string, WireTensor>; ms: number; setupMs: number }> {
    const t0 = performance.now();
    const session = await this.createSession({ bytes: encodeModel(proto) }, ep);
    let ran: { outputs: Record<string, WireTensor>; ms: number } | undefined;
    try {
      ran = await this.run(session.sessionId, feeds, fetches);
    } finally {
      await this.release(session.sessionId);
    }
    return { ...ran, setupMs: performance.now() - t0 - ran.ms };
  }

  async release(sessionId: string): Promise<void> {
    const s = this.sessions.get(sessionId);
    this.sessions.delete(sessionId);
    if (s) await this.native(() => s.release());
  }

  async releaseAll(): Promise<void> {
    for (const s of this.sessions.values()) await this.native(() => s.release()).catch(() => undefined);
    this.sessions.clear();
  }
}
