//===- HostTensor.cpp - Constants evaluated at import time ----------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "HostTensor.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/APInt.h"
#include "llvm/ADT/STLExtras.h"

#include <limits>

using namespace mlir;
using namespace mlir::iolite::onnx_import;

SmallVector<int64_t>
mlir::iolite::onnx_import::stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

int64_t mlir::iolite::onnx_import::numElementsOf(ArrayRef<int64_t> shape) {
  if (llvm::any_of(shape, ShapedType::isDynamic))
    return ShapedType::kDynamic;
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n))
      return std::numeric_limits<int64_t>::max();
  return n;
}

std::optional<int64_t>
mlir::iolite::onnx_import::checkedNumElementsOf(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n))
      return std::nullopt;
  return n;
}

SmallVector<int64_t>
mlir::iolite::onnx_import::broadcastIndices(ArrayRef<int64_t> operand,
                                            ArrayRef<int64_t> result) {
  size_t rank = result.size(), off = rank - operand.size();
  SmallVector<int64_t> opStrides = stridesOf(operand);
  // The stride with which each result dim moves through the operand: zero
  // for broadcast dims.
  SmallVector<int64_t> step(rank, 0);
  for (size_t i = 0; i < operand.size(); ++i)
    step[off + i] = operand[i] == 1 ? 0 : opStrides[i];
  int64_t n = numElementsOf(result);
  SmallVector<int64_t> indices;
  indices.reserve(n);
  SmallVector<int64_t> counter(rank, 0);
  int64_t src = 0;
  for (int64_t i = 0; i < n; ++i) {
    indices.push_back(src);
    // Advance the multi-index like an odometer.
    for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
      if (++counter[d] < result[d]) {
        src += step[d];
        break;
      }
      src -= step[d] * (result[d] - 1);
      counter[d] = 0;
    }
  }
  return indices;
}

bool mlir::iolite::onnx_import::isUnsignedInt(Type type) {
  auto it = dyn_cast<IntegerType>(type);
  return it && (it.isUnsigned() || it.getWidth() == 1);
}

int64_t mlir::iolite::onnx_import::wrapInt(Type type, int64_t value) {
  unsigned width = cast<IntegerType>(type).getWidth();
  if (width >= 64)
    return value;
  if (width == 1)
    return value != 0;
  llvm::APInt v(64, static_cast<uint64_t>(value));
  v = v.trunc(width);
  return isUnsignedInt(type) ? static_cast<int64_t>(v.getZExtValue())
                             : v.getSExtValue();
}

HostTensor HostTensor::zeros(Type elemType, ArrayRef<int64_t> shape) {
  HostTensor t;
  t.elemType = elemType;
  t.shape.assign(shape.begin(), shape.end());
  int64_t n = numElementsOf(shape);
  if (t.isFloat())
    t.floats.assign(n, 0.0);
  else
    t.ints.assign(n, 0);
  return t;
}

HostTensor HostTensor::fromAttr(DenseElementsAttr attr) {
  HostTensor t;
  t.elemType = attr.getElementType();
  t.shape.assign(attr.getType().getShape().begin(),
                 attr.getType().getShape().end());
  int64_t n = attr.getNumElements();
  if (auto ft = dyn_cast<FloatType>(t.elemType)) {
    t.floats.reserve(n);
    if (attr.isSplat()) {
      t.floats.assign(n, attr.getSplatValue<APFloat>().convertToDouble());
    } else {
      for (const APFloat &v : attr.getValues<APFloat>())
        t.floats.push_back(v.convertToDouble());
    }
    return t;
  }
  bool isUnsigned = isUnsignedInt(t.elemType);
  auto extend = [&](const APInt &v) {
    return isUnsigned ? static_cast<int64_t>(v.getZExtValue())
                      : v.getSExtValue();
  };
  t.ints.reserve(n);
  if (attr.isSplat()) {
    t.ints.assign(n, extend(attr.getSplatValue<APInt>()));
  } else {
    for (const APInt &v : attr.getValues<APInt>())
      t.ints.push_back(extend(v));
  }
  return t;
}

DenseElementsAttr HostTensor::toAttr() const {
  auto type = RankedTensorType::get(shape, elemType);
  if (auto ft = dyn_cast<FloatType>(elemType)) {
    SmallVector<APFloat> values;
    values.reserve(floats.size());
    for (double d : floats) {
      APFloat v(d);
      bool losesInfo;
      (void)v.convert(ft.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                      &losesInfo);
      values.push_back(v);
    }
    return DenseElementsAttr::get(type, values);
  }
  unsigned width = cast<IntegerType>(elemType).getWidth();
  if (width == 1) {
    SmallVector<bool> values;
    values.reserve(ints.size());
    for (int64_t v : ints)
      values.push_back(v != 0);
    return DenseElementsAttr::get(type, values);
  }
  SmallVector<APInt> values;
  values.reserve(ints.size());
  for (int64_t v : ints)
    values.push_back(
        APInt(64, static_cast<uint64_t>(v), /*isSigned=*/true).trunc(width));
  return DenseElementsAttr::get(type, values);
}

HostTensor HostTensor::permute(ArrayRef<int64_t> sourceIndex,
                               ArrayRef<int64_t> newShape) const {
  HostTensor t;
  t.elemType = elemType;
  t.shape.assign(newShape.begin(), newShape.end());
  if (isFloat()) {
    t.floats.reserve(sourceIndex.size());
    for (int64_t i : sourceIndex)
      t.floats.push_back(floats[i]);
  } else {
    t.ints.reserve(sourceIndex.size());
    for (int64_t i : sourceIndex)
      t.ints.push_back(ints[i]);
  }
  return t;
}
