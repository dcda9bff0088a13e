"""Peers side by side: IREE and Triton compile the same attention (and IREE
the same ONNX models) on this machine, without a GPU, next to Iolite.

Runs inside bench/.venv (iree-base-compiler, triton, onnx from PyPI; run.sh
installs them):

    bench/.venv/bin/python bench/peers.py ONNX_DIR OUT.json

ONNX_DIR holds the models of onnx_models.py. For every compiler and target:
wall time and peak memory of the compile (a fresh process each), the number
of kernels (dispatches), and the registers / spills / shared memory of each
kernel from the vendor tools: `ptxas -v` on NVIDIA (CUDA's ptxas for Iolite
and IREE's PTX; the ptxas Triton ships and runs itself for Triton's, whose
PTX is newer than CUDA's), the HSACO's amdhsa metadata on AMD.
A compiler that fails records its error.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (WORK, build_dir, find_ptxas, log,  # noqa: E402
                    provenance, run_measured)

VENV_BIN = Path(sys.executable).parent
READELF = "/usr/lib/llvm-22/bin/llvm-readelf"
CUDA_PTXAS = find_ptxas()

# Targets each compiler is asked for: (label, iolite, iree flags, triton,
# tilelang arch or None).
#
# IREE 3.13 knows no Hopper target: its table of CUDA targets
# (KnownTargets.cpp, getNVIDIAGPUTargetDetails) stops at Ada, so
# `--iree-cuda-target=sm_90a` and `=sm_90` (with or without
# `--iree-cuda-target-features=+ptx80`) fail with "missing GPU target in
# #hal.executable.target" before any codegen. For sm_90a IREE therefore
# generates its sm_80 (A100) code and ptxas assembles that PTX for sm_90a:
# the registers and spills of IREE's kernels on Hopper, without Hopper-only
# instructions (wgmma, TMA). IREE_NOTES says so in the report.
TARGETS = [
    ("sm_80", "sm_80", ["--iree-hal-target-device=cuda",
                        "--iree-cuda-target=sm_80"], ("cuda", 80, 32),
     "sm_80"),
    ("sm_90a", "sm_90a", ["--iree-hal-target-device=cuda",
                          "--iree-cuda-target=sm_80"], ("cuda", 90, 32),
     "sm_90a"),
    ("gfx942", "gfx942", ["--iree-hal-target-device=hip",
                          "--iree-rocm-target=gfx942"],
     ("hip", "gfx942", 64), None),
]
IREE_NOTES = {"sm_90a": "IREE has no sm_90 target: its sm_80 code, "
                        "assembled by ptxas for sm_90a"}


def parse_ptxas_log(text):
    """Per-entry registers, spill bytes, stack and static smem from the
    `ptxas -v` lines of `text` (ptxas's or nvcc -Xptxas -v's stderr). A
    field whose line is missing stays None, never 0: the report prints it as
    not reported."""
    kernels, cur = {}, None
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '([^']+)'", line)
        if m:
            cur = m.group(1)
            # ptxas prints no smem figure for a kernel without static
            # shared memory, so that one alone defaults to 0.
            kernels[cur] = {"registers": None, "spills": None,
                            "stack": None, "static_shared": 0}
            continue
        if cur is None:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, "
                      r"(\d+) bytes spill loads", line)
        if m:
            kernels[cur]["stack"] = int(m.group(1))
            kernels[cur]["spills"] = int(m.group(2)) + int(m.group(3))
        m = re.search(r"Used (\d+) registers", line)
        if m:
            kernels[cur]["registers"] = int(m.group(1))
        m = re.search(r"(\d+) bytes smem", line)
        if m:
            kernels[cur]["static_shared"] = int(m.group(1))
    return kernels


def ptxas_report(ptx_path, arch, ptxas=CUDA_PTXAS):
    """Per-entry registers, spill bytes, stack and static smem."""
    r = subprocess.run([ptxas, "-v", f"-arch={arch}", str(ptx_path), "-o",
                        os.devnull], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()[-300:]
    return parse_ptxas_log(r.stderr), None


def hsaco_report(path):
    """Per-kernel VGPRs, SGPRs, spills, LDS and scratch from the notes."""
    r = subprocess.run([READELF, "--notes", str(path)], capture_output=True,
                       text=True)
    kernels, cur = {}, {}
    for line in r.stdout.splitlines():
        line = line.strip().lstrip("- ").strip()
        m = re.match(r"\.(\w+):\s+(.*)", line)
        if not m:
            continue
        key, value = m.groups()
        if key in ("agpr_count", "args") and cur.get("name"):
            kernels[cur["name"]] = cur
            cur = {}
        if key == "name":
            cur["name"] = value.strip("'")
        elif key in ("vgpr_count", "sgpr_count", "vgpr_spill_count",
                     "sgpr_spill_count", "group_segment_fixed_size",
                     "private_segment_fixed_size", "agpr_count",
                     "max_flat_workgroup_size"):
            try:
                cur[key] = int(value)
            except ValueError:
                pass
    if cur.get("name"):
        kernels[cur["name"]] = cur
    # A field the metadata does not give stays None, never 0.
    out = {}
    for name, k in kernels.items():
        out[name] = {"registers": k.get("vgpr_count"),
                     "scalar_registers": k.get("sgpr_count"),
                     "spills": k.get("vgpr_spill_count"),
                     "scalar_spills": k.get("sgpr_spill_count"),
                     "stack": k.get("private_segment_fixed_size"),
                     "static_shared": k.get("group_segment_fixed_size"),
                     "threads": k.get("max_flat_workgroup_size")}
    return out


def last_error(text):
    """The first error line, with this machine's paths shortened."""
    lines = [ln for ln in text.strip().splitlines() if "error" in ln]
    line = (lines[0] if lines else text.strip().splitlines()[-1]
            if text.strip() else "failed")
    return line.replace(str(WORK) + "/", "")[:300]


# -- Iolite -----------------------------------------------------------------

def iolite(model, target, out):
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    r = run_measured([str(build_dir() / "bin" / "iolite-compile"),
                      str(model), f"--target={target}", "-o", str(out)])
    res = {"seconds": r["seconds"], "cpu_s": r["user_s"] + r["sys_s"],
           "max_rss_mib": r["max_rss_kib"] / 1024}
    if r["returncode"] != 0:
        res["error"] = last_error(r["stderr"])
        return res
    manifest = json.loads((out / "manifest.json").read_text())
    res["kernels"] = []
    for k in manifest["kernels"]:
        t = k["targets"][target]
        rr = t.get("resources", {})
        res["kernels"].append({
            "name": k["name"], "template": k["template"],
            "ops": sorted({o["op"] for o in k["source_ops"]}),
            "threads": t["block"][0] * t["block"][1] * t["block"][2],
            "registers": rr.get("registers"),
            "scalar_registers": rr.get("scalar_registers"),
            "spills": rr.get("spills"), "stack": rr.get("stack_bytes"),
            "shared": t["dynamic_shared_memory_bytes"] +
            rr.get("static_shared_memory_bytes", 0)})
    return res


# -- IREE -------------------------------------------------------------------

def iree_import(onnx_path, out_mlir):
    out_mlir.parent.mkdir(parents=True, exist_ok=True)
    tool = VENV_BIN / "iree-import-onnx"
    if not tool.exists():
        return {"error": f"{tool.name} is not installed in bench/.venv "
                         "(pip install iree-base-compiler onnx failed?)"}
    r = run_measured([str(tool), str(onnx_path), "-o", str(out_mlir)])
    if r["returncode"] != 0:
        return {"error": last_error(r["stderr"] + r["stdout"])}
    return {"seconds": r["seconds"], "max_rss_mib": r["max_rss_kib"] / 1024}


def iree(mlir, flags, arch, out):
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    dump = out / "binaries"
    r = run_measured([str(VENV_BIN / "iree-compile"), str(mlir), *flags,
                      "-o", str(out / "module.vmfb"),
                      f"--iree-hal-dump-executable-binaries-to={dump}"])
    res = {"seconds": r["seconds"], "cpu_s": r["user_s"] + r["sys_s"],
           "max_rss_mib": r["max_rss_kib"] / 1024, "flags": flags}
    if arch in IREE_NOTES:
        res["note"] = IREE_NOTES[arch]
    if r["returncode"] != 0:
        res["error"] = last_error(r["stderr"])
        return res
    res["kernels"] = []
    for ptx in sorted(dump.glob("*.ptx")):
        text = ptx.read_text()
        report, err = ptxas_report(ptx, arch)
        threads = {}
        entry = None
        for line in text.splitlines():
            m = re.search(r"\.entry (\w+)\(", line)
            if m:
                entry = m.group(1)
            m = re.search(r"\.(?:maxntid|reqntid) (\d+), (\d+), (\d+)",
                          line)
            if m and entry:
                threads[entry] = (int(m.group(1)) * int(m.group(2)) *
                                  int(m.group(3)))
        for name in re.findall(r"\.entry (\w+)\(", text):
            # IREE sizes dynamic shared memory at run time from its module's
            # export table: ptxas sees only the static part.
            k = {"name": name, "threads": threads.get(name),
                 "shared_note": "static only; dynamic size in the module"}
            if report and name in report:
                k.update(report[name])
                k["shared"] = k.pop("static_shared")
            elif err:
                k["error"] = err
            res["kernels"].append(k)
    for hsaco in sorted(dump.glob("*.hsaco")):
        for name, k in hsaco_report(hsaco).items():
            k["shared"] = k.pop("static_shared")
            res["kernels"].append(dict(name=name, **k))
    return res


# -- Triton -----------------------------------------------------------------

TRITON_SCRIPT = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
from triton.backends.compiler import GPUTarget
import triton_attention as ta
t1 = time.perf_counter()
backend, arch, warp = json.loads(sys.argv[2])
kernel, cfg = ta.compile_for(GPUTarget(backend, arch, warp), int(sys.argv[3]),
                             int(sys.argv[4]), sys.argv[5] == "1")
t2 = time.perf_counter()
out = sys.argv[6]
ext = "cubin" if backend == "cuda" else "hsaco"
open(out + "." + ext, "wb").write(kernel.asm[ext])
if backend == "cuda":
    open(out + ".ptx", "w").write(kernel.asm["ptx"])
print(json.dumps({"import_s": t1 - t0, "compile_s": t2 - t1,
                  "dynamic_shared": kernel.metadata.shared,
                  "num_warps": kernel.metadata.num_warps, "config": cfg}))
"""


def triton(target, heads, head_dim, causal, out):
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    env = dict(os.environ, TRITON_CACHE_DIR=tempfile.mkdtemp(
        prefix="triton-cache-"), TRITON_DEFAULT_FP_FUSION="1")
    r = run_measured([sys.executable, "-c", TRITON_SCRIPT,
                      str(Path(__file__).resolve().parent),
                      json.dumps(list(target)), str(heads), str(head_dim),
                      "1" if causal else "0", str(out / "kernel")], env=env)
    shutil.rmtree(env["TRITON_CACHE_DIR"], ignore_errors=True)
    res = {"seconds": r["seconds"], "cpu_s": r["user_s"] + r["sys_s"],
           "max_rss_mib": r["max_rss_kib"] / 1024}
    if r["returncode"] != 0:
        res["error"] = last_error(r["stderr"])
        return res
    info = json.loads(r["stdout"].strip().splitlines()[-1])
    res.update({"in_process_compile_s": info["compile_s"],
                "import_s": info["import_s"], "config": info["config"]})
    threads = info["num_warps"] * target[2]
    k = {"name": "flash_attention_fwd", "threads": threads}
    if target[0] == "cuda":
        import triton
        bin_dir = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"
        ptxas = None
        for cand in ("ptxas-blackwell", "ptxas"):
            if (bin_dir / cand).exists():
                rep, err = ptxas_report(out / "kernel.ptx", f"sm_{target[1]}"
                                        + ("a" if target[1] == 90 else ""),
                                        str(bin_dir / cand))
                if rep:
                    ptxas = cand
                    k.update(next(iter(rep.values())))
                    break
        if ptxas is None:
            k["error"] = err
        k["ptxas"] = ptxas
    else:
        k.update(next(iter(hsaco_report(out / "kernel.hsaco").values())))
    k["shared"] = k.pop("static_shared", 0) + info["dynamic_shared"]
    res["kernels"] = [k]
    return res


# -- TileLang ---------------------------------------------------------------

def tilelang(arch, heads, head_dim, seq, causal, out):
    """TileLang's flash attention (tilelang_attention.py) lowered to CUDA
    for `arch` without a GPU, then nvcc + ptxas -v on its CUDA source for
    the registers, spills and static shared memory. A failure records the
    exact error."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    r = run_measured([sys.executable,
                      str(Path(__file__).resolve().parent /
                          "tilelang_attention.py"), arch, str(heads),
                      str(head_dim), str(seq), "1" if causal else "0",
                      str(out / "kernel")])
    res = {"seconds": r["seconds"], "cpu_s": r["user_s"] + r["sys_s"],
           "max_rss_mib": r["max_rss_kib"] / 1024}
    if r["returncode"] != 0:
        res["error"] = last_error(r["stderr"] + r["stdout"])
        return res
    info = json.loads(r["stdout"].strip().splitlines()[-1])
    res.update({"import_s": info["import_s"],
                "in_process_compile_s": info["lower_s"],
                "config": info["config"], "version": info["version"],
                "note": "lowering to CUDA only; nvcc/ptxas time not "
                        "included"})
    import importlib.util
    root = Path(importlib.util.find_spec("tilelang").origin).parent
    nvcc = Path(CUDA_PTXAS).parent / "nvcc"
    cmd = [str(nvcc), "-std=c++17", f"-arch={arch}", "-cubin", "-O3",
           "-Xptxas", "-v", f"-I{root / 'src'}",
           f"-I{root / '3rdparty' / 'cutlass' / 'include'}",
           f"-I{root / '3rdparty' / 'tvm' / 'include'}",
           "-o", str(out / "kernel.cubin"), str(out / "kernel.cu")]
    c = subprocess.run(cmd, capture_output=True, text=True)
    if c.returncode != 0:
        res["error"] = "nvcc on TileLang's CUDA: " + last_error(c.stderr)
        return res
    src = (out / "kernel.cu").read_text()
    threads = re.search(r"__launch_bounds__\((\d+)", src)
    kernels = []
    for name, k in parse_ptxas_log(c.stderr).items():
        kernels.append({"name": name, "registers": k["registers"],
                        "spills": k["spills"], "stack": k["stack"],
                        "shared": k["static_shared"],
                        "threads": int(threads.group(1)) if threads
                        else None,
                        "shared_note": "static only; dynamic size set "
                                       "at launch"})
    res["kernels"] = kernels
    return res


def main(onnx_dir, out_json):
    onnx_dir = Path(onnx_dir)
    meta = json.loads((onnx_dir / "models.json").read_text())
    att = meta["attention"]
    work = WORK / "peers"
    results = {"attention": att, "versions": versions(), "rows": []}

    def add(model, compiler, target, res):
        res.update({"model": model, "compiler": compiler, "target": target,
                    "measured": provenance()})
        results["rows"].append(res)
        log(f"[peers] {model} {compiler} {target}: "
            + (res.get("error") or f"{res['seconds']:.1f} s, "
               f"{len(res['kernels'])} kernel(s)"))

    models = [("attention", onnx_dir / "attention.onnx")]
    for name in ("llama", "gpt2"):
        p = onnx_dir / f"{name}_block.onnx"
        if p.exists():
            models.append((f"{name}_block", p))
    for model, path in models:
        imported = work / f"{model}.iree.mlir"
        imp = iree_import(path, imported)
        results.setdefault("iree_import", {})[model] = imp
        for label, iol, iree_flags, tri, tl_arch in TARGETS:
            add(model, "iolite", label,
                iolite(path, iol, work / "iolite" / model / label))
            if "error" in imp:
                add(model, "iree", label, {"error": "iree-import-onnx: " +
                                           imp["error"], "seconds": 0})
            else:
                arch = label
                add(model, "iree", label,
                    iree(imported, iree_flags, arch,
                         work / "iree" / model / label))
            if model == "attention":
                add(model, "triton", label,
                    triton(tri, att["heads"], att["head_dim"], att["causal"],
                           work / "triton" / label))
                if tl_arch:
                    add(model, "tilelang", label,
                        tilelang(tl_arch, att["heads"], att["head_dim"],
                                 att["seq"], att["causal"],
                                 work / "tilelang" / label))
    Path(out_json).write_text(json.dumps(results, indent=1))


def versions():
    out = {}
    try:
        r = subprocess.run([str(VENV_BIN / "iree-compile"), "--version"],
                           capture_output=True, text=True)
        m = re.search(r"compiler version (\S+)", r.stdout)
        out["iree"] = m.group(1) if m else r.stdout.strip()[:80]
    except OSError as e:
        out["iree"] = f"not installed ({e})"
    try:
        import triton
        out["triton"] = triton.__version__
    except ImportError as e:
        out["triton"] = f"not installed ({e})"
    try:
        from importlib.metadata import version
        out["tilelang"] = version("tilelang")
    except Exception as e:  # noqa: BLE001 - any lookup failure is reported
        out["tilelang"] = f"not installed ({type(e).__name__}: {e})"[:200]
    r = subprocess.run([CUDA_PTXAS, "--version"], capture_output=True,
                       text=True)
    m = re.search(r"release ([\d.]+)", r.stdout)
    out["cuda_ptxas"] = m.group(1) if m else "?"
    return out


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
