//===- InitAll.h - Register Iolite and the upstream it uses ----*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_INITALL_H
#define IOLITE_INITALL_H

namespace mlir {
class DialectRegistry;
namespace iolite {

/// Adds the iolite dialect, the upstream dialects Iolite's pipelines produce
/// and their interface implementations (bufferization, inlining, LLVM IR
/// translation, GPU targets) to `registry`.
void registerAllDialects(DialectRegistry &registry);

/// Registers every iolite pass and pipeline, and the upstream passes, with
/// the global pass registry so that iolite-opt can run them by flag.
void registerAllPasses();

} // namespace iolite
} // namespace mlir

#endif // IOLITE_INITALL_H
