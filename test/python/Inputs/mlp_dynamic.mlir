// RMSNorm + SwiGLU + residual, and softmax(x) * tanh(x), over symbolic
// batch and sequence dims (test_dynamic_bundles.py).
func.func @mlp(%x: tensor<?x?x32xf32> {iolite.dims = ["batch", "seq", ""]},
               %post_norm: tensor<32xf32>, %w_gate: tensor<64x32xf32>,
               %w_up: tensor<64x32xf32>, %w_down: tensor<32x64xf32>)
    -> (tensor<?x?x32xf32>, tensor<?x?x32xf32>)
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 4>,
                                     seq = array<i64: 1, 64>}} {
  %n = iolite.rms_norm %x weight(%post_norm : tensor<32xf32>)
      {epsilon = 1.0e-06 : f32} : tensor<?x?x32xf32>
  %g = iolite.matmul %n, %w_gate {transpose_rhs}
      : tensor<?x?x32xf32>, tensor<64x32xf32>
  %u = iolite.matmul %n, %w_up {transpose_rhs}
      : tensor<?x?x32xf32>, tensor<64x32xf32>
  %gs = iolite.silu %g : tensor<?x?x64xf32>
  %gu = iolite.mul %gs, %u : tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %d = iolite.matmul %gu, %w_down {transpose_rhs}
      : tensor<?x?x64xf32>, tensor<32x64xf32>
  %y = iolite.add %x, %d : tensor<?x?x32xf32>, tensor<?x?x32xf32>
  %s = iolite.softmax %x {axis = -1 : i64} : tensor<?x?x32xf32>
  %t = iolite.tanh %x : tensor<?x?x32xf32>
  %z = iolite.mul %s, %t : tensor<?x?x32xf32>, tensor<?x?x32xf32>
  return %y, %z : tensor<?x?x32xf32>, tensor<?x?x32xf32>
}
