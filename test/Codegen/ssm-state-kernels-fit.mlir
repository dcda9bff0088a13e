// The carried-state kernels (docs/ssm-kernels.md "Carried state") at
// Mamba-1 shapes (d_inner 1536, d_state 16 and 64, short conv K = 4 over
// 3072 channels): the decode step (L = 1) of a batch of 8 in bf16 and f32,
// and a 1024-step prefill chunk from a state, fit every chip: ptxas reports
// 0 spill bytes and 0 stack, and no HSACO kernel spills VGPRs to scratch or
// uses a private segment.
// RUN: rm -rf %t && iolite-compile %s --target=sm_80,sm_90a,gfx90a,gfx942 -o %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=NOSPILL --input-file=%t/manifest.json

// CHECK: mamba1_state_k0_conv1d_with_state conv1d conv1d_with_state sm_80
// CHECK: mamba1_state_k1_selective_scan_with_state selective_scan selective_scan_with_state sm_80 24x8x1 64x1x1
// CHECK: mamba1_state_k2_selective_scan_with_state selective_scan selective_scan_with_state sm_80 6x8x1 512x1x1
// CHECK: mamba1_state_k3_conv1d_with_state conv1d conv1d_with_state sm_80
// CHECK: mamba1_state_k4_selective_scan_with_state selective_scan selective_scan_with_state sm_80 24x1x1 64x1x1
// CHECK: wrote {{.*}} (5 kernels, 4 targets, workspace 0 bytes)

// NOSPILL: "kernels": [
// NOSPILL-NOT: "spills": {{[1-9]}}
// NOSPILL-NOT: "stack_bytes": {{[1-9]}}
// NOSPILL: "workspace_bytes"

func.func @mamba1_state(
    %dx: tensor<8x3072x1xbf16>, %cw: tensor<3072x4xbf16>, %cb: tensor<3072xbf16>, %dcs: tensor<8x3072x3xbf16>,
    %du: tensor<8x1536x1xbf16>, %ddt: tensor<8x1536x1xbf16>, %A16: tensor<1536x16xf32>, %dB16: tensor<8x16x1xbf16>, %dC16: tensor<8x16x1xbf16>, %dh16: tensor<8x1536x16xf32>, %D: tensor<1536xf32>, %dz: tensor<8x1536x1xbf16>, %db: tensor<1536xf32>,
    %fu: tensor<8x1536x1xf32>, %A64: tensor<1536x64xf32>, %fB64: tensor<8x64x1xf32>, %fh64: tensor<8x1536x64xf32>,
    %px: tensor<1x3072x1024xf32>, %pw: tensor<3072x4xf32>, %pcs: tensor<1x3072x3xf32>,
    %pu: tensor<1x1536x1024xf32>, %pB: tensor<1x16x1024xf32>, %ph: tensor<1x1536x16xf32>)
    -> (tensor<8x3072x1xbf16>, tensor<8x3072x3xbf16>, tensor<8x1536x1xbf16>, tensor<8x1536x16xf32>,
        tensor<8x1536x1xf32>, tensor<8x1536x64xf32>, tensor<1x3072x1024xf32>, tensor<1x3072x3xf32>,
        tensor<1x1536x1024xf32>, tensor<1x1536x16xf32>) {
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
  return %cy, %cs, %y16, %h16, %y64, %h64, %py, %ps, %pyy, %phh
      : tensor<8x3072x1xbf16>, tensor<8x3072x3xbf16>, tensor<8x1536x1xbf16>, tensor<8x1536x16xf32>,
        tensor<8x1536x1xf32>, tensor<8x1536x64xf32>, tensor<1x3072x1024xf32>, tensor<1x3072x3xf32>,
        tensor<1x1536x1024xf32>, tensor<1x1536x16xf32>
}
