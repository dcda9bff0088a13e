//===- ConvertGpuToEmu.cpp - gpu.module -> host code for the emulator -----===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// iolite-convert-gpu-to-emu: each gpu.module becomes a nested builtin.module
// of host LLVM dialect code. The GPU-specific ops become calls of the
// runtime's hooks; everything else is lowered by the upstream passes a CPU
// pipeline uses; then the hook trampolines, the kernel entries and the
// module descriptor of iolite_emu_abi.h are added.
//
//===----------------------------------------------------------------------===//

#include "EmuCommon.h"
#include "iolite/Dialect/IoliteGPU/IR/IoliteGPUOps.h"
#include "iolite/Target/Emu/EmuTarget.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/AttrTypeSubElements.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::iolite::emu {
#define GEN_PASS_DEF_CONVERTGPUTOEMUPASS
#include "iolite/Target/Emu/Passes.h.inc"
} // namespace mlir::iolite::emu

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::emu;

namespace {

/// What the descriptor says about one kernel.
struct KernelInfo {
  std::string name;
  unsigned numParams = 0;
  std::array<int32_t, 3> knownBlock = {0, 0, 0};
  Location loc;
  /// Bit i: parameter i is a memref (a device pointer).
  uint64_t pointerParams = 0;
};

/// The upstream passes that lower the host module to the LLVM dialect.
void buildHostLowering(OpPassManager &pm) {
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true; // no bf16 conversion routines on the host
  pm.addPass(arith::createArithExpandOpsPass(expand));
  // LLVM intrinsics where they exist, libm for the rest.
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  ConvertFuncToLLVMPassOptions func;
  func.useBarePtrCallConv = true; // memrefs are pointers, as on the GPU
  pm.addPass(createConvertFuncToLLVMPass(func));
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

/// Converts one gpu.module; keeps the state the steps share.
class ModuleLowering {
public:
  ModuleLowering(gpu::GPUModuleOp module, const TargetDescription &chip)
      : gpuModule(module), chip(chip), sites(module) {}

  /// Steps before the upstream lowering: checks, gpu ops to hook calls,
  /// gpu.module to builtin.module, memory spaces dropped.
  FailureOr<ModuleOp> prepare();
  /// Steps after it: trampolines, entries, descriptor.
  LogicalResult finish(ModuleOp host);

private:
  LogicalResult check();
  LogicalResult lowerSubgroupReductions();
  LogicalResult convertFunctions();
  LogicalResult lowerGpuOps();
  Value callIndex(OpBuilder &b, Location loc, uint32_t which);
  LogicalResult lowerShuffle(gpu::ShuffleOp op);
  LogicalResult lowerMatrixOps();
  LogicalResult lowerAsyncCopies();

  void defineHooks(ModuleOp host);
  void defineBf16Truncation(ModuleOp host);
  LogicalResult defineEntries(ModuleOp host);
  void defineDescriptor(ModuleOp host);
  Value stringAddress(OpBuilder &b, ModuleOp host, StringRef text);

  gpu::GPUModuleOp gpuModule;
  /// The emu-<chip> target: the facts of the emulated chip.
  const TargetDescription &chip;
  SiteTable sites;
  SmallVector<KernelInfo> kernels;
  std::vector<std::string> siteTexts;
  unsigned numStrings = 0;
};

LogicalResult ModuleLowering::check() {
  WalkResult result = gpuModule.walk([&](Operation *op) -> WalkResult {
    StringRef dialect =
        op->getDialect() ? op->getDialect()->getNamespace() : StringRef();
    // Matrix instructions run as warp-collective hooks: Iolite's own and,
    // after iolite-gpu-lower-matrix, the vendors' forms of them.
    if (isa<igpu::MmaOp, nvgpu::LdMatrixOp, nvgpu::MmaSyncOp, amdgpu::MFMAOp,
            NVVM::MmaOp, nvgpu::DeviceAsyncCopyOp,
            nvgpu::DeviceAsyncCreateGroupOp, nvgpu::DeviceAsyncWaitOp>(op))
      return WalkResult::advance();
    if (isa<igpu::MmaLoadOp>(op))
      return op->emitOpError("emu: lower iolite_gpu.mma_load with "
                             "iolite-gpu-lower-matrix first");
    if (dialect == "nvvm" || dialect == "rocdl" || dialect == "nvgpu" ||
        dialect == "amdgpu")
      return op->emitOpError("emu: vendor-specific op in a target-neutral "
                             "gpu.module; the emulator runs only the "
                             "contract's gpu/memref/vector/scf/arith/math "
                             "ops, the matrix instructions and cp.async");
    if (auto func = dyn_cast<gpu::GPUFuncOp>(op)) {
      if (!func.getWorkgroupAttributions().empty())
        return func.emitOpError(
            "emu: workgroup attributions are not supported; take all shared "
            "memory from gpu.dynamic_shared_memory");
      if (func.isKernel() && func.getFunctionType().getNumResults())
        return func.emitOpError("emu: a kernel must not return values");
      if (func.getName().starts_with(kReservedPrefix))
        return func.emitOpError("emu: names starting with ")
               << kReservedPrefix << " are reserved";
      for (Type type : func.getArgumentTypes())
        if (auto memref = dyn_cast<MemRefType>(type))
          if (!memref.hasStaticShape() || !memref.getLayout().isIdentity())
            return func.emitOpError("emu: kernel memref parameters must have "
                                    "static shapes and identity layouts "
                                    "(bare-pointer convention), not ")
                   << type;
      return WalkResult::advance();
    }
    if (isa<gpu::GPUModuleOp, gpu::ReturnOp, gpu::ThreadIdOp, gpu::BlockIdOp,
            gpu::BlockDimOp, gpu::GridDimOp, gpu::GlobalIdOp, gpu::LaneIdOp,
            gpu::SubgroupIdOp, gpu::NumSubgroupsOp, gpu::SubgroupSizeOp,
            gpu::BarrierOp, gpu::ShuffleOp, gpu::DynamicSharedMemoryOp,
            gpu::SubgroupReduceOp>(op))
      return WalkResult::advance();
    if (dialect == "gpu")
      return op->emitOpError("emu: not supported by the emulator");
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

LogicalResult ModuleLowering::lowerSubgroupReductions() {
  RewritePatternSet patterns(gpuModule.getContext());
  populateGpuLowerSubgroupReduceToShufflePatterns(patterns, chip.warpSize,
                                                  /*shuffleBitwidth=*/32);
  populateGpuLowerClusteredSubgroupReduceToShufflePatterns(
      patterns, chip.warpSize, /*shuffleBitwidth=*/32);
  if (failed(applyPatternsGreedily(gpuModule, std::move(patterns))))
    return failure();
  WalkResult left = gpuModule.walk([](gpu::SubgroupReduceOp op) {
    op.emitOpError("emu: cannot lower this subgroup reduction to shuffles");
    return WalkResult::interrupt();
  });
  return failure(left.wasInterrupted());
}

LogicalResult ModuleLowering::convertFunctions() {
  SmallVector<gpu::GPUFuncOp> funcs(gpuModule.getOps<gpu::GPUFuncOp>());
  for (gpu::GPUFuncOp func : funcs) {
    OpBuilder b(func);
    Location loc = func.getLoc();
    unsigned numInputs = func.getFunctionType().getNumInputs();
    if (func.isKernel()) {
      KernelInfo info{func.getName().str(), numInputs, {0, 0, 0}, loc};
      for (auto [i, type] : llvm::enumerate(func.getArgumentTypes()))
        if (i < 64 && isa<MemRefType>(type))
          info.pointerParams |= uint64_t(1) << i;
      if (std::optional<ArrayRef<int32_t>> known = func.getKnownBlockSize())
        std::copy(known->begin(), known->end(), info.knownBlock.begin());
      kernels.push_back(info);
    }
    auto host =
        func::FuncOp::create(b, loc, func.getName(), func.getFunctionType());
    host.getBody().takeBody(func.getBody());
    Block &entry = host.getBody().front();
    // Private attributions are per-thread arrays: allocas.
    OpBuilder atEntry = OpBuilder::atBlockBegin(&entry);
    while (entry.getNumArguments() > numInputs) {
      BlockArgument arg = entry.getArgument(numInputs);
      auto type = cast<MemRefType>(arg.getType());
      Value alloca = memref::AllocaOp::create(atEntry, arg.getLoc(), type);
      arg.replaceAllUsesWith(alloca);
      entry.eraseArgument(numInputs);
    }
    SmallVector<gpu::ReturnOp> returns;
    host.walk([&](gpu::ReturnOp ret) { returns.push_back(ret); });
    for (gpu::ReturnOp ret : returns) {
      OpBuilder rb(ret);
      func::ReturnOp::create(rb, ret.getLoc(), ret.getOperands());
      ret.erase();
    }
    func.erase();
  }
  return success();
}

Value ModuleLowering::callIndex(OpBuilder &b, Location loc, uint32_t which) {
  func::FuncOp hook = getOrDeclareHook(gpuModule, kIndexHook.symbol,
                                       {b.getI32Type()}, {b.getI64Type()});
  Value operand = arith::ConstantIntOp::create(b, loc, b.getI32Type(), which);
  Value result =
      func::CallOp::create(b, loc, hook, ValueRange{operand}).getResult(0);
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), result);
}

LogicalResult ModuleLowering::lowerShuffle(gpu::ShuffleOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  func::FuncOp shuffle = getOrDeclareHook(gpuModule, kShuffleHook.symbol,
                                          {i64, i32, i32, i32, i32}, {i64});
  func::FuncOp valid =
      getOrDeclareHook(gpuModule, kShuffleValidHook.symbol, {}, {i32});
  uint32_t site = sites.add(op);
  Value mode = arith::ConstantIntOp::create(b, loc, i32,
                                            static_cast<int64_t>(op.getMode()));
  Value siteValue = arith::ConstantIntOp::create(b, loc, i32, site);

  // Shuffles one scalar through the hook as up to 64 bits.
  auto shuffleScalar = [&](Value value) -> FailureOr<Value> {
    Type type = value.getType();
    unsigned bits = type.getIntOrFloatBitWidth();
    if (bits > 64) {
      op.emitOpError("emu: shuffles of more than 64 bits per element are "
                     "not supported");
      return failure();
    }
    Type intType = b.getIntegerType(bits);
    Value asInt = isa<FloatType>(type)
                      ? arith::BitcastOp::create(b, loc, intType, value)
                      : value;
    if (bits < 64)
      asInt = arith::ExtUIOp::create(b, loc, i64, asInt);
    Value result =
        func::CallOp::create(
            b, loc, shuffle,
            ValueRange{asInt, op.getOffset(), op.getWidth(), mode, siteValue})
            .getResult(0);
    if (bits < 64)
      result = arith::TruncIOp::create(b, loc, intType, result);
    if (isa<FloatType>(type))
      result = arith::BitcastOp::create(b, loc, type, result);
    return result;
  };

  Value value = op.getValue();
  Value result;
  if (auto vectorType = dyn_cast<VectorType>(value.getType())) {
    // Element by element: each is a warp-wide shuffle of its own.
    result = arith::ConstantOp::create(b, loc, b.getZeroAttr(vectorType));
    for (int64_t i = 0; i < vectorType.getNumElements(); ++i) {
      Value element = vector::ExtractOp::create(b, loc, value, i);
      FailureOr<Value> shuffled = shuffleScalar(element);
      if (failed(shuffled))
        return failure();
      result = vector::InsertOp::create(b, loc, *shuffled, result, i);
    }
  } else {
    FailureOr<Value> shuffled = shuffleScalar(value);
    if (failed(shuffled))
      return failure();
    result = *shuffled;
  }
  Value validBits =
      func::CallOp::create(b, loc, valid, ValueRange{}).getResult(0);
  Value isValid =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, validBits,
                            arith::ConstantIntOp::create(b, loc, i32, 0));
  op.getShuffleResult().replaceAllUsesWith(result);
  op.getValid().replaceAllUsesWith(isValid);
  op.erase();
  return success();
}

/// The matrix kind of an nvgpu.mma.sync, nvvm.mma.sync or amdgpu.mfma, or
/// Kind::Fma when the emulator does not know it.
::mlir::iolite::matrix::Kind vendorMatrixKind(Operation *op) {
  using ::mlir::iolite::matrix::Kind;
  if (auto mma = dyn_cast<NVVM::MmaOp>(op)) {
    // iolite-gpu-lower-matrix emits it for bf16 m16n8k16 only.
    NVVM::MMAShapeAttr shape = mma.getShape();
    std::optional<NVVM::MMATypes> a = mma.getMultiplicandAPtxType();
    if (shape.getM() == 16 && shape.getN() == 8 && shape.getK() == 16 && a &&
        *a == NVVM::MMATypes::bf16 && mma.getOperandA().size() == 4 &&
        mma.getOperandB().size() == 2 && mma.getOperandC().size() == 4)
      return Kind::NvBf16_16x8x16;
    return Kind::Fma;
  }
  if (auto mma = dyn_cast<nvgpu::MmaSyncOp>(op)) {
    std::array<int64_t, 3> shape = mma.getMmaShapeAsArray();
    Type element = mma.getMatrixA().getType().getElementType();
    if (shape == std::array<int64_t, 3>{16, 8, 16})
      return element.isF16()    ? Kind::NvF16_16x8x16
             : element.isBF16() ? Kind::NvBf16_16x8x16
                                : Kind::Fma;
    if (shape == std::array<int64_t, 3>{16, 8, 8} && element.isF32() &&
        mma.getTf32Enabled().value_or(false))
      return Kind::NvTf32_16x8x8;
    return Kind::Fma;
  }
  auto mfma = cast<amdgpu::MFMAOp>(op);
  Type element = getElementTypeOrSelf(mfma.getSourceA().getType());
  if (mfma.getBlocks() != 1 || mfma.getCbsz() || mfma.getAbid() ||
      mfma.getBlgp() != amdgpu::MFMAPermB::none)
    return Kind::Fma;
  uint32_t m = mfma.getM(), n = mfma.getN(), k = mfma.getK();
  if (m == 32 && n == 32 && k == 8)
    return element.isF16()    ? Kind::AmdF16_32x32x8
           : element.isBF16() ? Kind::AmdBf16_32x32x8
                              : Kind::Fma;
  if (m == 16 && n == 16 && k == 16)
    return element.isF16()    ? Kind::AmdF16_16x16x16
           : element.isBF16() ? Kind::AmdBf16_16x16x16
                              : Kind::Fma;
  return Kind::Fma;
}

/// The address of element `indices` of `memref`, as the i64 a hook takes.
static Value addressAsI64(OpBuilder &b, Location loc, Value memref,
                          ValueRange indices) {
  auto type = cast<MemRefType>(memref.getType());
  return arith::IndexCastOp::create(
      b, loc, b.getI64Type(),
      emitElementAddress(b, loc, memref, indices,
                         type.getElementTypeBitWidth() / 8));
}

LogicalResult ModuleLowering::lowerMatrixOps() {
  SmallVector<Operation *> ops;
  gpuModule.walk([&](Operation *op) {
    if (isa<igpu::MmaOp, nvgpu::LdMatrixOp, nvgpu::MmaSyncOp, amdgpu::MFMAOp,
            NVVM::MmaOp>(op))
      ops.push_back(op);
  });
  Type i32 = IntegerType::get(gpuModule.getContext(), 32);
  Type i64 = IntegerType::get(gpuModule.getContext(), 64);
  for (Operation *op : ops) {
    auto fn = op->getParentOfType<func::FuncOp>();
    OpBuilder b(op);
    Location loc = op->getLoc();
    auto constI32 = [&](int64_t v) -> Value {
      return arith::ConstantIntOp::create(b, loc, i32, v);
    };
    // Fragments travel through private buffers at the function's entry (an
    // alloca in a loop would grow the stack on every iteration).
    auto buffer = [&](VectorType type) -> Value {
      OpBuilder entry = OpBuilder::atBlockBegin(&fn.getBody().front());
      return memref::AllocaOp::create(
          entry, loc,
          MemRefType::get({type.getNumElements()}, type.getElementType()));
    };
    auto addressOf = [&](Value memref) -> Value {
      Value index =
          memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memref);
      return arith::IndexCastOp::create(b, loc, i64, index);
    };
    auto flat = [](VectorType type) {
      return VectorType::get({type.getNumElements()}, type.getElementType());
    };
    auto spill = [&](Value vector) -> Value {
      auto type = cast<VectorType>(vector.getType());
      Value memref = buffer(type);
      Value value =
          type.getRank() == 1
              ? vector
              : vector::ShapeCastOp::create(b, loc, flat(type), vector);
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      vector::StoreOp::create(b, loc, value, memref, ValueRange{zero});
      return addressOf(memref);
    };
    auto reload = [&](Value memref, VectorType type) -> Value {
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value value =
          vector::LoadOp::create(b, loc, flat(type), memref, ValueRange{zero});
      if (type.getRank() == 1)
        return value;
      return vector::ShapeCastOp::create(b, loc, type, value);
    };
    uint32_t site = sites.add(op);
    Value replacement;
    if (auto ld = dyn_cast<nvgpu::LdMatrixOp>(op)) {
      if (ld.getSrcMemref().getType().getElementTypeBitWidth() != 16)
        return ld.emitOpError("emu: only 16-bit ldmatrix is emulated");
      // The address of the lane's row, as the instrumentation computes
      // element addresses.
      Value address = addressAsI64(b, loc, ld.getSrcMemref(), ld.getIndices());
      VectorType resultType = ld.getRes().getType();
      Value result = buffer(resultType);
      func::FuncOp hook = getOrDeclareHook(gpuModule, kLdMatrixHook.symbol,
                                           {i64, i32, i32, i64, i32}, {});
      func::CallOp::create(b, loc, hook,
                           ValueRange{address, constI32(ld.getNumTiles()),
                                      constI32(ld.getTranspose() ? 1 : 0),
                                      addressOf(result), constI32(site)});
      replacement = reload(result, resultType);
    } else {
      uint32_t level = IOLITE_EMU_MMA_ISA;
      ::mlir::iolite::matrix::Kind kind;
      Value a, bb, c;
      if (auto mma = dyn_cast<igpu::MmaOp>(op)) {
        level = IOLITE_EMU_MMA_WARP;
        kind = igpu::getInstruction(mma.getKind()).kind;
        a = mma.getA();
        bb = mma.getB();
        c = mma.getC();
      } else {
        kind = vendorMatrixKind(op);
        if (kind == ::mlir::iolite::matrix::Kind::Fma)
          return op->emitOpError("emu: this matrix instruction is not "
                                 "emulated");
        if (auto nvvm = dyn_cast<NVVM::MmaOp>(op)) {
          // Registers as vectors: .b32 of two bf16 each, f32 accumulators.
          auto pack = [&](ValueRange regs) -> Value {
            return vector::FromElementsOp::create(
                b, loc,
                VectorType::get({static_cast<int64_t>(regs.size())},
                                regs.front().getType()),
                regs);
          };
          a = pack(nvvm.getOperandA());
          bb = pack(nvvm.getOperandB());
          c = pack(nvvm.getOperandC());
        } else {
          a = op->getOperand(0);
          bb = op->getOperand(1);
          c = op->getOperand(2);
        }
      }
      if (auto nvvm = dyn_cast<NVVM::MmaOp>(op)) {
        auto structType = cast<LLVM::LLVMStructType>(nvvm.getRes().getType());
        auto resultType =
            VectorType::get({static_cast<int64_t>(structType.getBody().size())},
                            b.getF32Type());
        Value d = buffer(resultType);
        func::FuncOp hook =
            getOrDeclareHook(gpuModule, kMmaHook.symbol,
                             {i32, i32, i64, i64, i64, i64, i32}, {});
        func::CallOp::create(b, loc, hook,
                             ValueRange{constI32(level),
                                        constI32(static_cast<int64_t>(kind)),
                                        spill(a), spill(bb), spill(c),
                                        addressOf(d), constI32(site)});
        Value values = reload(d, resultType);
        Value result = LLVM::PoisonOp::create(b, loc, structType);
        for (int64_t i = 0; i < resultType.getNumElements(); ++i)
          result = LLVM::InsertValueOp::create(
              b, loc, result, vector::ExtractOp::create(b, loc, values, i),
              ArrayRef<int64_t>{i});
        op->getResult(0).replaceAllUsesWith(result);
        op->erase();
        continue;
      }
      auto resultType = cast<VectorType>(op->getResult(0).getType());
      Value d = buffer(resultType);
      func::FuncOp hook = getOrDeclareHook(
          gpuModule, kMmaHook.symbol, {i32, i32, i64, i64, i64, i64, i32}, {});
      func::CallOp::create(b, loc, hook,
                           ValueRange{constI32(level),
                                      constI32(static_cast<int64_t>(kind)),
                                      spill(a), spill(bb), spill(c),
                                      addressOf(d), constI32(site)});
      replacement = reload(d, resultType);
    }
    op->getResult(0).replaceAllUsesWith(replacement);
    op->erase();
  }
  return success();
}

LogicalResult ModuleLowering::lowerAsyncCopies() {
  // cp.async as the runtime's queue: copies are queued per thread and land
  // when a wait covers their group, so a missing wait reads stale bytes.
  SmallVector<nvgpu::DeviceAsyncWaitOp> waits;
  SmallVector<nvgpu::DeviceAsyncCreateGroupOp> groups;
  SmallVector<nvgpu::DeviceAsyncCopyOp> copies;
  gpuModule.walk([&](Operation *op) {
    if (auto wait = dyn_cast<nvgpu::DeviceAsyncWaitOp>(op))
      waits.push_back(wait);
    else if (auto group = dyn_cast<nvgpu::DeviceAsyncCreateGroupOp>(op))
      groups.push_back(group);
    else if (auto copy = dyn_cast<nvgpu::DeviceAsyncCopyOp>(op))
      copies.push_back(copy);
  });
  Type i32 = IntegerType::get(gpuModule.getContext(), 32);
  Type i64 = IntegerType::get(gpuModule.getContext(), 64);
  // Waits first, then groups, then copies: each erases the last uses of
  // the tokens the next ones define.
  for (nvgpu::DeviceAsyncWaitOp wait : waits) {
    OpBuilder b(wait);
    Location loc = wait.getLoc();
    func::FuncOp hook =
        getOrDeclareHook(gpuModule, kAsyncWaitHook.symbol, {i32, i32}, {});
    int64_t pending = wait.getNumGroups() ? *wait.getNumGroups() : 0;
    func::CallOp::create(
        b, loc, hook,
        ValueRange{arith::ConstantIntOp::create(b, loc, i32, pending),
                   arith::ConstantIntOp::create(b, loc, i32, sites.add(wait))});
    wait.erase();
  }
  for (nvgpu::DeviceAsyncCreateGroupOp group : groups) {
    if (!group->use_empty())
      return group.emitOpError("emu: a cp.async group token must only be "
                               "waited for");
    OpBuilder b(group);
    func::FuncOp hook =
        getOrDeclareHook(gpuModule, kAsyncCommitHook.symbol, {}, {});
    func::CallOp::create(b, group.getLoc(), hook, ValueRange{});
    group.erase();
  }
  for (nvgpu::DeviceAsyncCopyOp copy : copies) {
    if (!copy->use_empty())
      return copy.emitOpError("emu: a cp.async token must only be grouped");
    OpBuilder b(copy);
    Location loc = copy.getLoc();
    int64_t size =
        cast<MemRefType>(copy.getDst().getType()).getElementTypeBitWidth() / 8;
    int64_t dstBytes = copy.getDstElements().getSExtValue() * size;
    Value srcBytes = arith::ConstantIntOp::create(b, loc, i64, dstBytes);
    if (Value n = copy.getSrcElements())
      srcBytes = arith::MulIOp::create(
          b, loc, arith::IndexCastOp::create(b, loc, i64, n),
          arith::ConstantIntOp::create(b, loc, i64, size));
    func::FuncOp hook = getOrDeclareHook(gpuModule, kAsyncCopyHook.symbol,
                                         {i64, i64, i64, i64, i32}, {});
    func::CallOp::create(
        b, loc, hook,
        ValueRange{addressAsI64(b, loc, copy.getDst(), copy.getDstIndices()),
                   addressAsI64(b, loc, copy.getSrc(), copy.getSrcIndices()),
                   arith::ConstantIntOp::create(b, loc, i64, dstBytes),
                   srcBytes,
                   arith::ConstantIntOp::create(b, loc, i32, sites.add(copy))});
    copy.erase();
  }
  return success();
}

LogicalResult ModuleLowering::lowerGpuOps() {
  SmallVector<Operation *> ops;
  gpuModule.walk([&](Operation *op) {
    if (isa<gpu::ThreadIdOp, gpu::BlockIdOp, gpu::BlockDimOp, gpu::GridDimOp,
            gpu::GlobalIdOp, gpu::LaneIdOp, gpu::SubgroupIdOp,
            gpu::NumSubgroupsOp, gpu::SubgroupSizeOp, gpu::BarrierOp,
            gpu::ShuffleOp, gpu::DynamicSharedMemoryOp, cf::AssertOp>(op))
      ops.push_back(op);
  });
  MLIRContext *ctx = gpuModule.getContext();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  for (Operation *op : ops) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    auto dim = [](gpu::Dimension d) { return static_cast<uint32_t>(d); };
    Value replacement;
    if (auto tid = dyn_cast<gpu::ThreadIdOp>(op)) {
      replacement =
          callIndex(b, loc, IOLITE_EMU_THREAD_ID_X + dim(tid.getDimension()));
    } else if (auto bid = dyn_cast<gpu::BlockIdOp>(op)) {
      replacement =
          callIndex(b, loc, IOLITE_EMU_BLOCK_ID_X + dim(bid.getDimension()));
    } else if (auto bdim = dyn_cast<gpu::BlockDimOp>(op)) {
      replacement =
          callIndex(b, loc, IOLITE_EMU_BLOCK_DIM_X + dim(bdim.getDimension()));
    } else if (auto gdim = dyn_cast<gpu::GridDimOp>(op)) {
      replacement =
          callIndex(b, loc, IOLITE_EMU_GRID_DIM_X + dim(gdim.getDimension()));
    } else if (auto gid = dyn_cast<gpu::GlobalIdOp>(op)) {
      uint32_t d = dim(gid.getDimension());
      Value blockId = callIndex(b, loc, IOLITE_EMU_BLOCK_ID_X + d);
      Value blockDim = callIndex(b, loc, IOLITE_EMU_BLOCK_DIM_X + d);
      Value threadId = callIndex(b, loc, IOLITE_EMU_THREAD_ID_X + d);
      replacement = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, blockId, blockDim), threadId);
    } else if (isa<gpu::LaneIdOp>(op)) {
      replacement = callIndex(b, loc, IOLITE_EMU_LANE_ID);
    } else if (isa<gpu::SubgroupIdOp>(op)) {
      replacement = callIndex(b, loc, IOLITE_EMU_SUBGROUP_ID);
    } else if (isa<gpu::NumSubgroupsOp>(op)) {
      replacement = callIndex(b, loc, IOLITE_EMU_NUM_SUBGROUPS);
    } else if (isa<gpu::SubgroupSizeOp>(op)) {
      replacement = arith::ConstantIndexOp::create(b, loc, chip.warpSize);
    } else if (isa<gpu::BarrierOp>(op)) {
      func::FuncOp hook = getOrDeclareHook(gpuModule, kBarrierHook.symbol,
                                           {b.getI32Type()}, {});
      Value site =
          arith::ConstantIntOp::create(b, loc, b.getI32Type(), sites.add(op));
      func::CallOp::create(b, loc, hook, ValueRange{site});
    } else if (auto shuffle = dyn_cast<gpu::ShuffleOp>(op)) {
      if (failed(lowerShuffle(shuffle)))
        return failure();
      continue;
    } else if (auto shared = dyn_cast<gpu::DynamicSharedMemoryOp>(op)) {
      // The block's buffer as a memref<?xi8> descriptor; the cast meets
      // its inverse during the LLVM lowering and both disappear.
      Type i64 = b.getI64Type();
      func::FuncOp baseHook =
          getOrDeclareHook(gpuModule, kSharedMemoryHook.symbol, {}, {ptrType});
      func::FuncOp sizeHook =
          getOrDeclareHook(gpuModule, kSharedMemorySizeHook.symbol, {}, {i64});
      Value base =
          func::CallOp::create(b, loc, baseHook, ValueRange{}).getResult(0);
      Value size =
          func::CallOp::create(b, loc, sizeHook, ValueRange{}).getResult(0);
      auto array = LLVM::LLVMArrayType::get(i64, 1);
      auto descriptorType = LLVM::LLVMStructType::getLiteral(
          ctx, {ptrType, ptrType, i64, array, array});
      Value d = LLVM::PoisonOp::create(b, loc, descriptorType);
      d = LLVM::InsertValueOp::create(b, loc, d, base, ArrayRef<int64_t>{0});
      d = LLVM::InsertValueOp::create(b, loc, d, base, ArrayRef<int64_t>{1});
      Value zero = LLVM::ConstantOp::create(b, loc, i64, 0);
      Value one = LLVM::ConstantOp::create(b, loc, i64, 1);
      d = LLVM::InsertValueOp::create(b, loc, d, zero, ArrayRef<int64_t>{2});
      d = LLVM::InsertValueOp::create(b, loc, d, size, ArrayRef<int64_t>{3, 0});
      d = LLVM::InsertValueOp::create(b, loc, d, one, ArrayRef<int64_t>{4, 0});
      replacement =
          UnrealizedConversionCastOp::create(b, loc, shared.getType(), d)
              .getResult(0);
    } else if (auto assertOp = dyn_cast<cf::AssertOp>(op)) {
      // The runtime stops the launch with the message; scf.if keeps the
      // enclosing structured regions single-block.
      func::FuncOp hook =
          getOrDeclareHook(gpuModule, kAssertHook.symbol, {b.getI32Type()}, {});
      uint32_t site = sites.add("'" + assertOp.getMsg().str() + "' at " +
                                locationText(loc));
      Value failed = arith::XOrIOp::create(
          b, loc, assertOp.getArg(),
          arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
      auto ifOp = scf::IfOp::create(b, loc, failed, /*withElse=*/false);
      OpBuilder inner = ifOp.getThenBodyBuilder();
      func::CallOp::create(inner, loc, hook,
                           ValueRange{arith::ConstantIntOp::create(
                               inner, loc, inner.getI32Type(), site)});
    }
    if (replacement)
      op->getResult(0).replaceAllUsesWith(replacement);
    op->erase();
  }
  return success();
}

FailureOr<ModuleOp> ModuleLowering::prepare() {
  if (failed(check()) || failed(lowerSubgroupReductions()) ||
      failed(convertFunctions()) || failed(lowerMatrixOps()) ||
      failed(lowerAsyncCopies()) || failed(lowerGpuOps()))
    return failure();
  sites.save();
  for (Attribute site :
       gpuModule->getAttrOfType<ArrayAttr>(kSitesAttrName).getValue())
    siteTexts.push_back(cast<StringAttr>(site).str());

  // The host module takes the gpu.module's place and contents; the device
  // data layout (often a 32-bit index) does not apply to host code.
  OpBuilder b(gpuModule);
  auto host = ModuleOp::create(b, gpuModule.getLoc(), gpuModule.getName());
  host->setAttr(kChipAttrName, b.getStringAttr(chip.chip));
  Block *body = host.getBody();
  body->getOperations().splice(body->end(),
                               gpuModule.getBody()->getOperations());
  gpuModule.erase();

  // Host memory is flat: drop memory spaces everywhere.
  AttrTypeReplacer replacer;
  replacer.addReplacement([](MemRefType type) -> std::optional<Type> {
    if (!type.getMemorySpace())
      return std::nullopt;
    return MemRefType::get(type.getShape(), type.getElementType(),
                           type.getLayout(), Attribute());
  });
  replacer.recursivelyReplaceElementsIn(host, /*replaceAttrs=*/true,
                                        /*replaceLocs=*/false,
                                        /*replaceTypes=*/true);
  host.walk([](memref::MemorySpaceCastOp cast) {
    cast.getResult().replaceAllUsesWith(cast.getSource());
    cast.erase();
  });
  return host;
}

Value ModuleLowering::stringAddress(OpBuilder &b, ModuleOp host,
                                    StringRef text) {
  OpBuilder atTop = OpBuilder::atBlockBegin(host.getBody());
  std::string name = "__iolite_emu_str_" + std::to_string(numStrings++);
  std::string bytes = text.str();
  bytes.push_back('\0');
  auto type = LLVM::LLVMArrayType::get(atTop.getI8Type(), bytes.size());
  LLVM::GlobalOp::create(atTop, host.getLoc(), type, /*isConstant=*/true,
                         LLVM::Linkage::Private, name,
                         atTop.getStringAttr(bytes));
  return LLVM::AddressOfOp::create(
      b, host.getLoc(), LLVM::LLVMPointerType::get(b.getContext()), name);
}

void ModuleLowering::defineHooks(ModuleOp host) {
  MLIRContext *ctx = host.getContext();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  OpBuilder b = OpBuilder::atBlockBegin(host.getBody());
  Location loc = host.getLoc();
  // The slot the runtime fills with its iolite_emu_hooks_t.
  auto slot = LLVM::GlobalOp::create(b, loc, ptrType, /*isConstant=*/false,
                                     LLVM::Linkage::Internal, kHooksGlobalName,
                                     Attribute());
  {
    OpBuilder::InsertionGuard guard(b);
    b.createBlock(&slot.getInitializerRegion());
    LLVM::ReturnOp::create(b, loc,
                           LLVM::ZeroOp::create(b, loc, ptrType).getResult());
  }
  for (const HookInfo &hook : kAllHooks) {
    auto fn = host.lookupSymbol<LLVM::LLVMFuncOp>(hook.symbol);
    if (!fn || !fn.isExternal())
      continue;
    Block *entry = fn.addEntryBlock(b);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(entry);
    Value slotAddress =
        LLVM::AddressOfOp::create(b, loc, ptrType, kHooksGlobalName);
    // The table never changes once kernels run.
    auto table = LLVM::LoadOp::create(b, loc, ptrType, slotAddress);
    table.setInvariant(true);
    Value field = LLVM::GEPOp::create(
        b, loc, ptrType, ptrType, table,
        ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(hook.slot)});
    auto target = LLVM::LoadOp::create(b, loc, ptrType, field);
    target.setInvariant(true);
    SmallVector<Value> operands{target};
    operands.append(entry->getArguments().begin(), entry->getArguments().end());
    auto call = LLVM::CallOp::create(b, loc, fn.getFunctionType(), operands);
    LLVM::ReturnOp::create(b, loc, call.getResults());
    fn.setLinkage(LLVM::Linkage::Internal);
  }
}

LogicalResult ModuleLowering::defineEntries(ModuleOp host) {
  MLIRContext *ctx = host.getContext();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  auto voidType = LLVM::LLVMVoidType::get(ctx);
  OpBuilder b = OpBuilder::atBlockEnd(host.getBody());
  for (const KernelInfo &kernel : kernels) {
    auto fn = host.lookupSymbol<LLVM::LLVMFuncOp>(kernel.name);
    if (!fn)
      return emitError(kernel.loc, "emu: kernel '")
             << kernel.name << "' vanished during lowering";
    LLVM::LLVMFunctionType type = fn.getFunctionType();
    if (type.getNumParams() != kernel.numParams)
      return fn.emitOpError("emu: kernel parameters did not lower one to "
                            "one (bare-pointer convention)");
    auto entry = LLVM::LLVMFuncOp::create(
        b, kernel.loc, (kEntryPrefix + kernel.name).str(),
        LLVM::LLVMFunctionType::get(voidType, {ptrType}),
        LLVM::Linkage::Internal);
    OpBuilder::InsertionGuard guard(b);
    Block *block = entry.addEntryBlock(b);
    b.setInsertionPointToStart(block);
    Value args = block->getArgument(0);
    SmallVector<Value> params;
    for (unsigned i = 0; i < kernel.numParams; ++i) {
      // args[i] points at the i-th parameter's value.
      Value slot = LLVM::GEPOp::create(b, kernel.loc, ptrType, ptrType, args,
                                       ArrayRef<LLVM::GEPArg>{int32_t(i)});
      Value pointer = LLVM::LoadOp::create(b, kernel.loc, ptrType, slot);
      params.push_back(
          LLVM::LoadOp::create(b, kernel.loc, type.getParamType(i), pointer));
    }
    LLVM::CallOp::create(b, kernel.loc, fn, params);
    LLVM::ReturnOp::create(b, kernel.loc, ValueRange{});
  }
  return success();
}

void ModuleLowering::defineDescriptor(ModuleOp host) {
  MLIRContext *ctx = host.getContext();
  Location loc = host.getLoc();
  auto ptrType = LLVM::LLVMPointerType::get(ctx);
  Type i32 = IntegerType::get(ctx, 32), i64 = IntegerType::get(ctx, 64);
  auto threeI32 = LLVM::LLVMArrayType::get(i32, 3);
  auto kernelType = LLVM::LLVMStructType::getLiteral(
      ctx, {ptrType, ptrType, i32, threeI32, i64});
  auto moduleType = LLVM::LLVMStructType::getLiteral(
      ctx,
      {i32, i32, i32, i32, i64, ptrType, ptrType, i32, ptrType, i32, ptrType});
  OpBuilder b = OpBuilder::atBlockEnd(host.getBody());

  // Builds `global` with an initializer computed by `fill`.
  auto defineGlobal = [&](Type type, StringRef name, LLVM::Linkage linkage,
                          function_ref<Value(OpBuilder &)> fill) {
    auto global = LLVM::GlobalOp::create(b, loc, type, /*isConstant=*/true,
                                         linkage, name, Attribute());
    OpBuilder::InsertionGuard guard(b);
    b.createBlock(&global.getInitializerRegion());
    LLVM::ReturnOp::create(b, loc, fill(b));
    return global;
  };
  auto constant = [&](OpBuilder &ib, Type type, int64_t value) -> Value {
    return LLVM::ConstantOp::create(ib, loc, type, value);
  };

  bool hasKernels = !kernels.empty();
  if (hasKernels) {
    auto arrayType = LLVM::LLVMArrayType::get(kernelType, kernels.size());
    defineGlobal(
        arrayType, "__iolite_emu_kernels", LLVM::Linkage::Internal,
        [&](OpBuilder &ib) {
          Value array = LLVM::PoisonOp::create(ib, loc, arrayType);
          for (auto [i, k] : llvm::enumerate(kernels)) {
            Value desc = LLVM::PoisonOp::create(ib, loc, kernelType);
            int64_t at = static_cast<int64_t>(i);
            desc = LLVM::InsertValueOp::create(ib, loc, desc,
                                               stringAddress(ib, host, k.name),
                                               ArrayRef<int64_t>{0});
            desc = LLVM::InsertValueOp::create(
                ib, loc, desc,
                LLVM::AddressOfOp::create(ib, loc, ptrType,
                                          (kEntryPrefix + k.name).str()),
                ArrayRef<int64_t>{1});
            desc = LLVM::InsertValueOp::create(ib, loc, desc,
                                               constant(ib, i32, k.numParams),
                                               ArrayRef<int64_t>{2});
            for (int64_t d = 0; d < 3; ++d)
              desc = LLVM::InsertValueOp::create(
                  ib, loc, desc, constant(ib, i32, k.knownBlock[d]),
                  ArrayRef<int64_t>{3, d});
            desc = LLVM::InsertValueOp::create(
                ib, loc, desc,
                constant(ib, i64, static_cast<int64_t>(k.pointerParams)),
                ArrayRef<int64_t>{4});
            array = LLVM::InsertValueOp::create(ib, loc, array, desc,
                                                ArrayRef<int64_t>{at});
          }
          return array;
        });
  }
  bool hasSites = !siteTexts.empty();
  if (hasSites) {
    auto arrayType = LLVM::LLVMArrayType::get(ptrType, siteTexts.size());
    defineGlobal(arrayType, "__iolite_emu_sites", LLVM::Linkage::Internal,
                 [&](OpBuilder &ib) {
                   Value array = LLVM::PoisonOp::create(ib, loc, arrayType);
                   for (auto [i, text] : llvm::enumerate(siteTexts))
                     array = LLVM::InsertValueOp::create(
                         ib, loc, array, stringAddress(ib, host, text),
                         ArrayRef<int64_t>{static_cast<int64_t>(i)});
                   return array;
                 });
  }
  defineGlobal(
      moduleType, IOLITE_EMU_MODULE_SYMBOL, LLVM::Linkage::External,
      [&](OpBuilder &ib) {
        Value desc = LLVM::PoisonOp::create(ib, loc, moduleType);
        auto set = [&](int64_t field, Value value) {
          desc = LLVM::InsertValueOp::create(ib, loc, desc, value,
                                             ArrayRef<int64_t>{field});
        };
        auto addressOr = [&](bool present, StringRef name) -> Value {
          if (!present)
            return LLVM::ZeroOp::create(ib, loc, ptrType);
          return LLVM::AddressOfOp::create(ib, loc, ptrType, name);
        };
        set(0, constant(ib, i32, IOLITE_EMU_ABI_VERSION));
        set(1, constant(ib, i32,
                        chip.isNvidia() ? IOLITE_EMU_VENDOR_NVIDIA
                                        : IOLITE_EMU_VENDOR_AMD));
        set(2, constant(ib, i32, chip.warpSize));
        set(3, constant(ib, i32, chip.maxThreadsPerBlock));
        // The opt-in maximum: what a launch may ask for on the real chip.
        set(4, constant(ib, i64, chip.sharedMemoryPerBlockOptin));
        set(5, stringAddress(ib, host, chip.chip));
        set(6, LLVM::AddressOfOp::create(ib, loc, ptrType, kHooksGlobalName));
        set(7, constant(ib, i32, static_cast<int64_t>(kernels.size())));
        set(8, addressOr(hasKernels, "__iolite_emu_kernels"));
        set(9, constant(ib, i32, static_cast<int64_t>(siteTexts.size())));
        set(10, addressOr(hasSites, "__iolite_emu_sites"));
        return desc;
      });
}

/// The x86-64 back end keeps bf16 values in f32 registers and narrows them
/// with the libcall __truncsfbf2, which libgcc before GCC 13 lacks: the
/// object brings its own (round to nearest even, NaNs stay quiet NaNs),
/// hidden so that it binds inside the object only.
void ModuleLowering::defineBf16Truncation(ModuleOp host) {
  constexpr StringLiteral name = "__truncsfbf2";
  if (host.lookupSymbol(name))
    return;
  MLIRContext *ctx = host.getContext();
  Location loc = host.getLoc();
  Type f32 = Float32Type::get(ctx), bf16 = BFloat16Type::get(ctx);
  Type i32 = IntegerType::get(ctx, 32), i16 = IntegerType::get(ctx, 16);
  OpBuilder b = OpBuilder::atBlockEnd(host.getBody());
  auto fn = LLVM::LLVMFuncOp::create(b, loc, name,
                                     LLVM::LLVMFunctionType::get(bf16, {f32}));
  fn.setVisibility_(LLVM::Visibility::Hidden);
  Block *entry = fn.addEntryBlock(b);
  b.setInsertionPointToStart(entry);
  auto c32 = [&](uint32_t v) -> Value {
    return LLVM::ConstantOp::create(b, loc, i32, static_cast<int32_t>(v));
  };
  Value bits = LLVM::BitcastOp::create(b, loc, i32, entry->getArgument(0));
  Value magnitude = LLVM::AndOp::create(b, loc, bits, c32(0x7fffffffu));
  Value isNan = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ugt,
                                     magnitude, c32(0x7f800000u));
  Value high = LLVM::LShrOp::create(b, loc, bits, c32(16));
  Value lsb = LLVM::AndOp::create(b, loc, high, c32(1));
  Value rounded = LLVM::AddOp::create(
      b, loc, bits, LLVM::AddOp::create(b, loc, lsb, c32(0x7fff)));
  Value nearest = LLVM::LShrOp::create(b, loc, rounded, c32(16));
  Value quiet = LLVM::OrOp::create(b, loc, high, c32(0x40));
  Value result = LLVM::SelectOp::create(b, loc, isNan, quiet, nearest);
  Value narrow = LLVM::TruncOp::create(b, loc, i16, result);
  LLVM::ReturnOp::create(b, loc, LLVM::BitcastOp::create(b, loc, bf16, narrow));
}

LogicalResult ModuleLowering::finish(ModuleOp host) {
  defineHooks(host);
  if (failed(defineEntries(host)))
    return failure();
  defineDescriptor(host);
  // Export the descriptor only: kernel names must not clash with anything
  // in the process (a kernel called "exp" would otherwise interpose libm).
  for (auto fn : host.getOps<LLVM::LLVMFuncOp>()) {
    if (fn.isExternal())
      continue;
    fn.setLinkage(LLVM::Linkage::Internal);
    fn->removeAttr(SymbolTable::getVisibilityAttrName());
  }
  defineBf16Truncation(host);
  host->removeAttr(kSitesAttrName);
  return success();
}

struct ConvertGpuToEmuPass
    : public mlir::iolite::emu::impl::ConvertGpuToEmuPassBase<
          ConvertGpuToEmuPass> {
  using Base::Base;

  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    OpPassManager pm(ModuleOp::getOperationName());
    buildHostLowering(pm);
    pm.getDependentDialects(registry);
  }

  void runOnOperation() override {
    const TargetDescription *target = lookupEmuTarget(chip);
    if (!target) {
      getOperation().emitError("emu: unknown chip '")
          << chip << "' (known: " << getEmuChipNames() << ")";
      return signalPassFailure();
    }
    SmallVector<gpu::GPUModuleOp> modules(
        getOperation().getOps<gpu::GPUModuleOp>());
    for (gpu::GPUModuleOp module : modules) {
      ModuleLowering lowering(module, *target);
      FailureOr<ModuleOp> host = lowering.prepare();
      if (failed(host))
        return signalPassFailure();
      OpPassManager pm(ModuleOp::getOperationName());
      buildHostLowering(pm);
      if (failed(runPipeline(pm, *host)) || failed(lowering.finish(*host)))
        return signalPassFailure();
    }
  }
};

} // namespace
