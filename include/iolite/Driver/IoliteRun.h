//===- IoliteRun.h - The iolite-run tool ------------------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// iolite-run runs one function of a model on a backend with inputs from
// .npy files, writes the outputs as .npy files and compares them with
// expected arrays. The tool's main only parses the command line; everything
// else is here so that tests and other front ends can call it.
//
//   iolite-run MODEL|BUNDLE_DIR --backend=cpu|emu|cuda|hip [--function=NAME]
//       --input=a.npy ... [--output-dir=DIR]
//       [--expect=y.npy ... --rtol=R --atol=A] [--stats[=table|json]]
//
// cpu JIT-runs the model's reference lowering. emu, cuda and hip run a
// compiled bundle through the runtime (BundleRunner): a bundle folder as it
// is, or a model file compiled first into a temporary bundle for --target
// (default: emu-sm_90a on emu, the device's own chip on cuda and hip).
// --stats prints the emulator's per-launch counters (global and shared
// bytes, flops, barriers) as a table or as JSON.
//
// Inputs bind to the function's (or the bundle's) inputs in order; output i
// is written to DIR/out<i>.npy. Exit status: 0 when the function ran (and every
// output matched its --expect), 1 when an output did not match, 2 on any error
// (bad command line, unreadable or mismatched inputs, a model that does not
// parse or compile).
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DRIVER_IOLITERUN_H
#define IOLITE_DRIVER_IOLITERUN_H

#include "iolite/Driver/HostTensor.h"
#include "iolite/Driver/ModelLoader.h"
#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace mlir {
namespace func {
class FuncOp;
} // namespace func

namespace iolite {

/// Everything iolite-run's command line says.
struct RunToolOptions {
  /// The model: .mlir (text or bytecode) or .onnx, read by loadModel.
  std::string model;
  ModelLoadOptions load;
  std::string backend = "cpu";
  /// Empty: the module's only public function, or `main`.
  std::string function;
  std::vector<std::string> inputs;
  std::vector<std::string> expects;
  /// Empty: outputs are not written.
  std::string outputDir;
  double rtol = 1e-5;
  double atol = 1e-8;
  /// LLVM optimization level for backends that JIT-compile host code.
  unsigned optLevel = 0;
  /// Comma-separated bundle targets a model file is compiled for on the
  /// emu, cuda and hip backends; on a bundle folder, an emu-CHIP entry picks
  /// the emulated chip. Empty: see above.
  std::string targets;
  /// How a model file is compiled: TF32 for f32 products, and how emu
  /// targets run matrix instructions ("isa" or "warp"; iolite-compile's
  /// --allow-tf32 and --emu-matrix-level).
  bool allowTf32 = false;
  std::string emuMatrixLevel = "isa";
  /// Emulator statistics after the run: "" none, "table" or "json".
  std::string stats;
  /// Also write the statistics as JSON to this file.
  std::string statsFile;
  /// The emulator's sanitizers ("race,bounds,init,hang", "all", "none") and
  /// fiber-order seed; empty: IOLITE_EMU_CHECK / IOLITE_EMU_SEED as set.
  std::string emuChecks;
  std::string emuSeed;
};

/// Runs iolite-run; messages go to `out` (results, comparisons) and `err`
/// (diagnostics). Returns the exit status described above.
int runIoliteRun(const RunToolOptions &options, llvm::raw_ostream &out,
                 llvm::raw_ostream &err);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DRIVER_IOLITERUN_H
