// A two-layer perceptron with a softmax head: the model the CMake consumer
// example compiles at build time and runs on the emulator.
func.func @tiny_mlp(%x: tensor<8x32xf32>, %w1: tensor<32x64xf32>,
                    %w2: tensor<64x16xf32>) -> tensor<8x16xf32> {
  %h = iolite.matmul %x, %w1 : tensor<8x32xf32>, tensor<32x64xf32>
  %a = iolite.silu %h : tensor<8x64xf32>
  %y = iolite.matmul %a, %w2 : tensor<8x64xf32>, tensor<64x16xf32>
  %p = iolite.softmax %y {axis = 1 : i64} : tensor<8x16xf32>
  return %p : tensor<8x16xf32>
}
