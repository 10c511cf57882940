/**
 * The public entry point of the engine: analyse one model in a worker thread (the pipeline is
 * analysis/pipeline.ts; the thread handling is runtime/analysisWorker.ts).
 */
export { analyzeModel, endWarmWorker, inspectModel, liveWorkers, workersInNative, WARM_IDLE_MS } from '../runtime/analysisWorker';
export type { AnalyzeOptions, WorkerState } from '../runtime/analysisWorker';
export type { AnalysisSettings } from './pipeline';
