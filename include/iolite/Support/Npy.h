//===- Npy.h - NumPy .npy files ---------------------------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Reads and writes NumPy's .npy format (versions 1.0, 2.0 and 3.0): the
// arrays iolite-run takes as inputs and writes as outputs. Arrays are held in
// C order and little-endian whatever the file had; big-endian and
// Fortran-ordered files are converted on reading.
//
// numpy has no bfloat16; Iolite passes bf16 tensors as uint16 arrays of bf16
// bit patterns (the upper half of the f32 bit pattern). f16 tensors are
// numpy float16.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_SUPPORT_NPY_H
#define IOLITE_SUPPORT_NPY_H

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
namespace iolite {

/// The element types an .npy array may have here.
enum class NpyDType {
  Bool,
  Int8,
  UInt8,
  Int16,
  UInt16,
  Int32,
  UInt32,
  Int64,
  UInt64,
  Float16,
  Float32,
  Float64,
};

/// numpy's name of `dtype` ("float16", "bool", ...).
llvm::StringRef getNpyDTypeName(NpyDType dtype);

/// Bytes per element.
size_t getNpyDTypeSize(NpyDType dtype);

/// An n-dimensional array: C order, little-endian element bytes.
struct NpyArray {
  NpyDType dtype = NpyDType::Float32;
  llvm::SmallVector<int64_t> shape;
  std::vector<uint8_t> data;

  /// The product of the dims (1 for a 0-d array).
  int64_t getNumElements() const;
  /// `2x3` (or `scalar` for a 0-d array).
  std::string getShapeString() const;
  /// Element `i` (in C order) converted to double; float16 is decoded.
  double getAsDouble(int64_t i) const;
};

/// Parses the bytes of an .npy file; `name` is used in error messages.
llvm::Expected<NpyArray> parseNpy(llvm::StringRef bytes, llvm::StringRef name);

/// Reads an .npy file.
llvm::Expected<NpyArray> readNpy(llvm::StringRef path);

/// The bytes of a version 1.0 .npy file holding `array`.
std::string serializeNpy(const NpyArray &array);

/// Writes `array` to `path` as a version 1.0 .npy file.
llvm::Error writeNpy(llvm::StringRef path, const NpyArray &array);

/// IEEE half bits to float.
float halfBitsToFloat(uint16_t bits);
/// bfloat16 bits to float (exact).
float bfloat16BitsToFloat(uint16_t bits);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_SUPPORT_NPY_H
