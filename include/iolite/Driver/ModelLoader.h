//===- ModelLoader.h - Load .mlir or .onnx models for the tools -*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The one way Iolite's tools read a model: an iolite-dialect module (.mlir,
// text or bytecode) or an ONNX model (.onnx binary, .onnxtxt text syntax)
// imported into one. The tools share its command-line options (--dim,
// --list-unsupported) through registerModelLoadCLOptions().
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DRIVER_MODELLOADER_H
#define IOLITE_DRIVER_MODELLOADER_H

#include "iolite/Dialect/Iolite/IR/DynamicDims.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringMap.h"

#include <optional>
#include <string>

namespace llvm {
class SourceMgr;
namespace cl {
class OptionCategory;
} // namespace cl
} // namespace llvm

namespace mlir {
class MLIRContext;
namespace iolite {

/// How a model file is stored.
enum class ModelFormat {
  /// MLIR, text or bytecode (the default for unknown extensions).
  MLIR,
  /// A binary ONNX ModelProto (.onnx).
  ONNX,
  /// The ONNX text syntax of onnx.parser (.onnxtxt).
  ONNXText,
};

/// The format of `path`, from its extension.
ModelFormat getModelFormat(StringRef path);

/// Options for loading a model.
struct ModelLoadOptions {
  /// Values of symbolic dims (--dim NAME=VALUE): an ONNX model imports with
  /// them static; an MLIR function whose symbols all get values is
  /// specialised to them.
  llvm::StringMap<int64_t> dims;
  /// Bounds of symbolic dims that stay dynamic (--dim NAME=LO..HI): an ONNX
  /// dim_param becomes a symbol with these bounds; an MLIR function's
  /// iolite.dim_bounds take them.
  llvm::StringMap<DimBound> dimBounds;
  /// Name of the function an ONNX model becomes; empty: the graph's name.
  std::string functionName;
};

/// Records one --dim entry: a bound (`NAME=LO..HI`) in `dimBounds`, a value
/// (`NAME=N`) in `dims`.
void addDimSpec(ModelLoadOptions &options, const DimSpec &spec);

/// Loads the model at `path` into `context` (registering the dialects Iolite
/// uses). Diagnostics go to the context's handlers.
FailureOr<OwningOpRef<ModuleOp>> loadModel(StringRef path, MLIRContext &context,
                                           const ModelLoadOptions &options);

/// Loads the model in `sourceMgr`'s main buffer, whose identifier names the
/// file. For tools that install a SourceMgrDiagnosticHandler on it.
OwningOpRef<ModuleOp> loadModel(llvm::SourceMgr &sourceMgr, ModelFormat format,
                                MLIRContext &context,
                                const ModelLoadOptions &options);

/// Prints the ONNX ops of the model at `path` that the importer does not
/// support, grouped by op type, to `os`. Fails when there is one or when the
/// model cannot be read (with a diagnostic).
LogicalResult listUnsupportedOps(StringRef path, MLIRContext &context,
                                 raw_ostream &os);

/// Registers --dim NAME=VALUE (repeatable, or comma-separated),
/// --onnx-function-name and --list-unsupported with LLVM's command line.
/// Call before cl::ParseCommandLineOptions.
void registerModelLoadCLOptions();

/// The category of those options, for cl::HideUnrelatedOptions.
llvm::cl::OptionCategory &getModelLoadCLCategory();

/// The options given on the command line; fails (printing why to stderr)
/// on a malformed --dim.
FailureOr<ModelLoadOptions> getModelLoadOptionsFromCL();

/// For a tool's main: when --list-unsupported was given, prints the report
/// for `path` and returns the exit code (0 when every op is supported, 1
/// otherwise); returns nullopt when the flag was not given.
std::optional<int> handleListUnsupported(StringRef path, MLIRContext &context);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DRIVER_MODELLOADER_H
