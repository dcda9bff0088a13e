//===- iolite-import.cpp - Print a model as iolite IR ---------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Loads a model the way every Iolite tool does (ONNX .onnx/.onnxtxt or
// .mlir) and prints the module: the importer's output, unchanged. With
// --split-input-file an .onnxtxt file holds several models separated by
// `# -----`, the importer tests' format.
//
//===----------------------------------------------------------------------===//

#include "iolite/Driver/ModelLoader.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/ToolUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
using namespace mlir::iolite;

static llvm::cl::opt<std::string> inputFilename(llvm::cl::Positional,
                                                llvm::cl::desc("<model>"),
                                                llvm::cl::Required);

static llvm::cl::opt<std::string>
    outputFilename("o", llvm::cl::desc("Output file (default: stdout)"),
                   llvm::cl::value_desc("filename"), llvm::cl::init("-"));

static llvm::cl::opt<bool> splitInputFile(
    "split-input-file",
    llvm::cl::desc("Import each chunk of a text model separated by `# -----` "
                   "(`// -----` for .mlir) on its own"),
    llvm::cl::init(false));

/// Loads and prints one buffer; diagnostics name `identifier`.
static LogicalResult processBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer,
                                   ModelFormat format,
                                   const ModelLoadOptions &options,
                                   raw_ostream &os) {
  MLIRContext context;
  context.allowUnregisteredDialects(false);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = loadModel(sourceMgr, format, context, options);
  if (!module)
    return failure();
  module->print(os);
  os << "\n";
  return success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM y(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerModelLoadCLOptions();
  llvm::cl::ParseCommandLineOptions(
      argc, argv, "Iolite model importer: prints a model as iolite IR\n");

  {
    MLIRContext context;
    if (std::optional<int> rc = handleListUnsupported(inputFilename, context))
      return *rc;
  }
  FailureOr<ModelLoadOptions> options = getModelLoadOptionsFromCL();
  if (failed(options))
    return 1;

  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input =
      openInputFile(inputFilename, &error);
  if (!input) {
    llvm::errs() << "error: " << error << "\n";
    return 1;
  }
  std::unique_ptr<llvm::ToolOutputFile> output =
      openOutputFile(outputFilename, &error);
  if (!output) {
    llvm::errs() << "error: " << error << "\n";
    return 1;
  }

  ModelFormat format = getModelFormat(inputFilename);
  LogicalResult result = success();
  if (!splitInputFile) {
    result = processBuffer(std::move(input), format, *options, output->os());
  } else if (format == ModelFormat::ONNX) {
    llvm::errs() << "error: --split-input-file needs a text model\n";
    return 1;
  } else {
    std::string name = inputFilename;
    result = splitAndProcessBuffer(
        std::move(input),
        [&](std::unique_ptr<llvm::MemoryBuffer> chunk,
            const llvm::MemoryBufferRef &, raw_ostream &os) {
          // Keep the file's name on every chunk for locations.
          return processBuffer(
              llvm::MemoryBuffer::getMemBufferCopy(chunk->getBuffer(), name),
              format, *options, os);
        },
        output->os(),
        format == ModelFormat::ONNXText ? "# -----" : kDefaultSplitMarker,
        "// -----");
  }
  if (failed(result))
    return 1;
  output->keep();
  return 0;
}
