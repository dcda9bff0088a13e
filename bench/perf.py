#!/usr/bin/env python3
"""Regenerates docs/perf.md and its plots (docs/perf/*.png): run through
bench/run.sh, which builds Iolite and installs the peers first.

    /usr/bin/python3 bench/perf.py [--quick] [--no-peers] [--no-cache]
                                   [--only io,decode,varlen,resources,compile,dynamic,peers,harness]
                                   [--families attention,ssd] [--match SLUG]

Sections: global-memory traffic counted by the emulator against the IO lower
bound, fusion off and FlashAttention-2 (io_traffic.py); decode attention over
a KV cache against its lower bound (decode_traffic.py); prefill over a packed
variable-length batch against the same sequences padded (varlen_traffic.py);
kernel resources and occupancy per target (resources.py); compile time, peak
memory and the per-pass breakdown (compile_time.py); a roofline estimate for
H100 and MI300X (a model, from counted bytes and FLOPs and the target
descriptions); IREE and Triton on the same attention (peers.py); the GPU
harness's plumbing on the emulator (gpu_harness.py).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compile_time  # noqa: E402
import decode_traffic  # noqa: E402
import dynamic_shapes  # noqa: E402
import io_traffic  # noqa: E402
import report  # noqa: E402
import resources  # noqa: E402
import varlen_traffic  # noqa: E402
from common import (REPO, VENV_PYTHON, WORK, build_dir, log,  # noqa: E402
                    machine_stamp)

SECTIONS = ["io", "decode", "varlen", "resources", "compile", "dynamic",
            "peers", "harness"]


def run_peers(quick):
    if not VENV_PYTHON.exists():
        return {"error": "bench/.venv is missing: bench/run.sh installs "
                         "iree-base-compiler, triton and onnx into it"}
    onnx_dir = WORK / "onnx"
    r = subprocess.run(["/usr/bin/python3", str(HERE / "onnx_models.py"),
                        str(onnx_dir)], capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": "writing the ONNX models failed: " +
                r.stderr.strip()[-400:]}
    out = WORK / "peers.json"
    env = dict(os.environ, IOLITE_BUILD_DIR=str(build_dir()))
    r = subprocess.run([str(VENV_PYTHON), str(HERE / "peers.py"),
                        str(onnx_dir), str(out)], env=env,
                       stderr=None if os.environ.get("BENCH_VERBOSE") else
                       subprocess.PIPE, text=True)
    if r.returncode != 0:
        return {"error": "peers.py failed: " + (r.stderr or "")[-600:]}
    return json.loads(out.read_text())


def run_harness():
    out = WORK / "harness.json"
    env = dict(os.environ, IOLITE_BUILD_DIR=str(build_dir()))
    r = subprocess.run(["/usr/bin/python3", str(HERE / "gpu_harness.py"),
                        "--backend=emu", "--shapes=tiny", "--iters=3",
                        "--warmup=1", "--json", str(out)], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": r.stderr.strip()[-600:]}
    return json.loads(out.read_text())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="a few sizes per family, one compile per model")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-cache", action="store_true",
                    help="re-emulate everything")
    ap.add_argument("--only", help="comma-separated sections: " +
                    ",".join(SECTIONS))
    ap.add_argument("--families",
                    help="io: only these comma-separated families "
                         "(attention, selective_scan, ssd, moe, example); "
                         "their rows replace the same rows of the stored "
                         "results")
    ap.add_argument("--match",
                    help="io: only cases whose slug contains this, e.g. "
                         "'attention-op-b1_hq32_hkv8_n512'")
    ap.add_argument("--out", default=str(REPO / "docs" / "perf.md"))
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the report from docs/perf/results.json "
                         "without measuring")
    a = ap.parse_args()
    if a.report_only:
        out = Path(a.out)
        results = json.loads((out.parent / "perf" /
                              "results.json").read_text())
        report.write(results, out)
        return
    sections = a.only.split(",") if a.only else list(SECTIONS)
    if (a.families or a.match) and not a.only:
        sections = ["io"]
    if a.no_peers and "peers" in sections:
        sections.remove("peers")
    WORK.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    stamp = machine_stamp()
    results = {"machine": stamp, "quick": a.quick, "sections": sections,
               "timings": {}}
    raw = Path(a.out).parent / "perf" / "results.json"
    previous = None
    subset = bool(a.families or a.match)
    if (a.only or subset) and raw.exists():
        # A partial run replaces its sections in the last full results.
        previous = json.loads(raw.read_text())
    manifests = []

    def timed(name, fn):
        t0 = time.perf_counter()
        log(f"== {name}")
        value = fn()
        results["timings"][name] = time.perf_counter() - t0
        return value

    if "io" in sections:
        families = a.families.split(",") if a.families else None
        results["io"] = timed("io", lambda: io_traffic.measure(
            a.quick, not a.no_cache, families, a.match))
    if "decode" in sections:
        results["decode"] = timed(
            "decode", lambda: decode_traffic.measure(a.quick))
        results["decode_matmul"] = timed(
            "decode matmul", lambda: decode_traffic.measure_matmuls(a.quick))
    if "varlen" in sections:
        results["varlen"] = timed(
            "varlen", lambda: varlen_traffic.measure(a.quick))
    if "compile" in sections:
        results["compile"], manifests = timed(
            "compile", lambda: compile_time.measure(a.quick))
    if "dynamic" in sections:
        results["dynamic"] = timed(
            "dynamic", lambda: dynamic_shapes.measure(a.quick))
    if "resources" in sections:
        results["resources"] = timed(
            "resources", lambda: resources.measure(manifests))
    if "peers" in sections:
        results["peers"] = timed("peers", lambda: run_peers(a.quick))
    if "harness" in sections:
        results["harness"] = timed("harness", run_harness)
    results["total_seconds"] = time.perf_counter() - start
    results["targets"] = resources.target_facts()
    if previous:
        partial = results
        prev_io = list(previous.get("io", []))
        results = previous
        results["partial_runs"] = results.get("partial_runs", []) + [
            {"date": stamp["date"], "commit": stamp["commit"],
             "dirty": stamp.get("dirty"),
             "sections": sections if not subset else
             [f"io subset ({a.families or 'all families'}"
              + (f", slugs containing '{a.match}'" if a.match else "")
              + ")"] + [x for x in sections if x != "io"],
             "seconds": partial["total_seconds"]}]
        for key in ("io", "decode", "decode_matmul", "varlen", "compile",
                    "dynamic", "resources", "peers", "harness"):
            if key in partial:
                results[key] = partial[key]
        if subset and "io" in partial:
            # A subset of the io cases replaces only its own rows.
            def ident(c):
                return json.dumps([c["family"], c["form"], c["params"]],
                                  sort_keys=True)
            new = {ident(c): c for c in partial["io"]}
            merged = [new.pop(ident(c), c) for c in prev_io]
            results["io"] = merged + list(new.values())
        results["targets"] = partial["targets"]

    out = Path(a.out)
    report.write(results, out)
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps(results, indent=1, default=str))
    log(f"wrote {out} and {out.parent / 'perf'} in "
        f"{(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
