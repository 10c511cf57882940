/**
 * Running a model as it stands for a few of its tensors (If conditions, weights computed from
 * constants) — the preparation passes' one use of onnxruntime, before the analysis proper.
 */
import { AnalysisError, CancelledError } from '../onnx/errors';
import { printable } from '../onnx/files';
import type { LoadedModel } from '../onnx/model';
import type { ModelProto } from '../onnx/proto';
import { userOrtMessage } from '../runtime/executionProvider';
import type { OrtRuntime } from '../runtime/ortRuntime';
import type { ExecutionProviderChoice, WireTensor } from '../runtime/protocol';
import { materializeForRuntime } from './runtimeFile';

function firstLine(s: string): string {
  return printable(userOrtMessage(s));
}

/** Runs `model` as it stands on `feeds` and returns the named tensors (If conditions, constant subgraphs). */
export async function evaluateTensors(model: LoadedModel, names: string[], feeds: Record<string, WireTensor>, runtime: OrtRuntime,
  ep: ExecutionProviderChoice, modelName: string): Promise<Record<string, WireTensor>> {
  const proto: ModelProto = { ...model.proto, graph: { ...model.proto.graph, output: names.map((name) => ({ name })) } };
  const ref = materializeForRuntime(model, proto);
  let session: Awaited<ReturnType<OrtRuntime['createSession']>>;
  try {
    session = await runtime.createSession(ref, ep);
  } catch (e) {
    if (e instanceof CancelledError) throw e;
    throw new AnalysisError(`onnxruntime could not load ${modelName}: ${firstLine((e as Error).message)}`, (e as Error).message);
  }
  try {
    const needed = new Set(session.inputNames);
    const given = Object.fromEntries(Object.entries(feeds).filter(([k]) => needed.has(k)));
    return (await runtime.run(session.sessionId, given, names)).outputs;
  } catch (e) {
    if (e instanceof CancelledError) throw e;
    throw new AnalysisError(`onnxruntime failed to run ${modelName}: ${firstLine((e as Error).message)}`, (e as Error).message);
  } finally {
    await runtime.release(session.sessionId);
  }
}
