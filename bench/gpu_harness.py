#!/usr/bin/env python3
"""Times Iolite bundles against PyTorch on the same shapes.

    python3 bench/gpu_harness.py                  # NVIDIA GPU + PyTorch
    python3 bench/gpu_harness.py --backend=emu --shapes=tiny --iters=3

For each case (causal and full attention against
torch.nn.functional.scaled_dot_product_attention on the flash backend; a
matmul against torch.matmul) the model is compiled by iolite-compile for the
device's chip, loaded through the bundle's own launch code
(iolite_bundle.py, the runtime's CUDA backend), and run on PyTorch tensors
(device pointers are passed straight to NAME_run, both on the default
stream). Timing: warm-up runs, then every timed run is preceded by an L2
flush (a write of 256 MB) and bracketed by CUDA events; the median of at
least 20 runs is reported, with TFLOP/s (useful FLOPs: causal attention
counts the lower triangle), GB/s (the IO lower bound: inputs read once,
outputs written once, over the time) and the ratio to PyTorch. The outputs
are compared with PyTorch's (max abs error, reported).

Bundles can be compiled ahead, where the compiler is, and run where it is
not (bench/device_check.sh does this for a GPU machine):

    python3 bench/gpu_harness.py --prepare=DIR --shapes=default \\
        --targets=sm_90a,sm_80          # here: DIR/cases.json + bundles
    python3 bench/gpu_harness.py --bundles=DIR --json out.json   # there

--backend=emu runs the same plumbing on the CPU emulator: host wall time of
emulated kernels against PyTorch on the CPU (an explicit softmax attention,
torch.matmul). Those numbers say nothing about GPU speed; they are labelled
as such.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import models  # noqa: E402
from iolite_bundle import Bundle, Device  # noqa: E402

SHAPES = {
    # name: (attention (batch, heads, seq, head_dim), matmul (M, N, K))
    "default": ((4, 32, 4096, 128), (8192, 8192, 8192)),
    "small": ((1, 8, 1024, 64), (1024, 1024, 1024)),
    "tiny": ((1, 2, 128, 64), (128, 128, 128)),
}


def build_dir():
    return Path(os.environ.get("IOLITE_BUILD_DIR", HERE.parent / "build"))


def compile_model(text, name, target, out_dir):
    src = Path(out_dir) / f"{name}.mlir"
    src.write_text(text)
    bundle = Path(out_dir) / name
    r = subprocess.run([str(build_dir() / "bin" / "iolite-compile"),
                        str(src), f"--target={target}", "-o", str(bundle)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"iolite-compile failed for {name}:\n{r.stderr}")
    return bundle


def slug(text):
    """A case name as a folder name."""
    return "".join(c if c.isalnum() else "_" for c in text)


def cases(shapes):
    (b, h, n, d), (m, nn, k) = SHAPES[shapes]
    out = []
    for causal in (True, False):
        flops = 4 * b * h * n * n * d * (0.5 if causal else 1.0)
        out.append({
            "name": f"attention {'causal' if causal else 'full'} "
                    f"B{b} H{h} S{n} D{d} f16",
            "kind": "attention", "causal": causal,
            "shape": [b, h, n, d], "flops": flops,
            "bytes": 4 * b * h * n * d * 2,
            "model": models.attention(b, h, h, n, d, causal, "f16")})
    out.append({
        "name": f"matmul {m}x{nn}x{k} f16", "kind": "matmul",
        "shape": [m, nn, k], "flops": 2 * m * nn * k,
        "bytes": (m * k + k * nn + m * nn) * 2,
        "model": models.matmul(m, nn, k, "f16")})
    return out


class CudaTimer:
    """CUDA events around each run, an L2 flush before it."""

    def __init__(self, torch):
        self.torch = torch
        self.flush = torch.empty(256 << 20, dtype=torch.int8, device="cuda")

    def time(self, fn, warmup, iters):
        torch = self.torch
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(iters):
            self.flush.zero_()
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        return times


class WallTimer:
    """Host wall time (emu: the emulator runs a launch to completion)."""

    def __init__(self, sync):
        self.sync = sync

    def time(self, fn, warmup, iters):
        for _ in range(warmup):
            fn()
        self.sync()
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            fn()
            self.sync()
            times.append(time.perf_counter() - t0)
        return times


def torch_reference(torch, case, inputs, on_gpu):
    """A callable computing the case with PyTorch, and its output."""
    F = torch.nn.functional
    if case["kind"] == "matmul":
        a, b = inputs
        if on_gpu:
            return lambda: torch.matmul(a, b)
        # The CPU has no f16 matmul: f32, rounded to f16.
        return lambda: torch.matmul(a.float(), b.float()).to(a.dtype)
    q, k, v = inputs
    causal = case["causal"]
    if on_gpu:
        try:  # torch >= 2.3
            from torch.nn.attention import SDPBackend, sdpa_kernel

            def ctx():
                return sdpa_kernel(SDPBackend.FLASH_ATTENTION)
        except ImportError:  # torch 2.0 - 2.2
            def ctx():
                return torch.backends.cuda.sdp_kernel(
                    enable_flash=True, enable_math=False,
                    enable_mem_efficient=False)

        def run():
            with ctx():
                return F.scaled_dot_product_attention(q, k, v,
                                                      is_causal=causal)
        return run
    # CPU (emu mode): the explicit math in f32, as reference.
    d = q.shape[-1]

    def run_cpu():
        s = torch.matmul(q.float(), k.float().transpose(-1, -2)) / \
            math.sqrt(d)
        if causal:
            n = s.shape[-1]
            mask = torch.ones(n, n, dtype=torch.bool).triu(1)
            s = s.masked_fill(mask, float("-inf"))
        return torch.matmul(torch.softmax(s, -1), v.float()).to(q.dtype)
    return run_cpu


def summarize(case, times):
    t = statistics.median(times)
    return {"median_s": t, "runs": len(times), "min_s": min(times),
            "tflops": case["flops"] / t / 1e12,
            "gbps": case["bytes"] / t / 1e9}


def prepare(shapes, targets, out_dir):
    """Compiles every case of `shapes` for `targets` into out_dir/<case>,
    with out_dir/cases.json describing them (the model text left out)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    described = []
    for case in cases(shapes):
        folder = slug(case["name"])
        with tempfile.TemporaryDirectory(prefix="iolite-harness-") as work:
            bundle = compile_model(case["model"][1], case["model"][0],
                                   targets, work)
            dest = out_dir / folder
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(bundle, dest)
        described.append({k: v for k, v in case.items() if k != "model"} |
                         {"bundle": folder})
    (out_dir / "cases.json").write_text(json.dumps(
        {"shapes": shapes, "targets": targets, "cases": described},
        indent=1))
    return described


def prepared_cases(bundles_dir):
    """The cases of a --prepare folder, each with its bundle's path."""
    bundles_dir = Path(bundles_dir)
    described = json.loads((bundles_dir / "cases.json").read_text())
    out = []
    for case in described["cases"]:
        path = bundles_dir / case["bundle"]
        if not (path / "manifest.json").exists():
            raise SystemExit(f"error: prepared bundle {path} is missing")
        out.append(case | {"bundle_dir": path})
    return out


def run_case(case, torch, device, target, work, warmup, iters, on_gpu):
    if "bundle_dir" in case:
        bundle_dir = case["bundle_dir"]
        launch = case["bundle_dir"] / "launch.so"
        launch = launch if launch.exists() else None
    else:
        bundle_dir = compile_model(case["model"][1], case["model"][0],
                                   target, work)
        launch = None
    bundle = Bundle(bundle_dir, device, launch)
    try:
        gen = torch.Generator().manual_seed(0)
        dev = "cuda" if on_gpu else "cpu"
        shapes = [t["shape"] for t in bundle.inputs]
        inputs = [(torch.rand(s, generator=gen) * 2 - 1).to(torch.float16)
                  .to(dev) for s in shapes]
        out_shape = bundle.outputs[0]["shape"]
        if on_gpu:
            out = torch.empty(out_shape, dtype=torch.float16, device=dev)
            ws = (torch.empty(bundle.workspace_bytes, dtype=torch.uint8,
                              device=dev) if bundle.workspace_bytes else None)
            in_ptrs = [x.data_ptr() for x in inputs]
            out_ptr = out.data_ptr()
            ws_ptr = ws.data_ptr() if ws is not None else None

            def read_out():
                return out
        else:
            in_ptrs = []
            for x in inputs:
                p = device.malloc(x.numel() * 2)
                device.h2d(p, x.numpy().tobytes())
                in_ptrs.append(p)
            out_ptr = device.malloc(bundle.outputs[0]["bytes"])
            ws_ptr = (device.malloc(bundle.workspace_bytes)
                      if bundle.workspace_bytes else None)

            def read_out():
                import numpy as np
                raw = device.d2h(out_ptr, bundle.outputs[0]["bytes"])
                return torch.from_numpy(
                    np.frombuffer(raw, np.float16).reshape(out_shape).copy())

        def iolite_run():
            bundle.run(in_ptrs, [out_ptr], ws_ptr)

        if on_gpu:
            timer = CudaTimer(torch)
        else:
            timer = WallTimer(device.synchronize)
        ref_fn = torch_reference(torch, case, inputs, on_gpu)
        iolite_times = timer.time(iolite_run, warmup, iters)
        if not on_gpu:
            timer = WallTimer(lambda: None)
        ref_times = timer.time(ref_fn, warmup, iters)
        expected = ref_fn().float()
        actual = read_out().float()
        err = (actual - expected).abs().max().item()
        if math.isnan(err) or not torch.isfinite(actual).all():
            err = math.inf  # NaN would compare as within any bound
        manifest = bundle.manifest
        res = {"case": case["name"], "shape": case["shape"],
               "kernels": [k["name"] for k in manifest["kernels"]],
               "templates": [k["template"] for k in manifest["kernels"]],
               "iolite": summarize(case, iolite_times),
               "torch": summarize(case, ref_times),
               "max_abs_error": err,
               "reference_max_abs": expected.abs().max().item()}
        res["throughput_ratio"] = (res["torch"]["median_s"] /
                                   res["iolite"]["median_s"])
        if not on_gpu:
            for p in in_ptrs + [out_ptr] + ([ws_ptr] if ws_ptr else []):
                device.free(p)
        return res
    finally:
        bundle.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["cuda", "emu"], default="cuda")
    ap.add_argument("--shapes", choices=sorted(SHAPES), default=None,
                    help="default on cuda, tiny on emu")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--chip", default="sm_90a",
                    help="emu: the emulated chip (cuda: the device's)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--prepare", metavar="DIR",
                    help="only compile the cases for --targets into DIR")
    ap.add_argument("--targets", default="sm_90a,sm_80",
                    help="--prepare: iolite-compile's --target list")
    ap.add_argument("--bundles", metavar="DIR",
                    help="run the cases a --prepare wrote into DIR")
    a = ap.parse_args(argv)
    on_gpu = a.backend == "cuda"
    shapes = a.shapes or ("default" if on_gpu else "tiny")
    if a.prepare:
        for c in prepare(shapes, a.targets, a.prepare):
            print(f"prepared {c['bundle']} ({a.targets})")
        return 0
    todo = prepared_cases(a.bundles) if a.bundles else cases(shapes)

    import torch
    if on_gpu:
        if a.iters < 20:
            ap.error("--iters must be at least 20 on a GPU (median of >= 20)")
        if not torch.cuda.is_available():
            print("error: --backend=cuda needs an NVIDIA GPU visible to "
                  "PyTorch (torch.cuda.is_available() is false); use "
                  "--backend=emu to exercise the harness on the emulator",
                  file=sys.stderr)
            return 2
        major, minor = torch.cuda.get_device_capability()
        target = f"sm_{major}{minor}" + ("a" if major == 9 else "")
        device = Device("cuda")
        device_name = torch.cuda.get_device_name()
        label = (f"CUDA events on {device_name} "
                 f"({target}), L2 flushed before each run")
    else:
        target = f"emu-{a.chip}"
        device = Device(target)
        device_name = f"emulator ({target})"
        label = ("EMULATOR: host wall time of the CPU emulator vs PyTorch "
                 "on the CPU; not a GPU measurement")
    results = {"backend": a.backend, "target": target, "timing": label,
               "device_name": device_name,
               "warmup": a.warmup, "iters": a.iters,
               "torch": torch.__version__, "cases": []}
    with tempfile.TemporaryDirectory(prefix="iolite-harness-") as work:
        for case in todo:
            r = run_case(case, torch, device, target, work, a.warmup,
                         a.iters, on_gpu)
            results["cases"].append(r)
    device.close()

    print(f"# {label}")
    print(f"{'case':44} {'iolite ms':>10} {'TFLOP/s':>8} {'GB/s':>8} "
          f"{'torch ms':>10} {'TFLOP/s':>8} {'ratio':>6} {'max err':>8}")
    for r in results["cases"]:
        i, t = r["iolite"], r["torch"]
        print(f"{r['case']:44} {i['median_s'] * 1e3:10.3f} "
              f"{i['tflops']:8.3f} {i['gbps']:8.1f} "
              f"{t['median_s'] * 1e3:10.3f} {t['tflops']:8.3f} "
              f"{r['throughput_ratio']:6.2f} {r['max_abs_error']:8.2e}")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
