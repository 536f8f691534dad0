#!/usr/bin/env bash
# examples/memory/run.sh [OUT_DIR]: memory planning of the tiny Llama (f32, batch 1, seq 64)
#   1. autodiff, bufferize, memory-plan on one device: the plan's breakdown (to stderr);
#   2. the same after autosp{sp=4}: the plan of each rank;
#   3. both planned programs run by autosp-run from ONE arena at the planned offsets: the
#      arena's high-water mark equals mem.arena_size, and the results equal the unplanned run.
set -euo pipefail
cd "$(dirname "$0")/../.."
. examples/lib.sh "$@"
shape="--seq-len 64 --batch 1 --dtype f32"

tiny_llama "$shape"
run bin/autosp-opt "$out/train_step.aspir" -p 'autodiff,bufferize,memory-plan' -o "$out/planned.aspir"
run bin/autosp-opt "$out/train_step.aspir" -p 'autodiff,autosp{sp=4},bufferize,memory-plan' -o "$out/planned-sp4.aspir"
run bin/autosp-run "$out/planned.aspir" --params "$out/params.safetensors" --inputs "$out/inputs.safetensors" \
  --report --compare "$out/expected.safetensors" --rtol 1e-4
run bin/autosp-run "$out/planned-sp4.aspir" --ranks 4 --params "$out/params.safetensors" --inputs "$out/inputs.safetensors" \
  --report --compare "$out/expected.safetensors" --rtol 1e-4
echo "files in $out" >&2
