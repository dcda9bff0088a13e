//===- DynamicDims.h - Symbolic dims with bounds on functions --*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// A model function may take tensors whose batch or sequence dims are only
// known at run time. Each dynamic (`?`) dim of an argument names a symbol,
// and the function declares every symbol's bounds:
//
//   func.func @f(%x: tensor<?x?x32xf32> {iolite.dims = ["batch", "seq", ""]},
//                %cos: tensor<?x8xf32> {iolite.dims = ["seq", ""]})
//       attributes {iolite.dim_bounds = {batch = array<i64: 1, 64>,
//                                        seq = array<i64: 1, 8192>}}
//
// Dims that share a name are the same symbol: a caller's shapes must agree
// on it, and its value must lie within its bounds. Static dims name no
// symbol (""). Inside the function, dims follow from the arguments' through
// the ops' type inference; a reshape or broadcast whose dynamic result dims
// its input does not decide (splitting tokens back into batch and sequence)
// names them the same way: `iolite.reshape %t {iolite.dims = ["batch",
// "seq", ""]} : tensor<?x16xf32> -> tensor<?x?x16xf32>`. This header reads and
// checks that contract, parses the `NAME=LO..HI` form of the tools' --dim
// option, and binds the symbols to the shapes of actual inputs.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITE_IR_DYNAMICDIMS_H
#define IOLITE_DIALECT_IOLITE_IR_DYNAMICDIMS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/MapVector.h"
#include <string>

namespace mlir {
namespace iolite {

/// Function attribute: a dictionary from symbol name to `array<i64: lo, hi>`.
constexpr StringLiteral kDimBoundsAttrName = "iolite.dim_bounds";
/// Argument attribute: one string per dim, the symbol of a dynamic dim and
/// "" for a static one.
constexpr StringLiteral kDimNamesAttrName = "iolite.dims";
/// Function attribute of a copy specialized at probe sizes that may lie
/// outside the bounds (the symbolic-shape analyses): rules that hold only
/// within the bounds, such as a step fitting its KV cache, are not checked
/// on it.
constexpr StringLiteral kSymbolicProbeAttrName = "iolite.symbolic_probe";

/// True if `op` is in a function specialized at probe sizes.
bool isInSymbolicProbe(Operation *op);

/// The inclusive range a symbolic dim may take.
struct DimBound {
  int64_t lo = 1;
  int64_t hi = 1;
};

/// Symbols in declaration order (the order of the dictionary, which is
/// sorted by name): the order in which bundles take dims.
using DimBounds = llvm::MapVector<StringRef, DimBound>;

/// One entry of --dim: `NAME=N` pins a symbol to N, `NAME=LO..HI` bounds it.
struct DimSpec {
  std::string name;
  DimBound bound;
  /// Written as LO..HI: the dim stays symbolic, even when LO == HI.
  bool bounded = false;
  bool pinned() const { return bound.lo == bound.hi; }
};

/// Parses `NAME=N` or `NAME=LO..HI` (0 <= LO <= HI); on failure returns
/// failure and sets `error`.
FailureOr<DimSpec> parseDimSpec(StringRef text, std::string &error);

/// True when some argument or result of `function` has a dynamic dim.
bool hasDynamicDims(func::FuncOp function);

/// Reads the bounds of `function`'s symbols (empty when it declares none).
/// Emits an error at the function for a malformed attribute.
FailureOr<DimBounds> getDimBounds(func::FuncOp function);

/// The symbol names of argument `index`'s dims ("" for static dims); empty
/// when the argument has no annotation.
SmallVector<StringRef> getArgDimNames(func::FuncOp function, unsigned index);

/// Checks the contract: every dynamic dim of an argument names a symbol with
/// declared bounds, static dims name none, annotations match the rank, every
/// declared symbol is used. Results may have dynamic dims only when some
/// argument does. Emits an error at the function and fails otherwise.
LogicalResult verifyDimContract(func::FuncOp function);

/// Sets the bounds of the symbols `specs` name on `function` (adding them to
/// those it declares). A spec naming a symbol no argument uses is an error.
LogicalResult applyDimSpecs(func::FuncOp function, ArrayRef<DimSpec> specs);

/// Binds every symbol of `function` to its value in `argShapes` (one shape
/// per argument). Fails with a message in `error` when an argument's rank or
/// static dim differs, two dims of one symbol disagree, or a value lies
/// outside its bounds. Symbols come back in declaration order.
FailureOr<llvm::MapVector<StringRef, int64_t>>
bindDims(func::FuncOp function, ArrayRef<SmallVector<int64_t>> argShapes,
         std::string &error);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DIALECT_IOLITE_IR_DYNAMICDIMS_H
