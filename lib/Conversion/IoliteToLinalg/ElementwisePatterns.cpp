//===- ElementwisePatterns.cpp - Constants, casts, elementwise ops --------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Every elementwise op becomes one linalg.generic whose operands broadcast
// NumPy-style through their indexing maps. Floats compute in f32 and round
// once to the result type, so an f16 op gives the correctly rounded result of
// the f32 computation.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::lowering;

namespace {

//===----------------------------------------------------------------------===//
// Constants, casts, select
//===----------------------------------------------------------------------===//

struct ConstantLowering : OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConstantOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto value = dyn_cast<TypedAttr>(op.getValue());
    if (!value)
      return rewriter.notifyMatchFailure(op, "value is not a typed attribute");
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(op, value);
    return success();
  }
};

struct CastLowering : OpConversionPattern<CastOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CastOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type to = op.getType().getElementType();
    rewriter.replaceOp(
        op, buildElementwise(rewriter, op.getLoc(), adaptor.getInput(),
                             op.getType().getShape(), to,
                             [&](OpBuilder &b, Location loc, ValueRange a) {
                               return convertScalar(b, loc, a[0], to);
                             }));
    return success();
  }
};

struct SelectLowering : OpConversionPattern<SelectOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SelectOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op,
        buildElementwise(
            rewriter, op.getLoc(),
            {adaptor.getCondition(), adaptor.getOnTrue(), adaptor.getOnFalse()},
            op.getType().getShape(), op.getType().getElementType(),
            [](OpBuilder &b, Location loc, ValueRange a) -> Value {
              return arith::SelectOp::create(b, loc, a[0], a[1], a[2]);
            }));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Binary ops
//===----------------------------------------------------------------------===//

/// Scalar body of a binary op on compute-type operands.
using BinaryFn = Value (*)(OpBuilder &, Location, Value, Value);

Value addFn(OpBuilder &b, Location loc, Value x, Value y) {
  if (isa<FloatType>(x.getType()))
    return arith::AddFOp::create(b, loc, x, y);
  return arith::AddIOp::create(b, loc, x, y);
}

Value subFn(OpBuilder &b, Location loc, Value x, Value y) {
  if (isa<FloatType>(x.getType()))
    return arith::SubFOp::create(b, loc, x, y);
  return arith::SubIOp::create(b, loc, x, y);
}

Value mulFn(OpBuilder &b, Location loc, Value x, Value y) {
  if (isa<FloatType>(x.getType()))
    return arith::MulFOp::create(b, loc, x, y);
  return arith::MulIOp::create(b, loc, x, y);
}

/// Integer division truncates; x / 0 is 0 and MIN / -1 wraps to MIN, so that
/// no input traps (the hardware division faults on both).
Value divFn(OpBuilder &b, Location loc, Value x, Value y) {
  Type t = x.getType();
  if (isa<FloatType>(t))
    return arith::DivFOp::create(b, loc, x, y);
  using P = arith::CmpIPredicate;
  Value zero = constant(b, loc, t, 0), one = constant(b, loc, t, 1),
        minusOne = constant(b, loc, t, -1);
  Value isZero = arith::CmpIOp::create(b, loc, P::eq, y, zero);
  Value isMinusOne = arith::CmpIOp::create(b, loc, P::eq, y, minusOne);
  Value unsafe = arith::OrIOp::create(b, loc, isZero, isMinusOne);
  Value safeY = arith::SelectOp::create(b, loc, unsafe, one, y);
  Value q = arith::DivSIOp::create(b, loc, x, safeY);
  Value negX = arith::SubIOp::create(b, loc, zero, x);
  q = arith::SelectOp::create(b, loc, isMinusOne, negX, q);
  return arith::SelectOp::create(b, loc, isZero, zero, q);
}

Value maxFn(OpBuilder &b, Location loc, Value x, Value y) {
  if (isa<FloatType>(x.getType()))
    return arith::MaximumFOp::create(b, loc, x, y);
  return arith::MaxSIOp::create(b, loc, x, y);
}

Value minFn(OpBuilder &b, Location loc, Value x, Value y) {
  if (isa<FloatType>(x.getType()))
    return arith::MinimumFOp::create(b, loc, x, y);
  return arith::MinSIOp::create(b, loc, x, y);
}

Value powFn(OpBuilder &b, Location loc, Value x, Value y) {
  return math::PowFOp::create(b, loc, x, y);
}

template <typename OpTy, BinaryFn Fn>
struct BinaryLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    Type et = type.getElementType();
    rewriter.replaceOp(
        op,
        buildElementwise(rewriter, op.getLoc(),
                         {adaptor.getLhs(), adaptor.getRhs()}, type.getShape(),
                         et, [&](OpBuilder &b, Location loc, ValueRange a) {
                           Value r = Fn(b, loc, toCompute(b, loc, a[0]),
                                        toCompute(b, loc, a[1]));
                           return fromCompute(b, loc, r, et);
                         }));
    return success();
  }
};

struct CompareLowering : OpConversionPattern<CompareOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CompareOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ComparePredicate pred = op.getPredicate();
    rewriter.replaceOp(
        op, buildElementwise(
                rewriter, op.getLoc(), {adaptor.getLhs(), adaptor.getRhs()},
                op.getType().getShape(), rewriter.getI1Type(),
                [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
                  Value x = toCompute(b, loc, a[0]),
                        y = toCompute(b, loc, a[1]);
                  Type t = x.getType();
                  if (isa<FloatType>(t)) {
                    // Ordered predicates: NaN compares false, except `ne`.
                    using P = arith::CmpFPredicate;
                    P p = P::OEQ;
                    switch (pred) {
                    case ComparePredicate::eq:
                      p = P::OEQ;
                      break;
                    case ComparePredicate::ne:
                      p = P::UNE;
                      break;
                    case ComparePredicate::lt:
                      p = P::OLT;
                      break;
                    case ComparePredicate::le:
                      p = P::OLE;
                      break;
                    case ComparePredicate::gt:
                      p = P::OGT;
                      break;
                    case ComparePredicate::ge:
                      p = P::OGE;
                      break;
                    }
                    return arith::CmpFOp::create(b, loc, p, x, y);
                  }
                  // i1 orders false < true, so it compares unsigned.
                  bool isBool = t.isInteger(1);
                  using P = arith::CmpIPredicate;
                  P p = P::eq;
                  switch (pred) {
                  case ComparePredicate::eq:
                    p = P::eq;
                    break;
                  case ComparePredicate::ne:
                    p = P::ne;
                    break;
                  case ComparePredicate::lt:
                    p = isBool ? P::ult : P::slt;
                    break;
                  case ComparePredicate::le:
                    p = isBool ? P::ule : P::sle;
                    break;
                  case ComparePredicate::gt:
                    p = isBool ? P::ugt : P::sgt;
                    break;
                  case ComparePredicate::ge:
                    p = isBool ? P::uge : P::sge;
                    break;
                  }
                  return arith::CmpIOp::create(b, loc, p, x, y);
                }));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Unary ops
//===----------------------------------------------------------------------===//

/// Scalar body of a unary op on a compute-type operand.
using UnaryFn = Value (*)(OpBuilder &, Location, Value);

Value expFn(OpBuilder &b, Location loc, Value x) {
  return math::ExpOp::create(b, loc, x);
}
Value logFn(OpBuilder &b, Location loc, Value x) {
  return math::LogOp::create(b, loc, x);
}
Value tanhFn(OpBuilder &b, Location loc, Value x) {
  return math::TanhOp::create(b, loc, x);
}
Value erfFn(OpBuilder &b, Location loc, Value x) {
  return math::ErfOp::create(b, loc, x);
}
Value sigmoidFn(OpBuilder &b, Location loc, Value x) {
  // 1 / (1 + exp(-x)): exp overflows to inf for x << 0 and the result is 0.
  Value one = constantF32(b, loc, 1);
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, one,
                               arith::AddFOp::create(b, loc, one, e));
}
Value siluFn(OpBuilder &b, Location loc, Value x) {
  return arith::MulFOp::create(b, loc, x, sigmoidFn(b, loc, x));
}
Value reluFn(OpBuilder &b, Location loc, Value x) {
  return maxFn(b, loc, x, constant(b, loc, x.getType(), 0));
}
Value rsqrtFn(OpBuilder &b, Location loc, Value x) {
  return math::RsqrtOp::create(b, loc, x);
}
Value sqrtFn(OpBuilder &b, Location loc, Value x) {
  return math::SqrtOp::create(b, loc, x);
}
Value negFn(OpBuilder &b, Location loc, Value x) {
  if (isa<FloatType>(x.getType()))
    return arith::NegFOp::create(b, loc, x);
  return arith::SubIOp::create(b, loc, constant(b, loc, x.getType(), 0), x);
}
Value absFn(OpBuilder &b, Location loc, Value x) {
  if (isa<FloatType>(x.getType()))
    return math::AbsFOp::create(b, loc, x);
  // Integer |x| wraps at the minimum value, like two's complement negation.
  Value neg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x,
                                    constant(b, loc, x.getType(), 0));
  return arith::SelectOp::create(b, loc, neg, negFn(b, loc, x), x);
}
Value reciprocalFn(OpBuilder &b, Location loc, Value x) {
  return arith::DivFOp::create(b, loc, constantF32(b, loc, 1), x);
}
Value softplusFn(OpBuilder &b, Location loc, Value x) {
  // max(x, 0) + log1p(exp(-|x|)): exp never sees a positive argument.
  Value pos = arith::MaximumFOp::create(b, loc, x, constantF32(b, loc, 0));
  Value negAbs = arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, x));
  Value tail =
      math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, negAbs));
  return arith::AddFOp::create(b, loc, pos, tail);
}
Value sinFn(OpBuilder &b, Location loc, Value x) {
  return math::SinOp::create(b, loc, x);
}
Value cosFn(OpBuilder &b, Location loc, Value x) {
  return math::CosOp::create(b, loc, x);
}

template <typename OpTy, UnaryFn Fn>
struct UnaryLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getType());
    Type et = type.getElementType();
    rewriter.replaceOp(
        op, buildElementwise(rewriter, op.getLoc(), adaptor.getInput(),
                             type.getShape(), et,
                             [&](OpBuilder &b, Location loc, ValueRange a) {
                               Value r = Fn(b, loc, toCompute(b, loc, a[0]));
                               return fromCompute(b, loc, r, et);
                             }));
    return success();
  }
};

struct GeluLowering : OpConversionPattern<GeluOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GeluOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type et = op.getType().getElementType();
    bool useTanh = op.getApproximate() == GeluApproximation::tanh;
    rewriter.replaceOp(
        op,
        buildElementwise(
            rewriter, op.getLoc(), adaptor.getInput(), op.getType().getShape(),
            et, [&](OpBuilder &b, Location loc, ValueRange a) {
              Value x = toCompute(b, loc, a[0]);
              Value half = constantF32(b, loc, 0.5);
              Value one = constantF32(b, loc, 1);
              Value inner;
              if (useTanh) {
                // tanh(sqrt(2/pi) (x + 0.044715 x^3))
                Value x3 = arith::MulFOp::create(
                    b, loc, x, arith::MulFOp::create(b, loc, x, x));
                Value poly = arith::AddFOp::create(
                    b, loc, x,
                    arith::MulFOp::create(b, loc, constantF32(b, loc, 0.044715),
                                          x3));
                inner = math::TanhOp::create(
                    b, loc,
                    arith::MulFOp::create(
                        b, loc, constantF32(b, loc, std::sqrt(2.0 / M_PI)),
                        poly));
              } else {
                inner = math::ErfOp::create(
                    b, loc,
                    arith::MulFOp::create(b, loc, x,
                                          constantF32(b, loc, M_SQRT1_2)));
              }
              Value r = arith::MulFOp::create(
                  b, loc, arith::MulFOp::create(b, loc, half, x),
                  arith::AddFOp::create(b, loc, one, inner));
              return fromCompute(b, loc, r, et);
            }));
    return success();
  }
};

} // namespace

void mlir::iolite::populateElementwiseLoweringPatterns(
    RewritePatternSet &patterns) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<ConstantLowering, CastLowering, SelectLowering, CompareLowering,
               GeluLowering>(ctx);
  patterns.add<BinaryLowering<AddOp, addFn>, BinaryLowering<SubOp, subFn>,
               BinaryLowering<MulOp, mulFn>, BinaryLowering<DivOp, divFn>,
               BinaryLowering<MaxOp, maxFn>, BinaryLowering<MinOp, minFn>,
               BinaryLowering<PowOp, powFn>>(ctx);
  patterns.add<UnaryLowering<ExpOp, expFn>, UnaryLowering<LogOp, logFn>,
               UnaryLowering<TanhOp, tanhFn>, UnaryLowering<ErfOp, erfFn>,
               UnaryLowering<SigmoidOp, sigmoidFn>,
               UnaryLowering<SiluOp, siluFn>, UnaryLowering<ReluOp, reluFn>,
               UnaryLowering<RsqrtOp, rsqrtFn>, UnaryLowering<SqrtOp, sqrtFn>,
               UnaryLowering<NegOp, negFn>, UnaryLowering<AbsOp, absFn>,
               UnaryLowering<ReciprocalOp, reciprocalFn>,
               UnaryLowering<SoftplusOp, softplusFn>,
               UnaryLowering<SinOp, sinFn>, UnaryLowering<CosOp, cosFn>>(ctx);
}
