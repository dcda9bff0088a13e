"""Elementwise ops, casts and constants against NumPy/PyTorch float64."""

import numpy as np
import pytest
import torch

from iolite_testing import FLOAT_TYPES, Batch, round_to, tensor_type as T

rng = np.random.default_rng(1)
BATCH = Batch("elementwise")


def f64(x):
    return torch.from_numpy(np.asarray(x, dtype=np.float64))


# --- binary float ops with NumPy broadcasting --------------------------------
BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "max": np.maximum,
    "min": np.minimum,
}
for dt in FLOAT_TYPES:
    a = round_to(rng.standard_normal((3, 5, 7)), dt)
    b = round_to(rng.standard_normal((5, 1)) + 0.1, dt)
    for op, fn in BINARY.items():
        BATCH.add(f"{op}_{dt}",
                  f"%r = iolite.{op} %x0, %x1 : {T(a.shape, dt)}, "
                  f"{T(b.shape, dt)}",
                  [(a, dt), (b, dt)], [("r", T(a.shape, dt))],
                  [fn(a.astype(np.float64), b.astype(np.float64))])
    base = round_to(rng.uniform(0.1, 3.0, (4, 6)), dt)
    expo = round_to(rng.uniform(-2, 2, (6,)), dt)
    BATCH.add(f"pow_{dt}",
              f"%r = iolite.pow %x0, %x1 : {T(base.shape, dt)}, {T(expo.shape, dt)}",
              [(base, dt), (expo, dt)], [("r", T(base.shape, dt))],
              [np.power(base.astype(np.float64), expo.astype(np.float64))])

# NaN propagates through max/min (like torch.maximum, unlike np.fmax).
nan = np.array([np.nan, 1.0, -np.inf, 2.0], np.float32)
other = np.array([0.0, np.nan, 3.0, -1.0], np.float32)
for op, fn in (("max", np.maximum), ("min", np.minimum)):
    BATCH.add(f"{op}_nan", f"%r = iolite.{op} %x0, %x1 : {T((4,), 'f32')}, "
              f"{T((4,), 'f32')}", [(nan, "f32"), (other, "f32")],
              [("r", T((4,), "f32"))], [fn(nan, other)])

# --- integer ops: truncating division, x / 0 = 0, MIN / -1 wraps -------------
for dt, npt in (("i32", np.int32), ("i64", np.int64)):
    a = np.array([7, -7, 7, -7, 5, 0, np.iinfo(npt).min, 3], npt)
    b = np.array([2, 2, -2, -2, 0, 0, -1, 1], npt)
    div = np.array([3, -3, -3, 3, 0, 0, np.iinfo(npt).min, 3], npt)
    for op, ref in (("add", a + b), ("sub", a - b), ("mul", a * b),
                    ("div", div), ("max", np.maximum(a, b)),
                    ("min", np.minimum(a, b))):
        with np.errstate(over="ignore"):
            ref = np.asarray(ref)
        BATCH.add(f"{op}_{dt}", f"%r = iolite.{op} %x0, %x1 : {T((8,), dt)}, "
                  f"{T((8,), dt)}", [(a, dt), (b, dt)], [("r", T((8,), dt))],
                  [ref])
    for op, ref in (("relu", np.maximum(a, 0)), ("neg", -a), ("abs", np.abs(a))):
        with np.errstate(over="ignore"):
            ref = np.asarray(ref)
        BATCH.add(f"{op}_{dt}", f"%r = iolite.{op} %x0 : {T((8,), dt)}",
                  [(a, dt)], [("r", T((8,), dt))], [ref])

# --- compare and select ------------------------------------------------------
ca = np.array([1.0, 2.0, np.nan, -1.0, 3.0, np.nan], np.float32)
cb = np.array([1.0, 1.0, 1.0, 2.0, np.nan, np.nan], np.float32)
for pred, fn in (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                 ("le", np.less_equal), ("gt", np.greater),
                 ("ge", np.greater_equal)):
    BATCH.add(f"compare_{pred}_f32",
              f"%r = iolite.compare {pred} %x0, %x1 : {T((6,), 'f32')}, "
              f"{T((6,), 'f32')}", [(ca, "f32"), (cb, "f32")],
              [("r", T((6,), "i1"))], [fn(ca, cb)])
    ia = np.array([[1, -2, 3]], np.int64)
    ib = np.array([[1], [-3]], np.int64)
    BATCH.add(f"compare_{pred}_i64",
              f"%r = iolite.compare {pred} %x0, %x1 : {T((1, 3), 'i64')}, "
              f"{T((2, 1), 'i64')}", [(ia, "i64"), (ib, "i64")],
              [("r", T((2, 3), "i1"))], [fn(ia, ib)])
    ba = np.array([False, False, True, True])
    bb = np.array([False, True, False, True])
    BATCH.add(f"compare_{pred}_i1",
              f"%r = iolite.compare {pred} %x0, %x1 : {T((4,), 'i1')}, "
              f"{T((4,), 'i1')}", [(ba, "i1"), (bb, "i1")],
              [("r", T((4,), "i1"))], [fn(ba, bb)])

cond = rng.random((2, 1, 4)) > 0.5
on_true = round_to(rng.standard_normal((3, 4)), "bf16")
BATCH.add("select_bf16",
          f"%f = iolite.constant dense<-2.5> : tensor<bf16>\n"
          f"%r = iolite.select %x0, %x1, %f : {T(cond.shape, 'i1')}, "
          f"{T(on_true.shape, 'bf16')}, tensor<bf16>",
          [(cond, "i1"), (on_true, "bf16")], [("r", T((2, 3, 4), "bf16"))],
          [np.where(cond, on_true, -2.5)])

# --- unary float ops ---------------------------------------------------------
def softplus(x):
    return np.logaddexp(0.0, np.asarray(x, np.float64))


UNARY = {
    "exp": (lambda x: np.exp(x), (-5, 5)),
    "log": (lambda x: np.log(x), (0.01, 10)),
    "tanh": (lambda x: np.tanh(x), (-4, 4)),
    "erf": (lambda x: torch.erf(f64(x)).numpy(), (-3, 3)),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), (-8, 8)),
    "silu": (lambda x: x / (1 + np.exp(-x)), (-8, 8)),
    "relu": (lambda x: np.maximum(x, 0), (-2, 2)),
    "rsqrt": (lambda x: 1 / np.sqrt(x), (0.01, 10)),
    "sqrt": (lambda x: np.sqrt(x), (0, 10)),
    "neg": (lambda x: -x, (-2, 2)),
    "abs": (lambda x: np.abs(x), (-2, 2)),
    "reciprocal": (lambda x: 1 / x, (0.1, 5)),
    "softplus": (softplus, (-30, 30)),
    "sin": (lambda x: np.sin(x), (-6, 6)),
    "cos": (lambda x: np.cos(x), (-6, 6)),
}
for dt in FLOAT_TYPES:
    for op, (fn, (lo, hi)) in UNARY.items():
        x = round_to(rng.uniform(lo, hi, (5, 13)), dt)
        BATCH.add(f"{op}_{dt}", f"%r = iolite.{op} %x0 : {T(x.shape, dt)}",
                  [(x, dt)], [("r", T(x.shape, dt))],
                  [fn(x.astype(np.float64))])
    x = round_to(rng.uniform(-4, 4, (3, 11)), dt)
    for approx in ("none", "tanh"):
        ref = torch.nn.functional.gelu(f64(x), approximate=approx).numpy()
        BATCH.add(f"gelu_{approx}_{dt}",
                  f"%r = iolite.gelu %x0 approximate = {approx} : "
                  f"{T(x.shape, dt)}", [(x, dt)], [("r", T(x.shape, dt))],
                  [ref])

# Softplus never overflows: huge inputs give x (or 0), tiny ones exp(x).
sp = np.array([-1e4, -100.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 100.0, 1e4, 3e38],
              np.float32)
BATCH.add("softplus_extremes", f"%r = iolite.softplus %x0 : {T(sp.shape, 'f32')}",
          [(sp, "f32")], [("r", T(sp.shape, "f32"))],
          [softplus(sp.astype(np.float64))])
sg = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], np.float32)
BATCH.add("sigmoid_extremes", f"%r = iolite.sigmoid %x0 : {T(sg.shape, 'f32')}",
          [(sg, "f32")], [("r", T(sg.shape, "f32"))],
          [torch.sigmoid(f64(sg)).numpy()])

# --- casts -------------------------------------------------------------------
cx = np.array([-2.7, -1.5, -0.5, 0.0, 0.4999, 0.5, 1.5, 2.7, 1000.3],
              np.float32)
CASTS = [
    ("f32", "f16", cx, cx.astype(np.float16).astype(np.float64)),
    ("f32", "bf16", cx, round_to(cx, "bf16")),
    ("f16", "f32", round_to(cx, "f16"), round_to(cx, "f16")),
    ("bf16", "f16", round_to(cx, "bf16"),
     round_to(round_to(cx, "bf16"), "f16")),
    ("f16", "bf16", round_to(cx, "f16"),
     round_to(round_to(cx, "f16"), "bf16")),
    ("f32", "i32", cx, np.trunc(cx).astype(np.int32)),
    ("bf16", "i64", round_to(cx, "bf16"),
     np.trunc(round_to(cx, "bf16")).astype(np.int64)),
    ("f32", "i1", cx, cx != 0),
    ("i64", "f32", np.array([-3, 0, 7, 1 << 20, -(1 << 24) - 1, 5, 6, 7, 8],
                            np.int64),
     np.array([-3, 0, 7, 1 << 20, -(1 << 24), 5, 6, 7, 8], np.float64)),
    ("i64", "i32", np.array([1, -1, (1 << 33) + 5, -5, 0, 1, 2, 3, 4], np.int64),
     np.array([1, -1, 5, -5, 0, 1, 2, 3, 4], np.int32)),
    ("i32", "i64", np.array([1, -1, 2**31 - 1, -5, 0, 1, 2, 3, 4], np.int32),
     np.array([1, -1, 2**31 - 1, -5, 0, 1, 2, 3, 4], np.int64)),
    ("i1", "f32", np.array([1, 0, 1, 0, 0, 1, 1, 0, 1], bool),
     np.array([1, 0, 1, 0, 0, 1, 1, 0, 1], np.float64)),
    ("i1", "i32", np.array([1, 0, 1, 0, 0, 1, 1, 0, 1], bool),
     np.array([1, 0, 1, 0, 0, 1, 1, 0, 1], np.int32)),
    ("i32", "i1", np.array([1, 0, -1, 0, 0, 7, 1, 0, 1], np.int32),
     np.array([1, 0, 1, 0, 0, 1, 1, 0, 1], bool)),
]
for src, dst, x, ref in CASTS:
    BATCH.add(f"cast_{src}_to_{dst}",
              f"%r = iolite.cast %x0 : {T(x.shape, src)} to {T(x.shape, dst)}",
              [(x, src)], [("r", T(x.shape, dst))], [ref])

# --- constants ---------------------------------------------------------------
BATCH.add("constant_f16",
          "%c = iolite.constant dense<[[1.5, -2.0], [0.25, 3.0]]> : "
          "tensor<2x2xf16>\n%r = iolite.add %x0, %c : tensor<2x2xf16>, "
          "tensor<2x2xf16>",
          [(np.ones((2, 2)), "f16")], [("r", T((2, 2), "f16"))],
          [np.array([[2.5, -1.0], [1.25, 4.0]])])


@pytest.mark.parametrize("case", BATCH.names())
def test_elementwise(case):
    BATCH.check(case)
