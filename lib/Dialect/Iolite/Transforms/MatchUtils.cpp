//===- MatchUtils.cpp - Helpers shared by the raising rewrites ------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "MatchUtils.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Path.h"
#include <array>
#include <cmath>
#include <cstdio>

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::raising;

/// How deep the constant readers look through ops.
static constexpr unsigned kMaxDepth = 8;
/// The largest constant whose elements are compared for uniformity.
static constexpr int64_t kMaxUniformScan = 4096;
/// The largest intermediate a mask fold materialises (8 MiB of doubles).
static constexpr int64_t kMaxFoldElements = int64_t(1) << 20;

bool raising::approxEqual(double a, double b, double rtol) {
  if (a == b)
    return true;
  return std::fabs(a - b) <= rtol * std::max(std::fabs(a), std::fabs(b));
}

/// Reads element `attr` of a constant as a double.
static std::optional<double> toDouble(Attribute attr) {
  if (auto f = dyn_cast<FloatAttr>(attr))
    return f.getValueAsDouble();
  if (auto i = dyn_cast<IntegerAttr>(attr)) {
    if (i.getType().isInteger(1))
      return i.getValue().getBoolValue() ? 1.0 : 0.0;
    return static_cast<double>(i.getValue().getSExtValue());
  }
  return std::nullopt;
}

/// Reads all elements of a constant as doubles.
static std::optional<std::vector<double>> readElements(ElementsAttr elements) {
  std::vector<double> out;
  int64_t n = elements.getNumElements();
  out.reserve(n);
  Type et = elements.getElementType();
  if (auto dense = dyn_cast<DenseElementsAttr>(elements)) {
    if (isa<FloatType>(et)) {
      for (const APFloat &f : dense.getValues<APFloat>())
        out.push_back(f.convertToDouble());
      return out;
    }
    if (et.isInteger(1)) {
      for (bool b : dense.getValues<bool>())
        out.push_back(b ? 1.0 : 0.0);
      return out;
    }
    if (isa<IntegerType>(et)) {
      for (const APInt &i : dense.getValues<APInt>())
        out.push_back(static_cast<double>(i.getSExtValue()));
      return out;
    }
    return std::nullopt;
  }
  std::optional<ElementsAttr::iterator<Attribute>> it =
      elements.try_value_begin<Attribute>();
  if (!it)
    return std::nullopt;
  for (int64_t i = 0; i < n; ++i, ++*it) {
    std::optional<double> d = toDouble(**it);
    if (!d)
      return std::nullopt;
    out.push_back(*d);
  }
  return out;
}

static std::optional<double> uniformConstant(Value v, unsigned depth) {
  if (!v)
    return std::nullopt;
  Attribute attr;
  if (matchPattern(v, m_Constant(&attr))) {
    auto elements = dyn_cast<ElementsAttr>(attr);
    if (!elements || elements.getNumElements() < 1)
      return std::nullopt;
    if (auto dense = dyn_cast<DenseElementsAttr>(elements);
        dense && dense.isSplat())
      return toDouble(dense.getSplatValue<Attribute>());
    if (elements.getNumElements() > kMaxUniformScan)
      return std::nullopt;
    std::optional<std::vector<double>> values = readElements(elements);
    if (!values || values->empty())
      return std::nullopt;
    double first = values->front();
    for (double x : *values)
      if (x != first && !(std::isnan(x) && std::isnan(first)))
        return std::nullopt;
    return first;
  }
  if (depth == 0)
    return std::nullopt;
  Operation *def = v.getDefiningOp();
  if (!def)
    return std::nullopt;
  auto unary = [&](auto fn) -> std::optional<double> {
    std::optional<double> x = uniformConstant(def->getOperand(0), depth - 1);
    if (!x)
      return std::nullopt;
    return fn(*x);
  };
  auto binary = [&](auto fn) -> std::optional<double> {
    std::optional<double> x = uniformConstant(def->getOperand(0), depth - 1);
    std::optional<double> y = uniformConstant(def->getOperand(1), depth - 1);
    if (!x || !y)
      return std::nullopt;
    return fn(*x, *y);
  };
  return llvm::TypeSwitch<Operation *, std::optional<double>>(def)
      .Case([&](CastOp op) -> std::optional<double> {
        std::optional<double> x = uniformConstant(op.getInput(), depth - 1);
        if (!x)
          return std::nullopt;
        Type et = op.getType().getElementType();
        if (et.isInteger(1))
          return *x != 0.0 ? 1.0 : 0.0;
        if (isa<IntegerType>(et))
          return std::trunc(*x);
        return *x;
      })
      .Case<ReshapeOp, BroadcastOp, TransposeOp, SliceOp>(
          [&](Operation *) { return unary([](double x) { return x; }); })
      .Case([&](NegOp) { return unary([](double x) { return -x; }); })
      .Case(
          [&](SqrtOp) { return unary([](double x) { return std::sqrt(x); }); })
      .Case([&](RsqrtOp) {
        return unary([](double x) { return 1.0 / std::sqrt(x); });
      })
      .Case(
          [&](ReciprocalOp) { return unary([](double x) { return 1.0 / x; }); })
      .Case([&](AddOp) {
        return binary([](double x, double y) { return x + y; });
      })
      .Case([&](SubOp) {
        return binary([](double x, double y) { return x - y; });
      })
      .Case([&](MulOp) {
        return binary([](double x, double y) { return x * y; });
      })
      .Case([&](DivOp) {
        return binary([](double x, double y) { return x / y; });
      })
      .Case([&](PowOp) {
        return binary([](double x, double y) { return std::pow(x, y); });
      })
      .Default([](Operation *) { return std::nullopt; });
}

std::optional<double> raising::getUniformConstant(Value v) {
  return uniformConstant(v, kMaxDepth);
}

bool raising::isUniformConstant(Value v, double expected, double rtol) {
  std::optional<double> c = getUniformConstant(v);
  return c && approxEqual(*c, expected, rtol);
}

Value raising::stripFloatCasts(Value v) {
  while (auto cast = v.getDefiningOp<CastOp>()) {
    if (!isa<FloatType>(cast.getInput().getType().getElementType()) ||
        !isa<FloatType>(cast.getType().getElementType()))
      break;
    v = cast.getInput();
  }
  return v;
}

FailureOr<ArrayRef<int64_t>> raising::getStaticShape(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  if (!t || !t.hasStaticShape())
    return failure();
  return t.getShape();
}

Value raising::createScalarConstant(OpBuilder &b, Location loc,
                                    Type elementType, double value) {
  auto type = RankedTensorType::get({}, elementType);
  Attribute element;
  if (auto ft = dyn_cast<FloatType>(elementType)) {
    APFloat f(value);
    bool losesInfo = false;
    f.convert(ft.getFloatSemantics(), APFloat::rmNearestTiesToEven, &losesInfo);
    element = FloatAttr::get(ft, f);
  } else {
    element = IntegerAttr::get(elementType, static_cast<int64_t>(value));
  }
  return ConstantOp::create(b, loc, DenseElementsAttr::get(type, element));
}

std::string raising::numStr(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", x);
  return buf;
}

std::string raising::locStr(Location loc) {
  if (auto fused = dyn_cast<FusedLoc>(loc))
    if (!fused.getLocations().empty())
      return locStr(fused.getLocations().front());
  if (auto name = dyn_cast<NameLoc>(loc))
    return locStr(name.getChildLoc());
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return (llvm::sys::path::filename(file.getFilename().getValue()) + ":" +
            Twine(file.getLine()) + ":" + Twine(file.getColumn()))
        .str();
  return "unknown";
}

RaisingControl raising::remarkingControl(RemarkCollector &remarks) {
  RaisingControl control;
  control.onNearMiss = [&remarks](Operation *op, StringRef rewrite,
                                  const Twine &why) {
    remarks.missed(op->getLoc(), rewrite,
                   "not raised to iolite." + rewrite + ": " + why);
  };
  control.onRaised = [&remarks](Operation *op, StringRef rewrite,
                                const Twine &detail) {
    remarks.passed(op->getLoc(), rewrite, detail);
  };
  return control;
}

LogicalResult raising::applyRaisingPatterns(Operation *op,
                                            RewritePatternSet &&patterns) {
  return applyPatternsGreedily(op, std::move(patterns),
                               GreedyRewriteConfig().setUseTopDownTraversal());
}

//===----------------------------------------------------------------------===//
// Constant folding of small masks
//===----------------------------------------------------------------------===//

namespace {
/// Row-major strides of `shape`.
SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

int64_t numElements(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// Reads `in` (of shape `inShape`, right-aligned against `outShape` and
/// broadcast) at each index of `outShape`.
std::vector<double> broadcastValues(const ConstantTensor &in,
                                    ArrayRef<int64_t> outShape) {
  int64_t n = numElements(outShape);
  std::vector<double> out(n);
  SmallVector<int64_t> outStrides = stridesOf(outShape);
  SmallVector<int64_t> inStrides = stridesOf(in.shape);
  size_t off = outShape.size() - in.shape.size();
  for (int64_t flat = 0; flat < n; ++flat) {
    int64_t rem = flat, inFlat = 0;
    for (size_t d = 0; d < outShape.size(); ++d) {
      int64_t idx = rem / outStrides[d];
      rem %= outStrides[d];
      if (d >= off && in.shape[d - off] != 1)
        inFlat += idx * inStrides[d - off];
    }
    out[flat] = in.values[inFlat];
  }
  return out;
}
} // namespace

/// `def` (compare, add, sub, mul or select) on element values; `c` is
/// select's third operand.
static double applyElementwise(Operation *def, double a, double b, double c) {
  if (auto cmp = dyn_cast<CompareOp>(def)) {
    switch (cmp.getPredicate()) {
    case ComparePredicate::eq:
      return a == b;
    case ComparePredicate::ne:
      return a != b;
    case ComparePredicate::lt:
      return a < b;
    case ComparePredicate::le:
      return a <= b;
    case ComparePredicate::gt:
      return a > b;
    case ComparePredicate::ge:
      return a >= b;
    }
  }
  if (isa<AddOp>(def))
    return a + b;
  if (isa<SubOp>(def))
    return a - b;
  if (isa<MulOp>(def))
    return a * b;
  return a != 0.0 ? b : c;
}

static std::optional<ConstantTensor> foldTensor(Value v, int64_t maxElements,
                                                unsigned depth) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape() || type.getNumElements() > maxElements)
    return std::nullopt;
  ConstantTensor result;
  result.shape.assign(type.getShape().begin(), type.getShape().end());
  Attribute attr;
  if (matchPattern(v, m_Constant(&attr))) {
    auto elements = dyn_cast<ElementsAttr>(attr);
    if (!elements)
      return std::nullopt;
    std::optional<std::vector<double>> values = readElements(elements);
    if (!values)
      return std::nullopt;
    result.values = std::move(*values);
    return result;
  }
  Operation *def = v.getDefiningOp();
  if (!def || depth == 0)
    return std::nullopt;
  if (isa<IotaOp>(def)) {
    // Positions 0..n-1: a constant whenever the source's dim is static.
    for (int64_t i = 0; i < type.getNumElements(); ++i)
      result.values.push_back(static_cast<double>(i));
    return result;
  }
  auto operand = [&](unsigned i, int64_t limit = 0) {
    return foldTensor(def->getOperand(i), limit ? limit : maxElements,
                      depth - 1);
  };
  int64_t n = type.getNumElements();
  SmallVector<int64_t> outStrides = stridesOf(result.shape);

  if (isa<ReshapeOp>(def)) {
    std::optional<ConstantTensor> in = operand(0);
    if (!in)
      return std::nullopt;
    result.values = std::move(in->values);
    return result;
  }
  if (auto cast = dyn_cast<CastOp>(def)) {
    std::optional<ConstantTensor> in = operand(0);
    if (!in)
      return std::nullopt;
    Type et = cast.getType().getElementType();
    for (double &x : in->values) {
      if (et.isInteger(1))
        x = x != 0.0 ? 1.0 : 0.0;
      else if (isa<IntegerType>(et))
        x = std::trunc(x);
    }
    result.values = std::move(in->values);
    return result;
  }
  if (isa<BroadcastOp>(def)) {
    std::optional<ConstantTensor> in = operand(0);
    if (!in)
      return std::nullopt;
    result.values = broadcastValues(*in, result.shape);
    return result;
  }
  if (auto transpose = dyn_cast<TransposeOp>(def)) {
    std::optional<ConstantTensor> in = operand(0);
    if (!in)
      return std::nullopt;
    ArrayRef<int64_t> perm = transpose.getPermutation();
    SmallVector<int64_t> inStrides = stridesOf(in->shape);
    result.values.resize(n);
    for (int64_t flat = 0; flat < n; ++flat) {
      int64_t rem = flat, inFlat = 0;
      for (size_t d = 0; d < perm.size(); ++d) {
        int64_t idx = rem / outStrides[d];
        rem %= outStrides[d];
        inFlat += idx * inStrides[perm[d]];
      }
      result.values[flat] = in->values[inFlat];
    }
    return result;
  }
  if (auto slice = dyn_cast<SliceOp>(def)) {
    // A causal mask is often a slice of a larger constant buffer.
    std::optional<ConstantTensor> in =
        operand(0, std::max(maxElements, kMaxFoldElements));
    if (!in)
      return std::nullopt;
    ArrayRef<int64_t> starts = slice.getStarts();
    SmallVector<int64_t> steps(starts.size(), 1);
    if (auto s = slice.getStrides())
      steps.assign(s->begin(), s->end());
    SmallVector<int64_t> inStrides = stridesOf(in->shape);
    result.values.resize(n);
    for (int64_t flat = 0; flat < n; ++flat) {
      int64_t rem = flat, inFlat = 0;
      for (size_t d = 0; d < starts.size(); ++d) {
        int64_t idx = rem / outStrides[d];
        rem %= outStrides[d];
        inFlat += (starts[d] + idx * steps[d]) * inStrides[d];
      }
      result.values[flat] = in->values[inFlat];
    }
    return result;
  }
  if (isa<NegOp>(def)) {
    std::optional<ConstantTensor> in = operand(0);
    if (!in)
      return std::nullopt;
    for (double &x : in->values)
      x = -x;
    result.values = std::move(in->values);
    return result;
  }
  // Elementwise ops with broadcasting.
  if (isa<CompareOp, AddOp, SubOp, MulOp, SelectOp>(def)) {
    SmallVector<std::vector<double>> args;
    for (unsigned i = 0; i < def->getNumOperands(); ++i) {
      std::optional<ConstantTensor> in = operand(i);
      if (!in)
        return std::nullopt;
      args.push_back(broadcastValues(*in, result.shape));
    }
    result.values.resize(n);
    for (int64_t i = 0; i < n; ++i)
      result.values[i] = applyElementwise(def, args[0][i], args[1][i],
                                          args.size() > 2 ? args[2][i] : 0.0);
    return result;
  }
  return std::nullopt;
}

std::optional<ConstantTensor>
raising::foldToConstantTensor(Value v, int64_t maxElements) {
  return foldTensor(v, maxElements, kMaxDepth);
}

//===----------------------------------------------------------------------===//
// Affine index tensors
//===----------------------------------------------------------------------===//

static bool isUnit(int64_t d) { return d == 1; }

AffineIndex raising::broadcastAffineIndex(const AffineIndex &form,
                                          ArrayRef<int64_t> from,
                                          ArrayRef<int64_t> to) {
  AffineIndex out;
  out.offset = form.offset;
  out.coef.assign(to.size(), 0);
  out.extent.assign(to.size(), {Value(), 0});
  size_t lead = to.size() - from.size();
  for (size_t k = 0; k < from.size(); ++k) {
    // A unit dim read at every position of a wider one reads position 0.
    if (isUnit(from[k]) && !isUnit(to[lead + k]))
      continue;
    out.coef[lead + k] = form.coef[k];
    out.extent[lead + k] = form.extent[k];
  }
  return out;
}

/// `form` over shape `from` viewed as shape `to`, when the reshape only
/// adds or drops unit dims (the other dims keep their order and sizes; a
/// symbolic dim matches a symbolic one).
static std::optional<AffineIndex> reshapeAffineIndex(const AffineIndex &form,
                                                     ArrayRef<int64_t> from,
                                                     ArrayRef<int64_t> to) {
  AffineIndex out;
  out.offset = form.offset;
  out.coef.assign(to.size(), 0);
  out.extent.assign(to.size(), {Value(), 0});
  size_t i = 0;
  for (size_t j = 0; j < to.size(); ++j) {
    if (isUnit(to[j]))
      continue;
    while (i < from.size() && isUnit(from[i]))
      ++i;
    if (i == from.size() || from[i] != to[j])
      return std::nullopt;
    out.coef[j] = form.coef[i];
    out.extent[j] = form.extent[i];
    ++i;
  }
  while (i < from.size() && isUnit(from[i]))
    ++i;
  if (i != from.size())
    return std::nullopt;
  return out;
}

/// `a + scale * b` over the same dims; nullopt when a dim runs over two
/// iotas that are not provably the same length.
static std::optional<AffineIndex>
combineAffine(const AffineIndex &a, const AffineIndex &b, int64_t scale) {
  AffineIndex out = a;
  for (size_t k = 0; k < a.coef.size(); ++k) {
    if (b.coef[k] == 0)
      continue;
    if (a.coef[k] != 0 && a.extent[k] != b.extent[k])
      return std::nullopt;
    out.coef[k] = a.coef[k] + scale * b.coef[k];
    out.extent[k] = b.extent[k];
  }
  out.offset = a.offset + scale * b.offset;
  return out;
}

static ArrayRef<int64_t> shapeOfValue(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

static std::optional<AffineIndex> affineIndex(Value v, unsigned depth) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || depth == 0)
    return std::nullopt;
  Type et = type.getElementType();
  // Positions stay exact in f32 below 2^24: far above any sequence bound.
  if (!isa<IntegerType, FloatType>(et) || et.isInteger(1))
    return std::nullopt;
  if (std::optional<double> c = getUniformConstant(v)) {
    if (*c != std::trunc(*c) || std::abs(*c) > double(int64_t(1) << 40))
      return std::nullopt;
    AffineIndex form;
    form.coef.assign(type.getRank(), 0);
    form.extent.assign(type.getRank(), {Value(), 0});
    form.offset = static_cast<int64_t>(*c);
    return form;
  }
  Operation *def = v.getDefiningOp();
  if (!def)
    return std::nullopt;
  auto operand = [&](Value x) -> std::optional<AffineIndex> {
    std::optional<AffineIndex> f = affineIndex(x, depth - 1);
    if (!f)
      return std::nullopt;
    return broadcastAffineIndex(*f, shapeOfValue(x), type.getShape());
  };
  if (auto iota = dyn_cast<IotaOp>(def)) {
    int64_t rank = cast<RankedTensorType>(iota.getSource().getType()).getRank();
    int64_t axis = iota.getAxis() < 0 ? iota.getAxis() + rank : iota.getAxis();
    AffineIndex form;
    form.coef = {1};
    form.extent = {{iota.getSource(), axis}};
    return form;
  }
  if (auto castOp = dyn_cast<CastOp>(def)) {
    Type from = castOp.getInput().getType().getElementType();
    // int -> int may wrap, float -> int truncates: only widening int
    // casts and int -> float keep the values.
    if (!isa<IntegerType>(from) || from.isInteger(1) ||
        (isa<IntegerType>(et) &&
         et.getIntOrFloatBitWidth() < from.getIntOrFloatBitWidth()))
      return std::nullopt;
    return operand(castOp.getInput());
  }
  if (auto reshape = dyn_cast<ReshapeOp>(def)) {
    std::optional<AffineIndex> f = affineIndex(reshape.getInput(), depth - 1);
    if (!f)
      return std::nullopt;
    return reshapeAffineIndex(*f, shapeOfValue(reshape.getInput()),
                              type.getShape());
  }
  if (auto bc = dyn_cast<BroadcastOp>(def))
    return operand(bc.getInput());
  if (auto neg = dyn_cast<NegOp>(def)) {
    std::optional<AffineIndex> f = operand(neg.getInput());
    if (!f)
      return std::nullopt;
    AffineIndex zero = *f;
    llvm::fill(zero.coef, 0);
    zero.offset = 0;
    return combineAffine(zero, *f, -1);
  }
  if (isa<AddOp, SubOp>(def)) {
    std::optional<AffineIndex> a = operand(def->getOperand(0)),
                               b = operand(def->getOperand(1));
    if (!a || !b)
      return std::nullopt;
    return combineAffine(*a, *b, isa<AddOp>(def) ? 1 : -1);
  }
  if (isa<MulOp>(def)) {
    for (unsigned i = 0; i < 2; ++i) {
      std::optional<double> c = getUniformConstant(def->getOperand(1 - i));
      if (!c || *c != std::trunc(*c) || std::abs(*c) > 1024.0)
        continue;
      std::optional<AffineIndex> f = operand(def->getOperand(i));
      if (!f)
        return std::nullopt;
      for (int64_t &k : f->coef)
        k *= static_cast<int64_t>(*c);
      f->offset *= static_cast<int64_t>(*c);
      return f;
    }
  }
  return std::nullopt;
}

std::optional<AffineIndex> raising::matchAffineIndex(Value v) {
  return affineIndex(v, kMaxDepth);
}

static std::optional<AffineIndex> affinePredicate(Value cond, unsigned depth) {
  auto type = dyn_cast<RankedTensorType>(cond.getType());
  if (!type || !type.getElementType().isInteger(1) || depth == 0)
    return std::nullopt;
  Operation *def = cond.getDefiningOp();
  if (!def)
    return std::nullopt;
  if (auto reshape = dyn_cast<ReshapeOp>(def)) {
    std::optional<AffineIndex> f =
        affinePredicate(reshape.getInput(), depth - 1);
    if (!f)
      return std::nullopt;
    return reshapeAffineIndex(*f, shapeOfValue(reshape.getInput()),
                              type.getShape());
  }
  if (auto bc = dyn_cast<BroadcastOp>(def)) {
    std::optional<AffineIndex> f = affinePredicate(bc.getInput(), depth - 1);
    if (!f)
      return std::nullopt;
    return broadcastAffineIndex(*f, shapeOfValue(bc.getInput()),
                                type.getShape());
  }
  auto cmp = dyn_cast<CompareOp>(def);
  if (!cmp)
    return std::nullopt;
  std::optional<AffineIndex> l = affineIndex(cmp.getLhs(), kMaxDepth),
                             r = affineIndex(cmp.getRhs(), kMaxDepth);
  if (!l || !r)
    return std::nullopt;
  std::optional<AffineIndex> diff = combineAffine(
      broadcastAffineIndex(*l, shapeOfValue(cmp.getLhs()), type.getShape()),
      broadcastAffineIndex(*r, shapeOfValue(cmp.getRhs()), type.getShape()),
      -1);
  if (!diff)
    return std::nullopt;
  // On integer positions: x > 0 is x - 1 >= 0; x <= 0 is -x >= 0; x < 0 is
  // -x - 1 >= 0.
  auto negate = [](AffineIndex f) {
    for (int64_t &k : f.coef)
      k = -k;
    f.offset = -f.offset;
    return f;
  };
  switch (cmp.getPredicate()) {
  case ComparePredicate::ge:
    return diff;
  case ComparePredicate::gt:
    diff->offset -= 1;
    return diff;
  case ComparePredicate::le:
    return negate(*diff);
  case ComparePredicate::lt: {
    AffineIndex f = negate(*diff);
    f.offset -= 1;
    return f;
  }
  case ComparePredicate::eq:
  case ComparePredicate::ne:
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<AffineIndex> raising::matchAffinePredicate(Value cond) {
  return affinePredicate(cond, kMaxDepth);
}

//===----------------------------------------------------------------------===//
// Lazily evaluated constants
//===----------------------------------------------------------------------===//

static constexpr int64_t kMaxLazyRank = 8;

struct raising::LazyConstantTensor::Node {
  /// The elementwise op; null for a folded leaf.
  Operation *op = nullptr;
  SmallVector<int64_t> shape;
  ConstantTensor leaf;
  SmallVector<int64_t> leafStrides;
  SmallVector<std::shared_ptr<const Node>> operands;

  /// The element at `outer`, an index into a shape this node is
  /// right-aligned against and broadcast to.
  double at(ArrayRef<int64_t> outer) const {
    std::array<int64_t, kMaxLazyRank> local;
    size_t rank = shape.size(), off = outer.size() - rank;
    for (size_t d = 0; d < rank; ++d)
      local[d] = shape[d] == 1 ? 0 : outer[off + d];
    ArrayRef<int64_t> index(local.data(), rank);
    if (!op) {
      int64_t flat = 0;
      for (size_t d = 0; d < rank; ++d)
        flat += index[d] * leafStrides[d];
      return leaf.values[flat];
    }
    double a = operands[0]->at(index), b = operands[1]->at(index);
    double c = operands.size() > 2 ? operands[2]->at(index) : 0.0;
    return applyElementwise(op, a, b, c);
  }
};

static std::shared_ptr<const raising::LazyConstantTensor::Node>
buildLazy(Value v, int64_t maxLeafElements, unsigned depth) {
  using Node = raising::LazyConstantTensor::Node;
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape() || type.getRank() > kMaxLazyRank)
    return nullptr;
  auto node = std::make_shared<Node>();
  node->shape.assign(type.getShape().begin(), type.getShape().end());
  if (std::optional<ConstantTensor> leaf =
          foldTensor(v, maxLeafElements, kMaxDepth)) {
    node->leaf = std::move(*leaf);
    node->leafStrides = stridesOf(node->shape);
    return node;
  }
  Operation *def = v.getDefiningOp();
  if (!depth || !def || !isa<CompareOp, AddOp, SubOp, MulOp, SelectOp>(def))
    return nullptr;
  node->op = def;
  for (Value operand : def->getOperands()) {
    auto child = buildLazy(operand, maxLeafElements, depth - 1);
    if (!child || child->shape.size() > node->shape.size())
      return nullptr;
    node->operands.push_back(std::move(child));
  }
  return node;
}

std::optional<raising::LazyConstantTensor>
raising::LazyConstantTensor::build(Value v, int64_t maxLeafElements) {
  auto root = buildLazy(v, maxLeafElements, kMaxDepth);
  if (!root)
    return std::nullopt;
  LazyConstantTensor result;
  result.root = std::move(root);
  return result;
}

ArrayRef<int64_t> raising::LazyConstantTensor::getShape() const {
  return root->shape;
}

double raising::LazyConstantTensor::at(ArrayRef<int64_t> index) const {
  return root->at(index);
}
