//===- BlockGemm.cpp - One block's tiled GEMM main loop -------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/BlockGemm.h"

#include "iolite/Codegen/MatrixCodegen.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;

int64_t BlockGemmShape::accumulatorRegisters() const {
  int64_t perB =
      inst ? mTiles() * nTiles() * inst->c.elementsPerLane() : tm() * tn();
  return numB * perB;
}

int64_t BlockGemmShape::elementBytes() const {
  return inst ? inst->inputBytes() : 4;
}

std::string BlockGemmShape::describe() const {
  std::string s = std::to_string(bm) + "x" + std::to_string(bn) + "x" +
                  std::to_string(bk) + ", " + std::to_string(stages) +
                  " stage(s)";
  if (inst)
    s += ", " + std::to_string(warpsM) + "x" + std::to_string(warpsN) +
         " warps of " + std::to_string(mTiles()) + "x" +
         std::to_string(nTiles()) + " " + inst->name;
  return s;
}

LogicalResult mlir::iolite::fitBlockGemmWarps(BlockGemmShape &shape,
                                              int64_t warps, int64_t budget,
                                              bool keepN) {
  const matrix::Instruction &inst = *shape.inst;
  if (shape.bm % inst.m || shape.bn % inst.n || shape.bk % inst.k)
    return failure();
  for (;;) {
    auto [wm, wn] =
        splitWarpsOverTile(warps, shape.bm, shape.bn, inst.m, inst.n);
    shape.warpsM = wm;
    shape.warpsN = wn;
    if (shape.accumulatorRegisters() <= budget)
      return success();
    // Too many accumulators: halve the larger side of the warp tile.
    int64_t rows = shape.bm / wm, cols = shape.bn / wn;
    if (!keepN && cols > (int64_t)inst.n && (cols >= rows || rows <= inst.m))
      shape.bn /= 2;
    else if (rows > (int64_t)inst.m)
      shape.bm /= 2;
    else
      return success();
  }
}

BlockGemmBuffers mlir::iolite::planBlockGemm(SharedMemoryPlan &plan,
                                             const BlockGemmShape &shape,
                                             unsigned firstPhase,
                                             unsigned lastPhase) {
  BlockGemmBuffers buffers;
  auto bName = [&](unsigned i) {
    return shape.numB == 1 ? std::string("B") : "B" + std::to_string(i);
  };
  int64_t stages = shape.stages, bm = shape.bm, bn = shape.bn, bk = shape.bk;
  if (const matrix::Instruction *inst = shape.inst) {
    // Tiles keep the operand's contiguous dim along their rows: A is
    // [m][k], or [k][m] (read transposed); B is [k][n], or [n][k].
    int64_t e = inst->inputBytes();
    bool ta = !shape.aContiguousInK, tb = shape.bContiguousInK;
    int64_t readA = fragmentReadBytes(*inst, matrix::Operand::A, ta);
    int64_t readB = fragmentReadBytes(*inst, matrix::Operand::B, tb);
    buffers.a =
        ta ? plan.addTile("A", stages, bk, bm, e, readA, firstPhase, lastPhase)
           : plan.addTile("A", stages, bm, bk, e, readA, firstPhase, lastPhase);
    for (unsigned i = 0; i < shape.numB; ++i)
      buffers.b.push_back(tb ? plan.addTile(bName(i), stages, bn, bk, e, readB,
                                            firstPhase, lastPhase)
                             : plan.addTile(bName(i), stages, bk, bn, e, readB,
                                            firstPhase, lastPhase));
    return buffers;
  }
  buffers.a = plan.addBuffer("A", stages * bk * bm * 4, firstPhase, lastPhase);
  for (unsigned i = 0; i < shape.numB; ++i)
    buffers.b.push_back(
        plan.addBuffer(bName(i), stages * bk * bn * 4, firstPhase, lastPhase));
  return buffers;
}

Value mlir::iolite::emitBlockGemmZero(ImplicitLocOpBuilder &b,
                                      const BlockGemmShape &shape) {
  if (shape.inst)
    return emitZeroAccumulator(b, *shape.inst);
  return arith::ConstantOp::create(b, b.getF32FloatAttr(0.0));
}

namespace {
/// The operand tiles of a block GEMM in shared memory and how to fill and
/// multiply them, in either mode.
struct BlockGemmTiles {
  Value a;
  SmallVector<Value, 2> b;
  /// Matrix mode: swizzles of the tiles.
  igpu::SwizzleAttr aSwizzle;
  SmallVector<igpu::SwizzleAttr, 2> bSwizzles;
};
} // namespace

FailureOr<BlockGemmAccumulators> mlir::iolite::emitBlockGemm(
    KernelEmitContext &ctx, ElementalEmitter &em, const BlockGemmShape &shape,
    const BlockGemmBuffers &buffers, const BlockGemmOperands &operands) {
  ImplicitLocOpBuilder &b = ctx.getBuilder();
  auto c = [&](int64_t v) { return em.constIndex(v); };
  Type f32 = b.getF32Type();
  Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0));
  int64_t bm = shape.bm, bn = shape.bn, bk = shape.bk, k = shape.k;
  int64_t threads = shape.threads();
  int64_t stages = shape.stages;
  const matrix::Instruction *inst = shape.inst;
  bool ta = !shape.aContiguousInK, tb = shape.bContiguousInK;
  Value tid = ctx.threadId(gpu::Dimension::x);
  SharedMemoryPlan &plan = ctx.getSharedMemoryPlan();

  BlockGemmTiles tiles;
  if (inst) {
    Type input = igpu::getInputElementType(b.getContext(), *inst);
    tiles.a = ctx.getSharedView(
        buffers.a, MemRefType::get(ta ? ArrayRef<int64_t>{stages * bk, bm}
                                      : ArrayRef<int64_t>{stages * bm, bk},
                                   input));
    tiles.aSwizzle = getSwizzleAttr(b.getContext(), plan.getSwizzle(buffers.a));
    for (unsigned id : buffers.b) {
      tiles.b.push_back(ctx.getSharedView(
          id, MemRefType::get(tb ? ArrayRef<int64_t>{stages * bn, bk}
                                 : ArrayRef<int64_t>{stages * bk, bn},
                              input)));
      tiles.bSwizzles.push_back(
          getSwizzleAttr(b.getContext(), plan.getSwizzle(id)));
    }
  } else {
    tiles.a =
        ctx.getSharedView(buffers.a, MemRefType::get({stages, bk, bm}, f32));
    for (unsigned id : buffers.b)
      tiles.b.push_back(
          ctx.getSharedView(id, MemRefType::get({stages, bk, bn}, f32)));
  }

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
  // Stores element (r, cc) of a tile whose stage `stage` starts at row
  // stage * rows: FMA tiles are f32 [stage][k][m|n], matrix tiles rows of
  // the input type, swizzled (masked elements store zeros either way).
  auto storeElement = [&](Value tile, igpu::SwizzleAttr swizzle, Value stage,
                          int64_t rows, Value r, Value cc, Value v) {
    if (!inst) {
      memref::StoreOp::create(b, v, tile, ValueRange{stage, r, cc});
      return;
    }
    Value row =
        arith::AddIOp::create(b, arith::MulIOp::create(b, stage, c(rows)), r);
    emitStoreTileElement(b, *inst, tile, swizzle, row, cc, v);
  };

  // Matrix tiles staged in runs along their rows (the operand's contiguous
  // dim): `width` elements per load and one vector store, inside one
  // swizzle chunk and 16 bytes.
  auto runWidth = [&](int64_t want, bool haveLoader, igpu::SwizzleAttr swz,
                      int64_t extent) -> int64_t {
    if (!inst || !haveLoader || want <= 1)
      return 1;
    int64_t w = std::min<int64_t>(want, 16 / inst->inputBytes());
    if (swz)
      w = std::min<int64_t>(w, swz.getVec());
    w = (int64_t)llvm::bit_floor((uint64_t)w);
    while (w > 1 && extent % w)
      w /= 2;
    return std::max<int64_t>(w, 1);
  };
  int64_t aWidth = runWidth(shape.aRun, (bool)operands.loadARun, tiles.aSwizzle,
                            shape.aContiguousInK ? bk : bm);
  SmallVector<int64_t, 2> bWidths;
  for (unsigned bi = 0; bi < shape.numB; ++bi)
    bWidths.push_back(runWidth(shape.bRun, (bool)operands.loadBRun,
                               inst ? tiles.bSwizzles[bi] : nullptr,
                               shape.bContiguousInK ? bk : bn));
  // values = inBounds ? load() : zeros, for runs.
  auto guardedRun = [&](Value inBounds, int64_t width,
                        function_ref<FailureOr<SmallVector<Value>>()> load)
      -> FailureOr<SmallVector<Value>> {
    if (!inBounds)
      return load();
    return em.ifThenElse(inBounds, SmallVector<Type>(width, f32), load,
                         [&]() -> FailureOr<SmallVector<Value>> {
                           return SmallVector<Value>(width, zero);
                         });
  };

  auto loadTiles = [&](Value kt, Value stage) -> LogicalResult {
    Value k0 = arith::MulIOp::create(b, kt, c(bk));
    // A element (m, kk): FMA [stage, kk, m]; matrix [m][kk] or [kk][m].
    auto storeA = [&](Value m, Value kk) -> LogicalResult {
      Value gk = arith::AddIOp::create(b, k0, kk);
      Value ok =
          andOpt(operands.rowInBounds ? operands.rowInBounds(m) : Value(),
                 kInBounds(gk));
      if (aWidth > 1) {
        FailureOr<SmallVector<Value>> vs = guardedRun(
            ok, aWidth, [&]() { return operands.loadARun(m, gk, aWidth); });
        if (failed(vs))
          return failure();
        Value row = arith::AddIOp::create(
            b, arith::MulIOp::create(b, stage, c(ta ? bk : bm)), ta ? kk : m);
        emitStoreTileRun(b, *inst, tiles.a, tiles.aSwizzle, row, ta ? m : kk,
                         *vs);
        return success();
      }
      FailureOr<Value> v = guarded(ok, [&]() { return operands.loadA(m, gk); });
      if (failed(v))
        return failure();
      if (!inst || ta)
        storeElement(tiles.a, tiles.aSwizzle, stage, bk, kk, m, *v);
      else
        storeElement(tiles.a, tiles.aSwizzle, stage, bm, m, kk, *v);
      return success();
    };
    // Runs of aWidth along the contiguous dim (the inner index).
    auto scaled = [&](Value x, int64_t w) -> Value {
      return w > 1 ? (Value)arith::MulIOp::create(b, x, c(w)) : x;
    };
    FailureOr<SmallVector<Value>> la =
        shape.aContiguousInK
            ? loadTile(bm, bk / aWidth,
                       [&](Value m, Value kr) {
                         return storeA(m, scaled(kr, aWidth));
                       })
            : loadTile(bk, bm / aWidth, [&](Value kk, Value mr) {
                return storeA(scaled(mr, aWidth), kk);
              });
    if (failed(la))
      return failure();
    for (unsigned bi = 0; bi < shape.numB; ++bi) {
      int64_t bWidth = bWidths[bi];
      // B element (kk, n): FMA [stage, kk, n]; matrix [kk][n] or [n][kk].
      auto storeB = [&](Value kk, Value n) -> LogicalResult {
        Value gk = arith::AddIOp::create(b, k0, kk);
        Value ok =
            andOpt(kInBounds(gk),
                   operands.colInBounds ? operands.colInBounds(n) : Value());
        igpu::SwizzleAttr swizzle = inst ? tiles.bSwizzles[bi] : nullptr;
        if (bWidth > 1) {
          FailureOr<SmallVector<Value>> vs = guardedRun(ok, bWidth, [&]() {
            return operands.loadBRun(bi, gk, n, bWidth);
          });
          if (failed(vs))
            return failure();
          Value row = arith::AddIOp::create(
              b, arith::MulIOp::create(b, stage, c(tb ? bn : bk)), tb ? n : kk);
          emitStoreTileRun(b, *inst, tiles.b[bi], swizzle, row, tb ? kk : n,
                           *vs);
          return success();
        }
        FailureOr<Value> v =
            guarded(ok, [&]() { return operands.loadB(bi, gk, n); });
        if (failed(v))
          return failure();
        if (inst && tb)
          storeElement(tiles.b[bi], swizzle, stage, bn, n, kk, *v);
        else
          storeElement(tiles.b[bi], swizzle, stage, bk, kk, n, *v);
        return success();
      };
      FailureOr<SmallVector<Value>> lb =
          shape.bContiguousInK
              ? loadTile(bn, bk / bWidth,
                         [&](Value n, Value kr) {
                           return storeB(scaled(kr, bWidth), n);
                         })
              : loadTile(bk, bn / bWidth, [&](Value kk, Value nr) {
                  return storeB(kk, scaled(nr, bWidth));
                });
      if (failed(lb))
        return failure();
    }
    return success();
  };

  // The accumulator update over one staged K tile; `acc` holds numB
  // accumulator sets back to back.
  int64_t perB = shape.accumulatorsPerB();
  Value tRow, tCol, warpM, warpN;
  if (inst) {
    Value warp = arith::DivUIOp::create(b, tid, c(shape.warpSize));
    warpM = arith::DivUIOp::create(b, warp, c(shape.warpsN));
    warpN = arith::RemUIOp::create(b, warp, c(shape.warpsN));
  } else {
    tRow = arith::DivUIOp::create(b, tid, c(shape.tx));
    tCol = arith::RemUIOp::create(b, tid, c(shape.tx));
  }
  // Matrix mode: each warp's (mTiles x nTiles) instruction tiles through
  // iolite_gpu.mma, every A fragment loaded once for all B operands.
  auto computeMatrixTile = [&](Value stage, ValueRange acc) {
    Value mOff = arith::MulIOp::create(b, warpM, c(shape.mTiles() * inst->m));
    Value nOff = arith::MulIOp::create(b, warpN, c(shape.nTiles() * inst->n));
    auto stageRow = [&](int64_t rows) -> Value {
      return arith::MulIOp::create(b, stage, c(rows));
    };
    MatrixTileOperand a;
    a.tile = tiles.a;
    a.swizzle = tiles.aSwizzle;
    a.transpose = ta;
    a.row0 = ta ? stageRow(bk) : arith::AddIOp::create(b, stageRow(bm), mOff);
    a.col0 = ta ? mOff : c(0);
    SmallVector<MatrixTileOperand, 2> bs;
    for (unsigned bi = 0; bi < shape.numB; ++bi) {
      MatrixTileOperand op;
      op.tile = tiles.b[bi];
      op.swizzle = tiles.bSwizzles[bi];
      op.transpose = tb;
      op.row0 =
          tb ? arith::AddIOp::create(b, stageRow(bn), nOff) : stageRow(bk);
      op.col0 = tb ? c(0) : nOff;
      bs.push_back(op);
    }
    return emitWarpTileProduct(b, *inst, a, bs, shape.mTiles(), shape.nTiles(),
                               shape.kSteps(), acc);
  };
  // FMA mode: every product goes through emitSharedTileMatmul, the
  // framework's one block tile product.
  auto computeTile = [&](Value stage,
                         ValueRange acc) -> FailureOr<SmallVector<Value>> {
    if (inst)
      return computeMatrixTile(stage, acc);
    SharedTileOperand aOp;
    aOp.tile = tiles.a;
    aOp.prefix = {stage};
    aOp.reductionMajor = true;
    aOp.threadOffset = tRow;
    aOp.stride = shape.ty;
    aOp.count = shape.tm();
    SmallVector<Value> next;
    for (unsigned bi = 0; bi < shape.numB; ++bi) {
      SharedTileOperand bOp;
      bOp.tile = tiles.b[bi];
      bOp.prefix = {stage};
      bOp.reductionMajor = true;
      bOp.threadOffset = tCol;
      bOp.stride = shape.tx;
      bOp.count = shape.tn();
      SmallVector<Value> updated =
          emitSharedTileMatmul(b, aOp, bOp, bk, acc.slice(bi * perB, perB));
      next.append(updated.begin(), updated.end());
    }
    return next;
  };

  int64_t numK = (int64_t)llvm::divideCeil(k, bk);
  SmallVector<Value> init(perB * shape.numB, emitBlockGemmZero(b, shape));
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
  BlockGemmAccumulators result;
  for (unsigned bi = 0; bi < shape.numB; ++bi)
    result.emplace_back(acc->begin() + bi * perB,
                        acc->begin() + (bi + 1) * perB);
  return result;
}

LogicalResult mlir::iolite::forEachBlockGemmElement(
    ImplicitLocOpBuilder &b, const BlockGemmShape &shape, Value tid,
    const BlockGemmAccumulators &acc,
    function_ref<LogicalResult(const BlockGemmElement &)> body) {
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, v);
  };
  auto add = [&](Value x, int64_t v) -> Value {
    return v ? (Value)arith::AddIOp::create(b, x, c(v)) : x;
  };
  BlockGemmElement element;
  if (!shape.inst) {
    int64_t tm = shape.tm(), tn = shape.tn();
    Value tRow = arith::DivUIOp::create(b, tid, c(shape.tx));
    Value tCol = arith::RemUIOp::create(b, tid, c(shape.tx));
    for (int64_t i = 0; i < tm; ++i) {
      for (int64_t j = 0; j < tn; ++j) {
        element.row = add(tRow, i * shape.ty);
        element.col = add(tCol, j * shape.tx);
        element.values.clear();
        for (const SmallVector<Value> &set : acc)
          element.values.push_back(set[i * tn + j]);
        if (failed(body(element)))
          return failure();
      }
    }
    return success();
  }
  // Matrix mode: (lane, element) -> (row, col) through the C layout.
  const matrix::Instruction &inst = *shape.inst;
  int64_t mTiles = shape.mTiles(), nTiles = shape.nTiles();
  Value warp = arith::DivUIOp::create(b, tid, c(shape.warpSize));
  Value lane = arith::RemUIOp::create(b, tid, c(shape.warpSize));
  Value rowBase = arith::MulIOp::create(
      b, arith::DivUIOp::create(b, warp, c(shape.warpsN)), c(mTiles * inst.m));
  Value colBase = arith::MulIOp::create(
      b, arith::RemUIOp::create(b, warp, c(shape.warpsN)), c(nTiles * inst.n));
  FragmentCoords coords(b, inst.c, lane);
  int64_t perTile = inst.c.elementsPerLane();
  for (int64_t i = 0; i < mTiles; ++i) {
    for (int64_t j = 0; j < nTiles; ++j) {
      for (int64_t e = 0; e < perTile; ++e) {
        element.row =
            arith::AddIOp::create(b, add(rowBase, i * inst.m), coords.row(e));
        element.col =
            arith::AddIOp::create(b, add(colBase, j * inst.n), coords.col(e));
        element.values.clear();
        for (const SmallVector<Value> &set : acc)
          element.values.push_back(
              vector::ExtractOp::create(b, set[i * nTiles + j], e));
        if (failed(body(element)))
          return failure();
      }
    }
  }
  return success();
}
