//===- RowReduction.cpp - Norms, softmax and reductions over rows ---------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Kernels rooted at softmax, rms_norm, layer_norm or a reduce over trailing
// dims. A "row" is one index of the leading dims and its "columns" are the
// flattened trailing dims. One warp owns one row: its lanes stride over the
// columns accumulating partial statistics, which gpu.shuffle xor combines
// across the warp (width = the target's warp size); a second strided pass
// writes the row's outputs through the epilogue. The prologue (e.g. a residual
// add feeding the norm) is recomputed per pass by the element emitter.
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/KernelTemplate.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MathExtras.h"
#include <limits>

using namespace mlir;
using namespace mlir::iolite;

namespace {

/// The row shape of a supported hero: input, number of leading (row) dims.
struct RowShape {
  Value input;
  unsigned rowDims;
};

static std::optional<RowShape> getRowShape(Operation *hero) {
  auto norm = [](int64_t axis, int64_t rank) {
    return axis < 0 ? axis + rank : axis;
  };
  if (auto s = dyn_cast<SoftmaxOp>(hero)) {
    int64_t rank = s.getType().getRank();
    if (norm(s.getAxis(), rank) != rank - 1)
      return std::nullopt;
    return RowShape{s.getInput(), static_cast<unsigned>(rank - 1)};
  }
  if (auto n = dyn_cast<RmsNormOp>(hero))
    return RowShape{n.getInput(),
                    static_cast<unsigned>(n.getType().getRank() - 1)};
  if (auto n = dyn_cast<LayerNormOp>(hero)) {
    int64_t rank = n.getType().getRank();
    return RowShape{n.getInput(),
                    static_cast<unsigned>(norm(n.getAxis(), rank))};
  }
  if (auto r = dyn_cast<ReduceOp>(hero)) {
    int64_t rank = r.getInput().getType().getRank();
    if (!isa<FloatType>(r.getInput().getType().getElementType()) ||
        r.getAxes().empty())
      return std::nullopt;
    SmallVector<int64_t> axes;
    for (int64_t a : r.getAxes())
      axes.push_back(norm(a, rank));
    llvm::sort(axes);
    // Only trailing, contiguous axes form rows.
    for (auto [i, a] : llvm::enumerate(axes))
      if (a !=
          rank - static_cast<int64_t>(axes.size()) + static_cast<int64_t>(i))
        return std::nullopt;
    return RowShape{r.getInput(), static_cast<unsigned>(rank - axes.size())};
  }
  return std::nullopt;
}

class RowReductionTemplate : public KernelTemplate {
public:
  StringRef getName() const override { return "row_reduction"; }

  unsigned match(const KernelAnalysis &analysis,
                 const TargetDescription &target) const override {
    if (!analysis.hero || !analysis.epilogueAtHeroIndex ||
        !target.getTuning("row_reduction"))
      return 0;
    return getRowShape(analysis.hero) ? 20 : 0;
  }

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override {
    Operation *hero = analysis.hero;
    RowShape rs = *getRowShape(hero);
    ArrayRef<int64_t> inShape = cast<ShapedType>(rs.input.getType()).getShape();
    ArrayRef<int64_t> rowShape = inShape.take_front(rs.rowDims);
    ArrayRef<int64_t> colShape = inShape.drop_front(rs.rowDims);
    int64_t rows = 1, cols = 1;
    for (int64_t d : rowShape)
      rows *= d;
    for (int64_t d : colShape)
      cols *= d;

    const TargetDescription &target = ctx.getTarget();
    const KernelTuning &tuning = *target.getTuning("row_reduction");
    unsigned warp = target.warpSize;
    int64_t rowsPerBlock = std::max<int64_t>(
        1, std::min<int64_t>(tuning.tile[0], tuning.threads / warp));
    rowsPerBlock = std::min(rowsPerBlock, rows);
    int64_t threads = rowsPerBlock * warp;
    ctx.setLaunch({(int64_t)llvm::divideCeil(rows, rowsPerBlock), 1, 1},
                  {threads, 1, 1});
    ctx.templateName = "row_reduction";
    ctx.tileDescription = std::to_string(rowsPerBlock) +
                          " rows per block, 1 row per warp of " +
                          std::to_string(warp);

    ImplicitLocOpBuilder &b = ctx.getBuilder();
    ElementalEmitter em(b, ctx.getBindings());
    auto f = [&](double v) -> Value {
      return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
    };
    Value tid = ctx.threadId(gpu::Dimension::x);
    Value bid = ctx.blockId(gpu::Dimension::x);
    Value warpId = arith::DivUIOp::create(b, tid, em.constIndex(warp));
    Value lane = arith::RemUIOp::create(b, tid, em.constIndex(warp));
    Value row = arith::AddIOp::create(
        b, arith::MulIOp::create(b, bid, em.constIndex(rowsPerBlock)), warpId);
    // The whole warp takes the same branch, so the shuffles inside are safe.
    Value rowValid = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row,
                                           em.constIndex(rows));
    auto ifOp = scf::IfOp::create(b, rowValid, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    SmallVector<Value> rowIndex = em.delinearize(row, rowShape);

    auto fullIndex = [&](Value col) {
      SmallVector<Value> idx = rowIndex;
      SmallVector<Value> tail = em.delinearize(col, colShape);
      idx.append(tail.begin(), tail.end());
      return idx;
    };
    // Strided pass over the row's columns folding `step` into one f32.
    auto rowFold =
        [&](Value init, function_ref<Value(Value acc, Value x)> step,
            function_ref<Value(Value, Value)> combine) -> FailureOr<Value> {
      FailureOr<SmallVector<Value>> partial = em.forLoop(
          lane, em.constIndex(cols), em.constIndex(warp), {init},
          [&](Value col, ValueRange it) -> FailureOr<SmallVector<Value>> {
            FailureOr<Value> x = em.emit(rs.input, fullIndex(col));
            if (failed(x))
              return failure();
            return SmallVector<Value>{step(it[0], *x)};
          });
      if (failed(partial))
        return failure();
      return emitWarpAllReduce(b, (*partial)[0], warp, combine);
    };
    auto add = [&](Value x, Value y) -> Value {
      return arith::AddFOp::create(b, x, y);
    };
    auto maxf = [&](Value x, Value y) -> Value {
      return arith::MaximumFOp::create(b, x, y);
    };
    auto minf = [&](Value x, Value y) -> Value {
      return arith::MinimumFOp::create(b, x, y);
    };
    auto mulf = [&](Value x, Value y) -> Value {
      return arith::MulFOp::create(b, x, y);
    };
    double inf = std::numeric_limits<double>::infinity();

    // Reductions: lane 0 computes the row's outputs.
    if (auto r = dyn_cast<ReduceOp>(hero)) {
      FailureOr<Value> stat;
      switch (r.getKind()) {
      case ReduceKind::sum:
      case ReduceKind::mean:
        stat = rowFold(f(0.0), add, add);
        break;
      case ReduceKind::prod:
        stat = rowFold(f(1.0), mulf, mulf);
        break;
      case ReduceKind::max:
        stat = rowFold(f(-inf), maxf, maxf);
        break;
      case ReduceKind::min:
        stat = rowFold(f(inf), minf, minf);
        break;
      }
      if (failed(stat))
        return failure();
      Value result = *stat;
      if (r.getKind() == ReduceKind::mean)
        result = arith::DivFOp::create(b, result, f(static_cast<double>(cols)));
      em.setSource(hero->getResult(0),
                   [result](ImplicitLocOpBuilder &, ValueRange) {
                     return FailureOr<Value>(result);
                   });
      Value isLane0 = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane,
                                            em.constIndex(0));
      auto lane0 = scf::IfOp::create(b, isLane0, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPoint(lane0.thenBlock()->getTerminator());
      SmallVector<Value> outIndex = rowIndex;
      if (r.getKeepDims())
        outIndex.append(colShape.size(), em.constIndex(0));
      return writeOutputs(ctx, em, outIndex);
    }

    // Row statistics, then a second strided pass writing every column.
    ElementSource source;
    if (isa<SoftmaxOp>(hero)) {
      FailureOr<Value> mx = rowFold(f(-inf), maxf, maxf);
      if (failed(mx))
        return failure();
      Value m = *mx;
      FailureOr<Value> sum = rowFold(
          f(0.0),
          [&](Value acc, Value x) -> Value {
            return add(acc,
                       math::ExpOp::create(b, arith::SubFOp::create(b, x, m)));
          },
          add);
      if (failed(sum))
        return failure();
      Value inv = arith::DivFOp::create(b, f(1.0), *sum);
      Value input = rs.input;
      source = [&em, input, m, inv](ImplicitLocOpBuilder &bb,
                                    ValueRange idx) -> FailureOr<Value> {
        FailureOr<Value> x = em.emit(input, idx);
        if (failed(x))
          return failure();
        Value e = math::ExpOp::create(bb, arith::SubFOp::create(bb, *x, m));
        return (Value)arith::MulFOp::create(bb, e, inv);
      };
    } else if (auto n = dyn_cast<RmsNormOp>(hero)) {
      FailureOr<Value> ss = rowFold(
          f(0.0),
          [&](Value acc, Value x) -> Value {
            return math::FmaOp::create(b, x, x, acc);
          },
          add);
      if (failed(ss))
        return failure();
      Value mean = arith::DivFOp::create(b, *ss, f(static_cast<double>(cols)));
      Value inv = math::RsqrtOp::create(
          b, add(mean, f(n.getEpsilon().convertToDouble())));
      Value input = rs.input, weight = n.getWeight();
      unsigned last = inShape.size() - 1;
      source = [&em, input, weight, inv,
                last](ImplicitLocOpBuilder &bb,
                      ValueRange idx) -> FailureOr<Value> {
        FailureOr<Value> x = em.emit(input, idx);
        if (failed(x))
          return failure();
        Value y = arith::MulFOp::create(bb, *x, inv);
        if (weight) {
          FailureOr<Value> w = em.emit(weight, {idx[last]});
          if (failed(w))
            return failure();
          y = arith::MulFOp::create(bb, y, *w);
        }
        return y;
      };
    } else {
      auto ln = cast<LayerNormOp>(hero);
      FailureOr<Value> sum = rowFold(f(0.0), add, add);
      if (failed(sum))
        return failure();
      Value mean = arith::DivFOp::create(b, *sum, f(static_cast<double>(cols)));
      FailureOr<Value> sq = rowFold(
          f(0.0),
          [&](Value acc, Value x) -> Value {
            Value d = arith::SubFOp::create(b, x, mean);
            return math::FmaOp::create(b, d, d, acc);
          },
          add);
      if (failed(sq))
        return failure();
      Value var = arith::DivFOp::create(b, *sq, f(static_cast<double>(cols)));
      Value inv = math::RsqrtOp::create(
          b, add(var, f(ln.getEpsilon().convertToDouble())));
      Value input = rs.input, weight = ln.getWeight(), bias = ln.getBias();
      unsigned rowDims = rs.rowDims;
      source = [&em, input, weight, bias, mean, inv,
                rowDims](ImplicitLocOpBuilder &bb,
                         ValueRange idx) -> FailureOr<Value> {
        FailureOr<Value> x = em.emit(input, idx);
        if (failed(x))
          return failure();
        Value y =
            arith::MulFOp::create(bb, arith::SubFOp::create(bb, *x, mean), inv);
        SmallVector<Value> tail(idx.begin() + rowDims, idx.end());
        if (weight) {
          FailureOr<Value> w = em.emit(weight, tail);
          if (failed(w))
            return failure();
          y = arith::MulFOp::create(bb, y, *w);
        }
        if (bias) {
          FailureOr<Value> bv = em.emit(bias, tail);
          if (failed(bv))
            return failure();
          y = arith::AddFOp::create(bb, y, *bv);
        }
        return y;
      };
    }
    em.setSource(hero->getResult(0), source);
    FailureOr<SmallVector<Value>> done =
        em.forLoop(lane, em.constIndex(cols), em.constIndex(warp), {},
                   [&](Value col, ValueRange) -> FailureOr<SmallVector<Value>> {
                     if (failed(writeOutputs(ctx, em, fullIndex(col))))
                       return failure();
                     return SmallVector<Value>{};
                   });
    return failure(failed(done));
  }

private:
  static LogicalResult writeOutputs(KernelEmitContext &ctx,
                                    ElementalEmitter &em, ValueRange index) {
    for (auto [i, v] : llvm::enumerate(ctx.getYieldedValues())) {
      FailureOr<Value> x = em.emit(v, index);
      if (failed(x))
        return failure();
      ctx.storeOutput(i, *x, index);
    }
    return success();
  }
};
} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createRowReductionTemplate() {
  return std::make_unique<RowReductionTemplate>();
}
