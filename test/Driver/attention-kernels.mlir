// The attention kernels at head_dim 64 and 128 (f16, bf16, f32; causal,
// GQA, sliding window with ALiBi and soft-cap, split-KV decode and its
// combine) compile for sm_80, sm_90a, gfx90a and gfx942 with the target's
// tiles: ptxas reports 0 spill bytes and no stack, the HSACO metadata no
// VGPR spills and no private segment (scratch).
// RUN: rm -rf %t && iolite-compile %S/Inputs/attention_configs.mlir --target=sm_80,sm_90a,gfx90a,gfx942 -o %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=NOSPILL --input-file=%t/manifest.json
// RUN: FileCheck %s --check-prefix=MANIFEST --input-file=%t/manifest.json

// f16/bf16 run on the matrix units with the same 128-row query tile on
// every chip (16 blocks per head group of 1024 rows); f32 on the FMA units.
// CHECK: configs_k0_attention attention attention sm_80 16x2x1 256x1x1 32768 {{[0-9]+}}/0 nv_m16n8k16_f16
// CHECK-NEXT: sm_90a 16x2x1 256x1x1 32768 {{[0-9]+}}/0 nv_m16n8k16_f16
// CHECK-NEXT: gfx90a 16x2x1 256x1x1 24576 {{[0-9]+}}/0 amd_mfma_32x32x8_f16
// CHECK-NEXT: gfx942 16x2x1 256x1x1 24576 {{[0-9]+}}/0 amd_mfma_32x32x8_f16
// CHECK: configs_k1_attention attention attention sm_80 16x2x1 256x1x1 65536 {{[0-9]+}}/0 nv_m16n8k16_bf16
// CHECK: gfx942 16x2x1 256x1x1 40960 {{[0-9]+}}/0 amd_mfma_32x32x8_bf16
// CHECK: configs_k2_attention attention attention sm_80 {{.*}} fma
// CHECK: configs_k3_attention attention attention sm_80
// Decode: one warp of 16 rows (8 used) on NVIDIA; MFMA 16x16x16 on AMD.
// CHECK: configs_k4_attention attention attention sm_80 1x8x14 32x1x1 {{.*}} nv_m16n8k16_f16
// CHECK-NEXT: sm_90a 1x8x17 32x1x1
// CHECK-NEXT: gfx90a 1x8x14 64x1x1 {{.*}} amd_mfma_16x16x16_f16
// CHECK-NEXT: gfx942 1x8x20 64x1x1
// CHECK: configs_k4_attention_combine attention_combine attention sm_80
// CHECK: wrote {{.*}} (6 kernels, 4 targets, workspace

// MANIFEST: "name": "configs_k4_attention_combine"
// MANIFEST: "template": "attention_combine"

// NOSPILL-NOT: "spills": {{[1-9]}}
// NOSPILL-NOT: "stack_bytes": {{[1-9]}}
