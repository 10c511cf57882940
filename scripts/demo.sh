#!/usr/bin/env bash
# The README's demo: the three bundled adding-problem models on the same input sequence, then the
# three side by side (gradient-lens compare).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for m in rnn gru lstm; do
  node bin/gradient-lens.js analyze "examples/adding-$m.onnx" --input x=examples/adding-sample.npy --json "$out/adding-$m.json" "$@"
  echo
done
node bin/gradient-lens.js compare "$out/adding-rnn.json" "$out/adding-gru.json" "$out/adding-lstm.json"
