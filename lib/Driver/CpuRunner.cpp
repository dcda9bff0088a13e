//===- CpuRunner.cpp - JIT-run a function on the host CPU -----------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Driver/CpuRunner.h"

#include "iolite/Dialect/Iolite/IR/DynamicDims.h"
#include "iolite/Dialect/Iolite/Transforms/Transforms.h"
#include "iolite/Pipelines/Pipelines.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/TargetSelect.h"

using namespace mlir;
using namespace mlir::iolite;

LogicalResult mlir::iolite::verifyRunnableSignature(func::FuncOp function) {
  // Symbolic dims are bound per call (specializeForInputs).
  bool symbolic = hasDynamicDims(function);
  if (symbolic && failed(verifyDimContract(function)))
    return failure();
  auto check = [&](Type t, StringRef what, unsigned i) -> LogicalResult {
    auto tensor = dyn_cast<RankedTensorType>(t);
    if (tensor && (symbolic || tensor.hasStaticShape()) &&
        succeeded(getNpyDTypeFor(tensor.getElementType())))
      return success();
    return function.emitError()
           << "@" << function.getSymName() << " cannot be run: " << what << " #"
           << i << " has type " << t
           << " (runners take ranked tensors of static shape, or of symbolic "
              "dims with bounds, with element type f32, f16, bf16, i1, i32 "
              "or i64)";
  };
  for (auto [i, t] : llvm::enumerate(function.getArgumentTypes()))
    if (failed(check(t, "argument", i)))
      return failure();
  for (auto [i, t] : llvm::enumerate(function.getResultTypes()))
    if (failed(check(t, "result", i)))
      return failure();
  return success();
}

FailureOr<llvm::StringMap<int64_t>>
mlir::iolite::specializeForInputs(func::FuncOp function,
                                  ArrayRef<SmallVector<int64_t>> inputShapes) {
  llvm::StringMap<int64_t> values;
  if (!hasDynamicDims(function))
    return values;
  std::string error;
  FailureOr<llvm::MapVector<StringRef, int64_t>> dims =
      bindDims(function, inputShapes, error);
  if (failed(dims))
    return function.emitError()
           << "@" << function.getSymName()
           << ": the inputs do not fit its dims: " << error;
  for (auto &[name, value] : *dims)
    values[name] = value;
  if (failed(specializeDims(function, *dims)))
    return failure();
  return values;
}

namespace {

/// A strided memref descriptor as the C interface passes it:
/// {allocated, aligned, offset, sizes[rank], strides[rank]}, all 64-bit.
struct Descriptor {
  std::vector<int64_t> words;

  Descriptor(HostTensor &tensor) {
    ArrayRef<int64_t> shape = tensor.type.getShape();
    auto ptr = reinterpret_cast<int64_t>(tensor.data.data());
    words = {ptr, ptr, 0};
    words.insert(words.end(), shape.begin(), shape.end());
    SmallVector<int64_t> strides(shape.size(), 1);
    for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
      strides[i] = strides[i + 1] * shape[i + 1];
    words.insert(words.end(), strides.begin(), strides.end());
  }
};

} // namespace

FailureOr<SmallVector<HostTensor>>
mlir::iolite::runOnCpu(ModuleOp module, func::FuncOp function,
                       ArrayRef<HostTensor> inputs,
                       const CpuRunOptions &options) {
  if (failed(verifyRunnableSignature(function)))
    return failure();
  std::string name = function.getSymName().str();
  assert(inputs.size() == function.getNumArguments() &&
         "one input per argument");
  SmallVector<SmallVector<int64_t>> shapes;
  for (const HostTensor &t : inputs)
    shapes.emplace_back(t.type.getShape());
  if (failed(specializeForInputs(function, shapes)))
    return failure();
  SmallVector<HostTensor> results;
  for (Type t : function.getResultTypes())
    results.push_back(HostTensor::zeros(cast<RankedTensorType>(t)));

  // Only the called function (and what it calls) is compiled.
  MLIRContext *ctx = module.getContext();
  for (auto f : module.getOps<func::FuncOp>())
    if (f != function && !f.isDeclaration())
      f.setPrivate();
  function->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                    UnitAttr::get(ctx));
  PassManager pm(ctx);
  pm.addPass(createSymbolDCEPass());
  buildCpuPipeline(pm, CpuPipelineOptions());
  if (failed(pm.run(module)))
    return failure();

  static bool targetsReady = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)targetsReady;
  ExecutionEngineOptions engineOptions;
  auto transformer = makeOptimizingTransformer(options.optLevel,
                                               /*sizeLevel=*/0,
                                               /*targetMachine=*/nullptr);
  engineOptions.transformer = transformer;
  auto engine = ExecutionEngine::create(module, engineOptions);
  if (!engine)
    return module.emitError("JIT compilation failed: ")
           << llvm::toString(engine.takeError());
  // Strided copies lower to a call of MLIR's runtime helper.
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    symbols[interner("memrefCopy")] = {
        llvm::orc::ExecutorAddr::fromPtr(&memrefCopy),
        llvm::JITSymbolFlags::Exported};
    return symbols;
  });

  // The C interface takes one descriptor pointer per argument, then one per
  // result (the out-params); the packed form takes pointers to those.
  SmallVector<HostTensor> args(inputs.begin(), inputs.end());
  std::vector<Descriptor> descriptors;
  for (HostTensor &t : args)
    descriptors.emplace_back(t);
  for (HostTensor &t : results)
    descriptors.emplace_back(t);
  SmallVector<void *> descriptorPtrs, packed;
  for (Descriptor &d : descriptors)
    descriptorPtrs.push_back(d.words.data());
  for (void *&p : descriptorPtrs)
    packed.push_back(&p);
  if (llvm::Error err = (*engine)->invokePacked("_mlir_ciface_" + name, packed))
    return module.emitError("cannot call @")
           << name << ": " << llvm::toString(std::move(err));
  return results;
}
