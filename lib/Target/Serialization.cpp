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

std::vector<KernelResources> mlir::iolite::parsePtxasReport(StringRef text) {
  std::vector<KernelResources> reports;
  llvm::Regex entry("Compiling entry function '([^']+)'");
  llvm::Regex frame("([0-9]+) bytes stack frame, ([0-9]+) bytes spill "
                    "stores, ([0-9]+) bytes spill loads");
  llvm::Regex regs("Used ([0-9]+) registers");
  llvm::Regex smem("([0-9]+) bytes smem");
  SmallVector<StringRef> lines;
  text.split(lines, '\n');
  for (StringRef line : lines) {
    SmallVector<StringRef> m;
    if (entry.match(line, &m)) {
      reports.emplace_back();
      reports.back().kernel = m[1].str();
      continue;
    }
    if (reports.empty())
      continue;
    KernelResources &r = reports.back();
    if (frame.match(line, &m)) {
      r.stackBytes = std::stoll(m[1].str());
      r.spills = std::stoll(m[2].str()) + std::stoll(m[3].str());
    }
    if (regs.match(line, &m))
      r.registers = std::stoll(m[1].str());
    if (smem.match(line, &m))
      r.staticSharedBytes = std::stoll(m[1].str());
  }
  return reports;
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
    artifact.kernels = parsePtxasReport(logText);
    SmallVector<std::string> spilled;
    for (const KernelResources &r : artifact.kernels)
      if (r.spills > 0)
        spilled.push_back(r.kernel);
    if (spilled.empty())
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
                                       TargetArtifact &artifact) {
  Builder builder(module.getContext());
  auto metadata = ROCDL::getAMDHSAKernelsELFMetadata(
      builder, ArrayRef<char>(artifact.binary.data(), artifact.binary.size()));
  if (!metadata)
    return module.emitError("cannot read amdhsa.kernels metadata from the "
                            "HSACO");
  auto get = [](NamedAttrList &attrs, StringRef key) -> int64_t {
    for (StringRef k : {key, key.drop_front()})
      if (auto v = dyn_cast_or_null<IntegerAttr>(attrs.get(k)))
        return v.getInt();
    return 0;
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

LogicalResult
mlir::iolite::runBackend(ModuleOp module, const TargetDescription &target,
                         BackendStage stage, const BackendOptions &options,
                         std::string *assembly, TargetArtifact *artifact) {
  if (target.emulated) {
    TimingScope emuTimer = timeStep(options, "emu object");
    return runEmuBackend(module, target, stage, options, artifact);
  }
  PassManager pm(module.getContext());
  enableTiming(pm, options);
  GpuLoweringOptions lowering;
  lowering.optLevel = options.optLevel;
  buildGpuLoweringPipeline(pm, target, lowering);
  if (failed(pm.run(module)))
    return failure();
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
    if (failed(assemblePtx(module, isa, target, options, result)))
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
    if (failed(readHsacoMetadata(module, result)))
      return failure();
  }
  if (artifact)
    *artifact = std::move(result);
  return success();
}
