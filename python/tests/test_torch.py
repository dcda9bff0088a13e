"""iolite.from_torch on the three model families (Llama-style block, Mamba
block, Mixtral-style MoE layer): the imported graph compiles to a bundle
whose emulator run matches PyTorch, and so does the reference lowering on
the CPU. The iolite.torch_ops references are first checked against
plain-PyTorch formulations that do not use them."""

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import iolite  # noqa: E402
from iolite import ModelImportError, torch_ops  # noqa: E402
from iolite_testing import MODEL_TOLERANCES, assert_close  # noqa: E402
from torch_models import (LlamaBlock, MambaBlock, MambaBlockReference,  # noqa
                          MoELayer, moe_reference, randomize)

BACKENDS = ["emu", "cpu"]


def ops_of(graph):
    return [op.kind for op in graph._ops]


# ---------------------------------------------------------------------------
# The torch_ops references against independent formulations
# ---------------------------------------------------------------------------

def test_moe_torch_ops_match_mixtral_loop():
    layer = randomize(MoELayer(), seed=1)
    x = torch.randn(2, 8, 32)
    with torch.no_grad():
        assert_close(layer(x).numpy(), moe_reference(layer, x).numpy(),
                     "f32", "MoE", MODEL_TOLERANCES)


def test_mamba_torch_ops_match_plain_recurrence():
    block = randomize(MambaBlock(), seed=2)
    plain = MambaBlockReference()
    plain.load_state_dict(block.state_dict())
    x = torch.randn(2, 16, 32)
    with torch.no_grad():
        assert_close(block(x).numpy(), plain.eval()(x).numpy(), "f32",
                     "Mamba", MODEL_TOLERANCES)


def test_attention_torch_op_matches_softmax_attention():
    q, k, v = torch.randn(1, 4, 8, 16), torch.randn(1, 2, 8, 16), \
        torch.randn(1, 2, 8, 16)
    kk, vv = k.repeat_interleave(2, 1), v.repeat_interleave(2, 1)
    s = q @ kk.transpose(-1, -2) / 4.0
    s = s + torch.full((8, 8), float("-inf")).triu(1)
    expected = F.softmax(s, -1) @ vv
    got = torch_ops.attention(q, k, v, causal=True)
    assert_close(got.numpy(), expected.numpy(), "f32", "attention",
                 MODEL_TOLERANCES)


# ---------------------------------------------------------------------------
# The three families through from_torch
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def llama():
    block = randomize(LlamaBlock(), seed=3)
    x = torch.randn(2, 16, 64)
    graph = iolite.from_torch(block, x)
    return block, x, graph, iolite.compile(graph, targets=["emu-sm_90a"])


def test_llama_block_is_raised(llama):
    _, _, graph, _ = llama
    assert graph.inputs[0].type == iolite.TensorType((2, 16, 64), "f32")
    assert "softmax" in ops_of(graph)  # PyTorch wrote it out...
    raised = iolite.compile(graph, emit="raised")  # ...the driver raises it
    for op in ("iolite.attention", "iolite.rms_norm", "iolite.rotary",
               "iolite.silu"):
        assert op in raised, op
    assert "iolite.softmax" not in raised
    assert "{causal, scale = 2.500000e-01 : f32}" in raised


@pytest.mark.parametrize("backend", BACKENDS)
def test_llama_block_matches_pytorch(llama, backend):
    block, x, _, bundle = llama
    with torch.no_grad():
        expected = block(x).numpy()
    assert_close(bundle.run(x, backend=backend), expected, "f32",
                 f"Llama block on {backend}", MODEL_TOLERANCES)


@pytest.fixture(scope="module")
def mamba():
    block = randomize(MambaBlock(), seed=4)
    x = torch.randn(2, 16, 32)
    graph = iolite.from_torch(block, x)
    return block, x, graph, iolite.compile(graph, targets=["emu-gfx942"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_mamba_block_matches_pytorch(mamba, backend):
    block, x, graph, bundle = mamba
    assert {"selective_scan", "conv1d", "softplus"} & set(ops_of(graph)) \
        == {"selective_scan", "conv1d"}  # softplus is in the scan op
    with torch.no_grad():
        expected = block(x).numpy()
    assert_close(bundle.run(x, backend=backend), expected, "f32",
                 f"Mamba block on {backend}", MODEL_TOLERANCES)
    if backend == "emu":
        scans = [k for k in bundle.kernels if k["template"] ==
                 "selective_scan"]
        assert scans and scans[0]["emu"]["global_bytes_read"] > 0


@pytest.fixture(scope="module")
def moe():
    layer = randomize(MoELayer(), seed=5)
    x = torch.randn(2, 8, 32)
    graph = iolite.from_torch(layer, x)
    return layer, x, graph, iolite.compile(graph, targets=["emu-sm_90a"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_moe_layer_matches_pytorch(moe, backend):
    layer, x, graph, bundle = moe
    for op in ("router", "dispatch", "grouped_matmul", "combine"):
        assert op in ops_of(graph)
    with torch.no_grad():
        expected = moe_reference(layer, x).numpy()
    assert_close(bundle.run(x, backend=backend), expected, "f32",
                 f"MoE layer on {backend}", MODEL_TOLERANCES)


# ---------------------------------------------------------------------------
# More of the importer
# ---------------------------------------------------------------------------

class Features(nn.Module):
    """Two inputs and outputs, torch_ops.attention with every option,
    LayerNorm, tanh GELU, masked_fill with a boolean mask, an embedding,
    indexing and concatenation."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 16)
        self.norm = nn.LayerNorm(16)
        self.proj = nn.Linear(16, 16)
        self.register_buffer("slopes", torch.tensor([0.5, 0.25]))

    def forward(self, x, ids):
        b, h, s, d = x.shape
        e = self.emb(ids)  # [b, s, d]
        q = x + e[:, None]
        mask = torch.ones(s, s, dtype=torch.bool).tril()
        o = torch_ops.attention(q, x, x, mask=mask[None, None],
                                alibi_slopes=self.slopes, causal=True,
                                window=3, softcap=20.0, scale=0.3)
        y = F.gelu(self.proj(self.norm(o)), approximate="tanh")
        y = y.masked_fill(~mask[:, :d], 0.0)
        return torch.cat([y[..., :4], y[..., 4:]], -1) * 0.5, o.sum(-1)


def test_features_module_matches_pytorch():
    torch.manual_seed(6)
    module = Features().eval()
    x, ids = torch.randn(1, 2, 16, 16), torch.randint(0, 10, (1, 16))
    graph = iolite.from_torch(module, (x, ids))
    text = graph.to_mlir()
    assert ("{causal, scale = 3.000000e-01 : f32, softcap = 2.000000e+01 : "
            "f32, window = 3 : i64}") in text
    assert "iolite.gather" in text and "iolite.layer_norm" in text
    bundle = iolite.compile(graph, targets=["emu-sm_90a"])
    with torch.no_grad():
        expected = [t.numpy() for t in module(x, ids)]
    y, s = bundle.run(x, ids)
    assert_close(y, expected[0], "f32", "features", MODEL_TOLERANCES)
    assert_close(s, expected[1], "f32", "features sum", MODEL_TOLERANCES)


def test_locations_name_the_module_source():
    block = randomize(MoELayer(), seed=7)
    graph = iolite.from_torch(block, torch.randn(1, 4, 32))
    text = graph.text()
    assert 'loc("router"(' in text and "torch_models.py" in text


class DataDependent(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x


class InPlace(nn.Module):
    def forward(self, x):
        y = x * 2
        y.add_(1)
        return y


class ItemOf(nn.Module):
    def forward(self, x):
        return x * x.sum().item()


class Unsupported(nn.Module):
    def forward(self, x):
        return torch.fft.fft(x).real


@pytest.mark.parametrize("module, message", [
    (DataDependent(), "control flow depends on the values of the inputs"),
    (InPlace(), r"add_ \(add_\): unsupported by iolite.from_torch"),
    (ItemOf(), "Python value"),
    (Unsupported(), "fft"),
])
def test_import_errors(module, message):
    with pytest.raises(ModelImportError, match=message) as info:
        iolite.from_torch(module, torch.randn(4, 4))
    assert "test_torch.py:" in str(info.value)


def test_compile_a_torch_module_directly():
    module = nn.Sequential(nn.Linear(8, 8), nn.SiLU()).eval()
    x = torch.randn(3, 8)
    bundle = iolite.compile(module, targets=["emu-sm_90a"],
                            example_inputs=x)
    with torch.no_grad():
        assert_close(bundle.run(x), module(x).numpy(), "f32", "sequential",
                     MODEL_TOLERANCES)
    with pytest.raises(TypeError, match="example_inputs"):
        iolite.compile(module)
