//===- DynamicDims.cpp - Symbolic dims with bounds on functions -----------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/IR/DynamicDims.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::iolite;

FailureOr<DimSpec> mlir::iolite::parseDimSpec(StringRef text,
                                              std::string &error) {
  auto [name, value] = text.split('=');
  name = name.trim();
  value = value.trim();
  auto fail = [&]() -> FailureOr<DimSpec> {
    error = "expected NAME=N or NAME=LO..HI with 0 <= LO <= HI, got '" +
            text.str() + "'";
    return failure();
  };
  if (name.empty() || value.empty() || !text.contains('='))
    return fail();
  DimSpec spec;
  spec.name = name.str();
  auto [lo, hi] = value.split("..");
  if (lo.getAsInteger(10, spec.bound.lo) || spec.bound.lo < 0)
    return fail();
  spec.bound.hi = spec.bound.lo;
  spec.bounded = value.contains("..");
  if (spec.bounded &&
      (hi.getAsInteger(10, spec.bound.hi) || spec.bound.hi < spec.bound.lo))
    return fail();
  return spec;
}

bool mlir::iolite::hasDynamicDims(func::FuncOp function) {
  auto dynamic = [](Type t) {
    auto shaped = dyn_cast<ShapedType>(t);
    return shaped && shaped.hasRank() && !shaped.hasStaticShape();
  };
  return llvm::any_of(function.getArgumentTypes(), dynamic) ||
         llvm::any_of(function.getResultTypes(), dynamic);
}

FailureOr<DimBounds> mlir::iolite::getDimBounds(func::FuncOp function) {
  DimBounds bounds;
  Attribute attr = function->getAttr(kDimBoundsAttrName);
  if (!attr)
    return bounds;
  auto dict = dyn_cast<DictionaryAttr>(attr);
  if (!dict)
    return function.emitError()
           << kDimBoundsAttrName
           << " must be a dictionary from symbol name to array<i64: lo, hi>";
  for (NamedAttribute entry : dict) {
    auto range = dyn_cast<DenseI64ArrayAttr>(entry.getValue());
    if (!range || range.size() != 2 || range[0] < 0 || range[1] < range[0])
      return function.emitError()
             << kDimBoundsAttrName << ": the bounds of '"
             << entry.getName().getValue()
             << "' must be array<i64: lo, hi> with 0 <= lo <= hi, got "
             << entry.getValue();
    bounds.insert({entry.getName().getValue(), DimBound{range[0], range[1]}});
  }
  return bounds;
}

SmallVector<StringRef> mlir::iolite::getArgDimNames(func::FuncOp function,
                                                    unsigned index) {
  SmallVector<StringRef> names;
  auto array = function.getArgAttrOfType<ArrayAttr>(index, kDimNamesAttrName);
  if (!array)
    return names;
  for (Attribute a : array) {
    auto s = dyn_cast<StringAttr>(a);
    names.push_back(s ? s.getValue() : StringRef("<not a string>"));
  }
  return names;
}

LogicalResult mlir::iolite::verifyDimContract(func::FuncOp function) {
  FailureOr<DimBounds> bounds = getDimBounds(function);
  if (failed(bounds))
    return failure();
  llvm::StringSet<> used;
  bool anyDynamicArg = false;
  for (unsigned i = 0, e = function.getNumArguments(); i < e; ++i) {
    auto type = dyn_cast<RankedTensorType>(function.getArgumentTypes()[i]);
    auto annotation =
        function.getArgAttrOfType<Attribute>(i, kDimNamesAttrName);
    if (!type) {
      if (annotation)
        return function.emitError()
               << "argument #" << i << " has " << kDimNamesAttrName
               << " but is not a ranked tensor";
      continue;
    }
    if (annotation && !isa<ArrayAttr>(annotation))
      return function.emitError()
             << "argument #" << i << ": " << kDimNamesAttrName
             << " must be an array of strings, one per dim";
    SmallVector<StringRef> names = getArgDimNames(function, i);
    if (annotation && static_cast<int64_t>(names.size()) != type.getRank())
      return function.emitError()
             << "argument #" << i << ": " << kDimNamesAttrName << " names "
             << names.size() << " dims but the argument has rank "
             << type.getRank();
    for (int64_t d = 0; d < type.getRank(); ++d) {
      StringRef name = names.empty() ? StringRef() : names[d];
      if (!type.isDynamicDim(d)) {
        if (!name.empty())
          return function.emitError()
                 << "argument #" << i << " dim " << d << " is static ("
                 << type.getDimSize(d) << ") but names the symbol '" << name
                 << "'; only dynamic dims name symbols";
        continue;
      }
      anyDynamicArg = true;
      if (name.empty())
        return function.emitError()
               << "argument #" << i << " dim " << d
               << " is dynamic but names no symbol; give the argument {"
               << kDimNamesAttrName
               << " = [...]} with the symbol of each dynamic dim";
      if (!bounds->count(name))
        return function.emitError()
               << "argument #" << i << " dim " << d << " is the symbol '"
               << name << "', which has no bounds; declare them in "
               << kDimBoundsAttrName << " or with --dim " << name << "=LO..HI";
      used.insert(name);
    }
  }
  for (auto &[name, bound] : *bounds)
    if (!used.contains(name))
      return function.emitError() << kDimBoundsAttrName << " declares '" << name
                                  << "', which no argument dim names";
  if (!anyDynamicArg)
    for (auto [i, t] : llvm::enumerate(function.getResultTypes()))
      if (auto shaped = dyn_cast<ShapedType>(t);
          shaped && !shaped.hasStaticShape())
        return function.emitError() << "result #" << i << " has type " << t
                                    << " but every argument has a static shape";
  return success();
}

LogicalResult mlir::iolite::applyDimSpecs(func::FuncOp function,
                                          ArrayRef<DimSpec> specs) {
  if (specs.empty())
    return success();
  FailureOr<DimBounds> bounds = getDimBounds(function);
  if (failed(bounds))
    return failure();
  llvm::StringSet<> used;
  for (unsigned i = 0, e = function.getNumArguments(); i < e; ++i)
    for (StringRef name : getArgDimNames(function, i))
      if (!name.empty())
        used.insert(name);
  Builder b(function.getContext());
  llvm::StringMap<DimBound> merged;
  for (auto &[name, bound] : *bounds)
    merged[name] = bound;
  for (const DimSpec &spec : specs) {
    if (!used.contains(spec.name))
      return function.emitError()
             << "--dim " << spec.name << ": no argument dim of @"
             << function.getSymName() << " is the symbol '" << spec.name << "'";
    merged[spec.name] = spec.bound;
  }
  SmallVector<NamedAttribute> entries;
  for (auto &entry : merged)
    entries.push_back(b.getNamedAttr(
        entry.getKey(),
        b.getDenseI64ArrayAttr({entry.getValue().lo, entry.getValue().hi})));
  function->setAttr(kDimBoundsAttrName, b.getDictionaryAttr(entries));
  return success();
}

FailureOr<llvm::MapVector<StringRef, int64_t>>
mlir::iolite::bindDims(func::FuncOp function,
                       ArrayRef<SmallVector<int64_t>> argShapes,
                       std::string &error) {
  FailureOr<DimBounds> bounds = getDimBounds(function);
  if (failed(bounds)) {
    error = "malformed " + kDimBoundsAttrName.str();
    return failure();
  }
  if (argShapes.size() != function.getNumArguments()) {
    error = llvm::formatv("@{0} takes {1} arguments, got {2}",
                          function.getSymName(), function.getNumArguments(),
                          argShapes.size());
    return failure();
  }
  llvm::MapVector<StringRef, int64_t> values;
  // Where each symbol was first bound, for the message of a disagreement.
  llvm::StringMap<std::pair<unsigned, int64_t>> firstSeen;
  for (auto [i, t] : llvm::enumerate(function.getArgumentTypes())) {
    auto type = dyn_cast<RankedTensorType>(t);
    if (!type)
      continue;
    ArrayRef<int64_t> shape = argShapes[i];
    if (static_cast<int64_t>(shape.size()) != type.getRank()) {
      error = llvm::formatv("argument #{0} has rank {1}, expected {2}", i,
                            shape.size(), type.getRank());
      return failure();
    }
    SmallVector<StringRef> names = getArgDimNames(function, i);
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if (!type.isDynamicDim(d)) {
        if (shape[d] != type.getDimSize(d)) {
          error = llvm::formatv("argument #{0} dim {1} is {2}, expected {3}", i,
                                d, shape[d], type.getDimSize(d));
          return failure();
        }
        continue;
      }
      StringRef name = d < static_cast<int64_t>(names.size()) ? names[d] : "";
      auto bound = bounds->find(name);
      if (name.empty() || bound == bounds->end()) {
        error = llvm::formatv("argument #{0} dim {1} is dynamic but has no "
                              "symbol with bounds",
                              i, d);
        return failure();
      }
      auto [it, inserted] = firstSeen.try_emplace(name, i, d);
      if (!inserted && values.lookup(name) != shape[d]) {
        error = llvm::formatv("inconsistent dims: '{0}' is {1} in argument "
                              "#{2} (dim {3}) but {4} in argument #{5} (dim "
                              "{6})",
                              name, values.lookup(name), it->second.first,
                              it->second.second, shape[d], i, d);
        return failure();
      }
      if (shape[d] < bound->second.lo || shape[d] > bound->second.hi) {
        error = llvm::formatv("dim '{0}' = {1} (argument #{2} dim {3}) is "
                              "outside its bounds {4}..{5}",
                              name, shape[d], i, d, bound->second.lo,
                              bound->second.hi);
        return failure();
      }
      values[name] = shape[d];
    }
  }
  // Symbols in declaration order.
  llvm::MapVector<StringRef, int64_t> ordered;
  for (auto &[name, bound] : *bounds)
    if (values.count(name))
      ordered[name] = values.lookup(name);
  return ordered;
}

bool mlir::iolite::isInSymbolicProbe(Operation *op) {
  auto func = op->getParentOfType<func::FuncOp>();
  return func && func->hasAttr(kSymbolicProbeAttrName);
}
