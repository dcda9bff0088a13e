//===- HostTensor.cpp - Tensors in host memory ----------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Driver/HostTensor.h"

#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace mlir;
using namespace mlir::iolite;

HostTensor HostTensor::zeros(RankedTensorType type) {
  HostTensor t;
  t.type = type;
  t.data.assign(t.getStorageSize(), 0);
  return t;
}

size_t HostTensor::getElementSize(Type elementType) {
  if (elementType.isInteger(1))
    return 1;
  return (elementType.getIntOrFloatBitWidth() + 7) / 8;
}

size_t HostTensor::getStorageSize() const {
  return static_cast<size_t>(type.getNumElements()) *
         getElementSize(type.getElementType());
}

double HostTensor::getAsDouble(int64_t i) const {
  Type et = type.getElementType();
  const uint8_t *p = data.data() + i * getElementSize(et);
  auto load = [&](auto v) {
    std::memcpy(&v, p, sizeof(v));
    return v;
  };
  if (et.isF32())
    return load(float());
  if (et.isF16())
    return halfBitsToFloat(load(uint16_t()));
  if (et.isBF16())
    return bfloat16BitsToFloat(load(uint16_t()));
  if (et.isF64())
    return load(double());
  if (et.isInteger(1))
    return *p ? 1.0 : 0.0;
  if (et.isInteger(8))
    return load(int8_t());
  if (et.isInteger(16))
    return load(int16_t());
  if (et.isInteger(32))
    return load(int32_t());
  if (et.isInteger(64))
    return static_cast<double>(load(int64_t()));
  return std::numeric_limits<double>::quiet_NaN();
}

FailureOr<NpyDType> mlir::iolite::getNpyDTypeFor(Type et) {
  if (et.isF32())
    return NpyDType::Float32;
  if (et.isF16())
    return NpyDType::Float16;
  if (et.isBF16())
    return NpyDType::UInt16;
  if (et.isF64())
    return NpyDType::Float64;
  if (et.isInteger(1))
    return NpyDType::Bool;
  if (et.isInteger(8))
    return NpyDType::Int8;
  if (et.isInteger(16))
    return NpyDType::Int16;
  if (et.isInteger(32))
    return NpyDType::Int32;
  if (et.isInteger(64))
    return NpyDType::Int64;
  return failure();
}

std::string mlir::iolite::describeNpyDTypeFor(Type et) {
  FailureOr<NpyDType> d = getNpyDTypeFor(et);
  if (failed(d))
    return "(no numpy dtype)";
  std::string s = getNpyDTypeName(*d).str();
  if (et.isBF16())
    s += " (bf16 bit patterns)";
  return s;
}

static std::string typeString(RankedTensorType type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

FailureOr<HostTensor> mlir::iolite::tensorFromNpy(const NpyArray &array,
                                                  RankedTensorType type,
                                                  std::string &whyNot) {
  FailureOr<NpyDType> want = getNpyDTypeFor(type.getElementType());
  if (failed(want)) {
    whyNot = "element type " + typeString(type) + " cannot be passed";
    return failure();
  }
  // A dynamic dim (a symbolic dim of a bundle or model) takes any size;
  // the tensor gets the array's shape.
  bool fits = array.dtype == *want &&
              static_cast<int64_t>(array.shape.size()) == type.getRank();
  for (unsigned d = 0; fits && d < type.getRank(); ++d)
    fits = type.isDynamicDim(d) || array.shape[d] == type.getDimSize(d);
  if (!fits) {
    std::string expected;
    for (unsigned d = 0; d < type.getRank(); ++d)
      expected += (d ? "x" : "") + (type.isDynamicDim(d)
                                        ? std::string("?")
                                        : std::to_string(type.getDimSize(d)));
    whyNot = "expected " + expected + " " +
             describeNpyDTypeFor(type.getElementType()) + " for " +
             typeString(type) + ", got " + array.getShapeString() + " " +
             getNpyDTypeName(array.dtype).str();
    return failure();
  }
  HostTensor t;
  t.type = RankedTensorType::get(array.shape, type.getElementType());
  t.data = array.data;
  return t;
}

NpyArray mlir::iolite::tensorToNpy(const HostTensor &tensor) {
  NpyArray a;
  a.dtype = *getNpyDTypeFor(tensor.type.getElementType());
  a.shape.assign(tensor.type.getShape().begin(), tensor.type.getShape().end());
  a.data = tensor.data;
  return a;
}

Comparison mlir::iolite::compareTensor(const HostTensor &actual,
                                       const NpyArray &expected, double rtol,
                                       double atol) {
  Comparison c;
  if (ArrayRef<int64_t>(expected.shape) != actual.type.getShape()) {
    c.shapeMatches = false;
    c.ok = false;
    return c;
  }
  bool expectedBf16Bits = actual.type.getElementType().isBF16() &&
                          expected.dtype == NpyDType::UInt16;
  for (int64_t i = 0, e = expected.getNumElements(); i < e; ++i) {
    double a = actual.getAsDouble(i);
    double x;
    if (expectedBf16Bits) {
      uint16_t bits;
      std::memcpy(&bits, expected.data.data() + 2 * i, 2);
      x = bfloat16BitsToFloat(bits);
    } else {
      x = expected.getAsDouble(i);
    }
    bool same = (std::isnan(a) && std::isnan(x)) || a == x;
    double abs = same ? 0 : std::fabs(a - x);
    if (std::isnan(abs))
      abs = std::numeric_limits<double>::infinity();
    double rel = abs == 0 ? 0
                 : x == 0 ? std::numeric_limits<double>::infinity()
                          : abs / std::fabs(x);
    c.maxAbsError = std::max(c.maxAbsError, abs);
    c.maxRelError = std::max(c.maxRelError, rel);
    bool within =
        same || (std::isfinite(x) && abs <= atol + rtol * std::fabs(x));
    if (!within && c.ok) {
      c.ok = false;
      c.firstMismatch = i;
      c.actualAtMismatch = a;
      c.expectedAtMismatch = x;
    }
  }
  return c;
}
