#!/usr/bin/env bash
# The README's demo: the three bundled adding-problem models on the same input sequence.
set -euo pipefail
cd "$(dirname "$0")/.."
for m in rnn gru lstm; do
  node bin/gradient-lens.js analyze "examples/adding-$m.onnx" --input x=examples/adding-sample.npy "$@"
  echo
done
