// RUN: iolite-opt %s --split-input-file --iolite-copy-returned-values | FileCheck %s

// A value returned twice and an argument returned as is are copied; the
// first return of a computed value and tensors without elements are not.
// CHECK-LABEL: func.func @aliased
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>, %[[Z:.*]]: tensor<0x3xf32>)
// CHECK: %[[Y:.*]] = math.exp %[[X]]
// CHECK: %[[E1:.*]] = tensor.empty() : tensor<4xf32>
// CHECK: %[[C1:.*]] = linalg.copy ins(%[[Y]] : tensor<4xf32>) outs(%[[E1]] : tensor<4xf32>)
// CHECK: %[[E2:.*]] = tensor.empty() : tensor<4xf32>
// CHECK: %[[C2:.*]] = linalg.copy ins(%[[X]] : tensor<4xf32>) outs(%[[E2]] : tensor<4xf32>)
// CHECK: return %[[Y]], %[[C1]], %[[C2]], %[[Z]], %[[Z]]
func.func @aliased(%x: tensor<4xf32>, %z: tensor<0x3xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<0x3xf32>, tensor<0x3xf32>) {
  %y = math.exp %x : tensor<4xf32>
  return %y, %y, %x, %z, %z : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<0x3xf32>, tensor<0x3xf32>
}

// -----

// Distinct computed results stay as they are.
// CHECK-LABEL: func.func @distinct
// CHECK-NOT: linalg.copy
func.func @distinct(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %a = math.exp %x : tensor<4xf32>
  %b = math.tanh %x : tensor<4xf32>
  return %a, %b : tensor<4xf32>, tensor<4xf32>
}
