// Causal and full GQA attention (2 query heads per kv head) with the batch,
// query length and key length symbolic: one compile serves decode (one
// query against many keys: split-KV, chosen per launch) and prefill.
func.func @attention(%q: tensor<?x4x?x16xf32> {iolite.dims = ["batch", "", "q", ""]},
                     %k: tensor<?x2x?x16xf32> {iolite.dims = ["batch", "", "kv", ""]},
                     %v: tensor<?x2x?x16xf32> {iolite.dims = ["batch", "", "kv", ""]})
    -> (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>)
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 4>,
                                     q = array<i64: 1, 32>,
                                     kv = array<i64: 1, 1024>}} {
  %c = iolite.attention %q, %k, %v {causal}
      : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
  %f = iolite.attention %q, %k, %v
      : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
  return %c, %f : tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>
}
