// RUN: iolite-opt %s --split-input-file --iolite-raise-scan | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-raise-scan=remarks=true 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK

// A bf16 Mamba block as a model writes it (bench/models.py): the step size
// computed in f32 and rounded, the bare scan, the D skip and the SiLU(z)
// gate in f32, rounded once at the end. All of it becomes the scan's own
// operands. A = -exp(A_log), as Mamba keeps it (and a stable scan for the
// numerics test that runs these cases).
// CHECK-LABEL: func.func @mamba_bf16
// CHECK-SAME: (%[[U:[^:]*]]: tensor<1x64x32xbf16>, %[[DELTA:[^:]*]]: tensor<1x64x32xbf16>, %[[ALOG:[^:]*]]: tensor<64x16xf32>, %[[B:[^:]*]]: tensor<1x16x32xbf16>, %[[C:[^:]*]]: tensor<1x16x32xbf16>, %[[D:[^:]*]]: tensor<64x1xf32>, %[[Z:[^:]*]]: tensor<1x64x32xbf16>, %[[BIAS:[^:]*]]: tensor<64x1xf32>)
// CHECK: %[[A:.*]] = iolite.neg
// CHECK-DAG: %[[D1:.*]] = iolite.reshape %[[D]] : tensor<64x1xf32> -> tensor<64xf32>
// CHECK-DAG: %[[B1:.*]] = iolite.reshape %[[BIAS]] : tensor<64x1xf32> -> tensor<64xf32>
// CHECK: %[[Y:.*]] = iolite.selective_scan %[[U]], %[[DELTA]], %[[A]], %[[B]], %[[C]] D(%[[D1]] : tensor<64xf32>) z(%[[Z]] : tensor<1x64x32xbf16>) delta_bias(%[[B1]] : tensor<64xf32>) {delta_softplus}
// CHECK-NOT: iolite.softplus
// CHECK-NOT: iolite.silu
// CHECK: return %[[Y]]
// REMARK: remark: absorbed delta_bias, delta_softplus, D, z into iolite.selective_scan
func.func @mamba_bf16(%u: tensor<1x64x32xbf16>, %delta: tensor<1x64x32xbf16>, %A_log: tensor<64x16xf32>, %B: tensor<1x16x32xbf16>, %C: tensor<1x16x32xbf16>, %D: tensor<64x1xf32>, %z: tensor<1x64x32xbf16>, %bias: tensor<64x1xf32>) -> tensor<1x64x32xbf16> {
  %Ae = iolite.exp %A_log : tensor<64x16xf32>
  %A = iolite.neg %Ae : tensor<64x16xf32>
  %d32 = iolite.cast %delta : tensor<1x64x32xbf16> to tensor<1x64x32xf32>
  %db = iolite.add %d32, %bias : tensor<1x64x32xf32>, tensor<64x1xf32>
  %dt32 = iolite.softplus %db : tensor<1x64x32xf32>
  %dt = iolite.cast %dt32 : tensor<1x64x32xf32> to tensor<1x64x32xbf16>
  %y = iolite.selective_scan %u, %dt, %A, %B, %C : tensor<1x64x32xbf16>, tensor<1x64x32xbf16>, tensor<64x16xf32>, tensor<1x16x32xbf16>, tensor<1x16x32xbf16>
  %u32 = iolite.cast %u : tensor<1x64x32xbf16> to tensor<1x64x32xf32>
  %du = iolite.mul %u32, %D : tensor<1x64x32xf32>, tensor<64x1xf32>
  %y32 = iolite.cast %y : tensor<1x64x32xbf16> to tensor<1x64x32xf32>
  %ys = iolite.add %y32, %du : tensor<1x64x32xf32>, tensor<1x64x32xf32>
  %z32 = iolite.cast %z : tensor<1x64x32xbf16> to tensor<1x64x32xf32>
  %gz = iolite.silu %z32 : tensor<1x64x32xf32>
  %o32 = iolite.mul %ys, %gz : tensor<1x64x32xf32>, tensor<1x64x32xf32>
  %o = iolite.cast %o32 : tensor<1x64x32xf32> to tensor<1x64x32xbf16>
  return %o : tensor<1x64x32xbf16>
}

// -----

// f32 without casts, the skip written D * u (operands swapped), no gate,
// no bias: softplus and D are absorbed.
// CHECK-LABEL: func.func @skip_only
// CHECK: %[[Y:.*]] = iolite.selective_scan %arg0, %arg1, %arg2, %arg3, %arg4 D(%{{.*}} : tensor<8xf32>) {delta_softplus}
// CHECK-NEXT: return %[[Y]]
func.func @skip_only(%u: tensor<2x8x16xf32>, %delta: tensor<2x8x16xf32>, %A: tensor<8x4xf32>, %B: tensor<2x4x16xf32>, %C: tensor<2x4x16xf32>, %D: tensor<1x8x1xf32>) -> tensor<2x8x16xf32> {
  %dt = iolite.softplus %delta : tensor<2x8x16xf32>
  %y = iolite.selective_scan %u, %dt, %A, %B, %C : tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<8x4xf32>, tensor<2x4x16xf32>, tensor<2x4x16xf32>
  %du = iolite.mul %D, %u : tensor<1x8x1xf32>, tensor<2x8x16xf32>
  %ys = iolite.add %du, %y : tensor<2x8x16xf32>, tensor<2x8x16xf32>
  return %ys : tensor<2x8x16xf32>
}

// -----

// A gate without a skip, and a bias [1, D, 1] without softplus, in f16 with
// f32 pieces.
// CHECK-LABEL: func.func @gate_and_bias
// CHECK: iolite.selective_scan %arg0, %arg1, %arg2, %arg3, %arg4 z(%arg6 : tensor<1x8x16xf16>) delta_bias(%{{.*}} : tensor<8xf32>) :
// CHECK-NOT: iolite.silu
func.func @gate_and_bias(%u: tensor<1x8x16xf16>, %delta: tensor<1x8x16xf16>, %A: tensor<8x4xf32>, %B: tensor<1x4x16xf16>, %C: tensor<1x4x16xf16>, %bias: tensor<1x8x1xf32>, %z: tensor<1x8x16xf16>) -> tensor<1x8x16xf16> {
  %d32 = iolite.cast %delta : tensor<1x8x16xf16> to tensor<1x8x16xf32>
  %db = iolite.add %bias, %d32 : tensor<1x8x1xf32>, tensor<1x8x16xf32>
  %dt = iolite.cast %db : tensor<1x8x16xf32> to tensor<1x8x16xf16>
  %y = iolite.selective_scan %u, %dt, %A, %B, %C : tensor<1x8x16xf16>, tensor<1x8x16xf16>, tensor<8x4xf32>, tensor<1x4x16xf16>, tensor<1x4x16xf16>
  %gz = iolite.silu %z : tensor<1x8x16xf16>
  %o = iolite.mul %gz, %y : tensor<1x8x16xf16>, tensor<1x8x16xf16>
  return %o : tensor<1x8x16xf16>
}

// -----

// The skip is followed by f32 math other than the gate (a residual add
// before the rounding): absorbing it would add a rounding, so only the
// step size is raised.
// CHECK-LABEL: func.func @prologue_only
// CHECK: %[[Y:.*]] = iolite.selective_scan %arg0, %arg1, %arg2, %arg3, %arg4 {delta_softplus}
// CHECK: iolite.cast %[[Y]]
// CHECK: iolite.mul
// CHECK: iolite.add
// REMARK: remark: not raised to iolite.selective_scan: the D skip is not rounded to the input type before the ops after it; absorbing it would add a rounding
// REMARK: remark: absorbed delta_softplus into iolite.selective_scan
func.func @prologue_only(%u: tensor<1x8x16xbf16>, %delta: tensor<1x8x16xbf16>, %A: tensor<8x4xf32>, %B: tensor<1x4x16xbf16>, %C: tensor<1x4x16xbf16>, %D: tensor<8x1xf32>, %r: tensor<1x8x16xf32>) -> tensor<1x8x16xbf16> {
  %dt = iolite.softplus %delta : tensor<1x8x16xbf16>
  %y = iolite.selective_scan %u, %dt, %A, %B, %C : tensor<1x8x16xbf16>, tensor<1x8x16xbf16>, tensor<8x4xf32>, tensor<1x4x16xbf16>, tensor<1x4x16xbf16>
  %y32 = iolite.cast %y : tensor<1x8x16xbf16> to tensor<1x8x16xf32>
  %u32 = iolite.cast %u : tensor<1x8x16xbf16> to tensor<1x8x16xf32>
  %du = iolite.mul %u32, %D : tensor<1x8x16xf32>, tensor<8x1xf32>
  %ys = iolite.add %y32, %du : tensor<1x8x16xf32>, tensor<1x8x16xf32>
  %res = iolite.add %ys, %r : tensor<1x8x16xf32>, tensor<1x8x16xf32>
  %o = iolite.cast %res : tensor<1x8x16xf32> to tensor<1x8x16xbf16>
  return %o : tensor<1x8x16xbf16>
}

// -----

// Near misses stay as they are: a bias along the sequence axis ([L], not
// per channel), and a skip of another tensor than the scan's u.
// CHECK-LABEL: func.func @near_misses
// CHECK: iolite.softplus
// CHECK: iolite.selective_scan %{{[^ ]*}}, %{{[^ ]*}}, %{{[^ ]*}}, %{{[^ ]*}}, %{{[^ ]*}} :
// CHECK: iolite.add
// REMARK: remark: not raised to iolite.selective_scan: the step size adds a term that is not a per-channel bias ([D, 1] or [1, D, 1])
func.func @near_misses(%u: tensor<1x8x16xf32>, %delta: tensor<1x8x16xf32>, %A: tensor<8x4xf32>, %B: tensor<1x4x16xf32>, %C: tensor<1x4x16xf32>, %bias: tensor<16xf32>, %w: tensor<1x8x16xf32>, %D: tensor<8x1xf32>) -> tensor<1x8x16xf32> {
  %db = iolite.add %delta, %bias : tensor<1x8x16xf32>, tensor<16xf32>
  %dt = iolite.softplus %db : tensor<1x8x16xf32>
  %y = iolite.selective_scan %u, %dt, %A, %B, %C : tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<8x4xf32>, tensor<1x4x16xf32>, tensor<1x4x16xf32>
  %dw = iolite.mul %w, %D : tensor<1x8x16xf32>, tensor<8x1xf32>
  %ys = iolite.add %y, %dw : tensor<1x8x16xf32>, tensor<1x8x16xf32>
  return %ys : tensor<1x8x16xf32>
}

// -----

// Mamba-2 as Hugging Face writes it in bf16: softplus(dt + dt_bias) in f32,
// the bare SSD, and the D skip rounded to bf16 right away. All three become
// the SSD's own operands.
// CHECK-LABEL: func.func @ssd_skip
// CHECK: %[[A:.*]] = iolite.neg
// CHECK: %[[D1:.*]] = iolite.reshape %arg5 : tensor<4x1xf32> -> tensor<4xf32>
// CHECK: %[[Y:.*]] = iolite.ssd %arg0, %arg1, %[[A]], %arg3, %arg4 D(%[[D1]] : tensor<4xf32>) dt_bias(%arg6 : tensor<4xf32>) {chunk_size = 8 : i64, dt_softplus}
// CHECK-NEXT: return %[[Y]]
// REMARK: remark: absorbed dt_bias, dt_softplus, D into iolite.ssd
func.func @ssd_skip(%x: tensor<1x16x4x8xbf16>, %dt: tensor<1x16x4xbf16>, %A: tensor<4xf32>, %B: tensor<1x16x1x8xbf16>, %C: tensor<1x16x1x8xbf16>, %D: tensor<4x1xf32>, %bias: tensor<4xf32>) -> tensor<1x16x4x8xbf16> {
  %dt32 = iolite.cast %dt : tensor<1x16x4xbf16> to tensor<1x16x4xf32>
  %db = iolite.add %dt32, %bias : tensor<1x16x4xf32>, tensor<4xf32>
  %sp = iolite.softplus %db : tensor<1x16x4xf32>
  %dts = iolite.cast %sp : tensor<1x16x4xf32> to tensor<1x16x4xbf16>
  %Ae = iolite.exp %A : tensor<4xf32>
  %An = iolite.neg %Ae : tensor<4xf32>
  %y = iolite.ssd %x, %dts, %An, %B, %C {chunk_size = 8 : i64} : tensor<1x16x4x8xbf16>, tensor<1x16x4xbf16>, tensor<4xf32>, tensor<1x16x1x8xbf16>, tensor<1x16x1x8xbf16>
  %x32 = iolite.cast %x : tensor<1x16x4x8xbf16> to tensor<1x16x4x8xf32>
  %dx = iolite.mul %x32, %D : tensor<1x16x4x8xf32>, tensor<4x1xf32>
  %y32 = iolite.cast %y : tensor<1x16x4x8xbf16> to tensor<1x16x4x8xf32>
  %ys = iolite.add %y32, %dx : tensor<1x16x4x8xf32>, tensor<1x16x4x8xf32>
  %o = iolite.cast %ys : tensor<1x16x4x8xf32> to tensor<1x16x4x8xbf16>
  return %o : tensor<1x16x4x8xbf16>
}

// -----

// The same with a SiLU(z) gate after the skip in f32 (bench/models.py's
// graph): the step size is absorbed, the skip stays outside the op.
// CHECK-LABEL: func.func @ssd_gated
// CHECK: %[[Y:.*]] = iolite.ssd %arg0, %arg1, %{{.*}}, %arg3, %arg4 dt_bias(%arg6 : tensor<4xf32>) {chunk_size = 8 : i64, dt_softplus}
// CHECK: iolite.mul %{{.*}}, %arg5
// CHECK: iolite.silu
// REMARK: remark: not raised to iolite.ssd: the D skip is not rounded to the input type before the ops after it; absorbing it would add a rounding
// REMARK: remark: absorbed dt_bias, dt_softplus into iolite.ssd
func.func @ssd_gated(%x: tensor<1x16x4x8xf16>, %dt: tensor<1x16x4xf16>, %A: tensor<4xf32>, %B: tensor<1x16x1x8xf16>, %C: tensor<1x16x1x8xf16>, %D: tensor<4x1xf32>, %bias: tensor<4xf32>, %z: tensor<1x16x4x8xf16>) -> tensor<1x16x4x8xf16> {
  %dt32 = iolite.cast %dt : tensor<1x16x4xf16> to tensor<1x16x4xf32>
  %db = iolite.add %dt32, %bias : tensor<1x16x4xf32>, tensor<4xf32>
  %sp = iolite.softplus %db : tensor<1x16x4xf32>
  %dts = iolite.cast %sp : tensor<1x16x4xf32> to tensor<1x16x4xf16>
  %Ae = iolite.exp %A : tensor<4xf32>
  %An = iolite.neg %Ae : tensor<4xf32>
  %y = iolite.ssd %x, %dts, %An, %B, %C {chunk_size = 8 : i64} : tensor<1x16x4x8xf16>, tensor<1x16x4xf16>, tensor<4xf32>, tensor<1x16x1x8xf16>, tensor<1x16x1x8xf16>
  %x32 = iolite.cast %x : tensor<1x16x4x8xf16> to tensor<1x16x4x8xf32>
  %dx = iolite.mul %x32, %D : tensor<1x16x4x8xf32>, tensor<4x1xf32>
  %y32 = iolite.cast %y : tensor<1x16x4x8xf16> to tensor<1x16x4x8xf32>
  %ys = iolite.add %y32, %dx : tensor<1x16x4x8xf32>, tensor<1x16x4x8xf32>
  %z32 = iolite.cast %z : tensor<1x16x4x8xf16> to tensor<1x16x4x8xf32>
  %gz = iolite.silu %z32 : tensor<1x16x4x8xf32>
  %o32 = iolite.mul %ys, %gz : tensor<1x16x4x8xf32>, tensor<1x16x4x8xf32>
  %o = iolite.cast %o32 : tensor<1x16x4x8xf32> to tensor<1x16x4x8xf16>
  return %o : tensor<1x16x4x8xf16>
}
