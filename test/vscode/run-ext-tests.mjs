// Runs an extension test suite (extensionTestsPath) inside code-server's Node extension host and
// exits with its status: what VS Code's desktop executable does for @vscode/test-electron.
// Called by code-test-shim.sh with the desktop CLI arguments runTests passes:
//   [FOLDER] --extensionDevelopmentPath=P --extensionTestsPath=P [--user-data-dir=D] [--extensions-dir=D] [--…]
// How: the workbench URL's smoke-test payload names the development extension and the tests (VS Code
// runs tests only in extension development mode; runTest.js names an empty development folder and
// installs the extension under test into --extensions-dir, from its VSIX); the
// extension host loads the tests' run(), and when it settles the page calls
// window.codeAutomationExit(code). Extension host output arrives through window.codeAutomationLog.
// Both are exposed to the page with Playwright. Env: GRADIENT_LENS_TEST_TIMEOUT_MS (default 600000),
// VERBOSE=1 (browser console and workbench chatter too), KEEP_RUN=1 (keep the server's folder and log).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import { elapsed, harnessProblem, launchBrowser, remoteUri, startServer, workbenchUrl } from './harness.mjs';

const args = process.argv.slice(2);
const option = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const devPath = option('extensionDevelopmentPath');
const testsPath = option('extensionTestsPath');
if (!devPath || !testsPath) {
  console.error('run-ext-tests: need --extensionDevelopmentPath=… and --extensionTestsPath=…');
  process.exit(2);
}
const problem = harnessProblem();
if (problem) { console.error(`run-ext-tests: ${problem}`); process.exit(2); }

const t0 = Date.now();
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradient-lens-vscode-run-'));
const folder = args.find((a) => !a.startsWith('-')) ?? fs.mkdtempSync(path.join(runDir, 'workspace-'));
// Workbench chatter that is not test output: offline gallery look-ups, connection set-up.
const NOISE = /ENOTFOUND open-vsx\.org|open-vsx\.org|vsda|^(Resolving connection token|Resolved connection token|Creating a socket|\[reconnection-grace-time\]|Updating additional builtin|\[Service Worker\]|\[AgentHost|\[AccountPolicyGate\]|Timed out waiting for authentication provider|    at )/;
const timeoutMs = Number(process.env.GRADIENT_LENS_TEST_TIMEOUT_MS || 600000);

let code = 1;
let server;
let browser;
try {
  server = await startServer({ runDir, userDataDir: option('user-data-dir'), extensionsDir: option('extensions-dir') });
  browser = await launchBrowser();
  const { page } = browser;
  const exited = new Promise((resolve) => {
    page.exposeFunction('codeAutomationLog', (type, logArgs) => {
      const line = util.format(...(Array.isArray(logArgs) ? logArgs : [logArgs]));
      if (NOISE.test(line) && !process.env.VERBOSE) return;
      (type === 'error' ? process.stderr : process.stdout).write(line + '\n');
    });
    page.exposeFunction('codeAutomationExit', (exitCode) => resolve(exitCode));
  });
  page.on('pageerror', (e) => console.error('[workbench page error]', e.message));
  if (process.env.VERBOSE) page.on('console', (m) => console.log('[browser]', m.type(), m.text()));
  await page.goto(workbenchUrl(server, folder, [
    ['extensionDevelopmentPath', remoteUri(server, devPath)],
    ['extensionTestsPath', remoteUri(server, testsPath)],
  ]));
  let timer;
  code = await Promise.race([exited, new Promise((resolve) => {
    timer = setTimeout(() => { console.error(`run-ext-tests: no result after ${timeoutMs} ms`); resolve(124); }, timeoutMs);
  })]);
  clearTimeout(timer);
  if (code !== 0 && process.env.SHOT) await page.screenshot({ path: process.env.SHOT }).catch(() => {});
} catch (e) {
  console.error('run-ext-tests:', e.message);
  code = 1;
} finally {
  await browser?.close();
  await server?.stop();
  if (code !== 0 && server) {
    const ext = server.log().split('\n').filter((l) => /error|exception|gradient/i.test(l) && !NOISE.test(l));
    if (ext.length) console.error(`code-server log (errors):\n${ext.slice(-40).join('\n')}`);
  }
  if (process.env.KEEP_RUN) console.log(`run-ext-tests: server files kept in ${runDir}`);
  else fs.rmSync(runDir, { recursive: true, force: true });
}
console.log(`[run-ext-tests] exit code ${code} after ${elapsed(t0)}`);
process.exit(typeof code === 'number' ? code : 1);
