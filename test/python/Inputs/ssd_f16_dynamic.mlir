// The f16 SSD of ssd_dynamic.mlir on the matrix units (mma.sync, MFMA),
// bound 300: several chunks of 64 and a ragged last one.
func.func @ssd_block(%x: tensor<?x?x4x16xf16> {iolite.dims = ["batch", "seq", "", ""]},
                     %dt: tensor<?x?x4xf16> {iolite.dims = ["batch", "seq", ""]},
                     %a: tensor<4xf32>,
                     %b: tensor<?x?x2x16xf16> {iolite.dims = ["batch", "seq", "", ""]},
                     %c: tensor<?x?x2x16xf16> {iolite.dims = ["batch", "seq", "", ""]})
    -> tensor<?x?x4x16xf16>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 4>,
                                     seq = array<i64: 1, 300>}} {
  %y = iolite.ssd %x, %dt, %a, %b, %c {chunk_size = 64 : i64, dt_softplus}
      : tensor<?x?x4x16xf16>, tensor<?x?x4xf16>, tensor<4xf32>,
        tensor<?x?x2x16xf16>, tensor<?x?x2x16xf16>
  return %y : tensor<?x?x4x16xf16>
}
