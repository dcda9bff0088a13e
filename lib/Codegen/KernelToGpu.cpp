//===- KernelToGpu.cpp - iolite.kernel -> gpu.func + host launches --------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/Passes.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MathExtras.h"

namespace mlir {
namespace iolite {
#define GEN_PASS_DEF_KERNELTOGPU
#include "iolite/Codegen/Passes.h.inc"
} // namespace iolite
} // namespace mlir

using namespace mlir;
using namespace mlir::iolite;

/// Alignment of intermediates the codegen places itself (when the graph
/// memory planner did not run).
static constexpr int64_t kWorkspaceAlignment = 256;

static MemRefType toMemRef(Type t) {
  auto tensor = cast<RankedTensorType>(t);
  return MemRefType::get(tensor.getShape(), tensor.getElementType());
}

static int64_t byteSize(ShapedType t) {
  int64_t bits = t.getElementType().getIntOrFloatBitWidth();
  int64_t bytes = bits == 1 ? 1 : bits / 8;
  return t.getNumElements() * bytes;
}

/// Non-splat constants inside a kernel body become kernel inputs defined
/// outside, so kernels read them from global memory like any argument.
static void hoistKernelConstants(KernelOp kernel) {
  Block &body = kernel.getBody().front();
  for (Operation &op : llvm::make_early_inc_range(body)) {
    auto cst = dyn_cast<ConstantOp>(&op);
    if (!cst)
      continue;
    auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
    if (dense && dense.isSplat())
      continue;
    OpBuilder b(kernel);
    auto outer = ConstantOp::create(b, cst.getLoc(), cst.getValue());
    kernel->insertOperands(kernel->getNumOperands(), outer.getResult());
    BlockArgument arg = body.addArgument(cst.getType(), cst.getLoc());
    cst.getResult().replaceAllUsesWith(arg);
    cst.erase();
  }
}

static std::string sanitize(StringRef name) {
  std::string s;
  for (char c : name)
    s.push_back(llvm::isAlnum(c) || c == '_' ? c : '_');
  if (s.empty() || llvm::isDigit(s[0]))
    s = "k_" + s;
  return s;
}

/// The functions generated for one iolite.kernel, in launch order, and the
/// global scratch they share.
struct GeneratedKernel {
  SmallVector<gpu::GPUFuncOp, 1> funcs;
  int64_t scratchBytes = 0;
};

/// Records the launch shape and provenance of one generated function.
static LogicalResult annotateKernelFunc(KernelOp kernel, KernelEmitContext &ctx,
                                        const TargetDescription &target) {
  gpu::GPUFuncOp func = ctx.getFunc();
  OpBuilder b(func);
  auto grid = ctx.getGrid(), block = ctx.getBlock();
  int64_t threads = block[0] * block[1] * block[2];
  if (threads > target.maxThreadsPerBlock)
    return kernel.emitError()
           << "kernel '" << kernel.getName() << "' uses " << threads
           << " threads per block; " << target.name << " allows "
           << target.maxThreadsPerBlock;
  func.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr(
      {static_cast<int32_t>(block[0]), static_cast<int32_t>(block[1]),
       static_cast<int32_t>(block[2])}));
  func->setAttr("iolite.grid", b.getDenseI64ArrayAttr(grid));
  func->setAttr("iolite.block", b.getDenseI64ArrayAttr(block));
  func->setAttr("iolite.shared_memory_bytes",
                b.getI64IntegerAttr(ctx.getSharedMemoryPlan().getTotalBytes()));
  if (int64_t scratch = ctx.getScratchBytes())
    func->setAttr("iolite.scratch_bytes", b.getI64IntegerAttr(scratch));
  func->setAttr("iolite.template", b.getStringAttr(ctx.templateName));
  func->setAttr("iolite.tile", b.getStringAttr(ctx.tileDescription));
  func->setAttr("iolite.matrix", b.getStringAttr(ctx.matrixKind));
  func->setAttr("iolite.matrix_reason", b.getStringAttr(ctx.matrixReason));
  func->setAttr("iolite.kernel_name", kernel.getNameAttr());
  SmallVector<Attribute> opNames, opLocs;
  for (Operation &op : kernel.getBody().front().without_terminator()) {
    opNames.push_back(b.getStringAttr(op.getName().getStringRef()));
    opLocs.push_back(op.getLoc());
  }
  func->setAttr("iolite.source_ops", b.getArrayAttr(opNames));
  func->setAttr("iolite.source_locs", b.getArrayAttr(opLocs));
  return success();
}

/// Generates one kernel (its primary gpu.func and any auxiliary ones the
/// template added); fails after a diagnostic.
static FailureOr<GeneratedKernel>
generateKernel(KernelOp kernel, gpu::GPUModuleOp module, SymbolTable &symbols,
               const TargetDescription &target,
               const CodegenOverrides &overrides) {
  SmallVector<Type> argTypes;
  for (Value v : kernel.getInputs()) {
    if (!isa<RankedTensorType>(v.getType()))
      return kernel.emitError() << "kernel input of type " << v.getType()
                                << " is not a ranked tensor";
    argTypes.push_back(toMemRef(v.getType()));
  }
  for (Type t : kernel.getResultTypes())
    argTypes.push_back(toMemRef(t));
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointToEnd(module.getBody());
  auto func =
      gpu::GPUFuncOp::create(b, kernel.getLoc(), sanitize(kernel.getName()),
                             b.getFunctionType(argTypes, {}));
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  symbols.insert(func); // uniquifies the name
  b.setInsertionPointToEnd(&func.getBody().front());
  gpu::ReturnOp::create(b, kernel.getLoc());

  KernelAnalysis analysis = KernelAnalysis::analyze(kernel);
  const KernelTemplate *tmpl = getKernelTemplateRegistry().select(
      analysis, target, overrides.forceElemental);
  if (!tmpl)
    return kernel.emitError() << "no kernel template can generate kernel '"
                              << kernel.getName() << "'";
  KernelEmitContext ctx(kernel, func, target, overrides);
  if (failed(tmpl->emit(analysis, ctx)))
    return failure();

  GeneratedKernel result;
  result.scratchBytes = ctx.getScratchBytes();
  SmallVector<KernelEmitContext *> all{&ctx};
  for (const auto &aux : ctx.getAuxiliaryKernels())
    all.push_back(aux.get());
  for (KernelEmitContext *c : all) {
    if (failed(annotateKernelFunc(kernel, *c, target)))
      return failure();
    result.funcs.push_back(c->getFunc());
  }
  return result;
}

/// Rewrites `func` (tensors, iolite.kernel ops) into the host launch form.
static LogicalResult generateHost(func::FuncOp func, gpu::GPUModuleOp module,
                                  SymbolTable &kernelSymbols,
                                  SymbolTable &moduleSymbols,
                                  const TargetDescription &target,
                                  const CodegenOverrides &overrides) {
  Block &body = func.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  for (Operation &op : body.without_terminator())
    if (!isa<KernelOp, ConstantOp>(op))
      return op.emitError()
             << "'" << op.getName()
             << "' outside an iolite.kernel: form kernels before codegen";
  for (Type t : func.getArgumentTypes())
    if (!isa<RankedTensorType>(t))
      return func.emitError()
             << "argument of type " << t << " is not a ranked tensor";

  // Which kernel results are returned, and where.
  DenseMap<Value, unsigned> outputIndex;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    auto kernel = v.getDefiningOp<KernelOp>();
    if (!kernel)
      return ret.emitError()
             << "result #" << i << " is not computed by a kernel";
    if (!outputIndex.try_emplace(v, i).second)
      return ret.emitError()
             << "result #" << i << " returns the same value as an earlier one";
  }

  // Workspace offsets: the graph planner's, or a fresh bump allocation.
  DenseMap<Value, int64_t> offsets;
  int64_t workspace = 0;
  bool planned = true;
  for (auto kernel : body.getOps<KernelOp>())
    if (!kernel->hasAttr("result_offsets"))
      planned = false;
  for (auto kernel : body.getOps<KernelOp>()) {
    auto attr = kernel->getAttrOfType<DenseI64ArrayAttr>("result_offsets");
    if (planned &&
        (!attr || attr.size() != static_cast<int64_t>(kernel.getNumResults())))
      return kernel.emitError()
             << "result_offsets must have one entry per result";
    for (auto [i, r] : llvm::enumerate(kernel.getResults())) {
      if (outputIndex.count(r))
        continue;
      int64_t bytes = byteSize(cast<ShapedType>(r.getType()));
      int64_t offset;
      if (planned) {
        offset = attr[i];
        if (offset < 0)
          return kernel.emitError()
                 << "result #" << i
                 << " has no workspace offset but is not a function result";
        // Kernels access their buffers with vectors of up to this size.
        if (offset % target.maxVectorBytes != 0)
          return kernel.emitError()
                 << "result #" << i << " is placed at workspace offset "
                 << offset << ", which is not aligned to the "
                 << target.maxVectorBytes << " bytes the kernels' vector "
                 << "accesses need";
      } else {
        offset = llvm::alignTo(workspace, kWorkspaceAlignment);
      }
      offsets[r] = offset;
      workspace = std::max(workspace, offset + bytes);
    }
  }
  if (auto attr = func->getAttrOfType<IntegerAttr>("iolite.workspace_size"))
    workspace = std::max(workspace, attr.getInt());
  // Kernel scratch (split-KV partials, ...) goes after the intermediates;
  // kernels run one after another, so they all share this region.
  int64_t scratchBase = llvm::alignTo(workspace, kWorkspaceAlignment);
  int64_t scratchEnd = workspace;

  // The host function: inputs, outputs, workspace.
  SmallVector<Type> argTypes;
  for (Type t : func.getArgumentTypes())
    argTypes.push_back(toMemRef(t));
  for (Type t : func.getResultTypes())
    argTypes.push_back(toMemRef(t));
  MLIRContext *ctx = func.getContext();
  auto wsType = MemRefType::get({std::max<int64_t>(workspace, 1)},
                                IntegerType::get(ctx, 8));
  argTypes.push_back(wsType);
  OpBuilder b(func);
  auto host = func::FuncOp::create(b, func.getLoc(), func.getName(),
                                   b.getFunctionType(argTypes, {}));
  host->setAttr("iolite.workspace_size", b.getI64IntegerAttr(workspace));
  host->setAttr("iolite.num_inputs",
                b.getI64IntegerAttr(func.getNumArguments()));
  host->setAttr("iolite.num_outputs",
                b.getI64IntegerAttr(func.getNumResults()));
  host->setAttr("iolite.target", b.getStringAttr(target.name));
  Block *hostBody = host.addEntryBlock();
  ImplicitLocOpBuilder hb(func.getLoc(), hostBody, hostBody->begin());

  DenseMap<Value, Value> memrefOf;
  for (auto [i, arg] : llvm::enumerate(body.getArguments()))
    memrefOf[arg] = hostBody->getArgument(i);
  unsigned numIn = func.getNumArguments(), numOut = func.getNumResults();
  Value ws = hostBody->getArgument(numIn + numOut);
  int cstCount = 0;
  for (Operation &op : body.without_terminator()) {
    hb.setLoc(op.getLoc());
    if (auto cst = dyn_cast<ConstantOp>(op)) {
      MemRefType type = toMemRef(cst.getType());
      OpBuilder gb(moduleSymbols.getOp()->getContext());
      gb.setInsertionPointToStart(&moduleSymbols.getOp()->getRegion(0).front());
      auto global = memref::GlobalOp::create(
          gb, cst.getLoc(),
          gb.getStringAttr(func.getName() + "_constant_" +
                           std::to_string(cstCount++)),
          gb.getStringAttr("private"), TypeAttr::get(type), cst.getValue(),
          gb.getUnitAttr(), gb.getI64IntegerAttr(64));
      moduleSymbols.insert(global);
      memrefOf[cst.getResult()] =
          memref::GetGlobalOp::create(hb, type, global.getSymName());
      continue;
    }
    auto kernel = cast<KernelOp>(op);
    hoistKernelConstants(kernel);
    // Constants the hoisting created sit before the kernel; map them too.
    for (Value in : kernel.getInputs()) {
      if (memrefOf.count(in))
        continue;
      auto cst = in.getDefiningOp<ConstantOp>();
      if (!cst)
        return kernel.emitError("kernel input defined by an unexpected op");
      MemRefType type = toMemRef(cst.getType());
      OpBuilder gb(ctx);
      gb.setInsertionPointToStart(&moduleSymbols.getOp()->getRegion(0).front());
      auto global = memref::GlobalOp::create(
          gb, cst.getLoc(),
          gb.getStringAttr(func.getName() + "_constant_" +
                           std::to_string(cstCount++)),
          gb.getStringAttr("private"), TypeAttr::get(type), cst.getValue(),
          gb.getUnitAttr(), gb.getI64IntegerAttr(64));
      moduleSymbols.insert(global);
      memrefOf[in] = memref::GetGlobalOp::create(hb, type, global.getSymName());
    }
    SmallVector<std::pair<memref::ViewOp, unsigned>> resultViews;
    for (auto [i, r] : llvm::enumerate(kernel.getResults())) {
      auto it = outputIndex.find(r);
      if (it != outputIndex.end()) {
        memrefOf[r] = hostBody->getArgument(numIn + it->second);
        continue;
      }
      Value off = arith::ConstantIndexOp::create(hb, offsets[r]);
      auto view = memref::ViewOp::create(hb, toMemRef(r.getType()), ws, off,
                                         ValueRange{});
      resultViews.push_back({view, static_cast<unsigned>(i)});
      memrefOf[r] = view;
    }
    // A kernel whose results hold no elements (a dim of size 0) has
    // nothing to compute: no GPU function, no launch.
    if (llvm::all_of(kernel.getResults(), [](Value r) {
          return cast<ShapedType>(r.getType()).getNumElements() == 0;
        }))
      continue;
    FailureOr<GeneratedKernel> generated =
        generateKernel(kernel, module, kernelSymbols, target, overrides);
    if (failed(generated))
      return failure();
    SmallVector<Value> args;
    for (Value in : kernel.getInputs())
      args.push_back(memrefOf.lookup(in));
    for (Value r : kernel.getResults())
      args.push_back(memrefOf.lookup(r));
    // Each planned tensor is named after the kernel that produces it (the
    // bundle manifest's workspace_tensors, for the emulator's sanitizers).
    std::string producer = generated->funcs.empty()
                               ? std::string("kernel")
                               : generated->funcs.front().getName().str();
    for (auto [view, i] : resultViews)
      view->setAttr("iolite.tensor",
                    hb.getStringAttr(producer + ".result" + std::to_string(i)));
    if (int64_t scratch = generated->scratchBytes) {
      Value off = arith::ConstantIndexOp::create(hb, scratchBase);
      auto view =
          memref::ViewOp::create(hb, MemRefType::get({scratch}, hb.getI8Type()),
                                 ws, off, ValueRange{});
      view->setAttr("iolite.tensor", hb.getStringAttr(producer + ".scratch"));
      args.push_back(view);
      scratchEnd = std::max(scratchEnd, scratchBase + scratch);
    }
    for (gpu::GPUFuncOp gpuFunc : generated->funcs) {
      auto grid = gpuFunc->getAttrOfType<DenseI64ArrayAttr>("iolite.grid");
      auto block = gpuFunc->getAttrOfType<DenseI64ArrayAttr>("iolite.block");
      auto dim3 = [&](ArrayRef<int64_t> v) {
        return gpu::KernelDim3{arith::ConstantIndexOp::create(hb, v[0]),
                               arith::ConstantIndexOp::create(hb, v[1]),
                               arith::ConstantIndexOp::create(hb, v[2])};
      };
      gpu::KernelDim3 gridDim = dim3(grid.asArrayRef());
      gpu::KernelDim3 blockDim = dim3(block.asArrayRef());
      int64_t smem =
          gpuFunc->getAttrOfType<IntegerAttr>("iolite.shared_memory_bytes")
              .getInt();
      Value smemValue = arith::ConstantIntOp::create(hb, smem, 32);
      gpu::LaunchFuncOp::create(hb, gpuFunc, gridDim, blockDim, smemValue,
                                args);
    }
  }
  // The workspace grows by the scratch region, if any kernel asked for it.
  if (scratchEnd > workspace) {
    workspace = scratchEnd;
    auto grown = MemRefType::get({workspace}, IntegerType::get(ctx, 8));
    ws.setType(grown);
    argTypes.back() = grown;
    host.setFunctionType(b.getFunctionType(argTypes, {}));
    host->setAttr("iolite.workspace_size", b.getI64IntegerAttr(workspace));
  }
  hb.setLoc(ret.getLoc());
  func::ReturnOp::create(hb);
  func.erase();
  return success();
}

LogicalResult
mlir::iolite::generateGpuKernels(ModuleOp module,
                                 const TargetDescription &target,
                                 const CodegenOverrides &overrides) {
  SmallVector<func::FuncOp> funcs;
  for (auto func : module.getOps<func::FuncOp>())
    if (!func.isDeclaration())
      funcs.push_back(func);
  if (funcs.empty())
    return success();
  MLIRContext *ctx = module.getContext();
  module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                  UnitAttr::get(ctx));
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(module.getBody());
  auto gpuModule =
      gpu::GPUModuleOp::create(b, module.getLoc(), kKernelModuleName);
  gpuModule->setAttr("iolite.target", b.getStringAttr(target.name));
  SymbolTable moduleSymbols(module);
  SymbolTable kernelSymbols(gpuModule);
  for (func::FuncOp func : funcs)
    if (failed(generateHost(func, gpuModule, kernelSymbols, moduleSymbols,
                            target, overrides)))
      return failure();
  return success();
}

namespace {
struct KernelToGpuPass
    : public mlir::iolite::impl::KernelToGpuBase<KernelToGpuPass> {
  using Base::Base;
  void runOnOperation() override {
    const TargetDescription *t = lookupTarget(target);
    if (!t) {
      getOperation().emitError()
          << "unknown target '" << target
          << "' (known: " << getKnownTargetNames() << ")";
      return signalPassFailure();
    }
    CodegenOverrides overrides;
    overrides.forceElemental = forceElemental;
    if (!matmulTile.empty()) {
      if (matmulTile.size() != 3 ||
          llvm::any_of(matmulTile, [](int64_t v) { return v <= 0; })) {
        getOperation().emitError(
            "matmul-tile needs three positive sizes BM,BN,BK");
        return signalPassFailure();
      }
      overrides.matmulTile.assign(matmulTile.begin(), matmulTile.end());
    }
    if (!attentionTile.empty()) {
      if (attentionTile.size() != 2 ||
          llvm::any_of(attentionTile, [](int64_t v) { return v <= 0; })) {
        getOperation().emitError(
            "attention-tile needs two positive sizes BM,BN");
        return signalPassFailure();
      }
      overrides.attentionTile.assign(attentionTile.begin(),
                                     attentionTile.end());
    }
    if (attentionSplits < 0) {
      getOperation().emitError("attention-splits must not be negative");
      return signalPassFailure();
    }
    overrides.attentionSplits = attentionSplits;
    if (failed(generateGpuKernels(getOperation(), *t, overrides)))
      signalPassFailure();
  }
};
} // namespace
