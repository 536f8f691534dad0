#!/usr/bin/env bash
# bench/checkpointing/remat.sh [SEQ_LENS] [LAYERS] [MAX_NODES] [OUT_DIR]: sac's recompute FLOPs against the optimum at sac's own peak.
#
# For each layer count (default "1 2") and sequence length (default "1024 4096"), tiny-llama
# (../shared/models/tiny-llama.json) in f32 at batch 1: autosp-opt -p 'autodiff,sac' gives sac's
# recompute FLOPs and peak P; autosp-opt -p 'autodiff,remat{budget=P,max-nodes=N}' the minimum
# recompute FLOPs over sac's decision space with peak <= P (exact: a MILP by coinor-cbc, falling back
# to branch and bound, which fails, claiming nothing, past N nodes, default 5,000,000: "unsolved").
# Prints sac's FLOPs, the optimum, their ratio (sac / optimum), remat's peak as its report gives it and
# as autosp-run measures it on the reference interpreter (weights and batch from
# tests/oracle/llama_oracle.py, seed 0; loss and gradients compared with autodiff's program at
# --rtol 0: the script fails if they differ), and the solver's time.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
seqs=${1:-"1024 4096"}
layers=${2:-"1 2"}
nodes=${3:-5000000}
out=${4:-$(mktemp -d)}
mkdir -p "$out"
config=../shared/models/tiny-llama.json
printf '%-6s %-6s %14s %16s %16s %8s %14s %14s %10s\n' layers seq sac_peak sac_flops optimum_flops ratio remat_peak measured_peak seconds
for l in $layers; do
for s in $seqs; do
  d="$out/l$l-s$s"
  mkdir -p "$d"
  bin/autosp-gen --hf-config $config --seq-len "$s" --batch 1 --layers "$l" --dtype f32 -o "$d/step.aspir"
  bin/autosp-opt "$d/step.aspir" -p 'autodiff,sac' -o "$d/sac.aspir" 2>"$d/sac.report"
  peak=$(sed -n 's/.*before, \([0-9,]*\) after.*/\1/p' "$d/sac.report" | tr -d ,)
  flops=$(sed -n 's/.*recomputed: [0-9]* ops, \([0-9,]*\) flops.*/\1/p' "$d/sac.report" | tr -d ,)
  t0=$(date +%s.%N)
  if bin/autosp-opt "$d/step.aspir" -p "autodiff,remat{budget=$peak,max-nodes=$nodes}" -o "$d/remat.aspir" 2>"$d/remat.report"; then
    t1=$(date +%s.%N)
    opt=$(sed -n 's/.*recompute flops: \([0-9,]*\).*/\1/p' "$d/remat.report" | tr -d ,)
    rpeak=$(sed -n 's/.*before, \([0-9,]*\) after.*/\1/p' "$d/remat.report" | tr -d ,)
    ratio=$(awk "BEGIN{ if ($opt == 0) print \"inf\"; else printf \"%.2f\", $flops/$opt }")
    /usr/bin/python3 tests/oracle/llama_oracle.py --hf-config $config --seq-len "$s" --batch 1 --layers "$l" --dtype f32 --seed 0 --out-dir "$d" >/dev/null
    bin/autosp-opt "$d/step.aspir" -p autodiff -o "$d/none.aspir"
    bin/autosp-run "$d/none.aspir" --params "$d/params.safetensors" --inputs "$d/inputs.safetensors" --out "$d/none.safetensors" >/dev/null 2>&1
    measured=$(bin/autosp-run "$d/remat.aspir" --params "$d/params.safetensors" --inputs "$d/inputs.safetensors" --out "$d/remat.safetensors" \
      --report --compare "$d/none.safetensors" --rtol 0 2>&1 | sed -n 's/.*peak memory \([0-9,]*\) bytes.*/\1/p' | tr -d ,)
    printf '%-6s %-6s %14s %16s %16s %8s %14s %14s %10.1f\n' "$l" "$s" "$peak" "$flops" "$opt" "$ratio" "$rpeak" "$measured" "$(awk "BEGIN{print $t1-$t0}")"
  else
    t1=$(date +%s.%N)
    printf '%-6s %-6s %14s %16s %16s %8s %14s %14s %10.1f\n' "$l" "$s" "$peak" "$flops" unsolved - - - "$(awk "BEGIN{print $t1-$t0}")"
    tail -1 "$d/remat.report" >&2
  fi
done
done
echo "files in $out" >&2
