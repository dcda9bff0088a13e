"""PyTorch modules of the three model families Iolite targets, for the
from_torch tests and docs/python.md: a Llama-style decoder block, a Mamba
block and a Mixtral-style MoE layer, plus plain-PyTorch references that do
not use iolite.torch_ops (the loops of the original implementations)."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from iolite import torch_ops


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


class LlamaBlock(nn.Module):
    """RMSNorm, rotate-half RoPE, grouped-query causal attention written out
    (matmul, additive -inf mask, softmax), SwiGLU MLP."""

    def __init__(self, d=64, heads=4, kv_heads=2, ffn=128, max_pos=64):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, d // heads
        hd = self.head_dim
        self.input_layernorm = RMSNorm(d)
        self.post_attention_layernorm = RMSNorm(d)
        self.q_proj = nn.Linear(d, heads * hd, bias=False)
        self.k_proj = nn.Linear(d, kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(d, kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(heads * hd, d, bias=False)
        self.gate_proj = nn.Linear(d, ffn, bias=False)
        self.up_proj = nn.Linear(d, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, d, bias=False)
        inv_freq = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
        freqs = torch.outer(torch.arange(max_pos).float(), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos())
        self.register_buffer("sin_cached", emb.sin())

    def repeat_kv(self, x):
        b, h, t, d = x.shape
        rep = self.heads // self.kv_heads
        x = x[:, :, None, :, :].expand(b, h, rep, t, d)
        return x.reshape(b, h * rep, t, d)

    def forward(self, x):
        b, t, c = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(h).view(b, t, self.kv_heads,
                                self.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(b, t, self.kv_heads,
                                self.head_dim).transpose(1, 2)
        cos = self.cos_cached[:t][None, None]
        sin = self.sin_cached[:t][None, None]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = self.repeat_kv(k), self.repeat_kv(v)
        att = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        att = att + torch.full((t, t), float("-inf")).triu(1)
        att = F.softmax(att, dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(b, t, c)
        x = x + self.o_proj(y)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class MambaBlock(nn.Module):
    """Mamba-1 mixer: in_proj, causal depthwise conv1d + SiLU, x_proj into
    (dt, B, C), dt_proj, the selective scan gated by SiLU(z), out_proj."""

    def __init__(self, d_model=32, d_state=8, d_conv=4, expand=2, dt_rank=4):
        super().__init__()
        d_inner = expand * d_model
        self.d_state, self.dt_rank = d_state, dt_rank
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner,
                                padding=d_conv - 1)
        self.x_proj = nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, d_inner)
        a = torch.arange(1, d_state + 1, dtype=torch.float32)
        self.A_log = nn.Parameter(torch.log(a).repeat(d_inner, 1))
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def scan(self, x, dt, A, B, C, z):
        return torch_ops.selective_scan(x, dt, A, B, C, D=self.D.float(), z=z,
                                        delta_bias=self.dt_proj.bias.float(),
                                        delta_softplus=True)

    def forward(self, hidden):
        b, length, _ = hidden.shape
        xz = self.in_proj(hidden).transpose(1, 2)  # [B, 2*D, L]
        x, z = xz.chunk(2, dim=1)
        x = F.silu(self.conv1d(x)[..., :length])
        x_dbl = self.x_proj(x.transpose(1, 2))  # [B, L, R + 2N]
        dt, B, C = torch.split(x_dbl, [self.dt_rank, self.d_state,
                                       self.d_state], dim=-1)
        dt = self.dt_proj.weight @ dt.transpose(1, 2)  # [B, D, L]
        A = -torch.exp(self.A_log.float())
        y = self.scan(x, dt, A, B.transpose(1, 2).contiguous(),
                      C.transpose(1, 2).contiguous(), z)
        return self.out_proj(y.transpose(1, 2))


class MambaBlockReference(MambaBlock):
    """The same block with the scan as the plain recurrence of the Mamba
    paper, without iolite.torch_ops."""

    def scan(self, x, dt, A, B, C, z):
        dt = F.softplus(dt + self.dt_proj.bias.view(1, -1, 1))
        h = torch.zeros(x.shape[0], x.shape[1], A.shape[1])
        ys = []
        for t in range(x.shape[2]):
            dA = torch.exp(dt[:, :, t, None] * A)
            dBu = dt[:, :, t, None] * B[:, None, :, t] * x[:, :, t, None]
            h = dA * h + dBu
            ys.append(torch.einsum("bdn,bn->bd", h, C[:, :, t]) +
                      self.D * x[:, :, t])
        return torch.stack(ys, dim=-1) * F.silu(z)


class MoELayer(nn.Module):
    """Mixtral-style sparse MoE: softmax router with top-k renormalized,
    SwiGLU experts, through the iolite MoE ops."""

    def __init__(self, d=32, ffn=64, experts=4, top_k=2):
        super().__init__()
        self.experts, self.top_k = experts, top_k
        self.gate = nn.Linear(d, experts, bias=False)
        self.w1 = nn.Parameter(torch.randn(experts, ffn, d) / math.sqrt(d))
        self.w3 = nn.Parameter(torch.randn(experts, ffn, d) / math.sqrt(d))
        self.w2 = nn.Parameter(torch.randn(experts, d, ffn) / math.sqrt(ffn))

    def forward(self, x):
        b, t, d = x.shape
        h = x.reshape(b * t, d)
        weights, ids = torch_ops.router(self.gate(h), self.top_k,
                                        renormalize=True)
        rows, row_index, offsets = torch_ops.dispatch(h, ids, self.experts)
        a = torch_ops.grouped_matmul(rows, self.w1, offsets, transpose_rhs=True)
        g = torch_ops.grouped_matmul(rows, self.w3, offsets, transpose_rhs=True)
        y = torch_ops.grouped_matmul(F.silu(a) * g, self.w2, offsets,
                                     transpose_rhs=True)
        return torch_ops.combine(y, row_index, weights).reshape(b, t, d)


def moe_reference(layer, x):
    """Mixtral's MoE forward (HF MixtralSparseMoeBlock's loop over experts)
    with `layer`'s weights, in plain PyTorch."""
    b, t, d = x.shape
    h = x.reshape(-1, d)
    probs = F.softmax(layer.gate(h), dim=-1, dtype=torch.float)
    weights, selected = torch.topk(probs, layer.top_k, dim=-1)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    out = torch.zeros_like(h)
    mask = F.one_hot(selected, num_classes=layer.experts).permute(2, 1, 0)
    for e in range(layer.experts):
        idx, top = torch.where(mask[e])
        current = h[top]
        y = (F.silu(current @ layer.w1[e].T) * (current @ layer.w3[e].T)) @ \
            layer.w2[e].T
        out.index_add_(0, top, y * weights[top, idx, None])
    return out.reshape(b, t, d)


def randomize(module, seed=0, scale=0.2):
    """Random weights (norm scales around 1) so that swapped or dropped
    weights would show."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("layernorm.weight") or name == "D":
                p.copy_(1.0 + scale * torch.randn_like(p))
            elif name != "A_log":
                p.copy_(scale * torch.randn_like(p))
    return module.eval()
