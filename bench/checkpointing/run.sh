#!/usr/bin/env bash
# bench/checkpointing/run.sh [SEQ_LENS] [LAYERS] [REPS] [OUT_DIR]: activation checkpointing policies on tiny-llama.
#
# For each layer count (default "2 8"; tiny-llama has 2, autosp-gen --layers repeats its layer) and
# sequence length (default "1024 4096"), tiny-llama (../shared/models/tiny-llama.json: hidden 64,
# 4/2 heads of 16, MLP 160, vocab 256) in f32 at batch 1:
#   autosp-gen -> autosp-opt -p 'autodiff,sac{policy=P}' for P in none, torch-default, sac
#   -> autosp-run --report on the reference interpreter, REPS times (default 2), best time kept.
# Prints per policy: the saved activations (bytes kept for the backward), the FLOPs recomputed,
# the peak bytes live measured by the interpreter (and the same minus the arguments: parameters
# and inputs), and the step time. Every policy's loss and gradients are compared with policy=none
# (--rtol 0: bit-identical) and the script fails if any differs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
seqs=${1:-"1024 4096"}
layers=${2:-"2 8"}
reps=${3:-2}
out=${4:-$(mktemp -d)}
mkdir -p "$out"
config=../shared/models/tiny-llama.json

printf '%-6s %-6s %-14s %14s %16s %14s %14s %10s %8s\n' layers seq policy saved_bytes recompute_flops peak_bytes act_peak_bytes seconds vs_none
for l in $layers; do
for s in $seqs; do
  d="$out/l$l-s$s"
  mkdir -p "$d"
  /usr/bin/python3 tests/oracle/llama_oracle.py --hf-config $config --seq-len "$s" --batch 1 --layers "$l" --dtype f32 --seed 0 --out-dir "$d" >/dev/null
  bin/autosp-gen --hf-config $config --seq-len "$s" --batch 1 --layers "$l" --dtype f32 -o "$d/step.aspir"
  none_peak=
  for p in none torch-default sac; do
    bin/autosp-opt "$d/step.aspir" -p "autodiff,sac{policy=$p}" -o "$d/$p.aspir" 2>"$d/$p.report"
    saved=$(sed -n 's/.*saved activations after: *[0-9]* values *\([0-9,]*\) bytes.*/\1/p' "$d/$p.report" | tr -d ,)
    flops=$(sed -n 's/.*recomputed: [0-9]* ops, \([0-9,]*\) flops.*/\1/p' "$d/$p.report" | tr -d ,)
    args=$(sed -n 's/.*; arguments \([0-9,]*\).*/\1/p' "$d/$p.report" | tr -d ,)
    cmp=()
    [ "$p" != none ] && cmp=(--compare "$d/none.safetensors" --rtol 0)
    best= peak=
    for _ in $(seq "$reps"); do
      line=$(bin/autosp-run "$d/$p.aspir" --params "$d/params.safetensors" --inputs "$d/inputs.safetensors" \
        --out "$d/$p.safetensors" --report "${cmp[@]}" 2>&1 | grep 'peak memory')
      ms=$(sed -n 's/.*: \([0-9.]*\) ms, peak memory \([0-9,]*\) bytes.*/\1/p' <<<"$line")
      peak=$(sed -n 's/.*peak memory \([0-9,]*\) bytes.*/\1/p' <<<"$line" | tr -d ,)
      if [ -z "$best" ] || awk "BEGIN{exit !($ms < $best)}"; then best=$ms; fi
    done
    [ "$p" = none ] && none_peak=$peak
    printf '%-6s %-6s %-14s %14s %16s %14s %14s %10.2f %7.2fx\n' "$l" "$s" "$p" "$saved" "$flops" "$peak" "$((peak - args))" \
      "$(awk "BEGIN{print $best/1000}")" "$(awk "BEGIN{print $none_peak/$peak}")"
  done
done
done
echo "files in $out" >&2
