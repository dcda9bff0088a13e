//===- Attention.h - The attention template's plan and emitter --*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Shared by Attention.cpp (planning, the FMA path, what both paths share,
// the split-KV combine kernel) and AttentionMma.cpp (the matrix-unit path).
// docs/attention.md describes both.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_CODEGEN_TEMPLATES_ATTENTION_H
#define IOLITE_LIB_CODEGEN_TEMPLATES_ATTENTION_H

#include "iolite/Codegen/KernelTemplate.h"
#include "iolite/Codegen/MatrixCodegen.h"

namespace mlir {
namespace iolite {
namespace attention {

/// The attention one emitter computes: an iolite.attention (query, keys,
/// values and result [B, H, S, D]), an iolite.cache_attention (query and
/// result [B, S, H, D]; keys and values read from a contiguous [B, L, Hkv, D]
/// cache or through a block table from a [N, P, Hkv, D] page pool, up to a
/// per-sequence length loaded inside the kernel), or an
/// iolite.varlen_attention (a packed batch: query and result [Tq, H, D], keys
/// and values [Tk, Hkv, D], sequence b owning the rows between
/// cu_seqlens[b] and cu_seqlens[b + 1], loaded inside the kernel). One
/// emitter serves all three: only the addressing of Q, K, V and O and the
/// source of the query and key lengths differ.
struct AttentionOperands {
  Operation *op = nullptr;
  Value query, key, value, result;
  /// iolite.attention only (null otherwise).
  Value mask, alibiSlopes;
  /// iolite.cache_attention only: the i32 [B] lengths and the optional i32
  /// [B, M] block table.
  Value cacheSeqlens, blockTable;
  /// iolite.varlen_attention only: the i32 [B + 1] sequence boundaries of
  /// the queries and the keys, and the bounds on the lengths (0: none).
  Value cuSeqlensQ, cuSeqlensK;
  int64_t maxSeqlenQ = 0, maxSeqlenK = 0;
  bool causal = false;
  std::optional<uint64_t> window;
  std::optional<APFloat> softcap;
  double scale = 1.0;

  /// The operands of `op`, an iolite.attention, iolite.cache_attention or
  /// iolite.varlen_attention.
  static AttentionOperands get(Operation *op);
  bool isCache() const { return static_cast<bool>(cacheSeqlens); }
  bool isPaged() const { return static_cast<bool>(blockTable); }
  bool isVarlen() const { return static_cast<bool>(cuSeqlensQ); }
  /// The dims of the query (and result) holding positions and heads.
  unsigned qSeqDim() const { return isVarlen() ? 0 : isCache() ? 1 : 2; }
  unsigned qHeadDim() const { return isVarlen() ? 1 : isCache() ? 2 : 1; }
  /// The query or result index of (batch, head, position, column); for
  /// varlen_attention `pos` is the packed row and `batch` is not used.
  SmallVector<Value, 4> qIndex(Value batch, Value head, Value pos,
                               Value col) const {
    if (isVarlen())
      return {pos, head, col};
    if (isCache())
      return {batch, pos, head, col};
    return {batch, head, pos, col};
  }
};

/// The sizes of one attention (for cache_attention, skv is the cache's
/// capacity per sequence: L, or M * P for a paged cache; for
/// varlen_attention, sq and skv are the most queries and keys a sequence
/// has: max_seqlen_q / max_seqlen_k, at most the packed totals).
struct AttentionShape {
  int64_t batch, hq, sq, d, hkv, skv, dv;
  /// Tokens per page of a paged cache (0 otherwise).
  int64_t pageSize = 0;
  /// varlen_attention: a packed batch, its query and key rows.
  bool packed = false;
  int64_t totalQ = 0, totalK = 0;
  /// Query heads per kv head.
  int64_t group() const { return hq / hkv; }
  /// Query rows per (batch, kv head): every (position, head-in-group) pair.
  int64_t rows() const { return group() * sq; }

  /// The sizes of `att`; with `shapes` (symbolic dims), the sizes at the
  /// bounds, which the plan's tiles and scratch are chosen for.
  static AttentionShape get(const AttentionOperands &att,
                            const SymbolicShapes *shapes = nullptr);
};

/// How one attention kernel is tiled.
struct AttentionPlan {
  /// Query rows and keys per tile.
  int64_t bm, bn;
  int64_t threads;
  /// K/V pipeline stages in shared memory.
  int64_t stages;
  /// Whether partial results go to scratch and a combine kernel follows.
  bool splitKV;
  /// KV partitions (gridDim.z).
  int64_t splits;
  /// With run-time extents: each launch decides from the call's lengths
  /// whether to split and into how many (at most `splits`) partitions.
  bool runtimeSplits = false;
  /// Query positions of the partials' layout: the query length, or with
  /// runtimeSplits the most positions a splitting launch has.
  int64_t partialPositions = 0;
  int64_t qTiles, kvTiles;

  // The FMA path: threads as ty rows of tx lanes; per thread score rows,
  // score columns, output columns; row strides (elements) of the tiles.
  int64_t tx = 0, ty = 0;
  int64_t tm = 0, tn = 0, tdv = 0;
  int64_t qStride = 0, kStride = 0, vStride = 0, pStride = 0;

  // The matrix path (inst set): `warps` warps stacked along the rows, each
  // with mTiles instruction tiles of rows; d and dv padded to the
  // instruction; S tiles of the BN keys, O tiles of the padded dv.
  MatrixChoice matrix;
  const matrix::Instruction *inst = nullptr;
  int64_t warps = 0, mTiles = 0;
  int64_t dPad = 0, dvPad = 0;
  int64_t sTiles = 0, oTiles = 0, qkSteps = 0, pvSteps = 0;
  /// P reused from the S accumulators as the A operand of P.V (mma.sync's
  /// layouts line up), else staged through shared memory.
  bool pInRegisters = false;

  /// Shared-memory buffer ids (pBuf only where P goes through memory; qBuf
  /// only on the FMA path).
  unsigned qBuf = 0, kBuf = 0, vBuf = 0, pBuf = 0;
  /// Paged caches: the page numbers of one KV tile (pageBuf, pagesPerTile
  /// entries).
  unsigned pageBuf = 0;
  int64_t pagesPerTile = 0;
  /// varlen_attention: the block's sequence boundaries (4 x i32).
  unsigned seqBuf = 0;

  std::string describe() const;
};

/// Picks the tile, the thread shape, the pipeline depth and the KV split,
/// and declares the shared-memory buffers.
FailureOr<AttentionPlan> planAttention(const AttentionOperands &att,
                                       KernelEmitContext &ctx);

/// What a kernel knows about one of the query rows of its tile.
struct RowInfo {
  /// Row within the block's tile.
  Value local;
  /// i1: the row exists (null when every row of the tile does).
  Value valid;
  /// Query position, query head, absolute position among the keys, and
  /// the ALiBi slope of its head (null without ALiBi).
  Value qPos, qHead, absPos, slope;
};

/// Emits the attention kernel(s) of one plan.
class AttentionEmitter {
public:
  AttentionEmitter(const AttentionOperands &att, const AttentionPlan &p,
                   KernelEmitContext &ctx);

  LogicalResult emit();

private:
  Value c(int64_t v) { return em.constIndex(v); }
  Value f(double v);
  Value negInf();
  Value add(Value x, Value y);
  Value mul(Value x, Value y);
  Value lt(Value x, Value y);
  Value andOpt(Value x, Value y);
  /// `row < rows` and `key < skv` at the call's extents.
  Value rowInBounds(Value row);
  Value keyInBounds(Value key);
  /// Whether the last q tile or KV tile can be partial (always with
  /// run-time extents).
  bool rowsRagged() const {
    return dynamic || att.isVarlen() || s.rows() % p.bm != 0;
  }
  bool keysRagged() const {
    return dynamic || att.isCache() || att.isVarlen() || s.skv % p.bn != 0;
  }
  /// The KV tile starting at key `k0` is about to be loaded: a paged cache
  /// stages the tile's page numbers in shared memory (the block table is
  /// read once per page, only for pages below the sequence's length).
  LogicalResult preparePages(Value k0);
  /// The index of key `j`, column `col` of K or V (emitted where the key is
  /// known to be below the key length: a paged cache reads its page there).
  SmallVector<Value, 4> kvIndex(Value j, Value col, Value k0);
  /// Element (key `j`, column `col`) of K or V (`operand`) of the tile at
  /// `k0`, read only where `cond` holds (0 otherwise; null = always).
  FailureOr<Value> guardedKV(Value operand, Value j, Value col, Value k0,
                             Value cond);
  /// `cond ? value(operand, index) : fallback` without touching memory when
  /// the condition is false (null `cond` = always).
  FailureOr<Value> guardedEmit(Value operand, ArrayRef<Value> index, Value cond,
                               Value fallback);

  // Shared by both paths.
  /// The call's extents; block and thread coordinates; the tile's first row.
  LogicalResult setUpCoordinates();
  /// varlen_attention: the block's sequence's query and key ranges, read
  /// from cu_seqlens and clamped into the packed tensors.
  LogicalResult setUpVarlenSequence();
  /// varlen_attention: `cu[idx]` for each (cu, idx) of `reads` (at most 4),
  /// read once per block through shared memory, as index values.
  FailureOr<SmallVector<Value>>
  loadBoundaries(ArrayRef<std::pair<Value, Value>> reads);
  /// varlen_attention: the blocks of the last batch slice write zeros (through
  /// the epilogue) to the query rows outside every sequence.
  LogicalResult emitVarlenZeros();
  /// The query or result index of (head, position in the block's sequence,
  /// column).
  SmallVector<Value, 4> queryIndex(Value head, Value pos, Value col);
  /// The facts of block-local row `local` (without its ALiBi slope unless
  /// `withSlope`).
  FailureOr<RowInfo> rowInfo(Value local, bool withSlope = true);
  /// The logit of `score` (the raw q.k product) for `row` and key `col`:
  /// scale, soft-cap, ALiBi, mask; -inf for an excluded key.
  FailureOr<Value> maskedLogit(Value score, const RowInfo &row, Value col,
                               Value colValid);
  /// The KV tiles this block visits: causal/window skipping and its split.
  std::pair<Value, Value> kvRange();
  /// The KV loop over [tBegin, tEnd) with K/V tiles loaded by `load` into
  /// pipeline stages (prefetching the next while a tile is used, with 2),
  /// `step` run once per tile.
  FailureOr<SmallVector<Value>>
  kvLoop(Value tBegin, Value tEnd, ValueRange init,
         function_ref<LogicalResult(Value tile, Value stage,
                                    SmallVectorImpl<Value> *tokens)>
             load,
         function_ref<FailureOr<SmallVector<Value>>(Value tile, Value stage,
                                                    ValueRange state)>
             step);
  /// The KV partitions of this launch on `on` (primary or combine): with
  /// runtimeSplits, computed from the call's lengths as the static
  /// heuristic would (1 = no split), else `splits`.
  /// For cache_attention, `keys` is the length of the sequence the block
  /// or row belongs to (each sequence decides for itself).
  Value emitSplitCount(KernelEmitContext &on, Value keys = {});
  /// Stores the results: normalised outputs (`direct`) without split-KV,
  /// partials otherwise; with runtimeSplits, whichever this launch chose.
  LogicalResult storeResults(function_ref<LogicalResult()> direct,
                             function_ref<void()> partials);
  /// Requests the split-KV scratch buffers.
  void requestPartials();
  /// The scratch views of the partial outputs, maxima and sums.
  Value partialOutputs(KernelEmitContext &on);
  Value partialMaxima(KernelEmitContext &on);
  Value partialSums(KernelEmitContext &on);
  /// Writes `value` (the normalised output element of `row`, column `col`)
  /// through the epilogue.
  LogicalResult storeOutput(Value value, const RowInfo &row, Value col);
  /// Writes `value` through the epilogue at result index `idx`.
  LogicalResult storeOutputAt(Value value, ArrayRef<Value> idx);
  /// The auxiliary kernel merging the partials of every split.
  LogicalResult emitCombine();
  /// varlen_attention's kernel body: the zero slice or a sequence's tile.
  LogicalResult emitVarlen();

  // The FMA path (Attention.cpp).
  LogicalResult emitScalar();
  LogicalResult loadQ();
  LogicalResult loadKV(Value kvTile, Value stage);
  FailureOr<SmallVector<Value>> step(Value kvTile, Value stage,
                                     ValueRange state);
  LogicalResult storeOutputs(ArrayRef<Value> l, ArrayRef<Value> o);
  void storePartials(ArrayRef<Value> m, ArrayRef<Value> l, ArrayRef<Value> o);

  // The matrix path (AttentionMma.cpp).
  LogicalResult emitMatrix();
  /// The Q fragments (A operands of S = Q K^T), straight from global memory
  /// through the element emitter: [mTile][k-step].
  FailureOr<SmallVector<Value>> loadQFragments();
  /// Stages K/V tile `kvTile`; with `tokens`, operands that can move with
  /// cp.async do (their copies' tokens appended).
  LogicalResult loadKVTiles(Value kvTile, Value stage,
                            SmallVectorImpl<Value> *tokens);
  /// The cp.async run width of K or V (0: staged through registers).
  int64_t asyncKVWidth(Value operand, int64_t cols, int64_t padded);
  FailureOr<SmallVector<Value>> matrixStep(ArrayRef<Value> qFrags, Value kvTile,
                                           Value stage, ValueRange state);
  LogicalResult storeMatrixOutputs(ArrayRef<Value> l, ArrayRef<Value> o);
  void storeMatrixPartials(ArrayRef<Value> m, ArrayRef<Value> l,
                           ArrayRef<Value> o);

  AttentionOperands att;
  AttentionShape s;
  const AttentionPlan &p;
  KernelEmitContext &ctx;
  ImplicitLocOpBuilder &b;
  ElementalEmitter em;

  // Whether K/V tiles move with cp.async (set by emitMatrix).
  bool asyncKV = false;
  // The kernel takes run-time extents: every row and key is guarded and
  // the extents below are computed from the symbol parameters.
  bool dynamic = false;
  // The call's batch, query length, key length, query rows per kv head and
  // the position of the first query (skv - sq; constants for static
  // shapes). For cache_attention the key length is the block's sequence's
  // (cache_seqlens clamped to the cache's capacity) and the offset uses the
  // unclamped length, as the CPU reference does.
  Value batchExt, sqExt, skvExt, rowsExt, posOffset;
  // varlen_attention: the first packed query and key rows of the block's
  // sequence; the packed totals Tq and Tk; the launch's q tiles (gridDim.x).
  // batchExt is the number of sequences.
  Value qStart, kStart, totalQExt, totalKExt, qTilesExt;
  // Paged caches: the page numbers of the KV tile being loaded.
  Value pageTile;
  // This launch's KV partitions.
  Value numSplits;
  // Block and thread coordinates.
  Value tid, lane, rowGroup, batchIdx, kvHead, rowBase, split;
  // Shared-memory views (FMA path: qTile, kTile, vTile, pTile; matrix path:
  // kTile, vTile and, when P goes through memory, pTile).
  Value qTile, kTile, vTile, pTile;
  igpu::SwizzleAttr kSwizzle, vSwizzle, pSwizzle;
  // FMA path: per owned row a < tm.
  SmallVector<RowInfo> rows;
  // Matrix path: the warp's first row, the lane's rows [mTile][row of the
  // lane in the accumulator layout], and the rows of the layout.
  Value warpRow0;
  SmallVector<RowInfo> laneRows;
  AccumulatorRows accRows;
  // Scratch buffers (split-KV).
  unsigned partO = 0, partM = 0, partL = 0;
};

} // namespace attention
} // namespace iolite
} // namespace mlir

#endif // IOLITE_LIB_CODEGEN_TEMPLATES_ATTENTION_H
