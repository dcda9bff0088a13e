//===- GraphPipeline.cpp - Raising, fusion and memory planning ------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/Transforms/Passes.h"
#include "iolite/Pipelines/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::iolite;

void mlir::iolite::buildGraphRaisingPipeline(
    OpPassManager &pm, const GraphPipelineOptions &options) {
  // Canonicalization first folds the casts, transposes and reshapes
  // importers leave around the patterns; CSE makes repeated reads of one
  // value (x in x * sigmoid(x)) the same value.
  // Symbolic dims must hold at every size before anything relies on them.
  pm.addNestedPass<func::FuncOp>(createIoliteVerifySymbolicShapesPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  OpPassManager &fn = pm.nest<func::FuncOp>();
  fn.addPass(createIoliteRaiseNormsPass({options.remarks}));
  fn.addPass(createIoliteRaiseActivationsPass({options.remarks}));
  fn.addPass(createIoliteRaiseRotaryPass({options.remarks}));
  fn.addPass(createIoliteRaiseScanPass({options.remarks}));
  fn.addPass(createIoliteRaiseAttentionPass({options.remarks}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::iolite::buildGraphPipeline(OpPassManager &pm,
                                      const GraphPipelineOptions &options) {
  buildGraphRaisingPipeline(pm, options);
  OpPassManager &fn = pm.nest<func::FuncOp>();
  IoliteFormKernelsPassOptions form;
  form.target = options.targets;
  form.noFusion = !options.fusion;
  form.remarks = options.remarks;
  fn.addPass(createIoliteFormKernelsPass(form));
  IolitePlanMemoryPassOptions plan;
  plan.alignment = options.workspaceAlignment;
  plan.remarks = options.remarks;
  fn.addPass(createIolitePlanMemoryPass(plan));
}

namespace {
/// The command-line face of GraphPipelineOptions.
struct GraphPipelineCLOptions
    : public PassPipelineOptions<GraphPipelineCLOptions> {
  Option<std::string> target{
      *this, "target",
      llvm::cl::desc("Comma-separated targets whose limits bound the kernels"),
      llvm::cl::init("sm_90a")};
  Option<bool> noFusion{*this, "no-fusion",
                        llvm::cl::desc("Keep one op per kernel"),
                        llvm::cl::init(false)};
  Option<bool> remarks{*this, "remarks",
                       llvm::cl::desc("Report the pipeline's decisions"),
                       llvm::cl::init(false)};
  Option<int64_t> alignment{*this, "alignment",
                            llvm::cl::desc("Workspace buffer alignment"),
                            llvm::cl::init(256)};

  GraphPipelineOptions get() const {
    GraphPipelineOptions o;
    o.targets = target;
    o.fusion = !noFusion;
    o.remarks = remarks;
    o.workspaceAlignment = alignment;
    return o;
  }
};
} // namespace

void mlir::iolite::registerGraphPipelines() {
  PassPipelineRegistration<GraphPipelineCLOptions>(
      "iolite-raising-pipeline",
      "Canonicalize and raise decomposed subgraphs to iolite's fused ops",
      [](OpPassManager &pm, const GraphPipelineCLOptions &o) {
        buildGraphRaisingPipeline(pm, o.get());
      });
  PassPipelineRegistration<GraphPipelineCLOptions>(
      "iolite-graph-pipeline",
      "Raise, form kernels and plan the workspace of an iolite graph",
      [](OpPassManager &pm, const GraphPipelineCLOptions &o) {
        buildGraphPipeline(pm, o.get());
      });
}
