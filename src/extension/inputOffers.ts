/**
 * Inputs beside the model (SPEC: never silently analyse noise when the user has data). After a
 * run on random values, a .npy next to the model that fits a random input is offered — "Use and
 * re-run" or "Not for this model" — and the answer is remembered per model and input in the
 * workspace state; a remembered file is used on later runs unless the panel names another.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { PanelModel, PanelSettings } from '../protocol/panel';
import { readNpyShape } from '../inputs/npy';
import { findCandidate } from './inputCandidates';

/** Per model path: input name → the chosen file, or null when the user declined the offer. */
type Choices = Record<string, Record<string, string | null>>;
const KEY = 'gradientLens.inputChoices';

export class InputOffers {
  /** Offers shown in this session (one per model and input, even when not answered). */
  private readonly asked = new Set<string>();

  constructor(private readonly memento: vscode.Memento) {}

  private choices(): Choices {
    return this.memento.get<Choices>(KEY, {});
  }

  private async remember(modelPath: string, input: string, file: string | null): Promise<void> {
    const all = this.choices();
    all[modelPath] = { ...(all[modelPath] ?? {}), [input]: file };
    await this.memento.update(KEY, all);
  }

  /** Settings with the remembered files of these models' inputs filled in where the panel names none. */
  apply(modelPaths: readonly string[], settings: PanelSettings): PanelSettings {
    const inputs = { ...settings.inputs };
    for (const m of modelPaths) {
      for (const [input, file] of Object.entries(this.choices()[m] ?? {})) {
        if (file && !(input in inputs) && fs.existsSync(file)) inputs[input] = file;
      }
    }
    return { ...settings, inputs };
  }

  /** After a run: offer fitting files for random inputs; resolves with the inputs to re-run with, if accepted. */
  async offer(models: readonly PanelModel[]): Promise<Record<string, string> | undefined> {
    for (const m of models) {
      const r = m.report;
      const random = Object.entries(r.input.sources).filter(([, v]) => v === 'random').map(([k]) => k);
      if (!random.length) continue;
      const dir = path.dirname(m.path);
      let names: Set<string>;
      try { names = new Set(fs.readdirSync(dir)); } catch { continue; }
      const remembered = this.choices()[m.path] ?? {};
      const found: Record<string, string> = {};
      for (const input of random) {
        const key = `${m.path}\n${input}`;
        if (input in remembered || this.asked.has(key)) continue;
        const info = r.model.graphInputs.find((g) => g.name === input);
        if (!info) continue;
        const file = findCandidate(m.path, info, r.model.graphInputs.length, names, (f) => readNpyShape(f)?.shape, r.input.calls);
        if (file) { found[input] = file; this.asked.add(key); }
      }
      const entries = Object.entries(found);
      if (!entries.length) continue;
      const list = entries.map(([input, file]) => `'${input}' ← ${path.basename(file)}`).join(', ');
      const use = vscode.l10n.t('Use and re-run');
      const no = vscode.l10n.t('Not for this model');
      const answer = await vscode.window.showInformationMessage(
        vscode.l10n.t('{0} was analysed on random values; beside it there is data that fits: {1}. Use it?', m.label, list), use, no);
      if (answer === use) {
        for (const [input, file] of entries) await this.remember(m.path, input, file);
        return found;
      }
      if (answer === no) for (const [input] of entries) await this.remember(m.path, input, null);
    }
    return undefined;
  }
}
