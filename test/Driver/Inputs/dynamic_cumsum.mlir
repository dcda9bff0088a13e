// A cumulative sum over a symbolic dim: its kernel has a heavy op that only
// the elemental fallback computes, which needs static shapes.
func.func @cumsum(%x: tensor<?x8xf32> {iolite.dims = ["seq", ""]})
    -> tensor<?x8xf32>
    attributes {iolite.dim_bounds = {seq = array<i64: 1, 64>}} {
  %y = iolite.cumsum %x {axis = 0 : i64} : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
