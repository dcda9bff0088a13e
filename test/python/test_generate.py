"""Greedy generation end to end (examples/generate): the llama step bundle
run from C over a batch of prompts of different lengths, a prefill and one
decode step per token with a paged KV cache written in place, on both
emulated chips, against PyTorch's greedy decoding of each prompt alone:
the tokens equal, the logits within the tolerance."""

import subprocess
import sys
from pathlib import Path

import pytest

from iolite_testing import build_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "generate"
sys.path.insert(0, str(EXAMPLE))
import run as generate  # noqa: E402


@pytest.mark.parametrize("chip", ["emu-sm_90a", "emu-gfx942"])
def test_tokens_match_pytorch(chip):
    got, want, diff = generate.run(target=chip, new_tokens=8,
                                   build=build_dir())
    assert got == want, f"{chip}: iolite {got}, pytorch {want}"
    assert diff <= generate.LOGIT_TOLERANCE, f"{chip}: logits off by {diff}"


def test_past_the_cache_refused(tmp_path):
    """A sequence that would grow past its pages stops with the bundle's
    input check naming the op and the bound, before the step runs."""
    build = build_dir()
    bundle = generate.compile_bundle(build, "emu-sm_90a", tmp_path)
    exe = generate.build_program(build, bundle, tmp_path)
    # 11 prompt tokens + 22 new ones: position 32 is past 4 pages of 8.
    proc = subprocess.run(
        [str(exe), "emu-sm_90a", str(bundle), "23", str(tmp_path / "l.bin"),
         "1,2,3,4,5,6,7,8,9,10,11"], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert ("'iolite.kv_cache_append': sequence 0 has length 32 and appends "
            "1 token(s), past the cache's 32 positions") in proc.stderr, \
        proc.stderr
    assert "sequence 0:" not in proc.stdout
