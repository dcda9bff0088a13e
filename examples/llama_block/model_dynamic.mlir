// The Llama block of model.mlir with a dynamic batch and sequence length:
// one compile serves every batch of 1..64 and every length of 1..4096.
// The `?` dims of an argument name their symbol in `iolite.dims`; dims that
// share a name are the same symbol. cos/sin are the rotary tables of
// positions 0..seq-1.
func.func @llama_block(%x: tensor<?x?x32xf32> {iolite.dims = ["batch", "seq", ""]},
                       %cos: tensor<?x8xf32> {iolite.dims = ["seq", ""]},
                       %sin: tensor<?x8xf32> {iolite.dims = ["seq", ""]},
                       %input_norm: tensor<32xf32>,
                       %wq: tensor<32x32xf32>, %wk: tensor<16x32xf32>,
                       %wv: tensor<16x32xf32>, %wo: tensor<32x32xf32>,
                       %post_norm: tensor<32xf32>, %w_gate: tensor<64x32xf32>,
                       %w_up: tensor<64x32xf32>, %w_down: tensor<32x64xf32>)
    -> tensor<?x?x32xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 64>,
                                     seq = array<i64: 1, 4096>}} {
  // Attention.
  %h = iolite.rms_norm %x weight(%input_norm : tensor<32xf32>)
      {epsilon = 1.0e-06 : f32} : tensor<?x?x32xf32>
  %q = iolite.matmul %h, %wq {transpose_rhs} : tensor<?x?x32xf32>, tensor<32x32xf32>
  %k = iolite.matmul %h, %wk {transpose_rhs} : tensor<?x?x32xf32>, tensor<16x32xf32>
  %v = iolite.matmul %h, %wv {transpose_rhs} : tensor<?x?x32xf32>, tensor<16x32xf32>
  %q4 = iolite.reshape %q : tensor<?x?x32xf32> -> tensor<?x?x4x8xf32>
  %k4 = iolite.reshape %k : tensor<?x?x16xf32> -> tensor<?x?x2x8xf32>
  %v4 = iolite.reshape %v : tensor<?x?x16xf32> -> tensor<?x?x2x8xf32>
  %qh = iolite.transpose %q4 [0, 2, 1, 3] : tensor<?x?x4x8xf32>
  %kh = iolite.transpose %k4 [0, 2, 1, 3] : tensor<?x?x2x8xf32>
  %vh = iolite.transpose %v4 [0, 2, 1, 3] : tensor<?x?x2x8xf32>
  %qr = iolite.rotary %qh, %cos, %sin
      : tensor<?x4x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
  %kr = iolite.rotary %kh, %cos, %sin
      : tensor<?x2x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
  %o = iolite.attention %qr, %kr, %vh {causal}
      : tensor<?x4x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>
  %ot = iolite.transpose %o [0, 2, 1, 3] : tensor<?x4x?x8xf32>
  %o2 = iolite.reshape %ot : tensor<?x?x4x8xf32> -> tensor<?x?x32xf32>
  %attn = iolite.matmul %o2, %wo {transpose_rhs}
      : tensor<?x?x32xf32>, tensor<32x32xf32>
  %h1 = iolite.add %x, %attn : tensor<?x?x32xf32>, tensor<?x?x32xf32>

  // SwiGLU MLP.
  %n = iolite.rms_norm %h1 weight(%post_norm : tensor<32xf32>)
      {epsilon = 1.0e-06 : f32} : tensor<?x?x32xf32>
  %g = iolite.matmul %n, %w_gate {transpose_rhs}
      : tensor<?x?x32xf32>, tensor<64x32xf32>
  %u = iolite.matmul %n, %w_up {transpose_rhs}
      : tensor<?x?x32xf32>, tensor<64x32xf32>
  %gs = iolite.silu %g : tensor<?x?x64xf32>
  %gu = iolite.mul %gs, %u : tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %d = iolite.matmul %gu, %w_down {transpose_rhs}
      : tensor<?x?x64xf32>, tensor<32x64xf32>
  %y = iolite.add %h1, %d : tensor<?x?x32xf32>, tensor<?x?x32xf32>
  return %y : tensor<?x?x32xf32>
}
