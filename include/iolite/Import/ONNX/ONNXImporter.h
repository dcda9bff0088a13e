//===- ONNXImporter.h - ONNX models to the iolite dialect -------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Imports an ONNX ModelProto as a module holding one func.func of iolite ops:
// the arguments are the graph inputs in order (inputs that are also
// initializers are constants, not arguments), the results are the graph
// outputs, initializers become iolite.constant. Shapes are static: symbolic
// dims of the graph inputs take their values from the options, and every
// shape computation on constants (Shape, Gather, Concat, Range, ...) is folded
// at import time. Unsupported or malformed models get a diagnostic naming the
// node, its op type and the reason, at a location built from the model file
// and the node.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_IMPORT_ONNX_ONNXIMPORTER_H
#define IOLITE_IMPORT_ONNX_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBufferRef.h"

#include <optional>
#include <string>
#include <vector>

namespace mlir {
class MLIRContext;
namespace iolite {

/// How an ONNX model is serialized.
enum class ONNXFormat {
  /// A binary ModelProto (.onnx).
  Binary,
  /// The ONNX text syntax of onnx.parser (.onnxtxt).
  Text,
};

/// Options of the ONNX importer.
struct ONNXImportOptions {
  /// Values of symbolic dims (dim_param) of the graph inputs, by name.
  llvm::StringMap<int64_t> dimValues;
  /// Bounds of the symbolic dims that stay dynamic (`--dim NAME=LO..HI`):
  /// those dims import as `?`, the arguments name their symbols in
  /// `iolite.dims` and the function declares `iolite.dim_bounds`.
  llvm::StringMap<std::pair<int64_t, int64_t>> dimBounds;
  /// Bounds for every symbolic dim that neither `dimValues` nor `dimBounds`
  /// names (the fuzzer keeps every symbol dynamic this way); unset, such a
  /// dim is an error.
  std::optional<std::pair<int64_t, int64_t>> otherDimBounds;
  /// Name of the imported function; empty means the graph's name.
  std::string functionName;
  /// Computations on constants with at most this many result elements are
  /// evaluated at import time; larger ones become iolite ops on constants.
  int64_t maxFoldElements = 1 << 20;
};

/// A node the importer cannot convert (or whose domain it does not know).
struct ONNXUnsupportedNode {
  std::string name;
  std::string domain;
  std::string opType;
  /// Position in the graph's node list.
  unsigned index = 0;
};

/// Imports the model in `buffer` (its identifier names the model file, used
/// for locations and to find external data). Emits diagnostics on `context`
/// and returns null on failure.
OwningOpRef<ModuleOp> importONNXModel(llvm::MemoryBufferRef buffer,
                                      ONNXFormat format, MLIRContext *context,
                                      const ONNXImportOptions &options = {});

/// Lists the nodes of the model in `buffer` whose op the importer does not
/// support at all. Fails, with a diagnostic, only when the model cannot be
/// read.
FailureOr<std::vector<ONNXUnsupportedNode>>
findUnsupportedONNXNodes(llvm::MemoryBufferRef buffer, ONNXFormat format,
                         MLIRContext *context);

/// True when the importer has a conversion for `opType` in `domain` (""
/// and "ai.onnx" are the default domain).
bool isSupportedONNXOp(StringRef domain, StringRef opType);

/// The op types of the default domain the importer converts, sorted.
std::vector<std::string> getSupportedONNXOps();

} // namespace iolite
} // namespace mlir

#endif // IOLITE_IMPORT_ONNX_ONNXIMPORTER_H
