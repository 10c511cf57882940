// Runs the extension tests (test/vscode/suite) inside a real VS Code extension host with
// @vscode/test-electron's runTests. Where the offline harness is installed (test/vscode/setup.sh)
// runTests is pointed at code-test-shim.sh, which runs them in code-server; elsewhere runTests
// downloads VS Code as usual (needs internet and, on Linux, a display such as xvfb-run).
// GRADIENT_LENS_VSCODE=download forces the download, =harness forces the shim.
// Expects a build: dist/extension.js (node esbuild.js) and out/test/vscode (tsc -p .).
const fs = require('fs');
const os = require('os');
const path = require('path');
const { runTests } = require('@vscode/test-electron');
const { REPO, prepareWorkspace } = require('./workspace');

const HARNESS = process.env.GRADIENT_LENS_HARNESS || path.join(os.homedir(), '.cache', 'gradient-lens-vscode');
const SHIM = path.join(__dirname, 'code-test-shim.sh');
const harnessInstalled = fs.existsSync(path.join(HARNESS, 'cs', 'node_modules', 'code-server', 'out', 'node', 'entry.js'));
const mode = process.env.GRADIENT_LENS_VSCODE || (harnessInstalled ? 'harness' : 'download');

async function main() {
  const suite = path.join(REPO, 'out', 'test', 'vscode', 'suite', 'index');
  for (const built of [path.join(REPO, 'dist', 'extension.js'), `${suite}.js`]) {
    if (!fs.existsSync(built)) throw new Error(`${path.relative(REPO, built)} is missing; build first with: node esbuild.js && npx tsc -p .`);
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gradient-lens-vscode-test-'));
  const workspace = prepareWorkspace(scratch);
  console.log(`VS Code extension tests: ${mode === 'harness' ? `code-server harness in ${HARNESS}` : 'downloaded VS Code'}; workspace ${workspace}`);
  try {
    await runTests({
      ...(mode === 'harness' ? { vscodeExecutablePath: SHIM } : {}),
      extensionDevelopmentPath: REPO,
      extensionTestsPath: suite,
      launchArgs: [workspace, `--user-data-dir=${path.join(scratch, 'user-data')}`,
        `--extensions-dir=${path.join(scratch, 'extensions')}`],
      extensionTestsEnv: { GRADIENT_LENS_TEST_WORKSPACE: workspace },
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
