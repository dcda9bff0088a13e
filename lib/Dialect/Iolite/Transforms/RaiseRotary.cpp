//===- RaiseRotary.cpp - rotate-half RoPE to iolite.rotary ----------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// `x * cos + concat(-x[..., h:2h], x[..., :h]) * sin` with `2h = D` becomes
// iolite.rotary(x, cos, sin); a following `concat(rotary(x[..., :R]),
// x[..., R:])` (partial rotary, GPT-NeoX's rotary_pct) folds into one
// rotary of the whole `x` with R rotary features.
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
#define GEN_PASS_DEF_IOLITERAISEROTARYPASS
#include "iolite/Dialect/Iolite/Transforms/Passes.h.inc"
} // namespace iolite
} // namespace mlir

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::raising;

namespace {

/// The normalised axis of a concat.
int64_t concatAxis(ConcatOp c) {
  int64_t rank = c.getType().getRank();
  // I64Attr getters return the bits unsigned.
  int64_t axis = static_cast<int64_t>(c.getAxis());
  return axis < 0 ? axis + rank : axis;
}

/// If `v` is `x[..., start:limit]` (unit strides, full in every other dim),
/// returns x and sets the bounds.
Value matchLastDimSlice(Value v, int64_t &start, int64_t &limit) {
  auto slice = v.getDefiningOp<SliceOp>();
  if (!slice)
    return {};
  auto in = slice.getInput().getType();
  int64_t rank = in.getRank();
  // The sliced (last) dim is static; the others may be symbolic, taken
  // whole by a limit of kSliceToEnd.
  if (rank == 0 || in.isDynamicDim(rank - 1))
    return {};
  ArrayRef<int64_t> st = slice.getStarts(), li = slice.getLimits();
  if (auto strides = slice.getStrides())
    if (llvm::any_of(*strides, [](int64_t s) { return s != 1; }))
      return {};
  for (int64_t d = 0; d + 1 < rank; ++d)
    if (st[d] != 0 || (in.isDynamicDim(d)
                           ? li[d] != kSliceToEnd
                           : li[d] != in.getDimSize(d) && li[d] != kSliceToEnd))
      return {};
  start = st[rank - 1];
  limit = li[rank - 1];
  return slice.getInput();
}

/// Brings cos/sin to the one [..., S, R] shape iolite.rotary wants.
FailureOr<std::pair<Value, Value>>
prepareTables(RewriterBase &rewriter, Location loc, Value cos, Value sin) {
  auto ct = cast<RankedTensorType>(cos.getType());
  auto st = cast<RankedTensorType>(sin.getType());
  SmallVector<int64_t> shape;
  if (failed(inferBroadcastShape(std::nullopt, {ct.getShape(), st.getShape()},
                                 shape)))
    return failure();
  if (shape.size() < 2)
    shape.insert(shape.begin(), 1);
  auto fit = [&](Value t) -> Value {
    auto tt = cast<RankedTensorType>(t.getType());
    if (tt.getShape() == ArrayRef<int64_t>(shape))
      return t;
    return BroadcastOp::create(rewriter, loc, tt.clone(shape), t);
  };
  return std::make_pair(fit(cos), fit(sin));
}

} // namespace

FailureOr<RotaryOp> mlir::iolite::raiseRotary(RewriterBase &rewriter,
                                              AddOp root,
                                              const RaisingControl &ctl) {
  // Find the `rot * sin` product: a mul with a two-input concat operand
  // that holds a neg. That makes root a candidate.
  MulOp rotMul, xMul;
  ConcatOp rot;
  Value sin;
  matchOperands(root, true, [&](Value a, Value b) {
    auto m = b.getDefiningOp<MulOp>();
    if (!m)
      return false;
    return matchOperands(m, true, [&](Value p, Value q) {
      auto c = p.getDefiningOp<ConcatOp>();
      if (!c || c.getInputs().size() != 2 ||
          !llvm::any_of(c.getInputs(),
                        [](Value i) { return i.getDefiningOp<NegOp>(); }))
        return false;
      rotMul = m;
      rot = c;
      sin = q;
      xMul = a.getDefiningOp<MulOp>();
      return true;
    });
  });
  if (!rot)
    return failure();
  auto miss = [&](const Twine &why) -> FailureOr<RotaryOp> {
    ctl.nearMiss(root, "rotary", why);
    return failure();
  };
  int64_t rank = rot.getType().getRank();
  if (concatAxis(rot) != rank - 1)
    return miss("the rotated halves are concatenated on axis " +
                Twine(concatAxis(rot)) + ", not the last");
  Value first = rot.getInputs()[0], second = rot.getInputs()[1];
  auto neg = first.getDefiningOp<NegOp>();
  if (!neg)
    return miss("the concat is (x1, -x2): it rotates the other way from "
                "rotate_half's (-x2, x1)");
  int64_t s2, l2, s1, l1;
  Value x2 = matchLastDimSlice(neg.getInput(), s2, l2);
  Value x1 = matchLastDimSlice(second, s1, l1);
  if (!x1 || !x2 || x1 != x2)
    return miss("the halves are not slices of one x on the last axis");
  Value x = x1;
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t d = xType.getDimSize(rank - 1);
  int64_t h = d / 2;
  if (d % 2 != 0 || s1 != 0 || l1 != h || s2 != h || l2 != d)
    return miss(llvm::formatv("the halves are x[{0}:{1}] and x[{2}:{3}], not "
                              "x[{4}:{5}] and x[0:{4}] of the {5} features",
                              s2, l2, s1, l1, h, d)
                    .str());
  Value cos;
  if (!xMul || !matchOperands(xMul, true, [&](Value a, Value b) {
        if (a != x)
          return false;
        cos = b;
        return true;
      }))
    return miss("the other term is not x times a table");
  if (xMul.getType() != xType || rotMul.getType() != xType ||
      root.getType() != xType)
    return miss("the products broadcast x to another shape");
  for (Operation *op : {xMul.getOperation(), rotMul.getOperation(),
                        rot.getOperation(), neg.getOperation()})
    if (!op->hasOneUse())
      return miss("'" + op->getName().getStringRef() +
                  "' is also used outside the rotary embedding");
  rewriter.setInsertionPoint(root);
  // Check the tables before building anything.
  auto ct = cast<RankedTensorType>(cos.getType());
  auto stt = cast<RankedTensorType>(sin.getType());
  SmallVector<int64_t> tableShape;
  if (failed(inferBroadcastShape(std::nullopt, {ct.getShape(), stt.getShape()},
                                 tableShape)))
    return miss("cos and sin do not broadcast together");
  if (tableShape.size() < 2)
    tableShape.insert(tableShape.begin(), 1);
  auto tableType = RankedTensorType::get(tableShape, ct.getElementType());
  SmallVector<Type> inferred;
  if (ct.getElementType() != stt.getElementType() ||
      ct.getElementType() != xType.getElementType() ||
      failed(
          inferRotaryOp(std::nullopt, xType, tableType, tableType, inferred)))
    return miss("cos/sin (" + Twine(ct.getRank()) +
                "-d) do not broadcast to [..., S, " + Twine(d) +
                "] of x's type");
  FailureOr<std::pair<Value, Value>> tables =
      prepareTables(rewriter, root.getLoc(), cos, sin);
  if (failed(tables))
    return miss("cos and sin do not broadcast together");
  auto rotary = RotaryOp::create(rewriter, root.getLoc(), x, tables->first,
                                 tables->second, /*interleaved=*/false);
  rewriter.replaceOp(root, rotary.getResult());
  ctl.raised(rotary, "rotary",
             "raised to iolite.rotary (" + Twine(d) + " rotary features)");
  return rotary;
}

FailureOr<RotaryOp>
mlir::iolite::absorbRotaryPassThrough(RewriterBase &rewriter, ConcatOp root,
                                      const RaisingControl &ctl) {
  if (root.getInputs().size() != 2)
    return failure();
  auto rotary = root.getInputs()[0].getDefiningOp<RotaryOp>();
  if (!rotary || rotary.getInterleaved())
    return failure();
  int64_t rank = root.getType().getRank();
  int64_t rs, rl, ps, pl;
  Value xr = matchLastDimSlice(rotary.getInput(), rs, rl);
  Value xp = matchLastDimSlice(root.getInputs()[1], ps, pl);
  if (!xr)
    return failure();
  auto miss = [&](const Twine &why) -> FailureOr<RotaryOp> {
    ctl.nearMiss(root, "rotary", why);
    return failure();
  };
  if (concatAxis(root) != rank - 1 || xp != xr || rs != 0 || ps != rl ||
      pl != cast<RankedTensorType>(xr.getType()).getDimSize(rank - 1))
    return miss("the concat is not (rotary(x[..., :R]), x[..., R:]) of one x");
  if (!rotary->hasOneUse())
    return miss("the partial rotary is also used outside the concat");
  SmallVector<Type> inferred;
  if (failed(inferRotaryOp(std::nullopt, xr.getType(),
                           rotary.getCos().getType(), rotary.getSin().getType(),
                           inferred)))
    return miss("cos/sin do not broadcast to the whole input");
  rewriter.setInsertionPoint(root);
  auto whole = RotaryOp::create(rewriter, root.getLoc(), xr, rotary.getCos(),
                                rotary.getSin(), /*interleaved=*/false);
  rewriter.replaceOp(root, whole.getResult());
  rewriter.eraseOp(rotary);
  ctl.raised(whole, "rotary",
             "raised a partial rotary (" + Twine(rl) + " of " + Twine(pl) +
                 " features) to one iolite.rotary");
  return whole;
}

namespace {
struct RaiseRotaryPattern : OpRewritePattern<AddOp> {
  RaiseRotaryPattern(MLIRContext *ctx, RaisingControl control)
      : OpRewritePattern(ctx), control(std::move(control)) {}
  LogicalResult matchAndRewrite(AddOp op,
                                PatternRewriter &rewriter) const override {
    return raiseRotary(rewriter, op, control);
  }
  RaisingControl control;
};

struct AbsorbPassThroughPattern : OpRewritePattern<ConcatOp> {
  AbsorbPassThroughPattern(MLIRContext *ctx, RaisingControl control)
      : OpRewritePattern(ctx), control(std::move(control)) {}
  LogicalResult matchAndRewrite(ConcatOp op,
                                PatternRewriter &rewriter) const override {
    return absorbRotaryPassThrough(rewriter, op, control);
  }
  RaisingControl control;
};

struct IoliteRaiseRotaryPass
    : iolite::impl::IoliteRaiseRotaryPassBase<IoliteRaiseRotaryPass> {
  using Base::Base;
  void runOnOperation() override {
    RemarkCollector remarks(getArgument(), this->remarks);
    RewritePatternSet patterns(&getContext());
    populateRaiseRotaryPatterns(patterns, remarkingControl(remarks));
    if (failed(applyRaisingPatterns(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

void mlir::iolite::populateRaiseRotaryPatterns(RewritePatternSet &patterns,
                                               const RaisingControl &control) {
  patterns.add<RaiseRotaryPattern, AbsorbPassThroughPattern>(
      patterns.getContext(), control);
}
