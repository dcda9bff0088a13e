// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=sm_90a | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=gfx942 | FileCheck %s --check-prefix=AMD

// iolite.kv_cache_append through its template (lib/Codegen/Templates/
// KvCacheAppend.cpp): one block per new token, and the updated caches are
// the cache arguments' own buffers (the host passes %kc and %vc for the
// kernel's results; the output parameters say which input they are tied
// to), so only the new rows are written.

// Decode into a contiguous f16 cache: grid (1 token, 2 sequences). The
// block's first thread reads its sequence's length and shares the token's
// row, slot and whether it lies in [0, 64) through shared memory; a token
// outside is dropped, and the threads copy its 2x16 keys and values in runs
// of 8 (16 bytes).
// CHECK-LABEL: func.func @decode_append
// CHECK-SAME: (%[[KC:.*]]: memref<2x64x2x16xf16>, %[[VC:.*]]: memref<2x64x2x16xf16>, %[[K:.*]]: memref<2x1x2x16xf16>, %[[V:.*]]: memref<2x1x2x16xf16>, %[[LENS:.*]]: memref<2xi32>, %{{.*}}: memref<2x64x2x16xf16> {iolite.tied_input = 0 : i64}, %{{.*}}: memref<2x64x2x16xf16> {iolite.tied_input = 1 : i64}, %{{.*}}: memref<1xi8>)
// CHECK: gpu.launch_func @iolite_kernels::@append blocks in ({{.*}}) threads in ({{.*}}) {{.*}} args(%[[KC]] : {{.*}}, %[[VC]] : {{.*}}, %[[K]] : {{.*}}, %[[V]] : {{.*}}, %[[LENS]] : {{.*}}, %[[KC]] : memref<2x64x2x16xf16>, %[[VC]] : memref<2x64x2x16xf16>)
// CHECK: gpu.func @append({{.*}}, %[[GK:.*]]: memref<2x1x2x16xf16>, %[[GV:.*]]: memref<2x1x2x16xf16>, %[[GL:.*]]: memref<2xi32>, %[[OKC:.*]]: memref<2x64x2x16xf16>, %[[OV:.*]]: memref<2x64x2x16xf16>) kernel
// CHECK-SAME: iolite.grid = array<i64: 1, 2, 1>
// CHECK-SAME: iolite.shared_memory_bytes = 12
// CHECK-SAME: iolite.template = "kv_cache_append"
// CHECK-SAME: iolite.tile = "one block per new token, runs of up to 8 elements"
// CHECK: %[[PLACE:.*]] = memref.view {{.*}} to memref<3xi32, #gpu.address_space<workgroup>>
// CHECK: %[[T:.*]] = gpu.block_id  x
// CHECK: %[[B:.*]] = gpu.block_id  y
// CHECK: %[[TID:.*]] = gpu.thread_id  x
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[TID]]
// CHECK: scf.if %[[FIRST]] {
// CHECK: %[[N:.*]] = memref.load %[[GL]][%[[B]]] : memref<2xi32>
// CHECK: %[[NI:.*]] = arith.index_cast %[[N]] : i32 to index
// CHECK: %[[POS:.*]] = arith.addi %[[NI]], %[[T]] : index
// CHECK: %[[LO:.*]] = arith.cmpi sge, %[[POS]], %{{.*}}
// CHECK: %[[HI:.*]] = arith.cmpi slt, %[[POS]], %c64
// CHECK: %[[OKPOS:.*]] = arith.andi %[[LO]], %[[HI]]
// CHECK: memref.store %{{.*}}, %[[PLACE]]
// CHECK: memref.store %{{.*}}, %[[PLACE]]
// CHECK: memref.store %{{.*}}, %[[PLACE]]
// CHECK: }
// CHECK-NEXT: gpu.barrier
// CHECK: %[[ROW:.*]] = memref.load %[[PLACE]]
// CHECK: %[[SLOT:.*]] = memref.load %[[PLACE]]
// CHECK: %[[VALID:.*]] = memref.load %[[PLACE]]
// CHECK: %[[VI:.*]] = arith.index_cast %[[VALID]]
// CHECK: %[[OK:.*]] = arith.cmpi eq, %[[VI]]
// CHECK: scf.if %[[OK]]
// CHECK: scf.for
// CHECK: vector.load %{{.*}} : memref<64xf16>, vector<8xf16>
// CHECK: memref.collapse_shape %[[OKC]]
// CHECK: arith.muli %{{.*}}, %c64
// CHECK: vector.store %{{.*}} : memref<4096xf16>, vector<8xf16>
// CHECK: scf.for
// CHECK: vector.load %{{.*}} : memref<64xf16>, vector<8xf16>
// CHECK: memref.collapse_shape %[[OV]]
// CHECK: vector.store %{{.*}} : memref<4096xf16>, vector<8xf16>
// AMD-LABEL: func.func @decode_append
// AMD: gpu.func @append
// AMD-SAME: iolite.block = array<i64: 64, 1, 1>
// AMD-SAME: iolite.grid = array<i64: 1, 2, 1>
func.func @decode_append(%kc: tensor<2x64x2x16xf16>, %vc: tensor<2x64x2x16xf16>,
                         %k: tensor<2x1x2x16xf16>, %v: tensor<2x1x2x16xf16>,
                         %lens: tensor<2xi32>)
    -> (tensor<2x64x2x16xf16>, tensor<2x64x2x16xf16>) {
  %c:2 = iolite.kernel "append"(%kc, %vc, %k, %v, %lens)
      : (tensor<2x64x2x16xf16>, tensor<2x64x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi32>)
        -> (tensor<2x64x2x16xf16>, tensor<2x64x2x16xf16>) {
  ^bb0(%a: tensor<2x64x2x16xf16>, %b: tensor<2x64x2x16xf16>, %x: tensor<2x1x2x16xf16>, %y: tensor<2x1x2x16xf16>, %l: tensor<2xi32>):
    %r:2 = iolite.kv_cache_append %a, %b, %x, %y, %l
        : tensor<2x64x2x16xf16>, tensor<2x64x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi32>
    iolite.yield %r#0, %r#1 : tensor<2x64x2x16xf16>, tensor<2x64x2x16xf16>
  }
  return %c#0, %c#1 : tensor<2x64x2x16xf16>, tensor<2x64x2x16xf16>
}

// -----

// A paged pool of 16 pages of 4 tokens, bf16, written from f32 keys cast in
// the kernel's prologue (runs of 4: one 16-byte f32 load each). Position p
// is slot p mod 4 of page table[b, p / 4]; the first thread reads the entry
// at a clamped index and shares the page and slot, and a block past the
// table or a page outside [0, 16) writes nothing. Only the key result is used: the value pool is not written.
// CHECK-LABEL: func.func @paged_prologue
// CHECK: gpu.launch_func @iolite_kernels::@append {{.*}} args(%[[POOL:[^ ]*]] : {{.*}}, %[[POOL]] : memref<16x4x2x16xbf16>)
// CHECK: gpu.func @append({{.*}}, %[[GL:.*]]: memref<3xi32>, %[[GT:.*]]: memref<3x5xi32>, %[[OUT:.*]]: memref<16x4x2x16xbf16>) kernel
// CHECK-SAME: iolite.grid = array<i64: 2, 3, 1>
// CHECK-SAME: iolite.source_ops = ["iolite.cast", "iolite.cast", "iolite.kv_cache_append"]
// CHECK-SAME: iolite.tile = "one block per new token, runs of up to 4 elements"
// CHECK: %[[PLACE:.*]] = memref.view {{.*}} to memref<3xi32, #gpu.address_space<workgroup>>
// CHECK: %[[B:.*]] = gpu.block_id  y
// CHECK: scf.if
// CHECK: memref.load %[[GL]][%[[B]]]
// CHECK: %[[POS:.*]] = arith.addi
// CHECK: %[[BLOCK:.*]] = arith.divsi %[[POS]], %c4
// CHECK: %[[SLOT:.*]] = arith.remsi %[[POS]], %c4
// CHECK: arith.cmpi slt, %[[BLOCK]], %c5
// CHECK: %[[LOW:.*]] = arith.maxsi %[[BLOCK]]
// CHECK: %[[CLAMPED:.*]] = arith.minsi %[[LOW]]
// CHECK: %[[ENTRY:.*]] = memref.load %[[GT]][%[[B]], %[[CLAMPED]]] : memref<3x5xi32>
// CHECK: %[[PAGE:.*]] = arith.index_cast %[[ENTRY]]
// CHECK: arith.cmpi sge, %[[PAGE]]
// CHECK: arith.cmpi slt, %[[PAGE]], %c16
// CHECK: %[[PAGE32:.*]] = arith.index_cast %[[PAGE]] : index to i32
// CHECK: memref.store %[[PAGE32]], %[[PLACE]]
// CHECK: %[[SLOT32:.*]] = arith.index_cast %[[SLOT]] : index to i32
// CHECK: memref.store %[[SLOT32]], %[[PLACE]]
// CHECK: gpu.barrier
// CHECK: %[[ROW:.*]] = memref.load %[[PLACE]]
// CHECK: %[[ROWI:.*]] = arith.index_cast %[[ROW]]
// CHECK: %[[S:.*]] = memref.load %[[PLACE]]
// CHECK: %[[SI:.*]] = arith.index_cast %[[S]]
// CHECK: scf.if
// CHECK: scf.for
// CHECK: vector.load %{{.*}} : memref<192xf32>, vector<4xf32>
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.collapse_shape %[[OUT]]
// CHECK: arith.muli %[[ROWI]], %c4
// CHECK: arith.addi %{{.*}}, %[[SI]]
// CHECK: vector.store %{{.*}} : memref<2048xbf16>, vector<4xbf16>
// CHECK-NOT: vector.store
// CHECK: gpu.return
func.func @paged_prologue(%pool: tensor<16x4x2x16xbf16>, %k: tensor<3x2x2x16xf32>,
                          %v: tensor<3x2x2x16xf32>, %lens: tensor<3xi32>, %table: tensor<3x5xi32>)
    -> (tensor<16x4x2x16xbf16>) {
  %c = iolite.kernel "append"(%pool, %k, %v, %lens, %table)
      : (tensor<16x4x2x16xbf16>, tensor<3x2x2x16xf32>, tensor<3x2x2x16xf32>, tensor<3xi32>, tensor<3x5xi32>)
        -> tensor<16x4x2x16xbf16> {
  ^bb0(%a: tensor<16x4x2x16xbf16>, %x: tensor<3x2x2x16xf32>, %y: tensor<3x2x2x16xf32>, %l: tensor<3xi32>, %t: tensor<3x5xi32>):
    %xk = iolite.cast %x : tensor<3x2x2x16xf32> to tensor<3x2x2x16xbf16>
    %yk = iolite.cast %y : tensor<3x2x2x16xf32> to tensor<3x2x2x16xbf16>
    %r:2 = iolite.kv_cache_append %a, %a, %xk, %yk, %l block_table(%t : tensor<3x5xi32>)
        : tensor<16x4x2x16xbf16>, tensor<16x4x2x16xbf16>, tensor<3x2x2x16xbf16>, tensor<3x2x2x16xbf16>, tensor<3xi32>
    iolite.yield %r#0 : tensor<16x4x2x16xbf16>
  }
  return %c : tensor<16x4x2x16xbf16>
}
