"""Greedy generation end to end (examples/generate): the llama step bundle
run from C over a batch of prompts of different lengths, a prefill and one
decode step per token with a paged KV cache written in place, on both
emulated chips, against PyTorch's greedy decoding of each prompt alone:
the tokens equal, the logits within the tolerance."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from iolite_testing import build_dir, iolite_run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "generate"
sys.path.insert(0, str(EXAMPLE))
import mamba  # noqa: E402
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


def test_mamba_step_carries_state_on_cpu():
    """The Mamba step function on the CPU reference path: a prompt in one
    step, and in two steps carrying the states, against PyTorch."""
    import torch
    p = mamba.weights(seed=0)
    source = mamba.step_mlir(p)
    prompt = [5, 17, 3, 99, 42, 8, 64]
    want = mamba.reference_module(p)(torch.tensor(prompt)).detach().numpy()
    zeros = [np.zeros((1, mamba.INNER, mamba.CONV - 1), np.float32),
             np.zeros((1, mamba.INNER, mamba.STATE), np.float32)] * \
        mamba.LAYERS
    _, whole, _, _ = iolite_run(source, [np.array([prompt], np.int32)] + zeros)
    np.testing.assert_allclose(whole[0][0], want, rtol=1e-4, atol=1e-4)
    _, first, _, _ = iolite_run(source,
                                [np.array([prompt[:4]], np.int32)] + zeros)
    _, rest, _, _ = iolite_run(source, [np.array([prompt[4:]], np.int32)]
                               + list(first[1:]))
    np.testing.assert_allclose(
        np.concatenate([first[0][0], rest[0][0]]), want, rtol=1e-4,
        atol=1e-4)
    for a, b in zip(rest[1:], whole[1:]):  # the final states agree
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
