//===- HostTensor.h - Tensors in host memory --------------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The values iolite-run passes to and gets from a backend: a ranked tensor
// type with a static shape and its elements in C order, laid out as the
// compiled code stores them (i1 as one byte, bf16 and f16 as two).
// Conversions from and to .npy arrays define how each element type is
// spelled in numpy (bf16: uint16 bit patterns), and the comparison that
// --expect runs.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DRIVER_HOSTTENSOR_H
#define IOLITE_DRIVER_HOSTTENSOR_H

#include "iolite/Support/Npy.h"
#include "mlir/IR/BuiltinTypes.h"

#include <string>
#include <vector>

namespace mlir {
namespace iolite {

/// A tensor value in host memory.
struct HostTensor {
  RankedTensorType type;
  /// C-order element bytes, getStorageSize() of them.
  std::vector<uint8_t> data;

  /// A zero-filled tensor of `type` (static shape).
  static HostTensor zeros(RankedTensorType type);
  /// Bytes of one element in memory.
  static size_t getElementSize(Type elementType);
  size_t getStorageSize() const;
  /// Element `i` as a double (i1 as 0/1, bf16 and f16 decoded).
  double getAsDouble(int64_t i) const;
};

/// The numpy dtype an element type travels as in .npy files: f32 float32,
/// f16 float16, bf16 uint16 (bit patterns), i1 bool, i32 int32, i64 int64.
/// Fails for other types.
FailureOr<NpyDType> getNpyDTypeFor(Type elementType);

/// `bool`, `float16`, `uint16 (bf16 bits)`, ...: how to write a value of
/// `elementType` from numpy, for diagnostics.
std::string describeNpyDTypeFor(Type elementType);

/// Makes a tensor of `type` from `array`, or returns a message saying why
/// the array does not fit (dtype or shape).
FailureOr<HostTensor> tensorFromNpy(const NpyArray &array,
                                    RankedTensorType type, std::string &whyNot);

/// The .npy array holding `tensor`.
NpyArray tensorToNpy(const HostTensor &tensor);

/// The result of comparing a tensor with an expected array.
struct Comparison {
  bool shapeMatches = true;
  bool ok = true;
  double maxAbsError = 0;
  double maxRelError = 0;
  /// The first element out of tolerance (-1 when none), its value and the
  /// expected one.
  int64_t firstMismatch = -1;
  double actualAtMismatch = 0, expectedAtMismatch = 0;
};

/// Compares element by element: |actual - expected| <= atol + rtol *
/// |expected| (numpy.allclose), NaN matching NaN and infinities matching
/// themselves. `expected` may have any numeric dtype; a uint16 array is read
/// as bf16 bits when `actual` is bf16. The relative error of an element
/// whose expected value is 0 counts only when the actual value differs
/// (then it is infinite).
Comparison compareTensor(const HostTensor &actual, const NpyArray &expected,
                         double rtol, double atol);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DRIVER_HOSTTENSOR_H
