// Where the VS Code tests find the VSIX they install: built by vsix.test.mjs (the first step of
// `npm run test:vscode`) with scripts/package.js for this machine's platform into out/vsix/, or any
// VSIX named by GRADIENT_LENS_VSIX.
const fs = require('fs');
const path = require('path');
const { REPO, hostTarget, vsixName } = require('../../scripts/package.js');

const VSIX_DIR = path.join(REPO, 'out', 'vsix');

/** The VSIX the tests install (it may not exist yet). */
function testVsixPath() {
  if (process.env.GRADIENT_LENS_VSIX) return path.resolve(process.env.GRADIENT_LENS_VSIX);
  const target = hostTarget();
  if (!target) throw new Error(`no VSIX can be built for ${process.platform}-${process.arch}: onnxruntime-node ships no binaries for it`);
  return path.join(VSIX_DIR, vsixName(target));
}

/** testVsixPath(), or an error that says how to build it. */
function requireTestVsix() {
  const vsix = testVsixPath();
  if (!fs.existsSync(vsix)) {
    throw new Error(`${path.relative(REPO, vsix)} is missing; build it with: node test/vscode/vsix.test.mjs (or set GRADIENT_LENS_VSIX)`);
  }
  return vsix;
}

module.exports = { VSIX_DIR, testVsixPath, requireTestVsix };
