"""The benchmark harness's plumbing, on the emulator (no GPU here).

bench/gpu_harness.py compiles attention and matmul bundles, runs them
through their own launch code and times them against PyTorch; on emu it
uses the emulator and host wall time. These tests check the plumbing only:
the cases run, the JSON report has its fields, the bundle outputs agree
with PyTorch, the bad invocations are refused with a message. No timing is
asserted. The occupancy calculator of bench/resources.py is checked against
hand-computed cases from the target descriptions.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "test" / "python"))

from iolite_testing import MODEL_TOLERANCES, build_dir  # noqa: E402

HARNESS = REPO / "bench" / "gpu_harness.py"


def harness(*args):
    env = dict(os.environ, IOLITE_BUILD_DIR=str(build_dir()))
    return subprocess.run([sys.executable, str(HARNESS), *args], env=env,
                          capture_output=True, text=True)


def test_emu_plumbing(tmp_path):
    out = tmp_path / "harness.json"
    r = harness("--backend=emu", "--shapes=tiny", "--iters=2",
                "--warmup=0", "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert "EMULATOR" in r.stdout  # the numbers are labelled
    report = json.loads(out.read_text())
    assert report["backend"] == "emu" and report["target"] == "emu-sm_90a"
    assert "not a GPU measurement" in report["timing"]
    cases = {c["case"]: c for c in report["cases"]}
    assert len(cases) == 3
    attention = [c for name, c in cases.items() if name.startswith(
        "attention")]
    matmul = [c for name, c in cases.items() if name.startswith("matmul")]
    assert len(attention) == 2 and len(matmul) == 1
    assert all(c["templates"] == ["attention"] for c in attention)
    assert matmul[0]["templates"] == ["matmul"]
    rtol, atol = MODEL_TOLERANCES["f16"]
    for c in report["cases"]:
        for side in ("iolite", "torch"):
            s = c[side]
            assert s["runs"] == 2 and s["median_s"] > 0
            assert s["tflops"] > 0 and s["gbps"] > 0
        assert c["throughput_ratio"] > 0
        # Inputs are in [-1, 1): attention outputs are at most 1 in
        # magnitude, a matmul's at most K.
        bound = atol + rtol * (1.0 if c["case"].startswith("attention")
                               else c["shape"][2])
        assert c["max_abs_error"] <= bound, c


def test_refuses_bad_invocations():
    r = harness("--backend=cuda", "--iters=5")
    assert r.returncode == 2
    assert "at least 20" in r.stderr
    r = harness("--backend=tpu")
    assert r.returncode == 2


def test_cuda_without_gpu_is_a_clear_error():
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the harness would time it")
    r = harness("--backend=cuda")
    assert r.returncode == 2
    assert "needs an NVIDIA GPU" in r.stderr


def test_occupancy_from_target_descriptions():
    import resources
    facts = resources.target_facts()
    h100, mi300 = facts["sm_90a"], facts["gfx942"]
    # 128 registers x 32 lanes = 4096 per warp: 4 warps per 16K-register
    # partition, 16 per SM = 2 blocks of 8 warps; 81.5 KiB + 1 KiB
    # reserved fits twice in 228 KiB: 2 blocks, 16 of 64 warps.
    assert resources.occupancy(h100, 256, 128, 83456) == (2, 0.25,
                                                           "registers")
    # 255 registers round to 256: 2 warps per partition, one 8-warp block.
    assert resources.occupancy(h100, 256, 255, 0)[:2] == (1, 0.125)
    # Shared memory alone: 100 KiB + 1 KiB twice in 228 KiB.
    assert resources.occupancy(h100, 128, 32, 100 * 1024) == (
        2, 0.125, "shared memory")
    # gfx942: 118 VGPRs round to 120: 4 waves per SIMD (512 / 120); a
    # 4-wave block puts one wave on each SIMD: 4 blocks by VGPRs, but
    # 33 KiB of LDS fits once in 64 KiB.
    assert resources.occupancy(mi300, 256, 118, 33792, 35) == (
        1, 0.125, "shared memory")
    assert resources.occupancy(mi300, 256, 118, 0, 35) == (4, 0.5,
                                                           "registers")
    # SGPRs: 112 (rounded to 112) leave 7 waves per SIMD of 800.
    assert resources.occupancy(mi300, 64, 16, 0, 112) == (28, 0.875, "SGPRs")
