"""docs/python.md stays correct: its Python blocks run, in order, as one
program, and print what the page says they print."""

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_python_md_example_runs(tmp_path):
    page = (REPO / "docs" / "python.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", page, re.M | re.S)
    assert len(blocks) >= 3
    script = tmp_path / "python_md.py"
    script.write_text("\n".join(blocks))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path,
                          capture_output=True, text=True, env=os.environ)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "iolite.attention" in out and "iolite.rotary" in out
    assert "(1, 8, 16, 32) float32" in out
    lines = out.splitlines()
    cpu_vs_emu = float(lines[lines.index("(1, 8, 16, 32) float32") + 1])
    assert cpu_vs_emu < 1e-4
    assert "global bytes read/written:" in out
    assert ("iolite.attention | query heads (8) must be a multiple of kv "
            "heads (3) | " + str(script)) in out
    moe_error = float(out.strip().splitlines()[-1])
    assert moe_error < 1e-4
