//===- ScanCommon.cpp - Helpers shared by the state-space templates -------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "ScanCommon.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::scan;

/// Ops computing each element from the same-index elements of their operands
/// (with broadcasting), as in KernelAnalysis.
static bool isPointwise(Operation *op) {
  return isCheapElementalOp(op) &&
         !isa<ReshapeOp, TransposeOp, ConcatOp, SliceOp, BroadcastOp, GatherOp,
              RotaryOp, Conv1dOp, ConstantOp>(op);
}

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<ShapedType>(v.getType()).getShape();
}

/// True if `a` and `b` have the same number of elements: compared as counts
/// for static shapes; with run-time extents only identical shapes are known
/// to agree.
static bool sameNumElements(Value a, Value b) {
  auto ta = cast<ShapedType>(a.getType()), tb = cast<ShapedType>(b.getType());
  if (ta.hasStaticShape() && tb.hasStaticShape())
    return ta.getNumElements() == tb.getNumElements();
  return ta.getShape() == tb.getShape();
}

bool scan::isEpilogueAtElement(KernelOp kernel, Value root, Value state) {
  llvm::SmallPtrSet<Value, 16> dependent{root};
  Block &body = kernel.getBody().front();
  for (Operation &op : body.without_terminator()) {
    if (op.getNumResults() >= 1 && op.getResult(0) == root)
      continue;
    // The final state is stored by the template, not computed per element.
    if (state && llvm::is_contained(op.getOperands(), state))
      return false;
    bool usesRoot = llvm::any_of(
        op.getOperands(), [&](Value v) { return dependent.contains(v); });
    if (!usesRoot)
      continue;
    if (op.getNumResults() != 1 || !sameNumElements(op.getResult(0), root))
      return false;
    if (!isa<ReshapeOp>(op)) {
      if (!isPointwise(&op))
        return false;
      for (Value v : op.getOperands())
        if (dependent.contains(v) && shapeOf(v) != shapeOf(op.getResult(0)))
          return false;
    }
    dependent.insert(op.getResult(0));
  }
  for (Value v : kernel.getYield().getValues())
    if (v != state && !sameNumElements(v, root))
      return false;
  return true;
}

SmallVector<int64_t> scan::shapeAtBounds(Value v,
                                         const SymbolicShapes *shapes) {
  auto type = cast<ShapedType>(v.getType());
  if (shapes && !type.hasStaticShape())
    return llvm::to_vector(shapes->getBoundType(v).getShape());
  return llvm::to_vector(type.getShape());
}

LogicalResult scan::emitOutputsAt(KernelEmitContext &ctx, ElementalEmitter &em,
                                  Value root, ValueRange rootIndex,
                                  Value state) {
  ArrayRef<int64_t> rootShape = shapeOf(root);
  Value linear;
  for (auto [i, v] : llvm::enumerate(ctx.getYieldedValues())) {
    if (state && v == state)
      continue;
    ArrayRef<int64_t> shape = shapeOf(v);
    SmallVector<Value> index(rootIndex.begin(), rootIndex.end());
    if (shape != rootShape) {
      // Shapes differ only when both are static (isEpilogueAtElement).
      if (!linear)
        linear = em.linearize(rootIndex, rootShape);
      index = em.delinearize(linear, shape);
    }
    FailureOr<Value> r = em.emit(v, index);
    if (failed(r))
      return failure();
    ctx.storeOutput(i, *r, index);
  }
  return success();
}

void scan::storeStateAt(KernelEmitContext &ctx, Value state, Value value,
                        ValueRange index) {
  for (auto [i, v] : llvm::enumerate(ctx.getYieldedValues()))
    if (v == state)
      ctx.storeOutput(i, value, index);
}

void scan::storeStateAt(KernelEmitContext &ctx, Value state,
                        ArrayRef<Value> values, ValueRange index,
                        ElementalEmitter &em) {
  for (auto [i, v] : llvm::enumerate(ctx.getYieldedValues()))
    if (v == state)
      ctx.storeOutputRun(i, values, index, em);
}

Conv1dOp scan::findConvPrologue(Value value) {
  ArrayRef<int64_t> shape = shapeOf(value);
  Conv1dOp found;
  unsigned paths = 0;
  // Depth-first over pointwise producers at `value`'s shape.
  SmallVector<Value> stack{value};
  llvm::SmallPtrSet<Value, 8> seen;
  while (!stack.empty()) {
    Value v = stack.pop_back_val();
    if (!seen.insert(v).second || shapeOf(v) != shape)
      continue;
    Operation *op = v.getDefiningOp();
    if (!op)
      continue;
    if (auto conv = dyn_cast<Conv1dOp>(op)) {
      if (found != conv)
        ++paths;
      found = conv;
      continue;
    }
    if (!isPointwise(op))
      continue;
    for (Value operand : op->getOperands())
      stack.push_back(operand);
  }
  return paths == 1 ? found : Conv1dOp();
}

bool scan::isTransposedFromSequenceMajor(Value value) {
  int64_t rank = shapeOf(value).size();
  Value v = value;
  while (Operation *op = v.getDefiningOp()) {
    if (auto t = dyn_cast<TransposeOp>(op))
      return t.getPermutation().back() != rank - 1;
    if (!isa<SliceOp, CastOp>(op) && !isPointwise(op))
      return false;
    // Follow the operand that has this value's shape (the data, not a
    // broadcast scale).
    Value next;
    for (Value operand : op->getOperands())
      if (shapeOf(operand).size() == static_cast<size_t>(rank) &&
          (isa<SliceOp>(op) || shapeOf(operand) == shapeOf(v))) {
        next = operand;
        break;
      }
    if (!next)
      return false;
    v = next;
  }
  return false;
}

FailureOr<Value> scan::emitGuarded(ElementalEmitter &em, Value value,
                                   ValueRange index, Value cond) {
  if (!cond)
    return em.emit(value, index);
  ImplicitLocOpBuilder &b = em.getBuilder();
  FailureOr<SmallVector<Value>> r = em.ifThenElse(
      cond, b.getF32Type(),
      [&]() -> FailureOr<SmallVector<Value>> {
        FailureOr<Value> v = em.emit(value, index);
        if (failed(v))
          return failure();
        return SmallVector<Value>{*v};
      },
      [&]() -> FailureOr<SmallVector<Value>> {
        return SmallVector<Value>{
            arith::ConstantOp::create(b, b.getF32FloatAttr(0.0))};
      });
  if (failed(r))
    return failure();
  return (*r)[0];
}

Value scan::emitGroupAllReduceSum(ImplicitLocOpBuilder &b, Value value,
                                  unsigned groupSize, unsigned warpSize) {
  for (unsigned offset = groupSize / 2; offset >= 1; offset /= 2) {
    auto shuffle = gpu::ShuffleOp::create(
        b, value, static_cast<int32_t>(offset), static_cast<int32_t>(warpSize),
        gpu::ShuffleMode::XOR);
    value = arith::AddFOp::create(b, value, shuffle.getShuffleResult());
  }
  return value;
}

LogicalResult scan::emitStrided(ElementalEmitter &em, Value tid, int64_t count,
                                int64_t threads,
                                function_ref<LogicalResult(Value)> body) {
  FailureOr<SmallVector<Value>> r =
      em.forLoop(tid, em.constIndex(count), em.constIndex(threads), {},
                 [&](Value e, ValueRange) { return noResults(body(e)); });
  return failure(failed(r));
}

RegisterTile RegisterTile::choose(int64_t m, int64_t n, int64_t threads) {
  int64_t tx = 1;
  while (tx * 2 <= 16 && n % (tx * 2) == 0 && threads % (tx * 2) == 0)
    tx *= 2;
  int64_t ty = threads / tx;
  return {m, n, tx, ty, (m + ty - 1) / ty, n / tx};
}

FailureOr<SmallVector<Value>>
scan::emitRegisterTileMatmul(ElementalEmitter &em, const RegisterTile &tile,
                             Value rowBase, Value colBase, int64_t kSize,
                             ValueRange init,
                             function_ref<Value(Value, Value)> loadA,
                             function_ref<Value(Value, Value)> loadB) {
  ImplicitLocOpBuilder &b = em.getBuilder();
  ScalarBuilder k{b};
  SmallVector<Value> rows, cols;
  for (int64_t i = 0; i < tile.tm; ++i) {
    Value row = k.add(rowBase, k.c(i * tile.ty));
    if ((i + 1) * tile.ty > tile.m)
      row = k.min(row, k.c(tile.m - 1));
    rows.push_back(row);
  }
  for (int64_t j = 0; j < tile.tn; ++j)
    cols.push_back(k.add(colBase, k.c(j * tile.tx)));
  return em.forLoop(
      k.c(0), k.c(kSize), k.c(1), init,
      [&](Value kk, ValueRange acc) -> FailureOr<SmallVector<Value>> {
        SmallVector<Value> aFrag, bFrag;
        for (Value row : rows)
          aFrag.push_back(loadA(row, kk));
        for (Value col : cols)
          bFrag.push_back(loadB(kk, col));
        return emitTileMultiplyAccumulate(b, aFrag, bFrag, acc);
      });
}
