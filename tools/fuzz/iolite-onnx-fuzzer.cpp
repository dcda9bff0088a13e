//===- iolite-onnx-fuzzer.cpp - Fuzz the ONNX importer --------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// libFuzzer target for iolite-import on a binary ModelProto: the bytes are
// parsed by protobuf and imported into the iolite dialect (once with static
// shapes, once keeping symbolic dims dynamic), and an imported module is
// verified. The model "lives" in a folder that does not exist, so
// external data never reads a real file.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/IR/IoliteDialect.h"
#include "iolite/Import/ONNX/ONNXImporter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <utility>

using namespace mlir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const DialectRegistry *registry = [] {
    auto *r = new DialectRegistry();
    r->insert<iolite::IoliteDialect, func::FuncDialect, arith::ArithDialect,
              tensor::TensorDialect>();
    return r;
  }();

  MLIRContext context(*registry, MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  context.getDiagEngine().registerHandler([](Diagnostic &) {});
  llvm::MemoryBufferRef buffer(
      llvm::StringRef(reinterpret_cast<const char *>(data), size),
      "/nonexistent/iolite-fuzz/model.onnx");
  // Twice: with static shapes (a symbolic dim is an error), then with every
  // symbolic dim kept dynamic within bounds, as `--dim NAME=1..8` does.
  // Folding stays cheap per input.
  for (bool dynamic : {false, true}) {
    iolite::ONNXImportOptions options;
    options.maxFoldElements = 1 << 16;
    if (dynamic)
      options.otherDimBounds = std::make_pair(int64_t(1), int64_t(8));
    OwningOpRef<ModuleOp> module = iolite::importONNXModel(
        buffer, iolite::ONNXFormat::Binary, &context, options);
    // The importer promises verified IR: anything else is a bug.
    if (module && failed(verify(*module)))
      std::abort();
  }
  return 0;
}
