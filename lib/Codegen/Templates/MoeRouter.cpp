//===- MoeRouter.cpp - Router matmul + scoring + top-k in one launch ------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// A block owns a tile of tokens with all E experts' logits. With the logits
// matmul in the kernel, the block computes the [tokens x E] logits tile with
// the block GEMM (x tile and router weight tile in shared memory; on the
// matrix units for f16/bf16, else f32 register tiles on FMA), writes it to
// shared memory through the fused
// pointwise ops (bias, casts), and then one warp per token scores and selects:
// lanes hold E / warp logits in registers, the softmax max and sum are warp
// all-reduces, and each of the k rounds is a warp arg-max (gpu.shuffle xor
// over score and index) restricted to candidates ranking after the previous
// winner, which gives the reference's order exactly: best first, NaN above
// numbers, ties to the lower expert index. Weights are renormalised by the
// sum of the k winners in slot order. Without the matmul the warps read the
// logits through the element emitter.
//
//===----------------------------------------------------------------------===//

#include "Moe.h"

#include "iolite/Codegen/BlockGemm.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/Support/MathExtras.h"
#include <limits>

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::moe;

namespace {
/// True when (v, i) ranks strictly before (w, j): larger first, NaN above
/// every number, ties to the lower index.
Value ranksBefore(ImplicitLocOpBuilder &b, Value v, Value i, Value w, Value j) {
  using P = arith::CmpFPredicate;
  Value vNan = arith::CmpFOp::create(b, P::UNO, v, v);
  Value wNan = arith::CmpFOp::create(b, P::UNO, w, w);
  Value wNum = arith::CmpFOp::create(b, P::ORD, w, w);
  Value before = arith::OrIOp::create(b, arith::CmpFOp::create(b, P::OGT, v, w),
                                      arith::AndIOp::create(b, vNan, wNum));
  Value equal = arith::OrIOp::create(b, arith::CmpFOp::create(b, P::OEQ, v, w),
                                     arith::AndIOp::create(b, vNan, wNan));
  Value lower = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, i, j);
  return arith::OrIOp::create(b, before,
                              arith::AndIOp::create(b, equal, lower));
}

struct RouterEmitter {
  MoeEmitState &state;
  const Stage &stage;
  RouterOp router;
  MatmulOp matmul;
  /// Tokens at the bounds with run-time extents (tiles are chosen for it).
  int64_t tokens, experts, k;
  unsigned warp;
  /// The call's token count in the current launch (set by the emitters).
  Value tokenCount;
  /// The launch's grid axis over tiles of `tile` tokens.
  GridExtent tokenTiles(int64_t tile) {
    return GridExtent{state.getContext().getDimExpr(router.getLogits(), 0),
                      tile};
  }

  ImplicitLocOpBuilder &b() { return state.getContext().getBuilder(); }
  Value c(int64_t v) { return constIndex(b(), v); }
  Value f(double v) {
    return arith::ConstantOp::create(b(), b().getF32FloatAttr(v));
  }
  Value i32(int64_t v) {
    return arith::ConstantOp::create(b(), b().getI32IntegerAttr(v));
  }

  /// Writes the exports of index space `space` at `index`.
  LogicalResult writeExports(ElementalEmitter &em, ValueRange index,
                             Space space) {
    for (const Export &e : stage.exports) {
      if (e.space != space)
        continue;
      FailureOr<Value> v = em.emit(e.value, index);
      if (failed(v))
        return failure();
      state.store(e.value, *v, index);
    }
    return success();
  }

  /// Scores and selects the experts of token `t` (one warp; `lane` is the
  /// thread's lane). `logit(e)` reads the token's logit of expert e.
  LogicalResult selectToken(ElementalEmitter &em, Value t, Value lane,
                            function_ref<FailureOr<Value>(Value e)> logit) {
    ImplicitLocOpBuilder &b = this->b();
    double inf = std::numeric_limits<double>::infinity();
    int64_t perLane = llvm::divideCeil(experts, warp);
    Value laneI32 = arith::IndexCastOp::create(b, b.getI32Type(), lane);
    SmallVector<Value> logits, ids, valid;
    for (int64_t q = 0; q < perLane; ++q) {
      Value e = arith::AddIOp::create(b, lane, c(q * warp));
      ids.push_back(arith::AddIOp::create(b, laneI32, i32(q * warp)));
      if ((q + 1) * (int64_t)warp <= experts) {
        valid.push_back(arith::ConstantIntOp::create(b, 1, 1));
        FailureOr<Value> l = logit(e);
        if (failed(l))
          return failure();
        logits.push_back(*l);
        continue;
      }
      Value ok = cmpLt(b, e, c(experts));
      valid.push_back(ok);
      FailureOr<SmallVector<Value>> l = em.ifThenElse(
          ok, b.getF32Type(),
          [&]() -> FailureOr<SmallVector<Value>> {
            FailureOr<Value> x = logit(e);
            if (failed(x))
              return failure();
            return SmallVector<Value>{*x};
          },
          [&]() -> FailureOr<SmallVector<Value>> {
            return SmallVector<Value>{f(-inf)};
          });
      if (failed(l))
        return failure();
      logits.push_back((*l)[0]);
    }

    // Scores (f32): softmax over the experts, or an elementwise sigmoid.
    SmallVector<Value> scores;
    if (router.getScoring() == RouterScoring::softmax) {
      Value mx = f(-inf);
      for (Value l : logits)
        mx = arith::MaximumFOp::create(b, mx, l);
      mx = emitWarpAllReduce(b, mx, warp, [&](Value x, Value y) -> Value {
        return arith::MaximumFOp::create(b, x, y);
      });
      SmallVector<Value> exps;
      Value sum = f(0.0);
      for (auto [l, ok] : llvm::zip(logits, valid)) {
        Value e = math::ExpOp::create(b, arith::SubFOp::create(b, l, mx));
        e = arith::SelectOp::create(b, ok, e, f(0.0));
        exps.push_back(e);
        sum = arith::AddFOp::create(b, sum, e);
      }
      sum = emitWarpAllReduce(b, sum, warp, [&](Value x, Value y) -> Value {
        return arith::AddFOp::create(b, x, y);
      });
      for (Value e : exps)
        scores.push_back(arith::DivFOp::create(b, e, sum));
    } else {
      for (Value l : logits)
        scores.push_back(arith::DivFOp::create(
            b, f(1.0),
            arith::AddFOp::create(
                b, f(1.0),
                math::ExpOp::create(b, arith::NegFOp::create(b, l)))));
    }

    // k rounds of warp arg-max over the candidates ranking after the last
    // winner. Lane (j mod warp) keeps slot j's winner.
    int64_t slots = llvm::divideCeil(k, warp);
    Value sentinelId = i32(std::numeric_limits<int32_t>::max());
    SmallVector<Value> init{f(inf), i32(-1), f(0.0)};
    for (int64_t s = 0; s < slots; ++s)
      init.append({f(0.0), i32(0)});
    FailureOr<SmallVector<Value>> rounds = em.forLoop(
        c(0), c(k), c(1), init,
        [&](Value j, ValueRange it) -> FailureOr<SmallVector<Value>> {
          Value prevV = it[0], prevI = it[1], total = it[2];
          Value bestV = f(-inf), bestI = sentinelId;
          Value first =
              arith::CmpIOp::create(b, arith::CmpIPredicate::eq, j, c(0));
          for (auto [v, id, ok] : llvm::zip(scores, ids, valid)) {
            Value after = arith::OrIOp::create(
                b, first, ranksBefore(b, prevV, prevI, v, id));
            Value eligible = arith::AndIOp::create(b, ok, after);
            Value take = arith::AndIOp::create(
                b, eligible, ranksBefore(b, v, id, bestV, bestI));
            bestV = arith::SelectOp::create(b, take, v, bestV);
            bestI = arith::SelectOp::create(b, take, id, bestI);
          }
          for (unsigned offset = warp / 2; offset >= 1; offset /= 2) {
            Value ov =
                gpu::ShuffleOp::create(b, bestV, (int32_t)offset, (int32_t)warp,
                                       gpu::ShuffleMode::XOR)
                    .getShuffleResult();
            Value oi =
                gpu::ShuffleOp::create(b, bestI, (int32_t)offset, (int32_t)warp,
                                       gpu::ShuffleMode::XOR)
                    .getShuffleResult();
            Value take = ranksBefore(b, ov, oi, bestV, bestI);
            bestV = arith::SelectOp::create(b, take, ov, bestV);
            bestI = arith::SelectOp::create(b, take, oi, bestI);
          }
          SmallVector<Value> next{bestV, bestI,
                                  arith::AddFOp::create(b, total, bestV)};
          for (int64_t s = 0; s < slots; ++s) {
            Value mine = arith::CmpIOp::create(
                b, arith::CmpIPredicate::eq, j,
                arith::AddIOp::create(b, lane, c(s * warp)));
            next.push_back(
                arith::SelectOp::create(b, mine, bestV, it[3 + 2 * s]));
            next.push_back(
                arith::SelectOp::create(b, mine, bestI, it[4 + 2 * s]));
          }
          return next;
        });
    if (failed(rounds))
      return failure();
    Value total = (*rounds)[2];
    Type et = router.getWeights().getType().getElementType();
    for (int64_t s = 0; s < slots; ++s) {
      Value j = arith::AddIOp::create(b, lane, c(s * warp));
      Value w = (*rounds)[3 + 2 * s], id = (*rounds)[4 + 2 * s];
      auto write = [&]() -> LogicalResult {
        Value weight = w;
        if (router.getRenormalize())
          weight = arith::DivFOp::create(b, weight, total);
        // The reference rounds the f32 weights to the logits' type.
        weight = convertToCompute(b, convertToStorage(b, weight, et));
        em.setSource(router.getWeights(),
                     [weight](ImplicitLocOpBuilder &, ValueRange) {
                       return FailureOr<Value>(weight);
                     });
        em.setSource(router.getExpertIds(),
                     [id](ImplicitLocOpBuilder &, ValueRange) {
                       return FailureOr<Value>(id);
                     });
        return writeExports(em, ValueRange{t, j}, kMain);
      };
      if ((s + 1) * (int64_t)warp <= k) {
        if (failed(write()))
          return failure();
      } else if (failed(ifThen(b, cmpLt(b, j, c(k)), write))) {
        return failure();
      }
    }
    return success();
  }

  LogicalResult emitWithMatmul();
  LogicalResult emitWithoutMatmul();
};

LogicalResult RouterEmitter::emitWithoutMatmul() {
  state.nextLaunch("router");
  KernelEmitContext &ctx = state.getContext();
  const KernelTuning &tuning = getTuning(ctx, "moe_router");
  int64_t threads = tuning.threads;
  int64_t warps = threads / warp;
  ctx.setLaunch(
      {tokenTiles(warps), GridExtent::constant(1), GridExtent::constant(1)},
      {threads, 1, 1});
  ctx.templateName = "moe_router";
  ctx.tileDescription =
      std::to_string(warps) + " tokens per block, 1 token per warp";
  ImplicitLocOpBuilder &b = this->b();
  ElementalEmitter em(b, ctx.getBindings());
  ctx.prepare(em);
  state.installSources(em);
  tokenCount = getExtentValue(ctx, router.getLogits(), 0);
  Value tid = ctx.threadId(gpu::Dimension::x);
  Value lane = arith::RemUIOp::create(b, tid, c(warp));
  Value t = arith::AddIOp::create(
      b, arith::MulIOp::create(b, ctx.blockId(gpu::Dimension::x), c(warps)),
      arith::DivUIOp::create(b, tid, c(warp)));
  // Whole warps take the branch together, so the shuffles inside are safe.
  return ifThen(b, cmpLt(b, t, tokenCount), [&]() {
    return selectToken(em, t, lane, [&](Value e) {
      return em.emit(router.getLogits(), ValueRange{t, e});
    });
  });
}

LogicalResult RouterEmitter::emitWithMatmul() {
  state.nextLaunch("router");
  KernelEmitContext &ctx = state.getContext();
  const TargetDescription &target = ctx.getTarget();
  ArrayRef<int64_t> lhs = matmul.getLhs().getType().getShape();
  int64_t hidden = matmul.getTransposeLhs() ? lhs[0] : lhs[1];
  Type lhsType = matmul.getLhs().getType().getElementType();
  Type rhsType = matmul.getRhs().getType().getElementType();
  int64_t expertsPow2 = llvm::PowerOf2Ceil(experts);
  MatrixChoice choice = chooseMatrix(ctx, "moe_router_mma", lhsType, rhsType,
                                     llvm::PowerOf2Ceil(tokens), expertsPow2);
  ctx.matrixKind = choice.kindName();
  ctx.matrixReason = choice.reason;

  // The whole [tokens x E] logits tile of a block lives in registers, then
  // in shared memory (within the target's default shared memory).
  BlockGemmShape shape;
  shape.k = hidden;
  shape.aContiguousInK = !matmul.getTransposeLhs();
  shape.bContiguousInK = matmul.getTransposeRhs();
  const KernelTuning *tuning = &getTuning(ctx, "moe_router");
  auto logitsBytes = [&] { return shape.bm * shape.bn * 4; };
  if (const matrix::Instruction *inst = choice.inst) {
    // Warps of instruction tiles over every expert of the tile's tokens.
    tuning = &getTuning(ctx, "moe_router_mma");
    shape.inst = inst;
    shape.warpSize = warp;
    // Tiles are staged in runs along the operands' contiguous dims.
    shape.aRun = getOperandRun(target, matmul.getLhs(),
                               matmul.getTransposeLhs() ? tokens : hidden);
    shape.bRun = getOperandRun(target, matmul.getRhs(),
                               matmul.getTransposeRhs() ? hidden : experts);
    shape.bn = std::max<int64_t>(inst->n, expertsPow2);
    shape.bm = std::min<int64_t>(
        tuning->tile[0],
        std::max<int64_t>(inst->m, llvm::PowerOf2Ceil(tokens)));
    shape.bk = std::max<int64_t>(inst->k, tuning->tile[1]);
    while (shape.bm > inst->m && logitsBytes() > target.sharedMemoryPerBlock)
      shape.bm /= 2;
    if (failed(fitBlockGemmWarps(
            shape, std::max<int64_t>(1, tuning->threads / warp),
            target.matrixAccumulatorsPerThread, /*keepN=*/true)))
      return matmul.emitOpError()
             << "router tile " << shape.bm << "x" << shape.bn << "x" << shape.bk
             << " is not a multiple of the " << inst->name << " instruction ("
             << inst->m << "x" << inst->n << "x" << inst->k << ")";
  } else {
    // Threads along the experts first. As many tokens as the tuning asks
    // (each block reads the whole router weight), within the target's
    // accumulator budget.
    shape.tx = std::min<int64_t>(16, expertsPow2);
    shape.ty = tuning->threads / shape.tx;
    int64_t tn = llvm::divideCeil(experts, shape.tx);
    int64_t tm = std::max<int64_t>(1, tuning->tile[0] / shape.ty);
    while (tm > 1 &&
           (tm * tn > (int64_t)target.accumulatorsPerThread ||
            tm * shape.ty * tn * shape.tx * 4 > target.sharedMemoryPerBlock))
      tm /= 2;
    shape.bm = tm * shape.ty;
    shape.bn = tn * shape.tx;
    shape.bk = tuning->tile[1];
  }
  shape.stages = tuning->stages > 1 && shape.stageBytes() * tuning->stages <=
                                           target.sharedMemoryPerBlock
                     ? tuning->stages
                     : 1;
  int64_t bm = shape.bm, bn = shape.bn;
  int64_t threads = shape.threads();
  int64_t warps = threads / warp;

  SharedMemoryPlan &plan = ctx.getSharedMemoryPlan();
  BlockGemmBuffers buffers = planBlockGemm(plan, shape, 0, 0);
  unsigned logitsBuf = plan.addBuffer("logits", bm * bn * 4, 1, 1);
  std::string tile = "router tile " + std::to_string(bm) + " tokens x " +
                     std::to_string(experts) + " experts, " + shape.describe();
  if (failed(ctx.finalizeSharedMemory(tile)))
    return failure();
  ctx.templateName = "moe_router";
  ctx.tileDescription = tile;
  ctx.setLaunch(
      {tokenTiles(bm), GridExtent::constant(1), GridExtent::constant(1)},
      {threads, 1, 1});

  ImplicitLocOpBuilder &b = this->b();
  ElementalEmitter em(b, ctx.getBindings());
  em.setBufferAlignment(target.maxVectorBytes);
  ctx.prepare(em);
  state.installSources(em);
  tokenCount = getExtentValue(ctx, router.getLogits(), 0);
  Value tid = ctx.threadId(gpu::Dimension::x);
  Value t0 = arith::MulIOp::create(b, ctx.blockId(gpu::Dimension::x), c(bm));
  Value lhsV = matmul.getLhs(), rhsV = matmul.getRhs();
  bool tl = matmul.getTransposeLhs(), tr = matmul.getTransposeRhs();
  BlockGemmOperands ops;
  auto loadA = [&](Value i, Value gk) -> FailureOr<Value> {
    Value t = arith::AddIOp::create(b, t0, i);
    return tl ? em.emit(lhsV, ValueRange{gk, t}) : em.emit(lhsV, {t, gk});
  };
  auto loadB = [&](unsigned, Value gk, Value e) -> FailureOr<Value> {
    return tr ? em.emit(rhsV, ValueRange{e, gk}) : em.emit(rhsV, {gk, e});
  };
  auto rowOk = [&](Value i) -> Value {
    return cmpLt(b, arith::AddIOp::create(b, t0, i), tokenCount);
  };
  auto colOk = [&](Value e) -> Value { return cmpLt(b, e, c(experts)); };
  auto loadARun = [&](Value i, Value gk,
                      int64_t width) -> FailureOr<SmallVector<Value>> {
    Value t = arith::AddIOp::create(b, t0, i);
    return tl ? em.emitRun(lhsV, ValueRange{gk, t}, width)
              : em.emitRun(lhsV, ValueRange{t, gk}, width);
  };
  auto loadBRun = [&](unsigned, Value gk, Value e,
                      int64_t width) -> FailureOr<SmallVector<Value>> {
    return tr ? em.emitRun(rhsV, ValueRange{e, gk}, width)
              : em.emitRun(rhsV, ValueRange{gk, e}, width);
  };
  ops.loadA = loadA;
  ops.loadB = loadB;
  ops.loadARun = loadARun;
  ops.loadBRun = loadBRun;
  if (ctx.hasDynamicExtents() || tokens % bm)
    ops.rowInBounds = rowOk;
  if (bn != experts)
    ops.colInBounds = colOk;
  FailureOr<BlockGemmAccumulators> acc =
      emitBlockGemm(ctx, em, shape, buffers, ops);
  if (failed(acc))
    return failure();

  // Logits through the fused pointwise ops into shared memory (and any
  // yielded logits-space value to global memory).
  Type f32 = b.getF32Type();
  Value logitsTile =
      ctx.getSharedView(logitsBuf, MemRefType::get({bm, bn}, f32));
  Type mmType = matmul.getType().getElementType();
  if (failed(forEachBlockGemmElement(
          b, shape, tid, *acc, [&](const BlockGemmElement &e) -> LogicalResult {
            Value t = arith::AddIOp::create(b, t0, e.row);
            // The matmul's result is rounded to its type, as the reference
            // does.
            Value value =
                convertToCompute(b, convertToStorage(b, e.values[0], mmType));
            Value inBounds = arith::AndIOp::create(b, cmpLt(b, t, tokenCount),
                                                   cmpLt(b, e.col, c(experts)));
            return ifThen(b, inBounds, [&]() -> LogicalResult {
              em.setSource(matmul.getResult(),
                           [value](ImplicitLocOpBuilder &, ValueRange) {
                             return FailureOr<Value>(value);
                           });
              FailureOr<Value> l =
                  em.emit(router.getLogits(), ValueRange{t, e.col});
              if (failed(l))
                return failure();
              memref::StoreOp::create(b, *l, logitsTile,
                                      ValueRange{e.row, e.col});
              return writeExports(em, ValueRange{t, e.col}, kLogits);
            });
          })))
    return failure();
  gpu::BarrierOp::create(b);

  // One warp per token of the tile.
  Value lane = arith::RemUIOp::create(b, tid, c(warp));
  Value warpId = arith::DivUIOp::create(b, tid, c(warp));
  return forEach(em, warpId, c(bm), c(warps), [&](Value row) {
    Value t = arith::AddIOp::create(b, t0, row);
    return ifThen(b, cmpLt(b, t, tokenCount), [&]() {
      return selectToken(em, t, lane, [&](Value e) -> FailureOr<Value> {
        return (Value)memref::LoadOp::create(b, logitsTile, ValueRange{row, e});
      });
    });
  });
}
} // namespace

LogicalResult moe::emitRouterStage(MoeEmitState &state, const Stage &stage) {
  auto router = cast<RouterOp>(stage.ops.back());
  KernelEmitContext &ctx = state.getContext();
  RouterEmitter emitter{state,
                        stage,
                        router,
                        stage.ops.size() == 2 ? cast<MatmulOp>(stage.ops[0])
                                              : MatmulOp(),
                        getPlanningSize(ctx, router.getLogits(), 0),
                        getPlanningSize(ctx, router.getLogits(), 1),
                        static_cast<int64_t>(router.getK()),
                        ctx.getTarget().warpSize,
                        Value()};
  return emitter.matmul ? emitter.emitWithMatmul()
                        : emitter.emitWithoutMatmul();
}
