"""The example models on the CPU and on the GPU emulator against the PyTorch
modules they come from (examples/gen_examples.py), and the committed arrays
against the script."""

import subprocess
import sys

import numpy as np
import pytest

from iolite_testing import MODEL_TOLERANCES, REPO, tool

EXAMPLES = ["llama_block", "mamba_block", "moe_layer"]


def run_example(name, model, backend_args=("--backend=cpu",)):
    root = REPO / "examples" / name
    inputs = sorted((root / "inputs").glob("*.npy"))
    rtol, atol = MODEL_TOLERANCES["f32"]
    r = subprocess.run(
        [str(tool("iolite-run")), str(model), *backend_args]
        + [f"--input={p}" for p in inputs]
        + [f"--expect={root / 'expected' / 'out0.npy'}", f"--rtol={rtol}",
           f"--atol={atol}"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok" in r.stdout


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_matches_pytorch(name):
    run_example(name, REPO / "examples" / name / "model.mlir")


@pytest.mark.parametrize("name", EXAMPLES)
def test_fused_example_matches_pytorch(name, tmp_path):
    # The graph pipeline (raising, kernels, memory plan) keeps the values:
    # its iolite.kernel regions run on the CPU by inlining.
    fused = tmp_path / "fused.mlir"
    subprocess.run([str(tool("iolite-opt")), "--iolite-graph-pipeline",
                    str(REPO / "examples" / name / "model.mlir"), "-o",
                    str(fused)], check=True, capture_output=True)
    assert "iolite.kernel" in fused.read_text()
    run_example(name, fused)


@pytest.mark.parametrize("chip", ["emu-sm_90a", "emu-gfx942"])
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_on_emu_matches_pytorch(name, chip):
    # The model file compiled to GPU kernels for the emulated chip (32- and
    # 64-lane warps), run kernel by kernel on the emulator.
    run_example(name, REPO / "examples" / name / "model.mlir",
                ("--backend=emu", f"--target={chip}"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_expected_output_is_not_trivial(name):
    # The reference is a real function of the inputs: not zero, not x.
    root = REPO / "examples" / name
    y = np.load(root / "expected" / "out0.npy")
    x = np.load(sorted((root / "inputs").glob("*.npy"))[0])
    assert np.abs(y).max() > 1e-2
    assert y.shape != x.shape or np.abs(y - x).max() > 1e-2


def test_committed_arrays_match_the_script(tmp_path):
    subprocess.run([sys.executable, str(REPO / "examples" / "gen_examples.py"),
                    str(tmp_path)], check=True, capture_output=True)
    for name in EXAMPLES:
        for sub in ("inputs", "expected"):
            fresh = sorted((tmp_path / name / sub).glob("*.npy"))
            committed = sorted((REPO / "examples" / name / sub).glob("*.npy"))
            assert [p.name for p in fresh] == [p.name for p in committed]
            for f, c in zip(fresh, committed):
                np.testing.assert_allclose(np.load(f), np.load(c), rtol=1e-5,
                                           atol=1e-6, err_msg=str(c))
