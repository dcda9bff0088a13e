//===- SharedMemoryPlanner.cpp - Liveness-based shared-memory layout ------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Greedy interval placement as in Triton's Allocation analysis: buffers are
// placed largest first at the lowest aligned offset that does not collide
// with an already placed buffer whose live phases overlap.
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/SharedMemoryPlanner.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Sequence.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::iolite;

unsigned SharedMemoryPlan::addBuffer(StringRef name, int64_t bytes,
                                     unsigned firstPhase, unsigned lastPhase,
                                     int64_t alignment) {
  buffers.push_back({name.str(), bytes, alignment, firstPhase, lastPhase});
  return buffers.size() - 1;
}

int64_t SharedMemoryPlan::place() {
  SmallVector<unsigned> order;
  for (unsigned i = 0, e = buffers.size(); i < e; ++i)
    order.push_back(i);
  // Largest first; ties keep declaration order.
  llvm::sort(order, [&](unsigned a, unsigned b) {
    if (buffers[a].bytes != buffers[b].bytes)
      return buffers[a].bytes > buffers[b].bytes;
    return a < b;
  });
  SmallVector<unsigned> placed;
  totalBytes = 0;
  for (unsigned id : order) {
    Buffer &buf = buffers[id];
    // Candidate offsets: 0 and the end of every live-overlapping buffer.
    SmallVector<int64_t> candidates{0};
    SmallVector<unsigned> conflicts;
    for (unsigned other : placed) {
      const Buffer &o = buffers[other];
      if (o.firstPhase <= buf.lastPhase && buf.firstPhase <= o.lastPhase) {
        conflicts.push_back(other);
        candidates.push_back(o.offset + o.bytes);
      }
    }
    llvm::sort(candidates);
    for (int64_t candidate : candidates) {
      int64_t start = llvm::alignTo(candidate, buf.alignment);
      bool fits = llvm::all_of(conflicts, [&](unsigned other) {
        const Buffer &o = buffers[other];
        return start + buf.bytes <= o.offset || o.offset + o.bytes <= start;
      });
      if (fits) {
        buf.offset = start;
        break;
      }
    }
    placed.push_back(id);
    totalBytes = std::max(totalBytes, buf.offset + buf.bytes);
  }
  return totalBytes;
}

int64_t SharedMemoryPlan::getUnsharedBytes() const {
  int64_t total = 0;
  for (const Buffer &buf : buffers)
    total += buf.bytes;
  return total;
}

std::string SharedMemoryPlan::describe() const {
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::interleave(
      buffers, os,
      [&](const Buffer &buf) {
        os << buf.name << "[" << buf.offset << "," << buf.offset + buf.bytes
           << ")";
      },
      " ");
  return s;
}
