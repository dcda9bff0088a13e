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
  Buffer buf;
  buf.name = name.str();
  buf.bytes = bytes;
  buf.alignment = alignment;
  buf.firstPhase = firstPhase;
  buf.lastPhase = lastPhase;
  buffers.push_back(std::move(buf));
  return buffers.size() - 1;
}

TileSwizzle mlir::iolite::chooseTileSwizzle(int64_t rows, int64_t cols,
                                            int64_t elementBytes,
                                            int64_t readBytes) {
  TileSwizzle none;
  if (readBytes <= 0 || readBytes % elementBytes != 0 || readBytes > 128 ||
      !llvm::isPowerOf2_64(readBytes))
    return none;
  int64_t rowBytes = cols * elementBytes;
  if (rowBytes % readBytes != 0)
    return none;
  // A 128-byte phase has `slots` places of readBytes; a row holds `chunks`
  // of them. Rows at the same column must fall in distinct slots: XOR the
  // chunk with the row's phase, which advances every `perPhase` rows
  // (perPhase * chunks >= slots) over `maxPhase` values.
  int64_t slots = 128 / readBytes, chunks = rowBytes / readBytes;
  if (!llvm::isPowerOf2_64(chunks))
    return none;
  TileSwizzle s;
  s.vec = readBytes / elementBytes;
  s.perPhase = std::max<int64_t>(1, slots / chunks);
  s.maxPhase = std::min(slots, chunks);
  // The pattern repeats every perPhase * maxPhase rows; a tile (or stage)
  // must hold whole repeats so stacked stages see the same layout.
  if (s.maxPhase <= 1 || rows % (s.perPhase * s.maxPhase) != 0)
    return none;
  return s;
}

unsigned SharedMemoryPlan::addTile(StringRef name, int64_t copies, int64_t rows,
                                   int64_t cols, int64_t elementBytes,
                                   int64_t readBytes, unsigned firstPhase,
                                   unsigned lastPhase) {
  unsigned id = addBuffer(name, copies * rows * cols * elementBytes, firstPhase,
                          lastPhase, /*alignment=*/128);
  Buffer &buf = buffers[id];
  buf.rows = copies * rows;
  buf.cols = cols;
  buf.elementBytes = elementBytes;
  buf.swizzle = chooseTileSwizzle(rows, cols, elementBytes, readBytes);
  return id;
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
        if (!buf.swizzle.isIdentity())
          os << "{swizzle " << buf.swizzle.vec << "/" << buf.swizzle.perPhase
             << "/" << buf.swizzle.maxPhase << "}";
      },
      " ");
  return s;
}
