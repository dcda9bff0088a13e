"""Softmax, reductions, norms, cumsum and top-k against NumPy/PyTorch."""

import numpy as np
import pytest
import torch

from iolite_testing import (FLOAT_TYPES, MODEL_TOLERANCES, Batch, round_to,
                            tensor_type as T)

rng = np.random.default_rng(2)
BATCH = Batch("reductions")


def softmax(x, axis):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# --- softmax -----------------------------------------------------------------
for dt in FLOAT_TYPES:
    x = round_to(rng.standard_normal((3, 5, 7)) * 3, dt)
    for axis in (-1, 0, 1):
        BATCH.add(f"softmax_axis{axis}_{dt}",
                  f"%r = iolite.softmax %x0 {{axis = {axis} : i64}} : "
                  f"{T(x.shape, dt)}", [(x, dt)], [("r", T(x.shape, dt))],
                  [softmax(x, axis)])
# Max subtraction: logits of 1000 do not overflow; -inf entries get 0.
big = np.array([[1000.0, 999.0, -np.inf, 998.0],
                [-1000.0, -np.inf, -1001.0, -999.0]], np.float32)
BATCH.add("softmax_large_logits", f"%r = iolite.softmax %x0 : {T(big.shape, 'f32')}",
          [(big, "f32")], [("r", T(big.shape, "f32"))], [softmax(big, -1)])

# --- reduce ------------------------------------------------------------------
REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min,
          "prod": np.prod}
for dt in FLOAT_TYPES:
    x = round_to(rng.uniform(0.5, 1.5, (4, 5, 6)), dt)
    for kind, fn in REDUCE.items():
        for axes, keep in (((-1,), True), ((0, 2), False), ((1,), False)):
            shape = list(x.shape)
            for a in axes:
                shape[a] = 1
            out = [d for i, d in enumerate(shape)] if keep else \
                [d for i, d in enumerate(x.shape)
                 if i not in [a % 3 for a in axes]]
            ref = fn(x.astype(np.float64), axis=axes, keepdims=keep)
            ax = ", ".join(str(a) for a in axes)
            BATCH.add(f"reduce_{kind}_{'_'.join(map(str, axes))}_{dt}",
                      f"%r = iolite.reduce {kind} %x0 {{axes = array<i64: {ax}>"
                      f"{', keep_dims' if keep else ''}}} : {T(x.shape, dt)}",
                      [(x, dt)], [("r", T(out, dt))], [ref])
# f32 accumulation: 4096 bf16 ones sum to 4096 (bf16 steps would stop at 256).
ones = np.ones((4096,), np.float32)
BATCH.add("reduce_sum_long_bf16",
          f"%r = iolite.reduce sum %x0 {{axes = array<i64: 0>}} : "
          f"{T(ones.shape, 'bf16')}", [(ones, "bf16")],
          [("r", "tensor<bf16>")], [np.array(4096.0)])
xi = rng.integers(-50, 50, (3, 7)).astype(np.int64)
for kind, ref in (("sum", xi.sum(1)), ("max", xi.max(1)), ("min", xi.min(1)),
                  ("mean", np.trunc(xi.sum(1) / 7).astype(np.int64))):
    BATCH.add(f"reduce_{kind}_i64",
              f"%r = iolite.reduce {kind} %x0 {{axes = array<i64: 1>}} : "
              f"{T(xi.shape, 'i64')}", [(xi, "i64")],
              [("r", T((3,), "i64"))], [ref])
BATCH.add("reduce_no_axes", f"%r = iolite.reduce sum %x0 {{axes = array<i64>}} :"
          f" {T((2, 3), 'f32')}",
          [(np.arange(6.0).reshape(2, 3), "f32")], [("r", T((2, 3), "f32"))],
          [np.arange(6.0).reshape(2, 3)])

# --- rms_norm and layer_norm -------------------------------------------------
for dt in FLOAT_TYPES:
    x = round_to(rng.standard_normal((2, 5, 24)) * 2, dt)
    for wdt in sorted({dt, "f32"}):
        w = round_to(rng.standard_normal(24), wdt)
        ref = x / np.sqrt((x.astype(np.float64) ** 2).mean(-1, keepdims=True)
                          + 1e-6) * w
        BATCH.add(f"rms_norm_{dt}_w{wdt}",
                  f"%r = iolite.rms_norm %x0 weight(%x1 : {T((24,), wdt)}) "
                  f"{{epsilon = 1.0e-06 : f32}} : {T(x.shape, dt)}",
                  [(x, dt), (w, wdt)], [("r", T(x.shape, dt))], [ref])
    ref = x / np.sqrt((x.astype(np.float64) ** 2).mean(-1, keepdims=True) + 1e-5)
    BATCH.add(f"rms_norm_noweight_{dt}",
              f"%r = iolite.rms_norm %x0 : {T(x.shape, dt)}", [(x, dt)],
              [("r", T(x.shape, dt))], [ref])

    # A large common offset: a one-pass E[x^2] - E[x]^2 would lose 13 bits
    # to cancellation. The inputs' magnitude (100) still puts an absolute
    # error of 100 * 2^-24 into the centred values, hence the looser
    # tolerance for this case.
    y = round_to(100 + rng.standard_normal((3, 4, 10)), dt)
    g = round_to(rng.standard_normal((4, 10)), dt)
    bias = round_to(rng.standard_normal((4, 10)), dt)
    t = torch.from_numpy(y.astype(np.float64))
    ref = torch.nn.functional.layer_norm(
        t, (4, 10), torch.from_numpy(g.astype(np.float64)),
        torch.from_numpy(bias.astype(np.float64)), eps=1e-5).numpy()
    BATCH.add(f"layer_norm_axis1_{dt}",
              f"%r = iolite.layer_norm %x0 weight(%x1 : {T(g.shape, dt)}) "
              f"bias(%x2 : {T(bias.shape, dt)}) {{axis = 1 : i64}} : "
              f"{T(y.shape, dt)}", [(y, dt), (g, dt), (bias, dt)],
              [("r", T(y.shape, dt))], [ref], tolerances=MODEL_TOLERANCES)
    z = round_to(rng.standard_normal((3, 4, 10)), dt)
    ref = torch.nn.functional.layer_norm(torch.from_numpy(z.astype(np.float64)),
                                         (10,), eps=1e-3).numpy()
    BATCH.add(f"layer_norm_plain_{dt}",
              f"%r = iolite.layer_norm %x0 {{epsilon = 1.0e-03 : f32}} : "
              f"{T(z.shape, dt)}", [(z, dt)], [("r", T(z.shape, dt))], [ref])

# --- cumsum ------------------------------------------------------------------
def cumsum(x, axis, exclusive=False, reverse=False):
    x = np.asarray(x, np.float64) if x.dtype.kind == "f" else np.asarray(x)
    if reverse:
        x = np.flip(x, axis)
    c = np.cumsum(x, axis)
    if exclusive:
        c = c - x
    return np.flip(c, axis) if reverse else c


for dt in FLOAT_TYPES + ("i64", "i32"):
    x = round_to(rng.standard_normal((4, 9)) * 5, dt)
    for axis in (1, 0):
        for excl in (False, True):
            for rev in (False, True):
                flags = [f"axis = {axis} : i64"] + (["exclusive"] if excl else []) \
                    + (["reverse"] if rev else [])
                BATCH.add(f"cumsum_a{axis}_e{int(excl)}_r{int(rev)}_{dt}",
                          f"%r = iolite.cumsum %x0 {{{', '.join(flags)}}} : "
                          f"{T(x.shape, dt)}", [(x, dt)], [("r", T(x.shape, dt))],
                          [cumsum(x, axis, excl, rev)])
# f32 accumulation over a long bf16 sequence (bf16 steps would stop at 256).
BATCH.add("cumsum_long_bf16", f"%r = iolite.cumsum %x0 {{axis = 0 : i64}} : "
          f"{T((600,), 'bf16')}", [(np.ones(600), "bf16")],
          [("r", T((600,), "bf16"))], [np.arange(1.0, 601.0)])


# --- top_k -------------------------------------------------------------------
def topk(x, k, axis=-1, largest=True):
    """Sorted best first, ties to the lower index (a stable sort)."""
    x = np.moveaxis(np.asarray(x), axis, -1)
    key = -x if largest else x
    idx = np.argsort(key, axis=-1, kind="stable")[..., :k]
    vals = np.take_along_axis(x, idx, -1)
    return np.moveaxis(vals, -1, axis), np.moveaxis(idx, -1, axis)


for dt in FLOAT_TYPES + ("i32",):
    # Few distinct values: plenty of ties.
    x = round_to(rng.integers(-3, 4, (5, 11)), dt)
    for k, axis, largest in ((3, -1, True), (4, 0, True), (2, 1, False),
                             (11, 1, True)):
        shape = list(x.shape)
        shape[axis] = k
        vals, idx = topk(x, k, axis, largest)
        attrs = f"k = {k} : i64, axis = {axis} : i64" + \
            ("" if largest else ", largest = false")
        BATCH.add(f"top_k_k{k}_a{axis}_{'max' if largest else 'min'}_{dt}",
                  f"%v, %i = iolite.top_k %x0 {{{attrs}}} : {T(x.shape, dt)}",
                  [(x, dt)], [("v", T(shape, dt)), ("i", T(shape, "i64"))],
                  [vals, idx])
# NaN ranks above every number (like torch.topk); ties keep index order.
xn = np.array([[1.0, np.nan, 3.0, 3.0, -np.inf, np.nan]], np.float32)
BATCH.add("top_k_nan", f"%v, %i = iolite.top_k %x0 {{k = 4 : i64}} : "
          f"{T(xn.shape, 'f32')}", [(xn, "f32")],
          [("v", T((1, 4), "f32")), ("i", T((1, 4), "i64"))],
          [np.array([[np.nan, np.nan, 3.0, 3.0]]), np.array([[1, 5, 2, 3]])])
BATCH.add("top_k_nan_smallest",
          f"%v, %i = iolite.top_k %x0 {{k = 4 : i64, largest = false}} : "
          f"{T(xn.shape, 'f32')}", [(xn, "f32")],
          [("v", T((1, 4), "f32")), ("i", T((1, 4), "i64"))],
          [np.array([[-np.inf, 1.0, 3.0, 3.0]]), np.array([[4, 0, 2, 3]])])


@pytest.mark.parametrize("case", BATCH.names())
def test_reductions(case):
    BATCH.check(case)
