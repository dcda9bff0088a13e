"""The generic kernel templates on the emulator against the CPU reference.

Each case is one explicit iolite.kernel (so the template under test is the
one codegen picks for that kernel shape, checked against the compile
table): tiled matmuls (batched, broadcast batch, transposes, ragged sizes,
bias/activation/residual epilogues), matmuls after an rms_norm/layer_norm
prologue, several matmuls sharing the normalised LHS (SwiGLU, QKV with
narrower K/V), row reductions (softmax, norms and reductions, one row per
warp and one row per block, rows whose length allows no vector runs),
elementwise chains with broadcasting, casts and a scalar tail, and the
one-thread-per-element fallback of the ops without a template of their own
(cumsum, top-k, gather, concat, rotary). The cases form models, compiled through the compiler C API for emu-sm_90a and
emu-gfx942 (32- and 64-lane warps, different tiles) and run on both
emulated chips; the emulator bounds-checks every access, so ragged shapes
also prove the kernels' guards. Every output is compared with the CPU
reference path (iolite-run --backend=cpu on the same model) and with a
float64 NumPy implementation of the ops on the same rounded inputs, with the
tolerances of iolite_testing.py: one op's for single ops, a chain's for the
matmuls and fused kernels. A model of the same heavy-op families at small
sizes is compiled with --force-elemental and checked the same way: the
element emitter's loops for every heavy op are the fallback of any kernel
no template matches.
"""

import ctypes
import subprocess

import numpy as np
import pytest

from iolite_testing import (MODEL_TOLERANCES, TOLERANCES, assert_close,
                            build_dir, iolite_run, round_to, tensor_type,
                            to_npy, tool)

CHIPS = ["emu-sm_90a", "emu-gfx942"]
NPY_TYPES = {"f32": np.float32, "f16": np.float16, "i64": np.int64}


def ttype(shape, dtype):
    return tensor_type(shape, dtype)


def decode(raw, dtype, shape):
    """An output tensor of the C API as the .npy encoding of `dtype`."""
    return np.frombuffer(raw, NPY_TYPES[dtype]).reshape(shape)


# ---------------------------------------------------------------------------
# NumPy semantics of the ops (IoliteOps.td)
# ---------------------------------------------------------------------------
def silu(x):
    return x / (1 + np.exp(-x))


def gelu(x):
    from math import erf
    return 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2)))


def rms_norm(x, w=None, eps=1e-5):
    y = x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)
    return y * w if w is not None else y


def layer_norm(x, w=None, b=None, axis=-1, eps=1e-5):
    axes = tuple(range(axis % x.ndim, x.ndim))
    m = x.mean(axes, keepdims=True)
    v = ((x - m) ** 2).mean(axes, keepdims=True)
    y = (x - m) / np.sqrt(v + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def rotate_half(x, cos, sin):
    h = cos.shape[-1] // 2
    r = x[..., :2 * h]
    rot = np.concatenate([-r[..., h:], r[..., :h]], -1)
    out = x.copy()
    out[..., :2 * h] = r * cos + rot * sin
    return out


# ---------------------------------------------------------------------------
# A model of many kernels
# ---------------------------------------------------------------------------
class Model:
    def __init__(self, name, seed):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.args, self.inputs, self.body = [], [], []
        self.results, self.cases = [], []

    def data(self, shape, dtype, scale=1.0, offset=0.0):
        """Random values rounded to `dtype`, as float64 for the reference."""
        x = self.rng.standard_normal(shape) * scale + offset
        return round_to(x, dtype).astype(np.float64)

    def arg(self, values, dtype):
        name = f"%a{len(self.args)}"
        self.args.append(f"{name}: {ttype(values.shape, dtype)}")
        self.inputs.append((np.ascontiguousarray(to_npy(values, dtype)),
                            dtype))
        return name, ttype(values.shape, dtype)

    def kernel(self, case, template, operands, body, outputs, expected,
               chain=True):
        """operands: [(array, dtype)], read in `body` as %i0, %i1, ...;
        outputs: [(ssa name in body, shape, dtype)]; expected: the NumPy
        reference of each output; chain: compare with a chain's tolerance
        (False: one op's)."""
        n = len(self.cases)
        args = [self.arg(v, d) for v, d in operands]
        block = ", ".join(f"%i{k}: {t}" for k, (_, t) in enumerate(args))
        rtypes = [ttype(s, d) for _, s, d in outputs]
        res = f"%k{n}" + (f":{len(outputs)}" if len(outputs) > 1 else "")
        self.body.append(
            f'{res} = iolite.kernel "{case}" ({", ".join(a for a, _ in args)})'
            f' : ({", ".join(t for _, t in args)}) -> '
            f'({", ".join(rtypes)}) {{\n  ^bb0({block}):\n    '
            + "\n    ".join(body.strip().splitlines()) +
            f'\n    iolite.yield {", ".join(o for o, _, _ in outputs)} : '
            f'{", ".join(rtypes)}\n  }}')
        for i, ((_, shape, dtype), ref) in enumerate(zip(outputs, expected)):
            ssa = f"%k{n}" + (f"#{i}" if len(outputs) > 1 else "")
            self.results.append((ssa, shape, dtype, np.asarray(ref), case,
                                 MODEL_TOLERANCES if chain else TOLERANCES))
        self.cases.append((case, template))

    def source(self):
        rtypes = ", ".join(ttype(r[1], r[2]) for r in self.results)
        rets = ", ".join(r[0] for r in self.results)
        body = "\n  ".join(self.body)
        return (f"func.func @{self.name}({', '.join(self.args)}) -> "
                f"({rtypes}) {{\n  {body}\n  return {rets} : {rtypes}\n}}\n")


def matmul_cases(m):
    d = "f32"
    # Ragged M, N and K: every dim overhangs its tile.
    a, b = m.data((37, 29), d), m.data((29, 45), d)
    m.kernel("mm_ragged", "matmul", [(a, d), (b, d)],
             "%m = iolite.matmul %i0, %i1 : tensor<37x29xf32>, "
             "tensor<29x45xf32>", [("%m", (37, 45), d)], [a @ b])
    # Batched, the RHS broadcast over the leading batch dim.
    a, b = m.data((2, 3, 20, 24), d), m.data((3, 24, 40), d)
    m.kernel("mm_batched", "matmul", [(a, d), (b, d)],
             "%m = iolite.matmul %i0, %i1 : tensor<2x3x20x24xf32>, "
             "tensor<3x24x40xf32>", [("%m", (2, 3, 20, 40), d)], [a @ b])
    # Both operands transposed (A is [K, M], B is [N, K]).
    a, b = m.data((33, 50), d), m.data((70, 33), d)
    m.kernel("mm_transposed", "matmul", [(a, d), (b, d)],
             "%m = iolite.matmul %i0, %i1 {transpose_lhs, transpose_rhs} : "
             "tensor<33x50xf32>, tensor<70x33xf32>",
             [("%m", (50, 70), d)], [a.T @ b.T])
    # Bias, activation and residual epilogues; two outputs.
    x, w = m.data((64, 96), d), m.data((96, 80), d, 0.2)
    bias, res = m.data((80,), d), m.data((64, 80), d)
    y = gelu(x @ w + bias)
    m.kernel("mm_epilogue", "matmul",
             [(x, d), (w, d), (bias, d), (res, d)], """
%m = iolite.matmul %i0, %i1 : tensor<64x96xf32>, tensor<96x80xf32>
%b = iolite.add %m, %i2 : tensor<64x80xf32>, tensor<80xf32>
%g = iolite.gelu %b : tensor<64x80xf32>
%r = iolite.add %g, %i3 : tensor<64x80xf32>, tensor<64x80xf32>
""", [("%r", (64, 80), d), ("%g", (64, 80), d)], [y + res, y])
    # rms_norm prologue with its weight; M ragged.
    x, g, w = m.data((70, 128), d), m.data((128,), d, 0.1, 1.0), m.data(
        (128, 96), d, 0.1)
    m.kernel("mm_rms_prologue", "matmul", [(x, d), (g, d), (w, d)], """
%n = iolite.rms_norm %i0 weight(%i1 : tensor<128xf32>) : tensor<70x128xf32>
%m = iolite.matmul %n, %i2 : tensor<70x128xf32>, tensor<128x96xf32>
""", [("%m", (70, 96), d)], [rms_norm(x, g) @ w])
    # Residual add feeding a layer_norm (weight, bias, rows with a large
    # mean) before a matmul with a transposed RHS.
    x, r = m.data((40, 64), d, 1.0, 30.0), m.data((40, 64), d)
    g, bb, w = m.data((64,), d), m.data((64,), d), m.data((48, 64), d, 0.2)
    m.kernel("mm_ln_prologue", "matmul",
             [(x, d), (r, d), (g, d), (bb, d), (w, d)], """
%s = iolite.add %i0, %i1 : tensor<40x64xf32>, tensor<40x64xf32>
%n = iolite.layer_norm %s weight(%i2 : tensor<64xf32>) bias(%i3 : tensor<64xf32>) : tensor<40x64xf32>
%m = iolite.matmul %n, %i4 {transpose_rhs} : tensor<40x64xf32>, tensor<48x64xf32>
""", [("%m", (40, 48), d)], [layer_norm(x + r, g, bb) @ w.T])
    # SwiGLU: two matmuls share the normalised A tile; ragged N.
    x, g = m.data((2, 24, 128), d), m.data((128,), d, 0.1, 1.0)
    wg, wu = m.data((128, 176), d, 0.1), m.data((128, 176), d, 0.1)
    n = rms_norm(x, g)
    m.kernel("mm_swiglu", "matmul", [(x, d), (g, d), (wg, d), (wu, d)], """
%n = iolite.rms_norm %i0 weight(%i1 : tensor<128xf32>) : tensor<2x24x128xf32>
%g = iolite.matmul %n, %i2 : tensor<2x24x128xf32>, tensor<128x176xf32>
%u = iolite.matmul %n, %i3 : tensor<2x24x128xf32>, tensor<128x176xf32>
%s = iolite.silu %g : tensor<2x24x176xf32>
%p = iolite.mul %s, %u : tensor<2x24x176xf32>, tensor<2x24x176xf32>
""", [("%p", (2, 24, 176), d)], [silu(n @ wg) * (n @ wu)])
    # QKV: three matmuls of one normalised x, K/V narrower than Q, a bias
    # on Q only.
    x, g = m.data((50, 64), d), m.data((64,), d, 0.1, 1.0)
    wq, wk, wv = (m.data((64, nn), d, 0.2) for nn in (96, 32, 32))
    bq = m.data((96,), d)
    n = rms_norm(x, g)
    m.kernel("mm_qkv", "matmul",
             [(x, d), (g, d), (wq, d), (wk, d), (wv, d), (bq, d)], """
%n = iolite.rms_norm %i0 weight(%i1 : tensor<64xf32>) : tensor<50x64xf32>
%q = iolite.matmul %n, %i2 : tensor<50x64xf32>, tensor<64x96xf32>
%k = iolite.matmul %n, %i3 : tensor<50x64xf32>, tensor<64x32xf32>
%v = iolite.matmul %n, %i4 : tensor<50x64xf32>, tensor<64x32xf32>
%qb = iolite.add %q, %i5 : tensor<50x96xf32>, tensor<96xf32>
""", [("%qb", (50, 96), d), ("%k", (50, 32), d), ("%v", (50, 32), d)],
             [n @ wq + bq, n @ wk, n @ wv])


def reduction_cases(m):
    d = "f32"
    x = m.data((13, 50), d, 3.0)
    m.kernel("softmax_short", "row_reduction", [(x, d)],
             "%s = iolite.softmax %i0 : tensor<13x50xf32>",
             [("%s", (13, 50), d)], [softmax(x)], chain=False)
    # One row per block on every chip (>= 4096 columns).
    x = m.data((3, 5000), d, 3.0)
    m.kernel("softmax_long", "row_reduction", [(x, d)],
             "%s = iolite.softmax %i0 : tensor<3x5000xf32>",
             [("%s", (3, 5000), d)], [softmax(x)], chain=False)
    # An odd row length: no vector runs, one row per block on NVIDIA only.
    x, g = m.data((2, 3001), d, 1.0, 5.0), m.data((3001,), d)
    m.kernel("layer_norm_long_odd", "row_reduction", [(x, d), (g, d)],
             "%n = iolite.layer_norm %i0 weight(%i1 : tensor<3001xf32>) : "
             "tensor<2x3001xf32>", [("%n", (2, 3001), d)],
             [layer_norm(x, g)], chain=False)
    x, r, g = m.data((2, 7, 96), d), m.data((2, 7, 96), d), m.data((96,), d)
    m.kernel("rms_norm_residual", "row_reduction", [(x, d), (r, d), (g, d)],
             """
%s = iolite.add %i0, %i1 : tensor<2x7x96xf32>, tensor<2x7x96xf32>
%n = iolite.rms_norm %s weight(%i2 : tensor<96xf32>) : tensor<2x7x96xf32>
""", [("%n", (2, 7, 96), d), ("%s", (2, 7, 96), d)],
             [rms_norm(x + r, g), x + r])
    # layer_norm over the last two dims (rows of 60 = 6 x 10).
    x, g, bb = m.data((4, 6, 10), d), m.data((6, 10), d), m.data((6, 10), d)
    m.kernel("layer_norm_2d", "row_reduction", [(x, d), (g, d), (bb, d)],
             "%n = iolite.layer_norm %i0 weight(%i1 : tensor<6x10xf32>) "
             "bias(%i2 : tensor<6x10xf32>) {axis = -2 : i64} : "
             "tensor<4x6x10xf32>", [("%n", (4, 6, 10), d)],
             [layer_norm(x, g, bb, axis=-2)], chain=False)
    x = m.data((3, 5, 7), d)
    m.kernel("reduce_sum_2axes", "row_reduction", [(x, d)],
             "%r = iolite.reduce sum %i0 {axes = array<i64: 1, 2>} : "
             "tensor<3x5x7xf32>", [("%r", (3,), d)], [x.sum((1, 2))], chain=False)
    m.kernel("reduce_max_keep", "row_reduction", [(x, d)],
             "%r = iolite.reduce max %i0 {axes = array<i64: -1>, keep_dims} "
             ": tensor<3x5x7xf32>", [("%r", (3, 5, 1), d)],
             [x.max(-1, keepdims=True)], chain=False)
    x = m.data((2, 8192), d)
    m.kernel("reduce_mean_long", "row_reduction", [(x, d)],
             "%r = iolite.reduce mean %i0 {axes = array<i64: -1>} : "
             "tensor<2x8192xf32>", [("%r", (2,), d)], [x.mean(-1)], chain=False)


def elementwise_cases(m):
    d = "f32"
    # 21 elements: 4-wide runs and a scalar tail; a per-row scale and a
    # bias broadcast along rows.
    a, s, b = m.data((3, 7), d), m.data((3, 1), d), m.data((7,), d)
    m.kernel("ew_broadcast_tail", "elementwise", [(a, d), (s, d), (b, d)], """
%m = iolite.mul %i0, %i1 : tensor<3x7xf32>, tensor<3x1xf32>
%e = iolite.add %m, %i2 : tensor<3x7xf32>, tensor<7xf32>
%t = iolite.tanh %e : tensor<3x7xf32>
""", [("%t", (3, 7), d)], [np.tanh(a * s + b)])
    # Views feeding runs: a reshape, a last-dim slice at a multiple of the
    # run, a transpose (element by element), and two output shapes.
    x, y = m.data((4, 40), d), m.data((10, 16), d)
    m.kernel("ew_views", "elementwise", [(x, d), (y, d)], """
%r = iolite.reshape %i0 : tensor<4x40xf32> -> tensor<10x16xf32>
%s = iolite.slice %i0 [0, 8] to [4, 24] : tensor<4x40xf32>
%t = iolite.transpose %i1 [1, 0] : tensor<10x16xf32>
%p = iolite.mul %r, %i1 : tensor<10x16xf32>, tensor<10x16xf32>
%e = iolite.exp %s : tensor<4x16xf32>
""", [("%p", (10, 16), d), ("%e", (4, 16), d), ("%t", (16, 10), d)],
             [x.reshape(10, 16) * y, np.exp(x[:, 8:24]), y.T])


def fallback_cases(m):
    d = "f32"
    x = m.data((4, 9), d)
    m.kernel("fb_cumsum", "elemental", [(x, d)],
             "%c = iolite.cumsum %i0 {axis = 1 : i64, exclusive, reverse} : "
             "tensor<4x9xf32>", [("%c", (4, 9), d)],
             [np.flip(np.cumsum(np.flip(x, 1), 1), 1) - x], chain=False)
    x = m.data((6, 10), d)
    order = np.argsort(-x, axis=-1, kind="stable")[:, :3]
    m.kernel("fb_top_k", "elemental", [(x, d)],
             "%v, %i = iolite.top_k %i0 {k = 3 : i64} : tensor<6x10xf32>",
             [("%v", (6, 3), d), ("%i", (6, 3), "i64")],
             [np.take_along_axis(x, order, -1), order], chain=False)
    table, ids = m.data((20, 8), d), m.rng.integers(0, 20, (3, 4))
    m.kernel("fb_gather_concat", "elementwise", [(table, d), (ids, "i64")],
             """
%e = iolite.gather %i0[%i1] {axis = 0 : i64} : tensor<20x8xf32>, tensor<3x4xi64>
%c = iolite.concat %e, %e {axis = -1 : i64} : tensor<3x4x8xf32>, tensor<3x4x8xf32>
""", [("%c", (3, 4, 16), d)], [np.concatenate([table[ids]] * 2, -1)], chain=False)
    x = m.data((2, 5, 12), d)
    ang = np.arange(5)[:, None] * 0.3 * np.arange(1, 5)[None, :]
    cos = round_to(np.cos(np.concatenate([ang, ang], 1)), d).astype(float)
    sin = round_to(np.sin(np.concatenate([ang, ang], 1)), d).astype(float)
    m.kernel("fb_rotary", "elementwise", [(x, d), (cos, d), (sin, d)],
             "%r = iolite.rotary %i0, %i1, %i2 : tensor<2x5x12xf32>, "
             "tensor<5x8xf32>, tensor<5x8xf32>", [("%r", (2, 5, 12), d)],
             [rotate_half(x, cos, sin)], chain=False)


def f16_cases(m):
    d = "f16"
    # f16 storage, f32 math: the norm prologue's 8-wide runs and SwiGLU.
    x, g = m.data((33, 256), d), m.data((256,), d, 0.1, 1.0)
    wg, wu = m.data((256, 72), d, 0.06), m.data((256, 72), d, 0.06)
    n = rms_norm(x, g)
    m.kernel("f16_swiglu", "matmul", [(x, d), (g, d), (wg, d), (wu, d)], """
%n = iolite.rms_norm %i0 weight(%i1 : tensor<256xf16>) : tensor<33x256xf16>
%g = iolite.matmul %n, %i2 : tensor<33x256xf16>, tensor<256x72xf16>
%u = iolite.matmul %n, %i3 : tensor<33x256xf16>, tensor<256x72xf16>
%s = iolite.silu %g : tensor<33x72xf16>
%p = iolite.mul %s, %u : tensor<33x72xf16>, tensor<33x72xf16>
""", [("%p", (33, 72), d)], [silu(n @ wg) * (n @ wu)])
    # Decode-sized: few rows over a long K split the K tiles over more
    # blocks (split-K) and a combine kernel sums them before the epilogue.
    # One row, a residual epilogue; three rows of a normalised SwiGLU with
    # N not a multiple of the tile.
    x, w, r = m.data((1, 2048), d), m.data((96, 2048), d, 0.03), \
        m.data((1, 96), d)
    m.kernel("f16_decode_splitk", "matmul", [(x, d), (w, d), (r, d)], """
%y = iolite.matmul %i0, %i1 {transpose_rhs} : tensor<1x2048xf16>, tensor<96x2048xf16>
%o = iolite.add %y, %i2 : tensor<1x96xf16>, tensor<1x96xf16>
""", [("%o", (1, 96), d)], [x @ w.T + r])
    # A batch of three 2-row problems: the split index and the batch share
    # grid z, and the splits divide the 64 K tiles unevenly (12 wanted, 6
    # tiles each: 11 splits, none empty).
    x, w, r = m.data((3, 2, 2048), d), m.data((48, 2048), d, 0.04), \
        m.data((3, 2, 48), d)
    m.kernel("f16_decode_splitk_batched", "matmul", [(x, d), (w, d), (r, d)],
             """
%y = iolite.matmul %i0, %i1 {transpose_rhs} : tensor<3x2x2048xf16>, tensor<48x2048xf16>
%o = iolite.add %y, %i2 : tensor<3x2x48xf16>, tensor<3x2x48xf16>
""", [("%o", (3, 2, 48), d)], [x @ w.T + r])
    x, g = m.data((3, 1024), d), m.data((1024,), d, 0.1, 1.0)
    wg, wu = m.data((1024, 40), d, 0.04), m.data((1024, 40), d, 0.04)
    n = rms_norm(x, g)
    m.kernel("f16_decode_splitk_swiglu", "matmul",
             [(x, d), (g, d), (wg, d), (wu, d)], """
%n = iolite.rms_norm %i0 weight(%i1 : tensor<1024xf16>) : tensor<3x1024xf16>
%g = iolite.matmul %n, %i2 : tensor<3x1024xf16>, tensor<1024x40xf16>
%u = iolite.matmul %n, %i3 : tensor<3x1024xf16>, tensor<1024x40xf16>
%s = iolite.silu %g : tensor<3x40xf16>
%p = iolite.mul %s, %u : tensor<3x40xf16>, tensor<3x40xf16>
""", [("%p", (3, 40), d)], [silu(n @ wg) * (n @ wu)])
    x = m.data((5, 2048), d, 2.0)
    m.kernel("f16_softmax_block", "row_reduction", [(x, d)],
             "%s = iolite.softmax %i0 : tensor<5x2048xf16>",
             [("%s", (5, 2048), d)], [softmax(x)])
    a, b = m.data((9, 30), d), m.data((30,), d)
    m.kernel("f16_elementwise_cast", "elementwise", [(a, d), (b, d)], """
%s = iolite.sub %i0, %i1 : tensor<9x30xf16>, tensor<30xf16>
%c = iolite.cast %s : tensor<9x30xf16> to tensor<9x30xf32>
%e = iolite.silu %c : tensor<9x30xf32>
""", [("%e", (9, 30), "f32"), ("%s", (9, 30), d)],
             [silu(round_to(a - b, d).astype(float)), a - b])


def small_heavy_cases(m):
    """Every heavy op family of the templates' cases at sizes the forced
    fallback (which recomputes a norm or a row statistic per element) runs
    quickly."""
    for d in ("f32", "f16"):
        t = lambda *shape: ttype(shape, d)  # noqa: E731
        a, b = m.data((2, 2, 5, 9), d), m.data((2, 9, 11), d)
        m.kernel(f"small_mm_batched_{d}", "elemental", [(a, d), (b, d)],
                 f"%m = iolite.matmul %i0, %i1 : {t(2, 2, 5, 9)}, "
                 f"{t(2, 9, 11)}", [("%m", (2, 2, 5, 11), d)], [a @ b])
        a, b = m.data((9, 6), d), m.data((7, 9), d)
        m.kernel(f"small_mm_transposed_{d}", "elemental", [(a, d), (b, d)],
                 f"%m = iolite.matmul %i0, %i1 {{transpose_lhs, "
                 f"transpose_rhs}} : {t(9, 6)}, {t(7, 9)}",
                 [("%m", (6, 7), d)], [a.T @ b.T])
        x, g = m.data((6, 16), d), m.data((16,), d, 0.1, 1.0)
        wg, wu = m.data((16, 12), d, 0.3), m.data((16, 12), d, 0.3)
        n = rms_norm(x, g)
        m.kernel(f"small_swiglu_{d}", "elemental",
                 [(x, d), (g, d), (wg, d), (wu, d)], f"""
%n = iolite.rms_norm %i0 weight(%i1 : {t(16)}) : {t(6, 16)}
%g = iolite.matmul %n, %i2 : {t(6, 16)}, {t(16, 12)}
%u = iolite.matmul %n, %i3 : {t(6, 16)}, {t(16, 12)}
%s = iolite.silu %g : {t(6, 12)}
%p = iolite.mul %s, %u : {t(6, 12)}, {t(6, 12)}
""", [("%p", (6, 12), d)], [silu(n @ wg) * (n @ wu)])
        x, r = m.data((5, 16), d, 1.0, 3.0), m.data((5, 16), d)
        g, bb = m.data((16,), d), m.data((16,), d)
        w, bias = m.data((10, 16), d, 0.3), m.data((10,), d)
        y = gelu(layer_norm(x + r, g, bb) @ w.T + bias)
        m.kernel(f"small_ln_mm_epilogue_{d}", "elemental",
                 [(x, d), (r, d), (g, d), (bb, d), (w, d), (bias, d)], f"""
%s = iolite.add %i0, %i1 : {t(5, 16)}, {t(5, 16)}
%n = iolite.layer_norm %s weight(%i2 : {t(16)}) bias(%i3 : {t(16)}) : {t(5, 16)}
%m = iolite.matmul %n, %i4 {{transpose_rhs}} : {t(5, 16)}, {t(10, 16)}
%b = iolite.add %m, %i5 : {t(5, 10)}, {t(10)}
%y = iolite.gelu %b : {t(5, 10)}
""", [("%y", (5, 10), d)], [y])
        x = m.data((3, 40), d, 3.0)
        m.kernel(f"small_softmax_{d}", "elemental", [(x, d)],
                 f"%s = iolite.softmax %i0 : {t(3, 40)}",
                 [("%s", (3, 40), d)], [softmax(x)], chain=False)
        x, g, bb = m.data((2, 3, 5), d), m.data((3, 5), d), m.data((3, 5), d)
        m.kernel(f"small_layer_norm_2d_{d}", "elemental",
                 [(x, d), (g, d), (bb, d)],
                 f"%n = iolite.layer_norm %i0 weight(%i1 : {t(3, 5)}) "
                 f"bias(%i2 : {t(3, 5)}) {{axis = -2 : i64}} : {t(2, 3, 5)}",
                 [("%n", (2, 3, 5), d)], [layer_norm(x, g, bb, axis=-2)],
                 chain=False)
        x = m.data((3, 4, 5), d)
        m.kernel(f"small_reduce_{d}", "elemental", [(x, d)], f"""
%s = iolite.reduce sum %i0 {{axes = array<i64: 1, 2>}} : {t(3, 4, 5)}
%x = iolite.reduce max %i0 {{axes = array<i64: -1>, keep_dims}} : {t(3, 4, 5)}
%m = iolite.reduce mean %i0 {{axes = array<i64: -1>}} : {t(3, 4, 5)}
""", [("%s", (3,), d), ("%x", (3, 4, 1), d), ("%m", (3, 4), d)],
                 [x.sum((1, 2)), x.max(-1, keepdims=True), x.mean(-1)],
                 chain=False)


def build_models():
    """The models compiled with the templates."""
    f32 = Model("generic_f32", 1)
    matmul_cases(f32)
    reduction_cases(f32)
    elementwise_cases(f32)
    fallback_cases(f32)
    f16 = Model("generic_f16", 2)
    f16_cases(f16)
    return [f32, f16]


def build_fallback_model():
    """The model compiled with --force-elemental."""
    m = Model("generic_fallback", 3)
    small_heavy_cases(m)
    elementwise_cases(m)
    fallback_cases(m)
    return m


# ---------------------------------------------------------------------------
# The compiler C API and the runtime, through ctypes
# ---------------------------------------------------------------------------
class Tensor(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_char_p), ("rank", ctypes.c_size_t),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("data", ctypes.c_void_p), ("bytes", ctypes.c_size_t)]


class CompileOptions(ctypes.Structure):
    _fields_ = [("targets", ctypes.c_char_p), ("output_dir", ctypes.c_char_p),
                ("emit", ctypes.c_char_p), ("no_fusion", ctypes.c_int),
                ("remarks", ctypes.c_int), ("dims", ctypes.c_char_p),
                ("allow_tf32", ctypes.c_int), ("no_matrix_units", ctypes.c_int),
                ("emu_matrix_level", ctypes.c_char_p)]


def load_libraries():
    capi_path = build_dir() / "lib" / "libIoliteCAPI.so"
    if not capi_path.exists():
        pytest.fail(f"{capi_path} not built (set IOLITE_BUILD_DIR)")
    capi = ctypes.CDLL(str(capi_path))
    # The runtime the C API was linked against, by soname (a load by path
    # could map a second copy next to the iolite package's).
    runtime = ctypes.CDLL("libiolite_runtime.so.0")
    vp = ctypes.c_void_p
    for name, res, args in [
        ("iolite_capi_context_create", vp, []),
        ("iolite_capi_context_destroy", None, [vp]),
        ("iolite_capi_compile", vp, [vp, ctypes.c_char_p, ctypes.c_size_t,
                                     ctypes.c_char_p,
                                     ctypes.POINTER(CompileOptions)]),
        ("iolite_capi_result_ok", ctypes.c_int, [vp]),
        ("iolite_capi_result_text", ctypes.c_char_p, [vp]),
        ("iolite_capi_result_message", ctypes.c_char_p, [vp]),
        ("iolite_capi_result_num_tensors", ctypes.c_size_t, [vp]),
        ("iolite_capi_result_tensor", ctypes.c_int,
         [vp, ctypes.c_size_t, ctypes.POINTER(Tensor)]),
        ("iolite_capi_result_destroy", None, [vp]),
        ("iolite_capi_bundle_open", vp, [ctypes.c_char_p, vp,
                                         ctypes.POINTER(vp)]),
        ("iolite_capi_bundle_run", vp, [vp, ctypes.POINTER(Tensor),
                                        ctypes.c_size_t]),
        ("iolite_capi_bundle_close", None, [vp]),
    ]:
        fn = getattr(capi, name)
        fn.restype, fn.argtypes = res, args
    runtime.iolite_device_open.argtypes = [ctypes.c_char_p, ctypes.c_int,
                                           ctypes.POINTER(vp)]
    runtime.iolite_device_close.argtypes = [vp]
    runtime.iolite_last_error.restype = ctypes.c_char_p
    return capi, runtime


def checked(capi, result, what):
    if not capi.iolite_capi_result_ok(result):
        message = capi.iolite_capi_result_message(result).decode()
        capi.iolite_capi_result_destroy(result)
        raise AssertionError(f"{what}: {message}")
    return result


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """(model, bundle folder, kernel table, forced fallback) per bundle."""
    capi, runtime = load_libraries()
    context = capi.iolite_capi_context_create()
    out = []
    for model in build_models():
        folder = tmp_path_factory.mktemp(model.name)
        source = model.source().encode()
        options = CompileOptions(",".join(CHIPS).encode(),
                                 str(folder).encode(), None, 0, 0, None)
        result = checked(capi, capi.iolite_capi_compile(
            context, source, len(source), model.name.encode(),
            ctypes.byref(options)), f"compiling {model.name}")
        table = capi.iolite_capi_result_text(result).decode()
        capi.iolite_capi_result_destroy(result)
        out.append((model, folder, table, False))
    # Every kernel through the one-thread-per-element fallback: the element
    # emitter's loops for every heavy op (matmul, norms, softmax,
    # reductions) against the same references.
    model = build_fallback_model()
    folder = tmp_path_factory.mktemp(model.name)
    path = folder / f"{model.name}.mlir"
    path.write_text(model.source())
    proc = subprocess.run(
        [str(tool("iolite-compile")), str(path),
         "--target=" + ",".join(CHIPS), "--force-elemental", "-o",
         str(folder / "bundle")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out.append((model, folder / "bundle", proc.stdout, True))
    yield capi, runtime, out
    capi.iolite_capi_context_destroy(context)


def templates_of(table):
    return {line.split()[0]: line.split()[1]
            for line in table.splitlines()[1:] if line[:1].strip()}


def test_each_case_uses_its_template(bundles):
    """The kernels are the cases, compiled by the template the case tests
    (the forced model: the fallback, "elemental", for its heavy ops)."""
    _, _, out = bundles
    for model, _, table, forced in out:
        rows = templates_of(table)
        for case, template in model.cases:
            assert rows.get(case) == template, (case, table)
            # Decode-sized matmuls split K and add their combine kernel.
            if "splitk" in case and not forced:
                assert rows.get(f"{case}_combine") == "matmul_combine", table


@pytest.fixture(scope="module")
def cpu_reference(bundles):
    """The outputs of each model on the CPU reference path."""
    _, _, out = bundles
    outputs = {}
    for model, _, _, _ in out:
        if model.name not in outputs:
            _, outputs[model.name], _, _ = iolite_run(
                model.source(), [data for data, _ in model.inputs])
    return outputs


@pytest.mark.parametrize("chip", CHIPS)
def test_generic_kernel_numerics(bundles, cpu_reference, chip):
    capi, runtime, out = bundles
    device = ctypes.c_void_p()
    assert runtime.iolite_device_open(chip.encode(), 0,
                                      ctypes.byref(device)) == 0, (
        runtime.iolite_last_error().decode())
    failures = []
    try:
        for model, folder, _, forced in out:
            bundle = ctypes.c_void_p()
            capi.iolite_capi_result_destroy(checked(
                capi, capi.iolite_capi_bundle_open(
                    str(folder).encode(), device, ctypes.byref(bundle)),
                f"opening {model.name} on {chip}"))
            keep, tensors = [], []
            for data, dtype in model.inputs:
                shape = (ctypes.c_int64 * data.ndim)(*data.shape)
                keep.append(shape)
                tensors.append(Tensor(dtype.encode(), data.ndim, shape,
                                      data.ctypes.data, data.nbytes))
            array = (Tensor * len(tensors))(*tensors)
            result = checked(capi, capi.iolite_capi_bundle_run(
                bundle, array, len(tensors)), f"running on {chip}")
            cpu = cpu_reference[model.name]
            for i, (_, shape, dtype, expected, case, tolerances) in enumerate(
                    model.results):
                t = Tensor()
                assert capi.iolite_capi_result_tensor(result, i,
                                                      ctypes.byref(t))
                got = decode(ctypes.string_at(t.data, t.bytes), dtype, shape)
                what = f"{case} output {i}"
                for ref, against in ((cpu[i], "CPU reference"),
                                     (expected, "NumPy")):
                    try:
                        assert_close(got, np.asarray(ref).astype(np.float64)
                                     if dtype != "i64" else ref, dtype,
                                     f"{what} vs {against}", tolerances)
                    except AssertionError as e:
                        failures.append(str(e))
            capi.iolite_capi_result_destroy(result)
            capi.iolite_capi_bundle_close(bundle)
    finally:
        runtime.iolite_device_close(device)
    assert not failures, "\n".join(failures)
