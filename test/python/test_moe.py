"""Router, dispatch, grouped matmul and combine against NumPy loops, and the
whole routed layer against a dense per-token reference."""

import numpy as np
import pytest

from iolite_testing import FLOAT_TYPES, Batch, round_to, tensor_type as T

rng = np.random.default_rng(6)
BATCH = Batch("moe")


def f64(x):
    return np.asarray(x, np.float64)


# --- router ------------------------------------------------------------------
def router_ref(logits, k, scoring="softmax", renormalize=False):
    x = f64(logits)
    if scoring == "softmax":
        e = np.exp(x - x.max(-1, keepdims=True))
        s = e / e.sum(-1, keepdims=True)
    else:
        s = 1 / (1 + np.exp(-x))
    ids = np.argsort(-s, axis=-1, kind="stable")[:, :k]  # ties: lower index
    w = np.take_along_axis(s, ids, -1)
    if renormalize:
        w = w / w.sum(-1, keepdims=True)
    return w, ids.astype(np.int32)


for dt in FLOAT_TYPES:
    # Integer logits: many exact ties between experts.
    logits = round_to(rng.integers(-2, 3, (9, 8)), dt)
    for scoring in ("softmax", "sigmoid"):
        for renorm in (False, True):
            for k in (1, 2, 3):
                attrs = f"k = {k} : i64" + (", renormalize" if renorm else "")
                w, ids = router_ref(logits, k, scoring, renorm)
                BATCH.add(f"router_{scoring}_k{k}_renorm{int(renorm)}_{dt}",
                          f"%w, %i = iolite.router %x0 scoring = {scoring} "
                          f"{{{attrs}}} : {T(logits.shape, dt)}",
                          [(logits, dt)],
                          [("w", T((9, k), dt)), ("i", T((9, k), "i32"))],
                          [w, ids])
# All experts tied: experts 0..k-1, equal weights.
flat = np.zeros((3, 6), np.float32)
w, ids = router_ref(flat, 4, renormalize=True)
BATCH.add("router_all_tied", f"%w, %i = iolite.router %x0 {{k = 4 : i64, "
          f"renormalize}} : {T(flat.shape, 'f32')}", [(flat, "f32")],
          [("w", T((3, 4), "f32")), ("i", T((3, 4), "i32"))], [w, ids])


# --- dispatch ----------------------------------------------------------------
def dispatch_ref(x, ids, num_experts):
    k = ids.shape[1]
    flat = ids.reshape(-1).astype(np.int64)
    bucket = np.where((flat >= 0) & (flat < num_experts), flat, num_experts)
    order = np.argsort(bucket, kind="stable")
    offsets = np.array([(bucket < e).sum() for e in range(num_experts + 1)],
                       np.int32)
    return x[order // k], order.astype(np.int32), offsets


DISPATCH = {
    # Experts 1 and 4 get no token.
    "empty_experts": np.array([[0, 2], [3, 0], [2, 5], [5, 3], [0, 2]]),
    # Every token on expert 3.
    "all_on_one_expert": np.full((5, 2), 3),
    # Ids outside [0, E) are not assigned and sort last.
    "invalid_ids": np.array([[0, -1], [6, 2], [2, 0], [1, 9], [5, 5]]),
}
for name, ids in DISPATCH.items():
    for idt in ("i32", "i64"):
        x = round_to(rng.standard_normal((5, 3)), "bf16")
        ref = dispatch_ref(x, ids, 6)
        BATCH.add(f"dispatch_{name}_{idt}",
                  f"%s, %r, %o = iolite.dispatch %x0, %x1 {{num_experts = 6 : "
                  f"i64}} : {T(x.shape, 'bf16')}, {T(ids.shape, idt)}",
                  [(x, "bf16"), (ids, idt)],
                  [("s", T((10, 3), "bf16")), ("r", T((10,), "i32")),
                   ("o", T((7,), "i32"))], list(ref))


# --- grouped matmul ----------------------------------------------------------
def grouped_matmul_ref(x, w, offsets, transpose_rhs=False):
    x, w = f64(x), f64(w)
    if transpose_rhs:
        w = np.swapaxes(w, 1, 2)
    y = np.zeros((x.shape[0], w.shape[2]))
    for r in range(x.shape[0]):
        for e in range(w.shape[0]):
            if offsets[e] <= r < offsets[e + 1]:
                y[r] = x[r] @ w[e]
                break
    return y


for dt in FLOAT_TYPES:
    x = round_to(rng.standard_normal((11, 6)), dt)
    w = round_to(rng.standard_normal((4, 6, 5)), dt)
    # Expert 1 empty, rows 9 and 10 in no group.
    off = np.array([0, 3, 3, 7, 9], np.int32)
    BATCH.add(f"grouped_matmul_{dt}",
              f"%r = iolite.grouped_matmul %x0, %x1, %x2 : {T(x.shape, dt)}, "
              f"{T(w.shape, dt)}, {T(off.shape, 'i32')}",
              [(x, dt), (w, dt), (off, "i32")], [("r", T((11, 5), dt))],
              [grouped_matmul_ref(x, w, off)])
wt = round_to(rng.standard_normal((3, 5, 6)), "f32")
off = np.array([0, 0, 11, 11], np.int64)
x = round_to(rng.standard_normal((11, 6)), "f32")
BATCH.add("grouped_matmul_one_group_transposed",
          f"%r = iolite.grouped_matmul %x0, %x1, %x2 {{transpose_rhs}} : "
          f"{T(x.shape, 'f32')}, {T(wt.shape, 'f32')}, {T(off.shape, 'i64')}",
          [(x, "f32"), (wt, "f32"), (off, "i64")], [("r", T((11, 5), "f32"))],
          [grouped_matmul_ref(x, wt, off, True)])


# --- combine -----------------------------------------------------------------
def combine_ref(y, row_index, weights):
    t, k = weights.shape
    inv = np.full(t * k, -1)
    for s, r in enumerate(row_index):
        if 0 <= r < t * k:
            inv[r] = s
    out = np.zeros((t, y.shape[1]))
    for tok in range(t):
        for j in range(k):
            s = inv[tok * k + j]
            if s >= 0:
                out[tok] += f64(weights)[tok, j] * f64(y)[s]
    return out


for dt in FLOAT_TYPES:
    y = round_to(rng.standard_normal((8, 5)), dt)
    perm = rng.permutation(8).astype(np.int32)
    w = round_to(rng.uniform(0, 1, (4, 2)), dt)
    BATCH.add(f"combine_{dt}",
              f"%r = iolite.combine %x0, %x1, %x2 : {T(y.shape, dt)}, "
              f"{T(perm.shape, 'i32')}, {T(w.shape, dt)}",
              [(y, dt), (perm, "i32"), (w, dt)], [("r", T((4, 5), dt))],
              [combine_ref(y, perm, w)])
# Row indices outside [0, T*k) are skipped; assignments nobody fills give 0.
bad = np.array([3, 0, -1, 7, 1, 2, 9, 4], np.int64)
y = round_to(rng.standard_normal((8, 3)), "f32")
w = round_to(rng.uniform(0, 1, (4, 2)), "f32")
BATCH.add("combine_invalid_rows",
          f"%r = iolite.combine %x0, %x1, %x2 : {T(y.shape, 'f32')}, "
          f"{T(bad.shape, 'i64')}, {T(w.shape, 'f32')}",
          [(y, "f32"), (bad, "i64"), (w, "f32")], [("r", T((4, 3), "f32"))],
          [combine_ref(y, bad, w)])


# --- the routed layer end to end ---------------------------------------------
def moe_layer(name, dt, tokens, d, n, experts, k, logits):
    x = round_to(rng.standard_normal((tokens, d)), dt)
    w = round_to(rng.standard_normal((experts, d, n)) * 0.5, dt)
    logits = round_to(logits, dt)
    weights, ids = router_ref(logits, k, renormalize=True)
    # Dense reference: every token through its k experts.
    ref = np.zeros((tokens, n))
    for t in range(tokens):
        for j in range(k):
            ref[t] += weights[t, j] * (f64(x[t]) @ f64(w[ids[t, j]]))
    r = tokens * k
    BATCH.add(f"moe_{name}_{dt}", f"""
%w, %ids = iolite.router %x2 {{k = {k} : i64, renormalize}} : {T(logits.shape, dt)}
%xs, %rows, %offs = iolite.dispatch %x0, %ids {{num_experts = {experts} : i64}}
    : {T(x.shape, dt)}, {T((tokens, k), 'i32')}
%h = iolite.grouped_matmul %xs, %x1, %offs
    : {T((r, d), dt)}, {T(w.shape, dt)}, {T((experts + 1,), 'i32')}
%y = iolite.combine %h, %rows, %w : {T((r, n), dt)}, {T((r,), 'i32')}, {T((tokens, k), dt)}""",
              [(x, dt), (w, dt), (logits, dt)], [("y", T((tokens, n), dt))],
              [ref])


for dt in FLOAT_TYPES:
    moe_layer("random", dt, 7, 6, 5, 8, 2, rng.standard_normal((7, 8)) * 2)
# Experts 0 and 1 win every token (the other six stay empty).
skew = np.full((6, 8), -5.0)
skew[:, 0] = 3.0
skew[:, 1] = 2.0
moe_layer("skewed", "f32", 6, 4, 3, 8, 2, skew)


@pytest.mark.parametrize("case", BATCH.names())
def test_moe(case):
    BATCH.check(case)
