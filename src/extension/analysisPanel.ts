/**
 * The analysis panel beside the code: a webview that shows one or several models' reports,
 * re-runs them with its controls, and survives a window reload (WebviewPanelSerializer).
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { analyzeModel, endWarmWorker } from '../analysis/analyze';
import { CancelledError } from '../onnx/errors';
import type { HostToPanel, PanelModel, PanelSettings, PanelState, PanelToHost } from '../protocol/panel';
import type { Report, ValueInfoSummary } from '../report/types';
import { loadModel } from '../onnx/model';
import { feedableInputs } from '../inputs/feeds';
import { summarizeValueInfo } from '../analysis/pipeline';
import { panelHtml, webviewAssetsRoot } from './webviewHtml';
import { readConfig, toAnalysisSettings } from './settings';
import { ReportStore } from './reportStore';
import { panelWording } from '../protocol/wording';
import { bulkBytes, PieceCollector, pieceMessages, previewsOf, splitModels, type TensorPreview } from '../protocol/pieces';
import { collectGarbage } from '../runtime/gc';
import type { InputOffers } from './inputOffers';

export const PANEL_VIEW_TYPE = 'gradientLens.analysis';
/**
 * After a result with more per-step data than this, the worker does not stay warm: what it holds
 * after so long an analysis (onnxruntime's sessions, its heap) outweighs the ~0.3 s a cold start costs.
 */
const WARM_KEEP_MAX_BYTES = 256 * 2 ** 20;
/** An export waits this long for the panel's next piece of its per-step tensors before giving up. */
const FETCH_IDLE_MS = 30_000;

export interface PanelDeps {
  extensionUri: vscode.Uri;
  log: vscode.LogOutputChannel;
  store: ReportStore;
  /** Export the models; `full` gives them with every per-step tensor (the panel may hold them instead of the host). */
  exportReport: (models: PanelModel[], format?: 'html' | 'json' | 'json+tensors', full?: () => Promise<PanelModel[]>, objectiveTarget?: string) => Promise<string[] | undefined>;
  /** Input files beside the models: remembered choices, and offers after a run on random inputs. */
  inputs?: InputOffers;
  /** Whether a chosen output file may be written (never the model, its inputs or weights). */
  safeTarget: (target: vscode.Uri, models: readonly PanelModel[], objectiveTarget?: string) => boolean;
}

/** A notice said once per session: CUDA installed but unusable is worth one mention, not one per run. */
const CUDA_NOTICE = /CUDA execution provider is installed but could not be used/;
let cudaNoticeShown = false;

function onceOnly(report: Report): Report {
  if (!report.warnings.some((w) => CUDA_NOTICE.test(w))) return report;
  if (!cudaNoticeShown) { cudaNoticeShown = true; return report; }
  return { ...report, warnings: report.warnings.filter((w) => !CUDA_NOTICE.test(w)) };
}

export class AnalysisPanel implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private ready: Promise<void>;
  private markReady!: () => void;
  private models: PanelModel[] = [];
  private running: AbortController | undefined;
  /** The result being sent to the panel (a newer one, or Stop, ends an older stream of pieces). */
  private delivery = 0;
  /** The lean copy of a big result being delivered: the host keeps only it once the panel holds the rest (`piecesHeld`). */
  private leanOf: { token: number; lean: PanelModel[] } | undefined;
  /** The result whose bulk tensors only the panel holds, and an export's request for them back. */
  private heldByPanel: number | undefined;
  private fetching: { token: number; collector: PieceCollector; models: PanelModel[]; done: (m: PanelModel[] | Error) => void; timer: NodeJS.Timeout } | undefined;
  /** Messages of pieces the panel has asked for and not been sent yet (`piecesWanted`), and the sender waiting for them. */
  private credit: { token: number; count: number; wake?: () => void } = { token: 0, count: 0 };
  private disposed = false;
  private readonly closed = new vscode.EventEmitter<void>();
  readonly onDidClose = this.closed.event;

  constructor(readonly panel: vscode.WebviewPanel, private readonly deps: PanelDeps, private state: PanelState) {
    this.ready = new Promise((resolve) => { this.markReady = resolve; });
    panel.webview.options = { enableScripts: true, localResourceRoots: [webviewAssetsRoot(deps.extensionUri)] };
    panel.iconPath = vscode.Uri.joinPath(deps.extensionUri, 'media', 'gradient-lens.svg');
    panel.webview.html = panelHtml(panel.webview, deps.extensionUri, panel.title);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: PanelToHost) => void this.onMessage(m)),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  static create(deps: PanelDeps, state: PanelState): AnalysisPanel {
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, titleFor(state.modelPaths),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, { enableScripts: true, retainContextWhenHidden: true,
        localResourceRoots: [webviewAssetsRoot(deps.extensionUri)] });
    return new AnalysisPanel(panel, deps, state);
  }

  /** The .npy of the 'target' objective in the panel's settings (an export must not replace it). */
  get objectiveTarget(): string | undefined {
    return this.state.settings.target;
  }

  get modelPaths(): readonly string[] {
    return this.state.modelPaths;
  }

  get currentModels(): readonly PanelModel[] {
    return this.models;
  }

  /** Resolves once the webview has loaded its script and said 'ready'. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  reveal(): void {
    this.panel.reveal(vscode.ViewColumn.Beside, true);
  }

  /** Analyse the panel's models with `settings` (or its current ones), with a cancellable progress notification. */
  async run(given: PanelSettings = this.state.settings): Promise<Report[]> {
    this.running?.abort();
    const controller = new AbortController();
    this.running = controller;
    // Inputs the user chose before for these models (a .npy beside the model, remembered per model).
    const settings = this.deps.inputs ? this.deps.inputs.apply(this.state.modelPaths, given) : given;
    this.state = { ...this.state, settings };
    const paths = this.state.modelPaths;
    try {
      const reports = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Gradient Lens'), cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => controller.abort());
          const out: Report[] = [];
          for (const [i, modelPath] of paths.entries()) {
            const label = path.basename(modelPath);
            const prefix = paths.length > 1 ? `${label} (${i + 1}/${paths.length}): ` : `${label}: `;
            void this.post({ kind: 'busy', message: vscode.l10n.t('Analysing {0}', label) });
            this.deps.log.info(`analysing ${modelPath}`);
            const report = await analyzeModel({
              ...toAnalysisSettings(modelPath, settings, readConfig(vscode.Uri.file(modelPath)).maxMemoryBytes), signal: controller.signal,
              // A warm engine: a re-run (another seed, other inputs) reuses the thread, the decoded model and the sessions.
              warm: true,
              onProgress: (message) => progress.report({ message: prefix + message }),
            });
            this.deps.log.info(`${label}: done in ${report.runtime.timingsMs.total.toFixed(0)} ms on ${report.runtime.executionProvider}`);
            for (const w of report.warnings) this.deps.log.warn(`${label}: ${w}`);
            // The store holds what the panel shows (the same object: releasing its tensors finds it).
            const shown = onceOnly(report);
            this.deps.store.set(modelPath, shown);
            out.push(shown);
          }
          return out;
        },
      );
      this.models = reports.map((report, i) => ({ label: path.basename(paths[i]), path: paths[i], report }));
      if (bulkBytes(this.models) > WARM_KEEP_MAX_BYTES) void endWarmWorker();
      await this.deliver(this.models, settings);
      // Random inputs, and a .npy beside the model that fits: offer it (once per model and input).
      void this.deps.inputs?.offer(this.models).then((use: Record<string, string> | undefined) => { if (use) void this.run({ ...settings, inputs: { ...settings.inputs, ...use } }).catch(() => undefined); });
      return reports;
    } catch (e) {
      if (e instanceof CancelledError || controller.signal.aborted) {
        await this.post({ kind: 'failed', message: vscode.l10n.t('The analysis was cancelled.') });
        throw new CancelledError();
      }
      const message = (e as Error).message;
      this.deps.log.error(message);
      // The model's inputs, so that the panel's settings can fix what failed (an input to choose) without a result yet.
      await this.post({ kind: 'failed', message, settings, inputs: this.models.length ? undefined : graphInputsOf(paths[0]) });
      void vscode.window.showErrorMessage(vscode.l10n.t('Gradient Lens: {0}', panelWording(message)), vscode.l10n.t('Show Log')).then((a) => {
        if (a) this.deps.log.show();
      });
      throw e;
    } finally {
      if (this.running === controller) this.running = undefined;
    }
  }

  /** Show reports already computed (e.g. from the store) without re-running. */
  async show(models: PanelModel[]): Promise<void> {
    this.models = models;
    await this.deliver(models, this.state.settings);
  }

  /**
   * Sends a result. A big one goes in two phases (protocol/pieces.ts): the lean report first, so
   * the verdicts and the flow chart paint at once, then its bulk tensors in pieces of at most
   * PIECE_BYTES, in the background; a newer result or the panel's Stop ends the old stream.
   * Resolves once the first phase is posted.
   */
  private async deliver(models: PanelModel[], settings: PanelSettings): Promise<void> {
    const token = ++this.delivery;
    this.heldByPanel = undefined;
    this.fetching?.done(new Error('a newer result replaced the one being exported'));
    // An older result's sender may be waiting for the panel to ask: let it see it is superseded
    // (it would keep that result's tensors alive).
    this.credit.wake?.();
    this.credit = { token, count: 0 };
    const split = splitModels(models);
    this.leanOf = split ? { token, lean: split.lean } : undefined;
    if (!split) {
      await this.post({ kind: 'show', models, settings });
      return;
    }
    await this.post({ kind: 'show', models: split.lean, settings, pending: { token, bytes: split.bytes } });
    this.deps.log.info(`sent the report to the panel; its ${(split.bytes / 1e6).toFixed(0)} MB of per-step tensors follow in pieces`);
    void (async () => {
      // The heatmaps' previews first, a tensor a task (tens of ms each at T = 10 000, H = 1024);
      // without them (a failure here) the heatmaps wait for the data, which still come.
      try {
        const previews: TensorPreview[] = [];
        for (const p of previewsOf(split)) {
          previews.push(p);
          await new Promise((resolve) => setImmediate(resolve));
          if (token !== this.delivery || this.disposed) return;
        }
        if (previews.length) await this.post({ kind: 'previews', token, previews });
      } catch (e) {
        this.deps.log.warn(`the heatmaps' previews could not be made; they will be drawn when the data arrive: ${(e as Error).message}`);
      }
      for (const pieces of pieceMessages(split.bulk)) {
        // As the panel asks (see piecesWanted): it has painted the lean report first.
        while (this.credit.token === token && this.credit.count === 0 && token === this.delivery && !this.disposed) {
          await new Promise<void>((resolve) => { this.credit.wake = resolve; });
        }
        if (token !== this.delivery || this.disposed) return;
        this.credit.count--;
        await this.post({ kind: 'pieces', token, pieces });
      }
    })().catch((e: unknown) => this.deps.log.warn(`sending the per-step tensors to the panel failed: ${(e as Error).message}`));
  }

  private async post(message: HostToPanel): Promise<void> {
    await this.ready;
    await this.panel.webview.postMessage(message);
  }

  private async onMessage(m: PanelToHost): Promise<void> {
    switch (m.kind) {
      case 'ready':
        this.markReady();
        return;
      case 'stopPieces':
        // (A Stop meant for an older result must not end a newer one's delivery.)
        if (m.token !== this.delivery) return;
        this.delivery++;
        this.leanOf = undefined;
        this.credit.wake?.();
        return;
      case 'piecesWanted':
        if (m.token !== this.credit.token) return;
        this.credit.count += m.count;
        this.credit.wake?.();
        return;
      case 'piecesHeld':
        this.release(m.token);
        return;
      case 'bulk':
      case 'bulkGone': {
        const f = this.fetching;
        if (!f || f.token !== m.token) return;
        if (m.kind === 'bulkGone') { f.done(new Error('the panel no longer holds that result')); return; }
        try {
          f.collector.add(m.pieces);
        } catch (e) {
          f.done(e as Error);
          return;
        }
        f.timer.refresh();
        if (f.collector.done) f.done(f.models);
        return;
      }
      case 'rerun':
        await this.run(m.settings).catch(() => undefined);
        return;
      case 'pickInput': {
        const picked = await vscode.window.showOpenDialog({
          canSelectMany: false, filters: { [vscode.l10n.t('NumPy arrays')]: ['npy'] },
          title: vscode.l10n.t("Values for input '{0}'", m.input),
        });
        if (picked?.[0]) await this.post({ kind: 'inputPicked', input: m.input, file: picked[0].fsPath });
        return;
      }
      case 'pickTarget': {
        const picked = await vscode.window.showOpenDialog({
          canSelectMany: false, filters: { [vscode.l10n.t('NumPy arrays')]: ['npy'] },
          title: vscode.l10n.t('Target values for the objective (a .npy shaped like the output)'),
        });
        if (picked?.[0]) await this.post({ kind: 'targetPicked', file: picked[0].fsPath });
        return;
      }
      case 'saveImage': {
        const match = /^data:image\/png;base64,(.*)$/.exec(m.dataUrl);
        if (!match) return;
        const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(path.dirname(this.state.modelPaths[0]));
        const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.joinPath(folder, m.name.replace(/[^\w.-]+/g, '_')), filters: { PNG: ['png'] } });
        // Never over the model, its inputs or its weights (the export rules).
        if (target && this.deps.safeTarget(target, this.models, this.objectiveTarget)) await vscode.workspace.fs.writeFile(target, Buffer.from(match[1], 'base64'));
        return;
      }
      case 'export':
        await this.deps.exportReport(this.models, m.format, () => this.fullModels(), this.objectiveTarget);
        return;
      case 'showLog':
        this.deps.log.show();
        return;
    }
  }

  /**
   * The panel holds every bulk tensor of the shown result: keep only the lean copy here (issue: a
   * 10 000-step H = 1024 report is ~400 MB the extension host would otherwise hold twice over with
   * the panel's). The store keeps the lean report too (CodeLens and the overview read its metrics).
   */
  private release(token: number): void {
    const lean = this.leanOf;
    if (token !== this.delivery || !lean || lean.token !== token) return;
    const full = this.models;
    this.models = this.models.map((m, i) => ({ ...m, report: lean.lean[i].report }));
    this.heldByPanel = token;
    this.leanOf = undefined;
    full.forEach((m, i) => this.deps.store.release(m.path, m.report, lean.lean[i].report));
    this.deps.log.info(`the panel holds the per-step tensors of ${full.map((m) => m.label).join(', ')}: the extension host released its copy`);
    // Nothing else would make V8 collect them soon: the extension host allocates little once idle.
    setTimeout(collectGarbage, 0);
  }

  /** The shown models with every per-step tensor: the host's own, or (after release) the panel's, sent back. */
  async fullModels(): Promise<PanelModel[]> {
    const token = this.heldByPanel;
    if (token === undefined) return this.models;
    this.fetching?.done(new Error('another export started'));
    // A copy to fill: the host keeps its lean models as they are.
    const models = structuredClone(this.models);
    const collector = new PieceCollector(models);
    const got = new Promise<PanelModel[]>((resolve, reject) => {
      const done = (r: PanelModel[] | Error) => {
        if (this.fetching?.collector === collector) this.fetching = undefined;
        clearTimeout(timer);
        if (r instanceof Error) reject(new Error(vscode.l10n.t('Could not get the per-step tensors back from the panel ({0}); re-run the analysis and export again.', r.message)));
        else resolve(r);
      };
      const timer = setTimeout(() => done(new Error('it did not answer')), FETCH_IDLE_MS);
      this.fetching = { token, collector, models, done, timer };
    });
    await this.post({ kind: 'sendBulk', token });
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Gradient Lens: gathering the per-step tensors from the panel') },
      () => got);
  }

  /** What the serializer needs to restore this panel after a reload. */
  persistedState(): PanelState {
    return this.state;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.credit.wake?.();
    this.fetching?.done(new Error('the panel was closed'));
    this.running?.abort();
    this.closed.fire();
    this.closed.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

export function titleFor(paths: readonly string[]): string {
  const names = paths.map((p) => path.basename(p));
  return names.length === 1 ? vscode.l10n.t('Gradient flow: {0}', names[0]) : vscode.l10n.t('Compare: {0}', names.join(' · '));
}

/** The model's feedable inputs, for the settings of a panel that has no result yet (nothing when unreadable). */
function graphInputsOf(modelPath: string): ValueInfoSummary[] | undefined {
  try {
    return feedableInputs(loadModel(modelPath)).map(summarizeValueInfo);
  } catch {
    return undefined;
  }
}
