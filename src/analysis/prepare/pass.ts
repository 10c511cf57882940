/**
 * The preparation passes that rewrite an exported model before its recurrent layers are looked
 * for (STYLE: graph passes, not branches). Each pass is a function (model, context) → notes; the
 * list in index.ts says in which order they run. A pass may replace `model.proto.graph`; it
 * records where each node it moves came from in `context.paths`, so the report can say where a
 * layer sits in the exported model (`layers[].path`).
 */
import type { LoadedModel } from '../../onnx/model';
import type { NodeProto } from '../../onnx/proto';
import type { WireTensor } from '../../runtime/protocol';

export interface PassContext {
  /** The model's inputs as they will be fed. */
  feeds: Record<string, WireTensor>;
  /** Runs the model as it stands and returns the named tensors (conditions, trip counts, folded weights). */
  evaluate(model: LoadedModel, names: string[]): Promise<Record<string, WireTensor>>;
  /** Enclosing [node, graph attribute, …] of nodes moved out of subgraphs, keyed by the moved node. */
  paths: Map<NodeProto, string[]>;
  /** The model's display name for messages. */
  modelName: string;
}

export interface PassResult {
  /** What the pass did, for `warnings`/notes of the report (empty when it changed nothing worth saying). */
  notes: string[];
}

export type Pass = (model: LoadedModel, ctx: PassContext) => Promise<PassResult>;
