//===- bundle-runner-test.cpp - Run a bundle through BundleRunner ---------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// bundle-runner-test BUNDLE_DIR BACKEND: runs the bundle of
// test/Driver/Inputs/emu_model.mlir (silu(x @ w) and rms_norm(x) * g) with
// BundleRunner, compares it with a double-precision reference (abs + rel
// tolerance 1e-5), prints the emulator's statistics, and checks the
// runner's argument errors. Output is for FileCheck (bundle-runner.mlir).
//
//===----------------------------------------------------------------------===//

#include "iolite/Runtime/BundleRunner.h"
#include "iolite/Runtime/EmuStats.h"

#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>

using namespace iolite;

static HostTensor tensor(std::vector<int64_t> shape,
                         const std::vector<float> &values) {
  HostTensor t;
  t.dtype = "f32";
  t.shape = std::move(shape);
  t.bytes.resize(values.size() * sizeof(float));
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

static std::vector<float> floats(const HostTensor &t) {
  std::vector<float> v(t.bytes.size() / sizeof(float));
  std::memcpy(v.data(), t.bytes.data(), t.bytes.size());
  return v;
}

int main(int argc, char **argv) {
  if (argc != 3)
    return 2;
  llvm::raw_ostream &os = llvm::outs();
  iolite_device_t device;
  if (iolite_device_open(argv[2], 0, &device) != IOLITE_SUCCESS) {
    os << "open: " << iolite_last_error() << "\n";
    return 1;
  }
  auto runner = BundleRunner::open(argv[1], device);
  if (!runner) {
    os << "open bundle: " << llvm::toString(runner.takeError()) << "\n";
    return 1;
  }
  const BundleInterface &iface = (*runner)->getInterface();
  os << "bundle " << iface.name << ": " << iface.inputs.size() << " inputs, "
     << iface.outputs.size() << " outputs, workspace " << iface.workspaceBytes
     << " bytes\n";

  std::vector<float> x(64 * 64), w(64 * 128), g(64);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float((i * 7) % 13) / 13.0f - 0.5f;
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = float((i * 5) % 11) / 11.0f - 0.5f;
  for (size_t i = 0; i < g.size(); ++i)
    g[i] = 0.5f + float(i) / 64.0f;
  std::vector<HostTensor> inputs = {tensor({64, 64}, x), tensor({64, 128}, w),
                                    tensor({64}, g)};

  // Errors the runner catches before running anything.
  std::vector<HostTensor> outputs;
  llvm::Error e = (*runner)->run({inputs[0]}, outputs);
  os << "one input: " << llvm::toString(std::move(e)) << "\n";
  std::vector<HostTensor> swapped = {inputs[1], inputs[0], inputs[2]};
  e = (*runner)->run(swapped, outputs);
  os << "swapped inputs: " << llvm::toString(std::move(e)) << "\n";

  if (llvm::Error error = (*runner)->run(inputs, outputs)) {
    os << "run: " << llvm::toString(std::move(error)) << "\n";
    return 1;
  }
  std::vector<float> y = floats(outputs[0]), n = floats(outputs[1]);
  int bad = 0;
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 128; ++j) {
      double acc = 0;
      for (int k = 0; k < 64; ++k)
        acc += double(x[i * 64 + k]) * w[k * 128 + j];
      double ref = acc / (1.0 + std::exp(-acc));
      bad += std::fabs(ref - y[i * 128 + j]) > 1e-5 * (1 + std::fabs(ref));
    }
    double ss = 0;
    for (int k = 0; k < 64; ++k)
      ss += double(x[i * 64 + k]) * x[i * 64 + k];
    double scale = 1.0 / std::sqrt(ss / 64 + 1e-5);
    for (int k = 0; k < 64; ++k) {
      double ref = x[i * 64 + k] * scale * g[k];
      bad += std::fabs(ref - n[i * 64 + k]) > 1e-5 * (1 + std::fabs(ref));
    }
  }
  os << "outputs " << outputs[0].dtype << " " << outputs[0].shape[0] << "x"
     << outputs[0].shape[1] << ", " << outputs[1].dtype << " "
     << outputs[1].shape[0] << "x" << outputs[1].shape[1]
     << ", mismatches: " << bad << "\n";
  printEmuStatsTable(os, collectEmuStats(device));
  runner->reset(); // unload before closing the device
  iolite_device_close(device);
  return bad != 0;
}
