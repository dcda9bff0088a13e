// Matrix instructions on the emulator, at both levels: `warp` runs
// iolite_gpu.mma by rebuilding the tiles from Iolite's instruction table,
// `isa` runs what iolite-gpu-lower-matrix makes of it (nvgpu.ldmatrix +
// nvgpu.mma.sync, LDS loads + amdgpu.mfma) from the PTX and CDNA3 ISA
// formulas. Each kernel multiplies an identity-like A by B = iota and dumps
// every lane's accumulator fragment as it is (out[lane * N + e]), so the
// printed order is the vendor's documented accumulator layout, written out
// here by hand:
// - mma.m16n8k16 (PTX ISA): lane l holds D[g][2t + {0,1}], D[g+8][2t +
//   {0,1}] with g = l / 4, t = l % 4; D = B = iota(16x8), D[r][c] = 8r + c.
// - mfma 32x32x8 (CDNA3 ISA): lane l holds D[8(e/4) + 4(l/32) + e%4][l%32];
//   A[r][k] = (r == k), so D[r][c] = B[r][c] = 32r + c for r < 8, else 0.

// RUN: rm -rf %t && split-file %s %t
// RUN: iolite-emu %t/nv.mlir --kernel=mma_nv --block=32 --shared=768 --matrix-level=warp --arg='f16[128]=iota' --arg='f32[128]=zeros' --print=1 --stats | FileCheck %s --check-prefix=NV
// RUN: iolite-emu %t/nv.mlir --kernel=mma_nv --block=32 --shared=768 --matrix-level=isa --arg='f16[128]=iota' --arg='f32[128]=zeros' --print=1 --stats | FileCheck %s --check-prefix=NV
// NV: arg1 = 0 1 64 65 2 3 66 67 4 5 68 69 6 7 70 71 8 9 72 73
// The mma counts 2 * 16 * 8 * 16 matrix flops.
// NV: mma_nv {{.*}} 4096

// RUN: iolite-emu %t/amd.mlir --chip=gfx942 --kernel=mma_amd --block=64 --shared=1024 --matrix-level=warp --arg='f16[256]=iota' --arg='f32[1024]=zeros' --print=1 | FileCheck %s --check-prefix=AMD
// RUN: iolite-emu %t/amd.mlir --chip=gfx942 --kernel=mma_amd --block=64 --shared=1024 --matrix-level=isa --arg='f16[256]=iota' --arg='f32[1024]=zeros' --print=1 | FileCheck %s --check-prefix=AMD
// AMD: arg1 = 0 32 64 96 0 0 0 0 0 0 0 0 0 0 0 0 1 33 65 97 0 0 0 0 0 0 0 0 0 0 0 0 2 34

// A warp whose lanes do not all reach the mma: a planted divergence. Its
// lanes load fragments from shared memory nobody wrote: init check off.
// RUN: not iolite-emu %t/nv.mlir --kernel=mma_divergent --block=32 --shared=768 --matrix-level=warp --arg='f32[128]=zeros' --check=race,bounds,hang 2>&1 | FileCheck %s --check-prefix=DIVERGE
// RUN: not iolite-emu %t/nv.mlir --kernel=mma_divergent --block=32 --shared=768 --matrix-level=isa --arg='f32[128]=zeros' --check=race,bounds,hang 2>&1 | FileCheck %s --check-prefix=DIVERGE
// DIVERGE: emu: invalid matrix instruction in kernel 'mma_divergent', block (0,0,0) thread (0,0,0) (warp 0 lane 0)
// DIVERGE: lane 16 has exited; all lanes of a warp must execute a matrix instruction together

// A block of half a warp.
// RUN: not iolite-emu %t/nv.mlir --kernel=mma_nv --block=16 --shared=768 --arg='f16[128]=iota' --arg='f32[128]=zeros' 2>&1 | FileCheck %s --check-prefix=PARTIAL
// PARTIAL: matrix instructions need whole warps, but this warp has 16 of 32 lanes

// ldmatrix rows must be 16-byte aligned: a fragment load at column 4.
// RUN: not iolite-emu %t/nv.mlir --kernel=ldmatrix_misaligned --block=32 --shared=768 --arg='f32[128]=zeros' 2>&1 | FileCheck %s --check-prefix=ALIGN
// ALIGN: ldmatrix row address is not 16-byte aligned (offset 8 in shared memory)

//--- nv.mlir
!wg16x16 = memref<16x16xf16, #gpu.address_space<workgroup>>
!wg16x8 = memref<16x8xf16, #gpu.address_space<workgroup>>

gpu.module @kernels {
  gpu.func @mma_nv(%b: memref<128xf16>, %out: memref<128xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %c8 = arith.constant 8 : index
    %c16 = arith.constant 16 : index
    %c32 = arith.constant 32 : index
    %c128 = arith.constant 128 : index
    %c256 = arith.constant 256 : index
    %c512 = arith.constant 512 : index
    %one = arith.constant 1.0 : f16
    %zero = arith.constant 0.0 : f16
    %lane = gpu.thread_id x
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %a = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to !wg16x16
    %bt = memref.view %smem[%c512][] : memref<?xi8, #gpu.address_space<workgroup>> to !wg16x8
    scf.for %e = %lane to %c256 step %c32 {
      %r = arith.divui %e, %c16 : index
      %c = arith.remui %e, %c16 : index
      %diag = arith.cmpi eq, %r, %c : index
      %v = arith.select %diag, %one, %zero : f16
      memref.store %v, %a[%r, %c] : !wg16x16
    }
    scf.for %e = %lane to %c128 step %c32 {
      %r = arith.divui %e, %c8 : index
      %c = arith.remui %e, %c8 : index
      %v = memref.load %b[%e] : memref<128xf16>
      memref.store %v, %bt[%r, %c] : !wg16x8
    }
    gpu.barrier
    %fa = iolite_gpu.mma_load a nv_m16n8k16_f16 %a[%c0, %c0] : !wg16x16 -> vector<8xf16>
    %fb = iolite_gpu.mma_load b nv_m16n8k16_f16 %bt[%c0, %c0] : !wg16x8 -> vector<4xf16>
    %acc = arith.constant dense<0.0> : vector<4xf32>
    %d = iolite_gpu.mma nv_m16n8k16_f16 %fa, %fb, %acc : vector<8xf16>, vector<4xf16> into vector<4xf32>
    %base = arith.muli %lane, %c4 : index
    vector.store %d, %out[%base] : memref<128xf32>, vector<4xf32>
    gpu.return
  }

  gpu.func @mma_divergent(%out: memref<128xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    %c16 = arith.constant 16 : index
    %c512 = arith.constant 512 : index
    %lane = gpu.thread_id x
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %a = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to !wg16x16
    %bt = memref.view %smem[%c512][] : memref<?xi8, #gpu.address_space<workgroup>> to !wg16x8
    %low = arith.cmpi ult, %lane, %c16 : index
    scf.if %low {
      %fa = iolite_gpu.mma_load a nv_m16n8k16_f16 %a[%c0, %c0] : !wg16x16 -> vector<8xf16>
      %fb = iolite_gpu.mma_load b nv_m16n8k16_f16 %bt[%c0, %c0] : !wg16x8 -> vector<4xf16>
      %acc = arith.constant dense<0.0> : vector<4xf32>
      %d = iolite_gpu.mma nv_m16n8k16_f16 %fa, %fb, %acc : vector<8xf16>, vector<4xf16> into vector<4xf32>
      %base = arith.muli %lane, %c4 : index
      vector.store %d, %out[%base] : memref<128xf32>, vector<4xf32>
    }
    gpu.return
  }

  gpu.func @ldmatrix_misaligned(%out: memref<128xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    %lane = gpu.thread_id x
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %a = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to !wg16x16
    %fa = iolite_gpu.mma_load a nv_m16n8k16_f16 %a[%c0, %c4] : !wg16x16 -> vector<8xf16>
    %x = vector.extract %fa[0] : f16 from vector<8xf16>
    %y = arith.extf %x : f16 to f32
    memref.store %y, %out[%lane] : memref<128xf32>
    gpu.return
  }
}

//--- amd.mlir
!wg32x8 = memref<32x8xf16, #gpu.address_space<workgroup>>
!wg8x32 = memref<8x32xf16, #gpu.address_space<workgroup>>

gpu.module @kernels {
  gpu.func @mma_amd(%b: memref<256xf16>, %out: memref<1024xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c8 = arith.constant 8 : index
    %c16 = arith.constant 16 : index
    %c32 = arith.constant 32 : index
    %c64 = arith.constant 64 : index
    %c256 = arith.constant 256 : index
    %c512 = arith.constant 512 : index
    %one = arith.constant 1.0 : f16
    %zero = arith.constant 0.0 : f16
    %lane = gpu.thread_id x
    %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
    %a = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to !wg32x8
    %bt = memref.view %smem[%c512][] : memref<?xi8, #gpu.address_space<workgroup>> to !wg8x32
    scf.for %e = %lane to %c256 step %c64 {
      %r = arith.divui %e, %c8 : index
      %c = arith.remui %e, %c8 : index
      %diag = arith.cmpi eq, %r, %c : index
      %v = arith.select %diag, %one, %zero : f16
      memref.store %v, %a[%r, %c] : !wg32x8
      %br = arith.divui %e, %c32 : index
      %bc = arith.remui %e, %c32 : index
      %bv = memref.load %b[%e] : memref<256xf16>
      memref.store %bv, %bt[%br, %bc] : !wg8x32
    }
    gpu.barrier
    %fa = iolite_gpu.mma_load a amd_mfma_32x32x8_f16 %a[%c0, %c0] : !wg32x8 -> vector<4xf16>
    %fb = iolite_gpu.mma_load b amd_mfma_32x32x8_f16 %bt[%c0, %c0] : !wg8x32 -> vector<4xf16>
    %acc = arith.constant dense<0.0> : vector<16xf32>
    %d = iolite_gpu.mma amd_mfma_32x32x8_f16 %fa, %fb, %acc : vector<4xf16>, vector<4xf16> into vector<16xf32>
    %base = arith.muli %lane, %c16 : index
    vector.store %d, %out[%base] : memref<1024xf32>, vector<16xf32>
    gpu.return
  }
}
