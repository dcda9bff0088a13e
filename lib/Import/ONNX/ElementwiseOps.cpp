//===- ElementwiseOps.cpp - ONNX elementwise ops --------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Unary, binary and variadic elementwise ops, comparisons, logic, Where,
// Cast and the activations composed from them. Each folds on constants and
// otherwise builds the iolite op.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::onnx_import;

namespace {

using FloatFn = double (*)(double, double);
/// Returns false on an error such as an integer division by zero.
using IntFn = bool (*)(int64_t, int64_t, int64_t &);

LogicalResult finish(NodeContext &ctx, FailureOr<Value> r) {
  if (failed(r))
    return failure();
  ctx.setOutput(0, *r);
  return success();
}

/// The broadcast shape of the given inputs' types, or failure.
FailureOr<SmallVector<int64_t>> broadcastShape(NodeContext &ctx,
                                               ArrayRef<unsigned> inputs) {
  SmallVector<RankedTensorType> types;
  for (unsigned i : inputs) {
    FailureOr<RankedTensorType> t = ctx.inputType(i);
    if (failed(t))
      return failure();
    types.push_back(*t);
  }
  SmallVector<ArrayRef<int64_t>> shapes;
  for (RankedTensorType t : types)
    shapes.push_back(t.getShape());
  SmallVector<int64_t> shape;
  if (failed(ctx.check(
          [&](Location l) { return inferBroadcastShape(l, shapes, shape); })))
    return failure();
  return shape;
}

/// Broadcasts `t` to `shape`.
HostTensor expand(const HostTensor &t, ArrayRef<int64_t> shape) {
  if (ArrayRef<int64_t>(t.shape) == shape)
    return t;
  return t.permute(broadcastIndices(t.shape, shape), shape);
}

/// Folds a binary op when both inputs are constants. `resultType` null means
/// the operands' type. Returns true when it folded.
FailureOr<bool> foldBinary(NodeContext &ctx, FloatFn ffn, IntFn ifn,
                           Type resultType = {}) {
  FailureOr<SmallVector<int64_t>> shape = broadcastShape(ctx, {0, 1});
  if (failed(shape))
    return failure();
  std::optional<SmallVector<HostTensor>> in =
      ctx.foldableInputs(numElementsOf(*shape));
  if (!in)
    return false;
  HostTensor a = expand((*in)[0], *shape), b = expand((*in)[1], *shape);
  if (a.elemType != b.elemType)
    return ctx.emitError() << "operand element types differ: "
                           << onnxTypeName(a.elemType) << " and "
                           << onnxTypeName(b.elemType);
  if ((a.isFloat() && !ffn) || (!a.isFloat() && !ifn))
    return ctx.emitError() << "is not defined on " << onnxTypeName(a.elemType);
  HostTensor r =
      HostTensor::zeros(resultType ? resultType : a.elemType, *shape);
  int64_t n = numElementsOf(*shape);
  for (int64_t i = 0; i < n; ++i) {
    if (a.isFloat()) {
      double v = ffn(a.floats[i], b.floats[i]);
      if (r.isFloat())
        r.floats[i] = v;
      else
        r.ints[i] = static_cast<int64_t>(v);
      continue;
    }
    int64_t v;
    if (!ifn(a.ints[i], b.ints[i], v))
      return ctx.emitError() << "integer division by zero";
    r.ints[i] = wrapInt(r.elemType, v);
  }
  ctx.setOutput(0, r.toAttr());
  return true;
}

/// Folds a unary op on a constant input. Returns true when it folded.
FailureOr<bool> foldUnary(NodeContext &ctx, double (*ffn)(double),
                          int64_t (*ifn)(int64_t)) {
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  if (failed(type))
    return failure();
  std::optional<SmallVector<HostTensor>> in =
      ctx.foldableInputs(numElementsOf(type->getShape()));
  if (!in)
    return false;
  HostTensor r = (*in)[0];
  if ((r.isFloat() && !ffn) || (!r.isFloat() && !ifn))
    return ctx.emitError() << "is not defined on " << onnxTypeName(r.elemType);
  for (double &v : r.floats)
    v = ffn(v);
  for (int64_t &v : r.ints)
    v = wrapInt(r.elemType, ifn(v));
  ctx.setOutput(0, r.toAttr());
  return true;
}

//===----------------------------------------------------------------------===//
// Binary arithmetic
//===----------------------------------------------------------------------===//

double nanMax(double a, double b) { return (std::isnan(a) || a > b) ? a : b; }
double nanMin(double a, double b) { return (std::isnan(a) || a < b) ? a : b; }

template <typename OpTy>
LogicalResult convertBinary(NodeContext &ctx, FloatFn ffn, IntFn ifn) {
  if (failed(ctx.checkArity(2, 2)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<bool> folded = foldBinary(ctx, ffn, ifn);
  if (failed(folded) || *folded)
    return failure(failed(folded));
  FailureOr<Value> a = ctx.input(0), b = ctx.input(1);
  if (failed(a) || failed(b) || failed(ctx.requireNumeric(*a, "input 0")))
    return failure();
  FailureOr<Value> r = ctx.binary<OpTy>(*a, *b);
  if (failed(r))
    return failure();
  ctx.setOutput(0, *r);
  return success();
}

LogicalResult convertAdd(NodeContext &ctx) {
  return convertBinary<AddOp>(
      ctx, [](double a, double b) { return a + b; },
      [](int64_t a, int64_t b, int64_t &r) {
        r = static_cast<int64_t>(static_cast<uint64_t>(a) +
                                 static_cast<uint64_t>(b));
        return true;
      });
}

LogicalResult convertSub(NodeContext &ctx) {
  return convertBinary<SubOp>(
      ctx, [](double a, double b) { return a - b; },
      [](int64_t a, int64_t b, int64_t &r) {
        r = static_cast<int64_t>(static_cast<uint64_t>(a) -
                                 static_cast<uint64_t>(b));
        return true;
      });
}

LogicalResult convertMul(NodeContext &ctx) {
  return convertBinary<MulOp>(
      ctx, [](double a, double b) { return a * b; },
      [](int64_t a, int64_t b, int64_t &r) {
        r = static_cast<int64_t>(static_cast<uint64_t>(a) *
                                 static_cast<uint64_t>(b));
        return true;
      });
}

LogicalResult convertDiv(NodeContext &ctx) {
  return convertBinary<DivOp>(
      ctx, [](double a, double b) { return a / b; },
      [](int64_t a, int64_t b, int64_t &r) {
        if (b == 0 || (a == INT64_MIN && b == -1))
          return false;
        r = a / b;
        return true;
      });
}

/// Casts a constant on the host with iolite.cast's rules.
HostTensor castHost(const HostTensor &in, Type to) {
  HostTensor r = HostTensor::zeros(to, in.shape);
  for (int64_t i = 0, n = in.size(); i < n; ++i) {
    if (r.isFloat()) {
      r.floats[i] = in.getDouble(i);
    } else if (to.isInteger(1)) {
      r.ints[i] = in.getDouble(i) != 0.0;
    } else if (in.isFloat()) {
      double v = std::trunc(in.floats[i]);
      r.ints[i] = wrapInt(to, std::isfinite(v) ? static_cast<int64_t>(v) : 0);
    } else {
      r.ints[i] = wrapInt(to, in.ints[i]);
    }
  }
  return r;
}

LogicalResult convertPow(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<RankedTensorType> baseType = ctx.inputType(0),
                              expType = ctx.inputType(1);
  if (failed(baseType) || failed(expType))
    return failure();
  // Pow allows an exponent type other than the base's; fold on constants,
  // otherwise bring the exponent to the base type.
  if (ctx.allInputsConstant()) {
    FailureOr<SmallVector<int64_t>> shape = broadcastShape(ctx, {0, 1});
    if (failed(shape))
      return failure();
    if (std::optional<SmallVector<HostTensor>> in =
            ctx.foldableInputs(numElementsOf(*shape))) {
      HostTensor a = expand((*in)[0], *shape), b = expand((*in)[1], *shape);
      HostTensor r = HostTensor::zeros(a.elemType, *shape);
      for (int64_t i = 0, n = numElementsOf(*shape); i < n; ++i) {
        double v = std::pow(a.getDouble(i), b.getDouble(i));
        if (r.isFloat())
          r.floats[i] = v;
        else
          r.ints[i] = wrapInt(r.elemType, static_cast<int64_t>(v));
      }
      ctx.setOutput(0, r.toAttr());
      return success();
    }
  }
  FailureOr<Value> base = ctx.input(0);
  if (failed(base) || failed(ctx.requireFloat(*base, "the base")))
    return failure();
  FailureOr<Value> e = failure();
  if (DenseElementsAttr c = ctx.constInput(1)) {
    e = ctx.constant(
        castHost(HostTensor::fromAttr(c), baseType->getElementType()).toAttr());
  } else {
    FailureOr<Value> exponent = ctx.input(1);
    if (failed(exponent))
      return failure();
    e = ctx.castElements(*exponent, baseType->getElementType());
  }
  if (failed(e))
    return failure();
  FailureOr<Value> r = ctx.binary<PowOp>(*base, *e);
  if (failed(r))
    return failure();
  ctx.setOutput(0, *r);
  return success();
}

LogicalResult convertMod(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)) || failed(ctx.checkAttributes({"fmod"})))
    return failure();
  FailureOr<int64_t> fmod = ctx.intAttr("fmod", 0);
  if (failed(fmod))
    return failure();
  FailureOr<bool> folded =
      *fmod ? foldBinary(
                  ctx, [](double a, double b) { return std::fmod(a, b); },
                  [](int64_t a, int64_t b, int64_t &r) {
                    if (b == 0)
                      return false;
                    r = a % b;
                    return true;
                  })
            : foldBinary(ctx, nullptr, [](int64_t a, int64_t b, int64_t &r) {
                // Python's %: the result takes the divisor's sign.
                if (b == 0)
                  return false;
                r = a % b;
                if (r != 0 && ((r < 0) != (b < 0)))
                  r += b;
                return true;
              });
  if (failed(folded))
    return failure();
  if (*folded)
    return success();
  // Integers: r = a - (a / b) * b with iolite.div rounding toward zero (C's
  // %, the fmod form); without fmod the result takes the divisor's sign.
  FailureOr<Value> a = ctx.input(0), b = ctx.input(1);
  if (failed(a) || failed(b))
    return failure();
  Type t = cast<RankedTensorType>(a->getType()).getElementType();
  if (!isa<IntegerType>(t) || t.isInteger(1))
    return ctx.emitUnsupported()
           << "Mod of " << onnxTypeName(t)
           << " values computed at run time (iolite has no float remainder)";
  FailureOr<Value> q = ctx.binary<DivOp>(*a, *b);
  if (failed(q))
    return failure();
  FailureOr<Value> qb = ctx.binary<MulOp>(*q, *b);
  if (failed(qb))
    return failure();
  FailureOr<Value> r = ctx.binary<SubOp>(*a, *qb);
  if (failed(r) || *fmod)
    return finish(ctx, r);
  FailureOr<Value> zero = ctx.scalar(t, 0);
  if (failed(zero))
    return failure();
  FailureOr<Value> rNeg = ctx.compare(ComparePredicate::lt, *r, *zero);
  FailureOr<Value> bNeg = ctx.compare(ComparePredicate::lt, *b, *zero);
  FailureOr<Value> rNonZero = ctx.compare(ComparePredicate::ne, *r, *zero);
  if (failed(rNeg) || failed(bNeg) || failed(rNonZero))
    return failure();
  FailureOr<Value> signsDiffer =
      ctx.compare(ComparePredicate::ne, *rNeg, *bNeg);
  if (failed(signsDiffer))
    return failure();
  FailureOr<Value> fix = ctx.select(*rNonZero, *signsDiffer, *rNonZero);
  FailureOr<Value> rb = ctx.binary<AddOp>(*r, *b);
  if (failed(fix) || failed(rb))
    return failure();
  return finish(ctx, ctx.select(*fix, *rb, *r));
}

/// Max, Min, Sum and Mean take one or more inputs.
template <typename OpTy>
LogicalResult convertVariadic(NodeContext &ctx, FloatFn ffn, IntFn ifn,
                              bool mean = false) {
  if (failed(ctx.checkArity(1, ~0u)) || failed(ctx.checkAttributes({})))
    return failure();
  SmallVector<unsigned> all;
  for (unsigned i = 0; i < ctx.numInputs(); ++i)
    all.push_back(i);
  FailureOr<SmallVector<int64_t>> shape = broadcastShape(ctx, all);
  if (failed(shape))
    return failure();
  if (std::optional<SmallVector<HostTensor>> in =
          ctx.foldableInputs(numElementsOf(*shape))) {
    HostTensor r = expand((*in)[0], *shape);
    for (unsigned k = 1; k < in->size(); ++k) {
      HostTensor b = expand((*in)[k], *shape);
      if (b.elemType != r.elemType)
        return ctx.emitError() << "input element types differ";
      for (int64_t i = 0, n = r.size(); i < n; ++i) {
        if (r.isFloat()) {
          r.floats[i] = ffn(r.floats[i], b.floats[i]);
          continue;
        }
        int64_t v;
        (void)ifn(r.ints[i], b.ints[i], v);
        r.ints[i] = wrapInt(r.elemType, v);
      }
    }
    if (mean) {
      if (!r.isFloat())
        return ctx.emitError() << "Mean needs float inputs";
      for (double &v : r.floats)
        v /= static_cast<double>(in->size());
    }
    ctx.setOutput(0, r.toAttr());
    return success();
  }
  FailureOr<Value> acc = ctx.input(0);
  if (failed(acc) || failed(ctx.requireNumeric(*acc, "input 0")))
    return failure();
  for (unsigned k = 1; k < ctx.numInputs(); ++k) {
    FailureOr<Value> b = ctx.input(k);
    if (failed(b))
      return failure();
    acc = ctx.binary<OpTy>(*acc, *b);
    if (failed(acc))
      return failure();
  }
  // A single input still takes the broadcast shape (its own).
  if (mean) {
    if (failed(ctx.requireFloat(*acc, "the input")))
      return failure();
    FailureOr<Value> n =
        ctx.scalar(cast<RankedTensorType>(acc->getType()).getElementType(),
                   static_cast<double>(ctx.numInputs()));
    if (failed(n))
      return failure();
    acc = ctx.binary<DivOp>(*acc, *n);
    if (failed(acc))
      return failure();
  }
  ctx.setOutput(0, *acc);
  return success();
}

bool intAdd(int64_t a, int64_t b, int64_t &r) {
  r = static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  return true;
}
bool intMax(int64_t a, int64_t b, int64_t &r) {
  r = std::max(a, b);
  return true;
}
bool intMin(int64_t a, int64_t b, int64_t &r) {
  r = std::min(a, b);
  return true;
}

LogicalResult convertMax(NodeContext &ctx) {
  return convertVariadic<MaxOp>(ctx, nanMax, intMax);
}
LogicalResult convertMin(NodeContext &ctx) {
  return convertVariadic<MinOp>(ctx, nanMin, intMin);
}
LogicalResult convertSum(NodeContext &ctx) {
  return convertVariadic<AddOp>(
      ctx, [](double a, double b) { return a + b; }, intAdd);
}
LogicalResult convertMean(NodeContext &ctx) {
  return convertVariadic<AddOp>(
      ctx, [](double a, double b) { return a + b; }, intAdd, /*mean=*/true);
}

//===----------------------------------------------------------------------===//
// Comparisons and logic
//===----------------------------------------------------------------------===//

template <ComparePredicate Pred, typename T> bool compareValues(T a, T b) {
  switch (Pred) {
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
  return false;
}

template <ComparePredicate Pred>
LogicalResult convertCompare(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<bool> folded = foldBinary(
      ctx,
      [](double a, double b) -> double { return compareValues<Pred>(a, b); },
      [](int64_t a, int64_t b, int64_t &r) {
        r = compareValues<Pred>(a, b);
        return true;
      },
      IntegerType::get(ctx.ctx, 1));
  if (failed(folded) || *folded)
    return failure(failed(folded));
  FailureOr<Value> a = ctx.input(0), b = ctx.input(1);
  if (failed(a) || failed(b))
    return failure();
  FailureOr<Value> r = ctx.compare(Pred, *a, *b);
  if (failed(r))
    return failure();
  ctx.setOutput(0, *r);
  return success();
}

/// Fails unless `v` is a bool tensor.
LogicalResult requireBool(NodeContext &ctx, Value v, StringRef what) {
  Type t = cast<RankedTensorType>(v.getType()).getElementType();
  if (t.isInteger(1))
    return success();
  return ctx.emitError() << what << " must be bool, got " << onnxTypeName(t);
}

/// And, Or and Xor on bools.
LogicalResult convertLogical(NodeContext &ctx, IntFn fn, int kind) {
  if (failed(ctx.checkArity(2, 2)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<bool> folded =
      foldBinary(ctx, nullptr, fn, IntegerType::get(ctx.ctx, 1));
  if (failed(folded) || *folded)
    return failure(failed(folded));
  FailureOr<Value> a = ctx.input(0), b = ctx.input(1);
  if (failed(a) || failed(b) || failed(requireBool(ctx, *a, "input 0")) ||
      failed(requireBool(ctx, *b, "input 1")))
    return failure();
  FailureOr<Value> r = failure();
  if (kind == 2) {
    r = ctx.compare(ComparePredicate::ne, *a, *b);
  } else {
    // a and b == a ? b : false; a or b == a ? true : b.
    FailureOr<Value> c = ctx.scalar(ctx.builder.getI1Type(), kind == 1);
    if (failed(c))
      return failure();
    r = kind == 0 ? ctx.select(*a, *b, *c) : ctx.select(*a, *c, *b);
  }
  if (failed(r))
    return failure();
  ctx.setOutput(0, *r);
  return success();
}

LogicalResult convertAnd(NodeContext &ctx) {
  return convertLogical(
      ctx,
      [](int64_t a, int64_t b, int64_t &r) {
        r = a && b;
        return true;
      },
      0);
}
LogicalResult convertOr(NodeContext &ctx) {
  return convertLogical(
      ctx,
      [](int64_t a, int64_t b, int64_t &r) {
        r = a || b;
        return true;
      },
      1);
}
LogicalResult convertXor(NodeContext &ctx) {
  return convertLogical(
      ctx,
      [](int64_t a, int64_t b, int64_t &r) {
        r = (a != 0) != (b != 0);
        return true;
      },
      2);
}

LogicalResult convertNot(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<bool> folded =
      foldUnary(ctx, nullptr, [](int64_t v) -> int64_t { return v == 0; });
  if (failed(folded) || *folded)
    return failure(failed(folded));
  FailureOr<Value> x = ctx.input(0);
  if (failed(x) || failed(requireBool(ctx, *x, "the input")))
    return failure();
  FailureOr<Value> f = ctx.scalar(ctx.builder.getI1Type(), 0);
  if (failed(f))
    return failure();
  FailureOr<Value> r = ctx.compare(ComparePredicate::eq, *x, *f);
  if (failed(r))
    return failure();
  ctx.setOutput(0, *r);
  return success();
}

LogicalResult convertWhere(NodeContext &ctx) {
  if (failed(ctx.checkArity(3, 3)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<SmallVector<int64_t>> shape = broadcastShape(ctx, {0, 1, 2});
  if (failed(shape))
    return failure();
  if (std::optional<SmallVector<HostTensor>> in =
          ctx.foldableInputs(numElementsOf(*shape))) {
    HostTensor c = expand((*in)[0], *shape), a = expand((*in)[1], *shape),
               b = expand((*in)[2], *shape);
    if (!c.elemType.isInteger(1) || a.elemType != b.elemType)
      return ctx.emitError() << "needs a bool condition and two values of "
                                "one element type";
    HostTensor r = HostTensor::zeros(a.elemType, *shape);
    for (int64_t i = 0, n = r.size(); i < n; ++i) {
      if (r.isFloat())
        r.floats[i] = c.ints[i] ? a.floats[i] : b.floats[i];
      else
        r.ints[i] = c.ints[i] ? a.ints[i] : b.ints[i];
    }
    ctx.setOutput(0, r.toAttr());
    return success();
  }
  FailureOr<Value> c = ctx.input(0), a = ctx.input(1), b = ctx.input(2);
  if (failed(c) || failed(a) || failed(b))
    return failure();
  FailureOr<Value> r = ctx.select(*c, *a, *b);
  if (failed(r))
    return failure();
  ctx.setOutput(0, *r);
  return success();
}

//===----------------------------------------------------------------------===//
// Unary ops
//===----------------------------------------------------------------------===//

template <typename OpTy>
LogicalResult convertUnary(NodeContext &ctx, double (*ffn)(double),
                           int64_t (*ifn)(int64_t), bool floatOnly) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<bool> folded = foldUnary(ctx, ffn, ifn);
  if (failed(folded) || *folded)
    return failure(failed(folded));
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  if (floatOnly ? failed(ctx.requireFloat(*x, "the input"))
                : failed(ctx.requireNumeric(*x, "the input")))
    return failure();
  ctx.setOutput(0, ctx.unary<OpTy>(*x));
  return success();
}

/// Ops iolite has no op for, evaluated on constants only.
LogicalResult convertFoldOnly(NodeContext &ctx, double (*ffn)(double),
                              int64_t (*ifn)(int64_t)) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<bool> folded = foldUnary(ctx, ffn, ifn);
  if (failed(folded))
    return failure();
  if (*folded)
    return success();
  return ctx.emitUnsupported()
         << ctx.node.opType << " is only evaluated on constants";
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double softplus(double x) {
  return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x)));
}

#define IOLITE_UNARY(NAME, OP, FFN, IFN, FLOAT_ONLY)                           \
  LogicalResult convert##NAME(NodeContext &ctx) {                              \
    return convertUnary<OP>(ctx, FFN, IFN, FLOAT_ONLY);                        \
  }
IOLITE_UNARY(Sqrt, SqrtOp, [](double x) { return std::sqrt(x); }, nullptr, true)
IOLITE_UNARY(
    Reciprocal, ReciprocalOp, [](double x) { return 1.0 / x; }, nullptr, true)
IOLITE_UNARY(Exp, ExpOp, [](double x) { return std::exp(x); }, nullptr, true)
IOLITE_UNARY(Log, LogOp, [](double x) { return std::log(x); }, nullptr, true)
IOLITE_UNARY(Tanh, TanhOp, [](double x) { return std::tanh(x); }, nullptr, true)
IOLITE_UNARY(Erf, ErfOp, [](double x) { return std::erf(x); }, nullptr, true)
IOLITE_UNARY(Sigmoid, SigmoidOp, sigmoid, nullptr, true)
IOLITE_UNARY(Softplus, SoftplusOp, softplus, nullptr, true)
IOLITE_UNARY(Sin, SinOp, [](double x) { return std::sin(x); }, nullptr, true)
IOLITE_UNARY(Cos, CosOp, [](double x) { return std::cos(x); }, nullptr, true)
IOLITE_UNARY(
    Neg, NegOp, [](double x) { return -x; }, [](int64_t x) { return -x; },
    false)
IOLITE_UNARY(
    Abs, AbsOp, [](double x) { return std::fabs(x); },
    [](int64_t x) { return x < 0 ? -x : x; }, false)
IOLITE_UNARY(
    Relu, ReluOp, [](double x) { return x > 0 ? x : 0.0; },
    [](int64_t x) { return x > 0 ? x : int64_t(0); }, false)
#undef IOLITE_UNARY

LogicalResult convertFloor(NodeContext &ctx) {
  return convertFoldOnly(ctx, [](double x) { return std::floor(x); }, nullptr);
}
LogicalResult convertCeil(NodeContext &ctx) {
  return convertFoldOnly(ctx, [](double x) { return std::ceil(x); }, nullptr);
}
LogicalResult convertRound(NodeContext &ctx) {
  // Halves round to even, like the default floating-point rounding mode.
  return convertFoldOnly(
      ctx, [](double x) { return std::nearbyint(x); }, nullptr);
}

//===----------------------------------------------------------------------===//
// Cast, Identity, Dropout, Clip
//===----------------------------------------------------------------------===//

LogicalResult castInput(NodeContext &ctx, Type to) {
  FailureOr<RankedTensorType> type = ctx.inputType(0);
  if (failed(type))
    return failure();
  if (std::optional<SmallVector<HostTensor>> in =
          ctx.foldableInputs(numElementsOf(type->getShape()))) {
    ctx.setOutput(0, castHost((*in)[0], to).toAttr());
    return success();
  }
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  FailureOr<Value> r = ctx.castElements(*x, to);
  if (failed(r))
    return failure();
  ctx.setOutput(0, *r);
  return success();
}

LogicalResult convertCast(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) ||
      failed(ctx.checkAttributes({"to", "saturate"})))
    return failure();
  const NodeAttribute *to = ctx.attr("to");
  if (!to || to->kind != NodeAttribute::Kind::Int)
    return ctx.emitError() << "needs the int attribute 'to'";
  Type elemType = convertDataType(ctx.ctx, static_cast<int32_t>(to->i));
  if (!elemType)
    return ctx.emitUnsupported()
           << "cast to " << dataTypeName(static_cast<int32_t>(to->i));
  return castInput(ctx, elemType);
}

LogicalResult convertCastLike(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)) || failed(ctx.checkAttributes({"saturate"})))
    return failure();
  FailureOr<RankedTensorType> like = ctx.inputType(1);
  if (failed(like))
    return failure();
  return castInput(ctx, like->getElementType());
}

/// Forwards input 0 as it is (a constant stays a constant).
LogicalResult forward(NodeContext &ctx) {
  if (DenseElementsAttr c = ctx.constInput(0)) {
    ctx.setOutput(0, c);
    return success();
  }
  FailureOr<Value> x = ctx.input(0);
  if (failed(x))
    return failure();
  ctx.setOutput(0, *x);
  return success();
}

LogicalResult convertIdentity(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({})))
    return failure();
  return forward(ctx);
}

LogicalResult convertDropout(NodeContext &ctx) {
  // Inference: the identity, with an all-true mask.
  if (failed(ctx.checkArity(1, 3, 1, 2)) ||
      failed(ctx.checkAttributes({"seed", "ratio", "is_test"})))
    return failure();
  if (ctx.hasInput(2)) {
    FailureOr<DenseElementsAttr> training = ctx.constScalar(2, "training_mode");
    if (failed(training))
      return failure();
    if (HostTensor::fromAttr(*training).getInt(0) != 0)
      return ctx.emitUnsupported() << "training mode";
  }
  if (ctx.hasOutput(1)) {
    FailureOr<RankedTensorType> type = ctx.inputType(0);
    if (failed(type))
      return failure();
    auto maskType =
        RankedTensorType::get(type->getShape(), ctx.builder.getI1Type());
    ctx.setOutput(1, DenseElementsAttr::get(maskType, true));
  }
  return forward(ctx);
}

LogicalResult convertClip(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 3)) ||
      failed(ctx.checkAttributes({"min", "max"})))
    return failure();
  FailureOr<Value> x = ctx.input(0);
  if (failed(x) || failed(ctx.requireNumeric(*x, "the input")))
    return failure();
  Type elemType = cast<RankedTensorType>(x->getType()).getElementType();
  Value result = *x;
  // Before opset 11 the bounds are attributes, since then optional inputs.
  for (int bound = 0; bound < 2; ++bound) {
    FailureOr<Value> limit = failure();
    if (ctx.hasInput(1 + bound)) {
      limit = ctx.input(1 + bound);
    } else if (const NodeAttribute *a = ctx.attr(bound == 0 ? "min" : "max")) {
      if (a->kind != NodeAttribute::Kind::Float)
        return ctx.emitError()
               << "attribute '" << a->name << "' must be a float";
      limit = ctx.scalar(elemType, a->f);
    } else {
      continue;
    }
    if (failed(limit))
      return failure();
    FailureOr<Value> r = bound == 0 ? ctx.binary<MaxOp>(result, *limit)
                                    : ctx.binary<MinOp>(result, *limit);
    if (failed(r))
      return failure();
    result = *r;
  }
  ctx.setOutput(0, result);
  return success();
}

//===----------------------------------------------------------------------===//
// Activations composed from iolite ops
//===----------------------------------------------------------------------===//

/// Builds `x op scalar`.
template <typename OpTy>
FailureOr<Value> withScalar(NodeContext &ctx, Value x, double c) {
  FailureOr<Value> s =
      ctx.scalar(cast<RankedTensorType>(x.getType()).getElementType(), c);
  if (failed(s))
    return failure();
  return ctx.binary<OpTy>(x, *s);
}

/// `x cmp c ? a : b`.
FailureOr<Value> selectByCompare(NodeContext &ctx, ComparePredicate pred,
                                 Value x, double c, Value a, Value b) {
  FailureOr<Value> s =
      ctx.scalar(cast<RankedTensorType>(x.getType()).getElementType(), c);
  if (failed(s))
    return failure();
  FailureOr<Value> m = ctx.compare(pred, x, *s);
  if (failed(m))
    return failure();
  return ctx.select(*m, a, b);
}

/// Reads input 0 as a float tensor and the float attributes named in
/// `attrs` with their defaults.
LogicalResult activationPrologue(NodeContext &ctx,
                                 ArrayRef<std::pair<StringRef, float>> attrs,
                                 Value &x, SmallVectorImpl<double> &values) {
  SmallVector<StringRef> names;
  for (auto [name, dflt] : attrs)
    names.push_back(name);
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes(names)))
    return failure();
  for (auto [name, dflt] : attrs) {
    FailureOr<float> v = ctx.floatAttr(name, dflt);
    if (failed(v))
      return failure();
    values.push_back(*v);
  }
  FailureOr<Value> in = ctx.input(0);
  if (failed(in) || failed(ctx.requireFloat(*in, "the input")))
    return failure();
  x = *in;
  return success();
}

LogicalResult convertLeakyRelu(NodeContext &ctx) {
  Value x;
  SmallVector<double> v;
  if (failed(activationPrologue(ctx, {{"alpha", 0.01f}}, x, v)))
    return failure();
  FailureOr<Value> ax = withScalar<MulOp>(ctx, x, v[0]);
  if (failed(ax))
    return failure();
  return finish(ctx,
                selectByCompare(ctx, ComparePredicate::ge, x, 0.0, x, *ax));
}

LogicalResult convertPRelu(NodeContext &ctx) {
  if (failed(ctx.checkArity(2, 2)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<Value> x = ctx.input(0), slope = ctx.input(1);
  if (failed(x) || failed(slope) || failed(ctx.requireFloat(*x, "the input")))
    return failure();
  FailureOr<Value> sx = ctx.binary<MulOp>(*x, *slope);
  if (failed(sx))
    return failure();
  // The result has the broadcast shape of x and slope.
  return finish(ctx,
                selectByCompare(ctx, ComparePredicate::lt, *x, 0.0, *sx, *x));
}

/// alpha * (exp(x) - 1), the negative branch of Elu, Selu and Celu (with
/// x scaled by 1/alpha first for Celu).
FailureOr<Value> expm1Times(NodeContext &ctx, Value x, double alpha) {
  FailureOr<Value> e = ctx.unary<ExpOp>(x);
  FailureOr<Value> em1 = withScalar<SubOp>(ctx, *e, 1.0);
  if (failed(em1))
    return failure();
  return withScalar<MulOp>(ctx, *em1, alpha);
}

LogicalResult convertElu(NodeContext &ctx) {
  Value x;
  SmallVector<double> v;
  if (failed(activationPrologue(ctx, {{"alpha", 1.0f}}, x, v)))
    return failure();
  FailureOr<Value> neg = expm1Times(ctx, x, v[0]);
  if (failed(neg))
    return failure();
  return finish(ctx,
                selectByCompare(ctx, ComparePredicate::lt, x, 0.0, *neg, x));
}

LogicalResult convertSelu(NodeContext &ctx) {
  Value x;
  SmallVector<double> v;
  if (failed(activationPrologue(ctx,
                                {{"alpha", 1.67326319217681884765625f},
                                 {"gamma", 1.05070102214813232421875f}},
                                x, v)))
    return failure();
  FailureOr<Value> neg = expm1Times(ctx, x, v[0]);
  if (failed(neg))
    return failure();
  FailureOr<Value> r =
      selectByCompare(ctx, ComparePredicate::le, x, 0.0, *neg, x);
  if (failed(r))
    return failure();
  return finish(ctx, withScalar<MulOp>(ctx, *r, v[1]));
}

LogicalResult convertCelu(NodeContext &ctx) {
  Value x;
  SmallVector<double> v;
  if (failed(activationPrologue(ctx, {{"alpha", 1.0f}}, x, v)))
    return failure();
  // max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).
  FailureOr<Value> xs = withScalar<DivOp>(ctx, x, v[0]);
  if (failed(xs))
    return failure();
  FailureOr<Value> neg = expm1Times(ctx, *xs, v[0]);
  if (failed(neg))
    return failure();
  FailureOr<Value> lo = withScalar<MinOp>(ctx, *neg, 0.0);
  FailureOr<Value> hi = withScalar<MaxOp>(ctx, x, 0.0);
  if (failed(lo) || failed(hi))
    return failure();
  return finish(ctx, ctx.binary<AddOp>(*hi, *lo));
}

/// max(0, min(1, alpha * x + beta)).
FailureOr<Value> hardSigmoid(NodeContext &ctx, Value x, double alpha,
                             double beta) {
  FailureOr<Value> ax = withScalar<MulOp>(ctx, x, alpha);
  if (failed(ax))
    return failure();
  FailureOr<Value> axb = withScalar<AddOp>(ctx, *ax, beta);
  if (failed(axb))
    return failure();
  FailureOr<Value> lo = withScalar<MinOp>(ctx, *axb, 1.0);
  if (failed(lo))
    return failure();
  return withScalar<MaxOp>(ctx, *lo, 0.0);
}

LogicalResult convertHardSigmoid(NodeContext &ctx) {
  Value x;
  SmallVector<double> v;
  if (failed(activationPrologue(ctx, {{"alpha", 0.2f}, {"beta", 0.5f}}, x, v)))
    return failure();
  return finish(ctx, hardSigmoid(ctx, x, v[0], v[1]));
}

LogicalResult convertHardSwish(NodeContext &ctx) {
  Value x;
  SmallVector<double> v;
  if (failed(activationPrologue(ctx, {}, x, v)))
    return failure();
  FailureOr<Value> hs = hardSigmoid(ctx, x, 1.0 / 6.0, 0.5);
  if (failed(hs))
    return failure();
  return finish(ctx, ctx.binary<MulOp>(x, *hs));
}

LogicalResult convertSoftsign(NodeContext &ctx) {
  Value x;
  SmallVector<double> v;
  if (failed(activationPrologue(ctx, {}, x, v)))
    return failure();
  FailureOr<Value> d = withScalar<AddOp>(ctx, ctx.unary<AbsOp>(x), 1.0);
  if (failed(d))
    return failure();
  return finish(ctx, ctx.binary<DivOp>(x, *d));
}

LogicalResult convertThresholdedRelu(NodeContext &ctx) {
  Value x;
  SmallVector<double> v;
  if (failed(activationPrologue(ctx, {{"alpha", 1.0f}}, x, v)))
    return failure();
  FailureOr<Value> zero =
      ctx.scalar(cast<RankedTensorType>(x.getType()).getElementType(), 0.0);
  if (failed(zero))
    return failure();
  FailureOr<Value> zeros =
      ctx.broadcast(*zero, cast<RankedTensorType>(x.getType()).getShape());
  if (failed(zeros))
    return failure();
  return finish(ctx,
                selectByCompare(ctx, ComparePredicate::gt, x, v[0], x, *zeros));
}

LogicalResult convertMish(NodeContext &ctx) {
  Value x;
  SmallVector<double> v;
  if (failed(activationPrologue(ctx, {}, x, v)))
    return failure();
  Value t = ctx.unary<TanhOp>(ctx.unary<SoftplusOp>(x));
  return finish(ctx, ctx.binary<MulOp>(x, t));
}

LogicalResult convertSign(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<bool> folded = foldUnary(
      ctx, [](double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); },
      [](int64_t x) { return x > 0 ? int64_t(1) : (x < 0 ? -1 : 0); });
  if (failed(folded) || *folded)
    return failure(failed(folded));
  FailureOr<Value> x = ctx.input(0);
  if (failed(x) || failed(ctx.requireNumeric(*x, "the input")))
    return failure();
  // select(x > 0, 1, select(x < 0, -1, 0)); NaN gives 0.
  Type t = cast<RankedTensorType>(x->getType()).getElementType();
  FailureOr<Value> one = ctx.scalar(t, 1), minusOne = ctx.scalar(t, -1),
                   zero = ctx.scalar(t, 0);
  if (failed(one) || failed(minusOne) || failed(zero))
    return failure();
  FailureOr<Value> zeros =
      ctx.broadcast(*zero, cast<RankedTensorType>(x->getType()).getShape());
  if (failed(zeros))
    return failure();
  FailureOr<Value> neg =
      selectByCompare(ctx, ComparePredicate::lt, *x, 0.0, *minusOne, *zeros);
  if (failed(neg))
    return failure();
  return finish(
      ctx, selectByCompare(ctx, ComparePredicate::gt, *x, 0.0, *one, *neg));
}

LogicalResult convertTan(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<bool> folded =
      foldUnary(ctx, [](double x) { return std::tan(x); }, nullptr);
  if (failed(folded) || *folded)
    return failure(failed(folded));
  FailureOr<Value> x = ctx.input(0);
  if (failed(x) || failed(ctx.requireFloat(*x, "the input")))
    return failure();
  return finish(ctx,
                ctx.binary<DivOp>(ctx.unary<SinOp>(*x), ctx.unary<CosOp>(*x)));
}

LogicalResult convertIsNaN(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) || failed(ctx.checkAttributes({})))
    return failure();
  FailureOr<Value> x = ctx.input(0);
  if (failed(x) || failed(ctx.requireFloat(*x, "the input")))
    return failure();
  // NaN is the only value unequal to itself.
  return finish(ctx, ctx.compare(ComparePredicate::ne, *x, *x));
}

LogicalResult convertIsInf(NodeContext &ctx) {
  if (failed(ctx.checkArity(1, 1)) ||
      failed(ctx.checkAttributes({"detect_negative", "detect_positive"})))
    return failure();
  FailureOr<int64_t> neg = ctx.intAttr("detect_negative", 1);
  FailureOr<int64_t> pos = ctx.intAttr("detect_positive", 1);
  FailureOr<Value> x = ctx.input(0);
  if (failed(neg) || failed(pos) || failed(x) ||
      failed(ctx.requireFloat(*x, "the input")))
    return failure();
  Type t = cast<RankedTensorType>(x->getType()).getElementType();
  double inf = std::numeric_limits<double>::infinity();
  if (*neg && *pos) {
    FailureOr<Value> c = ctx.scalar(t, inf);
    if (failed(c))
      return failure();
    return finish(ctx,
                  ctx.compare(ComparePredicate::eq, ctx.unary<AbsOp>(*x), *c));
  }
  FailureOr<Value> c = ctx.scalar(t, *neg ? -inf : inf);
  if (failed(c))
    return failure();
  if (!*neg && !*pos) {
    // Nothing is detected: an all-false mask.
    FailureOr<Value> none = ctx.compare(ComparePredicate::ne, *c, *c);
    if (failed(none))
      return failure();
    return finish(
        ctx,
        ctx.broadcast(*none, cast<RankedTensorType>(x->getType()).getShape()));
  }
  return finish(ctx, ctx.compare(ComparePredicate::eq, *x, *c));
}

LogicalResult convertShrink(NodeContext &ctx) {
  Value x;
  SmallVector<double> v;
  if (failed(activationPrologue(ctx, {{"lambd", 0.5f}, {"bias", 0.0f}}, x, v)))
    return failure();
  // x < -lambd ? x + bias : (x > lambd ? x - bias : 0).
  FailureOr<Value> up = withScalar<AddOp>(ctx, x, v[1]);
  FailureOr<Value> down = withScalar<SubOp>(ctx, x, v[1]);
  FailureOr<Value> zero =
      ctx.scalar(cast<RankedTensorType>(x.getType()).getElementType(), 0.0);
  if (failed(up) || failed(down) || failed(zero))
    return failure();
  FailureOr<Value> zeros =
      ctx.broadcast(*zero, cast<RankedTensorType>(x.getType()).getShape());
  if (failed(zeros))
    return failure();
  FailureOr<Value> hi =
      selectByCompare(ctx, ComparePredicate::gt, x, v[0], *down, *zeros);
  if (failed(hi))
    return failure();
  return finish(ctx,
                selectByCompare(ctx, ComparePredicate::lt, x, -v[0], *up, *hi));
}
} // namespace

void mlir::iolite::onnx_import::populateElementwiseConverters(
    llvm::StringMap<ConvertFn> &map) {
  map["Add"] = convertAdd;
  map["Sub"] = convertSub;
  map["Mul"] = convertMul;
  map["Div"] = convertDiv;
  map["Pow"] = convertPow;
  map["Mod"] = convertMod;
  map["Max"] = convertMax;
  map["Min"] = convertMin;
  map["Sum"] = convertSum;
  map["Mean"] = convertMean;
  map["Equal"] = convertCompare<ComparePredicate::eq>;
  map["Less"] = convertCompare<ComparePredicate::lt>;
  map["LessOrEqual"] = convertCompare<ComparePredicate::le>;
  map["Greater"] = convertCompare<ComparePredicate::gt>;
  map["GreaterOrEqual"] = convertCompare<ComparePredicate::ge>;
  map["And"] = convertAnd;
  map["Or"] = convertOr;
  map["Xor"] = convertXor;
  map["Not"] = convertNot;
  map["Where"] = convertWhere;
  map["Sqrt"] = convertSqrt;
  map["Reciprocal"] = convertReciprocal;
  map["Exp"] = convertExp;
  map["Log"] = convertLog;
  map["Tanh"] = convertTanh;
  map["Erf"] = convertErf;
  map["Sigmoid"] = convertSigmoid;
  map["Softplus"] = convertSoftplus;
  map["Sin"] = convertSin;
  map["Cos"] = convertCos;
  map["Neg"] = convertNeg;
  map["Abs"] = convertAbs;
  map["Relu"] = convertRelu;
  map["Floor"] = convertFloor;
  map["Ceil"] = convertCeil;
  map["Round"] = convertRound;
  map["Sign"] = convertSign;
  map["Cast"] = convertCast;
  map["CastLike"] = convertCastLike;
  map["Identity"] = convertIdentity;
  map["Dropout"] = convertDropout;
  map["Clip"] = convertClip;
  map["LeakyRelu"] = convertLeakyRelu;
  map["PRelu"] = convertPRelu;
  map["Elu"] = convertElu;
  map["Selu"] = convertSelu;
  map["Celu"] = convertCelu;
  map["HardSigmoid"] = convertHardSigmoid;
  map["HardSwish"] = convertHardSwish;
  map["Softsign"] = convertSoftsign;
  map["ThresholdedRelu"] = convertThresholdedRelu;
  map["Mish"] = convertMish;
  map["Tan"] = convertTan;
  map["IsNaN"] = convertIsNaN;
  map["IsInf"] = convertIsInf;
  map["Shrink"] = convertShrink;
}
