"""Independent anchors for the attention traffic: FlashAttention-2's own
tile choice and loop structure, not Iolite's.

The ratio *Iolite counted / anchor* used to feed Iolite's tile into the
FlashAttention-2 formula, which made it 1.000 by construction. Here the tile
is the one FlashAttention-2 itself launches for the head dim and the chip:

- NVIDIA: Dao-AILab/flash-attention, FA2_SOURCE below. `run_mha_fwd_hdimD`
  picks `Flash_fwd_kernel_traits<D, kBlockM, kBlockN, ...>` per head dim,
  per `is_sm8x` (compute capability 8.x with minor > 0: sm_86/sm_89; sm_80
  and sm_90 are not sm8x) and per causal. The table is FA2_TILES (the
  dropout-free branch: inference).
- AMD: flash-attention has no AMD kernels in that file; its ROCm build
  (csrc/flash_attn_ck) calls composable_kernel's ck_tile FMHA forward,
  whose per-head-dim tiles for gfx9 (not gfx950) in fp16/bf16 are in
  CK_SOURCE. The qr_async pipeline (no bias) keeps only tiles with
  bm0 = 128 for head dims other than 128 and bn0 = 128 for head dim 128;
  at head dim 128 the 64x128 tile is chosen while the grid of 64-row
  blocks fits the CUs (`get_num_blocks(64) <= num_cus`), else 128x128.

Traffic, FA2's forward loop (flash_fwd_kernel.h, compute_attn_1rowblock):
one CTA per (batch, query head, kBlockM query rows); it reads its Q tile
once, then K and V tiles n_block_min..n_block_max-1 (causal: tiles wholly
above the diagonal are skipped, n_block_max = ceil(((m+1)·kBlockM +
Sk - Sq) / kBlockN)), writes its O tile once and one f32 logsumexp per
row (FA2 always returns softmax_lse). Rows past the end of the sequence
are predicated off, so only existing rows are counted. GQA: the CTA of
query head h reads K/V head h / h_h_k_ratio (`row_offset_k = ... +
(bidh / params.h_h_k_ratio) * params.k_head_stride`), so every query head
re-reads its group's K/V; any sharing happens only in L2, which demand
traffic (what the emulator counts) does not see.

The split-KV kernel is not modelled: flash_api.cpp's num_splits_heuristic
returns 1 when batch·heads·ceil(N/64) >= 0.8·SMs, which the benchmark's 32
heads at N >= 512 (256 blocks and more) always satisfy.
"""

import math
from dataclasses import dataclass

FA2_SOURCE = {
    "repo": "Dao-AILab/flash-attention",
    "path": "csrc/flash_attn/src/flash_fwd_launch_template.h",
    "commit": "01afd16d248c4c7d0f9aed1914084f16c490eaed",
}
CK_SOURCE = {
    "repo": "ROCm/composable_kernel",
    "path": "example/ck_tile/01_fmha/codegen/ops/fmha_fwd.py",
    "commit": "00514bed4727d9eff3fe516d7168b7a22e2f967c",
}

# FA2's head-dim buckets (flash_api.cpp rounds the head dim up to these).
FA2_HEAD_DIMS = (32, 64, 96, 128, 192, 256)

# (head dim bucket) -> {"sm8x": (causal tile, non-causal tile),
#                       "other": (causal tile, non-causal tile)}, tile =
# (kBlockM, kBlockN), dropout-free branch of run_mha_fwd_hdimD.
FA2_TILES = {
    32: {"sm8x": ((128, 128), (128, 128)), "other": ((128, 128), (128, 128))},
    64: {"sm8x": ((128, 128), (128, 128)), "other": ((128, 128), (128, 128))},
    96: {"sm8x": ((64, 64), (128, 64)), "other": ((128, 64), (128, 64))},
    128: {"sm8x": ((64, 64), (128, 32)), "other": ((128, 64), (128, 64))},
    192: {"sm8x": ((128, 64), (128, 64)), "other": ((128, 64), (128, 64))},
    # hdim256 picks by shared memory: 128x64 when a block may use
    # >= 2·256·(128 + 2·64) B and an SM has < 4·256·(64 + 2·64) B (A100),
    # else 64x64 (H100: 228 KiB per SM; sm_86/89: 99 KiB per block).
    256: {"sm8x": ((64, 64), (64, 64)), "other": None},
}
# Shared memory per SM and per block (opt-in), bytes, for hdim256.
SMEM = {"sm_80": (167936, 166912), "sm_90": (233472, 232448)}

# ck_tile gfx9 fp16/bf16 forward tiles (bm0, bn0) the qr_async pipeline may
# use, CK_SOURCE's KernelComponentFactoryGfx9 filtered by check_hdim_tile.
CK_GFX9_TILES = {32: (128, 64), 64: (128, 64), 96: (128, 128),
                 192: (128, 128), 256: (128, 128)}
CUS = {"gfx942": 304, "gfx90a": 104}


@dataclass
class Attention:
    batch: int
    q_heads: int
    kv_heads: int
    q_len: int
    kv_len: int
    head_dim: int
    value_dim: int
    elem_bytes: int
    causal: bool = False


def _bucket(d):
    for b in FA2_HEAD_DIMS:
        if d <= b:
            return b
    raise ValueError(f"head dim {d} > 256: FlashAttention-2 has no kernel")


def fa2_tile(chip, shape):
    """(kBlockM, kBlockN, which source) FlashAttention-2 launches on `chip`
    (an Iolite chip name: sm_80, sm_86, sm_89, sm_90a, gfx942, ...)."""
    d = _bucket(max(shape.head_dim, shape.value_dim))
    if chip.startswith("sm_"):
        cc = int("".join(ch for ch in chip[3:] if ch.isdigit()))
        sm8x = cc // 10 == 8 and cc % 10 > 0
        if d == 256 and not sm8x:
            per_sm, per_block = SMEM["sm_80" if cc < 90 else "sm_90"]
            big = (per_block >= 2 * 256 * (128 + 2 * 64) and
                   per_sm < 4 * 256 * (64 + 2 * 64))
            return (128, 64) if big else (64, 64), "fa2"
        causal_tile, full_tile = FA2_TILES[d]["sm8x" if sm8x else "other"]
        return (causal_tile if shape.causal else full_tile), "fa2"
    if chip.startswith("gfx9") and chip != "gfx950":
        if d == 128:
            blocks64 = (shape.batch * shape.q_heads *
                        math.ceil(shape.q_len / 64))
            return ((64, 128) if blocks64 <= CUS.get(chip, 0)
                    else (128, 128)), "ck"
        return CK_GFX9_TILES[d], "ck"
    raise ValueError(f"no FlashAttention-2 tile table for {chip}")


def fa2_bytes(chip, shape):
    """FlashAttention-2's forward HBM traffic on `chip` with its own tile:
    a dict with read, written, total, tile and source (the cited file)."""
    (bm, bn), src = fa2_tile(chip, shape)
    s = shape
    n_kv_blocks = math.ceil(s.kv_len / bn)
    read = written = 0
    for m in range(math.ceil(s.q_len / bm)):
        rows = min(bm, s.q_len - m * bm)
        n_max = n_kv_blocks
        if s.causal:
            n_max = min(n_max, math.ceil(
                ((m + 1) * bm + s.kv_len - s.q_len) / bn))
        keys = max(0, min(n_max * bn, s.kv_len))
        read += rows * s.head_dim + keys * (s.head_dim + s.value_dim)
        written += rows * s.value_dim
    per_head = s.batch * s.q_heads
    read *= per_head * s.elem_bytes
    lse = per_head * s.q_len * 4
    written = written * per_head * s.elem_bytes + lse
    source = FA2_SOURCE if src == "fa2" else CK_SOURCE
    return {"read": read, "written": written, "total": read + written,
            "lse": lse, "tile": f"{bm}x{bn}",
            "source": f"{source['repo']}/{source['path']}@"
                      f"{source['commit'][:12]}"}
