#!/usr/bin/env bash
#===- quickstart.sh - Set up, build and run Iolite on a bundled example ----===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
"$ROOT/tools/setup.sh"
"$ROOT/tools/build.sh"
for f in "$ROOT"/examples/*.mlir; do
  echo "== $f"
  "$BUILD_DIR/bin/iolite-opt" --canonicalize "$f"
done
