// A Mamba block (mamba_ssm's Mamba, reference selective scan): in_proj to x
// and the gate z, the causal depthwise conv1d with SiLU, x_proj to dt, B and
// C, dt_proj (its bias is the scan's delta_bias, through softplus), the
// selective scan with D and the SiLU(z) gate, and out_proj. A = -exp(A_log).
// d_model 16, d_inner 32, d_state 8, dt_rank 2, d_conv 4, 13 positions.
// Inputs and the PyTorch output: examples/gen_examples.py.
func.func @mamba_block(%x: tensor<1x13x16xf32>, %w_in: tensor<64x16xf32>,
                       %conv_w: tensor<32x4xf32>, %conv_b: tensor<32xf32>,
                       %w_x: tensor<18x32xf32>, %w_dt: tensor<32x2xf32>,
                       %dt_bias: tensor<32xf32>, %a_log: tensor<32x8xf32>,
                       %d: tensor<32xf32>, %w_out: tensor<16x32xf32>)
    -> tensor<1x13x16xf32> {
  %xz = iolite.matmul %x, %w_in {transpose_rhs}
      : tensor<1x13x16xf32>, tensor<64x16xf32>
  %xz_t = iolite.transpose %xz [0, 2, 1] : tensor<1x13x64xf32>
  %xs = iolite.slice %xz_t [0, 0, 0] to [1, 32, 13] : tensor<1x64x13xf32>
  %z = iolite.slice %xz_t [0, 32, 0] to [1, 64, 13] : tensor<1x64x13xf32>
  %xc = iolite.conv1d %xs, %conv_w bias(%conv_b : tensor<32xf32>)
      activation = silu : tensor<1x32x13xf32>, tensor<32x4xf32>

  // Input-dependent dt, B and C.
  %xc_t = iolite.transpose %xc [0, 2, 1] : tensor<1x32x13xf32>
  %x_dbl = iolite.matmul %xc_t, %w_x {transpose_rhs}
      : tensor<1x13x32xf32>, tensor<18x32xf32>
  %dt_in = iolite.slice %x_dbl [0, 0, 0] to [1, 13, 2] : tensor<1x13x18xf32>
  %b = iolite.slice %x_dbl [0, 0, 2] to [1, 13, 10] : tensor<1x13x18xf32>
  %c = iolite.slice %x_dbl [0, 0, 10] to [1, 13, 18] : tensor<1x13x18xf32>
  // dt_proj.weight @ dt^T: [32, 2] x [1, 13, 2]^T = [1, 32, 13].
  %dt = iolite.matmul %w_dt, %dt_in {transpose_rhs}
      : tensor<32x2xf32>, tensor<1x13x2xf32>
  %bt = iolite.transpose %b [0, 2, 1] : tensor<1x13x8xf32>
  %ct = iolite.transpose %c [0, 2, 1] : tensor<1x13x8xf32>
  %ea = iolite.exp %a_log : tensor<32x8xf32>
  %a = iolite.neg %ea : tensor<32x8xf32>

  %y = iolite.selective_scan %xc, %dt, %a, %bt, %ct D(%d : tensor<32xf32>)
      z(%z : tensor<1x32x13xf32>) delta_bias(%dt_bias : tensor<32xf32>)
      {delta_softplus} : tensor<1x32x13xf32>, tensor<1x32x13xf32>,
      tensor<32x8xf32>, tensor<1x8x13xf32>, tensor<1x8x13xf32>
  %yt = iolite.transpose %y [0, 2, 1] : tensor<1x32x13xf32>
  %out = iolite.matmul %yt, %w_out {transpose_rhs}
      : tensor<1x13x32xf32>, tensor<16x32xf32>
  return %out : tensor<1x13x16xf32>
}
