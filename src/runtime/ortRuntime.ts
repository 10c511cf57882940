/**
 * onnxruntime sessions inside the worker thread: creation with the execution-provider choice
 * (CUDA → CPU with a notice), runs with wire tensors, and the native-call guard that makes
 * cancelling safe.
 */
import { createHash } from 'crypto';
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
  /** The session cache's key of its model (a warm worker's sessions): reuse(key) finds it again without the model's bytes. */
  key?: string;
}

/**
 * Sessions kept between analyses in a warm worker (the editor's): keyed by the model bytes' hash
 * and the execution-provider choice, so a re-run whose graphs are unchanged (another seed, other
 * inputs of the same shapes) creates no session. Bounded; the least recently used go first.
 */
interface CachedSession { session: ortTypes.InferenceSession; info: Omit<SessionInfo, 'sessionId' | 'ms'>; used: number }
const sessionCache = new Map<string, CachedSession>();
/** Cached sessions and the bytes of models they hold at most (onnxruntime keeps a session's weights). */
export const SESSION_CACHE_MAX = 8;
export const SESSION_CACHE_MAX_BYTES = 512 * 2 ** 20;
let sessionsCreated = 0;
let modelsEncoded = 0;

/** Sessions created in this thread so far (tests count them to see the cache at work). */
export function sessionCount(): number {
  return sessionsCreated;
}

/** Models handed over as bytes in this thread so far, encoded for it (a warm re-run of the same graphs hands over none). */
export function encodeCount(): number {
  return modelsEncoded;
}

/**
 * The session-cache keys of generated graphs, by graph object and what was typed into it: a warm
 * re-run that reuses its graphs (analysis/warmPlan.ts) finds their sessions without encoding and
 * hashing them again. Weak: a graph nobody holds takes its entry with it.
 */
const protoKeys = new WeakMap<ModelProto, Map<string, string>>();

function modelKey(model: { bytes: Uint8Array; externalData?: { path: string; data: Uint8Array }[] }, ep: ExecutionProviderChoice): string {
  const h = createHash('sha1');
  h.update(model.bytes);
  for (const e of model.externalData ?? []) { h.update(e.path); h.update(e.data); }
  return `${ep}:${h.digest('hex')}`;
}

export class OrtRuntime {
  private readonly sessions = new Map<string, ortTypes.InferenceSession>();
  /** Session ids that belong to the thread's cache (released by eviction, not by release()). */
  private readonly cachedIds = new Set<string>();
  private next = 1;

  /** `cacheSessions`: keep sessions for the next analysis in this thread (a warm worker). */
  constructor(private readonly guard: NativeGuard, private readonly cacheSessions = false) {}

  private async native<T>(call: () => Promise<T>): Promise<T> {
    this.guard.enter();
    try {
      return await call();
    } finally {
      this.guard.exit();
    }
  }

  /** The cached session of this key (SessionInfo.key), if the cache still holds it: no model bytes needed. */
  reuse(key: string): SessionInfo | undefined {
    const hit = this.cacheSessions ? sessionCache.get(key) : undefined;
    if (!hit) return undefined;
    hit.used = performance.now();
    const sessionId = `s${this.next++}`;
    this.sessions.set(sessionId, hit.session);
    this.cachedIds.add(sessionId);
    return { ...hit.info, sessionId, ms: 0, key };
  }

  /**
   * A session of a generated graph: `make()` gives the model to encode (the graph itself, or it with
   * its inputs typed — `variant` names what was typed in). A warm worker that already holds the
   * session of this graph object and variant reuses it without encoding or hashing anything.
   */
  async sessionFor(proto: ModelProto, ep: ExecutionProviderChoice, make: () => ModelProto = () => proto, variant = ''): Promise<SessionInfo> {
    const memoKey = `${ep}\n${variant}`;
    const known = this.cacheSessions ? protoKeys.get(proto)?.get(memoKey) : undefined;
    const hit = known !== undefined ? this.reuse(known) : undefined;
    if (hit) return hit;
    const info = await this.createSession({ bytes: encodeModel(make()) }, ep);
    if (info.key) {
      let m = protoKeys.get(proto);
      if (!m) protoKeys.set(proto, m = new Map());
      m.set(memoKey, info.key);
    }
    return info;
  }

  /** `model.externalData`: in-memory contents of the external-data locations the model names. */
  async createSession(model: { bytes: Uint8Array; externalData?: { path: string; data: Uint8Array }[] }, ep: ExecutionProviderChoice): Promise<SessionInfo> {
    const t0 = performance.now();
    modelsEncoded++; // (the caller encoded it; this hashes it in a warm worker)
    if (this.cacheSessions) {
      const key = modelKey(model, ep);
      const hit = this.reuse(key);
      if (hit) return { ...hit, ms: performance.now() - t0 };
      const info = await this.create(model, ep);
      const session = this.sessions.get(info.sessionId)!;
      this.cachedIds.add(info.sessionId);
      const { sessionId: _id, ms: _ms, ...rest } = info;
      sessionCache.set(key, { session, info: rest, used: performance.now() });
      (session as unknown as { glBytes?: number }).glBytes = model.bytes.byteLength + (model.externalData ?? []).reduce((n, e) => n + e.data.byteLength, 0);
      await this.evict(key);
      return { ...info, key };
    }
    return this.create(model, ep);
  }

  /** Keep the cache within SESSION_CACHE_MAX sessions and SESSION_CACHE_MAX_BYTES of models (never evicting `keep`). */
  private async evict(keep: string): Promise<void> {
    const bytes = () => [...sessionCache.values()].reduce((n, c) => n + ((c.session as unknown as { glBytes?: number }).glBytes ?? 0), 0);
    while (sessionCache.size > SESSION_CACHE_MAX || (sessionCache.size > 1 && bytes() > SESSION_CACHE_MAX_BYTES)) {
      const [oldest] = [...sessionCache.entries()].filter(([k]) => k !== keep).sort((a, b) => a[1].used - b[1].used);
      if (!oldest) return;
      sessionCache.delete(oldest[0]);
      await this.native(() => oldest[1].session.release()).catch(() => undefined);
    }
  }

  private async create(model: { bytes: Uint8Array; externalData?: { path: string; data: Uint8Array }[] }, ep: ExecutionProviderChoice): Promise<SessionInfo> {
    const o = loadOrt();
    const t0 = performance.now();
    sessionsCreated++;
    const options: ortTypes.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      // No arena and no memory pattern: a tensor's memory goes back when its last reader is done.
      // Most sessions here run once (or once per chunk), so the arena's reuse buys nothing measurable
      // (bench: same times), while it kept a long analysis's intermediates (hundreds of MB) until the
      // session closed — and a warm, cached session would keep them between analyses.
      enableCpuMemArena: false, enableMemPattern: false,
      ...(process.env.GL_ORT_PROFILE ? { enableProfiling: true, profileFilePrefix: process.env.GL_ORT_PROFILE } : {}),
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
   * Run a generated graph once: its session (sessionFor: created, or found again in a warm
   * worker), run, released. `make`/`variant` as for sessionFor. `ms` is the run; `setupMs` the
   * rest (encoding the model, creating or finding and releasing the session).
   */
  async runOnce(proto: ModelProto, ep: ExecutionProviderChoice, feeds: Record<string, WireTensor>, fetches: string[],
    make?: () => ModelProto, variant?: string): Promise<{ outputs: Record<string, WireTensor>; ms: number; setupMs: number }> {
    const t0 = performance.now();
    const session = await this.sessionFor(proto, ep, make, variant);
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
    // A cached session stays open for the next analysis.
    if (this.cachedIds.delete(sessionId)) return;
    if (s) await this.native(() => s.release());
  }

  async releaseAll(): Promise<void> {
    for (const [id, s] of this.sessions) if (!this.cachedIds.has(id)) await this.native(() => s.release()).catch(() => undefined);
    this.sessions.clear();
    this.cachedIds.clear();
  }
}
