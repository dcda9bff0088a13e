//===- Compile.h - iolite-compile: model to GPU bundle ----------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The logic of iolite-compile, shared with tests and the Python package:
// load a model, run the graph pipeline (raising, kernel formation, memory
// planning; Pipelines.h), generate and serialize the kernels for each
// target, and write the AOT bundle (NAME.h, NAME.c, binaries, manifest.json)
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
#include "mlir/Support/Timing.h"
#include "llvm/Support/raw_ostream.h"
#include <string>

namespace mlir {
namespace iolite {

/// What iolite-compile produces.
enum class EmitStage {
  Bundle, ///< the AOT bundle in the output directory
  Iolite, ///< the verified input graph
  Raised, ///< the graph after canonicalization and raising, before fusion
  Fused,  ///< kernels formed and the workspace planned, with a summary
  Gpu,    ///< generated gpu dialect kernels + host launch function
  Llvm,   ///< kernels in the LLVM dialect (NVVM / ROCDL)
  Ptx,    ///< PTX of the NVIDIA targets
  Amdgcn  ///< AMDGCN assembly of the AMD targets
};

/// Constants of at least this many bytes go to the bundle's NAME.weights.
inline constexpr int64_t kDefaultWeightsThreshold = 64 * 1024;

struct CompileOptions {
  /// The model: .mlir, .onnx or .onnxtxt (see ModelLoader.h).
  std::string inputPath;
  /// How an ONNX model is imported (symbolic dims, function name).
  ModelLoadOptions load;
  std::string outputDir;
  /// The function to compile when the model has several; the others are
  /// dropped. Empty: the model must have exactly one.
  std::string function;
  /// Comma-separated target names.
  std::string targets = "sm_90a";
  EmitStage emit = EmitStage::Bundle;
  /// One kernel per op instead of fused kernels.
  bool noFusion = false;
  bool remarks = false;
  /// A kernel that spills registers is an error rather than a warning
  /// (--werror-spills).
  bool spillsAreErrors = false;
  CodegenOverrides overrides;
  BackendOptions backend;
  /// Constants of at least this many bytes are written to NAME.weights and
  /// read by NAME_load; smaller ones are embedded in NAME.c.
  int64_t weightsThreshold = kDefaultWeightsThreshold;
};

/// One kernel row of the summary table and the manifest.
struct BundleKernel {
  std::string name;
  std::string templateName, tile;
  std::vector<std::pair<std::string, std::string>> sourceOps; // op, location
  /// Per target, in target order.
  std::vector<std::array<int64_t, 7>> launch; // grid[3], block[3], smem
  /// Per target: the matrix instruction of the kernel's tile products
  /// ("fma", "none", or a MatrixTable.h name) and why.
  std::vector<std::pair<std::string, std::string>> matrix;
  std::vector<KernelResources> resources;
};

/// Runs the whole compile. Diagnostics go to the context's handler; the
/// printed stage or the per-kernel table goes to `out`.
LogicalResult compile(MLIRContext &context, const CompileOptions &options,
                      llvm::raw_ostream &out);

/// The same, timing its steps under `timing` (-mlir-timing): loading the
/// model, every pass of the graph pipeline, and per target the kernel
/// generation and every pass and tool of the back end.
LogicalResult compile(MLIRContext &context, const CompileOptions &options,
                      llvm::raw_ostream &out, TimingScope &timing);

/// Runs the graph pipeline of `options` (targets, fusion, remarks) on
/// `module`: raising only, or raising, kernel formation and memory
/// planning. Ops already in kernels stay as they are. Its passes are timed
/// under `timing` when it holds a timer.
LogicalResult runGraphPipeline(ModuleOp module, const CompileOptions &options,
                               bool raiseOnly = false,
                               TimingScope *timing = nullptr);

/// What fusion and memory planning made of one function.
struct GraphSummary {
  std::string function;
  unsigned kernels = 0;
  /// The planned arena and its statistics (see MemoryPlan.h); -1 when the
  /// function has no plan.
  int64_t workspaceBytes = -1;
  int64_t sumOfSizes = -1;
  int64_t livenessLowerBound = -1;
  int64_t inPlace = -1;
};

/// Reads the summary of every function with a body.
SmallVector<GraphSummary> summarizeGraph(ModuleOp module);

/// Prints one `// @f: N kernels, workspace ...` line per function (MLIR
/// comments, so the printed module still parses).
void printGraphSummary(ArrayRef<GraphSummary> summaries,
                       llvm::raw_ostream &out);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DRIVER_COMPILE_H
