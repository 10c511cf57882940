/** The read-only model overview, the custom editor of *.onnx. */
import * as assert from 'assert';
import * as vscode from 'vscode';
import { allTabs, closeAllEditors, waitFor, workspaceFile } from './helpers';

const VIEW_TYPE = 'gradientLens.modelOverview';

function overviewTab(file: string): vscode.Tab | undefined {
  return allTabs().find((t) => t.input instanceof vscode.TabInputCustom && t.input.viewType === VIEW_TYPE && t.input.uri.fsPath === file);
}

describe('model overview editor', () => {
  beforeEach(closeAllEditors);

  it('opens an .onnx with vscode.openWith', async () => {
    const file = workspaceFile('adding-lstm.onnx');
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(file), VIEW_TYPE);
    const tab = await waitFor(() => overviewTab(file), 30_000);
    assert.ok(tab, `no ${VIEW_TYPE} tab; tabs: ${allTabs().map((t) => t.label).join(', ')}`);
  });

  it('is what a plain open of an .onnx shows (priority default), not the binary-file notice', async () => {
    const file = workspaceFile('adding-rnn.onnx');
    await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(file));
    const tab = await waitFor(() => overviewTab(file), 30_000);
    assert.ok(tab, `vscode.open did not use ${VIEW_TYPE}; tabs: ${allTabs().map((t) => `${t.label} (${(t.input as object | undefined)?.constructor.name})`).join(', ')}`);
  });
});
