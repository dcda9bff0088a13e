//===- KernelTemplate.h - Kernel families and their emitters ----*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// A kernel template turns one iolite.kernel into the body of one gpu.func.
// Templates are registered in a KernelTemplateRegistry; for each kernel the
// one with the highest match benefit wins (the "elemental" fallback matches
// every kernel with benefit 1). A template receives a KernelEmitContext with
// the gpu.func, the memrefs of every kernel input and output, the target
// description, a shared-memory plan and an element emitter, and records the
// launch shape it chose. docs/codegen.md says how to add a family.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_CODEGEN_KERNELTEMPLATE_H
#define IOLITE_CODEGEN_KERNELTEMPLATE_H

#include "iolite/Codegen/ElementalEmitter.h"
#include "iolite/Codegen/SharedMemoryPlanner.h"
#include "iolite/Codegen/SymbolicShapes.h"
#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "iolite/Target/TargetDescription.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/ADT/StringMap.h"
#include <array>
#include <memory>

namespace mlir {
namespace iolite {

/// Options that override the target's tunings (tests, experiments).
struct CodegenOverrides {
  /// {BM, BN, BK} for matmul kernels; empty = the target's tuning.
  SmallVector<int64_t, 3> matmulTile;
  /// Compile every kernel with the elemental fallback.
  bool forceElemental = false;
  /// {BM, BN} for attention kernels; empty = the target's tuning.
  SmallVector<int64_t, 2> attentionTile;
  /// KV partitions of split-KV attention: 0 = heuristic, 1 = never split.
  int64_t attentionSplits = 0;
  /// Let f32 products use TF32 matrix instructions (as PyTorch's
  /// allow_tf32); f32 stays exact on the FMA units otherwise.
  bool allowTf32 = false;
  /// Keep every tile product on the FMA units (tests, comparisons).
  bool noMatrixUnits = false;
};

/// What the kernel body looks like, computed once for template matching.
struct KernelAnalysis {
  KernelOp kernel;
  /// Ops of the body that are not cheap elementals, in order.
  SmallVector<Operation *> heavyOps;
  /// The single heavy op, if there is exactly one.
  Operation *hero = nullptr;
  /// True if every op using the hero's result (transitively) up to the
  /// yield is elementwise at the hero's shape and every yielded value has
  /// the hero's shape: then outputs can be written at the hero's indices.
  bool epilogueAtHeroIndex = false;

  static KernelAnalysis analyze(KernelOp kernel);
};

class KernelEmitContext {
public:
  /// `shapes` is set when the kernel belongs to a function with symbolic
  /// dims: `func` then takes one i64 per symbol after the outputs, and its
  /// dynamic buffers as flat memrefs sized for the bounds (see
  /// getBindings).
  KernelEmitContext(KernelOp kernel, gpu::GPUFuncOp func,
                    const TargetDescription &target,
                    const CodegenOverrides &overrides,
                    const SymbolicShapes *shapes = nullptr);
  ~KernelEmitContext();

  KernelOp getKernel() const { return kernel; }
  gpu::GPUFuncOp getFunc() const { return func; }
  const TargetDescription &getTarget() const { return target; }
  const CodegenOverrides &getOverrides() const { return overrides; }
  /// Builder at the end of the gpu.func body (before the return).
  ImplicitLocOpBuilder &getBuilder() { return builder; }
  /// Kernel block argument -> global memref. A tensor with dynamic dims is
  /// bound to a `memref<?x...>` view of its flat buffer whose sizes are the
  /// run-time extents.
  const DenseMap<Value, Value> &getBindings() const { return bindings; }
  /// Global memref of the i-th kernel result.
  Value getOutput(unsigned i) const { return outputs[i]; }
  unsigned getNumOutputs() const { return outputs.size(); }
  /// The yielded tensor values, in result order.
  ValueRange getYieldedValues();

  /// Sets the launch shape.
  void setLaunch(std::array<int64_t, 3> grid, std::array<int64_t, 3> block) {
    this->grid = grid;
    this->block = block;
    gridExtents = {GridExtent::constant(grid[0]), GridExtent::constant(grid[1]),
                   GridExtent::constant(grid[2])};
  }
  /// Sets a launch shape whose grid depends on the symbols; getGrid() is
  /// then the grid at the bounds.
  void setLaunch(std::array<GridExtent, 3> grid, std::array<int64_t, 3> block);
  std::array<int64_t, 3> getGrid() const { return grid; }
  std::array<GridExtent, 3> getGridExtents() const { return gridExtents; }

  //===--------------------------------------------------------------------===//
  // Run-time extents (functions with symbolic dims)
  //===--------------------------------------------------------------------===//

  /// True when some kernel operand, result or body value has a dynamic dim.
  bool hasDynamicExtents() const { return dynamicExtents; }
  /// The symbolic shapes of the function, or null for a static one.
  const SymbolicShapes *getSymbolicShapes() const { return shapes; }
  /// Dim `d` of `value` (a value of the kernel body) as a monomial of the
  /// symbols; a constant for a static dim.
  DimExpr getDimExpr(Value value, unsigned d) const;
  /// The extent of dim `d` of `value` as an index value: a constant for a
  /// static dim, else computed from the symbol parameters at the entry of
  /// the function (so it dominates every use).
  Value getExtent(Value value, unsigned d);
  /// An index value of `expr`, computed at the function's entry.
  Value getExtent(const DimExpr &expr);
  /// Lets `emitter` read run-time extents of dynamic values.
  void prepare(ElementalEmitter &emitter);
  std::array<int64_t, 3> getBlock() const { return block; }

  SharedMemoryPlan &getSharedMemoryPlan() { return smemPlan; }
  /// Places the plan and checks it against the target; emits a diagnostic
  /// naming the kernel, `tileDescription` and the limit when it does not fit.
  LogicalResult finalizeSharedMemory(StringRef tileDescription);
  /// A view of shared-memory buffer `id` as `type` (whose memory space is
  /// set to workgroup here), at extra byte offset `extraOffset`.
  Value getSharedView(unsigned id, MemRefType type, Value extraOffset = {});

  /// A short description of the chosen template and tile, for the manifest.
  std::string templateName, tileDescription;
  /// The matrix instruction the kernel's tile products use ("fma" for the
  /// scalar units, "none" without tile products) and why.
  std::string matrixKind = "none", matrixReason = "no tile product";

  // Thread and block coordinates (index-typed).
  Value threadId(gpu::Dimension d);
  Value blockId(gpu::Dimension d);

  /// Stores `computed` (in compute type) into output `i` at `index`.
  void storeOutput(unsigned i, Value computed, ValueRange index);
  /// Stores the run `computed` (see ElementalEmitter::emitRun) into output
  /// `i` at `index`: one aligned vector.store when the element type allows
  /// (buffers are aligned to the target's maxVectorBytes).
  void storeOutputRun(unsigned i, ArrayRef<Value> computed, ValueRange index,
                      ElementalEmitter &em);

  //===--------------------------------------------------------------------===//
  // Kernels of several launches (split-KV attention and its combine, ...)
  //===--------------------------------------------------------------------===//

  /// Adds a gpu.func `<kernel>_<suffix>` launched after this kernel's
  /// primary function and the auxiliary kernels added before it. It takes
  /// the same parameters (the kernel's inputs, its outputs, then the scratch
  /// buffer if any), so its bindings and outputs work like the primary's and
  /// an ElementalEmitter over it emits the same prologues and epilogues. The
  /// returned context has its own builder, launch shape and shared-memory
  /// plan; set its templateName and tileDescription too.
  KernelEmitContext &addAuxiliaryKernel(StringRef suffix);
  /// The auxiliary kernels, in launch order (of the primary context).
  ArrayRef<std::unique_ptr<KernelEmitContext>> getAuxiliaryKernels() const {
    return auxiliaries;
  }

  /// Reserves `bytes` of global scratch memory shared by every launch of
  /// this kernel (primary and auxiliaries) and returns its id. Scratch lives
  /// in the model workspace after the planned intermediates and is dead
  /// between kernels. All requests come before the first getScratchView.
  unsigned requestScratch(StringRef name, int64_t bytes);
  /// A view of scratch buffer `id` as `type` (global memory). The first call
  /// appends a `memref<Nxi8>` scratch parameter to every function of the
  /// kernel (and to auxiliaries added later).
  Value getScratchView(unsigned id, MemRefType type);
  /// Total scratch bytes of the kernel (0 when none was requested).
  int64_t getScratchBytes() const;

private:
  KernelEmitContext(KernelEmitContext &primary, gpu::GPUFuncOp func);
  void appendScratchArgument();

  KernelOp kernel;
  gpu::GPUFuncOp func;
  const TargetDescription &target;
  const CodegenOverrides &overrides;
  ImplicitLocOpBuilder builder;
  DenseMap<Value, Value> bindings;
  SmallVector<Value> outputs;
  std::array<int64_t, 3> grid{1, 1, 1}, block{1, 1, 1};
  std::array<GridExtent, 3> gridExtents{GridExtent::constant(1),
                                        GridExtent::constant(1),
                                        GridExtent::constant(1)};
  const SymbolicShapes *shapes = nullptr;
  bool dynamicExtents = false;
  /// The symbols' values (index), and the op after which entry code goes.
  SmallVector<Value> symbolValues;
  Operation *entryAnchor = nullptr;
  /// Extents computed at the entry, by their C spelling.
  llvm::StringMap<Value> extentCache;
  SharedMemoryPlan smemPlan;
  Value smemBase;
  /// The context of the kernel's first launch (this one for the primary).
  KernelEmitContext *primary;
  SmallVector<std::unique_ptr<KernelEmitContext>> auxiliaries;
  /// Scratch buffers (primary only): offsets into one scratch parameter.
  SmallVector<int64_t> scratchOffsets;
  int64_t scratchBytes = 0;
  bool scratchFinalized = false;
  /// This function's scratch parameter, once appended.
  Value scratchArg;
};

class KernelTemplate {
public:
  virtual ~KernelTemplate();
  virtual StringRef getName() const = 0;
  /// 0 if the template cannot emit this kernel; otherwise higher wins.
  virtual unsigned match(const KernelAnalysis &analysis,
                         const TargetDescription &target) const = 0;
  /// Emits the kernel body and sets the launch shape.
  virtual LogicalResult emit(const KernelAnalysis &analysis,
                             KernelEmitContext &ctx) const = 0;
  /// True when emit() handles run-time extents (KernelEmitContext::
  /// hasDynamicExtents) for this kernel. Templates that read static shapes
  /// keep the default, and codegen refuses a dynamic kernel they match.
  virtual bool supportsDynamicExtents(const KernelAnalysis &analysis) const {
    (void)analysis;
    return false;
  }
};

class KernelTemplateRegistry {
public:
  void add(std::unique_ptr<KernelTemplate> t) {
    templates.push_back(std::move(t));
  }
  /// The best template for the kernel, or nullptr.
  const KernelTemplate *select(const KernelAnalysis &analysis,
                               const TargetDescription &target,
                               bool forceElemental) const;

private:
  SmallVector<std::unique_ptr<KernelTemplate>> templates;
};

/// The registry with every built-in template (elemental fallback, row
/// reductions, matmul, attention). New families add themselves in
/// KernelTemplate.cpp.
const KernelTemplateRegistry &getKernelTemplateRegistry();

// Built-in templates (each in lib/Codegen/Templates/).
std::unique_ptr<KernelTemplate> createElementalTemplate();
std::unique_ptr<KernelTemplate> createRowReductionTemplate();
std::unique_ptr<KernelTemplate> createMatmulTemplate();
// State-space templates (docs/ssm-kernels.md).
std::unique_ptr<KernelTemplate> createSelectiveScanTemplate();
std::unique_ptr<KernelTemplate> createSsdTemplate();
std::unique_ptr<KernelTemplate> createConv1dTemplate();
std::unique_ptr<KernelTemplate> createLongConvTemplate();
/// Mixture-of-experts kernels (router, dispatch, grouped matmul, combine);
/// see docs/moe-kernels.md.
std::unique_ptr<KernelTemplate> createMoeTemplate();
std::unique_ptr<KernelTemplate> createAttentionTemplate();
/// Serving: a step's keys and values written into a KV cache in place
/// (docs/inference-ops.md).
std::unique_ptr<KernelTemplate> createKvCacheAppendTemplate();

/// Emits `acc[i][j] += a[i] * b[j]` for a thread's register tile: the one
/// place a tile's multiply-accumulate is generated (tensor cores map here).
SmallVector<Value> emitTileMultiplyAccumulate(ImplicitLocOpBuilder &b,
                                              ValueRange a, ValueRange bFrag,
                                              ValueRange acc);

/// One operand of a block-level tile product staged in shared memory.
/// Element (k, x) of the operand (k the reduction index) is
/// `tile[prefix..., k, x]` when `reductionMajor`, else `tile[prefix..., x,
/// k]`. The calling thread owns positions `x = threadOffset + n * stride`
/// for `n < count`.
struct SharedTileOperand {
  Value tile;
  SmallVector<Value, 1> prefix;
  bool reductionMajor = false;
  Value threadOffset;
  int64_t stride = 1;
  int64_t count = 1;
};

/// `acc[i * b.count + j] += sum_{k < extent} A(k, i) * B(k, j)` over the
/// thread's positions of two shared-memory operands (f32 accumulation;
/// elements are extended to f32 as they are read). The k loop and fragment
/// loads are emitted here and every step goes through
/// emitTileMultiplyAccumulate, so a tensor-core mapping replaces this one
/// function for every template that uses it.
SmallVector<Value> emitSharedTileMatmul(ImplicitLocOpBuilder &b,
                                        const SharedTileOperand &a,
                                        const SharedTileOperand &bOperand,
                                        int64_t extent, ValueRange acc);

/// Warp-wide all-reduce of an f32 with gpu.shuffle xor (width = warp size).
Value emitWarpAllReduce(ImplicitLocOpBuilder &b, Value value, unsigned warpSize,
                        function_ref<Value(Value, Value)> combine);

/// All-reduce of an f32 over each aligned group of `lanes` consecutive lanes
/// (a power of two dividing the warp size) with gpu.shuffle xor.
Value emitLaneGroupAllReduce(ImplicitLocOpBuilder &b, Value value,
                             unsigned lanes, unsigned warpSize,
                             function_ref<Value(Value, Value)> combine);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_CODEGEN_KERNELTEMPLATE_H
