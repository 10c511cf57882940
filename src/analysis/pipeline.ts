/**
 * The analysis pipeline: read the model, find its recurrent layers, run it in onnxruntime with
 * taps, run the instrumented forward graph, reduce to metrics, assemble the Report.
 * It runs inside the onnxruntime worker thread (runtime/worker.ts); callers use
 * runtime/analysisWorker.ts's analyzeModel, which never blocks their thread.
 */
import * as fs from 'fs';
import * as path from 'path';
import { externalDataRefs, LoadedModel, loadModel, tensorDims, tensorValues } from '../onnx/model';
import { fileIdentity, printable } from '../onnx/files';
import { LruMap } from './lru';
import { countNonFinite, largestWeight, layerNonFiniteSource, nonFiniteSource } from './nonFinite';
import { defaultMemoryLimit, estimateAnalysisMemory, gateTensorBytes, MemoryLayer, memoryRefusal, TIME_LOCAL_MIN_BYTES } from './memory';
import { AnalysisError, CancelledError, UsageError } from '../onnx/errors';
import { DATA_TYPE_NAMES, DataType, GraphProto, ModelProto, NodeProto, ValueInfoProto, toNumber } from '../onnx/proto';
import { opKey, subgraphsOf, walkNodes } from '../onnx/graphs';
import { attrTensor } from '../onnx/attributes';
import { CALL_INDEX_INPUT, CALLS_NODE, ChunkRole, runCalls, statePairs, StatePair, wrapCalls } from './iterated/streaming';
import { isIterated } from './iterated/spec';
import { prepareModel } from './prepare';
import { evaluateTensors } from './evaluate';
import { ExecutionProviderChoice, ONNX_ELEM_TYPE, WireTensor } from '../runtime/protocol';
import { userOrtMessage } from '../runtime/executionProvider';
import { OrtRuntime } from '../runtime/ortRuntime';
import { runStaged } from '../runtime/stagedRun';
import { InputOptions, resolveInputs } from '../inputs/feeds';
import { gateSaturation, gateThresholds } from '../metrics/saturation';
import { retention } from '../metrics/retention';
import { startSpectra } from './spectra';
import { BusyFlag, startSpectrumThread, SpectrumThread } from '../runtime/spectrumHost';
import {
  DirectionReport, GATE_NAMES, LayerReport, ObjectiveInfo, REPORT_SCHEMA, Report, SpectrumMetrics, Tensor, ValueInfoSummary,
} from '../report/types';
import { describeOps, discoverRecurrentLayers, GATE_COUNT, listRecurrentNodes, RecurrentLayer } from './recurrent';
import { buildRuntimeModel, RuntimeModel } from './modelGraph';
import { checkInnerLayers, iteratedHolding, IteratedPlan, layerRuns, planIterated, planState } from './iterated/plan';
import { declaredBatchAxis, discoverStateLayers } from './iterated/stateLayers';
import { stateLayerReport } from './iterated/stateReport';
import { inlineExternalTensors, materializeForRuntime } from './runtimeFile';
import { buildForwardTapGraph, directionNames } from './forwardTaps';
import { allTensorNames } from './modelGraph';
import { gradientPath, GradientPath } from './backward/gradientPath';
import { AnalysisGraph, buildAnalysisGraph } from './backward/backwardGraph';
import { JacobianSeeds } from './backward/bptt';
import { OBJECTIVE_KINDS, ObjectiveKind, ObjectiveSpec, traceTimeAxis } from './backward/objective';
import { VJP_RULES } from './backward/rules';
import { clippingWhatIf, jacobianDecay, stepNorms } from '../metrics/gradients';
import { weightGradNorms } from '../metrics/weightNorms';
import { jacobianNormsFromRows } from '../metrics/jacobian';
import { SeededRandom } from '../inputs/random';
import { countGraphBuilt, FoundLayers, InstrumentedGraphs, keepWarmPlan, refedSeeds, refillable, shapeSignature, warmPlan, WarmPlan, warmPlanKey } from './warmPlan';
import { convertForOnnx, npyLabel, readNpy, readNpyShape } from '../inputs/npy';

/** Calls analysed for a streaming model when --calls is not given (SPEC v2 §9.1). */
export const DEFAULT_CALLS = 32;

/** Everything that defines one analysis (plain data: it crosses into the worker thread). */
export interface AnalysisSettings extends InputOptions {
  /** Streaming: how many calls (default DEFAULT_CALLS when the model has state pairs). */
  calls?: number;
  /** Streaming: the state pairs, instead of the ones found by name. */
  state?: StatePair[];
  modelPath: string;
  ep: ExecutionProviderChoice;
  saturation: { low: number; high: number };
  /** Inline weights above this many bytes are read by onnxruntime from the model file in place (runtimeFile.ts). */
  inlineWeightLimitBytes?: number;
  /** The objective L (SPEC §3); default sum of the first output. */
  objective?: { kind: ObjectiveKind; output?: string; timeAxis?: number; targetFile?: string };
  /** jacobianNorm: exact, K probes, off, or auto (exact while B·H ≤ EXACT_JACOBIAN_MAX, else AUTO_PROBES probes). */
  jacobian?: JacobianMode;
  /** Streaming analyses of at least this many calls run the model in chunks of calls (default CHUNKED_CALLS_MIN). */
  chunkedCallsMin?: number;
  /** Backward recurrences of at least this many steps run in chunks of bounded native calls. */
  chunkedScanMinSteps?: number;
  /** Analysis graphs of more nodes run in pieces of at most this many (default MAX_STAGE_NODES). */
  maxStageNodes?: number;
  /** Time-local regions run a range of steps at a time from gate tensors of this many bytes (default TIME_LOCAL_MIN_BYTES). */
  timeLocalMinBytes?: number;
  /** Inputs per call of a time-local stage, in bytes (default LOCAL_CHUNK_BYTES). */
  localChunkBytes?: number;
  /** Refuse analyses estimated to need more memory than this (default: half the available memory). */
  maxMemoryBytes?: number;
  /** Files the caller will write the report to: refused when they are one of the model's sidecars. */
  outputPaths?: string[];
  /** Keep the decoded model and (warmPlan.ts) the graphs built for the next analysis in this thread (a warm worker). */
  keepModel?: boolean;
}

/** Subgraphs nested deeper than this make onnxruntime's protobuf parser give up ("protobuf parsing failed"; measured: 31 levels of If load, 32 do not). */
export const MAX_SUBGRAPH_DEPTH = 31;

/** How many levels of subgraphs (If branches, Loop/Scan bodies) nest inside one another in `g`. */
function subgraphDepth(g: GraphProto): number {
  let deepest = 0;
  for (const n of g.node ?? []) for (const sg of subgraphsOf(n)) deepest = Math.max(deepest, 1 + subgraphDepth(sg.graph));
  return deepest;
}

/** The last decoded models of a warm worker, by fileIdentity (a changed file is decoded again). */
const modelCache = new LruMap<string, LoadedModel>(2);

function cachedModel(file: string): LoadedModel {
  let key: string;
  try {
    key = fileIdentity(file);
  } catch {
    return loadModel(file); // its own clear error
  }
  let m = modelCache.get(key);
  if (!m) {
    m = loadModel(file);
    modelCache.set(key, m);
  }
  // The preparation passes replace the proto's graph: each analysis gets its own proto object.
  return { ...m, proto: { ...m.proto } };
}

/**
 * Backward recurrences are chunked when they hold more than this many multiply-adds (about
 * 0.2 s on 2 cores), from this many steps, aiming at native calls of about TARGET_CALL_MS.
 */
export const CHUNKED_MIN_MACS = 2e9;
export const CHUNKED_SCAN_MIN_STEPS = 256;
export const TARGET_CALL_MS = 150;
/** Streaming analyses of at least this many calls run the model in chunks of calls. */
export const CHUNKED_CALLS_MIN = 64;

export type JacobianMode = 'auto' | 'exact' | 'off' | { probes: number };

/** B·H above which the automatic Jacobian mode switches from exact to probes. */
export const EXACT_JACOBIAN_MAX = 64;
export const AUTO_PROBES = 8;

/**
 * The relative error of a K-probe estimate of a Jacobian norm, as reported (jacobianNorm.relError):
 * with Gaussian probes z, ‖Jᵀz‖² estimates ‖J‖²_F with variance 2‖JJᵀ‖²_F ≤ 2‖J‖⁴_F, so the mean of K
 * has a relative standard deviation ≤ √(2/K), and its square root, the norm, about half that:
 * 1/√(2K) — 25% for K = 8, the bound reached when one direction dominates J.
 */
export function probesRelError(K: number): number {
  return 1 / Math.sqrt(2 * K);
}

export interface PipelineHooks {
  /** Progress messages for a status bar or notification. */
  progress: (message: string) => void;
  /** Throws CancelledError once the caller has cancelled. */
  checkCancelled: () => void;
  /** Non-zero while this thread is inside onnxruntime: helper threads stand aside then. */
  busy?: BusyFlag;
}

export async function runAnalysis(opts: AnalysisSettings, runtime: OrtRuntime, hooks: PipelineHooks): Promise<Report> {
  const tStart = performance.now();
  const { progress, checkCancelled } = hooks;
  const { low, high } = opts.saturation;
  if (!(low >= 0 && high <= 1 && low < high)) {
    throw new AnalysisError(`saturation thresholds LOW=${low}, HIGH=${high} must satisfy 0 ≤ LOW < HIGH ≤ 1.`);
  }

  progress('Reading the model');
  const spectrumThread = startSpectrumThread();
  try {
    return await analyse(opts, runtime, hooks, tStart, spectrumThread);
  } finally {
    spectrumThread.cancel();
  }
}

async function analyse(opts: AnalysisSettings, runtime: OrtRuntime, hooks: PipelineHooks, tStart: number, spectrumThread: SpectrumThread): Promise<Report> {
  const { progress, checkCancelled } = hooks;
  const { low, high } = opts.saturation;
  let model = opts.keepModel ? cachedModel(opts.modelPath) : loadModel(opts.modelPath);
  const modelName = printable(path.basename(model.path));
  if (opts.outputPaths?.length) refuseSidecarOutputs(model, opts.outputPaths);
  // The model as exported (the report describes it, not its prepared or wrapped form).
  const info = modelInfo(model);
  const nodes = listRecurrentNodes(model);
  // Streaming state pairs (SPEC v2 §9.1): with them the model is analysed over N calls.
  const pairs = statePairs(model.proto.graph, opts.state);
  const early: string[] = [];
  let calls = opts.calls;
  if (calls !== undefined && !(Number.isInteger(calls) && calls >= 1)) throw new UsageError(`--calls ${calls}: the number of calls must be a positive integer.`);
  if (calls !== undefined && pairs.length === 0) {
    throw new UsageError(`--calls ${calls}: ${modelName} has no state pairs (a graph input fed back from a graph output of the same shape, such as state/stateN or h/hn); name them with --state IN=OUT.`);
  }
  if (pairs.length > 0 && calls === undefined) {
    // Per-call input files say how many calls there are; otherwise the default.
    const fromFiles = callsFromFiles(model, opts.files, new Set(pairs.map((p) => p.input)));
    calls = fromFiles?.calls ?? DEFAULT_CALLS;
    early.push(`${modelName} is a streaming model (state ${pairs.map((p) => `'${printable(p.input)}' → '${printable(p.output)}'`).join(', ')}), analysed over ${calls} calls with the state fed back (${fromFiles ? `one per value on the leading axis of the file for input ${fromFiles.input}` : 'the default'}); choose how many with --calls N.`);
  }
  const depth = subgraphDepth(model.proto.graph);
  if (depth > MAX_SUBGRAPH_DEPTH) {
    throw new AnalysisError(`${modelName} nests subgraphs ${depth} levels deep (If, Loop or Scan inside one another); onnxruntime reads at most ${MAX_SUBGRAPH_DEPTH} levels (its protobuf parser's recursion limit) — re-export the model with the branches flattened.`);
  }
  const allNodes = walkNodes(model.proto.graph);
  const hasLoops = allNodes.some((p) => isIterated(p.node));
  const hasIf = allNodes.some((p) => p.node.op_type === 'If');
  if (nodes.length === 0 && pairs.length === 0 && !hasLoops) {
    throw new AnalysisError(`${modelName} has no LSTM, GRU or RNN node (it contains ${describeOps(opCounts(model.proto.graph))}), no Loop/Scan and no state pair; Gradient Lens analyses models with recurrent layers or recurrent state.`);
  }
  const streaming = calls !== undefined ? { calls, stateInputs: pairs.map((p) => p.input) } : undefined;
  const jacobianMode = opts.jacobian ?? 'auto';
  const limit = opts.maxMemoryBytes ?? defaultMemoryLimit();
  const modelBytes = model.bytes.byteLength;
  // Before random inputs are generated: the estimate from the inputs' shapes (sizes per layer follow after the run).
  const inputs = resolveInputs(model, nodes, opts, ({ bytes, seqLen, batch, seqFixed }) => {
    // Streaming: every layer runs all the calls' steps.
    const steps = seqLen * (streaming?.calls ?? 1);
    checkMemory(nodes.map((n) => ({
      op: n.op, hiddenSize: n.hiddenSize, inputSize: n.inputSize, numDirections: n.numDirections, seqLen: steps, batch,
      seeds: seedCount(jacobianMode, batch, n.hiddenSize),
    })), bytes, modelBytes, limit, opts.maxMemoryBytes !== undefined, jacobianMode, { seqFixed, calls: streaming?.calls });
  }, streaming);
  // A warm worker's graphs of an analysis of the same files and settings (another seed): see warmPlan.ts.
  // (Every file it reads: inputs, target, and the model's external-data files, read afresh by a cold run.)
  const planKey = opts.keepModel
    ? warmPlanKey(opts.modelPath, opts as unknown as Record<string, unknown>, [
      ...Object.values(opts.files), ...(opts.objective?.targetFile ? [opts.objective.targetFile] : []), ...new Set(externalDataRefs(model).map((r) => r.file)),
    ])
    : undefined;
  const plan = warmPlan(planKey, model.bytes);
  // Real exports prepared and their layers found — or, re-run warm, as a plan kept them.
  const found: FoundLayers = plan ?? await findLayers(model, { opts, inputs, runtime, modelName, pairs, streaming, early, checkCancelled });
  model = found.model;
  const { notes, stateLayers } = found;
  const warnings = [...early, ...found.discoveryWarnings];
  const layers = found.layers;
  const poisoned = nonFiniteSource(model, inputs.feeds, layers);
  // (onnxruntime's own layers may turn a NaN into a finite value, so the outputs can look fine: they are not.)
  if (poisoned) warnings.push(`${poisoned}: the values computed from it mean nothing (those that come out NaN or infinite, and the finite ones too, the objective and outputs included), so no verdict is drawn from them; fix the ${poisoned.startsWith('input') ? 'input' : 'model\'s weights'}.`);
  const spectraJob = startSpectra(layers, spectrumThread, hooks.busy, opts.keepModel);
  // onnxruntime would only say "Input W must have shape …"; name the graph input at fault instead.
  for (const layer of layers) {
    const x = inputs.feeds[layer.inputs.X];
    if (x && x.dims.length === 3 && x.dims[2] !== layer.inputSize) {
      const how = inputs.sources[layer.inputs.X] === 'random' ? 'set its symbolic feature dim with --dim' : 'pass a file with that many';
      throw new AnalysisError(`input '${layer.inputs.X}' has ${x.dims[2]} features (axis 2 of shape [${x.dims.join(', ')}]) but ${layer.op} node '${layer.name}' expects ${layer.inputSize}, the input size of its W weight; ${how}.`);
    }
  }
  const tLoaded = performance.now();

  progress('Building the instrumented graphs');
  const built: InstrumentedGraphs = plan ?? buildInstrumented(found, opts, modelName);
  const { objectiveSpec, runtimeModel, gradPath, lowered, iterated } = built;
  checkInnerLayers(layers);
  warnings.push(...gradPath.warnings);
  // What a warm worker keeps of this analysis, when its graphs cannot depend on input values (see warmPlan.ts).
  const keep: WarmPlan | undefined = plan ?? (planKey !== undefined && valueIndependent(found, iterated, streaming, hasIf) ? { ...found, ...built } : undefined);
  const host = runtime;
  let runMs = 0;
  let buildMs = 0;
  try {
    const tBuild0 = performance.now();
    progress('Loading the model in onnxruntime');
    const main = (keep?.mainKey !== undefined ? host.reuse(keep.mainKey) : undefined)
      ?? await host.createSession(materializeForRuntime(model, runtimeModel.proto, opts.inlineWeightLimitBytes), opts.ep).catch((e: Error) => {
        throw e instanceof CancelledError ? e : new AnalysisError(`onnxruntime could not load ${modelName}: ${firstLine(e.message)}`, e.message);
      });
    if (keep) keep.mainKey = main.key;
    if (main.notice) warnings.push(main.notice);
    buildMs = performance.now() - tBuild0 + (tBuild0 - tLoaded);
    checkCancelled();

    progress('Running the model');
    const tapNames = runtimeModel.taps.flatMap((t) => [t.X, t.Y, t.initialH, t.initialC, t.sequenceLens].filter((x): x is string => !!x));
    const bodyTapNames = [...runtimeModel.bodyTaps.values()].flatMap((m) => [...m.values()]);
    const fetches = [...new Set([...runtimeModel.graphOutputs, ...tapNames, ...runtimeModel.valueTaps.values(), ...bodyTapNames])];
    const runMain = (feeds: Record<string, WireTensor>, names: string[]) => host.run(main.sessionId, feeds, names);
    // Many streaming calls run in chunks of calls (state carried between them): no one native call runs long.
    const chunkCalls = streaming && streaming.calls >= (opts.chunkedCallsMin ?? CHUNKED_CALLS_MIN);
    const first = await (chunkCalls
      ? runCalls(runMain, inputs.feeds, fetches, { ...streaming, pairs, perCall: inputs.perCall, perCallFeeds: [...inputs.perCall, ...(inputs.feeds[CALL_INDEX_INPUT] ? [CALL_INDEX_INPUT] : [])] },
        callsRole(runtimeModel, pairs, inputs.perCall), { targetMs: TARGET_CALL_MS, checkCancelled, progress: (f) => progress(`Running the model (${Math.round(100 * f)}% of the calls)`) })
      : runMain(inputs.feeds, fetches)).catch((e: Error) => {
      if (e instanceof CancelledError) throw e;
      throw new AnalysisError(explainRunFailure(e.message, layers, inputs.sources, model.proto.graph) ?? `onnxruntime failed to run ${modelName}: ${firstLine(e.message)}`, e.message);
    });
    runMs += first.ms;
    if (process.env.GL_PROFILE) console.error(`[${(process.uptime() * 1000).toFixed(0)}] first run ${first.ms.toFixed(0)} ms, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
    await host.release(main.sessionId);
    checkCancelled();

    progress('Building the backward pass');
    // The analysis graph is built for the shapes the model actually ran with.
    const tBuild1 = performance.now();
    // Each layer's forward values; a layer in a Loop/Scan body over all iterations' steps (t = iteration·T + step).
    const runs = layerRuns(layers, runtimeModel.taps, first.outputs, modelName);
    const seqLens = runs.map((r) => r.X.dims[0]);
    const batches = runs.map((r) => r.X.dims[1]);
    const lengths = layers.map((layer, k) => {
      const r = runs[k];
      const [T, B] = [seqLens[k], batches[k]];
      const lens = r.sequenceLens ? Array.from(r.sequenceLens.data as Int32Array, Number) : new Array<number>(B).fill(T);
      lens.forEach((len, bi) => {
        if (!(len >= 0 && len <= T)) throw new AnalysisError(`${layer.op} node '${layer.name}': sequence_lens[${bi}] = ${len} is outside 0..${T}; every length must be between 0 and the sequence length.`);
      });
      return lens;
    });
    const padded = lengths.map((lens, k) => lens.some((len) => len < seqLens[k]));
    const values = new Map<string, WireTensor>();
    for (const [tensor, tap] of runtimeModel.valueTaps) values.set(tensor, first.outputs[tap]);
    // Loop/Scan bodies: their values every iteration, their per-iteration shapes and the iteration count.
    for (const [i, plan] of iterated) {
      const taps = runtimeModel.bodyTaps.get(i)!;
      for (const name of taps.values()) values.set(name, first.outputs[name]);
      plan.bind(taps, first.outputs);
    }
    const outputValue = values.get(objectiveSpec.output)!;
    if (outputValue.type !== 'float32') {
      throw new AnalysisError(`output '${objectiveSpec.output}' is ${outputValue.type}; the objective needs a float32 output — choose one with --output.`);
    }
    let timeAxis: number | undefined;
    // Streaming: the output stacks the calls on axis 0 and the objective sums over them (SPEC v2 §9.1).
    const callsPlan = streaming ? [...iterated.values()].find((p) => p.spec.node.name === CALLS_NODE) : undefined;
    const stackedOutput = callsPlan?.spec.scanOuts.find((o) => o.outerOut === objectiveSpec.output);
    let callsObjective: { N: number; innerAxis?: number } | undefined;
    if (streaming && stackedOutput) {
      callsObjective = { N: streaming.calls };
      if (objectiveSpec.kind === 'last') {
        // 'last': the last call, at the last step of its own time axis when it has one.
        // (--time-axis counts the axes of one call's output.)
        const given = opts.objective?.timeAxis;
        const callDims = values.get(objectiveSpec.output)!.dims.slice(1);
        if (given !== undefined && !(given >= -callDims.length && given < callDims.length)) throw new UsageError(`--time-axis ${given}: one call's output '${objectiveSpec.output}' has ${callDims.length} axes (shape [${callDims.join(', ')}]).`);
        const inner = given !== undefined ? (given < 0 ? given + callDims.length : given) : innerTimeAxis(callsPlan!, stackedOutput.bodyOut);
        if (inner !== undefined && callDims[inner] > 1) callsObjective.innerAxis = inner + 1;
        timeAxis = inner;
      }
    } else if (objectiveSpec.kind === 'last') timeAxis = resolveTimeAxis(lowered, values, objectiveSpec, opts.objective?.timeAxis);
    // Whether the output has a time axis of its own (the panel offers 'last step' only then, or asks for one).
    // (A streaming output always has its calls to take the last of.)
    const outputTimeAxis = streaming && stackedOutput ? innerTimeAxis(callsPlan!, stackedOutput.bodyOut) ?? 0 : tracedTimeAxis(lowered, values, objectiveSpec.output);
    const inputBytes = Object.values(inputs.feeds).reduce((n, t) => n + t.data.byteLength, 0);
    checkMemory(layers.map((layer, k) => ({
      op: layer.op, hiddenSize: layer.hiddenSize, inputSize: layer.inputSize, numDirections: layer.numDirections,
      seqLen: seqLens[k], batch: batches[k], seeds: seedCount(jacobianMode, batches[k], layer.hiddenSize),
    })), inputBytes, modelBytes, limit, opts.maxMemoryBytes !== undefined, jacobianMode, { calls: streaming?.calls, seqFixed: inputs.seqFixed });
    const jacobian = jacobianPlan(jacobianMode, layers, batches, opts.seed, warnings);
    // A warm re-run takes the graph built for the same shapes, with the new seeds fed into it.
    const shapes = keep ? shapeSignature({ seqLens, batches, padded, starts: runs.map((r) => !!r.starts), timeAxis, values, seeds: jacobian.seeds }) : '';
    const reused = keep?.graphs?.shapes === shapes ? keep.graphs : undefined;
    const tapGraph = reused?.tapGraph ?? buildForwardTapGraph(layers, seqLens, batches, padded, allTensorNames(lowered), runs.map((r) => !!r.starts));
    for (const [, plan] of iterated) {
      planState(plan, batches[0] ?? inputs.batch, jacobianMode, EXACT_JACOBIAN_MAX, AUTO_PROBES, opts.seed);
      if (plan.state?.probes && jacobianMode === 'auto') {
        warnings.push(`state '${plan.stateLayer!.name}': jacobianNorm is estimated with ${plan.state.probes} random probes because B·H = ${plan.state.B * plan.state.H} > ${EXACT_JACOBIAN_MAX} (each step within about ±${Math.round(100 * probesRelError(plan.state.probes))}%, drawn as a band); pass --jacobian exact for the exact value.`);
      }
    }
    const analysisGraph = reused?.analysisGraph ?? (countGraphBuilt(), withInlineData(model, buildAnalysisGraph({
      graph: lowered, opset: model.opset, layers, layerNodes: runtimeModel.layerNodes, path: gradPath, taps: tapGraph,
      shapes: new Map([...values].map(([k, v]) => [k, v.dims])), elemTypes: new Map([...values].map(([k, v]) => [k, ONNX_ELEM_TYPE[v.type]])),
      seqLens, batches, padded, objective: objectiveSpec, timeAxis, seeds: jacobian.seeds, iterated, calls: callsObjective,
    })));
    if (keep && !reused && refillable(analysisGraph)) keep.graphs = { shapes, tapGraph, analysisGraph };
    buildMs += performance.now() - tBuild1;
    const tapFeeds: Record<string, WireTensor> = {};
    for (const name of analysisGraph.feeds) tapFeeds[name] = values.get(name)!;
    for (const [name, t] of reused ? refedSeeds(analysisGraph, jacobian.seeds) : analysisGraph.fed) tapFeeds[name] = { type: 'float32', dims: t.dims, data: t.data };
    layers.forEach((layer, k) => {
      const r = runs[k];
      const X = r.X;
      const [T, B] = X.dims;
      const D = layer.numDirections;
      const H = layer.hiddenSize;
      const lens = lengths[k];
      const stateDims = r.starts ? [T, D, B, H] : [D, B, H];
      const zeros = () => ({ type: 'float32' as const, dims: stateDims, data: new Float32Array(stateDims.reduce((a, x) => a * x, 1)) });
      const inp = tapGraph.inputs[k];
      tapFeeds[inp.X] = asFloat32(X, `${layer.name} input X`);
      tapFeeds[inp.Y] = asFloat32(r.Y, `${layer.name} output Y`);
      tapFeeds[inp.initialH] = r.initialH ? asFloat32(r.initialH, `${layer.name} initial_h`) : zeros();
      if (inp.initialC) tapFeeds[inp.initialC] = r.initialC ? asFloat32(r.initialC, `${layer.name} initial_c`) : zeros();
      const mask = new Float32Array(T * B);
      for (let ti = 0; ti < T; ti++) for (let bi = 0; bi < B; bi++) mask[ti * B + bi] = ti < lens[bi] ? 1 : 0;
      tapFeeds[inp.mask] = { type: 'float32', dims: [T, B, 1], data: mask };
      directionNames(layer).forEach((dir, d) => {
        const start = new Float32Array(T * B);
        if (r.starts) for (const t0 of r.starts) start.fill(1, t0 * B, (t0 + 1) * B);
        else for (let bi = 0; bi < B; bi++) if (lens[bi] > 0) start[(dir === 'forward' ? 0 : lens[bi] - 1) * B + bi] = 1;
        tapFeeds[inp.start[d]] = { type: 'float32', dims: [T, B, 1], data: start };
      });
    });
    const tapFetches = [
      ...tapGraph.outputs.flat().flatMap((o) => [...Object.values(o.gates), o.hidden, ...(o.cell ? [o.cell] : [])]),
      analysisGraph.objectiveValue,
      ...analysisGraph.inputGrads.map((x) => x.output),
      ...analysisGraph.backward.flat().flatMap((o) => [
        ...Object.values(o).filter((x): x is string => typeof x === 'string'),
        ...Object.values(o.jacobian ?? {}).filter((x): x is string => typeof x === 'string'),
        o.inputGradNorm.max, o.inputGradNorm.scaled,
      ]),
      ...[...analysisGraph.states.values()].flatMap((st) => [...st.grads, ...(st.jacobian ? [st.jacobian.rows, st.jacobian.divisors] : [])]),
    ];
    progress('Backpropagating');
    // Chunk the backward recurrences only when one call could run long (cancelling waits for a
    // call; chunking costs a few sessions): estimated multiply-adds T·N·B·g·H·H over all layers.
    const macs = layers.reduce((sum, layer, k) => {
      const rows = 1 + (jacobian.seeds[k][0] ? jacobian.seeds[k][0]!.count * (layer.op === 'LSTM' ? 2 : 1) : 0);
      return sum + seqLens[k] * rows * batches[k] * GATE_COUNT[layer.op] * layer.hiddenSize * layer.hiddenSize * layer.numDirections;
    }, 0);
    const chunked = opts.chunkedScanMinSteps !== undefined || macs > CHUNKED_MIN_MACS;
    // Reverse Scans over many Loop/Scan iterations (or streaming calls) always run in chunks: any one may be slow.
    const manyIterations = [...iterated.values()].some((p) => p.N >= (opts.chunkedScanMinSteps ?? CHUNKED_SCAN_MIN_STEPS));
    const longScans = new Set([...(chunked ? analysisGraph.recurrenceNodes : []), ...(manyIterations ? analysisGraph.iterationNodes : [])]);
    const gateBytes = Math.max(0, ...layers.map((layer, k) => gateTensorBytes(layer.op, layer.hiddenSize, seqLens[k], batches[k])));
    const timeLocal = gateBytes >= (opts.timeLocalMinBytes ?? TIME_LOCAL_MIN_BYTES) ? tapGraph.builder.timeLocalNodes : undefined;
    const second = await runStaged(host, main.executionProvider, analysisGraph.proto, tapFeeds, tapFetches, {
      longScans, minChunkedSteps: opts.chunkedScanMinSteps ?? CHUNKED_SCAN_MIN_STEPS, targetCallMs: TARGET_CALL_MS, checkCancelled,
      maxStageNodes: opts.maxStageNodes, timeLocal, localChunkBytes: opts.localChunkBytes,
      progress: (f) => progress(`Backpropagating (${Math.round(100 * f)}%)`),
    }).catch((e: Error) => {
      if (e instanceof CancelledError) throw e;
      const err = new Error(`internal error: the analysis graph failed in onnxruntime: ${firstLine(e.message)}`);
      (err as Error & { detail?: string }).detail = e.message;
      throw err;
    });
    runMs += second.ms;
    if (process.env.GL_PROFILE) console.error(`[${(process.uptime() * 1000).toFixed(0)}] second run ${second.ms.toFixed(0)} ms, setup ${second.setupMs.toFixed(0)} ms, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
    buildMs += second.setupMs;
    checkCancelled();

    progress('Computing metrics');
    const tMetrics0 = performance.now();
    // The spectrum thread may still be at work: the other metrics first, then its results.
    const layerReports: LayerReport[] = layers.map((layer, k) => {
      const [T, B] = runs[k].X.dims;
      const H = layer.hiddenSize;
      const lens = lengths[k];
      const valid = new Uint8Array(T * B);
      for (let ti = 0; ti < T; ti++) for (let bi = 0; bi < B; bi++) valid[ti * B + bi] = ti < lens[bi] ? 1 : 0;
      const directions: DirectionReport[] = directionNames(layer).map((dir, d) => {
        const names = tapGraph.outputs[k][d];
        const tensor = (name: string): Tensor => ({ dims: [T, B, H], data: second.outputs[name].data as Float32Array });
        const gates: Record<string, Tensor> = {};
        for (const gate of GATE_NAMES[layer.op]) gates[gate] = tensor(names.gates[gate]);
        const saturationGates: Record<string, ReturnType<typeof gateSaturation>> = {};
        GATE_NAMES[layer.op].forEach((gate) => {
          // The candidate (LSTM cell, GRU hidden) uses the second activation; the other gates the first.
          const act = layer.activations[d][gate === 'cell' || gate === 'hidden' ? 1 : 0];
          const th = gateThresholds(act.name, act.alpha, low, high);
          saturationGates[gate] = {
            low: th.low, high: th.high, activation: act.name, range: th.range,
            ...gateSaturation(gates[gate].data as Float32Array, [T, B, H], valid, th.low, th.high),
          };
        });
        const report: DirectionReport = {
          direction: dir,
          gates,
          hidden: tensor(names.hidden),
          metrics: {
            saturation: { low, high, gates: saturationGates },
            spectrum: undefined as unknown as SpectrumMetrics, // filled in below, once the spectrum thread is done
          },
        };
        if (names.cell) report.cell = tensor(names.cell);
        if (layer.op === 'LSTM') report.metrics.retention = retention(gates.forget.data as Float32Array, [T, B, H], lens, dir);
        // Backward results.
        const bw = analysisGraph.backward[k][d];
        const raw = (name: string, dims: number[]): Tensor => ({ dims, data: second.outputs[name].data as Float32Array });
        report.gradHidden = tensor(bw.gradHidden);
        if (bw.gradCell) report.gradCell = tensor(bw.gradCell);
        const plan = jacobian.modes[k];
        if (bw.jacobian) {
          const j = bw.jacobian;
          const out = (name: string | undefined) => (name ? second.outputs[name].data as Float32Array : undefined);
          const norms = jacobianNormsFromRows({
            T, rows: 1 + j.hiddenSeeds + j.cellSeeds, hiddenSeeds: j.hiddenSeeds, cellSeeds: j.cellSeeds, probes: plan.probes, direction: dir,
            hiddenRows: out(j.hiddenRows)!, stateRows: out(j.stateRows), divisors: out(j.divisors)!, cellRows: out(j.cellRows),
          });
          const f64 = (data: Float64Array): Tensor => ({ dims: [T], data });
          report.jacobianNorm = {
            hidden: f64(norms.hidden), state: f64(norms.state), ...(norms.cell ? { cell: f64(norms.cell) } : {}),
            method: plan.probes ? 'probes' : 'exact', ...(plan.probes ? { probes: plan.probes, relError: probesRelError(plan.probes) } : {}),
          };
        }
        const g = GATE_COUNT[layer.op];
        report.weightGrads = { W: raw(bw.W, [g * H, layer.inputSize]), R: raw(bw.R, [g * H, H]), B: raw(bw.B, [2 * g * H]) };
        if (bw.P) report.weightGrads.P = raw(bw.P, [3 * H]);
        report.metrics.weightGradNorms = weightGradNorms(layer.op, H, report.weightGrads);
        report.metrics.gradNorm = stepNorms(report.gradHidden.data, T);
        const xMax = second.outputs[bw.inputGradNorm.max].data as Float32Array;
        const xScaled = second.outputs[bw.inputGradNorm.scaled].data as Float32Array;
        report.metrics.inputGradNorm = Array.from(xMax, (m, t) => m * xScaled[t]);
        if (report.gradCell) report.metrics.gradCellNorm = stepNorms(report.gradCell.data, T);
        if (report.jacobianNorm) {
          const maxLen = Math.max(...lens);
          if (maxLen > 0) {
            const [lastT, firstT] = dir === 'forward' ? [maxLen - 1, 0] : [0, maxLen - 1];
            const jn = report.jacobianNorm;
            report.metrics.decay = jacobianDecay(jn.state.data, lastT, firstT, 'state');
            if (jn.cell) {
              report.metrics.decayPaths = {
                hidden: jacobianDecay(jn.hidden.data, lastT, firstT, 'hidden'), cell: jacobianDecay(jn.cell.data, lastT, firstT, 'cell'),
              };
            }
          }
        }
        return report;
      });
      return {
        node: layer.name, path: layer.path, nodeIndex: layer.nodeIndex, op: layer.op, direction: layer.direction, layout: layer.layout,
        hiddenSize: H, inputSize: layer.inputSize, seqLen: T, batch: B, attributes: layer.attributes, directions,
        ...(runs[k].iterations ? { iterations: { count: runs[k].iterations!.N, steps: runs[k].iterations!.T, ...(streaming && layer.container?.label === CALLS_NODE ? { calls: true } : {}) } } : {}),
      };
    });
    const outputs: Record<string, Tensor> = {};
    for (const name of runtimeModel.graphOutputs) outputs[name] = toReportTensor(first.outputs[name]);
    const inputGrads: Record<string, Tensor> = {};
    for (const x of analysisGraph.inputGrads) inputGrads[x.input] = toReportTensor(second.outputs[x.output]);
    const inputValues: Record<string, Tensor> = {};
    // (The call index a streaming model without per-call inputs is fed is Gradient Lens's own.)
    for (const [name, t] of Object.entries(inputs.feeds)) if (name !== CALL_INDEX_INPUT) inputValues[name] = toReportTensor(t);
    const reportSources = inputs.sources;
    const clipping = clippingWhatIf(layerReports.flatMap((l) => l.directions.flatMap((d) => Object.values(d.weightGrads ?? {}).map((t) => t.data))));
    const objective: ObjectiveInfo = {
      kind: objectiveSpec.kind, output: objectiveSpec.output, ...(timeAxis !== undefined ? { timeAxis } : {}), outputTimeAxis,
      value: (second.outputs[analysisGraph.objectiveValue].data as Float32Array)[0],
    };
    const spectra = await spectraJob.wait(host, main.executionProvider, checkCancelled);
    layerReports.forEach((l, k) => l.directions.forEach((d, di) => { d.metrics.spectrum = spectra[k][di]; }));
    // State recurrences, after the recurrent nodes.
    for (const plan of iterated.values()) {
      const st = plan.state && analysisGraph.states.get(plan.index);
      if (st) layerReports.push(stateLayerReport(plan, st, first.outputs, second.outputs, { low, high }, !!streaming));
    }
    const metricsMs = performance.now() - tMetrics0;
    const nonFinite = countNonFinite(layerReports, outputs);
    if (nonFinite.count > 0) {
      const cause = poisoned ?? `no input or weight is, so the model overflows on these inputs (${largestWeight(layers) ?? 'check its weights'}) — check the input scale and the weights`;
      warnings.push(`${nonFinite.count} per-step values are NaN or infinite (JSON numbers show them as null), the first in ${nonFinite.first}: ${cause}. Verdicts drawn from them are marked invalid.`);
    }
    // A verdict on a Jacobian computed from non-finite weights, inputs or forward values means nothing.
    layerReports.forEach((l, k) => {
      const r = runs[k];
      // (State recurrences, after the op layers, have no weights or input sequence of their own to blame.)
      const source = r ? layerNonFiniteSource(layers[k], { X: r.X, initialH: r.initialH, initialC: r.initialC }) : undefined;
      for (const d of l.directions) {
        const forward = nonFinite.forward.get(d);
        const bad = source ?? (forward ? `its ${forward} values are NaN or infinite${poisoned ? ` (${poisoned})` : ''}` : undefined);
        if (!bad) continue;
        d.metrics.nonFinite = bad;
        if (d.metrics.decay) d.metrics.decay = { ...d.metrics.decay, verdict: 'invalid', reason: bad };
      }
    });
    const loadMs = tLoaded - tStart;
    if (keep && planKey !== undefined) keepWarmPlan(planKey, keep);
    return {
      schema: REPORT_SCHEMA,
      model: info,
      runtime: {
        executionProvider: main.executionProvider,
        onnxruntime: main.onnxruntimeVersion,
        timingsMs: { load: loadMs, build: buildMs, run: runMs, metrics: metricsMs, total: performance.now() - tStart },
      },
      // The T and B actually analysed: the first recurrent layer's (a fixed T the inputs do not show included).
      input: {
        seqLen: layerReports[0]?.seqLen ?? inputs.seqLen, batch: layerReports[0]?.batch ?? inputs.batch, seed: opts.seed, sources: reportSources, axes: inputs.axes,
        ...(streaming ? { calls: streaming.calls, perCall: inputs.perCall, state: pairs } : {}),
      },
      objective,
      outputs,
      inputValues,
      inputGrads,
      layers: layerReports,
      clipping,
      notes: [...notes],
      warnings,
    };
  } finally {
    await host.releaseAll(); // the spectrum thread is ended by runAnalysis, which started it
  }
}

/**
 * Real exports made analysable, and their recurrent layers and state recurrences found: the If
 * branches these inputs select taken (the first call's), weights computed from constants folded,
 * a streaming model wrapped to run its calls; no layer at all is an error that says why.
 */
async function findLayers(model: LoadedModel, ctx: {
  opts: AnalysisSettings; inputs: ReturnType<typeof resolveInputs>; runtime: OrtRuntime; modelName: string;
  pairs: StatePair[]; streaming: { calls: number; stateInputs: string[] } | undefined; early: string[]; checkCancelled: () => void;
}): Promise<FoundLayers> {
  const { opts, inputs, runtime, modelName, pairs, streaming } = ctx;
  const paths = new Map<NodeProto, string[]>();
  const firstCall = firstCallFeeds(inputs.feeds, inputs.perCall);
  const notes = await prepareModel(model, {
    feeds: firstCall, paths, modelName,
    evaluate: (m, names) => evaluateTensors(m, names, firstCall, runtime, opts.ep, modelName),
  });
  ctx.checkCancelled();
  const stateBatch = new Map(pairs.map((p) => [p.input, declaredBatchAxis(model.proto.graph, p.input, new Set(pairs.map((q) => q.input)))]));
  if (streaming) {
    const moved = wrapCalls(model.proto, { perCall: inputs.perCall, pairs, calls: streaming.calls });
    for (const [from, to] of moved) { const p = paths.get(from); if (p) paths.set(to, p); }
    if (inputs.perCall.length === 0) {
      inputs.feeds[CALL_INDEX_INPUT] = { type: 'int64', dims: [streaming.calls], data: BigInt64Array.from({ length: streaming.calls }, (_, i) => BigInt(i)) };
    }
  }
  const fed = Object.fromEntries(Object.entries(inputs.feeds)
    .filter(([, t]) => t.type === 'float32' || t.type === 'float64')
    .map(([name, t]) => [name, { dims: t.dims, data: t.data as Float32Array }]));
  const discovery = discoverRecurrentLayers(model, fed, paths);
  const stateLayers = discoverStateLayers(model.proto.graph, paths, model.opset, modelName);
  for (const sl of stateLayers) if (sl.streaming) sl.batchAxes = sl.varNames.map((n) => stateBatch.get(n));
  if (discovery.layers.length === 0 && stateLayers.length === 0) {
    if (notes.some((n) => n.startsWith('If '))) {
      // The model has recurrent layers, but not in the branches these inputs take.
      throw new AnalysisError(`${modelName}: no recurrent layer runs for these inputs — ${notes.filter((n) => n.startsWith('If ')).join(' ')} Choose inputs that select the branch with the LSTM/GRU/RNN (e.g. another sample rate), with --input.`);
    }
    const recurrentSeen = ['LSTM', 'GRU', 'RNN'].some((op) => discovery.opCounts.has(op));
    if (recurrentSeen) throw new AnalysisError(`${modelName}: no recurrent layer can be analysed — ${[...ctx.early, ...discovery.warnings].join(' ')}`);
    throw new AnalysisError(`${modelName} has no LSTM, GRU or RNN node (it contains ${describeOps(discovery.opCounts)}) and no state carried from one ${streaming ? 'call' : 'iteration'} to the next; Gradient Lens analyses models with recurrent layers or recurrent state.`);
  }
  return { model, notes, layers: discovery.layers, discoveryWarnings: discovery.warnings, stateLayers };
}

/**
 * The graphs an analysis builds before the model runs: the objective, the model lowered and
 * instrumented with taps (modelGraph.ts), the gradient's path through it and the plans of the
 * Loop/Scan bodies it runs through.
 */
/** The analysis graph with the model's tensors it copied (a head's weight, say) inline even when the model keeps them in external-data files. */
function withInlineData(model: LoadedModel, graph: AnalysisGraph): AnalysisGraph {
  const proto = inlineExternalTensors(model, graph.proto);
  return proto === graph.proto ? graph : { ...graph, proto };
}

function buildInstrumented(found: FoundLayers, opts: AnalysisSettings, modelName: string): InstrumentedGraphs {
  const { model, layers, stateLayers } = found;
  const objectiveSpec = resolveObjective(model, opts);
  let gradPath: GradientPath | undefined;
  let lowered: GraphProto | undefined;
  let iterated = new Map<number, IteratedPlan>();
  countGraphBuilt();
  const runtimeModel = buildRuntimeModel(model, layers, (l) => {
    lowered = l;
    const holds = iteratedHolding(l, layers, model.proto.graph, stateLayers);
    gradPath = gradientPath(l, objectiveSpec.output, (op) => op in VJP_RULES || op === 'Loop' || op === 'Scan', modelName, (i) => holds.has(i));
    iterated = planIterated(l, gradPath, holds, model.opset, modelName);
    return { values: gradPath.needed, bodies: new Map([...iterated].map(([i, p]) => [i, p.taps])) };
  });
  return { objectiveSpec, runtimeModel, gradPath: gradPath!, lowered: lowered!, iterated };
}

/**
 * Whether an analysis's graphs follow from the model file and the settings alone, not from input
 * values: no If (the inputs choose the branch), no Loop/Scan on the gradient path, state
 * recurrence or streaming (their plans bind per-run values), no recurrent weights fed as graph
 * inputs (discovery reads their values). A warm worker keeps only such graphs (warmPlan.ts).
 */
function valueIndependent(found: FoundLayers, iterated: Map<number, IteratedPlan>, streaming: object | undefined, hasIf: boolean): boolean {
  const { model, layers, stateLayers } = found;
  if (hasIf || streaming || stateLayers.length > 0 || iterated.size > 0) return false;
  const graphInputs = new Set(model.proto.graph.input.map((v) => v.name));
  return layers.every((l) => [l.inputs.W, l.inputs.R, l.inputs.B, l.inputs.P].every((n) => !n || !graphInputs.has(n)));
}

/** The time axis of one call's output (a body value of the calls' Scan), traced inside the body; undefined when it has none. */
function innerTimeAxis(plan: IteratedPlan, bodyOutput: string): number | undefined {
  const body = plan.spec.body;
  const consts = new Map(body.initializer.map((t) => [t.name ?? '', t]));
  for (const n of body.node) if (n.op_type === 'Constant') { const t = attrTensor(n, 'value'); if (t) consts.set(n.output[0], t); }
  const found = traceTimeAxis(body, (t) => plan.shapes.get(t) ?? (consts.has(t) ? tensorDims(consts.get(t)!) : undefined), bodyOutput,
    (t) => { const c = consts.get(t); return c ? Array.from(tensorValues(c, '') as ArrayLike<number | bigint>, Number) : undefined; });
  return 'axis' in found ? found.axis : undefined;
}

/**
 * How each value fetched from the wrapped streaming model combines over chunks of calls: the
 * final state is the last chunk's, the initial state and inputs fed once are the first chunk's,
 * everything stacked per call is concatenated.
 */
function callsRole(rm: RuntimeModel, pairs: StatePair[], perCall: string[]): (name: string) => ChunkRole {
  const tapOf = new Map([...rm.valueTaps].map(([tensor, tap]) => [tap, tensor]));
  const stateIn = new Set(pairs.map((p) => p.input));
  const stateOut = new Set(pairs.map((p) => p.output));
  const once = new Set(rm.proto.graph.input.map((v) => v.name).filter((n) => !perCall.includes(n)));
  return (name) => {
    const source = tapOf.get(name) ?? name;
    if (stateOut.has(source)) return 'last';
    if (stateIn.has(source) || once.has(source)) return 'first';
    return 'concat';
  };
}

/** The calls a streaming model's input files imply: a file with one axis more than its input, its leading size. */
function callsFromFiles(model: LoadedModel, files: Record<string, string>, stateInputs: Set<string>): { calls: number; input: string } | undefined {
  for (const v of model.proto.graph.input) {
    const file = files[v.name];
    const rank = v.type?.tensor_type?.shape?.dim.length;
    if (!file || stateInputs.has(v.name) || rank === undefined) continue;
    const shape = readNpyShape(file)?.shape;
    if (shape && shape.length === rank + 1 && shape[0] > 0) return { calls: shape[0], input: `'${printable(v.name)}'` };
  }
  return undefined;
}

/** One call's inputs: per-call inputs [N, ...] give their first slice. */
function firstCallFeeds(feeds: Record<string, WireTensor>, perCall: string[]): Record<string, WireTensor> {
  const out = { ...feeds };
  for (const name of perCall) {
    const t = feeds[name];
    const size = t.dims.slice(1).reduce((a, x) => a * x, 1);
    out[name] = { type: t.type, dims: t.dims.slice(1), data: t.data.slice(0, size) as WireTensor['data'] };
  }
  return out;
}

/** The objective's output (default: the first graph output) and its target values. */
function resolveObjective(model: LoadedModel, opts: AnalysisSettings): ObjectiveSpec & { output: string } {
  const spec = opts.objective ?? { kind: 'sum' as const };
  const outputs = model.proto.graph.output.map((o) => o.name);
  if (outputs.length === 0) throw new AnalysisError(`${printable(path.basename(model.path))} declares no graph outputs, so there is nothing to take an objective on; re-export it with its outputs.`);
  const output = spec.output ?? outputs[0];
  if (!outputs.includes(output)) {
    throw new UsageError(`--output ${output}: the model has no output of that name (its outputs: ${outputs.join(', ')}).`);
  }
  if (!OBJECTIVE_KINDS.includes(spec.kind)) throw new UsageError(`--objective ${spec.kind}: expected one of ${OBJECTIVE_KINDS.join(', ')}.`);
  let target: ObjectiveSpec['target'];
  if (spec.kind === 'target') {
    if (!spec.targetFile) throw new UsageError("--objective target needs --target FILE.npy (the values to compare output '" + output + "' with).");
    const arr = readNpy(spec.targetFile, `--target`);
    target = { dims: arr.shape, data: Float32Array.from(convertForOnnx(arr, DataType.DOUBLE, npyLabel(spec.targetFile)).data as Float64Array) };
  } else if (spec.targetFile) {
    throw new UsageError(`--target is only used with --objective target (the objective is ${spec.kind}).`);
  }
  if (spec.timeAxis !== undefined && spec.kind !== 'last') throw new UsageError(`--time-axis is only used with --objective last (the objective is ${spec.kind}).`);
  return { kind: spec.kind, output, timeAxis: spec.timeAxis, target };
}

/** The output's traced time axis, or null when it has none. */
function tracedTimeAxis(graph: GraphProto, values: Map<string, WireTensor>, output: string): number | null {
  const consts = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const found = traceTimeAxis(graph, (t) => values.get(t)?.dims ?? (consts.has(t) ? tensorDims(consts.get(t)!) : undefined), output,
    (t) => { const c = consts.get(t); return c ? Array.from(tensorValues(c, '') as ArrayLike<number | bigint>, Number) : undefined; });
  return 'axis' in found ? found.axis : null;
}

function resolveTimeAxis(graph: GraphProto, values: Map<string, WireTensor>, spec: ObjectiveSpec & { output: string }, override?: number): number {
  const shape = values.get(spec.output)!.dims;
  if (override !== undefined) {
    const axis = override < 0 ? override + shape.length : override;
    if (!(axis >= 0 && axis < shape.length)) throw new UsageError(`--time-axis ${override}: output '${spec.output}' has ${shape.length} axes (shape [${shape.join(', ')}]).`);
    return axis;
  }
  const consts = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const found = traceTimeAxis(graph, (t) => values.get(t)?.dims ?? (consts.has(t) ? tensorDims(consts.get(t)!) : undefined), spec.output,
    (t) => { const c = consts.get(t); return c ? Array.from(tensorValues(c, '') as ArrayLike<number | bigint>, Number) : undefined; });
  if ('lost' in found) {
    throw new AnalysisError(`--objective last: output '${spec.output}' (shape [${shape.join(', ')}]) has no time axis — ${found.lost}; pass --time-axis K, choose an output with one (--output), or use another objective.`);
  }
  return found.axis;
}

/** Jacobian seed rows per direction of a layer (before an LSTM's doubling for h and c). */
function seedCount(mode: JacobianMode, B: number, H: number): number {
  if (mode === 'off') return 0;
  if (mode === 'exact') return H;
  if (mode === 'auto') return B * H > EXACT_JACOBIAN_MAX ? AUTO_PROBES : H;
  return mode.probes;
}

function checkMemory(layers: MemoryLayer[], inputBytes: number, modelBytes: number, limit: number, explicitLimit: boolean, jacobian: JacobianMode,
  more: { seqFixed?: boolean; calls?: number } = {}): void {
  const estimate = estimateAnalysisMemory(layers, inputBytes, modelBytes);
  const refusal = memoryRefusal(estimate, limit, {
    seqLen: Math.max(...layers.map((l) => l.seqLen)), batch: Math.max(...layers.map((l) => l.batch)), jacobian: jacobian !== 'off', explicitLimit, ...more,
  });
  if (refusal) throw new AnalysisError(refusal);
}

/** The report must never replace one of the model's external-data files (the CLI checks the model and inputs itself). */
function refuseSidecarOutputs(model: LoadedModel, outputs: string[]): void {
  const same = (a: fs.Stats, b: fs.Stats) => a.dev === b.dev && a.ino === b.ino;
  const stats = outputs.map((o) => { try { return fs.statSync(o); } catch { return undefined; } });
  for (const ref of externalDataRefs(model)) {
    let st: fs.Stats;
    try { st = fs.statSync(ref.file); } catch { continue; }
    outputs.forEach((o, i) => {
      if (stats[i] && same(stats[i]!, st)) {
        throw new UsageError(`${printable(o)} is the external-data file '${printable(ref.location)}' of the model; writing the report there would destroy the model's weights — choose another file name.`);
      }
    });
  }
}

/** op_type histogram over the graph and its subgraphs. */
function opCounts(graph: GraphProto): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { node } of walkNodes(graph)) counts.set(opKey(node), (counts.get(opKey(node)) ?? 0) + 1);
  return counts;
}


interface JacobianPlan {
  modes: { probes?: number }[];
  seeds: (JacobianSeeds | undefined)[][];
}

/** Seeds for jacobianNorm per layer and direction: one-hot (exact) or Gaussian probes. */
function jacobianPlan(mode: JacobianMode, layers: RecurrentLayer[], batches: number[], seed: number, warnings: string[]): JacobianPlan {
  const modes: { probes?: number }[] = [];
  const seeds = layers.map((layer, k) => {
    const H = layer.hiddenSize;
    const B = batches[k];
    let probes: number | undefined;
    if (mode === 'off') { modes.push({}); return directionNames(layer).map(() => undefined); }
    if (mode === 'auto') {
      if (B * H > EXACT_JACOBIAN_MAX) {
        probes = AUTO_PROBES;
        warnings.push(`${layer.op} '${layer.name}': jacobianNorm is estimated with ${AUTO_PROBES} random probes because B·H = ${B * H} > ${EXACT_JACOBIAN_MAX} (each step within about ±${Math.round(100 * probesRelError(AUTO_PROBES))}%, drawn as a band); pass --jacobian exact for the exact value (about ${Math.round((1 + 2 * H) / (1 + 2 * AUTO_PROBES))}× the backward pass's work).`);
      }
    } else if (mode !== 'exact') {
      probes = mode.probes;
    }
    modes.push({ probes });
    return directionNames(layer).map((dir) => {
      const count = probes ?? H;
      const make = (what: string) => {
        if (probes) return SeededRandom.forInput(seed, `jacobian/${layer.name}/${dir}/${what}`).normal(count * B * H);
        const oneHot = new Float32Array(H * B * H);
        for (let j = 0; j < H; j++) for (let bi = 0; bi < B; bi++) oneHot[(j * B + bi) * H + j] = 1;
        return oneHot;
      };
      return { count, probes: !!probes, hidden: make('hidden'), cell: layer.op === 'LSTM' ? make('cell') : undefined };
    });
  });
  return { modes, seeds };
}

/** The graph inputs a tensor is computed from (itself when it is one), nearest first. */
function graphInputsUpstream(graph: GraphProto, tensor: string): string[] {
  const inputs = new Set(graph.input.map((v) => v.name));
  const producer = new Map<string, NodeProto>();
  for (const n of graph.node) for (const o of n.output) producer.set(o, n);
  const found: string[] = [];
  const seen = new Set<string>();
  let frontier = [tensor];
  while (frontier.length && seen.size < 4096) {
    const next: string[] = [];
    for (const t of frontier) {
      if (!t || seen.has(t)) continue;
      seen.add(t);
      if (inputs.has(t)) found.push(t);
      else next.push(...(producer.get(t)?.input ?? []));
    }
    frontier = next;
  }
  return found;
}

/** onnxruntime's run errors users cause with their inputs, in words that name the input at fault. */
function explainRunFailure(message: string, layers: RecurrentLayer[], sources: Record<string, string>, graph: GraphProto): string | undefined {
  const seq = /Invalid value\/s in sequence_lens.*seq_length=(\d+)/.exec(message);
  if (seq) {
    const node = /running (?:LSTM|GRU|RNN) node\. Name:'([^']*)'/.exec(message)?.[1];
    const layer = layers.find((l) => l.inputs.sequenceLens && (node ? l.node.name === node : true));
    // The graph input the lengths come from (an export may sort or cast them on the way).
    const input = layer ? graphInputsUpstream(graph, layer.inputs.sequenceLens!)[0] : undefined;
    const from = input && sources[input]?.startsWith('file:') ? ` (${printable(sources[input].slice(5))})` : '';
    return `${input ? `input '${printable(input)}'${from}` : 'sequence_lens'} holds a length outside 0 … ${seq[1]}${layer ? ` for ${layer.op} node '${printable(layer.name)}'` : ''}: every sequence length must be between 0 and the sequence length T = ${seq[1]}; fix the lengths or the sequence's length.`;
  }
  const state = /running (LSTM|GRU|RNN) node\. Name:'([^']*)'.*Input (initial_h|initial_c) must have shape \{([^}]*)\}\. Actual:\{([^}]*)\}/.exec(message);
  if (state) {
    const [, op, node, which, want, got] = state;
    const layer = layers.find((l) => l.node.name === node);
    const tensor = layer ? (which === 'initial_h' ? layer.inputs.initialH : layer.inputs.initialC) : undefined;
    const input = tensor ? graphInputsUpstream(graph, tensor)[0] : undefined;
    const from = input && sources[input]?.startsWith('file:') ? ` (${printable(sources[input].slice(5))})` : '';
    return `${op} node '${printable(node)}': its ${which}${input ? `, from input '${printable(input)}'${from},` : ''} has shape [${got.split(',').join(', ')}] but must be [${want.split(',').join(', ')}] ([num_directions, batch, hidden_size]); give a state of that shape.`;
  }
  const gather = /Gather node.*indices element out of data bounds, idx=(-?\d+) must be within the inclusive range \[(-?\d+),(-?\d+)\]/.exec(message);
  if (gather) return `an index input holds ${gather[1]}, outside ${gather[2]} … ${gather[3]} of the table it looks up (a token id beyond the vocabulary?); pass indices within the table.`;
  return undefined;
}

function firstLine(s: string): string {
  return printable(userOrtMessage(s));
}

function asFloat32(t: WireTensor, what: string): WireTensor {
  if (t.type === 'float32') return t;
  throw new AnalysisError(`${what} is ${t.type}; Gradient Lens analyses float32 recurrent layers — convert the model to float32.`);
}

function toReportTensor(t: WireTensor): Tensor {
  if (t.data instanceof Float32Array || t.data instanceof Float64Array) return { dims: t.dims, data: t.data };
  if (t.data instanceof BigInt64Array) return { dims: t.dims, data: Float64Array.from(t.data, Number) };
  return { dims: t.dims, data: Float64Array.from(t.data as ArrayLike<number>) };
}

export function summarizeValueInfo(v: ValueInfoProto): ValueInfoSummary {
  const tt = v.type?.tensor_type;
  return {
    name: v.name,
    elemType: tt ? DATA_TYPE_NAMES[tt.elem_type ?? 0] ?? String(tt.elem_type) : 'non-tensor',
    shape: tt?.shape ? tt.shape.dim.map((d) => (d.dim_value !== undefined && d.dim_value !== null && toNumber(d.dim_value) > 0
      ? toNumber(d.dim_value) : d.dim_param ? d.dim_param : null)) : null,
  };
}

export function modelInfo(model: LoadedModel): Report['model'] {
  const p: ModelProto = model.proto;
  const inits = new Set(p.graph.initializer.map((t) => t.name));
  return {
    path: model.path,
    irVersion: toNumber(p.ir_version),
    opset: model.opset,
    producer: [p.producer_name, p.producer_version].filter(Boolean).join(' '),
    graphInputs: p.graph.input.filter((v) => !inits.has(v.name)).map(summarizeValueInfo),
    graphOutputs: p.graph.output.map(summarizeValueInfo),
  };
}

export type { RecurrentLayer };
