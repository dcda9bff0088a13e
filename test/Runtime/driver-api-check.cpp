//===- driver-api-check.cpp - Prove the driver declarations against headers
//===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Compiled (never run) when the vendor headers are installed: every function
// the runtime resolves with dlsym must have, in cuda.h / hip_runtime_api.h,
// the symbol name and an ABI-identical prototype to what lib/Runtime
// declares. Enums count as the integers they are passed as.
//
//===----------------------------------------------------------------------===//

#include <cstddef>
#include <type_traits>

namespace {

template <typename T>
constexpr bool isIntegerLike = std::is_integral_v<T> || std::is_enum_v<T>;

template <typename A, typename B> constexpr bool sameInteger() {
  if constexpr (isIntegerLike<A> && isIntegerLike<B>)
    return sizeof(A) == sizeof(B);
  else
    return false;
}

template <typename A, typename B> struct AbiSame {
  static constexpr bool value = std::is_same_v<A, B> || sameInteger<A, B>();
};
template <typename A, typename B> struct AbiSame<A *, B *> {
  static constexpr bool value =
      std::is_const_v<A> == std::is_const_v<B> &&
      AbiSame<std::remove_cv_t<A>, std::remove_cv_t<B>>::value;
};
template <typename RA, typename... PA, typename RB, typename... PB>
struct AbiSame<RA(PA...), RB(PB...)> {
  static constexpr bool value = sizeof...(PA) == sizeof...(PB) &&
                                AbiSame<RA, RB>::value &&
                                (AbiSame<PA, PB>::value && ...);
};

[[maybe_unused]] constexpr bool equal(const char *a, const char *b) {
  return *a == *b && (*a == '\0' || equal(a + 1, b + 1));
}
#define IOLITE_STR(x) #x
#define IOLITE_XSTR(x) IOLITE_STR(x)

} // namespace

#ifdef IOLITE_CHECK_CUDA
#include "../../lib/Runtime/CudaApi.h"
#include <cuda.h>

#define IOLITE_CHECK_CUDA_FN(member, symbol, type)                             \
  static_assert(AbiSame<decltype(&::symbol), type>::value,                     \
                #symbol " differs from cuda.h");
IOLITE_CUDA_DRIVER_FUNCTIONS(IOLITE_CHECK_CUDA_FN)

// The versioned names are the ones cuda.h's macros select.
static_assert(equal(IOLITE_XSTR(cuMemAlloc), "cuMemAlloc_v2"));
static_assert(equal(IOLITE_XSTR(cuMemFree), "cuMemFree_v2"));
static_assert(equal(IOLITE_XSTR(cuMemcpyHtoD), "cuMemcpyHtoD_v2"));
static_assert(equal(IOLITE_XSTR(cuMemcpyDtoH), "cuMemcpyDtoH_v2"));
static_assert(equal(IOLITE_XSTR(cuMemsetD8), "cuMemsetD8_v2"));
static_assert(equal(IOLITE_XSTR(cuDevicePrimaryCtxRelease),
                    "cuDevicePrimaryCtxRelease_v2"));
static_assert(equal(IOLITE_XSTR(cuLaunchKernel), "cuLaunchKernel"));
static_assert(
    iolite::runtime::cuda::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ==
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
static_assert(
    iolite::runtime::cuda::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ==
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
static_assert(
    iolite::runtime::cuda::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES ==
    CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
static_assert(iolite::runtime::cuda::CUDA_SUCCESS == CUDA_SUCCESS);
static_assert(iolite::runtime::cuda::CUDA_ERROR_OUT_OF_MEMORY ==
              CUDA_ERROR_OUT_OF_MEMORY);
static_assert(iolite::runtime::cuda::kCudaErrorNames[3].code ==
              CUDA_ERROR_STUB_LIBRARY);
static_assert(iolite::runtime::cuda::kCudaErrorNames[4].code ==
              CUDA_ERROR_NO_DEVICE);
#endif

#ifdef IOLITE_CHECK_HIP
#include "../../lib/Runtime/HipApi.h"
// Without the C++ template overloads, so that hipMalloc has one address.
#define __HIP_DISABLE_CPP_FUNCTIONS__
#include <hip/hip_runtime_api.h>

#define IOLITE_CHECK_HIP_FN(member, symbol, type)                              \
  static_assert(AbiSame<decltype(&::symbol), type>::value,                     \
                #symbol " differs from hip_runtime_api.h");
IOLITE_HIP_FUNCTIONS(IOLITE_CHECK_HIP_FN)

static_assert(iolite::runtime::hip::hipSuccess == hipSuccess);
static_assert(iolite::runtime::hip::hipErrorOutOfMemory == hipErrorOutOfMemory);
static_assert(sizeof(hipDeviceProp_t) <
              iolite::runtime::hip::kDevicePropertiesBufferBytes);
#endif
