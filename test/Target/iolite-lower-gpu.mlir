// RUN: iolite-opt %s --iolite-kernel-to-gpu=target=sm_90a --iolite-lower-gpu=target=sm_90a | FileCheck %s --check-prefix=NV
// RUN: iolite-opt %s --iolite-kernel-to-gpu=target=gfx942 --iolite-lower-gpu=target=gfx942 | FileCheck %s --check-prefix=AMD

// The generated kernels lower to NVVM / ROCDL with the chip's target
// attribute, bare pointers for memrefs and the block size known to LLVM.
// NV-LABEL: gpu.module @iolite_kernels [#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80"
// NV: llvm.func @smax(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr) attributes {{{.*}}gpu.kernel{{.*}}nvvm.kernel, nvvm.maxntid = array<i32: 256, 1, 1>
// NV: nvvm.shfl.sync bfly
// NV: llvm.call @__nv_expf
// AMD-LABEL: gpu.module @iolite_kernels [#rocdl.target<O = 3, chip = "gfx942"
// AMD: llvm.func @smax(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr) attributes {{{.*}}rocdl.kernel
// AMD: rocdl.ds_bpermute
func.func @lower(%x: tensor<64x128xf32>) -> tensor<64x128xf32> {
  %y = iolite.kernel "smax" (%x) : (tensor<64x128xf32>) -> tensor<64x128xf32> {
  ^bb0(%a: tensor<64x128xf32>):
    %s = iolite.softmax %a : tensor<64x128xf32>
    iolite.yield %s : tensor<64x128xf32>
  }
  return %y : tensor<64x128xf32>
}
