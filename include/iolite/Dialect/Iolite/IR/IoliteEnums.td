//===- IoliteEnums.td - Iolite enums -----------------------*- tablegen -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITE_IR_IOLITEENUMS_TD
#define IOLITE_DIALECT_IOLITE_IR_IOLITEENUMS_TD

include "iolite/Dialect/Iolite/IR/IoliteBase.td"
include "mlir/IR/EnumAttr.td"

def Iolite_ReduceKind : I32EnumAttr<"ReduceKind", "reduction kind", [
    I32EnumAttrCase<"sum", 0>, I32EnumAttrCase<"mean", 1>,
    I32EnumAttrCase<"max", 2>, I32EnumAttrCase<"min", 3>,
    I32EnumAttrCase<"prod", 4>]> {
  let cppNamespace = "::mlir::iolite";
  let genSpecializedAttr = 0;
}
def Iolite_ReduceKindAttr : EnumAttr<Iolite_Dialect, Iolite_ReduceKind,
                                     "reduce_kind">;

def Iolite_ComparePredicate : I32EnumAttr<"ComparePredicate",
    "comparison predicate", [
    I32EnumAttrCase<"eq", 0>, I32EnumAttrCase<"ne", 1>,
    I32EnumAttrCase<"lt", 2>, I32EnumAttrCase<"le", 3>,
    I32EnumAttrCase<"gt", 4>, I32EnumAttrCase<"ge", 5>]> {
  let cppNamespace = "::mlir::iolite";
  let genSpecializedAttr = 0;
}
def Iolite_ComparePredicateAttr : EnumAttr<Iolite_Dialect,
    Iolite_ComparePredicate, "compare_predicate">;

def Iolite_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "GELU approximation", [
    I32EnumAttrCase<"none", 0>, I32EnumAttrCase<"tanh", 1>]> {
  let cppNamespace = "::mlir::iolite";
  let genSpecializedAttr = 0;
}
def Iolite_GeluApproximationAttr : EnumAttr<Iolite_Dialect,
    Iolite_GeluApproximation, "gelu_approximation">;

def Iolite_Activation : I32EnumAttr<"Activation", "fused activation", [
    I32EnumAttrCase<"none", 0>, I32EnumAttrCase<"silu", 1>]> {
  let cppNamespace = "::mlir::iolite";
  let genSpecializedAttr = 0;
}
def Iolite_ActivationAttr : EnumAttr<Iolite_Dialect, Iolite_Activation,
                                     "activation">;

def Iolite_RouterScoring : I32EnumAttr<"RouterScoring",
    "router score function", [
    I32EnumAttrCase<"softmax", 0>, I32EnumAttrCase<"sigmoid", 1>]> {
  let cppNamespace = "::mlir::iolite";
  let genSpecializedAttr = 0;
}
def Iolite_RouterScoringAttr : EnumAttr<Iolite_Dialect, Iolite_RouterScoring,
                                        "router_scoring">;

#endif // IOLITE_DIALECT_IOLITE_IR_IOLITEENUMS_TD
