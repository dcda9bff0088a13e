"""Matmul, rotary embeddings and attention against NumPy/PyTorch float64."""

import numpy as np
import pytest
import torch

from iolite_testing import FLOAT_TYPES, Batch, round_to, tensor_type as T

rng = np.random.default_rng(4)
BATCH = Batch("transformer")


def f64(x):
    return np.asarray(x, np.float64)


# --- matmul ------------------------------------------------------------------
for dt in FLOAT_TYPES:
    a = round_to(rng.standard_normal((2, 3, 5, 7)), dt)
    b = round_to(rng.standard_normal((7, 4)), dt)
    BATCH.add(f"matmul_bcast_{dt}",
              f"%r = iolite.matmul %x0, %x1 : {T(a.shape, dt)}, {T(b.shape, dt)}",
              [(a, dt), (b, dt)], [("r", T((2, 3, 5, 4), dt))],
              [f64(a) @ f64(b)])
    a = round_to(rng.standard_normal((1, 7, 5)), dt)
    b = round_to(rng.standard_normal((3, 4, 7)), dt)
    BATCH.add(f"matmul_transposed_{dt}",
              f"%r = iolite.matmul %x0, %x1 {{transpose_lhs, transpose_rhs}} : "
              f"{T(a.shape, dt)}, {T(b.shape, dt)}",
              [(a, dt), (b, dt)], [("r", T((3, 5, 4), dt))],
              [np.swapaxes(f64(a), -1, -2) @ np.swapaxes(f64(b), -1, -2)])
# f32 accumulation: a long f16 dot product of ones stays exact.
BATCH.add("matmul_long_f16",
          f"%r = iolite.matmul %x0, %x1 {{transpose_rhs}} : "
          f"{T((1, 3000), 'f16')}, {T((2, 3000), 'f16')}",
          [(np.ones((1, 3000)), "f16"), (np.ones((2, 3000)), "f16")],
          [("r", T((1, 2), "f16"))], [np.full((1, 2), 3000.0)])
ai = rng.integers(-5, 5, (3, 4)).astype(np.int32)
bi = rng.integers(-5, 5, (4, 2)).astype(np.int32)
BATCH.add("matmul_i32", f"%r = iolite.matmul %x0, %x1 : {T(ai.shape, 'i32')}, "
          f"{T(bi.shape, 'i32')}", [(ai, "i32"), (bi, "i32")],
          [("r", T((3, 2), "i32"))], [ai @ bi])


# --- rotary ------------------------------------------------------------------
def rotary(x, cos, sin, interleaved=False):
    x = f64(x)
    r = cos.shape[-1]
    xr, rest = x[..., :r], x[..., r:]
    if interleaved:
        rot = np.empty_like(xr)
        rot[..., 0::2] = -xr[..., 1::2]
        rot[..., 1::2] = xr[..., 0::2]
    else:
        rot = np.concatenate([-xr[..., r // 2:], xr[..., :r // 2]], -1)
    return np.concatenate([xr * f64(cos) + rot * f64(sin), rest], -1)


def rope_tables(s, r, base=10000.0):
    inv = 1.0 / base ** (np.arange(0, r, 2) / r)
    ang = np.arange(s)[:, None] * inv[None, :]
    ang = np.concatenate([ang, ang], -1)
    return np.cos(ang), np.sin(ang)


for dt in FLOAT_TYPES:
    x = round_to(rng.standard_normal((1, 2, 6, 8)), dt)
    for r, interleaved in ((8, False), (4, False), (8, True)):
        cos, sin = rope_tables(6, r)
        cos, sin = round_to(cos, dt), round_to(sin, dt)
        attr = " {interleaved}" if interleaved else ""
        BATCH.add(f"rotary_r{r}_{'gptj' if interleaved else 'neox'}_{dt}",
                  f"%r = iolite.rotary %x0, %x1, %x2{attr} : {T(x.shape, dt)}, "
                  f"{T(cos.shape, dt)}, {T(sin.shape, dt)}",
                  [(x, dt), (cos, dt), (sin, dt)], [("r", T(x.shape, dt))],
                  [rotary(x, cos, sin, interleaved)])
# Per-batch tables of rank 4 (positions differ per sequence), f32 tables.
x = round_to(rng.standard_normal((2, 3, 5, 6)), "bf16")
cos = rng.standard_normal((2, 1, 5, 6)).astype(np.float32)
sin = rng.standard_normal((2, 1, 5, 6)).astype(np.float32)
BATCH.add("rotary_rank4_tables",
          f"%r = iolite.rotary %x0, %x1, %x2 : {T(x.shape, 'bf16')}, "
          f"{T(cos.shape, 'f32')}, {T(sin.shape, 'f32')}",
          [(x, "bf16"), (cos, "f32"), (sin, "f32")], [("r", T(x.shape, "bf16"))],
          [rotary(x, cos, sin)])


# --- attention ---------------------------------------------------------------
def attention(q, k, v, mask=None, slopes=None, scale=None, causal=False,
              window=None, softcap=None):
    """Materialized-softmax reference in float64; rows with no key -> 0."""
    q, k, v = f64(q), f64(k), f64(v)
    b, hq, sq, d = q.shape
    hkv, skv = k.shape[1], k.shape[2]
    g = hq // hkv
    k = np.repeat(k, g, axis=1)  # query head h reads kv head h // g
    v = np.repeat(v, g, axis=1)
    s = (q @ np.swapaxes(k, -1, -2)) * (1 / np.sqrt(d) if scale is None else scale)
    if softcap is not None:
        s = softcap * np.tanh(s / softcap)
    i = np.arange(sq)[:, None] + (skv - sq)
    j = np.arange(skv)[None, :]
    if slopes is not None:
        s = s + f64(slopes)[None, :, None, None] * (j - i)
    keep = np.ones(s.shape, bool)
    if mask is not None and mask.dtype == bool:
        keep &= np.broadcast_to(mask, s.shape)
    elif mask is not None:
        s = s + f64(mask)
    if causal:
        keep &= j <= i
    if window is not None:
        keep &= j > i - window
    s = np.where(keep, s, -np.inf)
    m = s.max(-1, keepdims=True)
    p = np.exp(s - np.where(np.isneginf(m), 0, m))
    l = p.sum(-1, keepdims=True)
    o = p @ v
    return np.where(l == 0, 0, o / np.where(l == 0, 1, l))


def add_attention(name, dt, b, hq, hkv, sq, skv, d, dv=None, mask=None,
                  slopes=None, **kw):
    dv = dv or d
    q = round_to(rng.standard_normal((b, hq, sq, d)), dt)
    k = round_to(rng.standard_normal((b, hkv, skv, d)), dt)
    v = round_to(rng.standard_normal((b, hkv, skv, dv)), dt)
    inputs = [(q, dt), (k, dt), (v, dt)]
    extra = ""
    if mask is not None:
        mdt = "i1" if mask.dtype == bool else dt
        mask = round_to(mask, mdt)
        extra += f" mask(%x{len(inputs)} : {T(mask.shape, mdt)})"
        inputs.append((mask, mdt))
    if slopes is not None:
        extra += f" alibi_slopes(%x{len(inputs)} : {T(slopes.shape, 'f32')})"
        inputs.append((slopes, "f32"))
    attrs = []
    if kw.get("causal"):
        attrs.append("causal")
    if kw.get("window") is not None:
        attrs.append(f"window = {kw['window']} : i64")
    if kw.get("scale") is not None:
        attrs.append(f"scale = {kw['scale']} : f32")
    if kw.get("softcap") is not None:
        attrs.append(f"softcap = {kw['softcap']} : f32")
    attr = f" {{{', '.join(attrs)}}}" if attrs else ""
    out = (b, hq, sq, dv)
    BATCH.add(f"attention_{name}_{dt}",
              f"%r = iolite.attention %x0, %x1, %x2{extra}{attr} : "
              f"{T(q.shape, dt)}, {T(k.shape, dt)}, {T(v.shape, dt)}",
              inputs, [("r", T(out, dt))],
              [attention(q, k, v, mask=mask, slopes=slopes, **kw)])


for dt in FLOAT_TYPES:
    add_attention("mha", dt, 2, 2, 2, 5, 5, 8)
    add_attention("causal", dt, 1, 2, 2, 7, 7, 8, causal=True)
    add_attention("gqa_causal", dt, 1, 6, 2, 9, 9, 8, causal=True)
    add_attention("mqa", dt, 2, 4, 1, 3, 6, 4)
    # Decode with a KV cache: one query at the last position.
    add_attention("decode", dt, 2, 4, 2, 1, 13, 8, causal=True)
add_attention("prefill_with_cache", "f32", 1, 4, 2, 5, 11, 8, causal=True)
add_attention("sliding_window", "f32", 1, 2, 1, 9, 9, 4, causal=True, window=3)
add_attention("sliding_window_cache", "f16", 1, 2, 2, 4, 10, 4, causal=True,
              window=5)
add_attention("alibi", "f16", 1, 4, 2, 6, 6, 8, causal=True,
              slopes=2.0 ** -np.arange(1, 5, dtype=np.float32))
add_attention("softcap", "f32", 1, 2, 2, 5, 5, 8, scale=0.9, softcap=2.5)
add_attention("softcap_bf16", "bf16", 1, 2, 1, 5, 7, 8, causal=True,
              softcap=5.0)
# Lengths that divide no tile size; value dim differs from the head dim.
add_attention("odd_lengths", "f32", 1, 3, 1, 13, 37, 24, dv=16, causal=True)
add_attention("odd_lengths", "f16", 1, 2, 2, 13, 37, 24, dv=16)
# Causal with Sq > Skv: the first queries precede every key -> zeros.
add_attention("queries_before_keys", "f32", 1, 2, 2, 5, 3, 4, causal=True)

# Boolean masks, broadcast over heads; the last query row is fully masked.
bmask = rng.random((2, 1, 4, 6)) > 0.3
bmask[:, :, -1, :] = False
for dt in ("f32", "bf16"):
    add_attention("bool_mask_fully_masked_row", dt, 2, 4, 2, 4, 6, 8,
                  mask=bmask)
# A per-head boolean mask with GQA checks the head split [Hkv, G].
hmask = rng.random((1, 6, 5, 5)) > 0.4
add_attention("bool_mask_per_head_gqa", "f32", 1, 6, 3, 5, 5, 4, mask=hmask,
              causal=True)
# Additive masks: -inf entries exclude keys; a row of -inf gives zeros.
amask = np.where(rng.random((5, 7)) > 0.3, 0.0, -np.inf).astype(np.float32)
amask[2, :] = -np.inf
for dt in ("f32", "f16"):
    add_attention("additive_mask", dt, 1, 2, 1, 5, 7, 8, mask=amask)
bias = (rng.standard_normal((1, 4, 3, 5)) * 2).astype(np.float32)
add_attention("additive_bias_per_head_gqa", "f32", 2, 4, 2, 3, 5, 8, mask=bias)


# iolite.kernel regions (what the fusion pass forms) run by inlining.
x = round_to(rng.standard_normal((4, 16)), "f16")
g = round_to(rng.standard_normal(16), "f16")
w = round_to(rng.standard_normal((16, 8)), "f16")
normed = x / np.sqrt((f64(x) ** 2).mean(-1, keepdims=True) + 1e-5) * g
BATCH.add("kernel_region", f"""
%k:2 = iolite.kernel "k0" (%x0, %x1, %x2)
    : ({T(x.shape, 'f16')}, {T(g.shape, 'f16')}, {T(w.shape, 'f16')})
    -> ({T(x.shape, 'f16')}, {T((4, 8), 'f16')}) {{
^bb0(%a: {T(x.shape, 'f16')}, %b: {T(g.shape, 'f16')}, %c: {T(w.shape, 'f16')}):
  %n = iolite.rms_norm %a weight(%b : {T(g.shape, 'f16')}) : {T(x.shape, 'f16')}
  %m = iolite.matmul %n, %c : {T(x.shape, 'f16')}, {T(w.shape, 'f16')}
  iolite.yield %n, %m : {T(x.shape, 'f16')}, {T((4, 8), 'f16')}
}}
%n2 = iolite.add %k#0, %k#0 : {T(x.shape, 'f16')}, {T(x.shape, 'f16')}""",
          [(x, "f16"), (g, "f16"), (w, "f16")],
          [("n2", T(x.shape, "f16")), ("k#1", T((4, 8), "f16"))],
          [2 * normed, round_to(normed, "f16") @ f64(w)])


@pytest.mark.parametrize("case", BATCH.names())
def test_transformer(case):
    BATCH.check(case)
