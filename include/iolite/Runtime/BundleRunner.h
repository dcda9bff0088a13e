//===- BundleRunner.h - Run a compiled bundle from a host program -*- C++
//-*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// What iolite-run needs to run a bundle directory (NAME.h, NAME.c, binaries,
// manifest.json) on a device of any backend: the bundle's own launch code is
// compiled with the host C compiler into a shared object and called, so the
// path exercised is the one a user's build takes. Inputs and outputs are host
// tensors checked against the manifest.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_RUNTIME_BUNDLERUNNER_H
#define IOLITE_RUNTIME_BUNDLERUNNER_H

#include "iolite/Runtime/iolite_runtime.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace iolite {

/// A tensor in host memory: row-major, little-endian elements.
struct HostTensor {
  /// "f32", "f16", "bf16", "i1", "i32", "i64" (the manifest's names).
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<char> bytes;
};

/// Bytes of one element of `dtype`, or 0 if unknown.
size_t dtypeBytes(llvm::StringRef dtype);

/// A dim of a bundle with symbolic dims: `coeff * prod(dims[i]^exps[i])`.
struct BundleDimExpr {
  int64_t coeff = 1;
  std::vector<int64_t> exps;
  /// The size at `dims`, or nullopt on overflow.
  std::optional<int64_t> evaluate(llvm::ArrayRef<int64_t> dims) const;
};

/// What the manifest says about a bundle's interface.
struct BundleInterface {
  std::string name;
  /// Shapes and dtypes; `bytes` holds no data here. A symbolic dim is -1.
  std::vector<HostTensor> inputs, outputs;
  /// The symbolic dims NAME_run takes, in order (none for a static model).
  struct Symbol {
    std::string name;
    int64_t min = 0, max = 0;
  };
  std::vector<Symbol> symbols;
  /// Per input/output, per dim (empty for a static model).
  std::vector<std::vector<BundleDimExpr>> inputDims, outputDims;
  /// Per output: the input it is written into in place ("tied_input", a KV
  /// cache append), or -1. run() returns it from that input's buffer.
  std::vector<int64_t> outputTiedInput;
  int64_t workspaceBytes = 0;
  /// The planned tensors of the workspace ("workspace_tensors"): run()
  /// names them on an emu device for the emulator's sanitizers.
  struct WorkspaceTensor {
    std::string name;
    int64_t offset = 0, bytes = 0;
    /// Bytes at given dims (symbolic models).
    std::optional<BundleDimExpr> bytesAtDims;
  };
  std::vector<WorkspaceTensor> workspaceTensors;
  /// Target names ("sm_90a", "emu-gfx942", ...).
  std::vector<std::string> targets;
};

/// Reads a bundle's interface from the text of its manifest.json; `path`
/// names the file in messages. Rejects entries without a known dtype, with a
/// negative dimension or with more bytes than memory can address.
llvm::Expected<BundleInterface> parseBundleManifest(llvm::StringRef text,
                                                    llvm::StringRef path);

/// Checks what a user passes to a run against the bundle's interface: the
/// number of inputs, each one's dtype, shape and byte count. For a bundle
/// with symbolic dims, binds them from the shapes (consistent across
/// inputs, within their bounds) and returns their values.
llvm::Expected<std::vector<int64_t>>
checkBundleInputs(const BundleInterface &interface,
                  llvm::ArrayRef<HostTensor> inputs);

/// The shape of a tensor of dims `exprs` at `dims`.
std::vector<int64_t> shapeAtDims(llvm::ArrayRef<BundleDimExpr> exprs,
                                 llvm::ArrayRef<int64_t> dims);

/// A bundle loaded on one device.
class BundleRunner {
public:
  /// Reads `bundleDir`/manifest.json, compiles NAME.c with the host C
  /// compiler ($IOLITE_CC, else the one Iolite was built with, else cc),
  /// loads it and calls NAME_load on `device`, which picks the binary for
  /// the device. The device must outlive the runner.
  static llvm::Expected<std::unique_ptr<BundleRunner>>
  open(llvm::StringRef bundleDir, iolite_device_t device);
  ~BundleRunner();

  const BundleInterface &getInterface() const { return interface; }

  /// Copies `inputs` to the device, runs the model, copies the outputs back
  /// into `outputs` (shaped as the manifest says). Inputs must match the
  /// manifest's count, dtypes and shapes.
  llvm::Error run(llvm::ArrayRef<HostTensor> inputs,
                  std::vector<HostTensor> &outputs);

  /// Whether run() first refuses bad serving inputs with NAME_check_inputs
  /// (default). Off, the kernels get them as NAME_run would: tests use it
  /// to prove the kernels stay inside their buffers even then.
  void setCheckInputs(bool enabled) { checkInputsEnabled = enabled; }

private:
  BundleRunner() = default;

  BundleInterface interface;
  iolite_device_t device = nullptr;
  std::string scratchDir;
  void *library = nullptr;
  void *model = nullptr;
  void (*unload)(void *) = nullptr;
  iolite_status_t (*runArrays)(void *, const void *const *, void *const *,
                               void *, iolite_stream_t) = nullptr;
  /// NAME_run_v and NAME_workspace_size of a bundle with symbolic dims.
  iolite_status_t (*runArraysAtDims)(void *, const int64_t *,
                                     const void *const *, void *const *, void *,
                                     iolite_stream_t) = nullptr;
  size_t (*workspaceSize)(const int64_t *) = nullptr;
  /// NAME_check_inputs (static: `checkInputs`; symbolic dims:
  /// `checkInputsAtDims`), run on the host inputs before anything is copied.
  bool checkInputsEnabled = true;
  iolite_status_t (*checkInputs)(const void *const *) = nullptr;
  iolite_status_t (*checkInputsAtDims)(const int64_t *,
                                       const void *const *) = nullptr;
};

} // namespace iolite

#endif // IOLITE_RUNTIME_BUNDLERUNNER_H
