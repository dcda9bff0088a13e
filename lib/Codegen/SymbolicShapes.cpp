//===- SymbolicShapes.cpp - Run-time extents of symbolic kernels ----------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Codegen/SymbolicShapes.h"

#include "iolite/Dialect/Iolite/Transforms/Transforms.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::iolite;

//===----------------------------------------------------------------------===//
// DimExpr
//===----------------------------------------------------------------------===//

DimExpr DimExpr::operator*(const DimExpr &other) const {
  DimExpr r;
  r.coeff = coeff * other.coeff;
  r.exps.assign(std::max(exps.size(), other.exps.size()), 0);
  for (auto [i, e] : llvm::enumerate(exps))
    r.exps[i] += e;
  for (auto [i, e] : llvm::enumerate(other.exps))
    r.exps[i] += e;
  return r;
}

bool DimExpr::operator==(const DimExpr &other) const {
  if (coeff != other.coeff)
    return false;
  for (size_t i = 0, e = std::max(exps.size(), other.exps.size()); i < e; ++i)
    if ((i < exps.size() ? exps[i] : 0) !=
        (i < other.exps.size() ? other.exps[i] : 0))
      return false;
  return true;
}

std::optional<int64_t> DimExpr::evaluate(ArrayRef<int64_t> symbols) const {
  int64_t v = coeff;
  for (auto [i, e] : llvm::enumerate(exps))
    for (unsigned k = 0; k < e; ++k)
      if (llvm::MulOverflow(v, symbols[i], v))
        return std::nullopt;
  return v;
}

std::string DimExpr::toC(ArrayRef<std::string> names) const {
  std::string s = std::to_string(coeff);
  for (auto [i, e] : llvm::enumerate(exps))
    for (unsigned k = 0; k < e; ++k)
      s += " * " + names[i];
  return s;
}

std::optional<int64_t>
GridExtent::evaluate(ArrayRef<int64_t> symbolValues) const {
  std::optional<int64_t> v = expr.evaluate(symbolValues);
  if (!v)
    return std::nullopt;
  return llvm::divideCeil(*v, divisor);
}

Value mlir::iolite::emitDimExpr(ImplicitLocOpBuilder &b, const DimExpr &expr,
                                ValueRange symbolValues) {
  Value v;
  for (auto [i, e] : llvm::enumerate(expr.exps))
    for (unsigned k = 0; k < e; ++k)
      v = v ? arith::MulIOp::create(b, v, symbolValues[i]).getResult()
            : symbolValues[i];
  if (!v)
    return arith::ConstantIndexOp::create(b, expr.coeff);
  if (expr.coeff != 1)
    v = arith::MulIOp::create(b, v,
                              arith::ConstantIndexOp::create(b, expr.coeff));
  return v;
}

//===----------------------------------------------------------------------===//
// Analysis
//===----------------------------------------------------------------------===//

/// Every value of `root` (block arguments and results), in a walk order that
/// a clone repeats.
static SmallVector<Value> collectValues(Operation *root) {
  SmallVector<Value> values;
  root->walk<WalkOrder::PreOrder>([&](Operation *op) {
    for (Region &region : op->getRegions())
      for (Block &block : region)
        llvm::append_range(values, block.getArguments());
    llvm::append_range(values, op->getResults());
  });
  return values;
}

static bool isPrime(int64_t n) {
  for (int64_t d = 2; d * d <= n; ++d)
    if (n % d == 0)
      return false;
  return n > 1;
}

/// Specialises a copy of `function` with symbol i set to `values[i]` and
/// returns its values in walk order.
static FailureOr<SmallVector<Value>>
specializedValues(func::FuncOp function, ArrayRef<std::string> symbols,
                  ArrayRef<int64_t> values, OwningOpRef<func::FuncOp> &copy) {
  llvm::MapVector<StringRef, int64_t> dims;
  for (auto [name, v] : llvm::zip(symbols, values))
    dims[name] = v;
  copy = function.clone();
  if (failed(specializeDims(*copy, dims, /*checkBounds=*/false)))
    return failure();
  return collectValues(*copy);
}

FailureOr<SymbolicShapes> SymbolicShapes::analyze(func::FuncOp function) {
  SymbolicShapes result;
  FailureOr<DimBounds> declared = getDimBounds(function);
  if (failed(declared))
    return failure();
  for (auto &[name, bound] : *declared) {
    result.symbols.push_back(name.str());
    result.bounds.push_back(bound);
  }
  unsigned n = result.symbols.size();
  // Two sets of distinct primes far above every static dim the models use.
  SmallVector<int64_t> primes;
  for (int64_t p = 10007; primes.size() < 2 * n; p += 2)
    if (isPrime(p))
      primes.push_back(p);
  ArrayRef<int64_t> first = ArrayRef(primes).take_front(n);
  ArrayRef<int64_t> second = ArrayRef(primes).drop_front(n);
  SmallVector<int64_t> upper;
  for (const DimBound &b : result.bounds)
    upper.push_back(b.hi);

  OwningOpRef<func::FuncOp> copyA, copyB, copyBound;
  FailureOr<SmallVector<Value>> a =
      specializedValues(function, result.symbols, first, copyA);
  FailureOr<SmallVector<Value>> b =
      specializedValues(function, result.symbols, second, copyB);
  FailureOr<SmallVector<Value>> bound =
      specializedValues(function, result.symbols, upper, copyBound);
  if (failed(a) || failed(b) || failed(bound))
    return failure();
  SmallVector<Value> original = collectValues(function);
  if (a->size() != original.size() || b->size() != original.size() ||
      bound->size() != original.size())
    return function.emitError(
        "specialising the symbolic dims changed the function's structure");

  for (auto [i, v] : llvm::enumerate(original)) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || type.hasStaticShape())
      continue;
    auto ta = cast<RankedTensorType>((*a)[i].getType());
    auto tb = cast<RankedTensorType>((*b)[i].getType());
    result.boundTypes[v] = cast<RankedTensorType>((*bound)[i].getType());
    SmallVector<DimExpr> exprs;
    for (auto [d, size] : llvm::enumerate(type.getShape())) {
      if (!ShapedType::isDynamic(size)) {
        exprs.push_back(DimExpr::constant(size));
        continue;
      }
      // Factor the first probe over its primes...
      DimExpr e;
      e.exps.assign(n, 0);
      int64_t rest = ta.getDimSize(d);
      for (unsigned s = 0; s < n; ++s)
        while (rest % first[s] == 0) {
          rest /= first[s];
          ++e.exps[s];
        }
      e.coeff = rest;
      // ...and check the monomial against the second.
      std::optional<int64_t> expected = e.evaluate(second);
      if (!expected || *expected != tb.getDimSize(d)) {
        Location loc = v.getLoc();
        return emitError(loc) << "dim " << d << " of " << type
                              << " is not a product of symbols and a "
                                 "constant; kernels compiled for every size "
                                 "need their extents as such products";
      }
      exprs.push_back(std::move(e));
    }
    result.dims[v] = std::move(exprs);
  }
  return result;
}

DimExpr SymbolicShapes::getDim(Value value, unsigned d) const {
  auto it = dims.find(value);
  if (it != dims.end())
    return it->second[d];
  return DimExpr::constant(cast<ShapedType>(value.getType()).getDimSize(d));
}

SmallVector<DimExpr> SymbolicShapes::getDims(Value value) const {
  SmallVector<DimExpr> r;
  for (unsigned d = 0, e = cast<ShapedType>(value.getType()).getRank(); d < e;
       ++d)
    r.push_back(getDim(value, d));
  return r;
}

DimExpr SymbolicShapes::getNumElements(Value value) const {
  DimExpr r = DimExpr::constant(1);
  for (const DimExpr &d : getDims(value))
    r = r * d;
  return r;
}

RankedTensorType SymbolicShapes::getBoundType(Value value) const {
  auto it = boundTypes.find(value);
  if (it != boundTypes.end())
    return it->second;
  return cast<RankedTensorType>(value.getType());
}
