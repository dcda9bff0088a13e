// The MoE layer of model.mlir with the router written out as Mixtral's
// code has it: softmax over the experts, top-2, the weights divided by their
// sum, and the experts' SiLU as x * sigmoid(x). Fusion makes the router
// matmul, softmax, top-k and renormalisation one kernel. Same inputs and
// expected output as model.mlir.
func.func @moe_layer(%x: tensor<2x5x16xf32>, %w_gate: tensor<8x16xf32>,
                     %w1: tensor<8x24x16xf32>, %w3: tensor<8x24x16xf32>,
                     %w2: tensor<8x16x24xf32>) -> tensor<2x5x16xf32> {
  %t = iolite.reshape %x : tensor<2x5x16xf32> -> tensor<10x16xf32>
  %wgt = iolite.transpose %w_gate [1, 0] : tensor<8x16xf32>
  %logits = iolite.matmul %t, %wgt : tensor<10x16xf32>, tensor<16x8xf32>
  %p = iolite.softmax %logits {axis = 1 : i64} : tensor<10x8xf32>
  %top, %ids = iolite.top_k %p {k = 2 : i64} : tensor<10x8xf32>
  %sum = iolite.reduce sum %top {axes = array<i64: -1>, keep_dims} : tensor<10x2xf32>
  %w = iolite.div %top, %sum : tensor<10x2xf32>, tensor<10x1xf32>
  %xs, %rows, %offs = iolite.dispatch %t, %ids {num_experts = 8 : i64}
      : tensor<10x16xf32>, tensor<10x2xi64>
  %g = iolite.grouped_matmul %xs, %w1, %offs {transpose_rhs}
      : tensor<20x16xf32>, tensor<8x24x16xf32>, tensor<9xi32>
  %u = iolite.grouped_matmul %xs, %w3, %offs {transpose_rhs}
      : tensor<20x16xf32>, tensor<8x24x16xf32>, tensor<9xi32>
  %g_sig = iolite.sigmoid %g : tensor<20x24xf32>
  %gs = iolite.mul %g, %g_sig : tensor<20x24xf32>, tensor<20x24xf32>
  %h = iolite.mul %gs, %u : tensor<20x24xf32>, tensor<20x24xf32>
  %o = iolite.grouped_matmul %h, %w2, %offs {transpose_rhs}
      : tensor<20x24xf32>, tensor<8x16x24xf32>, tensor<9xi32>
  %y = iolite.combine %o, %rows, %w
      : tensor<20x16xf32>, tensor<20xi32>, tensor<10x2xf32>
  %y3 = iolite.reshape %y : tensor<10x16xf32> -> tensor<2x5x16xf32>
  return %y3 : tensor<2x5x16xf32>
}
