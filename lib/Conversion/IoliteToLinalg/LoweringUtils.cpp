//===- LoweringUtils.cpp - Helpers of the reference lowering --------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::lowering;

//===----------------------------------------------------------------------===//
// Scalars
//===----------------------------------------------------------------------===//

Type lowering::getComputeType(Type elementType) {
  if (isa<FloatType>(elementType))
    return Float32Type::get(elementType.getContext());
  return elementType;
}

Value lowering::constant(OpBuilder &b, Location loc, Type type, double value) {
  if (isa<FloatType>(type))
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, value));
  if (type.isIndex())
    return arith::ConstantIndexOp::create(b, loc, static_cast<int64_t>(value));
  return arith::ConstantOp::create(
      b, loc, b.getIntegerAttr(type, static_cast<int64_t>(value)));
}

Value lowering::constantF32(OpBuilder &b, Location loc, double value) {
  return constant(b, loc, b.getF32Type(), value);
}

Value lowering::constantIndex(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value lowering::constantI64(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(value));
}

Value lowering::infF32(OpBuilder &b, Location loc, bool negative) {
  return arith::ConstantOp::create(
      b, loc,
      b.getF32FloatAttr(
          APFloat::getInf(APFloat::IEEEsingle(), negative).convertToFloat()));
}

Value lowering::toCompute(OpBuilder &b, Location loc, Value v) {
  Type t = v.getType();
  if (isa<FloatType>(t) && !t.isF32())
    return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
  return v;
}

Value lowering::fromCompute(OpBuilder &b, Location loc, Value v,
                            Type elementType) {
  if (v.getType() == elementType)
    return v;
  assert(isa<FloatType>(elementType) && v.getType().isF32() &&
         "only floats round from their compute type");
  return arith::TruncFOp::create(b, loc, elementType, v);
}

Value lowering::convertScalar(OpBuilder &b, Location loc, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  if (to.isInteger(1)) {
    if (isa<FloatType>(from))
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE,
                                   toCompute(b, loc, v),
                                   constantF32(b, loc, 0));
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, v,
                                 constant(b, loc, from, 0));
  }
  if (from.isInteger(1)) {
    if (isa<FloatType>(to))
      return fromCompute(
          b, loc, arith::UIToFPOp::create(b, loc, b.getF32Type(), v), to);
    return arith::ExtUIOp::create(b, loc, to, v);
  }
  bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(to);
  if (fromFloat && toFloat)
    return fromCompute(b, loc, toCompute(b, loc, v), to);
  if (fromFloat)
    return arith::FPToSIOp::create(b, loc, to, toCompute(b, loc, v));
  if (toFloat)
    return fromCompute(b, loc,
                       arith::SIToFPOp::create(b, loc, b.getF32Type(), v), to);
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtSIOp::create(b, loc, to, v);
  return arith::TruncIOp::create(b, loc, to, v);
}

Value lowering::loopIndex(OpBuilder &b, Location loc, int64_t dim) {
  return linalg::IndexOp::create(b, loc, dim);
}

Value lowering::loopIndexI64(OpBuilder &b, Location loc, int64_t dim) {
  return toI64(b, loc, loopIndex(b, loc, dim));
}

Value lowering::toIndex(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isIndex())
    return v;
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

Value lowering::toI64(OpBuilder &b, Location loc, Value v) {
  Type t = v.getType();
  if (t.isInteger(64))
    return v;
  if (t.isIndex())
    return arith::IndexCastOp::create(b, loc, b.getI64Type(), v);
  return arith::ExtSIOp::create(b, loc, b.getI64Type(), v);
}

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

ArrayRef<int64_t> lowering::shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

Type lowering::elementTypeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

SmallVector<utils::IteratorType> lowering::parallelIterators(int64_t n) {
  return SmallVector<utils::IteratorType>(n, utils::IteratorType::parallel);
}

Value lowering::emptyTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                            Type elementType) {
  return tensor::EmptyOp::create(b, loc, shape, elementType);
}

Value lowering::filledTensor(OpBuilder &b, Location loc,
                             ArrayRef<int64_t> shape, Value scalar) {
  Value empty = emptyTensor(b, loc, shape, scalar.getType());
  return linalg::FillOp::create(b, loc, ValueRange{scalar}, ValueRange{empty})
      .getResult(0);
}

AffineMap lowering::getBroadcastMap(MLIRContext *ctx,
                                    ArrayRef<int64_t> operandShape,
                                    ArrayRef<int64_t> iterShape) {
  int64_t rank = iterShape.size();
  int64_t off = rank - static_cast<int64_t>(operandShape.size());
  assert(off >= 0 && "operand has a higher rank than the iteration space");
  SmallVector<AffineExpr> exprs;
  for (auto [i, d] : llvm::enumerate(operandShape)) {
    if (d == 1 && iterShape[off + i] != 1)
      exprs.push_back(getAffineConstantExpr(0, ctx));
    else
      exprs.push_back(getAffineDimExpr(off + i, ctx));
  }
  return AffineMap::get(rank, 0, exprs, ctx);
}

AffineMap lowering::getProjectionMap(MLIRContext *ctx, int64_t rank,
                                     ArrayRef<int64_t> dropped) {
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < rank; ++i)
    if (!llvm::is_contained(dropped, i))
      exprs.push_back(getAffineDimExpr(i, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

AffineMap lowering::getSelectMap(MLIRContext *ctx, int64_t rank,
                                 ArrayRef<int64_t> dims) {
  SmallVector<AffineExpr> exprs;
  for (int64_t d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

SmallVector<Value>
lowering::buildGeneric(OpBuilder &b, Location loc, ValueRange inputs,
                       ValueRange inits, ArrayRef<AffineMap> maps,
                       ArrayRef<utils::IteratorType> iterators, BodyFn body) {
  auto op = linalg::GenericOp::create(
      b, loc, inits.getTypes(), inputs, inits, maps, iterators,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        SmallVector<Value> results = body(nb, nl, args);
        linalg::YieldOp::create(nb, nl, results);
      });
  return SmallVector<Value>(op.getResults());
}

Value lowering::buildGeneric(OpBuilder &b, Location loc, ValueRange inputs,
                             Value init, ArrayRef<AffineMap> maps,
                             ArrayRef<utils::IteratorType> iterators,
                             ScalarFn body) {
  return buildGeneric(b, loc, inputs, ValueRange{init}, maps, iterators,
                      [&](OpBuilder &nb, Location nl, ValueRange args) {
                        return SmallVector<Value>{body(nb, nl, args)};
                      })
      .front();
}

Value lowering::buildElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                                 ArrayRef<int64_t> shape,
                                 Type resultElementType, ScalarFn body) {
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps;
  for (Value in : inputs)
    maps.push_back(getBroadcastMap(ctx, shapeOf(in), shape));
  maps.push_back(AffineMap::getMultiDimIdentityMap(shape.size(), ctx));
  Value init = emptyTensor(b, loc, shape, resultElementType);
  size_t numInputs = inputs.size();
  return buildGeneric(b, loc, inputs, init, maps,
                      parallelIterators(shape.size()),
                      [&](OpBuilder &nb, Location nl, ValueRange args) {
                        return body(nb, nl, args.take_front(numInputs));
                      });
}

Value lowering::roundTensor(OpBuilder &b, Location loc, Value t,
                            Type elementType) {
  if (elementTypeOf(t) == elementType)
    return t;
  return buildElementwise(b, loc, t, shapeOf(t), elementType,
                          [&](OpBuilder &nb, Location nl, ValueRange a) {
                            return fromCompute(nb, nl, a[0], elementType);
                          });
}

static ReassociationIndices iota(int64_t n) {
  ReassociationIndices r;
  for (int64_t i = 0; i < n; ++i)
    r.push_back(i);
  return r;
}

Value lowering::reshapeTo(OpBuilder &b, Location loc, Value v,
                          ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getShape() == shape)
    return v;
  Type et = type.getElementType();
  auto flatType = RankedTensorType::get({type.getNumElements()}, et);
  Value flat = v;
  if (type.getRank() == 0)
    flat = tensor::ExpandShapeOp::create(b, loc, flatType, v,
                                         ArrayRef<ReassociationIndices>{});
  else if (type.getRank() > 1)
    flat = tensor::CollapseShapeOp::create(
        b, loc, flatType, v,
        ArrayRef<ReassociationIndices>{iota(type.getRank())});
  auto resultType = RankedTensorType::get(shape, et);
  if (shape.size() == 1)
    return flat;
  if (shape.empty())
    return tensor::CollapseShapeOp::create(b, loc, resultType, flat,
                                           ArrayRef<ReassociationIndices>{});
  return tensor::ExpandShapeOp::create(
      b, loc, resultType, flat,
      ArrayRef<ReassociationIndices>{iota(shape.size())});
}

Value lowering::splitDim(OpBuilder &b, Location loc, Value v, int64_t dim,
                         int64_t outer, int64_t inner) {
  ArrayRef<int64_t> shape = shapeOf(v);
  SmallVector<int64_t> newShape;
  SmallVector<ReassociationIndices> groups;
  for (int64_t i = 0, e = shape.size(); i < e; ++i) {
    if (i == dim) {
      groups.push_back({static_cast<int64_t>(newShape.size()),
                        static_cast<int64_t>(newShape.size()) + 1});
      newShape.push_back(outer);
      newShape.push_back(inner);
      continue;
    }
    groups.push_back({static_cast<int64_t>(newShape.size())});
    newShape.push_back(shape[i]);
  }
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(newShape, elementTypeOf(v)), v, groups);
}

Value lowering::mergeDims(OpBuilder &b, Location loc, Value v, int64_t dim) {
  ArrayRef<int64_t> shape = shapeOf(v);
  SmallVector<int64_t> newShape;
  SmallVector<ReassociationIndices> groups;
  for (int64_t i = 0, e = shape.size(); i < e; ++i) {
    if (i == dim) {
      groups.push_back({i, i + 1});
      newShape.push_back(shape[i] * shape[i + 1]);
      ++i;
      continue;
    }
    groups.push_back({i});
    newShape.push_back(shape[i]);
  }
  return tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get(newShape, elementTypeOf(v)), v, groups);
}

/// Offsets, sizes and strides of the slice at `pos` along `axis`.
static void sliceParams(OpBuilder &b, ArrayRef<int64_t> shape, int64_t axis,
                        Value pos, SmallVectorImpl<OpFoldResult> &offsets,
                        SmallVectorImpl<OpFoldResult> &sizes,
                        SmallVectorImpl<OpFoldResult> &strides) {
  for (int64_t i = 0, e = shape.size(); i < e; ++i) {
    offsets.push_back(i == axis ? OpFoldResult(pos) : b.getIndexAttr(0));
    sizes.push_back(b.getIndexAttr(i == axis ? 1 : shape[i]));
    strides.push_back(b.getIndexAttr(1));
  }
}

/// The reassociation that drops the unit dim `axis` of a rank-`rank` shape
/// by merging it into a neighbour. A rank-reducing extract_slice would leave
/// which unit dim was dropped to inference, which picks another one when the
/// shape has several (a sequence of length 1 next to a batch of 1).
static SmallVector<ReassociationIndices> dropAxis(int64_t rank, int64_t axis) {
  SmallVector<ReassociationIndices> groups;
  for (int64_t d = 0; d < rank; ++d)
    if (d != axis)
      groups.push_back({d});
  if (groups.empty())
    return groups;
  if (axis == 0)
    groups.front().insert(groups.front().begin(), 0);
  else
    groups[axis - 1].push_back(axis);
  return groups;
}

Value lowering::sliceAlong(OpBuilder &b, Location loc, Value v, int64_t axis,
                           Value pos) {
  ArrayRef<int64_t> shape = shapeOf(v);
  SmallVector<OpFoldResult> offsets, sizes, strides;
  sliceParams(b, shape, axis, pos, offsets, sizes, strides);
  SmallVector<int64_t> unitShape(shape), sliceShape(shape);
  unitShape[axis] = 1;
  sliceShape.erase(sliceShape.begin() + axis);
  Type et = elementTypeOf(v);
  Value unit = tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(unitShape, et), v, offsets, sizes, strides);
  return tensor::CollapseShapeOp::create(b, loc,
                                         RankedTensorType::get(sliceShape, et),
                                         unit, dropAxis(shape.size(), axis));
}

Value lowering::insertAlong(OpBuilder &b, Location loc, Value slice, Value dest,
                            int64_t axis, Value pos) {
  ArrayRef<int64_t> shape = shapeOf(dest);
  SmallVector<OpFoldResult> offsets, sizes, strides;
  sliceParams(b, shape, axis, pos, offsets, sizes, strides);
  SmallVector<int64_t> unitShape(shape);
  unitShape[axis] = 1;
  Value unit = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(unitShape, elementTypeOf(slice)), slice,
      dropAxis(shape.size(), axis));
  return tensor::InsertSliceOp::create(b, loc, unit, dest, offsets, sizes,
                                       strides);
}

//===----------------------------------------------------------------------===//
// Shared computations
//===----------------------------------------------------------------------===//

/// Iterators with `axis` a reduction.
static SmallVector<utils::IteratorType> reduceAlong(int64_t rank,
                                                    int64_t axis) {
  SmallVector<utils::IteratorType> iters = parallelIterators(rank);
  iters[axis] = utils::IteratorType::reduction;
  return iters;
}

Value lowering::softmaxF32(OpBuilder &b, Location loc, Value x, int64_t axis) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> shape = shapeOf(x);
  int64_t rank = shape.size();
  SmallVector<int64_t> rowShape(shape);
  rowShape.erase(rowShape.begin() + axis);
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap row = getProjectionMap(ctx, rank, axis);
  SmallVector<utils::IteratorType> iters = reduceAlong(rank, axis);

  Value max = buildGeneric(
      b, loc, x, filledTensor(b, loc, rowShape, infF32(b, loc, true)),
      {id, row}, iters, [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        return arith::MaximumFOp::create(nb, nl, toCompute(nb, nl, a[0]), a[1]);
      });
  Value sum = buildGeneric(
      b, loc, ValueRange{x, max},
      filledTensor(b, loc, rowShape, constantF32(b, loc, 0)), {id, row, row},
      iters, [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        Value d = arith::SubFOp::create(nb, nl, toCompute(nb, nl, a[0]), a[1]);
        return arith::AddFOp::create(nb, nl, a[2],
                                     math::ExpOp::create(nb, nl, d));
      });
  return buildGeneric(
      b, loc, ValueRange{x, max, sum},
      emptyTensor(b, loc, shape, b.getF32Type()), {id, row, row, id},
      parallelIterators(rank),
      [](OpBuilder &nb, Location nl, ValueRange a) -> Value {
        Value d = arith::SubFOp::create(nb, nl, toCompute(nb, nl, a[0]), a[1]);
        return arith::DivFOp::create(nb, nl, math::ExpOp::create(nb, nl, d),
                                     a[2]);
      });
}

/// True when (a, ia) ranks strictly before (b, ib): by value (NaN above every
/// number when `largest`, below when not), then by the lower index.
static Value ranksBefore(OpBuilder &b, Location loc, Value a, Value ia, Value v,
                         Value iv, bool largest) {
  Value before, equal;
  if (isa<FloatType>(a.getType())) {
    using P = arith::CmpFPredicate;
    Value aNan = arith::CmpFOp::create(b, loc, P::UNO, a, a);
    Value vNan = arith::CmpFOp::create(b, loc, P::UNO, v, v);
    Value notANan = arith::CmpFOp::create(b, loc, P::ORD, a, a);
    Value notVNan = arith::CmpFOp::create(b, loc, P::ORD, v, v);
    Value nanFirst = largest ? arith::AndIOp::create(b, loc, aNan, notVNan)
                             : arith::AndIOp::create(b, loc, notANan, vNan);
    Value strict =
        arith::CmpFOp::create(b, loc, largest ? P::OGT : P::OLT, a, v);
    before = arith::OrIOp::create(b, loc, strict, nanFirst);
    equal = arith::OrIOp::create(b, loc,
                                 arith::CmpFOp::create(b, loc, P::OEQ, a, v),
                                 arith::AndIOp::create(b, loc, aNan, vNan));
  } else {
    using P = arith::CmpIPredicate;
    before = arith::CmpIOp::create(b, loc, largest ? P::sgt : P::slt, a, v);
    equal = arith::CmpIOp::create(b, loc, P::eq, a, v);
  }
  Value lowerIndex =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, ia, iv);
  return arith::OrIOp::create(b, loc, before,
                              arith::AndIOp::create(b, loc, equal, lowerIndex));
}

std::pair<Value, Value> lowering::topK(OpBuilder &b, Location loc, Value x,
                                       int64_t axis, int64_t k, bool largest) {
  MLIRContext *ctx = b.getContext();
  ArrayRef<int64_t> shape = shapeOf(x);
  int64_t rank = shape.size();
  Type et = elementTypeOf(x), ct = getComputeType(et);
  Type i64 = b.getI64Type();
  SmallVector<int64_t> rowShape(shape), outShape(shape);
  rowShape.erase(rowShape.begin() + axis);
  outShape[axis] = k;
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, ctx);
  AffineMap row = getProjectionMap(ctx, rank, axis);
  SmallVector<utils::IteratorType> iters = reduceAlong(rank, axis);

  // Selection by k passes: pass r takes the best entry ranking after the one
  // pass r-1 took. O(k n) and exact for ties, unlike a sort network.
  Value zero = constant(b, loc, ct, 0);
  Value none = constantI64(b, loc, -1);
  SmallVector<Value> inits = {emptyTensor(b, loc, outShape, et),
                              emptyTensor(b, loc, outShape, i64),
                              filledTensor(b, loc, rowShape, zero),
                              filledTensor(b, loc, rowShape, none)};
  auto loop = scf::ForOp::create(
      b, loc, constantIndex(b, loc, 0), constantIndex(b, loc, k),
      constantIndex(b, loc, 1), inits,
      [&](OpBuilder &lb, Location ll, Value r, ValueRange iter) {
        SmallVector<Value> best = buildGeneric(
            lb, ll, ValueRange{x, iter[2], iter[3]},
            ValueRange{filledTensor(lb, ll, rowShape, constant(lb, ll, ct, 0)),
                       filledTensor(lb, ll, rowShape, constantI64(lb, ll, -1))},
            {id, row, row, row, row}, iters,
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              Value v = toCompute(nb, nl, a[0]);
              Value j = loopIndexI64(nb, nl, axis);
              Value zeroI = constantI64(nb, nl, 0);
              using P = arith::CmpIPredicate;
              Value firstPass =
                  arith::CmpIOp::create(nb, nl, P::slt, a[2], zeroI);
              Value eligible = arith::OrIOp::create(
                  nb, nl, firstPass,
                  ranksBefore(nb, nl, a[1], a[2], v, j, largest));
              Value empty = arith::CmpIOp::create(nb, nl, P::slt, a[4], zeroI);
              Value improves = arith::OrIOp::create(
                  nb, nl, empty,
                  ranksBefore(nb, nl, v, j, a[3], a[4], largest));
              Value take = arith::AndIOp::create(nb, nl, eligible, improves);
              return SmallVector<Value>{
                  arith::SelectOp::create(nb, nl, take, v, a[3]),
                  arith::SelectOp::create(nb, nl, take, j, a[4])};
            });
        Value values = insertAlong(lb, ll, roundTensor(lb, ll, best[0], et),
                                   iter[0], axis, r);
        Value indices = insertAlong(lb, ll, best[1], iter[1], axis, r);
        scf::YieldOp::create(lb, ll,
                             ValueRange{values, indices, best[0], best[1]});
      });
  return {loop.getResult(0), loop.getResult(1)};
}
