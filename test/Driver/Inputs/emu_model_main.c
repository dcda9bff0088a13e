/* Runs the emu_model bundle (Inputs/emu_model.mlir) through its generated
 * launch code on the device named by argv[1] and compares the outputs with
 * a double-precision reference computed here: silu(x @ w) and
 * rms_norm(x) * g. Tolerance: 1e-5 absolute + relative (f32 math). */
#include "emu_model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHECK(call)                                                            \
  do {                                                                         \
    iolite_status_t s_ = (call);                                               \
    if (s_ != IOLITE_SUCCESS) {                                                \
      printf("%s failed (%d): %s\n", #call, (int)s_, iolite_last_error());     \
      return 1;                                                                \
    }                                                                          \
  } while (0)

static float x[64 * 64], w[64 * 128], g[64], y[64 * 128], n[64 * 64];

int main(int argc, char **argv) {
  if (argc != 2)
    return 2;
  for (int i = 0; i < 64 * 64; ++i)
    x[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
  for (int i = 0; i < 64 * 128; ++i)
    w[i] = (float)((i * 5) % 11) / 11.0f - 0.5f;
  for (int i = 0; i < 64; ++i)
    g[i] = 0.5f + (float)i / 64.0f;

  iolite_device_t device;
  CHECK(iolite_device_open(argv[1], 0, &device));
  emu_model_model *model;
  CHECK(emu_model_load(device, &model));
  printf("loaded for %s\n", iolite_device_arch(device));
  void *dx, *dw, *dg, *dy, *dn, *workspace = NULL;
  CHECK(iolite_malloc(device, sizeof(x), &dx));
  CHECK(iolite_malloc(device, sizeof(w), &dw));
  CHECK(iolite_malloc(device, sizeof(g), &dg));
  CHECK(iolite_malloc(device, sizeof(y), &dy));
  CHECK(iolite_malloc(device, sizeof(n), &dn));
  if (EMU_MODEL_WORKSPACE_SIZE)
    CHECK(iolite_malloc(device, EMU_MODEL_WORKSPACE_SIZE, &workspace));
  CHECK(iolite_memcpy_h2d(device, dx, x, sizeof(x)));
  CHECK(iolite_memcpy_h2d(device, dw, w, sizeof(w)));
  CHECK(iolite_memcpy_h2d(device, dg, g, sizeof(g)));
  CHECK(emu_model_run(model, dx, dw, dg, dy, dn, workspace, NULL));
  CHECK(iolite_synchronize(device));
  CHECK(iolite_memcpy_d2h(device, y, dy, sizeof(y)));
  CHECK(iolite_memcpy_d2h(device, n, dn, sizeof(n)));

  int bad = 0;
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 128; ++j) {
      double acc = 0;
      for (int k = 0; k < 64; ++k)
        acc += (double)x[i * 64 + k] * w[k * 128 + j];
      double ref = acc / (1.0 + exp(-acc));
      bad += fabs(ref - y[i * 128 + j]) > 1e-5 * (1 + fabs(ref));
    }
    double ss = 0;
    for (int k = 0; k < 64; ++k)
      ss += (double)x[i * 64 + k] * x[i * 64 + k];
    double scale = 1.0 / sqrt(ss / 64 + 1e-5);
    for (int k = 0; k < 64; ++k) {
      double ref = x[i * 64 + k] * scale * g[k];
      bad += fabs(ref - n[i * 64 + k]) > 1e-5 * (1 + fabs(ref));
    }
  }
  printf("mismatches: %d\n", bad);

  size_t launches = 0;
  CHECK(iolite_emu_stats_count(device, &launches));
  for (size_t i = 0; i < launches; ++i) {
    iolite_emu_launch_stats_t s;
    CHECK(iolite_emu_get_stats(device, i, &s));
    printf("%s: global read %llu written %llu, shared read %llu\n", s.kernel,
           (unsigned long long)s.global_bytes_read,
           (unsigned long long)s.global_bytes_written,
           (unsigned long long)s.shared_bytes_read);
  }
  emu_model_unload(model);
  iolite_device_close(device);
  return bad != 0;
}
