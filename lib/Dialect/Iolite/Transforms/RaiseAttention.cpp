//===- RaiseAttention.cpp - matmul/softmax/matmul to iolite.attention -----===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The anchor is the final matmul(P, V). Walking up from it: casts, the
// softmax, the chain of scale and mask ops between the softmax and the
// scores, and the scores matmul(Q, K^T). Q, K and V are then peeled of the
// transposes, scalar scales and GQA repeats around them. Every step checks
// the math it assumes; a candidate that fails a check is left alone and the
// reason goes to the control's onNearMiss.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/IR/TypeInference.h"
#include "iolite/Dialect/Iolite/Transforms/Passes.h"
#include "iolite/Dialect/Iolite/Transforms/Remarks.h"
#include "iolite/Dialect/Iolite/Transforms/Transforms.h"

#include "MatchUtils.h"

#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include <cmath>

namespace mlir {
namespace iolite {
#define GEN_PASS_DEF_IOLITERAISEATTENTIONPASS
#include "iolite/Dialect/Iolite/Transforms/Passes.h.inc"
} // namespace iolite
} // namespace mlir

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::raising;

static constexpr StringLiteral kRewrite = "attention";
/// A finite fill at or below this excludes a key: exp(fill - max) is 0 in
/// f32 for any score within 1e4 - 104 of the row maximum.
static constexpr double kExclusionThreshold = -1.0e4;
/// Constant masks up to this many elements are folded and checked for the
/// causal form; larger ones are evaluated lazily from operands of up to
/// kMaxCausalLeafElements, up to kMaxCausalLazyElements in all (a 16k x 16k
/// plane).
static constexpr int64_t kMaxCausalCheckElements = int64_t(1) << 22;
static constexpr int64_t kMaxCausalLeafElements = int64_t(1) << 20;
static constexpr int64_t kMaxCausalLazyElements = int64_t(1) << 28;

namespace {

/// A mask between the scores and the softmax, in program order.
struct MaskTerm {
  /// An additive float mask, or an i1 mask where true keeps the key.
  Value value;
  bool isBool = false;
  /// For a bool mask: true keeps the key where `value` is false.
  bool inverted = false;
  /// For a float mask: the product of the scales applied after it.
  double scale = 1.0;
  Operation *op = nullptr;
};

/// Q, K or V with the ops around it peeled.
struct Peeled {
  /// The peeled operand; null while `pendingSource` stands for it.
  Value value;
  /// A rank-5 [B, Hkv, 1, X, Y] value whose reshape to `type` is the peeled
  /// operand; built only once the rewrite is sure to happen.
  Value pendingSource;
  RankedTensorType type;
  /// The last two dims are swapped with respect to the layout the attention
  /// op wants ([.., S, D]).
  bool swapped = false;
  double scale = 1.0;
  /// The GQA repeat peeled (1: none) and the operand before it was peeled.
  int64_t repeat = 1;
  Value beforeRepeat;
  bool swappedBeforeRepeat = false;
  double scaleBeforeRepeat = 1.0;
};

bool isLastTwoSwap(ArrayRef<int64_t> perm) {
  int64_t r = perm.size();
  if (r < 2)
    return false;
  for (int64_t i = 0; i < r - 2; ++i)
    if (perm[i] != i)
      return false;
  return perm[r - 2] == r - 1 && perm[r - 1] == r - 2;
}

/// Matches the GQA repeat `reshape(broadcast(x : [B,H,1,X,Y] ->
/// [B,H,n,X,Y]) -> [B,H*n,X,Y])` and returns the rank-5 `x` and `n`.
std::optional<std::pair<Value, int64_t>> matchExpandRepeat(Value v) {
  auto reshape = v.getDefiningOp<ReshapeOp>();
  if (!reshape)
    return std::nullopt;
  auto bcast = reshape.getInput().getDefiningOp<BroadcastOp>();
  if (!bcast)
    return std::nullopt;
  auto out = dyn_cast<RankedTensorType>(v.getType());
  auto wide = bcast.getType();
  auto src = bcast.getInput().getType();
  if (!out || out.getRank() != 4 || wide.getRank() != 5 || src.getRank() != 5)
    return std::nullopt;
  ArrayRef<int64_t> o = out.getShape(), w = wide.getShape(), s = src.getShape();
  // Batch and sequence may be symbolic (equal `?` dims are one size: the
  // graph pipeline proved the shapes); the head counts must be static.
  if (ShapedType::isDynamic(o[1]) || ShapedType::isDynamic(w[1]) ||
      ShapedType::isDynamic(w[2]))
    return std::nullopt;
  // kv-major: head h = kv * n + r, so kv = h / n as iolite.attention reads.
  if (s[2] != 1 || s[0] != w[0] || s[1] != w[1] || s[3] != w[3] ||
      s[4] != w[4] || o[0] != w[0] || o[1] != w[1] * w[2] || o[2] != w[3] ||
      o[3] != w[4])
    return std::nullopt;
  return std::make_pair(bcast.getInput(), w[2]);
}

/// A GQA repeat of a [B, Hkv, X, Y] value: the value, or the rank-5 value
/// whose reshape gives it, and the repeat factor.
struct HeadRepeat {
  Value kv;
  Value source5;
  RankedTensorType kvType;
  int64_t n;
};

/// Matches a GQA repeat. Recognises the unsqueeze/expand/reshape form and
/// the per-head concat of it that torch's repeat_interleave exports.
std::optional<HeadRepeat> matchHeadRepeat(Value v) {
  if (auto m = matchExpandRepeat(v)) {
    auto [src5, n] = *m;
    auto s = cast<RankedTensorType>(src5.getType());
    auto kvType = RankedTensorType::get(
        {s.getDimSize(0), s.getDimSize(1), s.getDimSize(3), s.getDimSize(4)},
        s.getElementType());
    if (auto inner = src5.getDefiningOp<ReshapeOp>())
      if (inner.getInput().getType() == kvType)
        return HeadRepeat{inner.getInput(), Value(), kvType, n};
    return HeadRepeat{Value(), src5, kvType, n};
  }
  auto concat = v.getDefiningOp<ConcatOp>();
  if (!concat || concat.getType().getRank() != 4)
    return std::nullopt;
  // I64Attr getters return the bits unsigned.
  int64_t axis = static_cast<int64_t>(concat.getAxis());
  axis = axis < 0 ? axis + 4 : axis;
  if (axis != 1)
    return std::nullopt;
  Value source;
  int64_t n = 0;
  for (auto [i, part] : llvm::enumerate(concat.getInputs())) {
    auto m = matchExpandRepeat(part);
    if (!m)
      return std::nullopt;
    auto inner = m->first.getDefiningOp<ReshapeOp>();
    auto slice = inner ? inner.getInput().getDefiningOp<SliceOp>() : SliceOp();
    if (!slice || slice.getType().getRank() != 4)
      return std::nullopt;
    auto in = slice.getInput().getType();
    ArrayRef<int64_t> st = slice.getStarts(), li = slice.getLimits();
    bool unitStride =
        !slice.getStrides() ||
        llvm::all_of(*slice.getStrides(), [](int64_t s) { return s == 1; });
    int64_t hi = static_cast<int64_t>(i);
    if (!unitStride || st[0] != 0 || st[2] != 0 || st[3] != 0 || st[1] != hi ||
        li[1] != hi + 1 || li[0] != in.getDimSize(0) ||
        li[2] != in.getDimSize(2) || li[3] != in.getDimSize(3))
      return std::nullopt;
    if (i == 0) {
      source = slice.getInput();
      n = m->second;
    } else if (slice.getInput() != source || m->second != n) {
      return std::nullopt;
    }
  }
  if (!source || cast<RankedTensorType>(source.getType()).getDimSize(1) !=
                     static_cast<int64_t>(concat.getInputs().size()))
    return std::nullopt;
  return HeadRepeat{source, Value(), cast<RankedTensorType>(source.getType()),
                    n};
}

/// Peels transposes of the last two dims, scalar scales (when allowed) and
/// one GQA repeat (when allowed) off `v`. Builds nothing and erases nothing:
/// the peeled ops may have other users.
Peeled peel(Value v, bool swapped, bool allowScale, bool allowRepeat) {
  Peeled p;
  p.value = v;
  p.type = cast<RankedTensorType>(v.getType());
  p.swapped = swapped;
  auto snapshot = [&] {
    p.beforeRepeat = p.value;
    p.swappedBeforeRepeat = p.swapped;
    p.scaleBeforeRepeat = p.scale;
  };
  snapshot();
  for (int step = 0; step < 16 && p.value; ++step) {
    Operation *def = p.value.getDefiningOp();
    if (auto t = dyn_cast_or_null<TransposeOp>(def);
        t && isLastTwoSwap(t.getPermutation())) {
      p.value = t.getInput();
      p.type = t.getInput().getType();
      p.swapped = !p.swapped;
      continue;
    }
    if (allowScale && isa_and_nonnull<MulOp>(def)) {
      Value other;
      double c = 0;
      bool matched = matchOperands(def, true, [&](Value a, Value b) {
        std::optional<double> k = getUniformConstant(b);
        if (!k || a.getType() != def->getResult(0).getType())
          return false;
        other = a;
        c = *k;
        return true;
      });
      if (matched) {
        p.value = other;
        p.scale *= c;
        continue;
      }
    }
    if (allowRepeat && p.repeat == 1) {
      if (std::optional<HeadRepeat> m = matchHeadRepeat(p.value)) {
        snapshot();
        p.value = m->kv;
        p.pendingSource = m->source5;
        p.type = m->kvType;
        p.repeat = m->n;
        continue;
      }
    }
    break;
  }
  if (p.repeat == 1)
    snapshot();
  return p;
}

/// The peeled operand, building the reshape a repeat match deferred.
Value materialize(RewriterBase &rewriter, Peeled &p) {
  if (!p.value)
    p.value = ReshapeOp::create(rewriter, p.pendingSource.getLoc(), p.type,
                                p.pendingSource);
  return p.value;
}

/// True when `v` is computed from a matmul through the ops that may sit
/// between the scores and the softmax.
bool reachesMatmul(Value v, unsigned depth = 10) {
  Operation *def = v.getDefiningOp();
  if (!def || depth == 0)
    return false;
  if (isa<MatmulOp>(def))
    return true;
  if (!isa<CastOp, MulOp, DivOp, AddOp, SubOp, SelectOp, TanhOp>(def))
    return false;
  return llvm::any_of(def->getOperands(),
                      [&](Value o) { return reachesMatmul(o, depth - 1); });
}

/// Checks a constant mask against the causal pattern over the last two dims
/// (key j visible to query i iff j <= i + Skv - Sq), the same for every
/// leading index. `keepValue(x)` tells whether element value x keeps a key;
/// it returns nullopt for values that are neither keep nor drop.
bool isCausalConstant(Value mask, int64_t sq, int64_t skv,
                      llvm::function_ref<std::optional<bool>(double)> keep) {
  auto type = dyn_cast<RankedTensorType>(mask.getType());
  if (!type || !type.hasStaticShape() || type.getRank() < 2 ||
      type.getDimSize(type.getRank() - 2) != sq ||
      type.getShape().back() != skv)
    return false;
  int64_t offset = skv - sq;
  if (std::optional<ConstantTensor> t =
          foldToConstantTensor(mask, kMaxCausalCheckElements)) {
    int64_t plane = sq * skv;
    for (size_t flat = 0; flat < t->values.size(); ++flat) {
      int64_t inPlane = static_cast<int64_t>(flat) % plane;
      int64_t i = inPlane / skv, j = inPlane % skv;
      std::optional<bool> k = keep(t->values[flat]);
      if (!k || *k != (j <= i + offset))
        return false;
    }
    return true;
  }
  // Too large to fold (long sequences): evaluate it element by element from
  // the small operands it is computed from, e.g. compare(row ids, col ids).
  if (type.getNumElements() > kMaxCausalLazyElements)
    return false;
  std::optional<LazyConstantTensor> lazy =
      LazyConstantTensor::build(mask, kMaxCausalLeafElements);
  if (!lazy)
    return false;
  ArrayRef<int64_t> shape = type.getShape();
  SmallVector<int64_t> index(shape.size(), 0);
  size_t rank = shape.size();
  while (true) {
    int64_t i = index[rank - 2], j = index[rank - 1];
    std::optional<bool> k = keep(lazy->at(index));
    if (!k || *k != (j <= i + offset))
      return false;
    size_t d = rank;
    while (d > 0 && ++index[d - 1] == shape[d - 1])
      index[--d] = 0;
    if (d == 0)
      return true;
  }
}

/// Checks a mask built from positions (iota, compare, select; see
/// AffineIndex) against the causal pattern at every size: key j is kept for
/// query i exactly where j <= i + Skv - Sq, on every leading index. With
/// symbolic lengths, Sq = Skv must follow from both positions running over
/// the same iota source dim.
/// Whether an additive mask value `x` (times the scales after it) keeps a
/// key (0), drops it (at or below the exclusion threshold), or neither.
std::optional<bool> floatMaskKeeps(double x, double scale) {
  double y = x * scale;
  if (y == 0.0)
    return true;
  if (y <= kExclusionThreshold)
    return false;
  return std::nullopt;
}

bool isCausalAffine(const MaskTerm &m, RankedTensorType scoresType) {
  auto maskType = dyn_cast<RankedTensorType>(m.value.getType());
  if (!maskType || maskType.getRank() > scoresType.getRank())
    return false;
  std::optional<AffineIndex> keep;
  bool inverted = m.inverted;
  if (m.isBool) {
    keep = matchAffinePredicate(m.value);
  } else {
    // An additive mask select(cond, a, b) with uniform a and b, one of
    // which keeps a key (0) and the other drops it.
    auto sel = m.value.getDefiningOp<SelectOp>();
    if (!sel)
      return false;
    std::optional<double> a = getUniformConstant(sel.getOnTrue()),
                          b = getUniformConstant(sel.getOnFalse());
    if (!a || !b)
      return false;
    std::optional<bool> ka = floatMaskKeeps(*a, m.scale),
                        kb = floatMaskKeeps(*b, m.scale);
    if (!ka || !kb || *ka == *kb)
      return false;
    inverted = !*ka;
    keep = matchAffinePredicate(sel.getCondition());
    if (keep)
      *keep = broadcastAffineIndex(
          *keep,
          cast<RankedTensorType>(sel.getCondition().getType()).getShape(),
          maskType.getShape());
  }
  if (!keep)
    return false;
  if (inverted) {
    // not (f >= 0) is -f - 1 >= 0 on integers.
    for (int64_t &c : keep->coef)
      c = -c;
    keep->offset = -keep->offset - 1;
  }
  ArrayRef<int64_t> shape = scoresType.getShape();
  AffineIndex f =
      broadcastAffineIndex(*keep, maskType.getShape(), scoresType.getShape());
  size_t rank = shape.size();
  for (size_t d = 0; d + 2 < rank; ++d)
    if (f.coef[d] != 0)
      return false;
  // keep iff a*i - a*j + offset >= 0, i.e. j <= i + floor(offset / a).
  int64_t a = f.coef[rank - 2];
  if (a <= 0 || f.coef[rank - 1] != -a)
    return false;
  int64_t sq = shape[rank - 2], skv = shape[rank - 1], shift;
  if (!ShapedType::isDynamic(sq) && !ShapedType::isDynamic(skv))
    shift = skv - sq;
  else if (f.extent[rank - 2] == f.extent[rank - 1])
    shift = 0;
  else
    return false;
  return f.offset >= a * shift && f.offset < a * shift + a;
}

std::string typeStr(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

} // namespace

FailureOr<AttentionOp> mlir::iolite::raiseAttention(RewriterBase &rewriter,
                                                    MatmulOp pv,
                                                    const RaisingControl &ctl) {
  // P through float casts must be a softmax: that makes pv a candidate.
  SmallVector<Operation *> probOps;
  Value p = pv.getLhs();
  while (auto c = p.getDefiningOp<CastOp>()) {
    if (!isa<FloatType>(c.getType().getElementType()) ||
        !isa<FloatType>(c.getInput().getType().getElementType()))
      break;
    probOps.push_back(c);
    p = c.getInput();
  }
  auto softmax = p.getDefiningOp<SoftmaxOp>();
  if (!softmax)
    return failure();
  auto miss = [&](const Twine &why) -> FailureOr<AttentionOp> {
    ctl.nearMiss(pv, kRewrite, why);
    return failure();
  };

  auto scoresType = softmax.getType();
  int64_t rank = scoresType.getRank();
  if (rank != 3 && rank != 4)
    return miss("the scores have rank " + Twine(rank) + "; expected 3 or 4");
  // Symbolic batch and sequence dims are fine (the graph pipeline proved
  // that equal `?` dims are one size); a rank-3 graph folds the heads into
  // its batch dim, which must then be static to be split.
  if (rank == 3 && !scoresType.hasStaticShape())
    return miss("the rank-3 scores have a dynamic shape (heads folded into "
                "a symbolic batch cannot be split)");
  int64_t axis = static_cast<int64_t>(softmax.getAxis());
  axis = axis < 0 ? axis + rank : axis;
  if (axis != rank - 1)
    return miss("the softmax is over axis " + Twine(axis) +
                ", not the key axis " + Twine(rank - 1));
  if (pv.getTransposeLhs())
    return miss("the probabilities enter the output matmul transposed");
  probOps.push_back(softmax);
  for (Operation *op : probOps)
    if (!op->hasOneUse())
      return miss("the attention probabilities are also used by another op ('" +
                  (*op->getUsers().begin())->getName().getStringRef() +
                  "'); raising would drop them");

  // Walk from the softmax input up to the scores matmul.
  SmallVector<Operation *> chain;
  SmallVector<std::pair<Operation *, double>> scales;
  SmallVector<MaskTerm> masks;
  Value cur = softmax.getInput();
  MatmulOp qk;
  ArrayRef<int64_t> scoresShape = scoresType.getShape();
  while (true) {
    Operation *def = cur.getDefiningOp();
    if (!def)
      return miss("the softmax input is not computed from a Q.K^T matmul");
    if (auto mm = dyn_cast<MatmulOp>(def)) {
      qk = mm;
      break;
    }
    if (def->getBlock() != pv->getBlock())
      return miss("the scores are computed in another block");
    if (chain.size() >= 12)
      return miss("more than 12 ops between the scores and the softmax");
    if (!def->hasOneUse())
      return miss("the scores after '" + def->getName().getStringRef() +
                  "' are also used by another op; raising would drop them");
    auto resultType = dyn_cast<RankedTensorType>(def->getResult(0).getType());
    if (!resultType || resultType.getShape() != scoresShape)
      return miss("'" + def->getName().getStringRef() +
                  "' changes the scores shape");
    chain.push_back(def);
    if (auto c = dyn_cast<CastOp>(def)) {
      if (!isa<FloatType>(c.getInput().getType().getElementType()))
        return miss("the scores are cast from a non-float type");
      cur = c.getInput();
      continue;
    }
    if (isa<MulOp>(def)) {
      Value score;
      double c = 0;
      bool scaled = matchOperands(def, true, [&](Value a, Value b) {
        std::optional<double> k = getUniformConstant(b);
        if (!k)
          return false;
        score = a;
        c = *k;
        return true;
      });
      if (!scaled)
        return miss("the scores are multiplied by a non-uniform tensor, not "
                    "a scale");
      scales.push_back({def, c});
      cur = score;
      continue;
    }
    if (auto div = dyn_cast<DivOp>(def)) {
      std::optional<double> c = getUniformConstant(div.getRhs());
      if (!c)
        return miss("the scores are divided by a non-uniform tensor, not a "
                    "scale");
      if (*c == 0.0)
        return miss("the scores are divided by zero");
      scales.push_back({def, 1.0 / *c});
      cur = div.getLhs();
      continue;
    }
    if (auto add = dyn_cast<AddOp>(def)) {
      bool l = reachesMatmul(add.getLhs()), r = reachesMatmul(add.getRhs());
      if (l == r)
        return miss("cannot tell the scores from the mask in an add");
      Value mask = l ? add.getRhs() : add.getLhs();
      if (!isa<FloatType>(getElementTypeOrSelf(mask.getType())))
        return miss("the additive mask is not a float tensor");
      masks.push_back({mask, false, false, 1.0, def});
      cur = l ? add.getLhs() : add.getRhs();
      continue;
    }
    if (auto sel = dyn_cast<SelectOp>(def)) {
      bool t = reachesMatmul(sel.getOnTrue()),
           f = reachesMatmul(sel.getOnFalse());
      if (t == f)
        return miss("cannot tell the scores from the fill in a select");
      Value fill = t ? sel.getOnFalse() : sel.getOnTrue();
      std::optional<double> fv = getUniformConstant(fill);
      if (!fv)
        return miss("the select mask fills with a non-uniform tensor");
      if (!(*fv <= kExclusionThreshold))
        return miss("the select mask fills with " + numStr(*fv) +
                    ", which does not exclude keys (needs -inf or <= -1e4)");
      masks.push_back({sel.getCondition(), true, /*inverted=*/!t, 1.0, def});
      cur = t ? sel.getOnTrue() : sel.getOnFalse();
      continue;
    }
    return miss("'" + def->getName().getStringRef() +
                "' between the scores matmul and the softmax is not a scale "
                "or a mask");
  }
  if (qk.getType().getShape() != scoresShape)
    return miss("a mask or scale broadcasts the raw scores to a wider shape");
  if (qk->getBlock() != pv->getBlock())
    return miss("the scores are computed in another block");
  if (!qk->hasOneUse())
    return miss("the raw scores are also used by another op");
  if (qk.getTransposeLhs())
    return miss("the queries enter the scores matmul transposed");
  // The walk ran from the softmax backwards; the scales after a float mask
  // scale that mask too.
  std::reverse(chain.begin(), chain.end());
  double scale = 1.0;
  for (MaskTerm &m : masks) {
    for (auto [op, c] : scales)
      if (!m.isBool && m.op->isBeforeInBlock(op))
        m.scale *= c;
    if (m.isBool) {
      for (auto [op, c] : scales)
        if (m.op->isBeforeInBlock(op) && !(c > 0))
          return miss("a non-positive scale after a select mask would turn "
                      "its fill into a non-excluding value");
    }
  }
  for (auto [op, c] : scales)
    scale *= c;

  // Peel Q, K and V.
  Peeled q = peel(qk.getLhs(), /*swapped=*/false, /*allowScale=*/true,
                  /*allowRepeat=*/false);
  Peeled k = peel(qk.getRhs(), /*swapped=*/!qk.getTransposeRhs(),
                  /*allowScale=*/true, /*allowRepeat=*/rank == 4);
  Peeled v = peel(pv.getRhs(), /*swapped=*/pv.getTransposeRhs(),
                  /*allowScale=*/false, /*allowRepeat=*/rank == 4);
  scale *= q.scale;
  // K and V must agree on kv heads; fall back to the materialised repeat.
  if (k.repeat != v.repeat) {
    for (Peeled *x : {&k, &v}) {
      x->value = x->beforeRepeat;
      x->pendingSource = Value();
      x->type = cast<RankedTensorType>(x->beforeRepeat.getType());
      x->swapped = x->swappedBeforeRepeat;
      x->scale = x->scaleBeforeRepeat;
      x->repeat = 1;
    }
  }
  scale *= k.scale;
  if (!std::isfinite(scale) || scale == 0.0)
    return miss("the combined scale " + numStr(scale) +
                " is not finite and non-zero");

  RankedTensorType qType = q.type, kType = k.type, vType = v.type;
  if (qType.getRank() != rank || kType.getRank() != rank ||
      vType.getRank() != rank)
    return miss("query, key and value do not all have the scores' rank " +
                Twine(rank) + " (batch dims broadcast in a matmul)");
  // The head dim (the last, or the one before it when the operand is
  // still swapped) and the head count must be static.
  for (auto [t, swapped] :
       {std::pair{qType, q.swapped}, {kType, k.swapped}, {vType, v.swapped}})
    if (t.isDynamicDim(swapped ? rank - 2 : rank - 1) ||
        (rank == 4 && t.isDynamicDim(1)) || (rank == 3 && !t.hasStaticShape()))
      return miss("query, key or value has a dynamic head count or head "
                  "dim");
  Type et = qType.getElementType();
  if (kType.getElementType() != et || vType.getElementType() != et ||
      pv.getType().getElementType() != et)
    return miss("element types differ (query " + typeStr(et) + ", key " +
                typeStr(kType.getElementType()) + ", value " +
                typeStr(vType.getElementType()) + ", result " +
                typeStr(pv.getType().getElementType()) + ")");

  // Head and batch layout. Rank-3 graphs fold batch and heads into dim 0.
  int64_t batchDims = rank - 2;
  auto dimsOf = [&](RankedTensorType t) {
    return t.getShape().take_front(batchDims);
  };
  ArrayRef<int64_t> qb = dimsOf(qType), kb = dimsOf(kType), vb = dimsOf(vType);
  int64_t headAxis = batchDims - 1;
  for (int64_t d = 0; d < headAxis; ++d)
    if (kb[d] != qb[d] || vb[d] != qb[d])
      return miss("the key/value batch " + Twine(kb[d]) +
                  " broadcasts to the query batch " + Twine(qb[d]));
  int64_t hq = qb[headAxis], hk = kb[headAxis], hv = vb[headAxis];
  if (hk != hv)
    return miss("key and value have different head counts (" + Twine(hk) +
                " and " + Twine(hv) + ")");
  if (hk != hq) {
    bool peeledGqa = k.repeat > 1 && hk * k.repeat == hq;
    bool mqaBroadcast = hk == 1;
    if (!peeledGqa && !mqaBroadcast)
      return miss("query heads " + Twine(hq) + " and kv heads " + Twine(hk) +
                  " are not related by a kv-major repeat");
  }

  // Masks: fold constant causal masks into `causal`, combine the rest.
  int64_t sq = scoresShape[rank - 2], skv = scoresShape[rank - 1];
  bool causal = false;
  SmallVector<MaskTerm> general;
  for (MaskTerm &m : masks) {
    bool isCausal;
    if (m.isBool) {
      bool inverted = m.inverted;
      isCausal = isCausalConstant(m.value, sq, skv,
                                  [&](double x) -> std::optional<bool> {
                                    return (x != 0.0) != inverted;
                                  });
    } else {
      double s = m.scale;
      isCausal = isCausalConstant(
          m.value, sq, skv, [&](double x) { return floatMaskKeeps(x, s); });
    }
    if (!isCausal)
      isCausal = isCausalAffine(m, scoresType);
    if (isCausal && !causal)
      causal = true;
    else
      general.push_back(m);
  }
  if (skv < sq && causal)
    return miss("a causal mask with fewer keys than queries leaves queries "
                "with no key");

  // Check the op that will be built before building anything: the types
  // of Q, K, V in [B, H, S, D] and of the combined mask.
  auto finalType = [&](RankedTensorType t, bool swapped) {
    SmallVector<int64_t> shape(t.getShape());
    if (swapped)
      std::swap(shape[rank - 1], shape[rank - 2]);
    if (rank == 3)
      shape.insert(shape.begin(), 1);
    return RankedTensorType::get(shape, t.getElementType());
  };
  RankedTensorType qFinal = finalType(qType, q.swapped),
                   kFinal = finalType(kType, k.swapped),
                   vFinal = finalType(vType, v.swapped);
  bool anyFloatMask =
      llvm::any_of(general, [](const MaskTerm &m) { return !m.isBool; });
  Type maskType;
  if (!general.empty()) {
    SmallVector<ArrayRef<int64_t>> shapes;
    for (MaskTerm &m : general)
      shapes.push_back(cast<RankedTensorType>(m.value.getType()).getShape());
    SmallVector<int64_t> shape;
    if (failed(inferBroadcastShape(std::nullopt, shapes, shape)))
      return miss("the masks do not broadcast together");
    maskType = RankedTensorType::get(
        shape, anyFloatMask ? et : Type(rewriter.getI1Type()));
  }
  SmallVector<Type> inferred;
  if (failed(inferAttentionOp(std::nullopt, qFinal, kFinal, vFinal, maskType,
                              Type(), static_cast<float>(scale), causal,
                              std::nullopt, std::nullopt, inferred)) ||
      inferred.front() != finalType(pv.getType(), false))
    return miss("the peeled query/key/value/mask do not form an "
                "iolite.attention with the output matmul's type");

  Location loc =
      rewriter.getFusedLoc({qk.getLoc(), softmax.getLoc(), pv.getLoc()});
  rewriter.setInsertionPoint(pv);
  // Bring the masks to one value: bool masks (true keeps) are and-ed; with
  // any float mask they join the sum of float masks as 0 / -inf.
  SmallVector<Value> boolMasks, floatMasks;
  for (MaskTerm &m : general) {
    if (m.isBool) {
      Value keep = m.value;
      if (m.inverted) {
        Value no = createScalarConstant(rewriter, m.op->getLoc(),
                                        rewriter.getI1Type(), 0);
        keep = CompareOp::create(rewriter, m.op->getLoc(), ComparePredicate::eq,
                                 keep, no);
      }
      boolMasks.push_back(keep);
    } else {
      Value mv = m.value;
      if (getElementTypeOrSelf(mv.getType()) != et) {
        auto t = cast<RankedTensorType>(mv.getType()).clone(et);
        mv = CastOp::create(rewriter, m.op->getLoc(), t, mv);
      }
      if (m.scale != 1.0) {
        Value c = createScalarConstant(rewriter, m.op->getLoc(), et, m.scale);
        mv = MulOp::create(rewriter, m.op->getLoc(), mv, c);
      }
      floatMasks.push_back(mv);
    }
  }
  Value mask;
  if (!floatMasks.empty()) {
    for (Value b : boolMasks) {
      Value zero = createScalarConstant(rewriter, loc, et, 0.0);
      Value ninf = createScalarConstant(
          rewriter, loc, et, -std::numeric_limits<double>::infinity());
      floatMasks.push_back(SelectOp::create(rewriter, loc, b, zero, ninf));
    }
    mask = floatMasks.front();
    for (Value m : ArrayRef(floatMasks).drop_front())
      mask = AddOp::create(rewriter, loc, mask, m);
  } else if (!boolMasks.empty()) {
    mask = boolMasks.front();
    for (Value m : ArrayRef(boolMasks).drop_front()) {
      Value no = createScalarConstant(rewriter, loc, rewriter.getI1Type(), 0);
      mask = SelectOp::create(rewriter, loc, mask, m, no);
    }
  }

  // Bring Q, K, V to [B, H, S, D].
  auto shape = [&](Peeled &x, RankedTensorType final) -> Value {
    Value val = materialize(rewriter, x);
    if (x.swapped) {
      SmallVector<int64_t> perm = llvm::to_vector(llvm::seq<int64_t>(0, rank));
      std::swap(perm[rank - 1], perm[rank - 2]);
      val = TransposeOp::create(rewriter, loc, val, perm);
    }
    if (rank == 3)
      val = ReshapeOp::create(rewriter, loc, final, val);
    return val;
  };
  Value qv = shape(q, qFinal), kv = shape(k, kFinal), vv = shape(v, vFinal);
  auto attn =
      AttentionOp::create(rewriter, loc, qv, kv, vv, mask, Value(),
                          rewriter.getF32FloatAttr(static_cast<float>(scale)),
                          causal, IntegerAttr(), FloatAttr());
  Value result = attn.getResult();
  if (rank == 3)
    result = ReshapeOp::create(rewriter, loc, pv.getType(), result);
  rewriter.replaceOp(pv, result);
  // The probability and score chains are now dead (each op had one use).
  SmallVector<Operation *> dead(probOps.begin(), probOps.end());
  dead.append(chain.rbegin(), chain.rend());
  dead.push_back(qk);
  for (Operation *op : dead)
    if (op->use_empty())
      rewriter.eraseOp(op);

  ctl.raised(attn, kRewrite,
             llvm::formatv("raised to iolite.attention ({0} query heads, {1} "
                           "kv heads{2}, scale {3}{4}{5})",
                           qFinal.getDimSize(1), kFinal.getDimSize(1),
                           k.repeat > 1 ? ", GQA repeat absorbed" : "",
                           numStr(scale), causal ? ", causal" : "",
                           mask ? ", masked" : "")
                 .str());
  return attn;
}

namespace {
struct RaiseAttentionPattern : OpRewritePattern<MatmulOp> {
  RaiseAttentionPattern(MLIRContext *ctx, RaisingControl control)
      : OpRewritePattern(ctx), control(std::move(control)) {}
  LogicalResult matchAndRewrite(MatmulOp op,
                                PatternRewriter &rewriter) const override {
    return raiseAttention(rewriter, op, control);
  }
  RaisingControl control;
};

struct IoliteRaiseAttentionPass
    : iolite::impl::IoliteRaiseAttentionPassBase<IoliteRaiseAttentionPass> {
  using Base::Base;
  void runOnOperation() override {
    RemarkCollector remarks(getArgument(), this->remarks);
    RewritePatternSet patterns(&getContext());
    populateRaiseAttentionPatterns(patterns, remarkingControl(remarks));
    if (failed(applyRaisingPatterns(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

void mlir::iolite::populateRaiseAttentionPatterns(
    RewritePatternSet &patterns, const RaisingControl &control) {
  patterns.add<RaiseAttentionPattern>(patterns.getContext(), control);
}
