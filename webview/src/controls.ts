/**
 * The analysis settings (host mode only): a one-line toolbar — Settings (opens the drawer), a
 * summary of what the shown result was computed with, Re-run, Export — and a drawer with the
 * fields: sequence length, calls, batch, seed, objective and output (and a time axis when the
 * output needs one), execution provider, Jacobian mode, saturation thresholds, input .npy files.
 *
 * The results come first; the drawer is closed unless the user opens it (its state persists).
 * Text fields are native inputs with their own <label>, so every control has an accessible name;
 * a control the model makes meaningless (a fixed sequence length, 'last step' on an output with
 * no time axis) is disabled with the reason in its title and beside it.
 */
import { exactEstimateAll, roughDuration } from '../../src/analysis/exactCost';
import type { Button, Dropdown } from '@vscode/webview-ui-toolkit';
import type { PanelModel, PanelSettings } from '../../src/protocol/panel';
import type { Report, ValueInfoSummary } from '../../src/report/types';
import { h, uid } from './dom';
import { baseName } from './format';
import { fixedSizes, settingsSummary } from './settingsText';

export { settingsSummary };

export interface ControlsHandlers {
  rerun(settings: PanelSettings): void;
  pickInput(input: string): void;
  pickTarget(): void;
  exportReport(format: 'html' | 'json'): void;
  /** Every valid edit (the panel persists it for a reload). */
  changed(settings: PanelSettings): void;
  /** The drawer was opened or closed (persisted). */
  drawer?(open: boolean): void;
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
  { value: 'auto', label: 'auto (exact when small, else 8 probes)' },
  { value: 'exact', label: 'exact' },
  { value: 'probes', label: 'random probes' },
  { value: 'off', label: 'off' },
];

interface Field { field: HTMLElement; input: HTMLInputElement; note: HTMLElement }

/** A native text input under its own label; `note` says why it is disabled, when it is. */
function textField(label: string, value: string, opts: { placeholder?: string; size?: number; hint?: string; testid?: string } = {}): Field {
  const id = uid('gl-tf');
  const input = h('input', {
    id, class: 'gl-input', type: 'text', value, size: opts.size ?? 8, placeholder: opts.placeholder ?? '', spellcheck: 'false',
    'data-testid': opts.testid, title: opts.hint,
  }) as HTMLInputElement;
  input.value = value;
  const note = h('span', { class: 'gl-field-note gl-muted', hidden: true });
  const field = h('div', { class: 'gl-field' }, h('label', { for: id, class: 'gl-field-label', title: opts.hint }, label), input, note);
  return { field, input, note };
}

function dropdown(label: string, options: { value: string; label: string; disabled?: string }[], selected: string): { field: HTMLElement; dropdown: Dropdown; note: HTMLElement } {
  const id = uid('gl-dd');
  const dd = document.createElement('vscode-dropdown') as Dropdown;
  dd.id = id;
  dd.setAttribute('aria-label', label);
  dd.setAttribute('position', 'below');
  for (const o of options) {
    const opt = h('vscode-option', { value: o.value, selected: o.value === selected, disabled: !!o.disabled, title: o.disabled ?? '' }, o.disabled ? `${o.label} — ${o.disabled}` : o.label);
    dd.appendChild(opt);
  }
  const note = h('span', { class: 'gl-field-note gl-muted', hidden: true });
  const field = h('div', { class: 'gl-field' }, h('label', { for: id, class: 'gl-field-label' }, label), dd, note);
  return { field, dropdown: dd, note };
}

function button(label: string, appearance: 'primary' | 'secondary', onClick: () => void, ariaLabel?: string, testid?: string): Button {
  const b = document.createElement('vscode-button') as Button;
  b.setAttribute('appearance', appearance);
  b.textContent = label;
  if (ariaLabel) b.setAttribute('aria-label', ariaLabel);
  if (testid) b.dataset.testid = testid;
  b.addEventListener('click', onClick);
  return b;
}

function disable(f: { field: HTMLElement; note: HTMLElement }, control: HTMLElement, reason: string | undefined): void {
  if (reason) control.setAttribute('disabled', '');
  else control.removeAttribute('disabled');
  control.title = reason ?? control.title;
  f.note.textContent = reason ?? '';
  f.note.hidden = !reason;
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
  private readonly toggle: HTMLButtonElement;
  private readonly drawer: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly read: () => PanelSettings | string;

  constructor(initial: PanelSettings, models: PanelModel[] | undefined, private readonly handlers: ControlsHandlers, drawerOpen = false,
    modelInputs: ValueInfoSummary[] = []) {
    this.inputs = { ...initial.inputs };
    this.target = initial.target;
    const reports = (models ?? []).map((m) => m.report);
    const fixed = reports.length ? fixedSizes(reports[0]) : {};
    const seqLenBox = textField('Sequence length', initial.seqLen !== undefined ? String(initial.seqLen) : '', { placeholder: 'model default', hint: 'the length of the inputs\' sequence axis (behind a strided front end the layer runs fewer steps); empty: the model\'s static value, else 32', testid: 'control-seqlen' });
    disable(seqLenBox, seqLenBox.input, fixed.seqLen && `fixed at ${fixed.seqLen.size} by input ${fixed.seqLen.input}`);
    // Streaming models (state fed back from one call to the next): how many calls.
    const streaming = reports.some((r) => r.input.calls !== undefined);
    const callsBox = textField('Calls', initial.calls !== undefined ? String(initial.calls) : '', { placeholder: '32', size: 6, hint: 'streaming model: consecutive calls analysed, the state fed back from each call to the next; empty: 32', testid: 'control-calls' });
    callsBox.field.hidden = !streaming;
    const batchBox = textField('Batch', initial.batch !== undefined ? String(initial.batch) : '', { placeholder: 'model default', size: 6, testid: 'control-batch' });
    disable(batchBox, batchBox.input, fixed.batch && `fixed at ${fixed.batch.size} by input ${fixed.batch.input}`);
    const seedBox = textField('Seed', String(initial.seed), { size: 6, hint: 'seed of the random inputs', testid: 'control-seed' });
    // 'last step' needs a time axis on the output: the shown report says whether the output it used has one.
    const shown = reports[0]?.objective;
    const noTimeAxis = shown && shown.outputTimeAxis === null && (initial.output ?? shown.output) === shown.output;
    const objective = dropdown('Objective', OBJECTIVES, initial.objective);
    const timeAxisBox = textField('Time axis', initial.timeAxis !== undefined ? String(initial.timeAxis) : '', { size: 4, hint: 'which axis of the output is time, for the \'last step\' objective', testid: 'control-timeaxis' });
    const outputs = uniq(reports.flatMap((r) => r.model.graphOutputs.map((o) => o.name)));
    const output = dropdown('Output', [{ value: '', label: outputs.length ? `first (${outputs[0]})` : 'first output' }, ...outputs.map((o) => ({ value: o, label: o }))], initial.output ?? '');
    const ep = dropdown('Execution provider', EPS, initial.ep);
    const probesMatch = /^probes:(\d+)$/.exec(initial.jacobian);
    const jacobian = dropdown('Jacobian', JACOBIAN, probesMatch ? 'probes' : initial.jacobian);
    jacobian.dropdown.dataset.testid = 'control-jacobian';
    const probesBox = textField('Probes K', probesMatch ? probesMatch[1] : '8', { size: 4, hint: 'number of random probe vectors for the Jacobian estimate', testid: 'control-probes' });
    const lowBox = textField('Saturated below', String(initial.saturationLow), { size: 5, hint: 'a gate value below this is left-saturated' });
    const highBox = textField('Saturated above', String(initial.saturationHigh), { size: 5, hint: 'a gate value above this is right-saturated' });

    this.read = () => {
      const int = (f: HTMLInputElement, name: string, min: number, optional: boolean): number | undefined | string => {
        if (f.disabled) return undefined;
        const s = (f.value ?? '').trim();
        if (!s && optional) return undefined;
        if (!/^-?\d+$/.test(s) || Number(s) < min) return `${name} must be a whole number ≥ ${min}${optional ? ' (or empty for the default)' : ''}.`;
        return Number(s);
      };
      const T = int(seqLenBox.input, 'Sequence length', 1, true);
      if (typeof T === 'string') return T;
      const B = int(batchBox.input, 'Batch', 1, true);
      if (typeof B === 'string') return B;
      const C = streaming ? int(callsBox.input, 'Calls', 1, true) : undefined;
      if (typeof C === 'string') return C;
      const S = int(seedBox.input, 'Seed', 0, false);
      if (typeof S === 'string') return S;
      const lo = Number((lowBox.input.value ?? '').trim());
      const hi = Number((highBox.input.value ?? '').trim());
      if (!(lo >= 0 && hi <= 1 && lo < hi)) return 'The saturation thresholds must satisfy 0 ≤ low < high ≤ 1.';
      let jac = jacobian.dropdown.value;
      if (jac === 'probes') {
        const K = int(probesBox.input, 'Probes K', 1, false);
        if (typeof K === 'string') return K;
        jac = `probes:${K}`;
      }
      const obj = objective.dropdown.value as PanelSettings['objective'];
      let axis: number | undefined;
      if (obj === 'last' && !timeAxisBox.field.hidden) {
        const a = int(timeAxisBox.input, 'Time axis', -16, !noTimeAxis);
        if (typeof a === 'string') return noTimeAxis ? `The output '${shown!.output}' has no time axis of its own: give the Time axis for 'last step'.` : a;
        axis = a;
      }
      if (obj === 'target' && !this.target) return "The 'target' objective needs a target .npy: choose one under Inputs.";
      return {
        seqLen: T, batch: B, seed: S ?? 0, ...(C !== undefined ? { calls: C } : {}), objective: obj, output: output.dropdown.value || undefined,
        ...(axis !== undefined ? { timeAxis: axis } : {}),
        ep: ep.dropdown.value as PanelSettings['ep'], jacobian: jac, saturationLow: lo, saturationHigh: hi,
        inputs: { ...this.inputs }, target: obj === 'target' ? this.target : undefined,
      };
    };

    // Graph inputs of every shown model (a comparison usually shares them).
    const graphInputs = new Map<string, string>();
    for (const r of reports) {
      for (const gi of r.model.graphInputs) {
        if (!graphInputs.has(gi.name)) graphInputs.set(gi.name, `${gi.elemType}${gi.shape ? ` [${gi.shape.map((d) => d ?? '?').join(', ')}]` : ''}`);
      }
    }
    // No result yet (the first run failed): the model's inputs as the host read them.
    for (const gi of modelInputs) if (!graphInputs.has(gi.name)) graphInputs.set(gi.name, `${gi.elemType}${gi.shape ? ` [${gi.shape.map((d) => d ?? '?').join(', ')}]` : ''}`);
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
        button('Choose…', 'secondary', () => handlers.pickInput(name), `Choose a .npy file for input ${name}`, `choose-input-${name}`),
        clear);
    });
    this.targetLabel = h('span', { class: 'gl-input-file' });
    const targetRow = h('div', { class: 'gl-input-row', role: 'group', 'aria-label': 'Target for the MSE objective' },
      h('span', { class: 'gl-input-name' }, 'target'), this.targetLabel,
      button('Choose…', 'secondary', () => handlers.pickTarget(), 'Choose the target .npy for the MSE objective'));

    this.error = h('span', { class: 'gl-control-error', role: 'alert', 'data-testid': 'control-error' });
    this.rerunButton = button('Re-run', 'primary', () => {
      const s = this.read();
      if (typeof s === 'string') {
        this.error.textContent = s;
        this.setDrawer(true);
        return;
      }
      this.error.textContent = '';
      handlers.rerun(s);
    }, 'Re-run the analysis with these settings', 'rerun');

    const syncVisibility = () => {
      probesBox.field.hidden = jacobian.dropdown.value !== 'probes';
      // Exact after a probes run: what it would cost, before it starts.
      const est = jacobian.dropdown.value === 'exact' ? exactEstimateAll(reports) : undefined;
      jacobian.note.textContent = est ? `≈ ${roughDuration(est.ms)} for ${reports.length > 1 ? 'these models' : 'this model'} (${est.rowsExact} adjoint rows per step instead of ${est.rowsNow}; estimated from the last run)` : '';
      jacobian.note.hidden = !jacobian.note.textContent;
      targetRow.hidden = objective.dropdown.value !== 'target';
      // The time axis is asked for when 'last step' needs it, or when one was given.
      timeAxisBox.field.hidden = objective.dropdown.value !== 'last' || !(noTimeAxis || initial.timeAxis !== undefined);
      objective.note.textContent = noTimeAxis && objective.dropdown.value === 'last' ? `the output '${shown!.output}' has no time axis of its own: give it` : '';
      objective.note.hidden = !objective.note.textContent;
    };
    const fields = h('div', { class: 'gl-fields' },
      seqLenBox.field, callsBox.field, batchBox.field, seedBox.field,
      objective.field, timeAxisBox.field, output.field, ep.field, jacobian.field, probesBox.field,
      lowBox.field, highBox.field);
    const inputsBox = h('div', { class: 'gl-inputs' }, h('div', { class: 'gl-field-label' }, 'Input values (.npy)'), ...inputRows, targetRow);

    const drawerId = uid('gl-drawer');
    this.summary = h('span', { class: 'gl-toolbar-summary gl-muted', 'data-testid': 'settings-summary' });
    this.toggle = h('button', { class: 'gl-toggle', type: 'button', 'aria-expanded': 'false', 'aria-controls': drawerId, 'data-testid': 'settings-toggle' },
      h('span', { class: 'gl-toggle-icon', 'aria-hidden': 'true' }, '▸'), ' Settings') as HTMLButtonElement;
    this.toggle.addEventListener('click', () => this.setDrawer(this.drawer.hidden));
    const toolbar = h('div', { class: 'gl-toolbar', role: 'toolbar', 'aria-label': 'Analysis' },
      this.toggle, this.summary,
      h('span', { class: 'gl-toolbar-actions' },
        this.rerunButton,
        button('Export HTML…', 'secondary', () => handlers.exportReport('html'), 'Export a standalone HTML report'),
        button('Export JSON…', 'secondary', () => handlers.exportReport('json'), 'Export the report as JSON')),
      this.error);
    this.drawer = h('div', { class: 'gl-drawer', id: drawerId, role: 'region', 'aria-label': 'Analysis settings', hidden: true, 'data-testid': 'settings-drawer' },
      fields, inputsBox);
    this.el = h('div', { class: 'gl-controls' }, toolbar, this.drawer);
    this.drawer.addEventListener('change', () => {
      syncVisibility();
      this.emit();
    });
    this.drawer.addEventListener('input', () => this.emit());
    this.drawer.addEventListener('keydown', (e) => {
      if ((e as KeyboardEvent).key === 'Enter' && (e.target as HTMLElement).tagName === 'INPUT') this.rerunButton.click();
    });
    syncVisibility();
    this.refreshInputs();
    this.summary.textContent = settingsSummary(initial);
    this.setDrawer(drawerOpen, false);
  }

  get drawerOpen(): boolean {
    return !this.drawer.hidden;
  }

  setDrawer(open: boolean, notify = true): void {
    this.drawer.hidden = !open;
    this.toggle.setAttribute('aria-expanded', String(open));
    this.toggle.querySelector('.gl-toggle-icon')!.textContent = open ? '▾' : '▸';
    if (notify) this.handlers.drawer?.(open);
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
