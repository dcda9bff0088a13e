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

//===----------------------------------------------------------------------===//
// IoliteCopyReturnedValues
//===----------------------------------------------------------------------===//

def IoliteCopyReturnedValuesPass
    : Pass<"iolite-copy-returned-values", "::mlir::func::FuncOp"> {
  let summary = "Give every returned tensor a value of its own";
  let description = [{
    A step of the CPU pipeline, on tensors just before bufferization: a
    value returned at two positions, or a function argument returned as
    is, is copied (`linalg.copy` into a `tensor.empty`) so that each result
    becomes its own buffer. buffer-results-to-out-params, which turns
    results into caller-provided output buffers, cannot give one buffer two
    destinations. Tensors without elements are left alone.

    ```mlir
    // iolite-opt --iolite-copy-returned-values
    return %y, %y : tensor<4xf32>, tensor<4xf32>
    // becomes
    %e = tensor.empty() : tensor<4xf32>
    %c = linalg.copy ins(%y : tensor<4xf32>) outs(%e : tensor<4xf32>)
    return %y, %c : tensor<4xf32>, tensor<4xf32>
    ```
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // IOLITE_CONVERSION_PASSES_TD
