//===- Passes.td - Iolite graph passes ---------------------*- tablegen -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Graph passes on the iolite dialect: raising decomposed subgraphs to
// iolite's fused ops, partitioning functions into kernels, and planning the
// memory of the tensors that cross kernel boundaries.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITE_TRANSFORMS_PASSES_TD
#define IOLITE_DIALECT_IOLITE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

// Every raising pass reports near misses (and, with remarks, what it raised).
defvar RemarksOption = Option<"remarks", "remarks", "bool", /*default=*/"false",
    "Report each rewrite and each near miss (a candidate left unraised, "
    "with the reason) as a remark at its source location">;

//===----------------------------------------------------------------------===//
// Raising
//===----------------------------------------------------------------------===//

def IoliteRaiseAttentionPass
    : Pass<"iolite-raise-attention", "::mlir::func::FuncOp"> {
  let summary = "Raise matmul -> scale -> mask -> softmax -> matmul to "
                "iolite.attention";
  let description = [{
    Recognises scaled dot-product attention written out as
    `matmul(Q, K^T)`, an optional scale (`mul` or `div` by a uniform
    constant, on the scores or on Q/K), optional masks (`add` of a float
    mask, `select` with a large negative fill, constant causal masks),
    `softmax` over the key axis, and `matmul(P, V)`, with casts around the
    softmax, transposes of Q/K/V and grouped-query attention written as a
    repeat of K and V (`reshape(broadcast(reshape(k)))`, or the per-head
    `concat` that `repeat_interleave` exports). The rewrite checks the math it
    claims: the softmax axis, that the scale is uniform, that every mask
    broadcasts to the scores without widening them, and that the repeat
    gives query head `h` the kv head `h / (Hq / Hkv)`. Constant masks equal
    to the causal pattern become `causal`. Candidates that fail a check are
    left as they are; with `remarks` the reason is reported.

    Dropped-key semantics: `select` masks with a fill of -inf or at most
    -1e4 exclude keys; a query whose keys are all excluded gets zeros from
    `iolite.attention` (the unfused graph gives NaN or a uniform average).
  }];
  let options = [RemarksOption];
  let dependentDialects = ["::mlir::iolite::IoliteDialect"];
}

def IoliteRaiseNormsPass : Pass<"iolite-raise-norms", "::mlir::func::FuncOp"> {
  let summary = "Raise elementwise/reduction forms of RMSNorm and LayerNorm";
  let description = [{
    `x * rsqrt(mean(x^2) + eps) [* w]` (with `rsqrt` written as `rsqrt`,
    `1 / sqrt`, `reciprocal(sqrt)` or `pow(., -0.5)`, the mean as
    `reduce mean` or `reduce sum / N`, and casts to f32 around it) becomes
    `iolite.rms_norm`; `(x - mean(x)) / sqrt(var + eps) [* w] [+ b]` over the
    trailing dims becomes `iolite.layer_norm`. The rewrite checks that the
    statistic reduces the last dims (the trailing dims from `axis` for
    layer_norm) with kept dims, that the divisor of a sum equals the
    reduced size, that the same `x` is normalised, that epsilon is a
    uniform constant, and that the weight and bias have the normalised
    shape.
  }];
  let options = [RemarksOption];
  let dependentDialects = ["::mlir::iolite::IoliteDialect"];
}

def IoliteRaiseActivationsPass
    : Pass<"iolite-raise-activations", "::mlir::func::FuncOp"> {
  let summary = "Raise GELU (erf and tanh forms) and SiLU";
  let description = [{
    `0.5 x (1 + erf(x / sqrt(2)))` becomes `iolite.gelu`,
    `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` becomes
    `iolite.gelu approximate = tanh` (products in any order, `x^3` as `pow`
    or products, the erf argument as `div` by sqrt(2) or `mul` by its
    inverse), and `x * sigmoid(x)` or `x / (1 + exp(-x))` becomes
    `iolite.silu`. Constants must match to a relative 1e-3 (f16 roundings
    of the exact values pass, a different constant does not) and every
    occurrence of `x` must be the same value.
  }];
  let options = [RemarksOption];
  let dependentDialects = ["::mlir::iolite::IoliteDialect"];
}

def IoliteRaiseRotaryPass
    : Pass<"iolite-raise-rotary", "::mlir::func::FuncOp"> {
  let summary = "Raise rotate-half RoPE written with slice/neg/concat";
  let description = [{
    `x * cos + concat(-x[..., R/2:R], x[..., :R/2]) * sin` (the
    `rotate_half` of GPT-NeoX and Llama as PyTorch exports it) becomes
    `iolite.rotary`; when the rotated part is a prefix `x[..., :R]` of the
    features and the result is concatenated with the rest `x[..., R:]`,
    the whole becomes one `iolite.rotary` with `R` rotary features. The
    rewrite checks that the slices take the two halves of the same `x` on
    the last axis, the concat order and sign (`(-x2, x1)`), and that
    `cos`/`sin` broadcast to `[..., S, R]`.
  }];
  let options = [RemarksOption];
  let dependentDialects = ["::mlir::iolite::IoliteDialect"];
}

def IoliteRaiseScanPass
    : Pass<"iolite-raise-scan", "::mlir::func::FuncOp"> {
  let summary = "Raise Mamba's step-size prologue and skip/gate epilogue "
                "into iolite.selective_scan and iolite.ssd";
  let description = [{
    A Mamba block written as separate ops computes
    `dt = softplus(delta + bias)` before a bare `iolite.selective_scan` and
    `(y + u * D) * silu(z)` after it. The scan op takes these as its
    `delta_bias`, `delta_softplus`, `D` and `z`: raised into it, the scan
    kernel reads `delta`, `u`, `z` once and never writes `dt` or the bare
    `y`. Each piece is optional; float casts around the pieces (a bf16
    model computing them in f32) are absorbed, since the op computes them in
    f32 and rounds once. The rewrite checks that `bias` and `D` are
    per-channel vectors (`[D, 1]` or `[1, D, 1]` against `[B, D, L]`), that
    the skip multiplies the scan's own `u`, that `z` has `u`'s type, and
    that no intermediate has another use.

    `iolite.ssd` (Mamba-2) takes `softplus(dt + bias)` with a per-head bias
    as `dt_bias`/`dt_softplus`, and `y + x * D` with a per-head `D`
    (`[H, 1]` against `[B, L, H, P]`) when the sum is rounded to `x`'s type
    right away; a skip followed by more f32 math (a gate) stays outside,
    since absorbing it would add a rounding.

    ```mlir
    // iolite-opt --iolite-raise-scan
    %db = iolite.add %delta, %bias : tensor<1x64x32xf32>, tensor<64x1xf32>
    %dt = iolite.softplus %db : tensor<1x64x32xf32>
    %y = iolite.selective_scan %u, %dt, %A, %B, %C : ...
    %du = iolite.mul %u, %D : tensor<1x64x32xf32>, tensor<64x1xf32>
    %ys = iolite.add %y, %du : tensor<1x64x32xf32>, tensor<1x64x32xf32>
    // becomes
    %y = iolite.selective_scan %u, %delta, %A, %B, %C D(%d : tensor<64xf32>)
        delta_bias(%b : tensor<64xf32>) {delta_softplus} : ...
    ```
  }];
  let options = [RemarksOption];
  let dependentDialects = ["::mlir::iolite::IoliteDialect"];
}

//===----------------------------------------------------------------------===//
// Fusion and memory planning
//===----------------------------------------------------------------------===//

def IoliteFormKernelsPass
    : Pass<"iolite-form-kernels", "::mlir::func::FuncOp"> {
  let summary = "Partition a function into iolite.kernel regions";
  let description = [{
    Groups the ops of each function into `iolite.kernel` regions, one per
    future GPU kernel, by the policy in docs/fusion.md:

    1. matmuls that share their LHS run as one kernel (QKV, SwiGLU gate/up,
       expert gate/up grouped GEMMs), and a norm whose every use is the
       shared LHS is their prologue;
    2. attention and the scan ops absorb their producer chains of cheap
       ops (reshape, transpose, RoPE, casts, softplus of delta, conv1d+SiLU
       of a Mamba-2 block) whose every use is inside;
    3. each expensive op (in reverse program order) absorbs its consumers:
       elementwise epilogues (bias, activation, residual, gating, casts,
       views) with their cheap side inputs, and, for a matmul whose full
       output row fits on chip, a row-wise softmax/top-k/router;
    4. remaining expensive ops absorb cheap producers used only by them;
    5. leftover cheap ops form elementwise kernels;
    6. views (transpose, reshape, ...) that several kernels read are copied
       into each instead of being copied through memory by a kernel.

    A value computed by an op other than a view is never recomputed: it is
    materialised once when several kernels use it. No kernel is formed whose estimated on-chip footprint
    exceeds the limits of a `target` chip. Splat and small constants are
    cloned into the kernels that use them; large constants (weights) are
    kernel inputs. `no-fusion` puts every op in its own kernel.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"sm_90a\"",
           "Comma-separated targets (sm_80, sm_90a, gfx90a, gfx942, "
           "emu-<chip>); every kernel must fit each of them">,
    Option<"noFusion", "no-fusion", "bool", /*default=*/"false",
           "Put every op in its own kernel (the baseline benchmarks compare "
           "against)">,
    RemarksOption
  ];
  let dependentDialects = ["::mlir::iolite::IoliteDialect"];
}

def IolitePlanMemoryPass : Pass<"iolite-plan-memory", "::mlir::func::FuncOp"> {
  let summary = "Place the tensors between kernels in one workspace arena";
  let description = [{
    Computes the liveness of every kernel result that is not a function
    result, lets a kernel write a result over an input that dies at that
    kernel when the kernel reads that input only elementwise at the
    result's own index (in-place reuse), and assigns offsets in a single
    workspace arena by greedy-by-size with best fit over the liveness
    intervals. Each kernel gets `result_offsets` (bytes, -1 for function
    results); the function gets `iolite.workspace_size` and
    `iolite.workspace_stats` (sum of sizes and the liveness lower bound:
    the largest total size live at any one kernel). A function with
    symbolic dims (`iolite.dim_bounds`) is planned at every symbol's upper
    bound, so one workspace serves every size.
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", /*default=*/"256",
           "Alignment of every buffer in the arena, in bytes">,
    RemarksOption
  ];
  let dependentDialects = ["::mlir::iolite::IoliteDialect"];
}

//===----------------------------------------------------------------------===//
// Dynamic dims
//===----------------------------------------------------------------------===//

def IoliteSpecializeDimsPass
    : Pass<"iolite-specialize-dims", "::mlir::func::FuncOp"> {
  let summary = "Give the symbolic dims of a function static values";
  let description = [{
    For each `NAME=N` of `dims`, replaces the dynamic dims of the function's
    arguments that name the symbol `NAME` (their `iolite.dims`) by N, infers
    every op's result types again and updates the function type. N must lie
    within the symbol's `iolite.dim_bounds`, and every symbol of the
    function must be given; names a function does not use are ignored, so
    one list serves a module. A function without symbolic dims is left
    alone.
    Kernels formed on the symbolic graph are specialised from their
    operands. The reference (cpu) runner specialises a function to the
    shapes of the inputs of each call this way.

    ```mlir
    // iolite-specialize-dims{dims=seq=12}
    func.func @f(%x: tensor<?x32xf32> {iolite.dims = ["seq", ""]})
        -> tensor<?x32xf32>
        attributes {iolite.dim_bounds = {seq = array<i64: 1, 4096>}} {
      %y = iolite.relu %x : tensor<?x32xf32>
      return %y : tensor<?x32xf32>
    }
    // becomes: func.func @f(%x: tensor<12x32xf32>) -> tensor<12x32xf32>
    ```
  }];
  let options = [
    ListOption<"dims", "dims", "std::string",
               "NAME=N for every symbol of the function">
  ];
  let dependentDialects = ["::mlir::iolite::IoliteDialect"];
}

def IoliteVerifySymbolicShapesPass
    : Pass<"iolite-verify-symbolic-shapes", "::mlir::func::FuncOp"> {
  let summary = "Prove that a function's shapes hold for every size of its "
                "symbolic dims";
  let description = [{
    The type rules accept `?` against anything, so a function with symbolic
    dims verifies even when two symbols meet where their sizes must be
    equal, say `seq` contracted against `kv_seq` by a matmul. Such a
    function would only fail when called with different values. This pass
    specialises a copy with the symbols set to distinct primes above every
    static dim, twice with different primes, and reports the first rule
    that breaks, naming the values. Shape rules compare products of symbols
    and constants, which agree at distinct primes only when they are the
    same product, so a function that passes holds at every size. The graph
    pipeline runs it first.

    ```mlir
    // error: the shapes do not hold for every size of the symbolic dims
    // (k = 10007, seq = 10009 breaks them): contraction dims differ
    func.func @f(%a: tensor<?x?xf32> {iolite.dims = ["seq", "k"]},
                 %b: tensor<?x8xf32> {iolite.dims = ["seq", ""]}) ...
      %c = iolite.matmul %a, %b : tensor<?x?xf32>, tensor<?x8xf32>
    ```
  }];
  let dependentDialects = ["::mlir::iolite::IoliteDialect"];
}

#endif // IOLITE_DIALECT_IOLITE_TRANSFORMS_PASSES_TD
