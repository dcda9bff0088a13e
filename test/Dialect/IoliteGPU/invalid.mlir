// RUN: iolite-opt %s --split-input-file --verify-diagnostics

func.func @a_fragment(%a: vector<4xf16>, %b: vector<4xf16>, %c: vector<4xf32>) {
  // expected-error @+1 {{A fragment must be 'vector<8xf16>' for this kind, not 'vector<4xf16>'}}
  %d = iolite_gpu.mma nv_m16n8k16_f16 %a, %b, %c : vector<4xf16>, vector<4xf16> into vector<4xf32>
  return
}

// -----

func.func @b_type(%a: vector<8xf16>, %b: vector<4xbf16>, %c: vector<4xf32>) {
  // expected-error @+1 {{B fragment must be 'vector<4xf16>' for this kind, not 'vector<4xbf16>'}}
  %d = iolite_gpu.mma nv_m16n8k16_f16 %a, %b, %c : vector<8xf16>, vector<4xbf16> into vector<4xf32>
  return
}

// -----

func.func @accumulator(%a: vector<4xf16>, %b: vector<4xf16>, %c: vector<4xf32>) {
  // expected-error @+1 {{accumulator must be 'vector<16xf32>' for this kind, not 'vector<4xf32>'}}
  %d = iolite_gpu.mma amd_mfma_32x32x8_f16 %a, %b, %c : vector<4xf16>, vector<4xf16> into vector<4xf32>
  return
}

// -----

func.func @kind(%a: vector<8xf16>) {
  // expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'kind' [nv_m16n8k16_f16,}}
  %d = iolite_gpu.mma nv_m16n8k32_f16 %a, %a, %a : vector<8xf16>, vector<8xf16> into vector<8xf16>
  return
}

// -----

func.func @global_source(%t: memref<16x16xf16>, %i: index) {
  // expected-error @+1 {{source must be in workgroup (shared) memory, not 'memref<16x16xf16>'}}
  %a = iolite_gpu.mma_load a nv_m16n8k16_f16 %t[%i, %i] : memref<16x16xf16> -> vector<8xf16>
  return
}

// -----

func.func @source_type(%t: memref<16x16xbf16, #gpu.address_space<workgroup>>, %i: index) {
  // expected-error @+1 {{source element type must be 'f16' for this kind, not 'bf16'}}
  %a = iolite_gpu.mma_load a nv_m16n8k16_f16 %t[%i, %i] : memref<16x16xbf16, #gpu.address_space<workgroup>> -> vector<8xf16>
  return
}

// -----

func.func @result(%t: memref<16x16xf16, #gpu.address_space<workgroup>>, %i: index) {
  // expected-error @+1 {{result must be 'vector<4xf16>' for this kind, not 'vector<8xf16>'}}
  %a = iolite_gpu.mma_load b nv_m16n8k16_f16 %t[%i, %i] : memref<16x16xf16, #gpu.address_space<workgroup>> -> vector<8xf16>
  return
}

// -----

func.func @indices(%t: memref<16x16xf16, #gpu.address_space<workgroup>>, %i: index) {
  // expected-error @+1 {{needs 2 indices, not 1}}
  %a = iolite_gpu.mma_load a nv_m16n8k16_f16 %t[%i] : memref<16x16xf16, #gpu.address_space<workgroup>> -> vector<8xf16>
  return
}

// -----

func.func @swizzle_row(%t: memref<16x24xf16, #gpu.address_space<workgroup>>, %i: index) {
  // expected-error @+1 {{a swizzled tile needs a static row length that is a multiple of vec * max_phase = 32, not 24}}
  %a = iolite_gpu.mma_load a nv_m16n8k16_f16 %t[%i, %i] {swizzle = #iolite_gpu.swizzle<vec = 8, per_phase = 1, max_phase = 4>} : memref<16x24xf16, #gpu.address_space<workgroup>> -> vector<8xf16>
  return
}

// -----

func.func @swizzle_power(%t: memref<16x64xf16, #gpu.address_space<workgroup>>, %i: index) {
  // expected-error @+1 {{swizzle max_phase must be a positive power of two, not 3}}
  %a = iolite_gpu.mma_load a nv_m16n8k16_f16 %t[%i, %i] {swizzle = #iolite_gpu.swizzle<vec = 8, per_phase = 1, max_phase = 3>} : memref<16x64xf16, #gpu.address_space<workgroup>> -> vector<8xf16>
  return
}
