/**
 * One ECharts instance in one container: builds its option from the current palette, re-renders
 * on theme changes, follows its container's size, and exports a PNG through the panel's
 * `saveImage` (a webview cannot download files itself; the standalone report can).
 */
import { echarts, type ECharts, type EChartsCoreOption } from './echarts';
import { withAlpha, type Palette } from './theme';

export interface ChartContext {
  saveImage(name: string, dataUrl: string): void;
}

export interface Renderable {
  render(p: Palette): void;
  dispose(): void;
  /** Some of a big result's data (previews) arrived: draw again if they are yours. */
  dataArrived?(): void;
}

/** ECharts' own "save as image" glyph. */
const SAVE_ICON = 'path://M4.7,22.9L29.3,45.5L54.7,23.4M4.6,43.6L4.6,58L53.8,58L53.8,43.6M29.2,45.1L29.2,0';

export class ChartView implements Renderable {
  readonly chart: ECharts;
  palette: Palette | undefined;
  private readonly resizeObserver: ResizeObserver;
  private frame = 0;
  private lastWidth = 0;
  private lastHeight = 0;

  constructor(
    readonly el: HTMLElement,
    private readonly ctx: ChartContext,
    /** The file name offered when the image is saved, without extension. */
    readonly imageName: string,
    private readonly build: (p: Palette, view: ChartView) => EChartsCoreOption,
    private readonly opts: { rebuildOnResize?: boolean; afterRender?: (view: ChartView) => void; onResize?: (view: ChartView) => void } = {},
  ) {
    this.chart = echarts.init(el, undefined, { renderer: 'canvas' });
    this.lastWidth = el.clientWidth;
    this.lastHeight = el.clientHeight;
    this.resizeObserver = new ResizeObserver(() => {
      cancelAnimationFrame(this.frame);
      this.frame = requestAnimationFrame(() => this.resize());
    });
    this.resizeObserver.observe(el);
    // The toolbox is drawn on the canvas, out of Tab's reach: S on the focused chart saves it too.
    el.addEventListener('keydown', (e: KeyboardEvent) => {
      if ((e.key === 's' || e.key === 'S') && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        this.saveImage();
      }
    });
    const label = el.getAttribute('aria-label');
    if (label) el.setAttribute('aria-label', `${label} Press S to save the chart as a PNG image.`);
  }

  render(p: Palette): void {
    this.palette = p;
    const option = this.build(p, this);
    this.chart.setOption(option, { notMerge: true, lazyUpdate: false });
    // For tests: how the legend is laid out ("plain" wraps and shows every entry; "scroll" would page).
    const legend = (option as { legend?: { type?: string } | { type?: string }[] }).legend;
    const type = Array.isArray(legend) ? legend[0]?.type : legend?.type;
    if (type) this.el.dataset.legend = type;
    this.opts.afterRender?.(this);
  }

  private resize(): void {
    if (this.chart.isDisposed()) return;
    const width = this.el.clientWidth;
    const height = this.el.clientHeight;
    // ResizeObserver also reports the first layout and changes the chart made itself.
    if (width === this.lastWidth && height === this.lastHeight && width === this.chart.getWidth() && height === this.chart.getHeight()) return;
    this.lastHeight = height;
    this.chart.resize();
    if (this.opts.rebuildOnResize && width !== this.lastWidth && this.palette) this.render(this.palette);
    this.lastWidth = width;
    this.opts.onResize?.(this);
  }

  /** The toolbox: box zoom, reset and PNG export (the file keeps the theme's background). */
  toolbox(p: Palette, zoom: 'x' | 'xy' | 'none' = 'x'): EChartsCoreOption {
    const feature: Record<string, unknown> = {};
    if (zoom !== 'none') {
      feature.dataZoom = { yAxisIndex: zoom === 'x' ? 'none' : undefined, title: { zoom: 'Zoom to a box', back: 'Undo zoom' } };
      feature.restore = { title: 'Reset zoom' };
    }
    feature.mySaveImage = {
      show: true,
      title: 'Save as PNG',
      icon: SAVE_ICON,
      onclick: () => this.saveImage(),
    };
    return {
      right: 8,
      top: 0,
      itemSize: 14,
      itemGap: 10,
      iconStyle: { borderColor: p.muted, borderWidth: p.highContrast ? 2 : 1 },
      emphasis: { iconStyle: { borderColor: p.fg, textFill: p.fg, textBackgroundColor: p.hoverBg, textPadding: 4 } },
      feature,
    };
  }

  saveImage(): void {
    const p = this.palette;
    const url = this.chart.getDataURL({ type: 'png', pixelRatio: 2, backgroundColor: p?.bg ?? '#ffffff', excludeComponents: ['toolbox'] });
    this.ctx.saveImage(`${this.imageName}.png`, url);
  }

  dispose(): void {
    cancelAnimationFrame(this.frame);
    this.resizeObserver.disconnect();
    if (!this.chart.isDisposed()) this.chart.dispose();
  }
}

/** Text, tooltip and axis styles every chart shares. */
export function baseOption(p: Palette): EChartsCoreOption {
  return {
    animation: false,
    backgroundColor: 'transparent',
    textStyle: { color: p.fg, fontFamily: p.font, fontSize: 12 },
    tooltip: {
      backgroundColor: p.hoverBg,
      borderColor: p.hoverBorder,
      borderWidth: 1,
      padding: [6, 10],
      textStyle: { color: p.hoverFg, fontFamily: p.font, fontSize: 12 },
      extraCssText: 'box-shadow: 0 2px 8px rgba(0,0,0,0.25); border-radius: 4px;',
      confine: true,
      className: 'gl-echarts-tip',
    },
  };
}

export function axisStyle(p: Palette): EChartsCoreOption {
  return {
    axisLine: { lineStyle: { color: p.muted, width: p.highContrast ? 2 : 1 } },
    axisTick: { lineStyle: { color: p.muted } },
    axisLabel: { color: p.muted, fontFamily: p.font, fontSize: 11, hideOverlap: true },
    nameTextStyle: { color: p.muted, fontFamily: p.font, fontSize: 11 },
    splitLine: { lineStyle: { color: p.grid, width: 1 } },
  };
}

/** Inside zoom with Ctrl+wheel (a plain wheel keeps scrolling the page) and a slider below. */
export function timeZoom(p: Palette, opts: { xAxisIndex?: number | number[]; bottom?: number } = {}): EChartsCoreOption[] {
  const xAxisIndex = opts.xAxisIndex ?? 0;
  return [
    { type: 'inside', xAxisIndex, filterMode: 'none', zoomOnMouseWheel: 'ctrl', moveOnMouseWheel: false, moveOnMouseMove: true },
    {
      type: 'slider', xAxisIndex, filterMode: 'none', height: 16, bottom: opts.bottom ?? 6,
      borderColor: p.border, backgroundColor: 'transparent', fillerColor: withAlpha(p.blue, 0.18),
      dataBackground: { lineStyle: { color: p.muted, opacity: 0.5 }, areaStyle: { color: p.muted, opacity: 0.12 } },
      selectedDataBackground: { lineStyle: { color: p.blue, opacity: 0.7 }, areaStyle: { color: p.blue, opacity: 0.15 } },
      handleStyle: { color: p.bg, borderColor: p.muted },
      moveHandleStyle: { color: p.muted, opacity: 0.4 },
      textStyle: { color: p.muted, fontSize: 10 },
      labelFormatter: (v: number) => String(Math.round(v)),
      brushSelect: false,
    },
  ];
}

/** A coloured dot for tooltips (a class plus the series colour). */
export function dot(color: string): string {
  return `<span class="gl-dot" style="background:${color}"></span>`;
}
