"""Attention kernels on the emulator against a NumPy reference.

Models holding many attention ops (each becomes one kernel, with its fused
rotary prologue or cast epilogue where there is one) are compiled for
emu-sm_90a and emu-gfx942 through the compiler C API (the path the Python
package takes: iolite-compile's driver and the bundle's own launch code),
run on both emulated chips, and compared with a float64 NumPy
implementation of the op's semantics (IoliteOps.td) on the same rounded
inputs. Cases: causal and not, GQA, MQA, sliding window, decode with
split-KV, ALiBi, soft-cap, scale, boolean and additive masks, fully masked
rows, lengths that are not multiples of the tile, Dv != D, f32/f16/bf16.
"""

import ctypes
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("IOLITE_BUILD_DIR", REPO / "build"))

# (rtol, atol) per element type of the result: the kernels accumulate in f32
# in a different order than the reference and round the output once.
TOLERANCES = {"f32": (1e-5, 2e-6), "f16": (2e-3, 2e-4), "bf16": (1.6e-2, 2e-3)}

CHIPS = ["emu-sm_90a", "emu-gfx942"]


# ---------------------------------------------------------------------------
# Element types
# ---------------------------------------------------------------------------
def to_bf16_bits(x):
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16_bits(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def round_to(x, dtype):
    if dtype == "f16":
        return x.astype(np.float16).astype(np.float32)
    if dtype == "bf16":
        return from_bf16_bits(to_bf16_bits(x))
    return x.astype(np.float32)


def encode(x, dtype):
    if dtype == "f16":
        return np.ascontiguousarray(x, dtype=np.float16)
    if dtype == "bf16":
        return to_bf16_bits(x)
    if dtype == "i1":
        return np.ascontiguousarray(x, dtype=np.uint8)
    return np.ascontiguousarray(x, dtype=np.float32)


def decode(raw, dtype, shape):
    if dtype == "f16":
        a = np.frombuffer(raw, np.float16).astype(np.float32)
    elif dtype == "bf16":
        a = from_bf16_bits(np.frombuffer(raw, np.uint16))
    else:
        a = np.frombuffer(raw, np.float32)
    return a.reshape(shape)


def ttype(shape, dtype):
    return "tensor<" + "x".join(map(str, shape)) + "x" + dtype + ">"


# ---------------------------------------------------------------------------
# The reference
# ---------------------------------------------------------------------------
def reference(q, k, v, mask=None, slopes=None, scale=None, causal=False,
              window=None, softcap=None):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    _, hq, sq, d = q.shape
    hkv, skv = k.shape[1], k.shape[2]
    k = np.repeat(k, hq // hkv, axis=1)
    v = np.repeat(v, hq // hkv, axis=1)
    s = np.einsum("bhid,bhjd->bhij", q, k) * (
        1 / np.sqrt(d) if scale is None else scale)
    if softcap:
        s = softcap * np.tanh(s / softcap)
    pos = np.arange(sq)[:, None] + skv - sq
    j = np.arange(skv)[None, :]
    if slopes is not None:
        s = s + slopes.astype(np.float64)[None, :, None, None] * (j - pos)
    keep = np.ones(s.shape, bool)
    if mask is not None:
        m = np.broadcast_to(mask, s.shape)
        if mask.dtype == bool:
            keep &= m
        else:
            s = s + m
    if causal:
        keep &= j <= pos
    if window:
        keep &= j > pos - window
    keep &= s > -np.inf
    s = np.where(keep, s, -np.inf)
    mx = s.max(-1, keepdims=True)
    mx = np.where(np.isfinite(mx), mx, 0)
    p = np.where(keep, np.exp(s - mx), 0)
    l = p.sum(-1, keepdims=True)
    return np.einsum("bhij,bhjd->bhid", p, v) / np.where(l > 0, l, 1)


def rotate(x, cos, sin):
    h = x.shape[-1] // 2
    return x * cos + np.concatenate([-x[..., h:], x[..., :h]], -1) * sin


# ---------------------------------------------------------------------------
# Cases: each adds its inputs and one attention (plus prologue/epilogue)
# to a model and knows its expected output.
# ---------------------------------------------------------------------------
class Model:
    def __init__(self, dtype, seed):
        self.dtype = dtype
        self.rng = np.random.default_rng(seed)
        self.args, self.inputs, self.body = [], [], []
        self.results, self.expected, self.names = [], [], []

    def arg(self, values, dtype=None):
        dtype = dtype or self.dtype
        name = f"%a{len(self.args)}"
        self.args.append(f"{name}: {ttype(values.shape, dtype)}")
        self.inputs.append((encode(values, dtype), dtype))
        return name, ttype(values.shape, dtype)

    def qkv(self, b, hq, hkv, sq, skv, d, dv):
        r = self.rng.standard_normal
        return [round_to(r(shape).astype(np.float32), self.dtype)
                for shape in ((b, hq, sq, d), (b, hkv, skv, d),
                              (b, hkv, skv, dv))]

    def attention(self, name, b, hq, hkv, sq, skv, d, dv=None, causal=False,
                  window=None, softcap=None, scale=None, mask=None,
                  alibi=False, rope=False, cast_to=None):
        dv = dv or d
        q, k, v = self.qkv(b, hq, hkv, sq, skv, d, dv)
        (qn, qt), (kn, kt), (vn, vt) = (self.arg(x) for x in (q, k, v))
        extra, ref_mask, ref_slopes = "", None, None
        if mask is not None:
            shape, kind = mask
            if kind == "i1":
                m = self.rng.random(shape) > 0.3
                m[..., 0, :] = False  # a fully masked row
                ref_mask = m
            else:
                m = round_to(self.rng.standard_normal(shape), self.dtype)
                m[self.rng.random(shape) < 0.2] = -np.inf
                ref_mask = m
            mn, mt = self.arg(m, kind if kind == "i1" else None)
            extra += f" mask({mn} : {mt})"
        if alibi:
            slopes = round_to(2.0 ** -np.arange(1, hq + 1), self.dtype)
            sn, st = self.arg(slopes.astype(np.float32))
            extra += f" alibi_slopes({sn} : {st})"
            ref_slopes = slopes
        attrs = []
        if causal:
            attrs.append("causal")
        if window:
            attrs.append(f"window = {window} : i64")
        if softcap:
            attrs.append(f"softcap = {softcap} : f32")
        if scale:
            attrs.append(f"scale = {scale} : f32")
        attr = " {" + ", ".join(attrs) + "}" if attrs else ""
        n = len(self.results)
        qin, kin = qn, kn
        qref, kref = q, k
        if rope:
            ang = np.arange(skv)[:, None] * 0.05 * np.arange(d // 2)[None, :]
            ang = np.concatenate([ang, ang], 1)
            cos = round_to(np.cos(ang), self.dtype)
            sin = round_to(np.sin(ang), self.dtype)
            cn, ct = self.arg(cos)
            sn, st = self.arg(sin)
            qc, qs = cos[skv - sq:], sin[skv - sq:]
            qcn, qct = self.arg(qc)
            qsn, qst = self.arg(qs)
            self.body.append(f"%qr{n} = iolite.rotary {qn}, {qcn}, {qsn} : "
                             f"{qt}, {qct}, {qst}")
            self.body.append(f"%kr{n} = iolite.rotary {kn}, {cn}, {sn} : "
                             f"{kt}, {ct}, {st}")
            qin, kin = f"%qr{n}", f"%kr{n}"
            # The rotated operands are tensors of the model's type: rounded.
            qref = round_to(rotate(q, qc, qs), self.dtype)
            kref = round_to(rotate(k, cos, sin), self.dtype)
        self.body.append(f"%o{n} = iolite.attention {qin}, {kin}, {vn}{extra}"
                         f"{attr} : {qt}, {kt}, {vt}")
        out_shape = (b, hq, sq, dv)
        out, out_dtype = f"%o{n}", self.dtype
        if cast_to:
            out_dtype = cast_to
            self.body.append(
                f"%c{n} = iolite.cast %o{n} : {ttype(out_shape, self.dtype)} "
                f"to {ttype(out_shape, cast_to)}")
            out = f"%c{n}"
        self.results.append((out, ttype(out_shape, out_dtype), out_dtype,
                             out_shape))
        expected = reference(qref, kref, v, ref_mask, ref_slopes, scale,
                             causal, window, softcap)
        self.expected.append(round_to(expected, self.dtype))
        self.names.append(name)

    def source(self):
        rets = ", ".join(r[0] for r in self.results)
        rtypes = ", ".join(r[1] for r in self.results)
        body = "\n  ".join(self.body)
        return (f"func.func @attn({', '.join(self.args)}) -> ({rtypes}) {{\n"
                f"  {body}\n  return {rets} : {rtypes}\n}}\n")


def build_models():
    f32 = Model("f32", 1)
    f32.attention("causal ragged", 1, 2, 2, 100, 100, 64, causal=True)
    f32.attention("gqa q!=kv", 2, 6, 2, 37, 75, 32)
    f32.attention("mqa", 1, 4, 1, 33, 70, 64)
    f32.attention("window", 1, 2, 1, 100, 130, 32, causal=True, window=17)
    f32.attention("causal q>kv (masked rows)", 1, 2, 2, 70, 50, 32,
                  causal=True)
    f32.attention("alibi softcap scale", 1, 4, 2, 50, 50, 32, causal=True,
                  alibi=True, softcap=5.0, scale=0.3)
    f32.attention("bool mask", 1, 2, 2, 20, 45, 32,
                  mask=((1, 1, 20, 45), "i1"))
    f32.attention("float mask", 2, 2, 1, 20, 45, 32,
                  mask=((2, 2, 20, 45), "f32"))
    f32.attention("dv != d", 1, 2, 1, 30, 40, 48, dv=24)
    f32.attention("decode split-kv", 1, 8, 2, 1, 1000, 64)
    f32.attention("decode causal window split-kv", 2, 4, 1, 2, 900, 64,
                  causal=True, window=300)
    f16 = Model("f16", 2)
    f16.attention("rope + cast, gqa causal d128", 1, 4, 2, 70, 70, 128,
                  causal=True, rope=True, cast_to="f32")
    f16.attention("decode mha split-kv", 1, 4, 4, 1, 777, 64, causal=True)
    bf16 = Model("bf16", 3)
    bf16.attention("causal gqa", 1, 4, 2, 65, 65, 64, causal=True)
    bf16.attention("decode gqa split-kv", 1, 8, 1, 1, 1500, 64)
    return [f32, f16, bf16]


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
    capi_path = BUILD / "lib" / "libIoliteCAPI.so"
    # The C API is part of the build: a missing one fails, never skips.
    if not capi_path.exists():
        pytest.fail(f"{capi_path} not built (build the project or set "
                    "IOLITE_BUILD_DIR)")
    capi = ctypes.CDLL(str(capi_path))
    # The runtime the C API was linked against, by soname: loading it by
    # path could map a second copy next to the one the iolite package (or
    # the C API) already uses, and devices of one copy are unknown to the
    # other ("not an emu device").
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
    capi, runtime = load_libraries()
    context = capi.iolite_capi_context_create()
    out = []
    for model in build_models():
        folder = tmp_path_factory.mktemp(f"attn_{model.dtype}")
        source = model.source().encode()
        options = CompileOptions(",".join(CHIPS).encode(),
                                 str(folder).encode(), None, 0, 0, None)
        result = checked(capi, capi.iolite_capi_compile(
            context, source, len(source), b"attn", ctypes.byref(options)),
            f"compiling the {model.dtype} model")
        table = capi.iolite_capi_result_text(result).decode()
        capi.iolite_capi_result_destroy(result)
        out.append((model, folder, table))
    yield capi, runtime, out
    capi.iolite_capi_context_destroy(context)


def test_every_attention_is_one_attention_kernel(bundles):
    _, _, out = bundles
    for model, _, table in out:
        rows = [line.split() for line in table.splitlines()
                if "_attention " in line]
        assert len(rows) == len(model.results), table
        assert all(row[1] == "attention" for row in rows), table


@pytest.mark.parametrize("chip", CHIPS)
def test_attention_numerics(bundles, chip):
    capi, runtime, out = bundles
    device = ctypes.c_void_p()
    assert runtime.iolite_device_open(chip.encode(), 0,
                                      ctypes.byref(device)) == 0, (
        runtime.iolite_last_error().decode())
    failures = []
    try:
        for model, folder, _ in out:
            bundle = ctypes.c_void_p()
            capi.iolite_capi_result_destroy(checked(
                capi, capi.iolite_capi_bundle_open(
                    str(folder).encode(), device, ctypes.byref(bundle)),
                f"opening the {model.dtype} bundle on {chip}"))
            keep, tensors = [], []
            for data, dtype in model.inputs:
                shape = (ctypes.c_int64 * data.ndim)(*data.shape)
                keep.append(shape)
                tensors.append(Tensor(dtype.encode(), data.ndim, shape,
                                      data.ctypes.data, data.nbytes))
            array = (Tensor * len(tensors))(*tensors)
            result = checked(capi, capi.iolite_capi_bundle_run(
                bundle, array, len(tensors)), f"running on {chip}")
            for i, (name, expected, res) in enumerate(
                    zip(model.names, model.expected, model.results)):
                t = Tensor()
                assert capi.iolite_capi_result_tensor(result, i,
                                                      ctypes.byref(t))
                raw = ctypes.string_at(t.data, t.bytes)
                got = decode(raw, res[2], res[3])
                rtol, atol = TOLERANCES[model.dtype]
                ok = np.isclose(got, expected, rtol=rtol, atol=atol)
                if not ok.all():
                    err = np.abs(got - expected).max()
                    failures.append(f"{model.dtype} {name}: "
                                    f"{(~ok).sum()} of {ok.size} differ, "
                                    f"max abs error {err:.3e}")
            capi.iolite_capi_result_destroy(result)
            capi.iolite_capi_bundle_close(bundle)
    finally:
        runtime.iolite_device_close(device)
    assert not failures, "\n".join(failures)
