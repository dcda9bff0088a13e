// RUN: iolite-opt %s --split-input-file --iolite-raise-attention | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-raise-attention=remarks=true 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK

// Causal masks built from positions (iolite.iota) at the call's length, as
// transformers builds them: the causal form is proven for every length
// from the structure of the mask, not from its values, so symbolic
// sequence lengths raise to {causal}.

// masked_fill(~(i >= j), finfo.min) as an additive mask over symbolic
// batch and sequence: both positions come from the same dim of q.
// CHECK-LABEL: func @additive_select
// CHECK-NEXT: %[[O:.*]] = iolite.attention %arg0, %arg1, %arg2 {causal, scale = 0.353553385 : f32} : tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>
// CHECK-NEXT: return %[[O]]
// REMARK: remark: raised to iolite.attention (4 query heads, 4 kv heads, scale 0.353553, causal)
func.func @additive_select(
    %q: tensor<?x4x?x8xf32> {iolite.dims = ["batch", "", "seq", ""]},
    %k: tensor<?x4x?x8xf32> {iolite.dims = ["batch", "", "seq", ""]},
    %v: tensor<?x4x?x8xf32> {iolite.dims = ["batch", "", "seq", ""]})
    -> tensor<?x4x?x8xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 8>,
                                     seq = array<i64: 1, 4096>}} {
  %s = iolite.matmul %q, %k {transpose_rhs} : tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>
  %c = iolite.constant dense<2.82842708> : tensor<f32>
  %d = iolite.div %s, %c : tensor<?x4x?x?xf32>, tensor<f32>
  %pos = iolite.iota %q {axis = 2 : i64} : tensor<?x4x?x8xf32>
  %row = iolite.reshape %pos {iolite.dims = ["seq", ""]} : tensor<?xi64> -> tensor<?x1xi64>
  %keep = iolite.compare ge %row, %pos : tensor<?x1xi64>, tensor<?xi64>
  %zero = iolite.constant dense<0.0> : tensor<f32>
  %min = iolite.constant dense<-3.40282347E+38> : tensor<f32>
  %m = iolite.select %keep, %zero, %min : tensor<?x?xi1>, tensor<f32>, tensor<f32>
  %a = iolite.add %d, %m : tensor<?x4x?x?xf32>, tensor<?x?xf32>
  %p = iolite.softmax %a {axis = -1 : i64} : tensor<?x4x?x?xf32>
  %o = iolite.matmul %p, %v : tensor<?x4x?x?xf32>, tensor<?x4x?x8xf32>
  return %o : tensor<?x4x?x8xf32>
}

// -----

// A bool mask on the scores (select(drop, -inf, scores)) whose drop
// condition is j > i, written with f32 positions, a column of j + 1 and
// broadcasts to the scores' rank.
// CHECK-LABEL: func @bool_drop_float_positions
// CHECK-NEXT: iolite.attention %arg0, %arg1, %arg2 {causal, scale = 1.000000e+00 : f32}
func.func @bool_drop_float_positions(
    %q: tensor<1x2x?x8xf32> {iolite.dims = ["", "", "seq", ""]},
    %k: tensor<1x2x?x8xf32> {iolite.dims = ["", "", "seq", ""]},
    %v: tensor<1x2x?x8xf32> {iolite.dims = ["", "", "seq", ""]})
    -> tensor<1x2x?x8xf32>
    attributes {iolite.dim_bounds = {seq = array<i64: 1, 4096>}} {
  %s = iolite.matmul %q, %k {transpose_rhs} : tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>
  %pos = iolite.iota %k {axis = -2 : i64} : tensor<1x2x?x8xf32>
  %posf = iolite.cast %pos : tensor<?xi64> to tensor<?xf32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %j1 = iolite.add %posf, %one : tensor<?xf32>, tensor<f32>
  %col = iolite.reshape %posf {iolite.dims = ["seq", ""]} : tensor<?xf32> -> tensor<?x1xf32>
  // drop where j + 1 > i + 1, i.e. j > i
  %i1 = iolite.add %col, %one : tensor<?x1xf32>, tensor<f32>
  %drop2 = iolite.compare gt %j1, %i1 : tensor<?xf32>, tensor<?x1xf32>
  %drop = iolite.reshape %drop2 {iolite.dims = ["", "", "seq", "seq"]} : tensor<?x?xi1> -> tensor<1x1x?x?xi1>
  %ninf = iolite.constant dense<0xFF800000> : tensor<f32>
  %w = iolite.select %drop, %ninf, %s : tensor<1x1x?x?xi1>, tensor<f32>, tensor<1x2x?x?xf32>
  %p = iolite.softmax %w {axis = -1 : i64} : tensor<1x2x?x?xf32>
  %o = iolite.matmul %p, %v : tensor<1x2x?x?xf32>, tensor<1x2x?x8xf32>
  return %o : tensor<1x2x?x8xf32>
}

// -----

// Static shapes with more keys than queries: keep j <= i + (Skv - Sq) is
// the bottom-right causal form the op means.
// CHECK-LABEL: func @static_bottom_right
// CHECK-NEXT: iolite.attention %arg0, %arg1, %arg2 {causal, scale = 1.000000e+00 : f32}
func.func @static_bottom_right(%q: tensor<1x1x4x8xf32>, %k: tensor<1x1x6x8xf32>,
                               %v: tensor<1x1x6x8xf32>) -> tensor<1x1x4x8xf32> {
  %s = iolite.matmul %q, %k {transpose_rhs} : tensor<1x1x4x8xf32>, tensor<1x1x6x8xf32>
  %qi = iolite.iota %q {axis = 2 : i64} : tensor<1x1x4x8xf32>
  %kj = iolite.iota %k {axis = 2 : i64} : tensor<1x1x6x8xf32>
  %two = iolite.constant dense<2> : tensor<i64>
  %qs = iolite.add %qi, %two : tensor<4xi64>, tensor<i64>
  %row = iolite.reshape %qs : tensor<4xi64> -> tensor<4x1xi64>
  %keep = iolite.compare le %kj, %row : tensor<6xi64>, tensor<4x1xi64>
  %ninf = iolite.constant dense<0xFF800000> : tensor<f32>
  %w = iolite.select %keep, %s, %ninf : tensor<4x6xi1>, tensor<1x1x4x6xf32>, tensor<f32>
  %p = iolite.softmax %w {axis = -1 : i64} : tensor<1x1x4x6xf32>
  %o = iolite.matmul %p, %v : tensor<1x1x4x6xf32>, tensor<1x1x6x8xf32>
  return %o : tensor<1x1x4x8xf32>
}

// -----

// The mask of the wrong diagonal (keep j < i) is not causal: it stays a
// mask input.
// CHECK-LABEL: func @strictly_lower
// CHECK: iolite.attention {{.*}} mask(
// CHECK-NOT: causal
func.func @strictly_lower(
    %q: tensor<1x1x?x8xf32> {iolite.dims = ["", "", "seq", ""]},
    %k: tensor<1x1x?x8xf32> {iolite.dims = ["", "", "seq", ""]},
    %v: tensor<1x1x?x8xf32> {iolite.dims = ["", "", "seq", ""]})
    -> tensor<1x1x?x8xf32>
    attributes {iolite.dim_bounds = {seq = array<i64: 1, 4096>}} {
  %s = iolite.matmul %q, %k {transpose_rhs} : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>
  %pos = iolite.iota %q {axis = 2 : i64} : tensor<1x1x?x8xf32>
  %row = iolite.reshape %pos {iolite.dims = ["seq", ""]} : tensor<?xi64> -> tensor<?x1xi64>
  %keep = iolite.compare gt %row, %pos : tensor<?x1xi64>, tensor<?xi64>
  %ninf = iolite.constant dense<0xFF800000> : tensor<f32>
  %w = iolite.select %keep, %s, %ninf : tensor<?x?xi1>, tensor<1x1x?x?xf32>, tensor<f32>
  %p = iolite.softmax %w {axis = -1 : i64} : tensor<1x1x?x?xf32>
  %o = iolite.matmul %p, %v : tensor<1x1x?x?xf32>, tensor<1x1x?x8xf32>
  return %o : tensor<1x1x?x8xf32>
}

// -----

// Query and key positions of two different symbols: Sq = Skv cannot be
// proven, so i >= j is not known to be the bottom-right causal mask.
// CHECK-LABEL: func @two_lengths
// CHECK: iolite.attention {{.*}} mask(
// CHECK-NOT: causal
func.func @two_lengths(
    %q: tensor<1x1x?x8xf32> {iolite.dims = ["", "", "q", ""]},
    %k: tensor<1x1x?x8xf32> {iolite.dims = ["", "", "kv", ""]},
    %v: tensor<1x1x?x8xf32> {iolite.dims = ["", "", "kv", ""]})
    -> tensor<1x1x?x8xf32>
    attributes {iolite.dim_bounds = {q = array<i64: 1, 64>,
                                     kv = array<i64: 1, 4096>}} {
  %s = iolite.matmul %q, %k {transpose_rhs} : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>
  %qi = iolite.iota %q {axis = 2 : i64} : tensor<1x1x?x8xf32>
  %kj = iolite.iota %k {axis = 2 : i64} : tensor<1x1x?x8xf32>
  %row = iolite.reshape %qi {iolite.dims = ["q", ""]} : tensor<?xi64> -> tensor<?x1xi64>
  %keep = iolite.compare ge %row, %kj : tensor<?x1xi64>, tensor<?xi64>
  %ninf = iolite.constant dense<0xFF800000> : tensor<f32>
  %w = iolite.select %keep, %s, %ninf : tensor<?x?xi1>, tensor<1x1x?x?xf32>, tensor<f32>
  %p = iolite.softmax %w {axis = -1 : i64} : tensor<1x1x?x?xf32>
  %o = iolite.matmul %p, %v : tensor<1x1x?x?xf32>, tensor<1x1x?x8xf32>
  return %o : tensor<1x1x?x8xf32>
}
