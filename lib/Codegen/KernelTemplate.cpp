//===- KernelTemplate.cpp - Template registry and emission context --------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/KernelTemplate.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;

KernelTemplate::~KernelTemplate() = default;

//===----------------------------------------------------------------------===//
// KernelAnalysis
//===----------------------------------------------------------------------===//

KernelAnalysis KernelAnalysis::analyze(KernelOp kernel) {
  KernelAnalysis a;
  a.kernel = kernel;
  Block &body = kernel.getBody().front();
  for (Operation &op : body.without_terminator())
    if (!isCheapElementalOp(&op))
      a.heavyOps.push_back(&op);
  if (a.heavyOps.size() != 1)
    return a;
  a.hero = a.heavyOps.front();
  if (a.hero->getNumResults() != 1)
    return a;
  Value heroResult = a.hero->getResult(0);
  ArrayRef<int64_t> heroShape =
      cast<ShapedType>(heroResult.getType()).getShape();
  // Ops whose results never reach the yield are not emitted; ignore them.
  llvm::SmallPtrSet<Operation *, 16> live;
  SmallVector<Value> worklist(kernel.getYield().getValues());
  while (!worklist.empty()) {
    Operation *def = worklist.pop_back_val().getDefiningOp();
    if (def && live.insert(def).second)
      worklist.append(def->operand_begin(), def->operand_end());
  }
  llvm::SmallPtrSet<Value, 16> dependent{heroResult};
  bool ok = true;
  for (Operation &op : body.without_terminator()) {
    if (&op == a.hero || !live.contains(&op))
      continue;
    bool usesHero = llvm::any_of(
        op.getOperands(), [&](Value v) { return dependent.contains(v); });
    if (!usesHero)
      continue;
    if (!isPointwiseElementalOp(&op) ||
        cast<ShapedType>(op.getResult(0).getType()).getShape() != heroShape) {
      ok = false;
      break;
    }
    for (Value v : op.getOperands())
      if (dependent.contains(v) &&
          cast<ShapedType>(v.getType()).getShape() != heroShape)
        ok = false;
    dependent.insert(op.getResult(0));
  }
  for (Value v : kernel.getYield().getValues())
    if (cast<ShapedType>(v.getType()).getShape() != heroShape)
      ok = false;
  a.epilogueAtHeroIndex = ok;
  return a;
}

//===----------------------------------------------------------------------===//
// KernelEmitContext
//===----------------------------------------------------------------------===//

static bool hasDynamicShape(Type t) {
  auto shaped = dyn_cast<ShapedType>(t);
  return shaped && !shaped.hasStaticShape();
}

KernelEmitContext::KernelEmitContext(KernelOp kernel, gpu::GPUFuncOp func,
                                     const TargetDescription &target,
                                     const CodegenOverrides &overrides,
                                     const SymbolicShapes *shapes)
    : kernel(kernel), func(func), target(target), overrides(overrides),
      builder(kernel.getLoc(), func.getContext()), shapes(shapes),
      primary(this) {
  Block &entry = func.getBody().front();
  builder.setInsertionPoint(entry.getTerminator());
  Block &body = kernel.getBody().front();
  unsigned numInputs = body.getNumArguments();
  unsigned numOutputs = kernel.getNumResults();
  unsigned numSymbols = shapes ? shapes->getNumSymbols() : 0;
  if (shapes) {
    kernel.walk([&](Operation *op) {
      for (Region &r : op->getRegions())
        for (Block &blk : r)
          for (Value a : blk.getArguments())
            dynamicExtents |= hasDynamicShape(a.getType());
      for (Value r : op->getResults())
        dynamicExtents |= hasDynamicShape(r.getType());
    });
  }
  if (!dynamicExtents) {
    for (unsigned i = 0; i < numInputs; ++i)
      bindings[body.getArgument(i)] = entry.getArgument(i);
    for (unsigned i = 0; i < numOutputs; ++i)
      outputs.push_back(entry.getArgument(numInputs + i));
  } else {
    // The symbols' values, then a view of every dynamic buffer with its
    // run-time sizes and row-major strides.
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(&entry);
    for (unsigned s = 0; s < numSymbols; ++s) {
      auto cast = arith::IndexCastOp::create(
          builder, builder.getIndexType(),
          entry.getArgument(numInputs + numOutputs + s));
      symbolValues.push_back(cast);
      entryAnchor = cast;
    }
    auto view = [&](Value tensor, Value flat) -> Value {
      auto type = cast<RankedTensorType>(tensor.getType());
      if (type.hasStaticShape())
        return flat;
      SmallVector<OpFoldResult> sizes, strides(type.getRank());
      for (unsigned d = 0; d < type.getRank(); ++d)
        sizes.push_back(
            type.isDynamicDim(d)
                ? OpFoldResult(getExtent(tensor, d))
                : OpFoldResult(builder.getIndexAttr(type.getDimSize(d))));
      DimExpr stride = DimExpr::constant(1);
      for (int64_t d = type.getRank() - 1; d >= 0; --d) {
        strides[d] = stride.isConstant()
                         ? OpFoldResult(builder.getIndexAttr(stride.coeff))
                         : OpFoldResult(getExtent(stride));
        stride = stride * getDimExpr(tensor, d);
      }
      OpBuilder::InsertionGuard g(builder);
      builder.setInsertionPointAfter(entryAnchor);
      auto resultType = MemRefType::get(type.getShape(), type.getElementType());
      auto cast = memref::ReinterpretCastOp::create(
          builder, resultType, flat, builder.getIndexAttr(0), sizes, strides);
      entryAnchor = cast;
      return cast;
    };
    for (unsigned i = 0; i < numInputs; ++i)
      bindings[body.getArgument(i)] =
          view(body.getArgument(i), entry.getArgument(i));
    for (unsigned i = 0; i < numOutputs; ++i)
      outputs.push_back(
          view(kernel.getResult(i), entry.getArgument(numInputs + i)));
  }
  if (entry.getNumArguments() > numInputs + numOutputs + numSymbols)
    scratchArg = entry.getArguments().back();
}

KernelEmitContext::KernelEmitContext(KernelEmitContext &primary,
                                     gpu::GPUFuncOp func)
    : KernelEmitContext(primary.kernel, func, primary.target, primary.overrides,
                        primary.shapes) {
  this->primary = &primary;
}

void KernelEmitContext::setLaunch(std::array<GridExtent, 3> grid,
                                  std::array<int64_t, 3> block) {
  gridExtents = grid;
  this->block = block;
  SmallVector<int64_t> upper;
  if (shapes)
    for (const DimBound &b : shapes->getBounds())
      upper.push_back(b.hi);
  for (unsigned i = 0; i < 3; ++i)
    this->grid[i] = grid[i].evaluate(upper).value_or(INT64_MAX);
}

DimExpr KernelEmitContext::getDimExpr(Value value, unsigned d) const {
  if (shapes)
    return shapes->getDim(value, d);
  return DimExpr::constant(cast<ShapedType>(value.getType()).getDimSize(d));
}

Value KernelEmitContext::getExtent(Value value, unsigned d) {
  return getExtent(getDimExpr(value, d));
}

Value KernelEmitContext::getExtent(const DimExpr &expr) {
  if (expr.isConstant()) {
    OpBuilder::InsertionGuard guard(builder);
    Block &entry = func.getBody().front();
    if (entryAnchor)
      builder.setInsertionPointAfter(entryAnchor);
    else
      builder.setInsertionPointToStart(&entry);
    return arith::ConstantIndexOp::create(builder, expr.coeff);
  }
  SmallVector<std::string> names;
  for (unsigned i = 0; i < symbolValues.size(); ++i)
    names.push_back("s" + std::to_string(i));
  std::string key = expr.toC(names);
  if (Value v = extentCache.lookup(key))
    return v;
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointAfter(entryAnchor);
  Value v = emitDimExpr(builder, expr, symbolValues);
  // A bare symbol is its existing cast: the anchor must not move back to
  // it, or entry code added later would precede values it uses.
  if (Operation *def = v.getDefiningOp();
      def && entryAnchor->isBeforeInBlock(def))
    entryAnchor = def;
  extentCache[key] = v;
  return v;
}

void KernelEmitContext::prepare(ElementalEmitter &emitter) {
  if (!dynamicExtents)
    return;
  emitter.setExtentResolver(
      [this](Value v, unsigned d) { return getExtent(v, d); });
}

KernelEmitContext::~KernelEmitContext() = default;

ValueRange KernelEmitContext::getYieldedValues() {
  return kernel.getYield().getValues();
}

Value KernelEmitContext::threadId(gpu::Dimension d) {
  return gpu::ThreadIdOp::create(builder, d);
}
Value KernelEmitContext::blockId(gpu::Dimension d) {
  return gpu::BlockIdOp::create(builder, d);
}

void KernelEmitContext::storeOutput(unsigned i, Value computed,
                                    ValueRange index) {
  Value out = outputs[i];
  Type et = cast<MemRefType>(out.getType()).getElementType();
  memref::StoreOp::create(builder, convertToStorage(builder, computed, et), out,
                          index);
}

void KernelEmitContext::storeOutputRun(unsigned i, ArrayRef<Value> computed,
                                       ValueRange index, ElementalEmitter &em) {
  Value out = outputs[i];
  auto type = cast<MemRefType>(out.getType());
  Type et = type.getElementType();
  unsigned width = computed.size();
  unsigned bits = et.getIntOrFloatBitWidth();
  Value result = kernel.getResult(i);
  if (width == 1 || bits < 8 || !llvm::isPowerOf2_32(bits)) {
    for (auto [k, v] : llvm::enumerate(computed))
      storeOutput(
          i, v,
          em.runElementIndex(index, result, width, static_cast<unsigned>(k)));
    return;
  }
  SmallVector<Value> stored;
  for (Value v : computed)
    stored.push_back(convertToStorage(builder, v, et));
  Value vec = vector::FromElementsOp::create(
      builder, VectorType::get({static_cast<int64_t>(width)}, et), stored);
  Value flat = out, linear;
  if (type.getRank() == 1) {
    linear = index[0];
  } else {
    ReassociationIndices all;
    for (int64_t d = 0; d < type.getRank(); ++d)
      all.push_back(d);
    flat = memref::CollapseShapeOp::create(builder, out,
                                           ArrayRef<ReassociationIndices>{all});
    linear = em.linearize(index, em.getExtents(result));
  }
  int64_t align = std::min<int64_t>(width * bits / 8, target.maxVectorBytes);
  vector::StoreOp::create(builder, vec, flat, ValueRange{linear},
                          /*nontemporal=*/false, llvm::MaybeAlign(align));
}

LogicalResult KernelEmitContext::finalizeSharedMemory(StringRef tile) {
  int64_t total = smemPlan.place();
  if (total <= target.sharedMemoryPerBlockOptin)
    return success();
  return kernel.emitError()
         << "kernel '" << kernel.getName() << "' with " << tile << " needs "
         << total << " bytes of shared memory (" << smemPlan.describe()
         << "), but " << target.name << " allows at most "
         << target.sharedMemoryPerBlockOptin << " bytes per block";
}

Value KernelEmitContext::getSharedView(unsigned id, MemRefType type,
                                       Value extraOffset) {
  auto workgroup = gpu::AddressSpaceAttr::get(
      builder.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
  if (!smemBase) {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(&func.getBody().front());
    auto baseType = MemRefType::get({ShapedType::kDynamic}, builder.getI8Type(),
                                    nullptr, workgroup);
    smemBase = gpu::DynamicSharedMemoryOp::create(builder, baseType);
  }
  Value offset =
      arith::ConstantIndexOp::create(builder, smemPlan.getOffset(id));
  if (extraOffset)
    offset = arith::AddIOp::create(builder, offset, extraOffset);
  auto viewType = MemRefType::get(type.getShape(), type.getElementType(),
                                  nullptr, workgroup);
  return memref::ViewOp::create(builder, viewType, smemBase, offset,
                                ValueRange{});
}

KernelEmitContext &KernelEmitContext::addAuxiliaryKernel(StringRef suffix) {
  KernelEmitContext &p = *primary;
  gpu::GPUFuncOp last =
      p.auxiliaries.empty() ? p.func : p.auxiliaries.back()->func;
  OpBuilder b(last->getContext());
  b.setInsertionPointAfter(last);
  auto aux = gpu::GPUFuncOp::create(b, p.func.getLoc(),
                                    (p.func.getName() + "_" + suffix).str(),
                                    p.func.getFunctionType());
  aux->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  // Uniquify the name within the gpu.module.
  SymbolTable(aux->getParentOp()).insert(aux, Block::iterator(aux));
  b.setInsertionPointToEnd(&aux.getBody().front());
  gpu::ReturnOp::create(b, p.func.getLoc());
  p.auxiliaries.push_back(
      std::unique_ptr<KernelEmitContext>(new KernelEmitContext(p, aux)));
  return *p.auxiliaries.back();
}

unsigned KernelEmitContext::requestScratch(StringRef name, int64_t bytes) {
  KernelEmitContext &p = *primary;
  assert(!p.scratchFinalized && "scratch requested after first use");
  (void)name;
  // 256-byte alignment keeps every buffer aligned for vector access.
  p.scratchBytes = llvm::alignTo(p.scratchBytes, 256);
  p.scratchOffsets.push_back(p.scratchBytes);
  p.scratchBytes += bytes;
  return p.scratchOffsets.size() - 1;
}

int64_t KernelEmitContext::getScratchBytes() const {
  return primary->scratchBytes;
}

void KernelEmitContext::appendScratchArgument() {
  auto type = MemRefType::get({std::max<int64_t>(primary->scratchBytes, 1)},
                              builder.getI8Type());
  unsigned index = func.getNumArguments();
  (void)func.insertArgument(index, type, DictionaryAttr(), kernel.getLoc());
  scratchArg = func.getArgument(index);
}

Value KernelEmitContext::getScratchView(unsigned id, MemRefType type) {
  KernelEmitContext &p = *primary;
  if (!p.scratchFinalized) {
    p.scratchFinalized = true;
    p.appendScratchArgument();
    for (auto &aux : p.auxiliaries)
      aux->appendScratchArgument();
  }
  Value offset = arith::ConstantIndexOp::create(builder, p.scratchOffsets[id]);
  auto viewType = MemRefType::get(type.getShape(), type.getElementType());
  return memref::ViewOp::create(builder, viewType, scratchArg, offset,
                                ValueRange{});
}

//===----------------------------------------------------------------------===//
// Registry and shared helpers
//===----------------------------------------------------------------------===//

const KernelTemplate *
KernelTemplateRegistry::select(const KernelAnalysis &analysis,
                               const TargetDescription &target,
                               bool forceElemental) const {
  const KernelTemplate *best = nullptr;
  unsigned bestBenefit = 0;
  for (const auto &t : templates) {
    if (forceElemental && t->getName() != "elemental")
      continue;
    unsigned benefit = t->match(analysis, target);
    if (benefit > bestBenefit) {
      best = t.get();
      bestBenefit = benefit;
    }
  }
  return best;
}

const KernelTemplateRegistry &mlir::iolite::getKernelTemplateRegistry() {
  static const KernelTemplateRegistry registry = [] {
    KernelTemplateRegistry r;
    r.add(createElementalTemplate());
    r.add(createRowReductionTemplate());
    r.add(createMatmulTemplate());
    r.add(createSelectiveScanTemplate());
    r.add(createSsdTemplate());
    r.add(createConv1dTemplate());
    r.add(createLongConvTemplate());
    r.add(createMoeTemplate());
    r.add(createAttentionTemplate());
    r.add(createKvCacheAppendTemplate());
    return r;
  }();
  return registry;
}

SmallVector<Value>
mlir::iolite::emitTileMultiplyAccumulate(ImplicitLocOpBuilder &b, ValueRange a,
                                         ValueRange bFrag, ValueRange acc) {
  SmallVector<Value> result;
  result.reserve(acc.size());
  for (auto [i, x] : llvm::enumerate(a))
    for (auto [j, y] : llvm::enumerate(bFrag))
      result.push_back(math::FmaOp::create(b, x, y, acc[i * bFrag.size() + j]));
  return result;
}

SmallVector<Value> mlir::iolite::emitSharedTileMatmul(
    ImplicitLocOpBuilder &b, const SharedTileOperand &a,
    const SharedTileOperand &bOperand, int64_t extent, ValueRange acc) {
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, v);
  };
  // Fragment positions do not depend on k: compute them once.
  auto positions = [&](const SharedTileOperand &op) {
    SmallVector<Value> pos;
    for (int64_t n = 0; n < op.count; ++n)
      pos.push_back(n == 0 ? op.threadOffset
                           : (Value)arith::AddIOp::create(b, op.threadOffset,
                                                          c(n * op.stride)));
    return pos;
  };
  SmallVector<Value> aPos = positions(a), bPos = positions(bOperand);
  auto loop = scf::ForOp::create(b, c(0), c(extent), c(1), acc);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value k = loop.getInductionVar();
  auto fragment = [&](const SharedTileOperand &op, ArrayRef<Value> pos) {
    SmallVector<Value> frag;
    for (Value x : pos) {
      SmallVector<Value> idx(op.prefix.begin(), op.prefix.end());
      if (op.reductionMajor)
        idx.append({k, x});
      else
        idx.append({x, k});
      frag.push_back(
          convertToCompute(b, memref::LoadOp::create(b, op.tile, idx)));
    }
    return frag;
  };
  SmallVector<Value> aFrag = fragment(a, aPos);
  SmallVector<Value> bFrag = fragment(bOperand, bPos);
  scf::YieldOp::create(
      b, emitTileMultiplyAccumulate(b, aFrag, bFrag, loop.getRegionIterArgs()));
  return SmallVector<Value>(loop.getResults());
}

Value mlir::iolite::emitWarpAllReduce(
    ImplicitLocOpBuilder &b, Value value, unsigned warpSize,
    function_ref<Value(Value, Value)> combine) {
  return emitLaneGroupAllReduce(b, value, warpSize, warpSize, combine);
}

Value mlir::iolite::emitLaneGroupAllReduce(
    ImplicitLocOpBuilder &b, Value value, unsigned lanes, unsigned warpSize,
    function_ref<Value(Value, Value)> combine) {
  assert(llvm::isPowerOf2_32(lanes) && warpSize % lanes == 0 &&
         "lane groups must be powers of two dividing the warp");
  for (unsigned offset = lanes / 2; offset >= 1; offset /= 2) {
    auto shuffle = gpu::ShuffleOp::create(
        b, value, static_cast<int32_t>(offset), static_cast<int32_t>(warpSize),
        gpu::ShuffleMode::XOR);
    value = combine(value, shuffle.getShuffleResult());
  }
  return value;
}
