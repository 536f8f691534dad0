#!/usr/bin/env bash
# examples/autosp/run.sh [OUT_DIR]: the tiny Llama trained on a sequence split over 4 ranks.
#   1. weights and a batch from PyTorch (tests/oracle/llama_oracle.py), with its loss and gradients;
#   2. autosp-gen writes the step for ONE device; autosp-opt -p autodiff differentiates it;
#   3. autosp-run runs it on one device (the reference);
#   4. autosp-opt -p 'autosp{sp=4},comm-report' makes the per-rank program (Ulysses all-to-alls
#      around attention, gradient all-reduces, the label shift and the loss count across shards)
#      and prints the bytes each rank sends, per collective, per layer and per step;
#   5. autosp-run --ranks 4 runs it on 4 in-process ranks and compares loss and every gradient
#      with the one-device run and with PyTorch.
# f64, so that "equal" can be seen to the last digits (the test suite checks f32 too).
set -euo pipefail
cd "$(dirname "$0")/../.."
. examples/lib.sh "$@"
shape="--seq-len 64 --batch 2 --dtype f64"

tiny_llama "$shape"
run bin/autosp-opt "$out/train_step.aspir" -p autodiff -o "$out/joint.aspir"
run bin/autosp-run "$out/joint.aspir" $data --out "$out/one-device.safetensors"
run bin/autosp-opt "$out/joint.aspir" -p 'autosp{sp=4},comm-report{per-op=false}' -o "$out/sp4.aspir"
run bin/autosp-run "$out/sp4.aspir" $data --ranks 4 --out "$out/sp4.safetensors" --report \
  --compare "$out/one-device.safetensors" --rtol 1e-12
run bin/autosp-run "$out/sp4.aspir" $data --ranks 4 --out "$out/sp4.safetensors" \
  --compare "$out/expected.safetensors" --rtol 1e-9
echo "files in $out" >&2
