//===- MatrixCodegen.cpp - Tile products on the matrix units --------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/MatrixCodegen.h"
#include "iolite/Codegen/ElementalEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::iolite;

static std::string typeName(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

MatrixChoice
mlir::iolite::chooseMatrixInstruction(const TargetDescription &target, Type lhs,
                                      Type rhs, bool allowTf32, int64_t maxM,
                                      int64_t maxN) {
  MatrixChoice choice;
  if (lhs != rhs) {
    choice.reason = "operands are " + typeName(lhs) + " x " + typeName(rhs) +
                    "; no matrix instruction mixes them";
    return choice;
  }
  matrix::ElementType want;
  if (lhs.isF16()) {
    want = matrix::ElementType::F16;
  } else if (lhs.isBF16()) {
    want = matrix::ElementType::BF16;
  } else if (lhs.isF32()) {
    if (!allowTf32) {
      choice.reason = "f32 operands stay exact f32 on the FMA units "
                      "(--allow-tf32 puts them on TF32 matrix units)";
      return choice;
    }
    want = matrix::ElementType::TF32;
  } else {
    choice.reason = typeName(lhs) + " operands have no matrix instruction";
    return choice;
  }
  const matrix::Instruction *best = nullptr, *smallest = nullptr;
  for (matrix::Kind kind : target.matrixKinds) {
    const matrix::Instruction *inst = matrix::lookup(kind);
    if (!inst || inst->input != want)
      continue;
    if (!smallest || inst->m * inst->n < smallest->m * smallest->n)
      smallest = inst;
    if (!best && inst->m <= maxM && inst->n <= maxN)
      best = inst;
  }
  if (!best)
    best = smallest;
  if (!best) {
    choice.reason = target.chip + " has no " + matrix::elementTypeName(want) +
                    " matrix instruction; the product stays on the FMA units";
    return choice;
  }
  choice.inst = best;
  choice.reason = std::string(matrix::elementTypeName(want)) + " operands on " +
                  best->isaName;
  return choice;
}

int64_t mlir::iolite::fragmentReadBytes(const matrix::Instruction &inst,
                                        matrix::Operand operand,
                                        bool transpose) {
  const matrix::FragmentLayout &layout = inst.layout(operand);
  int64_t bytes = inst.inputBytes();
  // ldmatrix reads 16-byte rows.
  if (inst.vendor == matrix::Vendor::Nvidia && bytes == 2)
    return 16;
  // Otherwise each lane reads its contiguous run; the lanes of one
  // 128-byte phase (32 of up to 4 bytes, 16 of 8, 8 of 16) either all read
  // along one row (no conflicts to avoid) or step to the next rows after
  // `group` bytes.
  int64_t run =
      igpu::getContiguousFragmentRun(layout, transpose, 16 / bytes) * bytes;
  int64_t lanesPerPhase = 128 / std::max<int64_t>(4, run);
  int64_t group = run;
  for (unsigned bit = 0; bit < layout.numLaneBits; ++bit) {
    if ((int64_t(1) << bit) >= lanesPerPhase)
      return 0;
    matrix::Coord basis =
        igpu::getFragmentMemoryLaneBasis(layout, transpose, bit);
    if (basis.row != 0)
      return group;
    if (basis.col * bytes != group)
      return 0;
    group *= 2;
  }
  return 0;
}

igpu::SwizzleAttr mlir::iolite::getSwizzleAttr(MLIRContext *ctx,
                                               const TileSwizzle &swizzle) {
  if (swizzle.isIdentity())
    return {};
  return igpu::SwizzleAttr::get(ctx, swizzle.vec, swizzle.perPhase,
                                swizzle.maxPhase);
}

Value mlir::iolite::emitRoundToTf32(ImplicitLocOpBuilder &b, Value value) {
  Type i32 = b.getI32Type();
  Value bits = arith::BitcastOp::create(b, i32, value);
  // Round the magnitude half up at bit 12 (ties away), keep 10 mantissa
  // bits. Infinities stay, NaNs stay NaN, overflow rounds to infinity.
  bits = arith::AddIOp::create(b, bits,
                               arith::ConstantIntOp::create(b, i32, 0x1000));
  bits = arith::AndIOp::create(
      b, bits,
      arith::ConstantIntOp::create(b, i32, static_cast<int32_t>(0xFFFFE000u)));
  return arith::BitcastOp::create(b, b.getF32Type(), bits);
}

//===----------------------------------------------------------------------===//
// Fragment coordinates and reductions
//===----------------------------------------------------------------------===//

FragmentCoords::FragmentCoords(ImplicitLocOpBuilder &b,
                               const matrix::FragmentLayout &layout, Value lane)
    : b(b), layout(layout) {
  SmallVector<int64_t> rows, cols;
  for (unsigned bit = 0; bit < layout.numLaneBits; ++bit) {
    rows.push_back(layout.lane[bit].row);
    cols.push_back(layout.lane[bit].col);
  }
  laneRow = igpu::emitLaneOffset(b, b.getLoc(), lane, rows, Value());
  laneCol = igpu::emitLaneOffset(b, b.getLoc(), lane, cols, Value());
}

Value FragmentCoords::row(int64_t element) {
  int32_t offset = layout.elementOffset(element).row;
  if (!offset)
    return laneRow;
  return arith::AddIOp::create(b, laneRow,
                               arith::ConstantIndexOp::create(b, offset));
}

Value FragmentCoords::col(int64_t element) {
  int32_t offset = layout.elementOffset(element).col;
  if (!offset)
    return laneCol;
  return arith::AddIOp::create(b, laneCol,
                               arith::ConstantIndexOp::create(b, offset));
}

Value mlir::iolite::emitAccumulatorRowReduce(
    ImplicitLocOpBuilder &b, const matrix::FragmentLayout &c, unsigned warpSize,
    Value value, function_ref<Value(Value, Value)> combine) {
  for (unsigned bit = 0; bit < c.numLaneBits; ++bit) {
    if (c.lane[bit].row != 0)
      continue;
    auto shuffle = gpu::ShuffleOp::create(
        b, value, static_cast<int32_t>(1u << bit),
        static_cast<int32_t>(warpSize), gpu::ShuffleMode::XOR);
    value = combine(value, shuffle.getShuffleResult());
  }
  return value;
}

AccumulatorRows
mlir::iolite::getAccumulatorRows(const matrix::FragmentLayout &c) {
  AccumulatorRows rows;
  for (int64_t e = 0; e < c.elementsPerLane(); ++e) {
    int32_t offset = c.elementOffset(e).row;
    auto it = llvm::find(rows.rowOffsets, offset);
    if (it == rows.rowOffsets.end()) {
      rows.rowOffsets.push_back(offset);
      rows.elements.emplace_back();
      it = rows.rowOffsets.end() - 1;
    }
    rows.elements[it - rows.rowOffsets.begin()].push_back(e);
  }
  return rows;
}

std::optional<SmallVector<std::pair<int64_t, int64_t>>>
mlir::iolite::getAccumulatorAsOperandA(const matrix::Instruction &inst) {
  if (inst.k % inst.n != 0)
    return std::nullopt;
  const matrix::FragmentLayout &a = inst.a, &c = inst.c;
  SmallVector<std::pair<int64_t, int64_t>> result;
  for (uint32_t e = 0; e < a.elementsPerLane(); ++e) {
    std::optional<std::pair<int64_t, int64_t>> found;
    for (uint32_t lane = 0; lane < a.lanes(); ++lane) {
      matrix::Coord rc = a.at(lane, e);
      int64_t tile = rc.col / inst.n;
      matrix::Coord want{rc.row, static_cast<int32_t>(rc.col % inst.n)};
      // The accumulator element of the same lane holding (row, col).
      std::optional<int64_t> element;
      for (uint32_t f = 0; f < c.elementsPerLane() && !element; ++f)
        if (c.at(lane, f) == want)
          element = f;
      if (!element)
        return std::nullopt;
      std::pair<int64_t, int64_t> here{tile, *element};
      if (found && *found != here)
        return std::nullopt;
      found = here;
    }
    result.push_back(*found);
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Warp tiles
//===----------------------------------------------------------------------===//

std::pair<int64_t, int64_t>
mlir::iolite::splitWarpsOverTile(int64_t warps, int64_t bm, int64_t bn,
                                 int64_t m, int64_t n) {
  std::pair<int64_t, int64_t> best{1, 1};
  double bestAspect = 0;
  for (int64_t wm = 1; wm <= warps; wm *= 2) {
    int64_t wn = warps / wm;
    while (wn > 1 && bn / wn < n)
      wn /= 2;
    if (bm / wm < m)
      break;
    int64_t used = wm * wn, bestUsed = best.first * best.second;
    double tm = double(bm) / wm, tn = double(bn) / wn;
    double aspect = std::min(tm, tn) / std::max(tm, tn);
    if (used > bestUsed || (used == bestUsed && aspect > bestAspect)) {
      best = {wm, wn};
      bestAspect = aspect;
    }
  }
  return best;
}

Value mlir::iolite::emitZeroAccumulator(ImplicitLocOpBuilder &b,
                                        const matrix::Instruction &inst) {
  VectorType type =
      igpu::getFragmentType(b.getContext(), inst, matrix::Operand::C);
  return arith::ConstantOp::create(b, type, b.getZeroAttr(type));
}

SmallVector<Value> mlir::iolite::emitWarpTileProduct(
    ImplicitLocOpBuilder &b, const matrix::Instruction &inst,
    const MatrixTileOperand &a, ArrayRef<MatrixTileOperand> bOperands,
    int64_t mTiles, int64_t nTiles, int64_t kSteps, ValueRange acc) {
  MLIRContext *ctx = b.getContext();
  igpu::MatrixKind kind = igpu::getMatrixKind(inst);
  auto kindAttr = igpu::MatrixKindAttr::get(ctx, kind);
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, v);
  };
  auto add = [&](Value x, int64_t v) -> Value {
    return v ? (Value)arith::AddIOp::create(b, x, c(v)) : x;
  };
  // Memory indices of operand element (r0 + dr, c0 + dc).
  auto indices = [&](const MatrixTileOperand &op, int64_t dr, int64_t dc) {
    if (op.transpose)
      return SmallVector<Value>{add(op.row0, dc), add(op.col0, dr)};
    return SmallVector<Value>{add(op.row0, dr), add(op.col0, dc)};
  };
  auto load = [&](const MatrixTileOperand &op, igpu::MatrixOperand which,
                  matrix::Operand role, int64_t dr, int64_t dc) -> Value {
    auto result = igpu::MmaLoadOp::create(
        b, igpu::getFragmentType(ctx, inst, role),
        igpu::MatrixOperandAttr::get(ctx, which), kindAttr, op.tile,
        indices(op, dr, dc), op.transpose ? b.getUnitAttr() : UnitAttr(),
        op.swizzle);
    return result.getResult();
  };
  assert(static_cast<int64_t>(acc.size()) ==
             static_cast<int64_t>(bOperands.size()) * mTiles * nTiles &&
         "one accumulator per B operand and tile");
  SmallVector<Value> result(acc.begin(), acc.end());
  for (int64_t s = 0; s < kSteps; ++s) {
    SmallVector<Value> aFrags;
    for (int64_t i = 0; i < mTiles; ++i)
      aFrags.push_back(load(a, igpu::MatrixOperand::a, matrix::Operand::A,
                            i * inst.m, s * inst.k));
    for (auto [p, bOperand] : llvm::enumerate(bOperands)) {
      for (int64_t j = 0; j < nTiles; ++j) {
        Value bFrag = load(bOperand, igpu::MatrixOperand::b, matrix::Operand::B,
                           s * inst.k, j * inst.n);
        for (int64_t i = 0; i < mTiles; ++i) {
          Value &accumulator =
              result[(static_cast<int64_t>(p) * mTiles + i) * nTiles + j];
          accumulator = igpu::MmaOp::create(b, accumulator.getType(), kindAttr,
                                            aFrags[i], bFrag, accumulator)
                            .getResult();
        }
      }
    }
  }
  return result;
}

static Value toInputType(ImplicitLocOpBuilder &b,
                         const matrix::Instruction &inst, Value value) {
  Type input = igpu::getInputElementType(b.getContext(), inst);
  if (inst.input == matrix::ElementType::TF32)
    return emitRoundToTf32(b, value);
  if (value.getType() == input)
    return value;
  return arith::TruncFOp::create(b, input, value);
}

void mlir::iolite::emitStoreTileElement(ImplicitLocOpBuilder &b,
                                        const matrix::Instruction &inst,
                                        Value tile, igpu::SwizzleAttr swizzle,
                                        Value row, Value col, Value value) {
  Value physical = igpu::emitSwizzledColumn(b, b.getLoc(), swizzle, row, col);
  memref::StoreOp::create(b, toInputType(b, inst, value), tile,
                          ValueRange{row, physical});
}

void mlir::iolite::emitStoreTileRun(ImplicitLocOpBuilder &b,
                                    const matrix::Instruction &inst, Value tile,
                                    igpu::SwizzleAttr swizzle, Value row,
                                    Value col, ArrayRef<Value> values) {
  if (values.size() == 1)
    return emitStoreTileElement(b, inst, tile, swizzle, row, col, values[0]);
  SmallVector<Value> converted;
  for (Value v : values)
    converted.push_back(toInputType(b, inst, v));
  Type input = igpu::getInputElementType(b.getContext(), inst);
  Value vector = vector::FromElementsOp::create(
      b, VectorType::get({static_cast<int64_t>(values.size())}, input),
      converted);
  Value physical = igpu::emitSwizzledColumn(b, b.getLoc(), swizzle, row, col);
  vector::StoreOp::create(b, vector, tile, ValueRange{row, physical});
}

int64_t mlir::iolite::getAsyncCopyRunWidth(const TargetDescription &target,
                                           const matrix::Instruction &inst,
                                           Value buffer, int64_t maxWidth,
                                           ArrayRef<int64_t> sizes,
                                           int64_t rows, int64_t rowElements,
                                           int64_t threads) {
  if (!target.isNvidia() || inst.input == matrix::ElementType::TF32 || !buffer)
    return 0;
  auto type = dyn_cast<MemRefType>(buffer.getType());
  if (!type || !type.getLayout().isIdentity() ||
      type.getElementType() !=
          igpu::getInputElementType(buffer.getContext(), inst))
    return 0;
  int64_t width = largestDividingWidth(
      std::min<int64_t>(maxWidth, 16 / inst.inputBytes()), sizes);
  int64_t bytes = width * inst.inputBytes();
  if (bytes != 4 && bytes != 8 && bytes != 16)
    return 0;
  if ((rows * (rowElements / width)) % threads != 0)
    return 0;
  return width;
}

Value mlir::iolite::emitAsyncCopyRun(ImplicitLocOpBuilder &b,
                                     const matrix::Instruction &inst,
                                     Value tile, igpu::SwizzleAttr swizzle,
                                     Value row, Value col, Value buffer,
                                     ArrayRef<Value> src, int64_t width,
                                     Value inBounds) {
  SmallVector<Value> index(src.begin(), src.end());
  Value srcElements;
  if (inBounds) {
    Value zero = arith::ConstantIndexOp::create(b, 0);
    for (Value &i : MutableArrayRef<Value>(index).take_back(2))
      i = arith::SelectOp::create(b, inBounds, i, zero);
    srcElements = arith::SelectOp::create(
        b, inBounds, arith::ConstantIndexOp::create(b, width), zero);
  }
  Value physical = igpu::emitSwizzledColumn(b, b.getLoc(), swizzle, row, col);
  return nvgpu::DeviceAsyncCopyOp::create(
      b, nvgpu::DeviceAsyncTokenType::get(b.getContext()), tile,
      ValueRange{row, physical}, buffer, index, b.getIndexAttr(width),
      srcElements,
      width * inst.inputBytes() == 16 ? b.getUnitAttr() : UnitAttr());
}
