// RUN: iolite-opt %s --split-input-file --iolite-raise-activations | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-raise-activations=remarks=true 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK

// nn.GELU() as PyTorch exports it: ((x * (erf(x / 1.4142135) + 1)) * 0.5).

// CHECK-LABEL: func @gelu_erf
// CHECK-SAME: (%[[X:.*]]: tensor<4x16xf32>)
// CHECK-NEXT: %[[G:.*]] = iolite.gelu %[[X]] : tensor<4x16xf32>
// CHECK-NEXT: return %[[G]]
// REMARK: remark: raised to iolite.gelu (erf form)
func.func @gelu_erf(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %s2 = iolite.constant dense<1.41421354> : tensor<f32>
  %a = iolite.div %x, %s2 : tensor<4x16xf32>, tensor<f32>
  %e = iolite.erf %a : tensor<4x16xf32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %b = iolite.add %e, %one : tensor<4x16xf32>, tensor<f32>
  %c = iolite.mul %x, %b : tensor<4x16xf32>, tensor<4x16xf32>
  %half = iolite.constant dense<0.5> : tensor<f32>
  %y = iolite.mul %c, %half : tensor<4x16xf32>, tensor<f32>
  return %y : tensor<4x16xf32>
}

// -----

// GELU(approximate='tanh') as PyTorch 1.13 exports it, x^3 as x * (x * x).

// CHECK-LABEL: func @gelu_tanh_export
// CHECK-SAME: (%[[X:.*]]: tensor<4x16xf32>)
// CHECK-NEXT: %[[G:.*]] = iolite.gelu %[[X]] approximate = tanh : tensor<4x16xf32>
// CHECK-NEXT: return %[[G]]
// REMARK: remark: raised to iolite.gelu (tanh form)
func.func @gelu_tanh_export(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %x2 = iolite.mul %x, %x : tensor<4x16xf32>, tensor<4x16xf32>
  %x3 = iolite.mul %x, %x2 : tensor<4x16xf32>, tensor<4x16xf32>
  %k = iolite.constant dense<0.044715> : tensor<f32>
  %kx3 = iolite.mul %k, %x3 : tensor<f32>, tensor<4x16xf32>
  %in = iolite.add %x, %kx3 : tensor<4x16xf32>, tensor<4x16xf32>
  %beta = iolite.constant dense<0.797884583> : tensor<f32>
  %arg = iolite.mul %beta, %in : tensor<f32>, tensor<4x16xf32>
  %t = iolite.tanh %arg : tensor<4x16xf32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %b = iolite.add %one, %t : tensor<f32>, tensor<4x16xf32>
  %c = iolite.mul %x, %b : tensor<4x16xf32>, tensor<4x16xf32>
  %half = iolite.constant dense<0.5> : tensor<f32>
  %y = iolite.mul %half, %c : tensor<f32>, tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// HF's NewGELU in f16: 0.5 * x first, pow(x, 3), erf-free tanh form; the
// f16-rounded constants still match.

// CHECK-LABEL: func @gelu_new_f16
// CHECK-SAME: (%[[X:.*]]: tensor<8xf16>)
// CHECK-NEXT: %[[G:.*]] = iolite.gelu %[[X]] approximate = tanh : tensor<8xf16>
// CHECK-NEXT: return %[[G]]
func.func @gelu_new_f16(%x: tensor<8xf16>) -> tensor<8xf16> {
  %half = iolite.constant dense<0.5> : tensor<f16>
  %hx = iolite.mul %half, %x : tensor<f16>, tensor<8xf16>
  %three = iolite.constant dense<3.0> : tensor<f16>
  %x3 = iolite.pow %x, %three : tensor<8xf16>, tensor<f16>
  %k = iolite.constant dense<0.044715> : tensor<f16>
  %kx3 = iolite.mul %x3, %k : tensor<8xf16>, tensor<f16>
  %in = iolite.add %kx3, %x : tensor<8xf16>, tensor<8xf16>
  %beta = iolite.constant dense<0.797884583> : tensor<f16>
  %arg = iolite.mul %in, %beta : tensor<8xf16>, tensor<f16>
  %t = iolite.tanh %arg : tensor<8xf16>
  %one = iolite.constant dense<1.0> : tensor<f16>
  %b = iolite.add %t, %one : tensor<8xf16>, tensor<f16>
  %y = iolite.mul %hx, %b : tensor<8xf16>, tensor<8xf16>
  return %y : tensor<8xf16>
}

// -----

// GEGLU: gelu(a) * b. The GELU inside is raised; the gate stays a mul and
// is no near miss.

// CHECK-LABEL: func @geglu
// CHECK-SAME: (%[[A:.*]]: tensor<8xf32>, %[[B:.*]]: tensor<8xf32>)
// CHECK-NEXT: %[[G:.*]] = iolite.gelu %[[A]] : tensor<8xf32>
// CHECK-NEXT: %[[Y:.*]] = iolite.mul %[[G]], %[[B]]
// CHECK-NEXT: return %[[Y]]
// REMARK-NOT: not raised
func.func @geglu(%a: tensor<8xf32>, %bb: tensor<8xf32>) -> tensor<8xf32> {
  %r = iolite.constant dense<0.707106769> : tensor<f32>
  %s = iolite.mul %a, %r : tensor<8xf32>, tensor<f32>
  %e = iolite.erf %s : tensor<8xf32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %b = iolite.add %e, %one : tensor<8xf32>, tensor<f32>
  %c = iolite.mul %a, %b : tensor<8xf32>, tensor<8xf32>
  %half = iolite.constant dense<0.5> : tensor<f32>
  %g = iolite.mul %c, %half : tensor<8xf32>, tensor<f32>
  %y = iolite.mul %g, %bb : tensor<8xf32>, tensor<8xf32>
  return %y : tensor<8xf32>
}

// -----

// SiLU in both forms.

// CHECK-LABEL: func @silu_forms
// CHECK-SAME: (%[[X:.*]]: tensor<8xf32>, %[[Z:.*]]: tensor<8xf32>)
// CHECK-DAG: %[[S1:.*]] = iolite.silu %[[X]] : tensor<8xf32>
// CHECK-DAG: %[[S2:.*]] = iolite.silu %[[Z]] : tensor<8xf32>
// CHECK: return %[[S1]], %[[S2]]
func.func @silu_forms(%x: tensor<8xf32>, %z: tensor<8xf32>) -> (tensor<8xf32>, tensor<8xf32>) {
  %sg = iolite.sigmoid %x : tensor<8xf32>
  %a = iolite.mul %x, %sg : tensor<8xf32>, tensor<8xf32>
  %n = iolite.neg %z : tensor<8xf32>
  %e = iolite.exp %n : tensor<8xf32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %d = iolite.add %one, %e : tensor<f32>, tensor<8xf32>
  %b = iolite.div %z, %d : tensor<8xf32>, tensor<8xf32>
  return %a, %b : tensor<8xf32>, tensor<8xf32>
}

// -----

// Near miss: the erf argument is x / 2.

// CHECK-LABEL: func @gelu_wrong_divisor
// CHECK-NOT: iolite.gelu
// REMARK: remark: not raised to iolite.gelu: the erf argument is divided by 2, not sqrt(2)
func.func @gelu_wrong_divisor(%x: tensor<8xf32>) -> tensor<8xf32> {
  %two = iolite.constant dense<2.0> : tensor<f32>
  %a = iolite.div %x, %two : tensor<8xf32>, tensor<f32>
  %e = iolite.erf %a : tensor<8xf32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %b = iolite.add %e, %one : tensor<8xf32>, tensor<f32>
  %c = iolite.mul %x, %b : tensor<8xf32>, tensor<8xf32>
  %half = iolite.constant dense<0.5> : tensor<f32>
  %y = iolite.mul %c, %half : tensor<8xf32>, tensor<f32>
  return %y : tensor<8xf32>
}

// -----

// Near miss: 0.6 instead of 0.5 outside.

// CHECK-LABEL: func @gelu_wrong_half
// CHECK-NOT: iolite.gelu
// REMARK: remark: not raised to iolite.gelu: the product's constant is 0.6, not 0.5
func.func @gelu_wrong_half(%x: tensor<8xf32>) -> tensor<8xf32> {
  %s2 = iolite.constant dense<1.41421354> : tensor<f32>
  %a = iolite.div %x, %s2 : tensor<8xf32>, tensor<f32>
  %e = iolite.erf %a : tensor<8xf32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %b = iolite.add %e, %one : tensor<8xf32>, tensor<f32>
  %c = iolite.mul %x, %b : tensor<8xf32>, tensor<8xf32>
  %k = iolite.constant dense<0.6> : tensor<f32>
  %y = iolite.mul %c, %k : tensor<8xf32>, tensor<f32>
  return %y : tensor<8xf32>
}

// -----

// Near miss: the cubic coefficient is 0.05.

// CHECK-LABEL: func @gelu_tanh_wrong_cubic
// CHECK-NOT: iolite.gelu
// REMARK: remark: not raised to iolite.gelu: the cubic term has coefficient 0.05, not 0.044715
func.func @gelu_tanh_wrong_cubic(%x: tensor<8xf32>) -> tensor<8xf32> {
  %three = iolite.constant dense<3.0> : tensor<f32>
  %x3 = iolite.pow %x, %three : tensor<8xf32>, tensor<f32>
  %k = iolite.constant dense<0.05> : tensor<f32>
  %kx3 = iolite.mul %k, %x3 : tensor<f32>, tensor<8xf32>
  %in = iolite.add %x, %kx3 : tensor<8xf32>, tensor<8xf32>
  %beta = iolite.constant dense<0.797884583> : tensor<f32>
  %arg = iolite.mul %beta, %in : tensor<f32>, tensor<8xf32>
  %t = iolite.tanh %arg : tensor<8xf32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %b = iolite.add %one, %t : tensor<f32>, tensor<8xf32>
  %c = iolite.mul %x, %b : tensor<8xf32>, tensor<8xf32>
  %half = iolite.constant dense<0.5> : tensor<f32>
  %y = iolite.mul %half, %c : tensor<f32>, tensor<8xf32>
  return %y : tensor<8xf32>
}

// -----

// Near miss: a * sigmoid(b) is a gate, not SiLU.

// CHECK-LABEL: func @sigmoid_gate
// CHECK-NOT: iolite.silu
// REMARK: remark: not raised to iolite.silu: the sigmoid's input is not the value it multiplies (a gate, not SiLU)
func.func @sigmoid_gate(%a: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<8xf32> {
  %s = iolite.sigmoid %b : tensor<8xf32>
  %y = iolite.mul %a, %s : tensor<8xf32>, tensor<8xf32>
  return %y : tensor<8xf32>
}
