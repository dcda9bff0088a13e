"""Benchmark graphs, written as a model author would write them.

Each function returns (name, MLIR text) of one func.func in the iolite
dialect. The graphs are the *decomposed* forms (attention as matmul /
scale / mask / softmax / matmul; a selective scan with its softplus
prologue, D skip and SiLU(z) gate as separate ops; ...), so that the
compiler's raising and fusion decide what becomes one kernel, and the same
text compiled with --no-fusion (or without raising) is the baseline.
"""

import numpy as np

MLIR_TYPE = {"f32": "f32", "f16": "f16", "bf16": "bf16"}
ELEM_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "i32": 4, "i64": 8, "i1": 1}
# -inf in each type, as MLIR hex literals.
NEG_INF = {"f32": "0xFF800000", "f16": "0xFC00", "bf16": "0xFF80"}


def t(shape, dtype):
    return "tensor<" + "x".join(str(d) for d in shape) + \
        ("x" if shape else "") + dtype + ">"


def attention(b, hq, hkv, n, d, causal, dtype="f16"):
    """softmax(Q K^T / sqrt(d) [masked causal]) V in [B, H, S, D] layout;
    GQA as Llama's repeat_kv (reshape, broadcast, reshape of K and V)."""
    g = hq // hkv
    qt, kt = t([b, hq, n, d], dtype), t([b, hkv, n, d], dtype)
    st = t([b, hq, n, n], dtype)
    lines = [f"func.func @attention(%q: {qt}, %k: {kt}, %v: {kt}) -> {qt} {{"]
    kk, vv = "%k", "%v"
    if g > 1:
        for x in ("k", "v"):
            t5 = t([b, hkv, 1, n, d], dtype)
            tb = t([b, hkv, g, n, d], dtype)
            lines += [
                f"  %{x}1 = iolite.reshape %{x} : {kt} -> {t5}",
                f"  %{x}2 = iolite.broadcast %{x}1 : {t5} -> {tb}",
                f"  %{x}3 = iolite.reshape %{x}2 : {tb} -> {qt}"]
        kk, vv = "%k3", "%v3"
    scale = 1.0 / np.sqrt(d)
    lines += [
        f"  %s = iolite.matmul %q, {kk} {{transpose_rhs}} : {qt}, {qt}",
        f"  %c = iolite.constant dense<{scale!r}> : {t([], dtype)}",
        f"  %ss = iolite.mul %s, %c : {st}, {t([], dtype)}"]
    score = "%ss"
    if causal:
        iv = ", ".join(f"[{i}]" for i in range(n))
        jv = ", ".join(str(i) for i in range(n))
        lines += [
            f"  %i = iolite.constant dense<[{iv}]> : {t([n, 1], 'i32')}",
            f"  %j = iolite.constant dense<[[{jv}]]> : {t([1, n], 'i32')}",
            f"  %m = iolite.compare ge %i, %j : {t([n, 1], 'i32')}, "
            f"{t([1, n], 'i32')}",
            f"  %ninf = iolite.constant dense<{NEG_INF[dtype]}> : "
            f"{t([], dtype)}",
            f"  %w = iolite.select %m, %ss, %ninf : {t([n, n], 'i1')}, {st}, "
            f"{t([], dtype)}"]
        score = "%w"
    lines += [
        f"  %p = iolite.softmax {score} {{axis = -1 : i64}} : {st}",
        f"  %o = iolite.matmul %p, {vv} : {st}, {qt}",
        f"  return %o : {qt}", "}"]
    return "attention", "\n".join(lines) + "\n"


def attention_op(b, hq, hkv, n, d, causal, dtype="f16"):
    """The same attention as the op a frontend that knows it emits
    (the Python builder, or a graph raising has already seen)."""
    qt, kt = t([b, hq, n, d], dtype), t([b, hkv, n, d], dtype)
    attr = " {causal}" if causal else ""
    return "attention", (
        f"func.func @attention(%q: {qt}, %k: {kt}, %v: {kt}) -> {qt} {{\n"
        f"  %o = iolite.attention %q, %k, %v{attr} : {qt}, {kt}, {kt}\n"
        f"  return %o : {qt}\n}}\n")


def selective_scan(b, channels, length, state, dtype="bf16"):
    """Mamba-1's scan as a model writes it: softplus(delta + bias) as the
    step size, the scan, the D skip and the SiLU(z) gate as separate ops.
    Sequence tensors in `dtype`, A/D/bias in f32 (as Mamba keeps them)."""
    x = t([b, channels, length], dtype)
    xf = t([b, channels, length], "f32")
    bc = t([b, state, length], dtype)
    a = t([channels, state], "f32")
    p = t([channels, 1], "f32")
    lines = [
        f"func.func @selective_scan(%u: {x}, %delta: {x}, %A: {a}, "
        f"%B: {bc}, %C: {bc}, %D: {p}, %z: {x}, %bias: {p}) -> {x} {{",
        f"  %d32 = iolite.cast %delta : {x} to {xf}",
        f"  %db = iolite.add %d32, %bias : {xf}, {p}",
        f"  %dt32 = iolite.softplus %db : {xf}",
        f"  %dt = iolite.cast %dt32 : {xf} to {x}",
        f"  %y = iolite.selective_scan %u, %dt, %A, %B, %C : {x}, {x}, {a}, "
        f"{bc}, {bc}",
        f"  %u32 = iolite.cast %u : {x} to {xf}",
        f"  %du = iolite.mul %u32, %D : {xf}, {p}",
        f"  %y32 = iolite.cast %y : {x} to {xf}",
        f"  %ys = iolite.add %y32, %du : {xf}, {xf}",
        f"  %z32 = iolite.cast %z : {x} to {xf}",
        f"  %gz = iolite.silu %z32 : {xf}",
        f"  %o32 = iolite.mul %ys, %gz : {xf}, {xf}",
        f"  %o = iolite.cast %o32 : {xf} to {x}",
        f"  return %o : {x}", "}"]
    return "selective_scan", "\n".join(lines) + "\n"


def selective_scan_op(b, channels, length, state, dtype="bf16"):
    """The same computation with the scan op's own operands and attributes
    (D, z, delta_bias, delta_softplus): what the op's IO lower bound is
    defined on."""
    x = t([b, channels, length], dtype)
    bc = t([b, state, length], dtype)
    a = t([channels, state], "f32")
    p = t([channels], "f32")
    lines = [
        f"func.func @selective_scan(%u: {x}, %delta: {x}, %A: {a}, "
        f"%B: {bc}, %C: {bc}, %D: {p}, %z: {x}, %bias: {p}) -> {x} {{",
        f"  %y = iolite.selective_scan %u, %delta, %A, %B, %C D(%D : {p}) "
        f"z(%z : {x}) delta_bias(%bias : {p}) {{delta_softplus}} : {x}, {x}, "
        f"{a}, {bc}, {bc}",
        f"  return %y : {x}", "}"]
    return "selective_scan", "\n".join(lines) + "\n"


def ssd_op(b, length, heads, head_dim, groups, state, chunk=256,
           dtype="bf16"):
    """Mamba-2's SSD with D and dt_bias operands and dt_softplus."""
    x = t([b, length, heads, head_dim], dtype)
    dt = t([b, length, heads], dtype)
    bc = t([b, length, groups, state], dtype)
    p = t([heads], "f32")
    lines = [
        f"func.func @ssd(%x: {x}, %dt: {dt}, %A: {p}, %B: {bc}, %C: {bc}, "
        f"%D: {p}, %bias: {p}) -> {x} {{",
        f"  %y = iolite.ssd %x, %dt, %A, %B, %C D(%D : {p}) dt_bias(%bias : "
        f"{p}) {{chunk_size = {chunk} : i64, dt_softplus}} : {x}, {dt}, {p}, "
        f"{bc}, {bc}",
        f"  return %y : {x}", "}"]
    return "ssd", "\n".join(lines) + "\n"


def ssd(b, length, heads, head_dim, groups, state, chunk=256, dtype="bf16"):
    """Mamba-2's SSD as a model writes it: softplus(dt + bias), the SSD op,
    the D skip and the SiLU(z) gate as separate ops."""
    x = t([b, length, heads, head_dim], dtype)
    xf = t([b, length, heads, head_dim], "f32")
    dt = t([b, length, heads], dtype)
    dtf = t([b, length, heads], "f32")
    bc = t([b, length, groups, state], dtype)
    p = t([heads], "f32")
    pd = t([heads, 1], "f32")
    lines = [
        f"func.func @ssd(%x: {x}, %dt: {dt}, %A: {p}, %B: {bc}, %C: {bc}, "
        f"%D: {pd}, %bias: {p}, %z: {x}) -> {x} {{",
        f"  %dt32 = iolite.cast %dt : {dt} to {dtf}",
        f"  %db = iolite.add %dt32, %bias : {dtf}, {p}",
        f"  %sp = iolite.softplus %db : {dtf}",
        f"  %dts = iolite.cast %sp : {dtf} to {dt}",
        f"  %y = iolite.ssd %x, %dts, %A, %B, %C {{chunk_size = {chunk} : "
        f"i64}} : {x}, {dt}, {p}, {bc}, {bc}",
        f"  %x32 = iolite.cast %x : {x} to {xf}",
        f"  %dx = iolite.mul %x32, %D : {xf}, {pd}",
        f"  %y32 = iolite.cast %y : {x} to {xf}",
        f"  %ys = iolite.add %y32, %dx : {xf}, {xf}",
        f"  %z32 = iolite.cast %z : {x} to {xf}",
        f"  %gz = iolite.silu %z32 : {xf}",
        f"  %o32 = iolite.mul %ys, %gz : {xf}, {xf}",
        f"  %o = iolite.cast %o32 : {xf} to {x}",
        f"  return %o : {x}", "}"]
    return "ssd", "\n".join(lines) + "\n"


def moe(tokens, hidden, ffn, experts, top_k, dtype="f16"):
    """A Mixtral-style MoE layer: router matmul, softmax top-k with
    renormalised weights, dispatch, SwiGLU experts as grouped GEMMs, and
    the weighted combine."""
    r = tokens * top_k
    x = t([tokens, hidden], dtype)
    wr = t([hidden, experts], dtype)
    w1 = t([experts, hidden, ffn], dtype)
    w2 = t([experts, ffn, hidden], dtype)
    lg = t([tokens, experts], dtype)
    ids = t([tokens, top_k], "i32")
    wt = t([tokens, top_k], dtype)
    xs = t([r, hidden], dtype)
    h = t([r, ffn], dtype)
    off = t([experts + 1], "i32")
    rows = t([r], "i32")
    lines = [
        f"func.func @moe(%x: {x}, %wr: {wr}, %wg: {w1}, %wu: {w1}, "
        f"%wd: {w2}) -> {x} {{",
        f"  %logits = iolite.matmul %x, %wr : {x}, {wr}",
        f"  %w, %ids = iolite.router %logits {{k = {top_k} : i64, "
        f"renormalize}} : {lg}",
        f"  %xs, %rows, %offs = iolite.dispatch %x, %ids {{num_experts = "
        f"{experts} : i64}} : {x}, {ids}",
        f"  %g = iolite.grouped_matmul %xs, %wg, %offs : {xs}, {w1}, {off}",
        f"  %u = iolite.grouped_matmul %xs, %wu, %offs : {xs}, {w1}, {off}",
        f"  %a = iolite.silu %g : {h}",
        f"  %hu = iolite.mul %a, %u : {h}, {h}",
        f"  %y = iolite.grouped_matmul %hu, %wd, %offs : {h}, {w2}, {off}",
        f"  %o = iolite.combine %y, %rows, %w : {xs}, {rows}, {wt}",
        f"  return %o : {x}", "}"]
    return "moe", "\n".join(lines) + "\n"


def matmul(m, n, k, dtype="f16"):
    """C = A B, the GPU harness's second comparison (torch.matmul)."""
    a, b, c = t([m, k], dtype), t([k, n], dtype), t([m, n], dtype)
    return "matmul", (f"func.func @matmul(%a: {a}, %b: {b}) -> {c} {{\n"
                      f"  %c = iolite.matmul %a, %b : {a}, {b}\n"
                      f"  return %c : {c}\n}}\n")
