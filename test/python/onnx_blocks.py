"""Transformer blocks exported with torch.onnx.export, for the ONNX import
tests (test/Import/ONNX/torch-export.test and test_onnx_blocks.py).

A GPT-2 block (LayerNorm, fused QKV projection split three ways, causal
attention with a boolean mask buffer, tanh GELU MLP) and a Llama block
(RMSNorm, rotate-half RoPE from cos/sin buffers, grouped-query attention with
the repeat_kv expand/reshape, an additive causal mask from triu, SwiGLU),
written the way their reference implementations are, so the exported graphs
have the shape arithmetic and decomposed ops that real exports have.

    python3 onnx_blocks.py OUT_DIR   # writes gpt2_opset{14,17}.onnx, llama_...
"""

import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

# Symbolic dims of the exported graphs (dynamic_axes); --dim gives them.
BATCH, SEQ = "batch", "seq"


class GPT2Block(nn.Module):
    def __init__(self, d=64, heads=4, ctx=32):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)
        mask = torch.tril(torch.ones(ctx, ctx, dtype=torch.bool))
        self.register_buffer("bias", mask.view(1, 1, ctx, ctx))

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // self.heads))
        att = att.masked_fill(~self.bias[:, :, :t, :t], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.c_proj(y)
        h = F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")
        return x + self.mlp_proj(h)


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(d))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class LlamaBlock(nn.Module):
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
        freqs = torch.einsum("i,j->ij", torch.arange(max_pos).float(), inv_freq)
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
        k = self.k_proj(h).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        position_ids = torch.arange(t)
        cos = self.cos_cached[position_ids][None, None]
        sin = self.sin_cached[position_ids][None, None]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = self.repeat_kv(k), self.repeat_kv(v)
        att = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        att = att + torch.full((t, t), float("-inf")).triu(1)
        att = F.softmax(att.float(), dim=-1).to(q.dtype)
        y = torch.matmul(att, v).transpose(1, 2).reshape(b, t, c)
        x = x + self.o_proj(y)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


BLOCKS = {"gpt2": GPT2Block, "llama": LlamaBlock}
OPSETS = (14, 17)
D_MODEL = 64


def make_block(name, seed=0):
    """The block with every parameter random (norm scales around 1), so
    that swapped weights or biases would show."""
    torch.manual_seed(seed)
    block = BLOCKS[name]().eval()
    with torch.no_grad():
        for pname, p in block.named_parameters():
            if p.dim() == 1 and ("ln_" in pname or "layernorm" in pname):
                p.copy_(1.0 + 0.2 * torch.randn_like(p)
                        if pname.endswith("weight") else 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))
    return block


def export(block, path, opset, batch=2, seq=16):
    """Exports `block` with symbolic batch and sequence dims."""
    x = torch.randn(batch, seq, D_MODEL)
    with torch.no_grad():
        torch.onnx.export(block, (x,), path, opset_version=opset,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: BATCH, 1: SEQ},
                                        "y": {0: BATCH, 1: SEQ}})


def main(out_dir):
    import os
    import warnings

    os.makedirs(out_dir, exist_ok=True)
    warnings.simplefilter("ignore")  # the tracer's notes on shapes
    for name in BLOCKS:
        for opset in OPSETS:
            export(make_block(name), f"{out_dir}/{name}_opset{opset}.onnx", opset)


if __name__ == "__main__":
    main(sys.argv[1])
