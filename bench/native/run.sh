#!/usr/bin/env bash
# bench/native/run.sh [OUT_DIR]: one training step (forward, loss, backward) of a small Llama
# (bench/native/llama-bench.json: hidden 256, 4 layers, 8 heads of 32, MLP 688, vocab 8192; batch 1,
# seq 2048, f32) on this machine, in one run:
#   - PyTorch eager (Debian's python3-torch, tests/oracle's plain-module Llama, same weights and batch),
#   - AutoSpIR native (autosp-run --backend native: the program JIT-compiled for this CPU),
#   - AutoSpIR's reference interpreter (one step),
# all with THREADS threads (default 2: torch.set_num_threads, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS).
# Prints tokens/s of each (best of REPEAT steps after a warm-up for torch and native, compile time apart),
# the model FLOPs per step (cost-report of the joint program: causal attention counts its S(S+1)/2 pairs),
# the measured OpenBLAS cblas_sgemm peak and each one's model FLOP utilisation against it. The native
# loss and gradients are checked against PyTorch's (rtol 1e-3: f32 with other summation orders).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${1:-$(mktemp -d)}
mkdir -p "$out"
threads=${THREADS:-2}
repeat=${REPEAT:-3}
config=bench/native/llama-bench.json
shape="--seq-len 2048 --batch 1 --dtype f32"
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

run() { echo "\$ $*" >&2; "$@"; }
run /usr/bin/python3 tests/oracle/llama_oracle.py --hf-config $config $shape --seed 0 --out-dir "$out" >/dev/null
run bin/autosp-gen --hf-config $config $shape -o "$out/train_step.aspir"
run bin/autosp-opt "$out/train_step.aspir" -p autodiff -o "$out/joint.aspir"
flops=$(bin/autosp-opt "$out/joint.aspir" -p 'cost-report{per-op=false}' -o /dev/null 2>&1 | awk '/total/ {gsub(",", "", $2); print $2}')
peak=$(run /usr/bin/python3 bench/native/sgemm_peak.py | awk '{print $NF}')
torch=$(run /usr/bin/python3 bench/native/torch_step.py --hf-config $config --seq-len 2048 --dir "$out" --threads "$threads" --repeat "$repeat" | tee /dev/stderr | awk '/^best/ {print $2}')
run bin/autosp-run "$out/joint.aspir" --params "$out/params.safetensors" --inputs "$out/inputs.safetensors" --backend native \
  --repeat "$repeat" --report --compare "$out/expected.safetensors" --rtol 1e-3 | tee "$out/native.txt" >&2
native=$(awk '/^native: compiled/ {for (i = 1; i <= NF; i++) if ($i == "best") print $(i + 1)}' "$out/native.txt")
compile=$(awk '/^native: compiled/ {print $4}' "$out/native.txt")
run bin/autosp-run "$out/joint.aspir" --params "$out/params.safetensors" --inputs "$out/inputs.safetensors" --report | tee "$out/interp.txt" >&2
interp=$(awk -F'[: ]+' '/^@train_step/ {print $2 / 1000}' "$out/interp.txt")

/usr/bin/python3 - "$flops" "$peak" "$torch" "$native" "$interp" "$compile" "$threads" <<'PY'
import os, platform, sys
flops, peak, torch_s, native_s, interp_s, compile_s, threads = sys.argv[1:]
flops, peak = float(flops), float(peak)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"\nmachine: {cpu}, {os.cpu_count()} cores; {threads} threads; OpenBLAS sgemm peak {peak:.1f} GFLOP/s; "
      f"model {flops / 1e9:.1f} GFLOP per step (2048 tokens)")
print(f"{'':24} {'s/step':>9} {'tokens/s':>10} {'MFU':>7} {'vs torch':>9}")
for name, s in (("PyTorch eager", torch_s), ("AutoSpIR native", native_s), ("AutoSpIR interpreter", interp_s)):
    s = float(s)
    print(f"{name:24} {s:9.3f} {2048 / s:10.0f} {100 * flops / s / 1e9 / peak:6.1f}% {float(torch_s) / s:8.2f}x")
print(f"(native compile time {compile_s}, not in the step time)")
PY
echo "files in $out" >&2
