"""Analytic global-memory traffic of attention kernels (docs/attention.md).

`flash_attention2_bytes` is FlashAttention-2's forward traffic (Dao 2023,
Algorithm 1) for a given tile: every query head streams its own K/V tiles.
`iolite_attention_bytes` is the traffic of Iolite's attention kernels for the
same tile, where a tile's rows are (position, head-in-group) pairs so GQA
heads share each K/V tile, plus the split-KV partials when the kernel splits.
The emulator's byte counters are checked against both
(test_attention_emu.py); the benchmarks report the same ratios.
"""

from dataclasses import dataclass
import math


@dataclass
class AttentionShape:
    batch: int
    q_heads: int
    kv_heads: int
    q_len: int
    kv_len: int
    head_dim: int
    value_dim: int
    elem_bytes: int
    causal: bool = False
    window: int = 0

    @property
    def group(self):
        return self.q_heads // self.kv_heads


def visited_keys(shape, p_first, p_last, bn):
    """Keys loaded for a query tile whose absolute positions span
    [p_first, p_last]: whole BN-key tiles from the window's first tile to the
    diagonal's last, without the part of the last tile past the sequence."""
    skv = shape.kv_len
    end = max(0, min(skv, p_last + 1)) if shape.causal else skv
    begin = max(0, min(skv, p_first - shape.window + 1)) if shape.window else 0
    first_tile, end_tile = begin // bn, math.ceil(end / bn)
    if end_tile <= first_tile:
        return 0
    return min(end_tile * bn, skv) - first_tile * bn


def flash_attention2_bytes(shape, bm, bn):
    """FlashAttention-2 forward with Br = bm, Bc = bn: Q and O once, K and V
    once per (query head, query tile) over the visited tiles. The logsumexp
    it keeps for the backward pass is not counted (inference)."""
    s = shape
    delta = s.kv_len - s.q_len
    total = s.batch * s.q_heads * s.q_len * (s.head_dim + s.value_dim)
    for t in range(math.ceil(s.q_len / bm)):
        r0, r1 = t * bm, min((t + 1) * bm, s.q_len)
        keys = visited_keys(s, r0 + delta, r1 - 1 + delta, bn)
        total += s.batch * s.q_heads * keys * (s.head_dim + s.value_dim)
    return total * s.elem_bytes


def iolite_attention_bytes(shape, bm, bn, splits=0):
    """Iolite's kernels with a bm x bn tile over rows = (position, head in
    group); `splits` > 0 is split-KV: every partition loads the Q tile and
    writes its partials (f32 output row, max and sum), which the combine
    reads (each max twice) before writing the output.
    Returns (bytes read, bytes written)."""
    s = shape
    g = s.group
    rows = g * s.q_len
    delta = s.kv_len - s.q_len
    read = (max(1, splits) * s.batch * s.q_heads * s.q_len * s.head_dim *
            s.elem_bytes)
    for t in range(math.ceil(rows / bm)):
        r0, r1 = t * bm, min((t + 1) * bm, rows)
        keys = visited_keys(s, r0 // g + delta, (r1 - 1) // g + delta, bn)
        read += (s.batch * s.kv_heads * keys * (s.head_dim + s.value_dim) *
                 s.elem_bytes)
    out_rows = s.batch * s.q_heads * s.q_len
    written = out_rows * s.value_dim * s.elem_bytes
    if splits:
        written += splits * out_rows * (s.value_dim + 2) * 4
        read += splits * out_rows * (s.value_dim + 3) * 4
    return read, written
