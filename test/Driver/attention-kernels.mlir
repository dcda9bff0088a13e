// The attention kernels at head_dim 64 and 128 (f16, bf16, f32; causal,
// GQA, sliding window with ALiBi and soft-cap, split-KV decode and its
// combine) compile for sm_80, sm_90a, gfx90a and gfx942 with the target's
// tiles: ptxas reports 0 spill bytes and no stack, the HSACO metadata no
// VGPR spills and no private segment (scratch).
// RUN: rm -rf %t && iolite-compile %S/Inputs/attention_configs.mlir --target=sm_80,sm_90a,gfx90a,gfx942 -o %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=NOSPILL --input-file=%t/manifest.json
// RUN: FileCheck %s --check-prefix=MANIFEST --input-file=%t/manifest.json

// CHECK: configs_k0_attention attention attention sm_80 16x2x1 256x1x1 83456
// CHECK-NEXT: sm_90a 16x2x1 256x1x1 83456
// CHECK-NEXT: gfx90a 32x2x1 256x1x1 33792
// CHECK-NEXT: gfx942 32x2x1 256x1x1 33792
// CHECK: configs_k1_attention attention attention sm_80 16x2x1 256x1x1 133120
// CHECK: configs_k2_attention attention attention sm_80
// CHECK: configs_k3_attention attention attention sm_80
// CHECK: configs_k4_attention attention attention sm_80 1x8x14 64x1x1
// CHECK-NEXT: sm_90a 1x8x17 64x1x1
// CHECK-NEXT: gfx90a 1x8x14 64x1x1
// CHECK-NEXT: gfx942 1x8x20 64x1x1
// CHECK: configs_k4_attention_combine attention_combine attention sm_80
// CHECK: wrote {{.*}} (6 kernels, 4 targets, workspace

// MANIFEST: "name": "configs_k4_attention_combine"
// MANIFEST: "template": "attention_combine"

// NOSPILL-NOT: "spills": {{[1-9]}}
// NOSPILL-NOT: "stack_bytes": {{[1-9]}}
