//===- CudaApi.h - The slice of the CUDA driver API the runtime uses -----===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// libcuda.so.1 is opened at run time, so the build needs no CUDA toolkit.
// These declarations mirror cuda.h (CUDA 12/13); the symbol names are the
// versioned ones cuda.h's macros select (cuMemAlloc -> cuMemAlloc_v2).
// test/Runtime/cuda-api-check.cpp proves each prototype and symbol name
// against cuda.h whenever a toolkit is installed.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_RUNTIME_CUDAAPI_H
#define IOLITE_LIB_RUNTIME_CUDAAPI_H

#include <cstddef>

// Same tags as cuda.h, so handle types are identical when both are seen.
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;

namespace iolite::runtime::cuda {

using CUresult = int; // enum cudaError_enum
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
using CUdevice_attribute = int;   // enum CUdevice_attribute_enum
using CUfunction_attribute = int; // enum CUfunction_attribute_enum

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;

/// Names of the errors the runtime is likely to meet, for when the driver
/// cannot name them itself (a stub library, a broken install).
constexpr struct {
  CUresult code;
  const char *name;
} kCudaErrorNames[] = {
    {1, "CUDA_ERROR_INVALID_VALUE"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY"},
    {3, "CUDA_ERROR_NOT_INITIALIZED"},
    {34, "CUDA_ERROR_STUB_LIBRARY"},
    {100, "CUDA_ERROR_NO_DEVICE"},
    {101, "CUDA_ERROR_INVALID_DEVICE"},
    {200, "CUDA_ERROR_INVALID_IMAGE"},
    {209, "CUDA_ERROR_NO_BINARY_FOR_GPU"},
    {218, "CUDA_ERROR_INVALID_PTX"},
    {500, "CUDA_ERROR_NOT_FOUND"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS"},
    {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"},
    {999, "CUDA_ERROR_UNKNOWN"},
};
constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr CUfunction_attribute CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES =
    8;

/// X(member, symbol, function type) for every driver entry point used;
/// `symbol` is an identifier so that the header check can take its address.
#define IOLITE_CUDA_DRIVER_FUNCTIONS(X)                                        \
  X(init, cuInit, CUresult (*)(unsigned int))                                  \
  X(deviceGetCount, cuDeviceGetCount, CUresult (*)(int *))                     \
  X(deviceGet, cuDeviceGet, CUresult (*)(CUdevice *, int))                     \
  X(deviceGetAttribute, cuDeviceGetAttribute,                                  \
    CUresult (*)(int *, CUdevice_attribute, CUdevice))                         \
  X(deviceGetName, cuDeviceGetName, CUresult (*)(char *, int, CUdevice))       \
  X(primaryCtxRetain, cuDevicePrimaryCtxRetain,                                \
    CUresult (*)(CUcontext *, CUdevice))                                       \
  X(primaryCtxRelease, cuDevicePrimaryCtxRelease_v2, CUresult (*)(CUdevice))   \
  X(ctxSetCurrent, cuCtxSetCurrent, CUresult (*)(CUcontext))                   \
  X(ctxSynchronize, cuCtxSynchronize, CUresult (*)(void))                      \
  X(memAlloc, cuMemAlloc_v2, CUresult (*)(CUdeviceptr *, size_t))              \
  X(memFree, cuMemFree_v2, CUresult (*)(CUdeviceptr))                          \
  X(memcpyHtoD, cuMemcpyHtoD_v2,                                               \
    CUresult (*)(CUdeviceptr, const void *, size_t))                           \
  X(memcpyDtoH, cuMemcpyDtoH_v2, CUresult (*)(void *, CUdeviceptr, size_t))    \
  X(memsetD8, cuMemsetD8_v2, CUresult (*)(CUdeviceptr, unsigned char, size_t)) \
  X(moduleLoadData, cuModuleLoadData, CUresult (*)(CUmodule *, const void *))  \
  X(moduleUnload, cuModuleUnload, CUresult (*)(CUmodule))                      \
  X(moduleGetFunction, cuModuleGetFunction,                                    \
    CUresult (*)(CUfunction *, CUmodule, const char *))                        \
  X(funcSetAttribute, cuFuncSetAttribute,                                      \
    CUresult (*)(CUfunction, CUfunction_attribute, int))                       \
  X(launchKernel, cuLaunchKernel,                                              \
    CUresult (*)(CUfunction, unsigned int, unsigned int, unsigned int,         \
                 unsigned int, unsigned int, unsigned int, unsigned int,       \
                 CUstream, void **, void **))                                  \
  X(getErrorName, cuGetErrorName, CUresult (*)(CUresult, const char **))       \
  X(getErrorString, cuGetErrorString, CUresult (*)(CUresult, const char **))

} // namespace iolite::runtime::cuda

#endif // IOLITE_LIB_RUNTIME_CUDAAPI_H
