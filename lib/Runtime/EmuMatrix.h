//===- EmuMatrix.h - Matrix instructions of the emulator --------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// What the emulator computes when a whole warp reaches a matrix instruction,
// and the shared-memory bank model it counts wavefronts with.
//
// Two independent descriptions of the fragments meet here:
// - the warp level (iolite_gpu.mma) rebuilds the tiles through Iolite's own
//   instruction table (include/iolite/Target/MatrixTable.h), the one the
//   compiler derives everything from;
// - the ISA level (nvgpu.mma.sync, nvgpu.ldmatrix, amdgpu.mfma, after the
//   compiler's lowering) uses the formulas below, transcribed from the PTX
//   ISA and the AMD CDNA3 ISA documents without reference to that table.
// A kernel run at both levels therefore checks the table and the lowering
// against the vendors' documents; test/Target/matrix-table-test.cpp also
// compares the two descriptions element by element.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_RUNTIME_EMUMATRIX_H
#define IOLITE_LIB_RUNTIME_EMUMATRIX_H

#include "iolite/Target/MatrixTable.h"

#include <cstdint>
#include <string>

namespace iolite::runtime::emu {

/// The fragments one lane passes to an MMA.
struct MmaLaneFragments {
  const void *a, *b, *c;
  void *d;
};

/// Where element `element` of `lane`'s fragment of `operand` lies in the
/// operand, by the ISA documents (the order of nvgpu's and amdgpu's
/// register vectors, flattened). False for an unknown kind or an element
/// outside the fragment.
bool isaFragmentCoord(mlir::iolite::matrix::Kind kind,
                      mlir::iolite::matrix::Operand, uint32_t lane,
                      uint32_t element, mlir::iolite::matrix::Coord &out);

/// Runs one MMA of `kind` for a whole warp (`lanes` has one entry per lane
/// of the instruction's warp size). `isa` picks the ISA formulas over the
/// instruction table. Returns an error message, or "" on success.
std::string executeMma(mlir::iolite::matrix::Kind kind, bool isa,
                       const MmaLaneFragments *lanes);

/// Runs one ldmatrix for a warp of 32 lanes: `rows[l]` is the address lane
/// l gives (used for lanes < 8 * tiles), `results[l]` receives its 2 *
/// tiles 16-bit elements.
void executeLdMatrix(uint32_t tiles, bool transpose, const uint64_t *rows,
                     void *const *results);

/// Shared-memory bank model: 32 banks of 4 bytes on both vendors. A warp-wide
/// access is served in phases of 128 bytes (32 lanes of up to 4 bytes, 16 of
/// 8, 8 of 16; an ldmatrix tile is one phase of 8 rows); a phase takes as
/// many wavefronts as the most distinct 4-byte words any one bank must
/// deliver (lanes reading the same word share it).
struct BankAccess {
  uint32_t lane;
  uint64_t address;
  uint32_t bytes;
};

/// Wavefronts of one phase: `count` accesses.
uint32_t phaseWavefronts(const BankAccess *accesses, size_t count);

} // namespace iolite::runtime::emu

#endif // IOLITE_LIB_RUNTIME_EMUMATRIX_H
