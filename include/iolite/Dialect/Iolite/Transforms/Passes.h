//===- Passes.h - Iolite graph passes ---------------------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Declarations of the graph passes (see Passes.td). The transformations they
// run are public in Transforms.h so that pipelines and tests can call them
// without the pass wrappers.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITE_TRANSFORMS_PASSES_H
#define IOLITE_DIALECT_IOLITE_TRANSFORMS_PASSES_H

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace iolite {

#define GEN_PASS_DECL
#include "iolite/Dialect/Iolite/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "iolite/Dialect/Iolite/Transforms/Passes.h.inc"

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DIALECT_IOLITE_TRANSFORMS_PASSES_H
