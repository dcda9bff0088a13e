//===- Matmul.cpp - Tiled matmul with fused prologue and epilogue ---------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Kernels rooted at one (batched) iolite.matmul. Each block computes a BMxBN
// output tile; the K dimension is walked in BK steps whose A and B tiles are
// staged in shared memory (double-buffered when the target's default shared
// memory has room: the next tile loads while the current one is used, one
// barrier per step). Each thread keeps a TMxTN register tile of f32
// accumulators carried through the loops' iter_args, and its multiply-
// accumulate is emitted by emitTileMultiplyAccumulate alone. Operands are
// read through the element emitter (so casts, transposes, broadcasts, rotary
// ... of the inputs fuse into the tile loads), and outputs are written through
// it (bias, activation, residual epilogues).
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/KernelTemplate.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;

namespace {
class MatmulTemplate : public KernelTemplate {
public:
  StringRef getName() const override { return "matmul"; }

  unsigned match(const KernelAnalysis &analysis,
                 const TargetDescription &target) const override {
    auto mm = dyn_cast_or_null<MatmulOp>(analysis.hero);
    if (!mm || !analysis.epilogueAtHeroIndex || !target.getTuning("matmul"))
      return 0;
    return isa<FloatType>(mm.getType().getElementType()) ? 30 : 0;
  }

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override {
    auto mm = cast<MatmulOp>(analysis.hero);
    ArrayRef<int64_t> out = mm.getType().getShape();
    int64_t rank = out.size();
    ArrayRef<int64_t> lhsShape = mm.getLhs().getType().getShape();
    int64_t m = out[rank - 2], n = out[rank - 1];
    int64_t k =
        mm.getTransposeLhs() ? lhsShape[lhsShape.size() - 2] : lhsShape.back();
    ArrayRef<int64_t> batchShape = out.drop_back(2);
    int64_t batch = 1;
    for (int64_t d : batchShape)
      batch *= d;

    const TargetDescription &target = ctx.getTarget();
    const KernelTuning &tuning = *target.getTuning("matmul");
    bool forced = !ctx.getOverrides().matmulTile.empty();
    ArrayRef<int64_t> tile =
        forced ? ArrayRef<int64_t>(ctx.getOverrides().matmulTile)
               : ArrayRef<int64_t>(tuning.tile);
    int64_t threads = tuning.threads;
    int64_t tx = 16, ty = threads / tx;
    int64_t bm = tile[0], bn = tile[1], bk = tile[2];
    if (!forced) {
      // Do not spend a big tile on a small problem.
      bm = std::min(bm, std::max(ty, (int64_t)llvm::PowerOf2Ceil(m)));
      bn = std::min(bn, std::max(tx, (int64_t)llvm::PowerOf2Ceil(n)));
    }
    if (bm % ty || bn % tx || bk <= 0)
      return mm.emitOpError()
             << "matmul tile " << bm << "x" << bn << "x" << bk
             << " does not divide among " << ty << "x" << tx << " threads";
    int64_t tm = bm / ty, tn = bn / tx;

    // Shared memory: A and B tiles (f32), double-buffered if the target's
    // default per-block shared memory has room.
    int64_t stageBytes = (bm + bn) * bk * 4;
    int64_t stages = tuning.stages > 1 && stageBytes * tuning.stages <=
                                              target.sharedMemoryPerBlock
                         ? tuning.stages
                         : 1;
    SharedMemoryPlan &plan = ctx.getSharedMemoryPlan();
    unsigned aBuf = plan.addBuffer("A", stages * bk * bm * 4, 0, 0);
    unsigned bBuf = plan.addBuffer("B", stages * bk * bn * 4, 0, 0);
    std::string tileDesc = "matmul tile " + std::to_string(bm) + "x" +
                           std::to_string(bn) + "x" + std::to_string(bk) +
                           ", " + std::to_string(stages) + " stage(s)";
    if (failed(ctx.finalizeSharedMemory(tileDesc)))
      return failure();
    ctx.templateName = "matmul";
    ctx.tileDescription = tileDesc;
    ctx.setLaunch({(int64_t)llvm::divideCeil(n, bn),
                   (int64_t)llvm::divideCeil(m, bm), batch},
                  {threads, 1, 1});

    ImplicitLocOpBuilder &b = ctx.getBuilder();
    ElementalEmitter em(b, ctx.getBindings());
    auto c = [&](int64_t v) { return em.constIndex(v); };
    Type f32 = b.getF32Type();
    Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0));
    Value tid = ctx.threadId(gpu::Dimension::x);
    Value tCol = arith::RemUIOp::create(b, tid, c(tx));
    Value tRow = arith::DivUIOp::create(b, tid, c(tx));
    Value m0 = arith::MulIOp::create(b, ctx.blockId(gpu::Dimension::y), c(bm));
    Value n0 = arith::MulIOp::create(b, ctx.blockId(gpu::Dimension::x), c(bn));
    SmallVector<Value> batchIdx =
        em.delinearize(ctx.blockId(gpu::Dimension::z), batchShape);
    if (batchShape.empty())
      batchIdx.clear();
    SmallVector<Value> lhsBatch =
        em.broadcastIndex(batchIdx, lhsShape.drop_back(2));
    SmallVector<Value> rhsBatch = em.broadcastIndex(
        batchIdx, mm.getRhs().getType().getShape().drop_back(2));

    Value aTile =
        ctx.getSharedView(aBuf, MemRefType::get({stages, bk, bm}, f32));
    Value bTile =
        ctx.getSharedView(bBuf, MemRefType::get({stages, bk, bn}, f32));

    auto lt = [&](Value x, int64_t bound) -> Value {
      return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, c(bound));
    };
    // value = inBounds ? operand(index) : 0
    auto guardedLoad = [&](Value operand, SmallVector<Value> index,
                           Value inBounds) -> FailureOr<Value> {
      if (!inBounds)
        return em.emit(operand, index);
      FailureOr<SmallVector<Value>> r = em.ifThenElse(
          inBounds, f32,
          [&]() -> FailureOr<SmallVector<Value>> {
            FailureOr<Value> v = em.emit(operand, index);
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
    auto andOpt = [&](Value x, Value y) -> Value {
      if (!x)
        return y;
      if (!y)
        return x;
      return arith::AndIOp::create(b, x, y);
    };
    bool kRagged = k % bk != 0, mRagged = m % bm != 0, nRagged = n % bn != 0;

    // Cooperative load of K tile `kt` into stage `stage`.
    auto loadTiles = [&](Value kt, Value stage) -> LogicalResult {
      Value k0 = arith::MulIOp::create(b, kt, c(bk));
      FailureOr<SmallVector<Value>> la = em.forLoop(
          tid, c(bm * bk), c(threads), {},
          [&](Value e, ValueRange) -> FailureOr<SmallVector<Value>> {
            Value mm_ = arith::DivUIOp::create(b, e, c(bk));
            Value kk = arith::RemUIOp::create(b, e, c(bk));
            Value gm = arith::AddIOp::create(b, m0, mm_);
            Value gk = arith::AddIOp::create(b, k0, kk);
            Value ok = andOpt(mRagged ? lt(gm, m) : Value(),
                              kRagged ? lt(gk, k) : Value());
            SmallVector<Value> idx = lhsBatch;
            if (mm.getTransposeLhs())
              idx.append({gk, gm});
            else
              idx.append({gm, gk});
            FailureOr<Value> v = guardedLoad(mm.getLhs(), idx, ok);
            if (failed(v))
              return failure();
            memref::StoreOp::create(b, *v, aTile, ValueRange{stage, kk, mm_});
            return SmallVector<Value>{};
          });
      if (failed(la))
        return failure();
      FailureOr<SmallVector<Value>> lb = em.forLoop(
          tid, c(bn * bk), c(threads), {},
          [&](Value e, ValueRange) -> FailureOr<SmallVector<Value>> {
            Value kk = arith::DivUIOp::create(b, e, c(bn));
            Value nn = arith::RemUIOp::create(b, e, c(bn));
            Value gk = arith::AddIOp::create(b, k0, kk);
            Value gn = arith::AddIOp::create(b, n0, nn);
            Value ok = andOpt(kRagged ? lt(gk, k) : Value(),
                              nRagged ? lt(gn, n) : Value());
            SmallVector<Value> idx = rhsBatch;
            if (mm.getTransposeRhs())
              idx.append({gn, gk});
            else
              idx.append({gk, gn});
            FailureOr<Value> v = guardedLoad(mm.getRhs(), idx, ok);
            if (failed(v))
              return failure();
            memref::StoreOp::create(b, *v, bTile, ValueRange{stage, kk, nn});
            return SmallVector<Value>{};
          });
      return failure(failed(lb));
    };
    // The register-tile update over one staged K tile.
    auto computeTile = [&](Value stage,
                           ValueRange acc) -> FailureOr<SmallVector<Value>> {
      return em.forLoop(
          c(0), c(bk), c(1), acc,
          [&](Value kk, ValueRange it) -> FailureOr<SmallVector<Value>> {
            SmallVector<Value> aFrag, bFrag;
            for (int64_t i = 0; i < tm; ++i) {
              Value row = arith::AddIOp::create(b, tRow, c(i * ty));
              aFrag.push_back(
                  memref::LoadOp::create(b, aTile, ValueRange{stage, kk, row}));
            }
            for (int64_t j = 0; j < tn; ++j) {
              Value col = arith::AddIOp::create(b, tCol, c(j * tx));
              bFrag.push_back(
                  memref::LoadOp::create(b, bTile, ValueRange{stage, kk, col}));
            }
            return emitTileMultiplyAccumulate(b, aFrag, bFrag, it);
          });
    };

    int64_t numK = (int64_t)llvm::divideCeil(k, bk);
    SmallVector<Value> init(tm * tn, zero);
    FailureOr<SmallVector<Value>> acc;
    if (stages == 2) {
      if (failed(loadTiles(c(0), c(0))))
        return failure();
      gpu::BarrierOp::create(b);
      acc = em.forLoop(
          c(0), c(numK), c(1), init,
          [&](Value kt, ValueRange it) -> FailureOr<SmallVector<Value>> {
            Value stage = arith::RemUIOp::create(b, kt, c(2));
            Value next = arith::AddIOp::create(b, kt, c(1));
            Value hasNext = lt(next, numK);
            auto ifOp = scf::IfOp::create(b, hasNext, false);
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

    // Epilogue: each accumulator through the fused elementwise ops.
    for (int64_t i = 0; i < tm; ++i) {
      for (int64_t j = 0; j < tn; ++j) {
        Value gm = arith::AddIOp::create(
            b, m0, arith::AddIOp::create(b, tRow, c(i * ty)));
        Value gn = arith::AddIOp::create(
            b, n0, arith::AddIOp::create(b, tCol, c(j * tx)));
        Value accValue = (*acc)[i * tn + j];
        em.setSource(mm.getResult(),
                     [accValue](ImplicitLocOpBuilder &, ValueRange) {
                       return FailureOr<Value>(accValue);
                     });
        SmallVector<Value> idx = batchIdx;
        idx.append({gm, gn});
        Value ok = andOpt(mRagged ? lt(gm, m) : Value(),
                          nRagged ? lt(gn, n) : Value());
        OpBuilder::InsertionGuard g(b);
        if (ok) {
          auto ifOp = scf::IfOp::create(b, ok, false);
          b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
        }
        for (auto [o, v] : llvm::enumerate(ctx.getYieldedValues())) {
          FailureOr<Value> x = em.emit(v, idx);
          if (failed(x))
            return failure();
          ctx.storeOutput(o, *x, idx);
        }
      }
    }
    return success();
  }
};
} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createMatmulTemplate() {
  return std::make_unique<MatmulTemplate>();
}
