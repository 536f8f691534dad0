#!/usr/bin/env bash
# examples/mpi/run.sh [OUT_DIR]: the tiny Llama (f64, S = 64, batch 2) compiled with autosp{sp=4} and run
# on 4 MPI processes (mpirun, --backend mpi: one process per rank, Open MPI point-to-point collectives)
# and on 4 threads in one process (--backend threads); prints the largest difference over the loss and
# every gradient, which is 0: the two backends compute bit-identical results. Then the same 4 processes
# run the native executor (the default of --backend mpi: the rank program JIT-compiled for this CPU),
# checked against the interpreter to 1e-10 (the native code reassociates sums).
#   1. weights and a batch from PyTorch (tests/oracle/llama_oracle.py);
#   2. autosp-gen + autosp-opt -p autodiff (one device), then -p 'autosp{sp=4}' (per rank);
#   3. autosp-run --ranks 4 (threads), then mpirun -np 4 autosp-run --backend mpi --executor interp --compare (rtol 0);
#   4. mpirun -np 4 autosp-run --backend mpi (native) --compare (rtol 1e-10).
# Needs Open MPI (bin/setup installs openmpi-bin). As root mpirun needs --allow-run-as-root, and 4 ranks on
# fewer cores --oversubscribe; -q keeps mpirun's own notices out when a rank fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
. examples/lib.sh "$@"
shape="--seq-len 64 --batch 2 --dtype f64"
mpirun="mpirun -q -np 4 --allow-run-as-root --oversubscribe --mca btl self,vader --mca btl_vader_single_copy_mechanism none"

command -v mpirun >/dev/null || { echo "mpirun is not installed (bin/setup installs openmpi-bin libopenmpi-dev)" >&2; exit 1; }
tiny_llama "$shape"
run bin/autosp-opt "$out/train_step.aspir" -p autodiff -o "$out/joint.aspir"
run bin/autosp-opt "$out/joint.aspir" -p 'autosp{sp=4}' -o "$out/sp4.aspir"
run bin/autosp-run "$out/sp4.aspir" $data --ranks 4 --out "$out/threads.safetensors" --report
# bin/autosp-run (tools/launch.sh) builds the tool first when its sources changed; build before
# starting 4 of them at once.
run bin/autosp-run --help >/dev/null
run $mpirun bin/autosp-run "$out/sp4.aspir" $data --backend mpi --executor interp --out "$out/mpi.safetensors" --report \
  --compare "$out/threads.safetensors" --rtol 0
/usr/bin/python3 - "$out/threads.safetensors" "$out/mpi.safetensors" <<'PY'
import json, struct, sys
def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    return {k: struct.unpack("<%dd" % ((v["data_offsets"][1] - v["data_offsets"][0]) // 8),
                             b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]) for k, v in h.items()}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys(), (a.keys(), b.keys())
diff = max(abs(x - y) for k in a for x, y in zip(a[k], b[k]))
same = all(struct.pack("<%dd" % len(a[k]), *a[k]) == struct.pack("<%dd" % len(b[k]), *b[k]) for k in a)
print(f"mpi vs threads: {len(a)} tensors (loss and every gradient), max |difference| = {diff}, bit-identical: {same}")
PY
run $mpirun bin/autosp-run "$out/sp4.aspir" $data --backend mpi --out "$out/mpi-native.safetensors" --report \
  --compare "$out/threads.safetensors" --rtol 1e-10
echo "files in $out" >&2
