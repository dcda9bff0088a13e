//===- MoeDispatch.cpp - Expert-sorted order by a counting sort -----------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The T*k assignments (row r = t*k + j) are sorted stably by expert bucket
// (the id when in [0, E), else E) with a counting sort:
//   histogram  each block counts its chunk of assignments per bucket;
//   scan       offsets[e] = assignments in buckets before e, and each block's
//              first position in every bucket (the counts of earlier blocks);
//   scatter    each block walks its chunk in order and places assignment r at
//              its bucket's cursor + its rank among equal buckets before it.
// Chunks are walked in sub-chunks of one assignment per thread whose bucket
// keys go to shared memory; a thread's rank is the number of equal keys
// before it in the sub-chunk (a uniform loop of broadcast reads), and the
// last thread of each bucket advances the bucket's cursor, so the order is
// the reference's exactly with no atomics. When all assignments fit one
// block's chunk the three steps are one launch; otherwise they are three
// launches passing the per-block counts through scratch. The permuted
// activations are written only when the kernel yields them (a grouped matmul
// in the same kernel gathers them itself).
//
//===----------------------------------------------------------------------===//

#include "Moe.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::moe;

namespace {
struct DispatchEmitter {
  MoeEmitState &state;
  const Stage &stage;
  DispatchOp dispatch;
  /// Tokens and rows (T*k) at the bounds with run-time extents.
  int64_t tokens, width, k, rows, experts, threads, warp;
  /// Shared-memory buffers of the current launch.
  Value keys, counts, positions;

  /// The call's assignment count T*k in the current launch.
  Value rowCount() {
    return arith::MulIOp::create(
        b(), getExtentValue(ctx(), dispatch.getInput(), 0), c(k));
  }
  /// The launch's element emitter, reading earlier stages' exports.
  void prepare(ElementalEmitter &em) {
    ctx().prepare(em);
    state.installSources(em);
  }

  KernelEmitContext &ctx() { return state.getContext(); }
  ImplicitLocOpBuilder &b() { return ctx().getBuilder(); }
  Value c(int64_t v) { return constIndex(b(), v); }
  Value toI32(Value v) {
    return arith::IndexCastOp::create(b(), b().getI32Type(), v);
  }
  Value toIndex(Value v) {
    return arith::IndexCastOp::create(b(), b().getIndexType(), v);
  }
  Value eq(Value x, Value y) {
    return arith::CmpIOp::create(b(), arith::CmpIPredicate::eq, x, y);
  }

  bool writesSorted() const {
    return llvm::any_of(stage.exports,
                        [](const Export &e) { return e.space == kMain; });
  }
  Value exported(Space space) const {
    for (const Export &e : stage.exports)
      if (e.space == space)
        return e.value;
    return Value();
  }

  /// Declares the launch's shared memory: the bucket keys of one sub-chunk,
  /// one counter per bucket, and (when the permuted rows are written) the
  /// positions of the `chunk` assignments the block places.
  LogicalResult planSharedMemory(StringRef tile, int64_t chunk) {
    SharedMemoryPlan &plan = ctx().getSharedMemoryPlan();
    unsigned keysBuf = plan.addBuffer("keys", threads * 4, 0, 0);
    unsigned countsBuf = plan.addBuffer("counts", (experts + 1) * 4, 0, 0);
    std::optional<unsigned> posBuf;
    if (chunk > 0)
      posBuf = plan.addBuffer("positions", chunk * 4, 0, 0);
    if (failed(ctx().finalizeSharedMemory(tile)))
      return failure();
    Type i32 = b().getI32Type();
    keys = ctx().getSharedView(keysBuf, MemRefType::get({threads}, i32));
    counts =
        ctx().getSharedView(countsBuf, MemRefType::get({experts + 1}, i32));
    positions =
        posBuf ? ctx().getSharedView(*posBuf, MemRefType::get({chunk}, i32))
               : Value();
    return success();
  }

  /// The sort bucket of assignment `r` (< rows).
  FailureOr<Value> bucketOf(ElementalEmitter &em, Value r) {
    Value t = arith::DivUIOp::create(b(), r, c(k));
    Value j = arith::RemUIOp::create(b(), r, c(k));
    FailureOr<Value> id = em.emit(dispatch.getExpertIds(), ValueRange{t, j});
    if (failed(id))
      return failure();
    Value e = toIndex(*id);
    Value valid = arith::AndIOp::create(
        b(), arith::CmpIOp::create(b(), arith::CmpIPredicate::sge, e, c(0)),
        cmpLt(b(), e, c(experts)));
    return (Value)arith::SelectOp::create(b(), valid, e, c(experts));
  }

  /// One sub-chunk [r0, r0 + threads) ∩ [.., end): thread tid's assignment,
  /// whether it exists, its bucket and the number of equal buckets before and
  /// after it in the sub-chunk.
  struct Ranked {
    Value r, inRange, key, before, after;
  };
  FailureOr<Ranked> rank(ElementalEmitter &em, Value tid, Value r0, Value end) {
    ImplicitLocOpBuilder &b = this->b();
    Value r = arith::AddIOp::create(b, r0, tid);
    Value inRange = cmpLt(b, r, end);
    // Buckets are < E+1; threads past the end get a key nobody shares.
    FailureOr<SmallVector<Value>> key = em.ifThenElse(
        inRange, b.getIndexType(),
        [&]() -> FailureOr<SmallVector<Value>> {
          FailureOr<Value> k = bucketOf(em, r);
          if (failed(k))
            return failure();
          return SmallVector<Value>{*k};
        },
        [&]() -> FailureOr<SmallVector<Value>> {
          return SmallVector<Value>{c(experts + 1)};
        });
    if (failed(key))
      return failure();
    Value mine = (*key)[0];
    memref::StoreOp::create(b, toI32(mine), keys, ValueRange{tid});
    gpu::BarrierOp::create(b);
    Value mine32 = toI32(mine);
    FailureOr<SmallVector<Value>> counted = em.forLoop(
        c(0), c(threads), c(1), {c(0), c(0)},
        [&](Value i, ValueRange it) -> FailureOr<SmallVector<Value>> {
          Value other = memref::LoadOp::create(b, keys, ValueRange{i});
          Value same = eq(other, mine32);
          Value before = arith::AndIOp::create(b, same, cmpLt(b, i, tid));
          Value after = arith::AndIOp::create(b, same, cmpLt(b, tid, i));
          Value one = c(1);
          return SmallVector<Value>{
              arith::AddIOp::create(
                  b, it[0], arith::SelectOp::create(b, before, one, c(0))),
              arith::AddIOp::create(
                  b, it[1], arith::SelectOp::create(b, after, one, c(0)))};
        });
    if (failed(counted))
      return failure();
    return Ranked{r, inRange, mine, (*counted)[0], (*counted)[1]};
  }

  /// Walks [begin, end) in sub-chunks (block-uniform bounds: the body may
  /// hold barriers).
  LogicalResult forSubChunks(ElementalEmitter &em, Value begin, Value end,
                             function_ref<LogicalResult(Value r0)> body) {
    return forEach(em, begin, end, c(threads), body);
  }

  /// counts[bucket] = assignments of [begin, end) per bucket.
  LogicalResult histogram(ElementalEmitter &em, Value tid, Value begin,
                          Value end) {
    ImplicitLocOpBuilder &b = this->b();
    Value zero = arith::ConstantOp::create(b, b.getI32IntegerAttr(0));
    if (failed(forEach(em, tid, c(experts + 1), c(threads), [&](Value e) {
          memref::StoreOp::create(b, zero, counts, ValueRange{e});
          return success();
        })))
      return failure();
    gpu::BarrierOp::create(b);
    if (failed(forSubChunks(em, begin, end, [&](Value r0) -> LogicalResult {
          FailureOr<Ranked> rk = rank(em, tid, r0, end);
          if (failed(rk))
            return failure();
          // The last of each bucket adds the sub-chunk's count.
          Value last =
              arith::AndIOp::create(b, rk->inRange, eq(rk->after, c(0)));
          if (failed(ifThen(b, last, [&]() {
                Value old =
                    memref::LoadOp::create(b, counts, ValueRange{rk->key});
                Value add = toI32(arith::AddIOp::create(b, rk->before, c(1)));
                memref::StoreOp::create(b, arith::AddIOp::create(b, old, add),
                                        counts, ValueRange{rk->key});
                return success();
              })))
            return failure();
          // The keys are rewritten by the next sub-chunk.
          gpu::BarrierOp::create(b);
          return success();
        })))
      return failure();
    return success();
  }

  /// Places the assignments of [begin, end), starting each bucket at
  /// counts[bucket] (the cursors), then copies their rows when the kernel
  /// yields the permuted activations.
  LogicalResult scatter(ElementalEmitter &em, Value tid, Value begin,
                        Value end) {
    ImplicitLocOpBuilder &b = this->b();
    Value rowsValue = exported(kRows);
    LogicalResult placed =
        forSubChunks(em, begin, end, [&](Value r0) -> LogicalResult {
          FailureOr<Ranked> rk = rank(em, tid, r0, end);
          if (failed(rk))
            return failure();
          // Threads past the end read some cursor and ignore it.
          Value bucket = arith::MinUIOp::create(b, rk->key, c(experts));
          Value cursor = memref::LoadOp::create(b, counts, ValueRange{bucket});
          Value pos = arith::AddIOp::create(b, toIndex(cursor), rk->before);
          // Every cursor is read before the last of each bucket advances it.
          gpu::BarrierOp::create(b);
          if (failed(ifThen(b, rk->inRange, [&]() -> LogicalResult {
                if (rowsValue)
                  state.store(rowsValue, toI32(rk->r), ValueRange{pos});
                return ifThen(b, eq(rk->after, c(0)), [&]() {
                  memref::StoreOp::create(
                      b, toI32(arith::AddIOp::create(b, pos, c(1))), counts,
                      ValueRange{rk->key});
                  return success();
                });
              })))
            return failure();
          if (positions)
            return ifThen(b, rk->inRange, [&]() {
              memref::StoreOp::create(
                  b, toI32(pos), positions,
                  ValueRange{arith::SubIOp::create(b, rk->r, begin)});
              return success();
            });
          return success();
        });
    if (failed(placed) || !positions)
      return placed;
    // Copy the placed rows: a warp per row, lanes along the row (a separate
    // loop keeps the sort's registers free).
    gpu::BarrierOp::create(b);
    Value lane = arith::RemUIOp::create(b, tid, c(warp));
    Value warpId = arith::DivUIOp::create(b, tid, c(warp));
    Value count = arith::SubIOp::create(b, end, begin);
    return forEach(em, warpId, count, c(threads / warp), [&](Value i) {
      Value dst = toIndex(memref::LoadOp::create(b, positions, ValueRange{i}));
      Value r = arith::AddIOp::create(b, begin, i);
      Value token = arith::DivUIOp::create(b, r, c(k));
      Value input = dispatch.getInput();
      em.setSource(dispatch.getSorted(),
                   [&em, input, token](ImplicitLocOpBuilder &, ValueRange idx) {
                     return em.emit(input, ValueRange{token, idx[1]});
                   });
      return forEach(em, lane, c(width), c(warp), [&](Value col) {
        for (const Export &e : stage.exports) {
          if (e.space != kMain)
            continue;
          FailureOr<Value> v = em.emit(e.value, ValueRange{dst, col});
          if (failed(v))
            return failure();
          state.store(e.value, *v, ValueRange{dst, col});
        }
        return success();
      });
    });
  }

  /// Exclusive prefix sum of counts into offsets (written when exported);
  /// leaves the bucket starts in counts. One thread.
  LogicalResult prefixSum(ElementalEmitter &em, Value tid) {
    ImplicitLocOpBuilder &b = this->b();
    Value offsetsValue = exported(kOffsets);
    return ifThen(b, eq(tid, c(0)), [&]() -> LogicalResult {
      Value zero = arith::ConstantOp::create(b, b.getI32IntegerAttr(0));
      FailureOr<SmallVector<Value>> r = em.forLoop(
          c(0), c(experts + 1), c(1), {zero},
          [&](Value e, ValueRange it) -> FailureOr<SmallVector<Value>> {
            Value count = memref::LoadOp::create(b, counts, ValueRange{e});
            memref::StoreOp::create(b, it[0], counts, ValueRange{e});
            if (offsetsValue)
              state.store(offsetsValue, it[0], ValueRange{e});
            return SmallVector<Value>{arith::AddIOp::create(b, it[0], count)};
          });
      return failure(failed(r));
    });
  }

  LogicalResult emitSingleBlock();
  LogicalResult emitMultiBlock(int64_t chunk, int64_t blocks);
};

LogicalResult DispatchEmitter::emitSingleBlock() {
  state.nextLaunch("sort");
  std::string tile = std::to_string(rows) +
                     " assignments in one block, sub-chunks of " +
                     std::to_string(threads);
  if (failed(planSharedMemory(tile, writesSorted() ? rows : 0)))
    return failure();
  ctx().templateName = "moe_dispatch";
  ctx().tileDescription = tile;
  ctx().setLaunch({1, 1, 1}, {threads, 1, 1});
  ElementalEmitter em(b(), ctx().getBindings());
  prepare(em);
  Value tid = ctx().threadId(gpu::Dimension::x);
  Value end = rowCount();
  if (failed(histogram(em, tid, c(0), end)) || failed(prefixSum(em, tid)))
    return failure();
  gpu::BarrierOp::create(b());
  return scatter(em, tid, c(0), end);
}

LogicalResult DispatchEmitter::emitMultiBlock(int64_t chunk, int64_t blocks) {
  std::string tile = std::to_string(blocks) + " blocks of " +
                     std::to_string(chunk) + " assignments, sub-chunks of " +
                     std::to_string(threads);

  // 1. Per-block histograms.
  state.nextLaunch("histogram");
  if (failed(planSharedMemory(tile, 0)))
    return failure();
  ctx().templateName = "moe_dispatch";
  ctx().tileDescription = tile;
  ctx().setLaunch({blocks, 1, 1}, {threads, 1, 1});
  {
    ElementalEmitter em(b(), ctx().getBindings());
    prepare(em);
    Value tid = ctx().threadId(gpu::Dimension::x);
    Value bid = ctx().blockId(gpu::Dimension::x);
    Value begin = arith::MulIOp::create(b(), bid, c(chunk));
    Value end = arith::MinUIOp::create(
        b(), arith::AddIOp::create(b(), begin, c(chunk)), rowCount());
    if (failed(histogram(em, tid, begin, end)))
      return failure();
    Value global = state.getStageScratch(stage);
    if (failed(forEach(em, tid, c(experts + 1), c(threads), [&](Value e) {
          Value n = memref::LoadOp::create(b(), counts, ValueRange{e});
          memref::StoreOp::create(b(), n, global, ValueRange{bid, e});
          return success();
        })))
      return failure();
  }

  // 2. Offsets, and each block's start in every bucket (in place of its
  //    counts).
  state.nextLaunch("scan");
  if (failed(planSharedMemory(tile, 0)))
    return failure();
  ctx().templateName = "moe_dispatch";
  ctx().tileDescription = tile;
  ctx().setLaunch({1, 1, 1}, {threads, 1, 1});
  {
    ElementalEmitter em(b(), ctx().getBindings());
    prepare(em);
    ImplicitLocOpBuilder &b = this->b();
    Value tid = ctx().threadId(gpu::Dimension::x);
    Value global = state.getStageScratch(stage);
    Value zero = arith::ConstantOp::create(b, b.getI32IntegerAttr(0));
    // Per bucket: blocks' starts relative to the bucket, and its total.
    if (failed(forEach(em, tid, c(experts + 1), c(threads), [&](Value e) {
          FailureOr<SmallVector<Value>> total = em.forLoop(
              c(0), c(blocks), c(1), {zero},
              [&](Value p, ValueRange it) -> FailureOr<SmallVector<Value>> {
                Value n = memref::LoadOp::create(b, global, ValueRange{p, e});
                memref::StoreOp::create(b, it[0], global, ValueRange{p, e});
                return SmallVector<Value>{arith::AddIOp::create(b, it[0], n)};
              });
          if (failed(total))
            return failure();
          memref::StoreOp::create(b, (*total)[0], counts, ValueRange{e});
          return success();
        })))
      return failure();
    gpu::BarrierOp::create(b);
    if (failed(prefixSum(em, tid)))
      return failure();
    gpu::BarrierOp::create(b);
    if (failed(forEach(em, tid, c(experts + 1), c(threads), [&](Value e) {
          Value start = memref::LoadOp::create(b, counts, ValueRange{e});
          return forEach(em, c(0), c(blocks), c(1), [&](Value p) {
            Value rel = memref::LoadOp::create(b, global, ValueRange{p, e});
            memref::StoreOp::create(b, arith::AddIOp::create(b, rel, start),
                                    global, ValueRange{p, e});
            return success();
          });
        })))
      return failure();
  }

  // 3. Stable scatter of each block's chunk.
  state.nextLaunch("scatter");
  if (failed(planSharedMemory(tile, writesSorted() ? chunk : 0)))
    return failure();
  ctx().templateName = "moe_dispatch";
  ctx().tileDescription = tile;
  ctx().setLaunch({blocks, 1, 1}, {threads, 1, 1});
  ElementalEmitter em(b(), ctx().getBindings());
  prepare(em);
  Value tid = ctx().threadId(gpu::Dimension::x);
  Value bid = ctx().blockId(gpu::Dimension::x);
  Value global = state.getStageScratch(stage);
  if (failed(forEach(em, tid, c(experts + 1), c(threads), [&](Value e) {
        Value start = memref::LoadOp::create(b(), global, ValueRange{bid, e});
        memref::StoreOp::create(b(), start, counts, ValueRange{e});
        return success();
      })))
    return failure();
  gpu::BarrierOp::create(b());
  Value begin = arith::MulIOp::create(b(), bid, c(chunk));
  Value end = arith::MinUIOp::create(
      b(), arith::AddIOp::create(b(), begin, c(chunk)), rowCount());
  return scatter(em, tid, begin, end);
}
} // namespace

/// Assignments per block: whole sub-chunks of one assignment per thread.
static int64_t getDispatchChunk(const KernelTuning &tuning) {
  return llvm::alignTo(std::max<int64_t>(tuning.tile[0], 1), tuning.threads);
}

int64_t moe::getDispatchBlocks(KernelEmitContext &ctx, DispatchOp dispatch,
                               const KernelTuning &tuning) {
  int64_t rows = getPlanningSize(ctx, dispatch.getInput(), 0) *
                 dispatch.getExpertIds().getType().getDimSize(1);
  return llvm::divideCeil(rows, getDispatchChunk(tuning));
}

LogicalResult moe::emitDispatchStage(MoeEmitState &state, const Stage &stage) {
  auto dispatch = cast<DispatchOp>(stage.ops[0]);
  KernelEmitContext &ctx = state.getContext();
  const KernelTuning &tuning = getTuning(ctx, "moe_dispatch");
  // Planned at the bounds: with run-time extents the blocks past the call's
  // assignments see empty chunks and contribute zero counts.
  SmallVector<int64_t, 2> in{getPlanningSize(ctx, dispatch.getInput(), 0),
                             getPlanningSize(ctx, dispatch.getInput(), 1)};
  int64_t k = dispatch.getExpertIds().getType().getDimSize(1);
  DispatchEmitter emitter{state,
                          stage,
                          dispatch,
                          in[0],
                          in[1],
                          k,
                          in[0] * k,
                          static_cast<int64_t>(dispatch.getNumExperts()),
                          tuning.threads,
                          ctx.getTarget().warpSize,
                          {},
                          {},
                          {}};
  int64_t chunk = getDispatchChunk(tuning);
  int64_t blocks = getDispatchBlocks(ctx, dispatch, tuning);
  if (blocks <= 1)
    return emitter.emitSingleBlock();
  return emitter.emitMultiBlock(chunk, blocks);
}
