// The matmul template's fused forms at realistic sizes (hidden 512 and
// 4096): rms_norm prologue + SwiGLU (two live accumulator sets), rms_norm +
// QKV with GQA-sized K/V (three), layer_norm + GELU + residual. Every kernel
// uses the matmul template on all four chips; ptxas reports 0 spill bytes
// and 0 stack, and no HSACO kernel uses scratch.
// RUN: rm -rf %t && iolite-compile %s --target=sm_80,sm_90a,gfx90a,gfx942 -o %t | FileCheck %s
// RUN: FileCheck %s --check-prefix=NOSPILL --input-file=%t/manifest.json

// CHECK: ffn_up_4096 matmul rms_norm,matmul,matmul,silu,mul sm_80
// CHECK: qkv_4096 matmul rms_norm,matmul,matmul,matmul,add sm_80
// CHECK: ffn_up_512 matmul rms_norm,matmul,matmul,silu,mul sm_80
// CHECK: ln_gelu_512 matmul layer_norm,matmul,gelu,add sm_80
// CHECK: wrote {{.*}} (4 kernels, 4 targets, workspace

// NOSPILL-NOT: "spills": {{[1-9]}}
// NOSPILL-NOT: "stack_bytes": {{[1-9]}}

func.func @fused(%x: tensor<512x4096xf16>, %w: tensor<4096xf16>, %wg: tensor<4096x11008xf16>, %wu: tensor<4096x11008xf16>,
                 %wq: tensor<4096x4096xf16>, %wk: tensor<4096x1024xf16>, %wv: tensor<4096x1024xf16>, %bq: tensor<4096xf16>,
                 %xs: tensor<2x128x512xf32>, %ws: tensor<512xf32>, %wgs: tensor<512x1408xf32>, %wus: tensor<512x1408xf32>,
                 %bs: tensor<512xf32>, %wd: tensor<512x2048xf32>, %res: tensor<2x128x2048xf32>)
    -> (tensor<512x11008xf16>, tensor<512x4096xf16>, tensor<512x1024xf16>, tensor<512x1024xf16>,
        tensor<2x128x1408xf32>, tensor<2x128x2048xf32>) {
  %y = iolite.kernel "ffn_up_4096" (%x, %w, %wg, %wu) : (tensor<512x4096xf16>, tensor<4096xf16>, tensor<4096x11008xf16>, tensor<4096x11008xf16>) -> tensor<512x11008xf16> {
  ^bb0(%a: tensor<512x4096xf16>, %nw: tensor<4096xf16>, %g: tensor<4096x11008xf16>, %u: tensor<4096x11008xf16>):
    %n = iolite.rms_norm %a weight(%nw : tensor<4096xf16>) : tensor<512x4096xf16>
    %mg = iolite.matmul %n, %g : tensor<512x4096xf16>, tensor<4096x11008xf16>
    %mu = iolite.matmul %n, %u : tensor<512x4096xf16>, tensor<4096x11008xf16>
    %s = iolite.silu %mg : tensor<512x11008xf16>
    %p = iolite.mul %s, %mu : tensor<512x11008xf16>, tensor<512x11008xf16>
    iolite.yield %p : tensor<512x11008xf16>
  }
  %q, %k, %v = iolite.kernel "qkv_4096" (%x, %w, %wq, %wk, %wv, %bq) : (tensor<512x4096xf16>, tensor<4096xf16>, tensor<4096x4096xf16>, tensor<4096x1024xf16>, tensor<4096x1024xf16>, tensor<4096xf16>) -> (tensor<512x4096xf16>, tensor<512x1024xf16>, tensor<512x1024xf16>) {
  ^bb0(%a: tensor<512x4096xf16>, %nw: tensor<4096xf16>, %q_: tensor<4096x4096xf16>, %k_: tensor<4096x1024xf16>, %v_: tensor<4096x1024xf16>, %bb: tensor<4096xf16>):
    %n = iolite.rms_norm %a weight(%nw : tensor<4096xf16>) : tensor<512x4096xf16>
    %mq = iolite.matmul %n, %q_ : tensor<512x4096xf16>, tensor<4096x4096xf16>
    %mk = iolite.matmul %n, %k_ : tensor<512x4096xf16>, tensor<4096x1024xf16>
    %mv = iolite.matmul %n, %v_ : tensor<512x4096xf16>, tensor<4096x1024xf16>
    %qb = iolite.add %mq, %bb : tensor<512x4096xf16>, tensor<4096xf16>
    iolite.yield %qb, %mk, %mv : tensor<512x4096xf16>, tensor<512x1024xf16>, tensor<512x1024xf16>
  }
  %ys = iolite.kernel "ffn_up_512" (%xs, %ws, %wgs, %wus) : (tensor<2x128x512xf32>, tensor<512xf32>, tensor<512x1408xf32>, tensor<512x1408xf32>) -> tensor<2x128x1408xf32> {
  ^bb0(%a: tensor<2x128x512xf32>, %nw: tensor<512xf32>, %g: tensor<512x1408xf32>, %u: tensor<512x1408xf32>):
    %n = iolite.rms_norm %a weight(%nw : tensor<512xf32>) : tensor<2x128x512xf32>
    %mg = iolite.matmul %n, %g : tensor<2x128x512xf32>, tensor<512x1408xf32>
    %mu = iolite.matmul %n, %u : tensor<2x128x512xf32>, tensor<512x1408xf32>
    %s = iolite.silu %mg : tensor<2x128x1408xf32>
    %p = iolite.mul %s, %mu : tensor<2x128x1408xf32>, tensor<2x128x1408xf32>
    iolite.yield %p : tensor<2x128x1408xf32>
  }
  %d = iolite.kernel "ln_gelu_512" (%xs, %ws, %bs, %wd, %res) : (tensor<2x128x512xf32>, tensor<512xf32>, tensor<512xf32>, tensor<512x2048xf32>, tensor<2x128x2048xf32>) -> tensor<2x128x2048xf32> {
  ^bb0(%a: tensor<2x128x512xf32>, %g: tensor<512xf32>, %bb: tensor<512xf32>, %wdd: tensor<512x2048xf32>, %r: tensor<2x128x2048xf32>):
    %n = iolite.layer_norm %a weight(%g : tensor<512xf32>) bias(%bb : tensor<512xf32>) : tensor<2x128x512xf32>
    %m = iolite.matmul %n, %wdd : tensor<2x128x512xf32>, tensor<512x2048xf32>
    %ge = iolite.gelu %m : tensor<2x128x2048xf32>
    %o = iolite.add %ge, %r : tensor<2x128x2048xf32>, tensor<2x128x2048xf32>
    iolite.yield %o : tensor<2x128x2048xf32>
  }
  return %y, %q, %k, %v, %ys, %d : tensor<512x11008xf16>, tensor<512x4096xf16>, tensor<512x1024xf16>, tensor<512x1024xf16>, tensor<2x128x1408xf32>, tensor<2x128x2048xf32>
}
