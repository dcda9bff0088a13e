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

/// True if `v` is a per-channel vector of the scan's `[B, D, L]` `uType`.
bool isChannelVector(Value v, RankedTensorType uType) {
  return isVectorAlong(v, uType, 1);
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

} // namespace

FailureOr<SelectiveScanOp> mlir::iolite::raiseSelectiveScanOperands(
    RewriterBase &rewriter, SelectiveScanOp scan, const RaisingControl &ctl) {
  if (scan.getD() || scan.getZ() || scan.getDeltaBias() ||
      scan.getDeltaSoftplus())
    return failure();
  auto uType = scan.getU().getType();
  if (!uType.hasStaticShape() || uType.getRank() != 3)
    return failure();
  Location loc = scan.getLoc();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(scan);

  // Prologue: delta = cast(softplus(cast(delta0) + bias)), each piece
  // optional, every intermediate used only here.
  Value delta = scan.getDelta();
  Value bias;
  bool softplus = false;
  Value cur = stripFloatCasts(delta);
  if (!castsHaveOneUse(delta, cur))
    cur = delta;
  if (auto sp = cur.getDefiningOp<SoftplusOp>(); sp && cur.hasOneUse()) {
    softplus = true;
    cur = stripFloatCasts(sp.getInput());
    if (!castsHaveOneUse(sp.getInput(), cur))
      return failure();
  }
  if (auto add = cur.getDefiningOp<AddOp>(); add && cur.hasOneUse()) {
    for (int side = 0; side < 2 && !bias; ++side) {
      Value raw = stripFloatCasts(side ? add.getRhs() : add.getLhs());
      Value other = side ? add.getLhs() : add.getRhs();
      if (raw.getType() != uType)
        continue;
      if (isChannelVector(other, uType)) {
        bias = other;
        cur = raw;
      }
    }
    if (!bias && softplus) {
      ctl.nearMiss(scan, kRewrite,
                   "the step size adds a term that is not a per-channel "
                   "bias ([D, 1] or [1, D, 1])");
      return failure();
    }
  }
  Value newDelta = delta;
  if (softplus || bias) {
    newDelta = stripFloatCasts(cur);
    if (newDelta.getType() != uType)
      return failure();
  }

  // Epilogue: cast(y) + cast(u) * D, then * silu(cast(z)), then a cast
  // back to u's type; each optional, intermediates used only here.
  Value end = scan.getResult();
  Value v = end;
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
        if (stripFloatCasts(x) == scan.getU() && isChannelVector(w, uType))
          d = w;
      }
    }
    if (d) {
      v = add.getResult();
      user = singleUser(v);
    }
  }
  if (auto mul = dyn_cast_or_null<MulOp>(user)) {
    Value other = mul.getLhs() == v ? mul.getRhs() : mul.getLhs();
    auto silu = other.getDefiningOp<SiluOp>();
    if (silu && other.hasOneUse() && mul.getType() == v.getType()) {
      Value raw = stripFloatCasts(silu.getInput());
      if (raw.getType() == uType) {
        z = raw;
        v = mul.getResult();
        user = singleUser(v);
      }
    }
  }
  if (v.getType() != uType) {
    auto c = dyn_cast_or_null<CastOp>(user);
    if (!c || c.getType() != uType)
      return failure();
    v = c.getResult();
  }
  bool epilogue = d || z;
  if (!epilogue && !softplus && !bias)
    return failure();
  if (!epilogue)
    v = end;

  auto raised = SelectiveScanOp::create(
      rewriter, loc, uType, scan.getU(), newDelta, scan.getA(), scan.getB(),
      scan.getC(), toChannels(rewriter, d), z, toChannels(rewriter, bias),
      softplus ? rewriter.getUnitAttr() : UnitAttr());
  rewriter.replaceAllUsesWith(v, raised.getResult());
  SmallString<64> what;
  for (auto [present, name] :
       {std::pair<bool, StringRef>{static_cast<bool>(bias), "delta_bias"},
        {softplus, "delta_softplus"},
        {static_cast<bool>(d), "D"},
        {static_cast<bool>(z), "z"}})
    if (present)
      what += (what.empty() ? "" : ", ") + name.str();
  ctl.raised(raised, kRewrite,
             "absorbed " + what + " into iolite.selective_scan");
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
  Location loc = ssd.getLoc();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(ssd);

  // Prologue: dt = cast(softplus(cast(dt0) + bias)), bias per head.
  Value dt = ssd.getDt();
  Value bias;
  bool softplus = false;
  Value cur = stripFloatCasts(dt);
  if (!castsHaveOneUse(dt, cur))
    cur = dt;
  if (auto sp = cur.getDefiningOp<SoftplusOp>(); sp && cur.hasOneUse()) {
    softplus = true;
    cur = stripFloatCasts(sp.getInput());
    if (!castsHaveOneUse(sp.getInput(), cur))
      return failure();
  }
  if (auto add = cur.getDefiningOp<AddOp>(); add && cur.hasOneUse()) {
    for (int side = 0; side < 2 && !bias; ++side) {
      Value raw = stripFloatCasts(side ? add.getRhs() : add.getLhs());
      Value other = side ? add.getLhs() : add.getRhs();
      if (raw.getType() == dtType && isVectorAlong(other, dtType, 2)) {
        bias = other;
        cur = raw;
      }
    }
    if (!bias && softplus) {
      ctl.nearMiss(ssd, "ssd",
                   "the step size adds a term that is not a per-head bias");
      return failure();
    }
  }
  Value newDt = dt;
  if (softplus || bias) {
    newDt = stripFloatCasts(cur);
    if (newDt.getType() != dtType)
      return failure();
  }

  // Epilogue: cast(y) + cast(x) * D, rounded back to x's type. The op
  // rounds once, so the skip is absorbed only when its sum is rounded to
  // x's type right away (not when more f32 math such as a gate follows).
  Value v = ssd.getResult();
  Operation *user = singleUser(v);
  if (auto c = dyn_cast_or_null<CastOp>(user);
      c && isa<FloatType>(c.getType().getElementType())) {
    v = c.getResult();
    user = singleUser(v);
  }
  Value d;
  Value end;
  if (auto add = dyn_cast_or_null<AddOp>(user)) {
    Value other = add.getLhs() == v ? add.getRhs() : add.getLhs();
    auto mul = other.getDefiningOp<MulOp>();
    if (mul && other.hasOneUse() && add.getType() == v.getType()) {
      for (int side = 0; side < 2 && !d; ++side) {
        Value x = side ? mul.getRhs() : mul.getLhs();
        Value w = side ? mul.getLhs() : mul.getRhs();
        if (stripFloatCasts(x) == ssd.getX() && isVectorAlong(w, xType, 2))
          d = w;
      }
    }
    if (d) {
      end = add.getResult();
      if (end.getType() != xType) {
        auto c = dyn_cast_or_null<CastOp>(singleUser(end));
        if (c && c.getType() == xType) {
          end = c.getResult();
        } else {
          ctl.nearMiss(ssd, "ssd",
                       "the D skip is not rounded to the input type before "
                       "the ops after it; absorbing it would add a rounding");
          d = Value();
        }
      }
    }
  }
  if (!d && !softplus && !bias)
    return failure();
  if (!d)
    end = ssd.getResult();

  auto raised = SsdOp::create(
      rewriter, loc, xType, ssd.getX(), newDt, ssd.getA(), ssd.getB(),
      ssd.getC(), toChannels(rewriter, d), toChannels(rewriter, bias),
      ssd.getChunkSizeAttr(), softplus ? rewriter.getUnitAttr() : UnitAttr());
  rewriter.replaceAllUsesWith(end, raised.getResult());
  SmallString<64> what;
  for (auto [present, name] :
       {std::pair<bool, StringRef>{static_cast<bool>(bias), "dt_bias"},
        {softplus, "dt_softplus"},
        {static_cast<bool>(d), "D"}})
    if (present)
      what += (what.empty() ? "" : ", ") + name.str();
  ctl.raised(raised, "ssd", "absorbed " + what + " into iolite.ssd");
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
