//===- CpuPipeline.cpp - The CPU pipeline ---------------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Pipelines/Pipelines.h"

#include "iolite/Conversion/IoliteToLinalg/IoliteToLinalg.h"
#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::iolite;

void mlir::iolite::buildCpuPipeline(OpPassManager &pm,
                                    const CpuPipelineOptions &options) {
  // Reference semantics on tensors.
  pm.addPass(createIoliteToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  if (options.fuseElementwise)
    pm.addPass(createLinalgElementwiseOpFusionPass());

  // Each result becomes a caller-provided buffer: a value of its own each.
  if (options.outParams)
    pm.addNestedPass<func::FuncOp>(createIoliteCopyReturnedValuesPass());

  // Tensors to buffers. Loops may carry freshly allocated tensors (the
  // lowering's scans do), which the deallocation pipeline then frees.
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  bufferize.allowReturnAllocsFromLoops = true;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  if (options.outParams) {
    bufferization::BufferResultsToOutParamsPassOptions outParams;
    outParams.hoistStaticAllocs = true;
    outParams.modifyPublicFunctions = true;
    pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  }
  bufferization::buildBufferDeallocationPipeline(pm);

  // Loops and scalars, then LLVM.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  // libm has no rsqrtf: 1 / sqrt(x) it is.
  math::MathExpandOpsPassOptions mathExpand;
  mathExpand.opMnemonics = {"rsqrt"};
  pm.addPass(math::createMathExpandOpsPass(mathExpand));
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

namespace {
/// The command-line face of CpuPipelineOptions.
struct CpuPipelineCLOptions : public PassPipelineOptions<CpuPipelineCLOptions> {
  Option<bool> outParams{
      *this, "out-params",
      llvm::cl::desc("Return results through out-params after the arguments"),
      llvm::cl::init(true)};
  Option<bool> fuseElementwise{
      *this, "fuse-elementwise",
      llvm::cl::desc("Fuse elementwise linalg ops before bufferization"),
      llvm::cl::init(true)};

  CpuPipelineOptions get() const {
    CpuPipelineOptions o;
    o.outParams = outParams;
    o.fuseElementwise = fuseElementwise;
    return o;
  }
};
} // namespace

void mlir::iolite::registerCpuPipelines() {
  PassPipelineRegistration<CpuPipelineCLOptions>(
      "iolite-cpu-pipeline",
      "Lower iolite to the LLVM dialect for the host CPU (the reference "
      "path that iolite-run JIT-compiles)",
      [](OpPassManager &pm, const CpuPipelineCLOptions &o) {
        buildCpuPipeline(pm, o.get());
      });
}
