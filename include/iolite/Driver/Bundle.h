//===- Bundle.h - The AOT bundle: header, launch code, manifest -*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// A bundle is what a build consumes: NAME.h (the C API), NAME.c (launch code
// calling only include/iolite/Runtime/iolite_runtime.h, with every target's
// binary embedded and chosen at load by the device's chip), one binary per
// target and manifest.json. It is read off the host launch function that
// iolite-kernel-to-gpu generates.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DRIVER_BUNDLE_H
#define IOLITE_DRIVER_BUNDLE_H

#include "iolite/Driver/Compile.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include <vector>

namespace mlir {
namespace iolite {

/// Where a kernel argument points.
struct BundleArg {
  enum Kind { Input, Output, Workspace, Constant } kind;
  /// Input/output/constant number.
  int64_t index = 0;
  /// Byte offset into the workspace.
  int64_t offset = 0;
};

struct BundleTensor {
  std::vector<int64_t> shape;
  std::string dtype;
  int64_t bytes = 0;
};

/// A planned tensor of the workspace (an intermediate or a kernel's
/// scratch), named for the emulator's sanitizers: the manifest's
/// "workspace_tensors", which BundleRunner names on an emu device.
struct BundleWorkspaceTensor {
  std::string name;
  int64_t offset = 0;
  int64_t bytes = 0;
};

struct BundleLaunch {
  std::string kernel;
  std::vector<BundleArg> args;
};

struct BundleModel {
  std::string name;
  std::vector<BundleTensor> inputs, outputs;
  int64_t workspaceBytes = 0;
  /// The tensors the memory plan places in the workspace, of every target
  /// (scratch may differ per chip: the largest is kept).
  std::vector<BundleWorkspaceTensor> workspaceTensors;
  /// Constant contents (little-endian element bytes).
  std::vector<std::string> constants;
  /// Constants of at least this many bytes go to the NAME.weights side file
  /// instead of being embedded in NAME.c.
  int64_t weightsThreshold = kDefaultWeightsThreshold;
  std::vector<BundleLaunch> launches;
  std::vector<const TargetDescription *> targets;
  std::vector<TargetArtifact> artifacts;
  /// One per launch.
  std::vector<BundleKernel> kernels;
};

/// Where the constants of a bundle live: embedded in NAME.c or at an offset
/// of NAME.weights. The weights file is a 64-byte header (magic
/// "IOLITEWT", format version, file size, FNV-1a 64 hash of the constants'
/// bytes in order) followed by the constants, each at a 64-byte aligned
/// offset.
struct WeightsLayout {
  /// Per constant: its offset in the weights file, or -1 when embedded.
  std::vector<int64_t> offsets;
  /// Size of the weights file (0: no file).
  int64_t fileBytes = 0;
  /// FNV-1a 64 of the bytes of the constants in the file, in order.
  uint64_t hash = 0;
};

/// Places the constants of `model` (see WeightsLayout).
WeightsLayout layoutWeights(const BundleModel &model);

/// Reads inputs, outputs, workspace, constants and launches off the host
/// function in `module` (after iolite-kernel-to-gpu). `targetIndex` selects
/// the launch-shape slot the kernels' dims fill.
LogicalResult readHostPlan(ModuleOp module, func::FuncOp host,
                           BundleModel &model, unsigned targetIndex);

/// Fails, saying why, unless `outDir` may receive a bundle: it does not
/// exist, is an empty folder, or holds an earlier bundle (manifest.json).
LogicalResult checkBundleOutput(StringRef outDir, std::string &error);

/// Writes the bundle into `outDir` atomically (temporary folder + rename),
/// replacing an earlier bundle there; checks `outDir` first.
LogicalResult writeBundle(const BundleModel &model, StringRef outDir,
                          std::string &error);

/// Prints the per-kernel table (kernel, source ops, grid/block, shared
/// memory, registers/spills per target).
void printKernelTable(const BundleModel &model, llvm::raw_ostream &os);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DRIVER_BUNDLE_H
