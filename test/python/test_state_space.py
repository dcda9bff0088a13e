"""conv1d (with and without a carried state), selective scan, SSD and long
convolution against references: PyTorch's depthwise conv1d, a step-by-step selective-scan loop (the one the
Mamba reference implementation uses), SSD against the selective scan it
equals, and long convolution against an FFT."""

import sys

import numpy as np
import pytest
import torch

from iolite_testing import (FLOAT_TYPES, Batch, assert_close, build_dir,
                            round_to, tensor_type as T)

rng = np.random.default_rng(5)
BATCH = Batch("state_space")
# The ops that take and return their state, on the CPU reference and on
# both emulated chips (EMU_STATE_BATCH below); test_ssm_emu.py runs BATCH.
STATE_BATCH = Batch("state_space_with_state")


def f64(x):
    return np.asarray(x, np.float64)


def softplus(x):
    return np.logaddexp(0.0, x)


def silu(x):
    return x / (1 + np.exp(-x))


# --- conv1d (Mamba's causal depthwise conv) ------------------------------------
def conv1d_ref(x, w, b=None, act=False):
    c, k = w.shape
    y = torch.nn.functional.conv1d(
        torch.from_numpy(f64(x)), torch.from_numpy(f64(w))[:, None, :],
        None if b is None else torch.from_numpy(f64(b)), padding=k - 1,
        groups=c)[..., :x.shape[-1]].numpy()
    return silu(y) if act else y


for dt in FLOAT_TYPES:
    x = round_to(rng.standard_normal((2, 6, 11)), dt)
    w = round_to(rng.standard_normal((6, 4)), dt)
    b = round_to(rng.standard_normal(6), dt)
    BATCH.add(f"conv1d_bias_silu_{dt}",
              f"%r = iolite.conv1d %x0, %x1 bias(%x2 : {T(b.shape, dt)}) "
              f"activation = silu : {T(x.shape, dt)}, {T(w.shape, dt)}",
              [(x, dt), (w, dt), (b, dt)], [("r", T(x.shape, dt))],
              [conv1d_ref(x, w, b, True)])
w1 = rng.standard_normal((6, 1)).astype(np.float32)
x = round_to(rng.standard_normal((1, 6, 5)), "f32")
BATCH.add("conv1d_width1", f"%r = iolite.conv1d %x0, %x1 : {T(x.shape, 'f32')}, "
          f"{T(w1.shape, 'f32')}", [(x, "f32"), (w1, "f32")],
          [("r", T(x.shape, "f32"))], [conv1d_ref(x, w1)])


# conv1d_with_state: a sequence run in two chunks, each from the previous
# chunk's final state (the first from zeros), equals conv1d over the whole
# sequence; so does a run of decode steps (L = 1) from a nonzero state,
# against conv1d over [state, x].
def conv1d_with_state_ref(s0, x, w, b=None, act=False):
    xx = np.concatenate([f64(s0), f64(x)], -1)
    k = w.shape[1]
    return conv1d_ref(xx, w, b, act)[..., k - 1:], xx[..., xx.shape[-1] - (k - 1):]


for dt in ("f32", "f16"):
    x = round_to(rng.standard_normal((2, 6, 11)), dt)
    w = round_to(rng.standard_normal((6, 4)), dt)
    b = round_to(rng.standard_normal(6), dt)
    zeros = np.zeros((2, 6, 3))
    x1, x2 = x[..., :5], x[..., 5:]
    st, bt = T((2, 6, 3), dt), T(b.shape, dt)
    STATE_BATCH.add(f"conv1d_state_two_chunks_{dt}", f"""
%a, %s1 = iolite.conv1d_with_state %x0, %x2, %x4 bias(%x3 : {bt}) activation = silu
    : {T(x1.shape, dt)}, {T(w.shape, dt)}, {st}
%c, %s2 = iolite.conv1d_with_state %x1, %x2, %s1 bias(%x3 : {bt}) activation = silu
    : {T(x2.shape, dt)}, {T(w.shape, dt)}, {st}""",
              [(x1, dt), (x2, dt), (w, dt), (b, dt), (zeros, dt)],
              [("a", T(x1.shape, dt)), ("c", T(x2.shape, dt)), ("s2", st)],
              [conv1d_ref(x, w, b, True)[..., :5],
               conv1d_ref(x, w, b, True)[..., 5:], f64(x)[..., -3:]])
    s0 = round_to(rng.standard_normal((2, 6, 3)), dt)
    y, s3 = conv1d_with_state_ref(s0, x[..., :3], w)
    steps = []
    for t in range(3):
        prev = "%x3" if t == 0 else f"%s{t}"
        steps.append(f"%y{t + 1}, %s{t + 1} = iolite.conv1d_with_state "
                     f"%x{t}, %x4, {prev} : {T((2, 6, 1), dt)}, "
                     f"{T(w.shape, dt)}, {st}")
    STATE_BATCH.add(f"conv1d_state_decode_steps_{dt}", "\n".join(steps),
              [(x[..., t:t + 1], dt) for t in range(3)] + [(s0, dt), (w, dt)],
              [(f"y{t + 1}", T((2, 6, 1), dt)) for t in range(3)] +
              [("s3", st)],
              [y[..., t:t + 1] for t in range(3)] + [s3])


# A chunk shorter than the state (L = 2 < K - 1 = 3: the final state keeps
# one of the state's entries) and then one of 1100 steps (two segments of
# the GPU kernel's tiles) over 10 channels (a ragged block of channels),
# from a nonzero state.
x = round_to(rng.standard_normal((2, 10, 1102)), "f32")
w = round_to(rng.standard_normal((10, 4)), "f32")
b = round_to(rng.standard_normal(10), "f32")
s0 = round_to(rng.standard_normal((2, 10, 3)), "f32")
y, s_end = conv1d_with_state_ref(s0, x, w, b, True)
_, s_short = conv1d_with_state_ref(s0, x[..., :2], w, b, True)
st, bt = T((2, 10, 3), "f32"), T(b.shape, "f32")
STATE_BATCH.add("conv1d_state_short_then_long_f32", f"""
%a, %s1 = iolite.conv1d_with_state %x0, %x2, %x4 bias(%x3 : {bt}) activation = silu
    : {T((2, 10, 2), 'f32')}, {T(w.shape, 'f32')}, {st}
%c, %s2 = iolite.conv1d_with_state %x1, %x2, %s1 bias(%x3 : {bt}) activation = silu
    : {T((2, 10, 1100), 'f32')}, {T(w.shape, 'f32')}, {st}""",
                [(x[..., :2], "f32"), (x[..., 2:], "f32"), (w, "f32"),
                 (b, "f32"), (s0, "f32")],
                [("a", T((2, 10, 2), "f32")), ("s1", st),
                 ("c", T((2, 10, 1100), "f32")), ("s2", st)],
                [y[..., :2], s_short, y[..., 2:], s_end])


# --- selective scan ------------------------------------------------------------
def selective_scan_ref(u, delta, a, bm, cm, d=None, z=None, delta_bias=None,
                       delta_softplus=False, h0=None, return_state=False):
    """The recurrence one step at a time, float64, from `h0` (else zeros);
    with `return_state`, also the state after the last step."""
    u, delta, a, bm, cm = map(f64, (u, delta, a, bm, cm))
    dt = delta + (0 if delta_bias is None else f64(delta_bias)[:, None])
    if delta_softplus:
        dt = softplus(dt)
    batch, dim, length = u.shape
    h = np.zeros((batch, dim, a.shape[1])) if h0 is None else f64(h0)
    y = np.zeros_like(u)
    for t in range(length):
        h = np.exp(dt[:, :, t, None] * a) * h + \
            dt[:, :, t, None] * bm[:, None, :, t] * u[:, :, t, None]
        y[:, :, t] = (h * cm[:, None, :, t]).sum(-1)
    if d is not None:
        y = y + f64(d)[:, None] * u
    if z is not None:
        y = y * silu(f64(z))
    return (y, h) if return_state else y


def scan_inputs(dt, batch, dim, n, length):
    u = round_to(rng.standard_normal((batch, dim, length)), dt)
    delta = round_to(rng.uniform(-3, 1, (batch, dim, length)), dt)
    a = -np.exp(rng.uniform(-1, 1, (dim, n))).astype(np.float32)
    bm = round_to(rng.standard_normal((batch, n, length)), dt)
    cm = round_to(rng.standard_normal((batch, n, length)), dt)
    return u, delta, a, bm, cm


for dt in FLOAT_TYPES:
    for with_d, with_z in ((True, True), (False, False), (True, False),
                           (False, True)):
        batch, dim, n, length = 2, 5, 3, 17
        u, delta, a, bm, cm = scan_inputs(dt, batch, dim, n, length)
        inputs = [(u, dt), (delta, dt), (a, "f32"), (bm, dt), (cm, dt)]
        extra = ""
        d = z = None
        if with_d:
            d = rng.standard_normal(dim).astype(np.float32)
            extra += f" D(%x{len(inputs)} : {T(d.shape, 'f32')})"
            inputs.append((d, "f32"))
        if with_z:
            z = round_to(rng.standard_normal(u.shape), dt)
            extra += f" z(%x{len(inputs)} : {T(z.shape, dt)})"
            inputs.append((z, dt))
        bias = rng.standard_normal(dim).astype(np.float32) * 0.5
        extra += f" delta_bias(%x{len(inputs)} : {T(bias.shape, 'f32')})"
        inputs.append((bias, "f32"))
        BATCH.add(f"selective_scan_D{int(with_d)}_z{int(with_z)}_{dt}",
                  f"%r = iolite.selective_scan %x0, %x1, %x2, %x3, %x4{extra} "
                  f"{{delta_softplus}} : {T(u.shape, dt)}, {T(u.shape, dt)}, "
                  f"{T(a.shape, 'f32')}, {T(bm.shape, dt)}, {T(cm.shape, dt)}",
                  inputs, [("r", T(u.shape, dt))],
                  [selective_scan_ref(u, delta, a, bm, cm, d, z, bias, True)])
# Without softplus and bias: dt is delta itself.
u, delta, a, bm, cm = scan_inputs("f32", 1, 4, 2, 9)
delta = np.abs(delta)
BATCH.add("selective_scan_plain",
          f"%r = iolite.selective_scan %x0, %x1, %x2, %x3, %x4 : "
          f"{T(u.shape, 'f32')}, {T(u.shape, 'f32')}, {T(a.shape, 'f32')}, "
          f"{T(bm.shape, 'f32')}, {T(cm.shape, 'f32')}",
          [(u, "f32"), (delta, "f32"), (a, "f32"), (bm, "f32"), (cm, "f32")],
          [("r", T(u.shape, "f32"))], [selective_scan_ref(u, delta, a, bm, cm)])


# selective_scan_with_state: a sequence in two chunks from a nonzero state,
# the second from the first's final state, equals one scan over the whole
# sequence from that state; decode steps (L = 1) from zeros equal the scan.
def scan_types(dt, batch, dim, n, length):
    return (f"{T((batch, dim, length), dt)}, {T((batch, dim, length), dt)}, "
            f"{T((dim, n), 'f32')}, {T((batch, n, length), dt)}, "
            f"{T((batch, n, length), dt)}, {T((batch, dim, n), 'f32')}")


for dt in ("f32", "f16"):
    batch, dim, n, length, cut = 2, 5, 3, 9, 4
    u, delta, a, bm, cm = scan_inputs(dt, batch, dim, n, length)
    d = rng.standard_normal(dim).astype(np.float32)
    db = rng.uniform(-1, 1, dim).astype(np.float32)
    z = round_to(rng.standard_normal(u.shape), dt)
    h0 = rng.standard_normal((batch, dim, n)).astype(np.float32)
    y, h = selective_scan_ref(u, delta, a, bm, cm, d, z, db, True, h0=h0,
                              return_state=True)
    first, rest = np.s_[..., :cut], np.s_[..., cut:]
    opts = (f"D(%x6 : {T(d.shape, 'f32')}) z(%x{{z}} : {{zt}}) "
            f"delta_bias(%x8 : {T(db.shape, 'f32')}) {{{{delta_softplus}}}}")
    STATE_BATCH.add(f"scan_state_two_chunks_{dt}", f"""
%a, %h1 = iolite.selective_scan_with_state %x0, %x1, %x2, %x3, %x4, %x5
    {opts.format(z=7, zt=T((batch, dim, cut), dt))}
    : {scan_types(dt, batch, dim, n, cut)}
%c, %h2 = iolite.selective_scan_with_state %x9, %x10, %x2, %x11, %x12, %h1
    {opts.format(z=13, zt=T((batch, dim, length - cut), dt))}
    : {scan_types(dt, batch, dim, n, length - cut)}""",
              [(u[first], dt), (delta[first], dt), (a, "f32"), (bm[first], dt),
               (cm[first], dt), (h0, "f32"), (d, "f32"), (z[first], dt),
               (db, "f32"), (u[rest], dt), (delta[rest], dt), (bm[rest], dt),
               (cm[rest], dt), (z[rest], dt)],
              [("a", T((batch, dim, cut), dt)),
               ("c", T((batch, dim, length - cut), dt)),
               ("h2", T((batch, dim, n), "f32"))],
              [y[first], y[rest], h])

    steps = 3
    y, h = selective_scan_ref(u[..., :steps], delta[..., :steps], a,
                              bm[..., :steps], cm[..., :steps], d,
                              return_state=True)
    zeros = np.zeros((batch, dim, n), np.float32)
    body, inputs = [], [(a, "f32"), (d, "f32"), (zeros, "f32")]
    for t in range(steps):
        k = len(inputs)
        prev = "%x2" if t == 0 else f"%h{t}"
        body.append(
            f"%y{t + 1}, %h{t + 1} = iolite.selective_scan_with_state "
            f"%x{k}, %x{k + 1}, %x0, %x{k + 2}, %x{k + 3}, {prev} "
            f"D(%x1 : {T(d.shape, 'f32')}) : "
            f"{scan_types(dt, batch, dim, n, 1)}")
        sl = np.s_[..., t:t + 1]
        inputs += [(u[sl], dt), (delta[sl], dt), (bm[sl], dt), (cm[sl], dt)]
    STATE_BATCH.add(f"scan_state_decode_steps_{dt}", "\n".join(body), inputs,
              [(f"y{t + 1}", T((batch, dim, 1), dt)) for t in range(steps)] +
              [(f"h{steps}", T((batch, dim, n), "f32"))],
              [y[..., t:t + 1] for t in range(steps)] + [h])


# N = 64 (two lanes of 32 states per channel on the GPU), 70 channels (a
# ragged block), chunks of 20 and 1 steps (several of the kernel's chunks,
# then a decode step) from a nonzero state, f32 and f16.
for dt in ("f32", "f16"):
    batch, dim, n, length = 1, 70, 64, 21
    u, delta, a, bm, cm = scan_inputs(dt, batch, dim, n, length)
    h0 = rng.standard_normal((batch, dim, n)).astype(np.float32)
    y, h1 = selective_scan_ref(u[..., :20], delta[..., :20], a,
                               bm[..., :20], cm[..., :20], h0=h0,
                               delta_softplus=True, return_state=True)
    y2, h2 = selective_scan_ref(u[..., 20:], delta[..., 20:], a,
                                bm[..., 20:], cm[..., 20:], h0=h1,
                                delta_softplus=True, return_state=True)
    STATE_BATCH.add(f"scan_state_n64_chunk_then_step_{dt}", f"""
%a, %h1 = iolite.selective_scan_with_state %x0, %x1, %x2, %x3, %x4, %x5
    {{delta_softplus}} : {scan_types(dt, batch, dim, n, 20)}
%c, %h2 = iolite.selective_scan_with_state %x6, %x7, %x2, %x8, %x9, %h1
    {{delta_softplus}} : {scan_types(dt, batch, dim, n, 1)}""",
                    [(u[..., :20], dt), (delta[..., :20], dt), (a, "f32"),
                     (bm[..., :20], dt), (cm[..., :20], dt), (h0, "f32"),
                     (u[..., 20:], dt), (delta[..., 20:], dt),
                     (bm[..., 20:], dt), (cm[..., 20:], dt)],
                    [("a", T((batch, dim, 20), dt)),
                     ("h1", T((batch, dim, n), "f32")),
                     ("c", T((batch, dim, 1), dt)),
                     ("h2", T((batch, dim, n), "f32"))],
                    [y, h1, y2, h2])


# --- SSD (Mamba-2) -------------------------------------------------------------
def ssd_ref(x, dt, a, bm, cm, d=None, dt_bias=None, dt_softplus=False,
            h0=None, return_state=False):
    """SSD as the selective scan it equals: channel (h, p) of the scan has
    u = x[..., h, p], delta = dt[..., h], A = A[h] for every state, and the
    B/C of head h's group; h0 and the final state are [B, H, P, N]."""
    x, dt, a, bm, cm = map(f64, (x, dt, a, bm, cm))
    batch, length, heads, p = x.shape
    groups, n = bm.shape[2], bm.shape[3]
    if dt_bias is not None:
        dt = dt + f64(dt_bias)
    if dt_softplus:
        dt = softplus(dt)
    y = np.zeros_like(x)
    state = np.zeros((batch, heads, p, n))
    for h in range(heads):
        g = h // (heads // groups)
        u = np.transpose(x[:, :, h, :], (0, 2, 1))          # [B, P, L]
        delta = np.repeat(dt[:, None, :, h], p, axis=1)     # [B, P, L]
        a_ss = np.full((p, n), a[h])
        b_ss = np.transpose(bm[:, :, g, :], (0, 2, 1))      # [B, N, L]
        c_ss = np.transpose(cm[:, :, g, :], (0, 2, 1))
        d_ss = None if d is None else np.full(p, f64(d)[h])
        ys, state[:, h] = selective_scan_ref(
            u, delta, a_ss, b_ss, c_ss, d_ss,
            h0=None if h0 is None else h0[:, h], return_state=True)
        y[:, :, h, :] = np.transpose(ys, (0, 2, 1))
    return (y, state) if return_state else y


def ssd_case(name, dt, batch, length, heads, p, groups, n, chunk, with_d):
    x = round_to(rng.standard_normal((batch, length, heads, p)), dt)
    dtv = round_to(rng.uniform(-2, 1, (batch, length, heads)), dt)
    a = -np.exp(rng.uniform(-1, 1, heads)).astype(np.float32)
    bm = round_to(rng.standard_normal((batch, length, groups, n)), dt)
    cm = round_to(rng.standard_normal((batch, length, groups, n)), dt)
    bias = (rng.standard_normal(heads) * 0.5).astype(np.float32)
    inputs = [(x, dt), (dtv, dt), (a, "f32"), (bm, dt), (cm, dt)]
    extra = ""
    d = None
    if with_d:
        d = rng.standard_normal(heads).astype(np.float32)
        extra += f" D(%x{len(inputs)} : {T(d.shape, 'f32')})"
        inputs.append((d, "f32"))
    extra += f" dt_bias(%x{len(inputs)} : {T(bias.shape, 'f32')})"
    inputs.append((bias, "f32"))
    BATCH.add(f"ssd_{name}_{dt}",
              f"%r = iolite.ssd %x0, %x1, %x2, %x3, %x4{extra} "
              f"{{chunk_size = {chunk} : i64, dt_softplus}} : {T(x.shape, dt)}, "
              f"{T(dtv.shape, dt)}, {T(a.shape, 'f32')}, {T(bm.shape, dt)}, "
              f"{T(cm.shape, dt)}",
              inputs, [("r", T(x.shape, dt))],
              [ssd_ref(x, dtv, a, bm, cm, d, bias, True)])


for dt in FLOAT_TYPES:
    ssd_case("groups2", dt, 2, 19, 4, 3, 2, 5, 8, True)
ssd_case("one_group_no_D", "f32", 1, 23, 2, 4, 1, 3, 64, False)
ssd_case("chunk1", "f32", 1, 7, 3, 2, 3, 2, 1, True)

# ssd_with_state: a sequence in two chunks from a nonzero state, the second
# from the first's final state, equals one SSD over the whole sequence from
# that state; decode steps (L = 1) from zeros equal the SSD.
def ssd_types(dt, batch, length, heads, p, groups, n):
    return (f"{T((batch, length, heads, p), dt)}, "
            f"{T((batch, length, heads), dt)}, {T((heads,), 'f32')}, "
            f"{T((batch, length, groups, n), dt)}, "
            f"{T((batch, length, groups, n), dt)}, "
            f"{T((batch, heads, p, n), 'f32')}")


for dt in ("f32", "f16"):
    batch, length, heads, p, groups, n, cut = 2, 11, 4, 3, 2, 5, 6
    x = round_to(rng.standard_normal((batch, length, heads, p)), dt)
    dtv = round_to(rng.uniform(-2, 1, (batch, length, heads)), dt)
    a = -np.exp(rng.uniform(-1, 1, heads)).astype(np.float32)
    bm = round_to(rng.standard_normal((batch, length, groups, n)), dt)
    cm = round_to(rng.standard_normal((batch, length, groups, n)), dt)
    d = rng.standard_normal(heads).astype(np.float32)
    bias = (rng.standard_normal(heads) * 0.5).astype(np.float32)
    h0 = rng.standard_normal((batch, heads, p, n)).astype(np.float32)
    y, h = ssd_ref(x, dtv, a, bm, cm, d, bias, True, h0=h0, return_state=True)
    first, rest = np.s_[:, :cut], np.s_[:, cut:]
    opts = (f"D(%x6 : {T(d.shape, 'f32')}) dt_bias(%x7 : "
            f"{T(bias.shape, 'f32')}) {{chunk_size = 4 : i64, dt_softplus}}")
    STATE_BATCH.add(f"ssd_state_two_chunks_{dt}", f"""
%a, %h1 = iolite.ssd_with_state %x0, %x1, %x2, %x3, %x4, %x5 {opts}
    : {ssd_types(dt, batch, cut, heads, p, groups, n)}
%c, %h2 = iolite.ssd_with_state %x8, %x9, %x2, %x10, %x11, %h1 {opts}
    : {ssd_types(dt, batch, length - cut, heads, p, groups, n)}""",
              [(x[first], dt), (dtv[first], dt), (a, "f32"), (bm[first], dt),
               (cm[first], dt), (h0, "f32"), (d, "f32"), (bias, "f32"),
               (x[rest], dt), (dtv[rest], dt), (bm[rest], dt),
               (cm[rest], dt)],
              [("a", T((batch, cut, heads, p), dt)),
               ("c", T((batch, length - cut, heads, p), dt)),
               ("h2", T((batch, heads, p, n), "f32"))],
              [y[first], y[rest], h])

    steps = 3
    y, h = ssd_ref(x[:, :steps], dtv[:, :steps], a, bm[:, :steps],
                   cm[:, :steps], d, return_state=True)
    zeros = np.zeros((batch, heads, p, n), np.float32)
    body, inputs = [], [(a, "f32"), (d, "f32"), (zeros, "f32")]
    for t in range(steps):
        k = len(inputs)
        prev = "%x2" if t == 0 else f"%h{t}"
        body.append(
            f"%y{t + 1}, %h{t + 1} = iolite.ssd_with_state "
            f"%x{k}, %x{k + 1}, %x0, %x{k + 2}, %x{k + 3}, {prev} "
            f"D(%x1 : {T(d.shape, 'f32')}) : "
            f"{ssd_types(dt, batch, 1, heads, p, groups, n)}")
        sl = np.s_[:, t:t + 1]
        inputs += [(x[sl], dt), (dtv[sl], dt), (bm[sl], dt), (cm[sl], dt)]
    STATE_BATCH.add(f"ssd_state_decode_steps_{dt}", "\n".join(body), inputs,
              [(f"y{t + 1}", T((batch, 1, heads, p), dt))
               for t in range(steps)] +
              [(f"h{steps}", T((batch, heads, p, n), "f32"))],
              [y[:, t:t + 1] for t in range(steps)] + [h])


# SSD and the selective scan it equals, both through iolite (G = 1): the
# scan's channel h * P + p reads x[..., h, p] and dt[..., h].
batch, length, heads, p, n = 1, 12, 2, 3, 4
x = round_to(rng.standard_normal((batch, length, heads, p)), "f32")
dtv = rng.uniform(0.05, 1, (batch, length, heads)).astype(np.float32)
a = -np.exp(rng.uniform(-1, 1, heads)).astype(np.float32)
bm = rng.standard_normal((batch, length, 1, n)).astype(np.float32)
cm = rng.standard_normal((batch, length, 1, n)).astype(np.float32)
u = np.transpose(x.reshape(batch, length, heads * p), (0, 2, 1))
delta = np.transpose(np.repeat(dtv, p, axis=2), (0, 2, 1))
a_ss = np.repeat(a, p)[:, None] * np.ones((1, n), np.float32)
b_ss = np.transpose(bm[:, :, 0, :], (0, 2, 1))
c_ss = np.transpose(cm[:, :, 0, :], (0, 2, 1))
ref = ssd_ref(x, dtv, a, bm, cm)
hp = heads * p
BATCH.add("ssd_equals_selective_scan",
          f"""%ssd = iolite.ssd %x0, %x1, %x2, %x3, %x4 {{chunk_size = 5 : i64}}
    : {T(x.shape, 'f32')}, {T(dtv.shape, 'f32')}, {T(a.shape, 'f32')},
      {T(bm.shape, 'f32')}, {T(cm.shape, 'f32')}
%scan = iolite.selective_scan %x5, %x6, %x7, %x8, %x9
    : {T(u.shape, 'f32')}, {T(u.shape, 'f32')}, {T(a_ss.shape, 'f32')},
      {T(b_ss.shape, 'f32')}, {T(c_ss.shape, 'f32')}
%t = iolite.transpose %scan [0, 2, 1] : {T(u.shape, 'f32')}
%scan4 = iolite.reshape %t : {T((batch, length, hp), 'f32')} -> {T(x.shape, 'f32')}""",
          [(x, "f32"), (dtv, "f32"), (a, "f32"), (bm, "f32"), (cm, "f32"),
           (u, "f32"), (delta, "f32"), (a_ss, "f32"), (b_ss, "f32"),
           (c_ss, "f32")],
          [("ssd", T(x.shape, "f32")), ("scan4", T(x.shape, "f32"))],
          [ref, ref])


# --- long convolution ----------------------------------------------------------
def long_conv_fft(x, f, d=None):
    """Causal convolution through an FFT of length 2L (no wrap-around)."""
    x, f = f64(x), f64(f)
    length = x.shape[-1]
    n = 2 * length
    y = np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(f, n)[None], n)[..., :length]
    if d is not None:
        y = y + f64(d)[:, None] * x
    return y


for dt in FLOAT_TYPES:
    x = round_to(rng.standard_normal((2, 3, 29)), dt)
    f = round_to(rng.standard_normal((3, 29)) * 0.3, dt)
    d = round_to(rng.standard_normal(3), dt)
    BATCH.add(f"long_conv_full_{dt}",
              f"%r = iolite.long_conv %x0, %x1 D(%x2 : {T(d.shape, dt)}) : "
              f"{T(x.shape, dt)}, {T(f.shape, dt)}",
              [(x, dt), (f, dt), (d, dt)], [("r", T(x.shape, dt))],
              [long_conv_fft(x, f, d)])
x = round_to(rng.standard_normal((1, 4, 40)), "f32")
f = rng.standard_normal((4, 9)).astype(np.float32)
BATCH.add("long_conv_short_filter",
          f"%r = iolite.long_conv %x0, %x1 : {T(x.shape, 'f32')}, "
          f"{T(f.shape, 'f32')}", [(x, "f32"), (f, "f32")],
          [("r", T(x.shape, "f32"))], [long_conv_fft(x, f)])


@pytest.mark.parametrize("case", BATCH.names())
def test_state_space(case):
    BATCH.check(case)


@pytest.mark.parametrize("case", STATE_BATCH.names())
def test_state_space_with_state(case):
    STATE_BATCH.check(case)


# --- carried state on the emulated GPUs ----------------------------------------
# conv1d_with_state, selective_scan_with_state and ssd_with_state compile to
# the conv1d, selective-scan and SSD kernel templates (the state loaded into
# the halo / the registers of the recurrence, the final state stored as the
# second result). Every case of STATE_BATCH runs on emu-sm_90a and
# emu-gfx942 against the same float64 references, and a Mamba-1 layer step
# (conv1d_with_state -> selective_scan_with_state) and a Mamba-2 SSD step
# with symbolic batch and length run as decode steps and as a chunk of
# prefill from one bundle each.
EMU_CHIPS = ["emu-sm_90a", "emu-gfx942"]
EMU_STATE_OPS = {"conv1d_with_state": "conv1d",
                 "selective_scan_with_state": "selective_scan",
                 "ssd_with_state": "ssd"}
EMU_STATE_BATCH = Batch("state_space_with_state_emu")
EMU_STATE_BATCH.cases = STATE_BATCH.cases


def import_iolite():
    """The iolite package of the build (imported only by the emu tests)."""
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    return iolite


@pytest.fixture(scope="module")
def emu_state_bundle():
    b = import_iolite().compile(EMU_STATE_BATCH.mlir(), targets=EMU_CHIPS,
                                name="ssm_state_emu")
    yield b
    b.close()


def test_state_ops_use_the_ssm_templates(emu_state_bundle):
    """Each carried-state op is a kernel of the conv1d or selective-scan
    template, on every chip."""
    seen = 0
    for line in emu_state_bundle.table.splitlines():
        cols = line.split()
        if len(cols) < 3 or not any(op in cols[2].split(",")
                                    for op in EMU_STATE_OPS):
            continue
        seen += 1
        assert cols[1] == EMU_STATE_OPS[cols[2]], line
    assert seen == sum(c["body"].count("_with_state")
                       for c in EMU_STATE_BATCH.cases)


@pytest.mark.parametrize("chip", EMU_CHIPS)
def test_state_space_with_state_emu(emu_state_bundle, chip):
    EMU_STATE_BATCH.check_bundle(emu_state_bundle, target=chip)


def mamba1_step_model(dt):
    """Conv (K = 4, SiLU) and selective scan (N = 16, D, z, delta_bias,
    softplus) of a Mamba-1 layer, each continuing from its state, with
    symbolic batch and length (0 included: the states pass through)."""
    seq3 = f'{{iolite.dims = ["batch", "", "seq"]}}'
    b3 = f'{{iolite.dims = ["batch", "", ""]}}'
    ts = lambda c: f"tensor<?x{c}x?x{dt}>"  # noqa: E731
    return f"""
func.func @mamba1_step(%x: {ts(24)} {seq3}, %w: tensor<24x4x{dt}>,
    %cb: tensor<24x{dt}>, %cs: tensor<?x24x3x{dt}> {b3},
    %delta: {ts(24)} {seq3}, %A: tensor<24x16xf32>, %B: {ts(16)} {seq3},
    %C: {ts(16)} {seq3}, %h: tensor<?x24x16xf32> {b3},
    %D: tensor<24xf32>, %z: {ts(24)} {seq3}, %db: tensor<24xf32>)
    -> ({ts(24)}, tensor<?x24x3x{dt}>, tensor<?x24x16xf32>)
    attributes {{iolite.dim_bounds = {{batch = array<i64: 1, 4>,
                                      seq = array<i64: 0, 64>}}}} {{
  %u, %cs2 = iolite.conv1d_with_state %x, %w, %cs bias(%cb : tensor<24x{dt}>)
      activation = silu : {ts(24)}, tensor<24x4x{dt}>, tensor<?x24x3x{dt}>
  %y, %h2 = iolite.selective_scan_with_state %u, %delta, %A, %B, %C, %h
      D(%D : tensor<24xf32>) z(%z : {ts(24)}) delta_bias(%db : tensor<24xf32>)
      {{delta_softplus}} : {ts(24)}, {ts(24)}, tensor<24x16xf32>, {ts(16)},
      {ts(16)}, tensor<?x24x16xf32>
  return %y, %cs2, %h2 : {ts(24)}, tensor<?x24x3x{dt}>, tensor<?x24x16xf32>
}}
"""


@pytest.fixture(scope="module", params=["f32", "f16"])
def mamba1_step_bundle(request):
    b = import_iolite().compile(mamba1_step_model(request.param),
                                targets=EMU_CHIPS, name="mamba1_step")
    yield request.param, b
    b.close()


@pytest.mark.parametrize("chip", EMU_CHIPS)
@pytest.mark.parametrize("batch,seq", [(1, 1), (3, 1), (2, 37), (2, 0)])
def test_mamba1_step_any_batch_and_length(mamba1_step_bundle, chip, batch,
                                          seq):
    dt, bundle = mamba1_step_bundle
    r = np.random.default_rng(batch * 100 + seq)
    nd = np.float32 if dt == "f32" else np.float16
    f = lambda *s: r.standard_normal(s).astype(nd)  # noqa: E731
    x, w, cb, cs = f(batch, 24, seq), f(24, 4), f(24), f(batch, 24, 3)
    delta = r.uniform(-3, 1, (batch, 24, seq)).astype(nd)
    a = -np.exp(r.uniform(-1, 1, (24, 16))).astype(np.float32)
    bm, cm, z = f(batch, 16, seq), f(batch, 16, seq), f(batch, 24, seq)
    h = r.standard_normal((batch, 24, 16)).astype(np.float32)
    d = r.standard_normal(24).astype(np.float32)
    db = r.uniform(-1, 1, 24).astype(np.float32)
    u, cs_end = conv1d_with_state_ref(cs, x, w, cb, True)
    # The scan reads u in the storage type, as the kernel boundary rounds it.
    u = round_to(u, dt)
    y, h_end = selective_scan_ref(u, delta, a, bm, cm, d, z, db, True, h0=h,
                                  return_state=True)
    got = bundle.run(x, w, cb, cs, delta, a, bm, cm, h, d, z, db,
                     target=chip)
    assert [g.shape for g in got] == [(batch, 24, seq), (batch, 24, 3),
                                      (batch, 24, 16)]
    assert_close(got[0], y, dt, f"{chip} y")
    assert_close(got[1], cs_end, dt, f"{chip} conv state")
    assert_close(got[2], h_end, "f32", f"{chip} scan state")


def mamba2_step_model(dt):
    """SSD (4 heads of 16, 2 groups, N = 16, D, dt_bias, softplus, chunk 32)
    continuing from its state, with symbolic batch and length."""
    seq = '{iolite.dims = ["batch", "seq", "", ""]}'
    seq3 = '{iolite.dims = ["batch", "seq", ""]}'
    b4 = '{iolite.dims = ["batch", "", "", ""]}'
    tx, tdt = f"tensor<?x?x4x16x{dt}>", f"tensor<?x?x4x{dt}>"
    tb, th = f"tensor<?x?x2x16x{dt}>", "tensor<?x4x16x16xf32>"
    return f"""
func.func @mamba2_step(%x: {tx} {seq}, %dt: {tdt} {seq3},
    %A: tensor<4xf32>, %B: {tb} {seq}, %C: {tb} {seq}, %h: {th} {b4},
    %D: tensor<4xf32>, %db: tensor<4xf32>) -> ({tx}, {th})
    attributes {{iolite.dim_bounds = {{batch = array<i64: 1, 4>,
                                      seq = array<i64: 0, 64>}}}} {{
  %y, %h2 = iolite.ssd_with_state %x, %dt, %A, %B, %C, %h
      D(%D : tensor<4xf32>) dt_bias(%db : tensor<4xf32>)
      {{chunk_size = 32 : i64, dt_softplus}}
      : {tx}, {tdt}, tensor<4xf32>, {tb}, {tb}, {th}
  return %y, %h2 : {tx}, {th}
}}
"""


@pytest.fixture(scope="module", params=["f32", "f16"])
def mamba2_step_bundle(request):
    b = import_iolite().compile(mamba2_step_model(request.param),
                                targets=EMU_CHIPS, name="mamba2_step")
    yield request.param, b
    b.close()


@pytest.mark.parametrize("chip", EMU_CHIPS)
@pytest.mark.parametrize("batch,seq", [(1, 1), (3, 1), (2, 45), (2, 0)])
def test_mamba2_step_any_batch_and_length(mamba2_step_bundle, chip, batch,
                                          seq):
    """One bundle serves decode steps and a prefill chunk of two chunks of
    the kernel (the second ragged), all from a nonzero state; an empty
    chunk returns the state unchanged."""
    dt, bundle = mamba2_step_bundle
    r = np.random.default_rng(batch * 100 + seq + 7)
    nd = np.float32 if dt == "f32" else np.float16
    f = lambda *s: r.standard_normal(s).astype(nd)  # noqa: E731
    x = f(batch, seq, 4, 16)
    bm, cm = f(batch, seq, 2, 16), f(batch, seq, 2, 16)
    dtv = r.uniform(-2, 1, (batch, seq, 4)).astype(nd)
    a = -np.exp(r.uniform(-1, 1, 4)).astype(np.float32)
    h = r.standard_normal((batch, 4, 16, 16)).astype(np.float32)
    d = r.standard_normal(4).astype(np.float32)
    db = (r.standard_normal(4) * 0.5).astype(np.float32)
    y, h_end = ssd_ref(x, dtv, a, bm, cm, d, db, True, h0=h,
                       return_state=True)
    got = bundle.run(x, dtv, a, bm, cm, h, d, db, target=chip)
    assert [g.shape for g in got] == [(batch, seq, 4, 16), (batch, 4, 16, 16)]
    assert_close(got[0], y, dt, f"{chip} y")
    assert_close(got[1], h_end, "f32", f"{chip} state")
