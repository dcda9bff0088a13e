// A Llama-style decoder block (transformers' LlamaDecoderLayer): RMSNorm,
// q/k/v projections, RoPE (rotate_half), causal grouped-query attention
// (4 query heads share 2 kv heads), the output projection and residual,
// then RMSNorm and the SwiGLU MLP with its residual. Weights are arguments,
// laid out as torch.nn.Linear stores them ([out, in]); cos/sin are the
// rotary tables of positions 0..11. Inputs and the PyTorch output:
// examples/gen_examples.py.
func.func @llama_block(%x: tensor<1x12x32xf32>, %cos: tensor<12x8xf32>,
                       %sin: tensor<12x8xf32>, %input_norm: tensor<32xf32>,
                       %wq: tensor<32x32xf32>, %wk: tensor<16x32xf32>,
                       %wv: tensor<16x32xf32>, %wo: tensor<32x32xf32>,
                       %post_norm: tensor<32xf32>, %w_gate: tensor<64x32xf32>,
                       %w_up: tensor<64x32xf32>, %w_down: tensor<32x64xf32>)
    -> tensor<1x12x32xf32> {
  // Attention.
  %h = iolite.rms_norm %x weight(%input_norm : tensor<32xf32>)
      {epsilon = 1.0e-06 : f32} : tensor<1x12x32xf32>
  %q = iolite.matmul %h, %wq {transpose_rhs} : tensor<1x12x32xf32>, tensor<32x32xf32>
  %k = iolite.matmul %h, %wk {transpose_rhs} : tensor<1x12x32xf32>, tensor<16x32xf32>
  %v = iolite.matmul %h, %wv {transpose_rhs} : tensor<1x12x32xf32>, tensor<16x32xf32>
  %q4 = iolite.reshape %q : tensor<1x12x32xf32> -> tensor<1x12x4x8xf32>
  %k4 = iolite.reshape %k : tensor<1x12x16xf32> -> tensor<1x12x2x8xf32>
  %v4 = iolite.reshape %v : tensor<1x12x16xf32> -> tensor<1x12x2x8xf32>
  %qh = iolite.transpose %q4 [0, 2, 1, 3] : tensor<1x12x4x8xf32>
  %kh = iolite.transpose %k4 [0, 2, 1, 3] : tensor<1x12x2x8xf32>
  %vh = iolite.transpose %v4 [0, 2, 1, 3] : tensor<1x12x2x8xf32>
  %qr = iolite.rotary %qh, %cos, %sin
      : tensor<1x4x12x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>
  %kr = iolite.rotary %kh, %cos, %sin
      : tensor<1x2x12x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>
  %o = iolite.attention %qr, %kr, %vh {causal}
      : tensor<1x4x12x8xf32>, tensor<1x2x12x8xf32>, tensor<1x2x12x8xf32>
  %ot = iolite.transpose %o [0, 2, 1, 3] : tensor<1x4x12x8xf32>
  %o2 = iolite.reshape %ot : tensor<1x12x4x8xf32> -> tensor<1x12x32xf32>
  %attn = iolite.matmul %o2, %wo {transpose_rhs}
      : tensor<1x12x32xf32>, tensor<32x32xf32>
  %h1 = iolite.add %x, %attn : tensor<1x12x32xf32>, tensor<1x12x32xf32>

  // SwiGLU MLP.
  %n = iolite.rms_norm %h1 weight(%post_norm : tensor<32xf32>)
      {epsilon = 1.0e-06 : f32} : tensor<1x12x32xf32>
  %g = iolite.matmul %n, %w_gate {transpose_rhs}
      : tensor<1x12x32xf32>, tensor<64x32xf32>
  %u = iolite.matmul %n, %w_up {transpose_rhs}
      : tensor<1x12x32xf32>, tensor<64x32xf32>
  %gs = iolite.silu %g : tensor<1x12x64xf32>
  %gu = iolite.mul %gs, %u : tensor<1x12x64xf32>, tensor<1x12x64xf32>
  %d = iolite.matmul %gu, %w_down {transpose_rhs}
      : tensor<1x12x64xf32>, tensor<32x64xf32>
  %y = iolite.add %h1, %d : tensor<1x12x32xf32>, tensor<1x12x32xf32>
  return %y : tensor<1x12x32xf32>
}
