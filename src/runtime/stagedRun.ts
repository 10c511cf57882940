/**
 * Running a generated graph in bounded native calls (see analysis/stages.ts): stage graphs one
 * after another, long Scans in chunks of steps sized so one call takes about `targetCallMs`,
 * checking for cancellation and reporting progress between calls.
 */
import { valueInfo } from '../onnx/builder';
import { encodeModel, tensorDims, tensorValues } from '../onnx/model';
import { ModelProto, TensorProto } from '../onnx/proto';
import { planStages, Stage } from '../analysis/stages';
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
  checkCancelled: () => void;
  progress: (fraction: number) => void;
}

/** Above this many nodes a graph runs in pieces (onnxruntime's session creation is superlinear in size). */
export const MAX_STAGE_NODES = 1000;

export async function runStaged(runtime: OrtRuntime, ep: ExecutionProviderChoice, proto: ModelProto,
  feeds: Record<string, WireTensor>, fetches: string[], opts: StagedRunOptions): Promise<{ outputs: Record<string, WireTensor>; ms: number; setupMs: number }> {
  const graph = proto.graph;
  const maxStageNodes = opts.maxStageNodes ?? MAX_STAGE_NODES;
  if (opts.longScans.size === 0 && graph.node.length <= maxStageNodes) return runtime.runOnce(proto, ep, feeds, fetches);

  const values = new Map<string, WireTensor>(Object.entries(feeds));
  const stages = planStages(graph, opts.longScans, fetches, maxStageNodes);
  // Each intermediate value is dropped after the last stage that reads it (the peak memory of a
  // long analysis is the values alive at once, not all of them).
  const lastUse = new Map<string, number>();
  stages.forEach((stage, i) => {
    const reads = stage.kind === 'graph' ? stage.inputs : [...stage.stateInputs, ...stage.scanInputs, ...stage.outerInputs];
    for (const n of reads) lastUse.set(n, i);
  });
  const wanted = new Set(fetches);
  let stagesDone = 0;
  const t0 = performance.now();
  let ms = 0;
  for (const stage of stages) {
    opts.checkCancelled();
    if (stage.kind === 'graph') {
      const r = await runtime.runOnce(typed(stage.proto, values), ep, pick(values, stage.inputs), stage.outputs);
      ms += r.ms;
      for (const [k, v] of Object.entries(r.outputs)) values.set(k, v);
    } else {
      ms += await runScanInChunks(runtime, ep, stage, values, opts, (f) => opts.progress((stagesDone + f) / stages.length));
    }
    // Outputs no later stage reads and nobody fetched go at once; the others after their last reader.
    const produced = stage.kind === 'graph' ? stage.outputs : [...stage.stateOutputs, ...stage.scanOutputs];
    const dead = [...produced.filter((n) => !lastUse.has(n)), ...[...lastUse].filter(([, last]) => last === stagesDone).map(([n]) => n)];
    for (const name of dead) {
      if (wanted.has(name) || !values.has(name)) continue;
      garbage.add(byteSize(values.get(name)));
      values.delete(name);
    }
    opts.progress(++stagesDone / stages.length);
    if (process.env.GL_PROFILE) {
      let bytes = 0;
      for (const v of values.values()) bytes += (v.data as ArrayBufferView).byteLength ?? 0;
      console.error(`stage ${stagesDone}/${stages.length} ${stage.kind}: live ${(bytes / 2 ** 20).toFixed(0)} MiB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
    }
  }
  const outputs: Record<string, WireTensor> = {};
  for (const f of fetches) outputs[f] = values.get(f)!;
  // Everything but the native runs: stage graphs, sessions, slicing and stitching of chunks.
  return { outputs, ms, setupMs: performance.now() - t0 - ms };
}

/**
 * Arrays this run has let go of (values no later stage reads, chunk slices and outputs): V8 frees
 * their memory only when it next collects, which a small JS heap rarely prompts, so a long run
 * collects whenever they add up to GARBAGE_BYTES (a full collection costs milliseconds: not after
 * every chunk of a small run).
 */
const GARBAGE_BYTES = 64 * 2 ** 20;
const garbage = {
  bytes: 0,
  add(n: number): void {
    this.bytes += n;
    if (this.bytes < GARBAGE_BYTES) return;
    this.bytes = 0;
    collectGarbage();
  },
};

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
        if (v.type) return v;
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
  const T = values.get(stage.scanInputs[0])!.dims[0];
  const proto = typed(stage.proto, values, new Set(stage.scanInputs));
  const outer = pick(values, stage.outerInputs);
  if (T < opts.minChunkedSteps) {
    const r = await runtime.runOnce(proto, ep, { ...pick(values, [...stage.stateInputs, ...stage.scanInputs]), ...outer }, [...stage.stateOutputs, ...stage.scanOutputs]);
    for (const [k, v] of Object.entries(r.outputs)) values.set(k, v);
    return r.ms;
  }
  const session = await runtime.createSession({ bytes: encodeModel(proto) }, ep);
  try {
    let states = stage.stateInputs.map((n) => values.get(n)!);
    const full: (WireTensor | undefined)[] = stage.scanOutputs.map(() => undefined);
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
      for (const n of stage.scanInputs) garbage.add(byteSize(feeds[n] = sliceLeading(values.get(n)!, a, len)));
      const r = await runtime.run(session.sessionId, feeds, [...stage.stateOutputs, ...stage.scanOutputs]);
      ms += r.ms;
      states = stage.stateOutputs.map((n) => r.outputs[n]);
      stage.scanOutputs.forEach((n, i) => {
        const part = r.outputs[n];
        if (!full[i]) full[i] = allocSteps(part, T);
        writeSteps(full[i]!, part, a);
      });
      done += len;
      progress(done / T);
      for (const n of [...stage.stateOutputs, ...stage.scanOutputs]) garbage.add(byteSize(r.outputs[n]));
      // Next chunk sized for about targetCallMs per call.
      const perStep = r.ms / len;
      chunk = Math.max(8, Math.min(T, Math.floor(opts.targetCallMs / Math.max(perStep, 1e-3))));
    }
    stage.stateOutputs.forEach((n, i) => values.set(n, states[i]));
    stage.scanOutputs.forEach((n, i) => values.set(n, full[i]!));
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
