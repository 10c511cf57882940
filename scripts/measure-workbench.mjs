// The long-sequence case in a real workbench, measured the way issue reports measured it:
// code-server with the extension from the test VSIX, driven by Debian's Chromium. An LSTM with
// I = 256, H = 1024 (the synthetic model of the tests) is analysed at T steps (default 10 000)
// with the Jacobian off, from the explorer's "Analyze Gradient Flow"; printed:
//   - when the analysis finished (its progress notification closed) and when the first verdict
//     card was on screen, after the click;
//   - the longest task of the workbench's main thread and of the panel's webview;
//   - the extension host's RSS: its peak, when the panel had every per-step tensor, and a minute later.
// Usage: node scripts/measure-workbench.mjs [--seq-len T] [--hidden H]   (needs the harness of
// test/vscode/setup.sh and the VSIX of test/vscode/vsix.test.mjs; one run takes about 2 minutes.)
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { harnessProblem, installVsix, launchBrowser, startServer, workbenchUrl } from '../test/vscode/harness.mjs';

const require = createRequire(import.meta.url);
const { REPO } = require('../test/vscode/workspace.js');
const { requireTestVsix } = require('../test/vscode/vsix.js');
const arg = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : fallback; };
const T = arg('seq-len', 10000);
const H = arg('hidden', 1024);
const problem = harnessProblem();
if (problem) { console.error(`measure-workbench: ${problem}`); process.exit(2); }
const vsix = requireTestVsix();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradient-lens-measure-'));
const workspace = path.join(runDir, 'ws');
fs.mkdirSync(workspace);
const MODEL = `lstm-h${H}.onnx`;
fs.writeFileSync(path.join(workspace, MODEL), require(path.join(REPO, 'out', 'test', 'unit', 'synthetic.js')).syntheticRecurrentModelBytes({ op: 'LSTM', hidden: H, input: 256, seed: 1 }));

/** RSS in MB of the extension host (code-server runs it as a Node process of its own). */
function extensionHostRss() {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('extensionHost')) continue;
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) return Number(m[1]) / 1024;
    } catch { /* gone */ }
  }
  return undefined;
}

let server;
let browser;
try {
  const extensionsDir = path.join(runDir, 'extensions');
  const userDataDir = path.join(runDir, 'user-data');
  installVsix({ vsix, extensionsDir, userDataDir, runDir });
  server = await startServer({ runDir, extensionsDir, userDataDir, smokeTestDriver: false,
    settings: { 'gradientLens.sequenceLength': T, 'gradientLens.jacobian': 'off', 'gradientLens.executionProvider': 'cpu' } });
  browser = await launchBrowser({ width: 1600, height: 1000 });
  const page = browser.page;
  await page.goto(workbenchUrl(server, workspace));
  await page.waitForSelector('.monaco-workbench .statusbar', { timeout: 60_000 });
  await page.evaluate(() => {
    window.__long = 0;
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long = Math.max(window.__long, e.duration); }).observe({ type: 'longtask' });
  });
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: MODEL }).first();
  await row.waitFor({ timeout: 30_000 });
  const item = page.locator('.monaco-menu .action-item', { hasText: 'Analyze Gradient Flow' }).first();
  const progress = page.locator('.notifications-toasts .notification-toast', { hasText: MODEL });
  const rssBefore = extensionHostRss();
  let t0 = 0;
  // Right-click → "Analyze Gradient Flow", until its progress notification shows (menus fill in
  // once the workbench has registered the extension's contributions).
  for (let i = 0; !t0; i++) {
    if (i >= 20) throw new Error('the analysis did not start from the context menu');
    await page.keyboard.press('Escape');
    await row.click({ button: 'right' });
    if (!(await item.waitFor({ timeout: 2000 }).then(() => true, () => false))) { await sleep(1000); continue; }
    await item.hover();
    const clicked = Date.now();
    await item.click();
    if (await progress.first().waitFor({ timeout: 30_000 }).then(() => true, () => false)) t0 = clicked;
  }
  let seen = false;
  let doneAt = 0;
  let verdictAt = 0;
  let heldAt = 0;
  let peak = 0;
  let frame;
  const end = Date.now() + 600_000;
  while (Date.now() < end && !heldAt) {
    peak = Math.max(peak, extensionHostRss() ?? 0);
    const showing = (await progress.count()) > 0;
    seen ||= showing;
    if (!doneAt && seen && !showing) doneAt = Date.now();
    if (!frame) {
      for (const f of page.frames()) {
        if (f === page.mainFrame()) continue;
        if (await f.evaluate(() => !!document.querySelector('[data-testid^="verdict-card-"]')).catch(() => false)) {
          frame = f;
          verdictAt = Date.now();
          await f.evaluate(() => {
            window.__long = 0;
            new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long = Math.max(window.__long, e.duration); }).observe({ type: 'longtask' });
          });
        }
      }
    } else if (await frame.evaluate(() => document.body.dataset.state === 'rendered').catch(() => false)) heldAt = Date.now();
    await sleep(100);
  }
  if (!heldAt) throw new Error('the panel did not finish within 10 minutes');
  const rssHeld = extensionHostRss();
  await sleep(60_000);
  const rssLater = extensionHostRss();
  const workbenchLong = await page.evaluate(() => window.__long);
  const webviewLong = await frame.evaluate(() => window.__long);
  const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
  console.log(`LSTM I = 256, H = ${H}, T = ${T}, --jacobian off, in code-server + Chromium:`);
  console.log(`  analysis done (notification closed) ${doneAt ? s(doneAt - t0) : '(not seen)'} after the click; first verdict card ${s(verdictAt - t0)}${doneAt ? ` (${verdictAt - doneAt} ms after the analysis)` : ''}; every chart drawn ${s(heldAt - t0)}`);
  console.log(`  longest task: workbench ${workbenchLong.toFixed(0)} ms, webview (after its first verdict) ${webviewLong.toFixed(0)} ms`);
  console.log(`  extension host RSS: ${rssBefore ? `${rssBefore.toFixed(0)} MB before, ` : ""}peak ${peak.toFixed(0)} MB, ${rssHeld?.toFixed(0)} MB with every chart drawn, ${rssLater?.toFixed(0)} MB a minute later`);
} finally {
  await browser?.close();
  await server?.stop?.();
  if (!process.env.KEEP_RUN) fs.rmSync(runDir, { recursive: true, force: true });
}
