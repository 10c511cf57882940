/** CodeLens beside the code that exports or builds an analysed model. */
import * as assert from 'assert';
import * as vscode from 'vscode';
import { ANALYZE_MS, api, waitFor, within, workspaceFile } from './helpers';

const lensTitles = (lenses: vscode.CodeLens[] | undefined) => (lenses ?? []).map((l) => l.command?.title ?? '');

describe('CodeLens', () => {
  it('summarises the analysed LSTM on its export line and on its nn.LSTM constructor', async () => {
    const gl = await api();
    await within(gl.analyze(workspaceFile('adding-lstm.onnx')), ANALYZE_MS, 'api.analyze(adding-lstm.onnx) did not settle');
    const uri = vscode.Uri.file(workspaceFile('train_adding.py'));
    const doc = await vscode.workspace.openTextDocument(uri);
    const lineOf = (needle: string) => doc.getText().split('\n').findIndex((l) => l.includes(needle));
    const exportLine = lineOf('torch.onnx.export(');
    const ctorLine = lineOf('nn.LSTM(2, 32)');

    // Providers refresh on an event after the analysis; ask until ours answer. The 100 resolves
    // lenses whose command comes from resolveCodeLens.
    const ours = (lenses: vscode.CodeLens[] | undefined) => (lenses ?? []).filter((l) => l.command?.title.startsWith('Gradient Lens:'));
    let lenses: vscode.CodeLens[] | undefined;
    await waitFor(async () => {
      lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 100);
      return ours(lenses).length >= 2;
    }, 30_000, 500);
    const mine = ours(lenses);
    assert.ok(mine.length > 0, `no "Gradient Lens:" lens; titles: ${JSON.stringify(lensTitles(lenses))}`);
    for (const l of mine) assert.match(l.command!.title, /forget gates/, `lens title: ${l.command!.title}`);
    const lines = mine.map((l) => l.range.start.line);
    assert.ok(lines.includes(exportLine), `no lens on the torch.onnx.export line ${exportLine}; lens lines ${lines}`);
    assert.ok(lines.includes(ctorLine), `no lens on the nn.LSTM line ${ctorLine}; lens lines ${lines}`);
    const commands = new Set(await vscode.commands.getCommands(true));
    for (const l of mine) assert.ok(commands.has(l.command!.command), `lens command ${l.command!.command} is not registered`);
  });
});
