// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=sm_90a | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=gfx942 | FileCheck %s --check-prefix=AMD

// The attention kernels of iolite-kernel-to-gpu (lib/Codegen/Templates/
// Attention.cpp, docs/attention.md).

// Causal GQA (4 query heads per kv head) with a rotary prologue on q and k
// and a cast epilogue, on the tensor cores. One block per (q tile, batch x
// kv head) of 8 warps with 16 query rows each; each warp reads its Q
// fragments once, through the prologue, straight into registers; K [key][d]
// and V [key][dv] tiles double-buffered in shared memory (f16, swizzled),
// the next tile prefetched; S = Q K^T and O += P V as iolite_gpu.mma with
// K fragments loaded transposed; row statistics over the 4 lanes sharing an
// accumulator row (shuffle xor 1, 2); P reused from the S fragments as the
// A operand (no shared-memory P); no global store inside the KV loop.
// CHECK-LABEL: func.func @causal_gqa
// CHECK: gpu.launch_func @iolite_kernels::@attn blocks in
// CHECK-SAME: dynamic_shared_memory_size
// CHECK: gpu.func @attn(%[[Q:.*]]: memref<1x8x256x64xf16>, %[[K:.*]]: memref<1x2x256x64xf16>, %[[V:.*]]: memref<1x2x256x64xf16>, %[[COS:.*]]: memref<256x64xf32>, %[[SIN:.*]]: memref<256x64xf32>, %[[OUT:.*]]: memref<1x8x256x64xf32>) kernel
// CHECK-SAME: iolite.block = array<i64: 256, 1, 1>, iolite.grid = array<i64: 8, 2, 1>
// CHECK-SAME: iolite.matrix = "nv_m16n8k16_f16"
// CHECK-SAME: iolite.shared_memory_bytes = 32768
// CHECK-SAME: iolite.template = "attention"
// CHECK-SAME: iolite.tile = "attention tile 128x64 (query rows x keys), 8 warps of 1x8 nv_m16n8k16_f16, P in registers, 2 stage(s), 1 kv split(s), cp.async"
// CHECK: %[[SMEM:.*]] = gpu.dynamic_shared_memory
// CHECK: %[[KS:.*]] = memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<128x64xf16, #gpu.address_space<workgroup>>
// CHECK: %[[VS:.*]] = memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<128x64xf16, #gpu.address_space<workgroup>>
// Q fragments: the rotary prologue reads q, its partner element, cos and
// sin, per run of the fragment.
// CHECK: memref.load %[[COS]]
// CHECK: memref.load %[[SIN]]
// CHECK: vector.from_elements {{.*}} : vector<8xf16>
// Causal tile skipping: the last key any row of the tile may see.
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: %[[TEND:.*]] = arith.divui
// First K/V tile, then the loop over the tiles the diagonal allows. K goes
// through registers (its rotary prologue), V, an f16 argument, moves with
// cp.async, waited for before the barrier ending each step.
// CHECK: scf.if
// CHECK: vector.store %{{.*}}, %[[KS]]
// CHECK: nvgpu.device_async_copy %[[V]][{{.*}}], %[[VS]][{{.*}}], 8 {bypassL1}
// CHECK: nvgpu.device_async_wait
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[TEND]] step %{{.*}} iter_args(
// CHECK-NOT: memref.store %{{.*}}, %[[OUT]]
// CHECK: scf.if
// CHECK: vector.store %{{.*}}, %[[KS]]
// CHECK: nvgpu.device_async_copy %[[V]]
// CHECK: nvgpu.device_async_create_group
// CHECK: iolite_gpu.mma_load b nv_m16n8k16_f16 %[[KS]][%{{.*}}, %{{.*}}] {swizzle = {{.*}}, transpose}
// CHECK: iolite_gpu.mma nv_m16n8k16_f16
// CHECK: arith.cmpi sle
// CHECK: arith.select
// CHECK: gpu.shuffle xor %{{.*}}, %c1_i32{{[_0-9]*}}, %{{.*}} : f32
// CHECK: gpu.shuffle xor %{{.*}}, %c2_i32{{[_0-9]*}}, %{{.*}} : f32
// CHECK: math.exp
// CHECK-NOT: memref.store
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: iolite_gpu.mma_load b nv_m16n8k16_f16 %[[VS]][%{{.*}}, %{{.*}}] {swizzle = {{.*}}} : memref<128x64xf16
// CHECK: iolite_gpu.mma nv_m16n8k16_f16
// CHECK: gpu.barrier
// CHECK-NEXT: scf.yield
// After the loop: row sums over the lanes, normalise, cast, store.
// CHECK: gpu.shuffle xor
// CHECK: arith.divf
// CHECK: memref.store %{{.*}}, %[[OUT]]
// gfx942: 4 waves of 32 rows (MFMA 32x32x8), 32-key tiles; P's accumulator
// and A layouts differ, so P goes through a shared tile.
// AMD-LABEL: func.func @causal_gqa
// AMD: iolite.matrix = "amd_mfma_32x32x8_f16"
// AMD-SAME: iolite.template = "attention"
// AMD-SAME: iolite.tile = "attention tile 128x32 (query rows x keys), 4 warps of 1x1 amd_mfma_32x32x8_f16, P through shared memory, 2 stage(s), 1 kv split(s)"
// AMD-DAG: %[[PS:.*]] = memref.view %{{.*}} to memref<128x32xf16, #gpu.address_space<workgroup>>
// AMD: scf.for
// AMD: iolite_gpu.mma amd_mfma_32x32x8_f16
// AMD: %[[W64:.*]] = arith.constant 64 : i32
// AMD: gpu.shuffle xor %{{.*}}, %{{.*}}, %[[W64]] : f32
// AMD: memref.store %{{.*}}, %[[PS]]
// AMD: gpu.barrier
// AMD: iolite_gpu.mma_load a amd_mfma_32x32x8_f16 %[[PS]]
func.func @causal_gqa(%q: tensor<1x8x256x64xf16>, %k: tensor<1x2x256x64xf16>, %v: tensor<1x2x256x64xf16>, %cos: tensor<256x64xf32>, %sin: tensor<256x64xf32>) -> tensor<1x8x256x64xf32> {
  %o = iolite.kernel "attn" (%q, %k, %v, %cos, %sin) : (tensor<1x8x256x64xf16>, tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>, tensor<256x64xf32>, tensor<256x64xf32>) -> tensor<1x8x256x64xf32> {
  ^bb0(%a: tensor<1x8x256x64xf16>, %b: tensor<1x2x256x64xf16>, %c: tensor<1x2x256x64xf16>, %cs: tensor<256x64xf32>, %sn: tensor<256x64xf32>):
    %cs16 = iolite.cast %cs : tensor<256x64xf32> to tensor<256x64xf16>
    %sn16 = iolite.cast %sn : tensor<256x64xf32> to tensor<256x64xf16>
    %qr = iolite.rotary %a, %cs16, %sn16 : tensor<1x8x256x64xf16>, tensor<256x64xf16>, tensor<256x64xf16>
    %kr = iolite.rotary %b, %cs16, %sn16 : tensor<1x2x256x64xf16>, tensor<256x64xf16>, tensor<256x64xf16>
    %r = iolite.attention %qr, %kr, %c {causal} : tensor<1x8x256x64xf16>, tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>
    %y = iolite.cast %r : tensor<1x8x256x64xf16> to tensor<1x8x256x64xf32>
    iolite.yield %y : tensor<1x8x256x64xf32>
  }
  return %o : tensor<1x8x256x64xf32>
}

// -----

// The same in f32 (with an exp epilogue) stays on the FMA units. One block
// per (q tile, batch x kv head); Q staged once through the prologue; the KV loop ends at the last tile holding a key on or
// before the tile's last query position; K/V double-buffered in shared
// memory with the next tile prefetched; scores, row statistics (shuffles
// over the 16 lanes of a row), P in shared memory, P.V; no global store
// inside the KV loop; the output stored once after it.
// CHECK-LABEL: func.func @causal_gqa_f32
// CHECK: gpu.launch_func @iolite_kernels::@attn blocks in
// CHECK-SAME: dynamic_shared_memory_size
// CHECK: gpu.func @attn(%[[Q:.*]]: memref<1x8x256x64xf32>, %[[K:.*]]: memref<1x2x256x64xf32>, %[[V:.*]]: memref<1x2x256x64xf32>, %[[COS:.*]]: memref<256x64xf32>, %[[SIN:.*]]: memref<256x64xf32>, %[[OUT:.*]]: memref<1x8x256x64xf32>) kernel
// CHECK-SAME: iolite.block = array<i64: 256, 1, 1>, iolite.grid = array<i64: 8, 2, 1>
// CHECK-SAME: iolite.shared_memory_bytes = 132608
// CHECK-SAME: iolite.template = "attention"
// CHECK-SAME: iolite.tile = "attention tile 128x64 (query rows x keys), 16x16 threads, 2 stage(s), 1 kv split(s)"
// CHECK: %[[SMEM:.*]] = gpu.dynamic_shared_memory
// CHECK-DAG: %[[QS:.*]] = memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<128x65xf32, #gpu.address_space<workgroup>>
// CHECK-DAG: %[[KS:.*]] = memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x64x65xf32, #gpu.address_space<workgroup>>
// CHECK-DAG: %[[VS:.*]] = memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x64x64xf32, #gpu.address_space<workgroup>>
// CHECK-DAG: %[[PS:.*]] = memref.view %[[SMEM]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<128x65xf32, #gpu.address_space<workgroup>>
// Q tile: the rotary prologue reads q, its partner element, cos and sin.
// CHECK: scf.for
// CHECK: memref.load %[[Q]]
// CHECK: memref.load %[[Q]]
// CHECK: memref.load %[[COS]]
// CHECK: memref.load %[[SIN]]
// CHECK: memref.store %{{.*}}, %[[QS]]
// Causal tile skipping: the last key any row of the tile may see.
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: %[[TEND:.*]] = arith.divui
// First K/V tile, then the loop over the tiles the diagonal allows.
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[KS]]
// CHECK: memref.store %{{.*}}, %[[VS]]
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[TEND]] step %{{.*}} iter_args(
// CHECK-NOT: memref.store %{{.*}}, %[[OUT]]
// CHECK: scf.if
// CHECK: memref.load %[[K]]
// CHECK: memref.store %{{.*}}, %[[KS]]
// CHECK: memref.load %[[V]]
// CHECK: memref.store %{{.*}}, %[[VS]]
// CHECK: scf.for {{.*}} iter_args(
// CHECK: memref.load %[[QS]]
// CHECK: memref.load %[[KS]]
// CHECK: math.fma
// CHECK: arith.cmpi sle
// CHECK: arith.select
// CHECK: gpu.shuffle xor %{{.*}}, %{{.*}}, %[[W:.*]] : f32
// CHECK: math.exp
// CHECK: memref.store %{{.*}}, %[[PS]]
// CHECK: gpu.barrier
// CHECK: scf.for {{.*}} iter_args(
// CHECK: memref.load %[[PS]]
// CHECK: memref.load %[[VS]]
// CHECK: math.fma
// CHECK: gpu.barrier
// CHECK-NEXT: scf.yield
// After the loop: row sums over the lanes, normalise, cast, store.
// CHECK: gpu.shuffle xor
// CHECK: arith.divf
// CHECK: memref.store %{{.*}}, %[[OUT]]
// AMD-LABEL: func.func @causal_gqa_f32
// AMD: iolite.template = "attention"
// AMD-SAME: iolite.tile = "attention tile 64x32 (query rows x keys), 16x16 threads, 2 stage(s), 1 kv split(s)"
// AMD: %[[W64:.*]] = arith.constant 64 : i32
// AMD: gpu.shuffle xor %{{.*}}, %{{.*}}, %[[W64]] : f32
func.func @causal_gqa_f32(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>, %v: tensor<1x2x256x64xf32>, %cos: tensor<256x64xf32>, %sin: tensor<256x64xf32>) -> tensor<1x8x256x64xf32> {
  %o = iolite.kernel "attn" (%q, %k, %v, %cos, %sin) : (tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>, tensor<256x64xf32>, tensor<256x64xf32>) -> tensor<1x8x256x64xf32> {
  ^bb0(%a: tensor<1x8x256x64xf32>, %b: tensor<1x2x256x64xf32>, %c: tensor<1x2x256x64xf32>, %cs: tensor<256x64xf32>, %sn: tensor<256x64xf32>):
    %qr = iolite.rotary %a, %cs, %sn : tensor<1x8x256x64xf32>, tensor<256x64xf32>, tensor<256x64xf32>
    %kr = iolite.rotary %b, %cs, %sn : tensor<1x2x256x64xf32>, tensor<256x64xf32>, tensor<256x64xf32>
    %r = iolite.attention %qr, %kr, %c {causal} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
    %y = iolite.exp %r : tensor<1x8x256x64xf32>
    iolite.yield %y : tensor<1x8x256x64xf32>
  }
  return %o : tensor<1x8x256x64xf32>
}

// -----

// Non-causal attention visits every KV tile: constant loop bounds, no
// diagonal compare.
// CHECK-LABEL: func.func @full
// CHECK: gpu.func @full
// CHECK-SAME: iolite.grid = array<i64: 2, 8, 1>
// CHECK-SAME: iolite.template = "attention"
// CHECK: scf.for %{{.*}} = %c0{{[_0-9]*}} to %c4{{[_0-9]*}} step %{{.*}} iter_args(
// CHECK-NOT: arith.cmpi sle
// CHECK: scf.yield
func.func @full(%q: tensor<2x4x256x64xf32>, %k: tensor<2x4x256x64xf32>, %v: tensor<2x4x256x64xf32>) -> tensor<2x4x256x64xf32> {
  %o = iolite.kernel "full" (%q, %k, %v) : (tensor<2x4x256x64xf32>, tensor<2x4x256x64xf32>, tensor<2x4x256x64xf32>) -> tensor<2x4x256x64xf32> {
  ^bb0(%a: tensor<2x4x256x64xf32>, %b: tensor<2x4x256x64xf32>, %c: tensor<2x4x256x64xf32>):
    %r = iolite.attention %a, %b, %c : tensor<2x4x256x64xf32>, tensor<2x4x256x64xf32>, tensor<2x4x256x64xf32>
    iolite.yield %r : tensor<2x4x256x64xf32>
  }
  return %o : tensor<2x4x256x64xf32>
}

// -----

// A sliding window also skips the tiles before the window's first key.
// CHECK-LABEL: func.func @window
// CHECK: gpu.func @window
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: %[[TEND:.*]] = arith.divui
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: %[[TBEGIN:.*]] = arith.divui
// CHECK: scf.for %{{.*}} = %[[TBEGIN]] to %[[TEND]] step %{{.*}} iter_args(
// CHECK: arith.cmpi sle
// CHECK: arith.cmpi sgt
func.func @window(%q: tensor<1x2x512x64xbf16>, %k: tensor<1x2x512x64xbf16>, %v: tensor<1x2x512x64xbf16>) -> tensor<1x2x512x64xbf16> {
  %o = iolite.kernel "window" (%q, %k, %v) : (tensor<1x2x512x64xbf16>, tensor<1x2x512x64xbf16>, tensor<1x2x512x64xbf16>) -> tensor<1x2x512x64xbf16> {
  ^bb0(%a: tensor<1x2x512x64xbf16>, %b: tensor<1x2x512x64xbf16>, %c: tensor<1x2x512x64xbf16>):
    %r = iolite.attention %a, %b, %c {causal, window = 128 : i64} : tensor<1x2x512x64xbf16>, tensor<1x2x512x64xbf16>, tensor<1x2x512x64xbf16>
    iolite.yield %r : tensor<1x2x512x64xbf16>
  }
  return %o : tensor<1x2x512x64xbf16>
}

// -----

// Soft-cap, ALiBi and a boolean mask: the mask is read inside the KV loop
// (bounds-checked on the ragged key tile), excluded keys become -inf.
// CHECK-LABEL: func.func @masked
// CHECK: gpu.func @masked(%{{.*}}: memref<1x2x40x32xf32>, %{{.*}}: memref<1x2x100x32xf32>, %{{.*}}: memref<1x2x100x32xf32>, %[[M:.*]]: memref<1x1x40x100xi1>, %[[S:.*]]: memref<2xf32>, %[[OUT:.*]]: memref<1x2x40x32xf32>)
// CHECK: memref.load %[[S]]
// CHECK: scf.for {{.*}} iter_args(
// CHECK: math.tanh
// CHECK: math.fma
// CHECK: scf.if
// CHECK: memref.load %[[M]]
// CHECK: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: arith.select %{{.*}}, %{{.*}}, %[[NEGINF]] : f32
// CHECK: gpu.barrier
// CHECK: scf.for {{.*}} iter_args(
// CHECK: gpu.barrier
// CHECK-NEXT: scf.yield
// CHECK: memref.store %{{.*}}, %[[OUT]]
func.func @masked(%q: tensor<1x2x40x32xf32>, %k: tensor<1x2x100x32xf32>, %v: tensor<1x2x100x32xf32>, %m: tensor<1x1x40x100xi1>, %s: tensor<2xf32>) -> tensor<1x2x40x32xf32> {
  %o = iolite.kernel "masked" (%q, %k, %v, %m, %s) : (tensor<1x2x40x32xf32>, tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>, tensor<1x1x40x100xi1>, tensor<2xf32>) -> tensor<1x2x40x32xf32> {
  ^bb0(%a: tensor<1x2x40x32xf32>, %b: tensor<1x2x100x32xf32>, %c: tensor<1x2x100x32xf32>, %mm: tensor<1x1x40x100xi1>, %ss: tensor<2xf32>):
    %r = iolite.attention %a, %b, %c mask(%mm : tensor<1x1x40x100xi1>) alibi_slopes(%ss : tensor<2xf32>) {softcap = 30.0 : f32} : tensor<1x2x40x32xf32>, tensor<1x2x100x32xf32>, tensor<1x2x100x32xf32>
    iolite.yield %r : tensor<1x2x40x32xf32>
  }
  return %o : tensor<1x2x40x32xf32>
}

// -----

// Decode (one query, 8 query heads per kv head): the KV range is split over
// gridDim.z blocks that write partial outputs, maxima and sums to scratch in
// the workspace (after the intermediates); the combine kernel launches next
// with the same arguments, turns each row's maxima and sums into per-split
// weights in shared memory and writes the output through the epilogue.
// CHECK-LABEL: func.func @decode
// CHECK-SAME: %[[WS:[[:alnum:]_]+]]: memref<166400xi8>
// CHECK-SAME: iolite.workspace_size = 166400
// CHECK: %[[SCRATCH:.*]] = memref.view %[[WS]][%{{.*}}][] {iolite.tensor = "{{.*}}.scratch"} : memref<166400xi8> to memref<166400xi8>
// CHECK: gpu.launch_func @iolite_kernels::@decode blocks in ({{.*}}) threads in ({{.*}}) {{.*}} args({{.*}}, %[[SCRATCH]] : memref<166400xi8>)
// CHECK: gpu.launch_func @iolite_kernels::@decode_combine blocks in ({{.*}}) threads in ({{.*}}) {{.*}} args({{.*}}, %[[SCRATCH]] : memref<166400xi8>)
// CHECK: gpu.func @decode(%{{.*}}: memref<1x32x1x128xf16>, %{{.*}}: memref<1x4x4096x128xf16>, %{{.*}}: memref<1x4x4096x128xf16>, %{{.*}}: memref<1x32x1x128xf16>, %[[SCR:.*]]: memref<166400xi8>) kernel
// CHECK-SAME: iolite.grid = array<i64: 1, 4, 10>
// CHECK-SAME: iolite.scratch_bytes = 166400
// CHECK-SAME: iolite.tile = "attention tile 16x64 (query rows x keys), 1 warp of 1x8 nv_m16n8k16_f16, P in registers, 2 stage(s), 10 kv split(s), cp.async"
// CHECK: gpu.block_id z
// CHECK: scf.for {{.*}} iter_args(
// CHECK: iolite_gpu.mma
// CHECK: gpu.barrier
// CHECK-NEXT: scf.yield
// CHECK: memref.view %[[SCR]]
// CHECK: memref.store %{{.*}} : memref<10x1x32x1xf32>
// CHECK: memref.store %{{.*}} : memref<10x1x32x1x128xf32>
// CHECK: gpu.func @decode_combine(%{{.*}}: memref<1x32x1x128xf16>, %{{.*}}: memref<1x4x4096x128xf16>, %{{.*}}: memref<1x4x4096x128xf16>, %[[OUT:.*]]: memref<1x32x1x128xf16>, %[[SCR2:.*]]: memref<166400xi8>) kernel
// CHECK-SAME: iolite.template = "attention_combine"
// CHECK-SAME: iolite.tile = "8 query rows per block over 10 kv split(s)"
// CHECK: memref.view %[[SCR2]]
// CHECK: %[[W:.*]] = memref.view %{{.*}} : memref<?xi8, #gpu.address_space<workgroup>> to memref<8x10xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for {{.*}} iter_args(
// CHECK: arith.maximumf
// CHECK: scf.for {{.*}} iter_args(
// CHECK: math.exp
// CHECK: memref.store %{{.*}}, %[[W]]
// CHECK: arith.divf
// CHECK: gpu.barrier
// CHECK: scf.for {{.*}} iter_args(
// CHECK: memref.load %[[W]]
// CHECK: math.fma
// CHECK: memref.store %{{.*}}, %[[OUT]]
func.func @decode(%q: tensor<1x32x1x128xf16>, %k: tensor<1x4x4096x128xf16>, %v: tensor<1x4x4096x128xf16>) -> tensor<1x32x1x128xf16> {
  %o = iolite.kernel "decode" (%q, %k, %v) : (tensor<1x32x1x128xf16>, tensor<1x4x4096x128xf16>, tensor<1x4x4096x128xf16>) -> tensor<1x32x1x128xf16> {
  ^bb0(%a: tensor<1x32x1x128xf16>, %b: tensor<1x4x4096x128xf16>, %c: tensor<1x4x4096x128xf16>):
    %r = iolite.attention %a, %b, %c {causal} : tensor<1x32x1x128xf16>, tensor<1x4x4096x128xf16>, tensor<1x4x4096x128xf16>
    iolite.yield %r : tensor<1x32x1x128xf16>
  }
  return %o : tensor<1x32x1x128xf16>
}

// -----

// Symbolic batch, query and key lengths (docs/dynamic-shapes.md): the
// kernels take the symbols (batch, kv, q: dim_bounds order) as i64
// parameters and view their flat buffers at the call's sizes. The grid is
// ceil(4 q / 128) q tiles x 2 batch x 8 partitions, the bottom-right causal
// offset is kv - q, the KV loop ends at the call's key length, and each
// launch chooses its partitions (1 when q has more than 64 rows or kv
// fewer than 512 keys; blocks past them return at once): without a split
// the output is stored directly,
// with one the partials, laid out for at most 64 / 4 = 16 positions, and
// the combine kernel runs only then.
// CHECK-LABEL: func.func @dynamic
// CHECK: gpu.launch_func @iolite_kernels::@attn blocks in
// CHECK: gpu.launch_func @iolite_kernels::@attn_combine blocks in
// CHECK: gpu.func @attn(%{{.*}}: memref<524288xf32>, %{{.*}}: memref<524288xf32>, %{{.*}}: memref<524288xf32>, %{{.*}}: memref<524288xf32>, %[[BATCH:.*]]: i64, %[[KV:.*]]: i64, %[[Q:.*]]: i64, %{{.*}}: memref<1081344xi8>) kernel
// CHECK-SAME: iolite.grid = array<i64: 8, 8, 8>, iolite.grid_extents = [array<i64: 128, 4, 0, 0, 1>, array<i64: 1, 2, 1, 0, 0>, array<i64: 1, 8, 0, 0, 0>]
// CHECK-SAME: up to 8 kv split(s) per launch
// CHECK: %[[B:.*]] = arith.index_cast %[[BATCH]] : i64 to index
// CHECK: %[[SKV:.*]] = arith.index_cast %[[KV]] : i64 to index
// CHECK: %[[SQ:.*]] = arith.index_cast %[[Q]] : i64 to index
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[B]], 8, %[[SQ]], 64], strides: [%{{.*}}, %{{.*}}, 64, 1] : memref<524288xf32> to memref<?x8x?x64xf32>
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[B]], 2, %[[SKV]], 64], strides: [%{{.*}}, %{{.*}}, 64, 1] : memref<524288xf32> to memref<?x2x?x64xf32>
// CHECK: %[[OFFSET:.*]] = arith.subi %[[SKV]], %[[SQ]] : index
// CHECK: arith.cmpi ule, %{{.*}}, %c64{{.*}} : index
// CHECK: arith.cmpi uge, %[[SKV]], %c512{{.*}} : index
// CHECK: %[[SPLITS:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : index
// CHECK: %[[ACTIVE:.*]] = arith.cmpi ult, %block_id_z, %[[SPLITS]] : index
// CHECK-NEXT: scf.if %[[ACTIVE]] {
// CHECK: arith.addi %{{.*}}, %[[OFFSET]] : index
// CHECK: arith.minsi %{{.*}}, %[[SKV]] : index
// CHECK: %[[TEND:.*]] = arith.divui
// CHECK: arith.divui %{{.*}}, %[[SPLITS]] : index
// CHECK: %[[END:.*]] = arith.minsi %[[TEND]], %{{.*}} : index
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[END]] step
// CHECK: %[[ONE:.*]] = arith.cmpi eq, %[[SPLITS]], %c1{{.*}} : index
// CHECK: scf.if %[[ONE]] {
// CHECK: memref.store %{{.*}} : memref<?x8x?x64xf32>
// CHECK: } else {
// CHECK: memref.view %{{.*}} to memref<8x4x8x16x64xf32>
// CHECK: gpu.func @attn_combine(
// CHECK: %[[MERGE:.*]] = arith.cmpi ugt, %{{.*}}, %c1{{.*}} : index
// CHECK-NEXT: scf.if %[[MERGE]] {
func.func @dynamic(%q: tensor<?x8x?x64xf32> {iolite.dims = ["batch", "", "q", ""]}, %k: tensor<?x2x?x64xf32> {iolite.dims = ["batch", "", "kv", ""]}, %v: tensor<?x2x?x64xf32> {iolite.dims = ["batch", "", "kv", ""]}) -> tensor<?x8x?x64xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 4>, q = array<i64: 1, 256>, kv = array<i64: 1, 1024>}} {
  %o = iolite.kernel "attn" (%q, %k, %v) : (tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>) -> tensor<?x8x?x64xf32> {
  ^bb0(%a: tensor<?x8x?x64xf32>, %b: tensor<?x2x?x64xf32>, %c: tensor<?x2x?x64xf32>):
    %r = iolite.attention %a, %b, %c {causal} : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>
    iolite.yield %r : tensor<?x8x?x64xf32>
  }
  return %o : tensor<?x8x?x64xf32>
}
