// RUN: iolite-opt %s --iolite-graph-pipeline | FileCheck %s
// RUN: iolite-opt %s --iolite-raising-pipeline | FileCheck %s --check-prefix=RAISED
// RUN: iolite-opt %s --iolite-graph-pipeline=no-fusion=true | FileCheck %s --check-prefix=NOFUSE
// RUN: iolite-opt %s --iolite-graph-pipeline="target=gfx942 alignment=1024" | FileCheck %s --check-prefix=GFX

// A Llama block as the ONNX importer gives it for PyTorch's export (weights
// as arguments): RMSNorm written out with pow/mean/sqrt/div, rotate-half
// RoPE with slice/neg/concat, GQA through unsqueeze/expand/reshape, the
// scores divided by sqrt(d), an additive causal mask constant, SwiGLU with
// x * sigmoid(x). The pipeline raises it and forms five kernels with a
// planned workspace.

// RAISED-LABEL: func @llama_block
// RAISED: iolite.rms_norm %arg0 weight(%arg1 : tensor<32xf32>)
// RAISED-NOT: iolite.softmax
// RAISED: iolite.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, scale = 2.500000e-01 : f32} : tensor<1x2x4x16xf32>, tensor<1x1x4x16xf32>, tensor<1x1x4x16xf32>
// RAISED: iolite.rms_norm
// RAISED: iolite.silu
// RAISED-NOT: iolite.kernel

// CHECK-LABEL: func @llama_block
// CHECK-SAME: iolite.workspace_size = 1536 : i64
// CHECK-SAME: iolite.workspace_stats = {buffers = 6 : i64, in_place = 0 : i64, liveness_lower_bound = 1536 : i64, sum_of_sizes = 3072 : i64}
// CHECK: iolite.kernel "llama_block_k0_matmul"({{.*}}) {result_offsets = array<i64: 0, 1024, 1280>}
// CHECK: iolite.rms_norm
// CHECK-COUNT-3: iolite.matmul
// CHECK: iolite.kernel "llama_block_k1_attention"
// CHECK-COUNT-2: iolite.rotary
// CHECK: iolite.attention
// CHECK: iolite.kernel "llama_block_k2_matmul"
// CHECK: iolite.kernel "llama_block_k3_matmul"
// CHECK: iolite.rms_norm
// CHECK: iolite.silu
// CHECK: iolite.kernel "llama_block_k4_matmul"({{.*}}) {result_offsets = array<i64: -1>}
// CHECK-NOT: iolite.kernel

// NOFUSE-LABEL: func @llama_block
// NOFUSE-COUNT-24: iolite.kernel "
// NOFUSE-NOT: iolite.kernel "

// GFX-LABEL: func @llama_block
// GFX-SAME: iolite.workspace_size = 4096 : i64
// GFX-COUNT-5: iolite.kernel "
// GFX-NOT: iolite.kernel "

func.func @llama_block(%x: tensor<1x4x32xf32>, %wn1: tensor<32xf32>,
    %wq: tensor<32x32xf32>, %wk: tensor<32x16xf32>, %wv: tensor<32x16xf32>,
    %wo: tensor<32x32xf32>, %cos: tensor<1x1x4x16xf32>,
    %sin: tensor<1x1x4x16xf32>, %wn2: tensor<32xf32>,
    %wg: tensor<32x64xf32>, %wu: tensor<32x64xf32>, %wd: tensor<64x32xf32>)
    -> tensor<1x4x32xf32> {
  %two = iolite.constant dense<2.0> : tensor<f32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %eps = iolite.constant dense<1.0e-6> : tensor<f32>
  %0 = iolite.pow %x, %two : tensor<1x4x32xf32>, tensor<f32>
  %1 = iolite.reduce mean %0 {axes = array<i64: 2>, keep_dims} : tensor<1x4x32xf32>
  %2 = iolite.add %1, %eps : tensor<1x4x1xf32>, tensor<f32>
  %3 = iolite.sqrt %2 : tensor<1x4x1xf32>
  %4 = iolite.div %one, %3 : tensor<f32>, tensor<1x4x1xf32>
  %5 = iolite.mul %x, %4 : tensor<1x4x32xf32>, tensor<1x4x1xf32>
  %h = iolite.mul %wn1, %5 : tensor<32xf32>, tensor<1x4x32xf32>
  %q = iolite.matmul %h, %wq : tensor<1x4x32xf32>, tensor<32x32xf32>
  %q4 = iolite.reshape %q : tensor<1x4x32xf32> -> tensor<1x4x2x16xf32>
  %qt = iolite.transpose %q4 [0, 2, 1, 3] : tensor<1x4x2x16xf32>
  %k = iolite.matmul %h, %wk : tensor<1x4x32xf32>, tensor<32x16xf32>
  %k4 = iolite.reshape %k : tensor<1x4x16xf32> -> tensor<1x4x1x16xf32>
  %kt = iolite.transpose %k4 [0, 2, 1, 3] : tensor<1x4x1x16xf32>
  %v = iolite.matmul %h, %wv : tensor<1x4x32xf32>, tensor<32x16xf32>
  %v4 = iolite.reshape %v : tensor<1x4x16xf32> -> tensor<1x4x1x16xf32>
  %vt = iolite.transpose %v4 [0, 2, 1, 3] : tensor<1x4x1x16xf32>
  %qc = iolite.mul %qt, %cos : tensor<1x2x4x16xf32>, tensor<1x1x4x16xf32>
  %q1 = iolite.slice %qt [0, 0, 0, 0] to [1, 2, 4, 8] : tensor<1x2x4x16xf32>
  %q2 = iolite.slice %qt [0, 0, 0, 8] to [1, 2, 4, 16] : tensor<1x2x4x16xf32>
  %qn = iolite.neg %q2 : tensor<1x2x4x8xf32>
  %qrot = iolite.concat %qn, %q1 {axis = 3 : i64} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
  %qs = iolite.mul %qrot, %sin : tensor<1x2x4x16xf32>, tensor<1x1x4x16xf32>
  %qr = iolite.add %qc, %qs : tensor<1x2x4x16xf32>, tensor<1x2x4x16xf32>
  %kc = iolite.mul %kt, %cos : tensor<1x1x4x16xf32>, tensor<1x1x4x16xf32>
  %k1 = iolite.slice %kt [0, 0, 0, 0] to [1, 1, 4, 8] : tensor<1x1x4x16xf32>
  %k2 = iolite.slice %kt [0, 0, 0, 8] to [1, 1, 4, 16] : tensor<1x1x4x16xf32>
  %kn = iolite.neg %k2 : tensor<1x1x4x8xf32>
  %krot = iolite.concat %kn, %k1 {axis = 3 : i64} : tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>
  %ks = iolite.mul %krot, %sin : tensor<1x1x4x16xf32>, tensor<1x1x4x16xf32>
  %kr = iolite.add %kc, %ks : tensor<1x1x4x16xf32>, tensor<1x1x4x16xf32>
  %k5 = iolite.reshape %kr : tensor<1x1x4x16xf32> -> tensor<1x1x1x4x16xf32>
  %ke = iolite.broadcast %k5 : tensor<1x1x1x4x16xf32> -> tensor<1x1x2x4x16xf32>
  %kx = iolite.reshape %ke : tensor<1x1x2x4x16xf32> -> tensor<1x2x4x16xf32>
  %v5 = iolite.reshape %vt : tensor<1x1x4x16xf32> -> tensor<1x1x1x4x16xf32>
  %ve = iolite.broadcast %v5 : tensor<1x1x1x4x16xf32> -> tensor<1x1x2x4x16xf32>
  %vx = iolite.reshape %ve : tensor<1x1x2x4x16xf32> -> tensor<1x2x4x16xf32>
  %ktt = iolite.transpose %kx [0, 1, 3, 2] : tensor<1x2x4x16xf32>
  %s = iolite.matmul %qr, %ktt : tensor<1x2x4x16xf32>, tensor<1x2x16x4xf32>
  %four = iolite.constant dense<4.0> : tensor<f32>
  %sd = iolite.div %s, %four : tensor<1x2x4x4xf32>, tensor<f32>
  %mask = iolite.constant dense<[[0.0, 0xFF800000, 0xFF800000, 0xFF800000],
                                 [0.0, 0.0, 0xFF800000, 0xFF800000],
                                 [0.0, 0.0, 0.0, 0xFF800000],
                                 [0.0, 0.0, 0.0, 0.0]]> : tensor<4x4xf32>
  %sm = iolite.add %sd, %mask : tensor<1x2x4x4xf32>, tensor<4x4xf32>
  %p = iolite.softmax %sm {axis = 3 : i64} : tensor<1x2x4x4xf32>
  %a = iolite.matmul %p, %vx : tensor<1x2x4x4xf32>, tensor<1x2x4x16xf32>
  %at = iolite.transpose %a [0, 2, 1, 3] : tensor<1x2x4x16xf32>
  %ar = iolite.reshape %at : tensor<1x4x2x16xf32> -> tensor<1x4x32xf32>
  %o = iolite.matmul %ar, %wo : tensor<1x4x32xf32>, tensor<32x32xf32>
  %h1 = iolite.add %x, %o : tensor<1x4x32xf32>, tensor<1x4x32xf32>
  %6 = iolite.pow %h1, %two : tensor<1x4x32xf32>, tensor<f32>
  %7 = iolite.reduce mean %6 {axes = array<i64: 2>, keep_dims} : tensor<1x4x32xf32>
  %8 = iolite.add %7, %eps : tensor<1x4x1xf32>, tensor<f32>
  %9 = iolite.sqrt %8 : tensor<1x4x1xf32>
  %10 = iolite.div %one, %9 : tensor<f32>, tensor<1x4x1xf32>
  %11 = iolite.mul %h1, %10 : tensor<1x4x32xf32>, tensor<1x4x1xf32>
  %n2 = iolite.mul %wn2, %11 : tensor<32xf32>, tensor<1x4x32xf32>
  %g = iolite.matmul %n2, %wg : tensor<1x4x32xf32>, tensor<32x64xf32>
  %gs = iolite.sigmoid %g : tensor<1x4x64xf32>
  %ga = iolite.mul %g, %gs : tensor<1x4x64xf32>, tensor<1x4x64xf32>
  %u = iolite.matmul %n2, %wu : tensor<1x4x32xf32>, tensor<32x64xf32>
  %m = iolite.mul %ga, %u : tensor<1x4x64xf32>, tensor<1x4x64xf32>
  %d = iolite.matmul %m, %wd : tensor<1x4x64xf32>, tensor<64x32xf32>
  %out = iolite.add %h1, %d : tensor<1x4x32xf32>, tensor<1x4x32xf32>
  return %out : tensor<1x4x32xf32>
}
