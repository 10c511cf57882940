#!/usr/bin/env bash
# Installs what `npm test` needs beyond npm packages, when it is missing: ONNX's backend test
# data (Debian's libonnx-testdata), used as an oracle. Idempotent and quiet when all is there.
set -euo pipefail
missing=()
[ -d /usr/share/libonnx-testdata/data/node ] || missing+=(libonnx-testdata)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "npm test needs: ${missing[*]} (Debian packages); install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing test dependencies: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
