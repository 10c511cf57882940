/**
 * One typed reader over `gradientLens.*` settings (contributes.configuration in package.json).
 */
import * as vscode from 'vscode';
import type { PanelSettings } from '../protocol/panel';
import { parseSize } from '../analysis/memory';

export interface GradientLensConfig {
  executionProvider: 'auto' | 'cpu' | 'cuda';
  sequenceLength: number | null;
  batch: number | null;
  seed: number;
  objective: PanelSettings['objective'];
  saturationLow: number;
  saturationHigh: number;
  jacobian: string;
  /** Bytes, or undefined for the default (half the available memory). */
  maxMemoryBytes: number | undefined;
  codeLensEnabled: boolean;
}

export function readConfig(scope?: vscode.ConfigurationScope): GradientLensConfig {
  const c = vscode.workspace.getConfiguration('gradientLens', scope);
  const positiveOrNull = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null);
  return {
    executionProvider: c.get<'auto' | 'cpu' | 'cuda'>('executionProvider', 'auto'),
    sequenceLength: positiveOrNull(c.get('sequenceLength')),
    batch: positiveOrNull(c.get('batch')),
    seed: c.get<number>('seed', 0),
    objective: c.get<PanelSettings['objective']>('objective', 'sum'),
    saturationLow: c.get<number>('saturation.low', 0.1),
    saturationHigh: c.get<number>('saturation.high', 0.9),
    jacobian: c.get<string>('jacobian', 'auto'),
    maxMemoryBytes: memorySetting(c.get<string>('maxMemory', '')),
    codeLensEnabled: c.get<boolean>('codeLens.enabled', true),
  };
}

function memorySetting(text: string | undefined): number | undefined {
  if (!text || !text.trim()) return undefined;
  try {
    return parseSize(text, 'gradientLens.maxMemory');
  } catch {
    return undefined; // the settings editor flags the pattern; an unreadable value keeps the default
  }
}

export function defaultPanelSettings(config: GradientLensConfig): PanelSettings {
  return {
    seqLen: config.sequenceLength ?? undefined,
    batch: config.batch ?? undefined,
    seed: config.seed,
    objective: config.objective,
    ep: config.executionProvider,
    jacobian: config.jacobian,
    saturationLow: config.saturationLow,
    saturationHigh: config.saturationHigh,
    inputs: {},
  };
}

export { parseJacobian, toAnalysisSettings } from './analysisSettings';
