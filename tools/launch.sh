#!/usr/bin/env bash
# launch.sh TOOL ARGS...: runs a built AutoSpIR tool (Release), building it first
# when it is missing or older than the sources. The check and the build hold a lock,
# so tools started together (bin/autosp-gen ... | bin/autosp-opt ...) never build at once.
set -euo pipefail
tool=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
dll="$root/tools/$tool/bin/Release/net10.0/$tool.dll"
stale() {
  [ ! -f "$dll" ] || [ -n "$(find "$root/ir" "$root/grammar" "$root/dialects" "$root/passes" "$root/lowering" "$root/runtime" "$root/tools" \
      \( -name '*.cs' -o -name '*.csproj' \) -newer "$dll" -not -path '*/obj/*' -not -path '*/bin/*' -not -path '*/node_modules/*' -print -quit 2>/dev/null)" ]
}
if stale; then
  exec 9>"$root/.launch.lock"
  flock 9
  if stale; then
    log=$(mktemp)
    if ! dotnet build "$root/tools/$tool/$tool.csproj" -c Release -nologo -v quiet -warnaserror >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log"; echo "$tool: build failed" >&2; exit 1
    fi
    rm -f "$log"
  fi
  exec 9>&-
fi
exec dotnet "$dll" "$@"
