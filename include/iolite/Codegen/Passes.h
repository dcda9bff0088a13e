//===- Passes.h - Kernel codegen passes -------------------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_CODEGEN_PASSES_H
#define IOLITE_CODEGEN_PASSES_H

#include "iolite/Codegen/KernelTemplate.h"
#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace iolite {

#define GEN_PASS_DECL
#include "iolite/Codegen/Passes.h.inc"

/// Name of the gpu.module holding the generated kernels.
inline constexpr StringLiteral kKernelModuleName = "iolite_kernels";

/// Generates the kernels of every function of `module` for `target` and
/// rewrites each function into its host launch form (see the
/// iolite-kernel-to-gpu pass).
LogicalResult generateGpuKernels(ModuleOp module,
                                 const TargetDescription &target,
                                 const CodegenOverrides &overrides);

#define GEN_PASS_REGISTRATION
#include "iolite/Codegen/Passes.h.inc"

} // namespace iolite
} // namespace mlir

#endif // IOLITE_CODEGEN_PASSES_H
