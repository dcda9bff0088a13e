//===- IoliteOps.td - Iolite operations --------------------*- tablegen -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Operations of the iolite dialect. Shape and type rules live in
// TypeInference.cpp; ops with inferred results report every rule violation
// from there, so the same checks serve the parser, the verifier and the
// importers (which call the inference functions before building an op).
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITE_IR_IOLITEOPS_TD
#define IOLITE_DIALECT_IOLITE_IR_IOLITEOPS_TD

include "iolite/Dialect/Iolite/IR/IoliteBase.td"
include "iolite/Dialect/Iolite/IR/IoliteEnums.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/IR/RegionKindInterface.td"

class Iolite_Op<string mnemonic, list<Trait> traits = []>
    : Op<Iolite_Dialect, mnemonic, traits>;

// An op whose result types are computed by TypeInference.cpp.
class Iolite_InferredOp<string mnemonic, list<Trait> traits = []>
    : Iolite_Op<mnemonic, !listconcat(traits, [Pure, InferTypeOpAdaptor])>;

//===----------------------------------------------------------------------===//
// Constants and casts
//===----------------------------------------------------------------------===//

def Iolite_ConstantOp : Iolite_Op<"constant",
    [ConstantLike, Pure, AllTypesMatch<["value", "result"]>,
     DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "Constant tensor";
  let description = [{
    A tensor whose elements are given by `value`. Weights and initializers of
    imported models become `iolite.constant`s.

    ```mlir
    %w = iolite.constant dense<0.5> : tensor<64x64xf16>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Iolite_Tensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
  let hasVerifier = 1;
  let builders = [OpBuilder<(ins "::mlir::ElementsAttr":$value), [{
    build($_builder, $_state, value.getType(), value);
  }]>];
}

def Iolite_CastOp : Iolite_Op<"cast", [Pure, SameOperandsAndResultShape]> {
  let summary = "Element type conversion";
  let description = [{
    Converts every element to the result element type. Float to float rounds
    to nearest even; float to integer truncates toward zero (a value out of
    the integer's range, or NaN, gives an unspecified integer); integer or
    float to `i1` is `x != 0`; `i1` to a number gives 0 or 1.

    ```mlir
    %h = iolite.cast %x : tensor<2x8xf32> to tensor<2x8xf16>
    ```
  }];
  let arguments = (ins Iolite_Tensor:$input);
  let results = (outs Iolite_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `to` type($result)";
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise ops
//===----------------------------------------------------------------------===//

class Iolite_BinaryOp<string mnemonic, Type operandType, list<Trait> traits = []>
    : Iolite_InferredOp<mnemonic,
        !listconcat(traits, [SameOperandsElementType])> {
  let arguments = (ins operandType:$lhs, operandType:$rhs);
  let results = (outs operandType:$result);
  let assemblyFormat =
      "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
  let hasFolder = 1;
  let description = [{
    Elementwise with NumPy broadcasting: the shapes are aligned on the right
    and every pair of dims must be equal or one of them 1. The result has the
    broadcast shape and the operands' element type; f16 and bf16 compute in
    f32 and round once.

    ```mlir
    %y = iolite.}] # mnemonic # [{ %a, %b : tensor<2x8x64xf32>, tensor<64xf32>
    ```
  }];
}

def Iolite_AddOp : Iolite_BinaryOp<"add", Iolite_NumericTensor, [Commutative]> {
  let summary = "Elementwise addition";
}
def Iolite_SubOp : Iolite_BinaryOp<"sub", Iolite_NumericTensor> {
  let summary = "Elementwise subtraction";
}
def Iolite_MulOp : Iolite_BinaryOp<"mul", Iolite_NumericTensor, [Commutative]> {
  let summary = "Elementwise multiplication";
}
def Iolite_DivOp : Iolite_BinaryOp<"div", Iolite_NumericTensor> {
  let summary = "Elementwise division (integers round toward zero, x / 0 = 0)";
}
def Iolite_MaxOp : Iolite_BinaryOp<"max", Iolite_NumericTensor, [Commutative]> {
  let summary = "Elementwise maximum (NaN propagates)";
}
def Iolite_MinOp : Iolite_BinaryOp<"min", Iolite_NumericTensor, [Commutative]> {
  let summary = "Elementwise minimum (NaN propagates)";
}
def Iolite_PowOp : Iolite_BinaryOp<"pow", Iolite_FloatTensor> {
  let summary = "Elementwise power";
}

def Iolite_CompareOp : Iolite_InferredOp<"compare", [SameOperandsElementType]> {
  let summary = "Elementwise comparison with broadcasting";
  let description = [{
    Compares with NumPy broadcasting and yields an `i1` tensor. Comparisons
    with NaN are false except `ne`.

    ```mlir
    %m = iolite.compare lt %a, %b : tensor<8x8xi64>, tensor<8x8xi64>
    ```
  }];
  let arguments = (ins Iolite_ComparePredicateAttr:$predicate,
                       Iolite_Tensor:$lhs, Iolite_Tensor:$rhs);
  let results = (outs RankedTensorOf<[I1]>:$result);
  let assemblyFormat = [{
    $predicate $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)
  }];
}

def Iolite_SelectOp : Iolite_InferredOp<"select"> {
  let summary = "Elementwise choice with broadcasting (ONNX Where)";
  let description = [{
    `result = condition ? on_true : on_false` with the three operands
    broadcast together.

    ```mlir
    %y = iolite.select %m, %a, %b
        : tensor<1x1x8x8xi1>, tensor<2x4x8x8xf32>, tensor<f32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I1]>:$condition, Iolite_Tensor:$on_true,
                       Iolite_Tensor:$on_false);
  let results = (outs Iolite_Tensor:$result);
  let assemblyFormat = [{
    $condition `,` $on_true `,` $on_false attr-dict `:` type($condition) `,`
    type($on_true) `,` type($on_false)
  }];
  let hasFolder = 1;
}

class Iolite_UnaryOp<string mnemonic, Type operandType, string formula,
                     list<Trait> traits = []>
    : Iolite_Op<mnemonic,
        !listconcat(traits, [Pure, SameOperandsAndResultType])> {
  let arguments = (ins operandType:$input);
  let results = (outs operandType:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let description = [{
    Elementwise `}] # formula # [{`, computed in f32 for f16/bf16 inputs and
    rounded to the input type.

    ```mlir
    %y = iolite.}] # mnemonic # [{ %x : tensor<4x64xf32>
    ```
  }];
}

def Iolite_ExpOp : Iolite_UnaryOp<"exp", Iolite_FloatTensor, "exp(x)"> {
  let summary = "Elementwise exponential";
}
def Iolite_LogOp : Iolite_UnaryOp<"log", Iolite_FloatTensor, "log(x)"> {
  let summary = "Elementwise natural logarithm";
}
def Iolite_TanhOp : Iolite_UnaryOp<"tanh", Iolite_FloatTensor, "tanh(x)"> {
  let summary = "Elementwise hyperbolic tangent";
}
def Iolite_ErfOp : Iolite_UnaryOp<"erf", Iolite_FloatTensor, "erf(x)"> {
  let summary = "Elementwise error function";
}
def Iolite_SigmoidOp : Iolite_UnaryOp<"sigmoid", Iolite_FloatTensor,
                                      "1 / (1 + exp(-x))"> {
  let summary = "Elementwise logistic sigmoid";
}
def Iolite_SiluOp : Iolite_UnaryOp<"silu", Iolite_FloatTensor,
                                   "x * sigmoid(x)"> {
  let summary = "Elementwise SiLU (swish)";
}
def Iolite_ReluOp : Iolite_UnaryOp<"relu", Iolite_NumericTensor, "max(x, 0)"> {
  let summary = "Elementwise rectified linear unit";
}
def Iolite_RsqrtOp : Iolite_UnaryOp<"rsqrt", Iolite_FloatTensor,
                                    "1 / sqrt(x)"> {
  let summary = "Elementwise reciprocal square root";
}
def Iolite_SqrtOp : Iolite_UnaryOp<"sqrt", Iolite_FloatTensor, "sqrt(x)"> {
  let summary = "Elementwise square root";
}
def Iolite_NegOp : Iolite_UnaryOp<"neg", Iolite_NumericTensor, "-x"> {
  let summary = "Elementwise negation";
  let hasFolder = 1;
}
def Iolite_AbsOp : Iolite_UnaryOp<"abs", Iolite_NumericTensor, "|x|"> {
  let summary = "Elementwise absolute value";
}
def Iolite_ReciprocalOp : Iolite_UnaryOp<"reciprocal", Iolite_FloatTensor,
                                         "1 / x"> {
  let summary = "Elementwise reciprocal";
}
def Iolite_SoftplusOp : Iolite_UnaryOp<"softplus", Iolite_FloatTensor,
    "log(1 + exp(x))` (as `max(x, 0) + log1p(exp(-|x|))`, which cannot overflow"> {
  let summary = "Elementwise softplus";
}
def Iolite_SinOp : Iolite_UnaryOp<"sin", Iolite_FloatTensor, "sin(x)"> {
  let summary = "Elementwise sine";
}
def Iolite_CosOp : Iolite_UnaryOp<"cos", Iolite_FloatTensor, "cos(x)"> {
  let summary = "Elementwise cosine";
}

def Iolite_GeluOp : Iolite_Op<"gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "Elementwise GELU, exact (erf) or tanh approximation";
  let description = [{
    `approximate = none`: `0.5 x (1 + erf(x / sqrt(2)))`;
    `approximate = tanh`: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.

    ```mlir
    %y = iolite.gelu %x approximate = tanh : tensor<4x64xf32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$input,
      DefaultValuedAttr<Iolite_GeluApproximationAttr,
                        "::mlir::iolite::GeluApproximation::none">:$approximate);
  let results = (outs Iolite_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`approximate` `=` $approximate^)? attr-dict `:` type($input)
  }];
}

//===----------------------------------------------------------------------===//
// Normalisation, softmax and reductions
//===----------------------------------------------------------------------===//

def Iolite_SoftmaxOp : Iolite_InferredOp<"softmax"> {
  let summary = "Softmax along one axis (max-subtracted)";
  let description = [{
    `exp(x - max(x)) / sum(exp(x - max(x)))` along `axis` (negative counts
    from the back), accumulated in f32. A slice that is all `-inf` gives NaN,
    as in PyTorch (`iolite.attention` instead gives such rows zeros).

    ```mlir
    %p = iolite.softmax %s {axis = -1 : i64} : tensor<2x4x8x8xf32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$input,
                       DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs Iolite_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Iolite_ReduceOp : Iolite_InferredOp<"reduce"> {
  let summary = "Reduction (sum, mean, max, min, prod) over axes";
  let description = [{
    Reduces `input` over `axes` (negative counts from the back; no two equal).
    With `keep_dims` the reduced dims stay as size 1. Floating-point
    reductions accumulate in f32; an integer mean truncates toward zero. An
    empty axes list is the identity.

    ```mlir
    %m = iolite.reduce mean %x {axes = array<i64: -1>, keep_dims}
        : tensor<2x8x64xf32>
    ```
  }];
  let arguments = (ins Iolite_ReduceKindAttr:$kind, Iolite_NumericTensor:$input,
                       DenseI64ArrayAttr:$axes, UnitAttr:$keep_dims);
  let results = (outs Iolite_NumericTensor:$result);
  let assemblyFormat = [{
    $kind $input attr-dict `:` type($input)
  }];
  let hasFolder = 1;
}

def Iolite_RmsNormOp : Iolite_InferredOp<"rms_norm"> {
  let summary = "RMS normalisation over the last dim";
  let description = [{
    `y = x / sqrt(mean(x^2, -1) + epsilon) * weight`, the statistic in f32.
    `weight` has the shape of the last dim; without it the scale is 1.

    ```mlir
    %y = iolite.rms_norm %x weight(%w : tensor<64xf32>) {epsilon = 1.0e-05 : f32}
        : tensor<2x8x64xf32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$input,
                       Optional<Iolite_FloatTensor>:$weight,
                       DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs Iolite_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`weight` `(` $weight^ `:` type($weight) `)`)? attr-dict `:`
    type($input)
  }];
}

def Iolite_LayerNormOp : Iolite_InferredOp<"layer_norm",
                                           [AttrSizedOperandSegments]> {
  let summary = "Layer normalisation over the trailing dims from `axis`";
  let description = [{
    `y = (x - mean) / sqrt(var + epsilon) * weight + bias`, mean and biased
    variance over dims `axis..rank-1`, in f32. `weight` and `bias` have the
    shape of those dims.

    ```mlir
    %y = iolite.layer_norm %x weight(%g : tensor<64xf32>) bias(%b : tensor<64xf32>)
        : tensor<2x8x64xf32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$input,
                       Optional<Iolite_FloatTensor>:$weight,
                       Optional<Iolite_FloatTensor>:$bias,
                       DefaultValuedAttr<I64Attr, "-1">:$axis,
                       DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs Iolite_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`weight` `(` $weight^ `:` type($weight) `)`)?
    (`bias` `(` $bias^ `:` type($bias) `)`)? attr-dict `:` type($input)
  }];
}

def Iolite_CumsumOp : Iolite_InferredOp<"cumsum"> {
  let summary = "Cumulative sum along an axis (ONNX CumSum)";
  let description = [{
    Inclusive prefix sum along `axis`; `exclusive` shifts it by one,
    `reverse` sums from the end.

    ```mlir
    %c = iolite.cumsum %x {axis = 1 : i64, exclusive} : tensor<2x16xi64>
    ```
  }];
  let arguments = (ins Iolite_NumericTensor:$input, I64Attr:$axis,
                       UnitAttr:$exclusive, UnitAttr:$reverse);
  let results = (outs Iolite_NumericTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Iolite_TopKOp : Iolite_InferredOp<"top_k"> {
  let summary = "The k largest (or smallest) entries along an axis";
  let description = [{
    Returns values and `i64` indices of the `k` largest (`largest`, default)
    or smallest entries along `axis`, sorted best first. Ties go to the lower
    index; NaN ranks above every number (first when `largest`, last
    otherwise), as in `torch.topk`.

    ```mlir
    %v, %i = iolite.top_k %x {k = 2 : i64} : tensor<16x8xf32>
    ```
  }];
  let arguments = (ins Iolite_NumericTensor:$input, I64Attr:$k,
                       DefaultValuedAttr<I64Attr, "-1">:$axis,
                       DefaultValuedAttr<BoolAttr, "true">:$largest);
  let results = (outs Iolite_NumericTensor:$values,
                      RankedTensorOf<[I64]>:$indices);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

def Iolite_ReshapeOp : Iolite_Op<"reshape", [Pure]> {
  let summary = "Reshape (row-major, same element count)";
  let description = [{
    ```mlir
    %y = iolite.reshape %x : tensor<2x8x64xf32> -> tensor<2x8x4x16xf32>
    ```
  }];
  let arguments = (ins Iolite_Tensor:$input);
  let results = (outs Iolite_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
  let hasVerifier = 1;
}

def Iolite_TransposeOp : Iolite_InferredOp<"transpose"> {
  let summary = "Permute dims";
  let description = [{
    `result.shape[i] = input.shape[permutation[i]]`.

    ```mlir
    %y = iolite.transpose %x [0, 2, 1, 3] : tensor<2x8x4x16xf32>
    ```
  }];
  let arguments = (ins Iolite_Tensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs Iolite_Tensor:$result);
  let assemblyFormat = "$input $permutation attr-dict `:` type($input)";
  let hasFolder = 1;
}

def Iolite_ConcatOp : Iolite_InferredOp<"concat", [SameOperandsElementType]> {
  let summary = "Concatenate along an axis";
  let description = [{
    ```mlir
    %y = iolite.concat %a, %b {axis = -1 : i64}
        : tensor<2x8x16xf32>, tensor<2x8x16xf32>
    ```
  }];
  let arguments = (ins Variadic<Iolite_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs Iolite_Tensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs)";
  let hasFolder = 1;
}

def Iolite_SliceOp : Iolite_InferredOp<"slice"> {
  let summary = "Strided slice with static bounds";
  let description = [{
    Takes `input[starts[i] : limits[i] : strides[i]]` in every dim, with
    `0 <= start <= limit <= dim` and `stride >= 1` (strides default to 1).
    A dynamic dim (a symbolic batch or sequence length) may be sliced to its
    end, whatever its size, with the limit 9223372036854775807 (INT64_MAX,
    as ONNX's Slice writes "to the end"); specialising the dims replaces it
    by the size. Static dims take explicit limits.

    ```mlir
    %y = iolite.slice %x [0, 0, 8] to [2, 8, 16] : tensor<2x8x16xf32>
    // Channels 0..31 of every position of a sequence of any length.
    %z = iolite.slice %w [0, 0, 0] to [1, 32, 9223372036854775807]
        : tensor<1x64x?xf32>
    ```
  }];
  let arguments = (ins Iolite_Tensor:$input, DenseI64ArrayAttr:$starts,
                       DenseI64ArrayAttr:$limits,
                       OptionalAttr<DenseI64ArrayAttr>:$strides);
  let results = (outs Iolite_Tensor:$result);
  let assemblyFormat = [{
    $input $starts `to` $limits (`step` $strides^)? attr-dict `:` type($input)
  }];
  let hasFolder = 1;
}

def Iolite_BroadcastOp : Iolite_Op<"broadcast", [Pure]> {
  let summary = "NumPy broadcast to the result shape (ONNX Expand)";
  let description = [{
    ```mlir
    %y = iolite.broadcast %x : tensor<1x8x1x64xf32> -> tensor<2x8x4x64xf32>
    ```
  }];
  let arguments = (ins Iolite_Tensor:$input);
  let results = (outs Iolite_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
  let hasVerifier = 1;
}

def Iolite_IotaOp : Iolite_InferredOp<"iota"> {
  let summary = "Positions 0..n-1 along one dim of a tensor's shape";
  let description = [{
    A 1-D `i64` tensor holding `0, 1, ..., n - 1`, where `n` is dim `axis`
    of `source` (negative axes count from the end). Only `source`'s shape
    is read, so `n` may be a symbolic dim: this is how a graph builds
    position ids and masks (a causal mask compares a column of positions
    with a row of them) at a length known only when it runs. ONNX writes
    it as `Range(0, Gather(Shape(x), axis), 1)`.

    ```mlir
    %pos = iolite.iota %x {axis = 1 : i64} : tensor<?x?x32xf32>
    ```
  }];
  let arguments = (ins Iolite_Tensor:$source, I64Attr:$axis);
  let results = (outs RankedTensorOf<[I64]>:$result);
  let assemblyFormat = "$source attr-dict `:` type($source)";
}

def Iolite_GatherOp : Iolite_InferredOp<"gather"> {
  let summary = "Gather slices along an axis (embedding lookup, ONNX Gather)";
  let description = [{
    `result[a..., i..., b...] = data[a..., indices[i...], b...]` where `a`
    are the dims before `axis`. Negative indices count from the end; an
    index outside `[-dim, dim)` reads the nearest valid row.

    ```mlir
    %e = iolite.gather %table[%ids] {axis = 0 : i64}
        : tensor<32000x64xf16>, tensor<2x8xi64>
    ```
  }];
  let arguments = (ins Iolite_Tensor:$data, Iolite_IndexTensor:$indices,
                       DefaultValuedAttr<I64Attr, "0">:$axis);
  let results = (outs Iolite_Tensor:$result);
  let assemblyFormat = [{
    $data `[` $indices `]` attr-dict `:` type($data) `,` type($indices)
  }];
}

//===----------------------------------------------------------------------===//
// Transformer ops
//===----------------------------------------------------------------------===//

def Iolite_MatmulOp : Iolite_InferredOp<"matmul", [SameOperandsElementType]> {
  let summary = "Batched matrix multiply with broadcast batch dims";
  let description = [{
    `lhs` is `[..., M, K]` (`[..., K, M]` with `transpose_lhs`), `rhs` is
    `[..., K, N]` (`[..., N, K]` with `transpose_rhs`); the batch dims
    broadcast as in NumPy and a rank-1 operand is not allowed. Products
    accumulate in f32 for float inputs; the result has the operand type.

    ```mlir
    %y = iolite.matmul %x, %w : tensor<2x8x64xf16>, tensor<64x128xf16>
    ```
  }];
  let arguments = (ins Iolite_NumericTensor:$lhs, Iolite_NumericTensor:$rhs,
                       UnitAttr:$transpose_lhs, UnitAttr:$transpose_rhs);
  let results = (outs Iolite_NumericTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)
  }];
}

def Iolite_RotaryOp : Iolite_InferredOp<"rotary"> {
  let summary = "Rotary position embedding (RoPE)";
  let description = [{
    Rotates the first `R` features of `input` (`[..., S, D]`), where `cos`
    and `sin` are `[..., S, R]` with `R <= D` even, broadcasting to the
    input's leading dims. With `rot(x)[j] = -x[j + R/2]` for `j < R/2` and
    `x[j - R/2]` otherwise (the "rotate_half" of GPT-NeoX and Llama),
    `y[j] = x[j] cos[j] + rot(x)[j] sin[j]` for `j < R` and `y[j] = x[j]`
    beyond. With `interleaved` the pairs are `(2i, 2i+1)` (GPT-J):
    `rot(x)[2i] = -x[2i+1]`, `rot(x)[2i+1] = x[2i]`.

    ```mlir
    %q2 = iolite.rotary %q, %cos, %sin
        : tensor<1x8x16x64xf32>, tensor<16x64xf32>, tensor<16x64xf32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$input, Iolite_FloatTensor:$cos,
                       Iolite_FloatTensor:$sin, UnitAttr:$interleaved);
  let results = (outs Iolite_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $cos `,` $sin attr-dict `:` type($input) `,` type($cos) `,`
    type($sin)
  }];
}

def Iolite_AttentionOp : Iolite_InferredOp<"attention",
                                           [AttrSizedOperandSegments]> {
  let summary = "Scaled dot-product attention with GQA, masks and ALiBi";
  let description = [{
    `query` is `[B, Hq, Sq, D]`, `key` `[B, Hkv, Skv, D]`, `value`
    `[B, Hkv, Skv, Dv]`, with `Hkv` dividing `Hq` (GQA; `Hkv = 1` is MQA):
    query head `h` reads kv head `h / (Hq / Hkv)`. Query `i` sits at absolute
    position `p_i = i + Skv - Sq`: the queries are the last `Sq` positions of
    the key sequence (prefill with a cache, or decode with `Sq = 1`).

    For every query `i` and key `j` the logit is
      `s = scale * dot(q_i, k_j)` (`scale` defaults to `1/sqrt(D)`);
      `s = softcap * tanh(s / softcap)` when `softcap` is set;
      `s += alibi_slopes[h] * (j - p_i)` with `alibi_slopes` (`[Hq]`);
      `s += mask` for a float `mask`.
    Key `j` is excluded when an `i1` `mask` is false there, when `causal` and
    `j > p_i`, or when `window = w` and `j <= p_i - w` (a sliding window of
    `w` keys ending at the query; it needs `causal`). The result is the
    softmax over the remaining keys applied to `value`, computed with f32
    statistics; a query with no remaining key, or whose logits are all
    `-inf` (a float mask of `-inf` excludes its key the same way), gets
    zeros, not NaN. `mask`
    broadcasts to `[B, Hq, Sq, Skv]`.

    ```mlir
    %o = iolite.attention %q, %k, %v {causal}
        : tensor<1x8x128x64xf16>, tensor<1x2x128x64xf16>, tensor<1x2x128x64xf16>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$query, Iolite_FloatTensor:$key,
                       Iolite_FloatTensor:$value,
                       Optional<Iolite_MaskTensor>:$mask,
                       Optional<Iolite_FloatTensor>:$alibi_slopes,
                       OptionalAttr<F32Attr>:$scale, UnitAttr:$causal,
                       OptionalAttr<I64Attr>:$window,
                       OptionalAttr<F32Attr>:$softcap);
  let results = (outs Iolite_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `:` type($mask) `)`)?
    (`alibi_slopes` `(` $alibi_slopes^ `:` type($alibi_slopes) `)`)?
    attr-dict `:` type($query) `,` type($key) `,` type($value)
  }];
  let hasCanonicalizer = 1;
  let extraClassDeclaration = [{
    /// The softmax scale: the attribute, or 1/sqrt(head_dim).
    float getEffectiveScale();
  }];
}

//===----------------------------------------------------------------------===//
// Serving: KV caches and packed variable-length batches
//===----------------------------------------------------------------------===//

def Iolite_KvCacheAppendOp : Iolite_InferredOp<"kv_cache_append"> {
  let summary = "Write a step's keys and values into a KV cache";
  let description = [{
    Writes `key` `[B, S, Hkv, D]` and `value` `[B, S, Hkv, Dv]` (the `S`
    new tokens of each of `B` sequences) into the caches at each sequence's
    current length `cache_seqlens[b]` (`i32` `[B]`, the length before the
    append): token `t` of sequence `b` goes to position
    `p = cache_seqlens[b] + t`. The results are the caches with those rows
    replaced and every other row unchanged; the caller adds `S` to its
    lengths.

    Without `block_table` the caches are contiguous, `[B, L, Hkv, D]` and
    `[B, L, Hkv, Dv]`, and position `p` is row `[b, p]`. With `block_table`
    (`i32` `[B, M]`) the caches are page pools `[N, P, Hkv, D]` and
    `[N, P, Hkv, Dv]` of `N` pages of `P` tokens (vLLM's PagedAttention):
    position `p` is slot `p mod P` of page `block_table[b, p / P]`.

    A bundle runs this op in place: each result shares the buffer of its
    cache operand, and no copy of the cache is made per step. Positions past
    the cache (`p >= L`, or `p / P >= M`) and page numbers outside `[0, N)`
    are errors the verifier cannot see; the CPU reference drops such writes.

    ```mlir
    %kc2, %vc2 = iolite.kv_cache_append %kc, %vc, %k, %v, %lens
        : tensor<2x64x2x16xf16>, tensor<2x64x2x16xf16>, tensor<2x1x2x16xf16>,
          tensor<2x1x2x16xf16>, tensor<2xi32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$k_cache, Iolite_FloatTensor:$v_cache,
                       Iolite_FloatTensor:$key, Iolite_FloatTensor:$value,
                       RankedTensorOf<[I32]>:$cache_seqlens,
                       Optional<RankedTensorOf<[I32]>>:$block_table);
  let results = (outs Iolite_FloatTensor:$k_cache_out,
                      Iolite_FloatTensor:$v_cache_out);
  let hasVerifier = 1;
  let assemblyFormat = [{
    $k_cache `,` $v_cache `,` $key `,` $value `,` $cache_seqlens
    (`block_table` `(` $block_table^ `:` type($block_table) `)`)? attr-dict `:`
    type($k_cache) `,` type($v_cache) `,` type($key) `,` type($value) `,`
    type($cache_seqlens)
  }];
}

def Iolite_CacheAttentionOp : Iolite_InferredOp<"cache_attention"> {
  let summary = "Attention of a step's queries over a KV cache";
  let description = [{
    `query` is `[B, Sq, Hq, D]` (the `Sq` newest tokens of each sequence,
    `Sq = 1` for decode); the caches are laid out as for
    `iolite.kv_cache_append`: contiguous `[B, L, Hkv, D]` / `[B, L, Hkv, Dv]`,
    or page pools `[N, P, Hkv, D]` / `[N, P, Hkv, Dv]` read through
    `block_table` (`i32` `[B, M]`). `cache_seqlens` (`i32` `[B]`) counts the
    valid keys of each sequence, the step's own tokens included (the lengths
    after the append). `Hkv` divides `Hq`; query head `h` reads kv head
    `h / (Hq / Hkv)`.

    Query `i` of sequence `b` sits at position `n_b - Sq + i` with
    `n_b = cache_seqlens[b]`; it attends to keys `j < n_b`, and with `causal`
    only to `j <= n_b - Sq + i` (the diagonal aligned to the bottom right,
    as in FlashAttention's `flash_attn_with_kvcache`). The logit is
    `scale * dot(q_i, k_j)` (`scale` defaults to `1/sqrt(D)`); the result
    `[B, Sq, Hq, Dv]` is the softmax over the attended keys applied to the
    values, with f32 statistics. A query with no key to attend to (`n_b = 0`,
    or `causal` with `n_b - Sq + i < 0`) gets zeros. Cache rows at or past
    `n_b` are never read, and neither are block table entries past the
    sequence's last page.

    ```mlir
    %o = iolite.cache_attention %q, %kc, %vc, %lens {causal}
        : tensor<2x1x8x16xf16>, tensor<2x64x2x16xf16>, tensor<2x64x2x16xf16>,
          tensor<2xi32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$query, Iolite_FloatTensor:$k_cache,
                       Iolite_FloatTensor:$v_cache,
                       RankedTensorOf<[I32]>:$cache_seqlens,
                       Optional<RankedTensorOf<[I32]>>:$block_table,
                       OptionalAttr<F32Attr>:$scale, UnitAttr:$causal);
  let results = (outs Iolite_FloatTensor:$result);
  let hasVerifier = 1;
  let assemblyFormat = [{
    $query `,` $k_cache `,` $v_cache `,` $cache_seqlens
    (`block_table` `(` $block_table^ `:` type($block_table) `)`)? attr-dict `:`
    type($query) `,` type($k_cache) `,` type($v_cache) `,` type($cache_seqlens)
  }];
  let extraClassDeclaration = [{
    /// The softmax scale: the attribute, or 1/sqrt(head_dim).
    float getEffectiveScale();
  }];
}

def Iolite_VarlenAttentionOp : Iolite_InferredOp<"varlen_attention"> {
  let summary = "Attention over a packed batch of variable-length sequences";
  let description = [{
    The `B` sequences of a prefill are packed without padding: `query` is
    `[Tq, Hq, D]`, `key` `[Tk, Hkv, D]`, `value` `[Tk, Hkv, Dv]`, and
    sequence `b` owns query rows `cu_seqlens_q[b] .. cu_seqlens_q[b+1]-1`
    and key rows `cu_seqlens_k[b] .. cu_seqlens_k[b+1]-1` (`i32` `[B+1]`,
    non-decreasing, starting at 0), as in FlashAttention's
    `flash_attn_varlen_func`. `Hkv` divides `Hq` (GQA).

    A query attends only to the keys of its own sequence; with `causal`,
    local query `i` of a sequence with `lq` queries and `lk` keys attends to
    local keys `j <= i + lk - lq` (aligned to the bottom right). The logit
    is `scale * dot(q, k)` (`scale` defaults to `1/sqrt(D)`); the result
    `[Tq, Hq, Dv]` is the softmax over the attended keys applied to the
    values, with f32 statistics; a query with no key gets zeros, and so do
    query rows outside every sequence. `max_seqlen_q` and `max_seqlen_k`,
    when given, bound the sequence lengths for kernels that size their grids
    by them; the reference does not need them.

    ```mlir
    %o = iolite.varlen_attention %q, %k, %v, %cuq, %cuk {causal}
        : tensor<12x8x16xf16>, tensor<12x2x16xf16>, tensor<12x2x16xf16>,
          tensor<4xi32>, tensor<4xi32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$query, Iolite_FloatTensor:$key,
                       Iolite_FloatTensor:$value,
                       RankedTensorOf<[I32]>:$cu_seqlens_q,
                       RankedTensorOf<[I32]>:$cu_seqlens_k,
                       OptionalAttr<F32Attr>:$scale, UnitAttr:$causal,
                       OptionalAttr<I64Attr>:$max_seqlen_q,
                       OptionalAttr<I64Attr>:$max_seqlen_k);
  let results = (outs Iolite_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $cu_seqlens_q `,` $cu_seqlens_k attr-dict
    `:` type($query) `,` type($key) `,` type($value) `,` type($cu_seqlens_q)
    `,` type($cu_seqlens_k)
  }];
  let extraClassDeclaration = [{
    /// The softmax scale: the attribute, or 1/sqrt(head_dim).
    float getEffectiveScale();
  }];
}

//===----------------------------------------------------------------------===//
// State-space ops
//===----------------------------------------------------------------------===//

def Iolite_Conv1dOp : Iolite_InferredOp<"conv1d"> {
  let summary = "Depthwise causal 1-D convolution (Mamba's conv1d)";
  let description = [{
    `input` is `[B, C, L]`, `weight` `[C, K]`, `bias` `[C]`:
    `y[b, c, t] = bias[c] + sum_k weight[c, k] * x[b, c, t - (K - 1) + k]`
    with zeros before `t = 0`, accumulated in f32, followed by `activation`.

    ```mlir
    %y = iolite.conv1d %x, %w bias(%b : tensor<64xf32>) {activation = silu}
        : tensor<1x64x32xf32>, tensor<64x4xf32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$input, Iolite_FloatTensor:$weight,
                       Optional<Iolite_FloatTensor>:$bias,
                       DefaultValuedAttr<Iolite_ActivationAttr,
                           "::mlir::iolite::Activation::none">:$activation);
  let results = (outs Iolite_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`activation` `=` $activation^)? attr-dict `:` type($input) `,`
    type($weight)
  }];
}

def Iolite_Conv1dWithStateOp : Iolite_InferredOp<"conv1d_with_state"> {
  let summary = "Depthwise causal 1-D convolution continuing from a state";
  let description = [{
    `iolite.conv1d` over a chunk of a longer sequence. `input` is
    `[B, C, L]`, `weight` `[C, K]`, `bias` `[C]`, and `state` `[B, C, K-1]`
    holds the `K-1` inputs before the chunk (zeros at the start of a
    sequence), in the input's type. With `xx = concat(state, input)` along
    the length,
    `y[b, c, t] = bias[c] + sum_k weight[c, k] * xx[b, c, t + k]`,
    accumulated in f32, followed by `activation`; `final_state` is the last
    `K-1` columns of `xx`, the state for the next chunk. Running a sequence
    in chunks, each from the previous chunk's `final_state`, gives
    `iolite.conv1d` over the whole sequence; `L = 1` is the decode step
    (`causal_conv1d_update`).

    ```mlir
    %y, %s = iolite.conv1d_with_state %x, %w, %s0 {activation = silu}
        : tensor<1x64x1xf16>, tensor<64x4xf16>, tensor<1x64x3xf16>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$input, Iolite_FloatTensor:$weight,
                       Iolite_FloatTensor:$state,
                       Optional<Iolite_FloatTensor>:$bias,
                       DefaultValuedAttr<Iolite_ActivationAttr,
                           "::mlir::iolite::Activation::none">:$activation);
  let results = (outs Iolite_FloatTensor:$result,
                      Iolite_FloatTensor:$final_state);
  let assemblyFormat = [{
    $input `,` $weight `,` $state (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`activation` `=` $activation^)? attr-dict `:` type($input) `,`
    type($weight) `,` type($state)
  }];
}

def Iolite_SelectiveScanOp : Iolite_InferredOp<"selective_scan",
                                               [AttrSizedOperandSegments]> {
  let summary = "Mamba-1 selective scan";
  let description = [{
    With `u`, `delta`, `z` `[B, D, L]`, `A` `[D, N]`, `B` and `C`
    `[B, N, L]`, `D` and `delta_bias` `[D]`, per batch `b` and channel `d`:
      `dt_t = delta[t] + delta_bias` (softplus of it with `delta_softplus`),
      `h_t = exp(dt_t * A[d]) * h_{t-1} + dt_t * B[:, t] * u[t]` (`h_{-1}=0`),
      `y_t = dot(C[:, t], h_t) + D[d] * u[t]`, times `silu(z[t])` with `z`.
    The state `h` (`N` values per channel) is f32. `u`, `delta`, `B`, `C`,
    `z` share one element type, which the result has; `A`, `D` and
    `delta_bias` are f32 or that type.

    ```mlir
    %y = iolite.selective_scan %u, %dt, %A, %B, %C D(%D : tensor<64xf32>)
        z(%z : tensor<1x64x32xf32>) {delta_softplus}
        : tensor<1x64x32xf32>, tensor<1x64x32xf32>, tensor<64x16xf32>,
          tensor<1x16x32xf32>, tensor<1x16x32xf32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$u, Iolite_FloatTensor:$delta,
                       Iolite_FloatTensor:$A, Iolite_FloatTensor:$B,
                       Iolite_FloatTensor:$C, Optional<Iolite_FloatTensor>:$D,
                       Optional<Iolite_FloatTensor>:$z,
                       Optional<Iolite_FloatTensor>:$delta_bias,
                       UnitAttr:$delta_softplus);
  let results = (outs Iolite_FloatTensor:$result);
  let assemblyFormat = [{
    $u `,` $delta `,` $A `,` $B `,` $C (`D` `(` $D^ `:` type($D) `)`)?
    (`z` `(` $z^ `:` type($z) `)`)?
    (`delta_bias` `(` $delta_bias^ `:` type($delta_bias) `)`)? attr-dict `:`
    type($u) `,` type($delta) `,` type($A) `,` type($B) `,` type($C)
  }];
}

def Iolite_SelectiveScanWithStateOp
    : Iolite_InferredOp<"selective_scan_with_state",
                        [AttrSizedOperandSegments]> {
  let summary = "Mamba-1 selective scan from an initial state";
  let description = [{
    `iolite.selective_scan` over a chunk of a longer sequence: the
    recurrence starts from `state` (`f32` `[B, D, N]`, `h_{-1}`; zeros at
    the start of a sequence) instead of zeros, and `final_state` is `h` after
    the chunk's last position, the state for the next chunk. Running a
    sequence in chunks, each from the previous chunk's `final_state`, gives
    `iolite.selective_scan` over the whole sequence; `L = 1` is the decode
    step (`selective_state_update`).

    ```mlir
    %y, %h = iolite.selective_scan_with_state %u, %dt, %A, %B, %C, %h0
        D(%D : tensor<64xf32>) {delta_softplus}
        : tensor<1x64x1xf32>, tensor<1x64x1xf32>, tensor<64x16xf32>,
          tensor<1x16x1xf32>, tensor<1x16x1xf32>, tensor<1x64x16xf32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$u, Iolite_FloatTensor:$delta,
                       Iolite_FloatTensor:$A, Iolite_FloatTensor:$B,
                       Iolite_FloatTensor:$C, RankedTensorOf<[F32]>:$state,
                       Optional<Iolite_FloatTensor>:$D,
                       Optional<Iolite_FloatTensor>:$z,
                       Optional<Iolite_FloatTensor>:$delta_bias,
                       UnitAttr:$delta_softplus);
  let results = (outs Iolite_FloatTensor:$result,
                      RankedTensorOf<[F32]>:$final_state);
  let assemblyFormat = [{
    $u `,` $delta `,` $A `,` $B `,` $C `,` $state
    (`D` `(` $D^ `:` type($D) `)`)? (`z` `(` $z^ `:` type($z) `)`)?
    (`delta_bias` `(` $delta_bias^ `:` type($delta_bias) `)`)? attr-dict `:`
    type($u) `,` type($delta) `,` type($A) `,` type($B) `,` type($C) `,`
    type($state)
  }];
}

def Iolite_SsdOp : Iolite_InferredOp<"ssd", [AttrSizedOperandSegments]> {
  let summary = "Mamba-2 state-space dual (SSD) with scalar A per head";
  let description = [{
    With `x` `[B, L, H, P]`, `dt` `[B, L, H]`, `A`, `D`, `dt_bias` `[H]`,
    `B` and `C` `[B, L, G, N]` (`G` divides `H`; head `h` uses group
    `h / (H / G)`), per batch and head:
      `dt_t = dt[t] + dt_bias` (softplus of it with `dt_softplus`),
      `h_t = exp(dt_t * A) * h_{t-1} + dt_t * outer(x[t], B[t])` (`P x N`),
      `y_t = h_t C[t] + D * x[t]`.
    `chunk_size` is the chunk length of the chunked algorithm; it does not
    change the result. The state is f32; the result has `x`'s type.

    ```mlir
    %y = iolite.ssd %x, %dt, %A, %B, %C D(%D : tensor<4xf32>) {chunk_size = 16 : i64}
        : tensor<1x32x4x16xf32>, tensor<1x32x4xf32>, tensor<4xf32>,
          tensor<1x32x1x8xf32>, tensor<1x32x1x8xf32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$x, Iolite_FloatTensor:$dt,
                       Iolite_FloatTensor:$A, Iolite_FloatTensor:$B,
                       Iolite_FloatTensor:$C, Optional<Iolite_FloatTensor>:$D,
                       Optional<Iolite_FloatTensor>:$dt_bias,
                       DefaultValuedAttr<I64Attr, "64">:$chunk_size,
                       UnitAttr:$dt_softplus);
  let results = (outs Iolite_FloatTensor:$result);
  let assemblyFormat = [{
    $x `,` $dt `,` $A `,` $B `,` $C (`D` `(` $D^ `:` type($D) `)`)?
    (`dt_bias` `(` $dt_bias^ `:` type($dt_bias) `)`)? attr-dict `:`
    type($x) `,` type($dt) `,` type($A) `,` type($B) `,` type($C)
  }];
}

def Iolite_SsdWithStateOp
    : Iolite_InferredOp<"ssd_with_state", [AttrSizedOperandSegments]> {
  let summary = "Mamba-2 SSD from an initial state";
  let description = [{
    `iolite.ssd` over a chunk of a longer sequence: the recurrence starts
    from `state` (`f32` `[B, H, P, N]`, `h_{-1}` per head; zeros at the
    start of a sequence, as Mamba-2's `ssm_state`) instead of zeros, and
    `final_state` is `h` after the chunk's last position, the state for the
    next chunk. Running a sequence in chunks, each from the previous
    chunk's `final_state`, gives `iolite.ssd` over the whole sequence;
    `L = 1` is the decode step (Mamba-2's `selective_state_update` with
    scalar A per head).

    ```mlir
    %y, %h = iolite.ssd_with_state %x, %dt, %A, %B, %C, %h0
        D(%D : tensor<4xf32>) {dt_softplus}
        : tensor<1x1x4x16xf32>, tensor<1x1x4xf32>, tensor<4xf32>,
          tensor<1x1x1x8xf32>, tensor<1x1x1x8xf32>, tensor<1x4x16x8xf32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$x, Iolite_FloatTensor:$dt,
                       Iolite_FloatTensor:$A, Iolite_FloatTensor:$B,
                       Iolite_FloatTensor:$C, RankedTensorOf<[F32]>:$state,
                       Optional<Iolite_FloatTensor>:$D,
                       Optional<Iolite_FloatTensor>:$dt_bias,
                       DefaultValuedAttr<I64Attr, "64">:$chunk_size,
                       UnitAttr:$dt_softplus);
  let results = (outs Iolite_FloatTensor:$result,
                      RankedTensorOf<[F32]>:$final_state);
  let assemblyFormat = [{
    $x `,` $dt `,` $A `,` $B `,` $C `,` $state
    (`D` `(` $D^ `:` type($D) `)`)?
    (`dt_bias` `(` $dt_bias^ `:` type($dt_bias) `)`)? attr-dict `:`
    type($x) `,` type($dt) `,` type($A) `,` type($B) `,` type($C) `,`
    type($state)
  }];
}

def Iolite_LongConvOp : Iolite_InferredOp<"long_conv"> {
  let summary = "Causal long convolution (Hyena / H3)";
  let description = [{
    `input` is `[B, C, L]`, `filter` `[C, K]` with `K <= L` (usually `K = L`),
    `D` `[C]`: `y[b, c, t] = sum_{s <= t, s < K} filter[c, s] * x[b, c, t - s]
    + D[c] * x[b, c, t]`, accumulated in f32. The reference is a direct sum;
    an FFT gives the same result.

    ```mlir
    %y = iolite.long_conv %x, %h D(%d : tensor<8xf32>)
        : tensor<1x8x64xf32>, tensor<8x64xf32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$input, Iolite_FloatTensor:$filter,
                       Optional<Iolite_FloatTensor>:$D);
  let results = (outs Iolite_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $filter (`D` `(` $D^ `:` type($D) `)`)? attr-dict `:`
    type($input) `,` type($filter)
  }];
}

//===----------------------------------------------------------------------===//
// Mixture-of-experts ops
//===----------------------------------------------------------------------===//

def Iolite_RouterOp : Iolite_InferredOp<"router"> {
  let summary = "MoE router: scores, top-k experts and their weights";
  let description = [{
    From `logits` `[T, E]`, scores are `softmax` over the experts or an
    elementwise `sigmoid`; each token keeps its `k` best experts (`i32`
    `[T, k]`, best first, ties to the lower expert index) and their scores
    (`[T, k]`, computed in f32, in the logits' type), divided by their sum
    when `renormalize` is set.

    ```mlir
    %w, %ids = iolite.router %logits {k = 2 : i64, renormalize}
        : tensor<16x8xf32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$logits, I64Attr:$k,
                       DefaultValuedAttr<Iolite_RouterScoringAttr,
                           "::mlir::iolite::RouterScoring::softmax">:$scoring,
                       UnitAttr:$renormalize);
  let results = (outs Iolite_FloatTensor:$weights,
                      RankedTensorOf<[I32]>:$expert_ids);
  let assemblyFormat = [{
    $logits (`scoring` `=` $scoring^)? attr-dict `:` type($logits)
  }];
}

def Iolite_DispatchOp : Iolite_InferredOp<"dispatch"> {
  let summary = "Permute token copies into expert order";
  let description = [{
    With `input` `[T, D]` and `expert_ids` `[T, k]`, the `T*k` assignments
    (row `r = t*k + j` is token `t`'s `j`-th expert) are sorted stably by
    expert. `sorted[s] = input[row_index[s] / k]`, `row_index` (`i32`,
    `[T*k]`) gives the assignment of each sorted row, and expert `e` owns
    sorted rows `offsets[e] .. offsets[e+1]-1` (`i32`, `[E+1]`). Ids
    outside `[0, E)` are not assigned to any expert and sort last.

    ```mlir
    %xs, %rows, %offs = iolite.dispatch %x, %ids {num_experts = 8 : i64}
        : tensor<16x64xf32>, tensor<16x2xi32>
    ```
  }];
  let arguments = (ins Iolite_Tensor:$input, Iolite_IndexTensor:$expert_ids,
                       I64Attr:$num_experts);
  let results = (outs Iolite_Tensor:$sorted, RankedTensorOf<[I32]>:$row_index,
                      RankedTensorOf<[I32]>:$offsets);
  let assemblyFormat = [{
    $input `,` $expert_ids attr-dict `:` type($input) `,` type($expert_ids)
  }];
}

def Iolite_GroupedMatmulOp : Iolite_InferredOp<"grouped_matmul"> {
  let summary = "Ragged grouped matmul over expert-sorted rows";
  let description = [{
    `input` is `[R, K]`, `weight` `[E, K, N]` (`[E, N, K]` with
    `transpose_rhs`), `offsets` `[E+1]`: rows `offsets[e] .. offsets[e+1]-1`
    are multiplied by `weight[e]` (a row in several groups, when the offsets
    decrease, belongs to the first); rows outside every group are zero.
    Accumulation is in f32.

    ```mlir
    %h = iolite.grouped_matmul %xs, %w, %offs
        : tensor<32x64xf16>, tensor<8x64x128xf16>, tensor<9xi32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$input, Iolite_FloatTensor:$weight,
                       Iolite_IndexTensor:$offsets, UnitAttr:$transpose_rhs);
  let results = (outs Iolite_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $offsets attr-dict `:` type($input) `,`
    type($weight) `,` type($offsets)
  }];
}

def Iolite_CombineOp : Iolite_InferredOp<"combine"> {
  let summary = "Weighted scatter of expert outputs back to token order";
  let description = [{
    With `input` `[T*k, N]` in dispatch order, `row_index` `[T*k]` from
    `iolite.dispatch` and `weights` `[T, k]`:
    `y[t] = sum_j weights[t, j] * input[s(t, j)]` where `row_index[s] =
    t*k + j`, summed in f32 in order of `j`.

    ```mlir
    %y = iolite.combine %ys, %rows, %w
        : tensor<32x64xf32>, tensor<32xi32>, tensor<16x2xf32>
    ```
  }];
  let arguments = (ins Iolite_FloatTensor:$input, Iolite_IndexTensor:$row_index,
                       Iolite_FloatTensor:$weights);
  let results = (outs Iolite_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $row_index `,` $weights attr-dict `:` type($input) `,`
    type($row_index) `,` type($weights)
  }];
}

//===----------------------------------------------------------------------===//
// Kernels
//===----------------------------------------------------------------------===//

def Iolite_KernelOp : Iolite_Op<"kernel",
    [IsolatedFromAbove, SingleBlock, RecursiveMemoryEffects]> {
  let summary = "A group of ops that becomes one GPU kernel";
  let description = [{
    The fusion pass groups ops into kernels. The body reads only its block
    arguments (bound to `inputs`) and yields the kernel's results. The
    memory planner records on each kernel where its results live
    (`result_offsets`, an `array<i64>` with one entry per result: bytes into
    the workspace, or -1 for results that are function results; the
    verifier checks its length and values). A result placed at the offset
    of an input's buffer overwrites that input in place, which the planner
    allows only where each element is read before it is written.

    ```mlir
    %r = iolite.kernel "k0" (%x, %w) : (tensor<8x64xf32>, tensor<64xf32>)
        -> tensor<8x64xf32> {
    ^bb0(%a: tensor<8x64xf32>, %b: tensor<64xf32>):
      %y = iolite.rms_norm %a weight(%b : tensor<64xf32>) : tensor<8x64xf32>
      iolite.yield %y : tensor<8x64xf32>
    }
    ```
  }];
  let arguments = (ins StrAttr:$name, Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $name `(` $inputs `)` attr-dict `:` functional-type($inputs, $results)
    $body
  }];
  let hasVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [OpBuilder<(ins "::llvm::StringRef":$name,
                                 "::mlir::TypeRange":$resultTypes,
                                 "::mlir::ValueRange":$inputs)>];
  let extraClassDeclaration = [{
    /// The yield that ends the body.
    YieldOp getYield();
  }];
}

def Iolite_YieldOp : Iolite_Op<"yield",
    [Pure, Terminator, ReturnLike, HasParent<"KernelOp">]> {
  let summary = "Ends an iolite.kernel body";
  let description = [{
    ```mlir
    iolite.yield %y : tensor<8x64xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let builders = [OpBuilder<(ins), [{ /* nothing to yield */ }]>];
}

#endif // IOLITE_DIALECT_IOLITE_IR_IOLITEOPS_TD
