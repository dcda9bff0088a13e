//===- SymbolicShapes.h - Run-time extents of symbolic kernels --*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// A function with symbolic dims (docs/dynamic-shapes.md) is compiled once
// for every size within its bounds: its kernels take the symbols' values as
// parameters and compute their extents, grids and masks from them. This
// file says what each dynamic dim of each value is in terms of the symbols.
//
// Every dynamic dim the dialect's type rules produce is a product of
// symbols and a constant (batch * seq tokens, heads * seq, ...). The
// analysis specialises two copies of the function with the symbols set to
// distinct primes, factors each dim of the first copy over its primes and
// checks the factors against the second copy. A dim that is not such a
// monomial (a concat of two dynamic lengths) is an error at its op.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_CODEGEN_SYMBOLICSHAPES_H
#define IOLITE_CODEGEN_SYMBOLICSHAPES_H

#include "iolite/Dialect/Iolite/IR/DynamicDims.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/ADT/DenseMap.h"
#include <optional>
#include <string>

namespace mlir {
namespace iolite {

/// A dim size as `coeff * prod(symbol_i ^ exps[i])` over the function's
/// symbols (in iolite.dim_bounds order). A static dim has no exponents.
struct DimExpr {
  int64_t coeff = 1;
  SmallVector<unsigned, 4> exps;

  static DimExpr constant(int64_t value) { return DimExpr{value, {}}; }
  bool isConstant() const {
    return llvm::all_of(exps, [](unsigned e) { return e == 0; });
  }
  DimExpr operator*(const DimExpr &other) const;
  bool operator==(const DimExpr &other) const;
  /// The value at `symbols` (one per symbol), or nullopt on overflow.
  std::optional<int64_t> evaluate(ArrayRef<int64_t> symbols) const;
  /// A C expression of int64_t values named `names[i]`.
  std::string toC(ArrayRef<std::string> names) const;
};

/// One axis of a launch grid: ceil(expr / divisor) blocks.
struct GridExtent {
  DimExpr expr = DimExpr::constant(1);
  int64_t divisor = 1;

  static GridExtent constant(int64_t blocks) {
    return GridExtent{DimExpr::constant(blocks), 1};
  }
  bool isConstant() const { return expr.isConstant(); }
  /// The number of blocks at `symbols`, or nullopt on overflow.
  std::optional<int64_t> evaluate(ArrayRef<int64_t> symbols) const;
};

/// The symbolic dims of one function whose kernels are formed.
class SymbolicShapes {
public:
  /// Analyses `function` (with iolite.dim_bounds and kernels formed). Emits
  /// a diagnostic at the op and fails when a dynamic dim is not a product
  /// of symbols and a constant.
  static FailureOr<SymbolicShapes> analyze(func::FuncOp function);

  /// Symbol names and bounds, in the order kernels and bundles take them.
  ArrayRef<std::string> getSymbols() const { return symbols; }
  ArrayRef<DimBound> getBounds() const { return bounds; }
  unsigned getNumSymbols() const { return symbols.size(); }

  /// Dim `d` of `value` (any value of the function or of its kernels).
  DimExpr getDim(Value value, unsigned d) const;
  /// Every dim of `value`.
  SmallVector<DimExpr> getDims(Value value) const;
  /// The number of elements of `value` as a monomial.
  DimExpr getNumElements(Value value) const;
  /// `value`'s type with every symbol at its upper bound.
  RankedTensorType getBoundType(Value value) const;

private:
  SmallVector<std::string> symbols;
  SmallVector<DimBound> bounds;
  DenseMap<Value, SmallVector<DimExpr>> dims;
  DenseMap<Value, RankedTensorType> boundTypes;
};

/// Emits `expr` as an index value from `symbolValues` (index-typed, one per
/// symbol).
Value emitDimExpr(ImplicitLocOpBuilder &b, const DimExpr &expr,
                  ValueRange symbolValues);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_CODEGEN_SYMBOLICSHAPES_H
