// RUN: rm -rf %t && split-file %s %t
// RUN: iolite-opt %t/nvidia.mlir --pass-pipeline='builtin.module(gpu.module(iolite-gpu-lower-matrix{chip=sm_90a}))' | FileCheck %s --check-prefix=NV
// RUN: iolite-opt %t/amd.mlir --pass-pipeline='builtin.module(gpu.module(iolite-gpu-lower-matrix{chip=gfx942}))' | FileCheck %s --check-prefix=AMD
// RUN: iolite-opt %t/amd.mlir --pass-pipeline='builtin.module(gpu.module(iolite-gpu-lower-matrix{chip=emu-gfx942 level=warp}))' | FileCheck %s --check-prefix=WARP
// RUN: iolite-opt %t/errors.mlir --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(gpu.module(iolite-gpu-lower-matrix{chip=gfx90a}))'
// RUN: not iolite-opt %t/amd.mlir --pass-pipeline='builtin.module(gpu.module(iolite-gpu-lower-matrix{chip=gfx942 level=warp}))' 2>&1 | FileCheck %s --check-prefix=LEVEL
// LEVEL: error: iolite-gpu-lower-matrix: level=warp is only for emulated chips; gfx942 needs its instructions

// A (m x k stored [m][k]) and B (k x n stored [k][n], or n-major with
// transpose) of mma.sync m16n8k16: every 8x8 sub-tile of the fragments is
// an ldmatrix matrix. A is 4 matrices (x4), B 2 (x2); B stored [k][n] is
// transposed relative to the fragment (.trans). Lane l addresses row l % 8
// of matrix l / 8; the swizzle XORs the 16-byte chunk of the column.
// NV-LABEL: gpu.func @fragments
// NV: %[[LANE:.*]] = gpu.lane_id
// NV: %[[PHASE:.*]] = arith.andi %{{.*}}, %c3{{.*}} : index
// NV: %[[SHIFT:.*]] = arith.shli %[[PHASE]], %c3{{.*}} : index
// NV: %[[COL:.*]] = arith.xori %{{.*}}, %[[SHIFT]] : index
// NV: %[[A:.*]] = nvgpu.ldmatrix %arg0[%{{.*}}, %[[COL]]] {numTiles = 4 : i32, transpose = false} : memref<64x32xf16, #gpu.address_space<workgroup>> -> vector<4x2xf16>
// NV: vector.extract %[[A]][0, 0]
// NV: vector.from_elements {{.*}} : vector<8xf16>
// NV: nvgpu.ldmatrix %arg1[%{{.*}}, %arg3] {numTiles = 2 : i32, transpose = true} : memref<32x64xf16, #gpu.address_space<workgroup>> -> vector<2x2xf16>
// NV: nvgpu.ldmatrix %arg0[%{{.*}}, %{{.*}}] {numTiles = 2 : i32, transpose = false} : memref<64x32xf16, #gpu.address_space<workgroup>> -> vector<2x2xf16>
// The mma: fragments in nvgpu's register form.
// NV: %[[RA:.*]] = vector.from_elements {{.*}} : vector<4x2xf16>
// NV: %[[RB:.*]] = vector.from_elements {{.*}} : vector<2x2xf16>
// NV: %[[RC:.*]] = vector.from_elements {{.*}} : vector<2x2xf32>
// NV: %[[D:.*]] = nvgpu.mma.sync(%[[RA]], %[[RB]], %[[RC]]) {mmaShape = [16, 8, 16]} : (vector<4x2xf16>, vector<2x2xf16>, vector<2x2xf32>) -> vector<2x2xf32>
// NV-NOT: iolite_gpu
// AMD-LABEL: gpu.func @mfma
// A of 32x32x8 stored [m][k]: each lane's 4 elements are one 8-byte run.
// AMD: %[[LOADA:.*]] = vector.load %arg0[%{{.*}}, %{{.*}}] : memref<64x32xf16, #gpu.address_space<workgroup>>, vector<4xf16>
// B stored [k][n]: the 4 elements are in 4 rows, loaded one by one.
// AMD-COUNT-4: memref.load %arg1[%{{.*}}, %{{.*}}] : memref<32x64xf16, #gpu.address_space<workgroup>>
// AMD: amdgpu.mfma 32x32x8 %{{.*}} * %{{.*}} + %arg2 blgp = none : vector<4xf16>, vector<4xf16>, vector<16xf32>
// AMD-NOT: iolite_gpu
// The emulator's warp level keeps the mma and loads elements.
// WARP-LABEL: gpu.func @mfma
// WARP: vector.load %arg0
// WARP-COUNT-4: memref.load %arg1
// WARP: iolite_gpu.mma amd_mfma_32x32x8_f16
// WARP-NOT: amdgpu.mfma
//--- nvidia.mlir
#wg = #gpu.address_space<workgroup>

gpu.module @k {
  gpu.func @fragments(%tile: memref<64x32xf16, #wg>, %tb: memref<32x64xf16, #wg>,
                      %r: index, %c: index, %acc: vector<4xf32>, %out: memref<4xf32>) kernel {
    %a = iolite_gpu.mma_load a nv_m16n8k16_f16 %tile[%r, %c]
        {swizzle = #iolite_gpu.swizzle<vec = 8, per_phase = 2, max_phase = 4>}
        : memref<64x32xf16, #wg> -> vector<8xf16>
    %b = iolite_gpu.mma_load b nv_m16n8k16_f16 %tb[%r, %c] : memref<32x64xf16, #wg> -> vector<4xf16>
    %bt = iolite_gpu.mma_load b nv_m16n8k16_f16 %tile[%r, %c] {transpose} : memref<64x32xf16, #wg> -> vector<4xf16>
    %d = iolite_gpu.mma nv_m16n8k16_f16 %a, %b, %acc : vector<8xf16>, vector<4xf16> into vector<4xf32>
    %d2 = iolite_gpu.mma nv_m16n8k16_f16 %a, %bt, %d : vector<8xf16>, vector<4xf16> into vector<4xf32>
    %c0 = arith.constant 0 : index
    vector.store %d2, %out[%c0] : memref<4xf32>, vector<4xf32>
    gpu.return
  }
}

//--- amd.mlir
#wg = #gpu.address_space<workgroup>

gpu.module @k {
  gpu.func @mfma(%ta: memref<64x32xf16, #wg>, %tb: memref<32x64xf16, #wg>,
                 %acc: vector<16xf32>, %out: memref<16xf32>) kernel {
    %c0 = arith.constant 0 : index
    %a = iolite_gpu.mma_load a amd_mfma_32x32x8_f16 %ta[%c0, %c0] : memref<64x32xf16, #wg> -> vector<4xf16>
    %b = iolite_gpu.mma_load b amd_mfma_32x32x8_f16 %tb[%c0, %c0] : memref<32x64xf16, #wg> -> vector<4xf16>
    %d = iolite_gpu.mma amd_mfma_32x32x8_f16 %a, %b, %acc : vector<4xf16>, vector<4xf16> into vector<16xf32>
    vector.store %d, %out[%c0] : memref<16xf32>, vector<16xf32>
    gpu.return
  }
}

//--- errors.mlir
#wg = #gpu.address_space<workgroup>

gpu.module @k {
  gpu.func @kind(%a: vector<8xf16>, %b: vector<4xf16>, %c: vector<4xf32>) kernel {
    // expected-error @+1 {{matrix instruction nv_m16n8k16_f16 is not available on gfx90a}}
    %d = iolite_gpu.mma nv_m16n8k16_f16 %a, %b, %c : vector<8xf16>, vector<4xf16> into vector<4xf32>
    gpu.return
  }
}
