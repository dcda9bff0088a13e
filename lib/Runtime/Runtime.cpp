//===- Runtime.cpp - The C API: argument checks and dispatch --------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Every entry point validates its arguments, then calls the backend. No C++
// exception leaves the library: allocation failures become
// IOLITE_ERROR_OUT_OF_MEMORY.
//
//===----------------------------------------------------------------------===//

#include "RuntimeImpl.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

using namespace iolite::runtime;

namespace {
thread_local std::string lastError;

/// Runs `body`, turning escaping exceptions into statuses.
template <typename Fn> iolite_status_t guarded(Fn &&body) {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return setError(IOLITE_ERROR_OUT_OF_MEMORY, "out of host memory");
  } catch (...) {
    return setError(IOLITE_ERROR_BACKEND, "unexpected internal error");
  }
}
} // namespace

iolite_status_t iolite::runtime::setError(iolite_status_t status,
                                          std::string message) {
  try {
    lastError = std::move(message);
  } catch (...) {
    // Keep the status even when the message cannot be stored.
  }
  return status;
}

iolite_status_t iolite::runtime::setErrorf(iolite_status_t status,
                                           const char *format, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  return setError(status, buffer);
}

bool iolite::runtime::nvidiaTargetRunsOn(const std::string &target, int major,
                                         int minor) {
  // sm_XY or sm_XYa / sm_XYf: the last digit is the minor version.
  if (target.rfind("sm_", 0) != 0)
    return false;
  std::string digits;
  size_t i = 3;
  while (i < target.size() && target[i] >= '0' && target[i] <= '9')
    digits += target[i++];
  std::string suffix = target.substr(i);
  if (digits.size() < 2 || (suffix != "" && suffix != "a" && suffix != "f"))
    return false;
  int tMajor = std::stoi(digits.substr(0, digits.size() - 1));
  int tMinor = digits.back() - '0';
  if (tMajor != major)
    return false;
  // Architecture-specific code ("a") runs only on that exact chip; plain
  // and family ("f") code runs on later minor versions of the same major.
  return suffix == "a" ? tMinor == minor : tMinor <= minor;
}

std::string iolite::runtime::amdBaseArch(const std::string &name) {
  return name.substr(0, name.find(':'));
}

extern "C" {

const char *iolite_last_error(void) { return lastError.c_str(); }

iolite_status_t iolite_set_error(iolite_status_t status, const char *message) {
  return setError(status, message ? message : "");
}

iolite_status_t iolite_device_open(const char *backend, int ordinal,
                                   iolite_device_t *device) {
  if (!backend || !device)
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_device_open: null backend or device pointer");
  *device = nullptr;
  return guarded([&] {
    std::string name = backend;
    if (ordinal < 0)
      return setErrorf(IOLITE_ERROR_INVALID_ARGUMENT,
                       "iolite_device_open: negative device ordinal %d",
                       ordinal);
    if (name == "cuda")
      return openCudaDevice(ordinal, device);
    if (name == "hip")
      return openHipDevice(ordinal, device);
    if (name == "emu" || name.rfind("emu-", 0) == 0) {
      if (ordinal != 0)
        return setErrorf(IOLITE_ERROR_NOT_FOUND,
                         "the emulator has one device (ordinal 0), not %d",
                         ordinal);
      return openEmuDevice(name == "emu" ? "" : name.substr(4), device);
    }
    return setErrorf(IOLITE_ERROR_INVALID_ARGUMENT,
                     "unknown backend '%s' (expected cuda, hip, emu or "
                     "emu-CHIP)",
                     backend);
  });
}

void iolite_device_close(iolite_device_t device) { delete device; }

const char *iolite_device_backend(iolite_device_t device) {
  return device ? device->backend() : "";
}

const char *iolite_device_arch(iolite_device_t device) {
  return device ? device->arch() : "";
}

int iolite_device_supports_target(iolite_device_t device, const char *target) {
  if (!device || !target)
    return 0;
  try {
    return device->supportsTarget(target) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

iolite_status_t iolite_malloc(iolite_device_t device, size_t bytes,
                              void **device_ptr) {
  if (!device || !device_ptr)
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_malloc: null device or result pointer");
  *device_ptr = nullptr;
  if (bytes == 0)
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_malloc: zero-byte allocation");
  return guarded([&] { return device->alloc(bytes, device_ptr); });
}

iolite_status_t iolite_free(iolite_device_t device, void *device_ptr) {
  if (!device)
    return setError(IOLITE_ERROR_INVALID_ARGUMENT, "iolite_free: null device");
  if (!device_ptr)
    return IOLITE_SUCCESS;
  return guarded([&] { return device->release(device_ptr); });
}

iolite_status_t iolite_memcpy_h2d(iolite_device_t device, void *dst,
                                  const void *src, size_t bytes) {
  if (!device || ((!dst || !src) && bytes))
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_memcpy_h2d: null device or pointer");
  if (bytes == 0)
    return IOLITE_SUCCESS;
  return guarded([&] { return device->copyToDevice(dst, src, bytes); });
}

iolite_status_t iolite_memcpy_d2h(iolite_device_t device, void *dst,
                                  const void *src, size_t bytes) {
  if (!device || ((!dst || !src) && bytes))
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_memcpy_d2h: null device or pointer");
  if (bytes == 0)
    return IOLITE_SUCCESS;
  return guarded([&] { return device->copyToHost(dst, src, bytes); });
}

iolite_status_t iolite_memset(iolite_device_t device, void *dst, int value,
                              size_t bytes) {
  if (!device || (!dst && bytes))
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_memset: null device or pointer");
  if (bytes == 0)
    return IOLITE_SUCCESS;
  return guarded([&] { return device->fill(dst, value, bytes); });
}

iolite_status_t iolite_module_load(iolite_device_t device, const void *image,
                                   size_t bytes, iolite_module_t *module) {
  if (!device || !image || !module)
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_module_load: null device, image or result");
  *module = nullptr;
  if (bytes == 0)
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_module_load: empty image");
  return guarded([&] { return device->loadModule(image, bytes, module); });
}

iolite_status_t iolite_module_load_file(iolite_device_t device,
                                        const char *path,
                                        iolite_module_t *module) {
  if (!device || !path || !module)
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_module_load_file: null device, path or result");
  *module = nullptr;
  return guarded([&] {
    FILE *file = std::fopen(path, "rb");
    if (!file)
      return setErrorf(IOLITE_ERROR_NOT_FOUND, "cannot open '%s': %s", path,
                       std::strerror(errno));
    std::vector<char> bytes;
    char chunk[1 << 16];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof(chunk), file)) > 0)
      bytes.insert(bytes.end(), chunk, chunk + n);
    bool failed = std::ferror(file);
    std::fclose(file);
    if (failed)
      return setErrorf(IOLITE_ERROR_NOT_FOUND, "cannot read '%s'", path);
    if (bytes.empty())
      return setErrorf(IOLITE_ERROR_INVALID_ARGUMENT, "'%s' is empty", path);
    return device->loadModule(bytes.data(), bytes.size(), module);
  });
}

void iolite_module_unload(iolite_module_t module) { delete module; }

iolite_status_t iolite_module_get_kernel(iolite_module_t module,
                                         const char *name,
                                         iolite_kernel_t *kernel) {
  if (!module || !name || !kernel)
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_module_get_kernel: null module, name or result");
  *kernel = nullptr;
  return guarded([&] { return module->getKernel(name, kernel); });
}

iolite_status_t iolite_launch(iolite_kernel_t kernel, const uint32_t grid[3],
                              const uint32_t block[3], uint32_t shared_bytes,
                              iolite_stream_t stream, void **args) {
  if (!kernel || !grid || !block)
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_launch: null kernel, grid or block");
  for (int i = 0; i < 3; ++i)
    if (grid[i] == 0 || block[i] == 0)
      return setErrorf(IOLITE_ERROR_INVALID_ARGUMENT,
                       "iolite_launch: empty launch grid (%u,%u,%u) block "
                       "(%u,%u,%u)",
                       grid[0], grid[1], grid[2], block[0], block[1], block[2]);
  return guarded(
      [&] { return kernel->launch(grid, block, shared_bytes, stream, args); });
}

iolite_status_t iolite_synchronize(iolite_device_t device) {
  if (!device)
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_synchronize: null device");
  return guarded([&] { return device->synchronize(); });
}

iolite_status_t iolite_emu_stats_count(iolite_device_t device, size_t *count) {
  if (!device || !count || !isEmuDevice(device))
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_emu_stats_count: not an emu device");
  *count = emuStatsCount(device);
  return IOLITE_SUCCESS;
}

iolite_status_t iolite_emu_get_stats(iolite_device_t device, size_t index,
                                     iolite_emu_launch_stats_t *stats) {
  if (!device || !stats || !isEmuDevice(device))
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_emu_get_stats: not an emu device");
  if (!emuGetStats(device, index, stats))
    return setErrorf(IOLITE_ERROR_NOT_FOUND,
                     "iolite_emu_get_stats: no launch %zu recorded", index);
  return IOLITE_SUCCESS;
}

iolite_status_t iolite_emu_reset_stats(iolite_device_t device) {
  if (!device || !isEmuDevice(device))
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_emu_reset_stats: not an emu device");
  emuResetStats(device);
  return IOLITE_SUCCESS;
}

iolite_status_t iolite_emu_name_region(iolite_device_t device, const void *ptr,
                                       size_t bytes, const char *name) {
  if (!device || !ptr || !name || !isEmuDevice(device))
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "iolite_emu_name_region: not an emu device, or a null "
                    "pointer or name");
  return emuNameRegion(device, ptr, bytes, name);
}

} // extern "C"
