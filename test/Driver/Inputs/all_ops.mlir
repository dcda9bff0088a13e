// One kernel per op family the three example model kinds (transformer,
// state-space, mixture of experts) use, each in its unfused form.
func.func @all_ops(%x: tensor<1x16x64xf16>, %w: tensor<64xf16>, %wq: tensor<64x64xf16>,
                   %cos: tensor<16x16xf16>, %sin: tensor<16x16xf16>,
                   %u: tensor<1x32x16xf32>, %cw: tensor<32x4xf32>, %cb: tensor<32xf32>,
                   %dt: tensor<1x32x16xf32>, %A: tensor<32x8xf32>, %B: tensor<1x8x16xf32>, %C: tensor<1x8x16xf32>,
                   %sx: tensor<1x16x4x8xf32>, %sdt: tensor<1x16x4xf32>, %sA: tensor<4xf32>, %sB: tensor<1x16x1x8xf32>, %sC: tensor<1x16x1x8xf32>,
                   %logits: tensor<16x8xf32>, %tok: tensor<16x64xf32>, %ew: tensor<8x64x32xf32>,
                   %ids: tensor<2x8xi64>, %table: tensor<100x64xf32>, %filt: tensor<32x16xf32>)
    -> (tensor<1x16x64xf16>, tensor<1x4x16x16xf16>, tensor<1x32x16xf32>, tensor<1x16x4x8xf32>,
        tensor<16x32xf32>, tensor<2x8x64xf32>, tensor<16x8xf32>, tensor<1x32x16xf32>,
        tensor<1x16x64xf16>, tensor<1x16xf16>, tensor<16x2xi64>, tensor<2x8xi64>) {
  %n = iolite.rms_norm %x weight(%w : tensor<64xf16>) : tensor<1x16x64xf16>
  %q = iolite.matmul %n, %wq : tensor<1x16x64xf16>, tensor<64x64xf16>
  %q4 = iolite.reshape %q : tensor<1x16x64xf16> -> tensor<1x16x4x16xf16>
  %qt = iolite.transpose %q4 [0, 2, 1, 3] : tensor<1x16x4x16xf16>
  %qr = iolite.rotary %qt, %cos, %sin : tensor<1x4x16x16xf16>, tensor<16x16xf16>, tensor<16x16xf16>
  %att = iolite.attention %qr, %qr, %qr {causal} : tensor<1x4x16x16xf16>, tensor<1x4x16x16xf16>, tensor<1x4x16x16xf16>
  %cv = iolite.conv1d %u, %cw bias(%cb : tensor<32xf32>) activation = silu : tensor<1x32x16xf32>, tensor<32x4xf32>
  %ss = iolite.selective_scan %cv, %dt, %A, %B, %C {delta_softplus} : tensor<1x32x16xf32>, tensor<1x32x16xf32>, tensor<32x8xf32>, tensor<1x8x16xf32>, tensor<1x8x16xf32>
  %sd = iolite.ssd %sx, %sdt, %sA, %sB, %sC {chunk_size = 8 : i64} : tensor<1x16x4x8xf32>, tensor<1x16x4xf32>, tensor<4xf32>, tensor<1x16x1x8xf32>, tensor<1x16x1x8xf32>
  %rw, %rid = iolite.router %logits {k = 2 : i64, renormalize} : tensor<16x8xf32>
  %xs, %rows, %offs = iolite.dispatch %tok, %rid {num_experts = 8 : i64} : tensor<16x64xf32>, tensor<16x2xi32>
  %h = iolite.grouped_matmul %xs, %ew, %offs : tensor<32x64xf32>, tensor<8x64x32xf32>, tensor<9xi32>
  %y = iolite.combine %h, %rows, %rw : tensor<32x32xf32>, tensor<32xi32>, tensor<16x2xf32>
  %e = iolite.gather %table[%ids] {axis = 0 : i64} : tensor<100x64xf32>, tensor<2x8xi64>
  %sm = iolite.softmax %logits : tensor<16x8xf32>
  %lc = iolite.long_conv %u, %filt : tensor<1x32x16xf32>, tensor<32x16xf32>
  %ln = iolite.layer_norm %x : tensor<1x16x64xf16>
  %r = iolite.reduce max %x {axes = array<i64: -1>} : tensor<1x16x64xf16>
  %cs = iolite.cumsum %ids {axis = 1 : i64} : tensor<2x8xi64>
  %tv, %ti = iolite.top_k %logits {k = 2 : i64} : tensor<16x8xf32>
  return %n, %att, %ss, %sd, %y, %e, %sm, %lc, %ln, %r, %ti, %cs
      : tensor<1x16x64xf16>, tensor<1x4x16x16xf16>, tensor<1x32x16xf32>, tensor<1x16x4x8xf32>,
        tensor<16x32xf32>, tensor<2x8x64xf32>, tensor<16x8xf32>, tensor<1x32x16xf32>,
        tensor<1x16x64xf16>, tensor<1x16xf16>, tensor<16x2xi64>, tensor<2x8xi64>
}
