// Hyena's long convolution with symbolic batch and sequence: the implicit
// filter is as long as the sequence, so its taps are the `seq` symbol too.
func.func @hyena_conv(%x: tensor<?x8x?xf32> {iolite.dims = ["batch", "", "seq"]},
                      %f: tensor<8x?xf32> {iolite.dims = ["", "seq"]},
                      %d: tensor<8xf32>) -> tensor<?x8x?xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 4>,
                                     seq = array<i64: 1, 64>}} {
  %y = iolite.long_conv %x, %f D(%d : tensor<8xf32>)
      : tensor<?x8x?xf32>, tensor<8x?xf32>
  return %y : tensor<?x8x?xf32>
}
