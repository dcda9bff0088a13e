// model_decomposed.mlir with a dynamic batch and sequence length (bounds as
// model_dynamic.mlir's): the router written out as Mixtral's code has it
// raises and fuses into the same kernels as model_dynamic.mlir's fused ops.
// The token count is batch * seq; the reshape back names its dims.
func.func @moe_layer(%x: tensor<?x?x16xf32> {iolite.dims = ["batch", "seq", ""]},
                     %w_gate: tensor<8x16xf32>, %w1: tensor<8x24x16xf32>,
                     %w3: tensor<8x24x16xf32>, %w2: tensor<8x16x24xf32>)
    -> tensor<?x?x16xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 8>,
                                     seq = array<i64: 1, 512>}} {
  %t = iolite.reshape %x : tensor<?x?x16xf32> -> tensor<?x16xf32>
  %wgt = iolite.transpose %w_gate [1, 0] : tensor<8x16xf32>
  %logits = iolite.matmul %t, %wgt : tensor<?x16xf32>, tensor<16x8xf32>
  %p = iolite.softmax %logits {axis = 1 : i64} : tensor<?x8xf32>
  %top, %ids = iolite.top_k %p {k = 2 : i64} : tensor<?x8xf32>
  %sum = iolite.reduce sum %top {axes = array<i64: -1>, keep_dims} : tensor<?x2xf32>
  %w = iolite.div %top, %sum : tensor<?x2xf32>, tensor<?x1xf32>
  %xs, %rows, %offs = iolite.dispatch %t, %ids {num_experts = 8 : i64}
      : tensor<?x16xf32>, tensor<?x2xi64>
  %g = iolite.grouped_matmul %xs, %w1, %offs {transpose_rhs}
      : tensor<?x16xf32>, tensor<8x24x16xf32>, tensor<9xi32>
  %u = iolite.grouped_matmul %xs, %w3, %offs {transpose_rhs}
      : tensor<?x16xf32>, tensor<8x24x16xf32>, tensor<9xi32>
  %g_sig = iolite.sigmoid %g : tensor<?x24xf32>
  %gs = iolite.mul %g, %g_sig : tensor<?x24xf32>, tensor<?x24xf32>
  %h = iolite.mul %gs, %u : tensor<?x24xf32>, tensor<?x24xf32>
  %o = iolite.grouped_matmul %h, %w2, %offs {transpose_rhs}
      : tensor<?x24xf32>, tensor<8x16x24xf32>, tensor<9xi32>
  %y = iolite.combine %o, %rows, %w
      : tensor<?x16xf32>, tensor<?xi32>, tensor<?x2xf32>
  %y3 = iolite.reshape %y {iolite.dims = ["batch", "seq", ""]} : tensor<?x16xf32> -> tensor<?x?x16xf32>
  return %y3 : tensor<?x?x16xf32>
}
