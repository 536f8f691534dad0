#!/usr/bin/env bash
# Regenerates grammar/generated/ from AspIR.g4 with the pinned antlr-ng.
# The test GrammarIsUpToDate fails when the committed files differ from a fresh run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/generated}
cd "$here"
[ -x node_modules/.bin/antlr-ng ] || npm ci --no-audit --no-fund --silent
rm -rf "$out"
node_modules/.bin/antlr-ng -Dlanguage=CSharp --package AutoSpIR.Grammar.Generated \
  --generate-listener false --generate-visitor false -o "$out" AspIR.g4
# Keep only the C# the build needs (drop .interp/.tokens debug files).
find "$out" -type f ! -name '*.cs' -delete
