#!/usr/bin/env bash
# Cross-checks autosp-gen against the PyTorch oracle: for each config, the generated program,
# run op by op with the dialect's semantics (run_aspir.py), gives the oracle's loss and gradients.
# Needs /usr/bin/python3 with torch (Debian: python3-torch). Usage: tests/oracle/selfcheck.sh [CONFIG.json...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=("$root/../shared/models/tiny-llama.json")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for config in "${configs[@]}"; do
  for dtype in f64 f32; do
    dir="$out/$(basename "$config" .json)-$dtype"
    "$py" "$root/tests/oracle/llama_oracle.py" --hf-config "$config" --seq-len 16 --batch 2 --layers 2 \
      --dtype "$dtype" --seed 0 --out-dir "$dir" >/dev/null
    "$root/bin/autosp-gen" --hf-config "$config" --seq-len 16 --batch 2 --layers 2 --dtype "$dtype" -o "$dir/step.aspir"
    echo -n "$(basename "$config") $dtype: "
    "$py" "$root/tests/oracle/run_aspir.py" "$dir/step.aspir" "$dir"
  done
done
