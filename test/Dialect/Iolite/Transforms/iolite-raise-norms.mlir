// RUN: iolite-opt %s --split-input-file --iolite-raise-norms | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-raise-norms=remarks=true 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK

// Llama's RMSNorm as PyTorch exports it: pow 2, mean with keepdim, add eps,
// sqrt, 1/sqrt as a div, mul, weight mul. The div of 1 by the RMS is not
// itself a normalisation (no near miss there).

// CHECK-LABEL: func @llama_rms_norm
// CHECK-SAME: (%[[X:.*]]: tensor<2x4x16xf32>, %[[W:.*]]: tensor<16xf32>)
// CHECK-NEXT: %[[N:.*]] = iolite.rms_norm %[[X]] weight(%[[W]] : tensor<16xf32>) {epsilon = 9.99999997E-7 : f32} : tensor<2x4x16xf32>
// CHECK-NEXT: return %[[N]]
// REMARK-NOT: remark: not raised
// REMARK: remark: raised to iolite.rms_norm (epsilon 1e-06, weight)
func.func @llama_rms_norm(%x: tensor<2x4x16xf32>, %w: tensor<16xf32>) -> tensor<2x4x16xf32> {
  %two = iolite.constant dense<2.0> : tensor<f32>
  %sq = iolite.pow %x, %two : tensor<2x4x16xf32>, tensor<f32>
  %ms = iolite.reduce mean %sq {axes = array<i64: -1>, keep_dims} : tensor<2x4x16xf32>
  %eps = iolite.constant dense<1.0e-6> : tensor<f32>
  %v = iolite.add %ms, %eps : tensor<2x4x1xf32>, tensor<f32>
  %r = iolite.sqrt %v : tensor<2x4x1xf32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %inv = iolite.div %one, %r : tensor<f32>, tensor<2x4x1xf32>
  %n = iolite.mul %x, %inv : tensor<2x4x16xf32>, tensor<2x4x1xf32>
  %y = iolite.mul %w, %n : tensor<16xf32>, tensor<2x4x16xf32>
  return %y : tensor<2x4x16xf32>
}

// -----

// f16 with the statistic in f32 (x.to(float32) ... .to(input_dtype)): the
// norm reads the f16 input directly and yields f16.

// CHECK-LABEL: func @rms_norm_f16
// CHECK-SAME: (%[[X:.*]]: tensor<4x16xf16>, %[[W:.*]]: tensor<16xf16>)
// CHECK-NEXT: %[[N:.*]] = iolite.rms_norm %[[X]] weight(%[[W]] : tensor<16xf16>) : tensor<4x16xf16>
// CHECK-NEXT: return %[[N]]
func.func @rms_norm_f16(%x: tensor<4x16xf16>, %w: tensor<16xf16>) -> tensor<4x16xf16> {
  %x32 = iolite.cast %x : tensor<4x16xf16> to tensor<4x16xf32>
  %two = iolite.constant dense<2.0> : tensor<f32>
  %sq = iolite.pow %x32, %two : tensor<4x16xf32>, tensor<f32>
  %ms = iolite.reduce mean %sq {axes = array<i64: 1>, keep_dims} : tensor<4x16xf32>
  %eps = iolite.constant dense<1.0e-5> : tensor<f32>
  %v = iolite.add %eps, %ms : tensor<f32>, tensor<4x1xf32>
  %inv = iolite.rsqrt %v : tensor<4x1xf32>
  %n = iolite.mul %inv, %x32 : tensor<4x1xf32>, tensor<4x16xf32>
  %n16 = iolite.cast %n : tensor<4x16xf32> to tensor<4x16xf16>
  %y = iolite.mul %n16, %w : tensor<4x16xf16>, tensor<16xf16>
  return %y : tensor<4x16xf16>
}

// -----

// Sum of squares divided by the row length, div by sqrt, no weight, no eps.

// CHECK-LABEL: func @rms_norm_sum_div
// CHECK-SAME: (%[[X:.*]]: tensor<3x8xf32>)
// CHECK-NEXT: %[[N:.*]] = iolite.rms_norm %[[X]] {epsilon = 0.000000e+00 : f32} : tensor<3x8xf32>
// CHECK-NEXT: return %[[N]]
func.func @rms_norm_sum_div(%x: tensor<3x8xf32>) -> tensor<3x8xf32> {
  %sq = iolite.mul %x, %x : tensor<3x8xf32>, tensor<3x8xf32>
  %s = iolite.reduce sum %sq {axes = array<i64: 1>, keep_dims} : tensor<3x8xf32>
  %n8 = iolite.constant dense<8.0> : tensor<f32>
  %ms = iolite.div %s, %n8 : tensor<3x1xf32>, tensor<f32>
  %r = iolite.sqrt %ms : tensor<3x1xf32>
  %y = iolite.div %x, %r : tensor<3x8xf32>, tensor<3x1xf32>
  return %y : tensor<3x8xf32>
}

// -----

// nn.LayerNorm as PyTorch exports it below opset 17.

// CHECK-LABEL: func @layer_norm_opset14
// CHECK-SAME: (%[[X:.*]]: tensor<2x4x16xf32>, %[[W:.*]]: tensor<16xf32>, %[[B:.*]]: tensor<16xf32>)
// CHECK-NEXT: %[[N:.*]] = iolite.layer_norm %[[X]] weight(%[[W]] : tensor<16xf32>) bias(%[[B]] : tensor<16xf32>) {axis = 2 : i64} : tensor<2x4x16xf32>
// CHECK-NEXT: return %[[N]]
// REMARK: remark: raised to iolite.layer_norm (epsilon 1e-05, weight, bias)
func.func @layer_norm_opset14(%x: tensor<2x4x16xf32>, %w: tensor<16xf32>,
                              %b: tensor<16xf32>) -> tensor<2x4x16xf32> {
  %m = iolite.reduce mean %x {axes = array<i64: -1>, keep_dims} : tensor<2x4x16xf32>
  %d = iolite.sub %x, %m : tensor<2x4x16xf32>, tensor<2x4x1xf32>
  %two = iolite.constant dense<2.0> : tensor<f32>
  %sq = iolite.pow %d, %two : tensor<2x4x16xf32>, tensor<f32>
  %var = iolite.reduce mean %sq {axes = array<i64: -1>, keep_dims} : tensor<2x4x16xf32>
  %eps = iolite.constant dense<1.0e-5> : tensor<f32>
  %ve = iolite.add %var, %eps : tensor<2x4x1xf32>, tensor<f32>
  %sd = iolite.sqrt %ve : tensor<2x4x1xf32>
  %n = iolite.div %d, %sd : tensor<2x4x16xf32>, tensor<2x4x1xf32>
  %nw = iolite.mul %n, %w : tensor<2x4x16xf32>, tensor<16xf32>
  %y = iolite.add %nw, %b : tensor<2x4x16xf32>, tensor<16xf32>
  return %y : tensor<2x4x16xf32>
}

// -----

// LayerNorm over the two trailing dims, variance as mul(d, d), rsqrt, a
// weight broadcast with a leading 1.

// CHECK-LABEL: func @layer_norm_two_dims
// CHECK-SAME: (%[[X:.*]]: tensor<2x4x8xf32>, %[[W:.*]]: tensor<1x4x8xf32>)
// CHECK-NEXT: %[[W2:.*]] = iolite.reshape %[[W]] : tensor<1x4x8xf32> -> tensor<4x8xf32>
// CHECK-NEXT: %[[N:.*]] = iolite.layer_norm %[[X]] weight(%[[W2]] : tensor<4x8xf32>) {axis = 1 : i64, epsilon = 1.000000e-03 : f32} : tensor<2x4x8xf32>
// CHECK-NEXT: return %[[N]]
func.func @layer_norm_two_dims(%x: tensor<2x4x8xf32>, %w: tensor<1x4x8xf32>) -> tensor<2x4x8xf32> {
  %m = iolite.reduce mean %x {axes = array<i64: 1, 2>, keep_dims} : tensor<2x4x8xf32>
  %d = iolite.sub %x, %m : tensor<2x4x8xf32>, tensor<2x1x1xf32>
  %sq = iolite.mul %d, %d : tensor<2x4x8xf32>, tensor<2x4x8xf32>
  %var = iolite.reduce mean %sq {axes = array<i64: 2, 1>, keep_dims} : tensor<2x4x8xf32>
  %eps = iolite.constant dense<1.0e-3> : tensor<f32>
  %ve = iolite.add %var, %eps : tensor<2x1x1xf32>, tensor<f32>
  %inv = iolite.rsqrt %ve : tensor<2x1x1xf32>
  %n = iolite.mul %d, %inv : tensor<2x4x8xf32>, tensor<2x1x1xf32>
  %y = iolite.mul %w, %n : tensor<1x4x8xf32>, tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}

// -----

// Near miss: the statistic runs over the rows, not the features.

// CHECK-LABEL: func @rms_wrong_axis
// CHECK-NOT: iolite.rms_norm
// REMARK: remark: not raised to iolite.rms_norm: the statistic reduces dims [0], not the last dim
func.func @rms_wrong_axis(%x: tensor<3x8xf32>) -> tensor<3x8xf32> {
  %sq = iolite.mul %x, %x : tensor<3x8xf32>, tensor<3x8xf32>
  %ms = iolite.reduce mean %sq {axes = array<i64: 0>, keep_dims} : tensor<3x8xf32>
  %inv = iolite.rsqrt %ms : tensor<1x8xf32>
  %y = iolite.mul %x, %inv : tensor<3x8xf32>, tensor<1x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

// Near miss: the sum is divided by 4, not the row length 8.

// CHECK-LABEL: func @rms_wrong_divisor
// CHECK-NOT: iolite.rms_norm
// REMARK: remark: not raised to iolite.rms_norm: the sum is scaled by 0.25, not 1/8 (the reduced size)
func.func @rms_wrong_divisor(%x: tensor<3x8xf32>) -> tensor<3x8xf32> {
  %sq = iolite.mul %x, %x : tensor<3x8xf32>, tensor<3x8xf32>
  %s = iolite.reduce sum %sq {axes = array<i64: 1>, keep_dims} : tensor<3x8xf32>
  %c = iolite.constant dense<4.0> : tensor<f32>
  %ms = iolite.div %s, %c : tensor<3x1xf32>, tensor<f32>
  %inv = iolite.rsqrt %ms : tensor<3x1xf32>
  %y = iolite.mul %x, %inv : tensor<3x8xf32>, tensor<3x1xf32>
  return %y : tensor<3x8xf32>
}

// -----

// Near miss: epsilon is an input, not a constant.

// CHECK-LABEL: func @rms_tensor_eps
// CHECK-NOT: iolite.rms_norm
// REMARK: remark: not raised to iolite.rms_norm: epsilon is not a uniform constant
func.func @rms_tensor_eps(%x: tensor<3x8xf32>, %e: tensor<3x1xf32>) -> tensor<3x8xf32> {
  %sq = iolite.mul %x, %x : tensor<3x8xf32>, tensor<3x8xf32>
  %ms = iolite.reduce mean %sq {axes = array<i64: 1>, keep_dims} : tensor<3x8xf32>
  %v = iolite.add %ms, %e : tensor<3x1xf32>, tensor<3x1xf32>
  %inv = iolite.rsqrt %v : tensor<3x1xf32>
  %y = iolite.mul %x, %inv : tensor<3x8xf32>, tensor<3x1xf32>
  return %y : tensor<3x8xf32>
}

// -----

// Near miss: the inverse RMS is also returned.

// CHECK-LABEL: func @rms_intermediate_used
// CHECK-NOT: iolite.rms_norm
// REMARK: remark: not raised to iolite.rms_norm: the intermediate 'iolite.rsqrt' is also used outside the norm
func.func @rms_intermediate_used(%x: tensor<3x8xf32>) -> (tensor<3x8xf32>, tensor<3x1xf32>) {
  %sq = iolite.mul %x, %x : tensor<3x8xf32>, tensor<3x8xf32>
  %ms = iolite.reduce mean %sq {axes = array<i64: 1>, keep_dims} : tensor<3x8xf32>
  %inv = iolite.rsqrt %ms : tensor<3x1xf32>
  %y = iolite.mul %x, %inv : tensor<3x8xf32>, tensor<3x1xf32>
  return %y, %inv : tensor<3x8xf32>, tensor<3x1xf32>
}

// -----

// Near miss: the statistic drops the reduced dim and is reshaped back.

// CHECK-LABEL: func @rms_no_keep_dims
// CHECK-NOT: iolite.rms_norm
// REMARK: remark: not raised to iolite.rms_norm: the statistic drops the reduced dims (keep_dims is not set)
func.func @rms_no_keep_dims(%x: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %sq = iolite.mul %x, %x : tensor<8x8xf32>, tensor<8x8xf32>
  %ms = iolite.reduce mean %sq {axes = array<i64: 1>} : tensor<8x8xf32>
  %inv = iolite.rsqrt %ms : tensor<8xf32>
  %y = iolite.mul %x, %inv : tensor<8x8xf32>, tensor<8xf32>
  return %y : tensor<8x8xf32>
}

// -----

// Symbolic batch and sequence dims (docs/dynamic-shapes.md): the norm raises
// when the dims it normalises are static.

// CHECK-LABEL: func @rms_norm_symbolic_rows
// CHECK-NEXT: %[[N:.*]] = iolite.rms_norm %{{.*}} weight(%{{.*}} : tensor<16xf32>) {epsilon = 9.99999997E-7 : f32} : tensor<?x?x16xf32>
// CHECK-NEXT: return %[[N]]
// REMARK: remark: raised to iolite.rms_norm (epsilon 1e-06, weight)
func.func @rms_norm_symbolic_rows(%x: tensor<?x?x16xf32> {iolite.dims = ["batch", "seq", ""]}, %w: tensor<16xf32>) -> tensor<?x?x16xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 8>, seq = array<i64: 1, 128>}} {
  %two = iolite.constant dense<2.0> : tensor<f32>
  %sq = iolite.pow %x, %two : tensor<?x?x16xf32>, tensor<f32>
  %ms = iolite.reduce mean %sq {axes = array<i64: -1>, keep_dims} : tensor<?x?x16xf32>
  %eps = iolite.constant dense<1.0e-6> : tensor<f32>
  %v = iolite.add %ms, %eps : tensor<?x?x1xf32>, tensor<f32>
  %r = iolite.sqrt %v : tensor<?x?x1xf32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %inv = iolite.div %one, %r : tensor<f32>, tensor<?x?x1xf32>
  %n = iolite.mul %x, %inv : tensor<?x?x16xf32>, tensor<?x?x1xf32>
  %y = iolite.mul %w, %n : tensor<16xf32>, tensor<?x?x16xf32>
  return %y : tensor<?x?x16xf32>
}

// -----

// A mean over a symbolic dim has no constant scale to check: not raised.

// CHECK-LABEL: func @mean_over_symbolic_dim
// CHECK: iolite.reduce mean
// CHECK-NOT: iolite.rms_norm
// REMARK: remark: not raised to iolite.rms_norm: the statistic reduces a dynamic dim
func.func @mean_over_symbolic_dim(%x: tensor<16x?xf32> {iolite.dims = ["", "seq"]}) -> tensor<16x?xf32>
    attributes {iolite.dim_bounds = {seq = array<i64: 1, 128>}} {
  %two = iolite.constant dense<2.0> : tensor<f32>
  %sq = iolite.pow %x, %two : tensor<16x?xf32>, tensor<f32>
  %ms = iolite.reduce mean %sq {axes = array<i64: -1>, keep_dims} : tensor<16x?xf32>
  %eps = iolite.constant dense<1.0e-6> : tensor<f32>
  %v = iolite.add %ms, %eps : tensor<16x1xf32>, tensor<f32>
  %r = iolite.sqrt %v : tensor<16x1xf32>
  %n = iolite.div %x, %r : tensor<16x?xf32>, tensor<16x1xf32>
  return %n : tensor<16x?xf32>
}
