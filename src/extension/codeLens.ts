/**
 * CodeLens beside the code: on lines that reference an analysed .onnx file
 * (`torch.onnx.export(model, x, "lstm.onnx")`, `InferenceSession("lstm.onnx")`, …) and on the
 * recurrent-layer constructors of such a file (`nn.LSTM(`, `keras.layers.GRU(`, …), a one-line
 * summary of what the analysis found. A constructor maps to a layer when the file's
 * constructors of that kind and the model's layers of that op correspond one to one;
 * otherwise the lens summarises the whole model and says so.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import type { DirectionReport, LayerReport, RecurrentOp, Report } from '../report/types';
import { flowStory } from '../report/story';
import { ReportStore } from './reportStore';
import { readConfig } from './settings';

const ONNX_REFERENCE = /["'`]([^"'`\n]*\.onnx)["'`]/g;
const CONSTRUCTOR = /\b(?:torch\.)?(?:nn\.(LSTM|GRU|RNN)|(?:tf\.)?(?:keras\.)?layers\.(LSTM|GRU|SimpleRNN))\s*\(/g;

export class GradientLensCodeLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly store: ReportStore) {
    this.subscriptions = [
      store.onDidChange(() => this.changed.fire()),
      vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('gradientLens.codeLens')) this.changed.fire(); }),
    ];
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    if (!readConfig(doc.uri).codeLensEnabled || this.store.all().size === 0) return [];
    const text = doc.getText();
    const lenses: vscode.CodeLens[] = [];
    let modelForFile: { modelPath: string; report: Report } | undefined;
    for (const m of text.matchAll(ONNX_REFERENCE)) {
      const found = this.findReport(doc, m[1]);
      if (!found) continue;
      modelForFile ??= found;
      const range = doc.lineAt(doc.positionAt(m.index!).line).range;
      lenses.push(new vscode.CodeLens(range, showCommand(`Gradient Lens: ${modelSummary(found.report)}`, found.modelPath)));
    }
    if (!modelForFile) return lenses;
    const constructors = [...text.matchAll(CONSTRUCTOR)].map((m) => ({ index: m.index!, op: (m[1] ?? (m[2] === 'SimpleRNN' ? 'RNN' : m[2])) as RecurrentOp, text: m[0].replace(/\s*\($/, '(') }));
    const { report, modelPath } = modelForFile;
    const byOp = (op: RecurrentOp) => report.layers.filter((l) => l.op === op);
    for (const c of constructors) {
      const same = constructors.filter((x) => x.op === c.op);
      const layers = byOp(c.op);
      const range = doc.lineAt(doc.positionAt(c.index).line).range;
      const title = same.length === layers.length && layers.length > 0
        ? `Gradient Lens: ${layerSummary(layers[same.indexOf(c)])}`
        : `Gradient Lens (whole model: ${c.text} does not map to one ${c.op} layer): ${modelSummary(report)}`;
      lenses.push(new vscode.CodeLens(range, showCommand(title, modelPath)));
    }
    return lenses;
  }

  /** A referenced .onnx name resolved against the document's folder, the workspace, or by file name. */
  private findReport(doc: vscode.TextDocument, reference: string): { modelPath: string; report: Report } | undefined {
    const candidates = [path.resolve(path.dirname(doc.uri.fsPath), reference),
      ...(vscode.workspace.workspaceFolders ?? []).map((f) => path.resolve(f.uri.fsPath, reference))];
    for (const c of candidates) {
      const r = this.store.get(c);
      if (r) return { modelPath: c, report: r };
    }
    const base = path.basename(reference);
    for (const [p, r] of this.store.all()) if (path.basename(p) === base) return { modelPath: p, report: r };
    return undefined;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
  }
}

function showCommand(title: string, modelPath: string): vscode.Command {
  return { title, command: 'gradientLens.showReport', arguments: [modelPath], tooltip: 'Open the gradient-flow panel beside' };
}

const pct = (x: number) => `${Math.round(100 * x)}%`;

/** One line per layer-direction: the verdict word first (every op), then what carries or loses the signal, then the key gate. */
export function directionSummary(layer: LayerReport, d: DirectionReport): string {
  const story = flowStory(layer, d);
  const parts = [story.verdict === 'unmeasured' ? 'not measured' : story.verdict, story.short];
  const sat = d.metrics.saturation.gates;
  if (!d.metrics.nonFinite) {
    if (layer.op === 'LSTM' && sat.forget) parts.push(`forget gates ${pct(sat.forget.right)} right-saturated, ${pct(sat.forget.left)} left`);
    if (layer.op === 'GRU' && sat.update) parts.push(`update gates ${pct(sat.update.right)} right-saturated, ${pct(sat.update.left)} left`);
  }
  return parts.join(' · ');
}

export function layerSummary(l: LayerReport): string {
  return l.directions.map((d) => `${l.directions.length > 1 ? `${d.direction}: ` : ''}${directionSummary(l, d)}`).join(' | ');
}

/**
 * The layer-direction that most needs attention speaks for the model: one without a valid
 * verdict first, then the one whose state keeps the least of the signal (the bottleneck).
 */
export function modelSummary(r: Report): string {
  let worst: { l: LayerReport; d: DirectionReport } | undefined;
  const score = (d: DirectionReport) => {
    const v = d.metrics.decay;
    if (!v) return 2;
    if (v.verdict === 'invalid' || v.verdict === 'n/a') return -1;
    if (v.verdict === 'exploding') return 0;
    return v.survival === null ? 1 : Math.min(1, v.survival);
  };
  for (const l of r.layers) for (const d of l.directions) if (!worst || score(d) < score(worst.d)) worst = { l, d };
  if (!worst) return 'no recurrent layer';
  const where = r.layers.length > 1 || worst.l.directions.length > 1 ? ` (${worst.l.op} '${worst.l.node}' ${worst.d.direction})` : '';
  return directionSummary(worst.l, worst.d) + where;
}
