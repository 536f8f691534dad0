#!/usr/bin/env bash
# examples/memory/run.sh [OUT_DIR]: memory planning of the tiny Llama (f32, batch 1, seq 64)
#   1. autodiff, bufferize, memory-plan on one device: the plan's breakdown (to stderr);
#   2. the same after autosp{sp=4}: the plan of each rank;
#   3. both planned programs run by autosp-run from ONE arena at the planned offsets: the
#      arena's high-water mark equals mem.arena_size, and the results equal the unplanned run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${1:-$(mktemp -d)}
mkdir -p "$out"
config=../shared/models/tiny-llama.json
shape="--seq-len 64 --batch 1 --dtype f32"

run() { echo "\$ $*" >&2; "$@"; }
run /usr/bin/python3 tests/oracle/llama_oracle.py --hf-config $config $shape --seed 0 --out-dir "$out" >/dev/null
run bin/autosp-gen --hf-config $config $shape -o "$out/train_step.aspir"
run bin/autosp-opt "$out/train_step.aspir" -p 'autodiff,bufferize,memory-plan' -o "$out/planned.aspir"
run bin/autosp-opt "$out/train_step.aspir" -p 'autodiff,autosp{sp=4},bufferize,memory-plan' -o "$out/planned-sp4.aspir"
run bin/autosp-run "$out/planned.aspir" --params "$out/params.safetensors" --inputs "$out/inputs.safetensors" \
  --report --compare "$out/expected.safetensors" --rtol 1e-4
run bin/autosp-run "$out/planned-sp4.aspir" --ranks 4 --params "$out/params.safetensors" --inputs "$out/inputs.safetensors" \
  --report --compare "$out/expected.safetensors" --rtol 1e-4
echo "files in $out" >&2
