//===- Passes.h - Iolite conversion passes ----------------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Every conversion pass of Iolite and their registration.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_CONVERSION_PASSES_H
#define IOLITE_CONVERSION_PASSES_H

#include "iolite/Conversion/IoliteToLinalg/IoliteToLinalg.h"

namespace mlir {
namespace iolite {

#define GEN_PASS_REGISTRATION
#include "iolite/Conversion/Passes.h.inc"

} // namespace iolite
} // namespace mlir

#endif // IOLITE_CONVERSION_PASSES_H
