"""Symbolic batch and sequence dims (docs/dynamic-shapes.md): the dynamic
examples (examples/*/model_dynamic.mlir: Llama, Mamba, MoE) and an ONNX
model exported with
dynamic axes, run at several sizes from one model file against the PyTorch
modules they come from, and sizes outside the bounds or inconsistent
between arguments refused with a message."""

import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from iolite_testing import MODEL_TOLERANCES, REPO, iolite_run, tool

sys.path.insert(0, str(REPO / "examples"))
import gen_examples as ex  # noqa: E402  (the examples' PyTorch modules)

LLAMA = REPO / "examples" / "llama_block" / "model_dynamic.mlir"
MOE = REPO / "examples" / "moe_layer" / "model_dynamic.mlir"
MAMBA = REPO / "examples" / "mamba_block" / "model_dynamic.mlir"
# The bound the tests compile with: small enough for the emulator, so the
# bound itself is one of the sizes run.
SEQ_BOUND = 64
# One token, a prime, 16 and 17 (a tile of the smaller kernels and one past
# it), the bound.
SIZES = [(1, 1), (1, 7), (2, 16), (3, 17), (1, SEQ_BOUND)]
BACKENDS = [("cpu", ()), ("emu", ("--target=emu-sm_90a",)),
            ("emu", ("--target=emu-gfx942",))]
BACKEND_IDS = ["cpu", "emu-sm_90a", "emu-gfx942"]


def llama_case(batch, seq):
    torch.manual_seed(batch * 1000 + seq)
    layer = ex.LlamaDecoderLayer()
    x = torch.randn(batch, seq, 32)
    cos, sin = ex.rope_cos_sin(seq, 8)
    with torch.no_grad():
        y = layer(x, cos, sin)
    a, m = layer.self_attn, layer.mlp
    inputs = [x, cos, sin, layer.input_layernorm.weight, a.q_proj.weight,
              a.k_proj.weight, a.v_proj.weight, a.o_proj.weight,
              layer.post_attention_layernorm.weight, m.gate_proj.weight,
              m.up_proj.weight, m.down_proj.weight]
    return [t.detach().numpy().astype(np.float32) for t in inputs], \
        y.numpy()


def moe_case(batch, seq):
    torch.manual_seed(batch * 1000 + seq)
    block = ex.MixtralSparseMoeBlock()
    x = torch.randn(batch, seq, 16)
    with torch.no_grad():
        y = block(x)
    stack = lambda name: torch.stack(  # noqa: E731
        [getattr(e, name).weight for e in block.experts])
    inputs = [x, block.gate.weight, stack("w1"), stack("w3"), stack("w2")]
    return [t.detach().numpy().astype(np.float32) for t in inputs], \
        y.numpy()


def mamba_case(batch, seq):
    torch.manual_seed(batch * 1000 + seq)
    block = ex.Mamba()
    x = torch.randn(batch, seq, 16)
    with torch.no_grad():
        y = block(x)
    inputs = [x, block.in_proj.weight, block.conv1d.weight[:, 0, :],
              block.conv1d.bias, block.x_proj.weight, block.dt_proj.weight,
              block.dt_proj.bias, block.A_log, block.D, block.out_proj.weight]
    return [t.detach().numpy().astype(np.float32) for t in inputs], \
        y.numpy()


def run(model, inputs, backend, extra, dims=f"seq=1..{SEQ_BOUND}"):
    return iolite_run(model, inputs, backend=backend, check=False,
                      extra_args=(f"--dim={dims}", *extra))


# Each dynamic example: its model file, the PyTorch case and its hidden size.
EXAMPLES = {"llama_block": (LLAMA, llama_case, 32),
            "moe_layer": (MOE, moe_case, 16),
            "mamba_block": (MAMBA, mamba_case, 16)}


@pytest.mark.parametrize("backend,extra", BACKENDS, ids=BACKEND_IDS)
@pytest.mark.parametrize("batch,seq", SIZES)
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_any_size(name, batch, seq, backend, extra):
    model, case, hidden = EXAMPLES[name]
    inputs, expected = case(batch, seq)
    rc, outs, out, err = run(model, inputs, backend, extra)
    assert rc == 0, out + err
    assert len(outs) == 1
    assert outs[0].shape == (batch, seq, hidden)
    rtol, atol = MODEL_TOLERANCES["f32"]
    np.testing.assert_allclose(outs[0], expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("backend,extra", BACKENDS[:2], ids=BACKEND_IDS[:2])
def test_size_past_the_bound_is_refused(backend, extra):
    inputs, _ = llama_case(1, SEQ_BOUND + 1)
    rc, outs, out, err = run(LLAMA, inputs, backend, extra)
    assert rc == 2 and not outs
    assert ("dim 'seq' = 65 (argument #0 dim 1) is outside its bounds "
            "1..64") in err


@pytest.mark.parametrize("backend,extra", BACKENDS[:2], ids=BACKEND_IDS[:2])
def test_inconsistent_dims_are_refused(backend, extra):
    inputs, _ = llama_case(2, 9)
    inputs[1] = inputs[1][:8]  # a rotary table one position short
    rc, outs, out, err = run(LLAMA, inputs, backend, extra)
    assert rc == 2 and not outs
    assert ("inconsistent dims: 'seq' is 9 in argument #0 (dim 1) but 8 in "
            "argument #1 (dim 0)") in err


def test_wrong_static_dim_is_refused():
    inputs, _ = llama_case(1, 4)
    inputs[0] = np.zeros((1, 4, 33), np.float32)
    rc, outs, out, err = run(LLAMA, inputs, "cpu", ())
    assert rc == 2 and not outs
    assert "argument #0 dim 2 is 33, expected 32" in err


class Block(torch.nn.Module):
    """A pre-norm MLP block over [batch, seq, 32], exported with dynamic
    batch and sequence axes."""

    def __init__(self):
        super().__init__()
        self.norm = torch.nn.LayerNorm(32)
        self.up = torch.nn.Linear(32, 64)
        self.down = torch.nn.Linear(64, 32)

    def forward(self, x):
        return x + self.down(torch.nn.functional.gelu(self.up(self.norm(x))))


@pytest.fixture(scope="module")
def onnx_block(tmp_path_factory):
    torch.manual_seed(0)
    block = Block().eval()
    path = tmp_path_factory.mktemp("onnx") / "block.onnx"
    torch.onnx.export(block, (torch.randn(2, 5, 32),), str(path),
                      input_names=["x"], output_names=["y"], opset_version=17,
                      dynamic_axes={"x": {0: "batch", 1: "seq"},
                                    "y": {0: "batch", 1: "seq"}})
    return block, path


def test_onnx_dynamic_axes_import_as_symbols(onnx_block):
    _, path = onnx_block
    r = subprocess.run([str(tool("iolite-import")), str(path),
                        "--dim=batch=1..8,seq=1..128"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert 'tensor<?x?x32xf32> {iolite.dims = ["batch", "seq", ""]}' \
        in r.stdout
    assert "iolite.dim_bounds = {batch = array<i64: 1, 8>, seq = " \
        "array<i64: 1, 128>}" in r.stdout


@pytest.mark.parametrize("backend,extra", BACKENDS, ids=BACKEND_IDS)
@pytest.mark.parametrize("batch,seq", [(1, 1), (3, 7), (8, 128)])
def test_onnx_dynamic_axes_any_size(onnx_block, batch, seq, backend, extra):
    block, path = onnx_block
    torch.manual_seed(seq)
    x = torch.randn(batch, seq, 32)
    with torch.no_grad():
        expected = block(x).numpy()
    rc, outs, out, err = iolite_run(
        path, [x.numpy()], backend=backend, check=False,
        extra_args=("--dim=batch=1..8,seq=1..128", *extra))
    assert rc == 0, out + err
    assert len(outs) == 1
    rtol, atol = MODEL_TOLERANCES["f32"]
    np.testing.assert_allclose(outs[0], expected, rtol=rtol, atol=atol)


def fused(model, *args):
    r = subprocess.run([str(tool("iolite-compile")), str(model),
                        "--emit=fused", *args], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def kernel_names(text):
    return re.findall(r'iolite\.kernel "([^"]+)"', text)


PINNED_BOUNDS = {"llama_block": "batch=64,seq=4096",
                 "mamba_block": "batch=16,seq=2048",
                 "moe_layer": "batch=8,seq=512"}


@pytest.mark.parametrize("name", sorted(PINNED_BOUNDS))
def test_symbolic_model_fuses_into_the_static_kernels(name):
    # Fusion works on the symbolic graph: the same kernels as the static
    # example, and a workspace planned at the bounds.
    root = REPO / "examples" / name
    dynamic = fused(root / "model_dynamic.mlir")
    static = fused(root / "model.mlir")
    assert kernel_names(dynamic) == kernel_names(static)
    assert len(kernel_names(dynamic)) >= 3
    assert "?x" in dynamic  # still symbolic
    # The plan at the bounds is the plan of the model pinned to them.
    pinned = fused(root / "model_dynamic.mlir",
                   "--dim=" + PINNED_BOUNDS[name])
    size = re.compile(r"iolite\.workspace_size = (\d+)")
    assert size.search(dynamic).group(1) == size.search(pinned).group(1)
    offsets = re.compile(r"result_offsets = array<i64: ([-\d, ]+)>")
    assert offsets.findall(dynamic) == offsets.findall(pinned)


DECOMPOSED = {"llama_block": (llama_case, 32), "mamba_block": (mamba_case, 16),
              "moe_layer": (moe_case, 16)}


@pytest.mark.parametrize("name", sorted(DECOMPOSED))
def test_decomposed_symbolic_model_raises_into_the_same_kernels(name):
    # The decomposed forms (ops as PyTorch code has them) with symbolic
    # batch and sequence raise and fuse into model_dynamic.mlir's kernels.
    root = REPO / "examples" / name
    decomposed = fused(root / "model_decomposed_dynamic.mlir")
    assert kernel_names(decomposed) == \
        kernel_names(fused(root / "model_dynamic.mlir"))
    assert "?x" in decomposed


@pytest.mark.parametrize("backend,extra", BACKENDS, ids=BACKEND_IDS)
@pytest.mark.parametrize("batch,seq", [(1, 1), (3, 17)])
@pytest.mark.parametrize("name", sorted(DECOMPOSED))
def test_decomposed_symbolic_model_runs_at_any_size(name, batch, seq,
                                                    backend, extra):
    case, hidden = DECOMPOSED[name]
    inputs, expected = case(batch, seq)
    model = REPO / "examples" / name / "model_decomposed_dynamic.mlir"
    rc, outs, out, err = run(model, inputs, backend, extra)
    assert rc == 0, out + err
    assert outs[0].shape == (batch, seq, hidden)
    rtol, atol = MODEL_TOLERANCES["f32"]
    np.testing.assert_allclose(outs[0], expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("batch,seq", [(1, 1), (2, 17)])
def test_fused_symbolic_llama_runs_at_any_size(batch, seq, tmp_path):
    # The fused symbolic graph (kernels as regions) on the cpu backend,
    # which specialises the kernels with the function.
    path = tmp_path / "fused.mlir"
    text = fused(LLAMA)
    path.write_text(text[text.index("module"):])
    inputs, expected = llama_case(batch, seq)
    rc, outs, out, err = iolite_run(path, inputs, check=False)
    assert rc == 0, out + err
    rtol, atol = MODEL_TOLERANCES["f32"]
    np.testing.assert_allclose(outs[0], expected, rtol=rtol, atol=atol)


POSITIONS = REPO / "test" / "python" / "Inputs" / "positions_dynamic.mlir"


def positions_case(batch, seq):
    x = np.random.default_rng(seq).standard_normal(
        (batch, seq, 8)).astype(np.float32)
    return [x], x + np.arange(seq, dtype=np.float32)[:, None]


@pytest.mark.parametrize("backend,extra", BACKENDS, ids=BACKEND_IDS)
@pytest.mark.parametrize("batch,seq", [(1, 1), (3, 17), (4, 64)])
def test_positions_in_a_kernel(batch, seq, backend, extra):
    # An iota that no raising absorbs runs inside an elementwise kernel
    # (cpu: the linalg lowering) at the call's length.
    [x], _ = positions_case(batch, seq)
    rc, outs, out, err = run(POSITIONS, [x], backend, extra,
                             dims="seq=1..64")
    assert rc == 0, out + err
    np.testing.assert_array_equal(outs[0], positions_case(batch, seq)[1])
