"""A GPT-2 block and a Llama block exported by torch.onnx.export (torch
1.13, opsets 14 and 17, symbolic batch and sequence dims) match PyTorch when
imported and run on the CPU with iolite-run: the imported graph as it is,
and after the raising pipeline has turned its attention into one
iolite.attention (checked) and its norms, activations and RoPE into their
iolite ops; and compiled to GPU kernels run on the emulator of both
vendors.
"""

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import iolite_testing as it  # noqa: E402
import onnx_blocks  # noqa: E402

RAISE = ["--iolite-raising-pipeline"]

# (batch, seq): prefill-like, and a length that is not a power of two.
SHAPES = [(2, 16), (1, 7)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{(block, opset): (path, torch module)} exported once per module."""
    out = tmp_path_factory.mktemp("onnx_blocks")
    warnings.simplefilter("ignore")
    models = {}
    for name in onnx_blocks.BLOCKS:
        block = onnx_blocks.make_block(name)
        for opset in onnx_blocks.OPSETS:
            path = out / f"{name}_opset{opset}.onnx"
            onnx_blocks.export(block, str(path), opset)
            models[(name, opset)] = (path, block)
    return models


def reference(block, x):
    with torch.no_grad():
        return block(torch.from_numpy(x)).numpy()


def dims(batch, seq):
    return f"--dim={onnx_blocks.BATCH}={batch},{onnx_blocks.SEQ}={seq}"


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("opset", onnx_blocks.OPSETS)
@pytest.mark.parametrize("name", list(onnx_blocks.BLOCKS))
def test_imported_block_matches_torch(exported, name, opset, shape):
    path, block = exported[(name, opset)]
    rng = np.random.default_rng(opset + shape[1])
    x = rng.standard_normal((*shape, onnx_blocks.D_MODEL)).astype(np.float32)
    _, outs, _, _ = it.iolite_run(path, [x], extra_args=[dims(*shape)])
    it.assert_close(outs[0], reference(block, x), "f32",
                    f"{name} opset {opset} {shape}", it.MODEL_TOLERANCES)


@pytest.mark.parametrize("opset", onnx_blocks.OPSETS)
@pytest.mark.parametrize("name", list(onnx_blocks.BLOCKS))
def test_raised_block_matches_torch(exported, tmp_path, name, opset):
    path, block = exported[(name, opset)]
    batch, seq = SHAPES[0]
    imported = subprocess.run(
        [str(it.tool("iolite-import")), str(path), dims(batch, seq)],
        check=True, capture_output=True, text=True).stdout
    raised = subprocess.run(
        [str(it.tool("iolite-opt")), *RAISE], input=imported, check=True,
        capture_output=True, text=True).stdout
    # One attention per block, none of its pieces left over.
    assert len(re.findall(r"iolite\.attention ", raised)) == 1, raised
    assert "iolite.softmax" not in raised, raised
    kv_heads = 2 if name == "llama" else 4
    assert re.search(rf"iolite\.attention .*tensor<{batch}x4x{seq}x16xf32>, "
                     rf"tensor<{batch}x{kv_heads}x{seq}x16xf32>", raised)
    model = tmp_path / "raised.mlir"
    model.write_text(raised)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((batch, seq, onnx_blocks.D_MODEL)).astype(
        np.float32)
    _, outs, _, _ = it.iolite_run(model, [x])
    it.assert_close(outs[0], reference(block, x), "f32",
                    f"raised {name} opset {opset}", it.MODEL_TOLERANCES)


@pytest.mark.parametrize("chip", ["emu-sm_90a", "emu-gfx942"])
@pytest.mark.parametrize("name", list(onnx_blocks.BLOCKS))
def test_block_on_emu_matches_torch(exported, name, chip):
    # The .onnx file straight to the emulator: iolite-run imports it,
    # compiles it (raising, fusion, GPU kernels for the emulated chip) into
    # a temporary bundle and runs the bundle's kernels.
    path, block = exported[(name, onnx_blocks.OPSETS[-1])]
    batch, seq = SHAPES[1]
    rng = np.random.default_rng(11)
    x = rng.standard_normal((batch, seq, onnx_blocks.D_MODEL)).astype(
        np.float32)
    _, outs, _, _ = it.iolite_run(path, [x], backend="emu",
                                  extra_args=[dims(batch, seq),
                                              f"--target={chip}"])
    it.assert_close(outs[0], reference(block, x), "f32",
                    f"{name} on {chip}", it.MODEL_TOLERANCES)
