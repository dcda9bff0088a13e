//===- IoliteGPUOps.td - Warp-level matrix ops -------------*- tablegen -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The iolite_gpu dialect: what kernel templates emit between themselves and
// the vendors' matrix instructions. One op multiplies one matrix tile on a
// warp's (or wave's) matrix unit; one op loads a lane's fragment of an
// operand tile from shared memory. Both are defined by the per-chip
// instruction table (include/iolite/Target/MatrixTable.h) and lowered per
// chip by iolite-gpu-lower-matrix.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITEGPU_IR_IOLITEGPUOPS_TD
#define IOLITE_DIALECT_IOLITEGPU_IR_IOLITEGPUOPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def IoliteGPU_Dialect : Dialect {
  let name = "iolite_gpu";
  let cppNamespace = "::mlir::iolite::igpu";
  let summary = "Warp-level matrix operations of Iolite's GPU kernels";
  let description = [{
    Kernel templates express every product that runs on a matrix unit with
    two ops of this dialect: `iolite_gpu.mma_load` gives each lane its
    fragment of an A or B operand tile held in shared memory, and
    `iolite_gpu.mma` multiplies one tile (m x k times k x n, accumulated into
    m x n f32) with one instruction of the warp. Which element of a tile each
    (lane, element) of a fragment holds is fixed by the matrix kind, from
    the per-chip instruction table (`include/iolite/Target/MatrixTable.h`);
    templates read the same table to apply epilogues and softmax to the
    accumulator fragments element by element.

    `iolite-gpu-lower-matrix` lowers both ops per chip: NVIDIA to
    `nvgpu.ldmatrix` and `nvgpu.mma.sync`, AMD to LDS loads and
    `amdgpu.mfma`. The emulator runs them either as they are (a
    warp-collective rendezvous through the table) or after that lowering.
  }];
  let useDefaultAttributePrinterParser = 1;
}

class IoliteGPU_Op<string mnemonic, list<Trait> traits = []>
    : Op<IoliteGPU_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

// Values equal iolite::matrix::Kind (the emulator's ABI).
def IoliteGPU_MatrixKind : I32EnumAttr<"MatrixKind",
    "a matrix instruction of the per-chip table", [
  I32EnumAttrCase<"nv_m16n8k16_f16", 1>,
  I32EnumAttrCase<"nv_m16n8k16_bf16", 2>,
  I32EnumAttrCase<"nv_m16n8k8_tf32", 3>,
  I32EnumAttrCase<"amd_mfma_32x32x8_f16", 4>,
  I32EnumAttrCase<"amd_mfma_32x32x8_bf16", 5>,
  I32EnumAttrCase<"amd_mfma_16x16x16_f16", 6>,
  I32EnumAttrCase<"amd_mfma_16x16x16_bf16", 7>
]> {
  let cppNamespace = "::mlir::iolite::igpu";
}

def IoliteGPU_MatrixOperand : I32EnumAttr<"MatrixOperand",
    "an input operand of a matrix instruction", [
  I32EnumAttrCase<"a", 0>,
  I32EnumAttrCase<"b", 1>
]> {
  let cppNamespace = "::mlir::iolite::igpu";
}

def IoliteGPU_SwizzleAttr : AttrDef<IoliteGPU_Dialect, "Swizzle"> {
  let mnemonic = "swizzle";
  let summary = "XOR swizzle of a shared-memory tile's rows";
  let description = [{
    Element `(row, col)` of a 2-D shared-memory tile is stored at
    `[row, col']` with

    ```
    phase = (row / perPhase) mod maxPhase
    col'  = ((col / vec) xor phase) * vec + col mod vec
    ```

    so chunks of `vec` contiguous elements (16 bytes) keep their contents
    and the chunks that a warp reads at once from consecutive rows fall in
    different banks (Triton's shared-memory swizzle). The shared-memory
    planner chooses the parameters per tile.

    ```mlir
    #iolite_gpu.swizzle<vec = 8, per_phase = 1, max_phase = 8>
    ```
  }];
  let parameters = (ins "int64_t":$vec, "int64_t":$perPhase,
                        "int64_t":$maxPhase);
  let assemblyFormat =
      "`<` `vec` `=` $vec `,` `per_phase` `=` $perPhase `,` "
      "`max_phase` `=` $maxPhase `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// Ops
//===----------------------------------------------------------------------===//

def IoliteGPU_MmaOp : IoliteGPU_Op<"mma", [
    NoMemoryEffect, AllTypesMatch<["c", "result"]>]> {
  let summary = "One matrix multiply-accumulate by a whole warp or wave";
  let description = [{
    `result = a * b + c` on one m x k, k x n, m x n tile of the instruction
    `kind`, executed together by all lanes of a warp (NVIDIA) or wave (AMD),
    which must reach it convergently. Each operand is the lane's fragment,
    a 1-D vector whose element `e` of lane `l` is the tile element the
    instruction table gives for `(l, e)`; the accumulator is f32.

    ```mlir
    %d = iolite_gpu.mma nv_m16n8k16_f16 %a, %b, %c
        : vector<8xf16>, vector<4xf16> into vector<4xf32>
    ```
  }];
  let arguments = (ins IoliteGPU_MatrixKind:$kind,
                       VectorOfRankAndType<[1], [F16, BF16, F32]>:$a,
                       VectorOfRankAndType<[1], [F16, BF16, F32]>:$b,
                       VectorOfRankAndType<[1], [F32]>:$c);
  let results = (outs VectorOfRankAndType<[1], [F32]>:$result);
  let assemblyFormat = [{
    $kind $a `,` $b `,` $c attr-dict `:` type($a) `,` type($b) `into`
    type($c)
  }];
  let hasVerifier = 1;
}

def IoliteGPU_MmaLoadOp : IoliteGPU_Op<"mma_load", [
    MemoryEffects<[MemRead]>]> {
  let summary = "Each lane's fragment of a matrix operand in shared memory";
  let description = [{
    Loads, for every lane of the warp, its fragment of the `operand` (A is
    m x k, B is k x n) of one instruction `kind` from a 2-D shared-memory
    tile. Element `(r, c)` of the operand is read from
    `source[i0 + r, i1 + c]`, or from `source[i0 + c, i1 + r]` with
    `transpose` (a B operand stored n-major, say); with `swizzle` the
    column index is swizzled as that attribute says. All lanes of the warp
    must execute it convergently (it may become one `ldmatrix`), and `i1`
    must be a multiple of 8 for 16-bit elements.

    ```mlir
    %a = iolite_gpu.mma_load a nv_m16n8k16_f16 %tile[%r, %c]
        {swizzle = #iolite_gpu.swizzle<vec = 8, per_phase = 1, max_phase = 8>}
        : memref<128x64xf16, #gpu.address_space<workgroup>> -> vector<8xf16>
    ```
  }];
  let arguments = (ins IoliteGPU_MatrixOperand:$operand,
                       IoliteGPU_MatrixKind:$kind,
                       Arg<MemRefRankOf<[F16, BF16, F32], [2]>, "",
                           [MemRead]>:$source,
                       Variadic<Index>:$indices,
                       UnitAttr:$transpose,
                       OptionalAttr<IoliteGPU_SwizzleAttr>:$swizzle);
  let results = (outs VectorOfRankAndType<[1], [F16, BF16, F32]>:$result);
  let assemblyFormat = [{
    $operand $kind $source `[` $indices `]` attr-dict `:` type($source)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // IOLITE_DIALECT_IOLITEGPU_IR_IOLITEGPUOPS_TD
