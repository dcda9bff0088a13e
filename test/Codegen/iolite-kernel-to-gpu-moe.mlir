// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=sm_90a | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=gfx942 | FileCheck %s --check-prefix=AMD
// RUN: iolite-opt %s --split-input-file --pass-pipeline='builtin.module(iolite-kernel-to-gpu{target=sm_90a},gpu.module(iolite-gpu-lower-matrix{chip=sm_90a}))' | FileCheck %s --check-prefix=NVMMA
// RUN: iolite-opt %s --split-input-file --pass-pipeline='builtin.module(iolite-kernel-to-gpu{target=gfx942},gpu.module(iolite-gpu-lower-matrix{chip=gfx942}))' | FileCheck %s --check-prefix=MFMA

// The MoE kernel family (lib/Codegen/Templates/Moe*.cpp, docs/moe-kernels.md).

// Router matmul + softmax + top-k + renormalize in one launch: the logits
// tile comes from the block GEMM on the matrix units (f16 x and router
// weight tiles in shared memory, swizzled, one barrier per K step; 2x4
// warps of m16n8k16 tiles), goes to shared memory through the accumulator
// fragments' coordinates, and each warp scores and selects one token with
// shuffle-xor reductions of the warp's width.
// CHECK-LABEL: func.func @router
// CHECK: gpu.launch_func @iolite_kernels::@router blocks in
// CHECK-NOT: gpu.launch_func
// CHECK: gpu.func @router
// CHECK-SAME: iolite.matrix = "nv_m16n8k16_f16"
// CHECK-SAME: iolite.template = "moe_router"
// CHECK-SAME: iolite.tile = "router tile 64 tokens x 64 experts, 64x64x32, 2 stage(s), 2x4 warps of 2x2 nv_m16n8k16_f16"
// CHECK-DAG: memref.view {{.*}} to memref<128x32xf16, #gpu.address_space<workgroup>>
// CHECK-DAG: memref.view {{.*}} to memref<128x32xf16, #gpu.address_space<workgroup>>
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK: iolite_gpu.mma_load a nv_m16n8k16_f16 {{.*}} {swizzle = #iolite_gpu.swizzle<
// CHECK: iolite_gpu.mma_load b nv_m16n8k16_f16 {{.*}}transpose}
// CHECK: iolite_gpu.mma nv_m16n8k16_f16
// CHECK: gpu.barrier
// CHECK: vector.extract
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: memref.store %{{.*}}, %{{.*}} : memref<64x64xf32, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK: memref.load %{{.*}} : memref<64x64xf32, #gpu.address_space<workgroup>>
// CHECK: gpu.shuffle xor %{{.*}}, %{{.*}}, %c32_i32{{[_0-9]*}} : f32
// CHECK: math.exp
// The k rounds: a warp arg-max of (score, expert) pairs.
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(
// CHECK: gpu.shuffle xor %{{.*}} : f32
// CHECK: gpu.shuffle xor %{{.*}} : i32
// CHECK: arith.divf
// CHECK: memref.store %{{.*}} : memref<100x2xf16>
// CHECK: memref.store %{{.*}} : memref<100x2xi32>
// AMD-LABEL: func.func @router
// AMD: iolite.matrix = "amd_mfma_32x32x8_f16"
// AMD-SAME: iolite.tile = "router tile 64 tokens x 64 experts, 64x64x32, 2 stage(s), 2x2 warps of 1x1 amd_mfma_32x32x8_f16"
// AMD: iolite_gpu.mma amd_mfma_32x32x8_f16
// AMD: gpu.shuffle xor %{{.*}}, %{{.*}}, %c64_i32{{[_0-9]*}} : f32
// NVMMA-LABEL: func.func @router
// NVMMA: gpu.func @router
// NVMMA: nvgpu.ldmatrix
// NVMMA: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// MFMA-LABEL: func.func @router
// MFMA: gpu.func @router
// MFMA: amdgpu.mfma 32x32x8 {{.*}} : vector<4xf16>, vector<4xf16>, vector<16xf32>
func.func @router(%x: tensor<100x128xf16>, %wr: tensor<64x128xf16>) -> (tensor<100x2xf16>, tensor<100x2xi32>) {
  %w, %ids = iolite.kernel "router" (%x, %wr) : (tensor<100x128xf16>, tensor<64x128xf16>) -> (tensor<100x2xf16>, tensor<100x2xi32>) {
  ^bb0(%a: tensor<100x128xf16>, %b: tensor<64x128xf16>):
    %l = iolite.matmul %a, %b {transpose_rhs} : tensor<100x128xf16>, tensor<64x128xf16>
    %rw, %ri = iolite.router %l {k = 2 : i64, renormalize} : tensor<100x64xf16>
    iolite.yield %rw, %ri : tensor<100x2xf16>, tensor<100x2xi32>
  }
  return %w, %ids : tensor<100x2xf16>, tensor<100x2xi32>
}

// -----

// A router without its matmul reads the logits through the element emitter
// (the bias add fuses): one warp per token, sigmoid scores, no shared memory.
// CHECK-LABEL: func.func @router_sigmoid
// CHECK: gpu.func @rs
// CHECK-SAME: iolite.shared_memory_bytes = 0
// CHECK-SAME: iolite.template = "moe_router"
// CHECK-SAME: iolite.tile = "8 tokens per block, 1 token per warp"
// CHECK: memref.load %{{.*}} : memref<16x8xf32>
// CHECK: arith.addf
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: scf.for
// CHECK: gpu.shuffle xor
func.func @router_sigmoid(%l: tensor<16x8xf32>, %bias: tensor<8xf32>) -> tensor<16x4xi32> {
  %ids = iolite.kernel "rs" (%l, %bias) : (tensor<16x8xf32>, tensor<8xf32>) -> tensor<16x4xi32> {
  ^bb0(%a: tensor<16x8xf32>, %b: tensor<8xf32>):
    %s = iolite.add %a, %b : tensor<16x8xf32>, tensor<8xf32>
    %rw, %ri = iolite.router %s scoring = sigmoid {k = 4 : i64} : tensor<16x8xf32>
    iolite.yield %ri : tensor<16x4xi32>
  }
  return %ids : tensor<16x4xi32>
}

// -----

// Dispatch alone (all its results yielded): a counting sort in one block
// (histogram, prefix sum, stable scatter through ranks in shared memory, no
// atomics) that also copies the permuted rows, a warp per row.
// CHECK-LABEL: func.func @dispatch
// CHECK: gpu.launch_func @iolite_kernels::@d blocks in
// CHECK-NOT: gpu.launch_func
// CHECK: gpu.func @d
// CHECK-SAME: iolite.template = "moe_dispatch"
// CHECK-SAME: iolite.tile = "48 assignments in one block, sub-chunks of 256"
// CHECK-NOT: memref.atomic_rmw
// CHECK: memref.store {{.*}} : memref<256xi32, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK: scf.for {{.*}} iter_args
// CHECK: memref.load {{.*}} : memref<256xi32, #gpu.address_space<workgroup>>
// CHECK: memref.store {{.*}} : memref<9xi32>
// CHECK: memref.store {{.*}} : memref<48xi32>
// CHECK: memref.store {{.*}} : memref<48x32xbf16>
// CHECK: gpu.return
func.func @dispatch(%x: tensor<16x32xbf16>, %ids: tensor<16x3xi64>) -> (tensor<48x32xbf16>, tensor<48xi32>, tensor<9xi32>) {
  %xs, %rows, %offs = iolite.kernel "d" (%x, %ids) : (tensor<16x32xbf16>, tensor<16x3xi64>) -> (tensor<48x32xbf16>, tensor<48xi32>, tensor<9xi32>) {
  ^bb0(%a: tensor<16x32xbf16>, %i: tensor<16x3xi64>):
    %s, %r, %o = iolite.dispatch %a, %i {num_experts = 8 : i64} : tensor<16x32xbf16>, tensor<16x3xi64>
    iolite.yield %s, %r, %o : tensor<48x32xbf16>, tensor<48xi32>, tensor<9xi32>
  }
  return %xs, %rows, %offs : tensor<48x32xbf16>, tensor<48xi32>, tensor<9xi32>
}

// -----

// More assignments than one block sorts: three launches (per-block
// histograms, a one-block scan, per-block stable scatter) passing counts
// through kernel scratch placed in the workspace.
// CHECK-LABEL: func.func @dispatch_large
// CHECK-SAME: %[[WS:[^:]*]]: memref<1040xi8>
// CHECK-SAME: iolite.workspace_size = 1040
// CHECK: %[[SCRATCH:.*]] = memref.view %[[WS]][%{{.*}}][] {iolite.tensor = "{{.*}}.scratch"} : memref<1040xi8> to memref<1040xi8>
// CHECK: gpu.launch_func @iolite_kernels::@big blocks in (%{{.*}}) {{.*}} args({{.*}}, %[[SCRATCH]] : memref<1040xi8>)
// CHECK: gpu.launch_func @iolite_kernels::@big_scan {{.*}} args({{.*}}, %[[SCRATCH]] : memref<1040xi8>)
// CHECK: gpu.launch_func @iolite_kernels::@big_scatter {{.*}} args({{.*}}, %[[SCRATCH]] : memref<1040xi8>)
// CHECK: gpu.func @big(
// CHECK-SAME: iolite.grid = array<i64: 4, 1, 1>
// CHECK: memref.view {{.*}} : memref<1040xi8> to memref<4x65xi32>
// CHECK: gpu.func @big_scan(
// CHECK-SAME: iolite.grid = array<i64: 1, 1, 1>
// CHECK: gpu.func @big_scatter(
// CHECK-SAME: iolite.grid = array<i64: 4, 1, 1>
func.func @dispatch_large(%x: tensor<2048x16xf16>, %ids: tensor<2048x8xi32>) -> (tensor<16384xi32>, tensor<65xi32>) {
  %rows, %offs = iolite.kernel "big" (%x, %ids) : (tensor<2048x16xf16>, tensor<2048x8xi32>) -> (tensor<16384xi32>, tensor<65xi32>) {
  ^bb0(%a: tensor<2048x16xf16>, %i: tensor<2048x8xi32>):
    %s, %r, %o = iolite.dispatch %a, %i {num_experts = 64 : i64} : tensor<2048x16xf16>, tensor<2048x8xi32>
    iolite.yield %r, %o : tensor<16384xi32>, tensor<65xi32>
  }
  return %rows, %offs : tensor<16384xi32>, tensor<65xi32>
}

// -----

// Dispatch + gate/up grouped GEMMs + SwiGLU in one kernel: the sort, then a
// GEMM over (n tile, expert tile) whose A loads gather rows of x through the
// staged row indices (the permuted x is never written), two B tiles from the
// experts' weight slabs and two accumulator sets on the matrix units (one A
// fragment per k-step for both), silu(g) * u in the epilogue over the
// fragments' elements.
// CHECK-LABEL: func.func @swiglu
// CHECK: gpu.launch_func @iolite_kernels::@up blocks in
// CHECK: gpu.launch_func @iolite_kernels::@up_grouped_matmul blocks in
// CHECK: gpu.func @up(
// CHECK-SAME: iolite.matrix = "none"
// CHECK-SAME: iolite.template = "moe_dispatch"
// CHECK-NOT: memref<32x64xf16>
// CHECK: gpu.func @up_grouped_matmul(
// CHECK-SAME: %[[X:[^:]*]]: memref<16x64xf16>
// CHECK-SAME: %[[ROWS:[^:]*]]: memref<32xi32>
// CHECK-SAME: iolite.grid = array<i64: 1, 11, 1>
// CHECK-SAME: iolite.matrix = "nv_m16n8k16_f16"
// CHECK-SAME: iolite.matrix_reason = "f16 operands on mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
// CHECK-SAME: iolite.tile = "dual grouped matmul tile 16x128x32, 2 stage(s), 1x8 warps of 1x2 nv_m16n8k16_f16, 8 experts, rows gathered through the dispatch"
// Offsets to shared memory, then the walk over head, experts, tail.
// CHECK: memref.store {{.*}} : memref<9xi32, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (index, i1, index, index, index)
// CHECK: scf.if
// Stage the tile's tokens: rows[s] / k.
// CHECK: memref.load %[[ROWS]]
// CHECK: arith.divui
// CHECK: memref.store {{.*}} : memref<16xi32, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// A rows gathered through the staged tokens and weight rows, 8 halves per
// load, into the swizzled f16 tiles with one vector store each.
// CHECK: %[[TOK:.*]] = memref.load {{.*}} : memref<16xi32, #gpu.address_space<workgroup>>
// CHECK: %[[T:.*]] = arith.index_cast %[[TOK]]
// CHECK: %[[XF:.*]] = memref.collapse_shape %[[X]] {{\[\[}}0, 1]] : memref<16x64xf16> into memref<1024xf16>
// CHECK: vector.load %[[XF]][%{{.*}}] {alignment = 16 : i64} : memref<1024xf16>, vector<8xf16>
// CHECK: vector.store {{.*}} : memref<32x32xf16, #gpu.address_space<workgroup>>, vector<8xf16>
// CHECK-COUNT-2: vector.load %{{.*}} : memref<65536xf16>, vector<8xf16>
// CHECK: iolite_gpu.mma_load a nv_m16n8k16_f16
// CHECK: iolite_gpu.mma_load b nv_m16n8k16_f16
// CHECK: iolite_gpu.mma nv_m16n8k16_f16
// CHECK: gpu.barrier
// CHECK: vector.extract
// CHECK: math.exp
// CHECK: arith.mulf
// CHECK: memref.store {{.*}} : memref<32x128xf16>
// AMD-LABEL: func.func @swiglu
// AMD: iolite.matrix = "amd_mfma_16x16x16_f16"
// AMD-SAME: iolite.tile = "dual grouped matmul tile 16x128x32, 2 stage(s), 1x4 warps of 1x2 amd_mfma_16x16x16_f16, 8 experts, rows gathered through the dispatch"
// AMD: iolite_gpu.mma amd_mfma_16x16x16_f16
// After the matrix lowering: ldmatrix + mma.sync on sm_90a, MFMA on gfx942.
// NVMMA-LABEL: func.func @swiglu
// NVMMA: gpu.func @up_grouped_matmul
// NVMMA: nvgpu.ldmatrix
// NVMMA: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// MFMA-LABEL: func.func @swiglu
// MFMA: gpu.func @up_grouped_matmul
// MFMA: amdgpu.mfma 16x16x16 {{.*}} : vector<4xf16>, vector<4xf16>, vector<4xf32>
func.func @swiglu(%x: tensor<16x64xf16>, %ids: tensor<16x2xi32>, %wg: tensor<8x64x128xf16>, %wu: tensor<8x64x128xf16>) -> (tensor<32x128xf16>, tensor<32xi32>, tensor<9xi32>) {
  %h, %rows, %offs = iolite.kernel "up" (%x, %ids, %wg, %wu) : (tensor<16x64xf16>, tensor<16x2xi32>, tensor<8x64x128xf16>, tensor<8x64x128xf16>) -> (tensor<32x128xf16>, tensor<32xi32>, tensor<9xi32>) {
  ^bb0(%a: tensor<16x64xf16>, %i: tensor<16x2xi32>, %g: tensor<8x64x128xf16>, %u: tensor<8x64x128xf16>):
    %xs, %r, %o = iolite.dispatch %a, %i {num_experts = 8 : i64} : tensor<16x64xf16>, tensor<16x2xi32>
    %gg = iolite.grouped_matmul %xs, %g, %o : tensor<32x64xf16>, tensor<8x64x128xf16>, tensor<9xi32>
    %uu = iolite.grouped_matmul %xs, %u, %o : tensor<32x64xf16>, tensor<8x64x128xf16>, tensor<9xi32>
    %s = iolite.silu %gg : tensor<32x128xf16>
    %m = iolite.mul %s, %uu : tensor<32x128xf16>, tensor<32x128xf16>
    iolite.yield %m, %r, %o : tensor<32x128xf16>, tensor<32xi32>, tensor<9xi32>
  }
  return %h, %rows, %offs : tensor<32x128xf16>, tensor<32xi32>, tensor<9xi32>
}

// -----

// A grouped GEMM whose rows are a gather by index (fusion's split form of a
// dispatch) stages the indices and gathers rows of x in its A loads;
// transposed expert weights [E, N, K] are read along K.
// f32 stays exact on the FMA units (TF32 only when asked).
// CHECK-LABEL: func.func @gathered
// CHECK: gpu.func @g(
// CHECK-SAME: iolite.matrix = "fma"
// CHECK-SAME: iolite.tile = "grouped matmul tile 64x64x16, 2 stage(s), 4 experts, rows gathered by index"
// CHECK: memref.store {{.*}} : memref<64xi32, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK: memref.load {{.*}} : memref<64xi32, #gpu.address_space<workgroup>>
// CHECK: memref.load {{.*}} : memref<64x32xf32>
// CHECK: memref.load {{.*}} : memref<4x48x32xf32>
// CHECK: math.fma
// CHECK-NOT: iolite_gpu.mma
// CHECK: gpu.return
func.func @gathered(%x: tensor<64x32xf32>, %idx: tensor<256xi32>, %w: tensor<4x48x32xf32>, %offs: tensor<5xi32>) -> tensor<256x48xf32> {
  %y = iolite.kernel "g" (%x, %idx, %w, %offs) : (tensor<64x32xf32>, tensor<256xi32>, tensor<4x48x32xf32>, tensor<5xi32>) -> tensor<256x48xf32> {
  ^bb0(%a: tensor<64x32xf32>, %i: tensor<256xi32>, %b: tensor<4x48x32xf32>, %o: tensor<5xi32>):
    %xs = iolite.gather %a[%i] {axis = 0 : i64} : tensor<64x32xf32>, tensor<256xi32>
    %h = iolite.grouped_matmul %xs, %b, %o {transpose_rhs} : tensor<256x32xf32>, tensor<4x48x32xf32>, tensor<5xi32>
    iolite.yield %h : tensor<256x48xf32>
  }
  return %y : tensor<256x48xf32>
}

// -----

// Down projection + weighted combine in one kernel: the GEMM writes its rows
// to scratch, the inverse permutation is built in scratch (-1, then an
// integer atomic max), and the combine gathers each token's k rows in slot
// order (with the residual add fused).
// CHECK-LABEL: func.func @down
// CHECK: gpu.launch_func @iolite_kernels::@down blocks
// CHECK: gpu.launch_func @iolite_kernels::@down_invert_init blocks
// CHECK: gpu.launch_func @iolite_kernels::@down_invert blocks
// CHECK: gpu.launch_func @iolite_kernels::@down_combine blocks
// CHECK: gpu.func @down(
// CHECK-SAME: iolite.template = "moe_grouped_matmul"
// CHECK: memref.store {{.*}} : memref<32x64xf16>
// CHECK: gpu.func @down_invert_init(
// CHECK: memref.view {{.*}} to memref<32xi32>
// CHECK: memref.store {{.*}} : memref<32xi32>
// CHECK: gpu.func @down_invert(
// CHECK: memref.atomic_rmw maxs {{.*}} : (i32, memref<32xi32>) -> i32
// CHECK: gpu.func @down_combine(
// CHECK-SAME: iolite.tile = "combine tile 8 tokens x 64 columns, 2 slots"
// CHECK: memref.load {{.*}} : memref<32xi32>
// CHECK: gpu.barrier
// CHECK: scf.for {{.*}} iter_args
// CHECK: memref.load {{.*}} : memref<32x64xf16>
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: arith.addf
// CHECK: memref.store {{.*}} : memref<16x64xf16>
func.func @down(%h: tensor<32x128xf16>, %wd: tensor<8x128x64xf16>, %offs: tensor<9xi32>, %rows: tensor<32xi32>, %w: tensor<16x2xf16>, %res: tensor<16x64xf16>) -> tensor<16x64xf16> {
  %y = iolite.kernel "down" (%h, %wd, %offs, %rows, %w, %res) : (tensor<32x128xf16>, tensor<8x128x64xf16>, tensor<9xi32>, tensor<32xi32>, tensor<16x2xf16>, tensor<16x64xf16>) -> tensor<16x64xf16> {
  ^bb0(%a: tensor<32x128xf16>, %d: tensor<8x128x64xf16>, %o: tensor<9xi32>, %r: tensor<32xi32>, %ww: tensor<16x2xf16>, %z: tensor<16x64xf16>):
    %e = iolite.grouped_matmul %a, %d, %o : tensor<32x128xf16>, tensor<8x128x64xf16>, tensor<9xi32>
    %c = iolite.combine %e, %r, %ww : tensor<32x64xf16>, tensor<32xi32>, tensor<16x2xf16>
    %s = iolite.add %c, %z : tensor<16x64xf16>, tensor<16x64xf16>
    iolite.yield %s : tensor<16x64xf16>
  }
  return %y : tensor<16x64xf16>
}

// -----

// A router result reshaped before it is yielded: a reshape renames the
// row-major elements, so the router stage writes its [4, 2] ids into the
// [8] output viewed as [4, 2].
// CHECK-LABEL: func.func @reshaped
// CHECK: gpu.func @r(
// CHECK-SAME: iolite.template = "moe_router"
// CHECK: memref.expand_shape %arg1 {{\[}}[0, 1]] output_shape [4, 2] : memref<8xi32> into memref<4x2xi32>
// CHECK: memref.store {{.*}} : memref<4x2xi32>
func.func @reshaped(%l: tensor<4x8xf32>) -> tensor<8xi32> {
  %y = iolite.kernel "r" (%l) : (tensor<4x8xf32>) -> tensor<8xi32> {
  ^bb0(%a: tensor<4x8xf32>):
    %rw, %ri = iolite.router %a {k = 2 : i64} : tensor<4x8xf32>
    %f = iolite.reshape %ri : tensor<4x2xi32> -> tensor<8xi32>
    iolite.yield %f : tensor<8xi32>
  }
  return %y : tensor<8xi32>
}

// -----

// A kernel the MoE stages cannot write (a router result transposed before
// it is yielded) falls back to the elemental template.
// CHECK-LABEL: func.func @not_moe
// CHECK: iolite.template = "elemental"
func.func @not_moe(%l: tensor<4x8xf32>) -> tensor<2x4xi32> {
  %y = iolite.kernel "n" (%l) : (tensor<4x8xf32>) -> tensor<2x4xi32> {
  ^bb0(%a: tensor<4x8xf32>):
    %rw, %ri = iolite.router %a {k = 2 : i64} : tensor<4x8xf32>
    %f = iolite.transpose %ri [1, 0] : tensor<4x2xi32>
    iolite.yield %f : tensor<2x4xi32>
  }
  return %y : tensor<2x4xi32>
}

// -----

// A run-time token count (docs/dynamic-shapes.md): the combine's launches
// take the symbol after their buffers, the invert launches cover the call's
// T*k rows and the combine's grid the call's tokens (iolite.grid_extents).
// The inverse permutation is scratch sized at the bounds (32 tokens x 2
// slots x 4 bytes): the host's workspace grows by it, and its workspace
// parameter stays before the symbol's.
// CHECK-LABEL: func.func @combine_dynamic(
// CHECK-SAME: %{{[^:]*}}: memref<512xf32> {{{[^}]*}}}, %{{[^:]*}}: memref<256xi8>, %{{[^:]*}}: i64)
// CHECK-SAME: iolite.workspace_size = 256 : i64
// CHECK: gpu.func @combine_dyn_invert(%{{[^:]*}}: memref<1024xf32>, %{{[^:]*}}: memref<64xi32>, %{{[^:]*}}: memref<64xf32>, %{{[^:]*}}: memref<512xf32>, %[[TOKENS:[^:]*]]: i64, %{{[^:]*}}: memref<256xi8>)
// CHECK-SAME: iolite.grid_extents = [array<i64: 256, 2, 1>, array<i64: 1, 1, 0>, array<i64: 1, 1, 0>]
// CHECK-SAME: iolite.scratch_bytes = 256 : i64
// CHECK: %[[T:.*]] = arith.index_cast %[[TOKENS]] : i64 to index
// CHECK: %[[ROWS:.*]] = arith.muli %[[T]], %c2{{.*}} : index
// CHECK: arith.cmpi slt, %{{.*}}, %[[ROWS]] : index
// CHECK: memref.atomic_rmw maxs
// CHECK: gpu.func @combine_dyn_combine(
// CHECK-SAME: iolite.grid_extents = [array<i64: 1, 1, 0>, array<i64: 8, 1, 1>, array<i64: 1, 1, 0>]
// CHECK-SAME: iolite.tile = "combine tile 8 tokens x 16 columns, 2 slots"
// AMD-LABEL: func.func @combine_dynamic(
// AMD-SAME: iolite.workspace_size = 256 : i64

func.func @combine_dynamic(%o: tensor<?x2x16xf32> {iolite.dims = ["tokens", "", ""]}, %ri: tensor<?x2xi32> {iolite.dims = ["tokens", ""]}, %w: tensor<?x2xf32> {iolite.dims = ["tokens", ""]}) -> tensor<?x16xf32> attributes {iolite.dim_bounds = {tokens = array<i64: 1, 32>}} {
  %r = iolite.kernel "combine_dyn" (%o, %ri, %w) : (tensor<?x2x16xf32>, tensor<?x2xi32>, tensor<?x2xf32>) -> tensor<?x16xf32> {
  ^bb0(%a0: tensor<?x2x16xf32>, %a1: tensor<?x2xi32>, %a2: tensor<?x2xf32>):
    %rows = iolite.reshape %a0 : tensor<?x2x16xf32> -> tensor<?x16xf32>
    %idx = iolite.reshape %a1 : tensor<?x2xi32> -> tensor<?xi32>
    %y = iolite.combine %rows, %idx, %a2 : tensor<?x16xf32>, tensor<?xi32>, tensor<?x2xf32>
    iolite.yield %y : tensor<?x16xf32>
  }
  return %r : tensor<?x16xf32>
}
