#!/usr/bin/env bash
# examples/zero/run.sh [OUT_DIR]: one AdamW training step of the tiny Llama with ZeRO on 2x2 ranks.
#   1. weights, a batch and PyTorch's loss and gradients (tests/oracle/llama_oracle.py), and
#      PyTorch's AdamW step from them (torch_adamw.py);
#   2. the one-device step: autodiff,optimizer (tensor.adamw per parameter), run from zero
#      optimizer state (--init-opt-state); results: loss, <param>, <param>.exp_avg(_sq);
#   3. the per-rank step autosp{sp=2,dp=2},optimizer without ZeRO, with zero{stage=1} (m and v
#      in 1/4 shards, gradient reduce_scatter, all_gather of the new parameters) and with
#      zero{stage=3} (parameters in shards too, gathered before forward and backward use), each
#      with its comm-report totals; each runs on 4 ranks and is compared with the one-device
#      step and with PyTorch.
# f64, so that "equal" can be seen to the last digits.
set -euo pipefail
cd "$(dirname "$0")/../.."
. examples/lib.sh "$@"
shape="--seq-len 32 --batch 2 --dtype f64"
data="$data --init-opt-state"
opt="optimizer{lr=0.01,weight-decay=0.1}"

tiny_llama "$shape"
run /usr/bin/python3 examples/zero/torch_adamw.py --dir "$out" --lr 0.01 --weight-decay 0.1 --out "$out/torch-adamw.safetensors"
run bin/autosp-opt "$out/train_step.aspir" -p "autodiff,$opt" -o "$out/one-device.aspir"
run bin/autosp-run "$out/one-device.aspir" $data --out "$out/one-device.safetensors" \
  --compare "$out/torch-adamw.safetensors" --rtol 1e-9
for zero in "" ",zero{stage=1}" ",zero{stage=3}"; do
  name=sp2dp2${zero//[^0-9a-z]/}
  run bin/autosp-opt "$out/train_step.aspir" -p "autodiff,autosp{sp=2,dp=2},$opt$zero,comm-report{per-op=false}" -o "$out/$name.aspir"
  run bin/autosp-run "$out/$name.aspir" $data --ranks 4 --out "$out/$name.safetensors" \
    --compare "$out/one-device.safetensors" --rtol 1e-12
  run bin/autosp-run "$out/$name.aspir" $data --ranks 4 --out "$out/$name.safetensors" \
    --compare "$out/torch-adamw.safetensors" --rtol 1e-9
done
echo "files in $out" >&2
