//===- IoliteGPUOps.h - Warp-level matrix ops -------------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// iolite_gpu.mma and iolite_gpu.mma_load (IoliteGPUOps.td), and the helpers
// that connect them to the per-chip instruction table.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITEGPU_IR_IOLITEGPUOPS_H
#define IOLITE_DIALECT_IOLITEGPU_IR_IOLITEGPUOPS_H

#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUDialect.h"
#include "iolite/Target/MatrixTable.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUAttrs.h.inc"

#define GET_OP_CLASSES
#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUOps.h.inc"

namespace mlir {
namespace iolite {
namespace igpu {

/// The table entry of `kind`.
const ::mlir::iolite::matrix::Instruction &getInstruction(MatrixKind kind);
/// The kind of a table entry (not Kind::Fma).
MatrixKind getMatrixKind(const ::mlir::iolite::matrix::Instruction &inst);

/// The MLIR element type of an instruction's input operands in registers
/// (f16, bf16, or f32 for tf32).
Type getInputElementType(MLIRContext *ctx,
                         const ::mlir::iolite::matrix::Instruction &inst);
/// The fragment vector type of `operand` (A, B, or C) of `inst`.
VectorType getFragmentType(MLIRContext *ctx,
                           const ::mlir::iolite::matrix::Instruction &inst,
                           ::mlir::iolite::matrix::Operand operand);

/// Where (lane, element) of an operand fragment lies in a shared-memory tile
/// relative to the load's indices: the operand's (row, col), or (col, row)
/// for a transposed load.
matrix::Coord getFragmentMemoryCoord(const matrix::FragmentLayout &layout,
                                     bool transpose, uint32_t lane,
                                     uint32_t element);
/// The memory offset one lane bit (or element bit) of such a load adds.
matrix::Coord getFragmentMemoryLaneBasis(const matrix::FragmentLayout &layout,
                                         bool transpose, unsigned bit);
matrix::Coord
getFragmentMemoryElementBasis(const matrix::FragmentLayout &layout,
                              bool transpose, unsigned bit);
/// How many consecutive elements of a lane's fragment (a power of two, at
/// most `limit`) are consecutive in one memory row, aligned to their number:
/// one vector load each when the load's column index is aligned too.
int64_t getContiguousFragmentRun(const matrix::FragmentLayout &layout,
                                 bool transpose, int64_t limit);

/// sum over bits b of ((lane >> b) & 1) * offsets[b], plus `base`: the
/// lane part of a bit-linear fragment coordinate.
Value emitLaneOffset(OpBuilder &b, Location loc, Value lane,
                     ArrayRef<int64_t> offsets, Value base);

/// The swizzled column of element (row, col) of a tile laid out with
/// `swizzle` (null: `col`), as index arithmetic at the builder.
Value emitSwizzledColumn(OpBuilder &b, Location loc, SwizzleAttr swizzle,
                         Value row, Value col);
/// The same on constants.
int64_t swizzledColumn(SwizzleAttr swizzle, int64_t row, int64_t col);

} // namespace igpu
} // namespace iolite
} // namespace mlir

#endif // IOLITE_DIALECT_IOLITEGPU_IR_IOLITEGPUOPS_H
