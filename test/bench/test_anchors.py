"""The benchmark's independent anchors and checks (bench/anchors.py,
bench/report.py), on hand-computed cases: FlashAttention-2's tile choice
and traffic, and per-family checks that fail closed on failed rows."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import anchors  # noqa: E402
from anchors import Attention  # noqa: E402


def shape(**kw):
    base = dict(batch=1, q_heads=1, kv_heads=1, q_len=256, kv_len=256,
                head_dim=64, value_dim=64, elem_bytes=2, causal=False)
    base.update(kw)
    return Attention(**base)


def test_tile_table_follows_flash_attention():
    # run_mha_fwd_hdim64: 128x128 everywhere; hdim128: 128x64 on sm80/sm90,
    # sm8x 64x64 causal and 128x32 full; hdim256: 64x64 on H100, 128x64 A100.
    assert anchors.fa2_tile("sm_90a", shape())[0] == (128, 128)
    assert anchors.fa2_tile("sm_90a", shape(head_dim=128,
                                            value_dim=128))[0] == (128, 64)
    assert anchors.fa2_tile("sm_80", shape(head_dim=128, value_dim=128,
                                           causal=True))[0] == (128, 64)
    assert anchors.fa2_tile("sm_86", shape(head_dim=128, value_dim=128,
                                           causal=True))[0] == (64, 64)
    assert anchors.fa2_tile("sm_89", shape(head_dim=128,
                                           value_dim=128))[0] == (128, 32)
    assert anchors.fa2_tile("sm_90a", shape(head_dim=256,
                                            value_dim=256))[0] == (64, 64)
    assert anchors.fa2_tile("sm_80", shape(head_dim=256,
                                           value_dim=256))[0] == (128, 64)
    # ck_tile gfx9: hdim128 64x128 while 64-row blocks fit the 304 CUs.
    small = shape(q_heads=32, kv_heads=32, q_len=512, kv_len=512,
                  head_dim=128, value_dim=128)
    assert anchors.fa2_tile("gfx942", small) == ((64, 128), "ck")
    big = shape(q_heads=32, kv_heads=32, q_len=1024, kv_len=1024,
                head_dim=128, value_dim=128)
    assert anchors.fa2_tile("gfx942", big) == ((128, 128), "ck")
    assert anchors.fa2_tile("gfx942", shape())[0] == (128, 64)


def test_causal_traffic_by_hand():
    # sm_90a, d 64 -> 128x128. N 256 causal, one head, f16:
    #   query tile 0: Q 128 rows, K/V tile 0 (128 keys);
    #   query tile 1: Q 128 rows, K/V tiles 0..1 (256 keys).
    # read  = 256·64·2 (Q) + (128 + 256)·(64 + 64)·2 (K, V) = 32768 + 98304
    # write = 256·64·2 (O) + 256·4 (logsumexp)             = 32768 + 1024
    b = anchors.fa2_bytes("sm_90a", shape(causal=True))
    assert b["tile"] == "128x128"
    assert b["read"] == 131072
    assert b["written"] == 33792
    assert b["total"] == 164864
    # Not causal: both tiles read all 256 keys.
    assert anchors.fa2_bytes("sm_90a", shape())["read"] == \
        256 * 64 * 2 + 2 * 256 * 128 * 2


def test_ragged_length_counts_existing_rows():
    # N 200, tile 128x128, full: Q 200 rows, each of 2 query tiles reads all
    # 200 keys (the second K/V tile is predicated to 72 rows).
    b = anchors.fa2_bytes("sm_90a", shape(q_len=200, kv_len=200))
    assert b["read"] == 200 * 64 * 2 + 2 * 200 * 128 * 2
    assert b["written"] == 200 * 64 * 2 + 200 * 4


def test_gqa_rereads_kv_per_query_head():
    # 4 query heads over 1 kv head: FA2's CTA for head h reads kv head
    # h / 4, so K/V traffic is 4x that of one head, not shared.
    one = anchors.fa2_bytes("sm_90a", shape(head_dim=128, value_dim=128))
    gqa = anchors.fa2_bytes("sm_90a", shape(q_heads=4, head_dim=128,
                                            value_dim=128))
    assert gqa["total"] == 4 * one["total"]
    # N 256, tile 128x64, full: per head Q 256·128·2, K/V 2·256·256·2,
    # O 256·128·2, lse 256·4.
    assert one["total"] == 65536 + 262144 + 65536 + 1024


def test_unknown_chip_is_refused():
    with pytest.raises(ValueError):
        anchors.fa2_tile("gfx1100", shape())


# -- the Checks section fails closed -------------------------------------------

import report  # noqa: E402

STAMP = {"date": "2026-12-07 15:00 UTC", "commit": "abc1234", "dirty": False}


def row(counted, lb, **extra):
    return dict({"counted": counted, "lower_bound": lb, "measured": STAMP},
                **extra)


def scan_case(length, res):
    return {"family": "selective_scan", "form": "op",
            "params": {"b": 1, "channels": 1536, "l": length, "state": 16},
            "results": {"fused/sm_90a": res}}


def scan_line(cases):
    lines = report.family_checks({"io": cases})
    return next(ln for ln in lines if ln.startswith("- Selective scan"))


def test_check_met_when_every_row_is_within_bound():
    line = scan_line([scan_case(1024, row(110, 100)),
                      scan_case(2048, row(105, 100))])
    assert line.endswith(": met.")
    assert "**1.100**" in line


def test_failed_row_fails_the_check():
    # The only failing row has no count: the worst measured ratio is within
    # the bound, yet the check is not met.
    line = scan_line([scan_case(1024, row(110, 100)),
                      scan_case(2048, {"error": "emulation failed: boom"})])
    assert "NOT met" in line and "error: 1 row(s)" in line


def test_fallback_and_other_schedule_fail_the_check():
    for res in ({"fallback": ["k0 (iolite.selective_scan)"]},
                row(1, 1, schedule_check="different kernels: a vs b")):
        line = scan_line([scan_case(1024, row(110, 100)),
                          scan_case(2048, res)])
        assert "NOT met" in line


def test_row_without_provenance_fails_the_check():
    old = row(110, 100)
    del old["measured"]
    line = scan_line([scan_case(1024, old)])
    assert "NOT met" in line and "provenance not recorded" in line


def test_family_without_rows_is_not_met():
    lines = report.family_checks({"io": []})
    assert len(lines) == 6
    assert all("not measured" in ln and ln.endswith("NOT met.")
               for ln in lines)


def test_attention_check_uses_fa2s_own_tile():
    # sm_90a, d 64, N 256, one head, full: FA2's 128x128 tile moves
    # 32768 (Q) + 131072 (K, V) + 32768 (O) + 1024 (lse) = 197632 bytes;
    # a kernel that moved 1.2x that fails the 1.1 bound.
    case = {"family": "attention", "form": "op",
            "params": {"b": 1, "hq": 1, "hkv": 1, "n": 256, "d": 64,
                       "causal": False},
            "results": {"fused/sm_90a": row(1.2 * 197632, 1)}}
    line = report.family_checks({"io": [case]})[0]
    assert "**1.200**" in line and "NOT met" in line


def test_example_with_fallback_fails():
    case = {"family": "example", "form": "graph",
            "params": {"model": "m"},
            "results": {"fused/sm_90a": row(100, 100,
                                            fallback_emulated=["k (x)"]),
                        "no_fusion/sm_90a": row(200, 100)}}
    line = next(ln for ln in report.family_checks({"io": [case]})
                if ln.startswith("- Example"))
    assert "NOT met" in line and "fallback kernels" in line
