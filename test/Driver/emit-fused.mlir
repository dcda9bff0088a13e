// iolite-compile runs the graph pipeline: --emit=raised stops after raising,
// --emit=fused prints the kernels with their workspace plan after one
// summary line per function; --no-fusion keeps one op per kernel; --remarks
// reports the decisions on stderr.
// RUN: iolite-compile %s --emit=raised | FileCheck %s --check-prefix=RAISED
// RUN: iolite-compile %s --emit=fused | FileCheck %s --check-prefix=FUSED
// RUN: iolite-compile %s --emit=fused --no-fusion | FileCheck %s --check-prefix=NOFUSE
// RUN: iolite-compile %s --emit=fused --target=sm_80,gfx942 --remarks 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: iolite-compile %s --emit=fused | iolite-opt | FileCheck %s --check-prefix=ROUNDTRIP

// RAISED-LABEL: func.func @mlp
// RAISED: iolite.gelu
// RAISED-NOT: iolite.erf
// RAISED-NOT: iolite.kernel

// FUSED: // @mlp: 2 kernels, workspace peak 2048 B (sum of sizes 2048 B, liveness lower bound 2048 B, 0 in place)
// FUSED-LABEL: func.func @mlp
// FUSED-SAME: iolite.workspace_size = 2048 : i64
// FUSED: iolite.kernel "mlp_k0_matmul"{{.*}}result_offsets = array<i64: 0>
// FUSED: iolite.matmul
// FUSED-NEXT: iolite.add
// FUSED-NEXT: iolite.gelu
// FUSED: iolite.kernel "mlp_k1_matmul"{{.*}}result_offsets = array<i64: -1>

// The printed graph (summary lines are comments) reads back.
// ROUNDTRIP: iolite.kernel "mlp_k0_matmul"
// ROUNDTRIP: iolite.kernel "mlp_k1_matmul"

// NOFUSE: // @mlp: 4 kernels, workspace peak 2048 B (sum of sizes 6144 B, liveness lower bound 2048 B, 2 in place)

// REMARK: remark: raised to iolite.gelu (erf form)
// REMARK: remark: fused into kernel 'mlp_k0_matmul' as epilogue of 'iolite.matmul'
// REMARK: remark: kernel 'mlp_k0_matmul': matmul, add, gelu (3 inputs, 1 results)
// REMARK: remark: workspace of @mlp: 2048 B peak for 1 intermediates (0 in place); sum of sizes 2048 B, liveness lower bound 2048 B

func.func @mlp(%x: tensor<8x32xf32>, %w1: tensor<32x64xf32>, %b1: tensor<64xf32>,
               %w2: tensor<64x32xf32>) -> tensor<8x32xf32> {
  %h = iolite.matmul %x, %w1 : tensor<8x32xf32>, tensor<32x64xf32>
  %hb = iolite.add %h, %b1 : tensor<8x64xf32>, tensor<64xf32>
  %s2 = iolite.constant dense<1.41421354> : tensor<f32>
  %a = iolite.div %hb, %s2 : tensor<8x64xf32>, tensor<f32>
  %e = iolite.erf %a : tensor<8x64xf32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %b = iolite.add %e, %one : tensor<8x64xf32>, tensor<f32>
  %c = iolite.mul %hb, %b : tensor<8x64xf32>, tensor<8x64xf32>
  %half = iolite.constant dense<0.5> : tensor<f32>
  %g = iolite.mul %c, %half : tensor<8x64xf32>, tensor<f32>
  %y = iolite.matmul %g, %w2 : tensor<8x64xf32>, tensor<64x32xf32>
  return %y : tensor<8x32xf32>
}
