//===- Elemental.cpp - One thread per output element ----------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The template every kernel can use: each thread computes one element of
// each output through the element emitter. For elementwise chains this is the
// right kernel; for kernels containing heavy ops it is the slow but complete
// fallback (their elements are computed by loops).
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

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override {
    ImplicitLocOpBuilder &b = ctx.getBuilder();
    const TargetDescription &target = ctx.getTarget();
    const KernelTuning *tuning = target.getTuning("elementwise");
    int64_t threads = tuning ? tuning->threads : 256;

    // Outputs grouped by shape: one guarded region per shape, so values
    // shared by outputs of the same shape are computed once.
    SmallVector<std::pair<SmallVector<int64_t>, SmallVector<unsigned>>> groups;
    int64_t maxElements = 1;
    for (auto [i, v] : llvm::enumerate(ctx.getYieldedValues())) {
      auto type = cast<ShapedType>(v.getType());
      maxElements = std::max(maxElements, type.getNumElements());
      auto it = llvm::find_if(groups, [&](auto &g) {
        return ArrayRef<int64_t>(g.first) == type.getShape();
      });
      if (it == groups.end())
        groups.push_back({SmallVector<int64_t>(type.getShape()), {}});
      it = llvm::find_if(groups, [&](auto &g) {
        return ArrayRef<int64_t>(g.first) == type.getShape();
      });
      it->second.push_back(i);
    }
    // Small kernels get one block of just enough whole warps.
    threads =
        std::min<int64_t>(threads, llvm::alignTo(maxElements, target.warpSize));
    int64_t blocks = (int64_t)llvm::divideCeil(maxElements, threads);
    ctx.setLaunch({blocks, 1, 1}, {threads, 1, 1});
    ctx.templateName = analysis.heavyOps.empty() ? "elementwise" : "elemental";
    ctx.tileDescription = "1 element per thread";

    ElementalEmitter emitter(b, ctx.getBindings());
    Value tid = ctx.threadId(gpu::Dimension::x);
    Value bid = ctx.blockId(gpu::Dimension::x);
    Value gid = arith::AddIOp::create(
        b, arith::MulIOp::create(b, bid, emitter.constIndex(threads)), tid);
    for (auto &[shape, members] : groups) {
      int64_t n = 1;
      for (int64_t d : shape)
        n *= d;
      Value inRange = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, gid,
                                            emitter.constIndex(n));
      auto ifOp = scf::IfOp::create(b, inRange, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      SmallVector<Value> index = emitter.delinearize(gid, shape);
      for (unsigned i : members) {
        FailureOr<Value> v = emitter.emit(ctx.getYieldedValues()[i], index);
        if (failed(v))
          return failure();
        ctx.storeOutput(i, *v, index);
      }
    }
    return success();
  }
};
} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createElementalTemplate() {
  return std::make_unique<ElementalTemplate>();
}
