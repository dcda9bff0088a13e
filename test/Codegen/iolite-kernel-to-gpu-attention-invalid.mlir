// RUN: split-file %s %t
// RUN: iolite-opt %t/big.mlir --verify-diagnostics --iolite-kernel-to-gpu="target=gfx942 attention-tile=256,128"
// RUN: iolite-opt %t/odd.mlir --verify-diagnostics --iolite-kernel-to-gpu="target=sm_90a attention-tile=100,64"
// RUN: not iolite-opt %t/odd.mlir --iolite-kernel-to-gpu="attention-tile=64" 2>&1 | FileCheck %s --check-prefix=TILE
// RUN: not iolite-opt %t/odd.mlir --iolite-kernel-to-gpu="attention-splits=-2" 2>&1 | FileCheck %s --check-prefix=SPLITS

// TILE: attention-tile needs two positive sizes BM,BN
// SPLITS: attention-splits must not be negative

//--- big.mlir
// A tile forced past gfx942's 64 KiB of LDS is a diagnostic naming the
// kernel, the tile, the buffers and the limit.
func.func @too_big(%q: tensor<1x8x512x128xf16>, %k: tensor<1x8x512x128xf16>, %v: tensor<1x8x512x128xf16>) -> tensor<1x8x512x128xf16> {
  // expected-error @+1 {{kernel 'attn' with attention tile 256x128 (query rows x keys), 4 warps of 2x4 amd_mfma_32x32x8_f16, P through shared memory, 2 stage(s), 1 kv split(s) needs 196608 bytes of shared memory (K[0,65536){swizzle 4/1/16} V[65536,131072) P[131072,196608){swizzle 4/1/16}), but gfx942 allows at most 65536 bytes per block}}
  %o = iolite.kernel "attn" (%q, %k, %v) : (tensor<1x8x512x128xf16>, tensor<1x8x512x128xf16>, tensor<1x8x512x128xf16>) -> tensor<1x8x512x128xf16> {
  ^bb0(%a: tensor<1x8x512x128xf16>, %b: tensor<1x8x512x128xf16>, %c: tensor<1x8x512x128xf16>):
    %r = iolite.attention %a, %b, %c {causal} : tensor<1x8x512x128xf16>, tensor<1x8x512x128xf16>, tensor<1x8x512x128xf16>
    iolite.yield %r : tensor<1x8x512x128xf16>
  }
  return %o : tensor<1x8x512x128xf16>
}

//--- odd.mlir
func.func @odd(%q: tensor<1x8x512x128xf16>, %k: tensor<1x8x512x128xf16>, %v: tensor<1x8x512x128xf16>) -> tensor<1x8x512x128xf16> {
  %o = iolite.kernel "attn" (%q, %k, %v) : (tensor<1x8x512x128xf16>, tensor<1x8x512x128xf16>, tensor<1x8x512x128xf16>) -> tensor<1x8x512x128xf16> {
  ^bb0(%a: tensor<1x8x512x128xf16>, %b: tensor<1x8x512x128xf16>, %c: tensor<1x8x512x128xf16>):
    // expected-error @+1 {{attention tile 100x64 does not fit nv_m16n8k16_f16: query rows must be a multiple of 16 and keys of 16}}
    %r = iolite.attention %a, %b, %c {causal} : tensor<1x8x512x128xf16>, tensor<1x8x512x128xf16>, tensor<1x8x512x128xf16>
    iolite.yield %r : tensor<1x8x512x128xf16>
  }
  return %o : tensor<1x8x512x128xf16>
}
