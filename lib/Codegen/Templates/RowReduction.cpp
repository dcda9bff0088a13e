//===- RowReduction.cpp - Norms, softmax and reductions over rows ---------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Kernels rooted at softmax, rms_norm, layer_norm or a reduce over trailing
// dims. A "row" is one index of the leading dims and its "columns" are the
// flattened trailing dims. Short rows get one warp each: its lanes stride
// over the columns accumulating partial statistics, which gpu.shuffle xor
// combines across the warp (width = the target's warp size). Rows of at
// least the tuning's block threshold get a whole block each: every warp
// reduces its share, lane 0 of each warp leaves its partial in shared
// memory, and after a barrier every thread combines the block's partials.
// A second strided pass writes the row's outputs through the epilogue. The
// columns are read in runs (vector loads) when the row length allows. The
// prologue (e.g. a residual add feeding the norm) is recomputed per pass by
// the element emitter.
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/KernelTemplate.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/bit.h"
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

std::optional<RowShape> getRowShape(Operation *hero) {
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
                     KernelEmitContext &ctx) const override;

  bool supportsDynamicExtents(const KernelAnalysis &analysis) const override {
    // Rows may be dynamic (tokens); the reduced columns must be static.
    RowShape rs = *getRowShape(analysis.hero);
    auto type = cast<ShapedType>(rs.input.getType());
    for (unsigned d = rs.rowDims; d < type.getRank(); ++d)
      if (type.isDynamicDim(d))
        return false;
    return true;
  }

private:
  static LogicalResult writeOutputs(KernelEmitContext &ctx,
                                    ElementalEmitter &em, ValueRange index,
                                    unsigned width) {
    for (auto [i, v] : llvm::enumerate(ctx.getYieldedValues())) {
      FailureOr<SmallVector<Value>> x = em.emitRun(v, index, width);
      if (failed(x))
        return failure();
      ctx.storeOutputRun(i, *x, index, em);
    }
    return success();
  }
};

LogicalResult RowReductionTemplate::emit(const KernelAnalysis &analysis,
                                         KernelEmitContext &ctx) const {
  Operation *hero = analysis.hero;
  RowShape rs = *getRowShape(hero);
  ArrayRef<int64_t> inShape = cast<ShapedType>(rs.input.getType()).getShape();
  ArrayRef<int64_t> rowShape = inShape.take_front(rs.rowDims);
  ArrayRef<int64_t> colShape = inShape.drop_front(rs.rowDims);
  // Rows may be a run-time extent (a product of symbols): the grid and the
  // row guard then follow it.
  bool dynamicRows = ctx.hasDynamicExtents();
  DimExpr rowsExpr = DimExpr::constant(1);
  for (unsigned d = 0; d < rs.rowDims; ++d)
    rowsExpr = rowsExpr * ctx.getDimExpr(rs.input, d);
  int64_t rows = 1, cols = 1;
  for (int64_t d : rowShape)
    rows = ShapedType::isDynamic(d) ? rows : rows * d;
  for (int64_t d : colShape)
    cols *= d;

  const TargetDescription &target = ctx.getTarget();
  const KernelTuning &tuning = *target.getTuning("row_reduction");
  unsigned warp = target.warpSize;
  // Runs of `vw` columns: rows start at multiples of it and the widest
  // buffer read or written moves at most maxVectorBytes per run.
  int64_t widest = getWidestElementBytes(rs.input);
  for (Value v : ctx.getYieldedValues())
    widest = std::max(widest, getWidestElementBytes(v));
  int64_t vw = largestDividingWidth(target.maxVectorBytes / widest, {cols});
  // Rows of at least tile[1] columns get a block each.
  int64_t blockThreshold = tuning.tile.size() > 1
                               ? tuning.tile[1]
                               : std::numeric_limits<int64_t>::max();
  bool blockPerRow = cols >= blockThreshold;
  int64_t threads, stride;
  if (blockPerRow) {
    threads = std::min<int64_t>(
        tuning.threads, llvm::alignTo(llvm::divideCeil(cols, vw), warp));
    stride = threads;
    if (dynamicRows)
      ctx.setLaunch({GridExtent{rowsExpr, 1}, GridExtent::constant(1),
                     GridExtent::constant(1)},
                    {threads, 1, 1});
    else
      ctx.setLaunch({rows, 1, 1}, {threads, 1, 1});
    ctx.tileDescription = "1 row per block of " + std::to_string(threads);
  } else {
    int64_t rowsPerBlock = std::max<int64_t>(
        1, std::min<int64_t>(tuning.tile[0], tuning.threads / warp));
    if (!dynamicRows)
      rowsPerBlock = std::min(rowsPerBlock, rows);
    threads = rowsPerBlock * warp;
    stride = warp;
    if (dynamicRows)
      ctx.setLaunch({GridExtent{rowsExpr, rowsPerBlock},
                     GridExtent::constant(1), GridExtent::constant(1)},
                    {threads, 1, 1});
    else
      ctx.setLaunch({(int64_t)llvm::divideCeil(rows, rowsPerBlock), 1, 1},
                    {threads, 1, 1});
    ctx.tileDescription = std::to_string(rowsPerBlock) +
                          " rows per block, 1 row per warp of " +
                          std::to_string(warp);
  }
  if (vw > 1)
    ctx.tileDescription += ", " + std::to_string(vw) + "-wide runs";
  ctx.templateName = "row_reduction";

  // Block reductions leave one partial per warp in shared memory; each
  // reduction of the kernel (at most two) has its own buffer, so no barrier
  // is needed before a buffer is refilled.
  int64_t numWarps = threads / warp;
  SmallVector<unsigned> partialBufs;
  if (blockPerRow) {
    SharedMemoryPlan &smem = ctx.getSharedMemoryPlan();
    for (unsigned i = 0; i < 2; ++i)
      partialBufs.push_back(smem.addBuffer("partials" + std::to_string(i),
                                           numWarps * 4, i, i + 1));
    if (failed(ctx.finalizeSharedMemory(ctx.tileDescription)))
      return failure();
  }

  ImplicitLocOpBuilder &b = ctx.getBuilder();
  ElementalEmitter em(b, ctx.getBindings());
  em.setBufferAlignment(target.maxVectorBytes);
  ctx.prepare(em);
  SmallVector<Value> rowExtents = em.getExtents(rs.input);
  rowExtents.resize(rs.rowDims);
  Value rowCount = em.constIndex(1);
  for (Value e : rowExtents)
    rowCount = arith::MulIOp::create(b, rowCount, e);
  auto f = [&](double v) -> Value {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  };
  auto c = [&](int64_t v) { return em.constIndex(v); };
  Value tid = ctx.threadId(gpu::Dimension::x);
  Value bid = ctx.blockId(gpu::Dimension::x);
  Value lane = tid, row = bid;
  OpBuilder::InsertionGuard guard(b);
  if (!blockPerRow) {
    Value warpId = arith::DivUIOp::create(b, tid, c(warp));
    lane = arith::RemUIOp::create(b, tid, c(warp));
    row = arith::AddIOp::create(
        b, arith::MulIOp::create(b, bid, c(threads / warp)), warpId);
    // The whole warp takes the same branch, so the shuffles inside are safe.
    Value rowValid =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, rowCount);
    auto ifOp = scf::IfOp::create(b, rowValid, /*withElseRegion=*/false);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  }
  SmallVector<Value> rowIndex = em.delinearize(row, ValueRange(rowExtents));
  Value first = arith::MulIOp::create(b, lane, c(vw));

  auto fullIndex = [&](Value col) {
    SmallVector<Value> idx = rowIndex;
    SmallVector<Value> tail = em.delinearize(col, colShape);
    idx.append(tail.begin(), tail.end());
    return idx;
  };
  unsigned reductions = 0;
  // Combines every thread's partial over the warp (or the block).
  auto allReduce = [&](Value partial,
                       function_ref<Value(Value, Value)> combine) -> Value {
    Value v = emitWarpAllReduce(b, partial, warp, combine);
    if (!blockPerRow)
      return v;
    Value buf = ctx.getSharedView(partialBufs[reductions++ % 2],
                                  MemRefType::get({numWarps}, b.getF32Type()));
    Value warpId = arith::DivUIOp::create(b, tid, c(warp));
    Value isLane0 =
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                              arith::RemUIOp::create(b, tid, c(warp)), c(0));
    auto lane0 = scf::IfOp::create(b, isLane0, /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(lane0.thenBlock()->getTerminator());
      memref::StoreOp::create(b, v, buf, ValueRange{warpId});
    }
    gpu::BarrierOp::create(b);
    Value total = memref::LoadOp::create(b, buf, ValueRange{c(0)});
    for (int64_t w = 1; w < numWarps; ++w)
      total = combine(total, memref::LoadOp::create(b, buf, ValueRange{c(w)}));
    return total;
  };
  // Strided pass over the row's columns folding `step` into one f32.
  auto rowFold =
      [&](Value init, function_ref<Value(Value acc, Value x)> step,
          function_ref<Value(Value, Value)> combine) -> FailureOr<Value> {
    FailureOr<SmallVector<Value>> partial = em.forLoop(
        first, c(cols), c(stride * vw), {init},
        [&](Value col, ValueRange it) -> FailureOr<SmallVector<Value>> {
          FailureOr<SmallVector<Value>> xs =
              em.emitRun(rs.input, fullIndex(col), vw);
          if (failed(xs))
            return failure();
          Value acc = it[0];
          for (Value x : *xs)
            acc = step(acc, x);
          return SmallVector<Value>{acc};
        });
    if (failed(partial))
      return failure();
    return allReduce((*partial)[0], combine);
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
    Value isLane0 =
        arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, c(0));
    auto lane0 = scf::IfOp::create(b, isLane0, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPoint(lane0.thenBlock()->getTerminator());
    SmallVector<Value> outIndex = rowIndex;
    if (r.getKeepDims())
      outIndex.append(colShape.size(), c(0));
    return writeOutputs(ctx, em, outIndex, 1);
  }

  // Row statistics, then a second strided pass writing every column. Each
  // hero's value is `finish(x, index)` of its input element.
  using Finish = std::function<FailureOr<SmallVector<Value>>(
      ImplicitLocOpBuilder &, ArrayRef<Value> xs, ValueRange idx,
      unsigned width)>;
  Finish finish;
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
    finish = [m, inv](ImplicitLocOpBuilder &bb, ArrayRef<Value> xs, ValueRange,
                      unsigned) -> FailureOr<SmallVector<Value>> {
      SmallVector<Value> ys;
      for (Value x : xs) {
        Value e = math::ExpOp::create(bb, arith::SubFOp::create(bb, x, m));
        ys.push_back(arith::MulFOp::create(bb, e, inv));
      }
      return ys;
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
    Value weight = n.getWeight();
    unsigned last = inShape.size() - 1;
    finish = [&em, weight, inv, last](
                 ImplicitLocOpBuilder &bb, ArrayRef<Value> xs, ValueRange idx,
                 unsigned width) -> FailureOr<SmallVector<Value>> {
      SmallVector<Value> ws;
      if (weight) {
        FailureOr<SmallVector<Value>> w =
            em.emitRun(weight, {idx[last]}, width);
        if (failed(w))
          return failure();
        ws = *w;
      }
      SmallVector<Value> ys;
      for (auto [i, x] : llvm::enumerate(xs)) {
        Value y = arith::MulFOp::create(bb, x, inv);
        if (weight)
          y = arith::MulFOp::create(bb, y, ws[i]);
        ys.push_back(y);
      }
      return ys;
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
    Value weight = ln.getWeight(), bias = ln.getBias();
    unsigned rowDims = rs.rowDims;
    finish = [&em, weight, bias, mean, inv, rowDims](
                 ImplicitLocOpBuilder &bb, ArrayRef<Value> xs, ValueRange idx,
                 unsigned width) -> FailureOr<SmallVector<Value>> {
      SmallVector<Value> tail(idx.begin() + rowDims, idx.end());
      SmallVector<Value> ws, bs;
      if (weight) {
        FailureOr<SmallVector<Value>> w = em.emitRun(weight, tail, width);
        if (failed(w))
          return failure();
        ws = *w;
      }
      if (bias) {
        FailureOr<SmallVector<Value>> bv = em.emitRun(bias, tail, width);
        if (failed(bv))
          return failure();
        bs = *bv;
      }
      SmallVector<Value> ys;
      for (auto [i, x] : llvm::enumerate(xs)) {
        Value y =
            arith::MulFOp::create(bb, arith::SubFOp::create(bb, x, mean), inv);
        if (weight)
          y = arith::MulFOp::create(bb, y, ws[i]);
        if (bias)
          y = arith::AddFOp::create(bb, y, bs[i]);
        ys.push_back(y);
      }
      return ys;
    };
  }
  Value input = rs.input, heroResult = hero->getResult(0);
  em.setSource(heroResult,
               [&em, input, finish](ImplicitLocOpBuilder &bb,
                                    ValueRange idx) -> FailureOr<Value> {
                 FailureOr<Value> x = em.emit(input, idx);
                 if (failed(x))
                   return failure();
                 FailureOr<SmallVector<Value>> y = finish(bb, {*x}, idx, 1);
                 if (failed(y))
                   return failure();
                 return (*y)[0];
               });
  em.setRunSource(
      heroResult,
      [&em, input, finish](ImplicitLocOpBuilder &bb, ValueRange idx,
                           unsigned width) -> FailureOr<SmallVector<Value>> {
        FailureOr<SmallVector<Value>> xs = em.emitRun(input, idx, width);
        if (failed(xs))
          return failure();
        return finish(bb, *xs, idx, width);
      });
  FailureOr<SmallVector<Value>> done =
      em.forLoop(first, c(cols), c(stride * vw), {},
                 [&](Value col, ValueRange) -> FailureOr<SmallVector<Value>> {
                   if (failed(writeOutputs(ctx, em, fullIndex(col), vw)))
                     return failure();
                   return SmallVector<Value>{};
                 });
  return failure(failed(done));
}

} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createRowReductionTemplate() {
  return std::make_unique<RowReductionTemplate>();
}
