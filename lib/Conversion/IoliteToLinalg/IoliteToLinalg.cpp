//===- IoliteToLinalg.cpp - Reference lowering of iolite ------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The pass and the entry points; the per-op patterns live in the sibling
// *Patterns.cpp files.
//
//===----------------------------------------------------------------------===//

#include "iolite/Conversion/IoliteToLinalg/IoliteToLinalg.h"

#include "LoweringUtils.h"

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir {
namespace iolite {
#define GEN_PASS_DEF_IOLITETOLINALGPASS
#include "iolite/Conversion/Passes.h.inc"
} // namespace iolite
} // namespace mlir

using namespace mlir;
using namespace mlir::iolite;

namespace {

/// A kernel is a grouping for the GPU path; on the reference path its body
/// simply runs in place.
struct InlineKernel : OpConversionPattern<KernelOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(KernelOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Block &body = op.getBody().front();
    auto yield = cast<YieldOp>(body.getTerminator());
    SmallVector<Value> results(yield.getValues());
    rewriter.inlineBlockBefore(&body, op, adaptor.getInputs());
    rewriter.eraseOp(yield);
    rewriter.replaceOp(op, results);
    return success();
  }
};

} // namespace

void mlir::iolite::populateIoliteToLinalgPatterns(RewritePatternSet &patterns) {
  patterns.add<InlineKernel>(patterns.getContext());
  populateElementwiseLoweringPatterns(patterns);
  populateReductionLoweringPatterns(patterns);
  populateDataMovementLoweringPatterns(patterns);
  populateTransformerLoweringPatterns(patterns);
  populateStateSpaceLoweringPatterns(patterns);
  populateMoeLoweringPatterns(patterns);
  populateServingLoweringPatterns(patterns);
}

void mlir::iolite::configureIoliteToLinalgTarget(ConversionTarget &target) {
  target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                         math::MathDialect, scf::SCFDialect,
                         tensor::TensorDialect>();
  target.addIllegalDialect<IoliteDialect>();
}

LogicalResult mlir::iolite::verifyStaticShapes(Operation *root) {
  WalkResult result = root->walk([](Operation *op) {
    if (!isa<IoliteDialect>(op->getDialect()) || isa<KernelOp, YieldOp>(op))
      return WalkResult::advance();
    auto check = [&](Type t, StringRef what, unsigned i) {
      auto shaped = dyn_cast<ShapedType>(t);
      if (!shaped || shaped.hasStaticShape())
        return true;
      op->emitOpError("cannot be lowered with dynamic shapes: ")
          << what << " #" << i << " has type " << t;
      return false;
    };
    for (auto [i, t] : llvm::enumerate(op->getOperandTypes()))
      if (!check(t, "operand", i))
        return WalkResult::interrupt();
    for (auto [i, t] : llvm::enumerate(op->getResultTypes()))
      if (!check(t, "result", i))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

LogicalResult mlir::iolite::lowerIoliteToLinalg(Operation *root) {
  if (failed(verifyStaticShapes(root)))
    return failure();
  MLIRContext *ctx = root->getContext();
  ConversionTarget target(*ctx);
  configureIoliteToLinalgTarget(target);
  RewritePatternSet patterns(ctx);
  populateIoliteToLinalgPatterns(patterns);
  return applyPartialConversion(root, target, std::move(patterns));
}

namespace {
struct IoliteToLinalgPass
    : public iolite::impl::IoliteToLinalgPassBase<IoliteToLinalgPass> {
  void runOnOperation() override {
    if (failed(lowerIoliteToLinalg(getOperation())))
      signalPassFailure();
  }
};
} // namespace
