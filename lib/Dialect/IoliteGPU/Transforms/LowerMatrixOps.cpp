//===- LowerMatrixOps.cpp - iolite_gpu ops to nvgpu / amdgpu --------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Everything here is derived from the instruction table: which 8x8 sub-tiles
// an ldmatrix loads and whether transposed, which elements of a fragment are
// contiguous in shared memory, how a flat fragment maps onto nvgpu's 2-D
// register vectors. A layout the derivation does not recognise falls back to
// element loads, which are correct for any layout.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/IoliteGPU/Transforms/Passes.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/Support/MathExtras.h"

namespace mlir::iolite::igpu {
#define GEN_PASS_DEF_LOWERMATRIXOPS
#include "iolite/Dialect/IoliteGPU/Transforms/Passes.h.inc"
} // namespace mlir::iolite::igpu

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::igpu;
namespace matrix = ::mlir::iolite::matrix;

namespace {

/// The shared-memory coordinates of every (lane, element) of a load.
struct LoadGeometry {
  const matrix::FragmentLayout &layout;
  bool transpose;

  matrix::Coord at(uint32_t lane, uint32_t element) const {
    return getFragmentMemoryCoord(layout, transpose, lane, element);
  }
  matrix::Coord laneBasis(unsigned bit) const {
    return getFragmentMemoryLaneBasis(layout, transpose, bit);
  }
  matrix::Coord elementBasis(unsigned bit) const {
    return getFragmentMemoryElementBasis(layout, transpose, bit);
  }
};

/// `value` with the same elements in row-major order as `type`. Element by
/// element (vector.shape_cast between ranks is not lowered by the GPU
/// pipelines' vector-to-LLVM patterns; these fragments have at most 16).
Value reshapeVector(OpBuilder &b, Location loc, Value value, VectorType type) {
  auto source = cast<VectorType>(value.getType());
  if (source == type)
    return value;
  SmallVector<Value> elements;
  for (int64_t i = 0; i < source.getNumElements(); ++i) {
    SmallVector<int64_t> position;
    int64_t rest = i;
    for (int64_t d = source.getRank() - 1; d >= 0; --d) {
      position.insert(position.begin(), rest % source.getDimSize(d));
      rest /= source.getDimSize(d);
    }
    elements.push_back(vector::ExtractOp::create(b, loc, value, position));
  }
  return vector::FromElementsOp::create(b, loc, type, elements);
}

/// ldmatrix parameters derived from the table, when the fragment is made of
/// 8x8 sub-tiles of 16-bit elements that ldmatrix loads.
struct LdMatrixPlan {
  int64_t numTiles;
  bool transpose;
};

std::optional<LdMatrixPlan>
planLdMatrix(const LoadGeometry &g, MemRefType source, SwizzleAttr swizzle) {
  const matrix::FragmentLayout &layout = g.layout;
  if (source.getElementTypeBitWidth() != 16 || layout.lanes() != 32)
    return std::nullopt;
  int64_t elements = layout.elementsPerLane();
  int64_t tiles = elements / 2;
  if (tiles != 1 && tiles != 2 && tiles != 4)
    return std::nullopt;
  // Rows of 16 bytes at 16-byte aligned addresses: the row length and the
  // swizzle's chunks must keep 8 elements together.
  int64_t cols = source.getDimSize(1);
  if (ShapedType::isDynamic(cols) || (cols * 2) % 16 != 0)
    return std::nullopt;
  if (swizzle && swizzle.getVec() % 8 != 0)
    return std::nullopt;
  for (bool transpose : {false, true}) {
    bool ok = true;
    for (int64_t i = 0; i < tiles && ok; ++i) {
      matrix::Coord origin = g.at(0, 2 * i);
      if (origin.col % 8 != 0 || (transpose && origin.row % 8 != 0))
        ok = false;
      for (uint32_t lane = 0; lane < 32 && ok; ++lane)
        for (uint32_t j = 0; j < 2 && ok; ++j) {
          matrix::Coord got = g.at(lane, 2 * i + j);
          // ldmatrix gives lane l elements (l/4, 2(l%4)+j) of each 8x8
          // matrix; .trans gives (2(l%4)+j, l/4).
          int32_t r = lane / 4, cc = 2 * (lane % 4) + j;
          matrix::Coord want =
              transpose ? matrix::Coord{origin.row + cc, origin.col + r}
                        : matrix::Coord{origin.row + r, origin.col + cc};
          if (!(got == want))
            ok = false;
        }
    }
    if (ok)
      return LdMatrixPlan{tiles, transpose};
  }
  return std::nullopt;
}

Value lowerToLdMatrix(OpBuilder &b, MmaLoadOp op, const LoadGeometry &g,
                      const LdMatrixPlan &plan) {
  Location loc = op.getLoc();
  Value lane = gpu::LaneIdOp::create(b, loc, /*upperBound=*/nullptr);
  // Lane l gives the address of row l % 8 of sub-tile (l / 8) % tiles (with
  // .trans too, the 8 addressed rows are the sub-tile's memory rows). The
  // sub-tile origin is linear in the element bits above bit 0, and the
  // sub-tile index bits are lane bits 3 and 4.
  SmallVector<int64_t> rowOffsets{1, 2, 4}, colOffsets{0, 0, 0};
  unsigned tileBits = llvm::Log2_64(plan.numTiles);
  for (unsigned t = 0; t < tileBits; ++t) {
    matrix::Coord basis = g.elementBasis(t + 1);
    rowOffsets.push_back(basis.row);
    colOffsets.push_back(basis.col);
  }
  Value row = emitLaneOffset(b, loc, lane, rowOffsets, op.getIndices()[0]);
  Value col = emitLaneOffset(b, loc, lane, colOffsets, op.getIndices()[1]);
  col = emitSwizzledColumn(b, loc, op.getSwizzleAttr(), row, col);
  Type element = op.getSource().getType().getElementType();
  auto tileType = VectorType::get({plan.numTiles, 2}, element);
  Value tiles = nvgpu::LdMatrixOp::create(b, loc, tileType, op.getSource(),
                                          ValueRange{row, col}, plan.transpose,
                                          plan.numTiles);
  return reshapeVector(b, loc, tiles, op.getResult().getType());
}

Value lowerToElementLoads(OpBuilder &b, MmaLoadOp op, const LoadGeometry &g) {
  Location loc = op.getLoc();
  MemRefType source = op.getSource().getType();
  Type element = source.getElementType();
  int64_t bytes = std::max<int64_t>(1, source.getElementTypeBitWidth() / 8);
  SwizzleAttr swizzle = op.getSwizzleAttr();
  const matrix::FragmentLayout &layout = g.layout;
  Value lane = gpu::LaneIdOp::create(b, loc, /*upperBound=*/nullptr);
  SmallVector<int64_t> rowOffsets, colOffsets;
  for (unsigned bit = 0; bit < layout.numLaneBits; ++bit) {
    rowOffsets.push_back(g.laneBasis(bit).row);
    colOffsets.push_back(g.laneBasis(bit).col);
  }
  Value laneRow = emitLaneOffset(b, loc, lane, rowOffsets, op.getIndices()[0]);
  Value laneCol = emitLaneOffset(b, loc, lane, colOffsets, op.getIndices()[1]);
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  // Runs of up to 16 bytes, inside one swizzle chunk.
  int64_t limit = 16 / bytes;
  if (swizzle)
    limit = std::min<int64_t>(limit, swizzle.getVec());
  int64_t width = getContiguousFragmentRun(layout, g.transpose, limit);
  SmallVector<Value> values;
  for (int64_t e = 0; e < layout.elementsPerLane(); e += width) {
    matrix::Coord offset = g.at(0, e);
    Value row = arith::AddIOp::create(b, loc, laneRow, c(offset.row));
    Value col = arith::AddIOp::create(b, loc, laneCol, c(offset.col));
    col = emitSwizzledColumn(b, loc, swizzle, row, col);
    if (width == 1) {
      values.push_back(
          memref::LoadOp::create(b, loc, op.getSource(), ValueRange{row, col}));
      continue;
    }
    auto runType = VectorType::get({width}, element);
    Value run = vector::LoadOp::create(b, loc, runType, op.getSource(),
                                       ValueRange{row, col});
    for (int64_t i = 0; i < width; ++i)
      values.push_back(vector::ExtractOp::create(b, loc, run, i));
  }
  return vector::FromElementsOp::create(b, loc, op.getResult().getType(),
                                        values);
}

/// nvgpu's register form of a flat fragment: 32-bit registers of 2 halves
/// (or 1 tf32) each.
VectorType nvgpuRegisters(VectorType flat) {
  int64_t perRegister = flat.getElementTypeBitWidth() == 16 ? 2 : 1;
  return VectorType::get({flat.getNumElements() / perRegister, perRegister},
                         flat.getElementType());
}

/// bf16 mma.sync straight to nvvm.mma.sync: convert-nvgpu-to-nvvm cannot
/// type bf16 fragments (MLIR 22), which PTX passes as .b32 registers of two
/// elements each, in fragment order.
Value lowerMmaNvidiaBf16(OpBuilder &b, MmaOp op) {
  Location loc = op.getLoc();
  const matrix::Instruction &inst = getInstruction(op.getKind());
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto registers = [&](Value fragment) {
    auto type = cast<VectorType>(fragment.getType());
    int64_t count = type.getNumElements() / 2;
    Value packed = vector::BitCastOp::create(
        b, loc, VectorType::get({count}, i32), fragment);
    SmallVector<Value> regs;
    for (int64_t i = 0; i < count; ++i)
      regs.push_back(vector::ExtractOp::create(b, loc, packed, i));
    return regs;
  };
  SmallVector<Value> c;
  int64_t accumulators = op.getC().getType().getNumElements();
  for (int64_t i = 0; i < accumulators; ++i)
    c.push_back(vector::ExtractOp::create(b, loc, op.getC(), i));
  auto resultType = LLVM::LLVMStructType::getLiteral(
      b.getContext(), SmallVector<Type>(accumulators, f32));
  auto mma = NVVM::MmaOp::create(
      b, loc, resultType, registers(op.getA()), registers(op.getB()), c,
      ArrayRef<int64_t>{static_cast<int64_t>(inst.m),
                        static_cast<int64_t>(inst.n),
                        static_cast<int64_t>(inst.k)},
      std::nullopt, std::nullopt,
      std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16, NVVM::MMATypes::bf16},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value> d;
  for (int64_t i = 0; i < accumulators; ++i)
    d.push_back(LLVM::ExtractValueOp::create(b, loc, mma, i));
  return vector::FromElementsOp::create(b, loc, op.getC().getType(), d);
}

Value lowerMmaNvidia(OpBuilder &b, MmaOp op) {
  Location loc = op.getLoc();
  const matrix::Instruction &inst = getInstruction(op.getKind());
  if (inst.input == matrix::ElementType::BF16)
    return lowerMmaNvidiaBf16(b, op);
  auto reshape = [&](Value v, VectorType type) -> Value {
    return reshapeVector(b, loc, v, type);
  };
  VectorType cType = op.getC().getType();
  auto cRegisters =
      VectorType::get({cType.getNumElements() / 2, 2}, cType.getElementType());
  Value a = reshape(op.getA(), nvgpuRegisters(op.getA().getType()));
  Value bb = reshape(op.getB(), nvgpuRegisters(op.getB().getType()));
  Value c = reshape(op.getC(), cRegisters);
  bool tf32 = inst.input == matrix::ElementType::TF32;
  Value d =
      nvgpu::MmaSyncOp::create(b, loc, a, bb, c,
                               ArrayRef<int64_t>{static_cast<int64_t>(inst.m),
                                                 static_cast<int64_t>(inst.n),
                                                 static_cast<int64_t>(inst.k)},
                               tf32);
  return reshape(d, cType);
}

Value lowerMmaAmd(OpBuilder &b, MmaOp op) {
  const matrix::Instruction &inst = getInstruction(op.getKind());
  return amdgpu::MFMAOp::create(b, op.getLoc(), op.getC().getType(), inst.m,
                                inst.n, inst.k, /*blocks=*/1, op.getA(),
                                op.getB(), op.getC());
}

struct LowerMatrixOpsPass
    : public mlir::iolite::igpu::impl::LowerMatrixOpsBase<LowerMatrixOpsPass> {
  using Base::Base;

  void runOnOperation() override {
    const TargetDescription *target = lookupTarget(chip);
    if (!target) {
      getOperation().emitError("iolite-gpu-lower-matrix: unknown chip '")
          << chip << "' (known: " << getKnownTargetNames() << ")";
      return signalPassFailure();
    }
    MatrixLoweringLevel lowering;
    if (level == "isa") {
      lowering = MatrixLoweringLevel::Isa;
    } else if (level == "warp") {
      lowering = MatrixLoweringLevel::Warp;
    } else {
      getOperation().emitError("iolite-gpu-lower-matrix: level must be "
                               "'isa' or 'warp', not '")
          << level << "'";
      return signalPassFailure();
    }
    if (failed(lowerMatrixOps(getOperation(), *target, lowering)))
      signalPassFailure();
  }
};

} // namespace

LogicalResult igpu::lowerMatrixOps(Operation *root,
                                   const TargetDescription &target,
                                   MatrixLoweringLevel level) {
  if (level == MatrixLoweringLevel::Warp && !target.emulated)
    return root->emitError("iolite-gpu-lower-matrix: level=warp is only for "
                           "emulated chips; ")
           << target.name << " needs its instructions";
  SmallVector<Operation *> ops;
  root->walk([&](Operation *op) {
    if (isa<MmaOp, MmaLoadOp>(op))
      ops.push_back(op);
  });
  for (Operation *op : ops) {
    MatrixKind kind = isa<MmaOp>(op) ? cast<MmaOp>(op).getKind()
                                     : cast<MmaLoadOp>(op).getKind();
    const matrix::Instruction &inst = getInstruction(kind);
    if (!target.hasMatrixKind(inst.kind))
      return op->emitOpError("matrix instruction ")
             << inst.name << " is not available on " << target.chip;
  }
  for (Operation *op : ops) {
    OpBuilder b(op);
    Value replacement;
    if (auto load = dyn_cast<MmaLoadOp>(op)) {
      const matrix::Instruction &inst = getInstruction(load.getKind());
      LoadGeometry g{inst.layout(load.getOperand() == MatrixOperand::a
                                     ? matrix::Operand::A
                                     : matrix::Operand::B),
                     load.getTranspose()};
      std::optional<LdMatrixPlan> plan;
      if (level == MatrixLoweringLevel::Isa && target.isNvidia())
        plan =
            planLdMatrix(g, load.getSource().getType(), load.getSwizzleAttr());
      replacement = plan ? lowerToLdMatrix(b, load, g, *plan)
                         : lowerToElementLoads(b, load, g);
    } else {
      auto mma = cast<MmaOp>(op);
      if (level == MatrixLoweringLevel::Warp)
        continue;
      replacement =
          target.isNvidia() ? lowerMmaNvidia(b, mma) : lowerMmaAmd(b, mma);
    }
    op->getResult(0).replaceAllUsesWith(replacement);
    op->erase();
  }
  return success();
}
