#!/usr/bin/env bash
#===- test.sh - Set up, build and run the whole Iolite test suite ---------===#
#
# The README's test command and what CI runs: installs missing packages,
# builds, and runs every test through CTest (lit, pytest numerics, emulator
# runs, format check). Then two reliability stages (docs/reliability.md):
#   asan  an ASan+UBSan build (build-san) runs the lit tests of
#         test/Dialect, test/Import, test/Pipelines and test/Runtime and the
#         runtime unit tests;
#   fuzz  each libFuzzer target runs for 60 s (bench/fuzz.sh).
# Both stages use one sanitized build (build-san, with the fuzzers'
# coverage instrumentation on): one extra build instead of two.
# IOLITE_TEST_STAGES picks stages (default "ctest,asan,fuzz"); each prints
# its wall time. Exits non-zero on any failure.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
SAN_BUILD_DIR="${IOLITE_SAN_BUILD_DIR:-$ROOT/build-san}"
STAGES=",${IOLITE_TEST_STAGES:-ctest,asan,fuzz},"
JOBS="${IOLITE_TEST_JOBS:-2}"
"$ROOT/tools/setup.sh"

stage_start() { echo "test.sh: stage $1"; STAGE_T0=$SECONDS; }
stage_end() { echo "test.sh: stage $1 took $((SECONDS - STAGE_T0)) s"; }

if [[ "$STAGES" == *,ctest,* ]]; then
  stage_start ctest
  "$ROOT/tools/build.sh"
  (cd "$BUILD_DIR" && ctest --output-on-failure -j"$JOBS" "$@")
  stage_end ctest
fi

if [[ "$STAGES" == *,asan,* ]]; then
  stage_start asan
  # RelWithDebInfo: -O2 keeps the emulator runs fast; line tables name the
  # frames of a report.
  # IOLITE_ENABLE_FUZZERS implies address,undefined.
  BUILD_DIR="$SAN_BUILD_DIR" \
  IOLITE_CMAKE_ARGS="-DIOLITE_ENABLE_FUZZERS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo" \
    "$ROOT/tools/build.sh" --target iolite-opt iolite-compile iolite-import \
      iolite-run iolite-emu bundle-runner-test runtime-api-test \
      iolite-runtime-unittests-native iolite-runtime-unittests-ucontext
  # Leaks are errors: the compiler and the runtime are libraries that the
  # Python package and user programs call many times in one process.
  # EmuFiber.cpp reports every stack switch, so fake stacks (use after
  # return) stay on.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  "$SAN_BUILD_DIR/bin/iolite-runtime-unittests-native"
  "$SAN_BUILD_DIR/bin/iolite-runtime-unittests-ucontext"
  /usr/lib/llvm-22/bin/lit -sv -j"$JOBS" \
    "$SAN_BUILD_DIR/test/Dialect" "$SAN_BUILD_DIR/test/Import" \
    "$SAN_BUILD_DIR/test/Pipelines" "$SAN_BUILD_DIR/test/Runtime"
  unset ASAN_OPTIONS UBSAN_OPTIONS
  stage_end asan
fi

if [[ "$STAGES" == *,fuzz,* ]]; then
  stage_start fuzz
  # The corpus CI grows is its own (build-san/ci-corpus), so a long run
  # under bench/.cache is never disturbed.
  IOLITE_FUZZ_BUILD_DIR="$SAN_BUILD_DIR" \
    "$ROOT/bench/fuzz.sh" --time=60 --jobs="$JOBS" \
    --cache="$SAN_BUILD_DIR/ci-corpus"
  stage_end fuzz
fi
