//===- Serialization.h - Kernels to cubin/HSACO with resource reports -*- C++
//-*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The back ends: a module holding one generated gpu.module is lowered for a
// target (lib/Pipelines/GpuPipelines.cpp), serialized by upstream
// gpu-module-to-binary (PTX; HSACO through lld and the ROCm device
// libraries), and for NVIDIA assembled by ptxas. The resources every kernel
// uses are read back: from `ptxas -v` (registers, spill bytes, stack, shared
// memory) and from the HSACO's amdhsa.kernels metadata (VGPRs, SGPRs, spills,
// LDS, private segment).
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_TARGET_SERIALIZATION_H
#define IOLITE_TARGET_SERIALIZATION_H

#include "iolite/Target/TargetDescription.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/Timing.h"
#include <string>
#include <vector>

namespace mlir {
namespace iolite {

/// Resources one kernel uses on one target.
struct KernelResources {
  std::string kernel;
  /// NVIDIA: registers per thread. AMD: VGPRs (arch + accumulation).
  int64_t registers = 0;
  /// AMD only: SGPRs (-1 on NVIDIA).
  int64_t scalarRegisters = -1;
  /// NVIDIA: spill store + load bytes. AMD: VGPRs spilled to scratch.
  int64_t spills = 0;
  /// AMD only: SGPRs spilled into VGPR lanes (no memory traffic); -1 on
  /// NVIDIA.
  int64_t scalarSpills = -1;
  /// NVIDIA: stack frame bytes. AMD: private segment bytes per lane.
  int64_t stackBytes = 0;
  /// Static shared memory / group segment the binary reserves.
  int64_t staticSharedBytes = 0;
};

/// One target's compiled kernels.
struct TargetArtifact {
  std::string target;
  /// "cubin" or "hsaco".
  std::string extension;
  std::string binary;
  std::vector<KernelResources> kernels;
};

/// Where to stop for --emit.
enum class BackendStage { Llvm, Assembly, Binary };

struct BackendOptions {
  unsigned optLevel = 3;
  /// ptxas to run (default: IOLITE_PTXAS, /usr/local/cuda/bin/ptxas, PATH,
  /// /opt/iolite/cuda/bin/ptxas).
  std::string ptxasPath;
  /// Folder with amdgcn/bitcode and llvm/bin/ld.lld (default:
  /// IOLITE_ROCM_TOOLKIT or the one configured in the build tree).
  std::string rocmToolkitPath;
  /// How emu-<chip> targets run matrix ops: "isa" (the chip's lowered
  /// instructions, from the vendors' ISA documents) or "warp"
  /// (iolite_gpu.mma from Iolite's instruction table); see EmuOptions.
  std::string emuMatrixLevel = "isa";
  /// When set and enabled (-mlir-timing), the lowering passes,
  /// serialization and ptxas are timed under this scope.
  TimingScope *timing = nullptr;
};

/// Lowers the gpu.module of `module` (modified in place) for `target`.
/// Stops after `stage`: Llvm leaves the LLVM-dialect module in `module`;
/// Assembly sets `assembly` to the PTX or AMDGCN text; Binary fills
/// `artifact`. Emits diagnostics on `module` on failure.
LogicalResult runBackend(ModuleOp module, const TargetDescription &target,
                         BackendStage stage, const BackendOptions &options,
                         std::string *assembly, TargetArtifact *artifact);

/// Parses `ptxas -v` output into per-kernel reports.
std::vector<KernelResources> parsePtxasReport(StringRef text);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_TARGET_SERIALIZATION_H
