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
// global memory.
//
// With f16 or bf16 x, B and C (or f32 with allow_tf32 on a chip with TF32)
// the four chunk products run on the matrix units (iolite_gpu.mma warp
// tiles, tuning `ssd_mma`): B, C and x are staged in the input precision,
// swizzled for their fragment loads, N and P padded to the instruction
// tiles; CB's accumulator fragments stay in registers for all heads of the
// block and each head applies its decay mask on them before M goes to
// shared memory as the A operand of M x; exp(cs) scales C H^T on the y
// fragments; the state is carried as f32 accumulator fragments and passes
// through shared memory in the input precision only as the operand of
// C H^T. M, H and x w are f32 intermediates: see splitOperands for how
// they become operands. Only the cumsum of dt A, the decays and the
// epilogue stay on the FMA units: they are per-element, not products.
// Otherwise (f32, other types, mixed types) all four products are
// register-tiled block matmuls over shared-memory operands whose
// multiply-accumulate is the framework's emitTileMultiplyAccumulate.
//
// When x, B or C is the output of a causal conv1d (+ SiLU) reached through
// data movement that keeps the time axis (Mamba-2's conv over xBC, then
// transpose / slice / reshape), the chunk stages the conv's raw inputs (the
// chunk plus K-1 earlier steps) and computes the conv on chip from them, with
// the conv weights read once per block: each input is loaded once per chunk
// plus a (K-1)/Q halo, instead of K times.
//
// iolite.ssd_with_state (Mamba-2's decode step, L = 1, and chunked prefill)
// is the same kernel: each head's registers (FMA tile or accumulator
// fragments) start from its [P, N] slice of the state instead of zeros and
// are stored after the last chunk as the final state, the kernel's second
// result.
//
// Global traffic: x, dt and y once; B and C once per block, i.e. H / (G HB)
// times each. Q is the op's chunk_size, capped by the target's tuning and
// halved until the tiles fit the target's shared memory (the result does
// not depend on it).
//
//===----------------------------------------------------------------------===//

#include "ScanCommon.h"

#include "iolite/Codegen/MatrixCodegen.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/Support/MathExtras.h"
#include <limits>

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::scan;

namespace {

/// The root of an SSD kernel: an iolite.ssd, or an iolite.ssd_with_state
/// whose `state` (f32 [B, H, P, N]) is each head's state before the chunk
/// and whose `finalState` result is the state after its last step.
struct SsdRoot {
  Operation *op = nullptr;
  Value x, dt, A, B, C, D, dtBias, state, result, finalState;
  int64_t chunkSize = 0;
  bool dtSoftplus = false;

  explicit operator bool() const { return op != nullptr; }

  static SsdRoot get(Operation *hero) {
    if (auto s = dyn_cast_or_null<SsdOp>(hero))
      return {s,
              s.getX(),
              s.getDt(),
              s.getA(),
              s.getB(),
              s.getC(),
              s.getD(),
              s.getDtBias(),
              Value(),
              s.getResult(),
              Value(),
              static_cast<int64_t>(s.getChunkSize()),
              s.getDtSoftplus()};
    if (auto s = dyn_cast_or_null<SsdWithStateOp>(hero))
      return {s,
              s.getX(),
              s.getDt(),
              s.getA(),
              s.getB(),
              s.getC(),
              s.getD(),
              s.getDtBias(),
              s.getState(),
              s.getResult(),
              s.getFinalState(),
              static_cast<int64_t>(s.getChunkSize()),
              s.getDtSoftplus()};
    return {};
  }
};

/// A conv1d prologue of one SSD operand, computed on chip from raw inputs.
struct ConvPrologue {
  Conv1dOp conv;
  int64_t taps = 0;
};

/// How the instruction tiles of one chunk product (rows x cols) map onto
/// the block's warps: a wm x wn grid of warps, each owning mTiles x nTiles
/// instruction tiles. Warps past wm * wn (small shapes only) repeat the
/// product of warp (warp mod wm * wn) and store nothing.
struct WarpGrid {
  int64_t wm = 1, wn = 1, mTiles = 1, nTiles = 1;
  int64_t used() const { return wm * wn; }
  int64_t tiles() const { return mTiles * nTiles; }
};

struct SsdPlan {
  int64_t batch, length, heads, headDim, groups, states;
  /// Chunk length, heads per block, threads per block.
  int64_t q, hb, threads;
  RegisterTile cb, y, h;
  /// conv1d prologues of x, B and C (taps = 0: none).
  ConvPrologue xConv, bConv, cConv;
  /// The chunk products' instruction (null: FMA) and why.
  MatrixChoice matrix;
  const matrix::Instruction *inst = nullptr;
  /// Matrix path: N and P padded to the instruction tiles (zero columns),
  /// the warps, and the warp grids of CB = C B^T [Q, Q], y [Q, P] and the
  /// state H [P, N].
  int64_t statesPad = 0, headDimPad = 0, warps = 0;
  WarpGrid cbGrid, yGrid, hGrid;
  /// The kernel stores the final state (ssd_with_state).
  bool carriedState = false;
};

/// Shared-memory buffer ids of one SSD kernel.
struct SsdBuffers {
  unsigned b, c, cb, m, x, h, vecs, consts;
  /// Matrix path: x w, and the low parts of M, H and x w (OperandSplit).
  unsigned xw = 0, mLo = 0, hLo = 0, xwLo = 0;
  unsigned rawX = 0, rawB = 0, rawC = 0, wX = 0, wB = 0, wC = 0;
};

/// Which f32 intermediates of the chunk products (M, H and x w) go to the
/// matrix units as two operands each, hi + lo in the instruction's input
/// type, instead of rounded once (as Mamba-2's Triton kernels round them).
/// Their products sum Q or N terms of the size of the largest outputs, so
/// one rounding shows on outputs that cancel: on emu with standard-normal
/// data, M rounded to f16 (11 bits) exceeded the SSD op's f16 tolerance,
/// and M, H and x w rounded to bf16 (8 bits) bf16's chain tolerance. hi +
/// lo keeps ~2x the bits for one more product per split operand (f16: five
/// products instead of four, bf16: seven); TF32 (f32 in registers, 10
/// bits) is opt-in inexact and is not split. A kernel with a carried state
/// (ssd_with_state) splits H and x w in f16 too (seven products per chunk,
/// as bf16): the final state is an f32 result passed from call to call,
/// and x w rounded to f16 once put it ~1e-3 off the f32 reference on emu;
/// a state from outside the kernel is as large as the outputs from the
/// first step, and H rounded to f16 put decode-step outputs that cancel
/// outside the f16 tolerance.
struct OperandSplit {
  bool m = false, h = false, xw = false;
};
static OperandSplit splitOperands(const matrix::Instruction &inst,
                                  bool carriedState) {
  OperandSplit s;
  bool exact = inst.input != matrix::ElementType::TF32;
  s.m = exact;
  s.h = s.xw = inst.input == matrix::ElementType::BF16;
  s.h |= carriedState && exact;
  s.xw |= carriedState && exact;
  return s;
}

/// Declares the kernel's buffers with the phases of one chunk in which each
/// is live (per chunk: 0 raw B/C staged, 1 B/C computed, then per head
/// 2 x (or its raw conv inputs), dt and H^T staged, 3 x computed from raw
/// inputs, 4 cs, 5 M and w, 6 products). Buffers that live across the head
/// loop span 1..6.
static SsdBuffers declareBuffers(const SsdPlan &p, SharedMemoryPlan &plan) {
  int64_t q = p.q, n = p.states, hp = p.headDim;
  SsdBuffers ids;
  if (const matrix::Instruction *inst = p.inst) {
    OperandSplit split = splitOperands(*inst, p.carriedState);
    // Operand tiles in the input precision, swizzled for their fragment
    // loads (B is read transposed by CB and as stored by the state update:
    // swizzled for the latter, which runs once per head). CB stays in
    // registers; the state passes through H [P, N] as the operand of C H^T.
    using matrix::Operand;
    int64_t e = inst->inputBytes(), np = p.statesPad, pp = p.headDimPad;
    auto read = [&](Operand o, bool t) {
      return fragmentReadBytes(*inst, o, t);
    };
    ids.b = plan.addTile("B", 1, q, np, e, read(Operand::B, false), 1, 6);
    ids.c = plan.addTile("C", 1, q, np, e, read(Operand::A, false), 1, 6);
    ids.cb = 0;
    ids.m = plan.addTile("M", 1, q, q, e, read(Operand::A, false), 5, 6);
    if (split.m)
      ids.mLo = plan.addTile("M lo", 1, q, q, e, read(Operand::A, false), 5, 6);
    ids.x = plan.addTile("x", 1, q, pp, e, read(Operand::B, false), 2, 6);
    ids.xw = plan.addTile("x w", 1, q, pp, e, read(Operand::A, true), 5, 6);
    if (split.xw)
      ids.xwLo =
          plan.addTile("x w lo", 1, q, pp, e, read(Operand::A, true), 5, 6);
    ids.h = plan.addTile("H", 1, pp, np, e, read(Operand::B, true), 2, 6);
    if (split.h)
      ids.hLo =
          plan.addTile("H lo", 1, pp, np, e, read(Operand::B, true), 2, 6);
  } else {
    ids.b = plan.addBuffer("B", q * (n + 1) * 4, 1, 6);
    ids.c = plan.addBuffer("C", q * (n + 1) * 4, 1, 6);
    ids.cb = plan.addBuffer("CB", q * q * 4, 1, 6);
    ids.m = plan.addBuffer("M", q * q * 4, 5, 6);
    ids.x = plan.addBuffer("x", q * hp * 4, 2, 6);
    ids.h = plan.addBuffer("H^T", n * (hp + 1) * 4, 2, 6);
  }
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
      int64_t size = shapeOf(sl.getInput())[d], limit = sl.getLimits()[d];
      bool toEnd =
          limit == size || (ShapedType::isDynamic(size) &&
                            limit == std::numeric_limits<int64_t>::max());
      if (sl.getStarts()[d] != 0 || (strides && (*strides)[d] != 1) || !toEnd)
        return {};
      v = sl.getInput();
      continue;
    }
    if (auto r = dyn_cast<ReshapeOp>(op)) {
      // Dim d survives when the dims before it hold the same number of
      // elements on both sides and it has the same size.
      ArrayRef<int64_t> out = shapeOf(r.getResult()),
                        in = shapeOf(r.getInput());
      // With symbolic dims up to d, only a reshape that keeps dims 0..d as
      // they are is understood (Mamba-2's [B, L, H*P] -> [B, L, H, P]).
      if (llvm::any_of(out.take_front(d + 1), ShapedType::isDynamic)) {
        if (static_cast<int64_t>(in.size()) <= d ||
            in.take_front(d + 1) != out.take_front(d + 1))
          return {};
        v = r.getInput();
        continue;
      }
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

/// The warp grid of a rows x cols product of `inst` tiles over `warps`
/// warps: the most warps whose grid divides the tiles, then the squarest
/// warp tiles.
static WarpGrid chooseWarpGrid(int64_t warps, int64_t rows, int64_t cols,
                               const matrix::Instruction &inst) {
  int64_t rowTiles = rows / inst.m, colTiles = cols / inst.n;
  WarpGrid best{1, 1, rowTiles, colTiles};
  double bestAspect = -1;
  for (int64_t wm = 1; wm <= std::min(warps, rowTiles); ++wm) {
    if (rowTiles % wm)
      continue;
    for (int64_t wn = 1; wm * wn <= warps && wn <= colTiles; ++wn) {
      if (colTiles % wn)
        continue;
      WarpGrid g{wm, wn, rowTiles / wm, colTiles / wn};
      double tm = double(g.mTiles * inst.m), tn = double(g.nTiles * inst.n);
      double aspect = std::min(tm, tn) / std::max(tm, tn);
      if (g.used() > best.used() ||
          (g.used() == best.used() && aspect > bestAspect)) {
        best = g;
        bestAspect = aspect;
      }
    }
  }
  return best;
}

/// The largest divisor of the heads per group, at most `maxHeads`, whose
/// states take at most `budget` registers per thread at `perHead` each.
static int64_t chooseHeadsPerBlock(const SsdPlan &p, int64_t maxHeads,
                                   int64_t perHead, int64_t budget) {
  int64_t perGroup = p.heads / p.groups, hb = 1;
  for (int64_t c = 2; c <= std::min(perGroup, maxHeads); ++c)
    if (perGroup % c == 0 && c * perHead <= budget)
      hb = c;
  return hb;
}

/// The matrix-unit plan of `p` with instruction `inst` and tuning
/// `ssd_mma`, or failure when its tiles cannot fit shared memory. The
/// chunk is at least the instruction's largest dim (the chunked form is
/// exact for every chunk length) and N and P are padded to the tiles.
static LogicalResult planMatrix(SsdPlan &p, const SsdRoot &op,
                                const matrix::Instruction &inst,
                                const KernelTuning &tuning,
                                const TargetDescription &target) {
  int64_t granule = std::max<int64_t>({inst.m, inst.n, inst.k});
  p.inst = &inst;
  p.threads = std::min<int64_t>(tuning.threads, target.maxThreadsPerBlock);
  p.warps = std::max<int64_t>(1, p.threads / target.warpSize);
  p.threads = p.warps * target.warpSize;
  p.statesPad = llvm::alignTo(p.states, std::max<int64_t>(inst.k, inst.n));
  p.headDimPad = llvm::alignTo(p.headDim, std::max<int64_t>(inst.m, inst.n));
  p.q = std::min<int64_t>({static_cast<int64_t>(op.chunkSize), tuning.tile[0],
                           (int64_t)llvm::PowerOf2Ceil(p.length)});
  p.q = std::max<int64_t>(
      (int64_t)llvm::PowerOf2Ceil(std::max<int64_t>(p.q, 1)), granule);
  p.hGrid = chooseWarpGrid(p.warps, p.headDimPad, p.statesPad, inst);
  int64_t perHead = p.hGrid.tiles() * inst.c.elementsPerLane();
  p.hb = chooseHeadsPerBlock(p, tuning.tile[1], perHead, tuning.tile[2]);
  while (sharedBytes(p) > target.sharedMemoryPerBlockOptin && p.q > granule)
    p.q /= 2;
  if (sharedBytes(p) > target.sharedMemoryPerBlockOptin)
    return failure();
  p.cbGrid = chooseWarpGrid(p.warps, p.q, p.q, inst);
  p.yGrid = chooseWarpGrid(p.warps, p.q, p.headDimPad, inst);
  return success();
}

/// Plans the kernel; with `overrides` (when emitting) on the matrix units
/// where the element types and the target allow, else on the FMA units.
/// Batch and length may be symbolic: planned at their bounds (`shapes`) or,
/// without them (matching), as 1 and one full chunk.
static std::optional<SsdPlan>
planSsd(const SsdRoot &op, const TargetDescription &target,
        const CodegenOverrides *overrides = nullptr,
        const SymbolicShapes *shapes = nullptr) {
  const KernelTuning *tuning = target.getTuning("ssd");
  if (!tuning || tuning->tile.size() != 3)
    return std::nullopt;
  SsdPlan p;
  SmallVector<int64_t> xs = shapeAtBounds(op.x, shapes);
  if (ShapedType::isDynamic(xs[0]))
    xs[0] = 1;
  if (ShapedType::isDynamic(xs[1]))
    xs[1] = std::max<int64_t>(1, op.chunkSize);
  p.batch = xs[0];
  p.length = xs[1];
  p.heads = xs[2];
  p.headDim = xs[3];
  p.groups = shapeOf(op.B)[2];
  p.states = shapeOf(op.B)[3];
  if (ShapedType::isDynamic(p.heads) || ShapedType::isDynamic(p.headDim) ||
      ShapedType::isDynamic(p.groups) || ShapedType::isDynamic(p.states))
    return std::nullopt;
  if (p.batch <= 0 || p.length <= 0 || p.heads <= 0 || p.headDim <= 0 ||
      p.states <= 0 || p.groups <= 0 || p.heads % p.groups)
    return std::nullopt;
  p.carriedState = static_cast<bool>(op.finalState);
  p.xConv = findTimePreservingConv(op.x);
  p.bConv = findTimePreservingConv(op.B);
  p.cConv = findTimePreservingConv(op.C);

  // The chunk products multiply C B^T, M x, C H^T and (x w)^T B: x, B and C
  // must have one type; M, x w and H are rounded to it as operands (as
  // Mamba-2's Triton kernels do), their accumulators stay f32.
  if (overrides) {
    auto elementOf = [](Value v) {
      return cast<ShapedType>(v.getType()).getElementType();
    };
    Type xt = elementOf(op.x), bt = elementOf(op.B), ct = elementOf(op.C);
    const KernelTuning *mmaTuning = target.getTuning("ssd_mma");
    if (overrides->noMatrixUnits) {
      p.matrix.reason = "matrix units turned off for this compile";
    } else if (xt != bt || ct != bt) {
      p.matrix.reason = "x, B and C have different element types; the chunk "
                        "products stay on the FMA units";
    } else if (!mmaTuning || mmaTuning->tile.size() != 3) {
      p.matrix.reason = target.chip + " has no matrix SSD tuning";
    } else {
      int64_t small = std::min<int64_t>(
          {p.headDim, p.states,
           std::min<int64_t>(op.chunkSize, mmaTuning->tile[0])});
      p.matrix = chooseMatrixInstruction(target, ct, bt, overrides->allowTf32,
                                         small, small);
      if (const matrix::Instruction *chosen = p.matrix.inst) {
        // The chosen instruction, then the chip's others of its input type
        // (smaller tiles allow a shorter chunk where shared memory is
        // tight).
        SmallVector<const matrix::Instruction *> candidates{chosen};
        for (matrix::Kind kind : target.matrixKinds) {
          const matrix::Instruction *other = matrix::lookup(kind);
          if (other && other != chosen && other->input == chosen->input)
            candidates.push_back(other);
        }
        for (const matrix::Instruction *inst : candidates) {
          SsdPlan trial = p;
          if (failed(planMatrix(trial, op, *inst, *mmaTuning, target)))
            continue;
          trial.matrix.inst = inst;
          if (inst != chosen)
            trial.matrix.reason =
                std::string(matrix::elementTypeName(inst->input)) +
                " operands on " + inst->isaName + " (the " + chosen->name +
                " tiles of the smallest chunk exceed "
                "shared memory)";
          return trial;
        }
        p.matrix.reason = "the " + std::string(chosen->name) +
                          " operand tiles of the smallest chunk do not fit "
                          "shared memory; the chunk products stay on the FMA "
                          "units";
        p.matrix.inst = nullptr;
      }
    }
  }

  p.threads = std::min<int64_t>(tuning->threads, target.maxThreadsPerBlock);
  p.q = std::min<int64_t>({static_cast<int64_t>(op.chunkSize), tuning->tile[0],
                           (int64_t)llvm::PowerOf2Ceil(p.length)});
  p.q = std::max<int64_t>(p.q, 1);
  p.h = RegisterTile::choose(p.headDim, p.states, p.threads);
  p.hb =
      chooseHeadsPerBlock(p, tuning->tile[1], p.h.tm * p.h.tn, tuning->tile[2]);
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
    SsdRoot op = SsdRoot::get(analysis.hero);
    if (!op || !isEpilogueAtElement(analysis.kernel, op.result, op.finalState))
      return 0;
    return planSsd(op, target) ? 40 : 0;
  }

  LogicalResult emit(const KernelAnalysis &analysis,
                     KernelEmitContext &ctx) const override;

  /// Batch and sequence length may be run-time extents (the grid's y and
  /// the chunk loop follow them, the last chunk masked); heads, head dim,
  /// groups, states and conv taps size the tiles and must be static.
  bool supportsDynamicExtents(const KernelAnalysis &analysis) const override {
    SsdRoot op = SsdRoot::get(analysis.hero);
    ArrayRef<int64_t> x = shapeOf(op.x), bc = shapeOf(op.B);
    if (ShapedType::isDynamic(x[2]) || ShapedType::isDynamic(x[3]) ||
        ShapedType::isDynamic(bc[2]) || ShapedType::isDynamic(bc[3]))
      return false;
    for (Value operand : {op.x, op.B, op.C})
      if (ConvPrologue c = findTimePreservingConv(operand); c.conv)
        if (!cast<ShapedType>(c.conv.getWeight().getType()).hasStaticShape())
          return false;
    return true;
  }
};

LogicalResult SsdTemplate::emit(const KernelAnalysis &analysis,
                                KernelEmitContext &ctx) const {
  SsdRoot op = SsdRoot::get(analysis.hero);
  const TargetDescription &target = ctx.getTarget();
  SsdPlan p =
      *planSsd(op, target, &ctx.getOverrides(), ctx.getSymbolicShapes());
  bool dynamic = ctx.hasDynamicExtents();
  int64_t q = p.q, n = p.states, hp = p.headDim, hb = p.hb;
  const matrix::Instruction *inst = p.inst;
  ctx.matrixKind = p.matrix.kindName();
  ctx.matrixReason = p.matrix.reason;

  SsdBuffers ids = declareBuffers(p, ctx.getSharedMemoryPlan());
  std::string tileDesc = "chunk " + std::to_string(q) + ", " +
                         std::to_string(hb) + " head(s) per block, state " +
                         std::to_string(hp) + "x" + std::to_string(n) +
                         " in registers";
  if (inst) {
    auto grid = [](const WarpGrid &g) {
      return std::to_string(g.wm) + "x" + std::to_string(g.wn) + " warps of " +
             std::to_string(g.mTiles) + "x" + std::to_string(g.nTiles);
    };
    tileDesc += ", " + std::string(inst->name) + " (CB " + grid(p.cbGrid) +
                ", y " + grid(p.yGrid) + ", state " + grid(p.hGrid) + ")";
  }
  if (p.xConv.taps || p.bConv.taps || p.cConv.taps)
    tileDesc += ", conv1d prologue on chip";
  if (op.state)
    tileDesc += ", carried state";
  if (failed(ctx.finalizeSharedMemory("ssd " + tileDesc)))
    return failure();
  ctx.templateName = "ssd";
  ctx.tileDescription = tileDesc;
  if (dynamic)
    ctx.setLaunch({GridExtent::constant(p.heads / hb),
                   GridExtent{ctx.getDimExpr(op.x, 0), 1},
                   GridExtent::constant(1)},
                  {p.threads, 1, 1});
  else
    ctx.setLaunch({p.heads / hb, p.batch, 1}, {p.threads, 1, 1});

  ImplicitLocOpBuilder &b = ctx.getBuilder();
  MLIRContext *mctx = b.getContext();
  ScalarBuilder k{b};
  const DenseMap<Value, Value> &bindings = ctx.getBindings();
  ElementalEmitter loops(b, bindings);
  ctx.prepare(loops);
  SharedMemoryPlan &smem = ctx.getSharedMemoryPlan();
  Type f32 = b.getF32Type();
  Value zero = k.f(0.0);
  auto view = [&](unsigned id, ArrayRef<int64_t> shape) {
    return ctx.getSharedView(id, MemRefType::get(shape, f32));
  };
  // Matrix path: operand tiles in the instruction's input type, swizzled.
  int64_t np = inst ? p.statesPad : n, pp = inst ? p.headDimPad : hp;
  Type input = inst ? igpu::getInputElementType(mctx, *inst) : f32;
  auto tileView = [&](unsigned id, int64_t rows, int64_t cols) {
    return ctx.getSharedView(id, MemRefType::get({rows, cols}, input));
  };
  auto swizzleOf = [&](unsigned id) {
    return inst ? getSwizzleAttr(mctx, smem.getSwizzle(id))
                : igpu::SwizzleAttr();
  };
  Value bTile = inst ? tileView(ids.b, q, np) : view(ids.b, {q, n + 1});
  Value cTile = inst ? tileView(ids.c, q, np) : view(ids.c, {q, n + 1});
  Value cbTile = inst ? Value() : view(ids.cb, {q, q});
  Value mTile = inst ? tileView(ids.m, q, q) : view(ids.m, {q, q});
  OperandSplit split =
      inst ? splitOperands(*inst, p.carriedState) : OperandSplit();
  Value mLoTile = split.m ? tileView(ids.mLo, q, q) : Value();
  Value hLoTile = split.h ? tileView(ids.hLo, pp, np) : Value();
  Value xwLoTile = split.xw ? tileView(ids.xwLo, q, pp) : Value();
  Value xTile = inst ? tileView(ids.x, q, pp) : view(ids.x, {q, hp});
  Value xwTile = inst ? tileView(ids.xw, q, pp) : Value();
  Value hTile = inst ? tileView(ids.h, pp, np) : view(ids.h, {n, hp + 1});
  igpu::SwizzleAttr bSw = swizzleOf(ids.b), cSw = swizzleOf(ids.c),
                    mSw = swizzleOf(ids.m), xSw = swizzleOf(ids.x),
                    xwSw = inst ? swizzleOf(ids.xw) : igpu::SwizzleAttr(),
                    mLoSw = split.m ? swizzleOf(ids.mLo) : igpu::SwizzleAttr(),
                    hLoSw = split.h ? swizzleOf(ids.hLo) : igpu::SwizzleAttr(),
                    xwLoSw =
                        split.xw ? swizzleOf(ids.xwLo) : igpu::SwizzleAttr(),
                    hSw = swizzleOf(ids.h);
  Value vecs = view(ids.vecs, {4, q});      // dt, cs, exp(cs), w
  Value consts = view(ids.consts, {3, hb}); // A, D, dt_bias
  // Element (row, col) of an operand tile: f32 for FMA, the instruction's
  // input type (rounded on store, extended on load) on the matrix path.
  auto storeTile = [&](Value value, Value tile, igpu::SwizzleAttr sw, Value row,
                       Value col) {
    if (inst)
      emitStoreTileElement(b, *inst, tile, sw, row, col, value);
    else
      k.store(value, tile, {row, col});
  };
  // v rounded to the input type and back: what its hi operand holds.
  auto roundTrip = [&](Value v) -> Value {
    return arith::ExtFOp::create(
        b, f32, arith::TruncFOp::create(b, input, v).getResult());
  };
  auto loadTile = [&](Value tile, igpu::SwizzleAttr sw, Value row,
                      Value col) -> Value {
    if (!inst)
      return k.load(tile, {row, col});
    Value v = k.load(
        tile, {row, igpu::emitSwizzledColumn(b, b.getLoc(), sw, row, col)});
    return v.getType() == f32 ? v : arith::ExtFOp::create(b, f32, v);
  };
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
  Value cbRow, cbCol, yRow, yCol, hRow, hCol;
  if (!inst) {
    cbRow = rowBase(p.cb);
    cbCol = colBase(p.cb);
    yRow = rowBase(p.y);
    yCol = colBase(p.y);
    hRow = rowBase(p.h);
    hCol = colBase(p.h);
  }
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

  // Matrix path: each product's warp tile origin, and whether this warp
  // owns it (stores); accumulator elements with their coordinates.
  Value warp, lane;
  std::optional<FragmentCoords> coords;
  if (inst) {
    warp = k.div(tid, k.c(target.warpSize));
    lane = k.rem(tid, k.c(target.warpSize));
    coords.emplace(b, inst->c, lane);
  }
  struct WarpTile {
    const WarpGrid *grid;
    Value row0, col0, owner;
  };
  auto warpTile = [&](const WarpGrid &g) {
    Value w = g.used() < p.warps ? k.rem(warp, k.c(g.used())) : warp;
    WarpTile t{&g, k.mul(k.div(w, k.c(g.wn)), k.c(g.mTiles * inst->m)),
               k.mul(k.rem(w, k.c(g.wn)), k.c(g.nTiles * inst->n)), Value()};
    if (g.used() < p.warps)
      t.owner = k.lt(warp, k.c(g.used()));
    return t;
  };
  WarpTile cbWt{}, yWt{}, hWt{};
  if (inst) {
    cbWt = warpTile(p.cbGrid);
    yWt = warpTile(p.yGrid);
    hWt = warpTile(p.hGrid);
  }
  int64_t perTile = inst ? inst->c.elementsPerLane() : 0;
  // Calls fn(tile, element, row, col) for every accumulator element of the
  // warp tile, inside `owner` when only some warps store.
  auto forEachElement =
      [&](const WarpTile &wt,
          function_ref<LogicalResult(int64_t, int64_t, Value, Value)> fn)
      -> LogicalResult {
    OpBuilder::InsertionGuard g(b);
    if (wt.owner) {
      auto ifOp = scf::IfOp::create(b, wt.owner, false);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    }
    const WarpGrid &grid = *wt.grid;
    for (int64_t i = 0; i < grid.mTiles; ++i)
      for (int64_t j = 0; j < grid.nTiles; ++j)
        for (int64_t e = 0; e < perTile; ++e) {
          Value row = k.add(k.add(wt.row0, k.c(i * inst->m)), coords->row(e));
          Value col = k.add(k.add(wt.col0, k.c(j * inst->n)), coords->col(e));
          if (failed(fn(i * grid.nTiles + j, e, row, col)))
            return failure();
        }
    return success();
  };
  // The product of a warp tile: A and B tiles with their swizzles, whether
  // stored transposed, and the memory (row, col) of the warp's operand
  // element (0, 0).
  auto operand = [&](Value tile, igpu::SwizzleAttr sw, bool transpose,
                     Value row0, Value col0) {
    MatrixTileOperand o;
    o.tile = tile;
    o.swizzle = sw;
    o.transpose = transpose;
    o.row0 = row0;
    o.col0 = col0;
    return o;
  };
  // The k-steps run in an scf.for (two per iteration where they pair up):
  // unrolled, every fragment address is loop-invariant in the chunk loop
  // and the back ends hoist them all, which spilled.
  // acc += sum of A_i B_i over the (A_i, B_i) of `terms` (a split operand's
  // hi and lo parts) in one loop.
  using Term = std::pair<MatrixTileOperand, MatrixTileOperand>;
  auto product = [&](const WarpTile &wt, ArrayRef<Term> terms, int64_t kSize,
                     ValueRange acc) -> FailureOr<SmallVector<Value>> {
    int64_t steps = kSize / inst->k;
    int64_t perIter = steps % 2 == 0 ? 2 : 1;
    return loops.forLoop(
        k.c(0), k.c(kSize), k.c(perIter * inst->k), acc,
        [&](Value kk, ValueRange it) -> FailureOr<SmallVector<Value>> {
          SmallVector<Value> result(it.begin(), it.end());
          for (const auto &[a, bOp] : terms) {
            // A is m x k (k along its columns, or rows when transposed), B
            // is k x n (k along its rows, or columns when transposed).
            MatrixTileOperand as = a, bs = bOp;
            Value &ak = a.transpose ? as.row0 : as.col0;
            Value &bk = bOp.transpose ? bs.col0 : bs.row0;
            ak = k.add(ak, kk);
            bk = k.add(bk, kk);
            result = emitWarpTileProduct(b, *inst, as, {bs}, wt.grid->mTiles,
                                         wt.grid->nTiles, perIter, result);
          }
          return result;
        });
  };

  // Stages the chunk's rows [0, Q) x columns [0, padded) of an SSD operand
  // into `tile` (zero past the sequence end and past the operand's `width`
  // columns). Without a conv prologue the element emitter computes each
  // element. With one, stageInputs writes the conv's raw inputs for steps
  // [t0 - K + 1, t0 + Q) into `raw` (the operand's chain is evaluated with
  // the conv replaced by its input; on the first chunk each column's
  // weights and bias are captured into `weights[slot]`), and, after a
  // barrier, computeConv computes the conv (+ SiLU) from them.
  struct Staged {
    Value operand;
    ConvPrologue conv;
    Value tile;
    igpu::SwizzleAttr swizzle;
    Value raw, weights;
    int64_t width, padded, slot;
    std::function<SmallVector<Value>(Value time, Value col)> index;
  };
  auto stageInputs = [&](const Staged &st, Value chunk, Value t0,
                         Value valid) -> LogicalResult {
    ElementalEmitter em(b, bindings);
    ctx.prepare(em);
    int64_t w = st.width, wp = st.padded;
    if (!st.conv.taps)
      return emitStrided(em, tid, q * wp, p.threads, [&](Value e) {
        Value t = k.div(e, k.c(wp)), col = k.rem(e, k.c(wp));
        Value ok = k.lt(t, valid);
        if (wp != w)
          ok = k.land(ok, k.lt(col, k.c(w)));
        FailureOr<Value> v =
            emitGuarded(em, st.operand, st.index(k.add(t0, t), col), ok);
        if (failed(v))
          return failure();
        storeTile(*v, st.tile, st.swizzle, t, col);
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
      ctx.prepare(raw);
      ctx.prepare(plain);
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
    int64_t w = st.width, wp = st.padded, taps = st.conv.taps;
    ElementalEmitter em(b, bindings);
    ctx.prepare(em);
    return emitStrided(em, tid, q * wp, p.threads, [&](Value e) {
      Value t = k.div(e, k.c(wp)), col = k.rem(e, k.c(wp));
      Value ok = k.lt(t, valid);
      // Padding columns read column W-1 and store 0.
      Value at = col;
      if (wp != w) {
        ok = k.land(ok, k.lt(col, k.c(w)));
        at = k.min(col, k.c(w - 1));
      }
      Value slot = k.c(st.slot);
      Value acc = k.load(st.weights, {slot, at, k.c(taps)});
      for (int64_t j = 0; j < taps; ++j)
        acc = k.fma(k.load(st.weights, {slot, at, k.c(j)}),
                    k.load(st.raw, {k.add(t, k.c(j)), at}), acc);
      if (Conv1dOp(st.conv.conv).getActivation() == Activation::silu)
        acc = k.silu(acc);
      storeTile(k.select(ok, acc, zero), st.tile, st.swizzle, t, col);
      return success();
    });
  };

  // Per-head constants, read once per block.
  {
    ElementalEmitter em(b, bindings);
    ctx.prepare(em);
    if (failed(emitStrided(em, tid, hb, p.threads, [&](Value e) {
          Value hh = k.add(h0, e);
          FailureOr<Value> a = em.emit(op.A, {hh});
          if (failed(a))
            return failure();
          k.store(*a, consts, {k.c(0), e});
          Value d = zero, bias = zero;
          if (op.D) {
            FailureOr<Value> v = em.emit(op.D, {hh});
            if (failed(v))
              return failure();
            d = *v;
          }
          if (op.dtBias) {
            FailureOr<Value> v = em.emit(op.dtBias, {hh});
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

  // Output of head j at chunk row t, column pp: + D x, the epilogue.
  auto storeOutput = [&](int64_t j, Value hh, Value t0, Value t, Value col,
                         Value acc) -> LogicalResult {
    SmallVector<Value> at{batch, k.add(t0, t), hh, col};
    ElementalEmitter out(b, bindings), plain(b, bindings);
    ctx.prepare(out);
    ctx.prepare(plain);
    // The x tile holds x exactly, except TF32's rounded copy: D x then
    // reads x again.
    Value xOnChip;
    if (inst && inst->input == matrix::ElementType::TF32) {
      FailureOr<Value> exact = plain.emit(op.x, at);
      if (failed(exact))
        return failure();
      xOnChip = *exact;
    } else {
      xOnChip = loadTile(xTile, xSw, t, col);
    }
    out.setSource(op.x,
                  [&, xOnChip, at](ImplicitLocOpBuilder &,
                                   ValueRange idx) -> FailureOr<Value> {
                    if (llvm::equal(idx, at))
                      return xOnChip;
                    return plain.emit(op.x, idx);
                  });
    out.setSource(op.result,
                  [&, acc, xOnChip](ImplicitLocOpBuilder &,
                                    ValueRange) -> FailureOr<Value> {
                    if (!op.D)
                      return acc;
                    return k.fma(k.load(consts, {k.c(1), k.c(j)}), xOnChip,
                                 acc);
                  });
    return emitOutputsAt(ctx, out, op.result, at, op.finalState);
  };

  // The sequence length: a run-time extent when symbolic.
  Value length = dynamic ? ctx.getExtent(op.x, 1) : k.c(p.length);
  Value numChunks = arith::CeilDivUIOp::create(b, length, k.c(q));
  // The carried state: per head, its accumulator fragments (matrix path)
  // or its register tile (FMA).
  int64_t stateRegs = inst ? p.hGrid.tiles() : p.h.tm * p.h.tn;
  SmallVector<Value> init(hb * stateRegs,
                          inst ? emitZeroAccumulator(b, *inst) : zero);
  // With a carried state, each head's registers start from its [P, N]
  // slice of the state. The matrix path's padding rows and columns start
  // (and stay) zero; on FMA a ragged last row block loads row P-1 again
  // (those rows are computed, never stored).
  if (op.state) {
    ElementalEmitter em(b, bindings);
    ctx.prepare(em);
    for (int64_t j = 0; j < hb; ++j) {
      Value hh = k.add(h0, k.c(j));
      if (inst) {
        SmallVector<SmallVector<Value>> elems(stateRegs);
        // Every warp loads its tile (warps past the grid repeat a product).
        if (failed(forEachElement(
                WarpTile{hWt.grid, hWt.row0, hWt.col0, Value()},
                [&](int64_t tile, int64_t, Value row, Value col) {
                  Value ok;
                  if (pp != hp)
                    ok = k.lt(row, k.c(hp));
                  if (np != n)
                    ok = k.land(ok, k.lt(col, k.c(n)));
                  FailureOr<Value> v =
                      emitGuarded(em, op.state, {batch, hh, row, col}, ok);
                  if (failed(v))
                    return failure();
                  elems[tile].push_back(*v);
                  return success();
                })))
          return failure();
        for (int64_t t = 0; t < stateRegs; ++t)
          init[j * stateRegs + t] = vector::FromElementsOp::create(
              b, cast<VectorType>(init[j * stateRegs + t].getType()), elems[t]);
        continue;
      }
      for (int64_t i = 0; i < p.h.tm; ++i) {
        Value row = k.min(k.add(hRow, k.c(i * p.h.ty)), k.c(hp - 1));
        for (int64_t jj = 0; jj < p.h.tn; ++jj) {
          FailureOr<Value> v = em.emit(
              op.state, {batch, hh, row, k.add(hCol, k.c(jj * p.h.tx))});
          if (failed(v))
            return failure();
          init[j * stateRegs + i * p.h.tn + jj] = *v;
        }
      }
    }
  }
  FailureOr<SmallVector<Value>> final = loops.forLoop(
      k.c(0), numChunks, k.c(1), init,
      [&](Value chunk, ValueRange state) -> FailureOr<SmallVector<Value>> {
        Value t0 = k.mul(chunk, k.c(q));
        Value valid = k.min(k.c(q), k.sub(length, t0));
        gpu::BarrierOp::create(b);
        // B and C of the group, once for all heads of the block.
        auto groupIndex = [&](Value time, Value col) {
          return SmallVector<Value>{batch, time, group, col};
        };
        Staged bSt{op.B, p.bConv, bTile, bSw, rawB, wB, n, np, 0, groupIndex};
        Staged cSt{op.C, p.cConv, cTile, cSw, rawC, wC, n, np, 0, groupIndex};
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
        // CB = C B^T: on the matrix units its accumulators stay in
        // registers for all heads of the block (each head applies its own
        // decay to them); on FMA it goes to shared memory.
        SmallVector<Value> cbAcc;
        if (inst) {
          FailureOr<SmallVector<Value>> cb = product(
              cbWt,
              {{operand(cTile, cSw, false, cbWt.row0, k.c(0)),
                operand(bTile, bSw, /*transpose=*/true, cbWt.col0, k.c(0))}},
              np,
              SmallVector<Value>(p.cbGrid.tiles(),
                                 emitZeroAccumulator(b, *inst)));
          if (failed(cb))
            return failure();
          cbAcc = *cb;
        } else {
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
          // Stage x and dt of head hh; H to shared memory.
          Staged xSt{op.x,
                     p.xConv,
                     xTile,
                     xSw,
                     rawX,
                     wX,
                     hp,
                     pp,
                     j,
                     [&](Value time, Value col) {
                       return SmallVector<Value>{batch, time, hh, col};
                     }};
          if (failed(stageInputs(xSt, chunk, t0, valid)))
            return failure();
          ElementalEmitter em(b, bindings);
          ctx.prepare(em);
          ctx.prepare(em);
          if (failed(emitStrided(em, tid, q, p.threads, [&](Value t) {
                Value ok = k.lt(t, valid);
                FailureOr<Value> dt =
                    emitGuarded(em, op.dt, {batch, k.add(t0, t), hh}, ok);
                if (failed(dt))
                  return failure();
                Value v = *dt;
                if (op.dtBias)
                  v = k.addf(v, k.load(consts, {k.c(2), k.c(j)}));
                if (op.dtSoftplus)
                  v = k.softplus(v);
                k.store(k.select(ok, v, zero), vecs, {vDt, t});
                return success();
              })))
            return failure();
          if (inst) {
            // H [P, N] in the input type: the B operand (N x P, stored
            // transposed) of C H^T. The state itself stays f32.
            if (failed(forEachElement(
                    hWt, [&](int64_t tile, int64_t e, Value row, Value col) {
                      Value v = vector::ExtractOp::create(b, hj[tile], e);
                      storeTile(v, hTile, hSw, row, col);
                      if (split.h)
                        storeTile(k.subf(v, roundTrip(v)), hLoTile, hLoSw, row,
                                  col);
                      return success();
                    })))
              return failure();
          } else {
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
          auto maskedDecay = [&](Value cb, Value t, Value s) {
            Value decay =
                k.exp(k.subf(k.load(vecs, {vCs, t}), k.load(vecs, {vCs, s})));
            Value v = k.mulf(k.mulf(cb, decay), k.load(vecs, {vDt, s}));
            return k.select(k.le(s, t), v, zero);
          };
          if (inst) {
            // On the CB accumulator fragments, stored as the A operand of
            // M x (through shared memory on both vendors: the y warp grid
            // splits P across warps, so a warp's rows of M are not all in
            // its own CB fragments).
            if (failed(forEachElement(cbWt, [&](int64_t tile, int64_t e,
                                                Value t, Value s) {
                  Value cb = vector::ExtractOp::create(b, cbAcc[tile], e);
                  Value v = maskedDecay(cb, t, s);
                  storeTile(v, mTile, mSw, t, s);
                  if (split.m)
                    storeTile(k.subf(v, roundTrip(v)), mLoTile, mLoSw, t, s);
                  return success();
                })))
              return failure();
            // x * w [Q, P]: the A operand (P x Q, stored transposed) of the
            // state update.
            if (failed(emitStrided(em, tid, q * pp, p.threads, [&](Value e) {
                  Value s = k.div(e, k.c(pp)), col = k.rem(e, k.c(pp));
                  Value w =
                      k.mulf(k.exp(k.subf(csLast, k.load(vecs, {vCs, s}))),
                             k.load(vecs, {vDt, s}));
                  Value v = k.mulf(loadTile(xTile, xSw, s, col), w);
                  storeTile(v, xwTile, xwSw, s, col);
                  if (split.xw)
                    storeTile(k.subf(v, roundTrip(v)), xwLoTile, xwLoSw, s,
                              col);
                  return success();
                })))
              return failure();
          } else {
            if (failed(emitStrided(em, tid, q * q, p.threads, [&](Value e) {
                  Value t = k.div(e, k.c(q)), s = k.rem(e, k.c(q));
                  k.store(maskedDecay(k.load(cbTile, {t, s}), t, s), mTile,
                          {t, s});
                  return success();
                })))
              return failure();
            if (failed(emitStrided(em, tid, q, p.threads, [&](Value s) {
                  Value decay = k.exp(k.subf(csLast, k.load(vecs, {vCs, s})));
                  k.store(k.mulf(decay, k.load(vecs, {vDt, s})), vecs, {vW, s});
                  return success();
                })))
              return failure();
          }
          gpu::BarrierOp::create(b);

          Value decay = k.exp(csLast);
          if (inst) {
            // y = diag(exp(cs)) C H^T + M x: C H^T from zero, its rows
            // scaled on the fragments, then M x accumulated onto it.
            MatrixTileOperand cOp =
                operand(cTile, cSw, false, yWt.row0, k.c(0));
            SmallVector<Term> terms{
                {cOp,
                 operand(hTile, hSw, /*transpose=*/true, yWt.col0, k.c(0))}};
            if (split.h)
              terms.push_back({cOp, operand(hLoTile, hLoSw, /*transpose=*/true,
                                            yWt.col0, k.c(0))});
            FailureOr<SmallVector<Value>> inter =
                product(yWt, terms, np,
                        SmallVector<Value>(p.yGrid.tiles(),
                                           emitZeroAccumulator(b, *inst)));
            if (failed(inter))
              return failure();
            SmallVector<Value> y = *inter;
            {
              SmallVector<SmallVector<Value>> scaled(y.size());
              (void)forEachElement(
                  WarpTile{yWt.grid, yWt.row0, yWt.col0, Value()},
                  [&](int64_t tile, int64_t e, Value t, Value) {
                    scaled[tile].push_back(
                        k.mulf(vector::ExtractOp::create(b, y[tile], e),
                               k.load(vecs, {vEcs, t})));
                    return success();
                  });
              for (auto [tile, values] : llvm::enumerate(scaled))
                y[tile] = vector::FromElementsOp::create(
                    b, cast<VectorType>(y[tile].getType()), values);
            }
            MatrixTileOperand xOp =
                operand(xTile, xSw, false, k.c(0), yWt.col0);
            terms = {{operand(mTile, mSw, false, yWt.row0, k.c(0)), xOp}};
            if (split.m)
              terms.push_back(
                  {operand(mLoTile, mLoSw, false, yWt.row0, k.c(0)), xOp});
            FailureOr<SmallVector<Value>> intra = product(yWt, terms, q, y);
            if (failed(intra))
              return failure();
            y = *intra;
            // Output: real rows and columns of the owner warps.
            if (failed(forEachElement(yWt, [&](int64_t tile, int64_t e, Value t,
                                               Value col) {
                  Value ok = k.lt(t, valid);
                  if (pp != hp)
                    ok = k.land(ok, k.lt(col, k.c(hp)));
                  auto ifOp = scf::IfOp::create(b, ok, false);
                  OpBuilder::InsertionGuard g(b);
                  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
                  return storeOutput(j, hh, t0, t, col,
                                     vector::ExtractOp::create(b, y[tile], e));
                })))
              return failure();
            // H = exp(cs[Q-1]) H + (x w)^T B on the state's fragments.
            SmallVector<Value> scaledState;
            for (Value v : hj) {
              auto type = cast<VectorType>(v.getType());
              Value splat = vector::BroadcastOp::create(b, type, decay);
              scaledState.push_back(k.mulf(splat, v));
            }
            MatrixTileOperand bOp =
                operand(bTile, bSw, false, k.c(0), hWt.col0);
            terms = {
                {operand(xwTile, xwSw, /*transpose=*/true, k.c(0), hWt.row0),
                 bOp}};
            if (split.xw)
              terms.push_back({operand(xwLoTile, xwLoSw, /*transpose=*/true,
                                       k.c(0), hWt.row0),
                               bOp});
            FailureOr<SmallVector<Value>> hNew =
                product(hWt, terms, q, scaledState);
            if (failed(hNew))
              return failure();
            next.append(hNew->begin(), hNew->end());
            continue;
          }

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
              Value col = k.add(yCol, k.c(jj * p.y.tx));
              auto ifOp = scf::IfOp::create(b, k.lt(t, valid), false);
              OpBuilder::InsertionGuard g(b);
              b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
              if (failed(storeOutput(j, hh, t0, t, col, (*y)[i * p.y.tn + jj])))
                return failure();
            }
          }
          // H = exp(cs[Q-1]) H + (x * w)^T B.
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
  if (failed(final))
    return failure();

  // The final state: each head's registers after the last chunk, stored
  // where they hold real rows and columns (by the owner warps).
  if (op.finalState) {
    for (int64_t j = 0; j < hb; ++j) {
      Value hh = k.add(h0, k.c(j));
      ArrayRef<Value> hj =
          ArrayRef<Value>(*final).slice(j * stateRegs, stateRegs);
      if (inst) {
        if (failed(forEachElement(
                hWt, [&](int64_t tile, int64_t e, Value row, Value col) {
                  Value ok;
                  if (pp != hp)
                    ok = k.lt(row, k.c(hp));
                  if (np != n)
                    ok = k.land(ok, k.lt(col, k.c(n)));
                  OpBuilder::InsertionGuard g(b);
                  if (ok) {
                    auto ifOp = scf::IfOp::create(b, ok, false);
                    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
                  }
                  storeStateAt(ctx, op.finalState,
                               vector::ExtractOp::create(b, hj[tile], e),
                               {batch, hh, row, col});
                  return success();
                })))
          return failure();
        continue;
      }
      for (int64_t i = 0; i < p.h.tm; ++i) {
        Value row = k.add(hRow, k.c(i * p.h.ty));
        if (failed(forRealRow(p.h, row, i, [&]() {
              for (int64_t jj = 0; jj < p.h.tn; ++jj)
                storeStateAt(ctx, op.finalState, hj[i * p.h.tn + jj],
                             {batch, hh, row, k.add(hCol, k.c(jj * p.h.tx))});
              return success();
            })))
          return failure();
      }
    }
  }
  return success();
}

} // namespace

std::unique_ptr<KernelTemplate> mlir::iolite::createSsdTemplate() {
  return std::make_unique<SsdTemplate>();
}
