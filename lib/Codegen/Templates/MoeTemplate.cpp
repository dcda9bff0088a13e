//===- MoeTemplate.cpp - Mixture-of-experts kernels as stages -------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Splits an MoE kernel into stages (Moe.h), decides what each stage writes,
// and drives the stage emitters. A kernel qualifies when its heavy ops are
// MoE ops in a supported grouping and every value crossing a stage boundary
// is either computable from the kernel inputs, the fused dispatch -> grouped
// matmul gather, or a value some stage computes pointwise from its results at
// its own index space (so its epilogue can write it).
//
//===----------------------------------------------------------------------===//

#include "Moe.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/bit.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::moe;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

Value moe::constIndex(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantIndexOp::create(b, v);
}

Value moe::cmpLt(ImplicitLocOpBuilder &b, Value x, Value y) {
  return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x, y);
}

LogicalResult moe::forEach(ElementalEmitter &em, Value lb, Value ub, Value step,
                           function_ref<LogicalResult(Value)> body) {
  FailureOr<SmallVector<Value>> r =
      em.forLoop(lb, ub, step, {},
                 [&](Value iv, ValueRange) -> FailureOr<SmallVector<Value>> {
                   if (failed(body(iv)))
                     return failure();
                   return SmallVector<Value>{};
                 });
  return failure(failed(r));
}

LogicalResult moe::ifThen(ImplicitLocOpBuilder &b, Value cond,
                          function_ref<LogicalResult()> body) {
  auto ifOp = scf::IfOp::create(b, cond, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  return body();
}

int64_t moe::getPlanningSize(KernelEmitContext &ctx, Value v, unsigned d) {
  auto type = cast<ShapedType>(v.getType());
  if (!type.isDynamicDim(d))
    return type.getDimSize(d);
  return ctx.getSymbolicShapes()->getBoundType(v).getDimSize(d);
}

Value moe::getExtentValue(KernelEmitContext &ctx, Value v, unsigned d) {
  auto type = cast<ShapedType>(v.getType());
  if (!type.isDynamicDim(d))
    return constIndex(ctx.getBuilder(), type.getDimSize(d));
  return ctx.getExtent(v, d);
}

const KernelTuning &moe::getTuning(KernelEmitContext &ctx, StringRef family) {
  const KernelTuning *t = ctx.getTarget().getTuning(family);
  assert(t && "matched without the family's tuning");
  return *t;
}

int64_t moe::getOperandRun(const TargetDescription &target, Value operand,
                           int64_t extent) {
  int64_t w = std::max<int64_t>(1, (int64_t)target.maxVectorBytes /
                                       getWidestElementBytes(operand));
  w = (int64_t)llvm::bit_floor((uint64_t)w);
  while (w > 1 && extent % w)
    w /= 2;
  return w;
}

MatrixChoice moe::chooseMatrix(KernelEmitContext &ctx, StringRef mmaFamily,
                               Type lhs, Type rhs, int64_t maxM, int64_t maxN) {
  const TargetDescription &target = ctx.getTarget();
  const CodegenOverrides &overrides = ctx.getOverrides();
  MatrixChoice choice;
  if (overrides.noMatrixUnits) {
    choice.reason = "matrix units turned off for this compile";
    return choice;
  }
  choice = chooseMatrixInstruction(target, lhs, rhs, overrides.allowTf32, maxM,
                                   maxN);
  if (choice.inst && !target.getTuning(mmaFamily)) {
    choice.inst = nullptr;
    choice.reason = target.chip + " has no " + mmaFamily.str() + " tuning";
  }
  return choice;
}

//===----------------------------------------------------------------------===//
// MoeEmitState
//===----------------------------------------------------------------------===//

void MoeEmitState::nextLaunch(StringRef name) {
  if (started)
    current = &primary.addAuxiliaryKernel(name);
  started = true;
}

static int64_t byteSize(MemRefType type) {
  return type.getNumElements() *
         llvm::divideCeil(type.getElementTypeBitWidth(), 8);
}

unsigned MoeEmitState::requestScratch(StringRef name, MemRefType type) {
  unsigned id = primary.requestScratch(name, byteSize(type));
  assert(id == scratchTypes.size() && "scratch requested elsewhere");
  scratchTypes.push_back(type);
  return id;
}

Value MoeEmitState::getScratch(unsigned id) {
  return current->getScratchView(id, scratchTypes[id]);
}

void MoeEmitState::planMemory(const MoePlan &plan) {
  Type i32 = IntegerType::get(primary.getFunc().getContext(), 32);
  for (const Stage &stage : plan.stages) {
    for (const Export &e : stage.exports) {
      Memory &m = locations[e.value];
      if (e.output >= 0) {
        m.outputs.push_back(e.output);
        continue;
      }
      if (m.scratch >= 0)
        continue;
      // At the bounds for run-time extents: only the outermost dim is
      // dynamic (supportsDynamicExtents), so the row-major strides agree.
      auto type = cast<RankedTensorType>(e.value.getType());
      if (!type.hasStaticShape())
        type = primary.getSymbolicShapes()->getBoundType(e.value);
      m.scratch = requestScratch(
          "export", MemRefType::get(type.getShape(), type.getElementType()));
    }
    if (stage.kind == StageKind::Dispatch) {
      auto dispatch = cast<DispatchOp>(stage.ops[0]);
      int64_t blocks = getDispatchBlocks(primary, dispatch,
                                         getTuning(primary, "moe_dispatch"));
      if (blocks > 1)
        stageScratch[&stage] = requestScratch(
            "dispatch counts",
            MemRefType::get({blocks, (int64_t)dispatch.getNumExperts() + 1},
                            i32));
    } else if (stage.kind == StageKind::Combine) {
      // Sized at the bounds when the rows are a run-time extent.
      int64_t rows = getPlanningSize(
          primary, cast<CombineOp>(stage.ops[0]).getRowIndex(), 0);
      stageScratch[&stage] =
          requestScratch("inverse permutation", MemRefType::get({rows}, i32));
    }
  }
}

Value MoeEmitState::getStageScratch(const Stage &stage) {
  return getScratch(stageScratch.lookup(&stage));
}

/// Kernel output `o` viewed with the shape of `value`: a value yielded
/// through reshapes (the combine's [tokens, hidden] returned as
/// [batch, seq, hidden]) is written in its own shape into the same
/// row-major buffer, collapsed to one dim and expanded again.
static Value outputViewFor(KernelEmitContext &context, int o, Value value) {
  Value output = context.getOutput(o);
  auto type = cast<MemRefType>(output.getType());
  ArrayRef<int64_t> shape = cast<ShapedType>(value.getType()).getShape();
  if (type.getShape() == shape)
    return output;
  ImplicitLocOpBuilder &b = context.getBuilder();
  if (!type.hasStaticShape() || ShapedType::isDynamicShape(shape)) {
    // Run-time extents: the same row-major buffer at `value`'s extents.
    SmallVector<OpFoldResult> sizes, strides(shape.size());
    for (unsigned d = 0; d < shape.size(); ++d)
      sizes.push_back(ShapedType::isDynamic(shape[d])
                          ? OpFoldResult(getExtentValue(context, value, d))
                          : OpFoldResult(b.getIndexAttr(shape[d])));
    // Static strides while the inner dims are static, as the type says.
    int64_t staticStride = 1;
    Value stride;
    for (int64_t d = shape.size() - 1; d >= 0; --d) {
      strides[d] = stride ? OpFoldResult(stride)
                          : OpFoldResult(b.getIndexAttr(staticStride));
      if (stride || ShapedType::isDynamic(shape[d]))
        stride = arith::MulIOp::create(
            b, stride ? stride : constIndex(b, staticStride),
            getExtentValue(context, value, d));
      else
        staticStride *= shape[d];
    }
    return memref::ReinterpretCastOp::create(
        b, MemRefType::get(shape, type.getElementType()), output,
        b.getIndexAttr(0), sizes, strides);
  }
  Value flat = output;
  if (type.getRank() != 1) {
    ReassociationIndices all = llvm::to_vector(
        llvm::seq<int64_t>(0, static_cast<int64_t>(type.getRank())));
    flat = memref::CollapseShapeOp::create(b, output,
                                           ArrayRef<ReassociationIndices>{all});
  }
  if (shape.size() == 1)
    return flat;
  ReassociationIndices into = llvm::to_vector(
      llvm::seq<int64_t>(0, static_cast<int64_t>(shape.size())));
  return memref::ExpandShapeOp::create(
      b, MemRefType::get(shape, type.getElementType()), flat,
      ArrayRef<ReassociationIndices>{into});
}

Value MoeEmitState::getMemory(Value value) {
  const Memory &m = locations.find(value)->second;
  if (!m.outputs.empty())
    return outputViewFor(*current, m.outputs.front(), value);
  return getScratch(m.scratch);
}

void MoeEmitState::store(Value value, Value computed, ValueRange index) {
  const Memory &m = locations.find(value)->second;
  ImplicitLocOpBuilder &b = current->getBuilder();
  SmallVector<Value> targets;
  for (int o : m.outputs)
    targets.push_back(outputViewFor(*current, o, value));
  if (m.scratch >= 0)
    targets.push_back(getScratch(m.scratch));
  for (Value target : targets) {
    Type et = cast<MemRefType>(target.getType()).getElementType();
    memref::StoreOp::create(b, convertToStorage(b, computed, et), target,
                            index);
  }
}

void MoeEmitState::markWritten(const Stage &stage) {
  for (const Export &e : stage.exports)
    if (!llvm::is_contained(written, e.value))
      written.push_back(e.value);
}

void MoeEmitState::installSources(ElementalEmitter &em) {
  for (Value v : written) {
    Value memory = getMemory(v);
    em.setSource(v,
                 [memory](ImplicitLocOpBuilder &b,
                          ValueRange index) -> FailureOr<Value> {
                   return convertToCompute(
                       b, memref::LoadOp::create(b, memory, index));
                 });
  }
}

//===----------------------------------------------------------------------===//
// Analysis
//===----------------------------------------------------------------------===//

namespace {
/// Elementwise ops computing each element from the same-index elements of
/// their operands (with broadcasting).
bool isPointwise(Operation *op) {
  return isCheapElementalOp(op) &&
         !isa<ReshapeOp, TransposeOp, ConcatOp, SliceOp, BroadcastOp, GatherOp,
              RotaryOp, Conv1dOp, ConstantOp>(op);
}

ArrayRef<int64_t> shapeOf(Value v) {
  return cast<ShapedType>(v.getType()).getShape();
}

bool isMoeOp(Operation *op) {
  return isa<RouterOp, DispatchOp, GroupedMatmulOp, CombineOp>(op);
}

/// Builds the plan; see MoePlan::analyze.
class Analyzer {
public:
  Analyzer(const KernelAnalysis &analysis, std::string &reason)
      : analysis(analysis), reason(reason) {}

  std::optional<MoePlan> run() {
    if (!formStages() || !computeSpaces() || !assignExports())
      return std::nullopt;
    return plan;
  }

private:
  bool fail(const Twine &why) {
    reason = why.str();
    return false;
  }

  bool formStages() {
    ArrayRef<Operation *> heavy = analysis.heavyOps;
    if (!llvm::any_of(heavy, isMoeOp))
      return fail("no MoE op");
    for (size_t i = 0; i < heavy.size();) {
      Operation *op = heavy[i];
      Stage stage;
      if (auto mm = dyn_cast<MatmulOp>(op)) {
        auto router = i + 1 < heavy.size() ? dyn_cast<RouterOp>(heavy[i + 1])
                                           : RouterOp();
        if (!router || mm.getLhs().getType().getRank() != 2 ||
            mm.getRhs().getType().getRank() != 2 ||
            !isa<FloatType>(mm.getType().getElementType()))
          return fail("a matmul that is not a router's 2-D logits matmul");
        stage.kind = StageKind::Router;
        stage.ops = {mm, router};
        i += 2;
      } else if (isa<RouterOp>(op)) {
        stage.kind = StageKind::Router;
        stage.ops = {op};
        ++i;
      } else if (isa<DispatchOp>(op)) {
        stage.kind = StageKind::Dispatch;
        stage.ops = {op};
        ++i;
      } else if (auto gm = dyn_cast<GroupedMatmulOp>(op)) {
        stage.kind = StageKind::GroupedMatmul;
        stage.ops = {op};
        ++i;
        // A second grouped matmul of the same rows (SwiGLU's gate and up)
        // shares the A tile: two accumulators per thread.
        if (i < heavy.size()) {
          auto other = dyn_cast<GroupedMatmulOp>(heavy[i]);
          if (other && other.getInput() == gm.getInput() &&
              other.getOffsets() == gm.getOffsets() &&
              other.getTransposeRhs() == gm.getTransposeRhs() &&
              other.getWeight().getType() == gm.getWeight().getType()) {
            stage.ops.push_back(other);
            ++i;
          }
        }
      } else if (isa<CombineOp>(op)) {
        stage.kind = StageKind::Combine;
        stage.ops = {op};
        ++i;
      } else {
        return fail("'" + op->getName().getStringRef() + "' is not an MoE op");
      }
      for (Operation *o : stage.ops)
        stageOf[o] = plan.stages.size();
      plan.stages.push_back(std::move(stage));
    }
    return true;
  }

  /// True if `v` depends on a heavy op's result.
  bool dependsOnHeavy(Value v) {
    auto it = heavyDep.find(v);
    if (it != heavyDep.end())
      return it->second;
    Operation *def = v.getDefiningOp();
    bool dep = false;
    if (def) {
      if (!isCheapElementalOp(def))
        dep = true;
      else
        dep = llvm::any_of(def->getOperands(),
                           [&](Value o) { return dependsOnHeavy(o); });
    }
    heavyDep[v] = dep;
    return dep;
  }

  /// Index spaces: (stage, space) -> shape. Seeds are the stage's results.
  bool computeSpaces() {
    for (auto [si, stage] : llvm::enumerate(plan.stages)) {
      unsigned s = si;
      switch (stage.kind) {
      case StageKind::Router: {
        auto router = cast<RouterOp>(stage.ops.back());
        seed(router.getWeights(), s, kMain);
        seed(router.getExpertIds(), s, kMain);
        if (stage.ops.size() == 2)
          seed(stage.ops[0]->getResult(0), s, kLogits);
        break;
      }
      case StageKind::Dispatch: {
        auto d = cast<DispatchOp>(stage.ops[0]);
        seed(d.getSorted(), s, kMain);
        seed(d.getRowIndex(), s, kRows);
        seed(d.getOffsets(), s, kOffsets);
        break;
      }
      case StageKind::GroupedMatmul:
        for (Operation *op : stage.ops)
          seed(op->getResult(0), s, kMain);
        break;
      case StageKind::Combine:
        seed(stage.ops[0]->getResult(0), s, kMain);
        break;
      }
    }
    // Pointwise propagation in program order.
    Block &body = KernelOp(analysis.kernel).getBody().front();
    for (Operation &op : body.without_terminator()) {
      if (!isPointwise(&op) || op.getNumResults() != 1)
        continue;
      std::optional<SpaceId> space;
      bool ok = true;
      ArrayRef<int64_t> shape = shapeOf(op.getResult(0));
      for (Value v : op.getOperands()) {
        auto it = spaces.find(v);
        if (it == spaces.end()) {
          if (dependsOnHeavy(v))
            ok = false;
          continue;
        }
        if ((space && *space != it->second) || shapeOf(v) != shape ||
            it->second.second == kRows || it->second.second == kOffsets)
          ok = false;
        space = it->second;
      }
      if (ok && space)
        spaces[op.getResult(0)] = *space;
    }
    return true;
  }

  void seed(Value v, unsigned stage, unsigned space) {
    spaces[v] = {stage, space};
  }

  void addExport(Value v, int output) {
    auto [stageIndex, space] = spaces.lookup(v);
    Stage &stage = plan.stages[stageIndex];
    for (const Export &e : stage.exports)
      if (e.value == v && e.output == output)
        return;
    // A scratch copy is not needed when the value is also an output.
    if (output < 0 &&
        llvm::any_of(
            stage.exports, [&](const Export &e) { return e.value == v; }))
      return;
    if (output >= 0)
      llvm::erase_if(stage.exports, [&](const Export &e) {
        return e.value == v && e.output < 0;
      });
    stage.exports.push_back({v, output, static_cast<Space>(space)});
  }

  /// Makes operand `u` of a heavy op of stage `consumer` readable there.
  bool require(Value u, unsigned consumer, Operation *user,
               llvm::SmallPtrSetImpl<Value> &visited) {
    if (!visited.insert(u).second || !dependsOnHeavy(u))
      return true;
    auto it = spaces.find(u);
    if (it != spaces.end()) {
      auto [producer, space] = it->second;
      if (producer == consumer) {
        // Only the router's logits come from its own stage (the matmul).
        if (isa<RouterOp>(user) && space == kLogits)
          return true;
        return fail("an operand of '" + user->getName().getStringRef() +
                    "' comes from its own stage");
      }
      if (producer > consumer)
        return fail("stages out of order");
      Stage &from = plan.stages[producer];
      Stage &to = plan.stages[consumer];
      // Dispatch -> grouped matmul input: gathered, never materialised.
      if (from.kind == StageKind::Dispatch && space == kMain &&
          to.kind == StageKind::GroupedMatmul &&
          cast<GroupedMatmulOp>(user).getInput() == u) {
        auto d = cast<DispatchOp>(from.ops[0]);
        if (to.fusedDispatch && to.fusedDispatch != d)
          return fail("a grouped matmul reads two dispatches");
        to.fusedDispatch = d;
        addExport(d.getRowIndex(), -1);
        return true;
      }
      addExport(u, -1);
      return true;
    }
    Operation *def = u.getDefiningOp();
    if (!def || !isCheapElementalOp(def))
      return fail("a heavy op reads another heavy op's result that no stage "
                  "writes");
    for (Value o : def->getOperands())
      if (!require(o, consumer, user, visited))
        return false;
    return true;
  }

  bool assignExports() {
    // Values yielded by the kernel are written by the stage computing them.
    for (auto [i, y] :
         llvm::enumerate(KernelOp(analysis.kernel).getYield().getValues())) {
      // A reshape only renames the row-major elements: the stage writes
      // the value before it, in its own shape (outputViewFor).
      Value v = y;
      while (!spaces.count(v) && v.getDefiningOp<ReshapeOp>())
        v = v.getDefiningOp<ReshapeOp>().getInput();
      auto it = spaces.find(v);
      if (it == spaces.end())
        return fail("yielded value #" + Twine(i) +
                    " is not computed pointwise by an MoE stage");
      addExport(v, i);
    }
    // Operands of every heavy op.
    for (auto [si, stage] : llvm::enumerate(plan.stages)) {
      unsigned s = si;
      for (Operation *op : SmallVector<Operation *, 2>(stage.ops)) {
        for (Value u : op->getOperands()) {
          llvm::SmallPtrSet<Value, 16> visited;
          if (!require(u, s, op, visited))
            return false;
        }
      }
    }
    // Internal edges: the router's logits are pointwise from its matmul.
    for (Stage &stage : plan.stages) {
      if (stage.kind != StageKind::Router || stage.ops.size() != 2)
        continue;
      auto router = cast<RouterOp>(stage.ops[1]);
      auto it = spaces.find(router.getLogits());
      if (it == spaces.end() || it->second.second != kLogits)
        return fail("the router's logits are not computed pointwise from its "
                    "matmul");
    }
    // A grouped matmul reading a dispatch's rows needs its offsets too; the
    // offsets are an operand, so `require` exported them already.
    for (Stage &stage : plan.stages)
      if (stage.exports.empty())
        return fail("a stage whose results nothing reads");
    return true;
  }

  using SpaceId = std::pair<unsigned, unsigned>;

  const KernelAnalysis &analysis;
  std::string &reason;
  MoePlan plan;
  DenseMap<Operation *, unsigned> stageOf;
  DenseMap<Value, bool> heavyDep;
  DenseMap<Value, SpaceId> spaces;
};
} // namespace

std::optional<MoePlan> MoePlan::analyze(const KernelAnalysis &analysis,
                                        std::string &reason) {
  return Analyzer(analysis, reason).run();
}

//===----------------------------------------------------------------------===//
// The template
//===----------------------------------------------------------------------===//

namespace {
class MoeTemplate : public KernelTemplate {
public:
  StringRef getName() const override { return "moe"; }

  unsigned match(const KernelAnalysis &analysis,
                 const TargetDescription &target) const override {
    for (StringRef family :
         {"moe_router", "moe_dispatch", "moe_grouped_matmul", "moe_combine"})
      if (!target.getTuning(family))
        return 0;
    std::string reason;
    return MoePlan::analyze(analysis, reason) ? 40 : 0;
  }

  /// Token counts (and so rows of the dispatched assignments) may be
  /// run-time extents: grids, loops and masks follow them, scratch and
  /// tiles are sized at the bounds. Hidden sizes, k and the expert weights
  /// are static.
  bool supportsDynamicExtents(const KernelAnalysis &analysis) const override {
    std::string reason;
    std::optional<MoePlan> plan = MoePlan::analyze(analysis, reason);
    if (!plan)
      return false;
    for (const Stage &stage : plan->stages)
      for (Operation *op : stage.ops) {
        for (Value v : op->getOperands()) {
          auto type = cast<ShapedType>(v.getType());
          for (int64_t d = 1; d < type.getRank(); ++d)
            if (type.isDynamicDim(d))
              return false;
        }
        if (auto gm = dyn_cast<GroupedMatmulOp>(op))
          if (!gm.getWeight().getType().hasStaticShape())
            return false;
        if (auto mm = dyn_cast<MatmulOp>(op))
          if (mm.getTransposeLhs() || !mm.getRhs().getType().hasStaticShape())
            return false;
      }
    return true;
  }

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override {
    std::string reason;
    std::optional<MoePlan> plan = MoePlan::analyze(analysis, reason);
    if (!plan)
      return KernelOp(analysis.kernel).emitError() << "MoE kernel: " << reason;
    MoeEmitState state(ctx);
    state.planMemory(*plan);
    for (const Stage &stage : plan->stages) {
      LogicalResult done = failure();
      switch (stage.kind) {
      case StageKind::Router:
        done = emitRouterStage(state, stage);
        break;
      case StageKind::Dispatch:
        done = emitDispatchStage(state, stage);
        break;
      case StageKind::GroupedMatmul:
        done = emitGroupedMatmulStage(state, stage);
        break;
      case StageKind::Combine:
        done = emitCombineStage(state, stage);
        break;
      }
      if (failed(done))
        return failure();
      state.markWritten(stage);
    }
    return success();
  }
};
} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createMoeTemplate() {
  return std::make_unique<MoeTemplate>();
}
