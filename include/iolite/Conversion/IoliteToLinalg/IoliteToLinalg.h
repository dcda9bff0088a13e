//===- IoliteToLinalg.h - Reference lowering of iolite ----------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The reference semantics of the iolite dialect: a lowering of every iolite
// op to upstream linalg, tensor, arith, math and scf ops on tensors. The CPU
// pipeline runs it before bufferization; every fast path is checked against
// what it computes. docs/reference-semantics.md states the numerics contract.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_CONVERSION_IOLITETOLINALG_IOLITETOLINALG_H
#define IOLITE_CONVERSION_IOLITETOLINALG_IOLITETOLINALG_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class ConversionTarget;
class RewritePatternSet;

namespace iolite {

#define GEN_PASS_DECL_IOLITETOLINALGPASS
#define GEN_PASS_DECL_IOLITECOPYRETURNEDVALUESPASS
#include "iolite/Conversion/Passes.h.inc"

/// Adds the patterns lowering every iolite op (and inlining iolite.kernel
/// bodies) to `patterns`. The patterns need static shapes; they do not match
/// ops with dynamic dims.
void populateIoliteToLinalgPatterns(RewritePatternSet &patterns);

/// Marks the dialects the patterns produce legal and iolite illegal.
void configureIoliteToLinalgTarget(ConversionTarget &target);

/// Checks that every iolite op under `root` has static shapes, reporting the
/// first offending op with its location.
LogicalResult verifyStaticShapes(Operation *root);

/// Lowers every iolite op under `root` (a partial conversion: other ops stay
/// as they are). Fails with a diagnostic at the op that could not be lowered.
LogicalResult lowerIoliteToLinalg(Operation *root);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_CONVERSION_IOLITETOLINALG_IOLITETOLINALG_H
