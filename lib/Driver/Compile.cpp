//===- Compile.cpp - iolite-compile: model to GPU bundle ------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Driver/Compile.h"

#include "iolite/Codegen/Passes.h"
#include "iolite/Dialect/Iolite/IR/DynamicDims.h"
#include "iolite/Dialect/Iolite/Transforms/MemoryPlan.h"
#include "iolite/Driver/Bundle.h"
#include "iolite/Pipelines/Pipelines.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using namespace mlir::iolite;

LogicalResult mlir::iolite::runGraphPipeline(ModuleOp module,
                                             const CompileOptions &options,
                                             bool raiseOnly,
                                             TimingScope *timing) {
  PassManager pm(module.getContext());
  if (timing && *timing)
    pm.enableTiming(*timing);
  GraphPipelineOptions graph;
  graph.targets = options.targets;
  graph.fusion = !options.noFusion;
  graph.remarks = options.remarks;
  if (raiseOnly)
    buildGraphRaisingPipeline(pm, graph);
  else
    buildGraphPipeline(pm, graph);
  return pm.run(module);
}

/// A warning (an error under --werror-spills) per kernel of `artifact` that
/// spills: spilled registers go through local memory / scratch, which a
/// kernel's performance model does not expect.
static LogicalResult reportSpills(ModuleOp module,
                                  const TargetDescription &target,
                                  const TargetArtifact &artifact,
                                  const CompileOptions &options) {
  bool anySpills = false;
  for (const KernelResources &r : artifact.kernels) {
    // runBackend checked that every report is complete.
    if (*r.spills == 0)
      continue;
    anySpills = true;
    // On the location, not the op: the note would print the whole module.
    InFlightDiagnostic diag = options.spillsAreErrors
                                  ? emitError(module.getLoc())
                                  : emitWarning(module.getLoc());
    diag << "kernel '" << r.kernel << "' spills on " << target.name << ": ";
    if (target.isNvidia())
      diag << *r.spills << " bytes of spill stores and loads with "
           << *r.registers << " registers per thread";
    else
      diag << *r.spills << " VGPRs to scratch (" << *r.stackBytes
           << " bytes per lane) with " << *r.registers << " VGPRs";
    if (options.backend.maxRegisters)
      diag << " (--max-registers=" << *options.backend.maxRegisters << ")";
  }
  return failure(anySpills && options.spillsAreErrors);
}

SmallVector<GraphSummary> mlir::iolite::summarizeGraph(ModuleOp module) {
  SmallVector<GraphSummary> out;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isDeclaration())
      continue;
    GraphSummary s;
    s.function = func.getSymName().str();
    for (Block &block : func.getBody())
      s.kernels += llvm::range_size(block.getOps<KernelOp>());
    if (auto size = func->getAttrOfType<IntegerAttr>(kWorkspaceSizeAttr))
      s.workspaceBytes = size.getInt();
    if (auto stats = func->getAttrOfType<DictionaryAttr>(kWorkspaceStatsAttr)) {
      auto get = [&](StringRef key) -> int64_t {
        auto v = stats.getAs<IntegerAttr>(key);
        return v ? v.getInt() : -1;
      };
      s.sumOfSizes = get("sum_of_sizes");
      s.livenessLowerBound = get("liveness_lower_bound");
      s.inPlace = get("in_place");
    }
    out.push_back(std::move(s));
  }
  return out;
}

void mlir::iolite::printGraphSummary(ArrayRef<GraphSummary> summaries,
                                     llvm::raw_ostream &out) {
  for (const GraphSummary &s : summaries) {
    out << "// @" << s.function << ": " << s.kernels << " kernels";
    if (s.workspaceBytes >= 0)
      out << ", workspace peak " << s.workspaceBytes << " B (sum of sizes "
          << s.sumOfSizes << " B, liveness lower bound " << s.livenessLowerBound
          << " B, " << s.inPlace << " in place)";
    out << "\n";
  }
}

static func::FuncOp getSingleFunction(ModuleOp module) {
  func::FuncOp result;
  for (auto f : module.getOps<func::FuncOp>()) {
    if (f.isDeclaration())
      continue;
    if (result)
      return {};
    result = f;
  }
  return result;
}

/// One remark per generated kernel: which matrix instruction its tile
/// products use on `target`, and why, at the kernel's first source op.
static void remarkMatrixKinds(ModuleOp module,
                              const TargetDescription &target) {
  module.walk([&](gpu::GPUFuncOp func) {
    auto kind = func->getAttrOfType<StringAttr>("iolite.matrix");
    auto reason = func->getAttrOfType<StringAttr>("iolite.matrix_reason");
    auto locs = func->getAttrOfType<ArrayAttr>("iolite.source_locs");
    if (!kind || !reason || kind.getValue() == "none")
      return;
    Location loc = func.getLoc();
    if (locs && !locs.empty())
      loc = Location(cast<LocationAttr>(locs[0]));
    mlir::emitRemark(loc) << "kernel '" << func.getName() << "' on "
                          << target.name << ": tile products on "
                          << kind.getValue() << " (" << reason.getValue()
                          << ")";
  });
}

LogicalResult mlir::iolite::compile(MLIRContext &context,
                                    const CompileOptions &options,
                                    llvm::raw_ostream &out) {
  TimingScope untimed;
  return compile(context, options, out, untimed);
}

LogicalResult mlir::iolite::compile(MLIRContext &context,
                                    const CompileOptions &options,
                                    llvm::raw_ostream &out,
                                    TimingScope &timing) {
  std::string error;
  auto targets = parseTargetList(options.targets, error);
  if (!targets)
    return emitError(UnknownLoc::get(&context)) << error;
  // Refuse a bad -o before the work, not after it.
  if (options.emit == EmitStage::Bundle && !options.outputDir.empty() &&
      failed(checkBundleOutput(options.outputDir, error)))
    return emitError(UnknownLoc::get(&context)) << error;

  TimingScope loadTimer = timing.nest("load model");
  FailureOr<OwningOpRef<ModuleOp>> loaded =
      loadModel(options.inputPath, context, options.load);
  loadTimer.stop();
  if (failed(loaded))
    return failure();
  OwningOpRef<ModuleOp> module = std::move(*loaded);
  if (failed(verify(*module)))
    return failure();
  if (!options.function.empty()) {
    auto chosen = module->lookupSymbol<func::FuncOp>(options.function);
    if (!chosen || chosen.isDeclaration())
      return module->emitError("no function @")
             << options.function << " with a body in the model";
    for (auto f : llvm::make_early_inc_range(module->getOps<func::FuncOp>()))
      if (f != chosen && !f.isDeclaration() &&
          SymbolTable::symbolKnownUseEmpty(f, *module))
        f.erase();
  }
  if (options.emit == EmitStage::Iolite) {
    module->print(out);
    out << "\n";
    return success();
  }
  if (options.emit == EmitStage::Raised) {
    TimingScope graphTimer = timing.nest("graph pipeline");
    if (failed(runGraphPipeline(*module, options, /*raiseOnly=*/true,
                                &graphTimer)))
      return failure();
    module->print(out);
    out << "\n";
    return success();
  }
  // Raising, kernel formation (fused, or one op per kernel with
  // --no-fusion; kernels already in the input stay) and the workspace plan.
  {
    TimingScope graphTimer = timing.nest("graph pipeline");
    if (failed(runGraphPipeline(*module, options, /*raiseOnly=*/false,
                                &graphTimer)))
      return failure();
  }
  if (options.emit == EmitStage::Fused) {
    printGraphSummary(summarizeGraph(*module), out);
    module->print(out);
    out << "\n";
    return success();
  }
  // A function with symbolic dims compiles once for every size within its
  // bounds: each kernel takes the symbols' values (docs/dynamic-shapes.md).
  for (auto f : module->getOps<func::FuncOp>())
    if (!f.isDeclaration() && hasDynamicDims(f) && failed(verifyDimContract(f)))
      return failure();

  func::FuncOp modelFunc = getSingleFunction(*module);
  if (!modelFunc)
    return module->emitError(
        "the model must have exactly one function with a body");
  std::string name = llvm::sys::path::stem(options.inputPath).str();
  for (char &c : name)
    if (!llvm::isAlnum(c))
      c = '_';
  if (name.empty() || llvm::isDigit(name[0]))
    name = "model_" + name;

  BundleModel bundle;
  bundle.name = name;
  bundle.weightsThreshold = options.weightsThreshold;
  bool printedAny = false;
  for (auto [t, target] : llvm::enumerate(*targets)) {
    TimingScope targetTimer = timing.nest("target " + target->name);
    OwningOpRef<ModuleOp> copy = module->clone();
    TimingScope codegenTimer = targetTimer.nest("kernel codegen");
    if (failed(generateGpuKernels(*copy, *target, options.overrides)))
      return failure();
    codegenTimer.stop();
    if (options.remarks)
      remarkMatrixKinds(*copy, *target);
    if (options.emit == EmitStage::Gpu) {
      out << "// target: " << target->name << "\n";
      copy->print(out);
      out << "\n";
      continue;
    }
    // emu-<chip> targets compile for the host: no PTX or AMDGCN.
    if (options.emit == EmitStage::Ptx &&
        (!target->isNvidia() || target->emulated))
      continue;
    if (options.emit == EmitStage::Amdgcn &&
        (!target->isAmd() || target->emulated))
      continue;
    BackendStage stage = options.emit == EmitStage::Llvm ? BackendStage::Llvm
                         : options.emit == EmitStage::Bundle
                             ? BackendStage::Binary
                             : BackendStage::Assembly;
    if (stage == BackendStage::Binary) {
      func::FuncOp host = getSingleFunction(*copy);
      if (failed(readHostPlan(*copy, host, bundle, t)))
        return failure();
    }
    std::string assembly;
    TargetArtifact artifact;
    TimingScope backendTimer = targetTimer.nest("back end");
    BackendOptions backend = options.backend;
    backend.timing = &backendTimer;
    if (failed(
            runBackend(*copy, *target, stage, backend, &assembly, &artifact)))
      return failure();
    backendTimer.stop();
    if (stage == BackendStage::Llvm) {
      out << "// target: " << target->name << "\n";
      for (auto m : copy->getOps<gpu::GPUModuleOp>())
        m.print(out);
      // The emu back end turns the gpu.module into a host module.
      for (auto m : copy->getOps<ModuleOp>())
        m->print(out, OpPrintingFlags().assumeVerified());
      out << "\n";
    } else if (stage == BackendStage::Assembly) {
      out << (target->isNvidia() ? "// target: " : "; target: ") << target->name
          << "\n"
          << assembly << "\n";
      printedAny = true;
    } else {
      if (failed(reportSpills(*copy, *target, artifact, options)))
        return failure();
      bundle.targets.push_back(target);
      bundle.artifacts.push_back(std::move(artifact));
    }
  }
  if ((options.emit == EmitStage::Ptx || options.emit == EmitStage::Amdgcn) &&
      !printedAny)
    return emitError(UnknownLoc::get(&context))
           << "--emit=" << (options.emit == EmitStage::Ptx ? "ptx" : "amdgcn")
           << " needs a " << (options.emit == EmitStage::Ptx ? "NVIDIA" : "AMD")
           << " target";
  if (options.emit != EmitStage::Bundle)
    return success();
  if (options.outputDir.empty())
    return emitError(UnknownLoc::get(&context))
           << "no output folder given (-o DIR)";
  TimingScope writeTimer = timing.nest("write bundle");
  if (failed(writeBundle(bundle, options.outputDir, error)))
    return emitError(UnknownLoc::get(&context)) << error;
  printKernelTable(bundle, out);
  out << "wrote " << options.outputDir << " (" << bundle.kernels.size()
      << " kernels, " << bundle.targets.size() << " targets, workspace "
      << bundle.workspaceBytes << " bytes)\n";
  return success();
}
