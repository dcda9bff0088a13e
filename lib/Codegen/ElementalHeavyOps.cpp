//===- ElementalHeavyOps.cpp - Elements of reductions, matmuls, scans -----===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The generic fallback of the element emitter: one element of every op that
// is not cheap, computed by loops over the inputs it depends on. This is what
// lets every iolite op compile even where no fast template exists yet; the
// templates (row reductions, matmul, ...) replace these loops for the ops
// they root.
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/ElementalEmitter.h"

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/TypeSwitch.h"
#include <limits>

using namespace mlir;
using namespace mlir::iolite;

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<ShapedType>(v.getType()).getShape();
}
static Type elementTypeOf(Value v) {
  return cast<ShapedType>(v.getType()).getElementType();
}
static int64_t normAxis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

namespace {
/// Small builders for the loops below.
struct Ops {
  ElementalEmitter &e;
  ImplicitLocOpBuilder &b;
  Value idx(int64_t v) { return e.constIndex(v); }
  Value f(double v) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  }
  Value addf(Value x, Value y) { return arith::AddFOp::create(b, x, y); }
  Value subf(Value x, Value y) { return arith::SubFOp::create(b, x, y); }
  Value mulf(Value x, Value y) { return arith::MulFOp::create(b, x, y); }
  Value divf(Value x, Value y) { return arith::DivFOp::create(b, x, y); }
  Value maxf(Value x, Value y) { return arith::MaximumFOp::create(b, x, y); }
  Value exp(Value x) { return math::ExpOp::create(b, x); }
  Value iadd(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value isub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value imul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value cmpi(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, p, x, y);
  }
  Value cmpf(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, p, x, y);
  }
  Value sel(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, c, x, y);
  }
  Value andi(Value x, Value y) { return arith::AndIOp::create(b, x, y); }
  Value ori(Value x, Value y) { return arith::OrIOp::create(b, x, y); }
  Value toIndex(Value v) {
    return arith::IndexCastOp::create(b, b.getIndexType(), v);
  }
  Value indexTo(Value v, Type t) { return arith::IndexCastOp::create(b, t, v); }
  Value indexToF32(Value v) {
    return arith::SIToFPOp::create(b, b.getF32Type(),
                                   indexTo(v, b.getI64Type()));
  }
  Value softplus(Value x) {
    Value absX = math::AbsFOp::create(b, x);
    return addf(maxf(x, f(0.0)),
                math::Log1pOp::create(b, exp(arith::NegFOp::create(b, absX))));
  }
  Value silu(Value x) {
    return divf(x, addf(f(1.0), exp(arith::NegFOp::create(b, x))));
  }
  /// Sum (or any fold) over [lb, ub) of one carried value.
  FailureOr<Value>
  fold(Value lb, Value ub, Value init,
       function_ref<FailureOr<Value>(Value iv, Value acc)> step) {
    FailureOr<SmallVector<Value>> r = e.forLoop(
        lb, ub, idx(1), {init},
        [&](Value iv, ValueRange it) -> FailureOr<SmallVector<Value>> {
          FailureOr<Value> next = step(iv, it[0]);
          if (failed(next))
            return failure();
          return SmallVector<Value>{*next};
        });
    if (failed(r))
      return failure();
    return (*r)[0];
  }
  FailureOr<Value>
  fold(int64_t n, Value init,
       function_ref<FailureOr<Value>(Value iv, Value acc)> step) {
    return fold(idx(0), idx(n), init, step);
  }
};
} // namespace

/// The neutral element of a reduction in `type`.
static Value reductionInit(Ops &o, ReduceKind kind, Type type) {
  ImplicitLocOpBuilder &b = o.b;
  bool isFloat = isa<FloatType>(type);
  switch (kind) {
  case ReduceKind::sum:
  case ReduceKind::mean:
    return isFloat
               ? o.f(0.0)
               : (Value)arith::ConstantOp::create(b, b.getIntegerAttr(type, 0));
  case ReduceKind::prod:
    return isFloat
               ? o.f(1.0)
               : (Value)arith::ConstantOp::create(b, b.getIntegerAttr(type, 1));
  case ReduceKind::max:
    if (isFloat)
      return o.f(-std::numeric_limits<double>::infinity());
    return arith::ConstantOp::create(
        b, b.getIntegerAttr(
               type, APInt::getSignedMinValue(type.getIntOrFloatBitWidth())));
  case ReduceKind::min:
    if (isFloat)
      return o.f(std::numeric_limits<double>::infinity());
    return arith::ConstantOp::create(
        b, b.getIntegerAttr(
               type, APInt::getSignedMaxValue(type.getIntOrFloatBitWidth())));
  }
  llvm_unreachable("unknown reduce kind");
}

static Value reductionStep(Ops &o, ReduceKind kind, Value acc, Value x) {
  ImplicitLocOpBuilder &b = o.b;
  bool isFloat = isa<FloatType>(x.getType());
  switch (kind) {
  case ReduceKind::sum:
  case ReduceKind::mean:
    return isFloat ? o.addf(acc, x) : o.iadd(acc, x);
  case ReduceKind::prod:
    return isFloat ? o.mulf(acc, x) : o.imul(acc, x);
  case ReduceKind::max:
    return isFloat ? (Value)arith::MaximumFOp::create(b, acc, x)
                   : (Value)arith::MaxSIOp::create(b, acc, x);
  case ReduceKind::min:
    return isFloat ? (Value)arith::MinimumFOp::create(b, acc, x)
                   : (Value)arith::MinSIOp::create(b, acc, x);
  }
  llvm_unreachable("unknown reduce kind");
}

FailureOr<Value> ElementalEmitter::emitHeavy(Operation *op,
                                             unsigned resultNumber,
                                             ValueRange index) {
  Ops o{*this, b};
  auto at = [&](Value v, ValueRange idx) { return emit(v, idx); };

  return llvm::TypeSwitch<Operation *, FailureOr<Value>>(op)
      .Case<MatmulOp>([&](MatmulOp mm) -> FailureOr<Value> {
        ArrayRef<int64_t> out = shapeOf(mm.getResult());
        int64_t rank = out.size();
        ArrayRef<int64_t> lhsShape = shapeOf(mm.getLhs());
        ArrayRef<int64_t> rhsShape = shapeOf(mm.getRhs());
        int64_t k = mm.getTransposeLhs() ? lhsShape[lhsShape.size() - 2]
                                         : lhsShape.back();
        SmallVector<Value> batch(index.take_front(rank - 2));
        SmallVector<Value> lhsBatch =
            broadcastIndex(batch, lhsShape.drop_back(2));
        SmallVector<Value> rhsBatch =
            broadcastIndex(batch, rhsShape.drop_back(2));
        Type ct = getComputeType(elementTypeOf(mm.getResult()));
        Value init =
            isa<FloatType>(ct)
                ? o.f(0.0)
                : (Value)arith::ConstantOp::create(b, b.getIntegerAttr(ct, 0));
        return o.fold(k, init, [&](Value kk, Value acc) -> FailureOr<Value> {
          SmallVector<Value> li = lhsBatch, ri = rhsBatch;
          if (mm.getTransposeLhs())
            li.append({kk, index[rank - 2]});
          else
            li.append({index[rank - 2], kk});
          if (mm.getTransposeRhs())
            ri.append({index[rank - 1], kk});
          else
            ri.append({kk, index[rank - 1]});
          FailureOr<Value> x = at(mm.getLhs(), li);
          FailureOr<Value> y = at(mm.getRhs(), ri);
          if (failed(x) || failed(y))
            return failure();
          if (isa<FloatType>(ct))
            return (Value)math::FmaOp::create(b, *x, *y, acc);
          return o.iadd(acc, o.imul(*x, *y));
        });
      })
      .Case<ReduceOp>([&](ReduceOp r) -> FailureOr<Value> {
        Value input = r.getInput();
        ArrayRef<int64_t> inShape = shapeOf(input);
        int64_t rank = inShape.size();
        SmallVector<bool> reduced(rank, false);
        int64_t count = 1;
        for (int64_t axis : r.getAxes()) {
          reduced[normAxis(axis, rank)] = true;
          count *= inShape[normAxis(axis, rank)];
        }
        SmallVector<Value> inIndex(rank);
        unsigned outPos = 0;
        SmallVector<int64_t> loopDims;
        for (int64_t d = 0; d < rank; ++d) {
          if (reduced[d]) {
            loopDims.push_back(d);
            if (r.getKeepDims())
              ++outPos;
          } else {
            inIndex[d] = index[outPos++];
          }
        }
        Type ct = getComputeType(elementTypeOf(input));
        ReduceKind kind = r.getKind();
        std::function<FailureOr<Value>(unsigned, Value)> nest =
            [&](unsigned level, Value acc) -> FailureOr<Value> {
          if (level == loopDims.size()) {
            FailureOr<Value> x = at(input, inIndex);
            if (failed(x))
              return failure();
            return reductionStep(o, kind, acc, *x);
          }
          return o.fold(inShape[loopDims[level]], acc,
                        [&](Value iv, Value a) -> FailureOr<Value> {
                          inIndex[loopDims[level]] = iv;
                          return nest(level + 1, a);
                        });
        };
        FailureOr<Value> acc = nest(0, reductionInit(o, kind, ct));
        if (failed(acc) || kind != ReduceKind::mean)
          return acc;
        if (isa<FloatType>(ct))
          return o.divf(*acc, o.f(static_cast<double>(count)));
        return (Value)arith::DivSIOp::create(
            b, *acc, arith::ConstantOp::create(b, b.getIntegerAttr(ct, count)));
      })
      .Case<SoftmaxOp>([&](SoftmaxOp s) -> FailureOr<Value> {
        ArrayRef<int64_t> shape = shapeOf(s.getInput());
        int64_t axis = normAxis(s.getAxis(), shape.size());
        SmallVector<Value> idx(index.begin(), index.end());
        FailureOr<Value> mx =
            o.fold(shape[axis], o.f(-std::numeric_limits<double>::infinity()),
                   [&](Value j, Value acc) -> FailureOr<Value> {
                     idx[axis] = j;
                     FailureOr<Value> x = at(s.getInput(), idx);
                     if (failed(x))
                       return failure();
                     return o.maxf(acc, *x);
                   });
        if (failed(mx))
          return failure();
        FailureOr<Value> sum = o.fold(
            shape[axis], o.f(0.0), [&](Value j, Value acc) -> FailureOr<Value> {
              idx[axis] = j;
              FailureOr<Value> x = at(s.getInput(), idx);
              if (failed(x))
                return failure();
              return o.addf(acc, o.exp(o.subf(*x, *mx)));
            });
        FailureOr<Value> x = at(s.getInput(), index);
        if (failed(sum) || failed(x))
          return failure();
        return o.divf(o.exp(o.subf(*x, *mx)), *sum);
      })
      .Case<RmsNormOp>([&](RmsNormOp n) -> FailureOr<Value> {
        ArrayRef<int64_t> shape = shapeOf(n.getInput());
        int64_t last = shape.size() - 1;
        SmallVector<Value> idx(index.begin(), index.end());
        FailureOr<Value> ss = o.fold(
            shape[last], o.f(0.0), [&](Value j, Value acc) -> FailureOr<Value> {
              idx[last] = j;
              FailureOr<Value> x = at(n.getInput(), idx);
              if (failed(x))
                return failure();
              return (Value)math::FmaOp::create(b, *x, *x, acc);
            });
        FailureOr<Value> x = at(n.getInput(), index);
        if (failed(ss) || failed(x))
          return failure();
        Value mean = o.divf(*ss, o.f(static_cast<double>(shape[last])));
        Value inv = math::RsqrtOp::create(
            b, o.addf(mean, o.f(n.getEpsilon().convertToDouble())));
        Value y = o.mulf(*x, inv);
        if (n.getWeight()) {
          FailureOr<Value> w = at(n.getWeight(), {index[last]});
          if (failed(w))
            return failure();
          y = o.mulf(y, *w);
        }
        return y;
      })
      .Case<LayerNormOp>([&](LayerNormOp n) -> FailureOr<Value> {
        ArrayRef<int64_t> shape = shapeOf(n.getInput());
        int64_t rank = shape.size();
        int64_t axis = normAxis(n.getAxis(), rank);
        ArrayRef<int64_t> inner = shape.drop_front(axis);
        int64_t count = 1;
        for (int64_t d : inner)
          count *= d;
        SmallVector<Value> idx(index.begin(), index.end());
        auto elementAt = [&](Value linear) -> FailureOr<Value> {
          SmallVector<Value> tail = delinearize(linear, inner);
          for (auto [i, v] : llvm::enumerate(tail))
            idx[axis + i] = v;
          return at(n.getInput(), idx);
        };
        FailureOr<Value> sum = o.fold(
            count, o.f(0.0), [&](Value j, Value acc) -> FailureOr<Value> {
              FailureOr<Value> x = elementAt(j);
              if (failed(x))
                return failure();
              return o.addf(acc, *x);
            });
        if (failed(sum))
          return failure();
        Value mean = o.divf(*sum, o.f(static_cast<double>(count)));
        FailureOr<Value> sq = o.fold(
            count, o.f(0.0), [&](Value j, Value acc) -> FailureOr<Value> {
              FailureOr<Value> x = elementAt(j);
              if (failed(x))
                return failure();
              Value d = o.subf(*x, mean);
              return (Value)math::FmaOp::create(b, d, d, acc);
            });
        FailureOr<Value> x = at(n.getInput(), index);
        if (failed(sq) || failed(x))
          return failure();
        Value var = o.divf(*sq, o.f(static_cast<double>(count)));
        Value inv = math::RsqrtOp::create(
            b, o.addf(var, o.f(n.getEpsilon().convertToDouble())));
        Value y = o.mulf(o.subf(*x, mean), inv);
        SmallVector<Value> tail(index.begin() + axis, index.end());
        if (n.getWeight()) {
          FailureOr<Value> w = at(n.getWeight(), tail);
          if (failed(w))
            return failure();
          y = o.mulf(y, *w);
        }
        if (n.getBias()) {
          FailureOr<Value> bias = at(n.getBias(), tail);
          if (failed(bias))
            return failure();
          y = o.addf(y, *bias);
        }
        return y;
      })
      .Case<CumsumOp>([&](CumsumOp c) -> FailureOr<Value> {
        ArrayRef<int64_t> shape = shapeOf(c.getInput());
        int64_t axis =
            normAxis(static_cast<int64_t>(c.getAxis()), shape.size());
        Value t = index[axis];
        Value lb, ub;
        Value one = o.idx(1);
        if (!c.getReverse()) {
          lb = o.idx(0);
          ub = c.getExclusive() ? t : o.iadd(t, one);
        } else {
          lb = c.getExclusive() ? o.iadd(t, one) : t;
          ub = o.idx(shape[axis]);
        }
        Type ct = getComputeType(elementTypeOf(c.getInput()));
        SmallVector<Value> idx(index.begin(), index.end());
        return o.fold(lb, ub, reductionInit(o, ReduceKind::sum, ct),
                      [&](Value s, Value acc) -> FailureOr<Value> {
                        idx[axis] = s;
                        FailureOr<Value> x = at(c.getInput(), idx);
                        if (failed(x))
                          return failure();
                        return reductionStep(o, ReduceKind::sum, acc, *x);
                      });
      })
      .Case<TopKOp>([&](TopKOp t) -> FailureOr<Value> {
        ArrayRef<int64_t> shape = shapeOf(t.getInput());
        int64_t axis = normAxis(t.getAxis(), shape.size());
        bool largest = t.getLargest();
        SmallVector<Value> idx(index.begin(), index.end());
        Value wanted = index[axis];
        auto valueAt = [&](Value e) -> FailureOr<Value> {
          idx[axis] = e;
          return at(t.getInput(), idx);
        };
        // The element whose rank (number of elements ordered before it,
        // ties to the lower index) equals `wanted`.
        FailureOr<Value> found = o.fold(
            shape[axis], o.idx(0), [&](Value e, Value acc) -> FailureOr<Value> {
              FailureOr<Value> xe = valueAt(e);
              if (failed(xe))
                return failure();
              FailureOr<Value> rank = o.fold(
                  shape[axis], o.idx(0),
                  [&](Value e2, Value cnt) -> FailureOr<Value> {
                    FailureOr<Value> x2 = valueAt(e2);
                    if (failed(x2))
                      return failure();
                    bool isFloat = isa<FloatType>(x2->getType());
                    Value better, equal;
                    if (isFloat) {
                      better = o.cmpf(largest ? arith::CmpFPredicate::OGT
                                              : arith::CmpFPredicate::OLT,
                                      *x2, *xe);
                      equal = o.cmpf(arith::CmpFPredicate::OEQ, *x2, *xe);
                    } else {
                      better = o.cmpi(largest ? arith::CmpIPredicate::sgt
                                              : arith::CmpIPredicate::slt,
                                      *x2, *xe);
                      equal = o.cmpi(arith::CmpIPredicate::eq, *x2, *xe);
                    }
                    Value before =
                        o.ori(better,
                              o.andi(equal,
                                     o.cmpi(arith::CmpIPredicate::slt, e2, e)));
                    return o.sel(before, o.iadd(cnt, o.idx(1)), cnt);
                  });
              if (failed(rank))
                return failure();
              return o.sel(o.cmpi(arith::CmpIPredicate::eq, *rank, wanted), e,
                           acc);
            });
        if (failed(found))
          return failure();
        if (resultNumber == 1)
          return o.indexTo(*found, b.getI64Type());
        return valueAt(*found);
      })
      .Case<LongConvOp>([&](LongConvOp c) -> FailureOr<Value> {
        int64_t k = shapeOf(c.getFilter())[1];
        Value t = index[2];
        Value ub = arith::MinSIOp::create(b, o.iadd(t, o.idx(1)), o.idx(k));
        FailureOr<Value> acc = o.fold(
            o.idx(0), ub, o.f(0.0), [&](Value s, Value a) -> FailureOr<Value> {
              FailureOr<Value> h = at(c.getFilter(), {index[1], s});
              FailureOr<Value> x =
                  at(c.getInput(), {index[0], index[1], o.isub(t, s)});
              if (failed(h) || failed(x))
                return failure();
              return (Value)math::FmaOp::create(b, *h, *x, a);
            });
        if (failed(acc) || !c.getD())
          return acc;
        FailureOr<Value> d = at(c.getD(), {index[1]});
        FailureOr<Value> x = at(c.getInput(), index);
        if (failed(d) || failed(x))
          return failure();
        return (Value)math::FmaOp::create(b, *d, *x, *acc);
      })
      .Case<SelectiveScanOp>([&](SelectiveScanOp s) -> FailureOr<Value> {
        int64_t n = shapeOf(s.getA())[1];
        Value bIdx = index[0], d = index[1], t = index[2];
        FailureOr<Value> y =
            o.fold(n, o.f(0.0), [&](Value nn, Value yAcc) -> FailureOr<Value> {
              FailureOr<Value> aVal = at(s.getA(), {d, nn});
              if (failed(aVal))
                return failure();
              // h_t[n] is a scalar recurrence per state dim.
              FailureOr<Value> h =
                  o.fold(o.idx(0), o.iadd(t, o.idx(1)), o.f(0.0),
                         [&](Value tt, Value hAcc) -> FailureOr<Value> {
                           FailureOr<Value> dt =
                               at(s.getDelta(), {bIdx, d, tt});
                           if (failed(dt))
                             return failure();
                           Value dtv = *dt;
                           if (s.getDeltaBias()) {
                             FailureOr<Value> db = at(s.getDeltaBias(), {d});
                             if (failed(db))
                               return failure();
                             dtv = o.addf(dtv, *db);
                           }
                           if (s.getDeltaSoftplus())
                             dtv = o.softplus(dtv);
                           FailureOr<Value> bv = at(s.getB(), {bIdx, nn, tt});
                           FailureOr<Value> u = at(s.getU(), {bIdx, d, tt});
                           if (failed(bv) || failed(u))
                             return failure();
                           Value decay = o.exp(o.mulf(dtv, *aVal));
                           return (Value)math::FmaOp::create(
                               b, decay, hAcc, o.mulf(o.mulf(dtv, *bv), *u));
                         });
              FailureOr<Value> c = at(s.getC(), {bIdx, nn, t});
              if (failed(h) || failed(c))
                return failure();
              return (Value)math::FmaOp::create(b, *c, *h, yAcc);
            });
        if (failed(y))
          return failure();
        Value result = *y;
        if (s.getD()) {
          FailureOr<Value> dv = at(s.getD(), {d});
          FailureOr<Value> u = at(s.getU(), index);
          if (failed(dv) || failed(u))
            return failure();
          result = math::FmaOp::create(b, *dv, *u, result);
        }
        if (s.getZ()) {
          FailureOr<Value> z = at(s.getZ(), index);
          if (failed(z))
            return failure();
          result = o.mulf(result, o.silu(*z));
        }
        return result;
      })
      .Case<SsdOp>([&](SsdOp s) -> FailureOr<Value> {
        ArrayRef<int64_t> xs = shapeOf(s.getX());
        ArrayRef<int64_t> bs = shapeOf(s.getB());
        int64_t heads = xs[2], groups = bs[2], n = bs[3];
        Value bIdx = index[0], t = index[1], h = index[2], p = index[3];
        Value g = arith::DivUIOp::create(b, h, o.idx(heads / groups));
        FailureOr<Value> aVal = at(s.getA(), {h});
        if (failed(aVal))
          return failure();
        FailureOr<Value> y =
            o.fold(n, o.f(0.0), [&](Value nn, Value yAcc) -> FailureOr<Value> {
              FailureOr<Value> st =
                  o.fold(o.idx(0), o.iadd(t, o.idx(1)), o.f(0.0),
                         [&](Value tt, Value hAcc) -> FailureOr<Value> {
                           FailureOr<Value> dt = at(s.getDt(), {bIdx, tt, h});
                           if (failed(dt))
                             return failure();
                           Value dtv = *dt;
                           if (s.getDtBias()) {
                             FailureOr<Value> db = at(s.getDtBias(), {h});
                             if (failed(db))
                               return failure();
                             dtv = o.addf(dtv, *db);
                           }
                           if (s.getDtSoftplus())
                             dtv = o.softplus(dtv);
                           FailureOr<Value> x = at(s.getX(), {bIdx, tt, h, p});
                           FailureOr<Value> bv =
                               at(s.getB(), {bIdx, tt, g, nn});
                           if (failed(x) || failed(bv))
                             return failure();
                           Value decay = o.exp(o.mulf(dtv, *aVal));
                           return (Value)math::FmaOp::create(
                               b, decay, hAcc, o.mulf(o.mulf(dtv, *x), *bv));
                         });
              FailureOr<Value> c = at(s.getC(), {bIdx, t, g, nn});
              if (failed(st) || failed(c))
                return failure();
              return (Value)math::FmaOp::create(b, *st, *c, yAcc);
            });
        if (failed(y) || !s.getD())
          return y;
        FailureOr<Value> dv = at(s.getD(), {h});
        FailureOr<Value> x = at(s.getX(), index);
        if (failed(dv) || failed(x))
          return failure();
        return (Value)math::FmaOp::create(b, *dv, *x, *y);
      })
      .Case<AttentionOp>([&](AttentionOp att) -> FailureOr<Value> {
        ArrayRef<int64_t> qs = shapeOf(att.getQuery());
        ArrayRef<int64_t> ks = shapeOf(att.getKey());
        int64_t hq = qs[1], sq = qs[2], dim = qs[3], hkv = ks[1], skv = ks[2];
        Value bIdx = index[0], h = index[1], i = index[2], dv = index[3];
        Value hk = arith::DivUIOp::create(b, h, o.idx(hq / hkv));
        Value pos = o.iadd(i, o.idx(skv - sq));
        double scale = att.getEffectiveScale();
        Value negInf = o.f(-std::numeric_limits<double>::infinity());
        FailureOr<SmallVector<Value>> state = forLoop(
            o.idx(0), o.idx(skv), o.idx(1), {negInf, o.f(0.0), o.f(0.0)},
            [&](Value j, ValueRange it) -> FailureOr<SmallVector<Value>> {
              FailureOr<Value> dot = o.fold(
                  dim, o.f(0.0), [&](Value d, Value acc) -> FailureOr<Value> {
                    FailureOr<Value> q = at(att.getQuery(), {bIdx, h, i, d});
                    FailureOr<Value> k = at(att.getKey(), {bIdx, hk, j, d});
                    if (failed(q) || failed(k))
                      return failure();
                    return (Value)math::FmaOp::create(b, *q, *k, acc);
                  });
              if (failed(dot))
                return failure();
              Value s = o.mulf(*dot, o.f(scale));
              if (auto cap = att.getSoftcap()) {
                Value c = o.f(cap->convertToDouble());
                s = o.mulf(c, math::TanhOp::create(b, o.divf(s, c)));
              }
              if (att.getAlibiSlopes()) {
                FailureOr<Value> slope = at(att.getAlibiSlopes(), {h});
                if (failed(slope))
                  return failure();
                s = math::FmaOp::create(b, *slope, o.indexToF32(o.isub(j, pos)),
                                        s);
              }
              Value keep = arith::ConstantIntOp::create(b, 1, 1);
              if (Value mask = att.getMask()) {
                SmallVector<Value> full{bIdx, h, i, j};
                FailureOr<Value> m =
                    at(mask, broadcastIndex(full, shapeOf(mask)));
                if (failed(m))
                  return failure();
                if (m->getType().isInteger(1))
                  keep = *m;
                else
                  s = o.addf(s, *m);
              }
              if (att.getCausal())
                keep = o.andi(keep, o.cmpi(arith::CmpIPredicate::sle, j, pos));
              if (auto w = att.getWindow())
                keep = o.andi(
                    keep, o.cmpi(arith::CmpIPredicate::sgt, j,
                                 o.isub(pos, o.idx(static_cast<int64_t>(*w)))));
              // A -inf logit contributes nothing; skipping it avoids NaN.
              keep = o.andi(keep, o.cmpf(arith::CmpFPredicate::OGT, s, negInf));
              FailureOr<Value> v = at(att.getValue(), {bIdx, hk, j, dv});
              if (failed(v))
                return failure();
              Value m = it[0], l = it[1], acc = it[2];
              Value mNew = o.maxf(m, s);
              Value corr = o.exp(o.subf(m, mNew));
              Value p = o.exp(o.subf(s, mNew));
              Value lNew = math::FmaOp::create(b, l, corr, p);
              Value accNew = math::FmaOp::create(b, acc, corr, o.mulf(p, *v));
              return SmallVector<Value>{o.sel(keep, mNew, m),
                                        o.sel(keep, lNew, l),
                                        o.sel(keep, accNew, acc)};
            });
        if (failed(state))
          return failure();
        Value l = (*state)[1];
        Value safe =
            o.sel(o.cmpf(arith::CmpFPredicate::OGT, l, o.f(0.0)), l, o.f(1.0));
        return o.divf((*state)[2], safe);
      })
      .Case<RouterOp>([&](RouterOp r) -> FailureOr<Value> {
        int64_t experts = shapeOf(r.getLogits())[1];
        int64_t k = static_cast<int64_t>(r.getK());
        Value t = index[0];
        auto logit = [&](Value e) { return at(r.getLogits(), {t, e}); };
        // Scores are monotonic in the logits, so ranks come from logits.
        auto rankOf = [&](Value e) -> FailureOr<Value> {
          FailureOr<Value> le = logit(e);
          if (failed(le))
            return failure();
          return o.fold(
              experts, o.idx(0), [&](Value e2, Value cnt) -> FailureOr<Value> {
                FailureOr<Value> l2 = logit(e2);
                if (failed(l2))
                  return failure();
                Value before =
                    o.ori(o.cmpf(arith::CmpFPredicate::OGT, *l2, *le),
                          o.andi(o.cmpf(arith::CmpFPredicate::OEQ, *l2, *le),
                                 o.cmpi(arith::CmpIPredicate::slt, e2, e)));
                return o.sel(before, o.iadd(cnt, o.idx(1)), cnt);
              });
        };
        FailureOr<Value> chosen = o.fold(
            experts, o.idx(0), [&](Value e, Value acc) -> FailureOr<Value> {
              FailureOr<Value> rank = rankOf(e);
              if (failed(rank))
                return failure();
              return o.sel(o.cmpi(arith::CmpIPredicate::eq, *rank, index[1]), e,
                           acc);
            });
        if (failed(chosen))
          return failure();
        if (resultNumber == 1)
          return o.indexTo(*chosen, b.getI32Type());
        bool softmax = r.getScoring() == RouterScoring::softmax;
        Value mx, sum;
        if (softmax) {
          FailureOr<Value> m =
              o.fold(experts, o.f(-std::numeric_limits<double>::infinity()),
                     [&](Value e, Value acc) -> FailureOr<Value> {
                       FailureOr<Value> l = logit(e);
                       if (failed(l))
                         return failure();
                       return o.maxf(acc, *l);
                     });
          if (failed(m))
            return failure();
          mx = *m;
          FailureOr<Value> s = o.fold(
              experts, o.f(0.0), [&](Value e, Value acc) -> FailureOr<Value> {
                FailureOr<Value> l = logit(e);
                if (failed(l))
                  return failure();
                return o.addf(acc, o.exp(o.subf(*l, mx)));
              });
          if (failed(s))
            return failure();
          sum = *s;
        }
        auto score = [&](Value e) -> FailureOr<Value> {
          FailureOr<Value> l = logit(e);
          if (failed(l))
            return failure();
          if (softmax)
            return o.divf(o.exp(o.subf(*l, mx)), sum);
          return o.divf(o.f(1.0),
                        o.addf(o.f(1.0), o.exp(arith::NegFOp::create(b, *l))));
        };
        FailureOr<Value> w = score(*chosen);
        if (failed(w) || !r.getRenormalize())
          return w;
        FailureOr<Value> total = o.fold(
            experts, o.f(0.0), [&](Value e, Value acc) -> FailureOr<Value> {
              FailureOr<Value> rank = rankOf(e);
              FailureOr<Value> sc = score(e);
              if (failed(rank) || failed(sc))
                return failure();
              Value inTop = o.cmpi(arith::CmpIPredicate::slt, *rank, o.idx(k));
              return o.sel(inTop, o.addf(acc, *sc), acc);
            });
        if (failed(total))
          return failure();
        return o.divf(*w, *total);
      })
      .Case<DispatchOp>([&](DispatchOp d) -> FailureOr<Value> {
        ArrayRef<int64_t> ids = shapeOf(d.getExpertIds());
        int64_t k = ids[1], rows = ids[0] * ids[1];
        int64_t experts = static_cast<int64_t>(d.getNumExperts());
        // Sort key of assignment r: its expert, invalid ids last.
        auto key = [&](Value r) -> FailureOr<Value> {
          Value t = arith::DivUIOp::create(b, r, o.idx(k));
          Value j = arith::RemUIOp::create(b, r, o.idx(k));
          FailureOr<Value> e = at(d.getExpertIds(), {t, j});
          if (failed(e))
            return failure();
          Value ei = o.toIndex(*e);
          Value valid =
              o.andi(o.cmpi(arith::CmpIPredicate::sge, ei, o.idx(0)),
                     o.cmpi(arith::CmpIPredicate::slt, ei, o.idx(experts)));
          return o.sel(valid, ei, o.idx(experts));
        };
        auto countBelow = [&](Value bound) -> FailureOr<Value> {
          return o.fold(
              rows, o.idx(0), [&](Value r, Value cnt) -> FailureOr<Value> {
                FailureOr<Value> kr = key(r);
                if (failed(kr))
                  return failure();
                return o.sel(o.cmpi(arith::CmpIPredicate::slt, *kr, bound),
                             o.iadd(cnt, o.idx(1)), cnt);
              });
        };
        if (resultNumber == 2) {
          FailureOr<Value> c = countBelow(index[0]);
          if (failed(c))
            return failure();
          return o.indexTo(*c, b.getI32Type());
        }
        // The assignment that lands at sorted position index[0].
        FailureOr<Value> row =
            o.fold(rows, o.idx(0), [&](Value r, Value acc) -> FailureOr<Value> {
              FailureOr<Value> kr = key(r);
              if (failed(kr))
                return failure();
              FailureOr<Value> pos = o.fold(
                  rows, o.idx(0), [&](Value r2, Value cnt) -> FailureOr<Value> {
                    FailureOr<Value> k2 = key(r2);
                    if (failed(k2))
                      return failure();
                    Value before =
                        o.ori(o.cmpi(arith::CmpIPredicate::slt, *k2, *kr),
                              o.andi(o.cmpi(arith::CmpIPredicate::eq, *k2, *kr),
                                     o.cmpi(arith::CmpIPredicate::slt, r2, r)));
                    return o.sel(before, o.iadd(cnt, o.idx(1)), cnt);
                  });
              if (failed(pos))
                return failure();
              return o.sel(o.cmpi(arith::CmpIPredicate::eq, *pos, index[0]), r,
                           acc);
            });
        if (failed(row))
          return failure();
        if (resultNumber == 1)
          return o.indexTo(*row, b.getI32Type());
        Value token = arith::DivUIOp::create(b, *row, o.idx(k));
        return at(d.getInput(), {token, index[1]});
      })
      .Case<GroupedMatmulOp>([&](GroupedMatmulOp g) -> FailureOr<Value> {
        ArrayRef<int64_t> ws = shapeOf(g.getWeight());
        int64_t experts = ws[0];
        int64_t k = g.getTransposeRhs() ? ws[2] : ws[1];
        Value r = index[0], n = index[1];
        FailureOr<Value> expert = o.fold(
            experts, o.idx(-1), [&](Value e, Value acc) -> FailureOr<Value> {
              FailureOr<Value> lo = at(g.getOffsets(), {e});
              FailureOr<Value> hi = at(g.getOffsets(), {o.iadd(e, o.idx(1))});
              if (failed(lo) || failed(hi))
                return failure();
              Value in =
                  o.andi(o.cmpi(arith::CmpIPredicate::sge, r, o.toIndex(*lo)),
                         o.cmpi(arith::CmpIPredicate::slt, r, o.toIndex(*hi)));
              return o.sel(in, e, acc);
            });
        if (failed(expert))
          return failure();
        Value has = o.cmpi(arith::CmpIPredicate::sge, *expert, o.idx(0));
        FailureOr<SmallVector<Value>> y = ifThenElse(
            has, b.getF32Type(),
            [&]() -> FailureOr<SmallVector<Value>> {
              FailureOr<Value> dot = o.fold(
                  k, o.f(0.0), [&](Value kk, Value acc) -> FailureOr<Value> {
                    FailureOr<Value> x = at(g.getInput(), {r, kk});
                    FailureOr<Value> w =
                        g.getTransposeRhs()
                            ? at(g.getWeight(), {*expert, n, kk})
                            : at(g.getWeight(), {*expert, kk, n});
                    if (failed(x) || failed(w))
                      return failure();
                    return (Value)math::FmaOp::create(b, *x, *w, acc);
                  });
              if (failed(dot))
                return failure();
              return SmallVector<Value>{*dot};
            },
            [&]() -> FailureOr<SmallVector<Value>> {
              return SmallVector<Value>{o.f(0.0)};
            });
        if (failed(y))
          return failure();
        return (*y)[0];
      })
      .Case<CombineOp>([&](CombineOp c) -> FailureOr<Value> {
        int64_t rows = shapeOf(c.getRowIndex())[0];
        int64_t k = shapeOf(c.getWeights())[1];
        Value t = index[0], n = index[1];
        return o.fold(k, o.f(0.0), [&](Value j, Value acc) -> FailureOr<Value> {
          Value want = o.iadd(o.imul(t, o.idx(k)), j);
          FailureOr<Value> s = o.fold(
              rows, o.idx(-1), [&](Value s2, Value found) -> FailureOr<Value> {
                FailureOr<Value> ri = at(c.getRowIndex(), {s2});
                if (failed(ri))
                  return failure();
                return o.sel(
                    o.cmpi(arith::CmpIPredicate::eq, o.toIndex(*ri), want), s2,
                    found);
              });
          if (failed(s))
            return failure();
          Value has = o.cmpi(arith::CmpIPredicate::sge, *s, o.idx(0));
          Value sc = arith::MaxSIOp::create(b, *s, o.idx(0));
          FailureOr<Value> w = at(c.getWeights(), {t, j});
          FailureOr<Value> x = at(c.getInput(), {sc, n});
          if (failed(w) || failed(x))
            return failure();
          return o.sel(has, (Value)math::FmaOp::create(b, *w, *x, acc), acc);
        });
      })
      .Default([&](Operation *other) -> FailureOr<Value> {
        return other->emitOpError("has no GPU code generation");
      });
}
