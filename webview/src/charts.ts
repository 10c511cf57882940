/**
 * The panel's line, scatter and bar charts (the heatmaps live in heatmap.ts). Each builder turns
 * report numbers into an ECharts option for a palette; tooltips always read the exact numbers
 * from the report's arrays, whatever the chart draws (log-axis gaps, min/max decimation).
 */
import { minMaxSteps } from './decimate';
import type { EChartsCoreOption } from './echarts';
import { axisStyle, baseOption, ChartView, dot, timeZoom } from './chartView';
import { escapeHtml, logTick, num, tipValue } from './format';
import { aboveFloor, axisFloor, decadeRange, floorCut, floorLabel } from './floors';
import { TIME_GRID } from './heatmap';
import { timeAxisName, timeInterval, timeTick, timeTitle, type TimeAxis } from './timeAxis';
import type { Palette } from './theme';

/** One curve over time steps: values[t] (t = input position). */
export interface Curve {
  name: string;
  values: ArrayLike<number>;
  /** Float32 data prints with float32 round-trip digits in tooltips. */
  float32: boolean;
  color: (p: Palette) => string;
  dashed?: boolean;
  /** Drawn lighter and thinner (reference curves). */
  faint?: boolean;
  /** 'fraction': a Jacobian path normalised to its value at the last step (left axis); 'norm': an absolute gradient norm (right axis). */
  axis?: 'fraction' | 'norm';
  /** The raw values behind a normalised curve, for tooltips ("raw ‖·‖_F = …"). */
  raw?: ArrayLike<number>;
  /** A random-probe estimate: its relative error, drawn as a shaded band of ±band around the curve. */
  band?: number;
  /** A short name for the marker where the curve falls below the chart's floor ("∏f"). */
  short?: string;
}

interface AxisTipParam {
  seriesName?: string;
  seriesIndex?: number;
  axisValue?: number | string;
  color?: string;
}

/**
 * A log axis cannot show 0, negatives or NaN, nor anything below its floor: they become gaps (the
 * tooltip still says what they are).
 */
function logPoints(values: ArrayLike<number>, xOf: (i: number) => number, floor = Number.MIN_VALUE, at?: ArrayLike<number>): (number | null)[][] {
  const n = at ? at.length : values.length;
  const out: (number | null)[][] = new Array(n);
  for (let k = 0; k < n; k++) {
    const i = at ? at[k] : k;
    const v = values[i];
    out[k] = [xOf(i), v > 0 && aboveFloor(v, floor) ? v : null];
  }
  return out;
}


function logYAxis(p: Palette, name: string, range: { min?: number; max?: number; interval?: number }): EChartsCoreOption {
  const a = axisStyle(p);
  return {
    type: 'log',
    logBase: 10,
    ...range,
    name,
    nameLocation: 'middle',
    nameGap: 46,
    ...a,
    axisLabel: { ...(a.axisLabel as object), formatter: (v: number) => logTick(v) },
    splitLine: { show: true, lineStyle: { color: p.grid } },
    minorSplitLine: { show: false },
  };
}

function valueAt(c: Curve, i: number, floor?: number): string {
  if (i < 0 || i >= c.values.length) return '—';
  const v = c.values[i];
  const s = tipValue(v);
  const raw = c.raw ? ` <span class="gl-tip-note">(‖·‖ = ${tipValue(c.raw[i])})</span>` : '';
  const band = c.band ? ` <span class="gl-tip-note">±${Math.round(100 * c.band)}%</span>` : '';
  if (!(v > 0)) return `${s}${raw} <span class="gl-tip-note">(not drawn on a log axis)</span>`;
  if (floor !== undefined && v < floor) return `${s}${raw} <span class="gl-tip-note">(below the chart's floor, ${logTick(floor)})</span>`;
  return `${s}${band}${raw}`;
}

export interface FlowChartSpec {
  T: number;
  /** How t is labelled (steps, or calls/iterations for layers in loops and streaming models). */
  time?: TimeAxis;
  direction: 'forward' | 'reverse';
  curves: Curve[];
  /** decay.reach: marked as a vertical line at distance `reach` from the last step. */
  reach: number | null;
}

/**
 * Over t: the Jacobian paths and ∏f as the fraction of their value at the last step that
 * survives (left log axis), and ‖dL/dh_t‖, ‖dL/dc_t‖ in their own units (right log axis).
 */

/**
 * A wrapping legend that keeps every entry visible (no "1/2" pages at narrow widths): the rows
 * its entries need in `width` pixels, measured with the chart's font, and the legend option.
 */
export function wrappingLegend(p: Palette, names: string[], width: number, item = { w: 18, gap: 16 }): { option: EChartsCoreOption; rows: number } {
  const ctx = measureCanvas();
  let rows = 1;
  let x = 0;
  for (const n of names) {
    const w = item.w + 5 + (ctx ? ctx.measureText(n).width : n.length * 7) + item.gap;
    if (x > 0 && x + w > width) { rows++; x = 0; }
    x += w;
  }
  return {
    rows,
    option: {
      type: 'plain', top: 6, left: 10, width, itemWidth: item.w, itemHeight: 10, itemGap: item.gap,
      textStyle: { color: p.fg, fontSize: 12 }, inactiveColor: p.grid,
    },
  };
}

let canvas: CanvasRenderingContext2D | null | undefined;
function measureCanvas(): CanvasRenderingContext2D | null {
  if (canvas === undefined) {
    canvas = typeof document !== 'undefined' ? document.createElement('canvas').getContext('2d') : null;
    if (canvas) canvas.font = '12px sans-serif';
  }
  return canvas;
}

/**
 * Redraw a decimated chart's series for the zoomed time range (ECharts' dataZoom), once per frame:
 * `data(from, to)` gives each series' data, in series order, for steps [from, to).
 */
function refineOnZoom(view: ChartView, T: number, data: (from: number, to: number) => { data: (number | null)[][] }[]): void {
  let pending = false;
  view.chart.off('datazoom');
  view.chart.on('datazoom', () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      // The window as values when ECharts gives them, else as percentages of the axis [−½, T − ½].
      const zoom = (view.chart.getOption() as { dataZoom?: { startValue?: number; endValue?: number; start?: number; end?: number }[] }).dataZoom?.[0];
      const at = (value: number | undefined, percent: number | undefined, fallback: number) =>
        (typeof value === 'number' ? value : typeof percent === 'number' ? -0.5 + (percent / 100) * T : fallback);
      const from = Math.max(0, Math.floor(at(zoom?.startValue, zoom?.start, 0)));
      const to = Math.min(T, Math.ceil(at(zoom?.endValue, zoom?.end, T)) + 1);
      view.chart.setOption({ series: data(from, to) }, { lazyUpdate: true });
      // The steps drawn at full detail, for the eye and the tests (as the heatmaps' data-window).
      view.el.dataset.drawn = `${from}-${to}`;
    });
  });
}

export function flowOption(p: Palette, view: ChartView, spec: FlowChartSpec): EChartsCoreOption {
  const { T, direction, curves } = spec;
  const time = spec.time ?? { steps: 1 };
  const unit = time.per && time.steps === 1 ? time.per : 'step';
  const lastT = direction === 'forward' ? T - 1 : 0;
  // Long curves are decimated for drawing keeping each bin's min and max, so spikes stay visible
  // (about one bin per pixel); the tooltip reads every curve's own value at the hovered step.
  const bins = T > 2000 ? Math.max(256, view.el.clientWidth || 800) : 0;
  const hasNorms = curves.some((c) => c.axis === 'norm');
  const hasFractions = curves.some((c) => c.axis !== 'norm');
  const axisIndex = (c: Curve) => (c.axis === 'norm' && hasFractions ? 1 : 0);
  // Each axis is drawn down to a floor relative to its largest value (see floors.ts).
  const floors = [0, 1].map((a) => axisFloor(curves.filter((c) => axisIndex(c) === a).map((c) => c.values)) ?? 0);
  const floorOf = (c: Curve) => floors[axisIndex(c)];
  let cuts = 0;
  // The drawn steps of each curve: the whole range at about one bin per pixel, and again for the
  // zoomed range when the time axis is zoomed (so zooming in shows every step again).
  const stepsOf = (from = 0, to = T) => curves.map((c) => (bins ? minMaxSteps(c.values, bins, (v) => v > 0 && aboveFloor(v, floorOf(c)), from, to) : undefined));
  const bandData = (c: Curve, at: Int32Array | undefined) => {
    const n = at ? at.length : c.values.length;
    const lower = new Array<(number | null)[]>(n);
    const width = new Array<(number | null)[]>(n);
    for (let j = 0; j < n; j++) {
      const i = at ? at[j] : j;
      const v = c.values[i];
      const ok = v > 0 && aboveFloor(v * (1 - c.band!), floorOf(c));
      lower[j] = [i, ok ? v * (1 - c.band!) : null];
      width[j] = [i, ok ? v * 2 * c.band! : null];
    }
    return { lower, width };
  };
  // Every series' data, in series order (the curves, then each band's lower edge and width), for steps [from, to).
  const seriesData = (from = 0, to = T) => {
    const at = stepsOf(from, to);
    const data: { data: (number | null)[][] }[] = curves.map((c, k) => ({ data: logPoints(c.values, (i) => i, floorOf(c), at[k]) }));
    curves.forEach((c, k) => { if (c.band) { const b = bandData(c, at[k]); data.push({ data: b.lower }, { data: b.width }); } });
    return data;
  };
  const drawn = seriesData();
  if (bins) view.el.dataset.drawn = `0-${T}`;
  if (bins) refineOnZoom(view, T, seriesData);
  const series: EChartsCoreOption[] = curves.map((c, k) => ({
    type: 'line',
    name: c.name,
    yAxisIndex: axisIndex(c),
    data: drawn[k].data,
    markPoint: floorMark(p, c, floorOf(c), direction, () => cuts++),
    color: c.color(p),
    showSymbol: T <= 64,
    symbolSize: 4,
    connectNulls: false,
    lineStyle: { width: c.faint ? p.line * 0.8 : p.line, type: c.dashed ? 'dashed' : 'solid', opacity: c.faint ? 0.85 : 1 },
    emphasis: { focus: 'series', lineStyle: { width: p.line + 1 } },
    z: 10 - k,
    markLine: k === 0 && spec.reach !== null && spec.reach < T ? {
      silent: true,
      symbol: 'none',
      animation: false,
      lineStyle: { color: p.muted, type: 'dotted', width: 1 },
      label: { formatter: `reach ${spec.reach}`, color: p.muted, fontSize: 10, position: 'insideEndTop' },
      data: [{ xAxis: direction === 'forward' ? T - 1 - spec.reach : spec.reach }],
    } : undefined,
  }));
  // Error bands of probe estimates: a transparent lower edge and the band's width stacked on it
  // (after the curves, out of the legend), at the curve's drawn steps (stacked series must share them).
  let bandAt = curves.length;
  curves.forEach((c, k) => {
    if (!c.band) return;
    const [lower, width] = [drawn[bandAt++].data, drawn[bandAt++].data];
    const stack = `band-${k}`;
    const common = { type: 'line', yAxisIndex: axisIndex(c), stack, symbol: 'none', silent: true, lineStyle: { opacity: 0 }, z: 1, tooltip: { show: false } };
    series.push({ ...common, name: `${c.name} band low`, data: lower });
    series.push({ ...common, name: `${c.name} ±${Math.round(100 * c.band)}%`, data: width, areaStyle: { color: c.color(p), opacity: 0.18 } });
  });
  const b = baseOption(p);
  // An explicit width: the toolbox keeps the top right corner; the legend wraps below it.
  const legend = wrappingLegend(p, curves.map((c) => c.name), Math.max(120, view.el.clientWidth - 160));
  (legend.option as { data?: string[] }).data = curves.map((c) => c.name);
  return {
    ...b,
    grid: { ...TIME_GRID, top: 18 + 22 * legend.rows, bottom: 62, containLabel: false, outerBoundsMode: 'none' },
    legend: legend.option,
    tooltip: {
      ...(b.tooltip as object),
      trigger: 'axis',
      axisPointer: { type: 'line', lineStyle: { color: p.muted, type: 'dashed' } },
      formatter: (params: AxisTipParam[] | AxisTipParam) => {
        const list = (Array.isArray(params) ? params : [params]);
        if (!list.length) return '';
        const t = Math.round(Number(list[0].axisValue));
        const d = Math.abs(lastT - t);
        // Every curve the legend shows, read at this step from its full data — not just the series
        // that happen to have a drawn point here (long sequences are decimated for drawing).
        const shown = view.chart.getOption() as { legend?: { selected?: Record<string, boolean> }[] };
        const selected = shown.legend?.[0]?.selected ?? {};
        const rows = curves.filter((c) => selected[c.name] !== false).map((c) =>
          `<div class="gl-tip-row">${dot(c.color(p))}<span class="gl-tip-name">${escapeHtml(c.name)}</span><span class="gl-tip-value">${valueAt(c, t, floorOf(c))}</span></div>`);
        return `<div class="gl-tip-title">${timeTitle(time, t)} · ${d === 0 ? `the last ${unit}` : `${d} ${unit}${d === 1 ? '' : 's'} before the last`}</div>${rows.join('')}`;
      },
    },
    toolbox: view.toolbox(p, 'x'),
    // From −½ to T − ½, as the heatmaps and the input track: step t sits at the same x in every chart.
    xAxis: {
      type: 'value', min: -0.5, max: Math.max(0.5, T - 0.5), minInterval: 1, interval: timeInterval(time, T),
      name: direction === 'forward' ? `${timeAxisName(time)}  (the gradient flows right → left)` : `${timeAxisName(time)}  (reverse direction: the gradient flows left → right)`,
      nameLocation: 'middle', nameGap: 24,
      ...axisStyle(p),
      axisLabel: { ...(axisStyle(p).axisLabel as object), formatter: timeTick(time) },
      splitLine: { show: false },
    },
    yAxis: hasFractions && hasNorms ? [
      logYAxis(p, 'fraction surviving (log)', decadeRange(curves.filter((c) => c.axis !== 'norm').map((c) => c.values), floors[0])),
      { ...logYAxis(p, 'gradient norm (log)', decadeRange(curves.filter((c) => c.axis === 'norm').map((c) => c.values), floors[1])), position: 'right', splitLine: { show: false } },
    ] : logYAxis(p, hasFractions ? 'fraction surviving (log)' : 'gradient norm (log)', decadeRange(curves.map((c) => c.values), floors[0])),
    dataZoom: timeZoom(p, { bottom: 4 }),
    series,
  };
}

/**
 * Where a curve falls below its axis's floor: a downward marker on the floor at that step, with
 * words ("∏f < 1e-30 at t ≤ 412"); labels of several curves stack upwards so they do not overlap.
 */
function floorMark(p: Palette, c: Curve, floor: number, direction: 'forward' | 'reverse', nextSlot: () => number): EChartsCoreOption | undefined {
  if (!(floor > 0)) return undefined;
  const cut = floorCut(c.values, floor, direction);
  if (!cut) return undefined;
  const slot = nextSlot();
  const text = floorLabel(c.short ?? c.name, logTick(floor), cut, direction);
  return {
    silent: true,
    animation: false,
    symbol: 'triangle',
    symbolRotate: 180,
    symbolSize: 9,
    itemStyle: { color: c.color(p) },
    label: {
      show: true, formatter: text, color: c.color(p), fontSize: 10, position: 'top', distance: 4 + 13 * slot,
      align: direction === 'forward' ? (cut.t < 0.15 * c.values.length ? 'left' : 'right') : (cut.t > 0.85 * c.values.length ? 'right' : 'left'),
      backgroundColor: p.bg, padding: [1, 3],
    },
    data: [{ coord: [cut.t, floor], name: text }],
  };
}

export interface CompareCurve {
  /** "adding-lstm.onnx · LSTM" */
  label: string;
  T: number;
  direction: 'forward' | 'reverse';
  jacobian?: { values: ArrayLike<number>; float32: boolean };
  gradNorm?: number[];
}

/**
 * Several models' curves on one log axis over the distance d = |last − t| from the step the
 * gradient enters at, so forward and reverse directions and different T line up.
 */
export function compareOption(p: Palette, view: ChartView, curves: CompareCurve[]): EChartsCoreOption {
  const maxT = Math.max(2, ...curves.map((c) => c.T));
  interface Line { name: string; curve: CompareCurve; values: ArrayLike<number>; float32: boolean; color: string; dashed: boolean }
  const lines: Line[] = [];
  curves.forEach((c, k) => {
    const color = p.series[k % p.series.length];
    if (c.jacobian) lines.push({ name: `${c.label} · Jacobian`, curve: c, values: c.jacobian.values, float32: c.jacobian.float32, color, dashed: false });
    if (c.gradNorm) lines.push({ name: `${c.label} · ‖dL/dh‖`, curve: c, values: c.gradNorm, float32: false, color, dashed: true });
  });
  const tOf = (c: CompareCurve, d: number) => (c.direction === 'forward' ? c.T - 1 - d : d);
  const floor = axisFloor(lines.map((l) => l.values)) ?? 0;
  const series = lines.map((l) => {
    const n = l.values.length;
    const data: (number | null)[][] = [];
    for (let d = 0; d < n; d++) {
      const v = l.values[tOf(l.curve, d)];
      data.push([d, v > 0 && aboveFloor(v, floor) ? v : null]);
    }
    return {
      type: 'line', name: l.name, data, color: l.color, showSymbol: false, sampling: n > 2000 ? 'minmax' : undefined,
      lineStyle: { width: l.dashed ? p.line * 0.9 : p.line + 0.5, type: l.dashed ? 'dashed' : 'solid' },
      emphasis: { focus: 'series' },
    };
  });
  const b = baseOption(p);
  const legend = wrappingLegend(p, lines.map((l) => l.name), Math.max(120, view.el.clientWidth - 160), { w: 22, gap: 14 });
  return {
    ...b,
    grid: { left: 64, right: 24, top: 18 + legend.rows * 22, bottom: 62 },
    legend: legend.option,
    tooltip: {
      ...(b.tooltip as object),
      trigger: 'axis',
      axisPointer: { type: 'line', lineStyle: { color: p.muted, type: 'dashed' } },
      formatter: (params: AxisTipParam[] | AxisTipParam) => {
        const list = Array.isArray(params) ? params : [params];
        if (!list.length) return '';
        const d = Math.round(Number(list[0].axisValue));
        // Every line the legend shows, at this distance, from its full data.
        const shown = view.chart.getOption() as { legend?: { selected?: Record<string, boolean> }[] };
        const selected = shown.legend?.[0]?.selected ?? {};
        const rows = lines.filter((l) => selected[l.name] !== false).map((l) => {
          const t = tOf(l.curve, d);
          const value = t >= 0 && t < l.values.length ? tipValue(l.values[t]) : '—';
          return `<div class="gl-tip-row">${dot(l.color)}<span class="gl-tip-name">${escapeHtml(l.name)}</span><span class="gl-tip-value">${value}</span><span class="gl-tip-note">t = ${t}</span></div>`;
        });
        return `<div class="gl-tip-title">${d === 0 ? 'the last step (d = 0)' : `${d} step${d === 1 ? '' : 's'} before the last`}</div>${rows.join('')}`;
      },
    },
    toolbox: view.toolbox(p, 'x'),
    xAxis: {
      type: 'value', min: 0, max: maxT - 1, minInterval: 1,
      name: 'steps back from the last step  d = |last − t|',
      nameLocation: 'middle', nameGap: 24,
      ...axisStyle(p),
      splitLine: { show: false },
    },
    yAxis: logYAxis(p, 'norm (log scale)', decadeRange(lines.map((l) => l.values), floor)),
    dataZoom: timeZoom(p, { bottom: 4 }),
    series,
  };
}

export interface ScatterGate {
  gate: string;
  left: number[];
  right: number[];
  /** Extra per-unit lines for the tooltip (e.g. the forget gate's f̄ and τ). */
  unitNote?: (unit: number) => string;
  /** This gate's thresholds, when they are not the layer's low/high (tanh-valued gates). */
  low?: number;
  high?: number;
  range?: 'sigmoid' | 'tanh' | 'unbounded';
}

/** Columns of the saturation scatter grid for a container width. */
export function scatterColumns(n: number, width: number): number {
  if (n <= 1) return 1;
  const fit = Math.max(1, Math.floor(width / 190));
  return Math.min(n, fit);
}

/** Karpathy et al. 2015: each unit at (left-saturated fraction, right-saturated fraction), one plot per gate. */
export function scatterOption(p: Palette, view: ChartView, gates: ScatterGate[], thresholds: { low: number; high: number }): EChartsCoreOption {
  const width = Math.max(200, view.el.clientWidth);
  const cols = scatterColumns(gates.length, width);
  const rows = Math.ceil(gates.length / cols);
  const padL = 46;
  const padR = 34; // the toolbox's column
  const gap = 34;
  const cellW = (width - padL - padR - gap * (cols - 1)) / cols;
  const size = Math.min(cellW, 210);
  const titleH = 44;
  const rowH = size + titleH + 34;
  const grids: EChartsCoreOption[] = [];
  const xAxes: EChartsCoreOption[] = [];
  const yAxes: EChartsCoreOption[] = [];
  const titles: EChartsCoreOption[] = [];
  const series: EChartsCoreOption[] = [];
  const a = axisStyle(p);
  gates.forEach((g, i) => {
    const col = i % cols;
    const row = Math.floor(i / cols);
    const left = padL + col * (cellW + gap) + (cellW - size) / 2;
    const top = 8 + row * rowH + titleH;
    grids.push({ left, top, width: size, height: size });
    titles.push({
      text: `${g.gate} gate`, left: left + size / 2, top: top - titleH + 2, textAlign: 'center',
      textStyle: { color: p.fg, fontSize: 12, fontWeight: 600 },
      subtext: `${g.left.length} units${g.range === 'tanh' ? ' · tanh-valued' : ''}`, subtextStyle: { color: p.muted, fontSize: 10 }, itemGap: 5,
    });
    const axis = (name: string, showName: boolean) => ({
      type: 'value', min: 0, max: 1, interval: 0.5, gridIndex: i, ...a,
      name: showName ? name : '', nameLocation: 'middle', nameGap: 24,
      axisLabel: { ...(a.axisLabel as object), formatter: (v: number) => String(v) },
    });
    // Tanh-valued gates (LSTM cell, GRU hidden candidate) are judged at 2·low − 1 and 2·high − 1.
    const lo = g.low ?? thresholds.low;
    const hi = g.high ?? thresholds.high;
    xAxes.push(axis(`left-saturated (< ${num(lo)})`, true));
    yAxes.push(axis(`right-saturated (> ${num(hi)})`, col === 0 || g.high !== undefined && g.high !== thresholds.high));
    series.push({
      type: 'scatter', name: g.gate, xAxisIndex: i, yAxisIndex: i,
      data: g.left.map((l, u) => [l, g.right[u], u]),
      symbolSize: p.highContrast ? 9 : 7,
      color: p.series[i % p.series.length],
      itemStyle: { opacity: 0.7, borderColor: p.bg, borderWidth: 0.5 },
      emphasis: { scale: 1.6, itemStyle: { opacity: 1 } },
    });
  });
  view.el.style.height = `${Math.ceil(rows * rowH + 8)}px`;
  const b = baseOption(p);
  return {
    ...b,
    title: titles,
    grid: grids,
    xAxis: xAxes,
    yAxis: yAxes,
    tooltip: {
      ...(b.tooltip as object),
      trigger: 'item',
      formatter: (q: { seriesIndex?: number; value?: number[] }) => {
        const g = gates[q.seriesIndex ?? 0];
        const u = (q.value ?? [])[2] ?? 0;
        const note = g.unitNote ? `<div class="gl-tip-note">${escapeHtml(g.unitNote(u))}</div>` : '';
        return `<div class="gl-tip-title">${escapeHtml(g.gate)} gate · unit ${u}</div>`
          + `<div class="gl-tip-row"><span class="gl-tip-name">left-saturated</span><span class="gl-tip-value">${tipValue(g.left[u])}</span></div>`
          + `<div class="gl-tip-row"><span class="gl-tip-name">right-saturated</span><span class="gl-tip-value">${tipValue(g.right[u])}</span></div>${note}`;
      },
    },
    toolbox: view.toolbox(p, 'none'),
    series,
  };
}

export interface WeightBars {
  gates: string[];
  /** Parameter name ("W", "R", "B", "P") → ‖d·_g‖ per gate (NaN where a gate has no block). */
  norms: { param: string; label: string; values: number[] }[];
}

/** ‖dW_g‖, ‖dR_g‖, ‖dB_g‖ (and ‖dP_g‖) per gate block, in ONNX gate order. */
export function weightsOption(p: Palette, view: ChartView, bars: WeightBars): EChartsCoreOption {
  const b = baseOption(p);
  const colors = [p.blue, p.orange, p.green, p.purple];
  const legend = wrappingLegend(p, bars.norms.map((n) => n.label), Math.max(100, view.el.clientWidth - 56), { w: 14, gap: 10 });
  return {
    ...b,
    legend: legend.option,
    grid: { left: 56, right: 16, top: 18 + 22 * legend.rows, bottom: 28 },
    tooltip: {
      ...(b.tooltip as object),
      trigger: 'axis',
      axisPointer: { type: 'shadow', shadowStyle: { color: p.grid } },
      formatter: (params: { dataIndex?: number; seriesIndex?: number }[]) => {
        const i = params[0]?.dataIndex ?? 0;
        const rows = params.map((q) => {
          const n = bars.norms[q.seriesIndex ?? 0];
          return `<div class="gl-tip-row">${dot(colors[(q.seriesIndex ?? 0) % colors.length])}<span class="gl-tip-name">${escapeHtml(n.label)}</span><span class="gl-tip-value">${tipValue(n.values[i])}</span></div>`;
        });
        return `<div class="gl-tip-title">${escapeHtml(bars.gates[i])} gate</div>${rows.join('')}`;
      },
    },
    toolbox: view.toolbox(p, 'none'),
    xAxis: { type: 'category', data: bars.gates, ...axisStyle(p), splitLine: { show: false }, axisTick: { show: false } },
    yAxis: { type: 'value', ...axisStyle(p), axisLabel: { ...(axisStyle(p).axisLabel as object), formatter: (v: number) => num(v, 2) } },
    series: bars.norms.map((n, k) => ({
      type: 'bar', name: n.label, data: n.values.map((v) => (Number.isFinite(v) ? v : null)), color: colors[k % colors.length],
      barMaxWidth: 22, barGap: '15%',
      itemStyle: { borderRadius: [2, 2, 0, 0], borderColor: p.highContrast ? p.fg : undefined, borderWidth: p.highContrast ? 1 : 0 },
    })),
  };
}
