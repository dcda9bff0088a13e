//===- GpuPipelines.h - Lowering of generated kernels to NVVM/ROCDL -*- C++
//-*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The device half of the GPU back ends: target-neutral gpu.module kernels
// (as iolite-kernel-to-gpu emits them) to the LLVM dialect with NVVM or ROCDL
// intrinsics, with the chip's target attribute attached so that
// gpu-module-to-binary can serialize them.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_PIPELINES_GPUPIPELINES_H
#define IOLITE_PIPELINES_GPUPIPELINES_H

#include "iolite/Target/TargetDescription.h"
#include "mlir/Pass/PassManager.h"
#include <string>

namespace mlir {
namespace iolite {

struct GpuLoweringOptions {
  /// Optimization level of the device LLVM back end.
  unsigned optLevel = 3;
  /// libdevice bitcode for NVIDIA math functions.
  std::string libdevicePath;
};

/// The default libdevice (IOLITE_LIBDEVICE or the CUDA toolkit's).
std::string getDefaultLibdevicePath();

/// Attaches #nvvm.target / #rocdl.target for `target` to every gpu.module and
/// lowers the kernels to the LLVM dialect with the bare-pointer calling
/// convention. Host code is left alone.
void buildGpuLoweringPipeline(OpPassManager &pm,
                              const TargetDescription &target,
                              const GpuLoweringOptions &options);

/// Registers `iolite-lower-gpu{target=...}` with iolite-opt.
void registerGpuPipelines();

} // namespace iolite
} // namespace mlir

#endif // IOLITE_PIPELINES_GPUPIPELINES_H
