#!/usr/bin/env bash
# examples/tiny-llama/run.sh [OUT_DIR]: the whole single-device path on a tiny Llama
# (../shared/models/tiny-llama.json: hidden 64, 4 query / 2 KV heads, 2 layers, vocab 256).
#   1. weights and a batch: PyTorch draws them (seeded) and computes its own loss and
#      gradients with plain torch modules (tests/oracle/llama_oracle.py);
#   2. autosp-gen writes the one-device training step from the config;
#   3. autosp-opt -p autodiff makes the joint forward+backward program;
#   4. autosp-run runs it on the reference interpreter, reports time and peak memory,
#      and compares loss and every gradient with PyTorch's.
set -euo pipefail
cd "$(dirname "$0")/../.."
. examples/lib.sh "$@"
shape="--seq-len 64 --batch 2 --dtype f32"

tiny_llama "$shape"
run bin/autosp-opt "$out/train_step.aspir" -p autodiff -o "$out/joint.aspir"
run bin/autosp-opt "$out/joint.aspir" -p 'cost-report{per-op=false}' -o /dev/null
run bin/autosp-run "$out/joint.aspir" --params "$out/params.safetensors" --inputs "$out/inputs.safetensors" \
  --out "$out/ours.safetensors" --report --compare "$out/expected.safetensors" --rtol 1e-4
echo "files in $out" >&2
