//===- MoeCombine.cpp - Weighted combine through the inverse permutation --===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// y[t] = sum_j weights[t, j] * input[s(t, j)] with row_index[s(t, j)] =
// t*k + j, summed in f32 in slot order. The combine gathers: the inverse
// permutation is built in kernel scratch first (filled with -1, then
// inv[row_index[s]] = s with an integer atomic max, so a malformed row index
// with repeats picks the last s as the reference does and the result never
// depends on timing), then a block owns a tile of tokens x columns, stages
// its tokens' slots and weights in shared memory, and reads each expert
// output row once, coalesced along the columns. Deterministic: no float
// atomics, one thread sums each output element in slot order.
//
//===----------------------------------------------------------------------===//

#include "Moe.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::moe;

LogicalResult moe::emitCombineStage(MoeEmitState &state, const Stage &stage) {
  auto combine = cast<CombineOp>(stage.ops[0]);
  KernelEmitContext &primary = state.getContext();
  const KernelTuning &tuning = getTuning(primary, "moe_combine");
  // Rows and tokens at the bounds with run-time extents (tiles); grids,
  // guards and loops use the call's counts.
  int64_t n = combine.getInput().getType().getDimSize(1);
  int64_t tokens = getPlanningSize(primary, combine.getWeights(), 0);
  int64_t k = combine.getWeights().getType().getDimSize(1);
  int64_t threads = tuning.threads;
  // One row per thread over the call's rows.
  auto rowBlocks = [&](KernelEmitContext &ctx) {
    return std::array<GridExtent, 3>{
        GridExtent{ctx.getDimExpr(combine.getInput(), 0), threads},
        GridExtent::constant(1), GridExtent::constant(1)};
  };
  // Each launch below has its own context and builder.
  auto globalId = [&](KernelEmitContext &ctx) -> Value {
    ImplicitLocOpBuilder &b = ctx.getBuilder();
    return arith::AddIOp::create(
        b,
        arith::MulIOp::create(b, ctx.blockId(gpu::Dimension::x),
                              constIndex(b, threads)),
        ctx.threadId(gpu::Dimension::x));
  };

  // 1. inv = -1.
  state.nextLaunch("invert_init");
  {
    KernelEmitContext &ctx = state.getContext();
    ImplicitLocOpBuilder &b = ctx.getBuilder();
    ctx.templateName = "moe_combine";
    ctx.tileDescription = "1 row per thread";
    ctx.setLaunch(rowBlocks(ctx), {threads, 1, 1});
    Value s = globalId(ctx);
    Value inv = state.getStageScratch(stage);
    Value rows = getExtentValue(ctx, combine.getInput(), 0);
    if (failed(ifThen(b, cmpLt(b, s, rows), [&]() {
          memref::StoreOp::create(
              b, arith::ConstantOp::create(b, b.getI32IntegerAttr(-1)), inv,
              ValueRange{s});
          return success();
        })))
      return failure();
  }

  // 2. inv[row_index[s]] = max s.
  state.nextLaunch("invert");
  {
    KernelEmitContext &ctx = state.getContext();
    ImplicitLocOpBuilder &b = ctx.getBuilder();
    auto c = [&](int64_t v) { return constIndex(b, v); };
    ctx.templateName = "moe_combine";
    ctx.tileDescription = "1 row per thread";
    ctx.setLaunch(rowBlocks(ctx), {threads, 1, 1});
    ElementalEmitter em(b, ctx.getBindings());
    ctx.prepare(em);
    state.installSources(em);
    Value s = globalId(ctx);
    Value inv = state.getStageScratch(stage);
    Value rows = getExtentValue(ctx, combine.getInput(), 0);
    if (failed(ifThen(b, cmpLt(b, s, rows), [&]() -> LogicalResult {
          FailureOr<Value> r = em.emit(combine.getRowIndex(), ValueRange{s});
          if (failed(r))
            return failure();
          Value ri = arith::IndexCastOp::create(b, b.getIndexType(), *r);
          Value ok = arith::AndIOp::create(
              b, arith::CmpIOp::create(b, arith::CmpIPredicate::sge, ri, c(0)),
              cmpLt(b, ri, rows));
          return ifThen(b, ok, [&]() {
            memref::AtomicRMWOp::create(
                b, arith::AtomicRMWKind::maxs,
                arith::IndexCastOp::create(b, b.getI32Type(), s), inv,
                ValueRange{ri});
            return success();
          });
        })))
      return failure();
  }

  // 3. The weighted sums.
  int64_t bt = std::min<int64_t>(tuning.tile[0], tokens);
  int64_t bn = std::min<int64_t>(tuning.tile[1], llvm::PowerOf2Ceil(n));
  state.nextLaunch("combine");
  KernelEmitContext &ctx = state.getContext();
  ImplicitLocOpBuilder &b = ctx.getBuilder();
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto c = [&](int64_t v) { return constIndex(b, v); };
  SharedMemoryPlan &plan = ctx.getSharedMemoryPlan();
  unsigned slotsBuf = plan.addBuffer("slots", bt * k * 4, 0, 0);
  unsigned weightsBuf = plan.addBuffer("weights", bt * k * 4, 0, 0);
  std::string tile = "combine tile " + std::to_string(bt) + " tokens x " +
                     std::to_string(bn) + " columns, " + std::to_string(k) +
                     " slots";
  if (failed(ctx.finalizeSharedMemory(tile)))
    return failure();
  ctx.templateName = "moe_combine";
  ctx.tileDescription = tile;
  ctx.setLaunch({GridExtent::constant(llvm::divideCeil(n, bn)),
                 GridExtent{ctx.getDimExpr(combine.getWeights(), 0), bt},
                 GridExtent::constant(1)},
                {threads, 1, 1});
  ElementalEmitter em(b, ctx.getBindings());
  ctx.prepare(em);
  state.installSources(em);
  Value tokenCount = getExtentValue(ctx, combine.getWeights(), 0);
  Value tid = ctx.threadId(gpu::Dimension::x);
  Value n0 = arith::MulIOp::create(b, ctx.blockId(gpu::Dimension::x), c(bn));
  Value t0 = arith::MulIOp::create(b, ctx.blockId(gpu::Dimension::y), c(bt));
  Value inv = state.getStageScratch(stage);
  Value slots = ctx.getSharedView(slotsBuf, MemRefType::get({bt, k}, i32));
  Value weights = ctx.getSharedView(weightsBuf, MemRefType::get({bt, k}, f32));
  if (failed(forEach(em, tid, c(bt * k), c(threads), [&](Value e) {
        Value lt = arith::DivUIOp::create(b, e, c(k));
        Value j = arith::RemUIOp::create(b, e, c(k));
        Value t = arith::AddIOp::create(b, t0, lt);
        return ifThen(b, cmpLt(b, t, tokenCount), [&]() -> LogicalResult {
          Value r =
              arith::AddIOp::create(b, arith::MulIOp::create(b, t, c(k)), j);
          Value s = memref::LoadOp::create(b, inv, ValueRange{r});
          memref::StoreOp::create(b, s, slots, ValueRange{lt, j});
          FailureOr<Value> w = em.emit(combine.getWeights(), ValueRange{t, j});
          if (failed(w))
            return failure();
          memref::StoreOp::create(b, *w, weights, ValueRange{lt, j});
          return success();
        });
      })))
    return failure();
  gpu::BarrierOp::create(b);

  return forEach(em, tid, c(bt * bn), c(threads), [&](Value e) {
    Value lt = arith::DivUIOp::create(b, e, c(bn));
    Value col =
        arith::AddIOp::create(b, n0, arith::RemUIOp::create(b, e, c(bn)));
    Value t = arith::AddIOp::create(b, t0, lt);
    Value ok = cmpLt(b, t, tokenCount);
    if (n % bn)
      ok = arith::AndIOp::create(b, ok, cmpLt(b, col, c(n)));
    return ifThen(b, ok, [&]() -> LogicalResult {
      Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0));
      FailureOr<SmallVector<Value>> sum = em.forLoop(
          c(0), c(k), c(1), {zero},
          [&](Value j, ValueRange it) -> FailureOr<SmallVector<Value>> {
            Value s = memref::LoadOp::create(b, slots, ValueRange{lt, j});
            Value has = arith::CmpIOp::create(
                b, arith::CmpIPredicate::sge, s,
                arith::ConstantOp::create(b, b.getI32IntegerAttr(0)));
            FailureOr<SmallVector<Value>> next = em.ifThenElse(
                has, f32,
                [&]() -> FailureOr<SmallVector<Value>> {
                  Value si = arith::IndexCastOp::create(b, b.getIndexType(), s);
                  FailureOr<Value> x =
                      em.emit(combine.getInput(), ValueRange{si, col});
                  if (failed(x))
                    return failure();
                  Value w =
                      memref::LoadOp::create(b, weights, ValueRange{lt, j});
                  return SmallVector<Value>{arith::AddFOp::create(
                      b, it[0], arith::MulFOp::create(b, w, *x))};
                },
                [&]() -> FailureOr<SmallVector<Value>> {
                  return SmallVector<Value>{it[0]};
                });
            return next;
          });
      if (failed(sum))
        return failure();
      Type et = combine.getType().getElementType();
      Value y = convertToCompute(b, convertToStorage(b, (*sum)[0], et));
      em.setSource(combine.getResult(),
                   [y](ImplicitLocOpBuilder &, ValueRange) {
                     return FailureOr<Value>(y);
                   });
      for (const Export &ex : stage.exports) {
        FailureOr<Value> v = em.emit(ex.value, ValueRange{t, col});
        if (failed(v))
          return failure();
        state.store(ex.value, *v, ValueRange{t, col});
      }
      return success();
    });
  });
}
