/**
 * The typed protocol between the extension host and the analysis panel (a webview, or the
 * standalone HTML report). Shared by both sides: no Node or VS Code imports here. Bulk numbers
 * travel inside the Report as typed arrays (postMessage transfers them), never as JSON lists.
 */
import type { Report, ValueInfoSummary } from '../report/types';
import type { TensorPiece, TensorPreview } from './pieces';

/** What the panel's controls set; the host turns it into analysis settings. */
export interface PanelSettings {
  seqLen?: number;
  /** Streaming models: consecutive calls analysed (undefined: the default, 32). */
  calls?: number;
  batch?: number;
  seed: number;
  objective: 'sum' | 'mean' | 'l2' | 'last' | 'target';
  /** Graph output for the objective; undefined = the first. */
  output?: string;
  /** 'last step': the output's time axis, when it has none of its own (undefined: traced). */
  timeAxis?: number;
  ep: 'auto' | 'cpu' | 'cuda';
  /** 'auto' | 'exact' | 'off' | 'probes:K' */
  jacobian: string;
  saturationLow: number;
  saturationHigh: number;
  /** Graph input name → .npy path. */
  inputs: Record<string, string>;
  /** .npy for the 'target' objective. */
  target?: string;
}

export interface PanelModel {
  /** A short label (the file name) and the model's path. */
  label: string;
  path: string;
  report: Report;
}

export type HostToPanel =
  /**
   * A result. With `pending`, a big one sent in two phases (pieces.ts): the models are lean (their
   * bulk tensors are PendingTensors) and `pieces` messages with the same token bring the rest.
   */
  | { kind: 'show'; models: PanelModel[]; settings: PanelSettings; pending?: { token: number; bytes: number } }
  /** Between `show` and the first `pieces`: the heatmaps' previews, decimated on the host (pieces.ts HeatPreview). */
  | { kind: 'previews'; token: number; previews: TensorPreview[] }
  | { kind: 'pieces'; token: number; pieces: TensorPiece[] }
  | { kind: 'busy'; message: string }
  /**
   * The analysis failed. Before any result was shown, `settings` and the model's `inputs` let the
   * panel offer its settings (an input to choose, a sequence length to change) all the same.
   */
  | { kind: 'failed'; message: string; settings?: PanelSettings; inputs?: ValueInfoSummary[] }
  | { kind: 'inputPicked'; input: string; file: string }
  /** The answer to `pickTarget`: the .npy chosen for the 'target' objective. */
  | { kind: 'targetPicked'; file: string }
  /** Send the bulk tensors of result `token` back (an export needs them; the host let its copy go, see `piecesHeld`). */
  | { kind: 'sendBulk'; token: number };

export type PanelToHost =
  | { kind: 'ready' }
  | { kind: 'rerun'; settings: PanelSettings }
  | { kind: 'pickInput'; input: string }
  /** Choose the .npy of the 'target' objective; the host answers with `targetPicked`. */
  | { kind: 'pickTarget' }
  | { kind: 'export'; format: 'html' | 'json' }
  /**
   * A chart's image export: webviews cannot download, so the host asks where to save it.
   * `dataUrl` is "data:image/png;base64,…"; `name` a suggested file name ("gradient-flow-lstm.png").
   */
  | { kind: 'saveImage'; name: string; dataUrl: string }
  | { kind: 'showLog' }
  /** Stop sending the bulk tensors of the shown result (the heatmaps then stay unloaded). */
  | { kind: 'stopPieces'; token: number }
  /**
   * Send `count` more messages of result `token`'s bulk tensors: the panel asks once it has drawn the
   * lean report, then one more for each message it has taken in (so at most a few are on their way,
   * and the workbench and the extension host never queue the whole bulk).
   */
  | { kind: 'piecesWanted'; token: number; count: number }
  /** Every bulk tensor of result `token` has arrived and is kept: the host may let its own copy go. */
  | { kind: 'piecesHeld'; token: number }
  /** The answer to `sendBulk`, in several messages (pieces.ts); `bulkGone` when the panel no longer holds that result. */
  | { kind: 'bulk'; token: number; pieces: TensorPiece[] }
  | { kind: 'bulkGone'; token: number };

/** The persisted state of a panel (WebviewPanelSerializer restores it after a reload). */
export interface PanelState {
  modelPaths: string[];
  settings: PanelSettings;
  /** Whether the settings drawer is open. */
  drawerOpen?: boolean;
}
