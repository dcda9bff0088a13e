// The Mamba block of model.mlir with a dynamic batch and sequence length:
// the causal conv1d and the selective scan run over whatever length a call
// brings. Slices that keep every position of a dynamic dim take it to its
// end (the limit 9223372036854775807, INT64_MAX).
func.func @mamba_block(%x: tensor<?x?x16xf32> {iolite.dims = ["batch", "seq", ""]},
                       %w_in: tensor<64x16xf32>,
                       %conv_w: tensor<32x4xf32>, %conv_b: tensor<32xf32>,
                       %w_x: tensor<18x32xf32>, %w_dt: tensor<32x2xf32>,
                       %dt_bias: tensor<32xf32>, %a_log: tensor<32x8xf32>,
                       %d: tensor<32xf32>, %w_out: tensor<16x32xf32>)
    -> tensor<?x?x16xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 16>,
                                     seq = array<i64: 1, 2048>}} {
  %xz = iolite.matmul %x, %w_in {transpose_rhs}
      : tensor<?x?x16xf32>, tensor<64x16xf32>
  %xz_t = iolite.transpose %xz [0, 2, 1] : tensor<?x?x64xf32>
  %xs = iolite.slice %xz_t [0, 0, 0] to [9223372036854775807, 32, 9223372036854775807]
      : tensor<?x64x?xf32>
  %z = iolite.slice %xz_t [0, 32, 0] to [9223372036854775807, 64, 9223372036854775807]
      : tensor<?x64x?xf32>
  %xc = iolite.conv1d %xs, %conv_w bias(%conv_b : tensor<32xf32>)
      activation = silu : tensor<?x32x?xf32>, tensor<32x4xf32>

  // Input-dependent dt, B and C.
  %xc_t = iolite.transpose %xc [0, 2, 1] : tensor<?x32x?xf32>
  %x_dbl = iolite.matmul %xc_t, %w_x {transpose_rhs}
      : tensor<?x?x32xf32>, tensor<18x32xf32>
  %dt_in = iolite.slice %x_dbl [0, 0, 0] to [9223372036854775807, 9223372036854775807, 2]
      : tensor<?x?x18xf32>
  %b = iolite.slice %x_dbl [0, 0, 2] to [9223372036854775807, 9223372036854775807, 10]
      : tensor<?x?x18xf32>
  %c = iolite.slice %x_dbl [0, 0, 10] to [9223372036854775807, 9223372036854775807, 18]
      : tensor<?x?x18xf32>
  // dt_proj over the sequence-major projection, [batch, seq, 2] x [32, 2]^T,
  // then moved to the scan's [batch, 32, seq] (the scan reads it with
  // channel-fastest loads).
  %dt_l = iolite.matmul %dt_in, %w_dt {transpose_rhs}
      : tensor<?x?x2xf32>, tensor<32x2xf32>
  %dt = iolite.transpose %dt_l [0, 2, 1] : tensor<?x?x32xf32>
  %bt = iolite.transpose %b [0, 2, 1] : tensor<?x?x8xf32>
  %ct = iolite.transpose %c [0, 2, 1] : tensor<?x?x8xf32>
  %ea = iolite.exp %a_log : tensor<32x8xf32>
  %a = iolite.neg %ea : tensor<32x8xf32>

  %y = iolite.selective_scan %xc, %dt, %a, %bt, %ct D(%d : tensor<32xf32>)
      z(%z : tensor<?x32x?xf32>) delta_bias(%dt_bias : tensor<32xf32>)
      {delta_softplus} : tensor<?x32x?xf32>, tensor<?x32x?xf32>,
      tensor<32x8xf32>, tensor<?x8x?xf32>, tensor<?x8x?xf32>
  %yt = iolite.transpose %y [0, 2, 1] : tensor<?x32x?xf32>
  %out = iolite.matmul %yt, %w_out {transpose_rhs}
      : tensor<?x?x32xf32>, tensor<16x32xf32>
  return %out : tensor<?x?x16xf32>
}
