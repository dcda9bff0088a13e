#!/usr/bin/env bash
#===- quickstart.sh - Set up, build and run Iolite on a bundled example ----===#
#
# Sets up and builds Iolite, then runs the example models (examples/*/) on
# the CPU with iolite-run and compares each with the output of the PyTorch
# module it comes from (examples/gen_examples.py): the Llama decoder block
# first, then the Mamba block and the Mixtral MoE layer.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
"$ROOT/tools/setup.sh"
"$ROOT/tools/build.sh"
for name in llama_block mamba_block moe_layer; do
  ex="$ROOT/examples/$name"
  inputs=()
  for f in "$ex"/inputs/*.npy; do inputs+=("--input=$f"); done
  echo "== $name: iolite-run --backend=cpu vs PyTorch (examples/$name)"
  "$BUILD_DIR/bin/iolite-run" "$ex/model.mlir" --backend=cpu "${inputs[@]}" \
    --expect="$ex/expected/out0.npy" --rtol=1e-4 --atol=1e-5
done
