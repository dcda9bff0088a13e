"""ctypes bindings of the two shared libraries the package drives.

- libIoliteCAPI.so (include/iolite/CAPI/iolite_capi.h): parsing and
  verifying IR, ONNX import, the compile driver, BundleRunner;
- libiolite_runtime.so (include/iolite/Runtime/iolite_runtime.h): devices and
  the emulator's statistics.

Both live in the package's ``_lib`` folder (copied there by the build, the
install and the wheel); ``IOLITE_LIB_DIR`` overrides where they are looked
for. The runtime is loaded first, globally, so that the compiler library and
the launch code BundleRunner compiles bind to the same instance.
"""

import ctypes
import json
import os
from pathlib import Path

from .errors import IoliteError

CAPI_VERSION = 2


def library_dir():
    """The folder holding libIoliteCAPI.so and libiolite_runtime.so.0."""
    env = os.environ.get("IOLITE_LIB_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "_lib"


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------

class _Tensor(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_char_p),
                ("rank", ctypes.c_size_t),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("data", ctypes.c_void_p),
                ("bytes", ctypes.c_size_t)]


class _CompileOptions(ctypes.Structure):
    _fields_ = [("targets", ctypes.c_char_p),
                ("output_dir", ctypes.c_char_p),
                ("emit", ctypes.c_char_p),
                ("no_fusion", ctypes.c_int),
                ("remarks", ctypes.c_int),
                ("dims", ctypes.c_char_p),
                ("allow_tf32", ctypes.c_int),
                ("no_matrix_units", ctypes.c_int),
                ("emu_matrix_level", ctypes.c_char_p),
                ("max_registers", ctypes.c_uint),
                ("werror_spills", ctypes.c_int)]


class EmuLaunchStats(ctypes.Structure):
    """iolite_emu_launch_stats_t."""
    _fields_ = [("kernel", ctypes.c_char_p),
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
                ("shared_bank_conflicts", ctypes.c_uint64)]


_P = ctypes.c_void_p
_CAPI_SIGNATURES = {
    "iolite_capi_version": (ctypes.c_int, []),
    "iolite_capi_context_create": (_P, []),
    "iolite_capi_context_destroy": (None, [_P]),
    "iolite_capi_result_ok": (ctypes.c_int, [_P]),
    "iolite_capi_result_text": (ctypes.c_char_p, [_P]),
    "iolite_capi_result_info": (ctypes.c_char_p, [_P]),
    "iolite_capi_result_diagnostics": (ctypes.c_char_p, [_P]),
    "iolite_capi_result_message": (ctypes.c_char_p, [_P]),
    "iolite_capi_result_num_tensors": (ctypes.c_size_t, [_P]),
    "iolite_capi_result_tensor": (ctypes.c_int,
                                  [_P, ctypes.c_size_t,
                                   ctypes.POINTER(_Tensor)]),
    "iolite_capi_result_destroy": (None, [_P]),
    "iolite_capi_parse": (_P, [_P, ctypes.c_char_p, ctypes.c_size_t,
                               ctypes.c_char_p, ctypes.c_uint]),
    "iolite_capi_import_onnx": (_P, [_P, ctypes.c_char_p, ctypes.c_char_p,
                                     ctypes.c_char_p, ctypes.c_uint]),
    "iolite_capi_compile_file": (_P, [_P, ctypes.c_char_p,
                                      ctypes.POINTER(_CompileOptions)]),
    "iolite_capi_compile": (_P, [_P, ctypes.c_char_p, ctypes.c_size_t,
                                 ctypes.c_char_p,
                                 ctypes.POINTER(_CompileOptions)]),
    "iolite_capi_run_cpu": (_P, [_P, ctypes.c_char_p, ctypes.c_size_t,
                                 ctypes.c_char_p, ctypes.c_char_p,
                                 ctypes.POINTER(_Tensor), ctypes.c_size_t]),
    "iolite_capi_bundle_open": (_P, [ctypes.c_char_p, _P,
                                     ctypes.POINTER(_P)]),
    "iolite_capi_bundle_run": (_P, [_P, ctypes.POINTER(_Tensor),
                                    ctypes.c_size_t]),
    "iolite_capi_bundle_check_inputs": (None, [_P, ctypes.c_int]),
    "iolite_capi_bundle_close": (None, [_P]),
}

_RUNTIME_SIGNATURES = {
    "iolite_last_error": (ctypes.c_char_p, []),
    "iolite_device_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_int,
                                          ctypes.POINTER(_P)]),
    "iolite_device_close": (None, [_P]),
    "iolite_device_backend": (ctypes.c_char_p, [_P]),
    "iolite_device_arch": (ctypes.c_char_p, [_P]),
    "iolite_device_supports_target": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "iolite_emu_stats_count": (ctypes.c_int, [_P,
                                              ctypes.POINTER(ctypes.c_size_t)]),
    "iolite_emu_get_stats": (ctypes.c_int, [_P, ctypes.c_size_t,
                                            ctypes.POINTER(EmuLaunchStats)]),
    "iolite_emu_reset_stats": (ctypes.c_int, [_P]),
}


def _declare(lib, signatures):
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


_runtime = None
_capi = None


def _load_library(name, mode):
    path = library_dir() / name
    if not path.exists():
        raise IoliteError(
            f"{path} not found: build Iolite (the iolite package is copied "
            "into BUILD/python with its libraries) or set IOLITE_LIB_DIR")
    return ctypes.CDLL(str(path), mode=mode)


def runtime():
    """libiolite_runtime.so, loaded once."""
    global _runtime
    if _runtime is None:
        # Exports only iolite_* symbols; global so that every later user of
        # the soname binds to this instance.
        lib = _load_library("libiolite_runtime.so.0", ctypes.RTLD_GLOBAL)
        _declare(lib, _RUNTIME_SIGNATURES)
        _runtime = lib
    return _runtime


def capi():
    """libIoliteCAPI.so, loaded once (after the runtime)."""
    global _capi
    if _capi is None:
        runtime()
        # Local: its MLIR and LLVM dependencies stay out of the global scope.
        lib = _load_library("libIoliteCAPI.so", ctypes.RTLD_LOCAL)
        _declare(lib, _CAPI_SIGNATURES)
        if lib.iolite_capi_version() != CAPI_VERSION:
            raise IoliteError(
                f"libIoliteCAPI.so has C API version "
                f"{lib.iolite_capi_version()}, this package needs "
                f"{CAPI_VERSION}: rebuild")
        _capi = lib
    return _capi


# ---------------------------------------------------------------------------
# The context and results
# ---------------------------------------------------------------------------

_context = None


def context():
    """The process's MLIR context (every dialect loaded), created once."""
    global _context
    if _context is None:
        lib = capi()
        ctx = lib.iolite_capi_context_create()
        if not ctx:
            raise IoliteError("cannot create an MLIR context")
        _context = ctx
    return _context


class Result:
    """A copy of what one C API call produced."""

    def __init__(self, handle):
        lib = capi()
        try:
            self.ok = bool(lib.iolite_capi_result_ok(handle))
            self.text = lib.iolite_capi_result_text(handle).decode()
            info = lib.iolite_capi_result_info(handle).decode()
            self.info = json.loads(info) if info else None
            self.diagnostics = json.loads(
                lib.iolite_capi_result_diagnostics(handle).decode())
            self.message = lib.iolite_capi_result_message(handle).decode()
            self.tensors = []
            for i in range(lib.iolite_capi_result_num_tensors(handle)):
                t = _Tensor()
                lib.iolite_capi_result_tensor(handle, i, ctypes.byref(t))
                shape = tuple(t.shape[d] for d in range(t.rank))
                data = ctypes.string_at(t.data, t.bytes) if t.bytes else b""
                self.tensors.append((t.dtype.decode(), shape, data))
        finally:
            lib.iolite_capi_result_destroy(handle)

    def errors(self):
        return [d for d in self.diagnostics if d["severity"] == "error"]


# Flags of iolite_capi_parse.
PRINT, DESCRIBE, DEBUG_INFO = 1, 2, 4


def parse(text, buffer_name, flags):
    data = text.encode()
    return Result(capi().iolite_capi_parse(context(), data, len(data),
                                           buffer_name.encode(), flags))


def import_onnx(path, dims, function_name, flags):
    return Result(capi().iolite_capi_import_onnx(
        context(), str(path).encode(), dims.encode() if dims else None,
        function_name.encode() if function_name else None, flags))


def compile_model(source, model_name, path, targets, output_dir, emit,
                  no_fusion, remarks, dims, allow_tf32=False,
                  no_matrix_units=False, emu_matrix_level=None,
                  max_registers=None, werror_spills=False):
    """Runs the compile driver on MLIR text `source` named `model_name`, or
    on the model file at `path`."""
    options = _CompileOptions(
        targets=targets.encode() if targets else None,
        output_dir=str(output_dir).encode() if output_dir else None,
        emit=emit.encode() if emit else None,
        no_fusion=int(bool(no_fusion)), remarks=int(bool(remarks)),
        dims=dims.encode() if dims else None,
        allow_tf32=int(bool(allow_tf32)),
        no_matrix_units=int(bool(no_matrix_units)),
        emu_matrix_level=emu_matrix_level.encode() if emu_matrix_level
        else None,
        max_registers=int(max_registers or 0),
        werror_spills=int(bool(werror_spills)))
    lib = capi()
    if path is not None:
        handle = lib.iolite_capi_compile_file(context(), str(path).encode(),
                                              ctypes.byref(options))
    else:
        data = source.encode()
        handle = lib.iolite_capi_compile(context(), data, len(data),
                                         model_name.encode(),
                                         ctypes.byref(options))
    return Result(handle)


def bundle_open(path, device):
    handle = _P()
    result = Result(capi().iolite_capi_bundle_open(str(path).encode(), device,
                                                   ctypes.byref(handle)))
    return result, handle


def _tensors(inputs):
    """iolite_capi_tensor_t array for (dtype, shape, contiguous numpy array)
    triples, and the objects that must outlive it."""
    array = (_Tensor * max(len(inputs), 1))()
    keep = [array]
    for i, (dtype, shape, data) in enumerate(inputs):
        shape_arr = (ctypes.c_int64 * max(len(shape), 1))(*shape)
        keep += [shape_arr, data]
        array[i].dtype = dtype.encode()
        array[i].rank = len(shape)
        array[i].shape = ctypes.cast(shape_arr, ctypes.POINTER(ctypes.c_int64))
        array[i].data = data.ctypes.data if data.nbytes else None
        array[i].bytes = data.nbytes
    return array, keep


def bundle_run(handle, inputs, check_inputs=True):
    """`inputs`: (dtype, shape, contiguous numpy array) triples."""
    capi().iolite_capi_bundle_check_inputs(handle, int(check_inputs))
    array, keep = _tensors(inputs)
    return Result(capi().iolite_capi_bundle_run(handle, array, len(inputs)))


def run_cpu(source, buffer_name, function, inputs):
    """Runs `function` (None: the only one) of MLIR text `source` on the CPU
    through the reference lowering."""
    array, keep = _tensors(inputs)
    data = source.encode()
    return Result(capi().iolite_capi_run_cpu(
        context(), data, len(data), buffer_name.encode(),
        function.encode() if function else None, array, len(inputs)))


def bundle_close(handle):
    if handle:
        capi().iolite_capi_bundle_close(handle)
