// A Mixtral-style sparse MoE layer (transformers' MixtralSparseMoeBlock):
// a linear router, softmax, the top 2 of 8 experts per token with their
// weights renormalized, and SwiGLU experts w2(silu(w1 x) * w3 x). Tokens
// are sorted by expert (dispatch), every expert's rows multiplied by its
// weights (grouped_matmul over the ragged groups), and the results summed
// back per token with the routing weights (combine). Expert weights are
// stacked [E, out, in] as the experts' nn.Linear store them.
// Inputs and the PyTorch output: examples/gen_examples.py.
func.func @moe_layer(%x: tensor<2x5x16xf32>, %w_gate: tensor<8x16xf32>,
                     %w1: tensor<8x24x16xf32>, %w3: tensor<8x24x16xf32>,
                     %w2: tensor<8x16x24xf32>) -> tensor<2x5x16xf32> {
  %t = iolite.reshape %x : tensor<2x5x16xf32> -> tensor<10x16xf32>
  %logits = iolite.matmul %t, %w_gate {transpose_rhs}
      : tensor<10x16xf32>, tensor<8x16xf32>
  %w, %ids = iolite.router %logits {k = 2 : i64, renormalize} : tensor<10x8xf32>
  %xs, %rows, %offs = iolite.dispatch %t, %ids {num_experts = 8 : i64}
      : tensor<10x16xf32>, tensor<10x2xi32>
  %g = iolite.grouped_matmul %xs, %w1, %offs {transpose_rhs}
      : tensor<20x16xf32>, tensor<8x24x16xf32>, tensor<9xi32>
  %u = iolite.grouped_matmul %xs, %w3, %offs {transpose_rhs}
      : tensor<20x16xf32>, tensor<8x24x16xf32>, tensor<9xi32>
  %gs = iolite.silu %g : tensor<20x24xf32>
  %h = iolite.mul %gs, %u : tensor<20x24xf32>, tensor<20x24xf32>
  %o = iolite.grouped_matmul %h, %w2, %offs {transpose_rhs}
      : tensor<20x24xf32>, tensor<8x16x24xf32>, tensor<9xi32>
  %y = iolite.combine %o, %rows, %w
      : tensor<20x16xf32>, tensor<20xi32>, tensor<10x2xf32>
  %y3 = iolite.reshape %y : tensor<10x16xf32> -> tensor<2x5x16xf32>
  return %y3 : tensor<2x5x16xf32>
}
