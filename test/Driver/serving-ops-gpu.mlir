// Every serving op compiles for every chip: attention over a (paged) KV
// cache, the KV cache append, attention over a packed variable-length batch,
// and conv1d, the selective scan and SSD with a carried state (the decode
// steps of Mamba-1 and Mamba-2) with 0 spills on every chip
// (docs/ssm-kernels.md).
// RUN: rm -rf %t && split-file %s %t
// RUN: iolite-compile %t/append.mlir --target=sm_90a,gfx942,emu-sm_90a -o %t/append 2>&1 | FileCheck %s --check-prefix=APPEND
// RUN: FileCheck %s --check-prefix=APPEND-H < %t/append/append.h
// RUN: FileCheck %s --check-prefix=APPEND-M < %t/append/manifest.json
// RUN: iolite-compile %t/decode.mlir --target=sm_90a,gfx942,emu-sm_90a -o %t/decode 2>&1 | FileCheck %s --check-prefix=DECODE
// RUN: ls %t/decode/manifest.json
// The launch code with its input checks compiles warning-free as C11.
// RUN: clang -std=c11 -Wall -Wextra -Werror -c -I %iolite_src_root/include/iolite/Runtime %t/append/append.c -o %t/append.o
// RUN: clang -std=c11 -Wall -Wextra -Werror -c -I %iolite_src_root/include/iolite/Runtime %t/decode/decode.c -o %t/decode.o
// RUN: FileCheck %s --check-prefix=DECODE-C < %t/decode/decode.c
// RUN: iolite-compile %t/varlen.mlir --target=sm_80,gfx90a,emu-sm_90a,emu-gfx942 -o %t/varlen 2>&1 | FileCheck %s --check-prefix=VARLEN
// RUN: ls %t/varlen/manifest.json
// RUN: clang -std=c11 -Wall -Wextra -Werror -c -I %iolite_src_root/include/iolite/Runtime %t/varlen/varlen.c -o %t/varlen.o
// RUN: FileCheck %s --check-prefix=VARLEN-C < %t/varlen/varlen.c
// RUN: iolite-compile %t/conv.mlir --target=sm_80,sm_90a,gfx90a,gfx942,emu-gfx942 -o %t/conv 2>&1 | FileCheck %s --check-prefix=CONV
// RUN: ls %t/conv/manifest.json
// RUN: iolite-compile %t/scan.mlir --target=sm_80,sm_90a,gfx90a,gfx942,emu-gfx942 -o %t/scan 2>&1 | FileCheck %s --check-prefix=SCAN
// RUN: ls %t/scan/manifest.json
// RUN: iolite-compile %t/ssd.mlir --target=sm_80,sm_90a,gfx90a,gfx942,emu-sm_90a -o %t/ssd 2>&1 | FileCheck %s --check-prefix=SSD
// RUN: ls %t/ssd/manifest.json
// The CPU reference lowers them all.
// RUN: cat %t/append.mlir %t/decode.mlir %t/varlen.mlir %t/conv.mlir %t/scan.mlir %t/ssd.mlir | iolite-opt --iolite-to-linalg | FileCheck %s --check-prefix=CPU

// The append runs in place: each updated cache is an output tied to its
// cache argument, which append_run takes writable and without an output
// pointer for it.
// APPEND-NOT: error
// APPEND: append_k0_kv_cache_append kv_cache_append kv_cache_append sm_90a
// APPEND-NEXT: gfx942
// APPEND-NEXT: emu-sm_90a
// APPEND-H: #define APPEND_OUTPUT_0_TIED_INPUT 0
// APPEND-H: #define APPEND_OUTPUT_1_TIED_INPUT 1
// APPEND-H: iolite_status_t append_check_inputs(const void *const *inputs);
// APPEND-H: iolite_status_t append_run(append_model *model, void *input0, void *input1, const void *input2, const void *input3, const void *input4, void *workspace, iolite_stream_t stream);
// APPEND-M: "outputs": [
// APPEND-M: "tied_input": 0
// APPEND-M: "tied_input": 1
// DECODE-NOT: error
// DECODE: decode_k0_cache_attention attention cache_attention sm_90a
// DECODE-NEXT: gfx942
// DECODE-NEXT: emu-sm_90a
// DECODE: wrote {{.*}} (1 kernels, 3 targets
// The paged attention's lengths (input 2) and table (input 3) are checked
// against the pool's 8 pages of 4 tokens, 4 pages per sequence.
// DECODE-C: iolite_status_t decode_check_inputs(const void *const *inputs) {
// DECODE-C: decode.mlir:{{[0-9]+}}:{{[0-9]+}}: 'iolite.cache_attention'
// DECODE-C: const int32_t *lens = (const int32_t *)inputs[2];
// DECODE-C: int64_t batch = (int64_t)(2), rows = (int64_t)(4);
// DECODE-C: const int32_t *table = (const int32_t *)inputs[3];
// DECODE-C: int64_t pool = (int64_t)(8), per_seq = (int64_t)(4);
// DECODE-C: if (page < 0 || page >= pool)
// VARLEN-NOT: error
// VARLEN: varlen_k0_varlen_attention attention varlen_attention sm_80
// VARLEN-NEXT: gfx90a
// VARLEN-NEXT: emu-sm_90a
// VARLEN-NEXT: emu-gfx942
// VARLEN: wrote {{.*}} (1 kernels, 4 targets
// The boundaries (input 2, both cu_seqlens) are checked against the 12
// packed query and key rows.
// VARLEN-C: iolite_status_t varlen_check_inputs(const void *const *inputs) {
// VARLEN-C: varlen.mlir:{{[0-9]+}}:{{[0-9]+}}: 'iolite.varlen_attention'
// VARLEN-C: int64_t batch = (int64_t)(3) - 1;
// VARLEN-C: const int32_t *cu = (const int32_t *)inputs[2];
// VARLEN-C: int64_t total = (int64_t)(12);
// VARLEN-C: if (cu[0] != 0)
// VARLEN-C: if (cu[b + 1] < cu[b] || cu[b + 1] > total)
// CONV-NOT: error
// CONV: conv_k0_conv1d_with_state conv1d conv1d_with_state sm_80 {{[0-9x]+}} {{[0-9x]+}} {{[0-9]+}} {{[0-9]+}}/0 none
// CONV-NEXT: sm_90a {{[0-9x]+}} {{[0-9x]+}} {{[0-9]+}} {{[0-9]+}}/0 none
// CONV-NEXT: gfx90a {{[0-9x]+}} {{[0-9x]+}} {{[0-9]+}} {{[0-9]+}}/0 none
// CONV-NEXT: gfx942 {{[0-9x]+}} {{[0-9x]+}} {{[0-9]+}} {{[0-9]+}}/0 none
// CONV-NEXT: emu-gfx942
// CONV: wrote {{.*}} (1 kernels, 5 targets
// SCAN-NOT: error
// SCAN: scan_k0_selective_scan_with_state selective_scan selective_scan_with_state sm_80 {{[0-9x]+}} {{[0-9x]+}} {{[0-9]+}} {{[0-9]+}}/0 none
// SCAN-NEXT: sm_90a {{[0-9x]+}} {{[0-9x]+}} {{[0-9]+}} {{[0-9]+}}/0 none
// SCAN-NEXT: gfx90a {{[0-9x]+}} {{[0-9x]+}} {{[0-9]+}} {{[0-9]+}}/0 none
// SCAN-NEXT: gfx942 {{[0-9x]+}} {{[0-9x]+}} {{[0-9]+}} {{[0-9]+}}/0 none
// SCAN-NEXT: emu-gfx942
// SCAN: wrote {{.*}} (1 kernels, 5 targets
// SSD-NOT: error
// SSD: ssd_k0_ssd_with_state ssd ssd_with_state sm_80 {{[0-9x]+}} {{[0-9x]+}} {{[0-9]+}} {{[0-9]+}}/0 fma
// SSD-NEXT: sm_90a {{[0-9x]+}} {{[0-9x]+}} {{[0-9]+}} {{[0-9]+}}/0 fma
// SSD-NEXT: gfx90a {{[0-9x]+}} {{[0-9x]+}} {{[0-9]+}} {{[0-9]+}}/0 fma
// SSD-NEXT: gfx942 {{[0-9x]+}} {{[0-9x]+}} {{[0-9]+}} {{[0-9]+}}/0 fma
// SSD-NEXT: emu-sm_90a
// SSD: wrote {{.*}} (1 kernels, 5 targets
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
