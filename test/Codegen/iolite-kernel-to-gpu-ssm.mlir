// Structure of the state-space kernel templates (docs/ssm-kernels.md):
// chunked selective scan and SSD with the recurrent state carried in
// registers through the chunk loop (never stored to global memory), inputs
// staged through shared memory, the fused conv1d prologue computed from an
// on-chip window, the sliding-window conv1d and the tiled long convolution.
// STORES checks that the only global store of each kernel is its output.
// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=sm_90a | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=sm_90a | FileCheck %s --check-prefix=STORES
// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=gfx942 | FileCheck %s --check-prefix=AMD

// Selective scan with D, z, delta_bias and softplus; L = 100 is not a
// multiple of the chunk (16). One lane per channel (N = 16): no shuffles.
// CHECK-LABEL: func.func @selective_scan
// CHECK: gpu.func @scan(%[[U:[^:]*]]: memref<2x64x100xf32>, %[[DT:[^:]*]]: memref<2x64x100xf32>, %[[A:[^:]*]]: memref<64x16xf32>, %[[B:[^:]*]]: memref<2x16x100xf32>, %[[C:[^:]*]]: memref<2x16x100xf32>, %[[D:[^:]*]]: memref<64xf32>, %[[Z:[^:]*]]: memref<2x64x100xf32>, %[[DB:[^:]*]]: memref<64xf32>, %[[OUT:[^:]*]]: memref<2x64x100xf32>)
// CHECK-SAME: iolite.block = array<i64: 64, 1, 1>, iolite.grid = array<i64: 1, 2, 1>
// CHECK-SAME: iolite.template = "selective_scan", iolite.tile = "64 channels x 1 lanes of 16 states, chunk 16"
// CHECK: gpu.dynamic_shared_memory
// Per-channel D and delta_bias to shared memory, A to registers, once.
// CHECK: scf.for
// CHECK: memref.load %[[D]]
// CHECK: memref.load %[[DB]]
// CHECK: }
// CHECK-COUNT-16: memref.load %[[A]]
// The chunk loop carries the 16 states of this thread.
// CHECK: %[[H:.*]]:16 = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[H0:[^ ]*]] = 
// CHECK: gpu.barrier
// Staging: dt = softplus(delta + bias) and u, then B and C (once per block).
// CHECK: memref.load %[[DT]]
// CHECK: math.log1p
// CHECK: memref.store %{{.*}} : memref<64x17xf32, #gpu.address_space<workgroup>>
// CHECK: memref.load %[[U]]
// CHECK: memref.store %{{.*}} : memref<64x17xf32, #gpu.address_space<workgroup>>
// CHECK: memref.load %[[B]]
// CHECK: memref.store %{{.*}} : memref<16x1x17xf32, #gpu.address_space<workgroup>>
// CHECK: memref.load %[[C]]
// CHECK: gpu.barrier
// The recurrence: shared-memory operands, the state in iter_args, no global
// memory access.
// CHECK: %[[HN:.*]]:16 = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %[[H0]],
// CHECK-NOT: memref.load %arg{{[0-9]+}}[
// CHECK-NOT: memref.store {{.*}}, %arg{{[0-9]+}}[
// CHECK: math.exp
// CHECK: math.fma
// CHECK-NOT: memref.load %arg{{[0-9]+}}[
// CHECK-NOT: memref.store {{.*}}, %arg{{[0-9]+}}[
// CHECK: scf.yield {{.*}} : f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32{{$}}
// CHECK: gpu.barrier
// Output pass: y + D u, times silu(z).
// CHECK: scf.for
// CHECK: math.fma
// CHECK: memref.load %[[Z]]
// CHECK: math.exp
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: scf.yield %[[HN]]#0,
// CHECK: gpu.return
// STORES-LABEL: gpu.func @scan(
// STORES-NOT: memref.store {{.*}}memref<{{[0-9x]+}}xf32>{{$}}
// STORES: memref.store %{{.*}}, %arg8[
// STORES-NOT: memref.store {{.*}}memref<{{[0-9x]+}}xf32>{{$}}
// STORES: gpu.return
// AMD-LABEL: func.func @selective_scan
// AMD: iolite.block = array<i64: 64, 1, 1>, iolite.grid = array<i64: 1, 2, 1>
// AMD-SAME: iolite.template = "selective_scan"

func.func @selective_scan(%u: tensor<2x64x100xf32>, %dt: tensor<2x64x100xf32>, %A: tensor<64x16xf32>, %B: tensor<2x16x100xf32>, %C: tensor<2x16x100xf32>, %D: tensor<64xf32>, %z: tensor<2x64x100xf32>, %db: tensor<64xf32>) -> tensor<2x64x100xf32> {
  %r = iolite.kernel "scan" (%u, %dt, %A, %B, %C, %D, %z, %db) : (tensor<2x64x100xf32>, tensor<2x64x100xf32>, tensor<64x16xf32>, tensor<2x16x100xf32>, tensor<2x16x100xf32>, tensor<64xf32>, tensor<2x64x100xf32>, tensor<64xf32>) -> tensor<2x64x100xf32> {
  ^bb0(%a0: tensor<2x64x100xf32>, %a1: tensor<2x64x100xf32>, %a2: tensor<64x16xf32>, %a3: tensor<2x16x100xf32>, %a4: tensor<2x16x100xf32>, %a5: tensor<64xf32>, %a6: tensor<2x64x100xf32>, %a7: tensor<64xf32>):
    %y = iolite.selective_scan %a0, %a1, %a2, %a3, %a4 D(%a5 : tensor<64xf32>) z(%a6 : tensor<2x64x100xf32>) delta_bias(%a7 : tensor<64xf32>) {delta_softplus} : tensor<2x64x100xf32>, tensor<2x64x100xf32>, tensor<64x16xf32>, tensor<2x16x100xf32>, tensor<2x16x100xf32>
    iolite.yield %y : tensor<2x64x100xf32>
  }
  return %r : tensor<2x64x100xf32>
}

// -----

// The fused Mamba prologue: u = silu(conv1d(x)) is computed from a window of
// the last K-1 + chunk inputs kept in shared memory (x is loaded once per
// step, the window's tail is moved to its head for the next chunk). N = 64:
// two lanes of 32 states per channel, y summed with a shuffle whose width is
// the warp size; bf16 storage, f32 compute.
// CHECK-LABEL: func.func @scan_conv_bf16
// CHECK: gpu.func @scan_conv(%[[X:[^:]*]]: memref<1x64x40xbf16>, %[[W:[^:]*]]: memref<64x4xbf16>, %[[CB:[^:]*]]: memref<64xbf16>
// CHECK-SAME: iolite.block = array<i64: 128, 1, 1>
// CHECK-SAME: iolite.template = "selective_scan", iolite.tile = "64 channels x 2 lanes of 32 states, chunk 16, conv1d window 4"
// CHECK: memref.load %[[CB]]
// CHECK: memref.load %[[W]]
// CHECK: %[[H:.*]]:32 = scf.for
// CHECK: gpu.barrier
// CHECK: %[[XV:.*]] = memref.load %[[X]]
// CHECK-NEXT: arith.extf %[[XV]] : bf16 to f32
// CHECK: memref.store %{{.*}} : memref<64x19xf32, #gpu.address_space<workgroup>>
// CHECK-NOT: memref.load %[[X]]
// CHECK: gpu.barrier
// The conv from the window: K taps from shared memory, then SiLU.
// CHECK: scf.for
// CHECK-COUNT-4: math.fma
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: memref.store %{{.*}} : memref<64x17xf32, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK: %{{.*}}:32 = scf.for
// CHECK: gpu.shuffle  xor %{{.*}}, %{{.*}}, %[[W32:.*]] : f32
// CHECK: gpu.barrier
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// Halo: the window's last 3 inputs move to its head.
// CHECK: scf.for
// CHECK: %[[T:.*]] = memref.load %{{.*}} : memref<64x19xf32, #gpu.address_space<workgroup>>
// CHECK: memref.store %[[T]], %{{.*}} : memref<64x19xf32, #gpu.address_space<workgroup>>
// CHECK-NOT: memref.load %[[X]]
// CHECK: gpu.return
// STORES-LABEL: gpu.func @scan_conv(
// STORES-NOT: memref.store {{.*}}memref<{{[0-9x]+}}xbf16>{{$}}
// STORES: memref.store %{{.*}}, %arg7[
// STORES-NOT: memref.store {{.*}}memref<{{[0-9x]+}}xbf16>{{$}}
// STORES: gpu.return
// AMD-LABEL: func.func @scan_conv_bf16
// AMD: %[[W64:.*]] = arith.constant 64 : i32
// AMD: gpu.shuffle  xor %{{.*}}, %{{.*}}, %[[W64]] : f32

func.func @scan_conv_bf16(%x: tensor<1x64x40xbf16>, %w: tensor<64x4xbf16>, %cb: tensor<64xbf16>, %dt: tensor<1x64x40xbf16>, %A: tensor<64x64xf32>, %B: tensor<1x64x40xbf16>, %C: tensor<1x64x40xbf16>) -> tensor<1x64x40xbf16> {
  %r = iolite.kernel "scan_conv" (%x, %w, %cb, %dt, %A, %B, %C) : (tensor<1x64x40xbf16>, tensor<64x4xbf16>, tensor<64xbf16>, tensor<1x64x40xbf16>, tensor<64x64xf32>, tensor<1x64x40xbf16>, tensor<1x64x40xbf16>) -> tensor<1x64x40xbf16> {
  ^bb0(%a0: tensor<1x64x40xbf16>, %a1: tensor<64x4xbf16>, %a2: tensor<64xbf16>, %a3: tensor<1x64x40xbf16>, %a4: tensor<64x64xf32>, %a5: tensor<1x64x40xbf16>, %a6: tensor<1x64x40xbf16>):
    %c = iolite.conv1d %a0, %a1 bias(%a2 : tensor<64xbf16>) activation = silu : tensor<1x64x40xbf16>, tensor<64x4xbf16>
    %y = iolite.selective_scan %c, %a3, %a4, %a5, %a6 : tensor<1x64x40xbf16>, tensor<1x64x40xbf16>, tensor<64x64xf32>, tensor<1x64x40xbf16>, tensor<1x64x40xbf16>
    iolite.yield %y : tensor<1x64x40xbf16>
  }
  return %r : tensor<1x64x40xbf16>
}

// -----

// The Mamba-1 scan kernel as iolite-form-kernels forms it: delta, B and C
// are transposes of [B, L, X] projections. Their staging loops walk the
// channel (state) index fastest, the contiguous one in the source, while u
// (already [B, D, L]) is walked with t fastest.
// CHECK-LABEL: func.func @scan_transposed_operands
// CHECK: gpu.func @tr(%[[U:[^:]*]]: memref<1x64x40xf32>, %[[DTL:[^:]*]]: memref<1x40x64xf32>, %{{[^:]*}}: memref<64x16xf32>, %[[XDBL:[^:]*]]: memref<1x40x36xf32>
// CHECK: gpu.barrier
// CHECK: scf.for %[[E:[^ ]*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[CH:.*]] = arith.remui %[[E]], %[[C64:.*]] : index
// CHECK: %[[T:.*]] = arith.divui %[[E]]
// CHECK: %[[GCH:.*]] = arith.addi %{{.*}}, %[[CH]] : index
// CHECK: %[[GT:.*]] = arith.addi %{{.*}}, %[[T]] : index
// CHECK: memref.load %[[DTL]][%{{.*}}, %[[GT]], %[[GCH]]]
// CHECK: scf.for %[[E2:[^ ]*]] = %{{.*}} to %{{.*}} step
// CHECK: arith.divui %[[E2]]
// CHECK: arith.remui %[[E2]]
// CHECK: memref.load %[[U]]
// CHECK: scf.for %[[E3:[^ ]*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[N:.*]] = arith.remui %[[E3]], %[[C16:.*]] : index
// CHECK: %[[GN:.*]] = arith.addi %{{.*}}, %[[N]] : index
// CHECK: %[[COL:.*]] = arith.addi %[[GN]], %{{.*}} : index
// CHECK: memref.load %[[XDBL]][%{{.*}}, %{{.*}}, %[[COL]]]
func.func @scan_transposed_operands(%u: tensor<1x64x40xf32>, %dtl: tensor<1x40x64xf32>, %A: tensor<64x16xf32>, %xdbl: tensor<1x40x36xf32>, %D: tensor<64xf32>, %z: tensor<1x64x40xf32>, %db: tensor<64xf32>) -> tensor<1x64x40xf32> {
  %r = iolite.kernel "tr" (%u, %dtl, %A, %xdbl, %D, %z, %db) : (tensor<1x64x40xf32>, tensor<1x40x64xf32>, tensor<64x16xf32>, tensor<1x40x36xf32>, tensor<64xf32>, tensor<1x64x40xf32>, tensor<64xf32>) -> tensor<1x64x40xf32> {
  ^bb0(%a0: tensor<1x64x40xf32>, %a1: tensor<1x40x64xf32>, %a2: tensor<64x16xf32>, %a3: tensor<1x40x36xf32>, %a4: tensor<64xf32>, %a5: tensor<1x64x40xf32>, %a6: tensor<64xf32>):
    %bm = iolite.slice %a3 [0, 0, 4] to [1, 40, 20] : tensor<1x40x36xf32>
    %cm = iolite.slice %a3 [0, 0, 20] to [1, 40, 36] : tensor<1x40x36xf32>
    %dtt = iolite.transpose %a1 [0, 2, 1] : tensor<1x40x64xf32>
    %bt = iolite.transpose %bm [0, 2, 1] : tensor<1x40x16xf32>
    %ct = iolite.transpose %cm [0, 2, 1] : tensor<1x40x16xf32>
    %y = iolite.selective_scan %a0, %dtt, %a2, %bt, %ct D(%a4 : tensor<64xf32>) z(%a5 : tensor<1x64x40xf32>) delta_bias(%a6 : tensor<64xf32>) {delta_softplus} : tensor<1x64x40xf32>, tensor<1x64x40xf32>, tensor<64x16xf32>, tensor<1x16x40xf32>, tensor<1x16x40xf32>
    iolite.yield %y : tensor<1x64x40xf32>
  }
  return %r : tensor<1x64x40xf32>
}

// -----

// SSD with 2 groups of 4 heads: one block per group (4 heads, one B/C load),
// chunk 32 (L = 100 is ragged), each head's 16x32 state in registers (2 per
// thread, 8 for the block) through the chunk loop; the tile products are
// register-tiled loops over shared memory.
// CHECK-LABEL: func.func @ssd
// CHECK: gpu.func @ssd(%[[X:[^:]*]]: memref<1x100x8x16xf32>, %[[DT:[^:]*]]: memref<1x100x8xf32>, %[[A:[^:]*]]: memref<8xf32>, %[[B:[^:]*]]: memref<1x100x2x32xf32>, %[[C:[^:]*]]: memref<1x100x2x32xf32>, %[[D:[^:]*]]: memref<8xf32>, %[[OUT:[^:]*]]: memref<1x100x8x16xf32>)
// CHECK-SAME: iolite.block = array<i64: 256, 1, 1>, iolite.grid = array<i64: 2, 1, 1>
// CHECK-SAME: iolite.template = "ssd", iolite.tile = "chunk 32, 4 head(s) per block, state 16x32 in registers"
// CHECK: memref.load %[[A]]
// CHECK: memref.load %[[D]]
// CHECK: %{{.*}}:8 = scf.for %{{.*}} iter_args(%[[S0:[^ ]*]] = 
// CHECK: gpu.barrier
// CHECK: memref.load %[[B]]
// CHECK: memref.load %[[C]]
// CHECK: gpu.barrier
// CB = C B^T
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32)
// CHECK: math.fma
// Head 0: x, dt (softplus), the state to shared memory as the C H^T operand.
// CHECK: memref.load %[[X]]
// CHECK: memref.load %[[DT]]
// CHECK: math.log1p
// CHECK: memref.store %{{.*}}, %{{.*}} : memref<32x17xf32, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// cumsum, then the decay-masked M and the state weights.
// CHECK: scf.for
// CHECK: math.exp
// CHECK: gpu.barrier
// CHECK: arith.cmpi ule
// CHECK: gpu.barrier
// y = M x + exp(cs) C H^T, stored from registers.
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (f32, f32)
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (f32, f32)
// CHECK: memref.store %{{.*}}, %[[OUT]]
// H = exp(cs_last) H + (x w)^T B, from the carried state.
// CHECK: arith.mulf %{{.*}}, %[[S0]] : f32
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (f32, f32)
// CHECK: memref.load %[[DT]]
// CHECK: gpu.return
// STORES-LABEL: gpu.func @ssd(
// STORES-NOT: memref.store {{.*}}memref<{{[0-9x]+}}xf32>{{$}}
// STORES: memref.store %{{.*}}, %arg6[
// STORES-NOT: memref.store %{{.*}}, %arg{{[0-5]}}[
// STORES: gpu.return
// AMD-LABEL: func.func @ssd
// AMD: iolite.template = "ssd", iolite.tile = "chunk 32, 4 head(s) per block, state 16x32 in registers"

func.func @ssd(%x: tensor<1x100x8x16xf32>, %dt: tensor<1x100x8xf32>, %A: tensor<8xf32>, %B: tensor<1x100x2x32xf32>, %C: tensor<1x100x2x32xf32>, %D: tensor<8xf32>) -> tensor<1x100x8x16xf32> {
  %r = iolite.kernel "ssd" (%x, %dt, %A, %B, %C, %D) : (tensor<1x100x8x16xf32>, tensor<1x100x8xf32>, tensor<8xf32>, tensor<1x100x2x32xf32>, tensor<1x100x2x32xf32>, tensor<8xf32>) -> tensor<1x100x8x16xf32> {
  ^bb0(%a0: tensor<1x100x8x16xf32>, %a1: tensor<1x100x8xf32>, %a2: tensor<8xf32>, %a3: tensor<1x100x2x32xf32>, %a4: tensor<1x100x2x32xf32>, %a5: tensor<8xf32>):
    %y = iolite.ssd %a0, %a1, %a2, %a3, %a4 D(%a5 : tensor<8xf32>) {chunk_size = 32 : i64, dt_softplus} : tensor<1x100x8x16xf32>, tensor<1x100x8xf32>, tensor<8xf32>, tensor<1x100x2x32xf32>, tensor<1x100x2x32xf32>
    iolite.yield %y : tensor<1x100x8x16xf32>
  }
  return %r : tensor<1x100x8x16xf32>
}

// -----

// The same SSD in f16, with P = 24 and N = 20 (not multiples of the
// instruction tiles: padded with zero columns), on the matrix units. The
// four chunk products are iolite_gpu.mma warp tiles over f16 tiles in
// shared memory (k-steps in an scf.for); each head's state is carried as
// f32 accumulator fragments; the causal decay mask is applied to CB's
// accumulator fragments before M goes to shared memory; x w is read
// transposed as the A operand of the state update. gfx942 takes MFMA
// 16x16x16 (the dims are below 32).
// CHECK-LABEL: func.func @ssd_f16
// CHECK: gpu.func @ssd_f16(
// CHECK-SAME: iolite.matrix = "nv_m16n8k16_f16", iolite.matrix_reason = "f16 operands on mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
// CHECK-SAME: iolite.template = "ssd", iolite.tile = "chunk 32, 4 head(s) per block, state 24x20 in registers, nv_m16n8k16_f16 (CB 2x4 warps of 1x1, y 2x4 warps of 1x1, state 2x4 warps of 1x1)"
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CB = C B^T: C as A, B read transposed.
// CHECK: scf.for {{.*}} -> (vector<4xf32>)
// CHECK: %[[CA:.*]] = iolite_gpu.mma_load a nv_m16n8k16_f16 %{{.*}} : memref<32x32xf16, #gpu.address_space<workgroup>> -> vector<8xf16>
// CHECK: %[[CB:.*]] = iolite_gpu.mma_load b nv_m16n8k16_f16 {{.*}}transpose} : memref<32x32xf16, #gpu.address_space<workgroup>> -> vector<4xf16>
// CHECK: iolite_gpu.mma nv_m16n8k16_f16 %[[CA]], %[[CB]], %{{.*}} : vector<8xf16>, vector<4xf16> into vector<4xf32>
// Head 0: the state's fragments to shared memory in f16, M from CB's
// fragments with the mask.
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: gpu.barrier
// CHECK: vector.extract %[[CBACC:.*]][0] : f32 from vector<4xf32>
// CHECK: math.exp
// CHECK: arith.cmpi ule
// CHECK: gpu.barrier
// y = exp(cs) C H^T + M x on the fragments, stored from them.
// CHECK: iolite_gpu.mma nv_m16n8k16_f16
// CHECK: arith.mulf %{{.*}} : f32
// CHECK: iolite_gpu.mma nv_m16n8k16_f16
// CHECK: memref.store %{{.*}}, %arg6[
// H = exp(cs_last) H + (x w)^T B.
// CHECK: arith.mulf %{{.*}} : vector<4xf32>
// CHECK: iolite_gpu.mma_load a nv_m16n8k16_f16 {{.*}}transpose
// CHECK: iolite_gpu.mma nv_m16n8k16_f16
// CHECK: gpu.return
// AMD-LABEL: func.func @ssd_f16
// AMD: iolite.matrix = "amd_mfma_16x16x16_f16"
// AMD-SAME: iolite.tile = "chunk 32, 4 head(s) per block, state 24x20 in registers, amd_mfma_16x16x16_f16 (CB 2x2 warps of 1x1, y 2x2 warps of 1x1, state 2x2 warps of 1x1)"
// AMD: iolite_gpu.mma_load b amd_mfma_16x16x16_f16 {{.*}}transpose
// AMD: iolite_gpu.mma amd_mfma_16x16x16_f16
// AMD: iolite_gpu.mma_load a amd_mfma_16x16x16_f16 {{.*}}transpose
// AMD: iolite_gpu.mma amd_mfma_16x16x16_f16

func.func @ssd_f16(%x: tensor<1x100x8x24xf16>, %dt: tensor<1x100x8xf16>, %A: tensor<8xf32>, %B: tensor<1x100x2x20xf16>, %C: tensor<1x100x2x20xf16>, %D: tensor<8xf32>) -> tensor<1x100x8x24xf16> {
  %r = iolite.kernel "ssd_f16" (%x, %dt, %A, %B, %C, %D) : (tensor<1x100x8x24xf16>, tensor<1x100x8xf16>, tensor<8xf32>, tensor<1x100x2x20xf16>, tensor<1x100x2x20xf16>, tensor<8xf32>) -> tensor<1x100x8x24xf16> {
  ^bb0(%a0: tensor<1x100x8x24xf16>, %a1: tensor<1x100x8xf16>, %a2: tensor<8xf32>, %a3: tensor<1x100x2x20xf16>, %a4: tensor<1x100x2x20xf16>, %a5: tensor<8xf32>):
    %y = iolite.ssd %a0, %a1, %a2, %a3, %a4 D(%a5 : tensor<8xf32>) {chunk_size = 32 : i64, dt_softplus} : tensor<1x100x8x24xf16>, tensor<1x100x8xf16>, tensor<8xf32>, tensor<1x100x2x20xf16>, tensor<1x100x2x20xf16>
    iolite.yield %y : tensor<1x100x8x24xf16>
  }
  return %r : tensor<1x100x8x24xf16>
}

// -----

// Mamba-2's gate after SSD goes through a reshape: reshape(ssd) * silu(z).
// The output element is the SSD element at the same row-major position, so
// the ssd template still owns the kernel and stores [B, L, H*P] directly.
// CHECK-LABEL: func.func @ssd_gate
// CHECK: gpu.func @ssd_gate(%{{[^:]*}}: memref<1x40x4x16xf32>, %{{.*}}, %[[Z:[^:]*]]: memref<1x40x64xf32>, %[[OUT:[^:]*]]: memref<1x40x64xf32>)
// CHECK-SAME: iolite.template = "ssd"
// CHECK: memref.load %[[Z]]
// CHECK: math.exp
// CHECK: memref.store %{{.*}}, %[[OUT]][%{{.*}}, %{{.*}}, %{{.*}}] : memref<1x40x64xf32>
func.func @ssd_gate(%x: tensor<1x40x4x16xf32>, %dt: tensor<1x40x4xf32>, %A: tensor<4xf32>, %B: tensor<1x40x1x8xf32>, %C: tensor<1x40x1x8xf32>, %z: tensor<1x40x64xf32>) -> tensor<1x40x64xf32> {
  %r = iolite.kernel "ssd_gate" (%x, %dt, %A, %B, %C, %z) : (tensor<1x40x4x16xf32>, tensor<1x40x4xf32>, tensor<4xf32>, tensor<1x40x1x8xf32>, tensor<1x40x1x8xf32>, tensor<1x40x64xf32>) -> tensor<1x40x64xf32> {
  ^bb0(%a0: tensor<1x40x4x16xf32>, %a1: tensor<1x40x4xf32>, %a2: tensor<4xf32>, %a3: tensor<1x40x1x8xf32>, %a4: tensor<1x40x1x8xf32>, %a5: tensor<1x40x64xf32>):
    %y = iolite.ssd %a0, %a1, %a2, %a3, %a4 {chunk_size = 16 : i64, dt_softplus} : tensor<1x40x4x16xf32>, tensor<1x40x4xf32>, tensor<4xf32>, tensor<1x40x1x8xf32>, tensor<1x40x1x8xf32>
    %y2 = iolite.reshape %y : tensor<1x40x4x16xf32> -> tensor<1x40x64xf32>
    %s = iolite.silu %a5 : tensor<1x40x64xf32>
    %m = iolite.mul %y2, %s : tensor<1x40x64xf32>, tensor<1x40x64xf32>
    iolite.yield %m : tensor<1x40x64xf32>
  }
  return %r : tensor<1x40x64xf32>
}

// -----

// The fused Mamba-2 kernel as iolite-form-kernels forms it: conv1d + SiLU
// over xBC, transposes/slices/reshapes to x, B and C, SSD, the gate. The
// conv inputs of each chunk (plus K-1 = 3 earlier steps: 19 rows) are staged
// raw, the conv weights captured into shared memory on the first chunk, and
// the conv + SiLU computed from shared memory; raw x and raw B share bytes.
// CHECK-LABEL: func.func @ssd_conv_gate
// CHECK: gpu.func @ssd_conv_gate_k0_ssd(%[[P:[^:]*]]: memref<1x40x50xf32>, %[[W:[^:]*]]: memref<32x4xf32>, %[[CB:[^:]*]]: memref<32xf32>
// CHECK-SAME: iolite.template = "ssd", iolite.tile = "chunk 16, 2 head(s) per block, state 8x8 in registers, conv1d prologue on chip"
// CHECK: %[[RAWX:.*]] = memref.view %{{.*}}[%c[[OFF:[0-9]+]]{{[_0-9]*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<19x8xf32, #gpu.address_space<workgroup>>
// CHECK: %[[RAWB:.*]] = memref.view %{{.*}}[%c[[OFF]]{{[_0-9]*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<19x8xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for {{.*}} iter_args(
// CHECK: gpu.barrier
// Raw B inputs, the weights captured on the first chunk only.
// CHECK: scf.for
// CHECK: scf.if
// CHECK: scf.if
// CHECK-COUNT-4: memref.load %[[W]]
// CHECK: memref.load %[[CB]]
// CHECK: }
// CHECK: memref.load %[[P]]
// CHECK: memref.store %{{.*}}, %[[RAWB]]
// CHECK: gpu.barrier
// The conv from shared memory: 4 taps, SiLU, into the B tile.
// CHECK: scf.for
// CHECK-NOT: memref.load %[[P]]
// CHECK-COUNT-4: math.fma
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: memref.store %{{.*}} : memref<16x9xf32, #gpu.address_space<workgroup>>
// Head 0: raw x, dt, then x from the window.
// CHECK: memref.store %{{.*}}, %[[RAWX]]
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK-COUNT-4: math.fma
// CHECK: memref.store %{{.*}} : memref<16x8xf32, #gpu.address_space<workgroup>>
// STORES-LABEL: gpu.func @ssd_conv_gate_k0_ssd(
// STORES-NOT: memref.store %{{.*}}, %arg{{[0-5]}}[
// STORES: memref.store %{{.*}}, %arg6[
// STORES-NOT: memref.store %{{.*}}, %arg{{[0-5]}}[
// STORES: gpu.return
func.func @ssd_conv_gate(%arg0: tensor<1x40x50xf32>, %arg1: tensor<32x4xf32>, %arg2: tensor<32xf32>, %arg3: tensor<2xf32>, %arg4: tensor<2xf32>, %arg5: tensor<2xf32>) -> tensor<1x40x16xf32> {
  %0 = iolite.kernel "ssd_conv_gate_k0_ssd"(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5) : (tensor<1x40x50xf32>, tensor<32x4xf32>, tensor<32xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x40x16xf32> {
  ^bb0(%arg6: tensor<1x40x50xf32>, %arg7: tensor<32x4xf32>, %arg8: tensor<32xf32>, %arg9: tensor<2xf32>, %arg10: tensor<2xf32>, %arg11: tensor<2xf32>):
    %1 = iolite.slice %arg6 [0, 0, 0] to [1, 40, 16] : tensor<1x40x50xf32>
    %2 = iolite.slice %arg6 [0, 0, 16] to [1, 40, 48] : tensor<1x40x50xf32>
    %3 = iolite.slice %arg6 [0, 0, 48] to [1, 40, 50] : tensor<1x40x50xf32>
    %4 = iolite.transpose %2 [0, 2, 1] : tensor<1x40x32xf32>
    %5 = iolite.conv1d %4, %arg7 bias(%arg8 : tensor<32xf32>) activation = silu : tensor<1x32x40xf32>, tensor<32x4xf32>
    %6 = iolite.transpose %5 [0, 2, 1] : tensor<1x32x40xf32>
    %7 = iolite.slice %6 [0, 0, 0] to [1, 40, 16] : tensor<1x40x32xf32>
    %8 = iolite.slice %6 [0, 0, 16] to [1, 40, 24] : tensor<1x40x32xf32>
    %9 = iolite.slice %6 [0, 0, 24] to [1, 40, 32] : tensor<1x40x32xf32>
    %10 = iolite.reshape %7 : tensor<1x40x16xf32> -> tensor<1x40x2x8xf32>
    %11 = iolite.reshape %8 : tensor<1x40x8xf32> -> tensor<1x40x1x8xf32>
    %12 = iolite.reshape %9 : tensor<1x40x8xf32> -> tensor<1x40x1x8xf32>
    %13 = iolite.ssd %10, %3, %arg9, %11, %12 D(%arg10 : tensor<2xf32>) dt_bias(%arg11 : tensor<2xf32>) {chunk_size = 16 : i64, dt_softplus} : tensor<1x40x2x8xf32>, tensor<1x40x2xf32>, tensor<2xf32>, tensor<1x40x1x8xf32>, tensor<1x40x1x8xf32>
    %14 = iolite.reshape %13 : tensor<1x40x2x8xf32> -> tensor<1x40x16xf32>
    %15 = iolite.silu %1 : tensor<1x40x16xf32>
    %16 = iolite.mul %14, %15 : tensor<1x40x16xf32>, tensor<1x40x16xf32>
    iolite.yield %16 : tensor<1x40x16xf32>
  }
  return %0 : tensor<1x40x16xf32>
}

// -----

// Long convolution: the filter row (D folded into tap 0) in shared memory,
// the input streamed once through a shared tile, 2 outputs per thread.
// CHECK-LABEL: func.func @long_conv
// CHECK: gpu.func @hyena(%[[X:[^:]*]]: memref<2x8x300xf32>, %[[F:[^:]*]]: memref<8x300xf32>, %[[D:[^:]*]]: memref<8xf32>, %[[OUT:[^:]*]]: memref<2x8x300xf32>)
// CHECK-SAME: iolite.block = array<i64: 256, 1, 1>, iolite.grid = array<i64: 8, 1, 1>
// CHECK-SAME: iolite.template = "long_conv", iolite.tile = "filter 300 on chip, 256 threads x 2 outputs, input tile 320"
// CHECK: scf.for
// CHECK: memref.load %[[F]]
// CHECK: scf.if
// CHECK: memref.load %[[D]]
// CHECK: memref.store %{{.*}} : memref<300xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: %[[ACC:.*]]:2 = scf.for {{.*}} iter_args(
// CHECK: gpu.barrier
// CHECK: memref.load %[[X]]
// CHECK: memref.store %{{.*}} : memref<320xf32, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK: scf.for {{.*}} iter_args(
// CHECK-NOT: memref.load %arg
// CHECK: memref.load %{{.*}} : memref<300xf32, #gpu.address_space<workgroup>>
// CHECK: math.fma
// CHECK: memref.store %[[ACC]]#0, %[[OUT]]
// CHECK: memref.store %[[ACC]]#1, %[[OUT]]
// AMD-LABEL: func.func @long_conv
// AMD: iolite.template = "long_conv"

func.func @long_conv(%x: tensor<2x8x300xf32>, %h: tensor<8x300xf32>, %d: tensor<8xf32>) -> tensor<2x8x300xf32> {
  %r = iolite.kernel "hyena" (%x, %h, %d) : (tensor<2x8x300xf32>, tensor<8x300xf32>, tensor<8xf32>) -> tensor<2x8x300xf32> {
  ^bb0(%a0: tensor<2x8x300xf32>, %a1: tensor<8x300xf32>, %a2: tensor<8xf32>):
    %y = iolite.long_conv %a0, %a1 D(%a2 : tensor<8xf32>) : tensor<2x8x300xf32>, tensor<8x300xf32>
    iolite.yield %y : tensor<2x8x300xf32>
  }
  return %r : tensor<2x8x300xf32>
}

// -----

// conv1d alone: 8 channels x tiles of 128 steps slide over the sequence; the
// K-1 = 3 halo inputs are read once per segment, then kept on chip.
// CHECK-LABEL: func.func @conv1d
// CHECK: gpu.func @conv(%[[X:[^:]*]]: memref<2x16x300xf32>, %[[W:[^:]*]]: memref<16x4xf32>, %[[B:[^:]*]]: memref<16xf32>, %[[OUT:[^:]*]]: memref<2x16x300xf32>)
// CHECK-SAME: iolite.grid = array<i64: 2, 2, 1>
// CHECK-SAME: iolite.template = "conv1d", iolite.tile = "8 channels x 3 tiles of 128 steps, window 4"
// CHECK: memref.load %[[W]]
// CHECK: memref.load %[[B]]
// Halo before the segment.
// CHECK: memref.load %[[X]]
// CHECK: memref.store %{{.*}} : memref<8x131xf32, #gpu.address_space<workgroup>>
// CHECK: scf.for
// CHECK: gpu.barrier
// CHECK: memref.load %[[X]]
// CHECK: gpu.barrier
// CHECK-COUNT-4: math.fma
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: gpu.barrier
// CHECK: memref.load %{{.*}} : memref<8x131xf32, #gpu.address_space<workgroup>>
// CHECK-NEXT: memref.store %{{.*}} : memref<8x131xf32, #gpu.address_space<workgroup>>
// AMD-LABEL: func.func @conv1d
// AMD: iolite.template = "conv1d"

func.func @conv1d(%x: tensor<2x16x300xf32>, %w: tensor<16x4xf32>, %b: tensor<16xf32>) -> tensor<2x16x300xf32> {
  %r = iolite.kernel "conv" (%x, %w, %b) : (tensor<2x16x300xf32>, tensor<16x4xf32>, tensor<16xf32>) -> tensor<2x16x300xf32> {
  ^bb0(%a0: tensor<2x16x300xf32>, %a1: tensor<16x4xf32>, %a2: tensor<16xf32>):
    %y = iolite.conv1d %a0, %a1 bias(%a2 : tensor<16xf32>) activation = silu : tensor<2x16x300xf32>, tensor<16x4xf32>
    iolite.yield %y : tensor<2x16x300xf32>
  }
  return %r : tensor<2x16x300xf32>
}

// -----

// Run-time batch and sequence length (docs/dynamic-shapes.md): the kernel
// takes the symbols as i64 parameters after its buffers and views its flat
// buffers at their run-time sizes; the grid's y axis is the call's batch
// and the chunk loop runs ceil(seq / 16) times, the last chunk masked by
// min(16, seq - t0). Tiles are chosen at the bounds.
// CHECK-LABEL: func.func @selective_scan_dynamic
// CHECK: gpu.func @scan_dyn(%{{[^:]*}}: memref<25600xf32>, %{{[^:]*}}: memref<25600xf32>, %{{[^:]*}}: memref<64x16xf32>, %{{[^:]*}}: memref<6400xf32>, %{{[^:]*}}: memref<6400xf32>, %{{[^:]*}}: memref<25600xf32>, %[[BATCH:[^:]*]]: i64, %[[SEQ:[^:]*]]: i64)
// CHECK-SAME: iolite.grid = array<i64: 1, 4, 1>, iolite.grid_extents = [array<i64: 1, 1, 0, 0>, array<i64: 1, 1, 1, 0>, array<i64: 1, 1, 0, 0>]
// CHECK-SAME: iolite.template = "selective_scan", iolite.tile = "64 channels x 1 lanes of 16 states, chunk 16"
// CHECK-DAG: %[[B:.*]] = arith.index_cast %[[BATCH]] : i64 to index
// CHECK-DAG: %[[L:.*]] = arith.index_cast %[[SEQ]] : i64 to index
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[B]], 64, %[[L]]], strides: [%{{.*}}, %[[L]], 1] : memref<25600xf32> to memref<?x64x?xf32>
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%[[B]], 16, %[[L]]], strides: [%{{.*}}, %[[L]], 1] : memref<6400xf32> to memref<?x16x?xf32>
// CHECK: %[[LP:.*]] = arith.addi %[[L]], %c15{{.*}} : index
// CHECK: %[[CHUNKS:.*]] = arith.divui %[[LP]], %c16{{.*}} : index
// CHECK: %{{.*}}:16 = scf.for %[[CHUNK:.*]] = %{{.*}} to %[[CHUNKS]] step %{{.*}} iter_args(
// CHECK: %[[T0:.*]] = arith.muli %[[CHUNK]], %c16
// CHECK: %[[LEFT:.*]] = arith.subi %[[L]], %[[T0]] : index
// CHECK: %[[VALID:.*]] = arith.minui %c16{{.*}}, %[[LEFT]] : index
// CHECK: %{{.*}}:16 = scf.for %{{.*}} = %{{.*}} to %[[VALID]] step %{{.*}} iter_args(
// CHECK: gpu.return
// AMD-LABEL: func.func @selective_scan_dynamic
// AMD: iolite.grid_extents = [array<i64: 1, 1, 0, 0>, array<i64: 1, 1, 1, 0>, array<i64: 1, 1, 0, 0>]
// AMD-SAME: iolite.template = "selective_scan"

func.func @selective_scan_dynamic(%u: tensor<?x64x?xf32> {iolite.dims = ["batch", "", "seq"]}, %dt: tensor<?x64x?xf32> {iolite.dims = ["batch", "", "seq"]}, %A: tensor<64x16xf32>, %B: tensor<?x16x?xf32> {iolite.dims = ["batch", "", "seq"]}, %C: tensor<?x16x?xf32> {iolite.dims = ["batch", "", "seq"]}) -> tensor<?x64x?xf32> attributes {iolite.dim_bounds = {batch = array<i64: 1, 4>, seq = array<i64: 1, 100>}} {
  %r = iolite.kernel "scan_dyn" (%u, %dt, %A, %B, %C) : (tensor<?x64x?xf32>, tensor<?x64x?xf32>, tensor<64x16xf32>, tensor<?x16x?xf32>, tensor<?x16x?xf32>) -> tensor<?x64x?xf32> {
  ^bb0(%a0: tensor<?x64x?xf32>, %a1: tensor<?x64x?xf32>, %a2: tensor<64x16xf32>, %a3: tensor<?x16x?xf32>, %a4: tensor<?x16x?xf32>):
    %y = iolite.selective_scan %a0, %a1, %a2, %a3, %a4 : tensor<?x64x?xf32>, tensor<?x64x?xf32>, tensor<64x16xf32>, tensor<?x16x?xf32>, tensor<?x16x?xf32>
    iolite.yield %y : tensor<?x64x?xf32>
  }
  return %r : tensor<?x64x?xf32>
}

// -----

// SSD with run-time batch and sequence length: the grid's y axis is the
// call's batch, the chunk loop runs ceil(seq / 16) times and the last chunk
// stages min(16, seq - t0) steps (zeros past the end). Tiles and the chunk
// are chosen at the bounds.
// CHECK-LABEL: func.func @ssd_dynamic
// CHECK: gpu.func @ssd_dyn(%{{[^:]*}}: memref<8192xf32>, %{{[^:]*}}: memref<1024xf32>, %{{[^:]*}}: memref<4xf32>, %{{[^:]*}}: memref<4096xf32>, %{{[^:]*}}: memref<4096xf32>, %{{[^:]*}}: memref<8192xf32>, %[[BATCH:[^:]*]]: i64, %[[SEQ:[^:]*]]: i64)
// CHECK-SAME: iolite.grid_extents = [array<i64: 1, 2, 0, 0>, array<i64: 1, 1, 1, 0>, array<i64: 1, 1, 0, 0>]
// CHECK-SAME: iolite.template = "ssd", iolite.tile = "chunk 16,
// CHECK-DAG: %[[L:.*]] = arith.index_cast %[[SEQ]] : i64 to index
// CHECK: %[[CHUNKS:.*]] = arith.ceildivui %[[L]], %c16{{.*}} : index
// CHECK: scf.for %[[CHUNK:.*]] = %{{.*}} to %[[CHUNKS]] step %{{.*}} iter_args(
// CHECK: %[[T0:.*]] = arith.muli %[[CHUNK]], %c16
// CHECK: %[[LEFT:.*]] = arith.subi %[[L]], %[[T0]] : index
// CHECK: arith.minui %c16{{.*}}, %[[LEFT]] : index
// CHECK: gpu.return
// AMD-LABEL: func.func @ssd_dynamic
// AMD: iolite.template = "ssd"
func.func @ssd_dynamic(%x: tensor<?x?x4x8xf32> {iolite.dims = ["batch", "seq", "", ""]}, %dt: tensor<?x?x4xf32> {iolite.dims = ["batch", "seq", ""]}, %a: tensor<4xf32>, %b: tensor<?x?x2x8xf32> {iolite.dims = ["batch", "seq", "", ""]}, %c: tensor<?x?x2x8xf32> {iolite.dims = ["batch", "seq", "", ""]}) -> tensor<?x?x4x8xf32> attributes {iolite.dim_bounds = {batch = array<i64: 1, 4>, seq = array<i64: 1, 64>}} {
  %r = iolite.kernel "ssd_dyn" (%x, %dt, %a, %b, %c) : (tensor<?x?x4x8xf32>, tensor<?x?x4xf32>, tensor<4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>) -> tensor<?x?x4x8xf32> {
  ^bb0(%a0: tensor<?x?x4x8xf32>, %a1: tensor<?x?x4xf32>, %a2: tensor<4xf32>, %a3: tensor<?x?x2x8xf32>, %a4: tensor<?x?x2x8xf32>):
    %y = iolite.ssd %a0, %a1, %a2, %a3, %a4 {chunk_size = 16 : i64} : tensor<?x?x4x8xf32>, tensor<?x?x4xf32>, tensor<4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>
    iolite.yield %y : tensor<?x?x4x8xf32>
  }
  return %r : tensor<?x?x4x8xf32>
}

// -----

// Hyena's long conv with the filter as long as the run-time sequence: the
// filter's shared buffer is sized at the bound (64 taps), its loads stop
// at the call's taps, and the segment grid follows the length
// (ceil(seq / segment)).
// CHECK-LABEL: func.func @long_conv_dynamic
// CHECK: gpu.func @lc_dyn(%{{[^:]*}}: memref<2048xf32>, %{{[^:]*}}: memref<512xf32>, %{{[^:]*}}: memref<2048xf32>, %{{[^:]*}}: i64, %[[SEQ:[^:]*]]: i64)
// CHECK-SAME: iolite.grid_extents = [array<i64: 1, 8, 0, 0>, array<i64: 64, 1, 0, 1>, array<i64: 1, 1, 0, 0>]
// CHECK-SAME: iolite.template = "long_conv", iolite.tile = "filter 64 on chip
// CHECK: %[[L:.*]] = arith.index_cast %[[SEQ]] : i64 to index
// CHECK: arith.cmpi ult, %{{.*}}, %[[L]] : index
// CHECK: gpu.return
// AMD-LABEL: func.func @long_conv_dynamic
// AMD: iolite.template = "long_conv"
func.func @long_conv_dynamic(%x: tensor<?x8x?xf32> {iolite.dims = ["batch", "", "seq"]}, %f: tensor<8x?xf32> {iolite.dims = ["", "seq"]}) -> tensor<?x8x?xf32> attributes {iolite.dim_bounds = {batch = array<i64: 1, 4>, seq = array<i64: 1, 64>}} {
  %r = iolite.kernel "lc_dyn" (%x, %f) : (tensor<?x8x?xf32>, tensor<8x?xf32>) -> tensor<?x8x?xf32> {
  ^bb0(%a0: tensor<?x8x?xf32>, %a1: tensor<8x?xf32>):
    %y = iolite.long_conv %a0, %a1 : tensor<?x8x?xf32>, tensor<8x?xf32>
    iolite.yield %y : tensor<?x8x?xf32>
  }
  return %r : tensor<?x8x?xf32>
}
