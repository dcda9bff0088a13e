//===- MemoryPlan.h - Workspace planning across kernels ---------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// iolite-plan-memory places every tensor that one kernel writes and later
// kernels read (a kernel result that is not a function result) in one
// workspace arena. The plan is recorded on the IR:
//
//   iolite.kernel ... {result_offsets = array<i64: 0, -1>}
//       bytes into the workspace, -1 for function results (the caller's
//       output buffers);
//   func.func ... attributes {iolite.workspace_size = N : i64,
//       iolite.workspace_stats = {buffers, in_place, sum_of_sizes,
//                                 liveness_lower_bound}}.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITE_TRANSFORMS_MEMORYPLAN_H
#define IOLITE_DIALECT_IOLITE_TRANSFORMS_MEMORYPLAN_H

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "iolite/Dialect/Iolite/Transforms/Remarks.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir {
namespace iolite {

/// Name of the function attribute holding the arena size in bytes.
inline constexpr StringLiteral kWorkspaceSizeAttr = "iolite.workspace_size";
/// Name of the function attribute holding the plan's statistics.
inline constexpr StringLiteral kWorkspaceStatsAttr = "iolite.workspace_stats";
/// Name of the kernel attribute holding its results' offsets.
inline constexpr StringLiteral kResultOffsetsAttr = "result_offsets";

struct MemoryPlanOptions {
  /// Every buffer starts at a multiple of this (bytes, a power of two).
  int64_t alignment = 256;
};

/// One intermediate tensor of the workspace.
struct PlannedBuffer {
  /// The kernel result.
  Value value;
  /// Bytes, rounded up to the alignment.
  int64_t size = 0;
  int64_t offset = 0;
  /// Positions (op indices in the block) of the kernel that writes it and
  /// of the last op that reads it.
  unsigned firstUse = 0, lastUse = 0;
  /// The input whose buffer this result overwrites in place, if any.
  Value inPlaceOf;
};

struct MemoryPlan {
  SmallVector<PlannedBuffer> buffers;
  /// The arena size: the largest offset + size.
  int64_t workspaceSize = 0;
  /// What the intermediates would take with no reuse at all.
  int64_t sumOfSizes = 0;
  /// The most bytes live at one kernel: no placement can do better.
  int64_t livenessLowerBound = 0;
  unsigned numInPlace = 0;
};

/// True when kernel `kernel` may write its result `resultIndex` over its
/// input `inputIndex`: the body reads that input only through pointwise ops
/// (and reshapes) on the way to that one result, so every element is read
/// by the thread that writes the same element, before writing it.
bool canWriteInPlace(KernelOp kernel, unsigned inputIndex,
                     unsigned resultIndex);

/// Plans the workspace of `func` (one block whose kernels are iolite.kernel
/// ops). Fails with a diagnostic on tensors it cannot size.
FailureOr<MemoryPlan> planMemory(func::FuncOp func,
                                 const MemoryPlanOptions &options);

/// Records `plan` on `func` and its kernels (see the file comment).
void applyMemoryPlan(func::FuncOp func, const MemoryPlan &plan);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DIALECT_IOLITE_TRANSFORMS_MEMORYPLAN_H
