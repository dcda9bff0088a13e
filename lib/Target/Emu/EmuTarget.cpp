//===- EmuTarget.cpp - Chips, pipeline and shared-object serialization ----===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// serializeEmu runs iolite-emu-lowering-pipeline on a copy of the
// gpu.module, translates the host module to LLVM IR, optimizes it and emits
// a position-independent object with upstream's ModuleToObject, then links
// it into a shared object with ld.lld.
//
//===----------------------------------------------------------------------===//

#include "iolite/Target/Emu/EmuTarget.h"

#include "EmuCommon.h"
#include "iolite/Dialect/IoliteGPU/Transforms/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/ModuleToObject.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

namespace mlir::iolite::emu {
#define GEN_PASS_REGISTRATION
#include "iolite/Target/Emu/Passes.h.inc"
} // namespace mlir::iolite::emu

using namespace mlir;
using namespace mlir::iolite;
using namespace mlir::iolite::emu;

const TargetDescription *mlir::iolite::emu::lookupEmuTarget(StringRef name) {
  name.consume_front("emu-");
  const TargetDescription *target = lookupTarget(("emu-" + name).str());
  return target && target->emulated ? target : nullptr;
}

std::string mlir::iolite::emu::getEmuChipNames() {
  std::string names;
  for (const TargetDescription &t : getAllTargets())
    if (t.emulated)
      names += (names.empty() ? "" : ", ") + t.chip;
  return names;
}

void mlir::iolite::emu::buildEmuLoweringPipeline(OpPassManager &pm,
                                                 const EmuOptions &options) {
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  igpu::LowerMatrixOpsOptions matrix;
  StringRef chip = options.chip;
  chip.consume_front("emu-");
  matrix.chip = ("emu-" + chip).str();
  matrix.level = options.matrixLevel;
  kernels.addPass(igpu::createLowerMatrixOps(matrix));
  kernels.addPass(createLowerAffinePass());
  // n-D transfers to unrolled 1-D ones (no temporary buffers), which the
  // instrumentation pass then turns into plain or masked vector accesses.
  kernels.addPass(createConvertVectorToSCFPass(
      VectorTransferToSCFOptions().enableFullUnroll()));
  EmuInstrumentPassOptions instrument;
  instrument.countFlops = options.countFlops;
  kernels.addPass(createEmuInstrumentPass(instrument));
  ConvertGpuToEmuPassOptions convert;
  convert.chip = options.chip;
  pm.addPass(createConvertGpuToEmuPass(convert));
}

void mlir::iolite::emu::registerEmuPasses() {
  registerEmuInstrumentPass();
  registerConvertGpuToEmuPass();
  PassPipelineRegistration<EmuPipelineOptions>(
      "iolite-emu-lowering-pipeline",
      "Lower gpu.modules to instrumented host LLVM dialect code for the "
      "emulator (the steps of serializeEmu before translation)",
      [](OpPassManager &pm, const EmuPipelineOptions &options) {
        EmuOptions emu;
        emu.chip = options.chip;
        emu.countFlops = options.countFlops;
        emu.matrixLevel = options.matrixLevel;
        buildEmuLoweringPipeline(pm, emu);
      });
}

namespace {

/// ModuleToObject for the host: the object must be position independent
/// to go into a shared object, so it brings its own TargetMachine.
class HostObjectEmitter : public LLVM::ModuleToObject {
public:
  HostObjectEmitter(Operation &module, StringRef triple, StringRef cpu,
                    int optLevel)
      : ModuleToObject(module, triple, cpu, /*features=*/"", optLevel) {}

protected:
  FailureOr<SmallVector<char, 0>>
  moduleToObject(llvm::Module &llvmModule) override {
    std::string error;
    llvm::Triple targetTriple(triple);
    const llvm::Target *target =
        llvm::TargetRegistry::lookupTarget(targetTriple, error);
    if (!target)
      return getOperation().emitError("emu: no LLVM target for the host: ")
             << error;
    llvm::CodeGenOptLevel level = optLevel <= 0   ? llvm::CodeGenOptLevel::None
                                  : optLevel == 1 ? llvm::CodeGenOptLevel::Less
                                  : optLevel == 2
                                      ? llvm::CodeGenOptLevel::Default
                                      : llvm::CodeGenOptLevel::Aggressive;
    std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
        targetTriple, chip, features, llvm::TargetOptions(), llvm::Reloc::PIC_,
        std::nullopt, level));
    if (!machine)
      return getOperation().emitError(
          "emu: cannot create a host target machine");
    llvmModule.setDataLayout(machine->createDataLayout());
    llvmModule.setPICLevel(llvm::PICLevel::BigPIC);
    SmallVector<char, 0> object;
    llvm::raw_svector_ostream stream(object);
    llvm::legacy::PassManager passes;
    if (machine->addPassesToEmitFile(passes, stream, nullptr,
                                     llvm::CodeGenFileType::ObjectFile))
      return getOperation().emitError(
          "emu: the host target cannot emit object files");
    passes.run(llvmModule);
    return object;
  }
};

/// Deletes a temporary file when it goes out of scope.
struct TemporaryFile {
  SmallString<128> path;
  ~TemporaryFile() {
    if (!path.empty())
      llvm::sys::fs::remove(path);
  }
};

std::string findLinker(const EmuOptions &options) {
  if (!options.linker.empty())
    return options.linker;
#ifdef IOLITE_LLD_PATH
  if (llvm::sys::fs::can_execute(IOLITE_LLD_PATH))
    return IOLITE_LLD_PATH;
#endif
  for (StringRef name : {"ld.lld-22", "ld.lld"})
    if (llvm::ErrorOr<std::string> path = llvm::sys::findProgramByName(name))
      return *path;
  return "";
}

FailureOr<std::string> linkSharedObject(ArrayRef<char> object,
                                        const EmuOptions &options,
                                        Location loc) {
  std::string linker = findLinker(options);
  if (linker.empty())
    return emitError(loc, "emu: ld.lld not found (install lld-22 or pass "
                          "its path in EmuOptions::linker)");
  TemporaryFile input, output, log;
  int fd = -1;
  if (llvm::sys::fs::createTemporaryFile("iolite-emu", "o", fd, input.path) ||
      llvm::sys::fs::createTemporaryFile("iolite-emu", "so", output.path) ||
      llvm::sys::fs::createTemporaryFile("iolite-emu", "log", log.path))
    return emitError(loc, "emu: cannot create temporary files");
  {
    llvm::raw_fd_ostream stream(fd, /*shouldClose=*/true);
    stream.write(object.data(), object.size());
    stream.close();
    if (stream.has_error())
      return emitError(loc, "emu: cannot write ") << input.path;
  }
  SmallVector<std::string> args = {linker,
                                   "-shared",
                                   "--hash-style=gnu",
                                   "-z",
                                   "noexecstack",
                                   "-z",
                                   "now",
                                   "-o",
                                   output.path.str().str(),
                                   input.path.str().str(),
                                   "--as-needed"};
  // Math functions the kernels call come from libm (and half-precision
  // conversions from libgcc_s): record them as dependencies so the object
  // loads under RTLD_LOCAL in any process.
  for (StringRef dir : {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                        "/lib64", "/usr/lib64", "/lib", "/usr/lib"})
    if (llvm::sys::fs::is_directory(dir))
      args.push_back(("-L" + dir).str());
  for (StringRef lib : {"libm.so.6", "libgcc_s.so.1"}) {
    for (StringRef dir : {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                          "/lib64", "/usr/lib64", "/lib", "/usr/lib"}) {
      SmallString<128> candidate(dir);
      llvm::sys::path::append(candidate, lib);
      if (llvm::sys::fs::exists(candidate)) {
        args.push_back(("-l:" + lib).str());
        break;
      }
    }
  }
  SmallVector<StringRef> argRefs(args.begin(), args.end());
  std::optional<StringRef> redirects[] = {std::nullopt, log.path.str(),
                                          log.path.str()};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(linker, argRefs, std::nullopt, redirects,
                                     /*SecondsToWait=*/0, /*MemoryLimit=*/0,
                                     &message);
  if (rc != 0) {
    std::string text;
    if (auto buffer = llvm::MemoryBuffer::getFile(log.path))
      text = (*buffer)->getBuffer().str();
    return emitError(loc, "emu: linking the shared object with ")
           << linker << " failed: " << (message.empty() ? text : message);
  }
  auto buffer = llvm::MemoryBuffer::getFile(output.path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return emitError(loc, "emu: cannot read the linked object ") << output.path;
  return (*buffer)->getBuffer().str();
}

} // namespace

FailureOr<std::string>
mlir::iolite::emu::serializeEmu(gpu::GPUModuleOp module,
                                const EmuOptions &options) {
  if (!lookupEmuTarget(options.chip))
    return module.emitError("emu: unknown chip '")
           << options.chip << "' (known: " << getEmuChipNames() << ")";
  MLIRContext *ctx = module.getContext();
  registerBuiltinDialectTranslation(*ctx);
  registerLLVMDialectTranslation(*ctx);

  OwningOpRef<ModuleOp> top = ModuleOp::create(module.getLoc());
  top->getBody()->push_back(module->clone());
  PassManager pm(ctx, ModuleOp::getOperationName());
  buildEmuLoweringPipeline(pm, options);
  if (failed(pm.run(*top)))
    return failure();
  auto hosts = top->getOps<ModuleOp>();
  if (hosts.empty())
    return module.emitError("emu: the lowering produced no host module");
  ModuleOp host = *hosts.begin();

  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::string triple = llvm::sys::getDefaultTargetTriple();
  std::string cpu = options.hostCpu;
  if (cpu.empty())
    cpu = llvm::Triple(triple).getArch() == llvm::Triple::x86_64 ? "x86-64"
                                                                 : "generic";
  HostObjectEmitter emitter(*host, triple, cpu,
                            static_cast<int>(options.optLevel));
  std::optional<SmallVector<char, 0>> object = emitter.run();
  if (!object)
    return failure();
  return linkSharedObject(*object, options, module.getLoc());
}
