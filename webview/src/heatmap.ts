/**
 * Time × unit heatmaps of a [T, B, H] tensor (|dL/dh|, a gate, …). ECharts draws the axes, zoom,
 * toolbox and colour legend; the cells are one bitmap that this module bins from the full tensor
 * for the visible window: at most one bin per pixel (≤ 1000 columns × 256 rows), max |·| per bin
 * for magnitudes (a spike never disappears) and the mean for gate values. Zooming re-bins from the
 * full data, so cells become exact when few enough are visible. Tooltips always read the hovered
 * (t, unit) from the full tensor, never from a bin. While a big result's data are still on their
 * way, the chart draws the host's preview of the tensor instead (protocol/pieces.ts HeatPreview:
 * the same values binned at about display resolution, with the full tensor's colour scale) and
 * its tooltip names the bin.
 */
import { timeAxisName, timeInterval, timeTick, timeTitle, type TimeAxis } from './timeAxis';
import type { Tensor } from '../../src/report/types';
import { echarts, type EChartsCoreOption } from './echarts';
import { axisStyle, baseOption, ChartView, type ChartContext, type Renderable } from './chartView';
import { diverging, viridis, type ColorMap } from './colormap';
import { escapeHtml, logTick, num, tipValue } from './format';
import type { Palette } from './theme';
import { binOf, binStarts, isPending, type HeatPreview, type PendingTensor } from '../../src/protocol/pieces';

export interface HeatSource {
  /** Stable key ("gradHidden", "gate:forget", …). */
  key: string;
  /** Shown in the chart's title and the tooltip ("|dL/dh_t|"). */
  label: string;
  /** The quantity's symbol in tooltips ("dL/dh", "f"). */
  symbol: string;
  tensor: Tensor;
  /** |x| with a log colour scale and max-binning (gradients), or x itself with mean-binning (gates, states). */
  magnitude: boolean;
}

/** Which batch element a heatmap shows: one, or the mean over the batch (of |x| for magnitudes). */
export type BatchSelection = number | 'mean';

type Scale = { kind: 'log'; lo: number; hi: number } | { kind: 'linear'; lo: number; hi: number } | { kind: 'signed'; lo: number; hi: number };

const MAX_COLS = 1000;

/** Axis labels at whole steps only (the axis runs from −½ to T − ½). */
export function integerTick(v: number): string {
  return Math.abs(v - Math.round(v)) < 1e-6 ? String(Math.round(v)) : '';
}

/** Running min, max and smallest positive value (NaN ignored). */
class RangeStats {
  lo = Infinity;
  hi = -Infinity;
  minPositive = Infinity;

  add(values: Float64Array, n: number): void {
    let { lo, hi, minPositive } = this;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
      if (v > 0 && v < minPositive) minPositive = v;
    }
    this.lo = lo;
    this.hi = hi;
    this.minPositive = minPositive;
  }
}

/**
 * Splits [lo, hi) into n equal bins over integer cells [0, limit): bin k gets the cells it overlaps
 * or, when a bin is narrower than a cell, the one cell under its middle.
 */
function binSpans(lo: number, hi: number, limit: number, start: Int32Array, end: Int32Array): void {
  const n = start.length;
  const d = (hi - lo) / n;
  for (let k = 0; k < n; k++) {
    const a = lo + k * d;
    let s: number;
    let e: number;
    if (d < 1) {
      s = Math.floor(a + d / 2);
      e = s + 1;
    } else {
      s = Math.floor(a);
      e = Math.ceil(a + d);
    }
    s = Math.max(0, Math.min(limit - 1, s));
    start[k] = s;
    end[k] = Math.max(s + 1, Math.min(limit, e));
  }
}
const MAX_ROWS = 256;
/** The time-axis charts of a section share their left and right margins, so step t sits at the same x in each. */
export const TIME_GRID = { left: 64, right: 84 };
const GRID = { ...TIME_GRID, top: 46, bottom: 54 };
/** Cell t spans x ∈ [t − ½, t + ½): step t is at x = t, as on the line charts. */
const OFF = 0.5;

export interface HeatmapOptions {
  /** Top and bottom margins (a compact track); left/right are TIME_GRID's. */
  top?: number;
  bottom?: number;
  /** What the rows are ("unit", "feature", "embedding dim"). */
  rowLabel?: string;
  /** Extra tooltip lines for (t, batch element) — e.g. the token id at t. */
  tipExtra?: (t: number, b: number) => string;
  /** A compact track: the title on one line, no colour-scale subtitle or axis names. */
  compact?: boolean;
  /** How t is labelled (calls/iterations for layers in loops and streaming models). */
  time?: TimeAxis;
}

export class HeatmapView implements Renderable {
  private readonly view: ChartView;
  private readonly tip: HTMLElement;
  private source: HeatSource;
  private batch: BatchSelection = 'mean';
  private scale: Scale | undefined;
  private frame = 0;
  /** The bins of the last drawn image, for the tooltip's "this colour is the max over …" note. */
  private readonly hideTip = (): void => { this.tip.hidden = true; };
  private drawn: { t0: number; t1: number; u0: number; u1: number; cols: number; rows: number } | undefined;
  private edges: { preview: HeatPreview; colAt: Int32Array; rowAt: Int32Array } | undefined;

  private readonly grid: { left: number; right: number; top: number; bottom: number };

  constructor(private readonly el: HTMLElement, ctx: ChartContext, imageName: string, source: HeatSource, private readonly hopts: HeatmapOptions = {}) {
    this.grid = { ...GRID, top: hopts.top ?? GRID.top, bottom: hopts.bottom ?? GRID.bottom };
    this.source = source;
    el.classList.add('gl-heatmap');
    this.view = new ChartView(el, ctx, imageName, (p) => this.option(p), {
      afterRender: () => this.scheduleImage(true),
      onResize: () => this.scheduleImage(),
    });
    this.tip = document.createElement('div');
    this.tip.className = 'gl-heat-tip';
    this.tip.setAttribute('role', 'tooltip');
    this.tip.hidden = true;
    el.appendChild(this.tip);
    const chart = this.view.chart;
    chart.on('datazoom', () => this.scheduleImage());
    chart.on('restore', () => this.scheduleImage());
    const zr = chart.getZr();
    zr.on('mousemove', (e: { offsetX: number; offsetY: number }) => this.hover(e.offsetX, e.offsetY));
    zr.on('globalout', () => { this.tip.hidden = true; });
    // A tooltip stays with its chart: gone when the pointer leaves it or the page scrolls under it.
    el.addEventListener('mouseleave', () => { this.tip.hidden = true; });
    window.addEventListener('scroll', this.hideTip, { passive: true, capture: true });
  }

  get dims(): { T: number; B: number; H: number } {
    const [T, B, H] = this.source.tensor.dims;
    return { T, B, H };
  }

  /** The tensor's data are still to come (or stopped), with or without the host's preview. */
  private get pending(): PendingTensor | undefined {
    const t = this.source.tensor;
    return isPending(t) ? t : undefined;
  }

  /** Previews arrived: a chart of a pending tensor draws again. */
  dataArrived(): void {
    if (!this.pending) return;
    this.scale = undefined;
    if (this.view.palette) this.view.render(this.view.palette);
  }

  /** The host's preview, while the tensor's data are not here yet. */
  private get preview(): HeatPreview | undefined {
    return this.pending?.preview;
  }

  /** The preview's bin edges in steps and units (cached per preview). */
  private previewEdges(p: HeatPreview): { colAt: Int32Array; rowAt: Int32Array } {
    if (this.edges?.preview !== p) {
      const { T, H } = this.dims;
      this.edges = { preview: p, colAt: binStarts(T, p.cols), rowAt: binStarts(H, p.rows) };
    }
    return this.edges;
  }

  setSource(source: HeatSource): void {
    this.source = source;
    this.scale = undefined;
    if (this.view.palette) this.view.render(this.view.palette);
  }

  setBatch(batch: BatchSelection): void {
    this.batch = batch;
    this.scale = undefined;
    if (this.view.palette) this.view.render(this.view.palette);
  }

  render(p: Palette): void {
    this.view.render(p);
  }

  dispose(): void {
    window.removeEventListener('scroll', this.hideTip, { capture: true });
    cancelAnimationFrame(this.frame);
    this.view.dispose();
  }

  /** Fills `out[u - u0]` with the displayed value of (t, u) for u in [u0, u1): |x| or x, one batch element or the mean. */
  private rowValues(t: number, u0: number, u1: number, out: Float64Array): void {
    const { B, H } = this.dims;
    const x = this.source.tensor.data;
    const abs = this.source.magnitude;
    if (this.batch !== 'mean') {
      const base = (t * B + this.batch) * H;
      for (let u = u0; u < u1; u++) {
        const v = x[base + u];
        out[u - u0] = abs ? Math.abs(v) : v;
      }
      return;
    }
    out.fill(0, 0, u1 - u0);
    for (let b = 0; b < B; b++) {
      const base = (t * B + b) * H;
      for (let u = u0; u < u1; u++) {
        const v = x[base + u];
        out[u - u0] += abs ? Math.abs(v) : v;
      }
    }
    if (B > 1) for (let u = u0; u < u1; u++) out[u - u0] /= B;
  }

  /** The colour scale over the whole tensor (not the window), so colours keep their meaning while zooming. */
  private colourScale(): Scale {
    if (this.scale) return this.scale;
    const preview = this.preview;
    if (preview) return (this.scale = this.scaleFrom(preview));
    // Nothing to scale yet (not cached: the preview or the data will bring the scale).
    if (this.pending) return { kind: 'linear', lo: 0, hi: 1 };
    const { T, H } = this.dims;
    const row = new Float64Array(H);
    const stats = new RangeStats();
    for (let t = 0; t < T; t++) {
      this.rowValues(t, 0, H, row);
      stats.add(row, H);
    }
    this.scale = this.scaleFrom(stats);
    return this.scale;
  }

  private scaleFrom({ lo, hi, minPositive }: { lo: number; hi: number; minPositive: number }): Scale {
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) lo = hi = 0;
    if (this.source.magnitude) {
      // Twelve decades below the maximum are plenty; a vanishing RNN spans about eleven.
      if (!(hi > 0)) return { kind: 'linear', lo: 0, hi: 1 };
      const low = Math.max(minPositive, hi * 1e-12);
      return { kind: 'log', lo: low < hi ? low : hi / 10, hi };
    }
    if (lo >= 0 && hi <= 1) return { kind: 'linear', lo: 0, hi: 1 };
    if (lo < 0) {
      const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
      return { kind: 'signed', lo: -m, hi: m };
    }
    return { kind: 'linear', lo, hi: hi > lo ? hi : lo + 1 };
  }

  private colourMap(): ColorMap {
    return this.colourScale().kind === 'signed' ? diverging : viridis;
  }

  private gridRect(): { x: number; y: number; w: number; h: number } {
    const c = this.view.chart;
    const g = this.grid;
    return { x: g.left, y: g.top, w: Math.max(1, c.getWidth() - g.left - g.right), h: Math.max(1, c.getHeight() - g.top - g.bottom) };
  }

  /** The visible data window [x0, x1) × [y0, y1) in (t, unit) coordinates. */
  private window(): { x0: number; x1: number; y0: number; y1: number } {
    const { T, H } = this.dims;
    const r = this.gridRect();
    const c = this.view.chart;
    const a = c.convertFromPixel({ gridIndex: 0 }, [r.x, r.y]) as number[] | undefined;
    const b = c.convertFromPixel({ gridIndex: 0 }, [r.x + r.w, r.y + r.h]) as number[] | undefined;
    if (!a || !b) return { x0: 0, x1: T, y0: 0, y1: H };
    const clamp = (v: number, hi: number) => (Number.isFinite(v) ? Math.min(hi, Math.max(0, v)) : 0);
    const x0 = clamp(Math.min(a[0], b[0]) + OFF, T);
    const x1 = clamp(Math.max(a[0], b[0]) + OFF, T);
    const y0 = clamp(Math.min(a[1], b[1]), H);
    const y1 = clamp(Math.max(a[1], b[1]), H);
    return { x0, x1: x1 > x0 ? x1 : Math.min(T, x0 + 1), y0, y1: y1 > y0 ? y1 : Math.min(H, y0 + 1) };
  }

  private scheduleImage(now = false): void {
    cancelAnimationFrame(this.frame);
    if (now) this.drawImage();
    else this.frame = requestAnimationFrame(() => this.drawImage());
  }

  /** Bins the visible window into ≤ one bin per pixel and hands the bitmap to ECharts as a graphic. */
  private drawImage(): void {
    const chart = this.view.chart;
    const p = this.view.palette;
    if (chart.isDisposed() || !p) return;
    const { T, H } = this.dims;
    if (T === 0 || H === 0) return;
    const r = this.gridRect();
    const w = this.window();
    const cols = Math.max(1, Math.min(MAX_COLS, Math.round(r.w)));
    const rows = Math.max(1, Math.min(MAX_ROWS, Math.round(r.h)));
    // Bin c covers x ∈ [x0 + c·dx, x0 + (c+1)·dx): the time steps it overlaps, or the one under its middle.
    const colStart = new Int32Array(cols);
    const colEnd = new Int32Array(cols);
    const rowStart = new Int32Array(rows);
    const rowEnd = new Int32Array(rows);
    const waiting = this.pending;
    if (waiting && !waiting.preview) {
      chart.setOption({
        graphic: [{
          id: 'loading', type: 'text', silent: true, x: r.x + r.w / 2, y: r.y + r.h / 2,
          style: { text: waiting.stopped ? 'Not loaded: loading was stopped. Re-run to load it.' : 'Loading…', fill: p.muted, fontSize: 12, fontFamily: p.font, align: 'center', verticalAlign: 'middle' },
        }],
      }, { lazyUpdate: false });
      this.el.dataset.preview = 'loading';
      return;
    }
    binSpans(w.x0, w.x1, T, colStart, colEnd);
    binSpans(w.y0, w.y1, H, rowStart, rowEnd);
    const preview = this.preview;
    if (preview) {
      this.paint(this.previewBins(preview, colStart, colEnd, rowStart, rowEnd), undefined, cols, rows, r, w, p);
      this.el.dataset.preview = `${preview.cols}x${preview.rows}`;
      return;
    }
    delete this.el.dataset.preview;
    const uLo = rowStart[0];
    const uHi = rowEnd[rows - 1];
    const line = new Float64Array(uHi - uLo);
    const bins = new Float64Array(cols * rows);
    const useMax = this.source.magnitude;
    const counts = useMax ? undefined : new Float64Array(cols * rows);
    bins.fill(useMax ? -Infinity : 0);
    // Zoomed out over everything, this pass sees every cell: the colour scale comes for free.
    const stats = !this.scale && uLo === 0 && uHi === H && colStart[0] === 0 && colEnd[cols - 1] === T ? new RangeStats() : undefined;
    let lastT = -1;
    for (let c = 0; c < cols; c++) {
      for (let t = colStart[c]; t < colEnd[c]; t++) {
        this.rowValues(t, uLo, uHi, line);
        if (stats && t > lastT) {
          stats.add(line, H);
          lastT = t;
        }
        for (let k = 0, i = c; k < rows; k++, i += cols) {
          const ua = rowStart[k] - uLo;
          const ub = rowEnd[k] - uLo;
          if (counts) {
            let sum = 0;
            let n = 0;
            for (let u = ua; u < ub; u++) {
              const v = line[u];
              if (v === v) {
                sum += v;
                n++;
              }
            }
            bins[i] += sum;
            counts[i] += n;
          } else {
            let m = bins[i];
            for (let u = ua; u < ub; u++) if (line[u] > m) m = line[u];
            bins[i] = m;
          }
        }
      }
    }
    if (stats && lastT === T - 1) this.scale = this.scaleFrom(stats);
    this.paint(bins, counts, cols, rows, r, w, p);
  }

  /**
   * The display bins from the preview's: the max of the preview bins a display bin overlaps, or
   * their mean weighted by the cells each covers (preview bins are coarser than the display's
   * only when zoomed in, and then the picture is blocky until the data are in).
   */
  private previewBins(pv: HeatPreview, colStart: Int32Array, colEnd: Int32Array, rowStart: Int32Array, rowEnd: Int32Array): Float64Array {
    const { T, H } = this.dims;
    const { colAt, rowAt } = this.previewEdges(pv);
    const colOf = (t: number) => binOf(t, T, pv.cols);
    const rowOf = (u: number) => binOf(u, H, pv.rows);
    const cols = colStart.length;
    const rows = rowStart.length;
    const bins = new Float64Array(cols * rows);
    const max = pv.kind === 'max';
    for (let k = 0; k < rows; k++) {
      const ra = rowOf(rowStart[k]);
      const rb = rowOf(rowEnd[k] - 1);
      for (let c = 0; c < cols; c++) {
        const ca = colOf(colStart[c]);
        const cb = colOf(colEnd[c] - 1);
        let best = -Infinity;
        let sum = 0;
        let weight = 0;
        for (let j = ra; j <= rb; j++) {
          for (let i = ca; i <= cb; i++) {
            const v = pv.values[j * pv.cols + i];
            if (max) {
              if (v > best) best = v;
            } else if (v === v) {
              const n = (colAt[i + 1] - colAt[i]) * (rowAt[j + 1] - rowAt[j]);
              sum += v * n;
              weight += n;
            }
          }
        }
        bins[k * cols + c] = max ? best : weight ? sum / weight : NaN;
      }
    }
    return bins;
  }

  /** Colours the bins (sums with `counts`, else values; −Infinity or NaN: no colour) and shows them as the chart's image. */
  private paint(bins: Float64Array, counts: Float64Array | undefined, cols: number, rows: number,
    r: { x: number; y: number; w: number; h: number }, w: { x0: number; x1: number; y0: number; y1: number }, p: Palette): void {
    const chart = this.view.chart;
    const { T } = this.dims;
    const map = this.colourMap();
    const canvas = document.createElement('canvas');
    canvas.width = cols;
    canvas.height = rows;
    const g = canvas.getContext('2d');
    if (!g) return;
    const img = g.createImageData(cols, rows);
    const px = new Uint32Array(img.data.buffer);
    // Colour index = clamp(255 · (f(v) − f(lo)) / (f(hi) − f(lo))), f = log10 or identity.
    const s = this.colourScale();
    const log = s.kind === 'log';
    const f0 = log ? Math.log10(s.lo) : s.lo;
    const k255 = 255 / ((log ? Math.log10(s.hi) : s.hi) - f0 || 1);
    const lut = map.lut;
    for (let i = 0; i < bins.length; i++) {
      let v = bins[i];
      if (counts) v = counts[i] ? v / counts[i] : NaN;
      else if (v === -Infinity) v = NaN;
      if (v !== v) {
        px[i] = 0;
        continue;
      }
      let x = log ? (v > 0 ? (Math.log10(v) - f0) * k255 : 0) : (v - f0) * k255;
      x = x < 0 ? 0 : x > 255 ? 255 : x;
      px[i] = lut[(x + 0.5) | 0];
    }
    g.putImageData(img, 0, 0);
    this.drawn = { t0: w.x0, t1: w.x1, u0: w.y0, u1: w.y1, cols, rows };
    chart.setOption({
      graphic: [{
        id: 'cells', type: 'image', silent: true, z: -10, x: r.x, y: r.y,
        style: { image: canvas, x: 0, y: 0, width: r.w, height: r.h, imageSmoothing: false },
      }, ...this.legendGraphics(p, r)],
    }, { lazyUpdate: false });
    // For tests and the curious: what the bitmap shows, and where steps 0 and T−1 sit (alignment with the line charts).
    this.el.dataset.bins = `${cols}x${rows}`;
    const px0 = chart.convertToPixel({ gridIndex: 0 }, [0, 0]) as number[] | undefined;
    const px1 = chart.convertToPixel({ gridIndex: 0 }, [T - 1, 0]) as number[] | undefined;
    if (px0 && px1) { this.el.dataset.xFirst = px0[0].toFixed(1); this.el.dataset.xLast = px1[0].toFixed(1); }
    this.el.dataset.window = `${w.x0.toFixed(1)}-${w.x1.toFixed(1)}x${w.y0.toFixed(1)}-${w.y1.toFixed(1)}`;
  }

  /** The colour bar at the right of the grid, with the scale's end (and middle) values. */
  private legendGraphics(p: Palette, r: { x: number; y: number; w: number; h: number }): EChartsCoreOption[] {
    const s = this.colourScale();
    const map = this.colourMap();
    const x = r.x + r.w + 14;
    const stops = map.stops.map(([o, color]) => ({ offset: 1 - o, color }));
    const fmt = (v: number) => (s.kind === 'log' ? logTick(v) : num(v, 3));
    const mid = s.kind === 'log' ? Math.sqrt(s.lo * s.hi) : (s.lo + s.hi) / 2;
    const label = (id: string, y: number, v: number): EChartsCoreOption => ({
      id, type: 'text', x: x + 16, y, silent: true,
      style: { text: fmt(v), fill: p.muted, fontSize: 10, fontFamily: p.font, verticalAlign: 'middle' },
    });
    return [
      {
        id: 'legend-bar', type: 'rect', silent: true, x, y: r.y,
        shape: { x: 0, y: 0, width: 10, height: r.h },
        style: { fill: new echarts.graphic.LinearGradient(0, 0, 0, 1, stops), stroke: p.border, lineWidth: 1 },
      },
      label('legend-hi', r.y + 4, s.hi),
      label('legend-mid', r.y + r.h / 2, mid),
      label('legend-lo', r.y + r.h - 4, s.lo),
    ];
  }

  private option(p: Palette): EChartsCoreOption {
    const { T, B, H } = this.dims;
    const b = baseOption(p);
    const a = axisStyle(p);
    const batchText = B === 1 ? '' : this.batch === 'mean' ? ` · mean over ${B} batch elements` : ` · batch ${this.batch}`;
    const binText = this.source.magnitude ? 'max per display bin' : 'mean per display bin';
    return {
      ...b,
      tooltip: { show: false },
      title: {
        text: `${this.source.label}${batchText}`, left: 4, top: 4,
        textStyle: { color: p.fg, fontSize: 12, fontWeight: 600, fontFamily: p.font },
        subtext: this.hopts.compact ? '' : this.subtitle(binText),
        subtextStyle: { color: p.muted, fontSize: 10 }, itemGap: 4,
      },
      toolbox: this.view.toolbox(p, 'xy'),
      // The bitmap is placed at exactly this rect: no automatic shrinking for labels (ECharts 6's outerBounds).
      grid: { ...this.grid, containLabel: false, outerBoundsMode: 'none' },
      xAxis: {
        type: 'value', min: -OFF, max: T - OFF, minInterval: 1, interval: timeInterval(this.hopts.time ?? { steps: 1 }, T), name: this.hopts.compact ? '' : timeAxisName(this.hopts.time ?? { steps: 1 }), nameLocation: 'middle', nameGap: 22,
        ...a, splitLine: { show: false }, axisLabel: { ...(a.axisLabel as object), formatter: timeTick(this.hopts.time ?? { steps: 1 }) },
      },
      yAxis: {
        type: 'value', min: 0, max: H, inverse: true, minInterval: 1, name: this.hopts.compact ? '' : this.hopts.rowLabel ?? 'unit', nameLocation: 'middle', nameGap: 40,
        ...a, splitLine: { show: false }, axisLabel: { ...(a.axisLabel as object), showMaxLabel: false, formatter: (v: number) => String(Math.round(v)) },
      },
      dataZoom: [
        { type: 'inside', xAxisIndex: 0, filterMode: 'none', zoomOnMouseWheel: 'ctrl', moveOnMouseWheel: false, moveOnMouseMove: true },
        { type: 'inside', yAxisIndex: 0, filterMode: 'none', zoomOnMouseWheel: 'shift', moveOnMouseWheel: false, moveOnMouseMove: false },
        ...(this.hopts.compact ? [] : [{
          type: 'slider', xAxisIndex: 0, filterMode: 'none', height: 14, bottom: 4, showDataShadow: false,
          borderColor: p.border, backgroundColor: 'transparent', fillerColor: 'rgba(128,128,128,0.18)',
          handleStyle: { color: p.bg, borderColor: p.muted }, moveHandleStyle: { color: p.muted, opacity: 0.4 },
          textStyle: { color: p.muted, fontSize: 10 }, labelFormatter: (v: number) => String(Math.round(v)), brushSelect: false,
        }]),
      ],
      // Invisible corners give the axes and the zoom their data extent.
      series: [{ type: 'scatter', data: [[-OFF, 0], [T - OFF, H]], symbolSize: 0, silent: true, tooltip: { show: false }, itemStyle: { opacity: 0 } }],
    };
  }

  /** The colour scale, and what the picture is: bins of the data, a preview of them, or nothing yet. */
  private subtitle(binText: string): string {
    const { T, H } = this.dims;
    const waiting = this.pending;
    if (waiting && !waiting.preview) return waiting.stopped ? 'not loaded' : 'loading…';
    const scale = this.colourScale().kind === 'log' ? 'log colour scale' : 'linear colour scale';
    if (waiting) return `${scale} · ${waiting.stopped ? 'preview (loading stopped: re-run for single cells)' : 'preview, sharpens when the data are in'}`;
    return `${scale}${T * H > MAX_COLS * MAX_ROWS ? ` · ${binText}` : ''}`;
  }

  /** The exact value under the pointer, from the full tensor. */
  private hover(x: number, y: number): void {
    const r = this.gridRect();
    if (x < r.x || x >= r.x + r.w || y < r.y || y >= r.y + r.h) {
      this.tip.hidden = true;
      return;
    }
    const { T, B, H } = this.dims;
    const pt = this.view.chart.convertFromPixel({ gridIndex: 0 }, [x, y]) as number[];
    const t = Math.floor(pt[0] + OFF);
    const u = Math.floor(pt[1]);
    if (!(t >= 0 && t < T && u >= 0 && u < H)) {
      this.tip.hidden = true;
      return;
    }
    if (this.pending && !this.preview) {
      this.tip.hidden = true;
      return;
    }
    const data = this.source.tensor.data;
    const float32 = data instanceof Float32Array;
    const sym = this.source.symbol;
    const lines: string[] = [];
    const preview = this.preview;
    if (preview) {
      // No single values yet: the preview bin under the pointer.
      const { colAt, rowAt } = this.previewEdges(preview);
      const c = binOf(t, T, preview.cols);
      const k = binOf(u, H, preview.rows);
      const value = preview.values[k * preview.cols + c];
      const what = preview.kind === 'max' ? `max of ${B > 1 ? 'the batch mean of ' : ''}|${sym}|` : `mean of ${B > 1 ? 'the batch mean of ' : ''}${sym}`;
      lines.push(`<div class="gl-tip-row"><span class="gl-tip-name">${escapeHtml(what)}</span><span class="gl-tip-value">${tipValue(value === -Infinity ? NaN : value)}</span></div>`);
      lines.push(`<div class="gl-tip-note">over t ${colAt[c]}–${colAt[c + 1] - 1}, units ${rowAt[k]}–${rowAt[k + 1] - 1} (a preview: ${this.pending?.stopped ? 're-run to load single values' : 'single values once the per-step data are in'})</div>`);
    } else if (this.batch === 'mean' && B > 1) {
      const row = new Float64Array(1);
      this.rowValues(t, u, u + 1, row);
      lines.push(`<div class="gl-tip-row"><span class="gl-tip-name">mean over batch of ${this.source.magnitude ? `|${sym}|` : sym}</span><span class="gl-tip-value">${tipValue(row[0])}</span></div>`);
      const shown = Math.min(B, 4);
      for (let b = 0; b < shown; b++) {
        lines.push(`<div class="gl-tip-row gl-tip-sub"><span class="gl-tip-name">batch ${b}: ${escapeHtml(sym)}</span><span class="gl-tip-value">${tipValue(data[(t * B + b) * H + u])}</span></div>`);
      }
      if (B > shown) lines.push(`<div class="gl-tip-note">… ${B - shown} more batch elements</div>`);
    } else {
      const b = this.batch === 'mean' ? 0 : this.batch;
      lines.push(`<div class="gl-tip-row"><span class="gl-tip-name">${escapeHtml(sym)}</span><span class="gl-tip-value">${tipValue(data[(t * B + b) * H + u])}</span></div>`);
    }
    if (this.hopts.tipExtra) lines.push(this.hopts.tipExtra(t, this.batch === 'mean' ? 0 : this.batch));
    const d = this.drawn;
    if (d && !preview) {
      const tPerBin = (d.t1 - d.t0) / d.cols;
      const uPerBin = (d.u1 - d.u0) / d.rows;
      if (tPerBin > 1 || uPerBin > 1) {
        const c = Math.floor(((x - r.x) / r.w) * d.cols);
        const k = Math.floor(((y - r.y) / r.h) * d.rows);
        const ta = Math.floor(d.t0 + c * tPerBin);
        const tb = Math.max(ta, Math.ceil(d.t0 + (c + 1) * tPerBin) - 1);
        const ua = Math.floor(d.u0 + k * uPerBin);
        const ub = Math.max(ua, Math.ceil(d.u0 + (k + 1) * uPerBin) - 1);
        lines.push(`<div class="gl-tip-note">the colour is the ${this.source.magnitude ? 'max' : 'mean'} over t ${ta}–${Math.min(T - 1, tb)}, units ${ua}–${Math.min(H - 1, ub)}; zoom in for single cells</div>`);
      }
    }
    this.tip.innerHTML = `<div class="gl-tip-title">${timeTitle(this.hopts.time ?? { steps: 1 }, t)} · ${escapeHtml(this.hopts.rowLabel ?? 'unit')} ${u}</div>${lines.join('')}`;
    this.tip.hidden = false;
    const tw = this.tip.offsetWidth;
    const th = this.tip.offsetHeight;
    const cw = this.el.clientWidth;
    const left = x + 14 + tw > cw ? Math.max(0, x - 14 - tw) : x + 14;
    const top = Math.max(0, Math.min(this.el.clientHeight - th, y + 14));
    this.tip.style.left = `${left}px`;
    this.tip.style.top = `${top}px`;
  }
}
