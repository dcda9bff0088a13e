//===- Attention.cpp - FlashAttention-2 forward and split-KV decoding -----===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Kernels rooted at one iolite.attention (with any prologue on its operands
// and a pointwise epilogue). docs/attention.md describes the decomposition:
//
// - One block per (batch, kv head, tile of BM query rows). The rows of a
//   tile are (position, head-in-group) pairs, row = i * G + g, so every K/V
//   tile a block loads serves all G query heads that share its kv head.
// - K/V tiles of BN keys are streamed through shared memory, double-buffered
//   when the plan fits; scores and probabilities never reach global memory.
// - On the matrix units (f16/bf16, AttentionMma.cpp) each warp owns a slice
//   of the rows: Q fragments in registers for the whole KV loop, S = Q K^T
//   and O += P V as warp MMAs, the online softmax on the accumulator
//   fragments, P reused as the A operand from registers where the layouts
//   allow (mma.sync) or through shared memory (MFMA).
// - On the FMA units (f32, this file) 16 lanes share a query row: each thread
//   owns TM rows x TN keys of the score tile and TM rows x TDv columns of the
//   output; Q is staged once in shared memory and P goes through it.
// - Causal and sliding-window kernels only visit the KV tiles that hold an
//   unmasked key of some row of the tile.
// - Short queries (decode) split the KV range over gridDim.z blocks that
//   write unnormalised partial outputs with their max and sum to scratch; an
//   auxiliary combine kernel merges them and runs the epilogue.
// - iolite.cache_attention (keys from a KV cache up to each sequence's
//   length) and iolite.varlen_attention (a packed batch: one block per q
//   tile, kv head and sequence, its rows and keys read from cu_seqlens, plus
//   a slice of blocks zeroing the rows outside every sequence) are the same
//   kernels with another addressing (AttentionOperands, Attention.h).
//
//===----------------------------------------------------------------------===//

#include "Attention.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/Support/MathExtras.h"
#include <limits>

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::attention;

namespace {

/// Lanes that share one query row (and reduce its statistics by shuffles)
/// on the FMA path.
constexpr int64_t kLanesPerRow = 16;
/// A KV partition of split-KV gets at least this many KV tiles.
constexpr int64_t kMinTilesPerSplit = 2;
/// At most this many KV partitions.
constexpr int64_t kMaxSplits = 64;
/// Split-KV applies to at most this many query rows per kv head (decode and
/// short chunks: one q tile on every chip) ...
constexpr int64_t kShortQueryRows = 64;
/// ... over at least this many keys.
constexpr int64_t kMinSplitKeys = 512;
/// Split-KV partials may cost at most this fraction of the K/V traffic.
constexpr double kSplitTrafficBudget = 0.05;
/// More multiprocessors than any grid fills: split decisions that must not
/// depend on the chip.
constexpr int64_t kAnyMultiprocessors = int64_t(1) << 40;
/// Output elements one combine block merges (its rows x head dim).
constexpr int64_t kCombineElementsPerBlock = 1024;

/// `n` plus the fewest elements (of `bytes` each) that make the row stride
/// an odd number of 32-bit words: rows read at once by one warp then start
/// in different banks.
int64_t paddedStride(int64_t n, int64_t bytes) {
  for (int64_t pad = 0; pad <= 8; ++pad) {
    int64_t stride = (n + pad) * bytes;
    if (stride % 4 == 0 && (stride / 4) % 2 == 1)
      return n + pad;
  }
  return n;
}

int64_t byteWidth(Type t) {
  return std::max<int64_t>(1, t.getIntOrFloatBitWidth() / 8);
}

/// Declares the shared-memory buffers of `p` in `plan`. Everything is live
/// through the whole KV loop: one phase.
void addBuffers(AttentionPlan &p, const AttentionShape &s, Type et,
                SharedMemoryPlan &plan) {
  if (s.packed) // The block's sequence boundaries, read once per block.
    p.seqBuf = plan.addBuffer("sequence", 4 * 4, 0, 0);
  if (s.pageSize) {
    // The page numbers of one KV tile: keys [k0, k0 + BN) span at most
    // (BN - 1) / P + 2 pages (BN / P when P divides BN, since k0 is a
    // multiple of BN).
    p.pagesPerTile = p.bn % s.pageSize == 0 ? p.bn / s.pageSize
                                            : (p.bn - 1) / s.pageSize + 2;
    p.pageBuf = plan.addBuffer("pages", p.pagesPerTile * 4, 0, 0);
  }
  if (p.inst) {
    const matrix::Instruction &inst = *p.inst;
    int64_t e = inst.inputBytes();
    // K [key][d] is the B operand of Q K^T stored n-major; V [key][dv] the
    // B operand of P V stored k-major; P [row][key] the A operand of P V.
    p.kBuf = plan.addTile(
        "K", p.stages, p.bn, p.dPad, e,
        fragmentReadBytes(inst, matrix::Operand::B, /*transpose=*/true), 0, 0);
    p.vBuf = plan.addTile(
        "V", p.stages, p.bn, p.dvPad, e,
        fragmentReadBytes(inst, matrix::Operand::B, /*transpose=*/false), 0, 0);
    if (!p.pInRegisters)
      p.pBuf = plan.addTile(
          "P", 1, p.bm, p.bn, e,
          fragmentReadBytes(inst, matrix::Operand::A, /*transpose=*/false), 0,
          0);
    return;
  }
  int64_t es = byteWidth(et);
  p.qStride = paddedStride(s.d, es);
  p.kStride = paddedStride(p.bn, es);
  p.vStride = p.tdv * p.tx;
  p.pStride = paddedStride(p.bn, 4);
  p.qBuf = plan.addBuffer("Q", p.bm * p.qStride * es, 0, 0);
  p.kBuf = plan.addBuffer("K", p.stages * s.d * p.kStride * es, 0, 0);
  p.vBuf = plan.addBuffer("V", p.stages * p.bn * p.vStride * es, 0, 0);
  p.pBuf = plan.addBuffer("P", p.bm * p.pStride * 4, 0, 0);
}

/// Fills the sizes of `p` that follow from bm, bn and the thread shape.
void derive(AttentionPlan &p, const AttentionShape &s) {
  if (p.inst) {
    const matrix::Instruction &inst = *p.inst;
    p.threads = p.warps * inst.warpSize;
    p.mTiles = p.bm / (p.warps * inst.m);
    p.sTiles = p.bn / inst.n;
    p.pvSteps = p.bn / inst.k;
  } else {
    p.threads = p.tx * p.ty;
    p.tm = p.bm / p.ty;
    p.tn = p.bn / p.tx;
    p.tdv = llvm::divideCeil(s.dv, p.tx);
  }
  p.qTiles = llvm::divideCeil(s.rows(), p.bm);
  p.kvTiles = llvm::divideCeil(s.skv, p.bn);
}

/// The KV partitions the split-KV heuristic gives a launch with `rows`
/// query rows per kv head, `skv` keys and `blocks` blocks without a split
/// (1: no split). AttentionEmitter::emitSplitCount computes the same per
/// launch.
int64_t launchSplits(const AttentionShape &s, int64_t bn, int64_t es,
                     int64_t rows, int64_t skv, int64_t blocks,
                     int64_t multiprocessors) {
  int64_t budgetInverse = std::llround(1.0 / kSplitTrafficBudget);
  int64_t byTraffic = skv * (s.d + s.dv) * es /
                      (rows * budgetInverse * ((2 * s.dv + 5) * 4 + s.d * es));
  if (rows > kShortQueryRows || skv < kMinSplitKeys || byTraffic < 2)
    return 1;
  int64_t kvTiles = llvm::divideCeil(skv, bn);
  return std::max<int64_t>(
      1, std::min({kMaxSplits, kvTiles / kMinTilesPerSplit, byTraffic,
                   (int64_t)llvm::divideCeil(multiprocessors, blocks)}));
}

/// The most partitions launchSplits gives any launch within the bounds of
/// a kernel with run-time extents. Fewer query rows, more keys and fewer
/// blocks never split less, so a symbol only in the key length goes to its
/// upper bound and one only in the batch or query length to its lower
/// bound. One symbol in both (self-attention: q and kv are `seq`) is
/// searched; with several, the key length's bound is taken against the
/// query length's (more than any launch splits: idle blocks, not errors).
int64_t maxLaunchSplits(const AttentionOperands &att, const AttentionShape &s,
                        const AttentionPlan &p, int64_t es,
                        int64_t multiprocessors, KernelEmitContext &ctx) {
  constexpr int64_t kMaxSearch = 1 << 16;
  ArrayRef<DimBound> bounds;
  if (const SymbolicShapes *shapes = ctx.getSymbolicShapes())
    bounds = shapes->getBounds();
  DimExpr sq = ctx.getDimExpr(att.query, att.qSeqDim());
  // A cache's sequences may hold any number of keys up to its capacity.
  DimExpr skv = !att.isCache()  ? ctx.getDimExpr(att.key, 2)
                : att.isPaged() ? ctx.getDimExpr(att.blockTable, 1) *
                                      ctx.getDimExpr(att.key, 1)
                                : ctx.getDimExpr(att.key, 1);
  DimExpr batch = ctx.getDimExpr(att.query, 0);
  auto uses = [](const DimExpr &e, unsigned i) {
    return i < e.exps.size() && e.exps[i] > 0;
  };
  SmallVector<int64_t> low, high;
  SmallVector<unsigned> shared;
  for (auto [i, bound] : llvm::enumerate(bounds)) {
    bool inKeys = uses(skv, i);
    bool inRows = uses(sq, i) || uses(batch, i);
    low.push_back(inKeys && !inRows ? bound.hi : bound.lo);
    high.push_back(inRows && !inKeys ? bound.lo : bound.hi);
    if (inKeys && inRows)
      shared.push_back(i);
  }
  auto splitsAt = [&](ArrayRef<int64_t> rowPoint, ArrayRef<int64_t> keyPoint) {
    int64_t rows =
        std::max<int64_t>(1, sq.evaluate(rowPoint).value_or(INT64_MAX / 2)) *
        s.group();
    int64_t keys = skv.evaluate(keyPoint).value_or(0);
    int64_t blocks =
        std::max<int64_t>(1, batch.evaluate(rowPoint).value_or(1)) * s.hkv *
        llvm::divideCeil(rows, p.bm);
    return launchSplits(s, p.bn, es, rows, keys, blocks, multiprocessors);
  };
  if (shared.size() == 1 &&
      bounds[shared[0]].hi - bounds[shared[0]].lo < kMaxSearch) {
    int64_t best = 1;
    SmallVector<int64_t> point = low;
    for (int64_t v = bounds[shared[0]].lo; v <= bounds[shared[0]].hi; ++v) {
      point[shared[0]] = v;
      best = std::max(best, splitsAt(point, point));
    }
    return best;
  }
  return splitsAt(low, high);
}

/// The tile and thread shape of the FMA path.
LogicalResult planScalar(AttentionPlan &p, const AttentionOperands &att,
                         const AttentionShape &s, const KernelTuning &tuning,
                         ArrayRef<int64_t> tile, bool forced,
                         const TargetDescription &target) {
  p.tx = std::min<int64_t>(kLanesPerRow, target.warpSize);
  p.ty = std::max<int64_t>(1, tuning.threads / p.tx);
  p.bm = tile[0];
  p.bn = tile[1];
  p.stages = std::max<unsigned>(1, tuning.stages);
  if (!forced) {
    // Small problems get small tiles; very few rows (decode) also get fewer
    // threads, but at least one warp.
    int64_t rowsPow2 = (int64_t)llvm::PowerOf2Ceil(s.rows());
    int64_t minTy = std::max<int64_t>(1, target.warpSize / p.tx);
    if (rowsPow2 < p.ty)
      p.ty = std::max(minTy, rowsPow2);
    p.bm = std::min(p.bm, std::max(p.ty, rowsPow2));
    p.bn = std::min(p.bn, std::max(p.tx, (int64_t)llvm::PowerOf2Ceil(s.skv)));
  }
  if (p.bm % p.ty || p.bn % p.tx)
    return att.op->emitOpError()
           << "attention tile " << p.bm << "x" << p.bn
           << " does not divide among " << p.ty << "x" << p.tx << " threads";
  return success();
}

/// The tile and warp shape of the matrix path: `warps` warps along the
/// rows, each with mTiles instruction tiles; BN a multiple of the
/// instruction's n (S tiles) and k (P V steps).
LogicalResult planMatrix(AttentionPlan &p, const AttentionOperands &att,
                         const AttentionShape &s, const KernelTuning &tuning,
                         ArrayRef<int64_t> tile, bool forced,
                         const TargetDescription &target) {
  const matrix::Instruction &inst = *p.inst;
  int64_t keyStep = std::max<int64_t>(inst.n, inst.k);
  p.bm = tile[0];
  p.bn = tile[1];
  p.stages = std::max<unsigned>(1, tuning.stages);
  int64_t warps = std::max<int64_t>(1, tuning.threads / target.warpSize);
  if (!forced) {
    int64_t rowsPow2 = (int64_t)llvm::PowerOf2Ceil(s.rows());
    p.bm = std::min<int64_t>(p.bm, std::max<int64_t>(inst.m, rowsPow2));
    p.bn = std::min<int64_t>(
        p.bn, std::max<int64_t>(keyStep, llvm::PowerOf2Ceil(s.skv)));
  }
  if (p.bm % inst.m || p.bn % keyStep)
    return att.op->emitOpError()
           << "attention tile " << p.bm << "x" << p.bn << " does not fit "
           << inst.name << ": query rows must be a multiple of " << inst.m
           << " and keys of " << keyStep;
  // As many warps as the tuning has and the rows allow, each with the same
  // number of instruction tiles of rows.
  p.warps = std::max<int64_t>(1, std::min<int64_t>(warps, p.bm / inst.m));
  while (p.bm % (p.warps * inst.m))
    --p.warps;
  p.dPad = llvm::alignTo(s.d, inst.k);
  p.dvPad = llvm::alignTo(s.dv, inst.n);
  p.qkSteps = p.dPad / inst.k;
  p.oTiles = p.dvPad / inst.n;
  p.pInRegisters = getAccumulatorAsOperandA(inst).has_value();
  return success();
}

} // namespace

AttentionOperands AttentionOperands::get(Operation *op) {
  AttentionOperands a;
  a.op = op;
  if (auto att = dyn_cast<AttentionOp>(op)) {
    a.query = att.getQuery();
    a.key = att.getKey();
    a.value = att.getValue();
    a.result = att.getResult();
    a.mask = att.getMask();
    a.alibiSlopes = att.getAlibiSlopes();
    a.causal = att.getCausal();
    a.window = att.getWindow();
    a.softcap = att.getSoftcap();
    a.scale = att.getEffectiveScale();
    return a;
  }
  if (auto varlen = dyn_cast<VarlenAttentionOp>(op)) {
    a.query = varlen.getQuery();
    a.key = varlen.getKey();
    a.value = varlen.getValue();
    a.result = varlen.getResult();
    a.cuSeqlensQ = varlen.getCuSeqlensQ();
    a.cuSeqlensK = varlen.getCuSeqlensK();
    a.maxSeqlenQ = varlen.getMaxSeqlenQ().value_or(0);
    a.maxSeqlenK = varlen.getMaxSeqlenK().value_or(0);
    a.causal = varlen.getCausal();
    a.scale = varlen.getEffectiveScale();
    return a;
  }
  auto cache = cast<CacheAttentionOp>(op);
  a.query = cache.getQuery();
  a.key = cache.getKCache();
  a.value = cache.getVCache();
  a.result = cache.getResult();
  a.cacheSeqlens = cache.getCacheSeqlens();
  a.blockTable = cache.getBlockTable();
  a.causal = cache.getCausal();
  a.scale = cache.getEffectiveScale();
  return a;
}

AttentionShape AttentionShape::get(const AttentionOperands &att,
                                   const SymbolicShapes *shapes) {
  auto shapeOf = [&](Value operand) {
    return shapes ? shapes->getBoundType(operand).getShape()
                  : cast<ShapedType>(operand.getType()).getShape();
  };
  ArrayRef<int64_t> q = shapeOf(att.query);
  ArrayRef<int64_t> k = shapeOf(att.key);
  ArrayRef<int64_t> v = shapeOf(att.value);
  if (att.isVarlen()) {
    // Packed [Tq, H, D] queries over [Tk, Hkv, D] keys: the tiles are
    // planned for the longest sequence (at least one row and key, so that
    // the grid is never empty).
    auto longest = [](int64_t bound, int64_t total) {
      return std::max<int64_t>(1, bound > 0 ? std::min(bound, total) : total);
    };
    AttentionShape shape{shapeOf(att.cuSeqlensQ)[0] - 1,
                         q[1],
                         longest(att.maxSeqlenQ, q[0]),
                         q[2],
                         k[1],
                         longest(att.maxSeqlenK, k[0]),
                         v[2]};
    shape.packed = true;
    shape.totalQ = q[0];
    shape.totalK = k[0];
    return shape;
  }
  if (!att.isCache())
    return {q[0], q[1], q[2], q[3], k[1], k[2], v[3]};
  // [B, S, H, D] queries over a cache of [B, L, Hkv, D] or pages
  // [N, P, Hkv, D] of which a sequence owns M.
  if (!att.isPaged())
    return {q[0], q[2], q[1], q[3], k[2], k[1], v[3]};
  AttentionShape shape{
      q[0], q[2], q[1], q[3], k[2], shapeOf(att.blockTable)[1] * k[1], v[3]};
  shape.pageSize = k[1];
  return shape;
}

std::string AttentionPlan::describe() const {
  std::string text = "attention tile " + std::to_string(bm) + "x" +
                     std::to_string(bn) + " (query rows x keys), ";
  if (inst)
    text += std::to_string(warps) + (warps == 1 ? " warp of " : " warps of ") +
            std::to_string(mTiles) + "x" + std::to_string(sTiles) + " " +
            inst->name +
            (pInRegisters ? ", P in registers" : ", P through shared memory");
  else
    text += std::to_string(ty) + "x" + std::to_string(tx) + " threads";
  return text + ", " + std::to_string(stages) + " stage(s), " +
         (runtimeSplits ? "up to " : "") + std::to_string(splits) +
         " kv split(s)" + (runtimeSplits ? " per launch" : "");
}

FailureOr<AttentionPlan>
mlir::iolite::attention::planAttention(const AttentionOperands &att,
                                       KernelEmitContext &ctx) {
  // With run-time extents, everything is chosen at the bounds.
  AttentionShape s = AttentionShape::get(att, ctx.getSymbolicShapes());
  const TargetDescription &target = ctx.getTarget();
  const CodegenOverrides &overrides = ctx.getOverrides();
  Type et = getElementTypeOrSelf(att.query);
  Type kt = getElementTypeOrSelf(att.key);
  Type vt = getElementTypeOrSelf(att.value);
  bool forced = !overrides.attentionTile.empty();

  AttentionPlan p;
  // The matrix instruction: Q, K and V of one type it multiplies.
  const KernelTuning *mmaTuning = target.getTuning("attention_mma");
  if (overrides.noMatrixUnits) {
    p.matrix.reason = "matrix units turned off for this compile";
  } else if (kt != vt) {
    p.matrix.reason = "K and V have different element types";
  } else if (!mmaTuning) {
    p.matrix.reason = target.chip + " has no matrix attention tuning";
  } else {
    p.matrix = chooseMatrixInstruction(
        target, et, kt, overrides.allowTf32,
        std::max<int64_t>(16, llvm::PowerOf2Ceil(s.rows())));
  }
  p.inst = p.matrix.inst;
  const KernelTuning &tuning =
      p.inst ? *mmaTuning : *target.getTuning("attention");
  ArrayRef<int64_t> tile = forced ? ArrayRef<int64_t>(overrides.attentionTile)
                                  : ArrayRef<int64_t>(tuning.tile);
  if (failed(p.inst ? planMatrix(p, att, s, tuning, tile, forced, target)
                    : planScalar(p, att, s, tuning, tile, forced, target)))
    return failure();

  // Fit: fewer stages, then fewer keys, then fewer rows per tile, until the
  // plan fits the target (a forced tile is never shrunk).
  int64_t minBn = p.inst ? std::max<int64_t>(p.inst->n, p.inst->k) : p.tx;
  int64_t minBm = p.inst ? p.warps * p.inst->m : p.ty;
  while (!forced) {
    AttentionPlan trial = p;
    derive(trial, s);
    SharedMemoryPlan plan;
    addBuffers(trial, s, et, plan);
    if (plan.place() <= target.sharedMemoryPerBlockOptin)
      break;
    if (p.stages > 1)
      p.stages = 1;
    else if (p.bn / 2 >= minBn)
      p.bn /= 2;
    else if (p.bm / 2 >= minBm)
      p.bm /= 2;
    else
      break; // finalizeSharedMemory reports it
  }
  derive(p, s);

  // Split-KV for a short query over a long KV sequence. Every partition
  // reads the Q tile again and writes (and the combine reads) f32 partials;
  // the partitions are limited so that this costs at most
  // kSplitTrafficBudget of the K/V traffic. Whether a kernel splits depends
  // on the problem only, so every target of one compile has the same kernels
  // (the bundle launches one sequence); how many partitions depends on the
  // chip: enough blocks to fill its multiprocessors, at least
  // kMinTilesPerSplit tiles each (1 where the grid already fills the chip).
  int64_t es = byteWidth(et);
  int64_t kvBytes = s.skv * (s.d + s.dv) * es;
  int64_t splitBytes =
      s.rows() * ((2 * s.dv + 5) * 4 + s.d * es); // per kv head and split
  int64_t maxByTraffic = static_cast<int64_t>(
      kSplitTrafficBudget * static_cast<double>(kvBytes) / splitBytes);
  int64_t blocks = s.batch * s.hkv * p.qTiles;
  int64_t maxSplits = std::max<int64_t>(
      1, std::min({kMaxSplits, p.kvTiles / kMinTilesPerSplit, maxByTraffic}));
  int64_t forcedSplits = overrides.attentionSplits;
  p.partialPositions = s.sq;
  if (att.isVarlen()) {
    // Prefill: the q tiles of all sequences fill the chip; no split-KV.
    p.splitKV = false;
    p.splits = 1;
    addBuffers(p, s, et, ctx.getSharedMemoryPlan());
    if (failed(ctx.finalizeSharedMemory(p.describe())))
      return failure();
    return p;
  }
  if ((ctx.hasDynamicExtents() || att.isCache()) && !forcedSplits) {
    // The lengths are known per launch only (for cache_attention, per
    // sequence, from cache_seqlens): each launch (sequence) applies the
    // heuristic above to its own lengths (emitSplitCount). The kernels can
    // split when some launch within the bounds would; gridDim.z is the most
    // partitions of such a launch, and a launch that splits less leaves the
    // other blocks idle (they return at once).
    p.splits = maxLaunchSplits(att, s, p, es, target.multiprocessors, ctx);
    // Whether the kernels can split depends on the problem only, as above
    // (every target of one compile has the same kernels): on a chip whose
    // multiprocessors the blocks already fill, gridDim.z stays 1 and the
    // combine kernel merges nothing.
    p.splitKV = maxLaunchSplits(att, s, p, es, kAnyMultiprocessors, ctx) > 1;
    p.runtimeSplits = p.splitKV;
    // Only launches with at most kShortQueryRows rows write partials.
    p.partialPositions = std::min<int64_t>(
        s.sq, std::max<int64_t>(1, kShortQueryRows / s.group()));
    addBuffers(p, s, et, ctx.getSharedMemoryPlan());
    if (failed(ctx.finalizeSharedMemory(p.describe())))
      return failure();
    return p;
  }
  if (forcedSplits)
    p.splitKV = forcedSplits > 1;
  else
    p.splitKV = s.rows() <= kShortQueryRows && s.skv >= kMinSplitKeys &&
                maxByTraffic >= 2;
  p.splits = 1;
  if (forcedSplits > 1)
    p.splits = std::min(forcedSplits, p.kvTiles);
  else if (p.splitKV)
    p.splits = std::min<int64_t>(
        maxSplits, llvm::divideCeil(target.multiprocessors, blocks));
  p.splits = std::max<int64_t>(1, p.splits);

  addBuffers(p, s, et, ctx.getSharedMemoryPlan());
  if (failed(ctx.finalizeSharedMemory(p.describe())))
    return failure();
  return p;
}

//===----------------------------------------------------------------------===//
// What both paths share
//===----------------------------------------------------------------------===//

AttentionEmitter::AttentionEmitter(const AttentionOperands &att,
                                   const AttentionPlan &p,
                                   KernelEmitContext &ctx)
    : att(att), s(AttentionShape::get(att, ctx.getSymbolicShapes())), p(p),
      ctx(ctx), b(ctx.getBuilder()), em(b, ctx.getBindings()),
      dynamic(ctx.hasDynamicExtents()) {
  ctx.prepare(em);
  // Every kernel buffer is aligned to the target's widest access: runs of
  // operands (Q fragments, K/V tile rows) become vector loads.
  em.setBufferAlignment(ctx.getTarget().maxVectorBytes);
}

Value AttentionEmitter::f(double v) {
  return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
}
Value AttentionEmitter::negInf() {
  return f(-std::numeric_limits<double>::infinity());
}
Value AttentionEmitter::add(Value x, Value y) {
  return arith::AddIOp::create(b, x, y);
}
Value AttentionEmitter::mul(Value x, Value y) {
  return arith::MulIOp::create(b, x, y);
}
Value AttentionEmitter::lt(Value x, Value y) {
  return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x, y);
}
Value AttentionEmitter::rowInBounds(Value row) { return lt(row, rowsExt); }
Value AttentionEmitter::keyInBounds(Value key) { return lt(key, skvExt); }
Value AttentionEmitter::andOpt(Value x, Value y) {
  if (!x)
    return y;
  if (!y)
    return x;
  return arith::AndIOp::create(b, x, y);
}

FailureOr<Value> AttentionEmitter::guardedEmit(Value operand,
                                               ArrayRef<Value> index,
                                               Value cond, Value fallback) {
  if (!cond)
    return em.emit(operand, index);
  FailureOr<SmallVector<Value>> r = em.ifThenElse(
      cond, fallback.getType(),
      [&]() -> FailureOr<SmallVector<Value>> {
        FailureOr<Value> v = em.emit(operand, index);
        if (failed(v))
          return failure();
        return SmallVector<Value>{*v};
      },
      [&]() -> FailureOr<SmallVector<Value>> {
        return SmallVector<Value>{fallback};
      });
  if (failed(r))
    return failure();
  return (*r)[0];
}

LogicalResult AttentionEmitter::setUpCoordinates() {
  tid = ctx.threadId(gpu::Dimension::x);
  if (att.isVarlen()) {
    rowBase = mul(ctx.blockId(gpu::Dimension::x), c(p.bm));
    split = c(0);
    return setUpVarlenSequence();
  }
  // Batch and the query and key lengths may be run-time extents; heads and
  // head dims are static.
  batchExt = ctx.getExtent(att.query, 0);
  sqExt = ctx.getExtent(att.query, att.qSeqDim());
  rowsExt = dynamic ? mul(sqExt, c(s.group())) : c(s.rows());
  Value bh = ctx.blockId(gpu::Dimension::y);
  batchIdx = arith::DivUIOp::create(b, bh, c(s.hkv));
  kvHead = arith::RemUIOp::create(b, bh, c(s.hkv));
  rowBase = mul(ctx.blockId(gpu::Dimension::x), c(p.bm));
  split = p.splitKV ? ctx.blockId(gpu::Dimension::z) : c(0);
  if (!att.isCache()) {
    skvExt = ctx.getExtent(att.key, 2);
    posOffset = dynamic ? (Value)arith::SubIOp::create(b, skvExt, sqExt)
                        : c(s.skv - s.sq);
    numSplits = emitSplitCount(ctx);
    return success();
  }
  // The block's sequence's length, read once; a length past the cache's
  // capacity (or negative) is clamped, so no key outside the cache is read.
  Value capacity = att.isPaged()
                       ? mul(ctx.getExtent(att.blockTable, 1), c(s.pageSize))
                       : ctx.getExtent(att.key, 1);
  // Through the element emitter: the lengths may be computed in the
  // kernel's prologue (a step's `lens + 1`).
  FailureOr<Value> loaded = em.emit(att.cacheSeqlens, {batchIdx});
  if (failed(loaded))
    return failure();
  Value n = arith::IndexCastOp::create(b, b.getIndexType(), *loaded);
  skvExt =
      arith::MinSIOp::create(b, arith::MaxSIOp::create(b, n, c(0)), capacity);
  posOffset = arith::SubIOp::create(b, n, sqExt);
  numSplits = emitSplitCount(ctx, skvExt);
  return success();
}

LogicalResult AttentionEmitter::setUpVarlenSequence() {
  // One block per (q tile, kv head, sequence): grid (ceil(G max_seqlen_q /
  // BM), Hkv, B + 1); the last batch slice writes the zeros of the rows
  // outside every sequence (emitVarlenZeros).
  kvHead = ctx.blockId(gpu::Dimension::y);
  batchIdx = ctx.blockId(gpu::Dimension::z);
  // The sequence's packed query and key rows. Boundaries are clamped into
  // the packed tensors and the end to at least the start, so that bad
  // cu_seqlens (decreasing, negative, past the totals) never address a row
  // outside them. The causal diagonal uses the unclamped ends, as the CPU
  // reference does: query i attends to keys j <= i + cu_k[b+1] - cu_q[b+1].
  Value next = add(batchIdx, c(1));
  FailureOr<SmallVector<Value>> cu = loadBoundaries({{att.cuSeqlensQ, batchIdx},
                                                     {att.cuSeqlensQ, next},
                                                     {att.cuSeqlensK, batchIdx},
                                                     {att.cuSeqlensK, next}});
  if (failed(cu))
    return failure();
  Value q0 = (*cu)[0], q1 = (*cu)[1], k0 = (*cu)[2], k1 = (*cu)[3];
  auto clamp = [&](Value v, Value lo, Value hi) -> Value {
    return arith::MinSIOp::create(b, arith::MaxSIOp::create(b, v, lo), hi);
  };
  qStart = clamp(q0, c(0), totalQExt);
  Value qEnd = clamp(q1, qStart, totalQExt);
  kStart = clamp(k0, c(0), totalKExt);
  Value kEnd = clamp(k1, kStart, totalKExt);
  sqExt = arith::SubIOp::create(b, qEnd, qStart);
  skvExt = arith::SubIOp::create(b, kEnd, kStart);
  rowsExt = mul(sqExt, c(s.group()));
  // Local query i sits at local key position i + posOffset.
  posOffset = arith::SubIOp::create(
      b, add(qStart, arith::SubIOp::create(b, k1, q1)), kStart);
  numSplits = c(1);
  return success();
}

FailureOr<SmallVector<Value>>
AttentionEmitter::loadBoundaries(ArrayRef<std::pair<Value, Value>> reads) {
  // Thread 0 reads them (through the element emitter: the boundaries may be
  // computed in the kernel's prologue) into shared memory; after a barrier
  // every thread has them. The block's global reads of cu_seqlens are then
  // 4 bytes each, not 4 bytes per thread.
  Type i32 = b.getI32Type();
  Value buffer = ctx.getSharedView(p.seqBuf, MemRefType::get({4}, i32));
  {
    OpBuilder::InsertionGuard g(b);
    auto first = scf::IfOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, c(0)),
        /*withElseRegion=*/false);
    b.setInsertionPoint(first.thenBlock()->getTerminator());
    for (auto [i, read] : llvm::enumerate(reads)) {
      FailureOr<Value> loaded = em.emit(read.first, {read.second});
      if (failed(loaded))
        return failure();
      memref::StoreOp::create(b, *loaded, buffer, ValueRange{c(i)});
    }
  }
  gpu::BarrierOp::create(b);
  SmallVector<Value> values;
  for (size_t i = 0; i < reads.size(); ++i)
    values.push_back(arith::IndexCastOp::create(
        b, b.getIndexType(),
        memref::LoadOp::create(b, buffer, ValueRange{c(i)})));
  return values;
}

SmallVector<Value, 4> AttentionEmitter::queryIndex(Value head, Value pos,
                                                   Value col) {
  if (att.isVarlen())
    pos = add(qStart, pos);
  return att.qIndex(batchIdx, head, pos, col);
}

LogicalResult AttentionEmitter::emitVarlenZeros() {
  // Rows outside every sequence, [0, cu_q[0]) and [cu_q[B], Tq) (clamped),
  // get zeros, as in the CPU reference: one element per thread over the
  // slice's qTiles x Hkv blocks.
  int64_t hq = s.hq, dv = s.dv;
  FailureOr<SmallVector<Value>> cu =
      loadBoundaries({{att.cuSeqlensQ, c(0)}, {att.cuSeqlensQ, batchExt}});
  if (failed(cu))
    return failure();
  auto clamp = [&](Value v, Value lo) -> Value {
    return arith::MinSIOp::create(b, arith::MaxSIOp::create(b, v, lo),
                                  totalQExt);
  };
  Value first = clamp((*cu)[0], c(0));
  Value covered = arith::SubIOp::create(b, clamp((*cu)[1], first), first);
  Value elements =
      mul(arith::SubIOp::create(b, totalQExt, covered), c(hq * dv));
  Value block = add(mul(ctx.blockId(gpu::Dimension::x), c(s.hkv)),
                    ctx.blockId(gpu::Dimension::y));
  Value start = add(mul(block, c(p.threads)), tid);
  // Every thread of the slice's gridDim.x * Hkv blocks.
  Value stride = qTilesExt.getDefiningOp<arith::ConstantOp>()
                     ? c(p.qTiles * s.hkv * p.threads)
                     : mul(qTilesExt, c(s.hkv * p.threads));
  FailureOr<SmallVector<Value>> loop =
      em.forLoop(start, elements, stride, {},
                 [&](Value e, ValueRange) -> FailureOr<SmallVector<Value>> {
                   Value col = arith::RemUIOp::create(b, e, c(dv));
                   Value rest = arith::DivUIOp::create(b, e, c(dv));
                   Value head = arith::RemUIOp::create(b, rest, c(hq));
                   Value r = arith::DivUIOp::create(b, rest, c(hq));
                   Value row = arith::SelectOp::create(b, lt(r, first), r,
                                                       add(r, covered));
                   if (failed(storeOutputAt(f(0.0), {row, head, col})))
                     return failure();
                   return SmallVector<Value>{};
                 });
  return failure(failed(loop));
}

FailureOr<RowInfo> AttentionEmitter::rowInfo(Value local, bool withSlope) {
  int64_t g = s.group();
  RowInfo r;
  r.local = local;
  Value row = add(rowBase, local);
  r.valid = rowsRagged() ? rowInBounds(row) : Value();
  r.qPos = g == 1 ? row : (Value)arith::DivUIOp::create(b, row, c(g));
  r.qHead = g == 1
                ? kvHead
                : add(mul(kvHead, c(g)), arith::RemUIOp::create(b, row, c(g)));
  r.absPos = add(r.qPos, posOffset);
  Value slopes = withSlope ? att.alibiSlopes : Value();
  if (slopes) {
    // Heads are always in range, so the slope load needs no guard.
    FailureOr<Value> v = em.emit(slopes, {r.qHead});
    if (failed(v))
      return failure();
    r.slope = *v;
  }
  return r;
}

FailureOr<Value> AttentionEmitter::maskedLogit(Value score, const RowInfo &row,
                                               Value col, Value colValid) {
  // Logits are kept in base 2 (x * log2 e), so the softmax's exponentials
  // are exp2 (one MUFU.EX2 / v_exp_f32 each); with nothing between the
  // scale and the exponential, log2 e folds into the scale (as
  // FlashAttention-2's softmax_scale_log2).
  constexpr double kLog2e = 1.4426950408889634;
  bool natural =
      att.softcap || row.slope ||
      (att.mask &&
       !cast<ShapedType>(att.mask.getType()).getElementType().isInteger(1));
  Value x =
      arith::MulFOp::create(b, score, f(att.scale * (natural ? 1.0 : kLog2e)));
  if (auto cap = att.softcap) {
    Value capValue = f(cap->convertToDouble());
    x = arith::MulFOp::create(
        b, capValue,
        math::TanhOp::create(
            b, arith::MulFOp::create(b, x, f(1.0 / cap->convertToDouble()))));
  }
  if (row.slope) {
    Value dist = arith::IndexCastOp::create(
        b, b.getI64Type(), arith::SubIOp::create(b, col, row.absPos));
    x = math::FmaOp::create(
        b, row.slope, arith::SIToFPOp::create(b, b.getF32Type(), dist), x);
  }
  Value keep = colValid;
  if (att.causal)
    keep = andOpt(keep, arith::CmpIOp::create(b, arith::CmpIPredicate::sle, col,
                                              row.absPos));
  if (auto w = att.window)
    keep = andOpt(keep, arith::CmpIOp::create(
                            b, arith::CmpIPredicate::sgt, col,
                            arith::SubIOp::create(
                                b, row.absPos, c(static_cast<int64_t>(*w)))));
  if (Value mask = att.mask) {
    bool boolMask =
        cast<ShapedType>(mask.getType()).getElementType().isInteger(1);
    SmallVector<Value> full{batchIdx, row.qHead, row.qPos, col};
    ArrayRef<int64_t> maskShape = cast<ShapedType>(mask.getType()).getShape();
    Value inBounds = andOpt(row.valid, colValid);
    Value fallback =
        boolMask ? (Value)arith::ConstantIntOp::create(b, 0, 1) : f(0.0);
    FailureOr<Value> mv = guardedEmit(mask, em.broadcastIndex(full, maskShape),
                                      inBounds, fallback);
    if (failed(mv))
      return failure();
    if (boolMask)
      keep = andOpt(keep, *mv);
    else
      x = arith::AddFOp::create(b, x, *mv);
  }
  if (natural)
    x = arith::MulFOp::create(b, x, f(kLog2e));
  if (keep)
    x = arith::SelectOp::create(b, keep, x, negInf());
  return x;
}

std::pair<Value, Value> AttentionEmitter::kvRange() {
  int64_t g = s.group();
  // The KV tiles holding a key some row of this tile may attend to.
  // The trip count follows the call's key length.
  Value tBegin = c(0);
  Value tEnd =
      dynamic || att.isCache() || att.isVarlen()
          ? (Value)arith::DivUIOp::create(b, add(skvExt, c(p.bn - 1)), c(p.bn))
          : c(p.kvTiles);
  if (att.causal || att.window) {
    Value lastRow = arith::SubIOp::create(
        b, arith::MinSIOp::create(b, add(rowBase, c(p.bm)), rowsExt), c(1));
    Value firstPos =
        add(g == 1 ? rowBase : (Value)arith::DivUIOp::create(b, rowBase, c(g)),
            posOffset);
    Value lastPos =
        add(g == 1 ? lastRow : (Value)arith::DivUIOp::create(b, lastRow, c(g)),
            posOffset);
    auto clampKeys = [&](Value v) -> Value {
      return arith::MinSIOp::create(b, arith::MaxSIOp::create(b, v, c(0)),
                                    skvExt);
    };
    if (att.causal) {
      Value kvEnd = clampKeys(add(lastPos, c(1)));
      tEnd = arith::DivUIOp::create(b, add(kvEnd, c(p.bn - 1)), c(p.bn));
    }
    if (auto w = att.window) {
      Value kvBegin = clampKeys(add(firstPos, c(1 - static_cast<int64_t>(*w))));
      tBegin = arith::DivUIOp::create(b, kvBegin, c(p.bn));
    }
  }
  if (p.splits > 1) {
    // This block's share of the tiles: chunks of ceil(n / splits) of this
    // launch's tiles; a block past them (or past its launch's partitions)
    // gets none.
    Value n =
        arith::MaxSIOp::create(b, arith::SubIOp::create(b, tEnd, tBegin), c(0));
    Value chunk = arith::DivUIOp::create(
        b, arith::SubIOp::create(b, add(n, numSplits), c(1)), numSplits);
    Value first = add(tBegin, mul(split, chunk));
    tEnd = arith::MinSIOp::create(b, tEnd, add(first, chunk));
    tBegin = first;
  }
  return {tBegin, tEnd};
}

FailureOr<SmallVector<Value>> AttentionEmitter::kvLoop(
    Value tBegin, Value tEnd, ValueRange init,
    function_ref<LogicalResult(Value, Value, SmallVectorImpl<Value> *)> load,
    function_ref<FailureOr<SmallVector<Value>>(Value, Value, ValueRange)>
        stepFn) {
  if (p.stages == 2) {
    // With cp.async (asyncKV), the next tile's copies are in flight during
    // this tile's step; a wait for every group before the barrier ending
    // the step lands them.
    auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
    Value any = lt(tBegin, tEnd);
    {
      OpBuilder::InsertionGuard guard(b);
      auto ifOp = scf::IfOp::create(b, any, false);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      SmallVector<Value> tokens;
      if (failed(load(tBegin, c(0), asyncKV ? &tokens : nullptr)))
        return failure();
      if (asyncKV)
        nvgpu::DeviceAsyncWaitOp::create(
            b, nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenType, tokens),
            IntegerAttr());
    }
    gpu::BarrierOp::create(b);
    return em.forLoop(
        tBegin, tEnd, c(1), init,
        [&](Value t, ValueRange it) -> FailureOr<SmallVector<Value>> {
          Value stage = arith::RemUIOp::create(
              b, arith::SubIOp::create(b, t, tBegin), c(2));
          Value next = add(t, c(1));
          // Prefetch the next tile into the other stage while this one is
          // used; the barrier ending the previous step freed it.
          {
            OpBuilder::InsertionGuard guard(b);
            auto ifOp = scf::IfOp::create(b, lt(next, tEnd), false);
            b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
            SmallVector<Value> tokens;
            if (failed(load(next, arith::SubIOp::create(b, c(1), stage),
                            asyncKV ? &tokens : nullptr)))
              return failure();
            if (asyncKV)
              nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenType, tokens);
          }
          FailureOr<SmallVector<Value>> r = stepFn(t, stage, it);
          // An empty group's token: waiting with no group left in flight
          // covers the one created in the branch.
          if (asyncKV)
            nvgpu::DeviceAsyncWaitOp::create(
                b,
                nvgpu::DeviceAsyncCreateGroupOp::create(b, tokenType,
                                                        ValueRange{}),
                b.getI32IntegerAttr(0));
          gpu::BarrierOp::create(b);
          return r;
        });
  }
  return em.forLoop(
      tBegin, tEnd, c(1), init,
      [&](Value t, ValueRange it) -> FailureOr<SmallVector<Value>> {
        gpu::BarrierOp::create(b);
        if (failed(load(t, c(0), nullptr)))
          return failure();
        gpu::BarrierOp::create(b);
        return stepFn(t, c(0), it);
      });
}

void AttentionEmitter::requestPartials() {
  if (!p.splitKV)
    return;
  int64_t rows = p.splits * s.batch * s.hq * p.partialPositions;
  partO = ctx.requestScratch("partial outputs", rows * s.dv * 4);
  partM = ctx.requestScratch("partial maxima", rows * 4);
  partL = ctx.requestScratch("partial sums", rows * 4);
}

Value AttentionEmitter::partialOutputs(KernelEmitContext &on) {
  return on.getScratchView(partO, MemRefType::get({p.splits, s.batch, s.hq,
                                                   p.partialPositions, s.dv},
                                                  b.getF32Type()));
}
Value AttentionEmitter::partialMaxima(KernelEmitContext &on) {
  return on.getScratchView(
      partM, MemRefType::get({p.splits, s.batch, s.hq, p.partialPositions},
                             b.getF32Type()));
}
Value AttentionEmitter::partialSums(KernelEmitContext &on) {
  return on.getScratchView(
      partL, MemRefType::get({p.splits, s.batch, s.hq, p.partialPositions},
                             b.getF32Type()));
}

Value AttentionEmitter::emitSplitCount(KernelEmitContext &on, Value keys) {
  ImplicitLocOpBuilder &ob = on.getBuilder();
  auto ci = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, v);
  };
  if (!p.runtimeSplits)
    return ci(p.splits);
  auto mulI = [&](Value x, Value y) -> Value {
    return arith::MulIOp::create(ob, x, y);
  };
  auto ceilDiv = [&](Value x, Value y) -> Value {
    return arith::CeilDivUIOp::create(ob, x, y);
  };
  auto minI = [&](Value x, Value y) -> Value {
    return arith::MinUIOp::create(ob, x, y);
  };
  auto cmp = [&](arith::CmpIPredicate pred, Value x, int64_t y) -> Value {
    return arith::CmpIOp::create(ob, pred, x, ci(y));
  };
  // launchSplits on this call's lengths (the sequence's own key length
  // for cache_attention).
  Value skv = keys ? keys : on.getExtent(att.key, 2);
  Value rows = mulI(on.getExtent(att.query, att.qSeqDim()), ci(s.group()));
  Value blocks = mulI(mulI(on.getExtent(att.query, 0), ci(s.hkv)),
                      ceilDiv(rows, ci(p.bm)));
  int64_t es = byteWidth(getElementTypeOrSelf(att.query));
  int64_t budgetInverse = std::llround(1.0 / kSplitTrafficBudget);
  Value byTraffic = arith::DivUIOp::create(
      ob, mulI(skv, ci((s.d + s.dv) * es)),
      mulI(rows, ci(budgetInverse * ((2 * s.dv + 5) * 4 + s.d * es))));
  Value n =
      minI(ci(p.splits), arith::DivUIOp::create(ob, ceilDiv(skv, ci(p.bn)),
                                                ci(kMinTilesPerSplit)));
  n = minI(n, byTraffic);
  n = minI(n, ceilDiv(ci(ctx.getTarget().multiprocessors), blocks));
  Value wanted = arith::AndIOp::create(
      ob,
      arith::AndIOp::create(
          ob, cmp(arith::CmpIPredicate::ule, rows, kShortQueryRows),
          cmp(arith::CmpIPredicate::uge, skv, kMinSplitKeys)),
      cmp(arith::CmpIPredicate::uge, byTraffic, 2));
  return arith::SelectOp::create(ob, wanted,
                                 arith::MaxUIOp::create(ob, n, ci(1)), ci(1));
}

LogicalResult
AttentionEmitter::storeResults(function_ref<LogicalResult()> direct,
                               function_ref<void()> partials) {
  if (!p.splitKV)
    return direct();
  if (!p.runtimeSplits) {
    partials();
    return success();
  }
  // Without a split this launch's only partition writes the outputs and
  // the combine kernel does nothing.
  Value one =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, numSplits, c(1));
  auto ifOp = scf::IfOp::create(b, one, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  if (failed(direct()))
    return failure();
  b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
  partials();
  return success();
}

LogicalResult AttentionEmitter::storeOutput(Value value, const RowInfo &row,
                                            Value col) {
  return storeOutputAt(value, queryIndex(row.qHead, row.qPos, col));
}

LogicalResult AttentionEmitter::storeOutputAt(Value value,
                                              ArrayRef<Value> idx) {
  em.setSource(att.result, [value](ImplicitLocOpBuilder &, ValueRange) {
    return FailureOr<Value>(value);
  });
  for (auto [i, y] : llvm::enumerate(ctx.getYieldedValues())) {
    FailureOr<Value> x = em.emit(y, idx);
    if (failed(x))
      return failure();
    ctx.storeOutput(i, *x, idx);
  }
  return success();
}

LogicalResult AttentionEmitter::emit() {
  requestPartials();
  ctx.templateName = "attention";
  ctx.tileDescription = p.describe();
  ctx.matrixKind = p.matrix.kindName();
  ctx.matrixReason = p.matrix.reason;
  if (att.isVarlen()) {
    // (q tiles of the longest sequence, kv heads, sequences + the slice
    // that zeroes the rows outside every sequence). With run-time extents,
    // the q tiles of max_seqlen_q, or of the call's Tq without it.
    GridExtent tiles = GridExtent::constant(p.qTiles);
    if (dynamic && !att.maxSeqlenQ)
      tiles = GridExtent{
          ctx.getDimExpr(att.query, 0) * DimExpr::constant(s.group()), p.bm};
    if (dynamic)
      ctx.setLaunch({tiles, GridExtent::constant(s.hkv),
                     GridExtent{ctx.getDimExpr(att.cuSeqlensQ, 0), 1}},
                    {p.threads, 1, 1});
    else
      ctx.setLaunch({p.qTiles, s.hkv, s.batch + 1}, {p.threads, 1, 1});
  } else if (dynamic) {
    // One block per (batch, kv head, q tile) of the call's sizes.
    DimExpr rows =
        ctx.getDimExpr(att.query, att.qSeqDim()) * DimExpr::constant(s.group());
    DimExpr bh = ctx.getDimExpr(att.query, 0) * DimExpr::constant(s.hkv);
    ctx.setLaunch({GridExtent{rows, p.bm}, GridExtent{bh, 1},
                   GridExtent::constant(p.splits)},
                  {p.threads, 1, 1});
  } else {
    ctx.setLaunch({p.qTiles, s.batch * s.hkv, p.splits}, {p.threads, 1, 1});
  }
  if (att.isVarlen())
    return emitVarlen();
  if (failed(setUpCoordinates()))
    return failure();
  if (att.isPaged())
    pageTile = ctx.getSharedView(
        p.pageBuf, MemRefType::get({p.pagesPerTile}, b.getI32Type()));
  LogicalResult result = success();
  {
    // A block past this launch's partitions returns at once (the condition
    // is uniform over the block, so barriers inside are fine).
    OpBuilder::InsertionGuard g(b);
    if (p.runtimeSplits) {
      auto active = scf::IfOp::create(
          b,
          arith::CmpIOp::create(b, arith::CmpIPredicate::ult, split, numSplits),
          /*withElseRegion=*/false);
      b.setInsertionPoint(active.thenBlock()->getTerminator());
    }
    result = p.inst ? emitMatrix() : emitScalar();
  }
  if (failed(result) || !p.splitKV)
    return result;
  return emitCombine();
}

LogicalResult AttentionEmitter::emitVarlen() {
  // Blocks of the batch slice z = B zero the rows outside every sequence;
  // the others compute their sequence's tile. Both conditions are uniform
  // over the block, so the barriers inside are fine.
  tid = ctx.threadId(gpu::Dimension::x);
  // The packed totals, the sequences and the launch's q tiles (run-time
  // values with symbolic dims).
  totalQExt = ctx.getExtent(att.query, 0);
  totalKExt = ctx.getExtent(att.key, 0);
  batchExt = dynamic ? (Value)arith::SubIOp::create(
                           b, ctx.getExtent(att.cuSeqlensQ, 0), c(1))
                     : c(s.batch);
  qTilesExt = dynamic && !att.maxSeqlenQ
                  ? (Value)arith::CeilDivUIOp::create(
                        b, mul(totalQExt, c(s.group())), c(p.bm))
                  : c(p.qTiles);
  Value zeros = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                      ctx.blockId(gpu::Dimension::z), batchExt);
  auto slice = scf::IfOp::create(b, zeros, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPoint(slice.thenBlock()->getTerminator());
  if (failed(emitVarlenZeros()))
    return failure();
  b.setInsertionPoint(slice.elseBlock()->getTerminator());
  if (failed(setUpCoordinates()))
    return failure();
  // A q tile past its sequence's rows (a sequence shorter than the longest)
  // returns at once.
  auto active = scf::IfOp::create(b, lt(rowBase, rowsExt),
                                  /*withElseRegion=*/false);
  b.setInsertionPoint(active.thenBlock()->getTerminator());
  return p.inst ? emitMatrix() : emitScalar();
}

//===----------------------------------------------------------------------===//
// The FMA path
//===----------------------------------------------------------------------===//

LogicalResult AttentionEmitter::loadQ() {
  Type et = getElementTypeOrSelf(att.query);
  bool ragged = rowsRagged();
  int64_t g = s.group();
  FailureOr<SmallVector<Value>> r = em.forLoop(
      tid, c(p.bm * s.d), c(p.threads), {},
      [&](Value e, ValueRange) -> FailureOr<SmallVector<Value>> {
        Value r = arith::DivUIOp::create(b, e, c(s.d));
        Value dd = arith::RemUIOp::create(b, e, c(s.d));
        Value row = add(rowBase, r);
        Value i = g == 1 ? row : (Value)arith::DivUIOp::create(b, row, c(g));
        Value h = g == 1 ? kvHead
                         : add(mul(kvHead, c(g)),
                               arith::RemUIOp::create(b, row, c(g)));
        FailureOr<Value> q =
            guardedEmit(att.query, queryIndex(h, i, dd),
                        ragged ? rowInBounds(row) : Value(), f(0.0));
        if (failed(q))
          return failure();
        memref::StoreOp::create(b, convertToStorage(b, *q, et), qTile,
                                ValueRange{r, dd});
        return SmallVector<Value>{};
      });
  return failure(failed(r));
}

LogicalResult AttentionEmitter::preparePages(Value k0) {
  if (!att.isPaged())
    return success();
  // Page numbers of the tile's pages that hold keys below the length, read
  // from the block table once and clamped into the pool (as the CPU
  // reference does): entries past the sequence's last page are never read,
  // and a bad entry cannot address outside the pool.
  Value pageSize = c(s.pageSize);
  Value first = arith::DivUIOp::create(b, k0, pageSize);
  Value lastPage = arith::SubIOp::create(b, ctx.getExtent(att.key, 0), c(1));
  FailureOr<SmallVector<Value>> fill = em.forLoop(
      tid, c(p.pagesPerTile), c(p.threads), {},
      [&](Value i, ValueRange) -> FailureOr<SmallVector<Value>> {
        Value block = add(first, i);
        auto ifOp =
            scf::IfOp::create(b, lt(mul(block, pageSize), skvExt), false);
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
        FailureOr<Value> loaded = em.emit(att.blockTable, {batchIdx, block});
        if (failed(loaded))
          return failure();
        Value entry = arith::IndexCastOp::create(b, b.getIndexType(), *loaded);
        Value page = arith::MinSIOp::create(
            b, arith::MaxSIOp::create(b, entry, c(0)), lastPage);
        memref::StoreOp::create(
            b, arith::IndexCastOp::create(b, b.getI32Type(), page), pageTile,
            ValueRange{i});
        return SmallVector<Value>{};
      });
  if (failed(fill))
    return failure();
  // Uniform over the block (every caller loads a whole tile).
  gpu::BarrierOp::create(b);
  return success();
}

SmallVector<Value, 4> AttentionEmitter::kvIndex(Value j, Value col, Value k0) {
  if (att.isVarlen())
    return {add(kStart, j), kvHead, col};
  if (!att.isCache())
    return {batchIdx, kvHead, j, col};
  if (!att.isPaged())
    return {batchIdx, j, kvHead, col};
  Value pageSize = c(s.pageSize);
  Value local = arith::SubIOp::create(b, arith::DivUIOp::create(b, j, pageSize),
                                      arith::DivUIOp::create(b, k0, pageSize));
  Value page = arith::IndexCastOp::create(
      b, b.getIndexType(), memref::LoadOp::create(b, pageTile, local));
  return {page, arith::RemUIOp::create(b, j, pageSize), kvHead, col};
}

FailureOr<Value> AttentionEmitter::guardedKV(Value operand, Value j, Value col,
                                             Value k0, Value cond) {
  auto load = [&]() -> FailureOr<SmallVector<Value>> {
    FailureOr<Value> v = em.emit(operand, kvIndex(j, col, k0));
    if (failed(v))
      return failure();
    return SmallVector<Value>{*v};
  };
  FailureOr<SmallVector<Value>> r =
      cond ? em.ifThenElse(cond, b.getF32Type(), load,
                           [&]() -> FailureOr<SmallVector<Value>> {
                             return SmallVector<Value>{f(0.0)};
                           })
           : load();
  if (failed(r))
    return failure();
  return (*r)[0];
}

LogicalResult AttentionEmitter::loadKV(Value kvTile, Value stage) {
  Type et = getElementTypeOrSelf(att.key);
  bool ragged = keysRagged();
  Value k0 = mul(kvTile, c(p.bn));
  if (failed(preparePages(k0)))
    return failure();
  // K is stored transposed ([d][key]) so the score loop reads consecutive
  // keys across lanes.
  FailureOr<SmallVector<Value>> lk =
      em.forLoop(tid, c(p.bn * s.d), c(p.threads), {},
                 [&](Value e, ValueRange) -> FailureOr<SmallVector<Value>> {
                   Value key = arith::DivUIOp::create(b, e, c(s.d));
                   Value dd = arith::RemUIOp::create(b, e, c(s.d));
                   Value j = add(k0, key);
                   FailureOr<Value> v = guardedKV(
                       att.key, j, dd, k0, ragged ? keyInBounds(j) : Value());
                   if (failed(v))
                     return failure();
                   memref::StoreOp::create(b, convertToStorage(b, *v, et),
                                           kTile, ValueRange{stage, dd, key});
                   return SmallVector<Value>{};
                 });
  if (failed(lk))
    return failure();
  // V columns past dv (padding to a whole number of lanes) are zeros.
  FailureOr<SmallVector<Value>> lv =
      em.forLoop(tid, c(p.bn * p.vStride), c(p.threads), {},
                 [&](Value e, ValueRange) -> FailureOr<SmallVector<Value>> {
                   Value key = arith::DivUIOp::create(b, e, c(p.vStride));
                   Value dd = arith::RemUIOp::create(b, e, c(p.vStride));
                   Value j = add(k0, key);
                   Value ok =
                       andOpt(ragged ? keyInBounds(j) : Value(),
                              p.vStride != s.dv ? lt(dd, c(s.dv)) : Value());
                   FailureOr<Value> v = guardedKV(att.value, j, dd, k0, ok);
                   if (failed(v))
                     return failure();
                   memref::StoreOp::create(b, convertToStorage(b, *v, et),
                                           vTile, ValueRange{stage, key, dd});
                   return SmallVector<Value>{};
                 });
  return failure(failed(lv));
}

FailureOr<SmallVector<Value>> AttentionEmitter::step(Value kvTile, Value stage,
                                                     ValueRange state) {
  int64_t tm = p.tm, tn = p.tn, tdv = p.tdv;
  ValueRange m = state.take_front(tm);
  ValueRange l = state.slice(tm, tm);
  ValueRange o = state.drop_front(2 * tm);

  // S = Q K^T over the tile, in registers.
  SmallVector<Value> zeros(tm * tn, f(0.0));
  SharedTileOperand qOp{qTile, {}, false, rowGroup, p.ty, tm};
  SharedTileOperand kOp{kTile, {stage}, true, lane, p.tx, tn};
  SmallVector<Value> acc = emitSharedTileMatmul(b, qOp, kOp, s.d, zeros);

  // Logits: scale, soft-cap, ALiBi, masks, causal and window limits, keys
  // past the end. Excluded keys get -inf.
  Value k0 = mul(kvTile, c(p.bn));
  SmallVector<Value> cols, colValid;
  bool kvRagged = keysRagged();
  for (int64_t j = 0; j < tn; ++j) {
    cols.push_back(add(k0, add(lane, c(j * p.tx))));
    colValid.push_back(kvRagged ? keyInBounds(cols[j]) : Value());
  }
  SmallVector<Value> logits(tm * tn);
  for (int64_t a = 0; a < tm; ++a)
    for (int64_t j = 0; j < tn; ++j) {
      FailureOr<Value> x =
          maskedLogit(acc[a * tn + j], rows[a], cols[j], colValid[j]);
      if (failed(x))
        return failure();
      logits[a * tn + j] = *x;
    }

  // Online softmax: new row max over the 16 lanes of the row, rescale the
  // running sum and output, P into shared memory.
  auto maxf = [&](Value x, Value y) -> Value {
    return arith::MaximumFOp::create(b, x, y);
  };
  SmallVector<Value> mNext, lNext, oNext(o.begin(), o.end());
  for (int64_t a = 0; a < tm; ++a) {
    Value rowMax = logits[a * tn];
    for (int64_t j = 1; j < tn; ++j)
      rowMax = maxf(rowMax, logits[a * tn + j]);
    rowMax =
        emitLaneGroupAllReduce(b, rowMax, p.tx, ctx.getTarget().warpSize, maxf);
    Value mNew = maxf(m[a], rowMax);
    // A row with no key so far keeps m = -inf; subtract 0 instead so that
    // exp2(-inf - m) is 0, not NaN.
    Value none =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, mNew, negInf());
    Value base = arith::SelectOp::create(b, none, f(0.0), mNew);
    Value corr = math::Exp2Op::create(b, arith::SubFOp::create(b, m[a], base));
    Value sum = f(0.0);
    for (int64_t j = 0; j < tn; ++j) {
      Value pv = math::Exp2Op::create(
          b, arith::SubFOp::create(b, logits[a * tn + j], base));
      sum = arith::AddFOp::create(b, sum, pv);
      memref::StoreOp::create(
          b, pv, pTile, ValueRange{rows[a].local, add(lane, c(j * p.tx))});
    }
    mNext.push_back(mNew);
    lNext.push_back(math::FmaOp::create(b, l[a], corr, sum));
    for (int64_t j = 0; j < tdv; ++j)
      oNext[a * tdv + j] = arith::MulFOp::create(b, oNext[a * tdv + j], corr);
  }
  gpu::BarrierOp::create(b);

  // O += P V over the tile.
  SharedTileOperand pOp{pTile, {}, false, rowGroup, p.ty, tm};
  SharedTileOperand vOp{vTile, {stage}, true, lane, p.tx, tdv};
  oNext = emitSharedTileMatmul(b, pOp, vOp, p.bn, oNext);

  SmallVector<Value> next = mNext;
  next.append(lNext);
  next.append(oNext);
  return next;
}

LogicalResult AttentionEmitter::storeOutputs(ArrayRef<Value> l,
                                             ArrayRef<Value> o) {
  bool dvRagged = p.vStride != s.dv;
  for (int64_t a = 0; a < p.tm; ++a) {
    Value positive =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, l[a], f(0.0));
    Value inverse = arith::DivFOp::create(
        b, f(1.0), arith::SelectOp::create(b, positive, l[a], f(1.0)));
    for (int64_t j = 0; j < p.tdv; ++j) {
      Value col = add(lane, c(j * p.tx));
      Value ok = andOpt(rows[a].valid, dvRagged ? lt(col, c(s.dv)) : Value());
      OpBuilder::InsertionGuard g(b);
      if (ok) {
        auto ifOp = scf::IfOp::create(b, ok, /*withElseRegion=*/false);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      }
      // A row whose keys were all excluded has o = 0 and l = 0: zeros.
      Value value = arith::MulFOp::create(b, o[a * p.tdv + j], inverse);
      if (failed(storeOutput(value, rows[a], col)))
        return failure();
    }
  }
  return success();
}

void AttentionEmitter::storePartials(ArrayRef<Value> m, ArrayRef<Value> l,
                                     ArrayRef<Value> o) {
  Value po = partialOutputs(ctx), pm = partialMaxima(ctx),
        pl = partialSums(ctx);
  bool dvRagged = p.vStride != s.dv;
  Value lane0 = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, c(0));
  for (int64_t a = 0; a < p.tm; ++a) {
    SmallVector<Value> rowIdx{split, batchIdx, rows[a].qHead, rows[a].qPos};
    {
      OpBuilder::InsertionGuard g(b);
      auto ifOp = scf::IfOp::create(b, andOpt(rows[a].valid, lane0), false);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      memref::StoreOp::create(b, m[a], pm, rowIdx);
      memref::StoreOp::create(b, l[a], pl, rowIdx);
    }
    for (int64_t j = 0; j < p.tdv; ++j) {
      Value col = add(lane, c(j * p.tx));
      Value ok = andOpt(rows[a].valid, dvRagged ? lt(col, c(s.dv)) : Value());
      OpBuilder::InsertionGuard g(b);
      if (ok) {
        auto ifOp = scf::IfOp::create(b, ok, /*withElseRegion=*/false);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      }
      SmallVector<Value> idx = rowIdx;
      idx.push_back(col);
      memref::StoreOp::create(b, o[a * p.tdv + j], po, idx);
    }
  }
}

LogicalResult AttentionEmitter::emitScalar() {
  const TargetDescription &target = ctx.getTarget();
  Type et = getElementTypeOrSelf(att.query);
  Type f32 = b.getF32Type();
  lane = arith::RemUIOp::create(b, tid, c(p.tx));
  rowGroup = arith::DivUIOp::create(b, tid, c(p.tx));
  qTile = ctx.getSharedView(p.qBuf, MemRefType::get({p.bm, p.qStride}, et));
  kTile = ctx.getSharedView(p.kBuf,
                            MemRefType::get({p.stages, s.d, p.kStride}, et));
  vTile = ctx.getSharedView(p.vBuf,
                            MemRefType::get({p.stages, p.bn, p.vStride}, et));
  pTile = ctx.getSharedView(p.pBuf, MemRefType::get({p.bm, p.pStride}, f32));

  if (failed(loadQ()))
    return failure();
  // The rows this thread owns: row = rowGroup + a * ty.
  for (int64_t a = 0; a < p.tm; ++a) {
    FailureOr<RowInfo> r = rowInfo(add(rowGroup, c(a * p.ty)));
    if (failed(r))
      return failure();
    rows.push_back(*r);
  }
  auto [tBegin, tEnd] = kvRange();

  // Running state: max (-inf), sum (0), output (0) per owned row.
  SmallVector<Value> init(p.tm, negInf());
  init.append(p.tm, f(0.0));
  init.append(p.tm * p.tdv, f(0.0));
  FailureOr<SmallVector<Value>> state = kvLoop(
      tBegin, tEnd, init,
      [&](Value t, Value stage, SmallVectorImpl<Value> *) {
        return loadKV(t, stage);
      },
      [&](Value t, Value stage, ValueRange it) { return step(t, stage, it); });
  if (failed(state))
    return failure();

  ArrayRef<Value> all = *state;
  SmallVector<Value> m(all.take_front(p.tm));
  SmallVector<Value> l;
  auto addf = [&](Value x, Value y) -> Value {
    return arith::AddFOp::create(b, x, y);
  };
  // Each lane summed only its own keys: finish the row sums.
  for (Value partial : all.slice(p.tm, p.tm))
    l.push_back(
        emitLaneGroupAllReduce(b, partial, p.tx, target.warpSize, addf));
  ArrayRef<Value> o = all.drop_front(2 * p.tm);
  return storeResults([&] { return storeOutputs(l, o); },
                      [&] { storePartials(m, l, o); });
}

//===----------------------------------------------------------------------===//
// The split-KV combine kernel
//===----------------------------------------------------------------------===//

LogicalResult AttentionEmitter::emitCombine() {
  KernelEmitContext &aux = ctx.addAuxiliaryKernel("combine");
  ImplicitLocOpBuilder &cb = aux.getBuilder();
  ElementalEmitter cem(cb, aux.getBindings());
  aux.prepare(cem);
  auto ci = [&](int64_t v) { return cem.constIndex(v); };
  auto cf = [&](double v) -> Value {
    return arith::ConstantOp::create(cb, cb.getF32FloatAttr(v));
  };
  // A block merges the partials of `rowsPerBlock` query rows: first one
  // thread per row turns the rows' maxima and sums into per-split weights
  // in shared memory, then every thread combines output elements with them.
  // Each partial is read once.
  const KernelTuning *ew = ctx.getTarget().getTuning("elementwise");
  int64_t threads = ew ? ew->threads : 256;
  int64_t rows = s.batch * s.hq * s.sq;
  int64_t rowsPerBlock = std::clamp<int64_t>(kCombineElementsPerBlock / s.dv, 1,
                                             std::min<int64_t>(threads, rows));
  threads = std::min<int64_t>(
      threads, llvm::alignTo(rowsPerBlock * s.dv, ctx.getTarget().warpSize));
  // With run-time extents, the call's rows (batch, heads, positions) are
  // what the grid covers and the guards compare with.
  DimExpr rowsExpr = ctx.getDimExpr(att.query, 0) * DimExpr::constant(s.hq) *
                     ctx.getDimExpr(att.query, att.qSeqDim());
  if (dynamic)
    aux.setLaunch({GridExtent{rowsExpr, rowsPerBlock}, GridExtent::constant(1),
                   GridExtent::constant(1)},
                  {threads, 1, 1});
  else
    aux.setLaunch({(int64_t)llvm::divideCeil(rows, rowsPerBlock), 1, 1},
                  {threads, 1, 1});
  Value rowsValue = aux.getExtent(rowsExpr);
  SmallVector<Value> rowExtents{aux.getExtent(att.query, 0), ci(s.hq),
                                aux.getExtent(att.query, att.qSeqDim())};
  aux.templateName = "attention_combine";
  aux.tileDescription = std::to_string(rowsPerBlock) +
                        " query rows per block over " +
                        (p.runtimeSplits ? "up to " : "") +
                        std::to_string(p.splits) + " kv split(s)";
  SharedMemoryPlan &plan = aux.getSharedMemoryPlan();
  unsigned wBuf = plan.addBuffer("weights", rowsPerBlock * p.splits * 4, 0, 0);
  if (failed(aux.finalizeSharedMemory(aux.tileDescription)))
    return failure();

  Type f32 = cb.getF32Type();
  Value po = partialOutputs(aux), pm = partialMaxima(aux),
        pl = partialSums(aux);
  Value weights =
      aux.getSharedView(wBuf, MemRefType::get({rowsPerBlock, p.splits}, f32));
  Value tid = aux.threadId(gpu::Dimension::x);
  Value row0 = arith::MulIOp::create(cb, aux.blockId(gpu::Dimension::x),
                                     ci(rowsPerBlock));
  auto inRows = [&](Value row) -> Value {
    return arith::CmpIOp::create(cb, arith::CmpIPredicate::ult, row, rowsValue);
  };
  auto rowIndex = [&](Value sp, Value row) {
    SmallVector<Value> r{sp};
    r.append(cem.delinearize(row, ValueRange(rowExtents)));
    return r;
  };
  Value negInf = cf(-std::numeric_limits<double>::infinity());
  // This launch's partitions; a launch that did not split wrote its outputs
  // already and merges nothing.
  // For cache_attention each sequence decided from its own length, so the
  // count is per row (see enterRow).
  Value splits = att.isCache() ? Value() : emitSplitCount(aux);
  OpBuilder::InsertionGuard gate(cb);
  if (p.runtimeSplits && !att.isCache()) {
    auto ifOp = scf::IfOp::create(
        cb, arith::CmpIOp::create(cb, arith::CmpIPredicate::ugt, splits, ci(1)),
        /*withElseRegion=*/false);
    cb.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  }

  // Guards the rest of the current block to rows of the call that were
  // split and returns their partition count.
  Value capacity =
      att.isCache()
          ? (att.isPaged()
                 ? (Value)arith::MulIOp::create(
                       cb, aux.getExtent(att.blockTable, 1), ci(s.pageSize))
                 : aux.getExtent(att.key, 1))
          : Value();
  auto enterRow = [&](Value row) -> Value {
    auto valid = scf::IfOp::create(cb, inRows(row), false);
    cb.setInsertionPoint(valid.thenBlock()->getTerminator());
    if (!att.isCache())
      return splits;
    Value batch = cem.delinearize(row, ValueRange(rowExtents))[0];
    FailureOr<Value> loaded = cem.emit(att.cacheSeqlens, {batch});
    if (failed(loaded))
      return Value();
    Value n = arith::IndexCastOp::create(cb, cb.getIndexType(), *loaded);
    Value keys = arith::MinSIOp::create(
        cb, arith::MaxSIOp::create(cb, n, ci(0)), capacity);
    Value rowSplits = emitSplitCount(aux, keys);
    auto split = scf::IfOp::create(
        cb,
        arith::CmpIOp::create(cb, arith::CmpIPredicate::ugt, rowSplits, ci(1)),
        false);
    cb.setInsertionPoint(split.thenBlock()->getTerminator());
    return rowSplits;
  };

  // Weights: w[r][s] = exp2(m_s - M) / L with M = max_s m_s and
  // L = sum_s l_s exp2(m_s - M) (base-2 logits); 0 for a row without any key.
  FailureOr<SmallVector<Value>> weightLoop = cem.forLoop(
      tid, ci(rowsPerBlock), ci(threads), {},
      [&](Value r, ValueRange) -> FailureOr<SmallVector<Value>> {
        Value row = arith::AddIOp::create(cb, row0, r);
        OpBuilder::InsertionGuard g(cb);
        Value rowSplits = enterRow(row);
        if (!rowSplits)
          return failure();
        FailureOr<SmallVector<Value>> mx = cem.forLoop(
            ci(0), rowSplits, ci(1), {negInf},
            [&](Value sp, ValueRange it) -> FailureOr<SmallVector<Value>> {
              Value m = memref::LoadOp::create(cb, pm, rowIndex(sp, row));
              return SmallVector<Value>{
                  arith::MaximumFOp::create(cb, it[0], m)};
            });
        if (failed(mx))
          return failure();
        Value none = arith::CmpFOp::create(cb, arith::CmpFPredicate::OEQ,
                                           (*mx)[0], negInf);
        Value base = arith::SelectOp::create(cb, none, cf(0.0), (*mx)[0]);
        FailureOr<SmallVector<Value>> sum = cem.forLoop(
            ci(0), rowSplits, ci(1), {cf(0.0)},
            [&](Value sp, ValueRange it) -> FailureOr<SmallVector<Value>> {
              SmallVector<Value> idx = rowIndex(sp, row);
              Value m = memref::LoadOp::create(cb, pm, idx);
              Value l = memref::LoadOp::create(cb, pl, idx);
              Value w =
                  math::Exp2Op::create(cb, arith::SubFOp::create(cb, m, base));
              memref::StoreOp::create(cb, w, weights, ValueRange{r, sp});
              return SmallVector<Value>{math::FmaOp::create(cb, l, w, it[0])};
            });
        if (failed(sum))
          return failure();
        Value positive = arith::CmpFOp::create(cb, arith::CmpFPredicate::OGT,
                                               (*sum)[0], cf(0.0));
        Value inv = arith::SelectOp::create(
            cb, positive, arith::DivFOp::create(cb, cf(1.0), (*sum)[0]),
            cf(0.0));
        FailureOr<SmallVector<Value>> scale = cem.forLoop(
            ci(0), rowSplits, ci(1), {},
            [&](Value sp, ValueRange) -> FailureOr<SmallVector<Value>> {
              Value w = memref::LoadOp::create(cb, weights, ValueRange{r, sp});
              memref::StoreOp::create(cb, arith::MulFOp::create(cb, w, inv),
                                      weights, ValueRange{r, sp});
              return SmallVector<Value>{};
            });
        if (failed(scale))
          return failure();
        return SmallVector<Value>{};
      });
  if (failed(weightLoop))
    return failure();
  gpu::BarrierOp::create(cb);

  // Outputs: o = sum_s w[r][s] * o_s, through the epilogue.
  FailureOr<SmallVector<Value>> outLoop = cem.forLoop(
      tid, ci(rowsPerBlock * s.dv), ci(threads), {},
      [&](Value e, ValueRange) -> FailureOr<SmallVector<Value>> {
        Value r = arith::DivUIOp::create(cb, e, ci(s.dv));
        Value dv = arith::RemUIOp::create(cb, e, ci(s.dv));
        Value row = arith::AddIOp::create(cb, row0, r);
        OpBuilder::InsertionGuard g(cb);
        Value rowSplits = enterRow(row);
        if (!rowSplits)
          return failure();
        FailureOr<SmallVector<Value>> acc = cem.forLoop(
            ci(0), rowSplits, ci(1), {cf(0.0)},
            [&](Value sp, ValueRange it) -> FailureOr<SmallVector<Value>> {
              SmallVector<Value> idx = rowIndex(sp, row);
              idx.push_back(dv);
              Value o = memref::LoadOp::create(cb, po, idx);
              Value w = memref::LoadOp::create(cb, weights, ValueRange{r, sp});
              return SmallVector<Value>{math::FmaOp::create(cb, w, o, it[0])};
            });
        if (failed(acc))
          return failure();
        Value value = (*acc)[0];
        cem.setSource(att.result, [value](ImplicitLocOpBuilder &, ValueRange) {
          return FailureOr<Value>(value);
        });
        SmallVector<Value> bhs = cem.delinearize(row, ValueRange(rowExtents));
        SmallVector<Value> idx = att.qIndex(bhs[0], bhs[1], bhs[2], dv);
        for (auto [i, y] : llvm::enumerate(aux.getYieldedValues())) {
          FailureOr<Value> x = cem.emit(y, idx);
          if (failed(x))
            return failure();
          aux.storeOutput(i, *x, idx);
        }
        return SmallVector<Value>{};
      });
  return failure(failed(outLoop));
}

namespace {

class AttentionTemplate : public KernelTemplate {
public:
  StringRef getName() const override { return "attention"; }

  /// iolite.attention, iolite.cache_attention and iolite.varlen_attention
  /// (the same kernels with another addressing of Q, K, V and O and
  /// per-sequence lengths).
  unsigned match(const KernelAnalysis &analysis,
                 const TargetDescription &target) const override {
    if (!isa_and_nonnull<AttentionOp, CacheAttentionOp, VarlenAttentionOp>(
            analysis.hero) ||
        !analysis.epilogueAtHeroIndex || !target.getTuning("attention"))
      return 0;
    return 40;
  }

  /// Run-time extents: batch, the query length and the key length (for a
  /// cache: its length, pool size and table width) may be symbolic; heads,
  /// head dims, the page size and the ALiBi slopes must be static.
  bool supportsDynamicExtents(const KernelAnalysis &analysis) const override {
    AttentionOperands att = AttentionOperands::get(analysis.hero);
    auto type = [](Value v) { return cast<ShapedType>(v.getType()); };
    // A packed batch: the totals and the number of sequences may be
    // run-time extents, heads and head dims not.
    if (att.isVarlen()) {
      for (Value v : {att.query, att.key, att.value})
        if (type(v).isDynamicDim(1) || type(v).isDynamicDim(2))
          return false;
      return true;
    }
    if (att.isCache()) {
      if (type(att.query).isDynamicDim(2) || type(att.query).isDynamicDim(3))
        return false;
      for (Value v : {att.key, att.value})
        if (type(v).isDynamicDim(2) || type(v).isDynamicDim(3) ||
            (att.isPaged() && type(v).isDynamicDim(1)))
          return false;
      return true;
    }
    for (Value v : {att.query, att.key, att.value}) {
      if (type(v).isDynamicDim(1) || type(v).isDynamicDim(3))
        return false;
    }
    Value slopes = att.alibiSlopes;
    return !slopes || type(slopes).hasStaticShape();
  }

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override {
    AttentionOperands att = AttentionOperands::get(analysis.hero);
    FailureOr<AttentionPlan> plan = planAttention(att, ctx);
    if (failed(plan))
      return failure();
    return AttentionEmitter(att, *plan, ctx).emit();
  }
};

} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createAttentionTemplate() {
  return std::make_unique<AttentionTemplate>();
}
