//===- Passes.td - iolite_gpu passes -----------------------*- tablegen -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITEGPU_TRANSFORMS_PASSES_TD
#define IOLITE_DIALECT_IOLITEGPU_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerMatrixOps : Pass<"iolite-gpu-lower-matrix", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Lower iolite_gpu matrix ops to the chip's instructions";
  let description = [{
    Rewrites `iolite_gpu.mma` and `iolite_gpu.mma_load` for one chip, from
    the per-chip instruction table:

    * NVIDIA (`sm_80`, `sm_90a`): `mma` becomes `nvgpu.mma.sync` (fragments
      reshaped to its 2-D register form), or for bf16 `nvvm.mma.sync` on
      `.b32` registers of two elements (convert-nvgpu-to-nvvm cannot type
      bf16 fragments); an `mma_load` of 16-bit elements
      whose fragment is made of 8x8 row-major or column-major sub-tiles
      becomes one `nvgpu.ldmatrix` (`.trans` where the tile is stored
      transposed), each lane giving the (swizzled) address of one row;
      other loads become element loads as below.
    * AMD (`gfx90a`, `gfx942`): `mma` becomes `amdgpu.mfma`; `mma_load`
      becomes one load per run of elements that are contiguous in shared
      memory (`vector.load`), or `memref.load` per element.
    * `level=warp` (emulated chips only) keeps `mma` for the emulator's
      warp-level rendezvous and lowers `mma_load` to element loads: the
      kernels then depend on the instruction table alone.

    An op whose kind the chip does not have is an error.

    ```mlir
    // before (sm_90a)
    %a = iolite_gpu.mma_load a nv_m16n8k16_f16 %tile[%r, %c]
        : memref<64x32xf16, #gpu.address_space<workgroup>> -> vector<8xf16>
    // after
    %t = nvgpu.ldmatrix %tile[%row, %col] {numTiles = 4 : i32,
        transpose = false} : memref<64x32xf16, ...> -> vector<4x2xf16>
    %a = vector.from_elements ... : vector<8xf16>  // the 8 elements of %t
    ```
  }];
  let options = [
    Option<"chip", "chip", "std::string", "\"sm_90a\"",
           "Target (sm_80, sm_90a, gfx90a, gfx942 or emu-<chip>)">,
    Option<"level", "level", "std::string", "\"isa\"",
           "isa: the chip's instructions; warp: keep iolite_gpu.mma for the "
           "emulator (emu-<chip> only)">,
  ];
  let dependentDialects = [
    "::mlir::nvgpu::NVGPUDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::amdgpu::AMDGPUDialect",
    "::mlir::vector::VectorDialect", "::mlir::memref::MemRefDialect",
    "::mlir::arith::ArithDialect"
  ];
}

#endif // IOLITE_DIALECT_IOLITEGPU_TRANSFORMS_PASSES_TD
