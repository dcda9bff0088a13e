#!/usr/bin/env bash
#===- run.sh - Regenerate docs/perf.md --------------------------------------===#
#
# bench/run.sh [--quick] [--no-peers] [--no-cache] [--only=io,resources,...]
#              [--families=attention,ssd] [--match=SLUG]
#
# Builds Iolite (tools/build.sh, incremental), installs the peers (IREE's
# iree-base-compiler, Triton, TileLang, onnx) into bench/.venv from PyPI unless
# --no-peers, then runs bench/perf.py with Debian's python3, which writes
# docs/perf.md, docs/perf/*.png and docs/perf/results.json. The full run
# takes about 20 minutes on a 2-core machine; --quick (a few sizes per
# family) a few minutes; --families/--match measure a subset of the io rows.
# Emulator counts are cached in bench/.cache by the hash of every input
# (model, options, compiler, bundle, runtime); --no-cache measures again.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export IOLITE_BUILD_DIR="${IOLITE_BUILD_DIR:-$ROOT/build}"
PYTHON=/usr/bin/python3

peers=1
for arg in "$@"; do
  case "$arg" in
    --no-peers) peers=0 ;;
    --only=*) [[ "$arg" == *peers* ]] || peers=0 ;;
    --families=*|--match=*) peers=0 ;;
  esac
done

BUILD_DIR="$IOLITE_BUILD_DIR" "$ROOT/tools/build.sh" -j"$(nproc)" \
  --target iolite-compile iolite-opt iolite_runtime >&2

if [ "$peers" -eq 1 ]; then
  VENV="$ROOT/bench/.venv"
  # Pinned: the report names these versions. TileLang pulls in PyTorch and
  # the CUDA wheels it links against (a few GB, once).
  REQS=(iree-base-compiler==3.13.0 triton==3.9.0 onnx==1.23.2
        tilelang==0.1.15)
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" >&2
  fi
  if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
      "${REQS[@]}" >&2; then
    echo "run.sh: installing the peers failed; the report says so" >&2
  fi
fi

exec "$PYTHON" "$ROOT/bench/perf.py" "$@"
