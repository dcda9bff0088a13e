"""A representative subset of the ONNX backend node tests
(onnx_conformance_ci.txt: every op type that passes the full sweep) must
keep passing: imported and run on the CPU, and compiled to GPU kernels run
on the emulator, outputs matching the stored ones.
The full sweep and its table are tools/onnx-conformance.py and
docs/onnx-conformance.md; the rows of the CI tests in the committed tables
(docs/onnx-conformance.md, docs/onnx-conformance-emu.md) must be the rows
the runner produces now (--check-markdown), so a stale table fails.

The runner's classification fails closed: a crash, a timeout or an
importer failure without its unsupported diagnostic is a fail, never
unsupported (the fake importers below).
"""

import importlib.util
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import iolite_testing as it

HERE = Path(__file__).resolve().parent
RUNNER = it.REPO / "tools" / "onnx-conformance.py"


TABLES = {"cpu": it.REPO / "docs" / "onnx-conformance.md",
          "emu": it.REPO / "docs" / "onnx-conformance-emu.md"}


@pytest.mark.parametrize("backend", ["cpu", "emu"])
def test_ci_subset_passes(backend):
    listing = HERE / "onnx_conformance_ci.txt"
    proc = subprocess.run(
        [sys.executable, str(RUNNER), f"--build-dir={it.build_dir()}",
         f"--tests={listing}", f"--expect-pass={listing}",
         f"--check-markdown={TABLES[backend]}",
         f"--backend={backend}", f"--jobs={min(os.cpu_count() or 1, 2)}"],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def load_runner():
    spec = importlib.util.spec_from_file_location("onnx_conformance", RUNNER)
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    return runner


# Fake importers: what a real run of `iolite-import` can end as.
FAKES = {
    "segfault": "kill -SEGV $$",
    "abort_after_unsupported": ("echo 'x.onnx:0:0: error: unsupported: "
                                "element type' >&2; kill -ABRT $$"),
    "hang": "sleep 30",
    "error_mentioning_unsupported": ("echo 'error: cannot parse: "
                                     "unsupported wire type 7' >&2; exit 1"),
    "exit_2_with_diagnostic": ("echo 'x.onnx:0:0: error: unsupported: "
                               "sparse initializers' >&2; exit 2"),
    "listing_exit_0_silent": "exit 0",
    "unsupported_node": ("echo \"x.onnx:0:0: error: node 'n' (Foo): "
                         "unsupported: the op\" >&2; exit 1"),
    "unsupported_output": ("echo \"x.onnx:0:0: error: graph output 'y': "
                           "unsupported: element type double\" >&2; exit 1"),
    "listing": ("echo 'x.onnx: 1 unsupported op type in 2 nodes'; "
                "echo '  Foo (2): a b'; exit 1"),
}


def fake_tool(tmp_path, name):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + FAKES[name] + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_crashes_and_timeouts_are_failures(tmp_path):
    runner = load_runner()

    def listing(name, timeout=300):
        return runner.classify_listing(*runner.run(
            [fake_tool(tmp_path, name), "m.onnx", "--list-unsupported"],
            timeout=timeout))

    def importing(name):
        return runner.classify_import(*runner.run(
            [fake_tool(tmp_path, name), "m.onnx"]))

    status, note = listing("segfault")
    assert status == "fail" and "crashed (signal 11)" in note
    status, note = listing("abort_after_unsupported")
    assert status == "fail" and "crashed (signal 6)" in note
    status, note = importing("abort_after_unsupported")
    assert status == "fail" and "crashed (signal 6)" in note
    status, note = listing("hang", timeout=1)
    assert status == "fail" and "timed out after 1 s" in note
    status, note = importing("error_mentioning_unsupported")
    assert status == "fail" and "exited 1" in note
    status, note = importing("exit_2_with_diagnostic")
    assert status == "fail" and "exited 2" in note
    status, note = listing("listing_exit_0_silent")
    assert status == "fail" and "without its summary" in note
    # The two clean forms stay unsupported.
    assert importing("unsupported_node") == (
        "unsupported", "node 'n' (Foo): unsupported: the op")
    assert importing("unsupported_output") == (
        "unsupported", "graph output 'y': unsupported: element type double")
    assert listing("listing") == ("unsupported", "ops Foo")


def test_stale_table_is_reported(tmp_path):
    runner = load_runner()
    r = runner.Result("test_abs", ["Abs"], "pass")
    table = tmp_path / "table.md"
    table.write_text(runner.table_row(r) + "\n")
    assert runner.check_markdown([r], table) == []
    table.write_text(runner.table_row(
        runner.Result("test_abs", ["Abs"], "fail", "x")) + "\n")
    assert "stale for test_abs" in runner.check_markdown([r], table)[0]
    table.write_text("")
    assert "no row for test_abs" in runner.check_markdown([r], table)[0]
