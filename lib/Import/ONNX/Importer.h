//===- Importer.h - Internals of the ONNX importer --------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The graph importer and the NodeContext that every op converter works
// through. An ONNX value is either an SSA value or a constant known at import
// time (a DenseElementsAttr of any builtin element type, including those the
// dialect does not have, such as ui8 or f64): converters fold computations on
// constants where they can and materialize iolite.constant only when an op
// needs the value.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_IMPORT_ONNX_IMPORTER_H
#define IOLITE_LIB_IMPORT_ONNX_IMPORTER_H

#include "HostTensor.h"
#include "ModelReader.h"

#include "iolite/Dialect/Iolite/IR/IoliteOps.h"
#include "iolite/Dialect/Iolite/IR/TypeInference.h"
#include "iolite/Import/ONNX/ONNXImporter.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringMap.h"

#include <optional>

namespace mlir {
namespace iolite {
namespace onnx_import {

class GraphImporter;

/// The MLIR element type of an ONNX data type (ui8, i8, f64, ... included),
/// or null for strings, complex and unknown types.
Type convertDataType(MLIRContext *ctx, int32_t dataType);

/// True when the dialect has tensors of `type` (f32, f16, bf16, i1, i32,
/// i64).
bool isIoliteElementType(Type type);

/// The ONNX spelling of an MLIR element type, for diagnostics.
std::string onnxTypeName(Type type);

/// One element of an integer tensor computed from shapes: a constant, or
/// dim `dim` of `source` (a symbolic dim, known only when the model runs).
struct SymbolicDim {
  int64_t value = 0;
  Value source;
  int64_t dim = -1;
  bool isConstant() const { return !source; }
};

/// A 0-D or 1-D integer tensor of shape arithmetic over symbolic dims
/// (Shape, Gather, Unsqueeze, Concat): kept as its elements rather than
/// materialized, and consumed as the shape operand of Reshape,
/// ConstantOfShape and Range.
struct SymbolicInts {
  bool scalar = false;
  SmallVector<SymbolicDim> elems;
};

class GraphImporter;

/// ConstantOfShape's fill: its `value` attribute (one element of any type),
/// float 0 when absent.
FailureOr<TypedAttr> constantOfShapeFill(class NodeContext &ctx);

/// Converts `ctx`'s node when it computes or consumes shapes of symbolic
/// dims (docs/dynamic-shapes.md, *ONNX shape arithmetic*); nullopt when the
/// node is not such a node and takes the ordinary path.
std::optional<LogicalResult> importSymbolicShapeNode(class NodeContext &ctx,
                                                     GraphImporter &importer);

/// Formats a shape as `[2, 3, 4]`.
std::string shapeString(ArrayRef<int64_t> shape);

/// Everything a converter sees of one node.
class NodeContext {
public:
  NodeContext(GraphImporter &importer, const Node &node, unsigned index,
              Location loc, int64_t opset);

  const Node &node;
  const unsigned index;
  const Location loc;
  /// The model's version of the default ONNX domain.
  const int64_t opset;
  OpBuilder &builder;
  MLIRContext *ctx;

  //===--------------------------------------------------------------------===//
  // Diagnostics
  //===--------------------------------------------------------------------===//

  /// An error at the node, prefixed with "node 'NAME' (OP): ".
  InFlightDiagnostic emitError();
  /// An error for a valid node the importer cannot convert; the message says
  /// "unsupported".
  InFlightDiagnostic emitUnsupported();
  /// Runs a type-inference function with a location of its own and reports
  /// its failure as an error of this node.
  LogicalResult check(function_ref<LogicalResult(Location)> rule);

  //===--------------------------------------------------------------------===//
  // Inputs
  //===--------------------------------------------------------------------===//

  size_t numInputs() const { return node.inputs.size(); }
  /// True when input `i` is given (present and not the empty name).
  bool hasInput(unsigned i) const;
  /// Fails with a diagnostic unless the node has between `min` and `max`
  /// inputs and `minOutputs`..`maxOutputs` outputs.
  LogicalResult checkArity(unsigned min, unsigned max, unsigned minOutputs = 1,
                           unsigned maxOutputs = 1);
  /// The type of input `i` (a constant's too), without materializing it.
  FailureOr<RankedTensorType> inputType(unsigned i);
  /// Input `i` as an SSA value; constants become iolite.constant here.
  FailureOr<Value> input(unsigned i);
  /// Input `i` if it is a constant known at import time, else null.
  DenseElementsAttr constInput(unsigned i);
  /// Input `i` as a list of integers; it must be a constant.
  FailureOr<SmallVector<int64_t>> constInts(unsigned i, StringRef what);
  /// Input `i` as a one-element constant; fails (naming it `what`) when it
  /// is not known at import time or has another size.
  FailureOr<DenseElementsAttr> constScalar(unsigned i, StringRef what);
  /// True when every given input is a constant.
  bool allInputsConstant();
  /// The given inputs unpacked, when all are constants and a result of
  /// `resultElements` elements (and inputs of that bound) are small enough
  /// to fold; nullopt otherwise.
  /// Absent inputs give empty tensors.
  std::optional<SmallVector<HostTensor>> foldableInputs(int64_t resultElements);

  //===--------------------------------------------------------------------===//
  // Attributes
  //===--------------------------------------------------------------------===//

  const NodeAttribute *attr(StringRef name) const;
  FailureOr<int64_t> intAttr(StringRef name, int64_t dflt);
  FailureOr<float> floatAttr(StringRef name, float dflt);
  FailureOr<std::string> stringAttr(StringRef name, StringRef dflt);
  /// The ints attribute `name`, or nullopt when absent.
  FailureOr<std::optional<SmallVector<int64_t>>> intsAttr(StringRef name);
  /// Fails when the node has an attribute outside `known`: an unknown
  /// attribute may change the meaning, so it is not ignored.
  LogicalResult checkAttributes(ArrayRef<StringRef> known);

  //===--------------------------------------------------------------------===//
  // Outputs
  //===--------------------------------------------------------------------===//

  size_t numOutputs() const { return node.outputs.size(); }
  bool hasOutput(unsigned i) const;
  void setOutput(unsigned i, Value value);
  void setOutput(unsigned i, DenseElementsAttr value);
  /// Marks output `i` as not produced; a node that uses it gets `reason`.
  void poisonOutput(unsigned i, StringRef reason);

  //===--------------------------------------------------------------------===//
  // Building iolite ops. Each validates with the dialect's type-inference
  // functions first, so a bad model gets a diagnostic, not an assertion.
  //===--------------------------------------------------------------------===//

  /// An iolite.constant of `value` (which must have a dialect element type).
  FailureOr<Value> constant(DenseElementsAttr value);
  /// A rank-0 constant of element type `type`.
  FailureOr<Value> scalar(Type type, double value);
  /// Fails unless `v` has a float element type; `what` names it.
  LogicalResult requireFloat(Value v, StringRef what);
  /// Fails unless `v` has an f32/f16/bf16/i32/i64 element type.
  LogicalResult requireNumeric(Value v, StringRef what);
  /// Fails unless `a` and `b` have one element type.
  LogicalResult requireSameElementType(Value a, Value b);

  template <typename OpTy> FailureOr<Value> binary(Value lhs, Value rhs) {
    if (failed(requireSameElementType(lhs, rhs)))
      return failure();
    SmallVector<Type> types;
    if (failed(check([&](Location l) {
          return inferElementwiseOp(l, {lhs.getType(), rhs.getType()}, Type(),
                                    types);
        })))
      return failure();
    return OpTy::create(builder, loc, types[0], lhs, rhs).getResult();
  }
  template <typename OpTy> Value unary(Value input) {
    return OpTy::create(builder, loc, input.getType(), input).getResult();
  }
  FailureOr<Value> compare(ComparePredicate pred, Value lhs, Value rhs);
  FailureOr<Value> select(Value cond, Value onTrue, Value onFalse);
  /// Converts `v` to element type `elemType` (iolite.cast).
  FailureOr<Value> castElements(Value v, Type elemType);
  FailureOr<Value> reshape(Value v, ArrayRef<int64_t> shape);
  FailureOr<Value> broadcast(Value v, ArrayRef<int64_t> shape);
  FailureOr<Value> transpose(Value v, ArrayRef<int64_t> perm);
  FailureOr<Value> slice(Value v, ArrayRef<int64_t> starts,
                         ArrayRef<int64_t> limits, ArrayRef<int64_t> strides);
  FailureOr<Value> concat(ValueRange inputs, int64_t axis);
  FailureOr<Value> reduce(ReduceKind kind, Value v, ArrayRef<int64_t> axes,
                          bool keepDims);
  FailureOr<Value> matmul(Value lhs, Value rhs, bool transposeLhs = false,
                          bool transposeRhs = false);
  FailureOr<Value> gather(Value data, Value indices, int64_t axis);

private:
  GraphImporter &importer;
  /// A diagnostic prefix "node 'NAME' (OP)".
  std::string describe() const;
};

/// A converter for one op type. It reads the node through the context and
/// sets every output it produces.
using ConvertFn = LogicalResult (*)(NodeContext &);

/// The converters of the default ONNX domain, by op type.
const llvm::StringMap<ConvertFn> &getConverters();

void populateElementwiseConverters(llvm::StringMap<ConvertFn> &map);
void populateShapeConverters(llvm::StringMap<ConvertFn> &map);
void populateNNConverters(llvm::StringMap<ConvertFn> &map);

/// Imports one graph into a function.
class GraphImporter {
public:
  GraphImporter(MLIRContext *ctx, const Model &model, StringRef filename,
                const ONNXImportOptions &options);

  /// Builds the module; null after a diagnostic.
  OwningOpRef<ModuleOp> import();

  MLIRContext *ctx;
  OpBuilder builder;
  const ONNXImportOptions &options;

  /// The node location: the node's name (or its first output's) around
  /// model-file:INDEX+1:0.
  Location nodeLoc(const Node &node, unsigned index);
  /// A location naming a graph value.
  Location valueLoc(StringRef name);

  /// The state of an ONNX value name.
  struct Entry {
    Value value;
    DenseElementsAttr constant;
    /// Non-empty when the producer could not produce it.
    std::string poison;
    /// Where a constant came from (its initializer or folding node); the
    /// iolite.constant gets this location.
    std::optional<Location> loc;
  };
  /// The entry of `name`, or null when nothing defines it (yet).
  Entry *lookup(StringRef name);
  void define(StringRef name, Entry entry);
  /// Materializes `entry`'s constant as an iolite.constant at the insertion
  /// point (nodes are imported in order, so later uses are dominated).
  FailureOr<Value> materialize(Entry &entry, Location loc,
                               function_ref<InFlightDiagnostic()> emitError);

private:
  LogicalResult importInputs(SmallVectorImpl<Type> &argTypes,
                             SmallVectorImpl<Location> &argLocs,
                             SmallVectorImpl<StringRef> &argNames,
                             SmallVectorImpl<ArrayAttr> &argDimNames);
  FailureOr<RankedTensorType> inputType(const ValueInfo &info);
  LogicalResult importInitializers();
  LogicalResult checkSupported();
  LogicalResult importNode(const Node &node, unsigned index);
  LogicalResult checkDeclaredType(const ValueInfo &info, Type type,
                                  Location loc, StringRef what);

  const Model &model;
  StringAttr filename;
  int64_t opset = 0;
  llvm::StringMap<Entry> values;

public:
  /// Shape arithmetic over symbolic dims, by value name; such a name is
  /// also defined as poison, so any other use reports why.
  llvm::StringMap<SymbolicInts> symbolicInts;
  /// For values built from a symbolic shape (ConstantOfShape): where each
  /// dim's length comes from.
  llvm::DenseMap<Value, SmallVector<SymbolicDim>> dimOrigins;
};

/// Converts an initializer or Constant-node tensor into an attribute.
FailureOr<DenseElementsAttr>
convertTensor(MLIRContext *ctx, const Tensor &tensor,
              function_ref<InFlightDiagnostic()> emitError);

} // namespace onnx_import
} // namespace iolite
} // namespace mlir

#endif // IOLITE_LIB_IMPORT_ONNX_IMPORTER_H
