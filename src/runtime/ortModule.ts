/**
 * Loading onnxruntime-node, and setting up its process-wide environment ahead of time. Kept apart
 * from ortRuntime.ts so a front end can use it without loading the model codec (protobufjs).
 */
import type * as ortTypes from 'onnxruntime-node';

let ort: typeof ortTypes | undefined;

/** onnxruntime-node, required on first use (its native addon loads then). */
export function loadOrt(): typeof ortTypes {
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

/** An Identity model (float x [1] → y), 108 bytes of ModelProto made with onnx/builder.ts. */
export const WARM_MODEL_BASE64 = 'CAgSDWdyYWRpZW50LWxlbnMaBTAuMS4wOkwKIgoBeBIBeRoOd19uX0lkZW50aXR5XzAiCElkZW50aXR5OgASBHdhcm1aDwoBeBIKCggIARIECgIIAWIPCgF5EgoKCAgBEgQKAggBQgQKABAR';

/**
 * Set up onnxruntime's process-wide environment on this thread: a process's first session costs
 * ~60 ms more than later ones, in any thread, so a front end that is idle while its analysis
 * worker reads the model (the CLI) takes that cost off the worker's path. Never on a thread that
 * could be ended meanwhile (see NativeGuard in ortRuntime.ts). Failures are left for the worker to report.
 */
export async function warmOnnxruntime(): Promise<void> {
  try {
    const o = loadOrt();
    const session = await o.InferenceSession.create(Buffer.from(WARM_MODEL_BASE64, 'base64'), { executionProviders: ['cpu'], logSeverityLevel: 4 });
    await session.release();
  } catch {
    // The analysis creates its own sessions and says what went wrong.
  }
}


/**
 * Whether onnxruntime-node's CUDA execution provider is installed: its shared library beside the
 * native binding (the package ships it only when installed with the CUDA option). Without it,
 * `ep: auto` runs on CPU silently — there is nothing to try and nothing to warn about.
 */
export function cudaProviderInstalled(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require('fs') as typeof import('fs');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const path = require('path') as typeof import('path');
    const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
    const dir = path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    return fs.existsSync(path.join(dir, lib));
  } catch {
    return false;
  }
}
