#!/usr/bin/env node
// Renders the analysis panel for the bundled examples and screenshots it with headless Chromium:
// standalone HTML reports (LSTM, RNN, GRU and a comparison of all three, light and dark) and the
// panel in "host mode" (a stubbed acquireVsCodeApi, as in a VS Code webview, with its controls).
//
//   node scripts/render-panel.mjs [--no-build] [--no-large] [--out DIR] [--chromium PATH]
//
// Unless --no-large, it also renders a synthetic LSTM of T = 10 000, H = 1024 in host mode and
// prints how long the first render, a zoom of a heatmap and a tooltip take (and the longest task).
//
// Needs the CLI and the webview built (`node esbuild.js --production`) and `npx tsc -p .` (for
// out/src/protocol/standalone.js); both run first unless --no-build. Writes DIR/panel-*.html and
// DIR/panel-*.png (default DIR: test-artifacts/). Exits 1 when a page logs an error.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
};
const outDir = path.resolve(root, option('--out', 'test-artifacts'));
const chromiumPath = option('--chromium', process.env.CHROMIUM ?? '/usr/bin/chromium');
fs.mkdirSync(outDir, { recursive: true });

const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
if (!flag('--no-build')) {
  // The minified build is what ships (and parses fastest in the standalone file).
  run(process.execPath, ['esbuild.js', '--production']);
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.']);
}

const { reportFromJson, renderStandaloneHtml } = require(path.join(root, 'out', 'src', 'protocol', 'standalone.js'));
const assets = {
  js: fs.readFileSync(path.join(root, 'dist', 'webview', 'panel.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=.*$/m, ''),
  css: fs.readFileSync(path.join(root, 'dist', 'webview', 'panel.css'), 'utf8').replace(/\/\*# sourceMappingURL=.*\*\//, ''),
};

// 1. The reports, from the CLI exactly as a user would run it.
const examples = ['lstm', 'rnn', 'gru'];
const models = {};
const jsonText = {};
for (const name of examples) {
  const jsonPath = path.join(outDir, `report-${name}.json`);
  run(process.execPath, [path.join(root, 'bin', 'gradient-lens.js'), 'analyze', `examples/adding-${name}.onnx`,
    '--input', 'x=examples/adding-sample.npy', '--ep', 'cpu', '--json', jsonPath, '--quiet']);
  jsonText[name] = fs.readFileSync(jsonPath, 'utf8');
  const report = reportFromJson(JSON.parse(jsonText[name]));
  models[name] = { label: path.basename(report.model.path), path: report.model.path, report };
}

// 2. Standalone reports.
const pages = [
  { name: 'lstm', title: 'Gradient Lens — adding-lstm.onnx', models: [models.lstm] },
  { name: 'rnn', title: 'Gradient Lens — adding-rnn.onnx', models: [models.rnn] },
  { name: 'gru', title: 'Gradient Lens — adding-gru.onnx', models: [models.gru] },
  { name: 'compare', title: 'Gradient Lens — RNN vs GRU vs LSTM', models: [models.rnn, models.gru, models.lstm] },
];
for (const p of pages) {
  p.file = path.join(outDir, `panel-${p.name}.html`);
  fs.writeFileSync(p.file, renderStandaloneHtml(p.models, assets, p.title));
}

// 3. The host-mode page: the panel as VS Code loads it, with a stand-in for acquireVsCodeApi.
const hostFile = path.join(outDir, 'panel-host.html');
fs.writeFileSync(hostFile, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Gradient Lens (host mode)</title>
<style>${assets.css}</style></head>
<body class="vscode-dark gl-standalone" data-vscode-theme-kind="vscode-dark"><div id="app" role="main"></div>
<script>${assets.js.replace(/<\/script/gi, '<\\/script')}</script></body></html>`);

// 4. Screenshots.
const { chromium } = await import('playwright-core');
if (!fs.existsSync(chromiumPath)) {
  console.error(`error: no Chromium at ${chromiumPath}; install it (apt-get install -y chromium) or pass --chromium PATH.`);
  process.exit(1);
}
const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const problems = [];
const shots = [];
const timings = [];

/** A synthetic T = 10 000, H = 1024 LSTM report, built in the page and sent as the host would. */
async function largeReport({ context, page }) {
  const T = 10000;
  const H = 1024;
  await page.evaluate(() => {
    window.__longest = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.startTime < (window.__sentAt ?? Infinity)) continue;
        window.__longest = Math.max(window.__longest, e.duration);
        (window.__tasks ??= []).push(`${(e.startTime - window.__sentAt).toFixed(0)}+${e.duration.toFixed(0)}`);
      }
    }).observe({ type: 'longtask', buffered: true });
  });
  // GL_CPU_PROFILE=FILE: a CPU profile of the page from the first message to the rendered state (Chrome DevTools format).
  const cdp = process.env.GL_CPU_PROFILE ? await context.newCDPSession(page) : undefined;
  if (cdp) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 250 });
    await cdp.send('Profiler.start');
  }
  const esbuild = require('esbuild');
  const bundle = esbuild.buildSync({ entryPoints: [path.join(root, 'src/protocol/pieces.ts')], bundle: true, format: 'iife', globalName: 'GLPieces', write: false });
  await page.addScriptTag({ content: bundle.outputFiles[0].text });
  await page.evaluate(({ text, T, H }) => {
    let seed = 1;
    const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296);
    const f32 = (n, fn) => {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = fn(i);
      return a;
    };
    const r = JSON.parse(text);
    const layer = r.layers[0];
    const d = layer.directions[0];
    const I = layer.inputSize;
    Object.assign(layer, { hiddenSize: H, seqLen: T, batch: 1 });
    r.input.seqLen = T;
    const decay = (t) => Math.exp(-(T - 1 - t) / 900);
    const grad = f32(T * H, (i) => (rand() - 0.5) * decay(Math.floor(i / H)) * (1 + 20 * (i % H === 7)));
    const forget = f32(T * H, (i) => 1 / (1 + Math.exp(-4 * Math.sin((i % H) / 40 + Math.floor(i / H) / 700) - (rand() - 0.5))));
    const t3 = (data) => ({ dims: [T, 1, H], data });
    d.gates = { input: t3(forget), forget: t3(forget), output: t3(forget), cell: t3(grad) };
    d.hidden = t3(grad);
    d.cell = t3(grad);
    d.gradHidden = t3(grad);
    d.gradCell = t3(grad);
    const f64 = (n, fn) => Float64Array.from({ length: n }, (_, i) => fn(i));
    d.jacobianNorm = {
      state: { dims: [T], data: f64(T, (t) => 40 * Math.sqrt(decay(t))) },
      hidden: { dims: [T], data: f64(T, (t) => 32 * decay(t)) },
      cell: { dims: [T], data: f64(T, (t) => 32 * Math.sqrt(decay(t))) },
      method: 'probes', probes: 8, relError: 0.25,
    };
    d.weightGrads = { W: { dims: [4 * H, I], data: f32(4 * H * I, () => rand() - 0.5) }, R: { dims: [4 * H, H], data: f32(4 * H * H, () => (rand() - 0.5) / 30) }, B: { dims: [8 * H], data: f32(8 * H, () => rand() - 0.5) } };
    const m = d.metrics;
    delete m.weightGradNorms;
    for (const dec of [m.decay, ...Object.values(m.decayPaths ?? {})]) if (dec) dec.window = T;
    m.gradNorm = Array.from({ length: T }, (_, t) => 9 * decay(t));
    m.gradCellNorm = Array.from({ length: T }, (_, t) => 12 * decay(t));
    m.retention = { meanForget: Array.from({ length: H }, () => rand()), horizon: Array.from({ length: H }, () => 1 + 100 * rand()), cellHighway: Array.from({ length: T }, (_, t) => 32 * 0.985 ** (T - 1 - t)) };
    for (const g of Object.keys(m.saturation.gates)) {
      m.saturation.gates[g].leftPerUnit = Array.from({ length: H }, () => rand() * rand());
      m.saturation.gates[g].rightPerUnit = Array.from({ length: H }, () => rand() * rand());
    }
    // The synthetic data above was one long task of its own: measure the panel's alone.
    window.__longest = 0;
    // As the host sends it (src/protocol/pieces.ts, bundled into the page as GLPieces): the lean
    // report first, then the bulk tensors in pieces, one message per task.
    const models = [{ label: 'synthetic-T10000-H1024.onnx', path: '/synthetic/T10000-H1024.onnx', report: r }];
    // From the host's split on. Then, as the host does, the heatmaps' previews (decimated a tensor
    // a task) in one message: the |dL/dh| heatmap's first paint is when it draws one.
    window.__sentAt = performance.now();
    new MutationObserver(() => {
      const el = document.querySelector('[data-testid="heatmap-grad-0-forward"]');
      if (!window.__previewAt && el?.dataset.preview && el.dataset.preview !== 'loading') {
        window.__previewAt = performance.now();
        window.__previewed = el.dataset.preview;
      }
    }).observe(document.body, { attributes: true, subtree: true, attributeFilter: ['data-preview'] });
    const split = window.GLPieces.splitModels(models);
    window.postMessage({ kind: 'show', models: split.lean, pending: { token: 1, bytes: split.bytes },
      settings: { seed: 0, objective: 'sum', ep: 'auto', jacobian: 'probes:8', saturationLow: 0.1, saturationHigh: 0.9, inputs: {} } }, '*');
    const previews = [];
    const gen = window.GLPieces.previewsOf(split);
    window.__previewMs = 0;
    const previewNext = () => {
      const t = performance.now();
      const p = gen.next();
      window.__previewMs += performance.now() - t;
      if (p.done) {
        window.__resend = { lean: split.lean, bytes: split.bytes, previews };
        window.postMessage({ kind: 'previews', token: 1, previews }, '*');
        setTimeout(next, 0);
      } else { previews.push(p.value); setTimeout(previewNext, 0); }
    };
    setTimeout(previewNext, 0);
    const messages = [...window.GLPieces.pieceMessages(split.bulk)];
    window.__messages = messages.length;
    window.__largestMessage = Math.max(...messages.map((ps) => ps.reduce((n, p) => n + p.data.byteLength, 0)));
    // The pieces wait while the script looks at the previews (the pause is left out of the timings).
    const next = () => {
      if (!window.__piecesGo) {
        window.__pausedFrom ??= performance.now();
        setTimeout(next, 20);
        return;
      }
      if (window.__pausedFrom !== undefined && window.__paused === undefined) window.__paused = performance.now() - window.__pausedFrom;
      const m = messages.shift();
      if (!m) return;
      window.postMessage({ kind: 'pieces', token: 1, pieces: m }, '*');
      setTimeout(next, 0);
    };
  }, { text: jsonText.lstm, T, H });
  // A screenshot of the page or of one element, listed with the others.
  const shoot = async (what, name) => {
    const png = path.join(outDir, name);
    await what.screenshot({ path: png });
    shots.push(path.relative(root, png));
  };
  // The previews, before the data: the |dL/dh| heatmap and its tooltip naming a bin.
  const previewHeat = page.locator('[data-testid="heatmap-grad-0-forward"]');
  await page.waitForFunction(() => window.__previewAt, null, { timeout: 60000 });
  await previewHeat.scrollIntoViewIfNeeded();
  const pbox = await previewHeat.boundingBox();
  await page.mouse.move(pbox.x + pbox.width * 0.4, pbox.y + pbox.height * 0.45, { steps: 2 });
  await page.waitForSelector('[data-testid="heatmap-grad-0-forward"] .gl-heat-tip:not([hidden])');
  await shoot(previewHeat, 'panel-large-heat-preview-dark.png');
  await page.mouse.move(0, 0);
  await page.evaluate(() => { window.__piecesGo = true; });
  try {
    await page.waitForSelector('body[data-state="rendered"]', { timeout: 120000 });
  } catch (e) {
    await page.screenshot({ path: path.join(outDir, 'panel-large-failed.png') });
    throw new Error(`the large report did not render (state ${await page.evaluate(() => document.body.dataset.state)}): ${e.message}`);
  }
  if (cdp) fs.writeFileSync(process.env.GL_CPU_PROFILE, JSON.stringify((await cdp.send('Profiler.stop')).profile));
  const render = await page.evaluate(() => performance.now() - window.__sentAt - (window.__paused ?? 0));
  const firstPaint = await page.evaluate(() => Number(document.body.dataset.firstPaint) - window.__sentAt);
  const heatPreview = await page.evaluate(() => (window.__previewAt ? `|dL/dh| heatmap preview (${window.__previewed} bins; decimating all took ${window.__previewMs.toFixed(0)} ms) on screen ${(window.__previewAt - window.__sentAt).toFixed(0)} ms` : 'no heatmap preview drawn'));
  const delivery = await page.evaluate(() => `${window.__messages} messages of at most ${(window.__largestMessage / 1e6).toFixed(1)} MB`);
  await shoot(page, 'panel-large-top-dark.png');
  const flow = page.locator('[data-testid="chart-flow-0-forward"]');
  await flow.scrollIntoViewIfNeeded();
  const flowBox = await flow.boundingBox();
  await shoot(flow, 'panel-large-flow-dark.png');
  await page.mouse.move(flowBox.x + flowBox.width * 0.3, flowBox.y + flowBox.height * 0.5);
  await page.waitForTimeout(300);
  await shoot(flow, 'panel-large-flow-tip-dark.png');
  // Zooming the flow chart's time axis redraws the zoomed steps at about one bin per pixel: every step once zoomed far enough.
  const drawnBefore = await page.evaluate(() => document.querySelector('[data-testid="chart-flow-0-forward"]').dataset.drawn);
  await page.keyboard.down('Control');
  await page.mouse.wheel(0, -1500);
  await page.keyboard.up('Control');
  await page.waitForFunction((b) => document.querySelector('[data-testid="chart-flow-0-forward"]').dataset.drawn !== b, drawnBefore, { timeout: 20000 });
  await page.waitForTimeout(300);
  const flowZoom = `${drawnBefore} → ${await page.evaluate(() => document.querySelector('[data-testid="chart-flow-0-forward"]').dataset.drawn)}`;
  await shoot(flow, 'panel-large-flow-zoom-dark.png');
  const heat = page.locator('[data-testid="heatmap-grad-0-forward"]');
  await heat.scrollIntoViewIfNeeded();
  const box = await heat.boundingBox();
  const before = await heat.getAttribute('data-window');
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  const zoomStart = Date.now();
  await page.keyboard.down('Control');
  await page.mouse.wheel(0, -600);
  await page.keyboard.up('Control');
  await page.waitForFunction((b) => document.querySelector('[data-testid="heatmap-grad-0-forward"]').dataset.window !== b, before, { timeout: 20000 });
  const zoom = Date.now() - zoomStart;
  const after = await heat.getAttribute('data-window');
  const tipStart = Date.now();
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.45, { steps: 2 });
  await page.waitForSelector('[data-testid="heatmap-grad-0-forward"] .gl-heat-tip:not([hidden])');
  const tip = Date.now() - tipStart;
  const longest = await page.evaluate(() => window.__longest);
  if (process.env.GL_LONG_TASKS) console.log('long tasks (start+duration ms after the first message):', await page.evaluate(() => (window.__tasks ?? []).join(' ')));
  timings.push(`T = ${T}, H = ${H}: first paint (verdicts + flow chart) ${firstPaint.toFixed(0)} ms, ${heatPreview}, all data in and every chart drawn ${render.toFixed(0)} ms (${delivery}), heatmap zoom ${zoom} ms (window ${before} → ${after}), flow chart zoom (drawn steps ${flowZoom}, about one bin per pixel), tooltip ${tip} ms, longest main-thread task ${longest.toFixed(0)} ms`);
  await shoot(page, 'panel-large-dark.png');
  // The same report again, its previews and no data; Stop: the heatmaps keep their previews and say loading stopped.
  await page.mouse.move(0, 0);
  await page.evaluate(() => {
    const { lean, bytes, previews } = window.__resend;
    window.postMessage({ kind: 'show', models: lean, pending: { token: 2, bytes },
      settings: { seed: 0, objective: 'sum', ep: 'auto', jacobian: 'probes:8', saturationLow: 0.1, saturationHigh: 0.9, inputs: {} } }, '*');
    window.postMessage({ kind: 'previews', token: 2, previews }, '*');
  });
  await page.locator('[data-testid="stop-loading"]').click({ timeout: 20000 });
  await page.waitForSelector('body[data-state="rendered"]', { timeout: 60000 });
  const stopped = page.locator('[data-testid="heatmap-grad-0-forward"]');
  await stopped.scrollIntoViewIfNeeded();
  await page.waitForFunction(() => /^\d+x\d+$/.test(document.querySelector('[data-testid="heatmap-grad-0-forward"]')?.dataset.preview ?? ''), null, { timeout: 20000 });
  const sbox = await stopped.boundingBox();
  await page.mouse.move(sbox.x + sbox.width * 0.5, sbox.y + sbox.height * 0.5, { steps: 2 });
  const stopTip = await page.locator('[data-testid="heatmap-grad-0-forward"] .gl-heat-tip:not([hidden])').innerText({ timeout: 5000 });
  if (!/re-run to load single values/.test(stopTip)) throw new Error(`after Stop, the heatmap's tooltip does not say how to get single values: ${stopTip}`);
  await shoot(stopped, 'panel-large-heat-stopped-dark.png');
  await context.close();
}
try {
  const newPage = async (colorScheme, width = 1280, height = 900) => {
    const context = await browser.newContext({ viewport: { width, height }, colorScheme, deviceScaleFactor: 1 });
    const page = await context.newPage();
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`${page.url()}: console error: ${m.text()}`); });
    page.on('pageerror', (e) => { problems.push(`${page.url()}: ${e.message}`); console.error('pageerror', e.message); });
    return { context, page };
  };
  // The panel as VS Code loads it: acquireVsCodeApi stubbed (posted messages in window.__posted,
  // state kept), the page loaded and 'ready' said; window.__revive turns the JSON report's number
  // lists into Float32Arrays again.
  const hostPage = async (colorScheme, width, height) => {
    const opened = await newPage(colorScheme, width, height);
    await opened.page.addInitScript(() => {
      window.__posted = [];
      let state;
      window.acquireVsCodeApi = () => ({ postMessage: (m) => window.__posted.push(m), getState: () => state, setState: (s) => { state = s; } });
      window.__revive = (v) => {
        if (Array.isArray(v)) return v.map(window.__revive);
        if (v && typeof v === 'object') {
          if (Array.isArray(v.dims) && Array.isArray(v.data) && Object.keys(v).length === 2) return { dims: v.dims, data: Float32Array.from(v.data, (x) => x ?? NaN) };
          return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, window.__revive(x)]));
        }
        return v;
      };
    });
    await opened.page.goto(pathToFileURL(hostFile).href);
    await opened.page.waitForFunction(() => window.__posted.some((m) => m.kind === 'ready'));
    return opened;
  };
  for (const p of pages) {
    for (const scheme of ['light', 'dark']) {
      const { context, page } = await newPage(scheme);
      const t0 = Date.now();
      await page.goto(pathToFileURL(p.file).href);
      await page.waitForSelector('body[data-state="rendered"]', { timeout: 30000 });
      const ms = Date.now() - t0;
      // Non-empty canvases: every chart drew something.
      const blank = await page.evaluate(() => [...document.querySelectorAll('[data-testid^="chart-"], [data-testid^="heatmap-"], [data-testid^="scatter-"], [data-testid^="weights-"]')]
        .filter((el) => el.closest('details:not([open])') === null)
        .filter((el) => !el.querySelector('canvas')).map((el) => el.getAttribute('data-testid')));
      if (blank.length) problems.push(`${p.name}/${scheme}: charts without a canvas: ${blank.join(', ')}`);
      const png = path.join(outDir, `panel-${p.name}-${scheme}.png`);
      await page.screenshot({ path: png, fullPage: true });
      shots.push(`${path.relative(root, png)} (rendered in ${ms} ms)`);
      await context.close();
    }
  }
  // Host mode: ready → show, with the controls; then a 'failed' message.
  {
    const { context, page } = await hostPage('dark');
    await page.evaluate(({ text }) => {
      const report = window.__revive(JSON.parse(text));
      window.postMessage({
        kind: 'show',
        models: [{ label: 'adding-lstm.onnx', path: report.model.path, report }],
        settings: { seed: 0, objective: 'sum', ep: 'cpu', jacobian: 'auto', saturationLow: 0.1, saturationHigh: 0.9, inputs: { x: report.input.sources.x.replace(/^file:/, '') } },
      }, '*');
    }, { text: jsonText.lstm });
    await page.waitForSelector('body[data-state="rendered"]', { timeout: 30000 });
    const png = path.join(outDir, 'panel-host-lstm-dark.png');
    await page.screenshot({ path: png, fullPage: false });
    shots.push(path.relative(root, png));
    // The Re-run button posts the settings; the panel persisted its state.
    await page.click('vscode-button[appearance="primary"]');
    const posted = await page.evaluate(() => window.__posted.map((m) => m.kind));
    if (!posted.includes('rerun')) problems.push(`host mode: Re-run posted ${JSON.stringify(posted)}, no 'rerun'`);
    await page.evaluate(() => window.postMessage({ kind: 'busy', message: 'Analysing adding-lstm.onnx' }, '*'));
    await page.waitForSelector('body[data-state="busy"]');
    const busyPng = path.join(outDir, 'panel-host-busy-dark.png');
    await page.screenshot({ path: busyPng });
    shots.push(path.relative(root, busyPng));
    await page.evaluate(() => window.postMessage({ kind: 'failed', message: "error: input 'x' has shape [3, 1, 2] but the model expects [50, 1, 2]; pass a .npy of that shape." }, '*'));
    await page.waitForSelector('body[data-state="failed"]');
    const failPng = path.join(outDir, 'panel-host-failed-dark.png');
    await page.screenshot({ path: failPng, clip: { x: 0, y: 0, width: 1280, height: 420 } });
    shots.push(path.relative(root, failPng));
    await context.close();
  }
  // Beside the code at 900 × 700, on random inputs (the random-inputs note, the verdict in the first screen).
  {
    const { context, page } = await hostPage('light', 900, 700);
    await page.evaluate(({ text }) => {
      const report = window.__revive(JSON.parse(text));
      report.input.sources = Object.fromEntries(Object.keys(report.input.sources).map((k) => [k, 'random']));
      window.postMessage({ kind: 'show', models: [{ label: 'adding-lstm.onnx', path: report.model.path, report }],
        settings: { seed: 0, objective: 'sum', ep: 'auto', jacobian: 'auto', saturationLow: 0.1, saturationHigh: 0.9, inputs: {} } }, '*');
    }, { text: jsonText.lstm });
    await page.waitForSelector('body[data-state="rendered"]', { timeout: 30000 });
    const png = path.join(outDir, 'panel-host-900.png');
    await page.screenshot({ path: png, fullPage: false });
    shots.push(path.relative(root, png));
    await context.close();
  }
  if (!flag('--no-large')) await largeReport(await hostPage('dark'));
} finally {
  await browser.close();
}
for (const s of shots) console.log(`wrote ${s}`);
for (const t of timings) console.log(t);
if (problems.length) {
  for (const p of problems) console.error(`problem: ${p}`);
  process.exit(1);
}
