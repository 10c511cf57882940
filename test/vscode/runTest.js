// Runs the extension tests (test/vscode/suite) inside a real VS Code extension host with
// @vscode/test-electron's runTests, against the extension as a user installs it: the VSIX that
// vsix.test.mjs built (test/vscode/vsix.js) is installed into a fresh extensions folder first, and
// the suite checks that the extension it drives was loaded from there.
// Where the offline harness is installed (test/vscode/setup.sh) runTests is pointed at
// code-test-shim.sh, which runs them in code-server and installs the VSIX with its
// --install-extension; elsewhere runTests downloads VS Code as usual (needs internet and, on Linux,
// a display such as xvfb-run) and the VSIX is installed with that VS Code's CLI.
// GRADIENT_LENS_VSCODE=download forces the download, =harness forces the shim.
// Expects the compiled suite (tsc -p .: out/test/vscode) and the VSIX.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { downloadAndUnzipVSCode, resolveCliArgsFromVSCodeExecutablePath, runTests } = require('@vscode/test-electron');
const { REPO, prepareWorkspace } = require('./workspace');
const { requireTestVsix } = require('./vsix');

const HARNESS = process.env.GRADIENT_LENS_HARNESS || path.join(os.homedir(), '.cache', 'gradient-lens-vscode');
const SHIM = path.join(__dirname, 'code-test-shim.sh');
const harnessInstalled = fs.existsSync(path.join(HARNESS, 'cs', 'node_modules', 'code-server', 'out', 'node', 'entry.js'));
const mode = process.env.GRADIENT_LENS_VSCODE || (harnessInstalled ? 'harness' : 'download');

/** Installs `vsix` into `extensionsDir` with the downloaded VS Code's own CLI. */
function installWithVSCodeCli(vscodeExecutablePath, vsix, extensionsDir, userDataDir) {
  const [cli, ...args] = resolveCliArgsFromVSCodeExecutablePath(vscodeExecutablePath);
  const own = args.filter((a) => !/^--(extensions-dir|user-data-dir)(=|$)/.test(a));
  const r = spawnSync(cli, [...own, `--extensions-dir=${extensionsDir}`, `--user-data-dir=${userDataDir}`, '--install-extension', vsix],
    { encoding: 'utf8', shell: process.platform === 'win32' });
  if (r.status !== 0) throw new Error(`${cli} --install-extension ${vsix} failed (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  console.log(r.stdout.trim());
}

async function main() {
  const suite = path.join(REPO, 'out', 'test', 'vscode', 'suite', 'index');
  if (!fs.existsSync(`${suite}.js`)) throw new Error(`${path.relative(REPO, suite)}.js is missing; build first with: npx tsc -p .`);
  const vsix = requireTestVsix();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gradient-lens-vscode-test-'));
  const workspace = prepareWorkspace(scratch);
  const extensionsDir = path.join(scratch, 'extensions');
  const userDataDir = path.join(scratch, 'user-data');
  // VS Code runs an extensionTestsPath only in extension development mode, which needs an
  // extensionDevelopmentPath: an empty folder, so that no development copy of the extension is
  // loaded and the installed one is the only one there is.
  const noDevelopmentExtension = path.join(scratch, 'no-development-extension');
  fs.mkdirSync(noDevelopmentExtension);
  console.log(`VS Code extension tests: ${mode === 'harness' ? `code-server harness in ${HARNESS}` : 'downloaded VS Code'}; workspace ${workspace}; extension installed from ${path.relative(REPO, vsix)}`);
  try {
    let vscodeExecutablePath;
    if (mode === 'harness') {
      const { installVsix } = await import('./harness.mjs');
      installVsix({ vsix, extensionsDir, userDataDir, runDir: scratch });
      vscodeExecutablePath = SHIM;
    } else {
      vscodeExecutablePath = await downloadAndUnzipVSCode();
      installWithVSCodeCli(vscodeExecutablePath, vsix, extensionsDir, userDataDir);
    }
    await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: noDevelopmentExtension,
      extensionTestsPath: suite,
      launchArgs: [workspace, `--user-data-dir=${userDataDir}`, `--extensions-dir=${extensionsDir}`],
      extensionTestsEnv: { GRADIENT_LENS_TEST_WORKSPACE: workspace, GRADIENT_LENS_TEST_EXTENSIONS_DIR: extensionsDir },
    });
  } finally {
    if (!process.env.KEEP_RUN) fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`VS Code extension tests failed: ${err.message}`);
  if (mode === 'download' && !harnessInstalled) {
    console.error(`(no offline harness in ${HARNESS}: install it with "bash test/vscode/setup.sh", or give runTests internet to download VS Code)`);
  }
  process.exit(1);
});
