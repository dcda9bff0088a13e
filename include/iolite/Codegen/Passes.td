//===- Passes.td - Kernel codegen passes -------------------*- tablegen -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_CODEGEN_PASSES_TD
#define IOLITE_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def KernelToGpu : Pass<"iolite-kernel-to-gpu", "ModuleOp"> {
  let summary = "Generate a GPU kernel per iolite.kernel and a host launch "
                "function";
  let description = [{
    Every `iolite.kernel` becomes a `gpu.func` in `gpu.module
    @iolite_kernels`, in the target-neutral form the back ends share
    (memref/scf/arith/math + gpu ops, static-shape memref parameters, all
    shared memory from `gpu.dynamic_shared_memory`). The kernel template is
    chosen per kernel (matmul, row reduction, elemental) with tiles from the
    target description. Each function of the module becomes a host function
    over memrefs (inputs, then outputs, then the workspace) that launches
    the kernels in order with `gpu.launch_func`, reading intermediates from
    the workspace at the offsets the memory planner recorded
    (`result_offsets`) and constants from `memref.global`s. Kernels whose
    shared memory does not fit the target are diagnosed here. A template may
    emit auxiliary kernels (the combine step of split-KV attention) that
    launch right after its kernel, and request global scratch, which lives
    in the workspace after the planned intermediates.
  }];
  let options = [
    Option<"target", "target", "std::string", "\"sm_90a\"",
           "Target description to generate for (sm_80, sm_90a, gfx90a, "
           "gfx942, emu-<chip>)">,
    ListOption<"matmulTile", "matmul-tile", "int64_t",
               "Override the matmul tile as BM,BN,BK">,
    Option<"forceElemental", "force-elemental", "bool", "false",
           "Compile every kernel with the one-thread-per-element fallback">,
    ListOption<"attentionTile", "attention-tile", "int64_t",
               "Override the attention tile as BM,BN (query rows, keys)">,
    Option<"attentionSplits", "attention-splits", "int64_t", "0",
           "KV partitions of split-KV attention (0 = heuristic, 1 = never)">,
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect", "::mlir::func::FuncDialect",
    "::mlir::vector::VectorDialect", "::mlir::iolite::igpu::IoliteGPUDialect",
    "::mlir::nvgpu::NVGPUDialect"
  ];
}

#endif // IOLITE_CODEGEN_PASSES_TD
