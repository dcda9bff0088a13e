//===- iolite-npy-fuzzer.cpp - Fuzz the .npy reader -----------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// libFuzzer target for the .npy files iolite-run reads: parses the bytes,
// reads every element (capped) and checks that writing the array and
// reading it back gives the same array.
//
//===----------------------------------------------------------------------===//

#include "iolite/Support/Npy.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace mlir::iolite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  llvm::Expected<NpyArray> array = parseNpy(bytes, "fuzz.npy");
  if (!array) {
    llvm::consumeError(array.takeError());
    return 0;
  }
  (void)array->getShapeString();
  int64_t n = std::min<int64_t>(array->getNumElements(), 4096);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum += array->getAsDouble(i);
  (void)sum;

  llvm::Expected<NpyArray> again =
      parseNpy(serializeNpy(*array), "fuzz-roundtrip.npy");
  if (!again || again->dtype != array->dtype || again->shape != array->shape ||
      again->data != array->data)
    std::abort();
  return 0;
}
