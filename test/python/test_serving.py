"""KV cache append, attention over a KV cache (contiguous and paged) and
packed variable-length attention on the CPU against a float64 NumPy
reference written from the ops' descriptions (IoliteOps.td).

Cases: decode (one query), a step of several queries with the causal
diagonal at the bottom right, sequences of length 0 and 1, ragged lengths,
GQA, a paged cache whose pages are out of order and whose block table holds
garbage past each sequence's last page, an append that crosses a page
boundary, an append then attention as one decode step, and varlen batches
with unequal query and key lengths (and an empty sequence); and a paged
decode whose batch, pool and table sizes are symbolic dims given at run
time.

The cache_attention cases (and long caches that split the KV range over
several blocks, flash-decoding, and lengths or page numbers outside the
cache, which the CPU reference clamps) also run on both emulated chips
(emu-sm_90a, emu-gfx942) through the attention template: f16 and bf16 on
the matrix units and on the FMA units, f32 on the FMA units; and so do the
symbolic paged decode and a contiguous cache of symbolic batch and
capacity whose long sequences split their KV range at run time. So do the
varlen cases (the packed-batch kernels of the same template), and
decreasing boundaries run there under the emulator's bounds checks.
"""

import sys

import numpy as np
import pytest

from iolite_testing import (TOLERANCES, Batch, assert_close, build_dir,
                            iolite_run, round_to, tensor_type as T)

rng = np.random.default_rng(16)
BATCH = Batch("serving")
# kv_cache_append cases and decode steps: also compiled for the emulated
# GPUs, where every updated cache is written in place into its argument.
APPEND = Batch("kv_cache_append")
# cache_attention cases: also compiled for the emulated GPUs.
CACHE = Batch("cache_attention")
CHIPS = ["emu-sm_90a", "emu-gfx942"]


def f64(x):
    return np.asarray(x, np.float64)


# --- references --------------------------------------------------------------
def append_ref(kc, vc, k, v, lens, table=None):
    kc, vc = f64(kc).copy(), f64(vc).copy()
    for b in range(k.shape[0]):
        for t in range(k.shape[1]):
            p = int(lens[b]) + t
            if table is None:
                if p < kc.shape[1]:
                    kc[b, p], vc[b, p] = k[b, t], v[b, t]
            else:
                page = table[b, p // kc.shape[1]]
                kc[page, p % kc.shape[1]] = k[b, t]
                vc[page, p % kc.shape[1]] = v[b, t]
    return kc, vc


def attend(q, k, v, causal, scale, total=None):
    """q [Sq, Hq, D], k [Sk, Hkv, D], v [Sk, Hkv, Dv]; bottom-right causal.
    `total` (default Sk) is the sequence length the query positions are
    counted from (a length past a cache's capacity keeps its positions but
    only the cache's keys, as the CPU reference does)."""
    sq, hq, _ = q.shape
    sk, hkv, _ = k.shape
    total = sk if total is None else total
    out = np.zeros((sq, hq, v.shape[2]))
    for h in range(hq):
        kh = h // (hq // hkv)
        for i in range(sq):
            n = sk if not causal else min(sk, total - sq + i + 1)
            if n <= 0:
                continue
            s = scale * (f64(k[:n, kh]) @ f64(q[i, h]))
            w = np.exp(s - s.max())
            out[i, h] = (w / w.sum()) @ f64(v[:n, kh])
    return out


def cache_rows(cache, b, n, table):
    """The first n keys of sequence b: a length is clamped to the cache's
    capacity and a page number into the pool (the CPU reference's rules for
    input only run time can see)."""
    if table is None:
        return cache[b, :max(n, 0)]
    p = cache.shape[1]
    n = max(0, min(n, table.shape[1] * p))
    pages = np.clip(table, 0, cache.shape[0] - 1)
    return np.concatenate([cache[pages[b, j // p], j % p][None]
                           for j in range(n)]) if n else cache[0, :0]


def cache_attention_ref(q, kc, vc, lens, table=None, causal=False,
                        scale=None):
    scale = scale or 1.0 / np.sqrt(q.shape[-1])
    out = np.zeros(q.shape[:3] + (vc.shape[3],))
    for b in range(q.shape[0]):
        n = int(lens[b])
        out[b] = attend(q[b], cache_rows(kc, b, n, table),
                        cache_rows(vc, b, n, table), causal, scale, n)
    return out


def varlen_ref(q, k, v, cuq, cuk, causal=False, scale=None):
    """Row by row as the op's description (and the CPU reference) says:
    query row i belongs to sequence s = #{b >= 1 : cu_q[b] <= i}; it
    attends to the keys j with cu_k[s] <= j < cu_k[s+1] (and, causal,
    j <= i + cu_k[s+1] - cu_q[s+1]) when s < B and i >= cu_q[s]; other rows
    are zeros. Boundaries past the packed tensors only limit the rows and
    keys that exist; the causal diagonal keeps the unclamped ends."""
    scale = scale or 1.0 / np.sqrt(q.shape[-1])
    cuq, cuk = [int(x) for x in cuq], [int(x) for x in cuk]
    seqs, hq, hkv = len(cuq) - 1, q.shape[1], k.shape[1]
    out = np.zeros(q.shape[:2] + (v.shape[2],))
    j = np.arange(k.shape[0])
    for i in range(q.shape[0]):
        s = sum(1 for c in cuq[1:] if c <= i)
        if s >= seqs or i < cuq[s]:
            continue
        keep = (j >= cuk[s]) & (j < cuk[s + 1])
        if causal:
            keep &= j <= i + cuk[s + 1] - cuq[s + 1]
        if not keep.any():
            continue
        for h in range(hq):
            kh = h // (hq // hkv)
            x = scale * (f64(k[keep, kh]) @ f64(q[i, h]))
            w = np.exp(x - x.max())
            out[i, h] = (w / w.sum()) @ f64(v[keep, kh])
    return out


def randn(shape, dt):
    return round_to(rng.standard_normal(shape), dt)


def i32(x):
    return np.asarray(x, np.int32)


# --- kv_cache_append ---------------------------------------------------------
def add_append(name, dt, cache_shape, new_shape, lens, table=None, dv=None):
    dv = dv or new_shape[3]
    kc = randn(cache_shape, dt)
    vc = randn(cache_shape[:3] + (dv,), dt)
    k = randn(new_shape, dt)
    v = randn(new_shape[:3] + (dv,), dt)
    lens = i32(lens)
    inputs = [(kc, dt), (vc, dt), (k, dt), (v, dt), (lens, "i32")]
    paged = ""
    if table is not None:
        table = i32(table)
        inputs.append((table, "i32"))
        paged = f" block_table(%x5 : {T(table.shape, 'i32')})"
    kt, vt = T(kc.shape, dt), T(vc.shape, dt)
    body = (f"%r:2 = iolite.kv_cache_append %x0, %x1, %x2, %x3, %x4{paged} : "
            f"{kt}, {vt}, {T(k.shape, dt)}, {T(v.shape, dt)}, "
            f"{T(lens.shape, 'i32')}")
    for batch in (BATCH, APPEND):
        batch.add(name, body, inputs, [("r#0", kt), ("r#1", vt)],
                  list(append_ref(kc, vc, k, v, lens, table)))


add_append("append_prefill_ragged_f32", "f32", (3, 8, 2, 4), (3, 2, 2, 4),
           [0, 3, 6])
add_append("append_decode_f16", "f16", (3, 8, 2, 4), (3, 1, 2, 4), [0, 1, 7],
           dv=6)
# A write past the cache is dropped by the reference (the op says such a
# write is an error the verifier cannot see).
add_append("append_past_end_dropped", "f32", (1, 8, 1, 4), (1, 2, 1, 4), [7])
# Pages out of order; sequence 0 crosses from page 5 to page 1.
add_append("append_paged", "f32", (8, 4, 2, 4), (2, 2, 2, 4), [3, 6],
           table=[[5, 1, 6], [2, 7, 0]])
add_append("append_paged_decode_bf16", "bf16", (8, 4, 2, 4), (3, 1, 2, 4),
           [0, 4, 11], table=[[3, -1, -1], [6, 0, -1], [7, 2, 4]])


# --- cache_attention ---------------------------------------------------------
def add_cache_attention(name, dt, q_shape, cache_shape, lens, table=None,
                        causal=False, scale=None, dv=None):
    dv = dv or q_shape[3]
    q = randn(q_shape, dt)
    kc = randn(cache_shape, dt)
    vc = randn(cache_shape[:3] + (dv,), dt)
    lens = i32(lens)
    inputs = [(q, dt), (kc, dt), (vc, dt), (lens, "i32")]
    paged = ""
    if table is not None:
        table = i32(table)
        inputs.append((table, "i32"))
        paged = f" block_table(%x4 : {T(table.shape, 'i32')})"
    attrs = []
    if causal:
        attrs.append("causal")
    if scale:
        attrs.append(f"scale = {scale} : f32")
    attr = " {" + ", ".join(attrs) + "}" if attrs else ""
    out = q_shape[:3] + (dv,)
    body = (f"%o = iolite.cache_attention %x0, %x1, %x2, %x3{paged}{attr} : "
            f"{T(q.shape, dt)}, {T(kc.shape, dt)}, {T(vc.shape, dt)}, "
            f"{T(lens.shape, 'i32')}")
    table_ref = None if table is None else table
    CACHE.add(name, body, inputs, [("o", T(out, dt))],
              [cache_attention_ref(q, kc, vc, lens, table_ref, causal, scale)])


for dt in ("f32", "f16"):
    # Decode: one query, lengths 0 (zeros), 1, ragged, full; GQA 4/2.
    add_cache_attention(f"decode_gqa_{dt}", dt, (4, 1, 4, 8), (4, 9, 2, 8),
                        [0, 1, 5, 9], causal=True)
add_cache_attention("decode_not_causal_dv", "f32", (3, 1, 2, 8), (3, 6, 1, 8),
                    [6, 2, 1], dv=5, scale=0.3)
# A step of 3 queries: sequence 2 (length 2) has a first query at position
# -1, which sees no key.
add_cache_attention("step_causal_bottom_right", "f32", (3, 3, 4, 8),
                    (3, 7, 2, 8), [3, 7, 2], causal=True)
add_cache_attention("step_not_causal", "f16", (2, 3, 2, 8), (2, 7, 2, 8),
                    [4, 7])
# Paged: pages out of order, garbage (-1, 99) past each sequence's pages.
add_cache_attention("paged_decode_gqa", "f32", (3, 1, 4, 8), (10, 4, 2, 8),
                    [5, 0, 12], table=[[7, 2, -1], [99, -1, -1], [0, 9, 4]],
                    causal=True)
add_cache_attention("paged_step_f16", "f16", (2, 2, 2, 8), (6, 3, 1, 8),
                    [4, 9], table=[[5, 1, 99], [3, 0, 2]], causal=True)
# Long caches: sequences of 513+ keys split their KV range over several
# blocks (flash-decoding) and a combine kernel merges them; short ones in
# the same launch do not. Lengths 0, 1, ragged and full.
add_cache_attention("decode_split_gqa_f32", "f32", (5, 1, 8, 16),
                    (5, 700, 2, 16), [700, 0, 1, 613, 77], causal=True)
add_cache_attention("step_split_not_causal_f32", "f32", (2, 4, 4, 8),
                    (2, 900, 2, 8), [900, 530], dv=12)
add_cache_attention("step_split_causal_bf16", "bf16", (3, 3, 4, 16),
                    (3, 640, 1, 16), [640, 2, 555], causal=True)
# Paged and long: 41 pages of 16 out of order, garbage past each sequence's
# last page.
perm = rng.permutation(41)
long_table = np.full((3, 40), -7)
long_table[0, :38] = perm[:38]
long_table[2, :35] = perm[3:38][::-1]
long_table[1, 0] = 12345
for dt in ("f32", "f16"):
    add_cache_attention(f"paged_split_decode_{dt}", dt, (3, 1, 4, 16),
                        (41, 16, 2, 16), [600, 0, 545], table=long_table,
                        causal=True)
add_cache_attention("paged_split_step_bf16", "bf16", (2, 2, 2, 16),
                    (41, 16, 1, 16), [545, 600], table=long_table[[2, 0]])
# Input only run time can see: a length past the cache's capacity and page
# numbers outside the pool are clamped (never read out of bounds).
add_cache_attention("clamped_length", "f32", (2, 2, 2, 8), (2, 5, 1, 8),
                    [9, -3], causal=True)
add_cache_attention("clamped_pages", "f32", (2, 1, 2, 8), (4, 2, 1, 8),
                    [5, 9], table=[[77, -5, 2], [1, 3, 0]])

# The lengths computed in the step (the old lengths + 1): a prologue of the
# attention kernel, read by it and by its combine kernel.
q = randn((2, 1, 4, 8), "f32")
kc = randn((2, 800, 2, 8), "f32")
vc = randn((2, 800, 2, 8), "f32")
lens = i32([699, 30])
ct, lt = T(kc.shape, "f32"), T(lens.shape, "i32")
CACHE.add("lengths_plus_one", f"""
%one = iolite.constant dense<1> : {lt}
%n = iolite.add %x3, %one : {lt}, {lt}
%o = iolite.cache_attention %x0, %x1, %x2, %n {{causal}}
    : {T(q.shape, 'f32')}, {ct}, {ct}, {lt}""",
          [(q, "f32"), (kc, "f32"), (vc, "f32"), (lens, "i32")],
          [("o", T(q.shape, "f32"))],
          [cache_attention_ref(q, kc, vc, lens + 1, causal=True)])

# One decode step as flash_attn_with_kvcache does it: append the new token
# at the old lengths, then attend over the new lengths.
kc = randn((3, 6, 2, 8), "f32")
vc = randn((3, 6, 2, 8), "f32")
knew = randn((3, 1, 2, 8), "f32")
vnew = randn((3, 1, 2, 8), "f32")
qnew = randn((3, 1, 4, 8), "f32")
lens = i32([0, 2, 5])
kc2, vc2 = append_ref(kc, vc, knew, vnew, lens)
ct, nt, lt = T(kc.shape, "f32"), T(knew.shape, "f32"), T(lens.shape, "i32")
BATCH.add("append_then_attend", f"""
%c:2 = iolite.kv_cache_append %x0, %x1, %x2, %x3, %x4 : {ct}, {ct}, {nt}, {nt}, {lt}
%o = iolite.cache_attention %x5, %c#0, %c#1, %x6 {{causal}}
    : {T(qnew.shape, 'f32')}, {ct}, {ct}, {lt}""",
          [(kc, "f32"), (vc, "f32"), (knew, "f32"), (vnew, "f32"),
           (lens, "i32"), (qnew, "f32"), (lens + 1, "i32")],
          [("o", T((3, 1, 4, 8), "f32"))],
          [cache_attention_ref(qnew, kc2, vc2, lens + 1, causal=True)])


# The same step on the GPUs returns the updated caches too (a bundle writes
# them in place, as outputs tied to the cache arguments), contiguous and
# paged, with GQA and bf16.
APPEND.add("append_then_attend_step", f"""
%c:2 = iolite.kv_cache_append %x0, %x1, %x2, %x3, %x4 : {ct}, {ct}, {nt}, {nt}, {lt}
%o = iolite.cache_attention %x5, %c#0, %c#1, %x6 {{causal}}
    : {T(qnew.shape, 'f32')}, {ct}, {ct}, {lt}""",
           [(kc, "f32"), (vc, "f32"), (knew, "f32"), (vnew, "f32"),
            (lens, "i32"), (qnew, "f32"), (lens + 1, "i32")],
           [("o", T((3, 1, 4, 8), "f32")), ("c#0", ct), ("c#1", ct)],
           [cache_attention_ref(qnew, kc2, vc2, lens + 1, causal=True), kc2,
            vc2])
pool_k = randn((9, 4, 2, 8), "bf16")
pool_v = randn((9, 4, 2, 8), "bf16")
knew = randn((3, 2, 2, 8), "bf16")
vnew = randn((3, 2, 2, 8), "bf16")
qnew = randn((3, 2, 8, 8), "bf16")
lens = i32([0, 3, 9])
table = i32([[4, -1, -1, -1], [8, 2, -1, -1], [0, 6, 1, 99]])
pk2, pv2 = append_ref(pool_k, pool_v, knew, vnew, lens, table)
pt, nt, lt = T(pool_k.shape, "bf16"), T(knew.shape, "bf16"), T((3,), "i32")
tt = T(table.shape, "i32")
APPEND.add("paged_append_then_attend_bf16", f"""
%c:2 = iolite.kv_cache_append %x0, %x1, %x2, %x3, %x4 block_table(%x5 : {tt})
    : {pt}, {pt}, {nt}, {nt}, {lt}
%n = iolite.add %x4, %x7 : {lt}, {lt}
%o = iolite.cache_attention %x6, %c#0, %c#1, %n block_table(%x5 : {tt})
    {{causal}} : {T(qnew.shape, 'bf16')}, {pt}, {pt}, {lt}""",
           [(pool_k, "bf16"), (pool_v, "bf16"), (knew, "bf16"),
            (vnew, "bf16"), (lens, "i32"), (table, "i32"), (qnew, "bf16"),
            (i32([2, 2, 2]), "i32")],
           [("o", T(qnew.shape, "bf16")), ("c#0", pt), ("c#1", pt)],
           [cache_attention_ref(qnew, pk2, pv2, lens + 2, table, causal=True),
            pk2, pv2])


# --- varlen_attention --------------------------------------------------------
# varlen cases: also compiled for the emulated GPUs.
VARLEN = Batch("varlen_attention")


def add_varlen(name, dt, cuq, cuk, hq, hkv, d, causal=False, dv=None,
               tq=None, tk=None, max_q=None):
    """tq / tk (default: the last boundaries) size the packed tensors; rows
    past the sequences are zeros. max_q sets max_seqlen_q."""
    dv = dv or d
    cuq, cuk = i32(cuq), i32(cuk)
    tq = int(cuq[-1]) if tq is None else tq
    tk = int(cuk[-1]) if tk is None else tk
    q = randn((tq, hq, d), dt)
    k = randn((tk, hkv, d), dt)
    v = randn((tk, hkv, dv), dt)
    attrs = (["causal"] if causal else []) + (
        [f"max_seqlen_q = {max_q}"] if max_q else [])
    attr = " {" + ", ".join(attrs) + "}" if attrs else ""
    body = (f"%o = iolite.varlen_attention %x0, %x1, %x2, %x3, %x4{attr} : "
            f"{T(q.shape, dt)}, {T(k.shape, dt)}, {T(v.shape, dt)}, "
            f"{T(cuq.shape, 'i32')}, {T(cuk.shape, 'i32')}")
    VARLEN.add(name, body,
               [(q, dt), (k, dt), (v, dt), (cuq, "i32"), (cuk, "i32")],
               [("o", T((q.shape[0], hq, dv), dt))],
               [varlen_ref(q, k, v, cuq, cuk, causal)])


for dt in ("f32", "f16"):
    # Unequal lengths, an empty query sequence, fewer queries than keys.
    add_varlen(f"varlen_causal_gqa_{dt}", dt, [0, 3, 3, 7], [0, 5, 6, 11], 4,
               2, 8, causal=True)
add_varlen("varlen_not_causal", "f32", [0, 2, 6], [0, 3, 5], 2, 1, 8, dv=4)
# More queries than keys: the first queries of the sequence see nothing.
add_varlen("varlen_causal_short_keys", "f32", [0, 4, 5], [0, 2, 4], 2, 2, 8,
           causal=True)
add_varlen("varlen_prefill_equal", "f16", [0, 5, 12], [0, 5, 12], 2, 2, 8,
           causal=True)
# Lengths that are not multiples of any tile (several q and KV tiles per
# sequence), an empty sequence, GQA 4:1, max_seqlen_q given; causal and not.
for dt in ("f16", "bf16", "f32"):
    add_varlen(f"varlen_long_causal_gqa_{dt}", dt, [0, 70, 70, 203, 230],
               [0, 90, 95, 228, 300], 8, 2, 16, causal=True, max_q=133)
add_varlen("varlen_long_not_causal_bf16", "bf16", [0, 45, 150, 151],
           [0, 100, 130, 260], 4, 1, 16, dv=24)
# A sequence with queries but no keys: its rows are zeros (not causal).
add_varlen("varlen_no_keys", "f16", [0, 4, 9, 30], [0, 0, 6, 40], 4, 2, 16)
# Rows before the first and after the last sequence are zeros.
add_varlen("varlen_uncovered_rows", "f16", [3, 8, 8, 20], [0, 6, 9, 30], 4,
           2, 16, causal=True, tq=26)
# Boundaries outside the packed tensors (a negative start, ends past Tq and
# Tk) are clamped; the causal diagonal keeps the unclamped ends.
add_varlen("varlen_clamped_boundaries", "f32", [-3, 5, 40], [-2, 7, 50], 2,
           1, 8, causal=True, tq=12, tk=15)


@pytest.mark.parametrize("case", BATCH.names())
def test_serving(case):
    BATCH.check(case)


@pytest.mark.parametrize("case", CACHE.names())
def test_cache_attention(case):
    CACHE.check(case)


@pytest.mark.parametrize("case", VARLEN.names())
def test_varlen_attention(case):
    VARLEN.check(case)


@pytest.fixture(scope="module", params=["matrix", "fma"])
def cache_bundle(request):
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    b = iolite.compile(CACHE.mlir(), targets=CHIPS, name="cache_attention",
                       no_matrix_units=request.param == "fma")
    yield b
    b.close()


@pytest.mark.parametrize("chip", CHIPS)
def test_cache_attention_gpu(cache_bundle, chip):
    """The attention template's kernels (split-KV and its combine kernel
    where a sequence is long) on the emulated chips."""
    for line in cache_bundle.table.splitlines():
        cols = line.split()
        if len(cols) > 2 and "cache_attention" in cols[2].split(","):
            assert cols[1] in ("attention", "attention_combine"), line
    # Some cases hold lengths and pages outside the cache on purpose: the
    # kernels must clamp them (NAME_check_inputs would refuse them).
    CACHE.check_bundle(cache_bundle, target=chip, check_inputs=False)


@pytest.fixture(scope="module")
def append_bundle():
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    b = iolite.compile(APPEND.mlir(), targets=CHIPS, name="kv_cache_append")
    yield b
    b.close()


@pytest.mark.parametrize("chip", CHIPS)
def test_append_gpu(append_bundle, chip):
    """Appends (contiguous, paged, ragged, past the end, f32/f16/bf16) and
    decode steps on the emulated chips: the updated caches, read back from
    the cache arguments' buffers, equal the reference."""
    caches = [o for o in append_bundle.manifest["outputs"]
              if "tied_input" in o]
    # Two caches per case, each tied to its own argument.
    assert len(caches) == 2 * len(APPEND.cases), caches
    assert len({o["tied_input"] for o in caches}) == len(caches)
    for line in append_bundle.table.splitlines():
        cols = line.split()
        if len(cols) > 2 and cols[2] == "kv_cache_append":
            assert cols[1] == "kv_cache_append", line
    # append_past_end_dropped writes past its cache on purpose: the kernel
    # drops the write (NAME_check_inputs would refuse it).
    APPEND.check_bundle(append_bundle, target=chip, check_inputs=False)


@pytest.mark.parametrize("chip", CHIPS)
def test_append_in_place_traffic(chip):
    """A decode step's append into a 4096-token cache writes the new rows
    and nothing else: no copy of the cache per step."""
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    ct, nt = T((2, 4096, 2, 64), "f16"), T((2, 1, 2, 64), "f16")
    src = f"""
func.func @step(%kc: {ct}, %vc: {ct}, %k: {nt}, %v: {nt},
                %lens: tensor<2xi32>) -> ({ct}, {ct}) {{
  %c:2 = iolite.kv_cache_append %kc, %vc, %k, %v, %lens
      : {ct}, {ct}, {nt}, {nt}, tensor<2xi32>
  return %c#0, %c#1 : {ct}, {ct}
}}"""
    b = iolite.compile(src, targets=[chip], name="in_place")
    try:
        kc, vc = randn((2, 4096, 2, 64), "f16"), randn((2, 4096, 2, 64), "f16")
        k, v = randn((2, 1, 2, 64), "f16"), randn((2, 1, 2, 64), "f16")
        lens = i32([4095, 17])
        got = b.run(kc, vc, k, v, lens, target=chip)
        for g, e in zip(got, append_ref(kc, vc, k, v, lens)):
            assert_close(g, e, "f16", f"{chip} in-place append")
        (stats,) = b.last_stats
        new_rows = 2 * (2 * 1 * 2 * 64 * 2)  # keys and values, f16
        assert stats["global_bytes_written"] == new_rows, stats
        # The new rows, and each block's length, read once.
        blocks = stats["grid"][0] * stats["grid"][1]
        assert stats["global_bytes_read"] == new_rows + 4 * blocks, stats
        assert b.workspace_bytes == 0
    finally:
        b.close()


# Lengths and block tables only a run can see: NAME_check_inputs refuses
# them on the host copies before anything is copied or launched, naming the
# op, the sequence and the bound.
CHECKED_STEP = """
func.func @step(%kp: tensor<6x4x2x8xf32>, %vp: tensor<6x4x2x8xf32>,
                %k: tensor<2x2x2x8xf32>, %v: tensor<2x2x2x8xf32>,
                %lens: tensor<2xi32>, %table: tensor<2x3xi32>,
                %q: tensor<2x1x2x8xf32>, %after: tensor<2xi32>)
    -> (tensor<2x1x2x8xf32>, tensor<6x4x2x8xf32>, tensor<6x4x2x8xf32>) {
  %c:2 = iolite.kv_cache_append %kp, %vp, %k, %v, %lens
      block_table(%table : tensor<2x3xi32>)
      : tensor<6x4x2x8xf32>, tensor<6x4x2x8xf32>, tensor<2x2x2x8xf32>,
        tensor<2x2x2x8xf32>, tensor<2xi32>
  %o = iolite.cache_attention %q, %c#0, %c#1, %after
      block_table(%table : tensor<2x3xi32>) {causal}
      : tensor<2x1x2x8xf32>, tensor<6x4x2x8xf32>, tensor<6x4x2x8xf32>,
        tensor<2xi32>
  return %o, %c#0, %c#1
      : tensor<2x1x2x8xf32>, tensor<6x4x2x8xf32>, tensor<6x4x2x8xf32>
}
"""


@pytest.mark.parametrize("lens,table,after,message", [
    # A cache of 3 pages of 4: 12 positions.
    ([11, 3], [[0, 1, 2], [3, 4, 5]], [12, 5],
     "sequence 0 has length 11 and appends 2 token(s), past the cache's 12 "
     "positions"),
    ([-1, 3], [[0, 1, 2], [3, 4, 5]], [1, 5], "sequence 0 has length -1"),
    # Sequence 1 writes positions 3 and 4: pages 0 and 1 of its table.
    ([0, 3], [[0, 1, 2], [3, 9, 5]], [2, 5],
     "sequence 1's block table entry 1 is page 9, outside the pool of 6 "
     "pages"),
    # The attention's own lengths, and a page it reads (entries past the
    # length are never read, so garbage there is fine).
    ([0, 3], [[0, -4, -4], [3, 4, 5]], [13, 5],
     "sequence 0 has length 13, past the cache's 12 positions"),
    ([2, 3], [[0, -4, 7], [3, 4, 5]], [6, 5],
     "sequence 0's block table entry 1 is page -4, outside the pool"),
])
def test_bad_serving_inputs_refused(lens, table, after, message):
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    b = iolite.compile(CHECKED_STEP, targets=["emu-sm_90a"], name="checked")
    try:
        args = [randn((6, 4, 2, 8), "f32"), randn((6, 4, 2, 8), "f32"),
                randn((2, 2, 2, 8), "f32"), randn((2, 2, 2, 8), "f32"),
                i32(lens), i32(table), randn((2, 1, 2, 8), "f32"), i32(after)]
        with pytest.raises(iolite.BackendError) as err:
            b.run(*args, target="emu-sm_90a")
        text = str(err.value)
        assert "checked_check_inputs" in text and message in text, text
        assert ("'iolite.kv_cache_append'" in text or
                "'iolite.cache_attention'" in text), text
        # Nothing ran.
        assert b.last_stats == []
        # The same step with good inputs runs.
        args[4], args[5], args[7] = (i32([0, 3]), i32([[0, 1, 2], [3, 4, 5]]),
                                     i32([2, 5]))
        b.run(*args, target="emu-sm_90a")
        assert len(b.last_stats) >= 2
    finally:
        b.close()


# A decode step whose batch and cache capacity are symbolic: one compile
# appends and attends at every size, in place.
SYMBOLIC_STEP = """
func.func @step(%kc: tensor<?x?x2x8xf16> {iolite.dims = ["batch", "len", "", ""]},
                %vc: tensor<?x?x2x8xf16> {iolite.dims = ["batch", "len", "", ""]},
                %k: tensor<?x1x2x8xf16> {iolite.dims = ["batch", "", "", ""]},
                %v: tensor<?x1x2x8xf16> {iolite.dims = ["batch", "", "", ""]},
                %q: tensor<?x1x4x8xf16> {iolite.dims = ["batch", "", "", ""]},
                %lens: tensor<?xi32> {iolite.dims = ["batch"]})
    -> (tensor<?x1x4x8xf16>, tensor<?x?x2x8xf16>, tensor<?x?x2x8xf16>) {
  %c:2 = iolite.kv_cache_append %kc, %vc, %k, %v, %lens
      : tensor<?x?x2x8xf16>, tensor<?x?x2x8xf16>, tensor<?x1x2x8xf16>,
        tensor<?x1x2x8xf16>, tensor<?xi32>
  %one = iolite.constant dense<1> : tensor<1xi32>
  %n = iolite.add %lens, %one : tensor<?xi32>, tensor<1xi32>
  %o = iolite.cache_attention %q, %c#0, %c#1, %n {causal}
      : tensor<?x1x4x8xf16>, tensor<?x?x2x8xf16>, tensor<?x?x2x8xf16>,
        tensor<?xi32>
  return %o, %c#0, %c#1
      : tensor<?x1x4x8xf16>, tensor<?x?x2x8xf16>, tensor<?x?x2x8xf16>
}
"""


@pytest.mark.parametrize("chip", CHIPS)
def test_symbolic_decode_step_gpu(chip):
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    b = iolite.compile(SYMBOLIC_STEP, targets=[chip], name="symbolic_step",
                       dims={"batch": (1, 4), "len": (1, 1024)})
    try:
        for batch, length, lens in [(3, 700, [0, 699, 350]), (1, 5, [4])]:
            kc = randn((batch, length, 2, 8), "f16")
            vc = randn((batch, length, 2, 8), "f16")
            k = randn((batch, 1, 2, 8), "f16")
            v = randn((batch, 1, 2, 8), "f16")
            q = randn((batch, 1, 4, 8), "f16")
            lens = i32(lens)
            kc2, vc2 = append_ref(kc, vc, k, v, lens)
            o, gk, gv = b.run(kc, vc, k, v, q, lens, target=chip)
            what = f"{chip} symbolic decode step {batch}x{length}"
            assert_close(gk, kc2, "f16", what + " keys")
            assert_close(gv, vc2, "f16", what + " values")
            assert_close(o, cache_attention_ref(q, kc2, vc2, lens + 1,
                                                causal=True), "f16", what)
    finally:
        b.close()


@pytest.fixture(scope="module", params=["matrix", "fma"])
def varlen_bundle(request):
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    b = iolite.compile(VARLEN.mlir(), targets=CHIPS, name="varlen_attention",
                       no_matrix_units=request.param == "fma")
    yield b
    b.close()


@pytest.mark.parametrize("chip", CHIPS)
def test_varlen_attention_gpu(varlen_bundle, chip):
    """The attention template's varlen kernels on the emulated chips: one
    block per (q tile, kv head, sequence), tiles past a sequence's rows
    return at once, rows outside every sequence zeroed."""
    for line in varlen_bundle.table.splitlines():
        cols = line.split()
        if len(cols) > 2 and "varlen_attention" in cols[2].split(","):
            assert cols[1] == "attention", line
    # varlen_uncovered_rows and varlen_clamped_boundaries hold boundaries
    # that NAME_check_inputs refuses (not starting at 0, outside the
    # tensors) on purpose: the kernels must clamp them.
    VARLEN.check_bundle(varlen_bundle, target=chip, check_inputs=False)


# Decreasing boundaries break the op's contract: NAME_check_inputs refuses
# them, and with the check off the kernels still only touch rows inside the
# packed tensors (the emulator's bounds checks run with IOLITE_EMU_CHECK=all,
# as ctest sets it).
BAD_VARLEN = """
func.func @bad(%q: tensor<10x2x8xf16>, %k: tensor<9x1x8xf16>,
               %cuq: tensor<4xi32>, %cuk: tensor<4xi32>) -> tensor<10x2x8xf16> {
  %o = iolite.varlen_attention %q, %k, %k, %cuq, %cuk {causal}
      : tensor<10x2x8xf16>, tensor<9x1x8xf16>, tensor<9x1x8xf16>,
        tensor<4xi32>, tensor<4xi32>
  return %o : tensor<10x2x8xf16>
}
"""


@pytest.mark.parametrize("chip", CHIPS)
def test_varlen_bad_boundaries_gpu(chip):
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    b = iolite.compile(BAD_VARLEN, targets=[chip], name="bad_varlen")
    try:
        q = randn((10, 2, 8), "f16")
        k = randn((9, 1, 8), "f16")
        for cuq, cuk, message in [
                ([0, 6, 4, 10], [0, 9, 2, 7],
                 "end at row 4 (after 6)"),
                ([5, 2, 99, -4], [-8, 40, 3, 1],
                 "the query cu_seqlens start at 5, not 0")]:
            with pytest.raises(iolite.BackendError) as err:
                b.run(q, k, i32(cuq), i32(cuk), target=chip)
            text = str(err.value)
            assert ("'iolite.varlen_attention'" in text and
                    message in text), text
            got = b.run(q, k, i32(cuq), i32(cuk), target=chip,
                        check_inputs=False)
            assert np.isfinite(np.asarray(got, np.float32)).all(), (cuq, cuk)
    finally:
        b.close()


# A packed batch whose token counts and number of sequences are symbolic:
# one compile serves every batch (the grid follows the call's Tq and B).
SYMBOLIC_VARLEN = """
func.func @prefill(%q: tensor<?x4x16xf16> {iolite.dims = ["tq", "", ""]},
                   %k: tensor<?x2x16xf16> {iolite.dims = ["tk", "", ""]},
                   %v: tensor<?x2x16xf16> {iolite.dims = ["tk", "", ""]},
                   %cuq: tensor<?xi32> {iolite.dims = ["cu"]},
                   %cuk: tensor<?xi32> {iolite.dims = ["cu"]})
    -> tensor<?x4x16xf16> {
  %o = iolite.varlen_attention %q, %k, %v, %cuq, %cuk {causal}
      : tensor<?x4x16xf16>, tensor<?x2x16xf16>, tensor<?x2x16xf16>,
        tensor<?xi32>, tensor<?xi32>
  return %o : tensor<?x4x16xf16>
}
"""


@pytest.mark.parametrize("chip", CHIPS)
def test_symbolic_varlen_gpu(chip):
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    b = iolite.compile(SYMBOLIC_VARLEN, targets=[chip], name="varlen_dyn",
                       dims={"tq": (1, 512), "tk": (1, 512), "cu": (2, 9)})
    try:
        # Unequal, empty, rows past the last sequence, one sequence.
        for cuq, cuk, tq in [([0, 70, 70, 203, 230], [0, 90, 95, 228, 300],
                              230),
                             ([0, 5, 9], [0, 31, 40], 16),
                             ([0, 300], [0, 300], 300)]:
            q = randn((tq, 4, 16), "f16")
            k = randn((cuk[-1], 2, 16), "f16")
            v = randn((cuk[-1], 2, 16), "f16")
            got = b.run(q, k, v, i32(cuq), i32(cuk), target=chip)
            # The matrix path rounds P to f16 before P.V (2^-11 relative
            # per probability): a small output that cancels between values
            # of magnitude ~1 can miss f16's atol of 2e-4 (one element of
            # 19,200 in the 300-token case; iolite.attention on the same
            # data gives the same bits).
            assert_close(got, varlen_ref(q, k, v, cuq, cuk, causal=True),
                         "f16", f"{chip} symbolic varlen {cuq} {cuk}",
                         dict(TOLERANCES, f16=(2e-3, 1e-3)))
    finally:
        b.close()


# Batch, pool and table sizes as symbolic dims, specialized by iolite-run.
SYMBOLIC = """
func.func @decode(%q: tensor<?x1x4x8xf32> {iolite.dims = ["batch", "", "", ""]},
                  %pool: tensor<?x4x2x8xf32> {iolite.dims = ["pages", "", "", ""]},
                  %lens: tensor<?xi32> {iolite.dims = ["batch"]},
                  %table: tensor<?x?xi32> {iolite.dims = ["batch", "blocks"]})
    -> tensor<?x1x4x8xf32> {
  %o = iolite.cache_attention %q, %pool, %pool, %lens
      block_table(%table : tensor<?x?xi32>) {causal}
      : tensor<?x1x4x8xf32>, tensor<?x4x2x8xf32>, tensor<?x4x2x8xf32>,
        tensor<?xi32>
  return %o : tensor<?x1x4x8xf32>
}
"""


@pytest.mark.parametrize("batch,pages,blocks", [(3, 5, 2), (1, 9, 3)])
def test_symbolic_paged_decode(batch, pages, blocks):
    q = randn((batch, 1, 4, 8), "f32")
    pool = randn((pages, 4, 2, 8), "f32")
    # Pages out of order (shared between sequences when the pool is small).
    table = i32(np.resize(rng.permutation(pages), (batch, blocks)))
    lens = i32(rng.integers(0, blocks * 4 + 1, batch))
    _, outs, _, _ = iolite_run(
        SYMBOLIC, [q, pool, lens, table],
        extra_args=("--dim=batch=1..8,pages=1..64,blocks=1..16",))
    assert_close(outs[0], cache_attention_ref(q, pool, pool, lens, table,
                                              causal=True), "f32",
                 f"symbolic paged decode {batch}x{pages}x{blocks}")


@pytest.fixture(scope="module")
def symbolic_bundle():
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    b = iolite.compile(SYMBOLIC, targets=CHIPS, name="symbolic_decode",
                       dims={"batch": (1, 8), "pages": (1, 64),
                             "blocks": (1, 16)})
    yield b
    b.close()


@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("batch,pages,blocks", [(3, 5, 2), (1, 9, 3)])
def test_symbolic_paged_decode_gpu(symbolic_bundle, chip, batch, pages,
                                   blocks):
    """One compile with symbolic batch, pool and table sizes runs every
    size on the emulated chips."""
    q = randn((batch, 1, 4, 8), "f32")
    pool = randn((pages, 4, 2, 8), "f32")
    table = i32(np.resize(rng.permutation(pages), (batch, blocks)))
    lens = i32(rng.integers(0, blocks * 4 + 1, batch))
    got = symbolic_bundle.run(q, pool, lens, table, target=chip)
    assert_close(got, cache_attention_ref(q, pool, pool, lens, table,
                                          causal=True), "f32",
                 f"{chip} symbolic paged decode {batch}x{pages}x{blocks}")


# A contiguous cache whose batch and capacity are symbolic: a long sequence
# splits its KV range per launch and per sequence, a short one does not.
SYMBOLIC_LONG = """
func.func @decode(%q: tensor<?x2x4x8xf32> {iolite.dims = ["batch", "", "", ""]},
                  %kc: tensor<?x?x2x8xf32> {iolite.dims = ["batch", "len", "", ""]},
                  %vc: tensor<?x?x2x8xf32> {iolite.dims = ["batch", "len", "", ""]},
                  %lens: tensor<?xi32> {iolite.dims = ["batch"]})
    -> tensor<?x2x4x8xf32> {
  %o = iolite.cache_attention %q, %kc, %vc, %lens {causal}
      : tensor<?x2x4x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>,
        tensor<?xi32>
  return %o : tensor<?x2x4x8xf32>
}
"""


@pytest.mark.parametrize("chip", CHIPS)
def test_symbolic_long_cache_gpu(chip):
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    b = iolite.compile(SYMBOLIC_LONG, targets=[chip], name="symbolic_long",
                       dims={"batch": (1, 4), "len": (1, 2048)})
    try:
        for batch, length, lens in [(3, 1500, [1500, 7, 900]), (1, 40, [33]),
                                    (2, 2048, [0, 2048])]:
            q = randn((batch, 2, 4, 8), "f32")
            kc = randn((batch, length, 2, 8), "f32")
            vc = randn((batch, length, 2, 8), "f32")
            lens = i32(lens)
            got = b.run(q, kc, vc, lens, target=chip)
            assert_close(got, cache_attention_ref(q, kc, vc, lens,
                                                  causal=True), "f32",
                         f"{chip} symbolic long cache {batch}x{length}")
    finally:
        b.close()
