/** The commands, menus and custom editor the extension contributes (issue 4, "Entry points"). */
import * as assert from 'assert';
import * as vscode from 'vscode';
import { extension } from './helpers';

interface CommandContribution { command: string; title: string; category?: string }
interface MenuItem { command: string; when?: string; group?: string }
interface CustomEditorContribution { viewType: string; selector: { filenamePattern: string }[]; priority?: string }
interface Contributes {
  commands?: CommandContribution[];
  menus?: Record<string, MenuItem[]>;
  customEditors?: CustomEditorContribution[];
}

const contributes = (): Contributes => extension().packageJSON.contributes ?? {};

/** The title the command palette shows: "Category: Title". */
function paletteTitle(id: string): string | undefined {
  const c = contributes().commands?.find((x) => x.command === id);
  return c && (c.category ? `${c.category}: ${c.title}` : c.title);
}

/** The menu entries of `menu` whose `when` clause contains `clause` (spaces normalised). */
function menuEntries(menu: string, clause: string): MenuItem[] {
  const squash = (s: string) => s.replace(/\s+/g, '');
  return (contributes().menus?.[menu] ?? []).filter((m) => m.command.startsWith('gradientLens.') && squash(m.when ?? '').includes(squash(clause)));
}

describe('contributions', () => {
  it('registers every command once the extension is active', async () => {
    await extension().activate();
    const registered = new Set(await vscode.commands.getCommands(true));
    const expected = ['gradientLens.analyze', 'gradientLens.analyzeModel', 'gradientLens.compareModels', 'gradientLens.exportReport', 'gradientLens.rerun'];
    assert.deepStrictEqual(expected.filter((c) => !registered.has(c)), [], 'commands not registered');
    const contributed = new Set((contributes().commands ?? []).map((c) => c.command));
    assert.deepStrictEqual(expected.filter((c) => !contributed.has(c)), [], 'commands not in package.json contributes.commands');
  });

  it('titles the commands as the command palette should show them', () => {
    assert.strictEqual(paletteTitle('gradientLens.analyzeModel'), 'Gradient Lens: Analyze ONNX Model…');
    assert.strictEqual(paletteTitle('gradientLens.compareModels'), 'Gradient Lens: Compare Two Models…');
    assert.strictEqual(paletteTitle('gradientLens.exportReport'), 'Gradient Lens: Export Report…');
    assert.strictEqual(paletteTitle('gradientLens.rerun'), 'Gradient Lens: Re-run Analysis');
    assert.strictEqual(contributes().commands?.find((c) => c.command === 'gradientLens.analyze')?.title, 'Analyze Gradient Flow');
  });

  it('offers "Analyze Gradient Flow" on .onnx files in the explorer', () => {
    const entries = menuEntries('explorer/context', 'resourceExtname == .onnx');
    assert.ok(entries.some((m) => m.command === 'gradientLens.analyze'), `explorer/context: ${JSON.stringify(contributes().menus?.['explorer/context'])}`);
  });

  it('offers the analysis in the editor title of an open model', () => {
    const entries = menuEntries('editor/title', 'activeCustomEditorId == gradientLens.modelOverview');
    assert.ok(entries.some((m) => m.command === 'gradientLens.analyze'), `editor/title: ${JSON.stringify(contributes().menus?.['editor/title'])}`);
  });

  it('contributes the model overview as the default editor of *.onnx', () => {
    const editor = contributes().customEditors?.find((e) => e.viewType === 'gradientLens.modelOverview');
    assert.ok(editor, 'no customEditors entry with viewType gradientLens.modelOverview');
    assert.ok(editor.selector.some((s) => s.filenamePattern === '*.onnx'), `selector: ${JSON.stringify(editor.selector)}`);
    assert.ok(editor.priority === undefined || editor.priority === 'default', `priority: ${editor.priority}`);
  });
});
