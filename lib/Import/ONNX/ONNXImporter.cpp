//===- ONNXImporter.cpp - ONNX models to the iolite dialect ---------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The graph walk: graph inputs become function arguments, initializers
// constants, each node goes through the converter of its op type, and the
// graph outputs are returned. The converters live in ElementwiseOps.cpp,
// ShapeOps.cpp and NNOps.cpp.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "iolite/Dialect/Iolite/IR/DynamicDims.h"
#include "iolite/Dialect/Iolite/IR/TypeInference.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::onnx_import;

//===----------------------------------------------------------------------===//
// Types and tensors
//===----------------------------------------------------------------------===//

Type mlir::iolite::onnx_import::convertDataType(MLIRContext *ctx,
                                                int32_t dataType) {
  auto sint = [&](unsigned w) { return IntegerType::get(ctx, w); };
  auto uint = [&](unsigned w) {
    return IntegerType::get(ctx, w, IntegerType::Unsigned);
  };
  switch (static_cast<DataType>(dataType)) {
  case DataType::Float:
    return Float32Type::get(ctx);
  case DataType::Float16:
    return Float16Type::get(ctx);
  case DataType::BFloat16:
    return BFloat16Type::get(ctx);
  case DataType::Double:
    return Float64Type::get(ctx);
  case DataType::Bool:
    return sint(1);
  case DataType::Int8:
    return sint(8);
  case DataType::Int16:
    return sint(16);
  case DataType::Int32:
    return sint(32);
  case DataType::Int64:
    return sint(64);
  case DataType::UInt8:
    return uint(8);
  case DataType::UInt16:
    return uint(16);
  case DataType::UInt32:
    return uint(32);
  case DataType::UInt64:
    return uint(64);
  default:
    return {};
  }
}

bool mlir::iolite::onnx_import::isIoliteElementType(Type type) {
  if (type.isF32() || type.isF16() || type.isBF16())
    return true;
  auto it = dyn_cast<IntegerType>(type);
  return it && it.isSignless() &&
         (it.getWidth() == 1 || it.getWidth() == 32 || it.getWidth() == 64);
}

std::string mlir::iolite::onnx_import::onnxTypeName(Type type) {
  if (type.isF32())
    return "float";
  if (type.isF16())
    return "float16";
  if (type.isBF16())
    return "bfloat16";
  if (type.isF64())
    return "double";
  if (auto it = dyn_cast<IntegerType>(type)) {
    if (it.getWidth() == 1)
      return "bool";
    return (it.isUnsigned() ? "uint" : "int") + std::to_string(it.getWidth());
  }
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

std::string mlir::iolite::onnx_import::shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(shape, os, [&](int64_t d) {
    if (ShapedType::isDynamic(d))
      os << "?";
    else
      os << d;
  });
  os << "]";
  return s;
}

FailureOr<DenseElementsAttr> mlir::iolite::onnx_import::convertTensor(
    MLIRContext *ctx, const Tensor &tensor,
    function_ref<InFlightDiagnostic()> emitError) {
  Type elemType = convertDataType(ctx, tensor.dataType);
  if (!elemType) {
    emitError() << "unsupported: tensor '" << tensor.name
                << "' has element type " << dataTypeName(tensor.dataType);
    return failure();
  }
  for (int64_t d : tensor.dims) {
    if (d < 0) {
      emitError() << "tensor '" << tensor.name << "' has a negative dim";
      return failure();
    }
  }
  auto type = RankedTensorType::get(tensor.dims, elemType);
  size_t n = static_cast<size_t>(type.getNumElements());
  if (tensor.raw.size() != n * dataTypeSize(tensor.dataType)) {
    emitError() << "tensor '" << tensor.name << "' has " << tensor.raw.size()
                << " bytes of data but its shape " << shapeString(tensor.dims)
                << " needs " << n * dataTypeSize(tensor.dataType);
    return failure();
  }
  if (elemType.isInteger(1)) {
    // MLIR packs i1 as bits; ONNX stores one byte per bool.
    SmallVector<bool> bits;
    bits.reserve(n);
    for (char c : tensor.raw)
      bits.push_back(c != 0);
    return DenseElementsAttr::get(type, bits);
  }
  ArrayRef<char> raw(tensor.raw.data(), tensor.raw.size());
  bool splat = false;
  if (!DenseElementsAttr::isValidRawBuffer(type, raw, splat)) {
    emitError() << "tensor '" << tensor.name
                << "' has a data layout the importer cannot read";
    return failure();
  }
  return DenseElementsAttr::getFromRawBuffer(type, raw);
}

//===----------------------------------------------------------------------===//
// NodeContext
//===----------------------------------------------------------------------===//

NodeContext::NodeContext(GraphImporter &importer, const Node &node,
                         unsigned index, Location loc, int64_t opset)
    : node(node), index(index), loc(loc), opset(opset),
      builder(importer.builder), ctx(importer.ctx), importer(importer) {}

std::string NodeContext::describe() const {
  if (!node.name.empty())
    return "node '" + node.name + "' (" + node.opType + ")";
  return "node #" + std::to_string(index) + " (" + node.opType + ")";
}

InFlightDiagnostic NodeContext::emitError() {
  return mlir::emitError(loc) << describe() << ": ";
}

InFlightDiagnostic NodeContext::emitUnsupported() {
  return mlir::emitError(loc) << describe() << ": unsupported: ";
}

LogicalResult NodeContext::check(function_ref<LogicalResult(Location)> rule) {
  std::string message;
  LogicalResult result = success();
  {
    // Catch the rule's own diagnostic and re-emit it with the node's name.
    ScopedDiagnosticHandler capture(ctx, [&](Diagnostic &diag) {
      if (message.empty())
        message = diag.str();
      return success();
    });
    result = rule(loc);
  }
  if (succeeded(result))
    return success();
  emitError() << (message.empty() ? std::string("invalid operands") : message);
  return failure();
}

bool NodeContext::hasInput(unsigned i) const {
  return i < node.inputs.size() && !node.inputs[i].empty();
}

bool NodeContext::hasOutput(unsigned i) const {
  return i < node.outputs.size() && !node.outputs[i].empty();
}

LogicalResult NodeContext::checkArity(unsigned min, unsigned max,
                                      unsigned minOutputs,
                                      unsigned maxOutputs) {
  if (numInputs() < min || numInputs() > max) {
    auto diag = emitError() << "expects ";
    if (min == max)
      diag << min;
    else if (max == ~0u)
      diag << "at least " << min;
    else
      diag << min << " to " << max;
    diag << " inputs, got " << numInputs();
    return failure();
  }
  for (unsigned i = 0; i < min; ++i) {
    if (!hasInput(i))
      return emitError() << "input " << i << " is required";
  }
  if (numOutputs() < minOutputs || numOutputs() > maxOutputs)
    return emitError() << "expects " << minOutputs
                       << (minOutputs == maxOutputs
                               ? std::string()
                               : " to " + std::to_string(maxOutputs))
                       << " outputs, got " << numOutputs();
  return success();
}

FailureOr<RankedTensorType> NodeContext::inputType(unsigned i) {
  if (!hasInput(i))
    return emitError() << "input " << i << " is required";
  GraphImporter::Entry *e = importer.lookup(node.inputs[i]);
  assert(e && "inputs are checked before conversion");
  if (e->value)
    return cast<RankedTensorType>(e->value.getType());
  return cast<RankedTensorType>(e->constant.getType());
}

FailureOr<Value> NodeContext::input(unsigned i) {
  if (!hasInput(i))
    return emitError() << "input " << i << " is required";
  GraphImporter::Entry *e = importer.lookup(node.inputs[i]);
  assert(e && "inputs are checked before conversion");
  return importer.materialize(*e, loc, [&]() {
    return emitError() << "input " << i << " ('" << node.inputs[i] << "'): ";
  });
}

DenseElementsAttr NodeContext::constInput(unsigned i) {
  if (!hasInput(i))
    return {};
  GraphImporter::Entry *e = importer.lookup(node.inputs[i]);
  return e ? e->constant : DenseElementsAttr();
}

bool NodeContext::allInputsConstant() {
  for (unsigned i = 0; i < numInputs(); ++i)
    if (hasInput(i) && !constInput(i))
      return false;
  return true;
}

std::optional<SmallVector<HostTensor>>
NodeContext::foldableInputs(int64_t resultElements) {
  if (!allInputsConstant() || resultElements < 0 ||
      resultElements > importer.options.maxFoldElements)
    return std::nullopt;
  for (unsigned i = 0; i < numInputs(); ++i)
    if (hasInput(i) &&
        constInput(i).getNumElements() > importer.options.maxFoldElements)
      return std::nullopt;
  SmallVector<HostTensor> result;
  for (unsigned i = 0; i < numInputs(); ++i)
    result.push_back(hasInput(i) ? HostTensor::fromAttr(constInput(i))
                                 : HostTensor());
  return result;
}

/// The diagnostic for a shape-like operand computed at run time.
static InFlightDiagnostic notKnown(NodeContext &ctx, unsigned i,
                                   StringRef what) {
  return ctx.emitUnsupported()
         << what << " (input " << i << ", '" << ctx.node.inputs[i]
         << "') must be known at import time; it is "
            "computed from graph inputs";
}

FailureOr<DenseElementsAttr> NodeContext::constScalar(unsigned i,
                                                      StringRef what) {
  if (!hasInput(i))
    return emitError() << what << " (input " << i << ") is required";
  DenseElementsAttr c = constInput(i);
  if (!c)
    return notKnown(*this, i, what);
  if (c.getNumElements() != 1)
    return emitError() << what << " (input " << i
                       << ") must hold one value, got " << c.getType();
  return c;
}

FailureOr<SmallVector<int64_t>> NodeContext::constInts(unsigned i,
                                                       StringRef what) {
  DenseElementsAttr c = constInput(i);
  if (!c) {
    if (!hasInput(i))
      return emitError() << what << " (input " << i << ") is required";
    return notKnown(*this, i, what);
  }
  if (!isa<IntegerType>(c.getElementType()) || c.getType().getRank() > 1)
    return emitError() << what << " (input " << i
                       << ") must be a 0-D or 1-D integer tensor, got "
                       << c.getType();
  SmallVector<int64_t> result;
  bool isUnsigned = isa<IntegerType>(c.getElementType()) &&
                    cast<IntegerType>(c.getElementType()).isUnsigned();
  for (const APInt &v : c.getValues<APInt>())
    result.push_back(isUnsigned ? static_cast<int64_t>(v.getZExtValue())
                                : v.getSExtValue());
  return result;
}

const NodeAttribute *NodeContext::attr(StringRef name) const {
  for (const NodeAttribute &a : node.attributes)
    if (a.name == name)
      return &a;
  return nullptr;
}

FailureOr<int64_t> NodeContext::intAttr(StringRef name, int64_t dflt) {
  const NodeAttribute *a = attr(name);
  if (!a)
    return dflt;
  if (a->kind != NodeAttribute::Kind::Int)
    return emitError() << "attribute '" << name << "' must be an int";
  return a->i;
}

FailureOr<float> NodeContext::floatAttr(StringRef name, float dflt) {
  const NodeAttribute *a = attr(name);
  if (!a)
    return dflt;
  if (a->kind != NodeAttribute::Kind::Float)
    return emitError() << "attribute '" << name << "' must be a float";
  return a->f;
}

FailureOr<std::string> NodeContext::stringAttr(StringRef name, StringRef dflt) {
  const NodeAttribute *a = attr(name);
  if (!a)
    return dflt.str();
  if (a->kind != NodeAttribute::Kind::String)
    return emitError() << "attribute '" << name << "' must be a string";
  return a->s;
}

FailureOr<std::optional<SmallVector<int64_t>>>
NodeContext::intsAttr(StringRef name) {
  const NodeAttribute *a = attr(name);
  if (!a)
    return std::optional<SmallVector<int64_t>>();
  if (a->kind != NodeAttribute::Kind::Ints)
    return emitError() << "attribute '" << name << "' must be a list of ints";
  return std::optional<SmallVector<int64_t>>(
      SmallVector<int64_t>(a->ints.begin(), a->ints.end()));
}

LogicalResult NodeContext::checkAttributes(ArrayRef<StringRef> known) {
  for (const NodeAttribute &a : node.attributes) {
    if (!llvm::is_contained(known, StringRef(a.name)))
      return emitUnsupported() << "attribute '" << a.name << "'";
    if (!a.refAttrName.empty())
      return emitUnsupported()
             << "attribute '" << a.name << "' refers to a function attribute";
  }
  return success();
}

void NodeContext::setOutput(unsigned i, Value value) {
  if (hasOutput(i))
    importer.define(node.outputs[i], {value, {}, {}, {}});
}

void NodeContext::setOutput(unsigned i, DenseElementsAttr value) {
  if (hasOutput(i))
    importer.define(node.outputs[i], {{}, value, {}, loc});
}

void NodeContext::poisonOutput(unsigned i, StringRef reason) {
  if (hasOutput(i))
    importer.define(node.outputs[i], {{}, {}, reason.str(), {}});
}

//===----------------------------------------------------------------------===//
// NodeContext: building ops
//===----------------------------------------------------------------------===//

FailureOr<Value> NodeContext::constant(DenseElementsAttr value) {
  if (!isIoliteElementType(value.getElementType()))
    return emitUnsupported()
           << "element type " << onnxTypeName(value.getElementType());
  return ConstantOp::create(builder, loc, value).getResult();
}

FailureOr<Value> NodeContext::scalar(Type type, double value) {
  auto t = RankedTensorType::get({}, type);
  if (isa<FloatType>(type))
    return constant(DenseElementsAttr::get(t, FloatAttr::get(type, value)));
  return constant(DenseElementsAttr::get(
      t, IntegerAttr::get(type, static_cast<int64_t>(value))));
}

static Type elemTypeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

LogicalResult NodeContext::requireFloat(Value v, StringRef what) {
  if (isa<FloatType>(elemTypeOf(v)))
    return success();
  return emitUnsupported() << what << " has element type "
                           << onnxTypeName(elemTypeOf(v))
                           << "; iolite computes this op on floats only";
}

LogicalResult NodeContext::requireNumeric(Value v, StringRef what) {
  if (!elemTypeOf(v).isInteger(1))
    return success();
  return emitError() << what << " must be numeric, not bool";
}

LogicalResult NodeContext::requireSameElementType(Value a, Value b) {
  if (elemTypeOf(a) == elemTypeOf(b))
    return success();
  return emitError() << "operand element types differ: "
                     << onnxTypeName(elemTypeOf(a)) << " and "
                     << onnxTypeName(elemTypeOf(b));
}

FailureOr<Value> NodeContext::compare(ComparePredicate pred, Value lhs,
                                      Value rhs) {
  if (failed(requireSameElementType(lhs, rhs)))
    return failure();
  SmallVector<Type> types;
  if (failed(check([&](Location l) {
        return inferElementwiseOp(l, {lhs.getType(), rhs.getType()},
                                  builder.getI1Type(), types);
      })))
    return failure();
  return CompareOp::create(builder, loc, types[0], pred, lhs, rhs).getResult();
}

FailureOr<Value> NodeContext::select(Value cond, Value onTrue, Value onFalse) {
  if (!elemTypeOf(cond).isInteger(1))
    return emitError() << "condition must be bool, got "
                       << onnxTypeName(elemTypeOf(cond));
  SmallVector<Type> types;
  if (failed(check([&](Location l) {
        return inferSelectOp(l, cond.getType(), onTrue.getType(),
                             onFalse.getType(), types);
      })))
    return failure();
  return SelectOp::create(builder, loc, types[0], cond, onTrue, onFalse)
      .getResult();
}

FailureOr<Value> NodeContext::castElements(Value v, Type elemType) {
  if (elemTypeOf(v) == elemType)
    return v;
  if (!isIoliteElementType(elemType))
    return emitUnsupported() << "cast to " << onnxTypeName(elemType);
  auto type = RankedTensorType::get(
      cast<RankedTensorType>(v.getType()).getShape(), elemType);
  return CastOp::create(builder, loc, type, v).getResult();
}

FailureOr<Value> NodeContext::reshape(Value v, ArrayRef<int64_t> shape) {
  auto in = cast<RankedTensorType>(v.getType());
  auto type = RankedTensorType::get(shape, in.getElementType());
  if (type == in)
    return v;
  if (failed(check([&](Location l) { return verifyReshape(l, in, type); })))
    return failure();
  return ReshapeOp::create(builder, loc, type, v).getResult();
}

FailureOr<Value> NodeContext::broadcast(Value v, ArrayRef<int64_t> shape) {
  auto in = cast<RankedTensorType>(v.getType());
  auto type = RankedTensorType::get(shape, in.getElementType());
  if (type == in)
    return v;
  if (failed(check([&](Location l) { return verifyBroadcastTo(l, in, type); })))
    return failure();
  return BroadcastOp::create(builder, loc, type, v).getResult();
}

FailureOr<Value> NodeContext::transpose(Value v, ArrayRef<int64_t> perm) {
  if (llvm::equal(perm, llvm::seq<int64_t>(0, perm.size())) &&
      static_cast<int64_t>(perm.size()) ==
          cast<RankedTensorType>(v.getType()).getRank())
    return v;
  SmallVector<Type> types;
  if (failed(check([&](Location l) {
        return inferTransposeOp(l, v.getType(), perm, types);
      })))
    return failure();
  return TransposeOp::create(builder, loc, types[0], v, perm).getResult();
}

FailureOr<Value> NodeContext::slice(Value v, ArrayRef<int64_t> starts,
                                    ArrayRef<int64_t> limits,
                                    ArrayRef<int64_t> strides) {
  auto in = cast<RankedTensorType>(v.getType());
  bool identity = llvm::all_of(starts, [](int64_t s) { return s == 0; }) &&
                  llvm::equal(limits, in.getShape()) &&
                  llvm::all_of(strides, [](int64_t s) { return s == 1; });
  if (identity)
    return v;
  SmallVector<Type> types;
  if (failed(check([&](Location l) {
        return inferSliceOp(l, v.getType(), starts, limits, strides, types);
      })))
    return failure();
  DenseI64ArrayAttr stridesAttr;
  if (!llvm::all_of(strides, [](int64_t s) { return s == 1; }))
    stridesAttr = builder.getDenseI64ArrayAttr(strides);
  return SliceOp::create(builder, loc, types[0], v,
                         builder.getDenseI64ArrayAttr(starts),
                         builder.getDenseI64ArrayAttr(limits), stridesAttr)
      .getResult();
}

FailureOr<Value> NodeContext::concat(ValueRange inputs, int64_t axis) {
  if (inputs.size() == 1)
    return inputs.front();
  for (Value v : inputs.drop_front())
    if (failed(requireSameElementType(inputs.front(), v)))
      return failure();
  SmallVector<Type> types;
  if (failed(check([&](Location l) {
        return inferConcatOp(l, inputs.getTypes(), axis, types);
      })))
    return failure();
  return ConcatOp::create(builder, loc, types[0], inputs, axis).getResult();
}

FailureOr<Value> NodeContext::reduce(ReduceKind kind, Value v,
                                     ArrayRef<int64_t> axes, bool keepDims) {
  if (failed(requireNumeric(v, "the input")))
    return failure();
  SmallVector<Type> types;
  if (failed(check([&](Location l) {
        return inferReduceOp(l, v.getType(), axes, keepDims, types);
      })))
    return failure();
  return ReduceOp::create(builder, loc, types[0], kind, v, axes, keepDims)
      .getResult();
}

FailureOr<Value> NodeContext::matmul(Value lhs, Value rhs, bool transposeLhs,
                                     bool transposeRhs) {
  if (failed(requireSameElementType(lhs, rhs)) ||
      failed(requireNumeric(lhs, "the input")))
    return failure();
  SmallVector<Type> types;
  if (failed(check([&](Location l) {
        return inferMatmulOp(l, lhs.getType(), rhs.getType(), transposeLhs,
                             transposeRhs, types);
      })))
    return failure();
  return MatmulOp::create(builder, loc, types[0], lhs, rhs, transposeLhs,
                          transposeRhs)
      .getResult();
}

FailureOr<Value> NodeContext::gather(Value data, Value indices, int64_t axis) {
  if (!isa<IntegerType>(elemTypeOf(indices)) ||
      elemTypeOf(indices).isInteger(1))
    return emitError() << "indices must be int32 or int64, got "
                       << onnxTypeName(elemTypeOf(indices));
  SmallVector<Type> types;
  if (failed(check([&](Location l) {
        return inferGatherOp(l, data.getType(), indices.getType(), axis, types);
      })))
    return failure();
  return GatherOp::create(builder, loc, types[0], data, indices, axis)
      .getResult();
}

//===----------------------------------------------------------------------===//
// GraphImporter
//===----------------------------------------------------------------------===//

const llvm::StringMap<ConvertFn> &mlir::iolite::onnx_import::getConverters() {
  static const llvm::StringMap<ConvertFn> converters = [] {
    llvm::StringMap<ConvertFn> map;
    populateElementwiseConverters(map);
    populateShapeConverters(map);
    populateNNConverters(map);
    return map;
  }();
  return converters;
}

static bool isDefaultDomain(StringRef domain) {
  return domain.empty() || domain == "ai.onnx";
}

GraphImporter::GraphImporter(MLIRContext *ctx, const Model &model,
                             StringRef filename,
                             const ONNXImportOptions &options)
    : ctx(ctx), builder(ctx), options(options), model(model),
      filename(StringAttr::get(ctx, filename)) {}

Location GraphImporter::nodeLoc(const Node &node, unsigned index) {
  Location file = FileLineColLoc::get(filename, index + 1, 0);
  StringRef name = node.name;
  if (name.empty() && !node.outputs.empty())
    name = node.outputs.front();
  if (name.empty())
    return file;
  return NameLoc::get(StringAttr::get(ctx, name), file);
}

Location GraphImporter::valueLoc(StringRef name) {
  return NameLoc::get(StringAttr::get(ctx, name),
                      FileLineColLoc::get(filename, 0, 0));
}

GraphImporter::Entry *GraphImporter::lookup(StringRef name) {
  auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

void GraphImporter::define(StringRef name, Entry entry) {
  values[name] = std::move(entry);
}

FailureOr<Value>
GraphImporter::materialize(Entry &entry, Location loc,
                           function_ref<InFlightDiagnostic()> emitError) {
  if (entry.value)
    return entry.value;
  Type elemType = entry.constant.getElementType();
  if (!isIoliteElementType(elemType)) {
    emitError() << "unsupported: element type " << onnxTypeName(elemType)
                << " (iolite has float, float16, bfloat16, bool, int32 and "
                   "int64 tensors)";
    return failure();
  }
  entry.value =
      ConstantOp::create(builder, entry.loc.value_or(loc), entry.constant)
          .getResult();
  return entry.value;
}

FailureOr<RankedTensorType> GraphImporter::inputType(const ValueInfo &info) {
  Location loc = valueLoc(info.name);
  if (!info.isTensor)
    return emitError(loc) << "unsupported: graph input '" << info.name
                          << "' is not a tensor";
  Type elemType = convertDataType(ctx, info.elemType);
  if (!elemType || !isIoliteElementType(elemType))
    return emitError(loc) << "unsupported: graph input '" << info.name
                          << "' has element type "
                          << (elemType ? onnxTypeName(elemType)
                                       : dataTypeName(info.elemType));
  if (!info.hasShape)
    return emitError(loc) << "graph input '" << info.name
                          << "' has no shape; iolite needs static shapes";
  SmallVector<int64_t> shape;
  for (auto [i, dim] : llvm::enumerate(info.dims)) {
    if (dim.known) {
      if (dim.value < 0)
        return emitError(loc) << "graph input '" << info.name << "' dim " << i
                              << " is negative";
      shape.push_back(dim.value);
      continue;
    }
    if (dim.param.empty())
      return emitError(loc) << "graph input '" << info.name << "' dim " << i
                            << " is unknown; iolite needs static shapes";
    auto it = options.dimValues.find(dim.param);
    if (it != options.dimValues.end()) {
      shape.push_back(it->second);
      continue;
    }
    if (options.dimBounds.count(dim.param) || options.otherDimBounds) {
      shape.push_back(ShapedType::kDynamic);
      continue;
    }
    return emitError(loc) << "graph input '" << info.name << "' dim " << i
                          << " is the symbolic dim '" << dim.param
                          << "'; give it a value with --dim " << dim.param
                          << "=N or bounds with --dim " << dim.param
                          << "=LO..HI";
  }
  return RankedTensorType::get(shape, elemType);
}

LogicalResult GraphImporter::checkDeclaredType(const ValueInfo &info, Type type,
                                               Location loc, StringRef what) {
  if (!info.isTensor)
    return success();
  auto t = cast<RankedTensorType>(type);
  Type declaredElem = convertDataType(ctx, info.elemType);
  bool elemOk = info.elemType == 0 || declaredElem == t.getElementType();
  bool shapeOk = true;
  if (info.hasShape) {
    shapeOk = static_cast<int64_t>(info.dims.size()) == t.getRank();
    for (size_t i = 0; shapeOk && i < info.dims.size(); ++i) {
      const Dim &d = info.dims[i];
      int64_t expected = ShapedType::kDynamic;
      if (d.known) {
        expected = d.value;
      } else if (!d.param.empty()) {
        auto it = options.dimValues.find(d.param);
        if (it != options.dimValues.end())
          expected = it->second;
      }
      if (expected != ShapedType::kDynamic && expected != t.getDimSize(i))
        shapeOk = false;
    }
  }
  if (elemOk && shapeOk)
    return success();
  auto diag = emitError(loc)
              << "shape mismatch: the model declares " << what << " '"
              << info.name << "' as " << dataTypeName(info.elemType);
  if (info.hasShape) {
    diag << "[";
    llvm::interleaveComma(info.dims, diag, [&](const Dim &d) {
      if (d.known)
        diag << d.value;
      else
        diag << (d.param.empty() ? std::string("?") : d.param);
    });
    diag << "]";
  }
  diag << " but it computes " << onnxTypeName(t.getElementType())
       << shapeString(t.getShape());
  return failure();
}

LogicalResult GraphImporter::checkSupported() {
  const llvm::StringMap<ConvertFn> &converters = getConverters();
  llvm::StringSet<> localFunctions;
  for (const std::string &f : model.functions)
    localFunctions.insert(f);
  bool ok = true;
  for (auto [index, node] : llvm::enumerate(model.graph.nodes)) {
    if (isDefaultDomain(node.domain) && converters.count(node.opType))
      continue;
    ok = false;
    std::string who = node.name.empty() ? "node #" + std::to_string(index)
                                        : "node '" + node.name + "'";
    auto diag = emitError(nodeLoc(node, index))
                << who << " (" << node.opType << "): unsupported: ";
    if (localFunctions.contains(node.domain + ":" + node.opType))
      diag << "it calls a model-local function, which the importer does not "
              "inline";
    else if (!isDefaultDomain(node.domain))
      diag << "op domain '" << node.domain << "'";
    else
      diag << "no conversion for op type " << node.opType;
  }
  return success(ok);
}

LogicalResult GraphImporter::importNode(const Node &node, unsigned index) {
  Location loc = nodeLoc(node, index);
  NodeContext nctx(*this, node, index, loc, opset);
  for (auto [i, name] : llvm::enumerate(node.inputs)) {
    if (name.empty())
      continue;
    Entry *e = lookup(name);
    if (!e)
      return nctx.emitError()
             << "input " << i << " ('" << name
             << "') is not defined by a graph input, an initializer or an "
                "earlier node";
    if (!e->poison.empty() && !symbolicInts.count(name))
      return nctx.emitError()
             << "input " << i << " ('" << name << "'): " << e->poison;
  }
  for (const std::string &name : node.outputs) {
    if (!name.empty() && lookup(name))
      return nctx.emitError() << "output '" << name
                              << "' is already defined (ONNX values are "
                                 "assigned once)";
  }
  if (std::optional<LogicalResult> r = importSymbolicShapeNode(nctx, *this))
    return *r;
  // Converters read their inputs' shapes to fold, to infer reshapes and to
  // count elements; those below are written for symbolic (`?`) dims, the
  // rest would need every dim to be known.
  static constexpr llvm::StringLiteral kSymbolicOk =
      " Add Sub Mul Div Pow Mod Max Min Sum Mean Equal Less LessOrEqual"
      " Greater GreaterOrEqual And Or Xor Not Where Sqrt Reciprocal Exp Log"
      " Tanh Erf Sigmoid Softplus Sin Cos Neg Abs Relu Floor Ceil Round Sign"
      " Cast CastLike Identity Clip LeakyRelu PRelu Elu Selu Celu HardSigmoid"
      " HardSwish Softsign ThresholdedRelu Mish Tan IsNaN IsInf Shrink MatMul"
      " Gemm Softmax LogSoftmax LayerNormalization ReduceSum ReduceMean"
      " ReduceMax ReduceMin Transpose ";
  if (!kSymbolicOk.contains(" " + node.opType + " ")) {
    for (unsigned i = 0; i < nctx.numInputs(); ++i) {
      if (!nctx.hasInput(i))
        continue;
      FailureOr<RankedTensorType> t = nctx.inputType(i);
      if (succeeded(t) && !t->hasStaticShape())
        return nctx.emitUnsupported()
               << "input " << i << " ('" << node.inputs[i]
               << "') has symbolic dims " << shapeString(t->getShape())
               << "; this op needs them known: give them values with "
                  "--dim NAME=N";
    }
  }
  const llvm::StringMap<ConvertFn> &converters = getConverters();
  auto it = converters.find(node.opType);
  assert(it != converters.end() && "checked by checkSupported");
  if (failed(it->second(nctx)))
    return failure();
  for (const std::string &name : node.outputs) {
    if (!name.empty() && !lookup(name))
      return nctx.emitUnsupported() << "output '" << name << "'";
  }
  return success();
}

LogicalResult
GraphImporter::importInputs(SmallVectorImpl<Type> &argTypes,
                            SmallVectorImpl<Location> &argLocs,
                            SmallVectorImpl<StringRef> &argNames,
                            SmallVectorImpl<ArrayAttr> &argDimNames) {
  llvm::StringSet<> initializerNames;
  for (const Tensor &t : model.graph.initializers)
    initializerNames.insert(t.name);
  llvm::StringSet<> seen;
  bool ok = true;
  for (const ValueInfo &info : model.graph.inputs) {
    // Since IR version 4 an initializer may also be listed as an input (a
    // default that a runtime could override); it is a constant here.
    if (initializerNames.contains(info.name))
      continue;
    if (!seen.insert(info.name).second) {
      emitError(valueLoc(info.name))
          << "graph input '" << info.name << "' is listed twice";
      ok = false;
      continue;
    }
    FailureOr<RankedTensorType> type = inputType(info);
    if (failed(type)) {
      ok = false;
      continue;
    }
    argTypes.push_back(*type);
    argLocs.push_back(valueLoc(info.name));
    argNames.push_back(info.name);
    SmallVector<Attribute> symbols;
    for (auto [d, dim] : llvm::enumerate(info.dims))
      symbols.push_back(builder.getStringAttr(
          type->isDynamicDim(d) ? StringRef(dim.param) : StringRef()));
    argDimNames.push_back(
        type->hasStaticShape() ? ArrayAttr() : builder.getArrayAttr(symbols));
  }
  // A --dim that names no symbolic dim may be a typo, or meant for another
  // model of a batch.
  llvm::StringSet<> params;
  for (const ValueInfo &info : model.graph.inputs)
    for (const Dim &d : info.dims)
      if (!d.param.empty())
        params.insert(d.param);
  for (const auto &entry : options.dimBounds) {
    if (!params.contains(entry.getKey())) {
      emitWarning(FileLineColLoc::get(filename, 0, 0))
          << "--dim " << entry.getKey()
          << ": the graph inputs have no symbolic dim of that name";
    } else if (entry.getValue().first < 0 ||
               entry.getValue().second < entry.getValue().first) {
      emitError(FileLineColLoc::get(filename, 0, 0))
          << "--dim " << entry.getKey()
          << " needs bounds LO..HI with 0 <= LO <= HI";
      ok = false;
    }
  }
  for (const auto &entry : options.dimValues) {
    if (!params.contains(entry.getKey())) {
      emitWarning(FileLineColLoc::get(filename, 0, 0))
          << "--dim " << entry.getKey()
          << ": the graph inputs have no symbolic dim of that name";
    } else if (entry.getValue() < 0) {
      emitError(FileLineColLoc::get(filename, 0, 0))
          << "--dim " << entry.getKey() << " must not be negative";
      ok = false;
    }
  }
  return success(ok);
}

LogicalResult GraphImporter::importInitializers() {
  bool ok = true;
  for (const Tensor &t : model.graph.initializers) {
    Location loc = valueLoc(t.name);
    if (lookup(t.name)) {
      emitError(loc) << "initializer '" << t.name << "' is defined twice";
      ok = false;
      continue;
    }
    FailureOr<DenseElementsAttr> attr =
        convertTensor(ctx, t, [&]() { return emitError(loc); });
    if (failed(attr)) {
      ok = false;
      continue;
    }
    define(t.name, {{}, *attr, {}, loc});
  }
  return success(ok);
}

OwningOpRef<ModuleOp> GraphImporter::import() {
  ctx->getOrLoadDialect<IoliteDialect>();
  ctx->getOrLoadDialect<func::FuncDialect>();
  Location fileLoc = FileLineColLoc::get(filename, 0, 0);

  if (failed(checkSupported()))
    return nullptr;
  bool haveOpset = false;
  for (const auto &[domain, version] : model.opsetImports) {
    if (isDefaultDomain(domain)) {
      opset = version;
      haveOpset = true;
    }
  }
  if (!haveOpset) {
    emitError(fileLoc) << "the model imports no version of the default ONNX "
                          "domain (opset_import)";
    return nullptr;
  }
  if (model.graph.hasSparseInitializers) {
    emitError(fileLoc) << "unsupported: sparse initializers";
    return nullptr;
  }

  SmallVector<Type> argTypes;
  SmallVector<Location> argLocs;
  SmallVector<StringRef> argNames;
  SmallVector<ArrayAttr> argDimNames;
  if (failed(importInputs(argTypes, argLocs, argNames, argDimNames)) ||
      failed(importInitializers()))
    return nullptr;

  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  builder.setInsertionPointToEnd(module->getBody());
  std::string name = options.functionName;
  if (name.empty())
    name = model.graph.name.empty() ? "main" : model.graph.name;
  auto func = func::FuncOp::create(builder, fileLoc, name,
                                   builder.getFunctionType(argTypes, {}));
  Block *entry = func.addEntryBlock();
  for (auto [i, arg] : llvm::enumerate(entry->getArguments())) {
    arg.setLoc(argLocs[i]);
    define(argNames[i], {arg, {}, {}, {}});
  }
  // Symbolic dims that stay dynamic: named per argument, bounded on the
  // function (only the symbols some input uses).
  SmallVector<NamedAttribute> bounds;
  llvm::StringSet<> usedSymbols;
  for (auto [i, names] : llvm::enumerate(argDimNames)) {
    if (!names)
      continue;
    func.setArgAttr(i, kDimNamesAttrName, names);
    for (Attribute a : names) {
      StringRef symbol = cast<StringAttr>(a).getValue();
      if (symbol.empty() || !usedSymbols.insert(symbol).second)
        continue;
      auto it = options.dimBounds.find(symbol);
      auto [lo, hi] = it != options.dimBounds.end() ? it->getValue()
                                                    : *options.otherDimBounds;
      bounds.push_back(
          builder.getNamedAttr(symbol, builder.getDenseI64ArrayAttr({lo, hi})));
    }
  }
  if (!bounds.empty())
    func->setAttr(kDimBoundsAttrName, builder.getDictionaryAttr(bounds));
  builder.setInsertionPointToEnd(entry);

  for (auto [index, node] : llvm::enumerate(model.graph.nodes))
    if (failed(importNode(node, index)))
      return nullptr;

  // Value infos are optional, but when given they must agree with what was
  // computed.
  for (const ValueInfo &info : model.graph.valueInfo) {
    Entry *e = lookup(info.name);
    if (!e || !e->poison.empty())
      continue;
    Type type = e->value ? e->value.getType() : e->constant.getType();
    if (failed(checkDeclaredType(info, type, valueLoc(info.name), "value")))
      return nullptr;
  }

  SmallVector<Value> results;
  for (const ValueInfo &info : model.graph.outputs) {
    Location loc = valueLoc(info.name);
    Entry *e = lookup(info.name);
    if (!e) {
      emitError(loc) << "graph output '" << info.name
                     << "' is not produced by any node, input or initializer";
      return nullptr;
    }
    if (!e->poison.empty()) {
      emitError(loc) << "graph output '" << info.name << "': " << e->poison;
      return nullptr;
    }
    FailureOr<Value> v = materialize(*e, loc, [&]() {
      return emitError(loc) << "graph output '" << info.name << "': ";
    });
    if (failed(v) ||
        failed(checkDeclaredType(info, v->getType(), loc, "graph output")))
      return nullptr;
    results.push_back(*v);
  }
  func::ReturnOp::create(builder, fileLoc, results);
  func.setFunctionType(
      builder.getFunctionType(argTypes, ValueRange(results).getTypes()));

  if (failed(mlir::verify(*module)))
    return nullptr;
  return module;
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

/// Reads the model in `buffer`; emits a diagnostic on failure.
static LogicalResult readBuffer(llvm::MemoryBufferRef buffer, ONNXFormat format,
                                MLIRContext *ctx, Model &model) {
  StringRef path = buffer.getBufferIdentifier();
  std::string baseDir = llvm::sys::path::parent_path(path).str();
  std::string error =
      readModel(buffer.getBufferStart(), buffer.getBufferSize(),
                format == ONNXFormat::Text ? Format::Text : Format::Binary,
                baseDir, model);
  if (error.empty())
    return success();
  return emitError(FileLineColLoc::get(ctx, path, 0, 0)) << error;
}

OwningOpRef<ModuleOp>
mlir::iolite::importONNXModel(llvm::MemoryBufferRef buffer, ONNXFormat format,
                              MLIRContext *context,
                              const ONNXImportOptions &options) {
  Model model;
  if (failed(readBuffer(buffer, format, context, model)))
    return nullptr;
  GraphImporter importer(context, model, buffer.getBufferIdentifier(), options);
  return importer.import();
}

FailureOr<std::vector<ONNXUnsupportedNode>>
mlir::iolite::findUnsupportedONNXNodes(llvm::MemoryBufferRef buffer,
                                       ONNXFormat format,
                                       MLIRContext *context) {
  Model model;
  if (failed(readBuffer(buffer, format, context, model)))
    return failure();
  std::vector<ONNXUnsupportedNode> result;
  for (auto [index, node] : llvm::enumerate(model.graph.nodes)) {
    if (isSupportedONNXOp(node.domain, node.opType))
      continue;
    result.push_back(
        {node.name, node.domain, node.opType, static_cast<unsigned>(index)});
  }
  return result;
}

bool mlir::iolite::isSupportedONNXOp(StringRef domain, StringRef opType) {
  return isDefaultDomain(domain) && getConverters().count(opType);
}

std::vector<std::string> mlir::iolite::getSupportedONNXOps() {
  std::vector<std::string> ops;
  for (const auto &entry : getConverters())
    ops.push_back(entry.getKey().str());
  llvm::sort(ops);
  return ops;
}
