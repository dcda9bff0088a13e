//===- BlockGemm.h - One block's tiled GEMM main loop -----------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The K loop of a block that owns a BM x BN output tile: A and B tiles are
// staged in shared memory (double-buffered when asked) and multiplied in one
// of two modes. FMA mode: f32 tiles, each thread keeps a TM x TN register
// tile of f32 accumulators updated with emitSharedTileMatmul. Matrix mode
// (`inst` set): tiles in the instruction's input type (f16/bf16, or f32
// rounded to TF32), XOR-swizzled by the shared-memory planner for the
// fragment loads; warps own warp tiles of iolite_gpu.mma
// (emitWarpTileProduct) and keep accumulator fragments. Several B operands
// may share one A tile (gate and up projections of a SwiGLU: two
// accumulator sets). Templates supply the element loads (so prologues fuse)
// and row/column bounds (so ragged and data-dependent tiles work: masked
// elements are staged as zeros), and own the epilogue, which walks the
// accumulators the same way in both modes (forEachBlockGemmElement).
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_CODEGEN_BLOCKGEMM_H
#define IOLITE_CODEGEN_BLOCKGEMM_H

#include "iolite/Codegen/KernelTemplate.h"
#include "iolite/Target/MatrixTable.h"

namespace mlir {
namespace iolite {

/// Tile shape of a block GEMM. FMA mode: threads form `ty` rows of `tx`
/// columns; thread (r, c) owns tile elements (r + i*ty, c + j*tx) for
/// i < TM, j < TN. Matrix mode: `warpsM` x `warpsN` warps, each owning a
/// (mTiles * inst.m) x (nTiles * inst.n) warp tile.
struct BlockGemmShape {
  int64_t bm = 64, bn = 64, bk = 16;
  int64_t tx = 16, ty = 16;
  /// The reduction length.
  int64_t k = 0;
  /// B operands sharing the A tile.
  unsigned numB = 1;
  /// 2 double-buffers the operand tiles (one barrier per K step).
  unsigned stages = 1;
  /// How the operands lie in global memory: the cooperative tile loads walk
  /// the contiguous dim with consecutive threads (coalescing), and matrix
  /// tiles keep that dim as their rows' contiguous one.
  bool aContiguousInK = true;
  bool bContiguousInK = false;
  /// Matrix mode: the instruction (null: FMA mode) and the warp grid.
  const matrix::Instruction *inst = nullptr;
  int64_t warpsM = 1, warpsN = 1;
  int64_t warpSize = 32;
  /// Matrix mode with run loads (BlockGemmOperands::loadARun / loadBRun):
  /// the most elements one load reads along each operand's contiguous dim.
  /// The template guarantees that every such run starting at a multiple of
  /// it lies entirely inside or outside the problem (it divides the
  /// problem's extent of that dim); the stores may shorten it further.
  int64_t aRun = 1, bRun = 1;

  bool isMatrix() const { return inst != nullptr; }
  int64_t threads() const {
    return inst ? warpsM * warpsN * warpSize : tx * ty;
  }
  int64_t tm() const { return bm / ty; }
  int64_t tn() const { return bn / tx; }
  /// Matrix mode: instruction tiles per warp along M and N, k-steps per BK.
  int64_t mTiles() const { return bm / warpsM / inst->m; }
  int64_t nTiles() const { return bn / warpsN / inst->n; }
  int64_t kSteps() const { return bk / inst->k; }
  /// Accumulator values per B operand and thread: f32 scalars (FMA mode)
  /// or fragments (matrix mode).
  int64_t accumulatorsPerB() const {
    return inst ? mTiles() * nTiles() : tm() * tn();
  }
  /// f32 accumulator registers per thread over all B operands.
  int64_t accumulatorRegisters() const;
  /// Bytes of one staged operand element.
  int64_t elementBytes() const;
  /// Shared-memory bytes of one stage of operand tiles.
  int64_t stageBytes() const { return (bm + numB * bn) * bk * elementBytes(); }
  /// "64x64x16, 2 stage(s)"; matrix mode adds ", 2x4 warps of 2x4
  /// nv_m16n8k16_f16".
  std::string describe() const;
};

/// Matrix mode: spreads at most `warps` warps over the bm x bn tile (as
/// many as it has instruction tiles, the squarest warp tiles), then halves
/// BM (and BN unless `keepN`) while the accumulators exceed `budget` f32
/// registers per thread. Fails when the tile is not a multiple of the
/// instruction.
LogicalResult fitBlockGemmWarps(BlockGemmShape &shape, int64_t warps,
                                int64_t budget, bool keepN);

/// Shared-memory buffers of a block GEMM.
struct BlockGemmBuffers {
  unsigned a = 0;
  SmallVector<unsigned, 2> b;
};

/// Declares the operand tiles in `plan`, live over [firstPhase, lastPhase]
/// (matrix mode: swizzled tiles, SharedMemoryPlan::addTile).
BlockGemmBuffers planBlockGemm(SharedMemoryPlan &plan,
                               const BlockGemmShape &shape, unsigned firstPhase,
                               unsigned lastPhase);

/// Element access of a block GEMM. Indices are tile-local rows `i` / columns
/// `j` and global reduction indices `k`; loads are called only for elements
/// inside the problem and return f32.
struct BlockGemmOperands {
  function_ref<FailureOr<Value>(Value i, Value k)> loadA;
  function_ref<FailureOr<Value>(unsigned b, Value k, Value j)> loadB;
  /// i1 for tile rows/columns inside the problem; null when all are.
  function_ref<Value(Value i)> rowInBounds;
  function_ref<Value(Value j)> colInBounds;
  /// Matrix mode, optional: `width` consecutive elements along the
  /// operand's contiguous dim from (i, k) / (k, j) (ElementalEmitter runs:
  /// one vector load where the buffer allows). Used when the shape's
  /// aRun / bRun exceed 1.
  function_ref<FailureOr<SmallVector<Value>>(Value i, Value k, int64_t width)>
      loadARun;
  function_ref<FailureOr<SmallVector<Value>>(unsigned b, Value k, Value j,
                                             int64_t width)>
      loadBRun;
};

/// A thread's accumulators, per B operand (see accumulatorsPerB): FMA mode
/// element (i, j) at i*TN + j, matrix mode instruction tile (i, j) of the
/// warp at i*nTiles + j.
using BlockGemmAccumulators = SmallVector<SmallVector<Value>>;

/// Emits the K loop at the builder's insertion point (every thread of the
/// block must reach it: it has barriers). It ends with a barrier, so the
/// tiles' bytes may be reused right after.
FailureOr<BlockGemmAccumulators>
emitBlockGemm(KernelEmitContext &ctx, ElementalEmitter &em,
              const BlockGemmShape &shape, const BlockGemmBuffers &buffers,
              const BlockGemmOperands &operands);

/// One zero accumulator (f32 or a zero fragment).
Value emitBlockGemmZero(ImplicitLocOpBuilder &b, const BlockGemmShape &shape);

/// One element of a thread's accumulators: its tile-local row and column
/// and each B operand's f32 product there.
struct BlockGemmElement {
  Value row, col;
  SmallVector<Value, 2> values;
};

/// Calls `body` for every accumulator element the thread holds, in either
/// mode (matrix mode: through the instruction's C layout), so templates
/// share one epilogue.
LogicalResult
forEachBlockGemmElement(ImplicitLocOpBuilder &b, const BlockGemmShape &shape,
                        Value tid, const BlockGemmAccumulators &acc,
                        function_ref<LogicalResult(const BlockGemmElement &)>);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_CODEGEN_BLOCKGEMM_H
