//===- ScanConv1d.cpp - Sliding-window depthwise causal conv1d ------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Kernels whose root is an iolite.conv1d (input [B, C, L], weight [C, K]) with
// no heavy op: the conv is cheap enough to be a prologue of other templates,
// but alone it gets its own kernel instead of the one-thread-per-element
// fallback, which reads every input K times. One block owns CT channels of
// one batch and a segment of NS tiles of TT steps; it slides a window over
// the segment: each tile's inputs are staged in shared memory with t-fastest
// (coalesced) loads, outputs are computed from the window, and the tile's
// last K-1 inputs are moved to the front as the next tile's halo. The
// weights and bias are read once per block.
//
// Global traffic: the input once plus K-1 halo steps per segment and
// channel, the weights once per block, the output once.
//
//===----------------------------------------------------------------------===//

#include "ScanCommon.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::scan;

namespace {

struct ConvPlan {
  int64_t batch, channels, length, taps;
  /// Channels per block, steps per tile, tiles per block, threads.
  int64_t ct, tt, ns, threads;
};

/// The kernel's only conv1d when it has no heavy op and its outputs are
/// pointwise at the conv's index.
static Conv1dOp getRootConv(const KernelAnalysis &analysis) {
  if (!analysis.heavyOps.empty())
    return {};
  Conv1dOp root;
  KernelOp kernel = analysis.kernel;
  for (Operation &op : kernel.getBody().front().without_terminator())
    if (auto conv = dyn_cast<Conv1dOp>(op)) {
      if (root)
        return {};
      root = conv;
    }
  if (!root || !isEpilogueAtElement(kernel, root.getResult()))
    return {};
  return root;
}

/// The plan for `conv`. With run-time extents, tiles are chosen at the
/// bounds (`shapes`); without them (matching), a dynamic batch counts as 1
/// and a dynamic length as long enough for the largest tiles.
static std::optional<ConvPlan>
planConv(Conv1dOp conv, const TargetDescription &target,
         const SymbolicShapes *shapes = nullptr) {
  const KernelTuning *tuning = target.getTuning("conv1d");
  if (!tuning || tuning->tile.size() != 3)
    return std::nullopt;
  auto inType = cast<ShapedType>(conv.getInput().getType());
  SmallVector<int64_t> in(inType.getShape());
  if (shapes && !inType.hasStaticShape())
    in = llvm::to_vector(shapes->getBoundType(conv.getInput()).getShape());
  if (ShapedType::isDynamic(in[0]))
    in[0] = 1;
  if (ShapedType::isDynamic(in[2]))
    in[2] = tuning->tile[1] * tuning->tile[2];
  ConvPlan p;
  p.batch = in[0];
  p.channels = in[1];
  p.length = in[2];
  p.taps = cast<ShapedType>(conv.getWeight().getType()).getShape()[1];
  if (p.batch <= 0 || p.channels <= 0 || p.length <= 0 || p.taps <= 0)
    return std::nullopt;
  p.tt =
      std::min<int64_t>(tuning->tile[1], (int64_t)llvm::PowerOf2Ceil(p.length));
  p.tt = std::max<int64_t>(p.tt, p.taps - 1);
  p.ct = std::min(tuning->tile[0], p.channels);
  p.ns = std::min<int64_t>(tuning->tile[2], llvm::divideCeil(p.length, p.tt));
  p.threads = std::min<int64_t>(
      std::min<int64_t>(tuning->threads, target.maxThreadsPerBlock),
      llvm::alignTo(p.ct * p.tt, target.warpSize));
  int64_t bytes = (p.ct * (p.taps - 1 + p.tt) + p.ct * (p.taps + 1)) * 4;
  if (bytes > target.sharedMemoryPerBlockOptin)
    return std::nullopt;
  return p;
}

class Conv1dTemplate : public KernelTemplate {
public:
  StringRef getName() const override { return "conv1d"; }

  unsigned match(const KernelAnalysis &analysis,
                 const TargetDescription &target) const override {
    Conv1dOp conv = getRootConv(analysis);
    // Above the elementwise template (10), which would take this kernel.
    return conv && planConv(conv, target) ? 15 : 0;
  }

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override;

  /// Batch and length may be run-time extents; channels and taps are static
  /// (they size the tiles).
  bool supportsDynamicExtents(const KernelAnalysis &analysis) const override {
    Conv1dOp conv = getRootConv(analysis);
    auto in = cast<ShapedType>(conv.getInput().getType());
    return !in.isDynamicDim(1) &&
           cast<ShapedType>(conv.getWeight().getType()).hasStaticShape();
  }
};

LogicalResult Conv1dTemplate::emit(const KernelAnalysis &analysis,
                                   KernelEmitContext &ctx) const {
  Conv1dOp conv = getRootConv(analysis);
  ConvPlan p = *planConv(conv, ctx.getTarget(), ctx.getSymbolicShapes());
  int64_t K = p.taps, win = K - 1 + p.tt;

  SharedMemoryPlan &plan = ctx.getSharedMemoryPlan();
  unsigned xBuf = plan.addBuffer("window", p.ct * win * 4, 0, 0);
  unsigned wBuf = plan.addBuffer("weight", p.ct * (K + 1) * 4, 0, 0);
  std::string tileDesc = std::to_string(p.ct) + " channels x " +
                         std::to_string(p.ns) + " tiles of " +
                         std::to_string(p.tt) + " steps, window " +
                         std::to_string(K);
  if (failed(ctx.finalizeSharedMemory("conv1d " + tileDesc)))
    return failure();
  ctx.templateName = "conv1d";
  ctx.tileDescription = tileDesc;
  int64_t segment = p.tt * p.ns;
  // With run-time extents the grid follows the call's batch and length.
  if (ctx.hasDynamicExtents())
    ctx.setLaunch({GridExtent::constant(llvm::divideCeil(p.channels, p.ct)),
                   GridExtent{ctx.getDimExpr(conv.getInput(), 0), 1},
                   GridExtent{ctx.getDimExpr(conv.getInput(), 2), segment}},
                  {p.threads, 1, 1});
  else
    ctx.setLaunch({(int64_t)llvm::divideCeil(p.channels, p.ct), p.batch,
                   (int64_t)llvm::divideCeil(p.length, segment)},
                  {p.threads, 1, 1});

  ImplicitLocOpBuilder &b = ctx.getBuilder();
  ScalarBuilder k{b};
  const DenseMap<Value, Value> &bindings = ctx.getBindings();
  Type f32 = b.getF32Type();
  Value zero = k.f(0.0);
  // The call's sequence length (a constant for static shapes).
  Value length = ctx.hasDynamicExtents() ? ctx.getExtent(conv.getInput(), 2)
                                         : k.c(p.length);
  Value xTile = ctx.getSharedView(xBuf, MemRefType::get({p.ct, win}, f32));
  Value wTile = ctx.getSharedView(wBuf, MemRefType::get({p.ct, K + 1}, f32));

  Value tid = ctx.threadId(gpu::Dimension::x);
  Value c0 = k.mul(ctx.blockId(gpu::Dimension::x), k.c(p.ct));
  Value batch = ctx.blockId(gpu::Dimension::y);
  Value seg0 = k.mul(ctx.blockId(gpu::Dimension::z), k.c(segment));
  auto channelOk = [&](Value local) -> Value {
    if (p.channels % p.ct == 0)
      return Value();
    return k.lt(k.add(c0, local), k.c(p.channels));
  };
  ElementalEmitter loops(b, bindings);
  ctx.prepare(loops);

  // Weights, bias, and the segment's halo: the K-1 inputs before seg0.
  {
    ElementalEmitter em(b, bindings);
    ctx.prepare(em);
    if (failed(emitStrided(em, tid, p.ct * (K + 1), p.threads, [&](Value e) {
          Value cc = k.div(e, k.c(K + 1)), tap = k.rem(e, k.c(K + 1));
          Value ch = k.add(c0, cc);
          Value isTap = k.lt(tap, k.c(K));
          FailureOr<SmallVector<Value>> v = em.ifThenElse(
              isTap, f32,
              [&]() -> FailureOr<SmallVector<Value>> {
                FailureOr<Value> w =
                    emitGuarded(em, conv.getWeight(), {ch, tap}, channelOk(cc));
                if (failed(w))
                  return failure();
                return SmallVector<Value>{*w};
              },
              [&]() -> FailureOr<SmallVector<Value>> {
                if (!conv.getBias())
                  return SmallVector<Value>{zero};
                FailureOr<Value> w =
                    emitGuarded(em, conv.getBias(), {ch}, channelOk(cc));
                if (failed(w))
                  return failure();
                return SmallVector<Value>{*w};
              });
          if (failed(v))
            return failure();
          k.store((*v)[0], wTile, {cc, tap});
          return success();
        })))
      return failure();
    if (K > 1 &&
        failed(emitStrided(em, tid, p.ct * (K - 1), p.threads, [&](Value e) {
          Value cc = k.div(e, k.c(K - 1)), j = k.rem(e, k.c(K - 1));
          // Input step seg0 - (K-1) + j; zero before t = 0.
          Value tPlus = k.add(seg0, j);
          Value ok = k.land(k.le(k.c(K - 1), tPlus), channelOk(cc));
          Value t = arith::MaxSIOp::create(b, k.sub(tPlus, k.c(K - 1)), k.c(0));
          FailureOr<Value> x =
              emitGuarded(em, conv.getInput(), {batch, k.add(c0, cc), t}, ok);
          if (failed(x))
            return failure();
          k.store(*x, xTile, {cc, j});
          return success();
        })))
      return failure();
  }

  // Tiles of this segment that hold any step before L.
  Value numTiles = k.min(
      k.c(p.ns), k.div(k.add(k.sub(length, seg0), k.c(p.tt - 1)), k.c(p.tt)));
  FailureOr<SmallVector<Value>> walk = loops.forLoop(
      k.c(0), numTiles, k.c(1), {},
      [&](Value tile, ValueRange) -> FailureOr<SmallVector<Value>> {
        Value t0 = k.add(seg0, k.mul(tile, k.c(p.tt)));
        gpu::BarrierOp::create(b);
        ElementalEmitter em(b, bindings);
        ctx.prepare(em);
        if (failed(emitStrided(em, tid, p.ct * p.tt, p.threads, [&](Value e) {
              Value cc = k.div(e, k.c(p.tt)), tt = k.rem(e, k.c(p.tt));
              Value t = k.add(t0, tt);
              Value ok = k.land(k.lt(t, length), channelOk(cc));
              FailureOr<Value> x = emitGuarded(em, conv.getInput(),
                                               {batch, k.add(c0, cc), t}, ok);
              if (failed(x))
                return failure();
              k.store(*x, xTile, {cc, k.add(tt, k.c(K - 1))});
              return success();
            })))
          return failure();
        gpu::BarrierOp::create(b);
        if (failed(emitStrided(
                loops, tid, p.ct * p.tt, p.threads,
                [&](Value e) -> LogicalResult {
                  Value cc = k.div(e, k.c(p.tt));
                  Value tt = k.rem(e, k.c(p.tt));
                  Value ch = k.add(c0, cc), t = k.add(t0, tt);
                  Value ok = k.land(k.lt(t, length), channelOk(cc));
                  auto ifOp = scf::IfOp::create(b, ok, false);
                  OpBuilder::InsertionGuard g(b);
                  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
                  SmallVector<Value> at{batch, ch, t};
                  ElementalEmitter out(b, bindings), plain(b, bindings);
                  ctx.prepare(out);
                  ctx.prepare(plain);
                  Value xHere = k.load(xTile, {cc, k.add(tt, k.c(K - 1))});
                  out.setSource(
                      conv.getInput(),
                      [&, xHere, at](ImplicitLocOpBuilder &,
                                     ValueRange idx) -> FailureOr<Value> {
                        if (llvm::equal(idx, at))
                          return xHere;
                        return plain.emit(conv.getInput(), idx);
                      });
                  out.setSource(conv.getResult(),
                                [&, cc, tt](ImplicitLocOpBuilder &,
                                            ValueRange) -> FailureOr<Value> {
                                  Value acc = k.load(wTile, {cc, k.c(K)});
                                  for (int64_t j = 0; j < K; ++j)
                                    acc = k.fma(
                                        k.load(wTile, {cc, k.c(j)}),
                                        k.load(xTile, {cc, k.add(tt, k.c(j))}),
                                        acc);
                                  if (conv.getActivation() == Activation::silu)
                                    acc = k.silu(acc);
                                  return acc;
                                });
                  if (failed(emitOutputsAt(ctx, out, conv.getResult(), at)))
                    return failure();
                  return success();
                })))
          return failure();
        // Slide: the tile's last K-1 inputs become the next tile's halo.
        if (K > 1) {
          gpu::BarrierOp::create(b);
          if (failed(emitStrided(
                  loops, tid, p.ct * (K - 1), p.threads, [&](Value e) {
                    Value cc = k.div(e, k.c(K - 1));
                    Value j = k.rem(e, k.c(K - 1));
                    k.store(k.load(xTile, {cc, k.add(j, k.c(p.tt))}), xTile,
                            {cc, j});
                    return success();
                  })))
            return failure();
        }
        return SmallVector<Value>{};
      });
  return failure(failed(walk));
}

} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createConv1dTemplate() {
  return std::make_unique<Conv1dTemplate>();
}
