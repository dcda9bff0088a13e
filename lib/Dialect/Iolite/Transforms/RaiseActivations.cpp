//===- RaiseActivations.cpp - GELU and SiLU from their formulas -----------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// GELU anchors on the distinctive `1 + erf(..)` / `1 + tanh(..)` and grows
// the product around it through single-use muls until the factors are
// exactly `0.5`, `x` and that sum, in any association and order. SiLU
// anchors on the sigmoid (or the div of the `x / (1 + exp(-x))` form).
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/Transforms/Passes.h"
#include "iolite/Dialect/Iolite/Transforms/Remarks.h"
#include "iolite/Dialect/Iolite/Transforms/Transforms.h"

#include "MatchUtils.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include <cmath>

namespace mlir {
namespace iolite {
#define GEN_PASS_DEF_IOLITERAISEACTIVATIONSPASS
#include "iolite/Dialect/Iolite/Transforms/Passes.h.inc"
} // namespace iolite
} // namespace mlir

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::raising;

/// Constants of the formulas match to this relative tolerance: f16 and bf16
/// roundings of the exact values pass, different constants do not.
static constexpr double kConstRtol = 1e-3;

namespace {

/// The factors of a product: constants multiplied together, and the other
/// operands. Single-use muls (and `root` itself) are flattened.
struct Product {
  double constant = 1.0;
  SmallVector<Value> factors;
  SmallVector<Operation *> ops;
};

void flatten(Value v, Product &p, bool isRoot, unsigned depth = 8) {
  auto mul = v.getDefiningOp<MulOp>();
  // Operands of another shape must be uniform constants: a broadcast of a
  // tensor is not a factor of the elementwise product.
  auto sameShape = [&](Value o) {
    return o.getType() == mul.getType() || getUniformConstant(o);
  };
  if (mul && depth > 0 && (isRoot || mul->hasOneUse()) &&
      sameShape(mul.getLhs()) && sameShape(mul.getRhs())) {
    p.ops.push_back(mul);
    flatten(mul.getLhs(), p, false, depth - 1);
    flatten(mul.getRhs(), p, false, depth - 1);
    return;
  }
  if (std::optional<double> c = getUniformConstant(v)) {
    p.constant *= *c;
    return;
  }
  p.factors.push_back(v);
}

/// A product whose every factor is `x` or `pow(x, n)`: returns the power,
/// or 0 when some factor is something else.
int64_t powerOf(const Product &p, Value x) {
  int64_t n = 0;
  for (Value f : p.factors) {
    if (f == x) {
      ++n;
      continue;
    }
    auto pow = f.getDefiningOp<PowOp>();
    std::optional<double> e = pow && pow.getLhs() == x
                                  ? getUniformConstant(pow.getRhs())
                                  : std::nullopt;
    if (!e || *e != std::floor(*e) || *e < 1)
      return 0;
    n += static_cast<int64_t>(*e);
  }
  return n;
}

/// `sum` is `1 + erf(x / sqrt(2))` or `1 + tanh(...)` (the tanh argument
/// checked by the caller). Returns the erf/tanh op.
Operation *matchOnePlus(AddOp sum) {
  Operation *fn = nullptr;
  matchOperands(sum, true, [&](Value a, Value b) {
    if (!isUniformConstant(b, 1.0, 0.0))
      return false;
    Operation *def = a.getDefiningOp();
    if (!isa_and_nonnull<ErfOp, TanhOp>(def))
      return false;
    fn = def;
    return true;
  });
  return fn;
}

/// For erf: its argument is `x / sqrt(2)` or `x * (1/sqrt(2))`; returns x.
Value matchErfArgument(Value arg, std::string &why) {
  Operation *def = arg.getDefiningOp();
  if (auto div = dyn_cast_or_null<DivOp>(def)) {
    std::optional<double> c = getUniformConstant(div.getRhs());
    if (c && approxEqual(*c, std::sqrt(2.0), kConstRtol))
      return div.getLhs();
    why = "the erf argument is divided by " +
          (c ? numStr(*c) : std::string("a tensor")) + ", not sqrt(2)";
    return {};
  }
  if (isa_and_nonnull<MulOp>(def)) {
    Value x;
    std::optional<double> c;
    matchOperands(def, true, [&](Value a, Value b) {
      c = getUniformConstant(b);
      if (!c)
        return false;
      x = a;
      return true;
    });
    if (x && approxEqual(*c, 1.0 / std::sqrt(2.0), kConstRtol))
      return x;
    why = "the erf argument is not x / sqrt(2)";
    return {};
  }
  why = "the erf argument is not x / sqrt(2)";
  return {};
}

/// For tanh: its argument is `sqrt(2/pi) * (x + 0.044715 * x^3)`; returns x.
Value matchTanhArgument(Value arg, std::string &why) {
  Product outer;
  flatten(arg, outer, /*isRoot=*/true);
  if (outer.factors.size() != 1) {
    why = "the tanh argument is not a constant times (x + c x^3)";
    return {};
  }
  if (!approxEqual(outer.constant, std::sqrt(2.0 / llvm::numbers::pi),
                   kConstRtol)) {
    why = llvm::formatv("the tanh argument is scaled by {0}, not "
                        "sqrt(2/pi)",
                        numStr(outer.constant))
              .str();
    return {};
  }
  auto sum = outer.factors.front().getDefiningOp<AddOp>();
  if (!sum) {
    why = "the tanh argument is not a constant times (x + c x^3)";
    return {};
  }
  Value x;
  std::string cubicWhy = "the tanh argument is not (x + c x^3)";
  matchOperands(sum, true, [&](Value a, Value b) {
    Product cubic;
    flatten(b, cubic, /*isRoot=*/true);
    if (powerOf(cubic, a) != 3)
      return false;
    if (!approxEqual(cubic.constant, 0.044715, kConstRtol)) {
      cubicWhy = llvm::formatv("the cubic term has coefficient {0}, not "
                               "0.044715",
                               numStr(cubic.constant))
                     .str();
      return false;
    }
    x = a;
    return true;
  });
  if (!x)
    why = cubicWhy;
  return x;
}

} // namespace

FailureOr<GeluOp> mlir::iolite::raiseGelu(RewriterBase &rewriter, MulOp root,
                                          const RaisingControl &ctl) {
  Product p;
  flatten(root.getResult(), p, /*isRoot=*/true);
  // Find the `1 + erf/tanh` factor: it makes root a candidate.
  AddOp sum;
  Operation *fn = nullptr;
  for (Value f : p.factors)
    if (auto add = f.getDefiningOp<AddOp>())
      if (Operation *g = matchOnePlus(add)) {
        sum = add;
        fn = g;
        break;
      }
  if (!sum)
    return failure();
  // Only the smallest product holding the whole formula anchors: a product
  // that is still missing a factor defers to its user.
  bool incomplete = p.factors.size() < 2 || p.constant == 1.0;
  if (incomplete && root->hasOneUse() && isa<MulOp>(*root->getUsers().begin()))
    return failure();
  auto miss = [&](const Twine &why) -> FailureOr<GeluOp> {
    ctl.nearMiss(root, "gelu", why);
    return failure();
  };
  bool tanhForm = isa<TanhOp>(fn);
  std::string why;
  Value x = tanhForm ? matchTanhArgument(fn->getOperand(0), why)
                     : matchErfArgument(fn->getOperand(0), why);
  if (!x)
    return miss(why);
  bool exact = p.factors.size() == 2 &&
               llvm::is_contained(p.factors, Value(sum.getResult())) &&
               llvm::is_contained(p.factors, x);
  if (!exact) {
    // A product around a complete GELU (say gelu(x) * y, flattened through
    // the GELU's single-use muls) defers to the inner product.
    for (Operation *inner : ArrayRef(p.ops).drop_front()) {
      Product q;
      flatten(inner->getResult(0), q, /*isRoot=*/true);
      if (q.factors.size() == 2 &&
          llvm::is_contained(q.factors, Value(sum.getResult())) &&
          llvm::is_contained(q.factors, x) &&
          approxEqual(q.constant, 0.5, kConstRtol))
        return failure();
    }
  }
  if (!exact)
    return miss("the product is not exactly x * (1 + " +
                Twine(tanhForm ? "tanh" : "erf") + "(..)) times a constant");
  if (!approxEqual(p.constant, 0.5, kConstRtol))
    return miss(llvm::formatv("the product's constant is {0}, not 0.5",
                              numStr(p.constant))
                    .str());
  if (x.getType() != root.getType())
    return miss("the GELU input has another type than the product");
  for (Operation *op : {static_cast<Operation *>(sum), fn})
    if (!op->hasOneUse())
      return miss("'" + op->getName().getStringRef() +
                  "' is also used outside the GELU");
  rewriter.setInsertionPoint(root);
  auto gelu = GeluOp::create(rewriter, root.getLoc(), x,
                             tanhForm ? GeluApproximation::tanh
                                      : GeluApproximation::none);
  rewriter.replaceOp(root, gelu.getResult());
  ctl.raised(gelu, "gelu",
             Twine("raised to iolite.gelu (") + (tanhForm ? "tanh" : "erf") +
                 " form)");
  return gelu;
}

FailureOr<SiluOp> mlir::iolite::raiseSilu(RewriterBase &rewriter,
                                          Operation *root,
                                          const RaisingControl &ctl) {
  Value x;
  if (auto mul = dyn_cast<MulOp>(root)) {
    Value sigArg;
    bool found = matchOperands(mul, true, [&](Value a, Value b) {
      auto sig = b.getDefiningOp<SigmoidOp>();
      if (!sig)
        return false;
      sigArg = sig.getInput();
      x = a;
      return true;
    });
    if (!found)
      return failure();
    if (x != sigArg) {
      ctl.nearMiss(root, "silu",
                   "the sigmoid's input is not the value it multiplies (a "
                   "gate, not SiLU)");
      return failure();
    }
  } else if (auto div = dyn_cast<DivOp>(root)) {
    // x / (1 + exp(-x)).
    auto add = div.getRhs().getDefiningOp<AddOp>();
    Value expArg;
    bool found = add && matchOperands(add, true, [&](Value a, Value b) {
                   auto e = a.getDefiningOp<ExpOp>();
                   if (!e || !isUniformConstant(b, 1.0, 0.0))
                     return false;
                   expArg = e.getInput();
                   return true;
                 });
    if (!found)
      return failure();
    auto neg = expArg.getDefiningOp<NegOp>();
    if (!neg || neg.getInput() != div.getLhs()) {
      ctl.nearMiss(root, "silu",
                   "the denominator is not 1 + exp(-x) of the numerator x");
      return failure();
    }
    x = div.getLhs();
  } else {
    return failure();
  }
  if (x.getType() != root->getResult(0).getType()) {
    ctl.nearMiss(root, "silu", "the product broadcasts x to another shape");
    return failure();
  }
  rewriter.setInsertionPoint(root);
  auto silu = SiluOp::create(rewriter, root->getLoc(), x);
  rewriter.replaceOp(root, silu.getResult());
  ctl.raised(silu, "silu", "raised to iolite.silu");
  return silu;
}

namespace {
struct RaiseGeluPattern : OpRewritePattern<MulOp> {
  RaiseGeluPattern(MLIRContext *ctx, RaisingControl control)
      : OpRewritePattern(ctx, /*benefit=*/2), control(std::move(control)) {}
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    return raiseGelu(rewriter, op, control);
  }
  RaisingControl control;
};

struct RaiseSiluPattern : RewritePattern {
  RaiseSiluPattern(MLIRContext *ctx, RaisingControl control)
      : RewritePattern(MatchAnyOpTypeTag(), /*benefit=*/1, ctx),
        control(std::move(control)) {}
  LogicalResult matchAndRewrite(Operation *op,
                                PatternRewriter &rewriter) const override {
    if (!isa<MulOp, DivOp>(op))
      return failure();
    return raiseSilu(rewriter, op, control);
  }
  RaisingControl control;
};

struct IoliteRaiseActivationsPass
    : iolite::impl::IoliteRaiseActivationsPassBase<IoliteRaiseActivationsPass> {
  using Base::Base;
  void runOnOperation() override {
    RemarkCollector remarks(getArgument(), this->remarks);
    RewritePatternSet patterns(&getContext());
    populateRaiseActivationPatterns(patterns, remarkingControl(remarks));
    if (failed(applyRaisingPatterns(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

void mlir::iolite::populateRaiseActivationPatterns(
    RewritePatternSet &patterns, const RaisingControl &control) {
  patterns.add<RaiseGeluPattern>(patterns.getContext(), control);
  patterns.add<RaiseSiluPattern>(patterns.getContext(), control);
}
