//===- PlanMemory.cpp - Workspace planning across kernels -----------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Liveness is measured in op positions of the function block: a buffer is
// live from the kernel that writes it to the last op that reads it, both
// inclusive (a kernel reads its inputs while it writes its results). A
// result may take over an input's storage when the input dies at that kernel,
// has the same byte size, and the kernel reads it only at the element it
// writes (canWriteInPlace); such buffers share one storage interval.
// Storages are placed greedy-by-size with best fit (TFLite's arena planner,
// TVM's static memory planner): largest first, each at the smallest gap
// between storages whose intervals overlap its own, or after them.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/IR/DynamicDims.h"
#include "iolite/Dialect/Iolite/Transforms/Fusion.h"
#include "iolite/Dialect/Iolite/Transforms/MemoryPlan.h"
#include "iolite/Dialect/Iolite/Transforms/Passes.h"
#include "iolite/Dialect/Iolite/Transforms/Transforms.h"

#include "llvm/ADT/EquivalenceClasses.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

namespace mlir {
namespace iolite {
#define GEN_PASS_DEF_IOLITEPLANMEMORYPASS
#include "iolite/Dialect/Iolite/Transforms/Passes.h.inc"
} // namespace iolite
} // namespace mlir

using namespace mlir;
using namespace mlir::iolite;

bool mlir::iolite::canWriteInPlace(KernelOp kernel, unsigned inputIndex,
                                   unsigned resultIndex) {
  Block &body = kernel.getBody().front();
  Value arg = body.getArgument(inputIndex);
  Value yielded = kernel.getYield().getValues()[resultIndex];
  auto elements = [](Value v) {
    return cast<ShapedType>(v.getType()).getNumElements();
  };
  if (elements(arg) != elements(yielded))
    return false;
  // Follow every value computed from `arg`: each must be pointwise at its
  // own index (or a reshape) with arg's element count, and the only yielded
  // one must be `yielded`.
  SmallVector<Value> worklist{arg};
  llvm::SmallPtrSet<Value, 16> seen{arg};
  bool reachesYield = false;
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (isa<YieldOp>(user)) {
        if (use.get() != yielded)
          return false;
        reachesYield = true;
        continue;
      }
      bool pointwise =
          classifyForFusion(user) == FusionOpClass::Pointwise &&
          cast<ShapedType>(v.getType()).getShape() ==
              cast<ShapedType>(user->getResult(0).getType()).getShape();
      if (!pointwise && !isa<ReshapeOp>(user))
        return false;
      Value r = user->getResult(0);
      if (elements(r) != elements(arg))
        return false;
      if (seen.insert(r).second)
        worklist.push_back(r);
    }
  }
  return reachesYield;
}

namespace {
int64_t byteSize(RankedTensorType t) {
  int64_t bits = t.getElementType().getIntOrFloatBitWidth();
  return t.getNumElements() * (bits == 1 ? 1 : bits / 8);
}
} // namespace

/// The plan of a function with symbolic dims: made on a copy specialised
/// to every symbol's upper bound, so one workspace serves every size within
/// the bounds (TVM's static_plan_block_memory plans with symbolic upper
/// bounds the same way); the buffers then name the function's own values.
static FailureOr<MemoryPlan> planAtBounds(func::FuncOp func,
                                          const MemoryPlanOptions &options) {
  FailureOr<DimBounds> bounds = getDimBounds(func);
  if (failed(bounds))
    return failure();
  llvm::MapVector<StringRef, int64_t> upper;
  for (auto &[name, bound] : *bounds)
    upper[name] = bound.hi;
  OwningOpRef<func::FuncOp> copy = func.clone();
  if (failed(specializeDims(*copy, upper)))
    return failure();
  FailureOr<MemoryPlan> plan = planMemory(*copy, options);
  if (failed(plan))
    return failure();
  // Kernels and their results correspond one to one, in order.
  DenseMap<Value, Value> original;
  for (auto [mine, theirs] :
       llvm::zip(func.getArguments(), copy->getArguments()))
    original[theirs] = mine;
  for (auto [mine, theirs] :
       llvm::zip(func.getBody().front().getOps<KernelOp>(),
                 copy->getBody().front().getOps<KernelOp>()))
    for (auto [r, c] : llvm::zip(mine.getResults(), theirs.getResults()))
      original[c] = r;
  for (PlannedBuffer &buffer : plan->buffers) {
    buffer.value = original.lookup(buffer.value);
    if (buffer.inPlaceOf)
      buffer.inPlaceOf = original.lookup(buffer.inPlaceOf);
  }
  return plan;
}

FailureOr<MemoryPlan>
mlir::iolite::planMemory(func::FuncOp func, const MemoryPlanOptions &options) {
  MemoryPlan plan;
  if (func.isDeclaration())
    return plan;
  if (!func.getBody().hasOneBlock())
    return func.emitError("iolite-plan-memory needs a function of one block");
  if (options.alignment < 1 || !llvm::isPowerOf2_64(options.alignment))
    return func.emitError("iolite-plan-memory: alignment ")
           << options.alignment << " is not a power of two";
  if (hasDynamicDims(func))
    return planAtBounds(func, options);
  Block &block = func.getBody().front();
  DenseMap<Operation *, unsigned> position;
  for (auto [i, op] : llvm::enumerate(block))
    position[&op] = i;
  Operation *terminator = block.getTerminator();

  // The buffers: kernel results that are not function results.
  DenseMap<Value, unsigned> bufferOf;
  for (auto kernel : block.getOps<KernelOp>()) {
    unsigned at = position[kernel];
    for (Value r : kernel.getResults()) {
      bool returned = llvm::any_of(r.getUsers(), [&](Operation *u) {
        return block.findAncestorOpInBlock(*u) == terminator;
      });
      if (returned)
        continue;
      auto type = dyn_cast<RankedTensorType>(r.getType());
      if (!type || !type.hasStaticShape())
        return kernel.emitError("cannot place result #")
               << cast<OpResult>(r).getResultNumber() << " of type "
               << r.getType()
               << " in the workspace: it needs a static tensor shape";
      PlannedBuffer buffer;
      buffer.value = r;
      buffer.size = llvm::alignTo(byteSize(type), options.alignment);
      buffer.firstUse = buffer.lastUse = at;
      for (Operation *u : r.getUsers())
        if (Operation *a = block.findAncestorOpInBlock(*u))
          buffer.lastUse = std::max(buffer.lastUse, position[a]);
      bufferOf[r] = plan.buffers.size();
      plan.buffers.push_back(buffer);
      plan.sumOfSizes += buffer.size;
    }
  }

  // In-place reuse: a result takes the storage of an input dying here.
  llvm::EquivalenceClasses<unsigned> storage;
  for (unsigned i = 0; i < plan.buffers.size(); ++i)
    storage.insert(i);
  for (auto kernel : block.getOps<KernelOp>()) {
    unsigned at = position[kernel];
    SmallVector<unsigned> taken;
    for (auto [ri, r] : llvm::enumerate(kernel.getResults())) {
      auto it = bufferOf.find(r);
      if (it == bufferOf.end())
        continue;
      PlannedBuffer &out = plan.buffers[it->second];
      for (auto [ii, in] : llvm::enumerate(kernel.getInputs())) {
        auto inIt = bufferOf.find(in);
        if (inIt == bufferOf.end() || llvm::is_contained(taken, inIt->second))
          continue;
        const PlannedBuffer &src = plan.buffers[inIt->second];
        if (src.lastUse != at ||
            byteSize(cast<RankedTensorType>(src.value.getType())) !=
                byteSize(cast<RankedTensorType>(r.getType())) ||
            !canWriteInPlace(kernel, ii, ri))
          continue;
        taken.push_back(inIt->second);
        out.inPlaceOf = in;
        storage.unionSets(it->second, inIt->second);
        ++plan.numInPlace;
        break;
      }
    }
  }

  // One storage per class: the union of the intervals, the largest size.
  struct Storage {
    int64_t size = 0;
    unsigned first = ~0u, last = 0;
    int64_t offset = -1;
    SmallVector<unsigned> members;
  };
  SmallVector<Storage> storages;
  DenseMap<unsigned, unsigned> storageOf;
  for (unsigned i = 0; i < plan.buffers.size(); ++i) {
    unsigned leader = storage.getLeaderValue(i);
    auto [it, inserted] = storageOf.try_emplace(leader, storages.size());
    if (inserted)
      storages.emplace_back();
    Storage &s = storages[it->second];
    s.size = std::max(s.size, plan.buffers[i].size);
    s.first = std::min(s.first, plan.buffers[i].firstUse);
    s.last = std::max(s.last, plan.buffers[i].lastUse);
    s.members.push_back(i);
  }

  // Greedy by size, best fit.
  SmallVector<unsigned> order = llvm::to_vector(
      llvm::seq<unsigned>(0, static_cast<unsigned>(storages.size())));
  llvm::sort(order, [&](unsigned a, unsigned b) {
    if (storages[a].size != storages[b].size)
      return storages[a].size > storages[b].size;
    if (storages[a].first != storages[b].first)
      return storages[a].first < storages[b].first;
    return a < b;
  });
  SmallVector<unsigned> placed;
  for (unsigned si : order) {
    Storage &s = storages[si];
    SmallVector<unsigned> conflicts;
    for (unsigned pi : placed) {
      const Storage &p = storages[pi];
      if (p.first <= s.last && s.first <= p.last)
        conflicts.push_back(pi);
    }
    llvm::sort(conflicts, [&](unsigned a, unsigned b) {
      return storages[a].offset < storages[b].offset;
    });
    int64_t prevEnd = 0, best = -1, bestGap = 0;
    for (unsigned pi : conflicts) {
      const Storage &p = storages[pi];
      int64_t gap = p.offset - prevEnd;
      if (gap >= s.size && (best < 0 || gap < bestGap)) {
        best = prevEnd;
        bestGap = gap;
      }
      prevEnd = std::max(prevEnd, p.offset + p.size);
    }
    s.offset = best >= 0 ? best : prevEnd;
    placed.push_back(si);
    plan.workspaceSize = std::max(plan.workspaceSize, s.offset + s.size);
  }
  for (const Storage &s : storages)
    for (unsigned m : s.members)
      plan.buffers[m].offset = s.offset;

  // The liveness lower bound: the most bytes live at one position.
  for (unsigned at = 0; at < block.getOperations().size(); ++at) {
    int64_t live = 0;
    for (const Storage &s : storages)
      if (s.first <= at && at <= s.last)
        live += s.size;
    plan.livenessLowerBound = std::max(plan.livenessLowerBound, live);
  }
  return plan;
}

void mlir::iolite::applyMemoryPlan(func::FuncOp func, const MemoryPlan &plan) {
  if (func.isDeclaration())
    return;
  Builder b(func.getContext());
  DenseMap<Value, int64_t> offsetOf;
  for (const PlannedBuffer &buffer : plan.buffers)
    offsetOf[buffer.value] = buffer.offset;
  for (auto kernel : func.getBody().front().getOps<KernelOp>()) {
    SmallVector<int64_t> offsets;
    for (Value r : kernel.getResults())
      offsets.push_back(offsetOf.lookup_or(r, -1));
    kernel->setAttr(kResultOffsetsAttr, b.getDenseI64ArrayAttr(offsets));
  }
  func->setAttr(kWorkspaceSizeAttr, b.getI64IntegerAttr(plan.workspaceSize));
  func->setAttr(
      kWorkspaceStatsAttr,
      b.getDictionaryAttr({
          b.getNamedAttr("buffers", b.getI64IntegerAttr(plan.buffers.size())),
          b.getNamedAttr("in_place", b.getI64IntegerAttr(plan.numInPlace)),
          b.getNamedAttr("liveness_lower_bound",
                         b.getI64IntegerAttr(plan.livenessLowerBound)),
          b.getNamedAttr("sum_of_sizes", b.getI64IntegerAttr(plan.sumOfSizes)),
      }));
}

namespace {
struct IolitePlanMemoryPass
    : iolite::impl::IolitePlanMemoryPassBase<IolitePlanMemoryPass> {
  using Base::Base;
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    MemoryPlanOptions options;
    options.alignment = alignment;
    FailureOr<MemoryPlan> plan = planMemory(func, options);
    if (failed(plan))
      return signalPassFailure();
    applyMemoryPlan(func, *plan);
    RemarkCollector collector(getArgument(), remarks);
    for (const PlannedBuffer &buffer : plan->buffers) {
      if (!buffer.inPlaceOf)
        continue;
      auto kernel = cast<KernelOp>(buffer.value.getDefiningOp());
      auto src = cast<OpResult>(buffer.inPlaceOf);
      std::string srcName = "an input";
      if (auto srcKernel = dyn_cast<KernelOp>(src.getOwner()))
        srcName = ("result #" + Twine(src.getResultNumber()) + " of '" +
                   srcKernel.getName() + "'")
                      .str();
      collector.passed(
          kernel.getLoc(), "in-place",
          llvm::formatv("kernel '{0}' writes result #{1} in place "
                        "over {2}, which dies there",
                        kernel.getName(),
                        cast<OpResult>(buffer.value).getResultNumber(), srcName)
              .str());
    }
    collector.analysis(
        func.getLoc(), "workspace",
        llvm::formatv("workspace of @{0}: {1} B peak for {2} intermediates "
                      "({3} in place); sum of sizes {4} B, liveness lower "
                      "bound {5} B",
                      func.getSymName(), plan->workspaceSize,
                      plan->buffers.size(), plan->numInPlace, plan->sumOfSizes,
                      plan->livenessLowerBound)
            .str());
  }
};
} // namespace
