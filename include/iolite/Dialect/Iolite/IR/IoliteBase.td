//===- IoliteBase.td - Iolite dialect definition -----------*- tablegen -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The iolite dialect: model graphs of transformer, state-space and
// mixture-of-experts layers on ranked tensors.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITE_IR_IOLITEBASE_TD
#define IOLITE_DIALECT_IOLITE_IR_IOLITEBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Iolite_Dialect : Dialect {
  let name = "iolite";
  let cppNamespace = "::mlir::iolite";
  let summary = "Tensor graphs of transformer, state-space and MoE models";
  let description = [{
    The `iolite` dialect describes model graphs on ranked tensors of `f32`,
    `f16` and `bf16` (plus `i1` masks and `i32`/`i64` indices). Besides the
    usual elementwise, reduction and data-movement ops it has first-class
    ops for the layers whose fused GPU kernels Iolite emits: `attention`,
    `selective_scan`, `ssd`, `long_conv`, `conv1d`, `router`, `dispatch`,
    `grouped_matmul` and `combine`. Every op has a reference semantics given
    by its lowering to linalg (see docs/IoliteRationale.md).
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Iolite_Float : AnyTypeOf<[F32, F16, BF16], "f32, f16 or bf16">;
def Iolite_Int : AnyTypeOf<[I32, I64], "i32 or i64">;
def Iolite_Element : AnyTypeOf<[F32, F16, BF16, I1, I32, I64],
                               "f32, f16, bf16, i1, i32 or i64">;

def Iolite_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def Iolite_IndexTensor : RankedTensorOf<[I32, I64]>;
def Iolite_Tensor : RankedTensorOf<[F32, F16, BF16, I1, I32, I64]>;
def Iolite_NumericTensor : RankedTensorOf<[F32, F16, BF16, I32, I64]>;
def Iolite_MaskTensor : RankedTensorOf<[I1, F32, F16, BF16]>;

#endif // IOLITE_DIALECT_IOLITE_IR_IOLITEBASE_TD
