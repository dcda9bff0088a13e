// The carried-state ops on the state-space templates (docs/ssm-kernels.md
// "Carried state"): selective_scan_with_state and ssd_with_state load the
// state into the registers the chunk loop carries (FMA values or matrix
// accumulator fragments) and store them once, after the loop, as the final
// state; conv1d_with_state takes the window's halo from the state and the
// blocks of the first segment store the last K-1 columns of [state, input].
// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=sm_90a | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-kernel-to-gpu=target=gfx942 | FileCheck %s --check-prefix=AMD

// Mamba-1 decode step (L = 1), N = 16: one lane of 16 states per channel.
// The kernel yields the state first: it goes to output 0 (%[[HOUT]]), y to
// output 1.
// CHECK-LABEL: func.func @scan_state_decode
// CHECK: gpu.func @scan_state(%{{[^:]*}}: memref<2x64x1xf32>, %{{[^:]*}}: memref<2x64x1xf32>, %[[A:[^:]*]]: memref<64x16xf32>, %{{[^:]*}}: memref<2x16x1xf32>, %{{[^:]*}}: memref<2x16x1xf32>, %[[H:[^:]*]]: memref<2x64x16xf32>, %[[HOUT:[^:]*]]: memref<2x64x16xf32>, %[[OUT:[^:]*]]: memref<2x64x1xf32>)
// CHECK-SAME: iolite.template = "selective_scan", iolite.tile = "64 channels x 1 lanes of 16 states, chunk 1, carried state"
// CHECK-COUNT-16: memref.load %[[A]]
// The thread's 16 states of h0, contiguous, load once as four aligned
// vectors and start the chunk loop.
// CHECK: %[[HV:.*]] = memref.collapse_shape %[[H]] {{\[}}[0, 1, 2]] : memref<2x64x16xf32> into memref<2048xf32>
// CHECK: %[[V0:.*]] = vector.load %[[HV]][%{{.*}}] {alignment = 16 : i64} : memref<2048xf32>, vector<4xf32>
// CHECK: %[[H0:.*]] = vector.extract %[[V0]][0]
// CHECK-COUNT-3: vector.load %{{.*}} {alignment = 16 : i64} : memref<2048xf32>, vector<4xf32>
// CHECK: %[[FINAL:.*]]:16 = scf.for %{{.*}} iter_args(%{{[^ ]*}} = %[[H0]],
// CHECK-NOT: vector.load
// CHECK-NOT: memref.store {{.*}}, %[[HOUT]]
// The recurrence carries them; nothing goes to global memory inside it.
// CHECK: scf.for %{{.*}} iter_args(
// CHECK-NOT: memref.store {{.*}}, %arg{{[0-9]+}}[
// CHECK: math.exp
// CHECK: scf.yield {{.*}} : f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32{{$}}
// CHECK-NOT: memref.store {{.*}}, %[[HOUT]]
// CHECK: memref.store %{{.*}}, %[[OUT]][
// CHECK-NOT: memref.store {{.*}}, %[[HOUT]]
// CHECK: scf.yield
// After the chunk loop: the final state, from the loop's results, as four
// vector stores into output 0.
// CHECK: %[[W0:.*]] = vector.from_elements %[[FINAL]]#0, %[[FINAL]]#1, %[[FINAL]]#2, %[[FINAL]]#3 : vector<4xf32>
// CHECK: %[[HOV:.*]] = memref.collapse_shape %[[HOUT]]
// CHECK: vector.store %[[W0]], %[[HOV]][
// CHECK-COUNT-3: vector.store
// CHECK-NEXT: gpu.return
// AMD-LABEL: func.func @scan_state_decode
// AMD: iolite.template = "selective_scan", iolite.tile = "64 channels x 1 lanes of 16 states, chunk 1, carried state"
// AMD: vector.from_elements %{{.*}}#12, %{{.*}}#13, %{{.*}}#14, %{{.*}}#15
// AMD: vector.store
// AMD-NEXT: gpu.return
func.func @scan_state_decode(%u: tensor<2x64x1xf32>, %dt: tensor<2x64x1xf32>, %A: tensor<64x16xf32>, %B: tensor<2x16x1xf32>, %C: tensor<2x16x1xf32>, %h: tensor<2x64x16xf32>) -> (tensor<2x64x16xf32>, tensor<2x64x1xf32>) {
  %r:2 = iolite.kernel "scan_state" (%u, %dt, %A, %B, %C, %h) : (tensor<2x64x1xf32>, tensor<2x64x1xf32>, tensor<64x16xf32>, tensor<2x16x1xf32>, tensor<2x16x1xf32>, tensor<2x64x16xf32>) -> (tensor<2x64x16xf32>, tensor<2x64x1xf32>) {
  ^bb0(%a0: tensor<2x64x1xf32>, %a1: tensor<2x64x1xf32>, %a2: tensor<64x16xf32>, %a3: tensor<2x16x1xf32>, %a4: tensor<2x16x1xf32>, %a5: tensor<2x64x16xf32>):
    %y, %h2 = iolite.selective_scan_with_state %a0, %a1, %a2, %a3, %a4, %a5 {delta_softplus} : tensor<2x64x1xf32>, tensor<2x64x1xf32>, tensor<64x16xf32>, tensor<2x16x1xf32>, tensor<2x16x1xf32>, tensor<2x64x16xf32>
    iolite.yield %h2, %y : tensor<2x64x16xf32>, tensor<2x64x1xf32>
  }
  return %r#0, %r#1 : tensor<2x64x16xf32>, tensor<2x64x1xf32>
}

// -----

// Chunked prefill, N = 64 over 70 channels: two lanes of 32 states, a
// block of 80 channels of which 10 are past D, so the state's vector loads
// and stores are guarded by the channel bound.
// CHECK-LABEL: func.func @scan_state_prefill
// CHECK: gpu.func @scan_state(%{{[^:]*}}: memref<1x70x40xf16>, %{{[^:]*}}: memref<70x64xf32>, %{{[^:]*}}: memref<1x64x40xf16>, %[[H:[^:]*]]: memref<1x70x64xf32>, %[[Y:[^:]*]]: memref<1x70x40xf16>, %[[HOUT:[^:]*]]: memref<1x70x64xf32>)
// CHECK-SAME: iolite.tile = "80 channels x 2 lanes of 32 states, chunk 16, carried state"
// CHECK-COUNT-32: memref.load %arg1
// CHECK: scf.if %{{.*}} -> (f32, f32, f32, f32) {
// CHECK-NEXT: memref.collapse_shape %[[H]]
// CHECK: vector.load %{{.*}} : memref<4480xf32>, vector<4xf32>
// CHECK: } else {
// CHECK-COUNT-7: vector.load %{{.*}} : memref<4480xf32>, vector<4xf32>
// CHECK: %[[FINAL:.*]]:32 = scf.for
// CHECK: gpu.shuffle xor
// CHECK: memref.store %{{.*}}, %[[Y]][
// CHECK: scf.if %{{.*}} {
// CHECK-NOT: memref.store
// CHECK: vector.from_elements %[[FINAL]]#0, %[[FINAL]]#1, %[[FINAL]]#2, %[[FINAL]]#3 : vector<4xf32>
// CHECK-NEXT: memref.collapse_shape %[[HOUT]]
// CHECK-COUNT-8: vector.store
// CHECK-NEXT: {{^ *}}}{{$}}
// CHECK-NEXT: gpu.return
// AMD-LABEL: func.func @scan_state_prefill
// AMD: gpu.shuffle xor
// AMD: vector.from_elements %{{.*}}#28, %{{.*}}#29, %{{.*}}#30, %{{.*}}#31
// AMD-NEXT: memref.collapse_shape %arg5
func.func @scan_state_prefill(%u: tensor<1x70x40xf16>, %A: tensor<70x64xf32>, %B: tensor<1x64x40xf16>, %h: tensor<1x70x64xf32>) -> (tensor<1x70x40xf16>, tensor<1x70x64xf32>) {
  %r:2 = iolite.kernel "scan_state" (%u, %A, %B, %h) : (tensor<1x70x40xf16>, tensor<70x64xf32>, tensor<1x64x40xf16>, tensor<1x70x64xf32>) -> (tensor<1x70x40xf16>, tensor<1x70x64xf32>) {
  ^bb0(%a0: tensor<1x70x40xf16>, %a1: tensor<70x64xf32>, %a2: tensor<1x64x40xf16>, %a3: tensor<1x70x64xf32>):
    %y, %h2 = iolite.selective_scan_with_state %a0, %a0, %a1, %a2, %a2, %a3 : tensor<1x70x40xf16>, tensor<1x70x40xf16>, tensor<70x64xf32>, tensor<1x64x40xf16>, tensor<1x64x40xf16>, tensor<1x70x64xf32>
    iolite.yield %y, %h2 : tensor<1x70x40xf16>, tensor<1x70x64xf32>
  }
  return %r#0, %r#1 : tensor<1x70x40xf16>, tensor<1x70x64xf32>
}

// -----

// Decode step of the short conv (K = 4): the window's halo is column j of
// [state, input], i.e. the state where j < K-1 ...
// CHECK-LABEL: func.func @conv_state_decode
// CHECK: gpu.func @conv_state(%[[X:[^:]*]]: memref<2x64x1xf16>, %[[W:[^:]*]]: memref<64x4xf16>, %[[S:[^:]*]]: memref<2x64x3xf16>, %[[Y:[^:]*]]: memref<2x64x1xf16>, %[[SOUT:[^:]*]]: memref<2x64x3xf16>)
// CHECK-SAME: iolite.template = "conv1d", iolite.tile = "8 channels x 1 tiles of 3 steps, window 4, carried state"
// CHECK: memref.load %[[W]]
// CHECK: scf.if %{{.*}} -> (f32) {
// CHECK: memref.load %[[X]]
// CHECK: } else {
// CHECK: memref.load %[[S]]
// CHECK: memref.store %{{.*}} : memref<8x6xf32, #gpu.address_space<workgroup>>
// ... and the blocks of the first segment store the final state, the last
// K-1 columns of [state, input]: two of the state's, then the input.
// CHECK: %[[Z:.*]] = gpu.block_id z
// CHECK: arith.cmpi eq, %[[Z]], %c0
// CHECK: scf.if
// CHECK: scf.for
// CHECK: arith.addi %c1{{[_0-9]*}},
// CHECK: scf.if %{{.*}} -> (f32) {
// CHECK: memref.load %[[X]]
// CHECK: } else {
// CHECK: memref.load %[[S]]
// CHECK: memref.store %{{.*}}, %[[SOUT]][
// The tile walk writes only y.
// CHECK: scf.for
// CHECK-NOT: memref.store {{.*}}, %[[SOUT]]
// CHECK: memref.store %{{.*}}, %[[Y]][
// CHECK-NOT: memref.store {{.*}}, %[[SOUT]]
// CHECK: gpu.return
// AMD-LABEL: func.func @conv_state_decode
// AMD: iolite.block = array<i64: 64, 1, 1>
// AMD-SAME: iolite.template = "conv1d"
// AMD: memref.store %{{.*}}, %arg4[
func.func @conv_state_decode(%x: tensor<2x64x1xf16>, %w: tensor<64x4xf16>, %s: tensor<2x64x3xf16>) -> (tensor<2x64x1xf16>, tensor<2x64x3xf16>) {
  %r:2 = iolite.kernel "conv_state" (%x, %w, %s) : (tensor<2x64x1xf16>, tensor<64x4xf16>, tensor<2x64x3xf16>) -> (tensor<2x64x1xf16>, tensor<2x64x3xf16>) {
  ^bb0(%a0: tensor<2x64x1xf16>, %a1: tensor<64x4xf16>, %a2: tensor<2x64x3xf16>):
    %y, %s2 = iolite.conv1d_with_state %a0, %a1, %a2 activation = silu : tensor<2x64x1xf16>, tensor<64x4xf16>, tensor<2x64x3xf16>
    iolite.yield %y, %s2 : tensor<2x64x1xf16>, tensor<2x64x3xf16>
  }
  return %r#0, %r#1 : tensor<2x64x1xf16>, tensor<2x64x3xf16>
}


// -----

// Mamba-2 decode step on the FMA units (f32): each thread's register tile
// of the two heads' [16, 8] states starts from the state and is stored
// after the chunk loop; inside it only y is written.
// CHECK-LABEL: func.func @ssd_state_decode
// CHECK: gpu.func @ssd_state(%{{[^:]*}}: memref<2x1x4x16xf32>, %{{[^:]*}}: memref<2x1x4xf32>, %{{[^:]*}}: memref<4xf32>, %{{[^:]*}}: memref<2x1x2x8xf32>, %[[H:[^:]*]]: memref<2x4x16x8xf32>, %[[Y:[^:]*]]: memref<2x1x4x16xf32>, %[[HOUT:[^:]*]]: memref<2x4x16x8xf32>)
// CHECK-SAME: iolite.template = "ssd", iolite.tile = "chunk 1, 2 head(s) per block, state 16x8 in registers, carried state"
// CHECK: %[[S0:.*]] = memref.load %[[H]][
// CHECK: %[[S1:.*]] = memref.load %[[H]][
// CHECK: %[[FINAL:.*]]:2 = scf.for %{{.*}} iter_args(%{{[^ ]*}} = %[[S0]], %{{[^ ]*}} = %[[S1]]) -> (f32, f32)
// CHECK-NOT: memref.load %[[H]]
// CHECK-NOT: memref.store {{.*}}, %[[HOUT]]
// CHECK: memref.store %{{.*}}, %[[Y]][
// CHECK-NOT: memref.store {{.*}}, %[[HOUT]]
// CHECK: memref.store %{{.*}}, %[[Y]][
// CHECK-NOT: memref.store {{.*}}, %[[HOUT]]
// CHECK: scf.yield
// CHECK: memref.store %[[FINAL]]#0, %[[HOUT]][
// CHECK: memref.store %[[FINAL]]#1, %[[HOUT]][
// CHECK: gpu.return
// AMD-LABEL: func.func @ssd_state_decode
// AMD: iolite.template = "ssd", iolite.tile = "chunk 1, 2 head(s) per block, state 16x8 in registers, carried state"
// AMD: memref.store %{{.*}}#1, %arg6[
func.func @ssd_state_decode(%x: tensor<2x1x4x16xf32>, %dt: tensor<2x1x4xf32>, %A: tensor<4xf32>, %B: tensor<2x1x2x8xf32>, %h: tensor<2x4x16x8xf32>) -> (tensor<2x1x4x16xf32>, tensor<2x4x16x8xf32>) {
  %r:2 = iolite.kernel "ssd_state" (%x, %dt, %A, %B, %h) : (tensor<2x1x4x16xf32>, tensor<2x1x4xf32>, tensor<4xf32>, tensor<2x1x2x8xf32>, tensor<2x4x16x8xf32>) -> (tensor<2x1x4x16xf32>, tensor<2x4x16x8xf32>) {
  ^bb0(%a0: tensor<2x1x4x16xf32>, %a1: tensor<2x1x4xf32>, %a2: tensor<4xf32>, %a3: tensor<2x1x2x8xf32>, %a4: tensor<2x4x16x8xf32>):
    %y, %h2 = iolite.ssd_with_state %a0, %a1, %a2, %a3, %a3, %a4 {dt_softplus} : tensor<2x1x4x16xf32>, tensor<2x1x4xf32>, tensor<4xf32>, tensor<2x1x2x8xf32>, tensor<2x1x2x8xf32>, tensor<2x4x16x8xf32>
    iolite.yield %y, %h2 : tensor<2x1x4x16xf32>, tensor<2x4x16x8xf32>
  }
  return %r#0, %r#1 : tensor<2x1x4x16xf32>, tensor<2x4x16x8xf32>
}

// -----

// f16 prefill on the matrix units, P = 24 and N = 20 off the instruction
// tiles: the state's accumulator fragments are built from guarded loads
// (padding rows and columns zero) and start the chunk loop; after it, the
// real elements of each fragment are stored. H and x w go in as hi + lo
// operand pairs (carried state).
// CHECK-LABEL: func.func @ssd_state_f16
// CHECK: gpu.func @ssd_state(%{{[^:]*}}: memref<1x40x2x24xf16>, %{{[^:]*}}: memref<1x40x2xf16>, %{{[^:]*}}: memref<2xf32>, %{{[^:]*}}: memref<1x40x1x20xf16>, %[[H:[^:]*]]: memref<1x2x24x20xf32>, %[[Y:[^:]*]]: memref<1x40x2x24xf16>, %[[HOUT:[^:]*]]: memref<1x2x24x20xf32>)
// CHECK-SAME: iolite.tile = "chunk 32, 2 head(s) per block, state 24x20 in registers, nv_m16n8k16_f16 ({{.*}}), carried state"
// CHECK: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %c24
// CHECK: arith.cmpi ult, %{{.*}}, %c20
// CHECK: scf.if %{{.*}} -> (f32) {
// CHECK-NEXT: memref.load %[[H]][
// CHECK: %[[F0:.*]] = vector.from_elements %{{.*}} : vector<4xf32>
// CHECK: %[[F1:.*]] = vector.from_elements %{{.*}} : vector<4xf32>
// CHECK: %[[FINAL:.*]]:2 = scf.for %{{.*}} iter_args(%{{[^ ]*}} = %[[F0]], %{{[^ ]*}} = %[[F1]]) -> (vector<4xf32>, vector<4xf32>)
// CHECK-NOT: memref.store {{.*}}, %[[HOUT]]
// CHECK: memref.store %{{.*}}, %[[Y]][
// CHECK-NOT: memref.store {{.*}}, %[[HOUT]]
// CHECK: %[[E0:.*]] = vector.extract %[[FINAL]]#0[0]
// CHECK-NEXT: memref.store %[[E0]], %[[HOUT]][
// CHECK: %[[E7:.*]] = vector.extract %[[FINAL]]#1[3]
// CHECK-NEXT: memref.store %[[E7]], %[[HOUT]][
// CHECK: gpu.return
// AMD-LABEL: func.func @ssd_state_f16
// AMD: amd_mfma_{{.*}}, carried state"
// AMD: vector.from_elements
// AMD: memref.store %{{.*}}, %arg6[
func.func @ssd_state_f16(%x: tensor<1x40x2x24xf16>, %dt: tensor<1x40x2xf16>, %A: tensor<2xf32>, %B: tensor<1x40x1x20xf16>, %h: tensor<1x2x24x20xf32>) -> (tensor<1x40x2x24xf16>, tensor<1x2x24x20xf32>) {
  %r:2 = iolite.kernel "ssd_state" (%x, %dt, %A, %B, %h) : (tensor<1x40x2x24xf16>, tensor<1x40x2xf16>, tensor<2xf32>, tensor<1x40x1x20xf16>, tensor<1x2x24x20xf32>) -> (tensor<1x40x2x24xf16>, tensor<1x2x24x20xf32>) {
  ^bb0(%a0: tensor<1x40x2x24xf16>, %a1: tensor<1x40x2xf16>, %a2: tensor<2xf32>, %a3: tensor<1x40x1x20xf16>, %a4: tensor<1x2x24x20xf32>):
    %y, %h2 = iolite.ssd_with_state %a0, %a1, %a2, %a3, %a3, %a4 {chunk_size = 32 : i64} : tensor<1x40x2x24xf16>, tensor<1x40x2xf16>, tensor<2xf32>, tensor<1x40x1x20xf16>, tensor<1x40x1x20xf16>, tensor<1x2x24x20xf32>
    iolite.yield %y, %h2 : tensor<1x40x2x24xf16>, tensor<1x2x24x20xf32>
  }
  return %r#0, %r#1 : tensor<1x40x2x24xf16>, tensor<1x2x24x20xf32>
}
