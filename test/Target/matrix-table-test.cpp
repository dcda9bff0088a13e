//===- matrix-table-test.cpp - The instruction table against three others -===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Holds Iolite's instruction table (include/iolite/Target/MatrixTable.h),
// from which the compiler derives every fragment coordinate, element by
// element against:
//  1. the ISA formulas the emulator runs lowered code with
//     (lib/Runtime/EmuMatrix.cpp, transcribed from the PTX and CDNA3 ISA
//     documents), for every kind, operand, lane and element;
//  2. upstream MLIR's nvgpu::getLaneIdAndValueIdToOperandCoord for the
//     NVIDIA kinds (its B operand is n x k);
//  3. a copy of the table with two elements swapped (a planted wrong
//     register order), which both comparisons must reject.
// Exits non-zero on any disagreement.
//
//===----------------------------------------------------------------------===//

#include "../../lib/Runtime/EmuMatrix.h"
#include "iolite/Target/MatrixTable.h"

#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/NVGPU/Utils/MMAUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"

#include <cstdio>
#include <functional>
#include <string>

using namespace mlir;
using namespace mlir::iolite::matrix;
namespace emu = ::iolite::runtime::emu;

namespace {

const char *operandName(Operand operand) {
  return operand == Operand::A ? "A" : operand == Operand::B ? "B" : "C";
}

/// A coordinate function to hold the table against; false where it has no
/// element.
using CoordFn =
    std::function<bool(Operand, uint32_t lane, uint32_t element, Coord &)>;

/// Counts the (operand, lane, element) where `layouts` and `other` differ,
/// printing the first few.
int compare(const Instruction &inst,
            const std::function<const FragmentLayout &(Operand)> &layouts,
            const CoordFn &other, const char *otherName, bool quiet) {
  int mismatches = 0;
  for (Operand operand : {Operand::A, Operand::B, Operand::C}) {
    const FragmentLayout &layout = layouts(operand);
    for (uint32_t lane = 0; lane < inst.warpSize; ++lane) {
      for (uint32_t e = 0; e < layout.elementsPerLane(); ++e) {
        Coord want, got = layout.at(lane, e);
        bool known = other(operand, lane, e, want);
        if (known && want == got)
          continue;
        if (!quiet && mismatches < 5)
          std::printf("  %s %s lane %u element %u: table (%d, %d), %s %s\n",
                      inst.name, operandName(operand), lane, e, got.row,
                      got.col, otherName,
                      known ? ("(" + std::to_string(want.row) + ", " +
                               std::to_string(want.col) + ")")
                                  .c_str()
                            : "has no such element");
        ++mismatches;
      }
      // The other description must not have more elements either.
      Coord extra;
      if (other(operand, lane, layout.elementsPerLane(), extra)) {
        if (!quiet)
          std::printf("  %s %s: %s has more than %u elements per lane\n",
                      inst.name, operandName(operand), otherName,
                      layout.elementsPerLane());
        ++mismatches;
      }
    }
  }
  return mismatches;
}

CoordFn isaFormulas(const Instruction &inst) {
  return [&inst](Operand operand, uint32_t lane, uint32_t e, Coord &out) {
    return emu::isaFragmentCoord(inst.kind, operand, lane, e, out);
  };
}

/// Upstream's coordinates of nvgpu.mma.sync fragments: A is m x k, B is
/// n x k (mma.sync's "col" B), C is m x n; the value id counts the
/// fragment's elements in register order. Upstream has no bf16 entry; the
/// PTX ISA gives .bf16 the .f16 fragments, so bf16 is asked as f16.
CoordFn upstreamMma(MLIRContext &ctx, const Instruction &inst) {
  return [&ctx, &inst](Operand operand, uint32_t lane, uint32_t e, Coord &out) {
    OpBuilder b(&ctx);
    Type input = inst.input == ElementType::TF32 ? (Type)b.getF32Type()
                                                 : (Type)b.getF16Type();
    nvgpu::WarpMatrixInfo info;
    const FragmentLayout &layout = inst.layout(operand);
    if (e >= layout.elementsPerLane())
      return false;
    switch (operand) {
    case Operand::A:
      info = {VectorType::get({inst.m, inst.k}, input),
              nvgpu::MatMulOperandRole::A};
      break;
    case Operand::B:
      info = {VectorType::get({inst.n, inst.k}, input),
              nvgpu::MatMulOperandRole::B};
      break;
    case Operand::C:
      info = {VectorType::get({inst.m, inst.n}, b.getF32Type()),
              nvgpu::MatMulOperandRole::C};
      break;
    }
    FailureOr<AffineMap> map =
        nvgpu::getLaneIdAndValueIdToOperandCoord(b, b.getUnknownLoc(), info);
    if (failed(map))
      return false;
    SmallVector<int64_t> rc = map->compose(
        ArrayRef<int64_t>{static_cast<int64_t>(lane), static_cast<int64_t>(e)});
    out = operand == Operand::B
              ? Coord{static_cast<int32_t>(rc[1]), static_cast<int32_t>(rc[0])}
              : Coord{static_cast<int32_t>(rc[0]), static_cast<int32_t>(rc[1])};
    return true;
  };
}

} // namespace

int main() {
  MLIRContext ctx;
  ctx.loadDialect<nvgpu::NVGPUDialect>();
  size_t count = 0;
  const Instruction *all = allInstructions(count);
  int failures = 0;
  for (size_t i = 0; i < count; ++i) {
    const Instruction &inst = all[i];
    auto table = [&inst](Operand operand) -> const FragmentLayout & {
      return inst.layout(operand);
    };
    int isa =
        compare(inst, table, isaFormulas(inst), "the ISA formulas", false);
    std::printf("%s: %s against the ISA formulas\n", inst.name,
                isa ? "DIFFERS" : "matches");
    failures += isa != 0;
    if (inst.vendor == Vendor::Nvidia) {
      int up = compare(inst, table, upstreamMma(ctx, inst),
                       "nvgpu::getLaneIdAndValueIdToOperandCoord", false);
      std::printf("%s: %s against upstream MLIR\n", inst.name,
                  up ? "DIFFERS" : "matches");
      failures += up != 0;
    }

    // A planted wrong register order: swap the two lowest element bits of
    // the A fragment (or its only two element bases' roles). Both
    // comparisons must notice.
    FragmentLayout planted = inst.a;
    if (planted.numElementBits >= 2)
      std::swap(planted.element[0], planted.element[1]);
    else
      std::swap(planted.element[0], planted.lane[0]);
    auto broken = [&](Operand operand) -> const FragmentLayout & {
      return operand == Operand::A ? planted : inst.layout(operand);
    };
    int caught = compare(inst, broken, isaFormulas(inst), "", true);
    if (inst.vendor == Vendor::Nvidia)
      caught = std::min(
          caught, compare(inst, broken, upstreamMma(ctx, inst), "", true));
    std::printf("%s: a swapped A register order is %s (%d elements)\n",
                inst.name, caught ? "caught" : "NOT CAUGHT", caught);
    failures += caught == 0;
  }
  std::printf("%s\n", failures ? "FAILED" : "all instruction tables agree");
  return failures ? 1 : 0;
}
