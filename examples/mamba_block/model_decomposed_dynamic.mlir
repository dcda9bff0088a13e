// model_decomposed.mlir with a dynamic batch and sequence length (bounds as
// model_dynamic.mlir's): the steps around the scan written out as
// mamba_ssm's reference code has them raise and fuse into the same kernels
// as model_dynamic.mlir's fused ops. Slices keep the symbolic dims whole
// (limit 9223372036854775807, to the end).
func.func @mamba_block(%x: tensor<?x?x16xf32> {iolite.dims = ["batch", "seq", ""]},
                       %w_in: tensor<64x16xf32>, %conv_w: tensor<32x4xf32>,
                       %conv_b: tensor<32xf32>,
                       %w_x: tensor<18x32xf32>, %w_dt: tensor<32x2xf32>,
                       %dt_bias: tensor<32xf32>, %a_log: tensor<32x8xf32>,
                       %d: tensor<32xf32>, %w_out: tensor<16x32xf32>)
    -> tensor<?x?x16xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 16>,
                                     seq = array<i64: 1, 2048>}} {
  %w_in_t = iolite.transpose %w_in [1, 0] : tensor<64x16xf32>
  %xz = iolite.matmul %x, %w_in_t : tensor<?x?x16xf32>, tensor<16x64xf32>
  %xz_t = iolite.transpose %xz [0, 2, 1] : tensor<?x?x64xf32>
  %xs = iolite.slice %xz_t [0, 0, 0] to [9223372036854775807, 32, 9223372036854775807] : tensor<?x64x?xf32>
  %z = iolite.slice %xz_t [0, 32, 0] to [9223372036854775807, 64, 9223372036854775807] : tensor<?x64x?xf32>
  %conv = iolite.conv1d %xs, %conv_w bias(%conv_b : tensor<32xf32>)
      : tensor<?x32x?xf32>, tensor<32x4xf32>
  %conv_sig = iolite.sigmoid %conv : tensor<?x32x?xf32>
  %xc = iolite.mul %conv, %conv_sig : tensor<?x32x?xf32>, tensor<?x32x?xf32>

  // x_proj, split into dt, B, C; dt_proj
  %xc_t = iolite.transpose %xc [0, 2, 1] : tensor<?x32x?xf32>
  %w_x_t = iolite.transpose %w_x [1, 0] : tensor<18x32xf32>
  %x_dbl = iolite.matmul %xc_t, %w_x_t : tensor<?x?x32xf32>, tensor<32x18xf32>
  %dt_in = iolite.slice %x_dbl [0, 0, 0] to [9223372036854775807, 9223372036854775807, 2] : tensor<?x?x18xf32>
  %b = iolite.slice %x_dbl [0, 0, 2] to [9223372036854775807, 9223372036854775807, 10] : tensor<?x?x18xf32>
  %c = iolite.slice %x_dbl [0, 0, 10] to [9223372036854775807, 9223372036854775807, 18] : tensor<?x?x18xf32>
  %w_dt_t = iolite.transpose %w_dt [1, 0] : tensor<32x2xf32>
  %dt_l = iolite.matmul %dt_in, %w_dt_t : tensor<?x?x2xf32>, tensor<2x32xf32>
  %dt = iolite.transpose %dt_l [0, 2, 1] : tensor<?x?x32xf32>
  %bias = iolite.reshape %dt_bias : tensor<32xf32> -> tensor<32x1xf32>
  %dt_b = iolite.add %dt, %bias : tensor<?x32x?xf32>, tensor<32x1xf32>
  %delta = iolite.softplus %dt_b : tensor<?x32x?xf32>
  %bt = iolite.transpose %b [0, 2, 1] : tensor<?x?x8xf32>
  %ct = iolite.transpose %c [0, 2, 1] : tensor<?x?x8xf32>
  %ea = iolite.exp %a_log : tensor<32x8xf32>
  %a = iolite.neg %ea : tensor<32x8xf32>

  // the recurrence, the D skip and the z gate
  %y = iolite.selective_scan %xc, %delta, %a, %bt, %ct
      : tensor<?x32x?xf32>, tensor<?x32x?xf32>, tensor<32x8xf32>, tensor<?x8x?xf32>, tensor<?x8x?xf32>
  %d2 = iolite.reshape %d : tensor<32xf32> -> tensor<32x1xf32>
  %du = iolite.mul %xc, %d2 : tensor<?x32x?xf32>, tensor<32x1xf32>
  %yd = iolite.add %y, %du : tensor<?x32x?xf32>, tensor<?x32x?xf32>
  %z_sig = iolite.sigmoid %z : tensor<?x32x?xf32>
  %z_act = iolite.mul %z, %z_sig : tensor<?x32x?xf32>, tensor<?x32x?xf32>
  %yg = iolite.mul %yd, %z_act : tensor<?x32x?xf32>, tensor<?x32x?xf32>

  %yt = iolite.transpose %yg [0, 2, 1] : tensor<?x32x?xf32>
  %w_out_t = iolite.transpose %w_out [1, 0] : tensor<16x32xf32>
  %out = iolite.matmul %yt, %w_out_t : tensor<?x?x32xf32>, tensor<32x16xf32>
  return %out : tensor<?x?x16xf32>
}
