#!/usr/bin/env bash
# examples/native/run.sh [OUT_DIR]: the tiny Llama (../shared/models/tiny-llama.json, S = 64, batch 2) compiled
# to native code and run, then translated for GPUs.
#   1. weights, a batch and PyTorch's loss and gradients (tests/oracle/llama_oracle.py), f32;
#   2. autosp-gen + autodiff: the one-device training step; autosp{sp=4}: the per-rank step;
#   3. autosp-run --backend native (bufferize, memory-plan, convert-tensor-to-loops, convert-to-llvm,
#      LLVM -O3, ORC JIT; OpenBLAS GEMMs, OpenMP loops) on one device and on 4 thread ranks, both
#      compared with PyTorch; --profile shows where the time goes;
#   4. autosp-translate: the per-rank step as PTX for sm_90 (assembled by ptxas) and as an AMDGPU code
#      object for gfx90a (linked by ld.lld-16), with the kernels llvm-readobj-16 lists.
set -euo pipefail
cd "$(dirname "$0")/../.."
. examples/lib.sh "$@"
shape="--seq-len 64 --batch 2 --dtype f32"
ptxas=.deps/nvidia-cuda-toolkit/usr/bin/ptxas

tiny_llama "$shape"
run bin/autosp-opt "$out/train_step.aspir" -p autodiff -o "$out/joint.aspir"
run bin/autosp-opt "$out/joint.aspir" -p 'autosp{sp=4}' -o "$out/sp4.aspir"
run bin/autosp-run "$out/joint.aspir" $data --backend native --repeat 3 --report --profile \
  --compare "$out/expected.safetensors" --rtol 1e-4 --out "$out/native.safetensors"
run bin/autosp-run "$out/sp4.aspir" $data --backend native --ranks 4 --report \
  --compare "$out/expected.safetensors" --rtol 1e-4 --out "$out/native-sp4.safetensors"
run bin/autosp-translate "$out/sp4.aspir" --target nvptx64 --mcpu sm_90 -o "$out/sp4.ptx"
[ -x "$ptxas" ] || { echo "ptxas is missing: bin/setup unpacks it into .deps/nvidia-cuda-toolkit" >&2; exit 1; }
run "$ptxas" -arch=sm_90 "$out/sp4.ptx" -o "$out/sp4.cubin"
echo "ptxas: $(grep -c '^.visible .entry' "$out/sp4.ptx") kernels assembled for sm_90" >&2
run bin/autosp-translate "$out/sp4.aspir" --target amdgcn --mcpu gfx90a -o "$out/sp4.hsaco"
echo "llvm-readobj-16: $(llvm-readobj-16 --symbols "$out/sp4.hsaco" | grep -c 'Name: .*\.kd ') kernel descriptors in the gfx90a code object" >&2
echo "files in $out" >&2
