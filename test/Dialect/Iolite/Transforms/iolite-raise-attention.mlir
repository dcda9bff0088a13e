// RUN: iolite-opt %s --split-input-file --iolite-raise-attention | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-raise-attention=remarks=true 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK

// The form PyTorch's exporter gives HF-style attention: K transposed for
// the matmul, divided by sqrt(D), an additive mask input, softmax in f32
// cast back, and the output matmul.

// CHECK-LABEL: func @mha_additive_mask
// CHECK-SAME: (%[[Q:.*]]: tensor<1x2x4x16xf32>, %[[K:.*]]: tensor<1x2x4x16xf32>, %[[V:.*]]: tensor<1x2x4x16xf32>, %[[M:.*]]: tensor<1x1x4x4xf32>)
// CHECK-NEXT: %[[O:.*]] = iolite.attention %[[Q]], %[[K]], %[[V]] mask(%[[M]] : tensor<1x1x4x4xf32>) {scale = 2.500000e-01 : f32}
// CHECK-NEXT: return %[[O]]
// REMARK: remark: raised to iolite.attention (2 query heads, 2 kv heads, scale 0.25, masked)
func.func @mha_additive_mask(%q: tensor<1x2x4x16xf32>, %k: tensor<1x2x4x16xf32>,
                             %v: tensor<1x2x4x16xf32>, %m: tensor<1x1x4x4xf32>)
    -> tensor<1x2x4x16xf32> {
  %kt = iolite.transpose %k [0, 1, 3, 2] : tensor<1x2x4x16xf32>
  %s = iolite.matmul %q, %kt : tensor<1x2x4x16xf32>, tensor<1x2x16x4xf32>
  %c = iolite.constant dense<4.0> : tensor<f32>
  %d = iolite.div %s, %c : tensor<1x2x4x4xf32>, tensor<f32>
  %a = iolite.add %d, %m : tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>
  %p = iolite.softmax %a {axis = -1 : i64} : tensor<1x2x4x4xf32>
  %o = iolite.matmul %p, %v : tensor<1x2x4x4xf32>, tensor<1x2x4x16xf32>
  return %o : tensor<1x2x4x16xf32>
}

// -----

// GQA as Llama's repeat_kv exports it: unsqueeze (reshape), expand
// (broadcast), reshape, for K (then transposed) and V.

// CHECK-LABEL: func @gqa_expand
// CHECK-SAME: (%[[Q:.*]]: tensor<1x4x8x16xf32>, %[[K:.*]]: tensor<1x2x8x16xf32>, %[[V:.*]]: tensor<1x2x8x16xf32>, %[[M:.*]]: tensor<1x1x8x8xf32>)
// CHECK-NEXT: %[[O:.*]] = iolite.attention %[[Q]], %[[K]], %[[V]] mask(%[[M]] : tensor<1x1x8x8xf32>) {scale = 2.500000e-01 : f32} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
// CHECK-NEXT: return %[[O]]
// REMARK: remark: raised to iolite.attention (4 query heads, 2 kv heads, GQA repeat absorbed, scale 0.25, masked)
func.func @gqa_expand(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>,
                      %v: tensor<1x2x8x16xf32>, %m: tensor<1x1x8x8xf32>)
    -> tensor<1x4x8x16xf32> {
  %k5 = iolite.reshape %k : tensor<1x2x8x16xf32> -> tensor<1x2x1x8x16xf32>
  %ke = iolite.broadcast %k5 : tensor<1x2x1x8x16xf32> -> tensor<1x2x2x8x16xf32>
  %kr = iolite.reshape %ke : tensor<1x2x2x8x16xf32> -> tensor<1x4x8x16xf32>
  %v5 = iolite.reshape %v : tensor<1x2x8x16xf32> -> tensor<1x2x1x8x16xf32>
  %ve = iolite.broadcast %v5 : tensor<1x2x1x8x16xf32> -> tensor<1x2x2x8x16xf32>
  %vr = iolite.reshape %ve : tensor<1x2x2x8x16xf32> -> tensor<1x4x8x16xf32>
  %kt = iolite.transpose %kr [0, 1, 3, 2] : tensor<1x4x8x16xf32>
  %s = iolite.matmul %q, %kt : tensor<1x4x8x16xf32>, tensor<1x4x16x8xf32>
  %c = iolite.constant dense<4.0> : tensor<f32>
  %d = iolite.div %s, %c : tensor<1x4x8x8xf32>, tensor<f32>
  %a = iolite.add %d, %m : tensor<1x4x8x8xf32>, tensor<1x1x8x8xf32>
  %p = iolite.softmax %a {axis = -1 : i64} : tensor<1x4x8x8xf32>
  %o = iolite.matmul %p, %vr : tensor<1x4x8x8xf32>, tensor<1x4x8x16xf32>
  return %o : tensor<1x4x8x16xf32>
}

// -----

// GQA through repeat_interleave (per-head split, expand, concat), a
// masked_fill(~tril, -inf) causal mask folded to a constant, and a mul
// scale.

// CHECK-LABEL: func @gqa_repeat_interleave_causal
// CHECK-SAME: (%[[Q:.*]]: tensor<1x4x8x16xf32>, %[[K:.*]]: tensor<1x2x8x16xf32>, %[[V:.*]]: tensor<1x2x8x16xf32>)
// CHECK-NEXT: %[[O:.*]] = iolite.attention %[[Q]], %[[K]], %[[V]] {causal, scale = 1.250000e-01 : f32} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
// CHECK-NEXT: return %[[O]]
func.func @gqa_repeat_interleave_causal(%q: tensor<1x4x8x16xf32>,
    %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>)
    -> tensor<1x4x8x16xf32> {
  %k0 = iolite.slice %k [0, 0, 0, 0] to [1, 1, 8, 16] : tensor<1x2x8x16xf32>
  %k1 = iolite.slice %k [0, 1, 0, 0] to [1, 2, 8, 16] : tensor<1x2x8x16xf32>
  %k05 = iolite.reshape %k0 : tensor<1x1x8x16xf32> -> tensor<1x1x1x8x16xf32>
  %k0e = iolite.broadcast %k05 : tensor<1x1x1x8x16xf32> -> tensor<1x1x2x8x16xf32>
  %k0r = iolite.reshape %k0e : tensor<1x1x2x8x16xf32> -> tensor<1x2x8x16xf32>
  %k15 = iolite.reshape %k1 : tensor<1x1x8x16xf32> -> tensor<1x1x1x8x16xf32>
  %k1e = iolite.broadcast %k15 : tensor<1x1x1x8x16xf32> -> tensor<1x1x2x8x16xf32>
  %k1r = iolite.reshape %k1e : tensor<1x1x2x8x16xf32> -> tensor<1x2x8x16xf32>
  %kr = iolite.concat %k0r, %k1r {axis = 1 : i64} : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  %v5 = iolite.reshape %v : tensor<1x2x8x16xf32> -> tensor<1x2x1x8x16xf32>
  %ve = iolite.broadcast %v5 : tensor<1x2x1x8x16xf32> -> tensor<1x2x2x8x16xf32>
  %vr = iolite.reshape %ve : tensor<1x2x2x8x16xf32> -> tensor<1x4x8x16xf32>
  %kt = iolite.transpose %kr [0, 1, 3, 2] : tensor<1x4x8x16xf32>
  %s = iolite.matmul %q, %kt : tensor<1x4x8x16xf32>, tensor<1x4x16x8xf32>
  %c = iolite.constant dense<0.125> : tensor<f32>
  %d = iolite.mul %s, %c : tensor<1x4x8x8xf32>, tensor<f32>
  %notcausal = iolite.constant dense<[
      [false, true, true, true, true, true, true, true],
      [false, false, true, true, true, true, true, true],
      [false, false, false, true, true, true, true, true],
      [false, false, false, false, true, true, true, true],
      [false, false, false, false, false, true, true, true],
      [false, false, false, false, false, false, true, true],
      [false, false, false, false, false, false, false, true],
      [false, false, false, false, false, false, false, false]]> : tensor<8x8xi1>
  %ninf = iolite.constant dense<0xFF800000> : tensor<f32>
  %w = iolite.select %notcausal, %ninf, %d : tensor<8x8xi1>, tensor<f32>, tensor<1x4x8x8xf32>
  %p = iolite.softmax %w {axis = -1 : i64} : tensor<1x4x8x8xf32>
  %o = iolite.matmul %p, %vr : tensor<1x4x8x8xf32>, tensor<1x4x8x16xf32>
  return %o : tensor<1x4x8x16xf32>
}

// -----

// GPT-2: the causal mask is a slice of a constant tril buffer, kept with
// where(mask, scores, finfo.min); the scores come from a transpose_rhs
// matmul and the query is pre-scaled.

// CHECK-LABEL: func @gpt2_sliced_buffer
// CHECK-SAME: (%[[Q:.*]]: tensor<1x2x4x8xf32>, %[[K:.*]]: tensor<1x2x6x8xf32>, %[[V:.*]]: tensor<1x2x6x8xf32>)
// CHECK-NEXT: %[[O:.*]] = iolite.attention %[[Q]], %[[K]], %[[V]] {causal, scale = 5.000000e-01 : f32}
// CHECK-NEXT: return %[[O]]
func.func @gpt2_sliced_buffer(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x6x8xf32>,
                              %v: tensor<1x2x6x8xf32>) -> tensor<1x2x4x8xf32> {
  %half = iolite.constant dense<0.5> : tensor<f32>
  %qs = iolite.mul %q, %half : tensor<1x2x4x8xf32>, tensor<f32>
  %s = iolite.matmul %qs, %k {transpose_rhs} : tensor<1x2x4x8xf32>, tensor<1x2x6x8xf32>
  %bias = iolite.constant dense<[[
      [true, false, false, false, false, false, false, false],
      [true, true, false, false, false, false, false, false],
      [true, true, true, false, false, false, false, false],
      [true, true, true, true, false, false, false, false],
      [true, true, true, true, true, false, false, false],
      [true, true, true, true, true, true, false, false],
      [true, true, true, true, true, true, true, false],
      [true, true, true, true, true, true, true, true]]]> : tensor<1x8x8xi1>
  %cm = iolite.slice %bias [0, 2, 0] to [1, 6, 6] : tensor<1x8x8xi1>
  %min = iolite.constant dense<-3.40282347E+38> : tensor<f32>
  %w = iolite.select %cm, %s, %min : tensor<1x4x6xi1>, tensor<1x2x4x6xf32>, tensor<f32>
  %p = iolite.softmax %w {axis = 3 : i64} : tensor<1x2x4x6xf32>
  %o = iolite.matmul %p, %v : tensor<1x2x4x6xf32>, tensor<1x2x6x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// f16 with the softmax in f32; a boolean padding mask that is not causal
// stays a mask operand; the scale comes after the mask.

// CHECK-LABEL: func @f16_bool_mask
// CHECK-SAME: (%[[Q:.*]]: tensor<2x2x4x8xf16>, %[[K:.*]]: tensor<2x2x4x8xf16>, %[[V:.*]]: tensor<2x2x4x8xf16>, %[[KEEP:.*]]: tensor<2x1x1x4xi1>)
// CHECK-NEXT: %[[O:.*]] = iolite.attention %[[Q]], %[[K]], %[[V]] mask(%[[KEEP]] : tensor<2x1x1x4xi1>) {scale = 2.500000e-01 : f32}
// CHECK-NEXT: return %[[O]]
func.func @f16_bool_mask(%q: tensor<2x2x4x8xf16>, %k: tensor<2x2x4x8xf16>,
                         %v: tensor<2x2x4x8xf16>, %keep: tensor<2x1x1x4xi1>)
    -> tensor<2x2x4x8xf16> {
  %kt = iolite.transpose %k [0, 1, 3, 2] : tensor<2x2x4x8xf16>
  %s = iolite.matmul %q, %kt : tensor<2x2x4x8xf16>, tensor<2x2x8x4xf16>
  %s32 = iolite.cast %s : tensor<2x2x4x4xf16> to tensor<2x2x4x4xf32>
  %ninf = iolite.constant dense<0xFF800000> : tensor<f32>
  %w = iolite.select %keep, %s32, %ninf : tensor<2x1x1x4xi1>, tensor<2x2x4x4xf32>, tensor<f32>
  %c = iolite.constant dense<0.25> : tensor<f32>
  %d = iolite.mul %c, %w : tensor<f32>, tensor<2x2x4x4xf32>
  %p = iolite.softmax %d {axis = -1 : i64} : tensor<2x2x4x4xf32>
  %p16 = iolite.cast %p : tensor<2x2x4x4xf32> to tensor<2x2x4x4xf16>
  %o = iolite.matmul %p16, %v : tensor<2x2x4x4xf16>, tensor<2x2x4x8xf16>
  return %o : tensor<2x2x4x8xf16>
}

// -----

// An additive mask added before the scale is scaled with the scores.

// CHECK-LABEL: func @mask_before_scale
// CHECK-SAME: (%[[Q:.*]]: tensor<1x1x4x8xf32>, %[[K:.*]]: tensor<1x1x4x8xf32>, %[[V:.*]]: tensor<1x1x4x8xf32>, %[[M:.*]]: tensor<4x4xf32>)
// CHECK: %[[C:.*]] = iolite.constant dense<5.000000e-01> : tensor<f32>
// CHECK: %[[SM:.*]] = iolite.mul %[[M]], %[[C]]
// CHECK: iolite.attention %[[Q]], %[[K]], %[[V]] mask(%[[SM]] : tensor<4x4xf32>) {scale = 5.000000e-01 : f32}
func.func @mask_before_scale(%q: tensor<1x1x4x8xf32>, %k: tensor<1x1x4x8xf32>,
                             %v: tensor<1x1x4x8xf32>, %m: tensor<4x4xf32>)
    -> tensor<1x1x4x8xf32> {
  %s = iolite.matmul %q, %k {transpose_rhs} : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>
  %a = iolite.add %m, %s : tensor<4x4xf32>, tensor<1x1x4x4xf32>
  %c = iolite.constant dense<2.0> : tensor<f32>
  %d = iolite.div %a, %c : tensor<1x1x4x4xf32>, tensor<f32>
  %p = iolite.softmax %d {axis = -1 : i64} : tensor<1x1x4x4xf32>
  %o = iolite.matmul %p, %v : tensor<1x1x4x4xf32>, tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}

// -----

// Batch and heads folded into one dim (rank 3): reshaped to [1, B*H, S, D]
// around the attention; no scale means scale 1.

// CHECK-LABEL: func @rank3
// CHECK-SAME: (%[[Q:.*]]: tensor<6x4x8xf32>, %[[K:.*]]: tensor<6x4x8xf32>, %[[V:.*]]: tensor<6x4x8xf32>)
// CHECK-DAG: %[[Q4:.*]] = iolite.reshape %[[Q]] : tensor<6x4x8xf32> -> tensor<1x6x4x8xf32>
// CHECK-DAG: %[[K4:.*]] = iolite.reshape %[[K]] : tensor<6x4x8xf32> -> tensor<1x6x4x8xf32>
// CHECK-DAG: %[[V4:.*]] = iolite.reshape %[[V]] : tensor<6x4x8xf32> -> tensor<1x6x4x8xf32>
// CHECK: %[[A:.*]] = iolite.attention %[[Q4]], %[[K4]], %[[V4]] {scale = 1.000000e+00 : f32}
// CHECK: %[[O:.*]] = iolite.reshape %[[A]] : tensor<1x6x4x8xf32> -> tensor<6x4x8xf32>
// CHECK: return %[[O]]
func.func @rank3(%q: tensor<6x4x8xf32>, %k: tensor<6x4x8xf32>,
                 %v: tensor<6x4x8xf32>) -> tensor<6x4x8xf32> {
  %kt = iolite.transpose %k [0, 2, 1] : tensor<6x4x8xf32>
  %s = iolite.matmul %q, %kt : tensor<6x4x8xf32>, tensor<6x8x4xf32>
  %p = iolite.softmax %s {axis = 2 : i64} : tensor<6x4x4xf32>
  %o = iolite.matmul %p, %v : tensor<6x4x4xf32>, tensor<6x4x8xf32>
  return %o : tensor<6x4x8xf32>
}

// -----

// K repeated with Tile (head h reads kv head h mod Hkv): not the GQA
// mapping of iolite.attention, so the repeated K and V stay materialised
// and the attention runs with as many kv heads as query heads.

// CHECK-LABEL: func @tile_repeat_not_gqa
// CHECK: %[[KR:.*]] = iolite.reshape %{{.*}} : tensor<1x2x2x8x16xf32> -> tensor<1x4x8x16xf32>
// CHECK: %[[VR:.*]] = iolite.reshape %{{.*}} : tensor<1x2x2x8x16xf32> -> tensor<1x4x8x16xf32>
// CHECK: iolite.attention %{{.*}}, %[[KR]], %[[VR]] {scale = 1.000000e+00 : f32} : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
func.func @tile_repeat_not_gqa(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>,
                               %v: tensor<1x2x8x16xf32>) -> tensor<1x4x8x16xf32> {
  %k5 = iolite.reshape %k : tensor<1x2x8x16xf32> -> tensor<1x1x2x8x16xf32>
  %ke = iolite.broadcast %k5 : tensor<1x1x2x8x16xf32> -> tensor<1x2x2x8x16xf32>
  %kr = iolite.reshape %ke : tensor<1x2x2x8x16xf32> -> tensor<1x4x8x16xf32>
  %v5 = iolite.reshape %v : tensor<1x2x8x16xf32> -> tensor<1x1x2x8x16xf32>
  %ve = iolite.broadcast %v5 : tensor<1x1x2x8x16xf32> -> tensor<1x2x2x8x16xf32>
  %vr = iolite.reshape %ve : tensor<1x2x2x8x16xf32> -> tensor<1x4x8x16xf32>
  %s = iolite.matmul %q, %kr {transpose_rhs} : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
  %p = iolite.softmax %s {axis = -1 : i64} : tensor<1x4x8x8xf32>
  %o = iolite.matmul %p, %vr : tensor<1x4x8x8xf32>, tensor<1x4x8x16xf32>
  return %o : tensor<1x4x8x16xf32>
}

// -----

// Near miss: the softmax runs over the query axis.

// CHECK-LABEL: func @softmax_wrong_axis
// CHECK: iolite.softmax
// CHECK-NOT: iolite.attention
// REMARK: remark: not raised to iolite.attention: the softmax is over axis 2, not the key axis 3
func.func @softmax_wrong_axis(%q: tensor<1x1x4x8xf32>, %k: tensor<1x1x4x8xf32>,
                              %v: tensor<1x1x4x8xf32>) -> tensor<1x1x4x8xf32> {
  %s = iolite.matmul %q, %k {transpose_rhs} : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>
  %p = iolite.softmax %s {axis = 2 : i64} : tensor<1x1x4x4xf32>
  %o = iolite.matmul %p, %v : tensor<1x1x4x4xf32>, tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}

// -----

// Near miss: a per-head scale tensor is not a uniform scale.

// CHECK-LABEL: func @non_uniform_scale
// CHECK-NOT: iolite.attention
// REMARK: remark: not raised to iolite.attention: the scores are multiplied by a non-uniform tensor, not a scale
func.func @non_uniform_scale(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x4x8xf32>,
                             %v: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %s = iolite.matmul %q, %k {transpose_rhs} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
  %c = iolite.constant dense<[[[[0.5]], [[0.25]]]]> : tensor<1x2x1x1xf32>
  %d = iolite.mul %s, %c : tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32>
  %p = iolite.softmax %d {axis = -1 : i64} : tensor<1x2x4x4xf32>
  %o = iolite.matmul %p, %v : tensor<1x2x4x4xf32>, tensor<1x2x4x8xf32>
  return %o : tensor<1x2x4x8xf32>
}

// -----

// Near miss: a where-mask filling with -1 does not exclude keys.

// CHECK-LABEL: func @weak_fill
// CHECK-NOT: iolite.attention
// REMARK: remark: not raised to iolite.attention: the select mask fills with -1, which does not exclude keys (needs -inf or <= -1e4)
func.func @weak_fill(%q: tensor<1x1x4x8xf32>, %k: tensor<1x1x4x8xf32>,
                     %v: tensor<1x1x4x8xf32>, %keep: tensor<4x4xi1>)
    -> tensor<1x1x4x8xf32> {
  %s = iolite.matmul %q, %k {transpose_rhs} : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>
  %f = iolite.constant dense<-1.0> : tensor<f32>
  %w = iolite.select %keep, %s, %f : tensor<4x4xi1>, tensor<1x1x4x4xf32>, tensor<f32>
  %p = iolite.softmax %w {axis = -1 : i64} : tensor<1x1x4x4xf32>
  %o = iolite.matmul %p, %v : tensor<1x1x4x4xf32>, tensor<1x1x4x8xf32>
  return %o : tensor<1x1x4x8xf32>
}

// -----

// Near miss: the probabilities are also returned (output_attentions).

// CHECK-LABEL: func @probabilities_used
// CHECK-NOT: iolite.attention
// REMARK: remark: not raised to iolite.attention: the attention probabilities are also used by another op ('func.return'); raising would drop them
func.func @probabilities_used(%q: tensor<1x1x4x8xf32>, %k: tensor<1x1x4x8xf32>,
                              %v: tensor<1x1x4x8xf32>)
    -> (tensor<1x1x4x8xf32>, tensor<1x1x4x4xf32>) {
  %s = iolite.matmul %q, %k {transpose_rhs} : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>
  %p = iolite.softmax %s {axis = -1 : i64} : tensor<1x1x4x4xf32>
  %o = iolite.matmul %p, %v : tensor<1x1x4x4xf32>, tensor<1x1x4x8xf32>
  return %o, %p : tensor<1x1x4x8xf32>, tensor<1x1x4x4xf32>
}

// -----

// Near miss: a mask that widens the scores (a batch of 2 masks on
// batch-1 scores) is not a mask of this attention.

// CHECK-LABEL: func @widening_mask
// CHECK-NOT: iolite.attention
// REMARK: remark: not raised to iolite.attention: a mask or scale broadcasts the raw scores to a wider shape
func.func @widening_mask(%q: tensor<1x1x4x8xf32>, %k: tensor<1x1x4x8xf32>,
                         %v: tensor<1x1x4x8xf32>, %m: tensor<2x1x4x4xf32>)
    -> tensor<2x1x4x8xf32> {
  %s = iolite.matmul %q, %k {transpose_rhs} : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>
  %a = iolite.add %s, %m : tensor<1x1x4x4xf32>, tensor<2x1x4x4xf32>
  %p = iolite.softmax %a {axis = -1 : i64} : tensor<2x1x4x4xf32>
  %o = iolite.matmul %p, %v : tensor<2x1x4x4xf32>, tensor<1x1x4x8xf32>
  return %o : tensor<2x1x4x8xf32>
}

// -----

// Not a candidate at all: a matmul of a plain tensor stays, silently.

// CHECK-LABEL: func @plain_matmul
// CHECK: iolite.matmul
// REMARK-NOT: plain_matmul
func.func @plain_matmul(%a: tensor<4x8xf32>, %b: tensor<8x4xf32>) -> tensor<4x4xf32> {
  %o = iolite.matmul %a, %b : tensor<4x8xf32>, tensor<8x4xf32>
  return %o : tensor<4x4xf32>
}

// -----

// Symbolic batch and sequence (docs/dynamic-shapes.md): the GQA repeat and
// the scale peel as with static shapes, and an additive mask passed in
// (the padding-and-causal mask a serving stack builds per call) stays the
// attention's mask.
// CHECK-LABEL: func @symbolic_gqa_mask
// CHECK-SAME: (%[[Q:.*]]: tensor<?x4x?x8xf32> {{.*}}, %[[K:.*]]: tensor<?x2x?x8xf32> {{.*}}, %[[V:.*]]: tensor<?x2x?x8xf32> {{.*}}, %[[M:.*]]: tensor<?x1x?x?xf32> {{.*}})
// CHECK-NEXT: %[[O:.*]] = iolite.attention %[[Q]], %[[K]], %[[V]] mask(%[[M]] : tensor<?x1x?x?xf32>) {scale = 0.353553385 : f32} : tensor<?x4x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>
// CHECK-NEXT: return %[[O]]
// REMARK: remark: raised to iolite.attention (4 query heads, 2 kv heads, GQA repeat absorbed, scale 0.353553, masked)
func.func @symbolic_gqa_mask(
    %q: tensor<?x4x?x8xf32> {iolite.dims = ["batch", "", "seq", ""]},
    %k: tensor<?x2x?x8xf32> {iolite.dims = ["batch", "", "seq", ""]},
    %v: tensor<?x2x?x8xf32> {iolite.dims = ["batch", "", "seq", ""]},
    %m: tensor<?x1x?x?xf32> {iolite.dims = ["batch", "", "seq", "seq"]})
    -> tensor<?x4x?x8xf32>
    attributes {iolite.dim_bounds = {batch = array<i64: 1, 8>,
                                     seq = array<i64: 1, 4096>}} {
  %k5 = iolite.reshape %k {iolite.dims = ["batch", "", "", "seq", ""]}
      : tensor<?x2x?x8xf32> -> tensor<?x2x1x?x8xf32>
  %ke = iolite.broadcast %k5 : tensor<?x2x1x?x8xf32> -> tensor<?x2x2x?x8xf32>
  %kx = iolite.reshape %ke {iolite.dims = ["batch", "", "seq", ""]}
      : tensor<?x2x2x?x8xf32> -> tensor<?x4x?x8xf32>
  %v5 = iolite.reshape %v {iolite.dims = ["batch", "", "", "seq", ""]}
      : tensor<?x2x?x8xf32> -> tensor<?x2x1x?x8xf32>
  %ve = iolite.broadcast %v5 : tensor<?x2x1x?x8xf32> -> tensor<?x2x2x?x8xf32>
  %vx = iolite.reshape %ve {iolite.dims = ["batch", "", "seq", ""]}
      : tensor<?x2x2x?x8xf32> -> tensor<?x4x?x8xf32>
  %kt = iolite.transpose %kx [0, 1, 3, 2] : tensor<?x4x?x8xf32>
  %s = iolite.matmul %q, %kt : tensor<?x4x?x8xf32>, tensor<?x4x8x?xf32>
  %c = iolite.constant dense<2.82842708> : tensor<f32>
  %d = iolite.div %s, %c : tensor<?x4x?x?xf32>, tensor<f32>
  %a = iolite.add %d, %m : tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32>
  %p = iolite.softmax %a {axis = -1 : i64} : tensor<?x4x?x?xf32>
  %o = iolite.matmul %p, %vx : tensor<?x4x?x?xf32>, tensor<?x4x?x8xf32>
  return %o : tensor<?x4x?x8xf32>
}

// -----

// Rank 3 folds the heads into the batch dim: a symbolic one cannot be split.
// CHECK-LABEL: func @symbolic_rank3
// CHECK: iolite.softmax
// REMARK: remark: not raised to iolite.attention: the rank-3 scores have a dynamic shape (heads folded into a symbolic batch cannot be split)
func.func @symbolic_rank3(
    %q: tensor<?x?x8xf32> {iolite.dims = ["bh", "seq", ""]},
    %k: tensor<?x?x8xf32> {iolite.dims = ["bh", "seq", ""]},
    %v: tensor<?x?x8xf32> {iolite.dims = ["bh", "seq", ""]})
    -> tensor<?x?x8xf32>
    attributes {iolite.dim_bounds = {bh = array<i64: 1, 64>,
                                     seq = array<i64: 1, 4096>}} {
  %s = iolite.matmul %q, %k {transpose_rhs} : tensor<?x?x8xf32>, tensor<?x?x8xf32>
  %p = iolite.softmax %s {axis = -1 : i64} : tensor<?x?x?xf32>
  %o = iolite.matmul %p, %v : tensor<?x?x?xf32>, tensor<?x?x8xf32>
  return %o : tensor<?x?x8xf32>
}
