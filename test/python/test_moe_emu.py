"""MoE kernels on both emulated chips against NumPy references.

Models of router, dispatch, grouped-matmul and combine ops and of whole
routed layers are compiled for emu-sm_90a and emu-gfx942 with the iolite
Python package (the compiler C API: graph passes, the `moe` kernel template,
the emu back end, the bundle's launch code), run on both emulated chips and
compared with the
float64 NumPy implementations of the ops' semantics in test_moe.py, on the
same rounded inputs, with the tolerances of iolite_testing.py. Cases: router
ties (integer logits), softmax and sigmoid, renormalize, top-1..3 of 8, top-2
of 8 and top-8 of 64 after the logits matmul; dispatch with empty experts, all
tokens on one expert and invalid ids; ragged grouped matmuls with empty
groups and transposed weights; combine with a malformed row index; SwiGLU
layers (the fused kernels: dispatch inside the gate/up GEMM, down GEMM +
combine) in f32/f16/bf16, skewed, and large enough for the three-launch
dispatch; the Mixtral example layer against PyTorch.
"""

import re
import sys

import numpy as np
import pytest

from iolite_testing import (MODEL_TOLERANCES, REPO, Batch, assert_close,
                            build_dir, round_to, tensor_type as T)
from test_moe import (combine_ref, dispatch_ref, grouped_matmul_ref,
                      router_ref)

# The package as the build tree lays it out (python/CMakeLists.txt).
sys.path.insert(0, str(build_dir() / "python"))
import iolite  # noqa: E402 (part of the build: a failed import fails)

CHIPS = ["emu-sm_90a", "emu-gfx942"]
MOE_OPS = ("iolite.router", "iolite.dispatch", "iolite.grouped_matmul",
           "iolite.combine")

rng = np.random.default_rng(11)


def f64(x):
    return np.asarray(x, np.float64)


def small_ints(shape, lo=-2, hi=3):
    """Integer-valued data: matmuls of it are exact in every type, so the
    router sees the same logits on every path (no near-ties from rounding)."""
    return rng.integers(lo, hi, shape).astype(np.float32)


# ---------------------------------------------------------------------------
# Single ops
# ---------------------------------------------------------------------------
OPS = Batch("moe_ops")

# Router: integer logits, many exact ties.
for dt in ("f32", "f16", "bf16"):
    logits = round_to(rng.integers(-2, 3, (9, 8)), dt)
    for scoring in ("softmax", "sigmoid"):
        for renorm in (False, True):
            for k in ((1, 2, 3) if dt == "f32" else (2,)):
                attrs = f"k = {k} : i64" + (", renormalize" if renorm else "")
                w, ids = router_ref(logits, k, scoring, renorm)
                OPS.add(f"router_{scoring}_k{k}_renorm{int(renorm)}_{dt}",
                        f"%w, %i = iolite.router %x0 scoring = {scoring} "
                        f"{{{attrs}}} : {T(logits.shape, dt)}",
                        [(logits, dt)],
                        [("w", T((9, k), dt)), ("i", T((9, k), "i32"))],
                        [w, ids])

# Router after its logits matmul (one kernel): top-2 of 8 and top-8 of 64,
# tied experts (equal router-weight rows), weights in PyTorch's [E, H].
for name, tokens, hidden, experts, k, scoring, dt in [
        ("top2of8", 37, 24, 8, 2, "softmax", "f16"),
        ("top8of64", 21, 16, 64, 8, "softmax", "bf16"),
        ("top8of64_sigmoid", 13, 16, 64, 8, "sigmoid", "f32")]:
    x = small_ints((tokens, hidden))
    wr = small_ints((experts, hidden), -1, 2)
    wr[1] = wr[0]
    wr[5] = wr[4]
    logits = round_to(f64(x) @ f64(wr).T, dt)
    w, ids = router_ref(logits, k, scoring, True)
    OPS.add(f"router_matmul_{name}_{dt}",
            f"%l = iolite.matmul %x0, %x1 {{transpose_rhs}} : "
            f"{T(x.shape, dt)}, {T(wr.shape, dt)}\n"
            f"%w, %i = iolite.router %l scoring = {scoring} "
            f"{{k = {k} : i64, renormalize}} : {T(logits.shape, dt)}",
            [(x, dt), (wr, dt)],
            [("w", T((tokens, k), dt)), ("i", T((tokens, k), "i32"))],
            [w, ids])

# Dispatch.
DISPATCH = {
    "empty_experts": np.array([[0, 2], [3, 0], [2, 5], [5, 3], [0, 2]]),
    "all_on_one_expert": np.full((5, 2), 3),
    "invalid_ids": np.array([[0, -1], [6, 2], [2, 0], [1, 9], [5, 5]]),
}
for name, ids in DISPATCH.items():
    for idt in ("i32", "i64"):
        x = round_to(rng.standard_normal((5, 3)), "bf16")
        OPS.add(f"dispatch_{name}_{idt}",
                f"%s, %r, %o = iolite.dispatch %x0, %x1 {{num_experts = 6 : "
                f"i64}} : {T(x.shape, 'bf16')}, {T(ids.shape, idt)}",
                [(x, "bf16"), (ids, idt)],
                [("s", T((10, 3), "bf16")), ("r", T((10,), "i32")),
                 ("o", T((7,), "i32"))],
                list(dispatch_ref(x, ids, 6)))

# Grouped matmul: empty groups, rows before the first and after the last
# group (zero), both weight layouts.
for transpose in (False, True):
    for dt in ("f32", "f16"):
        x = round_to(rng.standard_normal((19, 12)), dt)
        offsets = np.array([2, 2, 7, 7, 8, 15], np.int32)
        w = round_to(rng.standard_normal((5, 20, 12) if transpose
                                         else (5, 12, 20)), dt)
        attr = " {transpose_rhs}" if transpose else ""
        OPS.add(f"grouped_matmul_t{int(transpose)}_{dt}",
                f"%y = iolite.grouped_matmul %x0, %x1, %x2{attr} : "
                f"{T(x.shape, dt)}, {T(w.shape, dt)}, {T((6,), 'i32')}",
                [(x, dt), (w, dt), (offsets, "i32")],
                [("y", T((19, 20), dt))],
                [grouped_matmul_ref(x, w, offsets, transpose)])

# Combine: a permutation, and a row index with repeats and bad entries.
for name, rows in [("permutation", rng.permutation(12)),
                   ("malformed", np.array([3, 3, 0, -1, 11, 5, 20, 1, 2, 2,
                                           7, 8]))]:
    y = round_to(rng.standard_normal((12, 9)), "f16")
    w = round_to(rng.random((4, 3)), "f16")
    OPS.add(f"combine_{name}",
            f"%c = iolite.combine %x0, %x1, %x2 : {T(y.shape, 'f16')}, "
            f"{T((12,), 'i64')}, {T(w.shape, 'f16')}",
            [(y, "f16"), (rows, "i64"), (w, "f16")],
            [("c", T((4, 9), "f16"))], [combine_ref(y, rows, w)])


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------
LAYERS = Batch("moe_layers")


def swiglu_layer(name, dt, tokens, hidden, ffn, experts, k, skew=False,
                 fused=True):
    """A SwiGLU MoE layer: router (logits matmul, softmax, top-k,
    renormalize), experts silu(x W1) * (x W3) W2, combine. `fused` writes the
    kernels Iolite's cheapest form has (dispatch inside the gate/up GEMM,
    the down GEMM with the combine); otherwise fusion forms them."""
    x = small_ints((tokens, hidden), -1, 2)
    wr = small_ints((hidden, experts), -1, 2)
    if skew:  # expert 0 is every token's first choice
        x[:, 0] = 1
        wr[0, :] = -4
        wr[0, 0] = 8
    w1 = round_to(rng.standard_normal((experts, hidden, ffn)) * 0.2, dt)
    w3 = round_to(rng.standard_normal((experts, hidden, ffn)) * 0.2, dt)
    w2 = round_to(rng.standard_normal((experts, ffn, hidden)) * 0.2, dt)
    logits = round_to(f64(x) @ f64(wr), dt)
    weights, ids = router_ref(logits, k, renormalize=True)
    weights = round_to(weights, dt)
    xs, rows, offs = dispatch_ref(x, ids, experts)
    g = round_to(grouped_matmul_ref(xs, w1, offs), dt)
    u = round_to(grouped_matmul_ref(xs, w3, offs), dt)
    h = round_to(round_to(g / (1 + np.exp(-g)), dt) * u, dt)
    d = round_to(grouped_matmul_ref(h, w2, offs), dt)
    y = combine_ref(d, rows, weights)
    r = tokens * k
    tx, twr = T(x.shape, dt), T(wr.shape, dt)
    tw1, tw2 = T(w1.shape, dt), T(w2.shape, dt)
    tlog, tw, tids = T((tokens, experts), dt), T((tokens, k), dt), \
        T((tokens, k), "i32")
    txs, th, td = T((r, hidden), dt), T((r, ffn), dt), T((r, hidden), dt)
    trows, toffs, ty = T((r,), "i32"), T((experts + 1,), "i32"), tx
    route = (f"%l = iolite.matmul %x0, %x1 : {tx}, {twr}\n"
             f"%w, %ids = iolite.router %l {{k = {k} : i64, renormalize}} : "
             f"{tlog}\n")
    if fused:
        body = route + f"""
%h, %rows, %offs = iolite.kernel "up" (%x0, %ids, %x2, %x3) : ({tx}, {tids}, {tw1}, {tw1}) -> ({th}, {trows}, {toffs}) {{
^bb0(%a: {tx}, %i: {tids}, %g1: {tw1}, %g3: {tw1}):
  %xs, %r, %o = iolite.dispatch %a, %i {{num_experts = {experts} : i64}} : {tx}, {tids}
  %gg = iolite.grouped_matmul %xs, %g1, %o : {txs}, {tw1}, {toffs}
  %uu = iolite.grouped_matmul %xs, %g3, %o : {txs}, {tw1}, {toffs}
  %s = iolite.silu %gg : {th}
  %m = iolite.mul %s, %uu : {th}, {th}
  iolite.yield %m, %r, %o : {th}, {trows}, {toffs}
}}
%y = iolite.kernel "down" (%h, %x4, %offs, %rows, %w) : ({th}, {tw2}, {toffs}, {trows}, {tw}) -> {ty} {{
^bb0(%hh: {th}, %g2: {tw2}, %o2: {toffs}, %r2: {trows}, %ww: {tw}):
  %e = iolite.grouped_matmul %hh, %g2, %o2 : {th}, {tw2}, {toffs}
  %c = iolite.combine %e, %r2, %ww : {td}, {trows}, {tw}
  iolite.yield %c : {ty}
}}"""
    else:
        body = route + f"""
%xs, %rows, %offs = iolite.dispatch %x0, %ids {{num_experts = {experts} : i64}} : {tx}, {tids}
%g = iolite.grouped_matmul %xs, %x2, %offs : {txs}, {tw1}, {toffs}
%u = iolite.grouped_matmul %xs, %x3, %offs : {txs}, {tw1}, {toffs}
%s = iolite.silu %g : {th}
%h = iolite.mul %s, %u : {th}, {th}
%e = iolite.grouped_matmul %h, %x4, %offs : {th}, {tw2}, {toffs}
%y = iolite.combine %e, %rows, %w : {td}, {trows}, {tw}"""
    LAYERS.add(f"layer_{name}_{dt}", body,
               [(x, dt), (wr, dt), (w1, dt), (w3, dt), (w2, dt)],
               [("y", ty)], [y], tolerances=MODEL_TOLERANCES)


for dt in ("f32", "f16", "bf16"):
    swiglu_layer("top2of8", dt, 33, 16, 24, 8, 2)
swiglu_layer("top8of64", "f16", 40, 16, 16, 64, 8)
swiglu_layer("top2of8_formed", "f16", 33, 16, 24, 8, 2, fused=False)
swiglu_layer("skewed", "bf16", 24, 16, 16, 8, 2, skew=True)
# 4800 assignments: the dispatch's histogram / scan / scatter launches.
swiglu_layer("large", "f16", 600, 8, 8, 8, 8)


# ---------------------------------------------------------------------------
# Compile once per module, run per chip
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundles():
    out = {batch.name: iolite.compile(batch.mlir(), targets=CHIPS,
                                      name=batch.name)
           for batch in (OPS, LAYERS)}
    yield out
    for bundle in out.values():
        bundle.close()


@pytest.mark.parametrize("chip", CHIPS)
def test_ops(bundles, chip):
    OPS.check_bundle(bundles[OPS.name], target=chip)


@pytest.mark.parametrize("chip", CHIPS)
def test_layers(bundles, chip):
    LAYERS.check_bundle(bundles[LAYERS.name], target=chip)


def test_moe_ops_use_the_moe_template(bundles):
    """Every kernel holding an MoE op is compiled by the MoE template (its
    launches are moe_router / moe_dispatch / moe_grouped_matmul /
    moe_combine), never by the elemental fallback."""
    seen = 0
    for bundle in bundles.values():
        for line in bundle.table.splitlines():
            cols = line.split()
            if len(cols) < 3 or not any(op[len("iolite."):] in cols[2].split(",")
                                        for op in MOE_OPS):
                continue
            seen += 1
            assert cols[1].startswith("moe_"), line
    assert seen > 0


def test_mixtral_example_layer():
    """examples/moe_layer (transformers' MixtralSparseMoeBlock, f32) on both
    emulated chips against the PyTorch output it ships with."""
    example = REPO / "examples" / "moe_layer"
    inputs = [np.load(p) for p in sorted((example / "inputs").glob("*.npy"))]
    expected = np.load(example / "expected" / "out0.npy")
    bundle = iolite.compile(str(example / "model.mlir"), targets=CHIPS)
    try:
        assert "moe_grouped_matmul" in bundle.table
        assert "moe_router" in bundle.table
        for chip in CHIPS:
            out = bundle.run(*inputs, backend="emu", target=chip)
            assert_close(out, expected, "f32", f"{chip} moe_layer",
                         MODEL_TOLERANCES)
    finally:
        bundle.close()


# ---------------------------------------------------------------------------
# Traffic: the emulator's byte counters against the IO model of
# docs/moe-kernels.md
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("tokens,experts,k", [(64, 8, 2), (96, 16, 4)])
def test_traffic_matches_the_io_model(tokens, experts, k):
    """Every launch of the fused layer moves exactly the bytes the model
    predicts: x and the router weight once per token tile, the ids twice
    (histogram and scatter), A rows once per n tile and each expert's weight
    slab once per row tile it has, the inverse permutation three times, and
    the expert outputs once."""
    hidden, ffn, s = 64, 64, 2  # f16
    LAYER = Batch(f"moe_traffic_{tokens}_{experts}_{k}")
    global LAYERS
    saved, LAYERS = LAYERS, LAYER
    try:
        swiglu_layer("t", "f16", tokens, hidden, ffn, experts, k)
    finally:
        LAYERS = saved
    case = LAYER.cases[0]
    x = case["inputs"][0][0]
    wr = case["inputs"][1][0]
    logits = round_to(f64(x) @ f64(wr), "f16")
    _, ids = router_ref(logits, k, renormalize=True)
    _, _, offs = dispatch_ref(x, ids, experts)
    counts = np.diff(offs)[:experts]
    bundle = iolite.compile(LAYER.mlir(), targets=["emu-sm_90a"],
                            name=LAYER.name)
    try:
        bundle.run(*[a for a, _ in case["inputs"]], backend="emu")
        launches = {l["kernel"]: l for l in bundle.last_stats}
        kernels = {k["name"]: k for k in bundle.manifest["kernels"]}
    finally:
        bundle.close()

    def tile(name):
        return kernels[name]["targets"]["emu-sm_90a"]

    def gemm_tile(name):
        desc = kernels[name]["tile"]
        bm, bn, bk = map(int, re.search(r"(\d+)x(\d+)x(\d+)", desc).groups())
        return bm, bn, tile(name)["grid"]

    r = tokens * k
    cdiv = lambda a, b: -(-a // b)
    # Router: x once, the router weight once per token tile; w and ids out.
    router = next(n for n in launches if n.endswith("matmul"))
    blocks = tile(router)["grid"][0]
    assert launches[router]["global_bytes_read"] == \
        tokens * hidden * s + blocks * hidden * experts * s
    assert launches[router]["global_bytes_written"] == tokens * k * (s + 4)
    # Dispatch (one launch): the ids twice; row index and offsets out.
    assert launches["up"]["global_bytes_read"] == 2 * r * 4
    assert launches["up"]["global_bytes_written"] == r * 4 + (experts + 1) * 4
    # Gate/up GEMM: offsets per block, rows staged and A gathered once per n
    # tile, both weight slabs once per row tile of their expert; h out.
    bm, bn, grid = gemm_tile("up_grouped_matmul")
    n_tiles = cdiv(ffn, bn)
    row_tiles = sum(cdiv(int(c), bm) for c in counts)
    assert launches["up_grouped_matmul"]["global_bytes_read"] == (
        grid[0] * grid[1] * (experts + 1) * 4 + n_tiles * r * (4 + hidden * s)
        + 2 * row_tiles * n_tiles * hidden * bn * s)
    assert launches["up_grouped_matmul"]["global_bytes_written"] == \
        r * ffn * s
    # Down GEMM: the same without the staged rows, into scratch.
    bm, bn, grid = gemm_tile("down")
    n_tiles = cdiv(hidden, bn)
    row_tiles = sum(cdiv(int(c), bm) for c in counts)
    assert launches["down"]["global_bytes_read"] == (
        grid[0] * grid[1] * (experts + 1) * 4 + n_tiles * r * ffn * s
        + row_tiles * n_tiles * ffn * bn * s)
    assert launches["down"]["global_bytes_written"] == r * hidden * s
    # The inverse permutation: -1 written; row index read and an atomic
    # (read and write) per row.
    assert launches["down_invert_init"]["global_bytes_written"] == r * 4
    assert launches["down_invert"]["global_bytes_read"] == 2 * r * 4
    assert launches["down_invert"]["global_bytes_written"] == r * 4
    # Combine: each block's slots and weights, every expert output once.
    grid = tile("down_combine")["grid"]
    assert launches["down_combine"]["global_bytes_read"] == (
        grid[0] * r * (4 + s) + r * hidden * s)
    assert launches["down_combine"]["global_bytes_written"] == \
        tokens * hidden * s
