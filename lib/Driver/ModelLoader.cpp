//===- ModelLoader.cpp - Load .mlir or .onnx models for the tools ---------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Driver/ModelLoader.h"

#include "iolite/Import/ONNX/ONNXImporter.h"
#include "iolite/InitAll.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/ManagedStatic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

#include <map>

using namespace mlir;
using namespace mlir::iolite;

ModelFormat mlir::iolite::getModelFormat(StringRef path) {
  StringRef ext = llvm::sys::path::extension(path);
  if (ext.equals_insensitive(".onnx"))
    return ModelFormat::ONNX;
  if (ext.equals_insensitive(".onnxtxt"))
    return ModelFormat::ONNXText;
  return ModelFormat::MLIR;
}

/// Makes the dialects a model may use available in `context`.
static void prepareContext(MLIRContext &context) {
  DialectRegistry registry;
  registerAllDialects(registry);
  context.appendDialectRegistry(registry);
}

OwningOpRef<ModuleOp> mlir::iolite::loadModel(llvm::SourceMgr &sourceMgr,
                                              ModelFormat format,
                                              MLIRContext &context,
                                              const ModelLoadOptions &options) {
  prepareContext(context);
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  if (format == ModelFormat::MLIR) {
    if (!options.dims.empty())
      emitWarning(
          FileLineColLoc::get(&context, buffer->getBufferIdentifier(), 0, 0))
          << "--dim applies to ONNX models only; ignored";
    return parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(&context));
  }
  ONNXImportOptions importOptions;
  importOptions.dimValues = options.dims;
  importOptions.functionName = options.functionName;
  return importONNXModel(buffer->getMemBufferRef(),
                         format == ModelFormat::ONNX ? ONNXFormat::Binary
                                                     : ONNXFormat::Text,
                         &context, importOptions);
}

/// Opens `path` as the main buffer of `sourceMgr`.
static LogicalResult openFile(StringRef path, MLIRContext &context,
                              llvm::SourceMgr &sourceMgr) {
  auto file = llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/false,
                                                 /*RequiresNullTerminator=*/
                                                 false);
  if (std::error_code ec = file.getError())
    return emitError(FileLineColLoc::get(&context, path, 0, 0))
           << "cannot open the model: " << ec.message();
  sourceMgr.AddNewSourceBuffer(std::move(*file), llvm::SMLoc());
  return success();
}

FailureOr<OwningOpRef<ModuleOp>>
mlir::iolite::loadModel(StringRef path, MLIRContext &context,
                        const ModelLoadOptions &options) {
  llvm::SourceMgr sourceMgr;
  if (failed(openFile(path, context, sourceMgr)))
    return failure();
  OwningOpRef<ModuleOp> module =
      loadModel(sourceMgr, getModelFormat(path), context, options);
  if (!module)
    return failure();
  return module;
}

LogicalResult mlir::iolite::listUnsupportedOps(StringRef path,
                                               MLIRContext &context,
                                               raw_ostream &os) {
  ModelFormat format = getModelFormat(path);
  if (format == ModelFormat::MLIR)
    return emitError(FileLineColLoc::get(&context, path, 0, 0))
           << "--list-unsupported needs an ONNX model (.onnx or .onnxtxt)";
  llvm::SourceMgr sourceMgr;
  if (failed(openFile(path, context, sourceMgr)))
    return failure();
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  FailureOr<std::vector<ONNXUnsupportedNode>> nodes = findUnsupportedONNXNodes(
      buffer->getMemBufferRef(),
      format == ModelFormat::ONNX ? ONNXFormat::Binary : ONNXFormat::Text,
      &context);
  if (failed(nodes))
    return failure();
  if (nodes->empty()) {
    os << path << ": every op is supported\n";
    return success();
  }
  // Group by op type (with its domain), in name order.
  std::map<std::string, std::vector<const ONNXUnsupportedNode *>> byOp;
  for (const ONNXUnsupportedNode &n : *nodes) {
    std::string key = n.domain.empty() ? n.opType : n.domain + "::" + n.opType;
    byOp[key].push_back(&n);
  }
  os << path << ": " << byOp.size() << " unsupported op type"
     << (byOp.size() == 1 ? "" : "s") << " in " << nodes->size() << " node"
     << (nodes->size() == 1 ? "" : "s") << "\n";
  for (const auto &[op, list] : byOp) {
    os << "  " << op << " (" << list.size() << "):";
    for (const ONNXUnsupportedNode *n : list)
      os << " " << (n->name.empty() ? "#" + std::to_string(n->index) : n->name);
    os << "\n";
  }
  return failure();
}

//===----------------------------------------------------------------------===//
// Command-line options
//===----------------------------------------------------------------------===//

llvm::cl::OptionCategory &mlir::iolite::getModelLoadCLCategory() {
  static llvm::cl::OptionCategory category("Model loading options");
  return category;
}

namespace {
struct ModelLoadCLOptions {
  llvm::cl::list<std::string> dims{
      "dim",
      llvm::cl::desc("Value of a symbolic dim of the ONNX graph inputs, "
                     "NAME=VALUE (repeatable or comma-separated)"),
      llvm::cl::CommaSeparated, llvm::cl::cat(getModelLoadCLCategory())};
  llvm::cl::opt<std::string> functionName{
      "onnx-function-name",
      llvm::cl::desc("Name of the function an ONNX model is imported as "
                     "(default: the graph's name)"),
      llvm::cl::init(""), llvm::cl::cat(getModelLoadCLCategory())};
  llvm::cl::opt<bool> listUnsupported{
      "list-unsupported",
      llvm::cl::desc("Print every op of the ONNX model that the importer does "
                     "not support, and exit (1 when there is one)"),
      llvm::cl::init(false), llvm::cl::cat(getModelLoadCLCategory())};
};
} // namespace

static llvm::ManagedStatic<ModelLoadCLOptions> clOptions;

void mlir::iolite::registerModelLoadCLOptions() { *clOptions; }

FailureOr<ModelLoadOptions> mlir::iolite::getModelLoadOptionsFromCL() {
  ModelLoadOptions options;
  if (!clOptions.isConstructed())
    return options;
  for (const std::string &entry : clOptions->dims) {
    auto [name, value] = StringRef(entry).split('=');
    int64_t v;
    if (name.empty() || value.getAsInteger(10, v) || v < 0) {
      llvm::errs() << "error: --dim expects NAME=VALUE with VALUE >= 0, got '"
                   << entry << "'\n";
      return failure();
    }
    options.dims[name] = v;
  }
  options.functionName = clOptions->functionName;
  return options;
}

std::optional<int> mlir::iolite::handleListUnsupported(StringRef path,
                                                       MLIRContext &context) {
  if (!clOptions.isConstructed() || !clOptions->listUnsupported)
    return std::nullopt;
  return failed(listUnsupportedOps(path, context, llvm::outs())) ? 1 : 0;
}
