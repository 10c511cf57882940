/**
 * VS Code entry point. The full panel, custom editor and CodeLens come with the extension issue;
 * for now "Analyze Gradient Flow" runs the analysis in the worker with a cancellable progress
 * notification and shows the summary in the Gradient Lens output channel.
 */
import * as vscode from 'vscode';
import { analyzeModel } from '../analysis/analyze';
import { formatSummary } from '../cli/summary';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Gradient Lens', { log: true });
  context.subscriptions.push(log);
  context.subscriptions.push(vscode.commands.registerCommand('gradientLens.analyze', async (uri?: vscode.Uri) => {
    const target = uri ?? (await vscode.window.showOpenDialog({ filters: { 'ONNX models': ['onnx'] }, canSelectMany: false }))?.[0];
    if (!target) return;
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Gradient Lens', cancellable: true },
      async (progress, token) => {
        const controller = new AbortController();
        token.onCancellationRequested(() => controller.abort());
        try {
          const report = await analyzeModel({
            modelPath: target.fsPath, files: {}, seed: 0, dims: {}, ep: 'auto', saturation: { low: 0.1, high: 0.9 },
            signal: controller.signal, onProgress: (message) => progress.report({ message }),
          });
          log.info(formatSummary(report));
          log.show(true);
        } catch (e) {
          if (controller.signal.aborted) return;
          const message = (e as Error).message;
          log.error(message);
          const action = await vscode.window.showErrorMessage(`Gradient Lens: ${message}`, 'Show Log');
          if (action === 'Show Log') log.show();
        }
      },
    );
  }));
}

export function deactivate(): void {
  // Sessions live in per-analysis workers that end with their analysis.
}
