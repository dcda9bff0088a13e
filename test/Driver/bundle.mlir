// The bundle: header, launch code that compiles against the runtime API,
// one binary per target, a manifest with launch shapes and resources.
// RUN: rm -rf %t && mkdir -p %t
// RUN: iolite-compile %s --target=sm_90a,gfx942 -o %t/model | FileCheck %s --check-prefix=TABLE
// RUN: FileCheck %s --check-prefix=HEADER --input-file=%t/model/bundle.h
// RUN: FileCheck %s --check-prefix=SOURCE --input-file=%t/model/bundle.c
// RUN: FileCheck %s --check-prefix=MANIFEST --input-file=%t/model/manifest.json
// RUN: clang -std=c11 -Wall -Wextra -Werror -c -I %iolite_src_root/include/iolite/Runtime %t/model/bundle.c -o %t/bundle.o
// RUN: ls %t/model | FileCheck %s --check-prefix=FILES
// A failing compile leaves the previous bundle as it was.
// RUN: not iolite-compile %s --target=gfx942 --matmul-tile=256,256,64 -o %t/model 2>&1 | FileCheck %s --check-prefix=FAIL
// RUN: ls %t/model | FileCheck %s --check-prefix=FILES
// RUN: not iolite-compile %s --target=gfx942 --matmul-tile=256,256,64 -o %t/fresh
// RUN: not ls %t/fresh
// RUN: iolite-compile %s --target=emu-sm_90a -o %t/emu
// RUN: ls %t/emu | FileCheck %s --check-prefix=EMU
// RUN: not iolite-compile %s --target=sm_99 -o %t/bad 2>&1 | FileCheck %s --check-prefix=BADTARGET

// TABLE: mm matmul matmul,add,silu sm_90a 2x1x1 256x1x1 16384 {{[0-9]+}}/0
// TABLE-NEXT: gfx942 2x1x1 256x1x1 16384 {{[0-9]+}}/0
// TABLE: wrote {{.*}}model (2 kernels, 2 targets, workspace 32768 bytes)

// HEADER: #define BUNDLE_WORKSPACE_SIZE 32768u
// HEADER: static const int64_t bundle_input_0_shape[] = {64, 64};
// HEADER: iolite_status_t bundle_load(iolite_device_t device, bundle_model **model);
// HEADER: iolite_status_t bundle_run(bundle_model *model, const void *input0, const void *input1, void *output0, void *workspace, iolite_stream_t stream);

// SOURCE: static const char *const kernel_names[NUM_KERNELS + 1] = {"mm", "scale", NULL};
// SOURCE: static const struct launch_shape launches_sm_90a[NUM_KERNELS + 1] = {
// SOURCE-NEXT: {{\{\{}}2, 1, 1}, {256, 1, 1}, 16384},
// SOURCE: {"sm_90a", image_sm_90a,
// SOURCE: {"gfx942", image_gfx942,
// SOURCE: static const size_t constant_sizes[NUM_CONSTANTS + 1] = {256, 0};
// SOURCE: iolite_device_supports_target(device, targets[i].target)
// SOURCE: iolite_module_load(device, target->image
// SOURCE-LABEL: iolite_status_t bundle_run(
// SOURCE: /* mm */
// SOURCE: void *p0 = (void *)input0;
// SOURCE: void *p1 = (void *)input1;
// SOURCE: void *p2 = model->constants[0];
// SOURCE: void *p3 = (char *)workspace + 0;
// SOURCE: iolite_launch(model->kernels[0], shapes[0].grid, shapes[0].block, shapes[0].shared_bytes, stream, args);
// SOURCE: /* scale */
// SOURCE: void *p0 = (char *)workspace + 0;
// SOURCE: void *p1 = output0;

// MANIFEST: "constant_bytes": [
// MANIFEST-NEXT: 256
// MANIFEST: "name": "mm"
// MANIFEST: "loc": "loc(
// MANIFEST: "op": "iolite.matmul"
// MANIFEST: "gfx942": {
// MANIFEST: "dynamic_shared_memory_bytes": 16384
// MANIFEST: "resources": {
// MANIFEST: "spills": 0
// MANIFEST: "sm_90a": {
// MANIFEST: "binary": "bundle.sm_90a.cubin"
// MANIFEST: "binary": "bundle.gfx942.hsaco"

// FILES: bundle.c
// FILES-NEXT: bundle.gfx942.hsaco
// FILES-NEXT: bundle.h
// FILES-NEXT: bundle.sm_90a.cubin
// FILES-NEXT: manifest.json

// FAIL: error: kernel 'mm' with matmul tile 256x256x64, 1 stage(s) needs 131072 bytes of shared memory
// EMU: bundle.emu-sm_90a.so
// BADTARGET: error: unknown target 'sm_99'

func.func @bundle(%x: tensor<64x64xf32>, %w: tensor<64x128xf32>) -> tensor<64x128xf32> {
  %bias = iolite.constant dense<0.5> : tensor<64xf32>
  %h = iolite.kernel "mm" (%x, %w, %bias) : (tensor<64x64xf32>, tensor<64x128xf32>, tensor<64xf32>) -> tensor<64x128xf32> {
  ^bb0(%a: tensor<64x64xf32>, %b: tensor<64x128xf32>, %c: tensor<64xf32>):
    %m = iolite.matmul %a, %b : tensor<64x64xf32>, tensor<64x128xf32>
    %s = iolite.slice %m [0, 0] to [64, 64] : tensor<64x128xf32>
    %r = iolite.add %m, %m : tensor<64x128xf32>, tensor<64x128xf32>
    %y = iolite.silu %r : tensor<64x128xf32>
    iolite.yield %y : tensor<64x128xf32>
  }
  %o = iolite.kernel "scale" (%h) : (tensor<64x128xf32>) -> tensor<64x128xf32> {
  ^bb0(%a: tensor<64x128xf32>):
    %y = iolite.neg %a : tensor<64x128xf32>
    iolite.yield %y : tensor<64x128xf32>
  }
  return %o : tensor<64x128xf32>
}
