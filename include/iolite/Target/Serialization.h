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
#include <optional>
#include <string>
#include <vector>

namespace mlir {
namespace iolite {

/// Resources one kernel uses on one target, as the assembler reported them.
/// A field the report did not give stays std::nullopt ("unknown"), never 0:
/// checkResourceReports rejects an incomplete report, so the consumers of a
/// compiled TargetArtifact may rely on every field of its vendor.
struct KernelResources {
  std::string kernel;
  /// NVIDIA: registers per thread. AMD: VGPRs (arch + accumulation).
  std::optional<int64_t> registers;
  /// AMD only: SGPRs (nullopt on NVIDIA).
  std::optional<int64_t> scalarRegisters;
  /// NVIDIA: spill store + load bytes. AMD: VGPRs spilled to scratch.
  std::optional<int64_t> spills;
  /// AMD only: SGPRs spilled into VGPR lanes (no memory traffic); nullopt on
  /// NVIDIA.
  std::optional<int64_t> scalarSpills;
  /// NVIDIA: stack frame bytes. AMD: private segment bytes per lane.
  std::optional<int64_t> stackBytes;
  /// Static shared memory / group segment the binary reserves.
  std::optional<int64_t> staticSharedBytes;
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
  /// Registers per thread each kernel may use (--max-registers): NVIDIA
  /// `.maxnreg` (nvvm.maxnreg, as Triton's maxnreg; ptxas' -maxrregcount
  /// does not override the `.maxntid` every kernel carries), AMD the
  /// `amdgpu-num-vgpr` function attribute. Unset: the assembler's choice.
  std::optional<unsigned> maxRegisters;
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

/// Parses `ptxas -v` output into per-kernel reports, in the order ptxas
/// compiled the kernels. A field whose line is missing stays unknown; the
/// static shared memory is 0 when the "Used N registers" line names none
/// (ptxas leaves it out then). Fails, with `error` naming the line, on a
/// report line whose numbers cannot be read.
FailureOr<std::vector<KernelResources>> parsePtxasReport(StringRef text,
                                                         std::string &error);

/// Checks that `reports` holds exactly one complete report (every field of
/// the vendor: NVIDIA registers, spills, stack, shared; AMD also SGPRs and
/// SGPR spills) for every kernel in `kernels`. Fails with `error` naming
/// the kernels without a report and the missing fields.
LogicalResult checkResourceReports(ArrayRef<KernelResources> reports,
                                   ArrayRef<std::string> kernels, bool amd,
                                   std::string &error);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_TARGET_SERIALIZATION_H
