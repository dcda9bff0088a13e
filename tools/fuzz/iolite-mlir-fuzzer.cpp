//===- iolite-mlir-fuzzer.cpp - Fuzz .mlir parsing and the graph pipeline -===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// libFuzzer target for what iolite-opt and iolite-compile do with a .mlir
// file: parse and verify it, and run the graph pipeline (raising, kernel
// formation, memory planning) on modules that verify. Modelled on upstream's
// mlir/tools/mlir-parser-fuzzer. Only the dialects an iolite graph is
// written in are registered (iolite, iolite_gpu, func, arith, tensor), so
// the fuzzer explores Iolite's code rather than every upstream dialect; MLIR
// bytecode is skipped for the same reason (its reader is upstream's).
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/IR/IoliteDialect.h"
#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUDialect.h"
#include "iolite/Pipelines/Pipelines.h"
#include "mlir/Bytecode/BytecodeReader.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace mlir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const DialectRegistry *registry = [] {
    auto *r = new DialectRegistry();
    r->insert<iolite::IoliteDialect, iolite::igpu::IoliteGPUDialect,
              func::FuncDialect, arith::ArithDialect, tensor::TensorDialect>();
    return r;
  }();

  // The lexer reads up to a terminating NUL: parse a NUL-terminated copy.
  std::string text(reinterpret_cast<const char *>(data), size);
  if (isBytecode(llvm::MemoryBufferRef(text, "fuzz.mlir")))
    return 0;

  // A fresh context per input keeps inputs independent and memory bounded;
  // no threads, so a crash's stack is the one that caused it.
  MLIRContext context(*registry, MLIRContext::Threading::DISABLED);
  context.getDiagEngine().registerHandler([](Diagnostic &) {});
  ParserConfig config(&context, /*verifyAfterParse=*/true);
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(text, config, "fuzz.mlir");
  if (!module)
    return 0;

  PassManager pm(&context);
  pm.enableVerifier(true);
  iolite::buildGraphPipeline(pm, iolite::GraphPipelineOptions());
  (void)pm.run(*module);
  return 0;
}
