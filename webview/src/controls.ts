/**
 * The analysis settings form (host mode only): sequence length, batch, seed, objective and
 * output, input .npy files, execution provider, Jacobian mode, saturation thresholds, Re-run and
 * Export. Built from @vscode/webview-ui-toolkit controls; every control has a visible label and
 * is reachable with Tab in reading order.
 */
import type { Button, Dropdown, TextField } from '@vscode/webview-ui-toolkit';
import type { PanelModel, PanelSettings } from '../../src/protocol/panel';
import { h, uid } from './dom';
import { baseName } from './format';

export interface ControlsHandlers {
  rerun(settings: PanelSettings): void;
  pickInput(input: string): void;
  pickTarget(): void;
  exportReport(format: 'html' | 'json'): void;
  /** Every valid edit (the panel persists it for a reload). */
  changed(settings: PanelSettings): void;
}

const OBJECTIVES: { value: PanelSettings['objective']; label: string }[] = [
  { value: 'sum', label: 'sum' },
  { value: 'mean', label: 'mean' },
  { value: 'l2', label: 'l2 (½‖y‖²)' },
  { value: 'last', label: 'last step' },
  { value: 'target', label: 'target (MSE)' },
];

const EPS: { value: PanelSettings['ep']; label: string }[] = [
  { value: 'auto', label: 'auto' },
  { value: 'cpu', label: 'CPU' },
  { value: 'cuda', label: 'CUDA' },
];

const JACOBIAN: { value: string; label: string }[] = [
  { value: 'auto', label: 'auto' },
  { value: 'exact', label: 'exact' },
  { value: 'probes', label: 'random probes' },
  { value: 'off', label: 'off' },
];

/** A text field under its own label (the same markup as the dropdowns, so the rows line up). */
function textField(label: string, value: string, opts: { placeholder?: string; size?: number; hint?: string } = {}): { field: HTMLElement; input: TextField } {
  const id = uid('gl-tf');
  const f = document.createElement('vscode-text-field') as TextField;
  f.id = id;
  f.setAttribute('value', value);
  f.setAttribute('aria-label', label);
  if (opts.placeholder) f.setAttribute('placeholder', opts.placeholder);
  f.setAttribute('size', String(opts.size ?? 8));
  if (opts.hint) f.title = opts.hint;
  const field = h('div', { class: 'gl-field' }, h('label', { for: id, class: 'gl-field-label', title: opts.hint }, label), f);
  return { field, input: f };
}

function dropdown(label: string, options: { value: string; label: string }[], selected: string): { field: HTMLElement; dropdown: Dropdown } {
  const id = uid('gl-dd');
  const dd = document.createElement('vscode-dropdown') as Dropdown;
  dd.id = id;
  dd.setAttribute('aria-label', label);
  dd.setAttribute('position', 'below');
  for (const o of options) {
    const opt = h('vscode-option', { value: o.value, selected: o.value === selected }, o.label);
    dd.appendChild(opt);
  }
  const field = h('div', { class: 'gl-field' }, h('label', { for: id, class: 'gl-field-label' }, label), dd);
  return { field, dropdown: dd };
}

function button(label: string, appearance: 'primary' | 'secondary', onClick: () => void, ariaLabel?: string): Button {
  const b = document.createElement('vscode-button') as Button;
  b.setAttribute('appearance', appearance);
  b.textContent = label;
  if (ariaLabel) b.setAttribute('aria-label', ariaLabel);
  b.addEventListener('click', onClick);
  return b;
}

export class Controls {
  readonly el: HTMLElement;
  private readonly inputs: Record<string, string>;
  private target: string | undefined;
  private readonly inputLabels = new Map<string, HTMLElement>();
  private readonly inputClears = new Map<string, Button>();
  private targetLabel: HTMLElement | undefined;
  private readonly error: HTMLElement;
  private readonly rerunButton: Button;
  private readonly read: () => PanelSettings | string;

  constructor(initial: PanelSettings, models: PanelModel[] | undefined, private readonly handlers: ControlsHandlers) {
    this.inputs = { ...initial.inputs };
    this.target = initial.target;
    const seqLenBox = textField('Sequence length', initial.seqLen !== undefined ? String(initial.seqLen) : '', { placeholder: 'model default', hint: 'T, the length of the recurrent sequence axis; empty: the model\'s static value, else 32' });
    const batchBox = textField('Batch', initial.batch !== undefined ? String(initial.batch) : '', { placeholder: 'model default', size: 6 });
    // Streaming models (state fed back from one call to the next): how many calls.
    const streaming = (models ?? []).some((m) => m.report.input.calls !== undefined);
    const callsBox = textField('Calls', initial.calls !== undefined ? String(initial.calls) : '', { placeholder: '32', size: 6, hint: 'streaming model: consecutive calls analysed, the state fed back from each call to the next; empty: 32' });
    callsBox.field.hidden = !streaming;
    const seedBox = textField('Seed', String(initial.seed), { size: 6, hint: 'seed of the random inputs' });
    const objective = dropdown('Objective', OBJECTIVES, initial.objective);
    const outputs = uniq((models ?? []).flatMap((m) => m.report.model.graphOutputs.map((o) => o.name)));
    const output = dropdown('Output', [{ value: '', label: outputs.length ? `first (${outputs[0]})` : 'first output' }, ...outputs.map((o) => ({ value: o, label: o }))], initial.output ?? '');
    const ep = dropdown('Execution provider', EPS, initial.ep);
    const probesMatch = /^probes:(\d+)$/.exec(initial.jacobian);
    const jacobian = dropdown('Jacobian', JACOBIAN, probesMatch ? 'probes' : initial.jacobian);
    const probesBox = textField('Probes K', probesMatch ? probesMatch[1] : '8', { size: 4, hint: 'number of random probe vectors for the Jacobian estimate' });
    const lowBox = textField('Saturated below', String(initial.saturationLow), { size: 5, hint: 'a gate value below this is left-saturated' });
    const highBox = textField('Saturated above', String(initial.saturationHigh), { size: 5, hint: 'a gate value above this is right-saturated' });
    const [seqLen, batch, seed, probes, low, high] = [seqLenBox, batchBox, seedBox, probesBox, lowBox, highBox].map((b) => b.input);
    const probesField = probesBox.field;

    this.read = () => {
      const int = (f: TextField, name: string, min: number, optional: boolean): number | undefined | string => {
        const s = (f.value ?? '').trim();
        if (!s && optional) return undefined;
        if (!/^\d+$/.test(s) || Number(s) < min) return `${name} must be a whole number ≥ ${min}${optional ? ' (or empty for the default)' : ''}.`;
        return Number(s);
      };
      const T = int(seqLen, 'Sequence length', 1, true);
      if (typeof T === 'string') return T;
      const B = int(batch, 'Batch', 1, true);
      if (typeof B === 'string') return B;
      const C = streaming ? int(callsBox.input, 'Calls', 1, true) : undefined;
      if (typeof C === 'string') return C;
      const S = int(seed, 'Seed', 0, false);
      if (typeof S === 'string') return S;
      const lo = Number((low.value ?? '').trim());
      const hi = Number((high.value ?? '').trim());
      if (!(lo > 0 && hi < 1 && lo < hi)) return 'The saturation thresholds must satisfy 0 < low < high < 1.';
      let jac = jacobian.dropdown.value;
      if (jac === 'probes') {
        const K = int(probes, 'Probes K', 1, false);
        if (typeof K === 'string') return K;
        jac = `probes:${K}`;
      }
      const obj = objective.dropdown.value as PanelSettings['objective'];
      if (obj === 'target' && !this.target) return "The 'target' objective needs a target .npy: choose one below.";
      return {
        seqLen: T, batch: B, seed: S ?? 0, ...(C !== undefined ? { calls: C } : {}), objective: obj, output: output.dropdown.value || undefined,
        ep: ep.dropdown.value as PanelSettings['ep'], jacobian: jac, saturationLow: lo, saturationHigh: hi,
        inputs: { ...this.inputs }, target: obj === 'target' ? this.target : undefined,
      };
    };

    // Graph inputs of every shown model (a comparison usually shares them).
    const graphInputs = new Map<string, string>();
    for (const m of models ?? []) {
      for (const gi of m.report.model.graphInputs) {
        if (!graphInputs.has(gi.name)) graphInputs.set(gi.name, `${gi.elemType}${gi.shape ? ` [${gi.shape.map((d) => d ?? '?').join(', ')}]` : ''}`);
      }
    }
    for (const name of Object.keys(this.inputs)) if (!graphInputs.has(name)) graphInputs.set(name, '');
    const inputRows = [...graphInputs.entries()].map(([name, type]) => {
      const label = h('span', { class: 'gl-input-file' });
      this.inputLabels.set(name, label);
      const clear = button('Use random', 'secondary', () => {
        delete this.inputs[name];
        this.refreshInputs();
        this.emit();
      }, `Use random values for input ${name}`);
      this.inputClears.set(name, clear);
      return h('div', { class: 'gl-input-row', role: 'group', 'aria-label': `Input ${name}` },
        h('span', { class: 'gl-input-name' }, h('code', {}, name), type ? h('span', { class: 'gl-muted' }, ` ${type}`) : null),
        label,
        button('Choose…', 'secondary', () => handlers.pickInput(name), `Choose a .npy file for input ${name}`),
        clear);
    });
    this.targetLabel = h('span', { class: 'gl-input-file' });
    const targetRow = h('div', { class: 'gl-input-row', role: 'group', 'aria-label': 'Target for the MSE objective' },
      h('span', { class: 'gl-input-name' }, 'target'), this.targetLabel,
      button('Choose…', 'secondary', () => handlers.pickTarget(), 'Choose the target .npy for the MSE objective'));

    this.error = h('div', { class: 'gl-control-error', role: 'alert' });
    this.rerunButton = button('Re-run', 'primary', () => {
      const s = this.read();
      if (typeof s === 'string') {
        this.error.textContent = s;
        return;
      }
      this.error.textContent = '';
      handlers.rerun(s);
    }, 'Re-run the analysis with these settings');

    const syncVisibility = () => {
      probesField.hidden = jacobian.dropdown.value !== 'probes';
      targetRow.hidden = objective.dropdown.value !== 'target';
    };
    const fields = h('div', { class: 'gl-fields' },
      seqLenBox.field, callsBox.field, batchBox.field, seedBox.field,
      objective.field, output.field, ep.field, jacobian.field, probesField,
      lowBox.field, highBox.field);
    const inputsBox = h('div', { class: 'gl-inputs' }, h('div', { class: 'gl-field-label' }, 'Input values (.npy)'), ...inputRows, targetRow);
    const actions = h('div', { class: 'gl-actions' },
      this.rerunButton,
      button('Export HTML…', 'secondary', () => handlers.exportReport('html'), 'Export a standalone HTML report'),
      button('Export JSON…', 'secondary', () => handlers.exportReport('json'), 'Export the report as JSON'));
    this.el = h('details', { class: 'gl-controls', open: true },
      h('summary', {}, h('span', { class: 'gl-summary-title' }, 'Analysis settings')),
      fields, inputsBox, h('div', { class: 'gl-actions-row' }, actions, this.error));
    this.el.setAttribute('aria-label', 'Analysis settings');
    this.el.addEventListener('change', () => {
      syncVisibility();
      this.emit();
    });
    this.el.addEventListener('input', () => this.emit());
    this.el.addEventListener('keydown', (e) => {
      if ((e as KeyboardEvent).key === 'Enter' && (e.target as HTMLElement).tagName === 'VSCODE-TEXT-FIELD') this.rerunButton.click();
    });
    syncVisibility();
    this.refreshInputs();
  }

  inputPicked(input: string, file: string): void {
    this.inputs[input] = file;
    this.refreshInputs();
    this.emit();
  }

  targetPicked(file: string): void {
    this.target = file;
    this.refreshInputs();
    this.emit();
  }

  setBusy(busy: boolean): void {
    if (busy) this.rerunButton.setAttribute('disabled', '');
    else this.rerunButton.removeAttribute('disabled');
  }

  private emit(): void {
    const s = this.read();
    if (typeof s === 'string') {
      this.error.textContent = s;
      return;
    }
    this.error.textContent = '';
    this.handlers.changed(s);
  }

  private refreshInputs(): void {
    for (const [name, label] of this.inputLabels) {
      const file = this.inputs[name];
      label.textContent = file ? baseName(file) : 'random values (from the seed)';
      label.title = file ?? '';
      label.classList.toggle('gl-muted', !file);
      const clear = this.inputClears.get(name);
      if (clear) clear.hidden = !file;
    }
    if (this.targetLabel) {
      this.targetLabel.textContent = this.target ? baseName(this.target) : 'none chosen';
      this.targetLabel.title = this.target ?? '';
      this.targetLabel.classList.toggle('gl-muted', !this.target);
    }
  }
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
