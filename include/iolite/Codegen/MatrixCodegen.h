//===- MatrixCodegen.h - Tile products on the matrix units ------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// What kernel templates share to put their tile products on tensor cores /
// matrix cores: the choice of instruction, warp tiles of iolite_gpu.mma over
// operand tiles staged in shared memory, and the accumulator fragments'
// coordinates, row reductions and reuse as an A operand, all derived from
// the per-chip instruction table (include/iolite/Target/MatrixTable.h).
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_CODEGEN_MATRIXCODEGEN_H
#define IOLITE_CODEGEN_MATRIXCODEGEN_H

#include "iolite/Codegen/SharedMemoryPlanner.h"
#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUOps.h"
#include "iolite/Target/TargetDescription.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include <optional>
#include <string>

namespace mlir {
namespace iolite {

/// The instruction a tile product uses, and why (for the manifest and
/// --remarks).
struct MatrixChoice {
  /// Null: scalar FMA.
  const matrix::Instruction *inst = nullptr;
  std::string reason;
  /// "nv_m16n8k16_f16", ..., or "fma".
  std::string kindName() const { return inst ? inst->name : "fma"; }
};

/// Picks the matrix instruction for a product of `lhs` x `rhs` elements on
/// `target`: f16 x f16 and bf16 x bf16 get the chip's instruction of that
/// type (the first in the target's list whose m and n are at most
/// `maxM` / `maxN`, else its smallest); f32 x f32 stays on FMA units (exact)
/// unless `allowTf32` and the chip has TF32; anything else stays on FMA.
MatrixChoice chooseMatrixInstruction(const TargetDescription &target, Type lhs,
                                     Type rhs, bool allowTf32,
                                     int64_t maxM = 1 << 30,
                                     int64_t maxN = 1 << 30);

/// Shared-memory read width of one lane of a fragment load: 16 bytes (an
/// ldmatrix row) on NVIDIA, the contiguous run of an MFMA fragment on AMD;
/// what the planner swizzles tiles for (chooseTileSwizzle).
int64_t fragmentReadBytes(const matrix::Instruction &inst,
                          matrix::Operand operand, bool transpose);

/// The #iolite_gpu.swizzle of a planned tile (null when identity).
igpu::SwizzleAttr getSwizzleAttr(MLIRContext *ctx, const TileSwizzle &swizzle);

/// Rounds f32 values to TF32 (round to nearest, ties away from zero, as
/// cvt.rna.tf32.f32): what an f32 operand is stored as for the TF32 kind.
Value emitRoundToTf32(ImplicitLocOpBuilder &b, Value f32Value);

/// The coordinates of a lane's fragment elements, as index values: the lane
/// part is computed once, element parts are constants.
class FragmentCoords {
public:
  FragmentCoords(ImplicitLocOpBuilder &b, const matrix::FragmentLayout &layout,
                 Value lane);
  Value row(int64_t element);
  Value col(int64_t element);
  /// The constant part of element `element`.
  matrix::Coord offset(int64_t element) const {
    return layout.elementOffset(element);
  }

private:
  ImplicitLocOpBuilder &b;
  const matrix::FragmentLayout &layout;
  Value laneRow, laneCol;
};

/// All-reduce of a per-lane value over the lanes that hold the same rows of
/// an accumulator (those differing only in lane bits that move the column),
/// with gpu.shuffle xor.
Value emitAccumulatorRowReduce(ImplicitLocOpBuilder &b,
                               const matrix::FragmentLayout &c,
                               unsigned warpSize, Value value,
                               function_ref<Value(Value, Value)> combine);

/// The distinct rows one lane holds in an accumulator fragment: for each,
/// its row offset (from the element bits that move the row) and the
/// elements in it.
struct AccumulatorRows {
  SmallVector<int32_t> rowOffsets;
  SmallVector<SmallVector<int64_t, 4>> elements;
};
AccumulatorRows getAccumulatorRows(const matrix::FragmentLayout &c);

/// Where each element of a k-step's A fragment is in the accumulators of
/// the product that computed it (`n` columns per accumulator tile, `k`
/// columns per k-step), when every such element is in the same lane:
/// result[e] = (accumulator tile within the k-step, element). Empty when the
/// layouts do not line up (the A operand must then go through memory).
std::optional<SmallVector<std::pair<int64_t, int64_t>>>
getAccumulatorAsOperandA(const matrix::Instruction &inst);

/// Splits `warps` warps over a bm x bn block tile of m x n instruction
/// tiles: as many warps as the tile has instruction tiles, the squarest
/// warp tiles. Returns {warps along M, warps along N}.
std::pair<int64_t, int64_t>
splitWarpsOverTile(int64_t warps, int64_t bm, int64_t bn, int64_t m, int64_t n);

/// One operand of a warp-tile product: a 2-D shared-memory tile (element
/// type of the instruction's input) and the memory coordinates of operand
/// element (0, 0) of the warp's first instruction tile.
struct MatrixTileOperand {
  Value tile;
  igpu::SwizzleAttr swizzle;
  /// Memory rows are the operand's columns (A stored k-major, B stored
  /// n-major).
  bool transpose = false;
  Value row0, col0;
};

/// For every B operand p: acc[(p * mTiles + i) * nTiles + j] += A(i) *
/// B_p(j) over `kSteps` instruction k-steps for the mTiles x nTiles
/// instruction tiles of a warp: instruction tile i of A starts inst.m
/// operand rows after tile i-1, tile j of B inst.n columns after j-1, and
/// k-step s inst.k columns / rows after s-1. Fragments are loaded with
/// iolite_gpu.mma_load; each A fragment once for all B operands.
SmallVector<Value> emitWarpTileProduct(ImplicitLocOpBuilder &b,
                                       const matrix::Instruction &inst,
                                       const MatrixTileOperand &a,
                                       ArrayRef<MatrixTileOperand> bOperands,
                                       int64_t mTiles, int64_t nTiles,
                                       int64_t kSteps, ValueRange acc);

/// A zero accumulator fragment of `inst`.
Value emitZeroAccumulator(ImplicitLocOpBuilder &b,
                          const matrix::Instruction &inst);

/// Stores `value` (f32) at (row, col) of a 2-D shared tile of the
/// instruction's input type, swizzled, rounding (or TF32-rounding) as the
/// instruction reads it.
void emitStoreTileElement(ImplicitLocOpBuilder &b,
                          const matrix::Instruction &inst, Value tile,
                          igpu::SwizzleAttr swizzle, Value row, Value col,
                          Value value);
/// Stores a run of f32 values at (row, col .. col + n) of such a tile with
/// one vector store (the run must stay inside one swizzle chunk).
void emitStoreTileRun(ImplicitLocOpBuilder &b, const matrix::Instruction &inst,
                      Value tile, igpu::SwizzleAttr swizzle, Value row,
                      Value col, ArrayRef<Value> values);

/// The run width (elements) in which a tile of `rows` x `rowElements`
/// elements of the kernel buffer `buffer` can be staged with cp.async on
/// `target`, or 0: NVIDIA, an identity-layout memref already in `inst`'s
/// input type (not TF32, which is rounded on the way), runs of 4, 8 or 16
/// bytes (at most `maxWidth` elements, dividing every value of `sizes`),
/// and the same number of runs for each of `threads` threads.
int64_t getAsyncCopyRunWidth(const TargetDescription &target,
                             const matrix::Instruction &inst, Value buffer,
                             int64_t maxWidth, ArrayRef<int64_t> sizes,
                             int64_t rows, int64_t rowElements,
                             int64_t threads);

/// One cp.async of `width` elements from `buffer[src]` to (row, col) of a
/// swizzled shared tile. With `inBounds`, a run outside the operand reads 0
/// bytes from a valid address (the last two source indices replaced by 0)
/// and zero-fills. Returns the copy's token.
Value emitAsyncCopyRun(ImplicitLocOpBuilder &b, const matrix::Instruction &inst,
                       Value tile, igpu::SwizzleAttr swizzle, Value row,
                       Value col, Value buffer, ArrayRef<Value> src,
                       int64_t width, Value inBounds);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_CODEGEN_MATRIXCODEGEN_H
