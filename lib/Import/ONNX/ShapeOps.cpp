//===- ShapeOps.cpp - ONNX shape and data-movement ops --------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Constant, Shape, Range and friends produce constants; Reshape, Slice,
// Gather, Concat, Expand, ... fold on constants and otherwise become iolite
// data-movement ops. Every shape-like operand (a Reshape's shape, a Slice's
// bounds) must be known at import time.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::onnx_import;

namespace {

ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

LogicalResult finish(NodeContext &ctx, FailureOr<Value> r, unsigned i = 0) {
  if (failed(r))
    return failure();
  ctx.setOutput(i, *r);
  return success();
}

/// Normalizes and checks a list of axes against `rank`.
FailureOr<SmallVector<int64_t>>
normalizeAxes(NodeContext &ctx, ArrayRef<int64_t> axes, int64_t rank) {
  SmallVector<int64_t> result;
  for (int64_t a : axes) {
    FailureOr<int64_t> n = failure();
    if (failed(ctx.check([&](Location l) {
          n = normalizeAxis(l, a, rank);
          return success(succeeded(n));
        })))
      return failure();
    if (llvm::is_contained(result, *n))
      return ctx.emitError() << "axis " << a << " is given twice";
    result.push_back(*n);
  }
  return result;
}

/// The axes of a node: the attribute `axes` (older opsets) or input `i`
/// (newer ones); nullopt when neither is given.
FailureOr<std::optional<SmallVector<int64_t>>> axesOf(NodeContext &ctx,
                                                      unsigned i) {
  FailureOr<std::optional<SmallVector<int64_t>>> attr = ctx.intsAttr("axes");
  if (failed(attr) || *attr)
    return attr;
  if (!ctx.hasInput(i))
    return std::optional<SmallVector<int64_t>>();
  FailureOr<SmallVector<int64_t>> axes = ctx.constInts(i, "axes");
  if (failed(axes))
    return failure();
  return std::optional<SmallVector<int64_t>>(*axes);
}

/// Folds a pure data movement: result element `i` is input 0's element
/// `sourceIndex[i]`. Returns true when it folded.
bool foldMovement(NodeContext &ctx, ArrayRef<int64_t> resultShape,
                  function_ref<SmallVector<int64_t>()> sourceIndex,
                  unsigned output = 0) {
  DenseElementsAttr c = ctx.constInput(0);
  if (!c)
    return false;
  if (c.isSplat()) {
    // Splats (masks, fills) fold at any size.
    auto type = RankedTensorType::get(resultShape, c.getElementType());
    ctx.setOutput(output,
                  DenseElementsAttr::get(type, c.getSplatValue<Attribute>()));
    return true;
  }
  std::optional<SmallVector<HostTensor>> in =
      ctx.foldableInputs(numElementsOf(resultShape));
  if (!in)
    return false;
  ctx.setOutput(output, (*in)[0].permute(sourceIndex(), resultShape).toAttr());
  return true;
}

/// Walks `shape` in row-major order and returns, for every element, the
/// source offset `offset + sum(counter[d] * steps[d])`.
SmallVector<int64_t> stridedIndices(ArrayRef<int64_t> shape, int64_t offset,
                                    ArrayRef<int64_t> steps) {
  int64_t rank = shape.size(), n = numElementsOf(shape);
  SmallVector<int64_t> idx;
  idx.reserve(n);
  SmallVector<int64_t> counter(rank, 0);
  int64_t src = offset;
  for (int64_t i = 0; i < n; ++i) {
    idx.push_back(src);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++counter[d] < shape[d]) {
        src += steps[d];
        break;
      }
      src -= steps[d] * (shape[d] - 1);
      counter[d] = 0;
    }
  }
  return idx;
}

/// Source indices of the strided box `starts + k * steps` (`sizes` elements
/// per dim, steps may be negative) of a tensor of `shape`.
SmallVector<int64_t> boxIndices(ArrayRef<int64_t> shape,
                                ArrayRef<int64_t> starts,
                                ArrayRef<int64_t> steps,
                                ArrayRef<int64_t> sizes) {
  SmallVector<int64_t> strides = stridesOf(shape);
  int64_t offset = 0;
  SmallVector<int64_t> srcSteps;
  for (size_t d = 0; d < shape.size(); ++d) {
    offset += starts[d] * strides[d];
    srcSteps.push_back(steps[d] * strides[d]);
  }
  return stridedIndices(sizes, offset, srcSteps);
}

//===----------------------------------------------------------------------===//
// Ops that produce constants
//===----------------------------------------------------------------------===//

LogicalResult convertConstant(NodeContext &ctx) {
  if (failed(ctx.checkArity(0, 0)))
    return failure();
  if (ctx.node.attributes.size() != 1)
    return ctx.emitError() << "needs exactly one value attribute";
  const NodeAttribute &a = ctx.node.attributes.front();
  using Kind = NodeAttribute::Kind;
  if (a.name == "value" && a.kind == Kind::Tensor) {
    FailureOr<DenseElementsAttr> attr =
        convertTensor(ctx.ctx, a.t, [&]() { return ctx.emitError(); });
    if (failed(attr))
      return failure();
    ctx.setOutput(0, *attr);
    return success();
  }
  HostTensor t;
  if (a.name == "value_float" && a.kind == Kind::Float) {
    t.elemType = ctx.builder.getF32Type();
    t.floats.push_back(a.f);
  } else if (a.name == "value_floats" && a.kind == Kind::Floats) {
    t.elemType = ctx.builder.getF32Type();
    t.shape.push_back(a.floats.size());
    t.floats.assign(a.floats.begin(), a.floats.end());
  } else if (a.name == "value_int" && a.kind == Kind::Int) {
    t.elemType = ctx.builder.getI64Type();
    t.ints.push_back(a.i);
  } else if (a.name == "value_ints" && a.kind == Kind::Ints) {
    t.elemType = ctx.builder.getI64Type();
    t.shape.push_back(a.ints.size());
    t.ints.assign(a.ints.begin(), a.ints.end());
  } else {
    return ctx.emitUnsupported() << "constant attribute '" << a.name << "'";
  }
  ctx.setOutput(0, t.toAttr());
  return success();
}

} // namespace

FailureOr<TypedAttr>
mlir::iolite::onnx_import::constantOfShapeFill(NodeContext &ctx) {
  const NodeAttribute *a = ctx.attr("value");
  if (!a)
    return TypedAttr(FloatAttr::get(ctx.builder.getF32Type(), 0.0));
  if (a->kind != NodeAttribute::Kind::Tensor)
    return ctx.emitError() << "attribute 'value' must be a tensor";
  FailureOr<DenseElementsAttr> v =
      convertTensor(ctx.ctx, a->t, [&]() { return ctx.emitError(); });
  if (failed(v))
    return failure();
  if (v->getNumElements() != 1)
    return ctx.emitError() << "attribute 'value' must hold one element";
  return cast<TypedAttr>(*v->getValues<Attribute>().begin());
}

namespace {

LogicalResult convertConstantOfShape(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({"value"})))
    return failure();
  FailureOr<SmallVector<int64_t>> shape = ctx.constInts(0, "shape");
  if (failed(shape))
    return failure();
  if (llvm::any_of(*shape, [](int64_t d) { return d < 0; }))
    return ctx.emitError() << "shape " << shapeString(*shape)
                           << " has a negative dim";
  if (!checkedNumElementsOf(*shape))
    return ctx.emitError() << "shape " << shapeString(*shape)
                           << " has more elements than an int64 counts";
  FailureOr<TypedAttr> element = constantOfShapeFill(ctx);
  if (failed(element))
    return failure();
  ctx.setOutput(0, DenseElementsAttr::get(
                       RankedTensorType::get(*shape, element->getType()),
                       Attribute(*element)));
  return success();
}

LogicalResult convertShape(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) ||
      failed(ctx.checkAttributes({"start", "end"})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<int64_t> start = ctx.intAttr("start", 0);
  FailureOr<int64_t> end = ctx.intAttr("end", INT64_MAX);
  if (failed(type) || failed(start) || failed(end))
    return failure();
  int64_t rank = type->getRank();
  auto clampAxis = [&](int64_t a) {
    if (a < 0)
      a += rank;
    return std::clamp<int64_t>(a, 0, rank);
  };
  HostTensor t;
  t.elemType = ctx.builder.getI64Type();
  for (int64_t i = clampAxis(*start), e = clampAxis(*end); i < e; ++i)
    t.ints.push_back(type->getDimSize(i));
  t.shape.push_back(t.ints.size());
  ctx.setOutput(0, t.toAttr());
  return success();
}

LogicalResult convertSize(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  if (failed(type))
    return failure();
  HostTensor t;
  t.elemType = ctx.builder.getI64Type();
  t.ints.push_back(type->getNumElements());
  ctx.setOutput(0, t.toAttr());
  return success();
}

LogicalResult convertRange(NodeContext &ctx) {
  if (failed(ctx.checkArity(3, 3)) || failed(ctx.checkAttributes({})))
    return failure();
  SmallVector<HostTensor> in;
  for (unsigned i = 0; i < 3; ++i) {
    FailureOr<DenseElementsAttr> c =
        ctx.constScalar(i, i == 0 ? "start" : (i == 1 ? "limit" : "delta"));
    if (failed(c))
      return failure();
    in.push_back(HostTensor::fromAttr(*c));
  }
  if (in[0].elemType != in[1].elemType || in[0].elemType != in[2].elemType)
    return ctx.emitError() << "start, limit and delta must have one type";
  double start = in[0].getDouble(0), limit = in[1].getDouble(0),
         delta = in[2].getDouble(0);
  if (delta == 0)
    return ctx.emitError() << "delta must not be zero";
  double count = std::max(std::ceil((limit - start) / delta), 0.0);
  if (!(count <= static_cast<double>(INT32_MAX)))
    return ctx.emitError() << "the range has too many elements";
  int64_t n = static_cast<int64_t>(count);
  // start + i * delta, as NumPy's arange that the ONNX reference uses.
  HostTensor r = HostTensor::zeros(in[0].elemType, {n});
  for (int64_t i = 0; i < n; ++i) {
    if (r.isFloat())
      r.floats[i] = start + static_cast<double>(i) * delta;
    else
      r.ints[i] = wrapInt(r.elemType, in[0].getInt(0) + i * in[2].getInt(0));
  }
  ctx.setOutput(0, r.toAttr());
  return success();
}

//===----------------------------------------------------------------------===//
// Reshapes
//===----------------------------------------------------------------------===//

/// Reshapes input 0 to `shape`: folds a constant, else builds the op.
LogicalResult reshapeTo(NodeContext &ctx, ArrayRef<int64_t> shape) {
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  if (failed(type))
    return failure();
  if (numElementsOf(shape) != type->getNumElements())
    return ctx.emitError() << "cannot reshape " << shapeString(type->getShape())
                           << " (" << type->getNumElements() << " elements) to "
                           << shapeString(shape);
  if (DenseElementsAttr c = ctx.constInput(0)) {
    ctx.setOutput(
        0, c.reshape(RankedTensorType::get(shape, type->getElementType())));
    return success();
  }
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  return finish(ctx, ctx.reshape(*x, shape));
}

LogicalResult convertReshape(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)) ||
      failed(ctx.checkAttributes({"allowzero"})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<SmallVector<int64_t>> spec = ctx.constInts(1, "shape");
  FailureOr<int64_t> allowZero = ctx.intAttr("allowzero", 0);
  if (failed(type) || failed(spec) || failed(allowZero))
    return failure();
  SmallVector<int64_t> shape;
  int64_t inferred = -1, known = 1;
  for (auto [i, d] : llvm::enumerate(*spec)) {
    if (d == 0 && !*allowZero) {
      if (static_cast<int64_t>(i) >= type->getRank())
        return ctx.emitError() << "shape entry " << i
                               << " copies a dim the input does not have";
      d = type->getDimSize(i);
    }
    if (d == -1) {
      if (inferred >= 0)
        return ctx.emitError()
               << "shape " << shapeString(*spec) << " has more than one -1";
      inferred = i;
    } else if (d < -1) {
      return ctx.emitError()
             << "shape " << shapeString(*spec) << " has a negative dim";
    } else if (__builtin_mul_overflow(known, d, &known)) {
      return ctx.emitError() << "shape " << shapeString(*spec)
                             << " has more elements than int64_t counts";
    }
    shape.push_back(d);
  }
  if (inferred >= 0) {
    if (known == 0 || type->getNumElements() % known != 0)
      return ctx.emitError()
             << "cannot reshape " << shapeString(type->getShape()) << " to "
             << shapeString(*spec);
    shape[inferred] = type->getNumElements() / known;
  }
  return reshapeTo(ctx, shape);
}

LogicalResult convertFlatten(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({"axis"})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<int64_t> axis = ctx.intAttr("axis", 1);
  if (failed(type) || failed(axis))
    return failure();
  int64_t rank = type->getRank(), a = *axis < 0 ? *axis + rank : *axis;
  if (a < 0 || a > rank)
    return ctx.emitError() << "axis " << *axis << " is out of range for rank "
                           << rank;
  ArrayRef<int64_t> s = type->getShape();
  return reshapeTo(
      ctx, {numElementsOf(s.take_front(a)), numElementsOf(s.drop_front(a))});
}

LogicalResult convertSqueeze(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 2)) || failed(ctx.checkAttributes({"axes"})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<std::optional<SmallVector<int64_t>>> axes = axesOf(ctx, 1);
  if (failed(type) || failed(axes))
    return failure();
  SmallVector<int64_t> drop;
  if (*axes) {
    FailureOr<SmallVector<int64_t>> n =
        normalizeAxes(ctx, **axes, type->getRank());
    if (failed(n))
      return failure();
    drop = *n;
    for (int64_t a : drop)
      if (type->getDimSize(a) != 1)
        return ctx.emitError() << "cannot squeeze dim " << a << " of size "
                               << type->getDimSize(a);
  } else {
    for (int64_t i = 0; i < type->getRank(); ++i)
      if (type->getDimSize(i) == 1)
        drop.push_back(i);
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < type->getRank(); ++i)
    if (!llvm::is_contained(drop, i))
      shape.push_back(type->getDimSize(i));
  return reshapeTo(ctx, shape);
}

LogicalResult convertUnsqueeze(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 2)) || failed(ctx.checkAttributes({"axes"})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<std::optional<SmallVector<int64_t>>> axes = axesOf(ctx, 1);
  if (failed(type) || failed(axes))
    return failure();
  if (!*axes)
    return ctx.emitError() << "needs axes";
  int64_t rank = type->getRank() + static_cast<int64_t>((*axes)->size());
  FailureOr<SmallVector<int64_t>> n = normalizeAxes(ctx, **axes, rank);
  if (failed(n))
    return failure();
  SmallVector<int64_t> shape;
  ArrayRef<int64_t> in = type->getShape();
  for (int64_t i = 0; i < rank; ++i) {
    if (llvm::is_contained(*n, i)) {
      shape.push_back(1);
    } else {
      shape.push_back(in.front());
      in = in.drop_front();
    }
  }
  return reshapeTo(ctx, shape);
}

//===----------------------------------------------------------------------===//
// Transpose, Concat, Slice, Split
//===----------------------------------------------------------------------===//

LogicalResult convertTranspose(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({"perm"})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<std::optional<SmallVector<int64_t>>> permAttr =
      ctx.intsAttr("perm");
  if (failed(type) || failed(permAttr))
    return failure();
  int64_t rank = type->getRank();
  SmallVector<int64_t> perm;
  if (*permAttr)
    perm = **permAttr;
  else
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  SmallVector<Type> types;
  if (failed(ctx.check(
          [&](Location l) { return inferTransposeOp(l, *type, perm, types); })))
    return failure();
  ArrayRef<int64_t> shape = cast<RankedTensorType>(types[0]).getShape();
  if (foldMovement(ctx, shape, [&] {
        SmallVector<int64_t> inStrides = stridesOf(type->getShape());
        SmallVector<int64_t> steps;
        for (int64_t p : perm)
          steps.push_back(inStrides[p]);
        return stridedIndices(shape, 0, steps);
      }))
    return success();
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  return finish(ctx, ctx.transpose(*x, perm));
}

LogicalResult convertConcat(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, ~0u)) || failed(ctx.checkAttributes({"axis"})))
    return failure();
  const NodeAttribute *axisAttr = ctx.attr("axis");
  if (!axisAttr || axisAttr->kind != NodeAttribute::Kind::Int)
    return ctx.emitError() << "needs the int attribute 'axis'";
  SmallVector<Type> inTypes;
  for (unsigned i = 0; i < ctx.numInputs(); ++i) {
    FailureOr<RankedTensorType> t = ctx.inputType(i);
    if (failed(t))
      return failure();
    inTypes.push_back(*t);
  }
  SmallVector<Type> types;
  if (failed(ctx.check([&](Location l) {
        return inferConcatOp(l, inTypes, axisAttr->i, types);
      })))
    return failure();
  auto resultType = cast<RankedTensorType>(types[0]);
  int64_t axis =
      axisAttr->i < 0 ? axisAttr->i + resultType.getRank() : axisAttr->i;
  if (std::optional<SmallVector<HostTensor>> in =
          ctx.foldableInputs(numElementsOf(resultType.getShape()))) {
    HostTensor r =
        HostTensor::zeros(resultType.getElementType(), resultType.getShape());
    // Copy row blocks: `outer` blocks of each input's axis*inner elements.
    int64_t outer = numElementsOf(resultType.getShape().take_front(axis));
    int64_t pos = 0;
    for (int64_t o = 0; o < outer; ++o) {
      for (const HostTensor &t : *in) {
        if (t.elemType != r.elemType)
          return ctx.emitError() << "input element types differ";
        int64_t block = t.size() / std::max<int64_t>(outer, 1);
        for (int64_t k = 0; k < block; ++k, ++pos) {
          if (r.isFloat())
            r.floats[pos] = t.floats[o * block + k];
          else
            r.ints[pos] = t.ints[o * block + k];
        }
      }
    }
    ctx.setOutput(0, r.toAttr());
    return success();
  }
  SmallVector<Value> inputs;
  for (unsigned i = 0; i < ctx.numInputs(); ++i) {
    // Empty pieces add nothing.
    if (cast<RankedTensorType>(inTypes[i]).getNumElements() == 0 &&
        resultType.getNumElements() != 0)
      continue;
    FailureOr<Value> v = ctx.input(i);
    if (failed(v))
      return failure();
    inputs.push_back(*v);
  }
  if (inputs.empty()) {
    FailureOr<Value> v = ctx.input(0);
    if (failed(v))
      return failure();
    inputs.push_back(*v);
  }
  return finish(ctx, ctx.concat(inputs, axis));
}

/// Slices input 0 with per-dim `starts`, `steps` (non-zero) and `sizes`.
LogicalResult sliceBox(NodeContext &ctx, RankedTensorType type,
                       ArrayRef<int64_t> starts, ArrayRef<int64_t> steps,
                       ArrayRef<int64_t> sizes, unsigned output = 0) {
  if (foldMovement(
          ctx, sizes,
          [&] { return boxIndices(type.getShape(), starts, steps, sizes); },
          output))
    return success();
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  // Forward steps are one iolite.slice; a backward step is a gather with the
  // indices in reverse.
  int64_t rank = type.getRank();
  SmallVector<int64_t> lo(rank), hi(rank), st(rank);
  for (int64_t d = 0; d < rank; ++d) {
    if (steps[d] > 0 || sizes[d] == 0) {
      lo[d] = sizes[d] == 0 ? 0 : starts[d];
      hi[d] = sizes[d] == 0 ? 0 : starts[d] + (sizes[d] - 1) * steps[d] + 1;
      st[d] = sizes[d] == 0 ? 1 : steps[d];
    } else {
      lo[d] = 0;
      hi[d] = type.getDimSize(d);
      st[d] = 1;
    }
  }
  FailureOr<Value> r = ctx.slice(*x, lo, hi, st);
  if (failed(r))
    return failure();
  for (int64_t d = 0; d < rank; ++d) {
    if (steps[d] > 0 || sizes[d] == 0)
      continue;
    HostTensor idx = HostTensor::zeros(ctx.builder.getI64Type(), {sizes[d]});
    for (int64_t k = 0; k < sizes[d]; ++k)
      idx.ints[k] = starts[d] + k * steps[d];
    FailureOr<Value> indices = ctx.constant(idx.toAttr());
    if (failed(indices))
      return failure();
    r = ctx.gather(*r, *indices, d);
    if (failed(r))
      return failure();
  }
  return finish(ctx, r, output);
}

LogicalResult convertSlice(NodeContext &ctx) {
  bool attrForm = ctx.opset < 10;
  if (failed(ctx.checkArity(attrForm ? 1 : 3, attrForm ? 1 : 5)) ||
      failed(ctx.checkAttributes(
          attrForm ? ArrayRef<StringRef>{"starts", "ends", "axes"}
                   : ArrayRef<StringRef>{})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  if (failed(type))
    return failure();
  int64_t rank = type->getRank();
  SmallVector<int64_t> starts, ends, axes, steps;
  if (attrForm) {
    auto s = ctx.intsAttr("starts"), e = ctx.intsAttr("ends"),
         a = ctx.intsAttr("axes");
    if (failed(s) || failed(e) || failed(a))
      return failure();
    if (!*s || !*e)
      return ctx.emitError() << "needs starts and ends";
    starts = **s;
    ends = **e;
    if (*a)
      axes = **a;
  } else {
    auto s = ctx.constInts(1, "starts"), e = ctx.constInts(2, "ends");
    if (failed(s) || failed(e))
      return failure();
    starts = *s;
    ends = *e;
    if (ctx.hasInput(3)) {
      auto a = ctx.constInts(3, "axes");
      if (failed(a))
        return failure();
      axes = *a;
    }
    if (ctx.hasInput(4)) {
      auto st = ctx.constInts(4, "steps");
      if (failed(st))
        return failure();
      steps = *st;
    }
  }
  if (axes.empty())
    for (int64_t i = 0; i < static_cast<int64_t>(starts.size()); ++i)
      axes.push_back(i);
  if (steps.empty())
    steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || starts.size() != axes.size() ||
      starts.size() != steps.size())
    return ctx.emitError() << "starts, ends, axes and steps differ in length";
  FailureOr<SmallVector<int64_t>> normAxes = normalizeAxes(ctx, axes, rank);
  if (failed(normAxes))
    return failure();
  SmallVector<int64_t> boxStart(rank, 0), boxStep(rank, 1),
      boxSize(type->getShape());
  for (auto [k, a] : llvm::enumerate(*normAxes)) {
    int64_t dim = type->getDimSize(a), step = steps[k];
    if (step == 0)
      return ctx.emitError() << "step must not be zero";
    auto clampIndex = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0)
        v = v < -dim ? lo : v + dim;
      return std::clamp(v, lo, hi);
    };
    int64_t start, end, size;
    if (step > 0) {
      start = clampIndex(starts[k], 0, dim);
      end = clampIndex(ends[k], 0, dim);
      size = end > start ? (end - start + step - 1) / step : 0;
    } else {
      start = clampIndex(starts[k], -1, dim - 1);
      end = clampIndex(ends[k], -1, dim - 1);
      size = start > end ? (start - end + (-step) - 1) / (-step) : 0;
    }
    boxStart[a] = size ? start : 0;
    boxStep[a] = step;
    boxSize[a] = size;
  }
  return sliceBox(ctx, *type, boxStart, boxStep, boxSize);
}

LogicalResult convertSplit(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 2, 1, ~0u)) ||
      failed(ctx.checkAttributes({"axis", "split", "num_outputs"})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<int64_t> axisAttr = ctx.intAttr("axis", 0);
  FailureOr<std::optional<SmallVector<int64_t>>> splitAttr =
      ctx.intsAttr("split");
  if (failed(type) || failed(axisAttr) || failed(splitAttr))
    return failure();
  FailureOr<SmallVector<int64_t>> axisN =
      normalizeAxes(ctx, {*axisAttr}, type->getRank());
  if (failed(axisN))
    return failure();
  int64_t axis = axisN->front(), dim = type->getDimSize(axis);
  int64_t parts = static_cast<int64_t>(ctx.numOutputs());
  SmallVector<int64_t> sizes;
  if (*splitAttr) {
    sizes = **splitAttr;
  } else if (ctx.hasInput(1)) {
    FailureOr<SmallVector<int64_t>> s = ctx.constInts(1, "split");
    if (failed(s))
      return failure();
    sizes = *s;
  } else {
    // Equal parts; since opset 18 the last part may be smaller.
    int64_t each = (dim + parts - 1) / parts;
    if (ctx.opset < 18 && dim % parts != 0)
      return ctx.emitError()
             << "dim " << axis << " (size " << dim << ") does not split into "
             << parts << " equal parts";
    for (int64_t i = 0; i < parts; ++i)
      sizes.push_back(std::max<int64_t>(0, std::min(each, dim - i * each)));
  }
  if (static_cast<int64_t>(sizes.size()) != parts)
    return ctx.emitError() << "split has " << sizes.size() << " sizes for "
                           << parts << " outputs";
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0)
      return ctx.emitError() << "split sizes must not be negative";
    total += s;
  }
  if (total != dim)
    return ctx.emitError() << "split sizes add up to " << total << " but dim "
                           << axis << " has size " << dim;
  int64_t offset = 0;
  for (int64_t i = 0; i < parts; ++i) {
    SmallVector<int64_t> start(type->getRank(), 0), step(type->getRank(), 1),
        size(type->getShape());
    start[axis] = offset;
    size[axis] = sizes[i];
    offset += sizes[i];
    if (!ctx.hasOutput(i))
      continue;
    if (failed(sliceBox(ctx, *type, start, step, size, i)))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Gather, Expand, Tile, Trilu, Pad
//===----------------------------------------------------------------------===//

LogicalResult convertGather(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)) || failed(ctx.checkAttributes({"axis"})))
    return failure();
  FailureOr<RankedTensorType> dataType = ctx.inputType(0),
                              indicesType = ctx.inputType(1);
  FailureOr<int64_t> axisAttr = ctx.intAttr("axis", 0);
  if (failed(dataType) || failed(indicesType) || failed(axisAttr))
    return failure();
  if (!isa<IntegerType>(indicesType->getElementType()) ||
      indicesType->getElementType().isInteger(1))
    return ctx.emitError() << "indices must be integers";
  SmallVector<Type> types;
  if (failed(ctx.check([&](Location l) {
        return inferGatherOp(l, *dataType, *indicesType, *axisAttr, types);
      })))
    return failure();
  auto resultType = cast<RankedTensorType>(types[0]);
  int64_t axis = *axisAttr < 0 ? *axisAttr + dataType->getRank() : *axisAttr;
  int64_t dim = dataType->getDimSize(axis);
  // Constant indices are checked (ONNX leaves out-of-range undefined) and
  // normalized.
  DenseElementsAttr constIndices = ctx.constInput(1);
  SmallVector<int64_t> indices;
  if (constIndices) {
    for (int64_t v : HostTensor::fromAttr(constIndices).ints) {
      if (v < -dim || v >= dim)
        return ctx.emitError() << "index " << v << " is out of range for dim "
                               << axis << " of size " << dim;
      indices.push_back(v < 0 ? v + dim : v);
    }
  }
  if (constIndices && ctx.constInput(0)) {
    ArrayRef<int64_t> ds = dataType->getShape();
    int64_t outer = numElementsOf(ds.take_front(axis));
    int64_t inner = numElementsOf(ds.drop_front(axis + 1));
    if (foldMovement(ctx, resultType.getShape(), [&] {
          SmallVector<int64_t> idx;
          for (int64_t o = 0; o < outer; ++o)
            for (int64_t i : indices)
              for (int64_t k = 0; k < inner; ++k)
                idx.push_back((o * dim + i) * inner + k);
          return idx;
        }))
      return success();
  }
  FailureOr<Value> data = ctx.input(0);
  if (failed(data))
    return failure();
  FailureOr<Value> idx = failure();
  if (constIndices) {
    HostTensor t =
        HostTensor::zeros(ctx.builder.getI64Type(), indicesType->getShape());
    t.ints.assign(indices.begin(), indices.end());
    idx = ctx.constant(t.toAttr());
  } else {
    idx = ctx.input(1);
  }
  if (failed(idx))
    return failure();
  return finish(ctx, ctx.gather(*data, *idx, axis));
}

LogicalResult convertExpand(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<SmallVector<int64_t>> spec = ctx.constInts(1, "shape");
  if (failed(type) || failed(spec))
    return failure();
  // Expand broadcasts both ways: the result is the broadcast of the input
  // shape and the given shape.
  SmallVector<int64_t> shape;
  if (failed(ctx.check([&](Location l) {
        return inferBroadcastShape(l, {type->getShape(), *spec}, shape);
      })))
    return failure();
  if (foldMovement(ctx, shape,
                   [&] { return broadcastIndices(type->getShape(), shape); }))
    return success();
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  return finish(ctx, ctx.broadcast(*x, shape));
}

/// Tile of a non-constant tensor concatenates this many copies per dim at
/// most.
constexpr int64_t kMaxTileCopies = 1 << 16;

LogicalResult convertTile(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<SmallVector<int64_t>> repeats = ctx.constInts(1, "repeats");
  if (failed(type) || failed(repeats))
    return failure();
  int64_t rank = type->getRank();
  if (static_cast<int64_t>(repeats->size()) != rank)
    return ctx.emitError() << "repeats has " << repeats->size()
                           << " entries for rank " << rank;
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    if ((*repeats)[d] < 0)
      return ctx.emitError() << "repeats must not be negative";
    shape.push_back(0);
    if (__builtin_mul_overflow(type->getDimSize(d), (*repeats)[d],
                               &shape.back()))
      return ctx.emitError() << "repeats " << shapeString(*repeats)
                             << " make dim " << d << " overflow";
  }
  std::optional<int64_t> numElements = checkedNumElementsOf(shape);
  if (!numElements)
    return ctx.emitError() << "the result " << shapeString(shape)
                           << " has more elements than an int64 counts";
  // An empty result is a constant whatever the input (a concat of zero
  // copies does not exist).
  if (*numElements == 0) {
    auto resultType = RankedTensorType::get(shape, type->getElementType());
    ctx.setOutput(0, DenseElementsAttr::get(resultType, ArrayRef<Attribute>()));
    return success();
  }
  if (foldMovement(ctx, shape, [&] {
        // Result index -> source index: each coordinate modulo the dim.
        SmallVector<int64_t> inStrides = stridesOf(type->getShape());
        SmallVector<int64_t> idx;
        int64_t n = numElementsOf(shape);
        SmallVector<int64_t> counter(rank, 0);
        for (int64_t i = 0; i < n; ++i) {
          int64_t src = 0;
          for (int64_t d = 0; d < rank; ++d)
            src += (counter[d] % type->getDimSize(d)) * inStrides[d];
          idx.push_back(src);
          for (int64_t d = rank - 1; d >= 0; --d) {
            if (++counter[d] < shape[d])
              break;
            counter[d] = 0;
          }
        }
        return idx;
      }))
    return success();
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  Value r = *x;
  for (int64_t d = 0; d < rank; ++d) {
    if ((*repeats)[d] == 1)
      continue;
    // One concat operand per copy: bound the op, not just the tensor.
    if ((*repeats)[d] > kMaxTileCopies)
      return ctx.emitError() << "repeats " << (*repeats)[d] << " on dim " << d
                             << " of a tensor that is not constant: at most "
                             << kMaxTileCopies << " copies are supported";
    SmallVector<Value> copies((*repeats)[d], r);
    FailureOr<Value> c = ctx.concat(copies, d);
    if (failed(c))
      return failure();
    r = *c;
  }
  ctx.setOutput(0, r);
  return success();
}

LogicalResult convertTrilu(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 2)) || failed(ctx.checkAttributes({"upper"})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<int64_t> upper = ctx.intAttr("upper", 1);
  if (failed(type) || failed(upper))
    return failure();
  int64_t k = 0;
  if (ctx.hasInput(1)) {
    FailureOr<SmallVector<int64_t>> kv = ctx.constInts(1, "k");
    if (failed(kv))
      return failure();
    if (kv->size() != 1)
      return ctx.emitError() << "k must be a scalar";
    k = kv->front();
  }
  int64_t rank = type->getRank();
  if (rank < 2)
    return ctx.emitError() << "needs a tensor of rank >= 2";
  int64_t rows = type->getDimSize(rank - 2), cols = type->getDimSize(rank - 1);
  auto keep = [&](int64_t i, int64_t j) {
    return *upper ? j - i >= k : j - i <= k;
  };
  if (std::optional<SmallVector<HostTensor>> in =
          ctx.foldableInputs(numElementsOf(type->getShape()))) {
    HostTensor r = (*in)[0];
    for (int64_t e = 0, n = r.size(); e < n; ++e) {
      int64_t j = e % cols, i = (e / cols) % rows;
      if (keep(i, j))
        continue;
      if (r.isFloat())
        r.floats[e] = 0.0;
      else
        r.ints[e] = 0;
    }
    ctx.setOutput(0, r.toAttr());
    return success();
  }
  // select(mask, x, 0) with the [rows, cols] mask as a constant.
  HostTensor mask = HostTensor::zeros(ctx.builder.getI1Type(), {rows, cols});
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      mask.ints[i * cols + j] = keep(i, j);
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  FailureOr<Value> m = ctx.constant(mask.toAttr());
  FailureOr<Value> zero = ctx.scalar(type->getElementType(), 0.0);
  if (failed(m) || failed(zero))
    return failure();
  return finish(ctx, ctx.select(*m, *x, *zero));
}

LogicalResult convertPad(NodeContext &ctx) {
  bool attrForm = ctx.opset < 11;
  if (failed(ctx.checkArity(1, attrForm ? 1 : 4)) ||
      failed(ctx.checkAttributes({"mode", "pads", "value"})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<std::string> mode = ctx.stringAttr("mode", "constant");
  if (failed(type) || failed(mode))
    return failure();
  if (*mode != "constant")
    return ctx.emitUnsupported() << "mode '" << *mode << "'";
  int64_t rank = type->getRank();
  SmallVector<int64_t> pads;
  double fill = 0.0;
  if (attrForm) {
    FailureOr<std::optional<SmallVector<int64_t>>> p = ctx.intsAttr("pads");
    FailureOr<float> v = ctx.floatAttr("value", 0.0f);
    if (failed(p) || failed(v))
      return failure();
    if (!*p)
      return ctx.emitError() << "needs pads";
    pads = **p;
    fill = *v;
  } else {
    FailureOr<SmallVector<int64_t>> p = ctx.constInts(1, "pads");
    if (failed(p))
      return failure();
    pads = *p;
    if (ctx.hasInput(2)) {
      FailureOr<DenseElementsAttr> v = ctx.constScalar(2, "constant_value");
      if (failed(v))
        return failure();
      fill = HostTensor::fromAttr(*v).getDouble(0);
    }
  }
  SmallVector<int64_t> axes;
  if (!attrForm && ctx.hasInput(3)) {
    FailureOr<SmallVector<int64_t>> a = ctx.constInts(3, "axes");
    if (failed(a))
      return failure();
    FailureOr<SmallVector<int64_t>> n = normalizeAxes(ctx, *a, rank);
    if (failed(n))
      return failure();
    axes = *n;
  } else {
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  }
  int64_t na = static_cast<int64_t>(axes.size());
  if (static_cast<int64_t>(pads.size()) != 2 * na)
    return ctx.emitError() << "pads has " << pads.size() << " entries, needs "
                           << 2 * na;
  SmallVector<int64_t> before(rank, 0), after(rank, 0);
  for (int64_t i = 0; i < na; ++i) {
    before[axes[i]] = pads[i];
    after[axes[i]] = pads[i + na];
  }
  // The padded shape must be countable (pads come from the model's data).
  SmallVector<int64_t> padded(type->getShape());
  for (int64_t d = 0; d < rank; ++d) {
    int64_t dim = padded[d];
    if (before[d] < -dim || after[d] < -dim ||
        __builtin_add_overflow(dim, before[d], &padded[d]) ||
        __builtin_add_overflow(padded[d], after[d], &padded[d]) ||
        padded[d] < 0)
      return ctx.emitError() << "pads " << shapeString(pads)
                             << " do not fit dim " << d << " (" << dim << ")";
  }
  if (!checkedNumElementsOf(padded))
    return ctx.emitError() << "the padded shape " << shapeString(padded)
                           << " has more elements than int64 counts";
  // Negative pads crop: slice first, then pad with constants.
  SmallVector<int64_t> lo(rank), hi(rank), shape(type->getShape());
  for (int64_t d = 0; d < rank; ++d) {
    lo[d] = std::max<int64_t>(0, -before[d]);
    hi[d] = type->getDimSize(d) - std::max<int64_t>(0, -after[d]);
    if (hi[d] < lo[d])
      return ctx.emitError() << "negative pads remove more than dim " << d;
    shape[d] = hi[d] - lo[d];
  }
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  FailureOr<Value> r = ctx.slice(*x, lo, hi, SmallVector<int64_t>(rank, 1));
  if (failed(r))
    return failure();
  for (int64_t d = 0; d < rank; ++d) {
    SmallVector<Value> pieces;
    for (int part = 0; part < 3; ++part) {
      if (part == 1) {
        pieces.push_back(*r);
        continue;
      }
      int64_t amount = part == 0 ? before[d] : after[d];
      if (amount <= 0)
        continue;
      SmallVector<int64_t> padShape(shape);
      padShape[d] = amount;
      auto padType = RankedTensorType::get(padShape, type->getElementType());
      Attribute element =
          isa<FloatType>(type->getElementType())
              ? Attribute(FloatAttr::get(type->getElementType(), fill))
              : Attribute(IntegerAttr::get(type->getElementType(),
                                           static_cast<int64_t>(fill)));
      FailureOr<Value> c =
          ctx.constant(DenseElementsAttr::get(padType, element));
      if (failed(c))
        return failure();
      pieces.push_back(*c);
    }
    if (pieces.size() > 1) {
      r = ctx.concat(pieces, d);
      if (failed(r))
        return failure();
    }
    shape[d] +=
        std::max<int64_t>(0, before[d]) + std::max<int64_t>(0, after[d]);
  }
  return finish(ctx, r);
}

//===----------------------------------------------------------------------===//
// EyeLike, DepthToSpace, SpaceToDepth, OneHot
//===----------------------------------------------------------------------===//

LogicalResult convertEyeLike(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) ||
      failed(ctx.checkAttributes({"dtype", "k"})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<int64_t> k = ctx.intAttr("k", 0);
  if (failed(type) || failed(k))
    return failure();
  if (type->getRank() != 2)
    return ctx.emitError() << "the input must be 2-D";
  Type elemType = type->getElementType();
  if (const NodeAttribute *d = ctx.attr("dtype")) {
    if (d->kind != NodeAttribute::Kind::Int)
      return ctx.emitError() << "attribute 'dtype' must be an int";
    elemType = convertDataType(ctx.ctx, static_cast<int32_t>(d->i));
    if (!elemType)
      return ctx.emitUnsupported()
             << "dtype " << dataTypeName(static_cast<int32_t>(d->i));
  }
  int64_t rows = type->getDimSize(0), cols = type->getDimSize(1);
  HostTensor t = HostTensor::zeros(elemType, {rows, cols});
  for (int64_t i = 0; i < rows; ++i) {
    int64_t j = i + *k;
    if (j < 0 || j >= cols)
      continue;
    if (t.isFloat())
      t.floats[i * cols + j] = 1.0;
    else
      t.ints[i * cols + j] = 1;
  }
  ctx.setOutput(0, t.toAttr());
  return success();
}

/// Reshape, transpose, reshape: the shuffles of DepthToSpace and
/// SpaceToDepth.
LogicalResult shuffle(NodeContext &ctx, ArrayRef<int64_t> split,
                      ArrayRef<int64_t> perm, ArrayRef<int64_t> result) {
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  FailureOr<Value> a = ctx.reshape(*x, split);
  if (failed(a))
    return failure();
  FailureOr<Value> b = ctx.transpose(*a, perm);
  if (failed(b))
    return failure();
  return finish(ctx, ctx.reshape(*b, result));
}

LogicalResult convertDepthToSpace(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) ||
      failed(ctx.checkAttributes({"blocksize", "mode"})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<int64_t> bs = ctx.intAttr("blocksize", 0);
  FailureOr<std::string> mode = ctx.stringAttr("mode", "DCR");
  if (failed(type) || failed(bs) || failed(mode))
    return failure();
  if (type->getRank() != 4 || *bs < 1 || type->getDimSize(1) % (*bs * *bs) != 0)
    return ctx.emitError() << "needs a [N, C, H, W] input with C divisible by "
                              "blocksize^2";
  int64_t n = type->getDimSize(0), c = type->getDimSize(1),
          h = type->getDimSize(2), w = type->getDimSize(3), b = *bs;
  SmallVector<int64_t> result{n, c / (b * b), h * b, w * b};
  if (*mode == "DCR")
    return shuffle(ctx, {n, b, b, c / (b * b), h, w}, {0, 3, 4, 1, 5, 2},
                   result);
  if (*mode == "CRD")
    return shuffle(ctx, {n, c / (b * b), b, b, h, w}, {0, 1, 4, 2, 5, 3},
                   result);
  return ctx.emitError() << "unknown mode '" << *mode << "'";
}

LogicalResult convertSpaceToDepth(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) ||
      failed(ctx.checkAttributes({"blocksize"})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<int64_t> bs = ctx.intAttr("blocksize", 0);
  if (failed(type) || failed(bs))
    return failure();
  int64_t b = *bs;
  if (type->getRank() != 4 || b < 1 || type->getDimSize(2) % b != 0 ||
      type->getDimSize(3) % b != 0)
    return ctx.emitError() << "needs a [N, C, H, W] input with H and W "
                              "divisible by blocksize";
  int64_t n = type->getDimSize(0), c = type->getDimSize(1),
          h = type->getDimSize(2), w = type->getDimSize(3);
  return shuffle(ctx, {n, c, h / b, b, w / b, b}, {0, 3, 5, 1, 2, 4},
                 {n, c * b * b, h / b, w / b});
}

LogicalResult convertOneHot(NodeContext &ctx) {
  if (failed(ctx.checkArity(3, 3)) || failed(ctx.checkAttributes({"axis"})))
    return failure();
  FailureOr<int64_t> axisAttr = ctx.intAttr("axis", -1);
  FailureOr<RankedTensorType> indicesType = ctx.inputType(0);
  FailureOr<DenseElementsAttr> depthAttr = ctx.constScalar(1, "depth");
  if (failed(axisAttr) || failed(indicesType) || failed(depthAttr))
    return failure();
  int64_t depth = HostTensor::fromAttr(*depthAttr).getInt(0);
  if (depth < 1)
    return ctx.emitError() << "depth must be >= 1";
  int64_t rank = indicesType->getRank() + 1;
  int64_t axis = *axisAttr < 0 ? *axisAttr + rank : *axisAttr;
  if (axis < 0 || axis >= rank)
    return ctx.emitError() << "axis " << *axisAttr
                           << " is out of range for rank " << rank;
  FailureOr<Value> indices = ctx.input(0), values = ctx.input(2);
  if (failed(indices) || failed(values) ||
      failed(ctx.requireNumeric(*indices, "indices")))
    return failure();
  if (shapeOf(*values) != ArrayRef<int64_t>{2})
    return ctx.emitError() << "values must be [off, on]";
  // Negative indices count from depth; then compare with 0..depth-1 along
  // the new axis.
  FailureOr<Value> idx = ctx.castElements(*indices, ctx.builder.getI64Type());
  FailureOr<Value> zero = ctx.scalar(ctx.builder.getI64Type(), 0);
  FailureOr<Value> d = ctx.scalar(ctx.builder.getI64Type(), depth);
  if (failed(idx) || failed(zero) || failed(d))
    return failure();
  FailureOr<Value> neg = ctx.compare(ComparePredicate::lt, *idx, *zero);
  FailureOr<Value> wrapped = ctx.binary<AddOp>(*idx, *d);
  if (failed(neg) || failed(wrapped))
    return failure();
  FailureOr<Value> norm = ctx.select(*neg, *wrapped, *idx);
  if (failed(norm))
    return failure();
  SmallVector<int64_t> idxShape(indicesType->getShape());
  idxShape.insert(idxShape.begin() + axis, 1);
  FailureOr<Value> idxR = ctx.reshape(*norm, idxShape);
  SmallVector<int64_t> iotaShape(rank, 1);
  iotaShape[axis] = depth;
  HostTensor iota = HostTensor::zeros(ctx.builder.getI64Type(), iotaShape);
  for (int64_t i = 0; i < depth; ++i)
    iota.ints[i] = i;
  FailureOr<Value> positions = ctx.constant(iota.toAttr());
  if (failed(idxR) || failed(positions))
    return failure();
  FailureOr<Value> hot = ctx.compare(ComparePredicate::eq, *idxR, *positions);
  FailureOr<Value> off = ctx.slice(*values, {0}, {1}, {1});
  FailureOr<Value> on = ctx.slice(*values, {1}, {2}, {1});
  if (failed(hot) || failed(off) || failed(on))
    return failure();
  FailureOr<Value> offS = ctx.reshape(*off, {}), onS = ctx.reshape(*on, {});
  if (failed(offS) || failed(onS))
    return failure();
  SmallVector<int64_t> outShape(idxShape);
  outShape[axis] = depth;
  FailureOr<Value> hotFull = ctx.broadcast(*hot, outShape);
  if (failed(hotFull))
    return failure();
  return finish(ctx, ctx.select(*hotFull, *onS, *offS));
}
} // namespace

void mlir::iolite::onnx_import::populateShapeConverters(
    llvm::StringMap<ConvertFn> &map) {
  map["Constant"] = convertConstant;
  map["ConstantOfShape"] = convertConstantOfShape;
  map["Shape"] = convertShape;
  map["Size"] = convertSize;
  map["Range"] = convertRange;
  map["Reshape"] = convertReshape;
  map["Flatten"] = convertFlatten;
  map["Squeeze"] = convertSqueeze;
  map["Unsqueeze"] = convertUnsqueeze;
  map["Transpose"] = convertTranspose;
  map["Concat"] = convertConcat;
  map["Slice"] = convertSlice;
  map["Split"] = convertSplit;
  map["Gather"] = convertGather;
  map["Expand"] = convertExpand;
  map["Tile"] = convertTile;
  map["Trilu"] = convertTrilu;
  map["Pad"] = convertPad;
  map["EyeLike"] = convertEyeLike;
  map["DepthToSpace"] = convertDepthToSpace;
  map["SpaceToDepth"] = convertSpaceToDepth;
  map["OneHot"] = convertOneHot;
}
