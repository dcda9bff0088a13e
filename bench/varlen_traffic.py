"""Global-memory traffic of prefill over a packed variable-length batch
(iolite.varlen_attention, docs/attention.md "Variable-length batches")
against the same sequences padded to the longest one and run through
iolite.attention.

Each case is compiled for an emulated chip (the very kernels the chip gets)
and run through the bundle's launch code on the emulator, which counts every
byte each GPU thread loads or stores. The lower bound is what any prefill
kernel of the packed batch must move: every token's Q, K and V read once,
its O written once, and the boundaries (cu_seqlens_q and cu_seqlens_k).

The padded batch is [B, H, S_max, D] with the sequences right-aligned at
position 0 and padding after them: under causal masking a real query only
sees real keys, so it needs no key-padding mask (the padded baseline at its
cheapest); the rows of the padding are computed and thrown away. The copies
that pad and unpad the tensors are not counted (they would add to the
padded side only).

The model column is the traffic of Iolite's attention kernels run on each
sequence alone with the same tile (test/python/attention_traffic.py): the
packed kernel should move exactly that, plus the reads of the boundaries
(four i32 per block of a sequence, two per block of the slice that zeroes
uncovered rows).

Shapes: causal f16 prefill, GQA 4:1 with one kv head of 128 (Llama's 32:8
heads run the same blocks eight times over: the ratios do not depend on the
head count), batches of unequal lengths, none a multiple of a tile, one
empty.

    IOLITE_BUILD_DIR=build /usr/bin/python3 bench/varlen_traffic.py [--quick]
"""

import re
import sys
from pathlib import Path

import numpy as np

from common import WORK, build_dir, log, provenance

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" /
                       "python"))
import attention_traffic  # noqa: E402

CHIPS = ["emu-sm_90a", "emu-gfx942"]
HQ, HKV, D, ELEM = 4, 1, 128, 2
# Sequence lengths of each batch: a long tail (one long prompt with short
# ones, as a serving batch often is) and lengths closer to each other.
BATCHES = [[1000, 517, 301, 97, 0, 38], [700, 650, 590, 411]]
QUICK_BATCHES = [[300, 117, 0, 45]]


def _iolite():
    sys.path.insert(0, str(build_dir() / "python"))
    import iolite
    return iolite


def varlen_model(total, seqs, longest):
    q = f"tensor<{total}x{HQ}x{D}xf16>"
    k = f"tensor<{total}x{HKV}x{D}xf16>"
    cu = f"tensor<{seqs + 1}xi32>"
    return f"""func.func @prefill(%q: {q}, %k: {k}, %v: {k}, %cuq: {cu}, %cuk: {cu}) -> {q} {{
  %o = iolite.varlen_attention %q, %k, %v, %cuq, %cuk {{causal, max_seqlen_q = {longest}, max_seqlen_k = {longest}}} : {q}, {k}, {k}, {cu}, {cu}
  return %o : {q}
}}
"""


def padded_model(seqs, longest):
    q = f"tensor<{seqs}x{HQ}x{longest}x{D}xf16>"
    k = f"tensor<{seqs}x{HKV}x{longest}x{D}xf16>"
    return f"""func.func @prefill(%q: {q}, %k: {k}, %v: {k}) -> {q} {{
  %o = iolite.attention %q, %k, %v {{causal}} : {q}, {k}, {k}
  return %o : {q}
}}
"""


def lower_bound(lengths):
    tokens = sum(lengths)
    return (tokens * (2 * HQ + 2 * HKV) * D * ELEM +
            2 * 4 * (len(lengths) + 1))


def per_sequence_model(lengths, tile):
    """Bytes of Iolite's attention kernels (tile "BMxBN") over each
    sequence alone."""
    m = re.match(r"attention tile (\d+)x(\d+)", tile)
    bm, bn = int(m.group(1)), int(m.group(2))
    total = 0
    for n in lengths:
        if n:
            shape = attention_traffic.AttentionShape(
                1, HQ, HKV, n, n, D, D, ELEM, causal=True)
            total += sum(attention_traffic.iolite_attention_bytes(
                shape, bm, bn))
    return total


def run(iolite, text, args, chip, tag):
    b = iolite.compile(text, targets=[chip], name="prefill",
                       output_dir=str(WORK / "varlen" / f"{tag}_{chip}"))
    try:
        b.run(*args, target=chip)
        stats = b.last_stats or []
        tile = b.manifest["kernels"][0]["tile"]
    finally:
        b.close()
    return (sum(s["global_bytes_read"] for s in stats),
            sum(s["global_bytes_written"] for s in stats), tile,
            [s["grid"] for s in stats])


def measure(quick=False):
    iolite = _iolite()
    rng = np.random.default_rng(5)
    rows = []
    for n, lengths in enumerate(QUICK_BATCHES if quick else BATCHES):
        seqs, total, longest = len(lengths), sum(lengths), max(lengths)
        cu = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        q = rng.standard_normal((total, HQ, D)).astype(np.float16)
        k = rng.standard_normal((total, HKV, D)).astype(np.float16)
        v = rng.standard_normal((total, HKV, D)).astype(np.float16)
        # The same sequences, padded with zeros after each one.
        qp = np.zeros((seqs, HQ, longest, D), np.float16)
        kp = np.zeros((seqs, HKV, longest, D), np.float16)
        vp = np.zeros((seqs, HKV, longest, D), np.float16)
        for b, (s, e) in enumerate(zip(cu[:-1], cu[1:])):
            qp[b, :, :e - s] = q[s:e].transpose(1, 0, 2)
            kp[b, :, :e - s] = k[s:e].transpose(1, 0, 2)
            vp[b, :, :e - s] = v[s:e].transpose(1, 0, 2)
        lb = lower_bound(lengths)
        for chip in CHIPS:
            log(f"varlen traffic: lengths {lengths} {chip}")
            vr, vw, vtile, vgrids = run(
                iolite, varlen_model(total, seqs, longest),
                [q, k, v, cu, cu], chip, f"varlen{n}")
            log(f"padded traffic: {seqs} x {longest} {chip}")
            pr, pw, ptile, _ = run(iolite, padded_model(seqs, longest),
                                   [qp, kp, vp], chip, f"padded{n}")
            model = per_sequence_model(lengths, vtile)
            rows.append({"lengths": lengths, "chip": chip,
                         "per_sequence_model": model,
                         "varlen_over_model": (vr + vw) / model,
                         "varlen_read": vr, "varlen_written": vw,
                         "varlen_tile": vtile, "varlen_grids": vgrids,
                         "padded_read": pr, "padded_written": pw,
                         "padded_tile": ptile, "lower_bound": lb,
                         "varlen_ratio": (vr + vw) / lb,
                         "padded_ratio": (pr + pw) / lb,
                         "varlen_over_padded": (vr + vw) / (pr + pw),
                         "measured": provenance()})
    return rows


if __name__ == "__main__":
    import json
    print(json.dumps(measure("--quick" in sys.argv), indent=1))
