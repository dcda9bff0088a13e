//===- iolite-run.cpp - Run a model function on .npy inputs ---------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Parses the command line and calls runIoliteRun (lib/Driver/IoliteRun.cpp),
// which documents the behaviour and the exit status.
//
//===----------------------------------------------------------------------===//

#include "iolite/Driver/IoliteRun.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // LLVM's own -stats would clash with ours: rename it before registering.
  if (cl::Option *llvmStats = cl::getRegisteredOptions().lookup("stats"))
    llvmStats->setArgStr("llvm-stats");
  static cl::OptionCategory category("iolite-run options");
  cl::opt<std::string> model(cl::Positional,
                             cl::desc("<model.mlir|model.onnx|bundle folder>"),
                             cl::cat(category));
  cl::opt<std::string> backend(
      "backend",
      cl::desc("Where to run: cpu (the reference lowering), emu (the GPU "
               "emulator), cuda or hip (a GPU through the runtime)"),
      cl::init("cpu"), cl::cat(category));
  cl::opt<std::string> targets(
      "target",
      cl::desc("Bundle targets a model file is compiled for on emu, cuda and "
               "hip (default: emu-sm_90a on emu, the device's chip on cuda "
               "and hip); on a bundle folder an emu-CHIP picks the emulated "
               "chip"),
      cl::cat(category));
  cl::opt<std::string> stats(
      "stats",
      cl::desc("After an emu run, print each kernel launch's counted "
               "global/shared bytes, flops and barriers (table or json)"),
      cl::ValueOptional, cl::cat(category));
  cl::opt<std::string> statsFile(
      "stats-file", cl::desc("Also write the emu statistics as JSON here"),
      cl::cat(category));
  cl::opt<std::string> function(
      "function",
      cl::desc("Function to run (default: the only public one, or main)"),
      cl::cat(category));
  cl::list<std::string> inputs(
      "input", cl::desc("An .npy file per function argument, in order"),
      cl::cat(category));
  cl::opt<std::string> outputDir("output-dir",
                                 cl::desc("Write result i to DIR/out<i>.npy"),
                                 cl::cat(category));
  cl::list<std::string> expects(
      "expect", cl::desc("An .npy file per result to compare with"),
      cl::cat(category));
  cl::opt<double> rtol("rtol", cl::desc("Relative tolerance of --expect"),
                       cl::init(1e-5), cl::cat(category));
  cl::opt<double> atol("atol", cl::desc("Absolute tolerance of --expect"),
                       cl::init(1e-8), cl::cat(category));
  cl::opt<unsigned> optLevel(
      "opt-level",
      cl::desc("LLVM IR optimization level (0-3) of the JIT-compiled code; "
               "higher runs faster but compiles much slower"),
      cl::init(0), cl::cat(category));
  cl::opt<bool> allowTf32(
      "allow-tf32",
      cl::desc("Compile a model file with TF32 matrix instructions for f32 "
               "products (as iolite-compile --allow-tf32)"),
      cl::cat(category));
  cl::opt<std::string> emuMatrixLevel(
      "emu-matrix-level",
      cl::desc("How a model file compiled for emu runs matrix instructions: "
               "isa or warp (as iolite-compile --emu-matrix-level)"),
      cl::init("isa"), cl::cat(category));
  cl::opt<std::string> check(
      "check",
      cl::desc("Emulator sanitizers: race, bounds, init, hang (comma list), "
               "all or none (sets IOLITE_EMU_CHECK)"),
      cl::cat(category));
  cl::opt<std::string> emuSeed(
      "emu-seed",
      cl::desc("Order in which the emulator runs a block's threads: 0 fixed, "
               "else shuffled by this seed (sets IOLITE_EMU_SEED)"),
      cl::cat(category));
  mlir::iolite::registerModelLoadCLOptions();
  cl::HideUnrelatedOptions(
      {&category, &mlir::iolite::getModelLoadCLCategory()});
  cl::ParseCommandLineOptions(
      argc, argv,
      "iolite-run: run a function of an Iolite model, or a compiled bundle,\n"
      "on .npy inputs\n\n"
      "  bf16 arrays are uint16 .npy arrays of bf16 bit patterns; f16 arrays\n"
      "  are float16. Exit status: 0 ran (and matched), 1 an output did not\n"
      "  match its --expect, 2 error.\n");

  {
    mlir::MLIRContext context;
    if (std::optional<int> rc =
            mlir::iolite::handleListUnsupported(model, context))
      return *rc;
  }
  llvm::FailureOr<mlir::iolite::ModelLoadOptions> load =
      mlir::iolite::getModelLoadOptionsFromCL();
  if (mlir::failed(load))
    return 2;
  mlir::iolite::RunToolOptions options;
  options.model = model;
  options.load = *load;
  options.backend = backend;
  options.function = function;
  options.inputs.assign(inputs.begin(), inputs.end());
  options.expects.assign(expects.begin(), expects.end());
  options.outputDir = outputDir;
  options.rtol = rtol;
  options.atol = atol;
  options.optLevel = optLevel;
  options.targets = targets;
  if (stats.getNumOccurrences())
    options.stats = stats.empty() ? "table" : stats.getValue();
  options.statsFile = statsFile;
  options.allowTf32 = allowTf32;
  options.emuChecks = check;
  options.emuSeed = emuSeed;
  if (emuMatrixLevel != "isa" && emuMatrixLevel != "warp") {
    llvm::errs() << "iolite-run: error: --emu-matrix-level must be isa or "
                    "warp, not '"
                 << emuMatrixLevel << "'\n";
    return 2;
  }
  options.emuMatrixLevel = emuMatrixLevel;
  return mlir::iolite::runIoliteRun(options, llvm::outs(), llvm::errs());
}
