//===- Instrument.cpp - Check and count the memory accesses of kernels ----===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// iolite-emu-instrument: before every global or shared memory access of a
// kernel, call the runtime's access hook with the bytes it touches; once per
// basic block, report its floating-point operations. Runs on memrefs, where
// memory spaces and view origins still tell global, shared and private
// memory apart.
//
//===----------------------------------------------------------------------===//

#include "EmuCommon.h"
#include "iolite/Target/Emu/EmuTarget.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/DataLayoutInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::iolite::emu {
#define GEN_PASS_DEF_EMUINSTRUMENTPASS
#include "iolite/Target/Emu/Passes.h.inc"
} // namespace mlir::iolite::emu

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::emu;

namespace {

enum class MemoryClass { Global, Shared, Private, Constant };

/// Where the memory behind `memref` lives on the GPU.
MemoryClass classify(Value memref) {
  auto type = cast<BaseMemRefType>(memref.getType());
  if (Attribute space = type.getMemorySpace()) {
    if (auto gpuSpace = dyn_cast<gpu::AddressSpaceAttr>(space)) {
      switch (gpuSpace.getValue()) {
      case gpu::AddressSpace::Global:
        return MemoryClass::Global;
      case gpu::AddressSpace::Workgroup:
        return MemoryClass::Shared;
      case gpu::AddressSpace::Private:
        return MemoryClass::Private;
      }
    }
    if (auto number = dyn_cast<IntegerAttr>(space)) {
      // The numbering NVVM and ROCDL share: 1 global, 3 shared, 4
      // constant, 5 private; 0 is the default space, resolved below.
      switch (number.getInt()) {
      case 3:
        return MemoryClass::Shared;
      case 4:
        return MemoryClass::Constant;
      case 5:
        return MemoryClass::Private;
      case 0:
        break;
      default:
        return MemoryClass::Global;
      }
    }
  }
  // Default space: follow views to the origin. Kernel arguments (and values
  // we cannot follow, such as loop-carried memrefs) are global memory; the
  // runtime checks them against the allocations, so a mistake is reported,
  // never silently miscounted.
  Value value = memref;
  while (Operation *def = value.getDefiningOp()) {
    if (isa<memref::AllocaOp>(def))
      return MemoryClass::Private;
    if (isa<memref::GetGlobalOp>(def))
      return MemoryClass::Constant;
    if (auto view = dyn_cast<ViewLikeOpInterface>(def)) {
      value = view.getViewSource();
      continue;
    }
    if (auto cast = dyn_cast<memref::CastOp>(def)) {
      value = cast.getSource();
      continue;
    }
    break;
  }
  return MemoryClass::Global;
}

/// Bytes one element of `type` occupies in memory.
int64_t elementBytes(Type type, const DataLayout &layout) {
  if (type.isIndex())
    return 8; // host code: 64-bit index whatever the device layout says
  return static_cast<int64_t>(layout.getTypeSize(type).getFixedValue());
}

int64_t numElements(Type type) {
  if (auto vector = dyn_cast<VectorType>(type))
    return vector.getNumElements();
  return 1;
}

class Instrumenter {
public:
  Instrumenter(gpu::GPUModuleOp module, SiteTable &sites)
      : module(module), sites(sites), layout(DataLayout::closest(module)) {}

  LogicalResult instrument(Operation *op);
  void countFlops(Block &block, int64_t inherited);

private:
  /// Emits the address of element `indices` of `memref`, as an index.
  Value address(OpBuilder &b, Location loc, Value memref, ValueRange indices);
  void emitAccess(OpBuilder &b, Location loc, Value address, Value extent,
                  Value counted, uint32_t kind, uint32_t site);
  LogicalResult instrumentContiguous(Operation *op, Value memref,
                                     ValueRange indices, int64_t bytes,
                                     uint32_t kind);
  LogicalResult instrumentMasked(Operation *op, Value memref,
                                 ValueRange indices, Value mask,
                                 int64_t elementSize, uint32_t kind,
                                 bool compressed);
  LogicalResult instrumentIndexed(Operation *op, Value memref,
                                  ValueRange offsets, Value indexVector,
                                  Value mask, int64_t elementSize,
                                  uint32_t kind);
  /// The access kind of `memref` with the read/write bits `rw`, or nullopt
  /// when the memory is not instrumented (private or constant).
  std::optional<uint32_t> kindOf(Value memref, uint32_t rw);

  gpu::GPUModuleOp module;
  SiteTable &sites;
  DataLayout layout;
};

Value Instrumenter::address(OpBuilder &b, Location loc, Value memref,
                            ValueRange indices) {
  auto type = cast<MemRefType>(memref.getType());
  return emitElementAddress(b, loc, memref, indices,
                            elementBytes(type.getElementType(), layout));
}

void Instrumenter::emitAccess(OpBuilder &b, Location loc, Value address,
                              Value extent, Value counted, uint32_t kind,
                              uint32_t site) {
  Type index = b.getIndexType(), i32 = b.getI32Type();
  func::FuncOp hook = getOrDeclareHook(module, kAccessHook.symbol,
                                       {index, index, index, i32, i32}, {});
  Value kindValue = arith::ConstantIntOp::create(b, loc, i32, kind);
  Value siteValue = arith::ConstantIntOp::create(b, loc, i32, site);
  func::CallOp::create(
      b, loc, hook, ValueRange{address, extent, counted, kindValue, siteValue});
}

std::optional<uint32_t> Instrumenter::kindOf(Value memref, uint32_t rw) {
  switch (classify(memref)) {
  case MemoryClass::Global:
    return rw;
  case MemoryClass::Shared:
    return rw | IOLITE_EMU_ACCESS_SHARED;
  case MemoryClass::Private:
  case MemoryClass::Constant:
    return std::nullopt;
  }
  return std::nullopt;
}

LogicalResult Instrumenter::instrumentContiguous(Operation *op, Value memref,
                                                 ValueRange indices,
                                                 int64_t bytes, uint32_t rw) {
  std::optional<uint32_t> kind = kindOf(memref, rw);
  if (!kind)
    return success();
  OpBuilder b(op);
  Location loc = op->getLoc();
  Value addr = address(b, loc, memref, indices);
  Value size = arith::ConstantIndexOp::create(b, loc, bytes);
  emitAccess(b, loc, addr, size, size, *kind, sites.add(op));
  return success();
}

LogicalResult Instrumenter::instrumentMasked(Operation *op, Value memref,
                                             ValueRange indices, Value mask,
                                             int64_t elementSize, uint32_t rw,
                                             bool compressed) {
  std::optional<uint32_t> kind = kindOf(memref, rw);
  if (!kind)
    return success();
  auto maskType = cast<VectorType>(mask.getType());
  if (maskType.getRank() != 1 || maskType.isScalable())
    return op->emitOpError("emu: only 1-D fixed-size masks are supported");
  OpBuilder b(op);
  Location loc = op->getLoc();
  Type index = b.getIndexType();
  int64_t lanes = maskType.getNumElements();
  auto laneVectorType = VectorType::get({lanes}, index);
  auto splat = [&](int64_t value) {
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(laneVectorType, b.getIndexAttr(value)));
  };
  SmallVector<Attribute> iotaValues;
  for (int64_t i = 0; i < lanes; ++i)
    iotaValues.push_back(b.getIndexAttr(i));
  Value iota = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(laneVectorType, iotaValues));
  Value one = splat(1), zero = splat(0);
  // Active lanes, and (for plain masked ops) the first and one past the
  // last active lane: the bytes between are the extent to check.
  Value active = vector::ReductionOp::create(
      b, loc, vector::CombiningKind::ADD,
      arith::SelectOp::create(b, loc, mask, one, zero));
  Value size = arith::ConstantIndexOp::create(b, loc, elementSize);
  Value counted = arith::MulIOp::create(b, loc, active, size);
  if (compressed) {
    // expandload/compressstore touch `active` consecutive elements.
    emitAccess(b, loc, address(b, loc, memref, indices), counted, counted,
               *kind, sites.add(op));
    return success();
  }
  Value first = vector::ReductionOp::create(
      b, loc, vector::CombiningKind::MINUI,
      arith::SelectOp::create(b, loc, mask, iota, splat(lanes)));
  Value end = vector::ReductionOp::create(
      b, loc, vector::CombiningKind::MAXUI,
      arith::SelectOp::create(b, loc, mask,
                              arith::AddIOp::create(b, loc, iota, one), zero));
  Value any =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, first, end);
  Value span = arith::SelectOp::create(
      b, loc, any, arith::SubIOp::create(b, loc, end, first),
      arith::ConstantIndexOp::create(b, loc, 0));
  Value extent = arith::MulIOp::create(b, loc, span, size);
  // With no active lane `first` is `lanes`; the extent is 0 and the
  // runtime ignores the address.
  Value addr =
      arith::AddIOp::create(b, loc, address(b, loc, memref, indices),
                            arith::MulIOp::create(b, loc, first, size));
  emitAccess(b, loc, addr, extent, counted, *kind, sites.add(op));
  return success();
}

LogicalResult Instrumenter::instrumentIndexed(Operation *op, Value memref,
                                              ValueRange offsets,
                                              Value indexVector, Value mask,
                                              int64_t elementSize,
                                              uint32_t rw) {
  std::optional<uint32_t> kind = kindOf(memref, rw);
  if (!kind)
    return success();
  auto maskType = cast<VectorType>(mask.getType());
  if (maskType.getRank() != 1 || maskType.isScalable())
    return op->emitOpError("emu: only 1-D fixed-size gathers and scatters "
                           "are supported");
  OpBuilder b(op);
  Location loc = op->getLoc();
  uint32_t site = sites.add(op);
  Value base = address(b, loc, memref, offsets);
  Value size = arith::ConstantIndexOp::create(b, loc, elementSize);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  // One check per lane: lanes are independent addresses.
  for (int64_t lane = 0; lane < maskType.getNumElements(); ++lane) {
    Value index = vector::ExtractOp::create(b, loc, indexVector, lane);
    if (!index.getType().isIndex())
      index = arith::IndexCastOp::create(b, loc, b.getIndexType(), index);
    Value on = vector::ExtractOp::create(b, loc, mask, lane);
    Value bytes = arith::SelectOp::create(b, loc, on, size, zero);
    Value addr = arith::AddIOp::create(
        b, loc, base, arith::MulIOp::create(b, loc, index, size));
    emitAccess(b, loc, addr, bytes, bytes, *kind, site);
  }
  return success();
}

LogicalResult Instrumenter::instrument(Operation *op) {
  constexpr uint32_t read = IOLITE_EMU_ACCESS_READ;
  constexpr uint32_t write = IOLITE_EMU_ACCESS_WRITE;
  constexpr uint32_t atomic = read | write | IOLITE_EMU_ACCESS_ATOMIC;
  auto eltSize = [&](Type t) {
    return elementBytes(getElementTypeOrSelf(t), layout);
  };
  auto vectorBytes = [&](VectorType t) -> FailureOr<int64_t> {
    if (t.getRank() > 1 || t.isScalable())
      return op->emitOpError(
          "emu: only 1-D fixed-size vector accesses are supported; unroll "
          "n-D vector loads and stores first");
    return t.getNumElements() * eltSize(t);
  };
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](memref::LoadOp load) {
        return instrumentContiguous(load, load.getMemref(), load.getIndices(),
                                    eltSize(load.getType()), read);
      })
      .Case([&](memref::StoreOp store) {
        return instrumentContiguous(
            store, store.getMemref(), store.getIndices(),
            eltSize(store.getValueToStore().getType()), write);
      })
      .Case([&](vector::LoadOp load) -> LogicalResult {
        FailureOr<int64_t> bytes = vectorBytes(load.getVectorType());
        if (failed(bytes))
          return failure();
        return instrumentContiguous(load, load.getBase(), load.getIndices(),
                                    *bytes, read);
      })
      .Case([&](vector::StoreOp store) -> LogicalResult {
        FailureOr<int64_t> bytes = vectorBytes(store.getVectorType());
        if (failed(bytes))
          return failure();
        return instrumentContiguous(store, store.getBase(), store.getIndices(),
                                    *bytes, write);
      })
      .Case([&](vector::MaskedLoadOp load) {
        return instrumentMasked(load, load.getBase(), load.getIndices(),
                                load.getMask(), eltSize(load.getVectorType()),
                                read, /*compressed=*/false);
      })
      .Case([&](vector::MaskedStoreOp store) {
        return instrumentMasked(store, store.getBase(), store.getIndices(),
                                store.getMask(), eltSize(store.getVectorType()),
                                write,
                                /*compressed=*/false);
      })
      .Case([&](vector::ExpandLoadOp load) {
        return instrumentMasked(load, load.getBase(), load.getIndices(),
                                load.getMask(), eltSize(load.getVectorType()),
                                read, /*compressed=*/true);
      })
      .Case([&](vector::CompressStoreOp store) {
        return instrumentMasked(store, store.getBase(), store.getIndices(),
                                store.getMask(), eltSize(store.getVectorType()),
                                write,
                                /*compressed=*/true);
      })
      .Case([&](vector::GatherOp gather) -> LogicalResult {
        if (!isa<MemRefType>(gather.getBase().getType()))
          return gather.emitOpError("emu: gather from a tensor");
        return instrumentIndexed(gather, gather.getBase(), gather.getOffsets(),
                                 gather.getIndices(), gather.getMask(),
                                 eltSize(gather.getVectorType()), read);
      })
      .Case([&](vector::ScatterOp scatter) -> LogicalResult {
        if (!isa<MemRefType>(scatter.getBase().getType()))
          return scatter.emitOpError("emu: scatter to a tensor");
        return instrumentIndexed(scatter, scatter.getBase(),
                                 scatter.getOffsets(), scatter.getIndices(),
                                 scatter.getMask(),
                                 eltSize(scatter.getVectorType()), write);
      })
      .Case([&](memref::AtomicRMWOp rmw) {
        return instrumentContiguous(rmw, rmw.getMemref(), rmw.getIndices(),
                                    eltSize(rmw.getType()), atomic);
      })
      .Case([&](memref::GenericAtomicRMWOp rmw) {
        return instrumentContiguous(rmw, rmw.getMemref(), rmw.getIndices(),
                                    eltSize(rmw.getResult().getType()), atomic);
      })
      .Case<vector::TransferReadOp, vector::TransferWriteOp>(
          [&](Operation *transfer) {
            return transfer->emitOpError(
                "emu: vector transfers must be lowered first (run "
                "convert-vector-to-scf; transfers of rank > 1 or with "
                "non-minor-identity maps are not lowered here)");
          })
      .Case([&](nvgpu::DeviceAsyncCopyOp copy) -> LogicalResult {
        // cp.async reads `srcElements` (all when absent) from global memory
        // and writes `dstElements` to shared memory; both are checked and
        // counted at the copy, where the addresses are.
        std::optional<uint32_t> srcKind = kindOf(copy.getSrc(), read);
        std::optional<uint32_t> dstKind = kindOf(copy.getDst(), write);
        if (!srcKind || !dstKind)
          return copy.emitOpError("emu: cp.async must copy from global to "
                                  "shared memory");
        OpBuilder b(copy);
        Location loc = copy.getLoc();
        int64_t size =
            eltSize(cast<MemRefType>(copy.getDst().getType()).getElementType());
        int64_t dstElements = copy.getDstElements().getSExtValue();
        Value dstBytes =
            arith::ConstantIndexOp::create(b, loc, dstElements * size);
        Value srcBytes = dstBytes;
        if (Value n = copy.getSrcElements())
          srcBytes = arith::MulIOp::create(
              b, loc, n, arith::ConstantIndexOp::create(b, loc, size));
        uint32_t site = sites.add(copy);
        emitAccess(b, loc, address(b, loc, copy.getSrc(), copy.getSrcIndices()),
                   srcBytes, srcBytes, *srcKind, site);
        emitAccess(b, loc, address(b, loc, copy.getDst(), copy.getDstIndices()),
                   dstBytes, dstBytes, *dstKind, site);
        return success();
      })
      .Case([&](nvgpu::LdMatrixOp) {
        // Converted to the ldmatrix hook, which checks and counts the rows.
        return success();
      })
      .Case<memref::AllocOp, memref::DeallocOp>([&](Operation *alloc) {
        return alloc->emitOpError(
            "emu: heap allocation in a kernel is not supported; use "
            "memref.alloca or gpu.dynamic_shared_memory");
      })
      .Default([&](Operation *other) -> LogicalResult {
        // Anything else that reads or writes a memref would escape the
        // checks and counters.
        auto effects = dyn_cast<MemoryEffectOpInterface>(other);
        if (!effects)
          return success();
        SmallVector<MemoryEffects::EffectInstance> instances;
        effects.getEffects(instances);
        for (const MemoryEffects::EffectInstance &e : instances) {
          if (!isa<MemoryEffects::Read, MemoryEffects::Write>(e.getEffect()))
            continue;
          Value value = e.getValue();
          if (value && isa<BaseMemRefType>(value.getType()) &&
              kindOf(value, 0).has_value())
            return other->emitOpError(
                "emu: cannot instrument this access to global or shared "
                "memory; express it with memref/vector loads and stores");
        }
        return success();
      });
}

/// Floating-point operations one execution of `op` performs.
int64_t flopsOf(Operation *op) {
  if (op->getNumResults() != 1)
    return 0;
  Type type = op->getResult(0).getType();
  if (!isa<FloatType>(getElementTypeOrSelf(type)))
    return 0;
  int64_t n = numElements(type);
  return llvm::TypeSwitch<Operation *, int64_t>(op)
      .Case<arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp,
            arith::RemFOp, arith::MaximumFOp, arith::MinimumFOp,
            arith::MaxNumFOp, arith::MinNumFOp>([&](auto) { return n; })
      .Case<math::FmaOp, vector::FMAOp>([&](auto) { return 2 * n; })
      .Case([&](vector::ContractionOp contract) {
        // 2 * product of all iteration dimensions.
        SmallVector<int64_t> bounds;
        contract.getIterationBounds(bounds);
        int64_t iterations = 1;
        for (int64_t d : bounds)
          iterations *= d;
        return 2 * iterations;
      })
      .Case([&](vector::OuterProductOp outer) {
        int64_t products = outer.getResultVectorType().getNumElements();
        return outer.getAcc() ? 2 * products : products;
      })
      .Case([&](vector::ReductionOp reduction) {
        int64_t lanes = reduction.getSourceVectorType().getNumElements();
        return lanes - 1 + (reduction.getAcc() ? 1 : 0);
      })
      .Case([&](vector::MultiDimReductionOp reduction) {
        return reduction.getSourceVectorType().getNumElements();
      })
      .Default([&](Operation *other) -> int64_t {
        // Math functions (exp, tanh, sqrt, ...) count one per element.
        if (other->getDialect() && isa<math::MathDialect>(other->getDialect()))
          return n;
        return 0;
      });
}

/// Ops whose blocks may hold a call; the flops of other regions (such as a
/// generic_atomic_rmw body, which must stay side-effect free) are counted
/// in the enclosing block.
bool canHoldCall(Operation *parent) {
  return isa<FunctionOpInterface, scf::ForOp, scf::WhileOp, scf::IfOp,
             scf::IndexSwitchOp, scf::ExecuteRegionOp>(parent);
}

int64_t nestedFlops(Operation *op) {
  int64_t total = flopsOf(op);
  for (Region &region : op->getRegions())
    for (Block &block : region)
      for (Operation &inner : block)
        total += nestedFlops(&inner);
  return total;
}

void Instrumenter::countFlops(Block &block, int64_t inherited) {
  int64_t total = inherited;
  for (Operation &op : block) {
    total += flopsOf(&op);
    for (Region &region : op.getRegions()) {
      if (canHoldCall(&op)) {
        for (Block &inner : region)
          countFlops(inner, 0);
      } else {
        for (Block &inner : region)
          for (Operation &nested : inner)
            total += nestedFlops(&nested);
      }
    }
  }
  if (total == 0)
    return;
  OpBuilder b = OpBuilder::atBlockBegin(&block);
  Location loc = block.getParentOp()->getLoc();
  func::FuncOp hook =
      getOrDeclareHook(module, kFlopsHook.symbol, {b.getI64Type()}, {});
  func::CallOp::create(
      b, loc, hook,
      ValueRange{arith::ConstantIntOp::create(b, loc, b.getI64Type(), total)});
}

struct EmuInstrumentPass
    : public mlir::iolite::emu::impl::EmuInstrumentPassBase<EmuInstrumentPass> {
  using Base::Base;

  void runOnOperation() override {
    gpu::GPUModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();

    // Bring vector code into the forms vector-to-llvm lowers (the same
    // progressive lowering convert-vector-to-llvm applies), so the accesses
    // seen here are the accesses that will run.
    {
      RewritePatternSet patterns(ctx);
      vector::populateVectorToVectorCanonicalizationPatterns(patterns);
      vector::populateVectorBroadcastLoweringPatterns(patterns);
      vector::populateVectorContractLoweringPatterns(
          patterns, vector::VectorContractLowering::Dot);
      vector::populateVectorMaskOpLoweringPatterns(patterns);
      vector::populateVectorShapeCastLoweringPatterns(patterns);
      vector::populateVectorTransposeLoweringPatterns(
          patterns, vector::VectorTransposeLowering::EltWise);
      vector::populateVectorTransferLoweringPatterns(patterns,
                                                     /*maxTransferRank=*/1);
      vector::populateVectorMaskMaterializationPatterns(
          patterns, /*force32BitVectorIndices=*/false);
      vector::populateVectorGatherLoweringPatterns(patterns);
      if (failed(applyPatternsGreedily(module, std::move(patterns))))
        return signalPassFailure();
    }

    SiteTable sites(module);
    Instrumenter instrumenter(module, sites);
    SmallVector<Operation *> accesses;
    module.walk([&](Operation *op) {
      if (op->getParentOfType<FunctionOpInterface>() && !isa<func::CallOp>(op))
        accesses.push_back(op);
    });
    bool failedAny = false;
    for (Operation *op : accesses)
      if (failed(instrumenter.instrument(op)))
        failedAny = true;
    if (failedAny)
      return signalPassFailure();

    if (countFlops)
      for (Operation &op : module.getBody()->getOperations())
        if (auto func = dyn_cast<FunctionOpInterface>(op))
          if (!func.isExternal())
            for (Block &block : func.getFunctionBody())
              instrumenter.countFlops(block, 0);
    sites.save();
  }
};

} // namespace
