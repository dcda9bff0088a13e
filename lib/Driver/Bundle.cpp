//===- Bundle.cpp - The AOT bundle: header, launch code, manifest ---------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Driver/Bundle.h"

#include "iolite/Runtime/BundleRunner.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

#include <limits>

using namespace mlir;
using namespace mlir::iolite;

static std::string dtypeName(Type t) {
  if (t.isF32())
    return "f32";
  if (t.isF16())
    return "f16";
  if (t.isBF16())
    return "bf16";
  if (t.isInteger(1))
    return "i1";
  if (t.isInteger(32))
    return "i32";
  if (t.isInteger(64))
    return "i64";
  return "unknown";
}

static BundleTensor describe(MemRefType t) {
  BundleTensor d;
  d.shape.assign(t.getShape().begin(), t.getShape().end());
  d.dtype = dtypeName(t.getElementType());
  int64_t bits = t.getElementTypeBitWidth();
  d.bytes = t.getNumElements() * (bits == 1 ? 1 : bits / 8);
  return d;
}

/// Element bytes of a constant, little endian (i1 as one byte each).
static std::string constantBytes(ElementsAttr attr) {
  std::string bytes;
  auto dense = dyn_cast<DenseElementsAttr>(attr);
  if (!dense)
    return bytes;
  Type et = dense.getElementType();
  auto append = [&](const APInt &v, unsigned width) {
    for (unsigned i = 0; i < width / 8; ++i)
      bytes.push_back(static_cast<char>(v.extractBitsAsZExtValue(8, i * 8)));
  };
  if (isa<FloatType>(et)) {
    for (APFloat v : dense.getValues<APFloat>())
      append(v.bitcastToAPInt(), et.getIntOrFloatBitWidth());
  } else if (et.isInteger(1)) {
    for (bool v : dense.getValues<bool>())
      bytes.push_back(v ? 1 : 0);
  } else {
    for (APInt v : dense.getValues<APInt>())
      append(v, et.getIntOrFloatBitWidth());
  }
  return bytes;
}

static std::optional<int64_t> constantIndex(Value v) {
  if (auto c = v.getDefiningOp<arith::ConstantIndexOp>())
    return c.value();
  if (auto c = v.getDefiningOp<arith::ConstantIntOp>())
    return c.value();
  return std::nullopt;
}

LogicalResult mlir::iolite::readHostPlan(ModuleOp module, func::FuncOp host,
                                         BundleModel &model,
                                         unsigned targetIndex) {
  unsigned numIn =
      host->getAttrOfType<IntegerAttr>("iolite.num_inputs").getInt();
  unsigned numOut =
      host->getAttrOfType<IntegerAttr>("iolite.num_outputs").getInt();
  bool first = targetIndex == 0;
  // Kernel scratch (split-KV partials) may differ per chip; the workspace
  // holds the largest.
  int64_t workspace =
      host->getAttrOfType<IntegerAttr>("iolite.workspace_size").getInt();
  model.workspaceBytes =
      first ? workspace : std::max(model.workspaceBytes, workspace);
  auto toDim = [](ArrayRef<int64_t> e) {
    BundleDim d;
    d.coeff = e[0];
    d.exps.assign(e.begin() + 1, e.end());
    return d;
  };
  if (first) {
    if (auto names = host->getAttrOfType<ArrayAttr>("iolite.symbols")) {
      auto bounds =
          host->getAttrOfType<DenseI64ArrayAttr>("iolite.symbol_bounds");
      for (auto [i, n] : llvm::enumerate(names))
        model.symbols.push_back(
            {cast<StringAttr>(n).str(), bounds[2 * i], bounds[2 * i + 1]});
    }
    for (unsigned i = 0; i < numIn + numOut; ++i) {
      BundleTensor t =
          describe(cast<MemRefType>(host.getArgument(i).getType()));
      // A tensor with symbolic dims travels as a flat buffer sized for the
      // bounds; its dims say what it holds.
      if (auto dims = host.getArgAttrOfType<ArrayAttr>(i, "iolite.dim_exprs")) {
        t.shape.clear();
        for (Attribute a : dims) {
          BundleDim d = toDim(cast<DenseI64ArrayAttr>(a).asArrayRef());
          t.shape.push_back(d.isStatic() ? d.coeff : -1);
          t.dims.push_back(std::move(d));
        }
      }
      if (auto tied =
              host.getArgAttrOfType<IntegerAttr>(i, "iolite.tied_input"))
        t.tiedInput = tied.getInt();
      (i < numIn ? model.inputs : model.outputs).push_back(t);
    }
  }
  if (auto checks = host->getAttrOfType<ArrayAttr>("iolite.input_checks");
      checks && first) {
    for (Attribute a : checks) {
      auto dict = cast<DictionaryAttr>(a);
      BundleCheck c;
      c.kind = dict.getAs<StringAttr>("kind").str();
      c.where = dict.getAs<StringAttr>("where").str();
      auto number = [&](StringRef name, int64_t &out) {
        if (auto v = dict.getAs<IntegerAttr>(name))
          out = v.getInt();
      };
      number("lens", c.lens);
      number("table", c.table);
      number("cu_seqlens_q", c.cuSeqlensQ);
      number("cu_seqlens_k", c.cuSeqlensK);
      auto size = [&](StringRef name, std::optional<BundleDim> &out) {
        if (auto v = dict.getAs<DenseI64ArrayAttr>(name))
          out = toDim(v.asArrayRef());
      };
      size("batch", c.batch);
      size("steps", c.steps);
      size("rows", c.rows);
      size("pool", c.pool);
      size("per_seq", c.perSeq);
      size("batch_plus_one", c.batchPlusOne);
      size("total_q", c.totalQ);
      size("total_k", c.totalK);
      model.checks.push_back(std::move(c));
    }
  }
  // The workspace's planned tensors: every view of it, by the name the
  // kernel generation gave it.
  host.walk([&](memref::ViewOp view) {
    std::optional<int64_t> offset = constantIndex(view.getByteShift());
    auto type = dyn_cast<MemRefType>(view.getType());
    auto name = view->getAttrOfType<StringAttr>("iolite.tensor");
    if (!offset || !type || !type.hasStaticShape() || !name)
      return;
    int64_t bytes = type.getNumElements() *
                    llvm::divideCeil(type.getElementTypeBitWidth(), 8);
    std::optional<BundleDim> atDims;
    if (auto e = view->getAttrOfType<DenseI64ArrayAttr>("iolite.bytes_expr"))
      atDims = toDim(e.asArrayRef());
    for (BundleWorkspaceTensor &t : model.workspaceTensors)
      if (t.name == name.getValue() && t.offset == *offset) {
        t.bytes = std::max(t.bytes, bytes);
        return;
      }
    model.workspaceTensors.push_back({name.str(), *offset, bytes, atDims});
  });
  SymbolTable symbols(module);
  DenseMap<StringAttr, int64_t> constantIds;
  unsigned launchNo = 0;
  for (auto launch : host.getBody().getOps<gpu::LaunchFuncOp>()) {
    auto gpuFunc = symbols.lookupNearestSymbolFrom<gpu::GPUFuncOp>(
        launch, launch.getKernel());
    if (!gpuFunc)
      return launch.emitError("launch of an unknown kernel");
    if (first) {
      BundleLaunch l;
      l.kernel = gpuFunc.getName().str();
      for (Value arg : launch.getKernelOperands()) {
        BundleArg a{BundleArg::Input};
        if (auto ba = dyn_cast<BlockArgument>(arg)) {
          unsigned n = ba.getArgNumber();
          if (n < numIn)
            a = {BundleArg::Input, n, 0};
          else if (n < numIn + numOut)
            a = {BundleArg::Output, n - numIn, 0};
          else if (n == numIn + numOut)
            a = {BundleArg::Workspace, 0, 0};
          else
            a = {BundleArg::Dim, n - numIn - numOut - 1, 0};
        } else if (auto view = arg.getDefiningOp<memref::ViewOp>()) {
          std::optional<int64_t> off = constantIndex(view.getByteShift());
          if (!off)
            return launch.emitError("workspace view at a dynamic offset");
          a = {BundleArg::Workspace, 0, *off};
        } else if (auto get = arg.getDefiningOp<memref::GetGlobalOp>()) {
          auto global = symbols.lookup<memref::GlobalOp>(get.getName());
          if (!global || !global.getInitialValue())
            return launch.emitError("constant without a value");
          auto [it, inserted] = constantIds.try_emplace(global.getSymNameAttr(),
                                                        model.constants.size());
          if (inserted)
            model.constants.push_back(
                constantBytes(cast<ElementsAttr>(*global.getInitialValue())));
          a = {BundleArg::Constant, it->second, 0};
        } else {
          return launch.emitError("kernel argument the bundle cannot place");
        }
        l.args.push_back(a);
      }
      model.launches.push_back(std::move(l));
      BundleKernel k;
      k.name = gpuFunc.getName().str();
      k.templateName =
          gpuFunc->getAttrOfType<StringAttr>("iolite.template").str();
      k.tile = gpuFunc->getAttrOfType<StringAttr>("iolite.tile").str();
      auto names = gpuFunc->getAttrOfType<ArrayAttr>("iolite.source_ops");
      auto locs = gpuFunc->getAttrOfType<ArrayAttr>("iolite.source_locs");
      for (auto [n, l] : llvm::zip(names, locs)) {
        std::string locText;
        llvm::raw_string_ostream os(locText);
        cast<LocationAttr>(l).print(os);
        k.sourceOps.push_back({cast<StringAttr>(n).str(), locText});
      }
      model.kernels.push_back(std::move(k));
    }
    if (launchNo >= model.kernels.size() ||
        model.kernels[launchNo].name != gpuFunc.getName())
      return launch.emitError("targets disagree on the kernel order");
    auto grid = gpuFunc->getAttrOfType<DenseI64ArrayAttr>("iolite.grid");
    auto block = gpuFunc->getAttrOfType<DenseI64ArrayAttr>("iolite.block");
    int64_t smem =
        gpuFunc->getAttrOfType<IntegerAttr>("iolite.shared_memory_bytes")
            .getInt();
    auto &slots = model.kernels[launchNo].launch;
    slots.resize(targetIndex + 1);
    slots[targetIndex] = {grid[0],  grid[1],  grid[2], block[0],
                          block[1], block[2], smem};
    model.gridExtents.resize(model.kernels.size());
    auto &extents = model.gridExtents[launchNo];
    extents.resize(targetIndex + 1);
    if (auto axes = gpuFunc->getAttrOfType<ArrayAttr>("iolite.grid_extents"))
      for (Attribute a : axes)
        extents[targetIndex].push_back(
            cast<DenseI64ArrayAttr>(a).asArrayRef().vec());
    auto &matrix = model.kernels[launchNo].matrix;
    matrix.resize(targetIndex + 1);
    auto attrText = [&](StringRef name) -> std::string {
      auto attr = gpuFunc->getAttrOfType<StringAttr>(name);
      return attr ? attr.str() : std::string();
    };
    matrix[targetIndex] = {attrText("iolite.matrix"),
                           attrText("iolite.matrix_reason")};
    ++launchNo;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

static void writeByteArray(llvm::raw_ostream &os, StringRef name,
                           StringRef bytes) {
  os << "static const unsigned char " << name << "["
     << std::max<size_t>(bytes.size(), 1)
     << "] __attribute__((aligned(64))) = {";
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i % 16 == 0)
      os << "\n  ";
    os << llvm::formatv("{0:x2},", static_cast<unsigned char>(bytes[i])).str();
  }
  if (bytes.empty())
    os << "0";
  os << "\n};\n";
}

static std::string sanitizeIdent(StringRef s) {
  std::string r;
  for (char c : s)
    r.push_back(llvm::isAlnum(c) ? c : '_');
  return r;
}

static std::string shapeList(ArrayRef<int64_t> shape) {
  if (shape.empty())
    return "0";
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::interleave(shape, os, ", ");
  return s;
}

//===----------------------------------------------------------------------===//
// The weights side file
//===----------------------------------------------------------------------===//

/// The C expression of a symbolic size over `const int64_t *dims`.
static std::string dimC(const BundleDim &d) {
  std::string s = std::to_string(d.coeff);
  for (auto [i, e] : llvm::enumerate(d.exps))
    for (int64_t k = 0; k < e; ++k)
      s += " * dims[" + std::to_string(i) + "]";
  return s;
}

/// "batch, seq, 32": a tensor's dims, symbols by name.
static std::string symbolicShape(const BundleModel &m, const BundleTensor &t) {
  if (t.dims.empty())
    return shapeList(t.shape);
  std::string s;
  for (auto [i, d] : llvm::enumerate(t.dims)) {
    if (i)
      s += ", ";
    if (d.isStatic()) {
      s += std::to_string(d.coeff);
      continue;
    }
    std::string term = d.coeff == 1 ? "" : std::to_string(d.coeff);
    for (auto [k, e] : llvm::enumerate(d.exps))
      for (int64_t j = 0; j < e; ++j)
        term += (term.empty() ? "" : "*") + m.symbols[k].name;
    s += term;
  }
  return s;
}

static constexpr int64_t kWeightsHeaderBytes = 64;
static constexpr int64_t kWeightsAlignment = 64;
static constexpr uint32_t kWeightsVersion = 1;
static constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
static constexpr uint64_t kFnvPrime = 0x100000001b3ull;

static uint64_t fnv1a(uint64_t hash, StringRef bytes) {
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

WeightsLayout mlir::iolite::layoutWeights(const BundleModel &m) {
  WeightsLayout layout;
  int64_t end = kWeightsHeaderBytes;
  uint64_t hash = kFnvOffset;
  bool any = false;
  for (const std::string &c : m.constants) {
    if (static_cast<int64_t>(c.size()) < m.weightsThreshold) {
      layout.offsets.push_back(-1);
      continue;
    }
    any = true;
    int64_t offset = llvm::alignTo(end, kWeightsAlignment);
    layout.offsets.push_back(offset);
    end = offset + static_cast<int64_t>(c.size());
    hash = fnv1a(hash, c);
  }
  if (any) {
    layout.fileBytes = end;
    layout.hash = hash;
  }
  return layout;
}

static void appendLE(std::string &out, uint64_t v, unsigned bytes) {
  for (unsigned i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

/// The contents of NAME.weights.
static std::string weightsFile(const BundleModel &m,
                               const WeightsLayout &layout) {
  std::string file = "IOLITEWT";
  appendLE(file, kWeightsVersion, 4);
  appendLE(file, 0, 4);
  appendLE(file, layout.fileBytes, 8);
  appendLE(file, layout.hash, 8);
  file.resize(kWeightsHeaderBytes, '\0');
  for (auto [c, offset] : llvm::zip(m.constants, layout.offsets)) {
    if (offset < 0)
      continue;
    file.resize(offset, '\0');
    file += c;
  }
  return file;
}

/// The alignment the kernels of every target assume of their buffers.
static unsigned bufferAlignment(const BundleModel &m) {
  unsigned align = 1;
  for (const TargetDescription *t : m.targets)
    align = std::max(align, t->maxVectorBytes);
  return align;
}

/// True if some output is written in place into input `i` (NAME_run then
/// takes it as a `void *`).
static bool writtenInPlace(const BundleModel &m, size_t i) {
  return llvm::any_of(m.outputs, [&](const BundleTensor &t) {
    return t.tiedInput == static_cast<int64_t>(i);
  });
}

static void writeHeader(const BundleModel &m, llvm::raw_ostream &os) {
  std::string up = StringRef(m.name).upper();
  const std::string &n = m.name;
  os << "/* " << n << ".h - generated by iolite-compile. Do not edit. */\n"
     << "#ifndef " << up << "_H\n#define " << up << "_H\n\n"
     << "#include \"iolite_runtime.h\"\n\n#ifdef __cplusplus\nextern \"C\" {\n"
     << "#endif\n\n";
  os << "/* Bytes of device scratch memory NAME_run needs. */\n"
     << "#define " << up << "_WORKSPACE_SIZE " << m.workspaceBytes << "u\n"
     << "/* Alignment every buffer passed to " << n << "_run must have. */\n"
     << "#define " << up << "_BUFFER_ALIGNMENT " << bufferAlignment(m) << "u\n"
     << "/* Constants of at least " << m.weightsThreshold
     << " bytes live in this file, next to " << n << ".c;\n   " << up
     << "_WEIGHTS_BYTES is 0 when there are none. */\n"
     << "#define " << up << "_WEIGHTS_FILE \"" << n << ".weights\"\n"
     << "#define " << up << "_WEIGHTS_BYTES " << layoutWeights(m).fileBytes
     << "u\n"
     << "#define " << up << "_NUM_INPUTS " << m.inputs.size() << "\n"
     << "#define " << up << "_NUM_OUTPUTS " << m.outputs.size() << "\n\n";
  auto tensors = [&](StringRef kind, const std::vector<BundleTensor> &ts) {
    for (auto [i, t] : llvm::enumerate(ts)) {
      std::string base =
          up + "_" + StringRef(kind).upper() + "_" + std::to_string(i);
      os << "/* " << kind << " " << i << ": " << t.dtype << "["
         << symbolicShape(m, t) << "]"
         << (t.dims.empty() || llvm::all_of(t.dims,
                                            [](const BundleDim &d) {
                                              return d.isStatic();
                                            })
                 ? ""
                 : "; -1 marks a symbolic dim, _BYTES is at the bounds")
         << " */\n";
      if (t.tiedInput >= 0)
        os << "/* Written in place into input " << t.tiedInput
           << ": not a parameter of " << n << "_run. */\n"
           << "#define " << base << "_TIED_INPUT " << t.tiedInput << "\n";
      os << "#define " << base << "_RANK " << t.shape.size() << "\n"
         << "#define " << base << "_DTYPE \"" << t.dtype << "\"\n"
         << "#define " << base << "_BYTES " << t.bytes << "u\n"
         << "static const int64_t " << n << "_" << kind << "_" << i
         << "_shape[] = {" << shapeList(t.shape) << "};\n";
    }
  };
  tensors("input", m.inputs);
  tensors("output", m.outputs);
  bool symbolic = !m.symbols.empty();
  if (symbolic) {
    os << "\n/* Symbolic dims. One compile serves every size within the "
          "bounds: "
       << n
       << "_run\n   takes one value per dim, in this "
          "order. A value outside its bounds\n   is "
          "IOLITE_ERROR_INVALID_ARGUMENT before any launch. */\n"
       << "#define " << up << "_NUM_DIMS " << m.symbols.size() << "\n";
    for (auto [i, sym] : llvm::enumerate(m.symbols))
      os << "#define " << up << "_DIM_"
         << sanitizeIdent(StringRef(sym.name).upper()) << " " << i << " /* "
         << sym.name << ": " << sym.lo << ".." << sym.hi << " */\n";
    os << "static const int64_t " << n << "_dim_min[] = {";
    for (const BundleSymbol &sym : m.symbols)
      os << sym.lo << ", ";
    os << "};\nstatic const int64_t " << n << "_dim_max[] = {";
    for (const BundleSymbol &sym : m.symbols)
      os << sym.hi << ", ";
    os << "};\n\n"
       << "/* " << up
       << "_WORKSPACE_SIZE serves every call; this is the "
          "part a call at `dims`\n   touches (0 for dims out of bounds). */\n"
       << "size_t " << n << "_workspace_size(const int64_t *dims);\n"
       << "/* Bytes of input/output `i` at `dims` (0 for an unknown `i` or "
          "dims out of\n   bounds). */\n"
       << "size_t " << n << "_input_bytes(int i, const int64_t *dims);\n"
       << "size_t " << n << "_output_bytes(int i, const int64_t *dims);\n"
       << "/* The shape of input/output `i` at `dims`: its rank's entries "
          "into `shape`. */\n"
       << "iolite_status_t " << n
       << "_input_shape(int i, const int64_t *dims, int64_t *shape);\n"
       << "iolite_status_t " << n
       << "_output_shape(int i, const int64_t *dims, int64_t *shape);\n";
  }
  os << "\n/* Checks the serving inputs a run cannot see at compile time "
        "(lengths, block\n   tables, cu_seqlens) on host copies of the "
        "inputs: `inputs` as for\n   "
     << n
     << "_run_v, host pointers, only those checked are read (others may be "
        "NULL).\n   IOLITE_ERROR_INVALID_ARGUMENT with iolite_last_error() "
        "naming the op, the\n   sequence and the bound when a value would "
        "write past a cache, read a page\n   outside the pool or a row "
        "outside a packed batch; call it before "
     << n << "_run. */\n"
     << "iolite_status_t " << n << "_check_inputs("
     << (symbolic ? "const int64_t *dims, " : "")
     << "const void *const *inputs);\n";
  os << "\n/* Loaded kernels and constants for one device. */\n"
     << "typedef struct " << n << "_model " << n << "_model;\n\n"
     << "/* Picks the binary for the device's chip, loads it and uploads the "
        "constants. */\n"
     << "iolite_status_t " << n << "_load(iolite_device_t device, " << n
     << "_model **model);\n"
     << "/* " << n << "_load reading the constants kept in the weights file "
     << "from `weights_path`\n   (NULL: $" << up << "_WEIGHTS if set, else "
     << up << "_WEIGHTS_FILE in the folder this\n   bundle's " << n
     << ".c was compiled from). A file that cannot be opened gives\n"
     << "   IOLITE_ERROR_NOT_FOUND, one that is not this bundle's (size, "
     << "checksum)\n   IOLITE_ERROR_INVALID_ARGUMENT; " << n
     << "_load_error() then says why. */\n"
     << "iolite_status_t " << n << "_load_from(iolite_device_t device, "
     << "const char *weights_path,\n    " << n << "_model **model);\n"
     << "/* Why the last " << n << "_load failed when the runtime's "
     << "iolite_last_error() does\n   not say (the weights file); \"\" "
     << "otherwise. */\n"
     << "const char *" << n << "_load_error(void);\n"
     << "void " << n << "_unload(" << n << "_model *model);\n\n"
     << "/* Runs the model: device pointers to every input and output "
        "(but outputs\n   written in place into an input), a workspace of\n   "
     << up << "_WORKSPACE_SIZE bytes, and a stream (NULL: default). Every "
     << "pointer must be\n   aligned to " << up
     << "_BUFFER_ALIGNMENT bytes (iolite_malloc's are)."
     << (symbolic ? "\n" : " */\n")
     << (symbolic ? "   With symbolic dims, `dims` holds their values (" + up +
                        "_NUM_DIMS of them) and\n   every tensor is "
                        "dense (row-major) at those dims. */\n"
                  : std::string())
     << "iolite_status_t " << n << "_run(" << n << "_model *model"
     << (symbolic ? ", const int64_t *dims" : "");
  for (size_t i = 0; i < m.inputs.size(); ++i)
    os << (writtenInPlace(m, i) ? ", void *input" : ", const void *input") << i;
  for (size_t i = 0; i < m.outputs.size(); ++i)
    if (m.outputs[i].tiedInput < 0)
      os << ", void *output" << i;
  os << ", void *workspace, iolite_stream_t stream);\n\n"
     << "/* " << n
     << "_run with the inputs and outputs as arrays, for "
        "generic runners\n   (the entries of outputs written in place "
        "into an input are not read). */\n"
     << "iolite_status_t " << n << "_run_v(" << n << "_model *model, "
     << (symbolic ? "const int64_t *dims, " : "")
     << "const void *const *inputs, void *const *outputs, "
        "void *workspace, iolite_stream_t stream);\n\n"
     << "#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << up << "_H */\n";
}

/// The C code that reads the weights file into the constants' device
/// buffers: `load_weights(model, path)` and `NAME_load_error()`.
static void writeWeightsLoader(const BundleModel &m,
                               const WeightsLayout &layout,
                               llvm::raw_ostream &os) {
  const std::string &n = m.name;
  std::string up = StringRef(n).upper();
  if (layout.fileBytes == 0) {
    os << "/* Every constant is embedded: there is no weights file. */\n"
       << "static iolite_status_t load_weights(" << n
       << "_model *model, const char *path) {\n"
       << "  (void)model;\n  (void)path;\n  return IOLITE_SUCCESS;\n}\n\n";
    return;
  }
  int64_t largest = 0;
  for (auto [c, offset] : llvm::zip(m.constants, layout.offsets))
    if (offset >= 0)
      largest = std::max<int64_t>(largest, c.size());
  os << "#define WEIGHTS_HASH 0x"
     << llvm::utohexstr(layout.hash, /*LowerCase=*/true) << "ull\n"
     << "#define WEIGHTS_STAGING " << largest << "u\n\n";
  os << R"C(static uint64_t fnv1a(uint64_t hash, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    hash ^= p[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

static uint64_t read_le(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

/* The weights file: the path given, else $)C"
     << up << R"C(_WEIGHTS, else next to the source this
   file was compiled from (__FILE__), else the working directory. */
static const char *weights_file(const char *path, char *buffer, size_t size) {
  if (path)
    return path;
  const char *env = getenv(")C"
     << up << R"C(_WEIGHTS");
  if (env && *env)
    return env;
  const char *here = __FILE__;
  const char *slash = strrchr(here, '/');
  if (!slash)
    return )C"
     << up << R"C(_WEIGHTS_FILE;
  snprintf(buffer, size, "%.*s/%s", (int)(slash - here), here,
           )C"
     << up << R"C(_WEIGHTS_FILE);
  return buffer;
}

)C";
  os << "static iolite_status_t load_weights(" << n
     << "_model *model, const char *path) {\n";
  os << R"C(  char name[4096];
  const char *file = weights_file(path, name, sizeof(name));
  FILE *f = fopen(file, "rb");
  if (!f) {
    snprintf(load_error, sizeof(load_error),
             "cannot open the weights file %s", file);
    return IOLITE_ERROR_NOT_FOUND;
  }
  unsigned char header[64];
  iolite_status_t s = IOLITE_SUCCESS;
  if (fread(header, 1, sizeof(header), f) != sizeof(header) ||
      memcmp(header, "IOLITEWT", 8) != 0 || read_le(header + 8, 4) != 1 ||
      read_le(header + 16, 8) != )C"
     << up << R"C(_WEIGHTS_BYTES ||
      read_le(header + 24, 8) != WEIGHTS_HASH) {
    snprintf(load_error, sizeof(load_error),
             "%s is not the weights file of this bundle", file);
    fclose(f);
    return IOLITE_ERROR_INVALID_ARGUMENT;
  }
  unsigned char *staging = (unsigned char *)malloc(WEIGHTS_STAGING);
  if (!staging) {
    fclose(f);
    return IOLITE_ERROR_OUT_OF_MEMORY;
  }
  uint64_t hash = 0xcbf29ce484222325ull;
  for (int i = 0; s == IOLITE_SUCCESS && i < NUM_CONSTANTS; ++i) {
    if (constant_data[i])
      continue;
    if (fseek(f, (long)constant_offsets[i], SEEK_SET) != 0 ||
        fread(staging, 1, constant_sizes[i], f) != constant_sizes[i]) {
      snprintf(load_error, sizeof(load_error),
               "%s is truncated (constant %d)", file, i);
  s = IOLITE_ERROR_INVALID_ARGUMENT;
  break;
}
hash = fnv1a(hash, staging, constant_sizes[i]);
s = iolite_memcpy_h2d(model->device, model->constants[i], staging,
                      constant_sizes[i]);
}
if (s == IOLITE_SUCCESS && hash != WEIGHTS_HASH) {
  snprintf(load_error, sizeof(load_error),
           "%s is corrupted (checksum mismatch)", file);
  s = IOLITE_ERROR_INVALID_ARGUMENT;
}
free(staging);
fclose(f);
return s;
}

)C";
}

/// The C functions of a model with symbolic dims: check_dims, the
/// workspace a call touches, and every tensor's bytes and shape at dims.
static void writeDimFunctions(const BundleModel &m, llvm::raw_ostream &os) {
  const std::string &n = m.name;
  size_t numDims = m.symbols.size();
  os << "#define NUM_DIMS " << numDims << "\n"
     << "static const char *const dim_names[NUM_DIMS] = {";
  for (const BundleSymbol &sym : m.symbols)
    os << "\"" << sym.name << "\", ";
  os << "};\n\n";
  os << "static int dims_in_bounds(const int64_t *dims) {\n"
     << "  if (!dims)\n    return 0;\n"
     << "  for (int i = 0; i < NUM_DIMS; ++i)\n"
     << "    if (dims[i] < " << n << "_dim_min[i] || dims[i] > " << n
     << "_dim_max[i])\n      return 0;\n  return 1;\n}\n\n";
  os << "static iolite_status_t check_dims(const char *where, "
        "const int64_t *dims) {\n"
     << "  char message[256];\n"
     << "  if (!dims) {\n"
     << "    snprintf(message, sizeof(message), \"%s: dims is NULL; the "
        "model takes %d\", where, NUM_DIMS);\n"
     << "    return iolite_set_error(IOLITE_ERROR_INVALID_ARGUMENT, "
        "message);\n  }\n"
     << "  for (int i = 0; i < NUM_DIMS; ++i)\n"
     << "    if (dims[i] < " << n << "_dim_min[i] || dims[i] > " << n
     << "_dim_max[i]) {\n"
     << "      snprintf(message, sizeof(message), \"%s: dim '%s' = %lld is "
        "outside its bounds %lld..%lld\", where, dim_names[i], "
        "(long long)dims[i], (long long)"
     << n << "_dim_min[i], (long long)" << n << "_dim_max[i]);\n"
     << "      return iolite_set_error(IOLITE_ERROR_INVALID_ARGUMENT, "
        "message);\n    }\n"
     << "  return IOLITE_SUCCESS;\n}\n\n";
  // Workspace: the planned tensors' ends at these dims (offsets are the
  // bound plan's), and any fixed-size part (kernel scratch).
  os << "size_t " << n << "_workspace_size(const int64_t *dims) {\n"
     << "  if (!dims_in_bounds(dims))\n    return 0;\n"
     << "  int64_t end = 0, e;\n";
  for (const BundleWorkspaceTensor &t : m.workspaceTensors) {
    std::string bytes =
        t.bytesAtDims ? dimC(*t.bytesAtDims) : std::to_string(t.bytes);
    os << "  e = " << t.offset << " + " << bytes << ";\n"
       << "  if (e > end)\n    end = e;\n";
  }
  os << "  return (size_t)end;\n}\n\n";
  auto perTensor = [&](StringRef kind, const std::vector<BundleTensor> &ts) {
    os << "size_t " << n << "_" << kind
       << "_bytes(int i, const int64_t *dims) {\n"
       << "  if (!dims_in_bounds(dims))\n    return 0;\n"
       << "  switch (i) {\n";
    for (auto [i, t] : llvm::enumerate(ts)) {
      // Static tensors keep their byte count; symbolic ones multiply their
      // dims by the element size.
      BundleDim bytes;
      bytes.coeff = t.dims.empty()
                        ? t.bytes
                        : static_cast<int64_t>(::iolite::dtypeBytes(t.dtype));
      bytes.exps.assign(numDims, 0);
      for (const BundleDim &d : t.dims) {
        bytes.coeff *= d.coeff;
        for (auto [k, e] : llvm::enumerate(d.exps))
          bytes.exps[k] += e;
      }
      os << "  case " << i << ":\n    return (size_t)(" << dimC(bytes)
         << ");\n";
    }
    os << "  default:\n    return 0;\n  }\n}\n\n";
    os << "iolite_status_t " << n << "_" << kind
       << "_shape(int i, const int64_t *dims, int64_t *shape) {\n"
       << "  iolite_status_t s = check_dims(\"" << n << "_" << kind
       << "_shape\", dims);\n"
       << "  if (s != IOLITE_SUCCESS)\n    return s;\n"
       << "  if (!shape)\n    return IOLITE_ERROR_INVALID_ARGUMENT;\n"
       << "  switch (i) {\n";
    for (auto [i, t] : llvm::enumerate(ts)) {
      os << "  case " << i << ":\n";
      for (size_t d = 0; d < t.shape.size(); ++d)
        os << "    shape[" << d << "] = "
           << (t.dims.empty() ? std::to_string(t.shape[d]) : dimC(t.dims[d]))
           << ";\n";
      os << "    return IOLITE_SUCCESS;\n";
    }
    os << "  default:\n    return IOLITE_ERROR_INVALID_ARGUMENT;\n  }\n}\n\n";
  };
  perTensor("input", m.inputs);
  perTensor("output", m.outputs);
}

/// A C string literal of `text`.
static std::string cString(StringRef text) {
  std::string s = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      s += '\\';
      s += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      s += llvm::formatv("\\{0:o3}", static_cast<unsigned>(c)).str();
    } else {
      s += static_cast<char>(c);
    }
  }
  return s + "\"";
}

/// NAME_check_inputs: the serving ops' lengths, block tables and cu_seqlens
/// against the sizes they index (docs/inference-ops.md, "Run-time checks").
static void writeInputChecks(const BundleModel &m, llvm::raw_ostream &os) {
  const std::string &n = m.name;
  bool symbolic = !m.symbols.empty();
  auto size = [&](const std::optional<BundleDim> &d) {
    return "(int64_t)(" + dimC(*d) + ")";
  };
  if (!m.checks.empty())
    os << "static iolite_status_t input_error(const char *where, const char "
          "*what,\n    long long a, long long b, long long c, long long d) {\n"
       << "  char message[512], detail[256];\n"
       << "  snprintf(detail, sizeof(detail), what, a, b, c, d);\n"
       << "  snprintf(message, sizeof(message), \"" << n
       << "_check_inputs: %s: %s\", where, detail);\n"
       << "  return iolite_set_error(IOLITE_ERROR_INVALID_ARGUMENT, message);\n"
       << "}\n\n";
  os << "iolite_status_t " << n << "_check_inputs("
     << (symbolic ? "const int64_t *dims, " : "")
     << "const void *const *inputs) {\n";
  if (symbolic)
    os << "  iolite_status_t checked = check_dims(\"" << n
       << "_check_inputs\", dims);\n"
       << "  if (checked != IOLITE_SUCCESS)\n    return checked;\n";
  // A model without checks reads nothing (it may have no inputs at all).
  if (m.checks.empty())
    os << "  (void)inputs;\n";
  else
    os << "  if (!inputs)\n    return iolite_set_error("
          "IOLITE_ERROR_INVALID_ARGUMENT, \""
       << n << "_check_inputs: inputs is NULL\");\n";
  auto needInput = [&](const BundleCheck &c, int64_t i, StringRef what) {
    os << "    if (!inputs[" << i << "])\n      return input_error(where, \""
       << "input " << i << " (" << what << ") is NULL\", 0, 0, 0, 0);\n";
  };
  for (const BundleCheck &c : m.checks) {
    os << "  {\n    const char *where = " << cString(c.where) << ";\n";
    if (c.kind == "varlen_attention") {
      os << "    int64_t batch = " << size(c.batchPlusOne) << " - 1;\n";
      for (auto [input, total, which, plural] :
           {std::tuple(c.cuSeqlensQ, c.totalQ, "query", "queries"),
            std::tuple(c.cuSeqlensK, c.totalK, "key", "keys")}) {
        if (input < 0)
          continue;
        needInput(c, input, std::string("cu_seqlens of the ") + plural);
        os << "    {\n      const int32_t *cu = (const int32_t *)inputs["
           << input << "];\n"
           << "      int64_t total = " << size(total) << ";\n"
           << "      if (cu[0] != 0)\n        return input_error(where, "
           << "\"the " << which
           << " cu_seqlens start at %lld, not 0\", cu[0], 0, 0, 0);\n"
           << "      for (int64_t b = 0; b < batch; ++b)\n"
           << "        if (cu[b + 1] < cu[b] || cu[b + 1] > total)\n"
           << "          return input_error(where, \"sequence %lld's " << plural
           << " end at row %lld (after %lld): cu_seqlens must not decrease "
              "and stay within the %lld packed rows\", b, cu[b + 1], cu[b], "
              "total);\n"
           << "    }\n";
      }
      os << "  }\n";
      continue;
    }
    bool paged = c.table >= 0;
    bool append = c.kind == "kv_cache_append";
    needInput(c, c.lens, "the cache lengths");
    if (paged)
      needInput(c, c.table, "the block table");
    os << "    const int32_t *lens = (const int32_t *)inputs[" << c.lens
       << "];\n"
       << "    int64_t batch = " << size(c.batch) << ", rows = " << size(c.rows)
       << ";\n"
       << "    int64_t steps = " << (append ? size(c.steps) : "0") << ";\n";
    if (paged)
      os << "    const int32_t *table = (const int32_t *)inputs[" << c.table
         << "];\n"
         << "    int64_t pool = " << size(c.pool)
         << ", per_seq = " << size(c.perSeq) << ";\n"
         << "    int64_t capacity = per_seq * rows;\n";
    else
      os << "    int64_t capacity = rows;\n";
    os << "    (void)steps;\n"
       << "    for (int64_t b = 0; b < batch; ++b) {\n"
       << "      int64_t len = lens[b], end = len + steps;\n"
       << "      if (len < 0)\n        return input_error(where, "
          "\"sequence %lld has length %lld, below 0\", b, len, 0, 0);\n"
       << "      if (end > capacity)\n"
       << (append ? "        return input_error(where, \"sequence %lld has "
                    "length %lld and appends %lld token(s), past the cache's "
                    "%lld positions\", b, len, steps, capacity);\n"
                  : "        return input_error(where, \"sequence %lld has "
                    "length %lld, past the cache's %lld positions\", b, "
                    "len, capacity, 0);\n");
    if (paged)
      os << "      /* The pages the op touches: up to the end. */\n"
         << "      for (int64_t p = " << (append ? "len / rows" : "0")
         << "; p * rows < end; ++p) {\n"
         << "        int64_t page = table[b * per_seq + p];\n"
         << "        if (page < 0 || page >= pool)\n"
         << "          return input_error(where, \"sequence %lld's block "
            "table entry %lld is page %lld, outside the pool of %lld pages\", "
            "b, p, page, pool);\n"
         << "      }\n";
    os << "    }\n  }\n";
  }
  os << "  return IOLITE_SUCCESS;\n}\n\n";
}

static void writeSource(const BundleModel &m, llvm::raw_ostream &os) {
  const std::string &n = m.name;
  size_t numKernels = m.launches.size();
  os << "/* " << n << ".c - generated by iolite-compile. Do not edit. */\n"
     << "#include \"" << n << ".h\"\n\n#include <stdio.h>\n#include "
     << "<stdlib.h>\n#include <string.h>\n\n";
  os << "static char load_error[512];\n\n"
     << "const char *" << n << "_load_error(void) { return load_error; }\n\n";
  os << "#define NUM_KERNELS " << numKernels << "\n#define NUM_CONSTANTS "
     << m.constants.size() << "\n\n";
  os << "static const char *const kernel_names[NUM_KERNELS + 1] = {";
  for (const BundleLaunch &l : m.launches)
    os << "\"" << l.kernel << "\", ";
  os << "NULL};\n\n";
  os << "struct launch_shape {\n  uint32_t grid[3];\n  uint32_t block[3];\n"
     << "  uint32_t shared_bytes;\n};\n\n";
  bool symbolic = !m.symbols.empty();
  std::string up = StringRef(n).upper();
  if (symbolic)
    writeDimFunctions(m, os);
  writeInputChecks(m, os);
  for (auto [t, target] : llvm::enumerate(m.targets)) {
    std::string id = sanitizeIdent(target->name);
    writeByteArray(os, "image_" + id, m.artifacts[t].binary);
    if (symbolic) {
      // Grids that follow the dims: ceil(size / divisor) blocks per axis.
      os << "static void grid_" << id
         << "(int k, const int64_t *dims, const struct launch_shape *s, "
            "uint32_t grid[3]) {\n"
         << "  grid[0] = s->grid[0];\n  grid[1] = s->grid[1];\n"
         << "  grid[2] = s->grid[2];\n  (void)dims;\n  switch (k) {\n";
      for (size_t k = 0; k < m.kernels.size(); ++k) {
        const auto &axes = m.gridExtents[k][t];
        if (axes.empty())
          continue;
        os << "  case " << k << ":\n";
        for (auto [a, e] : llvm::enumerate(axes)) {
          BundleDim d;
          d.coeff = e[1];
          d.exps.assign(e.begin() + 2, e.end());
          os << "    grid[" << a << "] = (uint32_t)((" << dimC(d) << " + "
             << (e[0] - 1) << ") / " << e[0] << ");\n";
        }
        os << "    break;\n";
      }
      os << "  default:\n    break;\n  }\n}\n";
    }
    os << "static const struct launch_shape launches_" << id
       << "[NUM_KERNELS + 1] = {\n";
    for (const BundleKernel &k : m.kernels) {
      const auto &s = k.launch[t];
      // A grid that follows the dims is computed per call; the table's
      // entry (the grid at the bounds) must still fit its uint32_t.
      auto grid = [&](int64_t v) {
        return std::min<int64_t>(v, std::numeric_limits<uint32_t>::max());
      };
      os << llvm::formatv("  {{{{{0}, {1}, {2}}, {{{3}, {4}, {5}}, {6}},\n",
                          grid(s[0]), grid(s[1]), grid(s[2]), s[3], s[4], s[5],
                          s[6])
                .str();
    }
    os << "  {{0, 0, 0}, {0, 0, 0}, 0}};\n\n";
  }
  os << "struct target_entry {\n  const char *target;\n  const unsigned char "
        "*image;\n  size_t size;\n  const struct launch_shape *launches;\n"
     << (symbolic ? "  void (*grid)(int, const int64_t *, const struct "
                    "launch_shape *, uint32_t *);\n"
                  : "")
     << "};\n"
     << "static const struct target_entry targets[] = {\n";
  for (auto [t, target] : llvm::enumerate(m.targets)) {
    std::string id = sanitizeIdent(target->name);
    os << "  {\"" << target->name << "\", image_" << id << ", "
       << m.artifacts[t].binary.size() << ", launches_" << id
       << (symbolic ? ", grid_" + id : "") << "},\n";
  }
  os << "};\n\n";
  WeightsLayout layout = layoutWeights(m);
  for (auto [i, c] : llvm::enumerate(m.constants))
    if (layout.offsets[i] < 0)
      writeByteArray(os, "constant_" + std::to_string(i), c);
  os << "/* Embedded constants; NULL: at constant_offsets[i] of the weights "
        "file. */\n"
     << "static const unsigned char *const constant_data[NUM_CONSTANTS + 1] = "
        "{";
  for (size_t i = 0; i < m.constants.size(); ++i) {
    if (layout.offsets[i] < 0)
      os << "constant_" << i << ", ";
    else
      os << "NULL, ";
  }
  os << "NULL};\nstatic const size_t constant_sizes[NUM_CONSTANTS + 1] = {";
  for (const std::string &c : m.constants)
    os << c.size() << ", ";
  os << "0};\n";
  if (layout.fileBytes > 0) {
    os << "static const uint64_t constant_offsets[NUM_CONSTANTS + 1] = {";
    for (int64_t o : layout.offsets)
      os << (o < 0 ? 0 : o) << "u, ";
    os << "0};\n";
  }
  os << "\n";
  os << "struct " << n << "_model {\n  iolite_device_t device;\n"
     << "  iolite_module_t module;\n  const struct target_entry *target;\n"
     << "  iolite_kernel_t kernels[NUM_KERNELS + 1];\n"
     << "  void *constants[NUM_CONSTANTS + 1];\n};\n\n";
  writeWeightsLoader(m, layout, os);
  os << "void " << n << "_unload(" << n << "_model *model) {\n"
     << "  if (!model)\n    return;\n"
     << "  for (int i = 0; i < NUM_CONSTANTS; ++i)\n"
     << "    if (model->constants[i])\n"
     << "      iolite_free(model->device, model->constants[i]);\n"
     << "  if (model->module)\n    iolite_module_unload(model->module);\n"
     << "  free(model);\n}\n\n";
  os << "iolite_status_t " << n << "_load_from(iolite_device_t device, "
     << "const char *weights_path,\n    " << n << "_model **out) {\n"
     << "  load_error[0] = 0;\n"
     << "  const struct target_entry *target = NULL;\n"
     << "  for (size_t i = 0; !target && i < sizeof(targets) / "
        "sizeof(targets[0]); ++i)\n"
     << "    if (iolite_device_supports_target(device, targets[i].target))\n"
     << "      target = &targets[i];\n"
     << "  if (!target)\n    return IOLITE_ERROR_NOT_FOUND;\n"
     << "  " << n << "_model *model = (" << n
     << "_model *)calloc(1, sizeof(*model));\n"
     << "  if (!model)\n    return IOLITE_ERROR_OUT_OF_MEMORY;\n"
     << "  model->device = device;\n  model->target = target;\n"
     << "  iolite_status_t s = iolite_module_load(device, target->image, "
        "target->size, &model->module);\n"
     << "  for (int i = 0; s == IOLITE_SUCCESS && i < NUM_KERNELS; ++i)\n"
     << "    s = iolite_module_get_kernel(model->module, kernel_names[i], "
        "&model->kernels[i]);\n"
     << "  for (int i = 0; s == IOLITE_SUCCESS && i < NUM_CONSTANTS; ++i) {\n"
     << "    s = iolite_malloc(device, constant_sizes[i], "
        "&model->constants[i]);\n"
     << "    if (s == IOLITE_SUCCESS && constant_data[i])\n"
     << "      s = iolite_memcpy_h2d(device, model->constants[i], "
        "constant_data[i], constant_sizes[i]);\n  }\n"
     << "  if (s == IOLITE_SUCCESS)\n"
     << "    s = load_weights(model, weights_path);\n"
     << "  if (s != IOLITE_SUCCESS) {\n    " << n
     << "_unload(model);\n    return s;\n  }\n"
     << "  *out = model;\n  return IOLITE_SUCCESS;\n}\n\n";
  os << "iolite_status_t " << n << "_load(iolite_device_t device, " << n
     << "_model **out) {\n"
     << "  return " << n << "_load_from(device, NULL, out);\n}\n\n";
  os << "iolite_status_t " << n << "_run(" << n << "_model *model"
     << (symbolic ? ", const int64_t *dims" : "");
  for (size_t i = 0; i < m.inputs.size(); ++i)
    os << (writtenInPlace(m, i) ? ", void *input" : ", const void *input") << i;
  for (size_t i = 0; i < m.outputs.size(); ++i)
    if (m.outputs[i].tiedInput < 0)
      os << ", void *output" << i;
  os << ", void *workspace, iolite_stream_t stream) {\n"
     << "  if (!model)\n    return IOLITE_ERROR_INVALID_ARGUMENT;\n";
  if (symbolic)
    os << "  iolite_status_t checked = check_dims(\"" << n << "_run\", dims);\n"
       << "  if (checked != IOLITE_SUCCESS)\n    return checked;\n";
  os << "  /* The kernels access buffers with vectors of up to "
     << bufferAlignment(m) << " bytes. */\n"
     << "  if ((0";
  for (size_t i = 0; i < m.inputs.size(); ++i)
    os << " | (uintptr_t)input" << i;
  for (size_t i = 0; i < m.outputs.size(); ++i)
    if (m.outputs[i].tiedInput < 0)
      os << " | (uintptr_t)output" << i;
  os << " | (uintptr_t)workspace) % " << bufferAlignment(m) << "u)\n"
     << "    return IOLITE_ERROR_INVALID_ARGUMENT;\n"
     << "  const struct launch_shape *shapes = model->target->launches;\n"
     << "  iolite_status_t s;\n  (void)workspace;\n";
  for (auto [k, l] : llvm::enumerate(m.launches)) {
    os << "  /* " << l.kernel << " */\n  {\n";
    for (auto [a, arg] : llvm::enumerate(l.args)) {
      if (arg.kind == BundleArg::Dim) {
        os << "    int64_t p" << a << " = dims[" << arg.index << "];\n";
        continue;
      }
      os << "    void *p" << a << " = ";
      switch (arg.kind) {
      case BundleArg::Input:
        os << "(void *)input" << arg.index;
        break;
      case BundleArg::Output:
        os << "output" << arg.index;
        break;
      case BundleArg::Workspace:
        os << "(char *)workspace + " << arg.offset;
        break;
      case BundleArg::Constant:
        os << "model->constants[" << arg.index << "]";
        break;
      case BundleArg::Dim:
        break;
      }
      os << ";\n";
    }
    os << "    void *args[] = {";
    for (size_t a = 0; a < l.args.size(); ++a)
      os << "&p" << a << ", ";
    os << "NULL};\n";
    if (symbolic) {
      // A grid with no block (a dim of 0) has nothing to compute.
      os << "    uint32_t grid[3];\n"
         << "    model->target->grid(" << k << ", dims, &shapes[" << k
         << "], grid);\n"
         << "    s = grid[0] && grid[1] && grid[2]\n"
         << "            ? iolite_launch(model->kernels[" << k
         << "], grid, shapes[" << k << "].block, shapes[" << k
         << "].shared_bytes, stream, args)\n"
         << "            : IOLITE_SUCCESS;\n";
    } else {
      os << "    s = iolite_launch(model->kernels[" << k << "], shapes[" << k
         << "].grid, shapes[" << k << "].block, shapes[" << k
         << "].shared_bytes, stream, args);\n";
    }
    os << "    if (s != IOLITE_SUCCESS)\n      return s;\n  }\n";
  }
  os << "  return IOLITE_SUCCESS;\n}\n\n";
  os << "iolite_status_t " << n << "_run_v(" << n << "_model *model, "
     << (symbolic ? "const int64_t *dims, " : "")
     << "const void *const *inputs, void *const *outputs, "
        "void *workspace, iolite_stream_t stream) {\n"
     << "  (void)inputs;\n  (void)outputs;\n"
     << "  return " << n << "_run(model" << (symbolic ? ", dims" : "");
  for (size_t i = 0; i < m.inputs.size(); ++i)
    os << (writtenInPlace(m, i) ? ", (void *)inputs[" : ", inputs[") << i
       << "]";
  for (size_t i = 0; i < m.outputs.size(); ++i)
    if (m.outputs[i].tiedInput < 0)
      os << ", outputs[" << i << "]";
  os << ", workspace, stream);\n}\n";
}

static llvm::json::Value manifest(const BundleModel &m) {
  using namespace llvm::json;
  auto dimJson = [](const BundleDim &d) {
    Object o{{"coeff", d.coeff}};
    Array exps;
    for (int64_t e : d.exps)
      exps.push_back(e);
    o["exps"] = std::move(exps);
    return o;
  };
  auto tensorList = [&](const std::vector<BundleTensor> &ts) {
    Array a;
    for (const BundleTensor &t : ts) {
      Array shape;
      for (int64_t d : t.shape)
        shape.push_back(d);
      Object o{
          {"shape", std::move(shape)}, {"dtype", t.dtype}, {"bytes", t.bytes}};
      // A symbolic dim: coeff * prod(dims[i]^exps[i]); -1 in "shape".
      if (!t.dims.empty()) {
        Array dims;
        for (const BundleDim &d : t.dims)
          dims.push_back(dimJson(d));
        o["dims"] = std::move(dims);
      }
      if (t.tiedInput >= 0)
        o["tied_input"] = t.tiedInput;
      a.push_back(std::move(o));
    }
    return a;
  };
  Array targets;
  for (auto [t, target] : llvm::enumerate(m.targets))
    targets.push_back(Object{{"name", target->name},
                             {"chip", target->chip},
                             {"vendor", target->isNvidia() ? "nvidia" : "amd"},
                             {"warp_size", target->warpSize},
                             {"binary", m.name + "." + target->name + "." +
                                            m.artifacts[t].extension}});
  Array kernels;
  for (const BundleKernel &k : m.kernels) {
    Array ops;
    for (const auto &[op, loc] : k.sourceOps)
      ops.push_back(Object{{"op", op}, {"loc", loc}});
    Object perTarget;
    for (auto [t, target] : llvm::enumerate(m.targets)) {
      const auto &s = k.launch[t];
      Object entry{{"grid", Array{s[0], s[1], s[2]}},
                   {"block", Array{s[3], s[4], s[5]}},
                   {"dynamic_shared_memory_bytes", s[6]}};
      if (t < k.matrix.size())
        entry["matrix"] =
            Object{{"kind", k.matrix[t].first}, {"reason", k.matrix[t].second}};
      for (const KernelResources &r : m.artifacts[t].kernels) {
        if (r.kernel != k.name)
          continue;
        // The back end checked that the report is complete
        // (checkResourceReports); an unknown field would be null, not 0.
        Object res{{"registers", r.registers},
                   {"spills", r.spills},
                   {"stack_bytes", r.stackBytes},
                   {"static_shared_memory_bytes", r.staticSharedBytes}};
        if (r.scalarRegisters)
          res["scalar_registers"] = *r.scalarRegisters;
        if (r.scalarSpills)
          res["scalar_spills_to_vgpr"] = *r.scalarSpills;
        entry["resources"] = std::move(res);
      }
      perTarget[target->name] = std::move(entry);
    }
    kernels.push_back(Object{{"name", k.name},
                             {"template", k.templateName},
                             {"tile", k.tile},
                             {"source_ops", std::move(ops)},
                             {"targets", std::move(perTarget)}});
  }
  Array launches;
  for (const BundleLaunch &l : m.launches) {
    Array args;
    for (const BundleArg &a : l.args) {
      static const char *kinds[] = {"input", "output", "workspace", "constant",
                                    "dim"};
      Object o{{"kind", kinds[a.kind]}};
      if (a.kind == BundleArg::Workspace)
        o["offset"] = a.offset;
      else
        o["index"] = a.index;
      args.push_back(std::move(o));
    }
    launches.push_back(Object{{"kernel", l.kernel}, {"args", std::move(args)}});
  }
  Array workspaceTensors;
  for (const BundleWorkspaceTensor &t : m.workspaceTensors) {
    Object o{{"name", t.name}, {"offset", t.offset}, {"bytes", t.bytes}};
    if (t.bytesAtDims)
      o["bytes_at_dims"] = dimJson(*t.bytesAtDims);
    workspaceTensors.push_back(std::move(o));
  }
  Array constantBytes, constants;
  WeightsLayout layout = layoutWeights(m);
  for (auto [c, offset] : llvm::zip(m.constants, layout.offsets)) {
    constantBytes.push_back(static_cast<int64_t>(c.size()));
    Object o{{"bytes", static_cast<int64_t>(c.size())}};
    if (offset < 0)
      o["embedded"] = true;
    else
      o["offset"] = offset;
    constants.push_back(std::move(o));
  }
  Object weights{{"threshold_bytes", m.weightsThreshold}};
  if (layout.fileBytes > 0) {
    weights["file"] = m.name + ".weights";
    weights["bytes"] = layout.fileBytes;
    weights["fnv1a64"] =
        "0x" + llvm::utohexstr(layout.hash, /*LowerCase=*/true);
  }
  Array symbols;
  for (const BundleSymbol &sym : m.symbols)
    symbols.push_back(
        Object{{"name", sym.name}, {"min", sym.lo}, {"max", sym.hi}});
  return Object{{"name", m.name},
                {"dims", std::move(symbols)},
                {"workspace_bytes", m.workspaceBytes},
                {"workspace_tensors", std::move(workspaceTensors)},
                {"inputs", tensorList(m.inputs)},
                {"outputs", tensorList(m.outputs)},
                {"constant_bytes", std::move(constantBytes)},
                {"constants", std::move(constants)},
                {"weights", std::move(weights)},
                {"targets", std::move(targets)},
                {"kernels", std::move(kernels)},
                {"launches", std::move(launches)}};
}

static bool writeFile(StringRef path, StringRef contents, std::string &error) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec) {
    error = ("cannot write " + path + ": " + ec.message()).str();
    return false;
  }
  os << contents;
  return true;
}

LogicalResult mlir::iolite::checkBundleOutput(StringRef outDir,
                                              std::string &error) {
  if (!llvm::sys::fs::exists(outDir))
    return success();
  if (!llvm::sys::fs::is_directory(outDir)) {
    error = ("-o " + outDir +
             " is an existing file, not a bundle folder; refusing to "
             "replace it")
                .str();
    return failure();
  }
  SmallString<256> manifest(outDir);
  llvm::sys::path::append(manifest, "manifest.json");
  std::error_code ec;
  bool empty = llvm::sys::fs::directory_iterator(outDir, ec) ==
               llvm::sys::fs::directory_iterator();
  if (!ec && !empty && !llvm::sys::fs::exists(manifest)) {
    error = ("-o " + outDir +
             " is a folder that holds no bundle (no manifest.json); "
             "refusing to replace it")
                .str();
    return failure();
  }
  return success();
}

LogicalResult mlir::iolite::writeBundle(const BundleModel &m, StringRef outDir,
                                        std::string &error) {
  if (failed(checkBundleOutput(outDir, error)))
    return failure();
  SmallString<256> target(outDir);
  llvm::sys::fs::make_absolute(target);
  llvm::sys::path::remove_dots(target, /*remove_dot_dot=*/true);
  StringRef parent = llvm::sys::path::parent_path(target);
  // Like `mkdir -p`: missing parents are created (and stay on failure).
  if (!parent.empty())
    if (std::error_code ec = llvm::sys::fs::create_directories(parent)) {
      error = ("cannot create the output folder's parent '" + parent +
               "': " + ec.message())
                  .str();
      return failure();
    }
  // Everything goes into a sibling temporary folder first.
  SmallString<256> tmp(target);
  tmp += ".tmp-" + std::to_string(llvm::sys::Process::getProcessId());
  llvm::sys::fs::remove_directories(tmp);
  if (auto ec = llvm::sys::fs::create_directories(tmp)) {
    error = ("cannot create " + tmp + ": " + ec.message()).str();
    return failure();
  }
  auto fail = [&]() {
    llvm::sys::fs::remove_directories(tmp);
    return failure();
  };
  std::string header, source, json;
  llvm::raw_string_ostream hs(header), ss(source), js(json);
  writeHeader(m, hs);
  writeSource(m, ss);
  js << llvm::formatv("{0:2}", manifest(m)) << "\n";
  auto path = [&](StringRef name) {
    SmallString<256> p(tmp);
    llvm::sys::path::append(p, name);
    return std::string(p);
  };
  if (!writeFile(path(m.name + ".h"), header, error) ||
      !writeFile(path(m.name + ".c"), source, error) ||
      !writeFile(path("manifest.json"), json, error))
    return fail();
  WeightsLayout layout = layoutWeights(m);
  if (layout.fileBytes > 0 &&
      !writeFile(path(m.name + ".weights"), weightsFile(m, layout), error))
    return fail();
  for (auto [t, targetDesc] : llvm::enumerate(m.targets))
    if (!writeFile(path(m.name + "." + targetDesc->name + "." +
                        m.artifacts[t].extension),
                   m.artifacts[t].binary, error))
      return fail();
  // Swap the finished folder in.
  SmallString<256> old(target);
  old += ".old-" + std::to_string(llvm::sys::Process::getProcessId());
  bool hadOld = llvm::sys::fs::exists(target);
  if (hadOld) {
    if (auto ec = llvm::sys::fs::rename(target, old)) {
      error = ("cannot replace " + target + ": " + ec.message()).str();
      return fail();
    }
  }
  if (auto ec = llvm::sys::fs::rename(tmp, target)) {
    if (hadOld)
      (void)llvm::sys::fs::rename(old, target);
    error = ("cannot create " + target + ": " + ec.message()).str();
    return fail();
  }
  if (hadOld)
    llvm::sys::fs::remove_directories(old);
  return success();
}

void mlir::iolite::printKernelTable(const BundleModel &m,
                                    llvm::raw_ostream &os) {
  // Columns as wide as their longest entry, so long names stay aligned.
  size_t nameWidth = 18, targetWidth = 8;
  for (const BundleKernel &k : m.kernels)
    nameWidth = std::max(nameWidth, k.name.size());
  for (const auto &target : m.targets)
    targetWidth = std::max(targetWidth, target->name.size());
  auto row = [&](StringRef name, StringRef templ, StringRef ops,
                 StringRef target, StringRef grid, StringRef block,
                 StringRef smem, StringRef regs, StringRef matrix) {
    os << llvm::left_justify(name, nameWidth) << " "
       << llvm::left_justify(templ, 13) << " " << llvm::left_justify(ops, 34)
       << " " << llvm::left_justify(target, targetWidth) << " "
       << llvm::left_justify(grid, 14) << " " << llvm::left_justify(block, 12)
       << " " << llvm::left_justify(smem, 7) << " "
       << llvm::left_justify(regs, 11) << " " << matrix << "\n";
  };
  row("kernel", "template", "source ops", "target", "grid", "block", "smem",
      "regs/spills", "matrix");
  for (const BundleKernel &k : m.kernels) {
    std::string ops;
    for (const auto &[op, loc] : k.sourceOps) {
      if (!ops.empty())
        ops += ",";
      ops += StringRef(op).starts_with("iolite.") ? op.substr(7) : op;
    }
    if (ops.size() > 34)
      ops = ops.substr(0, 31) + "...";
    for (auto [t, target] : llvm::enumerate(m.targets)) {
      const auto &s = k.launch[t];
      std::string regs = "-";
      for (const KernelResources &r : m.artifacts[t].kernels)
        if (r.kernel == k.name)
          regs = (r.registers ? std::to_string(*r.registers) : "?") + "/" +
                 (r.spills ? std::to_string(*r.spills) : "?");
      row(t == 0 ? StringRef(k.name) : "",
          t == 0 ? StringRef(k.templateName) : "", t == 0 ? StringRef(ops) : "",
          target->name, llvm::formatv("{0}x{1}x{2}", s[0], s[1], s[2]).str(),
          llvm::formatv("{0}x{1}x{2}", s[3], s[4], s[5]).str(),
          std::to_string(s[6]), regs,
          t < k.matrix.size() ? StringRef(k.matrix[t].first) : "");
    }
  }
}
