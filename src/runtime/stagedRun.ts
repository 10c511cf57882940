/**
 * Running a generated graph in bounded native calls (see analysis/stages.ts): stage graphs one
 * after another, long Scans in chunks of steps sized so one call takes about `targetCallMs`,
 * checking for cancellation and reporting progress between calls.
 */
import { TimeLocalRegion, valueInfo } from '../onnx/builder';
import { tensorDims, tensorValues } from '../onnx/model';
import { GraphProto, ModelProto, TensorProto } from '../onnx/proto';
import { GraphStage, planStages, Stage, stageMade, stageReads } from '../analysis/stages';
import { OrtRuntime } from './ortRuntime';
import { ExecutionProviderChoice, leadingStride, ONNX_ELEM_TYPE, sliceLeading, WireData, WireTensor } from './protocol';
import { collectGarbage } from './gc';

export interface StagedRunOptions {
  /** Scans with at least this many steps run in chunks (others run whole). */
  minChunkedSteps: number;
  /** Aim for native calls of about this long. */
  targetCallMs: number;
  /** Node indices of the Scans that may run long. */
  longScans: Set<number>;
  /** Graphs of more nodes run in pieces of at most this many (see analysis/stages.ts). */
  maxStageNodes?: number;
  /** Time-local nodes (GraphBuilder.timeLocalNodes) to run a range of steps at a time; none: whole. */
  timeLocal?: ReadonlyMap<string, TimeLocalRegion>;
  /** About this many bytes of a time-local stage's inputs per call [LOCAL_CHUNK_BYTES]. */
  localChunkBytes?: number;
  checkCancelled: () => void;
  progress: (fraction: number) => void;
}

/** Above this many nodes a graph runs in pieces (onnxruntime's session creation is superlinear in size). */
export const MAX_STAGE_NODES = 1000;

export async function runStaged(runtime: OrtRuntime, ep: ExecutionProviderChoice, proto: ModelProto,
  feeds: Record<string, WireTensor>, fetches: string[], opts: StagedRunOptions): Promise<{ outputs: Record<string, WireTensor>; ms: number; setupMs: number }> {
  const graph = proto.graph;
  const maxStageNodes = opts.maxStageNodes ?? MAX_STAGE_NODES;
  const timeLocal = opts.timeLocal ?? new Map<string, TimeLocalRegion>();
  if (opts.longScans.size === 0 && graph.node.length <= maxStageNodes && timeLocal.size === 0) return runtime.runOnce(proto, ep, feeds, fetches);

  const values = new Map<string, WireTensor>(Object.entries(feeds));
  garbage.limit = timeLocal.size ? GARBAGE_BYTES / 2 : GARBAGE_BYTES;
  const stages = plannedStages(graph, opts.longScans, fetches, maxStageNodes, timeLocal);
  // Each intermediate value is dropped after the last stage that reads it (the peak memory of a
  // long analysis is the values alive at once, not all of them).
  const lastUse = new Map<string, number>();
  stages.forEach((stage, i) => { for (const n of stageReads(stage)) lastUse.set(n, i); });
  const wanted = new Set(fetches);
  let stagesDone = 0;
  const t0 = performance.now();
  let ms = 0;
  for (const stage of stages) {
    opts.checkCancelled();
    if (stage.kind === 'graph') {
      ms += await runGraphStage(runtime, ep, stage, values, opts);
    } else {
      ms += await runScanInChunks(runtime, ep, stage, values, opts, (f) => opts.progress((stagesDone + f) / stages.length));
    }
    // Outputs no later stage reads and nobody fetched go at once; the others after their last reader.
    const dead = [...stageMade(stage).filter((n) => !lastUse.has(n)), ...[...lastUse].filter(([, last]) => last === stagesDone).map(([n]) => n)];
    for (const name of dead) {
      if (wanted.has(name) || !values.has(name)) continue;
      garbage.add(byteSize(values.get(name)));
      values.delete(name);
    }
    opts.progress(++stagesDone / stages.length);
    if (process.env.GL_PROFILE) {
      let bytes = 0;
      for (const v of values.values()) bytes += (v.data as ArrayBufferView).byteLength ?? 0;
      console.error(`[${(process.uptime() * 1000).toFixed(0)}] stage ${stagesDone}/${stages.length} ${stage.kind}: live ${(bytes / 2 ** 20).toFixed(0)} MiB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
      if (process.env.GL_PROFILE === '2') {
        const op = (k: string) => graph.node.find((n) => n.output.includes(k))?.op_type ?? 'input';
        console.error(`  ${[...values].filter(([, v]) => byteSize(v) > 2 ** 20).map(([k, v]) => `${k}${wanted.has(k) ? '*' : ''} (${op(k)}) ${(byteSize(v) / 2 ** 20).toFixed(0)}`).join(', ')}`);
      }
    }
  }
  const outputs: Record<string, WireTensor> = {};
  for (const f of fetches) outputs[f] = values.get(f)!;
  // Everything but the native runs: stage graphs, sessions, slicing and stitching of chunks.
  return { outputs, ms, setupMs: performance.now() - t0 - ms };
}

/**
 * Stage plans by graph object and the options they were planned for: a warm re-run of the same
 * analysis graph plans nothing (and its stages, the same objects, find their sessions by them).
 */
const stagePlans = new WeakMap<GraphProto, Map<string, Stage[]>>();

function plannedStages(graph: GraphProto, longScans: Set<number>, fetches: string[], maxStageNodes: number,
  timeLocal: ReadonlyMap<string, TimeLocalRegion>): Stage[] {
  const key = JSON.stringify([[...longScans].sort((a, b) => a - b), fetches, maxStageNodes, [...timeLocal.keys()]]);
  let plans = stagePlans.get(graph);
  if (!plans) stagePlans.set(graph, plans = new Map());
  let stages = plans.get(key);
  if (!stages) {
    stagesPlanned++;
    plans.set(key, stages = planStages(graph, longScans, fetches, maxStageNodes, timeLocal));
  }
  return stages;
}

let stagesPlanned = 0;

/** Stage plans made in this thread so far (a warm re-run of the same graph makes none). */
export function stagePlanCount(): number {
  return stagesPlanned;
}

/**
 * Arrays this run has let go of (values no later stage reads, chunk slices and outputs): V8 frees
 * their memory only when it next collects, which a small JS heap rarely prompts, so a long run
 * collects whenever they add up to `limit` (a full collection costs milliseconds, more on a warm
 * worker's bigger heap: not after every chunk of a small run). Runs whose time-local work goes in
 * chunks (long sequences) collect twice as often: their peak memory is the target there.
 */
const GARBAGE_BYTES = 64 * 2 ** 20;
const garbage = {
  bytes: 0,
  limit: GARBAGE_BYTES,
  add(n: number): void {
    this.bytes += n;
    if (this.bytes < this.limit) return;
    this.bytes = 0;
    collectGarbage();
  },
};

/** How many time-local stages ran in chunks on their own, and how many Scans ran theirs with their chunks (tests count them). */
export const timeLocalRuns = { chunked: 0, withScan: 0 };

/** Bytes of a time-local stage's inputs per call: intermediates stay a few times that. */
export const LOCAL_CHUNK_BYTES = 2 * 2 ** 20;

/**
 * A graph stage: whole, or a time-local one (stages.ts) a range of steps at a time when its
 * inputs are more than a chunk. The first chunk checks that every per-step output has that many
 * steps; if not the stage runs whole (never a wrong stitch).
 */
async function runGraphStage(runtime: OrtRuntime, ep: ExecutionProviderChoice, stage: GraphStage, values: Map<string, WireTensor>,
  opts: StagedRunOptions): Promise<number> {
  const whole = async () => {
    const r = await runTyped(runtime, ep, stage.proto, values, new Set(), pick(values, stage.inputs), stage.outputs);
    for (const [k, v] of Object.entries(r.outputs)) values.set(k, v);
    return r.ms;
  };
  const T = stage.local?.T ?? 0;
  const inputs = stage.inputs.map((n) => values.get(n)!);
  if (!stage.local || !allOfSteps(inputs, T)) return whole();
  const steps = Math.max(1, Math.floor((opts.localChunkBytes ?? LOCAL_CHUNK_BYTES) / bytesPerStep(inputs, T)));
  if (steps >= T) return whole();
  const session = await typedSession(runtime, ep, stage.proto, values, new Set(stage.inputs));
  timeLocalRuns.chunked++;
  try {
    const summed = stage.summed ?? [];
    const out = new ChunkOutputs(T, stage.outputs.filter((o) => !summed.includes(o)), summed);
    let ms = 0;
    for (let a = 0; a < T; a += steps) {
      opts.checkCancelled();
      const len = Math.min(steps, T - a);
      const feeds: Record<string, WireTensor> = {};
      stage.inputs.forEach((n, i) => garbage.add(byteSize(feeds[n] = sliceLeading(inputs[i], a, len))));
      const r = await runtime.run(session.sessionId, feeds, stage.outputs);
      ms += r.ms;
      if (a === 0 && !out.fits(r.outputs, len)) return ms + await whole();
      out.add(r.outputs, a, len);
    }
    out.finish(values);
    return ms;
  } finally {
    await runtime.release(session.sessionId);
  }
}

/** The outputs of a run in chunks of steps: per-step ones written into arrays of all T steps, sums added up (in float64). */
class ChunkOutputs {
  private readonly full = new Map<string, WireTensor>();
  private readonly sums = new Map<string, { dims: number[]; acc: Float64Array }>();

  constructor(private readonly T: number, private readonly stitched: string[], private readonly summed: string[]) {}

  /** Whether every per-step output of a chunk has its `len` steps. */
  fits(outputs: Record<string, WireTensor>, len: number): boolean {
    return this.stitched.every((n) => outputs[n].dims[0] === len);
  }

  add(outputs: Record<string, WireTensor>, a: number, len: number): void {
    for (const n of this.stitched) {
      const part = outputs[n];
      if (part.dims[0] !== len) throw new Error(`internal error: '${n}' has ${part.dims[0]} steps in a chunk of ${len}`);
      let full = this.full.get(n);
      if (!full) this.full.set(n, full = allocSteps(part, this.T));
      writeSteps(full, part, a);
      garbage.add(byteSize(part));
    }
    for (const n of this.summed) {
      const part = outputs[n].data as Float32Array;
      let s = this.sums.get(n);
      if (!s) this.sums.set(n, s = { dims: outputs[n].dims, acc: new Float64Array(part.length) });
      for (let i = 0; i < part.length; i++) s.acc[i] += part[i];
      garbage.add(part.byteLength);
    }
  }

  finish(values: Map<string, WireTensor>): void {
    for (const [n, t] of this.full) values.set(n, t);
    for (const [n, s] of this.sums) values.set(n, { type: 'float32', dims: s.dims, data: new Float32Array(s.acc) });
  }
}

/** Whether there are tensors and each has the T steps on axis 0. */
function allOfSteps(tensors: (WireTensor | undefined)[], T: number): tensors is WireTensor[] {
  return tensors.length > 0 && tensors.every((v) => v?.dims[0] === T);
}

/** Bytes of one step of these tensors together. */
function bytesPerStep(tensors: WireTensor[], T: number): number {
  return tensors.reduce((n, v) => n + byteSize(v) / T, 0);
}

function byteSize(t: WireTensor | undefined): number {
  return t ? (t.data as ArrayBufferView).byteLength : 0;
}

function pick(values: Map<string, WireTensor>, names: string[]): Record<string, WireTensor> {
  return Object.fromEntries(names.map((n) => {
    const v = values.get(n);
    if (!v) throw new Error(`internal error: stage input '${n}' has no value`);
    return [n, v];
  }));
}

/** A session of the stage's model with its inputs typed from `values` (see typed; reused by a warm re-run of the same stage). */
function typedSession(runtime: OrtRuntime, ep: ExecutionProviderChoice, proto: ModelProto, values: Map<string, WireTensor>, chunked: Set<string>) {
  return runtime.sessionFor(proto, ep, () => typed(proto, values, chunked), typedVariant(proto, values, chunked));
}

/** runtime.runOnce of the stage's model typed from `values`. */
function runTyped(runtime: OrtRuntime, ep: ExecutionProviderChoice, proto: ModelProto, values: Map<string, WireTensor>, chunked: Set<string>,
  feeds: Record<string, WireTensor>, fetches: string[]): Promise<{ outputs: Record<string, WireTensor>; ms: number }> {
  return runtime.runOnce(proto, ep, feeds, fetches, () => typed(proto, values, chunked), typedVariant(proto, values, chunked));
}

/** What typed() writes into the model: the types and shapes of the inputs it types. */
function typedVariant(proto: ModelProto, values: Map<string, WireTensor>, chunked: Set<string>): string {
  return proto.graph.input.filter((v) => !v.type || chunked.has(v.name)).map((v) => {
    const value = values.get(v.name);
    return `${v.name}:${value?.type}:${chunked.has(v.name) ? 'steps,' : ''}${(chunked.has(v.name) ? value?.dims.slice(1) : value?.dims)?.join(',')}`;
  }).join('\n');
}

/**
 * The stage's model with its inputs typed and shaped from the values that will be fed
 * (onnxruntime needs shapes to infer a Scan body's); `chunked` inputs get a symbolic step axis.
 */
function typed(proto: ModelProto, values: Map<string, WireTensor>, chunked: Set<string> = new Set()): ModelProto {
  return {
    ...proto,
    graph: {
      ...proto.graph,
      input: proto.graph.input.map((v) => {
        if (v.type && !chunked.has(v.name)) return v;
        const value = values.get(v.name);
        if (!value) throw new Error(`internal error: stage input '${v.name}' has no value`);
        return valueInfo(v.name, ONNX_ELEM_TYPE[value.type], chunked.has(v.name) ? ['steps', ...value.dims.slice(1)] : value.dims);
      }),
    },
  };
}

async function runScanInChunks(runtime: OrtRuntime, ep: ExecutionProviderChoice, stage: Extract<Stage, { kind: 'scan' }>,
  values: Map<string, WireTensor>, opts: StagedRunOptions, progress: (f: number) => void): Promise<number> {
  for (const t of stage.constants) values.set(t.name!, wireOf(t));
  const m = stage.merged;
  if (m) {
    // With its time-local stages, each chunk computes its own steps of what the Scan reads and of what reads the Scan.
    const sliced = m.sliced.map((n) => values.get(n));
    const T = sliced[0]?.dims[0] ?? 0;
    if (T >= opts.minChunkedSteps && allOfSteps(sliced, T)) {
      timeLocalRuns.withScan++;
      // Chunks small enough that the time-local intermediates stay small too (they grow with the steps per call).
      const maxSteps = Math.max(8, Math.floor(4 * (opts.localChunkBytes ?? LOCAL_CHUNK_BYTES) / bytesPerStep(sliced, T)));
      return scanChunks(runtime, ep, stage, m.proto, m.sliced, m.stitched, m.summed, values, opts, progress, maxSteps);
    }
    // Not run in chunks (or some input lacks the T steps): one after the other, each on its own.
    let ms = m.pre ? await runGraphStage(runtime, ep, m.pre, values, opts) : 0;
    ms += await runScanInChunks(runtime, ep, { ...stage, merged: undefined }, values, opts, progress);
    return ms + (m.post ? await runGraphStage(runtime, ep, m.post, values, opts) : 0);
  }
  const T = values.get(stage.scanInputs[0])!.dims[0];
  if (T < opts.minChunkedSteps) {
    const r = await runTyped(runtime, ep, stage.proto, values, new Set(stage.scanInputs),
      { ...pick(values, [...stage.stateInputs, ...stage.scanInputs]), ...pick(values, stage.outerInputs) }, [...stage.stateOutputs, ...stage.scanOutputs]);
    for (const [k, v] of Object.entries(r.outputs)) values.set(k, v);
    return r.ms;
  }
  return scanChunks(runtime, ep, stage, stage.proto, stage.scanInputs, stage.scanOutputs, [], values, opts, progress);
}

/** The Scan of `stage` (in `proto`, maybe with time-local stages) run in chunks of steps, states carried from chunk to chunk. */
async function scanChunks(runtime: OrtRuntime, ep: ExecutionProviderChoice, stage: Extract<Stage, { kind: 'scan' }>, proto: ModelProto,
  sliced: string[], stitched: string[], summed: string[], values: Map<string, WireTensor>, opts: StagedRunOptions,
  progress: (f: number) => void, maxSteps = Infinity): Promise<number> {
  const T = values.get(sliced[0])!.dims[0];
  const outer = pick(values, stage.outerInputs);
  const fetched = [...stage.stateOutputs, ...stitched, ...summed];
  const session = await typedSession(runtime, ep, proto, values, new Set(sliced));
  try {
    let states = stage.stateInputs.map((n) => values.get(n)!);
    const out = new ChunkOutputs(T, stitched, summed);
    let done = 0;
    let chunk = 16;
    let ms = 0;
    while (done < T) {
      opts.checkCancelled();
      const len = Math.min(chunk, T - done);
      // Steps [a, a + len) in input order; a reverse Scan takes its chunks from the end.
      const a = stage.reverse ? T - done - len : done;
      const feeds: Record<string, WireTensor> = { ...outer };
      stage.stateInputs.forEach((n, i) => { feeds[n] = states[i]; });
      for (const n of sliced) garbage.add(byteSize(feeds[n] = sliceLeading(values.get(n)!, a, len)));
      const r = await runtime.run(session.sessionId, feeds, fetched);
      ms += r.ms;
      states = stage.stateOutputs.map((n) => r.outputs[n]);
      for (const n of stage.stateOutputs) garbage.add(byteSize(r.outputs[n]));
      out.add(r.outputs, a, len);
      done += len;
      progress(done / T);
      // Next chunk sized for about targetCallMs per call.
      const perStep = r.ms / len;
      chunk = Math.max(8, Math.min(T, maxSteps, Math.floor(opts.targetCallMs / Math.max(perStep, 1e-3))));
    }
    stage.stateOutputs.forEach((n, i) => values.set(n, states[i]));
    out.finish(values);
    return ms;
  } finally {
    await runtime.release(session.sessionId);
  }
}

function allocSteps(part: WireTensor, T: number): WireTensor {
  const s = leadingStride(part);
  const Ctor = part.data.constructor as new (n: number) => WireData;
  return { type: part.type, dims: [T, ...part.dims.slice(1)], data: new Ctor(T * s) };
}

function writeSteps(full: WireTensor, part: WireTensor, a: number): void {
  (full.data as Float32Array).set(part.data as Float32Array, a * leadingStride(full));
}

function wireOf(t: TensorProto): WireTensor {
  const data = tensorValues(t, '');
  const type = data instanceof Float32Array ? 'float32' : data instanceof Float64Array ? 'float64' : data instanceof BigInt64Array ? 'int64' : 'int32';
  return { type, dims: tensorDims(t), data: data as WireData };
}
