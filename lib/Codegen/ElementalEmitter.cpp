//===- ElementalEmitter.cpp - Scalar code for one tensor element ----------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/ElementalEmitter.h"

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/ADT/bit.h"
#include <cmath>

using namespace mlir;
using namespace mlir::iolite;

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

Type mlir::iolite::getComputeType(Type elementType) {
  if (isa<FloatType>(elementType))
    return Float32Type::get(elementType.getContext());
  return elementType;
}

Value mlir::iolite::convertToStorage(ImplicitLocOpBuilder &b, Value computed,
                                     Type elementType) {
  if (computed.getType() == elementType)
    return computed;
  if (isa<FloatType>(elementType))
    return arith::TruncFOp::create(b, elementType, computed);
  return computed;
}

Value mlir::iolite::convertToCompute(ImplicitLocOpBuilder &b, Value loaded) {
  Type t = loaded.getType();
  if (isa<FloatType>(t) && !t.isF32())
    return arith::ExtFOp::create(b, b.getF32Type(), loaded);
  return loaded;
}

bool mlir::iolite::isCheapElementalOp(Operation *op) {
  return isa<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp, PowOp, CompareOp,
             SelectOp, ExpOp, LogOp, TanhOp, ErfOp, SigmoidOp, SiluOp, ReluOp,
             RsqrtOp, SqrtOp, NegOp, AbsOp, ReciprocalOp, SoftplusOp, SinOp,
             CosOp, GeluOp, CastOp, ConstantOp, ReshapeOp, TransposeOp,
             ConcatOp, SliceOp, BroadcastOp, GatherOp, RotaryOp, Conv1dOp,
             IotaOp>(op);
}

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<ShapedType>(v.getType()).getShape();
}
static Type elementTypeOf(Value v) {
  return cast<ShapedType>(v.getType()).getElementType();
}

bool mlir::iolite::isPointwiseElementalOp(Operation *op) {
  return isCheapElementalOp(op) &&
         !isa<ReshapeOp, TransposeOp, ConcatOp, SliceOp, BroadcastOp, GatherOp,
              RotaryOp, Conv1dOp, ConstantOp, IotaOp>(op);
}

static int64_t elementBytes(Type t) {
  return std::max<int64_t>(1, t.getIntOrFloatBitWidth() / 8);
}

int64_t mlir::iolite::largestDividingWidth(int64_t limit,
                                           ArrayRef<int64_t> sizes) {
  int64_t w = std::max<int64_t>(1, (int64_t)llvm::bit_floor((uint64_t)limit));
  while (w > 1 && llvm::any_of(sizes, [&](int64_t s) { return s % w != 0; }))
    w /= 2;
  return w;
}

int64_t mlir::iolite::getWidestElementBytes(Value value) {
  int64_t widest = 1;
  llvm::DenseSet<Value> seen;
  SmallVector<Value> worklist{value};
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    widest = std::max(widest, elementBytes(elementTypeOf(v)));
    if (Operation *def = v.getDefiningOp())
      if (isCheapElementalOp(def))
        worklist.append(def->operand_begin(), def->operand_end());
  }
  return widest;
}
static int64_t normAxis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

Value ElementalEmitter::constIndex(int64_t v) {
  return arith::ConstantIndexOp::create(b, v);
}

Value ElementalEmitter::linearize(ValueRange index, ArrayRef<int64_t> shape) {
  if (shape.empty())
    return constIndex(0);
  Value linear = index[0];
  for (size_t i = 1; i < shape.size(); ++i) {
    linear = arith::MulIOp::create(b, linear, constIndex(shape[i]));
    linear = arith::AddIOp::create(b, linear, index[i]);
  }
  return linear;
}

SmallVector<Value> ElementalEmitter::delinearize(Value linear,
                                                 ArrayRef<int64_t> shape) {
  SmallVector<Value> index(shape.size());
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) {
    if (i == 0) {
      index[i] = linear;
      break;
    }
    Value dim = constIndex(shape[i]);
    index[i] = arith::RemUIOp::create(b, linear, dim);
    linear = arith::DivUIOp::create(b, linear, dim);
  }
  return index;
}

SmallVector<Value> ElementalEmitter::getExtents(Value value) {
  auto type = cast<ShapedType>(value.getType());
  SmallVector<Value> extents;
  for (unsigned d = 0; d < type.getRank(); ++d) {
    if (!type.isDynamicDim(d)) {
      extents.push_back(constIndex(type.getDimSize(d)));
      continue;
    }
    assert(extentResolver && "a dynamic dim without an extent resolver");
    extents.push_back(extentResolver(value, d));
  }
  return extents;
}

Value ElementalEmitter::linearize(ValueRange index, ValueRange extents) {
  if (extents.empty())
    return constIndex(0);
  Value linear = index[0];
  for (size_t i = 1; i < extents.size(); ++i) {
    linear = arith::MulIOp::create(b, linear, extents[i]);
    linear = arith::AddIOp::create(b, linear, index[i]);
  }
  return linear;
}

SmallVector<Value> ElementalEmitter::delinearize(Value linear,
                                                 ValueRange extents) {
  SmallVector<Value> index(extents.size());
  for (int64_t i = static_cast<int64_t>(extents.size()) - 1; i >= 0; --i) {
    if (i == 0) {
      index[i] = linear;
      break;
    }
    index[i] = arith::RemUIOp::create(b, linear, extents[i]);
    linear = arith::DivUIOp::create(b, linear, extents[i]);
  }
  return index;
}

SmallVector<Value> ElementalEmitter::runElementIndex(ValueRange index,
                                                     Value shaped,
                                                     unsigned width,
                                                     unsigned i) {
  auto type = cast<ShapedType>(shaped.getType());
  if (type.hasStaticShape())
    return runElementIndex(index, type.getShape(), width, i);
  SmallVector<Value> idx(index.begin(), index.end());
  if (i == 0)
    return idx;
  ArrayRef<int64_t> shape = type.getShape();
  if (!ShapedType::isDynamic(shape.back()) && shape.back() % width == 0) {
    idx.back() = arith::AddIOp::create(b, idx.back(), constIndex(i));
    return idx;
  }
  SmallVector<Value> extents = getExtents(shaped);
  Value linear =
      arith::AddIOp::create(b, linearize(index, extents), constIndex(i));
  return delinearize(linear, extents);
}

SmallVector<Value> ElementalEmitter::broadcastIndex(ValueRange index,
                                                    ArrayRef<int64_t> shape) {
  SmallVector<Value> result;
  int64_t offset =
      static_cast<int64_t>(index.size()) - static_cast<int64_t>(shape.size());
  for (auto [i, dim] : llvm::enumerate(shape))
    result.push_back(dim == 1 ? constIndex(0) : index[offset + i]);
  return result;
}

SmallVector<Value>
ElementalEmitter::operandIndex(ValueRange index, ArrayRef<int64_t> operandShape,
                               ArrayRef<int64_t> resultShape) {
  if (operandShape == resultShape)
    return SmallVector<Value>(index.begin(), index.end());
  return broadcastIndex(index, operandShape);
}

SmallVector<Value> ElementalEmitter::runElementIndex(ValueRange index,
                                                     ArrayRef<int64_t> shape,
                                                     unsigned width,
                                                     unsigned i) {
  SmallVector<Value> idx(index.begin(), index.end());
  if (i == 0)
    return idx;
  // A run within one row only moves along the last dim.
  if (!shape.empty() && shape.back() % width == 0) {
    idx.back() = arith::AddIOp::create(b, idx.back(), constIndex(i));
    return idx;
  }
  Value linear =
      arith::AddIOp::create(b, linearize(index, shape), constIndex(i));
  return delinearize(linear, shape);
}

FailureOr<SmallVector<Value>> ElementalEmitter::forLoop(
    Value lb, Value ub, Value step, ValueRange inits,
    function_ref<FailureOr<SmallVector<Value>>(Value, ValueRange)> body) {
  auto loop = scf::ForOp::create(b, lb, ub, step, inits);
  // The builder adds an implicit yield when there are no iter_args.
  if (!loop.getBody()->empty())
    loop.getBody()->getTerminator()->erase();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  FailureOr<SmallVector<Value>> next =
      body(loop.getInductionVar(), loop.getRegionIterArgs());
  if (failed(next))
    return failure();
  scf::YieldOp::create(b, *next);
  return SmallVector<Value>(loop.getResults());
}

FailureOr<SmallVector<Value>> ElementalEmitter::ifThenElse(
    Value cond, TypeRange types,
    function_ref<FailureOr<SmallVector<Value>>()> thenFn,
    function_ref<FailureOr<SmallVector<Value>>()> elseFn) {
  auto ifOp = scf::IfOp::create(b, types, cond, /*withElseRegion=*/true);
  for (Region *r : {&ifOp.getThenRegion(), &ifOp.getElseRegion()})
    if (!r->front().empty())
      r->front().getTerminator()->erase();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  FailureOr<SmallVector<Value>> thenValues = thenFn();
  if (failed(thenValues))
    return failure();
  scf::YieldOp::create(b, *thenValues);
  b.setInsertionPointToStart(&ifOp.getElseRegion().front());
  FailureOr<SmallVector<Value>> elseValues = elseFn();
  if (failed(elseValues))
    return failure();
  scf::YieldOp::create(b, *elseValues);
  return SmallVector<Value>(ifOp.getResults());
}

namespace {
/// Arithmetic on compute-typed scalars, float or integer.
struct Arith {
  ImplicitLocOpBuilder &b;
  bool isFloat(Value v) { return isa<FloatType>(v.getType()); }
  Value f(double v) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  }
  Value zero(Type t) {
    if (isa<FloatType>(t))
      return arith::ConstantOp::create(b, b.getFloatAttr(t, 0.0));
    return arith::ConstantOp::create(b, b.getIntegerAttr(t, 0));
  }
  Value one(Type t) {
    if (isa<FloatType>(t))
      return arith::ConstantOp::create(b, b.getFloatAttr(t, 1.0));
    return arith::ConstantOp::create(b, b.getIntegerAttr(t, 1));
  }
  Value add(Value x, Value y) {
    return isFloat(x) ? (Value)arith::AddFOp::create(b, x, y)
                      : (Value)arith::AddIOp::create(b, x, y);
  }
  Value sub(Value x, Value y) {
    return isFloat(x) ? (Value)arith::SubFOp::create(b, x, y)
                      : (Value)arith::SubIOp::create(b, x, y);
  }
  Value mul(Value x, Value y) {
    return isFloat(x) ? (Value)arith::MulFOp::create(b, x, y)
                      : (Value)arith::MulIOp::create(b, x, y);
  }
  Value div(Value x, Value y) {
    return isFloat(x) ? (Value)arith::DivFOp::create(b, x, y)
                      : (Value)arith::DivSIOp::create(b, x, y);
  }
  Value max(Value x, Value y) {
    return isFloat(x) ? (Value)arith::MaximumFOp::create(b, x, y)
                      : (Value)arith::MaxSIOp::create(b, x, y);
  }
  Value min(Value x, Value y) {
    return isFloat(x) ? (Value)arith::MinimumFOp::create(b, x, y)
                      : (Value)arith::MinSIOp::create(b, x, y);
  }
  Value neg(Value x) {
    return isFloat(x) ? (Value)arith::NegFOp::create(b, x)
                      : (Value)arith::SubIOp::create(b, zero(x.getType()), x);
  }
  Value exp(Value x) { return math::ExpOp::create(b, x); }
  Value sigmoid(Value x) {
    return arith::DivFOp::create(b, f(1.0), add(f(1.0), exp(neg(x))));
  }
  Value silu(Value x) { return mul(x, sigmoid(x)); }
  Value softplus(Value x) {
    // max(x, 0) + log1p(exp(-|x|)) cannot overflow.
    Value absX = math::AbsFOp::create(b, x);
    return add(arith::MaximumFOp::create(b, x, f(0.0)),
               math::Log1pOp::create(b, exp(neg(absX))));
  }
  Value lt(Value x, Value y) {
    return isFloat(x)
               ? (Value)arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, x,
                                              y)
               : (Value)arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x,
                                              y);
  }
  Value ltIdx(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::slt, x, y);
  }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, c, x, y);
  }
  Value idxAdd(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value idxSub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value idxMul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value toIndex(Value v) {
    return arith::IndexCastOp::create(b, b.getIndexType(), v);
  }
  Value fromIndex(Value v, Type t) {
    if (isa<FloatType>(t)) {
      Value i = arith::IndexCastOp::create(b, b.getI64Type(), v);
      return arith::SIToFPOp::create(b, t, i);
    }
    return arith::IndexCastOp::create(b, t, v);
  }
  /// `x` as a float in f32.
  Value toF32(Value x) {
    if (isFloat(x))
      return x;
    if (x.getType().isInteger(1))
      return arith::UIToFPOp::create(b, b.getF32Type(), x);
    return arith::SIToFPOp::create(b, b.getF32Type(), x);
  }
};
} // namespace

//===----------------------------------------------------------------------===//
// Emission
//===----------------------------------------------------------------------===//

/// True if `value` (defined in some block) may be used at the builder's
/// insertion point: its block encloses the insertion block.
static bool dominatesInsertion(Value value, OpBuilder &b) {
  Block *defBlock = value.getParentBlock();
  for (Block *blk = b.getInsertionBlock(); blk;) {
    if (blk == defBlock)
      return true;
    Operation *parent = blk->getParentOp();
    if (!parent)
      return false;
    blk = parent->getBlock();
  }
  return false;
}

FailureOr<Value> ElementalEmitter::emit(Value value, ValueRange index) {
  auto &entries = cache[value];
  for (const CacheEntry &entry : entries)
    if (llvm::equal(entry.index, index) && dominatesInsertion(entry.result, b))
      return entry.result;
  FailureOr<Value> result = emitUncached(value, index);
  if (failed(result))
    return failure();
  cache[value].push_back(
      {SmallVector<Value>(index.begin(), index.end()), *result});
  return result;
}

FailureOr<Value> ElementalEmitter::emitUncached(Value value, ValueRange index) {
  auto sourceIt = sources.find(value);
  if (sourceIt != sources.end())
    return sourceIt->second(b, index);
  auto bindingIt = bindings.find(value);
  if (bindingIt != bindings.end()) {
    Value loaded = memref::LoadOp::create(b, bindingIt->second, index);
    return convertToCompute(b, loaded);
  }
  Operation *op = value.getDefiningOp();
  if (!op)
    return emitError(value.getLoc())
           << "no memory bound to a kernel argument during codegen";
  return emitOp(op, cast<OpResult>(value).getResultNumber(), index);
}

//===----------------------------------------------------------------------===//
// Runs
//===----------------------------------------------------------------------===//

FailureOr<SmallVector<Value>>
ElementalEmitter::emitRun(Value value, ValueRange index, unsigned width) {
  if (width == 1) {
    FailureOr<Value> v = emit(value, index);
    if (failed(v))
      return failure();
    return SmallVector<Value>{*v};
  }
  for (const RunCacheEntry &entry : runCache[value])
    if (entry.width == width && llvm::equal(entry.index, index) &&
        llvm::all_of(entry.result,
                     [&](Value v) { return dominatesInsertion(v, b); }))
      return entry.result;
  FailureOr<SmallVector<Value>> result = emitRunUncached(value, index, width);
  if (failed(result))
    return failure();
  runCache[value].push_back(
      {SmallVector<Value>(index.begin(), index.end()), width, *result});
  return result;
}

FailureOr<SmallVector<Value>>
ElementalEmitter::emitRunByElement(Value value, ValueRange index,
                                   unsigned width) {
  SmallVector<Value> result;
  for (unsigned i = 0; i < width; ++i) {
    FailureOr<Value> v = emit(value, runElementIndex(index, value, width, i));
    if (failed(v))
      return failure();
    result.push_back(*v);
  }
  return result;
}

FailureOr<SmallVector<Value>>
ElementalEmitter::emitRunUncached(Value value, ValueRange index,
                                  unsigned width) {
  ArrayRef<int64_t> shape = shapeOf(value);
  // Whether the run stays within one row (then it moves along the last dim
  // only, from a multiple of `width`).
  bool inRow = !shape.empty() && !ShapedType::isDynamic(shape.back()) &&
               shape.back() % width == 0;
  if (auto it = runSources.find(value); it != runSources.end() && inRow)
    return it->second(b, index, width);
  if (sources.count(value))
    return emitRunByElement(value, index, width);

  // A kernel argument: one aligned vector load from the flattened buffer.
  if (auto it = bindings.find(value); it != bindings.end()) {
    Value mem = it->second;
    auto type = cast<MemRefType>(mem.getType());
    Type et = type.getElementType();
    if (bufferAlignment == 0 || !et.isIntOrFloat() ||
        et.getIntOrFloatBitWidth() < 8 ||
        !llvm::isPowerOf2_64(et.getIntOrFloatBitWidth()))
      return emitRunByElement(value, index, width);
    Value flat = mem, linear;
    if (type.getRank() == 1) {
      linear = index[0];
    } else {
      ReassociationIndices all;
      for (int64_t d = 0; d < type.getRank(); ++d)
        all.push_back(d);
      flat = memref::CollapseShapeOp::create(
          b, mem, ArrayRef<ReassociationIndices>{all});
      linear = linearize(index, getExtents(value));
    }
    int64_t align = std::min<int64_t>(width * elementBytes(et),
                                      static_cast<int64_t>(bufferAlignment));
    Value vec = vector::LoadOp::create(
        b, VectorType::get({width}, et), flat, ValueRange{linear},
        /*nontemporal=*/false, llvm::MaybeAlign(align));
    SmallVector<Value> result;
    for (unsigned i = 0; i < width; ++i)
      result.push_back(convertToCompute(
          b, vector::ExtractOp::create(b, vec, static_cast<int64_t>(i))));
    return result;
  }

  Operation *op = value.getDefiningOp();
  if (!op)
    return emitError(value.getLoc())
           << "no memory bound to a kernel argument during codegen";
  Location savedLoc = b.getLoc();
  b.setLoc(op->getLoc());
  llvm::scope_exit restore([&] { b.setLoc(savedLoc); });

  // The run of `operand` feeding this run, broadcast as NumPy does.
  auto operandRun = [&](Value operand) -> FailureOr<SmallVector<Value>> {
    ArrayRef<int64_t> os = shapeOf(operand);
    if (os == shape)
      return emitRun(operand, index, width);
    if (inRow && !os.empty() && os.back() == shape.back())
      return emitRun(operand, broadcastIndex(index, os), width);
    if (inRow && (os.empty() || os.back() == 1)) {
      FailureOr<Value> x = emit(operand, broadcastIndex(index, os));
      if (failed(x))
        return failure();
      return SmallVector<Value>(width, *x);
    }
    SmallVector<Value> run;
    for (unsigned i = 0; i < width; ++i) {
      FailureOr<Value> x = emit(
          operand, broadcastIndex(runElementIndex(index, value, width, i), os));
      if (failed(x))
        return failure();
      run.push_back(*x);
    }
    return run;
  };

  auto cst = dyn_cast<ConstantOp>(op);
  if (isPointwiseElementalOp(op) ||
      (cst && isa<DenseElementsAttr>(cst.getValue()) &&
       cast<DenseElementsAttr>(cst.getValue()).isSplat())) {
    SmallVector<SmallVector<Value>> runs;
    for (Value operand : op->getOperands()) {
      FailureOr<SmallVector<Value>> run = operandRun(operand);
      if (failed(run))
        return failure();
      runs.push_back(std::move(*run));
    }
    SmallVector<Value> result;
    for (unsigned i = 0; i < width; ++i) {
      SmallVector<Value> args;
      for (const SmallVector<Value> &run : runs)
        args.push_back(run[i]);
      FailureOr<Value> v = applyPointwise(op, args);
      if (failed(v))
        return failure();
      result.push_back(*v);
    }
    return result;
  }
  if (isa<BroadcastOp>(op))
    return operandRun(op->getOperand(0));
  // Reshapes keep the row-major order: the run continues in the input.
  if (auto r = dyn_cast<ReshapeOp>(op)) {
    return emitRun(r.getInput(),
                   delinearize(linearize(index, getExtents(value)),
                               getExtents(r.getInput())),
                   width);
  }
  // A unit-stride slice of the last dim starting at a multiple of `width`.
  if (auto s = dyn_cast<SliceOp>(op)) {
    ArrayRef<int64_t> inShape = shapeOf(s.getInput());
    auto strides = s.getStrides();
    ArrayRef<int64_t> starts = s.getStarts();
    bool unitLast = !strides || strides->back() == 1;
    if (inRow && unitLast && starts.back() % width == 0 &&
        !ShapedType::isDynamic(inShape.back()) && inShape.back() % width == 0) {
      SmallVector<Value> in;
      for (auto [i, start] : llvm::enumerate(starts)) {
        int64_t stride = strides ? (*strides)[i] : 1;
        Value v = index[i];
        if (stride != 1)
          v = arith::MulIOp::create(b, v, constIndex(stride));
        if (start != 0)
          v = arith::AddIOp::create(b, v, constIndex(start));
        in.push_back(v);
      }
      return emitRun(s.getInput(), in, width);
    }
  }
  return emitRunByElement(value, index, width);
}

FailureOr<Value> ElementalEmitter::applyPointwise(Operation *op,
                                                  ArrayRef<Value> args) {
  Arith a{b};
  Location savedLoc = b.getLoc();
  b.setLoc(op->getLoc());
  llvm::scope_exit restore([&] { b.setLoc(savedLoc); });
  auto binary = [&](auto fn) -> FailureOr<Value> {
    return fn(args[0], args[1]);
  };
  auto unary = [&](auto fn) -> FailureOr<Value> { return fn(args[0]); };

  return llvm::TypeSwitch<Operation *, FailureOr<Value>>(op)
      .Case<AddOp>([&](auto) {
        return binary([&](Value x, Value y) { return a.add(x, y); });
      })
      .Case<SubOp>([&](auto) {
        return binary([&](Value x, Value y) { return a.sub(x, y); });
      })
      .Case<MulOp>([&](auto) {
        return binary([&](Value x, Value y) { return a.mul(x, y); });
      })
      .Case<DivOp>([&](auto) {
        return binary([&](Value x, Value y) { return a.div(x, y); });
      })
      .Case<MaxOp>([&](auto) {
        return binary([&](Value x, Value y) { return a.max(x, y); });
      })
      .Case<MinOp>([&](auto) {
        return binary([&](Value x, Value y) { return a.min(x, y); });
      })
      .Case<PowOp>([&](auto) {
        return binary([&](Value x, Value y) -> Value {
          return math::PowFOp::create(b, x, y);
        });
      })
      .Case<CompareOp>([&](CompareOp cmp) {
        return binary([&](Value x, Value y) -> Value {
          if (a.isFloat(x)) {
            arith::CmpFPredicate p;
            switch (cmp.getPredicate()) {
            case ComparePredicate::eq:
              p = arith::CmpFPredicate::OEQ;
              break;
            case ComparePredicate::ne:
              p = arith::CmpFPredicate::UNE;
              break;
            case ComparePredicate::lt:
              p = arith::CmpFPredicate::OLT;
              break;
            case ComparePredicate::le:
              p = arith::CmpFPredicate::OLE;
              break;
            case ComparePredicate::gt:
              p = arith::CmpFPredicate::OGT;
              break;
            case ComparePredicate::ge:
              p = arith::CmpFPredicate::OGE;
              break;
            }
            return arith::CmpFOp::create(b, p, x, y);
          }
          arith::CmpIPredicate p;
          bool isBool = x.getType().isInteger(1);
          switch (cmp.getPredicate()) {
          case ComparePredicate::eq:
            p = arith::CmpIPredicate::eq;
            break;
          case ComparePredicate::ne:
            p = arith::CmpIPredicate::ne;
            break;
          case ComparePredicate::lt:
            p = isBool ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt;
            break;
          case ComparePredicate::le:
            p = isBool ? arith::CmpIPredicate::ule : arith::CmpIPredicate::sle;
            break;
          case ComparePredicate::gt:
            p = isBool ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt;
            break;
          case ComparePredicate::ge:
            p = isBool ? arith::CmpIPredicate::uge : arith::CmpIPredicate::sge;
            break;
          }
          return arith::CmpIOp::create(b, p, x, y);
        });
      })
      .Case<SelectOp>([&](auto) -> FailureOr<Value> {
        return a.select(args[0], args[1], args[2]);
      })
      .Case<ExpOp>(
          [&](auto) { return unary([&](Value x) { return a.exp(x); }); })
      .Case<LogOp>([&](auto) {
        return unary(
            [&](Value x) -> Value { return math::LogOp::create(b, x); });
      })
      .Case<TanhOp>([&](auto) {
        return unary(
            [&](Value x) -> Value { return math::TanhOp::create(b, x); });
      })
      .Case<ErfOp>([&](auto) {
        return unary(
            [&](Value x) -> Value { return math::ErfOp::create(b, x); });
      })
      .Case<SinOp>([&](auto) {
        return unary(
            [&](Value x) -> Value { return math::SinOp::create(b, x); });
      })
      .Case<CosOp>([&](auto) {
        return unary(
            [&](Value x) -> Value { return math::CosOp::create(b, x); });
      })
      .Case<SqrtOp>([&](auto) {
        return unary(
            [&](Value x) -> Value { return math::SqrtOp::create(b, x); });
      })
      .Case<RsqrtOp>([&](auto) {
        return unary(
            [&](Value x) -> Value { return math::RsqrtOp::create(b, x); });
      })
      .Case<SigmoidOp>(
          [&](auto) { return unary([&](Value x) { return a.sigmoid(x); }); })
      .Case<SiluOp>(
          [&](auto) { return unary([&](Value x) { return a.silu(x); }); })
      .Case<SoftplusOp>(
          [&](auto) { return unary([&](Value x) { return a.softplus(x); }); })
      .Case<ReluOp>([&](auto) {
        return unary([&](Value x) { return a.max(x, a.zero(x.getType())); });
      })
      .Case<NegOp>(
          [&](auto) { return unary([&](Value x) { return a.neg(x); }); })
      .Case<AbsOp>([&](auto) {
        return unary([&](Value x) -> Value {
          return a.isFloat(x) ? (Value)math::AbsFOp::create(b, x)
                              : (Value)math::AbsIOp::create(b, x);
        });
      })
      .Case<ReciprocalOp>([&](auto) {
        return unary([&](Value x) { return a.div(a.f(1.0), x); });
      })
      .Case<GeluOp>([&](GeluOp gelu) {
        return unary([&](Value x) -> Value {
          Value half = a.mul(a.f(0.5), x);
          if (gelu.getApproximate() == GeluApproximation::none) {
            Value e = math::ErfOp::create(b, a.mul(x, a.f(M_SQRT1_2)));
            return a.mul(half, a.add(a.f(1.0), e));
          }
          Value x3 = a.mul(a.mul(x, x), x);
          Value inner = a.mul(a.f(std::sqrt(2.0 / M_PI)),
                              a.add(x, a.mul(a.f(0.044715), x3)));
          return a.mul(half, a.add(a.f(1.0), math::TanhOp::create(b, inner)));
        });
      })
      .Case<CastOp>([&](CastOp castOp) {
        return unary([&](Value x) -> Value {
          Type dst = elementTypeOf(castOp.getResult());
          Type dstCompute = getComputeType(dst);
          // The operand is a value of its element type: one computed in f32
          // from f16/bf16 operands is rounded to that type first, so that a
          // cast sees what the unfused graph would have stored.
          Type src = elementTypeOf(castOp.getInput());
          if (isa<FloatType>(src) && !src.isF32() && src != dst)
            x = arith::ExtFOp::create(
                b, b.getF32Type(),
                arith::TruncFOp::create(b, src, x).getResult());
          if (dst.isInteger(1)) {
            if (a.isFloat(x))
              return arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, x,
                                           a.zero(x.getType()));
            return arith::CmpIOp::create(b, arith::CmpIPredicate::ne, x,
                                         a.zero(x.getType()));
          }
          if (isa<FloatType>(dst)) {
            Value f = a.toF32(x);
            // Round to the destination precision, keep computing in f32.
            if (!dst.isF32())
              f = arith::ExtFOp::create(
                  b, b.getF32Type(),
                  arith::TruncFOp::create(b, dst, f).getResult());
            return f;
          }
          // Integer destination.
          if (a.isFloat(x))
            return arith::FPToSIOp::create(b, dstCompute, x);
          unsigned srcWidth = x.getType().getIntOrFloatBitWidth();
          unsigned dstWidth = dst.getIntOrFloatBitWidth();
          if (srcWidth == dstWidth)
            return x;
          if (srcWidth == 1)
            return arith::ExtUIOp::create(b, dst, x);
          if (srcWidth < dstWidth)
            return arith::ExtSIOp::create(b, dst, x);
          return arith::TruncIOp::create(b, dst, x);
        });
      })
      .Case<ConstantOp>([&](ConstantOp cst) -> FailureOr<Value> {
        auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
        if (!dense || !dense.isSplat())
          return cst.emitOpError(
              "non-splat constant inside a kernel reached the element "
              "emitter; codegen hoists these into kernel arguments");
        Type et = elementTypeOf(cst.getResult());
        if (isa<FloatType>(et))
          return (Value)arith::ConstantOp::create(
              b, b.getF32FloatAttr(
                     dense.getSplatValue<APFloat>().convertToDouble()));
        return (Value)arith::ConstantOp::create(
            b, b.getIntegerAttr(et, dense.getSplatValue<APInt>()));
      })
      .Default([&](Operation *other) -> FailureOr<Value> {
        return other->emitOpError("is not a pointwise op");
      });
}

FailureOr<Value> ElementalEmitter::emitOp(Operation *op, unsigned resultNumber,
                                          ValueRange index) {
  Value result = op->getNumResults() ? op->getResult(resultNumber) : Value();
  ArrayRef<int64_t> shape = result ? shapeOf(result) : ArrayRef<int64_t>();
  if (isPointwiseElementalOp(op) || isa<ConstantOp>(op)) {
    SmallVector<Value> args;
    for (Value v : op->getOperands()) {
      FailureOr<Value> x = emit(v, operandIndex(index, shapeOf(v), shape));
      if (failed(x))
        return failure();
      args.push_back(*x);
    }
    return applyPointwise(op, args);
  }
  Arith a{b};
  Location savedLoc = b.getLoc();
  b.setLoc(op->getLoc());
  llvm::scope_exit restore([&] { b.setLoc(savedLoc); });
  auto operand = [&](Value v, ValueRange idx) { return emit(v, idx); };
  Type computeType =
      result ? getComputeType(elementTypeOf(result)) : b.getF32Type();

  return llvm::TypeSwitch<Operation *, FailureOr<Value>>(op)
      .Case<ReshapeOp>([&](ReshapeOp r) {
        Value linear = linearize(index, getExtents(result));
        return operand(r.getInput(),
                       delinearize(linear, getExtents(r.getInput())));
      })
      .Case<TransposeOp>([&](TransposeOp t) {
        SmallVector<Value> in(index.size());
        for (auto [i, p] : llvm::enumerate(t.getPermutation()))
          in[p] = index[i];
        return operand(t.getInput(), in);
      })
      .Case<SliceOp>([&](SliceOp s) {
        SmallVector<Value> in;
        auto strides = s.getStrides();
        for (auto [i, start] : llvm::enumerate(s.getStarts())) {
          int64_t stride = strides ? (*strides)[i] : 1;
          Value v = index[i];
          if (stride != 1)
            v = a.idxMul(v, constIndex(stride));
          if (start != 0)
            v = a.idxAdd(v, constIndex(start));
          in.push_back(v);
        }
        return operand(s.getInput(), in);
      })
      .Case<IotaOp>([&](IotaOp) -> FailureOr<Value> {
        // The position itself; the source's elements are never read.
        return (Value)arith::IndexCastOp::create(b, b.getI64Type(), index[0]);
      })
      .Case<BroadcastOp>([&](BroadcastOp bc) {
        return operand(bc.getInput(),
                       broadcastIndex(index, shapeOf(bc.getInput())));
      })
      .Case<ConcatOp>([&](ConcatOp c) -> FailureOr<Value> {
        int64_t axis = normAxis(static_cast<int64_t>(c.getAxis()),
                                static_cast<int64_t>(shape.size()));
        // Chain of ifs: the first input whose range holds index[axis].
        std::function<FailureOr<Value>(unsigned, Value)> pick =
            [&](unsigned i, Value start) -> FailureOr<Value> {
          Value in = c.getInputs()[i];
          SmallVector<Value> idx(index.begin(), index.end());
          idx[axis] = a.idxSub(index[axis], start);
          if (i + 1 == c.getInputs().size())
            return operand(in, idx);
          Value end = a.idxAdd(start, getExtents(in)[axis]);
          Value inRange = a.ltIdx(index[axis], end);
          FailureOr<SmallVector<Value>> r = ifThenElse(
              inRange, computeType,
              [&]() -> FailureOr<SmallVector<Value>> {
                FailureOr<Value> v = operand(in, idx);
                if (failed(v))
                  return failure();
                return SmallVector<Value>{*v};
              },
              [&]() -> FailureOr<SmallVector<Value>> {
                FailureOr<Value> v = pick(i + 1, end);
                if (failed(v))
                  return failure();
                return SmallVector<Value>{*v};
              });
          if (failed(r))
            return failure();
          return (*r)[0];
        };
        return pick(0, constIndex(0));
      })
      .Case<GatherOp>([&](GatherOp g) -> FailureOr<Value> {
        int64_t dataRank = shapeOf(g.getData()).size();
        int64_t axis = normAxis(static_cast<int64_t>(g.getAxis()), dataRank);
        int64_t idxRank = shapeOf(g.getIndices()).size();
        SmallVector<Value> idxIndex(index.begin() + axis,
                                    index.begin() + axis + idxRank);
        FailureOr<Value> row = operand(g.getIndices(), idxIndex);
        if (failed(row))
          return failure();
        Value dim = getExtents(g.getData())[axis];
        Value r = a.toIndex(*row);
        // Negative indices count from the end; out-of-range ones clamp.
        Value isNeg = a.ltIdx(r, constIndex(0));
        r = a.select(isNeg, a.idxAdd(r, dim), r);
        r = arith::MaxSIOp::create(b, r, constIndex(0));
        r = arith::MinSIOp::create(b, r, a.idxSub(dim, constIndex(1)));
        SmallVector<Value> dataIndex(index.begin(), index.begin() + axis);
        dataIndex.push_back(r);
        dataIndex.append(index.begin() + axis + idxRank, index.end());
        return operand(g.getData(), dataIndex);
      })
      .Case<RotaryOp>([&](RotaryOp r) -> FailureOr<Value> {
        int64_t rank = shape.size();
        int64_t d = shape[rank - 1];
        int64_t rot = shapeOf(r.getCos()).back();
        Value j = index[rank - 1];
        FailureOr<Value> x = operand(r.getInput(), index);
        if (failed(x))
          return failure();
        // Clamp so every load stays in bounds; the select picks x beyond R.
        Value jc = arith::MinSIOp::create(b, j, constIndex(rot - 1));
        Value partner, sign;
        if (r.getInterleaved()) {
          Value parity = arith::RemUIOp::create(b, jc, constIndex(2));
          Value isEven = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                               parity, constIndex(0));
          partner = a.select(isEven, a.idxAdd(jc, constIndex(1)),
                             a.idxSub(jc, constIndex(1)));
          sign = a.select(isEven, a.f(-1.0), a.f(1.0));
        } else {
          Value firstHalf = a.ltIdx(jc, constIndex(rot / 2));
          partner = a.select(firstHalf, a.idxAdd(jc, constIndex(rot / 2)),
                             a.idxSub(jc, constIndex(rot / 2)));
          sign = a.select(firstHalf, a.f(-1.0), a.f(1.0));
        }
        SmallVector<Value> pIndex(index.begin(), index.end());
        pIndex[rank - 1] = partner;
        FailureOr<Value> xp = operand(r.getInput(), pIndex);
        if (failed(xp))
          return failure();
        SmallVector<Value> csIndex(index.begin(), index.end());
        csIndex[rank - 1] = jc;
        FailureOr<Value> c =
            operand(r.getCos(), broadcastIndex(csIndex, shapeOf(r.getCos())));
        if (failed(c))
          return failure();
        FailureOr<Value> s =
            operand(r.getSin(), broadcastIndex(csIndex, shapeOf(r.getSin())));
        if (failed(s))
          return failure();
        Value rotated = a.add(a.mul(*x, *c), a.mul(a.mul(sign, *xp), *s));
        if (rot == d)
          return rotated;
        return a.select(a.ltIdx(j, constIndex(rot)), rotated, *x);
      })
      .Case<Conv1dOp>([&](Conv1dOp c) -> FailureOr<Value> {
        int64_t k = shapeOf(c.getWeight())[1];
        Value t = index[2];
        FailureOr<SmallVector<Value>> acc = forLoop(
            constIndex(0), constIndex(k), constIndex(1), {a.f(0.0)},
            [&](Value kk, ValueRange iters) -> FailureOr<SmallVector<Value>> {
              Value src = a.idxAdd(a.idxSub(t, constIndex(k - 1)), kk);
              Value valid = arith::CmpIOp::create(b, arith::CmpIPredicate::sge,
                                                  src, constIndex(0));
              Value srcC = arith::MaxSIOp::create(b, src, constIndex(0));
              FailureOr<Value> x =
                  operand(c.getInput(), {index[0], index[1], srcC});
              FailureOr<Value> w = operand(c.getWeight(), {index[1], kk});
              if (failed(x) || failed(w))
                return failure();
              Value term = a.select(valid, a.mul(*x, *w), a.f(0.0));
              return SmallVector<Value>{a.add(iters[0], term)};
            });
        if (failed(acc))
          return failure();
        Value y = (*acc)[0];
        if (c.getBias()) {
          FailureOr<Value> bias = operand(c.getBias(), {index[1]});
          if (failed(bias))
            return failure();
          y = a.add(y, *bias);
        }
        if (c.getActivation() == Activation::silu)
          y = a.silu(y);
        return y;
      })
      .Default([&](Operation *other) -> FailureOr<Value> {
        return emitHeavy(other, resultNumber, index);
      });
}
