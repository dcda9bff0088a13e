//===- SsdChunked.cpp - Chunked Mamba-2 state-space dual (SSD) ------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Kernels rooted at iolite.ssd (x: [B, L, H, P], dt: [B, L, H], A, D,
// dt_bias: [H], B and C: [B, L, G, N]). One block owns one batch and HB heads
// of one B/C group and walks the sequence in chunks of Q steps with the
// chunked SSD algorithm of Mamba-2 (ssd_combined: chunk cumsum, chunk state,
// state passing and chunk scan) fused into one kernel:
//
//   per chunk    stage B and C [Q, N] once for the HB heads (shared by the
//                group) and CB = C B^T [Q, Q];
//   per head     stage x [Q, P] and dt (+ dt_bias, softplus); cs = inclusive
//                cumsum of dt * A; M[t, s] = CB[t, s] exp(cs[t] - cs[s]) dt[s]
//                for s <= t (else 0);
//                y = M x + diag(exp(cs)) C H^T (+ D x, epilogue), written
//                straight from registers;
//                H = exp(cs[Q-1]) H + (x * w)^T B with
//                w[s] = exp(cs[Q-1] - cs[s]) dt[s].
//
// Each head's state H [P, N] is the f32 accumulator of the last product: it
// stays in registers across all chunks (scf.for iter_args) and only passes
// through shared memory (as the operand of C H^T); no chunk state goes to
// global memory. All four products are register-tiled block matmuls over
// shared-memory operands whose multiply-accumulate is the framework's
// emitTileMultiplyAccumulate.
//
// When x, B or C is the output of a causal conv1d (+ SiLU) reached through
// data movement that keeps the time axis (Mamba-2's conv over xBC, then
// transpose / slice / reshape), the chunk stages the conv's raw inputs (the
// chunk plus K-1 earlier steps) and computes the conv on chip from them, with
// the conv weights read once per block: each input is loaded once per chunk
// plus a (K-1)/Q halo, instead of K times.
//
// Global traffic: x, dt and y once; B and C once per block, i.e. H / (G HB)
// times each. Q is the op's chunk_size, capped by the target's tuning and
// halved until the tiles fit the target's shared memory (the result does
// not depend on it).
//
//===----------------------------------------------------------------------===//

#include "ScanCommon.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::scan;

namespace {

/// A conv1d prologue of one SSD operand, computed on chip from raw inputs.
struct ConvPrologue {
  Conv1dOp conv;
  int64_t taps = 0;
};

struct SsdPlan {
  int64_t batch, length, heads, headDim, groups, states;
  /// Chunk length, heads per block, threads per block.
  int64_t q, hb, threads;
  RegisterTile cb, y, h;
  /// conv1d prologues of x, B and C (taps = 0: none).
  ConvPrologue xConv, bConv, cConv;
};

/// Shared-memory buffer ids of one SSD kernel.
struct SsdBuffers {
  unsigned b, c, cb, m, x, h, vecs, consts;
  unsigned rawX = 0, rawB = 0, rawC = 0, wX = 0, wB = 0, wC = 0;
};

/// Declares the kernel's buffers with the phases of one chunk in which each
/// is live (per chunk: 0 raw B/C staged, 1 B/C computed, then per head
/// 2 x (or its raw conv inputs), dt and H^T staged, 3 x computed from raw
/// inputs, 4 cs, 5 M and w, 6 products). Buffers that live across the head
/// loop span 1..6.
static SsdBuffers declareBuffers(const SsdPlan &p, SharedMemoryPlan &plan) {
  int64_t q = p.q, n = p.states, hp = p.headDim;
  SsdBuffers ids;
  ids.b = plan.addBuffer("B", q * (n + 1) * 4, 1, 6);
  ids.c = plan.addBuffer("C", q * (n + 1) * 4, 1, 6);
  ids.cb = plan.addBuffer("CB", q * q * 4, 1, 6);
  ids.m = plan.addBuffer("M", q * q * 4, 5, 6);
  ids.x = plan.addBuffer("x", q * hp * 4, 2, 6);
  ids.h = plan.addBuffer("H^T", n * (hp + 1) * 4, 2, 6);
  ids.vecs = plan.addBuffer("dt/cs", 4 * q * 4, 2, 6);
  ids.consts = plan.addBuffer("head constants", 3 * p.hb * 4, 0, 6);
  auto raw = [&](const ConvPrologue &c, StringRef name, int64_t width,
                 unsigned first, unsigned last) {
    return plan.addBuffer(name, (c.taps - 1 + q) * width * 4, first, last);
  };
  auto weights = [&](const ConvPrologue &c, StringRef name, int64_t rows) {
    return plan.addBuffer(name, rows * (c.taps + 1) * 4, 0, 6);
  };
  if (p.xConv.taps) {
    ids.rawX = raw(p.xConv, "x conv inputs", hp, 2, 3);
    ids.wX = weights(p.xConv, "x conv weights", p.hb * hp);
  }
  if (p.bConv.taps) {
    ids.rawB = raw(p.bConv, "B conv inputs", n, 0, 1);
    ids.wB = weights(p.bConv, "B conv weights", n);
  }
  if (p.cConv.taps) {
    ids.rawC = raw(p.cConv, "C conv inputs", n, 0, 1);
    ids.wC = weights(p.cConv, "C conv weights", n);
  }
  return ids;
}

static int64_t sharedBytes(const SsdPlan &p) {
  SharedMemoryPlan plan;
  declareBuffers(p, plan);
  return plan.place();
}

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<ShapedType>(v.getType()).getShape();
}

/// The conv1d whose output `operand` ([B, L, *, W]) is, through transposes,
/// slices and reshapes that keep the time axis whole (operand dim 1 is conv
/// dim 2, unsliced): then staging the operand at steps [t0, t0 + Q) can
/// compute the conv from its inputs at [t0 - K + 1, t0 + Q).
static ConvPrologue findTimePreservingConv(Value operand) {
  int64_t d = 1;
  Value v = operand;
  while (Operation *op = v.getDefiningOp()) {
    if (auto conv = dyn_cast<Conv1dOp>(op)) {
      if (d != 2)
        return {};
      return {conv, shapeOf(conv.getWeight())[1]};
    }
    if (auto t = dyn_cast<TransposeOp>(op)) {
      d = t.getPermutation()[d];
      v = t.getInput();
      continue;
    }
    if (auto sl = dyn_cast<SliceOp>(op)) {
      std::optional<ArrayRef<int64_t>> strides = sl.getStrides();
      if (sl.getStarts()[d] != 0 || (strides && (*strides)[d] != 1) ||
          sl.getLimits()[d] != shapeOf(sl.getInput())[d])
        return {};
      v = sl.getInput();
      continue;
    }
    if (auto r = dyn_cast<ReshapeOp>(op)) {
      // Dim d survives when the dims before it hold the same number of
      // elements on both sides and it has the same size.
      ArrayRef<int64_t> out = shapeOf(r.getResult()),
                        in = shapeOf(r.getInput());
      int64_t before = 1;
      for (int64_t i = 0; i < d; ++i)
        before *= out[i];
      int64_t prefix = 1, found = -1;
      for (int64_t i = 0; i < static_cast<int64_t>(in.size()); ++i) {
        if (prefix == before && in[i] == out[d]) {
          found = i;
          break;
        }
        prefix *= in[i];
      }
      if (found < 0)
        return {};
      d = found;
      v = r.getInput();
      continue;
    }
    return {};
  }
  return {};
}

static std::optional<SsdPlan> planSsd(SsdOp op,
                                      const TargetDescription &target) {
  const KernelTuning *tuning = target.getTuning("ssd");
  if (!tuning || tuning->tile.size() != 3)
    return std::nullopt;
  SsdPlan p;
  ArrayRef<int64_t> xs = shapeOf(op.getX());
  p.batch = xs[0];
  p.length = xs[1];
  p.heads = xs[2];
  p.headDim = xs[3];
  p.groups = shapeOf(op.getB())[2];
  p.states = shapeOf(op.getB())[3];
  if (p.batch <= 0 || p.length <= 0 || p.heads <= 0 || p.headDim <= 0 ||
      p.states <= 0 || p.groups <= 0 || p.heads % p.groups)
    return std::nullopt;
  p.threads = std::min<int64_t>(tuning->threads, target.maxThreadsPerBlock);
  p.q = std::min<int64_t>({static_cast<int64_t>(op.getChunkSize()),
                           tuning->tile[0],
                           (int64_t)llvm::PowerOf2Ceil(p.length)});
  p.q = std::max<int64_t>(p.q, 1);
  p.h = RegisterTile::choose(p.headDim, p.states, p.threads);
  int64_t stateRegs = p.h.tm * p.h.tn;
  int64_t perGroup = p.heads / p.groups;
  p.hb = 1;
  for (int64_t c = 2; c <= std::min(perGroup, tuning->tile[1]); ++c)
    if (perGroup % c == 0 && c * stateRegs <= tuning->tile[2])
      p.hb = c;
  p.xConv = findTimePreservingConv(op.getX());
  p.bConv = findTimePreservingConv(op.getB());
  p.cConv = findTimePreservingConv(op.getC());
  while (sharedBytes(p) > target.sharedMemoryPerBlockOptin && p.q > 1)
    p.q /= 2;
  p.cb = RegisterTile::choose(p.q, p.q, p.threads);
  p.y = RegisterTile::choose(p.q, p.headDim, p.threads);
  return p;
}

class SsdTemplate : public KernelTemplate {
public:
  StringRef getName() const override { return "ssd"; }

  unsigned match(const KernelAnalysis &analysis,
                 const TargetDescription &target) const override {
    auto op = dyn_cast_or_null<SsdOp>(analysis.hero);
    if (!op || !isEpilogueAtElement(analysis.kernel, op.getResult()))
      return 0;
    return planSsd(op, target) ? 40 : 0;
  }

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override;
};

LogicalResult SsdTemplate::emit(const KernelAnalysis &analysis,
                                KernelEmitContext &ctx) const {
  auto op = cast<SsdOp>(analysis.hero);
  const TargetDescription &target = ctx.getTarget();
  SsdPlan p = *planSsd(op, target);
  int64_t q = p.q, n = p.states, hp = p.headDim, hb = p.hb;

  SsdBuffers ids = declareBuffers(p, ctx.getSharedMemoryPlan());
  std::string tileDesc = "chunk " + std::to_string(q) + ", " +
                         std::to_string(hb) + " head(s) per block, state " +
                         std::to_string(hp) + "x" + std::to_string(n) +
                         " in registers";
  if (p.xConv.taps || p.bConv.taps || p.cConv.taps)
    tileDesc += ", conv1d prologue on chip";
  if (failed(ctx.finalizeSharedMemory("ssd " + tileDesc)))
    return failure();
  ctx.templateName = "ssd";
  ctx.tileDescription = tileDesc;
  ctx.setLaunch({p.heads / hb, p.batch, 1}, {p.threads, 1, 1});

  ImplicitLocOpBuilder &b = ctx.getBuilder();
  ScalarBuilder k{b};
  const DenseMap<Value, Value> &bindings = ctx.getBindings();
  Type f32 = b.getF32Type();
  Value zero = k.f(0.0);
  auto view = [&](unsigned id, ArrayRef<int64_t> shape) {
    return ctx.getSharedView(id, MemRefType::get(shape, f32));
  };
  Value bTile = view(ids.b, {q, n + 1});
  Value cTile = view(ids.c, {q, n + 1});
  Value cbTile = view(ids.cb, {q, q});
  Value mTile = view(ids.m, {q, q});
  Value xTile = view(ids.x, {q, hp});
  Value hTile = view(ids.h, {n, hp + 1});
  Value vecs = view(ids.vecs, {4, q});      // dt, cs, exp(cs), w
  Value consts = view(ids.consts, {3, hb}); // A, D, dt_bias
  // Raw conv inputs [K-1+Q, W] and conv weights [slots, W, K+1] (taps, then
  // the bias) of the operands with a conv prologue.
  auto rawView = [&](const ConvPrologue &c, unsigned id, int64_t width) {
    return c.taps ? view(id, {c.taps - 1 + q, width}) : Value();
  };
  auto weightView = [&](const ConvPrologue &c, unsigned id, int64_t slots,
                        int64_t width) {
    return c.taps ? view(id, {slots, width, c.taps + 1}) : Value();
  };
  Value rawX = rawView(p.xConv, ids.rawX, hp);
  Value rawB = rawView(p.bConv, ids.rawB, n);
  Value rawC = rawView(p.cConv, ids.rawC, n);
  Value wX = weightView(p.xConv, ids.wX, hb, hp);
  Value wB = weightView(p.bConv, ids.wB, 1, n);
  Value wC = weightView(p.cConv, ids.wC, 1, n);
  Value vDt = k.c(0), vCs = k.c(1), vEcs = k.c(2), vW = k.c(3);

  Value tid = ctx.threadId(gpu::Dimension::x);
  Value batch = ctx.blockId(gpu::Dimension::y);
  Value h0 = k.mul(ctx.blockId(gpu::Dimension::x), k.c(hb));
  Value group = k.div(h0, k.c(p.heads / p.groups));
  // A tile's (row, column) base for this thread.
  auto rowBase = [&](const RegisterTile &t) { return k.div(tid, k.c(t.tx)); };
  auto colBase = [&](const RegisterTile &t) { return k.rem(tid, k.c(t.tx)); };
  Value cbRow = rowBase(p.cb), cbCol = colBase(p.cb);
  Value yRow = rowBase(p.y), yCol = colBase(p.y);
  Value hRow = rowBase(p.h), hCol = colBase(p.h);
  // `then` runs only for real rows of a tile whose last row block is ragged.
  auto forRealRow = [&](const RegisterTile &t, Value row, int64_t i,
                        function_ref<LogicalResult()> then) -> LogicalResult {
    if ((i + 1) * t.ty <= t.m)
      return then();
    auto ifOp = scf::IfOp::create(b, k.lt(row, k.c(t.m)), false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    return then();
  };

  // Stages the chunk's rows [0, Q) x columns [0, width) of an SSD operand
  // into `tile` (zero past the sequence end). Without a conv prologue the
  // element emitter computes each element. With one, stageInputs writes the
  // conv's raw inputs for steps [t0 - K + 1, t0 + Q) into `raw` (the
  // operand's chain is evaluated with the conv replaced by its input; on the
  // first chunk each column's weights and bias are captured into
  // `weights[slot]`), and, after a barrier, computeConv computes the conv
  // (+ SiLU) from them.
  struct Staged {
    Value operand;
    ConvPrologue conv;
    Value tile, raw, weights;
    int64_t width, slot;
    std::function<SmallVector<Value>(Value time, Value col)> index;
  };
  auto stageInputs = [&](const Staged &st, Value chunk, Value t0,
                         Value valid) -> LogicalResult {
    ElementalEmitter em(b, bindings);
    int64_t w = st.width;
    if (!st.conv.taps)
      return emitStrided(em, tid, q * w, p.threads, [&](Value e) {
        Value t = k.div(e, k.c(w)), col = k.rem(e, k.c(w));
        FailureOr<Value> v = emitGuarded(
            em, st.operand, st.index(k.add(t0, t), col), k.lt(t, valid));
        if (failed(v))
          return failure();
        k.store(*v, st.tile, {t, col});
        return success();
      });
    int64_t halo = st.conv.taps - 1;
    Conv1dOp conv = st.conv.conv;
    return emitStrided(em, tid, (halo + q) * w, p.threads, [&](Value e) {
      Value tr = k.div(e, k.c(w)), col = k.rem(e, k.c(w));
      // Step t0 + tr - halo, when in [0, t0 + valid).
      Value tPlus = k.add(t0, tr);
      Value ok =
          k.land(k.le(k.c(halo), tPlus), k.lt(tr, k.add(valid, k.c(halo))));
      Value time = k.sub(tPlus, k.c(halo));
      ElementalEmitter raw(b, bindings), plain(b, bindings);
      raw.setSource(
          conv.getResult(),
          [&, tr, col](ImplicitLocOpBuilder &,
                       ValueRange idx) -> FailureOr<Value> {
            Value first = k.land(k.eq(chunk, k.c(0)), k.eq(tr, k.c(halo)));
            auto ifOp = scf::IfOp::create(b, first, false);
            {
              OpBuilder::InsertionGuard g(b);
              b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
              for (int64_t j = 0; j <= halo; ++j) {
                FailureOr<Value> wv =
                    plain.emit(conv.getWeight(), {idx[1], k.c(j)});
                if (failed(wv))
                  return failure();
                k.store(*wv, st.weights, {k.c(st.slot), col, k.c(j)});
              }
              Value bias = zero;
              if (conv.getBias()) {
                FailureOr<Value> bv = plain.emit(conv.getBias(), {idx[1]});
                if (failed(bv))
                  return failure();
                bias = *bv;
              }
              k.store(bias, st.weights, {k.c(st.slot), col, k.c(halo + 1)});
            }
            return plain.emit(conv.getInput(), idx);
          });
      FailureOr<Value> v =
          emitGuarded(raw, st.operand, st.index(time, col), ok);
      if (failed(v))
        return failure();
      k.store(*v, st.raw, {tr, col});
      return success();
    });
  };
  auto computeConv = [&](const Staged &st, Value valid) -> LogicalResult {
    int64_t w = st.width, taps = st.conv.taps;
    ElementalEmitter em(b, bindings);
    return emitStrided(em, tid, q * w, p.threads, [&](Value e) {
      Value t = k.div(e, k.c(w)), col = k.rem(e, k.c(w));
      Value slot = k.c(st.slot);
      Value acc = k.load(st.weights, {slot, col, k.c(taps)});
      for (int64_t j = 0; j < taps; ++j)
        acc = k.fma(k.load(st.weights, {slot, col, k.c(j)}),
                    k.load(st.raw, {k.add(t, k.c(j)), col}), acc);
      if (Conv1dOp(st.conv.conv).getActivation() == Activation::silu)
        acc = k.silu(acc);
      k.store(k.select(k.lt(t, valid), acc, zero), st.tile, {t, col});
      return success();
    });
  };

  // Per-head constants, read once per block.
  {
    ElementalEmitter em(b, bindings);
    if (failed(emitStrided(em, tid, hb, p.threads, [&](Value e) {
          Value hh = k.add(h0, e);
          FailureOr<Value> a = em.emit(op.getA(), {hh});
          if (failed(a))
            return failure();
          k.store(*a, consts, {k.c(0), e});
          Value d = zero, bias = zero;
          if (op.getD()) {
            FailureOr<Value> v = em.emit(op.getD(), {hh});
            if (failed(v))
              return failure();
            d = *v;
          }
          if (op.getDtBias()) {
            FailureOr<Value> v = em.emit(op.getDtBias(), {hh});
            if (failed(v))
              return failure();
            bias = *v;
          }
          k.store(d, consts, {k.c(1), e});
          k.store(bias, consts, {k.c(2), e});
          return success();
        })))
      return failure();
  }

  int64_t numChunks = (int64_t)llvm::divideCeil(p.length, q);
  int64_t stateRegs = p.h.tm * p.h.tn;
  SmallVector<Value> init(hb * stateRegs, zero);
  ElementalEmitter loops(b, bindings);
  FailureOr<SmallVector<Value>> final = loops.forLoop(
      k.c(0), k.c(numChunks), k.c(1), init,
      [&](Value chunk, ValueRange state) -> FailureOr<SmallVector<Value>> {
        Value t0 = k.mul(chunk, k.c(q));
        Value valid = k.min(k.c(q), k.sub(k.c(p.length), t0));
        gpu::BarrierOp::create(b);
        // B and C of the group, once for all heads of the block.
        auto groupIndex = [&](Value time, Value col) {
          return SmallVector<Value>{batch, time, group, col};
        };
        Staged bSt{op.getB(), p.bConv, bTile, rawB, wB, n, 0, groupIndex};
        Staged cSt{op.getC(), p.cConv, cTile, rawC, wC, n, 0, groupIndex};
        if (failed(stageInputs(bSt, chunk, t0, valid)) ||
            failed(stageInputs(cSt, chunk, t0, valid)))
          return failure();
        gpu::BarrierOp::create(b);
        if (p.bConv.taps || p.cConv.taps) {
          if ((p.bConv.taps && failed(computeConv(bSt, valid))) ||
              (p.cConv.taps && failed(computeConv(cSt, valid))))
            return failure();
          gpu::BarrierOp::create(b);
        }
        // CB = C B^T.
        {
          SmallVector<Value> cbInit(p.cb.tm * p.cb.tn, zero);
          FailureOr<SmallVector<Value>> cb = emitRegisterTileMatmul(
              loops, p.cb, cbRow, cbCol, n, cbInit,
              [&](Value t, Value kk) { return k.load(cTile, {t, kk}); },
              [&](Value kk, Value s) { return k.load(bTile, {s, kk}); });
          if (failed(cb))
            return failure();
          for (int64_t i = 0; i < p.cb.tm; ++i) {
            Value row = k.add(cbRow, k.c(i * p.cb.ty));
            if (failed(forRealRow(p.cb, row, i, [&]() {
                  for (int64_t j = 0; j < p.cb.tn; ++j)
                    k.store((*cb)[i * p.cb.tn + j], cbTile,
                            {row, k.add(cbCol, k.c(j * p.cb.tx))});
                  return success();
                })))
              return failure();
          }
        }

        SmallVector<Value> next;
        for (int64_t j = 0; j < hb; ++j) {
          Value hh = k.add(h0, k.c(j));
          ValueRange hj = state.slice(j * stateRegs, stateRegs);
          if (j > 0)
            gpu::BarrierOp::create(b);
          // Stage x and dt of head hh; H^T to shared memory.
          Staged xSt{op.getX(),
                     p.xConv,
                     xTile,
                     rawX,
                     wX,
                     hp,
                     j,
                     [&](Value time, Value col) {
                       return SmallVector<Value>{batch, time, hh, col};
                     }};
          if (failed(stageInputs(xSt, chunk, t0, valid)))
            return failure();
          ElementalEmitter em(b, bindings);
          if (failed(emitStrided(em, tid, q, p.threads, [&](Value t) {
                Value ok = k.lt(t, valid);
                FailureOr<Value> dt =
                    emitGuarded(em, op.getDt(), {batch, k.add(t0, t), hh}, ok);
                if (failed(dt))
                  return failure();
                Value v = *dt;
                if (op.getDtBias())
                  v = k.addf(v, k.load(consts, {k.c(2), k.c(j)}));
                if (op.getDtSoftplus())
                  v = k.softplus(v);
                k.store(k.select(ok, v, zero), vecs, {vDt, t});
                return success();
              })))
            return failure();
          for (int64_t i = 0; i < p.h.tm; ++i) {
            Value row = k.add(hRow, k.c(i * p.h.ty));
            if (failed(forRealRow(p.h, row, i, [&]() {
                  for (int64_t jj = 0; jj < p.h.tn; ++jj)
                    k.store(hj[i * p.h.tn + jj], hTile,
                            {k.add(hCol, k.c(jj * p.h.tx)), row});
                  return success();
                })))
              return failure();
          }
          gpu::BarrierOp::create(b);
          if (p.xConv.taps) {
            if (failed(computeConv(xSt, valid)))
              return failure();
            gpu::BarrierOp::create(b);
          }
          // cs = inclusive cumsum of dt * A within the chunk.
          Value aH = k.load(consts, {k.c(0), k.c(j)});
          if (failed(emitStrided(em, tid, q, p.threads, [&](Value t) {
                FailureOr<SmallVector<Value>> cs = loops.forLoop(
                    k.c(0), k.add(t, k.c(1)), k.c(1), {zero},
                    [&](Value s,
                        ValueRange acc) -> FailureOr<SmallVector<Value>> {
                      return SmallVector<Value>{
                          k.fma(k.load(vecs, {vDt, s}), aH, acc[0])};
                    });
                if (failed(cs))
                  return failure();
                k.store((*cs)[0], vecs, {vCs, t});
                k.store(k.exp((*cs)[0]), vecs, {vEcs, t});
                return success();
              })))
            return failure();
          gpu::BarrierOp::create(b);
          // M = causal-masked CB * exp(cs[t] - cs[s]) * dt[s]; w for H.
          Value csLast = k.load(vecs, {vCs, k.c(q - 1)});
          if (failed(emitStrided(em, tid, q * q, p.threads, [&](Value e) {
                Value t = k.div(e, k.c(q)), s = k.rem(e, k.c(q));
                Value decay = k.exp(
                    k.subf(k.load(vecs, {vCs, t}), k.load(vecs, {vCs, s})));
                Value v = k.mulf(k.mulf(k.load(cbTile, {t, s}), decay),
                                 k.load(vecs, {vDt, s}));
                k.store(k.select(k.le(s, t), v, zero), mTile, {t, s});
                return success();
              })))
            return failure();
          if (failed(emitStrided(em, tid, q, p.threads, [&](Value s) {
                Value decay = k.exp(k.subf(csLast, k.load(vecs, {vCs, s})));
                k.store(k.mulf(decay, k.load(vecs, {vDt, s})), vecs, {vW, s});
                return success();
              })))
            return failure();
          gpu::BarrierOp::create(b);

          // y = M x + diag(exp(cs)) C H^T.
          SmallVector<Value> yInit(p.y.tm * p.y.tn, zero);
          FailureOr<SmallVector<Value>> y = emitRegisterTileMatmul(
              loops, p.y, yRow, yCol, q, yInit,
              [&](Value t, Value s) { return k.load(mTile, {t, s}); },
              [&](Value s, Value pp) { return k.load(xTile, {s, pp}); });
          if (failed(y))
            return failure();
          y = emitRegisterTileMatmul(
              loops, p.y, yRow, yCol, n, *y,
              [&](Value t, Value nn) {
                return k.mulf(k.load(cTile, {t, nn}), k.load(vecs, {vEcs, t}));
              },
              [&](Value nn, Value pp) { return k.load(hTile, {nn, pp}); });
          if (failed(y))
            return failure();
          // Output: + D x, the epilogue, stored from registers.
          for (int64_t i = 0; i < p.y.tm; ++i) {
            Value t = k.add(yRow, k.c(i * p.y.ty));
            for (int64_t jj = 0; jj < p.y.tn; ++jj) {
              Value pp = k.add(yCol, k.c(jj * p.y.tx));
              Value acc = (*y)[i * p.y.tn + jj];
              auto ifOp = scf::IfOp::create(b, k.lt(t, valid), false);
              OpBuilder::InsertionGuard g(b);
              b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
              SmallVector<Value> at{batch, k.add(t0, t), hh, pp};
              ElementalEmitter out(b, bindings), plain(b, bindings);
              Value xOnChip = k.load(xTile, {t, pp});
              out.setSource(
                  op.getX(),
                  [&, xOnChip, at](ImplicitLocOpBuilder &,
                                   ValueRange idx) -> FailureOr<Value> {
                    if (llvm::equal(idx, at))
                      return xOnChip;
                    return plain.emit(op.getX(), idx);
                  });
              out.setSource(op.getResult(),
                            [&, acc, xOnChip](ImplicitLocOpBuilder &,
                                              ValueRange) -> FailureOr<Value> {
                              if (!op.getD())
                                return acc;
                              return k.fma(k.load(consts, {k.c(1), k.c(j)}),
                                           xOnChip, acc);
                            });
              if (failed(emitOutputsAt(ctx, out, op.getResult(), at)))
                return failure();
            }
          }
          // H = exp(cs[Q-1]) H + (x * w)^T B.
          Value decay = k.exp(csLast);
          SmallVector<Value> scaled;
          for (Value v : hj)
            scaled.push_back(k.mulf(decay, v));
          FailureOr<SmallVector<Value>> hNew = emitRegisterTileMatmul(
              loops, p.h, hRow, hCol, q, scaled,
              [&](Value pp, Value s) {
                return k.mulf(k.load(xTile, {s, pp}), k.load(vecs, {vW, s}));
              },
              [&](Value s, Value nn) { return k.load(bTile, {s, nn}); });
          if (failed(hNew))
            return failure();
          next.append(hNew->begin(), hNew->end());
        }
        return next;
      });
  return failure(failed(final));
}

} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createSsdTemplate() {
  return std::make_unique<SsdTemplate>();
}
