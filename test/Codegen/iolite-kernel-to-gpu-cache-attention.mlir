// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=sm_90a | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=gfx942 | FileCheck %s --check-prefix=AMD

// iolite.cache_attention through the attention template (lib/Codegen/
// Templates/Attention.cpp, docs/attention.md): the same kernels as
// iolite.attention with [B, S, H, D] addressing, keys read from a KV cache
// up to each sequence's length, which every block loads from cache_seqlens.

// Decode (one query, GQA 4) over a contiguous f32 cache of 1024 keys, on
// the FMA units. The block's length is read once and clamped into
// [0, 1024]; it bounds the KV tile loop (64-key tiles) and decides the
// sequence's KV split (flash-decoding: up to 7 blocks along z; a block
// past its sequence's split returns). K is read at [batch, key, kv head, d]
// only below the length. The combine kernel reads each row's length again
// and merges only the rows whose sequence split.
// CHECK-LABEL: func.func @decode_split
// CHECK: gpu.launch_func @iolite_kernels::@decode_split_k0_cache_attention blocks in
// CHECK: gpu.launch_func @iolite_kernels::@decode_split_k0_cache_attention_combine blocks in
// CHECK: gpu.func @decode_split_k0_cache_attention(%[[Q:.*]]: memref<2x1x8x16xf32>, %[[K:.*]]: memref<2x1024x2x16xf32>, %[[V:.*]]: memref<2x1024x2x16xf32>, %[[LENS:.*]]: memref<2xi32>, %[[OUT:.*]]: memref<2x1x8x16xf32>, %{{.*}}: memref<{{[0-9]+}}xi8>) kernel
// CHECK-SAME: iolite.grid = array<i64: 1, 4, 7>
// CHECK-SAME: iolite.matrix = "fma"
// CHECK-SAME: iolite.template = "attention"
// CHECK-SAME: iolite.tile = "attention tile 4x64 (query rows x keys), 4x16 threads, 2 stage(s), up to 7 kv split(s) per launch"
// CHECK: %[[BH:.*]] = gpu.block_id y
// CHECK: %[[B:.*]] = arith.divui %[[BH]]
// CHECK: %[[HKV:.*]] = arith.remui %[[BH]]
// CHECK: %[[SPLIT:.*]] = gpu.block_id z
// CHECK: %[[RAW:.*]] = memref.load %[[LENS]][%[[B]]] : memref<2xi32>
// CHECK: %[[NI:.*]] = arith.index_cast %[[RAW]] : i32 to index
// CHECK: %[[NPOS:.*]] = arith.maxsi %[[NI]], %{{.*}}
// CHECK: %[[N:.*]] = arith.minsi %[[NPOS]], %{{.*}}
// CHECK: arith.ceildivui %[[N]], %{{.*}}
// CHECK: %[[SPLITS:.*]] = arith.select
// CHECK: arith.cmpi ult, %[[SPLIT]], %[[SPLITS]]
// CHECK: scf.if
// CHECK: memref.load %[[Q]][%[[B]], %{{.*}}, %{{.*}}, %{{.*}}] : memref<2x1x8x16xf32>
// CHECK: %[[LAST:.*]] = arith.addi %[[N]], %{{.*}}
// CHECK: arith.divui %[[LAST]]
// CHECK: scf.if
// CHECK: %[[KEY:.*]] = arith.addi
// CHECK: %[[IN:.*]] = arith.cmpi slt, %[[KEY]], %[[N]]
// CHECK: scf.if %[[IN]]
// CHECK: memref.load %[[K]][%[[B]], %[[KEY]], %[[HKV]], %{{.*}}] : memref<2x1024x2x16xf32>
// CHECK: scf.for
// Direct outputs for a sequence that did not split, partials otherwise.
// CHECK: arith.cmpi eq, %[[SPLITS]]
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[B]], %{{.*}}, %{{.*}}, %{{.*}}] : memref<2x1x8x16xf32>
// CHECK: } else {
// CHECK: gpu.func @decode_split_k0_cache_attention_combine(
// CHECK-SAME: %[[CLENS:[^:]*]]: memref<2xi32>
// CHECK-SAME: iolite.template = "attention_combine"
// CHECK: %[[CB:.*]] = arith.divui %{{.*}}, %c8 : index
// CHECK: memref.load %[[CLENS]][%[[CB]]] : memref<2xi32>
// CHECK: arith.cmpi ugt
// CHECK: scf.if
// AMD-LABEL: func.func @decode_split
// AMD: iolite.matrix = "fma"
// AMD-SAME: iolite.template = "attention"
// AMD-SAME: kv split(s) per launch
// AMD: iolite.template = "attention_combine"
func.func @decode_split(%q: tensor<2x1x8x16xf32>, %kc: tensor<2x1024x2x16xf32>, %vc: tensor<2x1024x2x16xf32>, %lens: tensor<2xi32>) -> tensor<2x1x8x16xf32> {
  %0 = iolite.kernel "decode_split_k0_cache_attention"(%q, %kc, %vc, %lens) : (tensor<2x1x8x16xf32>, tensor<2x1024x2x16xf32>, tensor<2x1024x2x16xf32>, tensor<2xi32>) -> tensor<2x1x8x16xf32> {
  ^bb0(%a0: tensor<2x1x8x16xf32>, %a1: tensor<2x1024x2x16xf32>, %a2: tensor<2x1024x2x16xf32>, %a3: tensor<2xi32>):
    %1 = iolite.cache_attention %a0, %a1, %a2, %a3 {causal} : tensor<2x1x8x16xf32>, tensor<2x1024x2x16xf32>, tensor<2x1024x2x16xf32>, tensor<2xi32>
    iolite.yield %1 : tensor<2x1x8x16xf32>
  }
  return %0 : tensor<2x1x8x16xf32>
}

// -----

// A paged f16 cache (64 pages of 16 tokens, 32 per sequence) on the matrix
// units. Before each 64-key tile is staged, the block reads the tile's 4
// block-table entries, only for pages that start below the sequence's
// length, clamps each into the pool [0, 63] and keeps them in shared
// memory; a barrier, then every K/V run below the length is read from slot
// key mod 16 of its page. The page indirection is why K/V do not move with
// cp.async here.
// CHECK-LABEL: func.func @paged
// CHECK: gpu.func @paged_k0_cache_attention(%{{.*}}: memref<2x1x4x64xf16>, %[[K:.*]]: memref<64x16x2x64xf16>, %[[V:.*]]: memref<64x16x2x64xf16>, %[[LENS:.*]]: memref<2xi32>, %[[TABLE:.*]]: memref<2x32xi32>, %{{.*}}: memref<2x1x4x64xf16>
// CHECK-SAME: iolite.matrix = "nv_m16n8k16_f16"
// CHECK-SAME: iolite.tile = "attention tile 16x64 (query rows x keys), 1 warp of 1x8 nv_m16n8k16_f16, P in registers, 2 stage(s), up to 4 kv split(s) per launch"
// CHECK-NOT: nvgpu.device_async_copy
// CHECK: %[[B:.*]] = arith.divui %{{.*}}, %c2
// CHECK: %[[RAW:.*]] = memref.load %[[LENS]][%[[B]]]
// CHECK: %[[NI:.*]] = arith.index_cast %[[RAW]]
// CHECK: %[[NPOS:.*]] = arith.maxsi %[[NI]]
// CHECK: %[[N:.*]] = arith.minsi %[[NPOS]]
// CHECK: %[[PAGES:.*]] = memref.view %{{.*}} to memref<4xi32, #gpu.address_space<workgroup>>
// CHECK: %[[FIRST:.*]] = arith.divui %{{.*}}, %c16
// CHECK: %[[LASTPAGE:.*]] = arith.subi %c64{{.*}}, %c1
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %c4{{.*}} step
// CHECK: %[[BLK:.*]] = arith.addi %[[FIRST]], %[[I]]
// CHECK: %[[START:.*]] = arith.muli %[[BLK]], %c16
// CHECK: %[[HAS:.*]] = arith.cmpi slt, %[[START]], %[[N]]
// CHECK: scf.if %[[HAS]]
// CHECK: %[[ENTRY:.*]] = memref.load %[[TABLE]][%[[B]], %[[BLK]]] : memref<2x32xi32>
// CHECK: %[[E:.*]] = arith.index_cast %[[ENTRY]]
// CHECK: %[[E0:.*]] = arith.maxsi %[[E]]
// CHECK: %[[PAGE:.*]] = arith.minsi %[[E0]], %[[LASTPAGE]]
// CHECK: %[[P32:.*]] = arith.index_cast %[[PAGE]] : index to i32
// CHECK: memref.store %[[P32]], %[[PAGES]][%[[I]]]
// CHECK: gpu.barrier
// CHECK: %[[J:.*]] = arith.addi
// CHECK: %[[OK:.*]] = arith.cmpi slt, %[[J]], %[[N]]
// CHECK: scf.if %[[OK]]
// CHECK: %[[SLOTPAGE:.*]] = memref.load %[[PAGES]]
// CHECK: %[[PG:.*]] = arith.index_cast %[[SLOTPAGE]] : i32 to index
// CHECK: %[[SLOT:.*]] = arith.remui %[[J]], %c16
// CHECK: memref.collapse_shape %[[K]]
// CHECK: iolite_gpu.mma nv_m16n8k16_f16
// AMD-LABEL: func.func @paged
// AMD: iolite.matrix = "amd_mfma_16x16x16_f16"
// AMD-SAME: iolite.template = "attention"
// AMD: memref.load %{{.*}} : memref<2x32xi32>
// AMD: gpu.barrier
// AMD: iolite_gpu.mma amd_mfma_16x16x16_f16
func.func @paged(%q: tensor<2x1x4x64xf16>, %kc: tensor<64x16x2x64xf16>, %vc: tensor<64x16x2x64xf16>, %lens: tensor<2xi32>, %table: tensor<2x32xi32>) -> tensor<2x1x4x64xf16> {
  %0 = iolite.kernel "paged_k0_cache_attention"(%q, %kc, %vc, %lens, %table) : (tensor<2x1x4x64xf16>, tensor<64x16x2x64xf16>, tensor<64x16x2x64xf16>, tensor<2xi32>, tensor<2x32xi32>) -> tensor<2x1x4x64xf16> {
  ^bb0(%a0: tensor<2x1x4x64xf16>, %a1: tensor<64x16x2x64xf16>, %a2: tensor<64x16x2x64xf16>, %a3: tensor<2xi32>, %a4: tensor<2x32xi32>):
    %1 = iolite.cache_attention %a0, %a1, %a2, %a3 block_table(%a4 : tensor<2x32xi32>) {causal} : tensor<2x1x4x64xf16>, tensor<64x16x2x64xf16>, tensor<64x16x2x64xf16>, tensor<2xi32>
    iolite.yield %1 : tensor<2x1x4x64xf16>
  }
  return %0 : tensor<2x1x4x64xf16>
}
