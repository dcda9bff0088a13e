//===- EmuMatrix.cpp - Matrix instructions of the emulator ----------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "EmuMatrix.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

using namespace mlir::iolite::matrix;
using namespace iolite::runtime::emu;

namespace {

//===----------------------------------------------------------------------===//
// The ISA documents' fragment formulas
//===----------------------------------------------------------------------===//

// PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type":
//   groupID = %laneid >> 2, threadID_in_group = %laneid % 4;
//   A: row = groupID for a_i with i < 2 || 4 <= i < 6, else groupID + 8;
//      col = threadID_in_group * 2 + (i & 0x1) (+ 8 for i >= 4);
//   B: row = threadID_in_group * 2 + (i & 0x1) (+ 8 for i >= 2);
//      col = groupID;
//   C: row = groupID for i < 2, else groupID + 8;
//      col = threadID_in_group * 2 + (i & 0x1).
// "... for mma.m16n8k8" with .tf32:
//   A: row = groupID for a0, a2, groupID + 8 for a1, a3;
//      col = threadID_in_group (+ 4 for a2, a3);
//   B: row = threadID_in_group (+ 4 for b1); col = groupID.
bool ptxCoord(Kind kind, Operand operand, uint32_t lane, uint32_t i,
              Coord &out) {
  if (lane >= 32)
    return false;
  int32_t groupID = lane >> 2, threadInGroup = lane % 4;
  bool tf32 = kind == Kind::NvTf32_16x8x8;
  switch (operand) {
  case Operand::A:
    if (!tf32) {
      if (i >= 8)
        return false;
      out.row = (i < 2 || (i >= 4 && i < 6)) ? groupID : groupID + 8;
      out.col = threadInGroup * 2 + (i & 1) + (i >= 4 ? 8 : 0);
    } else {
      if (i >= 4)
        return false;
      out.row = (i == 0 || i == 2) ? groupID : groupID + 8;
      out.col = threadInGroup + (i >= 2 ? 4 : 0);
    }
    return true;
  case Operand::B:
    if (!tf32) {
      if (i >= 4)
        return false;
      out.row = threadInGroup * 2 + (i & 1) + (i >= 2 ? 8 : 0);
    } else {
      if (i >= 2)
        return false;
      out.row = threadInGroup + (i == 1 ? 4 : 0);
    }
    out.col = groupID;
    return true;
  case Operand::C:
    if (i >= 4)
      return false;
    out.row = i < 2 ? groupID : groupID + 8;
    out.col = threadInGroup * 2 + (i & 1);
    return true;
  }
  return false;
}

// AMD CDNA3 ISA, section "Matrix fused multiply-add" operand layouts, for
// lane i of the 64 and register element j:
//   32x32x8:  A[i % 32][4 (i / 32) + j], B[4 (i / 32) + j][i % 32] (j < 4),
//             D[8 (j / 4) + 4 (i / 32) + j % 4][i % 32] (j < 16);
//   16x16x16: A[i % 16][4 (i / 16) + j], B[4 (i / 16) + j][i % 16] (j < 4),
//             D[4 (i / 16) + j][i % 16] (j < 4).
bool cdnaCoord(Kind kind, Operand operand, uint32_t lane, uint32_t j,
               Coord &out) {
  if (lane >= 64)
    return false;
  int32_t i = static_cast<int32_t>(lane);
  int32_t jj = static_cast<int32_t>(j);
  bool big = kind == Kind::AmdF16_32x32x8 || kind == Kind::AmdBf16_32x32x8;
  int32_t dim = big ? 32 : 16;
  switch (operand) {
  case Operand::A:
    if (j >= 4)
      return false;
    out = {i % dim, 4 * (i / dim) + jj};
    return true;
  case Operand::B:
    if (j >= 4)
      return false;
    out = {4 * (i / dim) + jj, i % dim};
    return true;
  case Operand::C:
    if (big) {
      if (j >= 16)
        return false;
      out = {8 * (jj / 4) + 4 * (i / 32) + jj % 4, i % 32};
    } else {
      if (j >= 4)
        return false;
      out = {4 * (i / 16) + jj, i % 16};
    }
    return true;
  }
  return false;
}

//===----------------------------------------------------------------------===//
// Element formats
//===----------------------------------------------------------------------===//

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal: normalise.
    int shift = 0;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3FF;
    bits = sign | uint32_t(113 - shift) << 23 | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float readElement(ElementType type, const void *base, uint32_t index) {
  switch (type) {
  case ElementType::F16: {
    uint16_t h;
    std::memcpy(&h, static_cast<const char *>(base) + 2 * index, 2);
    return halfToFloat(h);
  }
  case ElementType::BF16: {
    uint16_t h;
    std::memcpy(&h, static_cast<const char *>(base) + 2 * index, 2);
    uint32_t bits = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  case ElementType::TF32: {
    // The instruction reads sign, exponent and the top 10 mantissa bits.
    uint32_t bits;
    std::memcpy(&bits, static_cast<const char *>(base) + 4 * index, 4);
    bits &= 0xFFFFE000u;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  case ElementType::F32:
    break;
  }
  float f;
  std::memcpy(&f, static_cast<const char *>(base) + 4 * index, 4);
  return f;
}

uint32_t isaFragmentElements(const Instruction &inst, Operand operand) {
  // Counted from the formulas: the first element index they reject.
  uint32_t n = 0;
  Coord c;
  while (n < 64 && isaFragmentCoord(inst.kind, operand, 0, n, c))
    ++n;
  return n;
}

} // namespace

bool iolite::runtime::emu::isaFragmentCoord(Kind kind, Operand operand,
                                            uint32_t lane, uint32_t element,
                                            Coord &out) {
  switch (kind) {
  case Kind::NvF16_16x8x16:
  case Kind::NvBf16_16x8x16:
  case Kind::NvTf32_16x8x8:
    return ptxCoord(kind, operand, lane, element, out);
  case Kind::AmdF16_32x32x8:
  case Kind::AmdBf16_32x32x8:
  case Kind::AmdF16_16x16x16:
  case Kind::AmdBf16_16x16x16:
    return cdnaCoord(kind, operand, lane, element, out);
  case Kind::Fma:
    break;
  }
  return false;
}

std::string iolite::runtime::emu::executeMma(Kind kind, bool isa,
                                             const MmaLaneFragments *lanes) {
  const Instruction *inst = lookup(kind);
  if (!inst)
    return "unknown matrix instruction kind " +
           std::to_string(static_cast<uint32_t>(kind));
  const uint32_t m = inst->m, n = inst->n, k = inst->k;
  const uint32_t warp = inst->warpSize;
  std::vector<double> a(m * k), b(k * n), c(m * n);
  std::vector<uint8_t> seenA(m * k), seenB(k * n), seenC(m * n);

  auto coordOf = [&](Operand operand, uint32_t lane, uint32_t e,
                     Coord &out) -> bool {
    if (isa)
      return isaFragmentCoord(kind, operand, lane, e, out);
    out = inst->layout(operand).at(lane, e);
    return true;
  };
  auto elementsOf = [&](Operand operand) {
    return isa ? isaFragmentElements(*inst, operand)
               : inst->layout(operand).elementsPerLane();
  };
  // Rebuilds one operand tile from every lane's fragment; each element of
  // the tile must come from exactly one (lane, element).
  auto gather = [&](Operand operand, uint32_t rows, uint32_t cols,
                    std::vector<double> &tile, std::vector<uint8_t> &seen,
                    ElementType type,
                    const void *MmaLaneFragments::*field) -> std::string {
    uint32_t perLane = elementsOf(operand);
    for (uint32_t lane = 0; lane < warp; ++lane)
      for (uint32_t e = 0; e < perLane; ++e) {
        Coord rc;
        if (!coordOf(operand, lane, e, rc) || rc.row < 0 || rc.col < 0 ||
            uint32_t(rc.row) >= rows || uint32_t(rc.col) >= cols)
          return "fragment element outside the tile";
        size_t at = size_t(rc.row) * cols + rc.col;
        if (seen[at]++)
          return "two fragment elements hold the same tile element";
        tile[at] = readElement(type, lanes[lane].*field, e);
      }
    for (uint8_t s : seen)
      if (!s)
        return "the fragments do not cover the tile";
    return "";
  };
  const void *MmaLaneFragments::*fa = &MmaLaneFragments::a;
  const void *MmaLaneFragments::*fb = &MmaLaneFragments::b;
  const void *MmaLaneFragments::*fc = &MmaLaneFragments::c;
  std::string error = gather(Operand::A, m, k, a, seenA, inst->input, fa);
  if (error.empty())
    error = gather(Operand::B, k, n, b, seenB, inst->input, fb);
  if (error.empty())
    error = gather(Operand::C, m, n, c, seenC, ElementType::F32, fc);
  if (!error.empty())
    return std::string(inst->name) + ": " + error;

  // Exact products (f16/bf16/tf32 products are exact in double), summed in
  // double, rounded once to f32.
  std::vector<float> d(m * n);
  for (uint32_t i = 0; i < m; ++i)
    for (uint32_t j = 0; j < n; ++j) {
      double sum = c[i * n + j];
      for (uint32_t p = 0; p < k; ++p)
        sum += a[i * k + p] * b[p * n + j];
      d[i * n + j] = static_cast<float>(sum);
    }
  uint32_t perLane = elementsOf(Operand::C);
  for (uint32_t lane = 0; lane < warp; ++lane)
    for (uint32_t e = 0; e < perLane; ++e) {
      Coord rc;
      coordOf(Operand::C, lane, e, rc);
      std::memcpy(static_cast<char *>(lanes[lane].d) + 4 * e,
                  &d[size_t(rc.row) * n + rc.col], 4);
    }
  return "";
}

void iolite::runtime::emu::executeLdMatrix(uint32_t tiles, bool transpose,
                                           const uint64_t *rows,
                                           void *const *results) {
  // PTX ISA, ldmatrix: for each 8x8 matrix i, threads 8i..8i+7 give the
  // addresses of its rows; lane l receives row l / 4, elements 2 (l % 4)
  // and 2 (l % 4) + 1 (with .trans: column l / 4 of rows 2 (l % 4) + {0,1}).
  for (uint32_t lane = 0; lane < 32; ++lane)
    for (uint32_t i = 0; i < tiles; ++i)
      for (uint32_t j = 0; j < 2; ++j) {
        uint32_t row = transpose ? 2 * (lane % 4) + j : lane / 4;
        uint32_t col = transpose ? lane / 4 : 2 * (lane % 4) + j;
        const char *source =
            reinterpret_cast<const char *>(rows[8 * i + row]) + 2 * col;
        std::memcpy(static_cast<char *>(results[lane]) + 2 * (2 * i + j),
                    source, 2);
      }
}

uint32_t iolite::runtime::emu::phaseWavefronts(const BankAccess *accesses,
                                               size_t count) {
  // Distinct words per bank.
  std::vector<uint64_t> words[32];
  uint32_t most = 0;
  for (size_t i = 0; i < count; ++i) {
    if (accesses[i].bytes == 0)
      continue;
    uint64_t first = accesses[i].address / 4;
    uint64_t last = (accesses[i].address + accesses[i].bytes - 1) / 4;
    for (uint64_t w = first; w <= last; ++w) {
      std::vector<uint64_t> &bank = words[w % 32];
      if (std::find(bank.begin(), bank.end(), w) == bank.end()) {
        bank.push_back(w);
        most = std::max<uint32_t>(most, bank.size());
      }
    }
  }
  return most;
}
