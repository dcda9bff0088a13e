// The SASS of the cubins Iolite writes, read back with cuobjdump (the CUDA
// toolkit's, or the one tools/setup.sh installs from PyPI): what ptxas made
// of the matrix-unit kernels on sm_80 and sm_90a (matmul f16 and bf16,
// causal attention, the MoE ragged grouped GEMM). Every kernel's products
// are HMMA.16816 with f32 accumulators (f16 and bf16 forms), its fragments
// come through LDSM (ldmatrix), the matmul and attention tiles move with
// LDGSTS (cp.async), and no kernel touches local memory (LDL/STL: spills or
// stack arrays).

// RUN: rm -rf %t && mkdir -p %t
// RUN: iolite-compile %s --target=sm_80,sm_90a -o %t/sass
// RUN: %cuobjdump -sass -fun sass_k0_matmul %t/sass/sass_matrix_units.sm_80.cubin | FileCheck %s --check-prefixes=MM,MMF16
// RUN: %cuobjdump -sass -fun sass_k0_matmul %t/sass/sass_matrix_units.sm_90a.cubin | FileCheck %s --check-prefixes=MM,MMF16
// RUN: %cuobjdump -sass -fun sass_k1_matmul %t/sass/sass_matrix_units.sm_80.cubin | FileCheck %s --check-prefixes=MM,MMBF16
// RUN: %cuobjdump -sass -fun sass_k1_matmul %t/sass/sass_matrix_units.sm_90a.cubin | FileCheck %s --check-prefixes=MM,MMBF16
// RUN: %cuobjdump -sass -fun sass_k2_attention %t/sass/sass_matrix_units.sm_80.cubin | FileCheck %s --check-prefix=ATT
// RUN: %cuobjdump -sass -fun sass_k2_attention %t/sass/sass_matrix_units.sm_90a.cubin | FileCheck %s --check-prefix=ATT
// RUN: %cuobjdump -sass -fun sass_k3_grouped_matmul %t/sass/sass_matrix_units.sm_80.cubin | FileCheck %s --check-prefix=GMM
// RUN: %cuobjdump -sass -fun sass_k3_grouped_matmul %t/sass/sass_matrix_units.sm_90a.cubin | FileCheck %s --check-prefix=GMM

// MM: Function : sass_k{{[01]}}_matmul
// MM-NOT: {{LDL|STL}}
// MM: LDGSTS.E.BYPASS.128
// MM-NOT: {{LDL|STL}}
// MM: LDGDEPBAR
// MM-NOT: {{LDL|STL}}
// MM: LDSM.16.M88.4
// MM-NOT: {{LDL|STL}}
// MM: LDSM.16.MT88.2
// MMF16: HMMA.16816.F32 R
// MMBF16: HMMA.16816.F32.BF16 R
// MM-NOT: {{LDL|STL}}
// MM: EXIT

// ATT: Function : sass_k2_attention
// ATT-NOT: {{LDL|STL}}
// ATT: LDGSTS.E.BYPASS.128
// ATT-NOT: {{LDL|STL}}
// ATT: LDSM.16.M88.2
// ATT-NOT: {{LDL|STL}}
// ATT: HMMA.16816.F32 R
// ATT-NOT: {{LDL|STL}}
// ATT: MUFU.EX2
// ATT-NOT: {{LDL|STL}}
// ATT: LDSM.16.MT88.2
// ATT-NOT: {{LDL|STL}}
// ATT: HMMA.16816.F32 R
// ATT-NOT: {{LDL|STL}}
// ATT: EXIT

// GMM: Function : sass_k3_grouped_matmul
// GMM-NOT: {{LDL|STL}}
// GMM: LDSM.16.M88.4
// GMM-NOT: {{LDL|STL}}
// GMM: HMMA.16816.F32 R
// GMM-NOT: {{LDL|STL}}
// GMM: EXIT

func.func @sass(%a: tensor<200x192xf16>, %b: tensor<192x136xf16>, %c: tensor<200x192xbf16>, %d: tensor<192x136xbf16>, %q: tensor<1x8x256x64xf16>, %k: tensor<1x2x256x64xf16>, %v: tensor<1x2x256x64xf16>, %xs: tensor<256x192xf16>, %w: tensor<4x192x136xf16>, %offs: tensor<5xi32>) -> (tensor<200x136xf16>, tensor<200x136xbf16>, tensor<1x8x256x64xf16>, tensor<256x136xf16>) {
  %x = iolite.matmul %a, %b : tensor<200x192xf16>, tensor<192x136xf16>
  %y = iolite.matmul %c, %d : tensor<200x192xbf16>, tensor<192x136xbf16>
  %o = iolite.attention %q, %k, %v {causal} : tensor<1x8x256x64xf16>, tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>
  %g = iolite.grouped_matmul %xs, %w, %offs : tensor<256x192xf16>, tensor<4x192x136xf16>, tensor<5xi32>
  return %x, %y, %o, %g : tensor<200x136xf16>, tensor<200x136xbf16>, tensor<1x8x256x64xf16>, tensor<256x136xf16>
}
