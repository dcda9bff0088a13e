//===- SpecializeDims.cpp - Give symbolic dims static values --------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Replaces a function's symbolic dims by values and infers every type again.
// The reference runner does this per call with the shapes of its inputs, so a
// function compiled with dynamic dims runs at any size within its bounds.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/IR/DynamicDims.h"
#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "iolite/Dialect/Iolite/IR/TypeInference.h"
#include "iolite/Dialect/Iolite/Transforms/Passes.h"
#include "iolite/Dialect/Iolite/Transforms/Transforms.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "llvm/ADT/StringMap.h"

namespace mlir {
namespace iolite {
#define GEN_PASS_DEF_IOLITESPECIALIZEDIMSPASS
#define GEN_PASS_DEF_IOLITEVERIFYSYMBOLICSHAPESPASS
#include "iolite/Dialect/Iolite/Transforms/Passes.h.inc"
} // namespace iolite
} // namespace mlir

using namespace mlir;
using namespace mlir::iolite;

static constexpr int64_t kDyn = ShapedType::kDynamic;

/// Solves the dynamic dims of a reshape's result `out` from its specialised
/// input `in` (which had the shape `oldIn` before).
static FailureOr<SmallVector<int64_t>> solveReshape(ArrayRef<int64_t> oldIn,
                                                    ArrayRef<int64_t> in,
                                                    ArrayRef<int64_t> out) {
  int64_t elements = 1;
  for (int64_t d : in)
    elements *= d;
  auto solveOne =
      [&](SmallVector<int64_t> shape) -> FailureOr<decltype(shape)> {
    int64_t known = 1, unknown = -1;
    for (auto [i, d] : llvm::enumerate(shape)) {
      if (d != kDyn) {
        known *= d;
      } else if (unknown < 0) {
        unknown = i;
      } else {
        return failure();
      }
    }
    if (unknown >= 0) {
      if (known == 0 || elements % known)
        return failure();
      shape[unknown] = elements / known;
      known = elements;
    }
    if (known != elements)
      return failure();
    return shape;
  };
  // One dynamic dim: the element count decides it.
  SmallVector<int64_t> shape(out);
  if (llvm::count(out, kDyn) <= 1)
    return solveOne(shape);
  // Dynamic dims in the unchanged leading and trailing dims carry over.
  size_t n = std::min(oldIn.size(), out.size());
  size_t lead = 0;
  while (lead < n && oldIn[lead] == out[lead]) {
    shape[lead] = in[lead];
    ++lead;
  }
  size_t trail = 0;
  while (trail < n - lead &&
         oldIn[oldIn.size() - 1 - trail] == out[out.size() - 1 - trail]) {
    shape[out.size() - 1 - trail] = in[in.size() - 1 - trail];
    ++trail;
  }
  // A dynamic dim left in the middle must absorb dynamic input dims; one
  // that stands for a static size is ambiguous (tokens split back into
  // [?, ?, 16] would carry the tokens into the first dim and solve 1 for
  // the second).
  bool dynamicInMiddle = false;
  for (size_t i = lead; i + trail < oldIn.size(); ++i)
    dynamicInMiddle |= oldIn[i] == kDyn;
  for (size_t i = lead; i + trail < out.size(); ++i)
    if (shape[i] == kDyn && !dynamicInMiddle)
      return failure();
  return solveOne(shape);
}

/// The result dims of a reshape or broadcast that its `iolite.dims` names
/// (the symbols of dynamic result dims its input does not decide), as
/// values; the other dims stay as they are.
static FailureOr<SmallVector<int64_t>>
applyNamedResultDims(Operation *op, RankedTensorType out,
                     const llvm::MapVector<StringRef, int64_t> &dims) {
  SmallVector<int64_t> shape(out.getShape());
  auto names = op->getAttrOfType<ArrayAttr>(kDimNamesAttrName);
  if (!names)
    return shape;
  if (static_cast<int64_t>(names.size()) != out.getRank()) {
    op->emitOpError() << kDimNamesAttrName << " names " << names.size()
                      << " dims but the result has rank " << out.getRank();
    return failure();
  }
  for (auto [d, a] : llvm::enumerate(names)) {
    auto name = dyn_cast<StringAttr>(a);
    if (!name || name.getValue().empty())
      continue;
    auto it = dims.find(name.getValue());
    if (!out.isDynamicDim(d) || it == dims.end()) {
      op->emitOpError() << kDimNamesAttrName << ": result dim " << d
                        << (out.isDynamicDim(d) ? " names the unknown symbol '"
                                                : " is static but names '")
                        << name.getValue() << "'";
      return failure();
    }
    shape[d] = it->second;
  }
  return shape;
}

/// The specialised result types of `op`, whose operands are specialised.
static FailureOr<SmallVector<Type>>
inferSpecialized(Operation *op, const DenseMap<Value, Type> &oldTypes,
                 const llvm::MapVector<StringRef, int64_t> &dims) {
  SmallVector<Type> types;
  auto fail = [&](const Twine &why) -> FailureOr<SmallVector<Type>> {
    op->emitOpError("cannot be specialised to static dims: ") << why;
    return failure();
  };
  if (auto reshape = dyn_cast<ReshapeOp>(op)) {
    auto in = cast<RankedTensorType>(reshape.getInput().getType());
    auto out = cast<RankedTensorType>(reshape.getType());
    auto oldIn = cast<RankedTensorType>(oldTypes.lookup(reshape.getInput()));
    FailureOr<SmallVector<int64_t>> named = applyNamedResultDims(op, out, dims);
    if (failed(named))
      return failure();
    FailureOr<SmallVector<int64_t>> shape =
        solveReshape(oldIn.getShape(), in.getShape(), *named);
    if (failed(shape))
      return fail("its dynamic result dims are neither the input's unchanged "
                  "leading or trailing dims nor one dim the element count "
                  "decides; name them with iolite.dims");
    types.push_back(out.clone(*shape));
    return types;
  }
  if (auto broadcast = dyn_cast<BroadcastOp>(op)) {
    auto in = cast<RankedTensorType>(broadcast.getInput().getType());
    auto oldIn = cast<RankedTensorType>(oldTypes.lookup(broadcast.getInput()));
    auto out = cast<RankedTensorType>(broadcast.getType());
    FailureOr<SmallVector<int64_t>> named = applyNamedResultDims(op, out, dims);
    if (failed(named))
      return failure();
    SmallVector<int64_t> shape = *named;
    int64_t offset = out.getRank() - in.getRank();
    for (int64_t i = 0; i < out.getRank(); ++i) {
      if (shape[i] != kDyn)
        continue;
      if (i < offset || !oldIn.isDynamicDim(i - offset))
        return fail("result dim " + Twine(i) +
                    " is dynamic but the input dim it broadcasts from is "
                    "not; name its symbol with iolite.dims");
      shape[i] = in.getDimSize(i - offset);
    }
    types.push_back(out.clone(shape));
    return types;
  }
  if (auto slice = dyn_cast<SliceOp>(op)) {
    // Slices to the end of a dynamic dim take its size.
    auto in = cast<RankedTensorType>(slice.getInput().getType());
    SmallVector<int64_t> limits(slice.getLimits());
    for (auto [d, limit] : llvm::enumerate(limits))
      if (limit == kSliceToEnd)
        limit = in.getDimSize(d);
    slice.setLimits(limits);
  }
  if (auto cast_ = dyn_cast<CastOp>(op)) {
    auto in = cast<RankedTensorType>(cast_.getInput().getType());
    types.push_back(
        cast<RankedTensorType>(cast_.getType()).clone(in.getShape()));
    return types;
  }
  if (auto infer = dyn_cast<InferTypeOpInterface>(op)) {
    if (failed(infer.inferReturnTypes(
            op->getContext(), op->getLoc(), op->getOperands(),
            op->getRawDictionaryAttrs(), op->getPropertiesStorage(),
            op->getRegions(), types)))
      return failure();
    return types;
  }
  for (Type t : op->getResultTypes())
    if (auto shaped = dyn_cast<ShapedType>(t);
        shaped && !shaped.hasStaticShape())
      return fail("its result types cannot be inferred");
  llvm::append_range(types, op->getResultTypes());
  return types;
}

/// Specialises the ops of `block` in order, whose arguments are already
/// specialised; a kernel's body is specialised from its operands, and its
/// results take what its body yields.
static LogicalResult
specializeBlock(Block &block, DenseMap<Value, Type> &oldTypes,
                const llvm::MapVector<StringRef, int64_t> &dims) {
  for (Operation &op : block) {
    if (op.hasTrait<OpTrait::IsTerminator>())
      break;
    FailureOr<SmallVector<Type>> types;
    if (auto kernel = dyn_cast<KernelOp>(op)) {
      Block &body = kernel.getBody().front();
      for (auto [arg, operand] :
           llvm::zip(body.getArguments(), kernel.getInputs())) {
        oldTypes[arg] = arg.getType();
        arg.setType(operand.getType());
      }
      if (failed(specializeBlock(body, oldTypes, dims)))
        return failure();
      types = SmallVector<Type>(body.getTerminator()->getOperandTypes());
    } else if (op.getNumRegions()) {
      return op.emitOpError("cannot be specialised to static dims: an op "
                            "with regions");
    } else {
      types = inferSpecialized(&op, oldTypes, dims);
    }
    if (failed(types))
      return failure();
    for (auto [result, type] : llvm::zip(op.getResults(), *types)) {
      auto before = dyn_cast<RankedTensorType>(result.getType());
      auto after = dyn_cast<RankedTensorType>(type);
      if (before && (!after || !after.hasStaticShape() ||
                     before.getRank() != after.getRank() ||
                     before.getElementType() != after.getElementType() ||
                     llvm::any_of(llvm::seq<int64_t>(0, before.getRank()),
                                  [&](int64_t d) {
                                    return !before.isDynamicDim(d) &&
                                           before.getDimSize(d) !=
                                               after.getDimSize(d);
                                  })))
        return op.emitOpError("specialising the dims gives result #")
               << result.getResultNumber() << " the type " << type
               << " but the op declares " << before;
      oldTypes[result] = result.getType();
      result.setType(type);
    }
    op.removeAttr(kDimNamesAttrName);
  }
  return success();
}

LogicalResult
mlir::iolite::specializeDims(func::FuncOp function,
                             const llvm::MapVector<StringRef, int64_t> &dims,
                             bool checkBounds) {
  if (failed(verifyDimContract(function)))
    return failure();
  FailureOr<DimBounds> bounds = getDimBounds(function);
  if (failed(bounds))
    return failure();
  for (auto &[name, bound] : *bounds) {
    auto it = dims.find(name);
    if (it == dims.end())
      return function.emitError()
             << "no value given for the symbolic dim '" << name << "'";
    if (checkBounds && (it->second < bound.lo || it->second > bound.hi))
      return function.emitError()
             << "dim '" << name << "' = " << it->second
             << " is outside its bounds " << bound.lo << ".." << bound.hi;
  }

  // Probe sizes outside the bounds only show how dims relate; rules that
  // need the bounds are checked at real sizes.
  if (!checkBounds)
    function->setAttr(kSymbolicProbeAttrName,
                      UnitAttr::get(function.getContext()));
  DenseMap<Value, Type> oldTypes;
  Block &body = function.getBody().front();
  SmallVector<Type> argTypes;
  for (BlockArgument arg : body.getArguments()) {
    oldTypes[arg] = arg.getType();
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || type.hasStaticShape()) {
      argTypes.push_back(arg.getType());
      continue;
    }
    SmallVector<StringRef> names = getArgDimNames(function, arg.getArgNumber());
    SmallVector<int64_t> shape(type.getShape());
    for (auto [d, size] : llvm::enumerate(shape))
      if (size == kDyn)
        size = dims.lookup(names[d]);
    arg.setType(type.clone(shape));
    argTypes.push_back(arg.getType());
  }

  if (failed(specializeBlock(body, oldTypes, dims)))
    return failure();

  auto ret = cast<func::ReturnOp>(body.getTerminator());
  function.setType(FunctionType::get(function.getContext(), argTypes,
                                     ret.getOperandTypes()));
  for (unsigned i = 0, e = function.getNumArguments(); i < e; ++i)
    function.removeArgAttr(i, kDimNamesAttrName);
  function->removeAttr(kDimBoundsAttrName);
  return verify(function);
}

LogicalResult mlir::iolite::verifySymbolicShapes(func::FuncOp function) {
  if (function.isDeclaration() || !hasDynamicDims(function))
    return success();
  if (failed(verifyDimContract(function)))
    return failure();
  FailureOr<DimBounds> bounds = getDimBounds(function);
  if (failed(bounds))
    return failure();
  // Primes above every static dim a model has, small enough that products
  // of a few of them (attention scores: batch * heads * seq * seq) stay far
  // from overflowing int64.
  static constexpr int64_t kProbes[2][8] = {
      {10007, 10009, 10037, 10039, 10061, 10067, 10069, 10079},
      {10091, 10093, 10099, 10103, 10111, 10133, 10139, 10141}};
  if (bounds->size() > std::size(kProbes[0]))
    return function.emitError() << "@" << function.getSymName() << " has "
                                << bounds->size() << " symbolic dims; at most "
                                << std::size(kProbes[0]) << " are supported";
  for (const auto &probes : kProbes) {
    llvm::MapVector<StringRef, int64_t> values;
    std::string list;
    for (auto [i, entry] : llvm::enumerate(*bounds)) {
      values[entry.first] = probes[i];
      list += (i ? ", " : "") + entry.first.str() + " = " +
              std::to_string(probes[i]);
    }
    OwningOpRef<func::FuncOp> copy = function.clone();
    // The copy's diagnostics carry the original's locations; they are
    // re-emitted with the values that showed the rule failing.
    std::string message;
    std::optional<Location> where;
    {
      ScopedDiagnosticHandler handler(
          function.getContext(), [&](Diagnostic &diag) {
            if (diag.getSeverity() == DiagnosticSeverity::Error && !where) {
              where = diag.getLocation();
              message = diag.str();
            }
            return success();
          });
      if (succeeded(specializeDims(*copy, values, /*checkBounds=*/false)))
        continue;
    }
    return emitError(where.value_or(function.getLoc()))
           << "the shapes do not hold for every size of the symbolic dims ("
           << list << " breaks them): " << message;
  }
  return success();
}

namespace {
struct IoliteVerifySymbolicShapesPass
    : iolite::impl::IoliteVerifySymbolicShapesPassBase<
          IoliteVerifySymbolicShapesPass> {
  void runOnOperation() override {
    if (failed(verifySymbolicShapes(getOperation())))
      signalPassFailure();
  }
};

struct IoliteSpecializeDimsPass
    : iolite::impl::IoliteSpecializeDimsPassBase<IoliteSpecializeDimsPass> {
  using Base::Base;
  void runOnOperation() override {
    func::FuncOp function = getOperation();
    if (!hasDynamicDims(function))
      return;
    llvm::MapVector<StringRef, int64_t> values;
    llvm::StringMap<std::string> owned;
    for (const std::string &entry : dims) {
      std::string error;
      FailureOr<DimSpec> spec = parseDimSpec(entry, error);
      if (failed(spec) || !spec->pinned()) {
        function.emitError()
            << "iolite-specialize-dims: "
            << (error.empty() ? "expected NAME=N, got '" + entry + "'" : error);
        return signalPassFailure();
      }
      auto [it, inserted] = owned.try_emplace(spec->name, spec->name);
      values[it->getKey()] = spec->bound.lo;
    }
    if (failed(specializeDims(function, values)))
      signalPassFailure();
  }
};
} // namespace
