#!/usr/bin/env bash
#===- quickstart.sh - Set up, build and run Iolite on a bundled example ----===#
#
# Sets up and builds Iolite, then takes the Llama decoder block of
# examples/llama_block through the whole product:
#   1. iolite-compile writes its AOT bundle for sm_90a and gfx942 (plus the
#      emulated sm_90a) and prints the per-kernel table: kernels, tiles,
#      launch sizes and the ptxas / HSACO resource reports;
#   2. iolite-run runs that bundle on the GPU emulator, compares the output
#      with the PyTorch module's (examples/gen_examples.py) and prints the
#      global-memory bytes each kernel moved.
# Without the CUDA toolkit (ptxas) the NVIDIA binary is left out, with a note.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
"$ROOT/tools/setup.sh"
"$ROOT/tools/build.sh"

ex="$ROOT/examples/llama_block"
out="$BUILD_DIR/quickstart/llama_block"
targets="sm_90a,gfx942,emu-sm_90a"
if [ -z "${IOLITE_PTXAS:-}" ] && [ ! -x /usr/local/cuda/bin/ptxas ] &&
  [ ! -x /opt/iolite/cuda/bin/ptxas ] && ! command -v ptxas > /dev/null; then
  echo "quickstart: note: no ptxas (CUDA toolkit); compiling for gfx942 only"
  targets="gfx942,emu-sm_90a"
fi
rm -rf "$out"
echo "== iolite-compile examples/llama_block/model.mlir --target=$targets"
"$BUILD_DIR/bin/iolite-compile" "$ex/model.mlir" --target="$targets" -o "$out"
echo
inputs=()
for f in "$ex"/inputs/*.npy; do inputs+=("--input=$f"); done
echo "== iolite-run ${out#"$ROOT"/} --backend=emu vs PyTorch, with the" \
  "emulator's byte counts"
"$BUILD_DIR/bin/iolite-run" "$out" --backend=emu "${inputs[@]}" \
  --expect="$ex/expected/out0.npy" --rtol=1e-4 --atol=1e-5 --stats
