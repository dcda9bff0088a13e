#!/usr/bin/env python3
"""The prepared device check: the logic behind bench/device_check.sh.

    device_check.py prepare --dir=DIR [--targets=sm_90a,sm_80]
                            [--examples=a,b] [--shapes=small,default]
    device_check.py run --dir=DIR --out=OUT [--backend=cuda|emu]
                        [--only=examples,generate,harness] [--budget-s=450]

`prepare` runs where Iolite is built: it compiles every example
(examples/*/model.mlir) and the GPU harness's cases (gpu_harness.py) into
bundles for the targets, compiles each bundle's launch code (NAME.c) into
launch.so against a copy of libiolite_runtime.so, and writes DIR/prepare.json
(what was prepared, from which commit, with which tolerances). Each
example's model_dynamic.mlir is compiled once with symbolic batch and
sequence, and run at DYN_SIZES against the cpu reference computed here (the
steps "dynamic NAME BxS"). examples/generate's program is built against the
copied runtime with its step bundle, and PyTorch's greedy tokens and logits
are computed here (the step "generate": prefill and decode with a paged KV
cache, from C, on the device). DIR is then
all a GPU machine needs besides the checkout: no compiler, LLVM or C
compiler is used there.

`run` runs on the GPU machine (or on the emulator, to test the plumbing):
every step in its own process with a time limit, so a crash, a hang or an
unparsable answer is a FAILED step rather than a lost report. It writes
OUT/device_check.json and OUT/device_check.log and exits 0 when every step
passed, 1 when one FAILED, 3 when none failed but some did not run (a step
not run is never counted as passed).

The internal subcommands `probe`, `example`, `generate` and `time-bundles`
are those steps' processes.
"""

import argparse
import datetime
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

PASSED, FAILED, NOT_RUN = "passed", "FAILED", "not run"

# numpy dtype names of the bundle element types (bf16 travels as its
# uint16 bit pattern in .npy files, as in the tests).
# The dynamic examples' bounds and the sizes their one bundle runs at.
DYN_BOUNDS = "batch=1..4,seq=1..64"
DYN_SIZES = [(1, 1), (2, 17), (4, 64)]
# New tokens of the generation step (examples/generate).
GENERATE_TOKENS = 8
NPY_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "uint16",
              "i32": "int32", "i64": "int64", "i1": "bool"}


def build_dir():
    return Path(os.environ.get("IOLITE_BUILD_DIR", REPO / "build"))


def rel(path):
    """`path` relative to the repository when inside it (the checkout sits
    elsewhere on the GPU machine), else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def from_repo(path):
    return REPO / path if not Path(path).is_absolute() else Path(path)


def git(*args):
    try:
        r = subprocess.run(["git", "-C", str(REPO), *args],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC")


# -- prepare ---------------------------------------------------------------------

def find_examples(names):
    root = REPO / "examples"
    found = sorted(p.parent.name for p in root.glob("*/model.mlir")
                   if (p.parent / "inputs").is_dir() and
                   (p.parent / "expected").is_dir())
    if names:
        wanted = names.split(",")
        missing = [n for n in wanted if n not in found]
        if missing:
            raise SystemExit(f"error: no example {', '.join(missing)} "
                             f"(have {', '.join(found)})")
        return wanted
    return found


def ptxas_version():
    try:
        r = subprocess.run(["ptxas", "--version"], capture_output=True,
                           text=True)
        return r.stdout.strip().splitlines()[-1]
    except (OSError, IndexError):
        return None


def prepare(a):
    from iolite_bundle import build_launch_library, shape_at
    import gpu_harness
    # The one tolerance table of the test suite.
    sys.path.insert(0, str(REPO / "test" / "python"))
    from iolite_testing import MODEL_TOLERANCES

    out = Path(a.dir)
    if out.exists():
        shutil.rmtree(out)
    (out / "lib").mkdir(parents=True)
    runtime = (build_dir() / "lib" / "libiolite_runtime.so").resolve()
    if not runtime.exists():
        raise SystemExit(f"error: {runtime} not built")
    # Named by its soname, so the launch libraries' dependency on it is
    # met by the copy the check loads.
    lib = out / "lib" / "libiolite_runtime.so.0"
    shutil.copy2(runtime, lib)
    compiler = build_dir() / "bin" / "iolite-compile"

    examples = []
    for name in find_examples(a.examples):
        root = REPO / "examples" / name
        bundle = out / "examples" / name
        r = subprocess.run([str(compiler), str(root / "model.mlir"),
                            f"--target={a.targets}", "-o", str(bundle)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"error: iolite-compile {name}:\n{r.stderr}")
        build_launch_library(bundle, bundle / "launch.so", lib)
        manifest = json.loads((bundle / "manifest.json").read_text())
        dtype = manifest["outputs"][0]["dtype"]
        rtol, atol = MODEL_TOLERANCES[dtype]
        examples.append({
            "name": name, "bundle": f"examples/{name}",
            "inputs": [rel(p) for p in sorted(root.glob("inputs/*.npy"))],
            "expected": [rel(p) for p in
                         sorted(root.glob("expected/*.npy"))],
            "rtol": rtol, "atol": atol})
        print(f"prepared example {name} ({a.targets})")

    # Each example's model_dynamic.mlir compiled once for every size
    # within its bounds, run at several sizes; the expected outputs come
    # from the cpu reference lowering here.
    dynamic = []
    import numpy as np
    runner = build_dir() / "bin" / "iolite-run"
    for name in find_examples(a.examples):
        model = REPO / "examples" / name / "model_dynamic.mlir"
        if not model.exists():
            continue
        bundle = out / "dynamic" / name
        r = subprocess.run([str(compiler), str(model), f"--dim={DYN_BOUNDS}",
                            f"--target={a.targets}", "-o", str(bundle)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"error: iolite-compile {model}:\n{r.stderr}")
        build_launch_library(bundle, bundle / "launch.so", lib)
        manifest = json.loads((bundle / "manifest.json").read_text())
        order = [d["name"] for d in manifest["dims"]]
        rtol, atol = MODEL_TOLERANCES[manifest["outputs"][0]["dtype"]]
        for batch, seq in DYN_SIZES:
            values = [{"batch": batch, "seq": seq}[n] for n in order]
            folder = bundle / f"{batch}x{seq}"
            folder.mkdir()
            rng = np.random.default_rng(batch * 1000 + seq)
            inputs = []
            for i, t in enumerate(manifest["inputs"]):
                x = (rng.standard_normal(shape_at(t, values)) * 0.5).astype(
                    NPY_DTYPES[t["dtype"]])
                path = folder / f"in{i}.npy"
                np.save(path, x)
                inputs.append(path)
            r = subprocess.run(
                [str(runner), str(model), "--backend=cpu",
                 f"--dim={DYN_BOUNDS}", f"--output-dir={folder / 'expected'}"]
                + [f"--input={p}" for p in inputs],
                capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"error: the cpu reference of {model} at "
                                 f"{batch}x{seq}:\n{r.stderr}")
            dynamic.append({
                "name": f"{name} {batch}x{seq}", "bundle": f"dynamic/{name}",
                "dims": values, "inputs": [rel(p) for p in inputs],
                "expected": [rel(p) for p in sorted(
                    (folder / "expected").glob("out*.npy"))],
                "rtol": rtol, "atol": atol})
        print(f"prepared dynamic {name} ({DYN_BOUNDS}, "
              f"{len(DYN_SIZES)} sizes)")

    harness = []
    for shapes in [s for s in a.shapes.split(",") if s]:
        folder = out / f"harness-{shapes}"
        described = gpu_harness.prepare(shapes, a.targets, folder)
        for case in described:
            build_launch_library(folder / case["bundle"],
                                 folder / case["bundle"] / "launch.so", lib)
        harness.append({"shapes": shapes, "dir": folder.name,
                        "cases": [c["name"] for c in described]})
        print(f"prepared harness {shapes}: {len(described)} cases")

    # Greedy generation from C (examples/generate): the step bundle, the
    # program linked to the copied runtime, and PyTorch's tokens and logits.
    sys.path.insert(0, str(REPO / "examples" / "generate"))
    import run as generate_example
    gen = out / "generate"
    gen.mkdir()
    gen_bundle = generate_example.compile_bundle(build_dir(), a.targets, gen)
    generate_example.build_program(build_dir(), gen_bundle, gen, runtime=lib,
                                   rpath="$ORIGIN/../lib")
    tokens, logits = generate_example.llama.reference_generate(
        generate_example.llama.weights(seed=0), generate_example.PROMPTS,
        GENERATE_TOKENS)
    np.save(gen / "expected_logits.npy", logits)
    generate = {"dir": "generate", "prompts": generate_example.PROMPTS,
                "new_tokens": GENERATE_TOKENS, "tokens": tokens,
                "tolerance": generate_example.LOGIT_TOLERANCE}
    print(f"prepared generate ({a.targets}, {GENERATE_TOKENS} tokens)")

    dirty = git("status", "--porcelain", "--untracked-files=no")
    info = {"created": now(), "commit": git("rev-parse", "--short=12",
                                            "HEAD"),
            "dirty": bool(dirty), "targets": a.targets.split(","),
            "ptxas": ptxas_version(), "examples": examples,
            "dynamic": dynamic,
            "generate": generate,
            "harness": harness,
            "harness_tolerance": {"f16": list(MODEL_TOLERANCES["f16"])}}
    (out / "prepare.json").write_text(json.dumps(info, indent=1))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({size / 2**20:.1f} MiB): carry {rel(out)}")
    return 0


# -- the steps' processes -------------------------------------------------------

def device_for(backend, targets):
    if backend == "cuda":
        return "cuda"
    emu = [t for t in targets if t.startswith("emu-")]
    return emu[0] if emu else "emu"


def probe(a):
    """What the machine is: GPU name, driver, PyTorch; the runtime device."""
    info = {"backend": a.backend}
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version",
                            "--format=csv,noheader"], capture_output=True,
                           text=True, timeout=60)
        if r.returncode == 0 and r.stdout.strip():
            name, driver = [x.strip() for x in
                            r.stdout.strip().splitlines()[0].split(",")]
            info |= {"gpu": name, "driver": driver}
    except (OSError, ValueError, subprocess.TimeoutExpired):
        pass
    try:
        import torch
        info["torch"] = torch.__version__
        info["torch_cuda"] = bool(torch.cuda.is_available())
        if info["torch_cuda"] and "gpu" not in info:
            info["gpu"] = torch.cuda.get_device_name()
    except ImportError as e:
        info["torch"] = None
        info["torch_missing"] = str(e)
    from iolite_bundle import Device
    dev = Device(a.device)
    info["arch"] = dev.arch()
    dev.close()
    if a.backend == "emu":
        info["gpu"] = f"emulator ({a.device})"
    print(json.dumps(info))
    return 0


def to_host_array(raw, tensor):
    import numpy as np
    return np.frombuffer(raw, NPY_DTYPES[tensor["dtype"]]).reshape(
        tensor["shape"]).copy()


def as_f64(x, dtype):
    import numpy as np
    if dtype == "bf16":
        return (x.astype(np.uint32) << 16).view(np.float32).astype(
            np.float64)
    return x.astype(np.float64)


def example(a):
    """One example bundle on the device against its expected outputs."""
    import numpy as np
    from iolite_bundle import Bundle, Device, shape_at
    dev = Device(a.device)
    bundle = Bundle(a.bundle, dev, a.launch)
    ins = [np.load(p) for p in a.input]
    if len(ins) != len(bundle.inputs):
        raise SystemExit(f"{len(ins)} inputs for {len(bundle.inputs)} "
                         "bundle inputs")
    if len(a.expect) != len(bundle.outputs):
        raise SystemExit(f"{len(a.expect)} expected outputs for "
                         f"{len(bundle.outputs)} bundle outputs")
    dims = [int(v) for v in a.dims.split(",")] if a.dims else None
    in_ptrs = []
    for x, t, p in zip(ins, bundle.inputs, a.input):
        shape = shape_at(t, dims)
        if list(x.shape) != shape or x.dtype != NPY_DTYPES[t["dtype"]]:
            raise SystemExit(f"{p}: {x.dtype}{list(x.shape)}, the bundle "
                             f"takes {t['dtype']}{shape}")
        ptr = dev.malloc(x.nbytes)
        dev.h2d(ptr, np.ascontiguousarray(x).tobytes())
        in_ptrs.append(ptr)
    out_shapes = [shape_at(t, dims) for t in bundle.outputs]
    out_bytes = [int(np.prod(s)) * np.dtype(NPY_DTYPES[t["dtype"]]).itemsize
                 for s, t in zip(out_shapes, bundle.outputs)]
    out_ptrs = [dev.malloc(max(1, n)) for n in out_bytes]
    ws = dev.malloc(bundle.workspace_bytes) if bundle.workspace_bytes \
        else None
    times = []
    for _ in range(a.iters):
        t0 = time.perf_counter()
        bundle.run(in_ptrs, out_ptrs, ws, dims=dims)
        dev.synchronize()
        times.append(time.perf_counter() - t0)
    outputs = []
    ok = True
    for ptr, t, n, shape, path in zip(out_ptrs, bundle.outputs, out_bytes,
                                      out_shapes, a.expect):
        got = as_f64(to_host_array(dev.d2h(ptr, n), dict(t, shape=shape)),
                     t["dtype"])
        want = np.load(path)
        if list(want.shape) != shape:
            raise SystemExit(f"{path}: shape {list(want.shape)}, the bundle "
                             f"gives {shape}")
        want = as_f64(want, t["dtype"])
        bad = ~np.isclose(got, want, rtol=a.rtol, atol=a.atol)
        bad |= ~np.isfinite(got)
        err = float(np.max(np.abs(got - want))) if got.size else 0.0
        outputs.append({"expected": path, "mismatches": int(bad.sum()),
                        "elements": int(bad.size),
                        "max_abs_error": err if math.isfinite(err)
                        else None})
        ok &= not bad.any()
    bundle.close()
    dev.close()
    print(json.dumps({"ok": bool(ok), "outputs": outputs,
                      "kernels": [k["name"] for k in
                                  bundle.manifest["kernels"]],
                      "median_ms": statistics.median(times) * 1e3,
                      "runs": len(times)}))
    return 0


def generate(a):
    """examples/generate's program on the device: its tokens and logits
    against PyTorch's (computed when the check was prepared)."""
    import numpy as np
    sys.path.insert(0, str(REPO / "examples" / "generate"))
    from run import parse_tokens
    info = json.loads(a.info)
    folder = Path(a.dir) / info["dir"]
    logits_path = Path(a.out) / "generate_logits.bin"
    t0 = time.perf_counter()
    r = subprocess.run([str(folder / "generate"), a.device,
                        str(folder / "bundle"), str(info["new_tokens"]),
                        str(logits_path)]
                       + [",".join(map(str, p)) for p in info["prompts"]],
                       capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"generate exited {r.returncode}: "
                         f"{r.stderr.strip()[-300:]}")
    tokens = parse_tokens(r.stdout, len(info["prompts"]))
    want = np.load(folder / "expected_logits.npy")
    got = np.fromfile(logits_path, np.float32)
    if got.size != want.size:
        raise SystemExit(f"{logits_path}: {got.size} logits, expected "
                         f"{want.size}")
    diff = float(np.max(np.abs(got.reshape(want.shape) - want)))
    print(json.dumps({"ok": tokens == info["tokens"] and
                      diff <= info["tolerance"],
                      "tokens": tokens, "expected": info["tokens"],
                      "max_logit_error": diff, "seconds": secs}))
    return 0


def time_bundles(a):
    """The harness's bundles timed alone (no PyTorch): wall clock around a
    synchronize, after warm-up; no L2 flush, no reference."""
    import gpu_harness
    from iolite_bundle import Bundle, Device
    dev = Device(a.device)
    results = []
    for case in gpu_harness.prepared_cases(a.bundles):
        bundle = Bundle(case["bundle_dir"], dev,
                        case["bundle_dir"] / "launch.so")
        ins, outs, ws = bundle.allocate_and_fill()
        timer = gpu_harness.WallTimer(dev.synchronize)
        times = timer.time(lambda: bundle.run(ins, outs, ws), a.warmup,
                           a.iters)
        for p in ins + outs + ([ws] if ws else []):
            dev.free(p)
        bundle.close()
        results.append({"case": case["name"], "shape": case["shape"],
                        "iolite": gpu_harness.summarize(case, times)})
    dev.close()
    print(json.dumps({"timing": "host wall clock around iolite_synchronize "
                      "(no PyTorch: no L2 flush, no reference)",
                      "cases": results}))
    return 0


# -- run -----------------------------------------------------------------------

class Check:
    """The steps of one run, their log, and the time budget."""

    def __init__(self, out, budget_s):
        self.out = out
        self.steps = []
        self.start = time.monotonic()
        self.budget_s = budget_s
        self.log_file = open(out / "device_check.log", "w")

    def left(self):
        return self.budget_s - (time.monotonic() - self.start)

    def log(self, line):
        print(line, flush=True)
        self.log_file.write(line + "\n")
        self.log_file.flush()

    def record(self, name, status, detail="", seconds=None, **extra):
        step = {"step": name, "status": status, "detail": detail}
        if seconds is not None:
            step["seconds"] = round(seconds, 2)
        step |= extra
        self.steps.append(step)
        self.log(f"{status:8} {name}" + (f": {detail}" if detail else ""))
        return step

    def sub(self, name, args, timeout, env=None):
        """Runs a step's process; returns (parsed JSON or None, FAILED
        detail or None, seconds)."""
        timeout = min(timeout, self.left())
        if timeout < 5:
            self.record(name, NOT_RUN, "the time budget is spent")
            return None, "budget", 0.0
        t0 = time.monotonic()
        try:
            r = subprocess.run(args, capture_output=True, text=True,
                               timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return None, f"timed out after {timeout:.0f} s", timeout
        secs = time.monotonic() - t0
        tail = (r.stderr.strip().splitlines() or [""])[-1][:300]
        if r.returncode != 0:
            return None, f"exit status {r.returncode}: {tail}", secs
        try:
            return json.loads(r.stdout.strip().splitlines()[-1]), None, secs
        except (json.JSONDecodeError, IndexError):
            return None, f"unparsable output: {r.stdout[-200:]!r}", secs


def judge_example(check, step, data, e, secs):
    errs = ", ".join(f"max abs error {o['max_abs_error']:.2e}"
                     if o["max_abs_error"] is not None
                     else "non-finite output" for o in data["outputs"])
    detail = (f"{len(data['kernels'])} kernels, {errs} (rtol "
              f"{e['rtol']}, atol {e['atol']}), {data['median_ms']:.3f} ms")
    if data["ok"] is True and data["outputs"]:
        check.record(step, PASSED, detail, secs)
    else:
        bad = sum(o["mismatches"] for o in data["outputs"])
        check.record(step, FAILED, f"mismatch: {bad} elements; " + detail,
                     secs)


def judge_case(check, step, c, rtol, atol):
    """One harness case: a valid timing, and PyTorch's output within the
    f16 model tolerance (relative to the reference's magnitude)."""
    bound = atol + rtol * c["reference_max_abs"]
    i = c["iolite"]
    ok_time = all(isinstance(i.get(k), (int, float)) and
                  math.isfinite(i[k]) and i[k] > 0
                  for k in ("median_s", "tflops"))
    detail = (f"{i.get('tflops', 0):.4g} TFLOP/s "
              f"({c['torch']['tflops']:.4g} torch), max abs error "
              f"{c['max_abs_error']:.2e} (bound {bound:.2e})")
    if not ok_time:
        check.record(step, FAILED, "no valid timing: " + detail)
    elif not c["max_abs_error"] <= bound:
        check.record(step, FAILED, "mismatch: " + detail)
    else:
        check.record(step, PASSED, detail)


def harness_steps(check, a, prep, entry, probe_info, device, env):
    shapes = entry["shapes"]
    folder = Path(a.dir) / entry["dir"]
    rtol, atol = prep["harness_tolerance"]["f16"]
    have_torch = probe_info.get("torch") and (
        a.backend == "emu" or probe_info.get("torch_cuda"))
    warmup, iters = (5, 30) if a.backend == "cuda" else (0, 2)
    result = None
    if have_torch:
        json_out = Path(a.out) / f"harness-{shapes}.json"
        args = [sys.executable, str(HERE / "gpu_harness.py"),
                f"--backend={a.backend}", f"--bundles={folder}",
                f"--warmup={warmup}", f"--iters={iters}",
                "--json", str(json_out)]
        if a.backend == "emu":
            args.append(f"--chip={device.removeprefix('emu-')}")
        # gpu_harness prints a table, not JSON: read its --json file.
        timeout = a.harness_timeout
        t0 = time.monotonic()
        try:
            r = subprocess.run(args, capture_output=True, text=True,
                               timeout=min(timeout, check.left()), env=env)
            err = (None if r.returncode == 0 else
                   f"exit status {r.returncode}: "
                   f"{(r.stderr.strip().splitlines() or [''])[-1][:300]}")
        except subprocess.TimeoutExpired:
            err = f"timed out after {min(timeout, check.left()):.0f} s"
        secs = time.monotonic() - t0
        if err is None:
            try:
                result = json.loads(json_out.read_text())
                result["cases"]  # noqa: B018 (a report without cases)
            except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
                err = f"unparsable harness report: {e}"
                result = None
        if err:
            check.record(f"harness {shapes}", FAILED, err, secs)
            return None
        got = {c.get("case"): c for c in result["cases"]}
        for name in entry["cases"]:
            c = got.get(name)
            step = f"harness {shapes}: {name}"
            if c is None:
                check.record(step, FAILED, "no result in the report")
                continue
            try:
                judge_case(check, step, c, rtol, atol)
            except (KeyError, TypeError, ValueError) as e:
                check.record(step, FAILED, f"unparsable result: {e!r}")
        return result
    why = probe_info.get("torch_missing") or \
        "PyTorch sees no CUDA device"
    check.record(f"harness {shapes} against PyTorch", NOT_RUN,
                 f"no PyTorch here ({why}); the bundles are timed alone, "
                 "their outputs unchecked")
    data, err, secs = check.sub(
        f"bundle timing {shapes}",
        [sys.executable, str(HERE / "device_check.py"), "time-bundles",
         f"--device={device}", f"--bundles={folder}", f"--warmup={warmup}",
         f"--iters={max(iters, 3)}"], a.harness_timeout, env)
    if err == "budget":
        return None
    if err:
        check.record(f"bundle timing {shapes}", FAILED, err, secs)
        return None
    for c in data["cases"]:
        check.record(f"bundle timing {shapes}: {c['case']}", PASSED,
                     f"{c['iolite']['tflops']:.4g} TFLOP/s (wall clock, "
                     "output unchecked)")
    return data


def run(a):
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    check = Check(out, a.budget_s)
    only = (set(a.only.split(",")) if a.only else
            {"examples", "generate", "harness"})
    report = {"schema": 1, "date": now(), "backend": a.backend,
              "checkout_commit": git("rev-parse", "--short=12", "HEAD")}
    try:
        status = finish(check, a, out, report, only)
    except Exception as e:  # noqa: BLE001 (the report must still be written)
        check.record("device check", FAILED, f"internal error: {e!r}")
        status = write_report(check, out, report)
    check.log_file.close()
    return status


def finish(check, a, out, report, only):
    prep_path = Path(a.dir) / "prepare.json"
    try:
        prep = json.loads(prep_path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        check.record("prepared bundles", FAILED,
                     f"{prep_path}: {e} (run bench/device_check.sh "
                     "--prepare where Iolite is built, and carry its "
                     "folder)")
        return write_report(check, out, report)
    report["prepared"] = {k: prep.get(k) for k in
                          ("created", "commit", "dirty", "targets",
                           "ptxas")}
    device = device_for(a.backend, prep["targets"])
    env = dict(os.environ, IOLITE_RUNTIME_LIBRARY=str(
        Path(a.dir).resolve() / "lib" / "libiolite_runtime.so.0"))
    check.log(f"# device check: {a.backend} ({device}), bundles prepared "
              f"at {prep.get('commit')} on {prep.get('created')}")

    probe_info, err, secs = check.sub(
        "device", [sys.executable, str(HERE / "device_check.py"), "probe",
                   f"--backend={a.backend}", f"--device={device}"], 120,
        env)
    if err:
        if err != "budget":
            check.record("device", FAILED, err, secs)
        for e in prep["examples"]:
            check.record(f"example {e['name']}", NOT_RUN,
                         "the device did not open")
        for entry in prep["harness"]:
            check.record(f"harness {entry['shapes']}", NOT_RUN,
                         "the device did not open")
        return write_report(check, out, report)
    report["device"] = probe_info
    driver = (f", driver {probe_info['driver']}" if "driver" in probe_info
              else "")
    check.record("device", PASSED,
                 f"{probe_info.get('gpu', '?')}, runtime arch "
                 f"{probe_info['arch']}{driver}, PyTorch "
                 f"{probe_info.get('torch') or 'absent'}", secs)

    # The examples, then each dynamic model at its prepared sizes (one
    # bundle, the symbols' values passed with --dims).
    report["examples"] = {}
    runs = [(f"example {e['name']}", e["name"], e, a.example_iters, [])
            for e in prep["examples"]]
    runs += [(f"dynamic {e['name']}", f"dynamic {e['name']}", e, 1,
              ["--dims=" + ",".join(str(v) for v in e["dims"])])
             for e in prep.get("dynamic", [])]
    for step, key, e, iters, extra in runs:
        if "examples" not in only:
            check.record(step, NOT_RUN, "not selected (--only)")
            continue
        bundle = Path(a.dir) / e["bundle"]
        args = [sys.executable, str(HERE / "device_check.py"), "example",
                f"--device={device}", f"--bundle={bundle}",
                f"--launch={bundle / 'launch.so'}", f"--rtol={e['rtol']}",
                f"--atol={e['atol']}", f"--iters={iters}"] + extra
        args += [f"--input={from_repo(p)}" for p in e["inputs"]]
        args += [f"--expect={from_repo(p)}" for p in e["expected"]]
        data, err, secs = check.sub(step, args, a.example_timeout, env)
        if err == "budget":
            continue
        if err:
            check.record(step, FAILED, err, secs)
            continue
        report["examples"][key] = data
        try:
            judge_example(check, step, data, e, secs)
        except (KeyError, TypeError, ValueError) as err:
            check.record(step, FAILED, f"unparsable result: {err!r}", secs)

    # Greedy generation from C: prefill and decode steps, paged KV cache.
    if "generate" not in prep:
        check.record("generate", NOT_RUN, "not prepared")
    elif "generate" not in only:
        check.record("generate", NOT_RUN, "not selected (--only)")
    else:
        gen = prep["generate"]
        data, err, secs = check.sub(
            "generate", [sys.executable, str(HERE / "device_check.py"),
                         "generate", f"--device={device}",
                         f"--dir={a.dir}", f"--out={out}",
                         f"--info={json.dumps(gen)}"],
            a.example_timeout, env)
        if err and err != "budget":
            check.record("generate", FAILED, err, secs)
        elif data is not None:
            report["generate"] = data
            if data.get("ok") is True:
                check.record("generate", PASSED,
                             f"{len(gen['prompts'])} prompts x "
                             f"{gen['new_tokens']} tokens equal PyTorch's, "
                             f"logits within {data['max_logit_error']:.2g}",
                             secs)
            else:
                check.record("generate", FAILED,
                             f"tokens {data.get('tokens')} (PyTorch "
                             f"{data.get('expected')}), logits off by "
                             f"{data.get('max_logit_error')}", secs)

    report["harness"] = {}
    for entry in prep["harness"]:
        if "harness" not in only:
            check.record(f"harness {entry['shapes']}", NOT_RUN,
                         "not selected (--only)")
            continue
        if check.left() < 10:
            check.record(f"harness {entry['shapes']}", NOT_RUN,
                         "the time budget is spent")
            continue
        result = harness_steps(check, a, prep, entry, probe_info, device,
                               env)
        if result is not None:
            report["harness"][entry["shapes"]] = result
    return write_report(check, out, report)


def write_report(check, out, report):
    counts = {s: sum(1 for x in check.steps if x["status"] == s)
              for s in (PASSED, FAILED, NOT_RUN)}
    report["steps"] = check.steps
    report["summary"] = counts
    report["seconds"] = round(time.monotonic() - check.start, 1)
    (out / "device_check.json").write_text(json.dumps(report, indent=1))
    check.log(f"# summary: {counts[PASSED]} passed, {counts[FAILED]} FAILED, "
              f"{counts[NOT_RUN]} not run, in {report['seconds']:.0f} s; "
              f"results in {out / 'device_check.json'}")
    if counts[FAILED] or not check.steps:
        return 1
    return 3 if counts[NOT_RUN] else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--dir", required=True)
    p.add_argument("--targets", default="sm_90a,sm_80")
    p.add_argument("--examples", default="",
                   help="comma-separated (default: every example)")
    p.add_argument("--shapes", default="small,default",
                   help="gpu_harness.py shape sets, comma-separated")
    r = sub.add_parser("run")
    r.add_argument("--dir", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--backend", choices=["cuda", "emu"], default="cuda")
    r.add_argument("--only", help="examples,generate,harness")
    r.add_argument("--budget-s", type=float, default=450)
    r.add_argument("--example-timeout", type=float, default=120)
    r.add_argument("--example-iters", type=int, default=5)
    r.add_argument("--harness-timeout", type=float, default=240)
    q = sub.add_parser("probe")
    q.add_argument("--backend", required=True)
    q.add_argument("--device", required=True)
    e = sub.add_parser("example")
    e.add_argument("--device", required=True)
    e.add_argument("--bundle", required=True)
    e.add_argument("--launch")
    e.add_argument("--input", action="append", default=[])
    e.add_argument("--expect", action="append", default=[])
    e.add_argument("--rtol", type=float, required=True)
    e.add_argument("--atol", type=float, required=True)
    e.add_argument("--iters", type=int, default=5)
    e.add_argument("--dims", help="the symbols' values, comma-separated "
                   "(a bundle compiled for symbolic dims)")
    g = sub.add_parser("generate")
    g.add_argument("--device", required=True)
    g.add_argument("--dir", required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--info", required=True, help="prepare.json's entry")
    t = sub.add_parser("time-bundles")
    t.add_argument("--device", required=True)
    t.add_argument("--bundles", required=True)
    t.add_argument("--warmup", type=int, default=5)
    t.add_argument("--iters", type=int, default=30)
    a = ap.parse_args(argv)
    return {"prepare": prepare, "run": run, "probe": probe,
            "example": example, "generate": generate,
            "time-bundles": time_bundles}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
