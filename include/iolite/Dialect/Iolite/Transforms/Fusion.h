//===- Fusion.h - Kernel formation: policy and transformation ---*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// iolite-form-kernels partitions a function into iolite.kernel regions, one
// per future GPU kernel. The policy (docs/fusion.md) sees every op as one of
// a few classes; cheap ops (pointwise, index remaps, gathers, small windows)
// join the kernels of the expensive ops around them, and expensive ops share
// a kernel only in the shapes the kernel generators handle: matmuls sharing
// their LHS with a norm prologue or a row-wise epilogue. Every kernel's
// on-chip footprint is estimated against the target description before it is
// formed.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITE_TRANSFORMS_FUSION_H
#define IOLITE_DIALECT_IOLITE_TRANSFORMS_FUSION_H

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "iolite/Dialect/Iolite/Transforms/Remarks.h"
#include "iolite/Target/TargetDescription.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include <string>

namespace mlir {
namespace iolite {

/// How the fusion policy sees an op.
enum class FusionOpClass {
  /// iolite.constant: cloned into kernels when small, an input otherwise.
  Constant,
  /// Each element from the same-index elements of the operands (with
  /// broadcasting): arithmetic, casts, compare, select, activations.
  Pointwise,
  /// 1:1 index remaps: reshape, transpose, slice, broadcast, concat.
  View,
  /// Reads at data-dependent indices (gather) or at neighbouring indices
  /// (rotary along the features, conv1d along the sequence): cheap as a
  /// prologue, but not an epilogue of a tiled op.
  Window,
  Matmul,
  GroupedMatmul,
  Attention,
  /// One output row from one input row: softmax, norms, reduce, cumsum,
  /// top_k, router.
  RowReduction,
  /// Recurrences over the sequence: selective_scan, ssd, long_conv.
  Scan,
  /// Whole-batch permutations: dispatch, combine.
  MoERouting,
  /// The serving forms: KV caches and packed batches read or written at
  /// run-time positions (kv_cache_append, cache_attention,
  /// varlen_attention) and carried state (conv1d_with_state,
  /// selective_scan_with_state, ssd_with_state). Heavy: no
  /// other heavy op and no epilogue shares its kernel, only cheap
  /// prologues (cache_attention compiles with the attention template,
  /// kv_cache_append with its own, the carried-state ops with the
  /// state-space templates; varlen_attention has no kernel template yet).
  Serving,
  /// Anything else (other dialects, existing kernels): left outside.
  Opaque,
};

FusionOpClass classifyForFusion(Operation *op);

/// Pointwise, View and Window ops: cheap enough to join any kernel that
/// reads their result, never worth a kernel boundary of their own.
bool isCheapFusionClass(FusionOpClass c);

/// A short name of the class ("pointwise", "matmul", ...).
StringRef stringifyFusionOpClass(FusionOpClass c);

/// The on-chip resources a kernel needs at its smallest sensible tile.
struct KernelFootprint {
  int64_t sharedMemoryBytes = 0;
  /// f32 accumulator/state registers per thread.
  int64_t registersPerThread = 0;
  /// The tile the estimate assumes, for messages ("64x64x16 x3 matmuls").
  std::string tile;
};

/// Estimates the footprint of a kernel made of `ops` whose expensive ops are
/// `heavy` on `target`. Returns failure with `why` when the ops do not form
/// one of the kernel shapes the generators handle; `fits` reports whether
/// the footprint is within the target's limits.
FailureOr<KernelFootprint>
estimateKernelFootprint(ArrayRef<Operation *> ops, ArrayRef<Operation *> heavy,
                        const TargetDescription &target, std::string &why);

/// True when `fp` fits `target`; otherwise sets `why`.
bool footprintFits(const KernelFootprint &fp, const TargetDescription &target,
                   std::string &why);

/// Options of formKernels.
struct FormKernelsOptions {
  /// The targets the graph is compiled for (at least one): every kernel
  /// must fit each of them.
  SmallVector<const TargetDescription *> targets;
  /// False keeps one op per kernel.
  bool fuse = true;
  /// Splat constants and constants with at most this many elements are
  /// cloned into the kernels that use them; larger ones are kernel inputs.
  int64_t maxClonedConstantElements = 16;
};

/// Partitions every block of `func` into iolite.kernel ops (see
/// iolite-form-kernels) and returns them in program order. Decisions go to
/// `remarks` when given. Fails (with a diagnostic) only on IR it cannot
/// partition.
FailureOr<SmallVector<KernelOp>>
formKernels(RewriterBase &rewriter, func::FuncOp func,
            const FormKernelsOptions &options,
            RemarkCollector *remarks = nullptr);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DIALECT_IOLITE_TRANSFORMS_FUSION_H
