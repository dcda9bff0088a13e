//===- IoliteOps.h - Iolite operations --------------------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITE_IR_IOLITEOPS_H
#define IOLITE_DIALECT_IOLITE_IR_IOLITEOPS_H

#include "iolite/Dialect/Iolite/IR/IoliteDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "iolite/Dialect/Iolite/IR/IoliteEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "iolite/Dialect/Iolite/IR/IoliteAttrs.h.inc"

#define GET_OP_CLASSES
#include "iolite/Dialect/Iolite/IR/IoliteOps.h.inc"

#endif // IOLITE_DIALECT_IOLITE_IR_IOLITEOPS_H
