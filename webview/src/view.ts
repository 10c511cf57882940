/**
 * The panel's content for one model (analysis) or several (comparison): model header, then per
 * layer-direction a verdict card, the gradient-flow chart, heatmaps, the saturation scatter and
 * the weight-gradient bars. DOM first; charts are created once their containers are in the
 * document (ECharts needs their size), through a Registry that also re-renders them on a theme
 * change.
 */
import { type ExactEstimate, roughDuration } from '../../src/analysis/exactCost';
import type { Dropdown } from '@vscode/webview-ui-toolkit';
import type { PanelModel } from '../../src/protocol/panel';
import { gateNames, type DirectionReport, type LayerReport, type RecurrentOp, type Report, type Tensor } from '../../src/report/types';
import { ChartView, type ChartContext, type Renderable } from './chartView';
import { compareOption, flowOption, scatterOption, weightsOption, type CompareCurve, type Curve, type ScatterGate } from './charts';
import { h, uid } from './dom';
import { exact, ms, num, plural } from './format';
import { HeatmapView, type BatchSelection, type HeatmapOptions, type HeatSource } from './heatmap';
import { timeAxisOf } from './timeAxis';
import { inputTracks } from './inputTrack';
import type { Palette } from './theme';
import { directionVerdict, verdictSentence, type Verdict } from './verdict';
import { decayWindow } from '../../src/report/story';
import { isPending } from '../../src/protocol/pieces';
import { directionWeightNorm, weightGradBars } from './weights';

/** Charts waiting for their containers, and the live ones; children mount later (closed <details>). */
export class Registry {
  private pending: (() => Renderable)[] = [];
  private readonly live: Renderable[] = [];
  private readonly children: Registry[] = [];
  private disposed = false;

  defer(make: () => Renderable): void {
    this.pending.push(make);
  }

  child(): Registry {
    const r = new Registry();
    this.children.push(r);
    return r;
  }

  get mounted(): boolean {
    return this.pending.length === 0;
  }

  /**
   * Creates the pending charts one task at a time, so that a big report never blocks the page
   * for all its charts at once. Resolves false when disposed (a newer report) before the end.
   */
  async mount(palette: () => Palette, firstDrawn?: () => void): Promise<boolean> {
    while (this.pending.length) {
      // Let the page paint and handle input between charts (and before the first).
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (this.disposed) return false;
      const make = this.pending.shift()!;
      const r = make();
      r.render(palette());
      this.live.push(r);
      if (this.live.length === 1) firstDrawn?.();
    }
    return !this.disposed;
  }

  /** Tells every live chart that more of the result's data arrived (charts still to mount will see them anyway). */
  dataArrived(): void {
    for (const r of this.live) r.dataArrived?.();
    for (const c of this.children) c.dataArrived();
  }

  /** Re-renders every live chart (theme change); unopened children stay pending. */
  renderAll(p: Palette): void {
    for (const r of this.live) r.render(p);
    for (const c of this.children) if (c.live.length) c.renderAll(p);
  }

  dispose(): void {
    this.disposed = true;
    for (const r of this.live.splice(0)) r.dispose();
    for (const c of this.children.splice(0)) c.dispose();
    this.pending = [];
  }
}

export interface ViewContext extends ChartContext {
  palette(): Palette;
  /** In VS Code: messages name the panel's controls, not CLI flags (protocol/wording.ts). */
  wording?: (message: string) => string;
  /** In VS Code (the host can open files, pick inputs). */
  connected?: boolean;
  /** In VS Code: re-run the shown result with the exact Jacobian, and what that would cost. */
  exact?: { run: () => void; estimate: () => ExactEstimate | undefined };
}

const GATE_SYMBOLS: Record<string, string> = {
  input: 'i', forget: 'f', output: 'o', cell: 'c̃', update: 'z', reset: 'r', hidden: 'h̃',
};

export function layerTitle(layer: LayerReport, d: DirectionReport): string {
  const it = layer.iterations;
  const per = it?.calls ? 'call' : 'iteration';
  const T = !it ? `T=${layer.seqLen}` : it.steps === 1 ? `T=${layer.seqLen} ${per}s` : `T=${layer.seqLen} (${it.count} ${per}s × ${it.steps} steps)`;
  const what = layer.op === 'state' ? `state '${layer.node}'${layer.cell ? ` (${layer.cell} cell in plain ops)` : ''}` : `${layer.op} '${layer.node}'`;
  return `${what} ${d.direction} · H=${layer.hiddenSize} · ${T} · B=${layer.batch}`;
}

function slug(s: string): string {
  return s.replace(/\.onnx$/i, '').replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase() || 'model';
}

function isFloat32(t: Tensor | undefined): boolean {
  return !!t && t.data instanceof Float32Array;
}

// ───────────────────────────── model header ─────────────────────────────

function chip(label: string, value: string, title?: string): HTMLElement {
  return h('span', { class: 'gl-chip', title }, h('span', { class: 'gl-chip-label' }, label), ' ', h('span', { class: 'gl-chip-value' }, value));
}

export function modelHeader(model: PanelModel, compact = false, ctx?: ViewContext): HTMLElement {
  const r = model.report;
  const m = r.model;
  const t = r.runtime.timingsMs;
  const words = ctx?.wording ?? ((x: string) => x);
  const sources = Object.entries(r.input.sources).map(([k, v]) => `${k}: ${v === 'random' ? `random (seed ${r.input.seed})` : v.replace(/^file:/, '').replace(/^value:/, '= ')}`).join(', ');
  const o = r.objective;
  const objective = o ? `${o.kind} of '${o.output}'${o.timeAxis !== undefined ? ` (time axis ${o.timeAxis})` : ''} = ${o.value === null ? 'n/a' : num(o.value, 4)}` : 'none';
  const timings = `load ${ms(t.load)} · build ${ms(t.build)} · run ${ms(t.run)} · metrics ${ms(t.metrics)} · total ${ms(t.total)}`;
  // One compact block: the answer (the verdict cards) follows right under it.
  const head = h('header', { class: 'gl-model-head' },
    h('div', { class: 'gl-title-row' },
      h(compact ? 'h2' : 'h1', { class: 'gl-model-title', title: `${model.path}\n${m.producer || 'unknown producer'} · opset ${m.opset} · IR ${m.irVersion}` }, model.label),
      h('div', { class: 'gl-chips' },
        r.input.calls !== undefined
          ? chip('calls', `${r.input.calls} · state ${(r.input.state ?? []).map((p) => `${p.input} → ${p.output}`).join(', ')} · B ${r.input.batch}`,
            'a streaming model: the calls run one after another, each call\'s state outputs fed to the next call\'s state inputs')
          : chip('T × B', `${r.input.seqLen} × ${r.input.batch}`),
        chip('objective', objective, o && o.value !== null ? `L = ${exact(o.value)}` : undefined),
        // (Random inputs get their own note below.)
        compact || Object.values(r.input.sources).every((v) => v === 'random') ? null : chip('inputs', sources || 'none'),
        chip('run on', r.runtime.executionProvider.toUpperCase(), `onnxruntime ${r.runtime.onnxruntime}`),
        chip('time', ms(t.total), timings))));
  if (r.warnings.length) {
    head.appendChild(h('ul', { class: 'gl-warnings', 'data-testid': 'warnings', 'aria-label': 'Warnings' },
      ...r.warnings.map((w) => h('li', {}, h('span', { class: 'gl-warn-icon', 'aria-hidden': 'true' }, '⚠'), ' ', words(w)))));
  }
  return head;
}

/** The clipping what-if (after the layers: it concerns the whole model's weight gradients). */
export function clippingBox(r: Report): HTMLElement | undefined {
  // (No weight gradients — only state recurrences — means nothing to clip.)
  if (!r.clipping || !r.layers.some((l) => l.directions.some((d) => d.weightGrads || d.metrics.weightGradNorms))) return undefined;
  const c = r.clipping;
  const factors = Object.entries(c.factors).map(([th, f]) => (f === null
    ? h('span', { class: 'gl-clip-factor' }, `clip at ${th} → n/a`)
    : h('span', { class: 'gl-clip-factor' }, `clip at ${th} → ×${num(f, 3)}`,
      h('span', { class: 'gl-muted' }, f >= 1 ? ' (unchanged)' : f > 0.9 ? ' (almost unchanged)' : ` (gradients ${num(1 / f, 2)}× smaller)`))));
  return h('div', { class: 'gl-clipping', 'data-testid': 'clipping' },
    h('span', { class: 'gl-clip-title' }, 'Clipping what-if'),
    h('span', {}, Number.isFinite(c.globalNorm) ? `global weight-gradient norm G = ${num(c.globalNorm)}` : `global weight-gradient norm G is ${Number.isNaN(c.globalNorm) ? 'NaN' : 'infinite'}: no clipping factor is meaningful`,
      h('span', { class: 'gl-muted' }, ' (all recurrent layers)')),
    ...factors);
}

/** Random inputs say so prominently: the gradients then describe noise, not the user's data. */
function randomInputsNote(r: Report, connected: boolean): HTMLElement | undefined {
  const random = Object.entries(r.input.sources).filter(([, v]) => v === 'random').map(([k]) => k);
  if (!random.length) return undefined;
  const what = random.length === 1 ? `Input '${random[0]}' is` : `Inputs ${random.map((k) => `'${k}'`).join(', ')} are`;
  const action = connected ? h('button', { class: 'gl-link-button', type: 'button', 'data-testid': 'choose-inputs' }, 'Choose .npy inputs…') : null;
  action?.addEventListener('click', () => action.dispatchEvent(new CustomEvent('gl-open-settings', { bubbles: true })));
  return h('div', { class: 'gl-random-note', role: 'note', 'data-testid': 'random-inputs' },
    h('b', {}, 'Random inputs. '),
    `${what} N(0, 1) noise (seed ${r.input.seed}): the gradients describe how the model treats noise, not your data.`,
    action ? ' ' : null, action);
}

// ───────────────────────────── verdict card ─────────────────────────────

export function verdictCard(v: Verdict, testid: string, title?: string): HTMLElement {
  const card = h('div', { class: `gl-verdict gl-verdict-${v.kind.replace('/', '')}`, 'data-testid': `${testid.replace(/^verdict/, 'verdict-card')}` },
    title ? h('div', { class: 'gl-verdict-layer' }, title) : null,
    h('div', { class: 'gl-verdict-head' },
      h('span', { class: 'gl-badge', 'data-testid': testid, 'data-verdict': v.kind }, v.kind),
      h('span', { class: 'gl-verdict-title' }, v.title)),
    h('p', { class: 'gl-verdict-text', 'data-testid': testid.replace(/^verdict/, 'verdict-sentence') }, v.flow.charAt(0).toUpperCase() + v.flow.slice(1)),
    ...v.memory.map((s) => h('p', { class: 'gl-verdict-text' }, s)),
    v.clipping ? h('p', { class: 'gl-verdict-text gl-verdict-clip' }, v.clipping) : null,
    h('div', { class: 'gl-figures' }, ...v.figures.map((f) => h('span', { class: 'gl-figure-chip', title: f.title },
      h('span', { class: 'gl-chip-label' }, f.label), ' ', h('span', { class: 'gl-chip-value' }, f.value)))));
  card.setAttribute('role', 'group');
  card.setAttribute('aria-label', verdictSentence(v));
  return card;
}

// ─────────────────────────── one layer-direction ───────────────────────────

/** `values` divided by its value at the direction's last step: the fraction that survives back to each step. */
function surviving(values: ArrayLike<number>, last: number): Float64Array {
  const at = values[last];
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = at > 0 ? values[i] / at : NaN;
  return out;
}

function flowCurves(layer: LayerReport, d: DirectionReport): Curve[] {
  const curves: Curve[] = [];
  const m = d.metrics;
  const { last } = decayWindow(layer, d);
  const j = d.jacobianNorm;
  if (j) {
    const est = j.method === 'probes' ? ' (est.)' : '';
    const f64 = (t: { data: ArrayLike<number> }) => !(t.data instanceof Float32Array);
    const frac = (name: string, t: { data: ArrayLike<number> }, color: Curve['color'], extra: Partial<Curve> = {}): Curve =>
      ({ name, values: surviving(t.data, last), raw: t.data, float32: !f64(t), color, axis: 'fraction', ...(j.relError ? { band: j.relError } : {}), ...extra });
    if (layer.op === 'LSTM' && j.cell) {
      curves.push(frac(`state ∂(h,c)_last/∂(h,c)_t${est}`, j.state, (p) => p.orange, { short: 'state Jacobian' }));
      // (One band, on the state curve: three overlapping bands would hide the curves.)
      curves.push(frac(`cell path ∂c_last/∂c_t${est}`, j.cell, (p) => p.red, { band: undefined, short: 'cell path' }));
      curves.push(frac(`hidden path ∂h_last/∂h_t${est}`, j.hidden, (p) => p.yellow, { dashed: true, band: undefined, short: 'hidden path' }));
    } else {
      const v = layer.op === 'state' ? 's' : 'h';
      curves.push(frac(`Jacobian ∂${v}_last/∂${v}_t${est}`, j.state, (p) => p.orange, { short: 'Jacobian' }));
    }
  }
  if (m.retention?.cellHighway.length) {
    curves.push({ name: 'cell highway ∏f', values: surviving(m.retention.cellHighway, last), raw: m.retention.cellHighway, float32: false, color: (p) => p.green, dashed: true, axis: 'fraction', short: '∏f' });
  }
  if (m.gradNorm) curves.push({ name: layer.op === 'state' ? '‖dL/ds_t‖' : '‖dL/dh_t‖', values: m.gradNorm, float32: false, color: (p) => p.blue, axis: 'norm', short: layer.op === 'state' ? '‖dL/ds‖' : '‖dL/dh‖' });
  if (m.gradCellNorm) curves.push({ name: '‖dL/dc_t‖', values: m.gradCellNorm, float32: false, color: (p) => p.purple, axis: 'norm', short: '‖dL/dc‖' });
  return curves;
}

/** Where steps 0 and T−1 sit on a time chart, for alignment checks (the heatmaps set the same attributes). */
function markSteps(view: ChartView, T: number): void {
  const a = view.chart.convertToPixel({ xAxisIndex: 0 }, 0) as unknown as number;
  const b = view.chart.convertToPixel({ xAxisIndex: 0 }, T - 1) as unknown as number;
  if (Number.isFinite(a) && Number.isFinite(b)) { view.el.dataset.xFirst = a.toFixed(1); view.el.dataset.xLast = b.toFixed(1); }
}

/** The smallest value any of the flow chart's log axes shows (its bottom edge), for the tests of the axis floors. */
function markAxisMinimum(view: ChartView): void {
  const grid = ((view.chart as unknown as { getModel(): unknown }).getModel() as { getComponent(t: string, i: number): { coordinateSystem?: { getRect(): { y: number; height: number } } } | undefined })
    .getComponent('grid', 0)?.coordinateSystem?.getRect();
  if (!grid) return;
  let min = Infinity;
  for (const yAxisIndex of [0, 1]) {
    const v = view.chart.convertFromPixel({ yAxisIndex }, grid.y + grid.height) as unknown as number;
    if (Number.isFinite(v) && v < min) min = v;
  }
  if (min < Infinity) view.el.dataset.yMin = String(min);
}

function placeholder(text: string, testid?: string): HTMLElement {
  return h('div', { class: 'gl-placeholder', 'data-testid': testid }, text);
}

/** A tensor with data, or one whose data are still on their way (a big result's second phase). */
function present(t: Tensor | undefined): boolean {
  return !!t && (t.data.length > 0 || isPending(t));
}

function heatSources(layer: LayerReport, d: DirectionReport): { grad?: HeatSource; others: HeatSource[] } {
  const others: HeatSource[] = [];
  for (const g of gateNames(layer)) {
    const t = d.gates?.[g];
    if (t && present(t)) others.push({ key: `gate:${g}`, label: `${g} gate ${GATE_SYMBOLS[g] ?? g}_t`, symbol: GATE_SYMBOLS[g] ?? g, tensor: t, magnitude: false });
  }
  const state = layer.op === 'state';
  if (present(d.hidden)) others.push({ key: 'hidden', label: state ? 'state s_t' : 'hidden state h_t', symbol: state ? 's' : 'h', tensor: d.hidden!, magnitude: false });
  if (present(d.cell)) others.push({ key: 'cell', label: 'cell state c_t', symbol: 'c', tensor: d.cell!, magnitude: false });
  if (present(d.gradCell)) others.push({ key: 'gradCell', label: '|dL/dc_t|', symbol: 'dL/dc', tensor: d.gradCell!, magnitude: true });
  const grad = present(d.gradHidden) ? { key: 'gradHidden', label: state ? '|dL/ds_t|' : '|dL/dh_t|', symbol: state ? 'dL/ds' : 'dL/dh', tensor: d.gradHidden!, magnitude: true } : undefined;
  return { grad, others };
}

function heatDropdown(label: string, options: { value: string; label: string }[], selected: string, onChange: (v: string) => void): HTMLElement {
  const id = uid('gl-heat-dd');
  const dd = document.createElement('vscode-dropdown') as Dropdown;
  dd.id = id;
  dd.setAttribute('aria-label', label);
  for (const o of options) dd.appendChild(h('vscode-option', { value: o.value, selected: o.value === selected }, o.label));
  dd.addEventListener('change', () => onChange(dd.value));
  return h('span', { class: 'gl-inline-field' }, h('label', { for: id }, label), dd);
}

function directionSection(model: PanelModel, modelIndex: number, li: number, layer: LayerReport, d: DirectionReport, ctx: ViewContext, registry: Registry): HTMLElement {
  const r = model.report;
  const key = `${li}-${d.direction}`;
  const name = `${slug(model.label)}-${layer.op.toLowerCase()}${r.layers.length > 1 ? `-${li}` : ''}${layer.directions.length > 1 ? `-${d.direction}` : ''}`;
  const verdict = directionVerdict(r, layer, d);
  const titleId = uid('gl-dir-title');
  const a = layer.attributes;
  const jacobianText = d.jacobianNorm ? `Jacobian ${d.jacobianNorm.method}${d.jacobianNorm.probes ? ` (${d.jacobianNorm.probes} probes)` : ''}` : 'Jacobian off';
  const detail = (layer.op === 'state' ? [
    layer.cell ? `the carried state of ${layer.cell === 'LSTM' ? 'an LSTM' : 'a GRU'} cell written with plain ops (its gates recognised)` : 'carried state (no gates recognised)',
    layer.iterations?.calls ? 'carried from call to call' : 'carried from iteration to iteration',
    jacobianText,
  ] : [
    `I = ${layer.inputSize}`,
    `activations ${a.activations.join(', ')}`,
    a.clip !== null ? `clip ${a.clip}` : '',
    a.inputForget ? 'input_forget' : '',
    a.linearBeforeReset ? 'linear_before_reset' : '',
    a.hasPeepholes ? 'peepholes' : '',
    a.hasSequenceLens ? 'sequence_lens' : '',
    layer.layout ? 'layout 1' : '',
    jacobianText,
  ]).filter(Boolean).join(' · ');
  // Probes: exact is one click away, with what it would cost said first.
  const estimate = d.jacobianNorm?.method === 'probes' && ctx.exact ? ctx.exact.estimate() : undefined;
  let exactButton: HTMLElement | null = null;
  if (estimate) {
    exactButton = h('button', {
      class: 'gl-link-button', type: 'button', 'data-testid': `jacobian-exact-${key}`,
      title: `The exact Jacobian carries ${estimate.rowsExact} adjoint rows per step instead of ${estimate.rowsNow}; the time (of the whole re-run) is estimated from this run's.`,
    }, `Compute exactly (≈ ${roughDuration(estimate.ms)})`);
    exactButton.addEventListener('click', () => ctx.exact?.run());
  }
  const section = h('section', { class: 'gl-dir', 'data-testid': `layer-${key}`, 'aria-labelledby': titleId },
    h('h2', { class: 'gl-dir-title', id: titleId }, layerTitle(layer, d)),
    h('div', { class: 'gl-dir-detail gl-muted' }, detail, ...(exactButton ? [' · ', exactButton] : [])),
    verdictCard(verdict, `verdict-${key}`));

  // Gradient flow.
  const curves = flowCurves(layer, d);
  if (curves.length) {
    const flowEl = h('div', {
      class: 'gl-chart gl-chart-flow', 'data-testid': `chart-flow-${key}`, role: 'img', tabindex: 0,
      'aria-label': `Gradient flow over time, log scale: ${curves.map((c) => c.name).join(', ')}. ${verdictSentence(verdict)}`,
    });
    section.appendChild(h('figure', { class: 'gl-figure' }, h('figcaption', {}, 'Gradient flow over time', h('span', { class: 'gl-hint' }, 'click legend entries to toggle · Ctrl+wheel or the slider to zoom · drag to pan')), flowEl));
    registry.defer(() => new ChartView(flowEl, ctx, `gradient-flow-${name}`, (p, view) => flowOption(p, view, {
      T: layer.seqLen, time: timeAxisOf(layer), direction: d.direction, curves, reach: d.metrics.decay?.reach ?? null,
    }), { rebuildOnResize: true, afterRender: (view) => { markSteps(view, layer.seqLen); markAxisMinimum(view); } }));
  }

  // The input track: what went in, and which input steps the gradient reaches.
  const tracks = inputTracks(r);
  // A per-call input's track counts calls when each call is one step of the layer.
  const layerTime = timeAxisOf(layer);
  const trackTime = (track: { grad?: Tensor; values?: Tensor }) => {
    const T = (track.grad ?? track.values)!.dims[0];
    return layerTime.per && T === layer.seqLen ? layerTime : r.input.calls && T % r.input.calls === 0 ? { per: 'call' as const, steps: T / r.input.calls } : undefined;
  };
  if (tracks.length) {
    const rows: HTMLElement[] = [];
    for (const track of tracks) {
      const T = (track.grad ?? track.values)!.dims[0];
      const chart = (testid: string, source: HeatSource, opts: HeatmapOptions) => {
        const el = h('div', { class: 'gl-chart gl-chart-track', 'data-testid': testid, role: 'img', tabindex: 0,
          'aria-label': `${source.label} over time step × ${opts.rowLabel} (${T} × ${source.tensor.dims[2]}); hover for exact values` });
        registry.defer(() => new HeatmapView(el, ctx, `${testid}-${name}`, source, opts));
        return el;
      };
      const ids = track.ids;
      const tipExtra = ids ? (t: number, b: number) => `<div class="gl-tip-row"><span class="gl-tip-name">token id</span><span class="gl-tip-value">${ids[t * track.grad!.dims[1] + b]}</span></div>` : undefined;
      if (track.values) {
        rows.push(chart(`input-values-${key}`, { key: `input:${track.name}`, label: `input ${track.name}`, symbol: track.name, tensor: track.values, magnitude: false },
          { top: 26, bottom: 20, rowLabel: 'feature', compact: true, time: trackTime(track) }));
      }
      if (track.grad) {
        const what = track.embedding ? `|dL/d embedding(${track.name})|` : `|dL/d${track.name}_t|`;
        rows.push(chart(`input-grad-${key}`, { key: `inputGrad:${track.name}`, label: `${what} — which input steps the gradient reaches`, symbol: `dL/d${track.name}`, tensor: track.grad, magnitude: true },
          { top: 26, bottom: 20, rowLabel: track.embedding ? 'embedding dim' : 'feature', tipExtra, compact: true, time: trackTime(track) }));
      }
    }
    section.appendChild(h('figure', { class: 'gl-figure gl-input-track', 'data-testid': `input-track-${key}` },
      h('figcaption', {}, 'Input track', h('span', { class: 'gl-hint' }, tracks.every((tr) => (tr.grad ?? tr.values)!.dims[0] === layer.seqLen)
        ? 'the input sequence and the gradient reaching it, on the same time axis as the chart above'
        : `the input sequence and the gradient reaching it, on the input's own time axis (the layer runs ${layer.seqLen} steps)`)), ...rows));
  }

  // Heatmaps.
  const { grad, others } = heatSources(layer, d);
  const B = layer.batch;
  const heatViews: HeatmapView[] = [];
  const heatRow = h('div', { class: 'gl-heat-row' });
  const tools = h('div', { class: 'gl-heat-tools' });
  if (B > 1 && (grad || others.length)) {
    const opts = [{ value: 'mean', label: `mean over the ${B} batch elements` }, ...Array.from({ length: Math.min(B, 256) }, (_, b) => ({ value: String(b), label: `batch element ${b}` }))];
    const dd = heatDropdown('Batch', opts, 'mean', (v) => {
      const sel: BatchSelection = v === 'mean' ? 'mean' : Number(v);
      for (const hv of heatViews) hv.setBatch(sel);
    });
    // Previews are of the batch mean: single elements once the per-step data are in (the view is drawn again then).
    if ([grad, ...others].some((s) => s && isPending(s.tensor))) {
      dd.querySelector('vscode-dropdown')?.setAttribute('disabled', '');
      dd.title = 'Single batch elements can be shown once the per-step data have arrived.';
    }
    tools.appendChild(dd);
  }
  const heatCol = (testid: string, label: string, source: HeatSource | undefined, picker?: HTMLElement, onView?: (v: HeatmapView) => void, note?: string) => {
    if (!source) return h('div', { class: 'gl-heat-col' }, placeholder('The per-step tensors are not in this report (it was written with --detail metrics).', testid));
    const el = h('div', { class: 'gl-chart gl-chart-heat', 'data-testid': testid, role: 'img', tabindex: 0, 'aria-label': `${label} heatmap over time step × unit (${layer.seqLen} × ${layer.hiddenSize}); hover for exact values` });
    registry.defer(() => {
      const v = new HeatmapView(el, ctx, `${testid.replace(/-\d+-(forward|reverse)$/, '')}-${name}`, source, { time: timeAxisOf(layer) });
      heatViews.push(v);
      onView?.(v);
      return v;
    });
    return h('div', { class: 'gl-heat-col' }, h('div', { class: `gl-heat-picker${picker ? '' : ' gl-muted'}` }, picker ?? note ?? ''), el);
  };
  if (grad || others.length) {
    const defaultOther = others.find((s) => s.key === (layer.op === 'LSTM' ? 'gate:forget' : layer.op === 'GRU' ? 'gate:update' : 'hidden')) ?? others[0];
    let otherView: HeatmapView | undefined;
    const picker = others.length > 1 ? heatDropdown('Show', others.map((s) => ({ value: s.key, label: s.label })), defaultOther?.key ?? '', (v) => {
      const s = others.find((o) => o.key === v);
      if (s && otherView) otherView.setSource(s);
    }) : undefined;
    const gradCol = heatCol(`heatmap-grad-${key}`, layer.op === 'state' ? '|dL/ds_t|' : '|dL/dh_t|', grad, undefined, undefined, 'the gradient reaching each unit at each step (max |·| per display bin)');
    const otherCol = heatCol(`heatmap-gate-${key}`, defaultOther?.label ?? 'gate', defaultOther, picker, (v) => { otherView = v; },
      layer.op === 'RNN' ? 'the hidden state (a plain RNN has no gates)' : defaultOther?.label);
    heatRow.append(gradCol, otherCol);
    section.appendChild(h('figure', { class: 'gl-figure' },
      h('figcaption', {}, 'Over time × unit', h('span', { class: 'gl-hint' }, 'hover for exact values · box-zoom or Ctrl+wheel (time), Shift+wheel (units)')),
      tools.childNodes.length ? tools : null, heatRow));
  }

  if (!grad && !others.length && r.omitted) {
    section.appendChild(h('figure', { class: 'gl-figure' }, h('figcaption', {}, 'Over time × unit'),
      placeholder(`No heatmaps: this report was written with --detail metrics, which leaves the per-step tensors out. To see them, ${r.omitted.how}.`, `heatmap-omitted-${key}`)));
  }

  // Saturation scatter and weight gradients, side by side.
  const lower = h('div', { class: 'gl-two-col' });
  const sat = d.metrics.saturation;
  const gates: ScatterGate[] = gateNames(layer).filter((g) => sat.gates[g]).map((g) => {
    const s = sat.gates[g];
    const ret = d.metrics.retention;
    return {
      gate: g, left: s.leftPerUnit, right: s.rightPerUnit, low: s.low, high: s.high, range: s.range,
      unitNote: g === 'forget' && ret ? (u: number) => `mean forget f̄ = ${num(ret.meanForget[u])}, horizon τ = ${ret.horizon[u] === null ? '∞' : num(ret.horizon[u] as number)} steps` : undefined,
    };
  });
  if (gates.length) {
    const el = h('div', { class: 'gl-chart gl-chart-scatter', 'data-testid': `scatter-${key}`, role: 'img', tabindex: 0,
      'aria-label': `Gate saturation per unit (left-saturated fraction against right-saturated fraction): ${gates.map((g) => `${g.gate} ${sat.gates[g.gate].right > 0 ? `${(100 * sat.gates[g.gate].right).toFixed(1)}% right` : 'none right'}`).join(', ')}` });
    lower.appendChild(h('figure', { class: 'gl-figure' }, h('figcaption', {}, 'Gate saturation per unit', h('span', { class: 'gl-hint' }, `Karpathy et al. 2015 · low ${sat.low}, high ${sat.high}${gates.some((g) => g.range === 'tanh') ? ` (tanh-valued gates: ${num(2 * sat.low - 1)}, ${num(2 * sat.high - 1)})` : ''}`)), el));
    registry.defer(() => new ChartView(el, ctx, `saturation-${name}`, (p, view) => scatterOption(p, view, gates, sat), { rebuildOnResize: true }));
  }
  const bars = layer.op === 'state' ? undefined : weightGradBars(layer.op, layer.hiddenSize, d);
  if (bars) {
    const own = directionWeightNorm(layer.op as RecurrentOp, layer.hiddenSize, d);
    const G = r.clipping?.globalNorm;
    const share = `ONNX gate order · this direction ‖dθ‖ = ${num(own)}${G ? ` of the model's G = ${num(G)}` : ''}`;
    const el = h('div', { class: 'gl-chart gl-chart-bars', 'data-testid': `weights-${key}`, role: 'img', tabindex: 0,
      'aria-label': `Weight-gradient norms per gate: ${bars.gates.map((g, i) => `${g} W ${num(bars.norms[0].values[i])}, R ${num(bars.norms[1].values[i])}, B ${num(bars.norms[2].values[i])}`).join('; ')}` });
    lower.appendChild(h('figure', { class: 'gl-figure' }, h('figcaption', {}, 'Weight-gradient norms per gate', h('span', { class: 'gl-hint' }, share)), el));
    registry.defer(() => new ChartView(el, ctx, `weight-gradients-${name}`, (p, view) => weightsOption(p, view, bars), { rebuildOnResize: true }));
  }
  if (lower.childNodes.length === 1) lower.classList.add('gl-single');
  if (lower.childNodes.length) section.appendChild(lower);
  void modelIndex;
  return section;
}

/** The whole analysis of one model. */
export function modelView(model: PanelModel, modelIndex: number, ctx: ViewContext, registry: Registry): HTMLElement {
  const root = h('article', { class: 'gl-model', 'data-testid': `model-${modelIndex}` }, modelHeader(model, false, ctx));
  const r = model.report;
  const note = randomInputsNote(r, !!ctx.connected);
  if (note) root.appendChild(note);
  if (r.omitted) {
    root.appendChild(h('div', { class: 'gl-random-note', role: 'note', 'data-testid': 'omitted' },
      h('b', {}, 'A metrics-only report. '),
      `Left out (--detail metrics): ${r.omitted.fields.join('; ')}. To include them, ${r.omitted.how}.`));
  }
  if (!r.layers.length) root.appendChild(placeholder('This model has no LSTM, GRU or RNN node, so there is no recurrent gradient flow to show.'));
  r.layers.forEach((layer, li) => {
    for (const d of layer.directions) root.appendChild(directionSection(model, modelIndex, li, layer, d, ctx, registry));
  });
  const clip = clippingBox(r);
  if (clip) root.appendChild(clip);
  return root;
}

// ───────────────────────────── comparison ─────────────────────────────

function shortLabel(models: PanelModel[], model: PanelModel, layer: LayerReport, li: number, d: DirectionReport): string {
  const r = model.report;
  const parts = [model.label.replace(/\.onnx$/i, '')];
  if (r.layers.length > 1) parts.push(`L${li}`);
  if (layer.directions.length > 1) parts.push(d.direction === 'forward' ? 'fwd' : 'rev');
  void models;
  return parts.join(' ');
}

export function comparisonView(models: PanelModel[], ctx: ViewContext, registry: Registry): HTMLElement {
  const curves: CompareCurve[] = [];
  for (const m of models) {
    m.report.layers.forEach((layer, li) => {
      for (const d of layer.directions) {
        curves.push({
          label: `${shortLabel(models, m, layer, li, d)} (${layer.op})`,
          T: layer.seqLen, direction: d.direction,
          jacobian: d.jacobianNorm ? { values: d.jacobianNorm.hidden.data, float32: isFloat32(d.jacobianNorm.hidden) } : undefined,
          gradNorm: d.metrics.gradNorm,
        });
      }
    });
  }
  const root = h('section', { class: 'gl-compare', 'data-testid': 'comparison' },
    h('h1', { class: 'gl-model-title' }, `Comparing ${plural(models.length, 'model')}`),
    h('div', { class: 'gl-path' }, models.map((m) => m.label).join(' · ')));
  const chartEl = h('div', {
    class: 'gl-chart gl-chart-compare', 'data-testid': 'chart-compare', role: 'img', tabindex: 0,
    'aria-label': `Gradient flow of ${models.length} models on one log axis over the distance from the last step: ${curves.map((c) => c.label).join(', ')}`,
  });
  root.appendChild(h('figure', { class: 'gl-figure' },
    h('figcaption', {}, 'Gradient flow, overlaid', h('span', { class: 'gl-hint' }, 'solid: Jacobian ‖∂h_last/∂h_t‖ · dashed: ‖dL/dh_t‖ · x: steps back from the last step')),
    chartEl));
  registry.defer(() => new ChartView(chartEl, ctx, 'gradient-flow-comparison', (p, view) => compareOption(p, view, curves), { rebuildOnResize: true }));

  const cols = h('div', { class: 'gl-compare-cols' });
  cols.style.setProperty('--gl-cols', String(Math.min(models.length, 4)));
  models.forEach((m, k) => {
    const col = h('div', { class: 'gl-compare-col', 'data-testid': `compare-model-${k}` }, modelHeader(m, true, ctx));
    m.report.layers.forEach((layer, li) => {
      for (const d of layer.directions) {
        col.appendChild(verdictCard(directionVerdict(m.report, layer, d), `compare-verdict-${k}-${li}-${d.direction}`, layerTitle(layer, d)));
      }
    });
    cols.appendChild(col);
  });
  root.appendChild(cols);

  models.forEach((m, k) => {
    const child = registry.child();
    const details = h('details', { class: 'gl-model-details' }, h('summary', {}, `All charts for ${m.label}`));
    details.appendChild(modelView(m, k, ctx, child));
    details.addEventListener('toggle', () => {
      if (details.open && !child.mounted) void child.mount(ctx.palette);
    });
    root.appendChild(details);
  });
  return root;
}
