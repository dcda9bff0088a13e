//===- IoliteRun.cpp - The iolite-run tool --------------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Driver/IoliteRun.h"

#include "iolite/Driver/CpuRunner.h"
#include "iolite/InitAll.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::iolite;

RunBackend::~RunBackend() = default;

namespace {

enum ExitCode { kOk = 0, kMismatch = 1, kError = 2 };

class CpuBackend : public RunBackend {
public:
  explicit CpuBackend(unsigned optLevel) { options.optLevel = optLevel; }
  FailureOr<SmallVector<HostTensor>> run(ModuleOp module, func::FuncOp function,
                                         ArrayRef<HostTensor> inputs) override {
    return runOnCpu(module, function, inputs, options);
  }

private:
  CpuRunOptions options;
};

/// The function to run: the named one, else the only public one, else
/// `main`.
func::FuncOp pickFunction(ModuleOp module, StringRef name) {
  SmallVector<func::FuncOp> candidates;
  for (auto f : module.getOps<func::FuncOp>())
    if (!f.isDeclaration())
      candidates.push_back(f);
  auto list = [&] {
    std::string s;
    for (func::FuncOp f : candidates)
      s += (s.empty() ? "@" : ", @") + f.getSymName().str();
    return s.empty() ? std::string("none") : s;
  };
  if (!name.empty()) {
    for (func::FuncOp f : candidates)
      if (f.getSymName() == name)
        return f;
    module.emitError("no function @")
        << name << " in the model (functions: " << list() << ")";
    return {};
  }
  SmallVector<func::FuncOp> publics;
  for (func::FuncOp f : candidates)
    if (f.isPublic())
      publics.push_back(f);
  if (publics.size() == 1)
    return publics.front();
  for (func::FuncOp f : candidates)
    if (f.getSymName() == "main")
      return f;
  module.emitError(candidates.empty()
                       ? "the model has no function to run"
                       : "the model has several functions; pick one with "
                         "--function (functions: ")
      << (candidates.empty() ? "" : list() + ")");
  return {};
}

std::string typeString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

} // namespace

std::unique_ptr<RunBackend>
mlir::iolite::createRunBackend(StringRef name, const RunToolOptions &options,
                               std::string &error) {
  if (name == "cpu")
    return std::make_unique<CpuBackend>(options.optLevel);
  if (name == "emu" || name == "cuda" || name == "hip") {
    error = ("backend '" + name +
             "' is not available in this build yet (available: cpu)")
                .str();
    return nullptr;
  }
  error = ("unknown backend '" + name + "' (available: cpu)").str();
  return nullptr;
}

int mlir::iolite::runIoliteRun(const RunToolOptions &options,
                               llvm::raw_ostream &out, llvm::raw_ostream &err) {
  auto fail = [&](const llvm::Twine &message) {
    err << "iolite-run: error: " << message << "\n";
    return kError;
  };
  if (options.model.empty())
    return fail("no model given");
  if (options.rtol < 0 || options.atol < 0)
    return fail("--rtol and --atol must be >= 0");
  std::string backendError;
  std::unique_ptr<RunBackend> backend =
      createRunBackend(options.backend, options, backendError);
  if (!backend)
    return fail(backendError);

  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context, err);

  std::string fileError;
  auto file = openInputFile(options.model, &fileError);
  if (!file)
    return fail("cannot read model " + options.model + ": " + fileError);
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = loadModel(
      sourceMgr, getModelFormat(options.model), context, options.load);
  if (!module)
    return kError;

  func::FuncOp function = pickFunction(*module, options.function);
  if (!function || failed(verifyRunnableSignature(function)))
    return kError;
  std::string fname = function.getSymName().str();

  // Inputs bind to arguments in order; every mismatch is reported.
  unsigned numArgs = function.getNumArguments();
  if (options.inputs.size() != numArgs) {
    function.emitError() << "@" << fname << " takes " << numArgs
                         << " argument(s) but " << options.inputs.size()
                         << " --input file(s) were given";
    return kError;
  }
  SmallVector<HostTensor> inputs;
  bool inputsOk = true;
  for (auto [i, path] : llvm::enumerate(options.inputs)) {
    llvm::Expected<NpyArray> array = readNpy(path);
    if (!array) {
      err << "iolite-run: error: input #" << i << ": "
          << llvm::toString(array.takeError()) << "\n";
      inputsOk = false;
      continue;
    }
    auto type = cast<RankedTensorType>(function.getArgumentTypes()[i]);
    std::string whyNot;
    FailureOr<HostTensor> t = tensorFromNpy(*array, type, whyNot);
    if (failed(t)) {
      emitError(function.getArgument(i).getLoc())
          << "input #" << i << " (" << path << ") does not fit argument #" << i
          << " of @" << fname << ": " << whyNot;
      inputsOk = false;
      continue;
    }
    inputs.push_back(std::move(*t));
  }
  if (!inputsOk)
    return kError;

  unsigned numResults = function.getNumResults();
  if (!options.expects.empty() && options.expects.size() != numResults)
    return fail(llvm::formatv("@{0} returns {1} result(s) but {2} --expect "
                              "file(s) were given",
                              fname, numResults, options.expects.size()));
  SmallVector<NpyArray> expected;
  for (const std::string &path : options.expects) {
    llvm::Expected<NpyArray> array = readNpy(path);
    if (!array)
      return fail("expected output: " + llvm::toString(array.takeError()));
    expected.push_back(std::move(*array));
  }
  if (!options.outputDir.empty())
    if (std::error_code ec =
            llvm::sys::fs::create_directories(options.outputDir))
      return fail("cannot create " + options.outputDir + ": " + ec.message());

  SmallVector<Type> resultTypes(function.getResultTypes());
  FailureOr<SmallVector<HostTensor>> results =
      backend->run(*module, function, inputs);
  if (failed(results))
    return kError;

  int status = kOk;
  for (auto [i, result] : llvm::enumerate(*results)) {
    out << "out" << i << ": " << typeString(resultTypes[i]);
    if (!options.outputDir.empty()) {
      SmallString<256> path(options.outputDir);
      llvm::sys::path::append(path, "out" + std::to_string(i) + ".npy");
      if (llvm::Error e = writeNpy(path, tensorToNpy(result)))
        return fail(llvm::toString(std::move(e)));
      out << " -> " << path;
    }
    if (expected.empty()) {
      out << "\n";
      continue;
    }
    Comparison c =
        compareTensor(result, expected[i], options.rtol, options.atol);
    if (!c.shapeMatches) {
      out << "  MISMATCH: expected shape " << expected[i].getShapeString()
          << " (" << options.expects[i] << ")\n";
      status = kMismatch;
      continue;
    }
    out << llvm::formatv("  max_abs_err={0:e3} max_rel_err={1:e3}",
                         c.maxAbsError, c.maxRelError);
    if (c.ok) {
      out << "  ok\n";
      continue;
    }
    out << llvm::formatv("  MISMATCH (rtol={0:e2} atol={1:e2}; first at flat "
                         "index {2}: got {3}, expected {4})\n",
                         options.rtol, options.atol, c.firstMismatch,
                         c.actualAtMismatch, c.expectedAtMismatch);
    status = kMismatch;
  }
  return status;
}
