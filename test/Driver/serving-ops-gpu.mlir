// The serving ops (KV cache append, conv1d, selective scan and SSD with a
// carried state) have a CPU reference but no GPU kernel yet: compiling them
// for a GPU or emulated target is a diagnostic at the op, a nonzero exit and
// no bundle, not a crash. Attention over a (paged) KV cache and over a packed
// variable-length batch compile with the attention template for every chip.
// RUN: rm -rf %t && split-file %s %t
// RUN: not iolite-compile %t/append.mlir --target=sm_90a -o %t/append 2>&1 | FileCheck %s --check-prefix=APPEND
// RUN: not ls %t/append
// RUN: iolite-compile %t/decode.mlir --target=sm_90a,gfx942,emu-sm_90a -o %t/decode 2>&1 | FileCheck %s --check-prefix=DECODE
// RUN: ls %t/decode/manifest.json
// RUN: iolite-compile %t/varlen.mlir --target=sm_80,gfx90a,emu-sm_90a,emu-gfx942 -o %t/varlen 2>&1 | FileCheck %s --check-prefix=VARLEN
// RUN: ls %t/varlen/manifest.json
// RUN: not iolite-compile %t/conv.mlir --target=sm_80 -o %t/conv 2>&1 | FileCheck %s --check-prefix=CONV
// RUN: not iolite-compile %t/scan.mlir --target=emu-gfx942 -o %t/scan 2>&1 | FileCheck %s --check-prefix=SCAN
// RUN: not iolite-compile %t/ssd.mlir --target=gfx90a -o %t/ssd 2>&1 | FileCheck %s --check-prefix=SSD
// RUN: not ls %t/ssd
// The CPU reference lowers them all.
// RUN: cat %t/append.mlir %t/decode.mlir %t/varlen.mlir %t/conv.mlir %t/scan.mlir %t/ssd.mlir | iolite-opt --iolite-to-linalg | FileCheck %s --check-prefix=CPU

// APPEND: append.mlir:{{[0-9]+}}:10: error: 'iolite.kv_cache_append' op has no GPU code generation
// DECODE-NOT: error
// DECODE: decode_k0_cache_attention attention cache_attention sm_90a
// DECODE-NEXT: gfx942
// DECODE-NEXT: emu-sm_90a
// DECODE: wrote {{.*}} (1 kernels, 3 targets
// VARLEN-NOT: error
// VARLEN: varlen_k0_varlen_attention attention varlen_attention sm_80
// VARLEN-NEXT: gfx90a
// VARLEN-NEXT: emu-sm_90a
// VARLEN-NEXT: emu-gfx942
// VARLEN: wrote {{.*}} (1 kernels, 4 targets
// CONV: error: 'iolite.conv1d_with_state' op has no GPU code generation
// SCAN: error: 'iolite.selective_scan_with_state' op has no GPU code generation
// SSD: ssd.mlir:{{[0-9]+}}:13: error: 'iolite.ssd_with_state' op has no GPU code generation
// CPU: func.func @append
// CPU-NOT: iolite.
// CPU: func.func @decode
// CPU-NOT: iolite.
// CPU: func.func @varlen
// CPU-NOT: iolite.
// CPU: func.func @conv
// CPU-NOT: iolite.
// CPU: func.func @scan
// CPU-NOT: iolite.
// CPU: func.func @ssd
// CPU-NOT: iolite.

//--- append.mlir
func.func @append(%kc: tensor<2x16x2x8xf16>, %vc: tensor<2x16x2x8xf16>,
                  %k: tensor<2x1x2x8xf16>, %v: tensor<2x1x2x8xf16>,
                  %lens: tensor<2xi32>) -> (tensor<2x16x2x8xf16>, tensor<2x16x2x8xf16>) {
  %c:2 = iolite.kv_cache_append %kc, %vc, %k, %v, %lens
      : tensor<2x16x2x8xf16>, tensor<2x16x2x8xf16>, tensor<2x1x2x8xf16>,
        tensor<2x1x2x8xf16>, tensor<2xi32>
  return %c#0, %c#1 : tensor<2x16x2x8xf16>, tensor<2x16x2x8xf16>
}

//--- decode.mlir
func.func @decode(%q: tensor<2x1x4x8xf16>, %pool: tensor<8x4x2x8xf16>,
                  %lens: tensor<2xi32>, %table: tensor<2x4xi32>) -> tensor<2x1x4x8xf16> {
  %o = iolite.cache_attention %q, %pool, %pool, %lens block_table(%table : tensor<2x4xi32>) {causal}
      : tensor<2x1x4x8xf16>, tensor<8x4x2x8xf16>, tensor<8x4x2x8xf16>, tensor<2xi32>
  return %o : tensor<2x1x4x8xf16>
}

//--- varlen.mlir
func.func @varlen(%q: tensor<12x4x8xf16>, %k: tensor<12x2x8xf16>,
                  %cu: tensor<3xi32>) -> tensor<12x4x8xf16> {
  %o = iolite.varlen_attention %q, %k, %k, %cu, %cu {causal}
      : tensor<12x4x8xf16>, tensor<12x2x8xf16>, tensor<12x2x8xf16>, tensor<3xi32>, tensor<3xi32>
  return %o : tensor<12x4x8xf16>
}

//--- conv.mlir
func.func @conv(%x: tensor<2x64x1xf16>, %w: tensor<64x4xf16>, %s: tensor<2x64x3xf16>)
    -> (tensor<2x64x1xf16>, tensor<2x64x3xf16>) {
  %y, %s2 = iolite.conv1d_with_state %x, %w, %s activation = silu
      : tensor<2x64x1xf16>, tensor<64x4xf16>, tensor<2x64x3xf16>
  return %y, %s2 : tensor<2x64x1xf16>, tensor<2x64x3xf16>
}

//--- scan.mlir
func.func @scan(%u: tensor<1x64x1xf32>, %A: tensor<64x16xf32>, %B: tensor<1x16x1xf32>,
                %h: tensor<1x64x16xf32>) -> (tensor<1x64x1xf32>, tensor<1x64x16xf32>) {
  %y, %h2 = iolite.selective_scan_with_state %u, %u, %A, %B, %B, %h
      : tensor<1x64x1xf32>, tensor<1x64x1xf32>, tensor<64x16xf32>, tensor<1x16x1xf32>,
        tensor<1x16x1xf32>, tensor<1x64x16xf32>
  return %y, %h2 : tensor<1x64x1xf32>, tensor<1x64x16xf32>
}

//--- ssd.mlir
func.func @ssd(%x: tensor<1x1x4x16xf32>, %dt: tensor<1x1x4xf32>, %A: tensor<4xf32>,
               %B: tensor<1x1x2x8xf32>, %h: tensor<1x4x16x8xf32>)
    -> (tensor<1x1x4x16xf32>, tensor<1x4x16x8xf32>) {
  %y, %h2 = iolite.ssd_with_state %x, %dt, %A, %B, %B, %h
      : tensor<1x1x4x16xf32>, tensor<1x1x4xf32>, tensor<4xf32>,
        tensor<1x1x2x8xf32>, tensor<1x1x2x8xf32>, tensor<1x4x16x8xf32>
  return %y, %h2 : tensor<1x1x4x16xf32>, tensor<1x4x16x8xf32>
}
