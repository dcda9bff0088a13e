"""A small Llama-style decoder for the generation example: its
configuration, random weights from a seed, a PyTorch reference module, and
the Iolite step function (MLIR) that serves both prefill and decode.

The step function takes `steps` new tokens of each of `batch` sequences
(symbolic dims: one compile serves the prefill of a padded batch of prompts
and every decode step), appends their keys and values to paged KV caches in
place and returns the logits of every new token:

    step(tokens i32[batch, steps], positions i32[batch, steps],
         lens i32[batch]         -- cache lengths before the step,
         lens_after i32[batch]   -- lengths after it (lens + steps),
         block_table i32[batch, PAGES_PER_SEQ],
         k_pool_0, v_pool_0, ..., k_pool_{L-1}, v_pool_{L-1}
                                 -- f32[POOL_PAGES, PAGE, KV_HEADS, HEAD_DIM])
      -> (logits f32[batch, steps, VOCAB], the updated pools...)

The updated pools are outputs tied to the pool arguments (written in
place). Rotary tables are constants indexed by `positions`.
"""

import numpy as np

import common

VOCAB = 128
DIM = 64
HEADS = 4
KV_HEADS = 2
HEAD_DIM = DIM // HEADS
FFN = 128
LAYERS = 2
EPS = 1e-5
THETA = 10000.0
# Paged KV cache: a pool of pages of PAGE tokens; a sequence owns up to
# PAGES_PER_SEQ of them (its block table row).
PAGE = 8
PAGES_PER_SEQ = 4
POOL_PAGES = 24
MAX_POSITIONS = PAGE * PAGES_PER_SEQ
MAX_BATCH = 4
MAX_STEPS = 16


def weights(seed=0):
    """Random weights (float32), as a dict of name -> array."""
    rng = np.random.default_rng(seed)

    def w(*shape, scale=None):
        scale = scale if scale is not None else shape[-1] ** -0.5
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    p = {"embed": w(VOCAB, DIM, scale=1.0),
         "final_norm": (1 + 0.1 * rng.standard_normal(DIM)).astype(np.float32),
         "lm_head": w(VOCAB, DIM)}
    for layer in range(LAYERS):
        p[f"{layer}.attn_norm"] = (
            1 + 0.1 * rng.standard_normal(DIM)).astype(np.float32)
        p[f"{layer}.wq"] = w(HEADS * HEAD_DIM, DIM)
        p[f"{layer}.wk"] = w(KV_HEADS * HEAD_DIM, DIM)
        p[f"{layer}.wv"] = w(KV_HEADS * HEAD_DIM, DIM)
        p[f"{layer}.wo"] = w(DIM, HEADS * HEAD_DIM)
        p[f"{layer}.mlp_norm"] = (
            1 + 0.1 * rng.standard_normal(DIM)).astype(np.float32)
        p[f"{layer}.w_gate"] = w(FFN, DIM)
        p[f"{layer}.w_up"] = w(FFN, DIM)
        p[f"{layer}.w_down"] = w(DIM, FFN)
    return p


def rotary_tables():
    """cos and sin of every position, [MAX_POSITIONS, HEAD_DIM] (the two
    halves repeated, as Llama's rotate_half expects), float32."""
    inv = THETA ** (-np.arange(0, HEAD_DIM, 2, dtype=np.float64) / HEAD_DIM)
    angles = np.arange(MAX_POSITIONS, dtype=np.float64)[:, None] * inv[None]
    angles = np.concatenate([angles, angles], axis=1)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


# --- PyTorch reference ---------------------------------------------------------
def reference_module(p):
    """A plain PyTorch Llama (no cache): logits of every position of one
    sequence, [T] -> [T, VOCAB]."""
    import torch

    t = {k: torch.from_numpy(v) for k, v in p.items()}
    cos_t, sin_t = (torch.from_numpy(a) for a in rotary_tables())

    def rms_norm(x, w):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + EPS) * w

    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat([-x[..., half:], x[..., :half]], dim=-1)

    class Llama(torch.nn.Module):
        def forward(self, tokens):
            n = tokens.shape[0]
            cos, sin = cos_t[:n, None, :], sin_t[:n, None, :]
            x = t["embed"][tokens]
            mask = torch.full((n, n), float("-inf")).triu(1)
            for layer in range(LAYERS):
                h = rms_norm(x, t[f"{layer}.attn_norm"])
                q = (h @ t[f"{layer}.wq"].T).view(n, HEADS, HEAD_DIM)
                k = (h @ t[f"{layer}.wk"].T).view(n, KV_HEADS, HEAD_DIM)
                v = (h @ t[f"{layer}.wv"].T).view(n, KV_HEADS, HEAD_DIM)
                q = q * cos + rotate_half(q) * sin
                k = k * cos + rotate_half(k) * sin
                group = HEADS // KV_HEADS
                k = k.repeat_interleave(group, dim=1)
                v = v.repeat_interleave(group, dim=1)
                scores = torch.einsum("qhd,khd->hqk", q, k) / HEAD_DIM ** 0.5
                probs = torch.softmax(scores + mask, dim=-1)
                o = torch.einsum("hqk,khd->qhd", probs, v).reshape(n, DIM)
                x = x + o @ t[f"{layer}.wo"].T
                h = rms_norm(x, t[f"{layer}.mlp_norm"])
                g = torch.nn.functional.silu(h @ t[f"{layer}.w_gate"].T)
                x = x + (g * (h @ t[f"{layer}.w_up"].T)) @ t[f"{layer}.w_down"].T
            return rms_norm(x, t["final_norm"]) @ t["lm_head"].T

    return Llama()


def reference_generate(p, prompts, new_tokens):
    """Greedy decoding of each prompt on its own with the reference module
    (common.reference_generate)."""
    return common.reference_generate(reference_module(p), prompts,
                                     new_tokens)


# --- The Iolite step function ----------------------------------------------------
def step_mlir(p):
    """The step function's MLIR text (weights as constants)."""
    cos, sin = rotary_tables()
    T = lambda *dims: "tensor<" + "x".join(str(d) for d in dims) + "xf32>"
    act = lambda width: f"tensor<?x?x{width}xf32>"
    pool = T(POOL_PAGES, PAGE, KV_HEADS, HEAD_DIM)
    heads = f"tensor<?x?x{HEADS}x{HEAD_DIM}xf32>"
    kv = f"tensor<?x?x{KV_HEADS}x{HEAD_DIM}xf32>"
    table = f"tensor<?x{PAGES_PER_SEQ}xi32>"
    rot = f"tensor<?x?x1x{HEAD_DIM}xf32>"
    args = [
        '%tokens: tensor<?x?xi32> {iolite.dims = ["batch", "steps"]}',
        '%positions: tensor<?x?xi32> {iolite.dims = ["batch", "steps"]}',
        '%lens: tensor<?xi32> {iolite.dims = ["batch"]}',
        '%lens_after: tensor<?xi32> {iolite.dims = ["batch"]}',
        f'%table: {table} {{iolite.dims = ["batch", ""]}}',
    ]
    for layer in range(LAYERS):
        args += [f"%k_pool{layer}: {pool}", f"%v_pool{layer}: {pool}"]
    results = [act(VOCAB)] + [pool] * (2 * LAYERS)
    lines = [
        "// Generated by examples/generate/llama.py. Do not edit.",
        "func.func @step(" + ",\n    ".join(args) + ")",
        "    -> (" + ", ".join(results) + ")",
        "    attributes {iolite.dim_bounds = {"
        f"batch = array<i64: 1, {MAX_BATCH}>, "
        f"steps = array<i64: 1, {MAX_STEPS}>}}}} {{",
    ]
    for name, value in p.items():
        lines.append(common.constant("w_" + name.replace(".", "_"), value))
    lines.append(common.constant("cos_table", cos))
    lines.append(common.constant("sin_table", sin))
    rtab = T(MAX_POSITIONS, HEAD_DIM)
    lines += [
        f"  %x0 = iolite.gather %w_embed[%tokens] {{axis = 0 : i64}}"
        f" : {T(VOCAB, DIM)}, tensor<?x?xi32>",
        f"  %cos3 = iolite.gather %cos_table[%positions] {{axis = 0 : i64}}"
        f" : {rtab}, tensor<?x?xi32>",
        f"  %sin3 = iolite.gather %sin_table[%positions] {{axis = 0 : i64}}"
        f" : {rtab}, tensor<?x?xi32>",
        f"  %cos = iolite.reshape %cos3 : {act(HEAD_DIM)} -> {rot}",
        f"  %sin = iolite.reshape %sin3 : {act(HEAD_DIM)} -> {rot}",
    ]
    x = "%x0"
    pools_out = []
    for l in range(LAYERS):
        w = lambda n: f"%w_{l}_{n}"
        q_w, kv_w = T(HEADS * HEAD_DIM, DIM), T(KV_HEADS * HEAD_DIM, DIM)
        lines += [
            f"  %h{l} = iolite.rms_norm {x} weight({w('attn_norm')} : "
            f"{T(DIM)}) {{epsilon = {EPS:e} : f32}} : {act(DIM)}",
            f"  %q{l} = iolite.matmul %h{l}, {w('wq')} {{transpose_rhs}}"
            f" : {act(DIM)}, {q_w}",
            f"  %k{l} = iolite.matmul %h{l}, {w('wk')} {{transpose_rhs}}"
            f" : {act(DIM)}, {kv_w}",
            f"  %v{l} = iolite.matmul %h{l}, {w('wv')} {{transpose_rhs}}"
            f" : {act(DIM)}, {kv_w}",
            f"  %q4_{l} = iolite.reshape %q{l} : {act(HEADS * HEAD_DIM)}"
            f" -> {heads}",
            f"  %k4_{l} = iolite.reshape %k{l} : {act(KV_HEADS * HEAD_DIM)}"
            f" -> {kv}",
            f"  %v4_{l} = iolite.reshape %v{l} : {act(KV_HEADS * HEAD_DIM)}"
            f" -> {kv}",
            f"  %qr{l} = iolite.rotary %q4_{l}, %cos, %sin : {heads}, {rot},"
            f" {rot}",
            f"  %kr{l} = iolite.rotary %k4_{l}, %cos, %sin : {kv}, {rot},"
            f" {rot}",
            f"  %c{l}:2 = iolite.kv_cache_append %k_pool{l}, %v_pool{l},"
            f" %kr{l}, %v4_{l}, %lens block_table(%table : {table})"
            f" : {pool}, {pool}, {kv}, {kv}, tensor<?xi32>",
            f"  %o{l} = iolite.cache_attention %qr{l}, %c{l}#0, %c{l}#1,"
            f" %lens_after block_table(%table : {table}) {{causal}}"
            f" : {heads}, {pool}, {pool}, tensor<?xi32>",
            f"  %o2_{l} = iolite.reshape %o{l} : {heads} -> "
            f"{act(HEADS * HEAD_DIM)}",
            f"  %a{l} = iolite.matmul %o2_{l}, {w('wo')} {{transpose_rhs}}"
            f" : {act(HEADS * HEAD_DIM)}, {T(DIM, HEADS * HEAD_DIM)}",
            f"  %x{l}a = iolite.add {x}, %a{l} : {act(DIM)}, {act(DIM)}",
            f"  %n{l} = iolite.rms_norm %x{l}a weight({w('mlp_norm')} : "
            f"{T(DIM)}) {{epsilon = {EPS:e} : f32}} : {act(DIM)}",
            f"  %g{l} = iolite.matmul %n{l}, {w('w_gate')} {{transpose_rhs}}"
            f" : {act(DIM)}, {T(FFN, DIM)}",
            f"  %u{l} = iolite.matmul %n{l}, {w('w_up')} {{transpose_rhs}}"
            f" : {act(DIM)}, {T(FFN, DIM)}",
            f"  %gs{l} = iolite.silu %g{l} : {act(FFN)}",
            f"  %gu{l} = iolite.mul %gs{l}, %u{l} : {act(FFN)}, {act(FFN)}",
            f"  %d{l} = iolite.matmul %gu{l}, {w('w_down')} {{transpose_rhs}}"
            f" : {act(FFN)}, {T(DIM, FFN)}",
            f"  %x{l + 1} = iolite.add %x{l}a, %d{l} : {act(DIM)}, {act(DIM)}",
        ]
        x = f"%x{l + 1}"
        pools_out += [f"%c{l}#0", f"%c{l}#1"]
    lines += [
        f"  %hf = iolite.rms_norm {x} weight(%w_final_norm : {T(DIM)})"
        f" {{epsilon = {EPS:e} : f32}} : {act(DIM)}",
        f"  %logits = iolite.matmul %hf, %w_lm_head {{transpose_rhs}}"
        f" : {act(DIM)}, {T(VOCAB, DIM)}",
        "  return %logits, " + ", ".join(pools_out) + " : "
        + ", ".join(results),
        "}",
    ]
    return "\n".join(lines) + "\n"
