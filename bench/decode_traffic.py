"""Global-memory traffic of decode attention over a KV cache
(iolite.cache_attention, docs/attention.md "Attention over a KV cache").

Each case is compiled for an emulated chip (the very kernels the chip gets)
and run through the bundle's launch code on the emulator, which counts every
byte each GPU thread loads or stores. The lower bound is what any decode
kernel must move: the K/V rows below each sequence's length (not the
cache's capacity), Q read once, O written once, the lengths, and for a
paged cache the block-table entries of the pages below the length.

Shapes: one decode step (Sq = 1) of a batch of two sequences, one ragged
and not a multiple of any tile, in a cache of capacity L = 1k .. 32k
tokens, f16, GQA 4:1 with one kv head of 128 (Llama's 32:8 heads run the
same blocks eight times over: the ratio does not depend on the head count),
contiguous and paged (pages of 16 tokens, shuffled through the pool).

Decode-sized matmuls (measure_matmuls): a Llama-2-7B layer's projections at
1, 4 and 16 tokens, f16, against the weights, activations and output read
or written once.
"""

import sys

import numpy as np

from common import WORK, build_dir, log, provenance

CHIPS = ["emu-sm_90a", "emu-gfx942"]
LENGTHS = [1024, 4096, 16384, 32768]
QUICK_LENGTHS = [1024, 4096]
HQ, HKV, D, ELEM = 4, 1, 128, 2
PAGE = 16


def _iolite():
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    return iolite


def model(capacity, batch, paged):
    q = f"tensor<{batch}x1x{HQ}x{D}xf16>"
    lens = f"tensor<{batch}xi32>"
    if not paged:
        c = f"tensor<{batch}x{capacity}x{HKV}x{D}xf16>"
        return f"""func.func @decode(%q: {q}, %kc: {c}, %vc: {c}, %lens: {lens}) -> {q} {{
  %o = iolite.cache_attention %q, %kc, %vc, %lens {{causal}} : {q}, {c}, {c}, {lens}
  return %o : {q}
}}
"""
    blocks = capacity // PAGE
    c = f"tensor<{batch * blocks}x{PAGE}x{HKV}x{D}xf16>"
    t = f"tensor<{batch}x{blocks}xi32>"
    return f"""func.func @decode(%q: {q}, %kc: {c}, %vc: {c}, %lens: {lens}, %table: {t}) -> {q} {{
  %o = iolite.cache_attention %q, %kc, %vc, %lens block_table(%table : {t}) {{causal}} : {q}, {c}, {c}, {lens}
  return %o : {q}
}}
"""


def lower_bound(lens, batch, paged):
    kv = sum(int(n) for n in lens) * HKV * 2 * D * ELEM
    qo = 2 * batch * HQ * D * ELEM
    table = sum(-(-int(n) // PAGE) for n in lens) * 4 if paged else 0
    return kv + qo + 4 * batch + table


def measure(quick=False):
    iolite = _iolite()
    rng = np.random.default_rng(7)
    rows = []
    for capacity in (QUICK_LENGTHS if quick else LENGTHS):
        batch = 2
        # One full sequence and one ragged: 3/4 of the capacity plus 37.
        lens = np.array([capacity, capacity * 3 // 4 + 37], np.int32)
        for paged in (False, True):
            text = model(capacity, batch, paged)
            q = rng.standard_normal((batch, 1, HQ, D)).astype(np.float16)
            if paged:
                pool = batch * capacity // PAGE
                kc = rng.standard_normal((pool, PAGE, HKV, D)).astype(
                    np.float16)
                table = rng.permutation(pool).astype(np.int32).reshape(
                    batch, capacity // PAGE)
                args = [q, kc, kc, lens, table]
            else:
                kc = rng.standard_normal((batch, capacity, HKV, D)).astype(
                    np.float16)
                args = [q, kc, kc, lens]
            for chip in CHIPS:
                log(f"decode traffic: L={capacity} "
                    f"{'paged' if paged else 'contiguous'} {chip}")
                b = iolite.compile(
                    text, targets=[chip], name="decode",
                    output_dir=str(WORK / "decode" /
                                   f"{capacity}_{int(paged)}_{chip}"))
                try:
                    b.run(*args, target=chip)
                    stats = b.last_stats or []
                    tiles = [k["tile"] for k in b.manifest["kernels"]]
                    grids = [s["grid"] for s in stats]
                finally:
                    b.close()
                read = sum(s["global_bytes_read"] for s in stats)
                written = sum(s["global_bytes_written"] for s in stats)
                lb = lower_bound(lens, batch, paged)
                rows.append({"capacity": capacity, "paged": paged,
                             "chip": chip, "lengths": lens.tolist(),
                             "read": read, "written": written,
                             "lower_bound": lb,
                             "ratio": (read + written) / lb,
                             "tile": tiles[0], "grids": grids,
                             "measured": provenance()})
    return rows


# Decode-sized matmuls: the projections of a Llama-2-7B layer (hidden 4096,
# MLP 11008) at the few tokens of a decode step. The weights dominate: the
# lower bound is the weights, the activations and the output once each.
MATMULS = [("q/k/v/o proj", 4096, 4096), ("gate/up proj", 11008, 4096),
           ("down proj", 4096, 11008)]
QUICK_MATMULS = MATMULS[:1]
TOKENS = [1, 4, 16]


def measure_matmuls(quick=False):
    iolite = _iolite()
    rng = np.random.default_rng(11)
    rows = []
    for name, n, k in (QUICK_MATMULS if quick else MATMULS):
        w = (rng.standard_normal((n, k)) * 0.02).astype(np.float16)
        for m in TOKENS:
            x = rng.standard_normal((m, k)).astype(np.float16)
            text = f"""func.func @mm(%x: tensor<{m}x{k}xf16>, %w: tensor<{n}x{k}xf16>) -> tensor<{m}x{n}xf16> {{
  %y = iolite.matmul %x, %w {{transpose_rhs}} : tensor<{m}x{k}xf16>, tensor<{n}x{k}xf16>
  return %y : tensor<{m}x{n}xf16>
}}
"""
            for chip in CHIPS:
                log(f"decode matmul traffic: {name} {m} tokens {chip}")
                b = iolite.compile(
                    text, targets=[chip], name="mm",
                    output_dir=str(WORK / "decode" / f"mm_{n}_{k}_{m}_{chip}"))
                try:
                    b.run(x, w, target=chip)
                    stats = b.last_stats or []
                    tiles = [kk["tile"] for kk in b.manifest["kernels"]]
                finally:
                    b.close()
                read = sum(s["global_bytes_read"] for s in stats)
                written = sum(s["global_bytes_written"] for s in stats)
                weights = n * k * ELEM
                lb = weights + (m * k + m * n) * ELEM
                blocks = sum(s["grid"][0] * s["grid"][1] * s["grid"][2]
                             for s in stats)
                rows.append({"name": name, "n": n, "k": k, "tokens": m,
                             "chip": chip, "tile": tiles[0],
                             "blocks": blocks, "read": read,
                             "written": written, "weight_bytes": weights,
                             "lower_bound": lb,
                             "ratio": (read + written) / lb,
                             "measured": provenance()})
    return rows


if __name__ == "__main__":
    import json
    quick = "--quick" in sys.argv
    print(json.dumps({"attention": measure(quick),
                      "matmul": measure_matmuls(quick)}, indent=1))
