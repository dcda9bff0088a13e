//===- MatchUtils.h - Helpers shared by the raising rewrites ----*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Private to lib/Dialect/Iolite/Transforms: reading constants through the
// ops importers wrap them in, matching commutative operands, and building
// ops whose result types are inferred only after checking that inference
// succeeds (an inferred-type builder aborts otherwise).
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_DIALECT_IOLITE_TRANSFORMS_MATCHUTILS_H
#define IOLITE_LIB_DIALECT_IOLITE_TRANSFORMS_MATCHUTILS_H

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "iolite/Dialect/Iolite/Transforms/Remarks.h"
#include "iolite/Dialect/Iolite/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include <memory>
#include <optional>
#include <vector>

namespace mlir {
namespace iolite {
namespace raising {

/// The value every element of `v` has, when `v` is a constant with one
/// value (a splat, a one-element tensor, or a small tensor of equal
/// elements), seen through casts, reshapes, broadcasts, transposes, slices
/// and scalar arithmetic on such constants (neg, sqrt, rsqrt, reciprocal,
/// add, sub, mul, div, pow). Booleans read as 0 or 1.
std::optional<double> getUniformConstant(Value v);

/// True when `v` is a uniform constant within relative `rtol` of `expected`.
bool isUniformConstant(Value v, double expected, double rtol = 1e-6);

/// True when `a` and `b` agree to relative `rtol`.
bool approxEqual(double a, double b, double rtol);

/// `v` with float-to-float iolite.casts stripped.
Value stripFloatCasts(Value v);

/// A constant tensor folded to plain values: shape and row-major elements
/// as doubles (booleans as 0/1).
struct ConstantTensor {
  SmallVector<int64_t> shape;
  std::vector<double> values;
};

/// Folds `v` to its values when it is a constant or a chain of reshape,
/// broadcast, transpose, slice, cast and compare-with-constant on one;
/// gives up beyond `maxElements` elements.
std::optional<ConstantTensor> foldToConstantTensor(Value v,
                                                   int64_t maxElements);

/// A constant too large to fold into values: elementwise compare, add,
/// sub, mul and select (with broadcasting) over operands that fold,
/// evaluated one element at a time. A causal mask built as
/// compare(row ids, column ids) is checked this way at any sequence length
/// without materializing its S x S plane.
class LazyConstantTensor {
public:
  /// The evaluator of `v`, or nullopt when `v` is not such a tree, has rank
  /// above 8, or a leaf has more than `maxLeafElements` elements.
  static std::optional<LazyConstantTensor> build(Value v,
                                                 int64_t maxLeafElements);
  ArrayRef<int64_t> getShape() const;
  /// The element at `index` (one entry per dim of the shape).
  double at(ArrayRef<int64_t> index) const;

  struct Node;

private:
  std::shared_ptr<const Node> root;
};

/// An integer tensor, or a predicate on its dims, that is affine in its
/// element's position: `sum_k coef[k] * d[k] + offset` for the element at
/// (d[0], ..., d[rank-1]). Each dim with a non-zero coefficient runs over
/// the positions of an iota, and `extent[k]` names that iota's source dim,
/// so two dims with the same extent are the same length even when it is
/// symbolic. Built from iota, splat constants, add, sub, neg, mul by a
/// constant, integer and int-to-float casts, and reshapes and broadcasts
/// that only add, drop or expand unit dims.
struct AffineIndex {
  SmallVector<int64_t> coef;
  SmallVector<std::pair<Value, int64_t>> extent;
  int64_t offset = 0;
};

/// The affine form of integer tensor `v`, or nullopt.
std::optional<AffineIndex> matchAffineIndex(Value v);

/// For an i1 tensor built as a comparison of two affine index tensors
/// (seen through reshapes and broadcasts of unit dims): the form `f` with
/// `cond[d]` true exactly where `f(d) >= 0` (integer positions; eq and ne
/// are not of this form).
std::optional<AffineIndex> matchAffinePredicate(Value cond);

/// `form` over a tensor of shape `from`, read at the positions of the
/// broadcast shape `to` (NumPy rules: right-aligned; a unit dim against a
/// larger one always reads position 0).
AffineIndex broadcastAffineIndex(const AffineIndex &form,
                                 ArrayRef<int64_t> from, ArrayRef<int64_t> to);

/// If `op` is a binary op with operands `a` and `b` and `pred(x, y)` holds
/// for (a, b) or, when `commutative`, for (b, a), calls it that way round
/// and returns true.
template <typename Pred>
bool matchOperands(Operation *op, bool commutative, Pred &&pred) {
  if (!op || op->getNumOperands() != 2)
    return false;
  Value a = op->getOperand(0), b = op->getOperand(1);
  if (pred(a, b))
    return true;
  return commutative && pred(b, a);
}

/// The static shape of a ranked tensor value, or failure.
FailureOr<ArrayRef<int64_t>> getStaticShape(Value v);

/// Builds `iolite.constant` holding `value` as a rank-0 tensor of `type`
/// (a float or integer type).
Value createScalarConstant(OpBuilder &b, Location loc, Type elementType,
                           double value);

/// `x` printed as printf's %g does ("0.125", "-1e+04").
std::string numStr(double x);

/// A short textual form of `loc` for messages ("file:3:7" or "unknown").
std::string locStr(Location loc);

/// A control that reports raisings as passed remarks and near misses as
/// missed remarks ("not raised to iolite.NAME: why").
RaisingControl remarkingControl(RemarkCollector &remarks);

/// Runs raising `patterns` on `op` top-down (producers first, so an inner
/// subgraph is raised before the product around it is examined).
LogicalResult applyRaisingPatterns(Operation *op, RewritePatternSet &&patterns);

} // namespace raising
} // namespace iolite
} // namespace mlir

#endif // IOLITE_LIB_DIALECT_IOLITE_TRANSFORMS_MATCHUTILS_H
