// RUN: iolite-opt %s --iolite-cpu-pipeline --split-input-file | FileCheck %s
// RUN: iolite-opt %s --iolite-cpu-pipeline="out-params=false" --split-input-file | FileCheck %s --check-prefix=RESULTS

// iolite lowers all the way to the LLVM dialect: results become out-params
// after the arguments, the C interface wrapper takes descriptor pointers,
// math goes to libm (no rsqrtf there: 1/sqrt), bf16 conversions are integer
// ops, temporaries are freed.
// CHECK-LABEL: llvm.func @expf(f32) -> f32
// CHECK-LABEL: llvm.func @sqrtf(f32) -> f32
// Two 2-D descriptors (7 fields) and a 1-D one (5): x, w, then the result.
// CHECK-LABEL: llvm.func @norm(
// CHECK-SAME: {{^}}[[ARGS:(%arg[0-9]+: (!llvm.ptr|i64), ){18}%arg18: i64]])
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK-NOT: llvm.fptrunc
// CHECK: llvm.call @sqrtf
// CHECK: llvm.call @expf
// CHECK: llvm.call @free
// CHECK-LABEL: llvm.func @_mlir_ciface_norm(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// CHECK-NOT: iolite.
// CHECK-NOT: linalg.
// CHECK-NOT: memref.

// RESULTS-LABEL: llvm.func @norm(
// RESULTS-SAME: -> !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
func.func @norm(%x: tensor<2x8xbf16>, %w: tensor<8xbf16>) -> tensor<2x8xbf16>
    attributes {llvm.emit_c_interface} {
  %n = iolite.rms_norm %x weight(%w : tensor<8xbf16>) : tensor<2x8xbf16>
  %e = iolite.exp %n : tensor<2x8xbf16>
  return %e : tensor<2x8xbf16>
}

// -----

// Scans carry freshly allocated tensors through loops; they bufferize.
// CHECK-LABEL: llvm.func @scan(
// CHECK: llvm.cond_br
// CHECK: llvm.call @log1pf
func.func @scan(%u: tensor<1x4x9xf32>, %dt: tensor<1x4x9xf32>, %a: tensor<4x3xf32>,
                %b: tensor<1x3x9xf32>, %c: tensor<1x3x9xf32>) -> tensor<1x4x9xf32> {
  %y = iolite.selective_scan %u, %dt, %a, %b, %c {delta_softplus}
      : tensor<1x4x9xf32>, tensor<1x4x9xf32>, tensor<4x3xf32>, tensor<1x3x9xf32>,
        tensor<1x3x9xf32>
  return %y : tensor<1x4x9xf32>
}
