//===- iolite-opt.cpp - Iolite optimizer driver ---------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Runs iolite and upstream passes and pipelines on .mlir files; the driver of
// the lit tests.
//
//===----------------------------------------------------------------------===//

#include "iolite/InitAll.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::iolite::registerAllDialects(registry);
  mlir::iolite::registerAllPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Iolite optimizer driver\n", registry));
}
