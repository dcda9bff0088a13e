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

class SharedMemoryPlan {
public:
  struct Buffer {
    std::string name;
    int64_t bytes;
    int64_t alignment;
    unsigned firstPhase;
    unsigned lastPhase;
    int64_t offset = -1;
  };

  /// Declares a buffer live from `firstPhase` to `lastPhase` (inclusive);
  /// returns its id.
  unsigned addBuffer(StringRef name, int64_t bytes, unsigned firstPhase,
                     unsigned lastPhase, int64_t alignment = 16);

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
