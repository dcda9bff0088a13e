// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=sm_90a | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=gfx942 | FileCheck %s --check-prefix=AMD

// An elementwise chain: one thread per element, a 1-D grid covering all.
// CHECK-LABEL: func.func @elementwise
// CHECK-SAME: (%[[X:.*]]: memref<4x100xf32>, %[[OUT:.*]]: memref<4x100xf16>, %[[WS:.*]]: memref<1xi8>)
// CHECK: gpu.launch_func @iolite_kernels::@ew blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in
// CHECK-SAME: args(%[[X]] : memref<4x100xf32>, %[[OUT]] : memref<4x100xf16>)
// CHECK: gpu.module @iolite_kernels
// CHECK: gpu.func @ew(%[[A:.*]]: memref<4x100xf32>, %[[O:.*]]: memref<4x100xf16>) kernel
// CHECK-SAME: iolite.block = array<i64: 256, 1, 1>, iolite.grid = array<i64: 2, 1, 1>
// CHECK-SAME: iolite.template = "elementwise"
// CHECK: gpu.thread_id x
// CHECK: gpu.block_id x
// CHECK: scf.if
// CHECK: %[[V:.*]] = memref.load %[[A]]
// CHECK: math.exp
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: memref.store %{{.*}}, %[[O]]
func.func @elementwise(%x: tensor<4x100xf32>) -> tensor<4x100xf16> {
  %r = iolite.kernel "ew" (%x) : (tensor<4x100xf32>) -> tensor<4x100xf16> {
  ^bb0(%a: tensor<4x100xf32>):
    %e = iolite.exp %a : tensor<4x100xf32>
    %c = iolite.cast %e : tensor<4x100xf32> to tensor<4x100xf16>
    iolite.yield %c : tensor<4x100xf16>
  }
  return %r : tensor<4x100xf16>
}

// -----

// A norm with a fused residual prologue: one row per warp, shuffle-xor
// reductions whose width is the target's warp size.
// CHECK-LABEL: func.func @rmsnorm
// CHECK: gpu.func @norm
// CHECK-SAME: iolite.template = "row_reduction"
// CHECK: scf.for
// CHECK: arith.addf
// CHECK: math.fma
// CHECK: gpu.shuffle xor %{{.*}}, %{{.*}}, %[[W:.*]] : f32
// CHECK: math.rsqrt
// CHECK: scf.for
// CHECK: memref.store
// AMD-LABEL: func.func @rmsnorm
// AMD: iolite.block = array<i64: 256, 1, 1>, iolite.grid = array<i64: 4, 1, 1>
// AMD: %[[W64:.*]] = arith.constant 64 : i32
// AMD: gpu.shuffle xor %{{.*}}, %{{.*}}, %[[W64]] : f32
func.func @rmsnorm(%x: tensor<16x256xf32>, %r: tensor<16x256xf32>, %w: tensor<256xf32>) -> tensor<16x256xf32> {
  %y = iolite.kernel "norm" (%x, %r, %w) : (tensor<16x256xf32>, tensor<16x256xf32>, tensor<256xf32>) -> tensor<16x256xf32> {
  ^bb0(%a: tensor<16x256xf32>, %b: tensor<16x256xf32>, %c: tensor<256xf32>):
    %s = iolite.add %a, %b : tensor<16x256xf32>, tensor<16x256xf32>
    %n = iolite.rms_norm %s weight(%c : tensor<256xf32>) : tensor<16x256xf32>
    iolite.yield %n : tensor<16x256xf32>
  }
  return %y : tensor<16x256xf32>
}

// -----

// A matmul with a SiLU epilogue: A/B tiles staged in shared memory (one
// dynamic allocation), a barrier in the K loop, the register tile carried
// through iter_args.
// CHECK-LABEL: func.func @matmul
// CHECK: gpu.launch_func @iolite_kernels::@mm
// CHECK-SAME: dynamic_shared_memory_size
// CHECK: gpu.func @mm
// CHECK-SAME: iolite.shared_memory_bytes = 24576
// CHECK-SAME: iolite.template = "matmul"
// CHECK-SAME: iolite.tile = "matmul tile 128x64x16, 2 stage(s)"
// CHECK: %[[SMEM:.*]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x16x128xf32, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x16x64xf32, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %{{.*}} : memref<2x16x128xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: memref.load %{{.*}} : memref<2x16x128xf32, #gpu.address_space<workgroup>>
// CHECK: math.fma
// CHECK: gpu.barrier
// CHECK: scf.yield
// CHECK: math.exp
// CHECK: memref.store
// AMD-LABEL: func.func @matmul
// AMD: iolite.tile = "matmul tile 64x64x16, 2 stage(s)"
func.func @matmul(%x: tensor<256x128xf16>, %w: tensor<128x256xf16>) -> tensor<256x256xf16> {
  %y = iolite.kernel "mm" (%x, %w) : (tensor<256x128xf16>, tensor<128x256xf16>) -> tensor<256x256xf16> {
  ^bb0(%a: tensor<256x128xf16>, %b: tensor<128x256xf16>):
    %m = iolite.matmul %a, %b : tensor<256x128xf16>, tensor<128x256xf16>
    %s = iolite.silu %m : tensor<256x256xf16>
    iolite.yield %s : tensor<256x256xf16>
  }
  return %y : tensor<256x256xf16>
}

// -----

// Host side: intermediates live in the workspace at the planned offsets,
// weights become memref.globals, kernels launch in order.
// CHECK-LABEL: memref.global "private" constant @host_constant_0 : memref<8xf32> = dense<
// CHECK-LABEL: func.func @host
// CHECK-SAME: (%[[X:.*]]: memref<8xf32>, %[[OUT:.*]]: memref<8xf32>, %[[WS:.*]]: memref<1056xi8>)
// CHECK-SAME: iolite.workspace_size = 1056
// CHECK: %[[W:.*]] = memref.get_global @host_constant_0
// CHECK: %[[OFF:.*]] = arith.constant 1024 : index
// CHECK: %[[T:.*]] = memref.view %[[WS]][%[[OFF]]][] : memref<1056xi8> to memref<8xf32>
// CHECK: gpu.launch_func @iolite_kernels::@first {{.*}} args(%[[X]] : memref<8xf32>, %[[W]] : memref<8xf32>, %[[T]] : memref<8xf32>)
// CHECK: gpu.launch_func @iolite_kernels::@second {{.*}} args(%[[T]] : memref<8xf32>, %[[OUT]] : memref<8xf32>)
func.func @host(%x: tensor<8xf32>) -> tensor<8xf32> {
  %w = iolite.constant dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]> : tensor<8xf32>
  %t = iolite.kernel "first" (%x, %w) {result_offsets = array<i64: 1024>} : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32> {
  ^bb0(%a: tensor<8xf32>, %b: tensor<8xf32>):
    %s = iolite.mul %a, %b : tensor<8xf32>, tensor<8xf32>
    iolite.yield %s : tensor<8xf32>
  }
  %y = iolite.kernel "second" (%t) {result_offsets = array<i64: -1>} : (tensor<8xf32>) -> tensor<8xf32> {
  ^bb0(%a: tensor<8xf32>):
    %s = iolite.tanh %a : tensor<8xf32>
    iolite.yield %s : tensor<8xf32>
  }
  return %y : tensor<8xf32>
}

// -----

// A non-splat constant inside a kernel becomes a kernel argument.
// CHECK-LABEL: func.func @inner_constant
// CHECK: %[[G:.*]] = memref.get_global @inner_constant_constant_0 : memref<4xf32>
// CHECK: gpu.launch_func @iolite_kernels::@k {{.*}} args(%{{.*}} : memref<4xf32>, %[[G]] : memref<4xf32>, %{{.*}} : memref<4xf32>)
func.func @inner_constant(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = iolite.kernel "k" (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %c = iolite.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
    %s = iolite.add %a, %c : tensor<4xf32>, tensor<4xf32>
    iolite.yield %s : tensor<4xf32>
  }
  return %y : tensor<4xf32>
}

// -----

// Kernels rooted at ops without a template (here attention) use the
// elemental fallback: one thread per output element with loops.
// CHECK-LABEL: func.func @fallback
// CHECK: gpu.func @attn
// CHECK-SAME: iolite.template = "elemental"
// CHECK: scf.for {{.*}} iter_args
// CHECK: scf.for {{.*}} iter_args
// CHECK: math.fma
// CHECK: math.exp
func.func @fallback(%q: tensor<1x2x4x8xf32>, %k: tensor<1x1x4x8xf32>, %v: tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %o = iolite.kernel "attn" (%q, %k, %v) : (tensor<1x2x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32> {
  ^bb0(%a: tensor<1x2x4x8xf32>, %b: tensor<1x1x4x8xf32>, %c: tensor<1x1x4x8xf32>):
    %r = iolite.attention %a, %b, %c {causal} : tensor<1x2x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>
    iolite.yield %r : tensor<1x2x4x8xf32>
  }
  return %o : tensor<1x2x4x8xf32>
}
