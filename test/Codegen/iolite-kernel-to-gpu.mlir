// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=sm_90a | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=gfx942 | FileCheck %s --check-prefix=AMD

// An elementwise chain: each thread takes a run of 4 elements (16 bytes of
// the f32 input: one vector load; one vector store of 4 halves), a 1-D grid
// covering the 100 runs.
// CHECK-LABEL: func.func @elementwise
// CHECK-SAME: (%[[X:.*]]: memref<4x100xf32>, %[[OUT:.*]]: memref<4x100xf16>, %[[WS:.*]]: memref<1xi8>)
// CHECK: gpu.launch_func @iolite_kernels::@ew blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in
// CHECK-SAME: args(%[[X]] : memref<4x100xf32>, %[[OUT]] : memref<4x100xf16>)
// CHECK: gpu.module @iolite_kernels
// CHECK: gpu.func @ew(%[[A:.*]]: memref<4x100xf32>, %[[O:.*]]: memref<4x100xf16>) kernel
// CHECK-SAME: iolite.block = array<i64: 128, 1, 1>, iolite.grid = array<i64: 1, 1, 1>
// CHECK-SAME: iolite.template = "elementwise"
// CHECK: gpu.thread_id x
// CHECK: gpu.block_id x
// CHECK: scf.if
// CHECK: %[[FLAT:.*]] = memref.collapse_shape %[[A]] {{\[\[}}0, 1]] : memref<4x100xf32> into memref<400xf32>
// CHECK: vector.load %[[FLAT]][%{{.*}}] {alignment = 16 : i64} : memref<400xf32>, vector<4xf32>
// CHECK-COUNT-4: math.exp
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: %[[VEC:.*]] = vector.from_elements {{.*}} : vector<4xf16>
// CHECK: %[[OFLAT:.*]] = memref.collapse_shape %[[O]]
// CHECK: vector.store %[[VEC]], %[[OFLAT]][%{{.*}}] {alignment = 8 : i64} : memref<400xf16>, vector<4xf16>
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
// reductions whose width is the target's warp size; lanes read 4-wide runs.
// CHECK-LABEL: func.func @rmsnorm
// CHECK: gpu.func @norm
// CHECK-SAME: iolite.template = "row_reduction"
// CHECK-SAME: iolite.tile = "8 rows per block, 1 row per warp of 32, 4-wide runs"
// CHECK: scf.for
// CHECK: vector.load {{.*}} : memref<4096xf32>, vector<4xf32>
// CHECK: vector.load {{.*}} : memref<4096xf32>, vector<4xf32>
// CHECK: arith.addf
// CHECK: math.fma
// CHECK: gpu.shuffle xor %{{.*}}, %{{.*}}, %[[W:.*]] : f32
// CHECK: math.rsqrt
// CHECK: scf.for
// CHECK: vector.store {{.*}} : memref<4096xf32>, vector<4xf32>
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

// An f32 matmul with a SiLU epilogue stays exact on the FMA units: A/B
// tiles staged in shared memory (one dynamic allocation), a barrier in the
// K loop, the register tile carried through iter_args.
// CHECK-LABEL: func.func @matmul
// CHECK: gpu.launch_func @iolite_kernels::@mm
// CHECK-SAME: dynamic_shared_memory_size
// CHECK: gpu.func @mm
// CHECK-SAME: iolite.matrix = "fma"
// CHECK-SAME: iolite.matrix_reason = "f32 operands stay exact f32 on the FMA units (--allow-tf32 puts them on TF32 matrix units)"
// CHECK-SAME: iolite.shared_memory_bytes = 24576
// CHECK-SAME: iolite.template = "matmul"
// CHECK-SAME: iolite.tile = "matmul tile 128x64x16, 2 stage(s)"
// CHECK: %[[SMEM:.*]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x16x128xf32, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x16x64xf32, #gpu.address_space<workgroup>>
// Tile loads are 4-wide runs of f32 (16-byte vector loads).
// CHECK: vector.load {{.*}} {alignment = 16 : i64} : memref<32768xf32>, vector<4xf32>
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
// CHECK-NOT: iolite_gpu
// AMD-LABEL: func.func @matmul
// AMD: iolite.matrix = "fma"
// AMD: iolite.tile = "matmul tile 64x64x16, 2 stage(s)"
func.func @matmul(%x: tensor<256x128xf32>, %w: tensor<128x256xf32>) -> tensor<256x256xf32> {
  %y = iolite.kernel "mm" (%x, %w) : (tensor<256x128xf32>, tensor<128x256xf32>) -> tensor<256x256xf32> {
  ^bb0(%a: tensor<256x128xf32>, %b: tensor<128x256xf32>):
    %m = iolite.matmul %a, %b : tensor<256x128xf32>, tensor<128x256xf32>
    %s = iolite.silu %m : tensor<256x256xf32>
    iolite.yield %s : tensor<256x256xf32>
  }
  return %y : tensor<256x256xf32>
}

// -----

// The same in f16 runs on the matrix units: A [m][k] and B [k][n] tiles in
// f16, swizzled; on sm_90a they move with 16-byte cp.async copies (tile 0
// before the loop; tile k+1 issued before tile k's products and waited for
// after them), on gfx942 through registers with 16-byte vector stores; each
// of the 2x4 warps (sm_90a) or 2x2 waves (gfx942) loads fragments with
// iolite_gpu.mma_load and keeps its accumulator fragments in the K loop's
// iter_args; the SiLU epilogue runs on every accumulator element.
// CHECK-LABEL: func.func @matmul_f16
// CHECK: gpu.func @mm
// CHECK-SAME: iolite.matrix = "nv_m16n8k16_f16"
// CHECK-SAME: iolite.matrix_reason = "f16 operands on mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
// CHECK-SAME: iolite.shared_memory_bytes = 32768
// CHECK-SAME: iolite.tile = "matmul tile 128x128x32, 2 stage(s), 2x4 warps of 4x4 nv_m16n8k16_f16, cp.async"
// CHECK-DAG: %[[A:.*]] = memref.view %{{.*}} to memref<256x32xf16, #gpu.address_space<workgroup>>
// CHECK-DAG: %[[B:.*]] = memref.view %{{.*}} to memref<64x128xf16, #gpu.address_space<workgroup>>
// CHECK-COUNT-2: nvgpu.device_async_copy %{{.*}}[%{{.*}}, %{{.*}}], %[[A]][%{{.*}}, %{{.*}}], 8 {bypassL1} : memref<256x128xf16> to memref<256x32xf16, #gpu.address_space<workgroup>>
// CHECK-COUNT-2: nvgpu.device_async_copy %{{.*}}[%{{.*}}, %{{.*}}], %[[B]][%{{.*}}, %{{.*}}], 8 {bypassL1} : memref<128x256xf16> to memref<64x128xf16, #gpu.address_space<workgroup>>
// CHECK: %[[G0:.*]] = nvgpu.device_async_create_group
// CHECK: nvgpu.device_async_wait %[[G0]]
// CHECK: gpu.barrier
// CHECK: scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK: scf.if
// CHECK-COUNT-4: nvgpu.device_async_copy
// CHECK: nvgpu.device_async_create_group
// CHECK: iolite_gpu.mma_load a nv_m16n8k16_f16 %[[A]][%{{.*}}, %{{.*}}] {swizzle = #iolite_gpu.swizzle<vec = 8, per_phase = 2, max_phase = 4>}
// CHECK: iolite_gpu.mma_load b nv_m16n8k16_f16 %[[B]][%{{.*}}, %{{.*}}] {swizzle = #iolite_gpu.swizzle<vec = 8, per_phase = 1, max_phase = 8>}
// CHECK-COUNT-4: iolite_gpu.mma nv_m16n8k16_f16
// CHECK: %[[G:.*]] = nvgpu.device_async_create_group{{ *$}}
// CHECK-NEXT: nvgpu.device_async_wait %[[G]] {numGroups = 0 : i32}
// CHECK-NEXT: gpu.barrier
// CHECK: vector.extract %{{.*}}[0] : f32 from vector<4xf32>
// CHECK: math.exp
// CHECK: memref.store
// CHECK-NOT: math.fma
// AMD-LABEL: func.func @matmul_f16
// AMD: iolite.matrix = "amd_mfma_32x32x8_f16"
// AMD: iolite.tile = "matmul tile 128x128x32, 2 stage(s), 2x2 warps of 2x2 amd_mfma_32x32x8_f16"
// AMD-NOT: nvgpu.device_async_copy
// AMD: vector.store %{{.*}} : memref<256x32xf16, #gpu.address_space<workgroup>>, vector<4xf16>
// AMD: iolite_gpu.mma_load a amd_mfma_32x32x8_f16 {{.*}} {swizzle = #iolite_gpu.swizzle<vec = 4, per_phase = 2, max_phase = 8>}
// AMD: iolite_gpu.mma amd_mfma_32x32x8_f16 {{.*}} into vector<16xf32>
func.func @matmul_f16(%x: tensor<256x128xf16>, %w: tensor<128x256xf16>) -> tensor<256x256xf16> {
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
// CHECK: %[[T:.*]] = memref.view %[[WS]][%[[OFF]]][] {iolite.tensor = "first.result0"} : memref<1056xi8> to memref<8xf32>
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

// Kernels rooted at ops without a template (here cumsum) use the
// elemental fallback: one thread per output element with loops, the prologue
// recomputed inside them.
// CHECK-LABEL: func.func @fallback
// CHECK: gpu.func @scan
// CHECK-SAME: iolite.template = "elemental"
// CHECK: scf.if
// CHECK: scf.for {{.*}} iter_args
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: memref.store
func.func @fallback(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %o = iolite.kernel "scan" (%x) : (tensor<4x16xf32>) -> tensor<4x16xf32> {
  ^bb0(%a: tensor<4x16xf32>):
    %e = iolite.exp %a : tensor<4x16xf32>
    %c = iolite.cumsum %e {axis = 1 : i64} : tensor<4x16xf32>
    iolite.yield %c : tensor<4x16xf32>
  }
  return %o : tensor<4x16xf32>
}
// -----

// 21 elements: five 4-wide runs per thread and a scalar tail of one; the
// broadcast bias is read as a run of its own (same last dim) and the
// per-row scale as one replicated element.
// CHECK-LABEL: func.func @elementwise_tail
// CHECK: gpu.func @ew_tail
// CHECK-SAME: iolite.grid = array<i64: 1, 1, 1>
// CHECK-SAME: iolite.tile = "runs of up to 4 elements per thread, scalar tail"
// CHECK: %[[RUNS:.*]] = arith.constant 5 : index
// CHECK: %[[INRUNS:.*]] = arith.cmpi ult, %{{.*}}, %[[RUNS]] : index
// CHECK: scf.if %[[INRUNS]] {
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<21xf32>, vector<4xf32>
// CHECK: memref.load
// CHECK: vector.store %{{.*}} {alignment = 16 : i64} : memref<21xf32>, vector<4xf32>
// CHECK: arith.cmpi uge
// CHECK: scf.if
// CHECK-NOT: vector.
// CHECK: memref.store
// CHECK: gpu.return
func.func @elementwise_tail(%x: tensor<3x7xf32>, %s: tensor<3x1xf32>) -> tensor<3x7xf32> {
  %r = iolite.kernel "ew_tail" (%x, %s) : (tensor<3x7xf32>, tensor<3x1xf32>) -> tensor<3x7xf32> {
  ^bb0(%a: tensor<3x7xf32>, %b: tensor<3x1xf32>):
    %m = iolite.mul %a, %b : tensor<3x7xf32>, tensor<3x1xf32>
    %e = iolite.exp %m : tensor<3x7xf32>
    iolite.yield %e : tensor<3x7xf32>
  }
  return %r : tensor<3x7xf32>
}

// -----

// Long rows: one row per block. Each warp folds its share (4-wide runs),
// lane 0 leaves the warp's partial in shared memory, and after a barrier
// every thread combines the block's partials; softmax needs two reductions
// (max, then sum), each with its own buffer.
// CHECK-LABEL: func.func @long_softmax
// CHECK: gpu.func @sm
// CHECK-SAME: iolite.block = array<i64: 256, 1, 1>, iolite.grid = array<i64: 4, 1, 1>
// CHECK-SAME: iolite.shared_memory_bytes = 64
// CHECK-SAME: iolite.tile = "1 row per block of 256, 4-wide runs"
// CHECK: %[[SMEM:.*]] = gpu.dynamic_shared_memory
// CHECK: scf.for
// CHECK: vector.load {{.*}} vector<4xf32>
// CHECK: arith.maximumf
// CHECK: gpu.shuffle xor
// CHECK: memref.view %[[SMEM]]{{.*}} to memref<8xf32, #gpu.address_space<workgroup>>
// CHECK: scf.if
// CHECK: memref.store
// CHECK: gpu.barrier
// CHECK-COUNT-8: memref.load {{.*}} : memref<8xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: math.exp
// CHECK: gpu.shuffle xor
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK: vector.store {{.*}} vector<4xf32>
// AMD-LABEL: func.func @long_softmax
// AMD: iolite.shared_memory_bytes = 32
// AMD: gpu.shuffle xor %{{.*}}, %{{.*}}, %[[W64:.*]] : f32
// AMD: gpu.barrier
func.func @long_softmax(%x: tensor<4x4096xf32>) -> tensor<4x4096xf32> {
  %r = iolite.kernel "sm" (%x) : (tensor<4x4096xf32>) -> tensor<4x4096xf32> {
  ^bb0(%a: tensor<4x4096xf32>):
    %s = iolite.softmax %a : tensor<4x4096xf32>
    iolite.yield %s : tensor<4x4096xf32>
  }
  return %r : tensor<4x4096xf32>
}
// -----

// rms_norm prologue + SwiGLU on the matrix units: two matmuls share the
// staged (normalised, rounded to f16) A tile; each warp keeps one set of
// accumulator fragments per matmul and loads each A fragment once for both;
// the epilogue combines them through the element emitter. The pre-phase
// computes each row's rstd (8-wide f16 runs, warp shuffles) into shared
// memory; the A tile is staged as x * rstd * w.
// CHECK-LABEL: func.func @norm_swiglu
// CHECK: gpu.func @ffn
// CHECK-SAME: iolite.template = "matmul"
// CHECK-SAME: iolite.tile = "matmul tile 64x128x32, 2 stage(s), 2x4 warps of 2x4 nv_m16n8k16_f16, 2 matmuls sharing A, rms_norm prologue, cp.async"
// CHECK-DAG: %[[SA:.*]] = memref.view {{.*}} to memref<128x32xf16, #gpu.address_space<workgroup>>
// CHECK-DAG: %[[SB0:.*]] = memref.view {{.*}} to memref<64x128xf16, #gpu.address_space<workgroup>>
// CHECK-DAG: %[[SB1:.*]] = memref.view {{.*}} to memref<64x128xf16, #gpu.address_space<workgroup>>
// CHECK-DAG: %[[STATS:.*]] = memref.view {{.*}} to memref<2x64xf32, #gpu.address_space<workgroup>>
// Pre-phase: one row per warp iteration, sum of squares, warp all-reduce.
// CHECK: scf.for
// CHECK: scf.for
// CHECK: vector.load {{.*}} : memref<32768xf16>, vector<8xf16>
// CHECK: math.fma
// CHECK: gpu.shuffle xor
// CHECK: math.rsqrt
// CHECK: memref.store %{{.*}}, %[[STATS]]
// CHECK: gpu.barrier
// A staging through registers: x run, its row's rstd, the weight run,
// rounded to f16; the weights' tiles move with cp.async.
// CHECK: vector.load {{.*}} : memref<32768xf16>, vector<8xf16>
// CHECK: memref.load %[[STATS]]
// CHECK: vector.load {{.*}} : memref<256xf16>, vector<8xf16>
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: vector.store %{{.*}}, %[[SA]]
// CHECK: nvgpu.device_async_copy {{.*}}, %[[SB0]]
// CHECK: nvgpu.device_async_copy {{.*}}, %[[SB1]]
// The K loop carries both fragment sets (2 x 2x4).
// CHECK: scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK-COUNT-2: iolite_gpu.mma_load a nv_m16n8k16_f16 %[[SA]]
// CHECK: iolite_gpu.mma_load b nv_m16n8k16_f16 %[[SB0]]
// CHECK-COUNT-2: iolite_gpu.mma
// CHECK: iolite_gpu.mma_load b nv_m16n8k16_f16 %[[SB1]]
// CHECK: gpu.barrier
// CHECK: scf.yield
// Epilogue: silu(gate) * up.
// CHECK: math.exp
// CHECK: arith.mulf
// CHECK: memref.store
func.func @norm_swiglu(%x: tensor<2x64x256xf16>, %w: tensor<256xf16>, %wg: tensor<256x512xf16>, %wu: tensor<256x512xf16>) -> tensor<2x64x512xf16> {
  %y = iolite.kernel "ffn" (%x, %w, %wg, %wu) : (tensor<2x64x256xf16>, tensor<256xf16>, tensor<256x512xf16>, tensor<256x512xf16>) -> tensor<2x64x512xf16> {
  ^bb0(%a: tensor<2x64x256xf16>, %nw: tensor<256xf16>, %g: tensor<256x512xf16>, %u: tensor<256x512xf16>):
    %n = iolite.rms_norm %a weight(%nw : tensor<256xf16>) : tensor<2x64x256xf16>
    %mg = iolite.matmul %n, %g : tensor<2x64x256xf16>, tensor<256x512xf16>
    %mu = iolite.matmul %n, %u : tensor<2x64x256xf16>, tensor<256x512xf16>
    %s = iolite.silu %mg : tensor<2x64x512xf16>
    %p = iolite.mul %s, %mu : tensor<2x64x512xf16>, tensor<2x64x512xf16>
    iolite.yield %p : tensor<2x64x512xf16>
  }
  return %y : tensor<2x64x512xf16>
}

// -----

// QKV projections of one normalised x with GQA-sized K/V: the grid covers
// the widest output, and each output is stored under its own column bound.
// Three live accumulator sets shrink the 128x64 tile to fit the target's
// accumulator budget.
// CHECK-LABEL: func.func @qkv
// CHECK: gpu.func @qkv
// CHECK-SAME: iolite.grid = array<i64: 4, 2, 1>
// CHECK-SAME: iolite.tile = "matmul tile 64x64x16, 2 stage(s), 3 matmuls sharing A, rms_norm prologue"
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK: arith.addf
// CHECK: memref.store %{{.*}}, %{{.*}} : memref<128x256xf32>
// CHECK: %[[K:.*]] = arith.constant 64 : index
// CHECK: %[[INK:.*]] = arith.cmpi ult, %{{.*}}, %[[K]] : index
// CHECK: scf.if %[[INK]] {
// CHECK: memref.store %{{.*}}, %{{.*}} : memref<128x64xf32>
// CHECK: memref.store %{{.*}}, %{{.*}} : memref<128x64xf32>
func.func @qkv(%x: tensor<128x256xf32>, %w: tensor<256xf32>, %wq: tensor<256x256xf32>, %wk: tensor<256x64xf32>, %wv: tensor<256x64xf32>, %bq: tensor<256xf32>) -> (tensor<128x256xf32>, tensor<128x64xf32>, tensor<128x64xf32>) {
  %q, %k, %v = iolite.kernel "qkv" (%x, %w, %wq, %wk, %wv, %bq) : (tensor<128x256xf32>, tensor<256xf32>, tensor<256x256xf32>, tensor<256x64xf32>, tensor<256x64xf32>, tensor<256xf32>) -> (tensor<128x256xf32>, tensor<128x64xf32>, tensor<128x64xf32>) {
  ^bb0(%a: tensor<128x256xf32>, %nw: tensor<256xf32>, %q_: tensor<256x256xf32>, %k_: tensor<256x64xf32>, %v_: tensor<256x64xf32>, %bb: tensor<256xf32>):
    %n = iolite.rms_norm %a weight(%nw : tensor<256xf32>) : tensor<128x256xf32>
    %mq = iolite.matmul %n, %q_ : tensor<128x256xf32>, tensor<256x256xf32>
    %mk = iolite.matmul %n, %k_ : tensor<128x256xf32>, tensor<256x64xf32>
    %mv = iolite.matmul %n, %v_ : tensor<128x256xf32>, tensor<256x64xf32>
    %qb = iolite.add %mq, %bb : tensor<128x256xf32>, tensor<256xf32>
    iolite.yield %qb, %mk, %mv : tensor<128x256xf32>, tensor<128x64xf32>, tensor<128x64xf32>
  }
  return %q, %k, %v : tensor<128x256xf32>, tensor<128x64xf32>, tensor<128x64xf32>
}

// -----

// layer_norm prologue (weight and bias) before a matmul with a transposed
// RHS and a residual epilogue: the pre-phase keeps mean and rstd per row,
// the A tile is staged as (x - mean) * rstd * w + b.
// CHECK-LABEL: func.func @ln_matmul
// CHECK: gpu.func @ln_mm
// CHECK-SAME: iolite.tile = "matmul tile 64x64x16, 2 stage(s), layer_norm prologue"
// CHECK: %[[STATS:.*]] = memref.view {{.*}} to memref<2x64xf32, #gpu.address_space<workgroup>>
// CHECK: gpu.shuffle xor
// CHECK: gpu.shuffle xor
// CHECK: math.rsqrt
// CHECK: memref.store %{{.*}}, %[[STATS]]
// CHECK: memref.store %{{.*}}, %[[STATS]]
// CHECK: gpu.barrier
// CHECK: memref.load %[[STATS]]
// CHECK: memref.load %[[STATS]]
// CHECK: arith.subf
// CHECK: arith.mulf
// CHECK: arith.addf
func.func @ln_matmul(%x: tensor<64x128xf32>, %g: tensor<128xf32>, %bias: tensor<128xf32>, %wt: tensor<192x128xf32>, %r: tensor<64x192xf32>) -> tensor<64x192xf32> {
  %y = iolite.kernel "ln_mm" (%x, %g, %bias, %wt, %r) : (tensor<64x128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<192x128xf32>, tensor<64x192xf32>) -> tensor<64x192xf32> {
  ^bb0(%a: tensor<64x128xf32>, %gg: tensor<128xf32>, %bb: tensor<128xf32>, %w: tensor<192x128xf32>, %res: tensor<64x192xf32>):
    %n = iolite.layer_norm %a weight(%gg : tensor<128xf32>) bias(%bb : tensor<128xf32>) : tensor<64x128xf32>
    %m = iolite.matmul %n, %w {transpose_rhs} : tensor<64x128xf32>, tensor<192x128xf32>
    %o = iolite.add %m, %res : tensor<64x192xf32>, tensor<64x192xf32>
    iolite.yield %o : tensor<64x192xf32>
  }
  return %y : tensor<64x192xf32>
}

// -----

// A norm whose result is also an output cannot be a prologue (its rows
// would be normalised once per column block): the kernel falls back.
// CHECK-LABEL: func.func @norm_also_yielded
// CHECK: gpu.func @nm
// CHECK-SAME: iolite.template = "elemental"
func.func @norm_also_yielded(%x: tensor<16x64xf32>, %w: tensor<64x64xf32>) -> (tensor<16x64xf32>, tensor<16x64xf32>) {
  %n, %y = iolite.kernel "nm" (%x, %w) : (tensor<16x64xf32>, tensor<64x64xf32>) -> (tensor<16x64xf32>, tensor<16x64xf32>) {
  ^bb0(%a: tensor<16x64xf32>, %b: tensor<64x64xf32>):
    %nn = iolite.rms_norm %a : tensor<16x64xf32>
    %m = iolite.matmul %nn, %b : tensor<16x64xf32>, tensor<64x64xf32>
    iolite.yield %nn, %m : tensor<16x64xf32>, tensor<16x64xf32>
  }
  return %n, %y : tensor<16x64xf32>, tensor<16x64xf32>
}

// -----

// Symbolic dims: the kernel takes each symbol as an i64 after its buffers,
// views its flat bound-sized buffers at the run-time sizes, and walks the
// elements with a grid-stride loop bounded by the run-time count; the host
// launch computes the grid from the symbols (ceil(batch * seq * 64 / 1024)).
// CHECK-LABEL: func.func @symbolic
// CHECK-SAME: (%[[X:[a-z0-9_]+]]: memref<65536xf32> {iolite.dim_exprs = [array<i64: 1, 1, 0>, array<i64: 1, 0, 1>, array<i64: 64, 0, 0>]}
// CHECK-SAME: %[[B:[a-z0-9_]+]]: i64, %[[S:[a-z0-9_]+]]: i64)
// CHECK-SAME: iolite.symbol_bounds = array<i64: 1, 8, 1, 128>, iolite.symbols = ["batch", "seq"]
// CHECK: %[[BI:[a-z0-9_]+]] = arith.index_cast %[[B]] : i64 to index
// CHECK: %[[SI:[a-z0-9_]+]] = arith.index_cast %[[S]] : i64 to index
// CHECK: %[[BS:[a-z0-9_]+]] = arith.muli %[[BI]], %[[SI]] : index
// CHECK: %[[N:[a-z0-9_]+]] = arith.muli %[[BS]], %{{.*}} : index
// CHECK: %[[GRID:[a-z0-9_]+]] = arith.ceildivui %[[N]], %{{.*}} : index
// CHECK: gpu.launch_func @iolite_kernels::@sym_ew blocks in (%[[GRID]],
// CHECK-SAME: args(%[[X]] : memref<65536xf32>, %{{.*}} : memref<64xf32>, %{{.*}} : memref<65536xf32>, %[[B]] : i64, %[[S]] : i64)
// CHECK: gpu.func @sym_ew(%[[A:[a-z0-9_]+]]: memref<65536xf32>, %{{.*}}: memref<64xf32>, %[[O:[a-z0-9_]+]]: memref<65536xf32>, %[[KB:[a-z0-9_]+]]: i64, %[[KS:[a-z0-9_]+]]: i64) kernel
// CHECK-SAME: iolite.grid = array<i64: 64, 1, 1>, iolite.grid_extents = [array<i64: 1024, 64, 1, 1>, array<i64: 1, 1, 0, 0>, array<i64: 1, 1, 0, 0>]
// CHECK: %[[KBI:[a-z0-9_]+]] = arith.index_cast %[[KB]] : i64 to index
// CHECK: %[[KSI:[a-z0-9_]+]] = arith.index_cast %[[KS]] : i64 to index
// CHECK: memref.reinterpret_cast %[[A]] to offset: [0], sizes: [%[[KBI]], %[[KSI]], 64], strides: [%{{.*}}, 64, 1] : memref<65536xf32> to memref<?x?x64xf32>
// CHECK: memref.reinterpret_cast %[[O]] to offset: [0], sizes: [%[[KBI]], %[[KSI]], 64]
// CHECK: gpu.grid_dim x
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[ITEMS:[a-z0-9_]+]] step
// CHECK: vector.load {{.*}} : memref<?xf32>, vector<4xf32>
func.func @symbolic(%x: tensor<?x?x64xf32> {iolite.dims = ["batch", "seq", ""]},
                    %g: tensor<64xf32>) -> tensor<?x?x64xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 8>,
                                     seq = array<i64: 1, 128>}} {
  %r = iolite.kernel "sym_ew" (%x, %g) : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32> {
  ^bb0(%a: tensor<?x?x64xf32>, %w: tensor<64xf32>):
    %e = iolite.exp %a : tensor<?x?x64xf32>
    %m = iolite.mul %e, %w : tensor<?x?x64xf32>, tensor<64xf32>
    iolite.yield %m : tensor<?x?x64xf32>
  }
  return %r : tensor<?x?x64xf32>
}

// -----

// iota: each element's position along the axis, from the element index;
// the source's elements are never loaded (it only gives the length).
// CHECK-LABEL: gpu.func @sym_iota
// CHECK-NOT: memref.load
// CHECK-NOT: vector.load
// CHECK: arith.index_cast %{{.*}} : index to i64
// CHECK: arith.sitofp
// CHECK: gpu.return
func.func @symbolic_iota(%x: tensor<?x?x8xf32> {iolite.dims = ["batch", "seq", ""]})
    -> tensor<?xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 4>,
                                     seq = array<i64: 1, 64>}} {
  %r = iolite.kernel "sym_iota" (%x) : (tensor<?x?x8xf32>) -> tensor<?xf32> {
  ^bb0(%a: tensor<?x?x8xf32>):
    %p = iolite.iota %a {axis = 1 : i64} : tensor<?x?x8xf32>
    %f = iolite.cast %p : tensor<?xi64> to tensor<?xf32>
    iolite.yield %f : tensor<?xf32>
  }
  return %r : tensor<?xf32>
}

// -----

// Projections split into heads: matmuls sharing A whose yields reshape
// their outputs ([6, 64] -> [6, 4, 16], [6, 32] -> [6, 2, 16]) stay on the
// matmul template; each output is stored at its element's row-major
// position in the reshaped buffer.
// CHECK-LABEL: func.func @qkv_heads
// CHECK: gpu.func @qkv({{.*}}, %[[Q:.*]]: memref<6x4x16xf32>, %[[K:.*]]: memref<6x2x16xf32>) kernel
// CHECK-SAME: iolite.template = "matmul"
// CHECK-SAME: iolite.tile = "matmul tile {{.*}}, 2 matmuls sharing A"
// CHECK: %[[D:.*]] = arith.remui %[[LIN:.*]], %c16_{{[0-9]+}} : index
// CHECK-NEXT: %[[ROWS:.*]] = arith.divui %[[LIN]], %c16_{{[0-9]+}} : index
// CHECK-NEXT: %[[H:.*]] = arith.remui %[[ROWS]], %c4_{{[0-9]+}} : index
// CHECK-NEXT: %[[T:.*]] = arith.divui %[[ROWS]], %c4_{{[0-9]+}} : index
// CHECK-NEXT: memref.store %{{.*}}, %[[Q]][%[[T]], %[[H]], %[[D]]] : memref<6x4x16xf32>
// CHECK: memref.store %{{.*}}, %[[K]][%{{.*}}, %{{.*}}, %{{.*}}] : memref<6x2x16xf32>
func.func @qkv_heads(%x: tensor<6x64xf32>, %wq: tensor<64x64xf32>, %wk: tensor<32x64xf32>)
    -> (tensor<6x4x16xf32>, tensor<6x2x16xf32>) {
  %r:2 = iolite.kernel "qkv"(%x, %wq, %wk)
      : (tensor<6x64xf32>, tensor<64x64xf32>, tensor<32x64xf32>) -> (tensor<6x4x16xf32>, tensor<6x2x16xf32>) {
  ^bb0(%a: tensor<6x64xf32>, %b: tensor<64x64xf32>, %c: tensor<32x64xf32>):
    %q = iolite.matmul %a, %b {transpose_rhs} : tensor<6x64xf32>, tensor<64x64xf32>
    %k = iolite.matmul %a, %c {transpose_rhs} : tensor<6x64xf32>, tensor<32x64xf32>
    %q3 = iolite.reshape %q : tensor<6x64xf32> -> tensor<6x4x16xf32>
    %k3 = iolite.reshape %k : tensor<6x32xf32> -> tensor<6x2x16xf32>
    iolite.yield %q3, %k3 : tensor<6x4x16xf32>, tensor<6x2x16xf32>
  }
  return %r#0, %r#1 : tensor<6x4x16xf32>, tensor<6x2x16xf32>
}

// -----

// A decode-sized matmul (one row, K = 2048) whose grid of one block cannot
// fill the chip splits its 128 K tiles over 32 blocks along z (split-K, 4
// tiles each). Each block runs the K loop over its own range and stores its
// f32 sums into the scratch partials; the combine kernel, one thread per
// output, adds the 32 partials in split order and applies the epilogue (the
// residual) at the output.
// CHECK-LABEL: func.func @decode_splitk
// CHECK: gpu.launch_func @iolite_kernels::@proj blocks in ({{.*}}, %c32) {{.*}} args({{.*}}, %[[SCRATCH:.*]] : memref<8192xi8>)
// CHECK: gpu.launch_func @iolite_kernels::@proj_combine {{.*}} args({{.*}}, %[[SCRATCH]] : memref<8192xi8>)
// CHECK: gpu.func @proj(
// CHECK-SAME: iolite.grid = array<i64: 1, 1, 32>
// CHECK-SAME: iolite.tile = "matmul tile 16x64x16, 2 stage(s), split-K 32"
// CHECK: %[[Z:.*]] = gpu.block_id  z
// CHECK: %[[SPLIT:.*]] = arith.remui %[[Z]], %c32
// CHECK: %[[BEGIN:.*]] = arith.muli %[[SPLIT]], %c4
// CHECK: %[[NEXT:.*]] = arith.addi %[[BEGIN]], %c4
// CHECK: %[[END:.*]] = arith.minui %[[NEXT]], %c128
// CHECK: scf.for %{{.*}} = %[[BEGIN]] to %[[END]]
// CHECK: %[[PARTIALS:.*]] = memref.view %{{.*}} to memref<2048xf32>
// CHECK: memref.store %{{.*}}, %[[PARTIALS]][%{{.*}}] : memref<2048xf32>
// CHECK: gpu.func @proj_combine(%{{.*}}: memref<1x2048xf32>, %{{.*}}: memref<64x2048xf32>, %[[RES:.*]]: memref<1x64xf32>, %[[OUT:.*]]: memref<1x64xf32>, %{{.*}}: memref<8192xi8>) kernel
// CHECK-SAME: iolite.template = "matmul_combine"
// CHECK-SAME: iolite.tile = "sums 32 split-K partials per output, then the epilogue"
// CHECK: %[[P0:.*]] = memref.load %[[VIEW:.*]][%{{.*}}] : memref<2048xf32>
// CHECK: %[[P1:.*]] = memref.load %[[VIEW]][%{{.*}}] : memref<2048xf32>
// CHECK: arith.addf %[[P0]], %[[P1]] : f32
// CHECK: %[[R:.*]] = memref.load %[[RES]]
// CHECK-NEXT: %[[O:.*]] = arith.addf %{{.*}}, %[[R]] : f32
// CHECK-NEXT: memref.store %[[O]], %[[OUT]]
func.func @decode_splitk(%x: tensor<1x2048xf32>, %w: tensor<64x2048xf32>, %r: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %y = iolite.kernel "proj"(%x, %w, %r) : (tensor<1x2048xf32>, tensor<64x2048xf32>, tensor<1x64xf32>) -> tensor<1x64xf32> {
  ^bb0(%a: tensor<1x2048xf32>, %b: tensor<64x2048xf32>, %c: tensor<1x64xf32>):
    %m = iolite.matmul %a, %b {transpose_rhs} : tensor<1x2048xf32>, tensor<64x2048xf32>
    %o = iolite.add %m, %c : tensor<1x64xf32>, tensor<1x64xf32>
    iolite.yield %o : tensor<1x64xf32>
  }
  return %y : tensor<1x64xf32>
}
