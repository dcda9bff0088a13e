//===- Elemental.cpp - One thread per output element ----------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The template every kernel can use: each thread computes elements of each
// output through the element emitter. For elementwise chains this is the
// right kernel: each thread takes a run of consecutive elements (one vector
// load per contiguous operand, one vector store per output, up to the
// target's maxVectorBytes) and the elements after the last whole run are a
// scalar tail. For kernels containing heavy ops it is the slow but complete
// fallback, one element per thread (their elements are computed by loops).
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/KernelTemplate.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;

namespace {
class ElementalTemplate : public KernelTemplate {
public:
  StringRef getName() const override { return "elemental"; }

  unsigned match(const KernelAnalysis &analysis,
                 const TargetDescription &) const override {
    // Elementwise chains are this template's own; anything else falls back.
    return analysis.heavyOps.empty() ? 10 : 1;
  }

  bool supportsDynamicExtents(const KernelAnalysis &analysis) const override {
    // Heavy ops computed by loops read static shapes (ElementalHeavyOps).
    return analysis.heavyOps.empty();
  }

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override {
    if (ctx.hasDynamicExtents())
      return emitDynamic(ctx);
    ImplicitLocOpBuilder &b = ctx.getBuilder();
    const TargetDescription &target = ctx.getTarget();
    const KernelTuning *tuning = target.getTuning("elementwise");
    int64_t threads = tuning ? tuning->threads : 256;
    // Elementwise chains move runs of elements (vector loads and stores);
    // the fallback for heavy ops computes one element per thread.
    bool vectorize = analysis.heavyOps.empty();

    // Outputs grouped by shape: one guarded region per shape, so values
    // shared by outputs of the same shape are computed once. Each group is
    // cut into runs of `width` elements (row-major) and a scalar tail.
    struct Group {
      SmallVector<int64_t> shape;
      SmallVector<unsigned> members;
      int64_t width = 1, runs = 0, tail = 0;
    };
    SmallVector<Group> groups;
    for (auto [i, v] : llvm::enumerate(ctx.getYieldedValues())) {
      auto type = cast<ShapedType>(v.getType());
      auto it = llvm::find_if(groups, [&](Group &g) {
        return ArrayRef(g.shape) == type.getShape();
      });
      if (it == groups.end()) {
        groups.push_back({SmallVector<int64_t>(type.getShape()), {}});
        it = std::prev(groups.end());
      }
      it->members.push_back(i);
    }
    int64_t workItems = 1, maxWidth = 1;
    for (Group &g : groups) {
      int64_t n = 1;
      for (int64_t d : g.shape)
        n *= d;
      if (vectorize && !g.shape.empty()) {
        int64_t widest = 1;
        for (unsigned i : g.members)
          widest = std::max(widest,
                            getWidestElementBytes(ctx.getYieldedValues()[i]));
        g.width = std::max<int64_t>(1, target.maxVectorBytes / widest);
        while (g.width > 1 && g.width > n)
          g.width /= 2;
      }
      g.runs = n / g.width;
      g.tail = n % g.width;
      workItems = std::max(workItems, g.runs + g.tail);
      maxWidth = std::max(maxWidth, g.width);
    }
    // Small kernels get one block of just enough whole warps.
    threads =
        std::min<int64_t>(threads, llvm::alignTo(workItems, target.warpSize));
    int64_t blocks = (int64_t)llvm::divideCeil(workItems, threads);
    ctx.setLaunch({blocks, 1, 1}, {threads, 1, 1});
    ctx.templateName = vectorize ? "elementwise" : "elemental";
    ctx.tileDescription = maxWidth > 1
                              ? "runs of up to " + std::to_string(maxWidth) +
                                    " elements per thread, scalar tail"
                              : "1 element per thread";

    ElementalEmitter emitter(b, ctx.getBindings());
    emitter.setBufferAlignment(target.maxVectorBytes);
    auto c = [&](int64_t v) { return emitter.constIndex(v); };
    Value tid = ctx.threadId(gpu::Dimension::x);
    Value bid = ctx.blockId(gpu::Dimension::x);
    Value gid = arith::AddIOp::create(
        b, arith::MulIOp::create(b, bid, c(threads)), tid);
    auto lt = [&](Value x, int64_t bound) -> Value {
      return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, c(bound));
    };
    for (Group &g : groups) {
      // Runs: work item `gid` covers elements [gid * width, + width).
      if (g.runs > 0) {
        OpBuilder::InsertionGuard guard(b);
        auto ifOp = scf::IfOp::create(b, lt(gid, g.runs), false);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
        Value start = g.width == 1
                          ? gid
                          : (Value)arith::MulIOp::create(b, gid, c(g.width));
        SmallVector<Value> index = emitter.delinearize(start, g.shape);
        for (unsigned i : g.members) {
          FailureOr<SmallVector<Value>> v = emitter.emitRun(
              ctx.getYieldedValues()[i], index, static_cast<unsigned>(g.width));
          if (failed(v))
            return failure();
          ctx.storeOutputRun(i, *v, index, emitter);
        }
      }
      // Tail: work items [runs, runs + tail) take one element each.
      if (g.tail > 0) {
        OpBuilder::InsertionGuard guard(b);
        Value inTail = arith::AndIOp::create(
            b,
            arith::CmpIOp::create(b, arith::CmpIPredicate::uge, gid, c(g.runs)),
            lt(gid, g.runs + g.tail));
        auto ifOp = scf::IfOp::create(b, inTail, false);
        b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
        Value linear = arith::AddIOp::create(
            b, arith::SubIOp::create(b, gid, c(g.runs)), c(g.runs * g.width));
        SmallVector<Value> index = emitter.delinearize(linear, g.shape);
        for (unsigned i : g.members) {
          FailureOr<Value> v = emitter.emit(ctx.getYieldedValues()[i], index);
          if (failed(v))
            return failure();
          ctx.storeOutput(i, *v, index);
        }
      }
    }
    return success();
  }

private:
  /// Elementwise chains with run-time extents. Each group of outputs of one
  /// shape is cut into runs of `width` elements within a row (the last dim
  /// static and a multiple of `width`, else width 1); the grid covers the
  /// largest group at the bounds, and every group is walked with a
  /// grid-stride loop so any extents are covered.
  LogicalResult emitDynamic(KernelEmitContext &ctx) const {
    ImplicitLocOpBuilder &b = ctx.getBuilder();
    const TargetDescription &target = ctx.getTarget();
    const KernelTuning *tuning = target.getTuning("elementwise");
    int64_t threads = tuning ? tuning->threads : 256;
    struct Group {
      Value shapeOf;
      SmallVector<DimExpr> dims;
      SmallVector<unsigned> members;
      int64_t width = 1;
    };
    SmallVector<Group> groups;
    for (auto [i, v] : llvm::enumerate(ctx.getYieldedValues())) {
      auto type = cast<ShapedType>(v.getType());
      SmallVector<DimExpr> dims;
      for (unsigned d = 0; d < type.getRank(); ++d)
        dims.push_back(ctx.getDimExpr(v, d));
      auto it = llvm::find_if(groups, [&](Group &g) { return g.dims == dims; });
      if (it == groups.end()) {
        groups.push_back({v, dims, {}});
        it = std::prev(groups.end());
      }
      it->members.push_back(i);
    }
    const SymbolicShapes &shapes = *ctx.getSymbolicShapes();
    SmallVector<int64_t> upper;
    for (const DimBound &bound : shapes.getBounds())
      upper.push_back(bound.hi);
    int64_t maxWidth = 1;
    std::optional<GridExtent> grid;
    int64_t largest = -1;
    for (Group &g : groups) {
      auto type = cast<ShapedType>(g.shapeOf.getType());
      if (type.getRank() > 0 && !type.isDynamicDim(type.getRank() - 1)) {
        int64_t widest = 1;
        for (unsigned i : g.members)
          widest = std::max(widest,
                            getWidestElementBytes(ctx.getYieldedValues()[i]));
        g.width = largestDividingWidth(
            std::max<int64_t>(1, target.maxVectorBytes / widest),
            {type.getShape().back()});
      }
      maxWidth = std::max(maxWidth, g.width);
      DimExpr n = DimExpr::constant(1);
      for (const DimExpr &d : g.dims)
        n = n * d;
      int64_t atBounds = n.evaluate(upper).value_or(INT64_MAX);
      if (atBounds > largest) {
        largest = atBounds;
        grid = GridExtent{n, g.width * threads};
      }
    }
    ctx.setLaunch({*grid, GridExtent::constant(1), GridExtent::constant(1)},
                  {threads, 1, 1});
    ctx.templateName = "elementwise";
    ctx.tileDescription =
        (maxWidth > 1 ? "runs of up to " + std::to_string(maxWidth) +
                            " elements per thread"
                      : std::string("1 element per thread")) +
        ", run-time extents, grid-stride loop";

    ElementalEmitter emitter(b, ctx.getBindings());
    emitter.setBufferAlignment(target.maxVectorBytes);
    ctx.prepare(emitter);
    auto c = [&](int64_t v) { return emitter.constIndex(v); };
    Value tid = ctx.threadId(gpu::Dimension::x);
    Value bid = ctx.blockId(gpu::Dimension::x);
    Value gid = arith::AddIOp::create(
        b, arith::MulIOp::create(b, bid, c(threads)), tid);
    Value stride = arith::MulIOp::create(
        b, gpu::GridDimOp::create(b, gpu::Dimension::x), c(threads));
    for (Group &g : groups) {
      SmallVector<Value> extents = emitter.getExtents(g.shapeOf);
      Value n = c(1);
      for (Value e : extents)
        n = arith::MulIOp::create(b, n, e);
      // Work item k covers elements [k * width, k * width + width); rows
      // are a multiple of width long, so every item is a whole run.
      Value items =
          g.width == 1 ? n : (Value)arith::DivUIOp::create(b, n, c(g.width));
      OpBuilder::InsertionGuard guard(b);
      auto loop = scf::ForOp::create(b, gid, items, stride);
      b.setInsertionPoint(loop.getBody()->getTerminator());
      Value item = loop.getInductionVar();
      Value start = g.width == 1
                        ? item
                        : (Value)arith::MulIOp::create(b, item, c(g.width));
      SmallVector<Value> index = emitter.delinearize(start, extents);
      for (unsigned i : g.members) {
        FailureOr<SmallVector<Value>> v = emitter.emitRun(
            ctx.getYieldedValues()[i], index, static_cast<unsigned>(g.width));
        if (failed(v))
          return failure();
        ctx.storeOutputRun(i, *v, index, emitter);
      }
    }
    return success();
  }
};
} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createElementalTemplate() {
  return std::make_unique<ElementalTemplate>();
}
