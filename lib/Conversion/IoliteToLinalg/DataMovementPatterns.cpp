//===- DataMovementPatterns.cpp - Reshape, transpose, slices, gather ------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Data movement maps onto the tensor dialect (reshapes, slices, concat) and
// linalg (transpose, broadcast copies, gathers as generics that read the
// table with tensor.extract).
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::lowering;

namespace {

struct ReshapeLowering : OpConversionPattern<ReshapeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ReshapeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, reshapeTo(rewriter, op.getLoc(), adaptor.getInput(),
                                     op.getType().getShape()));
    return success();
  }
};

struct TransposeLowering : OpConversionPattern<TransposeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TransposeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value init = emptyTensor(rewriter, loc, op.getType().getShape(),
                             op.getType().getElementType());
    // linalg.transpose uses the same convention: out.dim(i) = in.dim(p[i]).
    rewriter.replaceOp(op, linalg::TransposeOp::create(rewriter, loc,
                                                       adaptor.getInput(), init,
                                                       op.getPermutation())
                               .getResult());
    return success();
  }
};

struct ConcatLowering : OpConversionPattern<ConcatOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConcatOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // I64Attr getters return uint64_t: read the signed value.
    int64_t rank = op.getType().getRank();
    int64_t axis = op.getAxisAttr().getInt();
    axis = axis < 0 ? axis + rank : axis;
    rewriter.replaceOpWithNewOp<tensor::ConcatOp>(op, op.getType(), axis,
                                                  adaptor.getInputs());
    return success();
  }
};

struct SliceLowering : OpConversionPattern<SliceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SliceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    SmallVector<OpFoldResult> offsets, sizes, strides;
    ArrayRef<int64_t> resultShape = op.getType().getShape();
    std::optional<ArrayRef<int64_t>> steps = op.getStrides();
    for (auto [i, start] : llvm::enumerate(op.getStarts())) {
      offsets.push_back(rewriter.getIndexAttr(start));
      sizes.push_back(rewriter.getIndexAttr(resultShape[i]));
      strides.push_back(rewriter.getIndexAttr(steps ? (*steps)[i] : 1));
    }
    rewriter.replaceOpWithNewOp<tensor::ExtractSliceOp>(
        op, op.getType(), adaptor.getInput(), offsets, sizes, strides);
    return success();
  }
};

struct BroadcastLowering : OpConversionPattern<BroadcastOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BroadcastOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, buildElementwise(
                rewriter, op.getLoc(), adaptor.getInput(),
                op.getType().getShape(), op.getType().getElementType(),
                [](OpBuilder &, Location, ValueRange a) { return a[0]; }));
    return success();
  }
};

struct IotaLowering : OpConversionPattern<IotaOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(IotaOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    // Only the source's shape is read; the lowering runs on static shapes.
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value init = emptyTensor(rewriter, loc, op.getType().getShape(),
                             op.getType().getElementType());
    rewriter.replaceOp(
        op, buildGeneric(rewriter, loc, ValueRange(), init,
                         {AffineMap::getMultiDimIdentityMap(1, ctx)},
                         parallelIterators(1),
                         [](OpBuilder &b, Location l, ValueRange) -> Value {
                           return loopIndexI64(b, l, 0);
                         }));
    return success();
  }
};

struct GatherLowering : OpConversionPattern<GatherOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GatherOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value data = adaptor.getData(), indices = adaptor.getIndices();
    ArrayRef<int64_t> dataShape = shapeOf(data);
    int64_t dataRank = dataShape.size();
    int64_t axis = op.getAxisAttr().getInt();
    axis = axis < 0 ? axis + dataRank : axis;
    int64_t idxRank = shapeOf(indices).size();
    int64_t rank = op.getType().getRank();
    int64_t dim = dataShape[axis];

    SmallVector<int64_t> idxDims;
    for (int64_t i = 0; i < idxRank; ++i)
      idxDims.push_back(axis + i);
    Value init = emptyTensor(rewriter, loc, op.getType().getShape(),
                             op.getType().getElementType());
    Value result = buildGeneric(
        rewriter, loc, indices, init,
        {getSelectMap(ctx, rank, idxDims),
         AffineMap::getMultiDimIdentityMap(rank, ctx)},
        parallelIterators(rank),
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          // Clamp to [-dim, dim) (the nearest valid row), then wrap
          // negative indices.
          Value i = toI64(b, l, a[0]);
          Value lo = constantI64(b, l, -dim), hi = constantI64(b, l, dim - 1);
          i = arith::MaxSIOp::create(b, l, i, lo);
          i = arith::MinSIOp::create(b, l, i, hi);
          Value isNeg = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt,
                                              i, constantI64(b, l, 0));
          i = arith::SelectOp::create(
              b, l, isNeg,
              arith::AddIOp::create(b, l, i, constantI64(b, l, dim)), i);
          SmallVector<Value> coords;
          for (int64_t d = 0; d < axis; ++d)
            coords.push_back(loopIndex(b, l, d));
          coords.push_back(toIndex(b, l, i));
          for (int64_t d = axis + 1; d < dataRank; ++d)
            coords.push_back(loopIndex(b, l, d - 1 + idxRank));
          return tensor::ExtractOp::create(b, l, data, coords);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void mlir::iolite::populateDataMovementLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<ReshapeLowering, TransposeLowering, ConcatLowering,
               SliceLowering, BroadcastLowering, IotaLowering, GatherLowering>(
      patterns.getContext());
}
