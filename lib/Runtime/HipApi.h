//===- HipApi.h - The slice of the HIP module API the runtime uses -------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// libamdhip64.so is opened at run time. These declarations mirror
// hip/hip_runtime_api.h (ROCm 5 and 6 agree on all of them);
// test/Runtime/hip-api-check.cpp proves them against the installed header.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_RUNTIME_HIPAPI_H
#define IOLITE_LIB_RUNTIME_HIPAPI_H

#include <cstddef>

// Same tags as hip_runtime_api.h.
struct ihipStream_t;
struct ihipModule_t;
struct ihipModuleSymbol_t;

namespace iolite::runtime::hip {

using hipError_t = int; // enum hipError_t
using hipDeviceptr_t = void *;
using hipModule_t = ihipModule_t *;
using hipFunction_t = ihipModuleSymbol_t *;
using hipStream_t = ihipStream_t *;

constexpr hipError_t hipSuccess = 0;
constexpr hipError_t hipErrorOutOfMemory = 2;

/// X(member, symbol, function type) for every entry point used; `symbol`
/// is an identifier so that the header check can take its address.
#define IOLITE_HIP_FUNCTIONS(X)                                                \
  X(init, hipInit, hipError_t (*)(unsigned int))                               \
  X(getDeviceCount, hipGetDeviceCount, hipError_t (*)(int *))                  \
  X(setDevice, hipSetDevice, hipError_t (*)(int))                              \
  X(malloc, hipMalloc, hipError_t (*)(void **, size_t))                        \
  X(free, hipFree, hipError_t (*)(void *))                                     \
  X(memcpyHtoD, hipMemcpyHtoD, hipError_t (*)(hipDeviceptr_t, void *, size_t)) \
  X(memcpyDtoH, hipMemcpyDtoH, hipError_t (*)(void *, hipDeviceptr_t, size_t)) \
  X(memset, hipMemset, hipError_t (*)(void *, int, size_t))                    \
  X(moduleLoadData, hipModuleLoadData,                                         \
    hipError_t (*)(hipModule_t *, const void *))                               \
  X(moduleUnload, hipModuleUnload, hipError_t (*)(hipModule_t))                \
  X(moduleGetFunction, hipModuleGetFunction,                                   \
    hipError_t (*)(hipFunction_t *, hipModule_t, const char *))                \
  X(moduleLaunchKernel, hipModuleLaunchKernel,                                 \
    hipError_t (*)(hipFunction_t, unsigned int, unsigned int, unsigned int,    \
                   unsigned int, unsigned int, unsigned int, unsigned int,     \
                   hipStream_t, void **, void **))                             \
  X(deviceSynchronize, hipDeviceSynchronize, hipError_t (*)(void))             \
  X(getErrorName, hipGetErrorName, const char *(*)(hipError_t))                \
  X(getErrorString, hipGetErrorString, const char *(*)(hipError_t))

/// hipDeviceProp_t changed layout in ROCm 6 (hipGetDevicePropertiesR0600);
/// the runtime only reads gcnArchName from it, without the struct type:
/// it tries these symbols in order with an oversized buffer.
constexpr const char *kGetDevicePropertiesSymbols[] = {
    "hipGetDevicePropertiesR0600", "hipGetDevicePropertiesR0000",
    "hipGetDeviceProperties"};
using GetDevicePropertiesFn = hipError_t (*)(void *, int);
/// No ROCm's hipDeviceProp_t reaches this size.
constexpr size_t kDevicePropertiesBufferBytes = 16384;

} // namespace iolite::runtime::hip

#endif // IOLITE_LIB_RUNTIME_HIPAPI_H
