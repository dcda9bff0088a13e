//===- MoePatterns.cpp - Router, dispatch, grouped matmul, combine --------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The data-dependent MoE ops: a counting sort for dispatch (a sequential
// scf.for makes it stable by construction), group lookups by comparing
// against the offsets, and gathers with tensor.extract inside generics.
// Out-of-range ids, offsets and row indices never read or write out of
// bounds: they select zeros or are skipped, as the op descriptions state.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::lowering;

namespace {

using P = arith::CmpIPredicate;

struct RouterLowering : OpConversionPattern<RouterOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RouterOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value logits = adaptor.getLogits();
    ArrayRef<int64_t> shape = shapeOf(logits);
    int64_t tokens = shape[0], k = op.getK();
    Type et = elementTypeOf(logits);

    Value scores;
    if (op.getScoring() == RouterScoring::softmax) {
      scores = softmaxF32(rewriter, loc, logits, 1);
    } else {
      scores = buildElementwise(
          rewriter, loc, logits, shape, rewriter.getF32Type(),
          [](OpBuilder &b, Location l, ValueRange a) -> Value {
            Value x = toCompute(b, l, a[0]);
            Value one = constantF32(b, l, 1);
            Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, x));
            return arith::DivFOp::create(b, l, one,
                                         arith::AddFOp::create(b, l, one, e));
          });
    }
    auto [weights, ids] = topK(rewriter, loc, scores, 1, k, /*largest=*/true);
    if (op.getRenormalize()) {
      AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
      AffineMap row = getSelectMap(ctx, 2, 0);
      Value sum = buildGeneric(
          rewriter, loc, weights,
          filledTensor(rewriter, loc, {tokens}, constantF32(rewriter, loc, 0)),
          {id, row},
          {utils::IteratorType::parallel, utils::IteratorType::reduction},
          [](OpBuilder &b, Location l, ValueRange a) -> Value {
            return arith::AddFOp::create(b, l, a[1], a[0]);
          });
      weights = buildGeneric(
          rewriter, loc, ValueRange{weights, sum},
          emptyTensor(rewriter, loc, {tokens, k}, rewriter.getF32Type()),
          {id, row, id}, parallelIterators(2),
          [](OpBuilder &b, Location l, ValueRange a) -> Value {
            return arith::DivFOp::create(b, l, a[0], a[1]);
          });
    }
    Value expertIds = buildElementwise(
        rewriter, loc, ids, {tokens, k}, rewriter.getI32Type(),
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::TruncIOp::create(b, l, b.getI32Type(), a[0]);
        });
    rewriter.replaceOp(
        op, ValueRange{roundTensor(rewriter, loc, weights, et), expertIds});
    return success();
  }
};

/// The sort bucket of an expert id: the id when in [0, E), else E.
Value bucketOf(OpBuilder &b, Location loc, Value id, int64_t numExperts) {
  Value v = toI64(b, loc, id);
  Value e = constantI64(b, loc, numExperts);
  Value valid = arith::AndIOp::create(
      b, loc, arith::CmpIOp::create(b, loc, P::sge, v, constantI64(b, loc, 0)),
      arith::CmpIOp::create(b, loc, P::slt, v, e));
  return arith::SelectOp::create(b, loc, valid, v, e);
}

struct DispatchLowering : OpConversionPattern<DispatchOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DispatchOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value input = adaptor.getInput(), ids = adaptor.getExpertIds();
    ArrayRef<int64_t> inShape = shapeOf(input);
    int64_t k = shapeOf(ids)[1];
    int64_t rows = inShape[0] * k, width = inShape[1];
    int64_t numExperts = op.getNumExperts();
    Type i32 = rewriter.getI32Type();
    Value flatIds = reshapeTo(rewriter, loc, ids, {rows});
    SmallVector<utils::IteratorType> iters = {utils::IteratorType::parallel,
                                              utils::IteratorType::reduction};

    // counts[e] for the E experts and the bucket of invalid ids.
    Value counts = buildGeneric(
        rewriter, loc, flatIds,
        filledTensor(rewriter, loc, {numExperts + 1},
                     constant(rewriter, loc, i32, 0)),
        {getSelectMap(ctx, 2, 1), getSelectMap(ctx, 2, 0)}, iters,
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value hit = arith::CmpIOp::create(b, l, P::eq,
                                            bucketOf(b, l, a[0], numExperts),
                                            loopIndexI64(b, l, 0));
          return arith::AddIOp::create(b, l, a[1],
                                       arith::ExtUIOp::create(b, l, i32, hit));
        });
    // offsets[e] = sum of counts before e (an exclusive prefix sum).
    Value offsets = buildGeneric(
        rewriter, loc, counts,
        filledTensor(rewriter, loc, {numExperts + 1},
                     constant(rewriter, loc, i32, 0)),
        {getSelectMap(ctx, 2, 1), getSelectMap(ctx, 2, 0)}, iters,
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value before = arith::CmpIOp::create(b, l, P::ult, loopIndex(b, l, 1),
                                               loopIndex(b, l, 0));
          Value add = arith::SelectOp::create(b, l, before, a[0],
                                              constant(b, l, i32, 0));
          return arith::AddIOp::create(b, l, a[1], add);
        });
    // Place assignments in order of r: each bucket's cursor advances, so
    // the sort is stable.
    auto loop = scf::ForOp::create(
        rewriter, loc, constantIndex(rewriter, loc, 0),
        constantIndex(rewriter, loc, rows), constantIndex(rewriter, loc, 1),
        ValueRange{offsets, emptyTensor(rewriter, loc, {rows}, i32)},
        [&](OpBuilder &b, Location l, Value r, ValueRange iter) {
          Value id = tensor::ExtractOp::create(b, l, flatIds, r);
          Value bucket = toIndex(b, l, bucketOf(b, l, id, numExperts));
          Value pos = tensor::ExtractOp::create(b, l, iter[0], bucket);
          Value rowIndex = tensor::InsertOp::create(
              b, l, arith::IndexCastOp::create(b, l, i32, r), iter[1],
              toIndex(b, l, pos));
          Value cursor = tensor::InsertOp::create(
              b, l, arith::AddIOp::create(b, l, pos, constant(b, l, i32, 1)),
              iter[0], bucket);
          scf::YieldOp::create(b, l, ValueRange{cursor, rowIndex});
        });
    Value rowIndex = loop.getResult(1);
    Value sorted = buildGeneric(
        rewriter, loc, rowIndex,
        emptyTensor(rewriter, loc, {rows, width}, elementTypeOf(input)),
        {getSelectMap(ctx, 2, 0), AffineMap::getMultiDimIdentityMap(2, ctx)},
        parallelIterators(2),
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value token = arith::DivUIOp::create(b, l, toIndex(b, l, a[0]),
                                               constantIndex(b, l, k));
          return tensor::ExtractOp::create(
              b, l, input, ValueRange{token, loopIndex(b, l, 1)});
        });
    rewriter.replaceOp(op, ValueRange{sorted, rowIndex, offsets});
    return success();
  }
};

struct GroupedMatmulLowering : OpConversionPattern<GroupedMatmulOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GroupedMatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value input = adaptor.getInput(), weight = adaptor.getWeight(),
          offsets = adaptor.getOffsets();
    int64_t rows = shapeOf(input)[0];
    int64_t numExperts = shapeOf(weight)[0];
    bool transposed = op.getTransposeRhs();
    int64_t n = op.getType().getDimSize(1);
    Type et = op.getType().getElementType();

    // group[r]: the first expert e with offsets[e] <= r < offsets[e+1], or
    // -1 when no group holds row r.
    auto slice = [&](int64_t start) -> Value {
      return tensor::ExtractSliceOp::create(
          rewriter, loc,
          RankedTensorType::get({numExperts}, elementTypeOf(offsets)), offsets,
          ArrayRef<OpFoldResult>{rewriter.getIndexAttr(start)},
          ArrayRef<OpFoldResult>{rewriter.getIndexAttr(numExperts)},
          ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1)});
    };
    Value group = buildGeneric(
        rewriter, loc, ValueRange{slice(0), slice(1)},
        filledTensor(rewriter, loc, {rows}, constantI64(rewriter, loc, -1)),
        {getSelectMap(ctx, 2, 1), getSelectMap(ctx, 2, 1),
         getSelectMap(ctx, 2, 0)},
        {utils::IteratorType::parallel, utils::IteratorType::reduction},
        [](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value r = loopIndexI64(b, l, 0), e = loopIndexI64(b, l, 1);
          Value inGroup = arith::AndIOp::create(
              b, l, arith::CmpIOp::create(b, l, P::sle, toI64(b, l, a[0]), r),
              arith::CmpIOp::create(b, l, P::slt, r, toI64(b, l, a[1])));
          Value unset =
              arith::CmpIOp::create(b, l, P::slt, a[2], constantI64(b, l, 0));
          Value take = arith::AndIOp::create(b, l, inGroup, unset);
          return arith::SelectOp::create(b, l, take, e, a[2]);
        });

    // Loop dims r, n, k; the weight of the row's group is read directly.
    SmallVector<utils::IteratorType> iters = parallelIterators(3);
    iters[2] = utils::IteratorType::reduction;
    Value acc = buildGeneric(
        rewriter, loc, ValueRange{input, group},
        filledTensor(rewriter, loc, {rows, n}, constantF32(rewriter, loc, 0)),
        {getSelectMap(ctx, 3, {0, 2}), getSelectMap(ctx, 3, 0),
         getSelectMap(ctx, 3, {0, 1})},
        iters, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value g = a[1];
          Value valid =
              arith::CmpIOp::create(b, l, P::sge, g, constantI64(b, l, 0));
          Value gi = toIndex(
              b, l, arith::MaxSIOp::create(b, l, g, constantI64(b, l, 0)));
          Value col = loopIndex(b, l, 1), red = loopIndex(b, l, 2);
          SmallVector<Value> coords = transposed
                                          ? SmallVector<Value>{gi, col, red}
                                          : SmallVector<Value>{gi, red, col};
          Value w = tensor::ExtractOp::create(b, l, weight, coords);
          Value p = arith::MulFOp::create(b, l, toCompute(b, l, a[0]),
                                          toCompute(b, l, w));
          p = arith::SelectOp::create(b, l, valid, p, constantF32(b, l, 0));
          return arith::AddFOp::create(b, l, a[2], p);
        });
    rewriter.replaceOp(op, roundTensor(rewriter, loc, acc, et));
    return success();
  }
};

struct CombineLowering : OpConversionPattern<CombineOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CombineOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value input = adaptor.getInput(), rowIndex = adaptor.getRowIndex(),
          weights = adaptor.getWeights();
    int64_t rows = shapeOf(input)[0], n = shapeOf(input)[1];
    int64_t tokens = shapeOf(weights)[0], k = shapeOf(weights)[1];
    Type et = op.getType().getElementType();

    // inv[t*k + j] = the sorted row s with row_index[s] = t*k + j (-1 when
    // none); row indices outside [0, T*k) are skipped.
    auto loop = scf::ForOp::create(
        rewriter, loc, constantIndex(rewriter, loc, 0),
        constantIndex(rewriter, loc, rows), constantIndex(rewriter, loc, 1),
        ValueRange{filledTensor(rewriter, loc, {rows},
                                constantI64(rewriter, loc, -1))},
        [&](OpBuilder &b, Location l, Value s, ValueRange iter) {
          Value ri = toI64(b, l, tensor::ExtractOp::create(b, l, rowIndex, s));
          Value inRange = arith::AndIOp::create(
              b, l,
              arith::CmpIOp::create(b, l, P::sge, ri, constantI64(b, l, 0)),
              arith::CmpIOp::create(b, l, P::slt, ri, constantI64(b, l, rows)));
          Value at = toIndex(
              b, l,
              arith::SelectOp::create(b, l, inRange, ri, constantI64(b, l, 0)));
          Value old = tensor::ExtractOp::create(b, l, iter[0], at);
          Value v = arith::SelectOp::create(b, l, inRange, toI64(b, l, s), old);
          scf::YieldOp::create(
              b, l, ValueRange{tensor::InsertOp::create(b, l, v, iter[0], at)});
        });
    Value inv = reshapeTo(rewriter, loc, loop.getResult(0), {tokens, k});

    // y[t, n] = sum_j w[t, j] input[inv[t, j], n], j in order; loop dims t,
    // n, j.
    SmallVector<utils::IteratorType> iters = parallelIterators(3);
    iters[2] = utils::IteratorType::reduction;
    Value acc = buildGeneric(
        rewriter, loc, ValueRange{inv, weights},
        filledTensor(rewriter, loc, {tokens, n}, constantF32(rewriter, loc, 0)),
        {getSelectMap(ctx, 3, {0, 2}), getSelectMap(ctx, 3, {0, 2}),
         getSelectMap(ctx, 3, {0, 1})},
        iters, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value s = a[0];
          Value valid =
              arith::CmpIOp::create(b, l, P::sge, s, constantI64(b, l, 0));
          Value si = toIndex(
              b, l, arith::MaxSIOp::create(b, l, s, constantI64(b, l, 0)));
          Value x = tensor::ExtractOp::create(
              b, l, input, ValueRange{si, loopIndex(b, l, 1)});
          Value p = arith::MulFOp::create(b, l, toCompute(b, l, a[1]),
                                          toCompute(b, l, x));
          p = arith::SelectOp::create(b, l, valid, p, constantF32(b, l, 0));
          return arith::AddFOp::create(b, l, a[2], p);
        });
    rewriter.replaceOp(op, roundTensor(rewriter, loc, acc, et));
    return success();
  }
};

} // namespace

void mlir::iolite::populateMoeLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<RouterLowering, DispatchLowering, GroupedMatmulLowering,
               CombineLowering>(patterns.getContext());
}
