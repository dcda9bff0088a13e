//===- TypeInference.cpp - Shape and type rules of iolite ops -------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/IR/TypeInference.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::iolite;

static constexpr int64_t kDyn = ShapedType::kDynamic;

/// Formats a shape as `2x?x64` for diagnostics.
static std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  if (shape.empty())
    return "scalar";
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (d == kDyn)
          os << "?";
        else
          os << d;
      },
      "x");
  return s;
}

/// Formats a list as `0, 2, 1`.
static std::string listStr(ArrayRef<int64_t> values) {
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(values, os);
  return s;
}

static std::string dimStr(int64_t d) {
  return d == kDyn ? std::string("?") : std::to_string(d);
}

bool mlir::iolite::dimsCompatible(int64_t a, int64_t b) {
  return a == b || a == kDyn || b == kDyn;
}

FailureOr<int64_t> mlir::iolite::normalizeAxis(std::optional<Location> loc,
                                               int64_t axis, int64_t rank,
                                               StringRef what) {
  if (axis < -rank || axis >= rank) {
    (void)emitOptionalError(loc, what, " ", axis, " is out of range for rank ",
                            rank);
    return failure();
  }
  return axis < 0 ? axis + rank : axis;
}

/// The ranked tensor type of `t`, or null.
static RankedTensorType ranked(Type t) {
  return dyn_cast_or_null<RankedTensorType>(t);
}

/// Checks rank and reports `what` in the diagnostic.
static LogicalResult expectRank(std::optional<Location> loc, RankedTensorType t,
                                int64_t rank, StringRef what) {
  if (t.getRank() == rank)
    return success();
  return emitOptionalError(loc, what, " must have rank ", rank, ", got ",
                           t.getRank(), " (", shapeStr(t.getShape()), ")");
}

/// Checks that dim `i` of `t` may equal `expected`.
static LogicalResult expectDim(std::optional<Location> loc, RankedTensorType t,
                               int64_t i, int64_t expected, StringRef what,
                               StringRef dimName) {
  if (dimsCompatible(t.getDimSize(i), expected))
    return success();
  return emitOptionalError(loc, what, " ", dimName, " (dim ", i, ") is ",
                           dimStr(t.getDimSize(i)), " but must be ",
                           dimStr(expected));
}

/// Checks that a float operand has the element type of `ref` or f32.
static LogicalResult expectParamType(std::optional<Location> loc,
                                     RankedTensorType t, Type ref,
                                     StringRef what) {
  Type e = t.getElementType();
  if (e == ref || e.isF32())
    return success();
  return emitOptionalError(loc, what, " must have element type f32 or ", ref,
                           ", got ", e);
}

static LogicalResult expectSameElementType(std::optional<Location> loc,
                                           RankedTensorType t, Type ref,
                                           StringRef what) {
  if (t.getElementType() == ref)
    return success();
  return emitOptionalError(loc, what, " must have element type ", ref, ", got ",
                           t.getElementType());
}

LogicalResult
mlir::iolite::inferBroadcastShape(std::optional<Location> loc,
                                  ArrayRef<ArrayRef<int64_t>> shapes,
                                  SmallVectorImpl<int64_t> &result) {
  size_t rank = 0;
  for (ArrayRef<int64_t> s : shapes)
    rank = std::max(rank, s.size());
  result.assign(rank, 1);
  for (ArrayRef<int64_t> s : shapes) {
    size_t off = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t &r = result[off + i];
      int64_t d = s[i];
      if (d == 1)
        continue;
      if (r == 1) {
        r = d;
        continue;
      }
      if (d == kDyn || r == kDyn) {
        // A dynamic dim against a known non-1 dim takes the known size.
        r = d == kDyn ? r : d;
        continue;
      }
      if (r != d) {
        std::string all;
        for (ArrayRef<int64_t> t : shapes)
          all += (all.empty() ? "" : ", ") + shapeStr(t);
        return emitOptionalError(loc, "shapes ", all,
                                 " are not broadcast-compatible");
      }
    }
  }
  return success();
}

bool mlir::iolite::isBroadcastableTo(ArrayRef<int64_t> from,
                                     ArrayRef<int64_t> to) {
  if (from.size() > to.size())
    return false;
  size_t off = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1 && !dimsCompatible(from[i], to[off + i]))
      return false;
  return true;
}

LogicalResult mlir::iolite::inferElementwiseOp(std::optional<Location> loc,
                                               TypeRange operands,
                                               Type elementType,
                                               SmallVectorImpl<Type> &results) {
  SmallVector<ArrayRef<int64_t>> shapes;
  for (Type t : operands) {
    auto rt = ranked(t);
    if (!rt)
      return emitOptionalError(loc, "operands must be ranked tensors");
    shapes.push_back(rt.getShape());
  }
  SmallVector<int64_t> shape;
  if (failed(inferBroadcastShape(loc, shapes, shape)))
    return failure();
  if (!elementType)
    elementType = cast<RankedTensorType>(operands.front()).getElementType();
  results.push_back(RankedTensorType::get(shape, elementType));
  return success();
}

LogicalResult mlir::iolite::inferSelectOp(std::optional<Location> loc,
                                          Type condition, Type onTrue,
                                          Type onFalse,
                                          SmallVectorImpl<Type> &results) {
  auto t = ranked(onTrue), f = ranked(onFalse);
  if (t.getElementType() != f.getElementType())
    return emitOptionalError(loc, "on_true and on_false element types differ: ",
                             t.getElementType(), " vs ", f.getElementType());
  return inferElementwiseOp(loc, {condition, onTrue, onFalse},
                            t.getElementType(), results);
}

LogicalResult mlir::iolite::inferSoftmaxOp(std::optional<Location> loc,
                                           Type input, int64_t axis,
                                           SmallVectorImpl<Type> &results) {
  auto t = ranked(input);
  if (t.getRank() == 0)
    return emitOptionalError(loc, "softmax needs a tensor of rank >= 1");
  if (failed(normalizeAxis(loc, axis, t.getRank())))
    return failure();
  results.push_back(t);
  return success();
}

LogicalResult mlir::iolite::inferReduceOp(std::optional<Location> loc,
                                          Type input, ArrayRef<int64_t> axes,
                                          bool keepDims,
                                          SmallVectorImpl<Type> &results) {
  auto t = ranked(input);
  llvm::SmallSet<int64_t, 4> seen;
  for (int64_t a : axes) {
    FailureOr<int64_t> n = normalizeAxis(loc, a, t.getRank());
    if (failed(n))
      return failure();
    if (!seen.insert(*n).second)
      return emitOptionalError(loc, "axis ", *n, " is reduced twice");
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < t.getRank(); ++i) {
    if (!seen.contains(i))
      shape.push_back(t.getDimSize(i));
    else if (keepDims)
      shape.push_back(1);
  }
  results.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}

LogicalResult mlir::iolite::inferRmsNormOp(std::optional<Location> loc,
                                           Type input, Type weight,
                                           float epsilon,
                                           SmallVectorImpl<Type> &results) {
  auto t = ranked(input);
  if (t.getRank() == 0)
    return emitOptionalError(loc, "rms_norm needs a tensor of rank >= 1");
  if (!(epsilon >= 0.0f))
    return emitOptionalError(loc, "epsilon must be >= 0, got ", epsilon);
  if (auto w = ranked(weight)) {
    if (failed(expectRank(loc, w, 1, "weight")) ||
        failed(expectDim(loc, w, 0, t.getShape().back(), "weight", "size")) ||
        failed(expectParamType(loc, w, t.getElementType(), "weight")))
      return failure();
  }
  results.push_back(t);
  return success();
}

LogicalResult mlir::iolite::inferLayerNormOp(std::optional<Location> loc,
                                             Type input, Type weight, Type bias,
                                             int64_t axis, float epsilon,
                                             SmallVectorImpl<Type> &results) {
  auto t = ranked(input);
  if (t.getRank() == 0)
    return emitOptionalError(loc, "layer_norm needs a tensor of rank >= 1");
  FailureOr<int64_t> a = normalizeAxis(loc, axis, t.getRank());
  if (failed(a))
    return failure();
  if (!(epsilon >= 0.0f))
    return emitOptionalError(loc, "epsilon must be >= 0, got ", epsilon);
  ArrayRef<int64_t> normShape = t.getShape().drop_front(*a);
  for (auto [param, name] : {std::pair{weight, "weight"}, {bias, "bias"}}) {
    auto p = ranked(param);
    if (!p)
      continue;
    if (p.getRank() != static_cast<int64_t>(normShape.size()) ||
        !llvm::all_of(llvm::zip(p.getShape(), normShape), [](auto pr) {
          return dimsCompatible(std::get<0>(pr), std::get<1>(pr));
        }))
      return emitOptionalError(loc, name, " shape ", shapeStr(p.getShape()),
                               " must equal the normalised shape ",
                               shapeStr(normShape));
    if (failed(expectParamType(loc, p, t.getElementType(), name)))
      return failure();
  }
  results.push_back(t);
  return success();
}

LogicalResult mlir::iolite::inferCumsumOp(std::optional<Location> loc,
                                          Type input, int64_t axis,
                                          SmallVectorImpl<Type> &results) {
  auto t = ranked(input);
  if (failed(normalizeAxis(loc, axis, t.getRank())))
    return failure();
  results.push_back(t);
  return success();
}

LogicalResult mlir::iolite::inferIotaOp(std::optional<Location> loc,
                                        Type source, int64_t axis,
                                        SmallVectorImpl<Type> &results) {
  auto t = ranked(source);
  FailureOr<int64_t> a = normalizeAxis(loc, axis, t.getRank());
  if (failed(a))
    return failure();
  results.push_back(RankedTensorType::get(
      {t.getDimSize(*a)}, IntegerType::get(t.getContext(), 64)));
  return success();
}

LogicalResult mlir::iolite::inferTopKOp(std::optional<Location> loc, Type input,
                                        int64_t k, int64_t axis,
                                        SmallVectorImpl<Type> &results) {
  auto t = ranked(input);
  FailureOr<int64_t> a = normalizeAxis(loc, axis, t.getRank());
  if (failed(a))
    return failure();
  int64_t n = t.getDimSize(*a);
  if (k < 1 || (n != kDyn && k > n))
    return emitOptionalError(loc, "k = ", k, " must be in [1, ", dimStr(n),
                             "]");
  SmallVector<int64_t> shape(t.getShape());
  shape[*a] = k;
  results.push_back(RankedTensorType::get(shape, t.getElementType()));
  results.push_back(
      RankedTensorType::get(shape, IntegerType::get(t.getContext(), 64)));
  return success();
}

LogicalResult mlir::iolite::inferTransposeOp(std::optional<Location> loc,
                                             Type input,
                                             ArrayRef<int64_t> permutation,
                                             SmallVectorImpl<Type> &results) {
  auto t = ranked(input);
  if (static_cast<int64_t>(permutation.size()) != t.getRank())
    return emitOptionalError(loc, "permutation has ", permutation.size(),
                             " entries but the input has rank ", t.getRank());
  SmallVector<bool> seen(t.getRank(), false);
  SmallVector<int64_t> shape;
  for (int64_t p : permutation) {
    if (p < 0 || p >= t.getRank() || seen[p])
      return emitOptionalError(loc, "permutation [", listStr(permutation),
                               "] is not a permutation of 0..",
                               t.getRank() - 1);
    seen[p] = true;
    shape.push_back(t.getDimSize(p));
  }
  results.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}

LogicalResult mlir::iolite::inferConcatOp(std::optional<Location> loc,
                                          TypeRange inputs, int64_t axis,
                                          SmallVectorImpl<Type> &results) {
  if (inputs.empty())
    return emitOptionalError(loc, "concat needs at least one input");
  auto first = ranked(inputs.front());
  FailureOr<int64_t> a = normalizeAxis(loc, axis, first.getRank());
  if (failed(a))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  for (auto [idx, type] : llvm::enumerate(inputs.drop_front())) {
    auto t = ranked(type);
    if (t.getRank() != first.getRank())
      return emitOptionalError(loc, "input ", idx + 1, " has rank ",
                               t.getRank(), " but input 0 has rank ",
                               first.getRank());
    for (int64_t i = 0; i < t.getRank(); ++i) {
      if (i == *a) {
        if (shape[i] == kDyn || t.getDimSize(i) == kDyn)
          shape[i] = kDyn;
        else if (__builtin_add_overflow(shape[i], t.getDimSize(i), &shape[i]))
          return emitOptionalError(loc, "the concatenated dim ", i,
                                   " overflows int64");
        continue;
      }
      if (!dimsCompatible(shape[i], t.getDimSize(i)))
        return emitOptionalError(
            loc, "input ", idx + 1, " has shape ", shapeStr(t.getShape()),
            " which differs from input 0 (", shapeStr(first.getShape()),
            ") outside the concat axis");
    }
  }
  results.push_back(RankedTensorType::get(shape, first.getElementType()));
  return success();
}

LogicalResult mlir::iolite::inferSliceOp(std::optional<Location> loc,
                                         Type input, ArrayRef<int64_t> starts,
                                         ArrayRef<int64_t> limits,
                                         ArrayRef<int64_t> strides,
                                         SmallVectorImpl<Type> &results) {
  auto t = ranked(input);
  int64_t rank = t.getRank();
  if (static_cast<int64_t>(starts.size()) != rank ||
      static_cast<int64_t>(limits.size()) != rank ||
      (!strides.empty() && static_cast<int64_t>(strides.size()) != rank))
    return emitOptionalError(loc, "starts, limits and strides need ", rank,
                             " entries each (the input rank)");
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t stride = strides.empty() ? 1 : strides[i];
    int64_t dim = t.getDimSize(i);
    if (stride < 1)
      return emitOptionalError(loc, "stride ", stride, " in dim ", i,
                               " must be >= 1");
    if (limits[i] == kSliceToEnd) {
      if (dim != kDyn)
        return emitOptionalError(loc, "slice of dim ", i, " (size ", dim,
                                 ") to its end: only dynamic dims are sliced "
                                 "to the end; give the limit ",
                                 dim);
      if (starts[i] < 0)
        return emitOptionalError(loc, "slice of dim ", i, " starts at ",
                                 starts[i]);
      shape.push_back(kDyn);
      continue;
    }
    if (starts[i] < 0 || starts[i] > limits[i] ||
        (dim != kDyn && limits[i] > dim))
      return emitOptionalError(loc, "slice [", starts[i], ", ", limits[i],
                               ") of dim ", i, " (size ", dimStr(dim),
                               ") is out of bounds");
    shape.push_back((limits[i] - starts[i] + stride - 1) / stride);
  }
  results.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}

LogicalResult mlir::iolite::inferGatherOp(std::optional<Location> loc,
                                          Type data, Type indices, int64_t axis,
                                          SmallVectorImpl<Type> &results) {
  auto d = ranked(data), i = ranked(indices);
  if (d.getRank() == 0)
    return emitOptionalError(loc, "gather needs data of rank >= 1");
  FailureOr<int64_t> a = normalizeAxis(loc, axis, d.getRank());
  if (failed(a))
    return failure();
  SmallVector<int64_t> shape(d.getShape().take_front(*a));
  llvm::append_range(shape, i.getShape());
  llvm::append_range(shape, d.getShape().drop_front(*a + 1));
  results.push_back(RankedTensorType::get(shape, d.getElementType()));
  return success();
}

LogicalResult mlir::iolite::verifyReshape(std::optional<Location> loc,
                                          Type input, Type result) {
  auto in = ranked(input), out = ranked(result);
  if (in.getElementType() != out.getElementType())
    return emitOptionalError(loc, "reshape cannot change the element type (",
                             in.getElementType(), " to ", out.getElementType(),
                             ")");
  if (in.hasStaticShape() && out.hasStaticShape() &&
      in.getNumElements() != out.getNumElements())
    return emitOptionalError(
        loc, "reshape from ", shapeStr(in.getShape()), " (",
        in.getNumElements(), " elements) to ", shapeStr(out.getShape()), " (",
        out.getNumElements(), " elements) changes the element count");
  return success();
}

LogicalResult mlir::iolite::verifyBroadcastTo(std::optional<Location> loc,
                                              Type input, Type result) {
  auto in = ranked(input), out = ranked(result);
  if (in.getElementType() != out.getElementType())
    return emitOptionalError(loc, "broadcast cannot change the element type");
  if (!isBroadcastableTo(in.getShape(), out.getShape()))
    return emitOptionalError(loc, "shape ", shapeStr(in.getShape()),
                             " does not broadcast to ",
                             shapeStr(out.getShape()));
  return success();
}

LogicalResult mlir::iolite::inferMatmulOp(std::optional<Location> loc, Type lhs,
                                          Type rhs, bool transposeLhs,
                                          bool transposeRhs,
                                          SmallVectorImpl<Type> &results) {
  auto a = ranked(lhs), b = ranked(rhs);
  if (a.getRank() < 2 || b.getRank() < 2)
    return emitOptionalError(loc, "matmul operands need rank >= 2, got ",
                             a.getRank(), " and ", b.getRank());
  int64_t m = a.getDimSize(a.getRank() - (transposeLhs ? 1 : 2));
  int64_t ka = a.getDimSize(a.getRank() - (transposeLhs ? 2 : 1));
  int64_t kb = b.getDimSize(b.getRank() - (transposeRhs ? 1 : 2));
  int64_t n = b.getDimSize(b.getRank() - (transposeRhs ? 2 : 1));
  if (!dimsCompatible(ka, kb))
    return emitOptionalError(loc, "contraction dims differ: lhs has ",
                             dimStr(ka), ", rhs has ", dimStr(kb));
  SmallVector<int64_t> batch;
  if (failed(inferBroadcastShape(
          loc, {a.getShape().drop_back(2), b.getShape().drop_back(2)}, batch)))
    return failure();
  batch.push_back(m);
  batch.push_back(n);
  results.push_back(RankedTensorType::get(batch, a.getElementType()));
  return success();
}

LogicalResult mlir::iolite::inferRotaryOp(std::optional<Location> loc,
                                          Type input, Type cos, Type sin,
                                          SmallVectorImpl<Type> &results) {
  auto x = ranked(input), c = ranked(cos), s = ranked(sin);
  if (x.getRank() < 2)
    return emitOptionalError(loc, "rotary input needs rank >= 2 ([..., S, D])");
  if (c.getShape() != s.getShape())
    return emitOptionalError(loc, "cos shape ", shapeStr(c.getShape()),
                             " differs from sin shape ",
                             shapeStr(s.getShape()));
  if (c.getRank() < 2 || c.getRank() > x.getRank())
    return emitOptionalError(loc, "cos/sin need rank in [2, ", x.getRank(),
                             "] ([..., S, R]), got ", c.getRank());
  int64_t r = c.getShape().back();
  int64_t d = x.getShape().back();
  if (r != kDyn && (r % 2 != 0 || r < 2))
    return emitOptionalError(loc, "rotary dim ", r, " must be even and >= 2");
  if (r != kDyn && d != kDyn && r > d)
    return emitOptionalError(loc, "rotary dim ", r, " exceeds the feature dim ",
                             d);
  SmallVector<int64_t> expect(x.getShape());
  expect.back() = r;
  if (!isBroadcastableTo(c.getShape(), expect))
    return emitOptionalError(loc, "cos/sin shape ", shapeStr(c.getShape()),
                             " does not broadcast to ", shapeStr(expect));
  results.push_back(x);
  return success();
}

LogicalResult mlir::iolite::inferAttentionOp(
    std::optional<Location> loc, Type query, Type key, Type value, Type mask,
    Type alibiSlopes, std::optional<float> scale, bool causal,
    std::optional<int64_t> window, std::optional<float> softcap,
    SmallVectorImpl<Type> &results) {
  auto q = ranked(query), k = ranked(key), v = ranked(value);
  if (failed(expectRank(loc, q, 4, "query")) ||
      failed(expectRank(loc, k, 4, "key")) ||
      failed(expectRank(loc, v, 4, "value")))
    return failure();
  Type et = q.getElementType();
  if (failed(expectSameElementType(loc, k, et, "key")) ||
      failed(expectSameElementType(loc, v, et, "value")))
    return failure();
  int64_t b = q.getDimSize(0), hq = q.getDimSize(1), sq = q.getDimSize(2),
          d = q.getDimSize(3);
  int64_t hkv = k.getDimSize(1), skv = k.getDimSize(2);
  if (failed(expectDim(loc, k, 0, b, "key", "batch")) ||
      failed(expectDim(loc, v, 0, b, "value", "batch")) ||
      failed(expectDim(loc, k, 3, d, "key", "head dim")) ||
      failed(expectDim(loc, v, 1, hkv, "value", "head count")) ||
      failed(expectDim(loc, v, 2, skv, "value", "sequence length")))
    return failure();
  if (hq != kDyn && hkv != kDyn && (hkv == 0 || hq % hkv != 0))
    return emitOptionalError(loc, "query heads (", hq,
                             ") must be a multiple of kv heads (", hkv, ")");
  if (auto m = ranked(mask)) {
    Type me = m.getElementType();
    if (!me.isInteger(1) && me != et)
      return emitOptionalError(loc, "mask must be i1 or ", et, ", got ", me);
    if (!isBroadcastableTo(m.getShape(), {b, hq, sq, skv}))
      return emitOptionalError(loc, "mask shape ", shapeStr(m.getShape()),
                               " does not broadcast to the scores shape ",
                               shapeStr({b, hq, sq, skv}));
  }
  if (auto s = ranked(alibiSlopes)) {
    if (failed(expectRank(loc, s, 1, "alibi_slopes")) ||
        failed(expectDim(loc, s, 0, hq, "alibi_slopes", "size")) ||
        failed(expectParamType(loc, s, et, "alibi_slopes")))
      return failure();
  }
  if (scale && !(*scale > 0.0f) && !(*scale < 0.0f))
    return emitOptionalError(loc, "scale must be finite and non-zero");
  if (softcap && !(*softcap > 0.0f))
    return emitOptionalError(loc, "softcap must be > 0, got ", *softcap);
  if (window) {
    if (*window < 1)
      return emitOptionalError(loc, "window must be >= 1, got ", *window);
    if (!causal)
      return emitOptionalError(loc, "a sliding window needs causal attention");
  }
  results.push_back(RankedTensorType::get({b, hq, sq, v.getDimSize(3)}, et));
  return success();
}

/// Checks the K/V caches of a serving op against the new tokens' `kvHeads`,
/// `headDim` and element type `et`, and the block table against `batch`:
/// contiguous caches are [batch, L, Hkv, D], page pools [N, P, Hkv, D].
/// Sets `capacity` to the tokens one sequence can hold (L, or M * P; dynamic
/// when unknown).
static LogicalResult checkKvCaches(std::optional<Location> loc,
                                   RankedTensorType kc, RankedTensorType vc,
                                   RankedTensorType table, int64_t batch,
                                   int64_t kvHeads, int64_t headDim, Type et,
                                   int64_t &capacity) {
  bool paged = table != nullptr;
  StringRef layout = paged ? "[N, P, Hkv, D]" : "[B, L, Hkv, D]";
  std::string kWhat = ("k_cache (" + layout + ")").str();
  std::string vWhat = ("v_cache (" + layout.drop_back(2) + "Dv])").str();
  if (failed(expectRank(loc, kc, 4, kWhat)) ||
      failed(expectRank(loc, vc, 4, vWhat)) ||
      failed(expectSameElementType(loc, kc, et, "k_cache")) ||
      failed(expectSameElementType(loc, vc, et, "v_cache")))
    return failure();
  StringRef rowsName = paged ? "page count" : "batch";
  StringRef lenName = paged ? "page size" : "length";
  if (failed(expectDim(loc, kc, 2, kvHeads, "k_cache", "kv heads")) ||
      failed(expectDim(loc, kc, 3, headDim, "k_cache", "head dim")) ||
      failed(expectDim(loc, vc, 0, kc.getDimSize(0), "v_cache", rowsName)) ||
      failed(expectDim(loc, vc, 1, kc.getDimSize(1), "v_cache", lenName)) ||
      failed(expectDim(loc, vc, 2, kc.getDimSize(2), "v_cache", "kv heads")))
    return failure();
  if (!paged) {
    if (failed(expectDim(loc, kc, 0, batch, "k_cache", "batch")))
      return failure();
    capacity = kc.getDimSize(1);
    return success();
  }
  if (failed(expectRank(loc, table, 2, "block_table ([B, M])")) ||
      failed(expectDim(loc, table, 0, batch, "block_table", "batch")))
    return failure();
  if (kc.getDimSize(1) == 0)
    return emitOptionalError(loc, "page size must be >= 1");
  int64_t pages = table.getDimSize(1), pageSize = kc.getDimSize(1);
  capacity = pages == kDyn || pageSize == kDyn ? kDyn : pages * pageSize;
  return success();
}

static LogicalResult expectSeqlens(std::optional<Location> loc,
                                   RankedTensorType t, int64_t size,
                                   StringRef what) {
  if (failed(expectRank(loc, t, 1, what)) ||
      failed(expectDim(loc, t, 0, size, what, "size")))
    return failure();
  return success();
}

LogicalResult mlir::iolite::inferKvCacheAppendOp(
    std::optional<Location> loc, Type kCache, Type vCache, Type key, Type value,
    Type cacheSeqlens, Type blockTable, SmallVectorImpl<Type> &results) {
  auto kc = ranked(kCache), vc = ranked(vCache), k = ranked(key),
       v = ranked(value), lens = ranked(cacheSeqlens),
       table = ranked(blockTable);
  if (failed(expectRank(loc, k, 4, "key ([B, S, Hkv, D])")) ||
      failed(expectRank(loc, v, 4, "value ([B, S, Hkv, Dv])")))
    return failure();
  Type et = k.getElementType();
  int64_t b = k.getDimSize(0), s = k.getDimSize(1), hkv = k.getDimSize(2);
  if (failed(expectSameElementType(loc, v, et, "value")) ||
      failed(expectDim(loc, v, 0, b, "value", "batch")) ||
      failed(expectDim(loc, v, 1, s, "value", "new tokens")) ||
      failed(expectDim(loc, v, 2, hkv, "value", "kv heads")) ||
      failed(expectSeqlens(loc, lens, b, "cache_seqlens")))
    return failure();
  int64_t capacity = kDyn;
  if (failed(checkKvCaches(loc, kc, vc, table, b, hkv, k.getDimSize(3), et,
                           capacity)) ||
      failed(expectDim(loc, vc, 3, v.getDimSize(3), "v_cache", "value dim")))
    return failure();
  results.push_back(kc);
  results.push_back(vc);
  return success();
}

static LogicalResult expectScale(std::optional<Location> loc,
                                 std::optional<float> scale) {
  if (scale && !(*scale > 0.0f) && !(*scale < 0.0f))
    return emitOptionalError(loc, "scale must be finite and non-zero");
  return success();
}

static LogicalResult expectGqa(std::optional<Location> loc, int64_t hq,
                               int64_t hkv) {
  if (hq != kDyn && hkv != kDyn && (hkv == 0 || hq % hkv != 0))
    return emitOptionalError(loc, "query heads (", hq,
                             ") must be a multiple of kv heads (", hkv, ")");
  return success();
}

LogicalResult
mlir::iolite::inferCacheAttentionOp(std::optional<Location> loc, Type query,
                                    Type kCache, Type vCache, Type cacheSeqlens,
                                    Type blockTable, std::optional<float> scale,
                                    SmallVectorImpl<Type> &results) {
  auto q = ranked(query), kc = ranked(kCache), vc = ranked(vCache),
       lens = ranked(cacheSeqlens), table = ranked(blockTable);
  if (failed(expectRank(loc, q, 4, "query ([B, Sq, Hq, D])")))
    return failure();
  Type et = q.getElementType();
  int64_t b = q.getDimSize(0), sq = q.getDimSize(1), hq = q.getDimSize(2);
  int64_t capacity = kDyn;
  if (failed(expectSeqlens(loc, lens, b, "cache_seqlens")) ||
      failed(checkKvCaches(loc, kc, vc, table, b, kDyn, q.getDimSize(3), et,
                           capacity)) ||
      failed(expectGqa(loc, hq, kc.getDimSize(2))) ||
      failed(expectScale(loc, scale)))
    return failure();
  results.push_back(RankedTensorType::get({b, sq, hq, vc.getDimSize(3)}, et));
  return success();
}

LogicalResult mlir::iolite::inferVarlenAttentionOp(
    std::optional<Location> loc, Type query, Type key, Type value,
    Type cuSeqlensQ, Type cuSeqlensK, std::optional<float> scale,
    std::optional<int64_t> maxSeqlenQ, std::optional<int64_t> maxSeqlenK,
    SmallVectorImpl<Type> &results) {
  auto q = ranked(query), k = ranked(key), v = ranked(value),
       cuq = ranked(cuSeqlensQ), cuk = ranked(cuSeqlensK);
  if (failed(expectRank(loc, q, 3, "query ([Tq, Hq, D])")) ||
      failed(expectRank(loc, k, 3, "key ([Tk, Hkv, D])")) ||
      failed(expectRank(loc, v, 3, "value ([Tk, Hkv, Dv])")))
    return failure();
  Type et = q.getElementType();
  if (failed(expectSameElementType(loc, k, et, "key")) ||
      failed(expectSameElementType(loc, v, et, "value")) ||
      failed(expectDim(loc, k, 2, q.getDimSize(2), "key", "head dim")) ||
      failed(expectDim(loc, v, 0, k.getDimSize(0), "value", "tokens")) ||
      failed(expectDim(loc, v, 1, k.getDimSize(1), "value", "kv heads")) ||
      failed(expectGqa(loc, q.getDimSize(1), k.getDimSize(1))) ||
      failed(expectRank(loc, cuq, 1, "cu_seqlens_q ([B+1])")) ||
      failed(expectSeqlens(loc, cuk, cuq.getDimSize(0), "cu_seqlens_k")) ||
      failed(expectScale(loc, scale)))
    return failure();
  if (cuq.getDimSize(0) == 0)
    return emitOptionalError(loc, "cu_seqlens_q must have B+1 >= 1 entries");
  for (auto [bound, name] :
       {std::pair{maxSeqlenQ, "max_seqlen_q"}, {maxSeqlenK, "max_seqlen_k"}})
    if (bound && *bound < 0)
      return emitOptionalError(loc, name, " must be >= 0, got ", *bound);
  results.push_back(RankedTensorType::get(
      {q.getDimSize(0), q.getDimSize(1), v.getDimSize(2)}, et));
  return success();
}

LogicalResult mlir::iolite::inferConv1dOp(std::optional<Location> loc,
                                          Type input, Type weight, Type bias,
                                          SmallVectorImpl<Type> &results) {
  auto x = ranked(input), w = ranked(weight);
  if (failed(expectRank(loc, x, 3, "input ([B, C, L])")) ||
      failed(expectRank(loc, w, 2, "weight ([C, K])")) ||
      failed(expectDim(loc, w, 0, x.getDimSize(1), "weight", "channels")) ||
      failed(expectParamType(loc, w, x.getElementType(), "weight")))
    return failure();
  if (w.getDimSize(1) == 0)
    return emitOptionalError(loc, "kernel width must be >= 1");
  if (auto bt = ranked(bias)) {
    if (failed(expectRank(loc, bt, 1, "bias")) ||
        failed(expectDim(loc, bt, 0, x.getDimSize(1), "bias", "size")) ||
        failed(expectParamType(loc, bt, x.getElementType(), "bias")))
      return failure();
  }
  results.push_back(x);
  return success();
}

LogicalResult
mlir::iolite::inferConv1dWithStateOp(std::optional<Location> loc, Type input,
                                     Type weight, Type state, Type bias,
                                     SmallVectorImpl<Type> &results) {
  if (failed(inferConv1dOp(loc, input, weight, bias, results)))
    return failure();
  auto x = ranked(input), w = ranked(weight), s = ranked(state);
  int64_t k = w.getDimSize(1);
  if (failed(expectRank(loc, s, 3, "state ([B, C, K-1])")) ||
      failed(expectDim(loc, s, 0, x.getDimSize(0), "state", "batch")) ||
      failed(expectDim(loc, s, 1, x.getDimSize(1), "state", "channels")) ||
      failed(
          expectDim(loc, s, 2, k == kDyn ? kDyn : k - 1, "state", "width")) ||
      failed(expectSameElementType(loc, s, x.getElementType(), "state")))
    return failure();
  results.push_back(s);
  return success();
}

LogicalResult
mlir::iolite::inferSelectiveScanOp(std::optional<Location> loc, Type uT,
                                   Type deltaT, Type aT, Type bT, Type cT,
                                   Type dT, Type zT, Type deltaBiasT,
                                   SmallVectorImpl<Type> &results) {
  auto u = ranked(uT), delta = ranked(deltaT), a = ranked(aT), b = ranked(bT),
       c = ranked(cT);
  if (failed(expectRank(loc, u, 3, "u ([B, D, L])")))
    return failure();
  Type et = u.getElementType();
  int64_t bs = u.getDimSize(0), dd = u.getDimSize(1), l = u.getDimSize(2);
  if (delta.getShape() != u.getShape() &&
      (delta.getRank() != 3 ||
       !llvm::all_of(llvm::zip(delta.getShape(), u.getShape()), [](auto p) {
         return dimsCompatible(std::get<0>(p), std::get<1>(p));
       })))
    return emitOptionalError(loc, "delta shape ", shapeStr(delta.getShape()),
                             " must equal u shape ", shapeStr(u.getShape()));
  if (failed(expectSameElementType(loc, delta, et, "delta")) ||
      failed(expectRank(loc, a, 2, "A ([D, N])")) ||
      failed(expectDim(loc, a, 0, dd, "A", "channels")) ||
      failed(expectParamType(loc, a, et, "A")))
    return failure();
  int64_t n = a.getDimSize(1);
  for (auto [t, name] : {std::pair{b, "B"}, {c, "C"}}) {
    if (failed(expectRank(loc, t, 3, name)) ||
        failed(expectDim(loc, t, 0, bs, name, "batch")) ||
        failed(expectDim(loc, t, 1, n, name, "state size")) ||
        failed(expectDim(loc, t, 2, l, name, "length")) ||
        failed(expectSameElementType(loc, t, et, name)))
      return failure();
  }
  if (auto d = ranked(dT)) {
    if (failed(expectRank(loc, d, 1, "D")) ||
        failed(expectDim(loc, d, 0, dd, "D", "size")) ||
        failed(expectParamType(loc, d, et, "D")))
      return failure();
  }
  if (auto db = ranked(deltaBiasT)) {
    if (failed(expectRank(loc, db, 1, "delta_bias")) ||
        failed(expectDim(loc, db, 0, dd, "delta_bias", "size")) ||
        failed(expectParamType(loc, db, et, "delta_bias")))
      return failure();
  }
  if (auto z = ranked(zT)) {
    if (failed(expectRank(loc, z, 3, "z")) ||
        failed(expectDim(loc, z, 0, bs, "z", "batch")) ||
        failed(expectDim(loc, z, 1, dd, "z", "channels")) ||
        failed(expectDim(loc, z, 2, l, "z", "length")) ||
        failed(expectSameElementType(loc, z, et, "z")))
      return failure();
  }
  results.push_back(u);
  return success();
}

LogicalResult mlir::iolite::inferSelectiveScanWithStateOp(
    std::optional<Location> loc, Type uT, Type deltaT, Type aT, Type bT,
    Type cT, Type stateT, Type dT, Type zT, Type deltaBiasT,
    SmallVectorImpl<Type> &results) {
  if (failed(inferSelectiveScanOp(loc, uT, deltaT, aT, bT, cT, dT, zT,
                                  deltaBiasT, results)))
    return failure();
  auto u = ranked(uT), a = ranked(aT), s = ranked(stateT);
  if (failed(expectRank(loc, s, 3, "state ([B, D, N])")) ||
      failed(expectDim(loc, s, 0, u.getDimSize(0), "state", "batch")) ||
      failed(expectDim(loc, s, 1, u.getDimSize(1), "state", "channels")) ||
      failed(expectDim(loc, s, 2, a.getDimSize(1), "state", "state size")))
    return failure();
  results.push_back(s);
  return success();
}

LogicalResult mlir::iolite::inferSsdOp(std::optional<Location> loc, Type xT,
                                       Type dtT, Type aT, Type bT, Type cT,
                                       Type dT, Type dtBiasT, int64_t chunkSize,
                                       SmallVectorImpl<Type> &results) {
  auto x = ranked(xT), dt = ranked(dtT), a = ranked(aT), b = ranked(bT),
       c = ranked(cT);
  if (failed(expectRank(loc, x, 4, "x ([B, L, H, P])")))
    return failure();
  Type et = x.getElementType();
  int64_t bs = x.getDimSize(0), l = x.getDimSize(1), h = x.getDimSize(2);
  if (failed(expectRank(loc, dt, 3, "dt ([B, L, H])")) ||
      failed(expectDim(loc, dt, 0, bs, "dt", "batch")) ||
      failed(expectDim(loc, dt, 1, l, "dt", "length")) ||
      failed(expectDim(loc, dt, 2, h, "dt", "heads")) ||
      failed(expectParamType(loc, dt, et, "dt")) ||
      failed(expectRank(loc, a, 1, "A ([H])")) ||
      failed(expectDim(loc, a, 0, h, "A", "size")) ||
      failed(expectParamType(loc, a, et, "A")) ||
      failed(expectRank(loc, b, 4, "B ([B, L, G, N])")))
    return failure();
  int64_t g = b.getDimSize(2), n = b.getDimSize(3);
  for (auto [t, name] : {std::pair{b, "B"}, {c, "C"}}) {
    if (failed(expectRank(loc, t, 4, name)) ||
        failed(expectDim(loc, t, 0, bs, name, "batch")) ||
        failed(expectDim(loc, t, 1, l, name, "length")) ||
        failed(expectDim(loc, t, 2, g, name, "groups")) ||
        failed(expectDim(loc, t, 3, n, name, "state size")) ||
        failed(expectSameElementType(loc, t, et, name)))
      return failure();
  }
  if (g != kDyn && h != kDyn && (g == 0 || h % g != 0))
    return emitOptionalError(loc, "heads (", h,
                             ") must be a multiple of B/C groups (", g, ")");
  for (auto [param, name] : {std::pair{dT, "D"}, {dtBiasT, "dt_bias"}}) {
    if (auto p = ranked(param)) {
      if (failed(expectRank(loc, p, 1, name)) ||
          failed(expectDim(loc, p, 0, h, name, "size")) ||
          failed(expectParamType(loc, p, et, name)))
        return failure();
    }
  }
  if (chunkSize < 1)
    return emitOptionalError(loc, "chunk_size must be >= 1, got ", chunkSize);
  results.push_back(x);
  return success();
}

LogicalResult mlir::iolite::inferSsdWithStateOp(
    std::optional<Location> loc, Type xT, Type dtT, Type aT, Type bT, Type cT,
    Type stateT, Type dT, Type dtBiasT, int64_t chunkSize,
    SmallVectorImpl<Type> &results) {
  if (failed(inferSsdOp(loc, xT, dtT, aT, bT, cT, dT, dtBiasT, chunkSize,
                        results)))
    return failure();
  auto x = ranked(xT), b = ranked(bT), s = ranked(stateT);
  if (failed(expectRank(loc, s, 4, "state ([B, H, P, N])")) ||
      failed(expectDim(loc, s, 0, x.getDimSize(0), "state", "batch")) ||
      failed(expectDim(loc, s, 1, x.getDimSize(2), "state", "heads")) ||
      failed(expectDim(loc, s, 2, x.getDimSize(3), "state", "head dim")) ||
      failed(expectDim(loc, s, 3, b.getDimSize(3), "state", "state size")))
    return failure();
  results.push_back(s);
  return success();
}

LogicalResult mlir::iolite::inferLongConvOp(std::optional<Location> loc,
                                            Type input, Type filter, Type dT,
                                            SmallVectorImpl<Type> &results) {
  auto x = ranked(input), f = ranked(filter);
  if (failed(expectRank(loc, x, 3, "input ([B, C, L])")) ||
      failed(expectRank(loc, f, 2, "filter ([C, K])")) ||
      failed(expectDim(loc, f, 0, x.getDimSize(1), "filter", "channels")) ||
      failed(expectParamType(loc, f, x.getElementType(), "filter")))
    return failure();
  int64_t k = f.getDimSize(1), l = x.getDimSize(2);
  if (k != kDyn && l != kDyn && k > l)
    return emitOptionalError(loc, "filter length ", k,
                             " exceeds the sequence length ", l);
  if (auto d = ranked(dT)) {
    if (failed(expectRank(loc, d, 1, "D")) ||
        failed(expectDim(loc, d, 0, x.getDimSize(1), "D", "size")) ||
        failed(expectParamType(loc, d, x.getElementType(), "D")))
      return failure();
  }
  results.push_back(x);
  return success();
}

LogicalResult mlir::iolite::inferRouterOp(std::optional<Location> loc,
                                          Type logits, int64_t k,
                                          SmallVectorImpl<Type> &results) {
  auto l = ranked(logits);
  if (failed(expectRank(loc, l, 2, "logits ([T, E])")))
    return failure();
  int64_t e = l.getDimSize(1);
  if (k < 1 || (e != kDyn && k > e))
    return emitOptionalError(loc, "k = ", k, " must be in [1, ", dimStr(e),
                             "] (the number of experts)");
  int64_t t = l.getDimSize(0);
  results.push_back(RankedTensorType::get({t, k}, l.getElementType()));
  results.push_back(
      RankedTensorType::get({t, k}, IntegerType::get(l.getContext(), 32)));
  return success();
}

LogicalResult mlir::iolite::inferDispatchOp(std::optional<Location> loc,
                                            Type input, Type expertIds,
                                            int64_t numExperts,
                                            SmallVectorImpl<Type> &results) {
  auto x = ranked(input), ids = ranked(expertIds);
  if (failed(expectRank(loc, x, 2, "input ([T, D])")) ||
      failed(expectRank(loc, ids, 2, "expert_ids ([T, k])")) ||
      failed(expectDim(loc, ids, 0, x.getDimSize(0), "expert_ids", "tokens")))
    return failure();
  if (numExperts < 1)
    return emitOptionalError(loc, "num_experts must be >= 1, got ", numExperts);
  int64_t t = x.getDimSize(0), k = ids.getDimSize(1);
  int64_t rows = (t == kDyn || k == kDyn) ? kDyn : t * k;
  Type i32 = IntegerType::get(x.getContext(), 32);
  results.push_back(
      RankedTensorType::get({rows, x.getDimSize(1)}, x.getElementType()));
  results.push_back(RankedTensorType::get({rows}, i32));
  results.push_back(RankedTensorType::get({numExperts + 1}, i32));
  return success();
}

LogicalResult
mlir::iolite::inferGroupedMatmulOp(std::optional<Location> loc, Type input,
                                   Type weight, Type offsets, bool transposeRhs,
                                   SmallVectorImpl<Type> &results) {
  auto x = ranked(input), w = ranked(weight), o = ranked(offsets);
  if (failed(expectRank(loc, x, 2, "input ([R, K])")) ||
      failed(expectRank(loc, w, 3, "weight ([E, K, N])")) ||
      failed(expectRank(loc, o, 1, "offsets ([E + 1])")) ||
      failed(expectSameElementType(loc, w, x.getElementType(), "weight")))
    return failure();
  int64_t e = w.getDimSize(0);
  int64_t k = w.getDimSize(transposeRhs ? 2 : 1);
  int64_t n = w.getDimSize(transposeRhs ? 1 : 2);
  if (failed(expectDim(loc, x, 1, k, "input", "contraction dim")) ||
      failed(expectDim(loc, o, 0, e == kDyn ? kDyn : e + 1, "offsets", "size")))
    return failure();
  results.push_back(
      RankedTensorType::get({x.getDimSize(0), n}, x.getElementType()));
  return success();
}

LogicalResult mlir::iolite::inferCombineOp(std::optional<Location> loc,
                                           Type input, Type rowIndex,
                                           Type weights,
                                           SmallVectorImpl<Type> &results) {
  auto x = ranked(input), r = ranked(rowIndex), w = ranked(weights);
  if (failed(expectRank(loc, x, 2, "input ([T*k, N])")) ||
      failed(expectRank(loc, r, 1, "row_index ([T*k])")) ||
      failed(expectRank(loc, w, 2, "weights ([T, k])")) ||
      failed(expectDim(loc, r, 0, x.getDimSize(0), "row_index", "size")))
    return failure();
  int64_t t = w.getDimSize(0), k = w.getDimSize(1);
  int64_t rows = (t == kDyn || k == kDyn) ? kDyn : t * k;
  if (failed(expectDim(loc, x, 0, rows, "input", "rows (T*k)")))
    return failure();
  results.push_back(
      RankedTensorType::get({t, x.getDimSize(1)}, x.getElementType()));
  return success();
}
