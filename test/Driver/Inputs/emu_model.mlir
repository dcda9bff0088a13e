// A model whose kernels use shared memory and barriers (the matmul
// template) and warp shuffles (the row-reduction template), for running
// bundles on the emulator.
func.func @emu_model(%x: tensor<64x64xf32>, %w: tensor<64x128xf32>,
                     %g: tensor<64xf32>)
    -> (tensor<64x128xf32>, tensor<64x64xf32>) {
  %m = iolite.matmul %x, %w : tensor<64x64xf32>, tensor<64x128xf32>
  %s = iolite.silu %m : tensor<64x128xf32>
  %n = iolite.rms_norm %x weight(%g : tensor<64xf32>) {epsilon = 1.0e-5 : f32}
      : tensor<64x64xf32>
  return %s, %n : tensor<64x128xf32>, tensor<64x64xf32>
}
