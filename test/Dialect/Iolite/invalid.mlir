// RUN: iolite-opt %s --split-input-file --verify-diagnostics

// One case per verifier rule of the iolite ops; the messages come from
// TypeInference.cpp and the ODS constraints.

func.func @binary_broadcast(%a: tensor<2x3xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{shapes 2x3, 4 are not broadcast-compatible}}
  %0 = iolite.add %a, %b : tensor<2x3xf32>, tensor<4xf32>
  return
}

// -----

func.func @binary_element_type(%a: tensor<2xf32>, %b: tensor<2xf16>) {
  // expected-error @+1 {{requires the same element type for all operands}}
  %0 = iolite.mul %a, %b : tensor<2xf32>, tensor<2xf16>
  return
}

// -----

func.func @pow_integer(%a: tensor<2xi32>) {
  // expected-error @+1 {{must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values}}
  %0 = iolite.pow %a, %a : tensor<2xi32>, tensor<2xi32>
  return
}

// -----

func.func @unary_integer(%a: tensor<2xi32>) {
  // expected-error @+1 {{must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values}}
  %0 = iolite.exp %a : tensor<2xi32>
  return
}

// -----

func.func @compare_broadcast(%a: tensor<3xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{shapes 3, 4 are not broadcast-compatible}}
  %0 = iolite.compare lt %a, %b : tensor<3xf32>, tensor<4xf32>
  return
}

// -----

func.func @select_types(%c: tensor<2xi1>, %a: tensor<2xf32>, %b: tensor<2xf16>) {
  // expected-error @+1 {{on_true and on_false element types differ: 'f32' vs 'f16'}}
  %0 = iolite.select %c, %a, %b : tensor<2xi1>, tensor<2xf32>, tensor<2xf16>
  return
}

// -----

func.func @select_condition_type(%c: tensor<2xf32>, %a: tensor<2xf32>) {
  // expected-error @+1 {{must be ranked tensor of 1-bit signless integer values}}
  %0 = iolite.select %c, %a, %a : tensor<2xf32>, tensor<2xf32>, tensor<2xf32>
  return
}

// -----

func.func @cast_shape(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{requires the same shape for all operands and results}}
  %0 = iolite.cast %a : tensor<2x3xf32> to tensor<3x2xf16>
  return
}

// -----

func.func @constant_type() {
  // expected-error @+1 {{failed to verify that all of {value, result} have same type}}
  %0 = "iolite.constant"() {value = dense<1.0> : tensor<2xf32>} : () -> tensor<3xf32>
  return
}

// -----

func.func @softmax_axis(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = iolite.softmax %a {axis = 2 : i64} : tensor<2x3xf32>
  return
}

// -----

func.func @softmax_scalar(%a: tensor<f32>) {
  // expected-error @+1 {{softmax needs a tensor of rank >= 1}}
  %0 = iolite.softmax %a : tensor<f32>
  return
}

// -----

func.func @reduce_axis(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{axis -3 is out of range for rank 2}}
  %0 = iolite.reduce sum %a {axes = array<i64: -3>} : tensor<2x3xf32>
  return
}

// -----

func.func @reduce_twice(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{axis 1 is reduced twice}}
  %0 = iolite.reduce sum %a {axes = array<i64: 1, -1>} : tensor<2x3xf32>
  return
}

// -----

func.func @reduce_result(%a: tensor<2x3xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<2xf32>' are incompatible with return type(s) of operation 'tensor<2x1xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = "iolite.reduce"(%a) <{axes = array<i64: 1>, kind = #iolite<reduce_kind max>}> : (tensor<2x3xf32>) -> tensor<2x1xf32>
  return
}

// -----

func.func @rms_norm_scalar(%a: tensor<f32>) {
  // expected-error @+1 {{rms_norm needs a tensor of rank >= 1}}
  %0 = iolite.rms_norm %a : tensor<f32>
  return
}

// -----

func.func @rms_norm_epsilon(%a: tensor<2x8xf32>) {
  // expected-error @+1 {{epsilon must be >= 0, got -1.000000e+00}}
  %0 = iolite.rms_norm %a {epsilon = -1.0 : f32} : tensor<2x8xf32>
  return
}

// -----

func.func @rms_norm_weight_rank(%a: tensor<2x8xf32>, %w: tensor<1x8xf32>) {
  // expected-error @+1 {{weight must have rank 1, got 2 (1x8)}}
  %0 = iolite.rms_norm %a weight(%w : tensor<1x8xf32>) : tensor<2x8xf32>
  return
}

// -----

func.func @rms_norm_weight_size(%a: tensor<2x8xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{weight size (dim 0) is 4 but must be 8}}
  %0 = iolite.rms_norm %a weight(%w : tensor<4xf32>) : tensor<2x8xf32>
  return
}

// -----

func.func @rms_norm_weight_type(%a: tensor<2x8xf16>, %w: tensor<8xbf16>) {
  // expected-error @+1 {{weight must have element type f32 or 'f16', got 'bf16'}}
  %0 = iolite.rms_norm %a weight(%w : tensor<8xbf16>) : tensor<2x8xf16>
  return
}

// -----

func.func @layer_norm_scalar(%a: tensor<f32>) {
  // expected-error @+1 {{layer_norm needs a tensor of rank >= 1}}
  %0 = iolite.layer_norm %a : tensor<f32>
  return
}

// -----

func.func @layer_norm_axis(%a: tensor<2x8xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = iolite.layer_norm %a {axis = 2 : i64} : tensor<2x8xf32>
  return
}

// -----

func.func @layer_norm_epsilon(%a: tensor<2x8xf32>) {
  // expected-error @+1 {{epsilon must be >= 0, got -5.000000e-01}}
  %0 = iolite.layer_norm %a {epsilon = -0.5 : f32} : tensor<2x8xf32>
  return
}

// -----

func.func @layer_norm_weight_shape(%a: tensor<2x8xf32>, %w: tensor<2x8xf32>) {
  // expected-error @+1 {{weight shape 2x8 must equal the normalised shape 8}}
  %0 = iolite.layer_norm %a weight(%w : tensor<2x8xf32>) : tensor<2x8xf32>
  return
}

// -----

func.func @layer_norm_bias_type(%a: tensor<2x8xf16>, %b: tensor<8xbf16>) {
  // expected-error @+1 {{bias must have element type f32 or 'f16', got 'bf16'}}
  %0 = iolite.layer_norm %a bias(%b : tensor<8xbf16>) : tensor<2x8xf16>
  return
}

// -----

func.func @cumsum_axis(%a: tensor<4xi64>) {
  // expected-error @+1 {{axis 1 is out of range for rank 1}}
  %0 = iolite.cumsum %a {axis = 1 : i64} : tensor<4xi64>
  return
}

// -----

func.func @concat_overflow(%a: tensor<9223372036854775806xi1>, %b: tensor<4xi1>) {
  // expected-error @+1 {{the concatenated dim 0 overflows int64}}
  %0 = iolite.concat %a, %b {axis = 0 : i64} : tensor<9223372036854775806xi1>, tensor<4xi1>
  return
}

// -----

func.func @iota_axis(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{axis -3 is out of range for rank 2}}
  %0 = iolite.iota %a {axis = -3 : i64} : tensor<4x8xf32>
  return
}

// -----

func.func @iota_result(%a: tensor<4x8xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<8xi64>' are incompatible with return type(s) of operation 'tensor<4xi64>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = "iolite.iota"(%a) <{axis = 1 : i64}> : (tensor<4x8xf32>) -> tensor<4xi64>
  return
}

// -----

func.func @top_k_k(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{k = 9 must be in [1, 8]}}
  %v, %i = iolite.top_k %a {k = 9 : i64} : tensor<4x8xf32>
  return
}

// -----

func.func @top_k_axis(%a: tensor<4x8xf32>) {
  // expected-error @+1 {{axis 5 is out of range for rank 2}}
  %v, %i = iolite.top_k %a {k = 1 : i64, axis = 5 : i64} : tensor<4x8xf32>
  return
}

// -----

func.func @reshape_count(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{reshape from 2x3 (6 elements) to 7 (7 elements) changes the element count}}
  %0 = iolite.reshape %a : tensor<2x3xf32> -> tensor<7xf32>
  return
}

// -----

func.func @reshape_type(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{reshape cannot change the element type ('f32' to 'f16')}}
  %0 = iolite.reshape %a : tensor<2x3xf32> -> tensor<6xf16>
  return
}

// -----

func.func @transpose_size(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{permutation has 3 entries but the input has rank 2}}
  %0 = iolite.transpose %a [1, 0, 2] : tensor<2x3xf32>
  return
}

// -----

func.func @transpose_perm(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{permutation [1, 1] is not a permutation of 0..1}}
  %0 = iolite.transpose %a [1, 1] : tensor<2x3xf32>
  return
}

// -----

func.func @concat_rank(%a: tensor<2x3xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{input 1 has rank 1 but input 0 has rank 2}}
  %0 = iolite.concat %a, %b {axis = 0 : i64} : tensor<2x3xf32>, tensor<3xf32>
  return
}

// -----

func.func @concat_shape(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+1 {{input 1 has shape 2x4 which differs from input 0 (2x3) outside the concat axis}}
  %0 = iolite.concat %a, %b {axis = 0 : i64} : tensor<2x3xf32>, tensor<2x4xf32>
  return
}

// -----

func.func @concat_axis(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = iolite.concat %a, %a {axis = 2 : i64} : tensor<2x3xf32>, tensor<2x3xf32>
  return
}

// -----

func.func @concat_empty() {
  // expected-error @+1 {{expected 1 or more operands, but found 0}}
  %0 = "iolite.concat"() {axis = 0 : i64} : () -> tensor<2xf32>
  return
}

// -----

func.func @slice_entries(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{starts, limits and strides need 2 entries each (the input rank)}}
  %0 = iolite.slice %a [0] to [1] : tensor<2x3xf32>
  return
}

// -----

func.func @slice_stride(%a: tensor<4xf32>) {
  // expected-error @+1 {{stride 0 in dim 0 must be >= 1}}
  %0 = iolite.slice %a [0] to [4] step [0] : tensor<4xf32>
  return
}

// -----

func.func @slice_bounds(%a: tensor<4xf32>) {
  // expected-error @+1 {{slice [1, 5) of dim 0 (size 4) is out of bounds}}
  %0 = iolite.slice %a [1] to [5] : tensor<4xf32>
  return
}

// -----

func.func @broadcast_shape(%a: tensor<3xf32>) {
  // expected-error @+1 {{shape 3 does not broadcast to 2x4}}
  %0 = iolite.broadcast %a : tensor<3xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @broadcast_type(%a: tensor<3xf32>) {
  // expected-error @+1 {{broadcast cannot change the element type}}
  %0 = iolite.broadcast %a : tensor<3xf32> -> tensor<2x3xf16>
  return
}

// -----

func.func @gather_scalar(%a: tensor<f32>, %i: tensor<2xi64>) {
  // expected-error @+1 {{gather needs data of rank >= 1}}
  %0 = iolite.gather %a[%i] : tensor<f32>, tensor<2xi64>
  return
}

// -----

func.func @gather_axis(%a: tensor<4x8xf32>, %i: tensor<2xi64>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = iolite.gather %a[%i] {axis = 2 : i64} : tensor<4x8xf32>, tensor<2xi64>
  return
}

// -----

func.func @gather_index_type(%a: tensor<4x8xf32>, %i: tensor<2xf32>) {
  // expected-error @+1 {{must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = iolite.gather %a[%i] : tensor<4x8xf32>, tensor<2xf32>
  return
}

// -----

func.func @matmul_rank(%a: tensor<8xf32>, %b: tensor<8x4xf32>) {
  // expected-error @+1 {{matmul operands need rank >= 2, got 1 and 2}}
  %0 = iolite.matmul %a, %b : tensor<8xf32>, tensor<8x4xf32>
  return
}

// -----

func.func @matmul_contraction(%a: tensor<2x8xf32>, %b: tensor<4x8xf32>) {
  // expected-error @+1 {{contraction dims differ: lhs has 8, rhs has 4}}
  %0 = iolite.matmul %a, %b : tensor<2x8xf32>, tensor<4x8xf32>
  return
}

// -----

func.func @matmul_batch(%a: tensor<3x2x8xf32>, %b: tensor<4x8x4xf32>) {
  // expected-error @+1 {{shapes 3, 4 are not broadcast-compatible}}
  %0 = iolite.matmul %a, %b : tensor<3x2x8xf32>, tensor<4x8x4xf32>
  return
}

// -----

func.func @rotary_rank(%x: tensor<64xf32>, %c: tensor<16x64xf32>) {
  // expected-error @+1 {{rotary input needs rank >= 2 ([..., S, D])}}
  %0 = iolite.rotary %x, %c, %c : tensor<64xf32>, tensor<16x64xf32>, tensor<16x64xf32>
  return
}

// -----

func.func @rotary_cos_sin(%x: tensor<16x64xf32>, %c: tensor<16x64xf32>, %s: tensor<16x32xf32>) {
  // expected-error @+1 {{cos shape 16x64 differs from sin shape 16x32}}
  %0 = iolite.rotary %x, %c, %s : tensor<16x64xf32>, tensor<16x64xf32>, tensor<16x32xf32>
  return
}

// -----

func.func @rotary_cos_rank(%x: tensor<16x64xf32>, %c: tensor<64xf32>) {
  // expected-error @+1 {{cos/sin need rank in [2, 2] ([..., S, R]), got 1}}
  %0 = iolite.rotary %x, %c, %c : tensor<16x64xf32>, tensor<64xf32>, tensor<64xf32>
  return
}

// -----

func.func @rotary_odd(%x: tensor<16x64xf32>, %c: tensor<16x7xf32>) {
  // expected-error @+1 {{rotary dim 7 must be even and >= 2}}
  %0 = iolite.rotary %x, %c, %c : tensor<16x64xf32>, tensor<16x7xf32>, tensor<16x7xf32>
  return
}

// -----

func.func @rotary_too_wide(%x: tensor<16x64xf32>, %c: tensor<16x128xf32>) {
  // expected-error @+1 {{rotary dim 128 exceeds the feature dim 64}}
  %0 = iolite.rotary %x, %c, %c : tensor<16x64xf32>, tensor<16x128xf32>, tensor<16x128xf32>
  return
}

// -----

func.func @rotary_broadcast(%x: tensor<16x64xf32>, %c: tensor<8x64xf32>) {
  // expected-error @+1 {{cos/sin shape 8x64 does not broadcast to 16x64}}
  %0 = iolite.rotary %x, %c, %c : tensor<16x64xf32>, tensor<8x64xf32>, tensor<8x64xf32>
  return
}

// -----

func.func @attention_query_rank(%q: tensor<8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>) {
  // expected-error @+1 {{query must have rank 4, got 3 (8x16x64)}}
  %0 = iolite.attention %q, %k, %v  : tensor<8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_key_rank(%q: tensor<1x8x16x64xf32>, %k: tensor<2x16x64xf32>, %v: tensor<1x2x16x64xf32>) {
  // expected-error @+1 {{key must have rank 4, got 3 (2x16x64)}}
  %0 = iolite.attention %q, %k, %v  : tensor<1x8x16x64xf32>, tensor<2x16x64xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_value_rank(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<2x16x64xf32>) {
  // expected-error @+1 {{value must have rank 4, got 3 (2x16x64)}}
  %0 = iolite.attention %q, %k, %v  : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<2x16x64xf32>
  return
}

// -----

func.func @attention_key_type(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf16>, %v: tensor<1x2x16x64xf32>) {
  // expected-error @+1 {{key must have element type 'f32', got 'f16'}}
  %0 = iolite.attention %q, %k, %v  : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf16>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_value_type(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf16>) {
  // expected-error @+1 {{value must have element type 'f32', got 'f16'}}
  %0 = iolite.attention %q, %k, %v  : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf16>
  return
}

// -----

func.func @attention_key_batch(%q: tensor<1x8x16x64xf32>, %k: tensor<2x2x16x64xf32>, %v: tensor<1x2x16x64xf32>) {
  // expected-error @+1 {{key batch (dim 0) is 2 but must be 1}}
  %0 = iolite.attention %q, %k, %v  : tensor<1x8x16x64xf32>, tensor<2x2x16x64xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_value_batch(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<2x2x16x64xf32>) {
  // expected-error @+1 {{value batch (dim 0) is 2 but must be 1}}
  %0 = iolite.attention %q, %k, %v  : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<2x2x16x64xf32>
  return
}

// -----

func.func @attention_head_dim(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x32xf32>, %v: tensor<1x2x16x64xf32>) {
  // expected-error @+1 {{key head dim (dim 3) is 32 but must be 64}}
  %0 = iolite.attention %q, %k, %v  : tensor<1x8x16x64xf32>, tensor<1x2x16x32xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_value_heads(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x4x16x64xf32>) {
  // expected-error @+1 {{value head count (dim 1) is 4 but must be 2}}
  %0 = iolite.attention %q, %k, %v  : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x4x16x64xf32>
  return
}

// -----

func.func @attention_value_length(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x8x64xf32>) {
  // expected-error @+1 {{value sequence length (dim 2) is 8 but must be 16}}
  %0 = iolite.attention %q, %k, %v  : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x8x64xf32>
  return
}

// -----

func.func @attention_gqa(%q: tensor<1x8x16x64xf32>, %k: tensor<1x3x16x64xf32>, %v: tensor<1x3x16x64xf32>) {
  // expected-error @+1 {{query heads (8) must be a multiple of kv heads (3)}}
  %0 = iolite.attention %q, %k, %v  : tensor<1x8x16x64xf32>, tensor<1x3x16x64xf32>, tensor<1x3x16x64xf32>
  return
}

// -----

func.func @attention_mask_type(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>, %m: tensor<16x16xf16>) {
  // expected-error @+1 {{mask must be i1 or 'f32', got 'f16'}}
  %0 = iolite.attention %q, %k, %v mask(%m : tensor<16x16xf16>) : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_mask_int(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>, %m: tensor<16x16xi32>) {
  // expected-error @+1 {{mask must be i1 or 'f32', got 'i32'}}
  %0 = iolite.attention %q, %k, %v mask(%m : tensor<16x16xi32>) : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_mask_shape(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>, %m: tensor<16x8xi1>) {
  // expected-error @+1 {{mask shape 16x8 does not broadcast to the scores shape 1x8x16x16}}
  %0 = iolite.attention %q, %k, %v mask(%m : tensor<16x8xi1>) : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_alibi_rank(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>, %s: tensor<1x8xf32>) {
  // expected-error @+1 {{alibi_slopes must have rank 1, got 2 (1x8)}}
  %0 = iolite.attention %q, %k, %v alibi_slopes(%s : tensor<1x8xf32>) : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_alibi_size(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>, %s: tensor<2xf32>) {
  // expected-error @+1 {{alibi_slopes size (dim 0) is 2 but must be 8}}
  %0 = iolite.attention %q, %k, %v alibi_slopes(%s : tensor<2xf32>) : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_alibi_type(%q: tensor<1x8x16x64xf16>, %k: tensor<1x2x16x64xf16>, %v: tensor<1x2x16x64xf16>, %s: tensor<8xbf16>) {
  // expected-error @+1 {{alibi_slopes must have element type f32 or 'f16', got 'bf16'}}
  %0 = iolite.attention %q, %k, %v alibi_slopes(%s : tensor<8xbf16>) : tensor<1x8x16x64xf16>, tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>
  return
}

// -----

func.func @attention_scale(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>) {
  // expected-error @+1 {{scale must be finite and non-zero}}
  %0 = iolite.attention %q, %k, %v  {scale = 0.0 : f32} : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_softcap(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>) {
  // expected-error @+1 {{softcap must be > 0, got -1.000000e+00}}
  %0 = iolite.attention %q, %k, %v  {softcap = -1.0 : f32} : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_window(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>) {
  // expected-error @+1 {{window must be >= 1, got 0}}
  %0 = iolite.attention %q, %k, %v  {causal, window = 0 : i64} : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_window_causal(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>, %v: tensor<1x2x16x64xf32>) {
  // expected-error @+1 {{a sliding window needs causal attention}}
  %0 = iolite.attention %q, %k, %v  {window = 4 : i64} : tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

func.func @attention_result(%q: tensor<1x8x16x64xf32>, %k: tensor<1x2x16x64xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<1x8x16x64xf32>' are incompatible with return type(s) of operation 'tensor<1x8x16x32xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = "iolite.attention"(%q, %k, %k) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}> : (tensor<1x8x16x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>) -> tensor<1x8x16x32xf32>
  return
}

// -----

func.func @conv1d_input_rank(%x: tensor<64x32xf32>, %w: tensor<64x4xf32>) {
  // expected-error @+1 {{input ([B, C, L]) must have rank 3, got 2 (64x32)}}
  %0 = iolite.conv1d %x, %w : tensor<64x32xf32>, tensor<64x4xf32>
  return
}

// -----

func.func @conv1d_weight_rank(%x: tensor<1x64x32xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{weight ([C, K]) must have rank 2, got 1 (64)}}
  %0 = iolite.conv1d %x, %w : tensor<1x64x32xf32>, tensor<64xf32>
  return
}

// -----

func.func @conv1d_channels(%x: tensor<1x64x32xf32>, %w: tensor<32x4xf32>) {
  // expected-error @+1 {{weight channels (dim 0) is 32 but must be 64}}
  %0 = iolite.conv1d %x, %w : tensor<1x64x32xf32>, tensor<32x4xf32>
  return
}

// -----

func.func @conv1d_width(%x: tensor<1x64x32xf32>, %w: tensor<64x0xf32>) {
  // expected-error @+1 {{kernel width must be >= 1}}
  %0 = iolite.conv1d %x, %w : tensor<1x64x32xf32>, tensor<64x0xf32>
  return
}

// -----

func.func @conv1d_weight_type(%x: tensor<1x64x32xf16>, %w: tensor<64x4xbf16>) {
  // expected-error @+1 {{weight must have element type f32 or 'f16', got 'bf16'}}
  %0 = iolite.conv1d %x, %w : tensor<1x64x32xf16>, tensor<64x4xbf16>
  return
}

// -----

func.func @conv1d_bias(%x: tensor<1x64x32xf32>, %w: tensor<64x4xf32>, %b: tensor<32xf32>) {
  // expected-error @+1 {{bias size (dim 0) is 32 but must be 64}}
  %0 = iolite.conv1d %x, %w bias(%b : tensor<32xf32>) : tensor<1x64x32xf32>, tensor<64x4xf32>
  return
}

// -----

func.func @scan_u_rank(%u: tensor<64x32xf32>, %dt: tensor<64x32xf32>, %A: tensor<64x16xf32>, %B: tensor<1x16x32xf32>, %C: tensor<1x16x32xf32>) {
  // expected-error @+1 {{u ([B, D, L]) must have rank 3, got 2 (64x32)}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C  : tensor<64x32xf32>, tensor<64x32xf32>, tensor<64x16xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>
  return
}

// -----

func.func @scan_delta_shape(%u: tensor<1x64x32xf32>, %dt: tensor<1x64x16xf32>, %A: tensor<64x16xf32>, %B: tensor<1x16x32xf32>, %C: tensor<1x16x32xf32>) {
  // expected-error @+1 {{delta shape 1x64x16 must equal u shape 1x64x32}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C  : tensor<1x64x32xf32>, tensor<1x64x16xf32>, tensor<64x16xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>
  return
}

// -----

func.func @scan_delta_type(%u: tensor<1x64x32xf32>, %dt: tensor<1x64x32xf16>, %A: tensor<64x16xf32>, %B: tensor<1x16x32xf32>, %C: tensor<1x16x32xf32>) {
  // expected-error @+1 {{delta must have element type 'f32', got 'f16'}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C  : tensor<1x64x32xf32>, tensor<1x64x32xf16>, tensor<64x16xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>
  return
}

// -----

func.func @scan_a_rank(%u: tensor<1x64x32xf32>, %dt: tensor<1x64x32xf32>, %A: tensor<64xf32>, %B: tensor<1x16x32xf32>, %C: tensor<1x16x32xf32>) {
  // expected-error @+1 {{A ([D, N]) must have rank 2, got 1 (64)}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C  : tensor<1x64x32xf32>, tensor<1x64x32xf32>, tensor<64xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>
  return
}

// -----

func.func @scan_a_channels(%u: tensor<1x64x32xf32>, %dt: tensor<1x64x32xf32>, %A: tensor<32x16xf32>, %B: tensor<1x16x32xf32>, %C: tensor<1x16x32xf32>) {
  // expected-error @+1 {{A channels (dim 0) is 32 but must be 64}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C  : tensor<1x64x32xf32>, tensor<1x64x32xf32>, tensor<32x16xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>
  return
}

// -----

func.func @scan_a_type(%u: tensor<1x64x32xf16>, %dt: tensor<1x64x32xf16>, %A: tensor<64x16xbf16>, %B: tensor<1x16x32xf16>, %C: tensor<1x16x32xf16>) {
  // expected-error @+1 {{A must have element type f32 or 'f16', got 'bf16'}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C  : tensor<1x64x32xf16>, tensor<1x64x32xf16>, tensor<64x16xbf16>, tensor<1x16x32xf16>, tensor<1x16x32xf16>
  return
}

// -----

func.func @scan_b_rank(%u: tensor<1x64x32xf32>, %dt: tensor<1x64x32xf32>, %A: tensor<64x16xf32>, %B: tensor<16x32xf32>, %C: tensor<16x32xf32>) {
  // expected-error @+1 {{B must have rank 3, got 2 (16x32)}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C  : tensor<1x64x32xf32>, tensor<1x64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, tensor<16x32xf32>
  return
}

// -----

func.func @scan_b_batch(%u: tensor<1x64x32xf32>, %dt: tensor<1x64x32xf32>, %A: tensor<64x16xf32>, %B: tensor<2x16x32xf32>, %C: tensor<2x16x32xf32>) {
  // expected-error @+1 {{B batch (dim 0) is 2 but must be 1}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C  : tensor<1x64x32xf32>, tensor<1x64x32xf32>, tensor<64x16xf32>, tensor<2x16x32xf32>, tensor<2x16x32xf32>
  return
}

// -----

func.func @scan_b_state(%u: tensor<1x64x32xf32>, %dt: tensor<1x64x32xf32>, %A: tensor<64x16xf32>, %B: tensor<1x8x32xf32>, %C: tensor<1x8x32xf32>) {
  // expected-error @+1 {{B state size (dim 1) is 8 but must be 16}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C  : tensor<1x64x32xf32>, tensor<1x64x32xf32>, tensor<64x16xf32>, tensor<1x8x32xf32>, tensor<1x8x32xf32>
  return
}

// -----

func.func @scan_c_length(%u: tensor<1x64x32xf32>, %dt: tensor<1x64x32xf32>, %A: tensor<64x16xf32>, %B: tensor<1x16x32xf32>, %C: tensor<1x16x16xf32>) {
  // expected-error @+1 {{C length (dim 2) is 16 but must be 32}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C  : tensor<1x64x32xf32>, tensor<1x64x32xf32>, tensor<64x16xf32>, tensor<1x16x32xf32>, tensor<1x16x16xf32>
  return
}

// -----

func.func @scan_c_type(%u: tensor<1x64x32xf32>, %dt: tensor<1x64x32xf32>, %A: tensor<64x16xf32>, %B: tensor<1x16x32xf32>, %C: tensor<1x16x32xf16>) {
  // expected-error @+1 {{C must have element type 'f32', got 'f16'}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C  : tensor<1x64x32xf32>, tensor<1x64x32xf32>, tensor<64x16xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf16>
  return
}

// -----

func.func @scan_d_size(%u: tensor<1x64x32xf32>, %dt: tensor<1x64x32xf32>, %A: tensor<64x16xf32>, %B: tensor<1x16x32xf32>, %C: tensor<1x16x32xf32>, %d: tensor<32xf32>) {
  // expected-error @+1 {{D size (dim 0) is 32 but must be 64}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C D(%d : tensor<32xf32>) : tensor<1x64x32xf32>, tensor<1x64x32xf32>, tensor<64x16xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>
  return
}

// -----

func.func @scan_delta_bias_rank(%u: tensor<1x64x32xf32>, %dt: tensor<1x64x32xf32>, %A: tensor<64x16xf32>, %B: tensor<1x16x32xf32>, %C: tensor<1x16x32xf32>, %d: tensor<1x64xf32>) {
  // expected-error @+1 {{delta_bias must have rank 1, got 2 (1x64)}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C delta_bias(%d : tensor<1x64xf32>) : tensor<1x64x32xf32>, tensor<1x64x32xf32>, tensor<64x16xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>
  return
}

// -----

func.func @scan_z_length(%u: tensor<1x64x32xf32>, %dt: tensor<1x64x32xf32>, %A: tensor<64x16xf32>, %B: tensor<1x16x32xf32>, %C: tensor<1x16x32xf32>, %z: tensor<1x64x16xf32>) {
  // expected-error @+1 {{z length (dim 2) is 16 but must be 32}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C z(%z : tensor<1x64x16xf32>) : tensor<1x64x32xf32>, tensor<1x64x32xf32>, tensor<64x16xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>
  return
}

// -----

func.func @scan_z_type(%u: tensor<1x64x32xf32>, %dt: tensor<1x64x32xf32>, %A: tensor<64x16xf32>, %B: tensor<1x16x32xf32>, %C: tensor<1x16x32xf32>, %z: tensor<1x64x32xf16>) {
  // expected-error @+1 {{z must have element type 'f32', got 'f16'}}
  %0 = iolite.selective_scan %u, %dt, %A, %B, %C z(%z : tensor<1x64x32xf16>) : tensor<1x64x32xf32>, tensor<1x64x32xf32>, tensor<64x16xf32>, tensor<1x16x32xf32>, tensor<1x16x32xf32>
  return
}

// -----

func.func @ssd_x_rank(%x: tensor<32x4x16xf32>, %dt: tensor<1x32x4xf32>, %A: tensor<4xf32>, %B: tensor<1x32x2x8xf32>, %C: tensor<1x32x2x8xf32>) {
  // expected-error @+1 {{x ([B, L, H, P]) must have rank 4, got 3 (32x4x16)}}
  %0 = iolite.ssd %x, %dt, %A, %B, %C  : tensor<32x4x16xf32>, tensor<1x32x4xf32>, tensor<4xf32>, tensor<1x32x2x8xf32>, tensor<1x32x2x8xf32>
  return
}

// -----

func.func @ssd_dt_rank(%x: tensor<1x32x4x16xf32>, %dt: tensor<32x4xf32>, %A: tensor<4xf32>, %B: tensor<1x32x2x8xf32>, %C: tensor<1x32x2x8xf32>) {
  // expected-error @+1 {{dt ([B, L, H]) must have rank 3, got 2 (32x4)}}
  %0 = iolite.ssd %x, %dt, %A, %B, %C  : tensor<1x32x4x16xf32>, tensor<32x4xf32>, tensor<4xf32>, tensor<1x32x2x8xf32>, tensor<1x32x2x8xf32>
  return
}

// -----

func.func @ssd_dt_heads(%x: tensor<1x32x4x16xf32>, %dt: tensor<1x32x2xf32>, %A: tensor<4xf32>, %B: tensor<1x32x2x8xf32>, %C: tensor<1x32x2x8xf32>) {
  // expected-error @+1 {{dt heads (dim 2) is 2 but must be 4}}
  %0 = iolite.ssd %x, %dt, %A, %B, %C  : tensor<1x32x4x16xf32>, tensor<1x32x2xf32>, tensor<4xf32>, tensor<1x32x2x8xf32>, tensor<1x32x2x8xf32>
  return
}

// -----

func.func @ssd_a_size(%x: tensor<1x32x4x16xf32>, %dt: tensor<1x32x4xf32>, %A: tensor<2xf32>, %B: tensor<1x32x2x8xf32>, %C: tensor<1x32x2x8xf32>) {
  // expected-error @+1 {{A size (dim 0) is 2 but must be 4}}
  %0 = iolite.ssd %x, %dt, %A, %B, %C  : tensor<1x32x4x16xf32>, tensor<1x32x4xf32>, tensor<2xf32>, tensor<1x32x2x8xf32>, tensor<1x32x2x8xf32>
  return
}

// -----

func.func @ssd_b_rank(%x: tensor<1x32x4x16xf32>, %dt: tensor<1x32x4xf32>, %A: tensor<4xf32>, %B: tensor<32x2x8xf32>, %C: tensor<1x32x2x8xf32>) {
  // expected-error @+1 {{B ([B, L, G, N]) must have rank 4, got 3 (32x2x8)}}
  %0 = iolite.ssd %x, %dt, %A, %B, %C  : tensor<1x32x4x16xf32>, tensor<1x32x4xf32>, tensor<4xf32>, tensor<32x2x8xf32>, tensor<1x32x2x8xf32>
  return
}

// -----

func.func @ssd_c_state(%x: tensor<1x32x4x16xf32>, %dt: tensor<1x32x4xf32>, %A: tensor<4xf32>, %B: tensor<1x32x2x8xf32>, %C: tensor<1x32x2x4xf32>) {
  // expected-error @+1 {{C state size (dim 3) is 4 but must be 8}}
  %0 = iolite.ssd %x, %dt, %A, %B, %C  : tensor<1x32x4x16xf32>, tensor<1x32x4xf32>, tensor<4xf32>, tensor<1x32x2x8xf32>, tensor<1x32x2x4xf32>
  return
}

// -----

func.func @ssd_groups(%x: tensor<1x32x4x16xf32>, %dt: tensor<1x32x4xf32>, %A: tensor<4xf32>, %B: tensor<1x32x3x8xf32>, %C: tensor<1x32x3x8xf32>) {
  // expected-error @+1 {{heads (4) must be a multiple of B/C groups (3)}}
  %0 = iolite.ssd %x, %dt, %A, %B, %C  : tensor<1x32x4x16xf32>, tensor<1x32x4xf32>, tensor<4xf32>, tensor<1x32x3x8xf32>, tensor<1x32x3x8xf32>
  return
}

// -----

func.func @ssd_d_size(%x: tensor<1x32x4x16xf32>, %dt: tensor<1x32x4xf32>, %A: tensor<4xf32>, %B: tensor<1x32x2x8xf32>, %C: tensor<1x32x2x8xf32>, %d: tensor<3xf32>) {
  // expected-error @+1 {{D size (dim 0) is 3 but must be 4}}
  %0 = iolite.ssd %x, %dt, %A, %B, %C D(%d : tensor<3xf32>) : tensor<1x32x4x16xf32>, tensor<1x32x4xf32>, tensor<4xf32>, tensor<1x32x2x8xf32>, tensor<1x32x2x8xf32>
  return
}

// -----

func.func @ssd_dt_bias_type(%x: tensor<1x32x4x16xf16>, %dt: tensor<1x32x4xf16>, %A: tensor<4xf32>, %B: tensor<1x32x2x8xf16>, %C: tensor<1x32x2x8xf16>, %d: tensor<4xbf16>) {
  // expected-error @+1 {{dt_bias must have element type f32 or 'f16', got 'bf16'}}
  %0 = iolite.ssd %x, %dt, %A, %B, %C dt_bias(%d : tensor<4xbf16>) : tensor<1x32x4x16xf16>, tensor<1x32x4xf16>, tensor<4xf32>, tensor<1x32x2x8xf16>, tensor<1x32x2x8xf16>
  return
}

// -----

func.func @ssd_chunk(%x: tensor<1x32x4x16xf32>, %dt: tensor<1x32x4xf32>, %A: tensor<4xf32>, %B: tensor<1x32x2x8xf32>, %C: tensor<1x32x2x8xf32>) {
  // expected-error @+1 {{chunk_size must be >= 1, got 0}}
  %0 = iolite.ssd %x, %dt, %A, %B, %C  {chunk_size = 0 : i64} : tensor<1x32x4x16xf32>, tensor<1x32x4xf32>, tensor<4xf32>, tensor<1x32x2x8xf32>, tensor<1x32x2x8xf32>
  return
}

// -----

func.func @long_conv_rank(%x: tensor<8x64xf32>, %h: tensor<8x64xf32>) {
  // expected-error @+1 {{input ([B, C, L]) must have rank 3, got 2 (8x64)}}
  %0 = iolite.long_conv %x, %h : tensor<8x64xf32>, tensor<8x64xf32>
  return
}

// -----

func.func @long_conv_channels(%x: tensor<1x8x64xf32>, %h: tensor<4x64xf32>) {
  // expected-error @+1 {{filter channels (dim 0) is 4 but must be 8}}
  %0 = iolite.long_conv %x, %h : tensor<1x8x64xf32>, tensor<4x64xf32>
  return
}

// -----

func.func @long_conv_length(%x: tensor<1x8x64xf32>, %h: tensor<8x65xf32>) {
  // expected-error @+1 {{filter length 65 exceeds the sequence length 64}}
  %0 = iolite.long_conv %x, %h : tensor<1x8x64xf32>, tensor<8x65xf32>
  return
}

// -----

func.func @long_conv_d(%x: tensor<1x8x64xf32>, %h: tensor<8x64xf32>, %d: tensor<4xf32>) {
  // expected-error @+1 {{D size (dim 0) is 4 but must be 8}}
  %0 = iolite.long_conv %x, %h D(%d : tensor<4xf32>) : tensor<1x8x64xf32>, tensor<8x64xf32>
  return
}

// -----

func.func @router_rank(%l: tensor<16xf32>) {
  // expected-error @+1 {{logits ([T, E]) must have rank 2, got 1 (16)}}
  %w, %i = iolite.router %l {k = 2 : i64} : tensor<16xf32>
  return
}

// -----

func.func @router_k(%l: tensor<16x8xf32>) {
  // expected-error @+1 {{k = 9 must be in [1, 8] (the number of experts)}}
  %w, %i = iolite.router %l {k = 9 : i64} : tensor<16x8xf32>
  return
}

// -----

func.func @dispatch_rank(%x: tensor<16xf32>, %i: tensor<16x2xi32>) {
  // expected-error @+1 {{input ([T, D]) must have rank 2, got 1 (16)}}
  %a, %b, %c = iolite.dispatch %x, %i {num_experts = 8 : i64} : tensor<16xf32>, tensor<16x2xi32>
  return
}

// -----

func.func @dispatch_tokens(%x: tensor<16x64xf32>, %i: tensor<8x2xi32>) {
  // expected-error @+1 {{expert_ids tokens (dim 0) is 8 but must be 16}}
  %a, %b, %c = iolite.dispatch %x, %i {num_experts = 8 : i64} : tensor<16x64xf32>, tensor<8x2xi32>
  return
}

// -----

func.func @dispatch_experts(%x: tensor<16x64xf32>, %i: tensor<16x2xi32>) {
  // expected-error @+1 {{num_experts must be >= 1, got 0}}
  %a, %b, %c = iolite.dispatch %x, %i {num_experts = 0 : i64} : tensor<16x64xf32>, tensor<16x2xi32>
  return
}

// -----

func.func @grouped_matmul_weight_rank(%x: tensor<32x64xf32>, %w: tensor<64x128xf32>, %o: tensor<9xi32>) {
  // expected-error @+1 {{weight ([E, K, N]) must have rank 3, got 2 (64x128)}}
  %0 = iolite.grouped_matmul %x, %w, %o : tensor<32x64xf32>, tensor<64x128xf32>, tensor<9xi32>
  return
}

// -----

func.func @grouped_matmul_contraction(%x: tensor<32x64xf32>, %w: tensor<8x64x128xf32>, %o: tensor<9xi32>) {
  // expected-error @+1 {{input contraction dim (dim 1) is 64 but must be 128}}
  %0 = iolite.grouped_matmul %x, %w, %o {transpose_rhs} : tensor<32x64xf32>, tensor<8x64x128xf32>, tensor<9xi32>
  return
}

// -----

func.func @grouped_matmul_offsets(%x: tensor<32x64xf32>, %w: tensor<8x64x128xf32>, %o: tensor<8xi32>) {
  // expected-error @+1 {{offsets size (dim 0) is 8 but must be 9}}
  %0 = iolite.grouped_matmul %x, %w, %o : tensor<32x64xf32>, tensor<8x64x128xf32>, tensor<8xi32>
  return
}

// -----

func.func @grouped_matmul_type(%x: tensor<32x64xf32>, %w: tensor<8x64x128xf16>, %o: tensor<9xi32>) {
  // expected-error @+1 {{weight must have element type 'f32', got 'f16'}}
  %0 = iolite.grouped_matmul %x, %w, %o : tensor<32x64xf32>, tensor<8x64x128xf16>, tensor<9xi32>
  return
}

// -----

func.func @combine_rows(%y: tensor<30x64xf32>, %r: tensor<30xi32>, %w: tensor<16x2xf32>) {
  // expected-error @+1 {{input rows (T*k) (dim 0) is 30 but must be 32}}
  %0 = iolite.combine %y, %r, %w : tensor<30x64xf32>, tensor<30xi32>, tensor<16x2xf32>
  return
}

// -----

func.func @combine_row_index(%y: tensor<32x64xf32>, %r: tensor<16xi32>, %w: tensor<16x2xf32>) {
  // expected-error @+1 {{row_index size (dim 0) is 16 but must be 32}}
  %0 = iolite.combine %y, %r, %w : tensor<32x64xf32>, tensor<16xi32>, tensor<16x2xf32>
  return
}

// -----

func.func @combine_weights_rank(%y: tensor<32x64xf32>, %r: tensor<32xi32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{weights ([T, k]) must have rank 2, got 1 (32)}}
  %0 = iolite.combine %y, %r, %w : tensor<32x64xf32>, tensor<32xi32>, tensor<32xf32>
  return
}

// -----

func.func @kernel_arg_count(%x: tensor<4xf32>) {
  // expected-error @+1 {{'iolite.kernel' op body has 0 arguments but the kernel has 1 inputs}}
  %r = iolite.kernel "k" (%x) : (tensor<4xf32>) -> tensor<4xf32> {
    %c = iolite.constant dense<1.0> : tensor<4xf32>
    iolite.yield %c : tensor<4xf32>
  }
  return
}

// -----

func.func @kernel_arg_type(%x: tensor<4xf32>) {
  // expected-error @+1 {{'iolite.kernel' op body argument 0 has type 'tensor<4xf16>' but input 0 has type 'tensor<4xf32>'}}
  %r = iolite.kernel "k" (%x) : (tensor<4xf32>) -> tensor<4xf16> {
  ^bb0(%a: tensor<4xf16>):
    iolite.yield %a : tensor<4xf16>
  }
  return
}

// -----

func.func @kernel_yield_types(%x: tensor<4xf32>) {
  // expected-error @+1 {{'iolite.kernel' op yields 1 values whose types differ from the kernel's result types}}
  %r = iolite.kernel "k" (%x) : (tensor<4xf32>) -> tensor<8xf32> {
  ^bb0(%a: tensor<4xf32>):
    iolite.yield %a : tensor<4xf32>
  }
  return
}

// -----

func.func @kernel_uses_outer_value(%x: tensor<4xf32>) {
  // expected-note @+1 {{required by region isolation constraints}}
  %r = iolite.kernel "k" () : () -> tensor<4xf32> {
    // expected-error @+1 {{'iolite.yield' op using value defined outside the region}}
    iolite.yield %x : tensor<4xf32>
  }
  return
}

// -----

func.func @yield_outside_kernel(%x: tensor<4xf32>) {
  // expected-error @+1 {{'iolite.yield' op expects parent op 'iolite.kernel'}}
  iolite.yield %x : tensor<4xf32>
}

// -----

func.func @kernel_offsets_count(%x: tensor<4xf32>) {
  // expected-error @+1 {{'iolite.kernel' op result_offsets has 2 entries for 1 results}}
  %r = iolite.kernel "k" (%x) {result_offsets = array<i64: 0, 256>} : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    iolite.yield %a : tensor<4xf32>
  }
  return
}

// -----

func.func @kernel_offsets_value(%x: tensor<4xf32>) {
  // expected-error @+1 {{'iolite.kernel' op result_offsets[0] = -2 is neither a workspace offset nor -1}}
  %r = iolite.kernel "k" (%x) {result_offsets = array<i64: -2>} : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    iolite.yield %a : tensor<4xf32>
  }
  return
}

// -----

func.func @kernel_offsets_type(%x: tensor<4xf32>) {
  // expected-error @+1 {{'iolite.kernel' op result_offsets must be an array<i64>}}
  %r = iolite.kernel "k" (%x) {result_offsets = [0]} : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    iolite.yield %a : tensor<4xf32>
  }
  return
}

// -----

func.func @slice_static_dim_to_end(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{slice of dim 1 (size 8) to its end: only dynamic dims are sliced to the end; give the limit 8}}
  %y = iolite.slice %x [0, 0] to [4, 9223372036854775807] : tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

func.func @kv_cache_append_key_rank(%kc: tensor<2x8x2x16xf16>, %k: tensor<2x2x16xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{key ([B, S, Hkv, D]) must have rank 4, got 3 (2x2x16)}}
  %0:2 = iolite.kv_cache_append %kc, %kc, %k, %k, %lens
      : tensor<2x8x2x16xf16>, tensor<2x8x2x16xf16>, tensor<2x2x16xf16>, tensor<2x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_value_batch(%kc: tensor<2x8x2x16xf16>, %k: tensor<2x1x2x16xf16>, %v: tensor<3x1x2x16xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{value batch (dim 0) is 3 but must be 2}}
  %0:2 = iolite.kv_cache_append %kc, %kc, %k, %v, %lens
      : tensor<2x8x2x16xf16>, tensor<2x8x2x16xf16>, tensor<2x1x2x16xf16>, tensor<3x1x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_seqlens_size(%kc: tensor<2x8x2x16xf16>, %k: tensor<2x1x2x16xf16>, %lens: tensor<3xi32>) {
  // expected-error @+1 {{cache_seqlens size (dim 0) is 3 but must be 2}}
  %0:2 = iolite.kv_cache_append %kc, %kc, %k, %k, %lens
      : tensor<2x8x2x16xf16>, tensor<2x8x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<3xi32>
  return
}

// -----

func.func @kv_cache_append_seqlens_type(%kc: tensor<2x8x2x16xf16>, %k: tensor<2x1x2x16xf16>, %lens: tensor<2xi64>) {
  // expected-error @+1 {{must be ranked tensor of 32-bit signless integer values}}
  %0:2 = iolite.kv_cache_append %kc, %kc, %k, %k, %lens
      : tensor<2x8x2x16xf16>, tensor<2x8x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi64>
  return
}

// -----

func.func @kv_cache_append_cache_batch(%kc: tensor<3x8x2x16xf16>, %k: tensor<2x1x2x16xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{k_cache batch (dim 0) is 3 but must be 2}}
  %0:2 = iolite.kv_cache_append %kc, %kc, %k, %k, %lens
      : tensor<3x8x2x16xf16>, tensor<3x8x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_cache_heads(%kc: tensor<2x8x4x16xf16>, %k: tensor<2x1x2x16xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{k_cache kv heads (dim 2) is 4 but must be 2}}
  %0:2 = iolite.kv_cache_append %kc, %kc, %k, %k, %lens
      : tensor<2x8x4x16xf16>, tensor<2x8x4x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_cache_head_dim(%kc: tensor<2x8x2x32xf16>, %k: tensor<2x1x2x16xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{k_cache head dim (dim 3) is 32 but must be 16}}
  %0:2 = iolite.kv_cache_append %kc, %kc, %k, %k, %lens
      : tensor<2x8x2x32xf16>, tensor<2x8x2x32xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_v_cache_length(%kc: tensor<2x8x2x16xf16>, %vc: tensor<2x4x2x16xf16>, %k: tensor<2x1x2x16xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{v_cache length (dim 1) is 4 but must be 8}}
  %0:2 = iolite.kv_cache_append %kc, %vc, %k, %k, %lens
      : tensor<2x8x2x16xf16>, tensor<2x4x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_v_cache_dim(%kc: tensor<2x8x2x16xf16>, %vc: tensor<2x8x2x16xf16>, %k: tensor<2x1x2x16xf16>, %v: tensor<2x1x2x8xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{v_cache value dim (dim 3) is 16 but must be 8}}
  %0:2 = iolite.kv_cache_append %kc, %vc, %k, %v, %lens
      : tensor<2x8x2x16xf16>, tensor<2x8x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x8xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_cache_type(%kc: tensor<2x8x2x16xf32>, %k: tensor<2x1x2x16xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{k_cache must have element type 'f16', got 'f32'}}
  %0:2 = iolite.kv_cache_append %kc, %kc, %k, %k, %lens
      : tensor<2x8x2x16xf32>, tensor<2x8x2x16xf32>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_too_many_tokens(%kc: tensor<2x4x2x16xf16>, %k: tensor<2x8x2x16xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{appending 8 tokens to a cache that holds 4 per sequence}}
  %0:2 = iolite.kv_cache_append %kc, %kc, %k, %k, %lens
      : tensor<2x4x2x16xf16>, tensor<2x4x2x16xf16>, tensor<2x8x2x16xf16>, tensor<2x8x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_table_rank(%pool: tensor<10x4x2x16xf16>, %k: tensor<2x1x2x16xf16>, %lens: tensor<2xi32>, %table: tensor<2xi32>) {
  // expected-error @+1 {{block_table ([B, M]) must have rank 2, got 1 (2)}}
  %0:2 = iolite.kv_cache_append %pool, %pool, %k, %k, %lens block_table(%table : tensor<2xi32>)
      : tensor<10x4x2x16xf16>, tensor<10x4x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_table_batch(%pool: tensor<10x4x2x16xf16>, %k: tensor<2x1x2x16xf16>, %lens: tensor<2xi32>, %table: tensor<3x4xi32>) {
  // expected-error @+1 {{block_table batch (dim 0) is 3 but must be 2}}
  %0:2 = iolite.kv_cache_append %pool, %pool, %k, %k, %lens block_table(%table : tensor<3x4xi32>)
      : tensor<10x4x2x16xf16>, tensor<10x4x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_table_type(%pool: tensor<10x4x2x16xf16>, %k: tensor<2x1x2x16xf16>, %lens: tensor<2xi32>, %table: tensor<2x4xi64>) {
  // expected-error @+1 {{must be ranked tensor of 32-bit signless integer values}}
  %0:2 = iolite.kv_cache_append %pool, %pool, %k, %k, %lens block_table(%table : tensor<2x4xi64>)
      : tensor<10x4x2x16xf16>, tensor<10x4x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_pool_pages(%pool: tensor<10x4x2x16xf16>, %vpool: tensor<8x4x2x16xf16>, %k: tensor<2x1x2x16xf16>, %lens: tensor<2xi32>, %table: tensor<2x4xi32>) {
  // expected-error @+1 {{v_cache page count (dim 0) is 8 but must be 10}}
  %0:2 = iolite.kv_cache_append %pool, %vpool, %k, %k, %lens block_table(%table : tensor<2x4xi32>)
      : tensor<10x4x2x16xf16>, tensor<8x4x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_paged_too_many_tokens(%pool: tensor<10x4x2x16xf16>, %k: tensor<2x8x2x16xf16>, %lens: tensor<2xi32>, %table: tensor<2x1xi32>) {
  // expected-error @+1 {{appending 8 tokens to a cache that holds 4 per sequence}}
  %0:2 = iolite.kv_cache_append %pool, %pool, %k, %k, %lens block_table(%table : tensor<2x1xi32>)
      : tensor<10x4x2x16xf16>, tensor<10x4x2x16xf16>, tensor<2x8x2x16xf16>, tensor<2x8x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @kv_cache_append_page_size(%pool: tensor<10x0x2x16xf16>, %k: tensor<2x1x2x16xf16>, %lens: tensor<2xi32>, %table: tensor<2x4xi32>) {
  // expected-error @+1 {{page size must be >= 1}}
  %0:2 = iolite.kv_cache_append %pool, %pool, %k, %k, %lens block_table(%table : tensor<2x4xi32>)
      : tensor<10x0x2x16xf16>, tensor<10x0x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @cache_attention_query_rank(%q: tensor<2x8x16xf16>, %kc: tensor<2x8x2x16xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{query ([B, Sq, Hq, D]) must have rank 4, got 3 (2x8x16)}}
  %0 = iolite.cache_attention %q, %kc, %kc, %lens
      : tensor<2x8x16xf16>, tensor<2x8x2x16xf16>, tensor<2x8x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @cache_attention_cache_rank(%q: tensor<2x1x8x16xf16>, %kc: tensor<2x8x32xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{k_cache ([B, L, Hkv, D]) must have rank 4, got 3 (2x8x32)}}
  %0 = iolite.cache_attention %q, %kc, %kc, %lens
      : tensor<2x1x8x16xf16>, tensor<2x8x32xf16>, tensor<2x8x32xf16>, tensor<2xi32>
  return
}

// -----

func.func @cache_attention_gqa(%q: tensor<2x1x6x16xf16>, %kc: tensor<2x8x4x16xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{query heads (6) must be a multiple of kv heads (4)}}
  %0 = iolite.cache_attention %q, %kc, %kc, %lens
      : tensor<2x1x6x16xf16>, tensor<2x8x4x16xf16>, tensor<2x8x4x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @cache_attention_head_dim(%q: tensor<2x1x8x16xf16>, %kc: tensor<2x8x2x32xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{k_cache head dim (dim 3) is 32 but must be 16}}
  %0 = iolite.cache_attention %q, %kc, %kc, %lens
      : tensor<2x1x8x16xf16>, tensor<2x8x2x32xf16>, tensor<2x8x2x32xf16>, tensor<2xi32>
  return
}

// -----

func.func @cache_attention_scale(%q: tensor<2x1x8x16xf16>, %kc: tensor<2x8x2x16xf16>, %lens: tensor<2xi32>) {
  // expected-error @+1 {{scale must be finite and non-zero}}
  %0 = iolite.cache_attention %q, %kc, %kc, %lens {scale = 0.0 : f32}
      : tensor<2x1x8x16xf16>, tensor<2x8x2x16xf16>, tensor<2x8x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @cache_attention_too_many_queries(%q: tensor<2x8x8x16xf16>, %pool: tensor<10x2x2x16xf16>, %lens: tensor<2xi32>, %table: tensor<2x2xi32>) {
  // expected-error @+1 {{8 queries per sequence exceed the 4 tokens the cache holds}}
  %0 = iolite.cache_attention %q, %pool, %pool, %lens block_table(%table : tensor<2x2xi32>)
      : tensor<2x8x8x16xf16>, tensor<10x2x2x16xf16>, tensor<10x2x2x16xf16>, tensor<2xi32>
  return
}

// -----

func.func @cache_attention_seqlens_size(%q: tensor<2x1x8x16xf16>, %kc: tensor<2x8x2x16xf16>, %lens: tensor<1xi32>) {
  // expected-error @+1 {{cache_seqlens size (dim 0) is 1 but must be 2}}
  %0 = iolite.cache_attention %q, %kc, %kc, %lens
      : tensor<2x1x8x16xf16>, tensor<2x8x2x16xf16>, tensor<2x8x2x16xf16>, tensor<1xi32>
  return
}

// -----

func.func @varlen_attention_cu_size(%q: tensor<12x8x16xf16>, %k: tensor<20x2x16xf16>, %cuq: tensor<4xi32>, %cuk: tensor<3xi32>) {
  // expected-error @+1 {{cu_seqlens_k size (dim 0) is 3 but must be 4}}
  %0 = iolite.varlen_attention %q, %k, %k, %cuq, %cuk
      : tensor<12x8x16xf16>, tensor<20x2x16xf16>, tensor<20x2x16xf16>, tensor<4xi32>, tensor<3xi32>
  return
}

// -----

func.func @varlen_attention_cu_empty(%q: tensor<12x8x16xf16>, %k: tensor<20x2x16xf16>, %cu: tensor<0xi32>) {
  // expected-error @+1 {{cu_seqlens_q must have B+1 >= 1 entries}}
  %0 = iolite.varlen_attention %q, %k, %k, %cu, %cu
      : tensor<12x8x16xf16>, tensor<20x2x16xf16>, tensor<20x2x16xf16>, tensor<0xi32>, tensor<0xi32>
  return
}

// -----

func.func @varlen_attention_value_tokens(%q: tensor<12x8x16xf16>, %k: tensor<20x2x16xf16>, %v: tensor<10x2x16xf16>, %cu: tensor<4xi32>) {
  // expected-error @+1 {{value tokens (dim 0) is 10 but must be 20}}
  %0 = iolite.varlen_attention %q, %k, %v, %cu, %cu
      : tensor<12x8x16xf16>, tensor<20x2x16xf16>, tensor<10x2x16xf16>, tensor<4xi32>, tensor<4xi32>
  return
}

// -----

func.func @varlen_attention_gqa(%q: tensor<12x6x16xf16>, %k: tensor<20x4x16xf16>, %cu: tensor<4xi32>) {
  // expected-error @+1 {{query heads (6) must be a multiple of kv heads (4)}}
  %0 = iolite.varlen_attention %q, %k, %k, %cu, %cu
      : tensor<12x6x16xf16>, tensor<20x4x16xf16>, tensor<20x4x16xf16>, tensor<4xi32>, tensor<4xi32>
  return
}

// -----

func.func @varlen_attention_head_dim(%q: tensor<12x8x16xf16>, %k: tensor<20x2x32xf16>, %cu: tensor<4xi32>) {
  // expected-error @+1 {{key head dim (dim 2) is 32 but must be 16}}
  %0 = iolite.varlen_attention %q, %k, %k, %cu, %cu
      : tensor<12x8x16xf16>, tensor<20x2x32xf16>, tensor<20x2x32xf16>, tensor<4xi32>, tensor<4xi32>
  return
}

// -----

func.func @varlen_attention_max_seqlen(%q: tensor<12x8x16xf16>, %k: tensor<20x2x16xf16>, %cu: tensor<4xi32>) {
  // expected-error @+1 {{max_seqlen_q must be >= 0, got -1}}
  %0 = iolite.varlen_attention %q, %k, %k, %cu, %cu {max_seqlen_q = -1 : i64}
      : tensor<12x8x16xf16>, tensor<20x2x16xf16>, tensor<20x2x16xf16>, tensor<4xi32>, tensor<4xi32>
  return
}

// -----

func.func @conv1d_with_state_width(%x: tensor<2x8x5xf32>, %w: tensor<8x4xf32>, %s: tensor<2x8x4xf32>) {
  // expected-error @+1 {{state width (dim 2) is 4 but must be 3}}
  %y, %s2 = iolite.conv1d_with_state %x, %w, %s : tensor<2x8x5xf32>, tensor<8x4xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @conv1d_with_state_channels(%x: tensor<2x8x5xf32>, %w: tensor<8x4xf32>, %s: tensor<2x6x3xf32>) {
  // expected-error @+1 {{state channels (dim 1) is 6 but must be 8}}
  %y, %s2 = iolite.conv1d_with_state %x, %w, %s : tensor<2x8x5xf32>, tensor<8x4xf32>, tensor<2x6x3xf32>
  return
}

// -----

func.func @conv1d_with_state_batch(%x: tensor<2x8x5xf32>, %w: tensor<8x4xf32>, %s: tensor<1x8x3xf32>) {
  // expected-error @+1 {{state batch (dim 0) is 1 but must be 2}}
  %y, %s2 = iolite.conv1d_with_state %x, %w, %s : tensor<2x8x5xf32>, tensor<8x4xf32>, tensor<1x8x3xf32>
  return
}

// -----

func.func @conv1d_with_state_type(%x: tensor<2x8x5xf16>, %w: tensor<8x4xf16>, %s: tensor<2x8x3xf32>) {
  // expected-error @+1 {{state must have element type 'f16', got 'f32'}}
  %y, %s2 = iolite.conv1d_with_state %x, %w, %s : tensor<2x8x5xf16>, tensor<8x4xf16>, tensor<2x8x3xf32>
  return
}

// -----

func.func @conv1d_with_state_weight(%x: tensor<2x8x5xf32>, %w: tensor<6x4xf32>, %s: tensor<2x8x3xf32>) {
  // expected-error @+1 {{weight channels (dim 0) is 6 but must be 8}}
  %y, %s2 = iolite.conv1d_with_state %x, %w, %s : tensor<2x8x5xf32>, tensor<6x4xf32>, tensor<2x8x3xf32>
  return
}

// -----

func.func @selective_scan_with_state_size(%u: tensor<1x8x4xf32>, %A: tensor<8x16xf32>, %B: tensor<1x16x4xf32>, %h: tensor<1x8x8xf32>) {
  // expected-error @+1 {{state state size (dim 2) is 8 but must be 16}}
  %y, %h2 = iolite.selective_scan_with_state %u, %u, %A, %B, %B, %h
      : tensor<1x8x4xf32>, tensor<1x8x4xf32>, tensor<8x16xf32>, tensor<1x16x4xf32>, tensor<1x16x4xf32>, tensor<1x8x8xf32>
  return
}

// -----

func.func @ssd_with_state_heads(%x: tensor<1x3x4x16xf32>, %dt: tensor<1x3x4xf32>, %A: tensor<4xf32>, %B: tensor<1x3x2x8xf32>, %h: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{state heads (dim 1) is 2 but must be 4}}
  %y, %h2 = iolite.ssd_with_state %x, %dt, %A, %B, %B, %h
      : tensor<1x3x4x16xf32>, tensor<1x3x4xf32>, tensor<4xf32>, tensor<1x3x2x8xf32>, tensor<1x3x2x8xf32>, tensor<1x2x16x8xf32>
  return
}

// -----

func.func @ssd_with_state_rank(%x: tensor<1x3x4x16xf32>, %dt: tensor<1x3x4xf32>, %A: tensor<4xf32>, %B: tensor<1x3x2x8xf32>, %h: tensor<1x64x8xf32>) {
  // expected-error @+1 {{state ([B, H, P, N]) must have rank 4}}
  %y, %h2 = iolite.ssd_with_state %x, %dt, %A, %B, %B, %h
      : tensor<1x3x4x16xf32>, tensor<1x3x4xf32>, tensor<4xf32>, tensor<1x3x2x8xf32>, tensor<1x3x2x8xf32>, tensor<1x64x8xf32>
  return
}

// -----

func.func @selective_scan_with_state_channels(%u: tensor<1x8x4xf32>, %A: tensor<8x16xf32>, %B: tensor<1x16x4xf32>, %h: tensor<1x4x16xf32>) {
  // expected-error @+1 {{state channels (dim 1) is 4 but must be 8}}
  %y, %h2 = iolite.selective_scan_with_state %u, %u, %A, %B, %B, %h
      : tensor<1x8x4xf32>, tensor<1x8x4xf32>, tensor<8x16xf32>, tensor<1x16x4xf32>, tensor<1x16x4xf32>, tensor<1x4x16xf32>
  return
}

// -----

func.func @selective_scan_with_state_rank(%u: tensor<1x8x4xf32>, %A: tensor<8x16xf32>, %B: tensor<1x16x4xf32>, %h: tensor<8x16xf32>) {
  // expected-error @+1 {{state ([B, D, N]) must have rank 3, got 2 (8x16)}}
  %y, %h2 = iolite.selective_scan_with_state %u, %u, %A, %B, %B, %h
      : tensor<1x8x4xf32>, tensor<1x8x4xf32>, tensor<8x16xf32>, tensor<1x16x4xf32>, tensor<1x16x4xf32>, tensor<8x16xf32>
  return
}

// -----

func.func @selective_scan_with_state_type(%u: tensor<1x8x4xf16>, %A: tensor<8x16xf32>, %B: tensor<1x16x4xf16>, %h: tensor<1x8x16xf16>) {
  // expected-error @+1 {{must be ranked tensor of 32-bit float values}}
  %y, %h2 = iolite.selective_scan_with_state %u, %u, %A, %B, %B, %h
      : tensor<1x8x4xf16>, tensor<1x8x4xf16>, tensor<8x16xf32>, tensor<1x16x4xf16>, tensor<1x16x4xf16>, tensor<1x8x16xf16>
  return
}
