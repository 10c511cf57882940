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
