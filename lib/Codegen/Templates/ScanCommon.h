//===- ScanCommon.h - Helpers shared by the state-space templates -*- C++
//-*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Private to lib/Codegen/Templates: the selective-scan, SSD, conv1d and long
// convolution templates share the analysis of what surrounds their root op
// (pointwise epilogues, a causal conv1d feeding an operand) and a few
// builders (guarded element loads, group reductions over adjacent lanes).
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_CODEGEN_TEMPLATES_SCANCOMMON_H
#define IOLITE_LIB_CODEGEN_TEMPLATES_SCANCOMMON_H

#include "iolite/Codegen/KernelTemplate.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir {
namespace iolite {
namespace scan {

/// Scalar builders over the template's builder (index and f32 arithmetic).
struct ScalarBuilder {
  ImplicitLocOpBuilder &b;

  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value f(double v) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value div(Value x, Value y) { return arith::DivUIOp::create(b, x, y); }
  Value rem(Value x, Value y) { return arith::RemUIOp::create(b, x, y); }
  Value min(Value x, Value y) { return arith::MinUIOp::create(b, x, y); }
  Value lt(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, x, y);
  }
  Value le(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ule, x, y);
  }
  Value eq(Value x, Value y) {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, x, y);
  }
  Value land(Value x, Value y) {
    if (!x)
      return y;
    if (!y)
      return x;
    return arith::AndIOp::create(b, x, y);
  }
  Value addf(Value x, Value y) { return arith::AddFOp::create(b, x, y); }
  Value subf(Value x, Value y) { return arith::SubFOp::create(b, x, y); }
  Value mulf(Value x, Value y) { return arith::MulFOp::create(b, x, y); }
  Value divf(Value x, Value y) { return arith::DivFOp::create(b, x, y); }
  Value fma(Value x, Value y, Value z) {
    return math::FmaOp::create(b, x, y, z);
  }
  Value exp(Value x) { return math::ExpOp::create(b, x); }
  Value select(Value cond, Value x, Value y) {
    return arith::SelectOp::create(b, cond, x, y);
  }
  /// max(x, 0) + log1p(exp(-|x|)): the reference's overflow-free softplus.
  Value softplus(Value x) {
    Value absX = math::AbsFOp::create(b, x);
    return addf(arith::MaximumFOp::create(b, x, f(0.0)),
                math::Log1pOp::create(b, exp(arith::NegFOp::create(b, absX))));
  }
  /// x / (1 + exp(-x)), as the reference computes it.
  Value silu(Value x) {
    return divf(x, addf(f(1.0), exp(arith::NegFOp::create(b, x))));
  }
  Value load(Value memref, ValueRange index) {
    return memref::LoadOp::create(b, memref, index);
  }
  void store(Value value, Value memref, ValueRange index) {
    memref::StoreOp::create(b, value, memref, index);
  }
};

/// True if every value yielded by `kernel` has `root`'s number of elements
/// and every op using `root` (transitively) is either pointwise at its own
/// shape (dependent operands unbroadcast) or a reshape: then output element
/// i (row-major) is computed from root element i, and all outputs can be
/// written where `root` is computed (emitOutputsAt). KernelAnalysis's
/// epilogueAtHeroIndex is the special case without reshapes; Mamba-2's gate
/// `reshape(ssd) * silu(z)` needs them.
///
/// `state` is the final-state result of a carried-state root
/// (conv1d_with_state, selective_scan_with_state): it has a shape of its
/// own and its own store path, so it may only be yielded, never used inside
/// the kernel, and its yields are not counted as outputs at root's element.
bool isEpilogueAtElement(KernelOp kernel, Value root, Value state = {});

/// `v`'s shape with its symbolic dims at their bounds when `shapes` is
/// given (emitting); without it (matching) they stay ShapedType::kDynamic.
SmallVector<int64_t> shapeAtBounds(Value v, const SymbolicShapes *shapes);

/// Emits every yielded value of the kernel at the element corresponding to
/// `rootIndex` of `root` (the same index for outputs of root's shape, the
/// same row-major position otherwise) with `em`, whose sources provide the
/// root, and stores them. Yields of `state` (a carried-state root's final
/// state) are skipped: the template stores them with storeStateAt.
LogicalResult emitOutputsAt(KernelEmitContext &ctx, ElementalEmitter &em,
                            Value root, ValueRange rootIndex, Value state = {});

/// Stores `value` (f32) at `index` into every output that yields `state`,
/// the final state of a carried-state root (see isEpilogueAtElement).
void storeStateAt(KernelEmitContext &ctx, Value state, Value value,
                  ValueRange index);
/// The same for the run `values` of consecutive elements along the last
/// dim starting at `index` (KernelEmitContext::storeOutputRun: one aligned
/// vector store where the element type allows).
void storeStateAt(KernelEmitContext &ctx, Value state, ArrayRef<Value> values,
                  ValueRange index, ElementalEmitter &em);

/// The conv1d whose result reaches `value` through ops that are pointwise at
/// `value`'s shape (none at all included), if there is exactly one such
/// path and the conv's result has that shape. The templates compute this
/// conv from an input window kept on chip instead of re-reading its K taps.
Conv1dOp findConvPrologue(Value value);

/// True if the elements of `value` (rank >= 2) come, through pointwise ops,
/// slices and casts, from a transpose that moved the last axis: then the
/// last index is not the contiguous one in memory and a staging loop should
/// walk the second-to-last index fastest (Mamba's delta, B and C are
/// transposes of [B, L, X] projections).
bool isTransposedFromSequenceMajor(Value value);

/// Emits `cond ? em.emit(value, index) : 0.0` (no load when `cond` is false,
/// so idle threads move no bytes). A null `cond` means always.
FailureOr<Value> emitGuarded(ElementalEmitter &em, Value value,
                             ValueRange index, Value cond);

/// Sum over each group of `groupSize` adjacent lanes (a power of two that
/// divides the warp size), with gpu.shuffle xor; every lane of the group
/// gets the sum.
Value emitGroupAllReduceSum(ImplicitLocOpBuilder &b, Value value,
                            unsigned groupSize, unsigned warpSize);

/// Emits `for (e = tid; e < count; e += threads) body(e)`, the cooperative
/// loop every staging pass uses.
LogicalResult emitStrided(ElementalEmitter &em, Value tid, int64_t count,
                          int64_t threads,
                          function_ref<LogicalResult(Value)> body);

/// How a block's threads share an M x N register tile: threads form a
/// ty x tx grid (tx along N); thread (r, c) owns rows r + i * ty (i < tm)
/// and columns c + j * tx (j < tn). tx divides N; rows past M are idle.
struct RegisterTile {
  int64_t m, n, tx, ty, tm, tn;
  /// Picks tx as the largest power of two <= 16 dividing both N and
  /// `threads`.
  static RegisterTile choose(int64_t m, int64_t n, int64_t threads);
};

/// C (+)= A B over a staged K dimension for one RegisterTile: loops k over
/// [0, K) carrying the thread's tm x tn accumulators (row-major, starting
/// from `init`), reading its A column slice with `loadA(row, k)` and its B
/// row slice with `loadB(k, col)` (rows past M are clamped to M - 1) and
/// multiplying with emitTileMultiplyAccumulate, the framework's one tile
/// multiply-accumulate. `rowBase`/`colBase` are the thread's first row and
/// column.
FailureOr<SmallVector<Value>>
emitRegisterTileMatmul(ElementalEmitter &em, const RegisterTile &tile,
                       Value rowBase, Value colBase, int64_t kSize,
                       ValueRange init,
                       function_ref<Value(Value row, Value k)> loadA,
                       function_ref<Value(Value k, Value col)> loadB);

/// Returns `*value` if it succeeded or failure.
inline FailureOr<SmallVector<Value>> noResults(LogicalResult r) {
  if (failed(r))
    return failure();
  return SmallVector<Value>{};
}

} // namespace scan
} // namespace iolite
} // namespace mlir

#endif // IOLITE_LIB_CODEGEN_TEMPLATES_SCANCOMMON_H
