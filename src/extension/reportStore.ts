/**
 * The latest report of every analysed model, and an event when one arrives (CodeLens and
 * panels listen to it).
 */
import * as vscode from 'vscode';
import type { Report } from '../report/types';

export class ReportStore implements vscode.Disposable {
  private readonly reports = new Map<string, Report>();
  private readonly changed = new vscode.EventEmitter<string>();
  /** Fires with the model path whose report changed. */
  readonly onDidChange = this.changed.event;

  set(modelPath: string, report: Report): void {
    this.reports.set(modelPath, report);
    this.changed.fire(modelPath);
  }

  get(modelPath: string): Report | undefined {
    return this.reports.get(modelPath);
  }

  all(): ReadonlyMap<string, Report> {
    return this.reports;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
