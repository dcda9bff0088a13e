//===- IoliteOps.cpp - Iolite dialect and operations ----------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "iolite/Dialect/Iolite/IR/DynamicDims.h"
#include "iolite/Dialect/Iolite/IR/TypeInference.h"

#include "mlir/Dialect/CommonFolders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::iolite;

#include "iolite/Dialect/Iolite/IR/IoliteDialect.cpp.inc"
#include "iolite/Dialect/Iolite/IR/IoliteEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "iolite/Dialect/Iolite/IR/IoliteAttrs.cpp.inc"

//===----------------------------------------------------------------------===//
// Dialect
//===----------------------------------------------------------------------===//

void IoliteDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "iolite/Dialect/Iolite/IR/IoliteOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "iolite/Dialect/Iolite/IR/IoliteAttrs.cpp.inc"
      >();
}

Operation *IoliteDialect::materializeConstant(OpBuilder &builder,
                                              Attribute value, Type type,
                                              Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return ConstantOp::create(builder, loc, elements);
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// The type of an optional operand, or null.
static Type typeOrNull(Value v) { return v ? v.getType() : Type(); }

/// An inherent attribute as result-type inference sees it. The generated
/// parser infers result types before it moves attr-dict entries into the
/// op's properties, so inference looks in both places.
template <typename AttrT, typename AdaptorT>
static AttrT inherent(AdaptorT &adaptor, AttrT fromProperties, StringRef name) {
  if (fromProperties)
    return fromProperties;
  if (DictionaryAttr attrs = adaptor.getAttributes())
    return attrs.getAs<AttrT>(name);
  return {};
}
#define IOLITE_ATTR(adaptor, Name, name)                                       \
  inherent(adaptor, adaptor.get##Name##Attr(), name)

/// A required attribute the parser has not verified yet; inference reports
/// it missing instead of dereferencing null.
#define IOLITE_REQUIRE(value, name)                                            \
  if (!(value))                                                                \
    return emitOptionalError(loc, "requires attribute '" name "'");

static float valueOr(FloatAttr attr, float dflt) {
  return attr ? attr.getValue().convertToFloat() : dflt;
}
static int64_t valueOr(IntegerAttr attr, int64_t dflt) {
  return attr ? attr.getInt() : dflt;
}

/// True when `attr` is a splat whose every element equals `value`.
static bool isSplatOf(Attribute attr, double value) {
  auto splat = dyn_cast_or_null<SplatElementsAttr>(attr);
  if (!splat)
    return false;
  Type et = splat.getElementType();
  if (isa<FloatType>(et))
    return splat.getSplatValue<APFloat>().convertToDouble() == value;
  if (et.isInteger(1))
    return splat.getSplatValue<bool>() == (value != 0.0);
  if (isa<IntegerType>(et))
    return splat.getSplatValue<APInt>().getSExtValue() ==
           static_cast<int64_t>(value);
  return false;
}

/// A splat of `attr`'s value with the type `type`, or null.
static Attribute resplat(Attribute attr, Type type) {
  auto splat = dyn_cast_or_null<SplatElementsAttr>(attr);
  auto shaped = dyn_cast<ShapedType>(type);
  if (!splat || !shaped || !shaped.hasStaticShape())
    return {};
  return SplatElementsAttr::get(shaped, splat.getSplatValue<Attribute>());
}

/// Folds `op(x, c)` to `x` when `c` is the identity splat `identity` and the
/// op does not broadcast `x`; `commutes` also tries `op(c, x)`.
static OpFoldResult foldIdentity(Operation *op, ArrayRef<Attribute> operands,
                                 double identity, bool commutes) {
  Type resultType = op->getResult(0).getType();
  if (isSplatOf(operands[1], identity) &&
      op->getOperand(0).getType() == resultType)
    return op->getOperand(0);
  if (commutes && isSplatOf(operands[0], identity) &&
      op->getOperand(1).getType() == resultType)
    return op->getOperand(1);
  return {};
}

/// Folds a binary op on two constants of the result type.
template <typename FloatFn, typename IntFn>
static OpFoldResult foldConstants(Operation *op, ArrayRef<Attribute> operands,
                                  FloatFn floatFn, IntFn intFn) {
  Type resultType = op->getResult(0).getType();
  if (op->getOperand(0).getType() != resultType ||
      op->getOperand(1).getType() != resultType)
    return {};
  Type et = getElementTypeOrSelf(resultType);
  if (isa<FloatType>(et))
    return constFoldBinaryOp<FloatAttr, APFloat, void>(operands, resultType,
                                                       floatFn);
  if (isa<IntegerType>(et) && !et.isInteger(1))
    return constFoldBinaryOp<IntegerAttr, APInt, void>(operands, resultType,
                                                       intFn);
  return {};
}

//===----------------------------------------------------------------------===//
// ConstantOp and CastOp
//===----------------------------------------------------------------------===//

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

LogicalResult ConstantOp::verify() {
  if (getValue().getType() != getType())
    return emitOpError("value type ")
           << getValue().getType() << " differs from result type " << getType();
  return success();
}

void ConstantOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getResult(), "cst");
}

OpFoldResult CastOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  return {};
}

namespace {
/// cast(cast(x : A -> B) : B -> A) is x when B holds every value of A
/// exactly (f16 or bf16 through f32).
struct FoldLosslessCastRoundTrip : OpRewritePattern<CastOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CastOp op,
                                PatternRewriter &rewriter) const override {
    auto inner = op.getInput().getDefiningOp<CastOp>();
    if (!inner || inner.getInput().getType() != op.getType())
      return failure();
    Type a = getElementTypeOrSelf(op.getType());
    Type b = getElementTypeOrSelf(inner.getType());
    bool lossless = (a.isF16() || a.isBF16()) && b.isF32();
    if (!lossless)
      return failure();
    rewriter.replaceOp(op, inner.getInput());
    return success();
  }
};
} // namespace

void CastOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                         MLIRContext *context) {
  results.add<FoldLosslessCastRoundTrip>(context);
}

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

#define IOLITE_BINARY_INFER(OP)                                                \
  LogicalResult OP::inferReturnTypes(                                          \
      MLIRContext *, std::optional<Location> loc, Adaptor adaptor,             \
      SmallVectorImpl<Type> &results) {                                        \
    return inferElementwiseOp(                                                 \
        loc, {adaptor.getLhs().getType(), adaptor.getRhs().getType()}, Type(), \
        results);                                                              \
  }
IOLITE_BINARY_INFER(AddOp)
IOLITE_BINARY_INFER(SubOp)
IOLITE_BINARY_INFER(MulOp)
IOLITE_BINARY_INFER(DivOp)
IOLITE_BINARY_INFER(MaxOp)
IOLITE_BINARY_INFER(MinOp)
IOLITE_BINARY_INFER(PowOp)
#undef IOLITE_BINARY_INFER

OpFoldResult AddOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult r = foldIdentity(*this, adaptor.getOperands(), 0, true))
    return r;
  return foldConstants(
      *this, adaptor.getOperands(),
      [](const APFloat &a, const APFloat &b) { return a + b; },
      [](const APInt &a, const APInt &b) { return a + b; });
}

OpFoldResult SubOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult r = foldIdentity(*this, adaptor.getOperands(), 0, false))
    return r;
  return foldConstants(
      *this, adaptor.getOperands(),
      [](const APFloat &a, const APFloat &b) { return a - b; },
      [](const APInt &a, const APInt &b) { return a - b; });
}

OpFoldResult MulOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult r = foldIdentity(*this, adaptor.getOperands(), 1, true))
    return r;
  return foldConstants(
      *this, adaptor.getOperands(),
      [](const APFloat &a, const APFloat &b) { return a * b; },
      [](const APInt &a, const APInt &b) { return a * b; });
}

OpFoldResult DivOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult r = foldIdentity(*this, adaptor.getOperands(), 1, false))
    return r;
  // Integer division by zero has no value to fold to.
  if (isSplatOf(adaptor.getRhs(), 0))
    return {};
  return foldConstants(
      *this, adaptor.getOperands(),
      [](const APFloat &a, const APFloat &b) { return a / b; },
      [](const APInt &a, const APInt &b) { return a.sdiv(b); });
}

OpFoldResult MaxOp::fold(FoldAdaptor adaptor) {
  if (getLhs() == getRhs())
    return getLhs();
  return foldConstants(
      *this, adaptor.getOperands(),
      [](const APFloat &a, const APFloat &b) { return llvm::maximum(a, b); },
      [](const APInt &a, const APInt &b) { return a.sge(b) ? a : b; });
}

OpFoldResult MinOp::fold(FoldAdaptor adaptor) {
  if (getLhs() == getRhs())
    return getLhs();
  return foldConstants(
      *this, adaptor.getOperands(),
      [](const APFloat &a, const APFloat &b) { return llvm::minimum(a, b); },
      [](const APInt &a, const APInt &b) { return a.sle(b) ? a : b; });
}

OpFoldResult PowOp::fold(FoldAdaptor adaptor) {
  return foldIdentity(*this, adaptor.getOperands(), 1, false);
}

LogicalResult CompareOp::inferReturnTypes(MLIRContext *context,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  return inferElementwiseOp(
      loc, {adaptor.getLhs().getType(), adaptor.getRhs().getType()},
      IntegerType::get(context, 1), results);
}

LogicalResult SelectOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  return inferSelectOp(loc, adaptor.getCondition().getType(),
                       adaptor.getOnTrue().getType(),
                       adaptor.getOnFalse().getType(), results);
}

OpFoldResult SelectOp::fold(FoldAdaptor adaptor) {
  Value chosen;
  if (isSplatOf(adaptor.getCondition(), 1))
    chosen = getOnTrue();
  else if (isSplatOf(adaptor.getCondition(), 0))
    chosen = getOnFalse();
  else if (getOnTrue() == getOnFalse())
    chosen = getOnTrue();
  if (chosen && chosen.getType() == getType())
    return chosen;
  return {};
}

// Unary ops get inferReturnTypes from SameOperandsAndResultType.

OpFoldResult NegOp::fold(FoldAdaptor adaptor) {
  if (auto inner = getInput().getDefiningOp<NegOp>())
    return inner.getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// Normalisation, softmax and reductions
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  return inferSoftmaxOp(loc, adaptor.getInput().getType(),
                        valueOr(IOLITE_ATTR(adaptor, Axis, "axis"), -1),
                        results);
}

LogicalResult ReduceOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto axes = IOLITE_ATTR(adaptor, Axes, "axes");
  IOLITE_REQUIRE(axes, "axes");
  return inferReduceOp(loc, adaptor.getInput().getType(), axes.asArrayRef(),
                       IOLITE_ATTR(adaptor, KeepDims, "keep_dims") != nullptr,
                       results);
}

OpFoldResult ReduceOp::fold(FoldAdaptor) {
  // Reducing nothing, or only size-1 dims that stay, changes no value.
  auto in = getInput().getType();
  if (in != getType())
    return {};
  for (int64_t a : getAxes()) {
    int64_t axis = a < 0 ? a + in.getRank() : a;
    if (in.getDimSize(axis) != 1)
      return {};
  }
  return getInput();
}

LogicalResult RmsNormOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  return inferRmsNormOp(
      loc, adaptor.getInput().getType(), typeOrNull(adaptor.getWeight()),
      valueOr(IOLITE_ATTR(adaptor, Epsilon, "epsilon"), 1e-5f), results);
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  return inferLayerNormOp(
      loc, adaptor.getInput().getType(), typeOrNull(adaptor.getWeight()),
      typeOrNull(adaptor.getBias()),
      valueOr(IOLITE_ATTR(adaptor, Axis, "axis"), -1),
      valueOr(IOLITE_ATTR(adaptor, Epsilon, "epsilon"), 1e-5f), results);
}

LogicalResult CumsumOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto axis = IOLITE_ATTR(adaptor, Axis, "axis");
  IOLITE_REQUIRE(axis, "axis");
  return inferCumsumOp(loc, adaptor.getInput().getType(), axis.getInt(),
                       results);
}

LogicalResult IotaOp::inferReturnTypes(MLIRContext *,
                                       std::optional<Location> loc,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &results) {
  auto axis = IOLITE_ATTR(adaptor, Axis, "axis");
  IOLITE_REQUIRE(axis, "axis");
  return inferIotaOp(loc, adaptor.getSource().getType(), axis.getInt(),
                     results);
}

LogicalResult TopKOp::inferReturnTypes(MLIRContext *,
                                       std::optional<Location> loc,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &results) {
  auto k = IOLITE_ATTR(adaptor, K, "k");
  IOLITE_REQUIRE(k, "k");
  return inferTopKOp(loc, adaptor.getInput().getType(), k.getInt(),
                     valueOr(IOLITE_ATTR(adaptor, Axis, "axis"), -1), results);
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  return verifyReshape(getLoc(), getInput().getType(), getType());
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  if (auto inner = getInput().getDefiningOp<ReshapeOp>()) {
    getInputMutable().assign(inner.getInput());
    return getResult();
  }
  if (auto dense = dyn_cast_or_null<DenseElementsAttr>(adaptor.getInput()))
    if (getType().hasStaticShape())
      return dense.reshape(getType());
  return {};
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  auto perm = IOLITE_ATTR(adaptor, Permutation, "permutation");
  IOLITE_REQUIRE(perm, "permutation");
  return inferTransposeOp(loc, adaptor.getInput().getType(), perm.asArrayRef(),
                          results);
}

OpFoldResult TransposeOp::fold(FoldAdaptor adaptor) {
  ArrayRef<int64_t> perm = getPermutation();
  if (llvm::equal(perm, llvm::seq<int64_t>(0, perm.size())))
    return getInput();
  if (auto inner = getInput().getDefiningOp<TransposeOp>()) {
    // y[i] = t[perm[i]] = x[innerPerm[perm[i]]].
    SmallVector<int64_t> composed;
    for (int64_t p : perm)
      composed.push_back(inner.getPermutation()[p]);
    getInputMutable().assign(inner.getInput());
    setPermutation(composed);
    return getResult();
  }
  return resplat(adaptor.getInput(), getType());
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto axis = IOLITE_ATTR(adaptor, Axis, "axis");
  IOLITE_REQUIRE(axis, "axis");
  return inferConcatOp(loc, adaptor.getInputs().getTypes(), axis.getInt(),
                       results);
}

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  if (getInputs().size() == 1 && getInputs().front().getType() == getType())
    return getInputs().front();
  return {};
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &results) {
  auto starts = IOLITE_ATTR(adaptor, Starts, "starts");
  auto limits = IOLITE_ATTR(adaptor, Limits, "limits");
  IOLITE_REQUIRE(starts, "starts");
  IOLITE_REQUIRE(limits, "limits");
  ArrayRef<int64_t> strides;
  if (auto s = IOLITE_ATTR(adaptor, Strides, "strides"))
    strides = s.asArrayRef();
  return inferSliceOp(loc, adaptor.getInput().getType(), starts.asArrayRef(),
                      limits.asArrayRef(), strides, results);
}

OpFoldResult SliceOp::fold(FoldAdaptor adaptor) {
  // Equal static types take every element; a dynamic dim is whole only from
  // 0 to its end with stride 1.
  auto in = cast<RankedTensorType>(getInput().getType());
  bool whole = getInput().getType() == getType();
  for (int64_t d = 0; whole && d < in.getRank(); ++d)
    if (in.isDynamicDim(d))
      whole = getStarts()[d] == 0 && getLimits()[d] == kSliceToEnd &&
              (!getStrides() || (*getStrides())[d] == 1);
  if (whole)
    return getInput();
  return resplat(adaptor.getInput(), getType());
}

LogicalResult BroadcastOp::verify() {
  return verifyBroadcastTo(getLoc(), getInput().getType(), getType());
}

OpFoldResult BroadcastOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  if (auto inner = getInput().getDefiningOp<BroadcastOp>()) {
    getInputMutable().assign(inner.getInput());
    return getResult();
  }
  return resplat(adaptor.getInput(), getType());
}

LogicalResult GatherOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  return inferGatherOp(loc, adaptor.getData().getType(),
                       adaptor.getIndices().getType(),
                       valueOr(IOLITE_ATTR(adaptor, Axis, "axis"), 0), results);
}

//===----------------------------------------------------------------------===//
// Transformer ops
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  return inferMatmulOp(
      loc, adaptor.getLhs().getType(), adaptor.getRhs().getType(),
      IOLITE_ATTR(adaptor, TransposeLhs, "transpose_lhs") != nullptr,
      IOLITE_ATTR(adaptor, TransposeRhs, "transpose_rhs") != nullptr, results);
}

LogicalResult RotaryOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  return inferRotaryOp(loc, adaptor.getInput().getType(),
                       adaptor.getCos().getType(), adaptor.getSin().getType(),
                       results);
}

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  std::optional<float> scale, softcap;
  if (auto s = IOLITE_ATTR(adaptor, Scale, "scale"))
    scale = s.getValue().convertToFloat();
  if (auto s = IOLITE_ATTR(adaptor, Softcap, "softcap"))
    softcap = s.getValue().convertToFloat();
  std::optional<int64_t> window;
  if (auto w = IOLITE_ATTR(adaptor, Window, "window"))
    window = w.getInt();
  return inferAttentionOp(
      loc, adaptor.getQuery().getType(), adaptor.getKey().getType(),
      adaptor.getValue().getType(), typeOrNull(adaptor.getMask()),
      typeOrNull(adaptor.getAlibiSlopes()), scale,
      IOLITE_ATTR(adaptor, Causal, "causal") != nullptr, window, softcap,
      results);
}

float AttentionOp::getEffectiveScale() {
  if (auto s = getScaleAttr())
    return s.getValue().convertToFloat();
  int64_t d = getQuery().getType().getDimSize(3);
  return 1.0f / std::sqrt(static_cast<float>(d));
}

LogicalResult
KvCacheAppendOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                  Adaptor adaptor,
                                  SmallVectorImpl<Type> &results) {
  return inferKvCacheAppendOp(
      loc, adaptor.getKCache().getType(), adaptor.getVCache().getType(),
      adaptor.getKey().getType(), adaptor.getValue().getType(),
      adaptor.getCacheSeqlens().getType(), typeOrNull(adaptor.getBlockTable()),
      results);
}

LogicalResult
CacheAttentionOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                   Adaptor adaptor,
                                   SmallVectorImpl<Type> &results) {
  std::optional<float> scale;
  if (auto s = IOLITE_ATTR(adaptor, Scale, "scale"))
    scale = s.getValue().convertToFloat();
  return inferCacheAttentionOp(
      loc, adaptor.getQuery().getType(), adaptor.getKCache().getType(),
      adaptor.getVCache().getType(), adaptor.getCacheSeqlens().getType(),
      typeOrNull(adaptor.getBlockTable()), scale, results);
}

float CacheAttentionOp::getEffectiveScale() {
  if (auto s = getScaleAttr())
    return s.getValue().convertToFloat();
  int64_t d = getQuery().getType().getDimSize(3);
  return 1.0f / std::sqrt(static_cast<float>(d));
}

LogicalResult
VarlenAttentionOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                    Adaptor adaptor,
                                    SmallVectorImpl<Type> &results) {
  std::optional<float> scale;
  if (auto s = IOLITE_ATTR(adaptor, Scale, "scale"))
    scale = s.getValue().convertToFloat();
  std::optional<int64_t> maxQ, maxK;
  if (auto m = IOLITE_ATTR(adaptor, MaxSeqlenQ, "max_seqlen_q"))
    maxQ = m.getInt();
  if (auto m = IOLITE_ATTR(adaptor, MaxSeqlenK, "max_seqlen_k"))
    maxK = m.getInt();
  return inferVarlenAttentionOp(
      loc, adaptor.getQuery().getType(), adaptor.getKey().getType(),
      adaptor.getValue().getType(), adaptor.getCuSeqlensQ().getType(),
      adaptor.getCuSeqlensK().getType(), scale, maxQ, maxK, results);
}

float VarlenAttentionOp::getEffectiveScale() {
  if (auto s = getScaleAttr())
    return s.getValue().convertToFloat();
  int64_t d = getQuery().getType().getDimSize(2);
  return 1.0f / std::sqrt(static_cast<float>(d));
}

namespace {
/// A mask that keeps every key (all-true, or all-zero additive) is dropped.
struct DropTrivialAttentionMask : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Value mask = op.getMask();
    Attribute value;
    if (!mask || !matchPattern(mask, m_Constant(&value)))
      return failure();
    bool isBool = getElementTypeOrSelf(mask.getType()).isInteger(1);
    if (!isSplatOf(value, isBool ? 1.0 : 0.0))
      return failure();
    rewriter.modifyOpInPlace(op, [&] { op.getMaskMutable().clear(); });
    return success();
  }
};
} // namespace

void AttentionOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<DropTrivialAttentionMask>(context);
}

//===----------------------------------------------------------------------===//
// State-space ops
//===----------------------------------------------------------------------===//

LogicalResult
Conv1dWithStateOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                    Adaptor adaptor,
                                    SmallVectorImpl<Type> &results) {
  return inferConv1dWithStateOp(
      loc, adaptor.getInput().getType(), adaptor.getWeight().getType(),
      adaptor.getState().getType(), typeOrNull(adaptor.getBias()), results);
}

LogicalResult Conv1dOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  return inferConv1dOp(loc, adaptor.getInput().getType(),
                       adaptor.getWeight().getType(),
                       typeOrNull(adaptor.getBias()), results);
}

LogicalResult SelectiveScanWithStateOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  return inferSelectiveScanWithStateOp(
      loc, adaptor.getU().getType(), adaptor.getDelta().getType(),
      adaptor.getA().getType(), adaptor.getB().getType(),
      adaptor.getC().getType(), adaptor.getState().getType(),
      typeOrNull(adaptor.getD()), typeOrNull(adaptor.getZ()),
      typeOrNull(adaptor.getDeltaBias()), results);
}

LogicalResult
SelectiveScanOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                  Adaptor adaptor,
                                  SmallVectorImpl<Type> &results) {
  return inferSelectiveScanOp(
      loc, adaptor.getU().getType(), adaptor.getDelta().getType(),
      adaptor.getA().getType(), adaptor.getB().getType(),
      adaptor.getC().getType(), typeOrNull(adaptor.getD()),
      typeOrNull(adaptor.getZ()), typeOrNull(adaptor.getDeltaBias()), results);
}

LogicalResult SsdOp::inferReturnTypes(MLIRContext *,
                                      std::optional<Location> loc,
                                      Adaptor adaptor,
                                      SmallVectorImpl<Type> &results) {
  return inferSsdOp(loc, adaptor.getX().getType(), adaptor.getDt().getType(),
                    adaptor.getA().getType(), adaptor.getB().getType(),
                    adaptor.getC().getType(), typeOrNull(adaptor.getD()),
                    typeOrNull(adaptor.getDtBias()),
                    valueOr(IOLITE_ATTR(adaptor, ChunkSize, "chunk_size"), 64),
                    results);
}

LogicalResult SsdWithStateOp::inferReturnTypes(MLIRContext *,
                                               std::optional<Location> loc,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &results) {
  return inferSsdWithStateOp(
      loc, adaptor.getX().getType(), adaptor.getDt().getType(),
      adaptor.getA().getType(), adaptor.getB().getType(),
      adaptor.getC().getType(), adaptor.getState().getType(),
      typeOrNull(adaptor.getD()), typeOrNull(adaptor.getDtBias()),
      valueOr(IOLITE_ATTR(adaptor, ChunkSize, "chunk_size"), 64), results);
}

LogicalResult LongConvOp::inferReturnTypes(MLIRContext *,
                                           std::optional<Location> loc,
                                           Adaptor adaptor,
                                           SmallVectorImpl<Type> &results) {
  return inferLongConvOp(loc, adaptor.getInput().getType(),
                         adaptor.getFilter().getType(),
                         typeOrNull(adaptor.getD()), results);
}

//===----------------------------------------------------------------------===//
// Mixture-of-experts ops
//===----------------------------------------------------------------------===//

LogicalResult RouterOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto k = IOLITE_ATTR(adaptor, K, "k");
  IOLITE_REQUIRE(k, "k");
  return inferRouterOp(loc, adaptor.getLogits().getType(), k.getInt(), results);
}

LogicalResult DispatchOp::inferReturnTypes(MLIRContext *,
                                           std::optional<Location> loc,
                                           Adaptor adaptor,
                                           SmallVectorImpl<Type> &results) {
  auto numExperts = IOLITE_ATTR(adaptor, NumExperts, "num_experts");
  IOLITE_REQUIRE(numExperts, "num_experts");
  return inferDispatchOp(loc, adaptor.getInput().getType(),
                         adaptor.getExpertIds().getType(), numExperts.getInt(),
                         results);
}

LogicalResult
GroupedMatmulOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                  Adaptor adaptor,
                                  SmallVectorImpl<Type> &results) {
  return inferGroupedMatmulOp(
      loc, adaptor.getInput().getType(), adaptor.getWeight().getType(),
      adaptor.getOffsets().getType(),
      IOLITE_ATTR(adaptor, TransposeRhs, "transpose_rhs") != nullptr, results);
}

LogicalResult CombineOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  return inferCombineOp(loc, adaptor.getInput().getType(),
                        adaptor.getRowIndex().getType(),
                        adaptor.getWeights().getType(), results);
}

//===----------------------------------------------------------------------===//
// KernelOp
//===----------------------------------------------------------------------===//

void KernelOp::build(OpBuilder &builder, OperationState &state, StringRef name,
                     TypeRange resultTypes, ValueRange inputs) {
  state.addAttribute(getNameAttrName(state.name), builder.getStringAttr(name));
  state.addOperands(inputs);
  state.addTypes(resultTypes);
  Region *body = state.addRegion();
  Block *block = new Block();
  body->push_back(block);
  for (Value v : inputs)
    block->addArgument(v.getType(), v.getLoc());
}

YieldOp KernelOp::getYield() {
  return cast<YieldOp>(getBody().front().getTerminator());
}

LogicalResult KernelOp::verify() {
  Block &block = getBody().front();
  if (block.getNumArguments() != getInputs().size())
    return emitOpError("body has ")
           << block.getNumArguments() << " arguments but the kernel has "
           << getInputs().size() << " inputs";
  for (auto [i, arg, in] : llvm::enumerate(block.getArguments(), getInputs()))
    if (arg.getType() != in.getType())
      return emitOpError("body argument ")
             << i << " has type " << arg.getType() << " but input " << i
             << " has type " << in.getType();
  auto yield = block.empty() ? YieldOp() : dyn_cast<YieldOp>(block.back());
  if (!yield)
    return emitOpError("body must end with iolite.yield");
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError("yields ")
           << yield.getValues().size()
           << " values whose types differ from the kernel's result types";
  // The memory planner's record (see the op description).
  if (Attribute attr = (*this)->getAttr("result_offsets")) {
    auto offsets = dyn_cast<DenseI64ArrayAttr>(attr);
    if (!offsets)
      return emitOpError("result_offsets must be an array<i64>");
    if (offsets.size() != static_cast<int64_t>(getNumResults()))
      return emitOpError("result_offsets has ")
             << offsets.size() << " entries for " << getNumResults()
             << " results";
    for (auto [i, offset] : llvm::enumerate(offsets.asArrayRef()))
      if (offset < -1)
        return emitOpError("result_offsets[")
               << i << "] = " << offset
               << " is neither a workspace offset nor -1";
  }
  return success();
}

#define GET_OP_CLASSES
#include "iolite/Dialect/Iolite/IR/IoliteOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Serving ops: the rules that need sizes within the bounds
//===----------------------------------------------------------------------===//

/// The positions a cache holds per sequence: L of a contiguous
/// [B, L, Hkv, D] cache, M * P of a pool [N, P, Hkv, D] read through a
/// [B, M] block table; kDynamic when a dim is symbolic.
static int64_t cacheCapacity(Value cache, Value blockTable) {
  int64_t rows = cast<ShapedType>(cache.getType()).getDimSize(1);
  if (!blockTable || ShapedType::isDynamic(rows))
    return rows;
  int64_t perSeq = cast<ShapedType>(blockTable.getType()).getDimSize(1);
  return ShapedType::isDynamic(perSeq) ? ShapedType::kDynamic : perSeq * rows;
}

// A step longer than the cache: with symbolic dims this is checked at sizes
// within the bounds (not at the probes of the shape analyses).
LogicalResult KvCacheAppendOp::verify() {
  int64_t steps = cast<ShapedType>(getKey().getType()).getDimSize(1);
  int64_t capacity = cacheCapacity(getKCache(), getBlockTable());
  if (!ShapedType::isDynamic(steps) && !ShapedType::isDynamic(capacity) &&
      steps > capacity && !isInSymbolicProbe(*this))
    return emitOpError() << "appending " << steps
                         << " tokens to a cache that holds " << capacity
                         << " per sequence";
  return success();
}

LogicalResult CacheAttentionOp::verify() {
  int64_t queries = cast<ShapedType>(getQuery().getType()).getDimSize(1);
  int64_t capacity = cacheCapacity(getKCache(), getBlockTable());
  if (!ShapedType::isDynamic(queries) && !ShapedType::isDynamic(capacity) &&
      queries > capacity && !isInSymbolicProbe(*this))
    return emitOpError() << queries << " queries per sequence exceed the "
                         << capacity << " tokens the cache holds";
  return success();
}
