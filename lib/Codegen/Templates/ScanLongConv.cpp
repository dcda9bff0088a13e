//===- ScanLongConv.cpp - Hyena long convolution, tiled direct form -------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Kernels rooted at iolite.long_conv (input [B, C, L], filter [C, K], D [C]):
// y[t] = sum_{s <= t, s < K} filter[s] x[t - s] + D x[t]. One block owns one
// channel and a segment of SEG = threads x R output steps, for every batch.
// The channel's whole filter sits in shared memory (D folded into tap 0, so
// the skip term needs no second read of x); each thread keeps R outputs
// (t = seg0 + tid + r * threads, strided so stores coalesce) as f32
// accumulators in registers; the input is streamed once through a
// shared-memory tile of TS steps, and every staged input step updates all
// accumulators it contributes to.
//
// Global traffic: the filter once per block (once overall when one segment
// covers L: R and the thread count grow with L up to the tuning's limits),
// each input step once per segment that needs it (segments >= 1 re-read the
// K-1 steps before them), the output once: O(L) per channel, never the
// O(L * K) of the one-thread-per-output fallback. Compute stays the direct
// form's O(L * K).
//
//===----------------------------------------------------------------------===//

#include "ScanCommon.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::scan;

namespace {

struct LongConvPlan {
  int64_t batch, channels, length, taps;
  /// Input tile, outputs per thread, threads.
  int64_t ts, r, threads;
  int64_t segment() const { return r * threads; }
};

/// Batch, length and taps may be symbolic: planned at their bounds
/// (`shapes`) or, without them (matching), as 1 and one input tile.
static std::optional<LongConvPlan>
planLongConv(LongConvOp op, const TargetDescription &t,
             const SymbolicShapes *shapes = nullptr) {
  const KernelTuning *tuning = t.getTuning("long_conv");
  if (!tuning || tuning->tile.size() != 2)
    return std::nullopt;
  SmallVector<int64_t> in = shapeAtBounds(op.getInput(), shapes);
  LongConvPlan p;
  p.batch = ShapedType::isDynamic(in[0]) ? 1 : in[0];
  p.channels = in[1];
  p.length = ShapedType::isDynamic(in[2]) ? tuning->tile[0] : in[2];
  p.taps = shapeAtBounds(op.getFilter(), shapes)[1];
  if (ShapedType::isDynamic(p.taps))
    p.taps = p.length;
  if (p.batch <= 0 || p.channels <= 0 || p.length <= 0 || p.taps <= 0)
    return std::nullopt;
  int64_t maxThreads = std::min<int64_t>(t.maxThreadsPerBlock, 1024);
  int64_t rMax = tuning->tile[1];
  // Enough threads (whole warps) that one segment covers L when possible.
  p.threads = std::min<int64_t>(tuning->threads,
                                llvm::alignTo(p.length, (int64_t)t.warpSize));
  if (llvm::divideCeil(p.length, p.threads) > (uint64_t)rMax)
    p.threads = std::min<int64_t>(
        maxThreads,
        llvm::alignTo(llvm::divideCeil(p.length, rMax), (int64_t)t.warpSize));
  p.r = std::min<int64_t>(rMax, llvm::divideCeil(p.length, p.threads));
  p.ts = std::min<int64_t>(tuning->tile[0], llvm::alignTo(p.length, 32));
  // The whole filter row must fit next to the input tile.
  if ((p.taps + p.ts) * 4 > t.sharedMemoryPerBlockOptin)
    return std::nullopt;
  return p;
}

class LongConvTemplate : public KernelTemplate {
public:
  StringRef getName() const override { return "long_conv"; }

  unsigned match(const KernelAnalysis &analysis,
                 const TargetDescription &target) const override {
    auto op = dyn_cast_or_null<LongConvOp>(analysis.hero);
    if (!op || !isEpilogueAtElement(analysis.kernel, op.getResult()))
      return 0;
    return planLongConv(op, target) ? 40 : 0;
  }

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override;

  /// Batch, length and filter taps may be run-time extents (Hyena's
  /// implicit filter is as long as the sequence): the filter's shared
  /// buffer is sized at its bound, the segment grid and the loops follow
  /// the call's sizes. Channels must be static.
  bool supportsDynamicExtents(const KernelAnalysis &analysis) const override {
    auto op = cast<LongConvOp>(analysis.hero);
    return !cast<ShapedType>(op.getInput().getType()).isDynamicDim(1);
  }
};

LogicalResult LongConvTemplate::emit(const KernelAnalysis &analysis,
                                     KernelEmitContext &ctx) const {
  auto op = cast<LongConvOp>(analysis.hero);
  std::optional<LongConvPlan> plan =
      planLongConv(op, ctx.getTarget(), ctx.getSymbolicShapes());
  if (!plan)
    return op.emitOpError("long_conv filter of ")
           << cast<ShapedType>(op.getFilter().getType()).getDimSize(1)
           << " taps (at its bound) does not fit shared memory next to the "
              "input tile on "
           << ctx.getTarget().chip;
  LongConvPlan p = *plan;
  int64_t K = p.taps, seg = p.segment();
  bool dynamic = ctx.hasDynamicExtents();

  SharedMemoryPlan &smem = ctx.getSharedMemoryPlan();
  unsigned fBuf = smem.addBuffer("filter", K * 4, 0, 0);
  unsigned xBuf = smem.addBuffer("input tile", p.ts * 4, 0, 0);
  std::string tileDesc = "filter " + std::to_string(K) + " on chip, " +
                         std::to_string(p.threads) + " threads x " +
                         std::to_string(p.r) + " outputs, input tile " +
                         std::to_string(p.ts);
  if (failed(ctx.finalizeSharedMemory("long conv " + tileDesc)))
    return failure();
  ctx.templateName = "long_conv";
  ctx.tileDescription = tileDesc;
  if (dynamic)
    ctx.setLaunch({GridExtent::constant(p.channels),
                   GridExtent{ctx.getDimExpr(op.getInput(), 2), seg},
                   GridExtent::constant(1)},
                  {p.threads, 1, 1});
  else
    ctx.setLaunch({p.channels, (int64_t)llvm::divideCeil(p.length, seg), 1},
                  {p.threads, 1, 1});

  ImplicitLocOpBuilder &b = ctx.getBuilder();
  ScalarBuilder k{b};
  const DenseMap<Value, Value> &bindings = ctx.getBindings();
  Type f32 = b.getF32Type();
  Value zero = k.f(0.0);
  Value fTile = ctx.getSharedView(fBuf, MemRefType::get({K}, f32));
  Value xTile = ctx.getSharedView(xBuf, MemRefType::get({p.ts}, f32));
  Value tid = ctx.threadId(gpu::Dimension::x);
  Value ch = ctx.blockId(gpu::Dimension::x);
  Value seg0 = k.mul(ctx.blockId(gpu::Dimension::y), k.c(seg));
  ElementalEmitter loops(b, bindings);
  ctx.prepare(loops);
  // The call's sizes: run-time extents when symbolic (K <= its bound).
  Value length = dynamic ? ctx.getExtent(op.getInput(), 2) : k.c(p.length);
  Value batchCount = dynamic ? ctx.getExtent(op.getInput(), 0) : k.c(p.batch);
  Value taps = dynamic ? ctx.getExtent(op.getFilter(), 1) : k.c(K);

  // The filter row, with D folded into tap 0 (zeros past the call's taps).
  {
    ElementalEmitter em(b, bindings);
    ctx.prepare(em);
    if (failed(emitStrided(em, tid, K, p.threads, [&](Value s) {
          FailureOr<Value> f =
              emitGuarded(em, op.getFilter(), {ch, s}, k.lt(s, taps));
          if (failed(f))
            return failure();
          Value v = *f;
          if (op.getD()) {
            FailureOr<Value> d =
                emitGuarded(em, op.getD(), {ch}, k.eq(s, k.c(0)));
            if (failed(d))
              return failure();
            v = k.addf(v, *d);
          }
          k.store(v, fTile, {s});
          return success();
        })))
      return failure();
  }

  // Inputs [sStart, sEnd) feed this segment's outputs.
  Value sStart =
      arith::MaxSIOp::create(b, k.sub(seg0, k.sub(taps, k.c(1))), k.c(0));
  Value sEnd = k.min(k.add(seg0, k.c(seg)), length);
  SmallVector<Value> outPos;
  for (int64_t r = 0; r < p.r; ++r)
    outPos.push_back(k.add(seg0, k.add(tid, k.c(r * p.threads))));

  FailureOr<SmallVector<Value>> batches = loops.forLoop(
      k.c(0), batchCount, k.c(1), {},
      [&](Value bIdx, ValueRange) -> FailureOr<SmallVector<Value>> {
        SmallVector<Value> init(p.r, zero);
        FailureOr<SmallVector<Value>> acc = loops.forLoop(
            sStart, sEnd, k.c(p.ts), init,
            [&](Value s0, ValueRange accIn) -> FailureOr<SmallVector<Value>> {
              Value count = k.min(k.c(p.ts), k.sub(sEnd, s0));
              gpu::BarrierOp::create(b);
              ElementalEmitter em(b, bindings);
              ctx.prepare(em);
              if (failed(emitStrided(em, tid, p.ts, p.threads, [&](Value j) {
                    FailureOr<Value> x =
                        emitGuarded(em, op.getInput(), {bIdx, ch, k.add(s0, j)},
                                    k.lt(j, count));
                    if (failed(x))
                      return failure();
                    k.store(*x, xTile, {j});
                    return success();
                  })))
                return failure();
              gpu::BarrierOp::create(b);
              return loops.forLoop(
                  k.c(0), count, k.c(1), accIn,
                  [&](Value j, ValueRange a) -> FailureOr<SmallVector<Value>> {
                    Value xv = k.load(xTile, {j});
                    Value s = k.add(s0, j);
                    SmallVector<Value> next;
                    for (int64_t r = 0; r < p.r; ++r) {
                      // lag = t - s, a tap when 0 <= lag < K.
                      Value lag = k.sub(outPos[r], s);
                      Value isTap =
                          k.land(arith::CmpIOp::create(
                                     b, arith::CmpIPredicate::sge, lag, k.c(0)),
                                 arith::CmpIOp::create(
                                     b, arith::CmpIPredicate::slt, lag, taps));
                      Value at = arith::MinSIOp::create(
                          b, arith::MaxSIOp::create(b, lag, k.c(0)),
                          k.c(K - 1));
                      Value f = k.select(isTap, k.load(fTile, {at}), zero);
                      next.push_back(k.fma(f, xv, a[r]));
                    }
                    return next;
                  });
            });
        if (failed(acc))
          return failure();
        // Outputs through the epilogue.
        for (int64_t r = 0; r < p.r; ++r) {
          Value t = outPos[r];
          Value ok = k.lt(t, sEnd);
          auto ifOp = scf::IfOp::create(b, ok, false);
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
          SmallVector<Value> at{bIdx, ch, t};
          ElementalEmitter out(b, bindings);
          ctx.prepare(out);
          Value accValue = (*acc)[r];
          out.setSource(op.getResult(),
                        [accValue](ImplicitLocOpBuilder &, ValueRange) {
                          return FailureOr<Value>(accValue);
                        });
          if (failed(emitOutputsAt(ctx, out, op.getResult(), at)))
            return failure();
        }
        return SmallVector<Value>{};
      });
  return failure(failed(batches));
}

} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createLongConvTemplate() {
  return std::make_unique<LongConvTemplate>();
}
