"""Runs an Iolite bundle from Python through its own launch code.

A bundle (iolite-compile -o DIR) holds NAME.h, NAME.c, one binary per target
and manifest.json. `Bundle` compiles NAME.c with the host C compiler into a
shared object linked to libiolite_runtime.so, loads it with ctypes, and calls
NAME_load / NAME_run_v on a runtime device, exactly as a user's program would
(the C++ BundleRunner does the same for iolite-run). The device may be the
emulator ("emu-sm_90a"), a CUDA or a HIP device; device pointers are plain
integers, so the GPU harness can pass PyTorch tensors' data_ptr()s.

Only the runtime's C API (include/iolite/Runtime/iolite_runtime.h) is used.
"""

import ctypes
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

DTYPE_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "i32": 4, "i64": 8, "i1": 1}


class RuntimeError_(Exception):
    """A runtime call failed; the message is iolite_last_error()."""


class EmuLaunchStats(ctypes.Structure):
    # Mirrors iolite_emu_launch_stats_t.
    _fields_ = [
        ("kernel", ctypes.c_char_p),
        ("grid", ctypes.c_uint32 * 3),
        ("block", ctypes.c_uint32 * 3),
        ("shared_bytes", ctypes.c_uint32),
        ("global_bytes_read", ctypes.c_uint64),
        ("global_bytes_written", ctypes.c_uint64),
        ("shared_bytes_read", ctypes.c_uint64),
        ("shared_bytes_written", ctypes.c_uint64),
        ("flops", ctypes.c_uint64),
        ("barriers", ctypes.c_uint64),
        ("seconds", ctypes.c_double),
        ("matrix_flops", ctypes.c_uint64),
        ("shared_wavefronts", ctypes.c_uint64),
        ("shared_bank_conflicts", ctypes.c_uint64),
    ]


def _build_dir():
    return Path(os.environ.get("IOLITE_BUILD_DIR", REPO / "build"))


class Runtime:
    """libiolite_runtime.so loaded once, with its prototypes declared."""

    _instance = None

    @classmethod
    def get(cls):
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def __init__(self):
        path = os.environ.get("IOLITE_RUNTIME_LIBRARY")
        if not path:
            path = str(_build_dir() / "lib" / "libiolite_runtime.so")
        if not Path(path).exists():
            raise FileNotFoundError(
                f"{path} not found (build Iolite or set IOLITE_BUILD_DIR)")
        self.path = path
        lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        vp, i, sz = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
        proto = {
            "iolite_last_error": (ctypes.c_char_p, []),
            "iolite_device_open": (i, [ctypes.c_char_p, i, ctypes.POINTER(vp)]),
            "iolite_device_close": (None, [vp]),
            "iolite_device_arch": (ctypes.c_char_p, [vp]),
            "iolite_device_backend": (ctypes.c_char_p, [vp]),
            "iolite_malloc": (i, [vp, sz, ctypes.POINTER(vp)]),
            "iolite_free": (i, [vp, vp]),
            "iolite_memcpy_h2d": (i, [vp, vp, vp, sz]),
            "iolite_memcpy_d2h": (i, [vp, vp, vp, sz]),
            "iolite_memset": (i, [vp, vp, i, sz]),
            "iolite_synchronize": (i, [vp]),
            "iolite_emu_stats_count": (i, [vp, ctypes.POINTER(sz)]),
            "iolite_emu_get_stats": (i, [vp, sz,
                                         ctypes.POINTER(EmuLaunchStats)]),
            "iolite_emu_reset_stats": (i, [vp]),
        }
        for name, (res, args) in proto.items():
            fn = getattr(lib, name)
            fn.restype = res
            fn.argtypes = args
        self.lib = lib

    def check(self, status, what):
        if status != 0:
            msg = self.lib.iolite_last_error().decode(errors="replace")
            raise RuntimeError_(f"{what} failed (status {status}): {msg}")


class Device:
    """A runtime device: "emu-sm_90a", "emu", "cuda", "hip"."""

    def __init__(self, backend, ordinal=0):
        self.rt = Runtime.get()
        self.handle = ctypes.c_void_p()
        self.rt.check(self.rt.lib.iolite_device_open(
            backend.encode(), ordinal, ctypes.byref(self.handle)),
            f"opening device '{backend}'")
        self.backend = backend

    @property
    def is_emu(self):
        return self.backend.startswith("emu")

    def arch(self):
        return self.rt.lib.iolite_device_arch(self.handle).decode()

    def malloc(self, nbytes):
        p = ctypes.c_void_p()
        self.rt.check(self.rt.lib.iolite_malloc(
            self.handle, max(1, nbytes), ctypes.byref(p)), "iolite_malloc")
        return p.value

    def free(self, ptr):
        self.rt.check(self.rt.lib.iolite_free(self.handle, ptr), "iolite_free")

    def h2d(self, dst, host_bytes):
        buf = ctypes.create_string_buffer(host_bytes, len(host_bytes))
        self.rt.check(self.rt.lib.iolite_memcpy_h2d(
            self.handle, dst, buf, len(host_bytes)), "iolite_memcpy_h2d")

    def d2h(self, src, nbytes):
        buf = ctypes.create_string_buffer(nbytes)
        self.rt.check(self.rt.lib.iolite_memcpy_d2h(
            self.handle, buf, src, nbytes), "iolite_memcpy_d2h")
        return buf.raw

    def synchronize(self):
        self.rt.check(self.rt.lib.iolite_synchronize(self.handle),
                      "iolite_synchronize")

    def reset_stats(self):
        self.rt.check(self.rt.lib.iolite_emu_reset_stats(self.handle),
                      "iolite_emu_reset_stats")

    def stats(self):
        """Per-launch emulator statistics since the last reset (dicts)."""
        n = ctypes.c_size_t()
        self.rt.check(self.rt.lib.iolite_emu_stats_count(
            self.handle, ctypes.byref(n)), "iolite_emu_stats_count")
        out = []
        for k in range(n.value):
            s = EmuLaunchStats()
            self.rt.check(self.rt.lib.iolite_emu_get_stats(
                self.handle, k, ctypes.byref(s)), "iolite_emu_get_stats")
            out.append({
                "kernel": s.kernel.decode(),
                "grid": list(s.grid), "block": list(s.block),
                "shared_bytes": s.shared_bytes,
                "global_bytes_read": s.global_bytes_read,
                "global_bytes_written": s.global_bytes_written,
                "shared_bytes_read": s.shared_bytes_read,
                "shared_bytes_written": s.shared_bytes_written,
                "flops": s.flops, "barriers": s.barriers,
                "seconds": s.seconds, "matrix_flops": s.matrix_flops,
                "shared_wavefronts": s.shared_wavefronts,
                "shared_bank_conflicts": s.shared_bank_conflicts,
            })
        return out

    def close(self):
        if self.handle:
            self.rt.lib.iolite_device_close(self.handle)
            self.handle = ctypes.c_void_p()


def find_c_compiler():
    for name in (os.environ.get("IOLITE_CC"), "cc", "clang-22", "clang",
                 "gcc"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise FileNotFoundError("no C compiler for the bundle's launch code "
                            "(set IOLITE_CC)")


def build_launch_library(bundle_dir, out_so, runtime_path):
    """Compiles a bundle's NAME.c into the shared object `out_so`, linked to
    the runtime library at `runtime_path` (by its soname)."""
    bundle_dir = Path(bundle_dir)
    name = json.loads((bundle_dir / "manifest.json").read_text())["name"]
    header_dir = REPO / "include" / "iolite" / "Runtime"
    cmd = [find_c_compiler(), "-std=c11", "-O1", "-fPIC", "-shared",
           f"-I{header_dir}", f"-I{bundle_dir}",
           str(bundle_dir / f"{name}.c"), "-o", str(out_so),
           str(runtime_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError_("compiling the launch code failed:\n" +
                            proc.stderr)


def shape_at(tensor, dims):
    """A manifest tensor's shape at the symbols' values `dims` (manifest
    order): each symbolic dim is coeff * prod(dims[i] ** exps[i])."""
    if "dims" not in tensor:
        return list(tensor["shape"])
    shape = []
    for d in tensor["dims"]:
        n = d["coeff"]
        for v, e in zip(dims, d["exps"]):
            n *= v ** e
        shape.append(n)
    return shape


class Bundle:
    """A bundle's launch code loaded on one device.

    `launch_library` names NAME.c already compiled by build_launch_library
    (bench/device_check.py prepares them where a C compiler is at hand);
    without it NAME.c is compiled now."""

    def __init__(self, bundle_dir, device, launch_library=None):
        self.dir = Path(bundle_dir)
        self.manifest = json.loads((self.dir / "manifest.json").read_text())
        self.name = self.manifest["name"]
        self.device = device
        rt = device.rt
        self._scratch = tempfile.mkdtemp(prefix="iolite-bench-")
        so = Path(self._scratch) / f"{self.name}.so"
        if launch_library is None:
            build_launch_library(self.dir, so, rt.path)
        else:
            so = Path(launch_library)
            if not so.exists():
                raise FileNotFoundError(f"{so}: prepared launch code missing")
        self.lib = ctypes.CDLL(str(so))
        vp = ctypes.c_void_p
        self._load = getattr(self.lib, f"{self.name}_load")
        self._load.restype = ctypes.c_int
        self._load.argtypes = [vp, ctypes.POINTER(vp)]
        self._unload = getattr(self.lib, f"{self.name}_unload")
        self._unload.restype = None
        self._unload.argtypes = [vp]
        self._run_v = getattr(self.lib, f"{self.name}_run_v")
        self._run_v.restype = ctypes.c_int
        # A bundle compiled for symbolic dims takes their values first
        # (docs/dynamic-shapes.md).
        self.dims = self.manifest.get("dims", [])
        self._run_v.argtypes = (
            [vp] + ([ctypes.POINTER(ctypes.c_int64)] if self.dims else []) +
            [ctypes.POINTER(vp), ctypes.POINTER(vp), vp, vp])
        self.model = ctypes.c_void_p()
        rt.check(self._load(device.handle, ctypes.byref(self.model)),
                 f"{self.name}_load on {device.backend}")

    @property
    def inputs(self):
        return self.manifest["inputs"]

    @property
    def outputs(self):
        return self.manifest["outputs"]

    @property
    def workspace_bytes(self):
        return self.manifest.get("workspace_bytes", 0)

    def run(self, input_ptrs, output_ptrs, workspace_ptr, stream=None,
            dims=None):
        """One NAME_run_v call with device pointers (ints); `dims`, the
        symbols' values, for a bundle with symbolic dims."""
        ins = (ctypes.c_void_p * max(1, len(input_ptrs)))(*input_ptrs)
        outs = (ctypes.c_void_p * max(1, len(output_ptrs)))(*output_ptrs)
        args = [self.model]
        if self.dims:
            if dims is None or len(dims) != len(self.dims):
                raise ValueError(f"{self.name} takes {len(self.dims)} dims")
            args.append((ctypes.c_int64 * len(dims))(*dims))
        self.device.rt.check(
            self._run_v(*args, ins, outs, workspace_ptr, stream),
            f"{self.name}_run")

    def allocate_and_fill(self, seed=0, int_high=None):
        """Device buffers for every input (random contents chosen to be
        valid: floats in [-1, 1), integer inputs in [0, int_high)), every
        output and the workspace. Returns (inputs, outputs, workspace)."""
        import numpy as np
        rng = np.random.default_rng(seed)
        dev = self.device
        ins = []
        for t in self.inputs:
            n = int(np.prod(t["shape"])) if t["shape"] else 1
            dt = t["dtype"]
            if dt == "f32":
                a = rng.uniform(-1, 1, n).astype(np.float32)
            elif dt == "f16":
                a = rng.uniform(-1, 1, n).astype(np.float16)
            elif dt == "bf16":
                f = rng.uniform(-1, 1, n).astype(np.float32)
                a = (f.view(np.uint32) >> 16).astype(np.uint16)
            elif dt in ("i32", "i64"):
                a = rng.integers(0, int_high or 2, n).astype(
                    np.int32 if dt == "i32" else np.int64)
            else:
                a = rng.integers(0, 2, n).astype(np.uint8)
            p = dev.malloc(a.nbytes)
            dev.h2d(p, a.tobytes())
            ins.append(p)
        outs = [dev.malloc(t["bytes"]) for t in self.outputs]
        ws = dev.malloc(self.workspace_bytes) if self.workspace_bytes else None
        return ins, outs, ws

    def close(self):
        if self.model:
            self._unload(self.model)
            self.model = ctypes.c_void_p()
        shutil.rmtree(self._scratch, ignore_errors=True)
