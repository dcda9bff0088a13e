"""bench/device_check.sh's plumbing, on the emulator (no GPU here).

The script prepares bundles where Iolite is built and runs them on a GPU
machine; here both halves run with the backend switched to emu, on one
small example and the harness's tiny shapes. The tests check the JSON and
log it writes, that it fails closed (a planted wrong expected output, a
missing bundle and an unreadable preparation each give a FAILED line and
exit 1), and that without PyTorch the reference check is reported as not
run (exit 3), never as passed.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "test" / "python"))

from iolite_testing import MODEL_TOLERANCES, build_dir  # noqa: E402

SCRIPT = REPO / "bench" / "device_check.sh"
EXAMPLE = "mamba_block"


def script(*args, env=None):
    env = dict(os.environ, IOLITE_BUILD_DIR=str(build_dir()),
               PYTHON=sys.executable, **(env or {}))
    env.pop("OUT", None)
    return subprocess.run([str(SCRIPT), *args], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("device-check")
    r = script("--prepare", "--no-build", f"--dir={root / 'prep'}",
               "--targets=emu-sm_90a",
               f"--examples={EXAMPLE}", "--shapes=tiny")
    assert r.returncode == 0, r.stdout + r.stderr
    return root / "prep"


def run(prepared, out, *extra, env=None):
    r = script("--run", "--backend=emu", f"--dir={prepared}", f"--out={out}",
               *extra, env=env)
    log = (out / "device_check.log").read_text()
    assert log.strip().splitlines()[-1] in r.stdout  # the summary line
    return r, json.loads((out / "device_check.json").read_text()), log


def steps(report):
    return {s["step"]: s for s in report["steps"]}


def test_prepare_writes_what_the_device_needs(prepared):
    info = json.loads((prepared / "prepare.json").read_text())
    dynamic = info["dynamic"]
    assert [d["name"] for d in dynamic] == [
        f"{EXAMPLE} 1x1", f"{EXAMPLE} 2x17", f"{EXAMPLE} 4x64"]
    assert all(d["bundle"] == f"dynamic/{EXAMPLE}" and d["expected"]
               for d in dynamic)
    assert (prepared / "dynamic" / EXAMPLE / "launch.so").exists()
    assert info["targets"] == ["emu-sm_90a"] and info["commit"]
    (example,) = info["examples"]
    assert example["name"] == EXAMPLE
    assert (example["rtol"], example["atol"]) == MODEL_TOLERANCES["f32"]
    assert (prepared / "lib" / "libiolite_runtime.so.0").exists()
    bundle = prepared / example["bundle"]
    assert (bundle / "launch.so").exists()
    assert list(bundle.glob("*.emu-sm_90a.so"))
    (harness,) = info["harness"]
    assert harness["shapes"] == "tiny" and len(harness["cases"]) == 3
    for case in json.loads((prepared / "harness-tiny" /
                            "cases.json").read_text())["cases"]:
        assert (prepared / "harness-tiny" / case["bundle"] /
                "launch.so").exists()


def test_emu_run_passes_and_reports(prepared, tmp_path):
    r, report, log = run(prepared, tmp_path / "out")
    assert r.returncode == 0, r.stdout + r.stderr
    assert report["backend"] == "emu"
    assert report["prepared"]["targets"] == ["emu-sm_90a"]
    assert report["device"]["gpu"] == "emulator (emu-sm_90a)"
    # device, the example, its dynamic model at 3 sizes, generation, 3
    # harness cases.
    assert report["summary"] == {"passed": 9, "FAILED": 0, "not run": 0}
    s = steps(report)
    assert s["device"]["status"] == "passed"
    assert s[f"example {EXAMPLE}"]["status"] == "passed"
    # One bundle of model_dynamic.mlir at every prepared size, against the
    # cpu reference computed when it was prepared.
    for size in ("1x1", "2x17", "4x64"):
        assert s[f"dynamic {EXAMPLE} {size}"]["status"] == "passed"
        dyn = report["examples"][f"dynamic {EXAMPLE} {size}"]
        assert dyn["ok"] and dyn["outputs"][0]["mismatches"] == 0
    # Greedy generation from C on the device, against PyTorch's tokens.
    assert s["generate"]["status"] == "passed"
    gen = report["generate"]
    assert gen["ok"] and gen["tokens"] == gen["expected"]
    assert len(gen["tokens"]) == 3 and len(gen["tokens"][0]) == 8
    ex = report["examples"][EXAMPLE]
    assert ex["ok"] and ex["outputs"][0]["mismatches"] == 0
    assert ex["median_ms"] > 0
    cases = report["harness"]["tiny"]["cases"]
    assert len(cases) == 3
    for c in cases:
        assert s[f"harness tiny: {c['case']}"]["status"] == "passed"
        assert c["iolite"]["tflops"] > 0
        assert c["max_abs_error"] <= c["reference_max_abs"]
    assert "not a GPU measurement" in report["harness"]["tiny"]["timing"]
    assert "0 FAILED, 0 not run" in log


def test_planted_mismatch_fails(prepared, tmp_path):
    # A copy of the preparation whose expected output is wrong by 1%.
    prep = tmp_path / "prep"
    shutil.copytree(prepared, prep)
    info = json.loads((prep / "prepare.json").read_text())
    (example,) = info["examples"]
    good = REPO / example["expected"][0]
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.load(good) * 1.01 + 1e-3)
    example["expected"] = [str(wrong)]
    (prep / "prepare.json").write_text(json.dumps(info))
    r, report, log = run(prep, tmp_path / "out", "--only=examples")
    assert r.returncode == 1
    assert f"FAILED   example {EXAMPLE}: mismatch" in log
    assert report["summary"]["FAILED"] == 1
    # The harness, not selected, is listed as not run.
    assert steps(report)["harness tiny"]["status"] == "not run"


def test_generate_planted_token_fails(prepared, tmp_path):
    # PyTorch's tokens with one changed: the step must fail, and so must a
    # preparation without the program.
    prep = tmp_path / "prep"
    shutil.copytree(prepared, prep)
    info = json.loads((prep / "prepare.json").read_text())
    info["generate"]["tokens"][1][3] += 1
    (prep / "prepare.json").write_text(json.dumps(info))
    r, report, log = run(prep, tmp_path / "out", "--only=generate")
    assert r.returncode == 1
    assert steps(report)["generate"]["status"] == "FAILED"
    assert "FAILED   generate: tokens" in log
    (prep / "generate" / "generate").unlink()
    r, report, log = run(prep, tmp_path / "out2", "--only=generate")
    assert r.returncode == 1
    assert steps(report)["generate"]["status"] == "FAILED"


def test_missing_bundle_and_preparation_fail(prepared, tmp_path):
    prep = tmp_path / "prep"
    shutil.copytree(prepared, prep)
    shutil.rmtree(prep / "examples" / EXAMPLE)
    r, report, log = run(prep, tmp_path / "out", "--only=examples")
    assert r.returncode == 1
    assert steps(report)[f"example {EXAMPLE}"]["status"] == "FAILED"
    assert "FAILED   example" in log

    r, report, log = run(tmp_path / "nothing", tmp_path / "out2")
    assert r.returncode == 1
    assert "FAILED   prepared bundles" in log


def test_without_pytorch_timings_only(prepared, tmp_path):
    # A torch module that cannot be imported, as on a machine without it.
    fake = tmp_path / "site"
    fake.mkdir()
    (fake / "torch.py").write_text('raise ImportError("no torch (planted)")')
    r, report, log = run(prepared, tmp_path / "out", "--only=harness",
                         env={"PYTHONPATH": str(fake)})
    assert r.returncode == 3, r.stdout + r.stderr
    s = steps(report)
    assert s["harness tiny against PyTorch"]["status"] == "not run"
    assert "no torch (planted)" in s["harness tiny against PyTorch"]["detail"]
    timed = [x for x in report["steps"]
             if x["step"].startswith("bundle timing tiny: ")]
    assert len(timed) == 3 and all(x["status"] == "passed" for x in timed)
    assert all(c["iolite"]["tflops"] > 0
               for c in report["harness"]["tiny"]["cases"])


def test_report_section(prepared, tmp_path):
    # docs/perf.md's section 7: absent result -> says so; present -> the
    # device, date and commit, every step.
    sys.path.insert(0, str(REPO / "bench"))
    import report
    empty = report.device_check_section(None)
    assert "No device check has run" in empty
    assert "not run" in report.device_check_summary(None)
    _, dc, _ = run(prepared, tmp_path / "out", "--only=examples")
    text = report.device_check_section(dc)
    assert "emulator (emu-sm_90a) — EMULATOR, not a GPU" in text
    assert dc["date"] in text and f"`{dc['prepared']['commit']}`" in text
    assert f"| example {EXAMPLE} | passed |" in text
    assert "| harness tiny | not run |" in text
    assert "NOT met" in report.device_check_summary(dc)
