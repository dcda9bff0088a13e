// Attention over a KV cache at serving shapes (Llama-style 32 query heads
// over 8 kv heads of 128, 4k-token caches; contiguous and paged with pages
// of 16 and 64 tokens; decode and a 4-query step; f16 and bf16 on the
// matrix units, f32 on the FMA units) fits every chip: ptxas reports 0
// spill bytes and 0 stack, and no HSACO kernel spills VGPRs to scratch or
// uses a private segment. Each of them can split a long sequence's KV
// range (flash-decoding), so each has its combine kernel, on every chip
// (how many partitions depends on the chip).
// RUN: rm -rf %t && iolite-compile %s --target=sm_80,sm_90a,gfx90a,gfx942 -o %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=NOSPILL --input-file=%t/manifest.json

// CHECK: cache_attention_fit_k0_cache_attention attention cache_attention sm_80 {{.*}} nv_m16n8k16_f16
// CHECK-NEXT: sm_90a {{.*}} nv_m16n8k16_f16
// CHECK-NEXT: gfx90a {{.*}} amd_mfma_16x16x16_f16
// CHECK-NEXT: gfx942 {{.*}} amd_mfma_16x16x16_f16
// CHECK-NEXT: cache_attention_fit_k0_cache_attention_combine attention_combine
// CHECK: cache_attention_fit_k1_cache_attention attention cache_attention sm_80 {{.*}} nv_m16n8k16_bf16
// CHECK: cache_attention_fit_k1_cache_attention_combine attention_combine
// CHECK: cache_attention_fit_k2_cache_attention attention cache_attention sm_80 {{.*}} nv_m16n8k16_f16
// CHECK: cache_attention_fit_k2_cache_attention_combine attention_combine
// CHECK: cache_attention_fit_k3_cache_attention attention cache_attention sm_80 {{.*}} nv_m16n8k16_bf16
// CHECK: cache_attention_fit_k3_cache_attention_combine attention_combine
// CHECK: cache_attention_fit_k4_cache_attention attention cache_attention sm_80 {{.*}} fma
// CHECK-NEXT: sm_90a {{.*}} fma
// CHECK-NEXT: gfx90a {{.*}} fma
// CHECK-NEXT: gfx942 {{.*}} fma
// CHECK-NEXT: cache_attention_fit_k4_cache_attention_combine attention_combine
// CHECK: wrote {{.*}} (10 kernels, 4 targets

// NOSPILL: "kernels": [
// NOSPILL-NOT: "spills": {{[1-9]}}
// NOSPILL-NOT: "stack_bytes": {{[1-9]}}
// NOSPILL: "workspace_bytes"

func.func @cache_attention_fit(%decode_f16_q: tensor<8x1x32x128xf16>, %decode_f16_kc: tensor<8x4096x8x128xf16>, %decode_f16_vc: tensor<8x4096x8x128xf16>, %decode_f16_lens: tensor<8xi32>, %step_bf16_q: tensor<4x4x32x128xbf16>, %step_bf16_kc: tensor<4x4096x8x128xbf16>, %step_bf16_vc: tensor<4x4096x8x128xbf16>, %step_bf16_lens: tensor<4xi32>, %paged16_f16_q: tensor<16x1x32x128xf16>, %paged16_f16_kc: tensor<4096x16x8x128xf16>, %paged16_f16_vc: tensor<4096x16x8x128xf16>, %paged16_f16_lens: tensor<16xi32>, %paged16_f16_table: tensor<16x256xi32>, %paged64_bf16_q: tensor<8x2x32x128xbf16>, %paged64_bf16_kc: tensor<512x64x8x128xbf16>, %paged64_bf16_vc: tensor<512x64x8x128xbf16>, %paged64_bf16_lens: tensor<8xi32>, %paged64_bf16_table: tensor<8x64xi32>, %decode_f32_q: tensor<8x1x32x128xf32>, %decode_f32_kc: tensor<8x4096x8x128xf32>, %decode_f32_vc: tensor<8x4096x8x128xf32>, %decode_f32_lens: tensor<8xi32>) -> (tensor<8x1x32x128xf16>, tensor<4x4x32x128xbf16>, tensor<16x1x32x128xf16>, tensor<8x2x32x128xbf16>, tensor<8x1x32x128xf32>) {
  %decode_f16 = iolite.cache_attention %decode_f16_q, %decode_f16_kc, %decode_f16_vc, %decode_f16_lens {causal}
      : tensor<8x1x32x128xf16>, tensor<8x4096x8x128xf16>, tensor<8x4096x8x128xf16>, tensor<8xi32>
  %step_bf16 = iolite.cache_attention %step_bf16_q, %step_bf16_kc, %step_bf16_vc, %step_bf16_lens {causal}
      : tensor<4x4x32x128xbf16>, tensor<4x4096x8x128xbf16>, tensor<4x4096x8x128xbf16>, tensor<4xi32>
  %paged16_f16 = iolite.cache_attention %paged16_f16_q, %paged16_f16_kc, %paged16_f16_vc, %paged16_f16_lens block_table(%paged16_f16_table : tensor<16x256xi32>) {causal}
      : tensor<16x1x32x128xf16>, tensor<4096x16x8x128xf16>, tensor<4096x16x8x128xf16>, tensor<16xi32>
  %paged64_bf16 = iolite.cache_attention %paged64_bf16_q, %paged64_bf16_kc, %paged64_bf16_vc, %paged64_bf16_lens block_table(%paged64_bf16_table : tensor<8x64xi32>) {causal}
      : tensor<8x2x32x128xbf16>, tensor<512x64x8x128xbf16>, tensor<512x64x8x128xbf16>, tensor<8xi32>
  %decode_f32 = iolite.cache_attention %decode_f32_q, %decode_f32_kc, %decode_f32_vc, %decode_f32_lens
      : tensor<8x1x32x128xf32>, tensor<8x4096x8x128xf32>, tensor<8x4096x8x128xf32>, tensor<8xi32>
  return %decode_f16, %step_bf16, %paged16_f16, %paged64_bf16, %decode_f32 : tensor<8x1x32x128xf16>, tensor<4x4x32x128xbf16>, tensor<16x1x32x128xf16>, tensor<8x2x32x128xbf16>, tensor<8x1x32x128xf32>
}
