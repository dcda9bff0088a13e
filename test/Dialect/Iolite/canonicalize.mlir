// RUN: iolite-opt %s --split-input-file --canonicalize | FileCheck %s

// CHECK-LABEL: func @cast_same_type
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
// CHECK-NEXT: return %[[X]]
func.func @cast_same_type(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = iolite.cast %x : tensor<4xf32> to tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// A lossless round trip through f32 disappears; a lossy one stays.
// CHECK-LABEL: func @cast_round_trip
// CHECK-SAME: (%[[H:.*]]: tensor<4xf16>, %[[F:.*]]: tensor<4xf32>)
// CHECK: %[[A:.*]] = iolite.cast %[[F]] : tensor<4xf32> to tensor<4xf16>
// CHECK: %[[B:.*]] = iolite.cast %[[A]] : tensor<4xf16> to tensor<4xf32>
// CHECK: return %[[H]], %[[B]]
func.func @cast_round_trip(%h: tensor<4xf16>, %f: tensor<4xf32>) -> (tensor<4xf16>, tensor<4xf32>) {
  %0 = iolite.cast %h : tensor<4xf16> to tensor<4xf32>
  %1 = iolite.cast %0 : tensor<4xf32> to tensor<4xf16>
  %2 = iolite.cast %f : tensor<4xf32> to tensor<4xf16>
  %3 = iolite.cast %2 : tensor<4xf16> to tensor<4xf32>
  return %1, %3 : tensor<4xf16>, tensor<4xf32>
}

// -----

// CHECK-LABEL: func @identities
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32>)
// CHECK-NEXT: return %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]]
func.func @identities(%x: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>,
    tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) {
  %zero = iolite.constant dense<0.0> : tensor<4xf32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %0 = iolite.add %x, %zero : tensor<2x4xf32>, tensor<4xf32>
  %1 = iolite.add %zero, %x : tensor<4xf32>, tensor<2x4xf32>
  %2 = iolite.sub %x, %zero : tensor<2x4xf32>, tensor<4xf32>
  %3 = iolite.mul %x, %one : tensor<2x4xf32>, tensor<f32>
  %4 = iolite.mul %one, %x : tensor<f32>, tensor<2x4xf32>
  %5 = iolite.div %x, %one : tensor<2x4xf32>, tensor<f32>
  %6 = iolite.pow %x, %one : tensor<2x4xf32>, tensor<f32>
  %7 = iolite.max %x, %x : tensor<2x4xf32>, tensor<2x4xf32>
  %8 = iolite.min %x, %x : tensor<2x4xf32>, tensor<2x4xf32>
  return %0, %1, %2, %3, %4, %5, %6, %7, %8 : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>,
      tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>
}

// -----

// An identity element that broadcasts the other operand is not dropped.
// CHECK-LABEL: func @identity_broadcasts
// CHECK: %[[R:.*]] = iolite.add
// CHECK: return %[[R]]
func.func @identity_broadcasts(%x: tensor<4xf32>) -> tensor<2x4xf32> {
  %zero = iolite.constant dense<0.0> : tensor<2x4xf32>
  %0 = iolite.add %x, %zero : tensor<4xf32>, tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func @constant_folding
// CHECK-DAG: %[[F:.*]] = iolite.constant dense<[4.000000e+00, 6.000000e+00]> : tensor<2xf32>
// CHECK-DAG: %[[I:.*]] = iolite.constant dense<[3, -1]> : tensor<2xi64>
// CHECK-DAG: %[[M:.*]] = iolite.constant dense<[3.000000e+00, 4.000000e+00]> : tensor<2xf32>
// CHECK-DAG: %[[D:.*]] = iolite.constant dense<[5, -2]> : tensor<2xi64>
// CHECK: return %[[F]], %[[I]], %[[M]], %[[D]]
func.func @constant_folding() -> (tensor<2xf32>, tensor<2xi64>, tensor<2xf32>, tensor<2xi64>) {
  %a = iolite.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %b = iolite.constant dense<[3.0, 4.0]> : tensor<2xf32>
  %i = iolite.constant dense<[1, 2]> : tensor<2xi64>
  %j = iolite.constant dense<[2, -3]> : tensor<2xi64>
  %k = iolite.constant dense<[10, 7]> : tensor<2xi64>
  %0 = iolite.add %a, %b : tensor<2xf32>, tensor<2xf32>
  %1 = iolite.add %i, %j : tensor<2xi64>, tensor<2xi64>
  %2 = iolite.max %a, %b : tensor<2xf32>, tensor<2xf32>
  %3 = iolite.div %k, %j : tensor<2xi64>, tensor<2xi64>
  %4 = iolite.sub %a, %a : tensor<2xf32>, tensor<2xf32>
  %5 = iolite.mul %4, %b : tensor<2xf32>, tensor<2xf32>
  %6 = iolite.add %0, %5 : tensor<2xf32>, tensor<2xf32>
  %7 = iolite.min %2, %b : tensor<2xf32>, tensor<2xf32>
  return %6, %1, %7, %3 : tensor<2xf32>, tensor<2xi64>, tensor<2xf32>, tensor<2xi64>
}

// -----

// Integer division by zero is not folded.
// CHECK-LABEL: func @no_fold_div_by_zero
// CHECK: iolite.div
func.func @no_fold_div_by_zero() -> tensor<2xi64> {
  %a = iolite.constant dense<[1, 2]> : tensor<2xi64>
  %z = iolite.constant dense<0> : tensor<2xi64>
  %0 = iolite.div %a, %z : tensor<2xi64>, tensor<2xi64>
  return %0 : tensor<2xi64>
}

// -----

// CHECK-LABEL: func @select
// CHECK-SAME: (%[[A:.*]]: tensor<4xf32>, %[[B:.*]]: tensor<4xf32>, %[[C:.*]]: tensor<4xi1>)
// CHECK-NEXT: return %[[A]], %[[B]], %[[A]]
func.func @select(%a: tensor<4xf32>, %b: tensor<4xf32>, %c: tensor<4xi1>)
    -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %t = iolite.constant dense<true> : tensor<4xi1>
  %f = iolite.constant dense<false> : tensor<i1>
  %0 = iolite.select %t, %a, %b : tensor<4xi1>, tensor<4xf32>, tensor<4xf32>
  %1 = iolite.select %f, %a, %b : tensor<i1>, tensor<4xf32>, tensor<4xf32>
  %2 = iolite.select %c, %a, %a : tensor<4xi1>, tensor<4xf32>, tensor<4xf32>
  return %0, %1, %2 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// CHECK-LABEL: func @double_neg
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
// CHECK-NEXT: return %[[X]]
func.func @double_neg(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = iolite.neg %x : tensor<4xf32>
  %1 = iolite.neg %0 : tensor<4xf32>
  return %1 : tensor<4xf32>
}

// -----

// Reducing only size-1 dims that are kept is the identity; a real
// reduction stays.
// CHECK-LABEL: func @reduce_unit_dims
// CHECK-SAME: (%[[X:.*]]: tensor<2x1x4xf32>)
// CHECK: %[[R:.*]] = iolite.reduce sum %[[X]] {axes = array<i64: 2>, keep_dims}
// CHECK: return %[[X]], %[[R]]
func.func @reduce_unit_dims(%x: tensor<2x1x4xf32>) -> (tensor<2x1x4xf32>, tensor<2x1x1xf32>) {
  %0 = iolite.reduce max %x {axes = array<i64: 1>, keep_dims} : tensor<2x1x4xf32>
  %1 = iolite.reduce sum %x {axes = array<i64: 2>, keep_dims} : tensor<2x1x4xf32>
  return %0, %1 : tensor<2x1x4xf32>, tensor<2x1x1xf32>
}

// -----

// CHECK-LABEL: func @reshape
// CHECK-SAME: (%[[X:.*]]: tensor<2x6xf32>)
// CHECK-NEXT: %[[R:.*]] = iolite.reshape %[[X]] : tensor<2x6xf32> -> tensor<3x4xf32>
// CHECK-NEXT: return %[[X]], %[[R]]
func.func @reshape(%x: tensor<2x6xf32>) -> (tensor<2x6xf32>, tensor<3x4xf32>) {
  %0 = iolite.reshape %x : tensor<2x6xf32> -> tensor<2x6xf32>
  %1 = iolite.reshape %x : tensor<2x6xf32> -> tensor<12xf32>
  %2 = iolite.reshape %1 : tensor<12xf32> -> tensor<3x4xf32>
  return %0, %2 : tensor<2x6xf32>, tensor<3x4xf32>
}

// -----

// CHECK-LABEL: func @reshape_constant
// CHECK-NEXT: %[[C:.*]] = iolite.constant dense<{{\[}}[1, 2], [3, 4]]> : tensor<2x2xi64>
// CHECK-NEXT: return %[[C]]
func.func @reshape_constant() -> tensor<2x2xi64> {
  %c = iolite.constant dense<[1, 2, 3, 4]> : tensor<4xi64>
  %0 = iolite.reshape %c : tensor<4xi64> -> tensor<2x2xi64>
  return %0 : tensor<2x2xi64>
}

// -----

// CHECK-LABEL: func @transpose
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x4xf32>)
// CHECK-DAG: %[[T:.*]] = iolite.transpose %[[X]] [2, 1, 0] : tensor<2x3x4xf32>
// CHECK-DAG: %[[S:.*]] = iolite.constant dense<2.000000e+00> : tensor<4x2xf32>
// CHECK: return %[[X]], %[[T]], %[[S]]
func.func @transpose(%x: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<4x3x2xf32>, tensor<4x2xf32>) {
  %0 = iolite.transpose %x [0, 1, 2] : tensor<2x3x4xf32>
  // [1, 0, 2] then [2, 0, 1] is [2, 1, 0].
  %1 = iolite.transpose %x [1, 0, 2] : tensor<2x3x4xf32>
  %2 = iolite.transpose %1 [2, 0, 1] : tensor<3x2x4xf32>
  %c = iolite.constant dense<2.0> : tensor<2x4xf32>
  %3 = iolite.transpose %c [1, 0] : tensor<2x4xf32>
  return %0, %2, %3 : tensor<2x3x4xf32>, tensor<4x3x2xf32>, tensor<4x2xf32>
}

// -----

// CHECK-LABEL: func @concat_single
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32>)
// CHECK-NEXT: return %[[X]]
func.func @concat_single(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = iolite.concat %x {axis = 0 : i64} : tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func @slice
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>)
// CHECK-NEXT: %[[C:.*]] = iolite.constant dense<3.000000e+00> : tensor<1x4xf32>
// CHECK-NEXT: %[[S:.*]] = iolite.slice %[[X]] [0, 0] to [2, 4] : tensor<2x8xf32>
// CHECK-NEXT: return %[[X]], %[[C]], %[[S]]
func.func @slice(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<1x4xf32>, tensor<2x4xf32>) {
  %0 = iolite.slice %x [0, 0] to [2, 8] : tensor<2x8xf32>
  %c = iolite.constant dense<3.0> : tensor<2x8xf32>
  %1 = iolite.slice %c [1, 0] to [2, 8] step [1, 2] : tensor<2x8xf32>
  %2 = iolite.slice %x [0, 0] to [2, 4] : tensor<2x8xf32>
  return %0, %1, %2 : tensor<2x8xf32>, tensor<1x4xf32>, tensor<2x4xf32>
}

// -----

// A slice of a dynamic dim folds away only when it takes the whole dim:
// from 0 to the end; one that drops the first row keeps the same type.

// CHECK-LABEL: func @slice_dynamic
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>)
// CHECK-NEXT: %[[S:.*]] = iolite.slice %[[X]] [1, 0] to [9223372036854775807, 8] : tensor<?x8xf32>
// CHECK-NEXT: return %[[X]], %[[S]]
func.func @slice_dynamic(%x: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %0 = iolite.slice %x [0, 0] to [9223372036854775807, 8] : tensor<?x8xf32>
  %1 = iolite.slice %x [1, 0] to [9223372036854775807, 8] : tensor<?x8xf32>
  return %0, %1 : tensor<?x8xf32>, tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func @broadcast
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
// CHECK-NEXT: %[[C:.*]] = iolite.constant dense<1.000000e+00> : tensor<3x4xf32>
// CHECK-NEXT: %[[B:.*]] = iolite.broadcast %[[X]] : tensor<4xf32> -> tensor<2x3x4xf32>
// CHECK-NEXT: return %[[X]], %[[B]], %[[C]]
func.func @broadcast(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<2x3x4xf32>, tensor<3x4xf32>) {
  %0 = iolite.broadcast %x : tensor<4xf32> -> tensor<4xf32>
  %1 = iolite.broadcast %x : tensor<4xf32> -> tensor<3x4xf32>
  %2 = iolite.broadcast %1 : tensor<3x4xf32> -> tensor<2x3x4xf32>
  %c = iolite.constant dense<1.0> : tensor<1x4xf32>
  %3 = iolite.broadcast %c : tensor<1x4xf32> -> tensor<3x4xf32>
  return %0, %2, %3 : tensor<4xf32>, tensor<2x3x4xf32>, tensor<3x4xf32>
}

// -----

// A mask that keeps every key is dropped; a real mask stays.
// CHECK-LABEL: func @attention_trivial_mask
// CHECK-SAME: (%[[Q:.*]]: tensor<1x2x4x8xf32>, %[[M:.*]]: tensor<4x4xi1>)
// CHECK: iolite.attention %[[Q]], %[[Q]], %[[Q]] {causal} :
// CHECK: iolite.attention %[[Q]], %[[Q]], %[[Q]] :
// CHECK: iolite.attention %[[Q]], %[[Q]], %[[Q]] mask(%[[M]] : tensor<4x4xi1>) :
func.func @attention_trivial_mask(%q: tensor<1x2x4x8xf32>, %m: tensor<4x4xi1>)
    -> (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) {
  %t = iolite.constant dense<true> : tensor<4x4xi1>
  %z = iolite.constant dense<0.0> : tensor<1x1x4x4xf32>
  %0 = iolite.attention %q, %q, %q mask(%t : tensor<4x4xi1>) {causal}
      : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
  %1 = iolite.attention %q, %q, %q mask(%z : tensor<1x1x4x4xf32>)
      : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
  %2 = iolite.attention %q, %q, %q mask(%m : tensor<4x4xi1>)
      : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
  return %0, %1, %2 : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
}
