//===- IoliteRun.cpp - The iolite-run tool --------------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Driver/IoliteRun.h"

#include "iolite/Dialect/Iolite/IR/DynamicDims.h"
#include "iolite/Driver/Compile.h"
#include "iolite/Driver/CpuRunner.h"
#include "iolite/InitAll.h"
#include "iolite/Runtime/BundleRunner.h"
#include "iolite/Runtime/EmuStats.h"
#include "iolite/Target/TargetDescription.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace mlir;
using namespace mlir::iolite;

namespace {

enum ExitCode { kOk = 0, kMismatch = 1, kError = 2 };

/// What the run takes and returns: the model function's signature, or the
/// bundle manifest's.
struct Signature {
  std::string name;
  SmallVector<RankedTensorType> inputs, results;
  /// Where a bad input is reported: the argument's location.
  SmallVector<Location> inputLocs;
};

/// A way of running the model on some device.
class RunBackend {
public:
  virtual ~RunBackend() = default;
  /// Runs on `inputs`, already checked against the signature; reports
  /// failures as diagnostics at `loc`.
  virtual FailureOr<SmallVector<HostTensor>> run(ArrayRef<HostTensor> inputs,
                                                 Location loc) = 0;
};

class CpuBackend : public RunBackend {
public:
  CpuBackend(ModuleOp module, func::FuncOp function, unsigned optLevel)
      : module(module), function(function) {
    options.optLevel = optLevel;
  }
  FailureOr<SmallVector<HostTensor>> run(ArrayRef<HostTensor> inputs,
                                         Location) override {
    return runOnCpu(module, function, inputs, options);
  }

private:
  ModuleOp module;
  func::FuncOp function;
  CpuRunOptions options;
};

/// The manifest's dtype names as MLIR element types; null if unknown.
Type parseDType(MLIRContext &context, StringRef dtype) {
  Builder b(&context);
  return llvm::StringSwitch<Type>(dtype)
      .Case("f32", b.getF32Type())
      .Case("f16", b.getF16Type())
      .Case("bf16", b.getBF16Type())
      .Case("i1", b.getI1Type())
      .Case("i32", b.getI32Type())
      .Case("i64", b.getI64Type())
      .Default(Type());
}

std::string typeString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

/// A compiled bundle run through the runtime on an emu, CUDA or HIP device.
class BundleBackend : public RunBackend {
public:
  ~BundleBackend() override {
    runner.reset();
    if (device)
      iolite_device_close(device);
    if (!temporaryDir.empty())
      llvm::sys::fs::remove_directories(temporaryDir);
  }

  FailureOr<SmallVector<HostTensor>> run(ArrayRef<HostTensor> inputs,
                                         Location loc) override {
    std::vector<::iolite::HostTensor> in, out;
    for (const HostTensor &t : inputs) {
      ::iolite::HostTensor h;
      h.dtype = typeString(t.type.getElementType());
      h.shape.assign(t.type.getShape().begin(), t.type.getShape().end());
      h.bytes.assign(t.data.begin(), t.data.end());
      in.push_back(std::move(h));
    }
    if (llvm::Error e = runner->run(in, out))
      return emitError(loc) << llvm::toString(std::move(e));
    SmallVector<HostTensor> results;
    for (auto [h, type] : llvm::zip(out, signature.results)) {
      // Symbolic dims: the runner gives the shape at the call's dims.
      HostTensor t = HostTensor::zeros(
          RankedTensorType::get(h.shape, type.getElementType()));
      if (h.bytes.size() != t.data.size())
        return emitError(loc)
               << "the bundle returned " << h.bytes.size() << " bytes for a "
               << type << ", expected " << t.data.size();
      std::memcpy(t.data.data(), h.bytes.data(), h.bytes.size());
      results.push_back(std::move(t));
    }
    return results;
  }

  iolite_device_t device = nullptr;
  std::unique_ptr<::iolite::BundleRunner> runner;
  /// The manifest's interface as MLIR types.
  Signature signature;
  /// Removed with the backend: where a model file was compiled to.
  std::string temporaryDir;
};

/// Opens device `deviceName`, compiles `function` of a model file into a
/// temporary bundle first, and loads the bundle. Errors are
/// diagnostics at `loc`.
FailureOr<std::unique_ptr<BundleBackend>>
openBundleBackend(const RunToolOptions &options, const std::string &deviceName,
                  StringRef function, bool isBundleDir, MLIRContext &context,
                  Location loc) {
  auto backend = std::make_unique<BundleBackend>();
  if (iolite_device_open(deviceName.c_str(), 0, &backend->device) !=
      IOLITE_SUCCESS) {
    backend->device = nullptr;
    return emitError(loc) << "cannot open a " << deviceName
                          << " device: " << iolite_last_error();
  }
  std::string bundleDir = options.model;
  if (!isBundleDir) {
    std::string targets = options.targets;
    if (targets.empty()) {
      // The device's own chip; an sm_90 device runs sm_90a code.
      targets = options.backend == "emu" ? "emu-sm_90a"
                                         : iolite_device_arch(backend->device);
      if (targets == "sm_90")
        targets = "sm_90a";
    }
    SmallString<128> dir;
    if (std::error_code ec =
            llvm::sys::fs::createUniqueDirectory("iolite-run", dir))
      return emitError(loc)
             << "cannot create a temporary folder: " << ec.message();
    backend->temporaryDir = dir.str().str();
    llvm::sys::path::append(dir, "bundle");
    bundleDir = dir.str().str();
    CompileOptions compileOptions;
    compileOptions.inputPath = options.model;
    compileOptions.load = options.load;
    compileOptions.outputDir = bundleDir;
    compileOptions.targets = targets;
    compileOptions.function = function.str();
    compileOptions.overrides.allowTf32 = options.allowTf32;
    compileOptions.backend.emuMatrixLevel = options.emuMatrixLevel;
    llvm::raw_null_ostream kernelTable;
    if (failed(compile(context, compileOptions, kernelTable)))
      return emitError(loc)
             << "compiling the model for " << targets << " failed";
  }
  auto runner = ::iolite::BundleRunner::open(bundleDir, backend->device);
  if (!runner)
    return emitError(loc) << llvm::toString(runner.takeError());
  backend->runner = std::move(*runner);

  const ::iolite::BundleInterface &interface = backend->runner->getInterface();
  Signature &sig = backend->signature;
  sig.name = interface.name;
  auto toTypes = [&](const std::vector<::iolite::HostTensor> &tensors,
                     SmallVector<RankedTensorType> &types) -> LogicalResult {
    for (const ::iolite::HostTensor &t : tensors) {
      Type element = parseDType(context, t.dtype);
      if (!element)
        return emitError(loc) << "the bundle's manifest names dtype '"
                              << t.dtype << "', which iolite-run cannot hold";
      // -1: a symbolic dim of a bundle compiled for every size.
      SmallVector<int64_t> shape;
      for (int64_t d : t.shape)
        shape.push_back(d < 0 ? ShapedType::kDynamic : d);
      types.push_back(RankedTensorType::get(shape, element));
    }
    return success();
  };
  if (failed(toTypes(interface.inputs, sig.inputs)) ||
      failed(toTypes(interface.outputs, sig.results)))
    return failure();
  sig.inputLocs.assign(sig.inputs.size(), loc);
  return backend;
}

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

} // namespace

int mlir::iolite::runIoliteRun(const RunToolOptions &toolOptions,
                               llvm::raw_ostream &out, llvm::raw_ostream &err) {
  // The symbolic dims of a model file are pinned once the inputs are read.
  RunToolOptions runOptions = toolOptions;
  const RunToolOptions &options = runOptions;
  auto fail = [&](const llvm::Twine &message) {
    err << "iolite-run: error: " << message << "\n";
    return kError;
  };
  if (options.model.empty())
    return fail("no model given");
  if (options.rtol < 0 || options.atol < 0)
    return fail("--rtol and --atol must be >= 0");
  bool deviceBackend = options.backend == "emu" || options.backend == "cuda" ||
                       options.backend == "hip";
  if (options.backend != "cpu" && !deviceBackend)
    return fail("unknown backend '" + options.backend +
                "' (available: cpu, emu, cuda, hip)");
  if (!options.stats.empty() && options.stats != "table" &&
      options.stats != "json")
    return fail("--stats takes table or json, not '" + options.stats + "'");
  bool wantStats = !options.stats.empty() || !options.statsFile.empty();
  if (wantStats && options.backend != "emu")
    return fail("--stats needs --backend=emu: only the emulator counts "
                "memory traffic");
  if (!options.targets.empty() && !deviceBackend)
    return fail("--target applies to the emu, cuda and hip backends; "
                "--backend=cpu runs the reference lowering");
  // The emu device reads its sanitizers and seed from the environment, the
  // plumbing the Python API and tests share.
  if ((!options.emuChecks.empty() || !options.emuSeed.empty()) &&
      options.backend != "emu")
    return fail("--check and --emu-seed need --backend=emu");
  if (!options.emuChecks.empty())
    ::setenv("IOLITE_EMU_CHECK", options.emuChecks.c_str(), 1);
  if (!options.emuSeed.empty())
    ::setenv("IOLITE_EMU_SEED", options.emuSeed.c_str(), 1);
  // The device: the emu device emulates the first emu target named (plain
  // "emu" runs a bundle's first emu binary), and runs only code for its own
  // kind of target.
  std::string deviceName = options.backend;
  if (!options.targets.empty()) {
    std::string targetError;
    auto targets = parseTargetList(options.targets, targetError);
    if (!targets)
      return fail(targetError);
    auto runsOn = [&](const TargetDescription *t) {
      return options.backend == "emu"    ? t->emulated
             : options.backend == "cuda" ? !t->emulated && t->isNvidia()
                                         : !t->emulated && t->isAmd();
    };
    auto first = llvm::find_if(*targets, runsOn);
    if (first == targets->end())
      return fail("--target=" + options.targets + " has no " +
                  (options.backend == "emu"    ? "emu-"
                   : options.backend == "cuda" ? "sm_"
                                               : "gfx") +
                  "... target, which --backend=" + options.backend +
                  " needs (e.g. " +
                  (options.backend == "emu"    ? "emu-gfx942"
                   : options.backend == "cuda" ? "sm_90a"
                                               : "gfx942") +
                  ")");
    if (options.backend == "emu")
      deviceName = (*first)->name;
  }
  if (!options.statsFile.empty() &&
      llvm::sys::fs::is_directory(options.statsFile))
    return fail("--stats-file=" + options.statsFile + " is a folder");
  bool isBundleDir = llvm::sys::fs::is_directory(options.model);
  if (isBundleDir && !deviceBackend)
    return fail(options.model +
                " is a bundle folder: run it with --backend=emu, cuda or hip "
                "(--backend=cpu runs a model file)");

  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context, err);

  // The model (cpu, or a model file to compile) and what the run takes.
  OwningOpRef<ModuleOp> module;
  Signature sig;
  std::unique_ptr<RunBackend> backend;
  Location runLoc = FileLineColLoc::get(&context, options.model, 0, 0);
  std::string functionName;
  if (!isBundleDir) {
    std::string fileError;
    auto file = openInputFile(options.model, &fileError);
    if (!file)
      return fail("cannot read model " + options.model + ": " + fileError);
    sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
    module = loadModel(sourceMgr, getModelFormat(options.model), context,
                       options.load);
    if (!module)
      return kError;
    func::FuncOp function = pickFunction(*module, options.function);
    if (!function || failed(verifyRunnableSignature(function)))
      return kError;
    // Symbolic dims take the inputs' sizes: the function is specialised to
    // them before it is run or compiled for a device.
    if (hasDynamicDims(function)) {
      if (options.inputs.size() != function.getNumArguments()) {
        emitError(function.getLoc())
            << "@" << function.getSymName() << " takes "
            << function.getNumArguments() << " argument(s) but "
            << options.inputs.size() << " --input file(s) were given";
        return kError;
      }
      SmallVector<SmallVector<int64_t>> shapes;
      for (auto [i, path] : llvm::enumerate(options.inputs)) {
        llvm::Expected<NpyArray> array = readNpy(path);
        if (!array)
          return fail(llvm::formatv("input #{0}: {1}", i,
                                    llvm::toString(array.takeError())));
        shapes.push_back(array->shape);
      }
      FailureOr<llvm::StringMap<int64_t>> values =
          specializeForInputs(function, shapes);
      if (failed(values))
        return kError;
      // A device run compiles the model file again: with these values.
      for (const auto &entry : *values) {
        runOptions.load.dims[entry.getKey()] = entry.getValue();
        runOptions.load.dimBounds.erase(entry.getKey());
      }
    }
    functionName = function.getSymName().str();
    sig.name = "@" + functionName;
    for (auto [i, type] : llvm::enumerate(function.getArgumentTypes())) {
      sig.inputs.push_back(cast<RankedTensorType>(type));
      sig.inputLocs.push_back(function.getArgument(i).getLoc());
    }
    for (Type type : function.getResultTypes())
      sig.results.push_back(cast<RankedTensorType>(type));
    runLoc = function.getLoc();
    if (!deviceBackend)
      backend =
          std::make_unique<CpuBackend>(*module, function, options.optLevel);
  } else if (!options.function.empty()) {
    return fail("--function does not apply to a bundle folder (a bundle "
                "holds one model)");
  }
  // The device and the bundle: a bundle folder's manifest gives the
  // signature, so it is opened first; a model file is compiled only once
  // its inputs have been checked.
  BundleBackend *bundleBackend = nullptr;
  auto openDevice = [&]() -> LogicalResult {
    FailureOr<std::unique_ptr<BundleBackend>> opened = openBundleBackend(
        options, deviceName, functionName, isBundleDir, context, runLoc);
    if (failed(opened))
      return failure();
    bundleBackend = opened->get();
    if (isBundleDir) {
      sig = bundleBackend->signature;
    } else if (sig.inputs != bundleBackend->signature.inputs ||
               sig.results != bundleBackend->signature.results) {
      fail("the compiled bundle's interface differs from " + sig.name +
           "'s signature");
      return failure();
    }
    backend = std::move(*opened);
    return success();
  };
  if (isBundleDir && failed(openDevice()))
    return kError;
  const std::string &fname = sig.name;

  // Inputs bind to arguments in order; every mismatch is reported.
  unsigned numArgs = sig.inputs.size();
  if (options.inputs.size() != numArgs) {
    emitError(runLoc) << fname << " takes " << numArgs << " argument(s) but "
                      << options.inputs.size() << " --input file(s) were given";
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
    RankedTensorType type = sig.inputs[i];
    std::string whyNot;
    FailureOr<HostTensor> t = tensorFromNpy(*array, type, whyNot);
    if (failed(t)) {
      emitError(sig.inputLocs[i])
          << "input #" << i << " (" << path << ") does not fit argument #" << i
          << " of " << fname << ": " << whyNot;
      inputsOk = false;
      continue;
    }
    inputs.push_back(std::move(*t));
  }
  if (!inputsOk)
    return kError;

  unsigned numResults = sig.results.size();
  if (!options.expects.empty() && options.expects.size() != numResults)
    return fail(llvm::formatv("{0} returns {1} result(s) but {2} --expect "
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

  if (deviceBackend && !isBundleDir && failed(openDevice()))
    return kError;
  SmallVector<RankedTensorType> resultTypes(sig.results);
  FailureOr<SmallVector<HostTensor>> results = backend->run(inputs, runLoc);
  if (failed(results))
    return kError;

  int status = kOk;
  for (auto [i, result] : llvm::enumerate(*results)) {
    // The result's own type: its shape at the call's dims.
    out << "out" << i << ": "
        << typeString(resultTypes[i].hasStaticShape() ? resultTypes[i]
                                                      : result.type);
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

  if (wantStats) {
    std::vector<iolite_emu_launch_stats_t> stats =
        ::iolite::collectEmuStats(bundleBackend->device);
    if (options.stats == "table")
      ::iolite::printEmuStatsTable(out, stats);
    else if (options.stats == "json")
      ::iolite::printEmuStatsJson(out, stats);
    if (!options.statsFile.empty()) {
      std::string fileError;
      std::unique_ptr<llvm::ToolOutputFile> file =
          openOutputFile(options.statsFile, &fileError);
      if (!file)
        return fail("cannot write " + options.statsFile + ": " + fileError);
      ::iolite::printEmuStatsJson(file->os(), stats);
      file->keep();
    }
  }
  return status;
}
