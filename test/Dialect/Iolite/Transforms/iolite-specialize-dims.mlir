// RUN: iolite-opt %s --split-input-file --iolite-specialize-dims="dims=batch=2,seq=12" | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-specialize-dims="dims=batch=1,seq=1" | FileCheck %s --check-prefix=ONE

// The dynamic batch and sequence dims of a Llama-style attention prologue:
// a norm, a projection, the head split (two dynamic dims carried through a
// reshape) and the rotary tables indexed by position.

// CHECK-LABEL: func.func @prologue
// CHECK-SAME: (%{{.*}}: tensor<2x12x32xf32>, %{{.*}}: tensor<12x8xf32>, %{{.*}}: tensor<12x8xf32>, %{{.*}}: tensor<32xf32>, %{{.*}}: tensor<32x32xf32>) -> tensor<2x4x12x8xf32>
// CHECK-NOT: iolite.dim
// CHECK: iolite.rms_norm %{{.*}} weight(%{{.*}} : tensor<32xf32>) {epsilon = {{.*}}} : tensor<2x12x32xf32>
// CHECK: iolite.matmul %{{.*}}, %{{.*}} {transpose_rhs} : tensor<2x12x32xf32>, tensor<32x32xf32>
// CHECK: iolite.reshape %{{.*}} : tensor<2x12x32xf32> -> tensor<2x12x4x8xf32>
// CHECK: iolite.transpose %{{.*}} [0, 2, 1, 3] : tensor<2x12x4x8xf32>
// CHECK: iolite.rotary %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x12x8xf32>, tensor<12x8xf32>, tensor<12x8xf32>
// CHECK: return %{{.*}} : tensor<2x4x12x8xf32>
// ONE-LABEL: func.func @prologue
// ONE-SAME: -> tensor<1x4x1x8xf32>
func.func @prologue(%x: tensor<?x?x32xf32> {iolite.dims = ["batch", "seq", ""]},
                    %cos: tensor<?x8xf32> {iolite.dims = ["seq", ""]},
                    %sin: tensor<?x8xf32> {iolite.dims = ["seq", ""]},
                    %norm: tensor<32xf32>, %wq: tensor<32x32xf32>)
    -> tensor<?x4x?x8xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 64>,
                                     seq = array<i64: 1, 8192>}} {
  %h = iolite.rms_norm %x weight(%norm : tensor<32xf32>)
      {epsilon = 1.0e-06 : f32} : tensor<?x?x32xf32>
  %q = iolite.matmul %h, %wq {transpose_rhs} : tensor<?x?x32xf32>, tensor<32x32xf32>
  %q4 = iolite.reshape %q : tensor<?x?x32xf32> -> tensor<?x?x4x8xf32>
  %qh = iolite.transpose %q4 [0, 2, 1, 3] : tensor<?x?x4x8xf32>
  %qr = iolite.rotary %qh, %cos, %sin
      : tensor<?x4x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
  return %qr : tensor<?x4x?x8xf32>
}

// -----

// Flattening batch and sequence into tokens: one dynamic dim, solved from
// the element count; a cast and a broadcast keep their dynamic dims.

// CHECK-LABEL: func.func @tokens
// CHECK-SAME: -> (tensor<24x16xf16>, tensor<2x12x16xf32>)
// CHECK: iolite.reshape %{{.*}} : tensor<2x12x16xf32> -> tensor<24x16xf32>
// CHECK: iolite.cast %{{.*}} : tensor<24x16xf32> to tensor<24x16xf16>
// CHECK: iolite.broadcast %{{.*}} : tensor<2x12x1xf32> -> tensor<2x12x16xf32>
func.func @tokens(%x: tensor<?x?x16xf32> {iolite.dims = ["batch", "seq", ""]},
                  %s: tensor<?x?x1xf32> {iolite.dims = ["batch", "seq", ""]})
    -> (tensor<?x16xf16>, tensor<?x?x16xf32>)
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 4>,
                                     seq = array<i64: 1, 64>}} {
  %t = iolite.reshape %x : tensor<?x?x16xf32> -> tensor<?x16xf32>
  %c = iolite.cast %t : tensor<?x16xf32> to tensor<?x16xf16>
  %b = iolite.broadcast %s : tensor<?x?x1xf32> -> tensor<?x?x16xf32>
  return %c, %b : tensor<?x16xf16>, tensor<?x?x16xf32>
}

// -----

// Splitting tokens back into batch and sequence: the reshape names the
// symbols of the dims its input does not decide.

// CHECK-LABEL: func.func @unflatten
// CHECK: iolite.reshape %{{.*}} : tensor<24x16xf32> -> tensor<2x12x16xf32>
// CHECK-NOT: iolite.dims
func.func @unflatten(%x: tensor<?x?x16xf32> {iolite.dims = ["batch", "seq", ""]})
    -> tensor<?x?x16xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 4>,
                                     seq = array<i64: 1, 64>}} {
  %t = iolite.reshape %x : tensor<?x?x16xf32> -> tensor<?x16xf32>
  %r = iolite.relu %t : tensor<?x16xf32>
  %y = iolite.reshape %r {iolite.dims = ["batch", "seq", ""]}
      : tensor<?x16xf32> -> tensor<?x?x16xf32>
  return %y : tensor<?x?x16xf32>
}

// -----

// Kernels formed on symbolic dims are specialised from their operands.

// CHECK-LABEL: func.func @kernels
// CHECK: iolite.kernel "k"(%{{.*}}) : (tensor<12x32xf32>) -> tensor<12x32xf32>
// CHECK: ^bb0(%{{.*}}: tensor<12x32xf32>):
// CHECK: iolite.softmax %{{.*}} : tensor<12x32xf32>
func.func @kernels(%x: tensor<?x32xf32> {iolite.dims = ["seq", ""]})
    -> tensor<?x32xf32>
    attributes {iolite.dim_bounds = {seq = array<i64: 1, 100>}} {
  %A = iolite.kernel "k" (%x) : (tensor<?x32xf32>) -> tensor<?x32xf32> {
  ^bb0(%i: tensor<?x32xf32>):
    %s = iolite.softmax %i {axis = -1 : i64} : tensor<?x32xf32>
    iolite.yield %s : tensor<?x32xf32>
  }
  return %A : tensor<?x32xf32>
}

// -----

// Slices to the end of a dynamic dim take its size.

// CHECK-LABEL: func.func @slice_to_end
// CHECK: iolite.slice %{{.*}} [0, 0, 0] to [2, 32, 12] : tensor<2x64x12xf32>
// CHECK: iolite.slice %{{.*}} [0, 1] to [12, 64] : tensor<12x64xf32>
func.func @slice_to_end(%x: tensor<?x64x?xf32> {iolite.dims = ["batch", "", "seq"]},
                        %y: tensor<?x64xf32> {iolite.dims = ["seq", ""]})
    -> (tensor<?x32x?xf32>, tensor<?x63xf32>)
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 4>,
                                     seq = array<i64: 1, 64>}} {
  %a = iolite.slice %x [0, 0, 0] to [9223372036854775807, 32, 9223372036854775807]
      : tensor<?x64x?xf32>
  %b = iolite.slice %y [0, 1] to [9223372036854775807, 64] : tensor<?x64xf32>
  return %a, %b : tensor<?x32x?xf32>, tensor<?x63xf32>
}
