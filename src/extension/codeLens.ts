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
import type { Report } from '../report/types';
import { constructorLenses, modelSummary, onnxReferences } from './codeLensText';
import { ReportStore } from './reportStore';
import { readConfig } from './settings';

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
    for (const ref of onnxReferences(text)) {
      const found = this.findReport(doc, ref.reference);
      if (!found) continue;
      modelForFile ??= found;
      const range = doc.lineAt(doc.positionAt(ref.index).line).range;
      lenses.push(new vscode.CodeLens(range, showCommand(`Gradient Lens: ${modelSummary(found.report)}`, found.modelPath)));
    }
    if (!modelForFile) return lenses;
    for (const c of constructorLenses(text, modelForFile.report)) {
      const range = doc.lineAt(doc.positionAt(c.index).line).range;
      lenses.push(new vscode.CodeLens(range, showCommand(c.title, modelForFile.modelPath)));
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
