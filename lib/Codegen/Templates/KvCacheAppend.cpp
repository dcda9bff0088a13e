//===- KvCacheAppend.cpp - A step's keys and values into a KV cache -------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Kernels whose only heavy op is an iolite.kv_cache_append. One block per
// new token (token t of sequence b): its first thread reads cache_seqlens[b]
// and finds the token's place (contiguous: row b, slot lens[b] + t; paged:
// slot p mod P of page block_table[b, p / P]) for the block, through shared
// memory, and its threads copy the token's
// Hkv x D keys and Hkv x Dv values in runs of up to the target's vector
// width. Cheap producers of the keys and values (a cast, a rotary
// embedding computed elementwise, ...) are evaluated on the way.
//
// The results are the cache operands' own buffers: codegen ties them to
// the function arguments the caches come from (KernelToGpu), so the kernel
// writes only the new rows and moves the new tokens' bytes twice (read and
// written) plus the lengths, whatever the cache's size. A position outside
// the cache or a page outside the pool drops the token's write, as the CPU
// reference does.
//
//===----------------------------------------------------------------------===//

#include "ScanCommon.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::scan;

namespace {

/// The kernel's append when it is the only heavy op, every yielded value is
/// one of its results (each once), and its caches are kernel arguments
/// (buffers the kernel can update in place).
static KvCacheAppendOp getRootAppend(const KernelAnalysis &analysis) {
  auto append = dyn_cast_or_null<KvCacheAppendOp>(analysis.hero);
  if (!append)
    return {};
  KernelOp kernel = analysis.kernel;
  Block &body = kernel.getBody().front();
  for (Value cache : {append.getKCache(), append.getVCache()}) {
    auto arg = dyn_cast<BlockArgument>(cache);
    if (!arg || arg.getOwner() != &body)
      return {};
  }
  ValueRange yielded = kernel.getYield().getValues();
  for (Value v : yielded)
    if (v.getDefiningOp() != append.getOperation() ||
        llvm::count(yielded, v) != 1)
      return {};
  return append;
}

/// Heads and head dim of `source` ([B, S, H, D]) are static.
static bool hasStaticRows(Value source) {
  auto type = cast<ShapedType>(source.getType());
  return !type.isDynamicDim(2) && !type.isDynamicDim(3);
}

class KvCacheAppendTemplate : public KernelTemplate {
public:
  StringRef getName() const override { return "kv_cache_append"; }

  unsigned match(const KernelAnalysis &analysis,
                 const TargetDescription &) const override {
    KvCacheAppendOp append = getRootAppend(analysis);
    return append && hasStaticRows(append.getKey()) &&
                   hasStaticRows(append.getValue())
               ? 20
               : 0;
  }

  /// Batch, steps and the cache's rows may be run-time extents; heads and
  /// head dims size the runs.
  bool supportsDynamicExtents(const KernelAnalysis &) const override {
    return true;
  }

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override;
};

LogicalResult KvCacheAppendTemplate::emit(const KernelAnalysis &analysis,
                                          KernelEmitContext &ctx) const {
  KvCacheAppendOp op = getRootAppend(analysis);
  const TargetDescription &target = ctx.getTarget();
  ImplicitLocOpBuilder &b = ctx.getBuilder();
  ScalarBuilder k{b};

  // One write per yielded cache: its source, and runs that tile its rows.
  struct Write {
    unsigned output;
    Value source;
    int64_t dim, width, runs;
  };
  SmallVector<Write> writes;
  int64_t mostRuns = 1;
  for (auto [i, v] : llvm::enumerate(ctx.getYieldedValues())) {
    Value source =
        cast<OpResult>(v).getResultNumber() == 0 ? op.getKey() : op.getValue();
    ArrayRef<int64_t> shape = cast<ShapedType>(source.getType()).getShape();
    int64_t bytes =
        std::max<int64_t>(getWidestElementBytes(source),
                          getElementTypeOrSelf(v).getIntOrFloatBitWidth() / 8);
    int64_t width = largestDividingWidth(
        std::max<int64_t>(1, target.maxVectorBytes / bytes), {shape[3]});
    int64_t runs = shape[2] * shape[3] / width;
    writes.push_back({static_cast<unsigned>(i), source, shape[3], width, runs});
    mostRuns = std::max(mostRuns, runs);
  }
  const KernelTuning *tuning = target.getTuning("elementwise");
  int64_t threads =
      std::min<int64_t>(std::min<int64_t>(tuning ? tuning->threads : 256,
                                          target.maxThreadsPerBlock),
                        llvm::alignTo(mostRuns, target.warpSize));
  ctx.templateName = "kv_cache_append";
  int64_t widest = 1;
  for (const Write &w : writes)
    widest = std::max(widest, w.width);
  ctx.tileDescription = "one block per new token, runs of up to " +
                        std::to_string(widest) + " elements";
  // Grid x: the step's tokens, y: the sequences.
  Value key = op.getKey();
  if (ctx.hasDynamicExtents()) {
    ctx.setLaunch({GridExtent{ctx.getDimExpr(key, 1), 1},
                   GridExtent{ctx.getDimExpr(key, 0), 1},
                   GridExtent::constant(1)},
                  {threads, 1, 1});
  } else {
    ArrayRef<int64_t> shape = cast<ShapedType>(key.getType()).getShape();
    ctx.setLaunch({shape[1], shape[0], 1}, {threads, 1, 1});
  }

  SharedMemoryPlan &plan = ctx.getSharedMemoryPlan();
  unsigned placeBuf = plan.addBuffer("place", 3 * 4, 0, 0);
  if (failed(ctx.finalizeSharedMemory("kv_cache_append")))
    return failure();
  Value shared =
      ctx.getSharedView(placeBuf, MemRefType::get({3}, b.getI32Type()));

  ElementalEmitter em(b, ctx.getBindings());
  em.setBufferAlignment(target.maxVectorBytes);
  ctx.prepare(em);
  Value token = ctx.blockId(gpu::Dimension::x);
  Value seq = ctx.blockId(gpu::Dimension::y);
  Value tid = ctx.threadId(gpu::Dimension::x);
  auto slt = [&](Value x, Value y) -> Value {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x, y);
  };
  auto sge = [&](Value x, Value y) -> Value {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::sge, x, y);
  };
  auto toIndex = [&](Value v) -> Value {
    return arith::IndexCastOp::create(b, b.getIndexType(), v);
  };

  // The token's place, found once per block by thread 0 and shared:
  // position p = lens[b] + t (the lengths may come from a prologue), its
  // row and slot, and whether it lies inside the cache.
  SmallVector<Value> place;
  {
    OpBuilder::InsertionGuard guard(b);
    auto first = scf::IfOp::create(b, k.eq(tid, k.c(0)), false);
    b.setInsertionPoint(first.thenBlock()->getTerminator());
    FailureOr<Value> length = em.emit(op.getCacheSeqlens(), {seq});
    if (failed(length))
      return failure();
    Value pos = k.add(toIndex(*length), token);
    Value valid = sge(pos, k.c(0));
    Value row = seq, slot = pos;
    Value cache = op.getKCache();
    if (Value table = op.getBlockTable()) {
      Value pageSize = ctx.getExtent(cache, 1);
      Value block = arith::DivSIOp::create(b, pos, pageSize);
      slot = arith::RemSIOp::create(b, pos, pageSize);
      Value perSeq = ctx.getExtent(table, 1);
      valid = k.land(valid, slt(block, perSeq));
      // Read the entry at a clamped index (in bounds even when p is not);
      // `valid` decides whether it is used.
      Value clamped = arith::MinSIOp::create(
          b, arith::MaxSIOp::create(b, block, k.c(0)), k.sub(perSeq, k.c(1)));
      FailureOr<Value> entry = em.emit(table, {seq, clamped});
      if (failed(entry))
        return failure();
      row = toIndex(*entry);
      valid = k.land(
          valid, k.land(sge(row, k.c(0)), slt(row, ctx.getExtent(cache, 0))));
    } else {
      valid = k.land(valid, slt(pos, ctx.getExtent(cache, 1)));
    }
    Value validIndex = arith::SelectOp::create(b, valid, k.c(1), k.c(0));
    SmallVector<Value> values{row, slot, validIndex};
    for (auto [i, v] : llvm::enumerate(values))
      k.store(arith::IndexCastOp::create(b, b.getI32Type(), v), shared,
              {k.c(i)});
  }
  gpu::BarrierOp::create(b);
  for (int64_t i = 0; i < 3; ++i)
    place.push_back(toIndex(k.load(shared, {k.c(i)})));
  Value row = place[0], slot = place[1];
  Value valid = k.eq(place[2], k.c(1));

  auto ifOp = scf::IfOp::create(b, valid, false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  for (const Write &w : writes) {
    FailureOr<SmallVector<Value>> copied = em.forLoop(
        tid, k.c(w.runs), k.c(threads), {},
        [&](Value run, ValueRange) -> FailureOr<SmallVector<Value>> {
          Value linear = k.mul(run, k.c(w.width));
          Value head = k.div(linear, k.c(w.dim));
          Value col = k.rem(linear, k.c(w.dim));
          FailureOr<SmallVector<Value>> elements =
              em.emitRun(w.source, {seq, token, head, col},
                         static_cast<unsigned>(w.width));
          if (failed(elements))
            return failure();
          ctx.storeOutputRun(w.output, *elements, {row, slot, head, col}, em);
          return SmallVector<Value>{};
        });
    if (failed(copied))
      return failure();
  }
  return success();
}

} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createKvCacheAppendTemplate() {
  return std::make_unique<KvCacheAppendTemplate>();
}
