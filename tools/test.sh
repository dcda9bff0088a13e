#!/usr/bin/env bash
#===- test.sh - Set up, build and run the whole Iolite test suite ---------===#
#
# The README's test command and what CI runs: installs missing packages,
# builds, and runs every test through CTest (lit, pytest numerics, emulator
# runs, format check). Exits non-zero on any failure.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
"$ROOT/tools/setup.sh"
"$ROOT/tools/build.sh"
cd "$BUILD_DIR"
ctest --output-on-failure -j"${IOLITE_TEST_JOBS:-2}" "$@"
