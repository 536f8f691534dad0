#!/usr/bin/env bash
# bench/planning/run.sh: how long autosp-plan takes to compile and plan real models.
#   1. Llama-3.1-405B (126 layers, the joint forward+backward graph) through the whole autospir
#      pipeline (autodiff, autosp{sp=64}, sac, optimizer, zero{stage=3}, mem-schedule, bufferize,
#      memory-plan) at one sequence length: one probe, the time autosp-plan prints for it;
#   2. Llama-3.1-8B on 8 GPUs, every strategy searched to its longest context: the whole command.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin/autosp-plan --help >/dev/null   # build outside the timing
echo "== llama-3.1-405b, autospir, sp=64, one probe at 131072 tokens"
bin/autosp-plan --hf-config ../shared/models/llama-3.1-405b.json --gpus 64 --gpu-memory 80GiB \
  --strategy autospir --granularity 131072 --max-seq 131072 2>&1 | grep -E "compiled in|autospir "
echo "== llama-3.1-8b, 8 GPUs, all strategies"
start=$(date +%s.%N)
bin/autosp-plan --hf-config ../shared/models/llama-3.1-8b.json --gpus 8 --gpu-memory 80GiB 2>/dev/null
end=$(date +%s.%N)
echo "whole search: $(echo "$end - $start" | bc) s"
