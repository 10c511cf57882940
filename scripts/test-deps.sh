#!/usr/bin/env bash
# Installs what `npm test` needs beyond npm packages, when it is missing: ONNX's backend test
# data (Debian's libonnx-testdata), used as an oracle, and the headless VS Code harness the
# extension tests run in (test/vscode/setup.sh: Chromium, Node 24, code-server, playwright-core,
# cached under ~/.cache/gradient-lens-vscode). Idempotent and quick when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
[ -d /usr/share/libonnx-testdata/data/node ] || missing+=(libonnx-testdata)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "npm test needs: ${missing[*]} (Debian packages); install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "installing test dependencies: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi
bash test/vscode/setup.sh
