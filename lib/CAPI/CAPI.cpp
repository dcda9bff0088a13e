//===- CAPI.cpp - Iolite compiler C API -----------------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Thin C wrappers over the libraries the tools use: the parser and verifier,
// the shared model loader, the compile driver and BundleRunner. Each call
// collects the diagnostics it emits into its result instead of printing them.
//
//===----------------------------------------------------------------------===//

#include "iolite/CAPI/iolite_capi.h"

#include "iolite/Driver/Compile.h"
#include "iolite/Driver/CpuRunner.h"
#include "iolite/Driver/HostTensor.h"
#include "iolite/Driver/ModelLoader.h"
#include "iolite/InitAll.h"
#include "iolite/Runtime/BundleRunner.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InterleavedRange.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace mlir;
using namespace mlir::iolite;

struct iolite_capi_context {
  MLIRContext context;
  iolite_capi_context() : context(makeRegistry()) {
    context.loadAllAvailableDialects();
  }
  static DialectRegistry makeRegistry() {
    DialectRegistry registry;
    registerAllDialects(registry);
    return registry;
  }
};

struct iolite_capi_result {
  bool ok = false;
  std::string text, info, diagnostics = "[]", message;
  std::vector<::iolite::HostTensor> tensors;
};

struct iolite_capi_bundle {
  std::unique_ptr<::iolite::BundleRunner> runner;
};

namespace {

//===----------------------------------------------------------------------===//
// Diagnostics
//===----------------------------------------------------------------------===//

StringRef severityName(DiagnosticSeverity severity) {
  switch (severity) {
  case DiagnosticSeverity::Error:
    return "error";
  case DiagnosticSeverity::Warning:
    return "warning";
  case DiagnosticSeverity::Remark:
    return "remark";
  case DiagnosticSeverity::Note:
    return "note";
  }
  return "error";
}

std::string printLocation(Location loc) {
  std::string text;
  llvm::raw_string_ostream os(text);
  loc.print(os);
  return text;
}

/// One diagnostic, with its location taken apart for callers that map it
/// back to their own source (the Python builder names its ops' locations).
struct CollectedDiagnostic {
  DiagnosticSeverity severity;
  Location loc;
  std::string message;
  std::vector<CollectedDiagnostic> notes;
  /// The op at `loc`, when verification failed there.
  std::string op;
};

CollectedDiagnostic collect(const Diagnostic &diag) {
  CollectedDiagnostic c{
      diag.getSeverity(), diag.getLocation(), diag.str(), {}, ""};
  for (const Diagnostic &note : diag.getNotes())
    c.notes.push_back(collect(note));
  return c;
}

llvm::json::Object toJson(const CollectedDiagnostic &d) {
  llvm::json::Object o;
  o["severity"] = severityName(d.severity);
  o["message"] = d.message;
  o["location"] = printLocation(d.loc);
  if (auto name = dyn_cast<NameLoc>(d.loc))
    o["name"] = name.getName().str();
  Location(d.loc)->walk([&](Location l) {
    if (auto file = dyn_cast<FileLineColRange>(l)) {
      o["file"] = file.getFilename().str();
      o["line"] = static_cast<int64_t>(file.getStartLine());
      o["column"] = static_cast<int64_t>(file.getStartColumn());
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  std::string reason = d.message;
  if (!d.op.empty()) {
    o["op"] = d.op;
    std::string prefix = "'" + d.op + "' op ";
    if (StringRef(reason).starts_with(prefix))
      reason = reason.substr(prefix.size());
  }
  o["reason"] = reason;
  llvm::json::Array notes;
  for (const CollectedDiagnostic &n : d.notes)
    notes.push_back(toJson(n));
  o["notes"] = std::move(notes);
  return o;
}

/// "file:line:col" when the location holds a file location, as the tools
/// print diagnostics; else the location as MLIR prints it.
std::string shortLocation(Location loc) {
  std::string text;
  Location(loc)->walk([&](Location l) {
    if (auto file = dyn_cast<FileLineColRange>(l)) {
      text = (file.getFilename().strref() + ":" + Twine(file.getStartLine()) +
              ":" + Twine(file.getStartColumn()))
                 .str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return text.empty() ? printLocation(loc) : text;
}

void render(const CollectedDiagnostic &d, llvm::raw_ostream &os,
            StringRef indent) {
  os << indent;
  if (!isa<UnknownLoc>(d.loc))
    os << shortLocation(d.loc) << ": ";
  os << severityName(d.severity) << ": " << d.message << "\n";
  for (const CollectedDiagnostic &n : d.notes)
    render(n, os, "  ");
}

/// Collects every diagnostic emitted on the context while it lives.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(MLIRContext &context)
      : handler(&context, [this](Diagnostic &diag) {
          diagnostics.push_back(collect(diag));
          return success();
        }) {}

  /// Names the op of every error located exactly at an op of `root` (the
  /// verifier reports at the failing op's location).
  void attributeToOps(Operation *root) {
    DenseMap<Location, Operation *> byLoc;
    DenseSet<Location> ambiguous;
    root->walk([&](Operation *op) {
      if (!byLoc.try_emplace(op->getLoc(), op).second)
        ambiguous.insert(op->getLoc());
    });
    for (CollectedDiagnostic &d : diagnostics) {
      if (d.severity != DiagnosticSeverity::Error || ambiguous.count(d.loc))
        continue;
      if (Operation *op = byLoc.lookup(d.loc))
        d.op = op->getName().getStringRef().str();
    }
  }

  void finish(iolite_capi_result &result) {
    llvm::json::Array array;
    std::string text;
    llvm::raw_string_ostream os(text);
    for (const CollectedDiagnostic &d : diagnostics) {
      array.push_back(toJson(d));
      render(d, os, "");
    }
    result.diagnostics =
        llvm::formatv("{0}", llvm::json::Value(std::move(array)));
    result.message = std::move(text);
  }

private:
  ScopedDiagnosticHandler handler;
  std::vector<CollectedDiagnostic> diagnostics;
};

//===----------------------------------------------------------------------===//
// Describing modules
//===----------------------------------------------------------------------===//

llvm::json::Object describeType(Type type) {
  llvm::json::Object o;
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  o["type"] = text;
  if (auto tensor = dyn_cast<RankedTensorType>(type)) {
    // A symbolic dim (docs/dynamic-shapes.md) is null.
    llvm::json::Array shape;
    for (int64_t d : tensor.getShape())
      shape.push_back(ShapedType::isDynamic(d) ? llvm::json::Value(nullptr)
                                               : llvm::json::Value(d));
    o["shape"] = std::move(shape);
    std::string dtype;
    llvm::raw_string_ostream ds(dtype);
    tensor.getElementType().print(ds);
    o["dtype"] = dtype;
  }
  return o;
}

llvm::json::Array describeTypes(TypeRange types) {
  llvm::json::Array array;
  for (Type t : types)
    array.push_back(describeType(t));
  return array;
}

std::string describeModule(ModuleOp module) {
  llvm::json::Array functions;
  for (auto func : module.getOps<func::FuncOp>()) {
    llvm::json::Object f;
    f["name"] = func.getSymName().str();
    f["arguments"] = describeTypes(func.getArgumentTypes());
    f["results"] = describeTypes(func.getResultTypes());
    llvm::json::Array ops;
    if (!func.isDeclaration())
      for (Operation &op : func.getBody().front()) {
        llvm::json::Object o;
        o["name"] = op.getName().getStringRef().str();
        o["location"] = printLocation(op.getLoc());
        o["results"] = describeTypes(op.getResultTypes());
        ops.push_back(std::move(o));
      }
    f["ops"] = std::move(ops);
    functions.push_back(std::move(f));
  }
  llvm::json::Object root;
  root["functions"] = std::move(functions);
  return llvm::formatv("{0}", llvm::json::Value(std::move(root)));
}

/// Fills `result` from a parsed and verified module as `flags` ask.
void finishModule(ModuleOp module, unsigned flags, iolite_capi_result &result) {
  if (flags & IOLITE_CAPI_PRINT) {
    llvm::raw_string_ostream os(result.text);
    OpPrintingFlags printing;
    if (flags & IOLITE_CAPI_DEBUG_INFO)
      printing.enableDebugInfo();
    module->print(os, printing);
  }
  if (flags & IOLITE_CAPI_DESCRIBE)
    result.info = describeModule(module);
  result.ok = true;
}

/// Parses "NAME=VALUE,..." into `dims`; false (with `error`) if malformed.
/// `NAME=N` pins a symbolic dim, `NAME=LO..HI` bounds it (comma-separated).
bool parseDims(const char *text, ModelLoadOptions &options,
               std::string &error) {
  if (!text)
    return true;
  SmallVector<StringRef> entries;
  StringRef(text).split(entries, ',', -1, /*KeepEmpty=*/false);
  for (StringRef entry : entries) {
    FailureOr<DimSpec> spec = parseDimSpec(entry.trim(), error);
    if (failed(spec)) {
      error = "dims: " + error;
      return false;
    }
    addDimSpec(options, *spec);
  }
  return true;
}

iolite_capi_result *fail(std::string message) {
  auto *result = new iolite_capi_result();
  llvm::json::Object o;
  o["severity"] = "error";
  o["message"] = message;
  o["reason"] = message;
  o["location"] = "";
  o["notes"] = llvm::json::Array();
  result->diagnostics =
      llvm::formatv("{0}", llvm::json::Value(llvm::json::Array{std::move(o)}));
  result->message = "error: " + message + "\n";
  return result;
}

std::optional<EmitStage> parseEmitStage(StringRef name) {
  return llvm::StringSwitch<std::optional<EmitStage>>(name)
      .Case("bundle", EmitStage::Bundle)
      .Case("iolite", EmitStage::Iolite)
      .Case("raised", EmitStage::Raised)
      .Case("fused", EmitStage::Fused)
      .Case("gpu", EmitStage::Gpu)
      .Case("llvm", EmitStage::Llvm)
      .Case("ptx", EmitStage::Ptx)
      .Case("amdgcn", EmitStage::Amdgcn)
      .Default(std::nullopt);
}

} // namespace

//===----------------------------------------------------------------------===//
// C entry points
//===----------------------------------------------------------------------===//

extern "C" {

int iolite_capi_version(void) { return IOLITE_CAPI_VERSION; }

iolite_capi_context_t iolite_capi_context_create(void) {
  return new iolite_capi_context();
}

void iolite_capi_context_destroy(iolite_capi_context_t context) {
  delete context;
}

int iolite_capi_result_ok(iolite_capi_result_t result) {
  return result && result->ok;
}
const char *iolite_capi_result_text(iolite_capi_result_t result) {
  return result ? result->text.c_str() : "";
}
const char *iolite_capi_result_info(iolite_capi_result_t result) {
  return result ? result->info.c_str() : "";
}
const char *iolite_capi_result_diagnostics(iolite_capi_result_t result) {
  return result ? result->diagnostics.c_str() : "[]";
}
const char *iolite_capi_result_message(iolite_capi_result_t result) {
  return result ? result->message.c_str() : "";
}
size_t iolite_capi_result_num_tensors(iolite_capi_result_t result) {
  return result ? result->tensors.size() : 0;
}
int iolite_capi_result_tensor(iolite_capi_result_t result, size_t index,
                              iolite_capi_tensor_t *tensor) {
  if (!result || !tensor || index >= result->tensors.size())
    return 0;
  const ::iolite::HostTensor &t = result->tensors[index];
  tensor->dtype = t.dtype.c_str();
  tensor->rank = t.shape.size();
  tensor->shape = t.shape.data();
  tensor->data = t.bytes.data();
  tensor->bytes = t.bytes.size();
  return 1;
}
void iolite_capi_result_destroy(iolite_capi_result_t result) { delete result; }

iolite_capi_result_t iolite_capi_parse(iolite_capi_context_t context,
                                       const char *source, size_t length,
                                       const char *buffer_name,
                                       unsigned flags) {
  if (!context || (!source && length))
    return fail("iolite_capi_parse: no context or source");
  auto *result = new iolite_capi_result();
  MLIRContext &ctx = context->context;
  DiagnosticCollector diagnostics(ctx);
  // Verify separately so that errors can be attributed to their ops.
  ParserConfig config(&ctx, /*verifyAfterParse=*/false);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(
      StringRef(source, length), config, buffer_name ? buffer_name : "");
  if (module) {
    if (succeeded(verify(*module)))
      finishModule(*module, flags, *result);
    else
      diagnostics.attributeToOps(*module);
  }
  diagnostics.finish(*result);
  return result;
}

iolite_capi_result_t iolite_capi_import_onnx(iolite_capi_context_t context,
                                             const char *path, const char *dims,
                                             const char *function_name,
                                             unsigned flags) {
  if (!context || !path)
    return fail("iolite_capi_import_onnx: no context or path");
  ModelLoadOptions options;
  std::string error;
  if (!parseDims(dims, options, error))
    return fail(error);
  if (getModelFormat(path) == ModelFormat::MLIR)
    return fail(std::string("'") + path +
                "' is not an ONNX model (.onnx or .onnxtxt)");
  if (function_name)
    options.functionName = function_name;
  auto *result = new iolite_capi_result();
  MLIRContext &ctx = context->context;
  DiagnosticCollector diagnostics(ctx);
  FailureOr<OwningOpRef<ModuleOp>> module = loadModel(path, ctx, options);
  if (succeeded(module)) {
    if (succeeded(verify(**module)))
      finishModule(**module, flags, *result);
    else
      diagnostics.attributeToOps(**module);
  }
  diagnostics.finish(*result);
  return result;
}

iolite_capi_result_t
iolite_capi_compile_file(iolite_capi_context_t context, const char *path,
                         const iolite_capi_compile_options_t *options) {
  if (!context || !path)
    return fail("iolite_capi_compile_file: no context or path");
  CompileOptions compileOptions;
  compileOptions.inputPath = path;
  std::string error;
  if (options) {
    if (options->targets)
      compileOptions.targets = options->targets;
    if (options->output_dir)
      compileOptions.outputDir = options->output_dir;
    if (options->emit && *options->emit) {
      std::optional<EmitStage> stage = parseEmitStage(options->emit);
      if (!stage)
        return fail(
            std::string("unknown emit stage '") + options->emit +
            "' (bundle, iolite, raised, fused, gpu, llvm, ptx, amdgcn)");
      compileOptions.emit = *stage;
    }
    compileOptions.noFusion = options->no_fusion != 0;
    compileOptions.remarks = options->remarks != 0;
    if (!parseDims(options->dims, compileOptions.load, error))
      return fail(error);
    compileOptions.overrides.allowTf32 = options->allow_tf32 != 0;
    compileOptions.overrides.noMatrixUnits = options->no_matrix_units != 0;
    if (options->emu_matrix_level && *options->emu_matrix_level) {
      std::string level = options->emu_matrix_level;
      if (level != "isa" && level != "warp")
        return fail("emu_matrix_level must be isa or warp, not '" + level +
                    "'");
      compileOptions.backend.emuMatrixLevel = level;
    }
    if (options->max_registers)
      compileOptions.backend.maxRegisters = options->max_registers;
    compileOptions.spillsAreErrors = options->werror_spills != 0;
  }
  if (compileOptions.emit == EmitStage::Bundle &&
      compileOptions.outputDir.empty())
    return fail("no output folder given for the bundle");
  auto *result = new iolite_capi_result();
  MLIRContext &ctx = context->context;
  DiagnosticCollector diagnostics(ctx);
  llvm::raw_string_ostream os(result->text);
  result->ok = succeeded(compile(ctx, compileOptions, os));
  diagnostics.finish(*result);
  return result;
}

iolite_capi_result_t
iolite_capi_compile(iolite_capi_context_t context, const char *source,
                    size_t length, const char *model_name,
                    const iolite_capi_compile_options_t *options) {
  if (!context || (!source && length) || !model_name || !*model_name)
    return fail("iolite_capi_compile: no context, source or model name");
  if (StringRef(model_name).contains('/'))
    return fail(std::string("model name '") + model_name +
                "' must not contain '/'");
  // The driver reads models from files (the bundle is named after the
  // file): stage the text as MODEL_NAME.mlir in a scratch folder.
  llvm::SmallString<128> dir;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("iolite-capi", dir))
    return fail("cannot create a scratch folder: " + ec.message());
  llvm::SmallString<128> file(dir);
  llvm::sys::path::append(file, std::string(model_name) + ".mlir");
  iolite_capi_result_t result;
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(file, ec);
    if (ec) {
      llvm::sys::fs::remove_directories(dir);
      return fail("cannot write " + file.str().str() + ": " + ec.message());
    }
    os << StringRef(source, length);
  }
  result = iolite_capi_compile_file(context, file.c_str(), options);
  llvm::sys::fs::remove_directories(dir);
  return result;
}

iolite_capi_result_t iolite_capi_run_cpu(iolite_capi_context_t context,
                                         const char *source, size_t length,
                                         const char *buffer_name,
                                         const char *function,
                                         const iolite_capi_tensor_t *inputs,
                                         size_t num_inputs) {
  if (!context || (!source && length) || (!inputs && num_inputs))
    return fail("iolite_capi_run_cpu: no context, source or inputs");
  auto *result = new iolite_capi_result();
  MLIRContext &ctx = context->context;
  DiagnosticCollector diagnostics(ctx);
  auto run = [&]() -> LogicalResult {
    ParserConfig config(&ctx, /*verifyAfterParse=*/false);
    OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(
        StringRef(source, length), config, buffer_name ? buffer_name : "");
    if (!module)
      return failure();
    if (failed(verify(*module))) {
      diagnostics.attributeToOps(*module);
      return failure();
    }
    func::FuncOp func;
    if (function && *function) {
      func = module->lookupSymbol<func::FuncOp>(function);
      if (!func || func.isDeclaration())
        return emitError(module->getLoc(), "no function @")
               << function << " to run";
    } else {
      for (auto f : module->getOps<func::FuncOp>()) {
        if (f.isDeclaration())
          continue;
        if (func)
          return emitError(
              module->getLoc(),
              "the module has several functions: name the one to run");
        func = f;
      }
      if (!func)
        return emitError(module->getLoc(), "the module has no function to run");
    }
    if (failed(verifyRunnableSignature(func)))
      return failure();
    if (num_inputs != func.getNumArguments())
      return emitError(func.getLoc(), "@")
             << func.getSymName() << " takes " << func.getNumArguments()
             << " inputs, got " << num_inputs;
    // Symbolic dims take the sizes of this call's inputs.
    SmallVector<SmallVector<int64_t>> shapes;
    for (size_t i = 0; i < num_inputs; ++i)
      shapes.emplace_back(ArrayRef<int64_t>(inputs[i].shape, inputs[i].rank));
    if (failed(specializeForInputs(func, shapes)))
      return failure();
    SmallVector<HostTensor> hostInputs;
    for (auto [i, type] : llvm::enumerate(func.getArgumentTypes())) {
      auto tensorType = cast<RankedTensorType>(type);
      const iolite_capi_tensor_t &in = inputs[i];
      std::string dtype;
      llvm::raw_string_ostream ds(dtype);
      tensorType.getElementType().print(ds);
      HostTensor t = HostTensor::zeros(tensorType);
      if (!in.dtype || dtype != in.dtype ||
          ArrayRef<int64_t>(in.shape, in.rank) != tensorType.getShape() ||
          in.bytes != t.getStorageSize() || (in.bytes && !in.data))
        return emitError(func.getLoc(), "input ")
               << i << " is " << (in.dtype ? in.dtype : "?") << "["
               << llvm::interleaved(ArrayRef<int64_t>(in.shape, in.rank), "x")
               << "] (" << in.bytes << " bytes), @" << func.getSymName()
               << " takes " << tensorType;
      if (in.bytes)
        std::memcpy(t.data.data(), in.data, in.bytes);
      hostInputs.push_back(std::move(t));
    }
    FailureOr<SmallVector<HostTensor>> outputs =
        runOnCpu(*module, func, hostInputs);
    if (failed(outputs))
      return failure();
    for (const HostTensor &out : *outputs) {
      ::iolite::HostTensor t;
      llvm::raw_string_ostream ds(t.dtype);
      out.type.getElementType().print(ds);
      t.shape.assign(out.type.getShape().begin(), out.type.getShape().end());
      t.bytes.assign(out.data.begin(), out.data.end());
      result->tensors.push_back(std::move(t));
    }
    return success();
  };
  result->ok = succeeded(run());
  diagnostics.finish(*result);
  return result;
}

iolite_capi_result_t iolite_capi_bundle_open(const char *bundle_dir,
                                             iolite_device_t device,
                                             iolite_capi_bundle_t *bundle) {
  if (!bundle_dir || !device || !bundle)
    return fail("iolite_capi_bundle_open: no bundle folder, device or handle");
  *bundle = nullptr;
  {
    auto runner = ::iolite::BundleRunner::open(bundle_dir, device);
    if (!runner)
      return fail(llvm::toString(runner.takeError()));
    *bundle = new iolite_capi_bundle{std::move(*runner)};
    auto *result = new iolite_capi_result();
    result->ok = true;
    return result;
  }
}

iolite_capi_result_t iolite_capi_bundle_run(iolite_capi_bundle_t bundle,
                                            const iolite_capi_tensor_t *inputs,
                                            size_t num_inputs) {
  if (!bundle || (!inputs && num_inputs))
    return fail("iolite_capi_bundle_run: no bundle or inputs");
  {
    std::vector<::iolite::HostTensor> hostInputs;
    for (size_t i = 0; i < num_inputs; ++i) {
      const iolite_capi_tensor_t &in = inputs[i];
      if (!in.dtype || (in.rank && !in.shape) || (in.bytes && !in.data))
        return fail("input " + std::to_string(i) + " is malformed");
      ::iolite::HostTensor t;
      t.dtype = in.dtype;
      t.shape.assign(in.shape, in.shape + in.rank);
      const char *data = static_cast<const char *>(in.data);
      t.bytes.assign(data, data + in.bytes);
      hostInputs.push_back(std::move(t));
    }
    auto *result = new iolite_capi_result();
    if (llvm::Error e = bundle->runner->run(hostInputs, result->tensors)) {
      delete result;
      return fail(llvm::toString(std::move(e)));
    }
    result->ok = true;
    return result;
  }
}

void iolite_capi_bundle_check_inputs(iolite_capi_bundle_t bundle, int enabled) {
  if (bundle)
    bundle->runner->setCheckInputs(enabled != 0);
}

void iolite_capi_bundle_close(iolite_capi_bundle_t bundle) { delete bundle; }

} // extern "C"
