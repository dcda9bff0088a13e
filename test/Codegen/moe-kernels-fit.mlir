// The MoE kernels at realistic shapes fit every chip: a Mixtral-style layer
// (8 experts, top-2, hidden 4096, FFN 14336, f16), a DeepSeek-style one (64
// experts, top-8, bf16), a 256-expert sigmoid router, and 32k assignments
// (the three-launch dispatch). The router and grouped-GEMM products of these
// f16/bf16 models run on the matrix units of every chip (mma.sync on sm_80
// and sm_90a, MFMA on gfx90a and gfx942; MFMA 16x16x16 where a tile has few
// rows or experts). ptxas reports 0 spill bytes and 0 stack, and no HSACO
// kernel spills VGPRs or uses a private segment.
// RUN: rm -rf %t && iolite-compile %s --target=sm_80,sm_90a,gfx90a,gfx942 -o %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=NOSPILL --input-file=%t/manifest.json

// CHECK: mixtral_router moe_router matmul,router sm_80 8x1x1 128x1x1 {{.*}} nv_m16n8k16_f16
// CHECK-NEXT: sm_90a {{.*}} nv_m16n8k16_f16
// CHECK-NEXT: gfx90a {{.*}} amd_mfma_16x16x16_f16
// CHECK-NEXT: gfx942 {{.*}} amd_mfma_16x16x16_f16
// CHECK: mixtral_up moe_dispatch dispatch,grouped_matmul,grouped... sm_80 1x1x1
// CHECK: mixtral_up_grouped_matmul moe_grouped_matmul dispatch,grouped_matmul,grouped... sm_80 {{.*}} nv_m16n8k16_f16
// CHECK-NEXT: sm_90a {{.*}} nv_m16n8k16_f16
// CHECK-NEXT: gfx90a {{.*}} amd_mfma_32x32x8_f16
// CHECK-NEXT: gfx942 {{.*}} amd_mfma_32x32x8_f16
// CHECK: mixtral_down moe_grouped_matmul grouped_matmul,combine sm_80 {{.*}} nv_m16n8k16_f16
// CHECK: mixtral_down_combine moe_combine grouped_matmul,combine sm_80
// CHECK: deepseek_router moe_router matmul,router sm_80 {{.*}} nv_m16n8k16_bf16
// CHECK: deepseek_up_grouped_matmul moe_grouped_matmul {{.*}} nv_m16n8k16_bf16
// CHECK-NEXT: sm_90a {{.*}} nv_m16n8k16_bf16
// CHECK-NEXT: gfx90a {{.*}} amd_mfma_32x32x8_bf16
// CHECK-NEXT: gfx942 {{.*}} amd_mfma_32x32x8_bf16
// CHECK: e256_router moe_router matmul,router sm_80 {{.*}} nv_m16n8k16_f16
// CHECK: e256_up_grouped_matmul moe_grouped_matmul {{.*}} nv_m16n8k16_f16
// CHECK-NEXT: sm_90a {{.*}} nv_m16n8k16_f16
// CHECK-NEXT: gfx90a {{.*}} amd_mfma_16x16x16_f16
// CHECK-NEXT: gfx942 {{.*}} amd_mfma_16x16x16_f16
// CHECK: big_up moe_dispatch dispatch,grouped_matmul,grouped... sm_80 8x1x1
// CHECK: big_up_scan moe_dispatch dispatch,grouped_matmul,grouped... sm_80 1x1x1
// CHECK: big_up_scatter moe_dispatch dispatch,grouped_matmul,grouped... sm_80 8x1x1
// CHECK: big_down_combine moe_combine grouped_matmul,combine sm_80
// CHECK-NEXT: sm_90a
// CHECK-NEXT: gfx90a
// CHECK-NEXT: gfx942
// CHECK: wrote {{.*}} (30 kernels, 4 targets, workspace

// NOSPILL: "kernels": [
// NOSPILL-NOT: "spills": {{[1-9]}}
// NOSPILL-NOT: "stack_bytes": {{[1-9]}}
// NOSPILL: "workspace_bytes"

func.func @moe_kernels(%mixtral_x: tensor<512x4096xf16>, %mixtral_wr: tensor<8x4096xf16>, %mixtral_wg: tensor<8x4096x14336xf16>, %mixtral_wu: tensor<8x4096x14336xf16>, %mixtral_wd: tensor<8x14336x4096xf16>, %deepseek_x: tensor<512x2048xbf16>, %deepseek_wr: tensor<64x2048xbf16>, %deepseek_wg: tensor<64x2048x1408xbf16>, %deepseek_wu: tensor<64x2048x1408xbf16>, %deepseek_wd: tensor<64x1408x2048xbf16>, %e256_x: tensor<256x1024xf16>, %e256_wr: tensor<256x1024xf16>, %e256_wg: tensor<256x1024x256xf16>, %e256_wu: tensor<256x1024x256xf16>, %e256_wd: tensor<256x256x1024xf16>, %big_x: tensor<4096x256xf16>, %big_wr: tensor<256x64xf16>, %big_wg: tensor<64x256x256xf16>, %big_wu: tensor<64x256x256xf16>, %big_wd: tensor<64x256x256xf16>) -> (tensor<512x4096xf16>, tensor<512x2048xbf16>, tensor<256x1024xf16>, tensor<4096x256xf16>) {
  %mixtral_w, %mixtral_ids = iolite.kernel "mixtral_router" (%mixtral_x, %mixtral_wr) : (tensor<512x4096xf16>, tensor<8x4096xf16>) -> (tensor<512x2xf16>, tensor<512x2xi32>) {
  ^bb0(%mixtral_a: tensor<512x4096xf16>, %mixtral_b: tensor<8x4096xf16>):
    %mixtral_l = iolite.matmul %mixtral_a, %mixtral_b {transpose_rhs} : tensor<512x4096xf16>, tensor<8x4096xf16>
    %mixtral_rw, %mixtral_ri = iolite.router %mixtral_l {k = 2 : i64, renormalize} : tensor<512x8xf16>
    iolite.yield %mixtral_rw, %mixtral_ri : tensor<512x2xf16>, tensor<512x2xi32>
  }
  %mixtral_h, %mixtral_rows, %mixtral_offs = iolite.kernel "mixtral_up" (%mixtral_x, %mixtral_ids, %mixtral_wg, %mixtral_wu) : (tensor<512x4096xf16>, tensor<512x2xi32>, tensor<8x4096x14336xf16>, tensor<8x4096x14336xf16>) -> (tensor<1024x14336xf16>, tensor<1024xi32>, tensor<9xi32>) {
  ^bb0(%mixtral_a: tensor<512x4096xf16>, %mixtral_i: tensor<512x2xi32>, %mixtral_g: tensor<8x4096x14336xf16>, %mixtral_u: tensor<8x4096x14336xf16>):
    %mixtral_xs, %mixtral_r, %mixtral_o = iolite.dispatch %mixtral_a, %mixtral_i {num_experts = 8 : i64} : tensor<512x4096xf16>, tensor<512x2xi32>
    %mixtral_gg = iolite.grouped_matmul %mixtral_xs, %mixtral_g, %mixtral_o : tensor<1024x4096xf16>, tensor<8x4096x14336xf16>, tensor<9xi32>
    %mixtral_uu = iolite.grouped_matmul %mixtral_xs, %mixtral_u, %mixtral_o : tensor<1024x4096xf16>, tensor<8x4096x14336xf16>, tensor<9xi32>
    %mixtral_s = iolite.silu %mixtral_gg : tensor<1024x14336xf16>
    %mixtral_m = iolite.mul %mixtral_s, %mixtral_uu : tensor<1024x14336xf16>, tensor<1024x14336xf16>
    iolite.yield %mixtral_m, %mixtral_r, %mixtral_o : tensor<1024x14336xf16>, tensor<1024xi32>, tensor<9xi32>
  }
  %mixtral_y = iolite.kernel "mixtral_down" (%mixtral_h, %mixtral_wd, %mixtral_offs, %mixtral_rows, %mixtral_w) : (tensor<1024x14336xf16>, tensor<8x14336x4096xf16>, tensor<9xi32>, tensor<1024xi32>, tensor<512x2xf16>) -> tensor<512x4096xf16> {
  ^bb0(%mixtral_a: tensor<1024x14336xf16>, %mixtral_dd: tensor<8x14336x4096xf16>, %mixtral_o: tensor<9xi32>, %mixtral_r: tensor<1024xi32>, %mixtral_ww: tensor<512x2xf16>):
    %mixtral_e = iolite.grouped_matmul %mixtral_a, %mixtral_dd, %mixtral_o : tensor<1024x14336xf16>, tensor<8x14336x4096xf16>, tensor<9xi32>
    %mixtral_c = iolite.combine %mixtral_e, %mixtral_r, %mixtral_ww : tensor<1024x4096xf16>, tensor<1024xi32>, tensor<512x2xf16>
    iolite.yield %mixtral_c : tensor<512x4096xf16>
  }
  %deepseek_w, %deepseek_ids = iolite.kernel "deepseek_router" (%deepseek_x, %deepseek_wr) : (tensor<512x2048xbf16>, tensor<64x2048xbf16>) -> (tensor<512x8xbf16>, tensor<512x8xi32>) {
  ^bb0(%deepseek_a: tensor<512x2048xbf16>, %deepseek_b: tensor<64x2048xbf16>):
    %deepseek_l = iolite.matmul %deepseek_a, %deepseek_b {transpose_rhs} : tensor<512x2048xbf16>, tensor<64x2048xbf16>
    %deepseek_rw, %deepseek_ri = iolite.router %deepseek_l {k = 8 : i64, renormalize} : tensor<512x64xbf16>
    iolite.yield %deepseek_rw, %deepseek_ri : tensor<512x8xbf16>, tensor<512x8xi32>
  }
  %deepseek_h, %deepseek_rows, %deepseek_offs = iolite.kernel "deepseek_up" (%deepseek_x, %deepseek_ids, %deepseek_wg, %deepseek_wu) : (tensor<512x2048xbf16>, tensor<512x8xi32>, tensor<64x2048x1408xbf16>, tensor<64x2048x1408xbf16>) -> (tensor<4096x1408xbf16>, tensor<4096xi32>, tensor<65xi32>) {
  ^bb0(%deepseek_a: tensor<512x2048xbf16>, %deepseek_i: tensor<512x8xi32>, %deepseek_g: tensor<64x2048x1408xbf16>, %deepseek_u: tensor<64x2048x1408xbf16>):
    %deepseek_xs, %deepseek_r, %deepseek_o = iolite.dispatch %deepseek_a, %deepseek_i {num_experts = 64 : i64} : tensor<512x2048xbf16>, tensor<512x8xi32>
    %deepseek_gg = iolite.grouped_matmul %deepseek_xs, %deepseek_g, %deepseek_o : tensor<4096x2048xbf16>, tensor<64x2048x1408xbf16>, tensor<65xi32>
    %deepseek_uu = iolite.grouped_matmul %deepseek_xs, %deepseek_u, %deepseek_o : tensor<4096x2048xbf16>, tensor<64x2048x1408xbf16>, tensor<65xi32>
    %deepseek_s = iolite.silu %deepseek_gg : tensor<4096x1408xbf16>
    %deepseek_m = iolite.mul %deepseek_s, %deepseek_uu : tensor<4096x1408xbf16>, tensor<4096x1408xbf16>
    iolite.yield %deepseek_m, %deepseek_r, %deepseek_o : tensor<4096x1408xbf16>, tensor<4096xi32>, tensor<65xi32>
  }
  %deepseek_y = iolite.kernel "deepseek_down" (%deepseek_h, %deepseek_wd, %deepseek_offs, %deepseek_rows, %deepseek_w) : (tensor<4096x1408xbf16>, tensor<64x1408x2048xbf16>, tensor<65xi32>, tensor<4096xi32>, tensor<512x8xbf16>) -> tensor<512x2048xbf16> {
  ^bb0(%deepseek_a: tensor<4096x1408xbf16>, %deepseek_dd: tensor<64x1408x2048xbf16>, %deepseek_o: tensor<65xi32>, %deepseek_r: tensor<4096xi32>, %deepseek_ww: tensor<512x8xbf16>):
    %deepseek_e = iolite.grouped_matmul %deepseek_a, %deepseek_dd, %deepseek_o : tensor<4096x1408xbf16>, tensor<64x1408x2048xbf16>, tensor<65xi32>
    %deepseek_c = iolite.combine %deepseek_e, %deepseek_r, %deepseek_ww : tensor<4096x2048xbf16>, tensor<4096xi32>, tensor<512x8xbf16>
    iolite.yield %deepseek_c : tensor<512x2048xbf16>
  }
  %e256_w, %e256_ids = iolite.kernel "e256_router" (%e256_x, %e256_wr) : (tensor<256x1024xf16>, tensor<256x1024xf16>) -> (tensor<256x8xf16>, tensor<256x8xi32>) {
  ^bb0(%e256_a: tensor<256x1024xf16>, %e256_b: tensor<256x1024xf16>):
    %e256_l = iolite.matmul %e256_a, %e256_b {transpose_rhs} : tensor<256x1024xf16>, tensor<256x1024xf16>
    %e256_rw, %e256_ri = iolite.router %e256_l scoring = sigmoid {k = 8 : i64, renormalize} : tensor<256x256xf16>
    iolite.yield %e256_rw, %e256_ri : tensor<256x8xf16>, tensor<256x8xi32>
  }
  %e256_h, %e256_rows, %e256_offs = iolite.kernel "e256_up" (%e256_x, %e256_ids, %e256_wg, %e256_wu) : (tensor<256x1024xf16>, tensor<256x8xi32>, tensor<256x1024x256xf16>, tensor<256x1024x256xf16>) -> (tensor<2048x256xf16>, tensor<2048xi32>, tensor<257xi32>) {
  ^bb0(%e256_a: tensor<256x1024xf16>, %e256_i: tensor<256x8xi32>, %e256_g: tensor<256x1024x256xf16>, %e256_u: tensor<256x1024x256xf16>):
    %e256_xs, %e256_r, %e256_o = iolite.dispatch %e256_a, %e256_i {num_experts = 256 : i64} : tensor<256x1024xf16>, tensor<256x8xi32>
    %e256_gg = iolite.grouped_matmul %e256_xs, %e256_g, %e256_o : tensor<2048x1024xf16>, tensor<256x1024x256xf16>, tensor<257xi32>
    %e256_uu = iolite.grouped_matmul %e256_xs, %e256_u, %e256_o : tensor<2048x1024xf16>, tensor<256x1024x256xf16>, tensor<257xi32>
    %e256_s = iolite.silu %e256_gg : tensor<2048x256xf16>
    %e256_m = iolite.mul %e256_s, %e256_uu : tensor<2048x256xf16>, tensor<2048x256xf16>
    iolite.yield %e256_m, %e256_r, %e256_o : tensor<2048x256xf16>, tensor<2048xi32>, tensor<257xi32>
  }
  %e256_y = iolite.kernel "e256_down" (%e256_h, %e256_wd, %e256_offs, %e256_rows, %e256_w) : (tensor<2048x256xf16>, tensor<256x256x1024xf16>, tensor<257xi32>, tensor<2048xi32>, tensor<256x8xf16>) -> tensor<256x1024xf16> {
  ^bb0(%e256_a: tensor<2048x256xf16>, %e256_dd: tensor<256x256x1024xf16>, %e256_o: tensor<257xi32>, %e256_r: tensor<2048xi32>, %e256_ww: tensor<256x8xf16>):
    %e256_e = iolite.grouped_matmul %e256_a, %e256_dd, %e256_o : tensor<2048x256xf16>, tensor<256x256x1024xf16>, tensor<257xi32>
    %e256_c = iolite.combine %e256_e, %e256_r, %e256_ww : tensor<2048x1024xf16>, tensor<2048xi32>, tensor<256x8xf16>
    iolite.yield %e256_c : tensor<256x1024xf16>
  }
  %big_w, %big_ids = iolite.kernel "big_router" (%big_x, %big_wr) : (tensor<4096x256xf16>, tensor<256x64xf16>) -> (tensor<4096x8xf16>, tensor<4096x8xi32>) {
  ^bb0(%big_a: tensor<4096x256xf16>, %big_b: tensor<256x64xf16>):
    %big_l = iolite.matmul %big_a, %big_b : tensor<4096x256xf16>, tensor<256x64xf16>
    %big_rw, %big_ri = iolite.router %big_l {k = 8 : i64, renormalize} : tensor<4096x64xf16>
    iolite.yield %big_rw, %big_ri : tensor<4096x8xf16>, tensor<4096x8xi32>
  }
  %big_h, %big_rows, %big_offs = iolite.kernel "big_up" (%big_x, %big_ids, %big_wg, %big_wu) : (tensor<4096x256xf16>, tensor<4096x8xi32>, tensor<64x256x256xf16>, tensor<64x256x256xf16>) -> (tensor<32768x256xf16>, tensor<32768xi32>, tensor<65xi32>) {
  ^bb0(%big_a: tensor<4096x256xf16>, %big_i: tensor<4096x8xi32>, %big_g: tensor<64x256x256xf16>, %big_u: tensor<64x256x256xf16>):
    %big_xs, %big_r, %big_o = iolite.dispatch %big_a, %big_i {num_experts = 64 : i64} : tensor<4096x256xf16>, tensor<4096x8xi32>
    %big_gg = iolite.grouped_matmul %big_xs, %big_g, %big_o : tensor<32768x256xf16>, tensor<64x256x256xf16>, tensor<65xi32>
    %big_uu = iolite.grouped_matmul %big_xs, %big_u, %big_o : tensor<32768x256xf16>, tensor<64x256x256xf16>, tensor<65xi32>
    %big_s = iolite.silu %big_gg : tensor<32768x256xf16>
    %big_m = iolite.mul %big_s, %big_uu : tensor<32768x256xf16>, tensor<32768x256xf16>
    iolite.yield %big_m, %big_r, %big_o : tensor<32768x256xf16>, tensor<32768xi32>, tensor<65xi32>
  }
  %big_y = iolite.kernel "big_down" (%big_h, %big_wd, %big_offs, %big_rows, %big_w) : (tensor<32768x256xf16>, tensor<64x256x256xf16>, tensor<65xi32>, tensor<32768xi32>, tensor<4096x8xf16>) -> tensor<4096x256xf16> {
  ^bb0(%big_a: tensor<32768x256xf16>, %big_dd: tensor<64x256x256xf16>, %big_o: tensor<65xi32>, %big_r: tensor<32768xi32>, %big_ww: tensor<4096x8xf16>):
    %big_e = iolite.grouped_matmul %big_a, %big_dd, %big_o : tensor<32768x256xf16>, tensor<64x256x256xf16>, tensor<65xi32>
    %big_c = iolite.combine %big_e, %big_r, %big_ww : tensor<32768x256xf16>, tensor<32768xi32>, tensor<4096x8xf16>
    iolite.yield %big_c : tensor<4096x256xf16>
  }
  return %mixtral_y, %deepseek_y, %e256_y, %big_y : tensor<512x4096xf16>, tensor<512x2048xbf16>, tensor<256x1024xf16>, tensor<4096x256xf16>
}
