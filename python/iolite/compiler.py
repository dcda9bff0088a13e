"""iolite.compile and the bundles it returns.

compile() calls the driver iolite-compile runs (mlir::iolite::compile,
through libIoliteCAPI.so); a bundle is the folder it writes (NAME.h, NAME.c,
one binary per target, manifest.json). Bundle.run() loads the bundle on a
device of the runtime C API with BundleRunner, which compiles the bundle's
own launch code (NAME.c), so Python runs the same path a C program does.
"""

import json
import os
import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np

from . import _capi
from . import dtypes as _dt
from . import runtime as _rt
from .errors import BackendError, BackendUnavailable, CompileError
from .graph import Graph, TensorType
from .ir import Module, _dims_text, import_onnx

EMIT_STAGES = ("bundle", "iolite", "raised", "fused", "gpu", "llvm", "ptx",
               "amdgcn")
BACKENDS = ("emu", "cuda", "hip", "cpu")
_MODEL_SUFFIXES = (".mlir", ".onnx", ".onnxtxt")


def _is_torch_module(model):
    return any(c.__module__.startswith("torch.nn") and c.__name__ == "Module"
               for c in type(model).__mro__)


def _source_of(model, name, example_inputs):
    """(MLIR text or None, model file or None, model name)."""
    if isinstance(model, Graph):
        return model.verify().text(), None, name or model.name
    if isinstance(model, Module):
        return model.text, None, name or model.name
    if _is_torch_module(model):
        from .torch_import import from_torch
        if example_inputs is None:
            raise TypeError("compiling a PyTorch module needs example_inputs")
        graph = from_torch(model, example_inputs, name=name)
        return graph.text(), None, graph.name
    if isinstance(model, os.PathLike) or (
            isinstance(model, str) and model.endswith(_MODEL_SUFFIXES)
            and "\n" not in model):
        path = Path(model)
        if not path.exists():
            raise FileNotFoundError(path)
        return None, path, name or path.stem
    if isinstance(model, str):
        return model, None, name or "model"
    raise TypeError(f"cannot compile a {type(model).__name__}: give a Graph, "
                    "a Module, MLIR text, a model path or a PyTorch module")


def compile(model, targets=("sm_90a",), output_dir=None, emit="bundle",
            no_fusion=False, remarks=False, name=None, example_inputs=None,
            dims=None, allow_tf32=False, no_matrix_units=False,
            emu_matrix_level=None, max_registers=None, werror_spills=False):
    """Compiles `model` as iolite-compile does.

    `model` is a Graph, a Module (iolite.parse / iolite.import_onnx), MLIR
    text, the path of a .mlir/.onnx/.onnxtxt model, or a PyTorch module
    (with `example_inputs`, through iolite.from_torch). `targets` lists
    chips (sm_80, sm_90a, gfx90a, gfx942, emu-<chip>). With emit="bundle"
    the bundle is written to `output_dir` (a temporary folder, removed with
    the Bundle, when None) and a Bundle is returned; any other stage returns
    the driver's text for it. `dims` gives an ONNX model's symbolic dims.
    `allow_tf32` lets f32 products use TF32 matrix instructions (as
    torch.backends.cuda.matmul.allow_tf32); `no_matrix_units` keeps every
    product on the FMA units; `emu_matrix_level` ("isa" or "warp") picks how
    emu targets run matrix instructions. `max_registers` caps every
    kernel's registers per thread (iolite-compile --max-registers); a kernel
    that then spills is a warning in the diagnostics, or a CompileError
    with `werror_spills`.
    Raises CompileError with the driver's diagnostics on failure.
    """
    if emit not in EMIT_STAGES:
        raise ValueError(f"emit must be one of {EMIT_STAGES}")
    if isinstance(targets, str):
        targets = [t for t in targets.split(",") if t]
    targets = list(targets)
    if not targets:
        raise ValueError("no targets")
    source, path, model_name = _source_of(model, name, example_inputs)
    model_name = "".join(c if c.isalnum() or c == "_" else "_"
                         for c in model_name) or "model"

    temporary = None
    if emit == "bundle" and output_dir is None:
        temporary = tempfile.mkdtemp(prefix="iolite-bundle-")
        output_dir = os.path.join(temporary, model_name)
    try:
        result = _capi.compile_model(source, model_name, path,
                                     ",".join(targets), output_dir, emit,
                                     no_fusion, remarks, _dims_text(dims),
                                     allow_tf32, no_matrix_units,
                                     emu_matrix_level, max_registers,
                                     werror_spills)
    except BaseException:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    if not result.ok:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
        raise CompileError(f"compiling {model_name} failed:\n"
                           f"{result.message}", result.diagnostics)
    if emit != "bundle":
        return result.text
    if source is None:  # keep the IR for backend="cpu"
        source = path.read_text() if path.suffix == ".mlir" else \
            import_onnx(path, dims=dims).text
    bundle = Bundle(output_dir, source=source, table=result.text,
                    diagnostics=result.diagnostics)
    if temporary:
        weakref.finalize(bundle, shutil.rmtree, temporary, True)
    return bundle


class Bundle:
    """A compiled bundle folder: the manifest, and runs on a device."""

    def __init__(self, path, source=None, table="", diagnostics=()):
        self.path = Path(path)
        manifest_path = self.path / "manifest.json"
        if not manifest_path.exists():
            raise BackendError(f"'{self.path}' is not a bundle: no "
                               "manifest.json")
        self.manifest = json.loads(manifest_path.read_text())
        self.name = self.manifest["name"]
        #: The iolite IR the bundle was compiled from (for backend="cpu").
        self.source = source
        #: The driver's per-kernel table.
        self.table = table
        #: Fusion remarks and other non-error diagnostics of the compile.
        self.remarks = [d for d in diagnostics if d["severity"] != "error"]
        #: Emulator statistics of the last emu run, one dict per launch.
        self.last_stats = []
        self._runners = {}

    # The manifest -----------------------------------------------------------
    @property
    def targets(self):
        return [t["name"] for t in self.manifest["targets"]]

    @property
    def inputs(self):
        """Input types; a symbolic dim (docs/dynamic-shapes.md) is None."""
        return [TensorType([None if d == -1 else d for d in t["shape"]],
                           t["dtype"])
                for t in self.manifest["inputs"]]

    @property
    def outputs(self):
        return [TensorType([None if d == -1 else d for d in t["shape"]],
                           t["dtype"])
                for t in self.manifest["outputs"]]

    @property
    def dims(self):
        """The symbolic dims one compile serves: {name: (min, max)}, in the
        order the bundle's C API takes them (empty for static shapes)."""
        return {d["name"]: (d["min"], d["max"])
                for d in self.manifest.get("dims", [])}

    @property
    def workspace_bytes(self):
        return self.manifest["workspace_bytes"]

    @property
    def kernels(self):
        """manifest.json's kernels: name, template, tile, source ops and,
        per target, grid, block, shared memory and resources (registers,
        spills, ...). After an emu run each also has "emu": the emulator's
        counters for its launches (global/shared bytes read and written,
        flops, barriers, seconds, launches)."""
        return self.manifest["kernels"]

    def __repr__(self):
        return (f"<iolite.Bundle {self.name} at {self.path}: "
                f"{len(self.kernels)} kernels, targets {self.targets}>")

    # Running ----------------------------------------------------------------
    def _device_name(self, backend, target):
        if backend == "emu":
            emu = [t for t in self.targets if t.startswith("emu-")]
            if target is None:
                if not emu:
                    raise BackendUnavailable(
                        f"bundle {self.name} has no emu target (it has "
                        f"{', '.join(self.targets)}); compile with "
                        "targets=[..., 'emu-sm_90a'] to run it on the "
                        "emulator")
                target = emu[0]
            if target not in emu:
                raise BackendError(f"bundle {self.name} has no target "
                                   f"'{target}' (emu targets: {emu})")
            return target  # an emulator of exactly that chip
        if target is not None:
            raise ValueError("target= only selects among emu targets")
        return backend

    def _runner(self, device_name):
        if device_name not in self._runners:
            dev = _rt.device(device_name)
            result, handle = _capi.bundle_open(self.path, dev.handle)
            if not result.ok:
                raise BackendError(result.message.strip())
            self._runners[device_name] = (dev, handle)
        return self._runners[device_name]

    def _inputs(self, arrays):
        want = self.inputs
        if len(arrays) != len(want):
            raise ValueError(f"{self.name} takes {len(want)} inputs, got "
                             f"{len(arrays)}")
        prepared = []
        for i, (a, t) in enumerate(zip(arrays, want)):
            if hasattr(a, "detach"):  # a torch tensor
                a = a.detach().cpu()
                a = a.float().numpy() if str(a.dtype) == "torch.bfloat16" \
                    else a.numpy()
            a = np.asarray(a)
            # A symbolic dim takes any size; the runner binds the dims from
            # the shapes and checks them against their bounds.
            if len(a.shape) != t.rank or any(
                    w is not None and g != w for g, w in zip(a.shape, t.shape)):
                raise ValueError(f"input {i} has shape {tuple(a.shape)}, "
                                 f"{self.name} takes {t}")
            # Same kind of number only: floats (and bf16 bits) for float
            # inputs, integers for integer inputs, bools for i1.
            kinds = ("f" if t.dtype in _dt.FLOAT_DTYPES else
                     "b" if t.dtype == "i1" else "iu")
            bf16_bits = t.dtype == "bf16" and a.dtype == np.uint16
            if a.dtype.kind not in kinds and not bf16_bits:
                raise TypeError(f"input {i} is {a.dtype}, {self.name} takes "
                                f"{t.dtype}")
            prepared.append((t.dtype, tuple(a.shape),
                             _dt.to_storage(a, t.dtype)))
        return prepared

    def run(self, *arrays, backend="emu", target=None, check_inputs=True):
        """Runs the model on numpy arrays (or PyTorch tensors) and returns
        its output as a numpy array (a tuple of them for several outputs).

        backend: "emu" (the GPU emulator; `target` picks among the bundle's
        emu-<chip> targets, default the first), "cuda", "hip" (the device's
        binary is chosen by the bundle's launch code), or "cpu" (the
        reference CPU path on the IR the bundle was compiled from).

        check_inputs: refuse serving inputs that would write past a KV
        cache or read outside a page pool or packed batch (the bundle's
        NAME_check_inputs) before anything runs. False hands them to the
        kernels as NAME_run would (which clamp or drop them)."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}")
        inputs = self._inputs(arrays)
        if backend == "cpu":
            outputs = self._run_cpu(inputs)
        else:
            device_name = self._device_name(backend, target)
            dev, handle = self._runner(device_name)
            if dev.is_emulator:
                dev.reset_stats()
            result = _capi.bundle_run(handle, inputs, check_inputs)
            if not result.ok:
                raise BackendError(result.message.strip())
            outputs = [_dt.from_storage(data, dtype, shape)
                       for dtype, shape, data in result.tensors]
            if dev.is_emulator:
                self._record_stats(dev.stats())
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _run_cpu(self, inputs):
        """The reference lowering, JIT-compiled, on the IR the bundle was
        compiled from (as iolite-run --backend=cpu)."""
        if self.source is None:
            raise BackendUnavailable(
                f"bundle {self.name} was not compiled from Python: its IR is "
                "unknown, so backend='cpu' cannot run it")
        result = _capi.run_cpu(self.source, f"{self.name}.mlir", None, inputs)
        if not result.ok:
            raise BackendError(result.message.strip(), result.diagnostics)
        return [_dt.from_storage(data, dtype, shape)
                for dtype, shape, data in result.tensors]

    def _record_stats(self, launches):
        self.last_stats = launches
        by_kernel = {}
        for launch in launches:
            entry = by_kernel.setdefault(
                launch["kernel"], dict({f: 0 for f in _rt.STAT_FIELDS},
                                       launches=0))
            entry["launches"] += 1
            for f in _rt.STAT_FIELDS:
                entry[f] += launch[f]
        for kernel in self.manifest["kernels"]:
            if kernel["name"] in by_kernel:
                kernel["emu"] = by_kernel[kernel["name"]]
            else:
                kernel.pop("emu", None)

    def close(self):
        """Unloads the bundle from the devices it was run on."""
        runners, self._runners = self._runners, {}
        for _, handle in runners.values():
            _capi.bundle_close(handle)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
