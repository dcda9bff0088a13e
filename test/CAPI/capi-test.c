/*===- capi-test.c - The compiler C API from C ----------------------------===*\
|*                                                                            *|
|* Part of the Iolite project.                                                *|
|*                                                                            *|
|* capi-test SCRATCH_DIR ONNX_MODEL: parses and verifies IR, imports an ONNX  *|
|* model, compiles text to a stage and to a bundle, runs the bundle on the    *|
|* emulator, and exercises the error paths; capi.test checks the output.      *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "iolite/CAPI/iolite_capi.h"

#include <stdio.h>
#include <string.h>

static void show(const char *what, iolite_capi_result_t r) {
  printf("== %s: ok=%d\n", what, iolite_capi_result_ok(r));
  printf("text: %s\n", iolite_capi_result_text(r));
  printf("info: %s\n", iolite_capi_result_info(r));
  printf("diagnostics: %s\n", iolite_capi_result_diagnostics(r));
  printf("message: %s\n", iolite_capi_result_message(r));
  iolite_capi_result_destroy(r);
}

static const char kGood[] =
    "func.func @mlp(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {\n"
    "  %w = iolite.constant dense<0.5> : tensor<4x4xf32>\n"
    "  %y = iolite.matmul %x, %w : tensor<2x4xf32>, tensor<4x4xf32>\n"
    "  %r = iolite.relu %y : tensor<2x4xf32>\n"
    "  return %r : tensor<2x4xf32>\n"
    "}\n";

static const char kNeg[] =
    "func.func @neg(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {\n"
    "  %r = iolite.neg %x : tensor<2x4xf32>\n"
    "  return %r : tensor<2x4xf32>\n"
    "}\n";

/* Parses (the type of %0 is spelled), then fails the verifier. */
static const char kInvalid[] =
    "func.func @f(%a: tensor<4xf32>) -> tensor<5xf32> {\n"
    "  %0 = \"iolite.exp\"(%a) : (tensor<4xf32>) -> tensor<5xf32>\n"
    "  return %0 : tensor<5xf32>\n"
    "}\n";

/* Type inference fails while parsing. */
static const char kBadShapes[] =
    "func.func @f(%a: tensor<4xf32>, %b: tensor<3xf32>) -> tensor<4xf32> {\n"
    "  %0 = iolite.add %a, %b : tensor<4xf32>, tensor<3xf32>\n"
    "  return %0 : tensor<4xf32>\n"
    "}\n";

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: capi-test SCRATCH_DIR ONNX_MODEL\n");
    return 2;
  }
  printf("version %d\n", iolite_capi_version());
  iolite_capi_context_t ctx = iolite_capi_context_create();

  show("parse", iolite_capi_parse(ctx, kGood, strlen(kGood), "good.mlir",
                                  IOLITE_CAPI_PRINT | IOLITE_CAPI_DESCRIBE));
  show("invalid", iolite_capi_parse(ctx, kInvalid, strlen(kInvalid),
                                    "invalid.mlir", IOLITE_CAPI_PRINT));
  show("bad shapes", iolite_capi_parse(ctx, kBadShapes, strlen(kBadShapes),
                                       "shapes.mlir", 0));
  show("onnx", iolite_capi_import_onnx(ctx, argv[2], "batch=3", "layer",
                                       IOLITE_CAPI_DESCRIBE));
  show("onnx without dims",
       iolite_capi_import_onnx(ctx, argv[2], NULL, NULL, IOLITE_CAPI_DESCRIBE));

  iolite_capi_compile_options_t options = {0};
  options.emit = "fused";
  show("fused",
       iolite_capi_compile(ctx, kGood, strlen(kGood), "mlp", &options));
  options.no_fusion = 1;
  show("unfused",
       iolite_capi_compile(ctx, kGood, strlen(kGood), "mlp", &options));
  options.no_fusion = 0;
  options.emit = "bogus";
  show("bad emit",
       iolite_capi_compile(ctx, kGood, strlen(kGood), "mlp", &options));
  options.emit = NULL;
  options.targets = "sm_1000";
  char out[4096];
  snprintf(out, sizeof out, "%s/mlp", argv[1]);
  options.output_dir = out;
  show("bad target",
       iolite_capi_compile(ctx, kGood, strlen(kGood), "mlp", &options));
  options.targets = "emu-sm_90a";
  show("bundle",
       iolite_capi_compile(ctx, kGood, strlen(kGood), "mlp", &options));

  /* The reference lowering on the CPU, JIT-compiled. */
  float cx[8] = {1, 2, 3, 4, -1, -2, -3, -4};
  int64_t cshape[2] = {2, 4};
  iolite_capi_tensor_t cin = {"f32", 2, cshape, cx, sizeof cx};
  iolite_capi_result_t cpu = iolite_capi_run_cpu(ctx, kGood, strlen(kGood),
                                                 "good.mlir", NULL, &cin, 1);
  iolite_capi_tensor_t cy;
  printf("== cpu: ok=%d tensors=%zu\n", iolite_capi_result_ok(cpu),
         iolite_capi_result_num_tensors(cpu));
  if (iolite_capi_result_tensor(cpu, 0, &cy)) {
    printf("cpu output %s [%lld, %lld]:", cy.dtype, (long long)cy.shape[0],
           (long long)cy.shape[1]);
    for (size_t i = 0; i < cy.bytes / sizeof(float); ++i)
      printf(" %g", ((const float *)cy.data)[i]);
    printf("\n");
  }
  iolite_capi_result_destroy(cpu);
  cin.dtype = "i32";
  show("cpu wrong dtype", iolite_capi_run_cpu(ctx, kGood, strlen(kGood),
                                              "good.mlir", NULL, &cin, 1));
  show("cpu no function", iolite_capi_run_cpu(ctx, kGood, strlen(kGood),
                                              "good.mlir", "nope", &cin, 1));

  iolite_device_t device;
  if (iolite_device_open("emu", 0, &device) != IOLITE_SUCCESS) {
    printf("no emu device: %s\n", iolite_last_error());
    return 1;
  }
  iolite_capi_bundle_t bundle = NULL;
  iolite_capi_result_t opened = iolite_capi_bundle_open(out, device, &bundle);
  printf("== open: ok=%d %s\n", iolite_capi_result_ok(opened),
         iolite_capi_result_message(opened));
  iolite_capi_result_destroy(opened);
  if (!bundle)
    return 1;

  float x[8] = {1, 2, 3, 4, -1, -2, -3, -4};
  int64_t shape[2] = {2, 4};
  iolite_capi_tensor_t input = {"f32", 2, shape, x, sizeof x};
  iolite_capi_result_t ran = iolite_capi_bundle_run(bundle, &input, 1);
  printf("== run: ok=%d tensors=%zu\n", iolite_capi_result_ok(ran),
         iolite_capi_result_num_tensors(ran));
  iolite_capi_tensor_t y;
  if (iolite_capi_result_tensor(ran, 0, &y)) {
    printf("output %s rank %zu [%lld, %lld] %zu bytes:", y.dtype, y.rank,
           (long long)y.shape[0], (long long)y.shape[1], y.bytes);
    for (size_t i = 0; i < y.bytes / sizeof(float); ++i)
      printf(" %g", ((const float *)y.data)[i]);
    printf("\n");
  }
  printf("no tensor 1: %d\n", iolite_capi_result_tensor(ran, 1, &y));
  iolite_capi_result_destroy(ran);

  /* A second bundle loaded beside the first: each runs its own kernels. */
  char out2[4096];
  snprintf(out2, sizeof out2, "%s/neg", argv[1]);
  options.output_dir = out2;
  iolite_capi_result_destroy(
      iolite_capi_compile(ctx, kNeg, strlen(kNeg), "neg", &options));
  iolite_capi_bundle_t second = NULL;
  iolite_capi_result_t opened2 = iolite_capi_bundle_open(out2, device, &second);
  printf("== open second: ok=%d %s\n", iolite_capi_result_ok(opened2),
         iolite_capi_result_message(opened2));
  iolite_capi_result_destroy(opened2);
  for (int round = 0; second && round < 2; ++round) {
    iolite_capi_bundle_t b = round == 0 ? second : bundle;
    iolite_capi_result_t r = iolite_capi_bundle_run(b, &input, 1);
    if (iolite_capi_result_tensor(r, 0, &y))
      printf("%s: %g %g\n", round == 0 ? "neg" : "mlp",
             ((const float *)y.data)[0], ((const float *)y.data)[7]);
    iolite_capi_result_destroy(r);
  }
  iolite_capi_bundle_close(second);

  input.dtype = "f16";
  show("wrong dtype", iolite_capi_bundle_run(bundle, &input, 1));
  show("no inputs", iolite_capi_bundle_run(bundle, NULL, 0));

  iolite_capi_bundle_close(bundle);
  iolite_capi_bundle_t none = NULL;
  snprintf(out, sizeof out, "%s/nothing", argv[1]);
  show("open missing", iolite_capi_bundle_open(out, device, &none));
  iolite_device_close(device);
  iolite_capi_context_destroy(ctx);
  return 0;
}
