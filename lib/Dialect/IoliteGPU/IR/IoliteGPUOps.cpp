//===- IoliteGPUOps.cpp - Warp-level matrix ops ---------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::igpu;
namespace matrix = ::mlir::iolite::matrix;

#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUDialect.cpp.inc"
#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUAttrs.cpp.inc"

void IoliteGPUDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Table helpers
//===----------------------------------------------------------------------===//

const matrix::Instruction &igpu::getInstruction(MatrixKind kind) {
  const matrix::Instruction *inst =
      matrix::lookup(static_cast<matrix::Kind>(static_cast<uint32_t>(kind)));
  assert(inst && "every MatrixKind has a table entry");
  return *inst;
}

MatrixKind igpu::getMatrixKind(const matrix::Instruction &inst) {
  std::optional<MatrixKind> kind =
      symbolizeMatrixKind(static_cast<uint32_t>(inst.kind));
  assert(kind && "every table entry has a MatrixKind");
  return *kind;
}

Type igpu::getInputElementType(MLIRContext *ctx,
                               const matrix::Instruction &inst) {
  switch (inst.input) {
  case matrix::ElementType::F16:
    return Float16Type::get(ctx);
  case matrix::ElementType::BF16:
    return BFloat16Type::get(ctx);
  case matrix::ElementType::TF32:
  case matrix::ElementType::F32:
    break;
  }
  return Float32Type::get(ctx);
}

VectorType igpu::getFragmentType(MLIRContext *ctx,
                                 const matrix::Instruction &inst,
                                 matrix::Operand operand) {
  Type element = operand == matrix::Operand::C ? (Type)Float32Type::get(ctx)
                                               : getInputElementType(ctx, inst);
  return VectorType::get(
      {static_cast<int64_t>(inst.layout(operand).elementsPerLane())}, element);
}

matrix::Coord igpu::getFragmentMemoryCoord(const matrix::FragmentLayout &layout,
                                           bool transpose, uint32_t lane,
                                           uint32_t element) {
  matrix::Coord c = layout.at(lane, element);
  return transpose ? matrix::Coord{c.col, c.row} : c;
}

matrix::Coord
igpu::getFragmentMemoryLaneBasis(const matrix::FragmentLayout &layout,
                                 bool transpose, unsigned bit) {
  matrix::Basis basis = layout.lane[bit];
  return transpose ? matrix::Coord{basis.col, basis.row}
                   : matrix::Coord{basis.row, basis.col};
}

matrix::Coord
igpu::getFragmentMemoryElementBasis(const matrix::FragmentLayout &layout,
                                    bool transpose, unsigned bit) {
  matrix::Basis basis = layout.element[bit];
  return transpose ? matrix::Coord{basis.col, basis.row}
                   : matrix::Coord{basis.row, basis.col};
}

int64_t igpu::getContiguousFragmentRun(const matrix::FragmentLayout &layout,
                                       bool transpose, int64_t limit) {
  limit = std::min<int64_t>(limit, layout.elementsPerLane());
  int64_t width = 1;
  while (width * 2 <= limit) {
    unsigned bits = llvm::Log2_64(width * 2);
    bool ok = true;
    // The low element bits step the column by 1, 2, 4, ...; every other
    // basis keeps the column a multiple of the run.
    for (unsigned bit = 0; bit < layout.numElementBits && ok; ++bit) {
      matrix::Coord basis =
          getFragmentMemoryElementBasis(layout, transpose, bit);
      ok = bit < bits ? basis.row == 0 && basis.col == (1 << bit)
                      : basis.col % (width * 2) == 0;
    }
    for (unsigned bit = 0; bit < layout.numLaneBits && ok; ++bit)
      ok = getFragmentMemoryLaneBasis(layout, transpose, bit).col %
               (width * 2) ==
           0;
    if (!ok)
      break;
    width *= 2;
  }
  return width;
}

Value igpu::emitLaneOffset(OpBuilder &b, Location loc, Value lane,
                           ArrayRef<int64_t> offsets, Value base) {
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value result = base;
  for (auto [bit, offset] : llvm::enumerate(offsets)) {
    if (offset == 0)
      continue;
    Value shifted =
        bit ? (Value)arith::ShRUIOp::create(b, loc, lane, c(bit)) : lane;
    Value term = arith::MulIOp::create(
        b, loc, arith::AndIOp::create(b, loc, shifted, c(1)), c(offset));
    result = result ? (Value)arith::AddIOp::create(b, loc, result, term) : term;
  }
  return result ? result : c(0);
}

int64_t igpu::swizzledColumn(SwizzleAttr swizzle, int64_t row, int64_t col) {
  if (!swizzle)
    return col;
  int64_t vec = swizzle.getVec();
  int64_t phase = (row / swizzle.getPerPhase()) % swizzle.getMaxPhase();
  return ((col / vec) ^ phase) * vec + col % vec;
}

Value igpu::emitSwizzledColumn(OpBuilder &b, Location loc, SwizzleAttr swizzle,
                               Value row, Value col) {
  if (!swizzle || swizzle.getMaxPhase() == 1)
    return col;
  auto c = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  // Powers of two throughout (the verifier checks), so shifts and masks.
  int64_t vec = swizzle.getVec();
  Value phase = row;
  if (swizzle.getPerPhase() > 1)
    phase = arith::ShRUIOp::create(b, loc, phase,
                                   c(llvm::Log2_64(swizzle.getPerPhase())));
  phase = arith::AndIOp::create(b, loc, phase, c(swizzle.getMaxPhase() - 1));
  if (vec > 1)
    phase = arith::ShLIOp::create(b, loc, phase, c(llvm::Log2_64(vec)));
  // Only the chunk bits change: col xor (phase * vec).
  return arith::XOrIOp::create(b, loc, col, phase);
}

//===----------------------------------------------------------------------===//
// SwizzleAttr
//===----------------------------------------------------------------------===//

LogicalResult SwizzleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t vec, int64_t perPhase,
                                  int64_t maxPhase) {
  for (auto [name, value] : {std::pair<StringRef, int64_t>{"vec", vec},
                             {"per_phase", perPhase},
                             {"max_phase", maxPhase}})
    if (value < 1 || !llvm::isPowerOf2_64(value))
      return emitError() << "swizzle " << name
                         << " must be a positive power of two, not " << value;
  return success();
}

//===----------------------------------------------------------------------===//
// MmaOp
//===----------------------------------------------------------------------===//

static LogicalResult checkFragment(Operation *op, StringRef what,
                                   VectorType actual, VectorType expected) {
  if (actual == expected)
    return success();
  return op->emitOpError() << what << " must be " << expected
                           << " for this kind, not " << actual;
}

LogicalResult MmaOp::verify() {
  const matrix::Instruction &inst = getInstruction(getKind());
  MLIRContext *ctx = getContext();
  if (failed(checkFragment(*this, "A fragment", getA().getType(),
                           getFragmentType(ctx, inst, matrix::Operand::A))) ||
      failed(checkFragment(*this, "B fragment", getB().getType(),
                           getFragmentType(ctx, inst, matrix::Operand::B))) ||
      failed(checkFragment(*this, "accumulator", getC().getType(),
                           getFragmentType(ctx, inst, matrix::Operand::C))))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// MmaLoadOp
//===----------------------------------------------------------------------===//

LogicalResult MmaLoadOp::verify() {
  const matrix::Instruction &inst = getInstruction(getKind());
  MemRefType source = getSource().getType();
  if (getIndices().size() != 2)
    return emitOpError("needs 2 indices, not ") << getIndices().size();
  Attribute space = source.getMemorySpace();
  bool shared = false;
  if (auto gpuSpace = dyn_cast_or_null<gpu::AddressSpaceAttr>(space))
    shared = gpuSpace.getValue() == gpu::AddressSpace::Workgroup;
  else if (auto number = dyn_cast_or_null<IntegerAttr>(space))
    shared = number.getInt() == 3;
  if (!shared)
    return emitOpError("source must be in workgroup (shared) memory, not ")
           << source;
  matrix::Operand operand = getOperand() == MatrixOperand::a
                                ? matrix::Operand::A
                                : matrix::Operand::B;
  VectorType expected = getFragmentType(getContext(), inst, operand);
  if (source.getElementType() != expected.getElementType())
    return emitOpError("source element type must be ")
           << expected.getElementType() << " for this kind, not "
           << source.getElementType();
  if (failed(checkFragment(*this, "result", getResult().getType(), expected)))
    return failure();
  if (SwizzleAttr swizzle = getSwizzleAttr()) {
    int64_t cols = source.getDimSize(1);
    int64_t span = swizzle.getVec() * swizzle.getMaxPhase();
    if (ShapedType::isDynamic(cols) || cols % span != 0)
      return emitOpError("a swizzled tile needs a static row length that is "
                         "a multiple of vec * max_phase = ")
             << span << ", not " << source.getDimSize(1);
  }
  return success();
}

#define GET_OP_CLASSES
#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUOps.cpp.inc"
