//===- MatrixTable.h - Matrix instructions and fragment layouts -*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The single truth about the matrix instructions Iolite emits: for each kind
// (one warp- or wave-level MMA of one shape and input type), its shape and,
// for the A (m x k), B (k x n) and C/D (m x n) operands, which (row, col) of
// the operand each (lane, element) of a lane's fragment holds.
//
// Every layout is bit-linear (as Triton's linear layouts): each bit of the
// lane id and of the element index within the lane's fragment adds a fixed
// (row, col) offset, and the offsets of the set bits add up. Kernel templates
// derive fragment coordinates, row reductions and operand reuse from these
// tables; the lowering to nvgpu / amdgpu derives ldmatrix and LDS reads from
// them; the emulator rebuilds warp tiles from them.
//
// Plain C++ without LLVM or MLIR (only the namespace is shared): the
// runtime library, which links neither, compiles this file too.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_TARGET_MATRIXTABLE_H
#define IOLITE_TARGET_MATRIXTABLE_H

#include <cstddef>
#include <cstdint>

namespace mlir {
namespace iolite {
namespace matrix {

/// One matrix instruction (values are part of the emulator's ABI).
enum class Kind : uint32_t {
  /// No matrix instruction: products on the scalar FMA units.
  Fma = 0,
  /// NVIDIA mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16} (sm_80+).
  NvF16_16x8x16 = 1,
  NvBf16_16x8x16 = 2,
  /// NVIDIA mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 (sm_80+).
  NvTf32_16x8x8 = 3,
  /// AMD v_mfma_f32_32x32x8f16 / _32x32x8bf16_1k (gfx90a, gfx942).
  AmdF16_32x32x8 = 4,
  AmdBf16_32x32x8 = 5,
  /// AMD v_mfma_f32_16x16x16f16 / _16x16x16bf16_1k (gfx90a, gfx942).
  AmdF16_16x16x16 = 6,
  AmdBf16_16x16x16 = 7,
};

enum class Operand : uint32_t { A = 0, B = 1, C = 2 };

/// Element types of the operands. TF32 operands are f32 values of which the
/// instruction reads the sign, exponent and top 10 mantissa bits.
enum class ElementType : uint32_t { F16 = 0, BF16 = 1, TF32 = 2, F32 = 3 };

enum class Vendor : uint32_t { Nvidia = 0, Amd = 1 };

/// The (row, col) offset one bit contributes.
struct Basis {
  int32_t row, col;
};

struct Coord {
  int32_t row, col;
  bool operator==(const Coord &o) const { return row == o.row && col == o.col; }
};

/// Which element of a rows x cols operand each (lane, element) holds.
struct FragmentLayout {
  uint32_t rows, cols;
  uint32_t numLaneBits;
  Basis lane[6];
  uint32_t numElementBits;
  Basis element[5];

  /// Elements of the operand one lane holds.
  uint32_t elementsPerLane() const { return 1u << numElementBits; }
  /// Lanes sharing the operand (the warp or wave size).
  uint32_t lanes() const { return 1u << numLaneBits; }
  /// The (row, col) of `element` of `lane`.
  Coord at(uint32_t lane, uint32_t element) const;
  /// The lane part of the coordinates (element 0).
  Coord laneOffset(uint32_t lane) const { return at(lane, 0); }
  /// The element part of the coordinates (lane 0).
  Coord elementOffset(uint32_t element) const { return at(0, element); }
};

struct Instruction {
  Kind kind;
  /// Stable name: "nv_m16n8k16_f16", "amd_mfma_32x32x8_bf16", ...
  const char *name;
  /// What the instruction is called in the vendor's ISA.
  const char *isaName;
  Vendor vendor;
  uint32_t warpSize;
  uint32_t m, n, k;
  ElementType input;
  ElementType accumulator;
  FragmentLayout a, b, c;

  const FragmentLayout &layout(Operand operand) const;
  /// Floating-point operations of one instruction (an FMA counts 2).
  uint64_t flops() const { return 2ull * m * n * k; }
  /// Bytes of one input element in registers.
  uint32_t inputBytes() const;
};

/// The instruction of `kind`, or nullptr for Kind::Fma and unknown values.
const Instruction *lookup(Kind kind);
/// The instruction called `name`, or nullptr.
const Instruction *lookup(const char *name);
/// Every instruction, in Kind order; `count` receives their number.
const Instruction *allInstructions(size_t &count);
/// "f16", "bf16", "tf32", "f32".
const char *elementTypeName(ElementType type);

} // namespace matrix
} // namespace iolite
} // namespace mlir

#endif // IOLITE_TARGET_MATRIXTABLE_H
