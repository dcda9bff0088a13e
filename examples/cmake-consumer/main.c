/* A C program built against the installed Iolite package: the bundle of
 * tiny_mlp.mlir is compiled at build time by iolite_add_kernels, and this
 * program runs it through the generated launch code on the device named on
 * the command line (default "emu"), then checks it against a reference
 * computed here in double precision. Exit status 0 means the outputs match
 * (absolute + relative tolerance 1e-5, the f32 kernels' accuracy). */
#include "tiny_mlp.h"

#include <math.h>
#include <stdio.h>

#define CHECK(call)                                                            \
  do {                                                                         \
    iolite_status_t status_ = (call);                                          \
    if (status_ != IOLITE_SUCCESS) {                                           \
      fprintf(stderr, "%s failed: %s\n", #call, iolite_last_error());          \
      return 1;                                                                \
    }                                                                          \
  } while (0)

static float x[8 * 32], w1[32 * 64], w2[64 * 16], p[8 * 16];

/* silu(x @ w1) @ w2, then a softmax over each row. */
static void reference(double out[8 * 16]) {
  double a[8 * 64];
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 64; ++j) {
      double h = 0;
      for (int k = 0; k < 32; ++k)
        h += (double)x[i * 32 + k] * w1[k * 64 + j];
      a[i * 64 + j] = h / (1.0 + exp(-h));
    }
  for (int i = 0; i < 8; ++i) {
    double y[16], max = -INFINITY, sum = 0;
    for (int j = 0; j < 16; ++j) {
      y[j] = 0;
      for (int k = 0; k < 64; ++k)
        y[j] += a[i * 64 + k] * w2[k * 16 + j];
      max = y[j] > max ? y[j] : max;
    }
    for (int j = 0; j < 16; ++j)
      sum += exp(y[j] - max);
    for (int j = 0; j < 16; ++j)
      out[i * 16 + j] = exp(y[j] - max) / sum;
  }
}

int main(int argc, char **argv) {
  const char *backend = argc > 1 ? argv[1] : "emu";
  for (int i = 0; i < 8 * 32; ++i)
    x[i] = (float)((i * 7) % 17) / 17.0f - 0.5f;
  for (int i = 0; i < 32 * 64; ++i)
    w1[i] = (float)((i * 3) % 13) / 13.0f - 0.5f;
  for (int i = 0; i < 64 * 16; ++i)
    w2[i] = (float)((i * 5) % 11) / 11.0f - 0.5f;

  iolite_device_t device;
  CHECK(iolite_device_open(backend, 0, &device));
  tiny_mlp_model *model;
  CHECK(tiny_mlp_load(device, &model));
  void *dx, *dw1, *dw2, *dp, *workspace = NULL;
  CHECK(iolite_malloc(device, sizeof(x), &dx));
  CHECK(iolite_malloc(device, sizeof(w1), &dw1));
  CHECK(iolite_malloc(device, sizeof(w2), &dw2));
  CHECK(iolite_malloc(device, sizeof(p), &dp));
  if (TINY_MLP_WORKSPACE_SIZE)
    CHECK(iolite_malloc(device, TINY_MLP_WORKSPACE_SIZE, &workspace));
  CHECK(iolite_memcpy_h2d(device, dx, x, sizeof(x)));
  CHECK(iolite_memcpy_h2d(device, dw1, w1, sizeof(w1)));
  CHECK(iolite_memcpy_h2d(device, dw2, w2, sizeof(w2)));
  CHECK(tiny_mlp_run(model, dx, dw1, dw2, dp, workspace, NULL));
  CHECK(iolite_synchronize(device));
  CHECK(iolite_memcpy_d2h(device, p, dp, sizeof(p)));

  double expected[8 * 16], worst = 0;
  reference(expected);
  int mismatches = 0;
  for (int i = 0; i < 8 * 16; ++i) {
    double error = fabs(expected[i] - p[i]);
    worst = error > worst ? error : worst;
    mismatches += error > 1e-5 * (1.0 + fabs(expected[i]));
  }
  printf("tiny_mlp on %s: %d of %d outputs off, max abs error %.3g\n",
         iolite_device_arch(device), mismatches, 8 * 16, worst);

  tiny_mlp_unload(model);
  iolite_free(device, dx);
  iolite_free(device, dw1);
  iolite_free(device, dw2);
  iolite_free(device, dp);
  iolite_free(device, workspace);
  iolite_device_close(device);
  return mismatches == 0 ? 0 : 1;
}
