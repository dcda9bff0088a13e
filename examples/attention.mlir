// A small grouped-query attention layer: RMSNorm, RoPE on q and k, causal
// GQA attention (8 query heads sharing 2 kv heads).
func.func @attention(%x: tensor<1x8x16x64xf32>, %w: tensor<64xf32>,
                     %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>,
                     %cos: tensor<16x64xf32>, %sin: tensor<16x64xf32>)
    -> tensor<1x8x16x64xf32> {
  %n = iolite.rms_norm %x weight(%w : tensor<64xf32>) {epsilon = 1.0e-06 : f32}
      : tensor<1x8x16x64xf32>
  %q = iolite.rotary %n, %cos, %sin
      : tensor<1x8x16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>
  %kr = iolite.rotary %k, %cos, %sin
      : tensor<1x2x16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>
  %o = iolite.attention %q, %kr, %v {causal}
      : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>
  return %o : tensor<1x8x16x64xf32>
}
