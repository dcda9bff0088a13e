/* Runs the weights_model bundle (Inputs/weights_model.mlir) on the device
 * named by argv[1], loading the weights file from argv[2] if given (else the
 * bundle's default), and compares y = x @ W + b with a double-precision
 * reference built from the same formulas as the model's constants.
 * Tolerance: 1e-5 absolute + relative (f32 math). */
#include "weights_model.h"

#include <math.h>
#include <stdio.h>

static float x[8 * 32], y[8 * 32];

int main(int argc, char **argv) {
  if (argc < 2)
    return 2;
  for (int i = 0; i < 8 * 32; ++i)
    x[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
  iolite_device_t device;
  if (iolite_device_open(argv[1], 0, &device) != IOLITE_SUCCESS)
    return 2;
  weights_model_model *model;
  iolite_status_t s =
      weights_model_load_from(device, argc > 2 ? argv[2] : NULL, &model);
  if (s != IOLITE_SUCCESS) {
    printf("load failed (%d): %s\n", (int)s, weights_model_load_error());
    return 1;
  }
  void *dx, *dy, *workspace = NULL;
  if (iolite_malloc(device, sizeof(x), &dx) ||
      iolite_malloc(device, sizeof(y), &dy) ||
      (WEIGHTS_MODEL_WORKSPACE_SIZE &&
       iolite_malloc(device, WEIGHTS_MODEL_WORKSPACE_SIZE, &workspace)) ||
      iolite_memcpy_h2d(device, dx, x, sizeof(x)) ||
      weights_model_run(model, dx, dy, workspace, NULL) ||
      iolite_memcpy_d2h(device, y, dy, sizeof(y))) {
    printf("run failed: %s\n", iolite_last_error());
    return 1;
  }
  int bad = 0;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 32; ++j) {
      double acc = j * 0.125;
      for (int k = 0; k < 32; ++k)
        acc += (double)x[i * 32 + k] *
               (float)(((k * 37 + j * 11) % 17) / 17.0 - 0.5);
      bad += fabs(acc - y[i * 32 + j]) > 1e-5 * (1 + fabs(acc));
    }
  printf("mismatches: %d\n", bad);
  weights_model_unload(model);
  iolite_device_close(device);
  return bad != 0;
}
