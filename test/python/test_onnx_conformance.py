"""A representative subset of the ONNX backend node tests
(onnx_conformance_ci.txt: every op type that passes the full sweep) must
keep passing: imported and run on the CPU, and compiled to GPU kernels run
on the emulator, outputs matching the stored ones.
The full sweep and its table are tools/onnx-conformance.py and
docs/onnx-conformance.md.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import iolite_testing as it

HERE = Path(__file__).resolve().parent
RUNNER = it.REPO / "tools" / "onnx-conformance.py"


@pytest.mark.parametrize("backend", ["cpu", "emu"])
def test_ci_subset_passes(backend):
    listing = HERE / "onnx_conformance_ci.txt"
    proc = subprocess.run(
        [sys.executable, str(RUNNER), f"--build-dir={it.build_dir()}",
         f"--tests={listing}", f"--expect-pass={listing}",
         f"--backend={backend}", f"--jobs={min(os.cpu_count() or 1, 2)}"],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
