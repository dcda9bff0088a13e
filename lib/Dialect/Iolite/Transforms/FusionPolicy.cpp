//===- FusionPolicy.cpp - Op classes, kernel shapes and footprints --------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// What may share a kernel, and what a kernel costs on chip. The footprint is
// an estimate at the tile the kernel generators start from (the target
// description's tuning of the family): shared memory for the operand tiles
// they stage and f32 registers for the accumulators or recurrent state they
// keep per thread. A kernel is formed only when the estimate fits the
// target's opt-in shared memory and half its registers per thread (the other
// half holds addresses, operands and the epilogue).
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/Transforms/Fusion.h"

#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::iolite;

FusionOpClass mlir::iolite::classifyForFusion(Operation *op) {
  return llvm::TypeSwitch<Operation *, FusionOpClass>(op)
      .Case<ConstantOp>([](auto) { return FusionOpClass::Constant; })
      .Case<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp, PowOp, CompareOp,
            SelectOp, CastOp, ExpOp, LogOp, TanhOp, ErfOp, SigmoidOp, SiluOp,
            ReluOp, RsqrtOp, SqrtOp, NegOp, AbsOp, ReciprocalOp, SoftplusOp,
            SinOp, CosOp, GeluOp>([](auto) { return FusionOpClass::Pointwise; })
      .Case<ReshapeOp, TransposeOp, SliceOp, BroadcastOp, ConcatOp>(
          [](auto) { return FusionOpClass::View; })
      .Case<GatherOp, RotaryOp, Conv1dOp, IotaOp>(
          [](auto) { return FusionOpClass::Window; })
      .Case<MatmulOp>([](auto) { return FusionOpClass::Matmul; })
      .Case<GroupedMatmulOp>([](auto) { return FusionOpClass::GroupedMatmul; })
      .Case<AttentionOp>([](auto) { return FusionOpClass::Attention; })
      .Case<SoftmaxOp, RmsNormOp, LayerNormOp, ReduceOp, CumsumOp, TopKOp,
            RouterOp>([](auto) { return FusionOpClass::RowReduction; })
      .Case<SelectiveScanOp, SsdOp, LongConvOp>(
          [](auto) { return FusionOpClass::Scan; })
      .Case<DispatchOp, CombineOp>(
          [](auto) { return FusionOpClass::MoERouting; })
      .Case<KvCacheAppendOp, CacheAttentionOp, VarlenAttentionOp,
            Conv1dWithStateOp, SelectiveScanWithStateOp, SsdWithStateOp>(
          [](auto) { return FusionOpClass::Serving; })
      .Default([](Operation *) { return FusionOpClass::Opaque; });
}

bool mlir::iolite::isCheapFusionClass(FusionOpClass c) {
  return c == FusionOpClass::Pointwise || c == FusionOpClass::View ||
         c == FusionOpClass::Window;
}

StringRef mlir::iolite::stringifyFusionOpClass(FusionOpClass c) {
  switch (c) {
  case FusionOpClass::Constant:
    return "constant";
  case FusionOpClass::Pointwise:
    return "pointwise";
  case FusionOpClass::View:
    return "view";
  case FusionOpClass::Window:
    return "window";
  case FusionOpClass::Matmul:
    return "matmul";
  case FusionOpClass::GroupedMatmul:
    return "grouped matmul";
  case FusionOpClass::Attention:
    return "attention";
  case FusionOpClass::RowReduction:
    return "row reduction";
  case FusionOpClass::Scan:
    return "scan";
  case FusionOpClass::MoERouting:
    return "MoE routing";
  case FusionOpClass::Serving:
    return "serving";
  case FusionOpClass::Opaque:
    return "opaque";
  }
  llvm_unreachable("unknown fusion class");
}

//===----------------------------------------------------------------------===//
// Kernel shapes
//===----------------------------------------------------------------------===//

namespace {

int64_t bytesOf(Type t) {
  Type e = getElementTypeOrSelf(t);
  return std::max<int64_t>(1, (e.getIntOrFloatBitWidth() + 7) / 8);
}

/// What a footprint assumes for a symbolic dim: larger than any tile or
/// on-chip buffer, so nothing sized by it counts as fitting (a row-wise
/// epilogue over a dynamic row is not fused), yet small enough that products
/// of a few such sizes stay far from overflowing.
constexpr int64_t kDynamicExtent = int64_t(1) << 20;

int64_t extent(int64_t d) {
  return ShapedType::isDynamic(d) ? kDynamicExtent : d;
}

int64_t lastDim(Value v) {
  return extent(cast<RankedTensorType>(v.getType()).getShape().back());
}

/// The normalised reduction axis of a row-wise op, or -1 when it reduces
/// more than its last axis.
bool reducesLastAxisOnly(Operation *op) {
  auto lastOf = [](Value in, int64_t axis) {
    int64_t rank = cast<RankedTensorType>(in.getType()).getRank();
    return (axis < 0 ? axis + rank : axis) == rank - 1;
  };
  return llvm::TypeSwitch<Operation *, bool>(op)
      .Case([&](SoftmaxOp o) {
        return lastOf(o.getInput(), static_cast<int64_t>(o.getAxis()));
      })
      .Case([&](TopKOp o) {
        return lastOf(o.getInput(), static_cast<int64_t>(o.getAxis()));
      })
      .Case([&](CumsumOp o) {
        return lastOf(o.getInput(), static_cast<int64_t>(o.getAxis()));
      })
      .Case([&](ReduceOp o) {
        return o.getAxes().size() == 1 && lastOf(o.getInput(), o.getAxes()[0]);
      })
      .Case([&](RouterOp) { return true; })
      .Case([&](RmsNormOp) { return true; })
      .Case([&](LayerNormOp o) {
        return lastOf(o.getInput(), static_cast<int64_t>(o.getAxis()));
      })
      .Default([](Operation *) { return false; });
}

/// True when `v` is computed, inside `ops`, from the result of `norm`
/// through pointwise ops only.
bool derivesPointwiseFrom(Value v, Operation *norm,
                          const llvm::SmallPtrSetImpl<Operation *> &ops,
                          unsigned depth = 8) {
  Operation *def = v.getDefiningOp();
  if (def == norm)
    return true;
  if (!def || depth == 0 || !ops.contains(def) ||
      classifyForFusion(def) != FusionOpClass::Pointwise)
    return false;
  return llvm::any_of(def->getOperands(), [&](Value o) {
    return derivesPointwiseFrom(o, norm, ops, depth - 1);
  });
}

const KernelTuning *tuningOr(const TargetDescription &target, StringRef family,
                             KernelTuning &fallback) {
  if (const KernelTuning *t = target.getTuning(family))
    return t;
  return &fallback;
}

/// The matmul kernel: `mms` share the LHS; optional norm prologue and
/// row-wise epilogue ops.
KernelFootprint matmulFootprint(ArrayRef<Operation *> mms, bool normPrologue,
                                bool rowwiseEpilogue,
                                const TargetDescription &target) {
  KernelTuning dflt;
  dflt.tile = {64, 64, 16};
  dflt.threads = 256;
  dflt.stages = 2;
  const KernelTuning *t = tuningOr(target, "matmul", dflt);
  int64_t bm = t->tile.size() > 0 ? t->tile[0] : 64;
  int64_t bn = t->tile.size() > 1 ? t->tile[1] : 64;
  int64_t bk = t->tile.size() > 2 ? t->tile[2] : 16;
  int64_t stages = std::max<unsigned>(1, t->stages);
  int64_t threads = std::max<unsigned>(1, t->threads);
  if (rowwiseEpilogue) {
    // A row-wise epilogue needs whole output rows in one block; take the
    // fewest rows a row-reduction block handles.
    KernelTuning rows;
    rows.tile = {8};
    const KernelTuning *rt = tuningOr(target, "row_reduction", rows);
    bm = rt->tile.empty() ? 8 : rt->tile[0];
  }
  int64_t elem = bytesOf(mms.front()->getOperand(0).getType());
  int64_t weightTiles = 0, accumulators = 0, rowBuffer = 0;
  for (Operation *mm : mms) {
    int64_t n = lastDim(mm->getResult(0));
    int64_t tileN = rowwiseEpilogue ? n : std::min(bn, n);
    weightTiles += bk * tileN;
    accumulators += bm * tileN;
    if (rowwiseEpilogue)
      rowBuffer += bm * n * 4;
  }
  KernelFootprint fp;
  fp.sharedMemoryBytes = stages * (bm * bk + weightTiles) * elem + rowBuffer +
                         (normPrologue ? bm * 4 : 0);
  fp.registersPerThread = (accumulators + threads - 1) / threads;
  fp.tile = llvm::formatv(
                "{0}x{1}x{2}", bm,
                rowwiseEpilogue ? lastDim(mms.front()->getResult(0)) : bn, bk)
                .str();
  if (mms.size() > 1)
    fp.tile += llvm::formatv(" x{0} matmuls", mms.size()).str();
  if (normPrologue)
    fp.tile += " + norm prologue";
  if (rowwiseEpilogue)
    fp.tile += " + row-wise epilogue";
  return fp;
}

KernelFootprint attentionFootprint(AttentionOp op,
                                   const TargetDescription &target) {
  KernelTuning dflt;
  dflt.tile = {64, 64};
  dflt.threads = 128;
  const KernelTuning *t = tuningOr(target, "attention", dflt);
  int64_t br = t->tile.size() > 0 ? t->tile[0] : 64;
  int64_t bc = t->tile.size() > 1 ? t->tile[1] : 64;
  int64_t threads = std::max<unsigned>(1, t->threads);
  int64_t d = lastDim(op.getQuery()), dv = lastDim(op.getValue());
  int64_t elem = bytesOf(op.getQuery().getType());
  KernelFootprint fp;
  // Q tile, K and V tiles staged in shared memory; the O accumulator and
  // the score tile in f32 registers.
  fp.sharedMemoryBytes = (br * d + bc * (d + dv)) * elem;
  fp.registersPerThread = (br * dv + br * bc + threads - 1) / threads;
  fp.tile = llvm::formatv("{0}x{1} query/key tiles, head dim {2}", br, bc, d);
  return fp;
}

KernelFootprint scanFootprint(Operation *op, const TargetDescription &target) {
  KernelFootprint fp;
  if (auto scan = dyn_cast<SelectiveScanOp>(op)) {
    // One channel per thread, its N-element state in registers.
    fp.registersPerThread =
        extent(cast<RankedTensorType>(scan.getA().getType()).getDimSize(1));
    fp.tile = llvm::formatv("one channel per thread, state {0}",
                            fp.registersPerThread);
  } else if (auto ssd = dyn_cast<SsdOp>(op)) {
    auto x = cast<RankedTensorType>(ssd.getX().getType());
    auto b = cast<RankedTensorType>(ssd.getB().getType());
    int64_t p = extent(x.getDimSize(3)), n = extent(b.getDimSize(3));
    int64_t chunk = static_cast<int64_t>(ssd.getChunkSize());
    // A chunk of x, B, C staged and the P x N state of one head.
    fp.sharedMemoryBytes = chunk * (p + 2 * n) * 4 + p * n * 4;
    fp.tile = llvm::formatv("chunk {0}, state {1}x{2}", chunk, p, n);
  } else {
    fp.tile = "direct";
  }
  return fp;
}

} // namespace

FailureOr<KernelFootprint> mlir::iolite::estimateKernelFootprint(
    ArrayRef<Operation *> ops, ArrayRef<Operation *> heavy,
    const TargetDescription &target, std::string &why) {
  if (heavy.empty()) {
    KernelFootprint fp;
    fp.tile = "elementwise";
    return fp;
  }
  if (heavy.size() == 1) {
    Operation *op = heavy.front();
    switch (classifyForFusion(op)) {
    case FusionOpClass::Matmul:
    case FusionOpClass::GroupedMatmul:
      return matmulFootprint(heavy, false, false, target);
    case FusionOpClass::Attention:
      return attentionFootprint(cast<AttentionOp>(op), target);
    case FusionOpClass::Scan:
      return scanFootprint(op, target);
    case FusionOpClass::Serving: {
      KernelFootprint fp;
      fp.tile = "no kernel template";
      return fp;
    }
    default: {
      KernelFootprint fp;
      fp.tile = "one row per warp";
      return fp;
    }
    }
  }
  // Several expensive ops: matmuls sharing the LHS, with at most a norm
  // prologue, and (for one plain matmul) row-wise epilogue ops.
  SmallVector<Operation *> mms, norms, rowwise, others;
  for (Operation *op : heavy) {
    FusionOpClass c = classifyForFusion(op);
    if (c == FusionOpClass::Matmul || c == FusionOpClass::GroupedMatmul)
      mms.push_back(op);
    else if (isa<RmsNormOp, LayerNormOp>(op))
      norms.push_back(op);
    else if (c == FusionOpClass::RowReduction)
      rowwise.push_back(op);
    else
      others.push_back(op);
  }
  auto name = [](Operation *op) {
    return ("'" + op->getName().getStringRef() + "'").str();
  };
  if (mms.empty() || !others.empty()) {
    // Name the op that cannot join and say why.
    Operation *culprit = !others.empty() ? others.front() : heavy.back();
    switch (classifyForFusion(culprit)) {
    case FusionOpClass::MoERouting:
      why = name(culprit) +
            " permutes the whole batch (a grid-wide step) and ends a kernel";
      break;
    case FusionOpClass::Attention:
      why = "an attention shares its kernel only with cheap prologue and "
            "epilogue ops";
      break;
    case FusionOpClass::Scan:
      why = "a scan shares its kernel only with cheap prologue and epilogue "
            "ops";
      break;
    case FusionOpClass::Serving:
      why = name(culprit) +
            " is a serving op (KV cache, packed batch or carried state) "
            "and keeps its kernel to itself";
      break;
    default:
      why = name(heavy.front()) + " and " + name(culprit) +
            " are two reductions; reductions share a kernel only as the "
            "prologue (norm) or row-wise epilogue of a matmul";
      break;
    }
    return failure();
  }
  Operation *first = mms.front();
  for (Operation *mm : mms) {
    if (mm->getName() != first->getName()) {
      why = "a matmul and a grouped matmul do not share a kernel";
      return failure();
    }
    if (mm->getOperand(0) != first->getOperand(0)) {
      why = "a second contraction with another LHS; matmuls share a kernel "
            "only when they share their LHS";
      return failure();
    }
    if (auto m = dyn_cast<MatmulOp>(mm); m && m.getTransposeLhs()) {
      why = "a matmul with a transposed LHS cannot share its row tiles";
      return failure();
    }
    if (auto g = dyn_cast<GroupedMatmulOp>(mm);
        g && g.getOffsets() != cast<GroupedMatmulOp>(first).getOffsets()) {
      why = "the grouped matmuls use different expert offsets";
      return failure();
    }
  }
  llvm::SmallPtrSet<Operation *, 32> opSet(ops.begin(), ops.end());
  if (norms.size() > 1) {
    why = "a kernel holds at most one norm prologue";
    return failure();
  }
  if (!norms.empty()) {
    Operation *norm = norms.front();
    if (!reducesLastAxisOnly(norm) ||
        !derivesPointwiseFrom(first->getOperand(0), norm, opSet)) {
      why = "the " + name(norm) +
            " does not compute the matmuls' LHS rows (over their K dim)";
      return failure();
    }
  }
  if (!rowwise.empty()) {
    if (mms.size() != 1 || !isa<MatmulOp>(first)) {
      why = "a row-wise epilogue follows a single plain matmul only";
      return failure();
    }
    for (Operation *op : rowwise)
      if (!reducesLastAxisOnly(op)) {
        why = name(op) + " does not reduce the matmul's output rows";
        return failure();
      }
  }
  return matmulFootprint(mms, !norms.empty(), !rowwise.empty(), target);
}

bool mlir::iolite::footprintFits(const KernelFootprint &fp,
                                 const TargetDescription &target,
                                 std::string &why) {
  if (fp.sharedMemoryBytes > target.sharedMemoryPerBlockOptin) {
    why = llvm::formatv("at its smallest tile ({0}) the kernel needs {1} B "
                        "of shared memory; {2} allows {3} B per block",
                        fp.tile, fp.sharedMemoryBytes, target.name,
                        target.sharedMemoryPerBlockOptin)
              .str();
    return false;
  }
  int64_t budget = target.registersPerThread / 2;
  if (fp.registersPerThread > budget) {
    why = llvm::formatv("at its smallest tile ({0}) the kernel keeps {1} f32 "
                        "values per thread in registers; {2} has {3} "
                        "registers per thread and half go to accumulators",
                        fp.tile, fp.registersPerThread, target.name,
                        target.registersPerThread)
              .str();
    return false;
  }
  return true;
}
