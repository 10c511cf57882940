/** Execution-provider messages shared by the worker and the hosts. */

export const CUDA_INSTALL_HINT =
  'to use an NVIDIA GPU, install CUDA 12 and cuDNN 9, then fetch the CUDA provider for onnxruntime-node with '
  + "'ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install' "
  + '(or copy libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so from the '
  + 'Microsoft.ML.OnnxRuntime.Gpu.Linux package of the same version into node_modules/onnxruntime-node/bin/napi-v6/linux/x64/); '
  + "or run with '--ep cpu'";

export function cudaUnavailableMessage(reason: string): string {
  return `the CUDA execution provider could not be loaded (${reason.slice(0, 300)}); ${CUDA_INSTALL_HINT}.`;
}

/**
 * onnxruntime's error text as a user reads it: its first line, without the "[ONNXRuntimeError] :
 * N : CODE :" prefix, C++ source locations ("/onnxruntime_src/…/reshape_helper.h:91") and the
 * C++ signature that follows them, nor an ORT_ENFORCE's "… was false." condition. The raw text
 * stays available for logs and --verbose.
 */
export function userOrtMessage(raw: string): string {
  let s = raw.split('\n').find((l) => l.trim() !== '') ?? raw;
  s = s.replace(/\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : /g, '');
  // A source location, then (optionally) a C++ signature up to its closing parenthesis (and const).
  s = s.replace(/\/?(?:[\w.+-]+\/)+[\w.+-]+\.(?:cc|cpp|cxx|h|hpp|cu):\d+\s+(?:(?:[\w:~<>,*&\s]+?)\((?:[^()]|\([^()]*\))*\)(?:\s*const)?\s*)?/g, '');
  s = s.replace(/^[^.]*? was false\.\s*/, '').replace(/Status Message: [^.]*? was false\.\s*/, 'Status Message: ');
  return s.replace(/\s+/g, ' ').trim();
}
