//===- EmuCommon.h - Names and helpers shared by the emu passes -*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_TARGET_EMU_EMUCOMMON_H
#define IOLITE_LIB_TARGET_EMU_EMUCOMMON_H

#include "iolite/Runtime/iolite_emu_abi.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringRef.h"

#include <cstddef>

namespace mlir::iolite::emu {

/// Module attribute listing the text of every instrumented site.
constexpr llvm::StringLiteral kSitesAttrName = "iolite_emu.sites";
/// Attribute of the host builtin.module: the chip it was compiled for.
constexpr llvm::StringLiteral kChipAttrName = "iolite_emu.chip";

/// The hooks of iolite_emu_hooks_t, as the functions the lowered kernels
/// call; `slot` is the field's index in the table.
struct HookInfo {
  llvm::StringLiteral symbol;
  unsigned slot;
};

#define IOLITE_EMU_HOOK_SLOT(field)                                            \
  static_cast<unsigned>(offsetof(iolite_emu_hooks_t, field) / sizeof(void *))
constexpr HookInfo kIndexHook = {"__iolite_emu_index",
                                 IOLITE_EMU_HOOK_SLOT(index)};
constexpr HookInfo kBarrierHook = {"__iolite_emu_barrier",
                                   IOLITE_EMU_HOOK_SLOT(barrier)};
constexpr HookInfo kShuffleHook = {"__iolite_emu_shuffle",
                                   IOLITE_EMU_HOOK_SLOT(shuffle)};
constexpr HookInfo kShuffleValidHook = {"__iolite_emu_shuffle_valid",
                                        IOLITE_EMU_HOOK_SLOT(shuffle_valid)};
constexpr HookInfo kSharedMemoryHook = {
    "__iolite_emu_dynamic_shared_memory",
    IOLITE_EMU_HOOK_SLOT(dynamic_shared_memory)};
constexpr HookInfo kSharedMemorySizeHook = {
    "__iolite_emu_dynamic_shared_memory_size",
    IOLITE_EMU_HOOK_SLOT(dynamic_shared_memory_size)};
constexpr HookInfo kAccessHook = {"__iolite_emu_access",
                                  IOLITE_EMU_HOOK_SLOT(access)};
constexpr HookInfo kFlopsHook = {"__iolite_emu_flops",
                                 IOLITE_EMU_HOOK_SLOT(flops)};
constexpr HookInfo kAssertHook = {"__iolite_emu_assert_fail",
                                  IOLITE_EMU_HOOK_SLOT(assert_fail)};
constexpr HookInfo kMmaHook = {"__iolite_emu_mma", IOLITE_EMU_HOOK_SLOT(mma)};
constexpr HookInfo kLdMatrixHook = {"__iolite_emu_ldmatrix",
                                    IOLITE_EMU_HOOK_SLOT(ldmatrix)};
constexpr HookInfo kAsyncCopyHook = {"__iolite_emu_async_copy",
                                     IOLITE_EMU_HOOK_SLOT(async_copy)};
constexpr HookInfo kAsyncCommitHook = {"__iolite_emu_async_commit",
                                       IOLITE_EMU_HOOK_SLOT(async_commit)};
constexpr HookInfo kAsyncWaitHook = {"__iolite_emu_async_wait",
                                     IOLITE_EMU_HOOK_SLOT(async_wait)};
#undef IOLITE_EMU_HOOK_SLOT

constexpr HookInfo kAllHooks[] = {
    kIndexHook,        kBarrierHook,      kShuffleHook,
    kShuffleValidHook, kSharedMemoryHook, kSharedMemorySizeHook,
    kAccessHook,       kFlopsHook,        kAssertHook,
    kMmaHook,          kLdMatrixHook,     kAsyncCopyHook,
    kAsyncCommitHook,  kAsyncWaitHook};
static_assert(sizeof(kAllHooks) / sizeof(kAllHooks[0]) ==
                  sizeof(iolite_emu_hooks_t) / sizeof(void *),
              "every hook of iolite_emu_hooks_t has a HookInfo");

/// Names of what the lowering adds to the host module.
constexpr llvm::StringLiteral kHooksGlobalName = "__iolite_emu_hooks";
constexpr llvm::StringLiteral kEntryPrefix = "__iolite_emu_entry_";
constexpr llvm::StringLiteral kReservedPrefix = "__iolite_emu_";

/// Declares (once) `func.func private @symbol(inputs) -> results` in the
/// symbol table `module` and returns it.
func::FuncOp getOrDeclareHook(Operation *module, llvm::StringRef symbol,
                              TypeRange inputs, TypeRange results);

/// The texts of a module's instrumented sites (its kSitesAttrName
/// attribute), which the runtime quotes in its reports.
class SiteTable {
public:
  /// Starts from the sites already recorded on `module`.
  explicit SiteTable(Operation *module);
  /// Appends "file:line:col op.name" for `op`; returns its index.
  uint32_t add(Operation *op);
  /// Appends `text`; returns its index.
  uint32_t add(llvm::StringRef text);
  /// Stores the table on the module.
  void save();

private:
  Operation *module;
  SmallVector<Attribute> sites;
};

/// "file:line:col" of `loc` (the first file location in it), else its
/// printed form.
std::string locationText(Location loc);

/// The address (index) of element `indices` of `memref`: its aligned
/// pointer plus the strided offset times `elementBytes`. The one element
/// address the instrumentation and the hooks share.
Value emitElementAddress(OpBuilder &b, Location loc, Value memref,
                         ValueRange indices, int64_t elementBytes);

} // namespace mlir::iolite::emu

#endif // IOLITE_LIB_TARGET_EMU_EMUCOMMON_H
