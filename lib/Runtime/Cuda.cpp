//===- Cuda.cpp - CUDA driver API backend ---------------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Opens libcuda.so.1 (or $IOLITE_CUDA_LIBRARY) with dlopen and drives the
// device through its primary context. Code objects are cubins (or PTX / fat
// binaries: cuModuleLoadData takes all three).
//
//===----------------------------------------------------------------------===//

#include "CudaApi.h"
#include "RuntimeImpl.h"

#include <cstdint>
#include <cstdlib>
#include <dlfcn.h>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

using namespace iolite::runtime;
using namespace iolite::runtime::cuda;

namespace {

/// Spells a function pointer type as a declaration specifier.
template <typename T> using Identity = T;

struct CudaDriver {
#define IOLITE_CUDA_MEMBER(member, symbol, type)                               \
  Identity<type> member = nullptr;
  IOLITE_CUDA_DRIVER_FUNCTIONS(IOLITE_CUDA_MEMBER)
#undef IOLITE_CUDA_MEMBER
  void *library = nullptr;
  /// Set when loading or cuInit failed; every open reports it.
  std::string failure;
};

/// The error's name from the driver, else from our table.
const char *errorName(const CudaDriver &d, CUresult rc) {
  const char *name = nullptr;
  if (d.getErrorName && d.getErrorName(rc, &name) == CUDA_SUCCESS && name)
    return name;
  for (const auto &known : kCudaErrorNames)
    if (known.code == rc)
      return known.name;
  return "CUDA error";
}

/// Loads the driver once per process; later opens reuse the result.
const CudaDriver &driver() {
  static CudaDriver instance;
  static std::once_flag once;
  std::call_once(once, [] {
    CudaDriver &d = instance;
    const char *override = std::getenv("IOLITE_CUDA_LIBRARY");
    const char *name = override && *override ? override : "libcuda.so.1";
    d.library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!d.library) {
      const char *why = dlerror();
      d.failure = std::string("the CUDA backend needs the NVIDIA driver "
                              "library, which could not be loaded: ") +
                  (why ? why : name);
      return;
    }
#define IOLITE_CUDA_RESOLVE(member, symbol, type)                              \
  if (d.failure.empty()) {                                                     \
    d.member = reinterpret_cast<type>(dlsym(d.library, #symbol));              \
    if (!d.member)                                                             \
      d.failure = std::string(name) + " lacks " #symbol +                      \
                  " (driver older than CUDA 12?)";                             \
  }
    IOLITE_CUDA_DRIVER_FUNCTIONS(IOLITE_CUDA_RESOLVE)
#undef IOLITE_CUDA_RESOLVE
    if (!d.failure.empty())
      return;
    CUresult rc = d.init(0);
    if (rc != CUDA_SUCCESS) {
      d.failure = "cuInit failed with " + std::string(errorName(d, rc)) + " (" +
                  std::to_string(rc) + "): no usable NVIDIA GPU or driver";
    }
  });
  return instance;
}

std::string describe(CUresult rc) {
  const CudaDriver &d = driver();
  const char *text = nullptr;
  if (d.getErrorString(rc, &text) != CUDA_SUCCESS || !text)
    text = "";
  return std::string(errorName(d, rc)) + " (" + std::to_string(rc) + ") " +
         text;
}

iolite_status_t check(CUresult rc, const char *what,
                      iolite_status_t status = IOLITE_ERROR_BACKEND) {
  if (rc == CUDA_SUCCESS)
    return IOLITE_SUCCESS;
  if (rc == CUDA_ERROR_OUT_OF_MEMORY)
    status = IOLITE_ERROR_OUT_OF_MEMORY;
  return setError(status, std::string(what) + ": " + describe(rc));
}

CUdeviceptr toDevice(const void *ptr) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(ptr));
}

class CudaDevice;

class CudaKernel final : public iolite_kernel {
public:
  CudaKernel(CudaDevice &device, CUfunction function, std::string name)
      : device(device), function(function), name(std::move(name)) {}
  iolite_status_t launch(const uint32_t grid[3], const uint32_t block[3],
                         uint32_t sharedBytes, iolite_stream_t stream,
                         void **args) override;

private:
  CudaDevice &device;
  CUfunction function;
  std::string name;
  /// Dynamic shared memory this function has been opted in to.
  uint32_t optedInShared = 48 * 1024;
};

class CudaModule final : public iolite_module {
public:
  CudaModule(CudaDevice &device, CUmodule module)
      : device(device), module(module) {}
  ~CudaModule() override;
  iolite_status_t getKernel(const char *name, iolite_kernel_t *out) override;

private:
  CudaDevice &device;
  CUmodule module;
  std::vector<std::unique_ptr<CudaKernel>> kernels;
};

class CudaDevice final : public iolite_device {
public:
  CudaDevice(CUdevice device, CUcontext context, int major, int minor)
      : device(device), context(context), major(major), minor(minor),
        archName("sm_" + std::to_string(major) + std::to_string(minor)) {}
  ~CudaDevice() override { driver().primaryCtxRelease(device); }

  /// Makes the primary context current on the calling thread.
  iolite_status_t activate() {
    return check(driver().ctxSetCurrent(context), "cuCtxSetCurrent");
  }

  const char *backend() const override { return "cuda"; }
  const char *arch() const override { return archName.c_str(); }
  bool supportsTarget(const std::string &target) const override {
    return nvidiaTargetRunsOn(target, major, minor);
  }
  iolite_status_t alloc(size_t bytes, void **ptr) override {
    if (iolite_status_t s = activate())
      return s;
    CUdeviceptr p = 0;
    if (iolite_status_t s = check(driver().memAlloc(&p, bytes), "cuMemAlloc"))
      return s;
    *ptr = reinterpret_cast<void *>(static_cast<uintptr_t>(p));
    return IOLITE_SUCCESS;
  }
  iolite_status_t release(void *ptr) override {
    if (iolite_status_t s = activate())
      return s;
    return check(driver().memFree(toDevice(ptr)), "cuMemFree",
                 IOLITE_ERROR_INVALID_ARGUMENT);
  }
  iolite_status_t copyToDevice(void *dst, const void *src,
                               size_t bytes) override {
    if (iolite_status_t s = activate())
      return s;
    return check(driver().memcpyHtoD(toDevice(dst), src, bytes),
                 "cuMemcpyHtoD");
  }
  iolite_status_t copyToHost(void *dst, const void *src,
                             size_t bytes) override {
    if (iolite_status_t s = activate())
      return s;
    return check(driver().memcpyDtoH(dst, toDevice(src), bytes),
                 "cuMemcpyDtoH");
  }
  iolite_status_t fill(void *dst, int value, size_t bytes) override {
    if (iolite_status_t s = activate())
      return s;
    return check(driver().memsetD8(toDevice(dst),
                                   static_cast<unsigned char>(value), bytes),
                 "cuMemsetD8");
  }
  iolite_status_t loadModule(const void *image, size_t bytes,
                             iolite_module_t *out) override {
    if (iolite_status_t s = activate())
      return s;
    CUmodule module = nullptr;
    if (iolite_status_t s = check(driver().moduleLoadData(&module, image),
                                  "cuModuleLoadData", IOLITE_ERROR_NOT_FOUND))
      return s;
    *out = new CudaModule(*this, module);
    return IOLITE_SUCCESS;
  }
  iolite_status_t synchronize() override {
    if (iolite_status_t s = activate())
      return s;
    return check(driver().ctxSynchronize(), "cuCtxSynchronize",
                 IOLITE_ERROR_LAUNCH_FAILED);
  }

private:
  CUdevice device;
  CUcontext context;
  int major, minor;
  std::string archName;
};

CudaModule::~CudaModule() {
  if (device.activate() == IOLITE_SUCCESS)
    driver().moduleUnload(module);
}

iolite_status_t CudaModule::getKernel(const char *name, iolite_kernel_t *out) {
  if (iolite_status_t s = device.activate())
    return s;
  CUfunction function = nullptr;
  CUresult rc = driver().moduleGetFunction(&function, module, name);
  if (rc != CUDA_SUCCESS)
    return setError(IOLITE_ERROR_NOT_FOUND,
                    "no kernel '" + std::string(name) +
                        "' in the module: " + describe(rc));
  kernels.push_back(std::make_unique<CudaKernel>(device, function, name));
  *out = kernels.back().get();
  return IOLITE_SUCCESS;
}

iolite_status_t CudaKernel::launch(const uint32_t grid[3],
                                   const uint32_t block[3],
                                   uint32_t sharedBytes, iolite_stream_t stream,
                                   void **args) {
  if (iolite_status_t s = device.activate())
    return s;
  // Above 48 KiB a function must opt in to its dynamic shared memory.
  if (sharedBytes > optedInShared) {
    if (iolite_status_t s = check(
            driver().funcSetAttribute(
                function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                static_cast<int>(sharedBytes)),
            ("cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES) for " + name)
                .c_str(),
            IOLITE_ERROR_LAUNCH_FAILED))
      return s;
    optedInShared = sharedBytes;
  }
  CUresult rc = driver().launchKernel(
      function, grid[0], grid[1], grid[2], block[0], block[1], block[2],
      sharedBytes, reinterpret_cast<CUstream>(stream), args, nullptr);
  return check(rc, ("cuLaunchKernel(" + name + ")").c_str(),
               IOLITE_ERROR_LAUNCH_FAILED);
}

} // namespace

iolite_status_t iolite::runtime::openCudaDevice(int ordinal,
                                                iolite_device_t *out) {
  const CudaDriver &d = driver();
  if (!d.failure.empty())
    return setError(IOLITE_ERROR_BACKEND_UNAVAILABLE, d.failure);
  int count = 0;
  if (iolite_status_t s = check(d.deviceGetCount(&count), "cuDeviceGetCount",
                                IOLITE_ERROR_BACKEND_UNAVAILABLE))
    return s;
  if (ordinal >= count)
    return setErrorf(count ? IOLITE_ERROR_NOT_FOUND
                           : IOLITE_ERROR_BACKEND_UNAVAILABLE,
                     "CUDA device %d requested, %d present", ordinal, count);
  CUdevice device = 0;
  if (iolite_status_t s = check(d.deviceGet(&device, ordinal), "cuDeviceGet"))
    return s;
  int major = 0, minor = 0;
  if (iolite_status_t s = check(
          d.deviceGetAttribute(
              &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device),
          "cuDeviceGetAttribute"))
    return s;
  if (iolite_status_t s = check(
          d.deviceGetAttribute(
              &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device),
          "cuDeviceGetAttribute"))
    return s;
  CUcontext context = nullptr;
  if (iolite_status_t s =
          check(d.primaryCtxRetain(&context, device),
                "cuDevicePrimaryCtxRetain", IOLITE_ERROR_BACKEND_UNAVAILABLE))
    return s;
  *out = new CudaDevice(device, context, major, minor);
  return IOLITE_SUCCESS;
}
