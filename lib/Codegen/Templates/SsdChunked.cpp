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

struct SsdPlan {
  int64_t batch, length, heads, headDim, groups, states;
  /// Chunk length, heads per block, threads per block.
  int64_t q, hb, threads;
  RegisterTile cb, y, h;

  int64_t sharedBytes() const {
    int64_t f = 0;
    f += 2 * q * (states + 1);   // B, C
    f += 2 * q * q;              // CB, M
    f += q * headDim;            // x
    f += states * (headDim + 1); // H^T
    f += 4 * q;                  // dt, cs, exp(cs), w
    f += 3 * hb;                 // A, D, dt_bias
    return 4 * f;
  }
};

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<ShapedType>(v.getType()).getShape();
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
  while (p.sharedBytes() > target.sharedMemoryPerBlockOptin && p.q > 1)
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

  SharedMemoryPlan &plan = ctx.getSharedMemoryPlan();
  unsigned bBuf = plan.addBuffer("B", q * (n + 1) * 4, 0, 0);
  unsigned cBuf = plan.addBuffer("C", q * (n + 1) * 4, 0, 0);
  unsigned cbBuf = plan.addBuffer("CB", q * q * 4, 0, 0);
  unsigned mBuf = plan.addBuffer("M", q * q * 4, 0, 0);
  unsigned xBuf = plan.addBuffer("x", q * hp * 4, 0, 0);
  unsigned hBuf = plan.addBuffer("H^T", n * (hp + 1) * 4, 0, 0);
  unsigned vBuf = plan.addBuffer("dt/cs", 4 * q * 4, 0, 0);
  unsigned kBuf = plan.addBuffer("head constants", 3 * hb * 4, 0, 0);
  std::string tileDesc = "chunk " + std::to_string(q) + ", " +
                         std::to_string(hb) + " head(s) per block, state " +
                         std::to_string(hp) + "x" + std::to_string(n) +
                         " in registers";
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
  Value bTile = view(bBuf, {q, n + 1});
  Value cTile = view(cBuf, {q, n + 1});
  Value cbTile = view(cbBuf, {q, q});
  Value mTile = view(mBuf, {q, q});
  Value xTile = view(xBuf, {q, hp});
  Value hTile = view(hBuf, {n, hp + 1});
  Value vecs = view(vBuf, {4, q});    // dt, cs, exp(cs), w
  Value consts = view(kBuf, {3, hb}); // A, D, dt_bias
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
        {
          ElementalEmitter em(b, bindings);
          if (failed(emitStrided(em, tid, q * n, p.threads, [&](Value e) {
                Value t = k.div(e, k.c(n)), nn = k.rem(e, k.c(n));
                SmallVector<Value> idx{batch, k.add(t0, t), group, nn};
                Value ok = k.lt(t, valid);
                FailureOr<Value> bv = emitGuarded(em, op.getB(), idx, ok);
                if (failed(bv))
                  return failure();
                k.store(*bv, bTile, {t, nn});
                FailureOr<Value> cv = emitGuarded(em, op.getC(), idx, ok);
                if (failed(cv))
                  return failure();
                k.store(*cv, cTile, {t, nn});
                return success();
              })))
            return failure();
        }
        gpu::BarrierOp::create(b);
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
          ElementalEmitter em(b, bindings);
          if (failed(emitStrided(em, tid, q * hp, p.threads, [&](Value e) {
                Value t = k.div(e, k.c(hp)), pp = k.rem(e, k.c(hp));
                FailureOr<Value> x =
                    emitGuarded(em, op.getX(), {batch, k.add(t0, t), hh, pp},
                                k.lt(t, valid));
                if (failed(x))
                  return failure();
                k.store(*x, xTile, {t, pp});
                return success();
              })))
            return failure();
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
