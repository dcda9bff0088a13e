// A carried-state op whose final state is used inside its kernel is none of
// the state-space templates' (the state has its own store path, it is not
// computed per element): the elemental fallback refuses it with a
// diagnostic at the op, no crash. Kernel formation never builds such a
// kernel (the serving ops take no epilogue); this one is written by hand.
// RUN: iolite-opt %s --iolite-kernel-to-gpu=target=sm_90a --verify-diagnostics -o /dev/null
func.func @conv_state_consumed(%x: tensor<2x64x8xf32>, %w: tensor<64x4xf32>, %s: tensor<2x64x3xf32>) -> (tensor<2x64x8xf32>, tensor<2x64x3xf32>) {
  %r:2 = iolite.kernel "conv_state_used" (%x, %w, %s) : (tensor<2x64x8xf32>, tensor<64x4xf32>, tensor<2x64x3xf32>) -> (tensor<2x64x8xf32>, tensor<2x64x3xf32>) {
  ^bb0(%a0: tensor<2x64x8xf32>, %a1: tensor<64x4xf32>, %a2: tensor<2x64x3xf32>):
    %y, %s2 = iolite.conv1d_with_state %a0, %a1, %a2 : tensor<2x64x8xf32>, tensor<64x4xf32>, tensor<2x64x3xf32>
    // expected-error @-1 {{'iolite.conv1d_with_state' op has no GPU code generation}}
    %d = iolite.add %s2, %s2 : tensor<2x64x3xf32>, tensor<2x64x3xf32>
    iolite.yield %y, %d : tensor<2x64x8xf32>, tensor<2x64x3xf32>
  }
  return %r#0, %r#1 : tensor<2x64x8xf32>, tensor<2x64x3xf32>
}
