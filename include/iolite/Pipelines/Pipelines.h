//===- Pipelines.h - Iolite's pass pipelines --------------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// C++ builders of the pipelines iolite-compile, iolite-opt and Python run,
// each with an options struct, registered for iolite-opt with
// PassPipelineRegistration (the GPU lowering pipelines are in
// GpuPipelines.h).
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_PIPELINES_PIPELINES_H
#define IOLITE_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include <cstdint>
#include <string>

namespace mlir {
namespace iolite {

/// Options of the graph pipeline: raising, fusion and memory planning.
struct GraphPipelineOptions {
  /// Comma-separated targets whose on-chip limits bound the kernels.
  std::string targets = "sm_90a";
  /// False keeps one op per kernel (the unfused baseline).
  bool fusion = true;
  /// Report raisings, near misses, fusion decisions and the memory plan as
  /// remarks.
  bool remarks = false;
  /// Alignment of the workspace buffers, in bytes.
  int64_t workspaceAlignment = 256;
};

/// The graph clean-up before fusion: canonicalize and CSE, the raising
/// passes (norms, activations, rotary, attention), canonicalize and CSE.
void buildGraphRaisingPipeline(OpPassManager &pm,
                               const GraphPipelineOptions &options);

/// The raising pipeline, then iolite-form-kernels and iolite-plan-memory:
/// a graph of iolite ops becomes kernels with a planned workspace.
void buildGraphPipeline(OpPassManager &pm, const GraphPipelineOptions &options);

/// Registers `iolite-raising-pipeline` and `iolite-graph-pipeline` (options
/// target, no-fusion, remarks, alignment) with the global registry.
void registerGraphPipelines();

//===----------------------------------------------------------------------===//
// CPU pipeline (the reference path)
//===----------------------------------------------------------------------===//

/// Options of the CPU pipeline.
struct CpuPipelineOptions {
  /// Return function results through caller-allocated out-params after the
  /// arguments (how iolite-run calls functions).
  bool outParams = true;
  /// Fuse elementwise linalg ops before bufferization: fewer temporaries,
  /// the same values.
  bool fuseElementwise = true;
};

/// Lowers a module of iolite ops to the LLVM dialect for the host CPU:
/// iolite-to-linalg, one-shot bufferization across function boundaries
/// (identity layouts), buffer deallocation, linalg to loops, and the
/// conversions to LLVM. Math functions become libm calls (accurate to an ulp
/// or so, unlike polynomial expansions) and bf16 conversions are expanded to
/// integer ops, so the result needs nothing but libc and libm (and MLIR's
/// memrefCopy for strided copies). Public functions carrying
/// `llvm.emit_c_interface` get `_mlir_ciface_` wrappers taking memref
/// descriptors.
void buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options);

/// Registers `iolite-cpu-pipeline` (options out-params, fuse-elementwise)
/// with the global registry.
void registerCpuPipelines();

} // namespace iolite
} // namespace mlir

#endif // IOLITE_PIPELINES_PIPELINES_H
