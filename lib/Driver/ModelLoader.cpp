//===- ModelLoader.cpp - Load .mlir or .onnx models for the tools ---------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Driver/ModelLoader.h"

#include "iolite/Dialect/Iolite/Transforms/Transforms.h"
#include "iolite/Import/ONNX/ONNXImporter.h"
#include "iolite/InitAll.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
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

/// --dim on an MLIR model: bounds go to the functions whose arguments name
/// the symbol; a function whose every symbol gets a value is specialised.
static LogicalResult applyDimOptions(ModuleOp module,
                                     const ModelLoadOptions &options) {
  if (options.dims.empty() && options.dimBounds.empty())
    return success();
  llvm::StringSet<> matched;
  for (auto function : module.getOps<func::FuncOp>()) {
    if (function.isDeclaration() || !hasDynamicDims(function))
      continue;
    llvm::StringSet<> symbols;
    for (unsigned i = 0, e = function.getNumArguments(); i < e; ++i)
      for (StringRef name : getArgDimNames(function, i))
        if (!name.empty())
          symbols.insert(name);
    // Bounds first; then values, which must lie within them.
    SmallVector<DimSpec> ranges, pins;
    for (const auto &entry : options.dimBounds)
      if (symbols.contains(entry.getKey()))
        ranges.push_back({entry.getKey().str(), entry.getValue()});
    for (const auto &entry : options.dims)
      if (symbols.contains(entry.getKey()))
        pins.push_back(
            {entry.getKey().str(), {entry.getValue(), entry.getValue()}});
    for (const DimSpec &spec : llvm::concat<DimSpec>(ranges, pins))
      matched.insert(spec.name);
    if (failed(applyDimSpecs(function, ranges)))
      return failure();
    FailureOr<DimBounds> declared = getDimBounds(function);
    if (failed(declared))
      return failure();
    for (const DimSpec &spec : pins) {
      auto it = declared->find(spec.name);
      if (it != declared->end() &&
          (spec.bound.lo < it->second.lo || spec.bound.lo > it->second.hi))
        return function.emitError()
               << "dim '" << spec.name << "' = " << spec.bound.lo
               << " is outside its bounds " << it->second.lo << ".."
               << it->second.hi;
    }
    if (failed(applyDimSpecs(function, pins)) ||
        failed(verifyDimContract(function)))
      return failure();
    FailureOr<DimBounds> bounds = getDimBounds(function);
    if (failed(bounds))
      return failure();
    if (!llvm::all_of(*bounds, [](auto &entry) {
          return entry.second.lo == entry.second.hi;
        }))
      continue;
    llvm::MapVector<StringRef, int64_t> values;
    for (auto &[name, bound] : *bounds)
      values[name] = bound.lo;
    if (failed(specializeDims(function, values)))
      return failure();
  }
  auto warnUnmatched = [&](StringRef name) {
    if (!matched.contains(name))
      emitWarning(module.getLoc())
          << "--dim " << name
          << ": no function argument has a symbolic dim of that name";
  };
  for (const auto &entry : options.dims)
    warnUnmatched(entry.getKey());
  for (const auto &entry : options.dimBounds)
    warnUnmatched(entry.getKey());
  return success();
}

OwningOpRef<ModuleOp> mlir::iolite::loadModel(llvm::SourceMgr &sourceMgr,
                                              ModelFormat format,
                                              MLIRContext &context,
                                              const ModelLoadOptions &options) {
  prepareContext(context);
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  if (format == ModelFormat::MLIR) {
    OwningOpRef<ModuleOp> module =
        parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(&context));
    if (!module || failed(applyDimOptions(*module, options)))
      return nullptr;
    return module;
  }
  ONNXImportOptions importOptions;
  importOptions.dimValues = options.dims;
  for (const auto &entry : options.dimBounds)
    importOptions.dimBounds[entry.getKey()] = {entry.getValue().lo,
                                               entry.getValue().hi};
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
      llvm::cl::desc("A symbolic dim of the model's inputs: NAME=N gives it "
                     "a value, NAME=LO..HI keeps it dynamic within bounds "
                     "(repeatable or comma-separated)"),
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

void mlir::iolite::addDimSpec(ModelLoadOptions &options, const DimSpec &spec) {
  if (spec.bounded)
    options.dimBounds[spec.name] = spec.bound;
  else
    options.dims[spec.name] = spec.bound.lo;
}

FailureOr<ModelLoadOptions> mlir::iolite::getModelLoadOptionsFromCL() {
  ModelLoadOptions options;
  if (!clOptions.isConstructed())
    return options;
  for (const std::string &entry : clOptions->dims) {
    std::string error;
    FailureOr<DimSpec> spec = parseDimSpec(entry, error);
    if (failed(spec)) {
      llvm::errs() << "error: --dim: " << error << "\n";
      return failure();
    }
    addDimSpec(options, *spec);
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
