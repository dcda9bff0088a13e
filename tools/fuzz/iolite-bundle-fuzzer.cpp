//===- iolite-bundle-fuzzer.cpp - Fuzz a bundle's manifest and inputs -----===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// libFuzzer target for what a user hands to a bundle run: the bundle's
// manifest.json (read by BundleRunner::open) and the tensors passed to
// BundleRunner::run. An input is the manifest text, a NUL byte, then bytes
// that pick the run's inputs: their number, dtypes, shapes and byte counts,
// often copied from the manifest so that the checks pass. Inputs that pass
// checkBundleInputs are copied to an emu device as run() copies them (no
// kernel is launched: there is no compiled launch code).
//
//===----------------------------------------------------------------------===//

#include "iolite/Runtime/BundleRunner.h"
#include "iolite/Runtime/iolite_runtime.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

using namespace iolite;

namespace {
/// The most bytes of inputs a run copies to the device here.
constexpr size_t kMaxCopyBytes = 1 << 20;

const char *const kDTypes[] = {"f32", "f16", "bf16", "i1",
                               "i32", "i64", "f64",  ""};

/// The run's tensors, chosen by `fuzz` against `iface`.
std::vector<HostTensor> pickInputs(const BundleInterface &iface,
                                   FuzzedDataProvider &fuzz) {
  std::vector<HostTensor> inputs;
  size_t count = iface.inputs.size();
  if (fuzz.ConsumeBool())
    count = fuzz.ConsumeIntegralInRange<size_t>(0, 8);
  for (size_t i = 0; i < count; ++i) {
    HostTensor t;
    bool known = i < iface.inputs.size();
    if (known && fuzz.ConsumeBool()) {
      t.dtype = iface.inputs[i].dtype;
      t.shape = iface.inputs[i].shape;
      // A symbolic dim (-1) takes a size around the bounds.
      for (int64_t &d : t.shape)
        if (d < 0)
          d = fuzz.ConsumeIntegralInRange<int64_t>(0, 130);
    } else {
      t.dtype = fuzz.PickValueInArray(kDTypes);
      size_t rank = fuzz.ConsumeIntegralInRange<size_t>(0, 6);
      for (size_t d = 0; d < rank; ++d)
        t.shape.push_back(fuzz.ConsumeIntegral<int64_t>());
    }
    // The byte count the manifest asks for, or any small one.
    size_t bytes = fuzz.ConsumeIntegralInRange<size_t>(0, 4096);
    if (fuzz.ConsumeBool()) {
      size_t n = dtypeBytes(t.dtype);
      bool fits = true;
      for (int64_t d : t.shape)
        fits = fits && d >= 0 &&
               !__builtin_mul_overflow(n, static_cast<size_t>(d), &n);
      if (fits && n <= kMaxCopyBytes)
        bytes = n;
    }
    t.bytes.assign(bytes, 0x5a);
    inputs.push_back(std::move(t));
  }
  return inputs;
}

iolite_device_t emuDevice() {
  static iolite_device_t device = [] {
    iolite_device_t d = nullptr;
    if (iolite_device_open("emu", 0, &d) != IOLITE_SUCCESS)
      std::abort();
    return d;
  }();
  return device;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const auto *nul = static_cast<const uint8_t *>(std::memchr(data, 0, size));
  size_t manifestSize = nul ? static_cast<size_t>(nul - data) : size;
  llvm::StringRef manifest(reinterpret_cast<const char *>(data), manifestSize);
  llvm::Expected<BundleInterface> iface =
      parseBundleManifest(manifest, "fuzz/manifest.json");
  if (!iface) {
    llvm::consumeError(iface.takeError());
    return 0;
  }
  size_t rest = nul ? size - manifestSize - 1 : 0;
  FuzzedDataProvider fuzz(data + size - rest, rest);
  std::vector<HostTensor> inputs = pickInputs(*iface, fuzz);
  if (llvm::Expected<std::vector<int64_t>> dims =
          checkBundleInputs(*iface, inputs);
      !dims) {
    llvm::consumeError(dims.takeError());
    return 0;
  }

  // Accepted inputs have exactly the manifest's byte counts: copy them to
  // the device and back as a run would.
  size_t total = 0;
  for (const HostTensor &t : inputs)
    total += t.bytes.size();
  if (total > kMaxCopyBytes)
    return 0;
  iolite_device_t device = emuDevice();
  for (const HostTensor &t : inputs) {
    void *p = nullptr;
    if (iolite_malloc(device, t.bytes.size() ? t.bytes.size() : 1, &p) !=
        IOLITE_SUCCESS)
      std::abort();
    std::vector<char> back(t.bytes.size());
    if (!t.bytes.empty() &&
        (iolite_memcpy_h2d(device, p, t.bytes.data(), t.bytes.size()) !=
             IOLITE_SUCCESS ||
         iolite_memcpy_d2h(device, back.data(), p, back.size()) !=
             IOLITE_SUCCESS ||
         back != t.bytes))
      std::abort();
    iolite_free(device, p);
  }
  return 0;
}
