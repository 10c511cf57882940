/**
 * The analysis panel's entry point. In VS Code it says `ready`, then renders what the host sends
 * (HostToPanel); in the standalone HTML report it renders the embedded models. Sets
 * `document.body.dataset.state` to waiting | busy | partial | rendered | failed (tests wait on
 * 'rendered'; 'partial': a big result's first phase is drawn, its bulk tensors still arriving, and
 * `data-first-paint` holds when that happened, in performance.now() milliseconds).
 */
import { exactEstimateAll } from '../../src/analysis/exactCost';
import {
  provideVSCodeDesignSystem, vsCodeButton, vsCodeDropdown, vsCodeOption, vsCodeProgressRing, vsCodeTextField,
} from '@vscode/webview-ui-toolkit';
import '../panel.css';
import type { HostToPanel, PanelModel, PanelSettings } from '../../src/protocol/panel';
import type { ValueInfoSummary } from '../../src/report/types';
import { Controls, settingsSummary } from './controls';
import { panelWording } from '../../src/protocol/wording';
import { h } from './dom';
import { connectHost, embeddedModels, type Host } from './host';
import { readPalette, watchTheme } from './theme';
import { comparisonView, modelView, Registry, type ViewContext } from './view';
import { PieceCollector, pieceMessages, type TensorPiece } from '../../src/protocol/pieces';
import type { Tensor } from '../../src/report/types';
import { formatMegabytes } from './format';

/** Messages of bulk tensors on their way at once (the panel asks for one more as each arrives). */
const PIECES_AHEAD = 3;

provideVSCodeDesignSystem().register(vsCodeButton(), vsCodeDropdown(), vsCodeOption(), vsCodeTextField(), vsCodeProgressRing());

type PanelStateName = 'waiting' | 'busy' | 'partial' | 'rendered' | 'failed';

class Panel {
  private readonly root: HTMLElement;
  private readonly banner: HTMLElement;
  /** Shown over a result when the re-run that should have replaced it failed. */
  private readonly stale: HTMLElement;
  private readonly controlsSlot: HTMLElement;
  private readonly content: HTMLElement;
  private readonly overlay: HTMLElement;
  private readonly overlayText: HTMLElement;
  private registry = new Registry();
  private controls: Controls | undefined;
  private models: PanelModel[] = [];
  private settings: PanelSettings | undefined;
  /** The settings that produced the shown result. */
  private shownSettings: PanelSettings | undefined;
  private drawerOpen = false;
  private modelInputs: ValueInfoSummary[] = [];
  private readonly ctx: ViewContext;
  /** A big result's bulk tensors on their way (pieces.ts), and the strip that shows their progress. */
  private incoming: { token: number; collector: PieceCollector } | undefined;
  /** The bulk tensors of the shown result once all arrived: the host let its copy go and asks for them back to export. */
  private held: { token: number; bulk: Tensor[] } | undefined;
  private readonly loading: HTMLElement;

  constructor(private readonly host: Host) {
    this.root = document.getElementById('app') ?? document.body.appendChild(h('div', { id: 'app', role: 'main' }));
    this.root.classList.add('gl-root');
    this.banner = h('div', { class: 'gl-banner', role: 'alert', hidden: true });
    this.stale = h('div', { class: 'gl-stale-note', role: 'status', 'data-testid': 'stale', hidden: true });
    this.controlsSlot = h('div', { class: 'gl-controls-slot' });
    // The results are a landmark the skip link jumps to (the first thing Tab reaches in the panel).
    this.content = h('div', { class: 'gl-content', id: 'gl-results', tabindex: -1, role: 'region', 'aria-label': 'Results' },
      h('p', { class: 'gl-waiting gl-muted' }, host.connected ? 'Waiting for the analysis…' : 'This report holds no data.'));
    const skip = h('a', { class: 'gl-skip', href: '#gl-results', 'data-testid': 'skip-to-results' }, 'Skip to results');
    skip.addEventListener('click', (e) => { e.preventDefault(); this.content.focus(); });
    this.overlayText = h('span', { class: 'gl-overlay-text' });
    this.overlay = h('div', { class: 'gl-overlay', role: 'status', 'aria-live': 'polite', hidden: true },
      h('div', { class: 'gl-overlay-box' }, h('vscode-progress-ring', {}), this.overlayText));
    this.loading = h('div', { class: 'gl-loading-strip', role: 'status', 'aria-live': 'polite', 'data-testid': 'loading-bulk', hidden: true });
    this.root.replaceChildren(skip, this.controlsSlot, this.banner, this.stale, this.loading, this.content, this.overlay);
    if (!host.connected) document.body.classList.add('gl-standalone');
    this.ctx = {
      palette: readPalette, saveImage: (name, url) => host.saveImage(name, url),
      connected: host.connected, wording: host.connected ? panelWording : undefined,
      exact: host.connected ? {
        // The settings of the shown result (not edits in the drawer not yet run), with exact.
        run: () => {
          const base = this.shownSettings ?? this.settings;
          if (!base) return;
          this.settings = { ...base, jacobian: 'exact' };
          this.persist();
          this.host.post({ kind: 'rerun', settings: this.settings });
        },
        estimate: () => exactEstimateAll(this.models.map((m) => m.report)),
      } : undefined,
    };
    // "Choose .npy inputs…" in the results opens the settings drawer at the inputs.
    this.root.addEventListener('gl-open-settings', () => {
      this.controls?.setDrawer(true);
      this.controlsSlot.querySelector<HTMLElement>('[data-testid^="choose-input-"]')?.focus();
    });
    watchTheme(!host.connected, () => this.registry.renderAll(readPalette()));
    this.setState('waiting');
  }

  start(): void {
    if (!this.host.connected) {
      try {
        const models = embeddedModels();
        if (models?.length) this.show(models, undefined);
        else this.setState('failed');
      } catch (e) {
        this.fail(`The report's embedded data could not be read: ${(e as Error).message}`);
      }
      return;
    }
    const restored = this.host.getState();
    if (restored) {
      this.settings = restored.settings;
      this.drawerOpen = !!restored.drawerOpen;
      this.mountControls();
    }
    window.addEventListener('message', (e: MessageEvent) => this.handle(e.data as HostToPanel));
    this.host.post({ kind: 'ready' });
  }

  private handle(m: HostToPanel): void {
    if (!m || typeof m !== 'object') return;
    switch (m.kind) {
      case 'show':
        this.settings = m.settings;
        this.incoming = m.pending ? { token: m.pending.token, collector: new PieceCollector(m.models) } : undefined;
        this.held = undefined;
        this.show(m.models, m.settings);
        this.showLoading();
        // The bulk tensors, a few messages at a time, once this lean report is on screen.
        if (m.pending) this.host.post({ kind: 'piecesWanted', token: m.pending.token, count: PIECES_AHEAD });
        return;
      case 'previews':
        // The heatmaps drawn so far (and those still to mount) show the previews at once.
        if (this.incoming?.token === m.token && this.incoming.collector.addPreviews(m.previews)) this.registry.dataArrived();
        return;
      case 'pieces':
        this.pieces(m.token, m.pieces);
        return;
      case 'busy':
        this.overlayText.textContent = m.message;
        this.overlay.hidden = false;
        this.root.setAttribute('aria-busy', 'true');
        this.controls?.setBusy(true);
        this.setState('busy');
        return;
      case 'failed':
        // Nothing shown yet: mount the settings with the model's inputs, so the user can fix what failed.
        if (m.settings && this.models.length === 0) {
          this.settings = m.settings;
          this.modelInputs = m.inputs ?? [];
          this.drawerOpen = true;
          this.mountControls();
        }
        this.fail(m.message);
        return;
      case 'inputPicked':
        this.controls?.inputPicked(m.input, m.file);
        return;
      case 'targetPicked':
        this.controls?.targetPicked(m.file);
        return;
      case 'sendBulk':
        void this.sendBulk(m.token);
        return;
    }
  }

  /** The held bulk tensors back to the host in pieces, a task each (the panel stays responsive meanwhile). */
  private async sendBulk(token: number): Promise<void> {
    const held = this.held;
    if (!held || held.token !== token) {
      this.host.post({ kind: 'bulkGone', token });
      return;
    }
    for (const pieces of pieceMessages(held.bulk)) {
      this.host.post({ kind: 'bulk', token, pieces });
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  /** Bulk data of the shown result: when the last piece is in, the view is drawn again, whole. */
  private pieces(token: number, pieces: TensorPiece[]): void {
    const inc = this.incoming;
    if (!inc || inc.token !== token) return;
    inc.collector.add(pieces);
    if (!inc.collector.done) {
      this.showLoading();
      this.host.post({ kind: 'piecesWanted', token, count: 1 });
      return;
    }
    this.incoming = undefined;
    this.held = { token, bulk: inc.collector.bulk };
    this.host.post({ kind: 'piecesHeld', token });
    this.showLoading();
    const y = window.scrollY;
    this.show(this.models, this.shownSettings, y);
  }

  private showLoading(): void {
    const inc = this.incoming;
    if (!inc) {
      this.loading.hidden = true;
      return;
    }
    const c = inc.collector;
    const stop = document.createElement('vscode-button');
    stop.setAttribute('appearance', 'secondary');
    stop.dataset.testid = 'stop-loading';
    stop.textContent = 'Stop';
    stop.addEventListener('click', () => {
      this.host.post({ kind: 'stopPieces', token: inc.token });
      this.incoming = undefined;
      this.loading.hidden = true;
      // Drawn again: the tensors that arrived whole at full resolution, the others keep their
      // previews (if they came) and say that loading stopped.
      c.stop();
      this.show(this.models, this.shownSettings, window.scrollY);
    });
    this.loading.replaceChildren(
      h('vscode-progress-ring', { class: 'gl-loading-ring' }),
      h('span', {}, `Loading the per-step tensors for the heatmaps: ${formatMegabytes(c.receivedBytes)} of ${formatMegabytes(c.totalBytes)}. The verdicts and the flow chart below are complete.`),
      stop);
    this.loading.hidden = false;
  }

  private show(models: PanelModel[], settings: PanelSettings | undefined, scrollTo?: number): void {
    this.models = models;
    if (scrollTo === undefined) delete document.body.dataset.firstPaint;
    this.shownSettings = settings;
    this.banner.hidden = true;
    this.stale.hidden = true;
    this.content.classList.remove('gl-is-stale');
    this.overlay.hidden = true;
    this.root.removeAttribute('aria-busy');
    this.registry.dispose();
    this.registry = new Registry();
    if (settings) {
      this.host.setState({ modelPaths: models.map((m) => m.path), settings, drawerOpen: this.drawerOpen });
      this.mountControls();
    }
    try {
      const view = models.length === 0
        ? h('p', { class: 'gl-waiting gl-muted' }, 'No models to show.')
        : models.length === 1
          ? modelView(models[0], 0, this.ctx, this.registry)
          : comparisonView(models, this.ctx, this.registry);
      const footer = this.host.connected ? null : h('footer', { class: 'gl-footer gl-muted' },
        'Gradient Lens standalone report · hover the charts for exact values · the toolbox icons zoom and save PNG images');
      this.content.replaceChildren(view, ...(footer ? [footer] : []));
    } catch (e) {
      // Nothing of this report is on screen: not a "previous result" either.
      this.models = [];
      this.fail(`The panel could not render this report: ${(e as Error).message}`);
      return;
    }
    if (scrollTo !== undefined) window.scrollTo(0, scrollTo);
    const registry = this.registry;
    const partial = !!this.incoming;
    registry.mount(readPalette, () => {
      // The first charts (the verdicts are already in the page) are on screen.
      if (!document.body.dataset.firstPaint) document.body.dataset.firstPaint = performance.now().toFixed(0);
    }).then((complete) => {
      // Two frames: ECharts and the heatmap bitmaps have painted.
      if (complete) requestAnimationFrame(() => requestAnimationFrame(() => { if (this.registry === registry) this.setState(partial && this.incoming ? 'partial' : 'rendered'); }));
    }, (e: unknown) => this.fail(`The panel could not render this report: ${(e as Error).message}`));
  }

  private mountControls(): void {
    if (!this.host.connected || !this.settings) return;
    this.controls = new Controls(this.settings, this.models.length ? this.models : undefined, {
      rerun: (settings) => {
        this.settings = settings;
        this.host.post({ kind: 'rerun', settings });
      },
      pickInput: (input) => this.host.post({ kind: 'pickInput', input }),
      pickTarget: () => this.host.post({ kind: 'pickTarget' }),
      exportReport: (format) => this.host.post({ kind: 'export', format }),
      changed: (settings) => {
        this.settings = settings;
        this.persist();
      },
      drawer: (open) => {
        this.drawerOpen = open;
        this.persist();
      },
    }, this.drawerOpen || this.models.length === 0, this.modelInputs);
    this.controlsSlot.replaceChildren(this.controls.el);
  }

  private persist(): void {
    if (!this.settings) return;
    const paths = this.models.length ? this.models.map((m) => m.path) : this.host.getState()?.modelPaths ?? [];
    this.host.setState({ modelPaths: paths, settings: this.settings, drawerOpen: this.drawerOpen });
  }

  private fail(raw: string): void {
    const message = this.host.connected ? panelWording(raw) : raw;
    // A result is still shown: it is the previous run's, not of the settings the failed run was given.
    if (this.models.length > 0) {
      this.stale.replaceChildren(
        h('b', {}, 'Showing the previous result'),
        ` — the re-run failed (see above), so the charts below are still those computed with: ${this.shownSettings ? settingsSummary(this.shownSettings) : 'the earlier settings'}.`);
      this.stale.hidden = false;
      this.content.classList.add('gl-is-stale');
    }
    // Nothing shown yet: the placeholder would still say it is waiting.
    if (this.models.length === 0) this.content.replaceChildren(h('p', { class: 'gl-muted' }, 'No report to show.'));
    this.overlay.hidden = true;
    this.root.removeAttribute('aria-busy');
    this.controls?.setBusy(false);
    const actions = this.host.connected
      ? h('div', { class: 'gl-banner-actions' }, (() => {
        const b = document.createElement('vscode-button');
        b.setAttribute('appearance', 'secondary');
        b.textContent = 'Show Log';
        b.addEventListener('click', () => this.host.post({ kind: 'showLog' }));
        return b;
      })())
      : null;
    this.banner.replaceChildren(
      h('span', { class: 'gl-banner-icon', 'aria-hidden': 'true' }, '✕'),
      h('span', { class: 'gl-banner-text', 'data-testid': 'error' }, message),
      ...(actions ? [actions] : []));
    this.banner.hidden = false;
    this.setState('failed');
  }

  private setState(state: PanelStateName): void {
    document.body.dataset.state = state;
  }
}

function boot(): void {
  new Panel(connectHost()).start();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
