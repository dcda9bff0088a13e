//===- ModelReader.h - ONNX protobuf to plain C++ structs -------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The one place that touches protobuf and libonnx. It turns a serialized
// ModelProto (binary, or the ONNX text syntax of onnx.parser) into the plain
// structs below, with every tensor's data normalized to little-endian bytes
// and external data already read in. The rest of the importer is ordinary
// MLIR code that never sees a protobuf header: those headers are large, and
// libonnx's parser may throw, so this file alone is compiled with exceptions
// (see lib/Import/ONNX/CMakeLists.txt).
//
// Nothing here includes LLVM or MLIR headers.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_IMPORT_ONNX_MODELREADER_H
#define IOLITE_LIB_IMPORT_ONNX_MODELREADER_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mlir {
namespace iolite {
namespace onnx_import {

/// ONNX TensorProto element types (the values of onnx.proto's DataType).
enum class DataType : int32_t {
  Undefined = 0,
  Float = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,
  Bool = 9,
  Float16 = 10,
  Double = 11,
  UInt32 = 12,
  UInt64 = 13,
  Complex64 = 14,
  Complex128 = 15,
  BFloat16 = 16,
};

/// The ONNX spelling of `type` ("float", "int64", ...), for diagnostics.
const char *dataTypeName(int32_t type);

/// Bytes per element in Tensor::raw (bool is one byte); 0 for strings,
/// complex and unknown types.
size_t dataTypeSize(int32_t type);

/// A tensor with its elements as little-endian bytes.
struct Tensor {
  std::string name;
  int32_t dataType = 0;
  std::vector<int64_t> dims;
  /// dataTypeSize(dataType) bytes per element, row-major.
  std::string raw;
};

/// One dim of a value's declared shape.
struct Dim {
  /// A dim_value was given.
  bool known = false;
  int64_t value = 0;
  /// The dim_param, when given (symbolic dims such as "batch").
  std::string param;
};

/// A graph input, output or value_info entry.
struct ValueInfo {
  std::string name;
  /// The type is a tensor type (not a sequence, map or optional).
  bool isTensor = false;
  int32_t elemType = 0;
  bool hasShape = false;
  std::vector<Dim> dims;
};

/// A node attribute. Only the fields of its kind are set.
struct NodeAttribute {
  enum class Kind {
    Undefined = 0,
    Float = 1,
    Int = 2,
    String = 3,
    Tensor = 4,
    Graph = 5,
    Floats = 6,
    Ints = 7,
    Strings = 8,
    Tensors = 9,
    Graphs = 10,
    SparseTensor = 11,
    SparseTensors = 12,
    TypeProto = 13,
    TypeProtos = 14,
  };
  std::string name;
  Kind kind = Kind::Undefined;
  float f = 0.0f;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  /// Set in function bodies: the attribute refers to a caller's attribute.
  std::string refAttrName;
};

struct Node {
  std::string name;
  std::string opType;
  std::string domain;
  /// Input and output names; an empty name is an omitted optional value.
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<NodeAttribute> attributes;
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;
  std::vector<Tensor> initializers;
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  std::vector<ValueInfo> valueInfo;
  /// The graph has sparse_initializer entries (not supported).
  bool hasSparseInitializers = false;
};

struct Model {
  int64_t irVersion = 0;
  /// (domain, version) pairs of opset_import.
  std::vector<std::pair<std::string, int64_t>> opsetImports;
  std::string producerName;
  std::string producerVersion;
  Graph graph;
  /// Names of model-local functions (FunctionProto), "domain:name".
  std::vector<std::string> functions;
};

enum class Format {
  /// A serialized ModelProto (.onnx).
  Binary,
  /// The ONNX text syntax read by onnx.parser (.onnxtxt).
  Text,
};

/// Parses `size` bytes at `data` into `model`. Tensors stored as external
/// data are read from files relative to `baseDir`, which they must not leave.
/// Returns an empty string on success and a message otherwise.
std::string readModel(const char *data, size_t size, Format format,
                      const std::string &baseDir, Model &model);

} // namespace onnx_import
} // namespace iolite
} // namespace mlir

#endif // IOLITE_LIB_IMPORT_ONNX_MODELREADER_H
