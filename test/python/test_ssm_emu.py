"""State-space kernels on both emulated chips against the references of
test_state_space.py.

Every case of test_state_space.py (depthwise conv1d with bias and SiLU,
selective scan with and without D, z and delta bias in f32/f16/bf16, SSD
with chunk sizes that do and do not divide the length, SSD against the
selective scan it equals, long convolution against an FFT) is compiled for
emu-sm_90a and emu-gfx942 with the iolite Python package (graph passes, the
scan / SSD / conv templates, the emu back end, the bundle's launch code),
run on both emulated chips, and compared with the same float64 references
on the same rounded inputs, with the tolerances of iolite_testing.py. The
kernels that hold the SSM ops must come from the SSM templates, never the
elemental fallback.
"""

import sys

import pytest

from iolite_testing import build_dir
from test_state_space import BATCH

sys.path.insert(0, str(build_dir() / "python"))
import iolite  # noqa: E402 (part of the build: a failed import fails)

CHIPS = ["emu-sm_90a", "emu-gfx942"]
SSM_OPS = ("conv1d", "selective_scan", "ssd", "long_conv")


@pytest.fixture(scope="module")
def bundle():
    b = iolite.compile(BATCH.mlir(), targets=CHIPS, name="ssm_emu")
    yield b
    b.close()


@pytest.mark.parametrize("chip", CHIPS)
def test_ssm_kernels_match_the_references(bundle, chip):
    BATCH.check_bundle(bundle, target=chip)


def test_ssm_ops_use_the_ssm_templates(bundle):
    """A kernel holding an SSM op is compiled by a scan / SSD / conv
    template, never by the elemental fallback."""
    seen = 0
    for line in bundle.table.splitlines():
        cols = line.split()
        if len(cols) < 3 or not any(op in cols[2].split(",")
                                    for op in SSM_OPS):
            continue
        seen += 1
        assert cols[1] != "elemental", line
    assert seen >= len([c for c in BATCH.cases])
