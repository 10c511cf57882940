/**
 * A read-only custom editor for .onnx files: the model's overview (inputs and outputs, each
 * recurrent layer with its sizes, direction and attributes, opset, producer, the recurrent
 * spectrum) with an "Analyze" button, instead of VS Code's "binary file" notice.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { inspectModel } from '../analysis/analyze';
import type { ModelOverview, Report, SpectrumMetrics, ValueInfoSummary } from '../report/types';
import type { ReportStore } from './reportStore';
import { escapeHtml, nonce } from './webviewHtml';

export const OVERVIEW_VIEW_TYPE = 'gradientLens.modelOverview';

class ModelDocument implements vscode.CustomDocument {
  constructor(readonly uri: vscode.Uri) {}
  dispose(): void { /* nothing held */ }
}

export class ModelOverviewProvider implements vscode.CustomReadonlyEditorProvider<ModelDocument> {
  constructor(private readonly log: vscode.LogOutputChannel, private readonly store?: ReportStore) {}

  openCustomDocument(uri: vscode.Uri): ModelDocument {
    return new ModelDocument(uri);
  }

  async resolveCustomEditor(doc: ModelDocument, panel: vscode.WebviewPanel): Promise<void> {
    panel.webview.options = { enableScripts: true, localResourceRoots: [] };
    const render = async () => {
      panel.webview.html = page(panel.webview, path.basename(doc.uri.fsPath), '<p class="muted">Reading the model…</p>');
      try {
        const overview = await inspectModel(doc.uri.fsPath);
        panel.webview.html = page(panel.webview, path.basename(doc.uri.fsPath), overviewBody(overview, this.store?.get(doc.uri.fsPath)));
      } catch (e) {
        const message = (e as Error).message;
        this.log.error(message);
        panel.webview.html = page(panel.webview, path.basename(doc.uri.fsPath),
          `<div class="error" role="alert" data-testid="overview-error">${escapeHtml(message)}</div>`);
      }
    };
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.joinPath(doc.uri, '..'), path.basename(doc.uri.fsPath)));
    watcher.onDidChange(() => void render());
    // A new analysis of this model says which branches ran: show it.
    const subscription = this.store?.onDidChange((p) => { if (p === doc.uri.fsPath) void render(); });
    panel.onDidDispose(() => { watcher.dispose(); subscription?.dispose(); });
    panel.webview.onDidReceiveMessage((m: { kind: string }) => {
      if (m.kind === 'analyze') void vscode.commands.executeCommand('gradientLens.analyze', doc.uri);
      if (m.kind === 'reload') void render();
    });
    await render();
  }
}

const num = (x: number) => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toPrecision(3));

function shape(v: ValueInfoSummary): string {
  return v.shape ? `[${v.shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : 'unknown';
}

function spectrumCells(s: SpectrumMetrics): string {
  return s.gates.map((g) => {
    const cond = g.sufficientForVanishing ? ' · vanishing guaranteed' : g.necessaryForExplodingMet ? ' · can explode' : '';
    return `<span class="chip" title="${escapeHtml(`${g.activation}: γ = ${g.gamma ?? '?'}, 1/γ = ${g.gamma ? num(1 / g.gamma) : '?'}${cond}`)}">${escapeHtml(g.gate)} σ<sub>max</sub> ${num(g.sigmaMax)}</span>`;
  }).join(' ');
}

/** The overview, and what the last analysis of this model ran (If branches taken, layers analysed). */
export function overviewBody(o: ModelOverview, last?: Report): string {
  const m = o.model;
  const io = (title: string, vs: ValueInfoSummary[]) => `<h2>${title}</h2><table><thead><tr><th>name</th><th>type</th><th>shape</th></tr></thead><tbody>${
    vs.map((v) => `<tr><td><code>${escapeHtml(v.name)}</code></td><td>${escapeHtml(v.elemType)}</td><td><code>${escapeHtml(shape(v))}</code></td></tr>`).join('')}</tbody></table>`;
  const layers = o.layers.length === 0 ? '<p class="muted">No LSTM, GRU or RNN node.</p>' : `<table data-testid="overview-layers"><thead><tr><th>node</th><th>op</th><th>direction</th><th>H</th><th>I</th><th>attributes</th><th>recurrent spectrum</th></tr></thead><tbody>${
    o.layers.map((l) => {
      const a = l.attributes;
      const attrs = [
        l.layout ? 'layout 1' : '', a.activations.join('/'), a.clip !== null ? `clip ${a.clip}` : '', a.inputForget ? 'input_forget' : '',
        l.op === 'GRU' ? `linear_before_reset ${a.linearBeforeReset ? 1 : 0}` : '', a.hasPeepholes ? 'peepholes' : '',
        a.hasSequenceLens ? 'sequence_lens' : '', a.hasInitialH ? 'initial_h' : '', a.hasInitialC ? 'initial_c' : '', a.hasBias ? '' : 'no bias',
      ].filter(Boolean).join(', ');
      const spectra = l.spectrum.map((s, d) => `${l.spectrum.length > 1 ? `<b>${d === 0 ? 'fwd' : 'rev'}</b> ` : ''}${spectrumCells(s)}`).join('<br>');
      const where = l.path && l.path.length > 1 ? `<div class="muted">in ${escapeHtml(l.path.slice(0, -1).join(' → '))}</div>` : '';
      // Layers in If branches run only for some inputs: say whether the last analysis ran this one.
      const ran = last && l.path && l.path.length > 1
        ? (last.layers.some((r) => JSON.stringify(r.path) === JSON.stringify(l.path))
          ? '<div class="ran" data-testid="overview-ran">analysed in the last run</div>'
          : '<div class="muted" data-testid="overview-not-ran">not run for the last run\'s inputs</div>')
        : '';
      return `<tr><td><code>${escapeHtml(l.node)}</code>${where}${ran}</td><td>${l.op}</td><td>${l.direction}</td><td>${l.hiddenSize}</td><td>${l.inputSize}</td><td>${escapeHtml(attrs)}</td><td>${spectra}</td></tr>`;
    }).join('')}</tbody></table>`;
  const ops = Object.entries(o.opCounts).sort((x, y) => y[1] - x[1]).map(([op, n]) => `${escapeHtml(op)} ×${n}`).join(', ');
  const warnings = o.warnings.map((w) => `<div class="warning" role="note">${escapeHtml(w)}</div>`).join('');
  const pairs = o.statePairs ?? [];
  const streaming = pairs.length
    ? `<h2>Streaming state</h2><p data-testid="overview-state-pairs">A streaming model: ${pairs.map((p) => `<code>${escapeHtml(p.input)}</code> → <code>${escapeHtml(p.output)}</code>`).join(', ')} carry the state from one call to the next. An analysis runs consecutive calls with the state fed back (the panel's <b>Calls</b> setting, 32 by default) and follows the gradient across them.</p>` : '';
  const carried = (o.stateRecurrences ?? []).filter((s) => s.path.length > 1);
  const loops = carried.length
    ? `<h2>Carried state</h2><ul data-testid="overview-state-recurrences">${carried.map((s) => `<li><code>${escapeHtml(s.name)}</code> in ${escapeHtml(s.path.slice(0, -1).join(' → '))}${s.cell ? ` — an ${s.cell} cell written with plain ops` : ''}</li>`).join('')}</ul>` : '';
  const notes = last?.notes?.length
    ? `<h2>Last analysis</h2><ul data-testid="overview-notes">${last.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : '';
  return `<header><div><h1>${escapeHtml(path.basename(m.path))}</h1>
<p class="muted">${escapeHtml(m.producer || 'unknown producer')} · opset ${m.opset} · IR ${m.irVersion} · ${o.layers.length} recurrent layer${o.layers.length === 1 ? '' : 's'}</p></div>
<button id="analyze" data-testid="overview-analyze" ${o.layers.length || o.statePairs?.length || o.stateRecurrences?.length ? '' : 'disabled'}>Analyze gradient flow</button></header>
${warnings}<h2>Recurrent layers</h2>${layers}${streaming}${loops}${notes}${io('Inputs', m.graphInputs)}${io('Outputs', m.graphOutputs)}<h2>Operators</h2><p>${ops}</p>`;
}

function page(webview: vscode.Webview, title: string, body: string): string {
  const n = nonce();
  return `<!DOCTYPE html><html lang="${vscode.env.language}"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${n}'; script-src 'nonce-${n}';">
<title>${escapeHtml(title)}</title>
<style nonce="${n}">
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 8px 20px; }
header { display: flex; justify-content: space-between; align-items: flex-start; gap: 16px; }
h1 { font-size: 1.5em; margin: 8px 0 2px; } h2 { font-size: 1.1em; margin-top: 22px; }
.muted { color: var(--vscode-descriptionForeground); }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--vscode-editorWidget-border, #8884); vertical-align: top; }
th { font-weight: 600; color: var(--vscode-descriptionForeground); }
code { font-family: var(--vscode-editor-font-family); }
.chip { display: inline-block; padding: 1px 6px; margin: 1px; border-radius: 8px; background: var(--vscode-badge-background); color: var(--vscode-badge-foreground); font-size: 0.9em; }
button { background: var(--vscode-button-background); color: var(--vscode-button-foreground); border: 1px solid var(--vscode-button-border, transparent); padding: 6px 14px; border-radius: 2px; cursor: pointer; margin-top: 10px; }
button:hover { background: var(--vscode-button-hoverBackground); } button:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 2px; }
button:disabled { opacity: 0.5; cursor: default; }
.ran { color: var(--vscode-testing-iconPassed, #3c9); }
.warning { border-left: 3px solid var(--vscode-editorWarning-foreground); padding: 4px 10px; margin: 8px 0; }
.error { border-left: 3px solid var(--vscode-errorForeground); padding: 6px 10px; margin: 12px 0; color: var(--vscode-errorForeground); }
</style></head><body>${body}
<script nonce="${n}">
const vscode = acquireVsCodeApi();
const b = document.getElementById('analyze');
if (b) b.addEventListener('click', () => vscode.postMessage({ kind: 'analyze' }));
</script></body></html>`;
}
