# examples/lib.sh: what the example scripts share; each one does
#     set -euo pipefail; cd "$(dirname "$0")/../.."; . examples/lib.sh "$@"
# and then has, from the repository root:
#   $out        the output folder: the script's argument, or a new temporary folder
#   run CMD...  prints "$ CMD" on stderr, then runs it
#   tiny_llama SHAPE  (SHAPE like "--seq-len 64 --batch 2 --dtype f32") writes into $out PyTorch's seeded weights,
#               batch, loss and gradients for ../shared/models/tiny-llama.json (tests/oracle/llama_oracle.py)
#               and autosp-gen's one-device training step train_step.aspir; $config is that config,
#               $data the --params/--inputs arguments of autosp-run for those files
out=${1:-$(mktemp -d)}
mkdir -p "$out"
config=../shared/models/tiny-llama.json
data="--params $out/params.safetensors --inputs $out/inputs.safetensors"

run() { echo "\$ $*" >&2; "$@"; }

tiny_llama() {
  run /usr/bin/python3 tests/oracle/llama_oracle.py --hf-config $config $1 --seed 0 --out-dir "$out" >&2
  run bin/autosp-gen --hf-config $config $1 -o "$out/train_step.aspir"
}
