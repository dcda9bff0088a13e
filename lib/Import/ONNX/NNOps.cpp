//===- NNOps.cpp - ONNX matmul, normalization, reduction and conv ops -----===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// MatMul, Gemm, Einsum, Softmax, LayerNormalization, the Reduce family,
// ArgMax/ArgMin, TopK, CumSum and depthwise 1-D Conv. These map to one iolite
// op where the dialect has it, or to a short composition of iolite ops; the
// raising passes recognize larger patterns (attention, RMSNorm, GELU) later.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::onnx_import;

namespace {

LogicalResult finish(NodeContext &ctx, FailureOr<Value> r, unsigned i = 0) {
  if (failed(r))
    return failure();
  ctx.setOutput(i, *r);
  return success();
}

ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

Type elemTypeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

template <typename OpTy>
FailureOr<Value> withScalar(NodeContext &ctx, Value x, double c) {
  FailureOr<Value> s = ctx.scalar(elemTypeOf(x), c);
  if (failed(s))
    return failure();
  return ctx.binary<OpTy>(x, *s);
}

//===----------------------------------------------------------------------===//
// MatMul and Gemm
//===----------------------------------------------------------------------===//

LogicalResult convertMatMul(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<Value> a = ctx.input(0), b = ctx.input(1);
  if (failed(a) || failed(b))
    return failure();
  ArrayRef<int64_t> as = shapeOf(*a), bs = shapeOf(*b);
  if (as.empty() || bs.empty())
    return ctx.emitError() << "MatMul operands must not be scalars";
  // NumPy semantics: a 1-D lhs is a row, a 1-D rhs a column, and the added
  // dim is dropped from the result.
  Value lhs = *a, rhs = *b;
  if (as.size() == 1) {
    FailureOr<Value> r = ctx.reshape(lhs, {1, as[0]});
    if (failed(r))
      return failure();
    lhs = *r;
  }
  if (bs.size() == 1) {
    FailureOr<Value> r = ctx.reshape(rhs, {bs[0], 1});
    if (failed(r))
      return failure();
    rhs = *r;
  }
  FailureOr<Value> y = ctx.matmul(lhs, rhs);
  if (failed(y))
    return failure();
  if (as.size() == 1 || bs.size() == 1) {
    SmallVector<int64_t> shape(shapeOf(*y));
    if (bs.size() == 1)
      shape.pop_back();
    if (as.size() == 1)
      shape.erase(shape.end() - (bs.size() == 1 ? 1 : 2));
    y = ctx.reshape(*y, shape);
  }
  return finish(ctx, y);
}

LogicalResult convertGemm(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 3)) ||
      failed(ctx.checkAttributes({"alpha", "beta", "transA", "transB"})))
    return failure();
  FailureOr<float> alpha = ctx.floatAttr("alpha", 1.0f),
                   beta = ctx.floatAttr("beta", 1.0f);
  FailureOr<int64_t> transA = ctx.intAttr("transA", 0),
                     transB = ctx.intAttr("transB", 0);
  FailureOr<Value> a = ctx.input(0), b = ctx.input(1);
  if (failed(alpha) || failed(beta) || failed(transA) || failed(transB) ||
      failed(a) || failed(b))
    return failure();
  if (shapeOf(*a).size() != 2 || shapeOf(*b).size() != 2)
    return ctx.emitError() << "Gemm operands must have rank 2";
  FailureOr<Value> y = ctx.matmul(*a, *b, *transA != 0, *transB != 0);
  if (failed(y))
    return failure();
  if (*alpha != 1.0f) {
    y = withScalar<MulOp>(ctx, *y, *alpha);
    if (failed(y))
      return failure();
  }
  if (ctx.hasInput(2) && *beta != 0.0f) {
    FailureOr<Value> c = ctx.input(2);
    if (failed(c))
      return failure();
    Value bias = *c;
    if (*beta != 1.0f) {
      FailureOr<Value> scaled = withScalar<MulOp>(ctx, bias, *beta);
      if (failed(scaled))
        return failure();
      bias = *scaled;
    }
    // C broadcasts to [M, N] (unidirectionally).
    SmallVector<int64_t> out(shapeOf(*y));
    if (!isBroadcastableTo(shapeOf(bias), out))
      return ctx.emitError() << "C of shape " << shapeString(shapeOf(bias))
                             << " does not broadcast to " << shapeString(out);
    y = ctx.binary<AddOp>(*y, bias);
  }
  return finish(ctx, y);
}

//===----------------------------------------------------------------------===//
// Einsum
//===----------------------------------------------------------------------===//

/// A tensor with one label per dim.
struct Labeled {
  Value value;
  std::string labels;
};

/// Transposes `t` so that its labels read `order` (a permutation of them).
FailureOr<Labeled> permuteTo(NodeContext &ctx, const Labeled &t,
                             StringRef order) {
  SmallVector<int64_t> perm;
  for (char c : order)
    perm.push_back(t.labels.find(c));
  FailureOr<Value> v = ctx.transpose(t.value, perm);
  if (failed(v))
    return failure();
  return Labeled{*v, order.str()};
}

/// Sums `t` over the labels not in `keep`.
FailureOr<Labeled> sumOut(NodeContext &ctx, const Labeled &t, StringRef keep) {
  SmallVector<int64_t> axes;
  std::string rest;
  for (auto [i, c] : llvm::enumerate(t.labels)) {
    if (keep.contains(c))
      rest.push_back(c);
    else
      axes.push_back(i);
  }
  if (axes.empty())
    return t;
  FailureOr<Value> v = ctx.reduce(ReduceKind::sum, t.value, axes, false);
  if (failed(v))
    return failure();
  return Labeled{*v, rest};
}

/// Contracts `a` and `b`, keeping the labels in `keep`, with one matmul.
FailureOr<Labeled> contract(NodeContext &ctx, Labeled a, Labeled b,
                            StringRef keep,
                            const llvm::DenseMap<char, int64_t> &sizes) {
  // Labels only one side has and nobody needs are summed away first.
  std::string aNeeded = keep.str() + b.labels, bNeeded = keep.str() + a.labels;
  FailureOr<Labeled> as = sumOut(ctx, a, aNeeded);
  FailureOr<Labeled> bs = sumOut(ctx, b, bNeeded);
  if (failed(as) || failed(bs))
    return failure();
  a = *as;
  b = *bs;
  std::string batch, m, n, k;
  for (char c : a.labels) {
    bool inB = b.labels.find(c) != std::string::npos;
    if (inB && keep.contains(c))
      batch.push_back(c);
    else if (inB)
      k.push_back(c);
    else
      m.push_back(c);
  }
  for (char c : b.labels)
    if (a.labels.find(c) == std::string::npos)
      n.push_back(c);
  auto product = [&](StringRef ls) {
    int64_t p = 1;
    for (char c : ls)
      p *= sizes.lookup(c);
    return p;
  };
  // Use the matmul's transpose flags when an operand already has the
  // contraction dim first; otherwise bring it to [batch, m, k] / [batch, k, n].
  bool transA = m.size() == 1 && k.size() == 1 && a.labels == batch + k + m;
  bool transB = n.size() == 1 && k.size() == 1 && b.labels == batch + n + k;
  FailureOr<Labeled> pa =
      permuteTo(ctx, a, transA ? batch + k + m : batch + m + k);
  FailureOr<Labeled> pb =
      permuteTo(ctx, b, transB ? batch + n + k : batch + k + n);
  if (failed(pa) || failed(pb))
    return failure();
  SmallVector<int64_t> batchShape;
  for (char c : batch)
    batchShape.push_back(sizes.lookup(c));
  // Collapse to exactly one m, n and k dim (size 1 when there is none).
  auto collapse = [&](Value v, ArrayRef<int64_t> trailing) {
    SmallVector<int64_t> shape(batchShape);
    llvm::append_range(shape, trailing);
    return ctx.reshape(v, shape);
  };
  int64_t mSize = product(m), nSize = product(n), kSize = product(k);
  FailureOr<Value> lhs =
      collapse(pa->value, transA ? SmallVector<int64_t>{kSize, mSize}
                                 : SmallVector<int64_t>{mSize, kSize});
  FailureOr<Value> rhs =
      collapse(pb->value, transB ? SmallVector<int64_t>{nSize, kSize}
                                 : SmallVector<int64_t>{kSize, nSize});
  if (failed(lhs) || failed(rhs))
    return failure();
  FailureOr<Value> y = ctx.matmul(*lhs, *rhs, transA, transB);
  if (failed(y))
    return failure();
  SmallVector<int64_t> outShape(batchShape);
  for (char c : m + n)
    outShape.push_back(sizes.lookup(c));
  FailureOr<Value> r = ctx.reshape(*y, outShape);
  if (failed(r))
    return failure();
  return Labeled{*r, batch + m + n};
}

LogicalResult convertEinsum(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, ~0u)) ||
      failed(ctx.checkAttributes({"equation"})))
    return failure();
  FailureOr<std::string> equation = ctx.stringAttr("equation", "");
  if (failed(equation))
    return failure();
  std::string eq;
  for (char c : *equation)
    if (!isspace(static_cast<unsigned char>(c)))
      eq.push_back(c);
  StringRef lhsSpec = eq, outSpec;
  bool explicitOut = false;
  size_t arrow = eq.find("->");
  if (arrow != std::string::npos) {
    lhsSpec = StringRef(eq).take_front(arrow);
    outSpec = StringRef(eq).drop_front(arrow + 2);
    explicitOut = true;
  }
  SmallVector<StringRef> specs;
  lhsSpec.split(specs, ',');
  if (specs.size() != ctx.numInputs())
    return ctx.emitError() << "equation '" << *equation << "' names "
                           << specs.size() << " operands but the node has "
                           << ctx.numInputs();
  // Ellipses become fresh labels (upper-case letters are labels too, so use
  // characters no equation has).
  SmallVector<Labeled> operands;
  llvm::DenseMap<char, int64_t> sizes;
  int64_t ellipsisRank = -1;
  std::string ellipsisLabels;
  auto expandEllipsis = [&](StringRef spec, int64_t rank,
                            std::string &out) -> LogicalResult {
    size_t pos = spec.find("...");
    if (pos == StringRef::npos) {
      out = spec.str();
      return success();
    }
    int64_t named = static_cast<int64_t>(spec.size()) - 3;
    int64_t r = rank < 0 ? 0 : rank - named;
    if (r < 0)
      return ctx.emitError() << "operand '" << spec << "' has too few dims";
    if (ellipsisRank >= 0 && ellipsisRank != r && rank >= 0)
      return ctx.emitUnsupported() << "ellipses covering different ranks";
    if (rank >= 0)
      ellipsisRank = std::max(ellipsisRank, r);
    std::string fresh;
    for (int64_t i = 0; i < ellipsisRank; ++i)
      fresh.push_back(static_cast<char>(1 + i));
    ellipsisLabels = fresh;
    out = spec.take_front(pos).str() + fresh + spec.drop_front(pos + 3).str();
    return success();
  };
  for (auto [i, spec] : llvm::enumerate(specs)) {
    FailureOr<Value> v = ctx.input(i);
    if (failed(v))
      return failure();
    std::string labels;
    if (failed(expandEllipsis(spec, shapeOf(*v).size(), labels)))
      return failure();
    for (char c : labels)
      if (!isalpha(static_cast<unsigned char>(c)) && c > 32)
        return ctx.emitError() << "equation '" << *equation
                               << "' has an invalid label '" << c << "'";
    if (labels.size() != shapeOf(*v).size())
      return ctx.emitError()
             << "operand " << i << " has rank " << shapeOf(*v).size()
             << " but '" << spec << "' names " << labels.size() << " dims";
    for (auto [d, c] : llvm::enumerate(labels)) {
      if (labels.find(c) != d)
        return ctx.emitUnsupported()
               << "repeated label '" << c << "' in one operand (diagonals)";
      int64_t size = shapeOf(*v)[d];
      auto [it, inserted] = sizes.try_emplace(c, size);
      if (!inserted && it->second != size) {
        if (it->second == 1)
          it->second = size;
        else if (size != 1)
          return ctx.emitError() << "label '" << c << "' has sizes "
                                 << it->second << " and " << size;
      }
    }
    operands.push_back({*v, labels});
  }
  std::string out;
  if (explicitOut) {
    if (failed(expandEllipsis(outSpec, -1, out)))
      return failure();
    for (char c : out)
      if (!sizes.count(c))
        return ctx.emitError()
               << "output label '" << c << "' is not an operand label";
  } else {
    // Implicit output: the ellipsis dims, then the labels seen once, sorted.
    std::string once;
    llvm::DenseMap<char, int> count;
    for (const Labeled &o : operands)
      for (char c : o.labels)
        ++count[c];
    for (auto [c, n] : count)
      if (n == 1 && isalpha(static_cast<unsigned char>(c)))
        once.push_back(c);
    llvm::sort(once);
    out = ellipsisLabels + once;
  }
  // Size-1 dims broadcast against the label's size.
  for (Labeled &o : operands) {
    SmallVector<int64_t> full;
    for (char c : o.labels)
      full.push_back(sizes.lookup(c));
    FailureOr<Value> v = ctx.broadcast(o.value, full);
    if (failed(v))
      return failure();
    o.value = *v;
  }
  // Contract left to right, keeping what the output or a later operand needs.
  Labeled acc = operands.front();
  for (size_t i = 1; i < operands.size(); ++i) {
    std::string keep = out;
    for (size_t j = i + 1; j < operands.size(); ++j)
      keep += operands[j].labels;
    FailureOr<Labeled> r = contract(ctx, acc, operands[i], keep, sizes);
    if (failed(r))
      return failure();
    acc = *r;
  }
  FailureOr<Labeled> summed = sumOut(ctx, acc, out);
  if (failed(summed))
    return failure();
  FailureOr<Labeled> result = permuteTo(ctx, *summed, out);
  if (failed(result))
    return failure();
  ctx.setOutput(0, result->value);
  return success();
}

//===----------------------------------------------------------------------===//
// Softmax and normalization
//===----------------------------------------------------------------------===//

/// Softmax and LogSoftmax. Before opset 13 they work on the input flattened
/// to 2-D at `axis`.
LogicalResult convertSoftmaxLike(NodeContext &ctx, bool log) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({"axis"})))
    return failure();
  bool coerce2d = ctx.opset < 13;
  FailureOr<int64_t> axisAttr = ctx.intAttr("axis", coerce2d ? 1 : -1);
  FailureOr<Value> x = ctx.input(0);
  if (failed(axisAttr) || failed(x) ||
      failed(ctx.requireFloat(*x, "the input")))
    return failure();
  ArrayRef<int64_t> shape = shapeOf(*x);
  int64_t rank = shape.size();
  int64_t axis = *axisAttr < 0 ? *axisAttr + rank : *axisAttr;
  if (axis < 0 || axis >= std::max<int64_t>(rank, 1))
    return ctx.emitError() << "axis " << *axisAttr
                           << " is out of range for rank " << rank;
  Value in = *x;
  if (coerce2d && axis != rank - 1) {
    FailureOr<Value> r =
        ctx.reshape(in, {numElementsOf(shape.take_front(axis)),
                         numElementsOf(shape.drop_front(axis))});
    if (failed(r))
      return failure();
    in = *r;
    axis = 1;
  }
  FailureOr<Value> y = failure();
  if (!log) {
    SmallVector<Type> types;
    if (failed(ctx.check([&](Location l) {
          return inferSoftmaxOp(l, in.getType(), axis, types);
        })))
      return failure();
    y = SoftmaxOp::create(ctx.builder, ctx.loc, types[0], in, axis).getResult();
  } else {
    // x - max - log(sum(exp(x - max))), which does not overflow.
    FailureOr<Value> m = ctx.reduce(ReduceKind::max, in, {axis}, true);
    if (failed(m))
      return failure();
    FailureOr<Value> shifted = ctx.binary<SubOp>(in, *m);
    if (failed(shifted))
      return failure();
    FailureOr<Value> s =
        ctx.reduce(ReduceKind::sum, ctx.unary<ExpOp>(*shifted), {axis}, true);
    if (failed(s))
      return failure();
    y = ctx.binary<SubOp>(*shifted, ctx.unary<LogOp>(*s));
  }
  if (failed(y))
    return failure();
  return finish(ctx, ctx.reshape(*y, shape));
}

LogicalResult convertSoftmax(NodeContext &ctx) {
  return convertSoftmaxLike(ctx, false);
}
LogicalResult convertLogSoftmax(NodeContext &ctx) {
  return convertSoftmaxLike(ctx, true);
}

LogicalResult convertLayerNormalization(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 3, 1, 3)) ||
      failed(ctx.checkAttributes({"axis", "epsilon", "stash_type"})))
    return failure();
  FailureOr<int64_t> axis = ctx.intAttr("axis", -1);
  FailureOr<float> epsilon = ctx.floatAttr("epsilon", 1e-5f);
  FailureOr<int64_t> stash = ctx.intAttr("stash_type", 1);
  FailureOr<Value> x = ctx.input(0), scale = ctx.input(1);
  if (failed(axis) || failed(epsilon) || failed(stash) || failed(x) ||
      failed(scale) || failed(ctx.requireFloat(*x, "the input")))
    return failure();
  if (*stash != 1)
    return ctx.emitUnsupported()
           << "stash_type " << *stash << " (statistics are computed in float)";
  ArrayRef<int64_t> shape = shapeOf(*x);
  int64_t a = *axis < 0 ? *axis + static_cast<int64_t>(shape.size()) : *axis;
  if (a < 0 || a >= static_cast<int64_t>(shape.size()))
    return ctx.emitError() << "axis " << *axis << " is out of range for rank "
                           << shape.size();
  ArrayRef<int64_t> normShape = shape.drop_front(a);
  // Scale and B broadcast to the normalized shape; the op wants it exactly.
  auto toNormShape = [&](Value v) -> FailureOr<Value> {
    if (shapeOf(v) == normShape)
      return v;
    if (!isBroadcastableTo(shapeOf(v), normShape))
      return ctx.emitError()
             << "scale/bias of shape " << shapeString(shapeOf(v))
             << " does not broadcast to the normalized shape "
             << shapeString(normShape);
    return ctx.broadcast(v, normShape);
  };
  FailureOr<Value> w = toNormShape(*scale);
  if (failed(w))
    return failure();
  Value bias;
  if (ctx.hasInput(2)) {
    FailureOr<Value> b = ctx.input(2);
    if (failed(b))
      return failure();
    FailureOr<Value> bb = toNormShape(*b);
    if (failed(bb))
      return failure();
    bias = *bb;
  }
  SmallVector<Type> types;
  if (failed(ctx.check([&](Location l) {
        return inferLayerNormOp(l, x->getType(), w->getType(),
                                bias ? bias.getType() : Type(), a, *epsilon,
                                types);
      })))
    return failure();
  Value y = LayerNormOp::create(ctx.builder, ctx.loc, types[0], *x, *w, bias,
                                ctx.builder.getI64IntegerAttr(a),
                                ctx.builder.getF32FloatAttr(*epsilon))
                .getResult();
  ctx.setOutput(0, y);
  if (!ctx.hasOutput(1) && !ctx.hasOutput(2))
    return success();
  // The statistics outputs, in f32 (stash_type 1), with the normalized dims
  // kept as 1.
  FailureOr<Value> xf = ctx.castElements(*x, ctx.builder.getF32Type());
  if (failed(xf))
    return failure();
  SmallVector<int64_t> axes;
  for (int64_t d = a; d < static_cast<int64_t>(shape.size()); ++d)
    axes.push_back(d);
  FailureOr<Value> mean = ctx.reduce(ReduceKind::mean, *xf, axes, true);
  if (failed(mean))
    return failure();
  FailureOr<Value> centered = ctx.binary<SubOp>(*xf, *mean);
  if (failed(centered))
    return failure();
  FailureOr<Value> sq = ctx.binary<MulOp>(*centered, *centered);
  if (failed(sq))
    return failure();
  FailureOr<Value> var = ctx.reduce(ReduceKind::mean, *sq, axes, true);
  if (failed(var))
    return failure();
  FailureOr<Value> varEps = withScalar<AddOp>(ctx, *var, *epsilon);
  if (failed(varEps))
    return failure();
  ctx.setOutput(1, *mean);
  ctx.setOutput(2, ctx.unary<RsqrtOp>(*varEps));
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

enum class Reduction {
  Sum,
  Mean,
  Max,
  Min,
  Prod,
  L1,
  L2,
  SumSquare,
  LogSum,
  LogSumExp
};

/// Folds Sum/Mean/Max/Min/Prod on a small constant. Returns true when folded.
bool foldReduce(NodeContext &ctx, Reduction kind, RankedTensorType type,
                ArrayRef<int64_t> axes, bool keepDims) {
  if (kind != Reduction::Sum && kind != Reduction::Mean &&
      kind != Reduction::Max && kind != Reduction::Min &&
      kind != Reduction::Prod)
    return false;
  std::optional<SmallVector<HostTensor>> in =
      ctx.foldableInputs(numElementsOf(type.getShape()));
  if (!in)
    return false;
  const HostTensor &x = (*in)[0];
  ArrayRef<int64_t> shape = type.getShape();
  SmallVector<int64_t> outShape, keptShape;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    bool reduced = llvm::is_contained(axes, d);
    keptShape.push_back(reduced ? 1 : shape[d]);
    if (!reduced)
      outShape.push_back(shape[d]);
    else if (keepDims)
      outShape.push_back(1);
  }
  HostTensor r = HostTensor::zeros(x.elemType, keptShape);
  int64_t n = r.size();
  SmallVector<double> acc(n, kind == Reduction::Prod ? 1.0 : 0.0);
  SmallVector<bool> seen(n, false);
  // Map every input element to its output slot by zeroing reduced coords.
  SmallVector<int64_t> outStrides = stridesOf(keptShape);
  SmallVector<int64_t> counter(type.getRank(), 0);
  for (int64_t i = 0, e = x.size(); i < e; ++i) {
    int64_t o = 0;
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (keptShape[d] != 1)
        o += counter[d] * outStrides[d];
    double v = x.getDouble(i);
    switch (kind) {
    case Reduction::Max:
      acc[o] = seen[o] ? std::max(acc[o], v) : v;
      break;
    case Reduction::Min:
      acc[o] = seen[o] ? std::min(acc[o], v) : v;
      break;
    case Reduction::Prod:
      acc[o] *= v;
      break;
    default:
      acc[o] += v;
    }
    seen[o] = true;
    for (int64_t d = type.getRank() - 1; d >= 0; --d) {
      if (++counter[d] < shape[d])
        break;
      counter[d] = 0;
    }
  }
  int64_t count = type.getNumElements() / std::max<int64_t>(n, 1);
  for (int64_t o = 0; o < n; ++o) {
    double v = kind == Reduction::Mean ? acc[o] / count : acc[o];
    if (r.isFloat())
      r.floats[o] = v;
    else
      r.ints[o] = wrapInt(r.elemType, static_cast<int64_t>(v));
  }
  r.shape.assign(outShape.begin(), outShape.end());
  ctx.setOutput(0, r.toAttr());
  return true;
}

LogicalResult convertReduce(NodeContext &ctx, Reduction kind) {
  if (failed(ctx.checkArity(1, 2)) ||
      failed(ctx.checkAttributes({"axes", "keepdims", "noop_with_empty_axes"})))
    return failure();
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  FailureOr<int64_t> keepDims = ctx.intAttr("keepdims", 1);
  FailureOr<int64_t> noop = ctx.intAttr("noop_with_empty_axes", 0);
  FailureOr<std::optional<SmallVector<int64_t>>> axesAttr =
      ctx.intsAttr("axes");
  if (failed(type) || failed(keepDims) || failed(noop) || failed(axesAttr))
    return failure();
  // Axes are an attribute before opset 18 (13 for ReduceSum), an input after.
  SmallVector<int64_t> axes;
  if (*axesAttr) {
    axes = **axesAttr;
  } else if (ctx.hasInput(1)) {
    FailureOr<SmallVector<int64_t>> a = ctx.constInts(1, "axes");
    if (failed(a))
      return failure();
    axes = *a;
  }
  int64_t rank = type->getRank();
  if (axes.empty()) {
    if (*noop) {
      if (DenseElementsAttr c = ctx.constInput(0)) {
        ctx.setOutput(0, c);
        return success();
      }
      return finish(ctx, ctx.input(0));
    }
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  }
  for (int64_t &a : axes) {
    if (a < -rank || a >= rank)
      return ctx.emitError()
             << "axis " << a << " is out of range for rank " << rank;
    if (a < 0)
      a += rank;
  }
  if (foldReduce(ctx, kind, *type, axes, *keepDims != 0))
    return success();
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  bool keep = *keepDims != 0;
  auto floatInput = [&]() { return ctx.requireFloat(*x, "the input"); };
  switch (kind) {
  case Reduction::Sum:
    return finish(ctx, ctx.reduce(ReduceKind::sum, *x, axes, keep));
  case Reduction::Mean:
    return finish(ctx, ctx.reduce(ReduceKind::mean, *x, axes, keep));
  case Reduction::Max:
    return finish(ctx, ctx.reduce(ReduceKind::max, *x, axes, keep));
  case Reduction::Min:
    return finish(ctx, ctx.reduce(ReduceKind::min, *x, axes, keep));
  case Reduction::Prod:
    return finish(ctx, ctx.reduce(ReduceKind::prod, *x, axes, keep));
  case Reduction::L1:
    return finish(
        ctx, ctx.reduce(ReduceKind::sum, ctx.unary<AbsOp>(*x), axes, keep));
  case Reduction::L2:
  case Reduction::SumSquare: {
    if (failed(floatInput()))
      return failure();
    FailureOr<Value> sq = ctx.binary<MulOp>(*x, *x);
    if (failed(sq))
      return failure();
    FailureOr<Value> s = ctx.reduce(ReduceKind::sum, *sq, axes, keep);
    if (failed(s) || kind == Reduction::SumSquare)
      return finish(ctx, s);
    return finish(ctx, ctx.unary<SqrtOp>(*s));
  }
  case Reduction::LogSum: {
    if (failed(floatInput()))
      return failure();
    FailureOr<Value> s = ctx.reduce(ReduceKind::sum, *x, axes, keep);
    if (failed(s))
      return failure();
    return finish(ctx, ctx.unary<LogOp>(*s));
  }
  case Reduction::LogSumExp: {
    // max + log(sum(exp(x - max))).
    if (failed(floatInput()))
      return failure();
    FailureOr<Value> m = ctx.reduce(ReduceKind::max, *x, axes, true);
    if (failed(m))
      return failure();
    FailureOr<Value> shifted = ctx.binary<SubOp>(*x, *m);
    if (failed(shifted))
      return failure();
    FailureOr<Value> s =
        ctx.reduce(ReduceKind::sum, ctx.unary<ExpOp>(*shifted), axes, keep);
    if (failed(s))
      return failure();
    FailureOr<Value> mk = ctx.reshape(*m, shapeOf(*s));
    if (failed(mk))
      return failure();
    return finish(ctx, ctx.binary<AddOp>(ctx.unary<LogOp>(*s), *mk));
  }
  }
  return failure();
}

#define IOLITE_REDUCE(NAME, KIND)                                              \
  LogicalResult convert##NAME(NodeContext &ctx) {                              \
    return convertReduce(ctx, Reduction::KIND);                                \
  }
IOLITE_REDUCE(ReduceSum, Sum)
IOLITE_REDUCE(ReduceMean, Mean)
IOLITE_REDUCE(ReduceMax, Max)
IOLITE_REDUCE(ReduceMin, Min)
IOLITE_REDUCE(ReduceProd, Prod)
IOLITE_REDUCE(ReduceL1, L1)
IOLITE_REDUCE(ReduceL2, L2)
IOLITE_REDUCE(ReduceSumSquare, SumSquare)
IOLITE_REDUCE(ReduceLogSum, LogSum)
IOLITE_REDUCE(ReduceLogSumExp, LogSumExp)
#undef IOLITE_REDUCE

//===----------------------------------------------------------------------===//
// TopK, ArgMax/ArgMin, CumSum
//===----------------------------------------------------------------------===//

/// Builds iolite.top_k; returns its (values, indices).
FailureOr<std::pair<Value, Value>> topK(NodeContext &ctx, Value x, int64_t k,
                                        int64_t axis, bool largest) {
  if (failed(ctx.requireNumeric(x, "the input")))
    return failure();
  SmallVector<Type> types;
  if (failed(ctx.check([&](Location l) {
        return inferTopKOp(l, x.getType(), k, axis, types);
      })))
    return failure();
  auto op = TopKOp::create(ctx.builder, ctx.loc, types[0], types[1], x, k, axis,
                           largest);
  return std::make_pair(Value(op.getValues()), Value(op.getIndices()));
}

LogicalResult convertTopK(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 2, 2, 2)) ||
      failed(ctx.checkAttributes({"axis", "largest", "sorted", "k"})))
    return failure();
  FailureOr<int64_t> axis = ctx.intAttr("axis", -1);
  FailureOr<int64_t> largest = ctx.intAttr("largest", 1);
  FailureOr<int64_t> kAttr = ctx.intAttr("k", -1);
  FailureOr<Value> x = ctx.input(0);
  if (failed(axis) || failed(largest) || failed(kAttr) || failed(x))
    return failure();
  // Before opset 10 k is an attribute. Unsorted results may come in any
  // order, so sorted ones serve both.
  int64_t k = *kAttr;
  if (ctx.hasInput(1)) {
    FailureOr<SmallVector<int64_t>> kv = ctx.constInts(1, "K");
    if (failed(kv))
      return failure();
    if (kv->size() != 1)
      return ctx.emitError() << "K must hold one value";
    k = kv->front();
  }
  FailureOr<std::pair<Value, Value>> r = topK(ctx, *x, k, *axis, *largest);
  if (failed(r))
    return failure();
  ctx.setOutput(0, r->first);
  ctx.setOutput(1, r->second);
  return success();
}

LogicalResult convertArgMinMax(NodeContext &ctx, bool largest) {
  if (failed(ctx.checkArity(1, 1)) ||
      failed(ctx.checkAttributes({"axis", "keepdims", "select_last_index"})))
    return failure();
  FailureOr<int64_t> axisAttr = ctx.intAttr("axis", 0);
  FailureOr<int64_t> keepDims = ctx.intAttr("keepdims", 1);
  FailureOr<int64_t> last = ctx.intAttr("select_last_index", 0);
  FailureOr<Value> x = ctx.input(0);
  if (failed(axisAttr) || failed(keepDims) || failed(last) || failed(x))
    return failure();
  int64_t rank = shapeOf(*x).size();
  int64_t axis = *axisAttr < 0 ? *axisAttr + rank : *axisAttr;
  if (axis < 0 || axis >= rank)
    return ctx.emitError() << "axis " << *axisAttr
                           << " is out of range for rank " << rank;
  int64_t dim = shapeOf(*x)[axis];
  Value in = *x;
  // top_k breaks ties toward the lower index; for the last index search the
  // reversed tensor and map the index back.
  if (*last) {
    HostTensor rev = HostTensor::zeros(ctx.builder.getI64Type(), {dim});
    for (int64_t i = 0; i < dim; ++i)
      rev.ints[i] = dim - 1 - i;
    FailureOr<Value> idx = ctx.constant(rev.toAttr());
    if (failed(idx))
      return failure();
    FailureOr<Value> g = ctx.gather(in, *idx, axis);
    if (failed(g))
      return failure();
    in = *g;
  }
  FailureOr<std::pair<Value, Value>> r = topK(ctx, in, 1, axis, largest);
  if (failed(r))
    return failure();
  Value indices = r->second;
  if (*last) {
    FailureOr<Value> top = ctx.scalar(ctx.builder.getI64Type(), dim - 1);
    if (failed(top))
      return failure();
    FailureOr<Value> flipped = ctx.binary<SubOp>(*top, indices);
    if (failed(flipped))
      return failure();
    indices = *flipped;
  }
  if (!*keepDims) {
    SmallVector<int64_t> shape(shapeOf(indices));
    shape.erase(shape.begin() + axis);
    return finish(ctx, ctx.reshape(indices, shape));
  }
  ctx.setOutput(0, indices);
  return success();
}

LogicalResult convertArgMax(NodeContext &ctx) {
  return convertArgMinMax(ctx, true);
}
LogicalResult convertArgMin(NodeContext &ctx) {
  return convertArgMinMax(ctx, false);
}

LogicalResult convertCumSum(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)) ||
      failed(ctx.checkAttributes({"exclusive", "reverse"})))
    return failure();
  FailureOr<int64_t> exclusive = ctx.intAttr("exclusive", 0);
  FailureOr<int64_t> reverse = ctx.intAttr("reverse", 0);
  FailureOr<SmallVector<int64_t>> axis = ctx.constInts(1, "axis");
  FailureOr<Value> x = ctx.input(0);
  if (failed(exclusive) || failed(reverse) || failed(axis) || failed(x) ||
      failed(ctx.requireNumeric(*x, "the input")))
    return failure();
  if (axis->size() != 1)
    return ctx.emitError() << "axis must be a scalar";
  SmallVector<Type> types;
  if (failed(ctx.check([&](Location l) {
        return inferCumsumOp(l, x->getType(), axis->front(), types);
      })))
    return failure();
  return finish(ctx,
                CumsumOp::create(ctx.builder, ctx.loc, types[0], *x,
                                 axis->front(), *exclusive != 0, *reverse != 0)
                    .getResult());
}

//===----------------------------------------------------------------------===//
// Conv (1-D, depthwise)
//===----------------------------------------------------------------------===//

/// A [B, C, n] tensor of `value`s in x's type.
FailureOr<Value> filled(NodeContext &ctx, Value x, int64_t n) {
  SmallVector<int64_t> shape(shapeOf(x));
  shape.back() = n;
  auto type = RankedTensorType::get(shape, elemTypeOf(x));
  return ctx.constant(
      DenseElementsAttr::get(type, FloatAttr::get(elemTypeOf(x), 0.0)));
}

LogicalResult convertConv(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 3)) ||
      failed(ctx.checkAttributes({"auto_pad", "dilations", "group",
                                  "kernel_shape", "pads", "strides"})))
    return failure();
  FailureOr<Value> x = ctx.input(0);
  FailureOr<RankedTensorType> wType = ctx.inputType(1);
  if (failed(x) || failed(wType) || failed(ctx.requireFloat(*x, "the input")))
    return failure();
  ArrayRef<int64_t> xs = shapeOf(*x);
  if (xs.size() != 3)
    return ctx.emitUnsupported() << "only 1-D convolutions ([N, C, L] "
                                    "inputs) are supported, got rank "
                                 << xs.size();
  int64_t channels = xs[1], length = xs[2];
  ArrayRef<int64_t> ws = wType->getShape();
  FailureOr<int64_t> group = ctx.intAttr("group", 1);
  if (failed(group))
    return failure();
  if (ws.size() != 3)
    return ctx.emitError() << "weight must be [M, C/group, K], got "
                           << shapeString(ws);
  if (*group != channels || ws[0] != channels || ws[1] != 1)
    return ctx.emitUnsupported()
           << "only depthwise convolutions (group = channels = output "
              "channels) are supported; got group "
           << *group << ", " << channels << " input channels and weight "
           << shapeString(ws);
  int64_t k = ws[2];
  auto readPair = [&](StringRef name, int64_t count,
                      int64_t dflt) -> FailureOr<SmallVector<int64_t>> {
    FailureOr<std::optional<SmallVector<int64_t>>> v = ctx.intsAttr(name);
    if (failed(v))
      return failure();
    if (!*v)
      return SmallVector<int64_t>(count, dflt);
    if (static_cast<int64_t>((*v)->size()) != count)
      return ctx.emitError()
             << "attribute '" << name << "' needs " << count << " values";
    return **v;
  };
  FailureOr<SmallVector<int64_t>> strides = readPair("strides", 1, 1);
  FailureOr<SmallVector<int64_t>> dilations = readPair("dilations", 1, 1);
  FailureOr<SmallVector<int64_t>> pads = readPair("pads", 2, 0);
  FailureOr<SmallVector<int64_t>> kernel = readPair("kernel_shape", 1, k);
  FailureOr<std::string> autoPad = ctx.stringAttr("auto_pad", "NOTSET");
  if (failed(strides) || failed(dilations) || failed(pads) || failed(kernel) ||
      failed(autoPad))
    return failure();
  int64_t stride = strides->front(), dilation = dilations->front();
  if (kernel->front() != k)
    return ctx.emitError() << "kernel_shape " << kernel->front()
                           << " differs from the weight's " << k;
  if (stride < 1 || dilation < 1 || (*pads)[0] < 0 || (*pads)[1] < 0)
    return ctx.emitError() << "strides and dilations must be >= 1, pads >= 0";
  // A dilated kernel is the kernel with zeros between its taps.
  int64_t span = (k - 1) * dilation + 1;
  int64_t padBegin = (*pads)[0], padEnd = (*pads)[1];
  if (*autoPad == "VALID") {
    padBegin = padEnd = 0;
  } else if (*autoPad == "SAME_UPPER" || *autoPad == "SAME_LOWER") {
    int64_t out = (length + stride - 1) / stride;
    int64_t total = std::max<int64_t>(0, (out - 1) * stride + span - length);
    padBegin = *autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
    padEnd = total - padBegin;
  } else if (*autoPad != "NOTSET") {
    return ctx.emitError() << "unknown auto_pad '" << *autoPad << "'";
  }
  int64_t outLength = (length + padBegin + padEnd - span) / stride + 1;
  if (length + padBegin + padEnd < span)
    return ctx.emitError() << "the kernel (span " << span
                           << ") is longer than the padded input";

  // The weight as [C, span].
  Value weight;
  if (dilation == 1) {
    FailureOr<Value> w = ctx.input(1);
    if (failed(w))
      return failure();
    FailureOr<Value> w2 = ctx.reshape(*w, {channels, k});
    if (failed(w2))
      return failure();
    weight = *w2;
  } else {
    DenseElementsAttr wc = ctx.constInput(1);
    if (!wc)
      return ctx.emitUnsupported() << "dilation " << dilation
                                   << " with a weight computed at run time";
    HostTensor w = HostTensor::fromAttr(wc);
    HostTensor d = HostTensor::zeros(w.elemType, {channels, span});
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t t = 0; t < k; ++t)
        d.floats[c * span + t * dilation] = w.floats[c * k + t];
    FailureOr<Value> wv = ctx.constant(d.toAttr());
    if (failed(wv))
      return failure();
    weight = *wv;
  }
  // iolite.conv1d is causal: y[t] = sum_j w[j] x[t - (span-1) + j]. With
  // padBegin' = span-1 that is ONNX's conv, so pad the input to that and
  // pad the end with padEnd zeros, then slice out the strided window.
  Value in = *x;
  SmallVector<Value> pieces;
  int64_t extraBegin = std::max<int64_t>(0, padBegin - (span - 1));
  if (extraBegin > 0) {
    FailureOr<Value> z = filled(ctx, in, extraBegin);
    if (failed(z))
      return failure();
    pieces.push_back(*z);
  }
  pieces.push_back(in);
  if (padEnd > 0) {
    FailureOr<Value> z = filled(ctx, in, padEnd);
    if (failed(z))
      return failure();
    pieces.push_back(*z);
  }
  FailureOr<Value> padded = ctx.concat(pieces, 2);
  if (failed(padded))
    return failure();
  Value bias;
  if (ctx.hasInput(2)) {
    FailureOr<Value> b = ctx.input(2);
    if (failed(b))
      return failure();
    bias = *b;
  }
  SmallVector<Type> types;
  if (failed(ctx.check([&](Location l) {
        return inferConv1dOp(l, padded->getType(), weight.getType(),
                             bias ? bias.getType() : Type(), types);
      })))
    return failure();
  Value y = Conv1dOp::create(ctx.builder, ctx.loc, types[0], *padded, weight,
                             bias, Activation::none)
                .getResult();
  int64_t effBegin = std::min(padBegin, span - 1);
  int64_t start = span - 1 - effBegin;
  SmallVector<int64_t> lo{0, 0, start};
  SmallVector<int64_t> hi{xs[0], channels,
                          start + (outLength - 1) * stride + 1};
  SmallVector<int64_t> st{1, 1, stride};
  return finish(ctx, ctx.slice(y, lo, hi, st));
}

//===----------------------------------------------------------------------===//
// Normalizations and pooling over spatial dims
//===----------------------------------------------------------------------===//

/// `v` ([C]) reshaped to [C, 1, ..., 1] to broadcast against [N, C, ...].
FailureOr<Value> perChannel(NodeContext &ctx, Value v, int64_t rank) {
  ArrayRef<int64_t> s = shapeOf(v);
  if (s.size() != 1)
    return ctx.emitError() << "per-channel parameters must be 1-D, got "
                           << shapeString(s);
  SmallVector<int64_t> shape(rank - 1, 1);
  shape[0] = s[0];
  return ctx.reshape(v, shape);
}

/// The dims from 2 on: the spatial dims of [N, C, ...].
SmallVector<int64_t> spatialAxes(int64_t rank) {
  SmallVector<int64_t> axes;
  for (int64_t d = 2; d < rank; ++d)
    axes.push_back(d);
  return axes;
}

LogicalResult convertBatchNormalization(NodeContext &ctx) {
  if (failed(ctx.checkArity(5, 5, 1, 3)) ||
      failed(ctx.checkAttributes(
          {"epsilon", "momentum", "training_mode", "spatial"})))
    return failure();
  FailureOr<float> epsilon = ctx.floatAttr("epsilon", 1e-5f);
  FailureOr<int64_t> training = ctx.intAttr("training_mode", 0);
  FailureOr<int64_t> spatial = ctx.intAttr("spatial", 1);
  FailureOr<Value> x = ctx.input(0);
  if (failed(epsilon) || failed(training) || failed(spatial) || failed(x) ||
      failed(ctx.requireFloat(*x, "the input")))
    return failure();
  if (*training || *spatial != 1 || ctx.numOutputs() > 1)
    return ctx.emitUnsupported() << "training mode (only inference is)";
  int64_t rank = shapeOf(*x).size();
  if (rank < 2)
    return ctx.emitError() << "the input must be [N, C, ...]";
  // y = x * a + b with a = scale / sqrt(var + eps), b = B - mean * a.
  SmallVector<Value> params;
  for (unsigned i = 1; i <= 4; ++i) {
    FailureOr<Value> p = ctx.input(i);
    if (failed(p))
      return failure();
    FailureOr<Value> pc = perChannel(ctx, *p, rank);
    if (failed(pc))
      return failure();
    params.push_back(*pc);
  }
  FailureOr<Value> varEps = withScalar<AddOp>(ctx, params[3], *epsilon);
  if (failed(varEps))
    return failure();
  FailureOr<Value> a = ctx.binary<DivOp>(params[0], ctx.unary<SqrtOp>(*varEps));
  if (failed(a))
    return failure();
  FailureOr<Value> ma = ctx.binary<MulOp>(params[2], *a);
  if (failed(ma))
    return failure();
  FailureOr<Value> b = ctx.binary<SubOp>(params[1], *ma);
  if (failed(b))
    return failure();
  FailureOr<Value> xa = ctx.binary<MulOp>(*x, *a);
  if (failed(xa))
    return failure();
  return finish(ctx, ctx.binary<AddOp>(*xa, *b));
}

LogicalResult convertInstanceNormalization(NodeContext &ctx) {
  if (failed(ctx.checkArity(3, 3)) || failed(ctx.checkAttributes({"epsilon"})))
    return failure();
  FailureOr<float> epsilon = ctx.floatAttr("epsilon", 1e-5f);
  FailureOr<Value> x = ctx.input(0), scale = ctx.input(1), bias = ctx.input(2);
  if (failed(epsilon) || failed(x) || failed(scale) || failed(bias) ||
      failed(ctx.requireFloat(*x, "the input")))
    return failure();
  int64_t rank = shapeOf(*x).size();
  if (rank < 3)
    return ctx.emitError() << "the input must be [N, C, D1, ...]";
  // Normalize over the spatial dims (layer_norm from axis 2, no weight),
  // then scale and shift per channel.
  SmallVector<Type> types;
  if (failed(ctx.check([&](Location l) {
        return inferLayerNormOp(l, x->getType(), Type(), Type(), 2, *epsilon,
                                types);
      })))
    return failure();
  Value n = LayerNormOp::create(ctx.builder, ctx.loc, types[0], *x, Value(),
                                Value(), ctx.builder.getI64IntegerAttr(2),
                                ctx.builder.getF32FloatAttr(*epsilon))
                .getResult();
  FailureOr<Value> s = perChannel(ctx, *scale, rank);
  FailureOr<Value> b = perChannel(ctx, *bias, rank);
  if (failed(s) || failed(b))
    return failure();
  FailureOr<Value> ns = ctx.binary<MulOp>(n, *s);
  if (failed(ns))
    return failure();
  return finish(ctx, ctx.binary<AddOp>(*ns, *b));
}

LogicalResult convertMeanVarianceNormalization(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({"axes"})))
    return failure();
  FailureOr<std::optional<SmallVector<int64_t>>> axesAttr =
      ctx.intsAttr("axes");
  FailureOr<Value> x = ctx.input(0);
  if (failed(axesAttr) || failed(x) ||
      failed(ctx.requireFloat(*x, "the input")))
    return failure();
  SmallVector<int64_t> axes =
      *axesAttr ? **axesAttr : SmallVector<int64_t>{0, 2, 3};
  // (x - E[x]) / (sqrt(E[(x - E[x])^2]) + 1e-9), as ONNX's function body.
  FailureOr<Value> mean = ctx.reduce(ReduceKind::mean, *x, axes, true);
  if (failed(mean))
    return failure();
  FailureOr<Value> centered = ctx.binary<SubOp>(*x, *mean);
  if (failed(centered))
    return failure();
  FailureOr<Value> sq = ctx.binary<MulOp>(*centered, *centered);
  if (failed(sq))
    return failure();
  FailureOr<Value> var = ctx.reduce(ReduceKind::mean, *sq, axes, true);
  if (failed(var))
    return failure();
  FailureOr<Value> sd = withScalar<AddOp>(ctx, ctx.unary<SqrtOp>(*var), 1e-9);
  if (failed(sd))
    return failure();
  return finish(ctx, ctx.binary<DivOp>(*centered, *sd));
}

LogicalResult convertGlobalPool(NodeContext &ctx, ReduceKind kind) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  int64_t rank = shapeOf(*x).size();
  if (rank < 3)
    return ctx.emitError() << "the input must be [N, C, D1, ...]";
  return finish(ctx, ctx.reduce(kind, *x, spatialAxes(rank), true));
}

LogicalResult convertGlobalAveragePool(NodeContext &ctx) {
  return convertGlobalPool(ctx, ReduceKind::mean);
}
LogicalResult convertGlobalMaxPool(NodeContext &ctx) {
  return convertGlobalPool(ctx, ReduceKind::max);
}

LogicalResult convertHardmax(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({"axis"})))
    return failure();
  if (ctx.opset < 13)
    return ctx.emitUnsupported() << "Hardmax before opset 13 (2-D coercion)";
  FailureOr<int64_t> axisAttr = ctx.intAttr("axis", -1);
  FailureOr<Value> x = ctx.input(0);
  if (failed(axisAttr) || failed(x) ||
      failed(ctx.requireFloat(*x, "the input")))
    return failure();
  ArrayRef<int64_t> shape = shapeOf(*x);
  int64_t rank = shape.size();
  int64_t axis = *axisAttr < 0 ? *axisAttr + rank : *axisAttr;
  if (axis < 0 || axis >= rank)
    return ctx.emitError() << "axis " << *axisAttr
                           << " is out of range for rank " << rank;
  // One-hot of the first maximum: top_k's index (ties to the lower index)
  // compared with the positions along the axis.
  FailureOr<std::pair<Value, Value>> top = topK(ctx, *x, 1, axis, true);
  if (failed(top))
    return failure();
  SmallVector<int64_t> iotaShape(rank, 1);
  iotaShape[axis] = shape[axis];
  HostTensor iota = HostTensor::zeros(ctx.builder.getI64Type(), iotaShape);
  for (int64_t i = 0; i < shape[axis]; ++i)
    iota.ints[i] = i;
  FailureOr<Value> positions = ctx.constant(iota.toAttr());
  if (failed(positions))
    return failure();
  FailureOr<Value> hot =
      ctx.compare(ComparePredicate::eq, top->second, *positions);
  if (failed(hot))
    return failure();
  FailureOr<Value> hotFull = ctx.broadcast(*hot, shape);
  if (failed(hotFull))
    return failure();
  return finish(ctx, ctx.castElements(*hotFull, elemTypeOf(*x)));
}
} // namespace

void mlir::iolite::onnx_import::populateNNConverters(
    llvm::StringMap<ConvertFn> &map) {
  map["MatMul"] = convertMatMul;
  map["Gemm"] = convertGemm;
  map["Einsum"] = convertEinsum;
  map["Softmax"] = convertSoftmax;
  map["LogSoftmax"] = convertLogSoftmax;
  map["LayerNormalization"] = convertLayerNormalization;
  map["ReduceSum"] = convertReduceSum;
  map["ReduceMean"] = convertReduceMean;
  map["ReduceMax"] = convertReduceMax;
  map["ReduceMin"] = convertReduceMin;
  map["ReduceProd"] = convertReduceProd;
  map["ReduceL1"] = convertReduceL1;
  map["ReduceL2"] = convertReduceL2;
  map["ReduceSumSquare"] = convertReduceSumSquare;
  map["ReduceLogSum"] = convertReduceLogSum;
  map["ReduceLogSumExp"] = convertReduceLogSumExp;
  map["TopK"] = convertTopK;
  map["ArgMax"] = convertArgMax;
  map["ArgMin"] = convertArgMin;
  map["CumSum"] = convertCumSum;
  map["Conv"] = convertConv;
  map["BatchNormalization"] = convertBatchNormalization;
  map["InstanceNormalization"] = convertInstanceNormalization;
  map["MeanVarianceNormalization"] = convertMeanVarianceNormalization;
  map["GlobalAveragePool"] = convertGlobalAveragePool;
  map["GlobalMaxPool"] = convertGlobalMaxPool;
  map["Hardmax"] = convertHardmax;
}
