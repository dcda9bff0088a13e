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
#include <algorithm>
#include <optional>
#include <vector>

namespace mlir {
namespace iolite {

/// Where a kernel argument points.
struct BundleArg {
  enum Kind { Input, Output, Workspace, Constant, Dim } kind;
  /// Input/output/constant/symbol number.
  int64_t index = 0;
  /// Byte offset into the workspace.
  int64_t offset = 0;
};

/// A dim of a bundle tensor in a model with symbolic dims:
/// `coeff * prod(symbol_i ^ exps[i])` (no exponents for a static dim).
struct BundleDim {
  int64_t coeff = 1;
  std::vector<int64_t> exps;
  bool isStatic() const {
    return std::all_of(exps.begin(), exps.end(),
                       [](int64_t e) { return e == 0; });
  }
};

struct BundleTensor {
  /// -1 for a symbolic dim.
  std::vector<int64_t> shape;
  std::string dtype;
  /// At the bounds, for a tensor with symbolic dims.
  int64_t bytes = 0;
  /// Per dim, for a model with symbolic dims; empty otherwise.
  std::vector<BundleDim> dims;
  /// For an output written in place into an input (a KV cache append): that
  /// input's number; it is then not a parameter of NAME_run. -1 otherwise.
  int64_t tiedInput = -1;
};

/// A symbol of a model with symbolic dims, with its inclusive bounds.
struct BundleSymbol {
  std::string name;
  int64_t lo = 0, hi = 0;
};

/// A planned tensor of the workspace (an intermediate or a kernel's
/// scratch), named for the emulator's sanitizers: the manifest's
/// "workspace_tensors", which BundleRunner names on an emu device.
struct BundleWorkspaceTensor {
  std::string name;
  int64_t offset = 0;
  int64_t bytes = 0;
  /// Bytes at given dims (symbolic models; unset: always `bytes`).
  std::optional<BundleDim> bytesAtDims;
};

/// A run-time check of a serving op's lengths and block table (or
/// cu_seqlens), read from host copies of the inputs by NAME_check_inputs
/// before anything runs. Sizes are dim expressions; inputs are numbers (-1:
/// none).
struct BundleCheck {
  std::string kind;
  /// "file:line:col: 'op'", for messages.
  std::string where;
  int64_t lens = -1, table = -1, cuSeqlensQ = -1, cuSeqlensK = -1;
  /// kv_cache_append / cache_attention: sequences, new tokens (append),
  /// the cache's rows (contiguous L, or page size P), pool pages N and
  /// pages per sequence M (paged). varlen_attention: B + 1 and the packed
  /// query and key rows.
  std::optional<BundleDim> batch, steps, rows, pool, perSeq, batchPlusOne,
      totalQ, totalK;
};

struct BundleLaunch {
  std::string kernel;
  std::vector<BundleArg> args;
};

struct BundleModel {
  std::string name;
  /// The symbols NAME_run takes, in order (empty for a static model).
  std::vector<BundleSymbol> symbols;
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
  /// The serving ops' input checks (NAME_check_inputs).
  std::vector<BundleCheck> checks;
  std::vector<const TargetDescription *> targets;
  std::vector<TargetArtifact> artifacts;
  /// One per launch.
  std::vector<BundleKernel> kernels;
  /// Per launch, per target: the grid's axes as [divisor, coeff,
  /// exponents...] when it depends on the symbols (empty otherwise).
  std::vector<std::vector<std::vector<std::vector<int64_t>>>> gridExtents;
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
