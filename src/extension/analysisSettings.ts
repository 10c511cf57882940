/**
 * The panel's settings as analysis settings (no VS Code API here: unit-tested).
 */
import type { AnalysisSettings, JacobianMode } from '../analysis/pipeline';
import type { PanelSettings } from '../protocol/panel';

export function parseJacobian(text: string): JacobianMode {
  if (text === 'exact' || text === 'off' || text === 'auto') return text;
  const m = /^probes:(\d+)$/.exec(text);
  if (m && Number(m[1]) > 0) return { probes: Number(m[1]) };
  throw new Error(`The Jacobian mode '${text}' is not one of auto, exact, off or probes:K.`);
}

/** Panel settings (from the controls or the configuration) as analysis settings for one model. */
export function toAnalysisSettings(modelPath: string, s: PanelSettings, maxMemoryBytes?: number): AnalysisSettings {
  return {
    maxMemoryBytes,
    modelPath,
    files: s.inputs,
    seqLen: s.seqLen,
    calls: s.calls,
    batch: s.batch,
    seed: s.seed,
    dims: {},
    ep: s.ep,
    saturation: { low: s.saturationLow, high: s.saturationHigh },
    objective: { kind: s.objective, output: s.output, targetFile: s.target, timeAxis: s.objective === 'last' ? s.timeAxis : undefined },
    jacobian: parseJacobian(s.jacobian),
  };
}
