// Attention kernels at the head dims and dtypes models use: prefill
// (causal, GQA) at head_dim 64 and 128 in f16, bf16 and f32, a sliding
// window with ALiBi and soft-cap, and decode (split-KV with its combine).
func.func @configs(%q64: tensor<1x8x512x64xf16>, %k64: tensor<1x2x512x64xf16>,
                   %q128: tensor<1x8x512x128xbf16>, %k128: tensor<1x2x512x128xbf16>,
                   %q32: tensor<1x4x256x128xf32>, %k32: tensor<1x4x256x128xf32>,
                   %slopes: tensor<8xf16>,
                   %qd: tensor<1x32x1x128xf16>, %kd: tensor<1x8x4096x128xf16>)
    -> (tensor<1x8x512x64xf16>, tensor<1x8x512x128xbf16>, tensor<1x4x256x128xf32>,
        tensor<1x8x512x64xf16>, tensor<1x32x1x128xf16>) {
  %a = iolite.attention %q64, %k64, %k64 {causal} : tensor<1x8x512x64xf16>, tensor<1x2x512x64xf16>, tensor<1x2x512x64xf16>
  %b = iolite.attention %q128, %k128, %k128 {causal} : tensor<1x8x512x128xbf16>, tensor<1x2x512x128xbf16>, tensor<1x2x512x128xbf16>
  %c = iolite.attention %q32, %k32, %k32 : tensor<1x4x256x128xf32>, tensor<1x4x256x128xf32>, tensor<1x4x256x128xf32>
  %d = iolite.attention %q64, %k64, %k64 alibi_slopes(%slopes : tensor<8xf16>) {causal, window = 128 : i64, softcap = 50.0 : f32} : tensor<1x8x512x64xf16>, tensor<1x2x512x64xf16>, tensor<1x2x512x64xf16>
  %e = iolite.attention %qd, %kd, %kd {causal} : tensor<1x32x1x128xf16>, tensor<1x8x4096x128xf16>, tensor<1x8x4096x128xf16>
  return %a, %b, %c, %d, %e : tensor<1x8x512x64xf16>, tensor<1x8x512x128xbf16>, tensor<1x4x256x128xf32>, tensor<1x8x512x64xf16>, tensor<1x32x1x128xf16>
}
