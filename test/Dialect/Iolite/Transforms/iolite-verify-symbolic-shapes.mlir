// RUN: iolite-opt %s --split-input-file --verify-diagnostics --iolite-verify-symbolic-shapes | FileCheck %s

// Shapes that hold at every size pass unchanged, the symbolic Llama-style
// prologue (two symbols, reshapes that keep them) included.

// CHECK-LABEL: func.func @holds
// CHECK: iolite.rotary %{{.*}} : tensor<?x4x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
func.func @holds(%x: tensor<?x?x32xf32> {iolite.dims = ["batch", "seq", ""]},
                 %cos: tensor<?x8xf32> {iolite.dims = ["seq", ""]},
                 %sin: tensor<?x8xf32> {iolite.dims = ["seq", ""]},
                 %wq: tensor<32x32xf32>) -> tensor<?x4x?x8xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 64>,
                                     seq = array<i64: 1, 8192>}} {
  %q = iolite.matmul %x, %wq {transpose_rhs} : tensor<?x?x32xf32>, tensor<32x32xf32>
  %q4 = iolite.reshape %q : tensor<?x?x32xf32> -> tensor<?x?x4x8xf32>
  %qh = iolite.transpose %q4 [0, 2, 1, 3] : tensor<?x?x4x8xf32>
  %qr = iolite.rotary %qh, %cos, %sin
      : tensor<?x4x?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
  return %qr : tensor<?x4x?x8xf32>
}

// -----

// Two symbols contracted against each other: the type rules accept ? and
// ?, and the function would only fail when seq and k differ.
func.func @contracts_two_symbols(%a: tensor<?x?xf32> {iolite.dims = ["seq", "k"]},
                                 %b: tensor<?x8xf32> {iolite.dims = ["seq", ""]}) -> tensor<?x8xf32>
    attributes {iolite.dim_bounds = {k = array<i64: 1, 64>, seq = array<i64: 1, 64>}} {
  // expected-error @below {{the shapes do not hold for every size of the symbolic dims (k = 10007, seq = 10009 breaks them): contraction dims differ: lhs has 10007, rhs has 10009}}
  %c = iolite.matmul %a, %b : tensor<?x?xf32>, tensor<?x8xf32>
  return %c : tensor<?x8xf32>
}

// -----

// A reshape that halves the sequence only fits even lengths.
func.func @odd_lengths(%x: tensor<?x32xf32> {iolite.dims = ["seq", ""]}) -> tensor<?x64xf32>
    attributes {iolite.dim_bounds = {seq = array<i64: 2, 64>}} {
  // expected-error @below {{the shapes do not hold for every size of the symbolic dims (seq = 10007 breaks them)}}
  %y = iolite.reshape %x : tensor<?x32xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// An elementwise op over two different symbols.
func.func @adds_two_symbols(%a: tensor<?x8xf32> {iolite.dims = ["q", ""]},
                            %b: tensor<?x8xf32> {iolite.dims = ["kv", ""]}) -> tensor<?x8xf32>
    attributes {iolite.dim_bounds = {kv = array<i64: 1, 64>, q = array<i64: 1, 64>}} {
  // expected-error @below {{(kv = 10007, q = 10009 breaks them)}}
  %c = iolite.add %a, %b : tensor<?x8xf32>, tensor<?x8xf32>
  return %c : tensor<?x8xf32>
}
