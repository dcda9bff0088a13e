//===- LoweringUtils.h - Helpers of the reference lowering ------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Building blocks shared by the iolite-to-linalg patterns: scalar type
// handling (every float computes in f32), linalg.generic builders with NumPy
// broadcasting, static reshapes and slices along one axis. Private to
// lib/Conversion/IoliteToLinalg.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_CONVERSION_IOLITETOLINALG_LOWERINGUTILS_H
#define IOLITE_LIB_CONVERSION_IOLITETOLINALG_LOWERINGUTILS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir {
namespace iolite {
namespace lowering {

/// The body of a generic: gets the block arguments (inputs, then outputs) and
/// returns the values to yield.
using BodyFn =
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;
/// A body with a single result.
using ScalarFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

//===----------------------------------------------------------------------===//
// Scalars
//===----------------------------------------------------------------------===//

/// The type arithmetic on `elementType` happens in: f32 for every float type,
/// the type itself otherwise.
Type getComputeType(Type elementType);

/// A scalar constant of `type` (float, integer or index).
Value constant(OpBuilder &b, Location loc, Type type, double value);
Value constantF32(OpBuilder &b, Location loc, double value);
Value constantIndex(OpBuilder &b, Location loc, int64_t value);
Value constantI64(OpBuilder &b, Location loc, int64_t value);
/// -inf (or +inf) in f32.
Value infF32(OpBuilder &b, Location loc, bool negative);

/// Extends an f16/bf16 scalar to f32; f32 and integers stay.
Value toCompute(OpBuilder &b, Location loc, Value v);
/// Rounds a compute-type scalar to `elementType` (truncf for f16/bf16).
Value fromCompute(OpBuilder &b, Location loc, Value v, Type elementType);
/// Converts a scalar with iolite.cast semantics.
Value convertScalar(OpBuilder &b, Location loc, Value v, Type to);

/// The loop index of `dim` inside a linalg.generic body, as i64.
Value loopIndexI64(OpBuilder &b, Location loc, int64_t dim);
/// The loop index of `dim` inside a linalg.generic body.
Value loopIndex(OpBuilder &b, Location loc, int64_t dim);
/// i64 <-> index.
Value toIndex(OpBuilder &b, Location loc, Value v);
Value toI64(OpBuilder &b, Location loc, Value v);

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                  Type elementType);
/// A tensor of `shape` filled with `scalar` (linalg.fill).
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   Value scalar);

/// The map from an iteration space of shape `iterShape` to an operand of
/// shape `operandShape` that broadcasts to it under NumPy rules: dims are
/// aligned on the right and a size-1 dim against a larger one reads index 0.
AffineMap getBroadcastMap(MLIRContext *ctx, ArrayRef<int64_t> operandShape,
                          ArrayRef<int64_t> iterShape);

/// The projection of a `rank`-dimensional space dropping `dropped` dims.
AffineMap getProjectionMap(MLIRContext *ctx, int64_t rank,
                           ArrayRef<int64_t> dropped);

/// A map from `rank` loop dims selecting `dims` in order.
AffineMap getSelectMap(MLIRContext *ctx, int64_t rank, ArrayRef<int64_t> dims);

/// A linalg.generic with the given operands, maps (inputs then outputs) and
/// iterator types; returns its results.
SmallVector<Value> buildGeneric(OpBuilder &b, Location loc, ValueRange inputs,
                                ValueRange inits, ArrayRef<AffineMap> maps,
                                ArrayRef<utils::IteratorType> iterators,
                                BodyFn body);
/// The single-result form of buildGeneric.
Value buildGeneric(OpBuilder &b, Location loc, ValueRange inputs, Value init,
                   ArrayRef<AffineMap> maps,
                   ArrayRef<utils::IteratorType> iterators, ScalarFn body);

/// An all-parallel generic over `shape` whose inputs broadcast to it; the
/// body gets the input scalars and returns a scalar of `resultElementType`.
Value buildElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                       ArrayRef<int64_t> shape, Type resultElementType,
                       ScalarFn body);

/// Rounds a compute-type tensor to `elementType` (a copy when equal).
Value roundTensor(OpBuilder &b, Location loc, Value t, Type elementType);

/// A static reshape (collapse to 1-D, then expand); a no-op when the shape is
/// already `shape`.
Value reshapeTo(OpBuilder &b, Location loc, Value v, ArrayRef<int64_t> shape);

/// Splits dim `dim` of `v` into `outer` x `inner` (an expand_shape).
Value splitDim(OpBuilder &b, Location loc, Value v, int64_t dim, int64_t outer,
               int64_t inner);

/// Merges dims `dim` and `dim + 1` of `v` (a collapse_shape); the inverse
/// of splitDim.
Value mergeDims(OpBuilder &b, Location loc, Value v, int64_t dim);

/// The slice of `v` at index `pos` of `axis`, without that dim.
Value sliceAlong(OpBuilder &b, Location loc, Value v, int64_t axis, Value pos);
/// Inserts `slice` (shaped like `dest` without `axis`) at index `pos` of
/// `axis` of `dest`.
Value insertAlong(OpBuilder &b, Location loc, Value slice, Value dest,
                  int64_t axis, Value pos);

SmallVector<utils::IteratorType> parallelIterators(int64_t n);

/// The static shape of a ranked tensor value.
ArrayRef<int64_t> shapeOf(Value v);
Type elementTypeOf(Value v);

//===----------------------------------------------------------------------===//
// Shared computations
//===----------------------------------------------------------------------===//

/// Softmax of `x` along `axis` (max-subtracted, f32 statistics) as an f32
/// tensor.
Value softmaxF32(OpBuilder &b, Location loc, Value x, int64_t axis);

/// The `k` best entries of `x` along `axis`, best first, ties to the lower
/// index; NaN ranks above every number. Returns values (x's element type)
/// and i64 indices.
std::pair<Value, Value> topK(OpBuilder &b, Location loc, Value x, int64_t axis,
                             int64_t k, bool largest);

} // namespace lowering

//===----------------------------------------------------------------------===//
// Pattern groups (one file each)
//===----------------------------------------------------------------------===//

void populateElementwiseLoweringPatterns(RewritePatternSet &patterns);
void populateReductionLoweringPatterns(RewritePatternSet &patterns);
void populateDataMovementLoweringPatterns(RewritePatternSet &patterns);
void populateTransformerLoweringPatterns(RewritePatternSet &patterns);
void populateStateSpaceLoweringPatterns(RewritePatternSet &patterns);
void populateMoeLoweringPatterns(RewritePatternSet &patterns);
void populateServingLoweringPatterns(RewritePatternSet &patterns);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_LIB_CONVERSION_IOLITETOLINALG_LOWERINGUTILS_H
