// RUN: iolite-compile %s --target=sm_90a --emit=ptx > %t.ptx
// RUN: FileCheck %s --check-prefix=PTX --input-file=%t.ptx
// RUN: FileCheck %s --check-prefix=PTXLOOP --input-file=%t.ptx
// RUN: iolite-compile %s --target=gfx942 --emit=amdgcn > %t.s
// RUN: FileCheck %s --check-prefix=GCN --input-file=%t.s
// RUN: FileCheck %s --check-prefix=GCNLOOP --input-file=%t.s

// The causal attention kernel after the back ends: Q staged into shared
// memory / LDS once; in the KV loop, K/V tiles move from global to shared
// memory, the score and P.V products read shared memory, barriers separate
// the phases, and nothing is stored to global memory (no score or
// probability matrix); the output is stored after the loop.

// PTX: .visible .entry attn(
// PTX: ld.global.b16
// PTX: st.shared.b16
// PTX: bar.sync 0;
// PTX: [[KV:\$L__BB0_[0-9]+]]:
// PTX-NOT: st.global
// PTX: bra [[KV]];
// PTX: st.global.b16

// PTXLOOP: bar.sync 0;
// PTXLOOP: {{\$L__BB0_[0-9]+}}:
// PTXLOOP: ld.global.b16
// PTXLOOP: st.shared.b16
// PTXLOOP: ld.shared.b16
// PTXLOOP: fma.rn.f32
// PTXLOOP: shfl.sync.bfly.b32
// PTXLOOP: ex2.approx
// PTXLOOP: st.shared.b32
// PTXLOOP: bar.sync 0;
// PTXLOOP: ld.shared.b32
// PTXLOOP: ld.shared.b16
// PTXLOOP: fma.rn.f32
// PTXLOOP: bar.sync 0;
// PTXLOOP: bra

// GCN: .amdgcn_target "amdgcn-amd-amdhsa--gfx942
// GCN: global_load_ushort
// GCN: ds_write_b16
// GCN: s_barrier
// GCN-NEXT: [[KV:\.LBB0_[0-9]+]]:
// GCN-NOT: global_store
// GCN: s_cbranch_scc1 [[KV]]
// GCN: global_store_short

// GCNLOOP: s_barrier
// GCNLOOP-NEXT: .LBB0_{{[0-9]+}}:
// GCNLOOP: global_load_ushort
// GCNLOOP: ds_write_b16
// GCNLOOP: ds_read_u16
// GCNLOOP: v_fma
// GCNLOOP: v_exp_f32
// GCNLOOP: ds_write
// GCNLOOP: s_barrier
// GCNLOOP: ds_read
// GCNLOOP: {{v_fma|v_pk_fma}}
// GCNLOOP: s_barrier
// GCNLOOP-NEXT: s_cbranch_scc1

func.func @attn(%q: tensor<1x8x256x64xf16>, %k: tensor<1x2x256x64xf16>, %v: tensor<1x2x256x64xf16>) -> tensor<1x8x256x64xf16> {
  %o = iolite.kernel "attn" (%q, %k, %v) : (tensor<1x8x256x64xf16>, tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>) -> tensor<1x8x256x64xf16> {
  ^bb0(%a: tensor<1x8x256x64xf16>, %b: tensor<1x2x256x64xf16>, %c: tensor<1x2x256x64xf16>):
    %r = iolite.attention %a, %b, %c {causal} : tensor<1x8x256x64xf16>, tensor<1x2x256x64xf16>, tensor<1x2x256x64xf16>
    iolite.yield %r : tensor<1x8x256x64xf16>
  }
  return %o : tensor<1x8x256x64xf16>
}
