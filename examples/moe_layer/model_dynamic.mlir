// The MoE layer of model.mlir with a dynamic batch and sequence length:
// tokens = batch * seq are routed, dispatched and combined at whatever count
// a call brings. The final reshape splits the tokens back into [batch, seq]:
// its `iolite.dims` names the symbols of its dynamic result dims, which its
// input alone does not decide.
func.func @moe_layer(%x: tensor<?x?x16xf32> {iolite.dims = ["batch", "seq", ""]},
                     %w_gate: tensor<8x16xf32>,
                     %w1: tensor<8x24x16xf32>, %w3: tensor<8x24x16xf32>,
                     %w2: tensor<8x16x24xf32>) -> tensor<?x?x16xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 8>,
                                     seq = array<i64: 1, 512>}} {
  %t = iolite.reshape %x : tensor<?x?x16xf32> -> tensor<?x16xf32>
  %logits = iolite.matmul %t, %w_gate {transpose_rhs}
      : tensor<?x16xf32>, tensor<8x16xf32>
  %w, %ids = iolite.router %logits {k = 2 : i64, renormalize} : tensor<?x8xf32>
  %xs, %rows, %offs = iolite.dispatch %t, %ids {num_experts = 8 : i64}
      : tensor<?x16xf32>, tensor<?x2xi32>
  %g = iolite.grouped_matmul %xs, %w1, %offs {transpose_rhs}
      : tensor<?x16xf32>, tensor<8x24x16xf32>, tensor<9xi32>
  %u = iolite.grouped_matmul %xs, %w3, %offs {transpose_rhs}
      : tensor<?x16xf32>, tensor<8x24x16xf32>, tensor<9xi32>
  %gs = iolite.silu %g : tensor<?x24xf32>
  %h = iolite.mul %gs, %u : tensor<?x24xf32>, tensor<?x24xf32>
  %o = iolite.grouped_matmul %h, %w2, %offs {transpose_rhs}
      : tensor<?x24xf32>, tensor<8x16x24xf32>, tensor<9xi32>
  %y = iolite.combine %o, %rows, %w
      : tensor<?x16xf32>, tensor<?xi32>, tensor<?x2xf32>
  %y3 = iolite.reshape %y {iolite.dims = ["batch", "seq", ""]}
      : tensor<?x16xf32> -> tensor<?x?x16xf32>
  return %y3 : tensor<?x?x16xf32>
}
