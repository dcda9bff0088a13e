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
// iolite.conv1d_with_state (the decode step and chunked prefill of Mamba's
// short conv) is the same kernel over xx = [state, input]: the halo of the
// first segment is the state's K-1 inputs instead of zeros, and the blocks
// of the first segment also store the final state, the last K-1 columns of
// xx (the state's own entries where L < K-1), read straight from the input
// and the state.
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

/// The root of a conv1d kernel: an iolite.conv1d, or an
/// iolite.conv1d_with_state whose `state` holds the K-1 inputs before the
/// chunk and whose `finalState` result is stored by the kernel.
struct RootConv {
  Operation *op = nullptr;
  Value input, weight, bias, state, result, finalState;
  Activation activation = Activation::none;

  explicit operator bool() const { return op != nullptr; }
};

/// The kernel's only conv1d when it has no heavy op, or its hero when that
/// is a conv1d_with_state; its outputs must be pointwise at the conv's
/// index (the final state aside).
static RootConv getRootConv(const KernelAnalysis &analysis) {
  KernelOp kernel = analysis.kernel;
  RootConv root;
  if (auto withState = dyn_cast_or_null<Conv1dWithStateOp>(analysis.hero)) {
    root = {withState,
            withState.getInput(),
            withState.getWeight(),
            withState.getBias(),
            withState.getState(),
            withState.getResult(),
            withState.getFinalState(),
            withState.getActivation()};
  } else {
    if (!analysis.heavyOps.empty())
      return {};
    for (Operation &op : kernel.getBody().front().without_terminator())
      if (auto conv = dyn_cast<Conv1dOp>(op)) {
        if (root)
          return {};
        root = {
            conv,    conv.getInput(),  conv.getWeight(), conv.getBias(),
            Value(), conv.getResult(), Value(),          conv.getActivation()};
      }
  }
  if (!root || !isEpilogueAtElement(kernel, root.result, root.finalState))
    return {};
  return root;
}

/// The plan for `conv`. With run-time extents, tiles are chosen at the
/// bounds (`shapes`); without them (matching), a dynamic batch counts as 1
/// and a dynamic length as long enough for the largest tiles.
static std::optional<ConvPlan>
planConv(const RootConv &conv, const TargetDescription &target,
         const SymbolicShapes *shapes = nullptr) {
  const KernelTuning *tuning = target.getTuning("conv1d");
  if (!tuning || tuning->tile.size() != 3)
    return std::nullopt;
  SmallVector<int64_t> in = shapeAtBounds(conv.input, shapes);
  if (ShapedType::isDynamic(in[0]))
    in[0] = 1;
  if (ShapedType::isDynamic(in[2]))
    in[2] = tuning->tile[1] * tuning->tile[2];
  ConvPlan p;
  p.batch = in[0];
  p.channels = in[1];
  p.length = in[2];
  p.taps = cast<ShapedType>(conv.weight.getType()).getShape()[1];
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
    RootConv conv = getRootConv(analysis);
    // Above the elementwise template (10), which would take this kernel.
    return conv && planConv(conv, target) ? 15 : 0;
  }

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override;

  /// Batch and length may be run-time extents; channels and taps are static
  /// (they size the tiles).
  bool supportsDynamicExtents(const KernelAnalysis &analysis) const override {
    RootConv conv = getRootConv(analysis);
    auto in = cast<ShapedType>(conv.input.getType());
    return !in.isDynamicDim(1) &&
           cast<ShapedType>(conv.weight.getType()).hasStaticShape();
  }
};

LogicalResult Conv1dTemplate::emit(const KernelAnalysis &analysis,
                                   KernelEmitContext &ctx) const {
  RootConv conv = getRootConv(analysis);
  ConvPlan p = *planConv(conv, ctx.getTarget(), ctx.getSymbolicShapes());
  int64_t K = p.taps, win = K - 1 + p.tt;

  SharedMemoryPlan &plan = ctx.getSharedMemoryPlan();
  unsigned xBuf = plan.addBuffer("window", p.ct * win * 4, 0, 0);
  unsigned wBuf = plan.addBuffer("weight", p.ct * (K + 1) * 4, 0, 0);
  std::string tileDesc = std::to_string(p.ct) + " channels x " +
                         std::to_string(p.ns) + " tiles of " +
                         std::to_string(p.tt) + " steps, window " +
                         std::to_string(K);
  if (conv.state)
    tileDesc += ", carried state";
  if (failed(ctx.finalizeSharedMemory("conv1d " + tileDesc)))
    return failure();
  ctx.templateName = "conv1d";
  int64_t segment = p.tt * p.ns;
  // A final state must be stored even for a run-time length of 0, where a
  // grid of ceil(L / segment) segments would have no block: with a
  // run-time length, conv1d_with_state walks the whole sequence in one
  // segment per block (the grid still has C / CT x B blocks).
  bool wholeSequence = conv.finalState && ctx.hasDynamicExtents() &&
                       cast<ShapedType>(conv.input.getType()).isDynamicDim(2);
  if (wholeSequence)
    tileDesc += ", one segment per block";
  ctx.tileDescription = tileDesc;
  // With run-time extents the grid follows the call's batch and length.
  if (ctx.hasDynamicExtents())
    ctx.setLaunch({GridExtent::constant(llvm::divideCeil(p.channels, p.ct)),
                   GridExtent{ctx.getDimExpr(conv.input, 0), 1},
                   wholeSequence
                       ? GridExtent::constant(1)
                       : GridExtent{ctx.getDimExpr(conv.input, 2), segment}},
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
  Value length =
      ctx.hasDynamicExtents() ? ctx.getExtent(conv.input, 2) : k.c(p.length);
  Value xTile = ctx.getSharedView(xBuf, MemRefType::get({p.ct, win}, f32));
  Value wTile = ctx.getSharedView(wBuf, MemRefType::get({p.ct, K + 1}, f32));

  Value tid = ctx.threadId(gpu::Dimension::x);
  Value c0 = k.mul(ctx.blockId(gpu::Dimension::x), k.c(p.ct));
  Value batch = ctx.blockId(gpu::Dimension::y);
  Value seg0 = wholeSequence
                   ? k.c(0)
                   : k.mul(ctx.blockId(gpu::Dimension::z), k.c(segment));
  auto channelOk = [&](Value local) -> Value {
    if (p.channels % p.ct == 0)
      return Value();
    return k.lt(k.add(c0, local), k.c(p.channels));
  };
  // Column `col` of xx = [history, input] for channel `ch`: input step
  // col - (K-1), or before t = 0 the state's column `col` (zero for a plain
  // conv). No load when `ok` is false.
  auto emitHistory = [&](ElementalEmitter &em, Value ch, Value col,
                         Value ok) -> FailureOr<Value> {
    Value inInput = k.le(k.c(K - 1), col);
    Value t = arith::MaxSIOp::create(b, k.sub(col, k.c(K - 1)), k.c(0));
    if (!conv.state)
      return emitGuarded(em, conv.input, {batch, ch, t}, k.land(inInput, ok));
    FailureOr<SmallVector<Value>> v = em.ifThenElse(
        inInput, f32,
        [&]() -> FailureOr<SmallVector<Value>> {
          FailureOr<Value> x = emitGuarded(em, conv.input, {batch, ch, t}, ok);
          if (failed(x))
            return failure();
          return SmallVector<Value>{*x};
        },
        [&]() -> FailureOr<SmallVector<Value>> {
          FailureOr<Value> x =
              emitGuarded(em, conv.state, {batch, ch, col}, ok);
          if (failed(x))
            return failure();
          return SmallVector<Value>{*x};
        });
    if (failed(v))
      return failure();
    return (*v)[0];
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
                    emitGuarded(em, conv.weight, {ch, tap}, channelOk(cc));
                if (failed(w))
                  return failure();
                return SmallVector<Value>{*w};
              },
              [&]() -> FailureOr<SmallVector<Value>> {
                if (!conv.bias)
                  return SmallVector<Value>{zero};
                FailureOr<Value> w =
                    emitGuarded(em, conv.bias, {ch}, channelOk(cc));
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
          // Column seg0 + j of xx = [state, input] (zeros before t = 0
          // without a state).
          FailureOr<Value> x =
              emitHistory(em, k.add(c0, cc), k.add(seg0, j), channelOk(cc));
          if (failed(x))
            return failure();
          k.store(*x, xTile, {cc, j});
          return success();
        })))
      return failure();
  }

  // The final state, the last K-1 columns of xx, from the blocks of the
  // first segment (every call has one: see wholeSequence).
  if (conv.finalState && K > 1) {
    auto first =
        scf::IfOp::create(b, k.eq(ctx.blockId(gpu::Dimension::z), k.c(0)),
                          /*withElseRegion=*/false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(first.thenBlock()->getTerminator());
    ElementalEmitter em(b, bindings);
    ctx.prepare(em);
    if (failed(emitStrided(em, tid, p.ct * (K - 1), p.threads, [&](Value e) {
          Value cc = k.div(e, k.c(K - 1)), j = k.rem(e, k.c(K - 1));
          Value ch = k.add(c0, cc);
          auto store = [&]() -> LogicalResult {
            FailureOr<Value> x = emitHistory(em, ch, k.add(length, j), Value());
            if (failed(x))
              return failure();
            storeStateAt(ctx, conv.finalState, *x, {batch, ch, j});
            return success();
          };
          Value ok = channelOk(cc);
          if (!ok)
            return store();
          auto inside = scf::IfOp::create(b, ok, /*withElseRegion=*/false);
          OpBuilder::InsertionGuard g2(b);
          b.setInsertionPoint(inside.thenBlock()->getTerminator());
          return store();
        })))
      return failure();
  }

  // Tiles of this segment that hold any step before L.
  Value numTiles = k.div(k.add(k.sub(length, seg0), k.c(p.tt - 1)), k.c(p.tt));
  if (!wholeSequence)
    numTiles = k.min(k.c(p.ns), numTiles);
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
              FailureOr<Value> x =
                  emitGuarded(em, conv.input, {batch, k.add(c0, cc), t}, ok);
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
                      conv.input,
                      [&, xHere, at](ImplicitLocOpBuilder &,
                                     ValueRange idx) -> FailureOr<Value> {
                        if (llvm::equal(idx, at))
                          return xHere;
                        return plain.emit(conv.input, idx);
                      });
                  out.setSource(conv.result,
                                [&, cc, tt](ImplicitLocOpBuilder &,
                                            ValueRange) -> FailureOr<Value> {
                                  Value acc = k.load(wTile, {cc, k.c(K)});
                                  for (int64_t j = 0; j < K; ++j)
                                    acc = k.fma(
                                        k.load(wTile, {cc, k.c(j)}),
                                        k.load(xTile, {cc, k.add(tt, k.c(j))}),
                                        acc);
                                  if (conv.activation == Activation::silu)
                                    acc = k.silu(acc);
                                  return acc;
                                });
                  if (failed(emitOutputsAt(ctx, out, conv.result, at,
                                           conv.finalState)))
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
