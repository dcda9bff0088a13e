//===- Serialization.cpp - Kernels to cubin/HSACO with resource reports ---===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Upstream gpu-module-to-binary produces PTX (NVIDIA) and HSACO (AMD, through
// the ROCm device libraries and ld.lld of a toolkit folder). We run ptxas
// ourselves rather than letting MLIR do it so that its -v report (registers,
// spills, stack, shared memory) can be read into the manifest.
//
//===----------------------------------------------------------------------===//

#include "iolite/Target/Serialization.h"

#include "iolite/Pipelines/GpuPipelines.h"
#include "iolite/Target/Emu/EmuTarget.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVM/ROCDL/Utils.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Regex.h"
#include <cstdlib>

using namespace mlir;
using namespace mlir::iolite;

#ifndef IOLITE_DEFAULT_ROCM_TOOLKIT
#define IOLITE_DEFAULT_ROCM_TOOLKIT ""
#endif

FailureOr<std::vector<KernelResources>>
mlir::iolite::parsePtxasReport(StringRef text, std::string &error) {
  std::vector<KernelResources> reports;
  llvm::Regex entry("Compiling entry function '([^']+)'");
  llvm::Regex properties("Function properties for ([^ ]+)");
  llvm::Regex frame("^[[:space:]]*([0-9]+) bytes stack frame, ([0-9]+) bytes "
                    "spill stores, ([0-9]+) bytes spill loads");
  llvm::Regex regs(": Used ([0-9]+) registers");
  llvm::Regex smem("[ ,]([0-9]+) bytes smem");
  auto fail = [&](StringRef line, const Twine &what) {
    error =
        ("cannot read " + what + " from the ptxas line '" + line.trim() + "'")
            .str();
    return failure();
  };
  // The function whose "Function properties" the next frame line gives: a
  // device function's frame is not its caller's.
  std::string propertiesOf;
  SmallVector<StringRef> lines;
  text.split(lines, '\n');
  for (StringRef line : lines) {
    SmallVector<StringRef> m;
    if (entry.match(line, &m)) {
      reports.emplace_back();
      reports.back().kernel = m[1].str();
      continue;
    }
    if (properties.match(line, &m)) {
      propertiesOf = m[1].str();
      continue;
    }
    if (line.contains("bytes stack frame")) {
      int64_t stack, stores, loads;
      if (!frame.match(line, &m) || m[1].getAsInteger(10, stack) ||
          m[2].getAsInteger(10, stores) || m[3].getAsInteger(10, loads))
        return fail(line, "the stack frame and spill bytes");
      if (reports.empty() || propertiesOf != reports.back().kernel)
        continue;
      reports.back().stackBytes = stack;
      reports.back().spills = stores + loads;
      continue;
    }
    if (!line.contains(": Used "))
      continue;
    if (reports.empty())
      return fail(line, "the kernel of a register count");
    KernelResources &r = reports.back();
    int64_t registers, shared = 0;
    if (!regs.match(line, &m) || m[1].getAsInteger(10, registers))
      return fail(line, "the register count");
    // ptxas names shared memory only when the kernel reserves some.
    if (line.contains("bytes smem") &&
        (!smem.match(line, &m) || m[1].getAsInteger(10, shared)))
      return fail(line, "the shared memory bytes");
    r.registers = registers;
    r.staticSharedBytes = shared;
  }
  return reports;
}

LogicalResult
mlir::iolite::checkResourceReports(ArrayRef<KernelResources> reports,
                                   ArrayRef<std::string> kernels, bool amd,
                                   std::string &error) {
  SmallVector<std::string> problems;
  for (const std::string &kernel : kernels) {
    auto isKernel = [&](const KernelResources &r) {
      return r.kernel == kernel;
    };
    size_t count = llvm::count_if(reports, isKernel);
    if (count != 1) {
      problems.push_back("'" + kernel + "' has " +
                         (count ? std::to_string(count) : "no") + " reports");
      continue;
    }
    const KernelResources &r = *llvm::find_if(reports, isKernel);
    SmallVector<StringRef> missing;
    if (!r.registers)
      missing.push_back(amd ? "VGPRs" : "registers");
    if (amd && !r.scalarRegisters)
      missing.push_back("SGPRs");
    if (!r.spills)
      missing.push_back("spills");
    if (amd && !r.scalarSpills)
      missing.push_back("SGPR spills");
    if (!r.stackBytes)
      missing.push_back("stack");
    if (!r.staticSharedBytes)
      missing.push_back("shared memory");
    if (!missing.empty())
      problems.push_back("'" + kernel + "' has no " +
                         llvm::join(missing, ", "));
  }
  if (problems.empty())
    return success();
  error = llvm::join(problems, "; ");
  return failure();
}

/// Where tools/setup.sh puts ptxas and libdevice (NVIDIA's
/// nvidia-cuda-nvcc wheel from PyPI) on a machine without a CUDA toolkit.
static constexpr const char *kFallbackCudaToolkit = "/opt/iolite/cuda";

static std::string findPtxas(const BackendOptions &options) {
  if (!options.ptxasPath.empty())
    return options.ptxasPath;
  if (const char *env = std::getenv("IOLITE_PTXAS"))
    return env;
  if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/ptxas"))
    return "/usr/local/cuda/bin/ptxas";
  if (auto found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  std::string fallback = std::string(kFallbackCudaToolkit) + "/bin/ptxas";
  if (llvm::sys::fs::can_execute(fallback))
    return fallback;
  return "";
}

/// The CUDA toolkit folder whose nvvm/libdevice the NVVM serializer links:
/// empty (MLIR's default, /usr/local/cuda) when that one has it, else the
/// setup script's fallback.
static std::string findCudaToolkit() {
  if (const char *env = std::getenv("IOLITE_CUDA_TOOLKIT"))
    return env;
  if (llvm::sys::fs::exists("/usr/local/cuda/nvvm/libdevice/libdevice.10.bc"))
    return "";
  std::string fallback = kFallbackCudaToolkit;
  if (llvm::sys::fs::exists(fallback + "/nvvm/libdevice/libdevice.10.bc"))
    return fallback;
  return "";
}

static std::string findRocmToolkit(const BackendOptions &options) {
  if (!options.rocmToolkitPath.empty())
    return options.rocmToolkitPath;
  if (const char *env = std::getenv("IOLITE_ROCM_TOOLKIT"))
    return env;
  return IOLITE_DEFAULT_ROCM_TOOLKIT;
}

/// A pass manager whose passes are timed under `options.timing`, if any.
static void enableTiming(PassManager &pm, const BackendOptions &options) {
  if (options.timing && *options.timing)
    pm.enableTiming(*options.timing);
}

/// A step of the back end timed under `options.timing` (empty otherwise).
static TimingScope timeStep(const BackendOptions &options, StringRef name) {
  if (options.timing && *options.timing)
    return options.timing->nest(name);
  return TimingScope();
}

/// Runs gpu-module-to-binary with `format` and returns the object bytes.
static FailureOr<std::string> moduleToObject(ModuleOp module, StringRef format,
                                             StringRef toolkit,
                                             const BackendOptions &options) {
  PassManager pm(module.getContext());
  enableTiming(pm, options);
  GpuModuleToBinaryPassOptions opts;
  opts.compilationTarget = format.str();
  opts.toolkitPath = toolkit.str();
  pm.addPass(createGpuModuleToBinaryPass(opts));
  if (failed(pm.run(module)))
    return failure();
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute attr : binary.getObjects())
      if (auto object = dyn_cast<gpu::ObjectAttr>(attr))
        return object.getObject().getValue().str();
  return module.emitError("gpu-module-to-binary produced no object");
}

/// Lets ptxas allocate up to the per-thread limit in the kernels of `ptx`
/// named in `kernels`: `.minnctapersm 1` after their `.maxntid`. Under
/// `.maxntid` alone ptxas may trade a few spilled registers for one more
/// resident block (e.g. 87 -> 80 registers and 24 spill bytes in a 256-thread
/// GEMM); the project's kernels must not spill.
static std::string allowFullRegisterFile(StringRef ptx,
                                         ArrayRef<std::string> kernels) {
  std::string out = ptx.str();
  for (const std::string &kernel : kernels) {
    size_t entry = out.find(".entry " + kernel + "(");
    if (entry == std::string::npos)
      continue;
    size_t body = out.find('{', entry);
    size_t maxntid = out.find(".maxntid", entry);
    if (maxntid == std::string::npos || maxntid > body ||
        out.find(".minnctapersm", entry) < body)
      continue;
    size_t eol = out.find('\n', maxntid);
    out.insert(eol, "\n.minnctapersm 1");
  }
  return out;
}

/// ptxas: PTX -> cubin plus its resource report. A kernel that spills is
/// assembled again with the whole register file allowed
/// (allowFullRegisterFile), once.
static LogicalResult assemblePtx(ModuleOp module, StringRef ptxText,
                                 const TargetDescription &target,
                                 const BackendOptions &options,
                                 ArrayRef<std::string> kernels,
                                 TargetArtifact &artifact) {
  std::string ptxas = findPtxas(options);
  if (ptxas.empty())
    return module.emitError(
        "ptxas not found (install the CUDA toolkit or set IOLITE_PTXAS)");
  SmallString<128> ptxPath, cubinPath, logPath;
  if (llvm::sys::fs::createTemporaryFile("iolite", "ptx", ptxPath) ||
      llvm::sys::fs::createTemporaryFile("iolite", "cubin", cubinPath) ||
      llvm::sys::fs::createTemporaryFile("iolite", "log", logPath))
    return module.emitError("cannot create temporary files for ptxas");
  auto cleanup = [&] {
    llvm::sys::fs::remove(ptxPath);
    llvm::sys::fs::remove(cubinPath);
    llvm::sys::fs::remove(logPath);
  };
  std::string ptx = ptxText.str();
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      std::error_code ec;
      llvm::raw_fd_ostream os(ptxPath, ec);
      if (ec) {
        cleanup();
        return module.emitError("cannot write ") << ptxPath;
      }
      os << ptx;
    }
    std::string arch = "-arch=" + target.chip;
    SmallVector<StringRef> args{ptxas, "-v", arch, ptxPath, "-o", cubinPath};
    std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                            StringRef(logPath)};
    std::string errMsg;
    TimingScope ptxasTimer = timeStep(options, "ptxas");
    int rc = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects, 0,
                                       0, &errMsg);
    ptxasTimer.stop();
    auto log = llvm::MemoryBuffer::getFile(logPath);
    std::string logText = log ? (*log)->getBuffer().str() : "";
    if (rc != 0) {
      cleanup();
      return module.emitError() << "ptxas failed for " << target.name << ": "
                                << (errMsg.empty() ? logText : errMsg);
    }
    auto cubin = llvm::MemoryBuffer::getFile(cubinPath, /*IsText=*/false);
    if (!cubin) {
      cleanup();
      return module.emitError("ptxas produced no cubin");
    }
    artifact.binary = (*cubin)->getBuffer().str();
    std::string error;
    FailureOr<std::vector<KernelResources>> reports =
        parsePtxasReport(logText, error);
    if (failed(reports) ||
        failed(checkResourceReports(*reports, kernels, /*amd=*/false, error))) {
      cleanup();
      return module.emitError() << "incomplete `ptxas -v` resource report for "
                                << target.name << ": " << error;
    }
    artifact.kernels = std::move(*reports);
    SmallVector<std::string> spilled;
    for (const KernelResources &r : artifact.kernels)
      if (*r.spills > 0)
        spilled.push_back(r.kernel);
    // Under --max-registers the spills are what was asked for.
    if (spilled.empty() || options.maxRegisters)
      break;
    std::string retry = allowFullRegisterFile(ptx, spilled);
    if (retry == ptx)
      break;
    ptx = std::move(retry);
  }
  cleanup();
  return success();
}

/// Reads VGPR/SGPR/spill/LDS/scratch use from the HSACO's metadata.
static LogicalResult readHsacoMetadata(ModuleOp module,
                                       const TargetDescription &target,
                                       ArrayRef<std::string> kernels,
                                       TargetArtifact &artifact) {
  Builder builder(module.getContext());
  auto metadata = ROCDL::getAMDHSAKernelsELFMetadata(
      builder, ArrayRef<char>(artifact.binary.data(), artifact.binary.size()));
  if (!metadata)
    return module.emitError("cannot read amdhsa.kernels metadata from the "
                            "HSACO");
  // A key that is missing or not an integer stays unknown.
  auto get = [](NamedAttrList &attrs, StringRef key) -> std::optional<int64_t> {
    for (StringRef k : {key, key.drop_front()})
      if (auto v = dyn_cast_or_null<IntegerAttr>(attrs.get(k)))
        return v.getInt();
    return std::nullopt;
  };
  for (auto &[name, attrs] : *metadata) {
    KernelResources r;
    r.kernel = name.getValue().str();
    r.registers = get(attrs, ".vgpr_count");
    r.scalarRegisters = get(attrs, ".sgpr_count");
    r.spills = get(attrs, ".vgpr_spill_count");
    r.scalarSpills = get(attrs, ".sgpr_spill_count");
    r.stackBytes = get(attrs, ".private_segment_fixed_size");
    r.staticSharedBytes = get(attrs, ".group_segment_fixed_size");
    artifact.kernels.push_back(r);
  }
  llvm::sort(artifact.kernels,
             [](const KernelResources &a, const KernelResources &b) {
               return a.kernel < b.kernel;
             });
  std::string error;
  if (failed(
          checkResourceReports(artifact.kernels, kernels, /*amd=*/true, error)))
    return module.emitError()
           << "incomplete amdhsa.kernels resource report for " << target.name
           << ": " << error;
  return success();
}

/// emu-<chip>: the gpu.module becomes a host shared object for the runtime's
/// emulator (lib/Target/Emu); there is no assembly stage and no register
/// report.
static LogicalResult runEmuBackend(ModuleOp module,
                                   const TargetDescription &target,
                                   BackendStage stage,
                                   const BackendOptions &options,
                                   TargetArtifact *artifact) {
  emu::EmuOptions emuOptions;
  emuOptions.chip = target.chip;
  emuOptions.optLevel = std::min(options.optLevel, 2u);
  emuOptions.matrixLevel = options.emuMatrixLevel;
  if (stage == BackendStage::Assembly)
    return module.emitError()
           << "target '" << target.name
           << "' compiles for the host CPU: it has no PTX or AMDGCN";
  auto gpuModules = module.getOps<gpu::GPUModuleOp>();
  if (!llvm::hasSingleElement(gpuModules))
    return module.emitError("expected one gpu.module to compile for ")
           << target.name;
  if (stage == BackendStage::Llvm) {
    // The lowering turns the gpu.module into a host builtin.module, which
    // the host function's launches cannot refer to: lower a copy and put
    // it in the gpu.module's place, for printing only.
    gpu::GPUModuleOp kernels = *gpuModules.begin();
    OwningOpRef<ModuleOp> copy = ModuleOp::create(module.getLoc());
    copy->getBody()->push_back(kernels->clone());
    PassManager pm(module.getContext());
    emu::buildEmuLoweringPipeline(pm, emuOptions);
    if (failed(pm.run(*copy)))
      return failure();
    for (Operation &op : llvm::make_early_inc_range(*copy->getBody()))
      op.moveBefore(kernels);
    kernels.erase();
    return success();
  }
  FailureOr<std::string> object =
      emu::serializeEmu(*gpuModules.begin(), emuOptions);
  if (failed(object))
    return failure();
  if (artifact) {
    artifact->target = target.name;
    artifact->extension = "so";
    artifact->binary = std::move(*object);
  }
  return success();
}

/// --max-registers on the lowered kernels: `.maxnreg` for ptxas (it wins
/// over the `.maxntid` bound, which -maxrregcount does not), and the
/// AMDGPU back end's `amdgpu-num-vgpr` function attribute.
static void capRegisters(ModuleOp module, const TargetDescription &target,
                         ArrayRef<std::string> kernels, unsigned limit) {
  Builder b(module.getContext());
  module.walk([&](LLVM::LLVMFuncOp func) {
    if (!llvm::is_contained(kernels, func.getName()))
      return;
    if (target.isNvidia()) {
      func->setAttr(NVVM::NVVMDialect::getMaxnregAttrName(),
                    b.getI32IntegerAttr(limit));
      return;
    }
    SmallVector<Attribute> passthrough;
    if (ArrayAttr old = func.getPassthroughAttr())
      llvm::append_range(passthrough, old);
    passthrough.push_back(b.getStrArrayAttr(
        {"amdgpu-num-vgpr", b.getStringAttr(Twine(limit)).getValue()}));
    func.setPassthroughAttr(b.getArrayAttr(passthrough));
  });
}

LogicalResult
mlir::iolite::runBackend(ModuleOp module, const TargetDescription &target,
                         BackendStage stage, const BackendOptions &options,
                         std::string *assembly, TargetArtifact *artifact) {
  if (target.emulated) {
    TimingScope emuTimer = timeStep(options, "emu object");
    return runEmuBackend(module, target, stage, options, artifact);
  }
  // Every kernel must come back with a resource report.
  SmallVector<std::string> kernels;
  module.walk([&](gpu::GPUFuncOp func) {
    if (func.isKernel())
      kernels.push_back(func.getName().str());
  });
  PassManager pm(module.getContext());
  enableTiming(pm, options);
  GpuLoweringOptions lowering;
  lowering.optLevel = options.optLevel;
  buildGpuLoweringPipeline(pm, target, lowering);
  if (failed(pm.run(module)))
    return failure();
  if (options.maxRegisters)
    capRegisters(module, target, kernels, *options.maxRegisters);
  if (stage == BackendStage::Llvm)
    return success();

  std::string toolkit =
      target.isAmd() ? findRocmToolkit(options) : findCudaToolkit();
  bool needIsa = stage == BackendStage::Assembly || target.isNvidia();
  std::string isa;
  if (needIsa) {
    // The binary pass replaces the gpu.module; keep the input for AMD's
    // second (binary) serialization.
    OwningOpRef<ModuleOp> copy = module.clone();
    FailureOr<std::string> text =
        moduleToObject(*copy, "isa", toolkit, options);
    if (failed(text))
      return failure();
    isa = std::move(*text);
    if (stage == BackendStage::Assembly) {
      if (assembly)
        *assembly = isa;
      return success();
    }
  }
  TargetArtifact result;
  result.target = target.name;
  if (target.isNvidia()) {
    result.extension = "cubin";
    if (failed(assemblePtx(module, isa, target, options, kernels, result)))
      return failure();
  } else {
    result.extension = "hsaco";
    if (toolkit.empty() ||
        !llvm::sys::fs::exists(toolkit + "/amdgcn/bitcode/ocml.bc"))
      return module.emitError()
             << "ROCm device libraries not found under '" << toolkit
             << "/amdgcn/bitcode' (install rocm-device-libs or set "
                "IOLITE_ROCM_TOOLKIT)";
    FailureOr<std::string> hsaco =
        moduleToObject(module, "bin", toolkit, options);
    if (failed(hsaco))
      return failure();
    result.binary = std::move(*hsaco);
    TimingScope metadataTimer = timeStep(options, "read HSACO metadata");
    if (failed(readHsacoMetadata(module, target, kernels, result)))
      return failure();
  }
  if (artifact)
    *artifact = std::move(result);
  return success();
}
