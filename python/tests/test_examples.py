"""from_torch on the PyTorch modules of examples/ (examples/gen_examples.py:
Hugging Face's LlamaDecoderLayer and MixtralSparseMoeBlock, mamba_ssm's Mamba
with its reference scan), with the examples' weights and inputs, against
the outputs PyTorch wrote to examples/*/expected. Where a module is a
Python loop that no graph can hold (the scan over time, Mixtral's
data-dependent loop over experts), the test swaps in iolite.torch_ops, as a
user would; the expected outputs still come from the original loops."""

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import iolite  # noqa: E402
from iolite import ModelImportError, torch_ops  # noqa: E402
from iolite_testing import MODEL_TOLERANCES, assert_close  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))
import gen_examples as ex  # noqa: E402


def example(name):
    """({argument name: tensor}, expected output) of examples/NAME."""
    inputs = {p.stem.split("_", 1)[1]: torch.from_numpy(np.load(p))
              for p in sorted((EXAMPLES / name / "inputs").glob("*.npy"))}
    return inputs, np.load(EXAMPLES / name / "expected" / "out0.npy")


def assign(parameter, value):
    with torch.no_grad():
        parameter.copy_(value.reshape(parameter.shape))


def run(module, inputs, target):
    graph = iolite.from_torch(module, inputs)
    bundle = iolite.compile(graph, targets=[target])
    return graph, bundle, bundle.run(*inputs)


def test_llama_decoder_layer():
    w, expected = example("llama_block")
    layer = ex.LlamaDecoderLayer().eval()
    a, m = layer.self_attn, layer.mlp
    for p, key in [(layer.input_layernorm.weight, "input_norm"),
                   (a.q_proj.weight, "q_proj"), (a.k_proj.weight, "k_proj"),
                   (a.v_proj.weight, "v_proj"), (a.o_proj.weight, "o_proj"),
                   (layer.post_attention_layernorm.weight, "post_norm"),
                   (m.gate_proj.weight, "gate_proj"),
                   (m.up_proj.weight, "up_proj"),
                   (m.down_proj.weight, "down_proj")]:
        assign(p, w[key])
    graph, bundle, out = run(layer, (w["x"], w["cos"], w["sin"]),
                             "emu-sm_90a")
    assert_close(out, expected, "f32", "Llama decoder layer",
                 MODEL_TOLERANCES)
    # HF's additive finfo.min mask and f32 softmax are raised to one causal
    # attention.
    assert "iolite.attention" in iolite.compile(graph, emit="raised")


def test_mamba_with_torch_ops_scan(monkeypatch):
    w, expected = example("mamba_block")
    block = ex.Mamba().eval()
    for p, key in [(block.in_proj.weight, "in_proj"),
                   (block.conv1d.weight, "conv_weight"),
                   (block.conv1d.bias, "conv_bias"),
                   (block.x_proj.weight, "x_proj"),
                   (block.dt_proj.weight, "dt_proj"),
                   (block.dt_proj.bias, "dt_bias"), (block.A_log, "A_log"),
                   (block.D, "D"), (block.out_proj.weight, "out_proj")]:
        assign(p, w[key])
    # The reference scan is a loop over time: it unrolls into einsums.
    with pytest.raises(ModelImportError, match="einsum"):
        iolite.from_torch(block, w["x"])

    def scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
        return torch_ops.selective_scan(u, delta, A, B, C, D=D, z=z,
                                        delta_bias=delta_bias,
                                        delta_softplus=delta_softplus)
    monkeypatch.setattr(ex, "selective_scan_ref", scan)
    graph, bundle, out = run(block, (w["x"],), "emu-gfx942")
    assert "selective_scan" in [op.kind for op in graph._ops]
    assert_close(out, expected, "f32", "Mamba block", MODEL_TOLERANCES)


class MixtralWithTorchOps(ex.MixtralSparseMoeBlock):
    """MixtralSparseMoeBlock's forward with its expert loop expressed by the
    iolite MoE ops (the experts' weights stacked [E, out, in])."""

    def forward(self, hidden_states):
        b, s, d = hidden_states.shape
        h = hidden_states.view(-1, d)
        weights, ids = torch_ops.router(self.gate(h), self.top_k,
                                        renormalize=True)
        rows, row_index, offsets = torch_ops.dispatch(h, ids,
                                                      self.num_experts)

        def stacked(name):
            return torch.stack([getattr(e, name).weight
                                for e in self.experts])
        g = torch_ops.grouped_matmul(rows, stacked("w1"), offsets,
                                     transpose_rhs=True)
        u = torch_ops.grouped_matmul(rows, stacked("w3"), offsets,
                                     transpose_rhs=True)
        y = torch_ops.grouped_matmul(F.silu(g) * u, stacked("w2"), offsets,
                                     transpose_rhs=True)
        return torch_ops.combine(y, row_index, weights).view(b, s, d)


def test_mixtral_moe_with_torch_ops():
    w, expected = example("moe_layer")
    original = ex.MixtralSparseMoeBlock().eval()
    assign(original.gate.weight, w["gate"])
    for e, expert in enumerate(original.experts):
        for name in ("w1", "w2", "w3"):
            assign(getattr(expert, name).weight, w[name][e])
    # The loop over experts depends on the routing: no fixed graph.
    with pytest.raises(ModelImportError, match="one_hot"):
        iolite.from_torch(original, w["x"])
    moe = MixtralWithTorchOps().eval()
    moe.load_state_dict(original.state_dict())
    graph, bundle, out = run(moe, (w["x"],), "emu-sm_90a")
    assert_close(out, expected, "f32", "Mixtral MoE", MODEL_TOLERANCES)
    assert_close(bundle.run(w["x"], backend="cpu"), expected, "f32",
                 "Mixtral MoE on the CPU", MODEL_TOLERANCES)
