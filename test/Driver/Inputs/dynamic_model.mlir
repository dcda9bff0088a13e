// emu_model.mlir with a symbolic row count: one bundle for every number of
// tokens in 1..80. The matmul's result goes through the workspace (the
// silu is a separate kernel with --no-fusion), so a call at fewer tokens
// touches less of it (dynamic_main.c).
func.func @dynamic_model(%x: tensor<?x64xf32> {iolite.dims = ["tokens", ""]},
                         %w: tensor<64x128xf32>, %g: tensor<64xf32>)
    -> (tensor<?x128xf32>, tensor<?x64xf32>)
    attributes {iolite.dim_bounds = {tokens = array<i64: 1, 80>}} {
  %m = iolite.matmul %x, %w : tensor<?x64xf32>, tensor<64x128xf32>
  %s = iolite.silu %m : tensor<?x128xf32>
  %n = iolite.rms_norm %x weight(%g : tensor<64xf32>) {epsilon = 1.0e-5 : f32}
      : tensor<?x64xf32>
  return %s, %n : tensor<?x128xf32>, tensor<?x64xf32>
}
