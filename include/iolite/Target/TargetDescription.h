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

#include "iolite/Target/MatrixTable.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"
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

  // How many blocks one multiprocessor holds at once: the occupancy a
  // kernel's registers, shared memory and block size allow.
  /// Resident threads per multiprocessor (NVIDIA: 64 warps; AMD: 4 SIMDs
  /// of 8 wavefronts).
  unsigned maxThreadsPerMultiprocessor = 2048;
  /// Resident blocks (workgroups) per multiprocessor.
  unsigned maxBlocksPerMultiprocessor = 32;
  /// The register file is split into this many parts (NVIDIA: SM
  /// sub-partitions; AMD: SIMDs); a warp's registers all come from one.
  unsigned registerFilePartitions = 4;
  /// Registers are allocated per thread in multiples of this (NVIDIA: 256
  /// per warp, i.e. 8 per thread; CDNA2/3: 8 VGPRs).
  unsigned registerAllocationUnit = 8;
  /// AMD: SGPRs of one SIMD and their allocation unit; 0 on NVIDIA.
  unsigned scalarRegistersPerPartition = 0;
  unsigned scalarRegisterAllocationUnit = 0;
  /// Shared memory (LDS) is allocated per block in multiples of this.
  unsigned sharedMemoryAllocationUnit = 128;
  /// Shared memory the system reserves for every resident block.
  unsigned reservedSharedMemoryPerBlock = 0;

  // Peak rates of the chip's usual part (the one `multiprocessors` counts),
  // from the vendor's data sheet: inputs of roofline estimates only.
  /// "H100 SXM5 80GB".
  std::string part;
  /// DRAM (HBM) bandwidth, bytes per second.
  double peakMemoryBandwidth = 0;
  /// FP32 on the SIMT / vector units (an FMA counts 2), FLOP per second.
  double peakVectorFp32Flops = 0;
  /// Dense FP16/BF16 on tensor cores / matrix cores, FLOP per second.
  double peakMatrixFp16Flops = 0;
  /// Widest global load/store the kernels vectorize to. Every buffer a
  /// kernel receives (inputs, outputs, workspace slices, constants) is
  /// aligned to it: the bundle checks the pointers it is given.
  unsigned maxVectorBytes = 16;
  /// f32 accumulators one thread of a matmul kernel may keep live across all
  /// its register tiles (several when matmuls share the LHS); tiles shrink
  /// until they fit, leaving the rest of the registers to addresses,
  /// fragments and the epilogue without spilling.
  unsigned accumulatorsPerThread = 64;
  /// The same for matrix-instruction tiles, whose accumulators are the
  /// fragments of the instruction (f32 registers per lane).
  unsigned matrixAccumulatorsPerThread = 128;
  /// PTX ISA features passed to the NVPTX back end ("+ptx80"); empty on AMD.
  std::string features;
  /// The matrix instructions of the chip (MatrixTable.h), preferred first
  /// among those of one input type.
  SmallVector<::mlir::iolite::matrix::Kind, 8> matrixKinds;

  /// Tunings keyed by kernel family ("elementwise", "row_reduction",
  /// "matmul", ...).
  SmallVector<std::pair<std::string, KernelTuning>, 4> tunings;

  bool isNvidia() const { return vendor == GpuVendor::Nvidia; }
  bool isAmd() const { return vendor == GpuVendor::Amd; }

  /// The tuning of `family`, or nullptr when the chip has none.
  const KernelTuning *getTuning(StringRef family) const;
  /// Whether the chip has the matrix instruction `kind`.
  bool hasMatrixKind(::mlir::iolite::matrix::Kind kind) const;
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

/// Writes every target description as a JSON array (iolite-compile
/// --list-targets): what the benchmarks compute occupancy and rooflines
/// from.
void printTargetDescriptionsJSON(llvm::raw_ostream &os);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_TARGET_TARGETDESCRIPTION_H
