//===- IoliteGPUDialect.h - Warp-level matrix ops dialect -------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITEGPU_IR_IOLITEGPUDIALECT_H
#define IOLITE_DIALECT_IOLITEGPU_IR_IOLITEGPUDIALECT_H

#include "mlir/IR/Dialect.h"

#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUDialect.h.inc"

#endif // IOLITE_DIALECT_IOLITEGPU_IR_IOLITEGPUDIALECT_H
