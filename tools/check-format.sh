#!/usr/bin/env bash
#===- check-format.sh - Fail on C/C++ sources clang-format would change ---===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CF="${CLANG_FORMAT:-$(command -v clang-format-22 || command -v clang-format)}"
cd "$ROOT"
bad=0
while IFS= read -r -d '' f; do
  if ! "$CF" --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not clang-formatted: $f"
    bad=1
  fi
done < <(git ls-files -z -- '*.c' '*.cpp' '*.h' ':!:*.inc')
if [ "$bad" -ne 0 ]; then
  echo "run: git ls-files '*.c' '*.cpp' '*.h' | xargs $CF -i"
  exit 1
fi
echo "clang-format: clean"
