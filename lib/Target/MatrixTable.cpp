//===- MatrixTable.cpp - Matrix instructions and fragment layouts ---------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Sources: PTX ISA 8.x, "Matrix Fragments for mma.m16n8k16 with floating
// point type" and "... mma.m16n8k8 with .tf32" (groupID = lane >> 2,
// threadID_in_group = lane % 4); AMD CDNA3 ISA, "Dependent arithmetic
// instructions / MFMA" operand layouts for 32x32x8 and 16x16x16 (the same on
// CDNA2 for the f16 and bf16_1k forms). Each layout is written as the offset
// each lane bit and element bit adds; test/Target/matrix-table-test.cpp holds
// them against the ISA formulas the emulator uses and against upstream MLIR's
// nvgpu::getLaneIdAndValueIdToOperandCoord.
//
//===----------------------------------------------------------------------===//

#include "iolite/Target/MatrixTable.h"

#include <cstring>

using namespace mlir::iolite::matrix;

namespace {

// NVIDIA m16n8k16, 16-bit inputs. A (16x16): elements (a0..a7) pair up as
// (a0,a1) row g, (a2,a3) row g+8, (a4,a5) row g col+8, (a6,a7) row g+8 col+8,
// with columns 2t + {0,1}; B (16x8): (b0,b1) rows 2t + {0,1}, (b2,b3) rows
// 2t + 8 + {0,1}, column g; C (16x8): (c0,c1) row g, (c2,c3) row g+8,
// columns 2t + {0,1}.
constexpr FragmentLayout kNv16A = {16, 16,
                                   5,  {{0, 2}, {0, 4}, {1, 0}, {2, 0}, {4, 0}},
                                   3,  {{0, 1}, {8, 0}, {0, 8}}};
constexpr FragmentLayout kNv16B = {
    16, 8, 5, {{2, 0}, {4, 0}, {0, 1}, {0, 2}, {0, 4}}, 2, {{1, 0}, {8, 0}}};
constexpr FragmentLayout kNvC = {
    16, 8, 5, {{0, 2}, {0, 4}, {1, 0}, {2, 0}, {4, 0}}, 2, {{0, 1}, {8, 0}}};

// NVIDIA m16n8k8 tf32. A (16x8): a0 row g, a1 row g+8, a2 row g col+4, a3
// row g+8 col+4, column t; B (8x8): b0 row t, b1 row t+4, column g.
constexpr FragmentLayout kNvTf32A = {
    16, 8, 5, {{0, 1}, {0, 2}, {1, 0}, {2, 0}, {4, 0}}, 2, {{8, 0}, {0, 4}}};
constexpr FragmentLayout kNvTf32B = {
    8, 8, 5, {{1, 0}, {2, 0}, {0, 1}, {0, 2}, {0, 4}}, 1, {{4, 0}}};

// AMD 32x32x8 (wave64). A (32x8): row lane % 32, columns 4 (lane / 32) +
// {0..3}; B (8x32): column lane % 32, rows 4 (lane / 32) + {0..3}; C (32x32,
// 16 per lane): column lane % 32, row 8 (e / 4) + 4 (lane / 32) + e % 4.
constexpr FragmentLayout kAmd32A = {
    32, 8,
    6,  {{1, 0}, {2, 0}, {4, 0}, {8, 0}, {16, 0}, {0, 4}},
    2,  {{0, 1}, {0, 2}}};
constexpr FragmentLayout kAmd32B = {
    8, 32,
    6, {{0, 1}, {0, 2}, {0, 4}, {0, 8}, {0, 16}, {4, 0}},
    2, {{1, 0}, {2, 0}}};
constexpr FragmentLayout kAmd32C = {
    32, 32,
    6,  {{0, 1}, {0, 2}, {0, 4}, {0, 8}, {0, 16}, {4, 0}},
    4,  {{1, 0}, {2, 0}, {8, 0}, {16, 0}}};

// AMD 16x16x16 (wave64). A (16x16): row lane % 16, columns 4 (lane / 16) +
// {0..3}; B: column lane % 16, rows 4 (lane / 16) + {0..3}; C (4 per lane):
// column lane % 16, row 4 (lane / 16) + e.
constexpr FragmentLayout kAmd16A = {
    16, 16,
    6,  {{1, 0}, {2, 0}, {4, 0}, {8, 0}, {0, 4}, {0, 8}},
    2,  {{0, 1}, {0, 2}}};
constexpr FragmentLayout kAmd16B = {
    16, 16,
    6,  {{0, 1}, {0, 2}, {0, 4}, {0, 8}, {4, 0}, {8, 0}},
    2,  {{1, 0}, {2, 0}}};
constexpr FragmentLayout kAmd16C = {
    16, 16,
    6,  {{0, 1}, {0, 2}, {0, 4}, {0, 8}, {4, 0}, {8, 0}},
    2,  {{1, 0}, {2, 0}}};

constexpr Instruction kInstructions[] = {
    {Kind::NvF16_16x8x16, "nv_m16n8k16_f16",
     "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32", Vendor::Nvidia, 32,
     16, 8, 16, ElementType::F16, ElementType::F32, kNv16A, kNv16B, kNvC},
    {Kind::NvBf16_16x8x16, "nv_m16n8k16_bf16",
     "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", Vendor::Nvidia, 32,
     16, 8, 16, ElementType::BF16, ElementType::F32, kNv16A, kNv16B, kNvC},
    {Kind::NvTf32_16x8x8, "nv_m16n8k8_tf32",
     "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32", Vendor::Nvidia, 32,
     16, 8, 8, ElementType::TF32, ElementType::F32, kNvTf32A, kNvTf32B, kNvC},
    {Kind::AmdF16_32x32x8, "amd_mfma_32x32x8_f16", "v_mfma_f32_32x32x8_f16",
     Vendor::Amd, 64, 32, 32, 8, ElementType::F16, ElementType::F32, kAmd32A,
     kAmd32B, kAmd32C},
    {Kind::AmdBf16_32x32x8, "amd_mfma_32x32x8_bf16",
     "v_mfma_f32_32x32x8_bf16_1k", Vendor::Amd, 64, 32, 32, 8,
     ElementType::BF16, ElementType::F32, kAmd32A, kAmd32B, kAmd32C},
    {Kind::AmdF16_16x16x16, "amd_mfma_16x16x16_f16", "v_mfma_f32_16x16x16_f16",
     Vendor::Amd, 64, 16, 16, 16, ElementType::F16, ElementType::F32, kAmd16A,
     kAmd16B, kAmd16C},
    {Kind::AmdBf16_16x16x16, "amd_mfma_16x16x16_bf16",
     "v_mfma_f32_16x16x16_bf16_1k", Vendor::Amd, 64, 16, 16, 16,
     ElementType::BF16, ElementType::F32, kAmd16A, kAmd16B, kAmd16C},
};

} // namespace

Coord FragmentLayout::at(uint32_t laneId, uint32_t elementId) const {
  Coord c{0, 0};
  for (uint32_t bit = 0; bit < numLaneBits; ++bit)
    if (laneId >> bit & 1) {
      c.row += lane[bit].row;
      c.col += lane[bit].col;
    }
  for (uint32_t bit = 0; bit < numElementBits; ++bit)
    if (elementId >> bit & 1) {
      c.row += element[bit].row;
      c.col += element[bit].col;
    }
  return c;
}

const FragmentLayout &Instruction::layout(Operand operand) const {
  switch (operand) {
  case Operand::A:
    return a;
  case Operand::B:
    return b;
  case Operand::C:
    break;
  }
  return c;
}

uint32_t Instruction::inputBytes() const {
  return input == ElementType::F16 || input == ElementType::BF16 ? 2 : 4;
}

const Instruction *mlir::iolite::matrix::lookup(Kind kind) {
  for (const Instruction &inst : kInstructions)
    if (inst.kind == kind)
      return &inst;
  return nullptr;
}

const Instruction *mlir::iolite::matrix::lookup(const char *name) {
  for (const Instruction &inst : kInstructions)
    if (std::strcmp(inst.name, name) == 0)
      return &inst;
  return nullptr;
}

const Instruction *mlir::iolite::matrix::allInstructions(size_t &count) {
  count = sizeof(kInstructions) / sizeof(kInstructions[0]);
  return kInstructions;
}

const char *mlir::iolite::matrix::elementTypeName(ElementType type) {
  switch (type) {
  case ElementType::F16:
    return "f16";
  case ElementType::BF16:
    return "bf16";
  case ElementType::TF32:
    return "tf32";
  case ElementType::F32:
    break;
  }
  return "f32";
}
