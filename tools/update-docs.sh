#!/usr/bin/env bash
#===- update-docs.sh - Refresh the generated docs checked in under docs/ --===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
"$ROOT/tools/build.sh" --target iolite-doc
mkdir -p "$ROOT/docs/Dialect"
cp "$BUILD_DIR/docs/Dialect/"*.md "$ROOT/docs/Dialect/"
echo "updated docs/Dialect from $BUILD_DIR/docs/Dialect"
