/**
 * VS Code entry point: commands, the analysis panel beside the code, the .onnx overview editor,
 * CodeLens, settings. Every analysis runs in a worker thread (runtime/analysisWorker.ts); this
 * file only wires VS Code to it. Disposables are registered in one place, here.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { CancelledError } from '../onnx/errors';
import type { PanelModel, PanelState } from '../protocol/panel';
import { writeReportJson } from '../report/jsonWriter';
import { embeddedBytes, fitsInPage, metricsOnly, standaloneHtml, writeFileAtomically } from '../report/htmlReport';
import { OMITTED_TOO_BIG_HOW } from '../report/detail';
import { checkOutputPaths, OutputRequest, ProtectedFile } from '../report/outputPaths';

/** Above this much embedded data an HTML export asks whether to leave the per-step tensors out. */
const HTML_WARN_MB = 100;
/** Above this many MB of float32 tensors a JSON export offers to write them to a binary tensor file instead. */
const JSON_TENSOR_FILE_MB = 100;
/** A JSON report's text is about this many times its float32 tensors' bytes (bench: 1060 MB of JSON for 392 MB). */
const JSON_TEXT_PER_BYTE = 2.7;
import type { Report } from '../report/types';
import { AnalysisPanel, PANEL_VIEW_TYPE, PanelDeps } from './analysisPanel';
import type { GradientLensApi } from './api';
import { GradientLensCodeLensProvider } from './codeLens';
import { ModelOverviewProvider, OVERVIEW_VIEW_TYPE } from './modelOverview';
import { ReportStore } from './reportStore';
import { endWarmWorker } from '../runtime/analysisWorker';
import { externalDataRefs, loadModel } from '../onnx/model';
import { InputOffers } from './inputOffers';
import { defaultPanelSettings, readConfig } from './settings';

export function activate(context: vscode.ExtensionContext): GradientLensApi {
  const log = vscode.window.createOutputChannel('Gradient Lens', { log: true });
  const store = new ReportStore();
  const panels = new Set<AnalysisPanel>();
  let lastActive: AnalysisPanel | undefined;
  let readyWaiters: (() => void)[] = [];

  const deps: PanelDeps = {
    extensionUri: context.extensionUri, log, store,
    exportReport: (models, format, full, objectiveTarget) => exportReport(models, format, full, undefined, objectiveTarget),
    inputs: new InputOffers(context.workspaceState),
    safeTarget: (target, models, objectiveTarget) => safeExportTarget(target, models, objectiveTarget),
  };

  const track = (p: AnalysisPanel): AnalysisPanel => {
    panels.add(p);
    lastActive = p;
    p.panel.onDidChangeViewState((e) => { if (e.webviewPanel.active) lastActive = p; });
    p.onDidClose(() => { panels.delete(p); if (lastActive === p) lastActive = [...panels].pop(); });
    void p.whenReady().then(() => { const w = readyWaiters; readyWaiters = []; w.forEach((f) => f()); });
    return p;
  };

  /** The panel for exactly these models, reused if open. */
  const panelFor = (modelPaths: string[]): AnalysisPanel => {
    const key = modelPaths.join('\n');
    const existing = [...panels].find((p) => p.modelPaths.join('\n') === key);
    if (existing) { existing.reveal(); return existing; }
    const settings = defaultPanelSettings(readConfig(vscode.Uri.file(modelPaths[0])));
    return track(AnalysisPanel.create(deps, { modelPaths, settings }));
  };

  const analyzePaths = async (modelPaths: string[]): Promise<Report[]> => panelFor(modelPaths).run();
  const quietly = (p: Promise<unknown>) => p.catch((e) => { if (!(e instanceof CancelledError)) log.error((e as Error).message); });

  const codeLens = new GradientLensCodeLensProvider(store);

  context.subscriptions.push(
    log, store, codeLens,
    vscode.commands.registerCommand('gradientLens.analyze', async (uri?: vscode.Uri) => {
      const target = uri ?? activeModelUri() ?? (await pickModels(false))?.[0];
      if (target) await quietly(analyzePaths([target.fsPath]));
    }),
    vscode.commands.registerCommand('gradientLens.analyzeModel', async () => {
      const picked = await pickModels(false);
      if (picked?.[0]) await quietly(analyzePaths([picked[0].fsPath]));
    }),
    vscode.commands.registerCommand('gradientLens.compareModels', async (uri?: vscode.Uri, uris?: vscode.Uri[]) => {
      const picked = uris && uris.length > 1 ? uris : await pickModels(true);
      if (!picked) return;
      if (picked.length < 2) {
        void vscode.window.showWarningMessage(vscode.l10n.t('Choose at least two models to compare.'));
        return;
      }
      await quietly(analyzePaths(picked.map((u) => u.fsPath)));
    }),
    vscode.commands.registerCommand('gradientLens.rerun', async () => {
      const p = lastActive;
      if (!p) { void vscode.window.showInformationMessage(vscode.l10n.t('No analysis to re-run: analyse a model first.')); return; }
      await quietly(p.run());
    }),
    // Interactive from the palette; { format, target } (a file URI) export without asking (tasks, tests).
    vscode.commands.registerCommand('gradientLens.exportReport', async (given?: ExportArgs) => {
      // Several panels with results: which one (the active one first); one: that one.
      const withResults = [...panels].filter((p) => p.currentModels.length > 0);
      if (withResults.length === 0) {
        void vscode.window.showInformationMessage(vscode.l10n.t('No report to export: analyse a model first.'));
        return;
      }
      let chosen = withResults.length === 1 ? withResults[0] : undefined;
      if (!chosen) {
        const ordered = [...withResults].sort((a, b) => (a === lastActive ? -1 : b === lastActive ? 1 : 0));
        const pick = await vscode.window.showQuickPick(ordered.map((p) => ({
          label: p.panel.title, description: p === lastActive ? vscode.l10n.t('the active panel') : undefined,
          detail: p.modelPaths.map((m) => vscode.workspace.asRelativePath(m)).join(', '), panel: p,
        })), { title: vscode.l10n.t('Export the report of which panel?') });
        chosen = pick?.panel;
      }
      const target = given?.target ? vscode.Uri.from(given.target) : undefined;
      // The files written (a task or another extension can tell), or undefined when none were.
      return chosen ? exportReport([...chosen.currentModels], given?.format, () => chosen!.fullModels(), target, chosen.objectiveTarget) : undefined;
    }),
    vscode.commands.registerCommand('gradientLens.showReport', async (modelPath: string) => {
      const p = panelFor([modelPath]);
      if (p.currentModels.length > 0) return;
      // A lean report (its panel, since closed, held the per-step tensors) is computed again.
      const report = store.complete(modelPath);
      if (report) await p.show([{ label: path.basename(modelPath), path: modelPath, report }]);
      else await quietly(p.run());
    }),
    vscode.window.registerCustomEditorProvider(OVERVIEW_VIEW_TYPE, new ModelOverviewProvider(log, store), {
      webviewOptions: { retainContextWhenHidden: false }, supportsMultipleEditorsPerDocument: true,
    }),
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      async deserializeWebviewPanel(webviewPanel: vscode.WebviewPanel, state: PanelState | undefined) {
        if (!state?.modelPaths?.length) { webviewPanel.dispose(); return; }
        const p = track(new AnalysisPanel(webviewPanel, deps, state));
        const known = state.modelPaths.map((m) => store.complete(m));
        if (known.every((r): r is Report => !!r)) await p.show(known.map((report, i) => ({ label: path.basename(state.modelPaths[i]), path: state.modelPaths[i], report })));
        else await quietly(p.run(state.settings));
      },
    }),
    vscode.languages.registerCodeLensProvider([{ language: 'python' }, { scheme: 'file', pattern: '**/*.py' }], codeLens),
    { dispose: () => { for (const p of panels) p.dispose(); } },
  );

  return {
    analyze: async (modelPath: string) => (await analyzePaths([modelPath]))[0],
    reports: () => store.all(),
    openPanels: () => panels.size,
    panelReady: () => (lastActive ? lastActive.whenReady() : new Promise<void>((resolve) => readyWaiters.push(resolve))),
  };
}

export function deactivate(): Promise<void> {
  // Panels, the store and the log are disposed through context.subscriptions; the warm engine ends here.
  return endWarmWorker();
}

/** The .onnx of the active custom editor tab, if any. */
function activeModelUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputCustom && input.uri.fsPath.endsWith('.onnx') ? input.uri : undefined;
}

/** A quick pick of the workspace's .onnx files plus "Browse…". */
async function pickModels(many: boolean): Promise<vscode.Uri[] | undefined> {
  const files = await vscode.workspace.findFiles('**/*.onnx', '**/node_modules/**', 500);
  const browse = vscode.l10n.t('Browse…');
  type Item = vscode.QuickPickItem & { uri?: vscode.Uri };
  const items: Item[] = files
    .sort((a, b) => a.fsPath.localeCompare(b.fsPath))
    .map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(uri, true), uri }));
  const browseFiles = async () => vscode.window.showOpenDialog({ canSelectMany: many, filters: { [vscode.l10n.t('ONNX models')]: ['onnx'] } });
  if (items.length === 0) return browseFiles();
  if (!many) {
    const picked = await vscode.window.showQuickPick<Item>([...items, { label: `$(folder-opened) ${browse}` }], {
      title: vscode.l10n.t('Gradient Lens: Analyze ONNX Model'), placeHolder: vscode.l10n.t('Choose a model to analyse'), matchOnDescription: true,
    });
    if (!picked) return undefined;
    return picked.uri ? [picked.uri] : browseFiles();
  }
  const picked = await vscode.window.showQuickPick<Item>(items, {
    title: vscode.l10n.t('Gradient Lens: Compare Two Models'), placeHolder: vscode.l10n.t('Choose two or more models (or none to browse)'), canPickMany: true, matchOnDescription: true,
  });
  if (!picked) return undefined;
  return picked.length > 0 ? picked.map((p) => p.uri!) : browseFiles();
}

/**
 * The files an export or a saved image must never replace: each model, the files chosen for its
 * inputs, its external-data files (its weights) and the 'target' objective's .npy, as the CLI
 * protects them.
 */
function protectedFilesOf(models: readonly PanelModel[], objectiveTarget?: string): ProtectedFile[] {
  return [
    ...models.flatMap((m) => [
      { role: vscode.l10n.t('the model {0}', m.label), path: m.path },
      ...Object.entries(m.report.input.sources).filter(([, src]) => src.startsWith('file:'))
        .map(([name, src]) => ({ role: vscode.l10n.t("the file of input '{0}'", name), path: src.slice('file:'.length) })),
      ...sidecarsOf(m.path).map((file) => ({ role: vscode.l10n.t('an external-data file of {0}', m.label), path: file })),
    ]),
    ...(objectiveTarget ? [{ role: vscode.l10n.t("the target of the 'target' objective"), path: objectiveTarget }] : []),
  ];
}

/** Whether these files may be written (the CLI's rules for --json/--html: never a protected file, a link, a device, or one file twice); says why in an error message otherwise. */
function exportPathsOk(outputs: OutputRequest[], protectedFiles: ProtectedFile[]): boolean {
  try {
    checkOutputPaths(outputs, protectedFiles);
    return true;
  } catch (e) {
    // A tensor file's name follows its JSON's: the way out is another name for the JSON.
    const tensorFile = outputs.find((o) => o.flag === TENSOR_FILE_FLAG && (e as Error).message.includes(o.path));
    const hint = tensorFile ? vscode.l10n.t(' (The tensor file is named after its JSON: choose another name for the JSON.)') : '';
    void vscode.window.showErrorMessage(vscode.l10n.t('Gradient Lens: {0}', (e as Error).message) + hint);
    return false;
  }
}

/** Whether a chosen export file (or saved image) may be written; says why in an error message otherwise. */
export function safeExportTarget(target: vscode.Uri, models: readonly PanelModel[], objectiveTarget?: string): boolean {
  return exportPathsOk([{ flag: EXPORT_FILE_FLAG, path: target.fsPath }], protectedFilesOf(models, objectiveTarget));
}

const EXPORT_FILE_FLAG = 'the export file';
const TENSOR_FILE_FLAG = 'the tensor file';

/** How a report is exported: a standalone page, JSON, or JSON with its float32 tensors in a binary file beside it (the CLI's --tensors). */
type ExportFormat = 'html' | 'json' | 'json+tensors';
const EXPORT_FORMATS: readonly ExportFormat[] = ['html', 'json', 'json+tensors'];

/** The export command's optional argument: export without asking (a task, a keybinding, the tests). */
interface ExportArgs { format?: ExportFormat; target?: vscode.Uri }

/** The tensor file written with a JSON export: `<name>.tensors.bin` beside `<name>.json`. */
export function tensorFileBeside(json: string): string {
  return `${json.replace(/\.json$/i, '')}.tensors.bin`;
}

/**
 * Write the panel's report(s) as one standalone HTML page or JSON (SPEC §7). Gives the files
 * written, or undefined when nothing was (cancelled, refused or failed: the user was told why);
 * a failure is an error message, never a thrown command.
 */
async function exportReport(shown: PanelModel[], format?: ExportFormat, full?: () => Promise<PanelModel[]>, given?: vscode.Uri, objectiveTarget?: string): Promise<string[] | undefined> {
  if (shown.length === 0) return undefined;
  if (format !== undefined && !EXPORT_FORMATS.includes(format)) {
    void vscode.window.showErrorMessage(vscode.l10n.t("Gradient Lens: the export format '{0}' is not one of {1}.", String(format), EXPORT_FORMATS.join(', ')));
    return undefined;
  }
  const chosen = format ?? (await vscode.window.showQuickPick([
    { label: 'HTML', description: vscode.l10n.t('one standalone page that renders the panel offline'), value: 'html' as const },
    { label: 'JSON', description: vscode.l10n.t('the report as JSON (gradient-lens/report@2, docs/report-schema.md)'), value: 'json' as const },
    {
      label: vscode.l10n.t('JSON + tensor file'), value: 'json+tensors' as const,
      description: vscode.l10n.t('the JSON with its per-step tensors as raw float32 in a .tensors.bin beside it: written several times faster, about a third of the size'),
    },
  ], { title: vscode.l10n.t('Export Report') }))?.value;
  if (!chosen) return undefined;
  const protectedFiles = protectedFilesOf(shown, objectiveTarget);
  try {
    return chosen === 'html'
      ? await exportHtml(shown, protectedFiles, full, given)
      : await exportJson(shown, chosen === 'json+tensors', protectedFiles, full, given);
  } catch (e) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Gradient Lens: {0}', (e as Error).message));
    return undefined;
  }
}

/** The per-step tensors, once a target is chosen: the panel may hold the only copy (AnalysisPanel.fullModels). */
async function withTensors(shown: PanelModel[], full?: () => Promise<PanelModel[]>): Promise<PanelModel[]> {
  return full ? await full() : shown;
}

/** Where an export goes by default: the first workspace folder, else the (first) model's folder. */
function exportFolder(shown: PanelModel[]): vscode.Uri {
  return vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(path.dirname(shown[0].path));
}

/** A model's label without its extension, for file names. */
function stemOf(m: PanelModel): string {
  return m.label.replace(/\.onnx$/i, '');
}

async function exportHtml(shown: PanelModel[], protectedFiles: ProtectedFile[], full: (() => Promise<PanelModel[]>) | undefined, given: vscode.Uri | undefined): Promise<string[] | undefined> {
  const stem = shown.length === 1 ? stemOf(shown[0]) : 'comparison';
  const target = given ?? await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.joinPath(exportFolder(shown), `${stem}.gradient-lens.html`), filters: { HTML: ['html'] } });
  if (!target || !exportPathsOk([{ flag: EXPORT_FILE_FLAG, path: target.fsPath }], protectedFiles)) return undefined;
  const models = await withTensors(shown, full);
  let page = models;
  const mb = embeddedBytes(models.map((m) => m.report)) / 1e6;
  if (!fitsInPage(models.map((m) => m.report))) {
    // The full page cannot be written at all (a string limit): offer the page without the per-step tensors.
    const lean = vscode.l10n.t('Without per-step tensors');
    const choice = given ? lean : await vscode.window.showWarningMessage(
      vscode.l10n.t('The report holds about {0} MB of per-step data, more than one HTML page can hold. Export the page without the per-step tensors (no heatmaps)? The full data can be exported as JSON.', mb.toFixed(0)),
      { modal: true }, lean);
    if (choice !== lean) return undefined;
    page = models.map((m) => ({ ...m, report: metricsOnly(m.report, OMITTED_TOO_BIG_HOW) }));
  } else if (mb > HTML_WARN_MB && !given) {
    const lean = vscode.l10n.t('Without per-step tensors');
    const everything = vscode.l10n.t('Everything ({0} MB)', mb.toFixed(0));
    const choice = await vscode.window.showWarningMessage(
      vscode.l10n.t('The report holds about {0} MB of per-step data; a page that large is slow to open. Leave the per-step tensors (heatmaps) out?', mb.toFixed(0)),
      { modal: true }, lean, everything);
    if (!choice) return undefined;
    if (choice === lean) page = models.map((m) => ({ ...m, report: metricsOnly(m.report) }));
  }
  await writeFileAtomically(target.fsPath, standaloneHtml(page, models.map((m) => m.label).join(' · ')));
  // (Exported without dialogs: no notification either.)
  if (!given) written(target, true);
  return [target.fsPath];
}

/**
 * One JSON file per model; with `tensors` (or when the user takes the offer a big report gets),
 * each model's float32 tensors go to `<file>.tensors.bin` beside its JSON, which names it. Every
 * file is chosen and checked (together: no two may be one file) before anything is written.
 */
async function exportJson(shown: PanelModel[], tensors: boolean, protectedFiles: ProtectedFile[], full: (() => Promise<PanelModel[]>) | undefined, given: vscode.Uri | undefined): Promise<string[] | undefined> {
  const targets: vscode.Uri[] = [];
  if (given) {
    // A given target names the file of a single report; of several, each gets its model's name after it (numbered when two share one).
    const stems = shown.map(stemOf);
    const numbered = stems.map((s, i) => (stems.indexOf(s) !== i || stems.lastIndexOf(s) !== i ? `${s}-${i + 1}` : s));
    targets.push(...(shown.length === 1 ? [given] : numbered.map((s) => vscode.Uri.file(given.fsPath.replace(/(\.json)?$/i, `.${s}.json`)))));
  } else {
    for (const m of shown) {
      const target = await vscode.window.showSaveDialog({
        defaultUri: vscode.Uri.joinPath(exportFolder(shown), `${stemOf(m)}.gradient-lens.json`), filters: { JSON: ['json'] },
        title: vscode.l10n.t('Export the report of {0}', m.label),
      });
      if (!target) return undefined;
      targets.push(target);
    }
  }
  const outputs = (withBins: boolean): OutputRequest[] => targets.flatMap((t) => [
    { flag: EXPORT_FILE_FLAG, path: t.fsPath },
    ...(withBins ? [{ flag: TENSOR_FILE_FLAG, path: tensorFileBeside(t.fsPath) }] : []),
  ]);
  if (!exportPathsOk(outputs(tensors), protectedFiles)) return undefined;
  const models = await withTensors(shown, full);
  if (!tensors && !given) {
    // A big report: its JSON text is slow to write and read; offer the binary tensor file.
    const mb = embeddedBytes(models.map((x) => x.report)) * 3 / 4 / 1e6;
    if (mb > JSON_TENSOR_FILE_MB) {
      const binary = vscode.l10n.t('Tensors in a binary file');
      const text = vscode.l10n.t('All in the JSON');
      const choice = await vscode.window.showWarningMessage(
        vscode.l10n.t('The report holds about {0} MB of float32 data: about {1} MB as JSON text. Write it as raw float32 to a .tensors.bin file beside the JSON instead (several times faster, about a third of the size; docs/report-schema.md says how to read it)?',
          mb.toFixed(0), (mb * JSON_TEXT_PER_BYTE).toFixed(0)),
        { modal: true }, binary, text);
      if (!choice) return undefined;
      tensors = choice === binary;
      if (tensors && !exportPathsOk(outputs(true), protectedFiles)) return undefined;
    }
  }
  const bins = targets.map((t) => (tensors ? tensorFileBeside(t.fsPath) : undefined));
  const existing = bins.filter((b): b is string => !!b && fs.existsSync(b));
  if (existing.length && !given) {
    // The save dialog asked about the JSON only.
    const replace = vscode.l10n.t('Replace');
    const choice = await vscode.window.showWarningMessage(
      vscode.l10n.t('{0} already exists. Replace it with the tensors of this report?', existing.map((b) => path.basename(b)).join(', ')), { modal: true }, replace);
    if (choice !== replace) return undefined;
  }
  const files: string[] = [];
  for (const [i, target] of targets.entries()) {
    const bin = bins[i];
    await writeReportJson(models[i].report, target.fsPath, {
      detail: 'full', tensorFile: bin ? { path: bin, reference: path.basename(bin) } : undefined,
    });
    files.push(target.fsPath, ...(bin ? [bin] : []));
    if (!given) written(target, false, bin);
  }
  return files;
}

/** "Report written to …" with a button that opens it (the HTML page in the browser, the JSON in an editor). */
function written(target: vscode.Uri, html: boolean, tensorFile?: string): void {
  const open = vscode.l10n.t('Open');
  const where = vscode.workspace.asRelativePath(target);
  const message = tensorFile
    ? vscode.l10n.t('Report written to {0}, its tensors to {1}', where, path.basename(tensorFile))
    : vscode.l10n.t('Report written to {0}', where);
  void vscode.window.showInformationMessage(message, open).then((a) => {
    if (a !== open) return;
    if (html) void vscode.env.openExternal(target);
    else void vscode.window.showTextDocument(target);
  });
}

/** The external-data files a model names (inside its folder; the reader refuses others anyway). */
function sidecarsOf(modelPath: string): string[] {
  try {
    return [...new Set(externalDataRefs(loadModel(modelPath)).map((r) => r.file))];
  } catch {
    return [];
  }
}
