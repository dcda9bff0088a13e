"""The test harness fails closed: the skip policy and Batch's output count.

The skip policy (test/skip_policy.py) on small pytest runs:

Each case writes a test folder whose conftest.py loads the policy as the
project's do, runs pytest on it in a subprocess, and checks the exit status
and the message: an unlisted skip (in a test, by skipif, by importorskip at
collection) fails; a listed one passes; a run where nothing passed fails.
The listed skip reuses test/skip-allowlist.txt's entry for
test_gpu_harness.py.

Batch (iolite_testing.py) with iolite-run's outputs faked: a missing or an
extra output fails the batch and names it, rather than checking fewer.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import iolite_testing
from iolite_testing import Batch

REPO = Path(__file__).resolve().parents[2]
CONFTEST = (f"import sys\nsys.path.insert(0, {str(REPO / 'test')!r})\n"
            "from skip_policy import (pytest_configure, "
            "pytest_make_collect_report, pytest_runtest_logreport, "
            "pytest_runtest_makereport, pytest_sessionfinish)\n")
GPU_REASON = "a GPU is present: the harness would time it"


def run(tmp_path, files):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    proc = subprocess.run(
        [sys.executable, "-B", "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    return proc.returncode, proc.stdout + proc.stderr


def test_unlisted_skip_fails(tmp_path):
    rc, out = run(tmp_path, {"test_a.py": (
        "import pytest\n"
        "def test_ok():\n    pass\n"
        "def test_skips():\n    pytest.skip('tool not built')\n")})
    assert rc == 1, out
    assert "1 failed, 1 passed" in out
    assert "skipped ('tool not built')" in out
    assert "test/skip-allowlist.txt has no 'test_a.py | tool not built" in out


def test_unlisted_skipif_fails(tmp_path):
    rc, out = run(tmp_path, {"test_a.py": (
        "import pytest\n"
        "def test_ok():\n    pass\n"
        "@pytest.mark.skipif(True, reason='no device')\n"
        "def test_skips():\n    pass\n")})
    # skipif skips at setup: the failure is reported as an error there.
    assert rc == 1 and "1 passed, 1 error" in out, out
    assert "skipped ('no device')" in out


def test_importorskip_at_collection_fails(tmp_path):
    rc, out = run(tmp_path, {
        "test_a.py": "def test_ok():\n    pass\n",
        "test_b.py": ("import pytest\n"
                      "pytest.importorskip('no_such_module_iolite')\n"
                      "def test_never():\n    pass\n")})
    assert rc != 0, out
    assert "no_such_module_iolite" in out and "skip-allowlist" in out


def test_listed_skip_passes(tmp_path):
    rc, out = run(tmp_path, {"test_gpu_harness.py": (
        "import pytest\n"
        "def test_ok():\n    pass\n"
        f"def test_skips():\n    pytest.skip({GPU_REASON!r})\n")})
    assert rc == 0, out
    assert "1 passed, 1 skipped" in out


def test_listed_reason_in_another_file_fails(tmp_path):
    rc, out = run(tmp_path, {"test_other.py": (
        "import pytest\n"
        "def test_ok():\n    pass\n"
        f"def test_skips():\n    pytest.skip({GPU_REASON!r})\n")})
    assert rc == 1 and "1 failed, 1 passed" in out, out


def test_all_skipped_fails(tmp_path):
    rc, out = run(tmp_path, {"test_gpu_harness.py": (
        "import pytest\n"
        f"def test_skips():\n    pytest.skip({GPU_REASON!r})\n")})
    assert rc == 1, out
    assert "no test passed" in out


def test_empty_run_fails(tmp_path):
    rc, out = run(tmp_path, {"test_a.py": "X = 1\n"})
    assert rc != 0, out


def test_allowlist_entries_are_well_formed():
    sys.path.insert(0, str(REPO / "test"))
    import skip_policy
    entries = skip_policy.read_allowlist()
    assert entries, "the allow-list lists the GPU-present skip"
    for (name, reason), why in entries.items():
        assert any(next(d.rglob(name), None)
                   for d in (REPO / "test", REPO / "python" / "tests")), name
        assert len(why.split()) >= 5, f"{name}: say why ({why!r})"


def batch():
    b = Batch("fake")
    x = np.ones((2,), np.float32)
    b.add("neg", "%y = iolite.neg %x0 : tensor<2xf32>", [(x, "f32")],
          [("%y", "tensor<2xf32>")], [-x])
    b.add("pair", "%y = iolite.neg %x0 : tensor<2xf32>", [(x, "f32")],
          [("%y", "tensor<2xf32>"), ("%x0", "tensor<2xf32>")], [-x, x])
    return b, x


def fake_run(monkeypatch, outputs):
    monkeypatch.setattr(iolite_testing, "iolite_run",
                        lambda *a, **k: (0, outputs, "", ""))


def test_batch_checks_every_output(monkeypatch):
    b, x = batch()
    fake_run(monkeypatch, [-x, -x, x])
    b.check("neg")
    b.check("pair")


def test_batch_missing_output_fails(monkeypatch):
    b, x = batch()
    fake_run(monkeypatch, [-x, -x])
    with pytest.raises(AssertionError, match="wrote 2 outputs for 3 results; "
                       "missing: pair result 1; extra: none"):
        b.check("neg")
    # Every case of the batch reports it.
    with pytest.raises(AssertionError, match="missing: pair result 1"):
        b.check("pair")


def test_batch_extra_output_fails(monkeypatch):
    b, x = batch()
    fake_run(monkeypatch, [-x, -x, x, x])
    with pytest.raises(AssertionError, match="missing: none; extra: out3.npy"):
        b.check("neg")


def test_batch_reference_count_must_match(monkeypatch):
    b, x = batch()
    b.cases[1]["expected"] = [-x]  # a reference forgotten
    fake_run(monkeypatch, [-x, -x, x])
    with pytest.raises(AssertionError, match="pair: 2 outputs, 1 reference"):
        b.check("pair")
