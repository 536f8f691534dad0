#!/usr/bin/env bash
# bench/parse-print/run.sh [OPS]: parse + verify + print a module of OPS tensor-dialect
# ops (default 1,000,000) with autosp-opt (custom and generic form) and the same
# module in MLIR generic form with Debian's mlir-opt-16; prints a Markdown table
# with the best of 3 runs of each. Needs: python3, mlir-16-tools.
set -euo pipefail
ops=${1:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/bench/out"
mkdir -p "$out"
if ! command -v mlir-opt-16 >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mlir-16-tools >/dev/null
fi
"$root/bin/setup"
python3 "$here/gen.py" --ops "$ops" --form aspir -o "$out/pp.aspir"
python3 "$here/gen.py" --ops "$ops" --form generic -o "$out/pp.generic.aspir"
python3 "$here/gen.py" --ops "$ops" --form mlir -o "$out/pp.mlir"
opt="dotnet $root/tools/autosp-opt/bin/Release/net10.0/autosp-opt.dll"

best() {  # best wall-clock seconds of 3 runs of a command
  local b=
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N)
    b=$(python3 -c "t=$e-$s; b='$b'; print(t if b=='' or t<float(b) else b)")
  done
  echo "$b"
}

# Every run is checked: both tools must accept the file.
$opt "$out/pp.aspir" -o /dev/null
mlir-opt-16 --allow-unregistered-dialect "$out/pp.mlir" -o /dev/null

t_custom=$(best $opt "$out/pp.aspir" -o /dev/null)
t_generic=$(best $opt "$out/pp.generic.aspir" --print-generic -o /dev/null)
t_mlir=$(best mlir-opt-16 --allow-unregistered-dialect --mlir-print-op-generic "$out/pp.mlir" -o /dev/null)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%Y-%m-%d)"
echo "ops: $ops ($(du -h "$out/pp.aspir" | cut -f1) custom form, $(du -h "$out/pp.mlir" | cut -f1) MLIR generic form)"
python3 - "$ops" "$t_custom" "$t_generic" "$t_mlir" <<'PY'
import sys
ops = int(sys.argv[1]); tc, tg, tm = map(float, sys.argv[2:])
print(f"| tool | input | seconds | ops/s | vs mlir-opt |")
print(f"|---|---|---|---|---|")
for name, form, t in [("autosp-opt", "custom form", tc), ("autosp-opt", "generic form", tg), ("mlir-opt-16", "generic form", tm)]:
    print(f"| {name} | {form} | {t:.2f} | {ops / t:,.0f} | {tm / t:.2f}x |")
PY
