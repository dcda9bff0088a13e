"""One compile for every size (docs/dynamic-shapes.md): a model with
symbolic batch and sequence dims is compiled once into a bundle for the
emulated chips, and that one bundle runs at every size of SIZES against
the PyTorch modules the models come from. Sizes outside the bounds are
refused before any launch."""

import sys

import numpy as np
import pytest

from iolite_testing import MODEL_TOLERANCES, REPO, build_dir, iolite_run

sys.path.insert(0, str(build_dir() / "python"))
import iolite  # noqa: E402 (part of the build: a failed import fails)

sys.path.insert(0, str(REPO / "test" / "python"))
import test_dynamic_dims as dd  # noqa: E402  (the examples' cases)

TARGETS = ("emu-sm_90a", "emu-gfx942")
SEQ_BOUND = dd.SEQ_BOUND
SIZES = dd.SIZES

# name -> (model file, case(batch, seq) -> (inputs, expected), hidden).
# Every example whose kernels take run-time extents is listed here.
ONE_COMPILE = {
    "mlp": (REPO / "test" / "python" / "Inputs" / "mlp_dynamic.mlir",
            None, 32),
    "mamba": (REPO / "examples" / "mamba_block" / "model_dynamic.mlir",
              dd.mamba_case, 16),
    "moe": (REPO / "examples" / "moe_layer" / "model_dynamic.mlir",
            dd.moe_case, 16),
    # Causal GQA attention with the query and key lengths at run time.
    "llama": (dd.LLAMA, dd.llama_case, 32),
    # iolite.iota in an elementwise kernel: positions at the call's length.
    "positions": (dd.POSITIONS, dd.positions_case, 8),
    # Mamba-2's chunked SSD: run-time chunk count, the last chunk masked.
    "ssd": (REPO / "test" / "python" / "Inputs" / "ssd_dynamic.mlir", None,
            (4, 8)),
    # Hyena's long convolution, its filter as long as the sequence.
    "long_conv": (REPO / "test" / "python" / "Inputs" /
                  "long_conv_dynamic.mlir", None, 8),
}


def mlp_case(batch, seq):
    """RMSNorm, SwiGLU and a residual, then softmax(x) * tanh(x): the
    matmul, row-reduction and elementwise templates at run-time extents."""
    rng = np.random.default_rng(batch * 1000 + seq)
    x = rng.standard_normal((batch, seq, 32)).astype(np.float32)
    w = rng.standard_normal(32).astype(np.float32)
    wg, wu = (rng.standard_normal((64, 32)).astype(np.float32) * 0.2
              for _ in range(2))
    wd = rng.standard_normal((32, 64)).astype(np.float32) * 0.2
    x64 = x.astype(np.float64)
    n = x64 / np.sqrt((x64 * x64).mean(-1, keepdims=True) + 1e-6) * w
    g, u = n @ wg.T, n @ wu.T
    y = x64 + (g / (1 + np.exp(-g)) * u) @ wd.T
    e = np.exp(x64 - x64.max(-1, keepdims=True))
    z = e / e.sum(-1, keepdims=True) * np.tanh(x64)
    return [x, w, wg, wu, wd], (y, z)


def ssd_recurrence(x, dt, a, b, c, d=None, bias=None):
    """The SSD recurrence step by step in f64: per head h (group g of its
    B/C), delta = softplus(dt + dt_bias), state = exp(delta A) state +
    delta x B^T, y = state C + D x."""
    x, b, c = (t.astype(np.float64) for t in (x, b, c))
    batch, seq, heads, p = x.shape
    groups, n = b.shape[2], b.shape[3]
    delta = dt.astype(np.float64) + (0 if bias is None else bias)
    delta = np.log1p(np.exp(delta))
    y = np.zeros((batch, seq, heads, p))
    for h in range(heads):
        g = h // (heads // groups)
        state = np.zeros((batch, p, n))
        for t in range(seq):
            dl = delta[:, t, h][:, None, None]
            state = np.exp(dl * a[h]) * state + \
                dl * x[:, t, h, :, None] * b[:, t, g, None, :]
            y[:, t, h] = (state * c[:, t, g, None, :]).sum(-1)
            if d is not None:
                y[:, t, h] += d[h] * x[:, t, h]
    return y


def ssd_case(batch, seq):
    """ssd_dynamic.mlir's inputs and ssd_recurrence."""
    rng = np.random.default_rng(batch * 1000 + seq)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    x, dt, b, c = f(batch, seq, 4, 8), f(batch, seq, 4), f(batch, seq, 2, 8), \
        f(batch, seq, 2, 8)
    a = -np.exp(rng.uniform(-1, 1, 4)).astype(np.float32)
    d, bias = f(4), f(4) * np.float32(0.5)
    return [x, dt, a, b, c, d, bias], ssd_recurrence(x, dt, a, b, c, d, bias)


def long_conv_case(batch, seq):
    """y[t] = sum_{s <= t} f[s] x[t - s] + D x[t] per channel, in f64."""
    rng = np.random.default_rng(batch * 1000 + seq)
    x = rng.standard_normal((batch, 8, seq)).astype(np.float32)
    f = (rng.standard_normal((8, seq)) * 0.3).astype(np.float32)
    d = rng.standard_normal(8).astype(np.float32)
    y = d[:, None] * x.astype(np.float64)
    for s in range(seq):
        y[..., s:] += f[:, s, None].astype(np.float64) * x[..., :seq - s]
    return [x, f, d], y


CASES = {"mlp": mlp_case, "ssd": ssd_case, "long_conv": long_conv_case}


@pytest.fixture(scope="module")
def bundles():
    compiled = {}
    yield compiled
    for b in compiled.values():
        b.close()


def bundle_for(bundles, name):
    if name not in bundles:
        model = ONE_COMPILE[name][0]
        bundles[name] = iolite.compile(model, targets=TARGETS,
                                       dims={"seq": (1, SEQ_BOUND)})
    return bundles[name]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("batch,seq", SIZES)
@pytest.mark.parametrize("name", list(ONE_COMPILE))
def test_one_bundle_runs_every_size(bundles, name, batch, seq, target):
    b = bundle_for(bundles, name)
    assert b.dims["seq"] == (1, SEQ_BOUND)
    case = CASES.get(name) or ONE_COMPILE[name][1]
    inputs, expected = case(batch, seq)
    outs = b.run(*inputs, target=target)
    outs = outs if isinstance(outs, tuple) else (outs,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(outs) == len(expected)
    rtol, atol = MODEL_TOLERANCES["f32"]
    for got, want in zip(outs, expected):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", list(ONE_COMPILE))
def test_sizes_outside_the_bounds_are_refused(bundles, name):
    b = bundle_for(bundles, name)
    case = CASES.get(name) or ONE_COMPILE[name][1]
    inputs, _ = case(1, SEQ_BOUND + 1)
    with pytest.raises(iolite.BackendError,
                       match=rf"dim 'seq' = {SEQ_BOUND + 1} \(input #0 dim "
                             rf"{2 if name == 'long_conv' else 1}\)"
                             rf" is outside its bounds 1\.\.{SEQ_BOUND}"):
        b.run(*inputs)


@pytest.mark.parametrize("batch,seq", [(1, 7), (3, 17)])
def test_iolite_run_takes_any_size(bundles, batch, seq):
    """iolite-run on the bundle folder reads the dims from the .npy
    shapes and prints the results' shapes at those dims."""
    b = bundle_for(bundles, "mlp")
    inputs, expected = mlp_case(batch, seq)
    rc, outs, out, err = iolite_run(b.path, inputs, backend="emu",
                                    check=False)
    assert rc == 0, out + err
    assert f"out0: tensor<{batch}x{seq}x32xf32>" in out
    rtol, atol = MODEL_TOLERANCES["f32"]
    for got, want in zip(outs, expected):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    bad, _ = mlp_case(1, SEQ_BOUND + 1)
    rc, _, out, err = iolite_run(b.path, bad, backend="emu", check=False)
    assert rc == 2
    assert f"dim 'seq' = {SEQ_BOUND + 1} (input #0 dim 1) is outside its " \
        f"bounds 1..{SEQ_BOUND}" in err


@pytest.fixture(scope="module")
def onnx_bundle(tmp_path_factory):
    """The pre-norm MLP block of test_dynamic_dims.py exported by torch with
    dynamic batch and sequence axes, compiled once."""
    import torch
    torch.manual_seed(0)
    block = dd.Block().eval()
    path = tmp_path_factory.mktemp("onnx") / "block.onnx"
    torch.onnx.export(block, (torch.randn(2, 5, 32),), str(path),
                      input_names=["x"], output_names=["y"], opset_version=17,
                      dynamic_axes={"x": {0: "batch", 1: "seq"},
                                    "y": {0: "batch", 1: "seq"}})
    b = iolite.compile(path, targets=TARGETS,
                       dims={"batch": (1, 8), "seq": (1, 128)})
    yield block, b
    b.close()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("batch,seq", [(1, 1), (3, 7), (8, 128)])
def test_onnx_dynamic_axes_one_compile(onnx_bundle, batch, seq, target):
    import torch
    block, b = onnx_bundle
    assert b.dims == {"batch": (1, 8), "seq": (1, 128)}
    torch.manual_seed(seq)
    x = torch.randn(batch, seq, 32)
    with torch.no_grad():
        expected = block(x).numpy()
    got = b.run(x.numpy(), target=target)
    rtol, atol = MODEL_TOLERANCES["f32"]
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


def test_moe_sort_blocks_past_the_tokens():
    """At the file's bounds (8 x 512 tokens, 8192 assignments) the dispatch
    sorts with several blocks, planned at the bounds: at small sizes the
    blocks past the call's assignments have no work and must not disturb
    the sort."""
    model = ONE_COMPILE["moe"][0]
    b = iolite.compile(model, targets=TARGETS, dims={"seq": (1, 512)})
    try:
        rtol, atol = MODEL_TOLERANCES["f32"]
        for batch, seq in [(1, 1), (3, 17), (8, 300)]:
            inputs, expected = dd.moe_case(batch, seq)
            for target in TARGETS:
                got = b.run(*inputs, target=target)
                np.testing.assert_allclose(got, expected, rtol=rtol,
                                           atol=atol)
    finally:
        b.close()


# (batch, query length, key length) for the attention bundle. Launches
# that split the keys: decode against many keys, ragged key lengths, two
# queries. Launches that do not: 5 or 16 queries (too many partial bytes
# per key), the bound, short decode, and more queries than keys (fully
# masked causal rows).
ATTENTION_SIZES = [(1, 1, 1000), (2, 1, 777), (1, 2, 900), (2, 5, 513),
                   (1, 16, 600), (1, 32, 1024), (2, 1, 7), (3, 32, 7)]


@pytest.fixture(scope="module")
def attention_bundles():
    # f32 runs on the FMA units, f16 on the matrix units.
    text = (REPO / "test" / "python" / "Inputs" /
            "attention_dynamic.mlir").read_text()
    compiled = {dtype: iolite.compile(text.replace("xf32>", f"x{dtype}>"),
                                      targets=TARGETS)
                for dtype in ("f32", "f16")}
    yield compiled
    for b in compiled.values():
        b.close()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("batch,sq,skv", ATTENTION_SIZES)
@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_attention_splits_per_launch(attention_bundles, dtype, batch, sq,
                                     skv, target):
    """One attention bundle at every query and key length: causal
    (bottom-right) and full GQA, each launch choosing its own split-KV."""
    import test_attention_numerics as an
    rng = np.random.default_rng(batch * 10000 + sq * 1000 + skv)
    np_type = np.float32 if dtype == "f32" else np.float16
    q = rng.standard_normal((batch, 4, sq, 16)).astype(np_type)
    k = rng.standard_normal((batch, 2, skv, 16)).astype(np_type)
    v = rng.standard_normal((batch, 2, skv, 16)).astype(np_type)
    causal, full = attention_bundles[dtype].run(q, k, v, target=target)
    rtol, atol = an.TOLERANCES[dtype]
    np.testing.assert_allclose(causal, an.reference(q, k, v, causal=True),
                               rtol=rtol, atol=atol)
    np.testing.assert_allclose(full, an.reference(q, k, v), rtol=rtol,
                               atol=atol)


def ssd_f16_case(batch, seq):
    """ssd_f16_dynamic.mlir's inputs and ssd_recurrence (no D)."""
    rng = np.random.default_rng(batch * 1000 + seq)
    f = lambda *s: rng.standard_normal(s).astype(np.float16)  # noqa: E731
    x, dt, b, c = f(batch, seq, 4, 16), f(batch, seq, 4), \
        f(batch, seq, 2, 16), f(batch, seq, 2, 16)
    a = -np.exp(rng.uniform(-1, 1, 4)).astype(np.float32)
    return [x, dt, a, b, c], ssd_recurrence(x, dt, a, b, c)


@pytest.fixture(scope="module")
def ssd_f16_bundle():
    b = iolite.compile(REPO / "test" / "python" / "Inputs" /
                       "ssd_f16_dynamic.mlir", targets=TARGETS)
    yield b
    b.close()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("batch,seq", [(1, 1), (2, 77), (1, 300)])
def test_ssd_on_the_matrix_units_at_any_length(ssd_f16_bundle, batch, seq,
                                               target):
    inputs, expected = ssd_f16_case(batch, seq)
    got = ssd_f16_bundle.run(*inputs, target=target)
    assert got.shape == (batch, seq, 4, 16) and got.dtype == np.float16
    rtol, atol = MODEL_TOLERANCES["f16"]
    np.testing.assert_allclose(got.astype(np.float64), expected, rtol=rtol,
                               atol=atol)


class CausalAttention:
    """Multi-head causal self-attention written as PyTorch code has it:
    x.view(b, s, h, d) with b and s read from x.shape, and the mask built
    at the call's length with torch.triu(torch.full((s, s), -inf), 1).
    Exported with dynamic axes, its shape arithmetic (Shape, Gather,
    Unsqueeze, Concat, Reshape) and mask (ConstantOfShape, Trilu) import
    over symbolic dims, and the attention raises as causal."""

    @staticmethod
    def module():
        import torch

        class Attn(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.q, self.k, self.v, self.o = (
                    torch.nn.Linear(32, 32, bias=False) for _ in range(4))

            def forward(self, x):
                b, s, _ = x.shape
                q, k, v = (p(x).view(b, s, 4, 8).transpose(1, 2)
                           for p in (self.q, self.k, self.v))
                sc = q @ k.transpose(-1, -2) / 8 ** 0.5
                mask = torch.triu(torch.full((s, s), float("-inf")), 1)
                a = torch.softmax(sc + mask, dim=-1) @ v
                return x + self.o(a.transpose(1, 2).reshape(b, s, 32))
        return Attn().eval()


@pytest.fixture(scope="module")
def onnx_attention(tmp_path_factory):
    import torch
    torch.manual_seed(0)
    block = CausalAttention.module()
    path = tmp_path_factory.mktemp("onnx_attn") / "attn.onnx"
    torch.onnx.export(block, (torch.randn(2, 5, 32),), str(path),
                      input_names=["x"], output_names=["y"], opset_version=17,
                      dynamic_axes={"x": {0: "batch", 1: "seq"},
                                    "y": {0: "batch", 1: "seq"}})
    b = iolite.compile(path, targets=TARGETS,
                       dims={"batch": (1, 4), "seq": (1, 64)})
    yield block, path, b
    b.close()


def test_onnx_shape_arithmetic_raises_causal_attention(onnx_attention):
    import subprocess
    _, path, _ = onnx_attention
    r = subprocess.run([str(build_dir() / "bin" / "iolite-compile"), str(path),
                        "--dim=batch=1..4,seq=1..64", "--emit=fused",
                        "--remarks"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "raised to iolite.attention (4 query heads, 4 kv heads, " \
        "scale 0.353553, causal)" in r.stderr
    assert r.stdout.count("iolite.kernel \"") == 3


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("batch,seq", [(1, 1), (3, 7), (2, 64)])
def test_onnx_attention_with_dynamic_axes_one_compile(onnx_attention, batch,
                                                      seq, target):
    import torch
    block, _, b = onnx_attention
    torch.manual_seed(seq)
    x = torch.randn(batch, seq, 32)
    with torch.no_grad():
        expected = block(x).numpy()
    got = b.run(x.numpy(), target=target)
    rtol, atol = MODEL_TOLERANCES["f32"]
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
