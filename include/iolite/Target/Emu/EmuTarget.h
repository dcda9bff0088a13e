//===- EmuTarget.h - gpu.module -> host shared object for the emulator -*- C++
//-*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The emu target compiles the target-neutral gpu.module that the NVVM and
// ROCDL back ends also receive into a host shared object that the runtime's
// emu backend runs (docs/runtime-and-emulator.md). The object talks to the
// runtime only through include/iolite/Runtime/iolite_emu_abi.h.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_TARGET_EMU_EMUTARGET_H
#define IOLITE_TARGET_EMU_EMUTARGET_H

#include "iolite/Target/TargetDescription.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace mlir {
class OpPassManager;
namespace gpu {
class GPUModuleOp;
} // namespace gpu

namespace iolite::emu {

/// The emu-<chip> target description for `name` ("sm_90a" or
/// "emu-sm_90a"): the chip's own facts (warp width, launch limits), which the
/// emulator enforces. Null if there is none.
const TargetDescription *lookupEmuTarget(llvm::StringRef name);

/// "sm_80, sm_90a, gfx90a, gfx942": the chips the emulator can imitate.
std::string getEmuChipNames();

/// How to compile for the emulator.
struct EmuOptions {
  /// The emulated chip, with or without the "emu-" prefix.
  std::string chip = "sm_90a";
  /// LLVM optimization level of the host code (0-3).
  unsigned optLevel = 2;
  /// Host CPU the object may use instructions of; "" is a generic x86-64.
  std::string hostCpu;
  /// ld.lld to link the shared object with; "" finds it next to the LLVM
  /// this was built with, then on PATH.
  std::string linker;
  /// Count floating-point operations (one hook call per basic block).
  bool countFlops = true;
  /// How matrix ops run: "isa" lowers them as for the chip (nvgpu.ldmatrix,
  /// nvgpu.mma.sync, amdgpu.mfma) and emulates those from the vendors' ISA
  /// documents; "warp" keeps iolite_gpu.mma and emulates it from Iolite's
  /// instruction table.
  std::string matrixLevel = "isa";
};

/// Pipeline options mirroring EmuOptions for iolite-opt.
struct EmuPipelineOptions : public PassPipelineOptions<EmuPipelineOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("Emulated chip"), llvm::cl::init("sm_90a")};
  PassOptions::Option<bool> countFlops{
      *this, "count-flops", llvm::cl::desc("Count floating-point operations"),
      llvm::cl::init(true)};
  PassOptions::Option<std::string> matrixLevel{
      *this, "matrix-level",
      llvm::cl::desc("isa: emulate the chip's matrix instructions; warp: "
                     "emulate iolite_gpu.mma from the instruction table"),
      llvm::cl::init("isa")};
};

/// Adds to `pm` (anchored on a builtin.module holding gpu.modules) the passes
/// that turn each gpu.module into a nested builtin.module of host LLVM
/// dialect code ready for translation: iolite-gpu-lower-matrix, lower-affine
/// and convert-vector-to-scf on the kernels, iolite-emu-instrument,
/// iolite-convert-gpu-to-emu.
void buildEmuLoweringPipeline(OpPassManager &pm, const EmuOptions &options);

/// Compiles `module` for the emulator: the returned bytes are a host shared
/// object that iolite_module_load accepts on an emu device. `module` itself
/// is not changed; errors are emitted as diagnostics on it.
FailureOr<std::string> serializeEmu(gpu::GPUModuleOp module,
                                    const EmuOptions &options);

/// Registers the emu passes and iolite-emu-lowering-pipeline.
void registerEmuPasses();

#define GEN_PASS_DECL
#include "iolite/Target/Emu/Passes.h.inc"

} // namespace iolite::emu
} // namespace mlir

#endif // IOLITE_TARGET_EMU_EMUTARGET_H
