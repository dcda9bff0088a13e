// RUN: iolite-opt %s --split-input-file --verify-diagnostics --iolite-specialize-dims="dims=seq=12,k=20"

// expected-error @below {{argument #0 dim 0 is dynamic but names no symbol}}
func.func @unnamed(%x: tensor<?x32xf32>) -> tensor<?x32xf32>
    attributes {iolite.dim_bounds = {seq = array<i64: 1, 16>}} {
  return %x : tensor<?x32xf32>
}

// -----

// expected-error @below {{argument #0 dim 0 is the symbol 'seq', which has no bounds}}
func.func @unbounded(%x: tensor<?x32xf32> {iolite.dims = ["seq", ""]}) -> tensor<?x32xf32> {
  return %x : tensor<?x32xf32>
}

// -----

// expected-error @below {{dim 'seq' = 12 is outside its bounds 1..8}}
func.func @outside(%x: tensor<?x32xf32> {iolite.dims = ["seq", ""]}) -> tensor<?x32xf32>
    attributes {iolite.dim_bounds = {seq = array<i64: 1, 8>}} {
  return %x : tensor<?x32xf32>
}

// -----

// expected-error @below {{no value given for the symbolic dim 'batch'}}
func.func @missing(%x: tensor<?x?xf32> {iolite.dims = ["batch", "seq"]}) -> tensor<?x?xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 8>, seq = array<i64: 1, 16>}} {
  return %x : tensor<?x?xf32>
}

// -----

// expected-error @below {{argument #0 dim 1 is static (32) but names the symbol 'seq'}}
func.func @static_named(%x: tensor<?x32xf32> {iolite.dims = ["seq", "seq"]}) -> tensor<?x32xf32>
    attributes {iolite.dim_bounds = {seq = array<i64: 1, 16>}} {
  return %x : tensor<?x32xf32>
}

// -----

// seq and hidden cannot both be solved from the element count.
func.func @ambiguous(%x: tensor<?x32xf32> {iolite.dims = ["seq", ""]}) -> tensor<?x?xf32>
    attributes {iolite.dim_bounds = {seq = array<i64: 1, 16>}} {
  // expected-error @below {{cannot be specialised to static dims: its dynamic result dims}}
  %y = iolite.reshape %x : tensor<?x32xf32> -> tensor<?x?xf32>
  return %y : tensor<?x?xf32>
}

// -----

// Two symbols that the function declares equal through a matmul disagree
// once given values.
func.func @mismatch(%a: tensor<?x?xf32> {iolite.dims = ["seq", "k"]},
                    %b: tensor<16x8xf32>) -> tensor<?x8xf32>
    attributes {iolite.dim_bounds = {seq = array<i64: 1, 16>, k = array<i64: 1, 32>}} {
  // expected-error @below {{contraction dims differ: lhs has 20, rhs has 16}}
  %c = iolite.matmul %a, %b : tensor<?x?xf32>, tensor<16x8xf32>
  return %c : tensor<?x8xf32>
}

// -----

func.func @unflatten_unnamed(%x: tensor<?x?x16xf32> {iolite.dims = ["seq", "k", ""]})
    -> tensor<?x?x16xf32>
    attributes {iolite.dim_bounds = {seq = array<i64: 1, 16>, k = array<i64: 1, 32>}} {
  %t = iolite.reshape %x : tensor<?x?x16xf32> -> tensor<?x16xf32>
  // expected-error @below {{name them with iolite.dims}}
  %y = iolite.reshape %t : tensor<?x16xf32> -> tensor<?x?x16xf32>
  return %y : tensor<?x?x16xf32>
}

// -----

// At a size within the bounds a step longer than its cache is refused.
func.func @step_past_cache(%kc: tensor<2x8x2x8xf32>, %vc: tensor<2x8x2x8xf32>,
                           %k: tensor<2x?x2x8xf32> {iolite.dims = ["", "seq", "", ""]},
                           %lens: tensor<2xi32>)
    -> (tensor<2x8x2x8xf32>, tensor<2x8x2x8xf32>)
    attributes {iolite.dim_bounds = {seq = array<i64: 1, 16>}} {
  // expected-error @below {{'iolite.kv_cache_append' op appending 12 tokens to a cache that holds 8 per sequence}}
  %c:2 = iolite.kv_cache_append %kc, %vc, %k, %k, %lens
      : tensor<2x8x2x8xf32>, tensor<2x8x2x8xf32>, tensor<2x?x2x8xf32>,
        tensor<2x?x2x8xf32>, tensor<2xi32>
  return %c#0, %c#1 : tensor<2x8x2x8xf32>, tensor<2x8x2x8xf32>
}
