//===- TargetDescription.cpp - Facts about the supported chips ------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Numbers come from the vendors' programming guides: CUDA C Programming Guide
// table "Technical Specifications per Compute Capability" (8.0, 9.0) and the
// AMD CDNA2/CDNA3 ISA documents (64 KiB LDS per workgroup, 512 unified
// VGPRs+AGPRs per lane, wave64).
//
//===----------------------------------------------------------------------===//

#include "iolite/Target/TargetDescription.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

using namespace mlir;
using namespace mlir::iolite;

const KernelTuning *TargetDescription::getTuning(StringRef family) const {
  for (const auto &[name, tuning] : tunings)
    if (name == family)
      return &tuning;
  return nullptr;
}

bool TargetDescription::hasMatrixKind(::mlir::iolite::matrix::Kind kind) const {
  return llvm::is_contained(matrixKinds, kind);
}

static KernelTuning tuning(ArrayRef<int64_t> tile, unsigned threads,
                           unsigned stages = 1) {
  KernelTuning t;
  t.tile.assign(tile.begin(), tile.end());
  t.threads = threads;
  t.stages = stages;
  return t;
}

/// MoE kernel families (docs/moe-kernels.md). moe_router: {max tokens per
/// block, BK}; moe_dispatch: {assignments per block}; moe_grouped_matmul:
/// {BM, BN, BK} (BM shrinks to the average rows per expert); moe_combine:
/// {tokens, columns} per block. The `_mma` forms are the router and grouped
/// GEMM tiles on the matrix units (warps of instruction tiles; f16/bf16, or
/// TF32 when asked). The dispatch tile must be the same on every chip: it
/// decides the number of launches, which a bundle's targets share.
static void addMoeTunings(TargetDescription &t, ArrayRef<int64_t> gemmTile,
                          ArrayRef<int64_t> mmaGemmTile) {
  t.tunings.push_back({"moe_router", tuning({64, 16}, 256, 2)});
  t.tunings.push_back({"moe_router_mma", tuning({64, 32}, 256, 2)});
  t.tunings.push_back({"moe_dispatch", tuning({4096}, 256)});
  t.tunings.push_back({"moe_grouped_matmul", tuning(gemmTile, 256, 2)});
  t.tunings.push_back({"moe_grouped_matmul_mma", tuning(mmaGemmTile, 256, 2)});
  t.tunings.push_back({"moe_combine", tuning({8, 256}, 256)});
}

static TargetDescription
makeNvidia(StringRef chip, unsigned smemOptin, unsigned smemPerSM, unsigned sms,
           StringRef features, ArrayRef<int64_t> matmulTile,
           ArrayRef<int64_t> moeGemmTile, ArrayRef<int64_t> moeMmaGemmTile) {
  TargetDescription t;
  t.name = chip.str();
  t.chip = chip.str();
  t.vendor = GpuVendor::Nvidia;
  t.warpSize = 32;
  t.maxThreadsPerBlock = 1024;
  t.sharedMemoryPerBlock = 48 * 1024;
  t.sharedMemoryPerBlockOptin = smemOptin;
  t.sharedMemoryPerMultiprocessor = smemPerSM;
  t.multiprocessors = sms;
  t.registersPerThread = 255;
  // Half the registers a thread may have at 2 resident 256-thread blocks.
  t.accumulatorsPerThread = 64;
  t.registersPerMultiprocessor = 65536;
  t.features = features.str();
  // mma.sync m16n8k16 (f16, bf16) and m16n8k8 (tf32): sm_80 and later.
  using ::mlir::iolite::matrix::Kind;
  t.matrixKinds = {Kind::NvF16_16x8x16, Kind::NvBf16_16x8x16,
                   Kind::NvTf32_16x8x8};
  t.tunings.push_back({"elementwise", tuning({1}, 256)});
  // {rows per block, columns from which a row gets a whole block}: one row
  // per warp, 8 warps; from 2048 columns (16 passes of a warp's 4-wide
  // runs) a row is a block's.
  t.tunings.push_back({"row_reduction", tuning({8, 2048}, 256)});
  t.tunings.push_back({"matmul", tuning(matmulTile, 256, 2)});
  // Tensor-core matmuls (mma.sync m16n8k16): CUTLASS's and Triton's usual
  // 128x128x32 block with 8 warps as 2x4, 64x32 per warp (4x4 m16n8
  // tiles, 64 f32 accumulators per thread), double-buffered (32 KiB).
  t.tunings.push_back({"matmul_mma", tuning({128, 128, 32}, 256, 2)});
  // {min channels per block, chunk length, max states per thread}; up to
  // 512 threads (channels x lanes per channel).
  t.tunings.push_back({"selective_scan", tuning({64, 16, 32}, 512)});
  // {max chunk, max heads per block, f32 state registers per thread}.
  t.tunings.push_back({"ssd", tuning({64, 4, 64}, 256)});
  // SSD chunk products on mma.sync m16n8k16 (same fields; the state budget
  // counts accumulator registers): 8 warps, Q = 64 gives CB and y 4 m16n8
  // tiles per warp, a 64x128 state 8 tiles (32 registers) per head. 32
  // keeps N = 128 at one head per block: two spilled the fused Mamba-2
  // kernel (conv1d + SSD + gate).
  t.tunings.push_back({"ssd_mma", tuning({64, 4, 32}, 256)});
  // {channels per block, steps per tile, tiles per block}.
  t.tunings.push_back({"conv1d", tuning({8, 128, 8}, 256)});
  // {input tile, max outputs per thread}; threads grow with L up to 1024.
  t.tunings.push_back({"long_conv", tuning({1024, 32}, 256)});
  // {BM query rows, BN keys}: 16x16 threads, each with an 8-row slice of
  // the 128x64 score tile; K/V double-buffered (~130 KiB at head_dim 128
  // in f16, inside the opt-in limit of both chips). docs/attention.md.
  t.tunings.push_back({"attention", tuning({128, 64}, 256, 2)});
  // On the tensor cores: FlashAttention-2's 128-row query tile and 64-key
  // K/V tiles (flash_fwd_launch_template.h, head dim 128 on sm8x), 8 warps
  // of 16 rows each (one m16n8k16 row tile), Q fragments in registers, P
  // reused from the S accumulators; K/V double-buffered (64 KiB at head
  // dim 128).
  t.tunings.push_back({"attention_mma", tuning({128, 64}, 256, 2)});
  addMoeTunings(t, moeGemmTile, moeMmaGemmTile);
  return t;
}

static TargetDescription makeAmd(StringRef chip, unsigned cus) {
  TargetDescription t;
  t.name = chip.str();
  t.chip = chip.str();
  t.vendor = GpuVendor::Amd;
  t.warpSize = 64;
  t.maxThreadsPerBlock = 1024;
  // LDS has no opt-in on CDNA: 64 KiB per workgroup is the hard limit.
  t.sharedMemoryPerBlock = 64 * 1024;
  t.sharedMemoryPerBlockOptin = 64 * 1024;
  t.sharedMemoryPerMultiprocessor = 64 * 1024;
  t.multiprocessors = cus;
  t.registersPerThread = 512;
  // A quarter of the 256 architected VGPRs (AGPRs hold no FMA operands).
  t.accumulatorsPerThread = 64;
  // 4 SIMDs x 512 VGPRs x 64 lanes.
  t.registersPerMultiprocessor = 131072;
  // MFMA 32x32x8 and 16x16x16 in f16 and bf16 (the bf16_1k forms on both
  // CDNA2 and CDNA3); 32x32x8 first: it moves half the operand bytes per
  // flop of 16x16x16.
  using ::mlir::iolite::matrix::Kind;
  t.matrixKinds = {Kind::AmdF16_32x32x8, Kind::AmdBf16_32x32x8,
                   Kind::AmdF16_16x16x16, Kind::AmdBf16_16x16x16};
  t.tunings.push_back({"elementwise", tuning({1}, 256)});
  // {rows per block, columns from which a row gets a whole block}: one row
  // per wavefront, 4 wavefronts; from 4096 columns (16 passes of a
  // wavefront's 4-wide runs) a row is a block's.
  t.tunings.push_back({"row_reduction", tuning({4, 4096}, 256)});
  t.tunings.push_back({"matmul", tuning({64, 64, 16}, 256, 2)});
  // MFMA matmuls: 128x128x32 with 4 waves as 2x2, 64x64 per wave (2x2
  // 32x32x8 tiles, 64 f32 accumulators per lane), double-buffered (32 KiB
  // of the 64 KiB LDS).
  t.tunings.push_back({"matmul_mma", tuning({128, 128, 32}, 256, 2)});
  t.tunings.push_back({"selective_scan", tuning({64, 16, 32}, 512)});
  // {max chunk, max heads per block, f32 state registers per thread}.
  t.tunings.push_back({"ssd", tuning({64, 4, 64}, 256)});
  // On MFMA 32x32x8: 4 waves; a 64x128 state is 8 32x32 tiles, 2 per wave
  // (32 accumulator registers) per head; Q = 64 keeps B, C, M, x, x w and
  // H in 16-bit under 64 KiB of LDS at N = 64 (Q = 32 at N = 128).
  t.tunings.push_back({"ssd_mma", tuning({64, 4, 64}, 256)});
  // {channels per block, steps per tile, tiles per block}.
  t.tunings.push_back({"conv1d", tuning({8, 128, 8}, 256)});
  // {input tile, max outputs per thread}; threads grow with L up to 1024.
  t.tunings.push_back({"long_conv", tuning({1024, 32}, 256)});
  // 64 KiB of LDS: a 64x32 score tile keeps Q, double-buffered K/V and P
  // under the limit at head_dim 128 in f16 (~58 KiB).
  t.tunings.push_back({"attention", tuning({64, 32}, 256, 2)});
  // On MFMA: the same 128-row query tile as NVIDIA (4 waves of 32 rows, one
  // 32x32x8 row tile each, Q fragments in registers), 32-key K/V tiles so
  // that double-buffered K/V and the P tile (P's accumulator and A layouts
  // differ) fit 64 KiB of LDS at head dim 128 (40 KiB).
  t.tunings.push_back({"attention_mma", tuning({128, 32}, 256, 2)});
  addMoeTunings(t, {64, 128, 16}, {128, 128, 32});
  return t;
}

/// Residency facts of compute capability 8.0 and 9.0: CUDA C++ Programming
/// Guide, "Technical Specifications per Compute Capability" (32 blocks, 64
/// warps, 64K registers per SM, 1 KB shared memory reserved per block), and
/// the allocation granularities of the CUDA occupancy calculator
/// (cuda_occupancy.h: registers in units of 256 per warp over 4 SM
/// sub-partitions, shared memory in units of 128 bytes).
static void setNvidiaResidency(TargetDescription &t) {
  t.maxThreadsPerMultiprocessor = 2048;
  t.maxBlocksPerMultiprocessor = 32;
  t.registerFilePartitions = 4;
  t.registerAllocationUnit = 256 / 32;
  t.sharedMemoryAllocationUnit = 128;
  t.reservedSharedMemoryPerBlock = 1024;
}

/// CDNA2/CDNA3 (gfx90a, gfx942), as LLVM's AMDGPU back end models them
/// (AMDGPUBaseInfo.cpp): 4 SIMDs per CU with at most 8 waves each, 512
/// VGPRs (arch + acc) per lane allocated in units of 8, 800 SGPRs per SIMD
/// in units of 16, at most 16 multi-wave workgroups per CU (barriers), LDS
/// allocated in blocks of 128 dwords.
static void setCdnaResidency(TargetDescription &t) {
  t.maxThreadsPerMultiprocessor = 4 * 8 * 64;
  t.maxBlocksPerMultiprocessor = 16;
  t.registerFilePartitions = 4;
  t.registerAllocationUnit = 8;
  t.scalarRegistersPerPartition = 800;
  t.scalarRegisterAllocationUnit = 16;
  t.sharedMemoryAllocationUnit = 512;
  t.reservedSharedMemoryPerBlock = 0;
}

/// Peak rates from the data sheets: NVIDIA A100 Tensor Core GPU (SXM4
/// 80GB: 2039 GB/s, FP32 19.5 TFLOPS, FP16 tensor 312 TFLOPS dense), NVIDIA
/// H100 Tensor Core GPU (SXM5: 3.35 TB/s, FP32 67 TFLOPS, FP16 tensor 989.4
/// TFLOPS dense), AMD Instinct MI250X (per GCD, half the package: 1.6384
/// TB/s, FP32 vector 23.95 TFLOPS, FP16 matrix 191.5 TFLOPS) and AMD Instinct
/// MI300X (5.3 TB/s, FP32 vector 81.7 TFLOPS, FP16 matrix 1307.4 TFLOPS
/// dense).
static void setPeaks(TargetDescription &t, StringRef part, double bytesPerS,
                     double fp32, double fp16Matrix) {
  t.part = part.str();
  t.peakMemoryBandwidth = bytesPerS;
  t.peakVectorFp32Flops = fp32;
  t.peakMatrixFp16Flops = fp16Matrix;
}

static std::vector<TargetDescription> buildTargets() {
  std::vector<TargetDescription> chips;
  // A100 (108 SMs), H100 SXM (132 SMs), MI250X per GCD (110 CUs), MI300X
  // (304 CUs).
  chips.push_back(makeNvidia("sm_80", 163 * 1024, 164 * 1024, 108, "+ptx70",
                             {64, 64, 16}, {64, 128, 16}, {128, 128, 32}));
  chips.push_back(makeNvidia("sm_90a", 227 * 1024, 228 * 1024, 132, "+ptx80",
                             {128, 64, 16}, {128, 128, 16}, {128, 128, 32}));
  chips.push_back(makeAmd("gfx90a", 110));
  chips.push_back(makeAmd("gfx942", 304));
  for (TargetDescription &t : chips) {
    if (t.isNvidia())
      setNvidiaResidency(t);
    else
      setCdnaResidency(t);
  }
  setPeaks(chips[0], "A100 SXM4 80GB", 2.039e12, 19.5e12, 312e12);
  setPeaks(chips[1], "H100 SXM5 80GB", 3.35e12, 66.9e12, 989.4e12);
  setPeaks(chips[2], "MI250X (one GCD)", 1.6384e12, 23.95e12, 191.5e12);
  setPeaks(chips[3], "MI300X", 5.3e12, 81.7e12, 1307.4e12);
  std::vector<TargetDescription> all(chips.begin(), chips.end());
  for (const TargetDescription &chip : chips) {
    TargetDescription emu = chip;
    emu.name = "emu-" + chip.chip;
    emu.emulated = true;
    all.push_back(std::move(emu));
  }
  return all;
}

ArrayRef<TargetDescription> mlir::iolite::getAllTargets() {
  static const std::vector<TargetDescription> targets = buildTargets();
  return targets;
}

const TargetDescription *mlir::iolite::lookupTarget(StringRef name) {
  for (const TargetDescription &t : getAllTargets())
    if (t.name == name)
      return &t;
  return nullptr;
}

std::string mlir::iolite::getKnownTargetNames() {
  SmallVector<StringRef> names;
  for (const TargetDescription &t : getAllTargets())
    names.push_back(t.name);
  return llvm::join(names, ", ");
}

std::optional<SmallVector<const TargetDescription *>>
mlir::iolite::parseTargetList(StringRef list, std::string &error) {
  SmallVector<StringRef> parts;
  list.split(parts, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  SmallVector<const TargetDescription *> result;
  for (StringRef part : parts) {
    part = part.trim();
    const TargetDescription *t = lookupTarget(part);
    if (!t) {
      error = ("unknown target '" + part +
               "' (known: " + getKnownTargetNames() + ")")
                  .str();
      return std::nullopt;
    }
    if (llvm::is_contained(result, t)) {
      error = ("target '" + part + "' is named twice").str();
      return std::nullopt;
    }
    result.push_back(t);
  }
  if (result.empty()) {
    error = "no target given (known: " + getKnownTargetNames() + ")";
    return std::nullopt;
  }
  return result;
}

void mlir::iolite::printTargetDescriptionsJSON(llvm::raw_ostream &os) {
  using namespace llvm::json;
  Array targets;
  for (const TargetDescription &t : getAllTargets()) {
    Object tunings;
    for (const auto &[family, tuning] : t.tunings) {
      Array tile;
      for (int64_t v : tuning.tile)
        tile.push_back(v);
      tunings[family] = Object{{"tile", std::move(tile)},
                               {"threads", tuning.threads},
                               {"stages", tuning.stages}};
    }
    targets.push_back(Object{
        {"name", t.name},
        {"chip", t.chip},
        {"vendor", t.isNvidia() ? "nvidia" : "amd"},
        {"emulated", t.emulated},
        {"warp_size", t.warpSize},
        {"max_threads_per_block", t.maxThreadsPerBlock},
        {"shared_memory_per_block", t.sharedMemoryPerBlock},
        {"shared_memory_per_block_optin", t.sharedMemoryPerBlockOptin},
        {"shared_memory_per_multiprocessor", t.sharedMemoryPerMultiprocessor},
        {"multiprocessors", t.multiprocessors},
        {"registers_per_thread", t.registersPerThread},
        {"registers_per_multiprocessor", t.registersPerMultiprocessor},
        {"max_threads_per_multiprocessor", t.maxThreadsPerMultiprocessor},
        {"max_blocks_per_multiprocessor", t.maxBlocksPerMultiprocessor},
        {"register_file_partitions", t.registerFilePartitions},
        {"register_allocation_unit", t.registerAllocationUnit},
        {"scalar_registers_per_partition", t.scalarRegistersPerPartition},
        {"scalar_register_allocation_unit", t.scalarRegisterAllocationUnit},
        {"shared_memory_allocation_unit", t.sharedMemoryAllocationUnit},
        {"reserved_shared_memory_per_block", t.reservedSharedMemoryPerBlock},
        {"max_vector_bytes", t.maxVectorBytes},
        {"part", t.part},
        {"peak_memory_bandwidth", t.peakMemoryBandwidth},
        {"peak_vector_fp32_flops", t.peakVectorFp32Flops},
        {"peak_matrix_fp16_flops", t.peakMatrixFp16Flops},
        {"tunings", std::move(tunings)}});
  }
  os << llvm::formatv("{0:2}", Value(std::move(targets))) << "\n";
}
