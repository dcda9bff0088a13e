"""Helpers shared by Iolite's Python tests.

- where the build is (IOLITE_BUILD_DIR, else <repo>/build) and its tools;
- how element types travel in .npy files (bf16 as uint16 bit patterns, f16
  as float16, i1 as bool) and how to round reference data to them;
- running a function with iolite-run and reading its outputs back;
- THE tolerance table: every numerics comparison in the test suite takes its
  rtol/atol from TOLERANCES (one op) or MODEL_TOLERANCES (a chain of ops);
- Batch: many small cases compiled into one function and run by one
  iolite-run call, since each JIT compile costs time.
"""

import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------
# Tolerances: (rtol, atol) for comparing a result of element type `dtype`
# with an exact (float64, or float32 for chains) reference computed from the
# same, already rounded, inputs. A result passes when
#   |actual - expected| <= atol + rtol * |expected|   (numpy.allclose).
# One op rounds once to its result type (half an ulp: 2^-24 f32, 2^-11 f16,
# 2^-8 bf16), plus f32 accumulation error in reductions; the rtol is about
# four ulps of the result type. The atol covers results that are small only
# because of cancellation (their error scales with the operands, not with
# the result).
# ---------------------------------------------------------------------------
TOLERANCES = {
    "f32": (2e-5, 2e-6),
    "f16": (2e-3, 2e-4),
    "bf16": (1.6e-2, 2e-3),
    "i1": (0.0, 0.0),
    "i32": (0.0, 0.0),
    "i64": (0.0, 0.0),
}

# A model (a chain of ops) rounds after every op: errors grow with depth, so
# whole models are compared more loosely.
MODEL_TOLERANCES = {
    "f32": (1e-4, 1e-5),
    "f16": (2e-2, 2e-3),
    "bf16": (8e-2, 1e-2),
}


# The ONNX backend node tests (tools/onnx-conformance.py) are compared with
# the ONNX test runner's own tolerance (onnx/backend/test/runner), since
# their stored outputs come from its float64/float32 NumPy reference.
ONNX_CONFORMANCE_TOLERANCE = (1e-3, 1e-7)


def build_dir():
    """The build directory: $IOLITE_BUILD_DIR, else <repo>/build."""
    env = os.environ.get("IOLITE_BUILD_DIR")
    return Path(env) if env else REPO / "build"


def tool(name):
    path = build_dir() / "bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} not built (set IOLITE_BUILD_DIR)")
    return path


# ---------------------------------------------------------------------------
# Element types
# ---------------------------------------------------------------------------
FLOAT_TYPES = ("f32", "f16", "bf16")


def round_to(x, dtype):
    """`x` rounded to `dtype` (round to nearest even), as float32 values (or
    the integer/bool array for integer types)."""
    x = np.asarray(x)
    if dtype == "f32":
        return x.astype(np.float32)
    if dtype == "f16":
        return x.astype(np.float16).astype(np.float32)
    if dtype == "bf16":
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return t.to(torch.bfloat16).to(torch.float32).numpy()
    if dtype == "i1":
        return x.astype(bool)
    if dtype == "i32":
        return x.astype(np.int32)
    if dtype == "i64":
        return x.astype(np.int64)
    raise ValueError(f"unknown dtype {dtype}")


def to_npy(x, dtype):
    """The array iolite-run takes for a tensor of element type `dtype`."""
    x = np.asarray(x)
    if dtype == "f32":
        return x.astype(np.float32)
    if dtype == "f16":
        return x.astype(np.float16)
    if dtype == "bf16":
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return t.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    return round_to(x, dtype)


def from_npy(a):
    """An output array as numbers: uint16 (bf16 bits) and float16 become
    float32."""
    if a.dtype == np.uint16:
        bits = np.atleast_1d(a).astype(np.uint32) << 16
        return bits.view(np.float32).reshape(a.shape)
    if a.dtype == np.float16:
        return a.astype(np.float32)
    return a


def tensor_type(shape, dtype):
    dims = "x".join(str(d) for d in shape)
    return f"tensor<{dims}x{dtype}>" if dims else f"tensor<{dtype}>"


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------
def iolite_run(model, inputs, function=None, extra_args=(), check=True,
               backend="cpu"):
    """Runs `function` of `model` (a path, a bundle folder, or MLIR text) on
    `inputs` (arrays already in their .npy encoding) on `backend`. Returns (returncode, outputs, stdout,
    stderr); outputs are the raw arrays of out<i>.npy."""
    with tempfile.TemporaryDirectory(prefix="iolite-test-") as tmp:
        tmp = Path(tmp)
        if isinstance(model, str) and "\n" in model:
            path = tmp / "model.mlir"
            path.write_text(model)
        else:
            path = Path(model)
        args = [str(tool("iolite-run")), str(path), f"--backend={backend}",
                f"--output-dir={tmp / 'out'}"]
        if function:
            args.append(f"--function={function}")
        for i, a in enumerate(inputs):
            p = tmp / f"in{i}.npy"
            np.save(p, a)
            args.append(f"--input={p}")
        args += list(extra_args)
        proc = subprocess.run(args, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"iolite-run failed ({proc.returncode}):\n{proc.stderr}"
                f"{proc.stdout}")
        outputs = []
        i = 0
        while (tmp / "out" / f"out{i}.npy").exists():
            outputs.append(np.load(tmp / "out" / f"out{i}.npy"))
            i += 1
        return proc.returncode, outputs, proc.stdout, proc.stderr


def assert_close(actual, expected, dtype, what="", tolerances=TOLERANCES):
    """Asserts that `actual` (an output, decoded) matches `expected` within
    the tolerance of `dtype`, naming the worst element on failure."""
    actual = np.asarray(from_npy(np.asarray(actual)))
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape} != expected {expected.shape}")
    rtol, atol = tolerances[dtype]
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    ok = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
    if not ok.all():
        bad = np.argwhere(~ok)
        idx = tuple(bad[0])
        err = np.abs(a - e)
        err[np.isnan(err) & ~(np.isnan(a) & np.isnan(e))] = np.inf
        err[np.isnan(a) & np.isnan(e)] = 0
        raise AssertionError(
            f"{what} ({dtype}, rtol={rtol}, atol={atol}): {len(bad)} of "
            f"{a.size} elements differ; first at {idx}: got {a[idx]}, "
            f"expected {e[idx]}; max abs err {np.nanmax(err):.3e}")


class Batch:
    """Many small cases run as one function by one iolite-run call.

    A case's `body` is MLIR text that reads its inputs as %x0, %x1, ... and
    defines the values named in `results`; every other SSA name is local to
    the case (the batch renames them apart).
    """

    def __init__(self, name):
        self.name = name
        self.cases = []
        self._results = None

    def add(self, name, body, inputs, results, expected, dtypes=None,
            tolerances=TOLERANCES):
        """inputs: [(array, dtype)]; results: [(ssa_name, type_string)];
        expected: a reference array per result; dtypes: the tolerance key per
        result (default: the result's element type)."""
        assert name not in [c["name"] for c in self.cases], name
        if dtypes is None:
            dtypes = [t[len("tensor<"):-1].split("x")[-1] for _, t in results]
        self.cases.append(dict(name=name, body=body, inputs=inputs,
                               results=results, expected=expected,
                               dtypes=dtypes, tolerances=tolerances))

    def names(self):
        return [c["name"] for c in self.cases]

    def mlir(self):
        args, rets, lines = [], [], []
        for ci, c in enumerate(self.cases):
            def rename(m, ci=ci):
                n = m.group(1)
                if re.fullmatch(r"x\d+", n):
                    return f"%c{ci}_{n}"
                return f"%c{ci}_v_{n}"
            for k, (a, dt) in enumerate(c["inputs"]):
                args.append(f"%c{ci}_x{k}: "
                            f"{tensor_type(np.shape(a), dt)}")
            body = re.sub(r"%([A-Za-z_][\w]*)", rename, c["body"])
            lines.append(f"  // {c['name']}")
            lines += ["  " + l for l in body.strip().splitlines()]
            for n, t in c["results"]:
                # "name" or "name#i" (result i of a multi-result op).
                base, _, idx = n.lstrip("%").partition("#")
                ssa = rename(re.match(r"([A-Za-z_][\w]*)", base))
                rets.append((ssa + (f"#{idx}" if idx else ""), t))
        sig = ",\n    ".join(args)
        rtypes = ", ".join(t for _, t in rets)
        lines.append(f"  return {', '.join(n for n, _ in rets)} : {rtypes}")
        return (f"func.func @{self.name}(\n    {sig})\n    -> ({rtypes}) "
                "{\n" + "\n".join(lines) + "\n}\n")

    def run(self):
        if isinstance(self._results, Exception):
            raise self._results
        if self._results is None:
            inputs = [to_npy(a, dt) for c in self.cases for a, dt in c["inputs"]]
            try:
                _, outs, _, _ = iolite_run(self.mlir(), inputs)
            except RuntimeError as e:
                # Every case of the batch reports the one failed run.
                self._results = e
                raise
            # Outputs are matched to cases by position: a missing or extra
            # output would shift or drop results, so the count must agree.
            slots = [(c["name"], k) for c in self.cases
                     for k in range(len(c["results"]))]
            if len(outs) != len(slots):
                missing = [f"{n} result {k}" for n, k in slots[len(outs):]]
                extra = [f"out{i}.npy" for i in range(len(slots), len(outs))]
                self._results = AssertionError(
                    f"batch {self.name}: iolite-run wrote {len(outs)} "
                    f"outputs for {len(slots)} results; missing: "
                    f"{', '.join(missing) or 'none'}; extra: "
                    f"{', '.join(extra) or 'none'}")
                raise self._results
            self._results = {}
            i = 0
            for c in self.cases:
                n = len(c["results"])
                self._results[c["name"]] = outs[i:i + n]
                i += n
        return self._results

    def check(self, name):
        c = next(c for c in self.cases if c["name"] == name)
        outs = self.run()[name]
        # zip would stop at the shorter list and check nothing more.
        assert len(outs) == len(c["expected"]) == len(c["dtypes"]), (
            f"{name}: {len(outs)} outputs, {len(c['expected'])} reference "
            f"arrays and {len(c['dtypes'])} dtypes; missing references for "
            f"results {list(range(len(c['expected']), len(outs)))}, missing "
            f"outputs for references "
            f"{list(range(len(outs), len(c['expected'])))}")
        for k, (out, exp, dt) in enumerate(zip(outs, c["expected"],
                                               c["dtypes"])):
            assert_close(out, exp, dt, f"{name} result {k}", c["tolerances"])

    def check_bundle(self, bundle, backend="emu", target=None,
                     check_inputs=True):
        """Runs the batch compiled as `bundle` (iolite.compile of mlir())
        through the Python package and checks every case's results,
        reporting all mismatches at once."""
        inputs = [a for c in self.cases for a, _ in c["inputs"]]
        outputs = bundle.run(*inputs, backend=backend, target=target,
                             check_inputs=check_inputs)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        want = sum(len(c["expected"]) for c in self.cases)
        assert len(outputs) == want, (
            f"batch {self.name}: {len(outputs)} outputs for {want} "
            "reference arrays")
        failures, i = [], 0
        for c in self.cases:
            for k, (exp, dt) in enumerate(zip(c["expected"], c["dtypes"])):
                try:
                    assert_close(outputs[i], exp, dt,
                                 f"{target or backend} {c['name']} result {k}",
                                 c["tolerances"])
                except AssertionError as err:
                    failures.append(str(err))
                i += 1
        assert not failures, "\n".join(failures)
