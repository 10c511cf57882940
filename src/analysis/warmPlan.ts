/**
 * The editor's warm engine keeps, besides decoded models and sessions, the graphs an analysis
 * built: a re-run with another seed (or other input values of the same shapes) takes the prepared
 * model, its layers, the instrumented model and the analysis graph as they are, feeds the new
 * Jacobian seeds into the graph (FedValue.seedRows) and finds every session by the graphs' keys —
 * no graph is built, encoded or hashed again.
 *
 * Only analyses whose graphs cannot depend on input values are kept: no If (the branch taken is
 * chosen by the inputs), no Loop/Scan on the gradient path or streaming state (their plans bind
 * per-run values), no recurrent weights fed as graph inputs. The analysis graph is reused only
 * when the model ran with the same shapes (checked after its run: a model whose shapes follow its
 * input values gets a new one). Keyed by the model file, its external-data files and every other file the settings name
 * (path, size, mtime, inode) and every setting but the seed.
 */
import { fileIdentity } from '../onnx/files';
import type { LoadedModel } from '../onnx/model';
import type { GraphProto } from '../onnx/proto';
import type { WireTensor } from '../runtime/protocol';
import type { GradientPath } from './backward/gradientPath';
import type { AnalysisGraph } from './backward/backwardGraph';
import { JacobianSeeds, seedRowsData } from './backward/bptt';
import type { ObjectiveSpec } from './backward/objective';
import type { ForwardTapGraph } from './forwardTaps';
import type { RuntimeModel } from './modelGraph';
import type { RecurrentLayer } from './recurrent';
import type { IteratedPlan } from './iterated/plan';
import type { StateLayer } from './iterated/stateLayers';
import { LruMap } from './lru';

/** What an analysis finds before it runs anything: the model as prepared and its layers. */
export interface FoundLayers {
  /** The model as prepared (If branches taken, weights folded; a streaming model wrapped). */
  model: LoadedModel;
  notes: string[];
  layers: RecurrentLayer[];
  discoveryWarnings: string[];
  /** State recurrences (a kept plan has none). */
  stateLayers: StateLayer[];
}

/** The graphs it builds from them before the model runs (pipeline.ts, buildInstrumented). */
export interface InstrumentedGraphs {
  objectiveSpec: ObjectiveSpec & { output: string };
  runtimeModel: RuntimeModel;
  gradPath: GradientPath;
  lowered: GraphProto;
  /** Plans of the Loop/Scan bodies the gradient runs through (a kept plan has none). */
  iterated: Map<number, IteratedPlan>;
}

export interface WarmPlan extends FoundLayers, InstrumentedGraphs {
  /** The instrumented model's session key, once it has one. */
  mainKey?: string;
  /** The analysis graph, for the shapes in `shapes` (see shapeSignature). */
  graphs?: { shapes: string; tapGraph: ForwardTapGraph; analysisGraph: AnalysisGraph };
}

/** Plans kept (as many as decoded models: the editor's re-runs go back and forth between a few). */
const plans = new LruMap<string, WarmPlan>(2);

let graphsBuilt = 0;

/** Graphs built in this thread so far: instrumented models and analysis graphs (a warm re-run builds none). */
export function graphBuildCount(): number {
  return graphsBuilt;
}

/** Count one graph built (pipeline.ts, where it builds one). */
export function countGraphBuilt(): void {
  graphsBuilt++;
}

/**
 * The key of an analysis's plan: the files it reads (as the model cache knows them: a changed
 * file is another key; a value given in place of a file, such as a scalar, is in the settings)
 * and its settings but the seed.
 */
export function warmPlanKey(modelPath: string, settings: Record<string, unknown>, files: string[]): string {
  const stats = [modelPath, ...files].map((f) => {
    try {
      return fileIdentity(f);
    } catch {
      return '';
    }
  });
  const { seed: _seed, ...rest } = settings;
  return JSON.stringify([stats, rest]);
}

/**
 * The plan kept under this key, if it was made from the model this analysis decoded (`bytes`: the
 * decoded-model cache's; a file rewritten between its decoding and the key's stat is another model).
 */
export function warmPlan(key: string | undefined, bytes: Uint8Array): WarmPlan | undefined {
  if (key === undefined) return undefined;
  const p = plans.get(key);
  if (p && p.model.bytes !== bytes) { plans.delete(key); return undefined; }
  return p;
}

export function keepWarmPlan(key: string, plan: WarmPlan): void {
  plans.set(key, plan);
}

/** What the analysis graph is built for, from the model's run: a plan's graph serves a run only with the same signature. */
export function shapeSignature(parts: {
  seqLens: number[]; batches: number[]; padded: boolean[]; starts: boolean[]; timeAxis?: number;
  values: Map<string, WireTensor>; seeds: (JacobianSeeds | undefined)[][];
}): string {
  return JSON.stringify([
    parts.seqLens, parts.batches, parts.padded, parts.starts, parts.timeAxis ?? null,
    [...parts.values].map(([k, v]) => [k, v.type, v.dims]),
    parts.seeds.map((l) => l.map((s) => (s ? [s.count, s.probes, !!s.cell] : null))),
  ]);
}

/**
 * The reused graph's fed values for these seeds: every fed value must come from seed rows (the
 * plan is not kept otherwise). The seeds' layout matches (same signature).
 */
export function refedSeeds(graph: AnalysisGraph, seeds: (JacobianSeeds | undefined)[][]): Map<string, { dims: number[]; data: Float32Array }> {
  const out = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const [name, v] of graph.fed) {
    const o = v.seedRows;
    const s = o && seeds[o.layer]?.[o.direction];
    const block = s && (o.part === 'hidden' ? s.hidden : s.cell);
    if (!o || !block) throw new Error(`internal error: the reused analysis graph's input '${name}' has no seeds to refill it`);
    out.set(name, { dims: v.dims, data: seedRowsData(v.dims, o.row, block) });
  }
  return out;
}

/** Whether an analysis graph's fed values can all be refilled (see refedSeeds). */
export function refillable(graph: AnalysisGraph): boolean {
  return [...graph.fed.values()].every((v) => v.seedRows !== undefined);
}
