"""Matmul kernels on the matrix units, on both emulated chips, against NumPy.

Explicit matmul kernels in f16 and bf16 (ragged M, N and K; batched with a
broadcast B; both operands transposed; a bias + GELU + residual epilogue with
two outputs; an rms_norm prologue; SwiGLU and QKV sharing the normalised A
with narrower K/V) are compiled with the iolite package for emu-sm_90a
(mma.sync m16n8k16) and emu-gfx942 (MFMA 32x32x8) and run on the emulator
at both of its matrix levels: `isa` runs the nvgpu/amdgpu instructions the
kernels are lowered to from the PTX and CDNA3 ISA formulas, `warp` runs
iolite_gpu.mma from Iolite's instruction table. Each result is compared
with float64 NumPy on the same rounded inputs (intermediates a fused chain
rounds, such as the norm's f16 output, rounded the same way) with the chain
tolerances of iolite_testing.py, and each kernel's manifest entry must name
the instruction it used.

f32 matmuls stay exact on the FMA units by default (the manifest says so and
the results match f32 within f32 tolerances); with allow_tf32 they run on
mma.sync m16n8k8 tf32 on emu-sm_90a, matching a reference whose inputs are
rounded to TF32 (round to nearest, ties away: cvt.rna.tf32.f32) and
differing from the exact one by more than f32 tolerances, while gfx942,
which has no TF32 instruction in the table, stays on FMA and exact.

Attention (causal GQA with 200 queries and keys, ragged against every tile;
non-causal d 128 with fewer keys than queries) in f16 and bf16 runs QK^T
and PV on the same instructions at both levels, with more than 80% of its
flops on the matrix units; f32 attention with allow_tf32 runs TF32 mma.sync
on emu-sm_90a and stays exact on gfx942.

The SSD (Mamba-2 chunked state-space dual) kernel puts its chunk products
(C B^T, the decay-masked M x, C H^T and the state update) on the same
instructions for f16 and bf16: sequence lengths that are not a multiple of
the chunk, head dims P and states N that are not multiples of the
instruction tiles (gfx942 then takes MFMA 16x16x16) and a Mamba-2 head
shape (P = N = 64, MFMA 32x32x8), with D, dt_bias and softplus, at both
emulator levels, against a float64 NumPy reference that runs the
state-space recurrence step by step (no chunks). The emulator's counters
must show matrix flops for the SSD kernels; f32 SSD stays exact on FMA.

The MoE kernels' products go the same way: ragged grouped GEMMs (an empty
expert, rows outside every group, segments longer than the tile, N and K
that are multiples of neither the tile nor the instruction) with plain,
transposed and gathered rows, the SwiGLU form (dispatch fused into a gate/up
GEMM with two B operands), and router matmuls with their softmax / top-k,
in f16 and bf16 at both emulator levels against NumPy (test_moe.py's
references); each such launch must name the instruction, and the
emulator must count matrix flops for it. f32 MoE products stay on FMA
(exact) unless TF32 is allowed.
"""

import sys

import numpy as np
import pytest
import torch

from iolite_testing import (MODEL_TOLERANCES, TOLERANCES, assert_close,
                            build_dir, round_to, tensor_type)
from test_moe import dispatch_ref, grouped_matmul_ref, router_ref

sys.path.insert(0, str(build_dir() / "python"))
import iolite  # noqa: E402

CHIPS = ["emu-sm_90a", "emu-gfx942"]
KINDS = {"emu-sm_90a": {"f16": "nv_m16n8k16_f16", "bf16": "nv_m16n8k16_bf16",
                        "tf32": "nv_m16n8k8_tf32", "f32": "fma"},
         "emu-gfx942": {"f16": "amd_mfma_32x32x8_f16",
                        "bf16": "amd_mfma_32x32x8_bf16",
                        "tf32": "fma", "f32": "fma"}}


def silu(x):
    return x / (1 + np.exp(-x))


def gelu(x):
    from math import erf
    return 0.5 * x * (1 + np.vectorize(erf)(x / np.sqrt(2)))


def rms_norm(x, w, eps=1e-5):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def round_tf32(x):
    """cvt.rna.tf32.f32: keep 10 mantissa bits, round half away from 0."""
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x1000) & 0xFFFFE000).astype(np.uint32)
    return bits.view(np.float32).astype(np.float64)


class Model:
    """Explicit kernels, each read as %i0, %i1, ...; one function."""

    def __init__(self, name, seed):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.args, self.inputs, self.body, self.results = [], [], [], []

    def data(self, shape, dtype, scale=1.0, offset=0.0):
        x = self.rng.standard_normal(shape) * scale + offset
        return round_to(x, dtype).astype(np.float64)

    def kernel(self, case, operands, body, outputs, expected, matrix):
        """operands: [(array, dtype)]; outputs: [(ssa, shape, dtype)];
        matrix: the table's dtype key of the instruction expected."""
        n = len(self.body)
        names = []
        for v, d in operands:
            name = f"%a{len(self.args)}"
            self.args.append(f"{name}: {tensor_type(v.shape, d)}")
            self.inputs.append(torch_input(v, d))
            names.append((name, tensor_type(v.shape, d)))
        block = ", ".join(f"%i{k}: {t}" for k, (_, t) in enumerate(names))
        rtypes = [tensor_type(s, d) for _, s, d in outputs]
        res = f"%k{n}" + (f":{len(outputs)}" if len(outputs) > 1 else "")
        self.body.append(
            f'{res} = iolite.kernel "{case}" ({", ".join(a for a, _ in names)})'
            f' : ({", ".join(t for _, t in names)}) -> ({", ".join(rtypes)})'
            f' {{\n  ^bb0({block}):\n    '
            + "\n    ".join(body.strip().splitlines()) +
            f'\n    iolite.yield {", ".join(o for o, _, _ in outputs)} : '
            f'{", ".join(rtypes)}\n  }}')
        for i, ((_, shape, dtype), ref) in enumerate(zip(outputs, expected)):
            ssa = f"%k{n}" + (f"#{i}" if len(outputs) > 1 else "")
            self.results.append(dict(ssa=ssa, shape=shape, dtype=dtype,
                                     expected=np.asarray(ref), case=case,
                                     matrix=matrix))

    def source(self):
        rtypes = ", ".join(tensor_type(r["shape"], r["dtype"])
                           for r in self.results)
        rets = ", ".join(r["ssa"] for r in self.results)
        body = "\n  ".join(self.body)
        return (f"func.func @{self.name}({', '.join(self.args)}) -> "
                f"({rtypes}) {{\n  {body}\n  return {rets} : {rtypes}\n}}\n")


def torch_input(values, dtype):
    """The input as the package takes it (bf16 as a torch tensor)."""
    if dtype == "bf16":
        return torch.from_numpy(values.astype(np.float32)).to(torch.bfloat16)
    return values.astype({"f16": np.float16, "f32": np.float32,
                          "i32": np.int32}[dtype])


def half_cases(m, d):
    t = lambda *s: tensor_type(s, d)  # noqa: E731
    r = lambda x: round_to(x, d).astype(np.float64)  # noqa: E731
    # Ragged M, N and K: every dim overhangs the tile and the instruction.
    a, b = m.data((77, 50), d), m.data((50, 45), d)
    m.kernel(f"ragged_{d}", [(a, d), (b, d)],
             f"%m = iolite.matmul %i0, %i1 : {t(77, 50)}, {t(50, 45)}",
             [("%m", (77, 45), d)], [a @ b], d)
    # Batched, B broadcast over the leading batch dim.
    a, b = m.data((2, 3, 20, 24), d), m.data((3, 24, 40), d)
    m.kernel(f"batched_{d}", [(a, d), (b, d)],
             f"%m = iolite.matmul %i0, %i1 : {t(2, 3, 20, 24)}, "
             f"{t(3, 24, 40)}", [("%m", (2, 3, 20, 40), d)], [a @ b], d)
    # Both transposed (A is [K, M], B is [N, K], PyTorch's weights).
    a, b = m.data((33, 50), d), m.data((70, 33), d)
    m.kernel(f"transposed_{d}", [(a, d), (b, d)],
             f"%m = iolite.matmul %i0, %i1 {{transpose_lhs, transpose_rhs}} "
             f": {t(33, 50)}, {t(70, 33)}", [("%m", (50, 70), d)],
             [a.T @ b.T], d)
    # Bias + GELU + residual epilogue, two outputs; K over several tiles.
    x, w = m.data((64, 160), d), m.data((160, 80), d, 0.2)
    bias, res = m.data((80,), d), m.data((64, 80), d)
    y = gelu(r(r(r(x @ w) + bias)))
    m.kernel(f"epilogue_{d}", [(x, d), (w, d), (bias, d), (res, d)], f"""
%m = iolite.matmul %i0, %i1 : {t(64, 160)}, {t(160, 80)}
%b = iolite.add %m, %i2 : {t(64, 80)}, {t(80)}
%g = iolite.gelu %b : {t(64, 80)}
%s = iolite.add %g, %i3 : {t(64, 80)}, {t(64, 80)}
""", [("%s", (64, 80), d), ("%g", (64, 80), d)], [y + res, y], d)
    # rms_norm prologue: the A tile holds the norm's output rounded to d.
    x, g = m.data((70, 128), d), m.data((128,), d, 0.1, 1.0)
    w = m.data((128, 96), d, 0.1)
    m.kernel(f"rms_prologue_{d}", [(x, d), (g, d), (w, d)], f"""
%n = iolite.rms_norm %i0 weight(%i1 : {t(128)}) : {t(70, 128)}
%m = iolite.matmul %n, %i2 : {t(70, 128)}, {t(128, 96)}
""", [("%m", (70, 96), d)], [r(rms_norm(x, g)) @ w], d)
    # SwiGLU: gate and up share the normalised A; ragged N.
    x, g = m.data((2, 24, 128), d), m.data((128,), d, 0.1, 1.0)
    wg, wu = m.data((128, 176), d, 0.1), m.data((128, 176), d, 0.1)
    n = r(rms_norm(x, g))
    m.kernel(f"swiglu_{d}", [(x, d), (g, d), (wg, d), (wu, d)], f"""
%n = iolite.rms_norm %i0 weight(%i1 : {t(128)}) : {t(2, 24, 128)}
%g = iolite.matmul %n, %i2 : {t(2, 24, 128)}, {t(128, 176)}
%u = iolite.matmul %n, %i3 : {t(2, 24, 128)}, {t(128, 176)}
%s = iolite.silu %g : {t(2, 24, 176)}
%p = iolite.mul %s, %u : {t(2, 24, 176)}, {t(2, 24, 176)}
""", [("%p", (2, 24, 176), d)], [r(silu(r(n @ wg))) * r(n @ wu)], d)
    # QKV: K/V narrower than Q, a bias on Q.
    x, g = m.data((50, 64), d), m.data((64,), d, 0.1, 1.0)
    wq, wk, wv = (m.data((64, nn), d, 0.2) for nn in (96, 32, 32))
    bq = m.data((96,), d)
    n = r(rms_norm(x, g))
    m.kernel(f"qkv_{d}", [(x, d), (g, d), (wq, d), (wk, d), (wv, d),
                          (bq, d)], f"""
%n = iolite.rms_norm %i0 weight(%i1 : {t(64)}) : {t(50, 64)}
%q = iolite.matmul %n, %i2 : {t(50, 64)}, {t(64, 96)}
%k = iolite.matmul %n, %i3 : {t(50, 64)}, {t(64, 32)}
%v = iolite.matmul %n, %i4 : {t(50, 64)}, {t(64, 32)}
%qb = iolite.add %q, %i5 : {t(50, 96)}, {t(96)}
""", [("%qb", (50, 96), d), ("%k", (50, 32), d), ("%v", (50, 32), d)],
             [r(n @ wq) + bq, n @ wk, n @ wv], d)


def f32_cases(m, matrix):
    d = "f32"
    t = lambda *s: tensor_type(s, d)  # noqa: E731
    q = round_tf32 if matrix == "tf32" else (lambda x: x)
    a, b = m.data((77, 150), d), m.data((150, 45), d)
    m.kernel("ragged_f32", [(a, d), (b, d)],
             f"%m = iolite.matmul %i0, %i1 : {t(77, 150)}, {t(150, 45)}",
             [("%m", (77, 45), d)], [q(a) @ q(b)], matrix)
    a, b = m.data((66, 50), d), m.data((70, 66), d)
    m.kernel("transposed_f32", [(a, d), (b, d)],
             f"%m = iolite.matmul %i0, %i1 {{transpose_lhs, transpose_rhs}} "
             f": {t(66, 50)}, {t(70, 66)}", [("%m", (50, 70), d)],
             [q(a).T @ q(b).T], matrix)


def compile_model(model, **options):
    return iolite.compile(model.source(), targets=CHIPS, name=model.name,
                          **options)


def check(bundle, model, chip, expect_kind):
    outputs = bundle.run(*model.inputs, backend="emu", target=chip)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    assert len(outputs) == len(model.results), (
        f"{len(outputs)} outputs for {len(model.results)} results")
    failures = []
    for out, res in zip(outputs, model.results):
        try:
            assert_close(np.asarray(out, np.float64), res["expected"],
                         res["dtype"], f"{chip} {res['case']}",
                         MODEL_TOLERANCES)
        except AssertionError as err:
            failures.append(str(err))
    assert not failures, "\n".join(failures)
    kinds = {k["name"]: k["targets"][chip]["matrix"]["kind"]
             for k in bundle.kernels}
    for res in model.results:
        want = expect_kind(res)
        got = [v for n, v in kinds.items() if n.startswith(res["case"])]
        assert got and all(g == want for g in got), (
            f"{chip} {res['case']}: matrix {got}, expected {want}")
    return outputs


@pytest.fixture(scope="module")
def half_model():
    m = Model("mma_half", 7)
    half_cases(m, "f16")
    half_cases(m, "bf16")
    return m


@pytest.mark.parametrize("level", ["isa", "warp"])
def test_half_matmuls(half_model, level):
    bundle = compile_model(half_model, emu_matrix_level=level)
    for chip in CHIPS:
        check(bundle, half_model, chip,
              lambda res, chip=chip: KINDS[chip][res["matrix"]])
        stats = bundle.kernels
        # Every product ran on the matrix units: no scalar flops are left
        # in the plain matmuls (the epilogue kernels have their own).
        for k in stats:
            if k["name"].startswith(("ragged", "batched", "transposed")):
                assert k["emu"]["matrix_flops"] > 0, k["name"]
                assert k["emu"]["flops"] == 0, (k["name"], k["emu"])


def test_f32_stays_exact():
    m = Model("mma_f32", 8)
    f32_cases(m, "f32")
    bundle = compile_model(m)
    for chip in CHIPS:
        check(bundle, m, chip, lambda res: "fma")
        for k in bundle.kernels:
            assert k["targets"][chip]["matrix"]["reason"].startswith(
                "f32 operands stay exact f32 on the FMA units"), k["name"]


def test_tf32_when_allowed():
    tf32 = Model("mma_tf32", 8)
    f32_cases(tf32, "tf32")
    exact = Model("mma_tf32", 8)
    f32_cases(exact, "f32")
    bundle = compile_model(tf32, allow_tf32=True)
    # sm_90a: TF32 matrix units, matching the TF32-rounded reference...
    outputs = check(bundle, tf32, "emu-sm_90a", lambda res: "nv_m16n8k8_tf32")
    # ... and measurably not exact f32.
    for out, res in zip(outputs, exact.results):
        with pytest.raises(AssertionError):
            assert_close(np.asarray(out, np.float64), res["expected"], "f32",
                         "tf32 against exact f32", TOLERANCES)
    # gfx942 has no TF32 instruction in the table: FMA, exact, and why.
    check(bundle, exact, "emu-gfx942", lambda res: "fma")
    for k in bundle.kernels:
        assert "no tf32 matrix instruction" in \
            k["targets"]["emu-gfx942"]["matrix"]["reason"], k["name"]


def attention_reference(q, k, v, causal):
    """softmax(q k^T / sqrt(d) (+ causal mask)) v in float64, GQA heads
    shared as consecutive groups."""
    groups = q.shape[1] // k.shape[1]
    k = np.repeat(k, groups, axis=1)
    v = np.repeat(v, groups, axis=1)
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if causal:
        n, nk = s.shape[-2:]
        s = np.where(np.arange(nk)[None, :] > np.arange(n)[:, None] + nk - n,
                     -np.inf, s)
    p = np.exp(s - s.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)) @ v


def attention_cases(m, d):
    # Causal GQA (4 query heads on 2 KV heads) with 200 queries and keys:
    # ragged against every query and key tile; d 64.
    t = lambda *s: tensor_type(s, d)  # noqa: E731
    q, k, v = (m.data(s, d) for s in ((1, 4, 200, 64), (1, 2, 200, 64),
                                      (1, 2, 200, 64)))
    m.kernel(f"attn_causal_{d}", [(q, d), (k, d), (v, d)],
             f"%o = iolite.attention %i0, %i1, %i2 {{causal}} : "
             f"{t(1, 4, 200, 64)}, {t(1, 2, 200, 64)}, {t(1, 2, 200, 64)}",
             [("%o", (1, 4, 200, 64), d)],
             [attention_reference(q, k, v, True)], d)
    # Non-causal, d 128, fewer keys (72) than queries (96).
    q, k, v = (m.data(s, d) for s in ((2, 2, 96, 128), (2, 2, 72, 128),
                                      (2, 2, 72, 128)))
    m.kernel(f"attn_full_{d}", [(q, d), (k, d), (v, d)],
             f"%o = iolite.attention %i0, %i1, %i2 : "
             f"{t(2, 2, 96, 128)}, {t(2, 2, 72, 128)}, {t(2, 2, 72, 128)}",
             [("%o", (2, 2, 96, 128), d)],
             [attention_reference(q, k, v, False)], d)


@pytest.fixture(scope="module")
def attention_model():
    m = Model("mma_attention", 9)
    attention_cases(m, "f16")
    attention_cases(m, "bf16")
    return m


# --- SSD (Mamba-2) ---------------------------------------------------------


def softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def ssd_recurrence(x, dt, a, bm, cm, d, dt_bias):
    """y[t] = C[t] h[t] + D x[t] with h[t] = exp(dt[t] A) h[t-1] +
    dt[t] x[t] B[t]^T, one step at a time, dt = softplus(dt + dt_bias);
    head h reads B/C group h // (heads / groups)."""
    batch, length, heads, p = x.shape
    groups, n = bm.shape[2:]
    dt = softplus(dt + dt_bias)
    y = np.zeros_like(x)
    for bi in range(batch):
        for h in range(heads):
            g = h // (heads // groups)
            state = np.zeros((p, n))
            for t in range(length):
                state = (np.exp(dt[bi, t, h] * a[h]) * state + dt[bi, t, h] *
                         np.outer(x[bi, t, h], bm[bi, t, g]))
                y[bi, t, h] = state @ cm[bi, t, g] + d[h] * x[bi, t, h]
    return y


# name: (batch, length, heads, P, groups, N, chunk)
SSD_SHAPES = {
    # L = 77 is ragged for the chunk; P = 24 and N = 20 are not multiples
    # of any instruction tile.
    "ssd_ragged": (2, 77, 4, 24, 2, 20, 32),
    # A Mamba-2 head (P = N = 64), 3 chunks of 64, the last one ragged.
    "ssd_mamba": (1, 150, 2, 64, 1, 64, 64),
}


def ssd_kind(chip, case, d):
    """The instruction the SSD kernel should use: gfx942 takes 16x16x16
    where P or N is below 32."""
    if d == "f32":
        return "fma"
    kind = KINDS[chip][d]
    if chip == "emu-gfx942" and case.startswith("ssd_ragged"):
        kind = kind.replace("32x32x8", "16x16x16")
    return kind


def ssd_cases(m, d):
    for name, (batch, length, heads, p, groups, n, chunk) in \
            SSD_SHAPES.items():
        t = lambda *s, dd=d: tensor_type(s, dd)  # noqa: E731
        x = m.data((batch, length, heads, p), d)
        dt = m.data((batch, length, heads), d, 0.5, -1.0)
        a = -np.exp(m.rng.uniform(-1, 1, heads)).astype(np.float32)
        bm = m.data((batch, length, groups, n), d)
        cm = m.data((batch, length, groups, n), d)
        dd = m.data((heads,), "f32")
        bias = m.data((heads,), "f32", 0.5)
        hv = t(heads, dd="f32")
        m.kernel(f"{name}_{d}", [(x, d), (dt, d), (a.astype(np.float64), "f32"),
                                 (bm, d), (cm, d), (dd, "f32"), (bias, "f32")],
                 f"%y = iolite.ssd %i0, %i1, %i2, %i3, %i4 D(%i5 : {hv}) "
                 f"dt_bias(%i6 : {hv}) {{chunk_size = {chunk} : i64, "
                 f"dt_softplus}} : {t(batch, length, heads, p)}, "
                 f"{t(batch, length, heads)}, {hv}, "
                 f"{t(batch, length, groups, n)}, "
                 f"{t(batch, length, groups, n)}",
                 [("%y", (batch, length, heads, p), d)],
                 [ssd_recurrence(x, dt, a.astype(np.float64), bm, cm, dd,
                                 bias)], d)


@pytest.fixture(scope="module")
def ssd_half_model():
    m = Model("ssd_half", 11)
    ssd_cases(m, "f16")
    ssd_cases(m, "bf16")
    return m


@pytest.mark.parametrize("level", ["isa", "warp"])
def test_attention(attention_model, level):
    """S = QK^T and O += PV on the matrix units at both emulator levels; the
    matrix units do most of the flops (the softmax's are scalar)."""
    bundle = compile_model(attention_model, emu_matrix_level=level)
    for chip in CHIPS:
        check(bundle, attention_model, chip,
              lambda res, chip=chip: KINDS[chip][res["matrix"]])
        for k in bundle.kernels:
            emu = k["emu"]
            assert emu["matrix_flops"] > 0, k["name"]
            share = emu["matrix_flops"] / (emu["matrix_flops"] + emu["flops"])
            assert share > 0.8, (chip, k["name"], share)


def test_tf32_attention():
    """f32 attention with allow_tf32: TF32 mma.sync on sm_90a (Q, K, V and
    P rounded to TF32, whose 10-bit mantissa is f16's: held to f16's chain
    tolerance against the reference on TF32-rounded inputs); exact FMA on
    gfx942."""
    m = Model("mma_attention_tf32", 10)
    d = "f32"
    t = lambda *s: tensor_type(s, d)  # noqa: E731
    q, k, v = (m.data(s, d) for s in ((1, 4, 130, 64), (1, 2, 130, 64),
                                      (1, 2, 130, 64)))
    m.kernel("attn_tf32", [(q, d), (k, d), (v, d)],
             f"%o = iolite.attention %i0, %i1, %i2 {{causal}} : "
             f"{t(1, 4, 130, 64)}, {t(1, 2, 130, 64)}, {t(1, 2, 130, 64)}",
             [("%o", (1, 4, 130, 64), d)],
             [attention_reference(q, k, v, True)], "tf32")
    bundle = compile_model(m, allow_tf32=True)
    out = bundle.run(*m.inputs, backend="emu", target="emu-sm_90a")
    ref = attention_reference(round_tf32(q), round_tf32(k), round_tf32(v),
                              True)
    assert_close(np.asarray(out, np.float64), ref, "f16", "tf32 attention",
                 MODEL_TOLERANCES)
    with pytest.raises(AssertionError):
        assert_close(np.asarray(out, np.float64), m.results[0]["expected"],
                     "f32", "tf32 against exact f32", TOLERANCES)
    (kernel,) = bundle.kernels
    assert kernel["targets"]["emu-sm_90a"]["matrix"]["kind"] == \
        "nv_m16n8k8_tf32"
    assert kernel["emu"]["matrix_flops"] > 0
    check(bundle, m, "emu-gfx942", lambda res: "fma")


@pytest.mark.parametrize("level", ["isa", "warp"])
def test_ssd_on_matrix_units(ssd_half_model, level):
    bundle = compile_model(ssd_half_model, emu_matrix_level=level)
    for chip in CHIPS:
        check(bundle, ssd_half_model, chip,
              lambda res, chip=chip: ssd_kind(chip, res["case"],
                                              res["matrix"]))
        kernels = [k for k in bundle.kernels if k["name"].startswith("ssd")]
        assert len(kernels) == len(ssd_half_model.results)
        for k in kernels:
            # The chunk products ran on the matrix units; the cumsum, decay
            # and epilogue stay on the FMA units.
            assert k["emu"]["matrix_flops"] > 0, (chip, k["name"], k["emu"])
            assert k["emu"]["matrix_flops"] > k["emu"]["flops"], (
                chip, k["name"], k["emu"])


def test_ssd_f32_stays_exact():
    m = Model("ssd_f32", 12)
    ssd_cases(m, "f32")
    bundle = compile_model(m)
    for chip in CHIPS:
        check(bundle, m, chip, lambda res: "fma")
        for k in bundle.kernels:
            assert k["emu"]["matrix_flops"] == 0, (chip, k["name"], k["emu"])
            assert k["targets"][chip]["matrix"]["reason"].startswith(
                "f32 operands stay exact f32 on the FMA units"), k["name"]


def test_ssd_tf32_when_allowed():
    """allow_tf32 puts f32 SSD chunk products on mma.sync m16n8k8 tf32 on
    emu-sm_90a (inexact by choice: its numerics are those of the f16/bf16
    path above, with TF32 operands); gfx942 has no TF32 and stays on FMA,
    exact."""
    m = Model("ssd_tf32", 12)
    ssd_cases(m, "f32")
    bundle = compile_model(m, allow_tf32=True)
    bundle.run(*m.inputs, backend="emu", target="emu-sm_90a")
    for k in bundle.kernels:
        assert k["targets"]["emu-sm_90a"]["matrix"]["kind"] == \
            "nv_m16n8k8_tf32", k["name"]
        assert k["emu"]["matrix_flops"] > 0, k["name"]
    check(bundle, m, "emu-gfx942", lambda res: "fma")
    for k in bundle.kernels:
        assert k["emu"]["matrix_flops"] == 0, k["name"]


# ---------------------------------------------------------------------------
# MoE: grouped GEMMs and router matmuls
# ---------------------------------------------------------------------------
MOE_TEMPLATES = ("moe_grouped_matmul", "moe_router")


def small_ints(m, shape, lo=-2, hi=3):
    """Integer data: router logits are exact in every accumulation order,
    so top-k sees the reference's ties and order."""
    return m.rng.integers(lo, hi, shape).astype(np.float64)


def moe_cases(m, d, q=lambda x: x):
    """`q` is what the matrix unit reads of an operand (TF32 rounding)."""
    t = lambda *s: tensor_type(s, d)  # noqa: E731
    ti = lambda *s: tensor_type(s, "i32")  # noqa: E731
    r = lambda x: round_to(x, d).astype(np.float64)  # noqa: E731
    gm = lambda x, w, o, tr=False: grouped_matmul_ref(  # noqa: E731
        q(x), q(w), o, tr)
    # Ragged segments: rows 0-2 and 141-149 in no group, expert 1 empty,
    # expert 0's 67 rows span several row tiles; N = 45, K = 40.
    rows, kd, n, e = 150, 40, 45, 5
    offs = np.array([3, 3, 70, 71, 120, 141])
    x, w = m.data((rows, kd), d), m.data((e, kd, n), d, 0.2)
    m.kernel(f"moe_gm_{d}", [(x, d), (w, d), (offs, "i32")],
             f"%y = iolite.grouped_matmul %i0, %i1, %i2 : {t(rows, kd)}, "
             f"{t(e, kd, n)}, {ti(e + 1)}", [("%y", (rows, n), d)],
             [gm(x, w, offs)], d)
    # Rows gathered by index, weights transposed ([E, N, K]); K = 72.
    src, kd, n = 30, 72, 24
    x = m.data((src, kd), d)
    idx = m.rng.integers(0, src, rows)
    w = m.data((e, n, kd), d, 0.2)
    m.kernel(f"moe_gather_{d}", [(x, d), (idx, "i32"), (w, d), (offs, "i32")],
             f"%xs = iolite.gather %i0[%i1] {{axis = 0 : i64}} : "
             f"{t(src, kd)}, {ti(rows)}\n"
             f"%y = iolite.grouped_matmul %xs, %i2, %i3 {{transpose_rhs}} : "
             f"{t(rows, kd)}, {t(e, n, kd)}, {ti(e + 1)}",
             [("%y", (rows, n), d)], [gm(x[idx], w, offs, True)], d)
    # SwiGLU: the dispatch fused into a gate/up GEMM (two B operands);
    # expert 2 gets no token, N = 88, K = 56.
    tokens, kd, n, e, k = 41, 56, 88, 6, 2
    x = m.data((tokens, kd), d)
    ids = m.rng.choice([0, 1, 3, 4, 5], (tokens, k))
    wg, wu = m.data((e, kd, n), d, 0.2), m.data((e, kd, n), d, 0.2)
    xs, _, o = dispatch_ref(x, ids, e)
    g, u = r(gm(xs, wg, o)), r(gm(xs, wu, o))
    m.kernel(f"moe_swiglu_{d}", [(x, d), (ids, "i32"), (wg, d), (wu, d)], f"""
%xs, %r, %o = iolite.dispatch %i0, %i1 {{num_experts = {e} : i64}} : {t(tokens, kd)}, {ti(tokens, k)}
%g = iolite.grouped_matmul %xs, %i2, %o : {t(tokens * k, kd)}, {t(e, kd, n)}, {ti(e + 1)}
%u = iolite.grouped_matmul %xs, %i3, %o : {t(tokens * k, kd)}, {t(e, kd, n)}, {ti(e + 1)}
%s = iolite.silu %g : {t(tokens * k, n)}
%p = iolite.mul %s, %u : {t(tokens * k, n)}, {t(tokens * k, n)}
""", [("%p", (tokens * k, n), d)], [r(r(silu(g)) * u)], d)
    # Router matmuls: 8 experts in PyTorch's [E, H] layout (top-2) and 64
    # in [H, E] (top-8, softmax), tokens and hidden not multiples of the
    # tile; tied experts (equal weight rows).
    for name, tokens, hidden, experts, kk, tr in [
            ("e8", 37, 40, 8, 2, True), ("e64", 70, 24, 64, 8, False)]:
        x = small_ints(m, (tokens, hidden))
        wr = small_ints(m, (experts, hidden), -1, 2)
        wr[1] = wr[0]
        logits = round_to(q(x) @ q(wr).T, d)
        wts, ids = router_ref(logits, kk, "softmax", True)
        wt = wr if tr else np.ascontiguousarray(wr.T)
        m.kernel(f"moe_router_{name}_{d}", [(x, d), (wt, d)], f"""
%l = iolite.matmul %i0, %i1{" {transpose_rhs}" if tr else ""} : {t(tokens, hidden)}, {t(*wt.shape)}
%w, %i = iolite.router %l {{k = {kk} : i64, renormalize}} : {t(tokens, experts)}
""", [("%w", (tokens, kk), d), ("%i", (tokens, kk), "i32")], [wts, ids], d)


def moe_kinds(chip, d):
    """The kinds a MoE launch may use: on CDNA also MFMA 16x16x16, which
    the templates pick for tiles of few rows (small expert segments)."""
    kind = KINDS[chip][d]
    if kind.startswith("amd_mfma_32x32x8"):
        return (kind, kind.replace("32x32x8", "16x16x16"))
    return (kind,)


def check_moe(bundle, model, chip, want_kinds):
    """Values against the references; every grouped GEMM / router launch
    on one of `want_kinds`, counting matrix flops exactly when it is not
    FMA."""
    outputs = bundle.run(*model.inputs, backend="emu", target=chip)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    failures = []
    for out, res in zip(outputs, model.results):
        try:
            assert_close(np.asarray(out, np.float64), res["expected"],
                         res["dtype"], f"{chip} {res['case']}",
                         TOLERANCES if res["dtype"] == "i32"
                         else MODEL_TOLERANCES)
        except AssertionError as err:
            failures.append(str(err))
    assert not failures, "\n".join(failures)
    seen = 0
    for k in bundle.kernels:
        if k["template"] not in MOE_TEMPLATES:
            continue
        seen += 1
        matrix = k["targets"][chip]["matrix"]
        assert matrix["kind"] in want_kinds, (chip, k["name"], matrix)
        if matrix["kind"] == "fma":
            assert k["emu"]["matrix_flops"] == 0, (chip, k["name"])
        else:
            assert k["emu"]["matrix_flops"] > 0, (chip, k["name"], k["emu"])
    assert seen >= 5, [k["name"] for k in bundle.kernels]
    return outputs


@pytest.mark.parametrize("level", ["isa", "warp"])
@pytest.mark.parametrize("d", ["f16", "bf16"])
def test_moe_products(level, d):
    m = Model(f"mma_moe_{d}", 9)
    moe_cases(m, d)
    bundle = compile_model(m, emu_matrix_level=level)
    try:
        for chip in CHIPS:
            check_moe(bundle, m, chip, moe_kinds(chip, d))
            # The plain grouped GEMM does every product on the matrix units.
            plain = next(k for k in bundle.kernels
                         if k["name"] == f"moe_gm_{d}")
            assert plain["emu"]["flops"] == 0, (chip, plain["emu"])
    finally:
        bundle.close()


def test_moe_f32_stays_exact_unless_tf32():
    exact = Model("mma_moe_f32", 10)
    moe_cases(exact, "f32")
    bundle = compile_model(exact)
    try:
        for chip in CHIPS:
            check_moe(bundle, exact, chip, ("fma",))
            for k in bundle.kernels:
                if k["template"] in MOE_TEMPLATES:
                    assert k["targets"][chip]["matrix"]["reason"].startswith(
                        "f32 operands stay exact f32"), k["name"]
    finally:
        bundle.close()
    # TF32 on request: sm_90a's m16n8k8 against TF32-rounded operands.
    tf32 = Model("mma_moe_tf32", 10)
    moe_cases(tf32, "f32", round_tf32)
    bundle = compile_model(tf32, allow_tf32=True)
    try:
        check_moe(bundle, tf32, "emu-sm_90a", ("nv_m16n8k8_tf32",))
        check_moe(bundle, exact, "emu-gfx942", ("fma",))
    finally:
        bundle.close()
