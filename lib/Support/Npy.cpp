//===- Npy.cpp - NumPy .npy files -----------------------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Support/Npy.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace mlir;
using namespace mlir::iolite;
using llvm::StringRef;

namespace {

struct DTypeInfo {
  NpyDType dtype;
  char kind;
  size_t size;
  StringRef name;
};

constexpr DTypeInfo kDTypes[] = {
    {NpyDType::Bool, 'b', 1, "bool"},
    {NpyDType::Int8, 'i', 1, "int8"},
    {NpyDType::UInt8, 'u', 1, "uint8"},
    {NpyDType::Int16, 'i', 2, "int16"},
    {NpyDType::UInt16, 'u', 2, "uint16"},
    {NpyDType::Int32, 'i', 4, "int32"},
    {NpyDType::UInt32, 'u', 4, "uint32"},
    {NpyDType::Int64, 'i', 8, "int64"},
    {NpyDType::UInt64, 'u', 8, "uint64"},
    {NpyDType::Float16, 'f', 2, "float16"},
    {NpyDType::Float32, 'f', 4, "float32"},
    {NpyDType::Float64, 'f', 8, "float64"},
};

const DTypeInfo &info(NpyDType dtype) {
  for (const DTypeInfo &i : kDTypes)
    if (i.dtype == dtype)
      return i;
  llvm_unreachable("unknown dtype");
}

llvm::Error makeError(StringRef name, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 name + ": " + message);
}

/// A cursor over the header's Python dict literal.
class HeaderParser {
public:
  explicit HeaderParser(StringRef text) : text(text) {}

  void skipSpace() { text = text.ltrim(" \t\r\n"); }
  bool consume(StringRef token) {
    skipSpace();
    return text.consume_front(token);
  }
  bool parseString(std::string &out) {
    skipSpace();
    if (text.empty() || (text.front() != '\'' && text.front() != '"'))
      return false;
    char quote = text.front();
    size_t end = text.find(quote, 1);
    if (end == StringRef::npos)
      return false;
    out = text.substr(1, end - 1).str();
    text = text.drop_front(end + 1);
    return true;
  }
  bool parseInt(int64_t &out) {
    skipSpace();
    size_t n = 0;
    while (n < text.size() && llvm::isDigit(text[n]))
      ++n;
    if (n == 0 || text.substr(0, n).getAsInteger(10, out))
      return false;
    text = text.drop_front(n);
    text.consume_front("L"); // Python 2 longs.
    return true;
  }
  bool parseBool(bool &out) {
    if (consume("True")) {
      out = true;
      return true;
    }
    if (consume("False")) {
      out = false;
      return true;
    }
    return false;
  }
  bool parseShape(llvm::SmallVectorImpl<int64_t> &shape) {
    if (!consume("("))
      return false;
    while (!consume(")")) {
      int64_t d;
      if (!parseInt(d))
        return false;
      shape.push_back(d);
      if (!consume(",")) {
        if (!consume(")"))
          return false;
        break;
      }
    }
    return true;
  }
  /// Skips a value this reader does not use.
  bool skipValue() {
    std::string s;
    bool b;
    int64_t i;
    llvm::SmallVector<int64_t> t;
    return parseString(s) || parseBool(b) || parseInt(i) || parseShape(t);
  }

private:
  StringRef text;
};

void swapBytes(std::vector<uint8_t> &data, size_t elementSize) {
  if (elementSize == 1)
    return;
  for (size_t i = 0; i + elementSize <= data.size(); i += elementSize)
    std::reverse(data.begin() + i, data.begin() + i + elementSize);
}

/// Reorders Fortran-ordered element bytes into C order.
std::vector<uint8_t> fortranToC(const std::vector<uint8_t> &data,
                                llvm::ArrayRef<int64_t> shape,
                                size_t elementSize) {
  std::vector<uint8_t> out(data.size());
  int64_t rank = shape.size();
  int64_t n = data.size() / elementSize;
  llvm::SmallVector<int64_t> index(rank, 0);
  for (int64_t c = 0; c < n; ++c) {
    // Offset of the C-order multi-index `index` in Fortran order.
    int64_t f = 0, stride = 1;
    for (int64_t d = 0; d < rank; ++d) {
      f += index[d] * stride;
      stride *= shape[d];
    }
    std::memcpy(&out[c * elementSize], &data[f * elementSize], elementSize);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
  return out;
}

} // namespace

StringRef mlir::iolite::getNpyDTypeName(NpyDType dtype) {
  return info(dtype).name;
}

size_t mlir::iolite::getNpyDTypeSize(NpyDType dtype) {
  return info(dtype).size;
}

int64_t NpyArray::getNumElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::string NpyArray::getShapeString() const {
  if (shape.empty())
    return "scalar";
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::interleave(shape, os, "x");
  return s;
}

float mlir::iolite::halfBitsToFloat(uint16_t bits) {
  uint32_t sign = (bits >> 15) & 1, exp = (bits >> 10) & 0x1f,
           mant = bits & 0x3ff;
  float value;
  if (exp == 0)
    value = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31)
    value = mant ? std::numeric_limits<float>::quiet_NaN()
                 : std::numeric_limits<float>::infinity();
  else
    value = std::ldexp(static_cast<float>(mant | 0x400), exp - 25);
  return sign ? -value : value;
}

float mlir::iolite::bfloat16BitsToFloat(uint16_t bits) {
  uint32_t word = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &word, sizeof(value));
  return value;
}

double NpyArray::getAsDouble(int64_t i) const {
  const uint8_t *p = data.data() + i * getNpyDTypeSize(dtype);
  auto load = [&](auto v) {
    std::memcpy(&v, p, sizeof(v));
    return v;
  };
  switch (dtype) {
  case NpyDType::Bool:
    return *p ? 1.0 : 0.0;
  case NpyDType::Int8:
    return load(int8_t());
  case NpyDType::UInt8:
    return load(uint8_t());
  case NpyDType::Int16:
    return load(int16_t());
  case NpyDType::UInt16:
    return load(uint16_t());
  case NpyDType::Int32:
    return load(int32_t());
  case NpyDType::UInt32:
    return load(uint32_t());
  case NpyDType::Int64:
    return static_cast<double>(load(int64_t()));
  case NpyDType::UInt64:
    return static_cast<double>(load(uint64_t()));
  case NpyDType::Float16:
    return halfBitsToFloat(load(uint16_t()));
  case NpyDType::Float32:
    return load(float());
  case NpyDType::Float64:
    return load(double());
  }
  llvm_unreachable("unknown dtype");
}

llvm::Expected<NpyArray> mlir::iolite::parseNpy(StringRef bytes,
                                                StringRef name) {
  static constexpr StringRef kMagic("\x93NUMPY", 6);
  if (!bytes.starts_with(kMagic) || bytes.size() < 10)
    return makeError(name, "not an .npy file (bad magic)");
  uint8_t major = bytes[6];
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = static_cast<uint8_t>(bytes[8]) |
                (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return makeError(name, "truncated .npy header");
    headerLen = 0;
    for (int i = 3; i >= 0; --i)
      headerLen = (headerLen << 8) | static_cast<uint8_t>(bytes[8 + i]);
    headerStart = 12;
  } else {
    return makeError(name, llvm::formatv("unsupported .npy version {0}.{1}",
                                         major, static_cast<int>(bytes[7])));
  }
  if (bytes.size() < headerStart + headerLen)
    return makeError(name, "truncated .npy header");

  HeaderParser parser(bytes.substr(headerStart, headerLen));
  std::string descr;
  bool fortran = false, sawDescr = false, sawShape = false;
  NpyArray array;
  if (!parser.consume("{"))
    return makeError(name, "malformed .npy header (expected a dict)");
  while (!parser.consume("}")) {
    std::string key;
    if (!parser.parseString(key) || !parser.consume(":"))
      return makeError(name, "malformed .npy header");
    bool ok;
    if (key == "descr") {
      ok = parser.parseString(descr);
      sawDescr = true;
    } else if (key == "fortran_order") {
      ok = parser.parseBool(fortran);
    } else if (key == "shape") {
      ok = parser.parseShape(array.shape);
      sawShape = true;
    } else {
      ok = parser.skipValue();
    }
    if (!ok)
      return makeError(name, "malformed .npy header value for '" + key + "'");
    if (!parser.consume(",")) {
      if (!parser.consume("}"))
        return makeError(name, "malformed .npy header");
      break;
    }
  }
  if (!sawDescr || !sawShape)
    return makeError(name, "the .npy header lacks 'descr' or 'shape'");

  // descr: byte order ('<', '>', '|', '='), kind, size, e.g. '<f4'.
  if (descr.size() < 3)
    return makeError(name, "unsupported dtype '" + descr + "'");
  char order = descr[0], kind = descr[1];
  unsigned size;
  if (StringRef(descr).drop_front(2).getAsInteger(10, size))
    return makeError(name, "unsupported dtype '" + descr + "'");
  const DTypeInfo *found = nullptr;
  for (const DTypeInfo &i : kDTypes)
    if (i.kind == kind && i.size == size)
      found = &i;
  if (!found || (order != '<' && order != '>' && order != '|' && order != '='))
    return makeError(name, "unsupported dtype '" + descr +
                               "' (supported: bool, int8-64, uint8-64, "
                               "float16, float32, float64)");
  array.dtype = found->dtype;

  // The header's dims are untrusted: their product must not overflow
  // before it is compared with the payload.
  uint64_t need = found->size;
  for (int64_t d : array.shape)
    if (__builtin_mul_overflow(need, static_cast<uint64_t>(d), &need) ||
        need > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return makeError(name, "shape " + array.getShapeString() + " of " +
                                 found->name + " is too large");
  StringRef payload = bytes.drop_front(headerStart + headerLen);
  if (payload.size() != need)
    return makeError(name, llvm::formatv("holds {0} data bytes but shape {1} "
                                         "of {2} needs {3}",
                                         payload.size(), array.getShapeString(),
                                         found->name, need));
  array.data.assign(payload.bytes_begin(), payload.bytes_end());
  if (order == '>')
    swapBytes(array.data, found->size);
  if (fortran && array.shape.size() > 1)
    array.data = fortranToC(array.data, array.shape, found->size);
  return array;
}

llvm::Expected<NpyArray> mlir::iolite::readNpy(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return makeError(path, "cannot read: " + buffer.getError().message());
  return parseNpy((*buffer)->getBuffer(), path);
}

std::string mlir::iolite::serializeNpy(const NpyArray &array) {
  const DTypeInfo &i = info(array.dtype);
  std::string header;
  llvm::raw_string_ostream os(header);
  os << "{'descr': '" << (i.size == 1 ? '|' : '<') << i.kind << i.size
     << "', 'fortran_order': False, 'shape': (";
  for (int64_t d : array.shape)
    os << d << (array.shape.size() == 1 ? "," : ", ");
  if (array.shape.size() > 1)
    header.resize(header.size() - 2);
  os << "), }";
  // Pad with spaces so that the data starts on a 64-byte boundary.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');

  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>((header.size() >> 8) & 0xff));
  out += header;
  out.append(reinterpret_cast<const char *>(array.data.data()),
             array.data.size());
  return out;
}

llvm::Error mlir::iolite::writeNpy(StringRef path, const NpyArray &array) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return makeError(path, "cannot write: " + ec.message());
  os << serializeNpy(array);
  os.close();
  if (os.has_error())
    return makeError(path, "cannot write: " + os.error().message());
  return llvm::Error::success();
}
