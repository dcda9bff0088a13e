#!/usr/bin/env bash
#===- check-docs.sh - Fail when a checked-in generated doc is stale -------===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:?usage: check-docs.sh BUILD_DIR}"
status=0
for gen in "$BUILD_DIR"/docs/Dialect/*.md; do
  name="$(basename "$gen")"
  if ! cmp -s "$gen" "$ROOT/docs/Dialect/$name"; then
    echo "docs/Dialect/$name is stale: run tools/update-docs.sh"
    status=1
  fi
done
exit $status
