//===- RaiseNorms.cpp - Elementwise/reduction norms to rms/layer_norm -----===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Both norms share a core: `x * rsqrt(stat(x) + eps)` (or `x / sqrt(...)`)
// where `stat` is the mean of `x^2` over trailing dims. RMSNorm is the core
// on the input itself; LayerNorm is the core on `x - mean(x)`. Around the
// core sit optional float casts, a weight mul and (LayerNorm) a bias add.
// A rewrite anchors on the outermost op of that chain; an op inside a chain
// that a user would extend defers to that user.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/IR/TypeInference.h"
#include "iolite/Dialect/Iolite/Transforms/Passes.h"
#include "iolite/Dialect/Iolite/Transforms/Remarks.h"
#include "iolite/Dialect/Iolite/Transforms/Transforms.h"

#include "MatchUtils.h"

#include "llvm/Support/FormatVariadic.h"

namespace mlir {
namespace iolite {
#define GEN_PASS_DEF_IOLITERAISENORMSPASS
#include "iolite/Dialect/Iolite/Transforms/Passes.h.inc"
} // namespace iolite
} // namespace mlir

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::raising;

namespace {

/// The result of looking at one op as the end of a norm.
struct NormMatch {
  /// The op the core normalises with (the mul or div by the statistic).
  Operation *normalize = nullptr;
  /// The value normalised (for LayerNorm, the centred `x - mean`).
  Value x;
  double epsilon = 0;
  /// Normalised dims, ascending.
  SmallVector<int64_t> axes;
  /// The ops of the core, to check their uses.
  SmallVector<Operation *> coreOps;
  /// Around the core, from the inside out.
  Value weight, bias;
  Operation *weightOp = nullptr, *biasOp = nullptr;
  SmallVector<Operation *> outerOps;
};

/// `v = 1 / sqrt(s)` in any of the ways exporters write it: returns `s`.
Value matchInverseSqrt(Value v, SmallVectorImpl<Operation *> &ops) {
  Operation *def = v.getDefiningOp();
  if (!def)
    return {};
  if (auto r = dyn_cast<RsqrtOp>(def)) {
    ops.push_back(r);
    return r.getInput();
  }
  if (auto r = dyn_cast<ReciprocalOp>(def))
    if (auto s = r.getInput().getDefiningOp<SqrtOp>()) {
      ops.append({r, s});
      return s.getInput();
    }
  if (auto d = dyn_cast<DivOp>(def))
    if (isUniformConstant(d.getLhs(), 1.0))
      if (auto s = d.getRhs().getDefiningOp<SqrtOp>()) {
        ops.append({d, s});
        return s.getInput();
      }
  if (auto p = dyn_cast<PowOp>(def))
    if (isUniformConstant(p.getRhs(), -0.5)) {
      ops.push_back(p);
      return p.getLhs();
    }
  return {};
}

/// `v = sqrt(s)`: returns `s`.
Value matchSqrt(Value v, SmallVectorImpl<Operation *> &ops) {
  Operation *def = v.getDefiningOp();
  if (auto s = dyn_cast_or_null<SqrtOp>(def)) {
    ops.push_back(s);
    return s.getInput();
  }
  if (auto p = dyn_cast_or_null<PowOp>(def))
    if (isUniformConstant(p.getRhs(), 0.5)) {
      ops.push_back(p);
      return p.getLhs();
    }
  return {};
}

/// `v = x^2`: returns `x`.
Value matchSquare(Value v, SmallVectorImpl<Operation *> &ops) {
  Operation *def = v.getDefiningOp();
  if (auto p = dyn_cast_or_null<PowOp>(def))
    if (isUniformConstant(p.getRhs(), 2.0)) {
      ops.push_back(p);
      return p.getLhs();
    }
  if (auto m = dyn_cast_or_null<MulOp>(def))
    if (m.getLhs() == m.getRhs()) {
      ops.push_back(m);
      return m.getLhs();
    }
  return {};
}

/// Normalised, sorted axes of a reduce.
SmallVector<int64_t> reduceAxes(ReduceOp r) {
  int64_t rank = r.getInput().getType().getRank();
  SmallVector<int64_t> axes;
  for (int64_t a : r.getAxes())
    axes.push_back(a < 0 ? a + rank : a);
  llvm::sort(axes);
  return axes;
}

/// True when `axes` are the trailing dims of a rank-`rank` tensor.
bool areTrailing(ArrayRef<int64_t> axes, int64_t rank) {
  if (axes.empty())
    return false;
  for (size_t i = 0; i < axes.size(); ++i)
    if (axes[i] != rank - static_cast<int64_t>(axes.size() - i))
      return false;
  return true;
}

/// `v = mean(y, axes)` as `reduce mean` or `reduce sum` divided (or
/// multiplied) by the reduced size, with kept dims. Returns the reduce, or
/// null with `why` set when `v` is a reduction that is not such a mean.
ReduceOp matchMean(Value v, SmallVectorImpl<Operation *> &ops,
                   std::string &why) {
  Operation *def = v.getDefiningOp();
  if (!def)
    return {};
  ReduceOp r = dyn_cast<ReduceOp>(def);
  std::optional<double> factor = 1.0;
  Operation *scaleOp = nullptr;
  if (!r) {
    if (auto d = dyn_cast<DivOp>(def)) {
      r = d.getLhs().getDefiningOp<ReduceOp>();
      std::optional<double> c = getUniformConstant(d.getRhs());
      factor = c && *c != 0 ? std::optional<double>(1.0 / *c) : std::nullopt;
      scaleOp = d;
    } else if (auto m = dyn_cast<MulOp>(def)) {
      matchOperands(m, true, [&](Value a, Value b) {
        auto ra = a.getDefiningOp<ReduceOp>();
        if (!ra)
          return false;
        r = ra;
        factor = getUniformConstant(b);
        return true;
      });
      scaleOp = m;
    }
    if (!r)
      return {};
    if (r.getKind() != ReduceKind::sum) {
      why = "the statistic scales a non-sum reduction";
      return {};
    }
  } else if (r.getKind() != ReduceKind::mean) {
    if (r.getKind() == ReduceKind::sum)
      why = "the statistic is a plain sum of squares, not a mean";
    else
      why = "the statistic is not a mean";
    return {};
  }
  if (!r.getKeepDims()) {
    why = "the statistic drops the reduced dims (keep_dims is not set)";
    return {};
  }
  // Batch and sequence dims may be symbolic; the normalised dims set the
  // mean's scale and the weight's shape, so they must be static.
  auto inType = r.getInput().getType();
  if (llvm::any_of(reduceAxes(r),
                   [&](int64_t a) { return inType.isDynamicDim(a); })) {
    why = "the statistic reduces a dynamic dim";
    return {};
  }
  if (scaleOp) {
    int64_t count = 1;
    for (int64_t a : reduceAxes(r))
      count *= inType.getDimSize(a);
    if (!factor || !approxEqual(*factor, 1.0 / count, 1e-6)) {
      why = llvm::formatv(
                "the sum is scaled by {0}, not 1/{1} (the reduced "
                "size)",
                factor ? numStr(*factor) : std::string("a non-constant"), count)
                .str();
      return {};
    }
    ops.push_back(scaleOp);
  }
  ops.push_back(r);
  return r;
}

/// True when `v = y - mean(y)` over the same axes as `axes`.
bool isCentred(Value v, ArrayRef<int64_t> axes) {
  auto sub = v.getDefiningOp<SubOp>();
  if (!sub)
    return false;
  SmallVector<Operation *> ops;
  std::string why;
  ReduceOp mean = matchMean(sub.getRhs(), ops, why);
  return mean && mean.getInput() == sub.getLhs() && reduceAxes(mean) == axes;
}

enum class CoreResult { NotCandidate, NearMiss, Match };

/// Matches `op` as the normalising op of the core. Fills `m` (normalize, x,
/// epsilon, axes, coreOps) and returns Match, or NearMiss with `why`.
CoreResult matchCore(Operation *op, NormMatch &m, std::string &why) {
  SmallVector<Operation *> ops;
  Value x, s;
  if (isa<MulOp>(op)) {
    matchOperands(op, true, [&](Value a, Value b) {
      SmallVector<Operation *> tmp;
      Value inner = matchInverseSqrt(b, tmp);
      if (!inner)
        return false;
      x = a;
      s = inner;
      ops.append(tmp);
      return true;
    });
  } else if (auto div = dyn_cast<DivOp>(op)) {
    s = matchSqrt(div.getRhs(), ops);
    x = div.getLhs();
  }
  // `c / sqrt(s)` is the inverse RMS itself, not a normalisation.
  if (!s || getUniformConstant(x))
    return CoreResult::NotCandidate;
  m.x = x;
  // s = stat + eps (or the statistic alone: eps = 0).
  Value stat = s;
  double eps = 0;
  if (auto add = s.getDefiningOp<AddOp>()) {
    bool found = matchOperands(add, true, [&](Value a, Value b) {
      std::optional<double> c = getUniformConstant(b);
      if (!c)
        return false;
      stat = a;
      eps = *c;
      return true;
    });
    if (!found) {
      // Only a real statistic makes this a candidate.
      SmallVector<Operation *> tmp;
      std::string ignore;
      if (!matchMean(add.getLhs(), tmp, ignore) &&
          !matchMean(add.getRhs(), tmp, ignore))
        return CoreResult::NotCandidate;
      why = "epsilon is not a uniform constant";
      return CoreResult::NearMiss;
    }
    ops.push_back(add);
  }
  std::string meanWhy;
  ReduceOp mean = matchMean(stat, ops, meanWhy);
  if (!mean) {
    if (meanWhy.empty())
      return CoreResult::NotCandidate;
    why = meanWhy;
    return CoreResult::NearMiss;
  }
  SmallVector<Operation *> sqOps;
  Value y = matchSquare(mean.getInput(), sqOps);
  if (!y)
    return CoreResult::NotCandidate;
  ops.append(sqOps);
  if (y != x) {
    why = "the squared value is not the value being normalised";
    return CoreResult::NearMiss;
  }
  if (!(eps >= 0)) {
    why = "epsilon " + numStr(eps) + " is negative";
    return CoreResult::NearMiss;
  }
  auto xType = dyn_cast<RankedTensorType>(x.getType());
  if (!xType || op->getResult(0).getType() != xType) {
    why = "the normalising op broadcasts the input to another shape";
    return CoreResult::NearMiss;
  }
  m.normalize = op;
  m.x = x;
  m.epsilon = eps;
  m.axes = reduceAxes(mean);
  m.coreOps = std::move(ops);
  return CoreResult::Match;
}

/// True when `w` can be a weight/bias of the normalised shape of `t`:
/// the trailing dims `axes`, optionally behind leading 1s.
bool isParam(Value w, RankedTensorType t, ArrayRef<int64_t> axes) {
  auto wt = dyn_cast<RankedTensorType>(w.getType());
  if (!wt || !wt.hasStaticShape())
    return false;
  ArrayRef<int64_t> normShape = t.getShape().take_back(axes.size());
  if (llvm::is_contained(normShape, ShapedType::kDynamic))
    return false;
  ArrayRef<int64_t> ws = wt.getShape();
  if (ws.size() < normShape.size() || ws.size() > t.getShape().size())
    return false;
  if (ws.take_back(normShape.size()) != normShape)
    return false;
  return llvm::all_of(ws.drop_back(normShape.size()),
                      [](int64_t d) { return d == 1; });
}

/// Extends a core match outwards from `m.normalize` through float casts, a
/// weight mul and (with `allowBias`) a bias add, stopping at `stop` when
/// given. Returns the outermost op reached.
Operation *extendOutwards(NormMatch &m, bool allowBias, Operation *stop) {
  Operation *end = m.normalize;
  auto xType = cast<RankedTensorType>(m.x.getType());
  int casts = 0;
  while (end != stop && end->hasOneUse()) {
    Operation *user = *end->getUsers().begin();
    Value cur = end->getResult(0);
    auto curType = cast<RankedTensorType>(cur.getType());
    if (auto c = dyn_cast<CastOp>(user)) {
      if (casts >= 2 || !isa<FloatType>(c.getType().getElementType()))
        break;
      ++casts;
      m.outerOps.push_back(c);
      end = c;
      continue;
    }
    auto paramOf = [&](Operation *op) -> Value {
      Value other =
          op->getOperand(0) == cur ? op->getOperand(1) : op->getOperand(0);
      if (other == cur || op->getResult(0).getType() != curType ||
          !isParam(other, xType, m.axes))
        return {};
      return other;
    };
    if (isa<MulOp>(user) && !m.weight && !m.bias) {
      Value w = paramOf(user);
      if (!w)
        break;
      m.weight = w;
      m.weightOp = user;
      m.outerOps.push_back(user);
      end = user;
      continue;
    }
    if (allowBias && isa<AddOp>(user) && !m.bias) {
      Value b = paramOf(user);
      if (!b)
        break;
      m.bias = b;
      m.biasOp = user;
      m.outerOps.push_back(user);
      end = user;
      continue;
    }
    break;
  }
  return end;
}

/// Matches the norm whose normalising op is `anchor` and extends it
/// outwards to its last op.
CoreResult matchNormAt(Operation *anchor, bool layerNorm, NormMatch &m,
                       Operation *&end, std::string &why) {
  CoreResult r = matchCore(anchor, m, why);
  if (r != CoreResult::Match)
    return r;
  if (isCentred(m.x, m.axes) != layerNorm)
    return CoreResult::NotCandidate;
  int64_t rank = cast<RankedTensorType>(m.x.getType()).getRank();
  if (layerNorm ? !areTrailing(m.axes, rank)
                : (m.axes.size() != 1 || m.axes[0] != rank - 1)) {
    std::string dims;
    llvm::raw_string_ostream os(dims);
    llvm::interleaveComma(m.axes, os);
    why = llvm::formatv("the statistic reduces dims [{0}], not the {1}", dims,
                        layerNorm ? "trailing dims" : "last dim")
              .str();
    return CoreResult::NearMiss;
  }
  if (layerNorm) {
    // The centring belongs to the norm too.
    auto sub = m.x.getDefiningOp<SubOp>();
    std::string ignore;
    SmallVector<Operation *> meanOps;
    (void)matchMean(sub.getRhs(), meanOps, ignore);
    m.coreOps.push_back(sub);
    m.coreOps.append(meanOps);
  }
  end = extendOutwards(m, layerNorm, nullptr);
  return CoreResult::Match;
}

/// Checks that every op the rewrite replaces is used only inside the norm.
LogicalResult checkUses(const NormMatch &m, Operation *root, std::string &why) {
  llvm::SmallPtrSet<Operation *, 16> inside(m.coreOps.begin(), m.coreOps.end());
  inside.insert(m.normalize);
  inside.insert(m.outerOps.begin(), m.outerOps.end());
  for (Operation *op : inside) {
    if (op == root)
      continue;
    for (Operation *user : op->getUsers())
      if (!inside.contains(user)) {
        why = ("the intermediate '" + op->getName().getStringRef() +
               "' is also used outside the norm")
                  .str();
        return failure();
      }
  }
  return success();
}

/// Casts or reshapes a weight/bias to what the norm op accepts: the
/// normalised shape, in the input's element type or f32.
Value prepareParam(RewriterBase &rewriter, Value p, RankedTensorType input,
                   size_t normRank) {
  auto pt = cast<RankedTensorType>(p.getType());
  Location loc = p.getLoc();
  if (pt.getRank() != static_cast<int64_t>(normRank))
    p = ReshapeOp::create(rewriter, loc,
                          pt.clone(pt.getShape().take_back(normRank)), p);
  Type et = cast<RankedTensorType>(p.getType()).getElementType();
  if (et != input.getElementType() && !et.isF32())
    p = CastOp::create(
        rewriter, loc,
        cast<RankedTensorType>(p.getType()).clone(input.getElementType()), p);
  return p;
}

/// The norm's input: `x`, or the narrower value `x` was upcast from when the
/// chain casts its result back to that type.
Value chooseInput(const NormMatch &m, Operation *root) {
  Type outType = root->getResult(0).getType();
  if (auto c = m.x.getDefiningOp<CastOp>())
    if (c.getInput().getType() == outType &&
        cast<RankedTensorType>(m.x.getType()).getElementType().isF32())
      return c.getInput();
  return m.x;
}

template <typename NormOp>
FailureOr<NormOp> raiseNorm(RewriterBase &rewriter, Operation *anchor,
                            const RaisingControl &ctl, bool layerNorm) {
  StringRef name = layerNorm ? "layer_norm" : "rms_norm";
  NormMatch m;
  std::string why;
  Operation *root = nullptr;
  CoreResult r = matchNormAt(anchor, layerNorm, m, root, why);
  if (r == CoreResult::NotCandidate)
    return failure();
  if (r == CoreResult::NearMiss) {
    // Report a near miss once, under the norm the normalised value suggests.
    auto sub = m.x ? m.x.getDefiningOp<SubOp>() : SubOp();
    bool looksCentred = sub && sub.getRhs().getDefiningOp<ReduceOp>();
    if (looksCentred == layerNorm)
      ctl.nearMiss(anchor, name, why);
    return failure();
  }
  if (failed(checkUses(m, root, why))) {
    ctl.nearMiss(anchor, name, why);
    return failure();
  }
  NormMatch view = m;
  if (layerNorm)
    view.x = m.x.getDefiningOp<SubOp>().getLhs();
  Value input = chooseInput(view, root);
  auto inputType = cast<RankedTensorType>(input.getType());
  Location loc = rewriter.getFusedLoc({anchor->getLoc(), root->getLoc()});
  rewriter.setInsertionPoint(root);
  Value weight =
      m.weight ? prepareParam(rewriter, m.weight, inputType, m.axes.size())
               : Value();
  Value bias = m.bias ? prepareParam(rewriter, m.bias, inputType, m.axes.size())
                      : Value();
  auto eps = rewriter.getF32FloatAttr(static_cast<float>(m.epsilon));
  NormOp norm;
  if constexpr (std::is_same_v<NormOp, RmsNormOp>) {
    norm = RmsNormOp::create(rewriter, loc, input, weight, eps);
  } else {
    int64_t axis = m.axes.front();
    norm = LayerNormOp::create(rewriter, loc, input, weight, bias,
                               rewriter.getI64IntegerAttr(axis), eps);
  }
  Value result = norm.getResult();
  if (result.getType() != root->getResult(0).getType())
    result =
        CastOp::create(rewriter, loc, root->getResult(0).getType(), result);
  rewriter.replaceOp(root, result);
  ctl.raised(norm, name,
             llvm::formatv("raised to iolite.{0} (epsilon {1}{2}{3})", name,
                           numStr(m.epsilon), m.weight ? ", weight" : "",
                           m.bias ? ", bias" : "")
                 .str());
  return norm;
}

} // namespace

FailureOr<RmsNormOp> mlir::iolite::raiseRmsNorm(RewriterBase &rewriter,
                                                Operation *root,
                                                const RaisingControl &ctl) {
  return raiseNorm<RmsNormOp>(rewriter, root, ctl, /*layerNorm=*/false);
}

FailureOr<LayerNormOp> mlir::iolite::raiseLayerNorm(RewriterBase &rewriter,
                                                    Operation *root,
                                                    const RaisingControl &ctl) {
  return raiseNorm<LayerNormOp>(rewriter, root, ctl, /*layerNorm=*/true);
}

namespace {
/// Tries LayerNorm then RMSNorm on every op that can normalise.
struct RaiseNormPattern : RewritePattern {
  RaiseNormPattern(MLIRContext *ctx, RaisingControl control)
      : RewritePattern(MatchAnyOpTypeTag(), /*benefit=*/1, ctx),
        control(std::move(control)) {}
  LogicalResult matchAndRewrite(Operation *op,
                                PatternRewriter &rewriter) const override {
    if (!isa<MulOp, DivOp>(op))
      return failure();
    if (succeeded(raiseLayerNorm(rewriter, op, control)))
      return success();
    return raiseRmsNorm(rewriter, op, control);
  }
  RaisingControl control;
};

struct IoliteRaiseNormsPass
    : iolite::impl::IoliteRaiseNormsPassBase<IoliteRaiseNormsPass> {
  using Base::Base;
  void runOnOperation() override {
    RemarkCollector remarks(getArgument(), this->remarks);
    RewritePatternSet patterns(&getContext());
    populateRaiseNormPatterns(patterns, remarkingControl(remarks));
    if (failed(applyRaisingPatterns(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

void mlir::iolite::populateRaiseNormPatterns(RewritePatternSet &patterns,
                                             const RaisingControl &control) {
  patterns.add<RaiseNormPattern>(patterns.getContext(), control);
}
