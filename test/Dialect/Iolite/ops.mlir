// RUN: iolite-opt %s | iolite-opt | FileCheck %s
// RUN: iolite-opt %s --mlir-print-op-generic | iolite-opt | FileCheck %s

// CHECK-LABEL: func @attention
func.func @attention(%q: tensor<1x8x16x64xf16>, %k: tensor<1x2x16x64xf16>,
                     %v: tensor<1x2x16x64xf16>) -> tensor<1x8x16x64xf16> {
  // CHECK: iolite.attention %{{.*}}, %{{.*}}, %{{.*}} {causal}
  %o = iolite.attention %q, %k, %v {causal}
      : tensor<1x8x16x64xf16>, tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>
      -> tensor<1x8x16x64xf16>
  return %o : tensor<1x8x16x64xf16>
}
