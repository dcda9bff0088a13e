//===- IoliteDialect.h - Iolite dialect -------------------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITE_IR_IOLITEDIALECT_H
#define IOLITE_DIALECT_IOLITE_IR_IOLITEDIALECT_H

#include "mlir/IR/Dialect.h"

#include "iolite/Dialect/Iolite/IR/IoliteDialect.h.inc"

#endif // IOLITE_DIALECT_IOLITE_IR_IOLITEDIALECT_H
