#!/usr/bin/env bash
# examples/spmd/run.sh [OUT_DIR]: causal attention on one device and, written by hand
# Ulysses-style, on 4 ranks (threads, collectives over the dist dialect); the 4-rank
# output, assembled from the ranks' shards, must equal the one-device output.
set -euo pipefail
cd "$(dirname "$0")/../.."
. examples/lib.sh "$@"
/usr/bin/python3 - "$out/qkv.safetensors" <<'PY'
import sys, torch
sys.path.insert(0, "tests/oracle")
from llama_oracle import write_safetensors
g = torch.Generator().manual_seed(0)
write_safetensors(sys.argv[1], {n: torch.randn(1, 16, 4, 8, generator=g, dtype=torch.float64) for n in ("q", "k", "v")})
PY
run bin/autosp-run examples/spmd/attention.aspir --inputs "$out/qkv.safetensors" --out "$out/one.safetensors"
run bin/autosp-run examples/spmd/ulysses-attention.aspir --ranks 4 --inputs "$out/qkv.safetensors" \
  --report --compare "$out/one.safetensors" --rtol 1e-12
