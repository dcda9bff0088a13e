"""Compile time and peak memory of iolite-compile, with the per-pass
breakdown that -mlir-timing reports (JSON tree)."""

import json
import shutil
import statistics

from common import REPO, WORK, log, run_measured, tool

TARGETS = ["sm_80", "sm_90a", "gfx90a", "gfx942"]


def example_models():
    """examples/<name>/model.mlir, the three example models."""
    out = []
    for name in ("llama_block", "mamba_block", "moe_layer"):
        path = REPO / "examples" / name / "model.mlir"
        if path.exists():
            out.append((name, path))
    return out


def parse_timing(stderr):
    """The JSON tree of -mlir-timing-display=tree -mlir-output-format=json:
    a list of {"name", "wall": {"duration"}, "passes": [...]} (empty dicts
    end each list)."""
    start = stderr.find("[")
    if start < 0:
        return []
    try:
        tree = json.loads(stderr[start:])
    except json.JSONDecodeError:
        return []

    def clean(nodes):
        out = []
        for n in nodes:
            if not n:
                continue
            out.append({"name": n["name"],
                        "seconds": n["wall"]["duration"],
                        "children": clean(n.get("passes", []))})
        return out
    return clean(tree)


# Top-level steps of the timing tree, grouped for the stacked plot.
def categorize(tree):
    cats = {}

    def add(key, s):
        cats[key] = cats.get(key, 0.0) + s
    for node in tree:
        name = node["name"]
        if name in ("Total", "Rest"):
            continue
        if name.startswith("target "):
            for step in node["children"]:
                if step["name"] == "kernel codegen":
                    add("kernel codegen", step["seconds"])
                elif step["name"] == "back end":
                    for p in step["children"]:
                        if p["name"] == "GpuModuleToBinaryPass":
                            add("LLVM codegen (gpu-module-to-binary)",
                                p["seconds"])
                        elif p["name"] == "ptxas":
                            add("ptxas", p["seconds"])
                        else:
                            add("GPU lowering passes", p["seconds"])
        else:
            add(name, node["seconds"])
    return cats


def flat_passes(tree, prefix=""):
    """(path, seconds) of every leaf pass or step."""
    out = []
    for n in tree:
        if n["name"] in ("Total", "Rest"):
            continue
        path = f"{prefix}/{n['name']}" if prefix else n["name"]
        if n["children"]:
            out += flat_passes(n["children"], path)
        else:
            out.append((path, n["seconds"]))
    return out


def compile_once(model, target, out_dir):
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    r = run_measured([tool("iolite-compile"), str(model),
                      f"--target={target}", "-o", str(out_dir),
                      "-mlir-timing", "-mlir-timing-display=tree",
                      "-mlir-output-format=json"])
    return r


def measure(quick):
    repeats = 1 if quick else 3
    rows, manifests = [], []
    for name, path in example_models():
        for target in TARGETS:
            log(f"[compile] {name} {target}")
            runs = []
            for i in range(repeats):
                out = WORK / "compile" / name / target
                runs.append(compile_once(path, target, out))
            bad = [r for r in runs if r["returncode"] != 0]
            if bad:
                rows.append({"model": name, "target": target,
                             "error": bad[0]["stderr"].strip()[-300:]})
                continue
            best = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
            tree = parse_timing(best["stderr"])
            manifest = json.loads((WORK / "compile" / name / target /
                                   "manifest.json").read_text())
            manifests.append((f"example {name}", manifest))
            rows.append({
                "model": name, "target": target,
                "seconds": statistics.median(r["seconds"] for r in runs),
                "seconds_all": [r["seconds"] for r in runs],
                "user_s": best["user_s"], "sys_s": best["sys_s"],
                "max_rss_mib": max(r["max_rss_kib"] for r in runs) / 1024,
                "kernels": len(manifest["kernels"]),
                "categories": categorize(tree),
                "passes": flat_passes(tree)})
    return {"rows": rows, "repeats": repeats}, manifests
