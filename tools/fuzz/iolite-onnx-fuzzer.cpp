//===- iolite-onnx-fuzzer.cpp - Fuzz the ONNX importer --------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// libFuzzer target for iolite-import on a binary ModelProto: the bytes are
// parsed by protobuf and imported into the iolite dialect, and an imported
// module is verified. The model "lives" in a folder that does not exist, so
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
  iolite::ONNXImportOptions options;
  // Symbolic dims get a small value; folding stays cheap per input.
  options.maxFoldElements = 1 << 16;
  OwningOpRef<ModuleOp> module = iolite::importONNXModel(
      buffer, iolite::ONNXFormat::Binary, &context, options);
  // The importer promises verified IR: anything else is a bug.
  if (module && failed(verify(*module)))
    std::abort();
  return 0;
}
