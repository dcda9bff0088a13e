//===- BlockGemm.h - One block's tiled GEMM main loop -----------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The K loop of a block that owns a BM x BN output tile: A and B tiles are
// staged in shared memory (f32, double-buffered when asked), each thread keeps
// a TM x TN register tile of f32 accumulators in the loop's iter_args and
// updates it with emitSharedTileMatmul. Several B operands may share one
// A tile (gate and up projections of a SwiGLU: two accumulators per thread).
// Templates supply the element loads (so prologues fuse) and row/column bounds
// (so ragged and data-dependent tiles work) and own the epilogue.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_CODEGEN_BLOCKGEMM_H
#define IOLITE_CODEGEN_BLOCKGEMM_H

#include "iolite/Codegen/KernelTemplate.h"

namespace mlir {
namespace iolite {

/// Tile shape of a block GEMM. Threads form `ty` rows of `tx` columns; thread
/// (r, c) owns tile elements (r + i*ty, c + j*tx) for i < TM, j < TN.
struct BlockGemmShape {
  int64_t bm = 64, bn = 64, bk = 16;
  int64_t tx = 16, ty = 16;
  /// The reduction length.
  int64_t k = 0;
  /// B operands sharing the A tile.
  unsigned numB = 1;
  /// 2 double-buffers the operand tiles (one barrier per K step).
  unsigned stages = 1;

  int64_t threads() const { return tx * ty; }
  int64_t tm() const { return bm / ty; }
  int64_t tn() const { return bn / tx; }
  /// Shared-memory bytes of one stage of operand tiles.
  int64_t stageBytes() const { return (bm + numB * bn) * bk * 4; }
  /// "64x64x16, 2 stage(s)".
  std::string describe() const;
};

/// Shared-memory buffers of a block GEMM.
struct BlockGemmBuffers {
  unsigned a = 0;
  SmallVector<unsigned, 2> b;
};

/// Declares the operand tiles in `plan`, live over [firstPhase, lastPhase].
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
  /// Loop order of the cooperative tile loads: consecutive threads walk K
  /// when the operand is contiguous in K in global memory (coalescing).
  bool aContiguousInK = true;
  bool bContiguousInK = false;
};

/// Emits the K loop at the builder's insertion point (every thread of the
/// block must reach it: it has barriers). It ends with a barrier, so the
/// tiles' bytes may be reused right after. Returns, per B operand, the
/// thread's TM*TN accumulators (element (i, j) at i*TN + j).
FailureOr<SmallVector<SmallVector<Value>>>
emitBlockGemm(KernelEmitContext &ctx, ElementalEmitter &em,
              const BlockGemmShape &shape, const BlockGemmBuffers &buffers,
              const BlockGemmOperands &operands);

/// The tile-local row / column of a thread's accumulator (i, j).
Value blockGemmRow(ImplicitLocOpBuilder &b, const BlockGemmShape &shape,
                   Value tid, int64_t i);
Value blockGemmCol(ImplicitLocOpBuilder &b, const BlockGemmShape &shape,
                   Value tid, int64_t j);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_CODEGEN_BLOCKGEMM_H
