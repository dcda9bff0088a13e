//===- ScanSelective.cpp - Chunked Mamba-1 selective scan -----------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Kernels rooted at iolite.selective_scan (u, delta, z: [B, D, L]; A: [D, N];
// B, C: [B, N, L]). One block owns one batch and BD channels; each channel's
// N states are split over `slices` adjacent lanes that own S = N / slices
// states each, so the block has BD * slices threads. The block walks the
// sequence chunk by chunk (Tc steps):
//
//   stage   u, delta (+ delta_bias, softplus: computed once per element here)
//           and B, C for the chunk go to shared memory with loads whose
//           fastest index is t (coalesced along the sequence); B and C are
//           loaded once per block and shared by all its channels;
//   scan    every thread runs Tc steps of h = exp(dt A) h + dt B u on its S
//           states, which live in registers (scf.for iter_args) across all
//           chunks and are never written to memory; y = C . h is summed over
//           the slices of a channel with gpu.shuffle xor and put in shared
//           memory;
//   output  y + D u, times silu(z), then the fused epilogue, is written with
//           t fastest (coalesced).
//
// A causal conv1d (+ activation) producing u inside the kernel is computed
// from an input window kept in shared memory: each chunk loads its Tc inputs
// once, and the last K-1 of them stay on chip as the next chunk's halo, so
// the conv's K taps never re-read global memory.
//
// iolite.selective_scan_with_state (Mamba-1's decode step, L = 1, and
// chunked prefill) is the same kernel: each thread loads its S states of the
// initial state h0 [B, D, N] (f32) as the starting value of the registers
// the recurrence carries, and stores them after the last chunk as the final
// state, the kernel's second result; h never touches memory in between.
//
// Global traffic: every input element once, A/D/delta_bias/conv weights once
// per block (per channel, so once overall), B and C once per block (so
// ceil(D / BD) times), y once. BD grows with N (>= 4N channels) so the B/C
// re-reads stay a small fraction: their share of the traffic is at most
// about 2N / (3 or 4 BD). docs/ssm-kernels.md has the model.
//
//===----------------------------------------------------------------------===//

#include "ScanCommon.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::scan;

namespace {

/// The launch shape and tiles of one selective-scan kernel.
struct ScanPlan {
  int64_t batch, channels, length, states;
  /// Channels per block, chunk length, states per thread, lanes per channel.
  int64_t bd, tc, s, slices;
  int64_t threads;
  /// Taps of the fused conv1d prologue on u (0 without one).
  int64_t convTaps = 0;

  int64_t sharedBytes() const {
    int64_t bytes = 3 * bd * (tc + 1) * 4;  // u, dt, y tiles
    bytes += 2 * tc * slices * (s + 1) * 4; // B, C tiles
    bytes += 2 * bd * 4;                    // D, delta_bias per channel
    if (convTaps)
      bytes += bd * (convTaps - 1 + tc) * 4 + bd * (convTaps + 1) * 4;
    return bytes;
  }
};

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<ShapedType>(v.getType()).getShape();
}

/// The root of a selective-scan kernel: an iolite.selective_scan, or an
/// iolite.selective_scan_with_state whose `state` (f32 [B, D, N]) is h
/// before the chunk and whose `finalState` result is h after its last step.
struct ScanRoot {
  Operation *op = nullptr;
  Value u, delta, A, B, C, D, z, deltaBias, state, result, finalState;
  bool deltaSoftplus = false;

  explicit operator bool() const { return op != nullptr; }

  static ScanRoot get(Operation *hero) {
    if (auto s = dyn_cast_or_null<SelectiveScanOp>(hero))
      return {s,
              s.getU(),
              s.getDelta(),
              s.getA(),
              s.getB(),
              s.getC(),
              s.getD(),
              s.getZ(),
              s.getDeltaBias(),
              Value(),
              s.getResult(),
              Value(),
              s.getDeltaSoftplus()};
    if (auto s = dyn_cast_or_null<SelectiveScanWithStateOp>(hero))
      return {s,
              s.getU(),
              s.getDelta(),
              s.getA(),
              s.getB(),
              s.getC(),
              s.getD(),
              s.getZ(),
              s.getDeltaBias(),
              s.getState(),
              s.getResult(),
              s.getFinalState(),
              s.getDeltaSoftplus()};
    return {};
  }
};

/// The plan for `op`. With run-time extents, the chunk is chosen at the
/// bounds (`shapes`); without them (matching), a dynamic batch counts as 1
/// and a dynamic length as long enough for the largest chunk.
static std::optional<ScanPlan>
planScan(const ScanRoot &op, const TargetDescription &target,
         const SymbolicShapes *shapes = nullptr) {
  const KernelTuning *tuning = target.getTuning("selective_scan");
  if (!tuning || tuning->tile.size() != 3)
    return std::nullopt;
  ScanPlan p;
  SmallVector<int64_t> us = shapeAtBounds(op.u, shapes);
  if (ShapedType::isDynamic(us[0]))
    us[0] = 1;
  if (ShapedType::isDynamic(us[2]))
    us[2] = tuning->tile[1];
  p.batch = us[0];
  p.channels = us[1];
  p.length = us[2];
  p.states = shapeOf(op.A)[1];
  if (p.batch <= 0 || p.channels <= 0 || p.length <= 0 || p.states <= 0)
    return std::nullopt;
  int64_t warp = target.warpSize;
  int64_t maxStates = tuning->tile[2];
  // Lanes per channel: a power of two (xor shuffles stay in the group).
  p.slices = 1;
  while (p.slices <= warp &&
         (p.states % p.slices != 0 || p.states / p.slices > maxStates))
    p.slices *= 2;
  if (p.slices > warp)
    return std::nullopt;
  p.s = p.states / p.slices;
  int64_t maxThreads =
      std::min<int64_t>(tuning->threads, target.maxThreadsPerBlock);
  // Channels per block: at least the tuning's, and >= 4N so B/C re-reads
  // stay below ~1/8 of the traffic; whole warps; no more than D needs.
  int64_t unit = std::max<int64_t>(1, warp / p.slices);
  p.bd = (int64_t)llvm::PowerOf2Ceil(std::max(tuning->tile[0], 4 * p.states));
  p.bd = std::min(p.bd, maxThreads / p.slices);
  p.bd = std::min<int64_t>(p.bd, llvm::alignTo(p.channels, unit));
  p.bd = llvm::alignTo(p.bd, unit);
  p.threads = p.bd * p.slices;
  if (p.threads > maxThreads || p.bd <= 0)
    return std::nullopt;
  if (Conv1dOp conv = findConvPrologue(op.u))
    p.convTaps = shapeOf(conv.getWeight())[1];
  // The tuning's chunk, or the whole sequence rounded up when shorter (a
  // decode step of selective_scan_with_state, L = 1, is a chunk of 1:
  // staging more steps would only run guarded loads of nothing).
  p.tc =
      std::min<int64_t>(tuning->tile[1], (int64_t)llvm::PowerOf2Ceil(p.length));
  // Halve the chunk while the tiles need opt-in shared memory, but not
  // below 8 steps, where a channel's row is under one 32-byte sector:
  // rather opt in to more shared memory than shrink further.
  int64_t minChunk = std::max<int64_t>(8, p.convTaps - 1);
  while (p.sharedBytes() > target.sharedMemoryPerBlock && p.tc / 2 >= minChunk)
    p.tc /= 2;
  // The halo copy needs a chunk at least K-1 long; else no conv fusion.
  if (p.convTaps && p.tc < p.convTaps - 1)
    p.convTaps = 0;
  return p;
}

class SelectiveScanTemplate : public KernelTemplate {
public:
  StringRef getName() const override { return "selective_scan"; }

  unsigned match(const KernelAnalysis &analysis,
                 const TargetDescription &target) const override {
    ScanRoot op = ScanRoot::get(analysis.hero);
    if (!op || !isEpilogueAtElement(analysis.kernel, op.result, op.finalState))
      return 0;
    return planScan(op, target) ? 40 : 0;
  }

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override;

  /// Batch and sequence length may be run-time extents (the chunk loop and
  /// the grid follow them); channels and states size the tiles and must be
  /// static.
  bool supportsDynamicExtents(const KernelAnalysis &analysis) const override {
    ScanRoot op = ScanRoot::get(analysis.hero);
    auto u = cast<ShapedType>(op.u.getType());
    if (u.isDynamicDim(1) || !cast<ShapedType>(op.A.getType()).hasStaticShape())
      return false;
    if (Conv1dOp conv = findConvPrologue(op.u))
      return cast<ShapedType>(conv.getWeight().getType()).hasStaticShape();
    return true;
  }
};

LogicalResult SelectiveScanTemplate::emit(const KernelAnalysis &analysis,
                                          KernelEmitContext &ctx) const {
  ScanRoot op = ScanRoot::get(analysis.hero);
  const TargetDescription &target = ctx.getTarget();
  ScanPlan p = *planScan(op, target, ctx.getSymbolicShapes());
  Conv1dOp conv = p.convTaps ? findConvPrologue(op.u) : Conv1dOp();
  int64_t K = p.convTaps;

  // Shared memory: everything is live for the whole kernel.
  SharedMemoryPlan &plan = ctx.getSharedMemoryPlan();
  int64_t row = p.tc + 1; // padded: lanes of one warp hit distinct banks
  unsigned uBuf = plan.addBuffer("u", p.bd * row * 4, 0, 0);
  unsigned dtBuf = plan.addBuffer("dt", p.bd * row * 4, 0, 0);
  unsigned yBuf = plan.addBuffer("y", p.bd * row * 4, 0, 0);
  unsigned bBuf = plan.addBuffer("B", p.tc * p.slices * (p.s + 1) * 4, 0, 0);
  unsigned cBuf = plan.addBuffer("C", p.tc * p.slices * (p.s + 1) * 4, 0, 0);
  unsigned skipBuf = plan.addBuffer("D", p.bd * 4, 0, 0);
  unsigned biasBuf = plan.addBuffer("delta_bias", p.bd * 4, 0, 0);
  unsigned xBuf = 0, wBuf = 0;
  if (conv) {
    xBuf = plan.addBuffer("conv window", p.bd * (K - 1 + p.tc) * 4, 0, 0);
    wBuf = plan.addBuffer("conv weight", p.bd * (K + 1) * 4, 0, 0);
  }
  std::string tileDesc = std::to_string(p.bd) + " channels x " +
                         std::to_string(p.slices) + " lanes of " +
                         std::to_string(p.s) + " states, chunk " +
                         std::to_string(p.tc);
  if (conv)
    tileDesc += ", conv1d window " + std::to_string(K);
  if (op.state)
    tileDesc += ", carried state";
  if (failed(ctx.finalizeSharedMemory("selective scan " + tileDesc)))
    return failure();
  ctx.templateName = "selective_scan";
  ctx.tileDescription = tileDesc;
  bool dynamic = ctx.hasDynamicExtents();
  if (dynamic)
    ctx.setLaunch({GridExtent::constant(llvm::divideCeil(p.channels, p.bd)),
                   GridExtent{ctx.getDimExpr(op.u, 0), 1},
                   GridExtent::constant(1)},
                  {p.threads, 1, 1});
  else
    ctx.setLaunch({(int64_t)llvm::divideCeil(p.channels, p.bd), p.batch, 1},
                  {p.threads, 1, 1});

  ImplicitLocOpBuilder &b = ctx.getBuilder();
  ScalarBuilder k{b};
  const DenseMap<Value, Value> &bindings = ctx.getBindings();
  Type f32 = b.getF32Type();
  Value zero = k.f(0.0);
  // The call's sequence length (a constant for static shapes).
  Value length = dynamic ? ctx.getExtent(op.u, 2) : k.c(p.length);
  auto view = [&](unsigned id, ArrayRef<int64_t> shape) {
    return ctx.getSharedView(id, MemRefType::get(shape, f32));
  };
  Value uTile = view(uBuf, {p.bd, row});
  Value dtTile = view(dtBuf, {p.bd, row});
  Value yTile = view(yBuf, {p.bd, row});
  Value bTile = view(bBuf, {p.tc, p.slices, p.s + 1});
  Value cTile = view(cBuf, {p.tc, p.slices, p.s + 1});
  Value skipTile = view(skipBuf, {p.bd});
  Value biasTile = view(biasBuf, {p.bd});
  Value xTile, wTile;
  if (conv) {
    xTile = view(xBuf, {p.bd, K - 1 + p.tc});
    wTile = view(wBuf, {p.bd, K + 1}); // taps, then the conv bias
  }

  Value tid = ctx.threadId(gpu::Dimension::x);
  Value batch = ctx.blockId(gpu::Dimension::y);
  Value d0 = k.mul(ctx.blockId(gpu::Dimension::x), k.c(p.bd));
  Value myChannel = k.div(tid, k.c(p.slices));
  Value mySlice = k.rem(tid, k.c(p.slices));
  bool raggedChannels = p.channels % p.bd != 0;
  // ch < D, or null when every block is full.
  // First channel (or state) of the block along an operand's middle dim.
  Value zeroIndex = k.c(0);
  auto rowBase = [&](Value operand) {
    return operand == op.B || operand == op.C ? zeroIndex : d0;
  };
  auto channelOk = [&](Value local) -> Value {
    if (!raggedChannels)
      return Value();
    return k.lt(k.add(d0, local), k.c(p.channels));
  };

  // Per-channel constants, read once per block.
  {
    ElementalEmitter em(b, bindings);
    ctx.prepare(em);
    if (failed(emitStrided(em, tid, p.bd, p.threads, [&](Value e) {
          Value ch = k.add(d0, e);
          Value ok = channelOk(e);
          if (op.D) {
            FailureOr<Value> v = emitGuarded(em, op.D, {ch}, ok);
            if (failed(v))
              return failure();
            k.store(*v, skipTile, {e});
          }
          if (op.deltaBias) {
            FailureOr<Value> v = emitGuarded(em, op.deltaBias, {ch}, ok);
            if (failed(v))
              return failure();
            k.store(*v, biasTile, {e});
          }
          if (conv) {
            for (int64_t j = 0; j < K - 1; ++j)
              k.store(zero, xTile, {e, k.c(j)}); // zeros before t = 0
            Value bias = zero;
            if (conv.getBias()) {
              FailureOr<Value> v = emitGuarded(em, conv.getBias(), {ch}, ok);
              if (failed(v))
                return failure();
              bias = *v;
            }
            k.store(bias, wTile, {e, k.c(K)});
          }
          return success();
        })))
      return failure();
    if (conv && failed(emitStrided(em, tid, p.bd * K, p.threads, [&](Value e) {
          Value cc = k.div(e, k.c(K)), tap = k.rem(e, k.c(K));
          FailureOr<Value> v = emitGuarded(em, conv.getWeight(),
                                           {k.add(d0, cc), tap}, channelOk(cc));
          if (failed(v))
            return failure();
          k.store(*v, wTile, {cc, tap});
          return success();
        })))
      return failure();
  }

  // This thread's slice of A, in registers for the whole kernel.
  SmallVector<Value> aRegs;
  {
    ElementalEmitter em(b, bindings);
    ctx.prepare(em);
    Value ch = k.add(d0, myChannel);
    Value n0 = k.mul(mySlice, k.c(p.s));
    for (int64_t j = 0; j < p.s; ++j) {
      FailureOr<Value> v =
          emitGuarded(em, op.A, {ch, k.add(n0, k.c(j))}, channelOk(myChannel));
      if (failed(v))
        return failure();
      aRegs.push_back(*v);
    }
  }

  // ceil(L / Tc) chunks; the last one may be partial (`valid` steps).
  Value numChunks = dynamic ? k.div(k.add(length, k.c(p.tc - 1)), k.c(p.tc))
                            : k.c((int64_t)llvm::divideCeil(p.length, p.tc));
  // h before the first step: zeros, or this thread's S states of the
  // carried state (f32 [B, D, N]), loaded once and kept in registers. They
  // are contiguous: runs of `stateRun` states load (and are stored) as one
  // vector each, aligned because N is a multiple of S.
  SmallVector<Value> hInit(p.s, zero);
  Value myCh = k.add(d0, myChannel), myN0 = k.mul(mySlice, k.c(p.s));
  int64_t stateRun =
      std::min<int64_t>(p.s, std::max<int64_t>(1, target.maxVectorBytes / 4));
  if (op.state) {
    ElementalEmitter em(b, bindings);
    ctx.prepare(em);
    em.setBufferAlignment(target.maxVectorBytes);
    for (int64_t j = 0; j < p.s; j += stateRun) {
      SmallVector<Value> at{batch, myCh, k.add(myN0, k.c(j))};
      auto load = [&]() -> FailureOr<SmallVector<Value>> {
        return em.emitRun(op.state, at, stateRun);
      };
      FailureOr<SmallVector<Value>> v;
      if (Value ok = channelOk(myChannel))
        v = em.ifThenElse(ok, SmallVector<Type>(stateRun, f32), load,
                          [&]() -> FailureOr<SmallVector<Value>> {
                            return SmallVector<Value>(stateRun, zero);
                          });
      else
        v = load();
      if (failed(v))
        return failure();
      for (int64_t r = 0; r < stateRun; ++r)
        hInit[j + r] = (*v)[r];
    }
  }
  ElementalEmitter loops(b, bindings);
  ctx.prepare(loops);
  FailureOr<SmallVector<Value>> final = loops.forLoop(
      k.c(0), numChunks, k.c(1), hInit,
      [&](Value chunk, ValueRange h) -> FailureOr<SmallVector<Value>> {
        Value t0 = k.mul(chunk, k.c(p.tc));
        Value valid = k.min(k.c(p.tc), k.sub(length, t0));
        // The previous chunk's output pass (and halo copy) is done.
        gpu::BarrierOp::create(b);

        // Stage dt and u (or the conv inputs) for BD channels x Tc steps,
        // and B and C (once per block, shared by all its channels). Each
        // operand's loop walks the index that is contiguous in its source
        // fastest: t for [B, X, L] tensors, the channel/state index when the
        // operand is a transpose of a sequence-major [B, L, X] tensor.
        ElementalEmitter em(b, bindings);
        ctx.prepare(em);
        auto stage = [&](Value operand, int64_t rows,
                         function_ref<Value(Value)> rowOk,
                         function_ref<LogicalResult(Value row, Value tt,
                                                    Value ok, Value v)>
                             store) -> LogicalResult {
          bool rowFastest = isTransposedFromSequenceMajor(operand);
          return emitStrided(em, tid, rows * p.tc, p.threads, [&](Value e) {
            Value row = rowFastest ? k.rem(e, k.c(rows)) : k.div(e, k.c(p.tc));
            Value tt = rowFastest ? k.div(e, k.c(rows)) : k.rem(e, k.c(p.tc));
            Value ok = k.land(k.lt(tt, valid), rowOk(row));
            FailureOr<Value> v = emitGuarded(
                em, operand,
                {batch, k.add(rowBase(operand), row), k.add(t0, tt)}, ok);
            if (failed(v))
              return failure();
            return store(row, tt, ok, *v);
          });
        };
        auto noCheck = [](Value) { return Value(); };
        if (failed(stage(op.delta, p.bd, channelOk,
                         [&](Value cc, Value tt, Value ok, Value dtv) {
                           if (op.deltaBias)
                             dtv = k.addf(dtv, k.load(biasTile, {cc}));
                           if (op.deltaSoftplus)
                             dtv = k.softplus(dtv);
                           k.store(k.select(ok, dtv, zero), dtTile, {cc, tt});
                           return success();
                         })) ||
            failed(stage(conv ? conv.getInput() : op.u, p.bd, channelOk,
                         [&](Value cc, Value tt, Value, Value x) {
                           if (conv)
                             k.store(x, xTile, {cc, k.add(tt, k.c(K - 1))});
                           else
                             k.store(x, uTile, {cc, tt});
                           return success();
                         })))
          return failure();
        for (auto [operand, tile] :
             {std::pair{op.B, bTile}, std::pair{op.C, cTile}}) {
          Value dst = tile;
          if (failed(stage(operand, p.states, noCheck,
                           [&](Value n, Value tt, Value, Value v) {
                             k.store(
                                 v, dst,
                                 {tt, k.div(n, k.c(p.s)), k.rem(n, k.c(p.s))});
                             return success();
                           })))
            return failure();
        }
        gpu::BarrierOp::create(b);

        // The conv1d prologue from the window: u = act(conv(x)) on chip.
        if (conv) {
          ElementalEmitter cem(b, bindings);
          ctx.prepare(cem);
          if (failed(
                  emitStrided(cem, tid, p.bd * p.tc, p.threads, [&](Value e) {
                    Value cc = k.div(e, k.c(p.tc)), tt = k.rem(e, k.c(p.tc));
                    Value ch = k.add(d0, cc), t = k.add(t0, tt);
                    cem.setSource(
                        conv.getResult(),
                        [&, cc, tt](ImplicitLocOpBuilder &,
                                    ValueRange) -> FailureOr<Value> {
                          Value acc = k.load(wTile, {cc, k.c(K)});
                          for (int64_t j = 0; j < K; ++j)
                            acc = k.fma(k.load(wTile, {cc, k.c(j)}),
                                        k.load(xTile, {cc, k.add(tt, k.c(j))}),
                                        acc);
                          if (conv.getActivation() == Activation::silu)
                            acc = k.silu(acc);
                          return acc;
                        });
                    Value ok = k.land(k.lt(tt, valid), channelOk(cc));
                    FailureOr<Value> u =
                        emitGuarded(cem, op.u, {batch, ch, t}, ok);
                    if (failed(u))
                      return failure();
                    k.store(*u, uTile, {cc, tt});
                    return success();
                  })))
            return failure();
          gpu::BarrierOp::create(b);
        }

        // The recurrence: S states per thread, in registers.
        Value n0Slice = mySlice;
        FailureOr<SmallVector<Value>> hOut = loops.forLoop(
            k.c(0), valid, k.c(1), h,
            [&](Value t, ValueRange hs) -> FailureOr<SmallVector<Value>> {
              Value dt = k.load(dtTile, {myChannel, t});
              Value du = k.mulf(dt, k.load(uTile, {myChannel, t}));
              SmallVector<Value> next;
              Value y = zero;
              for (int64_t j = 0; j < p.s; ++j) {
                Value bv = k.load(bTile, {t, n0Slice, k.c(j)});
                Value cv = k.load(cTile, {t, n0Slice, k.c(j)});
                Value decay = k.exp(k.mulf(dt, aRegs[j]));
                Value hj = k.fma(decay, hs[j], k.mulf(du, bv));
                next.push_back(hj);
                y = k.fma(cv, hj, y);
              }
              if (p.slices > 1) {
                y = emitGroupAllReduceSum(b, y, p.slices, target.warpSize);
                auto ifOp = scf::IfOp::create(b, k.eq(mySlice, k.c(0)), false);
                OpBuilder::InsertionGuard g(b);
                b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
                k.store(y, yTile, {myChannel, t});
              } else {
                k.store(y, yTile, {myChannel, t});
              }
              return next;
            });
        if (failed(hOut))
          return failure();
        gpu::BarrierOp::create(b);

        // Output: y + D u, times silu(z), through the epilogue; t fastest.
        if (failed(emitStrided(
                loops, tid, p.bd * p.tc, p.threads,
                [&](Value e) -> LogicalResult {
                  Value cc = k.div(e, k.c(p.tc)), tt = k.rem(e, k.c(p.tc));
                  Value ch = k.add(d0, cc), t = k.add(t0, tt);
                  Value ok = k.land(k.lt(tt, valid), channelOk(cc));
                  auto ifOp = scf::IfOp::create(b, ok, false);
                  OpBuilder::InsertionGuard g(b);
                  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
                  SmallVector<Value> at{batch, ch, t};
                  ElementalEmitter out(b, bindings);
                  ElementalEmitter plain(b, bindings);
                  ctx.prepare(out);
                  ctx.prepare(plain);
                  // u at this element is on chip; elsewhere recompute it.
                  Value uOnChip = k.load(uTile, {cc, tt});
                  out.setSource(
                      op.u,
                      [&, uOnChip, at](ImplicitLocOpBuilder &,
                                       ValueRange idx) -> FailureOr<Value> {
                        if (llvm::equal(idx, at))
                          return uOnChip;
                        return plain.emit(op.u, idx);
                      });
                  out.setSource(
                      op.result,
                      [&, cc, tt, at, uOnChip](ImplicitLocOpBuilder &,
                                               ValueRange) -> FailureOr<Value> {
                        Value y = k.load(yTile, {cc, tt});
                        if (op.D)
                          y = k.fma(k.load(skipTile, {cc}), uOnChip, y);
                        if (op.z) {
                          FailureOr<Value> z = out.emit(op.z, at);
                          if (failed(z))
                            return failure();
                          y = k.mulf(y, k.silu(*z));
                        }
                        return y;
                      });
                  if (failed(emitOutputsAt(ctx, out, op.result, at,
                                           op.finalState)))
                    return failure();
                  return success();
                })))
          return failure();
        // Keep the chunk's last K-1 conv inputs as the next chunk's halo.
        if (conv && K > 1 &&
            failed(emitStrided(
                loops, tid, p.bd * (K - 1), p.threads, [&](Value e) {
                  Value cc = k.div(e, k.c(K - 1));
                  Value j = k.rem(e, k.c(K - 1));
                  Value v = k.load(xTile, {cc, k.add(j, k.c(p.tc))});
                  k.store(v, xTile, {cc, j});
                  return success();
                })))
          return failure();
        return SmallVector<Value>(*hOut);
      });
  if (failed(final))
    return failure();

  // The final state: h after the last step, from the registers it lived in.
  if (op.finalState) {
    auto store = [&]() {
      ElementalEmitter em(b, bindings);
      ctx.prepare(em);
      for (int64_t j = 0; j < p.s; j += stateRun)
        storeStateAt(ctx, op.finalState,
                     ArrayRef<Value>(*final).slice(j, stateRun),
                     {batch, myCh, k.add(myN0, k.c(j))}, em);
    };
    if (Value ok = channelOk(myChannel)) {
      auto ifOp = scf::IfOp::create(b, ok, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      store();
    } else {
      store();
    }
  }
  return success();
}

} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createSelectiveScanTemplate() {
  return std::make_unique<SelectiveScanTemplate>();
}
