// The CUDA backend against the toolkit's stub driver: every driver symbol
// the runtime declares must resolve (or the error would name the missing
// one), and cuInit's failure must become a clean BACKEND_UNAVAILABLE.

// REQUIRES: cuda-driver-stub
// RUN: env IOLITE_CUDA_LIBRARY=%cuda_driver_stub runtime-api-test unavailable cuda | FileCheck %s
// CHECK: cuda: BACKEND_UNAVAILABLE: cuInit failed with CUDA_ERROR_STUB_LIBRARY (34): no usable NVIDIA GPU or driver
