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

#define IOLITE_RUNTIME_API_VERSION 1

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

/// Opens device `ordinal` of `backend` ("cuda", "hip", "emu"). For "emu",
/// `ordinal` is ignored.
iolite_status_t iolite_device_open(const char *backend, int ordinal,
                                   iolite_device_t *device);
void iolite_device_close(iolite_device_t device);

/// The backend name ("cuda", "hip", "emu").
const char *iolite_device_backend(iolite_device_t device);
/// The chip the device is, as bundle targets name chips: "sm_90a",
/// "gfx942", ...; for emu the emulated chip chosen when loading a module.
const char *iolite_device_arch(iolite_device_t device);

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

#ifdef __cplusplus
}
#endif

#endif /* IOLITE_RUNTIME_IOLITE_RUNTIME_H */
