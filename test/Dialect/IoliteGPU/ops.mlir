// RUN: iolite-opt %s | iolite-opt | FileCheck %s
// RUN: iolite-opt %s --mlir-print-op-generic | iolite-opt | FileCheck %s

#wg = #gpu.address_space<workgroup>

// CHECK-LABEL: func.func @nvidia
func.func @nvidia(%tile: memref<64x32xf16, #wg>, %i: index, %j: index,
                  %c: vector<4xf32>) -> vector<4xf32> {
  // CHECK: %[[A:.*]] = iolite_gpu.mma_load a nv_m16n8k16_f16 %{{.*}}[%{{.*}}, %{{.*}}] {swizzle = #iolite_gpu.swizzle<vec = 8, per_phase = 2, max_phase = 4>} : memref<64x32xf16, #gpu.address_space<workgroup>> -> vector<8xf16>
  %a = iolite_gpu.mma_load a nv_m16n8k16_f16 %tile[%i, %j]
      {swizzle = #iolite_gpu.swizzle<vec = 8, per_phase = 2, max_phase = 4>}
      : memref<64x32xf16, #wg> -> vector<8xf16>
  // CHECK: %[[B:.*]] = iolite_gpu.mma_load b nv_m16n8k16_f16 %{{.*}}[%{{.*}}, %{{.*}}] {transpose} : memref<64x32xf16, #gpu.address_space<workgroup>> -> vector<4xf16>
  %b = iolite_gpu.mma_load b nv_m16n8k16_f16 %tile[%i, %j] {transpose}
      : memref<64x32xf16, #wg> -> vector<4xf16>
  // CHECK: iolite_gpu.mma nv_m16n8k16_f16 %[[A]], %[[B]], %{{.*}} : vector<8xf16>, vector<4xf16> into vector<4xf32>
  %d = iolite_gpu.mma nv_m16n8k16_f16 %a, %b, %c
      : vector<8xf16>, vector<4xf16> into vector<4xf32>
  return %d : vector<4xf32>
}

// CHECK-LABEL: func.func @tf32
func.func @tf32(%a: vector<4xf32>, %b: vector<2xf32>, %c: vector<4xf32>) -> vector<4xf32> {
  // CHECK: iolite_gpu.mma nv_m16n8k8_tf32 {{.*}} : vector<4xf32>, vector<2xf32> into vector<4xf32>
  %d = iolite_gpu.mma nv_m16n8k8_tf32 %a, %b, %c
      : vector<4xf32>, vector<2xf32> into vector<4xf32>
  return %d : vector<4xf32>
}

// CHECK-LABEL: func.func @amd
func.func @amd(%tile: memref<32x32xbf16, #wg>, %i: index,
               %c: vector<16xf32>, %c16: vector<4xf32>) -> (vector<16xf32>, vector<4xf32>) {
  // CHECK: iolite_gpu.mma_load a amd_mfma_32x32x8_bf16 {{.*}} -> vector<4xbf16>
  %a = iolite_gpu.mma_load a amd_mfma_32x32x8_bf16 %tile[%i, %i]
      : memref<32x32xbf16, #wg> -> vector<4xbf16>
  // CHECK: iolite_gpu.mma amd_mfma_32x32x8_bf16 {{.*}} into vector<16xf32>
  %d = iolite_gpu.mma amd_mfma_32x32x8_bf16 %a, %a, %c
      : vector<4xbf16>, vector<4xbf16> into vector<16xf32>
  // CHECK: iolite_gpu.mma amd_mfma_16x16x16_bf16 {{.*}} into vector<4xf32>
  %e = iolite_gpu.mma amd_mfma_16x16x16_bf16 %a, %a, %c16
      : vector<4xbf16>, vector<4xbf16> into vector<4xf32>
  return %d, %e : vector<16xf32>, vector<4xf32>
}
