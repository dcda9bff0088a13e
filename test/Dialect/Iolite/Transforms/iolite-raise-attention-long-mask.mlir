// A causal mask over 4096 x 4096 keys is too large to fold into values; it
// is checked element by element from the row and column ids it is computed
// from, and becomes the causal flag. A mask one off the diagonal (gt) is a
// near miss and stays a general mask.

// RUN: %python %S/Inputs/long_causal_mask.py 4096 ge > %t.ge.mlir
// RUN: iolite-opt %t.ge.mlir --iolite-raise-attention | FileCheck %s
// RUN: %python %S/Inputs/long_causal_mask.py 4096 gt > %t.gt.mlir
// RUN: iolite-opt %t.gt.mlir --iolite-raise-attention | FileCheck %s --check-prefix=STRICT

// CHECK-LABEL: func.func @attention
// CHECK: iolite.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, scale = 1.250000e-01 : f32}
// CHECK-NOT: iolite.softmax
// CHECK-NOT: iolite.compare

// STRICT-LABEL: func.func @attention
// STRICT: iolite.compare gt
// STRICT: iolite.attention
// STRICT-NOT: causal
// STRICT-SAME: tensor<1x2x4096x64xf32>
