// model_decomposed.mlir with a dynamic batch and sequence length (bounds as
// model_dynamic.mlir's): the block as PyTorch code has it, raised by the
// graph pipeline into the fused ops and kernels of model_dynamic.mlir. The
// causal mask is built at the call's length from positions (iolite.iota),
// the way transformers builds it, so one compile serves every length.
// Reshapes whose symbolic dims their input does not decide name them in
// iolite.dims; slices keep symbolic dims whole (limit INT64_MAX).
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
  %two = iolite.constant dense<2.0> : tensor<f32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %eps = iolite.constant dense<1.0e-6> : tensor<f32>

  // input_layernorm
  %x2 = iolite.pow %x, %two : tensor<?x?x32xf32>, tensor<f32>
  %var = iolite.reduce mean %x2 {axes = array<i64: -1>, keep_dims} : tensor<?x?x32xf32>
  %ve = iolite.add %var, %eps : tensor<?x?x1xf32>, tensor<f32>
  %sd = iolite.sqrt %ve : tensor<?x?x1xf32>
  %rs = iolite.div %one, %sd : tensor<f32>, tensor<?x?x1xf32>
  %xn = iolite.mul %x, %rs : tensor<?x?x32xf32>, tensor<?x?x1xf32>
  %h = iolite.mul %input_norm, %xn : tensor<32xf32>, tensor<?x?x32xf32>

  // q/k/v projections and heads
  %wqt = iolite.transpose %wq [1, 0] : tensor<32x32xf32>
  %q = iolite.matmul %h, %wqt : tensor<?x?x32xf32>, tensor<32x32xf32>
  %wkt = iolite.transpose %wk [1, 0] : tensor<16x32xf32>
  %k = iolite.matmul %h, %wkt : tensor<?x?x32xf32>, tensor<32x16xf32>
  %wvt = iolite.transpose %wv [1, 0] : tensor<16x32xf32>
  %v = iolite.matmul %h, %wvt : tensor<?x?x32xf32>, tensor<32x16xf32>
  %q4 = iolite.reshape %q : tensor<?x?x32xf32> -> tensor<?x?x4x8xf32>
  %qh = iolite.transpose %q4 [0, 2, 1, 3] : tensor<?x?x4x8xf32>
  %k4 = iolite.reshape %k : tensor<?x?x16xf32> -> tensor<?x?x2x8xf32>
  %kh = iolite.transpose %k4 [0, 2, 1, 3] : tensor<?x?x2x8xf32>
  %v4 = iolite.reshape %v : tensor<?x?x16xf32> -> tensor<?x?x2x8xf32>
  %vh = iolite.transpose %v4 [0, 2, 1, 3] : tensor<?x?x2x8xf32>

  // apply_rotary_pos_emb
  %c4 = iolite.reshape %cos : tensor<?x8xf32> -> tensor<1x1x?x8xf32>
  %s4 = iolite.reshape %sin : tensor<?x8xf32> -> tensor<1x1x?x8xf32>
  %qc = iolite.mul %qh, %c4 : tensor<?x4x?x8xf32>, tensor<1x1x?x8xf32>
  %q1 = iolite.slice %qh [0, 0, 0, 0] to [9223372036854775807, 4, 9223372036854775807, 4] : tensor<?x4x?x8xf32>
  %q2 = iolite.slice %qh [0, 0, 0, 4] to [9223372036854775807, 4, 9223372036854775807, 8] : tensor<?x4x?x8xf32>
  %qn = iolite.neg %q2 : tensor<?x4x?x4xf32>
  %qrot = iolite.concat %qn, %q1 {axis = -1 : i64} : tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>
  %qs = iolite.mul %qrot, %s4 : tensor<?x4x?x8xf32>, tensor<1x1x?x8xf32>
  %qr = iolite.add %qc, %qs : tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>
  %kc = iolite.mul %kh, %c4 : tensor<?x2x?x8xf32>, tensor<1x1x?x8xf32>
  %k1 = iolite.slice %kh [0, 0, 0, 0] to [9223372036854775807, 2, 9223372036854775807, 4] : tensor<?x2x?x8xf32>
  %k2 = iolite.slice %kh [0, 0, 0, 4] to [9223372036854775807, 2, 9223372036854775807, 8] : tensor<?x2x?x8xf32>
  %kn = iolite.neg %k2 : tensor<?x2x?x4xf32>
  %krot = iolite.concat %kn, %k1 {axis = -1 : i64} : tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
  %ks = iolite.mul %krot, %s4 : tensor<?x2x?x8xf32>, tensor<1x1x?x8xf32>
  %kr = iolite.add %kc, %ks : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>

  // repeat_kv
  %k5 = iolite.reshape %kr : tensor<?x2x?x8xf32> -> tensor<?x2x1x?x8xf32>
  %ke = iolite.broadcast %k5 : tensor<?x2x1x?x8xf32> -> tensor<?x2x2x?x8xf32>
  %kx = iolite.reshape %ke : tensor<?x2x2x?x8xf32> -> tensor<?x4x?x8xf32>
  %v5 = iolite.reshape %vh : tensor<?x2x?x8xf32> -> tensor<?x2x1x?x8xf32>
  %vb = iolite.broadcast %v5 : tensor<?x2x1x?x8xf32> -> tensor<?x2x2x?x8xf32>
  %vx = iolite.reshape %vb : tensor<?x2x2x?x8xf32> -> tensor<?x4x?x8xf32>

  // scores, causal mask, softmax, values
  %kt = iolite.transpose %kx [0, 1, 3, 2] : tensor<?x4x?x8xf32>
  %sc = iolite.matmul %qr, %kt : tensor<?x4x?x8xf32>, tensor<?x4x8x?xf32>
  %sqrt_d = iolite.constant dense<2.82842708> : tensor<f32>
  %scd = iolite.div %sc, %sqrt_d : tensor<?x4x?x?xf32>, tensor<f32>
  // The causal mask at the call's length: key j is visible to query i
  // iff j <= i, i.e. select(pos_i >= pos_j, 0, finfo.min) as
  // transformers' masked_fill builds it, from positions 0..seq-1.
  %pos = iolite.iota %x {axis = 1 : i64} : tensor<?x?x32xf32>
  %pos_i = iolite.reshape %pos {iolite.dims = ["seq", ""]} : tensor<?xi64> -> tensor<?x1xi64>
  %keep = iolite.compare ge %pos_i, %pos : tensor<?x1xi64>, tensor<?xi64>
  %zero = iolite.constant dense<0.0> : tensor<f32>
  %fmin = iolite.constant dense<-3.40282347E+38> : tensor<f32>
  %causal = iolite.select %keep, %zero, %fmin : tensor<?x?xi1>, tensor<f32>, tensor<f32>
  %scm = iolite.add %scd, %causal : tensor<?x4x?x?xf32>, tensor<?x?xf32>
  %p = iolite.softmax %scm {axis = -1 : i64} : tensor<?x4x?x?xf32>
  %a = iolite.matmul %p, %vx : tensor<?x4x?x?xf32>, tensor<?x4x?x8xf32>
  %at = iolite.transpose %a [0, 2, 1, 3] : tensor<?x4x?x8xf32>
  %ar = iolite.reshape %at : tensor<?x?x4x8xf32> -> tensor<?x?x32xf32>
  %wot = iolite.transpose %wo [1, 0] : tensor<32x32xf32>
  %o = iolite.matmul %ar, %wot : tensor<?x?x32xf32>, tensor<32x32xf32>
  %h1 = iolite.add %x, %o : tensor<?x?x32xf32>, tensor<?x?x32xf32>

  // post_attention_layernorm
  %y2 = iolite.pow %h1, %two : tensor<?x?x32xf32>, tensor<f32>
  %var2 = iolite.reduce mean %y2 {axes = array<i64: -1>, keep_dims} : tensor<?x?x32xf32>
  %ve2 = iolite.add %var2, %eps : tensor<?x?x1xf32>, tensor<f32>
  %sd2 = iolite.sqrt %ve2 : tensor<?x?x1xf32>
  %rs2 = iolite.div %one, %sd2 : tensor<f32>, tensor<?x?x1xf32>
  %hn = iolite.mul %h1, %rs2 : tensor<?x?x32xf32>, tensor<?x?x1xf32>
  %n = iolite.mul %post_norm, %hn : tensor<32xf32>, tensor<?x?x32xf32>

  // SwiGLU MLP
  %wgt = iolite.transpose %w_gate [1, 0] : tensor<64x32xf32>
  %g = iolite.matmul %n, %wgt : tensor<?x?x32xf32>, tensor<32x64xf32>
  %gsig = iolite.sigmoid %g : tensor<?x?x64xf32>
  %gs = iolite.mul %g, %gsig : tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %wut = iolite.transpose %w_up [1, 0] : tensor<64x32xf32>
  %u = iolite.matmul %n, %wut : tensor<?x?x32xf32>, tensor<32x64xf32>
  %gu = iolite.mul %gs, %u : tensor<?x?x64xf32>, tensor<?x?x64xf32>
  %wdt = iolite.transpose %w_down [1, 0] : tensor<32x64xf32>
  %d = iolite.matmul %gu, %wdt : tensor<?x?x64xf32>, tensor<64x32xf32>
  %y = iolite.add %h1, %d : tensor<?x?x32xf32>, tensor<?x?x32xf32>
  return %y : tensor<?x?x32xf32>
}
