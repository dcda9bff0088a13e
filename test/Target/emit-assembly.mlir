// RUN: iolite-compile %s --target=sm_80 --emit=ptx | FileCheck %s --check-prefix=PTX
// RUN: iolite-compile %s --target=sm_90a,gfx90a --emit=amdgcn | FileCheck %s --check-prefix=GCN
// RUN: iolite-compile %s --target=gfx942 --emit=gpu | FileCheck %s --check-prefix=GPU
// RUN: iolite-compile %s --target=sm_90a --emit=llvm | FileCheck %s --check-prefix=LLVM
// RUN: not iolite-compile %s --target=gfx942 --emit=ptx 2>&1 | FileCheck %s --check-prefix=NOPTX

// The matmul's K loop stages tiles through shared memory / LDS with a
// barrier per step.
// PTX: // target: sm_80
// PTX: .target sm_80
// PTX: .visible .entry mm(
// PTX: .shared .align 16 .b8 __dynamic_shmem__0;
// PTX: st.shared.b32
// PTX: bar.sync 0;
// PTX: ld.shared.b32
// PTX: fma.rn.f32
// GCN: ; target: gfx90a
// GCN: .amdgcn_target "amdgcn-amd-amdhsa--gfx90a
// GCN: ds_write
// GCN: s_barrier
// GCN: ds_read
// GCN: v_fma
// GCN-NOT: ; target: sm_90a
// GPU: // target: gfx942
// GPU: gpu.func @mm
// GPU-SAME: iolite.template = "matmul"
// LLVM: // target: sm_90a
// LLVM: llvm.func @mm
// LLVM: nvvm.barrier
// NOPTX: error: --emit=ptx needs a NVIDIA target

func.func @mm(%x: tensor<128x96xf32>, %w: tensor<96x128xf32>) -> tensor<128x128xf32> {
  %h = iolite.kernel "mm" (%x, %w) : (tensor<128x96xf32>, tensor<96x128xf32>) -> tensor<128x128xf32> {
  ^bb0(%a: tensor<128x96xf32>, %b: tensor<96x128xf32>):
    %m = iolite.matmul %a, %b : tensor<128x96xf32>, tensor<96x128xf32>
    iolite.yield %m : tensor<128x128xf32>
  }
  return %h : tensor<128x128xf32>
}
