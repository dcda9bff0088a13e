//===- InitAll.cpp - Register Iolite and the upstream it uses -------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/InitAll.h"

#include "iolite/Codegen/Passes.h"
#include "iolite/Conversion/Passes.h"
#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "iolite/Dialect/Iolite/Transforms/Passes.h"
#include "iolite/Dialect/IoliteGPU/Transforms/Passes.h"
#include "iolite/Pipelines/GpuPipelines.h"
#include "iolite/Pipelines/Pipelines.h"
#include "iolite/Target/Emu/EmuTarget.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void mlir::iolite::registerAllDialects(DialectRegistry &registry) {
  registry.insert<IoliteDialect, igpu::IoliteGPUDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
}

void mlir::iolite::registerAllPasses() {
  mlir::registerAllPasses();
  registerIoliteCodegenPasses();
  registerIolitePasses();
  igpu::registerIoliteGPUPasses();
  registerGpuPipelines();
  registerGraphPipelines();
  emu::registerEmuPasses();
  registerIoliteConversionPasses();
  registerCpuPipelines();
}
