/* Runs the dynamic_model bundle (Inputs/dynamic_model.mlir), compiled once
 * for 1..80 tokens, through its generated C API as a user's program would:
 * each call sizes its buffers with dynamic_model_input_bytes /
 * _output_bytes / _workspace_size at its dims and passes the dims to
 * dynamic_model_run. Outputs are compared with a double-precision reference
 * (1e-5 absolute + relative). Out-of-bounds and missing dims must be
 * refused before any launch. */
#include "dynamic_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                            \
  do {                                                                         \
    iolite_status_t s_ = (call);                                               \
    if (s_ != IOLITE_SUCCESS) {                                                \
      printf("%s failed (%d): %s\n", #call, (int)s_, iolite_last_error());     \
      return 1;                                                                \
    }                                                                          \
  } while (0)

static float w[64 * 128], g[64];

/* One call at `tokens`; returns the number of mismatching elements, or -1
 * when a runtime call fails. */
static int run_at(iolite_device_t device, dynamic_model_model *model,
                  int64_t tokens) {
  int64_t dims[DYNAMIC_MODEL_NUM_DIMS];
  dims[DYNAMIC_MODEL_DIM_TOKENS] = tokens;
  size_t xb = dynamic_model_input_bytes(0, dims);
  size_t yb = dynamic_model_output_bytes(0, dims);
  size_t nb = dynamic_model_output_bytes(1, dims);
  size_t wsb = dynamic_model_workspace_size(dims);
  int64_t shape[2];
  if (dynamic_model_output_shape(0, dims, shape) != IOLITE_SUCCESS ||
      shape[0] != tokens || shape[1] != 128)
    return -1;
  float *x = malloc(xb), *y = malloc(yb), *n = malloc(nb);
  for (int64_t i = 0; i < tokens * 64; ++i)
    x[i] = (float)((i * 7 + tokens) % 13) / 13.0f - 0.5f;
  void *dx, *dw, *dg, *dy, *dn, *workspace = NULL;
  if (iolite_malloc(device, xb, &dx) || iolite_malloc(device, sizeof(w), &dw) ||
      iolite_malloc(device, sizeof(g), &dg) || iolite_malloc(device, yb, &dy) ||
      iolite_malloc(device, nb, &dn) ||
      (wsb && iolite_malloc(device, wsb, &workspace)) ||
      iolite_memcpy_h2d(device, dx, x, xb) ||
      iolite_memcpy_h2d(device, dw, w, sizeof(w)) ||
      iolite_memcpy_h2d(device, dg, g, sizeof(g)) ||
      dynamic_model_run(model, dims, dx, dw, dg, dy, dn, workspace, NULL) ||
      iolite_synchronize(device) || iolite_memcpy_d2h(device, y, dy, yb) ||
      iolite_memcpy_d2h(device, n, dn, nb)) {
    printf("tokens %lld: %s\n", (long long)tokens, iolite_last_error());
    return -1;
  }
  int bad = 0;
  for (int64_t i = 0; i < tokens; ++i) {
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
  printf("tokens %lld: workspace %zu of %u, mismatches %d\n", (long long)tokens,
         wsb, DYNAMIC_MODEL_WORKSPACE_SIZE, bad);
  iolite_free(device, dx);
  iolite_free(device, dw);
  iolite_free(device, dg);
  iolite_free(device, dy);
  iolite_free(device, dn);
  if (workspace)
    iolite_free(device, workspace);
  free(x);
  free(y);
  free(n);
  return bad;
}

int main(int argc, char **argv) {
  if (argc != 2)
    return 2;
  for (int i = 0; i < 64 * 128; ++i)
    w[i] = (float)((i * 5) % 11) / 11.0f - 0.5f;
  for (int i = 0; i < 64; ++i)
    g[i] = 0.5f + (float)i / 64.0f;
  iolite_device_t device;
  CHECK(iolite_device_open(argv[1], 0, &device));
  dynamic_model_model *model;
  CHECK(dynamic_model_load(device, &model));
  printf("loaded for %s, tokens %lld..%lld\n", iolite_device_arch(device),
         (long long)dynamic_model_dim_min[0],
         (long long)dynamic_model_dim_max[0]);
  int failed = 0;
  const int64_t sizes[] = {1, 7, 16, 17, 64, 65, 80};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i)
    failed |= run_at(device, model, sizes[i]) != 0;

  /* Refused before any launch: no statistics are recorded. */
  CHECK(iolite_emu_reset_stats(device));
  int64_t past[] = {81}, zero[] = {0};
  iolite_status_t s =
      dynamic_model_run(model, past, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
  printf("tokens 81: status %d: %s\n", (int)s, iolite_last_error());
  s = dynamic_model_run(model, zero, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
  printf("tokens 0: status %d: %s\n", (int)s, iolite_last_error());
  s = dynamic_model_run(model, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
  printf("no dims: status %d: %s\n", (int)s, iolite_last_error());
  printf("sizes at 81: %zu %zu\n", dynamic_model_workspace_size(past),
         dynamic_model_input_bytes(0, past));
  size_t launches = 0;
  CHECK(iolite_emu_stats_count(device, &launches));
  printf("launches after refusals: %zu\n", launches);
  dynamic_model_unload(model);
  iolite_device_close(device);
  return failed;
}
