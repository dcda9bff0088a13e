//===- Compile.h - iolite-compile: model to GPU bundle ----------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The logic of iolite-compile, shared with tests and the Python package:
// load a model, form kernels, generate and serialize them for each target,
// and write the AOT bundle (NAME.h, NAME.c, binaries, manifest.json)
// atomically; or print an intermediate stage.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DRIVER_COMPILE_H
#define IOLITE_DRIVER_COMPILE_H

#include "iolite/Codegen/KernelTemplate.h"
#include "iolite/Driver/ModelLoader.h"
#include "iolite/Target/Serialization.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"
#include <string>

namespace mlir {
namespace iolite {

/// What iolite-compile produces.
enum class EmitStage {
  Bundle, ///< the AOT bundle in the output directory
  Iolite, ///< the verified input graph
  Fused,  ///< the graph with iolite.kernel regions
  Gpu,    ///< generated gpu dialect kernels + host launch function
  Llvm,   ///< kernels in the LLVM dialect (NVVM / ROCDL)
  Ptx,    ///< PTX of the NVIDIA targets
  Amdgcn  ///< AMDGCN assembly of the AMD targets
};

struct CompileOptions {
  /// The model: .mlir, .onnx or .onnxtxt (see ModelLoader.h).
  std::string inputPath;
  /// How an ONNX model is imported (symbolic dims, function name).
  ModelLoadOptions load;
  std::string outputDir;
  /// Comma-separated target names.
  std::string targets = "sm_90a";
  EmitStage emit = EmitStage::Bundle;
  /// One kernel per op instead of fused kernels.
  bool noFusion = false;
  bool remarks = false;
  CodegenOverrides overrides;
  BackendOptions backend;
};

/// One kernel row of the summary table and the manifest.
struct BundleKernel {
  std::string name;
  std::string templateName, tile;
  std::vector<std::pair<std::string, std::string>> sourceOps; // op, location
  /// Per target, in target order.
  std::vector<std::array<int64_t, 7>> launch; // grid[3], block[3], smem
  std::vector<KernelResources> resources;
};

/// Runs the whole compile. Diagnostics go to the context's handler; the
/// printed stage or the per-kernel table goes to `out`.
LogicalResult compile(MLIRContext &context, const CompileOptions &options,
                      llvm::raw_ostream &out);

/// Puts every iolite op that is not inside an iolite.kernel into a kernel of
/// its own (the unfused form; used when the input has no kernels yet).
void wrapOpsInKernels(ModuleOp module);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DRIVER_COMPILE_H
