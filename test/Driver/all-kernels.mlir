// Every kernel of every op family the example model kinds use compiles for
// sm_80, sm_90a, gfx90a and gfx942; ptxas accepts each with 0 spill bytes
// and 0 stack, and no HSACO kernel uses scratch (VGPR spills, private
// segment).
// RUN: rm -rf %t && iolite-compile %S/Inputs/all_ops.mlir --no-fusion --target=sm_80,sm_90a,gfx90a,gfx942 -o %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=MANIFEST --input-file=%t/manifest.json
// RUN: FileCheck %s --check-prefix=NOSPILL --input-file=%t/manifest.json

// CHECK: kernel template source ops target grid block smem regs/spills
// CHECK: all_ops_k0_rms_norm row_reduction rms_norm sm_80
// CHECK: all_ops_k1_matmul matmul matmul sm_80
// CHECK: all_ops_k5_attention attention attention sm_80
// CHECK: all_ops_k6_conv1d conv1d conv1d sm_80
// CHECK: all_ops_k7_selective_scan selective_scan selective_scan sm_80
// CHECK: all_ops_k8_ssd ssd ssd sm_80
// CHECK: all_ops_k9_router moe_router router sm_80
// CHECK: all_ops_k10_dispatch moe_dispatch dispatch sm_80
// CHECK: all_ops_k11_grouped_matmul moe_grouped_matmul grouped_matmul sm_80
// CHECK: all_ops_k12_combine moe_combine combine sm_80
// CHECK: all_ops_k12_combine_invert moe_combine combine sm_80
// CHECK: all_ops_k12_combine_combine moe_combine combine sm_80
// CHECK: all_ops_k15_long_conv long_conv long_conv sm_80
// CHECK: all_ops_k19_top_k elemental top_k sm_80
// CHECK-NEXT: sm_90a
// CHECK-NEXT: gfx90a
// CHECK-NEXT: gfx942
// CHECK: wrote {{.*}} (22 kernels, 4 targets, workspace

// MANIFEST: "kernels": [
// MANIFEST: "name": "all_ops_k0_rms_norm"
// MANIFEST: "op": "iolite.rms_norm"
// MANIFEST: "targets": {
// MANIFEST: "gfx90a": {
// MANIFEST: "scalar_registers":
// MANIFEST: "sm_80": {
// MANIFEST: "registers":

// NOSPILL-NOT: "spills": {{[1-9]}}
// NOSPILL-NOT: "stack_bytes": {{[1-9]}}
