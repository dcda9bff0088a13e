//===- EmuStats.cpp - Print emulator launch statistics --------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Runtime/EmuStats.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"

#include <string>

using namespace iolite;

std::vector<iolite_emu_launch_stats_t>
iolite::collectEmuStats(iolite_device_t device) {
  std::vector<iolite_emu_launch_stats_t> result;
  size_t count = 0;
  if (iolite_emu_stats_count(device, &count) != IOLITE_SUCCESS)
    return result;
  for (size_t i = 0; i < count; ++i) {
    iolite_emu_launch_stats_t stats;
    if (iolite_emu_get_stats(device, i, &stats) == IOLITE_SUCCESS)
      result.push_back(stats);
  }
  return result;
}

static iolite_emu_launch_stats_t
total(llvm::ArrayRef<iolite_emu_launch_stats_t> stats) {
  iolite_emu_launch_stats_t sum{};
  sum.kernel = "total";
  for (const iolite_emu_launch_stats_t &s : stats) {
    sum.global_bytes_read += s.global_bytes_read;
    sum.global_bytes_written += s.global_bytes_written;
    sum.shared_bytes_read += s.shared_bytes_read;
    sum.shared_bytes_written += s.shared_bytes_written;
    sum.flops += s.flops;
    sum.barriers += s.barriers;
    sum.seconds += s.seconds;
    sum.matrix_flops += s.matrix_flops;
    sum.shared_wavefronts += s.shared_wavefronts;
    sum.shared_bank_conflicts += s.shared_bank_conflicts;
  }
  return sum;
}

static std::string triple(const uint32_t v[3]) {
  return "(" + std::to_string(v[0]) + "," + std::to_string(v[1]) + "," +
         std::to_string(v[2]) + ")";
}

void iolite::printEmuStatsTable(
    llvm::raw_ostream &os, llvm::ArrayRef<iolite_emu_launch_stats_t> stats) {
  size_t nameWidth = 6;
  for (const iolite_emu_launch_stats_t &s : stats)
    nameWidth = std::max(nameWidth, std::string(s.kernel).size());
  auto row = [&](llvm::StringRef kernel, llvm::StringRef grid,
                 llvm::StringRef block, llvm::StringRef shared,
                 llvm::StringRef cells[10]) {
    os << llvm::left_justify(kernel, nameWidth) << "  "
       << llvm::left_justify(grid, 16) << "  " << llvm::left_justify(block, 14)
       << "  " << llvm::right_justify(shared, 8);
    for (int i = 0; i < 10; ++i)
      os << "  " << llvm::right_justify(cells[i], i == 9 ? 9 : 14);
    os << "\n";
  };
  llvm::StringRef header[10] = {
      "global read", "global written", "shared read", "shared written",
      "flops",       "matrix flops",   "wavefronts",  "bank conflicts",
      "barriers",    "seconds"};
  row("kernel", "grid", "block", "shared", header);
  auto emit = [&](const iolite_emu_launch_stats_t &s, bool isTotal) {
    std::string cells[10] = {std::to_string(s.global_bytes_read),
                             std::to_string(s.global_bytes_written),
                             std::to_string(s.shared_bytes_read),
                             std::to_string(s.shared_bytes_written),
                             std::to_string(s.flops),
                             std::to_string(s.matrix_flops),
                             std::to_string(s.shared_wavefronts),
                             std::to_string(s.shared_bank_conflicts),
                             std::to_string(s.barriers),
                             llvm::formatv("{0:f4}", s.seconds).str()};
    llvm::StringRef refs[10];
    for (int i = 0; i < 10; ++i)
      refs[i] = cells[i];
    row(s.kernel, isTotal ? "" : triple(s.grid), isTotal ? "" : triple(s.block),
        isTotal ? "" : std::to_string(s.shared_bytes), refs);
  };
  for (const iolite_emu_launch_stats_t &s : stats)
    emit(s, false);
  if (stats.size() > 1)
    emit(total(stats), true);
}

static llvm::json::Object toJson(const iolite_emu_launch_stats_t &s,
                                 bool withLaunch) {
  llvm::json::Object o;
  if (withLaunch) {
    o["kernel"] = s.kernel;
    o["grid"] = llvm::json::Array{s.grid[0], s.grid[1], s.grid[2]};
    o["block"] = llvm::json::Array{s.block[0], s.block[1], s.block[2]};
    o["shared_bytes"] = s.shared_bytes;
  }
  o["global_bytes_read"] = s.global_bytes_read;
  o["global_bytes_written"] = s.global_bytes_written;
  o["shared_bytes_read"] = s.shared_bytes_read;
  o["shared_bytes_written"] = s.shared_bytes_written;
  o["flops"] = s.flops;
  o["matrix_flops"] = s.matrix_flops;
  o["shared_wavefronts"] = s.shared_wavefronts;
  o["shared_bank_conflicts"] = s.shared_bank_conflicts;
  o["barriers"] = s.barriers;
  o["seconds"] = s.seconds;
  return o;
}

void iolite::printEmuStatsJson(
    llvm::raw_ostream &os, llvm::ArrayRef<iolite_emu_launch_stats_t> stats) {
  llvm::json::Array launches;
  for (const iolite_emu_launch_stats_t &s : stats)
    launches.push_back(toJson(s, true));
  llvm::json::Object root;
  root["launches"] = std::move(launches);
  root["total"] = toJson(total(stats), false);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
}
