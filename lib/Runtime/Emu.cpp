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
// The sanitizers (IOLITE_EMU_CHECK=race,bounds,init,hang) add to that hook:
// a shadow of the block's shared memory (who last wrote and read each byte,
// in which barrier epoch), named workspace regions with their own extents
// and written bytes, and a step budget per thread. IOLITE_EMU_SEED shuffles
// the order in which the scheduler runs a block's fibers.
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
#include <random>
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
  /// The named regions inside it: [regionsBegin, regionsEnd) of the
  /// launch's `regions`.
  uint32_t regionsBegin = 0, regionsEnd = 0;
};

/// What IOLITE_EMU_CHECK turns on (docs/runtime-and-emulator.md,
/// "Sanitizers"), with the scheduling seed and the step budget.
struct CheckOptions {
  bool race = false, bounds = false, init = false, hang = false;
  uint64_t seed = 0;
  /// Steps (accesses, barriers, warp operations) one thread may take.
  uint64_t stepLimit = UINT64_MAX;
};

constexpr uint64_t kDefaultStepLimit = uint64_t(1) << 24;

/// Parses IOLITE_EMU_CHECK ("none", "all" or a comma list of race, bounds,
/// init, hang), IOLITE_EMU_SEED and IOLITE_EMU_STEP_LIMIT; false with
/// `error` set on a malformed value.
bool readCheckOptions(CheckOptions &options, std::string &error) {
  const char *text = std::getenv("IOLITE_EMU_CHECK");
  std::string list = text ? text : "";
  size_t start = 0;
  while (start <= list.size() && !list.empty()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos)
      end = list.size();
    std::string name = list.substr(start, end - start);
    if (name == "all")
      options.race = options.bounds = options.init = options.hang = true;
    else if (name == "none")
      options.race = options.bounds = options.init = options.hang = false;
    else if (name == "race")
      options.race = true;
    else if (name == "bounds")
      options.bounds = true;
    else if (name == "init")
      options.init = true;
    else if (name == "hang")
      options.hang = true;
    else if (!name.empty()) {
      error = "IOLITE_EMU_CHECK: unknown check '" + name +
              "' (expected race, bounds, init, hang, all or none)";
      return false;
    }
    start = end + 1;
  }
  auto number = [&](const char *variable, uint64_t &out) {
    const char *value = std::getenv(variable);
    if (!value || !*value)
      return true;
    char *end = nullptr;
    errno = 0;
    unsigned long long parsed = std::strtoull(value, &end, 10);
    if (*end || errno) {
      error = std::string(variable) + ": '" + value +
              "' is not a non-negative integer";
      return false;
    }
    out = parsed;
    return true;
  };
  if (!number("IOLITE_EMU_SEED", options.seed))
    return false;
  uint64_t limit = kDefaultStepLimit;
  if (!number("IOLITE_EMU_STEP_LIMIT", limit))
    return false;
  if (options.hang)
    options.stepLimit = std::max<uint64_t>(limit, 1);
  return true;
}

/// A named region of device memory (iolite_emu_name_region): a planned
/// tensor of a bundle's workspace.
struct NamedRegion {
  uintptr_t base;
  size_t size;
  std::string name;
  /// One byte per byte of the region: written since it was named.
  std::shared_ptr<std::vector<uint8_t>> written;
};

/// A region as one launch sees it.
struct LaunchRegion {
  const NamedRegion *region;
  /// One of the launch's pointer arguments is the region's base.
  bool argument;
};

/// One access in the shadow of shared memory: the barrier epoch and the
/// warp's synchronization epoch it happened in, by whom and where.
struct ShadowAccess {
  uint32_t barrier = 0, warpSync = 0, site = 0;
  uint16_t thread = 0;
  uint8_t atomic = 0;
  /// A write of a masked access with inactive lanes inside its extent:
  /// the bytes count as written, but may not have been, so they take no
  /// part in race reports.
  uint8_t masked = 0;
};

/// Per byte of shared memory: its last write, and the last reads of up to
/// two threads in the write's epoch or later.
struct ShadowByte {
  ShadowAccess write;
  ShadowAccess reads[2];
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
  /// Steps taken (accesses, barriers, warp operations), for the hang
  /// check, and the site of the last one.
  uint64_t steps = 0;
  uint32_t lastSite = 0;
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
  /// The named regions inside them, grouped by allocation.
  std::vector<LaunchRegion> regions;
  CheckOptions checks;
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

  /// The race and init checks' shadow of shared memory. Epochs come from
  /// one clock that only grows on this runner, so the shadow of an earlier
  /// block is simply older than `blockStart` and never needs clearing.
  std::vector<ShadowByte> shadow;
  uint32_t clock = 0, blockStart = 0, barrierEpoch = 0;
  /// Per warp: the epoch of its last warp-wide operation or barrier;
  /// accesses of its lanes before it are ordered before those after.
  std::vector<uint32_t> warpSync;
  /// The order in which the scheduler visits fibers (IOLITE_EMU_SEED).
  std::vector<uint32_t> order;
  std::mt19937_64 random;

  BlockRunner(LaunchState &launch, std::vector<FiberStack> stacks)
      : launch(launch), stacks(std::move(stacks)),
        fibers(launch.threadsPerBlock), bankModel(launch.bankModel) {
    // 128-byte aligned, never null even for zero bytes.
    size_t bytes = launch.sharedBytes + 128;
    sharedStorage.reset(new uint8_t[bytes]);
    auto address = reinterpret_cast<uintptr_t>(sharedStorage.get());
    shared = reinterpret_cast<uint8_t *>((address + 127) & ~uintptr_t(127));
    if (launch.checks.race || launch.checks.init)
      shadow.resize(launch.sharedBytes);
    warpSync.resize((fibers.size() + warpSize() - 1) / warpSize());
    order.resize(fibers.size());
  }

  bool shadowed() const { return !shadow.empty(); }

  /// Starts a new barrier epoch: every warp is synchronized too.
  void newBarrierEpoch() {
    barrierEpoch = ++clock;
    std::fill(warpSync.begin(), warpSync.end(), barrierEpoch);
  }
  /// A warp-wide operation completed for warp `w`.
  void syncWarp(uint32_t w) {
    if (shadowed())
      warpSync[w] = ++clock;
  }

  /// Checks and records an access of thread `linear` to the shared bytes
  /// [offset, offset + bytes); returns the report, empty if none.
  /// `exact` is false for a masked access with holes, whose bytes are
  /// unknown: a read is not checked, a write counts as a masked write.
  std::string shadowAccess(uint32_t linear, uint64_t offset, uint64_t bytes,
                           bool reads, bool writes, bool atomic, uint32_t site,
                           bool exact = true);
  /// "thread (x,y,z) (warp w lane l)".
  std::string laneText(uint32_t linear) const;

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
  /// Where every thread of the block is, grouped by place.
  std::string whereThreadsAre() const;
};

[[noreturn]] void suspendForever(Fiber &f) {
  switchContext(f.context, f.runner->scheduler);
  // The scheduler never resumes a failed or exited fiber.
  __builtin_trap();
}

/// Stops the calling fiber's launch with the message `build()` returns.
/// The fiber's stack is abandoned, never unwound, so nothing that owns heap
/// memory may be alive on it when it stops: the message is built inside
/// `build`, whose temporaries die when it returns, and a caller hands its
/// own strings over with `std::move` (a moved-from string owns nothing).
template <typename BuildMessage>
[[noreturn]] void failFiber(Fiber &f, BuildMessage build) {
  f.runner->launch.fail(build());
  f.state = FiberState::Failed;
  suspendForever(f);
}

void fiberMain(void *argument) {
  auto *f = static_cast<Fiber *>(argument);
  f->runner->launch.kernel->entry(f->runner->launch.args);
  // A copy no wait covered may or may not have landed on a GPU.
  if (!f->asyncCopies.empty())
    failFiber(*f, [&] {
      return "emu: " + f->runner->threadText(*f) + " of " +
             f->runner->kernelText() + " exited with " +
             std::to_string(f->asyncCopies.size()) +
             " cp.async copies that no wait covered, the first by " +
             f->runner->launch.site(f->asyncCopies.front().site);
    });
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
  blockStart = clock + 1;
  newBarrierEpoch();
  for (uint32_t i = 0; i < order.size(); ++i)
    order[i] = i;
  if (launch.checks.seed)
    random.seed(launch.checks.seed * 0x9E3779B97F4A7C15ull + linearBlock);
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
    f.steps = 0;
    f.lastSite = 0;
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
    // A seed visits the fibers in a new order at every scheduling point.
    if (launch.checks.seed)
      std::shuffle(order.begin(), order.end(), random);
    for (uint32_t i : order) {
      Fiber &f = fibers[i];
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

std::string BlockRunner::laneText(uint32_t linear) const {
  const Fiber &f = fibers[linear];
  char text[128];
  std::snprintf(text, sizeof(text), "thread (%u,%u,%u) (warp %u lane %u)",
                f.tid[0], f.tid[1], f.tid[2], f.warp, f.lane);
  return text;
}

std::string BlockRunner::whereThreadsAre() const {
  std::map<std::string, std::vector<uint32_t>> places;
  for (const Fiber &f : fibers) {
    std::string place;
    switch (f.state) {
    case FiberState::Exited:
      place = "exited";
      break;
    case FiberState::AtBarrier:
      place = std::string("wait at the barrier at ") + launch.site(f.site);
      break;
    case FiberState::AtShuffle:
      place = std::string("wait in the shuffle at ") + launch.site(f.site);
      break;
    case FiberState::AtMatrix:
      place = std::string("wait in the matrix instruction at ") +
              launch.site(f.site);
      break;
    default:
      place = f.steps ? std::string("are runnable, last at ") +
                            launch.site(f.lastSite)
                      : std::string("have not started");
      break;
    }
    places[place].push_back(f.linear);
  }
  std::string text;
  for (const auto &[place, ids] : places)
    text += "\n  threads " + threadRanges(ids) + " " + place;
  if (launch.block[1] > 1 || launch.block[2] > 1)
    text += "\n  (thread numbers are linear: x + y*" +
            std::to_string(launch.block[0]) + " + z*" +
            std::to_string(launch.block[0] * launch.block[1]) + ")";
  return text;
}

std::string BlockRunner::shadowAccess(uint32_t linear, uint64_t offset,
                                      uint64_t bytes, bool reads, bool writes,
                                      bool atomic, uint32_t site, bool exact) {
  if (!exact && !writes)
    return "";
  const Fiber &self = fibers[linear];
  ShadowAccess now;
  now.barrier = barrierEpoch;
  now.warpSync = warpSync[self.warp];
  now.site = site;
  now.thread = static_cast<uint16_t>(linear);
  now.atomic = atomic;
  now.masked = !exact;
  bool race = launch.checks.race && exact, init = launch.checks.init && exact;
  uint32_t warp = warpSize();
  // Another thread's access in this barrier epoch, not ordered by a
  // warp-wide operation of a warp both threads belong to; atomics do not
  // race with atomics.
  auto concurrent = [&](const ShadowAccess &a) {
    if (a.barrier != barrierEpoch || a.thread == linear || a.masked)
      return false;
    if (a.thread / warp == self.warp && a.warpSync != now.warpSync)
      return false;
    return !(a.atomic && atomic);
  };
  auto raceReport = [&](uint64_t byte, const ShadowAccess &other,
                        bool otherWrites) {
    const char *mine = atomic ? "atomic" : writes ? "write" : "read";
    const char *theirs = other.atomic  ? "atomic"
                         : otherWrites ? "write"
                                       : "read";
    char head[256];
    std::snprintf(head, sizeof(head),
                  "emu racecheck: data race on byte %" PRIu64
                  " of shared memory (a %" PRIu64 "-byte %s at offset %" PRIu64
                  ")",
                  byte, bytes, mine, offset);
    return std::string(head) + "\n  in " + kernelText() + ", " + blockText() +
           "\n  " + mine + " by " + laneText(linear) + "\n    at " +
           launch.site(site) + "\n  " + theirs + " by " +
           laneText(other.thread) + "\n    at " + launch.site(other.site) +
           "\n  with no barrier between them (nor a warp-wide operation of "
           "one warp holding both)";
  };
  for (uint64_t i = offset; i < offset + bytes; ++i) {
    ShadowByte &b = shadow[i];
    if (reads) {
      if (init && b.write.barrier < blockStart) {
        char head[256];
        std::snprintf(head, sizeof(head),
                      "emu initcheck: read of uninitialized shared memory: "
                      "byte %" PRIu64 " of a %" PRIu64
                      "-byte read at offset %" PRIu64
                      " was not written since the block started",
                      i, bytes, offset);
        return std::string(head) + "\n  in " + kernelText() + ", " +
               blockText() + ", " + laneText(linear) + "\n  by " +
               launch.site(site);
      }
      if (race && concurrent(b.write))
        return raceReport(i, b.write, true);
    }
    if (writes && race) {
      if (concurrent(b.write))
        return raceReport(i, b.write, true);
      for (const ShadowAccess &r : b.reads)
        if (concurrent(r))
          return raceReport(i, r, false);
    }
    if (writes) {
      b.write = now;
    } else {
      // Keep the reads of two threads: a later write by either one still
      // finds the other's.
      ShadowAccess *slot = &b.reads[1];
      if (b.reads[0].barrier != barrierEpoch || b.reads[0].thread == linear)
        slot = &b.reads[0];
      *slot = now;
    }
  }
  return "";
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
      // The lanes all arrived before any leaves: their accesses before the
      // shuffle are ordered before those after it.
      syncWarp(w);
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
    syncWarp(w);
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
        if (shadowed()) {
          std::string report = shadowAccess(first + k, address - base, 16,
                                            /*reads=*/true, /*writes=*/false,
                                            /*atomic=*/false, site);
          if (!report.empty()) {
            launch.fail(report);
            return false;
          }
        }
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
    newBarrierEpoch();
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

/// Counts one step of the calling thread at `site`; past the launch's step
/// budget (IOLITE_EMU_CHECK=hang), reports a hang with where every thread
/// of the block is.
void step(Fiber &f, uint32_t site) {
  f.lastSite = site;
  if (++f.steps <= f.runner->launch.checks.stepLimit)
    return;
  BlockRunner &r = *f.runner;
  failFiber(f, [&] {
    return "emu hangcheck: " + r.laneText(f.linear) + " of " + r.kernelText() +
           ", " + r.blockText() + " took " + std::to_string(f.steps - 1) +
           " steps (accesses, barriers, warp operations) without "
           "finishing (IOLITE_EMU_STEP_LIMIT); its last step is " +
           r.launch.site(site) + r.whereThreadsAre();
  });
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
    failFiber(f, [&] {
      return "emu: corrupt emu object: unknown index hook operand " +
             std::to_string(which);
    });
  }
}

void hookBarrier(uint32_t site) {
  Fiber &f = self();
  step(f, site);
  f.state = FiberState::AtBarrier;
  f.site = site;
  switchContext(f.context, f.runner->scheduler);
}

uint64_t hookShuffle(uint64_t value, uint32_t offset, uint32_t width,
                     uint32_t mode, uint32_t site) {
  Fiber &f = self();
  step(f, site);
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
  step(f, site);
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
  step(f, site);
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
    failFiber(f, [&] {
      return "emu: cp.async of " + std::to_string(srcBytes) +
             " source bytes into " + std::to_string(dstBytes) + " in " +
             f.runner->kernelText() + ", " + f.runner->threadText(f) +
             "\n  by " + f.runner->launch.site(site);
    });
  // The access hook has checked and counted both ranges at the copy.
  f.asyncCopies.push_back({dst, src, dstBytes, srcBytes, site});
}

void hookAsyncCommit() {
  Fiber &f = self();
  f.asyncGroupEnds.push_back(f.asyncCopies.size());
}

void hookAsyncWait(uint32_t pending, uint32_t site) {
  Fiber &f = self();
  step(f, site);
  if (f.asyncGroupEnds.size() <= pending)
    return;
  BlockRunner &runner = *f.runner;
  // Completes the oldest groups, leaving the `pending` most recent ones
  // (and the uncommitted copies) in flight.
  size_t done = f.asyncGroupEnds[f.asyncGroupEnds.size() - pending - 1];
  for (size_t i = 0; i < done; ++i) {
    const Fiber::AsyncCopy &copy = f.asyncCopies[i];
    auto *dst = reinterpret_cast<uint8_t *>(copy.dst);
    // The copy lands now, written by the waiting thread: a thread that
    // touches the bytes before the next barrier races with it.
    if (runner.shadowed() && copy.dstBytes) {
      std::string report = runner.shadowAccess(
          f.linear, copy.dst - reinterpret_cast<uintptr_t>(runner.shared),
          copy.dstBytes, /*reads=*/false, /*writes=*/true, /*atomic=*/false,
          copy.site);
      if (!report.empty())
        failFiber(f, [&] { return std::move(report); });
    }
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

/// Reports an invalid access; `where()` says where it went (built inside
/// the report, see failFiber).
template <typename BuildWhere>
[[noreturn]] void reportAccess(Fiber &f, uint64_t address, uint64_t extent,
                               uint32_t kind, uint32_t site, BuildWhere where) {
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
  failFiber(f, [&] {
    return std::string(head) + "\n  in " + f.runner->kernelText() + ", " +
           f.runner->threadText(f) + "\n  by " + l.site(site) + "\n  " +
           where();
  });
}

/// The bounds and init checks of an access to an allocation with named
/// regions (the tensors of a bundle's workspace): the access must lie in
/// one region that a pointer argument of the launch names, and read only
/// bytes written since the region was named.
void checkRegions(Fiber &f, const Allocation &a, uint64_t address,
                  uint64_t extent, bool exact, uint32_t kind, uint32_t site) {
  const LaunchState &l = f.runner->launch;
  const LaunchRegion *first = l.regions.data() + a.regionsBegin;
  const LaunchRegion *last = l.regions.data() + a.regionsEnd;
  const NamedRegion *home = nullptr;
  for (const LaunchRegion *r = first; r != last && !home; ++r)
    if (r->argument && address >= r->region->base &&
        address + extent <= r->region->base + r->region->size)
      home = r->region;
  auto describe = [&](const NamedRegion &r) {
    char text[96];
    std::snprintf(text, sizeof(text),
                  " (%zu bytes at offset %" PRIuPTR " of the allocation)",
                  r.size, r.base - a.base);
    return "'" + r.name + "'" + text;
  };
  if (!home && l.checks.bounds) {
    // Name the argument tensor the access starts in or ran past, and the
    // tensor it lands in.
    const NamedRegion *before = nullptr, *landed = nullptr;
    for (const LaunchRegion *r = first; r != last; ++r) {
      const NamedRegion &n = *r->region;
      if (address >= n.base && address < n.base + n.size &&
          (!landed || r->argument))
        landed = &n;
      if (r->argument && n.base <= address &&
          (!before || n.base > before->base))
        before = &n;
    }
    reportAccess(f, address, extent, kind, site, [&] {
      std::string where;
      if (before && address < before->base + before->size)
        where =
            "the access runs " +
            std::to_string(address + extent - (before->base + before->size)) +
            " bytes past the end of workspace tensor " + describe(*before);
      else if (before)
        where = "the address is " +
                std::to_string(address - (before->base + before->size)) +
                " bytes after the end of workspace tensor " + describe(*before);
      else
        where = "the address is before every workspace tensor the kernel "
                "takes as an argument";
      if (landed && landed != before)
        where += "\n  and lands in workspace tensor " + describe(*landed) +
                 ", which " + f.runner->kernelText() +
                 " does not take as an argument";
      return where;
    });
  }
  if (!home || !l.checks.init)
    return;
  // Launches pass different subsets of overlapping regions (the memory
  // plan reuses offsets), so a write marks every argument region holding
  // it and a read is fine if any of them has all its bytes written.
  auto holds = [&](const LaunchRegion &r) {
    return r.argument && address >= r.region->base &&
           address + extent <= r.region->base + r.region->size;
  };
  // A masked write with holes marks its whole extent: a false "written"
  // at worst hides a bug, never reports one that is not there.
  if (kind & IOLITE_EMU_ACCESS_WRITE)
    for (const LaunchRegion *r = first; r != last; ++r)
      if (holds(*r)) {
        uint8_t *written =
            r->region->written->data() + (address - r->region->base);
        for (uint64_t i = 0; i < extent; ++i)
          __atomic_store_n(written + i, uint8_t(1), __ATOMIC_RELAXED);
      }
  if (!(kind & IOLITE_EMU_ACCESS_READ) || !exact ||
      (kind & IOLITE_EMU_ACCESS_WRITE))
    return;
  const NamedRegion *unwritten = nullptr;
  uint64_t byte = 0;
  for (const LaunchRegion *r = first; r != last; ++r) {
    if (!holds(*r))
      continue;
    const uint8_t *written =
        r->region->written->data() + (address - r->region->base);
    uint64_t i = 0;
    while (i < extent && __atomic_load_n(written + i, __ATOMIC_RELAXED))
      ++i;
    if (i == extent)
      return;
    // Name the tensor that starts closest below the access.
    if (!unwritten || r->region->base > unwritten->base) {
      unwritten = r->region;
      byte = address + i - r->region->base;
    }
  }
  char head[256];
  std::snprintf(head, sizeof(head),
                "emu initcheck: read of uninitialized global memory: "
                "byte %" PRIu64 " of a %" PRIu64 "-byte read at 0x%" PRIx64
                " was not written since the tensor was named",
                byte, extent, address);
  failFiber(f, [&] {
    return std::string(head) + "\n  in " + f.runner->kernelText() + ", " +
           f.runner->threadText(f) + "\n  by " + l.site(site) +
           "\n  the byte is in workspace tensor " + describe(*unwritten);
  });
}

void hookAccess(uint64_t address, uint64_t extent, uint64_t counted,
                uint32_t kind, uint32_t site) {
  if (extent == 0)
    return;
  Fiber &f = self();
  step(f, site);
  bool reads = kind & IOLITE_EMU_ACCESS_READ;
  bool writes = kind & IOLITE_EMU_ACCESS_WRITE;
  bool atomic = kind & IOLITE_EMU_ACCESS_ATOMIC;
  // A masked access with inactive lanes inside its extent: the hook does
  // not know which bytes it touches, so the shadow checks skip it.
  bool exact = counted == extent;
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
      reportAccess(f, address, extent, kind, site,
                   [&] { return std::string(where); });
    }
    if (reads)
      f.counters.sharedRead += counted;
    if (writes)
      f.counters.sharedWritten += counted;
    BlockRunner &runner = *f.runner;
    if (runner.shadowed()) {
      std::string report = runner.shadowAccess(
          f.linear, address - base, extent, reads, writes, atomic, site, exact);
      if (!report.empty())
        failFiber(f, [&] { return std::move(report); });
    }
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
      reportAccess(f, address, extent, kind, site,
                   [&] { return std::string(where); });
    }
    f.lastAllocation = a = below;
  }
  if (a->regionsBegin != a->regionsEnd)
    checkRegions(f, *a, address, extent, exact, kind, site);
  if (reads)
    f.counters.globalRead += counted;
  if (writes)
    f.counters.globalWritten += counted;
}

void hookFlops(uint64_t count) { self().counters.flops += count; }

void hookAssertFail(uint32_t site) {
  Fiber &f = self();
  failFiber(f, [&] {
    return "emu: assertion failed in " + f.runner->kernelText() + ", " +
           f.runner->threadText(f) + "\n  " + f.runner->launch.site(site);
  });
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
    // The regions named inside it go with it.
    uintptr_t base = it->first, end = base + it->second;
    regions.erase(std::remove_if(regions.begin(), regions.end(),
                                 [&](const NamedRegion &r) {
                                   return r.base >= base && r.base < end;
                                 }),
                  regions.end());
    allocations.erase(it);
    std::free(ptr);
    return IOLITE_SUCCESS;
  }

  /// Host copies and fills write the named regions they cover.
  void markWritten(const void *ptr, size_t bytes) {
    auto begin = reinterpret_cast<uintptr_t>(ptr), end = begin + bytes;
    std::lock_guard<std::mutex> lock(mutex);
    for (NamedRegion &r : regions) {
      uintptr_t from = std::max(begin, r.base);
      uintptr_t to = std::min(end, r.base + r.size);
      if (from < to)
        std::memset(r.written->data() + (from - r.base), 1, to - from);
    }
  }

  iolite_status_t nameRegion(const void *ptr, size_t bytes, const char *name) {
    if (iolite_status_t s = checkRange("iolite_emu_name_region", ptr, bytes))
      return s;
    auto base = reinterpret_cast<uintptr_t>(ptr);
    std::lock_guard<std::mutex> lock(mutex);
    // Naming the same tensor again (a new run) starts it over unwritten.
    regions.erase(std::remove_if(regions.begin(), regions.end(),
                                 [&](const NamedRegion &r) {
                                   return r.base == base && r.size == bytes &&
                                          r.name == name;
                                 }),
                  regions.end());
    regions.push_back(
        {base, bytes, name, std::make_shared<std::vector<uint8_t>>(bytes, 0)});
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
    markWritten(dst, bytes);
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
    markWritten(dst, bytes);
    return IOLITE_SUCCESS;
  }

  iolite_status_t loadModule(const void *image, size_t bytes,
                             iolite_module_t *out) override;
  iolite_status_t synchronize() override { return IOLITE_SUCCESS; }

  /// The allocations for a launch, with the named regions inside them
  /// (`regionsHeld` keeps those alive while the launch runs).
  std::vector<Allocation>
  snapshotAllocations(std::vector<LaunchRegion> &launchRegions,
                      std::vector<NamedRegion> &regionsHeld) {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<Allocation> result;
    result.reserve(allocations.size());
    for (auto &[base, size] : allocations)
      result.push_back({base, size});
    if (regions.empty())
      return result;
    regionsHeld = regions;
    std::sort(regionsHeld.begin(), regionsHeld.end(),
              [](const NamedRegion &x, const NamedRegion &y) {
                return x.base < y.base;
              });
    size_t next = 0;
    for (Allocation &a : result) {
      a.regionsBegin = static_cast<uint32_t>(launchRegions.size());
      while (next < regionsHeld.size() &&
             regionsHeld[next].base < a.base + a.size) {
        if (regionsHeld[next].base >= a.base)
          launchRegions.push_back({&regionsHeld[next], false});
        ++next;
      }
      a.regionsEnd = static_cast<uint32_t>(launchRegions.size());
    }
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
  std::vector<NamedRegion> regions;
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
  std::string checkError;
  if (!readCheckOptions(launch.checks, checkError))
    return setError(IOLITE_ERROR_INVALID_ARGUMENT,
                    "launch of '" + std::string(kernel->name) +
                        "': " + checkError);
  launch.module = module;
  launch.kernel = kernel;
  std::copy(grid, grid + 3, launch.grid);
  std::copy(block, block + 3, launch.block);
  launch.sharedBytes = sharedBytes;
  launch.args = args;
  launch.threadsPerBlock = static_cast<uint32_t>(threads);
  launch.numBlocks = uint64_t(grid[0]) * grid[1] * grid[2];
  std::vector<NamedRegion> regionsHeld;
  launch.allocations = device.snapshotAllocations(launch.regions, regionsHeld);
  // A kernel may touch the named regions its pointer arguments point at.
  for (LaunchRegion &r : launch.regions)
    for (uint32_t i = 0; i < kernel->num_params && i < 64; ++i) {
      if (!(kernel->pointer_params >> i & 1))
        continue;
      uintptr_t pointer;
      std::memcpy(&pointer, args[i], sizeof(pointer));
      if (pointer == r.region->base)
        r.argument = true;
    }
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

iolite_status_t iolite::runtime::emuNameRegion(iolite_device_t device,
                                               const void *ptr, size_t bytes,
                                               const char *name) {
  return static_cast<EmuDevice *>(device)->nameRegion(ptr, bytes, name);
}
