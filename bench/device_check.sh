#!/usr/bin/env bash
#===- device_check.sh - The check that runs first on an NVIDIA GPU ---------===#
#
# bench/device_check.sh --prepare [--dir=DIR] [--targets=sm_90a,sm_80]
#                       [--examples=a,b] [--shapes=small,default] [--no-build]
# bench/device_check.sh --run [--dir=DIR] [--out=DIR] [--backend=cuda|emu]
#                       [--only=examples,generate,harness] [--budget-s=450]
#
# Runs every example (examples/*: model.mlir, inputs/*.npy against
# expected/*.npy, the test suite's model tolerances), each example's
# model_dynamic.mlir compiled once and run at three sizes, and the GPU harness's
# cases (bench/gpu_harness.py: attention and matmul against PyTorch, TFLOP/s),
# and examples/generate's C program (greedy tokens against PyTorch's)
# through the runtime's CUDA backend, in under 8 minutes, and writes
# device_check.json and device_check.log.
#
# --prepare runs HERE, where Iolite is built (iolite-compile, ptxas, a C
# compiler): it brings the build up to date (tools/build.sh, unless
# --no-build; $IOLITE_BUILD_DIR, default build/), compiles all bundles for sm_90a and sm_80 and their launch
# code against a copy of libiolite_runtime.so into DIR (default
# build/device-check, about 3 MiB). The GPU machine needs only that folder,
# the checkout, python3 with numpy, and the NVIDIA driver; PyTorch is
# optional (without it the harness's bundles are timed alone by wall clock
# and their outputs are reported as not checked). iolite-run is not used
# there: it links libMLIR and libLLVM, which that machine lacks; the
# examples run through their bundles' own launch code, as iolite-run's
# BundleRunner would.
#
# --run runs THERE. Results go to $OUT when it is set, else to --out (default
# build/device-check-results). Every step is passed, FAILED or not run (with
# the reason); exit status 0 when all passed, 1 when any FAILED (a missing
# bundle, a failed launch, a mismatch, an unparsable answer, a timeout), 3
# when none failed but some did not run.
#
# On the GPU machine, with build/device-check carried beside the checkout
# (it is git-ignored; nothing else from build/ is needed):
#   bench/device_check.sh --run
# Afterwards, copy $OUT's device_check.json to docs/perf/device_check.json
# and rewrite docs/perf.md with `python3 bench/perf.py --report-only`.
#
# --backend=emu runs the same plumbing on the emulator (prepare with
# --targets=emu-sm_90a); test/bench/test_device_check.py does so in CI.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The python3 with numpy: $PYTHON, else the first of python3 (the GPU
# machine's, with PyTorch) and /usr/bin/python3 that imports it.
pick_python() {
  local p
  for p in "${PYTHON:-}" python3 /usr/bin/python3; do
    if [ -n "$p" ] && "$p" -c 'import numpy' >/dev/null 2>&1; then
      echo "$p"
      return 0
    fi
  done
  echo "device_check.sh: no python3 with numpy found (set PYTHON)" >&2
  return 1
}

mode=""
build=1
dir="$ROOT/build/device-check"
out="${OUT:-$ROOT/build/device-check-results}"
args=()
for arg in "$@"; do
  case "$arg" in
    --prepare) mode=prepare ;;
    --no-build) build=0 ;;
    --run) mode=run ;;
    --dir=*) dir="${arg#--dir=}" ;;
    --out=*) out="${arg#--out=}" ;;
    -h|--help) sed -n '3,/^#===--/{/^#===--/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
               exit 0 ;;
    *) args+=("$arg") ;;
  esac
done
PY="$(pick_python)"
case "$mode" in
  prepare)
    export IOLITE_BUILD_DIR="${IOLITE_BUILD_DIR:-$ROOT/build}"
    if [ "$build" -eq 1 ]; then
      BUILD_DIR="$IOLITE_BUILD_DIR" "$ROOT/tools/build.sh" \
        --target iolite-compile iolite_runtime >&2
    fi
    exec "$PY" "$ROOT/bench/device_check.py" prepare --dir="$dir" \
      ${args[@]+"${args[@]}"} ;;
  run)
    exec "$PY" "$ROOT/bench/device_check.py" run --dir="$dir" --out="$out" \
      ${args[@]+"${args[@]}"} ;;
  *)
    echo "usage: device_check.sh --prepare|--run [options] (--help)" >&2
    exit 2 ;;
esac
