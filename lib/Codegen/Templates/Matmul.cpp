//===- Matmul.cpp - Tiled matmuls with fused prologue and epilogue --------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Kernels rooted at one or more (batched) iolite.matmuls sharing their LHS,
// optionally after an rms_norm / layer_norm of that LHS (the fusion policy's
// "norm prologue" and "matmuls sharing the LHS": `rms_norm(x) @ W`, SwiGLU's
// silu(x @ Wg) * (x @ Wu), QKV projections).
//
// Each block computes a BMxBN tile of every matmul's output; the K dimension
// is walked in BK steps whose A tile (shared by all matmuls) and B tiles are
// staged in shared memory (double-buffered when the target's default shared
// memory has room: the next tiles load while the current ones are used, one
// barrier per step). Each thread keeps one TMxTN register tile of f32
// accumulators per matmul, carried through the loops' iter_args; their
// multiply-accumulate is emitted by emitTileMultiplyAccumulate alone. Global
// tile loads are runs of the operands' contiguous dim (vector loads where
// the sizes allow). Operands are read through the element emitter, so casts,
// transposes, broadcasts, rotary ... fuse into the tile loads, and outputs are
// written through it: bias, activation, residual and gating epilogues see
// every matmul's accumulator at the same output index.
//
// A norm prologue adds a pre-phase: the block's warps compute the f32 row
// statistics of its BM rows of x (one pass, warp shuffles) into shared
// memory, and the A tile is staged as x * rstd * w (layer norm: (x - mean) *
// rstd * w + b) instead of x.
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/KernelTemplate.h"
#include "iolite/Codegen/MatrixCodegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;

namespace {

ArrayRef<int64_t> shapeOf(Value v) {
  return cast<ShapedType>(v.getType()).getShape();
}

/// The most matmuls one kernel keeps accumulators for.
constexpr unsigned kMaxMatmuls = 8;
/// Split-K (decode-sized matmuls): the f32 partials may add at most this
/// share of the B operands' bytes, and each split gets at least this many
/// K tiles.
constexpr double kSplitKTrafficBudget = 0.05;
constexpr int64_t kMinTilesPerSplit = 4;
/// A problem of at most kSplitKMaxRows rows whose columns make fewer than
/// kSplitKMaxBlocks tiles of 128 (about the multiprocessors of a GPU:
/// 108-132 SMs, 104-304 CUs) and whose K is at least kSplitKMinK may split
/// K. Whether a kernel splits depends on the problem only, so every target
/// of one compile has the same kernels (the bundle launches one sequence);
/// how many splits (one included) depends on the chip and its tile.
constexpr int64_t kSplitKMaxRows = 16;
constexpr int64_t kSplitKMaxBlocks = 256;
constexpr int64_t kSplitKMinK = 512;

/// How a kernel of matmuls maps onto the template.
struct MatmulKernelPlan {
  /// The matmuls, sharing their LHS, in body order.
  SmallVector<MatmulOp> matmuls;
  /// The rms_norm or layer_norm whose result the shared LHS is computed
  /// from, or null.
  Operation *norm = nullptr;
  /// Per yielded value: one matmul whose output shape it has.
  SmallVector<unsigned> yieldMatmul;
  /// Per yielded value: the value computed at the matmul's index. A yield
  /// that reshapes it (a projection split into heads) is stored at the
  /// same row-major position of its own shape.
  SmallVector<Value> yieldSource;
};

/// Decides whether the kernel is matmuls sharing their LHS (after at most one
/// norm over the LHS rows) with pointwise epilogues at their output indices.
std::optional<MatmulKernelPlan> planMatmulKernel(const KernelAnalysis &a) {
  KernelOp kernel = a.kernel;
  MatmulKernelPlan plan;
  for (Operation *op : a.heavyOps) {
    if (auto mm = dyn_cast<MatmulOp>(op)) {
      if (!isa<FloatType>(mm.getType().getElementType()))
        return std::nullopt;
      plan.matmuls.push_back(mm);
      continue;
    }
    if (isa<RmsNormOp, LayerNormOp>(op) && !plan.norm && plan.matmuls.empty()) {
      plan.norm = op;
      continue;
    }
    return std::nullopt;
  }
  if (plan.matmuls.empty() || plan.matmuls.size() > kMaxMatmuls)
    return std::nullopt;
  MatmulOp first = plan.matmuls.front();
  Value lhs = first.getLhs();
  ArrayRef<int64_t> rows = shapeOf(first.getResult()).drop_back();
  for (MatmulOp mm : plan.matmuls)
    if (mm.getLhs() != lhs || mm.getTransposeLhs() != first.getTransposeLhs() ||
        shapeOf(mm.getResult()).drop_back() != rows)
      return std::nullopt;
  if (plan.norm) {
    // The norm must normalise the LHS rows over K.
    Value normOut = plan.norm->getResult(0);
    int64_t rank = shapeOf(normOut).size();
    if (first.getTransposeLhs() || shapeOf(normOut) != shapeOf(lhs))
      return std::nullopt;
    if (auto ln = dyn_cast<LayerNormOp>(plan.norm)) {
      int64_t axis = static_cast<int64_t>(ln.getAxis());
      if (axis < 0)
        axis += rank;
      if (axis != rank - 1)
        return std::nullopt;
    }
  }

  // Ops whose results never reach the yield are not emitted.
  Block &body = kernel.getBody().front();
  llvm::SmallPtrSet<Operation *, 32> live;
  SmallVector<Value> worklist(kernel.getYield().getValues());
  while (!worklist.empty()) {
    Operation *def = worklist.pop_back_val().getDefiningOp();
    if (def && live.insert(def).second)
      worklist.append(def->operand_begin(), def->operand_end());
  }
  for (Operation *op : a.heavyOps)
    if (!live.contains(op))
      return std::nullopt;

  // Values computed from the norm (the prologue) and from the matmuls (the
  // epilogue, with the set of matmuls each depends on).
  llvm::SmallPtrSet<Value, 16> prologue;
  DenseMap<Value, uint32_t> epilogue;
  if (plan.norm)
    prologue.insert(plan.norm->getResult(0));
  for (Operation &op : body.without_terminator()) {
    if (!live.contains(&op) || &op == plan.norm)
      continue;
    if (auto mm = dyn_cast<MatmulOp>(&op)) {
      if (epilogue.count(mm.getLhs()) || epilogue.count(mm.getRhs()) ||
          prologue.contains(mm.getRhs()))
        return std::nullopt;
      if (plan.norm && !prologue.contains(mm.getLhs()))
        return std::nullopt;
      unsigned i = llvm::find(plan.matmuls, mm) - plan.matmuls.begin();
      epilogue[mm.getResult()] = 1u << i;
      continue;
    }
    bool usesPrologue = llvm::any_of(
        op.getOperands(), [&](Value v) { return prologue.contains(v); });
    uint32_t mask = 0;
    for (Value v : op.getOperands())
      mask |= epilogue.lookup(v);
    if (!usesPrologue && !mask)
      continue;
    // A reshape of an epilogue value that only the yield reads: an output
    // stored in the value's row-major order.
    if (isa<ReshapeOp>(op) && mask &&
        llvm::all_of(op.getUsers(), [](auto *u) { return isa<YieldOp>(u); }))
      continue;
    if (!isPointwiseElementalOp(&op) || op.getNumResults() != 1)
      return std::nullopt;
    Value r = op.getResult(0);
    if (usesPrologue) {
      if (shapeOf(r) != shapeOf(lhs))
        return std::nullopt;
      prologue.insert(r);
    }
    if (mask) {
      for (Value v : op.getOperands())
        if (epilogue.count(v) && shapeOf(v) != shapeOf(r))
          return std::nullopt;
      for (auto [i, mm] : llvm::enumerate(plan.matmuls))
        if ((mask & (1u << i)) && shapeOf(mm.getResult()) != shapeOf(r))
          return std::nullopt;
      epilogue[r] = mask;
    }
  }
  for (Value y : kernel.getYield().getValues()) {
    Value source = y;
    if (auto reshape = y.getDefiningOp<ReshapeOp>();
        reshape && epilogue.count(reshape.getInput()))
      source = reshape.getInput();
    uint32_t mask = epilogue.lookup(source);
    if (!mask)
      return std::nullopt;
    plan.yieldMatmul.push_back(llvm::countr_zero(mask));
    plan.yieldSource.push_back(source);
  }
  return plan;
}

/// How a matmul kernel's block tile maps onto warps of matrix instructions.
struct MmaTiling {
  int64_t bm, bn, bk;
  int64_t warpsM, warpsN;
  /// Instruction tiles per warp along M and N, k-steps per BK.
  int64_t mTiles, nTiles, kSteps;
  int64_t stages;
  int64_t threads() const { return warpsM * warpsN * warpSize; }
  int64_t warpSize;
};

FailureOr<MmaTiling> planMmaTiling(MatmulOp op, const matrix::Instruction &inst,
                                   const TargetDescription &target,
                                   ArrayRef<int64_t> forcedTile, int64_t m,
                                   int64_t n, int64_t k, int64_t numMM) {
  const KernelTuning &tuning = *target.getTuning("matmul_mma");
  bool forced = !forcedTile.empty();
  ArrayRef<int64_t> tile = forced ? forcedTile : ArrayRef<int64_t>(tuning.tile);
  MmaTiling t;
  t.warpSize = target.warpSize;
  t.bm = tile[0];
  t.bn = tile[1];
  t.bk = tile[2];
  if (!forced) {
    // Small problems get small tiles, never below one instruction.
    t.bm = std::min<int64_t>(t.bm,
                             std::max<int64_t>(inst.m, llvm::PowerOf2Ceil(m)));
    t.bn = std::min<int64_t>(t.bn,
                             std::max<int64_t>(inst.n, llvm::PowerOf2Ceil(n)));
    t.bk =
        std::min<int64_t>(t.bk, std::max<int64_t>(std::max<int64_t>(inst.k, 16),
                                                  llvm::PowerOf2Ceil(k)));
  }
  if (t.bm % inst.m || t.bn % inst.n || t.bk % inst.k)
    return op.emitOpError()
           << "matmul tile " << t.bm << "x" << t.bn << "x" << t.bk
           << " is not a multiple of the " << inst.name << " instruction ("
           << inst.m << "x" << inst.n << "x" << inst.k << ")";
  int64_t warps = std::max<int64_t>(1, tuning.threads / target.warpSize);
  int64_t perTile = inst.c.elementsPerLane();
  for (;;) {
    auto [wm, wn] = splitWarpsOverTile(warps, t.bm, t.bn, inst.m, inst.n);
    t.warpsM = wm;
    t.warpsN = wn;
    t.mTiles = t.bm / wm / inst.m;
    t.nTiles = t.bn / wn / inst.n;
    if (forced || numMM * t.mTiles * t.nTiles * perTile <=
                      target.matrixAccumulatorsPerThread)
      break;
    // Too many accumulators: halve the larger side of the warp tile.
    if (t.bn / wn > inst.n && (t.bn >= t.bm || t.bm / wm <= inst.m))
      t.bn /= 2;
    else if (t.bm / wm > inst.m)
      t.bm /= 2;
    else
      break;
  }
  t.kSteps = t.bk / inst.k;
  int64_t stageBytes = (t.bm + numMM * t.bn) * t.bk * inst.inputBytes();
  t.stages =
      tuning.stages > 1 && stageBytes * tuning.stages <=
                               static_cast<int64_t>(target.sharedMemoryPerBlock)
          ? tuning.stages
          : 1;
  return t;
}

class MatmulTemplate : public KernelTemplate {
public:
  StringRef getName() const override { return "matmul"; }

  unsigned match(const KernelAnalysis &analysis,
                 const TargetDescription &target) const override {
    if (!target.getTuning("matmul"))
      return 0;
    return planMatmulKernel(analysis) ? 30 : 0;
  }

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override;

  /// Run-time extents: the rows (M) and batch dims may be symbolic (tokens,
  /// batch); K, every N and the B operands must be static, and A not
  /// transposed.
  bool supportsDynamicExtents(const KernelAnalysis &analysis) const override {
    MatmulKernelPlan plan = *planMatmulKernel(analysis);
    MatmulOp first = plan.matmuls.front();
    if (first.getTransposeLhs())
      return false;
    auto lhs = cast<ShapedType>(first.getLhs().getType());
    if (lhs.isDynamicDim(lhs.getRank() - 1))
      return false;
    for (MatmulOp mm : plan.matmuls) {
      if (!cast<ShapedType>(mm.getRhs().getType()).hasStaticShape())
        return false;
      auto out = cast<ShapedType>(mm.getType());
      if (out.isDynamicDim(out.getRank() - 1))
        return false;
    }
    return true;
  }
};

LogicalResult MatmulTemplate::emit(const KernelAnalysis &analysis,
                                   KernelEmitContext &ctx) const {
  MatmulKernelPlan plan = *planMatmulKernel(analysis);
  MatmulOp first = plan.matmuls.front();
  int64_t numMM = plan.matmuls.size();
  ArrayRef<int64_t> out = shapeOf(first.getResult());
  int64_t rank = out.size();
  Value lhs = first.getLhs();
  ArrayRef<int64_t> lhsShape = shapeOf(lhs);
  bool transA = first.getTransposeLhs();
  int64_t m = out[rank - 2];
  int64_t k = transA ? lhsShape[lhsShape.size() - 2] : lhsShape.back();
  SmallVector<int64_t> ns;
  for (MatmulOp mm : plan.matmuls)
    ns.push_back(shapeOf(mm.getResult()).back());
  int64_t nMax = *llvm::max_element(ns);
  ArrayRef<int64_t> batchShape = out.drop_back(2);
  // With run-time extents, tiles are chosen for M at the bounds, and the
  // grid, row guards and batch index follow the call's M and batch.
  bool dynamic = ctx.hasDynamicExtents();
  DimExpr mExpr = ctx.getDimExpr(first.getResult(), rank - 2);
  DimExpr batchExpr = DimExpr::constant(1);
  for (int64_t d = 0; d < rank - 2; ++d)
    batchExpr = batchExpr * ctx.getDimExpr(first.getResult(), d);
  if (dynamic)
    m = ctx.getSymbolicShapes()
            ->getBoundType(first.getResult())
            .getDimSize(rank - 2);
  int64_t batch = 1;
  for (int64_t d : batchShape)
    batch *= ShapedType::isDynamic(d) ? 1 : d;

  const TargetDescription &target = ctx.getTarget();
  const CodegenOverrides &overrides = ctx.getOverrides();
  bool forced = !overrides.matmulTile.empty();

  // The matrix instruction: every matmul must multiply the same types.
  Type lhsElement = cast<ShapedType>(lhs.getType()).getElementType();
  Type rhsElement = cast<ShapedType>(first.getRhs().getType()).getElementType();
  MatrixChoice choice;
  if (overrides.noMatrixUnits) {
    choice.reason = "matrix units turned off for this compile";
  } else if (llvm::any_of(plan.matmuls, [&](MatmulOp mm) {
               return cast<ShapedType>(mm.getRhs().getType())
                          .getElementType() != rhsElement;
             })) {
    choice.reason = "the matmuls sharing A have B operands of different "
                    "types";
  } else {
    const KernelTuning *mmaTuning = target.getTuning("matmul_mma");
    choice = chooseMatrixInstruction(target, lhsElement, rhsElement,
                                     overrides.allowTf32);
    if (choice.inst && !mmaTuning) {
      choice.inst = nullptr;
      choice.reason = target.chip + " has no matrix matmul tuning";
    }
  }
  const matrix::Instruction *inst = choice.inst;
  ctx.matrixKind = choice.kindName();
  ctx.matrixReason = choice.reason;

  int64_t threads, bm, bn, bk, stages, tm = 0, tn = 0;
  int64_t tx = 16, ty = 1;
  MmaTiling mt{};
  if (inst) {
    FailureOr<MmaTiling> planned = planMmaTiling(
        first, *inst, target, overrides.matmulTile, m, nMax, k, numMM);
    if (failed(planned))
      return failure();
    mt = *planned;
    threads = mt.threads();
    bm = mt.bm;
    bn = mt.bn;
    bk = mt.bk;
    stages = mt.stages;
  } else {
    // Tile: the target's, shrunk for small problems and until every live
    // accumulator set fits the target's register budget.
    const KernelTuning &tuning = *target.getTuning("matmul");
    ArrayRef<int64_t> tile = forced ? ArrayRef<int64_t>(overrides.matmulTile)
                                    : ArrayRef<int64_t>(tuning.tile);
    threads = tuning.threads;
    ty = threads / tx;
    bm = tile[0];
    bn = tile[1];
    bk = tile[2];
    if (!forced) {
      bm = std::min(bm, std::max(ty, (int64_t)llvm::PowerOf2Ceil(m)));
      bn = std::min(bn, std::max(tx, (int64_t)llvm::PowerOf2Ceil(nMax)));
      auto accumulators = [&] { return numMM * (bm / ty) * (bn / tx); };
      while (accumulators() > target.accumulatorsPerThread) {
        if (bm >= bn && bm / 2 >= ty)
          bm /= 2;
        else if (bn / 2 >= tx)
          bn /= 2;
        else
          break;
      }
    }
    if (bm % ty || bn % tx || bk <= 0)
      return first.emitOpError()
             << "matmul tile " << bm << "x" << bn << "x" << bk
             << " does not divide among " << ty << "x" << tx << " threads";
    tm = bm / ty;
    tn = bn / tx;
    // The A tile and one B tile per matmul (f32), double-buffered if the
    // target's default per-block shared memory has room.
    int64_t stageBytes = (bm + numMM * bn) * bk * 4;
    stages = tuning.stages > 1 &&
                     stageBytes * tuning.stages <=
                         static_cast<int64_t>(target.sharedMemoryPerBlock)
                 ? tuning.stages
                 : 1;
  }

  // Shared memory: the A tile and one B tile per matmul; the norm's row
  // statistics live for the whole kernel. Matrix tiles hold the input
  // precision as the tile's rows (its global layout: A [m][k] or, for a
  // transposed A, [k][m]; B [k][n] or [n][k]), swizzled for the fragment
  // loads; FMA tiles are f32 [k][m] / [k][n].
  SharedMemoryPlan &smem = ctx.getSharedMemoryPlan();
  unsigned aBuf;
  SmallVector<unsigned> bBufs;
  auto bName = [&](int64_t i) {
    return numMM == 1 ? std::string("B") : "B" + std::to_string(i);
  };
  if (inst) {
    int64_t e = inst->inputBytes();
    aBuf =
        transA
            ? smem.addTile("A", stages, bk, bm, e,
                           fragmentReadBytes(*inst, matrix::Operand::A, true),
                           0, 1)
            : smem.addTile("A", stages, bm, bk, e,
                           fragmentReadBytes(*inst, matrix::Operand::A, false),
                           0, 1);
    for (int64_t i = 0; i < numMM; ++i) {
      bool t = plan.matmuls[i].getTransposeRhs();
      int64_t read = fragmentReadBytes(*inst, matrix::Operand::B, t);
      bBufs.push_back(
          t ? smem.addTile(bName(i), stages, bn, bk, e, read, 0, 1)
            : smem.addTile(bName(i), stages, bk, bn, e, read, 0, 1));
    }
  } else {
    aBuf = smem.addBuffer("A", stages * bk * bm * 4, 0, 1);
    for (int64_t i = 0; i < numMM; ++i)
      bBufs.push_back(smem.addBuffer(bName(i), stages * bk * bn * 4, 0, 1));
  }
  unsigned statsBuf = 0;
  if (plan.norm)
    statsBuf = smem.addBuffer("row_stats", 2 * bm * 4, 0, 1);
  std::string tileDesc = "matmul tile " + std::to_string(bm) + "x" +
                         std::to_string(bn) + "x" + std::to_string(bk) + ", " +
                         std::to_string(stages) + " stage(s)";
  if (inst)
    tileDesc += ", " + std::to_string(mt.warpsM) + "x" +
                std::to_string(mt.warpsN) + " warps of " +
                std::to_string(mt.mTiles) + "x" + std::to_string(mt.nTiles) +
                " " + inst->name;
  if (numMM > 1)
    tileDesc += ", " + std::to_string(numMM) + " matmuls sharing A";
  if (plan.norm)
    tileDesc += ", " + plan.norm->getName().stripDialect().str() + " prologue";
  // Split-K: a problem of few rows (a decode step's projections) whose
  // grid cannot fill the chip splits its K tiles over more blocks, which
  // write f32 partials that a second kernel sums before the epilogue. Each
  // split adds 8 * M bytes per column (written and read) against the K * es
  // bytes of B it spreads out, so the split count is also bounded by
  // kSplitKTrafficBudget of B's traffic.
  int64_t numK = (int64_t)llvm::divideCeil(k, bk);
  int64_t splits = 1;
  bool splitK = false;
  if (!dynamic && !forced) {
    int64_t es = std::max<unsigned>(1, rhsElement.getIntOrFloatBitWidth() / 8);
    int64_t byTraffic = static_cast<int64_t>(
        kSplitKTrafficBudget * static_cast<double>(k * es) / (8.0 * m));
    splitK = m <= kSplitKMaxRows &&
             batch * (int64_t)llvm::divideCeil(nMax, 128) < kSplitKMaxBlocks &&
             k >= kSplitKMinK && byTraffic >= 2;
    if (splitK) {
      int64_t blocks = (int64_t)llvm::divideCeil(nMax, bn) *
                       (int64_t)llvm::divideCeil(m, bm) * batch;
      int64_t byChip =
          (int64_t)llvm::divideCeil(target.multiprocessors, blocks);
      splits =
          std::max<int64_t>(1, std::min({byTraffic, numK / kMinTilesPerSplit,
                                         byChip, 65535 / batch}));
    }
  }
  // Every split gets at least one K tile (its first tile is loaded before
  // the loop tests its range).
  int64_t perSplit = (int64_t)llvm::divideCeil(numK, splits);
  splits = (int64_t)llvm::divideCeil(numK, perSplit);
  if (splitK)
    tileDesc += ", split-K " + std::to_string(splits);
  if (failed(ctx.finalizeSharedMemory(tileDesc)))
    return failure();
  ctx.templateName = "matmul";
  ctx.tileDescription = tileDesc;
  if (dynamic)
    ctx.setLaunch({GridExtent::constant(llvm::divideCeil(nMax, bn)),
                   GridExtent{mExpr, bm}, GridExtent{batchExpr, 1}},
                  {threads, 1, 1});
  else
    ctx.setLaunch({(int64_t)llvm::divideCeil(nMax, bn),
                   (int64_t)llvm::divideCeil(m, bm), batch * splits},
                  {threads, 1, 1});
  // The partials, [splits][matmuls][batch][M][max N] f32.
  int64_t partialElems = splits * numMM * batch * m * nMax;
  unsigned partialsId = 0;
  if (splitK)
    partialsId = ctx.requestScratch("split-K partials", partialElems * 4);

  ImplicitLocOpBuilder &b = ctx.getBuilder();
  ElementalEmitter em(b, ctx.getBindings());
  em.setBufferAlignment(target.maxVectorBytes);
  ctx.prepare(em);
  // The call's M (a constant for static shapes).
  Value mValue = dynamic ? ctx.getExtent(first.getResult(), rank - 2) : Value();
  SmallVector<Value> batchExtents = em.getExtents(first.getResult());
  batchExtents.resize(rank - 2);
  auto c = [&](int64_t v) { return em.constIndex(v); };
  auto f = [&](double v) -> Value {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  };
  Type f32 = b.getF32Type();
  Value zero = f(0.0);
  Value tid = ctx.threadId(gpu::Dimension::x);
  Value tCol = arith::RemUIOp::create(b, tid, c(tx));
  Value tRow = arith::DivUIOp::create(b, tid, c(tx));
  Value m0 = arith::MulIOp::create(b, ctx.blockId(gpu::Dimension::y), c(bm));
  Value n0 = arith::MulIOp::create(b, ctx.blockId(gpu::Dimension::x), c(bn));
  // Grid z: the batch, and within it the K split.
  Value zId = ctx.blockId(gpu::Dimension::z);
  Value splitId, batchLinear = zId;
  if (splitK) {
    splitId = arith::RemUIOp::create(b, zId, c(splits));
    batchLinear = arith::DivUIOp::create(b, zId, c(splits));
  }
  SmallVector<Value> batchIdx =
      em.delinearize(batchLinear, ValueRange(batchExtents));
  if (batchShape.empty())
    batchIdx.clear();
  SmallVector<Value> lhsBatch =
      em.broadcastIndex(batchIdx, lhsShape.drop_back(2));

  Value aTile;
  SmallVector<Value> bTiles;
  igpu::SwizzleAttr aSwizzle;
  SmallVector<igpu::SwizzleAttr> bSwizzles;
  if (inst) {
    Type input = igpu::getInputElementType(b.getContext(), *inst);
    aTile = ctx.getSharedView(
        aBuf, MemRefType::get(transA ? ArrayRef<int64_t>{stages * bk, bm}
                                     : ArrayRef<int64_t>{stages * bm, bk},
                              input));
    aSwizzle = getSwizzleAttr(b.getContext(), smem.getSwizzle(aBuf));
    for (auto [i, id] : llvm::enumerate(bBufs)) {
      bool t = plan.matmuls[i].getTransposeRhs();
      bTiles.push_back(ctx.getSharedView(
          id, MemRefType::get(t ? ArrayRef<int64_t>{stages * bn, bk}
                                : ArrayRef<int64_t>{stages * bk, bn},
                              input)));
      bSwizzles.push_back(getSwizzleAttr(b.getContext(), smem.getSwizzle(id)));
    }
  } else {
    aTile = ctx.getSharedView(aBuf, MemRefType::get({stages, bk, bm}, f32));
    for (unsigned id : bBufs)
      bTiles.push_back(
          ctx.getSharedView(id, MemRefType::get({stages, bk, bn}, f32)));
  }

  auto lt = [&](Value x, int64_t bound) -> Value {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, c(bound));
  };
  // x < M: the run-time M with symbolic dims.
  auto ltM = [&](Value x) -> Value {
    return mValue ? (Value)arith::CmpIOp::create(b, arith::CmpIPredicate::ult,
                                                 x, mValue)
                  : lt(x, m);
  };
  auto andOpt = [&](Value x, Value y) -> Value {
    if (!x)
      return y;
    if (!y)
      return x;
    return arith::AndIOp::create(b, x, y);
  };
  auto add = [&](Value x, Value y) -> Value {
    return arith::AddFOp::create(b, x, y);
  };
  auto mul = [&](Value x, Value y) -> Value {
    return arith::MulFOp::create(b, x, y);
  };

  // Norm prologue: row statistics of the block's rows, then the normalised
  // value as the source of the norm's result.
  if (plan.norm) {
    Value normOut = plan.norm->getResult(0);
    Value normIn = plan.norm->getOperand(0);
    auto ln = dyn_cast<LayerNormOp>(plan.norm);
    auto rms = dyn_cast<RmsNormOp>(plan.norm);
    double eps = ln ? ln.getEpsilon().convertToDouble()
                    : rms.getEpsilon().convertToDouble();
    Value weight = ln ? ln.getWeight() : rms.getWeight();
    Value bias = ln ? ln.getBias() : Value();
    Value stats = ctx.getSharedView(statsBuf, MemRefType::get({2, bm}, f32));
    unsigned warp = target.warpSize;
    int64_t numWarps = std::max<int64_t>(1, threads / warp);
    int64_t vw = largestDividingWidth(
        target.maxVectorBytes / getWidestElementBytes(normIn), {k});
    Value warpId = arith::DivUIOp::create(b, tid, c(warp));
    Value lane = arith::RemUIOp::create(b, tid, c(warp));
    FailureOr<SmallVector<Value>> done = em.forLoop(
        warpId, c(bm), c(numWarps), {},
        [&](Value r, ValueRange) -> FailureOr<SmallVector<Value>> {
          Value gm = arith::AddIOp::create(b, m0, r);
          // Rows past M are never read; the branch is uniform per warp.
          OpBuilder::InsertionGuard g(b);
          if (dynamic || m % bm != 0) {
            auto ifOp = scf::IfOp::create(b, ltM(gm), false);
            b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
          }
          auto rowIndex = [&](Value col) {
            SmallVector<Value> idx = lhsBatch;
            idx.append({gm, col});
            return idx;
          };
          // Layer norm sums x - x[0] (shifted data: one pass without the
          // cancellation of E[x^2] - E[x]^2 on rows with a large mean).
          Value shift = zero;
          if (ln) {
            FailureOr<Value> x0 = em.emit(normIn, rowIndex(c(0)));
            if (failed(x0))
              return failure();
            shift = *x0;
          }
          FailureOr<SmallVector<Value>> sums = em.forLoop(
              arith::MulIOp::create(b, lane, c(vw)), c(k), c(warp * vw),
              {zero, zero},
              [&](Value col, ValueRange it) -> FailureOr<SmallVector<Value>> {
                FailureOr<SmallVector<Value>> xs =
                    em.emitRun(normIn, rowIndex(col), vw);
                if (failed(xs))
                  return failure();
                Value s1 = it[0], s2 = it[1];
                for (Value x : *xs) {
                  Value d = ln ? (Value)arith::SubFOp::create(b, x, shift) : x;
                  if (ln)
                    s1 = add(s1, d);
                  s2 = math::FmaOp::create(b, d, d, s2);
                }
                return SmallVector<Value>{s1, s2};
              });
          if (failed(sums))
            return failure();
          Value s2 = emitWarpAllReduce(b, (*sums)[1], warp, add);
          Value invK = f(1.0 / static_cast<double>(k));
          Value mean = zero, var = mul(s2, invK);
          if (ln) {
            Value s1 = emitWarpAllReduce(b, (*sums)[0], warp, add);
            Value dm = mul(s1, invK);
            var = arith::MaximumFOp::create(
                b, arith::SubFOp::create(b, var, mul(dm, dm)), zero);
            mean = add(shift, dm);
          }
          Value rstd = math::RsqrtOp::create(b, add(var, f(eps)));
          Value isLane0 =
              arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, c(0));
          auto lane0 = scf::IfOp::create(b, isLane0, false);
          b.setInsertionPoint(lane0.thenBlock()->getTerminator());
          memref::StoreOp::create(b, mean, stats, ValueRange{c(0), r});
          memref::StoreOp::create(b, rstd, stats, ValueRange{c(1), r});
          return SmallVector<Value>{};
        });
    if (failed(done))
      return failure();
    gpu::BarrierOp::create(b);

    unsigned last = lhsShape.size() - 1;
    // y = (x - mean) * rstd * w + b for the elements of one row.
    auto normalize = [&em, stats, m0, weight, bias, last,
                      ln](ImplicitLocOpBuilder &bb, ValueRange idx,
                          ArrayRef<Value> xs,
                          unsigned width) -> FailureOr<SmallVector<Value>> {
      Value r = arith::SubIOp::create(bb, idx[last - 1], m0);
      Value c0 = arith::ConstantIndexOp::create(bb, 0);
      Value c1 = arith::ConstantIndexOp::create(bb, 1);
      Value rstd = memref::LoadOp::create(bb, stats, ValueRange{c1, r});
      Value mean =
          ln ? (Value)memref::LoadOp::create(bb, stats, ValueRange{c0, r})
             : Value();
      SmallVector<Value> ws, bs;
      if (weight) {
        FailureOr<SmallVector<Value>> w =
            em.emitRun(weight, {idx[last]}, width);
        if (failed(w))
          return failure();
        ws = *w;
      }
      if (bias) {
        FailureOr<SmallVector<Value>> bv = em.emitRun(bias, {idx[last]}, width);
        if (failed(bv))
          return failure();
        bs = *bv;
      }
      SmallVector<Value> ys;
      for (unsigned i = 0; i < width; ++i) {
        Value y = xs[i];
        if (mean)
          y = arith::SubFOp::create(bb, y, mean);
        y = arith::MulFOp::create(bb, y, rstd);
        if (weight)
          y = arith::MulFOp::create(bb, y, ws[i]);
        if (bias)
          y = arith::AddFOp::create(bb, y, bs[i]);
        ys.push_back(y);
      }
      return ys;
    };
    em.setSource(normOut,
                 [&em, normIn, normalize](ImplicitLocOpBuilder &bb,
                                          ValueRange idx) -> FailureOr<Value> {
                   FailureOr<Value> x = em.emit(normIn, idx);
                   if (failed(x))
                     return failure();
                   FailureOr<SmallVector<Value>> y =
                       normalize(bb, idx, {*x}, 1);
                   if (failed(y))
                     return failure();
                   return (*y)[0];
                 });
    em.setRunSource(normOut,
                    [&em, normIn, normalize](
                        ImplicitLocOpBuilder &bb, ValueRange idx,
                        unsigned width) -> FailureOr<SmallVector<Value>> {
                      FailureOr<SmallVector<Value>> xs =
                          em.emitRun(normIn, idx, width);
                      if (failed(xs))
                        return failure();
                      return normalize(bb, idx, *xs, width);
                    });
  }

  // What the grid's tiles cover of M, N (the widest matmul's) and K.
  int64_t mCover = ctx.getGrid()[1] * bm, nCover = ctx.getGrid()[0] * bn;
  int64_t kCover = (int64_t)llvm::divideCeil(k, bk) * bk;

  // cp.async (NVIDIA): an operand that is a kernel argument in the
  // instruction's input type moves from global to shared memory without
  // passing through registers, so the next K tile's copies overlap the
  // current tile's products. Each thread copies whole runs of 4, 8 or 16
  // bytes (aligned: the run width divides the row length), the same number
  // per thread (the loop is unrolled: the copies' tokens form one group);
  // runs past the operand's edge read 0 bytes and zero-fill. Returns the
  // run width, or 0 when the operand is staged through registers.
  auto asyncRunWidth = [&](Value operand, int64_t rExt, int64_t cBound,
                           int64_t cExt, int64_t maxWidth) -> int64_t {
    if (!inst || stages < 2)
      return 0;
    return getAsyncCopyRunWidth(target, *inst,
                                ctx.getBindings().lookup(operand), maxWidth,
                                {cBound, cExt}, rExt, cExt, threads);
  };

  // Cooperative staging of one operand tile. The operand's last two dims
  // are (rows, cols) with cols contiguous in memory; the tile covers
  // [r0, r0 + rExt) x [c0, c0 + cExt) and is read in runs of `width` along
  // cols (vector loads), each run entirely in or out of bounds.
  // `store(r, c, values)` writes the run into shared memory.
  // With `asyncTile` (and a nonzero asyncRunWidth) the runs are cp.async
  // copies to (asyncRow0 + r, c) of that tile instead, their tokens
  // appended to `tokens`.
  struct AsyncDestination {
    Value tile;
    igpu::SwizzleAttr swizzle;
    Value row0;
    SmallVectorImpl<Value> *tokens;
  };
  auto stageTile = [&](Value operand, ArrayRef<Value> batchIndex, Value r0,
                       int64_t rExt, int64_t rBound, int64_t rCover, Value c0,
                       int64_t cExt, int64_t cBound, int64_t cCover,
                       int64_t maxWidth,
                       function_ref<void(Value, Value, ArrayRef<Value>)> store,
                       const AsyncDestination *async,
                       bool rowsAreM = false) -> LogicalResult {
    // Rows of A are M, a run-time extent with symbolic dims.
    bool rDynamic = rowsAreM && mValue;
    auto ltRow = [&](Value gr) { return rDynamic ? ltM(gr) : lt(gr, rBound); };
    bool rRaggedAsync = rDynamic || rCover > rBound,
         cRaggedAsync = cCover > cBound;
    if (int64_t width =
            async ? asyncRunWidth(operand, rExt, cBound, cExt, maxWidth) : 0) {
      Value buffer = ctx.getBindings().lookup(operand);
      int64_t runsPerRow = cExt / width;
      int64_t perThread = rExt * runsPerRow / threads;
      for (int64_t i = 0; i < perThread; ++i) {
        Value e = arith::AddIOp::create(b, tid, c(i * threads));
        Value r = arith::DivUIOp::create(b, e, c(runsPerRow));
        Value cc = arith::MulIOp::create(
            b, arith::RemUIOp::create(b, e, c(runsPerRow)), c(width));
        Value gr = arith::AddIOp::create(b, r0, r);
        Value gc = arith::AddIOp::create(b, c0, cc);
        Value ok = andOpt(rRaggedAsync ? ltRow(gr) : Value(),
                          cRaggedAsync ? lt(gc, cBound) : Value());
        SmallVector<Value> src(batchIndex.begin(), batchIndex.end());
        src.append({gr, gc});
        async->tokens->push_back(
            emitAsyncCopyRun(b, *inst, async->tile, async->swizzle,
                             arith::AddIOp::create(b, async->row0, r), cc,
                             buffer, src, width, ok));
      }
      return success();
    }
    int64_t width = largestDividingWidth(
        std::min<int64_t>(maxWidth, target.maxVectorBytes /
                                        getWidestElementBytes(operand)),
        {cBound, cExt});
    int64_t runsPerRow = cExt / width;
    // Guards where the tiles cover more than the operand (ragged dims, and
    // columns past a narrower matmul's N).
    bool rRagged = rDynamic || rCover > rBound, cRagged = cCover > cBound;
    FailureOr<SmallVector<Value>> loop = em.forLoop(
        tid, c(rExt * runsPerRow), c(threads), {},
        [&](Value e, ValueRange) -> FailureOr<SmallVector<Value>> {
          Value r = arith::DivUIOp::create(b, e, c(runsPerRow));
          Value cc = arith::MulIOp::create(
              b, arith::RemUIOp::create(b, e, c(runsPerRow)), c(width));
          Value gr = arith::AddIOp::create(b, r0, r);
          Value gc = arith::AddIOp::create(b, c0, cc);
          Value ok = andOpt(rRagged ? ltRow(gr) : Value(),
                            cRagged ? lt(gc, cBound) : Value());
          SmallVector<Value> idx(batchIndex.begin(), batchIndex.end());
          idx.append({gr, gc});
          auto load = [&]() { return em.emitRun(operand, idx, width); };
          FailureOr<SmallVector<Value>> values =
              ok ? em.ifThenElse(ok, SmallVector<Type>(width, f32), load,
                                 [&]() -> FailureOr<SmallVector<Value>> {
                                   return SmallVector<Value>(width, zero);
                                 })
                 : load();
          if (failed(values))
            return failure();
          store(r, cc, *values);
          return SmallVector<Value>{};
        });
    return failure(failed(loop));
  };

  // Loads K tile `kt` of A and every B into stage `stage`; with `tokens`,
  // the operands that can move with cp.async do, their copies' tokens
  // appended.
  auto loadTiles = [&](Value kt, Value stage,
                       SmallVectorImpl<Value> *tokens) -> LogicalResult {
    Value k0 = arith::MulIOp::create(b, kt, c(bk));
    // FMA tiles: f32 [stage][k][m|n], element by element.
    auto storeRun = [&](Value tileBuf, bool rowIsK) {
      return [&, tileBuf, rowIsK](Value r, Value cc, ArrayRef<Value> vals) {
        for (auto [i, v] : llvm::enumerate(vals)) {
          Value col = arith::AddIOp::create(b, cc, c(i));
          SmallVector<Value, 3> at{stage, col, r};
          if (rowIsK)
            at = {stage, r, col};
          memref::StoreOp::create(b, v, tileBuf, at);
        }
      };
    };
    // Matrix tiles: the operand's rows as they are, in the input precision,
    // one vector store per run (inside one swizzle chunk).
    auto storeMatrixRun = [&](Value tileBuf, igpu::SwizzleAttr swizzle,
                              int64_t rows) {
      return
          [&, tileBuf, swizzle, rows](Value r, Value cc, ArrayRef<Value> vals) {
            Value row = arith::AddIOp::create(
                b, arith::MulIOp::create(b, stage, c(rows)), r);
            emitStoreTileRun(b, *inst, tileBuf, swizzle, row, cc, vals);
          };
    };
    auto maxRun = [&](igpu::SwizzleAttr swizzle) -> int64_t {
      int64_t limit = 16 / inst->inputBytes();
      return swizzle ? std::min<int64_t>(limit, swizzle.getVec()) : limit;
    };
    auto asyncTo = [&](Value tileBuf, igpu::SwizzleAttr swizzle,
                       int64_t rows) -> std::optional<AsyncDestination> {
      if (!tokens)
        return std::nullopt;
      return AsyncDestination{tileBuf, swizzle,
                              arith::MulIOp::create(b, stage, c(rows)), tokens};
    };
    auto ptr = [](std::optional<AsyncDestination> &d) {
      return d ? &*d : nullptr;
    };
    // A is [M, K] (rows m) or, transposed, [K, M] (rows k).
    LogicalResult la = failure();
    if (inst) {
      std::optional<AsyncDestination> dest =
          asyncTo(aTile, aSwizzle, transA ? bk : bm);
      la = transA ? stageTile(lhs, lhsBatch, k0, bk, k, kCover, m0, bm, m,
                              mCover, maxRun(aSwizzle),
                              storeMatrixRun(aTile, aSwizzle, bk), ptr(dest))
                  : stageTile(lhs, lhsBatch, m0, bm, m, mCover, k0, bk, k,
                              kCover, maxRun(aSwizzle),
                              storeMatrixRun(aTile, aSwizzle, bm), ptr(dest),
                              /*rowsAreM=*/true);
    } else {
      la = transA
               ? stageTile(lhs, lhsBatch, k0, bk, k, kCover, m0, bm, m, mCover,
                           INT64_MAX, storeRun(aTile, /*rowIsK=*/true), nullptr)
               : stageTile(lhs, lhsBatch, m0, bm, m, mCover, k0, bk, k, kCover,
                           INT64_MAX, storeRun(aTile, /*rowIsK=*/false),
                           nullptr, /*rowsAreM=*/true);
    }
    if (failed(la))
      return failure();
    for (auto [i, mm] : llvm::enumerate(plan.matmuls)) {
      SmallVector<Value> rhsBatch =
          em.broadcastIndex(batchIdx, shapeOf(mm.getRhs()).drop_back(2));
      // B is [K, N] (rows k) or, transposed, [N, K] (rows n).
      LogicalResult lb = failure();
      if (inst) {
        std::optional<AsyncDestination> dest =
            asyncTo(bTiles[i], bSwizzles[i], mm.getTransposeRhs() ? bn : bk);
        lb = mm.getTransposeRhs()
                 ? stageTile(mm.getRhs(), rhsBatch, n0, bn, ns[i], nCover, k0,
                             bk, k, kCover, maxRun(bSwizzles[i]),
                             storeMatrixRun(bTiles[i], bSwizzles[i], bn),
                             ptr(dest))
                 : stageTile(mm.getRhs(), rhsBatch, k0, bk, k, kCover, n0, bn,
                             ns[i], nCover, maxRun(bSwizzles[i]),
                             storeMatrixRun(bTiles[i], bSwizzles[i], bk),
                             ptr(dest));
      } else {
        lb = mm.getTransposeRhs()
                 ? stageTile(mm.getRhs(), rhsBatch, n0, bn, ns[i], nCover, k0,
                             bk, k, kCover, INT64_MAX,
                             storeRun(bTiles[i], /*rowIsK=*/false), nullptr)
                 : stageTile(mm.getRhs(), rhsBatch, k0, bk, k, kCover, n0, bn,
                             ns[i], nCover, INT64_MAX,
                             storeRun(bTiles[i], /*rowIsK=*/true), nullptr);
      }
      if (failed(lb))
        return failure();
    }
    return success();
  };

  // The register-tile update of every matmul over one staged K tile; the A
  // fragment is read once for all of them. With a matrix instruction each
  // warp owns a (mTiles x inst.m) x (nTiles x inst.n) warp tile and keeps
  // one accumulator fragment per instruction tile and matmul.
  int64_t accPerMM = inst ? mt.mTiles * mt.nTiles : tm * tn;
  Value warpM, warpN;
  if (inst) {
    Value warp = arith::DivUIOp::create(b, tid, c(target.warpSize));
    warpM = arith::DivUIOp::create(b, warp, c(mt.warpsN));
    warpN = arith::RemUIOp::create(b, warp, c(mt.warpsN));
  }
  int64_t warpRows = inst ? mt.mTiles * inst->m : 0;
  int64_t warpCols = inst ? mt.nTiles * inst->n : 0;
  auto computeMatrixTile = [&](Value stage, ValueRange acc) {
    Value mOff = arith::MulIOp::create(b, warpM, c(warpRows));
    Value nOff = arith::MulIOp::create(b, warpN, c(warpCols));
    auto stageRow = [&](int64_t rows) -> Value {
      return arith::MulIOp::create(b, stage, c(rows));
    };
    MatrixTileOperand a;
    a.tile = aTile;
    a.swizzle = aSwizzle;
    a.transpose = transA;
    if (transA) {
      a.row0 = stageRow(bk);
      a.col0 = mOff;
    } else {
      a.row0 = arith::AddIOp::create(b, stageRow(bm), mOff);
      a.col0 = c(0);
    }
    SmallVector<MatrixTileOperand> bs;
    for (auto [i, mm] : llvm::enumerate(plan.matmuls)) {
      MatrixTileOperand op;
      op.tile = bTiles[i];
      op.swizzle = bSwizzles[i];
      op.transpose = mm.getTransposeRhs();
      if (op.transpose) {
        op.row0 = arith::AddIOp::create(b, stageRow(bn), nOff);
        op.col0 = c(0);
      } else {
        op.row0 = stageRow(bk);
        op.col0 = nOff;
      }
      bs.push_back(op);
    }
    return emitWarpTileProduct(b, *inst, a, bs, mt.mTiles, mt.nTiles, mt.kSteps,
                               acc);
  };
  auto computeTile = [&](Value stage,
                         ValueRange acc) -> FailureOr<SmallVector<Value>> {
    if (inst)
      return computeMatrixTile(stage, acc);
    return em.forLoop(
        c(0), c(bk), c(1), acc,
        [&](Value kk, ValueRange it) -> FailureOr<SmallVector<Value>> {
          SmallVector<Value> aFrag;
          for (int64_t i = 0; i < tm; ++i) {
            Value row = arith::AddIOp::create(b, tRow, c(i * ty));
            aFrag.push_back(
                memref::LoadOp::create(b, aTile, ValueRange{stage, kk, row}));
          }
          SmallVector<Value> next;
          for (int64_t mi = 0; mi < numMM; ++mi) {
            SmallVector<Value> bFrag;
            for (int64_t j = 0; j < tn; ++j) {
              Value col = arith::AddIOp::create(b, tCol, c(j * tx));
              bFrag.push_back(memref::LoadOp::create(
                  b, bTiles[mi], ValueRange{stage, kk, col}));
            }
            SmallVector<Value> updated = emitTileMultiplyAccumulate(
                b, aFrag, bFrag, it.slice(mi * accPerMM, accPerMM));
            next.append(updated.begin(), updated.end());
          }
          return next;
        });
  };

  // The block's K tiles: all of them, or its split's.
  Value kBegin = c(0), kEnd = c(numK);
  if (splitK) {
    kBegin = arith::MulIOp::create(b, splitId, c(perSplit));
    kEnd = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, kBegin, c(perSplit)), c(numK));
  }
  SmallVector<Value> init(numMM * accPerMM,
                          inst ? emitZeroAccumulator(b, *inst) : zero);
  FailureOr<SmallVector<Value>> acc;
  // Whether any operand tile moves with cp.async.
  bool useAsync = false;
  if (inst) {
    auto maxRunOf = [&](igpu::SwizzleAttr swizzle) -> int64_t {
      int64_t limit = 16 / inst->inputBytes();
      return swizzle ? std::min<int64_t>(limit, swizzle.getVec()) : limit;
    };
    useAsync =
        (transA ? asyncRunWidth(lhs, bk, m, bm, maxRunOf(aSwizzle))
                : asyncRunWidth(lhs, bm, k, bk, maxRunOf(aSwizzle))) != 0;
    for (auto [i, mm] : llvm::enumerate(plan.matmuls))
      useAsync |= mm.getTransposeRhs()
                      ? asyncRunWidth(mm.getRhs(), bn, k, bk,
                                      maxRunOf(bSwizzles[i])) != 0
                      : asyncRunWidth(mm.getRhs(), bk, ns[i], bn,
                                      maxRunOf(bSwizzles[i])) != 0;
    if (useAsync)
      ctx.tileDescription += ", cp.async";
  }
  auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  if (stages == 2) {
    // The next K tile loads while this one is used. With cp.async (useAsync)
    // its copies are in flight during this tile's products, and each
    // iteration ends by waiting for them; the barrier also ends the reads of
    // the stage the next iteration overwrites.
    SmallVector<Value> first;
    if (failed(loadTiles(kBegin, c(0), useAsync ? &first : nullptr)))
      return failure();
    if (useAsync)
      nvgpu::DeviceAsyncWaitOp::create(
          b, nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenType, first),
          IntegerAttr());
    gpu::BarrierOp::create(b);
    acc = em.forLoop(
        kBegin, kEnd, c(1), init,
        [&](Value kt, ValueRange it) -> FailureOr<SmallVector<Value>> {
          // The first tile of the block's range is in stage 0.
          Value stage = arith::RemUIOp::create(
              b, splitK ? (Value)arith::SubIOp::create(b, kt, kBegin) : kt,
              c(2));
          Value next = arith::AddIOp::create(b, kt, c(1));
          auto ifOp = scf::IfOp::create(
              b,
              splitK ? arith::CmpIOp::create(b, arith::CmpIPredicate::ult, next,
                                             kEnd)
                     : lt(next, numK),
              false);
          {
            OpBuilder::InsertionGuard g(b);
            b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
            Value other = arith::SubIOp::create(b, c(1), stage);
            SmallVector<Value> tokens;
            if (failed(loadTiles(next, other, useAsync ? &tokens : nullptr)))
              return failure();
            if (useAsync)
              nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenType, tokens);
          }
          FailureOr<SmallVector<Value>> r = computeTile(stage, it);
          // An empty group's token (its group token lives in the branch):
          // waiting with no group left in flight covers every earlier one.
          if (useAsync)
            nvgpu::DeviceAsyncWaitOp::create(
                b,
                nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenType,
                                                        ValueRange{}),
                b.getI32IntegerAttr(0));
          gpu::BarrierOp::create(b);
          return r;
        });
  } else {
    acc = em.forLoop(
        kBegin, kEnd, c(1), init,
        [&](Value kt, ValueRange it) -> FailureOr<SmallVector<Value>> {
          gpu::BarrierOp::create(b);
          if (failed(loadTiles(kt, c(0), nullptr)))
            return failure();
          gpu::BarrierOp::create(b);
          return computeTile(c(0), it);
        });
  }
  if (failed(acc))
    return failure();

  // Epilogue: at each accumulator position every matmul's accumulator is
  // the source of its result; outputs go through the fused elementwise ops,
  // each guarded by its own bounds.
  bool mRagged = dynamic || m % bm != 0;
  int64_t coveredN = ctx.getGrid()[0] * bn;
  ValueRange yields = ctx.getYieldedValues();
  llvm::SetVector<int64_t> bounds;
  for (unsigned mi : plan.yieldMatmul)
    bounds.insert(ns[mi]);
  // Writes every output at (gm, gn) with `accAt(mi)` as matmul mi's value.
  // Stores every output at `idx` (its last index `gn`) through `e`, whose
  // sources give the matmuls' values there: outputs grouped by their column
  // bound, each guarded when the launch covers `covered` columns past it; a
  // reshaped output at the same row-major position in its shape. The matmul
  // kernel and split-K's combine kernel share it.
  auto storeOutputs = [&](ElementalEmitter &e, KernelEmitContext &kc,
                          ArrayRef<Value> idx, Value gn,
                          int64_t covered) -> LogicalResult {
    ImplicitLocOpBuilder &kb = kc.getBuilder();
    for (int64_t bound : bounds) {
      OpBuilder::InsertionGuard g(kb);
      if (bound < covered) {
        auto ifOp = scf::IfOp::create(
            kb,
            arith::CmpIOp::create(kb, arith::CmpIPredicate::ult, gn,
                                  e.constIndex(bound)),
            false);
        kb.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      }
      for (auto [o, v] : llvm::enumerate(yields)) {
        if (ns[plan.yieldMatmul[o]] != bound)
          continue;
        Value source = plan.yieldSource[o];
        FailureOr<Value> x = e.emit(source, idx);
        if (failed(x))
          return failure();
        if (source == v) {
          kc.storeOutput(o, *x, idx);
          continue;
        }
        Value linear = e.linearize(idx, e.getExtents(source));
        kc.storeOutput(o, *x, e.delinearize(linear, e.getExtents(v)));
      }
    }
    return success();
  };
  Value partials;
  if (splitK)
    partials = ctx.getScratchView(
        partialsId, MemRefType::get({partialElems}, b.getF32Type()));
  // Position of matmul mi's partial at (gm, gn) of split `split`.
  auto partialIndex = [&](OpBuilder &pb, Location loc, Value split, int64_t mi,
                          Value batchLin, Value gm, Value gn) -> Value {
    auto cst = [&](int64_t v) {
      return arith::ConstantIndexOp::create(pb, loc, v);
    };
    Value x = arith::AddIOp::create(
        pb, loc, arith::MulIOp::create(pb, loc, split, cst(numMM)), cst(mi));
    x = arith::AddIOp::create(
        pb, loc, arith::MulIOp::create(pb, loc, x, cst(batch)), batchLin);
    x = arith::AddIOp::create(pb, loc,
                              arith::MulIOp::create(pb, loc, x, cst(m)), gm);
    return arith::AddIOp::create(
        pb, loc, arith::MulIOp::create(pb, loc, x, cst(nMax)), gn);
  };
  auto storeAt = [&](Value gm, Value gn,
                     function_ref<Value(int64_t)> accAt) -> LogicalResult {
    if (splitK) {
      // Split-K: this split's sums go to the partials, inside M and each
      // matmul's N; the combine kernel applies the epilogue.
      OpBuilder::InsertionGuard g(b);
      if (m % bm != 0) {
        auto ifOp = scf::IfOp::create(b, ltM(gm), false);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      }
      for (int64_t mi = 0; mi < numMM; ++mi) {
        OpBuilder::InsertionGuard g2(b);
        if (ns[mi] < coveredN) {
          auto ifOp = scf::IfOp::create(b, lt(gn, ns[mi]), false);
          b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
        }
        memref::StoreOp::create(
            b, accAt(mi), partials,
            partialIndex(b, b.getLoc(), splitId, mi, batchLinear, gm, gn));
      }
      return success();
    }
    for (auto [mi, mm] : llvm::enumerate(plan.matmuls)) {
      Value accValue = accAt(mi);
      em.setSource(mm.getResult(),
                   [accValue](ImplicitLocOpBuilder &, ValueRange) {
                     return FailureOr<Value>(accValue);
                   });
    }
    SmallVector<Value> idx = batchIdx;
    idx.append({gm, gn});
    OpBuilder::InsertionGuard g(b);
    if (mRagged) {
      auto ifOp = scf::IfOp::create(b, ltM(gm), false);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    }
    return storeOutputs(em, ctx, idx, gn, coveredN);
  };
  // Split-K's second kernel: one thread per output position sums each
  // matmul's partials in split order and runs the epilogue, as the
  // unsplit kernel does at its accumulators.
  auto emitCombine = [&]() -> LogicalResult {
    if (!splitK)
      return success();
    KernelEmitContext &aux = ctx.addAuxiliaryKernel("combine");
    int64_t total = batch * m * nMax;
    int64_t combineThreads =
        std::min<int64_t>(256, llvm::alignTo(total, target.warpSize));
    aux.templateName = "matmul_combine";
    aux.tileDescription = "sums " + std::to_string(splits) +
                          " split-K partials per output, then the epilogue";
    aux.setLaunch({(int64_t)llvm::divideCeil(total, combineThreads), 1, 1},
                  {combineThreads, 1, 1});
    ImplicitLocOpBuilder &ab = aux.getBuilder();
    ElementalEmitter cem(ab, aux.getBindings());
    aux.prepare(cem);
    auto ci = [&](int64_t v) { return cem.constIndex(v); };
    Value linear = arith::AddIOp::create(
        ab,
        arith::MulIOp::create(ab, aux.blockId(gpu::Dimension::x),
                              ci(combineThreads)),
        aux.threadId(gpu::Dimension::x));
    auto inRange = scf::IfOp::create(
        ab,
        arith::CmpIOp::create(ab, arith::CmpIPredicate::ult, linear, ci(total)),
        false);
    OpBuilder::InsertionGuard g(ab);
    ab.setInsertionPoint(inRange.thenBlock()->getTerminator());
    Value gn = arith::RemUIOp::create(ab, linear, ci(nMax));
    Value rows = arith::DivUIOp::create(ab, linear, ci(nMax));
    Value gm = arith::RemUIOp::create(ab, rows, ci(m));
    Value batchLin = arith::DivUIOp::create(ab, rows, ci(m));
    Value view = aux.getScratchView(
        partialsId, MemRefType::get({partialElems}, ab.getF32Type()));
    for (auto [mi, mm] : llvm::enumerate(plan.matmuls)) {
      // Columns past a narrower matmul's N read its last written column;
      // its outputs there are not stored.
      Value col = ns[mi] < nMax
                      ? (Value)arith::MinUIOp::create(ab, gn, ci(ns[mi] - 1))
                      : gn;
      Value sum;
      for (int64_t sp = 0; sp < splits; ++sp) {
        Value part = memref::LoadOp::create(
            ab, view,
            partialIndex(ab, ab.getLoc(), ci(sp), static_cast<int64_t>(mi),
                         batchLin, gm, col));
        sum = sum ? (Value)arith::AddFOp::create(ab, sum, part) : part;
      }
      cem.setSource(mm.getResult(), [sum](ImplicitLocOpBuilder &, ValueRange) {
        return FailureOr<Value>(sum);
      });
    }
    // The batch extents again, in this function.
    SmallVector<Value> combineExtents = cem.getExtents(first.getResult());
    combineExtents.resize(rank - 2);
    SmallVector<Value> idx =
        batchShape.empty()
            ? SmallVector<Value>{}
            : cem.delinearize(batchLin, ValueRange(combineExtents));
    idx.append({gm, gn});
    return storeOutputs(cem, aux, idx, gn, nMax);
  };
  if (inst) {
    Value lane = arith::RemUIOp::create(b, tid, c(target.warpSize));
    FragmentCoords coords(b, inst->c, lane);
    Value rowBase = arith::AddIOp::create(
        b, m0, arith::MulIOp::create(b, warpM, c(warpRows)));
    Value colBase = arith::AddIOp::create(
        b, n0, arith::MulIOp::create(b, warpN, c(warpCols)));
    int64_t perTile = inst->c.elementsPerLane();
    for (int64_t i = 0; i < mt.mTiles; ++i)
      for (int64_t j = 0; j < mt.nTiles; ++j)
        for (int64_t e = 0; e < perTile; ++e) {
          Value gm = arith::AddIOp::create(
              b, arith::AddIOp::create(b, rowBase, c(i * inst->m)),
              coords.row(e));
          Value gn = arith::AddIOp::create(
              b, arith::AddIOp::create(b, colBase, c(j * inst->n)),
              coords.col(e));
          if (failed(storeAt(gm, gn, [&](int64_t mi) -> Value {
                Value fragment = (*acc)[mi * accPerMM + i * mt.nTiles + j];
                return vector::ExtractOp::create(b, fragment, e);
              })))
            return failure();
        }
    return emitCombine();
  }
  for (int64_t i = 0; i < tm; ++i) {
    for (int64_t j = 0; j < tn; ++j) {
      Value gm = arith::AddIOp::create(
          b, m0, arith::AddIOp::create(b, tRow, c(i * ty)));
      Value gn = arith::AddIOp::create(
          b, n0, arith::AddIOp::create(b, tCol, c(j * tx)));
      if (failed(storeAt(gm, gn, [&](int64_t mi) -> Value {
            return (*acc)[mi * accPerMM + i * tn + j];
          })))
        return failure();
    }
  }
  return emitCombine();
}

} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createMatmulTemplate() {
  return std::make_unique<MatmulTemplate>();
}
