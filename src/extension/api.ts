/**
 * What the extension's activate() returns: a small API for other extensions and for the
 * extension tests (which run inside a real VS Code extension host).
 */
import type { Report } from '../report/types';

export interface GradientLensApi {
  /** Analyse a model with the current settings, show it in the panel beside, resolve with its report. */
  analyze(modelPath: string): Promise<Report>;
  /** The most recent report of each analysed model path. */
  reports(): ReadonlyMap<string, Report>;
  /** Number of open analysis panels. */
  openPanels(): number;
  /** The panel's last message from its webview ('ready' once loaded), for tests. */
  panelReady(): Promise<void>;
}
