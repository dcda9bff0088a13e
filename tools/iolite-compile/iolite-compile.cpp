//===- iolite-compile.cpp - Model to GPU bundle ---------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// iolite-compile INPUT --target=sm_90a,gfx942 -o OUTDIR
//     [--emit=iolite|raised|fused|gpu|llvm|ptx|amdgcn] [--no-fusion]
//     [--remarks] [--max-registers=N] [--werror-spills] [-mlir-timing
//     [-mlir-timing-display=list|tree]
//     [-mlir-output-format=text|json]]
// iolite-compile --list-targets     (the target descriptions as JSON)
//
// A thin main over lib/Driver/Compile.cpp.
//
//===----------------------------------------------------------------------===//

#include "iolite/Driver/Compile.h"
#include "iolite/Driver/ModelLoader.h"
#include "iolite/InitAll.h"
#include "iolite/Target/TargetDescription.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using namespace mlir::iolite;
namespace cl = llvm::cl;

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::OptionCategory category("iolite-compile options");
  cl::opt<std::string> input(
      cl::Positional, cl::desc("<model.mlir|model.onnx>"), cl::cat(category));
  cl::opt<bool> listTargets(
      "list-targets",
      cl::desc("Print every target description (limits, occupancy facts, "
               "tunings, peak rates of the usual part) as JSON and exit"),
      cl::cat(category));
  cl::opt<std::string> output("o", cl::desc("Output bundle folder"),
                              cl::value_desc("dir"), cl::cat(category));
  cl::opt<std::string> targets(
      "target",
      cl::desc("Comma-separated targets (sm_80, sm_90a, gfx90a, "
               "gfx942, emu-<chip>)"),
      cl::init("sm_90a"), cl::cat(category));
  cl::opt<EmitStage> emit(
      "emit", cl::desc("Print a stage instead of writing the bundle"),
      cl::values(clEnumValN(EmitStage::Bundle, "bundle", "the bundle"),
                 clEnumValN(EmitStage::Iolite, "iolite", "the input graph"),
                 clEnumValN(EmitStage::Raised, "raised",
                            "the graph after raising, before fusion"),
                 clEnumValN(EmitStage::Fused, "fused",
                            "kernels formed and the workspace planned, with "
                            "a per-function summary"),
                 clEnumValN(EmitStage::Gpu, "gpu", "gpu dialect kernels"),
                 clEnumValN(EmitStage::Llvm, "llvm", "NVVM/ROCDL LLVM dialect"),
                 clEnumValN(EmitStage::Ptx, "ptx", "PTX"),
                 clEnumValN(EmitStage::Amdgcn, "amdgcn", "AMDGCN assembly")),
      cl::init(EmitStage::Bundle), cl::cat(category));
  cl::opt<bool> noFusion("no-fusion", cl::desc("One kernel per op"),
                         cl::cat(category));
  cl::opt<bool> remarks("remarks",
                        cl::desc("Report raising, fusion and memory planning "
                                 "decisions as remarks"),
                        cl::cat(category));
  cl::opt<unsigned> maxRegisters(
      "max-registers",
      cl::desc("Registers per thread each kernel may use (NVIDIA .maxnreg, as "
               "Triton's maxnreg; AMD amdgpu-num-vgpr); what does not fit "
               "spills"),
      cl::value_desc("N"), cl::cat(category));
  cl::opt<bool> werrorSpills(
      "werror-spills",
      cl::desc("Fail when a kernel spills registers (a warning otherwise)"),
      cl::cat(category));
  cl::list<int64_t> matmulTile("matmul-tile",
                               cl::desc("Override the matmul tile BM,BN,BK"),
                               cl::CommaSeparated, cl::cat(category));
  cl::opt<int64_t> weightsThreshold(
      "weights-threshold",
      cl::desc("Constants of at least this many bytes go to NAME.weights; "
               "smaller ones are embedded in NAME.c"),
      cl::init(kDefaultWeightsThreshold), cl::cat(category));
  cl::opt<bool> forceElemental(
      "force-elemental",
      cl::desc("Compile every kernel with the one-thread-per-element "
               "fallback (to test it, or to compare templates with it)"),
      cl::cat(category));
  cl::opt<bool> allowTf32(
      "allow-tf32",
      cl::desc("Let f32 matmuls and attention use TF32 matrix instructions "
               "(10-bit mantissa inputs, f32 accumulation), as PyTorch's "
               "allow_tf32; f32 stays exact otherwise"),
      cl::cat(category));
  cl::opt<bool> noMatrixUnits(
      "no-matrix-units",
      cl::desc("Keep every tile product on the scalar FMA units"),
      cl::cat(category));
  cl::opt<std::string> emuMatrixLevel(
      "emu-matrix-level",
      cl::desc("How emu-<chip> targets run matrix instructions: isa (the "
               "chip's nvgpu/amdgpu instructions, emulated from the ISA "
               "documents) or warp (iolite_gpu.mma, from the instruction "
               "table)"),
      cl::init("isa"), cl::cat(category));
  registerModelLoadCLOptions();
  // -mlir-timing, -mlir-timing-display, -mlir-output-format: the same
  // per-pass report as iolite-opt, for the whole compile.
  registerDefaultTimingManagerCLOptions();
  cl::HideUnrelatedOptions({&category, &getModelLoadCLCategory()});
  cl::ParseCommandLineOptions(argc, argv, "Iolite model compiler\n");

  if (listTargets) {
    printTargetDescriptionsJSON(llvm::outs());
    return 0;
  }
  if (input.empty()) {
    llvm::errs() << "error: no model given\n";
    return 1;
  }

  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);

  if (std::optional<int> rc = handleListUnsupported(input, context))
    return *rc;
  FailureOr<ModelLoadOptions> load = getModelLoadOptionsFromCL();
  if (failed(load))
    return 1;

  CompileOptions options;
  options.inputPath = input;
  options.load = *load;
  options.outputDir = output;
  options.targets = targets;
  options.emit = emit;
  options.noFusion = noFusion;
  options.remarks = remarks;
  options.spillsAreErrors = werrorSpills;
  if (maxRegisters.getNumOccurrences()) {
    if (maxRegisters == 0) {
      llvm::errs() << "error: --max-registers must be at least 1\n";
      return 1;
    }
    options.backend.maxRegisters = maxRegisters;
  }
  if (weightsThreshold < 1) {
    llvm::errs() << "error: --weights-threshold must be at least 1 byte\n";
    return 1;
  }
  options.weightsThreshold = weightsThreshold;
  options.overrides.forceElemental = forceElemental;
  options.overrides.allowTf32 = allowTf32;
  options.overrides.noMatrixUnits = noMatrixUnits;
  if (emuMatrixLevel != "isa" && emuMatrixLevel != "warp") {
    llvm::errs() << "error: --emu-matrix-level must be isa or warp, not '"
                 << emuMatrixLevel << "'\n";
    return 1;
  }
  options.backend.emuMatrixLevel = emuMatrixLevel;
  if (!matmulTile.empty()) {
    if (matmulTile.size() != 3 ||
        llvm::any_of(matmulTile, [](int64_t v) { return v <= 0; })) {
      llvm::errs() << "error: --matmul-tile needs three positive sizes\n";
      return 1;
    }
    options.overrides.matmulTile.assign(matmulTile.begin(), matmulTile.end());
  }
  if (options.emit == EmitStage::Bundle && options.outputDir.empty()) {
    llvm::errs() << "error: no output folder given (-o DIR)\n";
    return 1;
  }
  DefaultTimingManager timingManager;
  applyDefaultTimingManagerCLOptions(timingManager);
  TimingScope timing = timingManager.getRootScope();
  return failed(compile(context, options, llvm::outs(), timing)) ? 1 : 0;
}
