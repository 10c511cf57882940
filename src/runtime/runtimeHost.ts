/**
 * Host side of the onnxruntime worker: typed request/response promises over the worker
 * protocol, and cancellation by ending the thread.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { CancelledError } from '../onnx/errors';
import { ExecutionProviderChoice, HostToWorker, WireTensor, WorkerToHost, transferList } from './protocol';

type Reply = Exclude<WorkerToHost, { kind: 'ready' }>;
type DistributiveOmit<T, K extends keyof never> = T extends unknown ? Omit<T, K> : never;

export interface SessionInfo {
  sessionId: string;
  executionProvider: 'cpu' | 'cuda';
  notice?: string;
  onnxruntimeVersion: string;
  inputNames: string[];
  outputNames: string[];
  ms: number;
}

/** Where the worker script sits: next to this module, both in the tsc output and the esbuild bundle. */
export function workerScriptPath(): string {
  return path.join(__dirname, 'worker.js');
}

export class RuntimeHost {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private nextSession = 1;
  private closed: Error | undefined;
  private readonly ready: Promise<void>;

  constructor(signal?: AbortSignal) {
    this.worker = new Worker(workerScriptPath());
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (msg: WorkerToHost) => {
        if (msg.kind === 'ready') { resolve(); return; }
        const p = this.pending.get(msg.inReplyTo);
        if (!p) return;
        this.pending.delete(msg.inReplyTo);
        if (msg.kind === 'error') p.reject(new Error(msg.message));
        else p.resolve(msg);
      };
      this.worker.on('message', onMessage);
      this.worker.on('error', (e) => { this.fail(e); reject(e); });
      this.worker.on('exit', (code) => {
        this.fail(this.closed ?? new Error(`the onnxruntime worker stopped unexpectedly (exit code ${code})`));
        reject(this.closed);
      });
    });
    this.ready.catch(() => undefined);
    if (signal) {
      if (signal.aborted) void this.cancel();
      else signal.addEventListener('abort', () => void this.cancel(), { once: true });
    }
  }

  private fail(e: Error): void {
    this.closed = this.closed ?? e;
    for (const p of this.pending.values()) p.reject(this.closed);
    this.pending.clear();
  }

  private async request<R extends Reply>(msg: DistributiveOmit<HostToWorker, 'messageId'>, transfer: ArrayBuffer[] = []): Promise<R> {
    await this.ready;
    if (this.closed) throw this.closed;
    const messageId = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(messageId, { resolve: resolve as (r: Reply) => void, reject });
      this.worker.postMessage({ ...msg, messageId } as HostToWorker, transfer);
    });
  }

  async createSession(model: { bytes: Uint8Array } | { path: string }, ep: ExecutionProviderChoice): Promise<SessionInfo> {
    const sessionId = `s${this.nextSession++}`;
    const r = await this.request<Extract<Reply, { kind: 'sessionCreated' }>>({ kind: 'createSession', sessionId, model, ep });
    return { sessionId, executionProvider: r.executionProvider, notice: r.notice, onnxruntimeVersion: r.onnxruntimeVersion,
      inputNames: r.inputNames, outputNames: r.outputNames, ms: r.ms };
  }

  /** Run a session; the feeds' buffers are transferred when they own their memory whole. */
  async run(sessionId: string, feeds: Record<string, WireTensor>, fetches: string[]): Promise<{ outputs: Record<string, WireTensor>; ms: number }> {
    const r = await this.request<Extract<Reply, { kind: 'ran' }>>({ kind: 'run', sessionId, feeds, fetches }, transferList(feeds));
    return { outputs: r.outputs, ms: r.ms };
  }

  async release(sessionId: string): Promise<void> {
    await this.request({ kind: 'release', sessionId });
  }

  /**
   * End the worker. onnxruntime's native run() cannot be interrupted from JavaScript, so the
   * thread stops when its current native call returns; every pending request rejects at once.
   */
  async cancel(): Promise<void> {
    this.fail(new CancelledError());
    await this.worker.terminate();
  }

  async close(): Promise<void> {
    if (!this.closed) this.closed = new Error('the onnxruntime worker was closed');
    this.fail(this.closed);
    await this.worker.terminate();
  }
}
