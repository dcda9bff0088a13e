//===- HostTensor.h - Constants evaluated at import time --------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Exported models compute shapes, position ids and masks from constants
// (Shape -> Gather -> Concat -> Reshape, Range, ConstantOfShape -> Where, ...).
// The importer folds those computations here so that the graph it builds has
// static shapes and no shape arithmetic. A HostTensor holds a constant's
// elements unpacked: integers (and booleans) as int64, floats as double.
// Float results are rounded to their element type once, at the end of each
// op, which for +, -, *, / and sqrt gives the same value as computing in
// that type.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_IMPORT_ONNX_HOSTTENSOR_H
#define IOLITE_LIB_IMPORT_ONNX_HOSTTENSOR_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace mlir {
namespace iolite {
namespace onnx_import {

struct HostTensor {
  Type elemType;
  SmallVector<int64_t> shape;
  /// The elements of an integer or i1 tensor (sign- or zero-extended).
  SmallVector<int64_t> ints;
  /// The elements of a float tensor.
  SmallVector<double> floats;

  bool isFloat() const { return isa<FloatType>(elemType); }
  int64_t size() const {
    return isFloat() ? static_cast<int64_t>(floats.size())
                     : static_cast<int64_t>(ints.size());
  }
  double getDouble(int64_t i) const {
    return isFloat() ? floats[i] : static_cast<double>(ints[i]);
  }
  int64_t getInt(int64_t i) const {
    return isFloat() ? static_cast<int64_t>(floats[i]) : ints[i];
  }

  /// Unpacks `attr`.
  static HostTensor fromAttr(DenseElementsAttr attr);
  /// An empty tensor of `shape`, with storage for its elements.
  static HostTensor zeros(Type elemType, ArrayRef<int64_t> shape);
  /// Packs the elements, rounding floats and wrapping integers to the
  /// element type.
  DenseElementsAttr toAttr() const;

  /// The tensor whose element `i` is this tensor's element `sourceIndex[i]`,
  /// with the given shape (transpose, slice, gather, expand, ...).
  HostTensor permute(ArrayRef<int64_t> sourceIndex,
                     ArrayRef<int64_t> newShape) const;
};

/// Row-major strides of `shape`.
SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape);

/// The product of `shape`'s dims: ShapedType::kDynamic when a dim is
/// symbolic, INT64_MAX when the product overflows (never foldable).
int64_t numElementsOf(ArrayRef<int64_t> shape);

/// The product of `shape`'s dims, or nullopt when a dim is negative or the
/// product overflows int64_t: for shapes computed from a model's data.
std::optional<int64_t> checkedNumElementsOf(ArrayRef<int64_t> shape);

/// For every element of the broadcast shape `result`, the linear index of the
/// element it reads in a tensor of shape `operand` (NumPy broadcasting).
SmallVector<int64_t> broadcastIndices(ArrayRef<int64_t> operand,
                                      ArrayRef<int64_t> result);

/// Integer semantics of an element type: how values wrap and compare.
/// i1 is treated as unsigned.
bool isUnsignedInt(Type type);

/// Wraps `value` to the width and signedness of integer type `type`.
int64_t wrapInt(Type type, int64_t value);

} // namespace onnx_import
} // namespace iolite
} // namespace mlir

#endif // IOLITE_LIB_IMPORT_ONNX_HOSTTENSOR_H
