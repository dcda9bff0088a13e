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

/// The parameter type of a kernel buffer: the memref of a static tensor, or
/// a flat memref sized for the bounds (the kernel views it with its
/// run-time sizes, KernelEmitContext).
static MemRefType toParamMemRef(Value v, const SymbolicShapes *shapes) {
  auto tensor = cast<RankedTensorType>(v.getType());
  if (!shapes || tensor.hasStaticShape())
    return toMemRef(tensor);
  RankedTensorType bound = shapes->getBoundType(v);
  return MemRefType::get({bound.getNumElements()}, bound.getElementType());
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
  // The hardware's grid limits (CUDA's and HIP's): x < 2^31, y and z at
  // most 65535 blocks. A symbolic grid is checked at the bounds.
  if (grid[0] > INT32_MAX || grid[1] > 65535 || grid[2] > 65535)
    return kernel.emitError()
           << "kernel '" << kernel.getName() << "' needs a grid of " << grid[0]
           << "x" << grid[1] << "x" << grid[2]
           << (ctx.getSymbolicShapes() ? " blocks at the dims' bounds"
                                       : " blocks")
           << "; GPUs allow at most 2147483647x65535x65535";
  func.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr(
      {static_cast<int32_t>(block[0]), static_cast<int32_t>(block[1]),
       static_cast<int32_t>(block[2])}));
  func->setAttr("iolite.grid", b.getDenseI64ArrayAttr(grid));
  // A grid that depends on the symbols: per axis [divisor, coeff,
  // exponent of each symbol...], ceil(coeff * prod(s^e) / divisor) blocks.
  auto extents = ctx.getGridExtents();
  if (llvm::any_of(extents,
                   [](const GridExtent &g) { return !g.isConstant(); })) {
    SmallVector<Attribute> axes;
    unsigned numSymbols = ctx.getSymbolicShapes()->getNumSymbols();
    for (const GridExtent &g : extents) {
      SmallVector<int64_t> entry{g.divisor, g.expr.coeff};
      for (unsigned s = 0; s < numSymbols; ++s)
        entry.push_back(s < g.expr.exps.size() ? g.expr.exps[s] : 0);
      axes.push_back(b.getDenseI64ArrayAttr(entry));
    }
    func->setAttr("iolite.grid_extents", b.getArrayAttr(axes));
  }
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
               const CodegenOverrides &overrides,
               const SymbolicShapes *shapes) {
  SmallVector<Type> argTypes;
  Block &kernelBody = kernel.getBody().front();
  for (Value v : kernel.getInputs()) {
    if (!isa<RankedTensorType>(v.getType()))
      return kernel.emitError() << "kernel input of type " << v.getType()
                                << " is not a ranked tensor";
  }
  // Inside the body, the block arguments carry the operands' dims.
  for (Value v : kernelBody.getArguments())
    argTypes.push_back(toParamMemRef(v, shapes));
  for (Value r : kernel.getResults())
    argTypes.push_back(toParamMemRef(r, shapes));
  // The symbols' values, after the buffers (every kernel of a symbolic
  // function takes all of them, in iolite.dim_bounds order).
  if (shapes)
    argTypes.append(shapes->getNumSymbols(),
                    IntegerType::get(kernel.getContext(), 64));
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
  KernelEmitContext ctx(kernel, func, target, overrides, shapes);
  if (ctx.hasDynamicExtents() && !tmpl->supportsDynamicExtents(analysis))
    return kernel.emitError()
           << "kernel '" << kernel.getName() << "' has symbolic dims, but its "
           << "template '" << tmpl->getName()
           << "' generates code for static shapes only; give each symbol a "
              "value with --dim NAME=N";
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

/// The kernel results written into a function argument's buffer: the caches
/// an iolite.kv_cache_append updates, which a bundle updates in place (the
/// op's contract) instead of copying the cache every step. Each such result
/// becomes an output tied to the argument (`tiedInput`: result -> argument
/// number). The updated cache must be returned, its cache operand must be a
/// function argument passed straight into the kernel, each argument may be
/// updated once, and no op after the kernel may read the argument (it no
/// longer holds the old cache).
static LogicalResult
findInPlaceResults(func::FuncOp func,
                   const DenseMap<Value, unsigned> &outputIndex,
                   DenseMap<Value, unsigned> &tiedInput) {
  Block &body = func.getBody().front();
  DenseMap<Operation *, unsigned> position;
  for (auto [i, op] : llvm::enumerate(body))
    position[&op] = i;
  DenseMap<unsigned, Operation *> updatedBy;
  for (auto kernel : body.getOps<KernelOp>()) {
    Block &kernelBody = kernel.getBody().front();
    for (auto append : kernelBody.getOps<KvCacheAppendOp>()) {
      for (unsigned c = 0; c < 2; ++c) {
        Value updated = append->getResult(c);
        if (updated.use_empty())
          continue;
        StringRef which = c == 0 ? "key" : "value";
        Value cache = c == 0 ? append.getKCache() : append.getVCache();
        auto kernelArg = dyn_cast<BlockArgument>(cache);
        auto funcArg = kernelArg && kernelArg.getOwner() == &kernelBody
                           ? dyn_cast<BlockArgument>(
                                 kernel.getInputs()[kernelArg.getArgNumber()])
                           : BlockArgument();
        if (!funcArg || funcArg.getOwner() != &body)
          return append.emitError()
                 << "the " << which
                 << " cache is not an argument of the function: a bundle "
                    "appends to a KV cache in place, in the caller's buffer";
        unsigned arg = funcArg.getArgNumber();
        // The updated cache leaves the kernel as exactly one result, which
        // the function returns.
        Value result;
        for (OpOperand &use : updated.getUses()) {
          if (!isa<YieldOp>(use.getOwner()) || result)
            return append.emitError()
                   << "the updated " << which
                   << " cache is used inside its kernel; an in-place append "
                      "must be the kernel's last step";
          result = kernel.getResult(use.getOperandNumber());
        }
        if (!outputIndex.count(result))
          return append.emitError()
                 << "the updated " << which
                 << " cache is not returned: a bundle writes it in place into "
                    "function argument #"
                 << arg << " and returns it as an output tied to that argument";
        auto [it, inserted] = updatedBy.try_emplace(arg, append);
        if (!inserted)
          return append.emitError()
                 << "function argument #" << arg
                 << " is updated in place twice (both caches, or two appends)";
        for (Operation *user : funcArg.getUsers()) {
          Operation *top = body.findAncestorOpInBlock(*user);
          if (top && position[top] > position[kernel]) {
            InFlightDiagnostic diag = append.emitError()
                                      << "function argument #" << arg
                                      << " is read after this in-place append "
                                         "overwrites it";
            diag.attachNote(user->getLoc()) << "read here";
            return diag;
          }
        }
        tiedInput[result] = arg;
      }
    }
  }
  return success();
}

/// The run-time checks of the serving ops' lengths and block tables that
/// come straight from function arguments, for the bundle's
/// NAME_check_inputs: per op a dictionary with its kind, where it is, the
/// argument numbers of its lengths / table (or cu_seqlens) and the sizes
/// the values must fit, each a dim expression ([coeff, exponents...], as
/// iolite.dim_exprs). Lengths computed in the graph (a step's `lens + 1`)
/// are not checked here; the kernels clamp them.
static ArrayAttr collectInputChecks(func::FuncOp func,
                                    const SymbolicShapes *shapes,
                                    OpBuilder &b) {
  Block &body = func.getBody().front();
  unsigned numSymbols = shapes ? shapes->getNumSymbols() : 0;
  auto dimAttr = [&](Value v, unsigned d) -> Attribute {
    DimExpr e = DimExpr::constant(0);
    if (shapes)
      e = shapes->getDims(v)[d];
    else
      e = DimExpr::constant(cast<ShapedType>(v.getType()).getDimSize(d));
    SmallVector<int64_t> entry{e.coeff};
    for (unsigned s = 0; s < numSymbols; ++s)
      entry.push_back(s < e.exps.size() ? e.exps[s] : 0);
    return b.getDenseI64ArrayAttr(entry);
  };
  SmallVector<Attribute> checks;
  for (auto kernel : body.getOps<KernelOp>()) {
    Block &kernelBody = kernel.getBody().front();
    // The function argument a kernel operand is, or -1.
    auto argumentOf = [&](Value operand) -> int64_t {
      auto inner = dyn_cast_or_null<BlockArgument>(operand);
      if (!inner || inner.getOwner() != &kernelBody)
        return -1;
      auto outer =
          dyn_cast<BlockArgument>(kernel.getInputs()[inner.getArgNumber()]);
      return outer && outer.getOwner() == &body ? outer.getArgNumber() : -1;
    };
    for (Operation &op : kernelBody.without_terminator()) {
      SmallVector<NamedAttribute> entry;
      auto add = [&](StringRef name, Attribute a) {
        entry.push_back(b.getNamedAttr(name, a));
      };
      // "file:line:col", as diagnostics print it.
      std::string where;
      llvm::raw_string_ostream os(where);
      if (auto fileLoc = dyn_cast<FileLineColLoc>(op.getLoc()))
        os << fileLoc.getFilename().getValue() << ":" << fileLoc.getLine()
           << ":" << fileLoc.getColumn();
      else
        op.getLoc().print(os);
      // The sizes the values index (dims of the op's operands, which may
      // be computed inside the kernel).
      auto cacheSizes = [&](Value cache, Value table) {
        add("rows", dimAttr(cache, 1));
        if (table) {
          add("pool", dimAttr(cache, 0));
          add("per_seq", dimAttr(table, 1));
        }
      };
      // A table computed in the graph is not checked (nor are its lengths).
      auto tableArgument = [&](Value table) -> std::optional<int64_t> {
        if (!table)
          return -1;
        int64_t arg = argumentOf(table);
        return arg < 0 ? std::nullopt : std::optional<int64_t>(arg);
      };
      if (auto append = dyn_cast<KvCacheAppendOp>(op)) {
        int64_t lens = argumentOf(append.getCacheSeqlens());
        std::optional<int64_t> table = tableArgument(append.getBlockTable());
        if (lens < 0 || !table)
          continue;
        add("kind", b.getStringAttr("kv_cache_append"));
        add("lens", b.getI64IntegerAttr(lens));
        if (*table >= 0)
          add("table", b.getI64IntegerAttr(*table));
        add("batch", dimAttr(append.getKey(), 0));
        add("steps", dimAttr(append.getKey(), 1));
        cacheSizes(append.getKCache(), append.getBlockTable());
      } else if (auto att = dyn_cast<CacheAttentionOp>(op)) {
        int64_t lens = argumentOf(att.getCacheSeqlens());
        std::optional<int64_t> table = tableArgument(att.getBlockTable());
        if (lens < 0 || !table)
          continue;
        add("kind", b.getStringAttr("cache_attention"));
        add("lens", b.getI64IntegerAttr(lens));
        if (*table >= 0)
          add("table", b.getI64IntegerAttr(*table));
        add("batch", dimAttr(att.getQuery(), 0));
        cacheSizes(att.getKCache(), att.getBlockTable());
      } else if (auto varlen = dyn_cast<VarlenAttentionOp>(op)) {
        int64_t cuq = argumentOf(varlen.getCuSeqlensQ());
        int64_t cuk = argumentOf(varlen.getCuSeqlensK());
        if (cuq < 0 && cuk < 0)
          continue;
        Value q = varlen.getQuery(), k = varlen.getKey();
        add("kind", b.getStringAttr("varlen_attention"));
        add("batch_plus_one", dimAttr(varlen.getCuSeqlensQ(), 0));
        if (cuq >= 0) {
          add("cu_seqlens_q", b.getI64IntegerAttr(cuq));
          add("total_q", dimAttr(q, 0));
        }
        if (cuk >= 0) {
          add("cu_seqlens_k", b.getI64IntegerAttr(cuk));
          add("total_k", dimAttr(k, 0));
        }
      } else {
        continue;
      }
      add("where",
          b.getStringAttr(where + ": '" + op.getName().getStringRef() + "'"));
      checks.push_back(b.getDictionaryAttr(entry));
    }
  }
  return b.getArrayAttr(checks);
}

/// Rewrites `func` (tensors, iolite.kernel ops) into the host launch form.
static LogicalResult generateHost(func::FuncOp func, gpu::GPUModuleOp module,
                                  SymbolTable &kernelSymbols,
                                  SymbolTable &moduleSymbols,
                                  const TargetDescription &target,
                                  const CodegenOverrides &overrides) {
  Block &body = func.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  // A function with symbolic dims: kernels take the symbols' values.
  std::optional<SymbolicShapes> symbolic;
  if (hasDynamicDims(func)) {
    if (failed(verifyDimContract(func)))
      return failure();
    FailureOr<SymbolicShapes> analyzed = SymbolicShapes::analyze(func);
    if (failed(analyzed))
      return failure();
    symbolic = std::move(*analyzed);
  }
  const SymbolicShapes *shapes = symbolic ? &*symbolic : nullptr;
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

  DenseMap<Value, unsigned> tiedInput;
  if (failed(findInPlaceResults(func, outputIndex, tiedInput)))
    return failure();

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
      int64_t bytes = byteSize(shapes ? shapes->getBoundType(r)
                                      : cast<ShapedType>(r.getType()));
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
  for (Value v : body.getArguments())
    argTypes.push_back(toParamMemRef(v, shapes));
  for (Value v : ret.getOperands())
    argTypes.push_back(toParamMemRef(v, shapes));
  MLIRContext *ctx = func.getContext();
  auto wsType = MemRefType::get({std::max<int64_t>(workspace, 1)},
                                IntegerType::get(ctx, 8));
  // The symbols' values follow the workspace.
  unsigned wsIndex = argTypes.size();
  argTypes.push_back(wsType);
  unsigned numSymbols = shapes ? shapes->getNumSymbols() : 0;
  argTypes.append(numSymbols, IntegerType::get(ctx, 64));
  OpBuilder b(func);
  auto host = func::FuncOp::create(b, func.getLoc(), func.getName(),
                                   b.getFunctionType(argTypes, {}));
  host->setAttr("iolite.workspace_size", b.getI64IntegerAttr(workspace));
  host->setAttr("iolite.num_inputs",
                b.getI64IntegerAttr(func.getNumArguments()));
  host->setAttr("iolite.num_outputs",
                b.getI64IntegerAttr(func.getNumResults()));
  host->setAttr("iolite.target", b.getStringAttr(target.name));
  if (ArrayAttr checks = collectInputChecks(func, shapes, b); !checks.empty())
    host->setAttr("iolite.input_checks", checks);
  // Outputs written in place into an input: the launches pass the input's
  // buffer, and the output parameter says which.
  for (auto [r, arg] : tiedInput)
    host.setArgAttr(func.getNumArguments() + outputIndex.lookup(r),
                    "iolite.tied_input", b.getI64IntegerAttr(arg));
  // dim_exprs: per dim of an input or output, [coeff, exponent of each
  // symbol...]; with the symbols' names and bounds, what a bundle needs to
  // check and size a call.
  auto exprAttr = [&](const DimExpr &e) {
    SmallVector<int64_t> entry{e.coeff};
    for (unsigned s = 0; s < numSymbols; ++s)
      entry.push_back(s < e.exps.size() ? e.exps[s] : 0);
    return b.getDenseI64ArrayAttr(entry);
  };
  if (shapes) {
    SmallVector<Attribute> names;
    SmallVector<int64_t> bounds;
    for (auto [name, bound] :
         llvm::zip(shapes->getSymbols(), shapes->getBounds())) {
      names.push_back(b.getStringAttr(name));
      bounds.append({bound.lo, bound.hi});
    }
    host->setAttr("iolite.symbols", b.getArrayAttr(names));
    host->setAttr("iolite.symbol_bounds", b.getDenseI64ArrayAttr(bounds));
    SmallVector<Value> interfaceValues(body.getArguments());
    llvm::append_range(interfaceValues, ret.getOperands());
    for (auto [i, v] : llvm::enumerate(interfaceValues)) {
      SmallVector<Attribute> dims;
      for (const DimExpr &e : shapes->getDims(v))
        dims.push_back(exprAttr(e));
      host.setArgAttr(i, "iolite.dim_exprs", b.getArrayAttr(dims));
    }
  }
  Block *hostBody = host.addEntryBlock();
  ImplicitLocOpBuilder hb(func.getLoc(), hostBody, hostBody->begin());

  DenseMap<Value, Value> memrefOf;
  for (auto [i, arg] : llvm::enumerate(body.getArguments()))
    memrefOf[arg] = hostBody->getArgument(i);
  unsigned numIn = func.getNumArguments(), numOut = func.getNumResults();
  Value ws = hostBody->getArgument(numIn + numOut);
  SmallVector<Value> hostSymbols;
  for (unsigned s = 0; s < numSymbols; ++s)
    hostSymbols.push_back(hostBody->getArgument(numIn + numOut + 1 + s));
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
        auto tied = tiedInput.find(r);
        memrefOf[r] = tied != tiedInput.end()
                          ? hostBody->getArgument(tied->second)
                          : hostBody->getArgument(numIn + it->second);
        continue;
      }
      Value off = arith::ConstantIndexOp::create(hb, offsets[r]);
      auto view = memref::ViewOp::create(hb, toParamMemRef(r, shapes), ws, off,
                                         ValueRange{});
      // The bytes the tensor takes at given dims (NAME_workspace_size).
      if (shapes) {
        DimExpr bytes = shapes->getNumElements(r);
        auto et = cast<ShapedType>(r.getType()).getElementType();
        bytes.coeff *= std::max<int64_t>(1, et.getIntOrFloatBitWidth() / 8);
        view->setAttr("iolite.bytes_expr", exprAttr(bytes));
      }
      resultViews.push_back({view, static_cast<unsigned>(i)});
      memrefOf[r] = view;
    }
    // A kernel whose results hold no elements (a dim of size 0) has
    // nothing to compute: no GPU function, no launch.
    if (llvm::all_of(kernel.getResults(), [](Value r) {
          auto type = cast<ShapedType>(r.getType());
          return type.hasStaticShape() && type.getNumElements() == 0;
        }))
      continue;
    FailureOr<GeneratedKernel> generated = generateKernel(
        kernel, module, kernelSymbols, target, overrides, shapes);
    if (failed(generated))
      return failure();
    SmallVector<Value> args;
    for (Value in : kernel.getInputs())
      args.push_back(memrefOf.lookup(in));
    for (Value r : kernel.getResults())
      args.push_back(memrefOf.lookup(r));
    llvm::append_range(args, hostSymbols);
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
      // ceil(coeff * prod(symbols^e) / divisor) per axis.
      if (auto extents =
              gpuFunc->getAttrOfType<ArrayAttr>("iolite.grid_extents")) {
        SmallVector<Value> symbolIndex;
        for (Value s : hostSymbols)
          symbolIndex.push_back(
              arith::IndexCastOp::create(hb, hb.getIndexType(), s));
        Value *axes[] = {&gridDim.x, &gridDim.y, &gridDim.z};
        for (auto [axis, attr] : llvm::enumerate(extents)) {
          ArrayRef<int64_t> e = cast<DenseI64ArrayAttr>(attr).asArrayRef();
          DimExpr expr;
          expr.coeff = e[1];
          for (int64_t x : e.drop_front(2))
            expr.exps.push_back(static_cast<unsigned>(x));
          Value n = emitDimExpr(hb, expr, symbolIndex);
          *axes[axis] = arith::CeilDivUIOp::create(
              hb, n, arith::ConstantIndexOp::create(hb, e[0]));
        }
      }
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
    argTypes[wsIndex] = grown;
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
