// The carried-state kernels (docs/ssm-kernels.md "Carried state") at
// Mamba-1 shapes (d_inner 1536, d_state 16 and 64, short conv K = 4 over
// 3072 channels) and Mamba-2 shapes (24 heads of 64, d_state 64 and 128,
// chunk 256; bf16 and f16 on the matrix units, f32 on FMA): the decode step
// (L = 1) of a batch of 8, and a 1024-step prefill chunk from a state, fit
// every chip: ptxas reports 0 spill bytes and 0 stack, and no HSACO kernel
// spills VGPRs to scratch or uses a private segment.
// RUN: rm -rf %t && iolite-compile %s --target=sm_80,sm_90a,gfx90a,gfx942 -o %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=NOSPILL --input-file=%t/manifest.json

// CHECK: ssm_state_k0_conv1d_with_state conv1d conv1d_with_state sm_80
// CHECK: ssm_state_k1_selective_scan_with_state selective_scan selective_scan_with_state sm_80 24x8x1 64x1x1
// CHECK: ssm_state_k2_selective_scan_with_state selective_scan selective_scan_with_state sm_80 6x8x1 512x1x1
// CHECK: ssm_state_k3_conv1d_with_state conv1d conv1d_with_state sm_80
// CHECK: ssm_state_k4_selective_scan_with_state selective_scan selective_scan_with_state sm_80 24x1x1 64x1x1
// CHECK: ssm_state_k5_ssd_with_state ssd ssd_with_state sm_80 24x8x1 256x1x1 {{.*}} nv_m16n8k16_bf16
// CHECK-NEXT: sm_90a {{.*}} nv_m16n8k16_bf16
// CHECK-NEXT: gfx90a {{.*}} amd_mfma_16x16x16_bf16
// CHECK-NEXT: gfx942 {{.*}} amd_mfma_16x16x16_bf16
// CHECK: ssm_state_k6_ssd_with_state ssd ssd_with_state sm_80 {{.*}} nv_m16n8k16_f16
// CHECK: ssm_state_k7_ssd_with_state ssd ssd_with_state sm_80 {{.*}} fma
// CHECK: ssm_state_k8_ssd_with_state ssd ssd_with_state sm_80 {{.*}} nv_m16n8k16_bf16
// CHECK: ssm_state_k9_ssd_with_state ssd ssd_with_state sm_80 {{.*}} nv_m16n8k16_f16
// CHECK: ssm_state_k10_ssd_with_state ssd ssd_with_state sm_80 {{.*}} fma
// CHECK: wrote {{.*}} (11 kernels, 4 targets, workspace 0 bytes)

// NOSPILL: "kernels": [
// NOSPILL-NOT: "spills": {{[1-9]}}
// NOSPILL-NOT: "stack_bytes": {{[1-9]}}
// NOSPILL: "workspace_bytes"

func.func @ssm_state(
    %dx: tensor<8x3072x1xbf16>, %cw: tensor<3072x4xbf16>, %cb: tensor<3072xbf16>, %dcs: tensor<8x3072x3xbf16>,
    %du: tensor<8x1536x1xbf16>, %ddt: tensor<8x1536x1xbf16>, %A16: tensor<1536x16xf32>, %dB16: tensor<8x16x1xbf16>, %dC16: tensor<8x16x1xbf16>, %dh16: tensor<8x1536x16xf32>, %D: tensor<1536xf32>, %dz: tensor<8x1536x1xbf16>, %db: tensor<1536xf32>,
    %fu: tensor<8x1536x1xf32>, %A64: tensor<1536x64xf32>, %fB64: tensor<8x64x1xf32>, %fh64: tensor<8x1536x64xf32>,
    %px: tensor<1x3072x1024xf32>, %pw: tensor<3072x4xf32>, %pcs: tensor<1x3072x3xf32>,
    %pu: tensor<1x1536x1024xf32>, %pB: tensor<1x16x1024xf32>, %ph: tensor<1x1536x16xf32>,
    %m2_x: tensor<8x1x24x64xbf16>, %m2_dt: tensor<8x1x24xbf16>, %m2_A: tensor<24xf32>, %m2_B: tensor<8x1x1x128xbf16>, %m2_h: tensor<8x24x64x128xf32>, %m2_D: tensor<24xf32>,
    %m2_xf: tensor<8x1x24x64xf16>, %m2_dtf: tensor<8x1x24xf16>, %m2_Bf: tensor<8x1x1x64xf16>, %m2_hf: tensor<8x24x64x64xf32>,
    %m2_x3: tensor<8x1x24x64xf32>, %m2_dt3: tensor<8x1x24xf32>, %m2_B3: tensor<8x1x1x128xf32>,
    %m2_px: tensor<1x1024x24x64xbf16>, %m2_pdt: tensor<1x1024x24xbf16>, %m2_pB: tensor<1x1024x1x128xbf16>, %m2_ph: tensor<1x24x64x128xf32>,
    %m2_qx: tensor<1x1024x24x64xf16>, %m2_qdt: tensor<1x1024x24xf16>, %m2_qB: tensor<1x1024x1x64xf16>, %m2_qh: tensor<1x24x64x64xf32>,
    %m2_rx: tensor<1x1024x24x64xf32>, %m2_rdt: tensor<1x1024x24xf32>, %m2_rB: tensor<1x1024x1x64xf32>)
    -> (tensor<8x3072x1xbf16>, tensor<8x3072x3xbf16>, tensor<8x1536x1xbf16>, tensor<8x1536x16xf32>,
        tensor<8x1536x1xf32>, tensor<8x1536x64xf32>, tensor<1x3072x1024xf32>, tensor<1x3072x3xf32>,
        tensor<1x1536x1024xf32>, tensor<1x1536x16xf32>,
        tensor<8x1x24x64xbf16>, tensor<8x24x64x128xf32>, tensor<8x1x24x64xf16>, tensor<8x24x64x64xf32>, tensor<8x1x24x64xf32>, tensor<8x24x64x128xf32>,
        tensor<1x1024x24x64xbf16>, tensor<1x24x64x128xf32>, tensor<1x1024x24x64xf16>, tensor<1x24x64x64xf32>, tensor<1x1024x24x64xf32>, tensor<1x24x64x64xf32>) {
  %cy, %cs = iolite.conv1d_with_state %dx, %cw, %dcs bias(%cb : tensor<3072xbf16>) activation = silu
      : tensor<8x3072x1xbf16>, tensor<3072x4xbf16>, tensor<8x3072x3xbf16>
  %y16, %h16 = iolite.selective_scan_with_state %du, %ddt, %A16, %dB16, %dC16, %dh16
      D(%D : tensor<1536xf32>) z(%dz : tensor<8x1536x1xbf16>) delta_bias(%db : tensor<1536xf32>) {delta_softplus}
      : tensor<8x1536x1xbf16>, tensor<8x1536x1xbf16>, tensor<1536x16xf32>, tensor<8x16x1xbf16>, tensor<8x16x1xbf16>, tensor<8x1536x16xf32>
  %y64, %h64 = iolite.selective_scan_with_state %fu, %fu, %A64, %fB64, %fB64, %fh64 D(%D : tensor<1536xf32>) {delta_softplus}
      : tensor<8x1536x1xf32>, tensor<8x1536x1xf32>, tensor<1536x64xf32>, tensor<8x64x1xf32>, tensor<8x64x1xf32>, tensor<8x1536x64xf32>
  %py, %ps = iolite.conv1d_with_state %px, %pw, %pcs activation = silu
      : tensor<1x3072x1024xf32>, tensor<3072x4xf32>, tensor<1x3072x3xf32>
  %pyy, %phh = iolite.selective_scan_with_state %pu, %pu, %A16, %pB, %pB, %ph D(%D : tensor<1536xf32>) {delta_softplus}
      : tensor<1x1536x1024xf32>, tensor<1x1536x1024xf32>, tensor<1536x16xf32>, tensor<1x16x1024xf32>, tensor<1x16x1024xf32>, tensor<1x1536x16xf32>
  %m2_y1, %m2_h1 = iolite.ssd_with_state %m2_x, %m2_dt, %m2_A, %m2_B, %m2_B, %m2_h D(%m2_D : tensor<24xf32>) dt_bias(%m2_D : tensor<24xf32>) {chunk_size = 256 : i64, dt_softplus}
      : tensor<8x1x24x64xbf16>, tensor<8x1x24xbf16>, tensor<24xf32>, tensor<8x1x1x128xbf16>, tensor<8x1x1x128xbf16>, tensor<8x24x64x128xf32>
  %m2_y2, %m2_h2 = iolite.ssd_with_state %m2_xf, %m2_dtf, %m2_A, %m2_Bf, %m2_Bf, %m2_hf D(%m2_D : tensor<24xf32>) {chunk_size = 256 : i64, dt_softplus}
      : tensor<8x1x24x64xf16>, tensor<8x1x24xf16>, tensor<24xf32>, tensor<8x1x1x64xf16>, tensor<8x1x1x64xf16>, tensor<8x24x64x64xf32>
  %m2_y3, %m2_h3 = iolite.ssd_with_state %m2_x3, %m2_dt3, %m2_A, %m2_B3, %m2_B3, %m2_h D(%m2_D : tensor<24xf32>) {chunk_size = 256 : i64, dt_softplus}
      : tensor<8x1x24x64xf32>, tensor<8x1x24xf32>, tensor<24xf32>, tensor<8x1x1x128xf32>, tensor<8x1x1x128xf32>, tensor<8x24x64x128xf32>
  %m2_y4, %m2_h4 = iolite.ssd_with_state %m2_px, %m2_pdt, %m2_A, %m2_pB, %m2_pB, %m2_ph D(%m2_D : tensor<24xf32>) {chunk_size = 256 : i64, dt_softplus}
      : tensor<1x1024x24x64xbf16>, tensor<1x1024x24xbf16>, tensor<24xf32>, tensor<1x1024x1x128xbf16>, tensor<1x1024x1x128xbf16>, tensor<1x24x64x128xf32>
  %m2_y5, %m2_h5 = iolite.ssd_with_state %m2_qx, %m2_qdt, %m2_A, %m2_qB, %m2_qB, %m2_qh D(%m2_D : tensor<24xf32>) {chunk_size = 256 : i64, dt_softplus}
      : tensor<1x1024x24x64xf16>, tensor<1x1024x24xf16>, tensor<24xf32>, tensor<1x1024x1x64xf16>, tensor<1x1024x1x64xf16>, tensor<1x24x64x64xf32>
  %m2_y6, %m2_h6 = iolite.ssd_with_state %m2_rx, %m2_rdt, %m2_A, %m2_rB, %m2_rB, %m2_qh D(%m2_D : tensor<24xf32>) {chunk_size = 256 : i64, dt_softplus}
      : tensor<1x1024x24x64xf32>, tensor<1x1024x24xf32>, tensor<24xf32>, tensor<1x1024x1x64xf32>, tensor<1x1024x1x64xf32>, tensor<1x24x64x64xf32>
  return %cy, %cs, %y16, %h16, %y64, %h64, %py, %ps, %pyy, %phh, %m2_y1, %m2_h1, %m2_y2, %m2_h2, %m2_y3, %m2_h3, %m2_y4, %m2_h4, %m2_y5, %m2_h5, %m2_y6, %m2_h6
      : tensor<8x3072x1xbf16>, tensor<8x3072x3xbf16>, tensor<8x1536x1xbf16>, tensor<8x1536x16xf32>,
        tensor<8x1536x1xf32>, tensor<8x1536x64xf32>, tensor<1x3072x1024xf32>, tensor<1x3072x3xf32>,
        tensor<1x1536x1024xf32>, tensor<1x1536x16xf32>,
        tensor<8x1x24x64xbf16>, tensor<8x24x64x128xf32>, tensor<8x1x24x64xf16>, tensor<8x24x64x64xf32>, tensor<8x1x24x64xf32>, tensor<8x24x64x128xf32>,
        tensor<1x1024x24x64xbf16>, tensor<1x24x64x128xf32>, tensor<1x1024x24x64xf16>, tensor<1x24x64x64xf32>, tensor<1x1024x24x64xf32>, tensor<1x24x64x64xf32>
}
