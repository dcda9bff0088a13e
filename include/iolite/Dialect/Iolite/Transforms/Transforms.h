//===- Transforms.h - Raising rewrites of the iolite dialect ----*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The raising rewrites turn decomposed subgraphs (as importers produce them)
// into iolite's fused ops. Each is a function that rewrites one anchor op and
// returns the new op or failure, a populate function that wraps it in a
// pattern, and a thin pass (Passes.td). A failed rewrite changes nothing; if
// the anchor was a real candidate (say, a matmul fed by a softmax) the
// control's onNearMiss hears why it was left alone.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITE_TRANSFORMS_TRANSFORMS_H
#define IOLITE_DIALECT_IOLITE_TRANSFORMS_TRANSFORMS_H

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/MapVector.h"
#include <functional>

namespace mlir {
namespace iolite {

/// Observers of the raising rewrites; either may be empty.
struct RaisingControl {
  /// Called with the anchor of a candidate that was left unraised, the name
  /// of the rewrite ("attention", "rms_norm", ...) and the reason.
  std::function<void(Operation *anchor, StringRef rewrite, const Twine &reason)>
      onNearMiss;
  /// Called with each op a rewrite created and a one-line description.
  std::function<void(Operation *raised, StringRef rewrite, const Twine &detail)>
      onRaised;

  void nearMiss(Operation *anchor, StringRef rewrite,
                const Twine &reason) const {
    if (onNearMiss)
      onNearMiss(anchor, rewrite, reason);
  }
  void raised(Operation *op, StringRef rewrite, const Twine &detail) const {
    if (onRaised)
      onRaised(op, rewrite, detail);
  }
};

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// Rewrites the attention whose final `matmul(P, V)` is `pv` into one
/// iolite.attention (see iolite-raise-attention) and returns it.
FailureOr<AttentionOp> raiseAttention(RewriterBase &rewriter, MatmulOp pv,
                                      const RaisingControl &control = {});

void populateRaiseAttentionPatterns(RewritePatternSet &patterns,
                                    const RaisingControl &control = {});

//===----------------------------------------------------------------------===//
// Norms
//===----------------------------------------------------------------------===//

/// Rewrites the RMSNorm whose normalising op (the mul by the inverse RMS or
/// the div by the RMS) is `anchor`, together with the casts and weight mul
/// after it, and returns the new op.
FailureOr<RmsNormOp> raiseRmsNorm(RewriterBase &rewriter, Operation *anchor,
                                  const RaisingControl &control = {});

/// Rewrites the LayerNorm whose normalising op is `anchor`, with its
/// centring and the casts, weight mul and bias add after it.
FailureOr<LayerNormOp> raiseLayerNorm(RewriterBase &rewriter, Operation *anchor,
                                      const RaisingControl &control = {});

void populateRaiseNormPatterns(RewritePatternSet &patterns,
                               const RaisingControl &control = {});

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

/// Rewrites the GELU (erf or tanh form) whose outermost product is `root`.
FailureOr<GeluOp> raiseGelu(RewriterBase &rewriter, MulOp root,
                            const RaisingControl &control = {});

/// Rewrites `x * sigmoid(x)` (a MulOp) or `x / (1 + exp(-x))` (a DivOp).
FailureOr<SiluOp> raiseSilu(RewriterBase &rewriter, Operation *root,
                            const RaisingControl &control = {});

void populateRaiseActivationPatterns(RewritePatternSet &patterns,
                                     const RaisingControl &control = {});

//===----------------------------------------------------------------------===//
// Rotary embedding
//===----------------------------------------------------------------------===//

/// Rewrites `x * cos + rotate_half(x) * sin` ending at `root`.
FailureOr<RotaryOp> raiseRotary(RewriterBase &rewriter, AddOp root,
                                const RaisingControl &control = {});

/// Rewrites `concat(rotary(x[..., :R]), x[..., R:])` into one rotary of `x`.
FailureOr<RotaryOp> absorbRotaryPassThrough(RewriterBase &rewriter,
                                            ConcatOp root,
                                            const RaisingControl &control = {});

void populateRaiseRotaryPatterns(RewritePatternSet &patterns,
                                 const RaisingControl &control = {});

//===----------------------------------------------------------------------===//
// State-space scans
//===----------------------------------------------------------------------===//

/// Absorbs the step-size prologue (softplus(delta + per-channel bias)) and
/// the D skip / silu(z) gate epilogue around a bare `scan` into its
/// operands (see iolite-raise-scan).
FailureOr<SelectiveScanOp>
raiseSelectiveScanOperands(RewriterBase &rewriter, SelectiveScanOp scan,
                           const RaisingControl &control = {});

/// Absorbs the step-size prologue (softplus(dt + per-head bias)) around a
/// bare `ssd`, and its D skip when the sum is rounded to the input type
/// right away, into its operands (see iolite-raise-scan).
FailureOr<SsdOp> raiseSsdOperands(RewriterBase &rewriter, SsdOp ssd,
                                  const RaisingControl &control = {});

void populateRaiseScanPatterns(RewritePatternSet &patterns,
                               const RaisingControl &control = {});

/// Rewrites `function` in place for the symbol values `dims` (every symbol
/// of its iolite.dim_bounds, within bounds; others are ignored): argument types
/// become static, every op's result types are inferred again from its now
/// static operands, and the function type, iolite.dims and iolite.dim_bounds
/// follow. A reshape's dynamic result dims are solved from its input: dims its
/// `iolite.dims` names take their symbol's value, dynamic dims in its
/// unchanged leading and trailing dims carry over, and one more is solved
/// from the element count (a broadcast's come from its input or its
/// `iolite.dims`). Fails with a diagnostic at the op that cannot be
/// specialised; the function is then left partly rewritten, so callers work
/// on a clone.
LogicalResult specializeDims(func::FuncOp function,
                             const llvm::MapVector<StringRef, int64_t> &dims,
                             bool checkBounds = true);

/// Proves that `function`'s shapes hold for every value of its symbols, not
/// only for the values of one call: a copy is specialised with the symbols
/// set to distinct primes far from every static dim, twice with different
/// primes. Shape rules compare products of symbols and constants; two such
/// products agree at distinct primes only if they are the same product
/// (unique factorisation), so a rule that holds at both points holds for
/// every size. A rule that fails (two symbols a matmul contracts, a reshape
/// that only fits some lengths) is an error at the op, naming the symbols.
/// Succeeds at once for a function without symbolic dims.
LogicalResult verifySymbolicShapes(func::FuncOp function);

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DIALECT_IOLITE_TRANSFORMS_TRANSFORMS_H
