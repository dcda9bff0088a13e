// RUN: iolite-compile %s --target=sm_90a --emit=ptx > %t.ptx
// RUN: FileCheck %s --check-prefix=PTX --input-file=%t.ptx
// RUN: FileCheck %s --check-prefix=PTXLOOP --input-file=%t.ptx
// RUN: iolite-compile %s --target=gfx942 --emit=amdgcn > %t.s
// RUN: FileCheck %s --check-prefix=GCN --input-file=%t.s
// RUN: FileCheck %s --check-prefix=GCNLOOP --input-file=%t.s

// The causal f16 attention kernel after the back ends, on the matrix units:
// Q fragments read once from global memory into registers; in the KV loop,
// K/V tiles move from global to shared memory with 16-byte cp.async copies
// (NVIDIA; the next tile's in flight during this tile's products) / 8- and
// 16-byte vector runs (AMD), S = Q K^T and O += P V run as mma.sync (K fragments
// through ldmatrix, V through ldmatrix.trans) or v_mfma, the softmax runs on
// the accumulators between them, barriers separate the phases, and nothing
// is stored to global memory (no score or probability matrix); the output is
// stored after the loop.

// PTX: .visible .entry attn(
// PTX: ld.global.b32
// PTX: cp.async.cg.shared.global [%{{.*}}], [%{{.*}}], 16;
// PTX: cp.async.commit_group;
// PTX-NEXT: cp.async.wait_group 0;
// PTX-NEXT: bar.sync 0;
// PTX: [[KV:\$L__BB0_[0-9]+]]:
// PTX-NOT: st.global
// PTX: bra{{(\.uni)?}} {{.*}}[[KV]];
// PTX: st.global.b16

// PTXLOOP: bar.sync 0;
// PTXLOOP: {{\$L__BB0_[0-9]+}}:
// PTXLOOP: ldmatrix.sync.aligned.m8n8.x2.shared.b16
// PTXLOOP: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTXLOOP: shfl.sync.bfly.b32
// PTXLOOP: ex2.approx
// PTXLOOP: ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16
// PTXLOOP: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// PTXLOOP-NOT: st.shared.b32
// PTXLOOP: cp.async.commit_group;
// PTXLOOP-NEXT: cp.async.wait_group 0;
// PTXLOOP-NEXT: bar.sync 0;
// The next tile's copies (placed after the loop's body).
// PTXLOOP: cp.async.cg.shared.global
// PTXLOOP: cp.async.commit_group;

// GCN: .amdgcn_target "amdgcn-amd-amdhsa--gfx942
// GCN: global_load_dwordx2
// GCN: ds_write_b64
// GCN: s_barrier
// GCN: [[KV:\.LBB0_[0-9]+]]:
// GCN-NOT: global_store
// GCN: {{s_branch|s_cbranch_[a-z0-9]+}} [[KV]]
// GCN: global_store_short

// GCNLOOP: s_barrier
// GCNLOOP: .LBB0_{{[0-9]+}}:
// GCNLOOP: ds_read_b64
// GCNLOOP: v_mfma_f32_32x32x8_f16
// GCNLOOP: v_exp_f32
// GCNLOOP: ds_write_b16
// GCNLOOP: s_barrier
// GCNLOOP: ds_read_b64
// GCNLOOP: v_mfma_f32_32x32x8_f16
// GCNLOOP: s_barrier

func.func @attn(%q: tensor<1x8x256x64xf16>, %k: tensor<1x2x256x64xf16>, %v: tensor<1x2x256x64xf16>) -> tensor<1x8x256x64xf16> {
  %o = iolite.kernel "attn" (%q, %k, %v) : (tensor<1x8x256x64xf16>, tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>) -> tensor<1x8x256x64xf16> {
  ^bb0(%a: tensor<1x8x256x64xf16>, %b: tensor<1x2x256x64xf16>, %c: tensor<1x2x256x64xf16>):
    %r = iolite.attention %a, %b, %c {causal} : tensor<1x8x256x64xf16>, tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>
    iolite.yield %r : tensor<1x8x256x64xf16>
  }
  return %o : tensor<1x8x256x64xf16>
}
