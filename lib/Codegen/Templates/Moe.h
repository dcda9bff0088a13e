//===- Moe.h - Mixture-of-experts kernel stages -----------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The MoE template compiles any kernel whose heavy ops are MoE ops (router
// with its logits matmul, dispatch, grouped matmuls, combine) as a sequence
// of *stages*, one per heavy op group, in program order:
//
//   router    [matmul +] router          one launch, a block per token tile
//   dispatch  counting sort              1 launch (one block) or 3 (histogram,
//                                        scan, stable scatter)
//   gemm      1-2 grouped matmuls        one launch over (n tile, expert tile)
//             sharing input and offsets
//   combine   weighted combine           3 launches (init, inverse
//                                        permutation, combine)
//
// A stage writes the values later stages read ("exports", computed in its
// epilogue from its results by pointwise ops) to the kernel's outputs when
// they are yielded, else to kernel scratch; later stages read them
// through element-emitter sources. The one edge that is not materialised is
// dispatch -> grouped matmul: the GEMM gathers the rows of the dispatch input
// through the row index in its A-tile loads. docs/moe-kernels.md has the
// design and the IO model.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_CODEGEN_TEMPLATES_MOE_H
#define IOLITE_LIB_CODEGEN_TEMPLATES_MOE_H

#include "iolite/Codegen/KernelTemplate.h"
#include "iolite/Codegen/MatrixCodegen.h"

namespace mlir {
namespace iolite {
namespace moe {

enum class StageKind { Router, Dispatch, GroupedMatmul, Combine };

/// Index spaces of a stage's results. Main: router [T, k], dispatch sorted
/// [R, D], grouped matmul [R, N], combine [T, N]; Logits: the router matmul's
/// [T, E]; Rows / Offsets: dispatch's row index [R] and offsets [E+1].
enum Space : unsigned { kMain = 0, kLogits = 1, kRows = 2, kOffsets = 3 };

/// A value a stage writes to memory.
struct Export {
  Value value;
  /// Index of the kernel output it is yielded as, or -1 (scratch).
  int output = -1;
  /// The index space the stage writes it at.
  Space space = kMain;
};

struct Stage {
  StageKind kind;
  /// The stage's heavy ops: router [matmul, router] or [router]; dispatch
  /// [dispatch]; gemm [gm] or [gm, gm]; combine [combine].
  SmallVector<Operation *, 2> ops;
  /// Values the stage writes.
  SmallVector<Export> exports;
  /// gemm: the dispatch of an earlier stage whose `sorted` result the GEMM
  /// reads by gathering rows of the dispatch input (never materialised).
  DispatchOp fusedDispatch;
};

/// How a kernel splits into stages; built by `analyze`.
struct MoePlan {
  SmallVector<Stage> stages;

  /// Null with `reason` set when the kernel is not an MoE kernel this
  /// template can emit.
  static std::optional<MoePlan> analyze(const KernelAnalysis &analysis,
                                        std::string &reason);
};

/// Where exported values live while the kernel's launches run, and which
/// launch code is being emitted into.
class MoeEmitState {
public:
  explicit MoeEmitState(KernelEmitContext &primary)
      : primary(primary), current(&primary) {}

  /// The context of the current launch.
  KernelEmitContext &getContext() { return *current; }

  /// Starts the next launch: the kernel's own gpu.func first, then
  /// auxiliary kernels `<kernel>_<name>` (KernelEmitContext::
  /// addAuxiliaryKernel). Contexts, builders and element emitters of
  /// earlier launches must not be used afterwards.
  void nextLaunch(StringRef name);

  /// Reserves all the kernel's global scratch before any code is emitted:
  /// every export that is not yielded, and the stages' own buffers (the
  /// dispatch's per-block counts, the combine's inverse permutation).
  void planMemory(const MoePlan &plan);
  /// The scratch buffer `stage` asked for itself (see planMemory).
  Value getStageScratch(const Stage &stage);

  /// Installs sources in `em` that read every value already written by an
  /// earlier stage from its memory in the current launch.
  void installSources(ElementalEmitter &em);
  /// Marks the exports of `stage` as written (visible to later stages).
  void markWritten(const Stage &stage);
  /// Stores the element of `value` (an export) at `index` in the current
  /// launch.
  void store(Value value, Value computed, ValueRange index);
  /// The memref holding export `value` in the current launch.
  Value getMemory(Value value);

private:
  struct Memory {
    SmallVector<int, 1> outputs;
    int scratch = -1;
  };
  unsigned requestScratch(StringRef name, MemRefType type);
  Value getScratch(unsigned id);

  KernelEmitContext &primary;
  KernelEmitContext *current;
  bool started = false;
  DenseMap<Value, Memory> locations;
  SmallVector<Value> written;
  SmallVector<MemRefType> scratchTypes;
  DenseMap<const Stage *, unsigned> stageScratch;
};

/// Blocks of the dispatch's counting sort (1: one launch), at the bounds
/// when the token count is a run-time extent.
int64_t getDispatchBlocks(KernelEmitContext &ctx, DispatchOp dispatch,
                          const KernelTuning &tuning);

/// Emits `stage` (its launches) and writes its exports.
LogicalResult emitRouterStage(MoeEmitState &state, const Stage &stage);
LogicalResult emitDispatchStage(MoeEmitState &state, const Stage &stage);
LogicalResult emitGroupedMatmulStage(MoeEmitState &state, const Stage &stage);
LogicalResult emitCombineStage(MoeEmitState &state, const Stage &stage);

/// The tuning of an MoE kernel family on the current target (the matching
/// code checks every family exists).
const KernelTuning &getTuning(KernelEmitContext &ctx, StringRef family);

/// The matrix instruction of a stage's tile products of `lhs` x `rhs`
/// elements (chooseMatrixInstruction with `maxM` / `maxN`), or FMA with the
/// reason when the compile turned the matrix units off or the target has no
/// tuning `mmaFamily` for them.
MatrixChoice chooseMatrix(KernelEmitContext &ctx, StringRef mmaFamily, Type lhs,
                          Type rhs, int64_t maxM, int64_t maxN);

/// Elements per global load of a block GEMM operand read in runs along a
/// dim of `extent` elements: the largest power of two within the target's
/// vector width (for `operand`'s widest source element) dividing `extent`,
/// so every aligned run is entirely inside or outside the problem.
int64_t getOperandRun(const TargetDescription &target, Value operand,
                      int64_t extent);

/// Dim `d` of `v` to choose tiles with: its size, or its size at the bounds
/// when it is a run-time extent (docs/dynamic-shapes.md).
int64_t getPlanningSize(KernelEmitContext &ctx, Value v, unsigned d);
/// Dim `d` of `v` in the launch of `ctx`: a constant, or the run-time extent.
Value getExtentValue(KernelEmitContext &ctx, Value v, unsigned d);

/// Index helpers shared by the stages.
Value constIndex(ImplicitLocOpBuilder &b, int64_t v);
Value cmpLt(ImplicitLocOpBuilder &b, Value x, Value y);
/// A loop body that returns nothing (scf.for without iter_args).
LogicalResult forEach(ElementalEmitter &em, Value lb, Value ub, Value step,
                      function_ref<LogicalResult(Value)> body);
/// `if (cond) body()` without results.
LogicalResult ifThen(ImplicitLocOpBuilder &b, Value cond,
                     function_ref<LogicalResult()> body);

} // namespace moe
} // namespace iolite
} // namespace mlir

#endif // IOLITE_LIB_CODEGEN_TEMPLATES_MOE_H
