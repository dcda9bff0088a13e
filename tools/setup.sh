#!/usr/bin/env bash
#===- setup.sh - Install what Iolite needs on Debian 12 -------------------===#
#
# Idempotent: installs only the Debian packages that are missing. Run as root
# (or with sudo available). Every package the build, the tests and the quick
# start need is listed here and nowhere else.
#
#===----------------------------------------------------------------------===#
set -euo pipefail

PACKAGES=(
  # Build
  cmake ninja-build ccache git pkg-config
  clang-22 lld-22 clang-format-22
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  # ONNX import
  libonnx-dev libprotobuf-dev protobuf-compiler
  # AMD back end: device libraries for the ROCDL serializer
  rocm-device-libs libamdhip64-dev
  # Tests and benchmarks
  python3 python3-numpy python3-pytest python3-torch python3-onnx
  python3-matplotlib python3-venv libonnx-testdata
  # The Python package's wheel (pip install build/python, offline)
  python3-setuptools python3-wheel
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The CUDA toolkit (ptxas) is not a Debian package: NVIDIA binaries are
# checked by ptxas when /usr/local/cuda/bin/ptxas exists, and skipped with a
# note otherwise.
if [ ! -x /usr/local/cuda/bin/ptxas ]; then
  echo "setup: note: /usr/local/cuda/bin/ptxas not found; cubin checks will be skipped"
fi
