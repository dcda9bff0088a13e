//===- TargetDescription.h - Facts about one GPU chip -----------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// One description per chip: every number the kernel generators, the
// shared-memory planner, the resource check and the back ends need about a
// target lives here and nowhere else (warp size, shared memory, registers,
// preferred tiles per kernel family). `emu-<chip>` targets share the facts of
// their chip so the emulator runs the very kernels the chip would get.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_TARGET_TARGETDESCRIPTION_H
#define IOLITE_TARGET_TARGETDESCRIPTION_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include <optional>
#include <string>
#include <vector>

namespace mlir {
namespace iolite {

/// Who makes the chip; decides the back end (NVVM or ROCDL).
enum class GpuVendor { Nvidia, Amd };

/// Preferred launch shape of one kernel family on one chip. `tile` is
/// family-specific: matmul reads {BM, BN, BK}; row reductions read
/// {rows per block (one per warp), columns from which a row gets a whole
/// block}; elementwise reads {elements per thread}; attention reads
/// {BM query rows, BN keys}.
struct KernelTuning {
  SmallVector<int64_t, 3> tile;
  /// Threads per block.
  unsigned threads = 256;
  /// Pipeline stages of operand tiles in shared memory (2 = double
  /// buffering), used only where the shared-memory plan leaves room.
  unsigned stages = 1;
};

/// The facts of one compilation target.
struct TargetDescription {
  /// The name users write in --target ("sm_90a", "emu-gfx942").
  std::string name;
  /// The chip the facts describe ("sm_90a"); equal to `name` unless emulated.
  std::string chip;
  GpuVendor vendor = GpuVendor::Nvidia;
  /// True for emu-<chip>: kernels compiled for the host CPU emulator.
  bool emulated = false;
  /// Threads in a warp (NVIDIA) or wavefront (AMD).
  unsigned warpSize = 32;
  unsigned maxThreadsPerBlock = 1024;
  /// Shared memory (LDS) a block may use without opting in.
  unsigned sharedMemoryPerBlock = 48 * 1024;
  /// Shared memory a block may use after opting in (the hard limit).
  unsigned sharedMemoryPerBlockOptin = 48 * 1024;
  unsigned sharedMemoryPerMultiprocessor = 64 * 1024;
  /// Streaming multiprocessors (NVIDIA) or compute units (AMD) of the
  /// chip's usual part; grid-size heuristics (split-KV) aim to fill them.
  unsigned multiprocessors = 108;
  /// 32-bit registers one thread may use (VGPRs, AGPRs included, on AMD).
  unsigned registersPerThread = 255;
  /// 32-bit registers of one multiprocessor / compute unit.
  unsigned registersPerMultiprocessor = 65536;
  /// Widest global load/store the kernels vectorize to. Every buffer a
  /// kernel receives (inputs, outputs, workspace slices, constants) is
  /// aligned to it: the bundle checks the pointers it is given.
  unsigned maxVectorBytes = 16;
  /// f32 accumulators one thread of a matmul kernel may keep live across all
  /// its register tiles (several when matmuls share the LHS); tiles shrink
  /// until they fit, leaving the rest of the registers to addresses,
  /// fragments and the epilogue without spilling.
  unsigned accumulatorsPerThread = 64;
  /// PTX ISA features passed to the NVPTX back end ("+ptx80"); empty on AMD.
  std::string features;

  /// Tunings keyed by kernel family ("elementwise", "row_reduction",
  /// "matmul", ...).
  SmallVector<std::pair<std::string, KernelTuning>, 4> tunings;

  bool isNvidia() const { return vendor == GpuVendor::Nvidia; }
  bool isAmd() const { return vendor == GpuVendor::Amd; }

  /// The tuning of `family`, or nullptr when the chip has none.
  const KernelTuning *getTuning(StringRef family) const;
};

/// Every known target, emu variants included, in a stable order.
ArrayRef<TargetDescription> getAllTargets();

/// The target called `name`, or nullptr.
const TargetDescription *lookupTarget(StringRef name);

/// Parses a comma-separated list of target names. On failure returns
/// std::nullopt and sets `error` to a message naming the bad entry and the
/// known targets.
std::optional<SmallVector<const TargetDescription *>>
parseTargetList(StringRef list, std::string &error);

/// "sm_80, sm_90a, gfx90a, ..." for diagnostics.
std::string getKnownTargetNames();

} // namespace iolite
} // namespace mlir

#endif // IOLITE_TARGET_TARGETDESCRIPTION_H
