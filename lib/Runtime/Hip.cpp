//===- Hip.cpp - HIP module API backend -----------------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Opens libamdhip64.so (or $IOLITE_HIP_LIBRARY) with dlopen. Code objects
// are HSACOs, loaded with hipModuleLoadData and launched with
// hipModuleLaunchKernel.
//
//===----------------------------------------------------------------------===//

#include "HipApi.h"
#include "RuntimeImpl.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

using namespace iolite::runtime;
using namespace iolite::runtime::hip;

std::string iolite::runtime::findGcnArchName(const char *buffer, size_t size) {
  // A NUL-preceded "gfx" followed by lower-case hex digits/letters and then
  // NUL or ':' (feature suffixes such as ":sramecc+:xnack-").
  for (size_t i = 0; i + 3 < size; ++i) {
    if ((i != 0 && buffer[i - 1] != '\0') ||
        std::strncmp(buffer + i, "gfx", 3) != 0)
      continue;
    size_t end = i + 3;
    while (end < size && ((buffer[end] >= '0' && buffer[end] <= '9') ||
                          (buffer[end] >= 'a' && buffer[end] <= 'z')))
      ++end;
    if (end > i + 3 && end < size &&
        (buffer[end] == '\0' || buffer[end] == ':'))
      return std::string(buffer + i, end - i);
  }
  return "";
}

namespace {

/// Spells a function pointer type as a declaration specifier.
template <typename T> using Identity = T;

struct HipRuntime {
#define IOLITE_HIP_MEMBER(member, symbol, type) Identity<type> member = nullptr;
  IOLITE_HIP_FUNCTIONS(IOLITE_HIP_MEMBER)
#undef IOLITE_HIP_MEMBER
  GetDevicePropertiesFn getDeviceProperties = nullptr;
  void *library = nullptr;
  std::string failure;
};

const HipRuntime &hipLibrary() {
  static HipRuntime instance;
  static std::once_flag once;
  std::call_once(once, [] {
    HipRuntime &r = instance;
    const char *override = std::getenv("IOLITE_HIP_LIBRARY");
    std::vector<std::string> names;
    if (override && *override)
      names.push_back(override);
    else
      names = {"libamdhip64.so", "libamdhip64.so.6", "libamdhip64.so.5"};
    std::string why;
    std::string name;
    for (const std::string &candidate : names) {
      r.library = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (r.library) {
        name = candidate;
        break;
      }
      const char *error = dlerror();
      why = error ? error : candidate;
    }
    if (!r.library) {
      r.failure = "the HIP backend needs the ROCm HIP runtime library, which "
                  "could not be loaded: " +
                  why;
      return;
    }
#define IOLITE_HIP_RESOLVE(member, symbol, type)                               \
  if (r.failure.empty()) {                                                     \
    r.member = reinterpret_cast<type>(dlsym(r.library, #symbol));              \
    if (!r.member)                                                             \
      r.failure = name + " lacks " #symbol;                                    \
  }
    IOLITE_HIP_FUNCTIONS(IOLITE_HIP_RESOLVE)
#undef IOLITE_HIP_RESOLVE
    for (const char *symbol : kGetDevicePropertiesSymbols)
      if (!r.getDeviceProperties)
        r.getDeviceProperties =
            reinterpret_cast<GetDevicePropertiesFn>(dlsym(r.library, symbol));
    if (r.failure.empty() && !r.getDeviceProperties)
      r.failure = name + " lacks hipGetDeviceProperties";
    if (!r.failure.empty())
      return;
    hipError_t rc = r.init(0);
    if (rc != hipSuccess) {
      const char *ename = r.getErrorName(rc);
      r.failure = "hipInit failed with " +
                  std::string(ename ? ename : "unknown error") + " (" +
                  std::to_string(rc) + "): no usable AMD GPU or driver";
    }
  });
  return instance;
}

std::string describe(hipError_t rc) {
  const HipRuntime &r = hipLibrary();
  const char *name = r.getErrorName(rc);
  const char *text = r.getErrorString(rc);
  return std::string(name ? name : "HIP error") + " (" + std::to_string(rc) +
         ") " + (text ? text : "");
}

iolite_status_t check(hipError_t rc, const std::string &what,
                      iolite_status_t status = IOLITE_ERROR_BACKEND) {
  if (rc == hipSuccess)
    return IOLITE_SUCCESS;
  if (rc == hipErrorOutOfMemory)
    status = IOLITE_ERROR_OUT_OF_MEMORY;
  return setError(status, what + ": " + describe(rc));
}

class HipDevice;

class HipKernel final : public iolite_kernel {
public:
  HipKernel(HipDevice &device, hipFunction_t function, std::string name)
      : device(device), function(function), name(std::move(name)) {}
  iolite_status_t launch(const uint32_t grid[3], const uint32_t block[3],
                         uint32_t sharedBytes, iolite_stream_t stream,
                         void **args) override;

private:
  HipDevice &device;
  hipFunction_t function;
  std::string name;
};

class HipModule final : public iolite_module {
public:
  HipModule(HipDevice &device, hipModule_t module)
      : device(device), module(module) {}
  ~HipModule() override;
  iolite_status_t getKernel(const char *name, iolite_kernel_t *out) override;

private:
  HipDevice &device;
  hipModule_t module;
  std::vector<std::unique_ptr<HipKernel>> kernels;
};

class HipDevice final : public iolite_device {
public:
  HipDevice(int ordinal, std::string archName)
      : ordinal(ordinal), archName(std::move(archName)) {}

  /// HIP keeps a current device per host thread.
  iolite_status_t activate() {
    return check(hipLibrary().setDevice(ordinal), "hipSetDevice");
  }

  const char *backend() const override { return "hip"; }
  const char *arch() const override { return archName.c_str(); }
  bool supportsTarget(const std::string &target) const override {
    return amdBaseArch(target) == archName;
  }
  iolite_status_t alloc(size_t bytes, void **ptr) override {
    if (iolite_status_t s = activate())
      return s;
    return check(hipLibrary().malloc(ptr, bytes), "hipMalloc");
  }
  iolite_status_t release(void *ptr) override {
    if (iolite_status_t s = activate())
      return s;
    return check(hipLibrary().free(ptr), "hipFree",
                 IOLITE_ERROR_INVALID_ARGUMENT);
  }
  iolite_status_t copyToDevice(void *dst, const void *src,
                               size_t bytes) override {
    if (iolite_status_t s = activate())
      return s;
    // hipMemcpyHtoD takes a non-const source; it does not write to it.
    return check(hipLibrary().memcpyHtoD(dst, const_cast<void *>(src), bytes),
                 "hipMemcpyHtoD");
  }
  iolite_status_t copyToHost(void *dst, const void *src,
                             size_t bytes) override {
    if (iolite_status_t s = activate())
      return s;
    return check(hipLibrary().memcpyDtoH(dst, const_cast<void *>(src), bytes),
                 "hipMemcpyDtoH");
  }
  iolite_status_t fill(void *dst, int value, size_t bytes) override {
    if (iolite_status_t s = activate())
      return s;
    return check(hipLibrary().memset(dst, value, bytes), "hipMemset");
  }
  iolite_status_t loadModule(const void *image, size_t bytes,
                             iolite_module_t *out) override {
    if (iolite_status_t s = activate())
      return s;
    hipModule_t module = nullptr;
    if (iolite_status_t s = check(hipLibrary().moduleLoadData(&module, image),
                                  "hipModuleLoadData", IOLITE_ERROR_NOT_FOUND))
      return s;
    *out = new HipModule(*this, module);
    return IOLITE_SUCCESS;
  }
  iolite_status_t synchronize() override {
    if (iolite_status_t s = activate())
      return s;
    return check(hipLibrary().deviceSynchronize(), "hipDeviceSynchronize",
                 IOLITE_ERROR_LAUNCH_FAILED);
  }

private:
  int ordinal;
  std::string archName;
};

HipModule::~HipModule() {
  if (device.activate() == IOLITE_SUCCESS)
    hipLibrary().moduleUnload(module);
}

iolite_status_t HipModule::getKernel(const char *name, iolite_kernel_t *out) {
  if (iolite_status_t s = device.activate())
    return s;
  hipFunction_t function = nullptr;
  hipError_t rc = hipLibrary().moduleGetFunction(&function, module, name);
  if (rc != hipSuccess)
    return setError(IOLITE_ERROR_NOT_FOUND,
                    "no kernel '" + std::string(name) +
                        "' in the module: " + describe(rc));
  kernels.push_back(std::make_unique<HipKernel>(device, function, name));
  *out = kernels.back().get();
  return IOLITE_SUCCESS;
}

iolite_status_t HipKernel::launch(const uint32_t grid[3],
                                  const uint32_t block[3], uint32_t sharedBytes,
                                  iolite_stream_t stream, void **args) {
  if (iolite_status_t s = device.activate())
    return s;
  hipError_t rc = hipLibrary().moduleLaunchKernel(
      function, grid[0], grid[1], grid[2], block[0], block[1], block[2],
      sharedBytes, reinterpret_cast<hipStream_t>(stream), args, nullptr);
  return check(rc, "hipModuleLaunchKernel(" + name + ")",
               IOLITE_ERROR_LAUNCH_FAILED);
}

} // namespace

iolite_status_t iolite::runtime::openHipDevice(int ordinal,
                                               iolite_device_t *out) {
  const HipRuntime &r = hipLibrary();
  if (!r.failure.empty())
    return setError(IOLITE_ERROR_BACKEND_UNAVAILABLE, r.failure);
  int count = 0;
  if (iolite_status_t s = check(r.getDeviceCount(&count), "hipGetDeviceCount",
                                IOLITE_ERROR_BACKEND_UNAVAILABLE))
    return s;
  if (ordinal >= count)
    return setErrorf(count ? IOLITE_ERROR_NOT_FOUND
                           : IOLITE_ERROR_BACKEND_UNAVAILABLE,
                     "HIP device %d requested, %d present", ordinal, count);
  std::vector<char> properties(kDevicePropertiesBufferBytes, '\0');
  if (iolite_status_t s =
          check(r.getDeviceProperties(properties.data(), ordinal),
                "hipGetDeviceProperties"))
    return s;
  std::string arch = findGcnArchName(properties.data(), properties.size());
  if (arch.empty())
    return setErrorf(IOLITE_ERROR_BACKEND,
                     "HIP device %d reports no gfx architecture name", ordinal);
  *out = new HipDevice(ordinal, arch);
  return IOLITE_SUCCESS;
}
