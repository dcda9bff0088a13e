//===- StateSpacePatterns.cpp - Convolutions and state-space scans --------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The convolutions are direct sums over a zero-padded input. The scans are
// the recurrences themselves: an scf.for over time carrying the f32 state as
// a tensor, one step per position, exactly the loops the op descriptions
// state (the chunked GPU algorithms are checked against them).
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <type_traits>

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::lowering;

namespace {

/// max(x, 0) + log1p(exp(-|x|)) on an f32 scalar.
Value softplus(OpBuilder &b, Location loc, Value x) {
  Value pos = arith::MaximumFOp::create(b, loc, x, constantF32(b, loc, 0));
  Value negAbs = arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, x));
  return arith::AddFOp::create(
      b, loc, pos,
      math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, negAbs)));
}

/// x * sigmoid(x) on an f32 scalar.
Value silu(OpBuilder &b, Location loc, Value x) {
  Value one = constantF32(b, loc, 1);
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, x,
                               arith::AddFOp::create(b, loc, one, e));
}

/// Pads the last dim of a [B, C, L] tensor with `n` zeros in front.
Value padFront(OpBuilder &b, Location loc, Value x, int64_t n) {
  ArrayRef<int64_t> shape = shapeOf(x);
  Type et = elementTypeOf(x);
  SmallVector<int64_t> padded(shape);
  padded.back() += n;
  SmallVector<OpFoldResult> low(shape.size(), b.getIndexAttr(0)),
      high(shape.size(), b.getIndexAttr(0));
  low.back() = b.getIndexAttr(n);
  return tensor::PadOp::create(b, loc, RankedTensorType::get(padded, et), x,
                               low, high, constant(b, loc, et, 0));
}

/// The depthwise causal convolution of the `[B, C, K-1+L]` input `xp` (the
/// `K-1` columns before the sequence, then the sequence):
/// `y[b, c, t] = bias[c] + sum_k w[c, k] xp[b, c, t + k]`, in f32, then
/// `activation`, rounded to `et`. `bias` may be null.
Value convolveDepthwise(OpBuilder &rewriter, Location loc, Value xp, Value w,
                        Value bias, Activation activation,
                        ArrayRef<int64_t> shape, Type et) {
  MLIRContext *ctx = rewriter.getContext();
  bool useSilu = activation == Activation::silu;
  AffineExpr b0 = getAffineDimExpr(0, ctx), c = getAffineDimExpr(1, ctx),
             t = getAffineDimExpr(2, ctx), k = getAffineDimExpr(3, ctx);
  SmallVector<utils::IteratorType> iters = parallelIterators(4);
  iters[3] = utils::IteratorType::reduction;
  Value acc = buildGeneric(
      rewriter, loc, ValueRange{xp, w},
      filledTensor(rewriter, loc, shape, constantF32(rewriter, loc, 0)),
      {AffineMap::get(4, 0, {b0, c, t + k}, ctx),
       AffineMap::get(4, 0, {c, k}, ctx),
       AffineMap::get(4, 0, {b0, c, t}, ctx)},
      iters, [](OpBuilder &b, Location l, ValueRange a) -> Value {
        Value p = arith::MulFOp::create(b, l, toCompute(b, l, a[0]),
                                        toCompute(b, l, a[1]));
        return arith::AddFOp::create(b, l, a[2], p);
      });
  SmallVector<Value> inputs = {acc};
  SmallVector<AffineMap> maps = {AffineMap::getMultiDimIdentityMap(3, ctx)};
  if (bias) {
    inputs.push_back(bias);
    maps.push_back(getSelectMap(ctx, 3, 1));
  }
  maps.push_back(AffineMap::getMultiDimIdentityMap(3, ctx));
  return buildGeneric(
      rewriter, loc, inputs, emptyTensor(rewriter, loc, shape, et), maps,
      parallelIterators(3),
      [&](OpBuilder &b, Location l, ValueRange a) -> Value {
        Value v = a[0];
        if (bias)
          v = arith::AddFOp::create(b, l, v, toCompute(b, l, a[1]));
        if (useSilu)
          v = silu(b, l, v);
        return fromCompute(b, l, v, et);
      });
}

struct Conv1dLowering : OpConversionPattern<Conv1dOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(Conv1dOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput(), w = adaptor.getWeight();
    int64_t kw = shapeOf(w)[1];
    // y[b, c, t] = sum_k w[c, k] x[b, c, t - (K-1) + k] = sum_k w xp[t + k].
    Value xp = padFront(rewriter, loc, x, kw - 1);
    rewriter.replaceOp(op,
                       convolveDepthwise(rewriter, loc, xp, w,
                                         adaptor.getBias(), op.getActivation(),
                                         shapeOf(x), elementTypeOf(x)));
    return success();
  }
};

/// conv1d with the state in front instead of zeros; the final state is the
/// last K-1 columns of [state, x].
struct Conv1dWithStateLowering : OpConversionPattern<Conv1dWithStateOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(Conv1dWithStateOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput(), w = adaptor.getWeight(),
          state = adaptor.getState();
    ArrayRef<int64_t> shape = shapeOf(x);
    int64_t batch = shape[0], channels = shape[1], len = shape[2];
    int64_t history = shapeOf(w)[1] - 1;
    Type et = elementTypeOf(x);
    SmallVector<OpFoldResult> ones(3, rewriter.getIndexAttr(1));
    auto sizes = [&](int64_t n) {
      return SmallVector<OpFoldResult>{rewriter.getIndexAttr(batch),
                                       rewriter.getIndexAttr(channels),
                                       rewriter.getIndexAttr(n)};
    };
    auto offsets = [&](int64_t t) {
      return SmallVector<OpFoldResult>{rewriter.getIndexAttr(0),
                                       rewriter.getIndexAttr(0),
                                       rewriter.getIndexAttr(t)};
    };
    Value xx = x;
    if (history > 0) {
      xx = emptyTensor(rewriter, loc, {batch, channels, history + len}, et);
      xx = tensor::InsertSliceOp::create(rewriter, loc, state, xx, offsets(0),
                                         sizes(history), ones);
      xx = tensor::InsertSliceOp::create(rewriter, loc, x, xx, offsets(history),
                                         sizes(len), ones);
    }
    Value y = convolveDepthwise(rewriter, loc, xx, w, adaptor.getBias(),
                                op.getActivation(), shape, et);
    Value last = tensor::ExtractSliceOp::create(
        rewriter, loc, cast<RankedTensorType>(state.getType()), xx,
        offsets(len), sizes(history), ones);
    rewriter.replaceOp(op, {y, last});
    return success();
  }
};

struct LongConvLowering : OpConversionPattern<LongConvOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LongConvOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value x = adaptor.getInput(), f = adaptor.getFilter(), d = adaptor.getD();
    ArrayRef<int64_t> shape = shapeOf(x);
    int64_t kf = shapeOf(f)[1];
    Type et = elementTypeOf(x);

    // y[t] = sum_{s < K} f[s] x[t - s] (x = 0 before 0) = sum_s f[s] xp[t +
    // K-1 - s].
    Value xp = padFront(rewriter, loc, x, kf - 1);
    AffineExpr b0 = getAffineDimExpr(0, ctx), c = getAffineDimExpr(1, ctx),
               t = getAffineDimExpr(2, ctx), s = getAffineDimExpr(3, ctx);
    SmallVector<utils::IteratorType> iters = parallelIterators(4);
    iters[3] = utils::IteratorType::reduction;
    Value acc = buildGeneric(
        rewriter, loc, ValueRange{xp, f},
        filledTensor(rewriter, loc, shape, constantF32(rewriter, loc, 0)),
        {AffineMap::get(4, 0, {b0, c, t + (kf - 1) - s}, ctx),
         AffineMap::get(4, 0, {c, s}, ctx),
         AffineMap::get(4, 0, {b0, c, t}, ctx)},
        iters, [](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value p = arith::MulFOp::create(b, l, toCompute(b, l, a[0]),
                                          toCompute(b, l, a[1]));
          return arith::AddFOp::create(b, l, a[2], p);
        });
    SmallVector<Value> inputs = {acc, x};
    AffineMap id = AffineMap::getMultiDimIdentityMap(3, ctx);
    SmallVector<AffineMap> maps = {id, id};
    if (d) {
      inputs.push_back(d);
      maps.push_back(getSelectMap(ctx, 3, 1));
    }
    maps.push_back(id);
    Value y = buildGeneric(
        rewriter, loc, inputs, emptyTensor(rewriter, loc, shape, et), maps,
        parallelIterators(3),
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value v = a[0];
          if (d)
            v = arith::AddFOp::create(
                b, l, v,
                arith::MulFOp::create(b, l, toCompute(b, l, a[2]),
                                      toCompute(b, l, a[1])));
          return fromCompute(b, l, v, et);
        });
    rewriter.replaceOp(op, y);
    return success();
  }
};

/// dt = delta + bias (when given), through softplus when asked; f32.
Value buildDelta(OpBuilder &b, Location loc, Value delta, Value bias,
                 int64_t biasDim, bool useSoftplus) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> shape = shapeOf(delta);
  int64_t rank = shape.size();
  SmallVector<Value> inputs = {delta};
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  SmallVector<AffineMap> maps = {id};
  if (bias) {
    inputs.push_back(bias);
    maps.push_back(getSelectMap(ctx, rank, biasDim));
  }
  maps.push_back(id);
  return buildGeneric(
      b, loc, inputs, emptyTensor(b, loc, shape, b.getF32Type()), maps,
      parallelIterators(rank),
      [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
        Value v = toCompute(nb, l, a[0]);
        if (bias)
          v = arith::AddFOp::create(nb, l, v, toCompute(nb, l, a[1]));
        return useSoftplus ? softplus(nb, l, v) : v;
      });
}

/// The selective scan, from zeros or (with_state) from the given state,
/// whose final value is then a second result.
template <typename OpTy>
struct SelectiveScanLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  using OpAdaptor = typename OpTy::Adaptor;
  static constexpr bool kWithState =
      std::is_same_v<OpTy, SelectiveScanWithStateOp>;
  LogicalResult
  matchAndRewrite(OpTy op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = this->getContext();
    Value u = adaptor.getU(), a = adaptor.getA(), bm = adaptor.getB(),
          cm = adaptor.getC(), dp = adaptor.getD(), z = adaptor.getZ();
    ArrayRef<int64_t> shape = shapeOf(u);
    int64_t batch = shape[0], dim = shape[1], len = shape[2];
    int64_t n = shapeOf(a)[1];
    Type et = elementTypeOf(u);

    Value dt = buildDelta(rewriter, loc, adaptor.getDelta(),
                          adaptor.getDeltaBias(), 1, op.getDeltaSoftplus());
    Value zero = constantF32(rewriter, loc, 0);
    Value h0;
    if constexpr (kWithState)
      h0 = adaptor.getState();
    else
      h0 = filledTensor(rewriter, loc, {batch, dim, n}, zero);
    Value y0 = emptyTensor(rewriter, loc, shape, et);
    // Loop dims of a step: b, d, n.
    auto sel = [&](ArrayRef<int64_t> dims) {
      return getSelectMap(ctx, 3, dims);
    };
    AffineMap bd = sel({0, 1}), dn = sel({1, 2}), bn = sel({0, 2}),
              bdn = sel({0, 1, 2});
    SmallVector<utils::IteratorType> reduceN = parallelIterators(3);
    reduceN[2] = utils::IteratorType::reduction;

    auto loop = scf::ForOp::create(
        rewriter, loc, constantIndex(rewriter, loc, 0),
        constantIndex(rewriter, loc, len), constantIndex(rewriter, loc, 1),
        ValueRange{h0, y0},
        [&](OpBuilder &b, Location l, Value t, ValueRange iter) {
          Value dtT = sliceAlong(b, l, dt, 2, t);
          Value uT = sliceAlong(b, l, u, 2, t);
          Value bT = sliceAlong(b, l, bm, 2, t);
          Value cT = sliceAlong(b, l, cm, 2, t);
          // h = exp(dt A) h + dt B u, updated in place.
          Value h = buildGeneric(
              b, l, ValueRange{dtT, a, bT, uT}, iter[0], {bd, dn, bn, bd, bdn},
              parallelIterators(3),
              [](OpBuilder &nb, Location nl, ValueRange v) -> Value {
                Value d = v[0];
                Value decay = math::ExpOp::create(
                    nb, nl,
                    arith::MulFOp::create(nb, nl, d, toCompute(nb, nl, v[1])));
                Value du =
                    arith::MulFOp::create(nb, nl, d, toCompute(nb, nl, v[3]));
                Value in =
                    arith::MulFOp::create(nb, nl, du, toCompute(nb, nl, v[2]));
                return arith::AddFOp::create(
                    nb, nl, arith::MulFOp::create(nb, nl, decay, v[4]), in);
              });
          Value yAcc = buildGeneric(
              b, l, ValueRange{h, cT},
              filledTensor(b, l, {batch, dim}, constantF32(b, l, 0)),
              {bdn, bn, bd}, reduceN,
              [](OpBuilder &nb, Location nl, ValueRange v) -> Value {
                Value p = arith::MulFOp::create(nb, nl, v[0],
                                                toCompute(nb, nl, v[1]));
                return arith::AddFOp::create(nb, nl, v[2], p);
              });
          MLIRContext *c2 = b.getContext();
          AffineMap id2 = AffineMap::getMultiDimIdentityMap(2, c2);
          SmallVector<Value> ins = {yAcc, uT};
          SmallVector<AffineMap> maps = {id2, id2};
          if (dp) {
            ins.push_back(dp);
            maps.push_back(getSelectMap(c2, 2, 1));
          }
          if (z) {
            ins.push_back(sliceAlong(b, l, z, 2, t));
            maps.push_back(id2);
          }
          maps.push_back(id2);
          Value yT = buildGeneric(
              b, l, ins, emptyTensor(b, l, {batch, dim}, et), maps,
              parallelIterators(2),
              [&](OpBuilder &nb, Location nl, ValueRange v) -> Value {
                Value y = v[0];
                unsigned next = 2;
                if (dp)
                  y = arith::AddFOp::create(
                      nb, nl, y,
                      arith::MulFOp::create(nb, nl,
                                            toCompute(nb, nl, v[next++]),
                                            toCompute(nb, nl, v[1])));
                if (z)
                  y = arith::MulFOp::create(
                      nb, nl, y, silu(nb, nl, toCompute(nb, nl, v[next++])));
                return fromCompute(nb, nl, y, et);
              });
          Value y = insertAlong(b, l, yT, iter[1], 2, t);
          scf::YieldOp::create(b, l, ValueRange{h, y});
        });
    if constexpr (kWithState)
      rewriter.replaceOp(op, {loop.getResult(1), loop.getResult(0)});
    else
      rewriter.replaceOp(op, loop.getResult(1));
    return success();
  }
};

/// SSD, from zeros or (with_state) from the given [B, H, P, N] state,
/// whose final value is then a second result.
template <typename OpTy> struct SsdLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  using OpAdaptor = typename OpTy::Adaptor;
  static constexpr bool kWithState = std::is_same_v<OpTy, SsdWithStateOp>;
  LogicalResult
  matchAndRewrite(OpTy op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = this->getContext();
    Value x = adaptor.getX(), a = adaptor.getA(), bm = adaptor.getB(),
          cm = adaptor.getC(), dp = adaptor.getD();
    ArrayRef<int64_t> shape = shapeOf(x);
    int64_t batch = shape[0], len = shape[1], heads = shape[2], p = shape[3];
    int64_t groups = shapeOf(bm)[2], n = shapeOf(bm)[3];
    int64_t hg = heads / groups;
    Type et = elementTypeOf(x);

    // Heads split into [G, H/G] so that head h = g * (H/G) + e reads group g
    // through a projection.
    Value dt = buildDelta(rewriter, loc, adaptor.getDt(), adaptor.getDtBias(),
                          2, op.getDtSoftplus());
    Value dt4 = splitDim(rewriter, loc, dt, 2, groups, hg);
    Value x5 = splitDim(rewriter, loc, x, 2, groups, hg);
    Value a2 = splitDim(rewriter, loc, a, 0, groups, hg);
    Value d2 = dp ? splitDim(rewriter, loc, dp, 0, groups, hg) : Value();
    Value zero = constantF32(rewriter, loc, 0);
    Value h0;
    if constexpr (kWithState)
      h0 = splitDim(rewriter, loc, adaptor.getState(), 1, groups, hg);
    else
      h0 = filledTensor(rewriter, loc, {batch, groups, hg, p, n}, zero);
    Value y0 = emptyTensor(rewriter, loc, {batch, len, groups, hg, p}, et);
    // Loop dims of a step: b, g, e, p, n.
    auto sel = [&](ArrayRef<int64_t> dims) {
      return getSelectMap(ctx, 5, dims);
    };
    SmallVector<utils::IteratorType> reduceN = parallelIterators(5);
    reduceN[4] = utils::IteratorType::reduction;

    auto loop = scf::ForOp::create(
        rewriter, loc, constantIndex(rewriter, loc, 0),
        constantIndex(rewriter, loc, len), constantIndex(rewriter, loc, 1),
        ValueRange{h0, y0},
        [&](OpBuilder &b, Location l, Value t, ValueRange iter) {
          Value xT = sliceAlong(b, l, x5, 1, t);
          Value dtT = sliceAlong(b, l, dt4, 1, t);
          Value bT = sliceAlong(b, l, bm, 1, t);
          Value cT = sliceAlong(b, l, cm, 1, t);
          // h = exp(dt A) h + dt outer(x, B), updated in place.
          Value h = buildGeneric(
              b, l, ValueRange{dtT, a2, xT, bT}, iter[0],
              {sel({0, 1, 2}), sel({1, 2}), sel({0, 1, 2, 3}), sel({0, 1, 4}),
               sel({0, 1, 2, 3, 4})},
              parallelIterators(5),
              [](OpBuilder &nb, Location nl, ValueRange v) -> Value {
                Value d = v[0];
                Value decay = math::ExpOp::create(
                    nb, nl,
                    arith::MulFOp::create(nb, nl, d, toCompute(nb, nl, v[1])));
                Value dx =
                    arith::MulFOp::create(nb, nl, d, toCompute(nb, nl, v[2]));
                Value in =
                    arith::MulFOp::create(nb, nl, dx, toCompute(nb, nl, v[3]));
                return arith::AddFOp::create(
                    nb, nl, arith::MulFOp::create(nb, nl, decay, v[4]), in);
              });
          Value yAcc = buildGeneric(
              b, l, ValueRange{h, cT},
              filledTensor(b, l, {batch, groups, hg, p}, constantF32(b, l, 0)),
              {sel({0, 1, 2, 3, 4}), sel({0, 1, 4}), sel({0, 1, 2, 3})},
              reduceN, [](OpBuilder &nb, Location nl, ValueRange v) -> Value {
                Value prod = arith::MulFOp::create(nb, nl, v[0],
                                                   toCompute(nb, nl, v[1]));
                return arith::AddFOp::create(nb, nl, v[2], prod);
              });
          MLIRContext *c2 = b.getContext();
          AffineMap id4 = AffineMap::getMultiDimIdentityMap(4, c2);
          SmallVector<Value> ins = {yAcc, xT};
          SmallVector<AffineMap> maps = {id4, id4};
          if (d2) {
            ins.push_back(d2);
            maps.push_back(getSelectMap(c2, 4, {1, 2}));
          }
          maps.push_back(id4);
          Value yT = buildGeneric(
              b, l, ins, emptyTensor(b, l, {batch, groups, hg, p}, et), maps,
              parallelIterators(4),
              [&](OpBuilder &nb, Location nl, ValueRange v) -> Value {
                Value y = v[0];
                if (d2)
                  y = arith::AddFOp::create(
                      nb, nl, y,
                      arith::MulFOp::create(nb, nl, toCompute(nb, nl, v[2]),
                                            toCompute(nb, nl, v[1])));
                return fromCompute(nb, nl, y, et);
              });
          Value y = insertAlong(b, l, yT, iter[1], 1, t);
          scf::YieldOp::create(b, l, ValueRange{h, y});
        });
    Value y = mergeDims(rewriter, loc, loop.getResult(1), 2);
    if constexpr (kWithState)
      rewriter.replaceOp(op,
                         {y, mergeDims(rewriter, loc, loop.getResult(0), 1)});
    else
      rewriter.replaceOp(op, y);
    return success();
  }
};

} // namespace

void mlir::iolite::populateStateSpaceLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<Conv1dLowering, Conv1dWithStateLowering, LongConvLowering,
               SelectiveScanLowering<SelectiveScanOp>,
               SelectiveScanLowering<SelectiveScanWithStateOp>,
               SsdLowering<SsdOp>, SsdLowering<SsdWithStateOp>>(
      patterns.getContext());
}
