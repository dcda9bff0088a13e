//===- TypeInference.h - Shape and type rules of iolite ops ----*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// One free function per op computes its result types from its operand types
// and attributes, and checks every rule the op has. The ops' inferReturnTypes
// call them, and so do importers, which must reject bad models with a
// diagnostic instead of building an invalid op. A function given no location
// fails silently.
//
// Dims may be dynamic (ShapedType::kDynamic): a rule that compares two dims
// holds when either is dynamic, and the result dim is dynamic if it cannot be
// known.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITE_IR_TYPEINFERENCE_H
#define IOLITE_DIALECT_IOLITE_IR_TYPEINFERENCE_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/TypeRange.h"
#include "mlir/Support/LLVM.h"
#include <limits>
#include <optional>

namespace mlir {
namespace iolite {

/// The slice limit that takes a dynamic dim to its end, whatever its size.
constexpr int64_t kSliceToEnd = std::numeric_limits<int64_t>::max();

/// True when two dims may be equal (equal, or either dynamic).
bool dimsCompatible(int64_t a, int64_t b);

/// Normalizes `axis` (negative counts from the back) against `rank`; fails
/// with a diagnostic naming `what` when it is out of range.
FailureOr<int64_t> normalizeAxis(std::optional<Location> loc, int64_t axis,
                                 int64_t rank, StringRef what = "axis");

/// NumPy broadcast of `shapes` into `result`.
LogicalResult inferBroadcastShape(std::optional<Location> loc,
                                  ArrayRef<ArrayRef<int64_t>> shapes,
                                  SmallVectorImpl<int64_t> &result);

/// True when `from` broadcasts to exactly `to` under NumPy rules.
bool isBroadcastableTo(ArrayRef<int64_t> from, ArrayRef<int64_t> to);

/// Elementwise ops with broadcasting; the result element type is
/// `elementType`, or the first operand's when null.
LogicalResult inferElementwiseOp(std::optional<Location> loc,
                                 TypeRange operands, Type elementType,
                                 SmallVectorImpl<Type> &results);

/// iolite.select: an i1 condition and two values of one element type.
LogicalResult inferSelectOp(std::optional<Location> loc, Type condition,
                            Type onTrue, Type onFalse,
                            SmallVectorImpl<Type> &results);

LogicalResult inferSoftmaxOp(std::optional<Location> loc, Type input,
                             int64_t axis, SmallVectorImpl<Type> &results);

LogicalResult inferReduceOp(std::optional<Location> loc, Type input,
                            ArrayRef<int64_t> axes, bool keepDims,
                            SmallVectorImpl<Type> &results);

/// `weight` may be null.
LogicalResult inferRmsNormOp(std::optional<Location> loc, Type input,
                             Type weight, float epsilon,
                             SmallVectorImpl<Type> &results);

/// `weight` and `bias` may be null.
LogicalResult inferLayerNormOp(std::optional<Location> loc, Type input,
                               Type weight, Type bias, int64_t axis,
                               float epsilon, SmallVectorImpl<Type> &results);

LogicalResult inferCumsumOp(std::optional<Location> loc, Type input,
                            int64_t axis, SmallVectorImpl<Type> &results);

LogicalResult inferIotaOp(std::optional<Location> loc, Type source,
                          int64_t axis, SmallVectorImpl<Type> &results);

LogicalResult inferTopKOp(std::optional<Location> loc, Type input, int64_t k,
                          int64_t axis, SmallVectorImpl<Type> &results);

LogicalResult inferTransposeOp(std::optional<Location> loc, Type input,
                               ArrayRef<int64_t> permutation,
                               SmallVectorImpl<Type> &results);

LogicalResult inferConcatOp(std::optional<Location> loc, TypeRange inputs,
                            int64_t axis, SmallVectorImpl<Type> &results);

/// `strides` empty means all ones.
LogicalResult inferSliceOp(std::optional<Location> loc, Type input,
                           ArrayRef<int64_t> starts, ArrayRef<int64_t> limits,
                           ArrayRef<int64_t> strides,
                           SmallVectorImpl<Type> &results);

LogicalResult inferGatherOp(std::optional<Location> loc, Type data,
                            Type indices, int64_t axis,
                            SmallVectorImpl<Type> &results);

LogicalResult verifyReshape(std::optional<Location> loc, Type input,
                            Type result);

LogicalResult verifyBroadcastTo(std::optional<Location> loc, Type input,
                                Type result);

LogicalResult inferMatmulOp(std::optional<Location> loc, Type lhs, Type rhs,
                            bool transposeLhs, bool transposeRhs,
                            SmallVectorImpl<Type> &results);

LogicalResult inferRotaryOp(std::optional<Location> loc, Type input, Type cos,
                            Type sin, SmallVectorImpl<Type> &results);

/// `mask` and `alibiSlopes` may be null.
LogicalResult inferAttentionOp(std::optional<Location> loc, Type query,
                               Type key, Type value, Type mask,
                               Type alibiSlopes, std::optional<float> scale,
                               bool causal, std::optional<int64_t> window,
                               std::optional<float> softcap,
                               SmallVectorImpl<Type> &results);

/// The caches are contiguous ([B, L, Hkv, D]) when `blockTable` is null and
/// page pools ([N, P, Hkv, D]) read through it otherwise.
LogicalResult inferKvCacheAppendOp(std::optional<Location> loc, Type kCache,
                                   Type vCache, Type key, Type value,
                                   Type cacheSeqlens, Type blockTable,
                                   SmallVectorImpl<Type> &results);

/// `blockTable` may be null (contiguous caches).
LogicalResult inferCacheAttentionOp(std::optional<Location> loc, Type query,
                                    Type kCache, Type vCache, Type cacheSeqlens,
                                    Type blockTable, std::optional<float> scale,
                                    SmallVectorImpl<Type> &results);

LogicalResult inferVarlenAttentionOp(std::optional<Location> loc, Type query,
                                     Type key, Type value, Type cuSeqlensQ,
                                     Type cuSeqlensK,
                                     std::optional<float> scale,
                                     std::optional<int64_t> maxSeqlenQ,
                                     std::optional<int64_t> maxSeqlenK,
                                     SmallVectorImpl<Type> &results);

/// `bias` may be null.
LogicalResult inferConv1dOp(std::optional<Location> loc, Type input,
                            Type weight, Type bias,
                            SmallVectorImpl<Type> &results);

/// `bias` may be null.
LogicalResult inferConv1dWithStateOp(std::optional<Location> loc, Type input,
                                     Type weight, Type state, Type bias,
                                     SmallVectorImpl<Type> &results);

/// `d`, `z` and `deltaBias` may be null.
LogicalResult inferSelectiveScanOp(std::optional<Location> loc, Type u,
                                   Type delta, Type a, Type b, Type c, Type d,
                                   Type z, Type deltaBias,
                                   SmallVectorImpl<Type> &results);

/// `d`, `z` and `deltaBias` may be null; `state` is the f32 initial state.
LogicalResult inferSelectiveScanWithStateOp(std::optional<Location> loc, Type u,
                                            Type delta, Type a, Type b, Type c,
                                            Type state, Type d, Type z,
                                            Type deltaBias,
                                            SmallVectorImpl<Type> &results);

/// `d` and `dtBias` may be null.
LogicalResult inferSsdOp(std::optional<Location> loc, Type x, Type dt, Type a,
                         Type b, Type c, Type d, Type dtBias, int64_t chunkSize,
                         SmallVectorImpl<Type> &results);
LogicalResult inferSsdWithStateOp(std::optional<Location> loc, Type x, Type dt,
                                  Type a, Type b, Type c, Type state, Type d,
                                  Type dtBias, int64_t chunkSize,
                                  SmallVectorImpl<Type> &results);

/// `d` may be null.
LogicalResult inferLongConvOp(std::optional<Location> loc, Type input,
                              Type filter, Type d,
                              SmallVectorImpl<Type> &results);

LogicalResult inferRouterOp(std::optional<Location> loc, Type logits, int64_t k,
                            SmallVectorImpl<Type> &results);

LogicalResult inferDispatchOp(std::optional<Location> loc, Type input,
                              Type expertIds, int64_t numExperts,
                              SmallVectorImpl<Type> &results);

LogicalResult inferGroupedMatmulOp(std::optional<Location> loc, Type input,
                                   Type weight, Type offsets, bool transposeRhs,
                                   SmallVectorImpl<Type> &results);

LogicalResult inferCombineOp(std::optional<Location> loc, Type input,
                             Type rowIndex, Type weights,
                             SmallVectorImpl<Type> &results);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DIALECT_IOLITE_IR_TYPEINFERENCE_H
