// --max-registers caps the registers of every kernel; a kernel that no
// longer fits spills, and the spill is reported, never hidden: a warning
// naming the kernel, target and spill bytes, the manifest and the kernel
// table. --werror-spills makes it an error and writes no bundle.
// RUN: rm -rf %t && mkdir -p %t
// RUN: iolite-compile %s --target=sm_90a --max-registers=16 -o %t/capped 2>%t/capped.err | FileCheck %s --check-prefix=TABLE
// RUN: FileCheck %s --check-prefix=WARN --input-file=%t/capped.err
// RUN: FileCheck %s --check-prefix=MANIFEST --input-file=%t/capped/manifest.json
// Without the cap the same kernels do not spill, and nothing is reported.
// RUN: iolite-compile %s --target=sm_90a -o %t/free 2>&1 | FileCheck %s --check-prefix=FREE --implicit-check-not=warning
// RUN: not iolite-compile %s --target=sm_90a --max-registers=16 --werror-spills -o %t/strict 2>&1 | FileCheck %s --check-prefix=STRICT
// RUN: not ls %t/strict
// On AMD the cap is the amdgpu-num-vgpr attribute and spills count VGPRs.
// RUN: iolite-compile %s --target=gfx942 --max-registers=16 -o %t/amd 2>&1 | FileCheck %s --check-prefix=AMD

// TABLE: mm matmul matmul,add,silu sm_90a 2x1x1 256x1x1 16384 24/{{[1-9][0-9]*}}
// TABLE: scale elementwise neg sm_90a 8x1x1 256x1x1 0 {{[0-9]+}}/0

// WARN: warning: kernel 'mm' spills on sm_90a: {{[1-9][0-9]*}} bytes of spill stores and loads with 24 registers per thread (--max-registers=16)
// WARN-NOT: kernel 'scale'

// MANIFEST: "name": "mm"
// MANIFEST: "sm_90a": {
// MANIFEST: "resources": {
// MANIFEST-NEXT: "registers": 24,
// MANIFEST-NEXT: "spills": {{[1-9][0-9]*}},
// MANIFEST-NEXT: "stack_bytes": {{[1-9][0-9]*}},
// MANIFEST: "name": "scale"
// MANIFEST: "resources": {
// MANIFEST-NEXT: "registers": {{[0-9]+}},
// MANIFEST-NEXT: "spills": 0,

// FREE: mm matmul matmul,add,silu sm_90a 2x1x1 256x1x1 16384 {{[0-9]+}}/0
// FREE: wrote

// STRICT: error: kernel 'mm' spills on sm_90a: {{[1-9][0-9]*}} bytes of spill stores and loads

// AMD: warning: kernel 'mm' spills on gfx942: {{[1-9][0-9]*}} VGPRs to scratch ({{[1-9][0-9]*}} bytes per lane) with {{[0-9]+}} VGPRs (--max-registers=16)
// AMD: mm matmul matmul,add,silu gfx942 2x1x1 256x1x1 16384 {{[0-9]+}}/{{[1-9][0-9]*}}

func.func @spill(%x: tensor<64x64xf32>, %w: tensor<64x128xf32>) -> tensor<64x128xf32> {
  %h = iolite.kernel "mm" (%x, %w) : (tensor<64x64xf32>, tensor<64x128xf32>) -> tensor<64x128xf32> {
  ^bb0(%a: tensor<64x64xf32>, %b: tensor<64x128xf32>):
    %m = iolite.matmul %a, %b : tensor<64x64xf32>, tensor<64x128xf32>
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
