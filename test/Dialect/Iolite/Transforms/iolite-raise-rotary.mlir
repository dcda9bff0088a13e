// RUN: iolite-opt %s --split-input-file --iolite-raise-rotary | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-raise-rotary=remarks=true 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK

// Llama's apply_rotary_pos_emb as PyTorch exports it: q * cos +
// cat(-q[..., 8:], q[..., :8]) * sin, with cos/sin gathered per position
// and unsqueezed to [B, 1, S, D].

// CHECK-LABEL: func @llama_rope
// CHECK-SAME: (%[[Q:.*]]: tensor<1x4x6x16xf32>, %[[C:.*]]: tensor<1x1x6x16xf32>, %[[S:.*]]: tensor<1x1x6x16xf32>)
// CHECK-NEXT: %[[R:.*]] = iolite.rotary %[[Q]], %[[C]], %[[S]] : tensor<1x4x6x16xf32>, tensor<1x1x6x16xf32>, tensor<1x1x6x16xf32>
// CHECK-NEXT: return %[[R]]
// REMARK: remark: raised to iolite.rotary (16 rotary features)
func.func @llama_rope(%q: tensor<1x4x6x16xf32>, %cos: tensor<1x1x6x16xf32>,
                      %sin: tensor<1x1x6x16xf32>) -> tensor<1x4x6x16xf32> {
  %qc = iolite.mul %q, %cos : tensor<1x4x6x16xf32>, tensor<1x1x6x16xf32>
  %x1 = iolite.slice %q [0, 0, 0, 0] to [1, 4, 6, 8] : tensor<1x4x6x16xf32>
  %x2 = iolite.slice %q [0, 0, 0, 8] to [1, 4, 6, 16] : tensor<1x4x6x16xf32>
  %n = iolite.neg %x2 : tensor<1x4x6x8xf32>
  %rot = iolite.concat %n, %x1 {axis = -1 : i64} : tensor<1x4x6x8xf32>, tensor<1x4x6x8xf32>
  %rs = iolite.mul %rot, %sin : tensor<1x4x6x16xf32>, tensor<1x1x6x16xf32>
  %y = iolite.add %qc, %rs : tensor<1x4x6x16xf32>, tensor<1x4x6x16xf32>
  return %y : tensor<1x4x6x16xf32>
}

// -----

// Operands in the other order, and cos/sin of different ranks: both are
// broadcast to one [..., S, R] table shape.

// CHECK-LABEL: func @commuted_tables
// CHECK-SAME: (%[[Q:.*]]: tensor<2x6x8xf32>, %[[C:.*]]: tensor<6x8xf32>, %[[S:.*]]: tensor<1x6x8xf32>)
// CHECK-NEXT: %[[C3:.*]] = iolite.broadcast %[[C]] : tensor<6x8xf32> -> tensor<1x6x8xf32>
// CHECK-NEXT: %[[R:.*]] = iolite.rotary %[[Q]], %[[C3]], %[[S]] : tensor<2x6x8xf32>, tensor<1x6x8xf32>, tensor<1x6x8xf32>
// CHECK-NEXT: return %[[R]]
func.func @commuted_tables(%q: tensor<2x6x8xf32>, %cos: tensor<6x8xf32>,
                           %sin: tensor<1x6x8xf32>) -> tensor<2x6x8xf32> {
  %x1 = iolite.slice %q [0, 0, 0] to [2, 6, 4] : tensor<2x6x8xf32>
  %x2 = iolite.slice %q [0, 0, 4] to [2, 6, 8] : tensor<2x6x8xf32>
  %n = iolite.neg %x2 : tensor<2x6x4xf32>
  %rot = iolite.concat %n, %x1 {axis = 2 : i64} : tensor<2x6x4xf32>, tensor<2x6x4xf32>
  %rs = iolite.mul %sin, %rot : tensor<1x6x8xf32>, tensor<2x6x8xf32>
  %qc = iolite.mul %cos, %q : tensor<6x8xf32>, tensor<2x6x8xf32>
  %y = iolite.add %rs, %qc : tensor<2x6x8xf32>, tensor<2x6x8xf32>
  return %y : tensor<2x6x8xf32>
}

// -----

// GPT-NeoX partial rotary (rotary_pct): the rotated prefix is concatenated
// with the pass-through rest; both fold into one rotary of the whole head.

// CHECK-LABEL: func @partial_rotary
// CHECK-SAME: (%[[Q:.*]]: tensor<1x2x4x16xf32>, %[[C:.*]]: tensor<4x8xf32>, %[[S:.*]]: tensor<4x8xf32>)
// CHECK-NEXT: %[[R:.*]] = iolite.rotary %[[Q]], %[[C]], %[[S]] : tensor<1x2x4x16xf32>, tensor<4x8xf32>, tensor<4x8xf32>
// CHECK-NEXT: return %[[R]]
// REMARK: remark: raised to iolite.rotary (8 rotary features)
// REMARK: remark: raised a partial rotary (8 of 16 features) to one iolite.rotary
func.func @partial_rotary(%q: tensor<1x2x4x16xf32>, %cos: tensor<4x8xf32>,
                          %sin: tensor<4x8xf32>) -> tensor<1x2x4x16xf32> {
  %qr = iolite.slice %q [0, 0, 0, 0] to [1, 2, 4, 8] : tensor<1x2x4x16xf32>
  %qp = iolite.slice %q [0, 0, 0, 8] to [1, 2, 4, 16] : tensor<1x2x4x16xf32>
  %qc = iolite.mul %qr, %cos : tensor<1x2x4x8xf32>, tensor<4x8xf32>
  %x1 = iolite.slice %qr [0, 0, 0, 0] to [1, 2, 4, 4] : tensor<1x2x4x8xf32>
  %x2 = iolite.slice %qr [0, 0, 0, 4] to [1, 2, 4, 8] : tensor<1x2x4x8xf32>
  %n = iolite.neg %x2 : tensor<1x2x4x4xf32>
  %rot = iolite.concat %n, %x1 {axis = -1 : i64} : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
  %rs = iolite.mul %rot, %sin : tensor<1x2x4x8xf32>, tensor<4x8xf32>
  %e = iolite.add %qc, %rs : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
  %y = iolite.concat %e, %qp {axis = -1 : i64} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
  return %y : tensor<1x2x4x16xf32>
}

// -----

// Near miss: cat(x1, -x2) rotates the other way.

// CHECK-LABEL: func @wrong_sign
// CHECK-NOT: iolite.rotary
// REMARK: remark: not raised to iolite.rotary: the concat is (x1, -x2): it rotates the other way from rotate_half's (-x2, x1)
func.func @wrong_sign(%q: tensor<6x8xf32>, %cos: tensor<6x8xf32>,
                      %sin: tensor<6x8xf32>) -> tensor<6x8xf32> {
  %qc = iolite.mul %q, %cos : tensor<6x8xf32>, tensor<6x8xf32>
  %x1 = iolite.slice %q [0, 0] to [6, 4] : tensor<6x8xf32>
  %x2 = iolite.slice %q [0, 4] to [6, 8] : tensor<6x8xf32>
  %n = iolite.neg %x2 : tensor<6x4xf32>
  %rot = iolite.concat %x1, %n {axis = 1 : i64} : tensor<6x4xf32>, tensor<6x4xf32>
  %rs = iolite.mul %rot, %sin : tensor<6x8xf32>, tensor<6x8xf32>
  %y = iolite.add %qc, %rs : tensor<6x8xf32>, tensor<6x8xf32>
  return %y : tensor<6x8xf32>
}

// -----

// Near miss: the halves are swapped (-x1, x2).

// CHECK-LABEL: func @swapped_halves
// CHECK-NOT: iolite.rotary
// REMARK: remark: not raised to iolite.rotary: the halves are x[0:4] and x[4:8], not x[4:8] and x[0:4] of the 8 features
func.func @swapped_halves(%q: tensor<6x8xf32>, %cos: tensor<6x8xf32>,
                          %sin: tensor<6x8xf32>) -> tensor<6x8xf32> {
  %qc = iolite.mul %q, %cos : tensor<6x8xf32>, tensor<6x8xf32>
  %x1 = iolite.slice %q [0, 0] to [6, 4] : tensor<6x8xf32>
  %x2 = iolite.slice %q [0, 4] to [6, 8] : tensor<6x8xf32>
  %n = iolite.neg %x1 : tensor<6x4xf32>
  %rot = iolite.concat %n, %x2 {axis = 1 : i64} : tensor<6x4xf32>, tensor<6x4xf32>
  %rs = iolite.mul %rot, %sin : tensor<6x8xf32>, tensor<6x8xf32>
  %y = iolite.add %qc, %rs : tensor<6x8xf32>, tensor<6x8xf32>
  return %y : tensor<6x8xf32>
}

// -----

// Near miss: the cos term multiplies another tensor than the rotated one.

// CHECK-LABEL: func @other_x
// CHECK-NOT: iolite.rotary
// REMARK: remark: not raised to iolite.rotary: the other term is not x times a table
func.func @other_x(%q: tensor<6x8xf32>, %k: tensor<6x8xf32>, %cos: tensor<6x8xf32>,
                   %sin: tensor<6x8xf32>) -> tensor<6x8xf32> {
  %kc = iolite.mul %k, %cos : tensor<6x8xf32>, tensor<6x8xf32>
  %x1 = iolite.slice %q [0, 0] to [6, 4] : tensor<6x8xf32>
  %x2 = iolite.slice %q [0, 4] to [6, 8] : tensor<6x8xf32>
  %n = iolite.neg %x2 : tensor<6x4xf32>
  %rot = iolite.concat %n, %x1 {axis = 1 : i64} : tensor<6x4xf32>, tensor<6x4xf32>
  %rs = iolite.mul %rot, %sin : tensor<6x8xf32>, tensor<6x8xf32>
  %y = iolite.add %kc, %rs : tensor<6x8xf32>, tensor<6x8xf32>
  return %y : tensor<6x8xf32>
}

// -----

// Symbolic batch and sequence: the halves take the dynamic dims whole
// (limit 9223372036854775807, to the end) and split the static last dim.
// CHECK-LABEL: func @symbolic_rope
// CHECK-SAME: (%[[Q:.*]]: tensor<?x4x?x16xf32> {{.*}}, %[[C:.*]]: tensor<1x1x?x16xf32> {{.*}}, %[[S:.*]]: tensor<1x1x?x16xf32> {{.*}})
// CHECK-NEXT: %[[R:.*]] = iolite.rotary %[[Q]], %[[C]], %[[S]] : tensor<?x4x?x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32>
// CHECK-NEXT: return %[[R]]
// REMARK: remark: raised to iolite.rotary (16 rotary features)
func.func @symbolic_rope(
    %q: tensor<?x4x?x16xf32> {iolite.dims = ["batch", "", "seq", ""]},
    %cos: tensor<1x1x?x16xf32> {iolite.dims = ["", "", "seq", ""]},
    %sin: tensor<1x1x?x16xf32> {iolite.dims = ["", "", "seq", ""]})
    -> tensor<?x4x?x16xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 8>,
                                     seq = array<i64: 1, 4096>}} {
  %qc = iolite.mul %q, %cos : tensor<?x4x?x16xf32>, tensor<1x1x?x16xf32>
  %x1 = iolite.slice %q [0, 0, 0, 0] to [9223372036854775807, 4, 9223372036854775807, 8] : tensor<?x4x?x16xf32>
  %x2 = iolite.slice %q [0, 0, 0, 8] to [9223372036854775807, 4, 9223372036854775807, 16] : tensor<?x4x?x16xf32>
  %n = iolite.neg %x2 : tensor<?x4x?x8xf32>
  %rot = iolite.concat %n, %x1 {axis = -1 : i64} : tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>
  %rs = iolite.mul %rot, %sin : tensor<?x4x?x16xf32>, tensor<1x1x?x16xf32>
  %y = iolite.add %qc, %rs : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>
  return %y : tensor<?x4x?x16xf32>
}
