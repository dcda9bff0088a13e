//===- ElementalEmitter.h - Scalar code for one tensor element --*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Given a tensor value inside an iolite.kernel body and a multi-index, emits
// the scalar code that computes that element (as XLA's elemental IR emitter
// does). Reading a kernel argument is a load from its global memref;
// elementwise and data-movement ops recurse into their operands at mapped
// indices; every other op is computed by loops over the elements it needs, so
// any kernel can be compiled one output element at a time. Kernel templates
// install "sources" for the values they compute themselves (a matmul
// accumulator, a row statistic) and call the emitter for their prologues and
// epilogues: that is how fusion reaches every template uniformly.
//
// Floating-point values are computed in f32 whatever their storage type;
// integers and i1 in their own type.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_CODEGEN_ELEMENTALEMITTER_H
#define IOLITE_CODEGEN_ELEMENTALEMITTER_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include <functional>

namespace mlir {
namespace iolite {

/// Computes one element of a value a template produces itself.
using ElementSource =
    std::function<FailureOr<Value>(ImplicitLocOpBuilder &, ValueRange index)>;
/// Computes `width` consecutive elements along the last dim of a value a
/// template produces itself, starting at `index` (see emitRun).
using RunSource = std::function<FailureOr<SmallVector<Value>>(
    ImplicitLocOpBuilder &, ValueRange index, unsigned width)>;

/// The type values of `elementType` are computed in (f32 for every float).
Type getComputeType(Type elementType);

/// Converts a computed scalar to the storage element type (rounding floats).
Value convertToStorage(ImplicitLocOpBuilder &b, Value computed,
                       Type elementType);
/// Converts a loaded scalar of `elementType` to its compute type.
Value convertToCompute(ImplicitLocOpBuilder &b, Value loaded);

/// True for ops the emitter computes from a bounded number of operand
/// elements (elementwise, casts, data movement, small-window conv1d): they
/// fuse into any template's prologue or epilogue for free. Everything else
/// is a "heavy" op and the root of some kernel template.
bool isCheapElementalOp(Operation *op);

/// True for the cheap ops that compute each element from the same-index
/// elements of their operands (with NumPy broadcasting): elementwise math,
/// comparisons, select and casts.
bool isPointwiseElementalOp(Operation *op);

/// Bytes of the widest element type among `value` and the kernel arguments
/// it is computed from through cheap ops: what one element of a run of
/// `value` loads at most from one buffer.
int64_t getWidestElementBytes(Value value);
/// The largest power of two <= `limit` that divides every value of `sizes`
/// (at least 1): the widest run that tiles them all.
int64_t largestDividingWidth(int64_t limit, ArrayRef<int64_t> sizes);

class ElementalEmitter {
public:
  /// `bindings` maps kernel block arguments to the global memrefs holding
  /// them. The builder's insertion point moves as code is emitted.
  ElementalEmitter(ImplicitLocOpBuilder &builder,
                   const DenseMap<Value, Value> &bindings)
      : b(builder), bindings(bindings) {}

  /// Emits the element of `value` at `index` (one `index`-typed value per
  /// dim) and returns it in its compute type.
  FailureOr<Value> emit(Value value, ValueRange index);

  /// Emits the `width` elements of `value` that follow `index` in row-major
  /// order (a "run"), in compute type. The linear position of `index` must
  /// be a multiple of `width`. A run of a kernel argument is one vector.load
  /// when the buffer alignment allows (setBufferAlignment); pointwise ops,
  /// casts, reshapes, last-dim slices and broadcasts map a run onto runs of
  /// their operands (or one replicated element); every other op is
  /// computed element by element, so any value can be emitted as a run.
  FailureOr<SmallVector<Value>> emitRun(Value value, ValueRange index,
                                        unsigned width);

  /// Makes `value`'s elements come from `source` instead of its defining op.
  void setSource(Value value, ElementSource source) {
    sources[value] = std::move(source);
  }
  /// Makes runs of `value` that lie within one row (its last dim) come from
  /// `source`; other runs use the element source.
  void setRunSource(Value value, RunSource source) {
    runSources[value] = std::move(source);
  }
  /// Declares every kernel buffer aligned to `bytes`: runs of kernel
  /// arguments then load as vectors aligned to at most `bytes`. 0 (the
  /// default) keeps all loads scalar.
  void setBufferAlignment(unsigned bytes) { bufferAlignment = bytes; }

  ImplicitLocOpBuilder &getBuilder() { return b; }

  /// Computes the run-time extent of dim `d` of a value with dynamic dims
  /// (KernelEmitContext::prepare installs it). Without one, only static
  /// shapes can be emitted.
  using ExtentResolver = std::function<Value(Value value, unsigned d)>;
  void setExtentResolver(ExtentResolver resolver) {
    extentResolver = std::move(resolver);
  }
  /// The extents of `value` (a shaped value), constants where static.
  SmallVector<Value> getExtents(Value value);

  // Index arithmetic helpers shared with the templates.
  Value constIndex(int64_t v);
  /// Row-major linear position of `index` in `shape`.
  Value linearize(ValueRange index, ArrayRef<int64_t> shape);
  /// The inverse of linearize.
  SmallVector<Value> delinearize(Value linear, ArrayRef<int64_t> shape);
  /// linearize and delinearize over extents given as index values.
  Value linearize(ValueRange index, ValueRange extents);
  SmallVector<Value> delinearize(Value linear, ValueRange extents);
  /// Maps an index of a broadcast result onto an operand of shape `shape`
  /// (NumPy rules, right aligned).
  SmallVector<Value> broadcastIndex(ValueRange index, ArrayRef<int64_t> shape);
  /// The index of element `i` of the run of `width` at `index` in `shape`.
  SmallVector<Value> runElementIndex(ValueRange index, ArrayRef<int64_t> shape,
                                     unsigned width, unsigned i);
  /// The same for a value whose dims may be dynamic.
  SmallVector<Value> runElementIndex(ValueRange index, Value shaped,
                                     unsigned width, unsigned i);

  /// Emits `for (iv = lb; iv < ub; iv += step)` carrying `inits`; `body`
  /// returns the next values. Returns the loop results.
  FailureOr<SmallVector<Value>> forLoop(
      Value lb, Value ub, Value step, ValueRange inits,
      function_ref<FailureOr<SmallVector<Value>>(Value iv, ValueRange)> body);
  /// Emits `cond ? then() : else()` for scalar results of `types`.
  FailureOr<SmallVector<Value>>
  ifThenElse(Value cond, TypeRange types,
             function_ref<FailureOr<SmallVector<Value>>()> thenFn,
             function_ref<FailureOr<SmallVector<Value>>()> elseFn);

private:
  FailureOr<Value> emitUncached(Value value, ValueRange index);
  FailureOr<Value> emitOp(Operation *op, unsigned resultNumber,
                          ValueRange index);
  /// The scalar math of a pointwise op (or splat constant) on its operands'
  /// elements.
  FailureOr<Value> applyPointwise(Operation *op, ArrayRef<Value> args);
  /// `index` of a result of shape `resultShape` mapped onto an operand of
  /// shape `operandShape` (unchanged when the shapes are equal).
  SmallVector<Value> operandIndex(ValueRange index,
                                  ArrayRef<int64_t> operandShape,
                                  ArrayRef<int64_t> resultShape);
  FailureOr<SmallVector<Value>> emitRunUncached(Value value, ValueRange index,
                                                unsigned width);
  /// A run computed one element at a time.
  FailureOr<SmallVector<Value>> emitRunByElement(Value value, ValueRange index,
                                                 unsigned width);
  /// Ops that are not cheap: computed by loops over their inputs.
  FailureOr<Value> emitHeavy(Operation *op, unsigned resultNumber,
                             ValueRange index);

  ImplicitLocOpBuilder &b;
  const DenseMap<Value, Value> &bindings;
  DenseMap<Value, ElementSource> sources;
  DenseMap<Value, RunSource> runSources;
  unsigned bufferAlignment = 0;
  ExtentResolver extentResolver;
  /// Elements already emitted, reused only where they dominate.
  struct CacheEntry {
    SmallVector<Value> index;
    Value result;
  };
  DenseMap<Value, SmallVector<CacheEntry, 1>> cache;
  struct RunCacheEntry {
    SmallVector<Value> index;
    unsigned width;
    SmallVector<Value> result;
  };
  DenseMap<Value, SmallVector<RunCacheEntry, 1>> runCache;
};

} // namespace iolite
} // namespace mlir

#endif // IOLITE_CODEGEN_ELEMENTALEMITTER_H
