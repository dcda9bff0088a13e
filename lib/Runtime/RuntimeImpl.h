//===- RuntimeImpl.h - Backend interface behind the C API -------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The C handles of iolite_runtime.h are these abstract classes; each backend
// (Cuda.cpp, Hip.cpp, Emu.cpp) derives from them. Runtime.cpp validates
// arguments and dispatches. Backends never abort: every failure becomes a
// status and a message through setError().
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_RUNTIME_RUNTIMEIMPL_H
#define IOLITE_LIB_RUNTIME_RUNTIMEIMPL_H

#include "iolite/Runtime/iolite_runtime.h"

#include <memory>
#include <string>

struct iolite_kernel {
  virtual ~iolite_kernel() = default;
  virtual iolite_status_t launch(const uint32_t grid[3],
                                 const uint32_t block[3], uint32_t sharedBytes,
                                 iolite_stream_t stream, void **args) = 0;
};

struct iolite_module {
  virtual ~iolite_module() = default;
  /// Returns a kernel owned by the module, or sets an error.
  virtual iolite_status_t getKernel(const char *name, iolite_kernel_t *out) = 0;
};

struct iolite_device {
  virtual ~iolite_device() = default;
  virtual const char *backend() const = 0;
  virtual const char *arch() const = 0;
  virtual bool supportsTarget(const std::string &target) const = 0;
  virtual iolite_status_t alloc(size_t bytes, void **ptr) = 0;
  virtual iolite_status_t release(void *ptr) = 0;
  virtual iolite_status_t copyToDevice(void *dst, const void *src,
                                       size_t bytes) = 0;
  virtual iolite_status_t copyToHost(void *dst, const void *src,
                                     size_t bytes) = 0;
  virtual iolite_status_t fill(void *dst, int value, size_t bytes) = 0;
  virtual iolite_status_t loadModule(const void *image, size_t bytes,
                                     iolite_module_t *out) = 0;
  virtual iolite_status_t synchronize() = 0;
};

namespace iolite::runtime {

/// Records `message` as this thread's last error and returns `status`.
iolite_status_t setError(iolite_status_t status, std::string message);
/// printf-style setError.
iolite_status_t setErrorf(iolite_status_t status, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/// Backend factories; each returns a status and sets the error on failure.
iolite_status_t openCudaDevice(int ordinal, iolite_device_t *out);
iolite_status_t openHipDevice(int ordinal, iolite_device_t *out);
/// `chip` is empty for a plain "emu" device.
iolite_status_t openEmuDevice(const std::string &chip, iolite_device_t *out);

/// Emulator statistics (Emu.cpp); `device` must be an emu device.
bool isEmuDevice(iolite_device_t device);
size_t emuStatsCount(iolite_device_t device);
bool emuGetStats(iolite_device_t device, size_t index,
                 iolite_emu_launch_stats_t *stats);
void emuResetStats(iolite_device_t device);
/// iolite_emu_name_region on an emu `device`.
iolite_status_t emuNameRegion(iolite_device_t device, const void *ptr,
                              size_t bytes, const char *name);

/// Shared by the NVIDIA backends: does code for `target` ("sm_90a") run on
/// a device of compute capability major.minor?
bool nvidiaTargetRunsOn(const std::string &target, int major, int minor);
/// "gfx942:sramecc+:xnack-" -> "gfx942".
std::string amdBaseArch(const std::string &name);
/// Finds the gfx architecture name ("gfx942") in a hipDeviceProp_t of any
/// ROCm layout, given as raw bytes; "" if there is none.
std::string findGcnArchName(const char *buffer, size_t size);

} // namespace iolite::runtime

#endif // IOLITE_LIB_RUNTIME_RUNTIMEIMPL_H
