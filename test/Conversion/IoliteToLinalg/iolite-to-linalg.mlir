// RUN: iolite-opt %s --iolite-to-linalg --split-input-file --verify-diagnostics | FileCheck %s

// Elementwise ops broadcast through their indexing maps and compute f16 in
// f32, rounding once.
// CHECK-DAG: #[[ID2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[LAST:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func @add_broadcast_f16
// CHECK: linalg.generic {indexing_maps = [#[[ID2]], #[[LAST]], #[[ID2]]]
// CHECK:   %[[A:.*]] = arith.extf %{{.*}} : f16 to f32
// CHECK:   %[[B:.*]] = arith.extf %{{.*}} : f16 to f32
// CHECK:   %[[S:.*]] = arith.addf %[[A]], %[[B]] : f32
// CHECK:   %[[R:.*]] = arith.truncf %[[S]] : f32 to f16
// CHECK:   linalg.yield %[[R]] : f16
// CHECK-NOT: iolite.
func.func @add_broadcast_f16(%a: tensor<2x3xf16>, %b: tensor<3xf16>) -> tensor<2x3xf16> {
  %r = iolite.add %a, %b : tensor<2x3xf16>, tensor<3xf16>
  return %r : tensor<2x3xf16>
}

// -----

// iota reads only its source's shape: a generic with no inputs yields the
// loop index.
// CHECK-LABEL: func @iota
// CHECK: %[[E:.*]] = tensor.empty() : tensor<3xi64>
// CHECK: linalg.generic {{.*}} outs(%[[E]] : tensor<3xi64>)
// CHECK:   %[[I:.*]] = linalg.index 0 : index
// CHECK:   %[[C:.*]] = arith.index_cast %[[I]] : index to i64
// CHECK:   linalg.yield %[[C]] : i64
func.func @iota(%a: tensor<2x3xf16>) -> tensor<3xi64> {
  %r = iolite.iota %a {axis = 1 : i64} : tensor<2x3xf16>
  return %r : tensor<3xi64>
}

// -----

// A size-1 dim against a larger one reads index 0.
// CHECK-DAG: #[[BC:.*]] = affine_map<(d0, d1, d2) -> (0, d2)>
// CHECK-LABEL: func @broadcast_unit_dim
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[BC]], #{{.*}}]
// CHECK:   arith.maximumf
func.func @broadcast_unit_dim(%a: tensor<2x3x4xf32>, %b: tensor<1x4xf32>) -> tensor<2x3x4xf32> {
  %r = iolite.max %a, %b : tensor<2x3x4xf32>, tensor<1x4xf32>
  return %r : tensor<2x3x4xf32>
}

// -----

// Integer division never traps: x / 0 = 0 and MIN / -1 = -MIN (wrapping).
// CHECK-LABEL: func @div_i32
// CHECK:   %[[ZERO:.*]] = arith.cmpi eq, %[[D:.*]], %c0_i32
// CHECK:   %[[M1:.*]] = arith.cmpi eq, %[[D]], %c-1_i32
// CHECK:   %[[UNSAFE:.*]] = arith.ori %[[ZERO]], %[[M1]]
// CHECK:   %[[SAFE:.*]] = arith.select %[[UNSAFE]], %c1_i32, %[[D]]
// CHECK:   arith.divsi %{{.*}}, %[[SAFE]]
func.func @div_i32(%a: tensor<4xi32>, %b: tensor<4xi32>) -> tensor<4xi32> {
  %r = iolite.div %a, %b : tensor<4xi32>, tensor<4xi32>
  return %r : tensor<4xi32>
}

// -----

// CHECK-LABEL: func @compare
// CHECK: arith.cmpf une
// CHECK: arith.cmpi ult
func.func @compare(%a: tensor<4xf32>, %b: tensor<4xi1>) -> (tensor<4xi1>, tensor<4xi1>) {
  %r = iolite.compare ne %a, %a : tensor<4xf32>, tensor<4xf32>
  %s = iolite.compare lt %b, %b : tensor<4xi1>, tensor<4xi1>
  return %r, %s : tensor<4xi1>, tensor<4xi1>
}

// -----

// Softplus as max(x, 0) + log1p(exp(-|x|)): exp never sees a positive input.
// CHECK-LABEL: func @softplus_bf16
// CHECK:   %[[X:.*]] = arith.extf %{{.*}} : bf16 to f32
// CHECK:   %[[POS:.*]] = arith.maximumf %[[X]], %{{.*}} : f32
// CHECK:   %[[ABS:.*]] = math.absf %[[X]]
// CHECK:   %[[NEG:.*]] = arith.negf %[[ABS]]
// CHECK:   %[[E:.*]] = math.exp %[[NEG]]
// CHECK:   %[[L:.*]] = math.log1p %[[E]]
// CHECK:   %[[Y:.*]] = arith.addf %[[POS]], %[[L]]
// CHECK:   arith.truncf %[[Y]] : f32 to bf16
func.func @softplus_bf16(%x: tensor<8xbf16>) -> tensor<8xbf16> {
  %r = iolite.softplus %x : tensor<8xbf16>
  return %r : tensor<8xbf16>
}

// -----

// CHECK-LABEL: func @gelu_tanh
// CHECK: math.tanh
// CHECK-LABEL: func @gelu_exact
// CHECK: math.erf
func.func @gelu_tanh(%x: tensor<8xf32>) -> tensor<8xf32> {
  %r = iolite.gelu %x approximate = tanh : tensor<8xf32>
  return %r : tensor<8xf32>
}
func.func @gelu_exact(%x: tensor<8xf32>) -> tensor<8xf32> {
  %r = iolite.gelu %x : tensor<8xf32>
  return %r : tensor<8xf32>
}

// -----

// CHECK-LABEL: func @casts
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: arith.fptosi %{{.*}} : f32 to i32
// CHECK: arith.cmpf une
// CHECK: arith.uitofp %{{.*}} : i1 to f32
func.func @casts(%x: tensor<4xf32>, %m: tensor<4xi1>)
    -> (tensor<4xbf16>, tensor<4xi32>, tensor<4xi1>, tensor<4xf32>) {
  %a = iolite.cast %x : tensor<4xf32> to tensor<4xbf16>
  %b = iolite.cast %x : tensor<4xf32> to tensor<4xi32>
  %c = iolite.cast %x : tensor<4xf32> to tensor<4xi1>
  %d = iolite.cast %m : tensor<4xi1> to tensor<4xf32>
  return %a, %b, %c, %d : tensor<4xbf16>, tensor<4xi32>, tensor<4xi1>, tensor<4xf32>
}

// -----

// CHECK-LABEL: func @constant_select
// CHECK: %[[C:.*]] = arith.constant dense<2.500000e+00> : tensor<4xf32>
// CHECK: linalg.generic
// CHECK:   arith.select
func.func @constant_select(%m: tensor<4xi1>, %x: tensor<4xf32>) -> tensor<4xf32> {
  %c = iolite.constant dense<2.5> : tensor<4xf32>
  %r = iolite.select %m, %x, %c : tensor<4xi1>, tensor<4xf32>, tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// Softmax: f32 row max, sum of exp(x - max), then the quotient, rounded once.
// CHECK-LABEL: func @softmax_f16
// CHECK: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: %[[INIT:.*]] = linalg.fill ins(%[[NEGINF]] : f32)
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%{{.*}} : tensor<2x5xf16>) outs(%[[INIT]] : tensor<2xf32>)
// CHECK:   arith.maximumf
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%{{.*}}, %[[MAX]] :
// CHECK:   arith.subf
// CHECK:   math.exp
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[MAX]], %[[SUM]] :
// CHECK:   arith.divf
// CHECK: arith.truncf %{{.*}} : f32 to f16
func.func @softmax_f16(%x: tensor<2x5xf16>) -> tensor<2x5xf16> {
  %r = iolite.softmax %x : tensor<2x5xf16>
  return %r : tensor<2x5xf16>
}

// -----

// CHECK-LABEL: func @reduce_mean_keep_dims
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "reduction"]
// CHECK: arith.constant 1.200000e+01 : f32
// CHECK: tensor.expand_shape
func.func @reduce_mean_keep_dims(%x: tensor<2x3x4xf32>) -> tensor<2x1x1xf32> {
  %r = iolite.reduce mean %x {axes = array<i64: 1, -1>, keep_dims}
      : tensor<2x3x4xf32>
  return %r : tensor<2x1x1xf32>
}

// -----

// CHECK-LABEL: func @rms_norm
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK:   arith.mulf
// CHECK: linalg.generic
// CHECK:   math.rsqrt
// CHECK-LABEL: func @layer_norm
// Mean first, then the centred second moment (two passes).
// CHECK: %[[SUM:.*]] = linalg.generic
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[SUM]] :
// CHECK:   arith.subf
// CHECK:   arith.mulf
func.func @rms_norm(%x: tensor<2x8xf32>, %w: tensor<8xf32>) -> tensor<2x8xf32> {
  %r = iolite.rms_norm %x weight(%w : tensor<8xf32>) : tensor<2x8xf32>
  return %r : tensor<2x8xf32>
}
func.func @layer_norm(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %r = iolite.layer_norm %x : tensor<2x8xf32>
  return %r : tensor<2x8xf32>
}

// -----

// Cumsum: a loop over the axis carrying an f32 running sum.
// CHECK-LABEL: func @cumsum_reverse_exclusive
// CHECK: %[[RES:.*]]:2 = scf.for %[[I:.*]] = %c0 to %c7 step %c1 iter_args(%[[ACC:.*]] = %{{.*}}, %[[OUT:.*]] = %{{.*}}) -> (tensor<3xf32>, tensor<3x7xbf16>)
// CHECK:   %[[T:.*]] = arith.subi %c6, %[[I]]
// The step's column is sliced whole and its unit dim dropped explicitly
// (a rank-reducing slice would leave which unit dim to inference).
// CHECK:   %[[COL:.*]] = tensor.extract_slice %{{.*}}[0, %[[T]]] [3, 1] [1, 1] : tensor<3x7xbf16> to tensor<3x1xbf16>
// CHECK:   tensor.collapse_shape %[[COL]] {{\[}}[0, 1]] : tensor<3x1xbf16> into tensor<3xbf16>
// CHECK:   %[[NEW:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0, 1]] output_shape [3, 1] : tensor<3xbf16> into tensor<3x1xbf16>
// CHECK:   tensor.insert_slice %[[NEW]] into %[[OUT]][0, %[[T]]] [3, 1] [1, 1]
// CHECK: return %[[RES]]#1
func.func @cumsum_reverse_exclusive(%x: tensor<3x7xbf16>) -> tensor<3x7xbf16> {
  %r = iolite.cumsum %x {axis = 1 : i64, exclusive, reverse} : tensor<3x7xbf16>
  return %r : tensor<3x7xbf16>
}

// -----

// Top-k: k selection passes, each taking the best entry that ranks after
// the previous pass's pick (ties to the lower index).
// CHECK-LABEL: func @top_k
// CHECK: %[[RES:.*]]:4 = scf.for %{{.*}} = %c0 to %c2 step %c1
// CHECK:   linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK:     arith.cmpf ogt
// CHECK:     arith.cmpi slt
// CHECK: return %[[RES]]#0, %[[RES]]#1
func.func @top_k(%x: tensor<3x8xf32>) -> (tensor<3x2xf32>, tensor<3x2xi64>) {
  %v, %i = iolite.top_k %x {k = 2 : i64} : tensor<3x8xf32>
  return %v, %i : tensor<3x2xf32>, tensor<3x2xi64>
}

// -----

// CHECK-LABEL: func @data_movement
// CHECK: tensor.collapse_shape
// CHECK: tensor.expand_shape
// CHECK: linalg.transpose ins(%{{.*}} : tensor<2x3x4xf32>) outs(%{{.*}} : tensor<4x2x3xf32>) permutation = [2, 0, 1]
// CHECK: tensor.concat dim(1)
// CHECK: tensor.extract_slice %{{.*}}[0, 1, 0] [2, 2, 2] [1, 1, 3]
func.func @data_movement(%x: tensor<2x3x4xf32>)
    -> (tensor<4x6xf32>, tensor<4x2x3xf32>, tensor<2x6x4xf32>, tensor<2x2x2xf32>) {
  %a = iolite.reshape %x : tensor<2x3x4xf32> -> tensor<4x6xf32>
  %b = iolite.transpose %x [2, 0, 1] : tensor<2x3x4xf32>
  %c = iolite.concat %x, %x {axis = -2 : i64} : tensor<2x3x4xf32>, tensor<2x3x4xf32>
  %d = iolite.slice %x [0, 1, 0] to [2, 3, 4] step [1, 1, 3] : tensor<2x3x4xf32>
  return %a, %b, %c, %d : tensor<4x6xf32>, tensor<4x2x3xf32>, tensor<2x6x4xf32>, tensor<2x2x2xf32>
}

// -----

// Gather clamps the index to [-dim, dim), wraps negatives and reads the
// table with tensor.extract.
// CHECK-LABEL: func @gather
// CHECK: linalg.generic
// CHECK:   arith.maxsi %{{.*}}, %c-7_i64
// CHECK:   arith.minsi %{{.*}}, %c6_i64
// CHECK:   tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<7x5xf16>
func.func @gather(%t: tensor<7x5xf16>, %ids: tensor<2x3xi32>) -> tensor<2x3x5xf16> {
  %r = iolite.gather %t[%ids] {axis = 0 : i64} : tensor<7x5xf16>, tensor<2x3xi32>
  return %r : tensor<2x3x5xf16>
}

// -----

// Matmul: f32 accumulator, batch dims broadcast, transposes in the maps.
// CHECK-DAG: #[[LHS:.*]] = affine_map<(d0, d1, d2, d3) -> (0, d3, d1)>
// CHECK-DAG: #[[RHS:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
// CHECK-LABEL: func @matmul_f16
// CHECK: %[[ACC:.*]] = linalg.generic {indexing_maps = [#[[LHS]], #[[RHS]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: outs(%{{.*}} : tensor<3x5x4xf32>)
// CHECK:   arith.extf
// CHECK:   arith.mulf
// CHECK:   arith.addf
// CHECK: arith.truncf %{{.*}} : f32 to f16
func.func @matmul_f16(%a: tensor<1x7x5xf16>, %b: tensor<3x4x7xf16>) -> tensor<3x5x4xf16> {
  %r = iolite.matmul %a, %b {transpose_lhs, transpose_rhs}
      : tensor<1x7x5xf16>, tensor<3x4x7xf16>
  return %r : tensor<3x5x4xf16>
}

// -----

// CHECK-LABEL: func @rotary
// CHECK: linalg.generic
// CHECK:   %[[J:.*]] = linalg.index 3 : index
// CHECK:   arith.cmpi ult, %[[J]], %c4
// CHECK:   tensor.extract %{{.*}} : tensor<1x2x6x8xf32>
// CHECK:   tensor.extract %{{.*}} : tensor<6x4xf32>
func.func @rotary(%x: tensor<1x2x6x8xf32>, %c: tensor<6x4xf32>, %s: tensor<6x4xf32>) -> tensor<1x2x6x8xf32> {
  %r = iolite.rotary %x, %c, %s : tensor<1x2x6x8xf32>, tensor<6x4xf32>, tensor<6x4xf32>
  return %r : tensor<1x2x6x8xf32>
}

// -----

// Attention: GQA by splitting the query heads into [Hkv, G]; the causal
// diagonal sits at i + (Skv - Sq); excluded keys get -inf; a row without
// keys is shifted by 0 (not -inf) and divided only when its sum is non-zero.
// CHECK-DAG: #[[Q:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d5)>
// CHECK-DAG: #[[K:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d4, d5)>
// CHECK-LABEL: func @attention_gqa_causal_window
// CHECK: %[[Q5:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2], [3], [4]] output_shape [1, 2, 2, 3, 8] : tensor<1x4x3x8xf16> into tensor<1x2x2x3x8xf16>
// CHECK: %[[S:.*]] = linalg.generic {indexing_maps = [#[[Q]], #[[K]], #{{.*}}]{{.*}} ins(%[[Q5]], %{{.*}} : tensor<1x2x2x3x8xf16>, tensor<1x2x5x8xf16>) outs(%{{.*}} : tensor<1x2x2x3x5xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[S]] :
// CHECK:   arith.constant 0.353553385 : f32
// CHECK:   %[[POS:.*]] = arith.addi %{{.*}}, %c2_i64
// CHECK:   %[[CAUSAL:.*]] = arith.cmpi sle, %[[J:.*]], %[[POS]]
// CHECK:   %[[START:.*]] = arith.subi %[[POS]], %c2_i64
// CHECK:   %[[WIN:.*]] = arith.cmpi sgt, %[[J]], %[[START]]
// CHECK:   %[[KEEP:.*]] = arith.andi %[[CAUSAL]], %[[WIN]]
// CHECK:   arith.select %[[KEEP]], %{{.*}}, %cst
// CHECK: arith.maximumf
// CHECK: %[[NOKEY:.*]] = arith.cmpf oeq, %{{.*}}, %{{.*}} : f32
// CHECK: arith.select %[[NOKEY]]
// CHECK: math.exp
// CHECK: arith.cmpf oeq
// CHECK: arith.divf
// CHECK: arith.truncf %{{.*}} : f32 to f16
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2], [3], [4]] : tensor<1x2x2x3x8xf16> into tensor<1x4x3x8xf16>
func.func @attention_gqa_causal_window(%q: tensor<1x4x3x8xf16>, %k: tensor<1x2x5x8xf16>,
                                       %v: tensor<1x2x5x8xf16>) -> tensor<1x4x3x8xf16> {
  %o = iolite.attention %q, %k, %v {causal, window = 2 : i64}
      : tensor<1x4x3x8xf16>, tensor<1x2x5x8xf16>, tensor<1x2x5x8xf16>
  return %o : tensor<1x4x3x8xf16>
}

// -----

// A per-head mask splits its head dim like the queries; slopes too.
// CHECK-DAG: #[[M:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (0, d1, d2, d3, d4)>
// CHECK-DAG: #[[SL:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d1, d2)>
// CHECK-LABEL: func @attention_mask_alibi_softcap
// CHECK: %[[M5:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2], [3], [4]] {{.*}} : tensor<1x4x3x5xi1> into tensor<1x2x2x3x5xi1>
// CHECK: %[[SL2:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0, 1]] {{.*}} : tensor<4xf32> into tensor<2x2xf32>
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[M]], #[[SL]], #{{.*}}]{{.*}} ins(%{{.*}}, %[[M5]], %[[SL2]] :
// CHECK:   math.tanh
// CHECK:   arith.sitofp
// CHECK:   arith.select
func.func @attention_mask_alibi_softcap(%q: tensor<2x4x3x8xf32>, %k: tensor<2x2x5x8xf32>,
    %v: tensor<2x2x5x8xf32>, %m: tensor<1x4x3x5xi1>, %s: tensor<4xf32>) -> tensor<2x4x3x8xf32> {
  %o = iolite.attention %q, %k, %v mask(%m : tensor<1x4x3x5xi1>)
      alibi_slopes(%s : tensor<4xf32>) {softcap = 30.0 : f32}
      : tensor<2x4x3x8xf32>, tensor<2x2x5x8xf32>, tensor<2x2x5x8xf32>
  return %o : tensor<2x4x3x8xf32>
}

// -----

// conv1d pads K-1 zeros in front and reads x[t + k].
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2 + d3)>
// CHECK-LABEL: func @conv1d
// CHECK: %[[P:.*]] = tensor.pad %{{.*}} low[0, 0, 3] high[0, 0, 0]
// CHECK: linalg.generic {indexing_maps = [#[[X]], {{.*}} ins(%[[P]], %{{.*}} : tensor<1x4x13xf32>, tensor<4x4xf32>)
// CHECK: arith.divf
func.func @conv1d(%x: tensor<1x4x10xf32>, %w: tensor<4x4xf32>, %b: tensor<4xf32>) -> tensor<1x4x10xf32> {
  %r = iolite.conv1d %x, %w bias(%b : tensor<4xf32>) activation = silu : tensor<1x4x10xf32>, tensor<4x4xf32>
  return %r : tensor<1x4x10xf32>
}

// -----

// CHECK-DAG: #[[XL:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2 - d3 + 7)>
// CHECK-LABEL: func @long_conv
// CHECK: tensor.pad %{{.*}} low[0, 0, 7]
// CHECK: linalg.generic {indexing_maps = [#[[XL]]
func.func @long_conv(%x: tensor<1x4x8xf32>, %f: tensor<4x8xf32>, %d: tensor<4xf32>) -> tensor<1x4x8xf32> {
  %r = iolite.long_conv %x, %f D(%d : tensor<4xf32>) : tensor<1x4x8xf32>, tensor<4x8xf32>
  return %r : tensor<1x4x8xf32>
}

// -----

// The selective scan is its recurrence: a loop over time carrying the f32
// state [B, D, N], updated in place.
// CHECK-LABEL: func @selective_scan
// CHECK: %[[H0:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x4x3xf32>)
// CHECK: %[[R:.*]]:2 = scf.for %{{.*}} = %c0 to %c9 step %c1 iter_args(%[[H:.*]] = %[[H0]], %{{.*}} = %{{.*}}) -> (tensor<1x4x3xf32>, tensor<1x4x9xbf16>)
// CHECK:   linalg.generic {{.*}} outs(%[[H]] : tensor<1x4x3xf32>)
// CHECK:     math.exp
// CHECK:   linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:   tensor.insert_slice
// CHECK: return %[[R]]#1
func.func @selective_scan(%u: tensor<1x4x9xbf16>, %dt: tensor<1x4x9xbf16>, %a: tensor<4x3xf32>,
                          %b: tensor<1x3x9xbf16>, %c: tensor<1x3x9xbf16>, %d: tensor<4xf32>,
                          %z: tensor<1x4x9xbf16>) -> tensor<1x4x9xbf16> {
  %y = iolite.selective_scan %u, %dt, %a, %b, %c D(%d : tensor<4xf32>) z(%z : tensor<1x4x9xbf16>)
      {delta_softplus} : tensor<1x4x9xbf16>, tensor<1x4x9xbf16>, tensor<4x3xf32>,
      tensor<1x3x9xbf16>, tensor<1x3x9xbf16>
  return %y : tensor<1x4x9xbf16>
}

// -----

// SSD: heads split into [G, H/G]; state [B, G, H/G, P, N].
// CHECK-LABEL: func @ssd
// CHECK: tensor.expand_shape %{{.*}} : tensor<1x6x4x2xf32> into tensor<1x6x2x2x2xf32>
// CHECK: scf.for {{.*}} -> (tensor<1x2x2x2x3xf32>, tensor<1x6x2x2x2xf32>)
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3], [4]] : tensor<1x6x2x2x2xf32> into tensor<1x6x4x2xf32>
func.func @ssd(%x: tensor<1x6x4x2xf32>, %dt: tensor<1x6x4xf32>, %a: tensor<4xf32>,
               %b: tensor<1x6x2x3xf32>, %c: tensor<1x6x2x3xf32>) -> tensor<1x6x4x2xf32> {
  %y = iolite.ssd %x, %dt, %a, %b, %c {chunk_size = 4 : i64}
      : tensor<1x6x4x2xf32>, tensor<1x6x4xf32>, tensor<4xf32>, tensor<1x6x2x3xf32>,
        tensor<1x6x2x3xf32>
  return %y : tensor<1x6x4x2xf32>
}

// -----

// CHECK-LABEL: func @moe
// Router: softmax statistics, then k selection passes.
// CHECK: scf.for %{{.*}} = %c0 to %c2
// Dispatch: counts, exclusive offsets, a stable placement loop, a gather.
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c8{{.*}} iter_args({{.*}}) -> (tensor<5xi32>, tensor<8xi32>)
// CHECK:   tensor.extract
// CHECK:   tensor.insert
// CHECK: linalg.generic
// CHECK:   arith.divui
// Grouped matmul: group per row from the offsets, weights read directly.
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:   tensor.extract %{{.*}} : tensor<4x6x5xf32>
// Combine: inverse permutation, then a weighted sum in order of j.
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c8{{.*}} -> (tensor<8xi64>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
func.func @moe(%x: tensor<4x6xf32>, %logits: tensor<4x4xf32>, %w: tensor<4x6x5xf32>) -> tensor<4x5xf32> {
  %wt, %ids = iolite.router %logits {k = 2 : i64, renormalize} : tensor<4x4xf32>
  %xs, %rows, %offs = iolite.dispatch %x, %ids {num_experts = 4 : i64}
      : tensor<4x6xf32>, tensor<4x2xi32>
  %h = iolite.grouped_matmul %xs, %w, %offs : tensor<8x6xf32>, tensor<4x6x5xf32>, tensor<5xi32>
  %y = iolite.combine %h, %rows, %wt : tensor<8x5xf32>, tensor<8xi32>, tensor<4x2xf32>
  return %y : tensor<4x5xf32>
}

// -----

// A kernel's body runs in place of the kernel.
// CHECK-LABEL: func @kernel
// CHECK-NOT: iolite.kernel
// CHECK: linalg.generic
// CHECK:   math.rsqrt
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%[[N:.*]], %[[N]] :
// CHECK:   arith.addf
// CHECK: return %[[S]]
func.func @kernel(%x: tensor<8x64xf32>, %w: tensor<64xf32>) -> tensor<8x64xf32> {
  %r = iolite.kernel "k0" (%x, %w) : (tensor<8x64xf32>, tensor<64xf32>) -> tensor<8x64xf32> {
  ^bb0(%a: tensor<8x64xf32>, %b: tensor<64xf32>):
    %y = iolite.rms_norm %a weight(%b : tensor<64xf32>) : tensor<8x64xf32>
    iolite.yield %y : tensor<8x64xf32>
  }
  %s = iolite.add %r, %r : tensor<8x64xf32>, tensor<8x64xf32>
  return %s : tensor<8x64xf32>
}

// -----

func.func @dynamic(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'iolite.exp' op cannot be lowered with dynamic shapes: operand #0 has type 'tensor<?x8xf32>'}}
  %r = iolite.exp %x : tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

// An append is a loop over sequences and new tokens that inserts one row
// at lens[b] + t, skipped when the row is past the cache.
// CHECK-LABEL: func @kv_cache_append
// CHECK: scf.for %[[B:.*]] = %{{.*}} to %c2 step %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}})
// CHECK:   scf.for %[[T:.*]] = %{{.*}} to %c3 step %{{.*}} iter_args(%[[KC:.*]] = %{{.*}}, %[[VC:.*]] = %{{.*}})
// CHECK:     %[[LEN:.*]] = tensor.extract %{{.*}}[%[[B]]] : tensor<2xi32>
// CHECK:     %[[LENI:.*]] = arith.index_cast %[[LEN]] : i32 to index
// CHECK:     %[[POS:.*]] = arith.addi %[[LENI]], %[[T]] : index
// CHECK:     arith.cmpi slt, %[[POS]], %c16
// CHECK:     scf.if
// CHECK:       %[[ROW:.*]] = tensor.extract_slice %{{.*}}[%[[B]], %[[T]], 0, 0] [1, 1, 2, 8] [1, 1, 1, 1] : tensor<2x3x2x8xf16> to tensor<1x1x2x8xf16>
// CHECK:       tensor.insert_slice %[[ROW]] into %[[KC]][%[[B]], %[[POS]], 0, 0] [1, 1, 2, 8]
// CHECK:       tensor.insert_slice %{{.*}} into %[[VC]][%[[B]], %[[POS]], 0, 0] [1, 1, 2, 4]
// CHECK:     } else {
// CHECK:       scf.yield %[[KC]], %[[VC]]
func.func @kv_cache_append(%kc: tensor<2x16x2x8xf16>, %vc: tensor<2x16x2x4xf16>,
                           %k: tensor<2x3x2x8xf16>, %v: tensor<2x3x2x4xf16>,
                           %lens: tensor<2xi32>) -> (tensor<2x16x2x8xf16>, tensor<2x16x2x4xf16>) {
  %c:2 = iolite.kv_cache_append %kc, %vc, %k, %v, %lens
      : tensor<2x16x2x8xf16>, tensor<2x16x2x4xf16>, tensor<2x3x2x8xf16>,
        tensor<2x3x2x4xf16>, tensor<2xi32>
  return %c#0, %c#1 : tensor<2x16x2x8xf16>, tensor<2x16x2x4xf16>
}

// -----

// A paged append writes slot p % P of page table[b, p / P]; a block past
// the table or a page outside the pool skips the write.
// CHECK-LABEL: func @kv_cache_append_paged
// CHECK: %[[POS:.*]] = arith.addi
// CHECK: %[[BLOCK:.*]] = arith.divsi %[[POS]], %c4
// CHECK: %[[SLOT:.*]] = arith.remsi %[[POS]], %c4
// CHECK: arith.cmpi slt, %[[BLOCK]], %c3
// CHECK: %[[PAGE:.*]] = tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<2x3xi32>
// CHECK: %[[PAGEI:.*]] = arith.index_cast %[[PAGE]] : i32 to index
// CHECK: arith.cmpi slt, %[[PAGEI]], %c6
// CHECK: scf.if
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[%[[PAGEI]], %[[SLOT]], 0, 0] [1, 1, 2, 8]
func.func @kv_cache_append_paged(%pool: tensor<6x4x2x8xf16>, %k: tensor<2x3x2x8xf16>,
                                 %lens: tensor<2xi32>, %table: tensor<2x3xi32>) -> tensor<6x4x2x8xf16> {
  %c:2 = iolite.kv_cache_append %pool, %pool, %k, %k, %lens block_table(%table : tensor<2x3xi32>)
      : tensor<6x4x2x8xf16>, tensor<6x4x2x8xf16>, tensor<2x3x2x8xf16>, tensor<2x3x2x8xf16>, tensor<2xi32>
  return %c#0 : tensor<6x4x2x8xf16>
}

// -----

// Attention over a paged cache gathers each sequence's pages into
// [B, Hkv, M*P, D] (a table entry outside the pool is clamped: only masked
// positions may hold one), masks key j of sequence b by j < n_b and, causal,
// j <= n_b - Sq + i, and runs attention's own lowering.
// CHECK-LABEL: func @cache_attention_paged
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<2x2x12x8xf16>)
// CHECK:   %[[J:.*]] = linalg.index 2 : index
// CHECK:   %[[BLOCK:.*]] = arith.divui %[[J]], %c4
// CHECK:   %[[SLOT:.*]] = arith.remui %[[J]], %c4
// CHECK:   %[[PAGE:.*]] = tensor.extract %{{.*}}[%{{.*}}, %[[BLOCK]]] : tensor<2x3xi32>
// CHECK:   %[[PAGEI:.*]] = arith.index_cast %[[PAGE]] : i32 to index
// CHECK:   %[[LO:.*]] = arith.maxsi %[[PAGEI]], %c0
// CHECK:   %[[CLAMPED:.*]] = arith.minsi %[[LO]], %c7
// CHECK:   tensor.extract %{{.*}}[%[[CLAMPED]], %[[SLOT]], %{{.*}}, %{{.*}}] : tensor<8x4x2x8xf16>
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<2xi32>) outs(%{{.*}} : tensor<2x1x1x12xi1>)
// CHECK:   %[[N:.*]] = arith.extsi %{{.*}} : i32 to i64
// CHECK:   %[[KEY:.*]] = arith.index_cast %{{.*}} : index to i64
// CHECK:   %[[VALID:.*]] = arith.cmpi slt, %[[KEY]], %[[N]] : i64
// CHECK:   %[[FIRST:.*]] = arith.subi %[[N]], %c1_i64 : i64
// CHECK:   %[[POS:.*]] = arith.addi %[[FIRST]], %{{.*}} : i64
// CHECK:   %[[CAUSAL:.*]] = arith.cmpi sle, %[[KEY]], %[[POS]] : i64
// CHECK:   arith.andi %[[VALID]], %[[CAUSAL]] : i1
// CHECK: linalg.transpose ins(%{{.*}} : tensor<2x1x4x8xf16>) {{.*}} permutation = [0, 2, 1, 3]
// CHECK: math.exp
// CHECK: linalg.transpose ins(%{{.*}} : tensor<2x4x1x8xf16>) {{.*}} permutation = [0, 2, 1, 3]
func.func @cache_attention_paged(%q: tensor<2x1x4x8xf16>, %pool: tensor<8x4x2x8xf16>,
                                 %lens: tensor<2xi32>, %table: tensor<2x3xi32>) -> tensor<2x1x4x8xf16> {
  %o = iolite.cache_attention %q, %pool, %pool, %lens block_table(%table : tensor<2x3xi32>) {causal}
      : tensor<2x1x4x8xf16>, tensor<8x4x2x8xf16>, tensor<8x4x2x8xf16>, tensor<2xi32>
  return %o : tensor<2x1x4x8xf16>
}

// -----

// Varlen attention finds each query's sequence (how many ends cu_q[1..B]
// are <= i), keeps keys cu_k[s] <= j < cu_k[s+1] and, causal,
// j <= i + cu_k[s+1] - cu_q[s+1], over one packed sequence.
// CHECK-DAG: #[[ENDS:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[ROWS:.*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func @varlen_attention
// CHECK: %[[E:.*]] = tensor.extract_slice %{{.*}}[1] [2] [1] : tensor<3xi32> to tensor<2xi32>
// CHECK: %[[SEQ:.*]] = linalg.generic {indexing_maps = [#[[ENDS]], #[[ROWS]]], iterator_types = ["parallel", "reduction"]} ins(%[[E]] : tensor<2xi32>) outs(%{{.*}} : tensor<12xi64>)
// CHECK:   arith.cmpi sle
// CHECK: linalg.generic {{.*}} ins(%[[SEQ]] : tensor<12xi64>) outs(%{{.*}} : tensor<1x1x12x10xi1>)
// CHECK:   arith.extsi %{{.*}} : i32 to i64
// CHECK:   %[[Q1:.*]] = arith.extsi %{{.*}} : i32 to i64
// CHECK:   arith.extsi %{{.*}} : i32 to i64
// CHECK:   %[[K1:.*]] = arith.extsi %{{.*}} : i32 to i64
// CHECK:   %[[LIM0:.*]] = arith.addi %{{.*}}, %[[K1]] : i64
// CHECK:   %[[LIM:.*]] = arith.subi %[[LIM0]], %[[Q1]] : i64
// CHECK:   arith.cmpi sle, %{{.*}}, %[[LIM]] : i64
// CHECK: math.exp
// CHECK: linalg.transpose ins(%{{.*}} : tensor<1x4x12x8xf32>) {{.*}} permutation = [0, 2, 1, 3]
// CHECK: tensor.expand_shape %{{.*}} output_shape [12, 4, 8] : tensor<384xf32> into tensor<12x4x8xf32>
func.func @varlen_attention(%q: tensor<12x4x8xf32>, %k: tensor<10x2x8xf32>,
                            %cuq: tensor<3xi32>, %cuk: tensor<3xi32>) -> tensor<12x4x8xf32> {
  %o = iolite.varlen_attention %q, %k, %k, %cuq, %cuk {causal}
      : tensor<12x4x8xf32>, tensor<10x2x8xf32>, tensor<10x2x8xf32>, tensor<3xi32>, tensor<3xi32>
  return %o : tensor<12x4x8xf32>
}

// -----

// conv1d with a state convolves [state, x] instead of zero-padded x; the
// final state is the last K-1 columns of [state, x].
// CHECK-LABEL: func @conv1d_with_state
// CHECK: %[[E:.*]] = tensor.empty() : tensor<2x8x8xf32>
// CHECK: %[[S:.*]] = tensor.insert_slice %{{.*}} into %[[E]][0, 0, 0] [2, 8, 3] [1, 1, 1] : tensor<2x8x3xf32> into tensor<2x8x8xf32>
// CHECK: %[[XX:.*]] = tensor.insert_slice %{{.*}} into %[[S]][0, 0, 3] [2, 8, 5] [1, 1, 1] : tensor<2x8x5xf32> into tensor<2x8x8xf32>
// CHECK: linalg.generic {{.*}} ins(%[[XX]], %{{.*}} : tensor<2x8x8xf32>, tensor<8x4xf32>) outs(%{{.*}} : tensor<2x8x5xf32>)
// CHECK: tensor.extract_slice %[[XX]][0, 0, 5] [2, 8, 3] [1, 1, 1] : tensor<2x8x8xf32> to tensor<2x8x3xf32>
// CHECK-NOT: tensor.pad
func.func @conv1d_with_state(%x: tensor<2x8x5xf32>, %w: tensor<8x4xf32>, %s: tensor<2x8x3xf32>)
    -> (tensor<2x8x5xf32>, tensor<2x8x3xf32>) {
  %y, %s2 = iolite.conv1d_with_state %x, %w, %s : tensor<2x8x5xf32>, tensor<8x4xf32>, tensor<2x8x3xf32>
  return %y, %s2 : tensor<2x8x5xf32>, tensor<2x8x3xf32>
}

// -----

// The scan with a state starts its loop from the state instead of zeros and
// returns the loop's final state.
// CHECK-LABEL: func @selective_scan_with_state
// CHECK-SAME: %[[H0:[a-z0-9]+]]: tensor<1x4x3xf32>) -> (tensor<1x4x5xf32>, tensor<1x4x3xf32>)
// CHECK-NOT: linalg.fill {{.*}} -> tensor<1x4x3xf32>
// CHECK: %[[LOOP:.*]]:2 = scf.for {{.*}} iter_args(%{{.*}} = %[[H0]], %{{.*}} = %{{.*}}) -> (tensor<1x4x3xf32>, tensor<1x4x5xf32>)
// CHECK: return %[[LOOP]]#1, %[[LOOP]]#0 : tensor<1x4x5xf32>, tensor<1x4x3xf32>
func.func @selective_scan_with_state(%u: tensor<1x4x5xf32>, %A: tensor<4x3xf32>, %B: tensor<1x3x5xf32>,
                                     %h: tensor<1x4x3xf32>) -> (tensor<1x4x5xf32>, tensor<1x4x3xf32>) {
  %y, %h2 = iolite.selective_scan_with_state %u, %u, %A, %B, %B, %h
      : tensor<1x4x5xf32>, tensor<1x4x5xf32>, tensor<4x3xf32>, tensor<1x3x5xf32>, tensor<1x3x5xf32>, tensor<1x4x3xf32>
  return %y, %h2 : tensor<1x4x5xf32>, tensor<1x4x3xf32>
}
