//===- TransformerPatterns.cpp - Matmul, rotary and attention -------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Attention is lowered the textbook way, materializing the scores: QK^T in
// f32, the logit transforms and masks, a max-subtracted softmax and PV. GQA
// is expressed by splitting the query heads into [Hkv, G] (query head
// h = hk * G + g reads kv head hk = h / G), so every indexing map stays a
// projection.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::lowering;

namespace {

struct MatmulLowering : OpConversionPattern<MatmulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value lhs = adaptor.getLhs(), rhs = adaptor.getRhs();
    RankedTensorType resultType = op.getType();
    ArrayRef<int64_t> outShape = resultType.getShape();
    Type et = resultType.getElementType(), ct = getComputeType(et);
    bool isFloat = isa<FloatType>(et);
    int64_t nb = outShape.size() - 2;
    int64_t rank = nb + 3;
    int64_t m = nb, n = nb + 1, k = nb + 2;

    // Batch dims broadcast NumPy-style; the matrix dims follow the
    // transpose flags.
    auto operandMap = [&](Value v, int64_t rowDim, int64_t colDim) {
      ArrayRef<int64_t> shape = shapeOf(v);
      int64_t vb = shape.size() - 2;
      SmallVector<AffineExpr> exprs;
      for (int64_t i = 0; i < vb; ++i) {
        int64_t r = nb - vb + i;
        if (shape[i] == 1 && outShape[r] != 1)
          exprs.push_back(getAffineConstantExpr(0, ctx));
        else
          exprs.push_back(getAffineDimExpr(r, ctx));
      }
      exprs.push_back(getAffineDimExpr(rowDim, ctx));
      exprs.push_back(getAffineDimExpr(colDim, ctx));
      return AffineMap::get(rank, 0, exprs, ctx);
    };
    AffineMap lhsMap =
        op.getTransposeLhs() ? operandMap(lhs, k, m) : operandMap(lhs, m, k);
    AffineMap rhsMap =
        op.getTransposeRhs() ? operandMap(rhs, n, k) : operandMap(rhs, k, n);
    SmallVector<int64_t> outDims;
    for (int64_t i = 0; i < nb + 2; ++i)
      outDims.push_back(i);
    SmallVector<utils::IteratorType> iters = parallelIterators(rank);
    iters[k] = utils::IteratorType::reduction;

    Value acc = buildGeneric(
        rewriter, loc, ValueRange{lhs, rhs},
        filledTensor(rewriter, loc, outShape, constant(rewriter, loc, ct, 0)),
        {lhsMap, rhsMap, getSelectMap(ctx, rank, outDims)}, iters,
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value x = toCompute(b, l, a[0]), y = toCompute(b, l, a[1]);
          if (isFloat)
            return arith::AddFOp::create(b, l, a[2],
                                         arith::MulFOp::create(b, l, x, y));
          return arith::AddIOp::create(b, l, a[2],
                                       arith::MulIOp::create(b, l, x, y));
        });
    rewriter.replaceOp(op, roundTensor(rewriter, loc, acc, et));
    return success();
  }
};

struct RotaryLowering : OpConversionPattern<RotaryOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RotaryOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput(), cos = adaptor.getCos(),
          sin = adaptor.getSin();
    ArrayRef<int64_t> shape = shapeOf(x), csShape = shapeOf(cos);
    int64_t rank = shape.size(), csRank = csShape.size();
    int64_t d = shape.back(), r = csShape.back(), half = r / 2;
    Type et = elementTypeOf(x);
    bool interleaved = op.getInterleaved();

    Value y = buildElementwise(
        rewriter, loc, x, shape, et,
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          using P = arith::CmpIPredicate;
          Value j = loopIndex(b, l, rank - 1);
          Value rIdx = constantIndex(b, l, r);
          Value rotated = arith::CmpIOp::create(b, l, P::ult, j, rIdx);
          // Features beyond R pass through; clamp the reads they skip.
          Value jc =
              arith::MinUIOp::create(b, l, j, constantIndex(b, l, r - 1));
          Value partner, first;
          Value one = constantIndex(b, l, 1);
          if (interleaved) {
            // Pairs (2i, 2i+1): rot(x)[2i] = -x[2i+1], rot(x)[2i+1] = x[2i].
            partner = arith::XOrIOp::create(b, l, jc, one);
            first = arith::CmpIOp::create(b, l, P::eq,
                                          arith::AndIOp::create(b, l, jc, one),
                                          constantIndex(b, l, 0));
          } else {
            // rotate_half: rot(x)[j] = -x[j + R/2] (j < R/2), x[j - R/2].
            Value h = constantIndex(b, l, half);
            first = arith::CmpIOp::create(b, l, P::ult, jc, h);
            partner = arith::SelectOp::create(
                b, l, first, arith::AddIOp::create(b, l, jc, h),
                arith::SubIOp::create(b, l, jc, h));
          }
          partner =
              arith::MinUIOp::create(b, l, partner, constantIndex(b, l, d - 1));
          SmallVector<Value> xCoords, csCoords;
          for (int64_t i = 0; i < rank - 1; ++i)
            xCoords.push_back(loopIndex(b, l, i));
          xCoords.push_back(partner);
          int64_t off = rank - csRank;
          for (int64_t i = 0; i < csRank - 1; ++i) {
            bool bcast = csShape[i] == 1 && shape[off + i] != 1;
            csCoords.push_back(bcast ? constantIndex(b, l, 0)
                                     : loopIndex(b, l, off + i));
          }
          csCoords.push_back(jc);
          Value xv = toCompute(b, l, a[0]);
          Value xp =
              toCompute(b, l, tensor::ExtractOp::create(b, l, x, xCoords));
          Value c =
              toCompute(b, l, tensor::ExtractOp::create(b, l, cos, csCoords));
          Value s =
              toCompute(b, l, tensor::ExtractOp::create(b, l, sin, csCoords));
          Value rot = arith::SelectOp::create(
              b, l, first, arith::NegFOp::create(b, l, xp), xp);
          Value v =
              arith::AddFOp::create(b, l, arith::MulFOp::create(b, l, xv, c),
                                    arith::MulFOp::create(b, l, rot, s));
          v = arith::SelectOp::create(b, l, rotated, v, xv);
          return fromCompute(b, l, v, et);
        });
    rewriter.replaceOp(op, y);
    return success();
  }
};

struct AttentionLowering : OpConversionPattern<AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value q = adaptor.getQuery(), k = adaptor.getKey(), v = adaptor.getValue();
    Value mask = adaptor.getMask(), slopes = adaptor.getAlibiSlopes();
    ArrayRef<int64_t> qShape = shapeOf(q), kShape = shapeOf(k),
                      vShape = shapeOf(v);
    int64_t batch = qShape[0], hq = qShape[1], sq = qShape[2];
    int64_t hkv = kShape[1], skv = kShape[2], dv = vShape[3];
    int64_t groups = hq / hkv;
    Type et = elementTypeOf(q);
    Type f32 = rewriter.getF32Type();
    float scale = op.getEffectiveScale();
    std::optional<float> softcap;
    if (auto attr = op.getSoftcapAttr())
      softcap = attr.getValue().convertToFloat();
    std::optional<int64_t> window = op.getWindow();
    bool causal = op.getCausal();
    // Query i sits at position i + (Skv - Sq): the causal diagonal is
    // aligned to the end of the key sequence.
    int64_t shift = skv - sq;

    // Scores live in [B, Hkv, G, Sq, Skv]; loop dims b, hk, g, i, j (, d).
    enum { B, HK, G, I, J, E };
    Value q5 = splitDim(rewriter, loc, q, 1, hkv, groups);
    SmallVector<int64_t> sShape = {batch, hkv, groups, sq, skv};
    SmallVector<int64_t> rowShape = {batch, hkv, groups, sq};
    auto sel = [&](int64_t rank, ArrayRef<int64_t> dims) {
      return getSelectMap(ctx, rank, dims);
    };
    SmallVector<utils::IteratorType> contractIters = parallelIterators(6);
    contractIters[E] = utils::IteratorType::reduction;
    Value zero = constantF32(rewriter, loc, 0);

    Value scores = buildGeneric(
        rewriter, loc, ValueRange{q5, k},
        filledTensor(rewriter, loc, sShape, zero),
        {sel(6, {B, HK, G, I, E}), sel(6, {B, HK, J, E}),
         sel(6, {B, HK, G, I, J})},
        contractIters, [](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value p = arith::MulFOp::create(b, l, toCompute(b, l, a[0]),
                                          toCompute(b, l, a[1]));
          return arith::AddFOp::create(b, l, a[2], p);
        });

    // Logits: scale, soft-cap, ALiBi, additive mask; excluded keys -> -inf.
    SmallVector<Value> inputs = {scores};
    SmallVector<AffineMap> maps = {AffineMap::getMultiDimIdentityMap(5, ctx)};
    bool boolMask = false;
    if (mask) {
      ArrayRef<int64_t> mShape = shapeOf(mask);
      int64_t mRank = mShape.size();
      boolMask = elementTypeOf(mask).isInteger(1);
      // The mask broadcasts to [B, Hq, Sq, Skv]; its head dim, when present
      // and not 1, splits into [Hkv, G] like the queries.
      int64_t headPos = mRank - 3;
      bool splitHeads = headPos >= 0 && mShape[headPos] != 1;
      if (splitHeads)
        mask = splitDim(rewriter, loc, mask, headPos, hkv, groups);
      SmallVector<AffineExpr> exprs;
      const int64_t full[4] = {batch, hq, sq, skv};
      const int64_t loops[4] = {B, HK, I, J};
      for (int64_t i = 0; i < mRank; ++i) {
        int64_t pos = 4 - mRank + i;
        bool bcast = mShape[i] == 1 && full[pos] != 1;
        if (pos == 1 && splitHeads) {
          exprs.push_back(getAffineDimExpr(HK, ctx));
          exprs.push_back(getAffineDimExpr(G, ctx));
          continue;
        }
        exprs.push_back(bcast ? getAffineConstantExpr(0, ctx)
                              : getAffineDimExpr(loops[pos], ctx));
      }
      inputs.push_back(mask);
      maps.push_back(AffineMap::get(5, 0, exprs, ctx));
    }
    if (slopes) {
      inputs.push_back(splitDim(rewriter, loc, slopes, 0, hkv, groups));
      maps.push_back(sel(5, {HK, G}));
    }
    maps.push_back(AffineMap::getMultiDimIdentityMap(5, ctx));
    Value logits = buildGeneric(
        rewriter, loc, inputs, emptyTensor(rewriter, loc, sShape, f32), maps,
        parallelIterators(5),
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          using P = arith::CmpIPredicate;
          Value s = arith::MulFOp::create(b, l, a[0], constantF32(b, l, scale));
          if (softcap) {
            Value cap = constantF32(b, l, *softcap);
            s = arith::MulFOp::create(
                b, l, cap,
                math::TanhOp::create(b, l,
                                     arith::DivFOp::create(b, l, s, cap)));
          }
          Value i = loopIndexI64(b, l, I), j = loopIndexI64(b, l, J);
          Value pos = arith::AddIOp::create(b, l, i, constantI64(b, l, shift));
          unsigned next = 1;
          Value m = mask ? a[next++] : Value();
          if (slopes) {
            Value dist = arith::SIToFPOp::create(
                b, l, b.getF32Type(), arith::SubIOp::create(b, l, j, pos));
            s = arith::AddFOp::create(
                b, l, s,
                arith::MulFOp::create(b, l, toCompute(b, l, a[next++]), dist));
          }
          Value keep;
          auto conj = [&](Value c) {
            keep = keep ? arith::AndIOp::create(b, l, keep, c).getResult() : c;
          };
          if (m && boolMask)
            conj(m);
          else if (m)
            s = arith::AddFOp::create(b, l, s, toCompute(b, l, m));
          if (causal)
            conj(arith::CmpIOp::create(b, l, P::sle, j, pos));
          if (window)
            conj(arith::CmpIOp::create(
                b, l, P::sgt, j,
                arith::SubIOp::create(b, l, pos, constantI64(b, l, *window))));
          if (keep)
            s = arith::SelectOp::create(b, l, keep, s, infF32(b, l, true));
          return s;
        });

    // Softmax statistics over j. A row whose logits are all -inf (every key
    // excluded) has max -inf; it is shifted by 0 instead, so its weights are
    // exp(-inf) = 0, its sum 0, and its output 0 rather than NaN.
    AffineMap id5 = AffineMap::getMultiDimIdentityMap(5, ctx);
    AffineMap row5 = sel(5, {B, HK, G, I});
    SmallVector<utils::IteratorType> rowIters = parallelIterators(5);
    rowIters[J] = utils::IteratorType::reduction;
    Value max = buildGeneric(
        rewriter, loc, logits,
        filledTensor(rewriter, loc, rowShape, infF32(rewriter, loc, true)),
        {id5, row5}, rowIters,
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::MaximumFOp::create(b, l, a[0], a[1]);
        });
    Value probs = buildGeneric(
        rewriter, loc, ValueRange{logits, max},
        emptyTensor(rewriter, loc, sShape, f32), {id5, row5, id5},
        parallelIterators(5),
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value noKey = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ,
                                              a[1], infF32(b, l, true));
          Value shift =
              arith::SelectOp::create(b, l, noKey, constantF32(b, l, 0), a[1]);
          return math::ExpOp::create(b, l,
                                     arith::SubFOp::create(b, l, a[0], shift));
        });
    Value sum = buildGeneric(
        rewriter, loc, probs, filledTensor(rewriter, loc, rowShape, zero),
        {id5, row5}, rowIters,
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::AddFOp::create(b, l, a[1], a[0]);
        });

    // O = P V over j (loop dims b, hk, g, i, j, e with e the value dim).
    SmallVector<int64_t> oShape = {batch, hkv, groups, sq, dv};
    SmallVector<utils::IteratorType> pvIters = parallelIterators(6);
    pvIters[J] = utils::IteratorType::reduction;
    Value o = buildGeneric(
        rewriter, loc, ValueRange{probs, v},
        filledTensor(rewriter, loc, oShape, zero),
        {sel(6, {B, HK, G, I, J}), sel(6, {B, HK, J, E}),
         sel(6, {B, HK, G, I, E})},
        pvIters, [](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value p = arith::MulFOp::create(b, l, a[0], toCompute(b, l, a[1]));
          return arith::AddFOp::create(b, l, a[2], p);
        });
    Value out = buildGeneric(
        rewriter, loc, ValueRange{o, sum},
        emptyTensor(rewriter, loc, oShape, et),
        {id5, sel(5, {B, HK, G, I}), id5}, parallelIterators(5),
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value empty = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ,
                                              a[1], constantF32(b, l, 0));
          Value r = arith::DivFOp::create(b, l, a[0], a[1]);
          r = arith::SelectOp::create(b, l, empty, constantF32(b, l, 0), r);
          return fromCompute(b, l, r, et);
        });
    rewriter.replaceOp(op, mergeDims(rewriter, loc, out, 1));
    return success();
  }
};

} // namespace

void mlir::iolite::populateTransformerLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<MatmulLowering, RotaryLowering, AttentionLowering>(
      patterns.getContext());
}
