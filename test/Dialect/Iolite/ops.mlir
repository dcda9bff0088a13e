// RUN: iolite-opt %s --split-input-file | iolite-opt --split-input-file | FileCheck %s
// RUN: iolite-opt %s --split-input-file --mlir-print-op-generic | iolite-opt --split-input-file | FileCheck %s

// Round trip of every iolite op, in the custom and the generic form.

// CHECK-LABEL: func @constant_and_cast
func.func @constant_and_cast(%x: tensor<2x8xf32>) -> (tensor<2x8xf16>, tensor<4xbf16>, tensor<3xi64>) {
  // CHECK: %[[C:.*]] = iolite.constant dense<1.500000e+00> : tensor<4xbf16>
  %c = iolite.constant dense<1.5> : tensor<4xbf16>
  // CHECK: iolite.constant dense<[1, 2, 3]> : tensor<3xi64>
  %i = iolite.constant dense<[1, 2, 3]> : tensor<3xi64>
  // CHECK: iolite.cast %{{.*}} : tensor<2x8xf32> to tensor<2x8xf16>
  %h = iolite.cast %x : tensor<2x8xf32> to tensor<2x8xf16>
  return %h, %c, %i : tensor<2x8xf16>, tensor<4xbf16>, tensor<3xi64>
}

// -----

// CHECK-LABEL: func @binary
func.func @binary(%a: tensor<2x8x64xf32>, %b: tensor<64xf32>, %c: tensor<2x1x64xf32>,
                  %i: tensor<4xi64>) -> (tensor<2x8x64xf32>, tensor<4xi64>) {
  // CHECK: iolite.add %{{.*}}, %{{.*}} : tensor<2x8x64xf32>, tensor<64xf32>
  %0 = iolite.add %a, %b : tensor<2x8x64xf32>, tensor<64xf32>
  // CHECK: iolite.sub %{{.*}}, %{{.*}} : tensor<2x8x64xf32>, tensor<2x1x64xf32>
  %1 = iolite.sub %0, %c : tensor<2x8x64xf32>, tensor<2x1x64xf32>
  // CHECK: iolite.mul
  %2 = iolite.mul %1, %b : tensor<2x8x64xf32>, tensor<64xf32>
  // CHECK: iolite.div
  %3 = iolite.div %2, %c : tensor<2x8x64xf32>, tensor<2x1x64xf32>
  // CHECK: iolite.max
  %4 = iolite.max %3, %a : tensor<2x8x64xf32>, tensor<2x8x64xf32>
  // CHECK: iolite.min
  %5 = iolite.min %4, %b : tensor<2x8x64xf32>, tensor<64xf32>
  // CHECK: iolite.pow
  %6 = iolite.pow %5, %c : tensor<2x8x64xf32>, tensor<2x1x64xf32>
  // CHECK: iolite.add %{{.*}}, %{{.*}} : tensor<4xi64>, tensor<4xi64>
  %7 = iolite.add %i, %i : tensor<4xi64>, tensor<4xi64>
  return %6, %7 : tensor<2x8x64xf32>, tensor<4xi64>
}

// -----

// CHECK-LABEL: func @compare_select
func.func @compare_select(%a: tensor<8x8xi64>, %b: tensor<8x1xi64>, %x: tensor<2x4x8x8xf32>,
                          %f: tensor<f32>) -> tensor<2x4x8x8xf32> {
  // CHECK: %[[M:.*]] = iolite.compare le %{{.*}}, %{{.*}} : tensor<8x8xi64>, tensor<8x1xi64>
  %m = iolite.compare le %a, %b : tensor<8x8xi64>, tensor<8x1xi64>
  // CHECK: iolite.select %[[M]], %{{.*}}, %{{.*}} : tensor<8x8xi1>, tensor<2x4x8x8xf32>, tensor<f32>
  %y = iolite.select %m, %x, %f : tensor<8x8xi1>, tensor<2x4x8x8xf32>, tensor<f32>
  return %y : tensor<2x4x8x8xf32>
}

// -----

// CHECK-LABEL: func @unary
func.func @unary(%x: tensor<4x64xf32>, %h: tensor<4x64xf16>, %i: tensor<4xi32>)
    -> (tensor<4x64xf32>, tensor<4x64xf16>, tensor<4xi32>) {
  // CHECK: iolite.exp %{{.*}} : tensor<4x64xf32>
  %0 = iolite.exp %x : tensor<4x64xf32>
  // CHECK: iolite.log
  %1 = iolite.log %0 : tensor<4x64xf32>
  // CHECK: iolite.tanh
  %2 = iolite.tanh %1 : tensor<4x64xf32>
  // CHECK: iolite.erf
  %3 = iolite.erf %2 : tensor<4x64xf32>
  // CHECK: iolite.sigmoid
  %4 = iolite.sigmoid %3 : tensor<4x64xf32>
  // CHECK: iolite.silu
  %5 = iolite.silu %4 : tensor<4x64xf32>
  // CHECK: iolite.relu
  %6 = iolite.relu %5 : tensor<4x64xf32>
  // CHECK: iolite.rsqrt
  %7 = iolite.rsqrt %6 : tensor<4x64xf32>
  // CHECK: iolite.sqrt
  %8 = iolite.sqrt %7 : tensor<4x64xf32>
  // CHECK: iolite.neg
  %9 = iolite.neg %8 : tensor<4x64xf32>
  // CHECK: iolite.abs
  %10 = iolite.abs %9 : tensor<4x64xf32>
  // CHECK: iolite.reciprocal
  %11 = iolite.reciprocal %10 : tensor<4x64xf32>
  // CHECK: iolite.softplus
  %12 = iolite.softplus %11 : tensor<4x64xf32>
  // CHECK: iolite.sin
  %13 = iolite.sin %12 : tensor<4x64xf32>
  // CHECK: iolite.cos
  %14 = iolite.cos %13 : tensor<4x64xf32>
  // CHECK: iolite.gelu %{{.*}} : tensor<4x64xf32>
  %15 = iolite.gelu %14 : tensor<4x64xf32>
  // CHECK: iolite.gelu %{{.*}} approximate = tanh : tensor<4x64xf16>
  %16 = iolite.gelu %h approximate = tanh : tensor<4x64xf16>
  // CHECK: iolite.neg %{{.*}} : tensor<4xi32>
  %17 = iolite.neg %i : tensor<4xi32>
  // CHECK: iolite.abs %{{.*}} : tensor<4xi32>
  %18 = iolite.abs %17 : tensor<4xi32>
  // CHECK: iolite.relu %{{.*}} : tensor<4xi32>
  %19 = iolite.relu %18 : tensor<4xi32>
  return %15, %16, %19 : tensor<4x64xf32>, tensor<4x64xf16>, tensor<4xi32>
}

// -----

// CHECK-LABEL: func @norms_and_reductions
func.func @norms_and_reductions(%x: tensor<2x8x64xbf16>, %w: tensor<64xf32>, %w2: tensor<8x64xbf16>,
                                %i: tensor<2x16xi64>)
    -> (tensor<2x8x64xbf16>, tensor<2x8x1xbf16>, tensor<8xbf16>, tensor<2x8x64xbf16>,
        tensor<2x8x64xbf16>, tensor<2x16xi64>, tensor<2x8x2xbf16>, tensor<2x8x2xi64>) {
  // CHECK: iolite.softmax %{{.*}} {axis = 1 : i64} : tensor<2x8x64xbf16>
  %s = iolite.softmax %x {axis = 1 : i64} : tensor<2x8x64xbf16>
  // CHECK: iolite.reduce mean %{{.*}} {axes = array<i64: -1>, keep_dims} : tensor<2x8x64xbf16>
  %m = iolite.reduce mean %s {axes = array<i64: -1>, keep_dims} : tensor<2x8x64xbf16>
  // CHECK: iolite.reduce max %{{.*}} {axes = array<i64: 0, 2>} : tensor<2x8x64xbf16>
  %mx = iolite.reduce max %s {axes = array<i64: 0, 2>} : tensor<2x8x64xbf16>
  // CHECK: iolite.rms_norm %{{.*}} weight(%{{.*}} : tensor<64xf32>) {epsilon = 9.99999997E-7 : f32} : tensor<2x8x64xbf16>
  %r = iolite.rms_norm %x weight(%w : tensor<64xf32>) {epsilon = 1.0e-6 : f32} : tensor<2x8x64xbf16>
  // CHECK: iolite.rms_norm %{{.*}} : tensor<2x8x64xbf16>
  %r2 = iolite.rms_norm %r : tensor<2x8x64xbf16>
  // CHECK: iolite.layer_norm %{{.*}} weight(%{{.*}} : tensor<8x64xbf16>) bias(%{{.*}} : tensor<8x64xbf16>) {axis = 1 : i64} : tensor<2x8x64xbf16>
  %l = iolite.layer_norm %r2 weight(%w2 : tensor<8x64xbf16>) bias(%w2 : tensor<8x64xbf16>) {axis = 1 : i64} : tensor<2x8x64xbf16>
  // CHECK: iolite.layer_norm %{{.*}} bias(%{{.*}} : tensor<64xf32>) : tensor<2x8x64xbf16>
  %l2 = iolite.layer_norm %l bias(%w : tensor<64xf32>) : tensor<2x8x64xbf16>
  // CHECK: iolite.cumsum %{{.*}} {axis = 1 : i64, exclusive, reverse} : tensor<2x16xi64>
  %c = iolite.cumsum %i {axis = 1 : i64, exclusive, reverse} : tensor<2x16xi64>
  // CHECK: iolite.iota %{{.*}} {axis = -1 : i64} : tensor<2x16xi64>
  %pos = iolite.iota %i {axis = -1 : i64} : tensor<2x16xi64>
  // CHECK: iolite.top_k %{{.*}} {k = 2 : i64} : tensor<2x8x64xbf16>
  %v, %idx = iolite.top_k %l2 {k = 2 : i64} : tensor<2x8x64xbf16>
  return %l2, %m, %mx, %r, %l, %c, %v, %idx : tensor<2x8x64xbf16>, tensor<2x8x1xbf16>, tensor<8xbf16>,
      tensor<2x8x64xbf16>, tensor<2x8x64xbf16>, tensor<2x16xi64>, tensor<2x8x2xbf16>, tensor<2x8x2xi64>
}

// -----

// CHECK-LABEL: func @top_k_smallest
func.func @top_k_smallest(%x: tensor<16x8xf32>) -> tensor<3x8xi64> {
  // CHECK: iolite.top_k %{{.*}} {axis = 0 : i64, k = 3 : i64, largest = false} : tensor<16x8xf32>
  %v, %i = iolite.top_k %x {k = 3 : i64, axis = 0 : i64, largest = false} : tensor<16x8xf32>
  return %i : tensor<3x8xi64>
}

// -----

// CHECK-LABEL: func @data_movement
func.func @data_movement(%x: tensor<2x8x64xf32>, %y: tensor<2x8x16xf32>, %t: tensor<100x64xf16>,
                         %ids: tensor<2x8xi64>)
    -> (tensor<2x4x8x16xf32>, tensor<2x8x96xf32>, tensor<2x8x8xf32>, tensor<3x2x8x64xf32>,
        tensor<2x8x64xf16>) {
  // CHECK: iolite.reshape %{{.*}} : tensor<2x8x64xf32> -> tensor<2x8x4x16xf32>
  %r = iolite.reshape %x : tensor<2x8x64xf32> -> tensor<2x8x4x16xf32>
  // CHECK: iolite.transpose %{{.*}} [0, 2, 1, 3] : tensor<2x8x4x16xf32>
  %p = iolite.transpose %r [0, 2, 1, 3] : tensor<2x8x4x16xf32>
  // CHECK: iolite.concat %{{.*}}, %{{.*}}, %{{.*}} {axis = -1 : i64} : tensor<2x8x64xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>
  %c = iolite.concat %x, %y, %y {axis = -1 : i64} : tensor<2x8x64xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>
  // CHECK: iolite.slice %{{.*}} [0, 0, 0] to [2, 8, 16] step [1, 1, 2] : tensor<2x8x64xf32>
  %s = iolite.slice %x [0, 0, 0] to [2, 8, 16] step [1, 1, 2] : tensor<2x8x64xf32>
  // CHECK: iolite.slice %{{.*}} [0, 0, 8] to [2, 8, 16] : tensor<2x8x64xf32>
  %s2 = iolite.slice %x [0, 0, 8] to [2, 8, 16] : tensor<2x8x64xf32>
  // CHECK: iolite.broadcast %{{.*}} : tensor<2x8x64xf32> -> tensor<3x2x8x64xf32>
  %b = iolite.broadcast %x : tensor<2x8x64xf32> -> tensor<3x2x8x64xf32>
  // CHECK: iolite.gather %{{.*}}[%{{.*}}] : tensor<100x64xf16>, tensor<2x8xi64>
  %g = iolite.gather %t[%ids] : tensor<100x64xf16>, tensor<2x8xi64>
  return %p, %c, %s2, %b, %g : tensor<2x4x8x16xf32>, tensor<2x8x96xf32>, tensor<2x8x8xf32>,
      tensor<3x2x8x64xf32>, tensor<2x8x64xf16>
}

// -----

// CHECK-LABEL: func @gather_axis
func.func @gather_axis(%x: tensor<4x10x3xf32>, %i: tensor<5xi32>) -> tensor<4x5x3xf32> {
  // CHECK: iolite.gather %{{.*}}[%{{.*}}] {axis = 1 : i64} : tensor<4x10x3xf32>, tensor<5xi32>
  %g = iolite.gather %x[%i] {axis = 1 : i64} : tensor<4x10x3xf32>, tensor<5xi32>
  return %g : tensor<4x5x3xf32>
}

// -----

// CHECK-LABEL: func @matmul
func.func @matmul(%x: tensor<2x8x64xf16>, %w: tensor<64x128xf16>, %wt: tensor<128x64xf16>,
                  %a: tensor<4x1x16x32xf32>, %b: tensor<3x32x8xf32>)
    -> (tensor<2x8x128xf16>, tensor<2x8x128xf16>, tensor<4x3x16x8xf32>) {
  // CHECK: iolite.matmul %{{.*}}, %{{.*}} : tensor<2x8x64xf16>, tensor<64x128xf16>
  %0 = iolite.matmul %x, %w : tensor<2x8x64xf16>, tensor<64x128xf16>
  // CHECK: iolite.matmul %{{.*}}, %{{.*}} {transpose_rhs} : tensor<2x8x64xf16>, tensor<128x64xf16>
  %1 = iolite.matmul %x, %wt {transpose_rhs} : tensor<2x8x64xf16>, tensor<128x64xf16>
  // CHECK: iolite.matmul %{{.*}}, %{{.*}} : tensor<4x1x16x32xf32>, tensor<3x32x8xf32>
  %2 = iolite.matmul %a, %b : tensor<4x1x16x32xf32>, tensor<3x32x8xf32>
  return %0, %1, %2 : tensor<2x8x128xf16>, tensor<2x8x128xf16>, tensor<4x3x16x8xf32>
}

// -----

// CHECK-LABEL: func @matmul_transpose_lhs
func.func @matmul_transpose_lhs(%a: tensor<32x16xf32>, %b: tensor<32x8xf32>) -> tensor<16x8xf32> {
  // CHECK: iolite.matmul %{{.*}}, %{{.*}} {transpose_lhs} : tensor<32x16xf32>, tensor<32x8xf32>
  %0 = iolite.matmul %a, %b {transpose_lhs} : tensor<32x16xf32>, tensor<32x8xf32>
  return %0 : tensor<16x8xf32>
}

// -----

// CHECK-LABEL: func @rotary
func.func @rotary(%q: tensor<1x8x16x64xf32>, %c: tensor<16x64xf32>, %s: tensor<16x64xf32>,
                  %c2: tensor<1x1x16x32xf32>) -> (tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>) {
  // CHECK: iolite.rotary %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x8x16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>
  %0 = iolite.rotary %q, %c, %s : tensor<1x8x16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>
  // CHECK: iolite.rotary %{{.*}}, %{{.*}}, %{{.*}} {interleaved} : tensor<1x8x16x64xf32>, tensor<1x1x16x32xf32>, tensor<1x1x16x32xf32>
  %1 = iolite.rotary %q, %c2, %c2 {interleaved} : tensor<1x8x16x64xf32>, tensor<1x1x16x32xf32>, tensor<1x1x16x32xf32>
  return %0, %1 : tensor<1x8x16x64xf32>, tensor<1x8x16x64xf32>
}

// -----

// CHECK-LABEL: func @attention
func.func @attention(%q: tensor<2x8x16x64xf16>, %k: tensor<2x2x48x64xf16>, %v: tensor<2x2x48x32xf16>,
                     %m: tensor<2x1x16x48xi1>, %bias: tensor<16x48xf16>, %slopes: tensor<8xf32>,
                     %q1: tensor<1x4x1x64xbf16>, %k1: tensor<1x1x100x64xbf16>)
    -> (tensor<2x8x16x32xf16>, tensor<2x8x16x32xf16>, tensor<1x4x1x64xbf16>) {
  // CHECK: iolite.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<2x1x16x48xi1>) alibi_slopes(%{{.*}} : tensor<8xf32>) {causal, scale = 1.250000e-01 : f32, softcap = 5.000000e+01 : f32, window = 32 : i64}
  %0 = iolite.attention %q, %k, %v mask(%m : tensor<2x1x16x48xi1>) alibi_slopes(%slopes : tensor<8xf32>)
      {causal, window = 32 : i64, softcap = 50.0 : f32, scale = 0.125 : f32}
      : tensor<2x8x16x64xf16>, tensor<2x2x48x64xf16>, tensor<2x2x48x32xf16>
  // CHECK: iolite.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<16x48xf16>) :
  %1 = iolite.attention %q, %k, %v mask(%bias : tensor<16x48xf16>)
      : tensor<2x8x16x64xf16>, tensor<2x2x48x64xf16>, tensor<2x2x48x32xf16>
  // Decode with a KV cache, multi-query.
  // CHECK: iolite.attention %{{.*}}, %{{.*}}, %{{.*}} {causal} : tensor<1x4x1x64xbf16>, tensor<1x1x100x64xbf16>, tensor<1x1x100x64xbf16>
  %2 = iolite.attention %q1, %k1, %k1 {causal}
      : tensor<1x4x1x64xbf16>, tensor<1x1x100x64xbf16>, tensor<1x1x100x64xbf16>
  return %0, %1, %2 : tensor<2x8x16x32xf16>, tensor<2x8x16x32xf16>, tensor<1x4x1x64xbf16>
}

// -----

// CHECK-LABEL: func @state_space
func.func @state_space(%x: tensor<1x64x32xf16>, %w: tensor<64x4xf32>, %b: tensor<64xf32>,
                       %a: tensor<64x16xf32>, %bc: tensor<1x16x32xf16>, %h: tensor<64x32xf16>)
    -> (tensor<1x64x32xf16>, tensor<1x64x32xf16>, tensor<1x64x32xf16>, tensor<1x64x32xf16>) {
  // CHECK: iolite.conv1d %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<64xf32>) activation = silu : tensor<1x64x32xf16>, tensor<64x4xf32>
  %c = iolite.conv1d %x, %w bias(%b : tensor<64xf32>) activation = silu : tensor<1x64x32xf16>, tensor<64x4xf32>
  // CHECK: iolite.conv1d %{{.*}}, %{{.*}} : tensor<1x64x32xf16>, tensor<64x4xf32>
  %c2 = iolite.conv1d %x, %w : tensor<1x64x32xf16>, tensor<64x4xf32>
  // CHECK: iolite.selective_scan %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} D(%{{.*}} : tensor<64xf32>) z(%{{.*}} : tensor<1x64x32xf16>) delta_bias(%{{.*}} : tensor<64xf32>) {delta_softplus}
  %y = iolite.selective_scan %c, %x, %a, %bc, %bc D(%b : tensor<64xf32>) z(%x : tensor<1x64x32xf16>)
      delta_bias(%b : tensor<64xf32>) {delta_softplus}
      : tensor<1x64x32xf16>, tensor<1x64x32xf16>, tensor<64x16xf32>, tensor<1x16x32xf16>,
        tensor<1x16x32xf16>
  // CHECK: iolite.selective_scan %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} :
  %y2 = iolite.selective_scan %c, %x, %a, %bc, %bc
      : tensor<1x64x32xf16>, tensor<1x64x32xf16>, tensor<64x16xf32>, tensor<1x16x32xf16>,
        tensor<1x16x32xf16>
  // CHECK: iolite.long_conv %{{.*}}, %{{.*}} D(%{{.*}} : tensor<64xf32>) : tensor<1x64x32xf16>, tensor<64x32xf16>
  %l = iolite.long_conv %y, %h D(%b : tensor<64xf32>) : tensor<1x64x32xf16>, tensor<64x32xf16>
  return %c2, %y, %y2, %l : tensor<1x64x32xf16>, tensor<1x64x32xf16>, tensor<1x64x32xf16>, tensor<1x64x32xf16>
}

// -----

// CHECK-LABEL: func @ssd
func.func @ssd(%x: tensor<2x32x4x16xf32>, %dt: tensor<2x32x4xf32>, %a: tensor<4xf32>,
               %bc: tensor<2x32x2x8xf32>) -> (tensor<2x32x4x16xf32>, tensor<2x32x4x16xf32>) {
  // CHECK: iolite.ssd %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} D(%{{.*}} : tensor<4xf32>) dt_bias(%{{.*}} : tensor<4xf32>) {chunk_size = 16 : i64, dt_softplus}
  %y = iolite.ssd %x, %dt, %a, %bc, %bc D(%a : tensor<4xf32>) dt_bias(%a : tensor<4xf32>)
      {chunk_size = 16 : i64, dt_softplus}
      : tensor<2x32x4x16xf32>, tensor<2x32x4xf32>, tensor<4xf32>, tensor<2x32x2x8xf32>,
        tensor<2x32x2x8xf32>
  // CHECK: iolite.ssd %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} :
  %y2 = iolite.ssd %x, %dt, %a, %bc, %bc
      : tensor<2x32x4x16xf32>, tensor<2x32x4xf32>, tensor<4xf32>, tensor<2x32x2x8xf32>,
        tensor<2x32x2x8xf32>
  return %y, %y2 : tensor<2x32x4x16xf32>, tensor<2x32x4x16xf32>
}

// -----

// CHECK-LABEL: func @moe
func.func @moe(%x: tensor<16x64xf16>, %logits: tensor<16x8xf16>, %w: tensor<8x64x128xf16>,
               %wt: tensor<8x128x64xf16>) -> (tensor<16x128xf16>, tensor<16x2xf16>) {
  // CHECK: %[[W:.*]], %[[IDS:.*]] = iolite.router %{{.*}} {k = 2 : i64, renormalize} : tensor<16x8xf16>
  %wts, %ids = iolite.router %logits {k = 2 : i64, renormalize} : tensor<16x8xf16>
  // CHECK: iolite.router %{{.*}} scoring = sigmoid {k = 2 : i64} : tensor<16x8xf16>
  %wts2, %ids2 = iolite.router %logits scoring = sigmoid {k = 2 : i64} : tensor<16x8xf16>
  // CHECK: %[[XS:.*]], %[[ROWS:.*]], %[[OFFS:.*]] = iolite.dispatch %{{.*}}, %[[IDS]] {num_experts = 8 : i64} : tensor<16x64xf16>, tensor<16x2xi32>
  %xs, %rows, %offs = iolite.dispatch %x, %ids {num_experts = 8 : i64} : tensor<16x64xf16>, tensor<16x2xi32>
  // CHECK: iolite.grouped_matmul %[[XS]], %{{.*}}, %[[OFFS]] : tensor<32x64xf16>, tensor<8x64x128xf16>, tensor<9xi32>
  %h = iolite.grouped_matmul %xs, %w, %offs : tensor<32x64xf16>, tensor<8x64x128xf16>, tensor<9xi32>
  // CHECK: iolite.grouped_matmul %[[XS]], %{{.*}}, %[[OFFS]] {transpose_rhs} : tensor<32x64xf16>, tensor<8x128x64xf16>, tensor<9xi32>
  %h2 = iolite.grouped_matmul %xs, %wt, %offs {transpose_rhs} : tensor<32x64xf16>, tensor<8x128x64xf16>, tensor<9xi32>
  // CHECK: iolite.combine %{{.*}}, %[[ROWS]], %[[W]] : tensor<32x128xf16>, tensor<32xi32>, tensor<16x2xf16>
  %y = iolite.combine %h2, %rows, %wts : tensor<32x128xf16>, tensor<32xi32>, tensor<16x2xf16>
  return %y, %wts2 : tensor<16x128xf16>, tensor<16x2xf16>
}

// -----

// CHECK-LABEL: func @kernel
func.func @kernel(%x: tensor<8x64xf32>, %w: tensor<64xf32>) -> tensor<8x64xf32> {
  // CHECK: iolite.kernel "k0"(%{{.*}}, %{{.*}}) {result_offsets = array<i64: -1>} : (tensor<8x64xf32>, tensor<64xf32>) -> tensor<8x64xf32> {
  // CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<8x64xf32>, %[[B:.*]]: tensor<64xf32>):
  // CHECK-NEXT: %[[N:.*]] = iolite.rms_norm %[[A]] weight(%[[B]] : tensor<64xf32>)
  // CHECK-NEXT: iolite.yield %[[N]] : tensor<8x64xf32>
  %r = iolite.kernel "k0" (%x, %w) {result_offsets = array<i64: -1>}
      : (tensor<8x64xf32>, tensor<64xf32>) -> tensor<8x64xf32> {
  ^bb0(%a: tensor<8x64xf32>, %b: tensor<64xf32>):
    %n = iolite.rms_norm %a weight(%b : tensor<64xf32>) : tensor<8x64xf32>
    iolite.yield %n : tensor<8x64xf32>
  }
  return %r : tensor<8x64xf32>
}

// -----

// Dynamic batch and sequence dims verify and infer.
// CHECK-LABEL: func @dynamic
func.func @dynamic(%q: tensor<?x8x?x64xf32>, %k: tensor<?x2x?x64xf32>, %x: tensor<?x?x64xf32>,
                   %w: tensor<64x32xf32>) -> (tensor<?x8x?x64xf32>, tensor<?x?x32xf32>) {
  // CHECK: iolite.attention %{{.*}}, %{{.*}}, %{{.*}} {causal} : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>
  %o = iolite.attention %q, %k, %k {causal}
      : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>
  // CHECK: iolite.matmul %{{.*}}, %{{.*}} : tensor<?x?x64xf32>, tensor<64x32xf32>
  %y = iolite.matmul %x, %w : tensor<?x?x64xf32>, tensor<64x32xf32>
  return %o, %y : tensor<?x8x?x64xf32>, tensor<?x?x32xf32>
}

// -----

// CHECK-LABEL: func @kv_cache_append
func.func @kv_cache_append(%kc: tensor<2x64x2x16xf16>, %vc: tensor<2x64x2x8xf16>,
                           %k: tensor<2x1x2x16xf16>, %v: tensor<2x1x2x8xf16>,
                           %lens: tensor<2xi32>, %pool: tensor<10x16x2x16xf16>,
                           %vpool: tensor<10x16x2x8xf16>, %table: tensor<2x4xi32>)
    -> (tensor<2x64x2x16xf16>, tensor<2x64x2x8xf16>, tensor<10x16x2x16xf16>, tensor<10x16x2x8xf16>) {
  // CHECK: %{{.*}}, %{{.*}} = iolite.kv_cache_append %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x64x2x16xf16>, tensor<2x64x2x8xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x8xf16>, tensor<2xi32>
  %0:2 = iolite.kv_cache_append %kc, %vc, %k, %v, %lens
      : tensor<2x64x2x16xf16>, tensor<2x64x2x8xf16>, tensor<2x1x2x16xf16>,
        tensor<2x1x2x8xf16>, tensor<2xi32>
  // CHECK: iolite.kv_cache_append %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} block_table(%{{.*}} : tensor<2x4xi32>) : tensor<10x16x2x16xf16>, tensor<10x16x2x8xf16>
  %1:2 = iolite.kv_cache_append %pool, %vpool, %k, %v, %lens block_table(%table : tensor<2x4xi32>)
      : tensor<10x16x2x16xf16>, tensor<10x16x2x8xf16>, tensor<2x1x2x16xf16>,
        tensor<2x1x2x8xf16>, tensor<2xi32>
  return %0#0, %0#1, %1#0, %1#1 : tensor<2x64x2x16xf16>, tensor<2x64x2x8xf16>, tensor<10x16x2x16xf16>, tensor<10x16x2x8xf16>
}

// -----

// CHECK-LABEL: func @cache_attention
func.func @cache_attention(%q: tensor<2x1x8x16xf16>, %kc: tensor<2x64x2x16xf16>, %vc: tensor<2x64x2x8xf16>,
                           %lens: tensor<2xi32>, %pool: tensor<10x16x2x16xf16>,
                           %vpool: tensor<10x16x2x8xf16>, %table: tensor<2x4xi32>)
    -> (tensor<2x1x8x8xf16>, tensor<2x1x8x8xf16>) {
  // CHECK: iolite.cache_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {causal, scale = 2.500000e-01 : f32} : tensor<2x1x8x16xf16>, tensor<2x64x2x16xf16>, tensor<2x64x2x8xf16>, tensor<2xi32>
  %0 = iolite.cache_attention %q, %kc, %vc, %lens {causal, scale = 0.25 : f32}
      : tensor<2x1x8x16xf16>, tensor<2x64x2x16xf16>, tensor<2x64x2x8xf16>, tensor<2xi32>
  // CHECK: iolite.cache_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} block_table(%{{.*}} : tensor<2x4xi32>) : tensor<2x1x8x16xf16>, tensor<10x16x2x16xf16>
  %1 = iolite.cache_attention %q, %pool, %vpool, %lens block_table(%table : tensor<2x4xi32>)
      : tensor<2x1x8x16xf16>, tensor<10x16x2x16xf16>, tensor<10x16x2x8xf16>, tensor<2xi32>
  return %0, %1 : tensor<2x1x8x8xf16>, tensor<2x1x8x8xf16>
}

// -----

// Symbolic batch, step and page counts.
// CHECK-LABEL: func @serving_symbolic
func.func @serving_symbolic(%q: tensor<?x?x8x16xf32>, %pool: tensor<?x16x2x16xf32>,
                            %lens: tensor<?xi32>, %table: tensor<?x?xi32>,
                            %qp: tensor<?x8x16xf32>, %kp: tensor<?x2x16xf32>, %cu: tensor<?xi32>)
    -> (tensor<?x?x8x16xf32>, tensor<?x8x16xf32>) {
  // CHECK: iolite.cache_attention {{.*}} : tensor<?x?x8x16xf32>, tensor<?x16x2x16xf32>, tensor<?x16x2x16xf32>, tensor<?xi32>
  %0 = iolite.cache_attention %q, %pool, %pool, %lens block_table(%table : tensor<?x?xi32>) {causal}
      : tensor<?x?x8x16xf32>, tensor<?x16x2x16xf32>, tensor<?x16x2x16xf32>, tensor<?xi32>
  // CHECK: iolite.varlen_attention {{.*}} : tensor<?x8x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<?xi32>, tensor<?xi32>
  %1 = iolite.varlen_attention %qp, %kp, %kp, %cu, %cu {causal}
      : tensor<?x8x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<?xi32>, tensor<?xi32>
  return %0, %1 : tensor<?x?x8x16xf32>, tensor<?x8x16xf32>
}

// -----

// CHECK-LABEL: func @varlen_attention
func.func @varlen_attention(%q: tensor<12x8x16xbf16>, %k: tensor<20x2x16xbf16>, %v: tensor<20x2x32xbf16>,
                            %cuq: tensor<4xi32>, %cuk: tensor<4xi32>) -> tensor<12x8x32xbf16> {
  // CHECK: iolite.varlen_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {causal, max_seqlen_k = 10 : i64, max_seqlen_q = 6 : i64} : tensor<12x8x16xbf16>, tensor<20x2x16xbf16>, tensor<20x2x32xbf16>, tensor<4xi32>, tensor<4xi32>
  %0 = iolite.varlen_attention %q, %k, %v, %cuq, %cuk {causal, max_seqlen_q = 6 : i64, max_seqlen_k = 10 : i64}
      : tensor<12x8x16xbf16>, tensor<20x2x16xbf16>, tensor<20x2x32xbf16>, tensor<4xi32>, tensor<4xi32>
  return %0 : tensor<12x8x32xbf16>
}

// -----

// CHECK-LABEL: func @conv1d_with_state
func.func @conv1d_with_state(%x: tensor<2x64x1xf16>, %w: tensor<64x4xf16>, %s: tensor<2x64x3xf16>,
                             %b: tensor<64xf16>, %xd: tensor<?x64x?xf32>, %wd: tensor<64x4xf32>,
                             %sd: tensor<?x64x3xf32>)
    -> (tensor<2x64x1xf16>, tensor<2x64x3xf16>, tensor<?x64x?xf32>, tensor<?x64x3xf32>) {
  // CHECK: %{{.*}}, %{{.*}} = iolite.conv1d_with_state %{{.*}}, %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<64xf16>) activation = silu : tensor<2x64x1xf16>, tensor<64x4xf16>, tensor<2x64x3xf16>
  %y, %s2 = iolite.conv1d_with_state %x, %w, %s bias(%b : tensor<64xf16>) activation = silu
      : tensor<2x64x1xf16>, tensor<64x4xf16>, tensor<2x64x3xf16>
  // CHECK: iolite.conv1d_with_state {{.*}} : tensor<?x64x?xf32>, tensor<64x4xf32>, tensor<?x64x3xf32>
  %yd, %sd2 = iolite.conv1d_with_state %xd, %wd, %sd
      : tensor<?x64x?xf32>, tensor<64x4xf32>, tensor<?x64x3xf32>
  return %y, %s2, %yd, %sd2 : tensor<2x64x1xf16>, tensor<2x64x3xf16>, tensor<?x64x?xf32>, tensor<?x64x3xf32>
}

// -----

// CHECK-LABEL: func @selective_scan_with_state
func.func @selective_scan_with_state(%u: tensor<1x64x1xf16>, %A: tensor<64x16xf32>, %B: tensor<1x16x1xf16>,
                                     %h: tensor<1x64x16xf32>, %D: tensor<64xf32>,
                                     %ud: tensor<?x64x?xf32>, %Bd: tensor<?x16x?xf32>, %hd: tensor<?x64x16xf32>)
    -> (tensor<1x64x1xf16>, tensor<1x64x16xf32>, tensor<?x64x?xf32>, tensor<?x64x16xf32>) {
  // CHECK: %{{.*}}, %{{.*}} = iolite.selective_scan_with_state %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} D(%{{.*}} : tensor<64xf32>) z(%{{.*}} : tensor<1x64x1xf16>) {delta_softplus} : tensor<1x64x1xf16>, tensor<1x64x1xf16>, tensor<64x16xf32>, tensor<1x16x1xf16>, tensor<1x16x1xf16>, tensor<1x64x16xf32>
  %y, %h2 = iolite.selective_scan_with_state %u, %u, %A, %B, %B, %h D(%D : tensor<64xf32>)
      z(%u : tensor<1x64x1xf16>) {delta_softplus}
      : tensor<1x64x1xf16>, tensor<1x64x1xf16>, tensor<64x16xf32>, tensor<1x16x1xf16>,
        tensor<1x16x1xf16>, tensor<1x64x16xf32>
  // CHECK: iolite.selective_scan_with_state {{.*}} : tensor<?x64x?xf32>, tensor<?x64x?xf32>, tensor<64x16xf32>, tensor<?x16x?xf32>, tensor<?x16x?xf32>, tensor<?x64x16xf32>
  %yd, %hd2 = iolite.selective_scan_with_state %ud, %ud, %A, %Bd, %Bd, %hd
      : tensor<?x64x?xf32>, tensor<?x64x?xf32>, tensor<64x16xf32>, tensor<?x16x?xf32>,
        tensor<?x16x?xf32>, tensor<?x64x16xf32>
  return %y, %h2, %yd, %hd2 : tensor<1x64x1xf16>, tensor<1x64x16xf32>, tensor<?x64x?xf32>, tensor<?x64x16xf32>
}

// -----

// CHECK-LABEL: func @ssd_with_state
func.func @ssd_with_state(%x: tensor<1x1x4x16xf16>, %dt: tensor<1x1x4xf16>, %A: tensor<4xf32>,
                          %B: tensor<1x1x2x8xf16>, %h: tensor<1x4x16x8xf32>, %D: tensor<4xf32>,
                          %xd: tensor<?x?x4x16xf32>, %dtd: tensor<?x?x4xf32>,
                          %Bd: tensor<?x?x2x8xf32>, %hd: tensor<?x4x16x8xf32>)
    -> (tensor<1x1x4x16xf16>, tensor<1x4x16x8xf32>, tensor<?x?x4x16xf32>, tensor<?x4x16x8xf32>) {
  // CHECK: %{{.*}}, %{{.*}} = iolite.ssd_with_state %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} D(%{{.*}} : tensor<4xf32>) dt_bias(%{{.*}} : tensor<4xf32>) {dt_softplus} : tensor<1x1x4x16xf16>, tensor<1x1x4xf16>, tensor<4xf32>, tensor<1x1x2x8xf16>, tensor<1x1x2x8xf16>, tensor<1x4x16x8xf32>
  %y, %h2 = iolite.ssd_with_state %x, %dt, %A, %B, %B, %h D(%D : tensor<4xf32>)
      dt_bias(%A : tensor<4xf32>) {dt_softplus}
      : tensor<1x1x4x16xf16>, tensor<1x1x4xf16>, tensor<4xf32>, tensor<1x1x2x8xf16>,
        tensor<1x1x2x8xf16>, tensor<1x4x16x8xf32>
  // CHECK: iolite.ssd_with_state {{.*}} {chunk_size = 16 : i64} : tensor<?x?x4x16xf32>, tensor<?x?x4xf32>, tensor<4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x4x16x8xf32>
  %yd, %hd2 = iolite.ssd_with_state %xd, %dtd, %A, %Bd, %Bd, %hd {chunk_size = 16 : i64}
      : tensor<?x?x4x16xf32>, tensor<?x?x4xf32>, tensor<4xf32>, tensor<?x?x2x8xf32>,
        tensor<?x?x2x8xf32>, tensor<?x4x16x8xf32>
  return %y, %h2, %yd, %hd2 : tensor<1x1x4x16xf16>, tensor<1x4x16x8xf32>, tensor<?x?x4x16xf32>, tensor<?x4x16x8xf32>
}
