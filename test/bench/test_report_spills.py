"""bench/report.py's register-spill check fails closed.

A kernel-target whose resources row reports spills, and one whose row has
no spill count at all (a report that was not parsed), are both NOT met; only
rows that all say 0 are met.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from report import spill_check  # noqa: E402


def row(kernel, target, **fields):
    return dict(model="m", kernel=kernel, template="matmul", target=target,
                registers=24, **fields)


def test_no_spills_is_met():
    line = spill_check([row("mm", "sm_90a", spills=0),
                        row("mm", "gfx942", spills=0)])
    assert "**0** spilling, **0** without a spill count" in line
    assert line.endswith(": met.")


def test_spilling_kernel_is_not_met():
    line = spill_check([row("mm", "sm_90a", spills=504),
                        row("scale", "sm_90a", spills=0)])
    assert "**1** spilling, **0** without" in line
    assert "NOT met — mm on sm_90a." in line


def test_missing_spill_count_is_not_met():
    for unknown in (row("mm", "gfx942"), row("mm", "gfx942", spills=None),
                    row("mm", "gfx942", spills="?")):
        line = spill_check([row("scale", "sm_90a", spills=0), unknown])
        assert "**0** spilling, **1** without a spill count" in line
        assert "NOT met — mm on gfx942." in line


def test_both_are_named():
    line = spill_check([row("mm", "sm_90a", spills=504),
                        row("attn", "gfx942")])
    assert "**1** spilling, **1** without" in line
    assert "NOT met — mm on sm_90a; attn on gfx942." in line


# The peers' ptxas reports (bench/peers.py) fail closed the same way: a
# kernel whose spill line is missing has no spill count, not 0.
from peers import parse_ptxas_log  # noqa: E402

PTXAS = """ptxas info    : Compiling entry function 'full' for 'sm_90a'
ptxas info    : Function properties for full
    16 bytes stack frame, 8 bytes spill stores, 8 bytes spill loads
ptxas info    : Used 255 registers, used 1 barriers, 384 bytes cmem[0]
ptxas info    : Compiling entry function 'cut' for 'sm_90a'
ptxas info    : Used 40 registers, 49152 bytes smem
"""


def test_peer_report_reads_what_ptxas_printed():
    k = parse_ptxas_log(PTXAS)
    assert k["full"] == {"registers": 255, "spills": 16, "stack": 16,
                         "static_shared": 0}
    assert k["cut"]["registers"] == 40
    assert k["cut"]["static_shared"] == 49152


def test_peer_report_without_spill_line_is_unknown():
    k = parse_ptxas_log(PTXAS)["cut"]
    assert k["spills"] is None and k["stack"] is None
