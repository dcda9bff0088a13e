/*===- iolite_runtime.h - Iolite runtime C API ----------------------------===*\
|*                                                                            *|
|* Part of the Iolite project.                                                *|
|*                                                                            *|
|* The stable C interface the generated launch code (NAME.c of a bundle),     *|
|* iolite-run and the Python package call to run kernels. Three backends sit  *|
|* behind it: "cuda" (driver API, libcuda.so.1 opened at run time), "hip"     *|
|* (libamdhip64.so opened at run time) and "emu" (the GPU emulator on the     *|
|* host CPU). Every call returns a status; on failure iolite_last_error()     *|
|* describes it. Nothing here aborts the process.                             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef IOLITE_RUNTIME_IOLITE_RUNTIME_H
#define IOLITE_RUNTIME_IOLITE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version 2 added emu-CHIP devices, iolite_device_supports_target,
 * iolite_module_load_file and the emu statistics calls; version 4
 * iolite_set_error (the launch code of bundles with symbolic dims). */
#define IOLITE_RUNTIME_API_VERSION 4

/// Result of every runtime call.
typedef enum iolite_status {
  IOLITE_SUCCESS = 0,
  IOLITE_ERROR_INVALID_ARGUMENT = 1,
  IOLITE_ERROR_BACKEND_UNAVAILABLE = 2, /* driver library or device missing */
  IOLITE_ERROR_OUT_OF_MEMORY = 3,
  IOLITE_ERROR_NOT_FOUND = 4,     /* no kernel / no binary for the device */
  IOLITE_ERROR_LAUNCH_FAILED = 5, /* includes emulator memcheck reports */
  IOLITE_ERROR_BACKEND = 6        /* any other driver error */
} iolite_status_t;

typedef struct iolite_device *iolite_device_t;
typedef struct iolite_module *iolite_module_t;
typedef struct iolite_kernel *iolite_kernel_t;
/// A stream; NULL is the device's default stream.
typedef struct iolite_stream *iolite_stream_t;

/// The message of the last failed call on this thread ("" if none).
const char *iolite_last_error(void);
/// Makes `message` (NULL: "") the last error of this thread and returns
/// `status`: how generated launch code reports the checks it makes itself.
iolite_status_t iolite_set_error(iolite_status_t status, const char *message);

/// Opens device `ordinal` of `backend` ("cuda", "hip", "emu", or
/// "emu-CHIP" such as "emu-sm_90a" for an emulator that only accepts code
/// compiled for that chip). For emu, `ordinal` must be 0. A backend whose
/// driver library or device is missing gives IOLITE_ERROR_BACKEND_UNAVAILABLE.
iolite_status_t iolite_device_open(const char *backend, int ordinal,
                                   iolite_device_t *device);
void iolite_device_close(iolite_device_t device);

/// The backend name ("cuda", "hip", "emu").
const char *iolite_device_backend(iolite_device_t device);
/// The chip the device is, as bundle targets name chips: "sm_90",
/// "gfx942", ...; for emu "emu-CHIP" (the chip given at open, else the chip
/// of the first module loaded, "emu" before that).
const char *iolite_device_arch(iolite_device_t device);

/// 1 if code compiled for bundle target `target` ("sm_90a", "sm_80",
/// "gfx942", "emu-gfx942", ...) runs on `device`, else 0. NVIDIA code for
/// sm_XY runs on compute capability X.Y' with Y' >= Y, sm_XYa only on X.Y;
/// AMD code needs the same gfx name; emu code needs an emu device that
/// emulates that chip or was opened as plain "emu".
int iolite_device_supports_target(iolite_device_t device, const char *target);

iolite_status_t iolite_malloc(iolite_device_t device, size_t bytes,
                              void **device_ptr);
iolite_status_t iolite_free(iolite_device_t device, void *device_ptr);
iolite_status_t iolite_memcpy_h2d(iolite_device_t device, void *dst,
                                  const void *src, size_t bytes);
iolite_status_t iolite_memcpy_d2h(iolite_device_t device, void *dst,
                                  const void *src, size_t bytes);
iolite_status_t iolite_memset(iolite_device_t device, void *dst, int value,
                              size_t bytes);

/// Loads a code object: a cubin (cuda), an HSACO (hip) or an emulator
/// shared object (emu), given as bytes.
iolite_status_t iolite_module_load(iolite_device_t device, const void *image,
                                   size_t bytes, iolite_module_t *module);
/// iolite_module_load on the contents of the file at `path`.
iolite_status_t iolite_module_load_file(iolite_device_t device,
                                        const char *path,
                                        iolite_module_t *module);
void iolite_module_unload(iolite_module_t module);
iolite_status_t iolite_module_get_kernel(iolite_module_t module,
                                         const char *name,
                                         iolite_kernel_t *kernel);

/// Launches `kernel` on a grid of `grid` blocks of `block` threads with
/// `shared_bytes` of dynamic shared memory. `args[i]` points at the i-th
/// kernel parameter (as cuLaunchKernel's kernelParams).
iolite_status_t iolite_launch(iolite_kernel_t kernel, const uint32_t grid[3],
                              const uint32_t block[3], uint32_t shared_bytes,
                              iolite_stream_t stream, void **args);

iolite_status_t iolite_synchronize(iolite_device_t device);

/*===----------------------------------------------------------------------===*\
|* Emulator statistics                                                        *|
\*===----------------------------------------------------------------------===*/

/// What the emulator measured in one launch. Bytes are summed over all GPU
/// threads: every byte a thread loads or stores counts once, atomics count
/// as read and written; accesses to private memory are not counted.
typedef struct iolite_emu_launch_stats {
  /// Kernel name; valid until the device is closed or the stats are reset.
  const char *kernel;
  uint32_t grid[3];
  uint32_t block[3];
  uint32_t shared_bytes;
  uint64_t global_bytes_read;
  uint64_t global_bytes_written;
  uint64_t shared_bytes_read;
  uint64_t shared_bytes_written;
  /// Floating-point operations: add, sub, mul, div, min/max and math
  /// functions count 1 per element, fma 2.
  uint64_t flops;
  /// Block-wide barriers completed, summed over blocks.
  uint64_t barriers;
  /// Host wall-clock seconds the launch took.
  double seconds;
  /// Floating-point operations on the matrix units (2 m n k per warp-level
  /// MMA); `flops` counts the scalar ones only.
  uint64_t matrix_flops;
  /// Shared-memory wavefronts of all warp-wide accesses (ldmatrix and
  /// loads/stores), and how many of them were extra because of bank
  /// conflicts (0 for conflict-free code).
  uint64_t shared_wavefronts;
  uint64_t shared_bank_conflicts;
} iolite_emu_launch_stats_t;

/// Number of launches recorded on an emu `device` since it was opened or
/// its statistics were last reset. Not an emu device: INVALID_ARGUMENT.
iolite_status_t iolite_emu_stats_count(iolite_device_t device, size_t *count);
/// Statistics of launch `index` (0 = oldest) on an emu `device`.
iolite_status_t iolite_emu_get_stats(iolite_device_t device, size_t index,
                                     iolite_emu_launch_stats_t *stats);
/// Forgets the recorded launches of an emu `device`.
iolite_status_t iolite_emu_reset_stats(iolite_device_t device);

/// Names the `bytes` bytes at `ptr`, inside one allocation of an emu
/// `device`, as the tensor `name` for the emulator's sanitizers
/// (IOLITE_EMU_CHECK=bounds,init): a kernel may then touch the region only
/// if one of its pointer arguments is `ptr`, only within its extent, and
/// read only bytes written since it was named. Regions may overlap (tensors
/// that the memory planner aliases); they are forgotten when the allocation
/// is freed. BundleRunner names the planned intermediates of a workspace.
iolite_status_t iolite_emu_name_region(iolite_device_t device, const void *ptr,
                                       size_t bytes, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* IOLITE_RUNTIME_IOLITE_RUNTIME_H */
