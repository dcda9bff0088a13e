//===- EmuStats.h - Print emulator launch statistics ------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The table and JSON forms of the emulator's per-launch counters, shared by
// the tools that offer --stats (iolite-emu, iolite-run).
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_RUNTIME_EMUSTATS_H
#define IOLITE_RUNTIME_EMUSTATS_H

#include "iolite/Runtime/iolite_runtime.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/raw_ostream.h"

#include <vector>

namespace iolite {

/// Every launch recorded on emu `device`, oldest first; empty if `device`
/// is not an emu device.
std::vector<iolite_emu_launch_stats_t> collectEmuStats(iolite_device_t device);

/// One row per launch plus a total row: kernel, grid, block, shared bytes,
/// global bytes read/written, shared bytes read/written, flops, barriers,
/// time.
void printEmuStatsTable(llvm::raw_ostream &os,
                        llvm::ArrayRef<iolite_emu_launch_stats_t> stats);

/// {"launches": [{"kernel": ..., "grid": [x,y,z], ...}, ...], "total": {...}}
/// with the field names of iolite_emu_launch_stats_t.
void printEmuStatsJson(llvm::raw_ostream &os,
                       llvm::ArrayRef<iolite_emu_launch_stats_t> stats);

} // namespace iolite

#endif // IOLITE_RUNTIME_EMUSTATS_H
