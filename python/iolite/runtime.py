"""Devices of the runtime C API (libiolite_runtime.so) and the emulator's
statistics."""

import ctypes

from . import _capi
from .errors import BackendError, BackendUnavailable

IOLITE_SUCCESS = 0
IOLITE_ERROR_BACKEND_UNAVAILABLE = 2

STAT_FIELDS = ("global_bytes_read", "global_bytes_written",
               "shared_bytes_read", "shared_bytes_written", "flops",
               "matrix_flops", "shared_wavefronts", "shared_bank_conflicts",
               "barriers", "seconds")


def _check(status, what):
    if status == IOLITE_SUCCESS:
        return
    message = _capi.runtime().iolite_last_error().decode()
    cls = (BackendUnavailable if status == IOLITE_ERROR_BACKEND_UNAVAILABLE
           else BackendError)
    raise cls(f"{what}: {message}" if message else what)


class Device:
    """A device of a runtime backend: "cuda", "hip", "emu" or "emu-CHIP"
    (an emulator that only accepts code compiled for CHIP)."""

    def __init__(self, backend, ordinal=0):
        self.handle = ctypes.c_void_p()
        rt = _capi.runtime()
        _check(rt.iolite_device_open(backend.encode(), ordinal,
                                     ctypes.byref(self.handle)),
               f"opening {backend} device {ordinal}")
        self.name = backend

    @property
    def backend(self):
        return _capi.runtime().iolite_device_backend(self.handle).decode()

    @property
    def arch(self):
        return _capi.runtime().iolite_device_arch(self.handle).decode()

    def supports_target(self, target):
        return bool(_capi.runtime().iolite_device_supports_target(
            self.handle, target.encode()))

    @property
    def is_emulator(self):
        return self.backend == "emu"

    def reset_stats(self):
        _check(_capi.runtime().iolite_emu_reset_stats(self.handle),
               "resetting the emulator's statistics")

    def stats(self):
        """Every launch recorded since the last reset, oldest first: dicts
        with kernel, grid, block, shared_bytes and the counters."""
        rt = _capi.runtime()
        count = ctypes.c_size_t()
        _check(rt.iolite_emu_stats_count(self.handle, ctypes.byref(count)),
               "reading the emulator's statistics")
        launches = []
        for i in range(count.value):
            s = _capi.EmuLaunchStats()
            _check(rt.iolite_emu_get_stats(self.handle, i, ctypes.byref(s)),
                   "reading the emulator's statistics")
            entry = {"kernel": s.kernel.decode(), "grid": list(s.grid),
                     "block": list(s.block), "shared_bytes": s.shared_bytes}
            for f in STAT_FIELDS:
                entry[f] = getattr(s, f)
            launches.append(entry)
        return launches

    def close(self):
        """Closes the device; bundles opened on it must be closed first.
        (Devices are not closed when collected: a bundle may still use
        them at interpreter exit.)"""
        if self.handle:
            _capi.runtime().iolite_device_close(self.handle)
            self.handle = ctypes.c_void_p()


_devices = {}


def device(backend):
    """The process's device of `backend`, opened on first use."""
    if backend not in _devices:
        _devices[backend] = Device(backend)
    return _devices[backend]
