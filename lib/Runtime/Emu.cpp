//===- Emu.cpp - The GPU emulator backend ---------------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Runs emu objects (see iolite_emu_abi.h): every GPU thread of a block is a
// fiber on one host thread; blocks are spread over a few host threads.
// A fiber runs until it reaches a barrier, a warp shuffle or a warp-level
// matrix instruction, or exits; when no fiber of the block can run, the
// scheduler completes the matrix instructions and shuffles whose lanes have
// all arrived, else the block barrier, else reports why the block cannot go
// on. Everything is deterministic for a given launch: the
// fibers of a block always run in the same order.
//
// Device memory is host memory. Every global or shared access of a kernel
// first calls the access hook, which checks it against the allocation it
// falls in (or the block's shared buffer) and counts its bytes.
//
//===----------------------------------------------------------------------===//

#include "EmuFiber.h"
#include "EmuMatrix.h"
#include "RuntimeImpl.h"
#include "iolite/Runtime/iolite_emu_abi.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <dlfcn.h>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <vector>

using namespace iolite::runtime;
using namespace iolite::runtime::emu;

namespace {

/// Fresh device and shared memory reads as this byte (NaN for floats), so a
/// kernel that reads memory nobody wrote shows it in its results.
constexpr int kUninitializedByte = 0xFF;
constexpr size_t kDefaultStackKiB = 256;

struct Allocation {
  uintptr_t base;
  size_t size;
};

struct Counters {
  uint64_t globalRead = 0, globalWritten = 0;
  uint64_t sharedRead = 0, sharedWritten = 0;
  uint64_t flops = 0, barriers = 0;
  uint64_t matrixFlops = 0;
  uint64_t sharedWavefronts = 0, sharedConflicts = 0;
  void add(const Counters &o) {
    globalRead += o.globalRead;
    globalWritten += o.globalWritten;
    sharedRead += o.sharedRead;
    sharedWritten += o.sharedWritten;
    flops += o.flops;
    barriers += o.barriers;
    matrixFlops += o.matrixFlops;
    sharedWavefronts += o.sharedWavefronts;
    sharedConflicts += o.sharedConflicts;
  }
};

enum class FiberState : uint8_t {
  Runnable,
  AtBarrier,
  AtShuffle,
  /// At a warp-collective matrix instruction (mma or ldmatrix).
  AtMatrix,
  Exited,
  Failed
};

/// Which warp-collective matrix instruction a fiber waits at.
enum class MatrixOp : uint8_t { Mma, LdMatrix };

/// Per site: how often the fiber has run it since the last scheduling
/// point (`epoch` tells stale counts apart without clearing them).
struct SiteCount {
  uint32_t epoch = 0, count = 0;
};

struct BlockRunner;

/// One emulated GPU thread.
struct Fiber {
  Context context;
  BlockRunner *runner = nullptr;
  uint32_t tid[3] = {0, 0, 0};
  uint32_t linear = 0, lane = 0, warp = 0;
  FiberState state = FiberState::Runnable;
  /// Site of the barrier or shuffle the fiber waits at.
  uint32_t site = 0;
  uint64_t shuffleIn = 0, shuffleOut = 0;
  uint32_t shuffleOffset = 0, shuffleWidth = 0, shuffleMode = 0;
  uint32_t shuffleValid = 0;
  /// The matrix instruction the fiber waits at, with its operands.
  MatrixOp matrixOp = MatrixOp::Mma;
  uint32_t mmaLevel = 0, mmaKind = 0;
  uint64_t mmaA = 0, mmaB = 0, mmaC = 0, mmaD = 0;
  uint64_t ldAddress = 0, ldResult = 0;
  uint32_t ldTiles = 0, ldTranspose = 0;
  /// Shared-memory accesses per site, for the bank model.
  std::vector<SiteCount> siteCounts;
  /// cp.async copies in flight, oldest first, and the end (in `copies`) of
  /// each committed group; copies past the last end are not committed.
  struct AsyncCopy {
    uint64_t dst, src, dstBytes, srcBytes;
    uint32_t site;
  };
  std::vector<AsyncCopy> asyncCopies;
  std::vector<size_t> asyncGroupEnds;
  /// The allocation of the last global access: most accesses hit it again.
  const Allocation *lastAllocation = nullptr;
  Counters counters;
};

/// What all workers of one launch share.
struct LaunchState {
  const iolite_emu_module_desc_t *module = nullptr;
  const iolite_emu_kernel_desc_t *kernel = nullptr;
  uint32_t grid[3], block[3];
  uint32_t sharedBytes = 0;
  void **args = nullptr;
  uint32_t threadsPerBlock = 0;
  /// Whether shared accesses are grouped into warp-wide wavefronts.
  bool bankModel = true;
  uint64_t numBlocks = 0;
  /// Sorted by base; fixed for the launch.
  std::vector<Allocation> allocations;
  std::atomic<uint64_t> nextBlock{0};
  std::atomic<bool> failed{false};
  std::mutex errorMutex;
  std::string error;

  /// Records the first failure; the others are consequences.
  void fail(std::string message) {
    std::lock_guard<std::mutex> lock(errorMutex);
    if (!failed.load()) {
      error = std::move(message);
      failed.store(true);
    }
  }

  const char *site(uint32_t index) const {
    return index < module->num_sites ? module->sites[index] : "unknown site";
  }
};

thread_local Fiber *currentFiber = nullptr;

/// Runs blocks of one launch on one host thread.
struct BlockRunner {
  LaunchState &launch;
  std::vector<FiberStack> stacks;
  std::vector<Fiber> fibers;
  Context scheduler;
  uint32_t blockId[3] = {0, 0, 0};
  std::unique_ptr<uint8_t[]> sharedStorage;
  uint8_t *shared = nullptr;
  Counters counters;

  BlockRunner(LaunchState &launch, std::vector<FiberStack> stacks)
      : launch(launch), stacks(std::move(stacks)),
        fibers(launch.threadsPerBlock), bankModel(launch.bankModel) {
    // 128-byte aligned, never null even for zero bytes.
    size_t bytes = launch.sharedBytes + 128;
    sharedStorage.reset(new uint8_t[bytes]);
    auto address = reinterpret_cast<uintptr_t>(sharedStorage.get());
    shared = reinterpret_cast<uint8_t *>((address + 127) & ~uintptr_t(127));
  }

  uint32_t warpSize() const { return launch.module->warp_size; }

  /// The bank model (IOLITE_EMU_BANK_MODEL=0 turns it off): the shared
  /// accesses of each warp since the last scheduling point, grouped by
  /// (site, n-th execution of the site by the lane). Between two points
  /// every lane of a warp runs each site in the same order, so a group is
  /// one warp-wide instruction.
  bool bankModel = true;
  uint32_t epoch = 1;
  std::vector<std::unordered_map<uint64_t, std::vector<BankAccess>>>
      pendingShared;

  std::string blockText() const {
    char text[96];
    std::snprintf(text, sizeof(text), "block (%u,%u,%u)", blockId[0],
                  blockId[1], blockId[2]);
    return text;
  }

  std::string threadText(const Fiber &f) const {
    char text[160];
    std::snprintf(text, sizeof(text), "%s thread (%u,%u,%u)",
                  blockText().c_str(), f.tid[0], f.tid[1], f.tid[2]);
    return text;
  }

  std::string kernelText() const {
    return std::string("kernel '") + launch.kernel->name + "'";
  }

  /// Runs every block it can claim; false once the launch failed.
  void runBlocks() {
    while (!launch.failed.load()) {
      uint64_t b = launch.nextBlock.fetch_add(1);
      if (b >= launch.numBlocks)
        return;
      if (!runBlock(b))
        return;
    }
  }

  bool runBlock(uint64_t linearBlock);
  /// Counts the wavefronts of the grouped shared accesses and starts a new
  /// epoch.
  void flushSharedAccesses();
  void countPhases(std::vector<BankAccess> &accesses);
  bool completeMatrix(bool &progressed);
  bool completeShuffles(bool &progressed);
  bool completeBarrier();
  std::string describeLane(uint32_t warp, uint32_t lane) const;
  std::string threadRanges(const std::vector<uint32_t> &linear) const;
};

[[noreturn]] void suspendForever(Fiber &f) {
  switchContext(f.context, f.runner->scheduler);
  // The scheduler never resumes a failed or exited fiber.
  __builtin_trap();
}

/// Stops the calling fiber's launch with `message`.
[[noreturn]] void failFiber(Fiber &f, std::string message) {
  f.runner->launch.fail(std::move(message));
  f.state = FiberState::Failed;
  suspendForever(f);
}

void fiberMain(void *argument) {
  auto *f = static_cast<Fiber *>(argument);
  f->runner->launch.kernel->entry(f->runner->launch.args);
  // A copy no wait covered may or may not have landed on a GPU.
  if (!f->asyncCopies.empty())
    failFiber(*f, "emu: " + f->runner->threadText(*f) + " of " +
                      f->runner->kernelText() + " exited with " +
                      std::to_string(f->asyncCopies.size()) +
                      " cp.async copies that no wait covered, the first by " +
                      f->runner->launch.site(f->asyncCopies.front().site));
  f->state = FiberState::Exited;
  suspendForever(*f);
}

bool BlockRunner::runBlock(uint64_t linearBlock) {
  const uint32_t *grid = launch.grid, *block = launch.block;
  blockId[0] = static_cast<uint32_t>(linearBlock % grid[0]);
  blockId[1] = static_cast<uint32_t>((linearBlock / grid[0]) % grid[1]);
  blockId[2] =
      static_cast<uint32_t>(linearBlock / (uint64_t(grid[0]) * grid[1]));
  std::memset(shared, kUninitializedByte, launch.sharedBytes);
  uint32_t warp = warpSize();
  for (uint32_t i = 0; i < fibers.size(); ++i) {
    Fiber &f = fibers[i];
    f.runner = this;
    f.linear = i;
    f.tid[0] = i % block[0];
    f.tid[1] = (i / block[0]) % block[1];
    f.tid[2] = i / (block[0] * block[1]);
    f.lane = i % warp;
    f.warp = i / warp;
    f.state = FiberState::Runnable;
    f.lastAllocation = nullptr;
    f.counters = Counters();
    f.asyncCopies.clear();
    f.asyncGroupEnds.clear();
    if (bankModel && f.siteCounts.size() != launch.module->num_sites)
      f.siteCounts.assign(launch.module->num_sites, SiteCount());
    makeContext(f.context, stacks[i], fiberMain, &f);
  }
  if (bankModel)
    pendingShared.resize((fibers.size() + warp - 1) / warp);

  for (;;) {
    for (Fiber &f : fibers) {
      if (f.state != FiberState::Runnable)
        continue;
      currentFiber = &f;
      switchContext(scheduler, f.context);
      currentFiber = nullptr;
      if (f.state == FiberState::Failed || launch.failed.load())
        return false;
    }
    bool allExited = std::all_of(fibers.begin(), fibers.end(), [](auto &f) {
      return f.state == FiberState::Exited;
    });
    if (bankModel)
      flushSharedAccesses();
    if (allExited)
      break;
    // No fiber can run: complete what the waiting ones wait for.
    bool progressed = false;
    if (!completeMatrix(progressed))
      return false;
    if (progressed)
      continue;
    if (!completeShuffles(progressed))
      return false;
    if (progressed)
      continue;
    if (!completeBarrier())
      return false;
  }
  for (const Fiber &f : fibers)
    counters.add(f.counters);
  return true;
}

std::string BlockRunner::describeLane(uint32_t warp, uint32_t lane) const {
  uint32_t linear = warp * warpSize() + lane;
  if (linear >= fibers.size())
    return "does not exist (the block has " + std::to_string(fibers.size()) +
           " threads)";
  const Fiber &f = fibers[linear];
  switch (f.state) {
  case FiberState::Exited:
    return "has exited";
  case FiberState::AtBarrier:
    return std::string("waits at the barrier at ") + launch.site(f.site);
  case FiberState::AtShuffle:
    return std::string("is in the shuffle at ") + launch.site(f.site);
  case FiberState::AtMatrix:
    return std::string("is in the matrix instruction at ") +
           launch.site(f.site);
  default:
    return "is running";
  }
}

std::string BlockRunner::threadRanges(const std::vector<uint32_t> &ids) const {
  std::string text;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1)
      ++j;
    if (!text.empty())
      text += ", ";
    text += std::to_string(ids[i]);
    if (j > i)
      text += "-" + std::to_string(ids[j]);
    i = j + 1;
  }
  return text;
}

/// Computes the source lane and `valid` of one lane of a shuffle the way
/// the vendor's code does: NVIDIA runs shfl.sync with the member mask and
/// clamp that MLIR's NVVM lowering derives from `width`; AMD runs
/// ds_bpermute on the lane that MLIR's ROCDL lowering selects.
struct ShuffleLane {
  uint32_t source;
  bool valid;
};

ShuffleLane nvidiaShuffle(uint32_t lane, uint32_t offset, uint32_t width,
                          uint32_t mode) {
  // PTX shfl.sync: c = clamp (segment mask 0) as MLIR computes it.
  uint32_t c = mode == IOLITE_EMU_SHUFFLE_UP ? 32 - width : width - 1;
  int32_t b = static_cast<int32_t>(offset & 31);
  int32_t maxLane = static_cast<int32_t>(c & 31);
  int32_t self = static_cast<int32_t>(lane), j = self;
  bool valid = false;
  switch (mode) {
  case IOLITE_EMU_SHUFFLE_UP:
    j = self - b;
    valid = j >= maxLane;
    break;
  case IOLITE_EMU_SHUFFLE_DOWN:
    j = self + b;
    valid = j <= maxLane;
    break;
  case IOLITE_EMU_SHUFFLE_XOR:
    j = self ^ b;
    valid = j <= maxLane;
    break;
  default: // idx
    j = b;
    valid = j <= maxLane;
    break;
  }
  return {static_cast<uint32_t>(valid ? j : self), valid};
}

ShuffleLane amdShuffle(uint32_t lane, uint32_t offset, uint32_t width,
                       uint32_t mode, uint32_t waveSize) {
  int32_t self = static_cast<int32_t>(lane);
  int32_t w = static_cast<int32_t>(width);
  int32_t off = static_cast<int32_t>(offset);
  // End of the lane's width-sized segment: (lane + width) & -width.
  int32_t segmentEnd = (self + w) & -w;
  int32_t dst = self;
  switch (mode) {
  case IOLITE_EMU_SHUFFLE_UP:
    dst = self - off;
    break;
  case IOLITE_EMU_SHUFFLE_DOWN:
    dst = self + off;
    break;
  case IOLITE_EMU_SHUFFLE_XOR:
    dst = self ^ off;
    break;
  default:
    dst = off;
    break;
  }
  bool valid = dst < segmentEnd;
  int32_t selected = valid ? dst : self;
  // ds_bpermute addresses lanes by (4 * lane) modulo the wave.
  return {static_cast<uint32_t>(selected) & (waveSize - 1), valid};
}

bool BlockRunner::completeShuffles(bool &progressed) {
  uint32_t warp = warpSize();
  uint32_t numWarps = (static_cast<uint32_t>(fibers.size()) + warp - 1) / warp;
  bool nvidia = launch.module->vendor == IOLITE_EMU_VENDOR_NVIDIA;
  for (uint32_t w = 0; w < numWarps; ++w) {
    uint32_t first = w * warp;
    uint32_t count =
        std::min<uint32_t>(warp, static_cast<uint32_t>(fibers.size()) - first);
    // A warp's lanes may wait at different shuffles; each site is a group.
    for (uint32_t l = 0; l < count; ++l) {
      Fiber &leader = fibers[first + l];
      if (leader.state != FiberState::AtShuffle)
        continue;
      uint32_t site = leader.site;
      uint64_t members = 0;
      for (uint32_t k = 0; k < count; ++k) {
        const Fiber &f = fibers[first + k];
        if (f.state == FiberState::AtShuffle && f.site == site)
          members |= uint64_t(1) << k;
      }
      auto failWith = [&](const Fiber &f, const std::string &what) {
        launch.fail("emu: invalid warp shuffle in " + kernelText() + ", " +
                    threadText(f) + " (warp " + std::to_string(w) + " lane " +
                    std::to_string(f.lane) + ")\n  at " + launch.site(site) +
                    "\n  " + what);
        return false;
      };
      uint32_t width = leader.shuffleWidth, mode = leader.shuffleMode;
      for (uint32_t k = 0; k < count; ++k) {
        const Fiber &f = fibers[first + k];
        if (!(members >> k & 1))
          continue;
        if (f.shuffleWidth != width || f.shuffleMode != mode)
          return failWith(f, "lanes of the warp disagree on the width or "
                             "mode of the shuffle");
      }
      if (width == 0 || width > warp)
        return failWith(leader, "width " + std::to_string(width) +
                                    " is not in [1, " + std::to_string(warp) +
                                    "]");
      if (nvidia) {
        // shfl.sync's member mask is lanes [0, width): they must all be here
        // and no other lane may execute it.
        for (uint32_t k = 0; k < warp; ++k) {
          bool inMask = k < width;
          bool member = k < count && (members >> k & 1);
          if (inMask && !member)
            return failWith(leader, "lane " + std::to_string(k) +
                                        ", in the member mask of this width-" +
                                        std::to_string(width) + " shuffle, " +
                                        describeLane(w, k));
          if (!inMask && member)
            return failWith(fibers[first + k],
                            "this lane executes a width-" +
                                std::to_string(width) +
                                " shuffle whose member mask excludes it "
                                "(undefined on NVIDIA)");
        }
      }
      for (uint32_t k = 0; k < count; ++k) {
        if (!(members >> k & 1))
          continue;
        Fiber &f = fibers[first + k];
        ShuffleLane s = nvidia
                            ? nvidiaShuffle(k, f.shuffleOffset, width, mode)
                            : amdShuffle(k, f.shuffleOffset, width, mode, warp);
        bool sourceHere = s.source < count && (members >> s.source & 1);
        if (!sourceHere)
          return failWith(f, "it reads lane " + std::to_string(s.source) +
                                 ", which " + describeLane(w, s.source));
        f.shuffleOut = fibers[first + s.source].shuffleIn;
        f.shuffleValid = s.valid ? 1 : 0;
      }
      for (uint32_t k = 0; k < count; ++k)
        if (members >> k & 1)
          fibers[first + k].state = FiberState::Runnable;
      progressed = true;
    }
  }
  return true;
}

void BlockRunner::countPhases(std::vector<BankAccess> &accesses) {
  uint32_t widest = 0;
  for (const BankAccess &a : accesses)
    widest = std::max(widest, a.bytes);
  uint32_t lanesPerPhase = std::max(1u, 128 / std::max(4u, widest));
  std::sort(
      accesses.begin(), accesses.end(),
      [](const BankAccess &x, const BankAccess &y) { return x.lane < y.lane; });
  for (size_t i = 0; i < accesses.size();) {
    uint32_t phase = accesses[i].lane / lanesPerPhase;
    size_t j = i;
    while (j < accesses.size() && accesses[j].lane / lanesPerPhase == phase)
      ++j;
    uint32_t wavefronts = phaseWavefronts(accesses.data() + i, j - i);
    counters.sharedWavefronts += wavefronts;
    if (wavefronts > 1)
      counters.sharedConflicts += wavefronts - 1;
    i = j;
  }
}

void BlockRunner::flushSharedAccesses() {
  for (auto &groups : pendingShared) {
    for (auto &[key, accesses] : groups)
      countPhases(accesses);
    groups.clear();
  }
  ++epoch;
}

bool BlockRunner::completeMatrix(bool &progressed) {
  uint32_t warp = warpSize();
  uint32_t numWarps = (static_cast<uint32_t>(fibers.size()) + warp - 1) / warp;
  for (uint32_t w = 0; w < numWarps; ++w) {
    uint32_t first = w * warp;
    uint32_t count =
        std::min<uint32_t>(warp, static_cast<uint32_t>(fibers.size()) - first);
    Fiber *leader = nullptr;
    for (uint32_t l = 0; l < count && !leader; ++l)
      if (fibers[first + l].state == FiberState::AtMatrix)
        leader = &fibers[first + l];
    if (!leader)
      continue;
    uint32_t site = leader->site;
    auto failWith = [&](const Fiber &f, const std::string &what) {
      launch.fail("emu: invalid matrix instruction in " + kernelText() + ", " +
                  threadText(f) + " (warp " + std::to_string(w) + " lane " +
                  std::to_string(f.lane) + ")\n  at " + launch.site(site) +
                  "\n  " + what);
      return false;
    };
    if (count != warp)
      return failWith(*leader, "matrix instructions need whole warps, but "
                               "this warp has " +
                                   std::to_string(count) + " of " +
                                   std::to_string(warp) + " lanes");
    // Every lane of the warp executes it together, with the same operands
    // of the instruction itself.
    for (uint32_t k = 0; k < warp; ++k) {
      const Fiber &f = fibers[first + k];
      if (f.state != FiberState::AtMatrix || f.site != site)
        return failWith(*leader, "lane " + std::to_string(k) + " " +
                                     describeLane(w, k) +
                                     "; all lanes of a warp must execute a "
                                     "matrix instruction together");
      bool same =
          f.matrixOp == leader->matrixOp &&
          (f.matrixOp == MatrixOp::Mma
               ? f.mmaLevel == leader->mmaLevel && f.mmaKind == leader->mmaKind
               : f.ldTiles == leader->ldTiles &&
                     f.ldTranspose == leader->ldTranspose);
      if (!same)
        return failWith(f, "lanes of the warp disagree on the instruction");
    }
    if (leader->matrixOp == MatrixOp::Mma) {
      auto kind = static_cast<mlir::iolite::matrix::Kind>(leader->mmaKind);
      const mlir::iolite::matrix::Instruction *inst =
          mlir::iolite::matrix::lookup(kind);
      if (!inst)
        return failWith(*leader, "unknown matrix instruction kind " +
                                     std::to_string(leader->mmaKind));
      if (inst->warpSize != warp)
        return failWith(*leader, std::string(inst->name) + " needs " +
                                     std::to_string(inst->warpSize) +
                                     "-lane warps; this chip has " +
                                     std::to_string(warp));
      std::vector<MmaLaneFragments> lanes(warp);
      for (uint32_t k = 0; k < warp; ++k) {
        const Fiber &f = fibers[first + k];
        lanes[k] = {reinterpret_cast<const void *>(f.mmaA),
                    reinterpret_cast<const void *>(f.mmaB),
                    reinterpret_cast<const void *>(f.mmaC),
                    reinterpret_cast<void *>(f.mmaD)};
      }
      std::string error = executeMma(
          kind, leader->mmaLevel == IOLITE_EMU_MMA_ISA, lanes.data());
      if (!error.empty())
        return failWith(*leader, error);
      counters.matrixFlops += inst->flops();
    } else {
      uint32_t tiles = leader->ldTiles;
      if (warp != 32 || (tiles != 1 && tiles != 2 && tiles != 4))
        return failWith(*leader, "ldmatrix needs 32-lane warps and 1, 2 or "
                                 "4 tiles");
      auto base = reinterpret_cast<uintptr_t>(shared);
      uint64_t size = launch.sharedBytes;
      uint64_t rows[32] = {};
      void *results[32];
      for (uint32_t k = 0; k < 32; ++k) {
        const Fiber &f = fibers[first + k];
        results[k] = reinterpret_cast<void *>(f.ldResult);
        if (k >= 8 * tiles)
          continue;
        uint64_t address = f.ldAddress;
        if (address % 16 != 0)
          return failWith(f, "ldmatrix row address is not 16-byte aligned "
                             "(offset " +
                                 std::to_string(address - base) +
                                 " in shared memory)");
        if (address < base || address - base > size ||
            size - (address - base) < 16)
          return failWith(f, "emu memcheck: the ldmatrix row at byte " +
                                 std::to_string(int64_t(address - base)) +
                                 " is outside the block's " +
                                 std::to_string(size) +
                                 "-byte dynamic shared memory");
        rows[k] = address;
      }
      executeLdMatrix(tiles, leader->ldTranspose != 0, rows, results);
      counters.sharedRead += uint64_t(tiles) * 8 * 16;
      for (uint32_t i = 0; i < tiles; ++i) {
        BankAccess phase[8];
        for (uint32_t r = 0; r < 8; ++r)
          phase[r] = {8 * i + r, rows[8 * i + r], 16};
        uint32_t wavefronts = phaseWavefronts(phase, 8);
        counters.sharedWavefronts += wavefronts;
        counters.sharedConflicts += wavefronts - 1;
      }
    }
    for (uint32_t k = 0; k < warp; ++k)
      fibers[first + k].state = FiberState::Runnable;
    progressed = true;
  }
  return true;
}

bool BlockRunner::completeBarrier() {
  std::map<uint32_t, std::vector<uint32_t>> waiting;
  std::vector<uint32_t> exited;
  for (const Fiber &f : fibers) {
    if (f.state == FiberState::AtBarrier)
      waiting[f.site].push_back(f.linear);
    else if (f.state == FiberState::Exited)
      exited.push_back(f.linear);
  }
  if (waiting.size() == 1 && exited.empty()) {
    for (Fiber &f : fibers)
      f.state = FiberState::Runnable;
    ++counters.barriers;
    return true;
  }
  std::string message = "emu: barrier divergence in " + kernelText() + ", " +
                        blockText() + ": not all " +
                        std::to_string(fibers.size()) +
                        " threads reach the same barrier";
  for (const auto &[site, ids] : waiting)
    message += "\n  threads " + threadRanges(ids) + " wait at the barrier at " +
               launch.site(site);
  if (!exited.empty())
    message +=
        "\n  threads " + threadRanges(exited) + " exited without reaching it";
  if (launch.block[1] > 1 || launch.block[2] > 1)
    message += "\n  (thread numbers are linear: x + y*" +
               std::to_string(launch.block[0]) + " + z*" +
               std::to_string(launch.block[0] * launch.block[1]) + ")";
  launch.fail(message);
  return false;
}

//===----------------------------------------------------------------------===//
// Hooks called by the kernels
//===----------------------------------------------------------------------===//

Fiber &self() {
  Fiber *f = currentFiber;
  if (!f) // a kernel entry called outside of a launch
    __builtin_trap();
  return *f;
}

uint64_t hookIndex(uint32_t which) {
  Fiber &f = self();
  const LaunchState &l = f.runner->launch;
  uint32_t warp = l.module->warp_size;
  switch (which) {
  case IOLITE_EMU_THREAD_ID_X:
  case IOLITE_EMU_THREAD_ID_Y:
  case IOLITE_EMU_THREAD_ID_Z:
    return f.tid[which - IOLITE_EMU_THREAD_ID_X];
  case IOLITE_EMU_BLOCK_ID_X:
  case IOLITE_EMU_BLOCK_ID_Y:
  case IOLITE_EMU_BLOCK_ID_Z:
    return f.runner->blockId[which - IOLITE_EMU_BLOCK_ID_X];
  case IOLITE_EMU_BLOCK_DIM_X:
  case IOLITE_EMU_BLOCK_DIM_Y:
  case IOLITE_EMU_BLOCK_DIM_Z:
    return l.block[which - IOLITE_EMU_BLOCK_DIM_X];
  case IOLITE_EMU_GRID_DIM_X:
  case IOLITE_EMU_GRID_DIM_Y:
  case IOLITE_EMU_GRID_DIM_Z:
    return l.grid[which - IOLITE_EMU_GRID_DIM_X];
  case IOLITE_EMU_LANE_ID:
    return f.lane;
  case IOLITE_EMU_SUBGROUP_ID:
    return f.warp;
  case IOLITE_EMU_NUM_SUBGROUPS:
    return (l.threadsPerBlock + warp - 1) / warp;
  default:
    failFiber(f, "emu: corrupt emu object: unknown index hook operand " +
                     std::to_string(which));
  }
}

void hookBarrier(uint32_t site) {
  Fiber &f = self();
  f.state = FiberState::AtBarrier;
  f.site = site;
  switchContext(f.context, f.runner->scheduler);
}

uint64_t hookShuffle(uint64_t value, uint32_t offset, uint32_t width,
                     uint32_t mode, uint32_t site) {
  Fiber &f = self();
  f.state = FiberState::AtShuffle;
  f.site = site;
  f.shuffleIn = value;
  f.shuffleOffset = offset;
  f.shuffleWidth = width;
  f.shuffleMode = mode;
  switchContext(f.context, f.runner->scheduler);
  return f.shuffleOut;
}

uint32_t hookShuffleValid() { return self().shuffleValid; }

void hookMma(uint32_t level, uint32_t kind, uint64_t a, uint64_t b, uint64_t c,
             uint64_t d, uint32_t site) {
  Fiber &f = self();
  f.state = FiberState::AtMatrix;
  f.site = site;
  f.matrixOp = MatrixOp::Mma;
  f.mmaLevel = level;
  f.mmaKind = kind;
  f.mmaA = a;
  f.mmaB = b;
  f.mmaC = c;
  f.mmaD = d;
  switchContext(f.context, f.runner->scheduler);
}

void hookLdMatrix(uint64_t address, uint32_t tiles, uint32_t transpose,
                  uint64_t result, uint32_t site) {
  Fiber &f = self();
  f.state = FiberState::AtMatrix;
  f.site = site;
  f.matrixOp = MatrixOp::LdMatrix;
  f.ldAddress = address;
  f.ldTiles = tiles;
  f.ldTranspose = transpose;
  f.ldResult = result;
  switchContext(f.context, f.runner->scheduler);
}

void hookAsyncCopy(uint64_t dst, uint64_t src, uint64_t dstBytes,
                   uint64_t srcBytes, uint32_t site) {
  Fiber &f = self();
  if (srcBytes > dstBytes)
    failFiber(f, "emu: cp.async of " + std::to_string(srcBytes) +
                     " source bytes into " + std::to_string(dstBytes) + " in " +
                     f.runner->kernelText() + ", " + f.runner->threadText(f) +
                     "\n  by " + f.runner->launch.site(site));
  // The access hook has checked and counted both ranges at the copy.
  f.asyncCopies.push_back({dst, src, dstBytes, srcBytes, site});
}

void hookAsyncCommit() {
  Fiber &f = self();
  f.asyncGroupEnds.push_back(f.asyncCopies.size());
}

void hookAsyncWait(uint32_t pending, uint32_t site) {
  (void)site;
  Fiber &f = self();
  if (f.asyncGroupEnds.size() <= pending)
    return;
  // Completes the oldest groups, leaving the `pending` most recent ones
  // (and the uncommitted copies) in flight.
  size_t done = f.asyncGroupEnds[f.asyncGroupEnds.size() - pending - 1];
  for (size_t i = 0; i < done; ++i) {
    const Fiber::AsyncCopy &copy = f.asyncCopies[i];
    auto *dst = reinterpret_cast<uint8_t *>(copy.dst);
    if (copy.srcBytes)
      std::memcpy(dst, reinterpret_cast<const uint8_t *>(copy.src),
                  copy.srcBytes);
    std::memset(dst + copy.srcBytes, 0, copy.dstBytes - copy.srcBytes);
  }
  f.asyncCopies.erase(f.asyncCopies.begin(), f.asyncCopies.begin() + done);
  f.asyncGroupEnds.erase(f.asyncGroupEnds.begin(),
                         f.asyncGroupEnds.end() - pending);
  for (size_t &end : f.asyncGroupEnds)
    end -= done;
}

void *hookDynamicSharedMemory() { return self().runner->shared; }

uint64_t hookDynamicSharedMemorySize() {
  return self().runner->launch.sharedBytes;
}

[[noreturn]] void reportAccess(Fiber &f, uint64_t address, uint64_t extent,
                               uint32_t kind, uint32_t site,
                               const std::string &where) {
  const LaunchState &l = f.runner->launch;
  const char *op = (kind & IOLITE_EMU_ACCESS_ATOMIC)  ? "atomic"
                   : (kind & IOLITE_EMU_ACCESS_WRITE) ? "write"
                                                      : "read";
  char head[256];
  std::snprintf(head, sizeof(head),
                "emu memcheck: invalid %s %s of %" PRIu64
                " bytes at 0x%" PRIx64,
                (kind & IOLITE_EMU_ACCESS_SHARED) ? "shared" : "global", op,
                extent, address);
  failFiber(f, std::string(head) + "\n  in " + f.runner->kernelText() + ", " +
                   f.runner->threadText(f) + "\n  by " + l.site(site) + "\n  " +
                   where);
}

void hookAccess(uint64_t address, uint64_t extent, uint64_t counted,
                uint32_t kind, uint32_t site) {
  if (extent == 0)
    return;
  Fiber &f = self();
  bool reads = kind & IOLITE_EMU_ACCESS_READ;
  bool writes = kind & IOLITE_EMU_ACCESS_WRITE;
  if (kind & IOLITE_EMU_ACCESS_SHARED) {
    auto base = reinterpret_cast<uintptr_t>(f.runner->shared);
    uint64_t size = f.runner->launch.sharedBytes;
    if (address < base || address - base > size ||
        extent > size - (address - base)) {
      char where[256];
      if (address < base)
        std::snprintf(where, sizeof(where),
                      "the address is %" PRIu64
                      " bytes before the block's %" PRIu64
                      "-byte dynamic shared memory",
                      base - address, size);
      else
        std::snprintf(where, sizeof(where),
                      "the access covers bytes [%" PRIu64 ", %" PRIu64
                      ") of the block's %" PRIu64 "-byte dynamic shared memory",
                      address - base, address - base + extent, size);
      reportAccess(f, address, extent, kind, site, where);
    }
    if (reads)
      f.counters.sharedRead += counted;
    if (writes)
      f.counters.sharedWritten += counted;
    BlockRunner &runner = *f.runner;
    if (runner.bankModel && site < f.siteCounts.size()) {
      SiteCount &n = f.siteCounts[site];
      if (n.epoch != runner.epoch) {
        n.epoch = runner.epoch;
        n.count = 0;
      }
      uint64_t key = uint64_t(site) << 32 | n.count++;
      runner.pendingShared[f.warp][key].push_back(
          {f.lane, address, static_cast<uint32_t>(extent)});
    }
    return;
  }
  const Allocation *a = f.lastAllocation;
  auto inside = [&](const Allocation *a) {
    return a && address >= a->base && address - a->base < a->size &&
           extent <= a->size - (address - a->base);
  };
  if (!inside(a)) {
    const std::vector<Allocation> &all = f.runner->launch.allocations;
    auto it = std::upper_bound(
        all.begin(), all.end(), address,
        [](uint64_t addr, const Allocation &x) { return addr < x.base; });
    const Allocation *below = it == all.begin() ? nullptr : &*(it - 1);
    if (!inside(below)) {
      char where[320];
      const Allocation *above = it == all.end() ? nullptr : &*it;
      if (below && address < below->base + below->size)
        std::snprintf(where, sizeof(where),
                      "the access runs %" PRIu64
                      " bytes past the end of the %zu-byte allocation at "
                      "0x%" PRIxPTR,
                      address + extent - (below->base + below->size),
                      below->size, below->base);
      else if (below)
        std::snprintf(where, sizeof(where),
                      "the address is %" PRIu64
                      " bytes after the end of the %zu-byte allocation at "
                      "0x%" PRIxPTR,
                      address - (below->base + below->size), below->size,
                      below->base);
      else if (above)
        std::snprintf(where, sizeof(where),
                      "the address is %" PRIu64
                      " bytes before the %zu-byte allocation at 0x%" PRIxPTR,
                      above->base - address, above->size, above->base);
      else
        std::snprintf(where, sizeof(where), "no device memory is allocated");
      reportAccess(f, address, extent, kind, site, where);
    }
    f.lastAllocation = a = below;
  }
  if (reads)
    f.counters.globalRead += counted;
  if (writes)
    f.counters.globalWritten += counted;
}

void hookFlops(uint64_t count) { self().counters.flops += count; }

void hookAssertFail(uint32_t site) {
  Fiber &f = self();
  failFiber(f, "emu: assertion failed in " + f.runner->kernelText() + ", " +
                   f.runner->threadText(f) + "\n  " +
                   f.runner->launch.site(site));
}

const iolite_emu_hooks_t kHooks = {hookIndex,
                                   hookBarrier,
                                   hookShuffle,
                                   hookShuffleValid,
                                   hookDynamicSharedMemory,
                                   hookDynamicSharedMemorySize,
                                   hookAccess,
                                   hookFlops,
                                   hookAssertFail,
                                   hookMma,
                                   hookLdMatrix,
                                   hookAsyncCopy,
                                   hookAsyncCommit,
                                   hookAsyncWait};

//===----------------------------------------------------------------------===//
// Device, module, kernel
//===----------------------------------------------------------------------===//

size_t envSize(const char *name, size_t fallback, size_t low, size_t high) {
  const char *text = std::getenv(name);
  if (!text || !*text)
    return fallback;
  char *end = nullptr;
  unsigned long long value = std::strtoull(text, &end, 10);
  if (*end || value < low || value > high)
    return fallback;
  return static_cast<size_t>(value);
}

class EmuDevice;

class EmuKernel final : public iolite_kernel {
public:
  EmuKernel(EmuDevice &device, const iolite_emu_module_desc_t *module,
            const iolite_emu_kernel_desc_t *kernel)
      : device(device), module(module), kernel(kernel) {}
  iolite_status_t launch(const uint32_t grid[3], const uint32_t block[3],
                         uint32_t sharedBytes, iolite_stream_t stream,
                         void **args) override;

private:
  EmuDevice &device;
  const iolite_emu_module_desc_t *module;
  const iolite_emu_kernel_desc_t *kernel;
};

class EmuModule final : public iolite_module {
public:
  EmuModule(EmuDevice &device, void *library, int imageFd,
            const iolite_emu_module_desc_t *desc)
      : device(device), library(library), imageFd(imageFd), desc(desc) {}
  ~EmuModule() override {
    dlclose(library);
    if (imageFd >= 0)
      close(imageFd);
  }
  iolite_status_t getKernel(const char *name, iolite_kernel_t *out) override {
    for (uint32_t i = 0; i < desc->num_kernels; ++i) {
      if (std::strcmp(desc->kernels[i].name, name) != 0)
        continue;
      kernels.push_back(
          std::make_unique<EmuKernel>(device, desc, &desc->kernels[i]));
      *out = kernels.back().get();
      return IOLITE_SUCCESS;
    }
    std::string known;
    for (uint32_t i = 0; i < desc->num_kernels; ++i)
      known += std::string(i ? ", " : "") + desc->kernels[i].name;
    return setError(IOLITE_ERROR_NOT_FOUND,
                    "no kernel '" + std::string(name) +
                        "' in the emu module (it has: " + known + ")");
  }

private:
  EmuDevice &device;
  void *library;
  /// The memfd the library was loaded from (-1 if none), see openImage.
  int imageFd;
  const iolite_emu_module_desc_t *desc;
  std::vector<std::unique_ptr<EmuKernel>> kernels;
};

struct StatsRecord {
  std::string kernel;
  iolite_emu_launch_stats_t stats;
};

class EmuDevice final : public iolite_device {
public:
  explicit EmuDevice(std::string chip)
      : fixedChip(!chip.empty()), chip(std::move(chip)) {
    if (fixedChip)
      archName = "emu-" + this->chip;
  }
  ~EmuDevice() override {
    for (auto &[base, size] : allocations)
      std::free(reinterpret_cast<void *>(base));
  }

  const char *backend() const override { return "emu"; }
  const char *arch() const override {
    // Set at most once (at open or by the first module), so a pointer
    // returned earlier stays valid.
    return archSet.load() ? archName.c_str() : "emu";
  }
  bool supportsTarget(const std::string &target) const override {
    if (target.rfind("emu-", 0) != 0)
      return false;
    return !fixedChip || target.substr(4) == chip;
  }

  iolite_status_t alloc(size_t bytes, void **ptr) override {
    size_t rounded = (bytes + 255) / 256 * 256;
    if (rounded < bytes)
      return setErrorf(IOLITE_ERROR_OUT_OF_MEMORY,
                       "iolite_malloc: %zu bytes is too large", bytes);
    void *p = std::aligned_alloc(256, rounded);
    if (!p)
      return setErrorf(IOLITE_ERROR_OUT_OF_MEMORY,
                       "iolite_malloc: cannot allocate %zu bytes of host "
                       "memory for the emulator",
                       bytes);
    std::memset(p, kUninitializedByte, rounded);
    std::lock_guard<std::mutex> lock(mutex);
    allocations[reinterpret_cast<uintptr_t>(p)] = bytes;
    *ptr = p;
    return IOLITE_SUCCESS;
  }

  iolite_status_t release(void *ptr) override {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = allocations.find(reinterpret_cast<uintptr_t>(ptr));
    if (it == allocations.end())
      return setErrorf(IOLITE_ERROR_INVALID_ARGUMENT,
                       "iolite_free: %p was not returned by iolite_malloc "
                       "on this device (or was freed already)",
                       ptr);
    allocations.erase(it);
    std::free(ptr);
    return IOLITE_SUCCESS;
  }

  /// Checks that [ptr, ptr+bytes) lies in one allocation.
  iolite_status_t checkRange(const char *what, const void *ptr, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    auto address = reinterpret_cast<uintptr_t>(ptr);
    auto it = allocations.upper_bound(address);
    if (it != allocations.begin()) {
      --it;
      if (address - it->first < it->second &&
          bytes <= it->second - (address - it->first))
        return IOLITE_SUCCESS;
    }
    return setErrorf(IOLITE_ERROR_INVALID_ARGUMENT,
                     "%s: the %zu bytes at %p are not inside one allocation "
                     "of this device",
                     what, bytes, ptr);
  }

  iolite_status_t copyToDevice(void *dst, const void *src,
                               size_t bytes) override {
    if (iolite_status_t s = checkRange("iolite_memcpy_h2d", dst, bytes))
      return s;
    std::memcpy(dst, src, bytes);
    return IOLITE_SUCCESS;
  }
  iolite_status_t copyToHost(void *dst, const void *src,
                             size_t bytes) override {
    if (iolite_status_t s = checkRange("iolite_memcpy_d2h", src, bytes))
      return s;
    std::memcpy(dst, src, bytes);
    return IOLITE_SUCCESS;
  }
  iolite_status_t fill(void *dst, int value, size_t bytes) override {
    if (iolite_status_t s = checkRange("iolite_memset", dst, bytes))
      return s;
    std::memset(dst, value, bytes);
    return IOLITE_SUCCESS;
  }

  iolite_status_t loadModule(const void *image, size_t bytes,
                             iolite_module_t *out) override;
  iolite_status_t synchronize() override { return IOLITE_SUCCESS; }

  std::vector<Allocation> snapshotAllocations() {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<Allocation> result;
    result.reserve(allocations.size());
    for (auto &[base, size] : allocations)
      result.push_back({base, size});
    return result;
  }

  /// Hands out `count` fiber stacks, reusing those of earlier launches.
  bool takeStacks(size_t count, std::vector<FiberStack> &out) {
    size_t bytes =
        envSize("IOLITE_EMU_STACK_KB", kDefaultStackKiB, 16, 1 << 20) * 1024;
    {
      std::lock_guard<std::mutex> lock(mutex);
      while (out.size() < count && !stackPool.empty()) {
        if (stackPool.back().size() >= bytes)
          out.push_back(std::move(stackPool.back()));
        stackPool.pop_back();
      }
    }
    while (out.size() < count) {
      FiberStack stack;
      if (!stack.allocate(bytes))
        return false;
      out.push_back(std::move(stack));
    }
    return true;
  }
  void returnStacks(std::vector<FiberStack> &stacks) {
    std::lock_guard<std::mutex> lock(mutex);
    for (FiberStack &s : stacks)
      stackPool.push_back(std::move(s));
    stacks.clear();
  }

  void record(const iolite_emu_launch_stats_t &stats) {
    std::lock_guard<std::mutex> lock(mutex);
    auto record = std::make_unique<StatsRecord>();
    record->kernel = stats.kernel;
    record->stats = stats;
    record->stats.kernel = record->kernel.c_str();
    records.push_back(std::move(record));
  }
  size_t statsCount() {
    std::lock_guard<std::mutex> lock(mutex);
    return records.size();
  }
  bool getStats(size_t index, iolite_emu_launch_stats_t *stats) {
    std::lock_guard<std::mutex> lock(mutex);
    if (index >= records.size())
      return false;
    *stats = records[index]->stats;
    return true;
  }
  void resetStats() {
    std::lock_guard<std::mutex> lock(mutex);
    records.clear();
  }

private:
  bool fixedChip;
  std::string chip;
  std::string archName;
  std::atomic<bool> archSet{fixedChip};
  std::mutex mutex;
  std::map<uintptr_t, size_t> allocations;
  std::vector<FiberStack> stackPool;
  std::vector<std::unique_ptr<StatsRecord>> records;
};

/// dlopen()s an image held in memory: through a memfd where the kernel has
/// them, else through a temporary file that is unlinked right away. The
/// memfd is returned in `keptFd` and must stay open while the library is
/// loaded: dlopen() returns an already loaded library whose path matches,
/// and a closed descriptor's number, hence its /proc/self/fd path, would be
/// reused by the next image.
void *openImage(const void *image, size_t bytes, int &keptFd,
                std::string &error) {
  keptFd = -1;
  int fd = -1;
  std::string path;
#ifdef MFD_CLOEXEC
  fd = memfd_create("iolite-emu", MFD_CLOEXEC);
  if (fd >= 0)
    path = "/proc/self/fd/" + std::to_string(fd);
#endif
  bool temporary = false;
  if (fd < 0) {
    const char *dir = std::getenv("TMPDIR");
    path = std::string(dir && *dir ? dir : "/tmp") + "/iolite-emu-XXXXXX";
    std::vector<char> name(path.begin(), path.end());
    name.push_back('\0');
    fd = mkstemp(name.data());
    if (fd < 0) {
      error = std::string("cannot create a temporary file: ") +
              std::strerror(errno);
      return nullptr;
    }
    path = name.data();
    temporary = true;
  }
  const char *p = static_cast<const char *>(image);
  size_t left = bytes;
  while (left) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      error =
          std::string("cannot write the emu object: ") + std::strerror(errno);
      close(fd);
      if (temporary)
        unlink(path.c_str());
      return nullptr;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *why = dlerror();
    error = why ? why : "dlopen failed";
  }
  if (temporary) {
    close(fd);
    unlink(path.c_str());
  } else if (library) {
    keptFd = fd;
  } else {
    close(fd);
  }
  return library;
}

iolite_status_t EmuDevice::loadModule(const void *image, size_t bytes,
                                      iolite_module_t *out) {
  std::string error;
  int imageFd;
  void *library = openImage(image, bytes, imageFd, error);
  if (!library)
    return setError(IOLITE_ERROR_NOT_FOUND,
                    "the image is not a loadable emu object: " + error);
  auto *desc = static_cast<const iolite_emu_module_desc_t *>(
      dlsym(library, IOLITE_EMU_MODULE_SYMBOL));
  auto reject = [&](std::string why) {
    dlclose(library);
    if (imageFd >= 0)
      close(imageFd);
    return setError(IOLITE_ERROR_NOT_FOUND, std::move(why));
  };
  if (!desc)
    return reject("the image is a shared object but not an emu object (no " +
                  std::string(IOLITE_EMU_MODULE_SYMBOL) + ")");
  if (desc->abi_version != IOLITE_EMU_ABI_VERSION)
    return reject("the emu object has ABI version " +
                  std::to_string(desc->abi_version) + ", this runtime " +
                  std::to_string(IOLITE_EMU_ABI_VERSION) + "; recompile it");
  if ((desc->warp_size != 32 && desc->warp_size != 64) || !desc->chip ||
      !desc->hooks)
    return reject("the emu object's descriptor is corrupt");
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (fixedChip && chip != desc->chip)
      return reject("the module was compiled for emu-" +
                    std::string(desc->chip) + " but the device emulates " +
                    archName);
    if (!archSet.load()) {
      archName = "emu-" + std::string(desc->chip);
      archSet.store(true);
    }
  }
  *desc->hooks = &kHooks;
  *out = new EmuModule(*this, library, imageFd, desc);
  return IOLITE_SUCCESS;
}

iolite_status_t EmuKernel::launch(const uint32_t grid[3],
                                  const uint32_t block[3], uint32_t sharedBytes,
                                  iolite_stream_t stream, void **args) {
  (void)stream; // launches run to completion before returning
  auto start = std::chrono::steady_clock::now();
  uint64_t threads = uint64_t(block[0]) * block[1] * block[2];
  if (threads > module->max_threads_per_block || block[0] > 1024 ||
      block[1] > 1024 || block[2] > 64)
    return setErrorf(IOLITE_ERROR_INVALID_ARGUMENT,
                     "launch of '%s': block (%u,%u,%u) exceeds emu-%s's limits "
                     "(%u threads, 1024 x 1024 x 64)",
                     kernel->name, block[0], block[1], block[2], module->chip,
                     module->max_threads_per_block);
  if (grid[1] > 65535 || grid[2] > 65535 || grid[0] > 0x7fffffffu)
    return setErrorf(IOLITE_ERROR_INVALID_ARGUMENT,
                     "launch of '%s': grid (%u,%u,%u) exceeds the limits "
                     "(2^31-1 x 65535 x 65535)",
                     kernel->name, grid[0], grid[1], grid[2]);
  if (sharedBytes > module->max_shared_bytes)
    return setErrorf(IOLITE_ERROR_INVALID_ARGUMENT,
                     "launch of '%s': %u bytes of dynamic shared memory "
                     "exceed emu-%s's %" PRIu64 " per block",
                     kernel->name, sharedBytes, module->chip,
                     module->max_shared_bytes);
  const uint32_t *known = kernel->known_block;
  if (known[0] &&
      (known[0] != block[0] || known[1] != block[1] || known[2] != block[2]))
    return setErrorf(IOLITE_ERROR_INVALID_ARGUMENT,
                     "launch of '%s': block (%u,%u,%u) but the kernel was "
                     "compiled for block (%u,%u,%u)",
                     kernel->name, block[0], block[1], block[2], known[0],
                     known[1], known[2]);
  if (kernel->num_params) {
    if (!args)
      return setErrorf(IOLITE_ERROR_INVALID_ARGUMENT,
                       "launch of '%s': the kernel takes %u parameters but "
                       "args is null",
                       kernel->name, kernel->num_params);
    for (uint32_t i = 0; i < kernel->num_params; ++i)
      if (!args[i])
        return setErrorf(IOLITE_ERROR_INVALID_ARGUMENT,
                         "launch of '%s': args[%u] is null", kernel->name, i);
  }

  LaunchState launch;
  launch.module = module;
  launch.kernel = kernel;
  std::copy(grid, grid + 3, launch.grid);
  std::copy(block, block + 3, launch.block);
  launch.sharedBytes = sharedBytes;
  launch.args = args;
  launch.threadsPerBlock = static_cast<uint32_t>(threads);
  launch.numBlocks = uint64_t(grid[0]) * grid[1] * grid[2];
  launch.allocations = device.snapshotAllocations();
  launch.bankModel = envSize("IOLITE_EMU_BANK_MODEL", 1, 0, 1) != 0;

  size_t hostThreads =
      envSize("IOLITE_EMU_THREADS",
              std::max(1u, std::thread::hardware_concurrency()), 1, 4096);
  size_t workers =
      static_cast<size_t>(std::min<uint64_t>(hostThreads, launch.numBlocks));
  std::vector<std::unique_ptr<BlockRunner>> runners;
  for (size_t i = 0; i < workers; ++i) {
    std::vector<FiberStack> stacks;
    if (!device.takeStacks(threads, stacks)) {
      for (auto &r : runners)
        device.returnStacks(r->stacks);
      return setErrorf(IOLITE_ERROR_OUT_OF_MEMORY,
                       "launch of '%s': cannot map %" PRIu64
                       " fiber stacks (IOLITE_EMU_STACK_KB)",
                       kernel->name, threads);
    }
    runners.push_back(std::make_unique<BlockRunner>(launch, std::move(stacks)));
  }
  if (workers == 1) {
    runners[0]->runBlocks();
  } else {
    std::vector<std::thread> pool;
    for (size_t i = 1; i < workers; ++i)
      pool.emplace_back([&runner = *runners[i]] { runner.runBlocks(); });
    runners[0]->runBlocks();
    for (std::thread &t : pool)
      t.join();
  }
  Counters total;
  for (auto &r : runners) {
    total.add(r->counters);
    device.returnStacks(r->stacks);
  }
  if (launch.failed.load())
    return setError(IOLITE_ERROR_LAUNCH_FAILED, launch.error);

  iolite_emu_launch_stats_t stats{};
  stats.kernel = kernel->name;
  std::copy(grid, grid + 3, stats.grid);
  std::copy(block, block + 3, stats.block);
  stats.shared_bytes = sharedBytes;
  stats.global_bytes_read = total.globalRead;
  stats.global_bytes_written = total.globalWritten;
  stats.shared_bytes_read = total.sharedRead;
  stats.shared_bytes_written = total.sharedWritten;
  stats.flops = total.flops;
  stats.barriers = total.barriers;
  stats.matrix_flops = total.matrixFlops;
  stats.shared_wavefronts = total.sharedWavefronts;
  stats.shared_bank_conflicts = total.sharedConflicts;
  stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  device.record(stats);
  return IOLITE_SUCCESS;
}

} // namespace

iolite_status_t iolite::runtime::openEmuDevice(const std::string &chip,
                                               iolite_device_t *out) {
  *out = new EmuDevice(chip);
  return IOLITE_SUCCESS;
}

bool iolite::runtime::isEmuDevice(iolite_device_t device) {
  return dynamic_cast<EmuDevice *>(device) != nullptr;
}

size_t iolite::runtime::emuStatsCount(iolite_device_t device) {
  return static_cast<EmuDevice *>(device)->statsCount();
}

bool iolite::runtime::emuGetStats(iolite_device_t device, size_t index,
                                  iolite_emu_launch_stats_t *stats) {
  return static_cast<EmuDevice *>(device)->getStats(index, stats);
}

void iolite::runtime::emuResetStats(iolite_device_t device) {
  static_cast<EmuDevice *>(device)->resetStats();
}
