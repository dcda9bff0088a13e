//===- RaiseScan.cpp - Mamba's step-size prologue and gate into the scan --===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// A Mamba block written as separate ops computes the scan's step size as
// softplus(delta + bias) before a bare iolite.selective_scan, and adds the
// D skip and multiplies by silu(z) after it. The scan op has operands and
// an attribute for exactly these (delta_bias, delta_softplus, D, z): raised
// into it, the scan kernel reads every input once instead of writing and
// re-reading the step sizes and the scan output around it. Mamba-2's
// iolite.ssd takes the step-size prologue (dt_bias, dt_softplus) and the D
// skip the same way.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/Transforms/Passes.h"
#include "iolite/Dialect/Iolite/Transforms/Remarks.h"
#include "iolite/Dialect/Iolite/Transforms/Transforms.h"

#include "MatchUtils.h"

#include "llvm/ADT/SmallString.h"

namespace mlir {
namespace iolite {
#define GEN_PASS_DEF_IOLITERAISESCANPASS
#include "iolite/Dialect/Iolite/Transforms/Passes.h.inc"
} // namespace iolite
} // namespace mlir

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::raising;

static constexpr StringLiteral kRewrite = "selective_scan";

namespace {

/// True if every op between `v` and `root` (float casts) has one use.
bool castsHaveOneUse(Value v, Value root) {
  while (v != root) {
    auto c = v.getDefiningOp<CastOp>();
    if (!c || !v.hasOneUse())
      return false;
    v = c.getInput();
  }
  return true;
}

/// True if `v` broadcasts against `of` as a vector along `axis`: size
/// `of`'s at that axis, 1 at the axes after it, absent or 1 before it
/// (`[D, 1]` or `[1, D, 1]` for the channels of `[B, D, L]`), with elements
/// of `of`'s type or f32 (what the scan ops take).
bool isVectorAlong(Value v, RankedTensorType of, int64_t axis) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape() || type.getRank() > of.getRank())
    return false;
  Type et = type.getElementType();
  if (!et.isF32() && et != of.getElementType())
    return false;
  int64_t offset = of.getRank() - type.getRank();
  if (axis < offset)
    return false;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    int64_t want = d + offset == axis ? of.getDimSize(axis) : 1;
    if (type.getDimSize(d) != want)
      return false;
  }
  return true;
}

/// `v` (a vector along one axis) reshaped to one dim.
Value toChannels(RewriterBase &rewriter, Value v) {
  if (!v)
    return v;
  auto type = cast<RankedTensorType>(v.getType());
  return ReshapeOp::create(
      rewriter, v.getLoc(),
      RankedTensorType::get({type.getNumElements()}, type.getElementType()), v);
}

/// The single user of `v`, or null.
Operation *singleUser(Value v) {
  return v.hasOneUse() ? *v.getUsers().begin() : nullptr;
}

/// What precedes a scan's step-size operand:
/// `dt = cast(softplus(cast(raw) + bias))`, each piece optional.
struct StepSize {
  Value raw;
  Value bias;
  bool softplus = false;
};

/// Matches the step size `dt` of a scan whose raw step sizes have type
/// `rawType` and whose bias is a vector along `axis` of it. Nothing to
/// absorb gives `raw == dt`; a softplus over a sum that is not a bias is a
/// near miss (failure).
FailureOr<StepSize> matchStepSize(Value dt, RankedTensorType rawType,
                                  int64_t axis, Operation *anchor,
                                  StringRef rewrite, const char *biasForm,
                                  const RaisingControl &ctl) {
  StepSize step{dt, Value(), false};
  Value cur = stripFloatCasts(dt);
  if (!castsHaveOneUse(dt, cur))
    cur = dt;
  if (auto sp = cur.getDefiningOp<SoftplusOp>(); sp && cur.hasOneUse()) {
    step.softplus = true;
    cur = stripFloatCasts(sp.getInput());
    if (!castsHaveOneUse(sp.getInput(), cur))
      return failure();
  }
  if (auto add = cur.getDefiningOp<AddOp>(); add && cur.hasOneUse()) {
    for (int side = 0; side < 2 && !step.bias; ++side) {
      Value raw = stripFloatCasts(side ? add.getRhs() : add.getLhs());
      Value other = side ? add.getLhs() : add.getRhs();
      if (raw.getType() == rawType && isVectorAlong(other, rawType, axis)) {
        step.bias = other;
        cur = raw;
      }
    }
    if (!step.bias && step.softplus) {
      ctl.nearMiss(anchor, rewrite,
                   Twine("the step size adds a term that is not a ") +
                       biasForm);
      return failure();
    }
  }
  if (step.softplus || step.bias) {
    step.raw = stripFloatCasts(cur);
    if (step.raw.getType() != rawType)
      return failure();
  }
  return step;
}

/// What follows a scan's result `y`: `cast(y) + cast(input) * D`, then
/// `* silu(cast(z))` (when the op takes a gate), rounded to the input type.
struct Epilogue {
  Value d, z;
  /// The value the raised op replaces; null when nothing is absorbed.
  Value end;
};

/// Matches the epilogue of `y`, a scan over `input` of type `inType` with D
/// a vector along `axis`. A piece is absorbed only where the chain is
/// rounded to `inType` right after it: the op rounds once, and absorbing a
/// sum that more f32 math follows would add a rounding (a near miss).
Epilogue matchEpilogue(Value y, Value input, RankedTensorType inType,
                       int64_t axis, bool takesGate, Operation *anchor,
                       StringRef rewrite, const RaisingControl &ctl) {
  auto rounded = [&](Value v) -> Value {
    if (v.getType() == inType)
      return v;
    auto c = dyn_cast_or_null<CastOp>(singleUser(v));
    return c && c.getType() == inType ? c.getResult() : Value();
  };
  Epilogue best;
  Value v = y;
  Operation *user = singleUser(v);
  if (auto c = dyn_cast_or_null<CastOp>(user);
      c && isa<FloatType>(c.getType().getElementType())) {
    v = c.getResult();
    user = singleUser(v);
  }
  Value d, z;
  if (auto add = dyn_cast_or_null<AddOp>(user)) {
    Value other = add.getLhs() == v ? add.getRhs() : add.getLhs();
    auto mul = other.getDefiningOp<MulOp>();
    if (mul && other.hasOneUse() && add.getType() == v.getType()) {
      for (int side = 0; side < 2 && !d; ++side) {
        Value x = side ? mul.getRhs() : mul.getLhs();
        Value w = side ? mul.getLhs() : mul.getRhs();
        if (stripFloatCasts(x) == input && isVectorAlong(w, inType, axis))
          d = w;
      }
    }
    if (d) {
      v = add.getResult();
      user = singleUser(v);
      if (Value end = rounded(v))
        best = {d, Value(), end};
    }
  }
  if (auto mul = dyn_cast_or_null<MulOp>(user); mul && takesGate) {
    Value other = mul.getLhs() == v ? mul.getRhs() : mul.getLhs();
    auto silu = other.getDefiningOp<SiluOp>();
    if (silu && other.hasOneUse() && mul.getType() == v.getType()) {
      Value raw = stripFloatCasts(silu.getInput());
      if (raw.getType() == inType) {
        z = raw;
        if (Value end = rounded(mul.getResult()))
          best = {d, z, end};
      }
    }
  }
  if (d && !best.d)
    ctl.nearMiss(anchor, rewrite,
                 "the D skip is not rounded to the input type before the ops "
                 "after it; absorbing it would add a rounding");
  return best;
}

/// "a, b" of the names whose flag is set.
std::string listPresent(ArrayRef<std::pair<bool, StringRef>> names) {
  std::string out;
  for (auto [present, name] : names)
    if (present)
      out += (out.empty() ? "" : ", ") + name.str();
  return out;
}

} // namespace

FailureOr<SelectiveScanOp> mlir::iolite::raiseSelectiveScanOperands(
    RewriterBase &rewriter, SelectiveScanOp scan, const RaisingControl &ctl) {
  if (scan.getD() || scan.getZ() || scan.getDeltaBias() ||
      scan.getDeltaSoftplus())
    return failure();
  auto uType = scan.getU().getType();
  if (!uType.hasStaticShape() || uType.getRank() != 3)
    return failure();
  FailureOr<StepSize> step =
      matchStepSize(scan.getDelta(), uType, 1, scan, kRewrite,
                    "per-channel bias ([D, 1] or [1, D, 1])", ctl);
  if (failed(step))
    return failure();
  Epilogue ep = matchEpilogue(scan.getResult(), scan.getU(), uType, 1,
                              /*takesGate=*/true, scan, kRewrite, ctl);
  if (!step->bias && !step->softplus && !ep.end)
    return failure();

  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(scan);
  auto raised = SelectiveScanOp::create(
      rewriter, scan.getLoc(), uType, scan.getU(), step->raw, scan.getA(),
      scan.getB(), scan.getC(), toChannels(rewriter, ep.d), ep.z,
      toChannels(rewriter, step->bias),
      step->softplus ? rewriter.getUnitAttr() : UnitAttr());
  rewriter.replaceAllUsesWith(ep.end ? ep.end : scan.getResult(),
                              raised.getResult());
  ctl.raised(raised, kRewrite,
             "absorbed " +
                 listPresent({{static_cast<bool>(step->bias), "delta_bias"},
                              {step->softplus, "delta_softplus"},
                              {static_cast<bool>(ep.d), "D"},
                              {static_cast<bool>(ep.z), "z"}}) +
                 " into iolite.selective_scan");
  return raised;
}

FailureOr<SsdOp> mlir::iolite::raiseSsdOperands(RewriterBase &rewriter,
                                                SsdOp ssd,
                                                const RaisingControl &ctl) {
  if (ssd.getD() || ssd.getDtBias() || ssd.getDtSoftplus())
    return failure();
  auto xType = ssd.getX().getType();
  auto dtType = ssd.getDt().getType();
  if (!xType.hasStaticShape() || xType.getRank() != 4 ||
      !dtType.hasStaticShape())
    return failure();
  FailureOr<StepSize> step =
      matchStepSize(ssd.getDt(), dtType, 2, ssd, "ssd", "per-head bias", ctl);
  if (failed(step))
    return failure();
  Epilogue ep = matchEpilogue(ssd.getResult(), ssd.getX(), xType, 2,
                              /*takesGate=*/false, ssd, "ssd", ctl);
  if (!step->bias && !step->softplus && !ep.end)
    return failure();

  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(ssd);
  auto raised = SsdOp::create(
      rewriter, ssd.getLoc(), xType, ssd.getX(), step->raw, ssd.getA(),
      ssd.getB(), ssd.getC(), toChannels(rewriter, ep.d),
      toChannels(rewriter, step->bias), ssd.getChunkSizeAttr(),
      step->softplus ? rewriter.getUnitAttr() : UnitAttr());
  rewriter.replaceAllUsesWith(ep.end ? ep.end : ssd.getResult(),
                              raised.getResult());
  ctl.raised(raised, "ssd",
             "absorbed " +
                 listPresent({{static_cast<bool>(step->bias), "dt_bias"},
                              {step->softplus, "dt_softplus"},
                              {static_cast<bool>(ep.d), "D"}}) +
                 " into iolite.ssd");
  return raised;
}

namespace {
struct RaiseSsdPattern : OpRewritePattern<SsdOp> {
  RaiseSsdPattern(MLIRContext *ctx, RaisingControl control)
      : OpRewritePattern(ctx), control(std::move(control)) {}
  LogicalResult matchAndRewrite(SsdOp op,
                                PatternRewriter &rewriter) const override {
    return raiseSsdOperands(rewriter, op, control);
  }
  RaisingControl control;
};

struct RaiseSelectiveScanPattern : OpRewritePattern<SelectiveScanOp> {
  RaiseSelectiveScanPattern(MLIRContext *ctx, RaisingControl control)
      : OpRewritePattern(ctx), control(std::move(control)) {}
  LogicalResult matchAndRewrite(SelectiveScanOp op,
                                PatternRewriter &rewriter) const override {
    return raiseSelectiveScanOperands(rewriter, op, control);
  }
  RaisingControl control;
};

struct IoliteRaiseScanPass
    : iolite::impl::IoliteRaiseScanPassBase<IoliteRaiseScanPass> {
  using Base::Base;
  void runOnOperation() override {
    RemarkCollector remarks(getArgument(), this->remarks);
    RewritePatternSet patterns(&getContext());
    populateRaiseScanPatterns(patterns, remarkingControl(remarks));
    if (failed(applyRaisingPatterns(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

void mlir::iolite::populateRaiseScanPatterns(RewritePatternSet &patterns,
                                             const RaisingControl &control) {
  patterns.add<RaiseSelectiveScanPattern, RaiseSsdPattern>(
      patterns.getContext(), control);
}
