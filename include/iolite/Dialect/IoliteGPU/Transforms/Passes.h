//===- Passes.h - iolite_gpu passes -----------------------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// iolite-gpu-lower-matrix (Passes.td) and the transformation behind it.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITEGPU_TRANSFORMS_PASSES_H
#define IOLITE_DIALECT_IOLITEGPU_TRANSFORMS_PASSES_H

#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUOps.h"
#include "iolite/Target/TargetDescription.h"
#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace iolite {
namespace igpu {

/// How far iolite-gpu-lower-matrix goes.
enum class MatrixLoweringLevel {
  /// The chip's instructions (nvgpu / amdgpu ops).
  Isa,
  /// Keep iolite_gpu.mma (the emulator's warp-level rendezvous); loads
  /// become element loads.
  Warp,
};

/// Lowers every iolite_gpu op in `root` for `target` (its chip's facts: an
/// emulated target lowers like its chip). Fails, with a diagnostic, on a
/// kind the chip does not have.
LogicalResult lowerMatrixOps(Operation *root, const TargetDescription &target,
                             MatrixLoweringLevel level);

#define GEN_PASS_DECL
#include "iolite/Dialect/IoliteGPU/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "iolite/Dialect/IoliteGPU/Transforms/Passes.h.inc"

} // namespace igpu
} // namespace iolite
} // namespace mlir

#endif // IOLITE_DIALECT_IOLITEGPU_TRANSFORMS_PASSES_H
