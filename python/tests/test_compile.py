"""iolite.compile through the C API's compile driver, and Bundle.run on the
emulator against NumPy references (tolerances: test/python/iolite_testing)."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import iolite
from iolite import BackendError, BackendUnavailable, CompileError
from iolite_testing import MODEL_TOLERANCES, assert_close

REPO = Path(__file__).resolve().parents[2]
HAVE_PTXAS = os.path.exists("/usr/local/cuda/bin/ptxas") or \
    os.path.exists("/opt/iolite/cuda/bin/ptxas") or \
    shutil.which("ptxas") is not None


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def attention(q, k, v, causal):
    rep = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
    s = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1])
    if causal:
        sq, skv = s.shape[-2:]
        keep = np.arange(skv)[None, :] <= np.arange(sq)[:, None] + skv - sq
        s = np.where(keep, s, -np.inf)
    return softmax(s) @ v


def mlp_attention_graph(rng):
    g = iolite.Graph("mlp_attn")
    x = g.input((8, 64), name="x")
    w = rng.randn(64).astype(np.float32)
    W = (rng.randn(64, 32) / 8).astype(np.float32)
    h = g.rms_norm(x, g.constant(w, name="norm_w"), epsilon=1e-6)
    y = g.softmax(g.silu(h @ g.constant(W, name="W")))
    q = g.input((1, 4, 16, 16), name="q")
    k = g.input((1, 2, 16, 16), name="k")
    v = g.input((1, 2, 16, 16), name="v")
    g.output(y, g.attention(q, k, v, causal=True))

    def reference(xv, qv, kv, vv):
        hv = rms_norm(xv.astype(np.float64), w, 1e-6) @ W
        return softmax(hv / (1 + np.exp(-hv))), attention(qv, kv, vv, True)
    return g, reference


def test_bundle_for_nvidia_amd_and_emu():
    rng = np.random.RandomState(0)
    g, reference = mlp_attention_graph(rng)
    bundle = iolite.compile(g, targets=["sm_90a", "gfx942", "emu-sm_90a"])
    assert bundle.targets == ["sm_90a", "gfx942", "emu-sm_90a"]
    assert sorted(p.name for p in bundle.path.iterdir()) == sorted([
        "manifest.json", "mlp_attn.c", "mlp_attn.h",
        "mlp_attn.sm_90a.cubin", "mlp_attn.gfx942.hsaco",
        "mlp_attn.emu-sm_90a.so"])
    assert bundle.inputs == [iolite.TensorType((8, 64), "f32"),
                             iolite.TensorType((1, 4, 16, 16), "f32"),
                             iolite.TensorType((1, 2, 16, 16), "f32"),
                             iolite.TensorType((1, 2, 16, 16), "f32")]
    assert len(bundle.outputs) == 2
    kernels = bundle.kernels
    assert kernels and all(set(k["targets"]) == set(bundle.targets)
                           for k in kernels)
    ops = [o["op"] for k in kernels for o in k["source_ops"]]
    assert "iolite.attention" in ops and "iolite.rms_norm" in ops
    # Source locations point back at this file's graph-building lines.
    locs = [o["loc"] for k in kernels for o in k["source_ops"]]
    assert any("test_compile.py" in loc for loc in locs)
    for k in kernels:
        assert k["targets"]["gfx942"]["resources"]["registers"] > 0
        if HAVE_PTXAS:
            assert k["targets"]["sm_90a"]["resources"]["registers"] > 0
    assert "wrote" in bundle.table

    inputs = [rng.randn(8, 64), rng.randn(1, 4, 16, 16),
              rng.randn(1, 2, 16, 16), rng.randn(1, 2, 16, 16)]
    y, o = bundle.run(*inputs, backend="emu")
    ry, ro = reference(*(a.astype(np.float32).astype(np.float64)
                         for a in inputs))
    assert y.dtype == np.float32 and y.shape == (8, 32)
    assert_close(y, ry, "f32", "mlp", MODEL_TOLERANCES)
    assert_close(o, ro, "f32", "attention", MODEL_TOLERANCES)
    # The emulator's counters, per kernel.
    assert all("emu" in k for k in bundle.kernels)
    assert len(bundle.last_stats) >= len(bundle.kernels)


def test_emu_counts_the_io_lower_bound_of_an_elementwise_kernel():
    g = iolite.Graph("axpy")
    x = g.input((64, 64))
    y = g.input((64, 64))
    g.output(2 * x + y)
    bundle = iolite.compile(g, targets=["emu-sm_90a"])
    assert len(bundle.kernels) == 1  # one fused elementwise kernel
    xv = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    out = bundle.run(xv, np.ones((64, 64), np.float32))
    np.testing.assert_array_equal(out, 2 * xv + 1)
    stats = bundle.kernels[0]["emu"]
    assert stats["launches"] == 1
    assert stats["global_bytes_read"] == 2 * 64 * 64 * 4
    assert stats["global_bytes_written"] == 64 * 64 * 4
    assert stats["flops"] >= 2 * 64 * 64


@pytest.mark.parametrize("dtype", ["f16", "bf16"])
def test_narrow_types_in_and_out(dtype):
    g = iolite.Graph("narrow")
    x = g.input((4, 32), dtype)
    g.output(g.exp(x), g.cast(x, "f32"))
    bundle = iolite.compile(g, targets=["emu-gfx942"])
    xv = np.linspace(-2, 2, 4 * 32, dtype=np.float32).reshape(4, 32)
    e, c = bundle.run(xv)
    rounded = iolite.dtypes.from_storage(
        iolite.dtypes.to_storage(xv, dtype).tobytes(), dtype, xv.shape
    ).astype(np.float64)
    assert e.dtype == (np.float16 if dtype == "f16" else np.float32)
    np.testing.assert_array_equal(c, rounded)
    assert_close(e, np.exp(rounded), dtype, "exp")


def test_emu_target_choice_and_torch_inputs():
    torch = pytest.importorskip("torch")
    g = iolite.Graph("choice")
    x = g.input((128,))
    g.output(g.reduce("sum", x, [0]), g.relu(x))
    bundle = iolite.compile(g, targets="emu-sm_90a,emu-gfx942")
    xv = torch.linspace(-1, 1, 128)
    for target in ("emu-sm_90a", "emu-gfx942"):
        s, r = bundle.run(xv, target=target)
        assert_close(s, np.array(xv.double().sum()), "f32", target,
                     MODEL_TOLERANCES)
        np.testing.assert_array_equal(r, np.maximum(xv.numpy(), 0))
    with pytest.raises(iolite.BackendError, match="no target 'emu-sm_80'"):
        bundle.run(xv, target="emu-sm_80")


def test_emit_stages():
    g = iolite.Graph("stages")
    x = g.input((16, 16))
    g.output(g.softmax(x @ x))
    assert "iolite.softmax" in iolite.compile(g, emit="iolite")
    fused = iolite.compile(g, emit="fused")
    assert "// @stages: " in fused and "iolite.kernel" in fused
    assert fused.count("iolite.kernel \"") == 1  # matmul + row epilogue
    unfused = iolite.compile(g, emit="fused", no_fusion=True)
    assert unfused.count("iolite.kernel \"") == 2
    assert "gpu.func" in iolite.compile(g, targets=["gfx942"], emit="gpu")
    assert "amdhsa" in iolite.compile(g, targets=["gfx942"], emit="amdgcn")
    if HAVE_PTXAS:
        assert ".entry" in iolite.compile(g, targets=["sm_90a"], emit="ptx")
    with pytest.raises(CompileError, match="needs a NVIDIA target"):
        iolite.compile(g, targets=["gfx942"], emit="ptx")


def test_remarks():
    g = iolite.Graph("remarks")
    x = g.input((16, 16))
    g.output(g.softmax(x @ x))
    bundle = iolite.compile(g, targets=["emu-sm_90a"], remarks=True)
    assert bundle.remarks
    assert all(r["severity"] == "remark" for r in bundle.remarks)
    assert any("kernel" in r["message"] for r in bundle.remarks)


def test_compile_errors():
    g = iolite.Graph("errors")
    x = g.input((4,))
    g.output(g.exp(x))
    with pytest.raises(CompileError) as info:
        iolite.compile(g, targets=["sm_1000"])
    assert "unknown target 'sm_1000'" in str(info.value)
    assert info.value.diagnostics[0]["severity"] == "error"
    with pytest.raises(CompileError, match=r"bad\.mlir:2:\d+: error"):
        iolite.compile("func.func @f() {\n  %0 = iolite.nope\n}\n",
                       name="bad", targets=["emu-sm_90a"])
    with pytest.raises(ValueError, match="emit must be one of"):
        iolite.compile(g, emit="cubin")


def test_compile_models_from_files_and_modules(tmp_path):
    bundle = iolite.compile(REPO / "examples" / "attention.mlir",
                            targets=["emu-sm_90a"], output_dir=tmp_path / "a")
    assert bundle.path == tmp_path / "a" and bundle.name == "attention"
    assert "func.func @attention" in bundle.source
    onnx = REPO / "test" / "Driver" / "Inputs" / "mlp.onnxtxt"
    b1 = iolite.compile(onnx, targets=["emu-sm_90a"], dims={"batch": 2})
    module = iolite.import_onnx(onnx, dims="batch=2")
    b2 = iolite.compile(module, targets=["emu-sm_90a"])
    rng = np.random.RandomState(1)
    x, w = rng.randn(2, 16).astype(np.float32), rng.randn(16, 8)
    expected = np.maximum(x @ w.astype(np.float32) + np.arange(1, 9), 0)
    for b in (b1, b2):
        assert_close(b.run(x, w), expected, "f32", "onnx mlp",
                     MODEL_TOLERANCES)


def test_symbolic_dims_from_python():
    # Bounds keep an ONNX dim symbolic (a tuple, a range or the text form);
    # a bundle needs values, and says so (docs/dynamic-shapes.md).
    onnx = REPO / "test" / "Driver" / "Inputs" / "mlp.onnxtxt"
    for dims in ({"batch": (1, 64)}, {"batch": range(1, 65)}, "batch=1..64"):
        text = iolite.import_onnx(onnx, dims=dims).text
        assert 'tensor<?x16xf32> {iolite.dims = ["batch", ""]}' in text
        assert "iolite.dim_bounds = {batch = array<i64: 1, 64>}" in text
    module = iolite.import_onnx(onnx, dims={"batch": (1, 64)})
    assert module.functions[0].arguments[0].shape == (None, 16)
    assert str(module.functions[0].results[0]) == "tensor<?x8xf32>"
    with pytest.raises(ValueError, match="Graph inputs have static shapes"):
        iolite.Graph("g").input((None, 16))
    fused = iolite.compile(onnx, emit="fused", dims={"batch": (1, 64)})
    assert "iolite.kernel" in fused and "tensor<?x16xf32>" in fused
    # One bundle serves every batch within the bounds.
    b = iolite.compile(onnx, targets=["emu-sm_90a"], dims={"batch": (1, 64)})
    assert b.dims == {"batch": (1, 64)}
    assert b.inputs[0].shape == (None, 16) and b.outputs[0].shape == (None, 8)
    rng = np.random.default_rng(0)
    for batch in (1, 5, 64):
        x = rng.standard_normal((batch, 16)).astype(np.float32)
        w = rng.standard_normal((16, 8)).astype(np.float32)
        want = np.maximum(x @ w + np.arange(1, 9, dtype=np.float32), 0)
        np.testing.assert_allclose(b.run(x, w), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(BackendError, match=r"dim 'batch' = 65 \(input #0 "
                       r"dim 0\) is outside its bounds 1\.\.64"):
        b.run(np.zeros((65, 16), np.float32), np.zeros((16, 8), np.float32))
    b.close()


MATMUL_SILU = """
func.func @mm(%a: tensor<64x128xf32>, %b: tensor<128x64xf32>,
              %c: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %0 = iolite.matmul %a, %b : tensor<64x128xf32>, tensor<128x64xf32>
  %1 = iolite.add %0, %c : tensor<64x64xf32>, tensor<64x64xf32>
  %2 = iolite.silu %1 : tensor<64x64xf32>
  return %2 : tensor<64x64xf32>
}
"""


def test_register_cap_and_spills_from_python():
    # As iolite-compile --max-registers / --werror-spills
    # (test/Driver/max-registers.mlir): the cap reaches ptxas, the spill is
    # reported in the manifest and the diagnostics, and is an error when
    # asked.
    capped = iolite.compile(MATMUL_SILU, name="mm", targets=["sm_90a"],
                            max_registers=16)
    res = capped.kernels[0]["targets"]["sm_90a"]["resources"]
    assert res["registers"] <= 24 and res["spills"] > 0
    assert any("spills on sm_90a" in d["message"]
               for d in capped.remarks)
    free = iolite.compile(MATMUL_SILU, name="mm", targets=["sm_90a"])
    assert free.kernels[0]["targets"]["sm_90a"]["resources"]["spills"] == 0
    with pytest.raises(CompileError, match="spills on sm_90a"):
        iolite.compile(MATMUL_SILU, name="mm", targets=["sm_90a"],
                       max_registers=16, werror_spills=True)


def test_run_checks_inputs_and_backends():
    g = iolite.Graph("checks")
    x = g.input((2, 3))
    g.output(x * x)
    bundle = iolite.compile(g, targets=["sm_90a", "emu-sm_90a"])
    with pytest.raises(ValueError, match="takes 1 inputs, got 2"):
        bundle.run(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        bundle.run(np.ones((3, 2)))
    with pytest.raises(TypeError, match="input 0 is int64"):
        bundle.run(np.ones((2, 3), np.int64))
    with pytest.raises(ValueError, match="backend must be one of"):
        bundle.run(np.ones((2, 3)), backend="tpu")
    only_gpu = iolite.compile(g, targets=["gfx942"])
    with pytest.raises(BackendUnavailable, match="no emu target"):
        only_gpu.run(np.ones((2, 3)))
    # The reference lowering on the CPU.
    np.testing.assert_array_equal(bundle.run(np.full((2, 3), 3.0),
                                             backend="cpu"),
                                  np.full((2, 3), 9.0))
    # A GPU runs the bundle; without one the backend says why it cannot.
    try:
        out = bundle.run(np.full((2, 3), 3.0), backend="cuda")
    except BackendUnavailable as e:
        assert "cuda" in str(e).lower()
    else:
        np.testing.assert_array_equal(out, np.full((2, 3), 9.0))
