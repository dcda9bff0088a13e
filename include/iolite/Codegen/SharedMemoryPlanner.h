//===- SharedMemoryPlanner.h - One shared-memory buffer per kernel -*- C++
//-*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Every kernel gets one dynamic shared-memory allocation. Templates declare
// their buffers with the phases (program points of their own choosing) over
// which each is live; the planner places them so that buffers whose phases
// do not overlap share bytes, then the template asks the target whether the
// total fits before emitting any code that depends on it.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_CODEGEN_SHAREDMEMORYPLANNER_H
#define IOLITE_CODEGEN_SHAREDMEMORYPLANNER_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include <string>

namespace mlir {
namespace iolite {

/// The XOR swizzle of a 2-D tile (see #iolite_gpu.swizzle): element
/// (row, col) is stored at column ((col / vec) ^ ((row / perPhase) %
/// maxPhase)) * vec + col % vec. maxPhase 1 is no swizzle.
struct TileSwizzle {
  int64_t vec = 1, perPhase = 1, maxPhase = 1;
  bool isIdentity() const { return maxPhase == 1; }
};

/// Chooses the swizzle of a tile of `rows` x `cols` elements of
/// `elementBytes` whose readers have consecutive lanes read
/// `readBytes` at the same column of consecutive rows (ldmatrix: 16, an
/// MFMA fragment of 4 halves: 8): such a 128-byte phase of the 32 banks
/// then touches every bank once. Without such readers (0) nothing is
/// swizzled.
TileSwizzle chooseTileSwizzle(int64_t rows, int64_t cols, int64_t elementBytes,
                              int64_t readBytes);

class SharedMemoryPlan {
public:
  struct Buffer {
    std::string name;
    int64_t bytes = 0;
    int64_t alignment = 16;
    unsigned firstPhase = 0;
    unsigned lastPhase = 0;
    int64_t offset = -1;
    /// For tiles: rows x cols of elementBytes, and their swizzle.
    int64_t rows = 0, cols = 0, elementBytes = 0;
    TileSwizzle swizzle;
  };

  /// Declares a buffer live from `firstPhase` to `lastPhase` (inclusive);
  /// returns its id.
  unsigned addBuffer(StringRef name, int64_t bytes, unsigned firstPhase,
                     unsigned lastPhase, int64_t alignment = 16);
  /// Declares a 2-D tile of `copies` x `rows` rows of `cols` elements (one
  /// tile per pipeline stage, stacked along the rows) laid out with the
  /// swizzle chooseTileSwizzle picks for `readBytes`; returns its id.
  unsigned addTile(StringRef name, int64_t copies, int64_t rows, int64_t cols,
                   int64_t elementBytes, int64_t readBytes, unsigned firstPhase,
                   unsigned lastPhase);
  /// The swizzle of a tile (identity for plain buffers).
  TileSwizzle getSwizzle(unsigned id) const { return buffers[id].swizzle; }

  /// Places every buffer (largest first, lowest offset that overlaps no
  /// buffer live at the same time) and returns the total size in bytes.
  int64_t place();

  int64_t getOffset(unsigned id) const { return buffers[id].offset; }
  int64_t getTotalBytes() const { return totalBytes; }
  ArrayRef<Buffer> getBuffers() const { return buffers; }
  /// Bytes the buffers would take without any reuse (for remarks/tests).
  int64_t getUnsharedBytes() const;
  /// "A[0,4096) B[4096,8192)" for remarks and diagnostics.
  std::string describe() const;

private:
  SmallVector<Buffer> buffers;
  int64_t totalBytes = 0;
};

} // namespace iolite
} // namespace mlir

#endif // IOLITE_CODEGEN_SHAREDMEMORYPLANNER_H
