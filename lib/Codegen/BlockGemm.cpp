//===- BlockGemm.cpp - One block's tiled GEMM main loop -------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/BlockGemm.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;

std::string BlockGemmShape::describe() const {
  return std::to_string(bm) + "x" + std::to_string(bn) + "x" +
         std::to_string(bk) + ", " + std::to_string(stages) + " stage(s)";
}

BlockGemmBuffers mlir::iolite::planBlockGemm(SharedMemoryPlan &plan,
                                             const BlockGemmShape &shape,
                                             unsigned firstPhase,
                                             unsigned lastPhase) {
  BlockGemmBuffers buffers;
  buffers.a = plan.addBuffer("A", shape.stages * shape.bk * shape.bm * 4,
                             firstPhase, lastPhase);
  for (unsigned i = 0; i < shape.numB; ++i)
    buffers.b.push_back(plan.addBuffer(
        shape.numB == 1 ? "B" : "B" + std::to_string(i),
        shape.stages * shape.bk * shape.bn * 4, firstPhase, lastPhase));
  return buffers;
}

Value mlir::iolite::blockGemmRow(ImplicitLocOpBuilder &b,
                                 const BlockGemmShape &shape, Value tid,
                                 int64_t i) {
  Value row = arith::DivUIOp::create(
      b, tid, arith::ConstantIndexOp::create(b, shape.tx));
  return arith::AddIOp::create(b, row,
                               arith::ConstantIndexOp::create(b, i * shape.ty));
}

Value mlir::iolite::blockGemmCol(ImplicitLocOpBuilder &b,
                                 const BlockGemmShape &shape, Value tid,
                                 int64_t j) {
  Value col = arith::RemUIOp::create(
      b, tid, arith::ConstantIndexOp::create(b, shape.tx));
  return arith::AddIOp::create(b, col,
                               arith::ConstantIndexOp::create(b, j * shape.tx));
}

FailureOr<SmallVector<SmallVector<Value>>> mlir::iolite::emitBlockGemm(
    KernelEmitContext &ctx, ElementalEmitter &em, const BlockGemmShape &shape,
    const BlockGemmBuffers &buffers, const BlockGemmOperands &operands) {
  ImplicitLocOpBuilder &b = ctx.getBuilder();
  auto c = [&](int64_t v) { return em.constIndex(v); };
  Type f32 = b.getF32Type();
  Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0));
  int64_t bm = shape.bm, bn = shape.bn, bk = shape.bk, k = shape.k;
  int64_t threads = shape.threads(), tm = shape.tm(), tn = shape.tn();
  int64_t stages = shape.stages;
  Value tid = ctx.threadId(gpu::Dimension::x);

  Value aTile =
      ctx.getSharedView(buffers.a, MemRefType::get({stages, bk, bm}, f32));
  SmallVector<Value> bTiles;
  for (unsigned id : buffers.b)
    bTiles.push_back(
        ctx.getSharedView(id, MemRefType::get({stages, bk, bn}, f32)));

  auto andOpt = [&](Value x, Value y) -> Value {
    if (!x)
      return y;
    if (!y)
      return x;
    return arith::AndIOp::create(b, x, y);
  };
  bool kRagged = k % bk != 0;
  auto kInBounds = [&](Value gk) -> Value {
    if (!kRagged)
      return Value();
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, gk, c(k));
  };
  // value = inBounds ? load() : 0
  auto guarded =
      [&](Value inBounds,
          function_ref<FailureOr<Value>()> load) -> FailureOr<Value> {
    if (!inBounds)
      return load();
    FailureOr<SmallVector<Value>> r = em.ifThenElse(
        inBounds, f32,
        [&]() -> FailureOr<SmallVector<Value>> {
          FailureOr<Value> v = load();
          if (failed(v))
            return failure();
          return SmallVector<Value>{*v};
        },
        [&]() -> FailureOr<SmallVector<Value>> {
          return SmallVector<Value>{zero};
        });
    if (failed(r))
      return failure();
    return (*r)[0];
  };

  // Cooperative load of one operand tile: consecutive threads take
  // consecutive `inner` indices.
  auto loadTile = [&](int64_t outer, int64_t inner,
                      function_ref<LogicalResult(Value o, Value i)> body) {
    return em.forLoop(
        tid, c(outer * inner), c(threads), {},
        [&](Value e, ValueRange) -> FailureOr<SmallVector<Value>> {
          Value o = arith::DivUIOp::create(b, e, c(inner));
          Value i = arith::RemUIOp::create(b, e, c(inner));
          if (failed(body(o, i)))
            return failure();
          return SmallVector<Value>{};
        });
  };

  auto loadTiles = [&](Value kt, Value stage) -> LogicalResult {
    Value k0 = arith::MulIOp::create(b, kt, c(bk));
    // A: aTile[stage, kk, m].
    auto storeA = [&](Value m, Value kk) -> LogicalResult {
      Value gk = arith::AddIOp::create(b, k0, kk);
      Value ok =
          andOpt(operands.rowInBounds ? operands.rowInBounds(m) : Value(),
                 kInBounds(gk));
      FailureOr<Value> v = guarded(ok, [&]() { return operands.loadA(m, gk); });
      if (failed(v))
        return failure();
      memref::StoreOp::create(b, *v, aTile, ValueRange{stage, kk, m});
      return success();
    };
    FailureOr<SmallVector<Value>> la =
        operands.aContiguousInK
            ? loadTile(bm, bk, [&](Value m, Value kk) { return storeA(m, kk); })
            : loadTile(bk, bm,
                       [&](Value kk, Value m) { return storeA(m, kk); });
    if (failed(la))
      return failure();
    for (auto [bi, bTile] : llvm::enumerate(bTiles)) {
      unsigned index = bi;
      Value tileB = bTile;
      auto storeB = [&](Value kk, Value n) -> LogicalResult {
        Value gk = arith::AddIOp::create(b, k0, kk);
        Value ok =
            andOpt(kInBounds(gk),
                   operands.colInBounds ? operands.colInBounds(n) : Value());
        FailureOr<Value> v =
            guarded(ok, [&]() { return operands.loadB(index, gk, n); });
        if (failed(v))
          return failure();
        memref::StoreOp::create(b, *v, tileB, ValueRange{stage, kk, n});
        return success();
      };
      FailureOr<SmallVector<Value>> lb =
          operands.bContiguousInK
              ? loadTile(bn, bk,
                         [&](Value n, Value kk) { return storeB(kk, n); })
              : loadTile(bk, bn,
                         [&](Value kk, Value n) { return storeB(kk, n); });
      if (failed(lb))
        return failure();
    }
    return success();
  };

  // The register-tile update over one staged K tile; `acc` holds numB
  // register tiles back to back. Every product goes through
  // emitSharedTileMatmul, the framework's one block tile product.
  int64_t perB = tm * tn;
  Value tRow = blockGemmRow(b, shape, tid, 0);
  Value tCol = blockGemmCol(b, shape, tid, 0);
  auto computeTile = [&](Value stage,
                         ValueRange acc) -> FailureOr<SmallVector<Value>> {
    SharedTileOperand aOp;
    aOp.tile = aTile;
    aOp.prefix = {stage};
    aOp.reductionMajor = true;
    aOp.threadOffset = tRow;
    aOp.stride = shape.ty;
    aOp.count = tm;
    SmallVector<Value> next;
    for (auto [bi, bTile] : llvm::enumerate(bTiles)) {
      SharedTileOperand bOp;
      bOp.tile = bTile;
      bOp.prefix = {stage};
      bOp.reductionMajor = true;
      bOp.threadOffset = tCol;
      bOp.stride = shape.tx;
      bOp.count = tn;
      SmallVector<Value> updated =
          emitSharedTileMatmul(b, aOp, bOp, bk, acc.slice(bi * perB, perB));
      next.append(updated.begin(), updated.end());
    }
    return next;
  };

  int64_t numK = (int64_t)llvm::divideCeil(k, bk);
  SmallVector<Value> init(perB * shape.numB, zero);
  FailureOr<SmallVector<Value>> acc;
  auto lt = [&](Value x, int64_t bound) -> Value {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, c(bound));
  };
  if (stages == 2) {
    // The next tile loads while this one is used: one barrier per step.
    if (failed(loadTiles(c(0), c(0))))
      return failure();
    gpu::BarrierOp::create(b);
    acc = em.forLoop(
        c(0), c(numK), c(1), init,
        [&](Value kt, ValueRange it) -> FailureOr<SmallVector<Value>> {
          Value stage = arith::RemUIOp::create(b, kt, c(2));
          Value next = arith::AddIOp::create(b, kt, c(1));
          auto ifOp = scf::IfOp::create(b, lt(next, numK), false);
          {
            OpBuilder::InsertionGuard g(b);
            b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
            Value other = arith::SubIOp::create(b, c(1), stage);
            if (failed(loadTiles(next, other)))
              return failure();
          }
          FailureOr<SmallVector<Value>> r = computeTile(stage, it);
          gpu::BarrierOp::create(b);
          return r;
        });
  } else {
    acc = em.forLoop(
        c(0), c(numK), c(1), init,
        [&](Value kt, ValueRange it) -> FailureOr<SmallVector<Value>> {
          gpu::BarrierOp::create(b);
          if (failed(loadTiles(kt, c(0))))
            return failure();
          gpu::BarrierOp::create(b);
          return computeTile(c(0), it);
        });
  }
  if (failed(acc))
    return failure();
  // Both paths end with every thread done reading the tiles.
  if (stages != 2)
    gpu::BarrierOp::create(b);
  SmallVector<SmallVector<Value>> result;
  for (unsigned bi = 0; bi < shape.numB; ++bi)
    result.emplace_back(acc->begin() + bi * perB,
                        acc->begin() + (bi + 1) * perB);
  return result;
}
