// The Llama block of model.mlir written out the way PyTorch's ONNX exporter
// (torch 1.13, opsets 14-17) and the ONNX importer give it: RMSNorm as
// pow/mean/add/sqrt/div/mul, nn.Linear as a matmul with the transposed
// weight, rotate_half RoPE as slice/neg/concat/mul/add, repeat_kv as
// unsqueeze/expand/reshape, the scores divided by sqrt(head_dim) plus the
// finfo.min causal mask, softmax, and SiLU as x * sigmoid(x). The graph
// pipeline raises it to model.mlir's fused ops. Same inputs and expected
// output as model.mlir.
func.func @llama_block(%x: tensor<1x12x32xf32>, %cos: tensor<12x8xf32>,
                       %sin: tensor<12x8xf32>, %input_norm: tensor<32xf32>,
                       %wq: tensor<32x32xf32>, %wk: tensor<16x32xf32>,
                       %wv: tensor<16x32xf32>, %wo: tensor<32x32xf32>,
                       %post_norm: tensor<32xf32>, %w_gate: tensor<64x32xf32>,
                       %w_up: tensor<64x32xf32>, %w_down: tensor<32x64xf32>)
    -> tensor<1x12x32xf32> {
  %two = iolite.constant dense<2.0> : tensor<f32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %eps = iolite.constant dense<1.0e-6> : tensor<f32>

  // input_layernorm
  %x2 = iolite.pow %x, %two : tensor<1x12x32xf32>, tensor<f32>
  %var = iolite.reduce mean %x2 {axes = array<i64: -1>, keep_dims} : tensor<1x12x32xf32>
  %ve = iolite.add %var, %eps : tensor<1x12x1xf32>, tensor<f32>
  %sd = iolite.sqrt %ve : tensor<1x12x1xf32>
  %rs = iolite.div %one, %sd : tensor<f32>, tensor<1x12x1xf32>
  %xn = iolite.mul %x, %rs : tensor<1x12x32xf32>, tensor<1x12x1xf32>
  %h = iolite.mul %input_norm, %xn : tensor<32xf32>, tensor<1x12x32xf32>

  // q/k/v projections and heads
  %wqt = iolite.transpose %wq [1, 0] : tensor<32x32xf32>
  %q = iolite.matmul %h, %wqt : tensor<1x12x32xf32>, tensor<32x32xf32>
  %wkt = iolite.transpose %wk [1, 0] : tensor<16x32xf32>
  %k = iolite.matmul %h, %wkt : tensor<1x12x32xf32>, tensor<32x16xf32>
  %wvt = iolite.transpose %wv [1, 0] : tensor<16x32xf32>
  %v = iolite.matmul %h, %wvt : tensor<1x12x32xf32>, tensor<32x16xf32>
  %q4 = iolite.reshape %q : tensor<1x12x32xf32> -> tensor<1x12x4x8xf32>
  %qh = iolite.transpose %q4 [0, 2, 1, 3] : tensor<1x12x4x8xf32>
  %k4 = iolite.reshape %k : tensor<1x12x16xf32> -> tensor<1x12x2x8xf32>
  %kh = iolite.transpose %k4 [0, 2, 1, 3] : tensor<1x12x2x8xf32>
  %v4 = iolite.reshape %v : tensor<1x12x16xf32> -> tensor<1x12x2x8xf32>
  %vh = iolite.transpose %v4 [0, 2, 1, 3] : tensor<1x12x2x8xf32>

  // apply_rotary_pos_emb
  %c4 = iolite.reshape %cos : tensor<12x8xf32> -> tensor<1x1x12x8xf32>
  %s4 = iolite.reshape %sin : tensor<12x8xf32> -> tensor<1x1x12x8xf32>
  %qc = iolite.mul %qh, %c4 : tensor<1x4x12x8xf32>, tensor<1x1x12x8xf32>
  %q1 = iolite.slice %qh [0, 0, 0, 0] to [1, 4, 12, 4] : tensor<1x4x12x8xf32>
  %q2 = iolite.slice %qh [0, 0, 0, 4] to [1, 4, 12, 8] : tensor<1x4x12x8xf32>
  %qn = iolite.neg %q2 : tensor<1x4x12x4xf32>
  %qrot = iolite.concat %qn, %q1 {axis = -1 : i64} : tensor<1x4x12x4xf32>, tensor<1x4x12x4xf32>
  %qs = iolite.mul %qrot, %s4 : tensor<1x4x12x8xf32>, tensor<1x1x12x8xf32>
  %qr = iolite.add %qc, %qs : tensor<1x4x12x8xf32>, tensor<1x4x12x8xf32>
  %kc = iolite.mul %kh, %c4 : tensor<1x2x12x8xf32>, tensor<1x1x12x8xf32>
  %k1 = iolite.slice %kh [0, 0, 0, 0] to [1, 2, 12, 4] : tensor<1x2x12x8xf32>
  %k2 = iolite.slice %kh [0, 0, 0, 4] to [1, 2, 12, 8] : tensor<1x2x12x8xf32>
  %kn = iolite.neg %k2 : tensor<1x2x12x4xf32>
  %krot = iolite.concat %kn, %k1 {axis = -1 : i64} : tensor<1x2x12x4xf32>, tensor<1x2x12x4xf32>
  %ks = iolite.mul %krot, %s4 : tensor<1x2x12x8xf32>, tensor<1x1x12x8xf32>
  %kr = iolite.add %kc, %ks : tensor<1x2x12x8xf32>, tensor<1x2x12x8xf32>

  // repeat_kv
  %k5 = iolite.reshape %kr : tensor<1x2x12x8xf32> -> tensor<1x2x1x12x8xf32>
  %ke = iolite.broadcast %k5 : tensor<1x2x1x12x8xf32> -> tensor<1x2x2x12x8xf32>
  %kx = iolite.reshape %ke : tensor<1x2x2x12x8xf32> -> tensor<1x4x12x8xf32>
  %v5 = iolite.reshape %vh : tensor<1x2x12x8xf32> -> tensor<1x2x1x12x8xf32>
  %vb = iolite.broadcast %v5 : tensor<1x2x1x12x8xf32> -> tensor<1x2x2x12x8xf32>
  %vx = iolite.reshape %vb : tensor<1x2x2x12x8xf32> -> tensor<1x4x12x8xf32>

  // scores, causal mask, softmax, values
  %kt = iolite.transpose %kx [0, 1, 3, 2] : tensor<1x4x12x8xf32>
  %sc = iolite.matmul %qr, %kt : tensor<1x4x12x8xf32>, tensor<1x4x8x12xf32>
  %sqrt_d = iolite.constant dense<2.82842708> : tensor<f32>
  %scd = iolite.div %sc, %sqrt_d : tensor<1x4x12x12xf32>, tensor<f32>
  %causal = iolite.constant dense<[[0.0, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38],
      [0.0, 0.0, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38],
      [0.0, 0.0, 0.0, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38],
      [0.0, 0.0, 0.0, 0.0, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38],
      [0.0, 0.0, 0.0, 0.0, 0.0, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38],
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38],
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38],
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38],
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -3.40282347E+38, -3.40282347E+38, -3.40282347E+38],
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -3.40282347E+38, -3.40282347E+38],
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -3.40282347E+38],
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<12x12xf32>
  %scm = iolite.add %scd, %causal : tensor<1x4x12x12xf32>, tensor<12x12xf32>
  %p = iolite.softmax %scm {axis = -1 : i64} : tensor<1x4x12x12xf32>
  %a = iolite.matmul %p, %vx : tensor<1x4x12x12xf32>, tensor<1x4x12x8xf32>
  %at = iolite.transpose %a [0, 2, 1, 3] : tensor<1x4x12x8xf32>
  %ar = iolite.reshape %at : tensor<1x12x4x8xf32> -> tensor<1x12x32xf32>
  %wot = iolite.transpose %wo [1, 0] : tensor<32x32xf32>
  %o = iolite.matmul %ar, %wot : tensor<1x12x32xf32>, tensor<32x32xf32>
  %h1 = iolite.add %x, %o : tensor<1x12x32xf32>, tensor<1x12x32xf32>

  // post_attention_layernorm
  %y2 = iolite.pow %h1, %two : tensor<1x12x32xf32>, tensor<f32>
  %var2 = iolite.reduce mean %y2 {axes = array<i64: -1>, keep_dims} : tensor<1x12x32xf32>
  %ve2 = iolite.add %var2, %eps : tensor<1x12x1xf32>, tensor<f32>
  %sd2 = iolite.sqrt %ve2 : tensor<1x12x1xf32>
  %rs2 = iolite.div %one, %sd2 : tensor<f32>, tensor<1x12x1xf32>
  %hn = iolite.mul %h1, %rs2 : tensor<1x12x32xf32>, tensor<1x12x1xf32>
  %n = iolite.mul %post_norm, %hn : tensor<32xf32>, tensor<1x12x32xf32>

  // SwiGLU MLP
  %wgt = iolite.transpose %w_gate [1, 0] : tensor<64x32xf32>
  %g = iolite.matmul %n, %wgt : tensor<1x12x32xf32>, tensor<32x64xf32>
  %gsig = iolite.sigmoid %g : tensor<1x12x64xf32>
  %gs = iolite.mul %g, %gsig : tensor<1x12x64xf32>, tensor<1x12x64xf32>
  %wut = iolite.transpose %w_up [1, 0] : tensor<64x32xf32>
  %u = iolite.matmul %n, %wut : tensor<1x12x32xf32>, tensor<32x64xf32>
  %gu = iolite.mul %gs, %u : tensor<1x12x64xf32>, tensor<1x12x64xf32>
  %wdt = iolite.transpose %w_down [1, 0] : tensor<32x64xf32>
  %d = iolite.matmul %gu, %wdt : tensor<1x12x64xf32>, tensor<64x32xf32>
  %y = iolite.add %h1, %d : tensor<1x12x32xf32>, tensor<1x12x32xf32>
  return %y : tensor<1x12x32xf32>
}
