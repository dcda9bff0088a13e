//===- SymbolicShapeOps.cpp - Shape arithmetic over symbolic dims ---------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Exporters write `x.view(b, s, h, d)` with b and s read from x's shape at
// run time: Shape -> Gather -> Unsqueeze -> Concat -> Reshape. With static
// shapes that chain folds to constants. With symbolic dims (`--dim
// NAME=LO..HI`) its elements are kept as SymbolicInts (a constant, or dim d
// of some value) and consumed where the dialect can express them: the
// shape of a Reshape (result dims named in `iolite.dims`), of a
// ConstantOfShape (a broadcast splat) and the limit of a Range (an
// iolite.iota). Trilu over a symbolic plane becomes a comparison of
// positions (iota), the form iolite-raise-attention proves causal at any
// length. Anything else that reads such a shape is refused at its node.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "iolite/Dialect/Iolite/IR/DynamicDims.h"
#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::onnx_import;

namespace {

constexpr StringLiteral kShapePoison =
    "a shape computed from symbolic dims, which only Reshape, "
    "ConstantOfShape and Range take; give the dims values with --dim NAME=N";

/// The symbol of dim `d` of `v`, traced back through the ops the importer
/// builds to an argument's `iolite.dims` or an op's own `iolite.dims`.
std::optional<std::string> symbolOf(Value v, int64_t d, unsigned depth = 64) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || d < 0 || d >= type.getRank() || !type.isDynamicDim(d) ||
      depth == 0)
    return std::nullopt;
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    auto func = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
    if (!func)
      return std::nullopt;
    auto names =
        func.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(), kDimNamesAttrName);
    if (!names || d >= static_cast<int64_t>(names.size()))
      return std::nullopt;
    StringRef name = cast<StringAttr>(names[d]).getValue();
    return name.empty() ? std::nullopt : std::optional(name.str());
  }
  Operation *op = v.getDefiningOp();
  if (auto names = op->getAttrOfType<ArrayAttr>(kDimNamesAttrName))
    if (d < static_cast<int64_t>(names.size()))
      if (auto s = dyn_cast<StringAttr>(names[d]); s && !s.getValue().empty())
        return s.getValue().str();
  if (auto t = dyn_cast<TransposeOp>(op))
    return symbolOf(t.getInput(), t.getPermutation()[d], depth - 1);
  if (auto iota = dyn_cast<IotaOp>(op)) {
    int64_t rank = cast<RankedTensorType>(iota.getSource().getType()).getRank();
    int64_t axis = iota.getAxis() < 0 ? iota.getAxis() + rank : iota.getAxis();
    return symbolOf(iota.getSource(), axis, depth - 1);
  }
  int64_t rank = type.getRank();
  if (auto mm = dyn_cast<MatmulOp>(op)) {
    auto lhs = cast<RankedTensorType>(mm.getLhs().getType());
    auto rhs = cast<RankedTensorType>(mm.getRhs().getType());
    if (d == rank - 1)
      return symbolOf(mm.getRhs(),
                      mm.getTransposeRhs() ? rhs.getRank() - 2
                                           : rhs.getRank() - 1,
                      depth - 1);
    if (d == rank - 2)
      return symbolOf(mm.getLhs(),
                      mm.getTransposeLhs() ? lhs.getRank() - 1
                                           : lhs.getRank() - 2,
                      depth - 1);
  } else if (isa<ReshapeOp, BroadcastOp, ReduceOp, ConcatOp, SliceOp, GatherOp>(
                 op)) {
    // Their dims move or change: named in iolite.dims or not traced.
    if (!isa<ReshapeOp>(op))
      return std::nullopt;
    // A reshape keeps a leading symbolic dim its input has in place.
    Value in = cast<ReshapeOp>(op).getInput();
    ArrayRef<int64_t> from = cast<RankedTensorType>(in.getType()).getShape();
    for (int64_t i = 0; i <= d; ++i)
      if (i >= static_cast<int64_t>(from.size()) ||
          from[i] != type.getDimSize(i))
        return std::nullopt;
    return symbolOf(in, d, depth - 1);
  }
  // Elementwise ops, norms, softmax, casts and the batch dims of a
  // matmul: the operand whose right-aligned dim is symbolic.
  for (Value operand : op->getOperands()) {
    auto t = dyn_cast<RankedTensorType>(operand.getType());
    if (!t)
      continue;
    int64_t at = d - (rank - t.getRank());
    if (at >= 0 && at < t.getRank() && t.isDynamicDim(at))
      if (std::optional<std::string> s = symbolOf(operand, at, depth - 1))
        return s;
  }
  return std::nullopt;
}

class SymbolicShapeImporter {
public:
  SymbolicShapeImporter(NodeContext &ctx, GraphImporter &importer)
      : ctx(ctx), importer(importer) {}

  std::optional<LogicalResult> run();

private:
  const SymbolicInts *symbolic(unsigned i) {
    if (!ctx.hasInput(i))
      return nullptr;
    auto it = importer.symbolicInts.find(ctx.node.inputs[i]);
    return it == importer.symbolicInts.end() ? nullptr : &it->second;
  }
  void setSymbolic(unsigned i, SymbolicInts value) {
    if (!ctx.hasOutput(i))
      return;
    const std::string &name = ctx.node.outputs[i];
    importer.symbolicInts[name] = std::move(value);
    importer.define(name, {{}, {}, kShapePoison.str(), {}});
  }
  /// The symbol of a symbolic element, or a diagnostic.
  FailureOr<std::string> nameOf(const SymbolicDim &e) {
    if (std::optional<std::string> s = symbolOf(e.source, e.dim))
      return *s;
    return ctx.emitUnsupported()
           << "cannot tell which symbol dim " << e.dim << " of a "
           << e.source.getType() << " value is";
  }
  /// Element `e` as a dim: its size, or ? named by its symbol.
  LogicalResult addDim(const SymbolicDim &e, SmallVectorImpl<int64_t> &shape,
                       SmallVectorImpl<Attribute> &names) {
    if (e.isConstant()) {
      if (e.value < 0)
        return ctx.emitError() << "shape has a negative dim " << e.value;
      shape.push_back(e.value);
      names.push_back(ctx.builder.getStringAttr(""));
      return success();
    }
    FailureOr<std::string> name = nameOf(e);
    if (failed(name))
      return failure();
    shape.push_back(ShapedType::kDynamic);
    names.push_back(ctx.builder.getStringAttr(*name));
    return success();
  }

  LogicalResult shape();
  LogicalResult gather(const SymbolicInts &data);
  LogicalResult unsqueeze(const SymbolicInts &data);
  LogicalResult squeeze(const SymbolicInts &data);
  LogicalResult concat();
  LogicalResult reshape(const SymbolicInts &spec);
  LogicalResult constantOfShape(const SymbolicInts &spec);
  LogicalResult range(const SymbolicInts &limit);
  LogicalResult trilu();

  NodeContext &ctx;
  GraphImporter &importer;
};

std::optional<LogicalResult> SymbolicShapeImporter::run() {
  StringRef op = ctx.node.opType;
  auto symbolicInput = [&]() -> std::optional<unsigned> {
    for (unsigned i = 0; i < ctx.numInputs(); ++i)
      if (symbolic(i))
        return i;
    return std::nullopt;
  };
  auto dynamicValue = [&](unsigned i) {
    if (!ctx.hasInput(i) || ctx.constInput(i))
      return false;
    FailureOr<RankedTensorType> t = ctx.inputType(i);
    return succeeded(t) && !t->hasStaticShape();
  };
  if (op == "Shape" && dynamicValue(0))
    return shape();
  if (op == "Trilu" && dynamicValue(0) && !symbolicInput())
    return trilu();
  std::optional<unsigned> first = symbolicInput();
  if (!first)
    return std::nullopt;
  const SymbolicInts &s = *symbolic(*first);
  if (op == "Gather" && *first == 0)
    return gather(s);
  if (op == "Unsqueeze" && *first == 0)
    return unsqueeze(s);
  if (op == "Squeeze" && *first == 0)
    return squeeze(s);
  if (op == "Concat")
    return concat();
  if ((op == "Cast" || op == "Identity") && *first == 0) {
    if (op == "Cast") {
      FailureOr<int64_t> to = ctx.intAttr("to", 0);
      // INT32 = 6, INT64 = 7.
      if (failed(to) || (*to != 6 && *to != 7))
        return LogicalResult(ctx.emitUnsupported()
                             << "a cast of a symbolic shape to other than "
                                "int32 or int64");
    }
    setSymbolic(0, s);
    return success();
  }
  if (op == "Reshape" && *first == 1)
    return reshape(s);
  if (op == "ConstantOfShape" && *first == 0)
    return constantOfShape(s);
  if (op == "Range" && *first == 1)
    return range(s);
  return LogicalResult(ctx.emitUnsupported()
                       << "input " << *first << " ('" << ctx.node.inputs[*first]
                       << "') is " << kShapePoison);
}

LogicalResult SymbolicShapeImporter::shape() {
  if (failed(ctx.checkArity(1, 1)) ||
      failed(ctx.checkAttributes({"start", "end"})))
    return failure();
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  auto type = cast<RankedTensorType>(x->getType());
  int64_t rank = type.getRank();
  FailureOr<int64_t> start = ctx.intAttr("start", 0),
                     end = ctx.intAttr("end", rank);
  if (failed(start) || failed(end))
    return failure();
  int64_t lo =
              std::clamp<int64_t>(*start < 0 ? *start + rank : *start, 0, rank),
          hi = std::clamp<int64_t>(*end < 0 ? *end + rank : *end, 0, rank);
  SymbolicInts s;
  for (int64_t d = lo; d < hi; ++d) {
    if (type.isDynamicDim(d))
      s.elems.push_back({0, *x, d});
    else
      s.elems.push_back({type.getDimSize(d), Value(), -1});
  }
  setSymbolic(0, std::move(s));
  return success();
}

LogicalResult SymbolicShapeImporter::gather(const SymbolicInts &data) {
  if (failed(ctx.checkArity(2, 2)) || failed(ctx.checkAttributes({"axis"})))
    return failure();
  FailureOr<int64_t> axis = ctx.intAttr("axis", 0);
  FailureOr<SmallVector<int64_t>> idx = ctx.constInts(1, "indices");
  FailureOr<RankedTensorType> idxType = ctx.inputType(1);
  if (failed(axis) || failed(idx) || failed(idxType))
    return failure();
  if (data.scalar || (*axis != 0 && *axis != -1) || idxType->getRank() > 1)
    return ctx.emitUnsupported()
           << "a gather from a symbolic shape other than of scalar or 1-D "
              "indices along its only axis";
  int64_t n = data.elems.size();
  SymbolicInts out;
  out.scalar = idxType->getRank() == 0;
  for (int64_t i : *idx) {
    int64_t at = i < 0 ? i + n : i;
    if (at < 0 || at >= n)
      return ctx.emitError() << "index " << i << " is out of range for a "
                             << "shape of " << n << " dims";
    out.elems.push_back(data.elems[at]);
  }
  setSymbolic(0, std::move(out));
  return success();
}

LogicalResult SymbolicShapeImporter::unsqueeze(const SymbolicInts &data) {
  if (failed(ctx.checkArity(1, 2)) || failed(ctx.checkAttributes({"axes"})))
    return failure();
  FailureOr<SmallVector<int64_t>> axes =
      ctx.hasInput(1) ? ctx.constInts(1, "axes")
                      : FailureOr<SmallVector<int64_t>>(SmallVector<int64_t>());
  if (failed(axes))
    return failure();
  if (!ctx.hasInput(1)) {
    FailureOr<std::optional<SmallVector<int64_t>>> a = ctx.intsAttr("axes");
    if (failed(a) || !*a)
      return ctx.emitError() << "needs axes";
    *axes = **a;
  }
  if (!data.scalar || axes->size() != 1 ||
      ((*axes)[0] != 0 && (*axes)[0] != -1))
    return ctx.emitUnsupported()
           << "an unsqueeze of a symbolic shape other than a scalar to 1-D";
  SymbolicInts out = data;
  out.scalar = false;
  setSymbolic(0, std::move(out));
  return success();
}

LogicalResult SymbolicShapeImporter::squeeze(const SymbolicInts &data) {
  if (failed(ctx.checkArity(1, 2)) || failed(ctx.checkAttributes({"axes"})))
    return failure();
  if (data.scalar || data.elems.size() != 1)
    return ctx.emitUnsupported()
           << "a squeeze of a symbolic shape other than 1-D of one element";
  SymbolicInts out = data;
  out.scalar = true;
  setSymbolic(0, std::move(out));
  return success();
}

LogicalResult SymbolicShapeImporter::concat() {
  if (failed(ctx.checkArity(1, ~0u)) || failed(ctx.checkAttributes({"axis"})))
    return failure();
  FailureOr<int64_t> axis = ctx.intAttr("axis", 0);
  if (failed(axis))
    return failure();
  if (*axis != 0 && *axis != -1)
    return ctx.emitError() << "axis " << *axis << " of 1-D shapes";
  SymbolicInts out;
  for (unsigned i = 0; i < ctx.numInputs(); ++i) {
    if (const SymbolicInts *s = symbolic(i)) {
      if (s->scalar)
        return ctx.emitError() << "input " << i << " is a scalar";
      out.elems.append(s->elems.begin(), s->elems.end());
      continue;
    }
    FailureOr<SmallVector<int64_t>> c = ctx.constInts(i, "shape part");
    if (failed(c))
      return failure();
    for (int64_t v : *c)
      out.elems.push_back({v, Value(), -1});
  }
  setSymbolic(0, std::move(out));
  return success();
}

LogicalResult SymbolicShapeImporter::reshape(const SymbolicInts &spec) {
  if (failed(ctx.checkArity(2, 2)) ||
      failed(ctx.checkAttributes({"allowzero"})))
    return failure();
  FailureOr<int64_t> allowZero = ctx.intAttr("allowzero", 0);
  FailureOr<Value> x = ctx.input(0);
  if (failed(allowZero) || failed(x))
    return failure();
  auto in = cast<RankedTensorType>(x->getType());
  SmallVector<int64_t> shape;
  SmallVector<Attribute> names;
  for (auto [i, e] : llvm::enumerate(spec.elems)) {
    SymbolicDim dim = e;
    if (e.isConstant() && e.value == 0 && !*allowZero) {
      // 0 copies the input's dim.
      if (static_cast<int64_t>(i) >= in.getRank())
        return ctx.emitError() << "shape entry " << i
                               << " copies a dim the input does not have";
      dim = in.isDynamicDim(i) ? SymbolicDim{0, *x, static_cast<int64_t>(i)}
                               : SymbolicDim{in.getDimSize(i), Value(), -1};
    }
    if (dim.isConstant() && dim.value == -1)
      return ctx.emitUnsupported()
             << "a -1 entry in a shape with symbolic dims (give every dim)";
    if (failed(addDim(dim, shape, names)))
      return failure();
  }
  // The element counts must agree at every size: the same static product
  // and the same symbols.
  auto count = [&](ArrayRef<int64_t> dims, SmallVectorImpl<std::string> &syms,
                   function_ref<FailureOr<std::string>(int64_t)> symbol)
      -> FailureOr<int64_t> {
    int64_t n = 1;
    for (auto [d, size] : llvm::enumerate(dims)) {
      if (!ShapedType::isDynamic(size)) {
        n *= size;
        continue;
      }
      FailureOr<std::string> s = symbol(d);
      if (failed(s))
        return failure();
      syms.push_back(*s);
    }
    llvm::sort(syms);
    return n;
  };
  SmallVector<std::string> inSyms, outSyms;
  FailureOr<int64_t> inCount = count(in.getShape(), inSyms, [&](int64_t d) {
    return nameOf(SymbolicDim{0, *x, d});
  });
  FailureOr<int64_t> outCount = count(shape, outSyms, [&](int64_t d) {
    return FailureOr<std::string>(cast<StringAttr>(names[d]).getValue().str());
  });
  if (failed(inCount) || failed(outCount))
    return failure();
  if (*inCount != *outCount || inSyms != outSyms)
    return ctx.emitError() << "cannot reshape " << in << " to "
                           << shapeString(shape)
                           << ": the element counts differ at some sizes";
  auto type = RankedTensorType::get(shape, in.getElementType());
  if (failed(ctx.check([&](Location l) { return verifyReshape(l, in, type); })))
    return failure();
  auto op = ReshapeOp::create(ctx.builder, ctx.loc, type, *x);
  op->setAttr(kDimNamesAttrName, ctx.builder.getArrayAttr(names));
  ctx.setOutput(0, op.getResult());
  return success();
}

LogicalResult SymbolicShapeImporter::constantOfShape(const SymbolicInts &spec) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({"value"})))
    return failure();
  if (spec.scalar)
    return ctx.emitError() << "the shape must be 1-D";
  FailureOr<TypedAttr> element = constantOfShapeFill(ctx);
  if (failed(element))
    return failure();
  auto fill = DenseElementsAttr::get(
      RankedTensorType::get({}, element->getType()), Attribute(*element));
  SmallVector<int64_t> shape;
  SmallVector<Attribute> names;
  for (const SymbolicDim &e : spec.elems)
    if (failed(addDim(e, shape, names)))
      return failure();
  FailureOr<Value> scalar = ctx.constant(fill);
  if (failed(scalar))
    return failure();
  auto type = RankedTensorType::get(shape, fill.getElementType());
  if (failed(ctx.check([&](Location l) {
        return verifyBroadcastTo(l, scalar->getType(), type);
      })))
    return failure();
  auto op = BroadcastOp::create(ctx.builder, ctx.loc, type, *scalar);
  op->setAttr(kDimNamesAttrName, ctx.builder.getArrayAttr(names));
  importer.dimOrigins[op.getResult()] = spec.elems;
  ctx.setOutput(0, op.getResult());
  return success();
}

LogicalResult SymbolicShapeImporter::range(const SymbolicInts &limit) {
  if (failed(ctx.checkArity(3, 3)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<DenseElementsAttr> start = ctx.constScalar(0, "start"),
                               delta = ctx.constScalar(2, "delta");
  if (failed(start) || failed(delta))
    return failure();
  auto asInt = [](DenseElementsAttr a) -> std::optional<int64_t> {
    if (!isa<IntegerType>(a.getElementType()))
      return std::nullopt;
    return a.getSplatValue<APInt>().getSExtValue();
  };
  std::optional<int64_t> s = asInt(*start), d = asInt(*delta);
  if (!limit.scalar || limit.elems.size() != 1 || limit.elems[0].isConstant() ||
      s != 0 || d != 1)
    return ctx.emitUnsupported()
           << "a Range over a symbolic limit other than 0, 1, ..., n - 1 "
              "with integer start 0 and delta 1";
  const SymbolicDim &n = limit.elems[0];
  auto iota = IotaOp::create(ctx.builder, ctx.loc, n.source,
                             ctx.builder.getI64IntegerAttr(n.dim));
  FailureOr<Value> out =
      ctx.castElements(iota.getResult(), start->getElementType());
  if (failed(out))
    return failure();
  ctx.setOutput(0, *out);
  return success();
}

LogicalResult SymbolicShapeImporter::trilu() {
  if (failed(ctx.checkArity(1, 2)) || failed(ctx.checkAttributes({"upper"})))
    return failure();
  FailureOr<int64_t> upper = ctx.intAttr("upper", 1);
  FailureOr<Value> x = ctx.input(0);
  if (failed(upper) || failed(x))
    return failure();
  int64_t k = 0;
  if (ctx.hasInput(1)) {
    FailureOr<SmallVector<int64_t>> kv = ctx.constInts(1, "k");
    if (failed(kv))
      return failure();
    if (kv->size() != 1)
      return ctx.emitError() << "k must have one element";
    k = (*kv)[0];
  }
  auto type = cast<RankedTensorType>(x->getType());
  int64_t rank = type.getRank();
  if (rank < 2)
    return ctx.emitError() << "input must have rank >= 2";
  // Positions of the rows and columns: from where the dims' lengths come
  // (a ConstantOfShape's shape), so that equal lengths are provably equal.
  auto origin = [&](int64_t d) -> SymbolicDim {
    auto it = importer.dimOrigins.find(*x);
    if (it != importer.dimOrigins.end() && !it->second[d].isConstant())
      return it->second[d];
    return SymbolicDim{0, *x, d};
  };
  auto positions = [&](int64_t d) {
    SymbolicDim o = origin(d);
    return IotaOp::create(ctx.builder, ctx.loc, o.source,
                          ctx.builder.getI64IntegerAttr(o.dim))
        .getResult();
  };
  Value rows = positions(rank - 2), cols = positions(rank - 1);
  auto rowsType = cast<RankedTensorType>(rows.getType());
  auto column =
      ReshapeOp::create(ctx.builder, ctx.loc,
                        RankedTensorType::get({rowsType.getDimSize(0), 1},
                                              rowsType.getElementType()),
                        rows);
  if (std::optional<std::string> s = symbolOf(rows, 0))
    column->setAttr(kDimNamesAttrName, ctx.builder.getStrArrayAttr({*s, ""}));
  Value shifted = column.getResult();
  if (k != 0) {
    FailureOr<Value> kc = ctx.scalar(ctx.builder.getI64Type(), double(k));
    if (failed(kc))
      return failure();
    FailureOr<Value> sum = ctx.binary<AddOp>(shifted, *kc);
    if (failed(sum))
      return failure();
    shifted = *sum;
  }
  // upper keeps j - i >= k, lower j - i <= k.
  FailureOr<Value> keep = ctx.compare(
      *upper ? ComparePredicate::ge : ComparePredicate::le, cols, shifted);
  FailureOr<Value> zero = ctx.scalar(type.getElementType(), 0.0);
  if (failed(keep) || failed(zero))
    return failure();
  FailureOr<Value> out = ctx.select(*keep, *x, *zero);
  if (failed(out))
    return failure();
  ctx.setOutput(0, *out);
  return success();
}

} // namespace

std::optional<LogicalResult>
mlir::iolite::onnx_import::importSymbolicShapeNode(NodeContext &ctx,
                                                   GraphImporter &importer) {
  return SymbolicShapeImporter(ctx, importer).run();
}
