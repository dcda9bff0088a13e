#!/usr/bin/python3
# ===- onnx-conformance.py - ONNX backend node tests on CPU and emu --------===#
#
# Part of the Iolite project.
#
# ===----------------------------------------------------------------------===#
"""Runs the ONNX backend node tests (Debian's libonnx-testdata) through
Iolite: every test whose ops the importer supports is imported and run on the
CPU with `iolite-run --backend=cpu` (or, with `--backend=emu`, compiled to GPU
kernels and run on the emulator), and its outputs are compared with the
stored ones.

Each test ends as
  pass         every data set matched;
  fail         the importer rejected a supported model, iolite-run failed,
               or an output did not match (floats within the tolerance of
               iolite_testing.ONNX_CONFORMANCE_TOLERANCE, integers and
               booleans exactly);
  unsupported  an op, attribute, element type or dynamic shape the importer
               reports as unsupported: `--list-unsupported`'s listing, or
               an import that exits 1 with the importer's own
               "unsupported: ..." diagnostic (alone or after its
               "CONTEXT: " prefixes). Anything else the
               importer does (a crash, a timeout, another exit status or
               message) is a fail.

Iolite compiles for static shapes, so an operand that fixes a shape (a
Reshape's shape, Slice bounds, TopK's K, reduction axes) must be known at
import time. Node tests feed those as graph inputs; the runner turns such an
input into an initializer holding the test's data (the `constant inputs`
column) and says so.

    tools/onnx-conformance.py --markdown docs/onnx-conformance.md  # full sweep
    tools/onnx-conformance.py --filter 'test_(add|softmax)' -v
    tools/onnx-conformance.py --tests test/python/onnx_conformance_ci.txt
    tools/onnx-conformance.py --backend=emu --markdown docs/onnx-conformance-emu.md

Exit status: 0 when no test failed (and, with --expect-pass FILE, every test
named there passed, and with --check-markdown FILE every row run is the row
FILE has), 1 otherwise.
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test" / "python"))
import iolite_testing  # noqa: E402  (the tolerance table lives there)

DATA_DIR = Path("/usr/share/libonnx-testdata/data/node")

# Element types iolite-run exchanges as .npy (bf16 is not in onnx 1.12's
# test data).
NPY_TYPES = {np.dtype(t) for t in
             (np.float32, np.float16, np.bool_, np.int32, np.int64)}

KNOWN_AT_IMPORT = re.compile(
    r"\(input \d+, '([^']+)'\) must be known at import time|"
    r"input \d+ \('([^']+)'\)[^\n]*must be known at import time")


def build_dir(arg):
    if arg:
        return Path(arg)
    return iolite_testing.build_dir()


def run(cmd, timeout=300):
    """(returncode, stdout, stderr); returncode is None on a timeout and
    negative (-signal) for a crash."""
    try:
        p = subprocess.run([str(c) for c in cmd], capture_output=True,
                           text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {timeout} s"


# The importer's diagnostics for what it does not support
# (lib/Import/ONNX): "unsupported: WHAT" as the whole message or after the
# "CONTEXT: " prefixes it nests (node 'n' (Op): input 0 ('x'): ..., graph
# output 'y': ..., tensor and element-type errors), never inside free text.
UNSUPPORTED_DIAGNOSTIC = re.compile(
    r"^[^\n]*?error: (?:[^\n]*?: )?unsupported: \S", re.M)
# `iolite-import --list-unsupported` (lib/Driver/ModelLoader.cpp).
LISTING_HEAD = re.compile(r": \d+ unsupported op types? in \d+ nodes?$")
LISTING_LINE = re.compile(r"^  (\S+) \(\d+\):( \S+)+$")
# What LLVM's crash handler prints before it re-raises the signal.
CRASH = re.compile(r"PLEASE submit a bug report|Stack dump:")


def classify_import(rc, out, err, what="iolite-import"):
    """(status, note) of an importer run that did not succeed: unsupported
    only for exit status 1 with the importer's unsupported diagnostic;
    a timeout, a crash or any other failure is a fail."""
    if rc is None:
        return "fail", f"{what} {err}"
    if rc < 0 or CRASH.search(err):
        return "fail", (f"{what} crashed (signal {-rc})" if rc < 0 else
                        f"{what} crashed") + f": {first_error(err)}"
    m = UNSUPPORTED_DIAGNOSTIC.search(err)
    if rc == 1 and m:
        return "unsupported", first_error(err)
    return "fail", f"{what} exited {rc}: {first_error(err + out)}"


def classify_listing(rc, out, err):
    """None when `--list-unsupported` found every op supported, else
    (status, note): unsupported with the listed ops, or a fail when the
    listing is not there (crash, timeout, unreadable model)."""
    lines = out.splitlines()
    if rc == 0 and len(lines) == 1 and lines[0].endswith(
            ": every op is supported"):
        return None
    if (rc == 1 and len(lines) > 1 and LISTING_HEAD.search(lines[0])
            and all(LISTING_LINE.match(l) for l in lines[1:])
            and not CRASH.search(err)):
        return "unsupported", "ops " + ", ".join(
            LISTING_LINE.match(l).group(1) for l in lines[1:])
    if rc == 0:
        return "fail", ("iolite-import --list-unsupported succeeded "
                        f"without its summary: {first_error(out + err)}")
    return classify_import(rc, out, err, "iolite-import --list-unsupported")


def first_error(text):
    for line in text.splitlines():
        if "error" in line:
            return re.sub(r"^.*?error: ", "", line).strip()
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[0].strip() if lines else "no output"


def load_data_sets(test_dir, model):
    """[(inputs by graph-input name, [outputs])] for every data set."""
    initializers = {t.name for t in model.graph.initializer}
    input_names = [i.name for i in model.graph.input
                   if i.name not in initializers]
    sets = []
    for ds in sorted(test_dir.glob("test_data_set_*")):
        ins = [numpy_helper.to_array(onnx.load_tensor(str(p)))
               for p in sorted(ds.glob("input_*.pb"),
                               key=lambda p: int(p.stem.split("_")[1]))]
        outs = [numpy_helper.to_array(onnx.load_tensor(str(p)))
                for p in sorted(ds.glob("output_*.pb"),
                                key=lambda p: int(p.stem.split("_")[1]))]
        if len(ins) != len(input_names):
            return None
        sets.append((dict(zip(input_names, ins)), outs))
    return sets


def bake_inputs(model, values):
    """A copy of `model` with the graph inputs in `values` turned into
    initializers holding those arrays."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = [i for i in m.graph.input if i.name not in values]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    for name, array in values.items():
        m.graph.initializer.append(numpy_helper.from_array(array, name))
    return m


def compare(path, expected, rtol, atol):
    """None when the output at `path` matches `expected`: floats within
    rtol/atol (NaN matches NaN), integers and booleans exactly, same dtype
    and shape. Otherwise what differs."""
    if not path.exists():
        return "missing"
    actual = np.load(path)
    if actual.dtype != expected.dtype or actual.shape != expected.shape:
        return (f"got {actual.dtype}{list(actual.shape)}, expected "
                f"{expected.dtype}{list(expected.shape)}")
    if expected.dtype.kind == "f":
        a, e = actual.astype(np.float64), expected.astype(np.float64)
        ok = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    else:
        ok = actual == expected
    if ok.all():
        return None
    bad = np.argwhere(~ok)
    idx = tuple(bad[0])
    return (f"{len(bad)} of {ok.size} elements differ; first at {idx}: got "
            f"{actual[idx]}, expected {expected[idx]}")


class Result:
    def __init__(self, name, ops, status, note="", baked=()):
        self.name, self.ops, self.status = name, ops, status
        self.note, self.baked = note, tuple(baked)


def run_test(test_dir, tools, rtol, atol, backend="cpu"):
    name = test_dir.name
    try:
        model = onnx.load(str(test_dir / "model.onnx"))
    except Exception as e:  # a model onnx itself cannot read
        return Result(name, [], "unsupported", f"onnx cannot load it: {e}")
    ops = sorted({(n.domain + "::" if n.domain else "") + n.op_type
                  for n in model.graph.node})
    listing = classify_listing(*run([tools["iolite-import"],
                                     test_dir / "model.onnx",
                                     "--list-unsupported"]))
    if listing:
        return Result(name, ops, *listing)
    try:
        sets = load_data_sets(test_dir, model)
    except Exception:  # sequences, optionals, maps: not tensors
        return Result(name, ops, "unsupported", "test data are not tensors")
    if not sets:
        return Result(name, ops, "unsupported",
                      "data sets do not match the graph inputs")

    with tempfile.TemporaryDirectory(prefix="iolite-onnx-") as tmp:
        tmp = Path(tmp)
        for k, (inputs, outputs) in enumerate(sets):
            # Import first: it says which inputs must be constants.
            path, baked = test_dir / "model.onnx", {}
            for _ in range(8):
                rc, out, err = run([tools["iolite-import"], path, "-o",
                                    tmp / "imported.mlir"])
                if rc == 0:
                    break
                names = {a or b for a, b in KNOWN_AT_IMPORT.findall(err)}
                names = {n for n in names if n in inputs and n not in baked}
                if not names or rc != 1:
                    status, note = classify_import(rc, out, err)
                    return Result(name, ops, status, "import: " + note, baked)
                baked.update({n: inputs[n] for n in names})
                path = tmp / "model.onnx"
                onnx.save(bake_inputs(model, baked), str(path))
            else:
                return Result(name, ops, "fail", "import: " +
                              first_error(err), baked)
            out_dir = tmp / f"out{k}"
            args = [tools["iolite-run"], path, f"--backend={backend}",
                    f"--output-dir={out_dir}"]
            for i, (n, a) in enumerate(inputs.items()):
                if n in baked:
                    continue
                if a.dtype not in NPY_TYPES:
                    return Result(name, ops, "unsupported",
                                  f"input '{n}' is {a.dtype}", baked)
                f = tmp / f"in{k}_{i}.npy"
                np.save(f, a)
                args.append(f"--input={f}")
            for i, a in enumerate(outputs):
                if a.dtype not in NPY_TYPES:
                    return Result(name, ops, "unsupported",
                                  f"output {i} is {a.dtype}", baked)
            rc, out, err = run(args)
            if rc != 0:
                return Result(name, ops, "fail",
                              f"iolite-run: {first_error(err + out)}", baked)
            for i, expected in enumerate(outputs):
                problem = compare(out_dir / f"out{i}.npy", expected, rtol,
                                  atol)
                if problem:
                    return Result(name, ops, "fail",
                                  f"data set {k} output {i}: {problem}", baked)
    return Result(name, ops, "pass", "", baked)


def markdown(results, rtol, atol, backend="cpu"):
    counts = {s: sum(r.status == s for r in results)
              for s in ("pass", "fail", "unsupported")}
    lines = [
        "# ONNX backend node tests",
        "",
        "Generated by `tools/onnx-conformance.py "
        + ("" if backend == "cpu" else f"--backend={backend} ")
        + "--markdown docs/onnx-conformance"
        + ("" if backend == "cpu" else f"-{backend}")
        + ".md` from Debian's `libonnx-testdata` "
        f"(ONNX {onnx.__version__}): each test's model is imported and "
        + ("run on the CPU with `iolite-run --backend=cpu`" if backend == "cpu"
           else "compiled to GPU kernels for emu-sm_90a, run on the emulator "
           "with `iolite-run --backend=emu`") + ", and every output of "
        "every data set is compared with the stored one: same dtype and "
        f"shape, floats within rtol {rtol:g} and atol {atol:g} (the ONNX "
        "test runner's own tolerance), integers and booleans exactly.",
        "",
        f"| result | tests |",
        f"| --- | --- |",
        f"| pass | {counts['pass']} |",
        f"| fail | {counts['fail']} |",
        f"| unsupported | {counts['unsupported']} |",
        f"| total | {len(results)} |",
        "",
        "*constant inputs*: graph inputs that fix a shape (a Reshape's "
        "shape, Slice bounds, reduction axes, ...) were turned into "
        "initializers holding the test's data, because Iolite compiles for "
        "static shapes. `test/python/onnx_conformance_ci.txt` lists the "
        "passing tests CI reruns.",
        "",
        "| test | ops | result | constant inputs | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [table_row(r) for r in sorted(results, key=lambda r: r.name)]
    return "\n".join(lines) + "\n"


def table_row(r):
    """The markdown table's row for one result."""
    note = r.note.replace("|", "\\|")
    if len(note) > 160:
        note = note[:157] + "..."
    return (f"| {r.name} | {' '.join(r.ops)} | {r.status} | "
            f"{' '.join(sorted(r.baked))} | {note} |")


def check_markdown(results, path):
    """The differences between the rows `results` produce and the rows of
    the same tests in the committed table at `path` (empty: they agree)."""
    committed = {}
    for line in Path(path).read_text().splitlines():
        cells = line.split(" | ")
        if line.startswith("| test_") and len(cells) > 1:
            committed[cells[0][2:]] = line
    problems = []
    for r in sorted(results, key=lambda r: r.name):
        row = table_row(r)
        if r.name not in committed:
            problems.append(f"{path} has no row for {r.name}; the runner "
                            f"produces\n  {row}")
        elif committed[r.name] != row:
            problems.append(f"{path} is stale for {r.name}:\n"
                            f"  committed: {committed[r.name]}\n"
                            f"  produced:  {row}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", help="default: $IOLITE_BUILD_DIR or build/")
    ap.add_argument("--data-dir", default=str(DATA_DIR))
    ap.add_argument("--filter", help="only tests whose name matches (regex)")
    ap.add_argument("--tests", help="a file naming the tests to run, one a "
                    "line (# comments)")
    ap.add_argument("--expect-pass", help="fail unless every test named in "
                    "this file passes")
    ap.add_argument("--markdown", help="write the results table here")
    ap.add_argument("--check-markdown", help="fail unless the rows of the "
                    "tests run are exactly the rows this committed table "
                    "has for them (regenerate it with --markdown)")
    ap.add_argument("--backend", default="cpu", choices=["cpu", "emu"],
                    help="run the models with iolite-run on the CPU "
                    "reference, or compiled to GPU kernels on the emulator "
                    "(emu-sm_90a)")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    bdir = build_dir(args.build_dir)
    tools = {t: bdir / "bin" / t for t in ("iolite-import", "iolite-run")}
    for t, p in tools.items():
        if not p.exists():
            sys.exit(f"error: {p} not found (build it, or pass --build-dir)")
    rtol, atol = iolite_testing.ONNX_CONFORMANCE_TOLERANCE

    def names_in(path):
        return [l.split("#")[0].strip() for l in open(path)
                if l.split("#")[0].strip()]

    dirs = sorted(p for p in Path(args.data_dir).iterdir()
                  if (p / "model.onnx").exists())
    if args.tests:
        wanted = set(names_in(args.tests))
        missing = wanted - {d.name for d in dirs}
        if missing:
            sys.exit(f"error: no such tests: {', '.join(sorted(missing))}")
        dirs = [d for d in dirs if d.name in wanted]
    if args.filter:
        dirs = [d for d in dirs if re.search(args.filter, d.name)]

    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        futures = [ex.submit(run_test, d, tools, rtol, atol, args.backend)
                   for d in dirs]
        for f in concurrent.futures.as_completed(futures):
            r = f.result()
            results.append(r)
            if args.verbose or r.status == "fail":
                print(f"{r.status:11} {r.name}  {r.note}", flush=True)

    counts = {s: sum(r.status == s for r in results)
              for s in ("pass", "fail", "unsupported")}
    print(f"{counts['pass']} passed, {counts['fail']} failed, "
          f"{counts['unsupported']} unsupported of {len(results)}")
    if args.markdown:
        Path(args.markdown).write_text(markdown(results, rtol, atol,
                                                args.backend))
    ok = counts["fail"] == 0
    if args.check_markdown:
        for problem in check_markdown(results, args.check_markdown):
            print(problem)
            ok = False
    if args.expect_pass:
        status = {r.name: r.status for r in results}
        for n in names_in(args.expect_pass):
            if status.get(n) != "pass":
                print(f"expected to pass: {n} ({status.get(n, 'not run')})")
                ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
