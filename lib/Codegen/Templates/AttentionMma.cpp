//===- AttentionMma.cpp - Attention on the matrix units -------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The matrix-unit path of the attention template (docs/attention.md):
//
// - `warps` warps stacked along the tile's rows; each owns mTiles
//   instruction tiles of rows. Its Q fragments (the A operands of
//   S = Q K^T) are read once from global memory through the element
//   emitter (prologues fuse) and stay in registers for the whole KV loop.
// - K tiles are staged [key][d] (B of Q K^T stored n-major: ldmatrix on
//   NVIDIA, contiguous LDS runs on AMD), V tiles [key][dv] (B of P V stored
//   k-major: ldmatrix.trans), in the input precision, swizzled by the plan.
// - S accumulators are fragments; logits, the running max and sum and the
//   rescaling of O are applied per accumulator element at the coordinates
//   the instruction table gives, row statistics reduced across the lanes
//   that share a row (shuffle xor over the column lane bits).
// - P becomes the A operand of P V in registers where the accumulator and
//   A layouts line up (mma.sync: two S tiles form one A fragment), else it
//   goes through a shared tile (MFMA).
//
//===----------------------------------------------------------------------===//

#include "Attention.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/bit.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::attention;

namespace {

/// An f32 value in the instruction's input type (TF32: rounded f32).
Value toInput(ImplicitLocOpBuilder &b, const matrix::Instruction &inst,
              Value value) {
  if (inst.input == matrix::ElementType::TF32)
    return emitRoundToTf32(b, value);
  Type input = igpu::getInputElementType(b.getContext(), inst);
  return arith::TruncFOp::create(b, input, value);
}

} // namespace

FailureOr<SmallVector<Value>> AttentionEmitter::loadQFragments() {
  const matrix::Instruction &inst = *p.inst;
  MLIRContext *mctx = b.getContext();
  VectorType fragType = igpu::getFragmentType(mctx, inst, matrix::Operand::A);
  FragmentCoords coords(b, inst.a, lane);
  // Runs of elements contiguous in Q's head dim load together.
  int64_t width = largestDividingWidth(
      igpu::getContiguousFragmentRun(inst.a, /*transpose=*/false, 8), {s.d});
  bool dRagged = p.dPad != s.d;
  SmallVector<Value> frags;
  for (int64_t i = 0; i < p.mTiles; ++i) {
    for (int64_t st = 0; st < p.qkSteps; ++st) {
      SmallVector<Value> elements;
      for (int64_t e = 0; e < (int64_t)inst.a.elementsPerLane(); e += width) {
        Value local = add(add(warpRow0, c(i * inst.m)), coords.row(e));
        FailureOr<RowInfo> row = rowInfo(local, /*withSlope=*/false);
        if (failed(row))
          return failure();
        Value dd = add(coords.col(e), c(st * inst.k));
        Value ok = andOpt(row->valid, dRagged ? lt(dd, c(s.d)) : Value());
        SmallVector<Value> idx = queryIndex(row->qHead, row->qPos, dd);
        auto load = [&]() { return em.emitRun(att.query, idx, width); };
        FailureOr<SmallVector<Value>> values =
            ok ? em.ifThenElse(ok, SmallVector<Type>(width, b.getF32Type()),
                               load,
                               [&]() -> FailureOr<SmallVector<Value>> {
                                 return SmallVector<Value>(width, f(0.0));
                               })
               : load();
        if (failed(values))
          return failure();
        for (Value v : *values)
          elements.push_back(toInput(b, inst, v));
      }
      frags.push_back(vector::FromElementsOp::create(b, fragType, elements));
    }
  }
  return frags;
}

int64_t AttentionEmitter::asyncKVWidth(Value operand, int64_t cols,
                                       int64_t padded) {
  // cp.async with 2 stages, from a [B, Hkv, S, D] kernel argument.
  Value buffer = ctx.getBindings().lookup(operand);
  // A cache's rows are addressed through its length (and page table), which
  // cp.async's unconditional address of a masked run would not respect.
  if (p.stages != 2 || !buffer || att.isCache() ||
      cast<MemRefType>(buffer.getType()).getRank() != 4)
    return 0;
  igpu::SwizzleAttr swizzle = operand == att.key ? kSwizzle : vSwizzle;
  return getAsyncCopyRunWidth(ctx.getTarget(), *p.inst, buffer,
                              swizzle ? swizzle.getVec() : INT64_MAX,
                              {cols, padded}, p.bn, padded, p.threads);
}

LogicalResult AttentionEmitter::loadKVTiles(Value kvTile, Value stage,
                                            SmallVectorImpl<Value> *tokens) {
  const matrix::Instruction &inst = *p.inst;
  const TargetDescription &target = ctx.getTarget();
  Value k0 = mul(kvTile, c(p.bn));
  bool keysRagged = this->keysRagged();
  if (failed(preparePages(k0)))
    return failure();
  // One operand's tile: BN key rows of `cols` (padded to `padded`) in runs
  // of the operand's contiguous dim.
  auto stage1 = [&](Value operand, Value tile, igpu::SwizzleAttr swizzle,
                    int64_t cols, int64_t padded) -> LogicalResult {
    if (int64_t width =
            tokens ? asyncKVWidth(operand, cols, padded) : int64_t(0)) {
      // Copies straight into shared memory, unrolled (the tokens form one
      // group); runs past the keys or the head dim read 0 bytes from a
      // valid address and zero-fill.
      Value buffer = ctx.getBindings().lookup(operand);
      int64_t runsPerRow = padded / width;
      int64_t perThread = p.bn * runsPerRow / p.threads;
      for (int64_t i = 0; i < perThread; ++i) {
        Value e = add(tid, c(i * p.threads));
        Value key = arith::DivUIOp::create(b, e, c(runsPerRow));
        Value col = mul(arith::RemUIOp::create(b, e, c(runsPerRow)), c(width));
        Value j = add(k0, key);
        Value ok = andOpt(keysRagged ? keyInBounds(j) : Value(),
                          padded != cols ? lt(col, c(cols)) : Value());
        tokens->push_back(emitAsyncCopyRun(
            b, inst, tile, swizzle, add(mul(stage, c(p.bn)), key), col, buffer,
            {batchIdx, kvHead, j, col}, width, ok));
      }
      return success();
    }
    int64_t limit = std::min<int64_t>(16 / inst.inputBytes(),
                                      target.maxVectorBytes /
                                          getWidestElementBytes(operand));
    if (swizzle)
      limit = std::min<int64_t>(limit, swizzle.getVec());
    int64_t width = largestDividingWidth(limit, {cols, padded});
    int64_t runsPerRow = padded / width;
    FailureOr<SmallVector<Value>> loop = em.forLoop(
        tid, c(p.bn * runsPerRow), c(p.threads), {},
        [&](Value e, ValueRange) -> FailureOr<SmallVector<Value>> {
          Value key = arith::DivUIOp::create(b, e, c(runsPerRow));
          Value col =
              mul(arith::RemUIOp::create(b, e, c(runsPerRow)), c(width));
          Value j = add(k0, key);
          Value ok = andOpt(keysRagged ? keyInBounds(j) : Value(),
                            padded != cols ? lt(col, c(cols)) : Value());
          // The index is built inside the guard: a paged cache reads its
          // page number there.
          auto load = [&]() {
            return em.emitRun(operand, kvIndex(j, col, k0), width);
          };
          FailureOr<SmallVector<Value>> values =
              ok ? em.ifThenElse(ok, SmallVector<Type>(width, b.getF32Type()),
                                 load,
                                 [&]() -> FailureOr<SmallVector<Value>> {
                                   return SmallVector<Value>(width, f(0.0));
                                 })
                 : load();
          if (failed(values))
            return failure();
          Value row = add(mul(stage, c(p.bn)), key);
          emitStoreTileRun(b, inst, tile, swizzle, row, col, *values);
          return SmallVector<Value>{};
        });
    return failure(failed(loop));
  };
  if (failed(stage1(att.key, kTile, kSwizzle, s.d, p.dPad)))
    return failure();
  return stage1(att.value, vTile, vSwizzle, s.dv, p.dvPad);
}

FailureOr<SmallVector<Value>>
AttentionEmitter::matrixStep(ArrayRef<Value> qFrags, Value kvTile, Value stage,
                             ValueRange state) {
  const matrix::Instruction &inst = *p.inst;
  MLIRContext *mctx = b.getContext();
  auto kind = igpu::MatrixKindAttr::get(mctx, igpu::getMatrixKind(inst));
  Type f32 = b.getF32Type();
  int64_t rowsPerTile = accRows.rowOffsets.size();
  int64_t laneRowCount = p.mTiles * rowsPerTile;
  int64_t perTile = inst.c.elementsPerLane();
  ValueRange m = state.take_front(laneRowCount);
  ValueRange l = state.slice(laneRowCount, laneRowCount);
  ValueRange o = state.drop_front(2 * laneRowCount);
  // Which of the lane's rows each accumulator element is in.
  SmallVector<int64_t> rowOf(perTile);
  for (auto [ri, elements] : llvm::enumerate(accRows.elements))
    for (int64_t e : elements)
      rowOf[e] = ri;
  auto mma = [&](Value a, Value bFrag, Value acc) -> Value {
    return igpu::MmaOp::create(b, acc.getType(), kind, a, bFrag, acc)
        .getResult();
  };
  auto load = [&](igpu::MatrixOperand which, matrix::Operand role, Value tile,
                  igpu::SwizzleAttr swizzle, bool transpose, Value row,
                  Value col) -> Value {
    return igpu::MmaLoadOp::create(b, igpu::getFragmentType(mctx, inst, role),
                                   igpu::MatrixOperandAttr::get(mctx, which),
                                   kind, tile, ValueRange{row, col},
                                   transpose ? b.getUnitAttr() : UnitAttr(),
                                   swizzle)
        .getResult();
  };
  Value stageRow = mul(stage, c(p.bn));

  // S = Q K^T: K [key][d] is B (d x key) stored transposed.
  SmallVector<Value> sAcc(p.mTiles * p.sTiles, emitZeroAccumulator(b, inst));
  for (int64_t st = 0; st < p.qkSteps; ++st)
    for (int64_t j = 0; j < p.sTiles; ++j) {
      Value kFrag = load(igpu::MatrixOperand::b, matrix::Operand::B, kTile,
                         kSwizzle, /*transpose=*/true,
                         add(stageRow, c(j * inst.n)), c(st * inst.k));
      for (int64_t i = 0; i < p.mTiles; ++i)
        sAcc[i * p.sTiles + j] =
            mma(qFrags[i * p.qkSteps + st], kFrag, sAcc[i * p.sTiles + j]);
    }

  // Logits per accumulator element: (row, key) from the table.
  FragmentCoords coords(b, inst.c, lane);
  Value k0 = mul(kvTile, c(p.bn));
  bool keysRagged = this->keysRagged();
  SmallVector<Value> logits(p.mTiles * p.sTiles * perTile);
  for (int64_t j = 0; j < p.sTiles; ++j)
    for (int64_t e = 0; e < perTile; ++e) {
      Value key = add(add(k0, c(j * inst.n)), coords.col(e));
      Value keyValid = keysRagged ? keyInBounds(key) : Value();
      for (int64_t i = 0; i < p.mTiles; ++i) {
        Value score = vector::ExtractOp::create(b, sAcc[i * p.sTiles + j], e);
        FailureOr<Value> x = maskedLogit(
            score, laneRows[i * rowsPerTile + rowOf[e]], key, keyValid);
        if (failed(x))
          return failure();
        logits[(i * p.sTiles + j) * perTile + e] = *x;
      }
    }

  // Online softmax per row of the lane: max over its elements and the
  // lanes sharing the row, rescale, P = exp2(s - base) (base-2 logits), lane
  // partial sums.
  auto maxf = [&](Value x, Value y) -> Value {
    return arith::MaximumFOp::create(b, x, y);
  };
  unsigned warpSize = ctx.getTarget().warpSize;
  SmallVector<Value> mNext, lNext, corr, base;
  for (int64_t i = 0; i < p.mTiles; ++i)
    for (int64_t ri = 0; ri < rowsPerTile; ++ri) {
      Value rowMax;
      for (int64_t j = 0; j < p.sTiles; ++j)
        for (int64_t e : accRows.elements[ri]) {
          Value x = logits[(i * p.sTiles + j) * perTile + e];
          rowMax = rowMax ? maxf(rowMax, x) : x;
        }
      rowMax = emitAccumulatorRowReduce(b, inst.c, warpSize, rowMax, maxf);
      int64_t r = i * rowsPerTile + ri;
      Value mNew = maxf(m[r], rowMax);
      // A row with no key so far keeps m = -inf; subtract 0 instead so
      // that exp2(-inf - m) is 0, not NaN.
      Value none =
          arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, mNew, negInf());
      base.push_back(arith::SelectOp::create(b, none, f(0.0), mNew));
      corr.push_back(
          math::Exp2Op::create(b, arith::SubFOp::create(b, m[r], base.back())));
      mNext.push_back(mNew);
    }
  SmallVector<Value> probs(logits.size());
  SmallVector<Value> sums(laneRowCount, f(0.0));
  for (int64_t i = 0; i < p.mTiles; ++i)
    for (int64_t j = 0; j < p.sTiles; ++j)
      for (int64_t e = 0; e < perTile; ++e) {
        int64_t r = i * rowsPerTile + rowOf[e];
        int64_t at = (i * p.sTiles + j) * perTile + e;
        probs[at] = math::Exp2Op::create(
            b, arith::SubFOp::create(b, logits[at], base[r]));
        sums[r] = arith::AddFOp::create(b, sums[r], probs[at]);
      }
  for (int64_t r = 0; r < laneRowCount; ++r)
    lNext.push_back(math::FmaOp::create(b, l[r], corr[r], sums[r]));
  // O *= corr, element by element through a vector of its rows' factors.
  SmallVector<Value> oNext;
  VectorType cType = igpu::getFragmentType(mctx, inst, matrix::Operand::C);
  for (int64_t i = 0; i < p.mTiles; ++i) {
    SmallVector<Value> factors;
    for (int64_t e = 0; e < perTile; ++e)
      factors.push_back(corr[i * rowsPerTile + rowOf[e]]);
    Value scale = vector::FromElementsOp::create(b, cType, factors);
    for (int64_t jo = 0; jo < p.oTiles; ++jo)
      oNext.push_back(
          arith::MulFOp::create(b, o[i * p.oTiles + jo], scale).getResult());
  }

  // P as the A operand of P V: [mTile][pv step].
  VectorType aType = igpu::getFragmentType(mctx, inst, matrix::Operand::A);
  SmallVector<Value> pFrags;
  if (p.pInRegisters) {
    auto reuse = *getAccumulatorAsOperandA(inst);
    int64_t tilesPerStep = inst.k / inst.n;
    for (int64_t i = 0; i < p.mTiles; ++i)
      for (int64_t ps = 0; ps < p.pvSteps; ++ps) {
        SmallVector<Value> elements;
        for (auto [tile, e] : reuse)
          elements.push_back(toInput(
              b, inst,
              probs[(i * p.sTiles + ps * tilesPerStep + tile) * perTile + e]));
        pFrags.push_back(vector::FromElementsOp::create(b, aType, elements));
      }
  } else {
    // Each warp writes and reads back only its own rows of P.
    for (int64_t i = 0; i < p.mTiles; ++i)
      for (int64_t j = 0; j < p.sTiles; ++j)
        for (int64_t e = 0; e < perTile; ++e) {
          Value row = add(add(warpRow0, c(i * inst.m)), coords.row(e));
          Value col = add(coords.col(e), c(j * inst.n));
          emitStoreTileElement(b, inst, pTile, pSwizzle, row, col,
                               probs[(i * p.sTiles + j) * perTile + e]);
        }
    gpu::BarrierOp::create(b);
    for (int64_t i = 0; i < p.mTiles; ++i)
      for (int64_t ps = 0; ps < p.pvSteps; ++ps)
        pFrags.push_back(load(igpu::MatrixOperand::a, matrix::Operand::A, pTile,
                              pSwizzle, /*transpose=*/false,
                              add(warpRow0, c(i * inst.m)), c(ps * inst.k)));
  }

  // O += P V: V [key][dv] is B (key x dv) as stored.
  for (int64_t ps = 0; ps < p.pvSteps; ++ps)
    for (int64_t jo = 0; jo < p.oTiles; ++jo) {
      Value vFrag = load(igpu::MatrixOperand::b, matrix::Operand::B, vTile,
                         vSwizzle, /*transpose=*/false,
                         add(stageRow, c(ps * inst.k)), c(jo * inst.n));
      for (int64_t i = 0; i < p.mTiles; ++i)
        oNext[i * p.oTiles + jo] =
            mma(pFrags[i * p.pvSteps + ps], vFrag, oNext[i * p.oTiles + jo]);
    }
  (void)f32;

  SmallVector<Value> next = mNext;
  next.append(lNext);
  next.append(oNext);
  return next;
}

LogicalResult AttentionEmitter::storeMatrixOutputs(ArrayRef<Value> l,
                                                   ArrayRef<Value> o) {
  const matrix::Instruction &inst = *p.inst;
  FragmentCoords coords(b, inst.c, lane);
  int64_t rowsPerTile = accRows.rowOffsets.size();
  bool dvRagged = p.dvPad != s.dv;
  // One reciprocal per row, then products (as FlashAttention-2): a
  // division per element would be an IEEE divide each.
  SmallVector<Value> inverse;
  for (Value sum : l) {
    Value positive =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, sum, f(0.0));
    inverse.push_back(arith::DivFOp::create(
        b, f(1.0), arith::SelectOp::create(b, positive, sum, f(1.0))));
  }
  for (int64_t i = 0; i < p.mTiles; ++i)
    for (auto [ri, elements] : llvm::enumerate(accRows.elements))
      for (int64_t jo = 0; jo < p.oTiles; ++jo)
        for (int64_t e : elements) {
          const RowInfo &row = laneRows[i * rowsPerTile + ri];
          Value col = add(coords.col(e), c(jo * inst.n));
          Value ok = andOpt(row.valid, dvRagged ? lt(col, c(s.dv)) : Value());
          OpBuilder::InsertionGuard g(b);
          if (ok) {
            auto ifOp = scf::IfOp::create(b, ok, /*withElseRegion=*/false);
            b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
          }
          // A row whose keys were all excluded has o = 0 and l = 0: zeros.
          Value value = arith::MulFOp::create(
              b, vector::ExtractOp::create(b, o[i * p.oTiles + jo], e),
              inverse[i * rowsPerTile + ri]);
          if (failed(storeOutput(value, row, col)))
            return failure();
        }
  return success();
}

void AttentionEmitter::storeMatrixPartials(ArrayRef<Value> m, ArrayRef<Value> l,
                                           ArrayRef<Value> o) {
  const matrix::Instruction &inst = *p.inst;
  FragmentCoords coords(b, inst.c, lane);
  Value po = partialOutputs(ctx), pm = partialMaxima(ctx),
        pl = partialSums(ctx);
  int64_t rowsPerTile = accRows.rowOffsets.size();
  bool dvRagged = p.dvPad != s.dv;
  // One lane per row writes its statistics: the lane whose column lane bits
  // are all zero.
  int64_t columnLanes = 0;
  for (unsigned bit = 0; bit < inst.c.numLaneBits; ++bit)
    if (inst.c.lane[bit].row == 0)
      columnLanes |= int64_t(1) << bit;
  Value first = arith::CmpIOp::create(
      b, arith::CmpIPredicate::eq,
      arith::AndIOp::create(b, lane, c(columnLanes)), c(0));
  for (int64_t i = 0; i < p.mTiles; ++i)
    for (auto [ri, elements] : llvm::enumerate(accRows.elements)) {
      const RowInfo &row = laneRows[i * rowsPerTile + ri];
      SmallVector<Value> rowIdx{split, batchIdx, row.qHead, row.qPos};
      {
        OpBuilder::InsertionGuard g(b);
        auto ifOp = scf::IfOp::create(b, andOpt(row.valid, first), false);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
        memref::StoreOp::create(b, m[i * rowsPerTile + ri], pm, rowIdx);
        memref::StoreOp::create(b, l[i * rowsPerTile + ri], pl, rowIdx);
      }
      for (int64_t jo = 0; jo < p.oTiles; ++jo)
        for (int64_t e : elements) {
          Value col = add(coords.col(e), c(jo * inst.n));
          Value ok = andOpt(row.valid, dvRagged ? lt(col, c(s.dv)) : Value());
          OpBuilder::InsertionGuard g(b);
          if (ok) {
            auto ifOp = scf::IfOp::create(b, ok, /*withElseRegion=*/false);
            b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
          }
          SmallVector<Value> idx = rowIdx;
          idx.push_back(col);
          memref::StoreOp::create(
              b, vector::ExtractOp::create(b, o[i * p.oTiles + jo], e), po,
              idx);
        }
    }
}

LogicalResult AttentionEmitter::emitMatrix() {
  const matrix::Instruction &inst = *p.inst;
  MLIRContext *mctx = b.getContext();
  Type input = igpu::getInputElementType(mctx, inst);
  SharedMemoryPlan &smem = ctx.getSharedMemoryPlan();
  kTile = ctx.getSharedView(p.kBuf,
                            MemRefType::get({p.stages * p.bn, p.dPad}, input));
  kSwizzle = getSwizzleAttr(mctx, smem.getSwizzle(p.kBuf));
  vTile = ctx.getSharedView(p.vBuf,
                            MemRefType::get({p.stages * p.bn, p.dvPad}, input));
  vSwizzle = getSwizzleAttr(mctx, smem.getSwizzle(p.vBuf));
  asyncKV = asyncKVWidth(att.key, s.d, p.dPad) != 0 ||
            asyncKVWidth(att.value, s.dv, p.dvPad) != 0;
  if (asyncKV)
    ctx.tileDescription += ", cp.async";
  if (!p.pInRegisters) {
    pTile = ctx.getSharedView(p.pBuf, MemRefType::get({p.bm, p.bn}, input));
    pSwizzle = getSwizzleAttr(mctx, smem.getSwizzle(p.pBuf));
  }
  unsigned warpSize = ctx.getTarget().warpSize;
  Value warp = arith::DivUIOp::create(b, tid, c(warpSize));
  lane = arith::RemUIOp::create(b, tid, c(warpSize));
  warpRow0 = mul(warp, c(p.mTiles * inst.m));
  accRows = getAccumulatorRows(inst.c);

  // The rows of the lane: for each instruction tile, each row the
  // accumulator layout gives the lane.
  FragmentCoords coords(b, inst.c, lane);
  for (int64_t i = 0; i < p.mTiles; ++i)
    for (const auto &elements : accRows.elements) {
      Value local =
          add(add(warpRow0, c(i * inst.m)), coords.row(elements.front()));
      FailureOr<RowInfo> r = rowInfo(local);
      if (failed(r))
        return failure();
      laneRows.push_back(*r);
    }

  FailureOr<SmallVector<Value>> qFrags = loadQFragments();
  if (failed(qFrags))
    return failure();
  auto [tBegin, tEnd] = kvRange();

  // Running state: max (-inf) and lane partial sum (0) per row of the lane,
  // O accumulators (0).
  int64_t laneRowCount = laneRows.size();
  SmallVector<Value> init(laneRowCount, negInf());
  init.append(laneRowCount, f(0.0));
  init.append(p.mTiles * p.oTiles, emitZeroAccumulator(b, inst));
  FailureOr<SmallVector<Value>> state = kvLoop(
      tBegin, tEnd, init,
      [&](Value t, Value stage, SmallVectorImpl<Value> *tokens) {
        return loadKVTiles(t, stage, tokens);
      },
      [&](Value t, Value stage, ValueRange it) {
        return matrixStep(*qFrags, t, stage, it);
      });
  if (failed(state))
    return failure();

  ArrayRef<Value> all = *state;
  SmallVector<Value> m(all.take_front(laneRowCount));
  SmallVector<Value> l;
  auto addf = [&](Value x, Value y) -> Value {
    return arith::AddFOp::create(b, x, y);
  };
  // Each lane summed only its own keys: finish the row sums.
  for (Value partial : all.slice(laneRowCount, laneRowCount))
    l.push_back(emitAccumulatorRowReduce(b, inst.c, warpSize, partial, addf));
  ArrayRef<Value> o = all.drop_front(2 * laneRowCount);
  return storeResults([&] { return storeMatrixOutputs(l, o); },
                      [&] { storeMatrixPartials(m, l, o); });
}
