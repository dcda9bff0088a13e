//===- MoeGroupedMatmul.cpp - Ragged grouped GEMM over expert tiles -------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Rows offsets[e] .. offsets[e+1]-1 are multiplied by weight[e]. The grid is
// (n tiles) x (an upper bound on row tiles): block y finds its tile by
// walking the segments head [0, offsets[0]), expert 0 .. E-1, tail
// [offsets[E], R) in shared memory, each cut into BM-row tiles, so experts
// with no rows get no tile and blocks past the last tile exit at once. An
// expert tile runs the block GEMM with B tiles read straight from the
// expert's weight slab (no per-token weight copy); head and tail tiles are
// rows outside every group and write the epilogue of zero. Two grouped
// matmuls of the same rows (SwiGLU's gate and up) share the A tile and keep
// two accumulators, so silu(g) * u is their epilogue. The A rows are read
// through the element emitter; when they are a dispatch of the same kernel
// (or a gather by row), the tile's source row numbers are staged in shared
// memory once and the A loads gather the rows of the dispatch input directly.
// f16/bf16 products (f32 with allow_tf32 where the chip has TF32) run on the
// matrix units (BlockGemm's matrix mode: mma.sync / MFMA warp tiles), others
// on FMA; the epilogue walks the accumulators the same way in both.
//
// Offsets are expected non-decreasing within [0, R] (as dispatch makes
// them); other values are clamped so every access stays in bounds.
//
//===----------------------------------------------------------------------===//

#include "Moe.h"

#include "iolite/Codegen/BlockGemm.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::moe;

namespace {
/// A gather by row feeding the A operand: A[r, c] = data[indices[r], c].
GatherOp findRowGather(Value input) {
  ArrayRef<int64_t> shape = cast<ShapedType>(input.getType()).getShape();
  SmallVector<Value> work{input};
  llvm::SmallPtrSet<Value, 8> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v).second ||
        cast<ShapedType>(v.getType()).getShape() != shape)
      continue;
    Operation *def = v.getDefiningOp();
    if (!def)
      continue;
    if (auto g = dyn_cast<GatherOp>(def)) {
      if (g.getAxis() == 0 && g.getIndices().getType().getRank() == 1 &&
          g.getData().getType().getRank() == 2)
        return g;
      continue;
    }
    if (isa<CastOp, AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp, NegOp, AbsOp,
            SiluOp, GeluOp, ReluOp, TanhOp, SigmoidOp, ExpOp>(def))
      work.append(def->operand_begin(), def->operand_end());
  }
  return GatherOp();
}
} // namespace

LogicalResult moe::emitGroupedMatmulStage(MoeEmitState &state,
                                          const Stage &stage) {
  const TargetDescription &target = state.getContext().getTarget();
  SmallVector<GroupedMatmulOp, 2> gms;
  for (Operation *op : stage.ops)
    gms.push_back(cast<GroupedMatmulOp>(op));
  GroupedMatmulOp gm = gms.front();
  ArrayRef<int64_t> ws = gm.getWeight().getType().getShape();
  bool transposed = gm.getTransposeRhs();
  // Rows at the bounds with run-time extents: tiles and the grid are chosen
  // for the worst case, and blocks past the call's last tile exit.
  int64_t rows = getPlanningSize(state.getContext(), gm.getInput(), 0);
  int64_t experts = ws[0];
  int64_t kDim = transposed ? ws[2] : ws[1];
  int64_t n = transposed ? ws[1] : ws[2];

  state.nextLaunch("grouped_matmul");
  KernelEmitContext &ctx = state.getContext();

  // Tiles no taller than an expert's average share of rows, no wider than N.
  int64_t avgRows = llvm::divideCeil(rows, experts);
  Type aType = gm.getInput().getType().getElementType();
  Type bType = gm.getWeight().getType().getElementType();
  MatrixChoice choice;
  if (llvm::any_of(gms, [&](GroupedMatmulOp g) {
        return g.getWeight().getType().getElementType() != bType;
      }))
    choice.reason = "the grouped matmuls sharing A have weights of different "
                    "types";
  else
    choice = chooseMatrix(ctx, "moe_grouped_matmul_mma", aType, bType,
                          llvm::PowerOf2Ceil(avgRows), llvm::PowerOf2Ceil(n));
  ctx.matrixKind = choice.kindName();
  ctx.matrixReason = choice.reason;

  BlockGemmShape shape;
  shape.k = kDim;
  shape.numB = gms.size();
  shape.aContiguousInK = true;
  shape.bContiguousInK = transposed;
  const KernelTuning *tuning = &getTuning(ctx, "moe_grouped_matmul");
  if (const matrix::Instruction *inst = choice.inst) {
    // Warps of instruction tiles; one instruction is the smallest tile.
    tuning = &getTuning(ctx, "moe_grouped_matmul_mma");
    shape.inst = inst;
    shape.warpSize = target.warpSize;
    // Tiles are staged in runs along the operands' contiguous dims.
    shape.aRun = getOperandRun(target, gm.getInput(), kDim);
    shape.bRun = getOperandRun(target, gm.getWeight(), transposed ? kDim : n);
    shape.bm = std::min<int64_t>(
        tuning->tile[0],
        std::max<int64_t>(inst->m, llvm::PowerOf2Ceil(avgRows)));
    shape.bn = std::min<int64_t>(
        tuning->tile[1], std::max<int64_t>(inst->n, llvm::PowerOf2Ceil(n)));
    shape.bk = std::min<int64_t>(
        tuning->tile[2], std::max<int64_t>(inst->k, llvm::PowerOf2Ceil(kDim)));
    if (failed(fitBlockGemmWarps(
            shape, std::max<int64_t>(1, tuning->threads / target.warpSize),
            target.matrixAccumulatorsPerThread, /*keepN=*/false)))
      return gm.emitOpError()
             << "grouped matmul tile " << shape.bm << "x" << shape.bn << "x"
             << shape.bk << " is not a multiple of the " << inst->name
             << " instruction (" << inst->m << "x" << inst->n << "x" << inst->k
             << ")";
  } else {
    shape.tx = 16;
    shape.ty = tuning->threads / shape.tx;
    shape.bm = std::min<int64_t>(
        tuning->tile[0],
        std::max<int64_t>(shape.ty, llvm::PowerOf2Ceil(avgRows)));
    shape.bn = std::min<int64_t>(
        tuning->tile[1], std::max<int64_t>(shape.tx, llvm::PowerOf2Ceil(n)));
    shape.bk = tuning->tile[2];
    // Two accumulators per element: keep the register tiles within budget
    // by halving the longer side (square tiles read the fewest A and B
    // bytes).
    while (shape.accumulatorRegisters() >
               (int64_t)target.accumulatorsPerThread &&
           (shape.bm > shape.ty || shape.bn > shape.tx)) {
      if (shape.bn >= shape.bm && shape.bn > shape.tx)
        shape.bn /= 2;
      else
        shape.bm /= 2;
    }
    if (shape.bm % shape.ty || shape.bn % shape.tx)
      return gm.emitOpError() << "grouped matmul tile " << shape.bm << "x"
                              << shape.bn << " does not divide among "
                              << shape.ty << "x" << shape.tx << " threads";
  }
  shape.stages = tuning->stages > 1 && shape.stageBytes() * tuning->stages <=
                                           target.sharedMemoryPerBlock
                     ? tuning->stages
                     : 1;
  int64_t bm = shape.bm, bn = shape.bn;
  int64_t threads = shape.threads();

  DispatchOp dispatch = stage.fusedDispatch;
  GatherOp gather = dispatch ? GatherOp() : findRowGather(gm.getInput());

  SharedMemoryPlan &plan = ctx.getSharedMemoryPlan();
  BlockGemmBuffers buffers = planBlockGemm(plan, shape, 1, 1);
  unsigned offsetsBuf = plan.addBuffer("offsets", (experts + 1) * 4, 0, 1);
  Type stagedType;
  if (dispatch)
    stagedType = ctx.getBuilder().getI32Type();
  else if (gather)
    stagedType = gather.getIndices().getType().getElementType();
  std::optional<unsigned> rowsBuf;
  if (stagedType)
    rowsBuf = plan.addBuffer("rows",
                             bm * stagedType.getIntOrFloatBitWidth() / 8, 0, 1);
  std::string tile = std::string(gms.size() == 2 ? "dual " : "") +
                     "grouped matmul tile " + shape.describe() + ", " +
                     std::to_string(experts) + " experts";
  if (dispatch)
    tile += ", rows gathered through the dispatch";
  else if (gather)
    tile += ", rows gathered by index";
  if (failed(ctx.finalizeSharedMemory(tile)))
    return failure();
  ctx.templateName = "moe_grouped_matmul";
  ctx.tileDescription = tile;
  int64_t tilesBound = llvm::divideCeil(rows, bm) + experts + 1;
  ctx.setLaunch({(int64_t)llvm::divideCeil(n, bn), tilesBound, 1},
                {threads, 1, 1});

  ImplicitLocOpBuilder &b = ctx.getBuilder();
  ElementalEmitter em(b, ctx.getBindings());
  em.setBufferAlignment(target.maxVectorBytes);
  ctx.prepare(em);
  state.installSources(em);
  auto c = [&](int64_t v) { return constIndex(b, v); };
  // The call's row count R (offsets are clamped to it).
  Value rowCount = getExtentValue(ctx, gm.getInput(), 0);
  Type i32 = b.getI32Type();
  auto toIndex = [&](Value v) {
    return arith::IndexCastOp::create(b, b.getIndexType(), v);
  };
  Value tid = ctx.threadId(gpu::Dimension::x);
  Value n0 = arith::MulIOp::create(b, ctx.blockId(gpu::Dimension::x), c(bn));
  Value y = ctx.blockId(gpu::Dimension::y);

  // Offsets, clamped to [0, R], in shared memory.
  Value offs =
      ctx.getSharedView(offsetsBuf, MemRefType::get({experts + 1}, i32));
  if (failed(forEach(em, tid, c(experts + 1), c(threads), [&](Value e) {
        FailureOr<Value> o = em.emit(gm.getOffsets(), ValueRange{e});
        if (failed(o))
          return failure();
        Value v = toIndex(*o);
        v = arith::MaxSIOp::create(b, v, c(0));
        v = arith::MinSIOp::create(b, v, rowCount);
        memref::StoreOp::create(b, arith::IndexCastOp::create(b, i32, v), offs,
                                ValueRange{e});
        return success();
      })))
    return failure();
  gpu::BarrierOp::create(b);

  // Block y's tile: segment 0 is the head, 1..E the experts, E+1 the tail.
  auto offAt = [&](Value e) {
    return toIndex(memref::LoadOp::create(b, offs, ValueRange{e}));
  };
  Value falseV = arith::ConstantIntOp::create(b, 0, 1);
  FailureOr<SmallVector<Value>> found = em.forLoop(
      c(0), c(experts + 2), c(1), {y, falseV, c(0), c(0), c(0)},
      [&](Value s, ValueRange it) -> FailureOr<SmallVector<Value>> {
        Value remaining = it[0], done = it[1];
        Value isHead =
            arith::CmpIOp::create(b, arith::CmpIPredicate::eq, s, c(0));
        Value isTail = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, s,
                                             c(experts + 1));
        Value loIdx = arith::SelectOp::create(
            b, isHead, c(0), arith::SubIOp::create(b, s, c(1)));
        Value hiIdx = arith::MinUIOp::create(b, s, c(experts));
        Value lo = arith::SelectOp::create(b, isHead, c(0), offAt(loIdx));
        Value hi = arith::SelectOp::create(b, isTail, rowCount, offAt(hiIdx));
        hi = arith::MaxSIOp::create(b, hi, lo);
        Value count = arith::SubIOp::create(b, hi, lo);
        Value tiles = arith::DivUIOp::create(
            b, arith::AddIOp::create(b, count, c(bm - 1)), c(bm));
        Value take = arith::AndIOp::create(
            b,
            arith::XOrIOp::create(b, done,
                                  arith::ConstantIntOp::create(b, 1, 1)),
            cmpLt(b, remaining, tiles));
        Value start = arith::AddIOp::create(
            b, lo, arith::MulIOp::create(b, remaining, c(bm)));
        Value end = arith::MinSIOp::create(
            b, arith::AddIOp::create(b, start, c(bm)), hi);
        Value skip = arith::OrIOp::create(b, done, take);
        return SmallVector<Value>{
            arith::SelectOp::create(b, skip, remaining,
                                    arith::SubIOp::create(b, remaining, tiles)),
            skip, arith::SelectOp::create(b, take, s, it[2]),
            arith::SelectOp::create(b, take, start, it[3]),
            arith::SelectOp::create(b, take, end, it[4])};
      });
  if (failed(found))
    return failure();
  Value hasTile = (*found)[1], segment = (*found)[2];
  Value rowStart = (*found)[3], rowEnd = (*found)[4];

  // Blocks without a tile exit (the condition is block-uniform).
  return ifThen(b, hasTile, [&]() -> LogicalResult {
    Value isExpert = arith::AndIOp::create(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::uge, segment, c(1)),
        arith::CmpIOp::create(b, arith::CmpIPredicate::ule, segment,
                              c(experts)));
    Value expert = arith::SubIOp::create(
        b, arith::MaxUIOp::create(b, segment, c(1)), c(1));
    // Head and tail tiles keep zero accumulators.
    Value zero = emitBlockGemmZero(b, shape);
    int64_t perB = shape.accumulatorsPerB();
    SmallVector<Type> accTypes(perB * gms.size(), zero.getType());
    FailureOr<SmallVector<Value>> acc = em.ifThenElse(
        isExpert, accTypes,
        [&]() -> FailureOr<SmallVector<Value>> {
          // Stage the tile's source rows.
          if (rowsBuf) {
            Value staged =
                ctx.getSharedView(*rowsBuf, MemRefType::get({bm}, stagedType));
            Value rowsMem =
                dispatch ? state.getMemory(dispatch.getRowIndex()) : Value();
            int64_t dk =
                dispatch ? dispatch.getExpertIds().getType().getDimSize(1) : 1;
            if (failed(forEach(em, tid, c(bm), c(threads), [&](Value i) {
                  Value row = arith::AddIOp::create(b, rowStart, i);
                  return ifThen(
                      b, cmpLt(b, row, rowEnd), [&]() -> LogicalResult {
                        Value v;
                        if (dispatch) {
                          Value r = memref::LoadOp::create(b, rowsMem,
                                                           ValueRange{row});
                          // Row indices are < T*k; clamp against bad ones.
                          Value ri = arith::MinUIOp::create(
                              b, toIndex(r),
                              arith::SubIOp::create(b, rowCount, c(1)));
                          v = arith::IndexCastOp::create(
                              b, i32, arith::DivUIOp::create(b, ri, c(dk)));
                        } else {
                          FailureOr<Value> idx =
                              em.emit(gather.getIndices(), ValueRange{row});
                          if (failed(idx))
                            return failure();
                          v = *idx;
                        }
                        memref::StoreOp::create(b, v, staged, ValueRange{i});
                        return success();
                      });
                })))
              return failure();
            gpu::BarrierOp::create(b);
            auto stagedAt = [staged, rowStart](ImplicitLocOpBuilder &bb,
                                               Value row) -> Value {
              Value i = arith::SubIOp::create(bb, row, rowStart);
              return memref::LoadOp::create(bb, staged, ValueRange{i});
            };
            if (dispatch) {
              Value input = dispatch.getInput();
              em.setSource(
                  dispatch.getSorted(),
                  [&em, input, stagedAt](ImplicitLocOpBuilder &bb,
                                         ValueRange idx) -> FailureOr<Value> {
                    Value token = arith::IndexCastOp::create(
                        bb, bb.getIndexType(), stagedAt(bb, idx[0]));
                    return em.emit(input, ValueRange{token, idx[1]});
                  });
              // Runs of a gathered row are runs of the input's row.
              em.setRunSource(
                  dispatch.getSorted(),
                  [&em, input,
                   stagedAt](ImplicitLocOpBuilder &bb, ValueRange idx,
                             unsigned width) -> FailureOr<SmallVector<Value>> {
                    Value token = arith::IndexCastOp::create(
                        bb, bb.getIndexType(), stagedAt(bb, idx[0]));
                    return em.emitRun(input, ValueRange{token, idx[1]}, width);
                  });
            } else {
              em.setSource(gather.getIndices(),
                           [stagedAt](ImplicitLocOpBuilder &bb,
                                      ValueRange idx) -> FailureOr<Value> {
                             return stagedAt(bb, idx[0]);
                           });
            }
          }
          BlockGemmOperands ops;
          auto loadA = [&](Value i, Value gk) -> FailureOr<Value> {
            Value row = arith::AddIOp::create(b, rowStart, i);
            return em.emit(gm.getInput(), ValueRange{row, gk});
          };
          auto loadB = [&](unsigned bi, Value gk, Value j) -> FailureOr<Value> {
            Value col = arith::AddIOp::create(b, n0, j);
            Value w = gms[bi].getWeight();
            return transposed ? em.emit(w, ValueRange{expert, col, gk})
                              : em.emit(w, ValueRange{expert, gk, col});
          };
          auto rowOk = [&](Value i) -> Value {
            return cmpLt(b, arith::AddIOp::create(b, rowStart, i), rowEnd);
          };
          auto colOk = [&](Value j) -> Value {
            return cmpLt(b, arith::AddIOp::create(b, n0, j), c(n));
          };
          auto loadARun = [&](Value i, Value gk,
                              int64_t width) -> FailureOr<SmallVector<Value>> {
            Value row = arith::AddIOp::create(b, rowStart, i);
            return em.emitRun(gm.getInput(), ValueRange{row, gk}, width);
          };
          auto loadBRun = [&](unsigned bi, Value gk, Value j,
                              int64_t width) -> FailureOr<SmallVector<Value>> {
            Value col = arith::AddIOp::create(b, n0, j);
            Value w = gms[bi].getWeight();
            return transposed
                       ? em.emitRun(w, ValueRange{expert, col, gk}, width)
                       : em.emitRun(w, ValueRange{expert, gk, col}, width);
          };
          ops.loadA = loadA;
          ops.loadB = loadB;
          ops.loadARun = loadARun;
          ops.loadBRun = loadBRun;
          ops.rowInBounds = rowOk;
          if (n % bn)
            ops.colInBounds = colOk;
          FailureOr<BlockGemmAccumulators> r =
              emitBlockGemm(ctx, em, shape, buffers, ops);
          if (failed(r))
            return failure();
          SmallVector<Value> flat;
          for (auto &accs : *r)
            flat.append(accs.begin(), accs.end());
          return flat;
        },
        [&]() -> FailureOr<SmallVector<Value>> {
          return SmallVector<Value>(accTypes.size(), zero);
        });
    if (failed(acc))
      return failure();

    // Epilogue: the results, rounded to their type, through the fused ops.
    Type et = gm.getType().getElementType();
    BlockGemmAccumulators sets;
    for (unsigned gi = 0; gi < gms.size(); ++gi)
      sets.emplace_back(acc->begin() + gi * perB,
                        acc->begin() + (gi + 1) * perB);
    return forEachBlockGemmElement(
        b, shape, tid, sets, [&](const BlockGemmElement &e) -> LogicalResult {
          Value row = arith::AddIOp::create(b, rowStart, e.row);
          Value col = arith::AddIOp::create(b, n0, e.col);
          Value ok = cmpLt(b, row, rowEnd);
          if (n % bn)
            ok = arith::AndIOp::create(b, ok, cmpLt(b, col, c(n)));
          return ifThen(b, ok, [&]() -> LogicalResult {
            for (auto [gi, g] : llvm::enumerate(gms)) {
              Value v =
                  convertToCompute(b, convertToStorage(b, e.values[gi], et));
              em.setSource(g.getResult(),
                           [v](ImplicitLocOpBuilder &, ValueRange) {
                             return FailureOr<Value>(v);
                           });
            }
            for (const Export &x : stage.exports) {
              FailureOr<Value> v = em.emit(x.value, ValueRange{row, col});
              if (failed(v))
                return failure();
              state.store(x.value, *v, ValueRange{row, col});
            }
            return success();
          });
        });
  });
}
