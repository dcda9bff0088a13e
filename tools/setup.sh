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
  # Sanitizer and libFuzzer runtimes (build-asan, build-fuzz)
  libclang-rt-22-dev
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

# ptxas and libdevice (NVIDIA binaries, and the CUDA toolkit, are not
# Debian packages): /usr/local/cuda when it is there, else NVIDIA's
# nvidia-cuda-nvcc wheel from PyPI, unpacked into /opt/iolite/cuda (bin/ptxas,
# nvvm/libdevice), where the compiler looks next (lib/Target/Serialization.cpp).
FALLBACK=/opt/iolite/cuda
if [ -x /usr/local/cuda/bin/ptxas ] ||
  { [ -x "$FALLBACK/bin/ptxas" ] &&
    [ -f "$FALLBACK/nvvm/libdevice/libdevice.10.bc" ]; }; then
  :
else
  echo "setup: no CUDA toolkit in /usr/local/cuda; installing ptxas and" \
    "libdevice from PyPI (nvidia-cuda-nvcc-cu12) into $FALLBACK"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO mkdir -p /opt/iolite
  $SUDO rm -rf /opt/iolite/cuda-venv
  $SUDO /usr/bin/python3 -m venv /opt/iolite/cuda-venv
  $SUDO /opt/iolite/cuda-venv/bin/pip install -q --disable-pip-version-check \
    "nvidia-cuda-nvcc-cu12>=12.8,<13"
  nvcc_dir=$(ls -d /opt/iolite/cuda-venv/lib/python3*/site-packages/nvidia/cuda_nvcc)
  $SUDO ln -sfn "$nvcc_dir" "$FALLBACK"
  $SUDO chmod +x "$FALLBACK/bin/ptxas"
  "$FALLBACK/bin/ptxas" --version | tail -1
fi

# cuobjdump and the nvdisasm it runs, for the tests that read the SASS of
# Iolite's cubins (HMMA, no local-memory spills): /usr/local/cuda's when it
# has both, else NVIDIA's nvidia-cuda-cuobjdump and -nvdisasm wheels from
# PyPI, with cuobjdump linked as /opt/iolite/bin/cuobjdump, where
# test/lit.cfg.py looks next (it finds nvdisasm beside its real path).
if { [ -x /usr/local/cuda/bin/cuobjdump ] &&
  [ -x /usr/local/cuda/bin/nvdisasm ]; } ||
  { [ -x /opt/iolite/bin/cuobjdump ] &&
    [ -x "$(dirname "$(readlink -f /opt/iolite/bin/cuobjdump)")/nvdisasm" ]; }; then
  :
else
  echo "setup: no cuobjdump in /usr/local/cuda; installing it from PyPI" \
    "(nvidia-cuda-cuobjdump, -nvdisasm) into /opt/iolite/bin"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO mkdir -p /opt/iolite/bin
  $SUDO rm -rf /opt/iolite/cuobjdump-venv
  $SUDO /usr/bin/python3 -m venv /opt/iolite/cuobjdump-venv
  $SUDO /opt/iolite/cuobjdump-venv/bin/pip install -q \
    --disable-pip-version-check "nvidia-cuda-cuobjdump>=13,<14" \
    "nvidia-cuda-nvdisasm>=13,<14"
  tool=$(ls /opt/iolite/cuobjdump-venv/lib/python3*/site-packages/nvidia/cu*/bin/cuobjdump)
  $SUDO chmod +x "$tool" "$(dirname "$tool")/nvdisasm"
  $SUDO ln -sfn "$tool" /opt/iolite/bin/cuobjdump
  /opt/iolite/bin/cuobjdump --version | tail -1
fi
