// RUN: iolite-opt %s --split-input-file --iolite-form-kernels | FileCheck %s
// RUN: iolite-opt %s --split-input-file --iolite-form-kernels=remarks=true 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK
// RUN: iolite-opt %s --split-input-file --iolite-form-kernels=no-fusion=true | FileCheck %s --check-prefix=NOFUSE
// RUN: iolite-opt %s --split-input-file --iolite-form-kernels=target=sm_80 | FileCheck %s --check-prefix=SM80
// RUN: iolite-opt %s --split-input-file --iolite-form-kernels=target=sm_80,gfx942,sm_90a | FileCheck %s --check-prefix=ALL
// RUN: iolite-opt %s --split-input-file --iolite-form-kernels=target=gfx942 | FileCheck %s --check-prefix=GFX942
// RUN: not iolite-opt %s --split-input-file --iolite-form-kernels=target=sm_7x 2>&1 | FileCheck %s --check-prefix=BADTARGET

// BADTARGET: error: iolite-form-kernels: unknown target 'sm_7x' (known: sm_80, sm_90a, gfx90a, gfx942, emu-sm_80, emu-sm_90a, emu-gfx90a, emu-gfx942)

// A Llama block after raising: 5 kernels. The first norm is the prologue of
// the Q/K/V projections (one kernel); attention takes the head reshapes,
// transposes and both RoPEs; the output projection reads the attention
// output through its transpose/reshape and adds the residual; the second
// norm, gate and up projections and the SwiGLU product are one kernel; the
// down projection adds the residual.

// CHECK-LABEL: func @llama_block
// CHECK: %[[QKV:.*]]:3 = iolite.kernel "llama_block_k0_matmul"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.rms_norm
// CHECK-NEXT: iolite.matmul
// CHECK-NEXT: iolite.matmul
// CHECK-NEXT: iolite.matmul
// CHECK-NEXT: iolite.yield
// CHECK: %[[ATT:.*]] = iolite.kernel "llama_block_k1_attention"(%[[QKV]]#0, %[[QKV]]#1, %[[QKV]]#2, %{{.*}}, %{{.*}})
// CHECK-NEXT: ^bb0
// CHECK-COUNT-2: iolite.rotary
// CHECK-NEXT: iolite.attention
// CHECK-NEXT: iolite.yield
// CHECK: %[[O:.*]] = iolite.kernel "llama_block_k2_matmul"(%[[ATT]], %{{.*}}, %{{.*}})
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.transpose
// CHECK-NEXT: iolite.reshape
// CHECK-NEXT: iolite.matmul
// CHECK-NEXT: iolite.add
// CHECK-NEXT: iolite.yield
// CHECK: %[[MLP:.*]] = iolite.kernel "llama_block_k3_matmul"(%[[O]],
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.rms_norm
// CHECK-NEXT: iolite.matmul
// CHECK-NEXT: iolite.matmul
// CHECK-NEXT: iolite.silu
// CHECK-NEXT: iolite.mul
// CHECK-NEXT: iolite.yield
// CHECK: %[[OUT:.*]] = iolite.kernel "llama_block_k4_matmul"(%[[MLP]], %{{.*}}, %[[O]])
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.matmul
// CHECK-NEXT: iolite.add
// CHECK-NEXT: iolite.yield
// CHECK: return %[[OUT]]
// REMARK: remark: fused into kernel 'llama_block_k0_matmul' as matmul sharing the LHS of 'iolite.matmul'
// REMARK: remark: fused into kernel 'llama_block_k0_matmul' as norm prologue of 'iolite.matmul'
// REMARK: remark: fused into kernel 'llama_block_k1_attention' as prologue of 'iolite.attention'
// REMARK: remark: kept in kernel 'llama_block_k4_matmul', not fused with 'iolite.matmul' ({{.*}}): a second contraction with another LHS; matmuls share a kernel only when they share their LHS
// REMARK: remark: kernel 'llama_block_k0_matmul': rms_norm, matmul x3 (5 inputs, 3 results)
// REMARK: remark: kernel 'llama_block_k1_attention': reshape x3, transpose x3, rotary x2, attention (5 inputs, 1 results)
// REMARK: remark: kernel 'llama_block_k2_matmul': transpose, reshape, matmul, add (3 inputs, 1 results)
// REMARK: remark: kernel 'llama_block_k3_matmul': rms_norm, matmul x2, silu, mul (4 inputs, 1 results)
// REMARK: remark: kernel 'llama_block_k4_matmul': matmul, add (3 inputs, 1 results)
// NOFUSE-LABEL: func @llama_block
// NOFUSE-COUNT-24: iolite.kernel
// NOFUSE-NOT: iolite.kernel
func.func @llama_block(%x: tensor<1x8x64xf32>, %wn1: tensor<64xf32>,
    %wq: tensor<64x64xf32>, %wk: tensor<64x32xf32>, %wv: tensor<64x32xf32>,
    %wo: tensor<64x64xf32>, %cos: tensor<8x16xf32>, %sin: tensor<8x16xf32>,
    %wn2: tensor<64xf32>, %wg: tensor<64x128xf32>, %wu: tensor<64x128xf32>,
    %wd: tensor<128x64xf32>) -> tensor<1x8x64xf32> {
  %h = iolite.rms_norm %x weight(%wn1 : tensor<64xf32>) : tensor<1x8x64xf32>
  %q = iolite.matmul %h, %wq : tensor<1x8x64xf32>, tensor<64x64xf32>
  %k = iolite.matmul %h, %wk : tensor<1x8x64xf32>, tensor<64x32xf32>
  %v = iolite.matmul %h, %wv : tensor<1x8x64xf32>, tensor<64x32xf32>
  %q4 = iolite.reshape %q : tensor<1x8x64xf32> -> tensor<1x8x4x16xf32>
  %qt = iolite.transpose %q4 [0, 2, 1, 3] : tensor<1x8x4x16xf32>
  %k4 = iolite.reshape %k : tensor<1x8x32xf32> -> tensor<1x8x2x16xf32>
  %kt = iolite.transpose %k4 [0, 2, 1, 3] : tensor<1x8x2x16xf32>
  %v4 = iolite.reshape %v : tensor<1x8x32xf32> -> tensor<1x8x2x16xf32>
  %vt = iolite.transpose %v4 [0, 2, 1, 3] : tensor<1x8x2x16xf32>
  %qr = iolite.rotary %qt, %cos, %sin : tensor<1x4x8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>
  %kr = iolite.rotary %kt, %cos, %sin : tensor<1x2x8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>
  %a = iolite.attention %qr, %kr, %vt {causal} : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  %at = iolite.transpose %a [0, 2, 1, 3] : tensor<1x4x8x16xf32>
  %ar = iolite.reshape %at : tensor<1x8x4x16xf32> -> tensor<1x8x64xf32>
  %o = iolite.matmul %ar, %wo : tensor<1x8x64xf32>, tensor<64x64xf32>
  %h1 = iolite.add %o, %x : tensor<1x8x64xf32>, tensor<1x8x64xf32>
  %n2 = iolite.rms_norm %h1 weight(%wn2 : tensor<64xf32>) : tensor<1x8x64xf32>
  %g = iolite.matmul %n2, %wg : tensor<1x8x64xf32>, tensor<64x128xf32>
  %u = iolite.matmul %n2, %wu : tensor<1x8x64xf32>, tensor<64x128xf32>
  %sg = iolite.silu %g : tensor<1x8x128xf32>
  %m = iolite.mul %sg, %u : tensor<1x8x128xf32>, tensor<1x8x128xf32>
  %d = iolite.matmul %m, %wd : tensor<1x8x128xf32>, tensor<128x64xf32>
  %out = iolite.add %d, %h1 : tensor<1x8x64xf32>, tensor<1x8x64xf32>
  return %out : tensor<1x8x64xf32>
}

// -----

// MoE: router matmul + router is one kernel; dispatch permutes the batch
// (its own kernel); the gate/up grouped GEMMs share the dispatched rows and
// take the SwiGLU product; the down GEMM; combine with the residual.

// CHECK-LABEL: func @moe
// CHECK: %[[R:.*]]:2 = iolite.kernel "moe_k0_matmul"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.matmul
// CHECK-NEXT: iolite.router
// CHECK-NEXT: iolite.yield
// CHECK: %[[D:.*]]:3 = iolite.kernel "moe_k1_dispatch"(%{{.*}}, %[[R]]#1)
// CHECK: %[[GU:.*]] = iolite.kernel "moe_k2_grouped_matmul"(%[[D]]#0, %{{.*}}, %[[D]]#2, %{{.*}})
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.grouped_matmul
// CHECK-NEXT: iolite.grouped_matmul
// CHECK-NEXT: iolite.silu
// CHECK-NEXT: iolite.mul
// CHECK-NEXT: iolite.yield
// CHECK: %[[DN:.*]] = iolite.kernel "moe_k3_grouped_matmul"(%[[GU]],
// CHECK: iolite.kernel "moe_k4_combine"(%[[DN]], %[[D]]#1, %[[R]]#0, %{{.*}})
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.combine
// CHECK-NEXT: iolite.add
// REMARK: remark: fused into kernel 'moe_k0_matmul' as row-wise epilogue of 'iolite.matmul'
// NOFUSE-LABEL: func @moe
// NOFUSE-COUNT-10: iolite.kernel
// NOFUSE-NOT: iolite.kernel
// REMARK: remark: kept in kernel 'moe_k1_dispatch', not fused with 'iolite.matmul' ({{.*}}): 'iolite.dispatch' permutes the whole batch (a grid-wide step) and ends a kernel
func.func @moe(%x: tensor<16x32xf32>, %wr: tensor<32x8xf32>,
               %wg: tensor<8x32x64xf32>, %wu: tensor<8x32x64xf32>,
               %wd: tensor<8x64x32xf32>) -> tensor<16x32xf32> {
  %logits = iolite.matmul %x, %wr : tensor<16x32xf32>, tensor<32x8xf32>
  %w, %ids = iolite.router %logits {k = 2 : i64, renormalize} : tensor<16x8xf32>
  %xs, %rows, %offs = iolite.dispatch %x, %ids {num_experts = 8 : i64} : tensor<16x32xf32>, tensor<16x2xi32>
  %g = iolite.grouped_matmul %xs, %wg, %offs : tensor<32x32xf32>, tensor<8x32x64xf32>, tensor<9xi32>
  %u = iolite.grouped_matmul %xs, %wu, %offs : tensor<32x32xf32>, tensor<8x32x64xf32>, tensor<9xi32>
  %a = iolite.silu %g : tensor<32x64xf32>
  %h = iolite.mul %a, %u : tensor<32x64xf32>, tensor<32x64xf32>
  %d = iolite.grouped_matmul %h, %wd, %offs : tensor<32x64xf32>, tensor<8x64x32xf32>, tensor<9xi32>
  %y = iolite.combine %d, %rows, %w : tensor<32x32xf32>, tensor<32xi32>, tensor<16x2xf32>
  %out = iolite.add %y, %x : tensor<16x32xf32>, tensor<16x32xf32>
  return %out : tensor<16x32xf32>
}

// -----

// The router written out (softmax, top-k, renormalisation) is one kernel
// with its matmul: the 8-expert rows fit on chip.

// CHECK-LABEL: func @router_decomposed
// NOFUSE-LABEL: func @router_decomposed
// CHECK: iolite.kernel "router_decomposed_k0_matmul"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.matmul
// CHECK-NEXT: iolite.softmax
// CHECK-NEXT: iolite.top_k
// CHECK-NEXT: iolite.reduce
// CHECK-NEXT: iolite.div
// CHECK-NEXT: iolite.yield
// CHECK-NOT: iolite.kernel
func.func @router_decomposed(%x: tensor<16x32xf32>, %wr: tensor<32x8xf32>)
    -> (tensor<16x2xf32>, tensor<16x2xi64>) {
  %logits = iolite.matmul %x, %wr : tensor<16x32xf32>, tensor<32x8xf32>
  %p = iolite.softmax %logits {axis = -1 : i64} : tensor<16x8xf32>
  %v, %i = iolite.top_k %p {k = 2 : i64} : tensor<16x8xf32>
  %s = iolite.reduce sum %v {axes = array<i64: -1>, keep_dims} : tensor<16x2xf32>
  %n = iolite.div %v, %s : tensor<16x2xf32>, tensor<16x1xf32>
  return %n, %i : tensor<16x2xf32>, tensor<16x2xi64>
}

// -----

// A softmax over 16384 columns after a matmul does not fit on chip as a
// row-wise epilogue: the matmul and the softmax are two kernels.

// CHECK-LABEL: func @wide_softmax
// CHECK: iolite.kernel "wide_softmax_k0_matmul"
// CHECK: iolite.kernel "wide_softmax_k1_softmax"
// REMARK: remark: kept in kernel 'wide_softmax_k1_softmax', not fused with 'iolite.matmul' ({{.*}}): at its smallest tile (8x16384x16 + row-wise epilogue) the kernel needs 2622464 B of shared memory; sm_90a allows 232448 B per block
func.func @wide_softmax(%x: tensor<8x64xf32>, %w: tensor<64x16384xf32>) -> tensor<8x16384xf32> {
  %l = iolite.matmul %x, %w : tensor<8x64xf32>, tensor<64x16384xf32>
  %p = iolite.softmax %l {axis = -1 : i64} : tensor<8x16384xf32>
  return %p : tensor<8x16384xf32>
}

// -----

// Four projections of one input: three plus one on sm_90a (the default;
// its 128x64 tiles hold 32 accumulators per thread and matmul), one kernel
// on sm_80 (64x64 tiles, 16 each) and on gfx942 (512 registers). Compiled
// for several targets, the kernels must fit all of them.

// CHECK-LABEL: func @four_projections
// CHECK: iolite.kernel "four_projections_k0_matmul"
// CHECK-NEXT: ^bb0
// CHECK-COUNT-3: iolite.matmul
// CHECK-NEXT: iolite.yield
// CHECK: iolite.kernel "four_projections_k1_matmul"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.matmul
// CHECK-NEXT: iolite.yield
// REMARK: remark: kept in kernel 'four_projections_k1_matmul', not fused with 'iolite.matmul' ({{.*}}): at its smallest tile (128x64x16 x4 matmuls) the kernel keeps 128 f32 values per thread in registers; sm_90a has 255 registers per thread and half go to accumulators
// SM80-LABEL: func @four_projections
// SM80: iolite.kernel "four_projections_k0_matmul"
// SM80-NEXT: ^bb0
// SM80-COUNT-4: iolite.matmul
// SM80-NOT: iolite.kernel
// GFX942-LABEL: func @four_projections
// GFX942: iolite.kernel "four_projections_k0_matmul"
// GFX942-NEXT: ^bb0
// GFX942-COUNT-4: iolite.matmul
// GFX942-NOT: iolite.kernel
// ALL-LABEL: func @four_projections
// ALL: iolite.kernel "four_projections_k0_matmul"
// ALL-NEXT: ^bb0
// ALL-COUNT-3: iolite.matmul
// ALL-NEXT: iolite.yield
// ALL: iolite.kernel "four_projections_k1_matmul"
func.func @four_projections(%x: tensor<128x64xf16>, %w: tensor<64x64xf16>,
                            %w2: tensor<64x64xf16>)
    -> (tensor<128x64xf16>, tensor<128x64xf16>, tensor<128x64xf16>, tensor<128x64xf16>) {
  %a = iolite.matmul %x, %w : tensor<128x64xf16>, tensor<64x64xf16>
  %b = iolite.matmul %x, %w {transpose_rhs} : tensor<128x64xf16>, tensor<64x64xf16>
  %c = iolite.matmul %x, %w2 : tensor<128x64xf16>, tensor<64x64xf16>
  %d = iolite.matmul %x, %w2 {transpose_rhs} : tensor<128x64xf16>, tensor<64x64xf16>
  return %a, %b, %c, %d : tensor<128x64xf16>, tensor<128x64xf16>, tensor<128x64xf16>, tensor<128x64xf16>
}

// -----

// Mamba-1: delta = softplus(dt_proj(x) + bias) is the scan's prologue, the
// D skip and the SiLU(z) gate its epilogue: one kernel besides dt_proj.

// CHECK-LABEL: func @mamba1_scan
// SM80-LABEL: func @mamba1_scan
// ALL-LABEL: func @mamba1_scan
// GFX942-LABEL: func @mamba1_scan
// CHECK: %[[DT:.*]] = iolite.kernel "mamba1_scan_k0_matmul"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.matmul
// CHECK-NEXT: iolite.yield
// CHECK: iolite.kernel "mamba1_scan_k1_selective_scan"(%[[DT]],
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.add
// CHECK-NEXT: iolite.transpose
// CHECK-NEXT: iolite.softplus
// CHECK-NEXT: iolite.selective_scan
// CHECK-NEXT: iolite.mul
// CHECK-NEXT: iolite.add
// CHECK-NEXT: iolite.silu
// CHECK-NEXT: iolite.mul
// CHECK-NEXT: iolite.yield
func.func @mamba1_scan(%u: tensor<1x8x16xf32>, %dtlow: tensor<1x16x4xf32>,
    %wdt: tensor<4x8xf32>, %bdt: tensor<8xf32>, %A: tensor<8x4xf32>,
    %B: tensor<1x4x16xf32>, %C: tensor<1x4x16xf32>, %D: tensor<8x1xf32>,
    %z: tensor<1x8x16xf32>) -> tensor<1x8x16xf32> {
  %dt = iolite.matmul %dtlow, %wdt : tensor<1x16x4xf32>, tensor<4x8xf32>
  %dtb = iolite.add %dt, %bdt : tensor<1x16x8xf32>, tensor<8xf32>
  %dtt = iolite.transpose %dtb [0, 2, 1] : tensor<1x16x8xf32>
  %dts = iolite.softplus %dtt : tensor<1x8x16xf32>
  %y = iolite.selective_scan %u, %dts, %A, %B, %C : tensor<1x8x16xf32>, tensor<1x8x16xf32>, tensor<8x4xf32>, tensor<1x4x16xf32>, tensor<1x4x16xf32>
  %du = iolite.mul %u, %D : tensor<1x8x16xf32>, tensor<8x1xf32>
  %y2 = iolite.add %y, %du : tensor<1x8x16xf32>, tensor<1x8x16xf32>
  %sz = iolite.silu %z : tensor<1x8x16xf32>
  %y3 = iolite.mul %y2, %sz : tensor<1x8x16xf32>, tensor<1x8x16xf32>
  return %y3 : tensor<1x8x16xf32>
}

// -----

// Mamba-2: conv1d + SiLU of xBC, its split into x/B/C, the SSD and the
// SiLU(z) gate form one kernel between the two projections.

// CHECK-LABEL: func @mamba2_block
// CHECK: iolite.kernel "mamba2_block_k0_matmul"
// CHECK: iolite.kernel "mamba2_block_k1_ssd"
// CHECK: iolite.conv1d
// CHECK: iolite.ssd
// CHECK: iolite.silu
// CHECK-NEXT: iolite.mul
// CHECK-NEXT: iolite.yield
// CHECK: iolite.kernel "mamba2_block_k2_matmul"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.matmul
// CHECK-NEXT: iolite.yield
func.func @mamba2_block(%x: tensor<1x16x32xf32>, %win: tensor<32x42xf32>,
    %wc: tensor<24x4xf32>, %bc: tensor<24xf32>, %A: tensor<2xf32>,
    %D: tensor<2xf32>, %dtb: tensor<2xf32>, %wout: tensor<16x32xf32>)
    -> tensor<1x16x32xf32> {
  %zx = iolite.matmul %x, %win : tensor<1x16x32xf32>, tensor<32x42xf32>
  %z = iolite.slice %zx [0, 0, 0] to [1, 16, 16] : tensor<1x16x42xf32>
  %xbc = iolite.slice %zx [0, 0, 16] to [1, 16, 40] : tensor<1x16x42xf32>
  %dt = iolite.slice %zx [0, 0, 40] to [1, 16, 42] : tensor<1x16x42xf32>
  %xbct = iolite.transpose %xbc [0, 2, 1] : tensor<1x16x24xf32>
  %conv = iolite.conv1d %xbct, %wc bias(%bc : tensor<24xf32>) activation = silu : tensor<1x24x16xf32>, tensor<24x4xf32>
  %xbc2 = iolite.transpose %conv [0, 2, 1] : tensor<1x24x16xf32>
  %xs = iolite.slice %xbc2 [0, 0, 0] to [1, 16, 16] : tensor<1x16x24xf32>
  %bs = iolite.slice %xbc2 [0, 0, 16] to [1, 16, 20] : tensor<1x16x24xf32>
  %cs = iolite.slice %xbc2 [0, 0, 20] to [1, 16, 24] : tensor<1x16x24xf32>
  %x4 = iolite.reshape %xs : tensor<1x16x16xf32> -> tensor<1x16x2x8xf32>
  %b4 = iolite.reshape %bs : tensor<1x16x4xf32> -> tensor<1x16x1x4xf32>
  %c4 = iolite.reshape %cs : tensor<1x16x4xf32> -> tensor<1x16x1x4xf32>
  %y = iolite.ssd %x4, %dt, %A, %b4, %c4 D(%D : tensor<2xf32>) dt_bias(%dtb : tensor<2xf32>) {chunk_size = 8 : i64, dt_softplus} : tensor<1x16x2x8xf32>, tensor<1x16x2xf32>, tensor<2xf32>, tensor<1x16x1x4xf32>, tensor<1x16x1x4xf32>
  %yr = iolite.reshape %y : tensor<1x16x2x8xf32> -> tensor<1x16x16xf32>
  %g = iolite.silu %z : tensor<1x16x16xf32>
  %yg = iolite.mul %yr, %g : tensor<1x16x16xf32>, tensor<1x16x16xf32>
  %out = iolite.matmul %yg, %wout : tensor<1x16x16xf32>, tensor<16x32xf32>
  return %out : tensor<1x16x32xf32>
}

// -----

// Merging two matmuls on one LHS would put a cycle through the softmax
// between them; the softmax joins the first as its row-wise epilogue.

// CHECK-LABEL: func @cycle
// CHECK: %[[K0:.*]] = iolite.kernel "cycle_k0_matmul"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.matmul
// CHECK-NEXT: iolite.softmax
// CHECK-NEXT: iolite.yield
// CHECK: iolite.kernel "cycle_k1_matmul"(%{{.*}}, %[[K0]])
// REMARK: remark: kept in kernel 'cycle_k1_matmul', not fused with 'iolite.matmul' ({{.*}}): it would create a cycle between kernels through 'iolite.softmax'
func.func @cycle(%x: tensor<4x4xf32>, %w: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %m1 = iolite.matmul %x, %w : tensor<4x4xf32>, tensor<4x4xf32>
  %s = iolite.softmax %m1 {axis = -1 : i64} : tensor<4x4xf32>
  %m2 = iolite.matmul %x, %s : tensor<4x4xf32>, tensor<4x4xf32>
  return %m2 : tensor<4x4xf32>
}

// -----

// A matmul result read by two kernels is computed once and yielded to both.

// CHECK-LABEL: func @shared_result
// CHECK: %[[K0:.*]]:2 = iolite.kernel "shared_result_k0_matmul"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[M:.*]] = iolite.matmul
// CHECK-NEXT: %[[S:.*]] = iolite.softmax %[[M]]
// CHECK-NEXT: iolite.yield %[[M]], %[[S]]
// CHECK: iolite.kernel "shared_result_k1_matmul"(%[[K0]]#0, %{{.*}})
// CHECK-NOT: iolite.kernel
func.func @shared_result(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>, %w2: tensor<8x4xf32>)
    -> (tensor<4x8xf32>, tensor<4x4xf32>) {
  %m = iolite.matmul %x, %w : tensor<4x8xf32>, tensor<8x8xf32>
  %s = iolite.softmax %m {axis = -1 : i64} : tensor<4x8xf32>
  %n = iolite.matmul %m, %w2 : tensor<4x8xf32>, tensor<8x4xf32>
  return %s, %n : tensor<4x8xf32>, tensor<4x4xf32>
}

// -----

// Splat and small constants are cloned into the kernel; the weight is an
// input. Ops of other dialects stay outside.

// CHECK-LABEL: func @constants
// CHECK-DAG: %[[W:.*]] = iolite.constant dense<{{.*}}> : tensor<8x8xf32>
// CHECK: %[[K:.*]] = iolite.kernel "constants_k0_matmul"(%{{.*}}, %[[W]])
// CHECK: iolite.matmul
// CHECK-DAG: iolite.constant dense<1.000000e+00> : tensor<f32>
// CHECK-DAG: iolite.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00, 6.000000e+00, 7.000000e+00, 8.000000e+00]> : tensor<8xf32>
// CHECK: iolite.yield
// CHECK: tensor.empty
// REMARK: remark: 'tensor.empty' stays outside the kernels: not an iolite op
func.func @constants(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<2xf32>) {
  %w = iolite.constant dense<[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
      [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
      [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
      [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
      [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]]> : tensor<8x8xf32>
  %one = iolite.constant dense<1.0> : tensor<f32>
  %b = iolite.constant dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]> : tensor<8xf32>
  %m = iolite.matmul %x, %w : tensor<4x8xf32>, tensor<8x8xf32>
  %a = iolite.add %m, %one : tensor<4x8xf32>, tensor<f32>
  %c = iolite.add %a, %b : tensor<4x8xf32>, tensor<8xf32>
  %e = tensor.empty() : tensor<2xf32>
  return %c, %e : tensor<4x8xf32>, tensor<2xf32>
}

// -----

// A norm whose result is also returned is not a prologue: it is a
// reduction and is computed once, in its own kernel.

// CHECK-LABEL: func @norm_also_returned
// CHECK: iolite.kernel "norm_also_returned_k0_rms_norm"
// CHECK: iolite.kernel "norm_also_returned_k1_matmul"
// REMARK: remark: kept in kernel 'norm_also_returned_k0_rms_norm', not fused with 'iolite.matmul' ({{.*}}): the norm's result is also used by 'func.return' ({{.*}}); a norm is a reduction and is computed once
func.func @norm_also_returned(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>)
    -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %n = iolite.rms_norm %x : tensor<4x8xf32>
  %m = iolite.matmul %n, %w : tensor<4x8xf32>, tensor<8x8xf32>
  return %n, %m : tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Dead ops get no kernel: nothing would read what it writes.

// CHECK-LABEL: func @dead_ops
// CHECK: iolite.kernel "dead_ops_k0_elementwise"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.neg
// CHECK-NEXT: iolite.yield
// CHECK-NOT: iolite.exp
// CHECK-NOT: iolite.kernel
func.func @dead_ops(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e = iolite.exp %x : tensor<4xf32>
  %s = iolite.sqrt %e : tensor<4xf32>
  %n = iolite.neg %x : tensor<4xf32>
  return %n : tensor<4xf32>
}

// -----

// A transpose read by two kernels is copied into both rather than given a
// kernel that would write the transposed tensor out and read it back.

// CHECK-LABEL: func @shared_view
// CHECK: iolite.kernel "shared_view_k0_matmul"(%arg0, %arg1)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.transpose
// CHECK-NEXT: iolite.matmul
// CHECK: iolite.kernel "shared_view_k1_softmax"(%arg0)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.transpose
// CHECK-NEXT: iolite.softmax
// CHECK-NOT: iolite.kernel
// REMARK-NOT: materialised
// REMARK-DAG: remark: copied into kernel 'shared_view_k0_matmul', which reads it: a view costs no work, a kernel of its own would copy the tensor
// REMARK-DAG: remark: copied into kernel 'shared_view_k1_softmax', which reads it
func.func @shared_view(%x: tensor<8x4xf32>, %w: tensor<8x8xf32>)
    -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %t = iolite.transpose %x [1, 0] : tensor<8x4xf32>
  %m = iolite.matmul %t, %w : tensor<4x8xf32>, tensor<8x8xf32>
  %s = iolite.softmax %t {axis = -1 : i64} : tensor<4x8xf32>
  return %m, %s : tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// A model's outputs are written by kernels: a value returned twice, an
// argument returned as is and a returned constant each get a copy kernel.
// CHECK-LABEL: func.func @returned_as_is
// CHECK: %[[E:.*]] = iolite.kernel "returned_as_is_k0_elementwise"(%[[X:.*]])
// CHECK: iolite.exp
// CHECK: %[[E2:.*]] = iolite.kernel "returned_as_is_k1_elementwise"(%[[E]])
// CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<4xf32>):
// CHECK-NEXT: iolite.yield %[[A]]
// CHECK: %[[X2:.*]] = iolite.kernel "returned_as_is_k2_elementwise"(%[[X]])
// CHECK: %[[C:.*]] = iolite.kernel "returned_as_is_k3_elementwise"()
// CHECK-NEXT: iolite.constant dense<[1.000000e+00, 2.000000e+00]>
// CHECK: return %[[E]], %[[E2]], %[[X2]], %[[C]]
// NOFUSE-LABEL: func.func @returned_as_is
// NOFUSE-COUNT-4: iolite.kernel
func.func @returned_as_is(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>) {
  %y = iolite.exp %x : tensor<4xf32>
  %c = iolite.constant dense<[1.0, 2.0]> : tensor<2xf32>
  return %y, %y, %x, %c : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>
}

// -----

// The serving ops are heavy: a KV cache append and an attention over the
// cache each keep their kernel; neither joins the matmul that makes the
// queries nor takes the reshape after it as an epilogue. A cheap producer
// (the silu) may still join as a prologue.
// CHECK-LABEL: func.func @decode_step
// CHECK: %[[C:.*]]:2 = iolite.kernel "decode_step_k0_kv_cache_append"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.silu
// CHECK-NEXT: iolite.kv_cache_append
// CHECK-NEXT: iolite.yield
// CHECK: %[[Q:.*]] = iolite.kernel "decode_step_k1_matmul"
// CHECK: iolite.kernel "decode_step_k2_cache_attention"(%[[Q]], %[[C]]#0, %[[C]]#1, %{{.*}})
// CHECK-NEXT: ^bb0
// CHECK-NEXT: iolite.cache_attention
// CHECK-NEXT: iolite.yield
// CHECK: iolite.kernel "decode_step_k3_elementwise"
// REMARK-DAG: remark: kept in kernel 'decode_step_k2_cache_attention', not fused with 'iolite.matmul' (iolite-form-kernels.mlir:{{[0-9]+}}:{{[0-9]+}}): 'iolite.cache_attention' is a serving op (KV cache, packed batch or carried state) and keeps its kernel to itself
// NOFUSE-LABEL: func.func @decode_step
// NOFUSE-COUNT-7: iolite.kernel
func.func @decode_step(%x: tensor<2x1x64xf16>, %wq: tensor<64x64xf16>, %kc: tensor<2x16x2x16xf16>,
                       %vc: tensor<2x16x2x16xf16>, %k: tensor<2x1x2x16xf16>, %v: tensor<2x1x2x16xf16>,
                       %lens: tensor<2xi32>, %lens1: tensor<2xi32>)
    -> (tensor<2x1x64xf16>, tensor<2x16x2x16xf16>, tensor<2x16x2x16xf16>) {
  %ks = iolite.silu %k : tensor<2x1x2x16xf16>
  %c:2 = iolite.kv_cache_append %kc, %vc, %ks, %v, %lens
      : tensor<2x16x2x16xf16>, tensor<2x16x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2x1x2x16xf16>, tensor<2xi32>
  %q = iolite.matmul %x, %wq : tensor<2x1x64xf16>, tensor<64x64xf16>
  %q4 = iolite.reshape %q : tensor<2x1x64xf16> -> tensor<2x1x4x16xf16>
  %o = iolite.cache_attention %q4, %c#0, %c#1, %lens1 {causal}
      : tensor<2x1x4x16xf16>, tensor<2x16x2x16xf16>, tensor<2x16x2x16xf16>, tensor<2xi32>
  %o3 = iolite.reshape %o : tensor<2x1x4x16xf16> -> tensor<2x1x64xf16>
  %y = iolite.exp %o3 : tensor<2x1x64xf16>
  return %y, %c#0, %c#1 : tensor<2x1x64xf16>, tensor<2x16x2x16xf16>, tensor<2x16x2x16xf16>
}
