// Packed variable-length prefill at serving shapes (Llama-style 32 query
// heads over 8 kv heads of 128; 8192 query and key rows, sequences of up to
// 4096 tokens; causal f16 and bf16 on the matrix units, f32 on the FMA
// units) fits every chip: ptxas reports 0 spill bytes and 0 stack, and no
// HSACO kernel spills VGPRs to scratch or uses a private segment. Prefill
// does not split the KV range: one kernel each, no combine kernel.
// RUN: rm -rf %t && iolite-compile %s --target=sm_80,sm_90a,gfx90a,gfx942 -o %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=NOSPILL --input-file=%t/manifest.json

// CHECK: varlen_attention_fit_k0_varlen_attention attention varlen_attention sm_80 {{.*}} nv_m16n8k16_f16
// CHECK-NEXT: sm_90a {{.*}} nv_m16n8k16_f16
// CHECK-NEXT: gfx90a {{.*}} amd_mfma_{{.*}}_f16
// CHECK-NEXT: gfx942 {{.*}} amd_mfma_{{.*}}_f16
// CHECK-NEXT: varlen_attention_fit_k1_varlen_attention attention varlen_attention sm_80 {{.*}} nv_m16n8k16_bf16
// CHECK-NEXT: sm_90a {{.*}} nv_m16n8k16_bf16
// CHECK-NEXT: gfx90a {{.*}} amd_mfma_{{.*}}_bf16
// CHECK-NEXT: gfx942 {{.*}} amd_mfma_{{.*}}_bf16
// CHECK-NEXT: varlen_attention_fit_k2_varlen_attention attention varlen_attention sm_80 {{.*}} fma
// CHECK-NEXT: sm_90a {{.*}} fma
// CHECK-NEXT: gfx90a {{.*}} fma
// CHECK-NEXT: gfx942 {{.*}} fma
// CHECK-NOT: combine
// CHECK: wrote {{.*}} (3 kernels, 4 targets

// NOSPILL: "kernels": [
// NOSPILL-NOT: "spills": {{[1-9]}}
// NOSPILL-NOT: "stack_bytes": {{[1-9]}}
// NOSPILL: "workspace_bytes"

func.func @varlen_attention_fit(%f16_q: tensor<8192x32x128xf16>, %f16_k: tensor<8192x8x128xf16>, %f16_v: tensor<8192x8x128xf16>, %f16_cuq: tensor<5xi32>, %f16_cuk: tensor<5xi32>, %bf16_q: tensor<8192x32x128xbf16>, %bf16_k: tensor<8192x8x128xbf16>, %bf16_v: tensor<8192x8x128xbf16>, %bf16_cuq: tensor<9xi32>, %bf16_cuk: tensor<9xi32>, %f32_q: tensor<8192x32x128xf32>, %f32_k: tensor<8192x8x128xf32>, %f32_v: tensor<8192x8x128xf32>, %f32_cuq: tensor<5xi32>, %f32_cuk: tensor<5xi32>) -> (tensor<8192x32x128xf16>, tensor<8192x32x128xbf16>, tensor<8192x32x128xf32>) {
  %f16 = iolite.varlen_attention %f16_q, %f16_k, %f16_v, %f16_cuq, %f16_cuk {causal, max_seqlen_q = 4096, max_seqlen_k = 4096}
      : tensor<8192x32x128xf16>, tensor<8192x8x128xf16>, tensor<8192x8x128xf16>, tensor<5xi32>, tensor<5xi32>
  %bf16 = iolite.varlen_attention %bf16_q, %bf16_k, %bf16_v, %bf16_cuq, %bf16_cuk {causal, max_seqlen_q = 2048}
      : tensor<8192x32x128xbf16>, tensor<8192x8x128xbf16>, tensor<8192x8x128xbf16>, tensor<9xi32>, tensor<9xi32>
  %f32 = iolite.varlen_attention %f32_q, %f32_k, %f32_v, %f32_cuq, %f32_cuk {causal, max_seqlen_q = 4096}
      : tensor<8192x32x128xf32>, tensor<8192x8x128xf32>, tensor<8192x8x128xf32>, tensor<5xi32>, tensor<5xi32>
  return %f16, %bf16, %f32 : tensor<8192x32x128xf16>, tensor<8192x32x128xbf16>, tensor<8192x32x128xf32>
}
