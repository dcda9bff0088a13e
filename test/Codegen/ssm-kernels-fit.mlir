// The state-space kernels at realistic Mamba-1 (d_inner 1536, d_state 16
// and 64, with the fused conv1d + SiLU prologue, f32 and bf16), Mamba-2
// (24 heads of 64, d_state 64 and 128, chunk 256; groups; the fused
// conv1d + SiLU + SSD + gate kernel; f16 and bf16 SSD with their chunk
// products on mma.sync / MFMA) and Hyena (8k filter) shapes fit every
// chip: ptxas reports 0 spill bytes and 0 stack,
// and no HSACO kernel spills VGPRs to scratch or uses a private segment.
// RUN: rm -rf %t && iolite-compile %s --target=sm_80,sm_90a,gfx90a,gfx942 -o %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=NOSPILL --input-file=%t/manifest.json

// CHECK: scan_n16 selective_scan selective_scan sm_80 24x1x1 64x1x1
// CHECK: scan_n64 selective_scan selective_scan sm_80 6x1x1 512x1x1
// CHECK: scan_conv_bf16 selective_scan conv1d,selective_scan sm_80
// CHECK: scan_conv_n64_bf16 selective_scan conv1d,selective_scan sm_80
// CHECK: ssd_n64 ssd ssd sm_80 {{.*}} fma
// CHECK: ssd_n64_f16 ssd ssd sm_80 {{.*}} nv_m16n8k16_f16
// CHECK-NEXT: sm_90a {{.*}} nv_m16n8k16_f16
// CHECK-NEXT: gfx90a {{.*}} amd_mfma_32x32x8_f16
// CHECK-NEXT: gfx942 {{.*}} amd_mfma_32x32x8_f16
// CHECK: ssd_n128_bf16 ssd ssd sm_80 {{.*}} nv_m16n8k16_bf16
// CHECK-NEXT: sm_90a {{.*}} nv_m16n8k16_bf16
// CHECK-NEXT: gfx90a {{.*}} amd_mfma_16x16x16_bf16
// CHECK-NEXT: gfx942 {{.*}} amd_mfma_16x16x16_bf16
// CHECK: ssd_n16_groups ssd ssd sm_80
// CHECK: hyena_8k long_conv long_conv sm_80
// CHECK: hyena_1k_bf16 long_conv long_conv sm_80
// CHECK: conv1d_k4 conv1d conv1d sm_80
// CHECK: mamba2_fused_bf16 ssd slice,slice,slice,transpose,con{{.*}} sm_80 {{.*}} nv_m16n8k16_bf16
// CHECK-NEXT: sm_90a {{.*}} nv_m16n8k16_bf16
// CHECK-NEXT: gfx90a {{.*}} amd_mfma_16x16x16_bf16
// CHECK-NEXT: gfx942 {{.*}} amd_mfma_16x16x16_bf16
// CHECK: wrote {{.*}} (12 kernels, 4 targets, workspace 0 bytes)

// NOSPILL: "kernels": [
// NOSPILL-NOT: "spills": {{[1-9]}}
// NOSPILL-NOT: "stack_bytes": {{[1-9]}}
// NOSPILL: "workspace_bytes"

func.func @ssm_kernels(%scan_n16_u: tensor<1x1536x1024xf32>, %scan_n16_dt: tensor<1x1536x1024xf32>, %scan_n16_A: tensor<1536x16xf32>, %scan_n16_B: tensor<1x16x1024xf32>, %scan_n16_C: tensor<1x16x1024xf32>, %scan_n16_D: tensor<1536xf32>, %scan_n16_z: tensor<1x1536x1024xf32>, %scan_n16_db: tensor<1536xf32>, %scan_n64_u: tensor<1x1536x1024xf32>, %scan_n64_dt: tensor<1x1536x1024xf32>, %scan_n64_A: tensor<1536x64xf32>, %scan_n64_B: tensor<1x64x1024xf32>, %scan_n64_C: tensor<1x64x1024xf32>, %scan_n64_D: tensor<1536xf32>, %scan_n64_z: tensor<1x1536x1024xf32>, %scan_n64_db: tensor<1536xf32>, %scan_conv_bf16_u: tensor<1x1536x1024xbf16>, %scan_conv_bf16_dt: tensor<1x1536x1024xbf16>, %scan_conv_bf16_A: tensor<1536x16xf32>, %scan_conv_bf16_B: tensor<1x16x1024xbf16>, %scan_conv_bf16_C: tensor<1x16x1024xbf16>, %scan_conv_bf16_D: tensor<1536xf32>, %scan_conv_bf16_z: tensor<1x1536x1024xbf16>, %scan_conv_bf16_db: tensor<1536xf32>, %scan_conv_bf16_w: tensor<1536x4xbf16>, %scan_conv_bf16_cb: tensor<1536xbf16>, %scan_conv_n64_bf16_u: tensor<1x1536x1024xbf16>, %scan_conv_n64_bf16_dt: tensor<1x1536x1024xbf16>, %scan_conv_n64_bf16_A: tensor<1536x64xf32>, %scan_conv_n64_bf16_B: tensor<1x64x1024xbf16>, %scan_conv_n64_bf16_C: tensor<1x64x1024xbf16>, %scan_conv_n64_bf16_D: tensor<1536xf32>, %scan_conv_n64_bf16_z: tensor<1x1536x1024xbf16>, %scan_conv_n64_bf16_db: tensor<1536xf32>, %scan_conv_n64_bf16_w: tensor<1536x4xbf16>, %scan_conv_n64_bf16_cb: tensor<1536xbf16>, %ssd_n64_x: tensor<1x1024x24x64xf32>, %ssd_n64_dt: tensor<1x1024x24xf32>, %ssd_n64_A: tensor<24xf32>, %ssd_n64_B: tensor<1x1024x1x64xf32>, %ssd_n64_C: tensor<1x1024x1x64xf32>, %ssd_n64_D: tensor<24xf32>, %ssd_n64_db: tensor<24xf32>, %ssd_n64_f16_x: tensor<1x1024x24x64xf16>, %ssd_n64_f16_dt: tensor<1x1024x24xf16>, %ssd_n64_f16_A: tensor<24xf32>, %ssd_n64_f16_B: tensor<1x1024x1x64xf16>, %ssd_n64_f16_C: tensor<1x1024x1x64xf16>, %ssd_n64_f16_D: tensor<24xf32>, %ssd_n64_f16_db: tensor<24xf32>, %ssd_n128_bf16_x: tensor<1x1024x24x64xbf16>, %ssd_n128_bf16_dt: tensor<1x1024x24xbf16>, %ssd_n128_bf16_A: tensor<24xf32>, %ssd_n128_bf16_B: tensor<1x1024x1x128xbf16>, %ssd_n128_bf16_C: tensor<1x1024x1x128xbf16>, %ssd_n128_bf16_D: tensor<24xf32>, %ssd_n128_bf16_db: tensor<24xf32>, %ssd_n16_groups_x: tensor<1x1024x16x64xf32>, %ssd_n16_groups_dt: tensor<1x1024x16xf32>, %ssd_n16_groups_A: tensor<16xf32>, %ssd_n16_groups_B: tensor<1x1024x4x16xf32>, %ssd_n16_groups_C: tensor<1x1024x4x16xf32>, %ssd_n16_groups_D: tensor<16xf32>, %ssd_n16_groups_db: tensor<16xf32>, %hyena_8k_x: tensor<1x64x8192xf32>, %hyena_8k_f: tensor<64x8192xf32>, %hyena_8k_d: tensor<64xf32>, %hyena_1k_bf16_x: tensor<2x64x1024xbf16>, %hyena_1k_bf16_f: tensor<64x1024xbf16>, %hyena_1k_bf16_d: tensor<64xbf16>, %conv1d_k4_x: tensor<2x3072x1024xbf16>, %conv1d_k4_w: tensor<3072x4xbf16>, %conv1d_k4_b: tensor<3072xbf16>, %mamba2_fused_bf16_p: tensor<1x1024x3352xbf16>, %mamba2_fused_bf16_cw: tensor<1792x4xbf16>, %mamba2_fused_bf16_cb: tensor<1792xbf16>, %mamba2_fused_bf16_A: tensor<24xf32>, %mamba2_fused_bf16_D: tensor<24xf32>, %mamba2_fused_bf16_db: tensor<24xf32>) -> (tensor<1x1536x1024xf32>, tensor<1x1536x1024xf32>, tensor<1x1536x1024xbf16>, tensor<1x1536x1024xbf16>, tensor<1x1024x24x64xf32>, tensor<1x1024x24x64xf16>, tensor<1x1024x24x64xbf16>, tensor<1x1024x16x64xf32>, tensor<1x64x8192xf32>, tensor<2x64x1024xbf16>, tensor<2x3072x1024xbf16>, tensor<1x1024x1536xbf16>) {
  %scan_n16 = iolite.kernel "scan_n16" (%scan_n16_u, %scan_n16_dt, %scan_n16_A, %scan_n16_B, %scan_n16_C, %scan_n16_D, %scan_n16_z, %scan_n16_db) : (tensor<1x1536x1024xf32>, tensor<1x1536x1024xf32>, tensor<1536x16xf32>, tensor<1x16x1024xf32>, tensor<1x16x1024xf32>, tensor<1536xf32>, tensor<1x1536x1024xf32>, tensor<1536xf32>) -> tensor<1x1536x1024xf32> {
  ^bb0(%scan_n16_a0: tensor<1x1536x1024xf32>, %scan_n16_a1: tensor<1x1536x1024xf32>, %scan_n16_a2: tensor<1536x16xf32>, %scan_n16_a3: tensor<1x16x1024xf32>, %scan_n16_a4: tensor<1x16x1024xf32>, %scan_n16_a5: tensor<1536xf32>, %scan_n16_a6: tensor<1x1536x1024xf32>, %scan_n16_a7: tensor<1536xf32>):
    %scan_n16_y = iolite.selective_scan %scan_n16_a0, %scan_n16_a1, %scan_n16_a2, %scan_n16_a3, %scan_n16_a4 D(%scan_n16_a5 : tensor<1536xf32>) z(%scan_n16_a6 : tensor<1x1536x1024xf32>) delta_bias(%scan_n16_a7 : tensor<1536xf32>) {delta_softplus} : tensor<1x1536x1024xf32>, tensor<1x1536x1024xf32>, tensor<1536x16xf32>, tensor<1x16x1024xf32>, tensor<1x16x1024xf32>
    iolite.yield %scan_n16_y : tensor<1x1536x1024xf32>
  }
  %scan_n64 = iolite.kernel "scan_n64" (%scan_n64_u, %scan_n64_dt, %scan_n64_A, %scan_n64_B, %scan_n64_C, %scan_n64_D, %scan_n64_z, %scan_n64_db) : (tensor<1x1536x1024xf32>, tensor<1x1536x1024xf32>, tensor<1536x64xf32>, tensor<1x64x1024xf32>, tensor<1x64x1024xf32>, tensor<1536xf32>, tensor<1x1536x1024xf32>, tensor<1536xf32>) -> tensor<1x1536x1024xf32> {
  ^bb0(%scan_n64_a0: tensor<1x1536x1024xf32>, %scan_n64_a1: tensor<1x1536x1024xf32>, %scan_n64_a2: tensor<1536x64xf32>, %scan_n64_a3: tensor<1x64x1024xf32>, %scan_n64_a4: tensor<1x64x1024xf32>, %scan_n64_a5: tensor<1536xf32>, %scan_n64_a6: tensor<1x1536x1024xf32>, %scan_n64_a7: tensor<1536xf32>):
    %scan_n64_y = iolite.selective_scan %scan_n64_a0, %scan_n64_a1, %scan_n64_a2, %scan_n64_a3, %scan_n64_a4 D(%scan_n64_a5 : tensor<1536xf32>) z(%scan_n64_a6 : tensor<1x1536x1024xf32>) delta_bias(%scan_n64_a7 : tensor<1536xf32>) {delta_softplus} : tensor<1x1536x1024xf32>, tensor<1x1536x1024xf32>, tensor<1536x64xf32>, tensor<1x64x1024xf32>, tensor<1x64x1024xf32>
    iolite.yield %scan_n64_y : tensor<1x1536x1024xf32>
  }
  %scan_conv_bf16 = iolite.kernel "scan_conv_bf16" (%scan_conv_bf16_u, %scan_conv_bf16_dt, %scan_conv_bf16_A, %scan_conv_bf16_B, %scan_conv_bf16_C, %scan_conv_bf16_D, %scan_conv_bf16_z, %scan_conv_bf16_db, %scan_conv_bf16_w, %scan_conv_bf16_cb) : (tensor<1x1536x1024xbf16>, tensor<1x1536x1024xbf16>, tensor<1536x16xf32>, tensor<1x16x1024xbf16>, tensor<1x16x1024xbf16>, tensor<1536xf32>, tensor<1x1536x1024xbf16>, tensor<1536xf32>, tensor<1536x4xbf16>, tensor<1536xbf16>) -> tensor<1x1536x1024xbf16> {
  ^bb0(%scan_conv_bf16_a0: tensor<1x1536x1024xbf16>, %scan_conv_bf16_a1: tensor<1x1536x1024xbf16>, %scan_conv_bf16_a2: tensor<1536x16xf32>, %scan_conv_bf16_a3: tensor<1x16x1024xbf16>, %scan_conv_bf16_a4: tensor<1x16x1024xbf16>, %scan_conv_bf16_a5: tensor<1536xf32>, %scan_conv_bf16_a6: tensor<1x1536x1024xbf16>, %scan_conv_bf16_a7: tensor<1536xf32>, %scan_conv_bf16_a8: tensor<1536x4xbf16>, %scan_conv_bf16_a9: tensor<1536xbf16>):
    %scan_conv_bf16_c = iolite.conv1d %scan_conv_bf16_a0, %scan_conv_bf16_a8 bias(%scan_conv_bf16_a9 : tensor<1536xbf16>) activation = silu : tensor<1x1536x1024xbf16>, tensor<1536x4xbf16>
    %scan_conv_bf16_y = iolite.selective_scan %scan_conv_bf16_c, %scan_conv_bf16_a1, %scan_conv_bf16_a2, %scan_conv_bf16_a3, %scan_conv_bf16_a4 D(%scan_conv_bf16_a5 : tensor<1536xf32>) z(%scan_conv_bf16_a6 : tensor<1x1536x1024xbf16>) delta_bias(%scan_conv_bf16_a7 : tensor<1536xf32>) {delta_softplus} : tensor<1x1536x1024xbf16>, tensor<1x1536x1024xbf16>, tensor<1536x16xf32>, tensor<1x16x1024xbf16>, tensor<1x16x1024xbf16>
    iolite.yield %scan_conv_bf16_y : tensor<1x1536x1024xbf16>
  }
  %scan_conv_n64_bf16 = iolite.kernel "scan_conv_n64_bf16" (%scan_conv_n64_bf16_u, %scan_conv_n64_bf16_dt, %scan_conv_n64_bf16_A, %scan_conv_n64_bf16_B, %scan_conv_n64_bf16_C, %scan_conv_n64_bf16_D, %scan_conv_n64_bf16_z, %scan_conv_n64_bf16_db, %scan_conv_n64_bf16_w, %scan_conv_n64_bf16_cb) : (tensor<1x1536x1024xbf16>, tensor<1x1536x1024xbf16>, tensor<1536x64xf32>, tensor<1x64x1024xbf16>, tensor<1x64x1024xbf16>, tensor<1536xf32>, tensor<1x1536x1024xbf16>, tensor<1536xf32>, tensor<1536x4xbf16>, tensor<1536xbf16>) -> tensor<1x1536x1024xbf16> {
  ^bb0(%scan_conv_n64_bf16_a0: tensor<1x1536x1024xbf16>, %scan_conv_n64_bf16_a1: tensor<1x1536x1024xbf16>, %scan_conv_n64_bf16_a2: tensor<1536x64xf32>, %scan_conv_n64_bf16_a3: tensor<1x64x1024xbf16>, %scan_conv_n64_bf16_a4: tensor<1x64x1024xbf16>, %scan_conv_n64_bf16_a5: tensor<1536xf32>, %scan_conv_n64_bf16_a6: tensor<1x1536x1024xbf16>, %scan_conv_n64_bf16_a7: tensor<1536xf32>, %scan_conv_n64_bf16_a8: tensor<1536x4xbf16>, %scan_conv_n64_bf16_a9: tensor<1536xbf16>):
    %scan_conv_n64_bf16_c = iolite.conv1d %scan_conv_n64_bf16_a0, %scan_conv_n64_bf16_a8 bias(%scan_conv_n64_bf16_a9 : tensor<1536xbf16>) activation = silu : tensor<1x1536x1024xbf16>, tensor<1536x4xbf16>
    %scan_conv_n64_bf16_y = iolite.selective_scan %scan_conv_n64_bf16_c, %scan_conv_n64_bf16_a1, %scan_conv_n64_bf16_a2, %scan_conv_n64_bf16_a3, %scan_conv_n64_bf16_a4 D(%scan_conv_n64_bf16_a5 : tensor<1536xf32>) z(%scan_conv_n64_bf16_a6 : tensor<1x1536x1024xbf16>) delta_bias(%scan_conv_n64_bf16_a7 : tensor<1536xf32>) {delta_softplus} : tensor<1x1536x1024xbf16>, tensor<1x1536x1024xbf16>, tensor<1536x64xf32>, tensor<1x64x1024xbf16>, tensor<1x64x1024xbf16>
    iolite.yield %scan_conv_n64_bf16_y : tensor<1x1536x1024xbf16>
  }
  %ssd_n64 = iolite.kernel "ssd_n64" (%ssd_n64_x, %ssd_n64_dt, %ssd_n64_A, %ssd_n64_B, %ssd_n64_C, %ssd_n64_D, %ssd_n64_db) : (tensor<1x1024x24x64xf32>, tensor<1x1024x24xf32>, tensor<24xf32>, tensor<1x1024x1x64xf32>, tensor<1x1024x1x64xf32>, tensor<24xf32>, tensor<24xf32>) -> tensor<1x1024x24x64xf32> {
  ^bb0(%ssd_n64_a0: tensor<1x1024x24x64xf32>, %ssd_n64_a1: tensor<1x1024x24xf32>, %ssd_n64_a2: tensor<24xf32>, %ssd_n64_a3: tensor<1x1024x1x64xf32>, %ssd_n64_a4: tensor<1x1024x1x64xf32>, %ssd_n64_a5: tensor<24xf32>, %ssd_n64_a6: tensor<24xf32>):
    %ssd_n64_y = iolite.ssd %ssd_n64_a0, %ssd_n64_a1, %ssd_n64_a2, %ssd_n64_a3, %ssd_n64_a4 D(%ssd_n64_a5 : tensor<24xf32>) dt_bias(%ssd_n64_a6 : tensor<24xf32>) {chunk_size = 256 : i64, dt_softplus} : tensor<1x1024x24x64xf32>, tensor<1x1024x24xf32>, tensor<24xf32>, tensor<1x1024x1x64xf32>, tensor<1x1024x1x64xf32>
    iolite.yield %ssd_n64_y : tensor<1x1024x24x64xf32>
  }
  %ssd_n64_f16 = iolite.kernel "ssd_n64_f16" (%ssd_n64_f16_x, %ssd_n64_f16_dt, %ssd_n64_f16_A, %ssd_n64_f16_B, %ssd_n64_f16_C, %ssd_n64_f16_D, %ssd_n64_f16_db) : (tensor<1x1024x24x64xf16>, tensor<1x1024x24xf16>, tensor<24xf32>, tensor<1x1024x1x64xf16>, tensor<1x1024x1x64xf16>, tensor<24xf32>, tensor<24xf32>) -> tensor<1x1024x24x64xf16> {
  ^bb0(%ssd_n64_f16_a0: tensor<1x1024x24x64xf16>, %ssd_n64_f16_a1: tensor<1x1024x24xf16>, %ssd_n64_f16_a2: tensor<24xf32>, %ssd_n64_f16_a3: tensor<1x1024x1x64xf16>, %ssd_n64_f16_a4: tensor<1x1024x1x64xf16>, %ssd_n64_f16_a5: tensor<24xf32>, %ssd_n64_f16_a6: tensor<24xf32>):
    %ssd_n64_f16_y = iolite.ssd %ssd_n64_f16_a0, %ssd_n64_f16_a1, %ssd_n64_f16_a2, %ssd_n64_f16_a3, %ssd_n64_f16_a4 D(%ssd_n64_f16_a5 : tensor<24xf32>) dt_bias(%ssd_n64_f16_a6 : tensor<24xf32>) {chunk_size = 256 : i64, dt_softplus} : tensor<1x1024x24x64xf16>, tensor<1x1024x24xf16>, tensor<24xf32>, tensor<1x1024x1x64xf16>, tensor<1x1024x1x64xf16>
    iolite.yield %ssd_n64_f16_y : tensor<1x1024x24x64xf16>
  }
  %ssd_n128_bf16 = iolite.kernel "ssd_n128_bf16" (%ssd_n128_bf16_x, %ssd_n128_bf16_dt, %ssd_n128_bf16_A, %ssd_n128_bf16_B, %ssd_n128_bf16_C, %ssd_n128_bf16_D, %ssd_n128_bf16_db) : (tensor<1x1024x24x64xbf16>, tensor<1x1024x24xbf16>, tensor<24xf32>, tensor<1x1024x1x128xbf16>, tensor<1x1024x1x128xbf16>, tensor<24xf32>, tensor<24xf32>) -> tensor<1x1024x24x64xbf16> {
  ^bb0(%ssd_n128_bf16_a0: tensor<1x1024x24x64xbf16>, %ssd_n128_bf16_a1: tensor<1x1024x24xbf16>, %ssd_n128_bf16_a2: tensor<24xf32>, %ssd_n128_bf16_a3: tensor<1x1024x1x128xbf16>, %ssd_n128_bf16_a4: tensor<1x1024x1x128xbf16>, %ssd_n128_bf16_a5: tensor<24xf32>, %ssd_n128_bf16_a6: tensor<24xf32>):
    %ssd_n128_bf16_y = iolite.ssd %ssd_n128_bf16_a0, %ssd_n128_bf16_a1, %ssd_n128_bf16_a2, %ssd_n128_bf16_a3, %ssd_n128_bf16_a4 D(%ssd_n128_bf16_a5 : tensor<24xf32>) dt_bias(%ssd_n128_bf16_a6 : tensor<24xf32>) {chunk_size = 256 : i64, dt_softplus} : tensor<1x1024x24x64xbf16>, tensor<1x1024x24xbf16>, tensor<24xf32>, tensor<1x1024x1x128xbf16>, tensor<1x1024x1x128xbf16>
    iolite.yield %ssd_n128_bf16_y : tensor<1x1024x24x64xbf16>
  }
  %ssd_n16_groups = iolite.kernel "ssd_n16_groups" (%ssd_n16_groups_x, %ssd_n16_groups_dt, %ssd_n16_groups_A, %ssd_n16_groups_B, %ssd_n16_groups_C, %ssd_n16_groups_D, %ssd_n16_groups_db) : (tensor<1x1024x16x64xf32>, tensor<1x1024x16xf32>, tensor<16xf32>, tensor<1x1024x4x16xf32>, tensor<1x1024x4x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<1x1024x16x64xf32> {
  ^bb0(%ssd_n16_groups_a0: tensor<1x1024x16x64xf32>, %ssd_n16_groups_a1: tensor<1x1024x16xf32>, %ssd_n16_groups_a2: tensor<16xf32>, %ssd_n16_groups_a3: tensor<1x1024x4x16xf32>, %ssd_n16_groups_a4: tensor<1x1024x4x16xf32>, %ssd_n16_groups_a5: tensor<16xf32>, %ssd_n16_groups_a6: tensor<16xf32>):
    %ssd_n16_groups_y = iolite.ssd %ssd_n16_groups_a0, %ssd_n16_groups_a1, %ssd_n16_groups_a2, %ssd_n16_groups_a3, %ssd_n16_groups_a4 D(%ssd_n16_groups_a5 : tensor<16xf32>) dt_bias(%ssd_n16_groups_a6 : tensor<16xf32>) {chunk_size = 64 : i64, dt_softplus} : tensor<1x1024x16x64xf32>, tensor<1x1024x16xf32>, tensor<16xf32>, tensor<1x1024x4x16xf32>, tensor<1x1024x4x16xf32>
    iolite.yield %ssd_n16_groups_y : tensor<1x1024x16x64xf32>
  }
  %hyena_8k = iolite.kernel "hyena_8k" (%hyena_8k_x, %hyena_8k_f, %hyena_8k_d) : (tensor<1x64x8192xf32>, tensor<64x8192xf32>, tensor<64xf32>) -> tensor<1x64x8192xf32> {
  ^bb0(%hyena_8k_a0: tensor<1x64x8192xf32>, %hyena_8k_a1: tensor<64x8192xf32>, %hyena_8k_a2: tensor<64xf32>):
    %hyena_8k_y = iolite.long_conv %hyena_8k_a0, %hyena_8k_a1 D(%hyena_8k_a2 : tensor<64xf32>) : tensor<1x64x8192xf32>, tensor<64x8192xf32>
    iolite.yield %hyena_8k_y : tensor<1x64x8192xf32>
  }
  %hyena_1k_bf16 = iolite.kernel "hyena_1k_bf16" (%hyena_1k_bf16_x, %hyena_1k_bf16_f, %hyena_1k_bf16_d) : (tensor<2x64x1024xbf16>, tensor<64x1024xbf16>, tensor<64xbf16>) -> tensor<2x64x1024xbf16> {
  ^bb0(%hyena_1k_bf16_a0: tensor<2x64x1024xbf16>, %hyena_1k_bf16_a1: tensor<64x1024xbf16>, %hyena_1k_bf16_a2: tensor<64xbf16>):
    %hyena_1k_bf16_y = iolite.long_conv %hyena_1k_bf16_a0, %hyena_1k_bf16_a1 D(%hyena_1k_bf16_a2 : tensor<64xbf16>) : tensor<2x64x1024xbf16>, tensor<64x1024xbf16>
    iolite.yield %hyena_1k_bf16_y : tensor<2x64x1024xbf16>
  }
  %conv1d_k4 = iolite.kernel "conv1d_k4" (%conv1d_k4_x, %conv1d_k4_w, %conv1d_k4_b) : (tensor<2x3072x1024xbf16>, tensor<3072x4xbf16>, tensor<3072xbf16>) -> tensor<2x3072x1024xbf16> {
  ^bb0(%conv1d_k4_a0: tensor<2x3072x1024xbf16>, %conv1d_k4_a1: tensor<3072x4xbf16>, %conv1d_k4_a2: tensor<3072xbf16>):
    %conv1d_k4_y = iolite.conv1d %conv1d_k4_a0, %conv1d_k4_a1 bias(%conv1d_k4_a2 : tensor<3072xbf16>) activation = silu : tensor<2x3072x1024xbf16>, tensor<3072x4xbf16>
    iolite.yield %conv1d_k4_y : tensor<2x3072x1024xbf16>
  }
  %mamba2_fused_bf16 = iolite.kernel "mamba2_fused_bf16" (%mamba2_fused_bf16_p, %mamba2_fused_bf16_cw, %mamba2_fused_bf16_cb, %mamba2_fused_bf16_A, %mamba2_fused_bf16_D, %mamba2_fused_bf16_db) : (tensor<1x1024x3352xbf16>, tensor<1792x4xbf16>, tensor<1792xbf16>, tensor<24xf32>, tensor<24xf32>, tensor<24xf32>) -> tensor<1x1024x1536xbf16> {
  ^bb0(%mamba2_fused_bf16_a0: tensor<1x1024x3352xbf16>, %mamba2_fused_bf16_a1: tensor<1792x4xbf16>, %mamba2_fused_bf16_a2: tensor<1792xbf16>, %mamba2_fused_bf16_a3: tensor<24xf32>, %mamba2_fused_bf16_a4: tensor<24xf32>, %mamba2_fused_bf16_a5: tensor<24xf32>):
    %mamba2_fused_bf16_z = iolite.slice %mamba2_fused_bf16_a0 [0, 0, 0] to [1, 1024, 1536] : tensor<1x1024x3352xbf16>
    %mamba2_fused_bf16_xbc = iolite.slice %mamba2_fused_bf16_a0 [0, 0, 1536] to [1, 1024, 3328] : tensor<1x1024x3352xbf16>
    %mamba2_fused_bf16_dt = iolite.slice %mamba2_fused_bf16_a0 [0, 0, 3328] to [1, 1024, 3352] : tensor<1x1024x3352xbf16>
    %mamba2_fused_bf16_xbct = iolite.transpose %mamba2_fused_bf16_xbc [0, 2, 1] : tensor<1x1024x1792xbf16>
    %mamba2_fused_bf16_cv = iolite.conv1d %mamba2_fused_bf16_xbct, %mamba2_fused_bf16_a1 bias(%mamba2_fused_bf16_a2 : tensor<1792xbf16>) activation = silu : tensor<1x1792x1024xbf16>, tensor<1792x4xbf16>
    %mamba2_fused_bf16_cvt = iolite.transpose %mamba2_fused_bf16_cv [0, 2, 1] : tensor<1x1792x1024xbf16>
    %mamba2_fused_bf16_x = iolite.slice %mamba2_fused_bf16_cvt [0, 0, 0] to [1, 1024, 1536] : tensor<1x1024x1792xbf16>
    %mamba2_fused_bf16_bm = iolite.slice %mamba2_fused_bf16_cvt [0, 0, 1536] to [1, 1024, 1664] : tensor<1x1024x1792xbf16>
    %mamba2_fused_bf16_cm = iolite.slice %mamba2_fused_bf16_cvt [0, 0, 1664] to [1, 1024, 1792] : tensor<1x1024x1792xbf16>
    %mamba2_fused_bf16_x4 = iolite.reshape %mamba2_fused_bf16_x : tensor<1x1024x1536xbf16> -> tensor<1x1024x24x64xbf16>
    %mamba2_fused_bf16_b4 = iolite.reshape %mamba2_fused_bf16_bm : tensor<1x1024x128xbf16> -> tensor<1x1024x1x128xbf16>
    %mamba2_fused_bf16_c4 = iolite.reshape %mamba2_fused_bf16_cm : tensor<1x1024x128xbf16> -> tensor<1x1024x1x128xbf16>
    %mamba2_fused_bf16_y = iolite.ssd %mamba2_fused_bf16_x4, %mamba2_fused_bf16_dt, %mamba2_fused_bf16_a3, %mamba2_fused_bf16_b4, %mamba2_fused_bf16_c4 D(%mamba2_fused_bf16_a4 : tensor<24xf32>) dt_bias(%mamba2_fused_bf16_a5 : tensor<24xf32>) {chunk_size = 256 : i64, dt_softplus} : tensor<1x1024x24x64xbf16>, tensor<1x1024x24xbf16>, tensor<24xf32>, tensor<1x1024x1x128xbf16>, tensor<1x1024x1x128xbf16>
    %mamba2_fused_bf16_y2 = iolite.reshape %mamba2_fused_bf16_y : tensor<1x1024x24x64xbf16> -> tensor<1x1024x1536xbf16>
    %mamba2_fused_bf16_sz = iolite.silu %mamba2_fused_bf16_z : tensor<1x1024x1536xbf16>
    %mamba2_fused_bf16_y3 = iolite.mul %mamba2_fused_bf16_y2, %mamba2_fused_bf16_sz : tensor<1x1024x1536xbf16>, tensor<1x1024x1536xbf16>
    iolite.yield %mamba2_fused_bf16_y3 : tensor<1x1024x1536xbf16>
  }
  return %scan_n16, %scan_n64, %scan_conv_bf16, %scan_conv_n64_bf16, %ssd_n64, %ssd_n64_f16, %ssd_n128_bf16, %ssd_n16_groups, %hyena_8k, %hyena_1k_bf16, %conv1d_k4, %mamba2_fused_bf16 : tensor<1x1536x1024xf32>, tensor<1x1536x1024xf32>, tensor<1x1536x1024xbf16>, tensor<1x1536x1024xbf16>, tensor<1x1024x24x64xf32>, tensor<1x1024x24x64xf16>, tensor<1x1024x24x64xbf16>, tensor<1x1024x16x64xf32>, tensor<1x64x8192xf32>, tensor<2x64x1024xbf16>, tensor<2x3072x1024xbf16>, tensor<1x1024x1536xbf16>
}
