//===- ModelReader.cpp - ONNX protobuf to plain C++ structs ---------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Compiled with -fexceptions: libonnx's text parser and std::stoll may throw,
// and an exception must become an error message here rather than unwind
// through code built without exception support.
//
//===----------------------------------------------------------------------===//

#include "ModelReader.h"

#include "onnx/defs/parser.h"
#include "onnx/onnx_pb.h"

#include <climits>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>

using namespace mlir::iolite::onnx_import;

const char *mlir::iolite::onnx_import::dataTypeName(int32_t type) {
  switch (static_cast<DataType>(type)) {
  case DataType::Undefined:
    return "undefined";
  case DataType::Float:
    return "float";
  case DataType::UInt8:
    return "uint8";
  case DataType::Int8:
    return "int8";
  case DataType::UInt16:
    return "uint16";
  case DataType::Int16:
    return "int16";
  case DataType::Int32:
    return "int32";
  case DataType::Int64:
    return "int64";
  case DataType::String:
    return "string";
  case DataType::Bool:
    return "bool";
  case DataType::Float16:
    return "float16";
  case DataType::Double:
    return "double";
  case DataType::UInt32:
    return "uint32";
  case DataType::UInt64:
    return "uint64";
  case DataType::Complex64:
    return "complex64";
  case DataType::Complex128:
    return "complex128";
  case DataType::BFloat16:
    return "bfloat16";
  }
  return "unknown";
}

size_t mlir::iolite::onnx_import::dataTypeSize(int32_t type) {
  switch (static_cast<DataType>(type)) {
  case DataType::UInt8:
  case DataType::Int8:
  case DataType::Bool:
    return 1;
  case DataType::UInt16:
  case DataType::Int16:
  case DataType::Float16:
  case DataType::BFloat16:
    return 2;
  case DataType::Float:
  case DataType::Int32:
  case DataType::UInt32:
    return 4;
  case DataType::Int64:
  case DataType::Double:
  case DataType::UInt64:
    return 8;
  default:
    return 0;
  }
}

namespace {

/// Collects the first error; later ones are usually consequences.
struct Reader {
  std::string baseDir;
  std::string error;

  bool fail(const std::string &message) {
    if (error.empty())
      error = message;
    return false;
  }

  /// Appends the low `size` bytes of `value` little-endian to `out`.
  static void appendLE(std::string &out, uint64_t value, size_t size) {
    for (size_t b = 0; b < size; ++b)
      out.push_back(static_cast<char>((value >> (8 * b)) & 0xff));
  }

  /// The element count of `dims`, or -1 on a negative dim or overflow.
  static int64_t numElements(const std::vector<int64_t> &dims) {
    int64_t n = 1;
    for (int64_t d : dims) {
      if (d < 0 || (d != 0 && n > INT64_MAX / d))
        return -1;
      n *= d;
    }
    return n;
  }

  bool readExternal(const onnx::TensorProto &proto, Tensor &t, size_t bytes) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const onnx::StringStringEntryProto &e : proto.external_data()) {
      try {
        if (e.key() == "location")
          location = e.value();
        else if (e.key() == "offset")
          offset = std::stoll(e.value());
        else if (e.key() == "length")
          length = std::stoll(e.value());
      } catch (const std::exception &) {
        return fail("tensor '" + t.name + "': external_data " + e.key() + " '" +
                    e.value() + "' is not an integer");
      }
    }
    if (location.empty())
      return fail("tensor '" + t.name +
                  "' is stored externally but names no location");
    // Stay inside the model's directory, as the ONNX checker requires.
    if (location.front() == '/' || location.find("..") != std::string::npos)
      return fail("tensor '" + t.name + "': external data location '" +
                  location + "' must be a relative path without '..'");
    if (offset < 0 || (length >= 0 && static_cast<size_t>(length) != bytes))
      return fail("tensor '" + t.name + "': external data length " +
                  std::to_string(length) + " does not match the " +
                  std::to_string(bytes) + " bytes its shape needs");
    std::string path = baseDir.empty() ? location : baseDir + "/" + location;
    std::ifstream in(path, std::ios::binary);
    if (!in)
      return fail("tensor '" + t.name + "': cannot open external data file '" +
                  path + "'");
    in.seekg(0, std::ios::end);
    std::streamoff fileSize = in.tellg();
    if (fileSize < 0 ||
        static_cast<uint64_t>(offset) + bytes > static_cast<uint64_t>(fileSize))
      return fail("tensor '" + t.name + "': external data file '" + path +
                  "' is too short (" + std::to_string(fileSize) +
                  " bytes, the tensor needs " + std::to_string(bytes) +
                  " bytes at offset " + std::to_string(offset) + ")");
    t.raw.resize(bytes);
    in.seekg(offset);
    in.read(t.raw.data(), static_cast<std::streamsize>(bytes));
    if (!in)
      return fail("tensor '" + t.name + "': reading external data file '" +
                  path + "' failed");
    return true;
  }

  bool readTensor(onnx::TensorProto &proto, Tensor &t) {
    t.name = proto.name();
    t.dataType = proto.data_type();
    t.dims.assign(proto.dims().begin(), proto.dims().end());
    if (proto.has_segment())
      return fail("tensor '" + t.name + "' is segmented (not supported)");
    int64_t n = numElements(t.dims);
    if (n < 0)
      return fail("tensor '" + t.name + "' has an invalid shape");
    size_t elemSize = dataTypeSize(t.dataType);
    if (elemSize == 0) {
      // Strings and complex numbers: keep the header only; the importer
      // reports the element type when the tensor is used.
      return true;
    }
    size_t bytes = static_cast<size_t>(n) * elemSize;
    if (proto.data_location() == onnx::TensorProto_DataLocation_EXTERNAL)
      return readExternal(proto, t, bytes);
    if (proto.has_raw_data()) {
      if (proto.raw_data().size() != bytes)
        return fail("tensor '" + t.name + "' has " +
                    std::to_string(proto.raw_data().size()) +
                    " bytes of raw data but its shape and type need " +
                    std::to_string(bytes));
      t.raw.swap(*proto.mutable_raw_data());
      return true;
    }
    // Typed fields: check the count, then pack as little-endian bytes. The
    // buffer is reserved only once the count matches: a shape alone (a few
    // bytes of protobuf) must not allocate what it claims.
    auto checkCount = [&](int count) {
      if (count != n)
        return fail("tensor '" + t.name + "' has " + std::to_string(count) +
                    " values but its shape needs " + std::to_string(n));
      t.raw.reserve(bytes);
      return true;
    };
    switch (static_cast<DataType>(t.dataType)) {
    case DataType::Float:
      if (!checkCount(proto.float_data_size()))
        return false;
      for (float v : proto.float_data()) {
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        appendLE(t.raw, bits, 4);
      }
      return true;
    case DataType::Double:
      if (!checkCount(proto.double_data_size()))
        return false;
      for (double v : proto.double_data()) {
        uint64_t bits;
        std::memcpy(&bits, &v, 8);
        appendLE(t.raw, bits, 8);
      }
      return true;
    case DataType::Int64:
      if (!checkCount(proto.int64_data_size()))
        return false;
      for (int64_t v : proto.int64_data())
        appendLE(t.raw, static_cast<uint64_t>(v), 8);
      return true;
    case DataType::UInt32:
    case DataType::UInt64:
      if (!checkCount(proto.uint64_data_size()))
        return false;
      for (uint64_t v : proto.uint64_data())
        appendLE(t.raw, v, elemSize);
      return true;
    default:
      // int32_data holds int32, the narrower integers, bool, and the bits of
      // float16 and bfloat16.
      if (!checkCount(proto.int32_data_size()))
        return false;
      for (int32_t v : proto.int32_data())
        appendLE(t.raw, static_cast<uint32_t>(v), elemSize);
      return true;
    }
  }

  bool readValueInfo(const onnx::ValueInfoProto &proto, ValueInfo &v) {
    v.name = proto.name();
    if (!proto.has_type() || !proto.type().has_tensor_type())
      return true;
    const onnx::TypeProto_Tensor &tt = proto.type().tensor_type();
    v.isTensor = true;
    v.elemType = tt.elem_type();
    if (!tt.has_shape())
      return true;
    v.hasShape = true;
    for (const onnx::TensorShapeProto_Dimension &d : tt.shape().dim()) {
      Dim dim;
      if (d.has_dim_value()) {
        dim.known = true;
        dim.value = d.dim_value();
      } else if (d.has_dim_param()) {
        dim.param = d.dim_param();
      }
      v.dims.push_back(std::move(dim));
    }
    return true;
  }

  bool readAttribute(onnx::AttributeProto &proto, NodeAttribute &a) {
    using Kind = NodeAttribute::Kind;
    a.name = proto.name();
    a.refAttrName = proto.ref_attr_name();
    if (proto.has_type()) {
      a.kind = static_cast<Kind>(proto.type());
    } else if (proto.has_f()) {
      // Models older than IR version 2 leave the type out.
      a.kind = Kind::Float;
    } else if (proto.has_i()) {
      a.kind = Kind::Int;
    } else if (proto.has_s()) {
      a.kind = Kind::String;
    } else if (proto.has_t()) {
      a.kind = Kind::Tensor;
    } else if (proto.has_g()) {
      a.kind = Kind::Graph;
    } else if (proto.floats_size()) {
      a.kind = Kind::Floats;
    } else if (proto.ints_size()) {
      a.kind = Kind::Ints;
    } else if (proto.strings_size()) {
      a.kind = Kind::Strings;
    }
    a.f = proto.f();
    a.i = proto.i();
    a.s = proto.s();
    a.floats.assign(proto.floats().begin(), proto.floats().end());
    a.ints.assign(proto.ints().begin(), proto.ints().end());
    a.strings.assign(proto.strings().begin(), proto.strings().end());
    if (a.kind == Kind::Tensor && !readTensor(*proto.mutable_t(), a.t))
      return false;
    return true;
  }

  bool readGraph(onnx::GraphProto &proto, Graph &g) {
    g.name = proto.name();
    g.hasSparseInitializers = proto.sparse_initializer_size() > 0;
    for (onnx::TensorProto &t : *proto.mutable_initializer()) {
      g.initializers.emplace_back();
      if (!readTensor(t, g.initializers.back()))
        return false;
      // The bytes now live in `g`; free the protobuf's copy as we go.
      t.Clear();
    }
    for (const onnx::ValueInfoProto &v : proto.input()) {
      g.inputs.emplace_back();
      readValueInfo(v, g.inputs.back());
    }
    for (const onnx::ValueInfoProto &v : proto.output()) {
      g.outputs.emplace_back();
      readValueInfo(v, g.outputs.back());
    }
    for (const onnx::ValueInfoProto &v : proto.value_info()) {
      g.valueInfo.emplace_back();
      readValueInfo(v, g.valueInfo.back());
    }
    for (onnx::NodeProto &n : *proto.mutable_node()) {
      g.nodes.emplace_back();
      Node &node = g.nodes.back();
      node.name = n.name();
      node.opType = n.op_type();
      node.domain = n.domain();
      node.inputs.assign(n.input().begin(), n.input().end());
      node.outputs.assign(n.output().begin(), n.output().end());
      for (onnx::AttributeProto &a : *n.mutable_attribute()) {
        node.attributes.emplace_back();
        if (!readAttribute(a, node.attributes.back()))
          return false;
      }
    }
    return true;
  }

  bool readModel(onnx::ModelProto &proto, Model &m) {
    m.irVersion = proto.ir_version();
    m.producerName = proto.producer_name();
    m.producerVersion = proto.producer_version();
    for (const onnx::OperatorSetIdProto &o : proto.opset_import())
      m.opsetImports.emplace_back(o.domain(), o.version());
    for (const onnx::FunctionProto &f : proto.functions())
      m.functions.push_back(f.domain() + ":" + f.name());
    if (!proto.has_graph())
      return fail("the model has no graph");
    return readGraph(*proto.mutable_graph(), m.graph);
  }
};

} // namespace

std::string mlir::iolite::onnx_import::readModel(const char *data, size_t size,
                                                 Format format,
                                                 const std::string &baseDir,
                                                 Model &model) {
  Reader reader{baseDir, {}};
  try {
    onnx::ModelProto proto;
    if (format == Format::Text) {
      // The parser reads a NUL-terminated string.
      std::string text(data, size);
      onnx::Status status = onnx::OnnxParser::Parse(proto, text.c_str());
      if (!status.IsOK())
        return "cannot parse the ONNX text model: " + status.ErrorMessage();
    } else {
      if (size > static_cast<size_t>(INT_MAX))
        return "the model file is larger than protobuf's 2 GiB limit; store "
               "the weights as external data";
      if (!proto.ParseFromArray(data, static_cast<int>(size)))
        return "cannot parse the file as an ONNX ModelProto (truncated or "
               "not an ONNX model)";
    }
    if (!reader.readModel(proto, model))
      return reader.error;
  } catch (const std::exception &e) {
    return std::string("cannot read the ONNX model: ") + e.what();
  } catch (...) {
    return "cannot read the ONNX model";
  }
  return {};
}
