//===- Passes.td - Iolite conversion passes ----------------*- tablegen -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_CONVERSION_PASSES_TD
#define IOLITE_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// IoliteToLinalg
//===----------------------------------------------------------------------===//

def IoliteToLinalgPass : Pass<"iolite-to-linalg"> {
  let summary = "Lower iolite ops to linalg, tensor, arith, math and scf";
  let description = [{
    The reference semantics of the iolite dialect: every iolite op becomes
    upstream linalg/tensor/arith/math/scf ops on tensors, computing exactly
    what the op's description says. Floating-point arithmetic on f16 and
    bf16 happens in f32 and is rounded once, to the result type. Bodies of
    `iolite.kernel` ops are inlined, so fused graphs lower the same way.

    Shapes must be static; an op with a dynamic dim is reported with its
    location and the pass fails.

    ```mlir
    // iolite-opt --iolite-to-linalg
    %y = iolite.silu %x : tensor<4x64xf16>
    // becomes a linalg.generic that extends to f32, computes
    // x / (1 + exp(-x)) and truncates to f16.
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // IOLITE_CONVERSION_PASSES_TD
