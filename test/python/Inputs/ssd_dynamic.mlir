// A Mamba-2 SSD layer core with symbolic batch and sequence: one chunked
// SSD kernel whose grid and chunk loop follow the call's sizes.
func.func @ssd_block(%x: tensor<?x?x4x8xf32> {iolite.dims = ["batch", "seq", "", ""]},
                     %dt: tensor<?x?x4xf32> {iolite.dims = ["batch", "seq", ""]},
                     %a: tensor<4xf32>,
                     %b: tensor<?x?x2x8xf32> {iolite.dims = ["batch", "seq", "", ""]},
                     %c: tensor<?x?x2x8xf32> {iolite.dims = ["batch", "seq", "", ""]},
                     %d: tensor<4xf32>, %dt_bias: tensor<4xf32>)
    -> tensor<?x?x4x8xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 4>,
                                     seq = array<i64: 1, 64>}} {
  %y = iolite.ssd %x, %dt, %a, %b, %c D(%d : tensor<4xf32>)
      dt_bias(%dt_bias : tensor<4xf32>) {chunk_size = 16 : i64, dt_softplus}
      : tensor<?x?x4x8xf32>, tensor<?x?x4xf32>, tensor<4xf32>,
        tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>
  return %y : tensor<?x?x4x8xf32>
}
