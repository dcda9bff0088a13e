// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=sm_90a | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=gfx942 | FileCheck %s --check-prefix=AMD

// iolite.varlen_attention through the attention template (lib/Codegen/
// Templates/Attention.cpp, docs/attention.md "Variable-length batches"):
// the kernels of iolite.attention over a packed [T, H, D] batch, one block
// per (q tile, kv head, sequence), each sequence's rows and keys read from
// cu_seqlens_q / cu_seqlens_k inside the kernel.

// Causal GQA 4:1 on the FMA units (f32): 4 sequences packed into 300 query
// and 400 key rows, max_seqlen_q = 128, so the grid is (4 x 128-row tiles of
// 512 packed (position, head) rows, 2 kv heads, 4 sequences + 1). The slice
// z = 4 zeroes the rows outside [cu_q[0], cu_q[4]) (clamped into [0, 300]).
// A sequence block loads its four boundaries (once per block, through
// shared memory), clamps them (start into
// [0, T], end into [start, T]), returns at once when its tile starts past
// the sequence's rows, loops over ceil(keys / 64) KV tiles cut at the
// causal diagonal (at the unclamped ends), reads K/V rows k0 + j only below
// the sequence's key count, and stores only rows inside its sequence.
// CHECK-LABEL: func.func @prefill_f32
// CHECK: gpu.launch_func @iolite_kernels::@prefill_f32_k0_varlen_attention blocks in (%c4, %c2, %c5)
// CHECK-NOT: gpu.launch_func
// CHECK: gpu.func @prefill_f32_k0_varlen_attention(%[[Q:.*]]: memref<300x8x16xf32>, %[[K:.*]]: memref<400x2x16xf32>, %[[V:.*]]: memref<400x2x16xf32>, %[[CUQ:.*]]: memref<5xi32>, %[[CUK:.*]]: memref<5xi32>, %[[OUT:.*]]: memref<300x8x16xf32>) kernel
// CHECK-SAME: iolite.grid = array<i64: 4, 2, 5>
// CHECK-SAME: iolite.matrix = "fma"
// CHECK-SAME: iolite.template = "attention"
// CHECK-SAME: iolite.tile = "attention tile 128x64 (query rows x keys), 16x16 threads, 2 stage(s), 1 kv split(s)"
// The zero slice.
// CHECK: %[[Z:.*]] = gpu.block_id z
// CHECK: %[[ISZ:.*]] = arith.cmpi eq, %[[Z]], %c4
// CHECK: scf.if %[[ISZ]] {
// Thread 0 reads cu_q[0] and cu_q[4] into shared memory; after a barrier
// every thread reads them there.
// CHECK: %[[ZSEQ:.*]] = memref.view %{{.*}} to memref<4xi32, #gpu.address_space<workgroup>>
// CHECK: %[[ZT0:.*]] = arith.cmpi eq, %{{.*}}, %c0
// CHECK: scf.if %[[ZT0]] {
// CHECK: %[[F0G:.*]] = memref.load %[[CUQ]][%c0{{.*}}] : memref<5xi32>
// CHECK: memref.store %[[F0G]], %[[ZSEQ]][%c0{{.*}}]
// CHECK: %[[L0G:.*]] = memref.load %[[CUQ]][%c4{{.*}}] : memref<5xi32>
// CHECK: memref.store %[[L0G]], %[[ZSEQ]][%c1{{.*}}]
// CHECK: gpu.barrier
// CHECK: %[[F0:.*]] = memref.load %[[ZSEQ]][%c0{{.*}}]
// CHECK: %[[F1:.*]] = arith.index_cast %[[F0]]
// CHECK: %[[L0:.*]] = memref.load %[[ZSEQ]][%c1{{.*}}]
// CHECK: %[[L1:.*]] = arith.index_cast %[[L0]]
// CHECK: %[[F2:.*]] = arith.maxsi %[[F1]]
// CHECK: %[[FIRST:.*]] = arith.minsi %[[F2]], %c300
// CHECK: %[[L2:.*]] = arith.maxsi %[[L1]], %[[FIRST]]
// CHECK: %[[LAST:.*]] = arith.minsi %[[L2]], %c300
// CHECK: %[[COVERED:.*]] = arith.subi %[[LAST]], %[[FIRST]]
// CHECK: %[[UNCOV:.*]] = arith.subi %c300{{.*}}, %[[COVERED]]
// CHECK: %[[ELEMS:.*]] = arith.muli %[[UNCOV]], %c128
// CHECK: scf.for %[[E:.*]] = %{{.*}} to %[[ELEMS]] step %c2048
// CHECK: %[[BEFORE:.*]] = arith.cmpi slt, %[[R:.*]], %[[FIRST]]
// CHECK: %[[AFTER:.*]] = arith.addi %[[R]], %[[COVERED]]
// CHECK: %[[ROW:.*]] = arith.select %[[BEFORE]], %[[R]], %[[AFTER]]
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[ROW]], %{{.*}}, %{{.*}}] : memref<300x8x16xf32>
// CHECK: } else {
// A sequence's block: its boundaries.
// CHECK: %[[X:.*]] = gpu.block_id x
// CHECK: %[[ROWBASE:.*]] = arith.muli %[[X]], %c128
// CHECK: %[[HKV:.*]] = gpu.block_id y
// CHECK: %[[B:.*]] = gpu.block_id z
// CHECK: %[[B1:.*]] = arith.addi %[[B]], %c1
// Read once per block: thread 0 stages them in shared memory.
// CHECK: %[[SEQ:.*]] = memref.view %{{.*}} to memref<4xi32, #gpu.address_space<workgroup>>
// CHECK: %[[T0:.*]] = arith.cmpi eq, %{{.*}}, %c0
// CHECK: scf.if %[[T0]] {
// CHECK: %[[Q0G:.*]] = memref.load %[[CUQ]][%[[B]]] : memref<5xi32>
// CHECK: memref.store %[[Q0G]], %[[SEQ]][%c0{{.*}}]
// CHECK: %[[Q1G:.*]] = memref.load %[[CUQ]][%[[B1]]] : memref<5xi32>
// CHECK: memref.store %[[Q1G]], %[[SEQ]][%c1{{.*}}]
// CHECK: %[[K0G:.*]] = memref.load %[[CUK]][%[[B]]] : memref<5xi32>
// CHECK: memref.store %[[K0G]], %[[SEQ]][%c2{{.*}}]
// CHECK: %[[K1G:.*]] = memref.load %[[CUK]][%[[B1]]] : memref<5xi32>
// CHECK: memref.store %[[K1G]], %[[SEQ]][%c3{{.*}}]
// CHECK: gpu.barrier
// CHECK: %[[Q0R:.*]] = memref.load %[[SEQ]][%c0{{.*}}]
// CHECK: %[[Q0I:.*]] = arith.index_cast %[[Q0R]]
// CHECK: %[[Q1R:.*]] = memref.load %[[SEQ]][%c1{{.*}}]
// CHECK: %[[Q1I:.*]] = arith.index_cast %[[Q1R]]
// CHECK: %[[K0R:.*]] = memref.load %[[SEQ]][%c2{{.*}}]
// CHECK: %[[K0I:.*]] = arith.index_cast %[[K0R]]
// CHECK: %[[K1R:.*]] = memref.load %[[SEQ]][%c3{{.*}}]
// CHECK: %[[K1I:.*]] = arith.index_cast %[[K1R]]
// CHECK: %[[QS0:.*]] = arith.maxsi %[[Q0I]], %c0
// CHECK: %[[QSTART:.*]] = arith.minsi %[[QS0]], %c300
// CHECK: %[[QE0:.*]] = arith.maxsi %[[Q1I]], %[[QSTART]]
// CHECK: %[[QEND:.*]] = arith.minsi %[[QE0]], %c300
// CHECK: %[[KS0:.*]] = arith.maxsi %[[K0I]], %c0
// CHECK: %[[KSTART:.*]] = arith.minsi %[[KS0]], %c400
// CHECK: %[[KE0:.*]] = arith.maxsi %[[K1I]], %[[KSTART]]
// CHECK: %[[KEND:.*]] = arith.minsi %[[KE0]], %c400
// CHECK: %[[LQ:.*]] = arith.subi %[[QEND]], %[[QSTART]]
// CHECK: %[[LK:.*]] = arith.subi %[[KEND]], %[[KSTART]]
// CHECK: %[[ROWS:.*]] = arith.muli %[[LQ]], %c4
// The causal diagonal from the unclamped ends: local key <= local query +
// qStart + cu_k[b+1] - cu_q[b+1] - kStart.
// CHECK: %[[D0:.*]] = arith.subi %[[K1I]], %[[Q1I]]
// CHECK: %[[D1:.*]] = arith.addi %[[QSTART]], %[[D0]]
// CHECK: %[[OFFSET:.*]] = arith.subi %[[D1]], %[[KSTART]]
// The early exit.
// CHECK: %[[LIVE:.*]] = arith.cmpi slt, %[[ROWBASE]], %[[ROWS]]
// CHECK: scf.if %[[LIVE]] {
// Q rows of the sequence, packed row qStart + i.
// CHECK: %[[QROW:.*]] = arith.addi %[[QSTART]], %{{.*}}
// CHECK: %[[QIN:.*]] = arith.cmpi slt, %{{.*}}, %[[ROWS]]
// CHECK: scf.if %[[QIN]]
// CHECK: memref.load %[[Q]][%[[QROW]], %{{.*}}, %{{.*}}] : memref<300x8x16xf32>
// The KV loop: ceil(keys / 64) tiles, cut at the diagonal of the tile's
// last row.
// CHECK: %[[KT0:.*]] = arith.addi %[[LK]], %c63
// CHECK: arith.divui %[[KT0]], %c64
// CHECK: %[[LASTROW0:.*]] = arith.minsi %{{.*}}, %[[ROWS]]
// CHECK: %[[LASTROW:.*]] = arith.subi %[[LASTROW0]], %c1
// CHECK: %[[LASTI:.*]] = arith.divui %[[LASTROW]], %c4
// CHECK: %[[LASTPOS:.*]] = arith.addi %[[LASTI]], %[[OFFSET]]
// CHECK: %[[END0:.*]] = arith.addi %[[LASTPOS]], %c1
// CHECK: %[[END1:.*]] = arith.maxsi %[[END0]], %c0
// CHECK: %[[END:.*]] = arith.minsi %[[END1]], %[[LK]]
// CHECK: %[[TE0:.*]] = arith.addi %[[END]], %c63
// CHECK: %[[TEND:.*]] = arith.divui %[[TE0]], %c64
// K rows kStart + j, read only for j below the sequence's keys.
// CHECK: %[[KIN:.*]] = arith.cmpi slt, %[[J:.*]], %[[LK]]
// CHECK: scf.if %[[KIN]]
// CHECK: %[[KROW:.*]] = arith.addi %[[KSTART]], %[[J]]
// CHECK: memref.load %[[K]][%[[KROW]], %[[HKV]], %{{.*}}] : memref<400x2x16xf32>
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %[[TEND]] step
// Stores: only rows of the sequence, at packed row qStart + i.
// CHECK: scf.if %[[SIN:.*]] {
// CHECK: %[[OROW:.*]] = arith.addi %[[QSTART]], %{{.*}}
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[OROW]], %{{.*}}, %{{.*}}] : memref<300x8x16xf32>
// AMD-LABEL: func.func @prefill_f32
// AMD: iolite.grid = array<i64: {{[0-9]+}}, 2, 5>
// AMD-SAME: iolite.matrix = "fma"
// AMD-SAME: iolite.template = "attention"
// AMD: memref.load %{{.*}} : memref<5xi32>
// AMD: scf.if
func.func @prefill_f32(%q: tensor<300x8x16xf32>, %k: tensor<400x2x16xf32>, %v: tensor<400x2x16xf32>, %cuq: tensor<5xi32>, %cuk: tensor<5xi32>) -> tensor<300x8x16xf32> {
  %0 = iolite.kernel "prefill_f32_k0_varlen_attention"(%q, %k, %v, %cuq, %cuk) : (tensor<300x8x16xf32>, tensor<400x2x16xf32>, tensor<400x2x16xf32>, tensor<5xi32>, tensor<5xi32>) -> tensor<300x8x16xf32> {
  ^bb0(%a0: tensor<300x8x16xf32>, %a1: tensor<400x2x16xf32>, %a2: tensor<400x2x16xf32>, %a3: tensor<5xi32>, %a4: tensor<5xi32>):
    %1 = iolite.varlen_attention %a0, %a1, %a2, %a3, %a4 {causal, max_seqlen_q = 128} : tensor<300x8x16xf32>, tensor<400x2x16xf32>, tensor<400x2x16xf32>, tensor<5xi32>, tensor<5xi32>
    iolite.yield %1 : tensor<300x8x16xf32>
  }
  return %0 : tensor<300x8x16xf32>
}

// -----

// f16 on the matrix units (mma.sync on sm_90a, MFMA on gfx942), not causal,
// with a cast epilogue: the Q fragments are read from packed rows
// qStart + i, K/V rows kStart + j go through registers (no cp.async: the
// rows depend on the sequence, as a cache's do), the loop runs over every
// KV tile of the sequence's keys, and the epilogue's f32 output is stored
// only inside the sequence. Without max_seqlen_q the grid covers the whole
// packed length: 96 rows x 2 heads per kv head in 128-row tiles.
// CHECK-LABEL: func.func @prefill_f16_cast
// CHECK: gpu.func @prefill_f16_cast_k0_varlen_attention(%[[Q:.*]]: memref<96x4x64xf16>, %[[K:.*]]: memref<80x2x64xf16>, %[[V:.*]]: memref<80x2x64xf16>, %[[CUQ:.*]]: memref<4xi32>, %[[CUK:.*]]: memref<4xi32>, %[[OUT:.*]]: memref<96x4x64xf32>) kernel
// CHECK-SAME: iolite.grid = array<i64: 2, 2, 4>
// CHECK-SAME: iolite.matrix = "nv_m16n8k16_f16"
// CHECK-NOT: nvgpu.device_async_copy
// CHECK: scf.if %{{.*}} {
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: } else {
// CHECK: memref.load %[[CUQ]]
// CHECK: memref.load %[[CUK]]
// CHECK: %[[LIVE:.*]] = arith.cmpi slt
// CHECK: scf.if %[[LIVE]] {
// CHECK: memref.collapse_shape %[[Q]]
// CHECK: memref.collapse_shape %[[K]]
// CHECK: iolite_gpu.mma nv_m16n8k16_f16
// CHECK: arith.extf
// CHECK: memref.store %{{.*}}, %[[OUT]]{{.*}} : memref<96x4x64xf32>
// AMD-LABEL: func.func @prefill_f16_cast
// AMD: iolite.grid = array<i64: {{[0-9]+}}, 2, 4>
// AMD-SAME: iolite.matrix = "amd_mfma_{{.*}}_f16"
// AMD: memref.load %{{.*}} : memref<4xi32>
// AMD: iolite_gpu.mma amd_mfma_{{.*}}_f16
// AMD: memref.store %{{.*}} : memref<96x4x64xf32>
func.func @prefill_f16_cast(%q: tensor<96x4x64xf16>, %k: tensor<80x2x64xf16>, %v: tensor<80x2x64xf16>, %cuq: tensor<4xi32>, %cuk: tensor<4xi32>) -> tensor<96x4x64xf32> {
  %0 = iolite.kernel "prefill_f16_cast_k0_varlen_attention"(%q, %k, %v, %cuq, %cuk) : (tensor<96x4x64xf16>, tensor<80x2x64xf16>, tensor<80x2x64xf16>, tensor<4xi32>, tensor<4xi32>) -> tensor<96x4x64xf32> {
  ^bb0(%a0: tensor<96x4x64xf16>, %a1: tensor<80x2x64xf16>, %a2: tensor<80x2x64xf16>, %a3: tensor<4xi32>, %a4: tensor<4xi32>):
    %1 = iolite.varlen_attention %a0, %a1, %a2, %a3, %a4 : tensor<96x4x64xf16>, tensor<80x2x64xf16>, tensor<80x2x64xf16>, tensor<4xi32>, tensor<4xi32>
    %2 = iolite.cast %1 : tensor<96x4x64xf16> to tensor<96x4x64xf32>
    iolite.yield %2 : tensor<96x4x64xf32>
  }
  return %0 : tensor<96x4x64xf32>
}

// -----

// Symbolic packed lengths and number of sequences (docs/dynamic-shapes.md):
// the kernel takes the symbols (cu, tk, tq: dim_bounds order) as i64
// parameters. Without max_seqlen_q the grid is ceil(2 tq / 128) q tiles x 2
// kv heads x cu (= B + 1) slices; the zero slice is z = cu - 1, its stride
// every thread of gridDim.x x 2 blocks; boundaries clamp into the call's
// Tq and Tk.
// CHECK-LABEL: func.func @symbolic
// CHECK: gpu.launch_func @iolite_kernels::@symbolic_k0_varlen_attention blocks in
// CHECK: gpu.func @symbolic_k0_varlen_attention(%{{.*}}: memref<32768xf32>, %{{.*}}: memref<16384xf32>, %{{.*}}: memref<16384xf32>, %{{.*}}: memref<9xi32>, %{{.*}}: memref<9xi32>, %{{.*}}: memref<32768xf32>, %[[CU:.*]]: i64, %[[TK:.*]]: i64, %[[TQ:.*]]: i64) kernel
// CHECK-SAME: iolite.grid = array<i64: 8, 2, 9>
// CHECK: %[[NCU:.*]] = arith.index_cast %[[CU]] : i64 to index
// CHECK: %[[NTK:.*]] = arith.index_cast %[[TK]] : i64 to index
// CHECK: %[[NTQ:.*]] = arith.index_cast %[[TQ]] : i64 to index
// CHECK: %[[CUQ:.*]] = memref.reinterpret_cast %arg3 to offset: [0], sizes: [%[[NCU]]], strides: [1] : memref<9xi32> to memref<?xi32>
// CHECK: %[[OUT:.*]] = memref.reinterpret_cast %arg5 to offset: [0], sizes: [%[[NTQ]], 4, 16], strides: [64, 16, 1] : memref<32768xf32> to memref<?x4x16xf32>
// CHECK: %[[B:.*]] = arith.subi %[[NCU]], %c1
// CHECK: %[[R:.*]] = arith.muli %[[NTQ]], %c2
// CHECK: %[[TILES:.*]] = arith.ceildivui %[[R]], %c128
// CHECK: %[[ISZ:.*]] = arith.cmpi eq, %block_id_z, %[[B]]
// CHECK: scf.if %[[ISZ]] {
// CHECK: memref.load %[[CUQ]][%c0{{.*}}] : memref<?xi32>
// CHECK: memref.load %[[CUQ]][%[[B]]] : memref<?xi32>
// CHECK: gpu.barrier
// CHECK: arith.minsi %{{.*}}, %[[NTQ]]
// CHECK: %[[STRIDE:.*]] = arith.muli %[[TILES]], %c512
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[STRIDE]]
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: } else {
// CHECK: arith.minsi %{{.*}}, %[[NTQ]]
// CHECK: arith.minsi %{{.*}}, %[[NTK]]
// AMD-LABEL: func.func @symbolic
// AMD: iolite.template = "attention"
func.func @symbolic(%q: tensor<?x4x16xf32> {iolite.dims = ["tq", "", ""]}, %k: tensor<?x2x16xf32> {iolite.dims = ["tk", "", ""]}, %v: tensor<?x2x16xf32> {iolite.dims = ["tk", "", ""]}, %cuq: tensor<?xi32> {iolite.dims = ["cu"]}, %cuk: tensor<?xi32> {iolite.dims = ["cu"]}) -> tensor<?x4x16xf32>
    attributes {iolite.dim_bounds = {cu = array<i64: 2, 9>, tq = array<i64: 1, 512>, tk = array<i64: 1, 512>}} {
  %o = iolite.kernel "symbolic_k0_varlen_attention" (%q, %k, %v, %cuq, %cuk) : (tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<?xi32>, tensor<?xi32>) -> tensor<?x4x16xf32> {
  ^bb0(%a: tensor<?x4x16xf32>, %b: tensor<?x2x16xf32>, %c: tensor<?x2x16xf32>, %d: tensor<?xi32>, %e: tensor<?xi32>):
    %r = iolite.varlen_attention %a, %b, %c, %d, %e {causal} : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<?xi32>, tensor<?xi32>
    iolite.yield %r : tensor<?x4x16xf32>
  }
  return %o : tensor<?x4x16xf32>
}
