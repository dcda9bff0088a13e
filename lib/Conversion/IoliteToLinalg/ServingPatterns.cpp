//===- ServingPatterns.cpp - KV caches and variable-length batches --------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The serving ops are defined by the ops they reduce to. An append is a loop
// of row inserts at run-time positions (a write outside the cache is
// dropped). Attention over a cache gathers the cache into the
// [B, Hkv, L, D] layout of iolite.attention and masks keys by each
// sequence's length; a packed variable-length batch is one sequence of
// iolite.attention whose mask keeps the keys of the query's own sequence.
// The iolite ops these patterns create are lowered by their own patterns,
// so the semantics of the softmax (f32 statistics, zeros for a query with
// no key) is attention's.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::lowering;

using P = arith::CmpIPredicate;

/// `v` (an integer or index scalar) clamped to `[0, hi - 1]`, as an index.
static Value clampIndex(OpBuilder &b, Location l, Value v, int64_t hi) {
  Value i = toIndex(b, l, v);
  i = arith::MaxSIOp::create(b, l, i, constantIndex(b, l, 0));
  return arith::MinSIOp::create(b, l, i, constantIndex(b, l, hi - 1));
}

/// An index compared with a constant bound.
static Value cmpIndex(OpBuilder &b, Location l, P pred, Value v, int64_t c) {
  return arith::CmpIOp::create(b, l, pred, v, constantIndex(b, l, c));
}

/// The cache (contiguous [B, L, Hkv, D], or a page pool [N, P, Hkv, D] read
/// through `table` [B, M]) as a [B, Hkv, L', D] tensor, L' = L or M * P.
/// Block table entries outside the pool are clamped into it: only the
/// positions past a sequence's length read them, and those are masked.
static Value gatherCache(OpBuilder &b, Location loc, Value cache, Value table,
                         int64_t batch) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> shape = shapeOf(cache);
  int64_t hkv = shape[2], d = shape[3];
  Type et = elementTypeOf(cache);
  if (!table) {
    SmallVector<int64_t> out = {batch, hkv, shape[1], d};
    return buildGeneric(
        b, loc, cache, emptyTensor(b, loc, out, et),
        {getSelectMap(ctx, 4, {0, 2, 1, 3}),
         AffineMap::getMultiDimIdentityMap(4, ctx)},
        parallelIterators(4),
        [](OpBuilder &, Location, ValueRange a) -> Value { return a[0]; });
  }
  int64_t pages = shape[0], pageSize = shape[1];
  int64_t perSeq = shapeOf(table)[1];
  SmallVector<int64_t> out = {batch, hkv, perSeq * pageSize, d};
  return buildGeneric(
      b, loc, ValueRange{}, emptyTensor(b, loc, out, et),
      {AffineMap::getMultiDimIdentityMap(4, ctx)}, parallelIterators(4),
      [&](OpBuilder &b, Location l, ValueRange) -> Value {
        Value j = loopIndex(b, l, 2);
        Value block =
            arith::DivUIOp::create(b, l, j, constantIndex(b, l, pageSize));
        Value slot =
            arith::RemUIOp::create(b, l, j, constantIndex(b, l, pageSize));
        Value page = tensor::ExtractOp::create(
            b, l, table, ValueRange{loopIndex(b, l, 0), block});
        page = clampIndex(b, l, page, pages);
        return tensor::ExtractOp::create(
            b, l, cache,
            ValueRange{page, slot, loopIndex(b, l, 1), loopIndex(b, l, 3)});
      });
}

/// Transposes [X, Y, H, D]-ordered dims 1 and 2 (sequence and heads).
static Value swapSeqAndHeads(OpBuilder &b, Location loc, Value v) {
  return TransposeOp::create(b, loc, v, ArrayRef<int64_t>{0, 2, 1, 3});
}

namespace {

struct KvCacheAppendLowering : OpConversionPattern<KvCacheAppendOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(KvCacheAppendOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value kc = adaptor.getKCache(), vc = adaptor.getVCache();
    Value k = adaptor.getKey(), v = adaptor.getValue();
    Value lens = adaptor.getCacheSeqlens(), table = adaptor.getBlockTable();
    ArrayRef<int64_t> kShape = shapeOf(k), cShape = shapeOf(kc);
    int64_t batch = kShape[0], steps = kShape[1];
    int64_t rows = cShape[0], length = cShape[1];
    int64_t perSeq = table ? shapeOf(table)[1] : 0;

    // Token t of sequence b goes to position p = lens[b] + t: row (b, p) of
    // a contiguous cache, slot p % P of page table[b, p / P] of a pool.
    auto body = [&](OpBuilder &b, Location l, Value seq, Value t,
                    ValueRange caches) -> SmallVector<Value> {
      Value pos = arith::AddIOp::create(
          b, l, toIndex(b, l, tensor::ExtractOp::create(b, l, lens, seq)), t);
      Value valid = cmpIndex(b, l, P::sge, pos, 0);
      Value row = seq, slot = pos;
      if (!table) {
        valid = arith::AndIOp::create(b, l, valid,
                                      cmpIndex(b, l, P::slt, pos, length));
      } else {
        Value block =
            arith::DivSIOp::create(b, l, pos, constantIndex(b, l, length));
        slot = arith::RemSIOp::create(b, l, pos, constantIndex(b, l, length));
        valid = arith::AndIOp::create(b, l, valid,
                                      cmpIndex(b, l, P::slt, block, perSeq));
        Value page = toIndex(
            b, l,
            tensor::ExtractOp::create(
                b, l, table, ValueRange{seq, clampIndex(b, l, block, perSeq)}));
        valid =
            arith::AndIOp::create(b, l, valid, cmpIndex(b, l, P::sge, page, 0));
        valid = arith::AndIOp::create(b, l, valid,
                                      cmpIndex(b, l, P::slt, page, rows));
        row = page;
      }
      auto ifOp = scf::IfOp::create(
          b, l, valid,
          [&](OpBuilder &b, Location l) {
            SmallVector<Value> updated, sources = {k, v};
            for (auto [src, dest] : llvm::zip(sources, caches)) {
              ArrayRef<int64_t> s = shapeOf(src);
              SmallVector<int64_t> unitShape = {1, 1, s[2], s[3]};
              SmallVector<OpFoldResult> sizes = {
                  b.getIndexAttr(1), b.getIndexAttr(1), b.getIndexAttr(s[2]),
                  b.getIndexAttr(s[3])};
              SmallVector<OpFoldResult> ones(4, b.getIndexAttr(1));
              Value unit = tensor::ExtractSliceOp::create(
                  b, l, RankedTensorType::get(unitShape, elementTypeOf(src)),
                  src,
                  SmallVector<OpFoldResult>{seq, t, b.getIndexAttr(0),
                                            b.getIndexAttr(0)},
                  sizes, ones);
              updated.push_back(tensor::InsertSliceOp::create(
                  b, l, unit, dest,
                  SmallVector<OpFoldResult>{row, slot, b.getIndexAttr(0),
                                            b.getIndexAttr(0)},
                  sizes, ones));
            }
            scf::YieldOp::create(b, l, updated);
          },
          [&](OpBuilder &b, Location l) {
            scf::YieldOp::create(b, l, caches);
          });
      return SmallVector<Value>(ifOp.getResults());
    };

    Value zero = constantIndex(rewriter, loc, 0);
    Value one = constantIndex(rewriter, loc, 1);
    auto outer = scf::ForOp::create(
        rewriter, loc, zero, constantIndex(rewriter, loc, batch), one,
        ValueRange{kc, vc},
        [&](OpBuilder &b, Location l, Value seq, ValueRange iter) {
          auto inner = scf::ForOp::create(
              b, l, zero, constantIndex(b, l, steps), one, iter,
              [&](OpBuilder &b, Location l, Value t, ValueRange caches) {
                scf::YieldOp::create(b, l, body(b, l, seq, t, caches));
              });
          scf::YieldOp::create(b, l, inner.getResults());
        });
    rewriter.replaceOp(op, outer.getResults());
    return success();
  }
};

struct CacheAttentionLowering : OpConversionPattern<CacheAttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CacheAttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value q = adaptor.getQuery(), lens = adaptor.getCacheSeqlens();
    Value table = adaptor.getBlockTable();
    int64_t batch = shapeOf(q)[0], sq = shapeOf(q)[1];
    Value k = gatherCache(rewriter, loc, adaptor.getKCache(), table, batch);
    Value v = gatherCache(rewriter, loc, adaptor.getVCache(), table, batch);
    int64_t keys = shapeOf(k)[2];
    bool causal = op.getCausal();

    // Query i of sequence b sits at n_b - Sq + i and sees keys j < n_b
    // (and j <= n_b - Sq + i when causal).
    Value mask = buildGeneric(
        rewriter, loc, lens,
        emptyTensor(rewriter, loc, {batch, 1, sq, keys}, rewriter.getI1Type()),
        {getSelectMap(ctx, 4, {0}), AffineMap::getMultiDimIdentityMap(4, ctx)},
        parallelIterators(4),
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value n = toI64(b, l, a[0]);
          Value j = loopIndexI64(b, l, 3);
          Value keep = arith::CmpIOp::create(b, l, P::slt, j, n);
          if (!causal)
            return keep;
          Value pos = arith::AddIOp::create(
              b, l, arith::SubIOp::create(b, l, n, constantI64(b, l, sq)),
              loopIndexI64(b, l, 2));
          return arith::AndIOp::create(
              b, l, keep, arith::CmpIOp::create(b, l, P::sle, j, pos));
        });
    auto attn = AttentionOp::create(
        rewriter, loc, swapSeqAndHeads(rewriter, loc, q), k, v, mask, Value(),
        rewriter.getF32FloatAttr(op.getEffectiveScale()), false, IntegerAttr(),
        FloatAttr());
    rewriter.replaceOp(op, swapSeqAndHeads(rewriter, loc, attn.getResult()));
    return success();
  }
};

struct VarlenAttentionLowering : OpConversionPattern<VarlenAttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(VarlenAttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = getContext();
    Value q = adaptor.getQuery(), k = adaptor.getKey(), v = adaptor.getValue();
    Value cuQ = adaptor.getCuSeqlensQ(), cuK = adaptor.getCuSeqlensK();
    ArrayRef<int64_t> qShape = shapeOf(q);
    int64_t tq = qShape[0], tk = shapeOf(k)[0];
    int64_t seqs = shapeOf(cuQ)[0] - 1;
    bool causal = op.getCausal();
    RankedTensorType resultType = op.getType();
    if (seqs == 0 || tq == 0 || tk == 0) {
      // No query has a key.
      Value zero = constant(rewriter, loc, resultType.getElementType(), 0);
      rewriter.replaceOp(
          op, filledTensor(rewriter, loc, resultType.getShape(), zero));
      return success();
    }

    // The sequence of query row i: how many boundaries cu_q[1..B] are <= i.
    Type i64 = rewriter.getI64Type();
    SmallVector<utils::IteratorType> iters = {utils::IteratorType::parallel,
                                              utils::IteratorType::reduction};
    Value ends = tensor::ExtractSliceOp::create(
        rewriter, loc, cuQ, ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1)},
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(seqs)},
        ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1)});
    Value seqOfQuery = buildGeneric(
        rewriter, loc, ends,
        filledTensor(rewriter, loc, {tq}, constantI64(rewriter, loc, 0)),
        {getSelectMap(ctx, 2, {1}), getSelectMap(ctx, 2, {0})}, iters,
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value past = arith::CmpIOp::create(b, l, P::sle, toI64(b, l, a[0]),
                                             loopIndexI64(b, l, 0));
          return arith::AddIOp::create(b, l, a[1],
                                       arith::ExtUIOp::create(b, l, i64, past));
        });

    // Key j is kept for query i when both lie in sequence s = seq(i) and,
    // when causal, j - k0 <= i - q0 + (lk - lq).
    Value mask = buildGeneric(
        rewriter, loc, seqOfQuery,
        emptyTensor(rewriter, loc, {1, 1, tq, tk}, rewriter.getI1Type()),
        {getSelectMap(ctx, 4, {2}), AffineMap::getMultiDimIdentityMap(4, ctx)},
        parallelIterators(4),
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value s = a[0];
          Value inBatch =
              arith::CmpIOp::create(b, l, P::slt, s, constantI64(b, l, seqs));
          Value si = clampIndex(b, l, s, seqs);
          Value next = arith::AddIOp::create(b, l, si, constantIndex(b, l, 1));
          auto at = [&](Value cu, Value idx) {
            return toI64(b, l, tensor::ExtractOp::create(b, l, cu, idx));
          };
          Value q0 = at(cuQ, si), q1 = at(cuQ, next);
          Value k0 = at(cuK, si), k1 = at(cuK, next);
          Value i = loopIndexI64(b, l, 2), j = loopIndexI64(b, l, 3);
          Value keep = inBatch;
          auto conj = [&](Value c) {
            keep = arith::AndIOp::create(b, l, keep, c);
          };
          conj(arith::CmpIOp::create(b, l, P::sge, i, q0));
          conj(arith::CmpIOp::create(b, l, P::sge, j, k0));
          conj(arith::CmpIOp::create(b, l, P::slt, j, k1));
          if (causal) {
            // j - k0 <= i - q0 + (k1 - k0) - (q1 - q0)  <=>  j <= i + k1 - q1
            Value limit = arith::SubIOp::create(
                b, l, arith::AddIOp::create(b, l, i, k1), q1);
            conj(arith::CmpIOp::create(b, l, P::sle, j, limit));
          }
          return keep;
        });

    // [T, H, D] -> [1, H, T, D] for attention, and back.
    auto toHeadsMajor = [&](Value x) {
      ArrayRef<int64_t> s = shapeOf(x);
      auto expanded =
          RankedTensorType::get({1, s[0], s[1], s[2]}, elementTypeOf(x));
      Value r = ReshapeOp::create(rewriter, loc, expanded, x);
      return swapSeqAndHeads(rewriter, loc, r);
    };
    auto attn = AttentionOp::create(
        rewriter, loc, toHeadsMajor(q), toHeadsMajor(k), toHeadsMajor(v), mask,
        Value(), rewriter.getF32FloatAttr(op.getEffectiveScale()), false,
        IntegerAttr(), FloatAttr());
    Value out = swapSeqAndHeads(rewriter, loc, attn.getResult());
    rewriter.replaceOp(op, ReshapeOp::create(rewriter, loc, resultType, out));
    return success();
  }
};

} // namespace

void mlir::iolite::populateServingLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<KvCacheAppendLowering, CacheAttentionLowering,
               VarlenAttentionLowering>(patterns.getContext());
}
