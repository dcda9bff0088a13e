//===- Compile.cpp - iolite-compile: model to GPU bundle ------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Driver/Compile.h"

#include "iolite/Codegen/Passes.h"
#include "iolite/Driver/Bundle.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;
using namespace mlir::iolite;

void mlir::iolite::wrapOpsInKernels(ModuleOp module) {
  unsigned counter = 0;
  module.walk([&](func::FuncOp func) {
    for (Operation &op : llvm::make_early_inc_range(
             func.getBody().front().without_terminator())) {
      if (isa<KernelOp>(op) || isa<ConstantOp>(op) ||
          op.getDialect()->getNamespace() != "iolite")
        continue;
      OpBuilder b(&op);
      std::string name =
          (op.getName().stripDialect() + "_" + Twine(counter++)).str();
      SmallVector<Value> inputs;
      for (Value v : op.getOperands())
        if (!llvm::is_contained(inputs, v))
          inputs.push_back(v);
      auto kernel =
          KernelOp::create(b, op.getLoc(), name, op.getResultTypes(), inputs);
      // The builder creates the body block with one argument per input.
      if (kernel.getBody().empty())
        kernel.getBody().push_back(new Block());
      Block *body = &kernel.getBody().front();
      IRMapping mapping;
      for (auto [i, v] : llvm::enumerate(inputs)) {
        if (body->getNumArguments() <= i)
          body->addArgument(v.getType(), op.getLoc());
        mapping.map(v, body->getArgument(i));
      }
      OpBuilder inner = OpBuilder::atBlockEnd(body);
      Operation *clone = inner.clone(op, mapping);
      YieldOp::create(inner, op.getLoc(), clone->getResults());
      op.replaceAllUsesWith(kernel.getResults());
      op.erase();
    }
  });
}

static bool hasUnfusedOps(ModuleOp module) {
  bool found = false;
  module.walk([&](func::FuncOp func) {
    for (Operation &op : func.getBody().front().without_terminator())
      if (!isa<KernelOp, ConstantOp>(op) &&
          op.getDialect()->getNamespace() == "iolite")
        found = true;
  });
  return found;
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

LogicalResult mlir::iolite::compile(MLIRContext &context,
                                    const CompileOptions &options,
                                    llvm::raw_ostream &out) {
  std::string error;
  auto targets = parseTargetList(options.targets, error);
  if (!targets)
    return emitError(UnknownLoc::get(&context)) << error;

  FailureOr<OwningOpRef<ModuleOp>> loaded =
      loadModel(options.inputPath, context, options.load);
  if (failed(loaded))
    return failure();
  OwningOpRef<ModuleOp> module = std::move(*loaded);
  if (failed(verify(*module)))
    return failure();
  if (options.emit == EmitStage::Iolite) {
    module->print(out);
    out << "\n";
    return success();
  }
  // Kernel formation: the input's kernels, or one kernel per op.
  if (hasUnfusedOps(*module))
    wrapOpsInKernels(*module);
  if (failed(verify(*module)))
    return failure();
  if (options.emit == EmitStage::Fused) {
    module->print(out);
    out << "\n";
    return success();
  }

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
  bool printedAny = false;
  for (auto [t, target] : llvm::enumerate(*targets)) {
    OwningOpRef<ModuleOp> copy = module->clone();
    if (failed(generateGpuKernels(*copy, *target, options.overrides)))
      return failure();
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
    if (failed(runBackend(*copy, *target, stage, options.backend, &assembly,
                          &artifact)))
      return failure();
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
  if (failed(writeBundle(bundle, options.outputDir, error)))
    return emitError(UnknownLoc::get(&context)) << error;
  printKernelTable(bundle, out);
  out << "wrote " << options.outputDir << " (" << bundle.kernels.size()
      << " kernels, " << bundle.targets.size() << " targets, workspace "
      << bundle.workspaceBytes << " bytes)\n";
  return success();
}
