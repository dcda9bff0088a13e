/*===- iolite_emu_abi.h - Contract between emu objects and the runtime ----===*\
|*                                                                            *|
|* Part of the Iolite project.                                                *|
|*                                                                            *|
|* The emu target (lib/Target/Emu) compiles a gpu.module into a host shared   *|
|* object; the runtime's emu backend (lib/Runtime) loads and runs it. This    *|
|* header is the whole interface between the two: one exported descriptor     *|
|* symbol, and a table of hooks the runtime hands to the object. The object   *|
|* imports no symbol from the runtime, so it loads under RTLD_LOCAL.          *|
|*                                                                            *|
|* Bump IOLITE_EMU_ABI_VERSION whenever anything here changes.                *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef IOLITE_RUNTIME_IOLITE_EMU_ABI_H
#define IOLITE_RUNTIME_IOLITE_EMU_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOLITE_EMU_ABI_VERSION 4

/// The one symbol an emu object exports: an iolite_emu_module_desc.
#define IOLITE_EMU_MODULE_SYMBOL "__iolite_emu_module"

/// `which` operand of the index hook.
enum iolite_emu_index {
  IOLITE_EMU_THREAD_ID_X = 0,
  IOLITE_EMU_THREAD_ID_Y = 1,
  IOLITE_EMU_THREAD_ID_Z = 2,
  IOLITE_EMU_BLOCK_ID_X = 3,
  IOLITE_EMU_BLOCK_ID_Y = 4,
  IOLITE_EMU_BLOCK_ID_Z = 5,
  IOLITE_EMU_BLOCK_DIM_X = 6,
  IOLITE_EMU_BLOCK_DIM_Y = 7,
  IOLITE_EMU_BLOCK_DIM_Z = 8,
  IOLITE_EMU_GRID_DIM_X = 9,
  IOLITE_EMU_GRID_DIM_Y = 10,
  IOLITE_EMU_GRID_DIM_Z = 11,
  IOLITE_EMU_LANE_ID = 12,
  IOLITE_EMU_SUBGROUP_ID = 13,
  IOLITE_EMU_NUM_SUBGROUPS = 14
};

/// `mode` operand of the shuffle hook (same order as gpu::ShuffleMode).
enum iolite_emu_shuffle_mode {
  IOLITE_EMU_SHUFFLE_XOR = 0,
  IOLITE_EMU_SHUFFLE_DOWN = 1,
  IOLITE_EMU_SHUFFLE_UP = 2,
  IOLITE_EMU_SHUFFLE_IDX = 3
};

/// Bits of the `kind` operand of the access hook.
enum iolite_emu_access_kind {
  IOLITE_EMU_ACCESS_READ = 1,
  IOLITE_EMU_ACCESS_WRITE = 2,
  IOLITE_EMU_ACCESS_ATOMIC = 4,
  /// Shared (workgroup) memory; otherwise global memory.
  IOLITE_EMU_ACCESS_SHARED = 8
};

/// `level` operand of the mma hook.
enum iolite_emu_mma_level {
  /// iolite_gpu.mma: fragments in the layout of Iolite's instruction table
  /// (include/iolite/Target/MatrixTable.h).
  IOLITE_EMU_MMA_WARP = 0,
  /// nvgpu.mma.sync / amdgpu.mfma: fragments in the vendor's register
  /// order, as the PTX and CDNA3 ISA documents give it.
  IOLITE_EMU_MMA_ISA = 1
};

/// Vendor whose warp-level semantics the object was compiled for.
enum iolite_emu_vendor {
  IOLITE_EMU_VENDOR_NVIDIA = 0,
  IOLITE_EMU_VENDOR_AMD = 1
};

/// Functions the runtime provides; the object calls them through the table
/// its `hooks` slot points at. All of them act on the calling GPU thread.
typedef struct iolite_emu_hooks {
  /// gpu.thread_id/block_id/block_dim/grid_dim/lane_id/subgroup_id/...
  uint64_t (*index)(uint32_t which);
  /// gpu.barrier; `site` indexes the module's site table.
  void (*barrier)(uint32_t site);
  /// gpu.shuffle on up to 64 bits; returns the shuffled bits.
  uint64_t (*shuffle)(uint64_t value, uint32_t offset, uint32_t width,
                      uint32_t mode, uint32_t site);
  /// The `valid` result of this thread's last shuffle (0 or 1).
  uint32_t (*shuffle_valid)(void);
  /// gpu.dynamic_shared_memory: the block's buffer and its size.
  void *(*dynamic_shared_memory)(void);
  uint64_t (*dynamic_shared_memory_size)(void);
  /// Before every global/shared access: bounds-check the `extent` bytes at
  /// `address` and count `counted` bytes (less than extent for masked
  /// accesses). Does not return if the check fails.
  void (*access)(uint64_t address, uint64_t extent, uint64_t counted,
                 uint32_t kind, uint32_t site);
  /// Adds `count` floating-point operations to the launch's counter.
  void (*flops)(uint64_t count);
  /// cf.assert failed; the message is the site's text. Does not return.
  void (*assert_fail)(uint32_t site);
  /// One matrix multiply-accumulate by the whole warp: every lane passes
  /// the addresses of its A, B and C fragments and of its D fragment.
  /// `kind` is an iolite::matrix::Kind, `level` an iolite_emu_mma_level.
  void (*mma)(uint32_t level, uint32_t kind, uint64_t a, uint64_t b, uint64_t c,
              uint64_t d, uint32_t site);
  /// nvgpu.ldmatrix (.m8n8 .b16, x1/x2/x4): every lane passes the shared
  /// memory address of one row of 8 elements; `result` receives the lane's
  /// 2 * tiles elements.
  void (*ldmatrix)(uint64_t address, uint32_t tiles, uint32_t transpose,
                   uint64_t result, uint32_t site);
  /// nvgpu.device_async_copy (cp.async): queues a copy of `src_bytes` bytes
  /// from global `src` to shared `dst`, zero-filling up to `dst_bytes`. The
  /// bytes land in shared memory only when a wait covers the copy's group.
  void (*async_copy)(uint64_t dst, uint64_t src, uint64_t dst_bytes,
                     uint64_t src_bytes, uint32_t site);
  /// nvgpu.device_async_create_group (cp.async.commit_group): closes a
  /// group of the thread's queued copies.
  void (*async_commit)(void);
  /// nvgpu.device_async_wait (cp.async.wait_group): completes the thread's
  /// committed groups but the `pending` most recent ones.
  void (*async_wait)(uint32_t pending, uint32_t site);
} iolite_emu_hooks_t;

typedef struct iolite_emu_kernel_desc {
  const char *name;
  /// Runs one GPU thread; `args` as cuLaunchKernel's kernelParams.
  void (*entry)(void **args);
  uint32_t num_params;
  /// gpu.known_block_size, or zeros when the kernel does not fix it.
  uint32_t known_block[3];
  /// Bit i: parameter i is a device pointer (a memref); parameters past
  /// the 64th are not described. The sanitizers read the pointers to know
  /// which named workspace tensors a launch may touch.
  uint64_t pointer_params;
} iolite_emu_kernel_desc_t;

typedef struct iolite_emu_module_desc {
  uint32_t abi_version;
  uint32_t vendor;    /* iolite_emu_vendor */
  uint32_t warp_size; /* 32 or 64 */
  uint32_t max_threads_per_block;
  uint64_t max_shared_bytes; /* dynamic shared memory limit per block */
  const char *chip;          /* the emulated chip, e.g. "sm_90a" */
  /// Where the runtime stores its hook table before any launch.
  const iolite_emu_hooks_t **hooks;
  uint32_t num_kernels;
  const iolite_emu_kernel_desc_t *kernels;
  uint32_t num_sites;
  /// "loc: op" text of each instrumented site, for reports.
  const char *const *sites;
} iolite_emu_module_desc_t;

#ifdef __cplusplus
}
#endif

#endif /* IOLITE_RUNTIME_IOLITE_EMU_ABI_H */
