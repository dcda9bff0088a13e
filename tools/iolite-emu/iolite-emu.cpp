//===- iolite-emu.cpp - Compile and launch one kernel on the emulator -----===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// A developer's and the tests' way to run a hand-written gpu.module:
//
//   iolite-emu kernels.mlir --chip=gfx942 -o kernels.so      # compile only
//   iolite-emu kernels.mlir --kernel=copy --grid=4 --block=256 \
//       --arg='f32[1024]=iota' --arg='f32[1024]=zeros' --print=1 --stats
//
// The input is a .mlir file holding one gpu.module (serialized with
// serializeEmu) or an emu shared object. Arguments are buffers
// (TYPE[D0xD1...]=INIT, INIT one of iota, zeros, fill:V, rand:SEED,
// uninit) or scalars (TYPE=VALUE), passed in order.
//
//===----------------------------------------------------------------------===//

#include "iolite/InitAll.h"
#include "iolite/Runtime/EmuStats.h"
#include "iolite/Runtime/iolite_runtime.h"
#include "iolite/Target/Emu/EmuTarget.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <cstring>
#include <random>

using namespace llvm;

static cl::opt<std::string> inputFile(cl::Positional,
                                      cl::desc("<gpu.module .mlir or emu .so>"),
                                      cl::Required);
static cl::opt<std::string> chip("chip", cl::desc("Emulated chip"),
                                 cl::init("sm_90a"));
static cl::opt<std::string>
    outputFile("o", cl::desc("Write the emu shared object here and stop"),
               cl::value_desc("file"));
static cl::opt<unsigned> optLevel("O", cl::desc("Host optimization level"),
                                  cl::init(2));
static cl::opt<std::string>
    matrixLevel("matrix-level",
                cl::desc("isa: lower matrix ops for the chip and emulate its "
                         "instructions; warp: emulate iolite_gpu.mma from the "
                         "instruction table"),
                cl::init("isa"));
static cl::opt<std::string> kernelName("kernel", cl::desc("Kernel to launch"));
static cl::opt<std::string> gridText("grid", cl::desc("Grid X[,Y[,Z]]"),
                                     cl::init("1"));
static cl::opt<std::string> blockText("block", cl::desc("Block X[,Y[,Z]]"),
                                      cl::init("1"));
static cl::opt<unsigned>
    sharedBytes("shared", cl::desc("Dynamic shared memory bytes"), cl::init(0));
static cl::list<std::string> argSpecs("arg", cl::desc("Kernel argument"),
                                      cl::value_desc("spec"));
static cl::opt<std::string>
    checks("check", cl::desc("Emulator sanitizers: race, bounds, init, hang "
                             "(comma list), all or none (sets "
                             "IOLITE_EMU_CHECK)"));
static cl::opt<std::string>
    emuSeed("emu-seed", cl::desc("Order in which the emulator runs a block's "
                                 "threads: 0 fixed, else shuffled by this "
                                 "seed (sets IOLITE_EMU_SEED)"));
static cl::list<unsigned> printArgs("print", cl::CommaSeparated,
                                    cl::desc("Print these buffer arguments "
                                             "after the launch"));

namespace {

struct KernelArgument {
  std::string type; // f32, f64, f16, i8, i32, i64
  bool buffer = false;
  size_t count = 1;
  std::vector<unsigned char> host;
  void *device = nullptr;
  void *slot = nullptr; // what args[i] points at
  uint64_t scalar = 0;
};

size_t typeBytes(StringRef type) {
  return StringSwitch<size_t>(type)
      .Cases({"f64", "i64", "index"}, 8)
      .Cases({"f32", "i32"}, 4)
      .Cases({"f16", "bf16", "i16"}, 2)
      .Case("i8", 1)
      .Default(0);
}

/// Stores `value` as element `i` of a buffer of `type`.
void storeElement(KernelArgument &arg, size_t i, double value) {
  unsigned char *p = arg.host.data() + i * typeBytes(arg.type);
  if (arg.type == "f32") {
    float f = static_cast<float>(value);
    std::memcpy(p, &f, 4);
  } else if (arg.type == "f64") {
    std::memcpy(p, &value, 8);
  } else if (arg.type == "f16" || arg.type == "bf16") {
    APFloat f(value);
    bool lost;
    f.convert(arg.type == "f16" ? APFloat::IEEEhalf() : APFloat::BFloat(),
              APFloat::rmNearestTiesToEven, &lost);
    uint16_t bits = static_cast<uint16_t>(f.bitcastToAPInt().getZExtValue());
    std::memcpy(p, &bits, 2);
  } else {
    int64_t v = static_cast<int64_t>(value);
    std::memcpy(p, &v, typeBytes(arg.type)); // little-endian truncation
  }
}

double loadElement(const KernelArgument &arg, size_t i) {
  const unsigned char *p = arg.host.data() + i * typeBytes(arg.type);
  if (arg.type == "f32") {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  if (arg.type == "f64") {
    double d;
    std::memcpy(&d, p, 8);
    return d;
  }
  if (arg.type == "f16" || arg.type == "bf16") {
    uint16_t bits;
    std::memcpy(&bits, p, 2);
    APFloat f(arg.type == "f16" ? APFloat::IEEEhalf() : APFloat::BFloat(),
              APInt(16, bits));
    return f.convertToDouble();
  }
  int64_t v = 0;
  std::memcpy(&v, p, typeBytes(arg.type));
  size_t bits = 8 * typeBytes(arg.type);
  if (bits < 64) // sign-extend
    v = (v << (64 - bits)) >> (64 - bits);
  return static_cast<double>(v);
}

bool parseDims(StringRef text, uint32_t out[3]) {
  out[0] = out[1] = out[2] = 1;
  SmallVector<StringRef> parts;
  text.split(parts, ',');
  if (parts.empty() || parts.size() > 3)
    return false;
  for (size_t i = 0; i < parts.size(); ++i)
    if (parts[i].trim().getAsInteger(10, out[i]) || out[i] == 0)
      return false;
  return true;
}

/// Parses TYPE[D0xD1]=INIT or TYPE=VALUE.
bool parseArgument(StringRef spec, KernelArgument &arg, std::string &error) {
  auto [lhs, init] = spec.split('=');
  if (init.empty()) {
    error = "expected TYPE[SHAPE]=INIT or TYPE=VALUE";
    return false;
  }
  size_t bracket = lhs.find('[');
  arg.type = lhs.substr(0, bracket).str();
  if (!typeBytes(arg.type)) {
    error = "unknown element type '" + arg.type + "'";
    return false;
  }
  if (bracket == StringRef::npos) {
    if (arg.type == "f32") {
      float f;
      double d;
      if (init.getAsDouble(d)) {
        error = "bad scalar '" + init.str() + "'";
        return false;
      }
      f = static_cast<float>(d);
      std::memcpy(&arg.scalar, &f, 4);
    } else if (arg.type == "f64") {
      double d;
      if (init.getAsDouble(d)) {
        error = "bad scalar '" + init.str() + "'";
        return false;
      }
      std::memcpy(&arg.scalar, &d, 8);
    } else {
      int64_t v;
      if (init.getAsInteger(0, v)) {
        error = "bad scalar '" + init.str() + "'";
        return false;
      }
      std::memcpy(&arg.scalar, &v, 8);
    }
    arg.slot = &arg.scalar;
    return true;
  }
  StringRef shape = lhs.substr(bracket + 1);
  if (!shape.consume_back("]")) {
    error = "missing ']'";
    return false;
  }
  arg.buffer = true;
  SmallVector<StringRef> dims;
  shape.split(dims, 'x');
  for (StringRef d : dims) {
    size_t n;
    if (d.getAsInteger(10, n) || n == 0) {
      error = "bad shape '" + shape.str() + "'";
      return false;
    }
    arg.count *= n;
  }
  arg.host.assign(arg.count * typeBytes(arg.type), 0);
  if (init == "iota") {
    for (size_t i = 0; i < arg.count; ++i)
      storeElement(arg, i, static_cast<double>(i));
  } else if (init == "zeros" || init == "uninit") {
    // zeros: already; uninit: not copied to the device at all.
  } else if (init.consume_front("fill:")) {
    double v;
    if (init.getAsDouble(v)) {
      error = "bad fill value";
      return false;
    }
    for (size_t i = 0; i < arg.count; ++i)
      storeElement(arg, i, v);
  } else if (init.consume_front("rand:")) {
    unsigned seed;
    if (init.getAsInteger(10, seed)) {
      error = "bad seed";
      return false;
    }
    std::mt19937 gen(seed);
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    for (size_t i = 0; i < arg.count; ++i)
      storeElement(arg, i, dist(gen));
  } else {
    error = "unknown initializer '" + init.str() + "'";
    return false;
  }
  return true;
}

int fail(const Twine &message) {
  errs() << "iolite-emu: " << message << "\n";
  return 1;
}

int failRuntime(const Twine &what) {
  return fail(what + ": " + iolite_last_error());
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  // LLVM's own -stats would clash with ours: rename it before registering.
  if (cl::Option *llvmStats = cl::getRegisteredOptions().lookup("stats"))
    llvmStats->setArgStr("llvm-stats");
  static cl::opt<std::string> statsFormat(
      "stats", cl::desc("Print launch statistics (table or json)"),
      cl::ValueOptional, cl::init(""));
  cl::ParseCommandLineOptions(argc, argv,
                              "Compile a gpu.module for the Iolite emulator "
                              "and launch one of its kernels\n");

  // The emu object: compiled from MLIR, or read as is.
  std::string image;
  std::string error;
  if (StringRef(inputFile).ends_with(".so")) {
    auto buffer = MemoryBuffer::getFile(inputFile, /*IsText=*/false);
    if (!buffer)
      return fail("cannot read " + inputFile);
    image = (*buffer)->getBuffer().str();
  } else {
    mlir::DialectRegistry registry;
    mlir::iolite::registerAllDialects(registry);
    mlir::MLIRContext context(registry);
    auto file = mlir::openInputFile(inputFile, &error);
    if (!file)
      return fail(error);
    SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(std::move(file), SMLoc());
    mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
    mlir::OwningOpRef<mlir::Operation *> top =
        mlir::parseSourceFile(sourceMgr, mlir::ParserConfig(&context));
    if (!top)
      return 1;
    mlir::gpu::GPUModuleOp module;
    top->walk([&](mlir::gpu::GPUModuleOp m) {
      if (!module)
        module = m;
    });
    if (!module)
      return fail(inputFile + " holds no gpu.module");
    mlir::iolite::emu::EmuOptions options;
    options.chip = chip;
    options.optLevel = optLevel;
    options.matrixLevel = matrixLevel;
    FailureOr<std::string> object =
        mlir::iolite::emu::serializeEmu(module, options);
    if (failed(object))
      return 1;
    image = std::move(*object);
  }
  if (!outputFile.empty()) {
    auto output = mlir::openOutputFile(outputFile, &error);
    if (!output)
      return fail(error);
    output->os() << image;
    output->keep();
    return 0;
  }
  if (kernelName.empty())
    return fail("nothing to do: give -o FILE or --kernel NAME");

  uint32_t grid[3], block[3];
  if (!parseDims(gridText, grid))
    return fail("bad --grid '" + gridText + "'");
  if (!parseDims(blockText, block))
    return fail("bad --block '" + blockText + "'");
  std::vector<KernelArgument> args(argSpecs.size());
  for (size_t i = 0; i < argSpecs.size(); ++i)
    if (!parseArgument(argSpecs[i], args[i], error))
      return fail("--arg " + Twine(i) + " '" + argSpecs[i] + "': " + error);
  for (unsigned p : printArgs)
    if (p >= args.size() || !args[p].buffer)
      return fail("--print " + Twine(p) + " is not a buffer argument");

  StringRef backend = StringRef(inputFile).ends_with(".so") ? "emu" : "";
  std::string device_name = backend.empty() ? "emu-" + chip : "emu";
  if (StringRef(chip).starts_with("emu-") && backend.empty())
    device_name = chip;
  iolite_device_t device = nullptr;
  // The emu device reads its sanitizers and seed from the environment.
  if (checks.getNumOccurrences())
    ::setenv("IOLITE_EMU_CHECK", checks.c_str(), 1);
  if (emuSeed.getNumOccurrences())
    ::setenv("IOLITE_EMU_SEED", emuSeed.c_str(), 1);
  if (iolite_device_open(device_name.c_str(), 0, &device) != IOLITE_SUCCESS)
    return failRuntime("cannot open " + device_name);
  iolite_module_t module = nullptr;
  if (iolite_module_load(device, image.data(), image.size(), &module) !=
      IOLITE_SUCCESS)
    return failRuntime("cannot load the emu object");
  iolite_kernel_t kernel = nullptr;
  if (iolite_module_get_kernel(module, kernelName.c_str(), &kernel) !=
      IOLITE_SUCCESS)
    return failRuntime("cannot find the kernel");

  std::vector<void *> slots;
  for (size_t i = 0; i < args.size(); ++i) {
    KernelArgument &arg = args[i];
    if (arg.buffer) {
      if (iolite_malloc(device, arg.host.size(), &arg.device) != IOLITE_SUCCESS)
        return failRuntime("cannot allocate argument " + Twine(i));
      if (!StringRef(argSpecs[i]).ends_with("=uninit") &&
          iolite_memcpy_h2d(device, arg.device, arg.host.data(),
                            arg.host.size()) != IOLITE_SUCCESS)
        return failRuntime("cannot copy argument " + Twine(i));
      arg.slot = &arg.device;
    }
    slots.push_back(arg.slot);
  }
  int status = 0;
  if (iolite_launch(kernel, grid, block, sharedBytes, nullptr,
                    slots.empty() ? nullptr : slots.data()) != IOLITE_SUCCESS) {
    errs() << "iolite-emu: launch of '" << kernelName << "' failed:\n"
           << iolite_last_error() << "\n";
    status = 1;
  }
  if (status == 0) {
    for (unsigned p : printArgs) {
      KernelArgument &arg = args[p];
      if (iolite_memcpy_d2h(device, arg.host.data(), arg.device,
                            arg.host.size()) != IOLITE_SUCCESS)
        return failRuntime("cannot read back argument " + Twine(p));
      outs() << "arg" << p << " =";
      for (size_t i = 0; i < arg.count; ++i)
        outs() << " " << format("%.9g", loadElement(arg, i));
      outs() << "\n";
    }
    if (statsFormat.getNumOccurrences()) {
      std::vector<iolite_emu_launch_stats_t> stats =
          iolite::collectEmuStats(device);
      if (statsFormat == "json")
        iolite::printEmuStatsJson(outs(), stats);
      else if (statsFormat.empty() || statsFormat == "table")
        iolite::printEmuStatsTable(outs(), stats);
      else
        return fail("--stats takes table or json");
    }
  }
  for (KernelArgument &arg : args)
    if (arg.device)
      iolite_free(device, arg.device);
  iolite_module_unload(module);
  iolite_device_close(device);
  return status;
}
