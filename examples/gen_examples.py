#!/usr/bin/python3
"""Inputs and PyTorch reference outputs of the example models.

Each example directory holds model.mlir (written by hand in the iolite
dialect), inputs/NN_name.npy (the function's arguments in order: the
activations, then the weights) and expected/out0.npy (what the PyTorch
module below computes). The modules are written the way Hugging Face's
Llama and Mixtral and the reference Mamba implementation write them, so the
examples check the dialect against the models people run.

    /usr/bin/python3 examples/gen_examples.py        # rewrites the .npy files
    /usr/bin/python3 examples/gen_examples.py DIR    # writes them under DIR
"""

import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------
# Llama decoder block (transformers' LlamaDecoderLayer, eager attention)
# ---------------------------------------------------------------------------
class LlamaRMSNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    cos = cos.unsqueeze(0).unsqueeze(0)
    sin = sin.unsqueeze(0).unsqueeze(0)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def repeat_kv(hidden_states, n_rep):
    batch, num_key_value_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(
        batch, num_key_value_heads, n_rep, slen, head_dim)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)


class LlamaAttention(nn.Module):
    def __init__(self, hidden, heads, kv_heads):
        super().__init__()
        self.head_dim = hidden // heads
        self.num_heads, self.num_key_value_heads = heads, kv_heads
        self.num_key_value_groups = heads // kv_heads
        self.q_proj = nn.Linear(hidden, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, hidden, bias=False)

    def forward(self, hidden_states, cos, sin):
        bsz, q_len, _ = hidden_states.size()
        q = self.q_proj(hidden_states).view(bsz, q_len, self.num_heads,
                                            self.head_dim).transpose(1, 2)
        k = self.k_proj(hidden_states).view(bsz, q_len, self.num_key_value_heads,
                                            self.head_dim).transpose(1, 2)
        v = self.v_proj(hidden_states).view(bsz, q_len, self.num_key_value_heads,
                                            self.head_dim).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        k = repeat_kv(k, self.num_key_value_groups)
        v = repeat_kv(v, self.num_key_value_groups)
        attn = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        causal = torch.full((q_len, q_len), torch.finfo(attn.dtype).min).triu(1)
        attn = F.softmax(attn + causal, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(bsz, q_len, -1)
        return self.o_proj(out)


class LlamaMLP(nn.Module):
    def __init__(self, hidden, intermediate):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, intermediate, bias=False)
        self.up_proj = nn.Linear(hidden, intermediate, bias=False)
        self.down_proj = nn.Linear(intermediate, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, hidden=32, heads=4, kv_heads=2, intermediate=64):
        super().__init__()
        self.self_attn = LlamaAttention(hidden, heads, kv_heads)
        self.mlp = LlamaMLP(hidden, intermediate)
        self.input_layernorm = LlamaRMSNorm(hidden)
        self.post_attention_layernorm = LlamaRMSNorm(hidden)

    def forward(self, hidden_states, cos, sin):
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states = residual + self.self_attn(hidden_states, cos, sin)
        residual = hidden_states
        hidden_states = self.post_attention_layernorm(hidden_states)
        return residual + self.mlp(hidden_states)


def rope_cos_sin(seq_len, head_dim, base=10000.0):
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2).float() / head_dim))
    freqs = torch.outer(torch.arange(seq_len).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def llama_block():
    layer = LlamaDecoderLayer()
    x = torch.randn(1, 12, 32)
    cos, sin = rope_cos_sin(12, 8)
    y = layer(x, cos, sin)
    a, m = layer.self_attn, layer.mlp
    inputs = [("x", x), ("cos", cos), ("sin", sin),
              ("input_norm", layer.input_layernorm.weight),
              ("q_proj", a.q_proj.weight), ("k_proj", a.k_proj.weight),
              ("v_proj", a.v_proj.weight), ("o_proj", a.o_proj.weight),
              ("post_norm", layer.post_attention_layernorm.weight),
              ("gate_proj", m.gate_proj.weight), ("up_proj", m.up_proj.weight),
              ("down_proj", m.down_proj.weight)]
    return inputs, y


# ---------------------------------------------------------------------------
# Mamba block (mamba_ssm's Mamba with the reference selective scan)
# ---------------------------------------------------------------------------
def selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    delta = delta + delta_bias[..., None]
    if delta_softplus:
        delta = F.softplus(delta)
    batch, dim, dstate = u.shape[0], A.shape[0], A.shape[1]
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    x = A.new_zeros((batch, dim, dstate))
    ys = []
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", x, C[:, :, i]))
    y = torch.stack(ys, dim=2)
    out = y + u * D[:, None]
    return out * F.silu(z)


class Mamba(nn.Module):
    def __init__(self, d_model=16, d_state=8, d_conv=4, expand=2, dt_rank=2):
        super().__init__()
        self.d_inner = expand * d_model
        self.d_state, self.dt_rank = d_state, dt_rank
        self.in_proj = nn.Linear(d_model, self.d_inner * 2, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, bias=True,
                                groups=self.d_inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(self.d_inner, dt_rank + d_state * 2, bias=False)
        self.dt_proj = nn.Linear(dt_rank, self.d_inner, bias=True)
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner) + 0.1 * torch.randn(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, hidden_states):
        _, seqlen, _ = hidden_states.shape
        xz = self.in_proj(hidden_states).transpose(1, 2)   # (B, 2*ED, L)
        x, z = xz.chunk(2, dim=1)
        x = F.silu(self.conv1d(x)[..., :seqlen])
        x_dbl = self.x_proj(x.transpose(1, 2))              # (B, L, R + 2N)
        dt, B, C = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state],
                               dim=-1)
        dt = (dt @ self.dt_proj.weight.t()).transpose(1, 2)  # (B, ED, L)
        A = -torch.exp(self.A_log.float())
        y = selective_scan_ref(x, dt, A, B.transpose(1, 2), C.transpose(1, 2),
                               self.D.float(), z, self.dt_proj.bias.float(), True)
        return self.out_proj(y.transpose(1, 2))


def mamba_block():
    block = Mamba()
    x = torch.randn(1, 13, 16)
    y = block(x)
    inputs = [("x", x), ("in_proj", block.in_proj.weight),
              ("conv_weight", block.conv1d.weight[:, 0, :]),
              ("conv_bias", block.conv1d.bias), ("x_proj", block.x_proj.weight),
              ("dt_proj", block.dt_proj.weight), ("dt_bias", block.dt_proj.bias),
              ("A_log", block.A_log), ("D", block.D),
              ("out_proj", block.out_proj.weight)]
    return inputs, y


# ---------------------------------------------------------------------------
# Mixtral sparse MoE block (transformers' MixtralSparseMoeBlock)
# ---------------------------------------------------------------------------
class MixtralBlockSparseTop2MLP(nn.Module):
    def __init__(self, hidden, ffn):
        super().__init__()
        self.w1 = nn.Linear(hidden, ffn, bias=False)
        self.w2 = nn.Linear(ffn, hidden, bias=False)
        self.w3 = nn.Linear(hidden, ffn, bias=False)

    def forward(self, hidden_states):
        return self.w2(F.silu(self.w1(hidden_states)) * self.w3(hidden_states))


class MixtralSparseMoeBlock(nn.Module):
    def __init__(self, hidden=16, ffn=24, num_experts=8, top_k=2):
        super().__init__()
        self.num_experts, self.top_k = num_experts, top_k
        self.gate = nn.Linear(hidden, num_experts, bias=False)
        self.experts = nn.ModuleList(
            [MixtralBlockSparseTop2MLP(hidden, ffn) for _ in range(num_experts)])

    def forward(self, hidden_states):
        batch_size, sequence_length, hidden_dim = hidden_states.shape
        hidden_states = hidden_states.view(-1, hidden_dim)
        router_logits = self.gate(hidden_states)
        routing_weights = F.softmax(router_logits, dim=1, dtype=torch.float)
        routing_weights, selected_experts = torch.topk(routing_weights, self.top_k,
                                                       dim=-1)
        routing_weights /= routing_weights.sum(dim=-1, keepdim=True)
        final = torch.zeros((batch_size * sequence_length, hidden_dim))
        expert_mask = F.one_hot(selected_experts,
                                num_classes=self.num_experts).permute(2, 1, 0)
        for expert_idx in range(self.num_experts):
            idx, top_x = torch.where(expert_mask[expert_idx])
            current_state = hidden_states[None, top_x].reshape(-1, hidden_dim)
            current = self.experts[expert_idx](current_state) * \
                routing_weights[top_x, idx, None]
            final.index_add_(0, top_x, current)
        return final.reshape(batch_size, sequence_length, hidden_dim)


def moe_layer():
    block = MixtralSparseMoeBlock()
    x = torch.randn(2, 5, 16)
    y = block(x)
    stack = lambda name: torch.stack([getattr(e, name).weight for e in block.experts])
    inputs = [("x", x), ("gate", block.gate.weight), ("w1", stack("w1")),
              ("w3", stack("w3")), ("w2", stack("w2"))]
    return inputs, y


def write(out_dir, name, inputs, output):
    root = out_dir / name
    for sub in ("inputs", "expected"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        for old in (root / sub).glob("*.npy"):
            old.unlink()
    for i, (arg, value) in enumerate(inputs):
        np.save(root / "inputs" / f"{i:02d}_{arg}.npy",
                value.detach().numpy().astype(np.float32))
    np.save(root / "expected" / "out0.npy",
            output.detach().numpy().astype(np.float32))
    size = sum((root / "inputs").joinpath(p.name).stat().st_size
               for p in (root / "inputs").glob("*.npy"))
    print(f"{name}: {len(inputs)} inputs ({size // 1024} KiB), "
          f"output {tuple(output.shape)}")


def main():
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    torch.manual_seed(0)
    with torch.no_grad():
        write(out_dir, "llama_block", *llama_block())
        write(out_dir, "mamba_block", *mamba_block())
        write(out_dir, "moe_layer", *moe_layer())


if __name__ == "__main__":
    main()
