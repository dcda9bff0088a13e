//===- GpuPipelines.cpp - Lowering of generated kernels to NVVM/ROCDL -----===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Upstream conversions do all the work; this file only chooses and orders
// them (after upstream's gpu-lower-to-nvvm-pipeline, device half only).
//
//===----------------------------------------------------------------------===//

#include "iolite/Pipelines/GpuPipelines.h"

#include "iolite/Dialect/IoliteGPU/Transforms/Passes.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FileSystem.h"
#include <cstdlib>

using namespace mlir;
using namespace mlir::iolite;

std::string mlir::iolite::getDefaultLibdevicePath() {
  if (const char *env = std::getenv("IOLITE_LIBDEVICE"))
    return env;
  // The CUDA toolkit's, else the one tools/setup.sh installs from PyPI.
  const char *toolkit = "/usr/local/cuda/nvvm/libdevice/libdevice.10.bc";
  const char *fallback = "/opt/iolite/cuda/nvvm/libdevice/libdevice.10.bc";
  if (!llvm::sys::fs::exists(toolkit) && llvm::sys::fs::exists(fallback))
    return fallback;
  return toolkit;
}

void mlir::iolite::buildGpuLoweringPipeline(OpPassManager &pm,
                                            const TargetDescription &target,
                                            const GpuLoweringOptions &options) {
  if (target.isNvidia()) {
    GpuNVVMAttachTargetOptions attach;
    attach.chip = target.chip;
    attach.features = target.features;
    attach.optLevel = options.optLevel;
    std::string libdevice = options.libdevicePath.empty()
                                ? getDefaultLibdevicePath()
                                : options.libdevicePath;
    if (llvm::sys::fs::exists(libdevice))
      attach.linkLibs.push_back(libdevice);
    pm.addPass(createGpuNVVMAttachTarget(attach));
  } else {
    GpuROCDLAttachTargetOptions attach;
    attach.chip = target.chip;
    attach.optLevel = options.optLevel;
    attach.wave64Flag = target.warpSize == 64;
    pm.addPass(createGpuROCDLAttachTarget(attach));
    // Math ops without an AMDGPU instruction (tanh, used by soft-capped
    // attention and tanh-GELU) become ocml calls; convert-gpu-to-rocdl would
    // leave llvm.tanh, which the AMDGPU back end cannot lower.
    ConvertMathToROCDLOptions math;
    math.chipset = target.chip;
    pm.addPass(createConvertMathToROCDL(math));
  }
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  // Matrix ops to the chip's instructions (nvgpu / amdgpu), then those to
  // NVVM / ROCDL intrinsics before the generic GPU lowering.
  igpu::LowerMatrixOpsOptions matrix;
  matrix.chip = target.chip;
  kernels.addPass(igpu::createLowerMatrixOps(matrix));
  kernels.addPass(createSCFToControlFlowPass());
  kernels.addPass(memref::createExpandStridedMetadataPass());
  kernels.addPass(createLowerAffinePass());
  if (target.isNvidia()) {
    kernels.addPass(createConvertNVGPUToNVVMPass());
    ConvertGpuOpsToNVVMOpsOptions lower;
    lower.useBarePtrCallConv = true;
    kernels.addPass(createConvertGpuOpsToNVVMOps(lower));
  } else {
    ConvertAMDGPUToROCDLPassOptions amd;
    amd.chipset = target.chip;
    kernels.addPass(createConvertAMDGPUToROCDLPass(amd));
    ConvertGpuOpsToROCDLOpsOptions lower;
    lower.chipset = target.chip;
    lower.useBarePtrCallConv = true;
    kernels.addPass(createConvertGpuOpsToROCDLOps(lower));
  }
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());
}

namespace {
struct LowerGpuOptions : public PassPipelineOptions<LowerGpuOptions> {
  Option<std::string> target{*this, "target",
                             llvm::cl::desc("Target description name"),
                             llvm::cl::init("sm_90a")};
  Option<unsigned> optLevel{*this, "opt-level",
                            llvm::cl::desc("Device LLVM optimization level"),
                            llvm::cl::init(3)};
};
} // namespace

void mlir::iolite::registerGpuPipelines() {
  PassPipelineRegistration<LowerGpuOptions>(
      "iolite-lower-gpu",
      "Lower generated gpu.module kernels to NVVM or ROCDL for a target",
      [](OpPassManager &pm, const LowerGpuOptions &opts) {
        const TargetDescription *t = lookupTarget(opts.target);
        // An unknown target leaves the pipeline empty; the driver checks
        // names before it builds pipelines, and iolite-opt users see that
        // nothing was lowered.
        if (!t || t->emulated)
          return;
        GpuLoweringOptions options;
        options.optLevel = opts.optLevel;
        buildGpuLoweringPipeline(pm, *t, options);
      });
}
