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

// -----

// A step of symbolic length appended to a KV cache: a step can only be as
// long as the cache, a rule that holds within the bounds (steps <= 16, 32
// positions) but not at the probes, which lie far outside them. The probes
// check how dims relate; the cache rule is checked at real sizes
// (iolite-specialize-dims-invalid.mlir).
// CHECK-LABEL: func.func @step_fits_cache
func.func @step_fits_cache(%kc: tensor<2x32x2x8xf32>, %vc: tensor<2x32x2x8xf32>,
                           %k: tensor<2x?x2x8xf32> {iolite.dims = ["", "steps", "", ""]},
                           %q: tensor<2x?x4x8xf32> {iolite.dims = ["", "steps", "", ""]},
                           %lens: tensor<2xi32>)
    -> (tensor<2x?x4x8xf32>, tensor<2x32x2x8xf32>, tensor<2x32x2x8xf32>)
    attributes {iolite.dim_bounds = {steps = array<i64: 1, 16>}} {
  %c:2 = iolite.kv_cache_append %kc, %vc, %k, %k, %lens
      : tensor<2x32x2x8xf32>, tensor<2x32x2x8xf32>, tensor<2x?x2x8xf32>,
        tensor<2x?x2x8xf32>, tensor<2xi32>
  %o = iolite.cache_attention %q, %c#0, %c#1, %lens {causal}
      : tensor<2x?x4x8xf32>, tensor<2x32x2x8xf32>, tensor<2x32x2x8xf32>,
        tensor<2xi32>
  return %o, %c#0, %c#1 : tensor<2x?x4x8xf32>, tensor<2x32x2x8xf32>, tensor<2x32x2x8xf32>
}
