//===- CopyReturnedValues.cpp - A value of its own for every result -------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// See IoliteCopyReturnedValuesPass in Conversion/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "iolite/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace mlir {
namespace iolite {
#define GEN_PASS_DEF_IOLITECOPYRETURNEDVALUESPASS
#include "iolite/Conversion/Passes.h.inc"
} // namespace iolite
} // namespace mlir

using namespace mlir;
using namespace mlir::iolite;

namespace {
struct IoliteCopyReturnedValuesPass
    : public iolite::impl::IoliteCopyReturnedValuesPassBase<
          IoliteCopyReturnedValuesPass> {
  void runOnOperation() override {
    getOperation().walk([](func::ReturnOp ret) {
      llvm::SmallPtrSet<Value, 8> seen;
      OpBuilder b(ret);
      for (OpOperand &operand : ret->getOpOperands()) {
        Value v = operand.get();
        if (seen.insert(v).second && !isa<BlockArgument>(v))
          continue;
        auto type = dyn_cast<RankedTensorType>(v.getType());
        // Nothing to copy in a tensor without elements (the copy would
        // fold away again).
        if (!type || !type.hasStaticShape() || type.getNumElements() == 0)
          continue;
        Value empty = tensor::EmptyOp::create(b, ret.getLoc(), type.getShape(),
                                              type.getElementType());
        operand.set(
            linalg::CopyOp::create(b, ret.getLoc(), v, empty).getResult(0));
      }
    });
  }
};
} // namespace
