/**
 * The latest report of every analysed model, and an event when one arrives (CodeLens and
 * panels listen to it). A big report's per-step tensors may be held by its panel only (see
 * AnalysisPanel.release): the store then has its lean copy, whose metrics CodeLens and the
 * overview read; complete() tells whether a report can be shown again as it is.
 */
import * as vscode from 'vscode';
import type { Report } from '../report/types';

export class ReportStore implements vscode.Disposable {
  private readonly reports = new Map<string, Report>();
  private readonly lean = new Set<string>();
  private readonly changed = new vscode.EventEmitter<string>();
  /** Fires with the model path whose report changed. */
  readonly onDidChange = this.changed.event;

  set(modelPath: string, report: Report): void {
    this.reports.set(modelPath, report);
    this.lean.delete(modelPath);
    this.changed.fire(modelPath);
  }

  /** Keep `lean` instead of `full` (unless a newer report came meanwhile): the panel holds the per-step tensors. */
  release(modelPath: string, full: Report, lean: Report): void {
    if (this.reports.get(modelPath) !== full) return;
    this.reports.set(modelPath, lean);
    this.lean.add(modelPath);
  }

  /** The latest report, lean (metrics, no per-step tensors) after its panel took them. */
  get(modelPath: string): Report | undefined {
    return this.reports.get(modelPath);
  }

  /** The latest report when it is whole (a lean one must be computed again to be shown). */
  complete(modelPath: string): Report | undefined {
    return this.lean.has(modelPath) ? undefined : this.reports.get(modelPath);
  }

  all(): ReadonlyMap<string, Report> {
    return this.reports;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
