/*===- runtime-api-test.c - Exercise the runtime C API from C -------------===*\
|*                                                                            *|
|* Part of the Iolite project.                                                *|
|*                                                                            *|
|* Written in C to prove the header is C. Each mode prints what it sees for   *|
|* FileCheck (test/Runtime/runtime-api.mlir) and exits non-zero when a call   *|
|* behaves other than documented.                                             *|
|*                                                                            *|
|*   runtime-api-test unavailable BACKEND   BACKEND must report unavailable   *|
|*   runtime-api-test probe BACKEND         available or cleanly unavailable  *|
|*   runtime-api-test emu MODULE.so         the emu device end to end         *|
|*   runtime-api-test workspace MODULE.so   named workspace tensors: launches *|
|*                                          'shifted' on tensor 'a' of a      *|
|*                                          workspace that holds 'a' and 'b'  *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "iolite/Runtime/iolite_runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define EXPECT(cond)                                                           \
  do {                                                                         \
    if (!(cond)) {                                                             \
      printf("FAILED: %s (line %d): %s\n", #cond, __LINE__,                    \
             iolite_last_error());                                             \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

static const char *statusName(iolite_status_t s) {
  switch (s) {
  case IOLITE_SUCCESS:
    return "SUCCESS";
  case IOLITE_ERROR_INVALID_ARGUMENT:
    return "INVALID_ARGUMENT";
  case IOLITE_ERROR_BACKEND_UNAVAILABLE:
    return "BACKEND_UNAVAILABLE";
  case IOLITE_ERROR_OUT_OF_MEMORY:
    return "OUT_OF_MEMORY";
  case IOLITE_ERROR_NOT_FOUND:
    return "NOT_FOUND";
  case IOLITE_ERROR_LAUNCH_FAILED:
    return "LAUNCH_FAILED";
  case IOLITE_ERROR_BACKEND:
    return "BACKEND";
  }
  return "?";
}

/* Prints "what: STATUS: message" and returns the status. */
static iolite_status_t report(const char *what, iolite_status_t s) {
  printf("%s: %s", what, statusName(s));
  if (s != IOLITE_SUCCESS)
    printf(": %s", iolite_last_error());
  printf("\n");
  return s;
}

static int unavailable(const char *backend) {
  iolite_device_t device = NULL;
  iolite_status_t s = report(backend, iolite_device_open(backend, 0, &device));
  EXPECT(s == IOLITE_ERROR_BACKEND_UNAVAILABLE);
  EXPECT(device == NULL);
  EXPECT(strlen(iolite_last_error()) > 0);
  /* Asking again gives the same clean answer. */
  EXPECT(iolite_device_open(backend, 0, &device) ==
         IOLITE_ERROR_BACKEND_UNAVAILABLE);
  return failures;
}

static int probe(const char *backend) {
  iolite_device_t device = NULL;
  iolite_status_t s = iolite_device_open(backend, 0, &device);
  if (s == IOLITE_SUCCESS) {
    printf("%s: available (%s)\n", backend, iolite_device_arch(device));
    iolite_device_close(device);
  } else {
    printf("%s: unavailable\n", backend);
    EXPECT(s == IOLITE_ERROR_BACKEND_UNAVAILABLE);
    EXPECT(strlen(iolite_last_error()) > 0);
  }
  return failures;
}

static void *readFile(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *bytes = malloc((size_t)n);
  if (bytes && fread(bytes, 1, (size_t)n, f) != (size_t)n) {
    free(bytes);
    bytes = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return bytes;
}

static int emu(const char *path) {
  iolite_device_t device = NULL;
  iolite_status_t s;

  /* Argument errors are statuses, not crashes. */
  report("unknown backend", iolite_device_open("opencl", 0, &device));
  EXPECT(iolite_device_open(NULL, 0, &device) == IOLITE_ERROR_INVALID_ARGUMENT);
  EXPECT(iolite_device_open("emu", 1, &device) == IOLITE_ERROR_NOT_FOUND);

  /* A device that emulates one chip accepts only code for it. */
  EXPECT(iolite_device_open("emu-gfx942", 0, &device) == IOLITE_SUCCESS);
  printf("arch: %s\n", iolite_device_arch(device));
  printf("supports emu-gfx942=%d emu-sm_90a=%d gfx942=%d\n",
         iolite_device_supports_target(device, "emu-gfx942"),
         iolite_device_supports_target(device, "emu-sm_90a"),
         iolite_device_supports_target(device, "gfx942"));
  iolite_module_t module = NULL;
  report("load sm_90a code on emu-gfx942",
         iolite_module_load_file(device, path, &module));
  EXPECT(module == NULL);
  iolite_device_close(device);

  EXPECT(iolite_device_open("emu", 0, &device) == IOLITE_SUCCESS);
  printf("backend: %s, arch before load: %s\n", iolite_device_backend(device),
         iolite_device_arch(device));

  /* Memory. */
  void *a = NULL, *b = NULL;
  report("zero-byte malloc", iolite_malloc(device, 0, &a));
  EXPECT(iolite_malloc(device, 1024 * sizeof(float), &a) == IOLITE_SUCCESS);
  EXPECT(iolite_malloc(device, 1024 * sizeof(float), &b) == IOLITE_SUCCESS);
  float host[1024];
  for (int i = 0; i < 1024; ++i)
    host[i] = (float)i;
  report("copy past the end",
         iolite_memcpy_h2d(device, (char *)a + 4, host, sizeof(host)));
  EXPECT(iolite_memcpy_h2d(device, a, host, sizeof(host)) == IOLITE_SUCCESS);
  EXPECT(iolite_memset(device, b, 0, sizeof(host)) == IOLITE_SUCCESS);
  void *c = NULL;
  EXPECT(iolite_malloc(device, 16, &c) == IOLITE_SUCCESS);
  EXPECT(iolite_free(device, c) == IOLITE_SUCCESS);
  report("double free", iolite_free(device, c));

  /* Modules. */
  report("load garbage", iolite_module_load(device, "not an elf", 10, &module));
  size_t size = 0;
  void *image = readFile(path, &size);
  EXPECT(image != NULL);
  s = report("load", iolite_module_load(device, image, size, &module));
  free(image);
  if (s != IOLITE_SUCCESS)
    return failures + 1;
  printf("arch after load: %s\n", iolite_device_arch(device));
  iolite_kernel_t kernel = NULL;
  report("missing kernel", iolite_module_get_kernel(module, "nope", &kernel));
  EXPECT(iolite_module_get_kernel(module, "scale", &kernel) == IOLITE_SUCCESS);

  /* scale(in, out, factor, n): out[i] = in[i] * factor for i < n. */
  float factor = 3.0f;
  int n = 1000;
  void *args[] = {&a, &b, &factor, &n};
  uint32_t grid[3] = {4, 1, 1}, block[3] = {256, 1, 1};
  report("launch", iolite_launch(kernel, grid, block, 0, NULL, args));
  EXPECT(iolite_synchronize(device) == IOLITE_SUCCESS);
  float out[1024];
  EXPECT(iolite_memcpy_d2h(device, out, b, sizeof(out)) == IOLITE_SUCCESS);
  int wrong = 0;
  for (int i = 0; i < 1024; ++i)
    wrong += out[i] != (i < n ? 3.0f * (float)i : 0.0f);
  printf("wrong elements: %d\n", wrong);

  size_t count = 0;
  iolite_emu_launch_stats_t stats;
  EXPECT(iolite_emu_stats_count(device, &count) == IOLITE_SUCCESS);
  EXPECT(count == 1);
  EXPECT(iolite_emu_get_stats(device, 0, &stats) == IOLITE_SUCCESS);
  printf("stats: kernel=%s grid=%u block=%u read=%llu written=%llu "
         "flops=%llu\n",
         stats.kernel, stats.grid[0], stats.block[0],
         (unsigned long long)stats.global_bytes_read,
         (unsigned long long)stats.global_bytes_written,
         (unsigned long long)stats.flops);
  report("stats of launch 1", iolite_emu_get_stats(device, 1, &stats));

  /* Launch limits are the chip's. */
  uint32_t huge[3] = {2048, 1, 1};
  report("too many threads", iolite_launch(kernel, grid, huge, 0, NULL, args));
  report("too much shared memory",
         iolite_launch(kernel, grid, block, 1u << 20, NULL, args));
  report("null args", iolite_launch(kernel, grid, block, 0, NULL, NULL));
  uint32_t empty[3] = {0, 1, 1};
  report("empty grid", iolite_launch(kernel, empty, block, 0, NULL, args));

  /* A failing launch does not count, and the device stays usable. */
  int tooMany = 1025;
  void *badArgs[] = {&a, &b, &factor, &tooMany};
  uint32_t more[3] = {5, 1, 1};
  s = iolite_launch(kernel, more, block, 0, NULL, badArgs);
  printf("out-of-bounds launch: %s\n", statusName(s));
  EXPECT(s == IOLITE_ERROR_LAUNCH_FAILED);
  EXPECT(strstr(iolite_last_error(), "emu memcheck") != NULL);
  EXPECT(iolite_emu_stats_count(device, &count) == IOLITE_SUCCESS);
  EXPECT(count == 1);
  EXPECT(iolite_launch(kernel, grid, block, 0, NULL, args) == IOLITE_SUCCESS);
  EXPECT(iolite_emu_reset_stats(device) == IOLITE_SUCCESS);
  EXPECT(iolite_emu_stats_count(device, &count) == IOLITE_SUCCESS);
  EXPECT(count == 0);

  iolite_module_unload(module);
  EXPECT(iolite_free(device, a) == IOLITE_SUCCESS);
  EXPECT(iolite_free(device, b) == IOLITE_SUCCESS);
  iolite_device_close(device);
  printf("done: %d failures\n", failures);
  return failures;
}

/* A 512-byte workspace holding two 64-float tensors, 'a' then 'b', as a
   bundle's memory plan lays them out. 'shifted' reads a[i + 1] for 64
   threads: its last thread reads the first float of 'b'. With
   IOLITE_EMU_CHECK=bounds that is an error naming 'a' and 'b'; without, the
   launch succeeds. 'a' is written from the host unless WRITE is 0, which
   the init check reports. */
static int workspace(const char *path, int write) {
  iolite_device_t device = NULL;
  iolite_module_t module = NULL;
  iolite_kernel_t kernel = NULL;
  EXPECT(iolite_device_open("emu", 0, &device) == IOLITE_SUCCESS);
  void *ws = NULL, *out = NULL;
  EXPECT(iolite_malloc(device, 512, &ws) == IOLITE_SUCCESS);
  EXPECT(iolite_malloc(device, 256, &out) == IOLITE_SUCCESS);
  char *a = (char *)ws, *b = (char *)ws + 256;
  report("name a", iolite_emu_name_region(device, a, 256, "a"));
  report("name b", iolite_emu_name_region(device, b, 256, "b"));
  report("name past the allocation",
         iolite_emu_name_region(device, b, 512, "c"));
  float host[128];
  for (int i = 0; i < 128; ++i)
    host[i] = (float)i;
  if (write)
    EXPECT(iolite_memcpy_h2d(device, a, host, 256) == IOLITE_SUCCESS);
  EXPECT(iolite_memcpy_h2d(device, b, host + 64, 256) == IOLITE_SUCCESS);
  EXPECT(iolite_module_load_file(device, path, &module) == IOLITE_SUCCESS);
  EXPECT(iolite_module_get_kernel(module, "shifted", &kernel) ==
         IOLITE_SUCCESS);
  uint32_t grid[3] = {1, 1, 1}, block[3] = {64, 1, 1};
  void *args[] = {&a, &out};
  report("launch shifted on a",
         iolite_launch(kernel, grid, block, 0, NULL, args));
  iolite_module_unload(module);
  iolite_free(device, out);
  iolite_free(device, ws);
  iolite_device_close(device);
  return failures;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "unavailable"))
    return unavailable(argv[2]) ? 1 : 0;
  if (argc == 3 && !strcmp(argv[1], "probe"))
    return probe(argv[2]) ? 1 : 0;
  if (argc == 3 && !strcmp(argv[1], "emu"))
    return emu(argv[2]) ? 1 : 0;
  if (argc == 4 && !strcmp(argv[1], "workspace"))
    return workspace(argv[2], atoi(argv[3])) ? 1 : 0;
  fprintf(stderr,
          "usage: %s unavailable|probe BACKEND | emu MODULE.so | workspace "
          "MODULE.so WRITE\n",
          argv[0]);
  return 2;
}
