//===- ReductionPatterns.cpp - Softmax, reductions, norms, scans, top-k ---===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Reductions are linalg.generic ops with reduction iterators, accumulating
// floats in f32. The scans (cumsum, top-k's passes) are scf.for loops over
// tensors, which bufferize to in-place updates.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/STLExtras.h"

#include <limits>

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::lowering;

namespace {

int64_t normalize(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

struct SoftmaxLowering : OpConversionPattern<SoftmaxOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SoftmaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t axis = normalize(op.getAxis(), op.getType().getRank());
    Value p = softmaxF32(rewriter, loc, adaptor.getInput(), axis);
    rewriter.replaceOp(
        op, roundTensor(rewriter, loc, p, op.getType().getElementType()));
    return success();
  }
};

struct ReduceLowering : OpConversionPattern<ReduceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ReduceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value input = adaptor.getInput();
    ArrayRef<int64_t> shape = shapeOf(input);
    int64_t rank = shape.size();
    Type et = elementTypeOf(input), ct = getComputeType(et);
    bool isFloat = isa<FloatType>(et);
    ReduceKind kind = op.getKind();

    SmallVector<int64_t> axes;
    for (int64_t a : op.getAxes())
      axes.push_back(normalize(a, rank));
    SmallVector<int64_t> outShape;
    int64_t count = 1;
    SmallVector<utils::IteratorType> iters = parallelIterators(rank);
    for (int64_t i = 0; i < rank; ++i) {
      if (llvm::is_contained(axes, i)) {
        iters[i] = utils::IteratorType::reduction;
        count *= shape[i];
      } else {
        outShape.push_back(shape[i]);
      }
    }

    // The identity of the reduction, in the compute type.
    Value init;
    switch (kind) {
    case ReduceKind::sum:
    case ReduceKind::mean:
      init = constant(rewriter, loc, ct, 0);
      break;
    case ReduceKind::prod:
      init = constant(rewriter, loc, ct, 1);
      break;
    case ReduceKind::max:
    case ReduceKind::min: {
      bool isMax = kind == ReduceKind::max;
      if (isFloat) {
        init = infF32(rewriter, loc, /*negative=*/isMax);
      } else {
        unsigned width = ct.getIntOrFloatBitWidth();
        APInt v = isMax ? APInt::getSignedMinValue(width)
                        : APInt::getSignedMaxValue(width);
        init = arith::ConstantOp::create(rewriter, loc,
                                         rewriter.getIntegerAttr(ct, v));
      }
      break;
    }
    }

    Value acc = buildGeneric(
        rewriter, loc, input, filledTensor(rewriter, loc, outShape, init),
        {AffineMap::getMultiDimIdentityMap(rank, ctx),
         getProjectionMap(ctx, rank, axes)},
        iters, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value x = toCompute(b, l, a[0]), y = a[1];
          switch (kind) {
          case ReduceKind::sum:
          case ReduceKind::mean:
            return isFloat ? Value(arith::AddFOp::create(b, l, y, x))
                           : Value(arith::AddIOp::create(b, l, y, x));
          case ReduceKind::prod:
            return isFloat ? Value(arith::MulFOp::create(b, l, y, x))
                           : Value(arith::MulIOp::create(b, l, y, x));
          case ReduceKind::max:
            return isFloat ? Value(arith::MaximumFOp::create(b, l, y, x))
                           : Value(arith::MaxSIOp::create(b, l, y, x));
          case ReduceKind::min:
            return isFloat ? Value(arith::MinimumFOp::create(b, l, y, x))
                           : Value(arith::MinSIOp::create(b, l, y, x));
          }
          llvm_unreachable("unknown reduce kind");
        });

    Value result =
        buildElementwise(rewriter, loc, acc, outShape, et,
                         [&](OpBuilder &b, Location l, ValueRange a) -> Value {
                           Value v = a[0];
                           if (kind == ReduceKind::mean) {
                             // Integer means truncate toward zero; an empty
                             // mean is 0/0.
                             Value n = constant(b, l, ct, count);
                             if (isFloat)
                               v = arith::DivFOp::create(b, l, v, n);
                             else if (count != 0)
                               v = arith::DivSIOp::create(b, l, v, n);
                           }
                           return fromCompute(b, l, v, et);
                         });
    rewriter.replaceOp(
        op, reshapeTo(rewriter, loc, result, op.getType().getShape()));
    return success();
  }
};

struct RmsNormLowering : OpConversionPattern<RmsNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RmsNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value x = adaptor.getInput();
    Value w = adaptor.getWeight();
    ArrayRef<int64_t> shape = shapeOf(x);
    int64_t rank = shape.size();
    Type et = elementTypeOf(x);
    SmallVector<int64_t> rowShape(shape.drop_back());
    AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    AffineMap row = getProjectionMap(ctx, rank, rank - 1);
    AffineMap last = getSelectMap(ctx, rank, rank - 1);
    SmallVector<utils::IteratorType> iters = parallelIterators(rank);
    iters.back() = utils::IteratorType::reduction;

    Value sumSq = buildGeneric(
        rewriter, loc, x,
        filledTensor(rewriter, loc, rowShape, constantF32(rewriter, loc, 0)),
        {id, row}, iters, [](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value v = toCompute(b, l, a[0]);
          return arith::AddFOp::create(b, l, a[1],
                                       arith::MulFOp::create(b, l, v, v));
        });
    float eps = op.getEpsilon().convertToFloat();
    double n = static_cast<double>(shape.back());
    SmallVector<Value> inputs = {x, sumSq};
    SmallVector<AffineMap> maps = {id, row};
    if (w) {
      inputs.push_back(w);
      maps.push_back(last);
    }
    maps.push_back(id);
    Value y = buildGeneric(
        rewriter, loc, inputs, emptyTensor(rewriter, loc, shape, et), maps,
        parallelIterators(rank),
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value ms = arith::DivFOp::create(b, l, a[1], constantF32(b, l, n));
          Value r = math::RsqrtOp::create(
              b, l, arith::AddFOp::create(b, l, ms, constantF32(b, l, eps)));
          Value v = arith::MulFOp::create(b, l, toCompute(b, l, a[0]), r);
          if (w)
            v = arith::MulFOp::create(b, l, v, toCompute(b, l, a[2]));
          return fromCompute(b, l, v, et);
        });
    rewriter.replaceOp(op, y);
    return success();
  }
};

struct LayerNormLowering : OpConversionPattern<LayerNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LayerNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value x = adaptor.getInput();
    ArrayRef<int64_t> shape = shapeOf(x);
    int64_t rank = shape.size();
    int64_t axis = normalize(op.getAxis(), rank);
    Type et = elementTypeOf(x);

    SmallVector<int64_t> normDims, rowShape;
    SmallVector<utils::IteratorType> iters = parallelIterators(rank);
    double n = 1;
    for (int64_t i = 0; i < rank; ++i) {
      if (i >= axis) {
        normDims.push_back(i);
        iters[i] = utils::IteratorType::reduction;
        n *= shape[i];
      } else {
        rowShape.push_back(shape[i]);
      }
    }
    AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
    AffineMap row = getProjectionMap(ctx, rank, normDims);
    AffineMap param = getSelectMap(ctx, rank, normDims);
    Value zero = constantF32(rewriter, loc, 0);

    // Two passes (mean, then the centred second moment) are stable where
    // E[x^2] - E[x]^2 cancels.
    Value sum = buildGeneric(
        rewriter, loc, x, filledTensor(rewriter, loc, rowShape, zero),
        {id, row}, iters, [](OpBuilder &b, Location l, ValueRange a) -> Value {
          return arith::AddFOp::create(b, l, a[1], toCompute(b, l, a[0]));
        });
    Value sq = buildGeneric(
        rewriter, loc, ValueRange{x, sum},
        filledTensor(rewriter, loc, rowShape, zero), {id, row, row}, iters,
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value mean = arith::DivFOp::create(b, l, a[1], constantF32(b, l, n));
          Value d = arith::SubFOp::create(b, l, toCompute(b, l, a[0]), mean);
          return arith::AddFOp::create(b, l, a[2],
                                       arith::MulFOp::create(b, l, d, d));
        });
    float eps = op.getEpsilon().convertToFloat();
    Value w = adaptor.getWeight(), bias = adaptor.getBias();
    SmallVector<Value> inputs = {x, sum, sq};
    SmallVector<AffineMap> maps = {id, row, row};
    if (w) {
      inputs.push_back(w);
      maps.push_back(param);
    }
    if (bias) {
      inputs.push_back(bias);
      maps.push_back(param);
    }
    maps.push_back(id);
    Value y = buildGeneric(
        rewriter, loc, inputs, emptyTensor(rewriter, loc, shape, et), maps,
        parallelIterators(rank),
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value cn = constantF32(b, l, n);
          Value mean = arith::DivFOp::create(b, l, a[1], cn);
          Value var = arith::DivFOp::create(b, l, a[2], cn);
          Value r = math::RsqrtOp::create(
              b, l, arith::AddFOp::create(b, l, var, constantF32(b, l, eps)));
          Value v = arith::MulFOp::create(
              b, l, arith::SubFOp::create(b, l, toCompute(b, l, a[0]), mean),
              r);
          unsigned next = 3;
          if (w)
            v = arith::MulFOp::create(b, l, v, toCompute(b, l, a[next++]));
          if (bias)
            v = arith::AddFOp::create(b, l, v, toCompute(b, l, a[next++]));
          return fromCompute(b, l, v, et);
        });
    rewriter.replaceOp(op, y);
    return success();
  }
};

struct CumsumLowering : OpConversionPattern<CumsumOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CumsumOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    ArrayRef<int64_t> shape = shapeOf(x);
    int64_t rank = shape.size();
    int64_t axis = normalize(op.getAxis(), rank);
    Type et = elementTypeOf(x), ct = getComputeType(et);
    bool isFloat = isa<FloatType>(et);
    bool exclusive = op.getExclusive(), reverse = op.getReverse();
    int64_t len = shape[axis];
    SmallVector<int64_t> rowShape(shape);
    rowShape.erase(rowShape.begin() + axis);

    // A running sum (compute type) carried through a loop over the axis.
    Value acc0 =
        filledTensor(rewriter, loc, rowShape, constant(rewriter, loc, ct, 0));
    Value out0 = emptyTensor(rewriter, loc, shape, et);
    auto loop = scf::ForOp::create(
        rewriter, loc, constantIndex(rewriter, loc, 0),
        constantIndex(rewriter, loc, len), constantIndex(rewriter, loc, 1),
        ValueRange{acc0, out0},
        [&](OpBuilder &b, Location l, Value i, ValueRange iter) {
          Value t = i;
          if (reverse)
            t = arith::SubIOp::create(b, l, constantIndex(b, l, len - 1), i);
          Value xs = sliceAlong(b, l, x, axis, t);
          Value acc = iter[0];
          Value before = roundTensor(b, l, acc, et);
          Value next = buildElementwise(
              b, l, ValueRange{acc, xs}, rowShape, ct,
              [&](OpBuilder &nb, Location nl, ValueRange a) -> Value {
                Value v = toCompute(nb, nl, a[1]);
                return isFloat ? Value(arith::AddFOp::create(nb, nl, a[0], v))
                               : Value(arith::AddIOp::create(nb, nl, a[0], v));
              });
          Value y = exclusive ? before : roundTensor(b, l, next, et);
          Value out = insertAlong(b, l, y, iter[1], axis, t);
          scf::YieldOp::create(b, l, ValueRange{next, out});
        });
    rewriter.replaceOp(op, loop.getResult(1));
    return success();
  }
};

struct TopKLowering : OpConversionPattern<TopKOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TopKOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    int64_t rank = shapeOf(adaptor.getInput()).size();
    auto [values, indices] =
        topK(rewriter, op.getLoc(), adaptor.getInput(),
             normalize(op.getAxis(), rank), op.getK(), op.getLargest());
    rewriter.replaceOp(op, ValueRange{values, indices});
    return success();
  }
};

} // namespace

void mlir::iolite::populateReductionLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<SoftmaxLowering, ReduceLowering, RmsNormLowering,
               LayerNormLowering, CumsumLowering, TopKLowering>(
      patterns.getContext());
}
