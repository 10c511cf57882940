/** Analysing a model: the report comes back and the panel opens beside the active editor. */
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import { allTabs, ANALYZE_MS, api, closeAllEditors, waitFor, within, workspaceFile } from './helpers';

const samePath = (a: string, b: string) => path.resolve(a) === path.resolve(b);

describe('analysis', () => {
  before(closeAllEditors);

  it('api.analyze() delivers the LSTM report and opens the panel beside the active editor', async () => {
    const gl = await api();
    const python = await vscode.window.showTextDocument(vscode.Uri.file(workspaceFile('train_adding.py')), { viewColumn: vscode.ViewColumn.One });
    const model = workspaceFile('adding-lstm.onnx');

    const report = await within(gl.analyze(model), ANALYZE_MS, 'api.analyze(adding-lstm.onnx) did not settle');
    const layer = report.layers[0];
    assert.ok(layer, 'the report has no layers');
    assert.strictEqual(layer.op, 'LSTM');
    assert.strictEqual(layer.hiddenSize, 32);
    const grad = layer.directions[0]?.gradHidden;
    assert.ok(grad, 'the first direction has no gradHidden');
    assert.deepStrictEqual(grad.dims, [50, 1, 32]);
    assert.ok(grad.data.length === 50 * 32 && grad.data.some((v) => v !== 0), 'gradHidden is empty or all zero');
    assert.ok([...gl.reports().values()].includes(report) || [...gl.reports().keys()].some((k) => samePath(k, model)),
      'api.reports() does not hold the report');

    assert.ok(gl.openPanels() >= 1, `openPanels() = ${gl.openPanels()}`);
    await within(gl.panelReady(), 60_000, 'the panel did not report ready');
    const panelTab = await waitFor(() => allTabs().find((t) => t.input instanceof vscode.TabInputWebview));
    assert.ok(panelTab, `no webview tab among: ${allTabs().map((t) => t.label).join(', ')}`);
    assert.notStrictEqual(panelTab.group.viewColumn, python.viewColumn, 'the panel did not open beside the Python editor');
  });

  it('the "Analyze Gradient Flow" command analyses the model it is given', async () => {
    const gl = await api();
    const model = workspaceFile('adding-gru.onnx');
    await within(vscode.commands.executeCommand('gradientLens.analyze', vscode.Uri.file(model)), ANALYZE_MS, 'gradientLens.analyze did not finish');
    const report = await waitFor(() => [...gl.reports().values()].find((r) => samePath(r.model.path, model)), 30_000);
    assert.ok(report, `no report for ${model} in api.reports(): ${[...gl.reports().keys()].join(', ')}`);
    assert.strictEqual(report.layers[0]?.op, 'GRU');
    assert.ok(gl.openPanels() >= 1, `openPanels() = ${gl.openPanels()}`);
  });
});
